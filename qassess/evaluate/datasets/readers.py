"""Label readers, one per released file format: each turns a dataset folder's label file(s) into rows of
`image` (a path relative to the images folder, or to the dataset folder when it names its own folders) and
`mos`, in the file's order. A reader raises UserError for a file that is missing or unreadable, so that
`datasets check` can report it in one line; anything else is a bug."""
from __future__ import annotations

import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from qassess.errors import UserError

Reader = Callable[..., pd.DataFrame]
READERS: dict[str, Reader] = {}


def reader(name: str):
    def register(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return register


def read_labels(folder: Path, spec: dict) -> tuple[pd.DataFrame, list[str]]:
    """(rows of image, mos (+ the table's other columns, for `where`), the label files read)."""
    args = dict(spec)
    name = args.pop("reader", None)
    if name not in READERS:
        raise UserError(f"unknown label reader {name!r}; readers are: {', '.join(sorted(READERS))}")
    import inspect

    params = inspect.signature(READERS[name]).parameters
    unknown = sorted(set(args) - set(params) - {"files"})
    wanted = sorted(k for k, v in params.items() if v.kind is v.KEYWORD_ONLY and v.default is v.empty
                    and k != "files" and k not in args)
    if unknown or wanted:
        raise UserError(f"label reader {name}: " + "; ".join(
            ([f"unknown key(s) {', '.join(unknown)}"] if unknown else []) +
            ([f"missing key(s) {', '.join(wanted)}"] if wanted else [])))
    files: list[str] = []
    frame = READERS[name](folder, files=files, **args).reset_index(drop=True)
    frame["image"] = frame["image"].astype(str).str.strip()
    return frame, files


def _need(folder: Path, rel: str) -> Path:
    path = folder / rel
    if not path.is_file():
        raise UserError(f"label file {rel} is missing in {folder}")
    return path


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Format errors of a label file as one line naming it (a truncated download, a wrong file)."""
    from scipy.io.matlab import MatReadError

    try:
        yield
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, MatReadError) as exc:
        raise UserError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None


def _numbers(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


@reader("table")
def table(folder: Path, *, file: str, image_col: str, score_col: str, files: list[str]) -> pd.DataFrame:
    """A CSV/TSV/TXT/JSON/Excel table read by qassess's table reader; `image_col` and `score_col` name the columns
    as released (split columns such as KonIQ's `set` are kept for `where`)."""
    from qassess.io.tables import read_table

    path = _need(folder, file)
    files.append(file)
    with _reading(path):
        frame = read_table(path).frame
    missing = [c for c in (image_col, score_col) if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: no column {', '.join(map(repr, missing))}; columns are: "
                        f"{', '.join(map(str, frame.columns[:20]))}")
    out = frame.rename(columns={image_col: "image", score_col: "mos"})
    out["mos"] = _numbers(out["mos"])
    return out


def _loadmat(path: Path, key: str) -> np.ndarray:
    from scipy.io import loadmat

    with _reading(path):
        data = loadmat(path)
        if key not in data:
            raise KeyError(f"no variable {key!r} (variables: {', '.join(k for k in data if not k.startswith('__'))})")
        return data[key]


@reader("livec_mat")
def livec_mat(folder: Path, *, names: str, mos: str, training: int, training_folder: str,
              files: list[str]) -> pd.DataFrame:
    """LIVE Challenge: a cell array of names and a row of MOS values; the first `training` entries are the
    training images, kept in their own sub-folder."""
    names_path, mos_path = _need(folder, names), _need(folder, mos)
    files += [names, mos]
    cells = _loadmat(names_path, Path(names).stem).ravel()
    values = _loadmat(mos_path, Path(mos).stem).ravel()
    image = [str(np.asarray(c).ravel()[0]) for c in cells]
    if len(image) != len(values):
        raise UserError(f"{names_path} holds {len(image)} names but {mos_path} {len(values)} scores")
    image = [f"{training_folder}/{n}" if i < training else n for i, n in enumerate(image)]
    return pd.DataFrame({"image": image, "mos": values.astype(float)})


# CSIQ's distortion names in csiq.DMOS.xlsx -> (folder under dst_imgs, the label inside file names)
CSIQ_TYPES = {"noise": ("awgn", "AWGN"), "jpeg": ("jpeg", "JPEG"), "jpeg 2000": ("jpeg2000", "jpeg2000"),
              "f noise": ("fnoise", "fnoise"), "fnoise": ("fnoise", "fnoise"), "blur": ("blur", "BLUR"),
              "contrast": ("contrast", "contrast")}


@reader("csiq_xlsx")
def csiq_xlsx(folder: Path, *, file: str, sheet: str, files: list[str]) -> pd.DataFrame:
    """CSIQ: one row per distorted image (image, dst_type, dst_lev, dmos) -> <type>/<image>.<TYPE>.<lev>.png."""
    path = _need(folder, file)
    files.append(file)
    try:
        with _reading(path):
            frame = pd.read_excel(path, sheet_name=sheet)
    except ImportError as exc:
        raise UserError(f"{path}: {str(exc).splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("image", "dst_type", "dst_lev", "dmos") if c not in frame.columns]
    if missing:
        raise UserError(f"{path} sheet {sheet}: no column {', '.join(missing)}")
    frame = frame.dropna(subset=["image", "dst_type"])
    rows = []
    for image, kind, level, dmos in frame[["image", "dst_type", "dst_lev", "dmos"]].itertuples(index=False):
        key = str(kind).strip().lower()
        if key not in CSIQ_TYPES:
            raise UserError(f"{path}: unknown distortion type {kind!r} (known: {', '.join(CSIQ_TYPES)})")
        sub, label = CSIQ_TYPES[key]
        stem = str(int(image)) if isinstance(image, (int, float, np.integer, np.floating)) else str(image).strip()
        rows.append((f"{sub}/{stem}.{label}.{int(level)}.png", dmos))
    out = pd.DataFrame(rows, columns=["image", "mos"])
    out["mos"] = _numbers(out["mos"])
    return out


def _lines(path: Path) -> list[str]:
    with _reading(path):
        text = path.read_text(encoding="utf-8-sig")
    return [line.strip() for line in text.splitlines() if line.strip()]


@reader("score_name_txt")
def score_name_txt(folder: Path, *, file: str, files: list[str]) -> pd.DataFrame:
    """TID2013's mos_with_names.txt: `<mos> <name>` per line."""
    path = _need(folder, file)
    files.append(file)
    rows = []
    for number, line in enumerate(_lines(path), 1):
        parts = line.split()
        if len(parts) != 2:
            raise UserError(f"{path}:{number}: expected '<mos> <name>', got {line[:80]!r}")
        rows.append((parts[1], parts[0]))
    out = pd.DataFrame(rows, columns=["image", "mos"])
    out["mos"] = _numbers(out["mos"])
    return out


@reader("name_score_txt")
def name_score_txt(folder: Path, *, pattern: str, separator: str, files: list[str]) -> pd.DataFrame:
    """PIPAL's Train_Label/*.txt: `<name>,<score>` per line, the files read in name order."""
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise UserError(f"label files {pattern} are missing in {folder}")
    rows = []
    for path in paths:
        files.append(str(path.relative_to(folder)))
        for number, line in enumerate(_lines(path), 1):
            parts = [p.strip() for p in line.split(separator)]
            if len(parts) != 2:
                raise UserError(f"{path}:{number}: expected '<name>{separator}<score>', got {line[:80]!r}")
            rows.append(tuple(parts))
    out = pd.DataFrame(rows, columns=["image", "mos"])
    out["mos"] = _numbers(out["mos"])
    return out


# LIVE release 2: the order of dmos.mat's entries
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


@reader("live_mat")
def live_mat(folder: Path, *, file: str, files: list[str]) -> pd.DataFrame:
    """LIVE release 2: dmos.mat's `dmos` and `orgs` rows over the five folders in release order; the
    entries flagged in `orgs` are copies of the references and are left out."""
    path = _need(folder, file)
    files.append(file)
    dmos = _loadmat(path, "dmos").ravel().astype(float)
    orgs = _loadmat(path, "orgs").ravel()
    names = [f"{sub}/img{i}.bmp" for sub, count in LIVE_FOLDERS for i in range(1, count + 1)]
    if len(dmos) != len(names) or len(orgs) != len(names):
        raise UserError(f"{path}: {len(dmos)} dmos and {len(orgs)} orgs values; release 2 has {len(names)}")
    keep = orgs == 0
    return pd.DataFrame({"image": np.asarray(names)[keep], "mos": dmos[keep]})
