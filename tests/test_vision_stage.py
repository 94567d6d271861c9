"""The vision pre-training stage of `make model`: it trains, mirrors crops, and keeps the tower the
validation set chose (the v2 tower's real-photo SRCC peaked halfway and then fell: MODEL.md)."""
import csv
from pathlib import Path

import pytest

from qassess.build import vision as V
from qassess.build.model import init
from qassess.errors import UserError
from qassess.synth.dataset import synthesize

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "data" / "photos" / "kodak"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = tmp_path_factory.mktemp("photos")
    for name in ("kodim05.png", "kodim23.png"):
        (src / name).write_bytes((PHOTOS / name).read_bytes())
    synth = tmp_path_factory.mktemp("synth")
    synthesize([src], synth, seed=0, long_side=168, types=["gaussian_blur", "jpeg"], mixes_per_photo=1, holdout=0.5)
    model_dir = init(tmp_path_factory.mktemp("m") / "init", synth)
    val = tmp_path_factory.mktemp("val")
    rows = V.load_rows(synth, "test")[:6]
    with open(val / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "mos"])
        for r in rows:
            w.writerow([r["path"], r["normalized_score"] * 20])
    return synth, model_dir, val


def _load(model_dir):
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    return model, AutoProcessor.from_pretrained(model_dir).image_processor


def test_select_val_keeps_the_best_evaluations_tower(built, monkeypatch):
    import torch

    synth, model_dir, val = built
    model, processor = _load(model_dir)
    scripted = iter([0.2, 0.7, 0.1])  # the middle evaluation (step 4) is the best
    snapshots = {}

    def fake_validate(model_, processor_, head, rows, batch=16):
        srcc = next(scripted)
        snapshots[srcc] = {k: v.detach().clone() for k, v in model_.model.visual.state_dict().items()}
        return srcc

    monkeypatch.setattr(V, "validate", fake_validate)
    cfg = V.VisionConfig(steps=6, batch=4, crop=56, eval_every=2, val=str(val), select="val", log_every=100)
    history = V.pretrain_vision(model, processor, V.load_rows(synth, "train"), V.load_rows(synth, "test")[:4], cfg,
                                log=lambda m: None)
    assert [e["step"] for e in history["evals"]] == [2, 4, 6]
    assert history["selected_step"] == 4
    kept = model.model.visual.state_dict()
    assert all(torch.equal(kept[k], snapshots[0.7][k]) for k in kept)
    assert not all(torch.equal(kept[k], snapshots[0.1][k]) for k in kept)  # the last step's tower differs


def test_select_last_and_bad_settings(built):
    synth, model_dir, val = built
    model, processor = _load(model_dir)
    train = V.load_rows(synth, "train")
    history = V.pretrain_vision(model, processor, train, None, V.VisionConfig(steps=2, batch=4, crop=56, log_every=100),
                                log=lambda m: None)
    assert history["selected_step"] == 2 and len(history["steps"]) == 2
    assert all(s["mse"] == s["mse"] for s in history["steps"])  # finite losses
    with pytest.raises(UserError, match="needs a validation folder"):
        V.pretrain_vision(model, processor, train, None, V.VisionConfig(steps=1, select="val"), log=lambda m: None)
    with pytest.raises(UserError, match="select must be"):
        V.pretrain_vision(model, processor, train, None, V.VisionConfig(steps=1, select="best"), log=lambda m: None)
