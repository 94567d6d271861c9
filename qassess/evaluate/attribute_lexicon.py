"""The words of the attribute analysis (qassess/evaluate/attributes.py): cue phrases per attribute,
evaluative words, degree words, negators and the other small closed classes its rules consult.

Kept apart from the rules so the vocabulary can be read, reviewed and extended in one place; the
WordNet words come from the generated qassess/evaluate/wordnet_cues.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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
              "steady", "stable", "sharp focus", "clear focus", "good focus", "fine detail", "fine details", "detailed",
              "crisp textures"),
        bad=("blur", "blurs", "blurry", "blurred", "blurring", "blurriness", "out of focus", "unfocused",
             "defocused", "unsharp", "soft focus", "motion blur", "camera shake", "shaken", "shaky", "shake",
             "wobbling", "wobbly", "wavering", "jittery", "smear", "smears", "smeared", "smudged"),
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
        bad=("hazy", "haze", "flat", "flattens", "low contrast"),  # "dull" is WordNet's colour word
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
        good=("well composed", "well balanced", "balanced", "centered", "nicely framed", "well framed", "harmonious"),
        bad=("tilted", "crooked", "slanted", "unbalanced", "imbalance", "cluttered", "clutter", "distracting",
             "busy", "fussy", "cut off", "off center", "off to the left", "off to the right", "awkward angle", "askew", "lopsided",
             "out of balance", "off balance", "shifted to the left", "shifted to the right", "more to the left",
             "more to the right", "off to one side", "cropped"),
        neutral=("composition", "composed", "framing", "framed", "balance", "angle", "layout", "crop",
                 "proportions", "ratio", "in the middle", "in the center")),  # "too in the middle": bad
    # The notes judge the look as a whole too ("beautiful", "boring"); said of a neutral cue these words
    # are that cue's verdict instead ("beautiful colours": colour), as any evaluative word is.
    "appeal": Attribute(
        "aesthetic appeal of the picture as a whole",
        good=("beautiful", "beautifully", "lovely", "interesting", "engaging", "attractive", "appealing", "striking",
              "impressive", "pleasing", "pleasant", "charming", "stunning", "captivating", "eye catching"),
        bad=("boring", "ordinary", "uninteresting", "unappealing", "unattractive", "ugly", "unpleasant", "plain",
             "bland", "lifeless", "mundane", "unremarkable", "dreary")),
    # One attribute for every "can it be made out" phrase: "clearly visible", "distinctly visible",
    # "discernible", "legible" are paraphrases of each other, and split over two attributes (WordNet puts
    # "distinct" and "vague" under sharpness) a paraphrase read as a verdict on another attribute.
    "subject_clarity": Attribute(
        "whether things can be made out: clear, distinct, visible, legible",
        good=("clear", "clearly", "clearer", "clearly visible", "easy to understand", "easy to see",
              "recognizable", "stands out", "made out", "be seen", "visible", "legible", "readable",
              "distinct", "distinctly", "discernible", "discernibly", "easy to make out", "easily seen",
              "easy to read", "easy to recognize", "easily understandable", "understandable", "identifiable",
              "well defined", "plainly"),
        bad=("unclear", "indistinct", "indistinctly", "hard to see", "hard to tell", "hard to understand",
             "difficult to understand", "difficult to see", "hard to read", "difficult to read", "obscured",
             "invisible", "illegible", "unreadable", "confusing", "vague", "vaguely", "murky", "murkily",
             "indiscernible", "hard to make out", "difficult to make out", "hard to discern", "difficult to discern",
             "hard to identify", "difficult to identify", "hard to recognize", "difficult to recognize",
             "unrecognizable", "obscure", "ambiguous")),
    # What the picture is about, apart from whether it can be made out: "it is unclear what the subject
    # is", "a clear idea of what to capture", "the intention is vague". The notes say both, and one
    # attribute for the two let "clearly visible" (a paraphrase of "sharp") contradict "unclear what
    # it shows". A visibility cue moves here by a rule (attributes.py: _about_intent); the nouns below
    # are neutral cues that take only a clarity word's verdict ("the message is clear").
    "intent": Attribute(
        "whether it is clear what the picture is about or meant to show",
        good=("clear idea", "clear intention", "clear intent", "clear message", "clear purpose", "clear theme",
              "clear concept", "clear what", "obvious what", "easy to imagine", "easy to grasp",
              "easy to tell what", "easily imagined"),
        bad=("unclear what", "uncertain what", "uncertainty about what", "not know what", "no idea what",
             "hard to imagine", "difficult to imagine", "hard to grasp", "difficult to grasp", "hard to tell what",
             "difficult to tell what", "vague idea", "unclear intention", "unclear message", "unclear theme",
             "unclear purpose"),
        neutral=("intention", "intent", "intended focus", "intended subject", "message", "purpose", "theme",
                 "concept")),
}

PREDICATIVE_ONLY = {"clear", "visible", "distinct"}  # cue only when not followed by a noun ("a clear sky")
PREDICATE_NEXT = {None, ".", ",", ";", ":", "!", "?", "and", "or", "but", "enough", "overall", "what", "how",
                  "why", "where", "who", "whether", "which", "that", "to", "at", "in", "from", "even", "because",
                  "when", "while", "against", "throughout", "despite"}
# Faults with two opposite sides: "too dark" and "too bright" are both bad exposure and contradict each
# other; so do "washed-out" and "oversaturated" colour. A bad cue of these attributes is on the "under"
# side unless listed in OVER (or a good cue made bad by "too"); SIDELESS cues are faults of no side.
OVER = {"exposure": frozenset(("overexposed", "overexposure", "blown", "blown out", "blown highlights", "dazzling",
                               "glare", "whitish", "washed out", "washes out", "harsh light", "harsh lighting")),
        "color": frozenset(("oversaturated", "oversaturation", "garish", "gaudy", "lurid"))}
SIDELESS = frozenset(("color cast", "cast", "hue shift", "color shift", "false colors", "unnatural colors", "tint"))
# Words that make a thing visible or not; after an adverb of the same kind ("distinctly visible",
# "clearly discernible") they are one phrase, the adverb's.
VISIBLE_WORDS = frozenset("visible discernible legible readable recognizable seen".split())
# A clarity cue says what the picture is about (intent), not whether it can be seen, when a wh-word
# follows it ("unclear what ...", "hard to tell why") or it is said of one of these nouns ("the
# intention of the photo is unclear", "a clear idea"). Only these cues: "clearly visible" stays
# visibility. Not "subject": "the subject is not clear" is as often about seeing it as about its point.
INTENT_CUES = frozenset("clear unclear vague ambiguous confusing obscure distinct murky "
                        "indistinct uncertain".split())
INTENT_NOUNS = frozenset("intention intent purpose message theme idea concept point "
                         "meaning story".split())
WH_WORDS = frozenset("what why which who whom whether where".split())
# "easy to see", "hard to make out": one verb list, so a paraphrase with another verb is still read.
PERCEIVE = ("see", "read", "understand", "make out", "tell", "recognize", "identify", "discern", "distinguish",
            "interpret", "follow", "notice")

GOOD_WORDS = frozenset("good great nice nicely fine excellent beautiful beautifully pleasing vivid rich natural strong "
                       "well clear clearly effective proper properly correct correctly interesting balanced reasonable "
                       "even accurate high pleasant lovely attractive appealing solid sharp".split())
BAD_WORDS = frozenset("poor poorly bad weak low lacking unstable unsatisfactory wrong off harsh unnatural insufficient "
                      "excessive reduced reduction strange awkward uneven inaccurate distracting "
                      "unpleasant mediocre terrible dull pale faded drab muted washed".split())
GOOD_WORDS |= frozenset(w for w in WORDNET["evaluative"][GOOD] if " " not in w) - BAD_WORDS
BAD_WORDS |= frozenset(w for w in WORDNET["evaluative"][BAD] if " " not in w) - GOOD_WORDS
# Evaluative words that judge one attribute's neutral cues only: "the focus looks soft" is a sharpness
# fault, "soft light" and "soft colours" are no verdict.
EVALUATIVE_OF = {"soft": ("sharpness", BAD), "softer": ("sharpness", BAD)}
# A visibility word also judges the neutral cue it is said of: "the colours are distinctly visible".
GOOD_WORDS |= frozenset(w for w in ATTRIBUTES["subject_clarity"].good if " " not in w)
BAD_WORDS |= frozenset(w for w in ATTRIBUTES["subject_clarity"].bad if " " not in w)
# Degree of a fault, an ordered scale: "slight noise" and "heavy noise" agree on polarity, not on degree.
# Five levels so that near words stay near ("heavy" ~ "considerable", "slight" ~ "moderate") and the
# ends stay apart; ABSENT words make a fault good, like a negation ("minimal noise", "negligible blur").
DEGREES: dict[str, int] = {
    **dict.fromkeys("slight slightly mild mildly minor faint faintly somewhat little bit touch marginal marginally "
                    "subtle subtly light lightly".split(), 1),
    **dict.fromkeys("moderate moderately noticeable noticeably some certain fair medium partly partially "
                    "visible".split(), 2),
    **dict.fromkeys("considerable considerably significant significantly marked markedly substantial substantially "
                    "obvious obviously pronounced evident apparent clearly quite".split(), 3),
    **dict.fromkeys("heavy heavily severe severely strong strongly major serious seriously intense intensely high "
                    "highly very too overly excessive excessively much lots great greatly".split(), 4),
    **dict.fromkeys("extreme extremely massive enormous overwhelming total totally complete completely utterly "
                    "entirely terribly".split(), 5)}
# Words that only scale the degree word before them: "a bit too dark" is slight, not "too".
SCALERS = frozenset("too very overly so quite".split())
ABSENT = frozenset("minimal minimally negligible negligibly".split())
DEGREE_GAP = 2  # levels apart (1 slight .. 5 extreme) that make a disagreement of degree
# Negators, and verbs that take a quality away ("softens the fine detail", "hides the shadows").
NEGATORS = frozenset("no not never without nor none neither lacks lack lacking loss lost absence free hardly barely "
                     "softens soften hides hide obscures loses lose spoils reduces drains masks".split())
INTENSIFIERS = frozenset("too overly excessively".split())
WISHES = frozenset("could should would needs need needed".split())
BREAKS = frozenset(". ; : ! ? but although though however while whereas except even".split())
LIST_JOINERS = frozenset(", or and nor any visible obvious enough to".split())
CLAUSE_BREAKS = BREAKS | {",", "and", "or", "with"}

# Endings of the adjectives that take "un-" for their opposite (cluttered, appealing, focused, ...).
UN_ADJECTIVES = ("ed", "ing", "ful", "able", "ible", "y")
_FOLD = ((r"colour", "color"), (r"artefact", "artifact"), (r"centre", "center"), (r"recognis", "recogniz"),
         (r"greyish", "grayish"), (r"n't\b", " not"), (r"\bcannot\b", "can not"))
_TOKEN = re.compile(r"[a-z]+|[.,;:!?]")


def _phrases() -> dict[tuple[str, ...], tuple[str, str | None]]:
    """Cue phrase -> (attribute, polarity): the hand-made list first (it wins), then the easy/hard-to-see
    phrases of PERCEIVE, the "un-" opposites of the hand-made adjectives, then WordNet's words, then the
    adverb of every one-word cue."""
    out: dict[tuple[str, ...], tuple[str, str | None]] = {}
    for name, attr in ATTRIBUTES.items():
        for words, pol in ((attr.good, GOOD), (attr.bad, BAD), (attr.neutral, None)):
            for w in words:
                out.setdefault(tuple(w.split()), (name, pol))
    for verb in PERCEIVE:
        for head, pol in (("easy to", GOOD), ("simple to", GOOD), ("hard to", BAD), ("difficult to", BAD),
                          ("impossible to", BAD)):
            out.setdefault(tuple(f"{head} {verb}".split()), ("subject_clarity", pol))
    for key, (name, pol) in list(out.items()):  # "cluttered" -> "uncluttered": the prefix negates an adjective
        w = key[0]  # (hand-made cues only: WordNet's have senses nobody reviewed, "veiled" -> "unveiled")
        if len(key) == 1 and pol and not w.startswith(("un", "in", "im", "dis")) and w.endswith(UN_ADJECTIVES):
            out.setdefault(("un" + w,), (name, GOOD if pol == BAD else BAD))
    for name in ATTRIBUTES:  # in ATTRIBUTES' order: a word WordNet files under two ("dull") is the first's
        for pol in (GOOD, BAD):
            for w in WORDNET.get(name, {}).get(pol, ()):
                out.setdefault(tuple(w.split()), (name, pol))
    for key, (name, pol) in list(out.items()):  # "fuzzy" -> "fuzzily", "distinct" -> "distinctly"
        if len(key) == 1 and pol and len(key[0]) > 3 and not key[0].endswith("ly"):
            w = key[0]
            adverb = w[:-1] + "ily" if w.endswith("y") else w[:-2] + "ly" if w.endswith("le") else w + "ly"
            out.setdefault((adverb,), (name, pol))
    return out


PHRASES = _phrases()
MAX_LEN = max(len(k) for k in PHRASES)


def tokens(text: str | None) -> list[str]:
    text = (text or "").lower().replace("\u2019", "'").replace("-", " ")
    for pattern, repl in _FOLD:
        text = re.sub(pattern, repl, text)
    return _TOKEN.findall(text)
