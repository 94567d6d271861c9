"""qassess.evaluate.metrics: correlations against scipy and hand values, logistic fits on known curves,
bootstrap intervals, ROUGE-1 against rouge-score and hand counts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qassess.evaluate import metrics

RNG = np.random.default_rng(7)
X = np.round(RNG.uniform(1, 5, 300), 1)  # rounded: ties on both sides, as real ratings have
Y = np.round(X + RNG.normal(0, 0.6, 300), 1)


def test_correlations_equal_scipy_with_ties():
    assert metrics.plcc(X, Y) == pytest.approx(stats.pearsonr(X, Y).statistic, abs=1e-12)
    assert metrics.srcc(X, Y) == pytest.approx(stats.spearmanr(X, Y).statistic, abs=1e-12)
    assert metrics.krcc(X, Y) == pytest.approx(stats.kendalltau(X, Y, variant="b").statistic, abs=1e-12)


def test_correlations_hand_values():
    x = [1, 2, 3, 4, 5]
    assert metrics.plcc(x, [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert metrics.srcc(x, [1, 4, 9, 16, 25]) == pytest.approx(1.0)  # monotone, not linear
    assert metrics.plcc(x, [1, 4, 9, 16, 25]) < 0.99
    assert metrics.krcc(x, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # tau-b with ties: x=[1,2,2,3], y=[1,3,2,3]: concordant 4, discordant 0, 1 tie in x, 1 tie in y.
    # tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)) = 4 / sqrt(5 * 5) = 0.8
    assert metrics.krcc([1, 2, 2, 3], [1, 3, 2, 3]) == pytest.approx(0.8)


def test_errors_hand_values():
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert metrics.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_constant_input_gives_nan_not_a_number():
    assert math.isnan(metrics.plcc([3, 3, 3, 3], [1, 2, 3, 4]))
    assert math.isnan(metrics.srcc([1, 2, 3, 4], [2, 2, 2, 2]))
    assert math.isnan(metrics.krcc([1], [1]))


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        metrics.plcc([1, 2, 3], [1, 2])


@pytest.mark.parametrize("sign", [1, -1])
def test_logistic4_recovers_a_known_curve(sign):
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, 2000)
    true = (80.0, 10.0, 3.0, 0.5) if sign > 0 else (10.0, 80.0, 3.0, 0.5)  # decreasing: DMOS-like
    y = metrics.logistic4(x, *true) + rng.normal(0, 1.0, x.size)
    fit = metrics.fit_logistic(x, y, "logistic4")
    assert fit.converged
    assert np.allclose(fit.params, true, rtol=0.03, atol=0.03)
    assert metrics.plcc(fit.predict(x), y) > metrics.plcc(x, y) * sign


def test_logistic5_recovers_a_known_curve():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, 3000)
    true = (4.0, 1.5, 5.0, 0.2, 2.0)
    y = metrics.logistic5(x, *true) + rng.normal(0, 0.05, x.size)
    fit = metrics.fit_logistic(x, y, "logistic5")
    assert fit.converged
    assert np.allclose(fit.params, true, rtol=0.05, atol=0.05)
    assert metrics.rmse(fit.predict(x), y) == pytest.approx(0.05, rel=0.1)


def test_logistic_formulas_hand_values():
    assert metrics.logistic4(np.array([3.0]), 5, 1, 3, 1)[0] == pytest.approx(3.0)  # midpoint
    assert metrics.logistic4(np.array([1e6]), 5, 1, 3, 1)[0] == pytest.approx(5.0)  # no overflow
    assert metrics.logistic5(np.array([2.0]), 4, 1, 2, 0.5, 1)[0] == pytest.approx(2.0)  # 0 + 0.5*2 + 1


def test_failed_fit_is_reported_not_replaced():
    fit = metrics.fit_logistic(X, Y, "logistic4", maxfev=2)
    assert not fit.converged and fit.params is None and "maxfev" in fit.message
    with pytest.raises(ValueError):
        fit.predict(X)
    assert not metrics.fit_logistic([3.0] * 10, np.arange(10.0)).converged
    assert not metrics.fit_logistic([1, 2, 3], [1, 2, 3]).converged  # fewer points than needed
    with pytest.raises(ValueError):
        metrics.fit_logistic(X, Y, "cubic")


def test_score_metrics_raw_and_fitted():
    raw, fit = metrics.score_metrics(X, Y)
    assert fit is None and raw["plcc_mapping"] == "none" and raw["errors_on"] == "raw"
    assert raw["n"] == X.size
    assert raw["rmse"] == pytest.approx(metrics.rmse(X, Y))
    fitted, fit = metrics.score_metrics(X, Y, fit="logistic4")
    assert fit.converged and fitted["plcc_mapping"] == "logistic4"
    assert fitted["plcc_raw"] == pytest.approx(raw["plcc"])
    assert fitted["plcc"] == pytest.approx(metrics.plcc(fit.predict(X), Y))
    assert fitted["srcc"] == pytest.approx(raw["srcc"])  # rank correlations ignore the mapping
    assert fitted["rmse"] == pytest.approx(metrics.rmse(fit.predict(X), Y))


def test_score_metrics_lower_better_orients_correlations():
    dmos = 100 - 20 * Y
    out, _ = metrics.score_metrics(X, dmos, lower_better=True)
    assert out["plcc"] == pytest.approx(metrics.plcc(X, Y))
    assert out["srcc"] == pytest.approx(metrics.srcc(X, Y))
    assert out["rmse"] is None and out["mae"] is None  # raw errors against DMOS mean nothing
    fitted, fit = metrics.score_metrics(X, dmos, fit="logistic4", lower_better=True)
    assert fit.converged and fitted["plcc"] > 0.8
    assert fitted["rmse"] == pytest.approx(metrics.rmse(fit.predict(X), dmos))


def test_score_metrics_failed_fit_leaves_fitted_values_empty():
    out, fit = metrics.score_metrics([3.0, 3.0, 3.0, 3.0, 3.0, 3.0], [1, 2, 3, 4, 5, 6], fit="logistic5")
    assert not fit.converged
    assert out["plcc"] is None and out["rmse"] is None and out["fit"]["converged"] is False


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible():
    ci = metrics.bootstrap_ci(X, Y, 500, seed=3)
    assert ci["plcc"][0] < metrics.plcc(X, Y) < ci["plcc"][1]
    assert ci["srcc"][0] < metrics.srcc(X, Y) < ci["srcc"][1]
    assert metrics.bootstrap_ci(X, Y, 500, seed=3) == ci
    small = metrics.bootstrap_ci(X[:40], Y[:40], 500, seed=3)
    assert small["plcc"][1] - small["plcc"][0] > ci["plcc"][1] - ci["plcc"][0]


def test_bootstrap_interval_leaves_out_constant_resamples_and_counts_them():
    # eight rows rated on a whole-number grid: some resamples draw one rating only (no correlation)
    pred, gt = [2, 3, 3, 4, 2, 5, 4, 3], [1.8, 3.1, 2.7, 4.2, 2.5, 4.9, 3.6, 3.3]
    ci = metrics.bootstrap_ci(pred, gt, 2000, seed=0)
    for name in ("plcc", "srcc"):
        lo, hi = ci[name]
        assert -1 <= lo < hi <= 1, ci
        assert 0 < ci["undefined_resamples"][name] < 2000
    assert "undefined_resamples" not in metrics.bootstrap_ci(X, Y, 200, seed=0)  # nothing left out there


def test_consistency_of_two_ratings():
    out = metrics.consistency([1, 2, 3, 4], [1.5, 2.0, 3.5, 4.5])
    assert out["n"] == 4
    assert out["mean_abs_gap"] == pytest.approx((0.5 + 0 + 0.5 + 0.5) / 4)
    assert out["plcc"] == pytest.approx(stats.pearsonr([1, 2, 3, 4], [1.5, 2.0, 3.5, 4.5]).statistic)


def test_rouge1_hand_counts():
    # reference: the cat sat on the mat (6); generated: the cat was on the mat today (7); overlap 5
    (p, r, f), = metrics.rouge1(["The cat sat on the mat"], ["the CAT was on the mat today"])
    assert p == pytest.approx(5 / 7) and r == pytest.approx(5 / 6)
    assert f == pytest.approx(2 * p * r / (p + r))


def test_rouge1_equals_rouge_score_and_stemming_is_optional():
    from rouge_score import rouge_scorer

    refs = ["Blurry photo of two cats, dark background.", "Sharp, well exposed landscape", ""]
    gens = ["The cats are blurry and the background is dark", "a sharp landscape photo", "anything"]
    got = metrics.rouge1(refs, gens)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    for row, ref, gen in zip(got, refs, gens):
        s = scorer.score(ref.lower(), gen.lower())["rouge1"]
        assert tuple(row) == pytest.approx((s.precision, s.recall, s.fmeasure))
    assert metrics.rouge1(["cats running"], ["cat run"])[0, 2] == 0.0
    assert metrics.rouge1(["cats running"], ["cat run"], stem=True)[0, 2] == pytest.approx(1.0)
