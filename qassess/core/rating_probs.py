"""Ratings read from the model's own token probabilities, beside the rating it states.

The reasoning models state one sampled number; Q-Align and DeQA-Score showed that the probabilities of
the rating tokens give a better, continuous score. qassess reads them at the point where the model,
after its caption and reasoning, writes its rating, so a row keeps both the explanation and the
distribution. The reading costs nothing extra: the backends record the scores of the ten digit tokens
at every generated step (vLLM `logprob_token_ids`, a forward hook on the transformers LM head).

Support and formula (docs/scoring.md, "Ratings from probabilities"):
- `rating_probs`: P(level = d) for d = 1..5, the softmax of the scores of the tokens "1".."5" at the step
  where the model wrote the integer digit of its rating (renormalised over those five: mass on other
  tokens is not a rating).
- `rating_expected` = sum_d d * P(d) + sum_j 10^-j * E[decimal digit j], for the decimal digits j = 1, 2
  the model wrote (each E over "0".."9" at that step, given the digits before it), clipped to [1, 5].
  A number is several tokens ("3.45" is "3", ".", "4", "5" in Qwen's tokenizers, which split every
  digit): its integer digit carries the level, each written decimal refines it; decimals beyond the
  second change the value by less than 0.01 and are not read.
- No expected rating (None, never made up) when the row has no parseable rating, when the rating is not
  a plain literal (`3e0`), when its integer part has more than one digit, or when the tokenizer does
  not encode each digit as one token.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

DIGITS = "0123456789"
# What stage 2 is given to read its rating in one forward pass (`--self-check-mode prefill`, the
# `self_consistency` reward's `mode: prefill`): the answer opened as the paper's format writes it, after
# an empty reasoning block, so the next token is the rating's integer digit.
STAGE2_ANSWER_PREFIX = '<think>\n</think>\n<answer>\n{"rating": '

LEVELS = (1, 2, 3, 4, 5)
MAX_DECIMALS = 2


def digit_token_ids(tokenizer) -> list[int] | None:
    """Ids of the tokens "0".."9" when each digit is exactly one token, else None."""
    ids = []
    for digit in DIGITS:
        encoded = tokenizer.encode(digit, add_special_tokens=False)
        if len(encoded) != 1 or tokenizer.decode(encoded) != digit:
            return None
        ids.append(int(encoded[0]))
    return ids


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def digit_positions(text: str, span: tuple[int, int]) -> list[int] | None:
    """Character offsets of the integer digit and the decimal digits to read, or None if unsupported."""
    start, end = span
    literal = text[start:end]
    whole, _, decimals = literal.replace(",", ".").partition(".")
    if len(whole) != 1 or not whole.isdigit():
        return None
    return [start] + [start + 2 + j for j in range(min(len(decimals), MAX_DECIMALS))]


def step_at(token_ids: Sequence[int], offset: int, decode: Callable[[Sequence[int]], str]) -> int:
    """The generation step whose token holds character `offset` of the decoded text (-1: none), by binary
    search on the decoded length of token prefixes; callers check the hit, as tokenizers may merge."""
    lo, hi = 0, len(token_ids)
    while lo < hi:  # smallest k with len(decode(ids[:k])) > offset
        mid = (lo + hi) // 2
        if len(decode(token_ids[:mid])) > offset:
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def token_steps(token_ids: Sequence[int], text: str, offsets: Sequence[int],
                decode: Callable[[Sequence[int]], str]) -> list[int] | None:
    """The generation step that wrote each character offset (each must be one whole digit token).

    Binary search on the decoded length of token prefixes; each hit is checked exactly (the prefix
    decodes to the text before the digit, the token to the digit), so a tokenizer that merges digits or
    normalises spaces gives None rather than a wrong step."""
    steps = []
    for offset in offsets:
        step = step_at(token_ids, offset, decode)
        if step < 0 or decode(token_ids[:step]) != text[:offset] or decode(token_ids[step:step + 1]) != text[offset]:
            return None
        steps.append(step)
    return steps


def expected_rating(rows: Sequence[Sequence[float]]) -> tuple[float, list[float]]:
    """(expected rating, P(levels 1..5)) from digit scores: rows[0] at the integer digit, rows[1:] at the
    decimals; each row holds the scores of "0".."9" (log-probabilities or logits: only differences count)."""
    levels = softmax([rows[0][d] for d in LEVELS])
    value = sum(d * p for d, p in zip(LEVELS, levels))
    for j, row in enumerate(rows[1:], start=1):
        value += sum(k * p for k, p in enumerate(softmax(list(row)))) / 10 ** j
    return min(max(value, LEVELS[0]), LEVELS[-1]), levels


def read_completion(text: str, span: tuple[int, int] | None, token_ids: Sequence[int] | None,
                    digit_scores: Sequence[Sequence[float]] | None,
                    decode: Callable[[Sequence[int]], str]) -> tuple[float, list[float]] | None:
    """The expected rating and level distribution of one completion, or None when it cannot be read."""
    if span is None or token_ids is None or digit_scores is None:
        return None
    offsets = digit_positions(text, span)
    if offsets is None:
        return None
    steps = token_steps(token_ids, text, offsets, decode)
    if steps is None or steps[-1] >= len(digit_scores):
        return None
    return expected_rating([digit_scores[s] for s in steps])


def summarize(readings: Sequence[tuple[float, list[float]] | None]) -> dict:
    """Row fields from the readings of a row's samples: means over the samples that could be read."""
    good = [r for r in readings if r is not None]
    if not good:
        return {"rating_expected": None, "rating_probs": None}
    mean = sum(r[0] for r in good) / len(good)
    probs = [sum(r[1][i] for r in good) / len(good) for i in range(len(LEVELS))]
    return {"rating_expected": round(mean, 4), "rating_probs": [round(p, 6) for p in probs]}
