"""The pair prompt presets of released models (Q-Insight's comparison, Compare2Score): registered, their
prompts laid out as their authors' code lays them out, their own answer forms parsed, a reference image
where Q-Insight needs one, and a failure recorded where an answer names nothing."""
from __future__ import annotations

import math

import pytest
from PIL import Image
from typer.testing import CliRunner

from qassess.cli.app import app
from qassess.core.assessor import Settings
from qassess.errors import UserError
from qassess.pairwise import answer_probs
from qassess.pairwise.judge import PairJudge
from qassess.pairwise.prompts import PAIR_TEMPLATES, get_pair_template


def test_presets_are_registered():
    assert {"paper-pair", "q-insight-pair", "compare2score"} <= set(PAIR_TEMPLATES)


@pytest.mark.parametrize("text, value", [
    ("<think>A keeps the texture.</think>\n<answer>Image A</answer>", 1.0),
    ("<think>B is sharper.</think><answer>Image B</answer>", 0.0),
    ("<think>Both alike.</think><answer>Similar</answer>", 0.5),
])
def test_q_insight_reads_its_three_answers(text, value):
    reading = get_pair_template("q-insight-pair").read(text)
    assert reading.value == value and reading.error is None
    assert reading.word is not None and text[reading.start:].startswith(("Image", "Similar"))


@pytest.mark.parametrize("text, value", [
    ("The quality of the second image is inferior to the first image.", 1.0),
    ("The quality of the second image is worse than the first image.", 0.75),
    ("The quality of the second image is similar to the first image.", 0.5),
    ("The quality of the second image is better than the first image.", 0.25),
    ("The quality of the second image is superior to the first image.", 0.0),
])
def test_compare2score_reads_its_five_levels_as_p_first_better(text, value):
    assert get_pair_template("compare2score").read(text).value == value


@pytest.mark.parametrize("template, text, why", [
    ("compare2score", "The second image is hard to judge.", "names no level"),
    ("compare2score", "The second image is better, or maybe worse.", "several levels"),
    ("q-insight-pair", "<think>hmm</think>", "no <answer> block"),
    ("q-insight-pair", "<answer>{'rating': 3}</answer>", "names neither image"),
])
def test_an_answer_naming_nothing_is_a_failure(template, text, why):
    reading = get_pair_template(template).read(text)
    assert reading.value is None and why in reading.error


def test_layouts_follow_the_authors_code():
    qi = get_pair_template("q-insight-pair")
    parts = qi.messages()[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image", "text", "image", "text", "image", "text"]
    assert parts[0]["text"].endswith("Reference Image:") and parts[2]["text"] == "Image A:"
    assert qi.slots == ("ref", "a", "b") and qi.needs_ref
    assert qi.messages()[0]["role"] == "system" and "<think>" in qi.messages()[0]["content"][0]["text"]
    c2s = get_pair_template("compare2score")
    assert [p["type"] for p in c2s.messages()[0]["content"]] == ["image", "image", "text"]
    assert len(c2s.messages()) == 1 and c2s.answer_prefix == "The quality of the second image is"


def test_q_insight_image_b_is_read_along_the_written_tokens(tiny_model):
    """Tiny tokenizer: "Image A" / "Image B" part at their last token, "Similar" at the first."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    qi = get_pair_template("q-insight-pair")
    words, values = [w for w, _ in qi.answers], [v for _, v in qi.answers]
    text = "<think>t</think><answer>Image B</answer>"
    reading = qi.read(text)
    ids = tok.encode(text, add_special_tokens=False)
    score_ids = answer_probs.candidate_ids(tok, words)
    image, similar = tok.encode("Image", add_special_tokens=False)[0], tok.encode("Similar", add_special_tokens=False)[0]
    a_last, b_last = (tok.encode(w, add_special_tokens=False)[-1] for w in ("Image A", "Image B"))
    want = {image: math.log(0.7), similar: math.log(0.3), a_last: math.log(0.2), b_last: math.log(0.8)}
    scores = [[want.get(t, 0.0) for t in score_ids] for _ in ids]
    got = answer_probs.read_completion(text, reading.start, reading.word, words, values, ids, scores, score_ids,
                                       tok, lambda x: tok.decode(list(x), skip_special_tokens=True))
    assert got == pytest.approx(0.7 * 0.2 * 1.0 + 0.3 * 0.5)  # P(Image A) x 1 + P(Similar) x 1/2


class ShownBackend:
    """Answers a fixed text and keeps the images of every request (generate only: no probabilities)."""

    name = "fake"

    def __init__(self, text):
        self.text, self.requests = text, []

    def pixel_budget(self):
        return 28 * 28, 64 * 28 * 28, 28

    def generate(self, requests, sampling):
        self.requests += requests
        return [[self.text] * sampling.n for _ in requests]

    def close(self):
        pass


@pytest.fixture
def three_images(tmp_path):
    paths = {}
    for name, grey in (("ref", 128), ("a", 230), ("b", 20)):
        Image.new("RGB", (56, 56), (grey, grey, grey)).save(tmp_path / f"{name}.png")
        paths[name] = str(tmp_path / f"{name}.png")
    return paths


def _grey(image):
    return image.getpixel((0, 0))[0]


def test_q_insight_shows_the_reference_then_a_then_b_in_both_orders(three_images):
    backend = ShownBackend("<think>t</think><answer>Image A</answer>")
    judge = PairJudge(Settings(backend="transformers"), template="q-insight-pair", loaded_backend=backend)
    p = three_images
    row = next(judge.judge([(p["a"], p["b"], p["ref"])]))[0]
    assert [[_grey(i) for i in r.images] for r in backend.requests] == [[128, 230, 20], [128, 20, 230]]
    assert row["ref"] == p["ref"] and row["id"] == f"{p['a']}|{p['b']}|{p['ref']}"
    assert (row["p_ab"], row["p_ba"], row["p_from"], row["position_flip"]) == (1.0, 0.0, "samples", 1)


def test_compare2score_without_probabilities_parses_the_written_level(three_images):
    backend = ShownBackend("The quality of the second image is worse than the first image.")
    judge = PairJudge(Settings(backend="transformers"), template="compare2score", loaded_backend=backend)
    row = next(judge.judge([(three_images["a"], three_images["b"])]))[0]
    # "the second is worse": P(first better) = 0.75 in each order, so 0.75 and 0.25 for a
    assert (row["p_ab"], row["p_ba"], row["p_a"], row["p_from"]) == (0.75, 0.25, 0.5, "samples")


def test_references_must_fit_the_template(three_images, tmp_path):
    p = three_images
    with pytest.raises(UserError, match="every pair needs a ref"):
        next(PairJudge(Settings(backend="transformers"), template="q-insight-pair",
                       loaded_backend=ShownBackend("")).judge([(p["a"], p["b"])]))
    with pytest.raises(UserError, match="does not show"):
        next(PairJudge(Settings(backend="transformers"), loaded_backend=ShownBackend("")).judge([(p["a"], p["b"], p["ref"])]))
    table = tmp_path / "pairs.csv"
    table.write_text("a,b,ref\na.png,b.png,ref.png\n")
    result = CliRunner().invoke(app, ["pairs", str(table), "-o", str(tmp_path / "v.jsonl"), "--backend", "transformers"])
    assert result.exit_code == 2 and "does not show" in result.output and "Traceback" not in result.output
