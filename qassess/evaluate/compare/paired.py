"""`compare --baseline`: is a new model better than its baseline, beyond the noise of which images were
rated?

Two models' intervals taken separately overlap long before their difference is in doubt: both are
scored on the same images, so an image that is hard for one is hard for the other. The paired bootstrap
resamples images once for both files (the same indices) and takes the difference of the metric on each
resample; its percentile interval is the interval of the difference itself.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate.compare.result import Report

CONFIDENCE = 0.95
MIN_ROWS = 3  # as compare's own minimum per group
_CELLS = 20_000_000  # resampled values held at once (n x rows), ~160 MB of float64


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of x with the same row of y (NaN where a row is constant)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    return np.clip(r, -1.0, 1.0)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return _pearson_rows(rankdata(x, axis=1), rankdata(y, axis=1))


METRICS = {"plcc": _pearson_rows, "srcc": _spearman_rows}


def paired_bootstrap(pred_a, pred_b, gt, metric: str, n: int, seed: int = 0) -> dict[str, Any]:
    """metric(a, gt) - metric(b, gt) on the given rows, and its percentile interval over `n` resamples
    of the rows drawn by `np.random.default_rng(seed).integers(0, rows, size=(n, rows))`, the same rows
    for both. A resample where either correlation is undefined (a constant side) is left out and counted."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose {', '.join(METRICS)}")
    a, b, y = (np.asarray(v, dtype=float) for v in (pred_a, pred_b, gt))
    if not (a.shape == b.shape == y.shape) or a.ndim != 1:
        raise ValueError(f"need three 1-D arrays of equal length, got {a.shape}, {b.shape}, {y.shape}")
    if n < 1:
        raise ValueError("n must be positive")
    stat = METRICS[metric]
    value_a, value_b = (float(stat(v[None, :], y[None, :])[0]) for v in (a, b))
    rows = a.size
    rng = np.random.default_rng(seed)
    diffs = np.empty(n)
    step = max(1, _CELLS // max(rows, 1))
    for start in range(0, n, step):
        idx = rng.integers(0, rows, size=(min(step, n - start), rows))
        diffs[start:start + idx.shape[0]] = stat(a[idx], y[idx]) - stat(b[idx], y[idx])
    defined = diffs[np.isfinite(diffs)]
    tail = 100 * (1 - CONFIDENCE) / 2
    ci = [float(v) for v in np.percentile(defined, [tail, 100 - tail])] if defined.size else [None, None]
    difference = value_a - value_b
    return {"n": rows, "new": _finite(value_a), "baseline": _finite(value_b), "difference": _finite(difference),
            "ci": ci, "undefined_resamples": int(n - defined.size)}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


# ----------------------------------------------------------------------------- from two reports


def paired_report(new: Report, base: Report, *, n: int, seed: int, baseline_source: str) -> dict[str, Any]:
    """The differences per group (and pooled over groups when there are several), on the ground-truth
    rows both files were scored on, under the same failure policy and fit as the reports."""
    pairs = _paired_rows(new.rows, base.rows)
    settings = new.settings
    lower = set(settings["lower_better"])
    fitted = settings["fit"] != "none"
    groups: dict[str, Any] = {}
    names = [str(g) for g in pd.unique(pairs["group"].to_numpy(dtype=object))] if len(pairs) else []
    scopes = [(g, pairs[pairs["group"].to_numpy() == g]) for g in names]
    if len(names) > 1:
        scopes.append(("pooled", pairs))
    for label, rows in scopes:
        sign = np.where(rows["group"].isin(lower).to_numpy(), -1.0, 1.0)  # agreement positive, as compare
        q = sign * rows["gt"].to_numpy(dtype=float)
        entry: dict[str, Any] = {}
        for metric, (col_new, col_base) in _columns(rows, fitted).items():
            s = sign if col_new == "mapped_new" else 1.0  # fitted values live on the ground truth's scale
            a, b = s * rows[col_new].to_numpy(dtype=float), s * rows[col_base].to_numpy(dtype=float)
            use = np.isfinite(a) & np.isfinite(b) & np.isfinite(q)
            if use.sum() >= MIN_ROWS:
                entry[metric] = paired_bootstrap(a[use], b[use], q[use], metric.rsplit("_", 1)[-1], n, seed)
        if entry:
            groups[label] = entry
    return {"new": new.inputs["predictions"]["source"], "baseline": baseline_source, "n_resamples": n, "seed": seed, "method": "paired percentile bootstrap",
            "confidence": CONFIDENCE, "difference": "new - baseline", "rows_new": int(new.rows["used"].sum()),
            "rows_baseline": int(base.rows["used"].sum()), "rows_paired": int(len(pairs)),
            "plcc_on": "fitted values (each file's own fit)" if fitted else "raw values", "groups": groups}


def _paired_rows(new: pd.DataFrame | None, base: pd.DataFrame | None) -> pd.DataFrame:
    """Rows used in both files, matched by the ground-truth id they were joined to (each file may have
    matched it at another level: full path in one, file name in the other)."""
    from qassess.errors import UserError

    if new is None or base is None:
        raise UserError("--baseline compares ratings with ground truth: give a ground-truth file")
    keep = ["source", "gt_id", "group", "gt", "prediction", "mapped", "self_check", "expected"]
    a = new[new["used"].to_numpy()][[c for c in keep if c in new]]
    b = base[base["used"].to_numpy()][[c for c in keep if c in base]]
    merged = a.merge(b.drop(columns=["group", "gt"]), on=["source", "gt_id"], suffixes=("_new", "_base"))
    if merged.empty:
        raise UserError(f"--baseline: no image has a usable rating in both files ({len(a)} new, {len(b)} baseline "
                        "rows matched the ground truth)")
    return merged


def _columns(rows: pd.DataFrame, fitted: bool) -> dict[str, tuple[str, str]]:
    """Which column pairs each difference reads: PLCC on the fitted values when each file's fit
    converged (else there is no PLCC to compare), SRCC on the ratings, and the caption-only and
    expected ratings when both files have them."""
    out: dict[str, tuple[str, str]] = {}
    if not fitted:
        out["plcc"] = ("prediction_new", "prediction_base")
    elif "mapped_new" in rows and "mapped_base" in rows:
        out["plcc"] = ("mapped_new", "mapped_base")
    out["srcc"] = ("prediction_new", "prediction_base")
    for what, label in (("self_check", "self_check_srcc"), ("expected", "expected_srcc")):
        if f"{what}_new" in rows and f"{what}_base" in rows:
            out[label] = (f"{what}_new", f"{what}_base")
    return out
