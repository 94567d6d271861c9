"""Which files are inputs: folders walked deterministically, files named explicitly, de-duplicated."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from qassess.errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


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
