"""`compare --baseline`: the paired bootstrap of a difference against a hand computation, and the
command line (pairing on the images both files rated, the outputs, the one-line errors)."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from qassess.cli import app
from qassess.evaluate.compare import compare, to_markdown
from qassess.evaluate.compare.paired import paired_bootstrap
from test_compare import MOS, NAMES, PRED, koniq_csv, qassess_rows, write_csv

GT = [1.0, 2.0, 3.0, 4.0, 5.0]
A = [1.1, 2.3, 2.9, 4.2, 4.8]
B = [2.0, 1.0, 3.0, 5.0, 4.0]


def pearson_by_hand(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else math.nan


def test_point_estimates_by_hand():
    srcc = paired_bootstrap(A, B, GT, "srcc", 10, seed=0)
    # A ranks the images as GT does (rho 1); B swaps two pairs: d = 1,-1,0,1,-1, rho = 1 - 6*4/(5*24) = 0.8
    assert (srcc["new"], srcc["baseline"]) == (pytest.approx(1.0), pytest.approx(0.8))
    assert srcc["difference"] == pytest.approx(0.2) and srcc["n"] == 5
    plcc = paired_bootstrap(A, B, GT, "plcc", 10, seed=0)
    assert plcc["difference"] == pytest.approx(pearson_by_hand(A, GT) - pearson_by_hand(B, GT))  # 0.9903 - 0.8


@pytest.mark.parametrize("metric", ["plcc", "srcc"])
def test_interval_equals_the_resamples_done_by_hand(metric):
    n, seed = 6, 7
    draws = np.random.default_rng(seed).integers(0, 5, size=(n, 5))  # the documented draw
    diffs = []
    for rows in draws:
        pick = lambda v: [v[i] for i in rows]
        if metric == "plcc":
            diffs.append(pearson_by_hand(pick(A), pick(GT)) - pearson_by_hand(pick(B), pick(GT)))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a constant resample: scipy warns and returns NaN
                diffs.append(stats.spearmanr(pick(A), pick(GT)).statistic - stats.spearmanr(pick(B), pick(GT)).statistic)
    defined = [d for d in diffs if math.isfinite(d)]
    out = paired_bootstrap(A, B, GT, metric, n, seed=seed)
    assert out["ci"] == pytest.approx(list(np.percentile(defined, [2.5, 97.5])))
    assert out["undefined_resamples"] == n - len(defined)


def test_resamples_with_a_constant_side_are_counted_not_used():
    gt = [1.0, 1.0, 1.0, 2.0]  # a resample without the last image has constant ground truth
    n, seed = 40, 3
    draws = np.random.default_rng(seed).integers(0, 4, size=(n, 4))
    constant = int(sum((rows != 3).all() or (rows == 3).all() for rows in draws))
    assert constant > 0
    out = paired_bootstrap([1, 2, 3, 4], [4, 3, 2, 5], gt, "plcc", n, seed=seed)
    assert out["undefined_resamples"] == constant and out["ci"][0] is not None


def test_same_predictions_differ_by_exactly_zero():
    out = paired_bootstrap(A, A, GT, "srcc", 50, seed=1)
    assert out["difference"] == 0.0 and out["ci"] == [0.0, 0.0]


@pytest.mark.parametrize("args, message", [
    (([1, 2], [1, 2, 3], [1, 2, 3], "plcc", 5), "equal length"),
    ((A, B, GT, "krcc", 5), "unknown metric"),
    ((A, B, GT, "plcc", 0), "positive"),
])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(*args)


# --- compare --baseline ------------------------------------------------------------------------------


def files(tmp_path, base_names=NAMES[10:]):
    """New predictions of all 60 images (with a caption-only rating), a noisier baseline of the last 50
    under full paths where the new file has stems (the join differs; the images are the same)."""
    rng = np.random.default_rng(5)
    base_pred = np.round(MOS + rng.normal(0, 0.9, len(MOS)), 2)
    self_check = np.round(MOS + rng.normal(0, 0.6, len(MOS)), 2)
    new = write_csv(tmp_path / "new.csv", qassess_rows(self_check=list(self_check)))
    keep = [NAMES.index(n) for n in base_names]
    base_rows = qassess_rows([NAMES[i] for i in keep], base_pred[keep], self_check=list(MOS[keep] + 0.3))
    base = write_csv(tmp_path / "base.csv", [{**r, "id": r["path"]} for r in base_rows])
    return new, base, koniq_csv(tmp_path / "gt.csv"), base_pred, self_check


def test_cli_reports_the_difference_on_the_shared_images(tmp_path):
    new, base, gt, base_pred, self_check = files(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(new), str(gt), "--baseline", str(base), "--bootstrap", "300",
                                      "--seed", "4", "--json", str(tmp_path / "m.json"),
                                      "--markdown", str(tmp_path / "m.md")])
    assert result.exit_code == 0, result.output
    paired = json.loads((tmp_path / "m.json").read_text())["paired"]
    assert paired["rows_paired"] == 50 and paired["rows_new"] == 60 and paired["n_resamples"] == 300
    entry = paired["groups"]["gt"]
    assert set(entry) == {"plcc", "srcc", "self_check_srcc"}
    shared = slice(10, 60)
    expected_srcc = stats.spearmanr(PRED[shared], MOS[shared]).statistic - stats.spearmanr(base_pred[shared],
                                                                                          MOS[shared]).statistic
    assert entry["srcc"]["difference"] == pytest.approx(expected_srcc) and entry["srcc"]["n"] == 50
    assert entry["srcc"]["ci"] == pytest.approx(
        paired_bootstrap(PRED[shared], base_pred[shared], MOS[shared], "srcc", 300, seed=4)["ci"])
    assert entry["self_check_srcc"]["difference"] == pytest.approx(
        stats.spearmanr(self_check[shared], MOS[shared]).statistic - 1.0)  # the baseline's is MOS + 0.3
    assert entry["plcc"]["ci"][0] > 0  # the baseline is much noisier: new is better beyond noise
    assert "New - baseline on the same images" in result.stdout and "caption SRCC" in result.stdout
    md = (tmp_path / "m.md").read_text()
    assert "| gt | SRCC | 50 |" in md and "the 50 images rated by both files" in md


def test_lower_better_ground_truth_keeps_agreement_positive(tmp_path):
    new, base, _, base_pred, _ = files(tmp_path)
    dmos = koniq_csv(tmp_path / "dmos.csv", NAMES, 6 - MOS)
    report = compare(new, dmos, baseline=base, bootstrap=50, lower_better=True)
    srcc = report.paired["groups"]["dmos"]["srcc"]
    assert srcc["new"] == pytest.approx(stats.spearmanr(PRED[10:], MOS[10:]).statistic)  # oriented as compare
    assert srcc["baseline"] == pytest.approx(report_srcc(base_pred[10:], MOS[10:]))


def report_srcc(pred, mos):
    return stats.spearmanr(pred, mos).statistic


def test_with_a_fit_plcc_compares_each_files_fitted_values(tmp_path):
    new, base, gt, _, _ = files(tmp_path, base_names=NAMES)  # every image in both: the reports' own rows
    report = compare(new, gt, baseline=base, bootstrap=50, fit="logistic4")
    baseline_alone = compare(base, gt, fit="logistic4")
    plcc = report.paired["groups"]["gt"]["plcc"]
    assert plcc["new"] == pytest.approx(report.groups["gt"]["plcc"])
    assert plcc["baseline"] == pytest.approx(baseline_alone.groups["gt"]["plcc"])
    assert plcc["new"] != pytest.approx(report.groups["gt"]["plcc_raw"])  # the mapping was applied
    assert report.paired["plcc_on"].startswith("fitted")


def test_several_groups_get_a_pooled_row(tmp_path):
    new, base, _, base_pred, _ = files(tmp_path)
    koniq_csv(tmp_path / "a.csv", NAMES[:30], MOS[:30])
    koniq_csv(tmp_path / "b.csv", NAMES[30:], MOS[30:])
    gt = {"a": tmp_path / "a.csv", "b": tmp_path / "b.csv"}
    paired = compare(new, gt, baseline=base, bootstrap=50).paired
    assert list(paired["groups"]) == ["a", "b", "pooled"]
    assert [paired["groups"][g]["srcc"]["n"] for g in ("a", "b", "pooled")] == [20, 30, 50]
    assert paired["groups"]["pooled"]["srcc"]["difference"] == pytest.approx(
        report_srcc(PRED[10:], MOS[10:]) - report_srcc(base_pred[10:], MOS[10:]))


def test_markdown_without_baseline_has_no_paired_table(tmp_path):
    new, _, gt, _, _ = files(tmp_path)
    assert "New - baseline" not in to_markdown(compare(new, gt))


@pytest.mark.parametrize("case, message", [
    ("missing", "--baseline: no such file or folder"),
    ("disjoint", "--baseline: no image has a usable rating in both files"),
    ("unmatched", "--baseline: gt: no prediction matches a ground-truth id"),
])
def test_cli_bad_baseline_is_one_line_and_exit_2(tmp_path, case, message):
    new, base, gt, _, _ = files(tmp_path)
    if case == "missing":
        base = tmp_path / "nope.csv"
    elif case == "disjoint":
        new = write_csv(tmp_path / "new.csv", qassess_rows(NAMES[:10], PRED[:10]))
    else:
        base = write_csv(tmp_path / "base.csv", qassess_rows(["x1.jpg", "x2.jpg", "x3.jpg"], [1, 2, 3]))
    result = CliRunner().invoke(app, ["compare", str(new), str(gt), "--baseline", str(base)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), lines


def test_drawing_in_chunks_gives_the_same_resamples(monkeypatch):
    """Large inputs are resampled a block of resamples at a time; the interval must not depend on it."""
    from qassess.evaluate.compare import paired

    x = np.arange(9.0)
    a, b = x + np.random.default_rng(0).normal(0, 2, 9), x + np.random.default_rng(1).normal(0, 4, 9)
    whole = paired_bootstrap(a, b, x, "srcc", 25, seed=2)
    monkeypatch.setattr(paired, "_CELLS", 9 * 4)  # 4 resamples per block, the last one short
    assert paired_bootstrap(a, b, x, "srcc", 25, seed=2) == whole
