"""Thumbnails as data URIs, decoded by the loader `score` uses (EXIF orientation, CMYK, 16-bit, alpha on
white, the decode-size guard) with a small pixel budget, in a thread pool behind a progress bar."""
from __future__ import annotations

import base64
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from qassess.errors import UserError

FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}


@dataclass
class Thumb:
    uri: str | None  # data:image/...;base64,... or None
    width: int = 0
    height: int = 0
    problem: str = ""  # why there is no picture: file not found, or the loader's reason


def resolve(path: str, roots: Sequence[Path]) -> Path | None:
    """The file a row's `path` names: as given when absolute, else the first root holding it."""
    if not path:
        return None
    p = Path(path)
    if p.is_absolute():
        return p if p.is_file() else None
    for root in roots:
        if (root / p).is_file():
            return root / p
    return None


def make_thumbnail(file: Path, size: int, fmt: str, quality: int) -> Thumb:
    from qassess.io.images import ImageLoadError, PixelBudget, load_image

    # An area budget of size x 3/4 size: a 4:3 photo comes out `size` px wide, a square one a bit smaller.
    budget = PixelBudget(min_pixels=1, max_pixels=max(1, size * size * 3 // 4), factor=1)
    try:
        image = load_image(file, budget)
    except ImageLoadError as exc:
        return Thumb(None, problem=str(exc))
    except OSError as exc:  # unreadable between resolve() and the load
        return Thumb(None, problem=f"cannot read: {exc.strerror or exc}")
    buf = io.BytesIO()
    pil_format, mime = FORMATS[fmt]
    image.save(buf, pil_format, quality=quality, **({"method": 4} if fmt == "webp" else {"optimize": True}))
    return Thumb(f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii"), *image.size)


def check_options(size: int, fmt: str, quality: int) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown thumbnail format {fmt!r}; choose {', '.join(FORMATS)}")
    if not 16 <= size <= 2048:
        raise UserError(f"--thumb-size must be between 16 and 2048 px, got {size}")
    if not 1 <= quality <= 100:
        raise UserError(f"--thumb-quality must be between 1 and 100, got {quality}")


def make_thumbnails(files: Sequence[Path], *, size: int = 256, fmt: str = "webp", quality: int = 70,
                    workers: int | None = None, log: Callable[[str], None] | None = None) -> list[Thumb]:
    """One Thumb per file, in order. Pillow releases the GIL while decoding, resizing and encoding, so
    threads run in parallel."""
    check_options(size, fmt, quality)
    workers = workers or min(8, os.cpu_count() or 1)
    out: list[Thumb] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qassess-thumb") as pool, \
            _Progress(len(files), log) as progress:
        for thumb in pool.map(lambda f: make_thumbnail(f, size, fmt, quality), files):
            out.append(thumb)
            progress.advance(thumb.uri is None)
    return out


class _Progress:
    """A rich bar on a terminal (the style of `score`'s), a plain line every 10% otherwise."""

    def __init__(self, total: int, log: Callable[[str], None] | None):
        self.total, self.done, self.failed = total, 0, 0
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.started, self.bar, self.next_line = time.monotonic(), None, 0.1
        if sys.stderr.isatty() and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("thumbnails"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} images/s, {task.fields[failed]} without picture"),
                                TimeRemainingColumn(), console=Console(stderr=True))

    def __enter__(self):
        if self.bar:
            self.bar.start()
            self.task = self.bar.add_task("thumbnails", total=self.total, rate="-", failed=0)
        return self

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        if self.bar:
            self.bar.update(self.task, completed=self.done, rate=f"{rate:.0f}", failed=self.failed)
        elif self.done >= self.next_line * self.total or self.done == self.total:
            self.next_line = self.done / self.total + 0.1
            self.log(f"thumbnails [{self.done}/{self.total}] {rate:.0f} images/s, {self.failed} without picture")

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()
