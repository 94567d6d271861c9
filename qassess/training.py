"""`qassess train`: GRPO on Qwen2.5-VL with TRL's GRPOTrainer (not forked), from a Recipe.

Reading order: the training data (scores, MOS scaling, human references, image checks), the dataset TRL
reads, the stage-2 generation used by the self-consistency reward, the callbacks (JSONL log, progress
line), then `train`, which wires them into GRPOTrainer and writes the output directory:

    OUT/adapter_model.safetensors, adapter_config.json   the LoRA adapter (base model path inside)
    OUT/processor files                                    loadable by stock AutoProcessor
    OUT/qassess_train.json                                 the recipe used and the score scaling applied
    OUT/train_log.jsonl                                    one line per logging step (per-reward means)
    OUT/merged/                                            the merged full model, with `lora.merge`
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from qassess.errors import UserError
from qassess.recipes import DataSection, Recipe, mos_range, to_dict

SCALE = (1.0, 5.0)
# Columns already on [1, 5] (used as they are) and raw MOS columns (min-max scaled), in detection order.
SCALED_SCORE_COLUMNS = ("normalized_score", "gt_score_norm")
RAW_SCORE_COLUMNS = ("mos_zscore", "mos", "ori_score", "quality", "gt_score", "score")
IMAGE_COLUMNS = ("image", "image_name", "images", "img", "image_path", "img_path", "path", "file", "filename",
                 "file_name")
REFERENCE_FIELDS = ("description", "good_aspect", "bad_aspect")
RUN_INFO = "qassess_train.json"
LOG_FILE = "train_log.jsonl"
MERGED_DIR = "merged"


# ------------------------------------------------------------------------------------- training data


@dataclass(frozen=True)
class Example:
    image_name: str
    image_path: str
    score: float  # on [1, 5]
    reference: str  # human reasoning text, "" when the image has none


@dataclass
class TrainingData:
    examples: list[Example]
    score_column: str
    scaling: dict[str, Any]  # how raw scores became [1, 5] (saved with the model)
    skipped: list[str] = field(default_factory=list)  # images missing or unreadable (with skip_missing)

    @property
    def with_reference(self) -> int:
        return sum(bool(e.reference) for e in self.examples)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV/TSV, JSON or JSONL file. JSON may be a list of objects, an object keyed by image
    name (`{name: {...}}`), or a list of such one-key objects (Q-Reasoning's filted_data_*.json)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return _csv_rows(path)
    if suffix in (".json", ".jsonl", ".ndjson"):
        text = _text(path)
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        else:
            data = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        data.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        return _json_rows(data, path)
    raise UserError(f"{path}: unsupported data file type {suffix or '(none)'}; use .csv, .tsv, .json or .jsonl")


def _text(path: Path) -> str:
    data = path.read_bytes()
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    import csv
    import io

    text = _text(path)
    header = text.split("\n", 1)[0]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:  # the separator that occurs most in the header line
        delimiter = max([",", ";", "\t", "|"], key=header.count) if any(d in header for d in ",;\t|") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [r for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        raise UserError(f"{path} is empty")
    names = [h.strip() for h in rows[0]]
    out = []
    for number, record in enumerate(rows[1:], 2):
        if len(record) > len(names):
            raise UserError(f"{path}:{number}: {len(record)} fields but the header has {len(names)}")
        out.append({name: value.strip() for name, value in zip(names, record)})
    return out


def _json_rows(data: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        if all(isinstance(v, dict) for v in data.values()):
            return [{"image": k, **v} for k, v in data.items()]
        raise UserError(f"{path}: expected a list of objects or an object of {{image: {{...}}}}")
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of objects")
    rows = []
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise UserError(f"{path}[{i}]: expected an object, found {type(row).__name__}")
        if len(row) == 1 and isinstance(next(iter(row.values())), dict) and not _has_image_key(row):
            name, inner = next(iter(row.items()))
            row = {"image": name, **inner}
        rows.append(row)
    return rows


def _has_image_key(row: dict) -> bool:
    return any(str(k).strip().lower() in IMAGE_COLUMNS for k in row)


def _find_column(rows: list[dict], explicit: str | None, candidates: Iterable[str], what: str, path: str) -> str:
    columns: dict[str, None] = {}
    for row in rows[:1000]:
        columns.update(dict.fromkeys(row))
    folded = {str(c).strip().lower(): c for c in reversed(list(columns))}
    for name in ([explicit] if explicit else candidates):
        if name in columns:
            return name
        if name.strip().lower() in folded:
            return folded[name.strip().lower()]
    present = ", ".join(map(str, columns)) or "none"
    looked = repr(explicit) if explicit else "one of " + ", ".join(candidates)
    raise UserError(f"{path}: no {what} column (looked for {looked}); columns: {present}")


def _image_name(value: Any, where: str) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise UserError(f"{where}: {len(value)} images in one row; one image per row is supported")
        value = value[0]
    if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
        raise UserError(f"{where}: empty image name")
    return str(value).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def reference_text(row: dict[str, Any]) -> str:
    """The human reasoning text of one Q-Reasoning row: the English parts of description, good_aspect
    and bad_aspect joined by spaces ("" when absent). Accepts the `<translation>` strings of
    koniq_cot_constrain/mixed_cot, the `{"answer": ...}` objects of human_test and the lists of
    filted_data_human_eng. (The paper's code concatenated them with no space, fusing boundary words.)"""
    parts = [_english(row.get(key)) for key in REFERENCE_FIELDS]
    return " ".join(p for p in parts if p)


def _english(value: Any) -> str:
    import re

    if value is None or isinstance(value, (bool, int, float)):
        return ""
    if isinstance(value, list):
        return " ".join(p for p in (_english(v) for v in value) if p)
    if isinstance(value, dict):
        if "answer" in value:
            return _english(value["answer"])
        return " ".join(p for p in (_english(v) for v in value.values()) if p)
    text = str(value)
    translations = re.findall(r"<translation>(.*?)</translation>", text, re.S | re.I)
    if translations:
        text = " ".join(translations)
    elif re.search(r"<summarize>", text, re.I):  # a summary without translation is not English
        text = re.sub(r"<summarize>.*?(</summarize>|$)", " ", text, flags=re.S | re.I)
    return " ".join(text.split())


def _scale(raw: list[float], column: str, data: DataSection) -> tuple[list[float], dict[str, Any]]:
    """Raw scores -> [1, 5]: min-max `1 + 4 (x - min) / (max - min)` as the paper (flipped for DMOS)."""
    as_is = column.strip().lower() in SCALED_SCORE_COLUMNS
    given = mos_range(data)
    if as_is:
        if given is not None:
            raise UserError(f"data.mos_range is set, but column {column!r} is already on [1, 5]; "
                            "set data.score_column to the raw MOS column or drop mos_range")
        scores = raw if data.higher_is_better else [6.0 - x for x in raw]
        info = {"column": column, "rule": "as is" if data.higher_is_better else "6 - x"}
    else:
        lo, hi = given if given is not None else (min(raw), max(raw))
        if not hi > lo:
            raise UserError(f"cannot min-max scale column {column!r}: every score is {lo:g}; set data.mos_range")
        if data.higher_is_better:
            scores = [1.0 + 4.0 * (x - lo) / (hi - lo) for x in raw]
        else:
            scores = [1.0 + 4.0 * (hi - x) / (hi - lo) for x in raw]
        info = {"column": column, "rule": "1 + 4 (x - min) / (max - min)" if data.higher_is_better
                else "1 + 4 (max - x) / (max - min)", "min": lo, "max": hi,
                "range_from": "recipe" if given is not None else "data"}
    outside = [x for x, s in zip(raw, scores) if not SCALE[0] - 1e-6 <= s <= SCALE[1] + 1e-6]
    if outside:
        raise UserError(f"{len(outside)} scores of column {column!r} fall outside [1, 5] after scaling "
                        f"({info['rule']}), e.g. {outside[0]:g}; check data.mos_range / data.score_column")
    return [min(SCALE[1], max(SCALE[0], s)) for s in scores], info


def _image_problem(path: Path) -> str | None:
    """Why an image cannot be used (header check only, no decode), or None."""
    from PIL import Image

    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Exception as exc:  # Pillow raises many types on broken files
        return f"unreadable ({type(exc).__name__})"
    return None if width > 0 and height > 0 else "empty image"


def load_training_data(data: DataSection) -> TrainingData:
    """Examples with a score on [1, 5] and the human reference text, images checked to exist."""
    rows = read_rows(data.scores)
    if not rows:
        raise UserError(f"{data.scores} holds no rows")
    if data.limit is not None and data.limit < 1:
        raise UserError(f"data.limit must be >= 1, got {data.limit}")
    image_col = _find_column(rows, data.image_column, IMAGE_COLUMNS, "image", data.scores)
    score_col = _find_column(rows, data.score_column, SCALED_SCORE_COLUMNS + RAW_SCORE_COLUMNS, "score",
                             data.scores)
    names = [_image_name(row.get(image_col), f"{data.scores} row {i + 1}") for i, row in enumerate(rows)]
    raw = [_number(row.get(score_col)) for row in rows]
    bad = [i + 1 for i, x in enumerate(raw) if x is None]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        raise UserError(f"{data.scores}: {len(bad)} rows have no numeric {score_col!r} (rows {shown})")
    scores, scaling = _scale(raw, score_col, data)  # type: ignore[arg-type]
    if data.limit is not None:  # after scaling: a subset keeps the targets the full data gives
        names, rows, scores = names[: data.limit], rows[: data.limit], scores[: data.limit]

    references = {_key(n): reference_text(row) for n, row in zip(names, rows)}
    if data.references:
        ref_rows = read_rows(data.references)
        ref_col = _find_column(ref_rows, None, IMAGE_COLUMNS, "image", data.references)
        for i, row in enumerate(ref_rows):
            text = reference_text(row)
            if text:
                references[_key(_image_name(row.get(ref_col), f"{data.references} row {i + 1}"))] = text

    root = Path(data.images) if data.images else Path(data.scores).parent
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    examples, problems = [], []
    for name, score in zip(names, scores):
        path = root / name
        problem = _image_problem(path)
        if problem:
            problems.append(f"{name} ({problem})")
            continue
        examples.append(Example(name, str(path), score, references.get(_key(name), "")))
    if problems and not data.skip_missing:
        shown = ", ".join(problems[:5]) + (", ..." if len(problems) > 5 else "")
        raise UserError(f"{len(problems)} of {len(names)} images missing or unreadable under {root}: {shown} "
                        "(--skip-missing to train without them)")
    if not examples:
        raise UserError(f"no usable images under {root}")
    return TrainingData(examples, score_col, scaling, problems)


def _key(name: str) -> str:
    """Join key between score rows and annotations: the file name without folders."""
    return Path(name.replace("\\", "/")).name


# ------------------------------------------------------------------------------------------ dataset


def build_dataset(examples: list[Example], template, min_pixels: int, max_pixels: int):
    """A `datasets.Dataset` whose rows load their image on access (7k KonIQ images do not fit in RAM).

    TRL reads `prompt` (the template's stage-1 chat) and `image`; every column, `score` and `reference`
    included, reaches the reward functions."""
    from datasets import Dataset

    from qassess.inputs import ImageLoadError, PixelBudget, load_image

    budget = PixelBudget(min_pixels=min_pixels, max_pixels=max_pixels)
    messages = template.image_messages()
    table = Dataset.from_dict({k: [getattr(e, k) for e in examples] for k in Example.__dataclass_fields__})

    def attach(batch: dict[str, list]) -> dict[str, list]:
        images = []
        for path in batch["image_path"]:
            try:
                images.append(load_image(path, budget))
            except ImageLoadError as exc:
                raise UserError(f"{path}: {exc}") from None
        return {**batch, "image": images, "prompt": [messages for _ in images]}

    return table.with_transform(attach)


# ----------------------------------------------------------------------------- stage-2 generation


def generate_with_trainer(trainer, conversations: list[list[dict]], max_new_tokens: int,
                          temperature: float | None) -> list[str]:
    """Text-only completions from the trainer's current policy, all in one batched call, no gradient.

    Uses TRL's vLLM engine when the trainer generates with vLLM, else `generate` on the unwrapped model
    (TRL's own pattern: adapters active, gradient checkpointing off while generating)."""
    processing = trainer.processing_class
    tokenizer = getattr(processing, "tokenizer", processing)
    texts = [processing.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    if getattr(trainer, "use_vllm", False):
        return _generate_vllm(trainer, tokenizer, texts, max_new_tokens, temperature)
    return _generate_transformers(trainer, tokenizer, texts, max_new_tokens, temperature)


def _generate_transformers(trainer, tokenizer, texts: list[str], max_new_tokens: int,
                           temperature: float | None) -> list[str]:
    import copy

    import torch
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled
    from trl.models import unwrap_model_for_generation

    if not texts and not is_deepspeed_zero3_enabled():
        return []
    # Under ZeRO-3 every rank must take part in the parameter gathering: a rank with nothing to rate
    # generates one throwaway prompt.
    batch = texts or [tokenizer.eos_token or " "]
    config = copy.deepcopy(trainer.generation_config)
    config.max_new_tokens = max_new_tokens
    if temperature is not None:
        config.do_sample = temperature > 0
        config.temperature = temperature if temperature > 0 else 1.0
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        inputs = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = padding_side
    inputs = {k: v.to(trainer.accelerator.device) for k, v in inputs.items()}
    with (
        unwrap_model_for_generation(
            trainer.model_wrapped,
            trainer.accelerator,
            gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
            gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
        ) as model,
        torch.no_grad(),
    ):
        output = model.generate(**inputs, generation_config=config)
    completions = output[:, inputs["input_ids"].shape[1]:]
    decoded = [tokenizer.decode(_until_eos(ids.tolist(), trainer.eos_token_ids), skip_special_tokens=True)
               for ids in completions]
    return decoded if texts else []


def _until_eos(ids: list[int], eos: list[int]) -> list[int]:
    for i, token in enumerate(ids):
        if token in eos:
            return ids[:i]
    return ids


def _generate_vllm(trainer, tokenizer, texts: list[str], max_new_tokens: int, temperature: float | None
                   ) -> list[str]:
    """Through TRL's VLLMGeneration (weights already synced for this step by stage 1)."""
    engine = trainer.vllm_generation
    saved = engine.max_completion_length, engine.temperature
    engine.max_completion_length = max_new_tokens
    if temperature is not None:
        engine.temperature = temperature
    try:
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        _, completion_ids, _, _ = engine.generate(prompts=ids, images=None, num_generations=1)
    finally:
        engine.max_completion_length, engine.temperature = saved
    return [tokenizer.decode(list(c), skip_special_tokens=True) for c in completion_ids]


# -------------------------------------------------------------------------------------- callbacks


def _callbacks(output_dir: Path, show_progress: bool) -> list:
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):
        """Every log TRL emits (loss, reward, rewards/<name>/mean, step_time...) as one JSON line."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record = {"step": state.global_step, "time": round(time.time(), 3)}
            record.update({k: _plain(v) for k, v in logs.items()})
            with open(output_dir / LOG_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    class Progress(TrainerCallback):
        """A rich progress bar with the latest reward and per-reward means."""

        def __init__(self):
            self.progress = None
            self.task = None

        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.description}"), transient=False)
            self.progress.start()
            self.task = self.progress.add_task("", total=state.max_steps, completed=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.progress is None or not logs or not isinstance(logs.get("reward"), (int, float)):
                return
            parts = [f"reward {logs['reward']:.3f}"]
            parts += [f"{k.split('/')[1]} {v:.3f}" for k, v in logs.items()
                      if k.startswith("rewards/") and k.endswith("/mean") and isinstance(v, (int, float))]
            self.progress.update(self.task, description=parts[0])
            self.progress.console.print(f"step {state.global_step}: " + ", ".join(parts), highlight=False,
                                        soft_wrap=True)

        def on_train_end(self, args, state, control, **kwargs):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return [JsonlLog()] + ([Progress()] if show_progress else [])


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


# ------------------------------------------------------------------------------------------- wiring


def grpo_config(recipe: Recipe, output_dir: Path, reward_weights: list[float] | None = None):
    """GRPOConfig from the recipe's `training` section plus qassess's defaults (CPU-safe precision)."""
    import torch
    from trl import GRPOConfig

    kwargs: dict[str, Any] = {"report_to": "none", "logging_steps": 1, "disable_tqdm": True}
    kwargs.update({k: v for k, v in recipe.training.items() if k != "resume_from_checkpoint"})
    kwargs["output_dir"] = str(output_dir)
    kwargs["reward_weights"] = reward_weights
    if "bf16" not in recipe.training and not torch.cuda.is_available():
        kwargs["bf16"] = False  # TRL defaults to bf16, which needs a GPU
    kwargs["model_init_kwargs"] = {"dtype": recipe.model.dtype}
    if recipe.model.attn_implementation:
        kwargs["model_init_kwargs"]["attn_implementation"] = recipe.model.attn_implementation
    try:
        return GRPOConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise UserError(f"training: {' '.join(str(exc).split())}") from None


def lora_config(recipe: Recipe):
    """LoRA on the language model's projections; the vision tower stays frozen unless asked otherwise."""
    if not recipe.lora.enabled:
        return None
    from peft import LoraConfig

    section = recipe.lora
    if section.r < 1 or not section.target_modules:
        raise UserError("lora: r must be >= 1 and target_modules must not be empty")
    return LoraConfig(
        r=section.r,
        lora_alpha=section.alpha,
        lora_dropout=section.dropout,
        target_modules=list(section.target_modules),
        exclude_modules=r".*\bvisual\b.*" if section.freeze_vision else None,
        task_type="CAUSAL_LM",
    )


def resume_checkpoint(recipe: Recipe, output_dir: Path) -> str | None:
    """`training.resume_from_checkpoint`: a path, `last`, `false` (start over), or unset: the last
    checkpoint in the output directory when there is one."""
    from transformers.trainer_utils import get_last_checkpoint

    value = recipe.training.get("resume_from_checkpoint")
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if value is None:
        return last
    text = str(value).strip()
    if text.lower() in ("false", "no", "none", ""):
        return None
    if text.lower() in ("last", "true", "yes"):
        if last is None:
            raise UserError(f"resume_from_checkpoint: no checkpoint-* folder in {output_dir}")
        return last
    if not Path(text).is_dir():
        raise UserError(f"resume_from_checkpoint: not a folder: {text}")
    return text


def default_output_dir(recipe: Recipe) -> Path:
    if recipe.training.get("output_dir"):
        return Path(recipe.training["output_dir"])
    return Path("runs") / (Path(recipe.source).stem if recipe.source else "qassess-train")


@dataclass
class Prepared:
    """Everything `train` builds before training starts (tests and the benchmark use it directly)."""

    trainer: Any
    data: TrainingData
    output_dir: Path
    resume_from: str | None


def prepare(recipe: Recipe, show_progress: bool = True, say: Callable[[str], None] = print) -> Prepared:
    """Validate cheap things first (template, rewards, data), then load the model into GRPOTrainer."""
    from qassess.prompts import get_template
    from qassess.rewards import build_rewards

    template = get_template(recipe.template)
    rewards, weights = build_rewards(recipe.rewards, {"template": recipe.template})
    data = load_training_data(recipe.data)
    scaling = data.scaling
    say(f"data: {len(data.examples)} images, {data.with_reference} with a human reference; scores from "
        f"{scaling['column']!r} ({scaling['rule']}"
        + (f", min {scaling['min']:g}, max {scaling['max']:g} from {scaling['range_from']}" if "min" in scaling else "")
        + ")" + (f"; skipped {len(data.skipped)} missing/unreadable images" if data.skipped else ""))
    output_dir = default_output_dir(recipe)
    resume_from = resume_checkpoint(recipe, output_dir)
    args = grpo_config(recipe, output_dir, weights)
    dataset = build_dataset(data.examples, template, recipe.data.min_pixels, recipe.data.max_pixels)

    from transformers import AutoProcessor
    from trl import GRPOTrainer

    try:
        processor = AutoProcessor.from_pretrained(recipe.model.name_or_path, padding_side="left")
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the processor of {recipe.model.name_or_path}: {_one_line(exc)}") from None
    if not hasattr(processor, "image_processor"):
        raise UserError(f"{recipe.model.name_or_path} has no image processor: is it a vision-language model?")

    try:
        trainer = GRPOTrainer(
            model=recipe.model.name_or_path,
            reward_funcs=rewards,
            args=args,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=lora_config(recipe),
            callbacks=_callbacks(output_dir, show_progress),
        )
    except OSError as exc:
        raise UserError(f"cannot load model {recipe.model.name_or_path}: {_one_line(exc)}") from None
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our progress line replaces raw dict printing
    if not recipe.lora.enabled and recipe.lora.freeze_vision:
        for name, parameter in trainer.model.named_parameters():
            if ".visual." in f".{name}":
                parameter.requires_grad_(False)
    for reward in rewards:
        if hasattr(reward, "bind_trainer"):
            reward.bind_trainer(trainer)
    return Prepared(trainer, data, output_dir, resume_from)


def train(recipe: Recipe, show_progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Train and write the output directory (see the module docstring); returns it."""
    prepared = prepare(recipe, show_progress, say)
    trainer, output_dir = prepared.trainer, prepared.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    if prepared.resume_from:
        say(f"resuming from {prepared.resume_from}")
    trainer.train(resume_from_checkpoint=prepared.resume_from)
    save_outputs(prepared, recipe)
    say(f"saved to {output_dir}" + (f" (merged model in {output_dir / MERGED_DIR})" if recipe.lora.merge else ""))
    return output_dir


def save_outputs(prepared: Prepared, recipe: Recipe) -> None:
    """Adapter (or full model), stock-loadable processor, run info; the merged model on request."""
    trainer, output_dir = prepared.trainer, prepared.output_dir
    trainer.save_model(str(output_dir))
    if not trainer.accelerator.is_main_process:
        return
    trainer.processing_class.save_pretrained(str(output_dir))
    _pin_base_model(output_dir, recipe.model.name_or_path)
    info = {"recipe": to_dict(recipe), "score_scaling": prepared.data.scaling,
            "images": len(prepared.data.examples), "with_reference": prepared.data.with_reference,
            "skipped_images": prepared.data.skipped, "global_step": trainer.state.global_step}
    (output_dir / RUN_INFO).write_text(json.dumps(info, indent=1, default=str) + "\n", encoding="utf-8")
    if recipe.lora.enabled and recipe.lora.merge:
        merge_adapter(output_dir, output_dir / MERGED_DIR, dtype=recipe.model.dtype)


def _pin_base_model(output_dir: Path, base: str) -> None:
    """Record a local base model as an absolute path, so the adapter loads from any working directory."""
    config_path = output_dir / "adapter_config.json"
    if not config_path.is_file() or not Path(base).is_dir():
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(Path(base).resolve())
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def base_model_of(adapter_dir: str | Path) -> str:
    """The base model an adapter directory was trained on (from adapter_config.json)."""
    config_path = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"not a LoRA adapter directory: {adapter_dir} ({exc})") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{config_path} names no base_model_name_or_path")
    return base


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, dtype: str = "auto") -> Path:
    """Base model + LoRA merged into a plain model directory (with the processor): what vLLM loads."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import shutil
    import tempfile

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    base = base_model_of(adapter_dir)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch_dtype)
    except OSError as exc:
        raise UserError(f"cannot load the base model {base} of {adapter_dir}: {_one_line(exc)}") from None
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and swapped in: a crash never leaves a half model that looks complete.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        merged.save_pretrained(str(tmp))
        AutoProcessor.from_pretrained(str(adapter_dir)).save_pretrained(str(tmp))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def ensure_merged(adapter_dir: str | Path, dtype: str = "auto") -> Path:
    """`adapter_dir/merged`, written on first use (or when older than the adapter): for backends, such as
    vLLM, that load plain model directories only."""
    adapter_dir = Path(adapter_dir)
    merged = adapter_dir / MERGED_DIR
    adapter = adapter_dir / "adapter_model.safetensors"
    done = merged / "config.json"
    if done.is_file() and (not adapter.is_file() or done.stat().st_mtime >= adapter.stat().st_mtime):
        return merged
    return merge_adapter(adapter_dir, merged, dtype=dtype)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
