"""A folder of result shards, local or at any fsspec URI (s3://, gs://, hdfs://): files that appear whole,
and the rows already there, read back so a rerun resumes.

Every file is written whole or not at all: locally under a dot-name, then renamed; on an object store a
PUT (or a completed multipart upload) is atomic. A reader therefore never sees a torn shard, and shards
written by a run that was killed are complete rows. Rows are keyed by path: if a path appears twice
(a write retried after its first file had landed), a rerun keeps the first and rewrites the other file
without it, so retries never add up to duplicates.
"""
from __future__ import annotations

import io
import json
import posixpath
import uuid
from dataclasses import dataclass, field

from qassess.errors import UserError

FORMATS = {"jsonl": ".jsonl", "parquet": ".parquet"}
PREFIX = "part-"
# Where a single PUT is atomic, a shard is written in place; elsewhere under a dot-name, then renamed.
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "r2"}


def is_uri(location: str) -> bool:
    return "://" in str(location) and not str(location).startswith("file://")


def open_folder(location: str):
    """(filesystem, path inside it) for a local folder or a URI."""
    import fsspec.core

    try:
        return fsspec.core.url_to_fs(str(location))
    except (ImportError, ValueError) as exc:
        raise UserError(f"cannot open {location}: {exc}") from None


def atomic_put(fs, path: str, data: bytes) -> None:
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & OBJECT_STORES:
        fs.pipe_file(path, data)
        return
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    fs.pipe_file(tmp, data)
    try:
        fs.mv(tmp, path)
    except Exception:
        fs.rm(tmp)
        raise


def encode(records: list[dict], fmt: str) -> bytes:
    """A shard's bytes: JSONL lines exactly as `qassess score -o x.jsonl` writes them, or Parquet."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        from qassess.core.record import to_arrow

        buf = io.BytesIO()
        pq.write_table(to_arrow(records), buf)
        return buf.getvalue()
    from qassess.io.results import ResultWriter

    text = io.StringIO()
    ResultWriter(text, "jsonl", write_header=False).write(records)
    return text.getvalue().encode("utf-8")


def _decode(fs, path: str) -> list[dict]:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        with fs.open(path, "rb") as fh:
            return pq.read_table(fh).to_pylist()
    rows = []
    for line in fs.cat_file(path).decode("utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def shard_files(fs, root: str) -> list[str]:
    """Our shards in the folder (dot-names, i.e. unfinished writes, and other files left alone)."""
    fs.invalidate_cache()  # other processes (Ray workers) wrote here since this process last listed
    if not fs.exists(root):
        return []
    if not fs.isdir(root):
        raise UserError(f"output {root} is a file: --engine ray writes a folder of shards")
    names = []
    for path in fs.find(root, maxdepth=1):
        base = posixpath.basename(path)
        if base.startswith(PREFIX) and posixpath.splitext(base)[1] in FORMATS.values():
            names.append(path)
    return sorted(names)


@dataclass
class Existing:
    """What a folder already holds, after duplicates (and, if asked, failed rows) were removed."""

    rows: list[dict] = field(default_factory=list)
    duplicates: int = 0
    dropped_errors: int = 0


def read_existing(location: str, *, drop_errors: bool = False) -> Existing:
    fs, root = open_folder(location)
    found, seen = Existing(), set()
    for path in shard_files(fs, root):
        try:
            rows = _decode(fs, path)
        except Exception as exc:  # noqa: BLE001 - a file we wrote whole cannot be torn: someone else's
            raise UserError(f"{fs.unstrip_protocol(path)} is not a readable shard ({exc}); move it away") from None
        keep = []
        for row in rows:
            key = row.get("path")
            if key in seen:
                found.duplicates += 1
            elif drop_errors and row.get("status") != "ok":
                found.dropped_errors += 1
            else:
                seen.add(key)
                keep.append(row)
        if len(keep) != len(rows):  # rewrite now, so the folder never holds a row twice
            if keep:
                atomic_put(fs, path, encode(keep, "parquet" if path.endswith(".parquet") else "jsonl"))
            else:
                fs.rm(path)
        found.rows.extend(keep)
    return found


def remove_shards(location: str) -> int:
    """--overwrite: delete this folder's shards (and only them)."""
    fs, root = open_folder(location)
    files = shard_files(fs, root)
    for path in files:
        fs.rm(path)
    return len(files)
