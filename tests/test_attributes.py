"""The attribute analysis beyond its hand-made list: WordNet cue words, degrees of a fault, adverbs,
and the WordNet reader of scripts/build_lexicon.py on a two-synset database written here."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qassess.evaluate import attributes

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, want", [
    ("The outlines are fuzzy.", {"sharpness": "bad"}),  # WordNet: similar to "blurred"
    ("A gloomy, unlit hall.", {"exposure": "bad"}),
    ("The colours are washed-out.", {"color": "bad"}),
    ("Dull colours.", {"color": "bad"}),  # the neutral cue takes "dull": no contrast verdict as well
    ("The leaf is captured distinctly.", {"sharpness": "good"}),  # adverb of a cue adjective
    ("Minimal noise.", {"noise": "good"}),  # absent, like a negation
    ("There is barely any blur.", {"sharpness": "good"}),
    ("A little noise in the sky.", {"noise": "bad"}),
    ("The overall look is unpleasant and the contrast is pleasing.", {"contrast": "good"}),
])
def test_wordnet_cues_and_rules(text, want):
    assert attributes.verdicts(text) == want


def test_degree_of_a_fault_is_compared():
    a = attributes.compare_texts("There is severe noise.", good="", bad="There is slight noise.")
    assert a.degree_off == ["noise"] and not a.matched and not a.contradicted and a.score == 0
    same = attributes.compare_texts("Mild noise.", bad="Slight noise.")
    assert same.matched == ["noise"] and same.score == 1
    unstated = attributes.compare_texts("Noisy.", bad="Heavy noise.")
    assert unstated.matched == ["noise"]  # a degree on one side only is no disagreement
    flipped = attributes.compare_texts("Minimal noise.", bad="Severe noise.")
    assert flipped.contradicted == ["noise"] and flipped.score == -1
    assert "degree off noise" in a.detail() and a.precision == 0 and a.judged == 1


def test_the_wordnet_reader_on_a_tiny_database(tmp_path):
    spec = importlib.util.spec_from_file_location("build_lexicon", ROOT / "scripts" / "build_lexicon.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    (tmp_path / "data.adj").write_text(
        "  1 This is a licence header line\n"
        "00000001 00 a 02 crisp 0 sharp 0 002 ! 00000002 a 0101 & 00000003 s 0000 | clearly defined\n"
        "00000002 00 a 01 blurry 0 001 ! 00000001 a 0101 | indistinct\n"
        "00000003 00 s 01 razor-sharp 0 001 & 00000001 a 0000 | very sharp\n")
    synsets = build.read_synsets(tmp_path, "adj")
    assert synsets["00000001"] == (["crisp", "sharp"], [("!", "00000002"), ("&", "00000003")])
    same, opposite = build.expand(synsets, "00000001")
    assert same == {"crisp", "sharp", "razor sharp"} and opposite == {"blurry"}
    assert build.expand(synsets, "00000003")[1] == {"blurry"}  # a satellite's antonym is its head's
