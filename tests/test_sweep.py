"""`qassess train RECIPE --sweep FILE`: the sweep file, each run's recipe and folder, and real tiny-model
runs in turn: a rerun skips finished runs, resumes an interrupted one and refuses a changed one."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qassess.cli import app
from qassess.errors import UserError
from qassess.train.sweep import MARKER, load_sweep, plan
from test_training import TINY_RECIPE, make_images, write_csv

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_each_run_gets_its_overrides_and_its_folder(tmp_path):
    sweep = write(tmp_path, "low: {rewards.reasoning.weight: 0.5, learning_rate: 1.0e-4}\nplain:\n"
                            "more-steps: {max_steps: 12, lora.r: 4}\n")
    root, runs = plan(TINY_RECIPE, ["--output_dir", str(tmp_path / "out"), "--max_steps", "2"], sweep)
    assert root == tmp_path / "out" and [name for name, _ in runs] == ["low", "plain", "more-steps"]
    low, plain, more = (recipe for _, recipe in runs)
    assert [r.training["output_dir"] for r in (low, plain, more)] == [str(root / n) for n in ("low", "plain", "more-steps")]
    weights = {r.name: r.weight for r in low.rewards}
    assert weights["reasoning"] == 0.5 and weights["prediction"] == 1.0
    assert low.training["learning_rate"] == 1e-4 and plain.training["learning_rate"] == 1e-3  # the recipe's
    assert (plain.training["max_steps"], more.training["max_steps"]) == (2, 12)  # the run's own override wins
    assert (plain.lora.r, more.lora.r) == (8, 4)


def test_shipped_sweep_has_five_weightings_with_the_papers_equal_one():
    root, runs = plan(ROOT / "recipes" / "default" / "grpo.yaml", [], ROOT / "recipes" / "sweeps" / "reasoning-weight.yaml")
    weights = [{r.name: r.weight for r in recipe.rewards} for _, recipe in runs]
    assert len(runs) >= 5 and {"reasoning": 1.0, "prediction": 1.0} == {k: weights[2][k] for k in ("reasoning", "prediction")}
    assert all(w["reasoning"] + w["prediction"] == 2.0 for w in weights)
    assert len({w["reasoning"] for w in weights}) == len(runs) and root == Path("runs/default-grpo")


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "expected a mapping of run names"),
    ("a: [1, 2]\n", "run 'a' must map dotted keys to values"),
    ("../up: {}\n", "is not a folder name"),
    ("a: {output_dir: x}\n", "sets output_dir"),
    ("a: {rewards.nope.weight: 2}\n", "sweep run 'a': .*no reward labelled 'nope'"),
    ("a: {learnig_rate: 2}\n", "sweep run 'a': .*did you mean 'learning_rate'"),
    ("a: {lora.r: many}\n", "sweep run 'a': lora.r"),
    ("a: {b: [}\n", "not valid YAML"),
])
def test_bad_sweep_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        plan(TINY_RECIPE, [], write(tmp_path, text))


def test_missing_sweep_file_from_the_command_line(tmp_path):
    result = CliRunner().invoke(app, ["train", str(TINY_RECIPE), "--sweep", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: sweep file not found"), lines


def test_order_is_the_files(tmp_path):
    assert [n for n, _ in load_sweep(write(tmp_path, "z: {}\na: {}\nm: {}\n"))] == ["z", "a", "m"]


@pytest.mark.slow
def test_sweep_trains_each_run_and_a_rerun_skips_finished_ones(tiny_model, tmp_path):
    names = [f"s{i}.jpg" for i in range(4)]
    make_images(tmp_path / "img", names)
    scores = write_csv(tmp_path / "mos.csv", ["image_name", "MOS"], [[n, 15 + 20 * i] for i, n in enumerate(names)])
    sweep = write(tmp_path, "equal: {}\nreasoning-2x: {rewards.reasoning.weight: 2.0, max_steps: 2}\n")
    out = tmp_path / "sweep"
    args = ["train", str(TINY_RECIPE), "--sweep", str(sweep), "--no-progress", "--model.name_or_path",
            str(tiny_model), "--data.scores", str(scores), "--data.images", str(tmp_path / "img"),
            "--data.references", "null", "--output_dir", str(out), "--max_steps", "1", "--save_steps", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    for name, steps, weight in (("equal", 1, 1.0), ("reasoning-2x", 2, 2.0)):
        info = json.loads((out / name / "qassess_train.json").read_text())
        assert info["global_step"] == steps and (out / name / "adapter_model.safetensors").is_file()
        assert {r["name"]: r["weight"] for r in info["recipe"]["rewards"]}["reasoning"] == weight
    summary = json.loads((out / "sweep.json").read_text())["runs"]
    assert [(r["run"], r["finished"], r["global_step"]) for r in summary] == [("equal", True, 1), ("reasoning-2x", True, 2)]

    # A rerun trains nothing: both runs are finished with the same recipe.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("adapter_model.safetensors")}
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "equal: finished" in result.output and "reasoning-2x: finished" in result.output
    assert "skipped" in result.output and "training into" not in result.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("adapter_model.safetensors")} == before

    # An interrupted run (its checkpoint there, no final output) resumes from its checkpoint.
    run = out / "reasoning-2x"
    for name in ("qassess_train.json", "adapter_model.safetensors"):
        (run / name).unlink()
    shutil.rmtree(run / "checkpoint-2")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "reasoning-2x: resuming" in result.output and f"resuming from {run / 'checkpoint-1'}" in result.output
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "reward" in r] == [1, 2, 2]  # step 2 trained again, step 1 not
    assert json.loads((run / "qassess_train.json").read_text())["global_step"] == 2

    # Changing a run's settings under the same name is refused before anything trains.
    marker = json.loads((run / MARKER).read_text())
    assert marker["run"] == "reasoning-2x"
    write(tmp_path, "equal: {}\nreasoning-2x: {rewards.reasoning.weight: 3.0, max_steps: 2}\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "was trained with another recipe (rewards.3.weight: 2.0 -> 3.0)" in lines[0], lines
