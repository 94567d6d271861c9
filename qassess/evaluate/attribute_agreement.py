"""Verdicts found in a text (`Mention`) and how a model's verdicts compare with a human's (`Agreement`).

Apart from the reading rules (qassess/evaluate/attributes.py) because the comparison is a policy of
its own: which disagreements count, and how repeated mentions of one attribute are weighed.

Mention by mention (`compare_mentions`), not by a vote per attribute: a note that calls the image
sharp twice and a text that keeps one of those and turns the other into "blurry" disagree, although a
count of good and bad mentions would say "mixed" or even "good". Each of the human's mentions is
paired with the model's mention of the same attribute whose surroundings are most alike (the words of
its sentence, its nearest neighbours, where in the sentence it sits: a one-word flip keeps all three,
a paraphrase most of them); an attribute is contradicted when any pair has opposite polarities.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qassess.evaluate.attribute_lexicon import BAD, DEGREE_GAP, GOOD

@dataclass(frozen=True)
class Mention:
    """One cue found in a text: its attribute, polarity (None: no verdict) and the reason."""

    attribute: str
    polarity: str | None
    phrase: str
    why: str
    degree: int | None = None  # of a fault: 1 slight .. 3 heavy (DEGREES), None when unstated
    place: Place | None = field(default=None, compare=False)  # where it sits, to pair it across texts
    side: str | None = None  # of a two-sided fault (lexicon OVER): "over" (too bright) or "under" (too dark)


@dataclass(frozen=True)
class Place:
    """A mention's surroundings: the content words of its sentence (cue and evaluative words left out,
    as a flip or a synonym changes them), the words right beside it, its relative position there."""

    words: frozenset[str]
    near: frozenset[str]
    where: float

    def likeness(self, other: Place) -> float:
        def share(a: frozenset[str], b: frozenset[str]) -> float:
            return len(a & b) / len(a | b) if a or b else 0.0
        return share(self.words, other.words) + 0.5 * share(self.near, other.near) - 0.1 * abs(self.where - other.where)


@dataclass
class Agreement:
    """How a model's verdicts compare with the human's, on the attributes the human judged."""

    matched: list[str] = field(default_factory=list)
    contradicted: list[str] = field(default_factory=list)
    degree_off: list[str] = field(default_factory=list)  # both say bad, DEGREE_GAP or more levels apart
    missed: list[str] = field(default_factory=list)  # judged by the human, not by the model
    extra: list[str] = field(default_factory=list)  # judged by the model only (not counted as wrong)
    human: dict[str, str] = field(default_factory=dict)
    model: dict[str, str] = field(default_factory=dict)

    @property
    def precision(self) -> float | None:
        """Of the model's verdicts on attributes the human judged, the share that agree (in degree too)."""
        n = len(self.matched) + len(self.contradicted) + len(self.degree_off)
        return len(self.matched) / n if n else None

    @property
    def judged(self) -> int:
        """Attributes the human judged (the denominator of recall and score)."""
        return len(self.matched) + len(self.contradicted) + len(self.degree_off) + len(self.missed)

    @property
    def recall(self) -> float | None:
        """Of the human's verdicts, the share the model restates with the same polarity and degree."""
        return len(self.matched) / self.judged if self.judged else None

    @property
    def score(self) -> float | None:
        """(matched - contradicted) / human verdicts, in [-1, 1]: recall with contradictions paying (a
        disagreement of degree earns nothing and costs nothing)."""
        return (len(self.matched) - len(self.contradicted)) / self.judged if self.judged else None

    def detail(self) -> str:
        """One readable line: human and model verdicts, and which disagree."""
        def show(d: dict[str, str]) -> str:
            return ",".join(f"{a}={v}" for a, v in sorted(d.items())) or "-"
        return (f"human {show(self.human)} | model {show(self.model)}"
                + (f" | contradicted {','.join(self.contradicted)}" if self.contradicted else "")
                + (f" | degree off {','.join(self.degree_off)}" if self.degree_off else ""))


# Attributes the notes use for one another: "unclear what it shows" and "hard to make out", "clearly
# visible" and "sharp". When the model does not judge an attribute the human judged, its verdicts on a
# sibling the human did not judge stand in (compare_mentions); where both are judged each keeps its own.
SIBLINGS = {"intent": ("subject_clarity",), "subject_clarity": ("intent", "sharpness"),
            "sharpness": ("subject_clarity",)}

FALLBACKS = ("lenient", "majority", "strict")
FALLBACK = "lenient"  # chosen on the dev split (docs/attributes.md)


def _pair(h: Mention, candidates: list[Mention], fallback: str, by_place: bool = True) -> Mention | None:
    """The model mention that restates `h`: the likeliest by place; when no candidate shares anything
    with it (different sentences altogether), by `fallback`: lenient takes one of the same polarity if
    any, strict one of the opposite, majority the polarity most of the candidates have."""
    if by_place and h.place is not None and all(c.place is not None for c in candidates):
        scored = [(h.place.likeness(c.place), c) for c in candidates]  # type: ignore[arg-type]
        best = max(s for s, _ in scored)
        if best > 0:
            return next(c for s, c in scored if s == best)
    same = [c for c in candidates if c.polarity == h.polarity]
    other = [c for c in candidates if c.polarity != h.polarity]
    if fallback == "strict":
        return (other or same)[0]
    if fallback == "majority":
        return same[0] if len(same) >= len(other) else other[0]
    return (same or other)[0]


def _pairs(hs: list[Mention], candidates: list[Mention], fallback: str) -> list[tuple[Mention, Mention]]:
    """Each human mention with the model mention that restates it, one to one while both sides last
    (the most alike pairs first): two human mentions may not both claim the model's one agreeing
    mention and leave its flipped one unread. Left-over human mentions pair as `_pair` says among the
    model mentions not taken; when every model mention is taken (the model said it fewer times, as a
    summary does), by polarity alone: the nearest word may be the note's other, opposite verdict."""
    scored = sorted(((h.place.likeness(c.place), i, k) for i, h in enumerate(hs) for k, c in enumerate(candidates)
                     if h.place is not None and c.place is not None), key=lambda t: (-t[0], t[1], t[2]))
    chosen: dict[int, Mention] = {}
    taken: set[int] = set()
    for likeness, i, k in scored:
        if likeness <= 0:
            break
        if i not in chosen and k not in taken:
            chosen[i] = candidates[k]
            taken.add(k)
    rest = [c for k, c in enumerate(candidates) if k not in taken]
    if not rest:  # the model said it fewer times (a summary): any of its mentions may restate the rest
        return [(h, chosen[i] if i in chosen else _pair(h, candidates, fallback, by_place=False))
                for i, h in enumerate(hs)]
    return [(h, chosen[i] if i in chosen else _pair(h, rest, fallback)) for i, h in enumerate(hs)]


def compare_mentions(human: list[Mention], model: list[Mention], fallback: str = FALLBACK) -> Agreement:
    """Agreement per attribute the human judged, from its mentions: contradicted when any of them is
    restated with the opposite polarity or as the opposite fault ("too bright" for "too dark"), off in
    degree when a fault is restated DEGREE_GAP or more levels apart, matched otherwise, missed when the
    model does not judge the attribute at all."""
    out = Agreement(human=_tally(human), model=_tally(model))
    judged = sorted({m.attribute for m in human if m.polarity in (GOOD, BAD)})
    for a in judged:
        candidates = [m for m in model if m.attribute == a and m.polarity in (GOOD, BAD)]
        if not candidates:  # a sibling the human left alone stands in ("hard to make out" for "unclear what")
            candidates = [m for m in model if m.attribute in SIBLINGS.get(a, ()) and m.attribute not in judged
                          and m.polarity in (GOOD, BAD)]
        if not candidates:
            out.missed.append(a)
            continue
        pairs = _pairs([h for h in human if h.attribute == a and h.polarity in (GOOD, BAD)], candidates, fallback)
        if any(m.polarity != h.polarity or (h.side and m.side and h.side != m.side) for h, m in pairs):
            out.contradicted.append(a)
        elif any(h.degree is not None and m.degree is not None and abs(h.degree - m.degree) >= DEGREE_GAP
                 for h, m in pairs):
            out.degree_off.append(a)
        else:
            out.matched.append(a)
    out.extra = sorted({m.attribute for m in model if m.polarity in (GOOD, BAD)} - set(judged))
    return out


def _tally(found: list[Mention]) -> dict[str, str]:
    """{attribute: good | bad | mixed} by a count of mentions, for the readable line only."""
    counts: dict[str, list[int]] = {}
    for m in found:
        if m.polarity in (GOOD, BAD):
            counts.setdefault(m.attribute, [0, 0])[m.polarity == BAD] += 1
    return {a: GOOD if g > b else BAD if b > g else "mixed" for a, (g, b) in counts.items()}
