"""Which pairs to ask: every item against anchors, or a budget of pairs chosen round by round.

A budget starts with a random cycle through the items (every item in two comparisons, the graph
connected, so Bradley-Terry is defined), then adds rounds of the closest pairs by the current estimate
among neighbours in score order: close pairs are the informative ones (p near 1/2), and n log n of them
order n items where all n^2 would be wasted on obvious ones. Deterministic given the seed and the
verdicts so far, so a resumed run continues the same design.
"""
from __future__ import annotations

import math
import random
import re
from typing import Sequence

from qassess.errors import UserError

WINDOW = 4  # neighbours in score order that a round considers for each item


def parse_budget(text: str, n: int) -> int:
    """'4n', '2.5n', '100' -> a number of pairs (at least one cycle, at most all pairs)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(n?)\s*", str(text))
    if not match:
        raise UserError(f"--budget must be a number of pairs or a multiple of n (e.g. 4n), not {text!r}")
    value = float(match.group(1)) * (n if match.group(2) else 1)
    total = n * (n - 1) // 2
    return max(min(int(round(value)), total), min(n, total))


def anchor_pairs(items: Sequence[str], anchors: Sequence[str]) -> list[tuple[str, str]]:
    """Each item against each anchor, and the anchors among themselves (so their line can be fitted)."""
    pairs = [(a, b) for i, a in enumerate(anchors) for b in anchors[i + 1:]]
    return pairs + [(x, a) for x in items if x not in anchors for a in anchors]


def spread_anchors(items: Sequence[str], k: int, seed: int = 0) -> list[str]:
    if not 2 <= k <= len(items):
        raise UserError(f"--anchors must be between 2 and the number of images ({len(items)})")
    return random.Random(seed).sample(list(items), k)


def first_round(items: Sequence[str], seed: int = 0) -> list[tuple[str, str]]:
    order = list(items)
    random.Random(seed).shuffle(order)
    if len(order) == 2:
        return [(order[0], order[1])]
    return [(order[i], order[(i + 1) % len(order)]) for i in range(len(order))]


def next_round(latent: dict[str, float], se: dict[str, float], asked: set[frozenset], size: int
               ) -> list[tuple[str, str]]:
    """Up to `size` new pairs, closest first (difference over its uncertainty), each item once."""
    order = sorted(latent, key=latent.get)
    candidates = []
    for i, a in enumerate(order):
        for b in order[i + 1:i + 1 + WINDOW]:
            if frozenset((a, b)) not in asked:
                gap = abs(latent[a] - latent[b]) / math.sqrt(se[a] ** 2 + se[b] ** 2 + 1e-9)
                candidates.append((gap, a, b))
    candidates.sort()
    used, out = set(), []
    for _, a, b in candidates:
        if a not in used and b not in used:
            out.append((a, b))
            used |= {a, b}
            if len(out) == size:
                break
    return out
