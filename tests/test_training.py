"""Training data (formats, MOS scaling, references, missing images), and real GRPO runs of
recipes/tiny-cpu.yaml on the tiny model: the adapter moves, every reward is logged, the output is
usable by `qassess score`, runs resume, and the self-consistency stage really asks the policy."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qassess.cli import app
from qassess.errors import UserError
from qassess.train.config import DataSection, load_recipe
from qassess.train.data import load_training_data, read_rows, reference_text

ROOT = Path(__file__).resolve().parents[1]
TINY_RECIPE = ROOT / "recipes" / "tiny-cpu.yaml"
REWARD_NAMES = ("format", "prediction", "self_consistency", "reasoning")


def make_images(folder: Path, names: list[str]) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        pixels = (rng.random((60 + 10 * i, 90, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(folder / name)


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",", bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ------------------------------------------------------------------------------------ reading files


def test_read_rows_formats(tmp_path):
    semicolons = write_csv(tmp_path / "a.csv", [" image_name ", "MOS"], [["x.jpg", "3,5"]], ";", bom=True)
    assert read_rows(semicolons) == [{"image_name": "x.jpg", "MOS": "3,5"}]
    (tmp_path / "b.json").write_text(json.dumps([{"image": "x.jpg", "quality": 50}]))
    assert read_rows(tmp_path / "b.json") == [{"image": "x.jpg", "quality": 50}]
    (tmp_path / "c.json").write_text(json.dumps({"x.jpg": {"quality": 2}}))  # keyed by image
    assert read_rows(tmp_path / "c.json") == [{"image": "x.jpg", "quality": 2}]
    (tmp_path / "d.json").write_text(json.dumps([{"x.jpg": {"description": ["red"]}}]))  # filted_data_human_eng
    assert read_rows(tmp_path / "d.json") == [{"image": "x.jpg", "description": ["red"]}]
    (tmp_path / "e.jsonl").write_text('{"image": "x.jpg", "gt_score": 3}\n\n{"image": "y.jpg", "gt_score": 4}\n')
    assert [r["image"] for r in read_rows(tmp_path / "e.jsonl")] == ["x.jpg", "y.jpg"]
    (tmp_path / "f.json").write_text("[{]")
    with pytest.raises(UserError, match="not valid JSON"):
        read_rows(tmp_path / "f.json")
    with pytest.raises(UserError, match="Excel workbook|openpyxl"):
        read_rows(write_csv(tmp_path / "g.xlsx", ["a"], []))


def test_reference_text_from_every_q_reasoning_layout():
    cot = {  # koniq_cot_constrain / mixed_cot: Japanese summary + English translation
        "description": "<summarize>パンダ</summarize>\n<translation>Two pandas.</translation>",
        "good_aspect": "<summarize>x</summarize>  \n<translation> Sharp fur. </translation>",
        "bad_aspect": "<summarize>情報が不足</summarize>",  # no translation: nothing English to keep
    }
    assert reference_text(cot) == "Two pandas. Sharp fur."
    human_test = {"description": {"answer": "A parking lot."}, "good_aspect": {"answer": "Nostalgic."},
                  "bad_aspect": {"answer": "Tilted."}, "instruction": {"answer": "not used"}}
    assert reference_text(human_test) == "A parking lot. Nostalgic. Tilted."
    human_eng = {"description": ["red flower", "flower"], "good_aspect": ["vivid"], "bad_aspect": []}
    assert reference_text(human_eng) == "red flower flower vivid"
    assert reference_text({"description": " ", "good_aspect": " ", "bad_aspect": " "}) == ""  # mixed_cot, none
    assert reference_text({"image": "x.jpg", "quality": 3}) == ""


# ------------------------------------------------------------------------------------ training data


def test_koniq_csv_is_min_max_scaled_from_the_data(tmp_path):
    make_images(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    scores = write_csv(tmp_path / "mos.csv", ["image_name", "MOS"], [["a.jpg", 20], ["b.jpg", 60], ["c.jpg", 80]])
    data = load_training_data(DataSection(scores=str(scores)))
    assert [e.score for e in data.examples] == [1.0, pytest.approx(1 + 4 * 40 / 60), 5.0]
    assert data.scaling == {"column": "MOS", "rule": "1 + 4 (x - min) / (max - min)", "min": 20.0, "max": 80.0,
                            "range_from": "data"}
    assert all(Path(e.image_path).parent == tmp_path for e in data.examples)
    first_two = load_training_data(DataSection(scores=str(scores), limit=2))  # scaled as with every row
    assert [e.score for e in first_two.examples] == [1.0, pytest.approx(1 + 4 * 40 / 60)]


def test_koniq_preset_and_flipped_dmos(tmp_path):
    make_images(tmp_path, ["a.jpg", "b.jpg"])
    scores = write_csv(tmp_path / "mos.csv", ["image_name", "MOS_zscore", "MOS"], [["a.jpg", 3.91, 1], ["b.jpg", 50, 3]])
    data = load_training_data(DataSection(scores=str(scores), mos_range="koniq"))
    assert data.score_column == "MOS_zscore"  # the 0-100 column the KonIQ constants belong to
    assert [e.score for e in data.examples] == [1.0, pytest.approx(1 + 4 * (50 - 3.91) / (88.39 - 3.91))]
    dmos = write_csv(tmp_path / "dmos.csv", ["image", "dmos"], [["a.jpg", 0.1], ["b.jpg", 0.9]])
    data = load_training_data(DataSection(scores=str(dmos), score_column="dmos", higher_is_better=False))
    assert [e.score for e in data.examples] == [5.0, 1.0]


def test_normalized_scores_are_used_as_they_are(tmp_path):
    make_images(tmp_path, ["a.jpg", "b.jpg"])
    rows = [{"image": "a.jpg", "quality": 77.4, "normalized_score": 4.47, "description": " ",
             "good_aspect": " ", "bad_aspect": " "},
            {"image": "b.jpg", "quality": 30.0, "normalized_score": 2.2,
             "description": "<summarize>s</summarize><translation>A cat.</translation>",
             "good_aspect": "<translation>Sharp.</translation>", "bad_aspect": "<translation>Dark.</translation>"}]
    (tmp_path / "mixed_cot.json").write_text(json.dumps(rows))
    data = load_training_data(DataSection(scores=str(tmp_path / "mixed_cot.json")))
    assert [e.score for e in data.examples] == [4.47, 2.2]
    assert [e.reference for e in data.examples] == ["", "A cat. Sharp. Dark."]
    assert data.scaling == {"column": "normalized_score", "rule": "as is"}
    with pytest.raises(UserError, match="already on \\[1, 5\\]"):
        load_training_data(DataSection(scores=str(tmp_path / "mixed_cot.json"), mos_range=[0, 100]))


def test_references_file_is_joined_by_image_name(tmp_path):
    make_images(tmp_path / "img" / "sub", ["a.jpg", "b.jpg"])
    scores = write_csv(tmp_path / "s.csv", ["image", "gt_score"], [["sub/a.jpg", 2], ["sub/b.jpg", 4]])
    refs = [{"image": "b.jpg", "description": {"answer": "Blurry."}, "good_aspect": {"answer": ""},
             "bad_aspect": {"answer": "Noise."}}]
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    data = load_training_data(DataSection(scores=str(scores), images=str(tmp_path / "img"),
                                          references=str(tmp_path / "refs.json")))
    assert [e.reference for e in data.examples] == ["", "Blurry. Noise."]
    assert data.with_reference == 1


def test_missing_images_error_names_them_or_are_skipped(tmp_path):
    make_images(tmp_path, ["a.jpg"])
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    names = ["a.jpg", "broken.jpg"] + [f"gone{i}.jpg" for i in range(6)]
    scores = write_csv(tmp_path / "s.csv", ["image_name", "MOS"], [[n, 10 * (i + 1)] for i, n in enumerate(names)])
    with pytest.raises(UserError) as info:
        load_training_data(DataSection(scores=str(scores)))
    message = str(info.value)
    assert message.startswith("7 of 8 images missing or unreadable")
    assert "broken.jpg (unreadable" in message and "gone0.jpg (missing)" in message and "--skip-missing" in message
    data = load_training_data(DataSection(scores=str(scores), skip_missing=True))
    assert [e.image_name for e in data.examples] == ["a.jpg"] and len(data.skipped) == 7
    # The scaling still uses every row's score: skipping an image must not move the others' targets.
    assert data.scaling["min"] == 10 and data.scaling["max"] == 80


@pytest.mark.parametrize("rows, message", [
    ([["a.jpg", ""], ["a.jpg", "n/a"]], "2 rows have no numeric 'MOS'"),
    ([["a.jpg", 5], ["a.jpg", 5]], "every score is 5"),
])
def test_bad_scores(tmp_path, rows, message):
    make_images(tmp_path, ["a.jpg"])
    with pytest.raises(UserError, match=message):
        load_training_data(DataSection(scores=str(write_csv(tmp_path / "s.csv", ["image_name", "MOS"], rows))))


def test_scores_outside_the_given_range_are_an_error(tmp_path):
    make_images(tmp_path, ["a.jpg"])
    scores = write_csv(tmp_path / "s.csv", ["image_name", "MOS"], [["a.jpg", 3.2]])
    with pytest.raises(UserError, match="outside \\[1, 5\\]"):
        load_training_data(DataSection(scores=str(scores), mos_range="koniq"))  # 1-5 MOS with 0-100 constants


def test_no_score_column(tmp_path):
    make_images(tmp_path, ["a.jpg"])
    scores = write_csv(tmp_path / "s.csv", ["image_name", "stars"], [["a.jpg", 3]])
    with pytest.raises(UserError, match="no score column.*columns: image_name, stars"):
        load_training_data(DataSection(scores=str(scores)))


def test_tiny_recipe_reads_the_bundled_samples():
    recipe = load_recipe(TINY_RECIPE)
    data = load_training_data(recipe.data)
    assert len(data.examples) >= 4 and data.with_reference >= 1
    assert all(1.0 <= e.score <= 5.0 for e in data.examples)


# --------------------------------------------------------------------------------- real GRPO runs


def fresh_clone(tmp_path: Path) -> Path:
    """The recipes and samples as a clone has them (the files git tracks, nothing built or cached)."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "recipes", "samples"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert "recipes/tiny-cpu.yaml" in files
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_readme_training_command_runs_on_a_fresh_clone(tmp_path, monkeypatch):
    """The README's CPU training command as it stands (one step instead of eight), from a clone's files
    alone: its model is the embedded one, so there is nothing to build first."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line.split("#")[0].split() for line in readme.splitlines()
                   if line.strip().startswith("qassess train recipes/tiny-cpu.yaml"))
    monkeypatch.chdir(fresh_clone(tmp_path / "clone"))
    result = CliRunner().invoke(app, [*command[1:], "--no-progress", "--max_steps", "1", "--save_steps", "1",
                                      "--output_dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
    info = json.loads((tmp_path / "out" / "qassess_train.json").read_text())
    assert info["global_step"] == 1


def test_a_missing_model_folder_is_one_line_with_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.chdir(fresh_clone(tmp_path))
    for model in (".cache/tiny-qwen2.5-vl", "runs/never-trained", str(tmp_path / "nope")):
        if model.startswith("runs/"):
            (tmp_path / "runs").mkdir(exist_ok=True)  # runs/x is a folder here, not a hub id
        result = CliRunner().invoke(app, ["train", "recipes/tiny-cpu.yaml", "--model.name_or_path", model])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: no such model folder {model}; build it with"), lines
    photo = tmp_path / "samples"
    result = CliRunner().invoke(app, ["score", str(photo), "--model", ".cache/tiny-qwen2.5-vl"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("Error: no such model folder .cache/tiny-qwen2.5-vl;")



@pytest.fixture(scope="module")
def sample_data(tmp_path_factory) -> dict[str, str]:
    """Eight images in the samples' layouts (KonIQ CSV + Q-Reasoning human_test JSON)."""
    folder = tmp_path_factory.mktemp("samples")
    names = [f"s{i}.jpg" for i in range(8)]
    make_images(folder, names)
    write_csv(folder / "mos.csv", ["image_name", "MOS"], [[n, 12 + 10 * i] for i, n in enumerate(names)])
    refs = [{"image": n, "description": {"answer": f"a blurry noisy photo {i}"}, "good_aspect": {"answer": "vivid color"},
             "bad_aspect": {"answer": "dark, low contrast"}} for i, n in enumerate(names) if i % 2 == 0]
    (folder / "reasoning.json").write_text(json.dumps(refs))
    return {"scores": str(folder / "mos.csv"), "images": str(folder), "references": str(folder / "reasoning.json")}


def tiny_args(tiny_model: Path, data: dict[str, str], out: Path, *extra: str) -> list[str]:
    return ["train", str(TINY_RECIPE), "--no-progress", "--model.name_or_path", str(tiny_model),
            "--data.scores", data["scores"], "--data.images", data["images"], "--data.references",
            data["references"], "--output_dir", str(out), *extra]


@pytest.fixture(scope="module")
def trained(tiny_model, sample_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "tiny"
    result = CliRunner().invoke(app, tiny_args(tiny_model, sample_data, out, "--max_steps", "3", "--save_steps", "2"))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


@pytest.mark.slow
def test_tiny_run_moves_the_adapter_and_logs_every_reward(trained):
    from safetensors.torch import load_file

    weights = load_file(trained / "adapter_model.safetensors")
    lora_b = {k: v for k, v in weights.items() if "lora_B" in k}
    assert lora_b and not any("visual" in k for k in weights)  # vision tower frozen
    # LoRA B starts at zero; only a non-zero policy gradient (a reward that varied in a group) moves it.
    assert any(v.abs().max() > 0 for v in lora_b.values())
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for record in steps:
        for name in REWARD_NAMES:
            assert f"rewards/{name}/mean" in record and f"rewards/{name}/std" in record
        assert "self_consistency/caption_rate" in record
    assert any(r["rewards/reasoning/std"] > 0 for r in steps)
    info = json.loads((trained / "qassess_train.json").read_text())
    assert info["global_step"] == 3 and info["score_scaling"]["column"] == "MOS" and info["with_reference"] == 4


@pytest.mark.slow
def test_output_loads_with_stock_classes_and_scores(trained, sample_data, tmp_path):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(trained)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    config = json.loads((trained / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]).is_absolute()
    out = tmp_path / "scored.csv"
    result = CliRunner().invoke(app, ["score", sample_data["images"], "-o", str(out), "--model", str(trained),
                                      "--backend", "transformers", "--max-new-tokens", "8"])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8


@pytest.mark.slow
def test_merged_model_equals_base_plus_adapter(trained, tmp_path):
    import torch
    from transformers import AutoModelForImageTextToText

    from qassess.models.adapters import ensure_merged

    merged_dir = ensure_merged(trained)
    assert merged_dir == trained / "merged" and ensure_merged(trained) == merged_dir  # cached
    adapted = AutoModelForImageTextToText.from_pretrained(trained).eval()
    merged = AutoModelForImageTextToText.from_pretrained(merged_dir).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    ids = torch.tensor([[5, 17, 99, 230, 7]])
    with torch.no_grad():
        a, b = adapted(input_ids=ids).logits, merged(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.slow
def test_rerun_resumes_from_the_last_checkpoint(trained, tiny_model, sample_data):
    import shutil

    copy = trained.parent / "resumed"
    shutil.copytree(trained, copy)
    result = CliRunner().invoke(app, tiny_args(tiny_model, sample_data, copy, "--max_steps", "4"))
    assert result.exit_code == 0, result.output
    assert f"resuming from {copy / 'checkpoint-3'}" in result.output
    log = [json.loads(line) for line in (copy / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "reward" in r] == [1, 2, 3, 4]  # only step 4 was trained again
    assert json.loads((copy / "qassess_train.json").read_text())["global_step"] == 4


@pytest.mark.slow
def test_self_consistency_generates_with_the_live_policy(tiny_model, sample_data, tmp_path):
    """Stage 2 runs the trainer's model on the caption prompt (no image), and its answers change when
    the policy's weights change."""
    import torch

    from qassess.core.prompts import get_template
    from qassess.train.policy import generate_with_trainer
    from qassess.train.trainer import prepare

    recipe = load_recipe(TINY_RECIPE, ["--model.name_or_path", str(tiny_model), "--data.scores",
                                       sample_data["scores"], "--data.images", sample_data["images"],
                                       "--data.references", sample_data["references"],
                                       "--output_dir", str(tmp_path / "out")])
    prepared = prepare(recipe, show_progress=False, say=lambda _: None)
    trainer = prepared.trainer
    reward = next(f for f in trainer.reward_funcs if getattr(f, "__name__", "") == "self_consistency")
    conversations = [get_template("paper").caption_messages(c) for c in ("a sharp dog", "a dark blurry street")]

    seen: list[torch.Tensor] = []
    policy = trainer.model.get_base_model()  # the Qwen2.5-VL under the LoRA wrapper
    hook = policy.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs.get("input_ids")),
                                            with_kwargs=True)
    try:
        before = generate_with_trainer(trainer, conversations, 12, 0.0)  # greedy: a function of the weights
        prompts = [trainer.processing_class.tokenizer.decode(row) for row in seen[0]]
        assert "a sharp dog" in prompts[0] and "a dark blurry street" in prompts[1]  # one batched call
        assert not any("<|image_pad|>" in p for p in prompts)
        assert len(before) == 2 and all(isinstance(t, str) for t in before)

        seen.clear()
        completion = [{"role": "assistant", "content": "<caption>a sharp dog</caption><think>x</think>"
                                                       "<answer>{\"rating\": 3}</answer>"}]
        out = reward([completion, completion, [{"role": "assistant", "content": "no caption"}]], score=[3.0] * 3)
        assert len(out) == 3 and all(0.0 <= r <= 1.0 for r in out) and out[2] == 0.0
        assert seen and seen[0].shape[0] == 1  # the reward asked the policy once, for the one distinct caption
    finally:
        hook.remove()

    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    after = generate_with_trainer(trainer, conversations, 12, 0.0)
    assert after != before



@pytest.mark.slow
def test_prefill_reward_follows_the_policy(tiny_model, sample_data, tmp_path):
    """mode: prefill reads the live policy: changing the adapter changes the reward."""
    import torch

    from qassess.train.trainer import prepare

    recipe = load_recipe(TINY_RECIPE, [
        "--model.name_or_path", str(tiny_model), "--data.scores", sample_data["scores"], "--data.images",
        sample_data["images"], "--data.references", sample_data["references"], "--output_dir", str(tmp_path / "o")])
    for spec in recipe.rewards:
        if spec.name == "self_consistency":
            spec.params["mode"] = "prefill"
    trainer = prepare(recipe, show_progress=False, say=lambda _: None).trainer
    reward = next(f for f in trainer.reward_funcs if getattr(f, "__name__", "") == "self_consistency")
    assert reward.mode == "prefill"
    completions = [[{"role": "assistant", "content": f"<caption>{c}</caption><think>x</think><answer>3</answer>"}]
                   for c in ("a sharp dog", "a dark blurry street")]
    before = [reward.stage2_ratings([c]) for c in ("a sharp dog", "a dark blurry street")]
    out = reward(completions, score=[3.0, 3.0])
    assert len(out) == 2 and all(0.0 <= r <= 1.0 for r in out)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    after = [reward.stage2_ratings([c]) for c in ("a sharp dog", "a dark blurry street")]
    assert all(1 <= r[0] <= 5 for r in before + after)
    assert after != before


def test_stage2_through_the_vllm_engine_uses_short_limits_and_restores_them(tiny_model):
    """With use_vllm the stage-2 prompts go to TRL's engine as token ids, without images, with the
    reward's token limit and temperature for that call only (vLLM training itself needs a GPU)."""
    from types import SimpleNamespace

    from transformers import AutoProcessor

    from qassess.core.prompts import get_template
    from qassess.train.policy import generate_with_trainer

    processor = AutoProcessor.from_pretrained(tiny_model)
    tokenizer = processor.tokenizer

    class Engine:  # TRL's VLLMGeneration interface: generate(prompts, images, num_generations)
        max_completion_length, temperature = 1024, 1.0

        def generate(self, prompts, images, num_generations):
            self.seen = (prompts, images, num_generations, self.max_completion_length, self.temperature)
            answer = tokenizer('<answer>{"rating": 3}</answer>', add_special_tokens=False)["input_ids"]
            return prompts, [answer for _ in prompts], None, None

    engine = Engine()
    trainer = SimpleNamespace(use_vllm=True, vllm_generation=engine, processing_class=processor)
    conversations = [get_template("paper").caption_messages(c) for c in ("a dog", "a cat")]
    out = generate_with_trainer(trainer, conversations, 40, 0.7)
    assert out == ['<answer>{"rating": 3}</answer>'] * 2
    prompts, images, n, limit, temperature = engine.seen
    assert images is None and n == 1 and (limit, temperature) == (40, 0.7)
    assert "a cat" in tokenizer.decode(prompts[1]) and "<|image_pad|>" not in tokenizer.decode(prompts[1])
    assert (engine.max_completion_length, engine.temperature) == (1024, 1.0)  # restored


@pytest.mark.slow
@pytest.mark.vllm
def test_training_output_scores_with_vllm(trained, sample_data, tmp_path):
    """The train output directory itself works as `--model` for vLLM (merged once into DIR/merged). Run
    as its own process, as users run it (vLLM's engine process and in-process output capture do not mix)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "vllm.csv"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    result = subprocess.run([sys.executable, "-m", "qassess", "score", sample_data["images"], "-o", str(out),
                             "--model", str(trained), "--backend", "vllm", "--max-new-tokens", "8"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LoRA adapter: using its merged copy" in result.stderr and (trained / "merged" / "config.json").is_file()
    with open(out, newline="") as f:
        assert len(list(csv.DictReader(f))) == 8
