"""Copy the shared photo collection into data/photos/ at the size `qassess data synth` needs.

Every photo there is redistributable (Kodak: unrestricted; CC0 / public domain; CDLA-Permissive-1.0;
BSD-2-Clause; CC BY 2.0/4.0 with the attribution kept in data/photos/manifest.csv and LICENCES.md).
Photos are reduced to a long side of 336 px (synth works at 308) and stored as lossless PNG, so a fresh
clone rebuilds the default model without the 45 MB originals.

    python scripts/import_photos.py path/to/photos data/photos
"""
import csv
import shutil
import sys
from pathlib import Path

from PIL import Image

from qassess.io.images import load_image

LONG_SIDE = 336


def main(src: str, dst: str) -> None:
    src_dir, out = Path(src), Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    with open(src_dir / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        im = load_image(src_dir / row["file"], None)
        scale = LONG_SIDE / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        target = out / Path(row["file"]).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        im.save(target)
        row["notes"] = (row.get("notes") or "") + f"; qassess: long side {LONG_SIDE} px (Lanczos), lossless PNG"
        row["file"] = Path(row["file"]).with_suffix(".png").as_posix()
        row["width"], row["height"] = im.size
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    shutil.copy(src_dir / "LICENCES.md", out / "LICENCES.md")
    print(f"{len(rows)} photos -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
