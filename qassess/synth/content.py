"""The cross-content term of the synthetic labels: how much fine detail the pristine photo holds.

Full-reference labels rate every pristine photo 5 and each copy only against its own pristine, so they
say nothing about how photos compare with each other (MODEL.md, "Calibration across content"). On real
photos with human scores (`livec_val`) the strongest single no-reference cue measured is the gradient
energy of an image's sharpest tenth of 28-px blocks (SRCC 0.46, above NIQE's 0.44), while the same cue
on the synthetic labels correlates at -0.06: a soft pristine photo was taught as "perfect". So each
photo's labels are scaled by a ceiling from its pristine's detail: label = 1 + (FR label - 1) * ceiling,
ceiling = 1 - weight * (1 - detail level). Within one photo the order of its copies is unchanged, and a
pristine photo stays above all its distorted copies.

The anchors are the 10th and 90th percentiles of that cue over the project's 129 pristine photos at the
model's size (448 px long side); the weight is chosen by `scripts/label_weight.py` (a proxy learner
trained on the labels of each weight, measured on `livec_val`, never fitted to it): MODEL.md.
"""
from __future__ import annotations

DETAIL_LOW, DETAIL_HIGH = -3.11, -1.75  # log mean |gradient| of the sharpest decile of blocks: 10th, 90th pct
CONTENT_WEIGHT = 0.5  # a detail-free pristine photo is rated 3 (fair), a detailed one 5
BLOCK = 28  # px: one merged vision token of the model


def detail(ref) -> float:
    """log mean |dx| + |dy| of luma (0-1) in the sharpest 10% of 28-px blocks of an H x W x 3 uint8 image."""
    import numpy as np

    a = np.asarray(ref, dtype=np.float32) / 255.0
    y = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    g = np.zeros_like(y)
    g[:, :-1] += np.abs(np.diff(y, axis=1))
    g[:-1, :] += np.abs(np.diff(y, axis=0))
    h, w = (y.shape[0] // BLOCK) * BLOCK, (y.shape[1] // BLOCK) * BLOCK
    if not h or not w:
        raise ValueError(f"image smaller than one {BLOCK}-px block: {y.shape[1]}x{y.shape[0]}")
    blocks = g[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    return float(np.quantile(np.log(blocks + 1e-3), 0.9))


def detail_level(value: float) -> float:
    """The detail cue on [0, 1] between the anchors, clipped."""
    return min(1.0, max(0.0, (value - DETAIL_LOW) / (DETAIL_HIGH - DETAIL_LOW)))


def ceiling(detail_value: float, weight: float = CONTENT_WEIGHT) -> float:
    """The highest label any copy of this photo gets, as a share of the 1..5 range."""
    return 1.0 - weight * (1.0 - detail_level(detail_value))


def scaled_label(fr_label: float, detail_value: float, weight: float = CONTENT_WEIGHT) -> float:
    return round(1.0 + (float(fr_label) - 1.0) * ceiling(detail_value, weight), 4)
