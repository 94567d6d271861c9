"""The one table reader: CSV/TSV/TXT (sniffed), JSON in its common layouts, JSON Lines, Excel."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import pandas as pd

NA_TOKENS = ["", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "none"]
from qassess.errors import UserError

Source = Union[str, Path, pd.DataFrame]


@dataclass
class Table:
    """A loaded input: the rows, where they came from, and anything odd met while reading."""

    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    headerless: bool = False
    kind: str = "table"  # csv | json | jsonl | excel | frame

Select = Callable[[list[str], bool], dict[str, str]]  # (columns, headerless) -> {column: "text"|"number"}


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".json":
        return "json"
    if ext in (".xlsx", ".xls", ".xlsm"):
        return "excel"
    if ext in (".mat", ".npy", ".npz", ".pkl", ".pickle", ".parquet"):
        raise UserError(f"{path}: {ext} files are not read; export the table as CSV or JSON")
    with _open_text(path) as fh:
        try:
            head = fh.read(4096).lstrip()
        except UnicodeDecodeError:
            return "csv"
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        first = head.splitlines()[0].strip()
        return "jsonl" if first.endswith("}") and len(head.splitlines()) > 1 else "json"
    return "csv"


def read_table(source: Source, select: Select | None = None) -> Table:
    """Load a CSV / TSV / TXT, JSON, JSONL (optionally .gz) or Excel file, or wrap a DataFrame.

    `select` sees the column names first and says which to load and how (for CSV only those are
    parsed: a wide qassess output with long texts then reads several times faster).
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        table = Table(frame, "<DataFrame>", kind="frame")
        return _apply_select(table, select)
    path = Path(source)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    fmt = _format_of(path)
    if fmt == "csv":
        return _read_csv(path, select)
    if fmt == "excel":
        return _apply_select(_read_excel(path), select)
    if fmt == "jsonl":
        return _read_jsonl(path, select)
    return _apply_select(_read_json(path), select)


def _apply_select(table: Table, select: Select | None) -> Table:
    if select is None:
        return table
    wanted = select(list(table.frame.columns), table.headerless)
    table.frame = table.frame[list(wanted)]
    return table


def _read_excel(path: Path) -> Table:
    try:
        frame = pd.read_excel(path)
    except ImportError as exc:  # openpyxl / xlrd are not dependencies of qassess
        raise UserError(f"{path}: {str(exc).splitlines()[0]}; or save the sheet as CSV") from None
    frame.columns = [str(c) for c in frame.columns]
    return Table(frame, str(path), kind="excel")


def _sniff_csv(path: Path) -> tuple[str, str, bool]:
    """Delimiter, decimal mark and header presence from the first 64 KB (pandas' own sniffing needs
    the python engine, far too slow for a million rows)."""
    if path.suffix.lower() == ".tsv":
        candidates = ["\t"]
    else:
        candidates = [",", ";", "\t", "|"]
    with _open_text(path) as fh:
        try:
            sample = fh.read(65536)
            complete = fh.read(1) == ""
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                            "re-save it as UTF-8") from None
    if not sample.strip():
        raise UserError(f"{path}: the file is empty")

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
            best = r"\s+"
    rows = parse(best)[:200] if best != r"\s+" else [ln.split() for ln in sample.splitlines()[:200] if ln.strip()]
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


def _read_csv(path: Path, select: Select | None) -> Table:
    sep, decimal, has_header = _sniff_csv(path)
    notes: list[str] = []
    common = dict(sep=sep, decimal=decimal, encoding="utf-8-sig", engine="c")
    try:
        if has_header:
            columns = [str(c) for c in pd.read_csv(path, nrows=0, **common).columns]
            names = None
        else:
            width = len(pd.read_csv(path, nrows=1, header=None, **common).columns)
            columns = [f"column{i + 1}" for i in range(width)]
            names = columns
            notes.append(f"{path}: no header row; columns are numbered column1..column{width}")
        wanted = select(columns, not has_header) if select else {c: "text" for c in columns}
        dtype = {c: "str" for c, how in wanted.items() if how == "text"}
        na_values = {c: NA_TOKENS for c, how in wanted.items() if how == "number"}
        body: Path | io.BytesIO = path
        if {"rating", "status", "raw"} <= set(columns) and not _ends_with_newline(path):
            data = _read_bytes(path)  # a qassess output cut by a crash: drop the torn record
            body = io.BytesIO(data[:_complete_csv_prefix(data, sep)])
            notes.append(f"{path}: ignored a partial last record (the writer was probably interrupted)")
        frame = pd.read_csv(body, header=0 if has_header else None, names=names, usecols=list(wanted),
                            dtype=dtype, keep_default_na=False, na_values=na_values, **common)
    except (pd.errors.ParserError, ValueError) as exc:
        raise UserError(f"{path}: cannot parse as a delimited table: {str(exc).strip().splitlines()[0]}") from None
    if sep != "," or decimal != ".":
        notes.append(f"{path}: read with delimiter {sep!r} and decimal mark {decimal!r}")
    return Table(frame, str(path), notes, headerless=not has_header, kind="csv")


def _ends_with_newline(path: Path) -> bool:
    if path.suffix.lower() == ".gz":
        return _read_bytes(path).endswith(b"\n")
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def _complete_csv_prefix(data: bytes, sep: str) -> int:
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
        for _ in csv.reader(lines(), delimiter=sep):
            if last.endswith("\n"):
                end = consumed
    except csv.Error:
        pass
    return end


def _read_bytes(path: Path) -> bytes:
    with (gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")) as fh:
        data = fh.read()
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _read_jsonl(path: Path, select: Select | None = None) -> Table:
    """JSON Lines. A cut last line (a crash mid-write) is dropped with a note; any other bad line is an
    error that names it. pyarrow's multithreaded reader parses the file when it can (about 4x faster
    than json.loads per line on a million rows, same values); the line-by-line parser handles the rest
    and reports bad lines."""
    data = _read_bytes(path)
    notes: list[str] = []
    end = _content_end(data, len(data))
    start = data.rfind(b"\n", 0, end) + 1
    try:
        json.loads(data[start:end]) if end else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        line = data.count(b"\n", 0, end) + 1
        notes.append(f"{path}: ignored a partial last line {line} (the writer was probably interrupted)")
        end = _content_end(data, start)
    if not end:
        raise UserError(f"{path}: no records")
    body = memoryview(data)[:end]  # no copy of a file that may be half a gigabyte
    frame = _jsonl_arrow(body, select)
    if frame is None:
        records: list[Any] = []
        for number, line in enumerate(bytes(body).decode("utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        frame = _records_frame(records, str(path))
        if select is not None:
            frame = frame[list(select([str(c) for c in frame.columns], False))]
    return Table(frame, str(path), notes, kind="jsonl")


def _content_end(data: bytes, end: int) -> int:
    """`end` moved back over trailing whitespace."""
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    return end


def _jsonl_arrow(body: memoryview, select: Select | None) -> pd.DataFrame | None:
    """The fast path, or None when pyarrow is missing or refuses the file (then json.loads decides).

    When the first lines all have the same keys, only the selected columns are built (an explicit
    schema; the long text fields of a qassess output are skipped): a third of the CPU time."""
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:
        return None
    buffer = pa.py_buffer(body)
    try:
        if select is None:
            return pj.read_json(buffer).to_pandas()
        cut = bytes(body[: 1 << 18]).rfind(b"\n") + 1 if len(body) > 1 << 18 else len(body)
        head = bytes(body[: cut or len(body)])  # whole lines from the first 256 KB
        key_sets = {tuple(json.loads(line)) for line in head.splitlines()[:200] if line.strip()}
        if len(key_sets) != 1:  # keys vary between records: let pyarrow see every record
            table = pj.read_json(buffer)
            return table.select(list(select(list(table.column_names), False))).to_pandas()
        sample = pj.read_json(pa.py_buffer(head))
        wanted = select(list(sample.column_names), False)
        types = {f.name: f.type for f in sample.schema}
        fields = []
        for col, how in wanted.items():
            seen = types[col]
            if how == "number":
                fields.append((col, seen if pa.types.is_string(seen) else pa.float64()))
            else:
                fields.append((col, seen if not pa.types.is_null(seen) else pa.string()))
        options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
        return pj.read_json(buffer, parse_options=options).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, json.JSONDecodeError, AttributeError, TypeError):
        return None


def _read_json(path: Path) -> Table:
    with _open_text(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines under a .json name
            table = _read_jsonl(path)
            table.notes.append(f"{path}: holds one JSON object per line; read as JSON Lines")
            return table
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    frame, headerless = _json_frame(data, str(path))
    return Table(frame, str(path), headerless=headerless, kind="json")


def _json_frame(data: Any, source: str) -> tuple[pd.DataFrame, bool]:
    """The JSON layouts in use: a list of records; a list of {image: {fields}} (Q-Reasoning human
    annotations); a mapping image -> fields or image -> score; a wrapper {"<key>": [records]};
    a list of [image, score] pairs; pandas' column-wise layouts ({column: [values]},
    {column: {row: value}}, {"columns": [...], "data": [[...]]})."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if len(lists) == 1 and len(data) <= 3:
            return _records_frame(lists[0], source), False
        if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):  # orient="split"
            return pd.DataFrame(data["data"], columns=[str(c) for c in data["columns"]]), False
        values = list(data.values())
        if values and all(isinstance(v, list) and v and not isinstance(v[0], (dict, list)) for v in values) \
                and len({len(v) for v in values}) == 1:  # {column: [values]}
            return pd.DataFrame(data), False
        if values and all(isinstance(v, dict) for v in values):
            inner = {tuple(v) for v in values}
            if len(inner) == 1 and all(str(k).isdigit() for k in next(iter(inner))):  # {column: {row: value}}
                return pd.DataFrame(data), False
            return _keyed_frame(data.items(), source), False
        if data and all(not isinstance(v, (dict, list)) for v in data.values()):
            return pd.DataFrame({"image": list(data.keys()), "score": list(data.values())}), False
        raise UserError(f"{source}: unrecognised JSON layout (an object with keys {', '.join(list(data)[:8])})")
    if not isinstance(data, list) or not data:
        found = type(data).__name__ if data else "nothing"
        raise UserError(f"{source}: expected a JSON list of records, found {found}")
    if all(isinstance(r, dict) and len(r) == 1 and isinstance(next(iter(r.values())), dict) for r in data):
        return _keyed_frame((kv for r in data for kv in r.items()), source), False
    if all(isinstance(r, (list, tuple)) for r in data):
        width = max(len(r) for r in data)
        return pd.DataFrame([list(r) for r in data], columns=[f"column{i + 1}" for i in range(width)]), True
    return _records_frame(data, source), False


def _keyed_frame(items: Iterable[tuple[str, dict]], source: str) -> pd.DataFrame:
    rows = []
    for key, fields in items:
        row = dict(fields)
        row["image" if "image" not in row else "key"] = key
        rows.append(row)
    return _records_frame(rows, source)


def _records_frame(records: list[Any], source: str) -> pd.DataFrame:
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise UserError(f"{source}: record {bad + 1} is {type(records[bad]).__name__}, not an object")
    if not records:
        raise UserError(f"{source}: no records")
    return pd.DataFrame.from_records(records)
