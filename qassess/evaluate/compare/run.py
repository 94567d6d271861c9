"""`compare()`: load, join, score each group, pool, add ROUGE-1; the one entry point."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from qassess.evaluate import metrics
from qassess.evaluate.compare.join import PredIndex, arrow, id_keys, join_ground_truth
from qassess.evaluate.compare.load import GroundTruth, Predictions, ground_truth_sources, load_ground_truth, load_predictions
from qassess.evaluate.compare.references import add_rouge, match_references
from qassess.evaluate.compare.result import Report
from qassess.evaluate.compare.scores import group_metrics, pooled, sum_counts
from qassess.io.tables import Source
from qassess.errors import UserError

FAILURE_POLICIES = ("exclude", "worst", "error")

DUPLICATE_POLICIES = ("first", "mean", "error")


def compare(preds: Source | list[Source], ground_truth: GroundTruth = None, refs: Source | None = None, *,
            id_col: str | None = None, pred_id_col: str | None = None, gt_id_col: str | None = None,
            ref_id_col: str | None = None, pred_col: str | None = None, gt_col: str | None = None,
            group_col: str | None = None, ref_col: str | None = None, fit: str | None = None,
            lower_better: bool | Iterable[str] = False, failures: str = "exclude", worst_score: float = 1.0,
            duplicates: str = "first", bootstrap: int = 0, seed: int = 0, stem: bool = False,
            min_rows: int = 3, semantic: bool = False, semantic_model: str | None = None,
            semantic_threshold: float | None = None, baseline: Source | list[Source] | None = None) -> Report:
    """Compare predictions (one source, or a list pooled into one) with ground truth (one or several
    named files) and optional references.

    Raises UserError for anything the user must fix: unknown columns, non-numeric scores, fewer than
    `min_rows` usable rows in a group, failures under `failures="error"`, duplicates under
    `duplicates="error"`, a fit name that does not exist. `semantic` adds the embedding similarity and
    the quality-attribute agreement of `qassess.evaluate.compare.meaning` beside ROUGE-1 (needs `refs`).
    `baseline` (predictions of another model) adds `paired`: new - baseline on the images both rated, with
    paired bootstrap intervals from `bootstrap` resamples (1000 when 0), see `compare.paired`.
    """
    fit = _check_options(fit, failures, duplicates, bootstrap)
    if semantic and refs is None:
        raise UserError("--semantic compares the generated text with reference texts: give --refs")
    preds = _pooled_predictions(preds)
    sources = ground_truth_sources(ground_truth)
    if not sources and refs is None:
        raise UserError("nothing to compare with: give a ground-truth file or --refs")
    from qassess.evaluate.compare.choices import choice_sources, compare_choices

    if sources and choice_sources(sources):
        return compare_choices(preds, sources, failures=failures, duplicates=duplicates, bootstrap=bootstrap,
                               seed=seed, ignored={"--refs": refs is not None, "--fit": fit, "--lower-better":
                                                   bool(lower_better), "--semantic": semantic,
                                                   "--pred-col/--gt-col": pred_col or gt_col,
                                                   "--id-col": id_col or pred_id_col or gt_id_col,
                                                   "--group-col": group_col, "--baseline": baseline is not None})
    warnings: list[str] = []
    p = load_predictions(preds, id_col=pred_id_col or id_col, pred_col=pred_col, group_col=group_col,
                         want_text=refs is not None, warnings=warnings)
    index = PredIndex(p.frame, duplicates, p.table.source)
    joined, gt_info = _join_all(p, index, sources, id_col=gt_id_col or id_col, gt_col=gt_col, group_col=group_col,
                                duplicates=duplicates, warnings=warnings)
    group_names = [str(g) for g in pd.unique(joined["group"].to_numpy(dtype=object))] if len(joined) else []
    lower = _lower_better_groups(lower_better, group_names)

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
    overall, average = _across_groups(groups, per_row, lower, fit=fit, bootstrap=bootstrap, seed=seed,
                                      warnings=warnings)

    inputs = {"predictions": p.info, "ground_truth": gt_info}
    if refs is not None:
        match = match_references(refs, index, failures=failures, duplicates=duplicates,
                                 id_col=ref_id_col or id_col, ref_col=ref_col, warnings=warnings)
        inputs["references"] = match.info
        per_row = add_rouge(match, per_row, groups, overall, stem=stem)
        if semantic:
            from qassess.evaluate.compare.meaning import add_meaning

            per_row, inputs["semantic_model"] = add_meaning(match, per_row, groups, overall, model=semantic_model,
                                                            threshold=semantic_threshold)
    settings = {
        "fit": fit or "none", "plcc": fit or "raw (no mapping)", "failures": failures,
        "worst_score": worst_score if failures == "worst" else None, "duplicates": duplicates,
        "lower_better": sorted(lower),
        "bootstrap": {"n_resamples": bootstrap, "seed": seed, "method": "percentile", "confidence": 0.95}
        if bootstrap else None,
        "rouge": {"stem": stem, "lowercase": True, "generated": "caption + ' ' + reasoning"}
        if refs is not None else None,
    }
    if semantic:
        from qassess.evaluate.compare.meaning import settings as meaning_settings

        settings["semantic"] = meaning_settings(semantic_threshold)
    report = Report(overall=overall, groups=groups, average=average, settings=settings, inputs=inputs,
                    warnings=warnings, rows=per_row, fits=fits)
    if baseline is not None:
        _add_baseline(report, baseline, ground_truth, bootstrap=bootstrap, seed=seed, min_rows=min_rows,
                      options=dict(id_col=id_col, pred_id_col=pred_id_col, gt_id_col=gt_id_col, pred_col=pred_col,
                                   gt_col=gt_col, group_col=group_col, fit=fit, lower_better=lower_better,
                                   failures=failures, worst_score=worst_score, duplicates=duplicates))
    return report


def _add_baseline(report: Report, baseline: Source | list[Source], ground_truth: GroundTruth, *, bootstrap: int,
                  seed: int, min_rows: int, options: dict[str, Any]) -> None:
    """The baseline joined to the same ground truth under the same options, then paired with the report."""
    from qassess.evaluate.compare.paired import paired_report

    if not ground_truth_sources(ground_truth):
        raise UserError("--baseline compares ratings with ground truth: give a ground-truth file")
    try:
        base = compare(baseline, ground_truth, min_rows=min_rows, seed=seed, **options)
    except UserError as exc:
        raise UserError(f"--baseline: {exc}") from None
    source = base.inputs["predictions"]["source"]
    report.warnings.extend(f"baseline: {w}" for w in base.warnings)
    report.inputs["baseline"] = base.inputs["predictions"]
    report.paired = paired_report(report, base, n=bootstrap or 1000, seed=seed, baseline_source=source)


def _pooled_predictions(preds: Source | list[Source]) -> Source:
    """Several prediction sources (e.g. the shards of one run) as one table; duplicated ids across them
    are then handled by the `duplicates` policy like any other."""
    if not isinstance(preds, (list, tuple)):
        return preds
    if not preds:
        raise UserError("no prediction file given")
    if len(preds) == 1:
        return preds[0]
    from qassess.io.tables import read_table

    return pd.concat([read_table(p).frame for p in preds], ignore_index=True, sort=False)


def _check_options(fit: str | None, failures: str, duplicates: str, bootstrap: int) -> str | None:
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
    return fit


def _join_all(p: Predictions, index: PredIndex, sources: dict[str, Source], *, id_col: str | None,
              gt_col: str | None, group_col: str | None, duplicates: str,
              warnings: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every ground-truth file joined with the predictions, and which predictions matched nothing."""
    pf = p.frame
    empty_ids = int(id_keys(pf["id"], "path").null_count)
    parts: list[pd.DataFrame] = []
    gt_info: dict[str, Any] = {}
    matched = np.zeros(len(pf), dtype=bool)
    for name, src in sources.items():
        gframe, info = load_ground_truth(name, src, id_col=id_col, gt_col=gt_col, group_col=group_col,
                                         warnings=warnings)
        part = join_ground_truth(name, gframe, info, index, duplicates, warnings)
        parts.append(part)
        matched[part["_row"].to_numpy()] = True
        if info["duplicate_pred_rows"]:  # rows dropped as duplicates of a matched key are matched too
            pa, pc = arrow()
            keys = pa.array(part["key"], type=pa.large_string())
            same = pc.is_in(id_keys(pf["id"], info["match_by"]), value_set=keys)
            matched |= pc.fill_null(same, False).to_numpy(zero_copy_only=False)
        gt_info[name] = info
    if group_col and not p.info.get("group_col") and not any(i.get("group_col") for i in gt_info.values()):
        raise UserError(f"--group-col {group_col!r} is in neither the predictions nor the ground truth")
    p.info.update(empty_ids=empty_ids, unmatched=int((~matched).sum()) if sources else None,
                  unmatched_examples=[str(v) for v in pf["id"].to_numpy()[~matched][:5]] if sources else [])
    if sources and p.info["unmatched"]:
        warnings.append(f"{p.info['unmatched']} of {len(pf)} predictions match no ground-truth row "
                        f"(e.g. {', '.join(p.info['unmatched_examples'][:3])})")
    if empty_ids:
        warnings.append(f"{empty_ids} prediction rows have an empty id and were skipped")
    if not parts:
        return pd.DataFrame(), gt_info
    return (parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)), gt_info


def _across_groups(groups: dict[str, dict[str, Any]], per_row: pd.DataFrame | None, lower: set[str], *,
                   fit: str | None, bootstrap: int, seed: int,
                   warnings: list[str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The `overall` entry (the group itself when there is one; else all rows pooled) and the
    `average` row the papers print (mean of the per-group correlations)."""
    names = list(groups)
    if not names:
        return {}, None
    if len(names) == 1:
        return dict(groups[names[0]]), None
    overall = pooled(per_row, lower, names, fit=fit, bootstrap=bootstrap, seed=seed, warnings=warnings)
    overall["rows"] = sum_counts([groups[g]["rows"] for g in names])
    average: dict[str, Any] = {"groups": len(names)}
    for m in ("plcc", "srcc", "krcc"):
        values = [groups[g][m] for g in names]
        average[m] = float(np.mean(values)) if all(v is not None for v in values) else None
    average["note"] = "mean of the per-group values, as papers print it"
    return overall, average


def _lower_better_groups(lower_better: bool | Iterable[str], names: list[str]) -> set[str]:
    if isinstance(lower_better, bool):
        return set(names) if lower_better else set()
    wanted = set(lower_better)
    unknown = wanted - set(names)
    if unknown:
        raise UserError(f"--lower-better-for names unknown groups {', '.join(sorted(unknown))}; "
                        f"groups are: {', '.join(names)}")
    return wanted
