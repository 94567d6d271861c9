"""Scores from pairwise verdicts: the maximum a posteriori Bradley-Terry (or Thurstone Case V) latent
qualities under a Gaussian prior, with Laplace confidence intervals, optionally mapped onto an absolute
scale by anchors of known score.

A verdict is (a, b, p_a): p_a = 1 when a won, 0 when b won, 1/2 for a tie, or any probability (a model's
P(a better), a share of people). Soft outcomes and ties are why the log-posterior is written out here and
handed to scipy's trust-region Newton solver with its exact gradient and Hessian: choix's pairwise
estimators take hard (winner, loser) lists only; tests check the two agree on such data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qassess.errors import UserError

MODELS = ("bradley-terry", "thurstone")
DEFAULT_PRIOR = 0.1  # prior precision of a latent (variance 10 on the logit scale): weak, keeps MAP finite


@dataclass(frozen=True)
class Verdict:
    a: str
    b: str
    p_a: float


@dataclass
class Ranking:
    """Per item, in `ids` order: the latent quality, the standard error of its centred value, the score (latent mapped by the
    anchors, else centred latent) and its interval."""

    ids: list[str]
    latent: np.ndarray
    se: np.ndarray
    score: np.ndarray
    low: np.ndarray
    high: np.ndarray
    comparisons: np.ndarray  # verdicts an item took part in
    wins: np.ndarray  # sum of its p (ties count half)
    model: str
    scale: str  # "anchored" or "relative"
    level: float
    mapping: tuple[float, float] | None = None  # score = offset + slope * latent (anchored)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        order = np.argsort(-self.score, kind="stable")
        rank = np.empty(len(order), int)
        rank[order] = np.arange(1, len(order) + 1)
        return [{"id": i, "score": _r(self.score[k]), "ci_low": _r(self.low[k]), "ci_high": _r(self.high[k]),
                 "latent": _r(self.latent[k]), "se": _r(self.se[k]), "rank": int(rank[k]),
                 "comparisons": int(self.comparisons[k]), "wins": _r(self.wins[k])}
                for k, i in enumerate(self.ids)]


def _r(x: float) -> float:
    return round(float(x), 5)


def _link(model: str):
    """(log F(d), d/dd log F, d2/dd2 log F) of the win probability F(d), d = latent_a - latent_b."""
    from scipy.special import expit, log_expit, log_ndtr

    if model == "bradley-terry":
        return log_expit, lambda d: expit(-d), lambda d: -expit(d) * expit(-d)
    if model == "thurstone":
        def ratio(d):  # phi(d) / Phi(d), stable in both tails
            return np.exp(-0.5 * d * d - 0.5 * math.log(2 * math.pi) - log_ndtr(d))

        return log_ndtr, ratio, lambda d: -ratio(d) * (d + ratio(d))
    raise UserError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")


def win_probability(delta, model: str = "bradley-terry"):
    """P(a better than b) for latent difference `delta`."""
    return np.exp(_link(model)[0](np.asarray(delta, float)))


def fit(verdicts: Sequence[Verdict], *, model: str = "bradley-terry", prior: float = DEFAULT_PRIOR,
        anchors: dict[str, float] | None = None, level: float = 0.95, items: Sequence[str] = ()) -> Ranking:
    """MAP latents of every item named in `verdicts` (and `items`), their Laplace standard errors, and
    scores: mapped onto the anchors' scale by the least-squares line through (anchor latent, anchor
    score), else the latents centred on their mean."""
    from scipy.optimize import minimize
    from scipy.stats import norm

    if prior <= 0:
        raise UserError("--prior must be above 0 (the prior keeps scores finite when an item always wins)")
    if not 0 < level < 1:
        raise UserError("--level must be between 0 and 1")
    if not verdicts:
        raise UserError("no usable verdicts to rank")
    ids = list(dict.fromkeys([*items, *(x for v in verdicts for x in (v.a, v.b))]))
    index = {x: k for k, x in enumerate(ids)}
    ia = np.array([index[v.a] for v in verdicts])
    ib = np.array([index[v.b] for v in verdicts])
    if np.any(ia == ib):
        raise UserError(f"a verdict compares an item with itself: {verdicts[int(np.argmax(ia == ib))].a}")
    p = np.array([v.p_a for v in verdicts], float)
    if not np.all((p >= 0) & (p <= 1)):
        raise UserError("p_a must be between 0 and 1")
    log_f, d1, d2 = _link(model)
    n = len(ids)

    def objective(theta):
        d = theta[ia] - theta[ib]
        return -float(np.sum(p * log_f(d) + (1 - p) * log_f(-d))) + 0.5 * prior * float(theta @ theta)

    def gradient(theta):
        d = theta[ia] - theta[ib]
        g = -(p * d1(d) - (1 - p) * d1(-d))
        return np.bincount(ia, g, n) - np.bincount(ib, g, n) + prior * theta

    def hessian(theta):
        d = theta[ia] - theta[ib]
        h = -(p * d2(d) + (1 - p) * d2(-d))
        out = prior * np.eye(n)
        np.add.at(out, (ia, ia), h)
        np.add.at(out, (ib, ib), h)
        np.add.at(out, (ia, ib), -h)
        np.add.at(out, (ib, ia), -h)
        return out

    result = minimize(objective, np.zeros(n), jac=gradient, hess=hessian, method="trust-exact",
                      options={"gtol": 1e-8})
    if not result.success and np.linalg.norm(gradient(result.x)) > 1e-5:
        raise RuntimeError(f"the {model} fit did not converge: {result.message}")
    theta = result.x
    # Only differences are identified (the prior alone pins the common level), so the errors are those of
    # the centred latents; a common shift is also what the anchors' line absorbs.
    centre = np.eye(n) - 1.0 / n
    se = np.sqrt(np.clip(np.diag(centre @ np.linalg.inv(hessian(theta)) @ centre), 0, None))
    comparisons = np.bincount(ia, minlength=n) + np.bincount(ib, minlength=n)
    wins = np.bincount(ia, p, n) + np.bincount(ib, 1 - p, n)
    z = float(norm.ppf(0.5 + level / 2))
    notes: list[str] = []
    mapping, scale = None, "relative"
    if anchors:
        known = {k: float(v) for k, v in anchors.items() if k in index}
        missing = sorted(set(anchors) - set(known))
        if missing:
            notes.append(f"{len(missing)} anchor(s) have no verdicts and were not used: {', '.join(missing[:3])}")
        if len(known) < 2 or len(set(known.values())) < 2:
            raise UserError("anchors fix the scale only with at least two anchors of different score in the verdicts")
        x = np.array([theta[index[k]] for k in known])
        y = np.array(list(known.values()))
        slope, offset = np.polyfit(x, y, 1)
        if slope <= 0:
            raise UserError("the verdicts rank the anchors against their known scores: the scale cannot be fixed")
        mapping, scale = (float(offset), float(slope)), "anchored"
        score, half = offset + slope * theta, z * slope * se
    else:
        score, half = theta - theta.mean(), z * se
    return Ranking(ids, theta, se, score, score - half, score + half, comparisons, wins, model, scale, level,
                   mapping, notes)


WINNER_WORDS = {"a": 1.0, "b": 0.0, "tie": 0.5, "similar": 0.5, "same": 0.5, "equal": 0.5, "0.5": 0.5,
                "1": 1.0, "0": 0.0}


def read_verdicts(source, *, a_col: str = "a", b_col: str = "b") -> tuple[list[Verdict], list[str]]:
    """Verdicts from a table with columns a, b and winner (a, b or tie) or p_a; rows whose status is not
    ok (a model's failed verdicts) are left out and counted, never guessed. Returns (verdicts, notes)."""
    from qassess.io.tables import read_table

    table = read_table(source, raw=True)
    frame = table.frame
    for col in (a_col, b_col):
        if col not in frame.columns:
            raise UserError(f"{table.source}: no column {col!r} (columns: {', '.join(map(str, frame.columns))})")
    if "p_a" not in frame.columns and "winner" not in frame.columns:
        raise UserError(f"{table.source}: needs a winner column (a, b or tie) or a p_a column")
    verdicts, notes, skipped, bad = [], list(table.notes), 0, []
    for k, row in enumerate(frame.to_dict("records")):
        status = row.get("status")
        if status not in (None, "", "ok") and not (isinstance(status, float) and math.isnan(status)):
            skipped += 1
            continue
        p = _outcome(row)
        if p is None:
            bad.append(table.origins[k] if table.origins else str(k))
            continue
        verdicts.append(Verdict(str(row[a_col]), str(row[b_col]), p))
    if skipped:
        notes.append(f"{skipped} verdict(s) whose status is not ok left out")
    if bad:
        raise UserError(f"{table.source}: {len(bad)} row(s) without a usable winner or p_a, e.g. {bad[0]}")
    return verdicts, notes


def _outcome(row: dict) -> float | None:
    value = row.get("p_a")
    if value not in (None, "") and not (isinstance(value, float) and math.isnan(value)):
        try:
            p = float(value)
        except (TypeError, ValueError):
            return None
        return p if 0 <= p <= 1 else None
    word = str(row.get("winner", "")).strip().lower()
    return WINNER_WORDS.get(word)
