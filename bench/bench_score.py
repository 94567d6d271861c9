"""Where the wall time of `qassess score` goes: model vs everything else, in one run.

Scores a folder of large JPEGs (phone-sized, ~12 MP) end to end through `qassess.engines.local.run_score`
(discovery, image preparation in worker threads, prompts, generation, parsing, CSV writing) and times the
backend's `generate` calls inside the same run. The share outside the model is what the pipeline costs
on top of the model; with prefetching, image preparation overlaps generation instead of adding to it.
Runs the job twice in one process, with 1 and with 2 image-preparation workers, for the side-by-side
ratio. Every image gets exactly --tokens new tokens (min_new_tokens), greedy.

    .venv/bin/python bench/bench_score.py --size small --images 24
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def make_jpegs(folder: Path, n: int, size=(4000, 3000)) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        base = np.stack([xx * (i + 1) % 256, yy / 12 % 256, (xx + yy) / 23 % 256], axis=-1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"photo{i:03d}.jpg", quality=90)


def run(model: str, folder: Path, out: Path, args, workers: int) -> dict:
    import dataclasses

    from qassess.core import assessor as scoring
    from qassess.engines.local import run_score
    from qassess.core.assessor import Settings

    model_time = [0.0]
    original = scoring.Assessor._generate

    def timed_generate(self, requests, n):
        start = time.perf_counter()
        try:
            return original(self, requests, n)
        finally:
            model_time[0] += time.perf_counter() - start

    original_sampling = scoring.Assessor._sampling
    scoring.Assessor._generate = timed_generate
    scoring.Assessor._sampling = lambda self, n: dataclasses.replace(original_sampling(self, n),
                                                                     min_new_tokens=args.tokens)
    settings = Settings(model=model, backend=args.backend, batch_size=args.batch_size,
                        max_new_tokens=args.tokens, max_pixels=args.max_pixels, workers=workers)
    try:
        start = time.perf_counter()
        tally = run_score([folder], out, settings, resume=False, log=lambda m: None)
        wall = time.perf_counter() - start
    finally:
        scoring.Assessor._generate = original
        scoring.Assessor._sampling = original_sampling
    return {"wall": wall, "model": model_time[0], "n": tally.done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=["tiny", "small"])
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--max-pixels", type=int, default=256 * 28 * 28)
    ap.add_argument("--backend", default="transformers")
    args = ap.parse_args()

    from qassess.build.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = str(build_tiny_model(tmp / f"model-{args.size}", size=args.size, seed=0))
        (tmp / "photos").mkdir()
        make_jpegs(tmp / "photos", args.images)
        # warm-up (imports, first model load) so that both timed runs pay the same
        run(model, tmp / "photos", tmp / "warm.csv", args, workers=1)
        rows = []
        for label, workers in [("1 image worker", 1), ("2 image workers (default)", 2)]:
            rows.append((label, run(model, tmp / "photos", tmp / "out.csv", args, workers)))
    base = rows[0][1]["wall"]
    print(f"{args.images} JPEGs 4000x3000, model '{args.size}', backend {args.backend}, batch {args.batch_size}, "
          f"{args.tokens} new tokens, max_pixels {args.max_pixels}")
    print(f"{'run':28s} {'wall s':>7s} {'img/s':>6s} {'model s':>8s} {'outside model':>13s} {'speed-up':>8s}")
    for label, r in rows:
        outside = (r["wall"] - r["model"]) / r["wall"]
        print(f"{label:28s} {r['wall']:7.2f} {r['n'] / r['wall']:6.2f} {r['model']:8.2f} {outside:12.0%} "
              f"{base / r['wall']:7.2f}x")
    print("(model s = time inside generate, which includes the processor's tokenising; load time of the "
          "model is inside wall)")


if __name__ == "__main__":
    sys.exit(main())
