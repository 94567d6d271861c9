"""Which inputs there are: folders walked deterministically, files named explicitly, de-duplicated; and
for `qassess score` (and the Ray engine), image items from files, image shards and object stores.

    iter_image_items(inputs) -> Iterator[ImageItem]   # ImageItem(id, path, ...).read() -> bytes | Path
    load_image(item.read(), budget)                   # qassess.io.images: the same decoder for every kind

`inputs` are local files or folders, WebDataset .tar and Parquet image shards (qassess.io.image_shards), or fsspec
URIs of any of these (s3://bucket/prefix/, gs://..., see qassess.io.storage). Items pickle (Ray).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from qassess.errors import UserError
from qassess.io.images import IMAGE_EXTENSIONS, is_image_name

log = logging.getLogger(__name__)



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
    found = collect_files(paths, is_image_name)
    if not found:
        where = ", ".join(str(p) for p in paths) or "(no inputs given)"
        raise UserError(f"no images found in {where} (accepted extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found


# ---------------------------------------------------------------------------------------------
# Image items: files, shard members, object-store files
# ---------------------------------------------------------------------------------------------

SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".parquet")


def is_shard_name(name: str) -> bool:
    return str(name).lower().endswith(SHARD_SUFFIXES)


@dataclass(frozen=True)
class ImageItem:
    """One image input. `id` is the row id (file stem, or the shard's key); `path` names the row and is
    its resume key (a local file as given, `shard.tar#KEY`, `file.parquet#KEY`, `s3://bucket/x.jpg`);
    `read()` gives what `images.load_image` takes: a local Path, or the encoded bytes (raises
    ImageLoadError with a one-line reason)."""

    id: str
    path: str
    source: Any = None  # a shard (qassess.io.image_shards), a _RemoteFiles, or None for a local file
    ref: Any = None  # what `source.read` needs: a member reference, or a path in the file system

    def read(self) -> bytes | Path:
        return Path(self.path) if self.source is None else self.source.read(self.ref)


class _RemoteFiles:
    """Plain image files in an fsspec file system (one GET each)."""

    def __init__(self, fs):
        self.fs = fs

    def read(self, path: str) -> bytes:
        from qassess.io.images import ImageLoadError

        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            raise ImageLoadError("file not found") from None
        except OSError as e:
            raise ImageLoadError(f"cannot read file: {' '.join(str(e).split())[:200]}") from None


def row_key(path: str) -> str:
    """The resume key of a row's path: local paths made absolute (as given: links not resolved), URIs kept."""
    from qassess.io.storage import is_uri

    return path if is_uri(path) else os.path.abspath(path)


def _is_input_name(name: str) -> bool:
    return is_image_name(name) or is_shard_name(name)


def iter_image_items(inputs: Sequence[str | Path]) -> Iterator[ImageItem]:
    """Image items of `inputs` in a deterministic order: image files, folders (walked recursively, names
    sorted), WebDataset .tar and Parquet image shards (one item per sample, key as id), and the same on
    fsspec URIs (s3://bucket/prefix/ lists recursively). In a folder, a Parquet file without an image
    column is skipped (img2dataset writes metadata Parquet beside its tars); named explicitly, it is an
    error. Items are de-duplicated by path."""
    from qassess.io.storage import is_uri, local_name

    seen: set[str] = set()
    for raw in inputs:
        raw = local_name(raw)
        entries = _remote_entries(str(raw)) if is_uri(raw) else _local_entries(raw)
        for path, label, fs, named, real in entries:
            if real in seen:  # the same file twice (overlapping inputs, links): its first spelling wins
                continue
            seen.add(real)
            yield from _items_of(path, label, fs, named)


def discover_items(inputs: Sequence[str | Path]) -> list[ImageItem]:
    """`iter_image_items` as a list; none found is an error."""
    found = list(iter_image_items(inputs))
    if not found:
        where = ", ".join(str(p) for p in inputs) or "(no inputs given)"
        raise UserError(f"no images found in {where} (accepted extensions: {', '.join(sorted(IMAGE_EXTENSIONS))}, "
                        f"and image shards: {', '.join(SHARD_SUFFIXES)})")
    return found


def _local_entries(raw: str | Path) -> Iterator[tuple[str, str, Any, bool, str]]:
    """(path, label, file system, named explicitly, real path) per file."""
    p = Path(raw)
    if p.is_dir():
        for path, real in walk_files(p, _is_input_name, set()):
            yield str(path), str(path), None, False, real
    elif p.exists():
        yield str(p), str(p), None, True, os.path.realpath(p)
    else:
        raise UserError(f"no such file or folder: {raw}")


def _remote_entries(uri: str) -> Iterator[tuple[str, str, Any, bool, str]]:
    from qassess.io.storage import filesystem, uri_of

    fs, path = filesystem(uri)
    try:
        if fs.isdir(path):
            names = sorted(p for p in fs.find(path) if not any(part.startswith(".") for part in
                                                                p[len(path.rstrip("/")):].split("/")))
            for p in names:
                if _is_input_name(p):
                    yield p, uri_of(fs, p), fs, False, uri_of(fs, p)
        elif fs.isfile(path):
            yield path, uri, fs, True, uri_of(fs, path)
        else:
            raise UserError(f"no such file or folder: {uri}")
    except (PermissionError, OSError) as e:
        raise UserError(f"cannot list {uri}: {' '.join(str(e).split())[:200]}") from None


def _items_of(path: str, label: str, fs, named: bool) -> Iterator[ImageItem]:
    from qassess.io.image_shards import ParquetShard, open_shard

    if not is_shard_name(path):
        if fs is None:
            yield ImageItem(Path(path).stem, label)
        else:
            yield ImageItem(Path(path).stem, label, _RemoteFiles(fs), path)
        return
    shard = open_shard(path, label, fs)
    if isinstance(shard, ParquetShard) and not named and not shard.probe():
        log.info("skipping %s: no image column (metadata?)", label)
        return
    for key, ref in shard.members():
        yield ImageItem(key, f"{label}#{key}", shard, ref)
