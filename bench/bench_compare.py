"""`qassess compare` on a million rows, side by side with the usual ways of doing the same, in one run.

Writes synthetic data in the real layouts (a `qassess score` CSV and JSONL with every column, 1% parse
failures, paths under a folder; a KonIQ-style ground-truth CSV in another order) and times:

    compare, CSV preds         qassess.evaluate.compare.compare(preds.csv, gt.csv): read, detect, join, metrics
    compare, JSONL preds       the same from the JSONL output
    compare, --fit logistic4   + the VQEG 4-parameter mapping
    naive script               csv.DictReader + dict join on file names + scipy, as evaluation scripts do
    pandas sniffing            pd.read_csv(sep=None, engine="python") of the predictions alone
    metrics only               score_metrics on in-memory arrays vs scipy pearsonr/spearmanr/kendalltau
    ROUGE-1                    qassess.evaluate.metrics.rouge1 vs rouge-score's scorer, per pair

Every line prints wall and CPU seconds and the ratio to its baseline (CPU seconds are steadier on a
shared machine; pyarrow's readers use threads, so CPU can exceed wall). Both sides compute the same
numbers (checked).

    .venv/bin/python bench/bench_compare.py [--rows 1000000] [--rouge-pairs 5000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qassess.evaluate import metrics  # noqa: E402
from qassess.evaluate.compare import compare  # noqa: E402


def make_data(folder: Path, n: int, seed: int = 0) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    names = np.array([f"{i:010d}.jpg" for i in range(n)], dtype=object)
    mos = rng.uniform(1, 5, n).round(4)
    pred = (mos + rng.normal(0, 0.4, n)).round(2)
    status = np.where(rng.random(n) < 0.01, "parse_error", "ok")
    preds = pd.DataFrame({
        "id": [s[:-4] for s in names], "path": ["photos/set1/" + s for s in names], "mode": "image",
        "model": "Qwen/Qwen2.5-VL-7B-Instruct", "backend": "vllm", "template": "paper",
        "rating": np.where(status == "ok", pred, np.nan),
        "caption": "A cat on a sofa; slight blur, some noise in the shadows.",
        "reasoning": "The subject is clear but noise and blur lower the quality.",
        "raw": '<caption>...</caption><think>...</think><answer>{"rating": 3.1}</answer>', "status": status,
        "error": np.where(status == "ok", "", "no <answer> block"), "ratings": "[3.1]", "rating_std": 0.0,
        "self_check_rating": np.nan, "self_check_gap": np.nan, "pixels": 1003520, "max_pixels": 1003520})
    paths = {"csv": folder / "preds.csv", "jsonl": folder / "preds.jsonl", "gt": folder / "koniq.csv"}
    preds.to_csv(paths["csv"], index=False)
    preds.to_json(paths["jsonl"], orient="records", lines=True)
    order = rng.permutation(n)
    pd.DataFrame({"image_name": names[order], "c1": 1, "c2": 2, "c3": 3, "c4": 4, "c5": 5, "c_total": 15,
                  "MOS": mos[order], "SD": 0.5, "MOS_zscore": mos[order] * 20}).to_csv(paths["gt"], index=False)
    return paths


def naive(preds: Path, gt: Path) -> tuple[float, float, int]:
    """What an evaluation script usually does: DictReader, a dict on file names, scipy."""
    from scipy import stats

    truth = {}
    with open(gt, newline="") as fh:
        for row in csv.DictReader(fh):
            truth[row["image_name"]] = float(row["MOS"])
    x, y = [], []
    with open(preds, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"] != "ok" or not row["rating"]:
                continue
            name = row["path"].rsplit("/", 1)[-1]
            if name in truth:
                x.append(float(row["rating"]))
                y.append(truth[name])
    return float(stats.pearsonr(x, y).statistic), float(stats.spearmanr(x, y).statistic), len(x)


class Clock:
    """Wall and CPU seconds (CPU time of every thread of this process: steadier on a shared machine)."""

    def __init__(self, wall: float, cpu: float):
        self.wall, self.cpu = wall, cpu


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return Clock(time.perf_counter() - wall, time.process_time() - cpu), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rouge-pairs", type=int, default=5000)
    ap.add_argument("--keep", type=Path, help="write the data here (default: a temporary folder)")
    args = ap.parse_args()
    import pyarrow.json  # noqa: F401  imported up front: no side pays the others' import time
    import rouge_score.rouge_scorer  # noqa: F401
    import scipy.optimize  # noqa: F401
    import scipy.stats  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t_make, paths = timed(make_data, folder, args.rows)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in paths.values())
        print(f"{args.rows:,} rows ({sizes}); written in {t_make.wall:.1f} s\n")
        lines = []

        t_naive, (p_naive, s_naive, n_naive) = timed(naive, paths["csv"], paths["gt"])
        t_csv, rep = timed(compare, paths["csv"], paths["gt"])
        g = rep.groups["koniq"]
        assert g["n"] == n_naive and abs(g["plcc"] - p_naive) < 1e-9 and abs(g["srcc"] - s_naive) < 1e-9
        lines.append(("compare, CSV preds (vs naive script)", t_csv, t_naive))
        t_jsonl, rep_j = timed(compare, paths["jsonl"], paths["gt"])
        assert abs(rep_j.groups["koniq"]["plcc"] - p_naive) < 1e-9
        lines.append(("compare, JSONL preds (vs naive script on CSV)", t_jsonl, t_naive))
        t_fit, rep_f = timed(compare, paths["csv"], paths["gt"], fit="logistic4")
        assert rep_f.groups["koniq"]["fit"]["converged"]
        lines.append(("compare, CSV preds, --fit logistic4 (vs naive)", t_fit, t_naive))
        t_sniff, _ = timed(pd.read_csv, paths["csv"], sep=None, engine="python")
        lines.append(("compare, CSV (vs pandas sep=None sniffing, read only)", t_csv, t_sniff))

        used = rep.rows[rep.rows["used"]]
        x, y = used["prediction"].to_numpy(), used["gt"].to_numpy()
        from scipy import stats

        def scipy_only():
            return (stats.pearsonr(x, y), stats.spearmanr(x, y), stats.kendalltau(x, y),
                    np.sqrt(np.mean((x - y) ** 2)), np.mean(np.abs(x - y)))

        t_scipy, _ = timed(scipy_only)
        t_metrics, _ = timed(metrics.score_metrics, x, y)
        lines.append(("metrics only, score_metrics (vs scipy calls)", t_metrics, t_scipy))

        from rouge_score import rouge_scorer

        k = args.rouge_pairs
        refs = [f"the photo shows a {w} cat on a sofa with slight blur and noise" for w in ("grey", "black") * (k // 2)]
        gens = ["a cat on a sofa; slight blur, some noise in the shadows. the subject is clear"] * len(refs)
        scorer = rouge_scorer.RougeScorer(["rouge1"])
        t_rs, _ = timed(lambda: [scorer.score(r.lower(), g_.lower()) for r, g_ in zip(refs, gens)])
        t_r1, _ = timed(metrics.rouge1, refs, gens)
        lines.append((f"ROUGE-1, {len(refs):,} pairs (vs rouge-score loop)", t_r1, t_rs))

    width = max(len(name) for name, _, _ in lines)
    print(f"{'':<{width}}  {'wall s: ours':>12} {'base':>6} {'ratio':>6}   {'CPU s: ours':>11} {'base':>6} {'ratio':>6}")
    for name, ours, base in lines:
        print(f"{name:<{width}}  {ours.wall:12.2f} {base.wall:6.2f} {base.wall / ours.wall:5.2f}x   "
              f"{ours.cpu:11.2f} {base.cpu:6.2f} {base.cpu / ours.cpu:5.2f}x")
    print(f"\nROUGE-1 per pair: {t_r1.wall / len(refs) * 1e6:.0f} us; load average when done: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
