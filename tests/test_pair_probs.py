"""P(a better) from the answer words' token probabilities (qassess.pairwise.answer_probs and the judge):
by hand on token trees, through the judge with a backend that reports scores, and on the tiny model with
the transformers backend."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from qassess.backends.base import Completion
from qassess.core.assessor import Settings
from qassess.pairwise import answer_probs
from qassess.pairwise.judge import PairJudge

LOG = math.log


def test_single_token_answers_are_their_softmax():
    steps = [{1: LOG(0.5), 2: LOG(0.3), 3: LOG(0.2), 9: 5.0}]  # 9: some other token, not an answer
    assert answer_probs.answer_distribution([[1], [2], [3]], 0, steps) == pytest.approx([0.5, 0.3, 0.2])


def test_answers_parting_late_are_read_along_the_written_one():
    image_a, image_b, similar = [5, 6, 1], [5, 6, 2], [7, 8]
    steps = [{5: LOG(0.6), 7: LOG(0.4)}, {6: 0.0}, {1: LOG(0.75), 2: LOG(0.25)}]
    got = answer_probs.answer_distribution([image_a, image_b, similar], 0, steps)
    assert got == pytest.approx([0.6 * 0.75, 0.6 * 0.25, 0.4]) and sum(got) == pytest.approx(1)
    # wrote "Similar": how "Image ..." would have split between A and B was never computed
    assert answer_probs.answer_distribution([image_a, image_b, similar], 2, [{5: 0.0, 7: 0.0}, {8: 0.0}]) is None
    # a score the backend did not report
    assert answer_probs.answer_distribution([[1], [2]], 0, [{1: 0.0, 2: -math.inf}]) is None


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


class ScoringBackend:
    """Writes a fixed answer per order with the tiny tokenizer's real ids, and reports scores at each step
    that put P(A) = p_first, P(B) = 0.1 and the rest on "similar" (the first image shown is A)."""

    name = "fake"
    reads_probabilities = True

    def __init__(self, tokenizer, answers, p_first):
        self.processor = type("P", (), {"tokenizer": tokenizer})()
        self.answers, self.p_first, self.calls = list(answers), p_first, 0

    def pixel_budget(self):
        return 28 * 28, 64 * 28 * 28, 28

    def decode(self, ids):
        return self.processor.tokenizer.decode(list(ids), skip_special_tokens=True)

    def complete(self, requests, sampling, score_ids):
        tok = self.processor.tokenizer
        a, b, s = (tok.encode(w, add_special_tokens=False)[0] for w in ("A", "B", "similar"))
        out = []
        for _ in requests:
            text = self.answers[self.calls % len(self.answers)]
            self.calls += 1
            ids = tok.encode(text, add_special_tokens=False)
            probs = {a: self.p_first, b: 0.1, s: 0.9 - self.p_first}
            scores = [[LOG(probs[t]) if t in probs else 0.0 for t in score_ids] for _ in ids]
            out.append([Completion(text, ids, scores)] * sampling.n)
        return out

    def generate(self, requests, sampling):
        return [[c.text for c in cs] for cs in self.complete(requests, sampling, [])]

    def close(self):
        pass


def test_the_judge_uses_token_probabilities_and_keeps_the_stated_share(tokenizer, two_images):
    answer = '<caption>c</caption><think>t</think><answer>{"better": "A"}</answer>'
    backend = ScoringBackend(tokenizer, [answer], p_first=0.7)
    judge = PairJudge(Settings(backend="transformers"), loaded_backend=backend)
    row = next(judge.judge([tuple(two_images)]))[0]
    # each order: P(first better) = 0.7 + 0.2 / 2 = 0.8; order ba is about b, so P(a better) there is 0.2
    assert row["p_from"] == "tokens" and (row["p_ab"], row["p_ba"]) == pytest.approx((0.8, 0.2))
    assert row["p_a"] == pytest.approx(0.5) and row["winner"] == "tie" and row["position_flip"] == 1
    assert row["p_a_samples"] == 0.5 and row["status"] == "ok"  # the stated "A", "A": 1 and 0


def test_without_probabilities_the_stated_verdicts_are_used(tokenizer, two_images):
    answer = '<answer>{"better": "B"}</answer>'
    backend = ScoringBackend(tokenizer, [answer], p_first=0.7)
    row = next(PairJudge(Settings(backend="transformers", probs=False), loaded_backend=backend)
               .judge([tuple(two_images)]))[0]
    assert row["p_from"] == "samples" and (row["p_ab"], row["p_ba"], row["p_a"]) == (0.0, 1.0, 0.5)


def test_tiny_model_compare2score_reads_level_probabilities(tiny_model, two_images):
    """A real forward pass after Compare2Score's answer prefix: P(a better) from the five level words."""
    settings = Settings(model=str(tiny_model), backend="transformers", dtype="float32", max_new_tokens=8)
    judge = PairJudge(settings, template="compare2score")
    try:
        rows = [r for batch in judge.judge([tuple(two_images)]) for r in batch]
    finally:
        judge.close()
    row = rows[0]
    assert row["status"] == "ok" and row["p_from"] == "tokens", row
    assert all(0 < row[k] < 1 for k in ("p_a", "p_ab", "p_ba")) and row["raw_ab"] is None
    assert row["p_a"] == pytest.approx((row["p_ab"] + row["p_ba"]) / 2, abs=1e-4)
    assert row["winner"] == ("a" if row["p_a"] > 0.5 else "b" if row["p_a"] < 0.5 else "tie")


def test_tiny_model_writes_the_row_through_the_cli(tiny_model, two_images, tmp_path):
    import json

    from typer.testing import CliRunner

    from qassess.cli.app import app

    table = tmp_path / "pairs.csv"
    table.write_text(f"a,b\n{two_images[0]},{two_images[1]}\n")
    out = tmp_path / "v.jsonl"
    result = CliRunner().invoke(app, ["pairs", str(table), "-o", str(out), "-m", str(tiny_model), "--backend",
                                      "transformers", "--dtype", "float32", "--pair-template", "compare2score"])
    assert result.exit_code == 0, result.output
    row = json.loads(Path(out).read_text().splitlines()[0])
    assert row["p_from"] == "tokens" and 0 < row["p_a"] < 1 and row["template"] == "compare2score"
