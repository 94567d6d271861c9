"""The Pareto front of a trade-off: which settings no other setting beats on both measures at once.

A sweep of the reasoning weight against the prediction weight answers "what does more reasoning
alignment cost in score accuracy?" only through the settings that are not dominated: a setting another
one matches or beats on both axes (and beats on at least one) is never the right choice, whatever the
user's preference between the two. Both measures are "higher is better" here (SRCC, ROUGE-1, attribute
agreement).
"""
from __future__ import annotations

from typing import Sequence


def pareto_front(points: Sequence[tuple[float | None, float | None]]) -> list[bool]:
    """For each (x, y) point, whether it is on the front (maximising both). A point with a missing
    value is never on it (it cannot be placed); equal points do not dominate each other, so a tie on
    the front keeps both."""
    known = [(i, x, y) for i, (x, y) in enumerate(points) if x is not None and y is not None]
    front = [False] * len(points)
    for i, x, y in known:
        front[i] = not any(ox >= x and oy >= y and (ox > x or oy > y) for j, ox, oy in known if j != i)
    return front
