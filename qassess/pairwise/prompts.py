"""Prompts that show two images at once and ask which is better, and reading the verdict back.

The default keeps the paper's caption -> think -> answer form, so a model trained by `qassess train` on
single images meets the same tags; only the question and the answer's key change. The presets of models
released for pairs keep their authors' exact strings, since a model answers reliably only to the prompt
it was trained on. A verdict is read only from what the model stated: an answer naming neither image (or
no level) is a parse error, never a coin flip.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from qassess.core.parsing import block_span, extract_block
from qassess.registry import Registry

PAIR_SYSTEM = (
    'A conversation between User and Assistant. The user shows two images and asks which has the better '
    'quality, and the Assistant answers. The assistant follows a human thinking logics. First describes the '
    'low-level visual contents (including the blur, noise, compression, darken or others) of both images, '
    'mainly focus on the main subject, the advantages and the flaws of each. Second thinks about the '
    'reasoning process in the mind and then provides the user with the answer. The description, reasoning '
    'and answer are enclosed within <caption></caption> <think> </think> and <answer> </answer> tags, '
    'respectively, i.e., <caption>description here</caption><think> reasoning process here </think>'
    '<answer> answer here </answer>.'
)
PAIR_USER = (
    'The first picture is Image A and the second is Image B. Which picture has the better overall quality? '
    'The final answer in JSON format with the following keys: "better": "A", "B" or "similar".'
)

# Q-Insight's comparison model (github bytedance/Q-Insight at 08308fd, the code of lwq20020127/Q-Insight):
# SYSTEM_PROMPT and COMPARE_QUESTION_PROMPT of src/open-r1-multimodal/src/open_r1/qinsight_comparison.py,
# in the interleaved layout of src/open-r1-multimodal/src/open_r1/trainer/grpo_trainer_comparison.py and
# src/eval/demo_comparison.py. It was trained on a low-quality reference and two enhanced outputs, so the
# preset needs a ref image; its reward takes the <answer> text as exactly "Image A", "Image B" or "Similar".
QINSIGHT_PAIR_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant "
    "first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning "
    "process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., "
    "<think> reasoning process here </think><answer> answer here </answer>"
)
QINSIGHT_PAIR_QUESTION = (
    "Decide which enhanced image is superior "
    "or if they are comparable. Evaluate based on: "
    "1) fidelity and consistency with the reference image; "
    "2) overall perceptual quality. "
    "Return **exactly one** of: Image A, Image B, or Similar."
)
QINSIGHT_PAIR_LAYOUT = (
    ("text", "Given a low-quality reference image and two enhanced outputs. Reference Image:"), ("image", "ref"),
    ("text", "Image A:"), ("image", "a"), ("text", "Image B:"), ("image", "b"), ("text", QINSIGHT_PAIR_QUESTION),
)

# Compare2Score (github Q-Future/Compare2Score at de9218a, q_align/evaluate/scorer.py): "USER: <|image|>
# <|image|> Compared with the first image, what is your quality rating for second image? \nASSISTANT: The
# quality of the second image is", then the logits of the five level words (the first token of each) give
# P(level); the preference for the second image is their weighted sum with weights 0, 0.25, 0.5, 0.75, 1.
# The authors divide the logits by 100 before the softmax; qassess reads plain probabilities (temperature 1).
C2S_USER = "Compared with the first image, what is your quality rating for second image?"
C2S_PREFIX = "The quality of the second image is"
# Weights as P(the FIRST image, A, is better): the level says how the second compares with the first.
C2S_LEVELS = (("inferior", 1.0), ("worse", 0.75), ("similar", 0.5), ("better", 0.25), ("superior", 0.0))

WINNERS = ("a", "b", "tie")
VALUES = {"a": 1.0, "b": 0.0, "tie": 0.5}  # P(a better) a stated winner means
PAPER_ANSWERS = (("A", 1.0), ("B", 0.0), ("similar", 0.5))


@dataclass(frozen=True)
class Reading:
    """One completion read: the value it states (P(the first image is better): 1, 0, 1/2, or a level's
    weight), caption, reasoning, why not, and where the answer word stands (its index in the template's
    answers and its start in the text), which the answer-token probabilities need."""

    value: float | None
    caption: str | None = None
    reasoning: str | None = None
    error: str | None = None
    word: int | None = None
    start: int | None = None


@dataclass(frozen=True)
class PairTemplate:
    """One prompt showing image A then image B (`image_first`: images before the question), or the parts
    of `layout` in order (text, or an image slot a / b / ref). `answers`: the answer words the model was
    trained to write and P(the first image is better) each means; `sentence`: the answer is a sentence
    naming one of them (else a verdict inside <answer>); `answer_prefix`: the start of the answer its
    model writes, after which the answer words' probabilities are read in one forward pass."""

    name: str
    system: str
    user: str
    image_first: bool = True
    layout: tuple = ()
    answers: tuple = PAPER_ANSWERS
    sentence: bool = False
    answer_prefix: str | None = None

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(v for kind, v in self.layout if kind == "image") if self.layout else ("a", "b")

    @property
    def needs_ref(self) -> bool:
        return "ref" in self.slots

    def messages(self) -> list[dict]:
        if self.layout:
            content = [{"type": "text", "text": v} if kind == "text" else {"type": "image"} for kind, v in self.layout]
        else:
            images = [{"type": "image"}, {"type": "image"}]
            text = [{"type": "text", "text": self.user}]
            content = images + text if self.image_first else text + images
        user = {"role": "user", "content": content}
        if not self.system:
            return [user]
        return [{"role": "system", "content": [{"type": "text", "text": self.system}]}, user]

    def read(self, text: str | None) -> Reading:
        return _read_sentence(self, text) if self.sentence else _read_tagged(self, text)


def _occurrences(template: PairTemplate, text: str, start: int, *, fold: bool) -> list[tuple[int, int]]:
    """(offset, answer index) of every answer word standing alone in text[start:]."""
    found = []
    for j, (word, _) in enumerate(template.answers):
        pattern = rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])"
        found += [(start + m.start(), j) for m in re.finditer(pattern, text[start:], re.I if fold else 0)]
    return sorted(found)


def _read_tagged(template: PairTemplate, text: str | None) -> Reading:
    winner, caption, reasoning, why = parse_verdict(text)
    if winner is None:
        return Reading(None, caption, reasoning, why)
    value = VALUES[winner]
    span = block_span(text, "answer")
    words = _occurrences(template, text, span[0], fold=False) if span else []
    words = [(at, j) for at, j in words if at < span[1]]
    # the probabilities are read only where the answer is exactly one of the trained words
    if len(words) == 1 and template.answers[words[0][1]][1] == value:
        return Reading(value, caption, reasoning, None, words[0][1], words[0][0])
    return Reading(value, caption, reasoning)


def _read_sentence(template: PairTemplate, text: str | None) -> Reading:
    if text is None or not text.strip():
        return Reading(None, error="empty output")
    found = _occurrences(template, text, 0, fold=True)
    levels = {j for _, j in found}
    names = ", ".join(w for w, _ in template.answers)
    if not levels:
        return Reading(None, error=f"the answer names no level ({names}): {_clip(text)!r}")
    if len(levels) > 1:
        return Reading(None, error=f"the answer names several levels: {_clip(text)!r}")
    at, j = found[0]
    exact = text[at:at + len(template.answers[j][0])] == template.answers[j][0]
    return Reading(template.answers[j][1], word=j if exact else None, start=at if exact else None)


PAIR_TEMPLATES = Registry("pair template")  # plugins: entry-point group qassess.pair templates
for _template in (
    PairTemplate("paper-pair", PAIR_SYSTEM, PAIR_USER),
    PairTemplate("q-insight-pair", QINSIGHT_PAIR_SYSTEM, QINSIGHT_PAIR_QUESTION, layout=QINSIGHT_PAIR_LAYOUT,
                 answers=(("Image A", 1.0), ("Image B", 0.0), ("Similar", 0.5))),
    PairTemplate("compare2score", "", C2S_USER, answers=C2S_LEVELS, sentence=True, answer_prefix=C2S_PREFIX),
):
    PAIR_TEMPLATES.register(_template.name, _template)


def get_pair_template(name: str) -> PairTemplate:
    if name not in PAIR_TEMPLATES:
        raise PAIR_TEMPLATES.unknown(name)
    return PAIR_TEMPLATES[name]


_WORDS = {
    "a": "a", "image a": "a", "first": "a", "the first": "a", "first image": "a", "the first image": "a",
    "b": "b", "image b": "b", "second": "b", "the second": "b", "second image": "b", "the second image": "b",
    "similar": "tie", "tie": "tie", "same": "tie", "equal": "tie", "both": "tie", "neither": "tie",
}
_KEYED = re.compile(r"""\b(?:better|winner|answer)\b["']?\s*[:=]\s*["']?([A-Za-z][A-Za-z ]{0,20}?)["'}\s,.]*(?:$|[,}\n])""",
                    re.I)


def _word(value: object) -> str | None:
    text = " ".join(str(value).strip().strip("\"'.").lower().split())
    return _WORDS.get(text)


def parse_verdict(text: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(winner 'a' | 'b' | 'tie' or None, caption, reasoning, why not) from one completion."""
    if text is None or not text.strip():
        return None, None, None, "empty output"
    caption = extract_block(text, "caption") or None
    reasoning = extract_block(text, "think") or None
    answer = extract_block(text, "answer")
    if answer is None:
        return None, caption, reasoning, "no <answer> block"
    found = []
    for match in re.finditer(r"\{.*?\}", answer, re.S):
        try:
            data = json.loads(match.group(0).replace("'", '"'))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            found += [_word(v) for k, v in data.items() if str(k).strip().lower() in ("better", "winner")]
    if not found:
        found = [_word(m.group(1)) for m in _KEYED.finditer(answer)] or [_word(answer)]
    named = {w for w in found if w is not None}
    if len(named) > 1:
        return None, caption, reasoning, f"the answer names several verdicts: {_clip(answer)!r}"
    if not named:
        return None, caption, reasoning, f"the answer names neither image: {_clip(answer)!r}"
    return named.pop(), caption, reasoning, None


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
