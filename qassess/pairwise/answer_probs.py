"""P(a better) from the probabilities of the answer words, beside the verdict the model states.

A stated verdict is 1, 0 or 1/2; the probabilities the model gave its possible answers at the point where
it wrote one are a graded P(a better) from a single greedy answer, which is what Bradley-Terry wants, and
cost nothing extra: the backends record the scores of a few tokens at every generated step (as for
`rating_expected`, qassess.core.rating_probs).

The answers are words such as "A" / "B" / "similar" or "Image A" / "Image B" / "Similar", each one or more
tokens. Along the answer the model wrote, the scores at each of its steps give the probability of every
answer that parts from it there, renormalised over the answers still possible at that step; the token
where an answer parts decides it (as Compare2Score reads its level words by their first token). So
"Image B" is read from "Image A" (they part at "A" / "B") and "Similar" from either, but when the model
wrote "Similar" the split between "Image A" and "Image B" lies on a step it never took: then, as when
the tokens do not line up with the text, there is no reading, the row says so (`p_from`), and the stated
verdicts are used.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

# What may share a token with the start of an answer word: Qwen's pre-tokenizer joins one character that
# is neither a letter, a digit nor a newline to the word after it (` A` in "Image A", `>Image` after
# "<answer>", `"A`), and BPE may keep it in the word's first token. The scores of every answer's tokens
# after each of these are recorded, since which one the model writes is known only afterwards.
LEADS = ("", " ", '"', "'", ">", ":", "*", "(", "[", "`", "\u201c")


def encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def candidate_ids(tokenizer, words: Sequence[str]) -> list[int]:
    """Every token of every answer word after every lead: the ids whose scores the backend records."""
    return list(dict.fromkeys(t for lead in LEADS for w in words for t in encode(tokenizer, lead + w)))


def first_token_ids(tokenizer, words: Sequence[str], lead: str) -> list[int] | None:
    """The first token of each word after `lead` (a prefilled answer's next token), or None when two words
    begin with the same token (their probabilities cannot be told apart at one step)."""
    ids = [encode(tokenizer, lead + w)[:1] for w in words]
    if any(not i for i in ids) or len({i[0] for i in ids}) < len(ids):
        return None
    return [i[0] for i in ids]


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    return [e / sum(exps) for e in exps]


def answer_distribution(encodings: Sequence[Sequence[int]], written: int,
                        step_scores: Sequence[dict[int, float]]) -> list[float] | None:
    """P of each answer from the scores at the steps of the written answer (`step_scores[m]`: token id ->
    score at its m-th token), or None when some answer cannot be read from those steps alone."""
    gen = list(encodings[written])
    if len({tuple(e) for e in encodings}) < len(encodings) or len(step_scores) < len(gen):
        return None
    shared = []  # tokens each answer has in common with the written one, from the start
    for j, enc in enumerate(encodings):
        k = 0
        while k < min(len(enc), len(gen)) and enc[k] == gen[k]:
            k += 1
        if j != written and k >= len(gen):
            return None  # it goes on where the written answer stopped: no step was taken to read it
        shared.append(k)
    along, at_step = [], []
    for m in range(len(gen)):
        owners: dict[int, list[int]] = {}
        for j, (enc, k) in enumerate(zip(encodings, shared)):
            if k >= m and len(enc) > m:
                owners.setdefault(enc[m], []).append(j)
        if any(len(js) > 1 for t, js in owners.items() if t != gen[m]):
            return None  # two answers part from the written one with the same token: their split is unseen
        scores = [step_scores[m].get(t, -math.inf) for t in owners]
        if not all(math.isfinite(x) for x in scores):
            return None  # a score the backend did not report (vLLM: -inf)
        probs = dict(zip(owners, softmax(scores)))
        at_step.append(probs)
        along.append(probs[gen[m]])
    return [math.prod(along) if j == written else math.prod(along[:k]) * at_step[k][enc[k]]
            for j, (enc, k) in enumerate(zip(encodings, shared))]


def written_step(text: str, offset: int, token_ids: Sequence[int], decode: Callable[[Sequence[int]], str]
                 ) -> tuple[int, str] | None:
    """(the step whose token holds character `offset`, the text of that token before `offset`), or None
    when the decoded tokens do not line up with the text."""
    from qassess.core.rating_probs import step_at

    step = step_at(token_ids, offset, decode)
    if step < 0:
        return None
    before = decode(token_ids[:step])
    if not text.startswith(before) or len(before) > offset:
        return None
    return step, text[len(before):offset]


def read_completion(text: str, offset: int, written: int, words: Sequence[str], values: Sequence[float],
                    token_ids: Sequence[int] | None, scores: Sequence[Sequence[float]] | None,
                    score_ids: Sequence[int], tokenizer, decode: Callable[[Sequence[int]], str]) -> float | None:
    """P(the first image is better) = sum of P(answer) x its value, from one completion whose answer word
    `words[written]` starts at `offset`; None when it cannot be read."""
    if token_ids is None or scores is None:
        return None
    found = written_step(text, offset, token_ids, decode)
    if found is None or found[1] not in LEADS:
        return None
    step, lead = found
    encodings = [encode(tokenizer, lead + w) for w in words]
    gen = encodings[written]
    if list(token_ids[step:step + len(gen)]) != gen or step + len(gen) > len(scores):
        return None
    column = {t: i for i, t in enumerate(score_ids)}
    steps = [{t: scores[step + m][column[t]] for t in column} for m in range(len(gen))]
    dist = answer_distribution(encodings, written, steps)
    return None if dist is None else sum(p * v for p, v in zip(dist, values))


def prefilled(scores: Sequence[float], values: Sequence[float]) -> float:
    """P(the first image is better) from the scores of each answer's first token after a prefilled prefix."""
    return sum(p * v for p, v in zip(softmax(scores), values))
