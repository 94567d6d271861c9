"""Training recipes: YAML -> typed sections, command-line overrides, errors that name the nearest key.

A recipe has the sections `model`, `data`, `template`, `rewards`, `lora` and `training`; `training` takes
any `trl.GRPOConfig` field and passes it through. Values are coerced to the declared types, so YAML's
`1e-6` (a string to PyYAML) still becomes a float; anything that cannot be coerced is a one-line error.
"""
from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qassess.errors import UserError
from qassess.registry import did_you_mean

PAPER_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# KonIQ-10k MOS (0-100) extremes used by the paper's normalized_score (SOURCE.md).
MOS_PRESETS: dict[str, tuple[float, float]] = {"koniq": (3.91, 88.39)}


@dataclass
class ModelSection:
    name_or_path: str = ""
    dtype: str = "auto"  # auto (the checkpoint's), float32, bfloat16, float16
    attn_implementation: str | None = None  # e.g. sdpa, flash_attention_2


@dataclass
class DataSection:
    scores: str = ""  # KonIQ-style CSV, a JSON list (Q-Insight/DeQA, Q-Reasoning) or JSONL
    images: str | None = None  # image root; default: the scores file's folder
    references: str | None = None  # Q-Reasoning annotations, joined by image name
    score_column: str | None = None  # default: detected (normalized_score, gt_score_norm, MOS_zscore, MOS, ...)
    image_column: str | None = None  # default: detected (image, image_name, images, ...)
    mos_range: Any = None  # [min, max], a preset name ("koniq"), or None: the data's own min and max
    higher_is_better: bool = True  # False for DMOS columns
    skip_missing: bool = False
    limit: int | None = None
    min_pixels: int = 3136
    max_pixels: int = 12845056


@dataclass
class RewardSpec:
    name: str = ""
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # the name logged (rewards/<label>/mean); default: name


@dataclass
class LoraSection:
    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(PAPER_LORA_TARGETS))
    freeze_vision: bool = True
    merge: bool = False  # also write the merged full model to <output_dir>/merged


@dataclass
class SftSection:
    """The supervised warm start's rows (method sft): every image with its caption/think/answer target,
    and for a `stage2` share of images also the caption-only row (caption in the prompt -> think + answer).
    `images: false` keeps only the caption-only rows: a stage that teaches rating a caption, the one
    thing a model that can read the image has no need to learn from mixed rows (MODEL.md)."""
    stage2: float = 0.5
    images: bool = True


@dataclass
class Recipe:
    model: ModelSection
    data: DataSection
    template: str = "paper"
    rewards: list[RewardSpec] = field(default_factory=list)
    lora: LoraSection = field(default_factory=LoraSection)
    training: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the YAML file it came from
    method: str = "grpo"  # grpo (TRL GRPOTrainer) or sft (TRL SFTTrainer on the reference texts)
    sft: SftSection = field(default_factory=SftSection)


SECTIONS = {"model": ModelSection, "data": DataSection, "lora": LoraSection, "sft": SftSection}
TOP_LEVEL = ("method", "model", "data", "template", "rewards", "lora", "sft", "training")
METHODS = ("grpo", "sft")
# Set through our own sections, so passing them in `training` would be ambiguous.
RESERVED_TRAINING = {"reward_weights": "set `weight` on each reward", "model_init_kwargs": "use the model section"}


# ------------------------------------------------------------------------------------------ helpers


def _unknown(key: str, where: str, valid: typing.Iterable[str]) -> UserError:
    return UserError(f"unknown key {key!r} in {where}{did_you_mean(key, valid)}")


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in annotation)
    if isinstance(annotation, type):
        return {"str": "text", "float": "a number", "int": "an integer", "bool": "true/false"}.get(
            annotation.__name__, annotation.__name__)
    return str(annotation).replace("typing.", "")


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _union_rank(option: Any) -> int:
    if option in (bool, int, float) or (isinstance(option, type) and issubclass(option, enum.Enum)):
        return 0
    return 1 if option is str else 2


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """`value` as `annotation` (str/int/float/bool/list/dict/Enum/unions/Any), or a UserError naming `where`."""
    if annotation is Any or annotation is typing.Any:
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None:
            if type(None) in options:
                return None
            raise UserError(f"{where}: a value is required")
        # Scalars first, then text, then containers: "2e-6" becomes a float where one fits, and "none"
        # stays text rather than a one-item list.
        ordered = sorted((o for o in options if o is not type(None)), key=_union_rank)
        for option in ordered:
            try:
                return coerce(value, option, where)
            except UserError:
                continue
        hint = " (quote it in YAML)" if isinstance(value, bool) and bool not in ordered else ""
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        raise UserError(f"{where}: expected {' or '.join(_describe(o) for o in ordered)}, got {shown}{hint}")
    if value is None:
        raise UserError(f"{where}: a value is required")
    if origin in (list, tuple) or annotation in (list, tuple):
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        return [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if isinstance(value, str):
            import yaml

            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise UserError(f"{where}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{where}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, bool):  # YAML 1.1 reads `no`/`off` as false
            raise UserError(f"{where}: expected text, got {str(value).lower()} (quote it in YAML)")
        if isinstance(value, (str, int, float)):
            return str(value)
        raise UserError(f"{where}: expected text, got {value!r}")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            valid = ", ".join(str(m.value) for m in annotation)
            raise UserError(f"{where}: expected one of {valid}, got {value!r}") from None
    return value


def _section(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        if key not in hints:
            raise _unknown(str(key), where, names)
        values[key] = coerce(value, hints[key], f"{where}.{key}")
    return cls(**values)


def grpo_fields(method: str = "grpo") -> dict[str, Any]:
    """Name -> type of every `trl.GRPOConfig` field (`trl.SFTConfig` for method sft; imports trl)."""
    from trl import GRPOConfig, SFTConfig

    cls = SFTConfig if method == "sft" else GRPOConfig
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _training(raw: Any, method: str = "grpo") -> dict[str, Any]:
    config = "SFTConfig" if method == "sft" else "GRPOConfig"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"training: expected a mapping of {config} fields, got {type(raw).__name__}")
    known = grpo_fields(method)
    values = {}
    for key, value in raw.items():
        if key in RESERVED_TRAINING:
            raise UserError(f"training.{key} is not used here: {RESERVED_TRAINING[key]}")
        if key not in known:
            raise _unknown(str(key), f"training ({config} fields)", known)
        values[key] = coerce(value, known[key], f"training.{key}")
    return values


def _rewards(raw: Any) -> list[RewardSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserError("rewards: expected a list of {name, weight, params, label} entries")
    specs = []
    for i, entry in enumerate(raw):
        if isinstance(entry, str):
            entry = {"name": entry}
        spec = _section(RewardSpec, entry, f"rewards[{i}]")
        if not spec.name:
            raise UserError(f"rewards[{i}]: `name` is required")
        specs.append(spec)
    return specs


# -------------------------------------------------------------------------------------- public API


def parse_recipe(raw: Any, source: str | None = None) -> Recipe:
    """A Recipe from an already-loaded mapping (validated; no file or model is touched)."""
    if not isinstance(raw, dict):
        raise UserError(f"recipe{f' {source}' if source else ''}: expected a mapping at the top level")
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown(str(key), "the recipe", TOP_LEVEL)
    method = coerce(raw.get("method", "grpo"), str, "method").lower()
    if method not in METHODS:
        raise UserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    recipe = Recipe(
        model=_section(ModelSection, raw.get("model"), "model"),
        data=_section(DataSection, raw.get("data"), "data"),
        template=coerce(raw.get("template", "paper"), str, "template"),
        rewards=_rewards(raw.get("rewards")),
        lora=_section(LoraSection, raw.get("lora"), "lora"),
        training=_training(raw.get("training"), method),
        source=source,
        method=method,
        sft=_section(SftSection, raw.get("sft"), "sft"),
    )
    if not 0 <= recipe.sft.stage2 <= 1:
        raise UserError(f"sft.stage2 is a share of images, between 0 and 1; got {recipe.sft.stage2}")
    if not recipe.sft.images and not recipe.sft.stage2:
        raise UserError("sft: with images: false, stage2 must be above 0, or there is nothing to train on")
    if not recipe.model.name_or_path:
        raise UserError("model.name_or_path is required")
    if not recipe.data.scores:
        raise UserError("data.scores is required (a CSV or JSON file of images and scores)")
    mos_range(recipe.data)  # validate early
    return recipe


def mos_range(data: DataSection) -> tuple[float, float] | None:
    """The (min, max) for min-max scaling, or None to take it from the data."""
    value = data.mos_range
    if value is None:
        return None
    if isinstance(value, str):
        if value.lower() in MOS_PRESETS:
            return MOS_PRESETS[value.lower()]
        raise UserError(f"data.mos_range: unknown preset {value!r}{did_you_mean(value, MOS_PRESETS)}; "
                        f"use {', '.join(MOS_PRESETS)} or [min, max]")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = (coerce(v, float, "data.mos_range") for v in value)
        if not lo < hi:
            raise UserError(f"data.mos_range: min must be below max, got [{lo}, {hi}]")
        return lo, hi
    raise UserError(f"data.mos_range: expected [min, max] or a preset name, got {value!r}")


def load_recipe(path: str | Path, overrides: typing.Sequence[str] = ()) -> Recipe:
    """Read a YAML recipe (yaml.safe_load; `extends: other.yaml` first), apply `--key value` overrides,
    validate."""
    path = Path(path)
    raw = read_raw(path)
    raw = apply_overrides(raw, parse_overrides(overrides))
    return parse_recipe(raw, source=str(path))


def read_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The recipe mapping with its `extends` chain resolved (relative to the file): mappings merge key by
    key, anything else (lists such as `rewards` included) replaces the parent's value."""
    import yaml

    if not path.is_file():
        raise UserError(f"recipe not found: {path}")
    if path.resolve() in _seen:
        raise UserError(f"recipe {path}: `extends` loops back to itself")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise UserError(f"recipe {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise UserError(f"recipe {path}: not a text file") from None
    if raw is None:
        raise UserError(f"recipe {path} is empty")
    if not isinstance(raw, dict):
        raise UserError(f"recipe {path}: expected a mapping at the top level")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise UserError(f"recipe {path}: `extends` must be a file name")
    return _merge(read_raw(path.parent / parent, (*_seen, path.resolve())), raw)


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def parse_overrides(args: typing.Sequence[str]) -> list[tuple[str, str | None]]:
    """`--key value`, `--key=value` and bare `--flag` (true) into (key, raw value) pairs."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise UserError(f"unexpected argument {arg!r}: overrides look like --key value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
            else:
                value = None  # a bare flag
        pairs.append((key.replace("-", "_"), value))
        i += 1
    return pairs


def _override_value(raw: str | None) -> Any:
    if raw is None:
        return True
    text = raw.strip()
    if text in ("null", "None", "~"):
        return None
    if text[:1] in "[{":
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise UserError(f"cannot read override value {raw!r} as YAML") from None
    return raw  # typed later, against the field it lands in


def _locate(key: str) -> list[str]:
    """Where an override key goes: an explicit `section.key`, or a bare key that names exactly one field."""
    if "." in key:
        return key.split(".")
    if key in ("template", "method", "rewards"):
        return [key]
    homes = [name for name, cls in SECTIONS.items() if key in {f.name for f in dataclasses.fields(cls)}]
    if key in grpo_fields() or key in grpo_fields("sft"):
        homes.append("training")
    if len(homes) == 1:
        return [homes[0], key]
    if len(homes) > 1:
        raise UserError(f"--{key} is ambiguous: write --{homes[0]}.{key} or --{homes[1]}.{key}")
    valid = [f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)] + list(grpo_fields())
    raise UserError(f"unknown option --{key}{did_you_mean(key, valid)}")


def apply_overrides(raw: dict, pairs: typing.Sequence[tuple[str, Any]], typed: bool = False) -> dict:
    """A copy of the raw recipe mapping with the overrides set (validation happens in parse_recipe).
    `typed`: the values are already YAML values (a sweep file's), not command-line text."""
    import copy

    raw = copy.deepcopy(raw)
    for key, value in pairs:
        path = _locate(key)
        value = value if typed else _override_value(value)
        if path == ["rewards"]:  # the whole list (an ablation drops or swaps rewards)
            if not isinstance(value, list):
                raise UserError(f"--rewards: expected a list of rewards, e.g. [format, {{name: prediction}}], "
                                f"got {value!r}")
            raw["rewards"] = [{"name": e} if isinstance(e, str) else e for e in value]  # `format` = {name: format}
            continue
        if path[0] == "rewards":
            _override_reward(raw, path, value)
            continue
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise UserError(f"--{key}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return raw


def _override_reward(raw: dict, path: list[str], value: Any) -> None:
    """`--rewards.<label or name>.weight 2` or `--rewards.<label or name>.<param> value`."""
    if len(path) != 3:
        raise UserError("reward overrides look like --rewards.<name>.weight 2, --rewards.<name>.<param> value "
                        "or --rewards '[format, {name: prediction}]' (the whole list)")
    _, which, key = path
    entries = raw.get("rewards") or []
    matches = [e for e in entries if isinstance(e, dict) and (e.get("label") or e.get("name")) == which]
    if len(matches) != 1:
        names = [e.get("label") or e.get("name") for e in entries if isinstance(e, dict)]
        raise UserError(f"--rewards.{which}: no reward labelled {which!r}{did_you_mean(which, names)}")
    entry = matches[0]
    if key in ("weight", "label", "name"):
        entry[key] = value
    else:
        entry.setdefault("params", {})
        entry["params"] = {**(entry["params"] or {}), key: value}


def to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain data (saved next to the trained model)."""
    return {
        "model": dataclasses.asdict(recipe.model),
        "data": dataclasses.asdict(recipe.data),
        "method": recipe.method,
        "template": recipe.template,
        "rewards": [dataclasses.asdict(r) for r in recipe.rewards],
        "lora": dataclasses.asdict(recipe.lora),
        "training": {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in recipe.training.items()},
    }
