"""Result files that survive crashes: rows are appended and flushed per batch, and a rerun resumes.

A kill can leave at most one partial record at the end; `open_results` cuts it off, so a resumed run
never duplicates or loses a finished row. The format follows the extension (.csv, .jsonl/.ndjson); the columns are the record's
(`qassess.core.record`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import IO, Iterable

from qassess.core.record import FIELDS
from qassess.errors import UserError



def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise UserError(f"cannot tell the output format of {path}: use a .csv or .jsonl file name")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _encode(record: dict, fmt: str, fields: list[str] = FIELDS) -> str:
    if fmt == "jsonl":
        return json.dumps({k: record.get(k) for k in fields}, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(record.get(k)) for k in fields])
    return buf.getvalue()


def read_complete(path: Path, fmt: str, fields: list[str] = FIELDS) -> tuple[list[dict], int]:
    """Rows of an earlier run and the byte length of its complete part (a torn last record excluded)."""
    data = path.read_bytes()
    if fmt == "jsonl":
        return _read_jsonl(data)
    return _read_csv(data.decode("utf-8", errors="replace"), fields)


def _read_jsonl(data: bytes) -> tuple[list[dict], int]:
    rows, end = [], 0
    for line in data.split(b"\n")[:-1]:  # the piece after the last newline is torn or empty
        if line.strip():
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            if not isinstance(row, dict):
                break
            rows.append(row)
        end += len(line) + 1
    return rows, end


def _read_csv(text: str, fields: list[str] = FIELDS) -> tuple[list[dict], int]:
    consumed, last = 0, ""

    def lines():  # newline="" keeps quoted line breaks and U+2028 inside their fields
        nonlocal consumed, last
        for line in io.StringIO(text, newline=""):
            consumed += len(line.encode("utf-8"))
            last = line
            yield line

    reader = csv.reader(lines())
    header = next(reader, None)
    if header is None or not last.endswith("\n"):
        return [], 0
    if header[:1] != fields[:1]:
        raise UserError("the output file exists and is not a qassess result file: use --overwrite or another -o")
    rows, end = [], consumed
    try:
        for values in reader:
            if len(values) != len(header) or not last.endswith("\n"):
                break
            rows.append(dict(zip(header, values)))
            end = consumed
    except csv.Error:
        pass
    return rows, end


class ResultWriter:
    """Appends records; `flush()` after each batch makes them durable against a crash."""

    def __init__(self, stream: IO[str], fmt: str, write_header: bool, fields: list[str] = FIELDS):
        self.stream, self.fmt, self.fields = stream, fmt, fields
        if write_header and fmt == "csv":
            csv.writer(stream, lineterminator="\n").writerow(fields)

    def write(self, records: Iterable[dict]) -> None:
        self.stream.write("".join(_encode(r, self.fmt, self.fields) for r in records))
        self.flush()

    def flush(self) -> None:
        self.stream.flush()
        if self.stream is not sys.stdout:
            try:
                os.fsync(self.stream.fileno())
            except (OSError, ValueError, io.UnsupportedOperation):
                pass

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


def open_results(path: str | Path | None, *, resume: bool = True, drop_errors: bool = False,
                 drop_statuses: Iterable[str] = (), fields: list[str] = FIELDS) -> tuple[ResultWriter, list[dict]]:
    """A writer for `path` (None: JSONL on stdout) and the rows already there (empty unless resuming).

    With `drop_errors`, earlier rows whose status is not ok are removed (the file is rewritten
    atomically) so that they are attempted again without duplicates; `drop_statuses` does the same
    for rows of those statuses only (runs use it for generation_error: a server or engine failure,
    worth trying again). `fields`: the columns of another kind of row (pairwise verdicts).
    """
    if path is None or str(path) == "-":
        return ResultWriter(sys.stdout, "jsonl", write_header=False, fields=fields), []
    path = Path(path)
    fmt = output_format(path)
    if path.is_dir():
        raise UserError(f"output {path} is a folder: give a file name ending in .csv or .jsonl")
    if not path.parent.exists():
        raise UserError(f"output folder does not exist: {path.parent}")
    done: list[dict] = []
    if resume and path.exists() and path.stat().st_size > 0:
        done, end = read_complete(path, fmt, fields)
        drop = set(drop_statuses)
        if drop_errors or any(r.get("status") in drop for r in done):
            done = [r for r in done if (r.get("status") == "ok" if drop_errors else r.get("status") not in drop)]
            _rewrite(path, fmt, done, fields)
        else:
            with open(path, "r+b") as fh:  # cut a torn last record
                fh.truncate(end)
    try:
        existing = resume and path.exists() and path.stat().st_size > 0
        stream = open(path, "a" if existing else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    return ResultWriter(stream, fmt, write_header=not existing, fields=fields), done


def _rewrite(path: Path, fmt: str, rows: list[dict], fields: list[str] = FIELDS) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = ResultWriter(fh, fmt, write_header=True, fields=fields)
        writer.write(rows)
    os.replace(tmp, path)


def replace_dir(out: str | Path, write) -> Path:
    """Build a directory with `write(tmp_dir)` beside `out`, then swap it in: a crash never leaves a half
    model that looks complete. The result gets ordinary permissions (mkdtemp makes 0700)."""
    import shutil
    import tempfile

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        write(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
