"""Metrics per group, pooled over groups, for the caption-only rating, with bootstrap intervals."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate import metrics
from qassess.errors import UserError


def group_metrics(name: str, rows: pd.DataFrame, *, fit: str | None, lower: bool, failures: str,
                  worst: float, bootstrap: int, seed: int, min_rows: int,
                  warnings: list[str]) -> tuple[dict[str, Any], metrics.Fit | None, pd.DataFrame]:
    """The metrics of one group after the failure policy, with every row accounted for: returns the
    metrics (counts under "rows"), the fit, and the rows with `prediction`, `used`, `excluded`, `mapped`."""
    failed = rows["failed"].to_numpy()
    fail_counts = rows.loc[failed, "status"].value_counts().to_dict() if failed.any() else {}
    if failed.any() and failures == "error":
        first = rows[failed].iloc[0]
        why = f": {first['error']}" if first.get("error") else ""
        raise UserError(f"{name}: {int(failed.sum())} matched predictions failed "
                        f"({', '.join(f'{k} {v}' for k, v in fail_counts.items())}); first {first['id']!r} "
                        f"({first['status']}{why}); use --failures exclude or worst")
    pred = rows["rating"].to_numpy(dtype=float).copy()
    if failures == "worst":
        pred[failed] = worst
    gt = rows["gt"].to_numpy(dtype=float)
    gt_bad = ~np.isfinite(gt)
    pred_bad = ~np.isfinite(pred) & ~failed
    use = np.isfinite(gt) & np.isfinite(pred)  # failed rows are NaN here unless scored as worst
    rows["prediction"] = pred
    rows["used"] = use
    excluded = np.full(len(rows), "", dtype=object)
    excluded[pred_bad] = "prediction not finite"
    excluded[failed & (failures == "exclude")] = "failed prediction"
    excluded[gt_bad] = "ground truth not finite"
    rows["excluded"] = excluded
    n = int(use.sum())
    counts = {"matched": int(len(rows)), "used": n, "failed": fail_counts, "failures_policy": failures,
              "failures_excluded": int((failed & np.isfinite(gt)).sum()) if failures == "exclude" else 0,
              "failures_scored_worst": int((failed & np.isfinite(gt)).sum()) if failures == "worst" else 0,
              "gt_not_finite": int(gt_bad.sum()), "pred_not_finite": int(pred_bad.sum())}
    if n < min_rows:
        raise UserError(f"{name}: only {n} usable matched rows (need at least {min_rows}); matched {len(rows)}, "
                        f"failed {int(failed.sum())}, ground truth not finite {int(gt_bad.sum())}")
    out, result = metrics.score_metrics(pred[use], gt[use], fit=fit, lower_better=lower)
    out["lower_better"] = lower
    out["rows"] = counts
    if result is not None and not result.converged:
        warnings.append(f"{name}: the {fit} fit did not converge ({result.message}); PLCC/RMSE/MAE are left empty, "
                        "plcc_raw holds the unmapped PLCC")
    if result is not None and result.converged:
        rows.loc[use, "mapped"] = result.predict(pred[use])
    _scale_note(name, out, pred[use], gt[use], warnings)
    if bootstrap:
        out["ci"] = _intervals(pred[use], gt[use], lower, result, bootstrap, seed)
    if "expected" in rows:
        out["expected"] = _expected(name, rows, use, fit=fit, lower=lower, min_rows=min_rows, warnings=warnings)
    if "self_check" in rows:
        out["self_check"], out["consistency"] = _self_check(name, rows, fit=fit, lower=lower, failures=failures,
                                                            worst=worst, min_rows=min_rows, warnings=warnings)
    return out, result, rows


def _intervals(pred: np.ndarray, gt: np.ndarray, lower: bool, fit: metrics.Fit | None, n: int,
               seed: int) -> dict[str, Any]:
    """Bootstrap intervals of the PLCC/SRCC as reported: on the fitted values when a fit converged
    (fitted once on all rows), against the ground truth oriented so that agreement is positive."""
    x = pred
    if fit is not None and fit.converged:
        x = -fit.predict(pred) if lower else fit.predict(pred)
    out = {**metrics.bootstrap_ci(x, -gt if lower else gt, n, seed=seed), "n_resamples": n,
           "method": "percentile", "level": 0.95}
    if fit is not None and not fit.converged:
        out["note"] = "the fit failed: the PLCC interval is for the raw PLCC"
    return out


def _scale_note(name: str, out: dict[str, Any], pred: np.ndarray, gt: np.ndarray, warnings: list[str]) -> None:
    """Warnings for numbers that would mislead: undefined or negative correlations, errors across scales."""
    srcc = out.get("srcc")
    if srcc is None:
        which = "predictions" if np.ptp(pred) == 0 else "ground-truth values"
        warnings.append(f"{name}: all used {which} are equal ({(pred if which == 'predictions' else gt)[0]:.4g}): "
                        "correlations are undefined")
    if srcc is not None and srcc < -0.2 and not out.get("lower_better"):
        warnings.append(f"{name}: SRCC is negative ({srcc:.3f}); if lower ground truth means better quality "
                        f"(DMOS), pass --lower-better or --lower-better-for {name}")
    if out.get("errors_on") == "raw" and pred.size:
        lo, hi = max(pred.min(), gt.min()), min(pred.max(), gt.max())
        span = max(gt.max() - gt.min(), 1e-12)
        if (hi - lo) / span < 0.5:
            warnings.append(f"{name}: RMSE/MAE compare raw values on different scales (predictions "
                            f"{pred.min():.3g}..{pred.max():.3g}, ground truth {gt.min():.3g}..{gt.max():.3g}); "
                            "use --fit logistic4 for errors on the ground-truth scale")


def _expected(name: str, rows: pd.DataFrame, use: np.ndarray, *, fit: str | None, lower: bool, min_rows: int,
              warnings: list[str]) -> dict[str, Any] | None:
    """Metrics of the probability-weighted rating on the rows the stated rating was scored on (a failed
    row has no expected rating, so failures are always excluded here), for a like-for-like comparison."""
    ex = rows["expected"].to_numpy(dtype=float)
    gt = rows["gt"].to_numpy(dtype=float)
    both = use & np.isfinite(ex) & ~rows["failed"].to_numpy()
    if both.sum() < min_rows:
        warnings.append(f"{name}: only {int(both.sum())} rows have an expected rating; no metrics for it")
        return None
    out, _ = metrics.score_metrics(ex[both], gt[both], fit=fit, lower_better=lower)
    stated, _ = metrics.score_metrics(rows["rating"].to_numpy(dtype=float)[both], gt[both], fit=fit, lower_better=lower)
    out["stated_on_same_rows"] = {k: stated.get(k) for k in ("n", "plcc", "srcc")}
    out["missing"] = int((use & ~np.isfinite(ex)).sum())
    return out


def _self_check(name: str, rows: pd.DataFrame, *, fit: str | None, lower: bool, failures: str, worst: float,
                min_rows: int, warnings: list[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Metrics of the caption-only (stage 2) rating, and its consistency with the image rating."""
    sc = rows["self_check"].to_numpy(dtype=float).copy()
    gt = rows["gt"].to_numpy(dtype=float)
    missing = np.isnan(sc)
    if missing.any() and failures == "error":
        raise UserError(f"{name}: {int(missing.sum())} rows have no self-check rating; "
                        "use --failures exclude or worst")
    if failures == "worst":
        sc[missing] = worst
    use = np.isfinite(sc) & np.isfinite(gt)
    if use.sum() < min_rows:
        warnings.append(f"{name}: only {int(use.sum())} rows have a self-check rating; no self-check metrics")
        return None, None
    out, _ = metrics.score_metrics(sc[use], gt[use], fit=fit, lower_better=lower)
    out["missing"] = int(missing.sum())
    image = rows["rating"].to_numpy(dtype=float)
    both = np.isfinite(image) & ~rows["failed"].to_numpy() & np.isfinite(rows["self_check"].to_numpy(dtype=float))
    caption_only = rows["self_check"].to_numpy(dtype=float)
    consistency = metrics.consistency(image[both], caption_only[both]) if both.sum() >= 2 else None
    return out, consistency


def pooled(rows: pd.DataFrame, lower: set[str], names: list[str], *, fit: str | None, bootstrap: int, seed: int,
           warnings: list[str]) -> dict[str, Any]:
    """All used rows of every group together; lower-better groups are sign-flipped when directions mix,
    and a warning says when the groups' scales differ (the pooled numbers then mean little)."""
    used = rows[rows["used"].to_numpy()]
    pred = used["prediction"].to_numpy(dtype=float)
    gt = used["gt"].to_numpy(dtype=float)
    mixed = 0 < len(lower) < len(names)
    if mixed:
        flip = used["group"].isin(lower).to_numpy()
        gt = np.where(flip, -gt, gt)
        out, result = metrics.score_metrics(pred, gt, fit=fit)
        out["rmse"] = out["mae"] = None
        out["errors_on"] = "none (groups point in opposite directions)"
        warnings.append("overall pools groups where higher is better with lower-better groups: correlations use "
                        "sign-flipped ground truth for the latter; RMSE/MAE are not pooled")
    else:
        out, result = metrics.score_metrics(pred, gt, fit=fit, lower_better=bool(lower))
    out["pooled"] = True
    out["lower_better"] = bool(lower) and not mixed
    ranges = {g: (float(np.min(v)), float(np.max(v))) for g, v in used.groupby("group", sort=False)["gt"]}
    spans = [hi - lo for lo, hi in ranges.values()]
    overlap = min(hi for _, hi in ranges.values()) - max(lo for lo, _ in ranges.values())
    if min(spans) <= 0 or max(spans) / min(spans) > 3 or overlap < 0.5 * min(spans):
        shown = ", ".join(f"{g} {lo:.3g}..{hi:.3g}" for g, (lo, hi) in ranges.items())
        warnings.append(f"the groups' ground truth is on different scales ({shown}): the pooled row mixes them; "
                        "read the per-group rows and the average")
    if bootstrap:
        out["ci"] = _intervals(pred, gt, bool(lower) and not mixed, result, bootstrap, seed)
    return out


def sum_counts(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Row counts of several groups added up (the failure kinds merged)."""
    out: dict[str, Any] = {}
    for c in counts:
        for key, value in c.items():
            if isinstance(value, dict):
                merged = out.setdefault(key, {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + int(value)
            else:
                out[key] = value
    return out
