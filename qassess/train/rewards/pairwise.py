"""VisualQuality-R1's pairwise fidelity reward: a sampled rating is rewarded for ranking its image
against the other images of the batch the way the ground truth does.

For a completion rating image i at q, and every other image j of the batch with parsed ratings (mean
m_j, variance v_j over its group's samples): p = Phi((q - m_j) / sqrt(v_i + v_j + gamma)), the truth
p* = 1, 1/2 or 0 as score_i is above, equal to or below score_j, and the fidelity
sqrt(p* p) + sqrt((1 - p*)(1 - p)), averaged over j. An unparseable rating gets 0 and counts in no
image's mean; a batch with one image gives None (nothing to compare, no signal).
"""
from __future__ import annotations

import math
import statistics

from qassess.train.rewards.common import column, stated_ratings

GROUP_COLUMN = "image_path"  # the dataset column that tells the images of a batch apart


def pairwise_reward(gamma: float = 1e-6, group_column: str = GROUP_COLUMN):
    if not gamma > 0:
        raise ValueError("pairwise reward: gamma must be above 0 (it keeps the spread of identical samples finite)")
    from scipy.stats import norm

    def pairwise(completions, **kwargs) -> list[float | None]:
        n = len(completions)
        truths = column(kwargs, "score", n)
        groups = column(kwargs, group_column, n)
        ratings = stated_ratings(completions)
        by_group: dict = {}
        for g, r in zip(groups, ratings):
            if r is not None:
                by_group.setdefault(g, []).append(r)
        stats = {g: (statistics.fmean(rs), statistics.pvariance(rs)) for g, rs in by_group.items()}
        truth = dict(zip(groups, truths))
        if len(set(groups)) < 2:
            return [None] * n
        out: list[float | None] = []
        for g, q in zip(groups, ratings):
            if q is None:
                out.append(0.0)
                continue
            others = [h for h in stats if h != g]
            if not others:
                out.append(0.0)
                continue
            fidelity = []
            var_i = stats[g][1]
            for h in others:
                mean_j, var_j = stats[h]
                p = float(norm.cdf((q - mean_j) / math.sqrt(var_i + var_j + gamma)))
                star = 1.0 if truth[g] > truth[h] else 0.5 if truth[g] == truth[h] else 0.0
                fidelity.append(math.sqrt(star * p) + math.sqrt((1 - star) * (1 - p)))
            out.append(statistics.fmean(fidelity))
        return out

    return pairwise
