"""Reading `<caption>`, `<think>` and `<answer>` out of model text.

Only a rating the model actually stated inside `<answer>` counts: anything else is a parse error with a
reason, never a guessed or default score (peers stored -1 or a random value and polluted correlations).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

SCALE = (1.0, 5.0)

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_KEYED = re.compile(r"""\b(?:rating|score)\b["']?\s*(?:[:=]|\bis\b:?|\bof\b)\s*["']?(""" + _NUMBER + ")", re.I)
_BARE = re.compile(r"^\s*(" + _NUMBER + r")\s*(?:/\s*5(?:\.0+)?|out of 5)?\s*\.?\s*$", re.I)
_TAGS = ("caption", "think", "answer")


@dataclass(frozen=True)
class Parsed:
    caption: str | None
    reasoning: str | None
    rating: float | None
    status: str  # "ok" | "parse_error"
    error: str | None = None
    # Where the stated number sits in the completion (start, end character offsets), so its tokens'
    # probabilities can be read (qassess.core.rating_probs); None when the rating is not a literal number.
    span: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def block_span(text: str, tag: str) -> tuple[int, int] | None:
    """Character span of the block `extract_block` reads (content only, unstripped)."""
    closed = list(re.finditer(rf"<{tag}>(.*?)</{tag}>", text, re.S | re.I))
    if closed:
        return closed[-1].span(1)
    opened = re.search(rf"<{tag}>(.*)", text, re.S | re.I)
    if not opened:
        return None
    start = opened.start(1)
    stop = re.search(r"</?(?:%s)>" % "|".join(_TAGS), text[start:], re.I)
    return start, (start + stop.start() if stop else len(text))


def extract_block(text: str, tag: str) -> str | None:
    """The last complete `<tag>...</tag>` block; an unclosed final block (generation cut off) counts
    up to the next known tag or the end. None when absent, stripped text otherwise."""
    span = block_span(text, tag)
    return None if span is None else text[span[0]:span[1]].strip()


def parse_rating(answer: str, scale: tuple[float, float] = SCALE) -> tuple[float | None, str | None]:
    """(rating, None) or (None, why). Accepts JSON `{"rating": x}` (x may be a string), `rating: x`,
    or an answer that is only a number (optionally `/5`)."""
    value = _json_rating(answer)
    if value is None:
        keyed = _KEYED.findall(answer)
        if len(set(keyed)) > 1:
            return None, f"several ratings in <answer>: {', '.join(dict.fromkeys(keyed))}"
        if keyed:
            value = keyed[0]
        else:
            bare = _BARE.match(answer)
            if not bare:
                return None, f"no rating in <answer>: {_clip(answer)!r}"
            value = bare.group(1)
    try:
        rating = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None, f"rating is not a number: {_clip(str(value))!r}"
    if not math.isfinite(rating):
        return None, f"rating is not finite: {value}"
    lo, hi = scale
    if not lo <= rating <= hi:
        return None, f"rating {rating:g} outside [{lo:g}, {hi:g}]"
    return rating, None


def _json_rating(answer: str) -> object | None:
    for match in re.finditer(r"\{.*?\}", answer, re.S):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            try:  # single-quoted pseudo-JSON is common in model text
                data = json.loads(match.group(0).replace("'", '"'))
            except json.JSONDecodeError:
                continue
        if isinstance(data, dict):
            for key, value in data.items():
                if str(key).strip().lower() in ("rating", "score") and isinstance(value, (int, float, str)):
                    if not isinstance(value, bool):
                        return value
    return None


def parse_completion(text: str | None, scale: tuple[float, float] = SCALE) -> Parsed:
    """Caption, reasoning and rating from one completion; missing caption/think blocks are tolerated,
    a missing or unusable rating is a parse error."""
    if text is None or not text.strip():
        return Parsed(None, None, None, "parse_error", "empty output")
    caption = extract_block(text, "caption") or None
    reasoning = extract_block(text, "think") or None
    answer = extract_block(text, "answer")
    if answer is None:
        return Parsed(caption, reasoning, None, "parse_error", "no <answer> block")
    rating, why = parse_rating(answer, scale)
    if rating is None:
        return Parsed(caption, reasoning, None, "parse_error", why)
    start = block_span(text, "answer")[0]
    found = number_span(text[start:start + len(text)], rating)
    span = None if found is None else (start + found[0], start + found[1])
    return Parsed(caption, reasoning, rating, "ok", None, span)


def number_span(answer: str, rating: float) -> tuple[int, int] | None:
    """Span of the literal that states `rating` in an answer (the keyed form first, then a bare number).
    The span covers digits and a decimal point or comma only: no sign, exponent or quotes."""
    answer = answer.split("</answer>", 1)[0]
    for match in [*_KEYED.finditer(answer), *(m for m in [_BARE.match(answer)] if m)]:
        literal = match.group(1)
        try:
            same = float(literal.replace(",", ".")) == rating
        except ValueError:
            continue
        plain = re.fullmatch(r"\d+(?:[.,]\d+)?", literal)
        if same and plain:
            return match.span(1)
    return None


def matches_format(text: str, blocks: tuple[str, ...] = _TAGS) -> bool:
    """Strict layout check (the format reward): exactly these blocks, in order, nothing around them."""
    pattern = r"\s*".join(rf"<{b}>.*?</{b}>" for b in blocks)
    return re.fullmatch(r"\s*" + pattern + r"\s*", text or "", re.S) is not None


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
