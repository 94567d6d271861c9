"""Tiny copies of the public datasets in their released layouts (folders, file names, label formats:
CSV, .mat, .xlsx, .txt), built by the tests; each builder returns {relative image path: label}."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image


def need_openpyxl() -> None:
    """SPAQ and CSIQ ship .xlsx labels: skip without openpyxl locally, fail in CI (it is pinned)."""
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail("openpyxl (requirements/cpu.txt) is not installed in CI", pytrace=False)
        pytest.skip("openpyxl is not installed")


def _image(path: Path, i: int, size=(12, 9)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, 120)).save(path)


def _scores(n: int, lo: float, hi: float, seed: int) -> np.ndarray:
    """Distinct labels inside the stated scale."""
    return np.round(np.linspace(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), n)[np.random.default_rng(seed).permutation(n)], 4)


def koniq(root: Path, n: int = 6, test: int = 3) -> dict[str, float]:
    folder = root / "koniq10k"
    names = [f"{10004473376 + 7919 * i}.jpg" for i in range(n)]
    mos100, mos5 = _scores(n, 0, 100, 1), _scores(n, 1, 5, 2)
    sets = ["test"] * test + ["training"] * (n - test - 1) + ["validation"]
    for i, name in enumerate(names):
        _image(folder / "1024x768" / name, i)
    dist = dict(c1=0.1, c2=0.2, c3=0.4, c4=0.2, c5=0.1, c_total=100)
    pd.DataFrame({"image_name": names, **dist, "MOS": mos100, "SD": 0.5, "set": sets}).to_csv(
        folder / "koniq10k_distributions_sets.csv", index=False)
    pd.DataFrame({"image_name": names, **{k: int(v * 100) for k, v in dist.items()}, "MOS": mos5, "SD": 0.5,
                  "MOS_zscore": mos100}).to_csv(folder / "koniq10k_scores_and_distributions.csv", index=False)
    return {f"1024x768/{name}": m for name, m, s in zip(names, mos100, sets) if s == "test"}


def spaq(root: Path, n: int = 5) -> dict[str, float]:
    need_openpyxl()
    folder = root / "SPAQ"
    names = [f"{i + 1:05d}.jpg" for i in range(n)]
    mos = _scores(n, 0, 100, 3)
    for i, name in enumerate(names):
        _image(folder / "TestImage" / name, i)
    (folder / "Annotations").mkdir(parents=True)
    pd.DataFrame({"Image name": names, "MOS": mos, "Brightness": 50.0, "Colorfulness": 50.0, "Contrast": 50.0,
                  "Noisiness": 50.0, "Sharpness": 50.0}).to_excel(
        folder / "Annotations" / "MOS and Image attribute scores.xlsx", index=False)
    return {f"TestImage/{name}": m for name, m in zip(names, mos)}


def livec(root: Path, n: int = 5) -> dict[str, float]:
    from scipy.io import savemat

    folder = root / "ChallengeDB_release"
    names = [f"t{i}.bmp" for i in range(1, 8)] + [f"{100 + i}.bmp" for i in range(n)]
    mos = _scores(len(names), 0, 100, 4)
    for i, name in enumerate(names):
        _image(folder / "Images" / ("trainingImages/" if i < 7 else "") / name, i)
    cells = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cells[i, 0] = np.array([name])
    (folder / "Data").mkdir(parents=True)
    savemat(folder / "Data" / "AllImages_release.mat", {"AllImages_release": cells})
    savemat(folder / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos.reshape(1, -1)})
    savemat(folder / "Data" / "AllStdDev_release.mat", {"AllStdDev_release": np.full((1, len(names)), 15.0)})
    return {f"Images/{name}": m for name, m in zip(names[7:], mos[7:])}


def agiqa3k(root: Path, n: int = 5) -> dict[str, float]:
    folder = root / "AGIQA-3K"
    names = [f"AttnGAN_normal_{i:03d}.jpg" for i in range(n)]
    quality, align = _scores(n, 0, 5, 5), _scores(n, 0, 5, 6)
    for i, name in enumerate(names):
        _image(folder / "images" / name, i)
    pd.DataFrame({"name": names, "prompt": "a cat, anime style", "adj1": "", "adj2": "", "style": "anime style",
                  "mos_quality": quality, "std_quality": 0.5, "mos_align": align, "std_align": 0.5}).to_csv(
        folder / "data.csv", index=False)
    return {f"images/{name}": m for name, m in zip(names, quality)}


def kadid(root: Path, n: int = 5) -> dict[str, float]:
    folder = root / "kadid10k"
    names = [f"I01_{i + 1:02d}_01.png" for i in range(n)]
    mos = _scores(n, 1, 5, 7)
    for i, name in enumerate(names):
        _image(folder / "images" / name, i)
    _image(folder / "images" / "I01.png", 99)  # the reference, unlabelled as released
    pd.DataFrame({"dist_img": names, "ref_img": "I01.png", "dmos": mos, "var": 0.3}).to_csv(
        folder / "dmos.csv", index=False)
    return {f"images/{name}": m for name, m in zip(names, mos)}


def csiq(root: Path) -> dict[str, float]:
    need_openpyxl()
    folder = root / "CSIQ"
    rows = [(1600, "noise", 1), (1600, "jpeg", 2), (1600, "jpeg 2000", 3), ("aerial_city", "blur", 1),
            ("aerial_city", "contrast", 2), ("aerial_city", "f noise", 4)]
    sub = {"noise": ("awgn", "AWGN"), "jpeg": ("jpeg", "JPEG"), "jpeg 2000": ("jpeg2000", "jpeg2000"),
           "blur": ("blur", "BLUR"), "contrast": ("contrast", "contrast"), "f noise": ("fnoise", "fnoise")}
    dmos = _scores(len(rows), 0, 1, 8)
    out = {}
    for i, ((image, kind, level), d) in enumerate(zip(rows, dmos)):
        rel = f"dst_imgs/{sub[kind][0]}/{image}.{sub[kind][1]}.{level}.png"
        _image(folder / rel, i)
        out[rel] = d
    for ref in ("1600", "aerial_city"):
        _image(folder / "src_imgs" / f"{ref}.png", 50)
    frame = pd.DataFrame({"image": [r[0] for r in rows], "dst_idx": [1] * len(rows), "dst_type": [r[1] for r in rows],
                          "dst_lev": [r[2] for r in rows], "dmos_std": 0.05, "dmos": dmos})
    with pd.ExcelWriter(folder / "csiq.DMOS.xlsx") as xlsx:
        pd.DataFrame({"readme": ["CSIQ DMOS"]}).to_excel(xlsx, sheet_name="info", index=False)
        frame.to_excel(xlsx, sheet_name="all_by_image", index=False)
    return out


def pipal(root: Path, refs: int = 2, per: int = 3) -> dict[str, float]:
    folder = root / "PIPAL"
    (folder / "Train_Label").mkdir(parents=True)
    out, k = {}, 0
    scores = _scores(refs * per, 800, 2000, 9)
    for r in range(1, refs + 1):
        lines = []
        for d in range(per):
            name = f"A{r:04d}_00_{d:02d}.bmp"
            _image(folder / "Train_Dist" / name, k)
            lines.append(f"{name},{scores[k]:.4f}")
            out[f"Train_Dist/{name}"] = float(f"{scores[k]:.4f}")
            k += 1
        (folder / "Train_Label" / f"A{r:04d}.txt").write_text("\n".join(lines) + "\n")
    return out


def tid2013(root: Path, n: int = 5) -> dict[str, float]:
    folder = root / "tid2013"
    names = [f"i01_{i + 1:02d}_1.bmp" for i in range(n)]
    mos = _scores(n, 0, 9, 10)
    for i, name in enumerate(names):
        _image(folder / "distorted_images" / name, i)
    (folder / "mos_with_names.txt").write_text("".join(f"{m:.5f} {name}\n" for m, name in zip(mos, names)))
    return {f"distorted_images/{name}": m for name, m in zip(names, mos)}


def live(root: Path, every: int = 150) -> dict[str, float]:
    """LIVE release 2: dmos.mat holds all 982 entries; only every `every`-th distorted image is written,
    so the copy is partial on purpose (the other labelled images are missing)."""
    from scipy.io import savemat

    folder = root / "databaserelease2"
    names = [f"{sub}/img{i}.bmp" for sub, count in (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174),
                                                     ("fastfading", 174)) for i in range(1, count + 1)]
    dmos = _scores(len(names), 0, 100, 11)
    orgs = np.zeros(len(names), dtype=np.uint8)
    orgs[np.linspace(0, len(names) - 1, 982 - 779).astype(int)] = 1  # the 203 reference copies, as released
    folder.mkdir(parents=True)
    savemat(folder / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    out = {}
    kept = [i for i in range(len(names)) if orgs[i] == 0]
    for j, i in enumerate(kept):
        if j % every == 0:
            _image(folder / names[i], j)
            out[names[i]] = dmos[i]
    return out


BUILDERS = {"koniq": koniq, "spaq": spaq, "livec": livec, "agiqa3k": agiqa3k, "kadid": kadid, "csiq": csiq,
            "pipal": pipal, "tid2013": tid2013, "live": live}
