"""Image preparation speed on large JPEGs, side by side in one run.

(a) naive: Image.open().convert("RGB").resize(target, LANCZOS)   (full decode)
(b) qassess.io.images.load_image                                   (JPEG draft decode, then LANCZOS)
(c) qassess.io.images.prefetch_images, 2 worker threads             (what the scoring pipeline uses)

Prints images per second (median of rounds, methods interleaved per round), the ratio to (a), the
CPU cores the method kept busy (CPU seconds / wall seconds: on a busy shared machine the thread pool
cannot show its gain in img/s, but this column still shows whether its threads overlap), and the
PSNR of (b) against (a): the fast path must give the same picture.

    .venv/bin/python bench/bench_image_prep.py [--n 12] [--size 4000x3000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from qassess.io.images import PixelBudget, load_image, prefetch_images, target_size


def make_photos(folder: Path, n: int, width: int, height: int) -> list[Path]:
    """Photo-like JPEGs (gradients, edges, fine texture, sensor noise) at quality 90: files of a few MB,
    as cameras write them; each differs so no decoder cache can help."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width * 180, yy / height * 160 + 40, (xx + yy) / (width + height) * 200], -1)
    base += 30 * np.sin(xx / 37.0)[..., None] * np.cos(yy / 23.0)[..., None]
    paths = []
    for i in range(n):
        img = base + rng.standard_normal(base.shape, dtype=np.float32) * 10
        img[(yy // 400 + xx // 400 + i) % 3 == 0] *= 0.6  # hard-edged blocks
        p = folder / f"photo_{i:02d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, quality=90)
        paths.append(p)
    return paths


def naive(path: Path, budget: PixelBudget) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB").resize(target_size(*im.size, budget), Image.Resampling.LANCZOS)


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = float(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def run(paths: list[Path], budget: PixelBudget, rounds: int) -> None:
    methods = {
        "(a) naive full decode": lambda: [naive(p, budget) for p in paths],
        "(b) load_image": lambda: [load_image(p, budget) for p in paths],
        "(c) prefetch_images x2": lambda: [img for _, img, _ in prefetch_images(paths, budget, workers=2)],
    }
    times: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            assert all(o is not None for o in out), f"{name} failed to load an image"
    w, h = Image.open(paths[0]).size
    tw, th = target_size(w, h, budget)
    print(f"\nbudget max_pixels={budget.max_pixels:,} -> target {tw}x{th} ({tw * th / 1e6:.2f} MP)")
    print(f"{'method':<26}{'img/s':>8}{'ms/img':>9}{'vs (a)':>8}{'cores used':>12}")
    base = len(paths) / statistics.median(times["(a) naive full decode"])
    for name, ts in times.items():
        rate = len(paths) / statistics.median(ts)
        cores = sum(cpu[name]) / sum(ts)  # CPU seconds per wall second: >1 means the threads overlap
        print(f"{name:<26}{rate:>8.2f}{1000 / rate:>9.0f}{rate / base:>7.2f}x{cores:>12.2f}")
    scores = [psnr(load_image(p, budget), naive(p, budget)) for p in paths]
    print(f"PSNR (b) vs (a): mean {statistics.mean(scores):.1f} dB, min {min(scores):.1f} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="number of images")
    ap.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the generated JPEGs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-pixels", type=int, nargs="+", default=[1280 * 28 * 28, 256 * 28 * 28],
                    help="pixel budgets to try (Qwen: 28x28 pixels per vision token)")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="qassess-bench-") as tmp:
        t = time.perf_counter()
        paths = make_photos(Path(tmp), args.n, width, height)
        mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        print(f"{args.n} JPEGs {width}x{height} ({mb:.1f} MB each) made in {time.perf_counter() - t:.1f}s; "
              f"median of {args.rounds} rounds; {len(__import__('os').sched_getaffinity(0))} CPUs visible")
        for max_pixels in args.max_pixels:
            run(paths, PixelBudget(min_pixels=3136, max_pixels=max_pixels), args.rounds)


if __name__ == "__main__":
    main()
