"""The one table reader of qassess: `qassess compare` (predictions, ground truth, references), `qassess
train` (score rows), `qassess data synth` and the caption tables of `qassess score` all read through
`read_table`.

Formats: CSV/TSV/TXT (delimiter, decimal mark and header sniffed: SPAQ's `;` with decimal commas,
headerless PIPAL files, LIVE-style space-separated text), JSON in its common layouts, JSON Lines (a last
line torn by a crash is dropped with a note), Excel (needs openpyxl), Parquet. Text may be gzipped
(`.csv.gz`), UTF-8 with or without a BOM, or UTF-16 with a BOM (Windows "Unicode"). A source is a path,
an fsspec URI (s3://, gs://, ...: read through a temporary local copy) or a DataFrame.

    read_table(source, select=None, raw=False) -> Table     # .frame, .notes, .origins, .dropped, ...
    read_records(source) -> list[dict]                      # raw rows as plain Python values

`select(columns, headerless) -> {column: "text"|"number"}` names the columns to load (a wide qassess
output then reads several times faster). `raw=True` is for callers that want values as written and where
each row came from: CSV cells as text, JSON values as parsed (no type inference), and `Table.origins`, one
label per row ("t.csv:12": the line a CSV/JSONL record starts on; "t.json[3]", 't.json["a.jpg"]';
"t.parquet#3").
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Union

import pandas as pd

from qassess.errors import UserError
from qassess.io.storage import is_uri, local_copy, local_name
from qassess.io.tables.delimited import NA_TOKENS, Select, open_text, read_csv  # noqa: F401 - NA_TOKENS re-exported
from qassess.io.tables.jsonlike import read_json, read_jsonl

Source = Union[str, Path, pd.DataFrame]
NOT_TABLES = (".mat", ".npy", ".npz", ".pkl", ".pickle")


@dataclass
class Table:
    """A loaded input: the rows, where they came from, and anything odd met while reading."""

    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    headerless: bool = False
    kind: str = "table"  # csv | json | jsonl | excel | parquet | frame
    origins: list[str] | None = None  # per row, with raw=True
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (origin, reason): rows left out
    layout: str = "records"  # JSON: records | keyed | mapping (columns image, score) | columns | rows


def read_table(source: Source, select: Select | None = None, *, raw: bool = False) -> Table:
    """Load a table (see the module docstring); a clear UserError for anything unreadable."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        table = Table(frame, "<DataFrame>", kind="frame")
        if raw:
            table.origins = [f"<DataFrame>[{i}]" for i in range(len(frame))]
        return _apply_select(table, select)
    source = local_name(source)
    if is_uri(source):
        with local_copy(source) as path:
            return _read_path(path, source, select, raw)
    path = Path(source)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    return _read_path(path, str(path), select, raw)


def read_records(source: Source) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (`raw` read); missing cells are left out of their row."""
    return records_of(read_table(source, raw=True).frame)


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts of plain Python values, missing cells (None, NaN, NA) left out."""
    columns = [str(c) for c in frame.columns]
    plain = (str, int, bool)
    return [{c: v if type(v) in plain else _plain(v) for c, v in zip(columns, values)
             if v is not None and v is not pd.NA and not (isinstance(v, float) and v != v)}  # v != v: NaN
            for values in frame.itertuples(index=False, name=None)]


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (pyarrow's lists) as Python values, recursively."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def format_of(path: Path, name: str | None = None) -> str:
    """csv | json | jsonl | excel | parquet, from the suffix, else from the first bytes."""
    name = name or str(path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".json":
        return "json"
    if ext in (".xlsx", ".xls", ".xlsm"):
        return "excel"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in NOT_TABLES:
        raise UserError(f"{name}: {ext} files are not read; export the table as CSV, JSON or Parquet")
    with open(path, "rb") as fh:
        if fh.read(4) == b"PAR1":
            return "parquet"
    with open_text(path) as fh:
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


def _read_path(path: Path, name: str, select: Select | None, raw: bool) -> Table:
    with _utf8(path) as path:
        fmt = format_of(path, name)
        if fmt == "csv":
            frame, notes, headerless, origins = read_csv(path, name, select, raw)
            return Table(frame, name, notes, headerless=headerless, kind="csv", origins=origins)
        if fmt == "jsonl":
            frame, notes, origins, dropped = read_jsonl(path, name, select, raw)
            return Table(frame, name, notes, kind="jsonl", origins=origins, dropped=dropped)
        if fmt == "parquet":
            return _read_parquet(path, name, select, raw)
        if fmt == "excel":
            table = _read_excel(path, name, raw)
        else:
            frame, notes, headerless, origins, layout, dropped = read_json(path, name, raw)
            table = Table(frame, name, notes, headerless=headerless, kind="json", origins=origins,
                          layout=layout, dropped=dropped)
        return _apply_select(table, select)


@contextmanager
def _utf8(path: Path) -> Iterator[Path]:
    """The file itself, or a UTF-8 copy of a UTF-16 one (under the same name, so suffixes still tell)."""
    if path.suffix.lower() == ".gz":
        yield path
        return
    with open(path, "rb") as fh:
        bom = fh.read(2)
    if bom not in (b"\xff\xfe", b"\xfe\xff"):
        yield path
        return
    try:
        text = path.read_bytes().decode("utf-16")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: starts like UTF-16 text but is not ({exc.reason}); re-save it as UTF-8") from None
    with tempfile.TemporaryDirectory(prefix="qassess-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(text, encoding="utf-8")
        yield copy


def _apply_select(table: Table, select: Select | None) -> Table:
    if select is None:
        return table
    wanted = select(list(table.frame.columns), table.headerless)
    table.frame = table.frame[list(wanted)]
    return table


def _read_excel(path: Path, name: str, raw: bool) -> Table:
    try:
        frame = pd.read_excel(path, dtype=object if raw else None)
    except ImportError as exc:  # openpyxl / xlrd are not dependencies of qassess
        raise UserError(f"{name}: {str(exc).splitlines()[0]}; or save the sheet as CSV") from None
    except Exception as exc:  # noqa: BLE001 - zip/xml errors of a file that is not a workbook
        raise UserError(f"{name}: cannot read as an Excel workbook ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]})") from None
    frame.columns = [str(c) for c in frame.columns]
    origins = [f"{name}:{i + 2}" for i in range(len(frame))] if raw else None
    return Table(frame, name, kind="excel", origins=origins)


def _read_parquet(path: Path, name: str, select: Select | None, raw: bool) -> Table:
    """Only the selected columns are read (a shard's image bytes stay on disk); `text` columns come back
    as text with nulls as "" (as CSV cells do)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        columns = [str(c) for c in parquet.schema_arrow.names]
        wanted = select(columns, False) if select is not None else None
        frame = parquet.read(columns=list(wanted) if wanted is not None else None).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{name}: not a readable Parquet file ({' '.join(str(exc).split())[:200]})") from None
    if wanted is not None and not raw:
        for col, how in wanted.items():
            if how == "text":
                frame[col] = frame[col].astype(object).where(frame[col].notna(), "").astype(str)
    frame.columns = [str(c) for c in frame.columns]
    origins = [f"{name}#{i}" for i in range(len(frame))] if raw else None
    return Table(frame, name, kind="parquet", origins=origins)
