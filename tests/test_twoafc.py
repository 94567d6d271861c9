"""2AFC accuracy of pair verdicts against human choices (qassess.evaluate.compare.twoafc and `compare`):
numbers computed by hand, pairs matched in either order, failures counted and never a coin flip, and
pair-derived scores going the ordinary score way."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qassess.cli.app import app
from qassess.errors import UserError
from qassess.evaluate.compare import compare
from qassess.evaluate.compare import twoafc

HUMAN = pd.DataFrame({
    "a": ["x.png", "y.png", "z.png", "w.png", "v.png"],
    "b": ["y.png", "z.png", "x.png", "x.png", "w.png"],
    "p_a": [0.8, None, 0.25, None, 0.6],
    "winner": [None, "a", None, "b", None],
})
# as `qassess pairs` writes them: full paths, some pairs the other way round, one failed verdict
VERDICTS = pd.DataFrame({
    "a": ["/run/p/y.png", "/run/p/y.png", "/run/p/x.png", "/run/p/w.png"],
    "b": ["/run/p/x.png", "/run/p/z.png", "/run/p/z.png", "/run/p/x.png"],
    "winner": ["b", "tie", "a", None],
    "p_a": [0.1, 0.5, 0.9, None],
    "position_flip": [0, 1, 0, None],
    "status": ["ok", "ok", "ok", "parse_error"],
    "error": [None, None, None, "order ab: the answer names neither image"],
})


def _group(failures="exclude", verdicts=VERDICTS, human=HUMAN, duplicates="first"):
    model = twoafc.model_verdicts(verdicts, "v")
    return twoafc.score_group("g", model, twoafc.human_choices(human, "h"), failures=failures,
                              duplicates=duplicates, bootstrap=200, seed=0, source="v")


def test_agreement_counts_ties_half_and_follows_the_human_share():
    got = twoafc.agreement(np.array([1.0, 0.8, 0.5, 0.3, 0.9]), np.array([1.0, 0.0, 0.5, 1.0, 0.5]))
    assert got.tolist() == pytest.approx([1.0, 0.2, 0.5, 0.3, 0.5])


def test_accuracy_by_hand_with_pairs_in_either_order():
    metrics, rows, info = _group()
    # (x,y): model picks x = a, 0.8 agree; (y,z): tie, 1/2; (z,x): model picks x = b, 1 - 0.25; (w,x) failed
    assert metrics["accuracy"] == pytest.approx((0.8 + 0.5 + 0.75) / 3)
    assert metrics["n"] == 3 and metrics["rows"]["failed"] == {"parse_error": 1}
    assert metrics["rows"]["failures_excluded"] == 1
    assert metrics["position_flip_rate"] == pytest.approx(1 / 3) and metrics["position_flip_n"] == 3
    assert info["match_by"] == "name" and info["matched"] == 4 and info["unmatched_gt"] == 1
    shown = rows.set_index("a")
    assert shown.loc["z.png", "model_pick"] == "b" and shown.loc["x.png", "model_pick"] == "a"
    assert shown.loc["w.png", "excluded"] == "failed verdict" and not shown.loc["w.png", "used"]
    assert metrics["ci_low"] <= metrics["accuracy"] <= metrics["ci_high"]


def test_failures_worst_scores_the_worse_answer_and_error_refuses():
    metrics, _, _ = _group("worst")
    assert metrics["accuracy"] == pytest.approx((0.8 + 0.5 + 0.75 + 0.0) / 4) and metrics["n"] == 4
    with pytest.raises(UserError, match="1 matched verdicts failed"):
        _group("error")


def test_human_rows_of_one_pair_are_pooled_and_model_duplicates_keep_the_usable_one():
    human = pd.DataFrame({"a": ["x.png", "y.png", "x.png"], "b": ["y.png", "x.png", "y.png"],
                          "winner": ["a", "a", "a"]})
    verdicts = pd.DataFrame({"a": ["x.png", "y.png"], "b": ["y.png", "x.png"], "winner": [None, "b"],
                             "status": ["generation_error", "ok"]})
    metrics, rows, info = _group(verdicts=verdicts, human=human)
    # people: x over y twice, y over x once -> h = 2/3; the model's usable verdict picks x
    assert rows["human_p_a"].iloc[0] == pytest.approx(2 / 3) and rows["votes"].iloc[0] == 3
    assert metrics["accuracy"] == pytest.approx(2 / 3) and metrics["rows"]["failed"] == {}
    assert info["pooled_gt_rows"] == 2 and info["duplicate_pred_rows"] == 1
    with pytest.raises(UserError, match="duplicated pair verdicts"):
        _group(verdicts=verdicts, human=human, duplicates="error")


def test_bootstrap_interval_is_seeded_and_degenerate_when_all_agree():
    values = np.array([1.0, 0.0, 1.0, 0.5, 0.8, 0.2])
    first = twoafc.bootstrap_interval(values, 500, seed=3)
    assert first == twoafc.bootstrap_interval(values, 500, seed=3) and first[0] < values.mean() < first[1]
    assert twoafc.bootstrap_interval(np.ones(5), 300, seed=0) == [1.0, 1.0]


def test_folders_beat_file_names_when_names_repeat():
    """BAPPS names every patch 000000.png in its p0/ and p1/ folders: the folder level tells them apart."""
    human = pd.DataFrame({"a": ["p0/000.png", "p0/001.png"], "b": ["p1/000.png", "p1/001.png"], "p_a": [0.9, 0.2]})
    verdicts = pd.DataFrame({"a": ["/d/p1/000.png", "/d/p0/001.png"], "b": ["/d/p0/000.png", "/d/p1/001.png"],
                             "winner": ["b", "b"]})
    metrics, _, info = _group(verdicts=verdicts, human=human)
    assert info["match_by"] == "parent/name" and metrics["accuracy"] == pytest.approx((0.9 + 0.8) / 2)


@pytest.mark.parametrize("human, why", [
    (pd.DataFrame({"a": ["x"], "b": ["y"], "winner": ["left"]}), "is not a, b or tie"),
    (pd.DataFrame({"a": ["x"], "b": ["y"], "p_a": [1.5]}), "is not a share between 0 and 1"),
    (pd.DataFrame({"a": ["x"], "b": ["y"], "p_a": [None]}), "has no choice"),
])
def test_bad_human_tables_are_one_line_errors(human, why):
    with pytest.raises(UserError, match=why):
        twoafc.human_choices(human, "h.csv")


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_reports_2afc_and_refuses_what_does_not_fit(tmp_path):
    verdicts = tmp_path / "verdicts.jsonl"
    VERDICTS.to_json(verdicts, orient="records", lines=True)
    human = tmp_path / "human_2afc.csv"
    HUMAN.to_csv(human, index=False)
    rows = tmp_path / "rows.csv"
    result = _cli("compare", verdicts, human, "--json", tmp_path / "r.json", "--rows", rows, "--bootstrap", 300)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["accuracy"] == pytest.approx((0.8 + 0.5 + 0.75) / 3)
    assert report["settings"]["kind"] == "2afc" and report["settings"]["bootstrap"]["n_resamples"] == 300
    assert "2AFC agreement" in result.output and "1 of 5 human pairs have no verdict" in result.output
    assert len(pd.read_csv(rows)) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,winner\nx.png,y.png,maybe\n")
    result = _cli("compare", verdicts, bad)
    assert result.exit_code == 2 and "is not a, b or tie" in result.output
    result = _cli("compare", verdicts, human, "--fit", "logistic4")
    assert result.exit_code == 2 and "--fit apply to scores" in result.output
    mos = tmp_path / "mos.csv"
    mos.write_text("image,mos\nx.png,3\ny.png,2\nz.png,4\n")
    result = _cli("compare", verdicts, mos)
    assert result.exit_code == 2 and "holds pair verdicts" in result.output
    result = _cli("compare", verdicts, human, mos)
    assert result.exit_code == 2 and "mixes human-choice tables" in result.output


def test_scores_from_pairs_go_the_score_way(tmp_path):
    """`qassess rank` (and `pairs ./photos`, which writes the same table) against a MOS table: SRCC as usual."""
    mos = {f"img{k}.png": float(k) for k in range(8)}
    verdicts = tmp_path / "v.csv"
    names = list(mos)
    pd.DataFrame([{"a": f"/photos/{x}", "b": f"/photos/{y}", "winner": "a" if mos[x] > mos[y] else "b"}
                  for i, x in enumerate(names) for y in names[i + 1:]]).to_csv(verdicts, index=False)
    scores = tmp_path / "scores.csv"
    assert _cli("rank", verdicts, "-o", scores).exit_code == 0
    gt = tmp_path / "mos.csv"
    pd.DataFrame({"image": names, "mos": list(mos.values())}).to_csv(gt, index=False)
    report = compare(scores, gt)
    assert report.overall["n"] == 8 and report.overall["srcc"] == pytest.approx(1.0)


def test_several_human_tables_are_groups_pooled_and_averaged():
    report = compare(VERDICTS, {"one": HUMAN, "two": HUMAN.iloc[:1]}, bootstrap=100)
    assert report.groups["two"]["accuracy"] == pytest.approx(0.8)
    assert report.overall["accuracy"] == pytest.approx((0.8 + 0.5 + 0.75 + 0.8) / 4) and report.overall["n"] == 4
    assert report.average["accuracy"] == pytest.approx(((0.8 + 0.5 + 0.75) / 3 + 0.8) / 2)
    assert report.overall["position_flip_rate"] == pytest.approx(1 / 4)
