"""Named models qassess knows how to run as their authors did: hub id, prompts, sampling, answer format.

A preset is data, not code: `--model NAME` picks one, and its template and sampling become the defaults
for every option the user did not set. Each prompt is copied byte for byte from the authors' released
inference code, named below with repository, file and commit (tests pin each prompt by sha256), so
scores are comparable with the published ones. Users add presets in a YAML file (`--presets FILE` or
QASSESS_PRESETS), read with yaml.safe_load and checked key by key.

Hub revisions are not pinned (revision None = the hub's "main") because they could not be looked up
when this table was written (no hub access); the run manifest records the revision actually loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from qassess.errors import UserError
from qassess.registry import Registry

ENV_VAR = "QASSESS_PRESETS"
# The embedded default model: its folder under qassess/models/ and the name of its preset.
DEFAULT_ID = "qassess-demo-v1"
PACKAGED = "package:"  # model value of a preset shipped inside qassess (qassess.models)
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_new_tokens", "seed")
ANSWER_FORMATS = {
    "json-rating": 'JSON {"rating": x} inside <answer>',
    "number": "a bare number inside <answer>",
}


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    model: str  # hub id ("owner/name"), a local folder, or PACKAGED + folder name
    template: str  # a template preset name (qassess.core.prompts) or a template file
    sampling: dict = field(default_factory=dict, hash=False)  # SAMPLING_KEYS the authors set
    revision: str | None = None  # hub revision; None: "main"
    subfolder: str | None = None  # the model lives in this folder of the hub repository
    answer_format: str = "json-rating"
    scale: tuple[float, float] = (1.0, 5.0)
    licence: str = "unknown"
    paper: str | None = None
    source: dict = field(default_factory=dict, hash=False)  # where the prompt and sampling were copied from
    user: bool = False  # from a user presets file

    @property
    def packaged(self) -> bool:
        return self.model.startswith(PACKAGED)

    @property
    def hub_id(self) -> str | None:
        from qassess.backends.base import HUB_ID

        if self.packaged or Path(self.model).expanduser().exists() or not HUB_ID.match(self.model):
            return None
        return self.model

    def download_command(self) -> str | None:
        """The huggingface-cli line that fetches this preset into the local HF cache (None: nothing to fetch)."""
        if self.hub_id is None:
            return None
        parts = ["huggingface-cli", "download", self.hub_id]
        if self.revision:
            parts += ["--revision", self.revision]
        if self.subfolder:
            parts += ["--include", f"'{self.subfolder}/*'"]
        return " ".join(parts)


def _embedded(name: str, summary: str, note: str) -> Preset:
    """A model qassess trained and ships in the package: the paper's prompts, greedy decoding."""
    return Preset(
        name=name,
        summary=summary,
        model=PACKAGED + name,
        template="paper",
        sampling={"temperature": 0.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 1024, "seed": None},
        licence="Apache-2.0, as qassess itself (training photos: see data/photos for their licences)",
        paper="https://arxiv.org/abs/2512.16484",
        source={"repo": "qassess", "note": note},
    )


BUILTIN = Registry("preset")  # plugins: entry-point group qassess.presets (Preset objects)
for _preset in [
    _embedded(DEFAULT_ID, "qassess's embedded demo model (5.8M-parameter Qwen2.5-VL trained on synthetic distortions; "
                          "MODEL.md)", "trained by qassess with the paper's prompts; greedy decoding"),
    _embedded("qassess-demo-v2-sft", "the v2 build's supervised warm start (18 realistic synthetic distortions of "
                                     "109 photos, 256 vision tokens, subject-free captions); MODEL.md",
              "trained by qassess with the paper's prompts (make model); greedy decoding"),
    _embedded("qassess-demo-v2", "qassess-demo-v2-sft after GRPO with the paper's four rewards (tolerance 0.35): "
                                 "its caption-only rating ranks real photos better than the warm start's; MODEL.md",
              "trained by qassess with the paper's prompts and rewards (make model); greedy decoding"),
    Preset(
        name="qwen2.5-vl-7b",
        summary="Qwen2.5-VL-7B-Instruct, untrained for IQA, with the paper's caption/think/answer prompts",
        model="Qwen/Qwen2.5-VL-7B-Instruct",
        template="paper",
        sampling={"temperature": 1.0, "top_p": 0.95, "top_k": 50, "max_new_tokens": 1024, "seed": 42},
        licence="Apache-2.0 (Qwen2.5-VL-7B-Instruct model card)",
        paper="https://arxiv.org/abs/2512.16484",
        source={"repo": "the paper's released training code", "commit": "e506d7d",
                "note": "prompts as in qassess.core.prompts `paper` (checked against that code, see method notes); "
                        "sampling is the paper's evaluation setting (temperature 1, top-p 0.95, top-k 50, seed 42); "
                        "the paper's authors released no inference script or weights"},
    ),
    Preset(
        name="q-insight",
        summary="Q-Insight (ByteDance; NeurIPS 2025 spotlight per its README): Qwen2.5-VL-7B trained with GRPO, think -> JSON rating",
        model="ByteDance/Q-Insight",
        subfolder="score_degradation",
        template="q-insight-demo",
        sampling={"temperature": 1.0, "top_p": 0.95, "top_k": 50, "max_new_tokens": 1024, "seed": 42},
        licence="code Apache-2.0 (repository LICENSE); weights: see the model card",
        paper="https://arxiv.org/abs/2503.22679",
        source={"repo": "bytedance/Q-Insight", "file": "src/eval/demo_score.py",
                "commit": "08308fdb21c104f5ce09a99569391e1488f421be",
                "note": "SYSTEM_PROMPT + SCORE_QUESTION_PROMPT, text before the image; GenerationConfig(do_sample, "
                        "temperature 1.0, top_k 50, top_p 0.95, max_new_tokens 1024), set_seed(42); the training "
                        "script puts the image first (--template q-insight)"},
    ),
    Preset(
        name="visualquality-r1",
        summary="VisualQuality-R1-7B: Qwen2.5-VL-7B trained with RL to rank, think -> number",
        model="TianheWu/VisualQuality-R1-7B",
        template="visualquality-r1",
        sampling={"temperature": 0.1, "top_p": 1.0, "top_k": 50, "max_new_tokens": 512, "seed": 1},
        answer_format="number",
        licence="code Apache-2.0 (repository LICENSE); weights: see the model card",
        paper="https://arxiv.org/abs/2505.14460",
        source={"repo": "TianheWu/VisualQuality-R1", "file": "README.md",
                "commit": "a16dcdb64eea03a27afdb411d43cc1c9d723a1b2",
                "note": "'Thinking mode for inference' snippets: QUESTION_TEMPLATE.format(Question=PROMPT), no system "
                        "turn, image first, add_vision_id=True; sampling from the vLLM snippet (temperature 0.1, "
                        "top_k 50, top_p 1.0, max_tokens 512, LLM seed 1). Its transformers snippets set do_sample, "
                        "top_k 50, top_p 1 and leave the temperature to the model's generation_config"},
    ),
]:
    BUILTIN.register(_preset.name, _preset)

_USER_KEYS = {"summary", "model", "template", "sampling", "revision", "subfolder", "answer_format", "scale",
              "licence", "paper", "source"}


def load_user_presets(path: str | Path | None = None) -> dict[str, Preset]:
    """Presets from a YAML file (path, else $QASSESS_PRESETS, else none): `name: {model: ..., template: ...}`."""
    path = path or os.environ.get(ENV_VAR) or None
    if not path:
        return {}
    import yaml

    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UserError(f"presets file {path}: cannot read it ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"presets file {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"presets file {path}: expected a mapping of preset names to settings")
    out = {}
    for name, body in data.items():
        out[str(name)] = _user_preset(path, str(name), body)
    return out


def _user_preset(path: Path, name: str, body: object) -> Preset:
    where = f"presets file {path}, preset {name!r}"
    if name in BUILTIN:
        raise UserError(f"{where}: that name is a built-in preset; choose another")
    if not isinstance(body, dict):
        raise UserError(f"{where}: expected a mapping with at least `model`")
    unknown = set(body) - _USER_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                        f"valid: {', '.join(sorted(_USER_KEYS))}")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise UserError(f"{where}: `model` (a hub id or a folder) is required")
    sampling = body.get("sampling") or {}
    if not isinstance(sampling, dict) or set(sampling) - set(SAMPLING_KEYS):
        raise UserError(f"{where}: sampling takes only {', '.join(SAMPLING_KEYS)}")
    for key, value in sampling.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UserError(f"{where}: sampling.{key} must be a number")
    fmt = body.get("answer_format", "json-rating")
    if fmt not in ANSWER_FORMATS:
        raise UserError(f"{where}: answer_format must be one of {', '.join(ANSWER_FORMATS)}")
    scale = body.get("scale", [1.0, 5.0])
    if (not isinstance(scale, (list, tuple)) or len(scale) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale) or scale[0] >= scale[1]):
        raise UserError(f"{where}: scale must be [low, high]")
    text = {k: body.get(k) for k in ("summary", "template", "revision", "subfolder", "licence", "paper")}
    bad = [k for k, v in text.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise UserError(f"{where}: {', '.join(bad)} must be text")
    model = body["model"]
    if not Path(model).expanduser().is_absolute() and Path(path.parent, model).expanduser().exists():
        model = str(Path(path.parent, model))  # a folder named relative to the presets file
    source = body.get("source") or {"file": str(path)}
    return Preset(name=name, summary=text["summary"] or f"user preset from {path}", model=model,
                  template=text["template"] or "paper", sampling=dict(sampling), revision=text["revision"],
                  subfolder=text["subfolder"], answer_format=fmt, scale=(float(scale[0]), float(scale[1])),
                  licence=text["licence"] or "unknown", paper=text["paper"],
                  source=source if isinstance(source, dict) else {"note": str(source)}, user=True)


def all_presets(path: str | Path | None = None) -> dict[str, Preset]:
    return {**BUILTIN, **load_user_presets(path)}


def get_preset(name: str | None, path: str | Path | None = None) -> Preset | None:
    """The preset called `name` (built-in or from the user file), or None when it names none."""
    if not name:
        return None
    if name in BUILTIN:
        return BUILTIN[name]
    return load_user_presets(path).get(name)


def preset_for_hub_id(hub_id: str) -> Preset | None:
    """A built-in preset serving this hub id (for a hint: hub ids alone keep qassess's generic defaults)."""
    return next((p for p in BUILTIN.values() if p.hub_id and p.hub_id.lower() == hub_id.lower()), None)


__all__ = ["Preset", "BUILTIN", "all_presets", "get_preset", "load_user_presets", "preset_for_hub_id"]
