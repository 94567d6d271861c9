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
  * a negator that is itself the evaluative word negates once ("lacking contrast" is bad); a negator
    reaches past an article and a degree word ("not a very pleasing composition");
  * "too" / "overly" before a good cue makes it bad ("too bright"); so does a wish ("could be sharper"),
    within the clause; "not too bright" is no fault of a two-sided attribute, and a wish for one side
    of it is the other side ("could be darker": too bright);
  * "clear", "visible", "distinct" count only when predicated ("the subject is clear", "it is clear what
    ...", not "a clear sky", "visible blocks");
  * every "can it be made out" phrase is one attribute (subject_clarity: clearly/distinctly visible,
    discernible, legible, vague, murky), as paraphrases swap them freely; "X-ly visible" is the
    adverb's verdict, and a visibility word said of a neutral cue is that cue's ("the colours are
    distinctly visible");
  * what the picture is about is an attribute of its own (intent: "it is unclear what it shows", "a
    clear idea"), apart from whether it can be made out; a clarity word moves there before a wh-word or
    when said of an intent noun, and the comparison lets a sibling attribute the other side left
    alone stand in (attribute_agreement.SIBLINGS);
  * beside the hand-made cues, WordNet's (qassess/evaluate/wordnet_cues.py, generated) and the adverb of
    every one-word cue ("fuzzily"); the hand-made list wins where both name a word;
  * a fault's degree on an ordered scale of five (DEGREES: "slight" 1, "moderate" 2, "considerable" 3,
    "heavy" 4, "extreme" 5; "a bit too" is slight): two "bad" verdicts DEGREE_GAP apart disagree in
    degree; "minimal noise", "barely any blur" say the fault is absent;
  * exposure and colour faults have a side (too dark / too bright, washed-out / oversaturated): the
    two sides of one attribute contradict each other although both are "bad".

Agreement is judged mention by mention (attribute_agreement.compare_mentions): each human mention is
paired with the model's most alike mention of the attribute, so one flipped word among repeated
mentions is a contradiction, not outvoted.

The human verdict uses the Q-Reasoning split when it exists: a cue without polarity of its own counts as
good in `good_aspect` and bad in `bad_aspect` (explicit polarity still wins: "not sharp" in good_aspect
is bad), for attributes the note judges nowhere explicitly; without the split, only explicit
polarities count. It is a lexicon: it misses what it has no
words for and can be fooled by irony or unusual phrasing; the per-row output shows what it read.
"""
from __future__ import annotations

from dataclasses import replace

from qassess.evaluate.attribute_agreement import FALLBACK, Agreement, Mention, Place, compare_mentions
from qassess.evaluate.attribute_lexicon import (
    ABSENT, ATTRIBUTES, BAD, BAD_WORDS, BREAKS, CLAUSE_BREAKS, DEGREE_GAP, DEGREES, EVALUATIVE_OF, GOOD, GOOD_WORDS, INTENSIFIERS,
    INTENT_CUES, INTENT_NOUNS, LIST_JOINERS, MAX_LEN, NEGATORS, OVER, PHRASES, PREDICATE_NEXT, PREDICATIVE_ONLY,
    SCALERS, SIDELESS, VISIBLE_WORDS, WH_WORDS, WISHES, tokens)

__all__ = ["ABSENT", "ATTRIBUTES", "Agreement", "BAD", "DEGREES", "DEGREE_GAP", "GOOD", "Mention",
           "compare_mentions", "compare_texts", "graded", "human_graded", "human_mentions", "human_verdicts",
           "mentions", "tokens", "verdicts"]

ARTICLES = frozenset("a an the".split())
COPULAS = frozenset("is are was were looks look appears appear seems seem remains remain".split())
SENTENCE_ENDS = frozenset(". ; : ! ?".split())
# Words that say nothing about what a mention is about (left out of its Place).
STOP = frozenset("the and are was were been being this that these those its for with from into onto than then "
                 "there here has have had does did can will also very quite overall image picture photo shot "
                 "looks look appears appear seems seem".split())


def _flip(p: str | None) -> str | None:
    return {GOOD: BAD, BAD: GOOD}.get(p) if p else None


def _evaluate(toks: list[str], start: int, end: int, skip: frozenset[int] = frozenset(), name: str | None = None
              ) -> tuple[str | None, str, int | None]:
    """Polarity for a neutral cue at [start, end): the nearest evaluative word in its clause (and where);
    after "is/are/looks ..." the predicate first ("the hue is distinctly visible"), as a word on the
    left may belong to the previous sentence when the punctuation is missing. Words at `skip` (where an
    intent cue starts: "unclear what the focus will be") judge what is meant, not the cue."""
    order = [j for dist in range(1, 5) for j in (start - dist, end - 1 + dist)]
    if end < len(toks) and toks[end] in COPULAS:
        order = [end - 1 + dist for dist in range(1, 5)] + [start - dist for dist in range(1, 5)]
    for j in order:
        if j < 0 or j >= len(toks):
            continue
        between = toks[j + 1:start] if j < start else toks[end:j]
        if any(t in CLAUSE_BREAKS for t in between) or toks[j] in CLAUSE_BREAKS or j in skip:
            continue
        word = toks[j]
        pol = GOOD if word in GOOD_WORDS else BAD if word in BAD_WORDS else None
        if word in EVALUATIVE_OF:  # "the focus is soft": a verdict on sharpness only ("soft light" is none)
            pol = EVALUATIVE_OF[word][1] if EVALUATIVE_OF[word][0] == name else None
        if pol is None:
            continue
        before = toks[max(0, j - 2):j]
        k = j - 1  # "not a very pleasing composition": the negator reaches past an article and a degree word
        while k >= 0 and j - k <= 3 and (toks[k] in ARTICLES or toks[k] in DEGREES):
            k -= 1
        if any(t in NEGATORS for t in before) or (k >= 0 and toks[k] in NEGATORS):
            return _flip(pol), f"'{word}' negated", j
        if pol == GOOD and any(t in INTENSIFIERS for t in before):
            return BAD, f"'{word}' intensified", j
        return pol, f"'{word}'", j
    return None, "no evaluative word", None


def _before(toks: list[str], i: int, n: int) -> list[str]:
    """Up to n words before token i, within its clause: "too" and a wish reach no cue past a full stop
    or a "but" ("... too shallow. Intriguing subject" is no "too intriguing")."""
    window = toks[max(0, i - n):i]
    cut = max((k + 1 for k, t in enumerate(window) if t in BREAKS), default=0)
    return window[cut:]


def _degree(toks: list[str], start: int, end: int) -> tuple[int | None, bool]:
    """The degree word qualifying the cue at [start, end) (up to three words before it, or "is/are X"
    after it, within the clause), and whether it says the fault is absent ("minimal", "barely any").
    A scaler ("too", "very") gives way to a degree word before it ("a bit too dark": slight); a degree
    word right after "not" says nothing ("not very sharp")."""
    found: int | None = None
    for j in range(start - 1, max(-1, start - 4), -1):
        t = toks[j]
        if t in CLAUSE_BREAKS or t in ("not", "no", "never", "without"):
            break
        if t in ABSENT or (t == "any" and j > 0 and toks[j - 1] in ("barely", "hardly")):
            return None, True
        if t == "little" and (j == 0 or toks[j - 1] != "a"):
            return None, True  # "little noise" (a little noise: slight)
        if t in DEGREES:
            if j > 0 and toks[j - 1] in ("not", "no"):
                return None, False
            found = DEGREES[t]
            if t not in SCALERS:
                return found, False
    if found is not None:
        return found, False
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


def _about_intent(toks: list[str], i: int, end: int) -> bool:
    """Whether the visibility cue at [i, end) says what the picture is about (see lexicon INTENT_CUES):
    a wh-word after it ("unclear what", "hard to tell why"), an intent noun right after it ("a clear
    idea", "a murky idea"), or, for a one-word clarity adjective, an intent noun before it in its clause
    ("the intention of the photo is unclear")."""
    nxt = toks[end] if end < len(toks) else None
    if nxt in WH_WORDS or (end - i == 1 and nxt in INTENT_NOUNS):
        return True
    if end - i == 1 and toks[i] in INTENT_CUES:
        for j in range(i - 1, max(-1, i - 7), -1):
            if toks[j] in INTENT_NOUNS:
                return True
            if toks[j] in CLAUSE_BREAKS or (toks[j],) in PHRASES:
                return False
    return False


def _place(toks: list[str], start: int, end: int) -> Place:
    """The surroundings of the cue at [start, end) within its sentence (see Place)."""
    s0 = start
    while s0 > 0 and toks[s0 - 1] not in SENTENCE_ENDS:
        s0 -= 1
    s1 = end
    while s1 < len(toks) and toks[s1] not in SENTENCE_ENDS:
        s1 += 1

    def plain(t: str) -> bool:  # a word a flip or a synonym would not change
        return t.isalpha() and (t,) not in PHRASES and t not in GOOD_WORDS and t not in BAD_WORDS \
            and t not in DEGREES and t not in NEGATORS

    words = frozenset(t[:-1] if t.endswith("s") and len(t) > 3 else t
                      for t in toks[s0:start] + toks[end:s1] if len(t) > 2 and t not in STOP and plain(t))
    near = frozenset(t for t in toks[max(s0, start - 2):start] + toks[end:min(s1, end + 2)] if plain(t))
    return Place(words, near, (start - s0) / max(1, s1 - s0))


def mentions(text: str | None) -> list[Mention]:
    """Every attribute cue in `text`, with the polarity the rules give it."""
    toks = tokens(text)
    found: list[Mention] = []
    at: dict[int, int] = {}  # token index -> index in `found` of the cue that starts there
    consumed: set[int] = set()  # evaluative words a neutral cue took its polarity from
    i = 0
    last_end, last_negated = -10, False
    while i < len(toks):
        for n in range(min(MAX_LEN, len(toks) - i), 0, -1):
            key = tuple(toks[i:i + n])
            if key in PHRASES:
                break
        else:
            i += 1
            continue
        name, pol = PHRASES[key]
        end = i + n
        nxt = toks[end] if end < len(toks) else None
        if name == "subject_clarity" and _about_intent(toks, i, end):
            name = "intent"  # "it is unclear what it shows", "a clear idea": not whether it can be seen
        if (n == 1 and key[0] in PREDICATIVE_ONLY and nxt not in PREDICATE_NEXT and name != "intent") \
                or i in consumed:
            i += 1
            continue
        if n == 1 and key[0] in VISIBLE_WORDS | PREDICATIVE_ONLY and i > 0 and toks[i - 1].endswith("ly") \
                and ((toks[i - 1],) in PHRASES or toks[i - 1] in GOOD_WORDS or toks[i - 1] in BAD_WORDS):
            i += 1  # "distinctly visible", "murkily visible": the adverb carries the verdict
            continue
        phrase, why = " ".join(key), "lexicon"
        source = key if pol is not None else None  # the cue whose fault side this is (see OVER)
        judge = None  # where the evaluative word of a neutral cue is
        if pol is None:
            pol, why, j = _evaluate(toks, i, end, frozenset(k for k, f in at.items()
                                                            if found[f] is not None and found[f].attribute == "intent"),
                                    name)
            if name == "intent" and j is not None and PHRASES.get((toks[j],), (None,))[0] != "subject_clarity":
                pol, why, j = None, "no clarity word", None  # "the message is clear", not "the theme is red"
            if j is not None and PHRASES.get((toks[j],), (None, None))[0] == name:
                source = (toks[j],)  # "the colours are faded": the side of "faded"
            judge = j
            if j is not None:
                consumed.add(j)  # "dull colours": a colour verdict, not also a contrast one
                if j in at and found[at[j]] is not None and found[at[j]].attribute != name:
                    found[at[j]] = None  # type: ignore[call-overload]
        window = toks[max(0, i - 3):i]
        negated, k = False, None
        if any(t in NEGATORS for t in window) and not any(t in BREAKS for t in window[-2:]):
            # the negator must reach this cue: no other cue between them, nor an evaluative word that
            # took it already ("lacks distinct focus", "the focus is not correct, blurry")
            k = max(j for j in range(max(0, i - 3), i) if toks[j] in NEGATORS)
            # ... nor is the negator the evaluative word itself ("lacking contrast" is bad once, not
            # twice: "lacking" is both a negator and a bad word)
            negated = k >= last_end and k != judge and not any(j in consumed for j in range(k + 1, i))
        if not negated and last_negated and i > last_end and all(t in LIST_JOINERS for t in toks[last_end:i]):
            negated = True  # "no blur, noise or compression"
        if nxt == "free" or (nxt == "is" and end + 1 < len(toks) and toks[end + 1] == "free"):
            negated = True
        said = " ".join(source) if source else ""
        side = None if name not in OVER or source is None or said in SIDELESS or PHRASES[source][1] is None \
            else "over" if said in OVER[name] else "under"  # "the lighting is poor": no side
        if side and why.endswith("intensified"):
            side = "over"  # "the colours are too vivid"
        if negated and k is not None and name in OVER and pol == GOOD and any(t in INTENSIFIERS for t in toks[k + 1:i]):
            pol, side, why = GOOD, None, why + "; not too"  # "not too bright": not the fault of a two-sided
        elif negated:                                        # attribute ("not too sharp" is "not very sharp")
            pol = _flip(pol) if pol else BAD
            why += "; negated"
        elif pol != BAD and any(t in INTENSIFIERS for t in _before(toks, i, 3)):
            pol, why = BAD, why + "; 'too'"
            side = "over" if side else None  # "too bright", "too vivid"
        elif pol == GOOD and any(t in WISHES for t in _before(toks, i, 4)):
            pol, why = BAD, why + "; a wish"
        elif pol == BAD and side and any(t in WISHES for t in _before(toks, i, 4)):
            side, why = ("under" if side == "over" else "over"), why + "; a wish"  # "could be darker": too bright
        degree, absent = _degree(toks, i, end) if pol == BAD else (None, False)  # "a slight lack of focus"
        if absent:
            pol, why = GOOD, why + "; absent"
        elif degree is not None:
            why += f"; degree {degree}"
        at[i] = len(found)
        found.append(Mention(name, pol, phrase, why, degree, _place(toks, i, end), side if pol == BAD else None))
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


def human_mentions(text: str | None = None, good: str | None = None, bad: str | None = None) -> list[Mention]:
    """The human's mentions with their verdicts: a cue without polarity of its own takes that of the
    good_aspect / bad_aspect field it is in; without the split, only explicit polarities count."""
    if not (good or "").strip() and not (bad or "").strip():
        return [m for m in mentions(text) if m.polarity]
    found = [(m, default) for part, default in ((good, GOOD), (bad, BAD)) for m in mentions(part)]
    # a field's polarity only stands in for a verdict the note does not state: "the focus is on the
    # tree" in good_aspect is no claim of sharpness beside a "blurry" the note also says
    explicit = {m.attribute for m, _ in found if m.polarity}
    return [m if m.polarity else replace(m, polarity=default) for m, default in found
            if m.polarity or m.attribute not in explicit]


def compare_texts(generated: str | None, reference: str | None = None, good: str | None = None,
                  bad: str | None = None, fallback: str = FALLBACK) -> Agreement:
    """Agreement of one generated text with one human note (text, or its good/bad aspects), mention by
    mention (attribute_agreement.compare_mentions)."""
    return compare_mentions(human_mentions(reference, good, bad), mentions(generated), fallback)
