"""How many prompt groups carry a learning signal: the first diagnostic of a GRPO run.

GRPO's advantage is a completion's reward minus its group's mean. A group whose completions all earn the
same total reward has zero advantage everywhere and teaches nothing, however good or bad the reward is;
when most groups are like that (a warm start writing whole-number ratings against a thresholded
prediction reward, say), the run is idle. TRL logs one `frac_reward_zero_std`; qassess adds the share for
each reward on its own, which says *which* reward has gone flat, under names the progress line and
`train_log.jsonl` show:

    zero_variance_groups             share of groups whose weighted total reward has zero spread
    zero_variance_groups/<reward>    the same for one reward's raw values
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

METRIC = "zero_variance_groups"
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
            return rewards_per_func

    return SignalGRPOTrainer
