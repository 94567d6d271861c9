"""`qassess train` with `method: sft`: the supervised warm start (TRL's SFTTrainer, not forked).

A model trained from scratch (or a base model that has never seen the cascade) gives GRPO nothing to
work with: every completion fails to parse and every reward is 0. The warm start teaches the output
format on the same data GRPO uses: prompt = the template's stage-1 chat with the image, completion =
`<caption>` the reference text `</caption>`, a short reasoning naming the verdict, and the rating in
`<answer>`; and, for half of the images, the stage-2 chat (the caption instead of the image) with the
think and answer as completion. Loss on the completion only. Same output directory layout as GRPO (qassess_train.json,
train_log.jsonl, `merged/` with LoRA + merge), so `qassess score --model DIR` and a GRPO recipe's
`model.name_or_path` both take it.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

from qassess.errors import UserError
from qassess.train.config import Recipe


def sft_dataset(examples, template, min_pixels: int, max_pixels: int, seed: int = 0, stage2: float = 0.5,
                images: bool = True):
    """prompt / completion / images rows; images load on access, targets are fixed per row for a seed.

    `stage2`: the share of images that also get a caption-only row (the stage-2 prompt with the
    reference as caption -> think + answer), so the model can rate its own caption (self-consistency,
    `score --self-check`). `images=False`: the caption-only rows alone."""
    from datasets import Dataset

    from qassess.io.images import ImageLoadError, PixelBudget, load_image
    from qassess.synth.text import target_text

    rng = random.Random(seed)
    budget = PixelBudget(min_pixels=min_pixels, max_pixels=max_pixels)
    missing = [e.image_name for e in examples if not e.reference]
    if missing:
        raise UserError(f"sft needs a reference text for every image; {len(missing)} have none "
                        f"(first: {missing[0]})")
    paths, completions, captions = [], [], []
    for e in examples:
        full = target_text(e.reference, e.score, rng)
        if images:
            paths.append(e.image_path)
            completions.append(full)
            captions.append("")
        if stage2 and template.caption_system is not None and rng.random() < stage2:
            # stage 2 (no image): the caption in the prompt, the think and answer as the completion
            paths.append("")
            completions.append(full[full.index("<think>"):])
            captions.append(" ".join(e.reference.split()))
    if not paths:
        raise UserError("sft: no training rows (images: false needs a template with a caption stage and "
                        "stage2 above 0)")
    table = Dataset.from_dict({"image_path": paths, "completion_text": completions, "caption": captions})

    def attach(batch: dict[str, list]) -> dict[str, list]:
        images, prompts = [], []
        for path, caption in zip(batch["image_path"], batch["caption"]):
            if not path:
                images.append([])
                prompts.append(template.caption_messages(caption))
                continue
            try:
                images.append([load_image(path, budget)])
            except ImageLoadError as exc:
                raise UserError(f"{path}: {exc}") from None
            prompts.append(template.image_messages())
        return {"images": images, "prompt": prompts,
                "completion": [[{"role": "assistant", "content": [{"type": "text", "text": t}]}]
                               for t in batch["completion_text"]]}

    return table.with_transform(attach)


def sft_config(recipe: Recipe, output_dir: Path):
    import torch
    from trl import SFTConfig

    kwargs: dict[str, Any] = {"report_to": "none", "logging_steps": 10, "disable_tqdm": True,
                              "remove_unused_columns": False, "dataset_kwargs": {"skip_prepare_dataset": True}}
    kwargs.update({k: v for k, v in recipe.training.items() if k != "resume_from_checkpoint"})
    kwargs["output_dir"] = str(output_dir)
    if "bf16" not in recipe.training and not torch.cuda.is_available():
        kwargs["bf16"] = False
    kwargs["model_init_kwargs"] = {"dtype": recipe.model.dtype}
    try:
        return SFTConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise UserError(f"training: {' '.join(str(exc).split())}") from None


def prepare_sft(recipe: Recipe, show_progress: bool = True, say: Callable[[str], None] = print):
    from transformers import AutoProcessor
    from trl import SFTTrainer

    from qassess.core.prompts import get_template
    from qassess.errors import one_line as _one_line
    from qassess.train.common import (Prepared, callbacks as _callbacks, default_output_dir, freeze_vision, lora_config,
                                      resume_checkpoint)
    from qassess.train.data import load_training_data

    template = get_template(recipe.template)
    data = load_training_data(recipe.data)
    say(f"data: {len(data.examples)} images, {data.with_reference} with a reference (sft warm start)")
    output_dir = default_output_dir(recipe)
    seed = int(recipe.training.get("seed", 42))
    dataset = sft_dataset(data.examples, template, recipe.data.min_pixels, recipe.data.max_pixels, seed,
                          stage2=recipe.sft.stage2, images=recipe.sft.images)
    try:
        processor = AutoProcessor.from_pretrained(recipe.model.name_or_path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the processor of {recipe.model.name_or_path}: {_one_line(exc)}") from None
    try:
        trainer = SFTTrainer(model=recipe.model.name_or_path, args=sft_config(recipe, output_dir),
                             train_dataset=dataset, processing_class=processor, peft_config=lora_config(recipe),
                             callbacks=_callbacks(output_dir, show_progress))
    except OSError as exc:
        raise UserError(f"cannot load model {recipe.model.name_or_path}: {_one_line(exc)}") from None
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    freeze_vision(trainer, recipe)
    return Prepared(trainer, data, output_dir, resume_checkpoint(recipe, output_dir))
