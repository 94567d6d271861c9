"""Ratings from probabilities and the one-pass stage 2, measured side by side in one run.

On held-out images of a `qassess data synth` set (photos never trained on), with one loaded model:

    stated            greedy, the number the model writes (probability reading off: the cost baseline)
    stated + probs    greedy with rating_expected read from the digit tokens (the default)
    mean of N         --samples N at the paper's sampling (temperature 1, top-p 0.95, top-k 50, seed 42)
    self-check gen    stated + probs + stage 2 generated from each caption (the paper's way)
    self-check pre    stated + probs + stage 2 read in one forward pass (--self-check-mode prefill)

For each: SRCC / PLCC against the labels, process CPU seconds and wall seconds, and the ratio to
`stated`; for stage 2: the caption-only SRCC of each mode and how well `prefill` agrees with `generate`.

    .venv/bin/python bench/bench_probs.py [--synth .cache/synth ...] [--per-photo 10] [--samples 8]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]


def pick_images(synths: list[Path], per_photo: int, whole_set: bool = False) -> tuple[list[Path], dict[str, float]]:
    """`per_photo` images of each held-out photo, evenly spread over its sorted distorted copies.
    `whole_set`: every photo of the set is held out (a set made from held-out photos only), so its
    train.json rows count too."""
    paths, labels = [], {}
    for synth in synths:
        by_source: dict[str, list[dict]] = {}
        splits = ("test.json", "train.json") if whole_set else ("test.json",)
        for r in (row for split in splits for row in json.loads((synth / split).read_text())):
            by_source.setdefault(r["source"], []).append(r)
        for source in sorted(by_source):
            items = sorted(by_source[source], key=lambda r: r["image"])
            for r in items[::max(1, len(items) // per_photo)][:per_photo]:
                paths.append(synth / "images" / r["image"])
                labels[Path(r["image"]).stem] = float(r["normalized_score"])
    return paths, labels


def corr(pred: list[float | None], labels: list[float]) -> tuple[float, float, int]:
    pairs = [(p, g) for p, g in zip(pred, labels) if p is not None]
    x, y = np.array([p for p, _ in pairs]), np.array([g for _, g in pairs])
    return float(stats.spearmanr(x, y)[0]), float(stats.pearsonr(x, y)[0]), len(pairs)


def timed(assessor, paths):
    wall, cpu = time.perf_counter(), time.process_time()
    rows = list(assessor.score(paths))
    return rows, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synth", type=Path, action="append", default=None,
                        help="a `qassess data synth` output (repeatable; default .cache/synth)")
    parser.add_argument("--model", default=None, help="default: the embedded qassess-demo-v1")
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--per-photo", type=int, default=10)
    parser.add_argument("--whole-set", action="store_true",
                        help="the sets hold only photos the model never saw: use train.json rows too")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="write every number here too")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is the work done)")
    parser.add_argument("--repeats", type=int, default=2, help="run the set-ups this many times, interleaved")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from qassess.backends import create_backend
    from qassess.models import resolve_model
    from qassess.core.assessor import Assessor, Settings

    paths, labels = pick_images(args.synth or [ROOT / ".cache" / "synth"], args.per_photo, args.whole_set)
    truth = [labels[p.stem] for p in paths]
    resolved = resolve_model(args.model or "qassess-demo-v1")
    backend = create_backend(args.backend, resolved.path, dtype="float32")
    base = dict(model=args.model or "qassess-demo-v1", backend=args.backend, batch_size=args.batch_size, dtype="float32")
    setups = {
        "stated": dict(probs=False),
        "stated + probs": dict(),
        f"mean of {args.samples}": dict(samples=args.samples, temperature=1.0, top_p=0.95, top_k=50, seed=42, probs=False),
        "self-check gen": dict(self_check=True, self_check_mode="generate"),
        "self-check pre": dict(self_check=True, self_check_mode="prefill"),
    }
    results: dict[str, dict] = {}
    with Assessor(Settings(**base), loaded_backend=backend) as warm:  # warm-up: first batch pays one-off costs
        list(warm.score(paths[:args.batch_size]))
    for repeat in range(args.repeats):  # interleaved, so load from other processes hits every set-up alike
        for label, extra in setups.items():
            with Assessor(Settings(**base, **extra), loaded_backend=backend) as assessor:
                rows, wall, cpu = timed(assessor, paths)
            r = results.setdefault(label, {"rows": rows, "walls": [], "cpus": []})
            r["walls"].append(wall)
            r["cpus"].append(cpu)
            print(f"  {label} (repeat {repeat + 1}): {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    for r in results.values():  # medians over the repeats
        r["wall"], r["cpu"] = float(np.median(r["walls"])), float(np.median(r["cpus"]))
    backend.close()

    out = {"images": len(paths), "photos": len({p.parent.name for p in paths}), "setups": {}}
    base_cpu, base_wall = results["stated"]["cpu"], results["stated"]["wall"]
    print(f"\n{len(paths)} held-out images ({out['photos']} photos), {args.backend}, float32, torch threads "
          f"{args.threads}; SRCC/PLCC against the synthetic labels; costs: medians of {args.repeats} interleaved "
          "runs, relative to `stated`")
    print(f"{'set-up':<22} {'rating':<16} {'SRCC':>6} {'PLCC':>6} {'n':>4} {'CPU s':>7} {'ratio':>6} {'wall s':>7} {'ratio':>6}")

    def line(label: str, column: str, values: list, cost: bool) -> None:
        srcc, plcc, n = corr(values, truth)
        r = results[label]
        costs = (f"{r['cpu']:>7.1f} {r['cpu'] / base_cpu:>6.2f} {r['wall']:>7.1f} {r['wall'] / base_wall:>6.2f}"
                 if cost else "")
        print(f"{label:<22} {column:<16} {srcc:>6.3f} {plcc:>6.3f} {n:>4} {costs}")
        out["setups"].setdefault(label, {"cpu_s": r["cpu"], "wall_s": r["wall"],
                                         "cpu_ratio": r["cpu"] / base_cpu, "wall_ratio": r["wall"] / base_wall})
        out["setups"][label][column] = {"srcc": srcc, "plcc": plcc, "n": n}

    def col(label: str, key: str) -> list:
        return [r.get(key) for r in results[label]["rows"]]

    line("stated", "rating", col("stated", "rating"), True)
    line("stated + probs", "rating", col("stated + probs", "rating"), True)
    line("stated + probs", "rating_expected", col("stated + probs", "rating_expected"), False)
    levels = [None if p is None else sum((i + 1) * q for i, q in enumerate(p)) for p in col("stated + probs", "rating_probs")]
    line("stated + probs", "levels only", levels, False)
    line(f"mean of {args.samples}", "rating (mean)", col(f"mean of {args.samples}", "rating"), True)
    for label in ("self-check gen", "self-check pre"):
        line(label, "caption-only", col(label, "self_check_rating"), True)
    gen, pre = col("self-check gen", "self_check_rating"), col("self-check pre", "self_check_rating")
    both = [(g, p) for g, p in zip(gen, pre) if g is not None and p is not None]
    g, p = np.array([b[0] for b in both]), np.array([b[1] for b in both])
    agree = {"n": len(both), "srcc": float(stats.spearmanr(g, p)[0]), "plcc": float(stats.pearsonr(g, p)[0]),
             "mean_abs_gap": float(np.mean(np.abs(g - p)))}
    out["prefill_vs_generate"] = agree
    print(f"\nstage 2, prefill vs generate on the same captions: n {agree['n']}, SRCC {agree['srcc']:.3f}, "
          f"PLCC {agree['plcc']:.3f}, mean |gap| {agree['mean_abs_gap']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
