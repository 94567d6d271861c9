"""Delimited text (CSV, TSV, semicolon CSV with decimal commas, LIVE-style space-separated .txt): sniffed
once, then read by pandas' C parser (fast, only the selected columns) or, for `raw` reads, by the csv
module (cells as written, each row's line number, a clear error on a row with too many fields)."""
from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from qassess.errors import UserError

NA_TOKENS = ["", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "none"]
WHITESPACE = r"\s+"

Select = Callable[[list[str], bool], dict[str, str]]  # (columns, headerless) -> {column: "text"|"number"}


def open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def read_bytes(path: Path) -> bytes:
    with (gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")) as fh:
        data = fh.read()
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def sniff_csv(path: Path, name: str) -> tuple[str, str, bool]:
    """Delimiter, decimal mark and header presence from the first 64 KB (pandas' own sniffing needs
    the python engine, far too slow for a million rows)."""
    if path.suffix.lower() == ".tsv":
        candidates = ["\t"]
    else:
        candidates = [",", ";", "\t", "|"]
    with open_text(path) as fh:
        try:
            sample = fh.read(65536)
            complete = fh.read(1) == ""
        except UnicodeDecodeError as exc:
            raise UserError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                            "re-save it as UTF-8") from None
    if not sample.strip():
        raise UserError(f"{name}: the file is empty")

    def parse(delim: str) -> list[list[str]]:  # quoted fields may hold newlines (captions)
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delim) if any(f.strip() for f in r)]
        return rows[:-1] if not complete and len(rows) > 1 else rows  # a partial read may cut the last row

    best, best_width, best_consistent = ",", 1, False
    for delim in candidates:
        widths = [len(r) for r in parse(delim)[:200]]
        width = max(set(widths), key=widths.count)
        consistent = len(set(widths)) == 1
        if width > 1 and ((consistent, width) > (best_consistent, best_width)):
            best, best_width, best_consistent = delim, width, consistent
    if best_width == 1:  # CSIQ / LIVE style text files: columns separated by runs of spaces
        widths = {len(line.split()) for line in sample.splitlines()[:200] if line.strip()}
        if len(widths) == 1 and widths.pop() > 1:
            best = WHITESPACE
    rows = parse(best)[:200] if best != WHITESPACE else [ln.split() for ln in sample.splitlines()[:200] if ln.strip()]
    decimal = "."
    if best != "," and any(re.fullmatch(r"[+-]?\d+,\d+", f.strip()) for row in rows[1:] for f in row):
        decimal = ","
    header_is_data = any(_is_number(f, decimal) for f in rows[0])
    return best, decimal, not header_is_data


def _is_number(text: str, decimal: str = ".") -> bool:
    text = text.strip()
    if decimal == ",":
        text = text.replace(",", ".")
    try:
        float(text)
    except ValueError:
        return False
    return text.lower() not in ("nan", "inf", "-inf", "infinity")


def read_csv(path: Path, name: str, select: Select | None, raw: bool = False):
    """(frame, notes, headerless, origins); origins (each row's first line) only when `raw`."""
    sep, decimal, has_header = sniff_csv(path, name)
    notes: list[str] = []
    torn = {"rating", "status", "raw"}  # a qassess output cut by a crash: its torn record is dropped
    if raw:
        frame, origins = _read_csv_raw(path, name, sep, has_header, notes, torn)
        if select is not None:
            frame = frame[list(select(list(frame.columns), not has_header))]
        return frame, notes, not has_header, origins
    common = dict(sep=sep, decimal=decimal, encoding="utf-8-sig", engine="c")
    try:
        if has_header:
            columns = [str(c) for c in pd.read_csv(path, nrows=0, **common).columns]
            names = None
        else:
            width = len(pd.read_csv(path, nrows=1, header=None, **common).columns)
            columns = [f"column{i + 1}" for i in range(width)]
            names = columns
            notes.append(f"{name}: no header row; columns are numbered column1..column{width}")
        wanted = select(columns, not has_header) if select else {c: "text" for c in columns}
        dtype = {c: "str" for c, how in wanted.items() if how == "text"}
        na_values = {c: NA_TOKENS for c, how in wanted.items() if how == "number"}
        body: Path | io.BytesIO = path
        if torn <= set(columns) and not _ends_with_newline(path):
            data = read_bytes(path)
            body = io.BytesIO(data[:complete_csv_prefix(data, sep)])
            notes.append(f"{name}: ignored a partial last record (the writer was probably interrupted)")
        frame = pd.read_csv(body, header=0 if has_header else None, names=names, usecols=list(wanted),
                            dtype=dtype, keep_default_na=False, na_values=na_values, **common)
    except (pd.errors.ParserError, ValueError) as exc:
        raise UserError(f"{name}: cannot parse as a delimited table: {str(exc).strip().splitlines()[0]}") from None
    if sep != "," or decimal != ".":
        notes.append(f"{name}: read with delimiter {sep!r} and decimal mark {decimal!r}")
    return frame, notes, not has_header, None


def _read_csv_raw(path: Path, name: str, sep: str, has_header: bool, notes: list[str], torn: set[str]
                  ) -> tuple[pd.DataFrame, list[str]]:
    """Every cell as text, blank rows skipped, each row labelled "name:LINE" (its first line)."""
    data = read_bytes(path)
    if has_header and sep != WHITESPACE and not data.endswith(b"\n"):
        first = next(iter(_numbered_records(data.decode("utf-8", errors="replace"), sep)), (0, []))[1]
        if torn <= {h.strip() for h in first}:
            data = data[:complete_csv_prefix(data, sep)]
            notes.append(f"{name}: ignored a partial last record (the writer was probably interrupted)")
    text = data.decode("utf-8", errors="replace")
    if sep == WHITESPACE:
        records: Iterable[tuple[int, list[str]]] = ((i + 1, line.split()) for i, line in enumerate(text.split("\n")))
    else:
        records = _numbered_records(text, sep)
    header: list[str] | None = None
    rows: list[list[str]] = []
    origins: list[str] = []
    for line, record in records:
        if not record or (not record[0].strip() and all(not c.strip() for c in record)):
            continue
        if header is None and has_header:
            header = [h.strip() for h in record]
            continue
        if header is not None and len(record) > len(header):
            raise UserError(f"{name}:{line}: {len(record)} fields but the header has {len(header)}; "
                            f"quote fields that contain {sep!r}")
        rows.append(record)
        origins.append(f"{name}:{line}")
    if header is None:
        width = max((len(r) for r in rows), default=0)
        header = [f"column{i + 1}" for i in range(width)]
        if rows:
            notes.append(f"{name}: no header row; columns are numbered column1..column{width}")
    width = len(header)
    padded = [r if len(r) == width else r + [""] * (width - len(r)) for r in rows]
    return pd.DataFrame(padded, columns=header, dtype=object), origins


def _numbered_records(text: str, sep: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    start = 1
    for record in reader:
        yield start, record
        start = reader.line_num + 1


def _ends_with_newline(path: Path) -> bool:
    if path.suffix.lower() == ".gz":
        return read_bytes(path).endswith(b"\n")
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def complete_csv_prefix(data: bytes, sep: str) -> int:
    """Byte length of the complete records (quoted line breaks respected): the qassess writer ends
    every record with a newline, so a record without one was cut mid-write."""
    consumed, end, last = 0, 0, ""

    def lines() -> Iterable[str]:
        nonlocal consumed, last
        for line in io.StringIO(data.decode("utf-8", errors="replace"), newline=""):
            consumed += len(line.encode("utf-8"))
            last = line
            yield line

    try:
        for _ in csv.reader(lines(), delimiter=sep if sep != WHITESPACE else " "):
            if last.endswith("\n"):
                end = consumed
    except csv.Error:
        pass
    return end
