"""Choose the synthetic labels' content weight on real photos, without fitting to them.

    .venv/bin/python scripts/label_weight.py .cache/synth ../shared/data/livec_val [--rows 2500]

For each weight w, every training image's label is recomputed from its stored HaarPSI and its pristine
photo's detail (`qassess.synth.content.scaled_label`); a proxy learner (gradient-boosted trees over the
vision stage's cue summaries, `scripts/cue_transfer.py`) is fitted on a sample of synthetic training
images with those labels and applied to the real photos and to held-out synthetic images. Printed per w:
the real photos' SRCC with their human scores, the held-out SRCC with the plain full-reference labels
(w = 0) across photos and within each photo's series, and the rating a detail-free pristine photo gets.
The real photos are only scored, never fitted; the weight is picked from this table (MODEL.md).
"""
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor

from cue_transfer import arguments, summary
from qassess.build.model import MAX_PIXELS, MIN_PIXELS
from qassess.build.vision import load_validation
from qassess.io.images import PixelBudget, load_image
from qassess.synth.content import scaled_label
from qassess.synth.dataset import label_from_haarpsi

WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0)


def sample(path: Path, count: int, seed: int) -> list[dict]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    random.Random(seed).shuffle(rows)
    return rows[:count]


def within_series(pred: np.ndarray, rows: list[dict]) -> float:
    by: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by.setdefault(r["source"], []).append(i)
    fr = np.array([label_from_haarpsi(r["haarpsi"]) for r in rows])
    return float(np.nanmean([spearmanr(pred[ix], fr[ix])[0] for ix in by.values() if len(ix) > 3]))


def main() -> None:
    args = arguments(__doc__)  # the synthetic set's rows must carry haarpsi and detail (this build's synth)
    train, test = sample(args.synth / "train.json", args.rows, 0), sample(args.synth / "test.json", 600, 1)
    x = np.stack([summary(Image.open(args.synth / "images" / r["image"]).convert("RGB")) for r in train])
    xt = np.stack([summary(Image.open(args.synth / "images" / r["image"]).convert("RGB")) for r in test])
    budget = PixelBudget(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)  # as the default model sees them
    real = load_validation(args.real)
    v = np.stack([summary(load_image(r["path"], budget)) for r in real])
    mos = np.array([r["mos"] for r in real])
    fr_test = np.array([label_from_haarpsi(r["haarpsi"]) for r in test])
    print(f"{'weight':>6} {'real SRCC':>10} {'synthetic FR SRCC':>18} {'within series':>14} {'detail-free pristine':>21}"
          f"   ({len(real)} real, {len(train)} synthetic fitted, {len(test)} held out)")
    for w in WEIGHTS:
        y = np.array([scaled_label(label_from_haarpsi(r["haarpsi"]), r["detail"], w) for r in train])
        model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=0).fit(x, y)
        pred = model.predict(xt)
        print(f"{w:>6.2f} {spearmanr(model.predict(v), mos)[0]:>10.3f} {spearmanr(pred, fr_test)[0]:>18.3f} "
              f"{within_series(pred, test):>14.3f} {scaled_label(5.0, -99.0, w):>21.2f}")


if __name__ == "__main__":
    main()
