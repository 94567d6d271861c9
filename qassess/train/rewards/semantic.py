"""The `semantic` GRPO reward: agreement in meaning with the human reference instead of shared words.

    mode: embedding    cosine of the completion's caption + think to the reference (`measure`:
                       similarity, sentence_recall or sentence_soft; see qassess.evaluate.semantic)
    mode: attributes   quality-attribute agreement (qassess.evaluate.attributes): (1 + score) / 2, where score =
                       (attributes judged as the human does - attributes contradicted) / human verdicts

Conventions of the `reasoning` reward: the dataset column `reference` per row; a row without a reference
(or, in attributes mode, whose reference states no attribute verdict), or an empty completion, earns
`floor`, and no value falls below it. The embedding model loads at the first call and is kept for the
process (one load per training run); all completions of a batch are embedded in one call.
"""
from __future__ import annotations

import time
from typing import Any

from qassess.evaluate import attributes, semantic
from qassess.errors import UserError
from qassess.core.parsing import extract_block

MODES = ("embedding", "attributes")
SCOPES = ("completion", "caption_think")


def scoped_text(text: str, scope: str) -> str:
    """The part of a completion that is compared: all of it, or its caption and think blocks."""
    if scope == "completion":
        return text
    parts = (extract_block(text, "caption"), extract_block(text, "think"))
    return " ".join(p for p in parts if p)


def make_reward(mode: str = "embedding", measure: str = "similarity", floor: float = 0.1,
                scope: str = "caption_think", model: str | None = None,
                threshold: float = semantic.DEFAULT_THRESHOLD):
    """A TRL reward function `(completions, reference=..., **columns) -> list[float]` (see the module)."""
    from qassess.train.rewards.common import column as read_column, completion_text

    if mode not in MODES:
        raise UserError(f"semantic reward: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if measure not in semantic.MEASURES:
        raise UserError(f"semantic reward: measure must be one of {', '.join(semantic.MEASURES)}, got {measure!r}")
    if scope not in SCOPES:
        raise UserError(f"semantic reward: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not 0 < threshold <= 1:
        raise UserError(f"semantic reward: threshold must be in (0, 1], got {threshold}")
    if mode == "embedding" and model:
        semantic.check_model_path(model)  # a wrong path fails when the recipe is read, not at step 1
    column = semantic.MEASURES.index(measure)

    def semantic_(completions, **kwargs) -> list[float | None]:
        references = [(r or "").strip() for r in read_column(kwargs, "reference", len(completions))]
        texts = [scoped_text(completion_text(c), scope).strip() for c in completions]
        todo = [i for i, (r, t) in enumerate(zip(references, texts)) if r and t]
        rewards: list[float | None] = [floor] * len(completions)
        started = time.perf_counter()
        if todo and mode == "embedding":
            values = semantic.measure(semantic.load_embedder(model), [references[i] for i in todo],
                                      [texts[i] for i in todo], threshold=threshold)[:, column]
            for i, v in zip(todo, values):
                rewards[i] = max(floor, float(v))
        elif todo:
            for i in todo:
                score = attributes.compare_texts(texts[i], references[i]).score
                if score is not None:
                    rewards[i] = max(floor, (1.0 + score) / 2.0)
        log_metric: Any = kwargs.get("log_metric")
        if log_metric is not None:
            log_metric("semantic/seconds", time.perf_counter() - started)
        return rewards

    semantic_.__name__ = "semantic"
    return semantic_
