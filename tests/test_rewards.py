"""Each reward against hand-computed values, including the edges (unparseable, out of range, no caption,
empty reference), plus the registry: names, plugins by dotted path, parameter checks."""
from __future__ import annotations

import math
import sys
import textwrap

import pytest

from qassess.errors import UserError
from qassess.core.prompts import get_template
from qassess.train.config import RewardSpec
from qassess.train.rewards import (
    REWARDS,
    SelfConsistencyReward,
    build_reward,
    build_rewards,
    completion_text,
    cosine_score,
    format_reward,
    prediction_reward,
    reasoning_reward,
    threshold_reward,
)

PAPER = "<caption>\nA sharp photo of a dog.\n</caption>\n<think>\nWell exposed.\n</think>\n<answer>\n{\"rating\": 3.10}\n</answer>"


def chat(text: str) -> list[dict]:
    """A completion as TRL passes it for conversational prompts."""
    return [{"role": "assistant", "content": text}]


def answer(rating: str, caption: str | None = "a dog") -> str:
    head = f"<caption>{caption}</caption>" if caption is not None else ""
    return f"{head}<think>ok</think><answer>{{\"rating\": {rating}}}</answer>"


# ------------------------------------------------------------------------------------------- cosine


def test_cosine_score_hand_values():
    assert cosine_score(3.0, 3.0, 0.35) == 1.0
    assert cosine_score(3.175, 3.0, 0.35) == pytest.approx(0.5)  # half the threshold: cos(pi/2) = 0
    assert cosine_score(3.1, 3.0, 0.35) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1 / 0.35)))
    assert cosine_score(3.35, 3.0, 0.35) == 0.0  # at the threshold
    assert cosine_score(1.0, 5.0, 0.35) == 0.0
    assert cosine_score(None, 3.0, 0.35) == 0.0


# ------------------------------------------------------------------------------------------- format


def test_format_fires_on_the_papers_layout():
    """The paper's released format reward never fired (it split on "assistant"); this one must."""
    reward = format_reward()
    assert reward([chat(PAPER)]) == [0.5]
    assert reward([PAPER]) == [0.5]  # plain-string completions too
    assert reward([chat("<caption>a</caption><think>b</think><answer>{\"rating\": 2}</answer>")]) == [0.5]


@pytest.mark.parametrize("text", [
    "<think>b</think><answer>{\"rating\": 2}</answer>",  # no caption
    "<think>b</think><caption>a</caption><answer>{\"rating\": 2}</answer>",  # wrong order
    "Sure! <caption>a</caption><think>b</think><answer>{\"rating\": 2}</answer>",  # text around
    "<caption>a</caption><think>b</think><answer>{\"rating\": 2}",  # unclosed
    "",
])
def test_format_rejects(text):
    assert format_reward()([chat(text)]) == [0.0]


def test_format_baseline_blocks_and_value():
    reward = format_reward(blocks=["think", "answer"], value=1.0)
    assert reward([chat("<think>x</think>\n<answer>{\"rating\": 2}</answer>")]) == [1.0]
    assert reward([chat(PAPER)]) == [0.0]  # a caption block is not part of this format


# --------------------------------------------------------------------------------------- prediction


def test_prediction_hand_values():
    reward = prediction_reward(threshold=0.35)
    completions = [chat(answer("3.10")), chat(answer("3.00")), chat(answer("3.50")), chat(answer("3.175"))]
    out = reward(completions, score=[3.0, 3.0, 3.0, 3.0])
    assert out[0] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1 / 0.35)))
    assert out[1:] == [1.0, 0.0, pytest.approx(0.5)]


@pytest.mark.parametrize("text", [
    "no tags at all, rating 3",
    "<answer>{\"rating\": 5.5}</answer>",  # out of [1, 5]
    "<answer>{\"rating\": 0}</answer>",
    "<answer>{\"rating\": \"good\"}</answer>",
    "<caption>x</caption><think>y</think>",  # no answer
])
def test_prediction_unusable_rating_is_zero(text):
    assert prediction_reward()([chat(text)], score=[3.0]) == [0.0]


def test_prediction_threshold_parameter():
    out = prediction_reward(threshold=1.0)([chat(answer("3.5"))], score=[3.0])
    assert out == [pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))]
    with pytest.raises(UserError):
        prediction_reward(threshold=0)


def test_prediction_needs_the_score_column():
    with pytest.raises(ValueError, match="score"):
        prediction_reward()([chat(answer("3"))])


# ---------------------------------------------------------------------------------------- threshold


def test_threshold_reward_is_binary():
    reward = threshold_reward()
    texts = [answer("3.34"), answer("3.35"), answer("2.70"), "garbage"]
    assert reward([chat(t) for t in texts], score=[3.0] * 4) == [1.0, 0.0, 1.0, 0.0]


# ---------------------------------------------------------------------------------------- reasoning


def test_reasoning_precision_recall_f1_by_hand():
    reference = "A dark blurry image"
    completion = chat("Blurry, dark photo")  # tokens: blurry dark photo; shared: blurry dark
    assert reasoning_reward()([completion], reference=[reference]) == [pytest.approx(2 / 3)]
    assert reasoning_reward(measure="recall")([completion], reference=[reference]) == [pytest.approx(2 / 4)]
    f1 = 2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4)
    assert reasoning_reward(measure="f1")([completion], reference=[reference]) == [pytest.approx(f1)]


def test_reasoning_floor_and_missing_reference():
    reward = reasoning_reward(floor=0.1)
    completions = [chat("completely unrelated words"), chat("dark"), chat("dark"), chat("")]
    out = reward(completions, reference=["a dark image", "", None, "a dark image"])
    assert out == [0.1, 0.1, 0.1, 0.1]
    assert reasoning_reward(floor=0.0)([chat("unrelated")], reference=["a dark image"]) == [0.0]


def test_reasoning_scope_counts_tags_like_the_paper_or_not():
    text = "<caption>dark</caption><think>dark</think><answer>{\"rating\": 2}</answer>"
    # Whole completion (paper): 10 tokens (caption dark caption think dark think answer rating 2 answer);
    # ROUGE clips shared counts to the reference's, so "dark" x2 against "dark" x1 shares 1 -> 1/10.
    assert reasoning_reward(floor=0)([chat(text)], reference=["dark"]) == [pytest.approx(1 / 10)]
    assert reasoning_reward(floor=0, scope="caption_think")([chat(text)], reference=["dark"]) == [0.5]
    assert reasoning_reward(floor=0, scope="caption_think")([chat(text)], reference=["dark dark"]) == [1.0]


def test_reasoning_rejects_bad_params():
    with pytest.raises(UserError, match="measure"):
        reasoning_reward(measure="bleu")
    with pytest.raises(UserError, match="scope"):
        reasoning_reward(scope="all")


# --------------------------------------------------------------------------------- self-consistency


class FakePolicy:
    """Stands in for the trainer's generation: records every call, answers per caption."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.calls: list[list[list[dict]]] = []

    def __call__(self, conversations, max_new_tokens, temperature):
        self.calls.append(conversations)
        out = []
        for conversation in conversations:
            user = conversation[-1]["content"][0]["text"]
            out.append(next((a for key, a in self.answers.items() if key in user), "nonsense"))
        return out


def test_self_consistency_rates_the_caption_without_the_image():
    policy = FakePolicy({"sharp dog": "<think>ok</think><answer>{\"rating\": 3.1}</answer>",
                         "blurry cat": "<think>ok</think><answer>{\"rating\": 4.0}</answer>"})
    reward = SelfConsistencyReward(generate=policy, max_new_tokens=17)
    completions = [chat(answer("2.0", "a sharp dog")), chat(answer("2.0", "a blurry cat")),
                   chat(answer("2.0", None))]
    out = reward(completions, score=[3.0, 3.0, 3.0])
    assert out == [pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1 / 0.35))), 0.0, 0.0]
    (batch,) = policy.calls  # one batched call; the captionless completion is not sent
    assert len(batch) == 2
    expected = get_template("paper").caption_messages("a sharp dog")
    assert batch[0] == expected
    assert all(part.get("type") != "image" for m in batch[0] for part in m["content"])


def test_self_consistency_dedupes_identical_captions_and_logs():
    policy = FakePolicy({"same": "<answer>{\"rating\": 3.0}</answer>"})
    logged: dict[str, list[float]] = {}
    reward = SelfConsistencyReward(generate=policy)
    completions = [chat(answer("1", "same")) for _ in range(4)]
    out = reward(completions, score=[3.0] * 4, log_metric=lambda k, v: logged.setdefault(k, []).append(v))
    assert out == [1.0] * 4
    assert len(policy.calls[0]) == 1
    assert logged["self_consistency/stage2_prompts"] == [1.0]
    assert logged["self_consistency/caption_rate"] == [1.0]
    assert logged["self_consistency/stage2_parse_rate"] == [1.0]


def test_self_consistency_without_dedupe_sends_one_prompt_per_completion():
    policy = FakePolicy({"same": "<answer>{\"rating\": 3.0}</answer>"})
    reward = SelfConsistencyReward(generate=policy, dedupe=False)
    out = reward([chat(answer("1", "same")), chat("no caption here")], score=[3.0, 3.0])
    assert out == [1.0, 0.0]
    assert len(policy.calls[0]) == 2  # the captionless row still sends a placeholder, its answer ignored


def test_self_consistency_unparseable_stage2_is_zero():
    policy = FakePolicy({"dog": "<think>no answer block</think>"})
    assert SelfConsistencyReward(generate=policy)([chat(answer("3", "dog"))], score=[3.0]) == [0.0]
    policy = FakePolicy({"dog": "<answer>{\"rating\": 9}</answer>"})  # out of range
    assert SelfConsistencyReward(generate=policy)([chat(answer("3", "dog"))], score=[3.0]) == [0.0]


def test_self_consistency_before_answer_mode_sends_caption_and_think():
    policy = FakePolicy({})
    reward = SelfConsistencyReward(generate=policy, stage2_input="before_answer")
    reward([chat("<caption>cap</caption><think>reasons</think><answer>{\"rating\": 2}</answer>")], score=[2.0])
    text = policy.calls[0][0][-1]["content"][0]["text"]
    assert "<caption>cap</caption><think>reasons</think>" in text and "<answer>" not in text


def test_self_consistency_must_be_bound_and_consistent():
    with pytest.raises(RuntimeError, match="bind_trainer"):
        SelfConsistencyReward()([chat(answer("3"))], score=[3.0])
    broken = SelfConsistencyReward(generate=lambda c, n, t: [])
    with pytest.raises(RuntimeError, match="returned 0 texts for 1"):
        broken([chat(answer("3"))], score=[3.0])
    with pytest.raises(UserError):
        SelfConsistencyReward(stage2_input="image")


def test_self_consistency_prefill_reads_the_expected_rating_once_per_caption():
    """mode prefill: one reading per distinct caption, after the stage-2 prompt and the answer's start;
    the rating is the expectation over the digit tokens 1..5 (here 0.5 * 3 + 0.5 * 4 = 3.5)."""
    from qassess.core.rating_probs import STAGE2_ANSWER_PREFIX

    calls = []

    def read(conversations, prefix, ids):
        calls.append((conversations, prefix, ids))
        half = math.log(0.5)
        return [[-1e9, -1e9, -1e9, half, half, -1e9, -1e9, -1e9, -1e9, -1e9] for _ in conversations]

    reward = SelfConsistencyReward(mode="prefill", read=read, digit_ids=list(range(10)))
    completions = [chat(answer("2.0", "a sharp dog")), chat(answer("2.0", "a sharp dog")), chat(answer("2.0", None))]
    out = reward(completions, score=[3.5, 3.6, 3.5])
    assert out == [pytest.approx(1.0), pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1 / 0.35))), 0.0]
    (conversations, prefix, ids), = calls
    assert conversations == [get_template("paper").caption_messages("a sharp dog")]
    assert prefix == STAGE2_ANSWER_PREFIX and ids == list(range(10))
    with pytest.raises(RuntimeError, match="bind_trainer"):
        SelfConsistencyReward(mode="prefill")([chat(answer("3", "dog"))], score=[3.0])
    with pytest.raises(UserError, match="mode"):
        SelfConsistencyReward(mode="fast")


# ------------------------------------------------------------------------------------------ registry


def test_completion_text_forms():
    assert completion_text("plain") == "plain"
    assert completion_text(chat("x")) == "x"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                              {"type": "text", "text": "b"}]}]) == "ab"


def test_registry_names_and_labels():
    assert set(REWARDS) == {"format", "prediction", "threshold", "reasoning", "self_consistency", "semantic", "pairwise"}
    funcs, weights = build_rewards([RewardSpec("format"), RewardSpec("prediction", 2.0, {"threshold": "0.3"},
                                                                     label="pred")], {"template": "paper"})
    assert [f.__name__ for f in funcs] == ["format", "pred"]
    assert weights == [1.0, 2.0]
    # "0.3" from a command line became a float: 0.31 away is outside it.
    assert funcs[1]([chat(answer("3.31"))], score=[3.0]) == [0.0]
    sc = build_reward("self_consistency", {}, "self_consistency", {"template": "q-insight"})
    assert sc.template.name == "q-insight"


def test_registry_errors_name_the_nearest():
    with pytest.raises(UserError, match="did you mean 'prediction'"):
        build_reward("predicton", {}, "x", {})
    with pytest.raises(UserError, match="unknown param 'treshold'.*did you mean 'threshold'"):
        build_reward("prediction", {"treshold": 0.3}, "prediction", {})
    with pytest.raises(UserError, match="expected a number"):
        build_reward("prediction", {"threshold": "wide"}, "prediction", {})
    with pytest.raises(UserError, match="used twice"):
        build_rewards([RewardSpec("format"), RewardSpec("format")], {})
    with pytest.raises(UserError, match="no rewards"):
        build_rewards([], {})


def test_plugin_rewards_by_dotted_path(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(textwrap.dedent("""
        def length_factory(limit: int = 10):
            def length(completions, **kwargs):
                return [1.0 if len(c[0]["content"]) <= limit else 0.0 for c in completions]
            return length

        def shouting(completions, **kwargs):
            return [float(c[0]["content"].isupper()) for c in completions]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_rewards", raising=False)
    length = build_reward("my_rewards:length_factory", {"limit": "3"}, "short", {"template": "paper"})
    assert length.__name__ == "short"
    assert length([chat("abc"), chat("abcd")]) == [1.0, 0.0]
    shouting = build_reward("my_rewards:shouting", {}, "shouting", {})
    assert shouting([chat("HEY"), chat("hey")]) == [1.0, 0.0]
    with pytest.raises(UserError, match="takes no params"):
        build_reward("my_rewards:shouting", {"x": 1}, "shouting", {})
    with pytest.raises(UserError, match="cannot import"):
        build_reward("no_such_module_xyz:f", {}, "f", {})
    with pytest.raises(UserError, match="no callable"):
        build_reward("my_rewards:missing", {}, "f", {})
