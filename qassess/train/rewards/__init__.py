"""GRPO rewards of the paper (format, prediction, reasoning, self-consistency) and the score-only baseline.

Each entry of `REWARDS` (a `qassess.registry.Registry`) is a factory: it takes the reward's parameters (from the recipe) and returns a
function with TRL's reward signature `(completions, **columns) -> list[float | None]`. The dataset
columns the rewards read are `score` (ground truth on [1, 5]) and `reference` (human reasoning text,
"" when the image has none). Users add their own rewards by dotted path `package.module:factory`, or as plugins under the
entry-point group "qassess.rewards".
Values and edge cases follow the paper's released code except where noted.
"""
from __future__ import annotations

import importlib
import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from qassess.errors import UserError
from qassess.registry import Registry, did_you_mean
from qassess.core.parsing import extract_block, matches_format, parse_completion
from qassess.train.rewards.common import column, completion_text, stated_ratings

RewardFn = Callable[..., list[float | None]]
# (conversations, max_new_tokens, temperature) -> one decoded completion per conversation
Generate = Callable[[list[list[dict]], int, "float | None"], list[str]]
# (conversations, answer prefix, token ids) -> the scores of those ids at the next position, per conversation
Read = Callable[[list[list[dict]], str, list[int]], list[list[float]]]

MEASURES = ("precision", "recall", "f1")
SCOPES = ("completion", "caption_think")
STAGE2_INPUTS = ("caption", "before_answer")
SELF_CONSISTENCY_MODES = ("generate", "prefill")


def cosine_score(predicted: float | None, truth: float, threshold: float) -> float:
    """0.5 * (1 + cos(pi * |p - s| / t)) inside the threshold, else 0; no prediction earns 0."""
    if predicted is None:
        return 0.0
    gap = abs(predicted - truth)
    if gap >= threshold:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * gap / threshold))


def _check_threshold(threshold: float) -> None:
    if not threshold > 0:
        raise UserError(f"reward threshold must be > 0, got {threshold}")


# ----------------------------------------------------------------------------------------- factories


def format_reward(blocks: list[str] = ("caption", "think", "answer"), value: float = 0.5) -> RewardFn:
    """`value` when the completion is exactly these blocks in order (whitespace between them allowed).

    The paper's code split the completion on "assistant" first, which a completion-only string never
    contains, so its format reward was always 0; this one checks the completion itself.
    """
    blocks = tuple(blocks)
    if not blocks:
        raise UserError("format reward: blocks must name at least one tag")

    def format(completions, **kwargs) -> list[float | None]:  # noqa: A001 - the name TRL logs
        return [value if matches_format(completion_text(c), blocks) else 0.0 for c in completions]

    return format


def prediction_reward(threshold: float = 0.35) -> RewardFn:
    """Cosine closeness of the stated rating to the ground truth; unparseable or out of [1, 5] -> 0."""
    _check_threshold(threshold)

    def prediction(completions, **kwargs) -> list[float | None]:
        truths = column(kwargs, "score", len(completions))
        ratings = stated_ratings(completions)
        return [cosine_score(p, s, threshold) for p, s in zip(ratings, truths)]

    return prediction


def threshold_reward(threshold: float = 0.35, value: float = 1.0) -> RewardFn:
    """The Q-Insight score-only baseline: `value` when |p - s| < threshold, else 0."""
    _check_threshold(threshold)

    def threshold_(completions, **kwargs) -> list[float | None]:
        truths = column(kwargs, "score", len(completions))
        ratings = stated_ratings(completions)
        return [value if p is not None and abs(p - s) < threshold else 0.0 for p, s in zip(ratings, truths)]

    threshold_.__name__ = "threshold"
    return threshold_


def reasoning_reward(measure: str = "precision", floor: float = 0.1, scope: str = "completion") -> RewardFn:
    """ROUGE-1 (no stemming) of the completion against the human reference, never below `floor`.

    The paper's code takes the precision (shared unigrams / completion unigrams) over the whole
    completion, tags included; `scope: caption_think` scores only the caption and think text.
    Images without a reference get `floor` (a constant within a group: no advantage signal).
    """
    if measure not in MEASURES:
        raise UserError(f"reasoning reward: measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if scope not in SCOPES:
        raise UserError(f"reasoning reward: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    attribute = {"precision": "precision", "recall": "recall", "f1": "fmeasure"}[measure]

    def scoped(text: str) -> str:
        if scope == "completion":
            return text
        parts = (extract_block(text, "caption"), extract_block(text, "think"))
        return " ".join(p for p in parts if p)

    def reasoning(completions, **kwargs) -> list[float | None]:
        references = column(kwargs, "reference", len(completions))
        rewards: list[float | None] = []
        for completion, reference in zip(completions, references):
            reference = (reference or "").strip()
            text = scoped(completion_text(completion))
            if not reference or not text.strip():
                rewards.append(floor)
                continue
            score = scorer.score(reference.lower(), text.lower())["rouge1"]
            rewards.append(max(floor, float(getattr(score, attribute))))
        return rewards

    return reasoning


class SelfConsistencyReward:
    """The current policy rates each completion's own caption without the image (stage 2, no gradient).

    Reward: `cosine_score` of the stage-2 rating against the ground truth. A completion without a caption,
    or a stage-2 answer without a usable rating, earns 0. Two ways to get the stage-2 rating:
    - `generate` (the paper's): stage 2 writes its reasoning and answer; all prompts of a batch go to
      `generate` in one call, identical captions once when `dedupe` (they are common within a group).
    - `prefill`: one forward pass over the stage-2 prompt and the start of the answer
      (rating_probs.STAGE2_ANSWER_PREFIX); the rating is the expectation over the digit tokens 1..5 there
      (qassess.core.rating_probs), a continuous value, so the cosine reward is graded rather than all-or-none.
    `generate`/`read` are bound after the trainer exists (`bind_trainer`), so the reward follows the live
    policy.
    """

    __name__ = "self_consistency"

    def __init__(
        self,
        template: str = "paper",
        threshold: float = 0.35,
        max_new_tokens: int = 256,
        temperature: float | None = None,
        stage2_input: str = "caption",
        dedupe: bool = True,
        generate: Generate | None = None,
        mode: str = "generate",
        read: Read | None = None,
        digit_ids: list[int] | None = None,
    ):
        from qassess.core.prompts import get_template

        _check_threshold(threshold)
        if max_new_tokens < 1:
            raise UserError(f"self_consistency: max_new_tokens must be >= 1, got {max_new_tokens}")
        if stage2_input not in STAGE2_INPUTS:
            raise UserError(f"self_consistency: stage2_input must be one of {', '.join(STAGE2_INPUTS)}")
        if mode not in SELF_CONSISTENCY_MODES:
            raise UserError(f"self_consistency: mode must be one of {', '.join(SELF_CONSISTENCY_MODES)}, not {mode!r}")
        self.template = get_template(template)
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.stage2_input = stage2_input
        self.dedupe = dedupe
        self.generate = generate
        self.mode = mode
        self.read = read
        self.digit_ids = digit_ids

    def bind_trainer(self, trainer) -> None:
        """Stage 2 with this trainer's policy (generation on its vLLM engine when it trains with vLLM)."""
        from qassess.core import rating_probs
        from qassess.train.policy import generate_with_trainer, read_with_trainer

        self.generate = lambda conversations, max_new, temp: generate_with_trainer(trainer, conversations, max_new, temp)
        self.read = lambda conversations, prefix, ids: read_with_trainer(trainer, conversations, prefix, ids)
        if self.mode == "prefill":
            processing = trainer.processing_class
            self.digit_ids = rating_probs.digit_token_ids(getattr(processing, "tokenizer", processing))
            if self.digit_ids is None:
                raise UserError("self_consistency mode prefill needs a tokenizer that writes each digit as one token")
        # Under vLLM server mode every rank must send one prompt per completion (TRL slices the gathered
        # results by equal shares), so duplicates are kept there; vLLM's prefix cache makes them cheap.
        if getattr(trainer, "use_vllm", False) and self.mode == "generate":
            self.dedupe = False

    def stage2_text(self, completion: str) -> str | None:
        """What stage 2 reads instead of the image: the caption (later paper code) or, with
        `before_answer`, everything before `<answer>` (the January code); None when there is no caption."""
        caption = parse_completion(completion).caption
        if not caption:
            return None
        if self.stage2_input == "caption":
            return caption
        head = completion.split("<answer>", 1)[0].strip()
        return head or None

    def stage2_ratings(self, todo: list[str]) -> list[float | None]:
        """The stage-2 rating of each distinct source text, by `mode`."""
        conversations = [self.template.caption_messages(s) for s in todo]
        if self.mode == "prefill":
            from qassess.core import rating_probs

            if self.read is None or self.digit_ids is None:
                raise RuntimeError("self_consistency (prefill) used before bind_trainer(trainer) or a read function")
            rows = self.read(conversations, rating_probs.STAGE2_ANSWER_PREFIX, self.digit_ids)
            if len(rows) != len(todo):
                raise RuntimeError(f"stage-2 reading returned {len(rows)} rows for {len(todo)} prompts")
            return [rating_probs.expected_rating([row])[0] for row in rows]
        if self.generate is None:
            raise RuntimeError("self_consistency reward used before bind_trainer(trainer) or a generate function")
        outputs = self.generate(conversations, self.max_new_tokens, self.temperature)
        if len(outputs) != len(todo):
            raise RuntimeError(f"stage-2 generation returned {len(outputs)} texts for {len(todo)} prompts")
        return [parse_completion(o).rating for o in outputs]

    def __call__(self, completions, **kwargs) -> list[float | None]:
        truths = column(kwargs, "score", len(completions))
        sources = [self.stage2_text(completion_text(c)) for c in completions]
        deduped = self.dedupe or self.mode == "prefill"  # prefill never goes through TRL's vLLM slicing
        if deduped:
            todo = list(dict.fromkeys(s for s in sources if s is not None))
        else:  # one prompt per completion; captionless rows send "" and their answer is ignored
            todo = [s if s is not None else "" for s in sources]
        started = time.perf_counter()
        stage2 = self.stage2_ratings(todo)
        seconds = time.perf_counter() - started
        if deduped:
            by_source = dict(zip(todo, stage2))
            ratings = [by_source[s] if s is not None else None for s in sources]
        else:
            ratings = [r if s is not None else None for s, r in zip(sources, stage2)]
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            with_caption = sum(s is not None for s in sources)
            log_metric("self_consistency/caption_rate", with_caption / max(1, len(sources)))
            log_metric("self_consistency/stage2_parse_rate",
                       sum(r is not None for r in ratings) / max(1, with_caption) if with_caption else 0.0)
            log_metric("self_consistency/stage2_prompts", float(len(todo)))
            log_metric("self_consistency/stage2_seconds", seconds)
        return [cosine_score(p, s, self.threshold) for p, s in zip(ratings, truths)]


def self_consistency_reward(
    template: str = "paper",
    threshold: float = 0.35,
    max_new_tokens: int = 256,
    temperature: float | None = None,
    stage2_input: str = "caption",
    dedupe: bool = True,
    mode: str = "generate",
) -> SelfConsistencyReward:
    """Stage-2 rating of the completion's own caption by the current policy (see SelfConsistencyReward).
    `mode`: generate (the paper's way) or prefill (one forward pass, the rating read from the digit
    tokens' probabilities). `temperature` None samples as stage 1 does; `max_new_tokens` bounds stage 2
    in generate mode (its main cost)."""
    return SelfConsistencyReward(template, threshold, max_new_tokens, temperature, stage2_input, dedupe, mode=mode)


# --- semantic: agreement in meaning with the reference; the logic is in qassess.train.rewards.semantic


def semantic_reward(mode: str = "embedding", measure: str = "similarity", floor: float = 0.1,
                    scope: str = "caption_think", model: str | None = None, threshold: float = 0.6) -> RewardFn:
    """Embedding similarity (`mode: embedding`, `measure`: similarity | sentence_recall | sentence_soft) or
    quality-attribute agreement (`mode: attributes`) of caption + think with the reference, never below
    `floor` (rows without a reference get it); `model`: a local sentence-transformers folder (default:
    the packaged all-MiniLM-L6-v2), loaded once per process at the first call."""
    from qassess.train.rewards.semantic import make_reward

    return make_reward(mode, measure, floor, scope, model, threshold)


REWARDS = Registry("reward")  # plugins: entry-point group qassess.rewards, or a `package.module:factory` name
REWARDS.register("format", format_reward)
REWARDS.register("prediction", prediction_reward)
REWARDS.register("threshold", threshold_reward)
REWARDS.register("reasoning", reasoning_reward)
REWARDS.register("self_consistency", self_consistency_reward)
REWARDS.register("semantic", semantic_reward)
REWARDS.register("pairwise", "qassess.train.rewards.pairwise:pairwise_reward")

# Filled in from the recipe when a factory declares it and the recipe's reward params do not.
CONTEXT_PARAMS = ("template",)


# ------------------------------------------------------------------------------------------ resolving


def resolve_factory(name: str) -> Callable[..., Any]:
    """A registered reward name, or `package.module:factory` for a user's own."""
    if name in REWARDS:
        return REWARDS[name]
    if ":" not in name:
        raise REWARDS.unknown(name, f"use one of {', '.join(REWARDS)} or package.module:factory")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"reward {name!r}: cannot import {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UserError(f"reward {name!r}: {module_name} has no callable {attr!r}")
    return factory


def factory_params(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The named parameters a factory accepts (for validating recipe params)."""
    signature = inspect.signature(factory)
    return {
        p.name: p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def is_reward_function(obj: Callable[..., Any]) -> bool:
    """A plugin may name the reward function itself (first parameter `completions`) instead of a factory."""
    params = list(inspect.signature(obj).parameters)
    return bool(params) and params[0] == "completions"


def build_reward(name: str, params: dict[str, Any], label: str, context: dict[str, Any]) -> RewardFn:
    """Instantiate one reward and name it `label` (TRL logs `rewards/<label>/mean`)."""
    factory = resolve_factory(name)
    if is_reward_function(factory):
        if params:
            raise UserError(f"reward {name!r} is a reward function, not a factory: it takes no params")
        fn = factory
    else:
        accepted = factory_params(factory)
        unknown = [k for k in params if k not in accepted]
        if unknown:
            hint = did_you_mean(unknown[0], accepted)
            valid = ", ".join(k for k in accepted if k not in CONTEXT_PARAMS) or "none"
            raise UserError(f"reward {label!r}: unknown param {unknown[0]!r}{hint}; valid: {valid}")
        params = _typed(factory, params, label)
        extra = {k: v for k, v in context.items() if k in accepted and k not in params}
        try:
            fn = factory(**params, **extra)
        except TypeError as exc:
            raise UserError(f"reward {label!r}: {exc}") from None
    if not callable(fn):
        raise UserError(f"reward {label!r}: the factory returned {type(fn).__name__}, not a function")
    try:
        fn.__name__ = label
    except (AttributeError, TypeError):  # e.g. a bound method; TRL then logs its own name
        pass
    return fn


def _typed(factory: Callable[..., Any], params: dict[str, Any], label: str) -> dict[str, Any]:
    """Params coerced to the factory's annotations (command-line overrides arrive as text)."""
    import typing

    from qassess.train.config import coerce

    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # noqa: BLE001 - a plugin's unresolvable annotations: pass values as written
        hints = {}
    return {k: coerce(v, hints.get(k, Any), f"rewards.{label}.{k}") for k, v in params.items()}


def build_rewards(specs: Sequence[Any], context: dict[str, Any]) -> tuple[list[RewardFn], list[float]]:
    """Reward functions and weights from the recipe's reward specs (objects with name/label/params/weight)."""
    if not specs:
        raise UserError("the recipe lists no rewards")
    labels = [spec.label or spec.name for spec in specs]
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise UserError(f"reward label {duplicated[0]!r} is used twice; give each a distinct `label`")
    funcs = [build_reward(spec.name, dict(spec.params), label, context) for spec, label in zip(specs, labels)]
    return funcs, [float(spec.weight) for spec in specs]
