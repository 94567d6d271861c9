"""Dataset presets (qassess.evaluate.datasets) on tiny copies in each dataset's released layout: every
label format read, the direction right (an oracle gets SRCC +1 everywhere), `datasets check` on full,
partial and broken copies and a wrong root, user presets in YAML, and the `qassess datasets` listing."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import fake_datasets as fake
from qassess.cli import app
from qassess.errors import UserError
from qassess.evaluate.datasets import all_presets, find_folder, get_preset, load
from qassess.evaluate.datasets.check import check
from qassess.evaluate.suite import compare_one

PRESETS = all_presets()


def oracle_rows(labels, lower: bool, scale) -> list[dict]:
    """A perfect model's rows in `qassess score`'s layout: quality itself (for DMOS, the scale flipped)."""
    lo, hi = scale
    frame = labels.frame[labels.frame["exists"]]
    return [{"id": Path(p).stem, "path": p, "status": "ok", "rating": float(lo + hi - m) if lower else float(m)}
            for p, m in zip(frame["path"], frame["mos"])]


def test_packaged_presets_state_their_facts_and_sources():
    assert set(PRESETS) >= {"koniq", "spaq", "livec", "agiqa3k", "kadid", "csiq", "pipal", "tid2013", "live"}
    for p in PRESETS.values():
        assert p.sources and p.paper and p.default_split in p.splits
        for s in p.splits.values():
            assert s.expected and s.scale[0] < s.scale[1] and s.direction in ("higher", "lower")
    lower = {n for n, p in PRESETS.items() if p.split().lower_better}
    assert lower == {"csiq", "live"}  # DMOS; KADID's `dmos` column is a MOS (higher is better)
    assert PRESETS["koniq"].split().expected == 2010 and PRESETS["koniq"].split("all").expected == 10073
    assert PRESETS["livec"].split().expected == 1162 and PRESETS["livec"].split("all").expected == 1169


@pytest.mark.parametrize("name", sorted(fake.BUILDERS))
def test_oracle_gets_srcc_plus_one_on_every_preset(tmp_path, name):
    truth = fake.BUILDERS[name](tmp_path)
    preset = get_preset(name)
    folder, how = find_folder(preset, [str(tmp_path)])
    labels = load(preset, folder)
    found = labels.frame[labels.frame["exists"]]
    images = {str(Path(p).relative_to(folder)): m for p, m in zip(found["path"], found["mos"])}
    assert images == pytest.approx(truth)  # the released files read into the right image -> label pairs
    split = labels.split
    preds = tmp_path / "oracle.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in oracle_rows(labels, split.lower_better, split.scale)))
    csv = tmp_path / "labels.csv"
    labels.frame[["image", "path", "mos"]].to_csv(csv, index=False)
    group = compare_one(preds, csv, name, split.lower_better, None).groups[name]
    assert group["srcc"] == pytest.approx(1.0) and group["plcc"] == pytest.approx(1.0)
    assert group["n"] == len(truth) and group["lower_better"] == split.lower_better


def test_koniq_and_livec_splits(tmp_path):
    fake.koniq(tmp_path, n=6, test=3)
    fake.livec(tmp_path, n=4)
    koniq = get_preset("koniq")
    folder, _ = find_folder(koniq, [str(tmp_path)])
    assert len(load(koniq, folder).frame) == 3 and len(load(koniq, folder, "all").frame) == 6
    assert load(koniq, folder, "all").frame["mos"].between(1, 5).all()  # the other file, on 1-5
    livec = get_preset("livec")
    folder, _ = find_folder(livec, [str(tmp_path)])
    test, full = load(livec, folder), load(livec, folder, "all")
    assert len(test.frame) == 4 and not test.frame["image"].str.startswith("trainingImages").any()
    assert len(full.frame) == 11 and full.frame["exists"].all()  # t1..t7 found in Images/trainingImages/
    with pytest.raises(UserError, match="no split 'val'"):
        koniq.split("val")


def test_root_is_the_dataset_folder_or_name_equals_path(tmp_path):
    fake.tid2013(tmp_path)
    preset = get_preset("tid2013")
    assert find_folder(preset, [str(tmp_path / "tid2013")])[0] == tmp_path / "tid2013"
    moved = tmp_path / "elsewhere"
    (tmp_path / "tid2013").rename(moved)
    assert find_folder(preset, [f"tid2013={moved}"])[0] == moved
    with pytest.raises(UserError, match="no folder named tid2013"):
        find_folder(preset, [str(tmp_path)])


def test_check_complete_tiny_copy(tmp_path):
    fake.kadid(tmp_path)
    lines, problems = check(get_preset("kadid"), [str(tmp_path)])
    text = "\n".join(lines)
    assert "images: 5 of 5 found under images/" in text
    assert "label range 1.4..4.6 on the stated scale 1..5 (higher is better)" in text
    # the only problem of a tiny copy is its size; the unlabelled reference I01.png is as released
    assert problems == 1 and "problem: 5 labels in the split, not 10125" in text, text
    assert "I01.png" not in text


def test_check_reports_a_partial_and_odd_copy_in_plain_lines(tmp_path):
    fake.agiqa3k(tmp_path, n=6)
    folder = tmp_path / "AGIQA-3K"
    (folder / "images" / "AttnGAN_normal_001.jpg").unlink()
    (folder / "images" / "AttnGAN_normal_002.jpg").write_bytes(b"")
    (folder / "images" / "stray.png").write_bytes((folder / "images" / "AttnGAN_normal_003.jpg").read_bytes())
    frame = pd.read_csv(folder / "data.csv")
    frame["mos_quality"] = frame["mos_quality"].astype(object)
    frame.loc[4, "mos_quality"] = 37.5  # the 0-100 scale of another column
    frame.loc[5, "mos_quality"] = "n/a"
    frame = pd.concat([frame, frame.iloc[[0]]])
    frame.to_csv(folder / "data.csv", index=False)
    lines, problems = check(get_preset("agiqa3k"), [str(tmp_path)])
    text = "\n".join(lines)
    assert problems == 7, text
    assert "problem: 7 labels in the split, not 2982" in text
    assert "problem: 1 labels are not numbers (e.g. AttnGAN_normal_005.jpg)" in text
    assert "problem: 1 labels lie outside 0..5 (e.g. AttnGAN_normal_004.jpg=37.5)" in text
    assert "problem: 1 image names are labelled more than once (e.g. AttnGAN_normal_000.jpg)" in text
    assert "problem: 1 labelled images are missing (e.g. AttnGAN_normal_001.jpg)" in text
    assert "problem: 1 images have no label (e.g. images/stray.png)" in text
    assert "problem: 1 images are empty files (e.g. AttnGAN_normal_002.jpg)" in text
    assert lines[-1] == "7 problem(s)"


def test_check_never_crashes_on_missing_or_broken_label_files(tmp_path):
    fake.livec(tmp_path)
    mat = tmp_path / "ChallengeDB_release" / "Data" / "AllMOS_release.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    lines, problems = check(get_preset("livec"), [str(tmp_path)])
    assert problems == 1 and lines[-1].startswith("problem: cannot read") and "AllMOS_release.mat" in lines[-1]
    mat.unlink()
    lines, problems = check(get_preset("livec"), [str(tmp_path)])
    assert problems == 1 and "label file Data/AllMOS_release.mat is missing" in lines[-1]
    lines, problems = check(get_preset("csiq"), [str(tmp_path)])  # wrong root: not there at all
    assert problems == 1 and "no folder named CSIQ" in lines[-1]
    fake.tid2013(tmp_path)
    (tmp_path / "tid2013" / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp\nnot a line with two\n")
    lines, problems = check(get_preset("tid2013"), [str(tmp_path)])
    assert problems == 1 and "mos_with_names.txt:2: expected '<mos> <name>'" in lines[-1]


def test_datasets_cli_lists_and_checks(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["datasets"])
    assert listed.exit_code == 0, listed.output
    for name in PRESETS:
        assert f"\n{name}: " in "\n" + listed.output
    assert "source: " in listed.output and "lower is better" in listed.output
    fake.koniq(tmp_path)
    ok = runner.invoke(app, ["datasets", "check", "koniq", "--root", str(tmp_path / "koniq10k")])
    assert ok.exit_code == 1 and "problem: 3 labels in the split, not 2010" in ok.output  # a tiny copy
    assert "images: 3 of 3 found under 1024x768/" in ok.output
    bad = runner.invoke(app, ["datasets", "check", "nosuch", "--root", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown dataset 'nosuch'" in bad.output


def test_user_preset_in_yaml(tmp_path):
    data = tmp_path / "mine"
    (data / "pics").mkdir(parents=True)
    for i in range(4):
        fake._image(data / "pics" / f"p{i}.png", i)
    pd.DataFrame({"file": [f"p{i}.png" for i in range(4)], "score": [7.0, 2.0, 9.5, 4.0]}).to_csv(
        data / "scores.csv", index=False)
    yml = tmp_path / "datasets.yaml"
    yml.write_text("mine:\n  title: My photos\n  folders: [mine]\n"
                   "  labels: {reader: table, file: scores.csv, image_col: file, score_col: score}\n"
                   "  images: pics\n  scale: [0, 10]\n  direction: lower\n  splits: {all: {expected: 4}}\n")
    preset = get_preset("mine", yml)
    assert preset.user and preset.split().lower_better
    lines, problems = check(preset, [str(tmp_path)])
    assert problems == 0, lines
    listed = CliRunner().invoke(app, ["datasets", "--dataset-presets", str(yml)])
    assert "mine (user): My photos" in listed.output
    yml.write_text("mine:\n  labels: {reader: table, file: s.csv, image_col: a, score_col: b}\n  scale: [0, 1]\n"
                   "  direction: sideways\n")
    with pytest.raises(UserError, match="direction must be higher or lower"):
        get_preset("mine", yml)
    yml.write_text("mine:\n  labls: {}\n")
    with pytest.raises(UserError, match="unknown key"):
        get_preset("mine", yml)
    yml.write_text("mine:\n  labels: {reader: table, file: s.csv, id: a}\n  scale: [0, 1]\n  direction: higher\n")
    with pytest.raises(UserError, match="missing key"):
        load(get_preset("mine", yml), data)
