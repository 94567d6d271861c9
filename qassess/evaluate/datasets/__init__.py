"""Public BIQA datasets as data (presets.yaml): where each one's images and labels are, the label's
scale and direction, the image set of the usual test protocol, and the source of each fact. Users add
their own in a YAML file of the same shape (`--dataset-presets`).

    all_presets(user_file) -> {name: Preset}      get_preset(name, user_file) -> Preset
    find_folder(preset, roots) -> Path              load(preset, folder, split) -> Labels
    check(preset, roots, split) -> list of lines    (qassess.evaluate.datasets.check)
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from qassess.errors import UserError

PACKAGED = Path(__file__).with_name("presets.yaml")
DIRECTIONS = ("higher", "lower")
PRESET_KEYS = {"title", "kind", "paper", "folders", "labels", "images", "scan", "unlabelled", "scale",
               "direction", "default_split", "splits", "sources", "expected", "note", "where", "skip_first"}
SPLIT_KEYS = {"labels", "images", "scan", "unlabelled", "scale", "direction", "expected", "note", "where",
              "skip_first"}


@dataclass(frozen=True)
class Split:
    """One image set of a dataset, every key resolved (the split's own value, else the dataset's)."""

    name: str
    labels: dict
    images: tuple[str, ...]
    scan: tuple[str, ...] | None
    unlabelled: str | None
    scale: tuple[float, float]
    direction: str
    expected: int | None = None
    note: str = ""
    where: dict = field(default_factory=dict)
    skip_first: int = 0

    @property
    def lower_better(self) -> bool:
        return self.direction == "lower"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    folders: tuple[str, ...]
    splits: dict[str, Split]
    default_split: str
    kind: str = ""
    paper: str = ""
    sources: tuple[str, ...] = ()
    user: bool = False

    def split(self, name: str | None = None) -> Split:
        name = name or self.default_split
        if name not in self.splits:
            raise UserError(f"{self.name} has no split {name!r}; splits: {', '.join(self.splits)}")
        return self.splits[name]


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))


def _preset(name: str, raw: Any, origin: str, user: bool) -> Preset:
    where = f"{origin}: dataset {name}"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    unknown = set(raw) - PRESET_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; keys are: {', '.join(sorted(PRESET_KEYS))}")
    splits_raw = raw.get("splits") or {"all": {}}
    if not isinstance(splits_raw, dict):
        raise UserError(f"{where}: splits must map split names to their keys")
    splits = {}
    for split_name, over in splits_raw.items():
        over = over or {}
        bad = set(over) - SPLIT_KEYS
        if bad:
            raise UserError(f"{where}, split {split_name}: unknown key(s) {', '.join(sorted(bad))}")
        merged = {k: raw.get(k) for k in SPLIT_KEYS if k in raw}
        merged.update(over)
        for key in ("labels", "scale", "direction"):
            if merged.get(key) is None:
                raise UserError(f"{where}, split {split_name}: no {key}")
        if not isinstance(merged["labels"], dict) or "reader" not in merged["labels"]:
            raise UserError(f"{where}: labels must be a mapping with a reader (table, livec_mat, csiq_xlsx, ...)")
        if merged["direction"] not in DIRECTIONS:
            raise UserError(f"{where}: direction must be higher or lower, got {merged['direction']!r}")
        scale = merged["scale"]
        if not (isinstance(scale, (list, tuple)) and len(scale) == 2 and all(isinstance(v, (int, float)) for v in scale)
                and scale[0] < scale[1]):
            raise UserError(f"{where}: scale must be [low, high], got {scale!r}")
        if merged.get("unlabelled"):
            try:
                re.compile(merged["unlabelled"])
            except re.error as exc:
                raise UserError(f"{where}: unlabelled is not a regular expression ({exc})") from None
        splits[str(split_name)] = Split(
            name=str(split_name), labels=dict(merged["labels"]), images=_tuple(merged.get("images")) or (".",),
            scan=_tuple(merged["scan"]) if merged.get("scan") else None, unlabelled=merged.get("unlabelled"),
            scale=(float(scale[0]), float(scale[1])), direction=merged["direction"],
            expected=int(merged["expected"]) if merged.get("expected") is not None else None,
            note=str(merged.get("note") or ""), where=dict(merged.get("where") or {}),
            skip_first=int(merged.get("skip_first") or 0))
    default = str(raw.get("default_split") or next(iter(splits)))
    if default not in splits:
        raise UserError(f"{where}: default_split {default!r} is not one of {', '.join(splits)}")
    return Preset(name=name, title=str(raw.get("title") or name), folders=_tuple(raw.get("folders")) or (name,),
                  splits=splits, default_split=default, kind=str(raw.get("kind") or ""),
                  paper=str(raw.get("paper") or ""), sources=_tuple(raw.get("sources")), user=user)


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read dataset presets {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if isinstance(data, dict) and set(data) == {"datasets"}:
        data = data["datasets"]
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of dataset names to presets")
    return data


@functools.cache
def _packaged() -> dict[str, Preset]:
    return {str(k): _preset(str(k), v, "presets.yaml", False) for k, v in _read_yaml(PACKAGED).items()}


def all_presets(user_file: str | Path | None = None) -> dict[str, Preset]:
    """The packaged presets, then the user's (a user preset of the same name replaces the packaged one)."""
    table = dict(_packaged())
    if user_file:
        path = Path(user_file)
        for k, v in _read_yaml(path).items():
            table[str(k)] = _preset(str(k), v, str(path), True)
    return table


def get_preset(name: str, user_file: str | Path | None = None) -> Preset:
    table = all_presets(user_file)
    if name not in table:
        raise UserError(f"unknown dataset {name!r}; `qassess datasets` lists them ({', '.join(table)})")
    return table[name]


def parse_roots(values: Sequence[str] | None) -> tuple[list[Path], dict[str, Path]]:
    """--root values: plain folders (searched for each dataset's folder) and NAME=PATH pairs."""
    plain, named = [], {}
    for value in values or ():
        name, sep, path = str(value).partition("=")
        if sep and name and "/" not in name and not Path(value).exists():
            named[name] = Path(path).expanduser()
        else:
            plain.append(Path(value).expanduser())
    return plain, named


def _label_file(split: Split) -> str | None:
    spec = split.labels
    return spec.get("file") or spec.get("names") or None


def find_folder(preset: Preset, roots: Sequence[str] | None, split: str | None = None) -> tuple[Path, str]:
    """(the dataset folder, how it was found): NAME=PATH; a root that is the dataset itself (its label
    file is there); or a root's sub-folder named like the dataset (case-insensitive)."""
    plain, named = parse_roots(roots)
    if preset.name in named:
        path = named[preset.name]
        if not path.is_dir():
            raise UserError(f"{preset.name}: --root {preset.name}={path} is not a folder")
        return path, f"--root {preset.name}=..."
    if not plain:
        raise UserError(f"{preset.name}: no --root given (a folder holding {preset.folders[0]}/, or "
                        f"{preset.name}=PATH)")
    label = _label_file(preset.split(split))
    for root in plain:
        if not root.is_dir():
            raise UserError(f"--root {root} is not a folder")
        if label and (root / label).exists():
            return root, "the root itself holds its label file"
        children = {c.name.lower(): c for c in sorted(root.iterdir()) if c.is_dir()}
        for folder in preset.folders:
            if folder.lower() in children:
                return children[folder.lower()], f"{children[folder.lower()].name}/ under {root}"
    looked = ", ".join(preset.folders)
    raise UserError(f"{preset.name}: no folder named {looked} under {', '.join(map(str, plain))}, and no "
                    f"{label or 'label file'} there; give --root {preset.name}=PATH")


@dataclass
class Labels:
    """A dataset copy's labels for one split: `frame` has image (relative), path (absolute), mos, exists."""

    preset: Preset
    split: Split
    folder: Path
    images_dir: Path
    frame: pd.DataFrame
    all_rows: pd.DataFrame  # every label row of the file(s), before the split's selection
    files: list[str]

    @property
    def missing(self) -> int:
        return int((~self.frame["exists"]).sum())


def _images_dir(folder: Path, split: Split, first: str | None) -> Path:
    """The first of the split's image folders that exists and holds the first labelled image (when
    none does, the first that exists: `check` then reports the images as missing)."""
    existing = [folder / d for d in split.images if (folder / d).is_dir()]
    for d in existing:
        if first is None or (d / first).is_file():
            return d
    return existing[0] if existing else folder / split.images[0]


def load(preset: Preset, folder: Path, split: str | None = None) -> Labels:
    """The split's labels read from `folder` as released, with each image's path and whether it exists."""
    from qassess.evaluate.datasets.readers import read_labels

    chosen = preset.split(split)
    raw, files = read_labels(folder, chosen.labels)
    selected = raw
    for column, value in chosen.where.items():
        if column not in raw.columns:
            raise UserError(f"{preset.name}: the split {chosen.name} selects by column {column!r}, which "
                            f"{', '.join(files)} does not have")
        selected = selected[selected[column].astype(str).str.strip() == str(value)]
    if chosen.skip_first:
        selected = selected.iloc[chosen.skip_first:]
    first = selected["image"].iloc[0] if len(selected) else None
    images_dir = _images_dir(folder, chosen, first)
    frame = selected[["image", "mos"]].reset_index(drop=True)
    frame["path"] = [str((images_dir / name).absolute()) for name in frame["image"]]
    frame["exists"] = np.fromiter((Path(p).is_file() for p in frame["path"]), dtype=bool, count=len(frame))
    return Labels(preset, chosen, folder, images_dir, frame, raw[["image", "mos"]], files)
