import pytest

from qassess.core.parsing import extract_block, matches_format, parse_completion

FULL = "<caption>\nA red flower, slightly blurred.\n</caption>\n<think>\nSoft focus.\n</think>\n<answer>\n{\"rating\": 3.25}\n</answer>"


def test_full_completion():
    p = parse_completion(FULL)
    assert (p.caption, p.reasoning, p.rating, p.status, p.error) == (
        "A red flower, slightly blurred.", "Soft focus.", 3.25, "ok", None)


@pytest.mark.parametrize(
    "answer, rating",
    [
        ('{"rating": 4}', 4.0),
        ('{"rating": "4.50"}', 4.5),
        ("{'rating': 2.75}", 2.75),
        ('```json\n{"rating": 1.0}\n```', 1.0),
        ('{"Rating": 5.00, "confidence": 0.2}', 5.0),
        ("3.5", 3.5),
        (" 3,5 ", 3.5),
        ("4/5", 4.0),
        ("rating: 2.4", 2.4),
        ("The rating is: 1.5", 1.5),
    ],
)
def test_rating_forms(answer, rating):
    p = parse_completion(f"<think>x</think><answer>{answer}</answer>")
    assert p.ok and p.rating == pytest.approx(rating)


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty output"),
        (None, "empty output"),
        ("   \n", "empty output"),
        ("<caption>fine</caption><think>good</think>", "no <answer> block"),
        ("The rating is 4.", "no <answer> block"),
        ("<answer>{\"rating\": 5.01}</answer>", "outside [1, 5]"),
        ("<answer>{\"rating\": 0}</answer>", "outside [1, 5]"),
        ("<answer>{\"rating\": -3}</answer>", "outside [1, 5]"),
        ("<answer>{\"rating\": NaN}</answer>", "not finite"),
        ("<answer>{\"rating\": Infinity}</answer>", "not finite"),
        ("<answer>{\"rating\": true}</answer>", "no rating"),
        ("<answer>good quality</answer>", "no rating"),
        ("<answer>3 or 4</answer>", "no rating"),
        ("<answer>rating: 2, score: 4</answer>", "several ratings"),
        ("<answer></answer>", "no rating"),
        ("\x00\xff<answer>\ufffd</answer>", "no rating"),
    ],
)
def test_failures_are_recorded_never_guessed(text, why):
    p = parse_completion(text)
    assert p.status == "parse_error" and p.rating is None
    assert why in p.error


def test_missing_blocks_are_tolerated():
    p = parse_completion("<answer>{\"rating\": 2}</answer>")
    assert p.ok and p.caption is None and p.reasoning is None


def test_cut_off_generation_keeps_what_is_there():
    p = parse_completion("<caption>Dark street at night<think>Underexposed.</think><answer>{\"rating\": 1.8}")
    assert p.caption == "Dark street at night" and p.reasoning == "Underexposed." and p.rating == 1.8
    p = parse_completion("<caption>A long description that never ends")
    assert p.status == "parse_error" and p.caption == "A long description that never ends"


def test_last_answer_wins():
    p = parse_completion("<answer>{\"rating\": 2}</answer> wait <answer>{\"rating\": 3}</answer>")
    assert p.rating == 3.0


def test_custom_scale():
    assert parse_completion("<answer>7</answer>", scale=(0, 10)).rating == 7.0


def test_extract_block_case_and_absence():
    assert extract_block("<THINK> a </THINK>", "think") == "a"
    assert extract_block("nothing", "think") is None


def test_matches_format():
    assert matches_format(FULL)
    assert matches_format("<caption>a</caption><think>b</think><answer>c</answer>")
    assert not matches_format("<think>b</think><answer>c</answer>")
    assert not matches_format("<think>b</think><caption>a</caption><answer>c</answer>")
    assert not matches_format("preamble <caption>a</caption><think>b</think><answer>c</answer>")
    assert not matches_format("")
    assert matches_format("<think>b</think>\n<answer>c</answer>", blocks=("think", "answer"))
