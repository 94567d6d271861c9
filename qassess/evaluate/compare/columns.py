"""Which column holds what: detection with overrides, and scores parsed strictly."""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from qassess.errors import UserError
from qassess.io.tables import NA_TOKENS  # noqa: F401 - the tokens a score cell may hold for "no value"

ID_CANDIDATES = ("path", "image_path", "img_path", "filepath", "file_path", "image", "img", "image_name",
                 "img_name", "imagename", "image_id", "img_id", "filename", "file_name", "file", "name",
                 "dist_img", "distorted_image", "key", "id")

PRED_CANDIDATES = ("rating", "pred", "prediction", "predicted", "pred_score", "predicted_score", "pred_mos",
                   "predicted_mos", "score", "quality", "mos", "output")

GT_CANDIDATES = ("mos", "normalized_score", "gt_score_norm", "gt_score", "gt", "gt_mos", "dmos", "mos_quality",
                 "mean_opinion_score", "score", "quality", "label", "target", "subjective_score")

REF_CANDIDATES = ("reference", "references", "ref", "reference_text", "ref_text", "text", "answer")

GROUP_CANDIDATES = ("dataset", "dataset_name")


def _norm(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def find_column(columns: Sequence[str], candidates: Sequence[str], *, role: str, source: str,
                override: str | None = None, option: str = "", exclude: Iterable[str] = ()) -> str | None:
    """The column to use: the override (exact, then case-insensitive), else the first candidate present.

    Returns None when nothing matches and there is no override; an override that is missing is an
    error that lists the columns that exist.
    """
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    if override:
        if override in columns:
            return override
        if _norm(override) in by_norm:
            return by_norm[_norm(override)]
        raise UserError(f"{source}: no column {override!r} ({option}); columns are: {list_columns(columns)}")
    skip = set(exclude)
    for cand in candidates:
        col = by_norm.get(cand)
        if col is not None and col not in skip:
            return col
    return None


def require_column(columns: Sequence[str], candidates: Sequence[str], *, role: str, source: str,
                   override: str | None = None, option: str = "", exclude: Iterable[str] = ()) -> str:
    """Like find_column, but a missing column is an error that lists the columns that exist."""
    col = find_column(columns, candidates, role=role, source=source, override=override, option=option,
                      exclude=exclude)
    if col is None:
        raise UserError(f"{source}: no {role} column found (looked for {', '.join(candidates[:8])}, ...); "
                        f"columns are: {list_columns(columns)}; name it with {option}")
    return col


def list_columns(columns: Sequence[str], limit: int = 30) -> str:
    """Column names for an error message (a wide table is cut after `limit`)."""
    shown = ", ".join(str(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def to_scores(values: pd.Series, *, column: str, source: str, ids: pd.Series | None = None) -> np.ndarray:
    """Floats from a score column: numbers, numeric strings ("3.5", "3,5"), empty/NaN tokens as NaN,
    "inf" kept as inf (excluded and counted later). Anything else is an error naming the first bad row."""
    if pd.api.types.is_bool_dtype(values):
        raise UserError(f"{source}: column {column!r} holds true/false values, not scores")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("str").str.strip()
    comma = text.str.fullmatch(r"[+-]?\d*,\d+([eE][+-]?\d+)?", na=False)  # 3,5: a decimal comma
    text = text.where(~comma, text.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(text, errors="coerce")
    missing = text.isna() | text.isin(NA_TOKENS)
    bad = numbers.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        where = f"row {i + 1}" + (f" (id {ids.iloc[i]!r})" if ids is not None else "")
        raise UserError(f"{source}: column {column!r} has a non-numeric score at {where}: {values.iloc[i]!r}")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def clean_text(values: pd.Series) -> pd.Series:
    """Text with missing values as "" and outer whitespace removed."""
    return values.astype("str").fillna("").str.strip()
