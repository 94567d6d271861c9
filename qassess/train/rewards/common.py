"""What every reward reads: the text of a TRL completion and a dataset column checked against the batch.

Kept apart from the registry (`qassess.train.rewards`) so that rewards in their own modules need not
import it back.
"""
from __future__ import annotations

from typing import Any

from qassess.core.parsing import parse_completion


def completion_text(completion: Any) -> str:
    """The assistant text of one TRL completion (a string, or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else ""
        if isinstance(content, list):  # structured blocks
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content or ""
    return ""


def stated_ratings(completions) -> list[float | None]:
    """The rating each completion's <answer> states (None: none parsed), as every score reward reads it."""
    return [parse_completion(completion_text(c)).rating for c in completions]


def column(kwargs: dict, name: str, n: int) -> list:
    values = kwargs.get(name)
    if values is None:
        raise ValueError(f"reward needs the dataset column {name!r}; columns given: {sorted(kwargs)}")
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return list(values)
