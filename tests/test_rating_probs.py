"""Ratings from the model's own probabilities (rating_expected / rating_probs) and the one-pass stage 2
(`--self-check-mode prefill`, the self_consistency reward's `mode: prefill`)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from qassess.core import rating_probs
from qassess.backends.base import Backend, Completion
from qassess.errors import UserError
from qassess.core.assessor import Assessor, Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples" / "real").glob("*.png"))[:4]


class CharTokenizer:
    """One token per character (ids = code points): digits are single tokens, decode is exact."""

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


class FixedScores(Backend):
    """A backend stubbed at its boundary only: it 'generates' a fixed text and reports, at every step,
    the digit scores the test chose. Everything after the boundary (parsing, locating the digits,
    softmax, expectation, the row) is the real code."""

    name = "fixed"

    def __init__(self, text: str, scores_at: dict[int, list[float]], next_scores: list[float] | None = None):
        self.text, self.scores_at, self.next_scores = text, scores_at, next_scores
        self.processor = type("P", (), {"tokenizer": CharTokenizer()})()

    def generate(self, requests, sampling):
        return [[self.text] * sampling.n for _ in requests]

    def complete(self, requests, sampling, score_ids=None):
        ids = [ord(c) for c in self.text]
        flat = [0.0] * 10
        scores = [self.scores_at.get(step, flat) for step in range(len(ids))] if score_ids else None
        return [[Completion(self.text, ids, scores)] * sampling.n for _ in requests]

    def next_token_scores(self, requests, prefixes, score_ids):
        return [self.next_scores for _ in requests]

    def pixel_budget(self):
        return (4 * 28 * 28, 16 * 28 * 28, 28)

    def decode(self, ids):
        return "".join(chr(i) for i in ids)


def log(ps: list[float]) -> list[float]:
    return [math.log(p) if p > 0 else -1e9 for p in ps]


def test_expected_rating_is_the_hand_computation():
    text = '<caption>c</caption><think>t</think><answer>{"rating": 3.45}</answer>'
    at = text.index("3.45")
    level = [0, 0.1, 0.2, 0.4, 0.2, 0.1, 0, 0, 0, 0]       # over "0".."9"; levels 1..5 hold all the mass
    tenths = [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0, 0]             # E = 2.0  -> +0.2
    hundredths = [0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0]           # E = 5.0  -> +0.05
    backend = FixedScores(text, {at: log(level), at + 2: log(tenths), at + 3: log(hundredths)})
    with Assessor(Settings(model="m"), loaded_backend=backend) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["status"] == "ok" and row["rating"] == 3.45
    hand = (1 * 0.1 + 2 * 0.2 + 3 * 0.4 + 4 * 0.2 + 5 * 0.1) + 0.2 + 0.05
    assert row["rating_expected"] == pytest.approx(hand, abs=1e-4)
    assert row["rating_probs"] == pytest.approx([0.1, 0.2, 0.4, 0.2, 0.1], abs=1e-6)


def test_levels_are_renormalised_and_scores_may_be_logits():
    # mass on non-rating tokens ("0", "9") is not a rating; adding a constant to every score changes nothing
    text = "<answer>rating: 2</answer>"
    at = text.index("2")
    scores = [x + 7.0 for x in log([0.5, 0.25, 0.25, 0, 0, 0, 0, 0, 0, 0.0])]
    with Assessor(Settings(model="m"), loaded_backend=FixedScores(text, {at: scores})) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["rating_probs"] == pytest.approx([0.5, 0.5, 0, 0, 0], abs=1e-6)
    assert row["rating_expected"] == pytest.approx(1.5, abs=1e-4)


@pytest.mark.parametrize("text", ["<answer>no number here</answer>", "<caption>c</caption>", ""])
def test_unparseable_rows_get_no_expected_rating(text):
    with Assessor(Settings(model="m"), loaded_backend=FixedScores(text, {})) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["status"] == "parse_error"
    assert row["rating_expected"] is None and row["rating_probs"] is None


def test_unreadable_literals_and_tokenizers_give_none():
    assert rating_probs.digit_positions("x 3e0", (2, 5)) is None           # not a plain literal
    assert rating_probs.digit_positions("x 10.5", (2, 6)) is None          # two-digit integer part
    assert rating_probs.digit_positions("x 4,25", (2, 6)) == [2, 4, 5]     # decimal comma
    assert rating_probs.digit_positions("x 4.125", (2, 7)) == [2, 4, 5]    # at most two decimals read

    class Merging:  # "35" is one token: the digit cannot be read on its own
        def encode(self, text, add_special_tokens=False):
            return [1] if text.isdigit() and len(text) == 1 else [1, 2]

        def decode(self, ids, skip_special_tokens=True):
            return "3"
    assert rating_probs.digit_token_ids(Merging()) is None
    # a token that holds more than the digit: the step check refuses it
    pieces = {0: "ab", 1: "35"}
    assert rating_probs.token_steps([0, 1], "ab35", [2], lambda ids: "".join(pieces[i] for i in ids)) is None
    pieces = {0: "ab", 1: "3", 2: "5"}
    assert rating_probs.token_steps([0, 1, 2], "ab35", [2, 3], lambda ids: "".join(pieces[i] for i in ids)) == [1, 2]


def test_no_probs_and_plugins_without_scores():
    text = '<answer>{"rating": 4}</answer>'
    with Assessor(Settings(model="m", probs=False), loaded_backend=FixedScores(text, {})) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["rating"] == 4 and row["rating_expected"] is None

    class TextOnly:  # a plugin that only implements generate
        name = "plain"

        def generate(self, requests, sampling):
            return [[text] for _ in requests]

        def pixel_budget(self):
            return (4 * 28 * 28, 16 * 28 * 28, 28)

        def close(self):
            pass
    with Assessor(Settings(model="m"), loaded_backend=TextOnly()) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["rating"] == 4 and row["rating_expected"] is None


def test_self_check_prefill_reads_the_expectation():
    text = '<caption>a sharp photo</caption><think>t</think><answer>{"rating": 4}</answer>'
    backend = FixedScores(text, {}, next_scores=log([0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0]))
    with Assessor(Settings(model="m", self_check=True, self_check_mode="prefill"), loaded_backend=backend) as a:
        row = next(iter(a.score([SAMPLES[0]])))
    assert row["self_check_rating"] == pytest.approx(3.5, abs=1e-4)
    assert row["self_check_gap"] == pytest.approx(0.5, abs=1e-4)
    assert row["self_check_raw"] is None and row["self_check_error"] is None
    with pytest.raises(UserError, match="self-check-mode"):
        Settings(model="m", self_check_mode="fast")


# ------------------------------------------------------------------------------ real backends


def _first_steps(completion: Completion, k: int) -> list[list[float]]:
    return [rating_probs.softmax(row) for row in completion.scores[:k]]


@pytest.mark.vllm
@pytest.mark.slow
def test_backends_give_the_same_probabilities(tiny_model, tiny_vllm_backend):
    """vLLM's log-probs and transformers' LM-head scores give the same distributions (float32), at every
    generated step while the texts agree, and in the one-pass reading."""
    from qassess.backends import create_backend
    from qassess.backends.base import Request, Sampling
    from qassess.io.images import PixelBudget, load_image
    from qassess.core.prompts import get_template

    hf = create_backend("transformers", str(tiny_model), dtype="float32", min_pixels=4 * 28 * 28,
                        max_pixels=192 * 28 * 28)
    try:
        budget = PixelBudget(*hf.pixel_budget(), max_decode_pixels=10**8)
        template = get_template("paper")
        requests = [Request(template.image_messages(), load_image(p, budget)) for p in SAMPLES[:2]]
        requests.append(Request(template.caption_messages("a dark, noisy street")))
        digits = rating_probs.digit_token_ids(hf.processor.tokenizer)
        assert digits is not None
        sampling = Sampling(max_new_tokens=6)
        a = tiny_vllm_backend.complete(requests, sampling, digits)
        b = hf.complete(requests, sampling, digits)
        for (ca,), (cb,) in zip(a, b):
            same = next((i for i, (x, y) in enumerate(zip(ca.token_ids, cb.token_ids)) if x != y),
                        min(len(ca.token_ids), len(cb.token_ids)))
            assert same >= 1
            for pa, pb in zip(_first_steps(ca, same), _first_steps(cb, same)):
                assert pa == pytest.approx(pb, abs=1e-3)
        prefix = [rating_probs.STAGE2_ANSWER_PREFIX] * len(requests)
        ra = tiny_vllm_backend.next_token_scores(requests, prefix, digits)
        rb = hf.next_token_scores(requests, prefix, digits)
        for x, y in zip(ra, rb):
            ex, px = rating_probs.expected_rating([x])
            ey, py = rating_probs.expected_rating([y])
            assert ex == pytest.approx(ey, abs=1e-3) and px == pytest.approx(py, abs=1e-3)
    finally:
        hf.close()


@pytest.mark.slow
def test_transformers_rows_read_the_generated_digits():
    """On the embedded model (which states ratings like 2.00): every parsed row gets an expected rating
    inside [1, 5] and a distribution summing to 1, and the stated level is the distribution's mode
    (greedy decoding picks the most likely digit)."""
    with qassess_assessor() as a:
        rows = list(a.score(SAMPLES))
    assert all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert 1 <= r["rating_expected"] <= 5 and sum(r["rating_probs"]) == pytest.approx(1, abs=1e-4)
        stated_level = int(str(r["raw"]).split('"rating": ', 1)[1][0])
        assert max(range(5), key=lambda i: r["rating_probs"][i]) + 1 == stated_level


def qassess_assessor():
    import qassess

    return qassess.create_assessor(backend="transformers", dtype="float32")
