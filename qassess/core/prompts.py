"""Prompt templates: named presets plus user files, turned into chat messages for both stages.

The `paper` preset must stay byte-identical to the paper's released code (its source: models/presets.py), so that checkpoints
trained with that code see exactly the prompts they were trained on. Never "tidy" its strings.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from qassess.errors import UserError
from qassess.registry import Registry

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
# Q-Insight's inference demo, ByteDance/Q-Insight src/eval/demo_score.py @ 08308fdb21c104f5ce09a99569391e1488f421be
# (file unchanged since 0dcad791): the same SYSTEM_PROMPT and SCORE_QUESTION_PROMPT strings as QINSIGHT_SYSTEM /
# QINSIGHT_USER above, but the user turn puts the text BEFORE the image. Its training script
# (src/open-r1-multimodal/src/open_r1/qinsight_multi_task.py) puts the image first, as `q-insight` does.
# VisualQuality-R1's inference code, TianheWu/VisualQuality-R1 README.md @ a16dcdb64eea03a27afdb411d43cc1c9d723a1b2
# ("Thinking mode for inference": the single-image, batch and vLLM snippets agree): no system turn (Qwen's
# chat template then adds its default one), image first, `QUESTION_TEMPLATE.format(Question=PROMPT)`, and
# apply_chat_template(..., add_vision_id=True). Kept as the two source literals and joined the same way.
VQR1_PROMPT = (
    "You are doing the image quality assessment task. Here is the question: "
    "What is your overall rating on the quality of this picture? The rating should be a float between 1 and 5, "
    "rounded to two decimal places, with 1 representing very poor quality and 5 representing excellent quality."
)
VQR1_QUESTION_TEMPLATE = "{Question} First output the thinking process in <think> </think> tags and then output the final answer with only one score in <answer> </answer> tags."
VQR1_USER = VQR1_QUESTION_TEMPLATE.format(Question=VQR1_PROMPT)


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
    # Extra apply_chat_template arguments the authors used (e.g. add_vision_id); they change the prompt bytes.
    chat_template_kwargs: dict = field(default_factory=dict, hash=False, compare=True)

    @property
    def has_caption_stage(self) -> bool:
        return bool(self.caption_user)

    def sha256(self) -> str:
        """Digest of everything that shapes the prompt (not the name): what a run manifest records, so two
        runs can be shown to have used the same prompts even if the template was renamed or copied."""
        data = {k: v for k, v in asdict(self).items() if k != "name"}
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def image_messages(self) -> list[dict]:
        image = {"type": "image"}
        text = {"type": "text", "text": self.user}
        content = [image, text] if self.image_first else [text, image]
        return _with_system(self.system, {"role": "user", "content": content})

    def caption_messages(self, caption: str) -> list[dict]:
        if not self.has_caption_stage:
            raise UserError(f"template {self.name!r} has no caption-only stage (its model was never given one); "
                            "caption mode and --self-check need a template that has one, e.g. paper")
        text = self.caption_user.replace(self.placeholder, caption)
        return _with_system(self.caption_system, {"role": "user", "content": [{"type": "text", "text": text}]})


def _with_system(system: str, user: dict) -> list[dict]:
    if not system:
        return [user]
    return [{"role": "system", "content": [{"type": "text", "text": system}]}, user]


TEMPLATES = Registry("template")  # plugins: entry-point group qassess.templates (Template objects)
for _name, _template in {
    # The paper's cascade (caption -> think -> answer; stage 2 from the caption alone).
    "paper": Template("paper", PAPER_SYSTEM, PAPER_USER, QINSIGHT_SYSTEM, PAPER_CAPTION_USER),
    # Score-only models trained Q-Insight style (think -> answer, no caption): stage 2 is unavailable
    # for their outputs, but the template still defines it so captions from elsewhere can be rated.
    "q-insight": Template("q-insight", QINSIGHT_SYSTEM, QINSIGHT_USER, QINSIGHT_SYSTEM, PAPER_CAPTION_USER),
    # Q-Insight's released inference demo: the same strings, text before the image (see above).
    "q-insight-demo": Template("q-insight-demo", QINSIGHT_SYSTEM, QINSIGHT_USER, QINSIGHT_SYSTEM, PAPER_CAPTION_USER,
                               image_first=False),
    # VisualQuality-R1 (think -> answer with a bare number); no caption stage was ever released for it.
    "visualquality-r1": Template("visualquality-r1", "", VQR1_USER, "", "",
                                 chat_template_kwargs={"add_vision_id": True}),
}.items():
    TEMPLATES.register(_name, _template)

_FIELDS = {f.name for f in fields(Template)} - {"name"}
_REQUIRED = {"system", "user", "caption_system", "caption_user"}


def get_template(name_or_path: str = "paper") -> Template:
    """A preset by name, or a YAML/JSON file with the fields of `Template` (name defaults to the stem)."""
    if name_or_path in TEMPLATES:
        return TEMPLATES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise TEMPLATES.unknown(name_or_path, f"use one of {', '.join(TEMPLATES)} or a .yaml/.json file")
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
    bad = [k for k, v in data.items() if k not in ("image_first", "chat_template_kwargs") and not isinstance(v, str)]
    if bad:
        raise UserError(f"template {path}: {', '.join(bad)} must be text")
    if not isinstance(data.get("image_first", True), bool):
        raise UserError(f"template {path}: image_first must be true or false")
    if not isinstance(data.get("chat_template_kwargs", {}), dict):
        raise UserError(f"template {path}: chat_template_kwargs must be a mapping (e.g. add_vision_id: true)")
    template = Template(**{"name": path.stem, **data})
    if template.caption_user and template.placeholder not in template.caption_user:
        raise UserError(f"template {path}: caption_user must contain the placeholder {template.placeholder!r}")
    return template
