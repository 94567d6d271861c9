"""Verdicts found in a text (`Mention`) and how a model's verdicts compare with a human's (`Agreement`).

Apart from the reading rules (qassess/evaluate/attributes.py) because the comparison is a policy of
its own: which disagreements count, and how repeated mentions of one attribute are weighed.
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


def agreement(human: dict[str, str], model: dict[str, str], human_degrees: dict[str, int] | None = None,
              model_degrees: dict[str, int] | None = None) -> Agreement:
    """Compare verdicts; "mixed" on either side is neither a match nor a contradiction. Two "bad"
    verdicts whose stated degrees are DEGREE_GAP or more apart ("slight" vs "severe") disagree in degree."""
    hd, md = human_degrees or {}, model_degrees or {}
    h = {a: v for a, v in human.items() if v in (GOOD, BAD)}
    m = {a: v for a, v in model.items() if v in (GOOD, BAD)}
    out = Agreement(human=dict(human), model=dict(model))
    for a, v in sorted(h.items()):
        if a not in m:
            out.missed.append(a)
        elif m[a] == v and a in hd and a in md and abs(hd[a] - md[a]) >= DEGREE_GAP:
            out.degree_off.append(a)
        elif m[a] == v:
            out.matched.append(a)
        else:
            out.contradicted.append(a)
    out.extra = sorted(a for a in m if a not in h)
    return out

