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
    ("The leaf is rendered fuzzily.", {"sharpness": "bad"}),  # adverb of a (WordNet) cue adjective
    ("Minimal noise.", {"noise": "good"}),  # absent, like a negation
    ("There is barely any blur.", {"sharpness": "good"}),
    ("A little noise in the sky.", {"noise": "bad"}),
    ("The overall look is unpleasant and the contrast is pleasing.", {"appeal": "bad", "contrast": "good"}),
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


# ------------------------------------------------------------------- mention by mention, visibility


def test_one_flip_among_repeated_mentions_is_a_contradiction():
    """Two sharpness mentions, one flipped: a vote per attribute says "mixed" (no verdict), the
    mention-by-mention pairing finds the flipped one in the same place."""
    good = "The image looks sharp and there is no blurring."
    flipped = attributes.compare_texts("The image looks blurry and there is no blurring.", good=good)
    assert flipped.contradicted == ["sharpness"] and flipped.score == -1
    kept = attributes.compare_texts("The picture seems crisp and there isn't any blurring.", good=good)
    assert kept.matched == ["sharpness"] and kept.score == 1
    # a vote would call the human "mixed" here; each of its mentions is checked instead
    mixed = dict(good="The bird is sharp.", bad="The background is blurry.")
    assert attributes.compare_texts("The bird is sharp and the background is blurry.", **mixed).matched == ["sharpness"]
    assert attributes.compare_texts("The bird is sharp and the background is sharp.", **mixed).contradicted == \
        ["sharpness"]


def test_mentions_pair_by_their_surroundings():
    human = attributes.human_mentions(good="The sky is clean.", bad="The shadows are noisy.")
    model = attributes.mentions("The shadows are clean, and the sky is noisy.")
    a = attributes.compare_mentions(human, model)
    assert a.contradicted == ["noise"]  # both polarities present, but each in the other's place
    assert attributes.compare_mentions(human, attributes.mentions("The sky is clean, the shadows noisy.")).matched == \
        ["noise"]
    # nothing shared: the fallback decides, lenient by default (strict would contradict)
    far = attributes.mentions("Clean. Noisy.")
    assert attributes.compare_mentions(human, far).matched == ["noise"]
    assert attributes.compare_mentions(human, far, "strict").contradicted == ["noise"]


@pytest.mark.parametrize("text", ["The text is clearly visible.", "The text is distinctly visible.",
                                  "The text is discernible.", "The text is legible.", "The text is distinct."])
def test_visibility_phrases_are_one_attribute(text):
    assert attributes.verdicts(text) == {"subject_clarity": "good"}


@pytest.mark.parametrize("text, want", [
    ("The sign is murkily visible.", {"subject_clarity": "bad"}),  # the adverb's verdict, not "visible"'s
    ("The outline is vague.", {"subject_clarity": "bad"}),  # hand-made wins over WordNet's sharpness
    ("It is unclear what the subject is.", {"intent": "bad"}),  # what it is about: intent (below)
    ("It is clear what the subject is.", {"intent": "good"}),  # "clear what": predicative
    ("A distinct expression on a clear day.", {}),  # attributive: no verdict
    ("The hues are distinctly discernible.", {"color": "good"}),  # said of a neutral cue: its verdict
])
def test_visibility_rules(text, want):
    assert attributes.verdicts(text) == want


def test_pairing_is_one_to_one():
    """Both human mentions are most like the model's "blurry"; pairing one to one makes the other
    read the model's "clear" focus, which contradicts "lacks clear focus"."""
    a = attributes.compare_texts("The focus is clear and blurry.", bad="The image is blurry and lacks clear focus.")
    assert a.contradicted == ["sharpness"]
    assert attributes.compare_texts("The focus is unclear and blurry.", bad="The image is blurry and lacks clear focus."
                                    ).matched == ["sharpness"]


@pytest.mark.parametrize("text, want", [
    ("The picture lacks distinct focus.", {"sharpness": "bad"}),  # negated once, through "distinct"
    ("The focus is not correct blurry", {"sharpness": "bad"}),  # "not" was "correct"'s, not "blurry"'s
    ("The focus is not sharp.", {"sharpness": "bad"}),
])
def test_a_negator_taken_by_an_evaluative_word_stops_there(text, want):
    assert attributes.verdicts(text) == want


# ----------------------------------------------------------------------------------- degree scale


@pytest.mark.parametrize("text, degree", [
    ("Slight noise.", 1), ("Mild noise.", 1), ("A bit of noise.", 1), ("A little noise.", 1),
    ("Moderate noise.", 2), ("Noticeable noise.", 2),
    ("Considerable noise.", 3), ("Significant noise.", 3),
    ("Heavy noise.", 4), ("Severe noise.", 4), ("The image is too dark.", 4),
    ("Extreme noise.", 5),
    ("The image is a bit too dark.", 1),  # "too" scales "a bit": slight
    ("A slight lack of focus.", 1),  # a negated neutral cue is a fault with a degree too
    ("The image is not very sharp.", None),  # "not very": no degree
])
def test_degree_words_are_an_ordered_scale(text, degree):
    found = [m for m in attributes.mentions(text) if m.polarity == "bad"]
    assert len(found) == 1 and found[0].degree == degree


@pytest.mark.parametrize("model, human, outcome", [
    ("Slight noise.", "Heavy noise.", "degree_off"),  # 1 vs 4
    ("Moderate noise.", "Severe noise.", "degree_off"),  # 2 vs 4
    ("Considerable noise.", "Slight noise.", "degree_off"),  # 3 vs 1
    ("Considerable noise.", "Heavy noise.", "matched"),  # 3 vs 4: near words stay near
    ("Mild noise.", "Moderate noise.", "matched"),
    ("Negligible noise.", "Severe noise.", "contradicted"),  # absent: the fault is denied
    ("Minimal noise.", "Noticeable noise.", "contradicted"),
])
def test_degrees_compare_on_the_paired_mention(model, human, outcome):
    a = attributes.compare_texts(model, bad=human)
    assert getattr(a, outcome) == ["noise"]


def test_a_degree_is_read_per_mention_not_per_attribute():
    """A heavy fault elsewhere in the text does not hide the one restated at another degree."""
    bad = "The sky shows slight noise. The shadows show heavy noise."
    assert attributes.compare_texts("The sky shows slight noise. The shadows show heavy noise.", bad=bad).matched == \
        ["noise"]
    assert attributes.compare_texts("The sky shows heavy noise. The shadows show heavy noise.", bad=bad).degree_off == \
        ["noise"]


# ------------------------------------------------------------------------- opposite faults, fields


@pytest.mark.parametrize("model, human, outcome", [
    ("The image is too bright.", "The image is too dark.", "contradicted"),  # both bad, opposite faults
    ("The image is overexposed.", "The image is underexposed.", "contradicted"),
    ("The image could be brighter.", "The image is too dark.", "matched"),  # a wish for light: too dark
    ("The image is not bright.", "The image is dim.", "matched"),
    ("The colours are too vivid.", "The colours are oversaturated.", "matched"),
    ("The colours are faded.", "The colours are oversaturated.", "contradicted"),
    ("There is a colour cast.", "The colours are faded.", "matched"),  # a cast has no side
    ("The lighting is poor.", "The image is too bright.", "matched"),  # a neutral cue has no side
])
def test_two_sided_faults(model, human, outcome):
    attribute = "color" if "colo" in human else "exposure"
    assert getattr(attributes.compare_texts(model, bad=human), outcome) == [attribute]


def test_a_fields_polarity_only_fills_in_for_an_unstated_verdict():
    """"The focus is on the tree" in good_aspect says sharpness good only if the note says nothing else
    of sharpness; beside "blurry" it would make a faithful restatement look like a contradiction."""
    note = dict(good="The focus is on the Christmas tree.", bad="The image is blurry.")
    assert [m.polarity for m in attributes.human_mentions(**note)] == ["bad"]
    assert attributes.compare_texts("The picture is fuzzy.", **note).matched == ["sharpness"]
    assert [m.polarity for m in attributes.human_mentions(good="The focus is on the tree.")] == ["good"]


def test_a_copula_sends_a_neutral_cue_to_its_predicate():
    # the data's missing full stops: "... no people discernible The hue is ..." (the left word is not the hue's)
    assert attributes.verdicts("There are no people discernible The hue is distinctly visible") == \
        {"subject_clarity": "bad", "color": "good"}
    assert attributes.verdicts("Good contrast.") == {"contrast": "good"}


@pytest.mark.parametrize("text, want", [
    ("The photo is taken beautifully.", {"appeal": "good"}),
    ("The image is plain and boring.", {"appeal": "bad"}),
    ("The colours are beautiful.", {"color": "good"}),  # said of a neutral cue: that cue's verdict only
    ("The scene is not interesting.", {"appeal": "bad"}),
    ("The ratio is good.", {"composition": "good"}),
])
def test_appeal_is_an_attribute_of_its_own(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("It is wobbling.", {"sharpness": "bad"}), ("There is no wavering.", {"sharpness": "good"}),
    ("The camera is steady.", {"sharpness": "good"}),
])
def test_camera_shake_words(text, want):
    assert attributes.verdicts(text) == want


# --------------------------------------------------------------------- intent apart from visibility


@pytest.mark.parametrize("text, want", [
    ("The intention of the photo is unclear.", {"intent": "bad"}),  # an intent noun before the clarity word
    ("The subject is not clear.", {"subject_clarity": "bad"}),  # "subject" is no intent noun: seeing it
    ("I have a clear idea of what I want to capture.", {"intent": "good"}),
    ("I have a murky idea of what I want.", {"intent": "bad"}),  # attributive, but of an intent noun
    ("It is hard to tell what it shows.", {"intent": "bad"}),  # a wh-word after a visibility phrase
    ("The scene is easy to imagine.", {"intent": "good"}),
    ("The message is clear.", {"intent": "good"}),  # an intent noun takes a clarity word's verdict ...
    ("The theme is poor.", {}),  # ... and no other word's
    ("The subject is clearly visible.", {"subject_clarity": "good"}),  # visibility stays visibility
    ("The subject is clearly captured.", {"subject_clarity": "good"}),  # an adverb: how it was captured
    ("The sign is hard to make out.", {"subject_clarity": "bad"}),
    ("The sign is easy to distinguish.", {"subject_clarity": "good"}),  # any verb of PERCEIVE
])
def test_intent_is_apart_from_visibility(text, want):
    assert attributes.verdicts(text) == want


def test_clearly_visible_does_not_contradict_an_unclear_intent():
    """The dev case that made intent an attribute: "clearly visible" restates "sharp", and it used to
    contradict the note's "it is unclear what the subject is" (both were one visibility attribute)."""
    note = dict(good="The image looks sharp and there is no blurring.",
                bad="It is unclear what the subject is supposed to be.")
    a = attributes.compare_texts("It is clearly visible and not blurry, and there is uncertainty about what to capture.",
                                 **note)
    assert not a.contradicted and a.matched == ["intent", "sharpness"]


def test_a_sibling_the_human_left_alone_stands_in():
    """The human says "unclear what", the model "hard to make out": intent and visibility are one
    judgement in these notes when only one of them is stated on each side; stated on both, each
    keeps its own (the model's "clearly visible" does not answer the human's intent)."""
    bad = "It is unclear what the subject is."
    assert attributes.compare_texts("The subject is hard to make out.", bad=bad).matched == ["intent"]
    assert attributes.compare_texts("The subject is easy to make out.", bad=bad).contradicted == ["intent"]
    both = attributes.compare_texts("The sign is clearly visible.", good="The sign is clearly visible.", bad=bad)
    assert both.missed == ["intent"] and both.matched == ["subject_clarity"]
    assert attributes.compare_texts("The colours are dull.", bad=bad).missed == ["intent"]  # no sibling: missed


def test_an_intent_cue_is_no_evaluative_word_for_a_neutral_cue():
    # "focus" here is the picture's point, not its sharpness: "unclear" is not the focus's verdict
    assert attributes.verdicts("The camera is steady, but it's unclear what the focus will be.") == \
        {"sharpness": "good", "intent": "bad"}


def test_a_summary_that_says_it_fewer_times_is_read_leniently():
    """The model restates the note in fewer mentions: once each model mention is paired, a left-over
    human mention is restated by any model mention of its polarity, not by the nearest word (which may
    be the note's other, opposite verdict). A flip keeps the count, so it is still paired one to one."""
    note = dict(good="The flowers are beautiful. There are many beautiful flowers. The photo is taken beautifully.",
                bad="It is ordinary and boring.")
    summary = "The red flowers are beautifully planted. The image is plain and boring."
    assert attributes.compare_texts(summary, **note).matched == ["appeal"]
    flipped = "The flowers are ugly. There are many beautiful flowers. The photo is taken beautifully. " \
              "It is ordinary and boring."
    assert attributes.compare_texts(flipped, **note).contradicted == ["appeal"]


@pytest.mark.parametrize("text, want", [
    ("The picture is lacking contrast.", {"contrast": "bad"}),  # "lacking": the bad word, not also a negator
    ("It seems a bit lacking in contrast.", {"contrast": "bad"}),
    ("The contrast is not lacking.", {"contrast": "good"}),  # a negator before the bad word still flips it
    ("Not lacking contrast at all.", {"contrast": "good"}),
    ("There is no contrast.", {"contrast": "bad"}),  # a negated neutral cue is still bad
])
def test_a_negator_that_is_the_evaluative_word_negates_once(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("The area is not too bright.", {"exposure": "good"}),  # not the fault "too bright"
    ("The sky is not overly vivid.", {"color": "good"}),
    ("The area is not bright.", {"exposure": "bad"}),  # without "too": negated as before
    ("The eye is not too sharp.", {"sharpness": "bad"}),  # one-sided: "not very sharp"
])
def test_not_too_on_a_two_sided_fault(text, want):
    assert attributes.verdicts(text) == want
    if want.get("exposure") == "good":
        assert attributes.compare_texts(text, "The area is not overexposed.").matched == ["exposure"]


@pytest.mark.parametrize("text, want", [
    ("The depth of field is too shallow. Interesting subject.", {"appeal": "good"}),  # "too" stops at "."
    ("It could be improved. Sharp eyes.", {"sharpness": "good"}),  # a wish stops at "." too
    ("The eyes could be sharper.", {"sharpness": "bad"}),  # within the clause: as before
    ("The sky is too bright.", {"exposure": "bad"}),
])
def test_too_and_wishes_stay_in_their_clause(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("An intriguing subject.", {"appeal": "good"}),  # WordNet: similar to "interesting"
    ("A gorgeous scene.", {"appeal": "good"}),  # similar to "beautiful"
    ("A tedious picture.", {"appeal": "bad"}),  # "interesting"'s antonym's satellites
    ("The sky is dull.", {"color": "bad"}),  # WordNet files "dull" under colour and appeal: colour comes first
    ("A slow shutter speed.", {}),  # excluded: "slow" is no verdict on the look
])
def test_wordnet_appeal_words(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("The focus looks a little soft.", {"sharpness": "bad"}),  # "soft" judges sharpness's neutral cues
    ("The details are softer than they should be.", {"sharpness": "bad"}),
    ("The soft lighting suits the portrait.", {}),  # ... and no other attribute's
    ("The colours are soft.", {}),
])
def test_an_evaluative_word_of_one_attribute(text, want):
    assert attributes.verdicts(text) == want


def test_a_wish_for_one_side_of_a_two_sided_fault_is_the_other_side():
    assert attributes.compare_texts("The sky could be darker.", "The sky is overexposed.").matched == ["exposure"]
    assert attributes.compare_texts("The sky could be darker.", "The sky is too dark.").contradicted == ["exposure"]
    assert attributes.compare_texts("The sky is darker.", "The sky is too dark.").matched == ["exposure"]


@pytest.mark.parametrize("text, want", [
    ("The subject sits too much in the center.", {"composition": "bad"}),  # the phrase of "centered"
    ("A tree in the middle of the field.", {}),  # neutral: no verdict of its own
])
def test_in_the_middle_is_a_composition_cue(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("It is not a very pleasing composition.", {"composition": "bad"}),  # past an article and a degree word
    ("Not the best lighting.", {"exposure": "bad"}),
    ("A very pleasing composition.", {"composition": "good"}),
])
def test_a_negator_reaches_past_an_article_and_a_degree_word(text, want):
    assert attributes.verdicts(text) == want


@pytest.mark.parametrize("text, want", [
    ("The frame is uncluttered.", {"composition": "good"}),  # "un-" + a hand-made adjective: its opposite
    ("The file is uncompressed.", {"compression": "good"}),
    ("The background is a bit busy.", {"composition": "bad"}),  # WordNet 01795204, in the hand-made list
    ("An unveiled statue.", {}),  # WordNet's words get no "un-" form
])
def test_un_opposites_and_busy(text, want):
    assert attributes.verdicts(text) == want
