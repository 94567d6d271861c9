"""Images stored inside shards, as img2dataset and Hugging Face datasets write them.

- WebDataset tar (`00000.tar`, or gzip-compressed `00000.tar.gz` / `.tgz`, decompressed once into a
  temporary file: members `KEY.jpg` + `KEY.json`/`KEY.txt`): one row per key, its image
  member being the one with an image extension. Read with the standard library's `tarfile`, not the
  `webdataset` package: listing records each member's data offset without reading image data, so a
  resumed run reads only the members it still needs (one ranged read each, also on object stores), and a
  bad member is one load_error row. webdataset's sequential sample pipeline suits training loaders, and
  would read a whole shard again on every resume.
- Parquet with the encoded image in a bytes column (img2dataset: `jpg` + `key`) or in a struct
  {bytes, path} (datasets' Image feature). Listing reads the key column only; the image column is read
  one row group at a time as rows are loaded (the last two groups kept).

Rows are named `shard.tar#KEY` / `file.parquet#KEY` (the row number when the Parquet has no key column).
Shard objects pickle without their open files and caches (Ray ships them to workers).
"""
from __future__ import annotations

import logging
import os
import tarfile
import threading
from collections import OrderedDict
from typing import Any, Iterator

from qassess.errors import UserError, one_line
from qassess.io.images import IMAGE_EXTENSIONS, ImageLoadError

log = logging.getLogger(__name__)

IMAGE_COLUMNS = ("jpg", "jpeg", "png", "webp", "image", "img", "image_bytes", "bytes")
KEY_COLUMNS = ("key", "id", "__key__")
GZIP_SUFFIXES = (".tar.gz", ".tgz")
TAR_SUFFIXES = (".tar", *GZIP_SUFFIXES)


class _Opener:
    """Where a shard's bytes live: a local path, or a path inside an fsspec file system."""

    def __init__(self, path: str, fs=None):
        self.path, self.fs = path, fs

    def open(self):
        return self.fs.open(self.path, "rb") if self.fs is not None else open(self.path, "rb")

    def read_range(self, start: int, size: int) -> bytes:
        if self.fs is not None:
            return self.fs.cat_file(self.path, start=start, end=start + size)
        with open(self.path, "rb") as fh:
            fh.seek(start)
            return fh.read(size)


class _GzipOpener(_Opener):
    """A gzip-compressed tar (`00000.tar.gz`): a gzip stream has no random access, so the first use in a
    process decompresses it once into a temporary .tar, which then serves listing and ranged reads."""

    def __init__(self, path: str, fs=None):
        super().__init__(path, fs)
        self._plain: str | None = None
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"path": self.path, "fs": self.fs}  # the temporary copy belongs to one process

    def __setstate__(self, state):
        self.__init__(state["path"], state["fs"])

    def _local(self) -> str:
        import atexit
        import gzip
        import shutil
        import tempfile

        with self._lock:
            if self._plain is None:
                fd, plain = tempfile.mkstemp(prefix="qassess-shard-", suffix=".tar")
                atexit.register(lambda: os.path.exists(plain) and os.unlink(plain))
                try:
                    with super().open() as raw, gzip.open(raw) as unzipped, os.fdopen(fd, "wb") as out:
                        shutil.copyfileobj(unzipped, out, 1 << 20)
                except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
                    os.unlink(plain)
                    raise OSError(f"cannot decompress {self.path}: {one_line(exc, 200)}") from None
                self._plain = plain
            return self._plain

    def open(self):
        return open(self._local(), "rb")

    def read_range(self, start: int, size: int) -> bytes:
        with open(self._local(), "rb") as fh:
            fh.seek(start)
            return fh.read(size)


# ------------------------------------------------------------------------------------------- tar


class TarShard:
    """A WebDataset tar: `members()` lists (key, ref) once; `read(ref)` is one ranged read."""

    def __init__(self, path: str, label: str, fs=None):
        self.label = label
        self._opener = (_GzipOpener if path.lower().endswith(GZIP_SUFFIXES) else _Opener)(path, fs)

    def members(self) -> Iterator[tuple[str, Any]]:
        """(key, ref) per sample in tar order. ref is (offset, size, member name), or a reason string when
        the key has no image member or the tar breaks off (each becomes a load_error row)."""
        samples: dict[str, list[tarfile.TarInfo]] = {}
        order: list[str] = []
        broken = None
        try:
            with self._opener.open() as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
                for info in tar:  # headers only: tarfile seeks over member data
                    if not info.isfile():
                        continue
                    base = os.path.basename(info.name)
                    if base.startswith(".") or "." not in base:
                        continue
                    key = os.path.join(os.path.dirname(info.name), base.split(".", 1)[0])
                    if key not in samples:
                        samples[key] = []
                        order.append(key)
                    samples[key].append(info)
        except tarfile.ReadError as exc:
            if not order:
                raise UserError(f"{self.label}: not a readable tar file ({one_line(exc, 200)})") from None
            broken = f"the tar breaks off after {len(order)} samples ({one_line(exc, 200)})"
        except (OSError, EOFError) as exc:
            if not order:
                raise UserError(f"cannot read {self.label}: {one_line(exc, 200)}") from None
            broken = f"the tar breaks off after {len(order)} samples ({one_line(exc, 200)})"
        for key in order:
            image = next((m for m in samples[key] if os.path.splitext(m.name)[1].lower() in IMAGE_EXTENSIONS), None)
            if image is None:
                names = ", ".join(os.path.basename(m.name) for m in samples[key])
                yield key, f"no image member for this key (members: {names})"
            else:
                yield key, (image.offset_data, image.size, image.name)
        if broken:
            yield "!rest", broken

    def read(self, ref: Any) -> bytes:
        if isinstance(ref, str):
            raise ImageLoadError(ref)
        offset, size, name = ref
        try:
            data = self._opener.read_range(offset, size)
        except OSError as exc:
            raise ImageLoadError(f"cannot read tar member {name}: {one_line(exc, 200)}") from None
        if len(data) != size:
            raise ImageLoadError(f"tar member {name} is truncated ({len(data)} of {size} bytes)")
        return data


# ---------------------------------------------------------------------------------------- parquet


def image_column(schema) -> tuple[str, bool] | None:
    """(column, is_struct) holding encoded images, or None: a bytes column with a known name (or the
    only bytes column), else a struct with a bytes field (datasets' Image feature)."""
    import pyarrow as pa

    def is_bytes(t) -> bool:
        return pa.types.is_binary(t) or pa.types.is_large_binary(t)

    names = {f.name.lower(): f.name for f in schema}
    binary = [f.name for f in schema if is_bytes(f.type)]
    for candidate in IMAGE_COLUMNS:
        if candidate in names and names[candidate] in binary:
            return names[candidate], False
    if len(binary) == 1:
        return binary[0], False
    structs = [f.name for f in schema if pa.types.is_struct(f.type)
               and any(c.name == "bytes" and is_bytes(c.type) for c in f.type)]
    for candidate in IMAGE_COLUMNS:
        if candidate in names and names[candidate] in structs:
            return names[candidate], True
    return (structs[0], True) if len(structs) == 1 else None


class ParquetShard:
    """A Parquet file of encoded images; reads are served from a cache of decoded row groups."""

    def __init__(self, path: str, label: str, fs=None):
        self.label = label
        self._opener = _Opener(path, fs)
        self._lock = threading.Lock()
        self._file = None
        self._groups: OrderedDict[int, Any] = OrderedDict()
        self.column: tuple[str, bool] | None = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_lock=None, _file=None, _groups=OrderedDict())
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _parquet(self):
        import pyarrow.parquet as pq

        if self._file is None:
            self._file = pq.ParquetFile(self._opener.open())
        return self._file

    def probe(self) -> bool:
        """True when the file holds an image column (False: e.g. img2dataset's metadata beside a tar)."""
        import pyarrow as pa

        try:
            self.column = image_column(self._parquet().schema_arrow)
        except (pa.ArrowException, OSError) as exc:
            raise UserError(f"{self.label}: not a readable Parquet file ({one_line(exc, 200)})") from None
        return self.column is not None

    def members(self) -> Iterator[tuple[str, Any]]:
        """(key, (row group, row in group)): the key column's value, else the row number."""
        if self.column is None and not self.probe():
            raise UserError(f"{self.label}: no image column (a binary column such as jpg/png/image, or a "
                            "struct with a bytes field)")
        pf = self._parquet()
        names = {f.name.lower(): f.name for f in pf.schema_arrow}
        key_col = next((names[k] for k in KEY_COLUMNS if k in names), None)
        row = 0
        seen: set[str] = set()
        for group in range(pf.num_row_groups):
            with self._lock:
                keys = pf.read_row_group(group, columns=[key_col]).column(0).to_pylist() if key_col else None
                size = pf.metadata.row_group(group).num_rows
            for i in range(size):
                key = str(keys[i]) if keys is not None and keys[i] not in (None, "") else str(row)
                if key in seen:
                    key = f"{key}@{row}"  # a repeated key must still name one row
                seen.add(key)
                yield key, (group, i)
                row += 1

    def read(self, ref: Any) -> bytes:
        group, i = ref
        try:
            with self._lock:
                column = self._group(group)
            cell = column[i].as_py()
        except ImageLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow/IO errors on a damaged row group
            raise ImageLoadError(f"cannot read row group {group}: {one_line(exc, 200)}") from None
        if isinstance(cell, dict):
            data = cell.get("bytes")
            if data is None:
                where = f" (path {cell.get('path')!r} only)" if cell.get("path") else ""
                raise ImageLoadError(f"no image bytes in this row{where}")
            return data
        if cell is None:
            raise ImageLoadError("no image bytes in this row (null cell)")
        return cell

    def _group(self, group: int):
        if group in self._groups:
            self._groups.move_to_end(group)
            return self._groups[group]
        column = self._parquet().read_row_group(group, columns=[self.column[0]]).column(0)
        self._groups[group] = column
        while len(self._groups) > 2:
            self._groups.popitem(last=False)
        return column


def open_shard(path: str, label: str, fs=None) -> TarShard | ParquetShard:
    return (TarShard if path.lower().endswith(TAR_SUFFIXES) else ParquetShard)(path, label, fs)
