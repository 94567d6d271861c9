"""`qassess datasets` and `qassess eval`: the dataset presets, a copy's check, and the suite's table."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.errors import UserError

datasets_app = typer.Typer(help="Dataset presets for `qassess eval`: list them, or check a copy.",
                           invoke_without_command=True)


def register(app: typer.Typer, user_errors, say) -> None:
    """Add `datasets` and `eval` to the main app (user_errors: the one-line error wrapper; say: stderr)."""
    app.add_typer(datasets_app, name="datasets")

    @datasets_app.callback()
    @user_errors
    def datasets_list(ctx: typer.Context, presets: Optional[Path] = _PRESETS,
                      as_json: bool = typer.Option(False, "--json", help="Print the presets as JSON.")):
        """List the dataset presets: folder, label file and column, scale, direction, splits, sources.

        \b
        Examples:
          qassess datasets
          qassess datasets check koniq --root /data/koniq10k
          qassess datasets check csiq --root /data/iqa          # finds /data/iqa/CSIQ
        """
        if ctx.invoked_subcommand is not None:
            return
        from qassess.evaluate.datasets import all_presets

        table = all_presets(presets)
        if as_json:
            import dataclasses
            import json

            print(json.dumps({k: dataclasses.asdict(p) for k, p in table.items()}, indent=2))
            return
        for p in table.values():
            print(f"{p.name}{' (user)' if p.user else ''}: {p.title}{', ' + p.kind if p.kind else ''}")
            print(f"    folder {' | '.join(p.folders)}; paper: {p.paper or 'n/a'}")
            for s in p.splits.values():
                spec = s.labels
                where = "".join(f", {k} = {v}" for k, v in s.where.items())
                skip = f", without the first {s.skip_first}" if s.skip_first else ""
                count = f"{s.expected} images" if s.expected is not None else "images"
                files = spec.get("file") or spec.get("pattern") or ", ".join(
                    str(spec[k]) for k in ("names", "mos") if k in spec)
                column = f" column {spec['score']}" if "score" in spec else ""
                print(f"    split {s.name}{' (default)' if s.name == p.default_split else ''}: {count}{where}{skip}; "
                      f"labels {files}{column}, {s.scale[0]:g}..{s.scale[1]:g}, {s.direction} is better; "
                      f"images {' | '.join(s.images)}/")
                if s.note:
                    print(f"        {s.note}")
            for src in p.sources:
                print(f"    source: {src}")

    @datasets_app.command("check")
    @user_errors
    def datasets_check(
        names: List[str] = typer.Argument(..., help="Dataset presets to check (`qassess datasets` lists them)."),
        root: Optional[List[str]] = _ROOT,
        split: Optional[List[str]] = _SPLIT,
        presets: Optional[Path] = _PRESETS,
    ):
        """What a copy holds: label count, label range, missing images, images without labels, duplicates.
        Exit status 1 when something is missing or odd (each such line starts with "problem:")."""
        from qassess.evaluate.datasets import get_preset
        from qassess.evaluate.datasets.check import check

        splits = _splits(split)
        total = 0
        for i, name in enumerate(names):
            lines, problems = check(get_preset(name, presets), root, splits.get(name))
            print(("\n" if i else "") + "\n".join(lines))
            total += problems
        if total:
            raise typer.Exit(1)

    @app.command("eval")
    @user_errors
    def eval_command(
        datasets: Optional[str] = typer.Option(None, "--datasets", "-d", help="Comma-separated dataset presets, e.g. koniq,spaq,livec,agiqa3k,kadid,csiq,pipal."),
        root: Optional[List[str]] = _ROOT,
        output: Path = typer.Option(..., "-o", "--output", help="Folder of the suite: NAME.jsonl per dataset (resumed when rerun), NAME.compare.json, table.md/.csv/.json/.tex."),
        preds: Optional[Path] = typer.Option(None, "--preds", help="Rebuild the table from an earlier -o folder (no scoring, no model)."),
        split: Optional[List[str]] = _SPLIT,
        limit: Optional[int] = typer.Option(None, "--limit", help="Score at most this many images per dataset (a quick look)."),
        fit: str = typer.Option("none", "--fit", help="Mapping before PLCC: none (raw, as pyiqa and the paper) or logistic4 (VQEG, as DeQA-Score)."),
        model: str = typer.Option("qassess-demo-v1", "-m", "--model", envvar="QASSESS_MODEL", help="A preset (`qassess models`), a model folder or a hub id."),
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
        base_url: Optional[List[str]] = typer.Option(None, "--base-url", help="OpenAI-compatible server(s) (`vllm serve`); repeat for several."),
        api_key_env: Optional[str] = typer.Option(None, "--api-key-env", metavar="NAME", help="Environment variable holding the servers' API key."),
        model_presets: Optional[Path] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own model presets."),
        dataset_presets: Optional[Path] = _PRESETS,
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
            from qassess.cli import _remote_options
            from qassess.core.assessor import Settings

            names = [n.strip() for n in datasets.split(",") if n.strip()]
            planned = suite.plan(names, root, _splits(split), dataset_presets)
            backend, options = _remote_options(backend, base_url, api_key_env, None, 16, 600.0)
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


_ROOT = typer.Option(None, "--root", help="A folder holding the datasets under their usual folder names, the dataset folder itself, or NAME=PATH (repeatable).")
_SPLIT = typer.Option(None, "--split", metavar="NAME=SPLIT", help="Another split of a dataset than its default, e.g. koniq=all (repeatable).")
_PRESETS = typer.Option(None, "--dataset-presets", envvar="QASSESS_DATASET_PRESETS", help="A YAML file of your own dataset presets (same keys as the packaged ones).")


def _splits(values: Optional[List[str]]) -> dict[str, str]:
    out = {}
    for value in values or ():
        name, sep, split = value.partition("=")
        if not sep or not name or not split:
            raise UserError(f"--split takes NAME=SPLIT (e.g. koniq=all), got {value!r}")
        out[name.strip()] = split.strip()
    return out


from qassess.cli import _say, app, user_errors  # noqa: E402 - qassess.cli imports this module after defining them

register(app, user_errors, _say)
