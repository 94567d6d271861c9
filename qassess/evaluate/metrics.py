"""Agreement between predicted and human quality scores, and ROUGE-1 of generated reasoning.

Pure functions over numpy arrays (no I/O, no pandas). Correlations are scipy's; the logistic mappings
are the VQEG 4- and 5-parameter curves fitted with scipy's curve_fit, with analytic Jacobians so a
million-point fit stays fast. A fit that does not converge is returned as such, never replaced by raw.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

FIT_KINDS = ("logistic4", "logistic5")


def _pair(pred: Sequence[float], gt: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(pred, dtype=float)
    y = np.asarray(gt, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two 1-D arrays of equal length, got shapes {x.shape} and {y.shape}")
    return x, y


def _defined(x: np.ndarray, y: np.ndarray) -> bool:
    """Correlations need at least 2 points and variation on both sides (else scipy returns NaN)."""
    return x.size >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0


def plcc(pred: Sequence[float], gt: Sequence[float]) -> float:
    """Pearson linear correlation (NaN when undefined: fewer than 2 points or a constant side)."""
    from scipy import stats

    x, y = _pair(pred, gt)
    return float(stats.pearsonr(x, y).statistic) if _defined(x, y) else float("nan")


def srcc(pred: Sequence[float], gt: Sequence[float]) -> float:
    """Spearman rank correlation (NaN when undefined)."""
    from scipy import stats

    x, y = _pair(pred, gt)
    return float(stats.spearmanr(x, y).statistic) if _defined(x, y) else float("nan")


def krcc(pred: Sequence[float], gt: Sequence[float]) -> float:
    """Kendall rank correlation, tau-b (ties in either side handled), NaN when undefined."""
    from scipy import stats

    x, y = _pair(pred, gt)
    return float(stats.kendalltau(x, y, variant="b").statistic) if _defined(x, y) else float("nan")


def rmse(pred: Sequence[float], gt: Sequence[float]) -> float:
    x, y = _pair(pred, gt)
    return float(np.sqrt(np.mean((x - y) ** 2))) if x.size else float("nan")


def mae(pred: Sequence[float], gt: Sequence[float]) -> float:
    x, y = _pair(pred, gt)
    return float(np.mean(np.abs(x - y))) if x.size else float("nan")


# --- logistic mappings (VQEG) ---------------------------------------------------------------------


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic: b2 + (b1 - b2) / (1 + exp(-(x - b3) / b4)) (pyiqa / DeQA-Score form)."""
    from scipy.special import expit

    return b2 + (b1 - b2) * expit((np.asarray(x, dtype=float) - b3) / b4)


def logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    """VQEG 5-parameter logistic (Sheikh et al. 2006): b1 (1/2 - 1/(1 + exp(b2 (x - b3)))) + b4 x + b5."""
    from scipy.special import expit

    x = np.asarray(x, dtype=float)
    return b1 * (0.5 - expit(-b2 * (x - b3))) + b4 * x + b5


def _jac4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    from scipy.special import expit

    s = expit((x - b3) / b4)
    ds = (b1 - b2) * s * (1.0 - s)
    return np.column_stack([s, 1.0 - s, -ds / b4, -ds * (x - b3) / b4**2])


def _jac5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    from scipy.special import expit

    q = expit(-b2 * (x - b3))
    dq = b1 * q * (1.0 - q)
    return np.column_stack([0.5 - q, dq * (x - b3), -dq * b2, x, np.ones_like(x)])


_CURVES: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]] = {
    "logistic4": (logistic4, _jac4),
    "logistic5": (logistic5, _jac5),
}


@dataclass(frozen=True)
class Fit:
    """A fitted mapping from predictions to ground truth; `params` is None when the fit failed."""

    kind: str
    params: tuple[float, ...] | None
    converged: bool
    message: str

    def predict(self, x: Sequence[float]) -> np.ndarray:
        if not self.converged or self.params is None:
            raise ValueError(f"{self.kind} fit did not converge: {self.message}")
        return _CURVES[self.kind][0](np.asarray(x, dtype=float), *self.params)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "converged": self.converged, "params": list(self.params) if self.params else None,
                "message": self.message}


def initial_params(kind: str, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Standard starting values, oriented by the sign of the raw correlation so that
    decreasing relations (DMOS) start on the right side of the curve."""
    sign = 1.0 if np.corrcoef(x, y)[0, 1] >= 0 else -1.0
    lo, hi, spread = float(np.min(y)), float(np.max(y)), float(np.std(x))
    if kind == "logistic4":  # pyiqa / DeQA-Score: [max(y), min(y), mean(x), std(x) / 4]
        top, bottom = (hi, lo) if sign > 0 else (lo, hi)
        return [top, bottom, float(np.mean(x)), spread / 4.0]
    if kind == "logistic5":
        return [hi - lo, sign * 4.0 / spread, float(np.mean(x)), 0.0, float(np.mean(y))]
    raise ValueError(f"unknown fit {kind!r}; choose one of {', '.join(FIT_KINDS)}")


def fit_logistic(pred: Sequence[float], gt: Sequence[float], kind: str = "logistic4",
                 maxfev: int = 10_000) -> Fit:
    """Least-squares fit of a VQEG logistic mapping pred -> gt; failure is reported, not hidden."""
    from scipy.optimize import OptimizeWarning, curve_fit

    if kind not in _CURVES:
        raise ValueError(f"unknown fit {kind!r}; choose one of {', '.join(FIT_KINDS)}")
    x, y = _pair(pred, gt)
    n_params = 4 if kind == "logistic4" else 5
    if x.size < n_params + 1:
        return Fit(kind, None, False, f"{x.size} points are too few for {n_params} parameters")
    if not _defined(x, y):
        return Fit(kind, None, False, "predictions or ground truth are constant")
    func, jac = _CURVES[kind]
    try:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", OptimizeWarning)  # covariance not estimable: irrelevant here
            params, _ = curve_fit(func, x, y, p0=initial_params(kind, x, y), jac=jac, maxfev=maxfev)
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        return Fit(kind, None, False, str(exc).strip().splitlines()[0])
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(func(x, *params))):
        return Fit(kind, None, False, "fit produced non-finite parameters or values")
    return Fit(kind, tuple(float(p) for p in params), True, "converged")


# --- a full set of score metrics -------------------------------------------------------------------


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def score_metrics(pred: Sequence[float], gt: Sequence[float], *, fit: str | None = None,
                  lower_better: bool = False) -> tuple[dict[str, object], Fit | None]:
    """n, PLCC, SRCC, KRCC, RMSE, MAE for one set of matched finite pairs.

    Correlations are oriented so that agreement is positive: with `lower_better` (DMOS ground truth)
    they are computed against -gt. With `fit`, PLCC/RMSE/MAE use the fitted mapping (the rank
    correlations are invariant to it) and `plcc_raw` keeps the unmapped value; a failed fit leaves
    PLCC/RMSE/MAE empty and says why. Without a fit on a lower-better scale, RMSE/MAE are left empty:
    raw predictions and DMOS point in opposite directions.
    """
    x, y = _pair(pred, gt)
    q = -y if lower_better else y  # ground truth oriented so that higher = better
    out: dict[str, object] = {"n": int(x.size)}
    raw_plcc = plcc(x, q)
    out["plcc"] = _clean(raw_plcc)
    out["srcc"] = _clean(srcc(x, q))
    out["krcc"] = _clean(krcc(x, q))
    out["plcc_mapping"] = fit or "none"
    result: Fit | None = None
    if fit:
        result = fit_logistic(x, y, fit)  # maps onto the ground truth's own scale and direction
        out["plcc_raw"] = _clean(raw_plcc)
        out["fit"] = result.to_dict()
        if result.converged:
            mapped = result.predict(x)
            out["plcc"] = _clean(plcc(-mapped if lower_better else mapped, q))
            out["rmse"] = _clean(rmse(mapped, y))
            out["mae"] = _clean(mae(mapped, y))
        else:
            out["plcc"] = out["rmse"] = out["mae"] = None
        out["errors_on"] = "fitted"
    elif lower_better:
        out["rmse"] = out["mae"] = None
        out["errors_on"] = "none (lower-better ground truth needs --fit)"
    else:
        out["rmse"] = _clean(rmse(x, y))
        out["mae"] = _clean(mae(x, y))
        out["errors_on"] = "raw"
    return out, result


def bootstrap_mean_ci(values: np.ndarray, n: int, seed: int, confidence: float = 0.95) -> list[float]:
    """Percentile interval of the mean over `n` resamples of the values, drawn by
    `np.random.default_rng(seed)` a block at a time (the same draws as one (n, size) call; 1000 resamples
    of 100k values fit in memory)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    step = max(1, int(2e7 // max(values.size, 1)))
    means = np.concatenate([values[rng.integers(0, values.size, size=(min(step, n - start), values.size))].mean(axis=1)
                            for start in range(0, n, step)])
    tail = 100 * (1 - confidence) / 2
    return [float(v) for v in np.percentile(means, [tail, 100 - tail])]


def bootstrap_ci(pred: Sequence[float], gt: Sequence[float], n_resamples: int, *, seed: int = 0,
                 confidence: float = 0.95) -> dict[str, Any]:
    """Percentile bootstrap intervals of PLCC and SRCC over paired resamples of rows (`plcc`, `srcc`:
    [low, high]; `undefined_resamples`, when some resamples were constant and left out: their count).

    The caller passes the values the reported PLCC uses (mapped ones after a fit, the mapping fitted
    once on all rows) and oriented ground truth. Percentile rather than BCa: BCa's jackknife is
    quadratic in the number of rows.
    """
    from scipy import stats

    x, y = _pair(pred, gt)
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    if not _defined(x, y):
        return {"plcc": [None, None], "srcc": [None, None]}
    batch = max(1, int(2e7 // max(x.size, 1)))

    def pearson(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant resample gives NaN, left out below
            return stats.pearsonr(a, b, axis=axis).statistic

    def spearman(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return pearson(stats.rankdata(a, axis=axis), stats.rankdata(b, axis=axis), axis=axis)

    out: dict[str, Any] = {}
    undefined: dict[str, int] = {}
    for name, statistic in (("plcc", pearson), ("srcc", spearman)):
        res = stats.bootstrap((x, y), statistic, n_resamples=n_resamples, paired=True, vectorized=True,
                              batch=batch, method="percentile", confidence_level=confidence,
                              rng=np.random.default_rng(seed))
        out[name] = [_clean(res.confidence_interval.low), _clean(res.confidence_interval.high)]
        # One constant resample (likely with few rows and ratings on a coarse grid) makes scipy's interval
        # NaN; the percentile interval is then taken over the resamples that have a correlation, and the
        # others are counted, as compare.paired does.
        dist = np.asarray(res.bootstrap_distribution, dtype=float)
        finite = dist[np.isfinite(dist)]
        if finite.size < dist.size:
            undefined[name] = int(dist.size - finite.size)
            tail = 100 * (1 - confidence) / 2
            out[name] = [_clean(v) for v in np.percentile(finite, [tail, 100 - tail])] if finite.size else [None, None]
    if undefined:
        out["undefined_resamples"] = undefined
    return out


def consistency(image_rating: Sequence[float], caption_rating: Sequence[float]) -> dict[str, object]:
    """Agreement between the image-conditioned and caption-only (self-check) ratings of the same rows."""
    x, y = _pair(image_rating, caption_rating)
    return {"n": int(x.size), "plcc": _clean(plcc(x, y)), "srcc": _clean(srcc(x, y)),
            "mean_abs_gap": _clean(mae(x, y))}


# --- ROUGE-1 ----------------------------------------------------------------------------------------


def rouge1(references: Sequence[str], generated: Sequence[str], *, stem: bool = False) -> np.ndarray:
    """ROUGE-1 (precision, recall, F1) per pair with rouge-score, both texts lower-cased.

    Precision is over the generated text's unigrams, recall over the reference's, as in the paper's
    reasoning reward (`scorer.score(reference, completion)`). Returns an array of shape (n, 3).
    """
    from rouge_score import rouge_scorer

    if len(references) != len(generated):
        raise ValueError(f"{len(references)} references but {len(generated)} generated texts")
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=stem)
    out = np.empty((len(references), 3), dtype=float)
    for i, (ref, gen) in enumerate(zip(references, generated)):
        s = scorer.score(ref.lower(), gen.lower())["rouge1"]
        out[i] = (s.precision, s.recall, s.fmeasure)
    return out
