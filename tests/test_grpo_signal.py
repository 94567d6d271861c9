"""The share of GRPO groups with no reward spread: hand-computed cases, and a real tiny-model run that
logs it (in total and per reward) into train_log.jsonl, agreeing with TRL's own total."""
from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from qassess.cli import app
from qassess.train.signal import rating_spread, zero_variance_shares
from test_training import REWARD_NAMES, TINY_RECIPE, make_images, write_csv

NAN = math.nan


def test_shares_by_hand():
    rows = [[1, 0], [1, 0],        # group 0: both rewards flat, total flat
            [1, 0], [0, 1],        # group 1: each reward varies, but the totals (1, 1) cancel out
            [0, 0.5], [0, 0.2]]    # group 2: a flat, b varies, total varies
    assert zero_variance_shares(rows, [1, 1], 2, ["a", "b"]) == {
        "zero_variance_groups": 2 / 3, "zero_variance_groups/a": 2 / 3, "zero_variance_groups/b": 1 / 3}
    # Weight 2 on a: group 1's totals are 2 and 1, so only group 0 is flat.
    assert zero_variance_shares(rows, [2, 1], 2, ["a", "b"])["zero_variance_groups"] == 1 / 3
    # As two groups of three consecutive rows: (1,0) x3 is flat everywhere; (0,1), (0,.5), (0,.2) has a flat.
    assert zero_variance_shares(rows, [1, 1], 3, ["a", "b"]) == {
        "zero_variance_groups": 1 / 2, "zero_variance_groups/a": 1.0, "zero_variance_groups/b": 1 / 2}


def test_spread_below_the_tolerance_is_flat_and_above_it_is_not():
    shares = zero_variance_shares([[0.5], [0.5 + 1e-9], [0.5], [0.5 + 1e-3]], [1], 2, ["a"])
    assert shares == {"zero_variance_groups": 0.5, "zero_variance_groups/a": 0.5}


def test_unscored_completions_are_left_out():
    rows = [[NAN, NAN], [1, 0], [1, 0], [1, 0],      # an unscorable row; the other three agree: flat
            [NAN, 0.3], [NAN, 0.1], [NAN, 0.3], [NAN, 0.3]]  # a never applied (flat), b varies
    assert zero_variance_shares(rows, [1, 1], 4, ["a", "b"]) == {
        "zero_variance_groups": 0.5, "zero_variance_groups/a": 1.0, "zero_variance_groups/b": 0.5}
    # One scored completion in a group has nothing to differ from.
    lonely = [[NAN], [NAN], [NAN], [0.7]]
    assert zero_variance_shares(lonely, [1], 4, ["a"])["zero_variance_groups"] == 1.0


@pytest.mark.parametrize("rows, weights, group, names, message", [
    ([[1, 2], [3, 4], [5, 6]], [1, 1], 2, ["a", "b"], "do not split into groups of 2"),
    ([[1, 2], [3, 4]], [1], 2, ["a", "b"], "do not match 2 names and 1 weights"),
    ([1, 2], [1], 2, ["a"], "do not match"),
])
def test_shapes_that_do_not_fit_are_refused(rows, weights, group, names, message):
    with pytest.raises(ValueError, match=message):
        zero_variance_shares(rows, weights, group, names)


def test_rating_spread_by_hand():
    # the hedge MODEL.md found: most completions write one value near the labels' mean
    hedge = rating_spread([2.22, 2.22, 2.22, 3.88, 2.22, 1.0, 2.22, None])
    assert hedge["ratings/mean"] == pytest.approx((2.22 * 5 + 3.88 + 1.0) / 7)
    assert hedge["ratings/std"] == pytest.approx(0.7761, abs=1e-4)  # np.std of the seven parsed ratings
    assert rating_spread([1.0, 3.0]) == {"ratings/mean": 2.0, "ratings/std": 1.0}
    assert rating_spread([2.5]) == {"ratings/mean": 2.5, "ratings/std": 0.0}
    assert all(math.isnan(v) for v in rating_spread([None, None]).values())
    assert all(math.isnan(v) for v in rating_spread([]).values())


@pytest.mark.slow
def test_a_tiny_grpo_run_logs_the_shares(tiny_model, tmp_path):
    names = [f"s{i}.jpg" for i in range(4)]
    make_images(tmp_path / "img", names)
    scores = write_csv(tmp_path / "mos.csv", ["image_name", "MOS"], [[n, 15 + 20 * i] for i, n in enumerate(names)])
    refs = [{"image": n, "description": {"answer": f"a blurry noisy photo {i}"}, "good_aspect": {"answer": "vivid"},
             "bad_aspect": {"answer": "dark, low contrast"}} for i, n in enumerate(names)]
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", str(TINY_RECIPE), "--model.name_or_path", str(tiny_model), "--data.scores", str(scores),
        "--data.images", str(tmp_path / "img"), "--data.references", str(tmp_path / "refs.json"),
        "--output_dir", str(out), "--max_steps", "2", "--save_steps", "2",
        "--per_device_train_batch_size", "8"])  # 2 groups of 4 a step
    assert result.exit_code == 0, result.output + repr(result.exception)
    steps = [r for r in map(json.loads, (out / "train_log.jsonl").read_text().splitlines()) if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for record in steps:
        assert record["zero_variance_groups"] in (0.0, 0.5, 1.0)
        assert record["zero_variance_groups"] == pytest.approx(record["frac_reward_zero_std"])  # TRL's own total
        for name in REWARD_NAMES:
            share = record[f"zero_variance_groups/{name}"]
            assert share in (0.0, 0.5, 1.0)
            assert share == 1.0 or record[f"rewards/{name}/std"] > 0  # a spread in a group is one in the batch
        others = [n for n in REWARD_NAMES if n != "reasoning"]
        if all(record[f"zero_variance_groups/{n}"] == 1.0 for n in others):  # a random model: only the
            assert record["zero_variance_groups"] == record["zero_variance_groups/reasoning"]  # words vary
    assert any(r["zero_variance_groups/reasoning"] < 1.0 for r in steps)  # the case is not all-flat
    assert "zero-variance groups" in result.output  # the progress line shows the total
    # a random tiny model writes no rating: NaN, which TRL logs as it is (json null or NaN)
    assert all("ratings/std" in r for r in steps)
