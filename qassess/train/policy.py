"""The policy being trained, used inside a GRPO step without gradient: the self-consistency reward's
stage 2, either generated (the paper's way) or read in one forward pass (`prefill`).

Kept apart from `qassess.train.trainer` (which builds the trainer and imports the rewards) so that rewards
depend on this module only, not on the trainer wiring.
"""
from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def _policy(trainer, tokenizer, texts: list[str]) -> Iterator[tuple]:
    """(unwrapped model, left-padded inputs on its device) under no_grad: TRL's own pattern (adapters
    active, gradient checkpointing off, ZeRO-3 parameters gathered)."""
    import torch
    from trl.models import unwrap_model_for_generation

    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
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
        yield model, inputs



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

    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

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
    with _policy(trainer, tokenizer, batch) as (model, inputs):
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


def read_with_trainer(trainer, conversations: list[list[dict]], prefix: str, token_ids: list[int]) -> list[list[float]]:
    """Scores (logits) of `token_ids` right after each conversation's prompt and the answer's start
    `prefix`, from one forward pass of the current policy (adapters active), no gradient.

    The trainer's own model is read even when it generates with vLLM: the reading is one prefill, and
    the training model is the policy itself (no weight sync to wait for)."""
    import torch

    processing = trainer.processing_class
    tokenizer = getattr(processing, "tokenizer", processing)
    texts = [processing.apply_chat_template(c, tokenize=False, add_generation_prompt=True) + prefix
             for c in conversations]
    if not texts:
        return []
    with _policy(trainer, tokenizer, texts) as (model, inputs):
        logits = model(**inputs, logits_to_keep=1).logits[:, -1, :]
    index = torch.tensor(token_ids, device=logits.device)
    return logits.index_select(-1, index).float().cpu().tolist()
