"""What qassess reads: image discovery, the one image loader, and caption inputs.

Every image goes through `load_image`, so training, scoring and benchmarks see the same pixels: EXIF
orientation applied, alpha on white, any Pillow mode to 8-bit RGB, then Qwen2.5-VL's own size rule
(`target_size`). Broken files raise `ImageLoadError` with a one-line reason; nothing half-decoded
is ever returned.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from PIL import Image, ImageFile

from qassess.errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

# Qwen's processor refuses images more elongated than this (smart_resize raises).
MAX_ASPECT_RATIO = 200
DEFAULT_MAX_DECODE_PIXELS = 50_000_000


class ImageLoadError(Exception):
    """An image that cannot be used (missing, corrupt, truncated, too large...): one-line reason."""


# ---------------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------------

def walk_files(root: Path, accept: Callable[[str], bool], seen_dirs: set[str]) -> Iterator[tuple[Path, str]]:
    """(path, real path) of accepted files: depth-first, entries sorted by name, dot-names skipped.
    Symlinks are followed, but a real directory is entered at most once (so loops terminate). A
    dangling symlink with an accepted name is still yielded: the loader then reports it as missing
    instead of it vanishing. Real paths are derived from the folder's, resolving only symlinks."""
    stack: list[tuple[Iterator[os.DirEntry], str]] = []

    def enter(folder: str) -> None:
        real = os.path.realpath(folder)
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            log.warning("skipping unreadable folder %s: %s", folder, e.strerror or e)
            return
        stack.append((iter(entries), real))

    enter(str(root))
    while stack:
        entries, real_dir = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():  # follows symlinks
                enter(entry.path)
            elif accept(entry.name) and (entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path))):
                real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real_dir, entry.name)
                yield Path(entry.path), real
        except OSError as e:
            log.warning("skipping %s: %s", entry.path, e.strerror or e)


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def collect_files(paths: Sequence[str | Path], accept: Callable[[str], bool]) -> list[Path]:
    """Inputs in the order given, folders walked, de-duplicated by real path (first spelling kept)."""
    found: list[Path] = []
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            candidates: Iterable[tuple[Path, str]] = walk_files(p, accept, seen_dirs)
        elif p.exists():
            candidates = [(p, os.path.realpath(p))]  # named explicitly: accepted whatever its extension
        else:
            raise UserError(f"no such file or folder: {raw}")
        for c, real in candidates:
            if real not in seen_files:
                seen_files.add(real)
                found.append(c)
    return found


def discover_images(paths: Sequence[str | Path]) -> list[Path]:
    """Image files among `paths` (files, or folders searched recursively), in a deterministic order."""
    found = collect_files(paths, _is_image_name)
    if not found:
        where = ", ".join(str(p) for p in paths) or "(no inputs given)"
        raise UserError(f"no images found in {where} (accepted extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PixelBudget:
    """How many pixels the model sees (Qwen: one vision token per 28x28 block) and how large a file
    we agree to decode at all (checked from the header, before decoding)."""

    min_pixels: int
    max_pixels: int
    factor: int = 28  # Qwen2.5-VL: patch 14 x spatial merge 2
    max_decode_pixels: int = DEFAULT_MAX_DECODE_PIXELS

    def __post_init__(self) -> None:
        for name in ("min_pixels", "max_pixels", "factor", "max_decode_pixels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        if self.min_pixels > self.max_pixels:
            raise UserError(f"min_pixels ({self.min_pixels}) is larger than max_pixels ({self.max_pixels})")
        if self.max_pixels < self.factor * self.factor:
            raise UserError(f"max_pixels ({self.max_pixels}) is below one {self.factor}x{self.factor} block")


def target_size(width: int, height: int, budget: PixelBudget) -> tuple[int, int]:
    """(width, height) the model will see: Qwen2-VL's `smart_resize`, reproduced exactly (Python's
    round-half-even included) so our resize is the only one; the processor then finds nothing to do."""
    import math

    if width < 1 or height < 1:
        raise ImageLoadError(f"image has no pixels ({width}x{height})")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageLoadError(f"aspect ratio {max(width, height) / min(width, height):.0f}:1 is above "
                             f"{MAX_ASPECT_RATIO}:1, which Qwen's image processor refuses ({width}x{height})")
    f = budget.factor
    h_bar = round(height / f) * f
    w_bar = round(width / f) * f
    if h_bar * w_bar > budget.max_pixels:
        beta = math.sqrt((height * width) / budget.max_pixels)
        h_bar = max(f, math.floor(height / beta / f) * f)
        w_bar = max(f, math.floor(width / beta / f) * f)
    elif h_bar * w_bar < budget.min_pixels:
        beta = math.sqrt(budget.min_pixels / (height * width))
        h_bar = math.ceil(height * beta / f) * f
        w_bar = math.ceil(width * beta / f) * f
    return w_bar, h_bar


# ---------------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------------

# EXIF orientation -> the transpose that undoes it (the table of PIL.ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = {5, 6, 7, 8}
_JPEG_FORMATS = {"JPEG", "MPO"}  # MPO: phone JPEGs carrying extra pictures (Pillow's JpegImageFile too)
_WHITE = (255, 255, 255)
# Raster formats we let Pillow open. Not "anything Pillow knows": EPS would run Ghostscript on a file
# that merely claims to be an image, and rare decoders are where the parser bugs live.
_ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "PPM", "JPEG2000", "AVIF", "ICO")


def _open_formats() -> list[str]:
    Image.init()
    return [f for f in _ALLOWED_FORMATS if f in Image.OPEN]


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _orientation(im: Image.Image) -> int:
    """EXIF orientation (1 when absent). Unreadable EXIF counts as absent, as in browsers."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # corrupt EXIF must not cost the picture itself
        return 1
    return value if value in _ORIENTATION else 1


def _file_target(width: int, height: int, orientation: int, budget: PixelBudget) -> tuple[int, int]:
    """`target_size` of the upright picture, expressed in the file's own orientation (we resize
    first and rotate the small result)."""
    if orientation in _SWAPS_AXES:
        w, h = target_size(height, width, budget)
        return h, w
    return target_size(width, height, budget)


def _sixteen_bit_to_l(im: Image.Image) -> Image.Image:
    """16-bit grey (I;16*, or I holding 16-bit data as Pillow opens 16-bit PNG/PGM) scaled to 0-255.
    Pillow's own convert("L") clips at 255 instead, which turns almost any 16-bit picture white."""
    import numpy as np

    a = np.asarray(im).astype(np.float64)
    if a.min() < 0 or a.max() > 65535:
        return _normalise_to_l(a)  # true 32-bit data: the only honest display is its own range
    return Image.fromarray(np.rint(a * (255.0 / 65535.0)).astype(np.uint8), "L")


def _float_to_l(im: Image.Image) -> Image.Image:
    """Mode F: [0, 1] data is scaled by 255, [0, 255] taken as is, anything else min-max normalised."""
    import numpy as np

    a = np.nan_to_num(np.asarray(im).astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0:
        a = a * 255.0
    elif not (lo >= 0.0 and hi <= 255.0):
        return _normalise_to_l(a)
    return Image.fromarray(np.rint(a).clip(0, 255).astype(np.uint8), "L")


def _normalise_to_l(a) -> Image.Image:
    import numpy as np

    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else a * 0.0
    return Image.fromarray(np.rint(scaled).clip(0, 255).astype(np.uint8), "L")


def _flatten(im: Image.Image) -> Image.Image:
    """Any decoded image -> "RGB" or "L" (8-bit), alpha composited on white."""
    mode = im.mode
    if mode in ("RGB", "L"):
        return im
    if mode == "P":
        has_alpha = "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA"
        return _on_white(im.convert("RGBA")) if has_alpha else im.convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        return _on_white(im.convert({"RGBa": "RGBA", "La": "LA", "PA": "RGBA"}.get(mode, mode)))
    if mode == "1":
        return im.convert("L")
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode.startswith("I;16") or mode == "I":
        return _sixteen_bit_to_l(im)
    if mode == "F":
        return _float_to_l(im)
    try:
        return im.convert("RGB")  # YCbCr, HSV, ...
    except ValueError as e:
        raise ImageLoadError(f"unsupported colour mode {mode}: {_one_line(e)}") from None


def _on_white(im: Image.Image) -> Image.Image:
    """Composite RGBA/LA on white (transparent areas would otherwise turn black or keep junk colours)."""
    base = Image.new("L" if im.mode == "LA" else "RGB", im.size, 255 if im.mode == "LA" else _WHITE)
    base.paste(im.convert(base.mode), mask=im.getchannel("A"))
    return base


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """Pillow decodes every CMYK JPEG as Adobe-inverted ("CMYK;I"). Photoshop-style files carry the
    Adobe APP14 marker and are right; a CMYK JPEG without it stores plain values (libjpeg/libvips/
    browsers only invert when the marker is present), so Pillow's inversion is undone for those."""
    if im.format in _JPEG_FORMATS and "adobe" not in im.info:
        from PIL import ImageChops

        im = ImageChops.invert(im)
    return im.convert("RGB")


def _ensure_pillow_limits(limit: int) -> None:
    """Let our guard, not Pillow's (which raises only above 2 x MAX_IMAGE_PIXELS), decide: when a
    caller allows more than Pillow does, Pillow's limit is raised to match. Never lowered."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process (set by some "
                           "other code); truncated images would load as partly grey pictures")
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit


def _check_file(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError("file not found") from None
    except OSError as e:
        raise ImageLoadError(f"cannot read file: {e.strerror or e}") from None
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError("is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageLoadError("not a regular file")
    if st.st_size == 0:
        raise ImageLoadError("empty file (0 bytes)")


def load_image(source: str | Path | bytes, budget: PixelBudget | None) -> Image.Image:
    """The image as the model sees it: 8-bit RGB, upright, at `target_size` (budget None: full size).

    `source` is a file path, or the encoded bytes of an image (a Parquet cell, a tar member, an object
    store read): both take the same path through the decoder, so every engine sees the same pixels.
    JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the target, then
    LANCZOS-resized to the exact size: the same picture as a full decode (about 50 dB PSNR) in a
    fraction of the time. Multi-frame files (GIF, WebP, TIFF) give their first frame."""
    limit = budget.max_decode_pixels if budget is not None else DEFAULT_MAX_DECODE_PIXELS
    _ensure_pillow_limits(limit)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageLoadError("empty image (0 bytes)")
        opened = io.BytesIO(source)
    else:
        opened = Path(source)
        _check_file(opened)
    try:
        with Image.open(opened, formats=_open_formats()) as im:
            width, height = im.size  # from the header: nothing decoded yet
            if width < 1 or height < 1:
                raise ImageLoadError(f"image has no pixels ({width}x{height})")
            if width * height > limit:
                raise ImageLoadError(f"image too large to decode: {width}x{height} = {width * height:,} pixels, "
                                     f"above the limit of {limit:,} (max_decode_pixels)")
            box = None
            if budget is not None and im.format in _JPEG_FORMATS:  # EXIF sits in the header: no decode
                drafted = im.draft(None, _file_target(width, height, _orientation(im), budget))
                box = drafted[1] if drafted is not None else None
            im.load()
            orientation = _orientation(im)  # after load: PNG may keep EXIF after the pixel data
            target = _file_target(width, height, orientation, budget) if budget is not None else None
            flat = _flatten(im)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as e:
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        count = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
        raise ImageLoadError(f"image too large to decode: {count}, above the limit of {limit:,} "
                             "(max_decode_pixels)") from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError("not a supported image file (JPEG, PNG, WebP, GIF, BMP, TIFF, PPM, JPEG 2000, "
                             "AVIF, ICO), or a corrupt one") from None
    except OSError as e:
        text = _one_line(e)
        kind = "truncated image" if "truncated" in text else "cannot decode image"
        raise ImageLoadError(f"{kind}: {text}") from None
    except MemoryError:
        raise ImageLoadError("out of memory while decoding") from None
    except Exception as e:  # Pillow raises many types on hostile files (SyntaxError, struct.error...)
        raise ImageLoadError(f"cannot decode image: {type(e).__name__}: {_one_line(e)}") from None

    if target is not None and (flat.size != target or (box is not None and box != (0, 0, *flat.size))):
        flat = flat.resize(target, Image.Resampling.LANCZOS, box=box)
    if orientation in _ORIENTATION:
        flat = flat.transpose(_ORIENTATION[orientation])
    return flat if flat.mode == "RGB" else flat.convert("RGB")


def prefetch_images(paths: Sequence[Path], budget: PixelBudget | None, workers: int = 2, ahead: int = 16
                    ) -> Iterator[tuple[Path, Image.Image | None, str | None]]:
    """`load_image` over `paths` in a thread pool (Pillow releases the GIL while decoding and resizing),
    yielded in input order as (path, image, None) or (path, None, reason). At most `ahead` loads are
    queued or held; closing the generator cancels what has not started and waits for what has."""
    from concurrent.futures import ThreadPoolExecutor

    if workers < 1 or ahead < 1:
        raise UserError(f"workers and ahead must be at least 1 (got workers={workers}, ahead={ahead})")

    def job(p: Path) -> tuple[Path, Image.Image | None, str | None]:
        try:
            return p, load_image(p, budget), None
        except ImageLoadError as e:
            return p, None, str(e)

    todo = iter(paths)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qassess-image")
    pending: deque = deque()
    try:
        for p in todo:
            pending.append(pool.submit(job, p))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(job, nxt))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# Captions (caption-conditioned mode: rate a text without its image)
# ---------------------------------------------------------------------------------------------

ID_COLUMNS = ("id", "image", "image_name", "img_path", "path", "file", "filename")
CAPTION_COLUMNS = ("caption", "description", "text")
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


@dataclass(frozen=True)
class CaptionItem:
    id: str
    caption: str
    source: str  # "file.txt", "table.csv:12" (line of the row), "list.json[3]" (0-based element)


@dataclass
class CaptionScan:
    """What `scan_captions` found: the usable items, and the rows left out with the reason why."""

    items: list[CaptionItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def read_text(path: Path) -> str:
    """UTF-8 (BOM tolerated) or UTF-16 with a BOM (what Windows Notepad calls "Unicode")."""
    data = path.read_bytes()
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None


def _pick(columns: Sequence[str], explicit: str | None, candidates: Sequence[str], what: str, path: Path) -> str:
    wanted = [explicit] if explicit else list(candidates)
    exact = {c: c for c in columns}
    folded: dict[str, str] = {}
    for c in columns:
        folded.setdefault(c.strip().lower(), c)
    for name in wanted:
        if name in exact:
            return name
        if name.strip().lower() in folded:
            return folded[name.strip().lower()]
    present = ", ".join(repr(c) for c in columns) or "none"
    looked = repr(explicit) if explicit else "one of " + ", ".join(candidates)
    hint = "" if explicit else f" (name it with --{what}-col)"
    raise UserError(f"{path}: no {what} column: looked for {looked}; columns present: {present}{hint}")


def _cell_text(value: object, source: str) -> str:
    """A caption/id cell as text. Q-Reasoning style {"answer": text} is unwrapped; null is empty."""
    if value is None:
        return ""
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return value["answer"].strip()
    if isinstance(value, (dict, list)):
        raise UserError(f"{source}: expected text, found a JSON {type(value).__name__}")
    return str(value).strip()


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[str, dict]]]:
    text = read_text(path)
    first = text.split("\n", 1)[0]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:  # the header line rarely holds quoted text, so the most frequent separator in it wins
        delimiter = max([",", ";", "\t", "|"], key=first.count) if any(d in first for d in ",;\t|") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], iter(())

    def rows() -> Iterator[tuple[str, dict]]:
        start = reader.line_num + 1
        for record in reader:
            source = f"{path}:{start}"
            start = reader.line_num + 1
            if not record or all(not c.strip() for c in record):
                continue
            if len(record) > len(header):
                raise UserError(f"{source}: {len(record)} fields but the header has {len(header)}; "
                                f"quote captions that contain {delimiter!r}")
            yield source, dict(zip(header, record))

    return header, rows()


def _jsonl_rows(path: Path) -> tuple[list[str], list[tuple[str, dict | None]]]:
    """One object per line; a partial last line (a run that crashed mid-write) comes back as None."""
    lines = read_text(path).split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows: list[tuple[str, dict]] = []
    columns: dict[str, None] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        source = f"{path}:{i + 1}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if i == last:
                rows.append((source, None))
                continue
            raise UserError(f"{source}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{source}: expected a JSON object per line, found {type(obj).__name__}")
        columns.update(dict.fromkeys(obj))
        rows.append((source, obj))
    return list(columns), rows


def _json_rows(path: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    """A JSON list of objects, or one {id: caption} object (read as columns id and caption)."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
        return ["id", "caption"], [(f"{path}[{json.dumps(k)}]", {"id": k, "caption": v}) for k, v in data.items()]
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise UserError(f"{path}: expected a JSON list of objects or an {{id: caption}} object")
    columns: dict[str, None] = {}
    for obj in data:
        columns.update(dict.fromkeys(obj))
    return list(columns), [(f"{path}[{i}]", obj) for i, obj in enumerate(data)]


def _scan_table(path: Path, id_col: str | None, caption_col: str | None, scan: CaptionScan) -> Iterator[CaptionItem]:
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    if kind == "json":
        columns, rows = _json_rows(path)
    elif kind == "jsonl":
        columns, rows = _jsonl_rows(path)
    else:
        columns, rows = _csv_rows(path)
    if not columns:
        return
    id_key = _pick(columns, id_col, ID_COLUMNS, "id", path)
    caption_key = _pick(columns, caption_col, CAPTION_COLUMNS, "caption", path)
    for source, row in rows:
        if row is None:
            scan.skipped.append((source, "incomplete last line"))
            continue
        yield CaptionItem(_cell_text(row.get(id_key), source), _cell_text(row.get(caption_key), source), source)


def scan_captions(paths: Sequence[str | Path], id_col: str | None = None, caption_col: str | None = None
                  ) -> CaptionScan:
    """Captions from folders of .txt files (recursive; id = file stem) and tables (CSV/TSV, JSONL,
    JSON list), in input order. Rows with an empty caption or id are left out and listed in
    `skipped`; a duplicate id is an error, since the results could not be told apart."""
    scan = CaptionScan()
    by_id: dict[str, str] = {}
    for p in collect_files(paths, lambda name: name.lower().endswith(".txt")):
        if p.suffix.lower() == ".txt":
            try:
                items: Iterable[CaptionItem] = [CaptionItem(p.stem, read_text(p).strip(), str(p))]
            except OSError as e:
                raise UserError(f"cannot read {p}: {e.strerror or e}") from None
        elif p.suffix.lower() in TABLE_SUFFIXES:
            items = _scan_table(p, id_col, caption_col, scan)
        else:
            raise UserError(f"{p}: not a caption source (expected a folder of .txt files, .txt, "
                            f"{', '.join(sorted(TABLE_SUFFIXES))})")
        for item in items:
            if not item.id:
                scan.skipped.append((item.source, "empty id"))
            elif not item.caption:
                scan.skipped.append((item.source, "empty caption"))
            elif item.id in by_id:
                raise UserError(f"duplicate caption id {item.id!r}: {by_id[item.id]} and {item.source} "
                                "(for a table, pick a unique column with --id-col, e.g. path)")
            else:
                by_id[item.id] = item.source
                scan.items.append(item)
    if not scan.items and not scan.skipped:
        raise UserError("no captions found in " + ", ".join(str(p) for p in paths)
                        + " (expected .txt files or a CSV/TSV/JSONL/JSON table)")
    return scan


def read_captions(paths: Sequence[str | Path], id_col: str | None = None, caption_col: str | None = None
                  ) -> list[CaptionItem]:
    """`scan_captions(...).items`; skipped rows are counted in one logged warning."""
    scan = scan_captions(paths, id_col=id_col, caption_col=caption_col)
    if scan.skipped:
        reasons: dict[str, int] = {}
        for _, reason in scan.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in reasons.items())
        log.warning("skipped %d caption row(s): %s (first: %s)", len(scan.skipped), detail, scan.skipped[0][0])
    return scan.items
