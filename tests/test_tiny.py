"""The tiny Qwen2.5-VL builder: loadable with stock classes, consistent ids, deterministic, reusable."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qassess.errors import UserError
from qassess.build import tiny


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def processor(tiny_model):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def model(tiny_model):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(tiny_model).eval()


def test_stock_classes_load_it(processor, model):
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessor"
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert str(model.dtype) == "torch.float32"


def test_config_token_ids_match_tokenizer(processor, model):
    tok = processor.tokenizer
    cfg = model.config
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert cfg.text_config.vocab_size == len(tok)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.padding_side == "left"
    ids = [tok.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "Qwen's special-token order"
    assert set(model.generation_config.eos_token_id) == {tok.eos_token_id, tok.pad_token_id}


def test_shapes_satisfy_qwen_constraints():
    for name, shape in tiny.SHAPES.items():
        head_dim = shape.hidden // shape.heads
        assert head_dim >= 32, f"{name}: vLLM's CPU attention rejects head_dim < 32"
        assert sum(shape.mrope_section) * 2 == head_dim, name
        assert all(i < shape.vision_depth for i in shape.fullatt_blocks), name
    assert tiny.SHAPES["small"].hidden == 512 and tiny.SHAPES["small"].layers == 8


def test_chat_template_is_qwen_and_puts_image_first(processor):
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Rate it."}]},
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Rate it.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_is_byte_identical_to_trls_qwen25vl():
    """TRL recognises the Qwen2.5-VL template by equality (assistant-only loss masks)."""
    utils = pytest.importorskip("trl.chat_template_utils")
    assert tiny.CHAT_TEMPLATE == utils.qwen2_5_vl_chat_template


def test_tokenizer_round_trips_and_learned_the_tags(processor):
    tok = processor.tokenizer
    text = '<caption>\nA dark, blurry photo.\n</caption>\n<think>\nnoise\n</think>\n<answer>\n{"rating": 2.35}\n</answer>'
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    assert len(ids) < len(text) / 2, "the BPE should have merged the frequent tags and words"
    assert tok.decode(tok("naïve ünïcödé 日本 🙂")["input_ids"]) == "naïve ünïcödé 日本 🙂"  # byte-level


def test_image_processor_budget(processor):
    from PIL import Image

    out = processor.image_processor(images=[Image.new("RGB", (2000, 1000))], return_tensors="pt")
    tokens = int(out["image_grid_thw"].prod()) // tiny.MERGE_SIZE**2
    assert tokens <= tiny.MAX_PIXELS // tiny.FACTOR**2


def test_greedy_logits_have_a_clear_top1_margin(processor, model):
    import torch
    from PIL import Image

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Rate the quality."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[Image.new("RGB", (112, 84), (200, 30, 60))], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=16, do_sample=False, output_scores=True,
                             return_dict_in_generate=True)
    margins = [float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in out.scores]
    assert len(margins) == 16, "special tokens are never top-1, so generation runs to max_new_tokens"
    assert sorted(margins)[len(margins) // 2] > 0.05, margins  # float noise is ~1e-5
    new = out.sequences[0, enc["input_ids"].shape[1]:].tolist()
    special = {processor.tokenizer.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS}
    assert not special & set(new)
    text = processor.tokenizer.decode(new)
    assert text and not tiny._unprintable(text), repr(text)


def test_build_is_deterministic_and_seeded(tmp_path, tiny_model):
    again = tiny.build_tiny_model(tmp_path / "again", seed=0)
    other = tiny.build_tiny_model(tmp_path / "other", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _digest(again / name) == _digest(tiny_model / name), name
    assert _digest(other / "model.safetensors") != _digest(tiny_model / "model.safetensors")
    assert _digest(other / "tokenizer.json") == _digest(tiny_model / "tokenizer.json")


def test_complete_build_is_reused_and_other_seed_replaces_it(tmp_path):
    out = tiny.build_tiny_model(tmp_path / "m", seed=3)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert tiny.build_tiny_model(out, seed=3) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    tiny.build_tiny_model(out, seed=4)
    assert json.loads((out / tiny.BUILD_MARKER).read_text())["seed"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name != "m"], "no temporary build left behind"


def test_incomplete_build_is_rebuilt(tmp_path):
    out = tiny.build_tiny_model(tmp_path / "m", seed=0)
    (out / "model.safetensors").unlink()
    assert not tiny.is_complete_build(out, seed=0)
    tiny.build_tiny_model(out, seed=0)
    assert tiny.is_complete_build(out, seed=0)


def test_refuses_to_overwrite_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a tiny-model build"):
        tiny.build_tiny_model(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_unknown_size_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown tiny-model size"):
        tiny.build_tiny_model(tmp_path / "x", size="huge")


def test_cli(tmp_path, capsys):
    assert tiny.main([str(tmp_path / "m"), "--seed", "0"]) == 0
    assert "built tiny" in capsys.readouterr().out
    assert tiny.main([str(tmp_path / "m"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x").write_text("x")
    assert tiny.main([str(tmp_path / "f")]) == 2
    assert "refusing" in capsys.readouterr().err
