"""`qassess eval` end to end: two tiny datasets in their released layouts (KonIQ's CSV split, LIVE's
dmos.mat, a DMOS dataset and a partial copy) scored by the embedded default model on the transformers
backend; the table equals `qassess compare` run by hand on each dataset, `--preds` rebuilds it, a rerun
resumes; the table's columns, average and notes on hand-made rows."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import fake_datasets as fake
from qassess import models
from qassess.cli import app
from qassess.evaluate import suite

RUNNER = CliRunner()


def invoke(*args):
    result = RUNNER.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output  # stdout and stderr, as a terminal shows them


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("iqa")
    fake.koniq(root, n=5, test=3)
    fake.live(root, every=260)  # 3 of LIVE's 779 distorted images are in this copy
    out = root / "results"
    code, text = invoke("eval", "--datasets", "koniq,live", "--root", root, "-o", out, "--backend", "transformers",
                        "--max-new-tokens", "64")
    return root, out, code, text


def test_eval_scores_each_dataset_and_writes_the_table(suite_run):
    root, out, code, text = suite_run
    assert code == 0, text
    assert "live: 776 of 779 labelled images are missing" in text
    for name, n in (("koniq", 3), ("live", 3)):
        rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        assert len(rows) == n and {r["model"] for r in rows} == {models.DEFAULT_ID}
        assert all(r["status"] == "ok" and 1 <= r["rating"] <= 5 for r in rows)  # real ratings of the model
        assert (out / f"{name}.manifest.json").is_file() and (out / f"{name}.compare.json").is_file()
    table = json.loads((out / "table.json").read_text())
    assert [r["dataset"] for r in table["datasets"]] == ["koniq", "live"]
    live = table["datasets"][1]
    assert live["direction"] == "lower" and live["labels"] == 779 and live["missing_images"] == 776
    assert any("Lower is better in live" in n for n in table["notes"])
    md = (out / "table.md").read_text()
    assert "| **AVG** |" in md and "Paper style (PLCC / SRCC):" in md and f"| {models.DEFAULT_ID} |" in md
    assert "\\begin{tabular}" in (out / "table.tex").read_text()
    assert list(pd.read_csv(out / "table.csv")["dataset"]) == ["koniq", "live", "AVG"]


def test_table_equals_compare_run_by_hand(suite_run):
    root, out, code, _ = suite_run
    table = json.loads((out / "table.json").read_text())
    for row in table["datasets"]:
        name = row["dataset"]
        args = ["compare", out / f"{name}.jsonl", f"{name}={out / (name + '.labels.csv')}", "--json", "-", "-q"]
        if row["direction"] == "lower":
            args += ["--lower-better-for", name]
        result = RUNNER.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        by_hand = json.loads(result.stdout[result.stdout.index("{"):])["groups"][name]
        for key in ("n", "plcc", "srcc", "krcc"):
            assert row[key] == by_hand[key], (name, key)
        assert row["expected_srcc"] == by_hand["expected"]["srcc"]
    values = [r["srcc"] for r in table["datasets"] if r["srcc"] is not None]
    assert table["average"]["srcc"] == (pytest.approx(sum(values) / len(values)) if values else None)


def test_preds_rebuilds_the_same_table_and_a_rerun_resumes(suite_run, tmp_path):
    root, out, code, _ = suite_run
    code, text = invoke("eval", "--preds", out, "-o", tmp_path)
    assert code == 0, text
    assert json.loads((tmp_path / "table.json").read_text()) == json.loads((out / "table.json").read_text())
    assert (tmp_path / "table.md").read_text() == (out / "table.md").read_text()
    before = (out / "koniq.jsonl").read_text()
    code, text = invoke("eval", "--datasets", "koniq,live", "--root", root, "-o", out, "--backend", "transformers",
                        "--max-new-tokens", "64")
    assert code == 0 and text.count("nothing left to score") == 2, text
    assert (out / "koniq.jsonl").read_text() == before


def _rows(labels: pd.DataFrame, ratings, **extra) -> str:
    return "".join(json.dumps({"path": p, "status": "ok", "rating": r, **{k: v[i] for k, v in extra.items()}}) + "\n"
                   for i, (p, r) in enumerate(zip(labels["path"], ratings)))


def test_table_columns_average_and_failed_dataset(tmp_path):
    """Hand-made outputs: expected and caption-only columns, the AVG over datasets, a dataset whose
    output is missing shown without numbers (and a non-zero exit)."""
    fake.tid2013(tmp_path, n=5)
    fake.agiqa3k(tmp_path, n=4)
    planned = suite.plan(["tid2013", "agiqa3k"], [str(tmp_path)])
    out = tmp_path / "out"
    out.mkdir()
    for p in planned:
        p.labels.frame[["image", "path", "mos"]].to_csv(out / f"{p.name}.labels.csv", index=False)
    (out / suite.SUITE_FILE).write_text(json.dumps({"datasets": [p.record() for p in planned], "model": "m"}))
    tid = pd.read_csv(out / "tid2013.labels.csv")
    (out / "tid2013.jsonl").write_text(_rows(tid, [1, 2, 3, 4, 5], rating_expected=[1.2, 2.1, 2.9, 4.4, 4.6],
                                             self_check_rating=[2, 1, 3, 5, 4]))
    table = suite.build_table(out, out_dir=out)
    tid_row, agiqa = table.rows
    assert agiqa["error"] == "no agiqa3k.jsonl (not scored yet)" and table.average["datasets"] == 1
    assert tid_row["self_check_srcc"] is not None and tid_row["expected_srcc"] is not None
    assert [h for _, h in table.columns()] == ["PLCC", "SRCC", "PLCC expected", "SRCC expected",
                                                "PLCC caption-only", "SRCC caption-only"]
    assert table.average["srcc"] == tid_row["srcc"]
    code, text = invoke("eval", "--preds", out, "-o", out)
    assert code == 1 and "agiqa3k: no metrics: no agiqa3k.jsonl" in text


def test_eval_bad_input_is_one_line(tmp_path):
    fake.koniq(tmp_path)
    for args, message in (
        (["--datasets", "koniq,nosuch", "--root", tmp_path], "unknown dataset 'nosuch'"),
        (["--datasets", "koniq", "--root", tmp_path / "void"], "is not a folder"),
        (["--datasets", "csiq", "--root", tmp_path], "no folder named CSIQ"),
        (["--datasets", "koniq", "--root", tmp_path, "--split", "koniq=val"], "koniq has no split 'val'"),
        (["--datasets", "koniq", "--root", tmp_path, "--split", "livec=all"], "not in --datasets"),
        (["--preds", tmp_path], "holds no eval.json"),
        ([], "name the datasets"),
    ):
        code, text = invoke("eval", *args, "-o", tmp_path / "o")
        assert code == 2 and message in text, (args, text)
        assert "Traceback" not in text
