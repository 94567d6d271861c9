"""`qassess data synth`: deterministic, labels fall with severity, bad photos skipped, split by source."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qassess.synth.content import ceiling, detail, scaled_label
from qassess.synth.dataset import LEVELS, is_held_out, label_from_haarpsi, synthesize  # needs qassess[data], as CI has

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "data" / "photos"
TYPES = ["gaussian_blur", "gaussian_noise", "jpeg", "underexposure", "pixelation"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def two_photos(tmp_path_factory):
    src = tmp_path_factory.mktemp("photos")
    for name in ("kodim05.png", "kodim23.png"):
        (src / name).write_bytes((PHOTOS / "kodak" / name).read_bytes())
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return src


@pytest.fixture(scope="module")
def made(two_photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synthesize([two_photos], out, seed=3, long_side=168, types=TYPES, mixes_per_photo=2, holdout=0.5)


def test_same_seed_same_bytes_and_labels(two_photos, made, tmp_path):
    again = synthesize([two_photos], tmp_path / "again", seed=3, long_side=168, types=TYPES, mixes_per_photo=2,
                       holdout=0.5)
    assert _digest(made.out / "images") == _digest(again.out / "images")
    assert [r["normalized_score"] for r in made.rows] == [r["normalized_score"] for r in again.rows]
    assert (made.out / "train.json").read_text() == (again.out / "train.json").read_text()


def test_other_seed_other_noise(two_photos, made, tmp_path):
    other = synthesize([two_photos], tmp_path / "other", seed=4, long_side=168, types=["gaussian_noise"],
                       mixes_per_photo=0)
    name = next(r["image"] for r in other.rows if r["distortions"] == "gaussian_noise:3")
    assert (other.out / "images" / name).read_bytes() != (made.out / "images" / name).read_bytes()


def test_labels_fall_with_severity(made):
    for source in {r["source"] for r in made.rows}:
        pristine = next(r for r in made.rows if r["source"] == source and r["distortions"] == "none")
        assert pristine["normalized_score"] == pytest.approx(scaled_label(5.0, pristine["detail"]), abs=1e-3)  # its ceiling
        assert pristine["normalized_score"] > max(r["normalized_score"] for r in made.rows
                                                  if r["source"] == source and r["distortions"] != "none")
        for t in TYPES:
            series = [next(r["normalized_score"] for r in made.rows
                           if r["source"] == source and r["distortions"] == f"{t}:{lv}") for lv in range(1, LEVELS + 1)]
            assert series == sorted(series, reverse=True), (source, t, series)
            assert series[0] < 5.0 and series[-1] < series[0] - 0.5, (source, t, series)


def test_unreadable_photo_skipped_with_reason(made):
    assert [name for name, _ in made.skipped] == ["broken.png"]
    assert made.skipped[0][1]
    skipped = (made.out / "skipped.csv").read_text()
    assert "broken.png" in skipped


def test_split_by_source_and_references(made):
    train = json.loads((made.out / "train.json").read_text())
    test = json.loads((made.out / "test.json").read_text())
    assert train and test  # holdout 0.5 over two photos: one each way for these names
    assert not {r["source"] for r in train} & {r["source"] for r in test}
    for r in train + test:
        assert r["description"] and r["good_aspect"] and r["bad_aspect"]
        assert (made.out / "images" / r["image"]).is_file()
    noisy = next(r for r in train + test if r["distortions"] == "gaussian_noise:5")
    assert "noise" in noisy["bad_aspect"].lower()
    assert len({r["bad_aspect"] for r in train + test if r["distortions"] != "none"}) > 10  # varied wording


def test_holdout_is_stable_and_label_map():
    assert is_held_out("kodak_kodim05", 0.5) == is_held_out("kodak_kodim05", 0.5)
    assert label_from_haarpsi(1.0) == 5.0 and label_from_haarpsi(0.1) == 1.0
    assert label_from_haarpsi(0.625) == pytest.approx(3.0)


def test_content_ceiling_lowers_a_soft_photo_only():
    """A blurred copy of a detailed photo has less detail; its ceiling falls; weight 0 is the bare FR label."""
    import numpy as np
    from PIL import Image, ImageFilter

    photo = Image.open(PHOTOS / "kodak" / "kodim05.png").convert("RGB").resize((448, 298))
    sharp, soft = detail(np.asarray(photo)), detail(np.asarray(photo.filter(ImageFilter.GaussianBlur(3))))
    assert soft < sharp - 0.5
    assert ceiling(sharp) > ceiling(soft) >= 0.5  # the default weight: a detail-free photo keeps 3 of 5
    assert scaled_label(5.0, soft) < scaled_label(5.0, sharp) <= 5.0
    assert scaled_label(3.2, soft, weight=0.0) == 3.2 and scaled_label(1.0, soft) == 1.0
    with pytest.raises(ValueError):
        detail(np.zeros((20, 40, 3), np.uint8))


def test_soft_pristine_text_does_not_praise_detail():
    import random

    from qassess.synth.text import describe

    for seed in range(20):
        text = describe(["colour", "detail", "clean"], [], random.Random(seed), soft=True)
        assert "sharp" not in text["good_aspect"] + text["description"] and "crisp" not in text["good_aspect"]
        assert "detail" in text["bad_aspect"] or "texture" in text["bad_aspect"], text


def test_cli_bad_input_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qassess", "data", "synth", str(tmp_path / "nothing"), "-o",
                             str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_every_distortion_type_is_graded(two_photos, tmp_path):
    """Each type, realistic composites included, damages the photo more at each level (HaarPSI falls)."""
    from qassess.synth.dataset import DISTORTION_NAMES

    made = synthesize([two_photos], tmp_path / "all", seed=1, long_side=168, mixes_per_photo=0, holdout=0.0)
    source = made.rows[0]["source"]
    for t in DISTORTION_NAMES:
        series = [next(r["haarpsi"] for r in made.rows if r["source"] == source and r["distortions"] == f"{t}:{lv}")
                  for lv in range(1, LEVELS + 1)]
        assert series[0] < 1.0 and series[-1] < series[0], (t, series)


def test_mixes_of_different_families_in_pipeline_order(made):
    from qassess.synth.dataset import STAGE, _dist_table

    family = {d.name: d.family for d in _dist_table()}
    mixes = [r["distortions"].split("+") for r in made.rows if "+" in r["distortions"]]
    assert len(mixes) == 2 * 2  # two photos x mixes_per_photo
    for parts in mixes:
        names = [p.split(":")[0] for p in parts]
        assert len({family[n] for n in names}) == len(names)
        assert [STAGE[family[n]] for n in names] == sorted(STAGE[family[n]] for n in names)


def test_texts_never_name_the_subject(tmp_path):
    """The reference texts say what a model can see (quality), never what the manifest says the photo shows."""
    src = tmp_path / "photos"
    src.mkdir()
    (src / "kodim05.png").write_bytes((PHOTOS / "kodak" / "kodim05.png").read_bytes())
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,content\nkodim05.png,zebra grazing beside a lighthouse\n")
    made = synthesize([src], tmp_path / "out", seed=0, long_side=168, types=TYPES, mixes_per_photo=3,
                      manifest=manifest)
    assert made.rows[0]["subject"] == "zebra grazing beside a lighthouse"  # kept as data, for checks
    for r in made.rows:
        text = " ".join((r["description"], r["good_aspect"], r["bad_aspect"])).lower()
        assert "zebra" not in text and "lighthouse" not in text, text
        assert " a o" not in text and "a extremely" not in text  # articles agree
