"""The one table reader (qassess.io.tables) against the readers it replaced, and Parquet against CSV/JSONL
for a large `qassess score` output, side by side in one run.

(a) unified vs old: the caption-table reader of `qassess score` (qassess.inputs.scan_captions) and the
    training-row reader (qassess.train.data.read_rows) as they were at commit 2c62e52 (loaded with
    `git show`), against today's, on the same large CSV / JSONL tables; outputs checked equal (a JSON
    null is now left out of its row instead of kept as None: the same to every `row.get`).
(b) reading a qassess output of --rows rows (every column) the way `qassess compare` does (id, rating,
    status, error selected): CSV vs JSONL vs Parquet, plus file sizes.

Each line prints wall and CPU seconds and the ratio to its baseline (CPU is steadier on a shared machine;
pyarrow's readers use threads, so CPU may exceed wall).

    .venv/bin/python bench/bench_tables.py [--rows 1000000] [--table-rows 200000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qassess.io.captions import scan_captions  # noqa: E402
from qassess.io.tables import read_table  # noqa: E402
from qassess.train.data import read_rows  # noqa: E402

OLD_COMMIT = "2c62e52"  # the last commit with three table readers


def old_module(path: str, name: str) -> types.ModuleType:
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:{path}"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{OLD_COMMIT}:{path}", "exec"), module.__dict__)
    return module


def timed(fn, repeat: int = 3):
    best = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        best = (w, c, out) if best is None or w < best[0] else best
    return best


def line(label: str, w: float, c: float, base: tuple[float, float] | None = None) -> None:
    ratio = f"  x{base[0] / w:5.2f} wall, x{base[1] / c:5.2f} cpu vs baseline" if base else "  (baseline)"
    print(f"  {label:<42} {w:7.2f} s wall {c:7.2f} s cpu{ratio}")


def make_output(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rating = np.round(rng.uniform(1, 5, n), 3)
    status = np.where(rng.random(n) < 0.01, "parse_error", "ok")
    words = np.array("sharp soft noisy dark bright blurred vivid flat grainy crisp warm cold".split())
    w = words[rng.integers(0, len(words), (n, 3))]
    caption = np.char.add(np.char.add(np.char.add("A ", w[:, 0]), " photo of a street, "), w[:, 1])
    reasoning = np.char.add(np.char.add("The edges are ", w[:, 2]), " and the exposure is balanced overall.")
    ids = np.char.add("img", np.arange(n).astype(str))
    return pd.DataFrame({
        "id": ids, "path": np.char.add(np.char.add("/data/photos/", ids), ".jpg"), "mode": "image",
        "model": "qassess-demo-v1", "backend": "vllm", "template": "paper",
        "rating": np.where(status == "ok", rating, np.nan), "caption": caption, "reasoning": reasoning,
        "raw": np.char.add(np.char.add("<caption>", caption), "</caption>"), "status": status,
        "error": np.where(status == "ok", "", "no <answer> block"), "pixels": 200704, "max_pixels": 200704})


def bench_unified_vs_old(folder: Path, n: int) -> None:
    old_inputs = old_module("qassess/inputs.py", "old_inputs")
    old_training = old_module("qassess/training_data.py", "old_training_data")
    frame = make_output(n, seed=1)[["id", "caption", "rating", "status"]]
    csv_path, jsonl_path = folder / "caps.csv", folder / "caps.jsonl"
    frame.to_csv(csv_path, index=False)
    frame.to_json(jsonl_path, orient="records", lines=True)
    print(f"(a) unified reader vs the old readers, {n:,} rows (id, caption, rating, status)")
    for label, path in (("CSV", csv_path), ("JSONL", jsonl_path)):
        w0, c0, old = timed(lambda: old_inputs.scan_captions([path]))
        w1, c1, new = timed(lambda: scan_captions([path]))
        assert [(i.id, i.caption, i.source) for i in old.items] == [(i.id, i.caption, i.source) for i in new.items]
        line(f"captions {label}: old inputs.scan_captions", w0, c0)
        line(f"captions {label}: qassess.io.tables (raw)", w1, c1, (w0, c0))
        w0, c0, old = timed(lambda: old_training.read_rows(path))
        w1, c1, new = timed(lambda: read_rows(path))
        assert [{k: v for k, v in r.items() if v is not None} for r in old] == new, "read_rows changed"
        line(f"train rows {label}: old read_rows", w0, c0)
        line(f"train rows {label}: qassess.io.tables (raw)", w1, c1, (w0, c0))


def bench_parquet_vs_csv(folder: Path, n: int) -> None:
    out = make_output(n)
    paths = {"csv": folder / "out.csv", "jsonl": folder / "out.jsonl", "parquet": folder / "out.parquet"}
    out.to_csv(paths["csv"], index=False)
    out.to_json(paths["jsonl"], orient="records", lines=True)
    out.to_parquet(paths["parquet"], index=False)
    print(f"(b) a qassess output of {n:,} rows, read as compare does (id, rating, status, error)")
    for kind, p in paths.items():
        print(f"  size {kind:<8} {p.stat().st_size / 1e6:8.1f} MB")

    def select(columns, headerless):
        return {"id": "text", "rating": "number", "status": "text", "error": "text"}

    results = {}
    base = None
    for kind in ("csv", "jsonl", "parquet"):
        w, c, table = timed(lambda: read_table(paths[kind], select), repeat=2)
        results[kind] = table.frame
        line(f"read_table {kind}", w, c, base)
        base = base or (w, c)
    for kind in ("jsonl", "parquet"):
        a, b = results["csv"], results[kind]
        assert a["id"].tolist() == b["id"].tolist() and np.allclose(a["rating"], b["rating"], equal_nan=True)
    w0, c0, _ = timed(lambda: read_table(paths["csv"]), repeat=1)
    line("read_table csv, every column", w0, c0)
    w, c, _ = timed(lambda: read_table(paths["parquet"]), repeat=1)
    line("read_table parquet, every column", w, c, (w0, c0))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--table-rows", type=int, default=200_000)
    ap.add_argument("--keep", type=Path, default=None, help="Write the data here (kept) instead of a temp dir.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bench_unified_vs_old(folder, args.table_rows)
        bench_parquet_vs_csv(folder, args.rows)
    print(json.dumps({"rows": args.rows, "table_rows": args.table_rows}))


if __name__ == "__main__":
    main()
