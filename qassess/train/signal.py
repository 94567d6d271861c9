"""How many prompt groups carry a learning signal: the first diagnostic of a GRPO run.

GRPO's advantage is a completion's reward minus its group's mean. A group whose completions all earn the
same total reward has zero advantage everywhere and teaches nothing, however good or bad the reward is;
when most groups are like that (a warm start writing whole-number ratings against a thresholded
prediction reward, say), the run is idle. TRL logs one `frac_reward_zero_std`; qassess adds the share for
each reward on its own, which says *which* reward has gone flat, under names the progress line and
`train_log.jsonl` show:

    zero_variance_groups             share of groups whose weighted total reward has zero spread
    zero_variance_groups/<reward>    the same for one reward's raw values
    ratings/mean, ratings/std        mean and spread of the batch's stated ratings (parsed ones)

The last is the second thing to look at. A spread in every group does not mean the policy learns what
it should: with a wide score tolerance the default model learnt to write one rating near the labels'
mean for most images (a hedge the cosine reward pays for), and its caption-only stage took it up
(MODEL.md). A rating spread that shrinks over the run while the labels' does not is that hedge.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

METRIC = "zero_variance_groups"
MEAN, STD = "ratings/mean", "ratings/std"
# TRL divides advantages by (std + 1e-4): a spread below 1e-6 moves advantages by under 1% of a unit.
TOLERANCE = 1e-6


def zero_variance_shares(rewards_per_func, weights: Sequence[float], group_size: int,
                         names: Sequence[str]) -> dict[str, float]:
    """Share of groups (`group_size` consecutive rows, TRL's layout) with no reward spread, in total and
    per reward. NaN (a reward that returned None) is left out, as TRL's nan-aware baseline leaves it out;
    a group with fewer than two scored completions has no spread."""
    values = np.asarray(rewards_per_func, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(names) or len(weights) != len(names):
        raise ValueError(f"rewards of shape {values.shape} do not match {len(names)} names and {len(weights)} weights")
    if group_size < 1 or values.shape[0] % group_size:
        raise ValueError(f"{values.shape[0]} rows do not split into groups of {group_size}")
    unscorable = np.isnan(values).all(axis=1)
    total = np.nansum(values * np.asarray(weights, dtype=np.float64)[None, :], axis=1)
    total[unscorable] = np.nan
    shares = {METRIC: _flat_share(total, group_size)}
    for i, name in enumerate(names):
        shares[f"{METRIC}/{name}"] = _flat_share(values[:, i], group_size)
    return shares


def rating_spread(ratings: Sequence[float | None]) -> dict[str, float]:
    """Mean and population std of the parsed stated ratings (None: unparsed, left out); NaN when none."""
    parsed = np.asarray([r for r in ratings if r is not None], dtype=np.float64)
    if parsed.size == 0:
        return {MEAN: float("nan"), STD: float("nan")}
    return {MEAN: float(parsed.mean()), STD: float(parsed.std())}


def _flat_share(column: np.ndarray, group_size: int) -> float:
    groups = column.reshape(-1, group_size)
    if groups.shape[0] == 0:
        return float("nan")
    flat = 0
    for group in groups:
        scored = group[~np.isnan(group)]
        flat += scored.size < 2 or float(scored.max() - scored.min()) <= TOLERANCE
    return flat / groups.shape[0]


@functools.cache
def grpo_trainer_class():
    """trl.GRPOTrainer with the shares above added to its metrics; built on first use because importing
    TRL takes seconds and the pure function above must not need it."""
    from trl import GRPOTrainer

    from qassess.train.rewards.common import stated_ratings

    class SignalGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose metrics also hold the zero-variance shares of every generation batch."""

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            mode = "train" if self.model.training else "eval"
            group_size = self.num_generations if mode == "train" else self.num_generations_eval
            shares = zero_variance_shares(rewards_per_func.detach().float().cpu().numpy(),
                                          self.reward_weights.detach().float().cpu().tolist(), group_size,
                                          list(self.reward_func_names))
            for key, value in shares.items():
                self._metrics[mode][key].append(value)
            for key, value in rating_spread(stated_ratings(completions)).items():
                self._metrics[mode][key].append(value)
            return rewards_per_func

    return SignalGRPOTrainer
