"""qassess.evaluate.compare and `qassess compare`: every input layout, the joins, the failure and duplicate
policies, groups, self-check, ROUGE-1 references, the outputs and the one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from qassess.evaluate import metrics
from qassess.cli import app
from qassess.evaluate.compare import compare, english_text, read_table, to_markdown, write_rows
from qassess.errors import UserError

# Hand-made files in the layouts of the published Q-Reasoning data (tests/data/q-reasoning-format/README.md)
SAMPLE = Path(__file__).parent / "data" / "q-reasoning-format"
RNG = np.random.default_rng(11)
NAMES = [f"{10000000 + 7919 * i}.jpg" for i in range(60)]
MOS = np.round(RNG.uniform(1.2, 4.8, len(NAMES)), 3)
PRED = np.round(MOS + RNG.normal(0, 0.4, len(NAMES)), 2)
STATUS = ["ok"] * 54 + ["parse_error"] * 4 + ["load_error"] * 2


def qassess_rows(names=NAMES, ratings=PRED, *, folder="imgs/koniq", status=None, self_check=None, captions=None):
    """Rows in the layout `qassess score` writes (every column, failures with an empty rating)."""
    rows = []
    for i, (name, rating) in enumerate(zip(names, ratings)):
        st = status[i] if status is not None else "ok"
        rows.append({
            "id": Path(name).stem, "path": f"{folder}/{name}", "mode": "image", "model": "tiny", "backend": "transformers",
            "template": "paper", "rating": None if st != "ok" else float(rating),
            "caption": captions[i][0] if captions else "a photo", "reasoning": captions[i][1] if captions else "it is fine",
            "raw": "<caption>...</caption>", "status": st, "error": "" if st == "ok" else "no <answer> block",
            "ratings": json.dumps([float(rating)]), "rating_std": 0.0,
            "self_check_rating": None if self_check is None else self_check[i],
            "self_check_gap": None, "pixels": 1000, "max_pixels": 1000})
    return rows


def write_csv(path: Path, rows) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_jsonl(path: Path, rows, tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


def koniq_csv(path: Path, names=NAMES, mos=MOS) -> Path:
    """KonIQ-10k's koniq10k_scores_and_distributions.csv layout (MOS on 1-5, MOS_zscore on 0-100)."""
    frame = pd.DataFrame({"image_name": names, "c1": 1, "c2": 2, "c3": 3, "c4": 4, "c5": 5, "c_total": 15,
                          "MOS": mos, "SD": 0.5, "MOS_zscore": (np.asarray(mos) - 1) * 25})
    frame.to_csv(path, index=False)
    return path


def expected(pred, gt):
    return stats.pearsonr(pred, gt).statistic, stats.spearmanr(pred, gt).statistic


# --- layouts ---------------------------------------------------------------------------------------


def test_qassess_csv_against_koniq_csv(tmp_path):
    preds = write_csv(tmp_path / "preds.csv", qassess_rows())
    report = compare(preds, koniq_csv(tmp_path / "koniq.csv"))
    g = report.groups["koniq"]
    plcc, srcc = expected(PRED, MOS)
    assert g["n"] == len(NAMES) and g["plcc"] == pytest.approx(plcc) and g["srcc"] == pytest.approx(srcc)
    assert g["krcc"] == pytest.approx(stats.kendalltau(PRED, MOS).statistic)
    assert g["rmse"] == pytest.approx(np.sqrt(np.mean((PRED - MOS) ** 2)))
    info = report.inputs["ground_truth"]["koniq"]
    assert info["score_col"] == "MOS" and info["id_col"] == "image_name" and info["match_by"] == "name"
    assert report.overall["plcc"] == g["plcc"] and report.average is None
    assert report.settings["plcc"] == "raw (no mapping)"


def test_qassess_jsonl_with_a_cut_last_line(tmp_path):
    preds = write_jsonl(tmp_path / "preds.jsonl", qassess_rows(), tail='{"id": "cut", "rati')
    report = compare(preds, koniq_csv(tmp_path / "gt.csv"))
    assert report.groups["gt"]["n"] == len(NAMES)
    assert any("partial last line" in w for w in report.warnings)


@pytest.mark.parametrize("cut", ["in the caption", "in the rating"])
def test_qassess_csv_with_a_torn_last_record(tmp_path, cut):
    two_lines = [("two\nlines", "ok")]
    rows = qassess_rows(captions=two_lines * len(NAMES)) + qassess_rows(["torn.jpg"], [4.5678], captions=two_lines)
    text = pd.DataFrame(rows).to_csv(index=False)
    torn = text.rindex("two\nli") + 6 if cut == "in the caption" else text.rindex("4.5678") + 3
    (tmp_path / "p.csv").write_text(text[:torn])  # a kill mid-write: no final newline
    report = compare(tmp_path / "p.csv", koniq_csv(tmp_path / "gt.csv"))
    assert report.inputs["predictions"]["rows"] == len(NAMES)
    assert report.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert any("partial last record" in w for w in report.warnings)


def test_a_bad_line_inside_jsonl_is_an_error(tmp_path):
    rows = qassess_rows()
    text = "".join(json.dumps(r) + "\n" for r in rows[:5]) + "{oops\n" + "".join(json.dumps(r) + "\n" for r in rows[5:])
    (tmp_path / "p.jsonl").write_text(text)
    with pytest.raises(UserError, match="line 6 is not valid JSON"):
        compare(tmp_path / "p.jsonl", koniq_csv(tmp_path / "gt.csv"))


def test_qalign_json_list_matches_by_full_path(tmp_path):
    gt = [{"id": f"koniq_{i}", "image": f"imgs/koniq/{n}", "gt_score": float(m),
           "conversations": [{"from": "human", "value": "<image>Rate"}, {"from": "gpt", "value": "good"}]}
          for i, (n, m) in enumerate(zip(NAMES, MOS))]
    (tmp_path / "test_koniq.json").write_text(json.dumps(gt))
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "test_koniq.json")
    info = report.inputs["ground_truth"]["test_koniq"]
    assert info["id_col"] == "image" and info["score_col"] == "gt_score" and info["match_by"] == "path"
    assert report.groups["test_koniq"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_scores_given_as_strings_and_img_path(tmp_path):
    gt = [{"img_path": f"CSIQ/dst_imgs/AWGN/{n}", "score": f"{m}"} for n, m in zip(NAMES, MOS)]
    (tmp_path / "csiq.json").write_text(json.dumps(gt))
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "csiq.json")
    assert report.groups["csiq"]["srcc"] == pytest.approx(expected(PRED, MOS)[1])


def test_qreasoning_layouts(tmp_path):
    # t_koniq / mixed_cot: image, quality (MOS 0-100), normalized_score (1-5): the 1-5 one is used
    rows = [{"image": n, "quality": float(m * 20), "normalized_score": float(m), "description": " ",
             "good_aspect": " ", "bad_aspect": " "} for n, m in zip(NAMES, MOS)]
    (tmp_path / "mixed_cot.json").write_text(json.dumps(rows))
    # filted_data_human_eng: a list of {image_name: {fields}}
    keyed = [{n: {"description": ["x"], "quality": float(m), "good_aspect": ["y"], "bad_aspect": ["z"]}}
             for n, m in zip(NAMES, MOS)]
    (tmp_path / "human_eng.json").write_text(json.dumps(keyed))
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    report = compare(preds, [tmp_path / "mixed_cot.json", tmp_path / "human_eng.json"])
    assert report.inputs["ground_truth"]["mixed_cot"]["score_col"] == "normalized_score"
    assert report.inputs["ground_truth"]["human_eng"]["score_col"] == "quality"
    for g in report.groups.values():
        assert g["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_semicolon_csv_with_decimal_commas(tmp_path):
    lines = ["Image name;MOS;Brightness"] + [f"{n};{str(m).replace('.', ',')};50,5" for n, m in zip(NAMES, MOS)]
    (tmp_path / "spaq.csv").write_text("\n".join(lines) + "\n")
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "spaq.csv")
    assert report.groups["spaq"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert report.inputs["ground_truth"]["spaq"]["id_col"] == "Image name"
    assert any("decimal mark ','" in w for w in report.warnings)


def test_headerless_name_score_text_file(tmp_path):
    (tmp_path / "pipal.txt").write_text("".join(f"{n},{m}\n" for n, m in zip(NAMES, MOS)))
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "pipal.txt")
    assert report.groups["pipal"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert "no header" in report.inputs["ground_truth"]["pipal"]["note"]


def test_json_mapping_of_image_to_score_and_plain_prediction_csv(tmp_path):
    (tmp_path / "gt.json").write_text(json.dumps({n: float(m) for n, m in zip(NAMES, MOS)}))
    pd.DataFrame({"filename": NAMES, "pred_score": [str(p) for p in PRED]}).to_csv(tmp_path / "p.csv", index=False)
    report = compare(tmp_path / "p.csv", tmp_path / "gt.json")
    assert report.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert report.inputs["predictions"]["score_col"] == "pred_score"


@pytest.mark.parametrize("orient", ["columns", "list", "split", "index", "records"])
def test_pandas_json_layouts(tmp_path, orient):
    frame = pd.DataFrame({"image": NAMES, "mos": MOS})
    if orient == "list":
        (tmp_path / "gt.json").write_text(json.dumps(frame.to_dict(orient="list")))
    else:
        frame.to_json(tmp_path / "gt.json", orient=orient)
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "gt.json")
    assert report.groups["gt"]["n"] == len(NAMES)
    assert report.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_dataframes_are_accepted(tmp_path):
    preds = pd.DataFrame({"image": NAMES, "score": PRED})
    report = compare(preds, {"koniq": pd.DataFrame({"image": NAMES, "mos": MOS})})
    assert report.groups["koniq"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_both_jsonl_readers_give_the_same_report(tmp_path, monkeypatch):
    import qassess.io.tables.jsonlike as tables

    rows = qassess_rows(status=STATUS, self_check=list(MOS))
    rows[3]["rating"] = str(rows[3]["rating"])  # a string among numbers: pyarrow refuses, json.loads does not
    preds = write_jsonl(tmp_path / "p.jsonl", rows, tail='{"id": "cut"')
    gt = koniq_csv(tmp_path / "gt.csv")
    mixed = compare(preds, gt).to_dict()
    clean = write_jsonl(tmp_path / "clean.jsonl", qassess_rows(status=STATUS, self_check=list(MOS)))
    fast = compare(clean, gt).to_dict()
    monkeypatch.setattr(tables, "_jsonl_arrow", lambda body, select: None)
    slow = compare(clean, gt).to_dict()
    for report in (fast, slow):
        report["inputs"]["predictions"].pop("source")
    assert fast == slow
    assert mixed["groups"]["gt"]["plcc"] == pytest.approx(fast["groups"]["gt"]["plcc"])


def test_jsonl_with_sparse_keys_numeric_ids_and_string_scores(tmp_path):
    rows = [{"image": int(Path(n).stem), "score": float(p)} for n, p in zip(NAMES, PRED)]
    for i, row in enumerate(rows):
        if i >= 40:
            row["self_check_rating"] = float(MOS[i])  # appears only in later records
    write_jsonl(tmp_path / "p.jsonl", rows)
    gt = [{"image": f"{Path(n).stem}.png", "mos": str(m)} for n, m in zip(NAMES, MOS)]
    write_jsonl(tmp_path / "g.jsonl", gt)
    report = compare(tmp_path / "p.jsonl", tmp_path / "g.jsonl")
    g = report.groups["g"]
    assert g["plcc"] == pytest.approx(expected(PRED, MOS)[0]) and report.inputs["ground_truth"]["g"]["match_by"] == "stem"
    assert g["self_check"]["n"] == 20 and g["self_check"]["missing"] == 40


def test_csv_with_multiline_quoted_captions_and_gzip(tmp_path):
    import gzip

    captions = [(f"line one; with a semicolon\nline two, {i}", "it is \"fine\"; really") for i in range(len(NAMES))]
    frame = pd.DataFrame(qassess_rows(captions=captions))
    with gzip.open(tmp_path / "p.csv.gz", "wt") as fh:
        frame.to_csv(fh, index=False)
    report = compare(tmp_path / "p.csv.gz", koniq_csv(tmp_path / "gt.csv"))
    assert report.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert not any("delimiter" in w for w in report.warnings)


def test_empty_binary_and_header_only_files(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="the file is empty"):
        compare(preds, tmp_path / "empty.csv")
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 50)
    with pytest.raises(UserError, match="not UTF-8 text"):
        compare(preds, tmp_path / "photo.csv")
    (tmp_path / "header.csv").write_text("image_name,MOS\n")
    with pytest.raises(UserError, match="no ground-truth rows"):
        compare(preds, tmp_path / "header.csv")
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    with pytest.raises(UserError, match="record 1 is int, not an object"):
        compare(preds, tmp_path / "list.json")


# --- joins -----------------------------------------------------------------------------------------


def test_join_by_stem_when_extensions_differ(tmp_path):
    pd.DataFrame({"id": [Path(n).stem for n in NAMES], "rating": PRED}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"image": [f"dist/{Path(n).stem}.png" for n in NAMES], "mos": MOS}).to_csv(tmp_path / "g.csv", index=False)
    report = compare(tmp_path / "p.csv", tmp_path / "g.csv")
    assert report.inputs["ground_truth"]["g"]["match_by"] == "stem"
    assert report.groups["g"]["n"] == len(NAMES)


def test_join_by_parent_folder_when_file_names_repeat(tmp_path):
    # LIVE-like: the same file names under each distortion folder, predictions under another root
    folders = ["jp2k", "jpeg", "wn"]
    ids = [f"{f}/img{i}.bmp" for f in folders for i in range(20)]
    pd.DataFrame({"path": [f"/data/live/{i}" for i in ids], "rating": PRED}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"image": ids[::-1], "dmos": MOS[::-1]}).to_csv(tmp_path / "live.csv", index=False)
    report = compare(tmp_path / "p.csv", tmp_path / "live.csv")
    info = report.inputs["ground_truth"]["live"]
    assert info["match_by"] == "parent/name" and info["matched"] == 60 and info["duplicate_pred_rows"] == 0
    assert report.groups["live"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    strict = compare(tmp_path / "p.csv", tmp_path / "live.csv", duplicates="error")  # names repeat, keys do not
    assert strict.groups["live"]["n"] == 60


def test_whitespace_separated_text_file(tmp_path):
    lines = ["image   dst_type  dmos"] + [f"{n}   awgn   {m:.4f}" for n, m in zip(NAMES, MOS)]
    (tmp_path / "csiq.txt").write_text("\n".join(lines) + "\n")
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "csiq.txt")
    assert report.inputs["ground_truth"]["csiq"]["score_col"] == "dmos"
    assert report.groups["csiq"]["plcc"] == pytest.approx(expected(PRED, np.round(MOS, 4))[0])


def test_unmatched_rows_are_counted_on_both_sides(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows(NAMES[:50], PRED[:50]) + qassess_rows(["extra.jpg"], [3.0]))
    report = compare(preds, koniq_csv(tmp_path / "gt.csv"))
    info = report.inputs["ground_truth"]["gt"]
    assert info["matched"] == 50 and info["unmatched_gt"] == 10
    assert report.inputs["predictions"]["unmatched"] == 1
    assert report.inputs["predictions"]["unmatched_examples"] == ["imgs/koniq/extra.jpg"]
    assert report.groups["gt"]["n"] == 50
    assert any("10 of 60 ground-truth rows have no prediction" in w for w in report.warnings)


def test_duplicates_first_usable_mean_or_error(tmp_path):
    rows = qassess_rows()
    dup_failed = qassess_rows(NAMES[:1], [9.9], status=["parse_error"])
    dup_ok = qassess_rows(NAMES[1:2], [PRED[1] + 1.0])
    preds = write_csv(tmp_path / "p.csv", dup_failed + rows + dup_ok)
    gt = koniq_csv(tmp_path / "gt.csv")
    first = compare(preds, gt)
    assert first.inputs["ground_truth"]["gt"]["duplicate_pred_rows"] == 2
    assert first.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])  # failed dup skipped, first ok kept
    mean = compare(preds, gt, duplicates="mean")
    averaged = PRED.copy()
    averaged[1] += 0.5
    assert mean.groups["gt"]["plcc"] == pytest.approx(expected(averaged, MOS)[0])
    with pytest.raises(UserError, match="2 duplicated prediction rows"):
        compare(preds, gt, duplicates="error")


def test_duplicated_ground_truth_rows_are_counted(tmp_path):
    koniq_csv(tmp_path / "gt.csv", NAMES + NAMES[:3], np.concatenate([MOS, MOS[:3] + 1]))
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "gt.csv")
    assert report.inputs["ground_truth"]["gt"]["duplicate_gt_rows"] == 3
    assert report.groups["gt"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_no_match_at_all_is_an_error(tmp_path):
    pd.DataFrame({"image": ["a.jpg", "b.jpg", "c.jpg"], "score": [1, 2, 3]}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(UserError, match="no prediction matches"):
        compare(tmp_path / "p.csv", koniq_csv(tmp_path / "gt.csv"))


# --- failures --------------------------------------------------------------------------------------



def test_failures_excluded_by_default_and_counted(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows(status=STATUS))
    g = compare(preds, koniq_csv(tmp_path / "gt.csv")).groups["gt"]
    assert g["n"] == 54 and g["rows"]["failed"] == {"parse_error": 4, "load_error": 2}
    assert g["rows"]["failures_excluded"] == 6
    assert g["plcc"] == pytest.approx(expected(PRED[:54], MOS[:54])[0])


def test_failures_scored_as_worst(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows(status=STATUS))
    g = compare(preds, koniq_csv(tmp_path / "gt.csv"), failures="worst").groups["gt"]
    imputed = np.concatenate([PRED[:54], np.ones(6)])
    assert g["n"] == 60 and g["rows"]["failures_scored_worst"] == 6
    assert g["plcc"] == pytest.approx(expected(imputed, MOS)[0])
    g0 = compare(preds, koniq_csv(tmp_path / "gt.csv"), failures="worst", worst_score=0.0).groups["gt"]
    assert g0["plcc"] == pytest.approx(expected(np.concatenate([PRED[:54], np.zeros(6)]), MOS)[0])


def test_failures_as_error(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows(status=STATUS))
    with pytest.raises(UserError, match=r"6 matched predictions failed \(parse_error 4, load_error 2\)"):
        compare(preds, koniq_csv(tmp_path / "gt.csv"), failures="error")


def test_missing_rating_without_status_column_is_a_failure(tmp_path):
    ratings = [str(p) for p in PRED]
    ratings[3] = ""
    pd.DataFrame({"image": NAMES, "score": ratings}).to_csv(tmp_path / "p.csv", index=False)
    g = compare(tmp_path / "p.csv", koniq_csv(tmp_path / "gt.csv")).groups["gt"]
    assert g["n"] == 59 and g["rows"]["failed"] == {"missing_rating": 1}


def test_nan_and_inf_are_excluded_and_counted(tmp_path):
    ratings = [str(p) for p in PRED]
    ratings[0] = "inf"
    mos = [str(m) for m in MOS]
    mos[1], mos[2] = "nan", ""
    pd.DataFrame({"image": NAMES, "score": ratings}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"image": NAMES, "mos": mos}).to_csv(tmp_path / "g.csv", index=False)
    report = compare(tmp_path / "p.csv", tmp_path / "g.csv")
    g = report.groups["g"]
    assert g["n"] == 57 and g["rows"]["pred_not_finite"] == 1 and g["rows"]["gt_not_finite"] == 2
    assert g["plcc"] == pytest.approx(expected(PRED[3:], MOS[3:])[0])
    rows = report.rows.set_index("id")
    assert rows.loc[NAMES[0], "excluded"] == "prediction not finite"
    assert rows.loc[NAMES[1], "excluded"] == "ground truth not finite"


# --- bad input -------------------------------------------------------------------------------------


def test_missing_column_lists_the_columns(tmp_path):
    pd.DataFrame({"image": NAMES, "foo": MOS, "bar": MOS}).to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(UserError, match="no ground-truth score column found .* columns are: image, foo, bar"):
        compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "g.csv")
    with pytest.raises(UserError, match=r"no column 'nope' \(--gt-col\); columns are: image, foo, bar"):
        compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "g.csv", gt_col="nope")
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "g.csv", gt_col="BAR")
    assert report.inputs["ground_truth"]["g"]["score_col"] == "bar"


def test_non_numeric_score_names_the_first_bad_row(tmp_path):
    mos = [str(m) for m in MOS]
    mos[7] = "good"
    pd.DataFrame({"image": NAMES, "mos": mos}).to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(UserError, match=rf"non-numeric score at row 8 \(id '{NAMES[7]}'\): 'good'"):
        compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "g.csv")


def test_fewer_than_three_rows_is_an_error(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows(NAMES[:2], PRED[:2]))
    with pytest.raises(UserError, match="only 2 usable matched rows"):
        compare(preds, koniq_csv(tmp_path / "gt.csv"))


@pytest.mark.parametrize("kwargs, message", [
    ({"fit": "cubic"}, "unknown --fit"), ({"failures": "ignore"}, "unknown --failures"),
    ({"duplicates": "last"}, "unknown --duplicates"), ({"lower_better": ["nope"]}, "unknown groups nope")])
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(UserError, match=message):
        compare(write_csv(tmp_path / "p.csv", qassess_rows()), koniq_csv(tmp_path / "gt.csv"), **kwargs)


def test_missing_file_and_unsupported_format(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        compare(tmp_path / "none.csv", tmp_path / "gt.csv")
    (tmp_path / "live.mat").write_bytes(b"MATLAB")
    with pytest.raises(UserError, match=r"\.mat files are not read"):
        compare(write_csv(tmp_path / "p.csv", qassess_rows()), tmp_path / "live.mat")


# --- fits, groups, direction ------------------------------------------------------------------------


def test_fit_is_reported_and_a_failed_fit_is_not_hidden(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    g = compare(preds, koniq_csv(tmp_path / "gt.csv"), fit="logistic4").groups["gt"]
    fit = metrics.fit_logistic(PRED, MOS, "logistic4")
    assert g["plcc_mapping"] == "logistic4" and g["fit"]["converged"]
    assert g["plcc"] == pytest.approx(metrics.plcc(fit.predict(PRED), MOS))
    assert g["plcc_raw"] == pytest.approx(expected(PRED, MOS)[0])
    flat = write_csv(tmp_path / "flat.csv", qassess_rows(ratings=np.full(len(NAMES), 3.0)))
    report = compare(flat, koniq_csv(tmp_path / "gt.csv"), fit="logistic4")
    assert report.groups["gt"]["plcc"] is None and report.groups["gt"]["fit"]["converged"] is False
    assert any("did not converge" in w for w in report.warnings)
    assert any("all used predictions are equal (3): correlations are undefined" in w for w in report.warnings)


def test_several_named_files_average_and_pooled_rows(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    koniq_csv(tmp_path / "a.csv", NAMES[:30], MOS[:30])
    koniq_csv(tmp_path / "b.csv", NAMES[30:], MOS[30:])
    report = compare(preds, [f"koniq={tmp_path / 'a.csv'}", f"spaq={tmp_path / 'b.csv'}"])
    assert list(report.groups) == ["koniq", "spaq"]
    a, b = expected(PRED[:30], MOS[:30]), expected(PRED[30:], MOS[30:])
    assert report.average["plcc"] == pytest.approx((a[0] + b[0]) / 2)
    assert report.average["srcc"] == pytest.approx((a[1] + b[1]) / 2)
    assert report.overall["pooled"] and report.overall["plcc"] == pytest.approx(expected(PRED, MOS)[0])
    assert not any("different scales" in w for w in report.warnings)
    koniq_csv(tmp_path / "b100.csv", NAMES[30:], MOS[30:] * 20)  # SPAQ-like 0-100 MOS
    mixed = compare(write_csv(tmp_path / "p.csv", qassess_rows(status=STATUS)),
                    [f"koniq={tmp_path / 'a.csv'}", f"spaq={tmp_path / 'b100.csv'}"])
    assert any("different scales" in w for w in mixed.warnings)
    assert mixed.overall["rows"]["failed"] == {"parse_error": 4, "load_error": 2}
    assert mixed.groups["spaq"]["srcc"] == pytest.approx(expected(PRED[30:54], MOS[30:54])[1])


def test_dataset_column_groups_rows_and_lower_better_for_one_group(tmp_path):
    dmos = MOS.copy()
    dmos[30:] = 1 - MOS[30:] / 5  # the second half is DMOS-like: lower is better
    pd.DataFrame({"image": NAMES, "score": dmos, "dataset": ["koniq"] * 30 + ["csiq"] * 30}).to_csv(
        tmp_path / "all.csv", index=False)
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    plain = compare(preds, tmp_path / "all.csv")
    assert set(plain.groups) == {"koniq", "csiq"} and plain.groups["csiq"]["srcc"] < 0
    assert any("--lower-better-for csiq" in w for w in plain.warnings)
    flipped = compare(preds, tmp_path / "all.csv", lower_better=["csiq"])
    assert flipped.groups["csiq"]["srcc"] == pytest.approx(expected(PRED[30:], MOS[30:])[1])
    assert flipped.groups["csiq"]["rmse"] is None and flipped.groups["koniq"]["rmse"] is not None
    assert flipped.overall["srcc"] == pytest.approx(expected(PRED, np.concatenate([MOS[:30], -dmos[30:]]))[1])


def test_bootstrap_intervals_in_the_report(tmp_path):
    g = compare(write_csv(tmp_path / "p.csv", qassess_rows()), koniq_csv(tmp_path / "gt.csv"), bootstrap=300).groups["gt"]
    assert g["ci"]["plcc"][0] < g["plcc"] < g["ci"]["plcc"][1] and g["ci"]["n_resamples"] == 300
    koniq_csv(tmp_path / "a.csv", NAMES[:30], MOS[:30])
    koniq_csv(tmp_path / "b.csv", NAMES[30:], 6 - MOS[30:])  # DMOS-like
    report = compare(tmp_path / "p.csv", [f"a={tmp_path / 'a.csv'}", f"b={tmp_path / 'b.csv'}"], fit="logistic4",
                     lower_better=["b"], bootstrap=300)
    assert all(g["plcc"] > 0.8 for g in report.groups.values())
    for m in (*report.groups.values(), report.overall):  # intervals of the reported (fitted, oriented) PLCC
        assert m["ci"]["plcc"][0] < m["plcc"] < m["ci"]["plcc"][1]
        assert m["ci"]["srcc"][0] < m["srcc"] < m["ci"]["srcc"][1]


def test_self_check_and_consistency(tmp_path):
    sc = np.round(MOS + RNG.normal(0, 0.6, len(NAMES)), 2)
    sc_list = list(sc)
    sc_list[5] = None  # stage 2 failed for one row
    preds = write_csv(tmp_path / "p.csv", qassess_rows(self_check=sc_list))
    g = compare(preds, koniq_csv(tmp_path / "gt.csv")).groups["gt"]
    keep = np.arange(len(NAMES)) != 5
    assert g["self_check"]["n"] == 59 and g["self_check"]["missing"] == 1
    assert g["self_check"]["plcc"] == pytest.approx(expected(sc[keep], MOS[keep])[0])
    assert g["consistency"]["plcc"] == pytest.approx(expected(PRED[keep], sc[keep])[0])
    assert g["consistency"]["mean_abs_gap"] == pytest.approx(np.mean(np.abs(PRED[keep] - sc[keep])))


# --- references and ROUGE-1 ------------------------------------------------------------------------


def test_english_text_of_every_qreasoning_form():
    assert english_text({"answer": "It shows a parking lot."}) == "It shows a parking lot."
    assert english_text(["red flower", "flower"]) == "red flower flower"
    assert english_text("<summarize>駐車場</summarize>\n\n<translation>The lot is asphalt.</translation>") == "The lot is asphalt."
    assert english_text('<summarize>\n"日本語"\n</summarize>\n\n<translation>\n"The title captures a mood."\n</translation>') \
        == "The title captures a mood."
    assert english_text("<summarize> 成人 </summarize>,  \n<translation> The atmosphere feels adult-like </translation>  ") \
        == "The atmosphere feels adult-like"
    assert english_text("There is no content provided.") == "There is no content provided."  # tags missing
    assert english_text("<summarize>パンダ</summarize> Pandas twice.") == "Pandas twice."
    assert english_text("<translation>unclosed text") == "unclosed text"
    assert english_text(" ") == "" and english_text(None) == ""


def test_rouge1_against_qreasoning_references(tmp_path):
    names = NAMES[:4]
    refs = [
        {"image": names[0], "description": {"answer": "A parking lot with asphalt."},
         "good_aspect": {"answer": "Nostalgic mood."}, "bad_aspect": {"answer": "The image is tilted."}},
        {"image": names[1], "description": "<summarize>花</summarize><translation>Red flowers in a garden.</translation>",
         "good_aspect": "<translation> \"Vivid colors.\" </translation>", "bad_aspect": "<summarize>暗い</summarize>"},
        {"image": names[2], "description": " ", "good_aspect": " ", "bad_aspect": " "},  # no annotation
    ]
    (tmp_path / "refs.json").write_text(json.dumps(refs, ensure_ascii=False))
    captions = [("An asphalt parking lot", "The image is tilted and dark"), ("red flowers", "vivid colors, dark"),
                ("anything", "at all"), ("", "")]
    preds = write_csv(tmp_path / "p.csv", qassess_rows(names, PRED[:4], captions=captions))
    report = compare(preds, refs=tmp_path / "refs.json")
    want = metrics.rouge1(["A parking lot with asphalt. Nostalgic mood. The image is tilted.", "Red flowers in a garden. Vivid colors."],
                          ["An asphalt parking lot The image is tilted and dark", "red flowers vivid colors, dark"])
    r = report.overall["rouge1"]
    assert r["n"] == 2 and r["no_reference"] == 2
    assert (r["precision"], r["recall"], r["f1"]) == pytest.approx(tuple(want.mean(axis=0)))
    assert report.inputs["references"]["text"].startswith("Q-Reasoning")


def test_rouge1_per_group_with_a_text_table_and_per_row_output(tmp_path):
    captions = [(f"photo {i}", "sharp and bright" if i % 2 else "blurry and dark") for i in range(len(NAMES))]
    preds = write_csv(tmp_path / "p.csv", qassess_rows(captions=captions, status=STATUS))
    pd.DataFrame({"image": NAMES, "reference": ["a blurry dark photo"] * len(NAMES)}).to_json(
        tmp_path / "refs.jsonl", orient="records", lines=True)
    report = compare(preds, koniq_csv(tmp_path / "gt.csv"), refs=tmp_path / "refs.jsonl")
    gens = [f"{c} {r}" for c, r in captions[:54]]
    want = metrics.rouge1(["a blurry dark photo"] * 54, gens).mean(axis=0)
    assert report.groups["gt"]["rouge1"]["n"] == 54  # the 6 failed rows are excluded, as for the scores
    assert report.groups["gt"]["rouge1"]["f1"] == pytest.approx(want[2])
    write_rows(report, tmp_path / "rows.csv")
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert {"rouge1_precision", "rouge1_f1", "used", "excluded"} <= set(rows.columns)
    assert rows["rouge1_f1"].notna().sum() == 54


def test_rouge_needs_generated_text(tmp_path):
    pd.DataFrame({"image": NAMES, "score": PRED}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"image": NAMES, "text": "x"}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(UserError, match="no caption or reasoning column"):
        compare(tmp_path / "p.csv", refs=tmp_path / "r.csv")


def test_real_qreasoning_samples_give_english_references():
    from qassess.evaluate.compare import load_references

    for name in ("cot_reasoning_test.json", "koniq_cot_constrain.json", "human_test.json", "filted_data_human_eng.json"):
        table, _, used = load_references(SAMPLE / name)
        texts = table.frame["reference"]
        assert used.startswith("Q-Reasoning") and (texts.str.len() > 10).all(), name
        assert not texts.str.contains("<translation>|<summarize>|</").any(), name
        cjk = texts.str.count(r"[\u3040-\u30ff\u4e00-\u9fff]") / texts.str.len()
        assert (cjk < 0.1).all(), name  # the Japanese summaries are gone (translations quote a few words)
    mixed, _, _ = load_references(SAMPLE / "mixed_cot.json")
    plain = [r["description"] == r["good_aspect"] == r["bad_aspect"] == " "
             for r in json.loads((SAMPLE / "mixed_cot.json").read_text())]
    assert ((mixed.frame["reference"] == "").to_list()) == plain  # " " rows have no reference
    gt = read_table(SAMPLE / "t_koniq.json").frame
    assert {"image", "quality", "normalized_score"} <= set(gt.columns)


# --- outputs and the command line ------------------------------------------------------------------


def test_cli_writes_every_output(tmp_path):
    preds = write_jsonl(tmp_path / "p.jsonl", qassess_rows(status=STATUS, self_check=list(MOS)))
    koniq_csv(tmp_path / "a.csv", NAMES[:30], MOS[:30])
    koniq_csv(tmp_path / "b.csv", NAMES[30:], MOS[30:])
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(app, [
        "compare", str(preds), f"koniq={tmp_path / 'a.csv'}", f"spaq={tmp_path / 'b.csv'}", "--fit", "logistic4",
        "--json", str(out / "m.json"), "--csv", str(out / "m.csv"), "--markdown", str(out / "m.md"),
        "--rows", str(out / "rows.jsonl"), "--plot", str(out / "s.png"), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert "Scores" in result.stdout and "pooled" in result.stdout
    data = json.loads((out / "m.json").read_text())
    assert {"n", "plcc", "srcc", "krcc", "rmse", "mae"} <= set(data["overall"])
    assert set(data["groups"]) == {"koniq", "spaq"} and data["settings"]["fit"] == "logistic4"
    assert data["groups"]["spaq"]["rows"]["failed"] == {"parse_error": 4, "load_error": 2}
    summary = pd.read_csv(out / "m.csv")
    assert list(summary["group"]) == ["koniq", "spaq", "average", "pooled"]
    assert "| koniq |" in (out / "m.md").read_text()
    assert len((out / "rows.jsonl").read_text().splitlines()) == len(NAMES)
    assert (out / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_to_stdout(tmp_path):
    preds = write_csv(tmp_path / "p.csv", qassess_rows())
    result = CliRunner().invoke(app, ["compare", str(preds), str(koniq_csv(tmp_path / "gt.csv")), "--json", "-", "-q"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["overall"]["plcc"] == pytest.approx(expected(PRED, MOS)[0])


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    pd.DataFrame({"image": NAMES, "foo": MOS}).to_csv(tmp_path / "g.csv", index=False)
    result = CliRunner().invoke(app, ["compare", str(write_csv(tmp_path / "p.csv", qassess_rows())), str(tmp_path / "g.csv")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "columns are: image, foo" in lines[0]
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "p.csv"), str(koniq_csv(tmp_path / "gt.csv")),
                                      "--json", str(tmp_path / "no" / "dir.json")])
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_markdown_has_the_notes(tmp_path):
    report = compare(write_csv(tmp_path / "p.csv", qassess_rows(status=STATUS)), koniq_csv(tmp_path / "gt.csv"))
    md = to_markdown(report)
    assert "| group | n | failed | PLCC |" in md and "matched 60/60 by name" in md and "exclude" in md
