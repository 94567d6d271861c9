"""`qassess score`: its options in panels, each default read from where it is defined (Settings,
the generic sampling defaults, the image loader's guard, the embedded model's id)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.core.assessor import DEFAULT_BATCH, DEFAULT_BATCH_OTHER, GENERIC_DEFAULTS, Settings
from qassess.errors import UserError
from qassess.models import DEFAULT_ID


@app.command("score")
@user_errors
def score(
    inputs: List[str] = typer.Argument(..., help="Image files or folders (recursive), WebDataset .tar or Parquet image shards, fsspec URIs of these (s3://bucket/prefix/); or caption sources.", rich_help_panel="Inputs"),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Result file: .csv or .jsonl (default: JSONL on stdout); with --engine ray a folder of shards (local or s3://...).", rich_help_panel="Output and resume"),
    model: str = typer.Option(Settings.model, "-m", "--model", envvar="QASSESS_MODEL", help=f"A preset (`qassess models`), a model directory or a hub id; default: the embedded demo model {DEFAULT_ID}.", rich_help_panel="Model and prompt"),
    backend: str = typer.Option(Settings.backend, "-b", "--backend", help="auto, vllm, transformers, or a plugin name.", rich_help_panel="Engine"),
    captions: bool = typer.Option(False, "--captions", help="Inputs hold captions (folder of .txt, or CSV/JSONL with id and caption columns): rate them without images.", rich_help_panel="Inputs"),
    template: Optional[str] = typer.Option(None, "--template", help="Prompt preset (paper, q-insight, q-insight-demo, visualquality-r1) or a YAML/JSON template file (default: the model preset's, else paper).", rich_help_panel="Model and prompt"),
    self_check: bool = typer.Option(Settings.self_check, "--self-check", help="Also rate each image's own caption without the image; keeps both ratings and their gap.", rich_help_panel="Readouts"),
    self_check_mode: str = typer.Option(Settings.self_check_mode, "--self-check-mode", help="generate: stage 2 writes its reasoning and answer (the paper's way); prefill: one forward pass reads the rating distribution after the caption (cheaper, no stage-2 text).", rich_help_panel="Readouts"),
    probs: bool = typer.Option(Settings.probs, "--probs/--no-probs", help="Also read rating_expected / rating_probs from the rating tokens' probabilities (vllm and transformers backends; free).", rich_help_panel="Readouts"),
    samples: int = typer.Option(Settings.samples, "--samples", "-n", help="Sampled answers per image (needs --temperature > 0); the mean and spread are kept.", rich_help_panel="Sampling"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=f"Inputs per generate call (default: {DEFAULT_BATCH['vllm']} with vLLM, {DEFAULT_BATCH_OTHER} otherwise).", rich_help_panel="Engine"),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's processor setting).", rich_help_panel="Images"),
    min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Lower pixel budget (default: the model's).", rich_help_panel="Images"),
    max_decode_pixels: int = typer.Option(Settings.max_decode_pixels, "--max-decode-pixels", help="Refuse images larger than this before decoding them.", rich_help_panel="Images"),
    temperature: Optional[float] = typer.Option(None, "--temperature", help=f"0 = greedy (deterministic). Default: the model preset's, else {GENERIC_DEFAULTS['temperature']:g}.", rich_help_panel="Sampling"),
    top_p: Optional[float] = typer.Option(None, "--top-p", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['top_p']:g}.", rich_help_panel="Sampling"),
    top_k: Optional[int] = typer.Option(None, "--top-k", help=f"0 = off. Default: the model preset's, else {GENERIC_DEFAULTS['top_k']}.", rich_help_panel="Sampling"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampling (reruns give the same text). Default: the model preset's, else none.", rich_help_panel="Sampling"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['max_new_tokens']}.", rich_help_panel="Sampling"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="Skip inputs the output already holds (default), or start the file anew.", rich_help_panel="Output and resume"),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="When resuming, score again the rows whose status is not ok.", rich_help_panel="Output and resume"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Score at most this many inputs (after skipping done ones).", rich_help_panel="Inputs"),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Caption mode: the id column of a table.", rich_help_panel="Inputs"),
    caption_col: Optional[str] = typer.Option(None, "--caption-col", help="Caption mode: the caption column of a table.", rich_help_panel="Inputs"),
    dtype: str = typer.Option(Settings.dtype, "--dtype", help="auto, float32, bfloat16, float16.", rich_help_panel="Engine"),
    device: str = typer.Option(Settings.device, "--device", help="auto, cpu, cuda, cuda:1 ...", rich_help_panel="Engine"),
    workers: int = typer.Option(Settings.workers, "--workers", help="Threads preparing images ahead of the model.", rich_help_panel="Images"),
    trust_remote_code: bool = typer.Option(Settings.trust_remote_code, "--trust-remote-code", help="Allow model code from the model folder (off unless you trust it).", rich_help_panel="Model and prompt"),
    presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own model presets (see `qassess models`).", rich_help_panel="Model and prompt"),
    # --- scale-out: remote servers, shards, Ray Data (docs/scaling-out.md) ---
    base_url: Optional[List[str]] = typer.Option(None, "--base-url", help="An OpenAI-compatible server, e.g. http://node1:8000/v1 (`qassess serve`); repeat for several. Implies --backend openai; --model is then the served model name.", rich_help_panel="Remote servers"),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", metavar="NAME", help="Environment variable holding the servers' API key (default: QASSESS_API_KEY, then OPENAI_API_KEY). Never written anywhere.", rich_help_panel="Remote servers"),
    processor: Optional[Path] = typer.Option(None, "--processor", help="Remote: a local copy of the served model (its processor gives the pixel budget); default: --model if it is a local folder or preset, else Qwen2.5-VL's budget.", rich_help_panel="Remote servers"),
    max_in_flight: int = typer.Option(16, "--max-in-flight", help="Remote: requests in flight per server.", rich_help_panel="Remote servers"),
    request_timeout: float = typer.Option(600.0, "--request-timeout", help="Remote: seconds one request may take before it is retried.", rich_help_panel="Remote servers"),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Score only share I of N (0-based; by a hash of each input's path under its root): one job of an array. Combine with `qassess merge`.", rich_help_panel="Engine"),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (a pool of replicas on a Ray cluster; -o is a folder of shards).", rich_help_panel="Engine"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help="With --engine ray: HOST:PORT of a running cluster (default: start a local one).", rich_help_panel="Ray"),
    replicas: int = typer.Option(1, "--replicas", help="With --engine ray: model replicas (each loads the model once).", rich_help_panel="Ray"),
    gpus_per_replica: float = typer.Option(0, "--gpus-per-replica", help="With --engine ray: GPUs reserved per replica (0: CPU).", rich_help_panel="Ray"),
    output_format: str = typer.Option("jsonl", "--output-format", help="With --engine ray: shard format, jsonl or parquet.", rich_help_panel="Ray"),
):
    """Rate images (or captions) with a caption -> reasoning -> rating model.

    \b
    Examples:
      qassess score ./photos -o out.csv
      qassess score ./photos ./more -o out.jsonl --model Qwen/Qwen2.5-VL-7B-Instruct --backend vllm
      qassess score ./captions -o rescored.jsonl             # a folder of .txt caption files
      qassess score out.jsonl --captions -o caption_only.csv  # re-rate the captions of an earlier run
      qassess score photo.jpg --self-check                    # JSONL to stdout
      qassess score shards/00000.tar s3://bucket/part.parquet -o out.jsonl  # image shards (img2dataset)
      qassess score ./photos -o out.jsonl --base-url http://node1:8000/v1 --base-url http://node2:8000/v1
      qassess score ./photos -o part3.jsonl --shard 3/16      # one job of 16; then: qassess merge part*.jsonl -o all.jsonl
      qassess score s3://bucket/photos/ -o s3://bucket/scores/ --engine ray --replicas 8 --gpus-per-replica 1
    The paper's evaluation sampling: --temperature 1 --top-p 0.95 --top-k 50 --seed 42.
    A rerun of the same command resumes where it stopped (after a crash or Ctrl-C).
    With a preset (`--model q-insight`, `qassess models` lists them) its authors' prompt and sampling are the
    defaults. Beside -o out.csv, out.manifest.json records model, revision, prompts and settings.
    """
    from qassess.models.presets import get_preset, preset_for_hub_id
    from qassess.engines.local import run_score

    if get_preset(model, presets) is None and preset_for_hub_id(model) is not None:
        hint = preset_for_hub_id(model)
        say(f"note: {model} is preset {hint.name!r}; --model {hint.name} uses its authors' prompt and sampling "
             "(a hub id alone uses qassess's generic defaults)")

    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    from qassess.engines.partition import parse_shard

    backend, backend_options = remote_options(backend, base_url, api_key_env, processor, max_in_flight,
                                               request_timeout)
    settings = Settings(
        model=model, backend=backend, template=template, batch_size=batch_size, temperature=temperature,
        top_p=top_p, top_k=top_k, seed=seed, max_new_tokens=max_new_tokens, samples=samples,
        self_check=self_check, self_check_mode=self_check_mode, probs=probs, min_pixels=min_pixels, max_pixels=max_pixels,
        max_decode_pixels=max_decode_pixels, dtype=dtype, device=device,
        trust_remote_code=trust_remote_code, workers=workers, presets=str(presets) if presets else None,
        backend_options=backend_options)
    if engine == "ray":
        from qassess.engines.ray_run import run_ray

        if captions:
            raise UserError("--engine ray scores images; rate captions with the local engine")
        if shard is not None or base_url:
            raise UserError("--engine ray runs its own replicas: --shard and --base-url are for the local engine")
        tally = run_ray(inputs, output, settings, address=ray_address, replicas=replicas,
                        gpus_per_replica=gpus_per_replica, output_format=output_format, resume=resume,
                        retry_errors=retry_errors, limit=limit, log=say)
        say(tally.summary() + f"; shards in {output}")
        return
    if engine != "local":
        raise UserError(f"--engine must be local or ray, got {engine!r}")
    tally = run_score(inputs, Path(output) if output else None, settings, captions=captions, resume=resume,
                      retry_errors=retry_errors, limit=limit, id_col=id_col, caption_col=caption_col,
                      shard=parse_shard(shard), log=say)
    say(tally.summary() + (f"; results in {output}" if output else ""))


def remote_options(backend: str, base_url, api_key_env, processor, max_in_flight, request_timeout):
    """(backend name, backend options): --base-url means the openai backend, which needs one."""
    if not base_url:
        if backend == "openai":
            raise UserError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        return backend, {}
    if backend not in ("auto", "openai"):
        raise UserError(f"--base-url is for --backend openai, not {backend}")
    options = {"base_url": list(base_url), "max_in_flight": max_in_flight, "request_timeout": request_timeout}
    if api_key_env:
        options["api_key_env"] = api_key_env
    if processor is not None:
        options["processor"] = str(processor)
    return "openai", options
