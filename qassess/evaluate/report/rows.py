"""What the page shows, computed in Python on every row: the run as columns, the summary (counts,
histograms, `compare`'s metrics against ground truth, self-check agreement) and which rows get a
thumbnail when the run is too large to picture every image."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from qassess.core import record
from qassess.evaluate import metrics
from qassess.errors import UserError

# Columns of a qassess output read besides the ones `load_predictions` takes (id, rating, status, error),
# each as the table reader's number or text (lists stay JSON text) by its type in the record schema.
EXTRA_COLUMNS = {name: "number" if record.KIND[name] in ("float", "int") else "text"
                 for name in ("id", "path", "mode", "model", "template", "backend", "caption", "reasoning", "raw",
                              "ratings", "rating_std", "rating_expected", "self_check_gap", "self_check_error", "pixels")}
RAW_CHARS = 4000  # the generated text of a failed row, shown to say why it failed (cut beyond this)


@dataclass
class Run:
    """One row per prediction row, in file order, and the summary of them all."""

    rows: pd.DataFrame  # id name path mode status error rating caption reasoning raw ratings spread expected sc gap
    #                      mos err group rouge
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def load_run(preds: str | Path, ground_truth: Sequence[str] | None = None, refs: str | Path | None = None, *,
             fit: str | None = None, id_col: str | None = None, pred_col: str | None = None,
             gt_id_col: str | None = None, gt_col: str | None = None) -> Run:
    """Read a score output with the readers `compare` uses and join ground truth the way it does."""
    from qassess.evaluate.compare.load import load_predictions
    from qassess.io.tables import read_table

    warnings: list[str] = []
    p = load_predictions(preds, id_col=id_col, pred_col=pred_col, group_col=None, want_text=False,
                         warnings=warnings)
    frame = p.frame.reset_index(drop=True)
    idc = p.info["id_col"]
    extra = read_table(preds, lambda cols, headerless: {idc: "text", **{c: k for c, k in EXTRA_COLUMNS.items()
                                                                          if c in cols and c != idc}}).frame
    extra = extra.reset_index(drop=True)
    if len(extra) != len(frame) or not (extra[idc].astype("str").to_numpy() == frame["id"].to_numpy()).all():
        raise UserError(f"{preds} changed while it was read (a run still writing to it?); try again")
    rows = pd.DataFrame({"id": frame["id"], "status": frame["status"], "error": _text(frame["error"]),
                         "rating": frame["rating"].to_numpy(dtype=float)})
    rows["name"] = _text(extra["id"]) if "id" in extra and idc != "id" else rows["id"]  # a score output's own id
    for col in ("path", "mode", "caption", "reasoning", "self_check_error"):
        rows[col] = _text(extra[col]) if col in extra else ""
    if "path" not in extra:  # a plain prediction table: its id names the image (found under --root)
        rows["path"] = rows["id"]
    raw = _text(extra["raw"]) if "raw" in extra else pd.Series("", index=rows.index)
    rows["raw"] = raw.where(rows["status"] != "ok", "").str.slice(0, RAW_CHARS)
    rows["ratings"] = [_ratings(v) for v in extra["ratings"]] if "ratings" in extra else None
    rows["spread"] = _numbers(extra, "rating_std")
    rows["expected"] = _numbers(extra, "rating_expected")  # the probability-weighted rating (score --probs)
    rows["sc"] = frame["self_check"].to_numpy(dtype=float) if "self_check" in frame else np.nan
    gap_col = _numbers(extra, "self_check_gap")
    signed = rows["sc"].to_numpy() - rows["rating"].to_numpy()  # caption-only minus image rating
    rows["gap"] = np.where(np.isfinite(signed), signed, gap_col)
    rows["mos"] = rows["err"] = rows["rouge"] = np.nan
    rows["group"] = ""

    summary: dict[str, Any] = {"source": str(preds), "rows": len(rows), "id_col": idc,
                               "statuses": rows["status"].value_counts().to_dict()}
    for col in ("model", "template", "backend", "mode"):
        if col in extra:
            summary[col + "s"] = sorted({v for v in _text(extra[col]).unique() if v})[:10]
    summary["rating"] = _distribution(rows["rating"].to_numpy(), lo=1, hi=5, step=0.25)
    if np.isfinite(rows["spread"].to_numpy()).any():
        summary["spread"] = _distribution(rows["spread"].to_numpy(), lo=0, hi=2, step=0.1)
    if np.isfinite(rows["gap"].to_numpy()).any():
        summary["gap"] = _distribution(rows["gap"].to_numpy(), lo=-4, hi=4, step=0.5)
        ok = np.isfinite(rows["sc"].to_numpy()) & np.isfinite(rows["rating"].to_numpy())
        if ok.sum() >= 2:
            summary["consistency"] = metrics.consistency(rows["rating"].to_numpy()[ok], rows["sc"].to_numpy()[ok])
    if ground_truth or refs is not None:
        _join_truth(preds, rows, summary, ground_truth, refs, fit=fit, id_col=id_col, pred_col=pred_col,
                    gt_id_col=gt_id_col, gt_col=gt_col, warnings=warnings)
    return Run(rows, summary, warnings)


def _join_truth(preds, rows: pd.DataFrame, summary: dict[str, Any], ground_truth, refs, *, fit, id_col, pred_col,
                gt_id_col, gt_col, warnings: list[str]) -> None:
    """`compare` itself: its metrics go in the summary, each row's MOS (first match), error and ROUGE-1 on the
    cards. The error is the rating mapped onto the MOS scale minus the MOS: by `compare`'s fit when one was
    asked for and converged, else by a least-squares line per group (the mapping PLCC measures)."""
    from qassess.evaluate.compare import compare

    report = compare(preds, list(ground_truth or []) or None, refs, pred_id_col=id_col, pred_col=pred_col,
                     gt_id_col=gt_id_col, gt_col=gt_col, fit=fit, min_rows=1)
    warnings.extend(report.warnings)
    summary["compare"] = report.to_dict()
    per_row = report.rows
    if per_row is None or per_row.empty:
        return
    mapping: dict[str, str] = {}
    first = per_row.drop_duplicates("_row", keep="first")
    if len(first) < len(per_row):
        warnings.append(f"{len(per_row) - len(first)} predictions match several ground-truth rows; "
                        "cards show the first")
    idx = first["_row"].to_numpy()
    rows.loc[idx, "mos"] = first["gt"].to_numpy(dtype=float)
    rows.loc[idx, "group"] = first["group"].astype("str").to_numpy()
    if "rouge1_f1" in first:
        rows.loc[idx, "rouge"] = first["rouge1_f1"].to_numpy(dtype=float)
    for g, part in first.groupby("group", sort=False):
        used = part["used"].to_numpy(dtype=bool)
        pred, gt = part["prediction"].to_numpy(dtype=float), part["gt"].to_numpy(dtype=float)
        fitted = report.fits.get(str(g))
        if fitted is not None and fitted.converged:
            on_scale = fitted.predict(pred)
            mapping[str(g)] = f"{fit} fit of compare"
        elif used.sum() >= 2 and np.ptp(pred[used]) > 0:
            slope, intercept = np.polyfit(pred[used], gt[used], 1)
            on_scale = slope * pred + intercept
            mapping[str(g)] = f"least-squares line: MOS = {slope:.4g} x rating + {intercept:.4g}"
        else:
            continue
        err = np.where(used, on_scale - gt, np.nan)
        rows.loc[part["_row"].to_numpy(), "err"] = err
    summary["error_mapping"] = mapping
    used = first[first["used"].to_numpy(dtype=bool)]
    summary["scatter"] = {"rating": _rounded(used["prediction"].to_numpy(dtype=float)),
                          "mos": _rounded(used["gt"].to_numpy(dtype=float)),
                          "group": used["group"].astype("str").tolist() if first["group"].nunique() > 1 else None}


def _text(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), "").astype("str")


def _numbers(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _ratings(value: Any) -> list[float | None] | None:
    """The per-sample ratings of `--samples` (a list in JSONL, its JSON text in CSV)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            return None
    if value is None or not hasattr(value, "__iter__"):
        return None
    out = []
    for v in value:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = math.nan
        out.append(f if math.isfinite(f) else None)
    return out


def _rounded(values: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), 4) for v in values]


def _distribution(values: np.ndarray, *, lo: float, hi: float, step: float) -> dict[str, Any]:
    """Histogram counts (values outside [lo, hi] go to the end bins) and the usual statistics."""
    v = values[np.isfinite(values)]
    edges = np.arange(lo, hi + step / 2, step)
    counts = np.histogram(np.clip(v, lo, hi), bins=edges)[0] if v.size else np.zeros(len(edges) - 1, int)
    stats = {"n": int(v.size), "edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()}
    if v.size:
        stats.update(mean=float(v.mean()), median=float(np.median(v)), min=float(v.min()), max=float(v.max()))
    return stats


def choose_thumbnails(rows: pd.DataFrame, cap: int) -> tuple[np.ndarray, str]:
    """Rows that get a picture, and the sentence the page shows about the choice. Every row when they fit
    under `cap`; else, deterministically: the extremes of each sort key (rating, error, gap, spread), then
    failures, then rows evenly spaced in rating order, so every end of every ordering has pictures."""
    candidates = np.flatnonzero((rows["mode"].to_numpy() != "caption"))
    n = len(candidates)
    if n <= cap:
        return candidates, f"Thumbnails for all {n:,} image rows."
    if cap == 0:
        return candidates[:0], f"No thumbnails (--max-thumbnails 0); the summary counts all {len(rows):,} rows."
    chosen: dict[int, None] = {}

    def take(order: np.ndarray, k: int) -> None:
        for i in order[:k]:
            if len(chosen) >= cap:
                return
            chosen.setdefault(int(i), None)

    keys = [("rating", rows["rating"].to_numpy()), ("error", np.abs(rows["err"].to_numpy())),
            ("gap", np.abs(rows["gap"].to_numpy())), ("spread", rows["spread"].to_numpy())]
    keys = [(name, v[candidates]) for name, v in keys if np.isfinite(v[candidates]).any()]
    per_end = max(1, cap // (4 * max(len(keys), 1)))
    for name, v in keys:
        finite = np.flatnonzero(np.isfinite(v))
        order = candidates[finite[np.argsort(v[finite], kind="stable")]]
        take(order[::-1], per_end)
        if name == "rating":
            take(order, per_end)  # low ratings are as telling as high; low error/gap/spread are not
    failed = candidates[rows["status"].to_numpy()[candidates] != "ok"]
    take(failed, cap // 10)
    rest = np.array([i for i in candidates if i not in chosen], dtype=int)
    left = cap - len(chosen)
    if left > 0 and rest.size:
        ratings = rows["rating"].to_numpy()[rest]
        by_rating = rest[np.argsort(np.where(np.isfinite(ratings), ratings, np.inf), kind="stable")]
        take(by_rating[np.linspace(0, by_rating.size - 1, min(left, by_rating.size)).round().astype(int)], left)
    largest = [name for name, _ in keys if name != "rating"]
    text = (f"Thumbnails for {len(chosen):,} of {n:,} image rows (--max-thumbnails {cap}): the highest and lowest "
            "ratings" + (f", the largest {' / '.join(largest)}" if largest else "") + ", failures, then rows evenly "
            "spaced by rating. Other cards have no picture; the summary counts every row.")
    return np.array(sorted(chosen), dtype=int), text
