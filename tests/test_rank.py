"""Scores from pairwise verdicts: Bradley-Terry / Thurstone recover known orders, agree with choix on the
data choix takes, honour ties, soft outcomes and anchors; `qassess rank` on a verdict table."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from qassess.cli.app import app
from qassess.errors import UserError
from qassess.pairwise.rank import Verdict, fit, read_verdicts, win_probability

TRUE = np.linspace(-2.0, 2.0, 12)
IDS = [f"img{k:02d}" for k in range(len(TRUE))]


def simulate(model: str, n: int, seed: int = 0) -> list[Verdict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i, j = rng.choice(len(TRUE), 2, replace=False)
        won = rng.random() < win_probability(TRUE[i] - TRUE[j], model)
        out.append(Verdict(IDS[i], IDS[j], float(won)))
    return out


@pytest.mark.parametrize("model", ["bradley-terry", "thurstone"])
def test_recovers_the_order_of_known_scores(model):
    result = fit(simulate(model, 600), model=model)
    by_id = dict(zip(result.ids, result.score))
    rho = spearmanr(TRUE, [by_id[i] for i in IDS]).statistic
    assert rho > 0.95
    # the intervals cover the truth (centred) for most items at 95 %
    truth = TRUE - TRUE.mean()
    inside = [lo <= truth[IDS.index(i)] <= hi for i, lo, hi in zip(result.ids, result.low, result.high)]
    assert sum(inside) >= 9


def test_matches_choix_on_hard_verdicts():
    import choix  # pinned in requirements/cpu.txt: the reference implementation
    verdicts = simulate("bradley-terry", 300, seed=1)
    ours = fit(verdicts, prior=0.2, items=IDS)
    index = {x: k for k, x in enumerate(IDS)}
    data = [(index[v.a], index[v.b]) if v.p_a == 1 else (index[v.b], index[v.a]) for v in verdicts]
    theirs = choix.opt_pairwise(len(IDS), data, alpha=0.1)  # choix's penalty is alpha * |theta|^2
    assert np.allclose(ours.latent, theirs, atol=1e-5)


def test_ties_and_soft_outcomes():
    # a tie between two items that beat the same third one leaves them level
    ties = [Verdict("x", "y", 0.5)] * 4 + [Verdict("x", "z", 1.0), Verdict("y", "z", 1.0)] * 3
    r = dict(zip(*(lambda f: (f.ids, f.score))(fit(ties))))
    assert r["x"] == pytest.approx(r["y"], abs=1e-6) and r["x"] > r["z"]
    # p_a = 0.8 ten times says the same as 8 wins and 2 losses
    soft = fit([Verdict("u", "v", 0.8)] * 10)
    hard = fit([Verdict("u", "v", 1.0)] * 8 + [Verdict("u", "v", 0.0)] * 2)
    assert np.allclose(soft.latent, hard.latent)


def test_anchors_fix_the_scale():
    verdicts = simulate("bradley-terry", 800, seed=2)
    mos = {i: 3 + t for i, t in zip(IDS, TRUE)}  # the known scale: 1..5
    anchors = {i: mos[i] for i in (IDS[0], IDS[5], IDS[11])}
    result = fit(verdicts, anchors=anchors)
    assert result.scale == "anchored"
    got = dict(zip(result.ids, result.score))
    assert np.mean([abs(got[i] - mos[i]) for i in IDS]) < 0.5
    with pytest.raises(UserError, match="two anchors"):
        fit(verdicts, anchors={IDS[0]: 1.0})


def test_bad_verdicts_are_refused():
    with pytest.raises(UserError, match="no usable verdicts"):
        fit([])
    with pytest.raises(UserError, match="itself"):
        fit([Verdict("a", "a", 1.0)])


def test_read_verdicts_skips_failed_rows_and_reads_winner_or_p_a(tmp_path):
    table = tmp_path / "v.csv"
    table.write_text("a,b,winner,p_a,status\nx,y,a,,ok\ny,z,,0.25,ok\nx,z,tie,,\nz,x,,,parse_error\n")
    verdicts, notes = read_verdicts(table)
    assert [(v.a, v.b, v.p_a) for v in verdicts] == [("x", "y", 1.0), ("y", "z", 0.25), ("x", "z", 0.5)]
    assert any("1 verdict(s) whose status is not ok" in n for n in notes)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,winner\nx,y,maybe\n")
    with pytest.raises(UserError, match="without a usable winner"):
        read_verdicts(bad)


def test_rank_command(tmp_path):
    rows = [{"a": v.a, "b": v.b, "winner": "a" if v.p_a else "b"} for v in simulate("bradley-terry", 400, seed=3)]
    table = tmp_path / "human_2afc.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    anchors = tmp_path / "anchors.csv"
    anchors.write_text(f"id,score\n{IDS[0]},1\n{IDS[11]},5\n")
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["rank", str(table), "-o", str(out), "--anchor-scores", str(anchors)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    scores = pd.read_csv(out).set_index("id")
    assert list(scores.columns[:3]) == ["score", "ci_low", "ci_high"]
    assert spearmanr(TRUE, scores.loc[IDS, "score"]).statistic > 0.95
    assert (scores["ci_low"] < scores["score"]).all() and (scores["score"] < scores["ci_high"]).all()
    bad = CliRunner().invoke(app, ["rank", str(anchors)])
    assert bad.exit_code == 2 and "no column 'a'" in bad.output
