"""Build a random-weight Qwen2.5-VL that loads like the real one, offline, in seconds.

Tests, the demo and the benchmarks need a model that exercises the same code paths as
Qwen2.5-VL-7B-Instruct (stock ``AutoProcessor`` / ``AutoModelForImageTextToText`` / ``vllm.LLM``, no
trust_remote_code, no hub) without downloading 16 GB. The tokenizer is a byte-level BPE trained here on
text close to qassess's prompts, with Qwen's special tokens, pre-tokenizer and chat template, so chat
text, image placeholders and padding behave as with the real tokenizer.

Random weights give near-flat logits, so tiny numeric differences between backends flip the greedy
argmax. The builder therefore draws ``lm_head`` with a large std (a clear top-1 margin) and zeroes the
rows of special tokens (the model never emits them, so every generation runs to ``max_new_tokens``) and
of lone non-ASCII bytes and control characters (its text is always printable UTF-8).

    python -m qassess.build.tiny OUT_DIR [--size tiny|small] [--seed 0] [--quiet]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from qassess.errors import UserError

BUILD_MARKER = "qassess_tiny_build.json"
BUILDER_VERSION = 2  # bump when the output of a given (size, seed) changes

# Qwen2.5's special tokens, in Qwen's order (ids follow the BPE vocabulary, as in the real tokenizer).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]

# Qwen2.5-VL-Instruct's chat template, byte for byte (TRL maps exactly this string to its training
# variant for assistant-only loss masks, so do not reformat it).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type']"
    " == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content"
    " %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt"
    " %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2's pre-tokenizer split (same as transformers' Qwen2Tokenizer).
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

PATCH_SIZE = 14
MERGE_SIZE = 2
FACTOR = PATCH_SIZE * MERGE_SIZE
MIN_PIXELS = 4 * FACTOR * FACTOR  # 4 vision tokens
MAX_PIXELS = 64 * FACTOR * FACTOR  # 64 vision tokens: small enough for fast tests
BPE_VOCAB_SIZE = 2048


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    mrope_section: tuple[int, int, int]  # sums to head_dim / 2
    vision_depth: int
    vision_hidden: int
    vision_heads: int
    vision_intermediate: int
    fullatt_blocks: tuple[int, ...]


SHAPES = {
    # head_dim 32: the vLLM CPU attention backend rejects 16.
    "tiny": Shape(64, 2, 2, 1, 128, (4, 6, 6), 2, 32, 2, 64, (1,)),
    # head_dim 64, big enough that benchmarks measure compute rather than overhead.
    "small": Shape(512, 8, 8, 2, 1408, (8, 12, 12), 4, 256, 4, 512, (1, 3)),
    # The shipped default model (qassess.default_model): ~6M parameters, trained on this CPU.
    "demo": Shape(256, 4, 4, 2, 640, (8, 12, 12), 4, 192, 3, 512, (1, 3)),
}

_QUALITY_WORDS = (
    "blur blurry sharp sharpness noise noisy grain grainy compression artifacts jpeg blocking ringing dark "
    "darken underexposed overexposed exposure bright brightness contrast color colour colorful saturated "
    "washed faded vivid natural lighting shadow highlight detail details texture focus focused out of "
    "motion shake camera lens distortion vignetting haze hazy foggy clear clean smooth soft crisp pixelated "
    "low resolution high quality poor fair good excellent bad very slightly strongly moderately overall "
    "subject background foreground composition framing centered cropped horizon tilted balanced cluttered "
    "simple aesthetic pleasing appealing dull boring interesting person people face portrait landscape "
    "sky tree trees building city street car animal dog cat flower food indoor outdoor night day sunset "
    "water sea beach mountain room table window light photo picture image photograph scene object objects"
).split()


def training_corpus() -> list[str]:
    """Text close to what the model will read and write: the prompts, the tags, JSON ratings, digits."""
    system1 = (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
        "The assistant follows a human thinking logics.First describes the low-level visual contents "
        "(including the blur, noise, compression, darken or others) of the image, mainly focus on three "
        "aspects including the main subject of this image (why human takes this picture), the advantage of "
        "this image (what makes this image looks good) and the flaws (what makes the image looks bad). "
        "Second  thinks about the reasoning process in the mind and then provides the user with the answer. "
        "The description, reasoning and answer are enclosed within <caption></caption> <think> </think> and "
        "<answer> </answer> tags, respectively, i.e., <caption>description here</caption><think> reasoning "
        "process here </think><answer> answer here </answer>."
    )
    system2 = (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
        "The assistant first thinks about the reasoning process in the mind and then provides the user with "
        "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
        "</answer> tags, respectively, i.e., <think> reasoning process here </think><answer> answer here "
        "</answer>"
    )
    user = (
        "What is your overall rating on the quality of this picture? The rating should be a float between 1 "
        "and 5, rounded to two decimal places, with 1 representing very poor quality and 5 representing "
        "excellent quality. The final answer in JSON format with the following keys: \"rating\": The score."
    )
    user2 = "If there is an image described as image_place_holder, what is your overall rating on the quality of this picture? "
    texts = [system1, system2, user, user2 + user, "You are a helpful assistant."]
    for i, word in enumerate(_QUALITY_WORDS):
        rating = 1 + (i * 37 % 401) / 100
        nxt = _QUALITY_WORDS[(i * 7 + 3) % len(_QUALITY_WORDS)]
        texts.append(
            f"<caption>\nThe image shows a {word} {nxt}. The main subject is {nxt}; the flaws are {word} "
            f"and some noise.\n</caption>\n<think>\nThe {word} reduces the quality, but the {nxt} is clear, "
            f"so the score is about {rating:.2f}.\n</think>\n<answer>\n{{\"rating\": {rating:.2f}}}\n</answer>"
        )
    texts += [f'{{"rating": {r / 100:.2f}}}' for r in range(100, 501)]
    texts += [" ".join(str(d) for d in range(n, n + 20)) for n in range(0, 200, 20)]
    return texts


def train_tokenizer(corpus: list[str] | None = None):
    """A byte-level BPE with Qwen2's pre-tokenizer and special tokens, wrapped as a Qwen2Tokenizer.

    `corpus` (default: `training_corpus()`) is the text the merges are learned from."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(corpus if corpus is not None else training_corpus(), trainer=trainer)
    # Ids follow the BPE vocabulary in Qwen's order; like Qwen2.5, only the first 14 are "special".
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS[:14]])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in SPECIAL_TOKENS[14:]])
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        padding_side="left",
        model_max_length=32768,
        chat_template=CHAT_TEMPLATE,
        errors="replace",
        extra_special_tokens=SPECIAL_TOKENS[1:14],
    )
    ids = [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]
    if ids != list(range(ids[0], ids[0] + len(ids))):
        raise RuntimeError(f"tiny tokenizer: special token ids out of Qwen's order: {ids}")
    return tokenizer


def _model_config(shape: Shape, tokenizer, tie_embeddings: bool = False):
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = shape.hidden // shape.heads
    if sum(shape.mrope_section) * 2 != head_dim:
        raise ValueError(f"mrope_section {shape.mrope_section} must sum to head_dim/2 = {head_dim // 2}")
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=32768,
        max_window_layers=shape.layers,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                         "mrope_section": list(shape.mrope_section)},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=tie_embeddings,
        dtype="float32",
    )
    vision = dict(
        depth=shape.vision_depth,
        hidden_size=shape.vision_hidden,
        intermediate_size=shape.vision_intermediate,
        num_heads=shape.vision_heads,
        out_hidden_size=shape.hidden,
        patch_size=PATCH_SIZE,
        spatial_merge_size=MERGE_SIZE,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=list(shape.fullatt_blocks),
        tokens_per_second=2,
    )
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=tie_embeddings,
    )
    config.architectures = ["Qwen2_5_VLForConditionalGeneration"]
    return config


def _peak_lm_head(model, tokenizer, seed: int) -> None:
    """Logit std ~8 over the text vocabulary (clear greedy margin); special tokens never win."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    head = model.lm_head.weight
    hidden = head.shape[1]
    with torch.no_grad():
        head.copy_(torch.randn(head.shape, generator=gen) * (8.0 / hidden**0.5))
        head[[tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS]] = 0.0
        # Lone bytes >= 0x80 are partial UTF-8 (text would depend on the detokenizer); control characters
        # (ESC, NUL...) would garble terminals. Real models emit neither; this one never does.
        head[[i for i in range(len(tokenizer)) if _unprintable(tokenizer.decode([i]))]] = 0.0


def _unprintable(text: str) -> bool:
    return "\ufffd" in text or any(ord(c) < 32 and c not in "\n\t" or ord(c) == 127 for c in text)


def _processor(tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    image_processor = Qwen2VLImageProcessor(size=size, patch_size=PATCH_SIZE, merge_size=MERGE_SIZE,
                                            temporal_patch_size=2)
    video_processor = Qwen2VLVideoProcessor(size=size, patch_size=PATCH_SIZE, merge_size=MERGE_SIZE,
                                            temporal_patch_size=2)
    return Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               video_processor=video_processor, chat_template=CHAT_TEMPLATE)


def _marker(size: str, seed: int) -> dict:
    return {"builder": "qassess.testing.tiny", "version": BUILDER_VERSION, "size": size, "seed": seed}


def is_complete_build(out_dir: str | os.PathLike, size: str = "tiny", seed: int = 0) -> bool:
    """True when out_dir already holds this builder's output for (size, seed)."""
    out = Path(out_dir)
    try:
        marker = json.loads((out / BUILD_MARKER).read_text())
    except (OSError, ValueError):
        return False
    needed = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "processor_config.json"]
    return marker == _marker(size, seed) and all((out / name).is_file() for name in needed)


def _write(out: Path, size: str, seed: int) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = train_tokenizer()
    config = _model_config(SHAPES[size], tokenizer)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    _peak_lm_head(model, tokenizer, seed)
    end, im_end = tokenizer.convert_tokens_to_ids("<|endoftext|>"), tokenizer.convert_tokens_to_ids("<|im_end|>")
    # No sampling defaults here: callers state their sampling in full (backends must agree).
    model.generation_config = GenerationConfig(bos_token_id=end, eos_token_id=[im_end, end], pad_token_id=end)
    model.save_pretrained(out)
    _processor(tokenizer).save_pretrained(out)
    (out / BUILD_MARKER).write_text(json.dumps(_marker(size, seed), indent=1) + "\n")


def build_tiny_model(out_dir: str | os.PathLike, size: str = "tiny", seed: int = 0) -> Path:
    """Build (or reuse) a random Qwen2.5-VL in out_dir; return its path.

    Reuses out_dir when it already holds a complete build of the same size and seed. Replaces an older
    build of this builder; refuses to overwrite a non-empty directory that is not one.
    """
    if size not in SHAPES:
        raise UserError(f"unknown tiny-model size {size!r}; choose one of: {', '.join(SHAPES)}")
    out = Path(out_dir).expanduser().resolve()
    if is_complete_build(out, size, seed):
        return out
    if out.exists():
        if not out.is_dir():
            raise UserError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / BUILD_MARKER).exists():
            raise UserError(f"{out} is not empty and not a tiny-model build; refusing to overwrite it")
    from qassess.io.results import replace_dir

    return replace_dir(out, lambda tmp: _write(tmp, size, seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qassess.build.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="directory to write the model into")
    parser.add_argument("--size", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    try:
        reused = is_complete_build(args.out_dir, args.size, args.seed)
        path = build_tiny_model(args.out_dir, size=args.size, seed=args.seed)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{'reused' if reused else 'built'} {args.size} Qwen2.5-VL (seed {args.seed}) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
