"""Quality-attribute verdicts read from text, and how far a model's verdicts agree with a human's.

Human quality notes judge a few low-level attributes (is it sharp, noisy, well exposed, ...). For each
text this module finds which attributes it mentions and with which polarity, by a small documented
lexicon plus rules, so every verdict can be traced to the words that made it (`mentions`):

  * cue phrases per attribute, each good ("crisp"), bad ("blurry") or neutral ("focus", "colors");
    the longest phrase wins ("out of focus" before "focus"); British spellings are folded ("colour");
  * a neutral cue takes the polarity of the nearest evaluative word in its clause ("the colors are poor",
    "good contrast"), itself flipped when negated ("focus is not good") or intensified ("overly strong");
  * negation: "no", "not", "without", "lacks", "loss of", "free of" ... flip the first cue within three
    words after them, and the cues listed right after it ("no blur, noise or compression"); "noise-free"
    likewise; a negated neutral cue is bad ("loss of contrast", "lacks focus");
  * "too" / "overly" before a good cue makes it bad ("too bright"); so does a wish ("could be sharper");
  * "clear", "visible" count only when predicated ("the subject is clear", not "a clear sky", "visible
    blocks");
  * beside the hand-made cues, WordNet's (qassess/evaluate/wordnet_cues.py, generated) and the adverb of
    every one-word cue ("fuzzily"); the hand-made list wins where both name a word;
  * a fault's degree on an ordered scale (DEGREES: "slight" 1 .. "severe" 3): two "bad" verdicts
    DEGREE_GAP apart disagree in degree; "minimal noise", "barely any blur" say the fault is absent.

The human verdict uses the Q-Reasoning split when it exists: a cue without polarity of its own counts as
good in `good_aspect` and bad in `bad_aspect` (explicit polarity still wins: "not sharp" in good_aspect
is bad); without the split, only explicit polarities count. It is a lexicon: it misses what it has no
words for and can be fooled by irony or unusual phrasing; the per-row output shows what it read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from qassess.evaluate.wordnet_cues import CUES as WORDNET

GOOD, BAD = "good", "bad"


@dataclass(frozen=True)
class Attribute:
    about: str
    good: tuple[str, ...] = ()
    bad: tuple[str, ...] = ()
    neutral: tuple[str, ...] = ()


ATTRIBUTES: dict[str, Attribute] = {
    "sharpness": Attribute(
        "focus, blur, fine detail",
        good=("sharp", "sharper", "sharply", "crisp", "crisply", "in focus", "in sharp focus", "well focused",
              "sharp focus", "clear focus", "good focus", "fine detail", "fine details", "detailed", "crisp textures"),
        bad=("blur", "blurs", "blurry", "blurred", "blurring", "blurriness", "out of focus", "unfocused",
             "defocused", "unsharp", "soft focus", "motion blur", "camera shake", "shaken", "shaky", "smear",
             "smears", "smeared", "smudged"),
        neutral=("sharpness", "focus", "focused", "detail", "details", "definition", "clarity")),
    "noise": Attribute(
        "noise and grain",
        good=("noise free", "noiseless", "clean"),
        bad=("noise", "noisy", "grain", "grainy", "graininess", "speckle", "speckles", "speckled",
             "sensor noise")),
    "exposure": Attribute(
        "exposure, brightness, lighting",
        good=("well exposed", "properly exposed", "well lit", "good lighting", "even lighting", "bright",
              "brighter", "brightly lit"),
        bad=("dark", "darker", "darkness", "dim", "dimly", "dimly lit", "underexposed", "underexposure",
             "overexposed", "overexposure", "blown", "blown out", "blown highlights", "dazzling", "glare",
             "harsh light", "harsh lighting", "in shadow", "into shadow", "whitish", "washed out", "washes out"),
        neutral=("exposure", "exposed", "lighting", "lit", "brightness", "illumination")),
    "color": Attribute(
        "colour, saturation, colour casts",
        good=("vivid", "vividly", "vibrant", "colorful", "rich colors", "natural colors", "pleasing colors"),
        bad=("color cast", "cast", "pale", "faded", "fading", "desaturated", "desaturation", "dull colors",
             "drab", "washed out colors", "washes the colors out", "false colors", "unnatural colors",
             "hue shift", "color shift", "oversaturated", "loss of saturation"),
        neutral=("color", "colors", "colored", "saturation", "hue", "hues", "tone", "tones", "tint")),
    "contrast": Attribute(
        "contrast, haze, flatness",
        bad=("hazy", "haze", "flat", "flattens", "dull", "low contrast"),
        neutral=("contrast", "contrasts", "tonal range", "dynamic range", "light and dark")),
    "compression": Attribute(
        "compression artefacts",
        bad=("compression", "compressed", "jpeg", "artifact", "artifacts", "blocky", "blocking", "blocks",
             "ringing", "banding", "macroblocking")),
    "resolution": Attribute(
        "resolution, pixelation",
        good=("high resolution", "high res"),
        bad=("pixelation", "pixelated", "pixellated", "pixels", "pixel", "low resolution", "down sampling",
             "downsampling", "jaggies", "jagged"),
        neutral=("resolution",)),
    "composition": Attribute(
        "framing, balance, angle",
        good=("well composed", "well balanced", "balanced", "centered", "nicely framed", "well framed"),
        bad=("tilted", "crooked", "slanted", "unbalanced", "imbalance", "cluttered", "clutter", "distracting",
             "cut off", "off center", "off to the left", "off to the right", "awkward angle"),
        neutral=("composition", "composed", "framing", "framed", "balance", "angle", "layout", "crop",
                 "proportions")),
    "subject_clarity": Attribute(
        "whether the subject can be made out",
        good=("clear", "clearly", "clearer", "clearly visible", "easy to understand", "easy to see",
              "recognizable", "stands out", "made out", "be seen", "visible", "legible", "readable"),
        bad=("unclear", "indistinct", "hard to see", "hard to tell", "hard to understand", "difficult to understand",
             "difficult to see", "hard to read", "obscured", "invisible", "illegible", "confusing")),
}

PREDICATIVE_ONLY = {"clear", "visible"}  # cue only when not followed by a noun
_PREDICATE_NEXT = {None, ".", ",", ";", ":", "!", "?", "and", "or", "but", "enough", "overall"}

GOOD_WORDS = frozenset("good great nice nicely fine excellent beautiful beautifully pleasing vivid rich natural strong "
                       "well clear clearly effective proper properly correct correctly interesting balanced reasonable "
                       "even accurate high pleasant lovely attractive appealing solid sharp".split())
BAD_WORDS = frozenset("poor poorly bad weak low lacking unstable unsatisfactory wrong off harsh unnatural insufficient "
                      "excessive reduced reduction strange awkward uneven inaccurate distracting "
                      "unpleasant mediocre terrible dull pale faded drab muted washed".split())
GOOD_WORDS |= frozenset(w for w in WORDNET["evaluative"][GOOD] if " " not in w) - BAD_WORDS
BAD_WORDS |= frozenset(w for w in WORDNET["evaluative"][BAD] if " " not in w) - GOOD_WORDS
# Degree of a fault, an ordered scale: "slight noise" and "heavy noise" agree on polarity, not on degree.
# ABSENT words make a fault good, like a negation ("minimal noise", "negligible blur").
DEGREES: dict[str, int] = {
    **dict.fromkeys("slight slightly mild mildly minor faint faintly somewhat little bit".split(), 1),
    **dict.fromkeys("moderate moderately noticeable noticeably some certain fair".split(), 2),
    **dict.fromkeys("heavy heavily severe severely strong strongly significant significantly considerable "
                    "considerably marked substantial substantially major serious seriously obvious pronounced "
                    "intense extreme extremely excessive excessively very too overly".split(), 3)}
ABSENT = frozenset("minimal negligible".split())
DEGREE_GAP = 2  # levels apart (1 slight .. 3 heavy) that make a disagreement of degree
# Negators, and verbs that take a quality away ("softens the fine detail", "hides the shadows").
NEGATORS = frozenset("no not never without nor none neither lacks lack lacking loss lost absence free hardly barely "
                     "softens soften hides hide obscures loses lose spoils reduces drains masks".split())
INTENSIFIERS = frozenset("too overly excessively".split())
WISHES = frozenset("could should would needs need needed".split())
BREAKS = frozenset(". ; : ! ? but although though however while whereas except even".split())
LIST_JOINERS = frozenset(", or and nor any visible obvious enough to".split())
CLAUSE_BREAKS = BREAKS | {",", "and", "or", "with"}

_FOLD = ((r"colour", "color"), (r"artefact", "artifact"), (r"centre", "center"), (r"recognis", "recogniz"),
         (r"greyish", "grayish"), (r"n't\b", " not"), (r"\bcannot\b", "can not"))
_TOKEN = re.compile(r"[a-z]+|[.,;:!?]")


def _phrases() -> dict[tuple[str, ...], tuple[str, str | None]]:
    """Cue phrase -> (attribute, polarity): the hand-made list first (it wins), then WordNet's words."""
    out: dict[tuple[str, ...], tuple[str, str | None]] = {}
    for name, attr in ATTRIBUTES.items():
        for words, pol in ((attr.good, GOOD), (attr.bad, BAD), (attr.neutral, None)):
            for w in words:
                out.setdefault(tuple(w.split()), (name, pol))
    for name, sides in WORDNET.items():
        if name in ATTRIBUTES:
            for pol in (GOOD, BAD):
                for w in sides[pol]:
                    out.setdefault(tuple(w.split()), (name, pol))
    for key, (name, pol) in list(out.items()):  # "fuzzy" -> "fuzzily", "distinct" -> "distinctly"
        if len(key) == 1 and pol and len(key[0]) > 3 and not key[0].endswith("ly"):
            w = key[0]
            adverb = w[:-1] + "ily" if w.endswith("y") else w[:-2] + "ly" if w.endswith("le") else w + "ly"
            out.setdefault((adverb,), (name, pol))
    return out


PHRASES = _phrases()
_MAX_LEN = max(len(k) for k in PHRASES)


@dataclass(frozen=True)
class Mention:
    """One cue found in a text: its attribute, polarity (None: no verdict) and the reason."""

    attribute: str
    polarity: str | None
    phrase: str
    why: str
    degree: int | None = None  # of a fault: 1 slight .. 3 heavy (DEGREES), None when unstated


def tokens(text: str | None) -> list[str]:
    text = (text or "").lower().replace("\u2019", "'").replace("-", " ")
    for pattern, repl in _FOLD:
        text = re.sub(pattern, repl, text)
    return _TOKEN.findall(text)


def _flip(p: str | None) -> str | None:
    return {GOOD: BAD, BAD: GOOD}.get(p) if p else None


def _evaluate(toks: list[str], start: int, end: int) -> tuple[str | None, str, int | None]:
    """Polarity for a neutral cue at [start, end): the nearest evaluative word in its clause (and where)."""
    for dist in range(1, 5):
        for j in (start - dist, end - 1 + dist):
            if j < 0 or j >= len(toks):
                continue
            between = toks[j + 1:start] if j < start else toks[end:j]
            if any(t in CLAUSE_BREAKS for t in between) or toks[j] in CLAUSE_BREAKS:
                continue
            word = toks[j]
            pol = GOOD if word in GOOD_WORDS else BAD if word in BAD_WORDS else None
            if pol is None:
                continue
            before = toks[max(0, j - 2):j]
            if any(t in NEGATORS for t in before):
                return _flip(pol), f"'{word}' negated", j
            if pol == GOOD and any(t in INTENSIFIERS for t in before):
                return BAD, f"'{word}' intensified", j
            return pol, f"'{word}'", j
    return None, "no evaluative word", None


def _degree(toks: list[str], start: int, end: int) -> tuple[int | None, bool]:
    """The degree word qualifying the cue at [start, end) (up to three words before it, or "is/are X"
    after it, within the clause), and whether it says the fault is absent ("minimal", "barely any")."""
    for j in range(start - 1, max(-1, start - 4), -1):
        t = toks[j]
        if t in CLAUSE_BREAKS:
            break
        if t in ABSENT or (t == "any" and j > 0 and toks[j - 1] in ("barely", "hardly")):
            return None, True
        if t == "little" and (j == 0 or toks[j - 1] != "a"):
            return None, True  # "little noise" (a little noise: slight)
        if t in DEGREES:
            return DEGREES[t], False
    after = toks[end:end + 4]
    if after[:1] and after[0] in ("is", "are", "was", "were", "looks", "appears", "seems"):
        for t in after[1:]:
            if t in CLAUSE_BREAKS:
                break
            if t in ABSENT:
                return None, True
            if t in DEGREES:
                return DEGREES[t], False
    return None, False


def mentions(text: str | None) -> list[Mention]:
    """Every attribute cue in `text`, with the polarity the rules give it."""
    toks = tokens(text)
    found: list[Mention] = []
    at: dict[int, int] = {}  # token index -> index in `found` of the cue that starts there
    consumed: set[int] = set()  # evaluative words a neutral cue took its polarity from
    i = 0
    last_end, last_negated = -10, False
    while i < len(toks):
        for n in range(min(_MAX_LEN, len(toks) - i), 0, -1):
            key = tuple(toks[i:i + n])
            if key in PHRASES:
                break
        else:
            i += 1
            continue
        name, pol = PHRASES[key]
        end = i + n
        nxt = toks[end] if end < len(toks) else None
        if (n == 1 and key[0] in PREDICATIVE_ONLY and nxt not in _PREDICATE_NEXT) or i in consumed:
            i += 1
            continue
        if n == 1 and key[0] in PREDICATIVE_ONLY and i > 0 and toks[i - 1].endswith("ly") and (toks[i - 1],) in PHRASES:
            i += 1  # "distinctly visible", "murkily visible": the adverb carries the verdict
            continue
        phrase, why = " ".join(key), "lexicon"
        if pol is None:
            pol, why, j = _evaluate(toks, i, end)
            if j is not None:
                consumed.add(j)  # "dull colours": a colour verdict, not also a contrast one
                if j in at and found[at[j]] is not None and found[at[j]].attribute != name:
                    found[at[j]] = None  # type: ignore[call-overload]
        window = toks[max(0, i - 3):i]
        negated = False
        if any(t in NEGATORS for t in window) and not any(t in BREAKS for t in window[-2:]):
            # the negator must reach this cue: no other cue between them
            k = max(j for j in range(max(0, i - 3), i) if toks[j] in NEGATORS)
            negated = k >= last_end
        if not negated and last_negated and i > last_end and all(t in LIST_JOINERS for t in toks[last_end:i]):
            negated = True  # "no blur, noise or compression"
        if nxt == "free" or (nxt == "is" and end + 1 < len(toks) and toks[end + 1] == "free"):
            negated = True
        if negated:
            pol = _flip(pol) if pol else BAD
            why += "; negated"
        elif pol != BAD and any(t in INTENSIFIERS for t in toks[max(0, i - 3):i]):
            pol, why = BAD, why + "; 'too'"
        elif pol == GOOD and any(t in WISHES for t in toks[max(0, i - 4):i]):
            pol, why = BAD, why + "; a wish"
        degree, absent = _degree(toks, i, end) if pol == BAD and not negated else (None, False)
        if absent:
            pol, why = GOOD, why + "; absent"
        elif degree is not None:
            why += f"; degree {degree}"
        at[i] = len(found)
        found.append(Mention(name, pol, phrase, why, degree))
        last_end, last_negated = end, negated
        i = end
    return [m for m in found if m is not None]


def graded(text: str | None, default: str | None = None) -> tuple[dict[str, str], dict[str, int]]:
    """Verdicts (see `verdicts`) and, for attributes judged bad, the highest degree stated."""
    counts: dict[str, list[int]] = {}
    degrees: dict[str, int] = {}
    for m in mentions(text):
        pol = m.polarity or default
        if pol is None:
            continue
        c = counts.setdefault(m.attribute, [0, 0])
        c[0 if pol == GOOD else 1] += 1
        if pol == BAD and m.degree is not None:
            degrees[m.attribute] = max(m.degree, degrees.get(m.attribute, 0))
    out = {a: GOOD if g > b else BAD if b > g else "mixed" for a, (g, b) in counts.items()}
    return out, {a: d for a, d in degrees.items() if out[a] == BAD}


def verdicts(text: str | None, default: str | None = None) -> dict[str, str]:
    """{attribute: good | bad | mixed} for one text. `default` is the polarity of cues with none of
    their own (the Q-Reasoning field the text came from); None leaves them without a verdict."""
    return graded(text, default)[0]


def human_graded(text: str | None = None, good: str | None = None, bad: str | None = None
                 ) -> tuple[dict[str, str], dict[str, int]]:
    """The human side with degrees: from the good_aspect / bad_aspect split when either is given."""
    if not (good or "").strip() and not (bad or "").strip():
        return graded(text)
    (g, _), (b, degrees) = graded(good, GOOD), graded(bad, BAD)
    out = dict(g)
    for a, v in b.items():
        out[a] = v if a not in out or out[a] == v else "mixed"
    return out, {a: d for a, d in degrees.items() if out[a] == BAD}


def human_verdicts(text: str | None = None, good: str | None = None, bad: str | None = None) -> dict[str, str]:
    """The human side: from the good_aspect / bad_aspect split when either is given, else from `text`."""
    return human_graded(text, good, bad)[0]


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


def compare_texts(generated: str | None, reference: str | None = None, good: str | None = None,
                  bad: str | None = None) -> Agreement:
    """Agreement of one generated text with one human note (text, or its good/bad aspects)."""
    (human, human_degrees), (model, model_degrees) = human_graded(reference, good, bad), graded(generated)
    return agreement(human, model, human_degrees, model_degrees)
