"""The numbers of one row of an ablation table: one model's held-out predictions, measured as the paper
reports them, each with a 95% interval, and paired differences against a reference model.

An ablation's rows differ by a few hundredths, so a value without its interval says nothing about
whether removing a reward changed anything. The measures, all through `qassess compare`:

    image PLCC / SRCC             the stated rating against the labels (compare's percentile bootstrap)
    caption-only PLCC / SRCC      the self-check rating, i.e. the model rating its own caption without the
                                  image (`compare --pred-col self_check_rating`)
    ROUGE-1 F1                    caption + reasoning against the human text (`--refs`); interval: bootstrap
                                  of the per-image mean
    attribute agreement           (matched - contradicted) / human verdicts per image (`--semantic`),
                                  averaged; interval likewise

Differences against the reference (the warm start, say) resample the images both models rated, the same
indices for both (compare.paired's paired bootstrap for correlations, the same draw for means).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qassess.errors import UserError

CONFIDENCE = 0.95
MEASURES = ("image_plcc", "image_srcc", "caption_plcc", "caption_srcc", "rouge1", "attributes")
GROUP = "heldout"


@dataclass
class HeldOut:
    """The held-out images a table is measured on: what `qassess score` rates and what it is compared with."""

    images: list[Path]
    labels: Path  # ground truth and the human references (a `qassess data synth` test.json)
    description: str


def held_out(folder: str | Path, subset: bool = False, limit: int | None = None) -> HeldOut:
    """The test split of a `qassess data synth` output (FOLDER/test.json, images under FOLDER/images).
    `subset`: scripts/eval_model.sh's fixed subset (per photo: the pristine image, every single distortion
    at levels 2 and 4, the first five mixes); `limit`: N of those spread evenly over the list (every k-th,
    so each photo and distortion keeps its share), so a dozen CPU evaluations fit in a budget."""
    import json

    folder = Path(folder)
    labels = folder / "test.json"
    if not labels.is_file():
        raise UserError(f"--evaluate {folder}: no test.json there (expected a `qassess data synth` output)")
    try:
        rows = json.loads(labels.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{labels}: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "image" in r for r in rows):
        raise UserError(f"{labels}: expected a list of rows with an `image` field")
    how = []
    if subset:
        rows = _fixed_subset(rows)
        how.append("fixed subset")
    if limit is not None:
        if limit < 3:
            raise UserError("--eval-limit must be at least 3 (correlations need three images)")
        if limit < len(rows):
            rows = [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]
            how.append(f"{limit} spread evenly")
    images = [folder / "images" / str(r["image"]) for r in rows]
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise UserError(f"{len(missing)} held-out images are missing, e.g. {missing[0]}")
    sources = {r.get("source") for r in rows}
    photos = f" of {len(sources)} photos" if None not in sources else ""
    return HeldOut(images, labels, f"{labels} ({', '.join(how) + ': ' if how else ''}{len(images)} images{photos})")


def _fixed_subset(rows: list[dict]) -> list[dict]:
    mixes: dict[Any, int] = {}
    keep = []
    for r in rows:
        d = str(r.get("distortions", ""))
        if "+" in d:
            mixes[r.get("source")] = mixes.get(r.get("source"), 0) + 1
            chosen = mixes[r.get("source")] <= 5
        else:
            chosen = d == "none" or d.endswith((":2", ":4"))
        if chosen:
            keep.append(r)
    return keep


def measure(preds: str | Path, held: HeldOut, *, bootstrap: int = 1000, seed: int = 0,
            semantic_model: str | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Every MEASURES value of one prediction file with its interval ({name: {value, ci, n}}), plus parse
    counts; and the per-image rows (for paired differences). A measure the predictions cannot give (no
    caption-only rating because the model wrote no caption) is None, with the reason under `notes`."""
    from qassess.evaluate.compare import compare

    gt = {GROUP: str(held.labels)}
    report = compare(str(preds), gt, refs=str(held.labels), semantic=True, bootstrap=bootstrap, seed=seed,
                     semantic_model=semantic_model)
    o, rows = report.overall, report.rows
    out: dict[str, Any] = {"notes": []}
    out["image_plcc"] = _corr(o, "plcc")
    out["image_srcc"] = _corr(o, "srcc")
    _why_undefined(out, "image rating", report)
    try:
        caption = compare(str(preds), gt, pred_col="self_check_rating", bootstrap=bootstrap, seed=seed)
        out["caption_plcc"], out["caption_srcc"] = _corr(caption.overall, "plcc"), _corr(caption.overall, "srcc")
        _why_undefined(out, "caption-only rating", caption, "caption_")
    except UserError as exc:  # e.g. the score-only baseline writes no caption, so nothing to self-check
        out["caption_plcc"] = out["caption_srcc"] = None
        out["notes"].append(f"no caption-only rating: {exc}")
    out["rouge1"] = mean_ci(rows["rouge1_f1"] if "rouge1_f1" in rows else [], bootstrap, seed)
    out["attributes"] = mean_ci(rows["attributes_score"] if "attributes_score" in rows else [], bootstrap, seed)
    counts = o["rows"]
    out["parsed"] = {"ok": counts["used"], "matched": counts["matched"],
                     "share": counts["used"] / counts["matched"] if counts["matched"] else None}
    out["rouge1_precision"] = o.get("rouge1", {}).get("precision")
    out["attribute_precision"] = o.get("attributes", {}).get("precision")
    out["attribute_contradiction_rate"] = o.get("attributes", {}).get("contradiction_rate")
    return _plain(out), rows


def _why_undefined(out: dict[str, Any], what: str, report, prefix: str = "image_") -> None:
    """A correlation compare left empty (every rating the same, say) gets compare's reason as a note."""
    if out[f"{prefix}plcc"] is None or out[f"{prefix}srcc"] is None:
        reasons = [w.split(": ", 1)[-1] for w in report.warnings if "undefined" in w] or ["no correlation"]
        out["notes"].append(f"{what}: {'; '.join(reasons)}")


def _corr(metrics: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = metrics.get(name)
    if value is None:
        return None
    return {"value": float(value), "ci": (metrics.get("ci") or {}).get(name), "n": int(metrics["n"])}


def mean_ci(values, n: int, seed: int) -> dict[str, Any] | None:
    """The mean of the finite values and its percentile bootstrap interval (`n` resamples of the
    images, `np.random.default_rng(seed)`); None when there are none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return _bootstrap_mean(v, n, seed) if v.size else None


def paired_differences(new: pd.DataFrame, base: pd.DataFrame, *, n: int = 1000, seed: int = 0) -> dict[str, Any]:
    """new - base of every measure on the images both rated (matched by ground-truth id, as compare's
    --baseline does), each with the paired bootstrap interval: correlations by
    compare.paired.paired_bootstrap, means by the same resampling of the paired images."""
    from qassess.evaluate.compare.paired import MIN_ROWS, paired_bootstrap

    keep = ["source", "gt_id", "gt", "prediction", "self_check", "rouge1_f1", "attributes_score"]
    a = new[new["used"].to_numpy()][[c for c in keep if c in new]]
    b = base[base["used"].to_numpy()][[c for c in keep if c in base]].drop(columns=["gt"])
    pairs = a.merge(b, on=["source", "gt_id"], suffixes=("_new", "_base"))
    out: dict[str, Any] = {}
    gt = pairs["gt"].to_numpy(dtype=float)
    for name, column, metric in (("image_plcc", "prediction", "plcc"), ("image_srcc", "prediction", "srcc"),
                                 ("caption_plcc", "self_check", "plcc"), ("caption_srcc", "self_check", "srcc"),
                                 ("rouge1", "rouge1_f1", "mean"), ("attributes", "attributes_score", "mean")):
        if f"{column}_new" not in pairs or f"{column}_base" not in pairs:
            out[name] = None
            continue
        x, y = pairs[f"{column}_new"].to_numpy(dtype=float), pairs[f"{column}_base"].to_numpy(dtype=float)
        use = np.isfinite(x) & np.isfinite(y) & np.isfinite(gt)
        if use.sum() < MIN_ROWS:
            out[name] = None
        elif metric == "mean":
            out[name] = _bootstrap_mean(x[use] - y[use], n, seed)
        else:
            r = paired_bootstrap(x[use], y[use], gt[use], metric, n, seed)
            out[name] = {"value": r["difference"], "ci": r["ci"], "n": r["n"]}
    return out


def _bootstrap_mean(d: np.ndarray, n: int, seed: int) -> dict[str, Any]:
    from qassess.evaluate.metrics import bootstrap_mean_ci

    return {"value": float(d.mean()), "ci": bootstrap_mean_ci(d, n, seed, CONFIDENCE), "n": int(d.size)}


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (the result is written as JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
