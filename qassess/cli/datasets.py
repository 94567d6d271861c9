"""`qassess datasets`: the dataset presets of `qassess eval`, and a copy's check."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, user_errors
from qassess.errors import UserError

ROOT_OPTION = typer.Option(None, "--root", help="A folder holding the datasets under their usual folder names, the dataset folder itself, or NAME=PATH (repeatable).")
SPLIT_OPTION = typer.Option(None, "--split", metavar="NAME=SPLIT", help="Another split of a dataset than its default, e.g. koniq=all (repeatable).")
PRESETS_OPTION = typer.Option(None, "--dataset-presets", envvar="QASSESS_DATASETPRESETS_OPTION", help="A YAML file of your own dataset presets (same keys as the packaged ones).")


datasets_app = typer.Typer(help="Dataset presets for `qassess eval`: list them, or check a copy.",
                           invoke_without_command=True)


app.add_typer(datasets_app, name="datasets")


@datasets_app.callback()
@user_errors
def datasets_list(ctx: typer.Context, presets: Optional[Path] = PRESETS_OPTION,
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
            column = f" column {spec['score_col']}" if "score_col" in spec else ""
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
    root: Optional[List[str]] = ROOT_OPTION,
    split: Optional[List[str]] = SPLIT_OPTION,
    presets: Optional[Path] = PRESETS_OPTION,
):
    """What a copy holds: label count, label range, missing images, images without labels, duplicates.
    Exit status 1 when something is missing or odd (each such line starts with "problem:")."""
    from qassess.evaluate.datasets import get_preset
    from qassess.evaluate.datasets.check import check

    splits = parse_splits(split)
    total = 0
    for i, name in enumerate(names):
        lines, problems = check(get_preset(name, presets), root, splits.get(name))
        print(("\n" if i else "") + "\n".join(lines))
        total += problems
    if total:
        raise typer.Exit(1)


def parse_splits(values: Optional[List[str]]) -> dict[str, str]:
    out = {}
    for value in values or ():
        name, sep, split = value.partition("=")
        if not sep or not name or not split:
            raise UserError(f"--split takes NAME=SPLIT (e.g. koniq=all), got {value!r}")
        out[name.strip()] = split.strip()
    return out

