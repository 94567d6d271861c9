"""`qassess report` on a large run: build time, page size, and how soon the page is usable in chromium,
side by side with the naive page (every card written out as static HTML) in one run.

Writes a synthetic `qassess score` JSONL with every column (caption and reasoning ~650 characters a row,
random words of real English; --samples 3, --self-check, 1% parse errors, 0.5% load errors, 3% files gone since
scoring) whose paths cycle over the real photos in data/photos and samples/, and a KonIQ-style
ground truth in another order. Then:

    build               qassess.evaluate.report.build_report(preds, --gt): read + compare, thumbnails (thread
                        pool; vs one thread on 200 of the same files), page (JSON, gzip, write)
    page                size in MB, and in Debian chromium: load until interactive (data-ready), a
                        re-sort of every row by error, the next page of the gallery
    plain JSON page     the same page with its row data not gzipped: size, load time
    naive page          the same rows as static HTML cards (html.escape, same thumbnails), load time

    .venv/bin/python bench/bench_report.py [--rows 100000] [--thumbs 2000] [--keep DIR] [--no-naive]

The naive page of 100,000 rows takes minutes and gigabytes in chromium: compare at --rows 20000.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import html
import json
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qassess.evaluate.report import build_report, render_page  # noqa: E402
from qassess.evaluate.report.rows import load_run  # noqa: E402
from qassess.evaluate.report.thumbnails import Thumb, make_thumbnails  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# Captions and reasoning are random words from this project's own English prose (~2,000 distinct words,
# drawn uniformly): they compress about as well as real English, not as well as a model's repetitive text.
WORDS = sorted({w.strip(".,;:()`*|[]") for f in ("README.md", "MODEL.md") for w in (ROOT / f).read_text().split()
                if w.strip(".,;:()`*|[]").isalpha()})


def text(rng: np.random.Generator, n: int, words: int) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, words))
    return [" ".join(WORDS[j] for j in row) + "." for row in picks]


def make_data(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    photos = sorted(p for p in list((ROOT / "data" / "photos").rglob("*")) + list((ROOT / "samples").rglob("*"))
                    if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and "broken" not in p.name)
    ids = np.array([f"img{i:07d}" for i in range(n)], dtype=object)
    images = folder / "images"  # one name per row (a link to a real photo), as a real run has
    images.mkdir(exist_ok=True)
    gone = rng.random(n) < 0.03
    paths = np.empty(n, dtype=object)
    for i in range(n):
        photo = photos[i % len(photos)]
        link = images / f"{ids[i]}{photo.suffix}"
        paths[i] = str(link)
        if not gone[i] and not link.is_symlink():
            link.symlink_to(photo)
    mos = rng.uniform(1, 5, n).round(4)
    samples = np.clip(np.round(mos[:, None] + rng.normal(0, 0.8, (n, 3))), 1, 5)
    rating = samples.mean(axis=1).round(4)
    u = rng.random(n)
    status = np.where(u < 0.01, "parse_error", np.where(u < 0.015, "load_error", "ok"))
    ok = status == "ok"
    sc = np.clip(np.round(rating + rng.normal(0, 0.7, n)), 1, 5)
    preds = pd.DataFrame({
        "id": ids, "path": paths, "mode": "image", "model": "Qwen/Qwen2.5-VL-7B-Instruct", "backend": "vllm",
        "template": "paper", "rating": np.where(ok, rating, np.nan),
        "caption": np.where(ok, text(rng, n, 40), ""), "reasoning": np.where(ok, text(rng, n, 55), ""),
        "raw": np.where(ok, "<caption>...</caption><think>...</think><answer>{\"rating\": 3}</answer>",
                        "<caption>cut off</caption>"),
        "status": status, "error": np.where(status == "parse_error", "no <answer> block",
                                            np.where(status == "load_error", "truncated image", "")),
        "ratings": [list(map(float, s)) if o else None for s, o in zip(samples, ok)],
        "rating_std": np.where(ok, samples.std(axis=1).round(4), np.nan),
        "self_check_rating": np.where(ok, sc, np.nan), "self_check_gap": np.where(ok, np.abs(sc - rating), np.nan),
        "self_check_raw": "", "self_check_error": "", "pixels": 1003520, "max_pixels": 1003520})
    preds_path, gt_path = folder / "preds.jsonl", folder / "koniq.csv"
    preds.to_json(preds_path, orient="records", lines=True)
    order = rng.permutation(n)
    pd.DataFrame({"image_name": ids[order], "MOS": mos[order]}).to_csv(gt_path, index=False)
    return preds_path, gt_path


def naive_page(out: Path, thumbs: dict[int, str], run) -> None:
    """Every row as a static card: what a template engine would write."""
    r = run.rows
    cards = []
    for i in range(len(r)):
        img = f'<img src="{thumbs[i]}">' if i in thumbs else '<div class="nothumb">no picture</div>'
        cards.append(f'<div class="card">{img}<div class="id">{html.escape(r["name"].iat[i])}</div>'
                     f'<span>{html.escape(r["status"].iat[i])}</span> <span>{r["rating"].iat[i]:.2f}</span>'
                     f'<div class="text">{html.escape(r["caption"].iat[i])}</div></div>')
    style = ".card{display:inline-block;width:200px;vertical-align:top}.card img{width:200px;height:150px}"
    out.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><style>{style}</style></head><body>"
                   + "".join(cards) + "<script>document.body.dataset.ready='1'</script></body></html>",
                   encoding="utf-8")


def plain_page(report: Path, preds: Path, gt: Path, out: Path) -> Path:
    """The report as built, re-rendered with its row data as plain JSON (no gzip) for a side-by-side load."""
    page = report.read_text(encoding="utf-8")
    blob = page.split('data-encoding="gzip+base64">')[1].split("</script>")[0]
    data = json.loads(gzip.decompress(base64.b64decode(blob)))
    t = json.loads(page.split('id="qassess-thumbs">')[1].split("</script>")[0])
    thumbs = {r: (Thumb(u, w, h), f) for r, u, w, h, f in zip(t["row"], t["uri"], t["w"], t["h"], t["file"])}
    run = load_run(preds, [str(gt)])
    out.write_text(render_page(run, thumbs, data["thumb_note"], data["columns"]["why"], title="plain",
                               compress=False), encoding="utf-8")
    return out


def open_times(browser, page_path: Path, interact: bool) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t = time.perf_counter()
    page.goto(page_path.resolve().as_uri(), timeout=600_000)
    page.wait_for_selector("body[data-ready='1']", timeout=600_000)
    out = {"interactive": time.perf_counter() - t}
    marks = page.evaluate("() => [performance.timing.responseEnd - performance.timing.navigationStart, "
                          "performance.timing.domInteractive - performance.timing.navigationStart, "
                          "Number(document.body.dataset.dataMs || 0), Number(document.body.dataset.readyMs || 0)]")
    out["marks"] = "file read {}, DOM interactive {}, data ready {}, drawn {} ms".format(*marks)
    if interact:
        first = page.eval_on_selector("#grid .card", "c => c.dataset.row")
        t = time.perf_counter()
        page.select_option("#sort", "error")
        page.wait_for_function(f"document.querySelector('#grid .card').dataset.row !== '{first}'")
        out["sort"] = time.perf_counter() - t
        t = time.perf_counter()
        page.click("#next")
        page.wait_for_selector("text=page 2 of")
        out["next page"] = time.perf_counter() - t
        out["cards"] = page.locator("#grid .card").count()
    page.close()
    if errors:
        raise RuntimeError(f"{page_path}: {errors}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--thumbs", type=int, default=2000)
    ap.add_argument("--keep", type=Path, help="write the data and pages here (default: a temporary folder)")
    ap.add_argument("--no-naive", action="store_true", help="skip the static-HTML page")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{args.rows:,} rows, --max-thumbnails {args.thumbs}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other jobs on the machine), data in {folder}")
    preds, gt = make_data(folder, args.rows)
    print(f"predictions {preds.stat().st_size / 1e6:.1f} MB")

    out = folder / "report.html"
    quiet = lambda m: None  # noqa: E731
    warm = {Path(p) for p in pd.read_json(preds, lines=True)["path"] if Path(p).is_file()}
    for f in warm:  # the thumbnails read from the page cache, as in the one-thread run below
        f.read_bytes()
    result = build_report(preds, out, ground_truth=[str(gt)], max_thumbnails=args.thumbs, log=quiet)
    tm = result["timings"]
    size = out.stat().st_size
    thumb_blob = json.loads(out.read_text(encoding="utf-8").split('id="qassess-thumbs">')[1].split("</script>")[0])
    files = [Path(urllib.parse.unquote(u[len("file://"):])) for u in thumb_blob["file"][:200]]
    t = time.perf_counter()
    make_thumbnails(files, workers=1, log=quiet)
    one = (time.perf_counter() - t) / max(len(files), 1)
    pool = tm["thumbnails"] / max(result["thumbnails"] + result["without_picture"], 1)
    print(f"build_report        {result['seconds']:6.1f} s  ({result['rows']:,} rows, {result['thumbnails']:,} pictures, "
          f"{result['without_picture']} chosen rows without one)")
    print(f"  read + compare    {tm['read']:6.1f} s")
    print(f"  thumbnails        {tm['thumbnails']:6.1f} s  {1 / pool:.0f} img/s in the thread pool; one thread "
          f"{1 / one:.0f} img/s (200 of the same files): x{one / pool:.1f}")
    print(f"  page              {tm['page']:6.1f} s  (JSON, gzip, write)")
    print(f"page size           {size / 1e6:6.1f} MB  (pictures {sum(map(len, thumb_blob['uri'])) / 1e6:.1f} MB of base64)")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        times = open_times(browser, out, interact=True)
        times2 = open_times(browser, out, interact=False)
        print(f"chromium            interactive {times['interactive']:.2f} s (again {times2['interactive']:.2f} s); "
              f"re-sort all rows by error {times['sort']:.2f} s; next page {times['next page']:.2f} s "
              f"({times['cards']} cards a page)")
        print(f"  in the page       {times['marks']} (after navigation start)")
        plain = plain_page(out, preds, gt, folder / "plain.html")
        pt = open_times(browser, plain, interact=False)
        print(f"same page, data as plain JSON  {plain.stat().st_size / 1e6:.1f} MB, interactive {pt['interactive']:.2f} s: "
              f"x{pt['interactive'] / times['interactive']:.2f} the gzipped page's time")
        print(f"  in the page       {pt['marks']}")
        if not args.no_naive:
            naive = folder / "naive.html"
            naive_page(naive, dict(zip(thumb_blob["row"], thumb_blob["uri"])), load_run(preds))
            nt = open_times(browser, naive, interact=False)
            print(f"naive static page   {naive.stat().st_size / 1e6:6.1f} MB, interactive {nt['interactive']:.2f} s: "
                  f"x{nt['interactive'] / times['interactive']:.1f} the report's time")
        browser.close()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
