"""Images per second of the generation backends, side by side in one run, on the same model and inputs.

(a) naive: processor + generate one image at a time with stock transformers (what demo scripts do),
(b) qassess's transformers backend, batched, (c) qassess's vLLM backend, all images in one call.
Every setup makes exactly --max-new-tokens tokens per image (min_new_tokens = max_new_tokens), greedy.
Start-up (model load; for vLLM also its import and engine) is reported separately from throughput.

    .venv/bin/python bench/bench_backends.py --size tiny --images 64
    .venv/bin/python bench/bench_backends.py --size small --images 32 --dtype bfloat16
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "system", "content": "Describe the picture's quality, reason about it, then rate it from 1 to 5."},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is your overall rating?"}]},
]


def make_images(n: int, min_pixels: int, max_pixels: int, seed: int = 0) -> list:
    """Photo-like inputs (smooth gradients plus noise, varied aspect ratios) at the budget's exact size."""
    import numpy as np
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    rng = np.random.default_rng(seed)
    shapes = [(4000, 3000), (3000, 4000), (1920, 1080), (1024, 1024), (800, 1200)]
    images = []
    for i in range(n):
        w, h = shapes[i % len(shapes)]
        h, w = smart_resize(h, w, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1) % 256), (yy * 3 % 256), ((xx + yy) % 256)], axis=-1)
        noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        images.append(Image.fromarray(noisy))
    return images


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of `repeats` runs (callers warm up first), and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def naive(model_dir: str, images: list, args) -> tuple[float, float, list[str]]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    start = time.perf_counter()
    processor = AutoProcessor.from_pretrained(model_dir)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype).eval()
    startup = time.perf_counter() - start
    size = {"shortest_edge": args.min_pixels, "longest_edge": args.max_pixels}

    def run(batch=images):
        texts = []
        for image in batch:
            text = processor.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
            enc = processor(text=[text], images=[image], images_kwargs={"size": size}, return_tensors="pt")
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                                     do_sample=False)
            new = out[0, enc["input_ids"].shape[1]:]
            assert len(new) == args.max_new_tokens
            texts.append(processor.decode(new, skip_special_tokens=True))
        return texts

    run(images[:2])
    seconds, texts = timed(run, args.repeats)
    return startup, seconds, texts


def qassess_backend(name: str, model_dir: str, images: list, args, batch_size: int | None):
    from qassess.backends import create_backend
    from qassess.backends.base import Request, Sampling

    start = time.perf_counter()
    backend = create_backend(name, model_dir, dtype=args.dtype, min_pixels=args.min_pixels,
                             max_pixels=args.max_pixels)
    startup = time.perf_counter() - start
    sampling = Sampling(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens)
    requests = [Request(MESSAGES, image) for image in images]
    step = batch_size or len(requests)

    def run(batch=requests):
        texts = []
        for i in range(0, len(batch), step):
            texts += [t[0] for t in backend.generate(batch[i:i + step], sampling)]
        return texts

    try:
        run(requests[:2])
        seconds, texts = timed(run, args.repeats)
    finally:
        backend.close()
    return startup, seconds, texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=["tiny", "small"], default="tiny")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--vision-tokens", type=int, default=256, help="max vision tokens per image (budget)")
    parser.add_argument("--batch-sizes", default="8,16", help="batch sizes tried for the transformers backend")
    parser.add_argument("--vllm-batch-sizes", default="all",
                        help='requests per vLLM generate call, e.g. "8,all" (qassess score sends --batch-size)')
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for every setup (default: torch's); 1 avoids OpenMP oversubscription "
                             "when other jobs share the cores")
    parser.add_argument("--no-vllm", action="store_true")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by vLLM's engine process
        import torch

        torch.set_num_threads(args.threads)
    args.min_pixels, args.max_pixels = 4 * 28 * 28, args.vision_tokens * 28 * 28
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from qassess.build.tiny import build_tiny_model

    model_dir = str(build_tiny_model(ROOT / ".cache" / f"bench-{args.size}", size=args.size, seed=0))
    images = make_images(args.images, args.min_pixels, args.max_pixels)
    tokens = sum((im.width // 28) * (im.height // 28) for im in images) / len(images)
    print(f"model {args.size} ({args.dtype}), {args.images} images, ~{tokens:.0f} vision tokens each, "
          f"{args.max_new_tokens} new tokens each, greedy, median of {args.repeats}; {os.cpu_count()} CPUs, "
          f"{args.threads or 'default'} threads, load average {os.getloadavg()[0]:.1f}")

    rows = []
    startup, seconds, reference = naive(model_dir, images, args)
    rows.append(("naive per-image transformers", startup, seconds))
    for b in [int(x) for x in args.batch_sizes.split(",") if x]:
        startup, seconds, texts = qassess_backend("transformers", model_dir, images, args, b)
        rows.append((f"transformers backend, batch {b}", startup, seconds))
        same = sum(a == t for a, t in zip(reference, texts))
        print(f"  transformers b{b}: {same}/{len(texts)} texts equal to naive")
    if not args.no_vllm:
        start = time.perf_counter()
        import vllm  # noqa: F401 - timed separately: it is most of vLLM's start-up

        import_s = time.perf_counter() - start
        import subprocess

        probe = "import time; t = time.perf_counter(); import vllm; print(time.perf_counter() - t)"
        cold = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
        if cold.returncode == 0:
            print(f"  vLLM import in a fresh process: {float(cold.stdout.split()[-1]):.1f} s "
                  f"(here, after torch/transformers: {import_s:.1f} s)")
        for b in args.vllm_batch_sizes.split(","):
            size = None if b == "all" else int(b)
            startup, seconds, texts = qassess_backend("vllm", model_dir, images, args, size)
            rows.append((f"vLLM backend, {b} per call (import {import_s:.0f} s + engine)", import_s + startup, seconds))
            same = sum(a == t for a, t in zip(reference, texts))
            print(f"  vLLM {b}: {same}/{len(texts)} texts equal to naive (random weights: near-ties may flip)")

    base = args.images / rows[0][2]
    print(f"\n{'setup':<56} {'start-up s':>10} {'img/s':>8} {'vs naive':>9}")
    for label, startup, seconds in rows:
        rate = args.images / seconds
        print(f"{label:<56} {startup:>10.1f} {rate:>8.2f} {rate / base:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
