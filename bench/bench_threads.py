"""Torch threads on a shared machine: one vision pre-training step of a model folder with 1 vs N threads.

Why: on this project's 2-core machine, shared with other jobs, two torch threads per process spend their
time waiting for each other; `make model` therefore runs its stages with THREADS=1. Each setting runs in
its own process, one after the other, in the same run; the figure is the median of the steps' seconds.

    .venv/bin/python bench/bench_threads.py MODEL_DIR [--threads 1 2] [--steps 3] [--batch 32] [--crop 168]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

STEP = r"""
import json, sys, time, torch
from PIL import Image
from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
folder, threads, steps, batch, crop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)
processor = AutoProcessor.from_pretrained(folder)
image = Image.new("RGB", (crop, crop))
image.putdata([((x * 7) % 256, (x * 13) % 256, (x * 29) % 256) for x in range(crop * crop)])
inputs = processor.image_processor(images=[image] * batch, return_tensors="pt")
times = []
for _ in range(steps):
    start = time.perf_counter()
    out = model.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
    tokens = getattr(out, "pooler_output", None)
    (tokens if tokens is not None else out[0]).sum().backward()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=168)
    args = ap.parse_args()
    base = None
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for n in args.threads:
        env = {**os.environ, "OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)}
        out = subprocess.run([sys.executable, "-c", STEP, args.model, str(n), str(args.steps), str(args.batch),
                              str(args.crop)], capture_output=True, text=True, env=env, check=True)
        seconds = statistics.median(json.loads(out.stdout.strip().splitlines()[-1]))
        base = base or seconds
        print(f"{n} thread(s): {seconds:.2f} s per step ({seconds / base:.2f}x the first setting)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
