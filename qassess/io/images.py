"""The one image loader: every image qassess reads goes through `load_image`, so training, scoring and
benchmarks see the same pixels: EXIF orientation applied, alpha on white, any Pillow mode to 8-bit RGB,
then Qwen2.5-VL's own size rule (`target_size`). Broken files raise `ImageLoadError` with a one-line
reason; nothing half-decoded is ever returned. `prefetch_images` runs the loader ahead in threads.
"""
from __future__ import annotations

import io
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from PIL import Image, ImageFile

from qassess.errors import UserError, one_line

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the extensions the loader reads."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS

# Qwen's processor refuses images more elongated than this (smart_resize raises).
MAX_ASPECT_RATIO = 200
DEFAULT_MAX_DECODE_PIXELS = 100_000_000  # guard against decompression bombs; 12 MP phones are far below


class ImageLoadError(Exception):
    """An image that cannot be used (missing, corrupt, truncated, too large...): one-line reason."""


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


def _orientation(im: Image.Image) -> int:
    """EXIF orientation (1 when absent). Unreadable EXIF counts as absent, as in browsers."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - corrupt EXIF must not cost the picture itself
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
        raise ImageLoadError(f"unsupported colour mode {mode}: {one_line(e)}") from None


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
        text = one_line(e)
        kind = "truncated image" if "truncated" in text else "cannot decode image"
        raise ImageLoadError(f"{kind}: {text}") from None
    except MemoryError:
        raise ImageLoadError("out of memory while decoding") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types on hostile files (SyntaxError, struct.error...)
        raise ImageLoadError(f"cannot decode image: {type(e).__name__}: {one_line(e)}") from None

    if target is not None and (flat.size != target or (box is not None and box != (0, 0, *flat.size))):
        flat = flat.resize(target, Image.Resampling.LANCZOS, box=box)
    if orientation in _ORIENTATION:
        flat = flat.transpose(_ORIENTATION[orientation])
    return flat if flat.mode == "RGB" else flat.convert("RGB")


def prefetch_images(paths: Sequence, budget: PixelBudget | None, workers: int = 2, ahead: int = 16
                    ) -> Iterator[tuple[Any, Image.Image | None, str | None]]:
    """`load_image` over `paths` in a thread pool (Pillow releases the GIL while decoding and resizing),
    yielded in input order as (path, image, None) or (path, None, reason). A path is a file path, or an
    item with `read() -> bytes | Path` (qassess.io.sources.ImageItem: shard members, object-store files;
    reading happens in the pool too). At most `ahead` loads are queued or held; closing the generator
    cancels what has not started and waits for what has."""
    from concurrent.futures import ThreadPoolExecutor

    if workers < 1 or ahead < 1:
        raise UserError(f"workers and ahead must be at least 1 (got workers={workers}, ahead={ahead})")

    def job(p):
        try:
            return p, load_image(p.read() if hasattr(p, "read") else p, budget), None
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
