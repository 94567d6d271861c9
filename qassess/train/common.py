"""What the GRPO trainer (`qassess.train.trainer`) and the SFT warm start (`qassess.train.sft`) share: the
callbacks (JSONL log, progress line), LoRA, resuming, the output folder and the vision freeze."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qassess.errors import UserError
from qassess.train.config import Recipe
from qassess.train.data import TrainingData

LOG_FILE = "train_log.jsonl"


def callbacks(output_dir: Path, show_progress: bool) -> list:
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
        """A rich progress bar with the latest reward, per-reward means and the share of groups with no
        reward spread (no advantage, so nothing learnt from them)."""

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
            if isinstance(logs.get("zero_variance_groups"), (int, float)):  # qassess.train.signal
                parts.append(f"zero-variance groups {logs['zero_variance_groups']:.0%}")
            if isinstance(logs.get("ratings/std"), (int, float)):  # a shrinking spread: a hedge (signal.py)
                parts.append(f"rating spread {logs['ratings/std']:.2f}")
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


def freeze_vision(trainer, recipe: Recipe) -> None:
    """Full fine-tuning with `lora.freeze_vision`: the vision tower keeps its weights (LoRA excludes it)."""
    if not recipe.lora.enabled and recipe.lora.freeze_vision:
        for name, parameter in trainer.model.named_parameters():
            if ".visual." in f".{name}":
                parameter.requires_grad_(False)
