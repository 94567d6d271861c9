"""Prompts that show two images at once and ask which is better, and reading the verdict back.

The default keeps the paper's caption -> think -> answer form, so a model trained by `qassess train` on
single images meets the same tags; only the question and the answer's key change. A verdict is read only
from what the model stated inside <answer>: an answer naming neither image is a parse error, never a coin
flip.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from qassess.core.parsing import extract_block
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

WINNERS = ("a", "b", "tie")


@dataclass(frozen=True)
class PairTemplate:
    """One prompt showing image A then image B (`image_first`: images before the question)."""

    name: str
    system: str
    user: str
    image_first: bool = True

    def messages(self) -> list[dict]:
        images = [{"type": "image"}, {"type": "image"}]
        text = [{"type": "text", "text": self.user}]
        user = {"role": "user", "content": images + text if self.image_first else text + images}
        if not self.system:
            return [user]
        return [{"role": "system", "content": [{"type": "text", "text": self.system}]}, user]


PAIR_TEMPLATES = Registry("pair template")  # plugins: entry-point group qassess.pair templates
PAIR_TEMPLATES.register("paper-pair", PairTemplate("paper-pair", PAIR_SYSTEM, PAIR_USER))


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
