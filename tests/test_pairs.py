"""`qassess pairs`: verdict parsing, both orders asked and combined (position bias), a parse failure kept
as a failure, the pair design, and real runs of the embedded default model (transformers backend)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qassess.cli.app import app
from qassess.core.assessor import Settings
from qassess.pairwise import design
from qassess.pairwise.judge import PairJudge
from qassess.pairwise.prompts import parse_verdict

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "real"


@pytest.mark.parametrize("text, winner", [
    ('<caption>x</caption><think>y</think><answer>{"better": "A"}</answer>', "a"),
    ("<answer>Image B</answer>", "b"),
    ("<answer>{'better': 'similar'}</answer>", "tie"),
    ('<answer>better: the second image</answer>', "b"),
])
def test_parse_verdict(text, winner):
    assert parse_verdict(text)[0] == winner


@pytest.mark.parametrize("text, why", [
    ('<answer>{"rating": 3.2}</answer>', "names neither image"),
    ('<answer>{"better": "A", "winner": "B"}</answer>', "several verdicts"),
    ("A is better", "no <answer> block"),
    ("", "empty output"),
])
def test_parse_failure_says_why(text, why):
    winner, _, _, error = parse_verdict(text)
    assert winner is None and why in error


class FakeBackend:
    """Answers from the images it is shown: `judge(first, second)` -> answer text; records the requests."""

    name = "fake"

    def __init__(self, judge):
        self.judge, self.requests = judge, []

    def pixel_budget(self):
        return 28 * 28, 64 * 28 * 28, 28

    def generate(self, requests, sampling):
        self.requests += requests
        return [[self.judge(r.images[0], r.images[1])] * sampling.n for r in requests]

    def close(self):
        pass


def _judge_with(answer, pairs):
    backend = FakeBackend(answer)
    judge = PairJudge(Settings(backend="transformers"), loaded_backend=backend)
    rows = [r for batch in judge.judge(pairs) for r in batch]
    return rows, backend


def test_both_orders_are_asked_and_agree(two_images):
    bright, dark = two_images

    def brighter(first, second):  # a fair judge: the brighter image, wherever it is shown
        return f'<answer>{{"better": "{"A" if first.getpixel((0, 0))[0] > second.getpixel((0, 0))[0] else "B"}"}}</answer>'

    rows, backend = _judge_with(brighter, [(bright, dark), (dark, bright)])
    assert len(backend.requests) == 4  # two pairs, each in both orders
    first, second = backend.requests[0], backend.requests[1]
    assert first.images[0].getpixel((0, 0)) == second.images[1].getpixel((0, 0))  # the same pair, swapped
    assert [r["winner"] for r in rows] == ["a", "b"] and [r["p_a"] for r in rows] == [1.0, 0.0]
    assert all(r["status"] == "ok" and r["position_flip"] == 0 and r["order_gap"] == 0 for r in rows)


def test_position_bias_is_measured_not_hidden(two_images):
    rows, _ = _judge_with(lambda first, second: '<answer>{"better": "A"}</answer>', [tuple(two_images)])
    row = rows[0]
    assert (row["p_ab"], row["p_ba"], row["p_a"], row["winner"]) == (1.0, 0.0, 0.5, "tie")
    assert row["position_flip"] == 1 and row["order_gap"] == 1.0


def test_a_parse_failure_is_a_recorded_failure_never_a_coin_flip(two_images):
    answers = iter(['<answer>{"better": "A"}</answer>', '<answer>{"rating": 4}</answer>'])
    rows, _ = _judge_with(lambda first, second: next(answers), [tuple(two_images)])
    row = rows[0]
    assert row["status"] == "parse_error" and row["winner"] is None and row["p_a"] is None
    assert "order ba: the answer names neither image" in row["error"] and row["p_ab"] == 1.0


def test_budget_and_design():
    items = [f"i{k}" for k in range(10)]
    assert design.parse_budget("4n", 10) == 40 and design.parse_budget("1000", 10) == 45
    cycle = design.first_round(items, seed=0)
    assert len(cycle) == 10 and all(sum(x in p for p in cycle) == 2 for x in items)
    latent = {x: float(k) for k, x in enumerate(items)}
    more = design.next_round(latent, dict.fromkeys(items, 1.0), {frozenset(p) for p in cycle}, 5)
    assert more and all(abs(latent[a] - latent[b]) <= design.WINDOW for a, b in more)
    assert len({x for p in more for x in p}) == 2 * len(more)  # each item once per round
    pairs = design.anchor_pairs(items, ["i0", "i5"])
    assert ("i0", "i5") in pairs and len(pairs) == 1 + 8 * 2


def _cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def test_default_model_on_a_pairs_table_records_why_it_gives_no_verdict(tmp_path):
    """The embedded demo model rates single images; shown two it still answers with a rating, and every
    such row is a parse_error with its reason (and a hint), resumed on a rerun."""
    table = tmp_path / "pairs.csv"
    table.write_text(f"a,b\n{SAMPLES / 'kodak_kodim15__pristine.png'},{SAMPLES / 'kodak_kodim15__jpeg_4.png'}\n")
    out = tmp_path / "verdicts.jsonl"
    result = _cli("pairs", table, "-o", out, "--backend", "transformers", "--max-new-tokens", "96")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["status"] == "parse_error" and rows[0]["winner"] is None
    assert rows[0]["raw_ab"] and rows[0]["raw_ba"] and "order ab" in rows[0]["error"]
    again = _cli("pairs", table, "-o", out, "--backend", "transformers", "--max-new-tokens", "96")
    assert again.exit_code == 0 and "1 of 1 pairs already judged" in again.output
    assert len(out.read_text().splitlines()) == 1


def test_default_model_ratings_to_scores(tmp_path):
    """--ask ratings with the default model: real verdicts from its ratings, then Bradley-Terry scores."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("kodak_kodim21__pristine", "kodak_kodim21__gaussian_blur_4", "kodak_kodim21__jpeg_4",
                 "kodak_kodim15__underexposure_3"):
        (photos / f"{name}.png").write_bytes((SAMPLES / f"{name}.png").read_bytes())
    out = tmp_path / "scores.csv"
    result = _cli("pairs", photos, "--ask", "ratings", "--budget", "2n", "-o", out, "--backend", "transformers")
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line) for line in (tmp_path / "scores.verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 6 and all(v["status"] == "ok" for v in verdicts)
    assert all(v["winner"] == ("a" if v["rating_a"] > v["rating_b"] else "b" if v["rating_a"] < v["rating_b"]
                               else "tie") for v in verdicts)
    scores = pd.read_csv(out)
    assert len(scores) == 4 and (scores["ci_low"] <= scores["score"]).all()
    assert "images scored (bradley-terry, relative scale)" in result.output
    mos = tmp_path / "mos.csv"  # the scores are ordinary predictions for `compare` (ids: the photos' paths)
    mos.write_text("image,mos\nkodak_kodim21__pristine.png,4.6\nkodak_kodim21__gaussian_blur_4.png,1.8\n"
                   "kodak_kodim21__jpeg_4.png,2.2\nkodak_kodim15__underexposure_3.png,2.9\n")
    compared = _cli("compare", out, mos, "--json", tmp_path / "m.json")
    assert compared.exit_code == 0, compared.output
    assert json.loads((tmp_path / "m.json").read_text())["overall"]["n"] == 4


def test_bad_input_is_one_line(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("left,right\nx.png,y.png\n")
    result = _cli("pairs", table, "-o", tmp_path / "v.jsonl")
    assert result.exit_code == 2 and "needs columns a and b" in result.output
    result = _cli("pairs", tmp_path, "--ask", "vote", "-o", tmp_path / "s.csv")
    assert result.exit_code == 2 and "--ask must be one of" in result.output


# ---------------------------------------------------------------------------------- the pairwise reward
def _rated(x):
    return f'<caption>c</caption><think>t</think><answer>{{"rating": {x}}}</answer>'


def test_pairwise_reward_is_registered_and_rewards_the_right_order():
    from qassess.train.rewards import REWARDS, build_reward

    assert "pairwise" in REWARDS
    reward = build_reward("pairwise", {}, "pairwise", {})
    # two images, two samples each: image x is better (score 4 > 2)
    groups = ["x", "x", "y", "y"]
    scores = [4.0, 4.0, 2.0, 2.0]
    right = reward([_rated(4.0), _rated(4.2), _rated(2.0), _rated(2.2)], score=scores, image_path=groups)
    wrong = reward([_rated(2.0), _rated(2.2), _rated(4.0), _rated(4.2)], score=scores, image_path=groups)
    assert all(r > 0.9 for r in right) and all(w < 0.1 for w in wrong)
    # by hand: x's sample at 4.2 against y (mean 2.1, var 0.01), x's own var 0.01
    from scipy.stats import norm

    p = norm.cdf((4.2 - 2.1) / (0.02 + 1e-6) ** 0.5)
    assert right[1] == pytest.approx(p ** 0.5)


def test_pairwise_reward_unparseable_is_zero_and_one_image_gives_no_signal():
    from qassess.train.rewards import build_reward

    reward = build_reward("pairwise", {}, "pairwise", {})
    got = reward(["no answer", _rated(3.0), _rated(2.0)], score=[4.0, 4.0, 2.0], image_path=["x", "x", "y"])
    assert got[0] == 0.0 and got[1] > 0.9 and got[2] > 0.9
    assert reward([_rated(3.0), _rated(2.0)], score=[3.0, 3.0], image_path=["x", "x"]) == [None, None]
    with pytest.raises(ValueError, match="image_path"):
        reward([_rated(3.0)], score=[3.0])
