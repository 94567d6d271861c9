"""The independent set's generator (scripts/attribute_independent.py) does what its docstring says:
a paraphrase keeps every attribute state word's meaning, a contradiction changes exactly what the
variant says, and the selection never consults the analysis. Toy comments only: the source file is
not in the repository."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("attribute_independent", ROOT / "scripts" / "attribute_independent.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_paraphrase_swaps_synonyms_expands_contractions_and_reverses_sentences():
    assert gen.paraphrase("The eyes are sharp. It isn't noisy!") == "It is not grainy! The eyes are crisp."
    assert gen.paraphrase("Out of focus, sadly.") == "Not in focus, sadly."  # one pass: no chained swaps


def test_contradiction_variants():
    text = "Nice shot, slightly dark and a bit noisy."
    assert gen.contradict(text, "all") == ("Bad shot, heavily bright and far clean.", 5)
    assert gen.contradict(text, "one") == ("Nice shot, slightly bright and a bit noisy.", 1)  # praise, degree kept
    assert gen.contradict("The eye isn't quite in focus.", "negation") == ("The eye is quite in focus.", 1)
    assert gen.contradict("It is not sharp at all.", "negation") == ("It is sharp at all.", 1)
    assert gen.contradict("Not a fan of the crop.", "negation") == ("Not a fan of the crop.", 0)


def test_selection_is_by_words_and_hash_only():
    comments = {"a.jpg": ["Too short: dark.", "A lovely moment, great timing and a wonderful story told.",
                          "The subject is sharp but the background is a little distracting."],
                "b.jpg": ["The colours are vivid and the whole frame is well exposed, nicely done."]}
    chosen = gen.select(comments, 10)
    assert sorted(c["human"][:10] for c in chosen) == ["The colour", "The subjec"]  # generic praise only: out
    assert gen.select(comments, 1) == [min(chosen, key=lambda c: gen._hash(
        f"{c['image']}#{comments[c['image']].index(c['human'])}"))]
    assert {c["split"] for c in chosen} <= {"dev", "held"}


def test_failures_list_dev_cases_only():
    from qassess.evaluate import attributes

    case = {"human": "The eyes are sharp.", "paraphrase": "The eyes are crisp.", "contradiction": "The eyes are sharp."}
    sets = {"dpc/all": [{**case, "image": "d.jpg", "split": "dev"},
                        {**case, "image": "h.jpg", "split": "held", "human": "The sky is noisy."}]}
    assert gen.outcome(attributes, sets["dpc/all"][0]) == "tie"
    lines = gen.failures(sets, attributes, 10)
    assert lines[0] == "dpc/all [dev]: 1 failures"
    assert any("The eyes are sharp." in line for line in lines) and not any("noisy" in line for line in lines)
