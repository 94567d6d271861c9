"""The model card's verbatim captions: every Nth photo by human score, beside its MOS and both ratings.

    .venv/bin/python scripts/caption_table.py runs/eval/v2.livec.jsonl ../shared/data/livec_val/labels.csv

Prints a markdown table (photo, MOS, stated rating, caption-only rating, the caption as written), so the
card shows what the model says of real photos across the whole range of quality, not hand-picked rows.
"""
import argparse
import csv
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("predictions", type=Path, help="a `qassess score --self-check` JSONL output")
    parser.add_argument("labels", type=Path, help="labels.csv (image, mos)")
    parser.add_argument("--every", type=int, default=10, help="every Nth photo in MOS order (default 10)")
    args = parser.parse_args()
    rows = {Path(r["path"]).stem: r for r in map(json.loads, args.predictions.read_text(encoding="utf-8").splitlines())}
    with open(args.labels, newline="", encoding="utf-8") as f:
        labels = sorted(csv.DictReader(f), key=lambda r: float(r["mos"]))
    print("| photo | MOS (0-100) | rating | caption-only | caption (verbatim) |")
    print("| --- | --- | --- | --- | --- |")
    for lab in labels[::args.every]:
        r = rows.get(Path(lab["image"]).stem)
        if r is None:
            continue
        caption = " ".join((r.get("caption") or f"({r.get('status')}: {r.get('error')})").split()).replace("|", "\\|")
        print(f"| {Path(lab['image']).stem} | {float(lab['mos']):.1f} | {r.get('rating')} | "
              f"{r.get('self_check_rating')} | {caption} |")


if __name__ == "__main__":
    main()
