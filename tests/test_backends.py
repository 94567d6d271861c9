"""Backends: model checks, registry and `auto`, transformers generation, vLLM parity (marked `vllm`)."""
from __future__ import annotations

import json
from importlib import metadata

import pytest

import qassess.backends as backends
from qassess.backends import available_backends, create_backend, resolve_auto
from qassess.backends.base import Backend, Request, Sampling, check_model
from qassess.errors import UserError

IMAGE_MESSAGES = [
    {"role": "system", "content": "Describe, reason, then rate the picture."},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is your overall rating?"}]},
]
# The session vLLM engine's budget (conftest): larger than the tiny model's own, so the override is tested.
BIG_MIN, BIG_MAX = 4 * 28 * 28, 192 * 28 * 28


def text_messages(caption: str) -> list[dict]:
    return [{"role": "user", "content": f"If there is an image described as {caption}, rate it."}]


def budget_image(width: int, height: int, seed: int, min_pixels: int = 3136, max_pixels: int = 50176):
    """A noisy picture already resized to the budget, as the loader hands it over."""
    import numpy as np
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def mixed_requests(min_pixels: int = 3136, max_pixels: int = 50176) -> list[Request]:
    sizes = [(640, 480), (300, 900), (1000, 250), (64, 64)]
    images = [Request(IMAGE_MESSAGES, budget_image(w, h, i, min_pixels, max_pixels))
              for i, (w, h) in enumerate(sizes)]
    return [images[0], Request(text_messages("a dark, blurry street")), images[1], images[2],
            Request(text_messages("a sharp portrait")), images[3]]


# --- model references -------------------------------------------------------------------------------

def test_missing_local_path_is_no_such_model_folder(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        check_model(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="no such model folder"):
        check_model("./models/absent")
    with pytest.raises(UserError, match=r"no such model folder \.cache/tiny-qwen2\.5-vl; build it with") as err:
        check_model(".cache/tiny-qwen2.5-vl")  # shaped like owner/name, but a path: never a hub-id complaint
    assert "\n" not in str(err.value) and "Repo id" not in str(err.value)


def test_hub_ids_pass_through_unfetched():
    ref = check_model("Qwen/Qwen2.5-VL-7B-Instruct")
    assert ref.name == "Qwen/Qwen2.5-VL-7B-Instruct" and not ref.local


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, "no config.json"),
    (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
    (lambda d: (d / "config.json").write_text('{"hidden_size": 4}'), "no model_type"),
])
def test_directory_that_is_not_a_model(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(UserError, match=message):
        check_model(str(tmp_path))


def test_a_file_is_not_a_model(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(UserError, match="got a file"):
        check_model(str(tmp_path / "weights.bin"))


@pytest.mark.parametrize("name", ["transformers", "vllm"])
def test_bad_model_path_fails_in_one_line_before_loading(tmp_path, name):
    with pytest.raises(UserError, match="no such model folder") as err:
        create_backend(name, str(tmp_path / "missing"))
    assert "\n" not in str(err.value)


def test_model_without_processor_is_a_user_error(tmp_path, tiny_model):
    (tmp_path / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(UserError, match="cannot load the processor"):
        create_backend("transformers", str(tmp_path))


# --- sampling -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(top_k=-1),
                                    dict(n=0), dict(max_new_tokens=0), dict(min_new_tokens=9, max_new_tokens=8)])
def test_bad_sampling_is_a_user_error(kwargs):
    with pytest.raises(UserError):
        Sampling(**kwargs)


# --- registry and auto ----------------------------------------------------------------------------------

class EchoBackend(Backend):
    """A plugin backend for the registry test: repeats the last user text."""

    name = "echo"

    def __init__(self, model, **kwargs):
        self.model = model

    def generate(self, requests, sampling):
        return [[str(r.messages[-1]["content"])] * sampling.n for r in requests]


class NotABackend:
    pass


def _fake_entry_points(monkeypatch, **targets):
    points = [metadata.EntryPoint(name, value, backends.ENTRY_POINT_GROUP) for name, value in targets.items()]

    def entry_points(group=None, **_):
        return [p for p in points if p.group == group]

    monkeypatch.setattr(backends.metadata, "entry_points", entry_points)


def test_builtins_are_registered_lazily():
    found = available_backends()
    assert found["vllm"] == "qassess.backends.vllm_backend:VLLMBackend"
    assert found["transformers"] == "qassess.backends.transformers_backend:TransformersBackend"


def test_plugins_load_from_entry_points_and_cannot_shadow_builtins(monkeypatch):
    _fake_entry_points(monkeypatch, echo=f"{__name__}:EchoBackend", vllm=f"{__name__}:EchoBackend",
                       broken=f"{__name__}:NotABackend", missing="no_such_module_q:X")
    assert available_backends()["vllm"] == backends.BUILTIN["vllm"]
    echo = create_backend("echo", "any/model")
    assert echo.generate([Request(text_messages("x"))], Sampling(n=2)) == [[text_messages("x")[0]["content"]] * 2]
    with pytest.raises(UserError, match="not a qassess Backend"):
        create_backend("broken", "any/model")
    with pytest.raises(UserError, match="cannot be loaded"):
        create_backend("missing", "any/model")


def test_unknown_backend_lists_the_choices():
    with pytest.raises(UserError, match="unknown backend 'nope'.*transformers"):
        create_backend("nope", "any/model")


def _pretend(monkeypatch, build, cuda=False):
    import torch

    monkeypatch.setattr(backends, "vllm_build", lambda: build)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)


def _model_dir(tmp_path, hidden, layers, inter, vocab=152064):
    cfg = {"model_type": "qwen2_5_vl", "text_config": {
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 128,
        "num_key_value_heads": 4, "intermediate_size": inter, "vocab_size": vocab}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path)


def test_auto_on_cpu_weighs_job_size_against_model_size(monkeypatch, tmp_path, tiny_model):
    _pretend(monkeypatch, "cpu")
    big = _model_dir(tmp_path, 3584, 28, 18944)  # Qwen2.5-VL-7B's text shape
    assert resolve_auto(big, 10)[0] == "vllm"
    name, reason = resolve_auto(big, None)
    assert name == "transformers" and "unknown" in reason
    name, reason = resolve_auto(str(tiny_model), 500)  # overhead-bound: start-up never pays off
    assert name == "transformers" and "500" in reason
    threshold, _ = backends.cpu_break_even(str(tiny_model))
    assert resolve_auto(str(tiny_model), threshold)[0] == "vllm"


def test_auto_unknown_model_size_uses_the_measured_break_even(monkeypatch):
    _pretend(monkeypatch, "cpu")
    monkeypatch.setattr(backends, "read_model_config", lambda model: None)
    assert resolve_auto("someone/some-vlm", backends.CPU_BREAK_EVEN_IMAGES - 1)[0] == "transformers"
    assert resolve_auto("someone/some-vlm", backends.CPU_BREAK_EVEN_IMAGES)[0] == "vllm"


def test_auto_gpu_and_missing_vllm(monkeypatch, tiny_model):
    _pretend(monkeypatch, "cuda", cuda=True)
    assert resolve_auto(str(tiny_model), 1)[0] == "vllm"
    _pretend(monkeypatch, "cpu", cuda=True)
    assert resolve_auto(str(tiny_model), 10**6)[0] == "transformers"
    _pretend(monkeypatch, "cuda", cuda=False)
    assert resolve_auto(str(tiny_model), 10**6) == ("transformers", "no GPU, and the installed vLLM is not the CPU build")
    _pretend(monkeypatch, None)
    assert resolve_auto(str(tiny_model), 10**6) == ("transformers", "vLLM is not installed")


def test_auto_checks_the_model_first(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        resolve_auto(str(tmp_path / "missing"), 10)


# --- transformers backend -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hf(tiny_model):
    with create_backend("transformers", str(tiny_model), dtype="float32") as backend:
        yield backend


def test_pixel_budget_defaults_to_the_processor_config_and_takes_overrides(hf, tiny_model):
    assert hf.name == "transformers"
    assert hf.pixel_budget() == (3136, 50176, 28)
    with create_backend("transformers", str(tiny_model), min_pixels=BIG_MIN, max_pixels=BIG_MAX) as big:
        assert big.pixel_budget() == (BIG_MIN, BIG_MAX, 28)


@pytest.mark.parametrize("kwargs,message", [
    (dict(min_pixels=2000, max_pixels=1000), "larger than"),
    (dict(max_pixels=100), "below one vision token"),
    (dict(max_pixels=-5), "positive integer"),
    (dict(dtype="float8"), "unknown dtype"),
    (dict(device="tpu:9"), "device"),
    (dict(flash=True), "unknown option"),
])
def test_bad_options_are_user_errors(tiny_model, kwargs, message):
    with pytest.raises(UserError, match=message):
        create_backend("transformers", str(tiny_model), **kwargs)


def test_batch_equals_single_rows_and_keeps_order(hf):
    requests = mixed_requests()
    sampling = Sampling(max_new_tokens=12)
    batch = hf.generate(requests, sampling)
    assert batch == [hf.generate([r], sampling)[0] for r in requests]
    assert all(len(texts) == 1 and texts[0] for texts in batch)
    assert batch[0] != batch[2] and batch[1] != batch[4], "different inputs, different texts"


def test_text_only_requests(hf):
    out = hf.generate([Request(text_messages("a foggy lake"))], Sampling(max_new_tokens=6))
    assert len(out) == 1 and isinstance(out[0][0], str) and out[0][0]


def test_sampling_n_seeded_reproducible(hf):
    requests = mixed_requests()[:2]
    sampling = Sampling(temperature=1.0, top_p=0.95, top_k=50, n=3, seed=42, max_new_tokens=10)
    first = hf.generate(requests, sampling)
    assert [len(t) for t in first] == [3, 3]
    assert all(len(set(texts)) > 1 for texts in first), "samples of one request differ"
    assert hf.generate(requests, sampling) == first
    assert hf.generate(requests, Sampling(temperature=1.0, n=3, seed=7, max_new_tokens=10)) != first


def test_greedy_n_repeats_the_single_greedy_text(hf):
    request = mixed_requests()[:1]
    one = hf.generate(request, Sampling(max_new_tokens=8))
    assert hf.generate(request, Sampling(max_new_tokens=8, n=3)) == [one[0] * 3]


def test_max_new_tokens_bounds_the_output(hf):
    short, long = (hf.generate(mixed_requests()[:1], Sampling(max_new_tokens=k))[0][0] for k in (3, 12))
    assert long.startswith(short) and len(long) > len(short)


def test_budget_override_reaches_the_processor(tiny_model, hf):
    """An image sized for a larger budget is seen whole (not shrunk to the model's default budget)."""
    request = [Request(IMAGE_MESSAGES, budget_image(640, 480, 0, BIG_MIN, BIG_MAX))]
    with create_backend("transformers", str(tiny_model), min_pixels=BIG_MIN, max_pixels=BIG_MAX) as big:
        enc_tokens = big.processor(text=[big.chat_text(request[0])], images=[request[0].image],
                                   images_kwargs={"size": big._size_kwargs()})["input_ids"]
        assert enc_tokens[0].count(big._model.config.image_token_id) == 192
        sampling = Sampling(max_new_tokens=12)
        assert big.generate(request, sampling) != hf.generate(request, sampling)


def test_image_and_slot_must_match(hf):
    with pytest.raises(ValueError, match="image slot"):
        hf.generate([Request(IMAGE_MESSAGES)], Sampling())
    with pytest.raises(ValueError, match="image slot"):
        hf.generate([Request(text_messages("x"), budget_image(64, 64, 0))], Sampling())


def test_placeholder_tokens_are_suppressed(hf):
    tok = hf.processor.tokenizer
    assert sorted(hf.suppressed_token_ids()) == sorted(
        tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>"))


def test_empty_request_list(hf):
    assert hf.generate([], Sampling()) == []


def test_close_releases_and_is_idempotent(tiny_model):
    backend = create_backend("transformers", str(tiny_model))
    with backend:
        assert backend.generate([Request(text_messages("x"))], Sampling(max_new_tokens=2))
    backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        backend.generate([Request(text_messages("x"))], Sampling(max_new_tokens=2))


def test_lora_adapter_directory(tmp_path, tiny_model, hf):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_model)
    lora = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")  # no processor files saved
    request = [Request(text_messages("a blurry dog"))]
    with create_backend("transformers", str(tmp_path / "adapter")) as tuned:
        assert tuned.generate(request, Sampling(max_new_tokens=8)) != hf.generate(request, Sampling(max_new_tokens=8))


def test_transparency_is_composited_on_white(hf):
    from PIL import Image

    from qassess.backends.base import as_rgb

    clear = Image.new("RGBA", (56, 56), (10, 200, 30, 0))  # fully transparent green
    assert as_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    assert as_rgb(Image.new("LA", (56, 56), (0, 0))).getpixel((0, 0)) == (255, 255, 255)
    assert as_rgb(Image.new("L", (56, 56), 7)).getpixel((0, 0)) == (7, 7, 7)
    white = Image.new("RGB", (56, 56), (255, 255, 255))
    sampling = Sampling(max_new_tokens=6)
    assert hf.generate([Request(IMAGE_MESSAGES, clear)], sampling) == hf.generate([Request(IMAGE_MESSAGES, white)], sampling)


# --- vLLM backend (one engine per session) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def vllm_backend(tiny_vllm_backend):
    assert tiny_vllm_backend.pixel_budget()[:2] == (BIG_MIN, BIG_MAX)
    return tiny_vllm_backend


@pytest.fixture(scope="module")
def hf_big(tiny_model):
    with create_backend("transformers", str(tiny_model), dtype="float32", min_pixels=BIG_MIN,
                        max_pixels=BIG_MAX) as backend:
        yield backend


@pytest.mark.vllm
def test_vllm_greedy_equals_transformers(vllm_backend, hf_big):
    assert vllm_backend.name == "vllm" and vllm_backend.pixel_budget() == (BIG_MIN, BIG_MAX, 28)
    requests = mixed_requests(BIG_MIN, BIG_MAX)
    sampling = Sampling(max_new_tokens=16)
    assert vllm_backend.generate(requests, sampling) == hf_big.generate(requests, sampling)


@pytest.mark.vllm
def test_vllm_batch_equals_single_rows(vllm_backend):
    requests = mixed_requests(BIG_MIN, BIG_MAX)
    sampling = Sampling(max_new_tokens=8)
    assert vllm_backend.generate(requests, sampling) == [vllm_backend.generate([r], sampling)[0] for r in requests]


@pytest.mark.vllm
def test_vllm_sampling_n_seeded(vllm_backend):
    requests = mixed_requests(BIG_MIN, BIG_MAX)[:2]
    sampling = Sampling(temperature=1.0, top_p=0.95, top_k=50, n=3, seed=42, max_new_tokens=10)
    first = vllm_backend.generate(requests, sampling)
    assert [len(t) for t in first] == [3, 3]
    assert all(len(set(texts)) > 1 for texts in first)
    assert vllm_backend.generate(requests, sampling) == first
    greedy = vllm_backend.generate(requests, Sampling(max_new_tokens=6, n=2))
    assert all(len(t) == 2 and t[0] == t[1] for t in greedy)


@pytest.mark.vllm
def test_vllm_text_only_and_min_tokens(vllm_backend, hf_big):
    request = [Request(text_messages("a grainy night photo"))]
    sampling = Sampling(max_new_tokens=10, min_new_tokens=10)
    assert vllm_backend.generate(request, sampling) == hf_big.generate(request, sampling)


def odd_mode_requests(min_pixels: int, max_pixels: int) -> list[Request]:
    """Grayscale, 16-bit, palette and half-transparent images: both backends must convert them alike."""
    from PIL import Image

    rgb = budget_image(500, 375, 5, min_pixels, max_pixels)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    images = [rgb.convert("L"), rgb.convert("L").convert("I;16"), rgb.convert("P"), rgba, rgb.convert("CMYK")]
    return [Request(IMAGE_MESSAGES, image) for image in images]


@pytest.mark.vllm
def test_vllm_odd_image_modes_match_transformers(vllm_backend, hf_big):
    requests = odd_mode_requests(BIG_MIN, BIG_MAX)
    sampling = Sampling(max_new_tokens=8)
    out = vllm_backend.generate(requests, sampling)
    assert out == hf_big.generate(requests, sampling)
    assert len({texts[0] for texts in out}) > 1


# --- the CI rule for vllm-marked tests ----------------------------------------------------------------

@pytest.mark.parametrize("ci,expected", [("1", "1 error"), ("true", "1 error"), ("", "1 skipped"), ("0", "1 skipped")])
def test_vllm_tests_fail_in_ci_when_vllm_cannot_be_imported(tmp_path, ci, expected):
    import os
    import subprocess
    import sys
    from pathlib import Path

    conftest = (Path(__file__).parent / "conftest.py").read_text()
    (tmp_path / "conftest.py").write_text(conftest + '\nimport sys\nsys.modules["vllm"] = None  # unimportable\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    vllm: needs vllm\n")
    (tmp_path / "test_x.py").write_text("import pytest\n\n@pytest.mark.vllm\ndef test_engine():\n    pass\n")
    env = {**os.environ, "CI": ci}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert expected in run.stdout, run.stdout + run.stderr
    assert (run.returncode != 0) == (expected == "1 error")
    if run.returncode:
        assert "vllm cannot be imported in CI" in run.stdout

