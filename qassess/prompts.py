"""Prompt templates: named presets plus user files, turned into chat messages for both stages.

The `paper` preset must stay byte-identical to the paper's released code (method.md), so that checkpoints
trained with that code see exactly the prompts they were trained on. Never "tidy" its strings.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from qassess.errors import UserError

PAPER_SYSTEM = (
    'A conversation between User and Assistant. The user asks a question, and the Assistant '
    'solves it. The assistant follows a human thinking logics.First describes the low-level '
    'visual contents (including the blur, noise, compression, darken or others) of the image, '
    'mainly focus on three aspects including the main subject of this image (why human takes '
    'this picture), the advantage of this image (what makes this image looks good) and the flaws '
    '(what makes the image looks bad). Second  thinks about the reasoning process in the mind '
    'and then provides the user with the answer. The description, reasoning and answer are '
    'enclosed within <caption></caption> <think> </think> and <answer> </answer> tags, '
    'respectively, i.e., <caption>description here</caption><think> reasoning process here '
    '</think><answer> answer here </answer>.'
)
PAPER_USER = (
    'What is your overall rating on the quality of this picture? The rating should be a float '
    'between 1 and 5, rounded to two decimal places, with 1 representing very poor quality and 5 '
    'representing excellent quality. The final answer in JSON format with the following keys: '
    '"rating": The score.'
)
QINSIGHT_SYSTEM = (
    'A conversation between User and Assistant. The user asks a question, and the Assistant '
    'solves it. The assistant first thinks about the reasoning process in the mind and then '
    'provides the user with the answer. The reasoning process and answer are enclosed within '
    '<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process '
    'here </think><answer> answer here </answer>'
)
PAPER_CAPTION_USER = (
    'If there is an image described as image_place_holder, what is your overall rating on the '
    'quality of this picture? The rating should be a float between 1 and 5, rounded to two '
    'decimal places, with 1 representing very poor quality and 5 representing excellent quality. '
    'The final answer in JSON format with the following keys: "rating": The score.'
)
QINSIGHT_USER = (
    'What is your overall rating on the quality of this picture? The rating should be a float '
    'between 1 and 5, rounded to two decimal places, with 1 representing very poor quality and 5 '
    'representing excellent quality. Return the final answer in JSON format with the following '
    'keys: "rating": The score.'
)


@dataclass(frozen=True)
class Template:
    """Both stages of one prompt style.

    Stage 1 sees the image; stage 2 (`caption_*`) sees only text, with `placeholder` in `caption_user`
    replaced by the stage-1 caption (plain replacement, so braces in user text are never interpreted).
    """

    name: str
    system: str
    user: str
    caption_system: str
    caption_user: str
    placeholder: str = "image_place_holder"
    image_first: bool = True

    def image_messages(self) -> list[dict]:
        image = {"type": "image"}
        text = {"type": "text", "text": self.user}
        content = [image, text] if self.image_first else [text, image]
        return _with_system(self.system, {"role": "user", "content": content})

    def caption_messages(self, caption: str) -> list[dict]:
        text = self.caption_user.replace(self.placeholder, caption)
        return _with_system(self.caption_system, {"role": "user", "content": [{"type": "text", "text": text}]})


def _with_system(system: str, user: dict) -> list[dict]:
    if not system:
        return [user]
    return [{"role": "system", "content": [{"type": "text", "text": system}]}, user]


TEMPLATES: dict[str, Template] = {
    # The paper's cascade (caption -> think -> answer; stage 2 from the caption alone).
    "paper": Template("paper", PAPER_SYSTEM, PAPER_USER, QINSIGHT_SYSTEM, PAPER_CAPTION_USER),
    # Score-only models trained Q-Insight style (think -> answer, no caption): stage 2 is unavailable
    # for their outputs, but the template still defines it so captions from elsewhere can be rated.
    "q-insight": Template("q-insight", QINSIGHT_SYSTEM, QINSIGHT_USER, QINSIGHT_SYSTEM, PAPER_CAPTION_USER),
}

_FIELDS = {f.name for f in fields(Template)} - {"name"}
_REQUIRED = {"system", "user", "caption_system", "caption_user"}


def get_template(name_or_path: str = "paper") -> Template:
    """A preset by name, or a YAML/JSON file with the fields of `Template` (name defaults to the stem)."""
    if name_or_path in TEMPLATES:
        return TEMPLATES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise UserError(f"unknown template {name_or_path!r}: use one of {', '.join(TEMPLATES)} or a .yaml/.json file")
    import yaml  # JSON is YAML too; safe_load never builds objects

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"template {path}: not valid YAML/JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"template {path}: expected a mapping with keys {', '.join(sorted(_REQUIRED))}")
    unknown = set(data) - _FIELDS - {"name"}
    if unknown:
        raise UserError(f"template {path}: unknown key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(_FIELDS))}")
    missing = _REQUIRED - set(data)
    if missing:
        raise UserError(f"template {path}: missing key(s) {', '.join(sorted(missing))}")
    bad = [k for k, v in data.items() if k != "image_first" and not isinstance(v, str)]
    if bad:
        raise UserError(f"template {path}: {', '.join(bad)} must be text")
    template = Template(**{"name": path.stem, **data})
    if template.placeholder not in template.caption_user:
        raise UserError(f"template {path}: caption_user must contain the placeholder {template.placeholder!r}")
    return template
