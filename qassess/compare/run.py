"""`compare()`: load, join, score each group, pool, add ROUGE-1; the one entry point."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from qassess import metrics
from qassess.compare.join import PredIndex, arrow, id_keys, join_ground_truth
from qassess.compare.load import GroundTruth, ground_truth_sources, load_ground_truth, load_predictions
from qassess.compare.references import add_rouge
from qassess.compare.report import Report
from qassess.compare.scores import group_metrics, pooled, sum_counts
from qassess.compare.tables import Source
from qassess.errors import UserError

FAILURE_POLICIES = ("exclude", "worst", "error")

DUPLICATE_POLICIES = ("first", "mean", "error")


def compare(preds: Source, ground_truth: GroundTruth = None, refs: Source | None = None, *,
            id_col: str | None = None, pred_id_col: str | None = None, gt_id_col: str | None = None,
            ref_id_col: str | None = None, pred_col: str | None = None, gt_col: str | None = None,
            group_col: str | None = None, ref_col: str | None = None, fit: str | None = None,
            lower_better: bool | Iterable[str] = False, failures: str = "exclude", worst_score: float = 1.0,
            duplicates: str = "first", bootstrap: int = 0, seed: int = 0, stem: bool = False,
            min_rows: int = 3) -> Report:
    """Compare predictions with ground truth (one or several named files) and optional references.

    Raises UserError for anything the user must fix: unknown columns, non-numeric scores, fewer than
    `min_rows` usable rows in a group, failures under `failures="error"`, duplicates under
    `duplicates="error"`, a fit name that does not exist.
    """
    if fit in ("", "none", None):
        fit = None
    elif fit not in metrics.FIT_KINDS:
        raise UserError(f"unknown --fit {fit!r}; choose none, {', '.join(metrics.FIT_KINDS)}")
    if failures not in FAILURE_POLICIES:
        raise UserError(f"unknown --failures {failures!r}; choose {', '.join(FAILURE_POLICIES)}")
    if duplicates not in DUPLICATE_POLICIES:
        raise UserError(f"unknown --duplicates {duplicates!r}; choose {', '.join(DUPLICATE_POLICIES)}")
    if bootstrap < 0:
        raise UserError("--bootstrap must be 0 (off) or a number of resamples")
    sources = ground_truth_sources(ground_truth)
    if not sources and refs is None:
        raise UserError("nothing to compare with: give a ground-truth file or --refs")

    warnings: list[str] = []
    p = load_predictions(preds, id_col=pred_id_col or id_col, pred_col=pred_col, group_col=group_col,
                          want_text=refs is not None, warnings=warnings)
    pf = p.frame
    pf["_row"] = np.arange(len(pf))
    empty_ids = int(id_keys(pf["id"], "path").null_count)
    index = PredIndex(pf, duplicates, p.table.source)
    joined_parts: list[pd.DataFrame] = []
    gt_info: dict[str, Any] = {}
    matched_pred = np.zeros(len(pf), dtype=bool)
    for name, src in sources.items():
        gframe, info = load_ground_truth(name, src, id_col=gt_id_col or id_col, gt_col=gt_col,
                                          group_col=group_col, warnings=warnings)
        part = join_ground_truth(name, gframe, info, index, duplicates, warnings)
        joined_parts.append(part)
        matched_pred[part["_row"].to_numpy()] = True
        level = info["match_by"]
        if info["duplicate_pred_rows"]:  # rows dropped as duplicates of a matched key are matched too
            pa, pc = arrow()
            same_key = pc.is_in(id_keys(pf["id"], level), value_set=pa.array(part["key"], type=pa.large_string()))
            matched_pred |= pc.fill_null(same_key, False).to_numpy(zero_copy_only=False)
        gt_info[name] = info

    if group_col and not p.info.get("group_col") and not any(i.get("group_col") for i in gt_info.values()):
        raise UserError(f"--group-col {group_col!r} is in neither the predictions nor the ground truth")
    p.info.update(empty_ids=empty_ids, unmatched=int((~matched_pred).sum()) if sources else None,
                  unmatched_examples=[str(v) for v in pf["id"].to_numpy()[~matched_pred][:5]] if sources else [])
    if sources and p.info["unmatched"]:
        warnings.append(f"{p.info['unmatched']} of {len(pf)} predictions match no ground-truth row "
                        f"(e.g. {', '.join(p.info['unmatched_examples'][:3])})")
    if empty_ids:
        warnings.append(f"{empty_ids} prediction rows have an empty id and were skipped")

    joined = (joined_parts[0] if len(joined_parts) == 1 else pd.concat(joined_parts, ignore_index=True)
              ) if joined_parts else pd.DataFrame()
    group_names = [str(g) for g in pd.unique(joined["group"].to_numpy(dtype=object))] if len(joined) else []
    lower = _lower_better_groups(lower_better, group_names)
    settings = {"fit": fit or "none", "plcc": fit or "raw (no mapping)", "failures": failures,
                "worst_score": worst_score if failures == "worst" else None, "duplicates": duplicates,
                "lower_better": sorted(lower), "bootstrap": {"n_resamples": bootstrap, "seed": seed,
                                                             "method": "percentile", "confidence": 0.95} if bootstrap else None,
                "rouge": {"stem": stem, "lowercase": True, "generated": "caption + ' ' + reasoning"} if refs is not None else None}

    groups: dict[str, dict[str, Any]] = {}
    fits: dict[str, metrics.Fit | None] = {}
    rows_out: list[pd.DataFrame] = []
    for g in group_names:
        rows = joined if len(group_names) == 1 else joined[joined["group"].to_numpy() == g]
        groups[g], fits[g], used_rows = group_metrics(g, rows, fit=fit, lower=g in lower, failures=failures,
                                                       worst=worst_score, bootstrap=bootstrap, seed=seed,
                                                       min_rows=min_rows, warnings=warnings)
        rows_out.append(used_rows)
    per_row = (rows_out[0] if len(rows_out) == 1 else pd.concat(rows_out, ignore_index=True)) if rows_out else None

    overall: dict[str, Any] = {}
    average = None
    if len(group_names) == 1:
        overall = dict(groups[group_names[0]])
    elif len(group_names) > 1:
        overall = pooled(per_row, lower, group_names, fit=fit, bootstrap=bootstrap, seed=seed, warnings=warnings)
        overall["rows"] = sum_counts([groups[g]["rows"] for g in group_names])
        average = {"groups": len(group_names)}
        for m in ("plcc", "srcc", "krcc"):
            vals = [groups[g][m] for g in group_names]
            average[m] = float(np.mean(vals)) if all(v is not None for v in vals) else None
        average["note"] = "mean of the per-group values, as papers print it"

    inputs = {"predictions": p.info, "ground_truth": gt_info}
    if refs is not None:
        per_row, inputs["references"] = add_rouge(refs, p, index, per_row, groups, overall, failures=failures,
                                                   duplicates=duplicates, stem=stem, id_col=ref_id_col or id_col,
                                                   ref_col=ref_col, warnings=warnings)
    return Report(overall=overall, groups=groups, average=average, settings=settings, inputs=inputs,
                  warnings=warnings, rows=per_row, fits=fits)


def _lower_better_groups(lower_better: bool | Iterable[str], names: list[str]) -> set[str]:
    if isinstance(lower_better, bool):
        return set(names) if lower_better else set()
    wanted = set(lower_better)
    unknown = wanted - set(names)
    if unknown:
        raise UserError(f"--lower-better-for names unknown groups {', '.join(sorted(unknown))}; "
                        f"groups are: {', '.join(names)}")
    return wanted
