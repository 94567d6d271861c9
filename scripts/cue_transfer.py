"""Which hand-made no-reference cues rank real photos, and do the synthetic labels teach them?

    .venv/bin/python scripts/cue_transfer.py .cache/synth ../shared/data/livec_val [--rows 2500]

For each image: the vision stage's per-token cues (qassess.build.vision.token_cues) summarised over the
image (mean, std, 90th and 10th percentile of each cue). Printed: each summary's SRCC with the human
scores of the real photos and with the synthetic labels of a sample of training images, then a ridge
regression fitted on the synthetic sample and applied to the real photos. A cue that ranks real photos
but not the synthetic labels is one the labels cannot teach (MODEL.md, "Calibration across content").
The real photos are only measured, never fitted.
"""
import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr
from scipy.linalg import solve

from qassess.build.model import MAX_PIXELS, MIN_PIXELS
from qassess.build.vision import CUES, load_validation, token_cues
from qassess.io.images import PixelBudget, load_image

STATS = ("mean", "std", "q90", "q10")


def summary(image) -> np.ndarray:
    c = token_cues(image).reshape(-1, len(CUES))
    return torch.cat([c.mean(0), c.std(0), torch.quantile(c, 0.9, dim=0), torch.quantile(c, 0.1, dim=0)]).numpy()


def arguments(doc: str) -> argparse.Namespace:
    """The synthetic set, the real photos and the sample size: the command line of this script and of
    scripts/label_weight.py. One torch thread: these scripts run beside training jobs."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("synth", type=Path, help="`qassess data synth` output")
    parser.add_argument("real", type=Path, help="real photos with labels.csv (image, mos)")
    parser.add_argument("--rows", type=int, default=2500, help="synthetic training images sampled (seed 0)")
    torch.set_num_threads(1)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    rows = json.loads((args.synth / "train.json").read_text(encoding="utf-8"))
    random.Random(0).shuffle(rows)
    rows = rows[:args.rows]
    x = np.stack([summary(Image.open(args.synth / "images" / r["image"]).convert("RGB")) for r in rows])
    y = np.array([r["normalized_score"] for r in rows])
    budget = PixelBudget(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)  # as the default model sees them
    real = load_validation(args.real)
    v = np.stack([summary(load_image(r["path"], budget)) for r in real])
    mos = np.array([r["mos"] for r in real])
    names = [f"{s}_{c}" for s in STATS for c in CUES]
    table = sorted(((spearmanr(v[:, i], mos)[0], spearmanr(x[:, i], y)[0], names[i]) for i in range(len(names))),
                   key=lambda t: -abs(t[0]))
    print(f"{'cue':<20} {'real SRCC':>10} {'synthetic SRCC':>15}   ({len(real)} real, {len(rows)} synthetic)")
    for real_srcc, synth_srcc, name in table[:12]:
        print(f"{name:<20} {real_srcc:>10.3f} {synth_srcc:>15.3f}")
    mu, sd = x.mean(0), x.std(0) + 1e-6
    for alpha in (1.0, 10.0, 100.0):
        z = (x - mu) / sd
        w = solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()), assume_a="pos")
        print(f"ridge alpha {alpha:g} fitted on the synthetic labels -> real SRCC "
              f"{spearmanr((v - mu) / sd @ w, mos)[0]:.3f}")


if __name__ == "__main__":
    main()
