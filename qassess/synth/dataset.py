"""`qassess data synth`: a graded synthetic-distortion training set (KADID-10k style) from your photos.

Each source photo is resized once to the size the model will see (multiples of 28 px, so the scoring
loader and the processor never resize it again: noise and JPEG blocks stay as made), then distorted by
albumentations at five graded levels per type, plus a few two-distortion mixes. The label of every image
is HaarPSI against its pristine copy (piq's implementation), mapped linearly from [0.25, 1] onto [1, 5],
then scaled by the cross-content ceiling of its pristine photo's detail (`qassess.synth.content`):
HaarPSI has the highest rank correlation with human scores of piq's weight-free full-reference metrics
on KADID-10k (SRCC 0.89; TID2013 0.87; Reisenhofer et al. 2018, piq's README table), above FSIMc 0.85,
GMSD 0.85 and MS-SSIM 0.80. The reference texts (Q-Reasoning layout) come from `synth_text`.

Output (OUT/): images/<source>/<name>.png, train.json / test.json (mixed_cot layout: image,
normalized_score, description, good_aspect, bad_aspect, plus type/level/haarpsi/detail/source), labels.csv
(every image, one row), skipped.csv (unreadable photos and why). Splitting is by source photo.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from qassess.errors import UserError
from qassess.synth.content import CONTENT_WEIGHT, DETAIL_HIGH, DETAIL_LOW, detail, detail_level, scaled_label

LEVELS = 5
FACTOR = 28


@dataclass(frozen=True)
class Distortion:
    name: str
    family: str  # what it damages, for the wording: sharpness, noise, compression, exposure, colour, ...
    params: tuple  # one value per level, mildest first
    build: Callable  # value, rng -> albumentations transform


def _dist_table() -> list[Distortion]:
    import albumentations as A
    import cv2

    nearest = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_NEAREST}
    smooth = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR}

    def jpeg(q):
        return A.ImageCompression(compression_type="jpeg", quality_range=(q, q), p=1)

    return [
        Distortion("gaussian_blur", "sharpness", (0.8, 1.3, 2.0, 3.0, 4.5),
                   lambda v, r: A.GaussianBlur(blur_limit=0, sigma_limit=(v, v), p=1)),
        Distortion("defocus", "sharpness", (1, 2, 3, 4, 6),
                   lambda v, r: A.Defocus(radius=(v, v), alias_blur=(0.2, 0.2), p=1)),
        Distortion("motion_blur", "sharpness", (5, 7, 11, 15, 21),
                   lambda v, r: A.MotionBlur(blur_limit=(v, v), angle_range=(a := r.uniform(0, 180), a),
                                             direction_range=(0, 0), allow_shifted=False, p=1)),
        Distortion("gaussian_noise", "noise", (0.03, 0.06, 0.10, 0.15, 0.22),
                   lambda v, r: A.GaussNoise(std_range=(v, v), per_channel=True, p=1)),
        Distortion("shot_noise", "noise", (0.02, 0.05, 0.1, 0.2, 0.35),
                   lambda v, r: A.ShotNoise(scale_range=(v, v), p=1)),
        # A phone's noise: blotchy luminance and colour grain (the demosaicing spreads it over neighbouring
        # pixels), smoothed a little by the camera's denoiser, then the camera's own JPEG.
        Distortion("sensor_noise", "noise", (0.04, 0.07, 0.11, 0.16, 0.22),
                   lambda v, r: A.Compose([A.GaussNoise(std_range=(v, v), per_channel=True, noise_scale_factor=0.5, p=1),
                                           A.GaussianBlur(blur_limit=0, sigma_limit=(0.5, 0.5), p=1),
                                           jpeg(80)], seed=r.randrange(2**31))),
        Distortion("jpeg", "compression", (30, 18, 11, 7, 4), lambda v, r: jpeg(v)),
        # Shared and re-shared: saved, shrunk and saved again at a lower quality.
        Distortion("double_jpeg", "compression", (40, 25, 15, 10, 6),
                   lambda v, r: A.Compose([jpeg(min(90, 2 * v + 20)),
                                           A.Downscale(scale_range=(0.75, 0.75), interpolation_pair=smooth, p=1),
                                           jpeg(v)], seed=r.randrange(2**31))),
        Distortion("underexposure", "exposure", (1.4, 1.9, 2.5, 3.3, 4.4),
                   lambda v, r: A.RandomGamma(gamma_limit=(v * 100, v * 100), p=1)),
        # Low light: dark, and the gain that brightens it brings up the sensor noise.
        Distortion("low_light", "exposure", (1.3, 1.7, 2.2, 2.8, 3.5),
                   lambda v, r: A.Compose([A.RandomGamma(gamma_limit=(v * 100, v * 100), p=1),
                                           A.ShotNoise(scale_range=(0.04 * v, 0.04 * v), p=1)], seed=r.randrange(2**31))),
        Distortion("overexposure", "exposure", (0.2, 0.32, 0.45, 0.58, 0.7),
                   lambda v, r: A.RandomBrightnessContrast(brightness_limit=(v, v), contrast_limit=(0, 0), p=1)),
        Distortion("contrast_loss", "contrast", (-0.35, -0.5, -0.65, -0.78, -0.88),
                   lambda v, r: A.RandomBrightnessContrast(brightness_limit=(0, 0), contrast_limit=(v, v), p=1)),
        Distortion("desaturation", "colour", (0.55, 0.35, 0.2, 0.08, 0.0),
                   lambda v, r: A.ColorJitter(brightness=(1, 1), contrast=(1, 1), saturation=(v, v), hue=(0, 0), p=1)),
        Distortion("colour_cast", "colour", (0.03, 0.06, 0.1, 0.14, 0.19),
                   lambda v, r: A.ColorJitter(brightness=(1, 1), contrast=(1, 1), saturation=(1.2, 1.2),
                                              hue=(h := v * r.choice((-1, 1)), h), p=1)),
        Distortion("chromatic_aberration", "lens", (0.02, 0.05, 0.1, 0.18, 0.3),
                   lambda v, r: A.ChromaticAberration(primary_distortion_limit=(v, v), secondary_distortion_limit=(v / 2, v / 2),
                                                      mode="red_blue", interpolation=cv2.INTER_LINEAR, p=1)),
        Distortion("oversharpening", "sharpening", (0.12, 0.22, 0.35, 0.55, 0.8),
                   lambda v, r: A.Sharpen(alpha=(v, v), lightness=(1.0, 1.0), method="kernel", p=1)),
        Distortion("pixelation", "resolution", (0.4, 0.3, 0.22, 0.16, 0.11),
                   lambda v, r: A.Downscale(scale_range=(v, v), interpolation_pair=nearest, p=1)),
        # Digital zoom or an upscaled thumbnail: soft rather than blocky.
        Distortion("upscaling", "resolution", (0.6, 0.45, 0.33, 0.25, 0.18),
                   lambda v, r: A.Downscale(scale_range=(v, v), interpolation_pair=smooth, p=1)),
    ]


def families() -> dict[str, str]:
    """Distortion name -> the family it damages (what a caption should name)."""
    return {d.name: d.family for d in _dist_table()}


DISTORTION_NAMES = ("gaussian_blur", "defocus", "motion_blur", "gaussian_noise", "shot_noise", "sensor_noise", "jpeg",
                    "double_jpeg", "underexposure", "low_light", "overexposure", "contrast_loss", "desaturation",
                    "colour_cast", "chromatic_aberration", "oversharpening", "pixelation", "upscaling")
# Where each family acts in a camera pipeline: mixes apply their distortions in this order (optics, exposure,
# sensor, processing, resizing, compression), so a mix looks like a photo that went through one camera.
STAGE = {"lens": 0, "sharpness": 1, "exposure": 2, "noise": 3, "contrast": 4, "colour": 5, "sharpening": 6,
         "resolution": 7, "compression": 8}
# Mixes: real photos rarely have one clean flaw. Each photo gets random two- and three-distortion mixes
# of different families, at random levels 1-4 (the strongest levels alone already rate ~1).
MIX_SIZES = (2, 2, 3)


def model_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size a photo is synthesised at: long side `long_side`, both sides multiples of 28."""
    scale = long_side / max(width, height)
    w = max(FACTOR, round(width * scale / FACTOR) * FACTOR)
    h = max(FACTOR, round(height * scale / FACTOR) * FACTOR)
    return w, h


SOFT_BELOW = 0.5  # a pristine photo whose detail level is below this is described as lacking fine detail
HAARPSI_FLOOR = 0.25  # HaarPSI at or below this is rated 1 (strongest distortions here reach ~0.2)


def label_from_haarpsi(h: float) -> float:
    """HaarPSI -> quality on [1, 5]: linear from [HAARPSI_FLOOR, 1] onto [1, 5], clipped (pristine = 5)."""
    x = (float(h) - HAARPSI_FLOOR) / (1.0 - HAARPSI_FLOOR)
    return round(1.0 + 4.0 * min(1.0, max(0.0, x)), 4)


def haarpsi(distorted, reference) -> float:
    import numpy as np
    import piq
    import torch

    def tensor(a):
        return torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1)[None].float() / 255.0

    with torch.no_grad():
        return float(piq.haarpsi(tensor(distorted), tensor(reference), data_range=1.0))


def is_held_out(source: str, fraction: float) -> bool:
    """Stable split by source photo name (sha1), independent of file order and of the seed."""
    digest = int(hashlib.sha1(source.encode("utf-8")).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < fraction


def read_manifest(path: Path | None) -> dict[str, str]:
    """file (relative path or name) -> content line, from a CSV with `file` and `content` columns."""
    if path is None:
        return {}
    from qassess.io.tables import read_table

    frame = read_table(path).frame
    if "file" not in frame.columns or "content" not in frame.columns:
        raise UserError(f"{path}: a manifest needs the columns `file` and `content`")
    out = {}
    for row in frame[["file", "content"]].to_dict("records"):
        name, content = str(row.get("file") or "").strip(), str(row.get("content") or "").strip()
        if name and content:
            out[name] = content
            out.setdefault(Path(name).name, content)
    return out


@dataclass
class SynthResult:
    rows: list[dict]
    skipped: list[tuple[str, str]]
    out: Path


def synthesize(photos: Sequence[str | Path], out: str | Path, *, manifest: str | Path | None = None,
               seed: int = 0, long_side: int = 448, holdout: float = 0.18, mixes_per_photo: int = 15,
               types: Iterable[str] | None = None, progress: Callable[[int, int], None] | None = None,
               workers: int = 1, content_weight: float = CONTENT_WEIGHT) -> SynthResult:
    """Write the set into `out` (see the module docstring). Deterministic for (photos, seed, options)."""
    from qassess.io.sources import collect_files, is_image_name as _is_image_name

    out = Path(out)
    table = {d.name: d for d in _dist_table()}
    chosen = list(types) if types else list(DISTORTION_NAMES)
    unknown = [t for t in chosen if t not in table]
    if unknown:
        raise UserError(f"unknown distortion type(s) {', '.join(unknown)}; choose from {', '.join(DISTORTION_NAMES)}")
    if not 0.0 <= holdout < 1.0:
        raise UserError(f"--holdout must be in [0, 1), got {holdout}")
    if not 0.0 <= content_weight <= 1.0:
        raise UserError(f"--content-weight must be in [0, 1], got {content_weight}")
    if long_side < FACTOR * 2:
        raise UserError(f"--long-side must be at least {FACTOR * 2}")
    files = collect_files(photos, _is_image_name)
    roots = [Path(p) for p in photos]
    contents = read_manifest(Path(manifest)) if manifest else {}
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    jobs = []
    for path in files:
        rel = _relative(path, roots)
        jobs.append((str(path), rel, contents.get(rel) or contents.get(path.name) or "", str(out), seed, long_side,
                     holdout, mixes_per_photo, chosen, 1 if workers > 1 else 0, content_weight))
    # One photo per task: each has its own seeded RNG, so the set is the same for any number of workers.
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers)
        results = pool.map(_one_photo, jobs)
    else:
        pool, results = None, map(_one_photo, jobs)
    try:
        for index, (photo_rows, skip) in enumerate(results):
            rows += photo_rows
            if skip:
                skipped.append(skip)
            if progress:
                progress(index + 1, len(files))
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    if not rows:
        raise UserError("no readable photos: nothing was synthesised" +
                        (f" ({skipped[0][0]}: {skipped[0][1]})" if skipped else ""))
    _write_outputs(out, rows, skipped, **_settings(photos, seed, long_side, holdout, mixes_per_photo, chosen, content_weight))
    return SynthResult(rows, skipped, out)


def _one_photo(job) -> tuple[list[dict], tuple[str, str] | None]:
    """Every image of one source photo: (rows, None), or ([], (file, why it was skipped))."""
    import numpy as np
    from PIL import Image

    from qassess.io.images import ImageLoadError, load_image
    from qassess.synth.text import describe, photo_strengths

    path, rel, subject, out, seed, long_side, holdout, mixes_per_photo, chosen, threads, content_weight = job
    if threads:
        import torch

        torch.set_num_threads(threads)  # one per worker: piq's HaarPSI with every core per process was 40x slower
    table = {d.name: d for d in _dist_table()}
    source = rel.rsplit(".", 1)[0].replace("/", "_")
    try:
        im = load_image(path, None)
    except ImageLoadError as exc:
        return [], (rel, str(exc))
    if min(im.size) < 64:
        return [], (rel, f"too small to distort ({im.size[0]}x{im.size[1]})")
    im = im.resize(model_size(*im.size, long_side), Image.Resampling.LANCZOS)
    ref = np.asarray(im)
    rng = random.Random(f"{seed}:{source}")
    split = "test" if is_held_out(source, holdout) else "train"
    strengths = photo_strengths(ref)  # of the pristine photo: once, not per distorted copy
    fine = detail(ref)
    soft = detail_level(fine) < SOFT_BELOW if content_weight else False
    jobs: list[tuple[str, list[tuple[str, int]]]] = [("pristine", [])]
    jobs += [(f"{t}_{lv}", [(t, lv)]) for t in chosen for lv in range(1, LEVELS + 1)]
    jobs += _mixes(chosen, table, mixes_per_photo, rng)
    folder = Path(out) / "images" / source
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, steps in jobs:
        img = ref
        for t, lv in steps:
            transform = _compose(table[t].build(table[t].params[lv - 1], rng), rng)
            img = transform(image=img)["image"]
        h = 1.0 if not steps else haarpsi(img, ref)
        file = folder / f"{source}__{name}.png"  # unique file names: matching by name stays exact
        Image.fromarray(img).save(file, optimize=False, compress_level=1)
        text = describe(strengths, [(t, table[t].family, lv) for t, lv in steps], rng, soft=soft)
        rows.append({
            "image": f"{source}/{file.name}", "source": source, "split": split, "subject": subject,
            "distortions": "+".join(f"{t}:{lv}" for t, lv in steps) or "none",
            "haarpsi": round(h, 5), "detail": round(fine, 4),
            "normalized_score": scaled_label(label_from_haarpsi(h), fine, content_weight), **text,
        })
    return rows, None


def _settings(photos, seed, long_side, holdout, mixes_per_photo, types, content_weight) -> dict:
    return {"photos": [str(p) for p in photos], "seed": seed, "long_side": long_side, "holdout": holdout,
            "mixes_per_photo": mixes_per_photo, "types": list(types), "content_weight": content_weight}


def up_to_date(out: str | Path, photos, *, seed: int = 0, long_side: int = 448, holdout: float = 0.18,
               mixes_per_photo: int = 15, types: Iterable[str] | None = None,
               content_weight: float = CONTENT_WEIGHT) -> bool:
    """True when `out` already holds a complete set made with these settings (a rerun then skips)."""
    try:
        info = json.loads((Path(out) / "synth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want = _settings(photos, seed, long_side, holdout, mixes_per_photo, list(types) if types else list(DISTORTION_NAMES),
                     content_weight)
    return all(info.get(k) == v for k, v in want.items()) and (Path(out) / "train.json").is_file()


def _mixes(chosen: list[str], table: dict, count: int, rng: random.Random) -> list[tuple[str, list[tuple[str, int]]]]:
    """`count` random mixes of distortions from different families, in camera-pipeline order."""
    families: dict[str, list[str]] = {}
    for t in chosen:
        families.setdefault(table[t].family, []).append(t)
    jobs: list[tuple[str, list[tuple[str, int]]]] = []
    if len(families) < 2:
        return jobs
    for k in range(count):
        size = min(MIX_SIZES[k % len(MIX_SIZES)], len(families))
        picked = rng.sample(sorted(families), size)
        steps = sorted(((rng.choice(families[f]), rng.randint(1, 4)) for f in picked),
                       key=lambda s: STAGE.get(table[s[0]].family, 9))
        jobs.append(("+".join(f"{t}_{lv}" for t, lv in steps), steps))
    return jobs


def _compose(transform, rng: random.Random):
    import albumentations as A

    return A.Compose([transform], seed=rng.randrange(2**31))


def _relative(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix() if root.is_dir() else path.name
        except ValueError:
            continue
    return path.name


def _write_outputs(out: Path, rows: list[dict], skipped: list[tuple[str, str]], **settings) -> None:
    keep = ("image", "normalized_score", "description", "good_aspect", "bad_aspect", "distortions", "haarpsi",
            "detail", "source", "subject")
    for split in ("train", "test"):
        part = [{k: r[k] for k in keep} for r in rows if r["split"] == split]
        (out / f"{split}.json").write_text(json.dumps(part, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as f:
        fields = ["image", "source", "split", "distortions", "haarpsi", "detail", "normalized_score"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "skipped.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "reason"])
        writer.writerows(skipped)
    label = (f"1 + (h - 1) * (1 - content_weight * (1 - d)); h = 1 + 4 * (HaarPSI - {HAARPSI_FLOOR}) / (1 - {HAARPSI_FLOOR}) "
             f"clipped to [1, 5] (piq.haarpsi); d = the pristine photo's detail level ({DETAIL_LOW} .. {DETAIL_HIGH} "
             "onto 0 .. 1, qassess.synth.content)")
    info = {"generator": "qassess data synth", "label": label, **settings,
            "images": len(rows), "sources": len({r["source"] for r in rows}), "skipped": len(skipped)}
    (out / "synth.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
