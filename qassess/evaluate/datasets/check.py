"""`qassess datasets check`: what a copy of a dataset holds against its preset, in plain lines. A partial
or odd copy is reported, never a crash: each problem is a line starting with "problem:"."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from qassess.errors import UserError
from qassess.evaluate.datasets import Preset, find_folder, load

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
EXAMPLES = 3


def _examples(values: Sequence[str]) -> str:
    shown = ", ".join(str(v) for v in list(values)[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


def check(preset: Preset, roots: Sequence[str] | None, split: str | None = None) -> tuple[list[str], int]:
    """(report lines, number of problems)."""
    chosen = preset.split(split)
    lines = [f"{preset.name} ({preset.title}), split {chosen.name}"]
    try:
        folder, how = find_folder(preset, roots, chosen.name)
    except UserError as exc:
        return lines + [f"problem: {exc}"], 1
    lines.append(f"folder: {folder} ({how})")
    try:
        labels = load(preset, folder, chosen.name)
    except UserError as exc:
        return lines + [f"problem: {exc}"], 1
    problems: list[str] = []
    frame = labels.frame
    expected = f" (expected {chosen.expected})" if chosen.expected is not None else ""
    lines.append(f"labels: {len(frame)} in the split, of {len(labels.all_rows)} rows in "
                 f"{', '.join(labels.files)}{expected}")
    if chosen.expected is not None and len(frame) != chosen.expected:
        problems.append(f"{len(frame)} labels in the split, not {chosen.expected}: a different release or a "
                        "partial label file")
    mos = frame["mos"].to_numpy(dtype=float)
    bad = ~np.isfinite(mos)
    if bad.any():
        problems.append(f"{int(bad.sum())} labels are not numbers (e.g. {_examples(frame['image'][bad].tolist())})")
    lo, hi = chosen.scale
    good = mos[~bad]
    word = "higher" if not chosen.lower_better else "lower"
    if good.size:
        lines.append(f"label range {good.min():.4g}..{good.max():.4g} on the stated scale {lo:g}..{hi:g} "
                     f"({word} is better)")
        outside = (~bad) & ((mos < lo) | (mos > hi))
        if outside.any():
            problems.append(f"{int(outside.sum())} labels lie outside {lo:g}..{hi:g} (e.g. "
                            + _examples([f"{n}={v:.4g}" for n, v in zip(frame['image'][outside], mos[outside])])
                            + "): another column or scale than the preset states")
    dup = frame["image"][frame["image"].duplicated()].unique().tolist()
    if dup:
        problems.append(f"{len(dup)} image names are labelled more than once (e.g. {_examples(dup)})")
    missing = frame.loc[~frame["exists"], "image"].tolist()
    where = labels.images_dir.relative_to(folder) if labels.images_dir.is_relative_to(folder) else labels.images_dir
    lines.append(f"images: {len(frame) - len(missing)} of {len(frame)} found under {where}/")
    if not labels.images_dir.is_dir():
        problems.append(f"no image folder {' or '.join(chosen.images)} in {folder}")
    elif missing:
        problems.append(f"{len(missing)} labelled images are missing (e.g. {_examples(missing)})")
    problems += _unlabelled(labels, folder)
    empty = [name for name, path, ok in frame[["image", "path", "exists"]].itertuples(index=False)
             if ok and Path(path).stat().st_size == 0]
    if empty:
        problems.append(f"{len(empty)} images are empty files (e.g. {_examples(empty)})")
    if chosen.note:
        lines.append(f"note: {chosen.note}")
    lines += [f"problem: {p}" for p in problems]
    lines.append("ok" if not problems else f"{len(problems)} problem(s)")
    return lines, len(problems)


def _unlabelled(labels, folder: Path) -> list[str]:
    """Image files in the scanned folders that no label row names (references excepted by the preset)."""
    chosen = labels.split
    scan = [folder / d for d in chosen.scan] if chosen.scan else [labels.images_dir]
    named = {str((labels.images_dir / n).absolute()) for n in labels.all_rows["image"]}
    keep = re.compile(chosen.unlabelled) if chosen.unlabelled else None
    extra = []
    for d in scan:
        if not d.is_dir():
            continue
        for path in sorted(d.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith(".") or not path.is_file():
                continue
            if str(path.absolute()) in named:
                continue
            if keep is not None and keep.search(path.name):
                continue
            extra.append(str(path.relative_to(folder)))
    out = []
    if extra:
        out.append(f"{len(extra)} images have no label (e.g. {_examples(extra)})")
    return out
