"""`qassess train`: GRPO on Qwen2.5-VL with TRL's GRPOTrainer (not forked), from a Recipe.

The training data and the dataset TRL reads live in `qassess.training_data`, the live policy's stage-2
generation and reading (used by the self-consistency reward) in `qassess.policy`. Reading order here:
the callbacks (JSONL log, progress line), then `train`, which wires them into GRPOTrainer and writes the
output directory:

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from qassess.errors import UserError
from qassess.train.config import Recipe, to_dict
from qassess.train.data import TrainingData, build_dataset, load_training_data

RUN_INFO = "qassess_train.json"
LOG_FILE = "train_log.jsonl"
MERGED_DIR = "merged"


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
            if self.progress is None or not logs:
                return
            if not isinstance(logs.get("reward"), (int, float)):  # SFT: the loss
                if isinstance(logs.get("loss"), (int, float)):
                    self.progress.update(self.task, description=f"loss {logs['loss']:.3f}")
                    self.progress.console.print(f"step {state.global_step}: loss {logs['loss']:.4f}", highlight=False)
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
    from qassess.core.prompts import get_template
    from qassess.train.rewards import build_rewards

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
    freeze_vision(trainer, recipe)
    for reward in rewards:
        if hasattr(reward, "bind_trainer"):
            reward.bind_trainer(trainer)
    return Prepared(trainer, data, output_dir, resume_from)


def freeze_vision(trainer, recipe: Recipe) -> None:
    """Full fine-tuning with `lora.freeze_vision`: the vision tower keeps its weights (LoRA excludes it)."""
    if not recipe.lora.enabled and recipe.lora.freeze_vision:
        for name, parameter in trainer.model.named_parameters():
            if ".visual." in f".{name}":
                parameter.requires_grad_(False)


def train(recipe: Recipe, show_progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Train and write the output directory (see the module docstring); returns it."""
    if recipe.method == "sft":
        from qassess.train.sft import prepare_sft

        prepared = prepare_sft(recipe, show_progress, say)
    else:
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

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    base = base_model_of(adapter_dir)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch_dtype)
    except OSError as exc:
        raise UserError(f"cannot load the base model {base} of {adapter_dir}: {_one_line(exc)}") from None
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    from qassess.io.results import replace_dir

    def write(tmp: Path) -> None:
        merged.save_pretrained(str(tmp))
        AutoProcessor.from_pretrained(str(adapter_dir)).save_pretrained(str(tmp))

    return replace_dir(out_dir, write)


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
