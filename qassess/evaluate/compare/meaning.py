"""`compare --semantic`: agreement in meaning with the references, beside ROUGE-1.

Two families, per matched row and averaged like ROUGE-1 (per group and overall):

    semantic     embedding cosine of the whole texts, and the share of the reference's sentences that a
                 generated sentence matches (qassess.evaluate.semantic)
    attributes   quality-attribute verdicts (sharp/blurry, noisy/clean, ...) of the model against the
                 human's: precision, recall, contradictions counted apart (qassess.evaluate.attributes)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate import attributes, semantic
from qassess.evaluate.compare.references import Matched, fill

ATTRIBUTE_COLUMNS = ("score", "precision", "recall", "contradictions", "matched", "human_verdicts")


def settings(threshold: float | None) -> dict[str, Any]:
    return {"threshold": semantic.DEFAULT_THRESHOLD if threshold is None else threshold,
            "similarity": "cosine of the two texts' embeddings",
            "sentence_recall": "share of reference sentences whose best cosine to a generated sentence >= threshold",
            "attributes": list(attributes.ATTRIBUTES),
            "human_verdicts": "good_aspect / bad_aspect split when the references have it, else the reference text",
            "attribute_summary": "pooled over rows: precision = matched / (matched + contradicted), "
                                 "recall = matched / human verdicts"}


def attribute_rows(match: Matched) -> tuple[np.ndarray, list[str]]:
    """Per scored row: the ATTRIBUTE_COLUMNS values, and a readable line of both sides' verdicts."""
    values = np.full((len(match.texts), len(ATTRIBUTE_COLUMNS)), np.nan)
    details = []
    for i, text in enumerate(match.texts):
        good = match.good[i] if match.good is not None else None
        bad = match.bad[i] if match.bad is not None else None
        a = attributes.compare_texts(text, match.references[i], good, bad)
        judged = a.judged
        values[i] = [np.nan if a.score is None else a.score, np.nan if a.precision is None else a.precision,
                     np.nan if a.recall is None else a.recall, len(a.contradicted), len(a.matched), judged]
        details.append(a.detail())
    return values, details


def _attribute_summary(by_row: np.ndarray, sel: np.ndarray) -> dict[str, Any]:
    v = by_row[sel & (by_row[:, 5] > 0)]  # rows where the human states at least one verdict
    matched, contradicted, judged = v[:, 4].sum(), v[:, 3].sum(), v[:, 5].sum()
    return {"n": int(len(v)),
            "precision": matched / (matched + contradicted) if matched + contradicted else None,
            "recall": matched / judged if judged else None,
            "contradictions": int(contradicted),
            "contradiction_rate": contradicted / judged if judged else None,
            "rows_with_contradiction": int((v[:, 3] > 0).sum()),
            "score": float(v[:, 0].mean()) if len(v) else None,
            "human_verdicts": int(judged)}


def add_meaning(match: Matched, per_row: pd.DataFrame | None, groups: dict[str, dict[str, Any]],
                overall: dict[str, Any], *, model: str | None, threshold: float | None
                ) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """Embedding and attribute measures for every matched row (the model loads once per process)."""
    embedder = semantic.load_embedder(model)
    if not match.texts:
        return per_row, embedder.describe()
    threshold = semantic.DEFAULT_THRESHOLD if threshold is None else threshold
    values = semantic.measure(embedder, match.references, match.texts, threshold=threshold)
    fill(match, values, semantic.MEASURES, "semantic", per_row, groups, overall)
    overall["semantic"]["threshold"] = threshold
    attr_values, details = attribute_rows(match)
    fill(match, attr_values, ATTRIBUTE_COLUMNS, "attributes", per_row, groups, overall, summarize=_attribute_summary)
    if per_row is not None:
        by_row = np.full(match.n_all, None, dtype=object)
        by_row[match.rows] = details
        per_row["attributes_detail"] = by_row[per_row["_row"].to_numpy()]
    return per_row, embedder.describe()
