"""`qassess eval`: score a model on several datasets, compare each with its labels, print the table."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.cli.datasets import PRESETS_OPTION, ROOT_OPTION, SPLIT_OPTION, parse_splits
from qassess.core.assessor import Settings
from qassess.errors import UserError
from qassess.models import DEFAULT_ID


@app.command("eval")
@user_errors
def eval_command(
    datasets: Optional[str] = typer.Option(None, "--datasets", "-d", help="Comma-separated dataset presets, e.g. koniq,spaq,livec,agiqa3k,kadid,csiq,pipal."),
    root: Optional[List[str]] = ROOT_OPTION,
    output: Path = typer.Option(..., "-o", "--output", help="Folder of the suite: NAME.jsonl per dataset (resumed when rerun), NAME.compare.json, table.md/.csv/.json/.tex."),
    preds: Optional[Path] = typer.Option(None, "--preds", help="Rebuild the table from an earlier -o folder (no scoring, no model)."),
    split: Optional[List[str]] = SPLIT_OPTION,
    limit: Optional[int] = typer.Option(None, "--limit", help="Score at most this many images per dataset (a quick look)."),
    fit: str = typer.Option("none", "--fit", help="Mapping before PLCC: none (raw, as pyiqa and the paper) or logistic4 (VQEG, as DeQA-Score)."),
    model: str = typer.Option(Settings.model, "-m", "--model", envvar="QASSESS_MODEL", help=f"A preset (`qassess models`), a model folder or a hub id; default: the embedded demo model {DEFAULT_ID}."),
    backend: str = typer.Option("auto", "-b", "--backend", help="auto, vllm, transformers, or a plugin name."),
    template: Optional[str] = typer.Option(None, "--template", help="Prompt preset or template file (default: the model preset's)."),
    self_check: bool = typer.Option(False, "--self-check", help="Also rate each caption without its image: adds the caption-only columns."),
    probs: bool = typer.Option(True, "--probs/--no-probs", help="Read rating_expected from the rating tokens' probabilities."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Default: the model preset's, else 1024."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Default: the model preset's, else 0."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Default: the model preset's, else none."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Inputs per generate call."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16, float16."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, ..."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Score again the rows whose status is not ok."),
    base_url: Optional[List[str]] = typer.Option(None, "--base-url", help="OpenAI-compatible server(s) (`qassess serve`); repeat for several."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", metavar="NAME", help="Environment variable holding the servers' API key."),
    model_presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESSPRESETS_OPTION", help="A YAML file of your own model presets."),
    dataset_presets: Optional[Path] = PRESETS_OPTION,
):
    """Score a model on several datasets and print the paper-style table (PLCC/SRCC per dataset, AVG).

    \b
    Examples:
      qassess eval --model visualquality-r1 --datasets koniq,spaq,livec,agiqa3k,kadid,csiq,pipal \\
          --root /data/iqa -o results/ --self-check
      qassess eval --datasets koniq,csiq --root koniq=/data/koniq10k --root csiq=/data/CSIQ -o r/ --limit 50
      qassess eval --preds results/ -o results/ --fit logistic4      # the table again, from the outputs
    Each dataset is one `qassess score` run (results/NAME.jsonl, resumed when rerun) and one
    `qassess compare` against its preset's labels, DMOS datasets (CSIQ, LIVE) with their direction.
    """
    from qassess.evaluate import suite

    fit_value = None if fit == "none" else fit
    if preds is not None:
        if datasets:
            raise UserError("--preds rebuilds the table of an earlier run: leave out --datasets")
        output.mkdir(parents=True, exist_ok=True)
        table = suite.build_table(preds, fit=fit_value, out_dir=output)
    else:
        if not datasets:
            raise UserError("name the datasets: --datasets koniq,csiq (`qassess datasets` lists them), "
                            "or rebuild a table with --preds DIR")
        if limit is not None and limit < 1:
            raise UserError("--limit must be at least 1")
        from qassess.cli.score import remote_options
        from qassess.core.assessor import Settings

        names = [n.strip() for n in datasets.split(",") if n.strip()]
        planned = suite.plan(names, root, parse_splits(split), dataset_presets)
        backend, options = remote_options(backend, base_url, api_key_env, None, 16, 600.0)
        settings = Settings(model=model, backend=backend, template=template, batch_size=batch_size,
                            temperature=temperature, seed=seed, max_new_tokens=max_new_tokens,
                            self_check=self_check, probs=probs, max_pixels=max_pixels, dtype=dtype, device=device,
                            presets=str(model_presets) if model_presets else None, backend_options=options)
        table = suite.run_eval(planned, output, settings, limit=limit, retry_errors=retry_errors,
                               fit=fit_value, log=say)
    print(suite.to_markdown(table), end="")
    for warning in table.warnings:
        say(f"warning: {warning}")
    say(f"table written to {output}/table.md, .csv, .json, .tex")
    if any("error" in r for r in table.rows):
        raise typer.Exit(1)
