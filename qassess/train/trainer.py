"""`qassess train`: GRPO on Qwen2.5-VL with TRL's GRPOTrainer (not forked), from a Recipe.

The training data and the dataset TRL reads live in `qassess.train.data`, the live policy's stage-2
generation and reading (used by the self-consistency reward) in `qassess.train.policy`. Reading order here:
the callbacks (JSONL log, progress line), then `train`, which wires them into GRPOTrainer and writes the
output directory:

    OUT/adapter_model.safetensors, adapter_config.json   the LoRA adapter (base model path inside)
    OUT/processor files                                    loadable by stock AutoProcessor
    OUT/qassess_train.json                                 the recipe used and the score scaling applied
    OUT/train_log.jsonl                                    one line per logging step (per-reward means,
                                                           zero-variance group shares: qassess.train.signal)
    OUT/merged/                                            the merged full model, with `lora.merge`
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from qassess.errors import UserError, one_line
from qassess.models.adapters import MERGED_DIR, merge_adapter
from qassess.train.config import Recipe, to_dict
from qassess.train.common import Prepared, callbacks, default_output_dir, freeze_vision, lora_config, resume_checkpoint
from qassess.train.data import build_dataset, load_training_data

RUN_INFO = "qassess_train.json"


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

    from qassess.train.signal import grpo_trainer_class

    try:
        processor = AutoProcessor.from_pretrained(recipe.model.name_or_path, padding_side="left")
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the processor of {recipe.model.name_or_path}: {one_line(exc)}") from None
    if not hasattr(processor, "image_processor"):
        raise UserError(f"{recipe.model.name_or_path} has no image processor: is it a vision-language model?")

    try:
        trainer = grpo_trainer_class()(
            model=recipe.model.name_or_path,
            reward_funcs=rewards,
            args=args,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=lora_config(recipe),
            callbacks=callbacks(output_dir, show_progress),
        )
    except OSError as exc:
        raise UserError(f"cannot load model {recipe.model.name_or_path}: {one_line(exc)}") from None
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our progress line replaces raw dict printing
    freeze_vision(trainer, recipe)
    for reward in rewards:
        if hasattr(reward, "bind_trainer"):
            reward.bind_trainer(trainer)
    return Prepared(trainer, data, output_dir, resume_from)


def train(recipe: Recipe, show_progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Train and write the output directory (see the module docstring); returns it."""
    from contextlib import nullcontext
    from dataclasses import replace

    from qassess.io.lock import output_lock
    from qassess.models import training_model

    recipe = replace(recipe, model=replace(recipe.model, name_or_path=training_model(recipe.model.name_or_path)))
    out = default_output_dir(recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    main = os.environ.get("RANK", "0") == "0"  # under accelerate/torchrun only rank 0 takes OUT.lock
    with output_lock(out, say) if main else nullcontext():
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
