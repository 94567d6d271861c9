"""samples/real/: held-out photos (never trained on) and distorted copies, with labels and references.

    python scripts/make_real_samples.py .cache/synth samples/real

Three source photos from the held-out split (Kodak: unrestricted use; camera-trap photo:
CDLA-Permissive-1.0), each pristine and with four distortions, copied from a `qassess data synth`
output with their labels (labels.csv: image, mos on [1, 5] = the HaarPSI label) and reference texts
(references.json, Q-Reasoning layout), so the README runs score then compare on real files.
"""
import csv
import json
import shutil
import sys
from pathlib import Path

SOURCES = {
    "kodak_kodim21": "Kodak Lossless True Color Image Suite, kodim21 (Eastman Kodak; released for unrestricted usage)",
    "kodak_kodim15": "Kodak Lossless True Color Image Suite, kodim15 (Eastman Kodak; released for unrestricted usage)",
    "cameratrapai_african_elephants": "google/cameratrapai test_data/african_elephants.jpg, Snapshot Serengeti "
                                      "(CDLA-Permissive-1.0, https://cdla.dev/permissive-1-0/)",
}
KINDS = ("pristine", "gaussian_blur_4", "gaussian_noise_3", "jpeg_4", "underexposure_3")


def main(synth: str, out: str) -> None:
    synth_dir, out_dir = Path(synth), Path(out)
    rows = {r["image"]: r for r in json.loads((synth_dir / "test.json").read_text(encoding="utf-8"))}
    out_dir.mkdir(parents=True, exist_ok=True)
    labels, refs = [], []
    for source in SOURCES:
        for kind in KINDS:
            image = f"{source}/{source}__{kind}.png"
            if image not in rows:
                raise SystemExit(f"{image} is not in the held-out split of {synth_dir}")
            row = rows[image]
            shutil.copy(synth_dir / "images" / image, out_dir / Path(image).name)
            labels.append({"image": Path(image).name, "mos": row["normalized_score"], "distortions": row["distortions"]})
            refs.append({"image": Path(image).name, "description": row["description"],
                         "good_aspect": row["good_aspect"], "bad_aspect": row["bad_aspect"]})
    with open(out_dir / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "mos", "distortions"])
        writer.writeheader()
        writer.writerows(labels)
    (out_dir / "references.json").write_text(json.dumps(refs, indent=1) + "\n", encoding="utf-8")
    lines = ["# samples/real", "", "Held-out photos (no distorted copy of them was trained on) and distorted copies, made by",
             "`qassess data synth` (seed 0) and `python scripts/make_real_samples.py .cache/synth samples/real`.",
             "`labels.csv`: `mos` is the synthetic label on [1, 5] (1 + 4 (HaarPSI - 0.25) / 0.75, clipped);",
             "`references.json`: the generated reference texts (Q-Reasoning layout).", "", "Sources and licences:", ""]
    lines += [f"- `{s}__*.png`: {text}" for s, text in SOURCES.items()]
    (out_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(labels)} images -> {out_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
