"""JSON in the layouts datasets ship (records, Q-Reasoning's keyed objects, pandas' orients) and JSON
Lines (pyarrow's parser when it can, json.loads line by line otherwise; a line torn by a crash dropped)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from qassess.errors import UserError
from qassess.io.tables.delimited import Select, open_text, read_bytes


def read_jsonl(path: Path, name: str, select: Select | None = None, raw: bool = False):
    """(frame, notes, origins, dropped). A cut last line (a crash mid-write) is dropped with a note; any
    other bad line is an error that names it. pyarrow's multithreaded reader parses the file when it can
    (about 4x faster than json.loads per line on a million rows, same values); the line-by-line parser
    handles the rest, reports bad lines, and is the one `raw` reads use (values as parsed, line numbers)."""
    data = read_bytes(path)
    notes: list[str] = []
    dropped: list[tuple[str, str]] = []
    end = _content_end(data, len(data))
    start = data.rfind(b"\n", 0, end) + 1
    try:
        json.loads(data[start:end]) if end else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        line = data.count(b"\n", 0, end) + 1
        notes.append(f"{name}: ignored a partial last line {line} (the writer was probably interrupted)")
        dropped.append((f"{name}:{line}", "incomplete last line"))
        end = _content_end(data, start)
    if not end:
        if raw:
            return pd.DataFrame(), notes, [], dropped
        raise UserError(f"{name}: no records")
    body = memoryview(data)[:end]  # no copy of a file that may be half a gigabyte
    frame = None if raw else _jsonl_arrow(body, select)
    origins: list[str] | None = None
    if frame is None:
        records: list[Any] = []
        origins = []
        for number, line in enumerate(bytes(body).decode("utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UserError(f"{name}: line {number} is not valid JSON ({exc.msg})") from None
            origins.append(f"{name}:{number}")
        frame = records_frame(records, name, raw)
        if select is not None:
            frame = frame[list(select([str(c) for c in frame.columns], False))]
    return frame, notes, origins if raw else None, dropped


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


def read_json(path: Path, name: str, raw: bool = False):
    """(frame, notes, headerless, origins, layout, dropped); a .json file holding JSON Lines is read as such."""
    with open_text(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines under a .json name
            frame, notes, origins, dropped = read_jsonl(path, name, raw=raw)
            notes.append(f"{name}: holds one JSON object per line; read as JSON Lines")
            return frame, notes, False, origins, "records", dropped
        raise UserError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    frame, headerless, keys, layout = json_frame(data, name, raw)
    origins = None
    if raw:
        origins = ([f"{name}[{json.dumps(k)}]" for k in keys] if keys is not None
                   else [f"{name}[{i}]" for i in range(len(frame))])
    return frame, [], headerless, origins, layout, []


def json_frame(data: Any, source: str, raw: bool = False) -> tuple[pd.DataFrame, bool, list | None, str]:
    """(frame, headerless, the keys rows came from when the JSON is an object keyed by image, layout).

    The JSON layouts in use: a list of records; a list of {image: {fields}} (Q-Reasoning human
    annotations); a mapping image -> fields or image -> score ("mapping": columns image and score); a
    wrapper {"<key>": [records]}; a list of [image, score] pairs; pandas' column-wise layouts
    ({column: [values]}, {column: {row: value}}, {"columns": [...], "data": [[...]]})."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if len(lists) == 1 and len(data) <= 3:
            return records_frame(lists[0], source, raw), False, None, "records"
        if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):  # orient="split"
            return pd.DataFrame(data["data"], columns=[str(c) for c in data["columns"]]), False, None, "columns"
        values = list(data.values())
        if values and all(isinstance(v, list) and v and not isinstance(v[0], (dict, list)) for v in values) \
                and len({len(v) for v in values}) == 1:  # {column: [values]}
            return pd.DataFrame(data), False, None, "columns"
        if values and all(isinstance(v, dict) for v in values):
            inner = {tuple(v) for v in values}
            if len(inner) == 1 and all(str(k).isdigit() for k in next(iter(inner))):  # {column: {row: value}}
                return pd.DataFrame(data), False, None, "columns"
            return _keyed_frame(data.items(), source, raw), False, list(data), "keyed"
        if data and all(not isinstance(v, (dict, list)) for v in data.values()):
            frame = pd.DataFrame({"image": list(data.keys()), "score": list(data.values())},
                                 dtype=object if raw else None)
            return frame, False, list(data), "mapping"
        raise UserError(f"{source}: unrecognised JSON layout (an object with keys {', '.join(list(data)[:8])})")
    if not isinstance(data, list) or not data:
        found = type(data).__name__ if data else "nothing"
        raise UserError(f"{source}: expected a JSON list of records, found {found}")
    if all(isinstance(r, dict) and len(r) == 1 and isinstance(next(iter(r.values())), dict) for r in data):
        return _keyed_frame((kv for r in data for kv in r.items()), source, raw), False, None, "keyed"
    if all(isinstance(r, (list, tuple)) for r in data):
        width = max(len(r) for r in data)
        frame = pd.DataFrame([list(r) for r in data], columns=[f"column{i + 1}" for i in range(width)])
        return frame, True, None, "rows"
    return records_frame(data, source, raw), False, None, "records"


def _keyed_frame(items: Iterable[tuple[str, dict]], source: str, raw: bool) -> pd.DataFrame:
    rows = []
    for key, fields in items:
        row = dict(fields)
        row["image" if "image" not in row else "key"] = key
        rows.append(row)
    return records_frame(rows, source, raw)


def records_frame(records: list[Any], source: str, raw: bool = False) -> pd.DataFrame:
    """A frame of JSON objects; `raw` keeps every value as parsed (no int -> float when a cell is null)."""
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise UserError(f"{source}: record {bad + 1} is {type(records[bad]).__name__}, not an object")
    if not records:
        raise UserError(f"{source}: no records")
    return pd.DataFrame(records, dtype=object) if raw else pd.DataFrame.from_records(records)
