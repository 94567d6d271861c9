"""`compare` on pairs: a model's verdicts against human-choice tables, read and reported like scores.

The ground truth decides the path: a table with columns a, b and winner or p_a is human choices, and then
the predictions must be verdicts (a score file against choices, or verdicts against scores, is a mistake
worth one clear line, not an empty report)."""
from __future__ import annotations

from typing import Any

import pandas as pd

from qassess.errors import UserError
from qassess.evaluate.compare import twoafc
from qassess.evaluate.compare.result import Report
from qassess.io.tables import Source, read_table


def columns_of(source: Source) -> list[str]:
    """A table's column names, reading one column only (a wide ground-truth table stays cheap)."""
    seen: list[str] = []

    def select(columns: list[str], headerless: bool) -> dict[str, str]:
        seen[:] = [str(c) for c in columns]
        return {columns[0]: "text"} if columns else {}

    read_table(source, select)
    return seen


def choice_sources(sources: dict[str, Source]) -> bool:
    """Whether the ground truth is human choices; a mix of choice and score tables is refused."""
    kinds = {name: twoafc.is_pair_table(columns_of(src)) for name, src in sources.items()}
    if len(set(kinds.values())) > 1:
        choices = [n for n, k in kinds.items() if k]
        scores = [n for n, k in kinds.items() if not k]
        raise UserError(f"the ground truth mixes human-choice tables ({', '.join(choices)}) with score tables "
                        f"({', '.join(scores)}): compare verdicts and scores in separate runs")
    return bool(kinds) and all(kinds.values())


def compare_choices(preds: Source, sources: dict[str, Source], *, failures: str, duplicates: str, bootstrap: int,
                    seed: int, ignored: dict[str, Any]) -> Report:
    """The 2AFC report: per human table (a group) accuracy with its interval, position flips, failures."""
    given = [option for option, value in ignored.items() if value]
    if given:
        raise UserError(f"{', '.join(given)} apply to scores, not to 2AFC verdicts against human choices")
    table = read_table(preds, raw=True)
    if table.frame.empty:
        raise UserError(f"{table.source}: no verdict rows")
    if not twoafc.is_pair_table(table.frame.columns):
        raise UserError(f"{table.source}: the ground truth is human choices, so the predictions must be pair "
                        "verdicts (columns a, b and winner or p_a, as `qassess pairs` writes them); columns are: "
                        f"{', '.join(map(str, table.frame.columns))}")
    model = twoafc.model_verdicts(table.frame, table.source, table.origins)
    warnings = list(table.notes)
    groups: dict[str, dict[str, Any]] = {}
    infos: dict[str, Any] = {}
    parts = []
    for name, src in sources.items():
        gt = read_table(src, raw=True)
        warnings += gt.notes
        if gt.frame.empty:
            raise UserError(f"{gt.source}: no human-choice rows")
        human = twoafc.human_choices(gt.frame, gt.source, gt.origins)
        groups[name], shown, info = twoafc.score_group(name, model, human, failures=failures, duplicates=duplicates,
                                                       bootstrap=bootstrap, seed=seed, source=table.source)
        infos[name] = {"source": gt.source, "rows": len(gt.frame), **info}
        if info["unmatched_gt"]:
            warnings.append(f"{name}: {info['unmatched_gt']} of {info['pairs']} human pairs have no verdict "
                            f"(matched by {info['match_by']}, either order)")
        if info["duplicate_pred_rows"]:
            warnings.append(f"{name}: {info['duplicate_pred_rows']} duplicated verdicts of one pair ({duplicates} kept)")
        parts.append(shown)
    rows = pd.concat(parts, ignore_index=True)
    overall, average = twoafc.across_groups(groups, rows, bootstrap=bootstrap, seed=seed)
    n = bootstrap or twoafc.RESAMPLES
    settings = {"kind": "2afc", "failures": failures, "duplicates": duplicates,
                "bootstrap": {"n_resamples": n, "seed": seed, "method": "percentile", "confidence": 0.95},
                "agreement": "h for a pick of a, 1 - h for b, 1/2 for a tie (h: share of people preferring a)"}
    inputs = {"predictions": {"source": table.source, "rows": len(table.frame),
                              "failed": int(model["failed"].sum())}, "ground_truth": infos}
    return Report(overall=overall, groups=groups, average=average, settings=settings, inputs=inputs,
                  warnings=warnings, rows=rows)
