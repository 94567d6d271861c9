"""Recipes: the shipped YAML files parse, types are coerced, overrides apply, and every mistake is one
line that names the key (and the nearest valid one)."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qassess.cli import app
from qassess.errors import UserError
from qassess.train.config import MOS_PRESETS, Recipe, load_recipe, mos_range, parse_overrides, parse_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
MINIMAL = {"model": {"name_or_path": "m"}, "data": {"scores": "s.csv"}, "rewards": ["format"]}


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["full", "baseline", "tiny-cpu", "ablations/no-self-consistency",
                                  "ablations/no-reasoning", "ablations/reasoning-only"])
def test_shipped_recipes_parse(name):
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    assert isinstance(recipe, Recipe) and recipe.rewards
    assert recipe.training["output_dir"].startswith("runs/")


@pytest.mark.parametrize("name", ["full", "baseline", "tiny-cpu", "ablations/no-self-consistency",
                                  "ablations/no-reasoning", "ablations/reasoning-only"])
def test_shipped_recipes_make_a_valid_grpo_config(name, tmp_path):
    """TRL accepts every training section (GPU recipes checked with use_cpu, as this machine has no GPU)."""
    from qassess.train.trainer import grpo_config

    recipe = load_recipe(RECIPES / f"{name}.yaml", ["--use_cpu", "true"])
    config = grpo_config(recipe, tmp_path, [r.weight for r in recipe.rewards])
    assert config.num_generations == 4 and config.generation_batch_size % config.num_generations == 0
    assert config.reward_weights == [r.weight for r in recipe.rewards]
    assert config.model_init_kwargs["dtype"] == recipe.model.dtype


def test_full_recipe_is_the_papers_setup():
    recipe = load_recipe(RECIPES / "full.yaml")
    assert [r.name for r in recipe.rewards] == ["format", "prediction", "self_consistency", "reasoning"]
    assert all(r.weight == 1.0 for r in recipe.rewards)
    t = recipe.training
    assert (t["num_generations"], t["beta"], t["learning_rate"], t["num_train_epochs"]) == (4, 0.001, 1e-6, 2)
    assert isinstance(t["learning_rate"], float)  # "1.0e-6" in YAML
    assert (recipe.lora.r, recipe.lora.alpha, recipe.lora.dropout, recipe.lora.freeze_vision) == (8, 16, 0.1, True)
    assert recipe.template == "paper"


def test_extends_merges_sections_and_replaces_lists():
    base = load_recipe(RECIPES / "full.yaml")
    ablation = load_recipe(RECIPES / "ablations" / "no-self-consistency.yaml")
    assert "self_consistency" not in [r.name for r in ablation.rewards]
    assert ablation.training["output_dir"] == "runs/ablation-no-self-consistency"
    assert ablation.training["beta"] == base.training["beta"]  # inherited key by key
    baseline = load_recipe(RECIPES / "baseline.yaml")
    assert baseline.template == "q-insight" and [r.name for r in baseline.rewards] == ["threshold", "format"]
    assert baseline.rewards[1].params == {"blocks": ["think", "answer"], "value": 1.0}


def test_extends_loop_is_an_error(tmp_path):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(UserError, match="loops"):
        load_recipe(tmp_path / "a.yaml")


def test_yaml_exponent_without_dot_is_still_a_float(tmp_path):
    path = write(tmp_path, "model: {name_or_path: m}\ndata: {scores: s.csv}\ntraining: {learning_rate: 1e-6}\n")
    assert load_recipe(path).training["learning_rate"] == 1e-6


@pytest.mark.parametrize("text, message", [
    ("model: {name_or_path: m}\ndata: {scores: s}\ntraining: {learnig_rate: 0.1}\n",
     "unknown key 'learnig_rate' in training.*did you mean 'learning_rate'"),
    ("model: {name_or_path: m}\ndata: {scores: s}\nlora: {rank: 4}\n", "unknown key 'rank' in lora"),
    ("model: {name_or_path: m}\ndata: {scores: s, imgs: x}\n", "unknown key 'imgs' in data.*did you mean 'images'"),
    ("model: {name_or_path: m}\ndata: {scores: s}\nreward: []\n", "unknown key 'reward'.*did you mean 'rewards'"),
    ("model: {name_or_path: m}\ndata: {scores: s}\ntraining: {save_strategy: no}\n", "quote it"),
    ("model: {name_or_path: m}\ndata: {scores: s}\ntraining: {num_generations: four}\n",
     "training.num_generations: expected an integer"),
    ("model: {name_or_path: m}\ndata: {scores: s}\ntraining: {reward_weights: [1]}\n", "weight"),
    ("model: {name_or_path: m}\ndata: {scores: s}\nrewards: [{name: format, wieght: 2}]\n",
     "unknown key 'wieght' in rewards\\[0\\].*did you mean 'weight'"),
    ("model: {name_or_path: m}\ndata: {scores: s, mos_range: konik}\n", "did you mean 'koniq'"),
    ("model: {name_or_path: m}\ndata: {scores: s, mos_range: [5, 1]}\n", "min must be below max"),
    ("data: {scores: s}\n", "model.name_or_path is required"),
    ("model: {name_or_path: m}\n", "data.scores is required"),
    ("- a\n- b\n", "mapping"),
    ("model: [unclosed\n", "not valid YAML"),
])
def test_recipe_errors_are_one_line(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as info:
        load_recipe(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_mos_range_presets():
    recipe = parse_recipe({**MINIMAL, "data": {"scores": "s", "mos_range": "koniq"}})
    assert mos_range(recipe.data) == MOS_PRESETS["koniq"] == (3.91, 88.39)
    recipe = parse_recipe({**MINIMAL, "data": {"scores": "s", "mos_range": ["0", 100]}})
    assert mos_range(recipe.data) == (0.0, 100.0)


def test_parse_overrides_forms():
    assert parse_overrides(["--a", "1", "--b=2", "--flag", "--c", "x"]) == [
        ("a", "1"), ("b", "2"), ("flag", None), ("c", "x")]
    assert parse_overrides(["--skip-missing"]) == [("skip_missing", None)]
    with pytest.raises(UserError, match="unexpected argument"):
        parse_overrides(["stray"])


def test_overrides_land_in_their_sections_typed():
    overrides = ["--learning_rate", "2e-6", "--output_dir", "runs/x", "--lora.r", "16", "--skip-missing",
                 "--rewards.prediction.threshold", "0.3", "--rewards.format.weight", "2", "--template",
                 "q-insight", "--report_to", "none", "--save_strategy", "no", "--lora.target_modules", "[q_proj]"]
    recipe = load_recipe(RECIPES / "full.yaml", overrides)
    assert recipe.training["learning_rate"] == 2e-6 and recipe.training["output_dir"] == "runs/x"
    assert recipe.training["report_to"] == "none"
    assert str(getattr(recipe.training["save_strategy"], "value", recipe.training["save_strategy"])) == "no"
    assert recipe.lora.r == 16 and recipe.lora.target_modules == ["q_proj"]
    assert recipe.data.skip_missing is True
    assert recipe.template == "q-insight"
    by_name = {r.name: r for r in recipe.rewards}
    assert by_name["prediction"].params == {"threshold": "0.3"}  # typed when the reward is built
    assert by_name["format"].weight == 2.0


@pytest.mark.parametrize("overrides, message", [
    (["--learnin_rate", "1"], "unknown option --learnin_rate.*did you mean 'learning_rate'"),
    (["--rewards.predicton.threshold", "1"], "no reward labelled 'predicton'.*did you mean 'prediction'"),
    (["--lora.r", "big"], "lora.r: expected an integer"),
    (["--data.nope", "1"], "unknown key 'nope' in data"),
])
def test_bad_overrides(overrides, message):
    with pytest.raises(UserError, match=message):
        load_recipe(RECIPES / "full.yaml", overrides)


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_recipe_errors_exit_2_with_one_line(tmp_path):
    runner = CliRunner()
    bad = write(tmp_path, "model: {name_or_path: m}\ndata: {scores: s}\ntraining: {learnig_rate: 0.1}\n")
    result = runner.invoke(app, ["train", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["Error: unknown key 'learnig_rate' in training (GRPOConfig fields) (did you mean 'learning_rate'?)"]

    result = runner.invoke(app, ["train", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "recipe not found" in result.output

    result = runner.invoke(app, ["train", str(RECIPES / "full.yaml"), "--learnin_rate", "1"])
    assert result.exit_code == 2 and "did you mean 'learning_rate'" in result.output


def test_cli_missing_data_is_a_one_line_error(tmp_path):
    recipe = write(tmp_path, f"model: {{name_or_path: default}}\ndata: {{scores: {tmp_path / 'nope.csv'}}}\n"
                             "rewards: [format]\n")
    result = CliRunner().invoke(app, ["train", str(recipe)])
    assert result.exit_code == 2
    assert "data file not found" in result.output
