"""bench/bench_pairs.py without a model: the table from numbers given by hand, which budgets a folder
gets, the labels reader, and that bad input is one line and exit 2 before any model loads. Nothing is
timed here (the bench measures; tests check what it computes from what it measured)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from qassess.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_pairs", ROOT / "bench" / "bench_pairs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_table_ratios_bias_and_notes(bench):
    rows = [
        bench.Row("rating", "-", None, 10, 10, 10, 0.5, 1.0, prompts=10, images=10, calls=2, wall=4.0),
        bench.Row("ratings", "2n", 20, 20, 20, 10, 0.4, 0.9, prompts=10, images=10, calls=5, wall=6.0,
                  note="its ratings equal (a)'s on 10 of 10 images"),
        bench.Row("pair", "1n", 10, 8, 10, 10, None, 0.25, prompts=20, images=40, calls=3, wall=10.0, flips=2,
                  both=8),
        bench.Row("pair", "2n", 20, 0, 20, 0, None, None, prompts=40, images=80, calls=5, wall=20.0, flips=0,
                  both=0, note="no usable verdicts to rank"),
        bench.Row("rating", "again", None, 10, 10, 10, 0.5, 1.0, prompts=10, images=10, calls=2, wall=5.0,
                  note="its ratings equal (a)'s on 10 of 10 images"),
    ]
    lines = bench.markdown(rows, 10).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:7]]
    assert cells[0][:9] == ["absolute rating (`score`)", "-", "-", "10/10 (100%)", "10/10", "0.500", "1 (itself)",
                            "10 (10)", "1.00x"]
    assert cells[1][6:] == ["0.900", "10 (10)", "1.00x", "5", "6.0", "1.50x", "none (each image rated alone)"]
    assert cells[2][3] == "8/10 (80%)" and cells[2][5] == "n/a"
    assert cells[2][7:] == ["20 (40)", "2.00x", "3", "10.0", "2.50x", "2/8 (25%)"]
    assert cells[3][-1] == "n/a (no pair parsed in both orders)" and cells[3][4] == "0/10"
    assert cells[4][:2] == ["the same, run again last", "-"] and cells[4][6] == "1.000" and cells[4][-2] == "1.25x"
    assert lines[-3:] == ["- `pairs --ask ratings` 2n: its ratings equal (a)'s on 10 of 10 images",
                          "- `pairs --ask pair` 2n: no usable verdicts to rank",
                          "- the same, run again last: its ratings equal (a)'s on 10 of 10 images"]


def test_budgets_distinct_and_all_pairs_for_small_n(bench):
    # 15 images: 8n = 120 is capped at the 105 pairs there are, which "all" asks (the design cannot)
    assert bench.budgets_for(15, ["1n", "2n", "4n", "8n"], 20) == ["1n", "2n", "4n", "all"]
    assert bench.budgets_for(40, ["1n", "2n", "4n", "8n"], 20) == ["1n", "2n", "4n", "8n"]
    assert bench.budgets_for(40, ["1n", "40"], 20) == ["1n"]  # 40 pairs is 1n again


def test_labels_relative_to_the_folder_first_rows(bench, tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    for name in "abcd":
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / f"{name}.png")
    (tmp_path / "labels.csv").write_text("image,mos\nimages/a.png,1\nimages/b.png,2.5\nimages/c.png,3\n"
                                         "images/d.png,4\n")
    got = bench.read_labels(tmp_path, 3)
    assert got == [(str(tmp_path / "images" / f"{n}.png"), m) for n, m in zip("abc", (1.0, 2.5, 3.0))]
    (tmp_path / "labels.csv").write_text("image,mos\nimages/a.png,1\nimages/b.png,2\nimages/gone.png,3\n")
    with pytest.raises(UserError, match="no such image"):
        bench.read_labels(tmp_path, None)
    (tmp_path / "labels.csv").write_text("image,score\nimages/a.png,1\n")
    with pytest.raises(UserError, match="columns image and mos"):
        bench.read_labels(tmp_path, None)


def test_bad_input_is_one_line_and_exit_2(bench, tmp_path, capsys):
    assert bench.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no labels.csv" in err and err.count("\n") == 1
    assert bench.main([str(tmp_path), "--asks", "pair,guess"]) == 2
    assert "--asks" in capsys.readouterr().err
