"""Training data for `qassess train`: score rows, MOS scaling to [1, 5], human reasoning references,
image checks, and the lazily loading dataset TRL reads."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from qassess.errors import UserError
from qassess.train.config import DataSection, mos_range

SCALE = (1.0, 5.0)
# Columns already on [1, 5] (used as they are) and raw MOS columns (min-max scaled), in detection order.
SCALED_SCORE_COLUMNS = ("normalized_score", "gt_score_norm")
RAW_SCORE_COLUMNS = ("mos_zscore", "mos", "ori_score", "quality", "gt_score", "score")
IMAGE_COLUMNS = ("image", "image_name", "images", "img", "image_path", "img_path", "path", "file", "filename",
                 "file_name")
REFERENCE_FIELDS = ("description", "good_aspect", "bad_aspect")


# ------------------------------------------------------------------------------------- training data


@dataclass(frozen=True)
class Example:
    image_name: str
    image_path: str
    score: float  # on [1, 5]
    reference: str  # human reasoning text, "" when the image has none


@dataclass
class TrainingData:
    examples: list[Example]
    score_column: str
    scaling: dict[str, Any]  # how raw scores became [1, 5] (saved with the model)
    skipped: list[str] = field(default_factory=list)  # images missing or unreadable (with skip_missing)

    @property
    def with_reference(self) -> int:
        return sum(bool(e.reference) for e in self.examples)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a table (qassess.io.tables: CSV/TSV/TXT, JSON, JSONL, Parquet, Excel; a path or a URI). JSON
    may be a list of objects, an object keyed by image name (`{name: {...}}`), or a list of such one-key
    objects (Q-Reasoning's filted_data_*.json). Text cells come back stripped."""
    from qassess.io.storage import is_uri
    from qassess.io.tables import read_table, records_of

    if not is_uri(str(path)) and not Path(path).is_file():
        raise UserError(f"data file not found: {path}")
    table = read_table(str(path), raw=True)
    rows = records_of(table.frame)
    if table.kind == "csv":
        rows = [{k: v.strip() if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    return rows


def _find_column(rows: list[dict], explicit: str | None, candidates: Iterable[str], what: str, path: str) -> str:
    columns: dict[str, None] = {}
    for row in rows[:1000]:
        columns.update(dict.fromkeys(row))
    folded = {str(c).strip().lower(): c for c in reversed(list(columns))}
    for name in ([explicit] if explicit else candidates):
        if name in columns:
            return name
        if name.strip().lower() in folded:
            return folded[name.strip().lower()]
    present = ", ".join(map(str, columns)) or "none"
    looked = repr(explicit) if explicit else "one of " + ", ".join(candidates)
    raise UserError(f"{path}: no {what} column (looked for {looked}); columns: {present}")


def _image_name(value: Any, where: str) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise UserError(f"{where}: {len(value)} images in one row; one image per row is supported")
        value = value[0]
    if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
        raise UserError(f"{where}: empty image name")
    return str(value).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def reference_text(row: dict[str, Any]) -> str:
    """The human reasoning text of one Q-Reasoning row: the English parts of description, good_aspect
    and bad_aspect joined by spaces ("" when absent). Accepts the `<translation>` strings of
    koniq_cot_constrain/mixed_cot, the `{"answer": ...}` objects of human_test and the lists of
    filted_data_human_eng. (The paper's code concatenated them with no space, fusing boundary words.)"""
    parts = [_english(row.get(key)) for key in REFERENCE_FIELDS]
    return " ".join(p for p in parts if p)


def _english(value: Any) -> str:
    import re

    if value is None or isinstance(value, (bool, int, float)):
        return ""
    if isinstance(value, list):
        return " ".join(p for p in (_english(v) for v in value) if p)
    if isinstance(value, dict):
        if "answer" in value:
            return _english(value["answer"])
        return " ".join(p for p in (_english(v) for v in value.values()) if p)
    text = str(value)
    translations = re.findall(r"<translation>(.*?)</translation>", text, re.S | re.I)
    if translations:
        text = " ".join(translations)
    elif re.search(r"<summarize>", text, re.I):  # a summary without translation is not English
        text = re.sub(r"<summarize>.*?(</summarize>|$)", " ", text, flags=re.S | re.I)
    return " ".join(text.split())


def _scale(raw: list[float], column: str, data: DataSection) -> tuple[list[float], dict[str, Any]]:
    """Raw scores -> [1, 5]: min-max `1 + 4 (x - min) / (max - min)` as the paper (flipped for DMOS)."""
    as_is = column.strip().lower() in SCALED_SCORE_COLUMNS
    given = mos_range(data)
    if as_is:
        if given is not None:
            raise UserError(f"data.mos_range is set, but column {column!r} is already on [1, 5]; "
                            "set data.score_column to the raw MOS column or drop mos_range")
        scores = raw if data.higher_is_better else [6.0 - x for x in raw]
        info = {"column": column, "rule": "as is" if data.higher_is_better else "6 - x"}
    else:
        lo, hi = given if given is not None else (min(raw), max(raw))
        if not hi > lo:
            raise UserError(f"cannot min-max scale column {column!r}: every score is {lo:g}; set data.mos_range")
        if data.higher_is_better:
            scores = [1.0 + 4.0 * (x - lo) / (hi - lo) for x in raw]
        else:
            scores = [1.0 + 4.0 * (hi - x) / (hi - lo) for x in raw]
        info = {"column": column, "rule": "1 + 4 (x - min) / (max - min)" if data.higher_is_better
                else "1 + 4 (max - x) / (max - min)", "min": lo, "max": hi,
                "range_from": "recipe" if given is not None else "data"}
    outside = [x for x, s in zip(raw, scores) if not SCALE[0] - 1e-6 <= s <= SCALE[1] + 1e-6]
    if outside:
        raise UserError(f"{len(outside)} scores of column {column!r} fall outside [1, 5] after scaling "
                        f"({info['rule']}), e.g. {outside[0]:g}; check data.mos_range / data.score_column")
    return [min(SCALE[1], max(SCALE[0], s)) for s in scores], info


def _image_problem(path: Path) -> str | None:
    """Why an image cannot be used (header check only, no decode), or None."""
    from PIL import Image

    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on broken files
        return f"unreadable ({type(exc).__name__})"
    return None if width > 0 and height > 0 else "empty image"


def load_training_data(data: DataSection) -> TrainingData:
    """Examples with a score on [1, 5] and the human reference text, images checked to exist."""
    rows = read_rows(data.scores)
    if not rows:
        raise UserError(f"{data.scores} holds no rows")
    if data.limit is not None and data.limit < 1:
        raise UserError(f"data.limit must be >= 1, got {data.limit}")
    image_col = _find_column(rows, data.image_column, IMAGE_COLUMNS, "image", data.scores)
    score_col = _find_column(rows, data.score_column, SCALED_SCORE_COLUMNS + RAW_SCORE_COLUMNS, "score",
                             data.scores)
    names = [_image_name(row.get(image_col), f"{data.scores} row {i + 1}") for i, row in enumerate(rows)]
    raw = [_number(row.get(score_col)) for row in rows]
    bad = [i + 1 for i, x in enumerate(raw) if x is None]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        raise UserError(f"{data.scores}: {len(bad)} rows have no numeric {score_col!r} (rows {shown})")
    scores, scaling = _scale(raw, score_col, data)  # type: ignore[arg-type]
    if data.limit is not None:  # after scaling: a subset keeps the targets the full data gives
        names, rows, scores = names[: data.limit], rows[: data.limit], scores[: data.limit]

    inline = [reference_text(row) for row in rows]  # per row: names may repeat across folders
    references: dict[str, str] = {}
    if data.references:
        ref_rows = read_rows(data.references)
        ref_col = _find_column(ref_rows, None, IMAGE_COLUMNS, "image", data.references)
        for i, row in enumerate(ref_rows):
            text = reference_text(row)
            if text:
                references[_key(_image_name(row.get(ref_col), f"{data.references} row {i + 1}"))] = text

    root = Path(data.images) if data.images else Path(data.scores).parent
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    examples, problems = [], []
    for name, score, own in zip(names, scores, inline):
        path = root / name
        problem = _image_problem(path)
        if problem:
            problems.append(f"{name} ({problem})")
            continue
        examples.append(Example(name, str(path), score, references.get(_key(name)) or own))
    if problems and not data.skip_missing:
        shown = ", ".join(problems[:5]) + (", ..." if len(problems) > 5 else "")
        raise UserError(f"{len(problems)} of {len(names)} images missing or unreadable under {root}: {shown} "
                        "(--skip-missing to train without them)")
    if not examples:
        raise UserError(f"no usable images under {root}")
    return TrainingData(examples, score_col, scaling, problems)


def _key(name: str) -> str:
    """Join key between score rows and annotations: the file name without folders."""
    return Path(name.replace("\\", "/")).name


# ------------------------------------------------------------------------------------------ dataset


def build_dataset(examples: list[Example], template, min_pixels: int, max_pixels: int):
    """A `datasets.Dataset` whose rows load their image on access (7k KonIQ images do not fit in RAM).

    TRL reads `prompt` (the template's stage-1 chat) and `image`; every column, `score` and `reference`
    included, reaches the reward functions."""
    from datasets import Dataset

    from qassess.io.images import ImageLoadError, PixelBudget, load_image

    budget = PixelBudget(min_pixels=min_pixels, max_pixels=max_pixels)
    messages = template.image_messages()
    table = Dataset.from_dict({k: [getattr(e, k) for e in examples] for k in Example.__dataclass_fields__})

    def attach(batch: dict[str, list]) -> dict[str, list]:
        images = []
        for path in batch["image_path"]:
            try:
                images.append(load_image(path, budget))
            except ImageLoadError as exc:
                raise UserError(f"{path}: {exc}") from None
        return {**batch, "image": images, "prompt": [messages for _ in images]}

    return table.with_transform(attach)
