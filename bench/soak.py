"""Soak: `qassess score` killed with SIGKILL at random moments and rerun after each kill until it finishes;
then count rows lost and rows duplicated (both must be 0: results are appended per batch and a torn
last record is cut off on resume).

N small synthetic images (distinct colours and sizes) are scored with the embedded model (transformers
backend, greedy). Each round
starts the command, waits a random time drawn from [--min-wait, --max-wait] s, and kills the process
group; a round whose run exits by itself ends the soak. With --base-url, the same against servers the
caller runs (and kills and restarts, e.g. two `qassess serve` in a loop of their own).

    PYTHONPATH=. .venv/bin/python bench/soak.py --images 5000 --min-wait 5 --max-wait 60
    PYTHONPATH=. .venv/bin/python bench/soak.py --images 200 --base-url http://127.0.0.1:8000/v1 \\
        --base-url http://127.0.0.1:8001/v1

Prints one JSON line per round and a summary line: rounds, kills, rows, unique paths, lost, duplicated,
wall time. Figures belong in docs/benchmarks.md with the date, the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"{i // 1000:03d}" / f"img{i:05d}.png"
        p.parent.mkdir(exist_ok=True)
        if not p.exists():
            Image.new("RGB", (48 + i % 40, 40 + i % 23), (i * 37 % 255, i * 11 % 255, 255 - i % 255)).save(p)
        paths.append(p)
    return paths


def rows_of(out: Path) -> list[dict]:
    if not out.exists():
        return []
    rows = []
    for line in out.read_bytes().split(b"\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # the torn record a kill leaves: the next run cuts it off
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--min-wait", type=float, default=5.0)
    parser.add_argument("--max-wait", type=float, default=60.0)
    parser.add_argument("--max-rounds", type=int, default=10_000)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the model's own")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--base-url", action="append", default=None, help="score on these servers instead")
    parser.add_argument("--workdir", type=Path, default=None, help="keep images and output here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stall-rounds", type=int, default=10,
                        help="stop when this many killed rounds in a row added no row (kills faster than a batch)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="qassess-soak-"))
    photos, out = work / "photos", work / "out.jsonl"
    want = {os.path.abspath(p) for p in make_images(photos, args.images)}
    command = [sys.executable, "-m", "qassess", "score", str(photos), "-o", str(out), "--temperature", "0",
               "--batch-size", str(args.batch_size)]
    if args.max_new_tokens:
        command += ["--max-new-tokens", str(args.max_new_tokens)]
    command += [x for url in args.base_url for x in ("--base-url", url)] if args.base_url else ["--backend", "transformers"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started, kills, stalled, before = time.monotonic(), 0, 0, 0
    for round_no in range(1, args.max_rounds + 1):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        wait = rng.uniform(args.min_wait, args.max_wait)
        try:
            proc.wait(timeout=wait)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed, kills = True, kills + 1
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        rows = rows_of(out)
        paths = [r["path"] for r in rows]
        print(json.dumps({"round": round_no, "killed_after_s": round(wait, 1) if killed else None,
                          "exit": proc.returncode, "rows": len(rows), "unique": len(set(paths)),
                          "last_line": err[-1] if err else ""}), flush=True)
        stalled = stalled + 1 if killed and len(rows) == before else 0
        before = len(rows)
        if stalled >= args.stall_rounds:
            sys.exit(f"{stalled} kills in a row without a new row: each run needs longer than --max-wait "
                     f"({args.max_wait:g} s) to load the model and finish a batch here; raise --min-wait")
        if not killed:
            if proc.returncode != 0:
                sys.exit(f"the run failed by itself (exit {proc.returncode}): {err[-1] if err else ''}")
            break
    rows = rows_of(out)
    paths = [os.path.abspath(r["path"]) for r in rows]
    summary = {"images": args.images, "rounds": round_no, "kills": kills, "rows": len(rows),
               "unique": len(set(paths)), "lost": len(want - set(paths)), "duplicated": len(paths) - len(set(paths)),
               "statuses": {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})},
               "wall_s": round(time.monotonic() - started, 1), "workdir": str(work)}
    print(json.dumps(summary), flush=True)
    if summary["lost"] or summary["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
