"""`qassess compare`: how well predicted ratings agree with human scores, per dataset.

Reads predictions (a qassess output, or any table with an id and a score), ground truth in the layouts
people have (KonIQ's CSV, the Q-Align / DeQA-Score / Q-Insight JSON lists, the Q-Reasoning files, plain
`name,score` text), optional reference texts for ROUGE-1, joins them by path, file name or stem and
computes the metrics of `qassess.metrics`. Nothing is dropped silently: unmatched, duplicated, failed
and non-finite rows are counted in the report, and a fit that fails is reported as failed.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from qassess import metrics
from qassess.errors import UserError

Source = Union[str, Path, pd.DataFrame]
GroundTruth = Union[Source, Sequence[Source], Mapping[str, Source], None]

FAILURE_POLICIES = ("exclude", "worst", "error")
DUPLICATE_POLICIES = ("first", "mean", "error")
LEVELS = ("path", "parent/name", "name", "stem")  # most specific first
NA_TOKENS = ["", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "none"]

ID_CANDIDATES = ("path", "image_path", "img_path", "filepath", "file_path", "image", "img", "image_name",
                 "img_name", "imagename", "image_id", "img_id", "filename", "file_name", "file", "name",
                 "dist_img", "distorted_image", "key", "id")
PRED_CANDIDATES = ("rating", "pred", "prediction", "predicted", "pred_score", "predicted_score", "pred_mos",
                   "predicted_mos", "score", "quality", "mos", "output")
GT_CANDIDATES = ("mos", "normalized_score", "gt_score_norm", "gt_score", "gt", "gt_mos", "dmos", "mos_quality",
                 "mean_opinion_score", "score", "quality", "label", "target", "subjective_score")
REF_CANDIDATES = ("reference", "references", "ref", "reference_text", "ref_text", "text", "answer")
QREASONING_FIELDS = ("description", "good_aspect", "bad_aspect")
GROUP_CANDIDATES = ("dataset", "dataset_name")


# --- reading tables -------------------------------------------------------------------------------


@dataclass
class Table:
    """A loaded input: the rows, where they came from, and anything odd met while reading."""

    frame: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    headerless: bool = False
    kind: str = "table"  # csv | json | jsonl | excel | frame


Select = Callable[[list[str], bool], dict[str, str]]  # (columns, headerless) -> {column: "text"|"number"}


def _norm(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


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
            raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8") from None
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
    body = _read_bytes(path).rstrip()
    notes: list[str] = []
    start = body.rfind(b"\n") + 1
    try:
        json.loads(body[start:]) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        line = body.count(b"\n") + 1
        notes.append(f"{path}: ignored a partial last line {line} (the writer was probably interrupted)")
        body = body[:start].rstrip()
    if not body:
        raise UserError(f"{path}: no records")
    frame = _jsonl_arrow(body, select)
    if frame is None:
        records: list[Any] = []
        for number, line in enumerate(body.decode("utf-8", errors="replace").split("\n"), start=1):
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


def _jsonl_arrow(body: bytes, select: Select | None) -> pd.DataFrame | None:
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
        head = body[: body.find(b"\n", 1 << 18) + 1 or len(body)]
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
    a list of [image, score] pairs."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if len(lists) == 1 and len(data) <= 3:
            return _records_frame(lists[0], source), False
        if data and all(isinstance(v, dict) for v in data.values()):
            return _keyed_frame(data.items(), source), False
        if data and all(not isinstance(v, (dict, list)) for v in data.values()):
            return pd.DataFrame({"image": list(data.keys()), "score": list(data.values())}), False
        raise UserError(f"{source}: unrecognised JSON layout (an object with keys {', '.join(list(data)[:8])})")
    if not isinstance(data, list) or not data:
        raise UserError(f"{source}: expected a JSON list of records, found {type(data).__name__ if data else 'nothing'}")
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


# --- columns and values ---------------------------------------------------------------------------


def find_column(columns: Sequence[str], candidates: Sequence[str], *, role: str, source: str,
                override: str | None = None, option: str = "", exclude: Iterable[str] = ()) -> str | None:
    """The column to use: the override (exact, then case-insensitive), else the first candidate present.

    Returns None when nothing matches and there is no override; an override that is missing is an
    error that lists the columns that exist.
    """
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    if override:
        if override in columns:
            return override
        if _norm(override) in by_norm:
            return by_norm[_norm(override)]
        raise UserError(f"{source}: no column {override!r} ({option}); columns are: {_list(columns)}")
    skip = set(exclude)
    for cand in candidates:
        col = by_norm.get(cand)
        if col is not None and col not in skip:
            return col
    return None


def require_column(columns: Sequence[str], candidates: Sequence[str], *, role: str, source: str,
                   override: str | None = None, option: str = "", exclude: Iterable[str] = ()) -> str:
    col = find_column(columns, candidates, role=role, source=source, override=override, option=option,
                      exclude=exclude)
    if col is None:
        raise UserError(f"{source}: no {role} column found (looked for {', '.join(candidates[:8])}, ...); "
                        f"columns are: {_list(columns)}; name it with {option}")
    return col


def _list(columns: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(str(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def to_scores(values: pd.Series, *, column: str, source: str, ids: pd.Series | None = None) -> np.ndarray:
    """Floats from a score column: numbers, numeric strings ("3.5", "3,5"), empty/NaN tokens as NaN,
    "inf" kept as inf (excluded and counted later). Anything else is an error naming the first bad row."""
    if pd.api.types.is_bool_dtype(values):
        raise UserError(f"{source}: column {column!r} holds true/false values, not scores")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("str").str.strip()
    text = text.where(~text.str.fullmatch(r"[+-]?\d*,\d+([eE][+-]?\d+)?", na=False), text.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(text, errors="coerce")
    missing = text.isna() | text.isin(NA_TOKENS)
    bad = numbers.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        where = f"row {i + 1}" + (f" (id {ids.iloc[i]!r})" if ids is not None else "")
        raise UserError(f"{source}: column {column!r} has a non-numeric score at {where}: {values.iloc[i]!r}")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna("").str.strip()


# --- keys ------------------------------------------------------------------------------------------


def _arrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise UserError("qassess compare needs pyarrow (pip install pyarrow)") from None
    return pa, pc


def id_keys(ids: pd.Series, level: str) -> Any:
    """Join keys at one level as an Arrow string array (null where the id is empty): the path as
    given (slashes unified, leading ./ dropped), the last folder and the file name, the file name,
    or the stem (the name without its last extension). Arrow's hashing is several times faster than
    Python strings on a million ids."""
    pa, pc = _arrow()
    keys = pa.array(ids.astype("str"))
    keys = pc.utf8_trim_whitespace(keys.cast(pa.large_string()) if keys.type != pa.large_string() else keys)
    if level == "path":
        keys = pc.replace_substring_regex(pc.replace_substring(keys, "\\", "/"), r"^(?:\./)+", "")
    elif level == "parent/name":  # e.g. LIVE's jp2k/img1.bmp and jpeg/img1.bmp
        keys = pc.replace_substring_regex(pc.replace_substring(keys, "\\", "/"), r"^.*/([^/]*/[^/]*)$", r"\1")
    else:
        if pc.any(pc.match_substring_regex(keys, r"[/\\]")).as_py():
            keys = pc.replace_substring_regex(keys, r"^.*[/\\]", "")
        if level == "stem":
            keys = pc.replace_substring_regex(keys, r"^(.+)\.[^.]*$", r"\1")
    return pc.if_else(pc.equal(keys, ""), pa.scalar(None, pa.large_string()), keys)


def _is_unique(keys: Any) -> bool:
    """No key twice (nulls ignored)."""
    _, pc = _arrow()
    valid = keys.drop_null()
    return len(pc.unique(valid)) == len(valid)


def lookup(keys: Any, value_set: Any) -> np.ndarray:
    """Position of each key in `value_set` (unique keys), -1 where absent."""
    _, pc = _arrow()
    return pc.fill_null(pc.index_in(keys, value_set=value_set), -1).to_numpy(zero_copy_only=False)


@dataclass
class PredIndex:
    """Prediction rows per join level: one row per key (the duplicate policy applied) and the keys,
    each computed once however many files are joined against them."""

    frame: pd.DataFrame  # must hold `id`, `failed`, `rating` (and optionally `self_check`)
    duplicates: str
    source: str
    _levels: dict[str, tuple[pd.DataFrame, Any, int, list[str]]] = field(default_factory=dict)

    def at(self, level: str) -> tuple[pd.DataFrame, Any, int, list[str]]:
        """(rows, their unique keys as Arrow strings, duplicate rows dropped, example duplicated keys)."""
        if level not in self._levels:
            pa, pc = _arrow()
            keys = id_keys(self.frame["id"], level)
            valid = pc.is_valid(keys).to_numpy(zero_copy_only=False)
            rows, keys = self.frame[valid], keys.filter(pa.array(valid))
            if _is_unique(keys):
                self._levels[level] = (rows, keys, 0, [])
            else:
                keyed = rows.assign(key=keys.to_numpy(zero_copy_only=False), usable=~rows["failed"].to_numpy())
                mean_cols = ["rating"] + (["self_check"] if "self_check" in keyed else [])
                policy = "first" if self.duplicates == "error" else self.duplicates  # refused in _join, if
                kept, dups, examples = dedupe(keyed, policy, usable="usable", mean_cols=mean_cols,  # chosen
                                              what="prediction", source=self.source)
                kept_keys = pa.array(kept.pop("key").to_numpy(dtype=object), type=pa.large_string())
                self._levels[level] = (kept.drop(columns=["usable"]), kept_keys, dups, examples)
        return self._levels[level]


def choose_level(preds: PredIndex, other_ids: pd.Series) -> tuple[str, Any, np.ndarray, dict[str, int]]:
    """The level (path, parent/name, name, stem) that matches the most rows of `other_ids`, ties going
    to the more specific level. Returns the level, the other side's keys at that level, each key's row in
    `preds.at(level)` (-1: none) and the matches per level tried.

    The file name is tried first: when it matches every row without a duplicate on either side, the
    full path could only give the same pairs, so the other levels are not computed (half the work
    on a million rows); the level is reported as `path` when the ids are moreover equal as given."""
    pa, pc = _arrow()
    tried: dict[str, int] = {}
    found: dict[str, tuple[int, Any, np.ndarray]] = {}
    for level in ("name", "path", "parent/name", "stem"):
        keys = id_keys(other_ids, level)
        rows, value_set, dups, _ = preds.at(level)
        pos = lookup(keys, value_set)
        found[level] = (int((pos >= 0).sum()), keys, pos)
        tried[level] = found[level][0]
        if level == "name" and (pos >= 0).all() and not dups and np.bincount(pos).max(initial=0) <= 1:
            given = pa.array(rows["id"].astype("str")).take(pa.array(pos))
            if pc.all(pc.equal(given, pa.array(other_ids.astype("str")))).as_py():
                return "path", id_keys(other_ids, "path"), pos, {"name": tried["name"], "path": tried["name"]}
            break
        if level == "path" and tried[level] == len(keys) - keys.null_count:
            break
    level = max(found, key=lambda lv: (found[lv][0], -LEVELS.index(lv)))
    return level, found[level][1], found[level][2], tried


def dedupe(frame: pd.DataFrame, policy: str, *, usable: str, mean_cols: Sequence[str], what: str,
           source: str) -> tuple[pd.DataFrame, int, list[str]]:
    """One row per `key`: `first` keeps the first usable row (else the first row), `mean` averages
    `mean_cols` over usable rows, `error` refuses. Returns the frame, rows dropped, example keys."""
    keyed = frame[frame["key"].notna()]
    dup = keyed["key"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return keyed, 0, []
    dups = keyed[dup]
    examples = [str(k) for k in pd.unique(dups["key"])[:3]]
    extra = int(len(dups) - dups["key"].nunique())
    if policy == "error":
        raise UserError(f"{source}: {extra} duplicated {what} rows (e.g. {', '.join(examples)}); "
                        "choose --duplicates first or mean")
    ordered = dups.assign(_unusable=~dups[usable].to_numpy(), _order=np.arange(len(dups)))
    ordered = ordered.sort_values(["_unusable", "_order"], kind="stable")
    kept = ordered.drop_duplicates("key", keep="first")
    if policy == "mean":
        good = ordered[~ordered["_unusable"]]
        means = good.groupby("key", sort=False)[list(mean_cols)].mean()
        kept = kept.set_index("key")
        kept.loc[means.index, list(mean_cols)] = means
        kept = kept.reset_index()
    kept = kept.drop(columns=["_unusable", "_order"])
    single = keyed[~dup]
    return pd.concat([single, kept[single.columns]], ignore_index=False), extra, examples


# --- reference texts (ROUGE-1) -------------------------------------------------------------------

_TRANSLATION = re.compile(r"<translation>(.*?)(?:</translation>|$)", re.S | re.I)
_SUMMARIZE = re.compile(r"<summarize>.*?(?:</summarize>|$)", re.S | re.I)
_TAG = re.compile(r"</?(?:translation|summarize)>", re.I)
_QUOTES = "\"'\u201c\u201d\u2018\u2019`"


def english_text(value: Any) -> str:
    """The English part of one Q-Reasoning annotation field, whatever its form: {"answer": text}
    (human_test.json), a list of strings (filted_data_human_eng.json), or "<summarize>JP</summarize>
    <translation>EN</translation>" with stray whitespace and quotes, or with the tags missing
    (koniq_cot_constrain / cot_reasoning_test / mixed_cot). A lone " " means no annotation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dict):
        return english_text(value.get("answer", ""))
    if isinstance(value, (list, tuple)):
        return " ".join(t for t in (english_text(v) for v in value) if t)
    text = str(value)
    parts = _TRANSLATION.findall(text) or [_SUMMARIZE.sub(" ", text)]
    cleaned = (" ".join(_TAG.sub(" ", p).split()).strip(_QUOTES + " ,") for p in parts)
    return " ".join(p for p in cleaned if p)


def load_references(source: Source, *, id_col: str | None = None, ref_col: str | None = None) -> tuple[Table, str, str]:
    """Reference texts keyed by image id: the Q-Reasoning formats (description + good_aspect +
    bad_aspect, English parts) or any table with an id and a text column. Returns the table with
    columns `id` and `reference`, the id column and a description of the text used."""
    table = read_table(source)
    cols = list(table.frame.columns)
    idc = require_column(cols, ID_CANDIDATES, role="id", source=table.source, override=id_col, option="--ref-id-col")
    if ref_col is None and all(find_column(cols, (f,), role="", source="") for f in QREASONING_FIELDS):
        fields = [find_column(cols, (f,), role="", source="") for f in QREASONING_FIELDS]
        texts = [" ".join(t for t in (english_text(v) for v in row) if t)
                 for row in zip(*(table.frame[f].tolist() for f in fields))]
        used = "Q-Reasoning: English parts of description + good_aspect + bad_aspect"
    else:
        textc = require_column(cols, REF_CANDIDATES + ("description", "caption"), role="reference text",
                               source=table.source, override=ref_col, option="--ref-col", exclude=[idc])
        texts = [english_text(v) for v in table.frame[textc].tolist()]
        used = f"column {textc!r}"
    table.frame = pd.DataFrame({"id": table.frame[idc].astype("str"), "reference": texts})
    return table, idc, used


# --- the report ------------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything `compare` found; `to_dict()` is the --json layout. `rows` is the per-row table."""

    overall: dict[str, Any]
    groups: dict[str, dict[str, Any]]
    average: dict[str, Any] | None
    settings: dict[str, Any]
    inputs: dict[str, Any]
    warnings: list[str]
    rows: pd.DataFrame | None = field(default=None, repr=False)
    fits: dict[str, metrics.Fit | None] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {"overall": self.overall, "groups": self.groups}
        if self.average is not None:
            out["average"] = self.average
        out.update(settings=self.settings, inputs=self.inputs, warnings=self.warnings)
        return _jsonable(out)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# --- compare ---------------------------------------------------------------------------------------


def ground_truth_sources(items: GroundTruth) -> dict[str, Source]:
    """Name -> source. Strings may be `name=path`; unnamed files are named by their stem."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): v for k, v in items.items()}
    if isinstance(items, (str, Path, pd.DataFrame)):
        items = [items]
    out: dict[str, Source] = {}
    for i, item in enumerate(items):
        if isinstance(item, pd.DataFrame):
            name, src = f"gt{i + 1}", item
        else:
            text = str(item)
            name_part, sep, path_part = text.partition("=")
            if sep and name_part and not Path(text).exists() and "/" not in name_part and "\\" not in name_part:
                name, src = name_part, path_part
            else:
                name, src = Path(text).name.split(".")[0], text
        if name in out:
            raise UserError(f"two ground-truth sources are named {name!r}; name them with name=path")
        out[name] = src
    return out


@dataclass
class _Preds:
    table: Table
    frame: pd.DataFrame  # columns: id, rating, failed, status, error, [self_check], [text], [group]
    info: dict[str, Any]


def _load_predictions(source: Source, *, id_col: str | None, pred_col: str | None, group_col: str | None,
                      want_text: bool, warnings: list[str]) -> _Preds:
    chosen: dict[str, str | None] = {}
    all_columns: list[str] = []

    def select(columns: list[str], headerless: bool) -> dict[str, str]:
        name = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)
        all_columns[:] = columns
        if headerless and not id_col and not pred_col and len(columns) >= 2:
            chosen.update(id="column1", score="column2")
        else:
            chosen["id"] = require_column(columns, ID_CANDIDATES, role="id", source=name, override=id_col,
                                          option="--pred-id-col/--id-col")
            chosen["score"] = require_column(columns, PRED_CANDIDATES, role="prediction", source=name,
                                             override=pred_col, option="--pred-col", exclude=[chosen["id"]])
        find = lambda cands: find_column(columns, cands, role="", source=name, exclude=[chosen["id"], chosen["score"]])  # noqa: E731
        chosen["status"] = find(("status",))
        chosen["error"] = find(("error",))
        chosen["self_check"] = find(("self_check_rating",))
        chosen["model"] = find(("model",))
        chosen["group"] = find_column(columns, GROUP_CANDIDATES, role="group", source=name,
                                      override=group_col if group_col and group_col in columns else None)
        chosen["caption"] = find(("caption",)) if want_text else None
        chosen["reasoning"] = find(("reasoning", "think")) if want_text else None
        wanted = {chosen["id"]: "text", chosen["score"]: "number"}
        for role in ("status", "error", "model", "group", "caption", "reasoning"):
            if chosen[role]:
                wanted[chosen[role]] = "text"
        if chosen["self_check"]:
            wanted[chosen["self_check"]] = "number"
        return wanted

    table = read_table(source, select)
    warnings.extend(table.notes)
    raw = table.frame
    if raw.empty:
        raise UserError(f"{table.source}: no prediction rows")
    ids = raw[chosen["id"]].astype("str")
    rating = to_scores(raw[chosen["score"]], column=chosen["score"], source=table.source, ids=ids)
    if chosen["status"]:
        status = _text(raw[chosen["status"]]).str.lower()
        status = status.mask(status == "", "ok")
    else:
        status = pd.Series("ok", index=raw.index, dtype="str")
    failed = (status != "ok").to_numpy() | np.isnan(rating)
    status = status.mask((status == "ok").to_numpy() & failed, "missing_rating")
    frame = pd.DataFrame({"id": ids, "rating": rating, "failed": failed, "status": status}, index=raw.index)
    frame["error"] = raw[chosen["error"]].astype("str").fillna("") if chosen["error"] else ""
    info: dict[str, Any] = {"source": table.source, "rows": len(frame), "id_col": chosen["id"],
                            "score_col": chosen["score"], "status_col": chosen["status"]}
    if chosen["self_check"]:
        sc = to_scores(raw[chosen["self_check"]], column=chosen["self_check"], source=table.source, ids=ids)
        if np.isfinite(sc).any():
            frame["self_check"] = sc
            info["self_check_col"] = chosen["self_check"]
    if chosen["group"]:
        frame["group"] = _text(raw[chosen["group"]])
        info["group_col"] = chosen["group"]
    if want_text:
        if not chosen["caption"] and not chosen["reasoning"]:
            raise UserError(f"{table.source}: ROUGE-1 needs the generated text: no caption or reasoning column; "
                            f"columns are: {_list(all_columns)}")
        parts = [_text(raw[c]) for c in (chosen["caption"], chosen["reasoning"]) if c]
        frame["text"] = (parts[0] + " " + parts[1]).str.strip() if len(parts) == 2 else parts[0]
        info["text"] = " + ".join(c for c in (chosen["caption"], chosen["reasoning"]) if c)
    if chosen["model"]:
        models = sorted(str(v).strip() for v in raw[chosen["model"]].dropna().unique() if str(v).strip())
        info["models"] = models[:10]
        if len(models) > 1:
            warnings.append(f"{table.source}: predictions come from {len(models)} models ({', '.join(models[:4])}); "
                            "they are pooled")
    return _Preds(table, frame, info)


def _load_ground_truth(name: str, source: Source, *, id_col: str | None, gt_col: str | None,
                       group_col: str | None, warnings: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    chosen: dict[str, str | None] = {}

    def select(columns: list[str], headerless: bool) -> dict[str, str]:
        label = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)
        if headerless and not id_col and not gt_col and len(columns) >= 2:
            chosen.update(id="column1", score="column2")
        else:
            chosen["id"] = require_column(columns, ID_CANDIDATES, role="id", source=label, override=id_col,
                                          option="--gt-id-col/--id-col")
            chosen["score"] = require_column(columns, GT_CANDIDATES, role="ground-truth score", source=label,
                                             override=gt_col, option="--gt-col", exclude=[chosen["id"]])
        chosen["group"] = find_column(columns, GROUP_CANDIDATES, role="group", source=label,
                                      override=group_col if group_col and group_col in columns else None,
                                      exclude=[chosen["id"], chosen["score"]])
        wanted = {chosen["id"]: "text", chosen["score"]: "number"}
        if chosen["group"]:
            wanted[chosen["group"]] = "text"
        return wanted

    table = read_table(source, select)
    warnings.extend(table.notes)
    raw = table.frame
    if raw.empty:
        raise UserError(f"{table.source}: no ground-truth rows")
    ids = raw[chosen["id"]].astype("str")
    gt = to_scores(raw[chosen["score"]], column=chosen["score"], source=table.source, ids=ids)
    frame = pd.DataFrame({"id": ids, "gt": gt}, index=raw.index)
    if chosen["group"]:
        frame["group"] = _text(raw[chosen["group"]]).replace("", name)
    info = {"source": table.source, "rows": len(frame), "id_col": chosen["id"], "score_col": chosen["score"],
            "group_col": chosen["group"]}
    if table.headerless:
        info["note"] = "no header: column 1 is the id, column 2 the score"
    return frame, info


def _join(name: str, gframe: pd.DataFrame, info: dict[str, Any], index: PredIndex, duplicates: str,
          warnings: list[str]) -> pd.DataFrame:
    """Matched rows of one ground-truth table: the prediction columns plus `key`, `gt`, `group`,
    `source`. Fills `info` with how ids matched and what did not."""
    pa, pc = _arrow()
    level, gkeys, pos, tried = choose_level(index, gframe["id"])
    kept, kept_keys, pred_dups, pred_dup_examples = index.at(level)
    if pred_dups and duplicates == "error":
        raise UserError(f"{index.source}: {pred_dups} duplicated prediction rows at the {level} level "
                        f"(e.g. {', '.join(pred_dup_examples)}); choose --duplicates first or mean")
    valid = pc.is_valid(gkeys).to_numpy(zero_copy_only=False)
    empty_ids = int((~valid).sum())
    gt_dups, gt_dup_examples = 0, []
    matched_twice = np.bincount(pos[pos >= 0]).max(initial=0) > 1  # cheaper than hashing the keys again
    if empty_ids or matched_twice:
        gkeyed = gframe[valid].assign(key=gkeys.filter(pa.array(valid)).to_numpy(zero_copy_only=False),
                                      usable=np.isfinite(gframe["gt"].to_numpy()[valid]))
        gframe, gt_dups, gt_dup_examples = dedupe(gkeyed, duplicates, usable="usable", mean_cols=["gt"],
                                                  what="ground-truth", source=info["source"])
        gkeys = pa.array(gframe["key"].to_numpy(dtype=object), type=pa.large_string())
        pos = lookup(gkeys, kept_keys)
    hit = pos >= 0
    if not hit.any():
        raise UserError(f"{name}: no prediction matches a ground-truth id (tried path, parent/name, name, stem); "
                        f"e.g. prediction id {index.frame['id'].iloc[0]!r} vs ground-truth id {gframe['id'].iloc[0]!r}")
    part = kept.iloc[pos[hit]].reset_index(drop=True)
    part["key"] = kept_keys.take(pa.array(pos[hit])).to_pandas()
    part["gt"] = gframe["gt"].to_numpy()[hit]
    if "group" in gframe:  # a dataset column in the ground truth wins over one in the predictions
        part["group"] = gframe["group"].to_numpy(dtype=object)[hit]
    elif "group" in part:
        part["group"] = part["group"].replace("", name).to_numpy(dtype=object)
    else:
        part["group"] = np.full(len(part), name, dtype=object)
    part["source"] = name
    unmatched = gkeys.filter(pa.array(~hit)).slice(0, 5).to_pylist()
    info.update(match_by=level, matches_by_level=tried, matched=int(hit.sum()),
                unmatched_gt=int((~hit).sum()) + empty_ids, unmatched_gt_examples=[str(u) for u in unmatched],
                duplicate_gt_rows=gt_dups, duplicate_gt_examples=gt_dup_examples,
                duplicate_pred_rows=pred_dups, duplicate_pred_examples=pred_dup_examples)
    if info["unmatched_gt"]:
        warnings.append(f"{name}: {info['unmatched_gt']} of {info['rows']} ground-truth rows have no prediction "
                        f"(matched by {level}; e.g. {', '.join(info['unmatched_gt_examples'][:3])})")
    if gt_dups or pred_dups:
        warnings.append(f"{name}: duplicated ids at the {level} level, {gt_dups} ground-truth and {pred_dups} "
                        f"prediction rows ({duplicates} kept)")
    return part


def compare(preds: Source, ground_truth: GroundTruth = None, refs: Source | None = None, *,
            id_col: str | None = None, pred_id_col: str | None = None, gt_id_col: str | None = None,
            ref_id_col: str | None = None, pred_col: str | None = None, gt_col: str | None = None,
            group_col: str | None = None, ref_col: str | None = None, fit: str | None = None,
            lower_better: bool | Iterable[str] = False, failures: str = "exclude", worst_score: float = 1.0,
            duplicates: str = "first", bootstrap: int = 0, seed: int = 0, stem: bool = False,
            min_rows: int = 3) -> Report:
    """Compare predictions with ground truth (one or several named files) and optional references.

    Raises UserError for anything the user must fix: unknown columns, non-numeric scores, fewer than
    `min_rows` usable rows in a group, failures under `failures="error"`, duplicates under
    `duplicates="error"`, a fit name that does not exist.
    """
    if fit in ("", "none", None):
        fit = None
    elif fit not in metrics.FIT_KINDS:
        raise UserError(f"unknown --fit {fit!r}; choose none, {', '.join(metrics.FIT_KINDS)}")
    if failures not in FAILURE_POLICIES:
        raise UserError(f"unknown --failures {failures!r}; choose {', '.join(FAILURE_POLICIES)}")
    if duplicates not in DUPLICATE_POLICIES:
        raise UserError(f"unknown --duplicates {duplicates!r}; choose {', '.join(DUPLICATE_POLICIES)}")
    if bootstrap < 0:
        raise UserError("--bootstrap must be 0 (off) or a number of resamples")
    sources = ground_truth_sources(ground_truth)
    if not sources and refs is None:
        raise UserError("nothing to compare with: give a ground-truth file or --refs")

    warnings: list[str] = []
    p = _load_predictions(preds, id_col=pred_id_col or id_col, pred_col=pred_col, group_col=group_col,
                          want_text=refs is not None, warnings=warnings)
    pf = p.frame
    pf["_row"] = np.arange(len(pf))
    empty_ids = int(id_keys(pf["id"], "path").null_count)
    index = PredIndex(pf, duplicates, p.table.source)
    joined_parts: list[pd.DataFrame] = []
    gt_info: dict[str, Any] = {}
    matched_pred = np.zeros(len(pf), dtype=bool)
    for name, src in sources.items():
        gframe, info = _load_ground_truth(name, src, id_col=gt_id_col or id_col, gt_col=gt_col,
                                          group_col=group_col, warnings=warnings)
        part = _join(name, gframe, info, index, duplicates, warnings)
        joined_parts.append(part)
        matched_pred[part["_row"].to_numpy()] = True
        level = info["match_by"]
        if info["duplicate_pred_rows"]:  # rows dropped as duplicates of a matched key are matched too
            pa, pc = _arrow()
            same_key = pc.is_in(id_keys(pf["id"], level), value_set=pa.array(part["key"], type=pa.large_string()))
            matched_pred |= pc.fill_null(same_key, False).to_numpy(zero_copy_only=False)
        gt_info[name] = info

    if group_col and not p.info.get("group_col") and not any(i.get("group_col") for i in gt_info.values()):
        raise UserError(f"--group-col {group_col!r} is in neither the predictions nor the ground truth")
    p.info.update(empty_ids=empty_ids, unmatched=int((~matched_pred).sum()) if sources else None,
                  unmatched_examples=[str(v) for v in pf["id"].to_numpy()[~matched_pred][:5]] if sources else [])
    if sources and p.info["unmatched"]:
        warnings.append(f"{p.info['unmatched']} of {len(pf)} predictions match no ground-truth row "
                        f"(e.g. {', '.join(p.info['unmatched_examples'][:3])})")
    if empty_ids:
        warnings.append(f"{empty_ids} prediction rows have an empty id and were skipped")

    joined = (joined_parts[0] if len(joined_parts) == 1 else pd.concat(joined_parts, ignore_index=True)
              ) if joined_parts else pd.DataFrame()
    group_names = [str(g) for g in pd.unique(joined["group"].to_numpy(dtype=object))] if len(joined) else []
    lower = _lower_better_groups(lower_better, group_names)
    settings = {"fit": fit or "none", "plcc": fit or "raw (no mapping)", "failures": failures,
                "worst_score": worst_score if failures == "worst" else None, "duplicates": duplicates,
                "lower_better": sorted(lower), "bootstrap": {"n_resamples": bootstrap, "seed": seed,
                                                             "method": "percentile", "confidence": 0.95} if bootstrap else None,
                "rouge": {"stem": stem, "lowercase": True, "generated": "caption + ' ' + reasoning"} if refs is not None else None}

    groups: dict[str, dict[str, Any]] = {}
    fits: dict[str, metrics.Fit | None] = {}
    rows_out: list[pd.DataFrame] = []
    for g in group_names:
        rows = joined if len(group_names) == 1 else joined[joined["group"].to_numpy() == g]
        groups[g], fits[g], used_rows = _group_metrics(g, rows, fit=fit, lower=g in lower, failures=failures,
                                                       worst=worst_score, bootstrap=bootstrap, seed=seed,
                                                       min_rows=min_rows, warnings=warnings)
        rows_out.append(used_rows)
    per_row = (rows_out[0] if len(rows_out) == 1 else pd.concat(rows_out, ignore_index=True)) if rows_out else None

    overall: dict[str, Any] = {}
    average = None
    if len(group_names) == 1:
        overall = dict(groups[group_names[0]])
    elif len(group_names) > 1:
        overall = _pooled(per_row, lower, group_names, fit=fit, bootstrap=bootstrap, seed=seed, warnings=warnings)
        overall["rows"] = _sum_counts([groups[g]["rows"] for g in group_names])
        average = {"groups": len(group_names)}
        for m in ("plcc", "srcc", "krcc"):
            vals = [groups[g][m] for g in group_names]
            average[m] = float(np.mean(vals)) if all(v is not None for v in vals) else None
        average["note"] = "mean of the per-group values, as papers print it"

    inputs = {"predictions": p.info, "ground_truth": gt_info}
    if refs is not None:
        per_row, inputs["references"] = _add_rouge(refs, p, index, per_row, groups, overall, failures=failures,
                                                   duplicates=duplicates, stem=stem, id_col=ref_id_col or id_col,
                                                   ref_col=ref_col, warnings=warnings)
    return Report(overall=overall, groups=groups, average=average, settings=settings, inputs=inputs,
                  warnings=warnings, rows=per_row, fits=fits)


def _sum_counts(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Row counts of several groups added up (the failure kinds merged)."""
    out: dict[str, Any] = {}
    for c in counts:
        for key, value in c.items():
            if isinstance(value, dict):
                merged = out.setdefault(key, {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + int(value)
            else:
                out[key] = value
    return out


def _lower_better_groups(lower_better: bool | Iterable[str], names: list[str]) -> set[str]:
    if isinstance(lower_better, bool):
        return set(names) if lower_better else set()
    wanted = set(lower_better)
    unknown = wanted - set(names)
    if unknown:
        raise UserError(f"--lower-better-for names unknown groups {', '.join(sorted(unknown))}; "
                        f"groups are: {', '.join(names)}")
    return wanted


def _group_metrics(name: str, rows: pd.DataFrame, *, fit: str | None, lower: bool, failures: str,
                   worst: float, bootstrap: int, seed: int, min_rows: int,
                   warnings: list[str]) -> tuple[dict[str, Any], metrics.Fit | None, pd.DataFrame]:
    failed = rows["failed"].to_numpy()
    fail_counts = rows.loc[failed, "status"].value_counts().to_dict() if failed.any() else {}
    if failed.any() and failures == "error":
        first = rows[failed].iloc[0]
        why = f": {first['error']}" if first.get("error") else ""
        raise UserError(f"{name}: {int(failed.sum())} matched predictions failed "
                        f"({', '.join(f'{k} {v}' for k, v in fail_counts.items())}); first {first['id']!r} "
                        f"({first['status']}{why}); use --failures exclude or worst")
    pred = rows["rating"].to_numpy(dtype=float).copy()
    if failures == "worst":
        pred[failed] = worst
    gt = rows["gt"].to_numpy(dtype=float)
    gt_bad = ~np.isfinite(gt)
    pred_bad = ~np.isfinite(pred) & ~failed
    use = np.isfinite(gt) & np.isfinite(pred)  # failed rows are NaN here unless scored as worst
    rows["prediction"] = pred
    rows["used"] = use
    excluded = np.full(len(rows), "", dtype=object)
    excluded[pred_bad] = "prediction not finite"
    excluded[failed & (failures == "exclude")] = "failed prediction"
    excluded[gt_bad] = "ground truth not finite"
    rows["excluded"] = excluded
    n = int(use.sum())
    counts = {"matched": int(len(rows)), "used": n, "failed": fail_counts, "failures_policy": failures,
              "failures_excluded": int((failed & np.isfinite(gt)).sum()) if failures == "exclude" else 0,
              "failures_scored_worst": int((failed & np.isfinite(gt)).sum()) if failures == "worst" else 0,
              "gt_not_finite": int(gt_bad.sum()), "pred_not_finite": int(pred_bad.sum())}
    if n < min_rows:
        raise UserError(f"{name}: only {n} usable matched rows (need at least {min_rows}); matched {len(rows)}, "
                        f"failed {int(failed.sum())}, ground truth not finite {int(gt_bad.sum())}")
    out, result = metrics.score_metrics(pred[use], gt[use], fit=fit, lower_better=lower)
    out["lower_better"] = lower
    out["rows"] = counts
    if result is not None and not result.converged:
        warnings.append(f"{name}: the {fit} fit did not converge ({result.message}); PLCC/RMSE/MAE are left empty, "
                        "plcc_raw holds the unmapped PLCC")
    if result is not None and result.converged:
        rows.loc[use, "mapped"] = result.predict(pred[use])
    _scale_note(name, out, pred[use], gt[use], warnings)
    if bootstrap:
        out["ci"] = _intervals(pred[use], gt[use], lower, result, bootstrap, seed)
    if "self_check" in rows:
        out["self_check"], out["consistency"] = _self_check(name, rows, fit=fit, lower=lower, failures=failures,
                                                            worst=worst, min_rows=min_rows, warnings=warnings)
    return out, result, rows


def _intervals(pred: np.ndarray, gt: np.ndarray, lower: bool, fit: metrics.Fit | None, n: int,
               seed: int) -> dict[str, Any]:
    """Bootstrap intervals of the PLCC/SRCC as reported: on the fitted values when a fit converged
    (fitted once on all rows), against the ground truth oriented so that agreement is positive."""
    x = pred
    if fit is not None and fit.converged:
        x = -fit.predict(pred) if lower else fit.predict(pred)
    out = {**metrics.bootstrap_ci(x, -gt if lower else gt, n, seed=seed), "n_resamples": n,
           "method": "percentile", "level": 0.95}
    if fit is not None and not fit.converged:
        out["note"] = "the fit failed: the PLCC interval is for the raw PLCC"
    return out


def _scale_note(name: str, out: dict[str, Any], pred: np.ndarray, gt: np.ndarray, warnings: list[str]) -> None:
    srcc = out.get("srcc")
    if srcc is not None and srcc < -0.2 and not out.get("lower_better"):
        warnings.append(f"{name}: SRCC is negative ({srcc:.3f}); if lower ground truth means better quality "
                        f"(DMOS), pass --lower-better or --lower-better-for {name}")
    if out.get("errors_on") == "raw" and pred.size:
        lo, hi = max(pred.min(), gt.min()), min(pred.max(), gt.max())
        span = max(gt.max() - gt.min(), 1e-12)
        if (hi - lo) / span < 0.5:
            warnings.append(f"{name}: RMSE/MAE compare raw values on different scales (predictions "
                            f"{pred.min():.3g}..{pred.max():.3g}, ground truth {gt.min():.3g}..{gt.max():.3g}); "
                            "use --fit logistic4 for errors on the ground-truth scale")


def _self_check(name: str, rows: pd.DataFrame, *, fit: str | None, lower: bool, failures: str, worst: float,
                min_rows: int, warnings: list[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Metrics of the caption-only (stage 2) rating, and its consistency with the image rating."""
    sc = rows["self_check"].to_numpy(dtype=float).copy()
    gt = rows["gt"].to_numpy(dtype=float)
    missing = np.isnan(sc)
    if missing.any() and failures == "error":
        raise UserError(f"{name}: {int(missing.sum())} rows have no self-check rating; use --failures exclude or worst")
    if failures == "worst":
        sc[missing] = worst
    use = np.isfinite(sc) & np.isfinite(gt)
    if use.sum() < min_rows:
        warnings.append(f"{name}: only {int(use.sum())} rows have a self-check rating; no self-check metrics")
        return None, None
    out, _ = metrics.score_metrics(sc[use], gt[use], fit=fit, lower_better=lower)
    out["missing"] = int(missing.sum())
    image = rows["rating"].to_numpy(dtype=float)
    both = np.isfinite(image) & ~rows["failed"].to_numpy() & np.isfinite(rows["self_check"].to_numpy(dtype=float))
    consistency = metrics.consistency(image[both], rows["self_check"].to_numpy(dtype=float)[both]) if both.sum() >= 2 else None
    return out, consistency


def _pooled(rows: pd.DataFrame, lower: set[str], names: list[str], *, fit: str | None, bootstrap: int, seed: int,
            warnings: list[str]) -> dict[str, Any]:
    used = rows[rows["used"].to_numpy()]
    pred = used["prediction"].to_numpy(dtype=float)
    gt = used["gt"].to_numpy(dtype=float)
    mixed = 0 < len(lower) < len(names)
    if mixed:
        flip = used["group"].isin(lower).to_numpy()
        gt = np.where(flip, -gt, gt)
        out, result = metrics.score_metrics(pred, gt, fit=fit)
        out["rmse"] = out["mae"] = None
        out["errors_on"] = "none (groups point in opposite directions)"
        warnings.append("overall pools groups where higher is better with lower-better groups: correlations use "
                        "sign-flipped ground truth for the latter; RMSE/MAE are not pooled")
    else:
        out, result = metrics.score_metrics(pred, gt, fit=fit, lower_better=bool(lower))
    out["pooled"] = True
    out["lower_better"] = bool(lower) and not mixed
    ranges = {g: (float(np.min(v)), float(np.max(v))) for g, v in used.groupby("group", sort=False)["gt"]}
    spans = [hi - lo for lo, hi in ranges.values()]
    overlap = min(hi for _, hi in ranges.values()) - max(lo for lo, _ in ranges.values())
    if min(spans) <= 0 or max(spans) / min(spans) > 3 or overlap < 0.5 * min(spans):
        shown = ", ".join(f"{g} {lo:.3g}..{hi:.3g}" for g, (lo, hi) in ranges.items())
        warnings.append(f"the groups' ground truth is on different scales ({shown}): the pooled row mixes them; "
                        "read the per-group rows and the average")
    if bootstrap:
        out["ci"] = _intervals(pred, gt, bool(lower) and not mixed, result, bootstrap, seed)
    return out


def _add_rouge(refs: Source, p: _Preds, index: PredIndex, per_row: pd.DataFrame | None,
               groups: dict[str, dict[str, Any]], overall: dict[str, Any], *, failures: str, duplicates: str,
               stem: bool, id_col: str | None, ref_col: str | None,
               warnings: list[str]) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """ROUGE-1 of caption + reasoning against the reference text, over the predictions that have one.

    The failure policy applies here too: failed rows are excluded, scored as they are (usually empty
    text, so 0) under `worst`, or refused under `error`. Per-row values go into the per-row table."""
    table, idc, used = load_references(refs, id_col=id_col, ref_col=ref_col)
    warnings.extend(table.notes)
    level, rkeys, _, _ = choose_level(index, table.frame["id"])
    has_words = table.frame["reference"].str.contains(r"[A-Za-z0-9]", regex=True).to_numpy()
    rkeyed = table.frame.assign(key=rkeys.to_numpy(zero_copy_only=False), usable=has_words)
    rdedup, ref_dups, _ = dedupe(rkeyed, "error" if duplicates == "error" else "first", usable="usable",
                                 mean_cols=[], what="reference", source=table.source)
    pa, _ = _arrow()
    kept, kept_keys, _, _ = index.at(level)
    pos = lookup(kept_keys, pa.array(rdedup["key"].to_numpy(dtype=object), type=pa.large_string()))
    has_ref = (pos >= 0) & rdedup["usable"].to_numpy()[np.maximum(pos, 0)]
    failed = kept["failed"].to_numpy()
    if failures == "error" and (has_ref & failed).any():
        raise UserError(f"{int((has_ref & failed).sum())} predictions with a reference text failed; "
                        "use --failures exclude or worst")
    scored = has_ref & ~failed if failures == "exclude" else has_ref
    idx = np.flatnonzero(scored)
    texts = kept["text"].to_numpy(dtype=object)[idx]
    references = rdedup["reference"].to_numpy(dtype=object)[pos[idx]]
    n_all = len(index.frame)
    values = np.full((n_all, 3), np.nan)  # by original prediction row
    rows = kept["_row"].to_numpy()
    values[rows[idx]] = metrics.rouge1(list(references), list(texts), stem=stem) if idx.size else np.empty((0, 3))
    empty = np.zeros(n_all, dtype=bool)
    empty[rows[idx]] = [not str(t).strip() for t in texts]
    in_kept, with_ref = np.zeros(n_all, dtype=bool), np.zeros(n_all, dtype=bool)
    in_kept[rows], with_ref[rows[has_ref]] = True, True
    info = {"source": table.source, "rows": len(table.frame), "id_col": idc, "text": used, "match_by": level,
            "with_reference": int(has_ref.sum()), "duplicate_rows": ref_dups,
            "predictions_without_reference": int((~has_ref).sum()),
            "failed_excluded": int((has_ref & failed).sum()) if failures == "exclude" else 0}
    if idx.size == 0:
        warnings.append(f"{table.source}: no prediction has a usable reference text (matched by {level}); no ROUGE-1")
        return per_row, info

    def summary(sel: np.ndarray) -> dict[str, Any]:
        v = values[sel & np.isfinite(values[:, 0])]
        means = v.mean(axis=0) if len(v) else [None] * 3
        return {"n": int(len(v)), "precision": means[0], "recall": means[1], "f1": means[2],
                "no_reference": int((sel & in_kept & ~with_ref).sum()), "empty_generation": int((sel & empty).sum())}

    overall["rouge1"] = summary(in_kept)
    if per_row is not None:
        row_ids = per_row["_row"].to_numpy()
        for j, name in enumerate(("rouge1_precision", "rouge1_recall", "rouge1_f1")):
            per_row[name] = values[row_ids, j]
        for g in groups:
            sel = np.zeros(n_all, dtype=bool)
            sel[row_ids[per_row["group"].to_numpy() == g]] = True
            if np.isfinite(values[sel, 0]).any():
                groups[g]["rouge1"] = summary(sel)
    return per_row, info


# --- renderers -------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _lines(report: Report) -> list[tuple[str, dict[str, Any]]]:
    """(label, metrics) per table line: each group, then the average and pooled rows when there are several."""
    out = list(report.groups.items())
    if len(report.groups) > 1:
        out.append(("average", report.average or {}))
        out.append(("pooled", report.overall))
    elif not report.groups and report.overall:
        out.append(("overall", report.overall))
    return out


def _failed(m: dict[str, Any]) -> int | None:
    rows = m.get("rows")
    return sum(rows["failed"].values()) if rows else None


def sections(report: Report) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, headers, rows) of the tables shown on the terminal and in Markdown: the scores, then
    bootstrap intervals, caption-only (self-check) ratings and ROUGE-1 when present."""
    lines = _lines(report)
    out = []
    if report.groups:
        fitted = report.settings["fit"] != "none"
        heads = ["group", "n", "failed", "PLCC", "SRCC", "KRCC", "RMSE", "MAE"] + (["PLCC raw"] if fitted else [])
        rows = [[label, m.get("n"), _failed(m), m.get("plcc"), m.get("srcc"), m.get("krcc"), m.get("rmse"), m.get("mae")]
                + ([m.get("plcc_raw")] if fitted else []) for label, m in lines]
        out.append(("Scores", heads, rows))
    with_ci = [(label, m) for label, m in lines if m.get("ci")]
    if with_ci:
        out.append(("95% bootstrap intervals", ["group", "PLCC", "SRCC"],
                    [[label, _interval(m["ci"]["plcc"]), _interval(m["ci"]["srcc"])] for label, m in with_ci]))
    with_sc = [(label, m) for label, m in lines if m.get("self_check")]
    if with_sc:
        rows = []
        for label, m in with_sc:
            sc, cons = m["self_check"], m.get("consistency") or {}
            rows.append([label, sc.get("n"), sc.get("missing"), sc.get("plcc"), sc.get("srcc"), cons.get("plcc"),
                         cons.get("srcc"), cons.get("mean_abs_gap")])
        out.append(("Caption-only rating (self-check) and its consistency with the image rating",
                    ["group", "n", "missing", "PLCC", "SRCC", "image~caption PLCC", "SRCC", "mean abs gap"], rows))
    with_rouge = [(label, m) for label, m in lines if m.get("rouge1")]
    if with_rouge:
        out.append(("ROUGE-1 of caption + reasoning against the references",
                    ["group", "n", "precision", "recall", "F1"],
                    [[label, r["n"], r["precision"], r["recall"], r["f1"]]
                     for label, r in ((label, m["rouge1"]) for label, m in with_rouge)]))
    return out


def _interval(ci: list[float | None]) -> str:
    return f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]" if ci and ci[0] is not None else "-"


def summary_rows(report: Report) -> list[dict[str, Any]]:
    """One flat dict per line (the --csv layout): every number of the tables, nested keys joined by _."""
    out = []
    for label, m in _lines(report):
        flat: dict[str, Any] = {"group": label}
        for key, value in m.items():
            if key in ("fit", "rows"):
                continue
            if isinstance(value, dict):
                for k2, v2 in value.items():
                    if isinstance(v2, list) and len(v2) == 2:
                        flat[f"{key}_{k2}_low"], flat[f"{key}_{k2}_high"] = v2
                    elif not isinstance(v2, (dict, list)):
                        flat[f"{key}_{k2}"] = v2
            else:
                flat[key] = value
        if m.get("rows"):
            flat["failed"] = _failed(m)
            flat["matched"] = m["rows"]["matched"]
        out.append(flat)
    return out


def notes(report: Report) -> list[str]:
    """Plain-language lines under the table: what PLCC means here, how ids matched, what was left out."""
    s = report.settings
    policy = {"exclude": "excluded (counted under 'failed')", "error": "an error",
              "worst": f"scored {s['worst_score']} (the worst)"}[s["failures"]]
    lines = [f"PLCC: {s['plcc']}" + ("; SRCC/KRCC do not depend on the mapping" if s["fit"] != "none" else "")
             + f". Failed or missing ratings are {policy}."]
    if len(report.groups) > 1:
        lines.append("average: mean of the per-group values (as papers print it); pooled: all rows together.")
    if s["lower_better"]:
        lines.append(f"Lower is better in: {', '.join(s['lower_better'])} (correlations use -ground truth).")
    for name, info in report.inputs.get("ground_truth", {}).items():
        lines.append(f"{name}: {info['source']} ({info['score_col']}), matched {info['matched']}/{info['rows']} "
                     f"by {info['match_by']}" + (f", {info['unmatched_gt']} without prediction" if info["unmatched_gt"] else "")
                     + (f", {info['duplicate_gt_rows']} duplicated" if info["duplicate_gt_rows"] else "") + ".")
    pinfo = report.inputs.get("predictions", {})
    if pinfo.get("unmatched"):
        lines.append(f"{pinfo['unmatched']} of {pinfo['rows']} predictions matched no ground truth.")
    ref = report.inputs.get("references")
    if ref:
        lines.append(f"ROUGE-1 references: {ref['source']} ({ref['text']}), {ref['with_reference']} predictions "
                     f"with a reference (matched by {ref['match_by']}); lower-cased, "
                     f"{'Porter stemming' if s['rouge'] and s['rouge']['stem'] else 'no stemming'}.")
    return lines


def render_table(report: Report, console: Any) -> None:
    """Rich tables on the terminal, with the notes under them."""
    from rich import box
    from rich.table import Table as RichTable

    for title, heads, rows in sections(report):
        table = RichTable(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
        for h in heads:
            table.add_column(h, justify="left" if h == "group" else "right")
        for row in rows:
            style = "bold" if row[0] in ("average", "pooled") else None
            table.add_row(*(_fmt(v, 3) for v in row), style=style)
        console.print(table)
    for line in notes(report):
        console.print(f"[dim]{line}[/dim]", highlight=False)


def to_markdown(report: Report) -> str:
    out: list[str] = []
    for title, heads, rows in sections(report):
        out += [f"**{title}**", "", "| " + " | ".join(heads) + " |", "|" + "|".join(" --- " for _ in heads) + "|"]
        out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
        out.append("")
    out.extend(f"- {line}" for line in notes(report))
    out.extend(f"- Warning: {w}" for w in report.warnings)
    return "\n".join(out) + "\n"


def write_summary_csv(report: Report, path: str | Path) -> None:
    pd.DataFrame(summary_rows(report)).to_csv(path, index=False)


def write_rows(report: Report, path: str | Path) -> None:
    """The per-row table (CSV, or JSON Lines for .jsonl): every matched row, whether it was used and why not."""
    if report.rows is None:
        raise UserError("no per-row table: nothing was matched")
    keep = [c for c in ("group", "id", "key", "prediction", "rating", "gt", "mapped", "used", "excluded", "status",
                        "error", "self_check", "rouge1_precision", "rouge1_recall", "rouge1_f1") if c in report.rows]
    frame = report.rows[keep]
    if str(path).lower().endswith((".jsonl", ".ndjson")):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False)


def plot(report: Report, path: str | Path, max_points: int = 20_000, seed: int = 0) -> None:
    """PNG scatter of prediction vs ground truth per group with the fitted curve. Without --fit a
    4-parameter logistic is fitted for display only (and labelled so). Large groups are subsampled
    for drawing (the title says how many points are shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if report.rows is None or not report.groups:
        raise UserError("--plot needs ground truth")
    names = list(report.groups)
    cols = min(3, len(names))
    nrows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 4.2 * nrows), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, name in zip(axes.flat, names):
        rows = report.rows[(report.rows["group"].to_numpy() == name) & report.rows["used"].to_numpy()]
        x, y = rows["prediction"].to_numpy(dtype=float), rows["gt"].to_numpy(dtype=float)
        shown = rng.choice(x.size, max_points, replace=False) if x.size > max_points else np.arange(x.size)
        dense = shown.size > 2000
        ax.scatter(x[shown], y[shown], s=5 if dense else 14, alpha=0.3 if dense else 0.7, linewidths=0, rasterized=True)
        fit = report.fits.get(name)
        label = report.settings["fit"]
        if fit is None:
            fit, label = metrics.fit_logistic(x, y, "logistic4"), "logistic4 (display only)"
        if fit.converged:
            grid = np.linspace(x.min(), x.max(), 200)
            ax.plot(grid, fit.predict(grid), color="tab:red", lw=2, label=label)
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.02, 0.95, f"{label} fit failed", transform=ax.transAxes, va="top", fontsize=8, color="tab:red")
        m = report.groups[name]
        sub = f" ({shown.size:,} of {x.size:,} shown)" if shown.size < x.size else ""
        ax.set_title(f"{name}: PLCC {_fmt(m['plcc'], 3)}  SRCC {_fmt(m['srcc'], 3)}{sub}", fontsize=9)
        ax.set_xlabel("prediction")
        ax.set_ylabel("ground truth" + (" (lower is better)" if m.get("lower_better") else ""))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
