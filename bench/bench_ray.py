"""`--engine ray` against the plain local run, same images, model and settings, side by side in one run.

Three jobs on the same N images (photos from data/photos, repeated under new names if there are fewer):
the local engine (`qassess.engines.local.run_score`: one process, prefetching loader), then `--engine ray`
(`qassess.engines.ray_run.run_ray`) with 1 replica and with 2 replicas on a local cluster started once
(its start-up is reported apart), then the local engine again (the machine's load drifts: the two local
runs bracket the Ray ones). Every wall time includes model loading (each replica loads its own
copy). Greedy decoding, so every engine writes the same text; the script checks that and reports it.

    PYTHONPATH=. .venv/bin/python bench/bench_ray.py --images 64
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def gather_images(src: Path, n: int, dest: Path) -> list[Path]:
    from qassess.io.sources import discover_images

    found = discover_images([src])
    dest.mkdir(parents=True)
    out = []
    for i in range(n):
        source = found[i % len(found)]
        target = dest / f"{i:04d}_{source.name}"
        shutil.copyfile(source, target)
        out.append(target)
    return out


def rows_of(folder_or_file: Path) -> dict[str, dict]:
    files = sorted(folder_or_file.glob("part-*.jsonl")) if folder_or_file.is_dir() else [folder_or_file]
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    return {os.path.abspath(r["path"]): r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--photos", type=Path, default=ROOT / "data" / "photos")
    ap.add_argument("--model", default="qassess-demo-v1")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: the model preset's")
    ap.add_argument("--replicas", default="1,2", help="comma-separated replica counts to run")
    args = ap.parse_args()

    from qassess.engines.ray_run import connect, run_ray
    from qassess.engines.local import run_score
    from qassess.core.assessor import Settings

    settings = Settings(model=args.model, backend="transformers", batch_size=args.batch_size, temperature=0,
                        max_new_tokens=args.max_new_tokens)
    quiet = lambda msg: None  # noqa: E731
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gather_images(args.photos, args.images, tmp / "photos")
        load0 = os.getloadavg()[0]

        start = time.perf_counter()
        tally = run_score([tmp / "photos"], tmp / "local.jsonl", settings, resume=False, log=quiet)
        results.append(("local (1 process)", time.perf_counter() - start, tally.done))
        reference = rows_of(tmp / "local.jsonl")

        start = time.perf_counter()
        connect(None, quiet)
        cluster_start = time.perf_counter() - start
        import ray

        try:
            for replicas in [int(r) for r in args.replicas.split(",")]:
                out = tmp / f"ray{replicas}"
                start = time.perf_counter()
                tally = run_ray([str(tmp / "photos")], str(out), settings, replicas=replicas, resume=False, log=quiet)
                wall = time.perf_counter() - start
                got = rows_of(out)
                same = sum(got[p]["raw"] == reference[p]["raw"] for p in reference if p in got)
                results.append((f"ray, {replicas} replica(s)", wall, tally.done, same, len(reference)))
        finally:
            ray.shutdown()
        # The local run again, last: on a shared machine the load drifts, so the local runs bracket Ray's.
        start = time.perf_counter()
        tally = run_score([tmp / "photos"], tmp / "local2.jsonl", settings, resume=False, log=quiet)
        results.append(("local again (after the Ray runs)", time.perf_counter() - start, tally.done))
        load1 = os.getloadavg()[0]

    base = (results[0][1] + results[-1][1]) / 2  # the mean of the two local runs
    print(f"{args.images} images, model {args.model}, transformers, batch {args.batch_size}, greedy; "
          f"{os.cpu_count()} CPUs; load average {load0:.1f} before, {load1:.1f} after")
    print(f"local Ray cluster start-up (ray.init): {cluster_start:.1f} s (not in the times below)")
    print("| engine | wall s | img/s | speed vs local (mean of both local runs) | rows | same raw text as local |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, wall, n, *same in results:
        agree = f"{same[0]}/{same[1]}" if same else "-"
        print(f"| {name} | {wall:.1f} | {n / wall:.2f} | {base / wall:.2f}x | {n} | {agree} |")
    ray_rows = {name: wall for name, wall, *_ in results[1:-1]}
    if len(ray_rows) >= 2:
        (n1, w1), (n2, w2) = list(ray_rows.items())[:2]
        print(f"{n2} vs {n1}: {w1 / w2:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
