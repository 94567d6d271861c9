"""Caption inputs (caption-conditioned mode: rate a text without its image): folders of .txt files
and tables of id + caption."""
from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from qassess.errors import UserError
from qassess.sources import collect_files

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "image", "image_name", "img_path", "path", "file", "filename")
CAPTION_COLUMNS = ("caption", "description", "text")
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


@dataclass(frozen=True)
class CaptionItem:
    id: str
    caption: str
    source: str  # "file.txt", "table.csv:12" (line of the row), "list.json[3]" (0-based element)


@dataclass
class CaptionScan:
    """What `scan_captions` found: the usable items, and the rows left out with the reason why."""

    items: list[CaptionItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def read_text(path: Path) -> str:
    """UTF-8 (BOM tolerated) or UTF-16 with a BOM (what Windows Notepad calls "Unicode")."""
    data = path.read_bytes()
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None


def _pick(columns: Sequence[str], explicit: str | None, candidates: Sequence[str], what: str, path: Path) -> str:
    wanted = [explicit] if explicit else list(candidates)
    exact = {c: c for c in columns}
    folded: dict[str, str] = {}
    for c in columns:
        folded.setdefault(c.strip().lower(), c)
    for name in wanted:
        if name in exact:
            return name
        if name.strip().lower() in folded:
            return folded[name.strip().lower()]
    present = ", ".join(repr(c) for c in columns) or "none"
    looked = repr(explicit) if explicit else "one of " + ", ".join(candidates)
    hint = "" if explicit else f" (name it with --{what}-col)"
    raise UserError(f"{path}: no {what} column: looked for {looked}; columns present: {present}{hint}")


def _cell_text(value: object, source: str) -> str:
    """A caption/id cell as text. Q-Reasoning style {"answer": text} is unwrapped; null is empty."""
    if value is None:
        return ""
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return value["answer"].strip()
    if isinstance(value, (dict, list)):
        raise UserError(f"{source}: expected text, found a JSON {type(value).__name__}")
    return str(value).strip()


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[str, dict]]]:
    text = read_text(path)
    first = text.split("\n", 1)[0]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:  # the header line rarely holds quoted text, so the most frequent separator in it wins
        delimiter = max([",", ";", "\t", "|"], key=first.count) if any(d in first for d in ",;\t|") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], iter(())

    def rows() -> Iterator[tuple[str, dict]]:
        start = reader.line_num + 1
        for record in reader:
            source = f"{path}:{start}"
            start = reader.line_num + 1
            if not record or all(not c.strip() for c in record):
                continue
            if len(record) > len(header):
                raise UserError(f"{source}: {len(record)} fields but the header has {len(header)}; "
                                f"quote captions that contain {delimiter!r}")
            yield source, dict(zip(header, record))

    return header, rows()


def _jsonl_rows(path: Path) -> tuple[list[str], list[tuple[str, dict | None]]]:
    """One object per line; a partial last line (a run that crashed mid-write) comes back as None."""
    lines = read_text(path).split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows: list[tuple[str, dict]] = []
    columns: dict[str, None] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        source = f"{path}:{i + 1}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if i == last:
                rows.append((source, None))
                continue
            raise UserError(f"{source}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{source}: expected a JSON object per line, found {type(obj).__name__}")
        columns.update(dict.fromkeys(obj))
        rows.append((source, obj))
    return list(columns), rows


def _json_rows(path: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    """A JSON list of objects, or one {id: caption} object (read as columns id and caption)."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
        return ["id", "caption"], [(f"{path}[{json.dumps(k)}]", {"id": k, "caption": v}) for k, v in data.items()]
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise UserError(f"{path}: expected a JSON list of objects or an {{id: caption}} object")
    columns: dict[str, None] = {}
    for obj in data:
        columns.update(dict.fromkeys(obj))
    return list(columns), [(f"{path}[{i}]", obj) for i, obj in enumerate(data)]


def _scan_table(path: Path, id_col: str | None, caption_col: str | None, scan: CaptionScan) -> Iterator[CaptionItem]:
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    if kind == "json":
        columns, rows = _json_rows(path)
    elif kind == "jsonl":
        columns, rows = _jsonl_rows(path)
    else:
        columns, rows = _csv_rows(path)
    if not columns:
        return
    id_key = _pick(columns, id_col, ID_COLUMNS, "id", path)
    caption_key = _pick(columns, caption_col, CAPTION_COLUMNS, "caption", path)
    for source, row in rows:
        if row is None:
            scan.skipped.append((source, "incomplete last line"))
            continue
        yield CaptionItem(_cell_text(row.get(id_key), source), _cell_text(row.get(caption_key), source), source)


def scan_captions(paths: Sequence[str | Path], id_col: str | None = None, caption_col: str | None = None
                  ) -> CaptionScan:
    """Captions from folders of .txt files (recursive; id = file stem) and tables (CSV/TSV, JSONL,
    JSON list), in input order. Rows with an empty caption or id are left out and listed in
    `skipped`; a duplicate id is an error, since the results could not be told apart."""
    scan = CaptionScan()
    by_id: dict[str, str] = {}
    for p in collect_files(paths, lambda name: name.lower().endswith(".txt")):
        if p.suffix.lower() == ".txt":
            try:
                items: Iterable[CaptionItem] = [CaptionItem(p.stem, read_text(p).strip(), str(p))]
            except OSError as e:
                raise UserError(f"cannot read {p}: {e.strerror or e}") from None
        elif p.suffix.lower() in TABLE_SUFFIXES:
            items = _scan_table(p, id_col, caption_col, scan)
        else:
            raise UserError(f"{p}: not a caption source (expected a folder of .txt files, .txt, "
                            f"{', '.join(sorted(TABLE_SUFFIXES))})")
        for item in items:
            if not item.id:
                scan.skipped.append((item.source, "empty id"))
            elif not item.caption:
                scan.skipped.append((item.source, "empty caption"))
            elif item.id in by_id:
                raise UserError(f"duplicate caption id {item.id!r}: {by_id[item.id]} and {item.source} "
                                "(for a table, pick a unique column with --id-col, e.g. path)")
            else:
                by_id[item.id] = item.source
                scan.items.append(item)
    if not scan.items and not scan.skipped:
        raise UserError("no captions found in " + ", ".join(str(p) for p in paths)
                        + " (expected .txt files or a CSV/TSV/JSONL/JSON table)")
    return scan


def read_captions(paths: Sequence[str | Path], id_col: str | None = None, caption_col: str | None = None
                  ) -> list[CaptionItem]:
    """`scan_captions(...).items`; skipped rows are counted in one logged warning."""
    scan = scan_captions(paths, id_col=id_col, caption_col=caption_col)
    if scan.skipped:
        reasons: dict[str, int] = {}
        for _, reason in scan.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in reasons.items())
        log.warning("skipped %d caption row(s): %s (first: %s)", len(scan.skipped), detail, scan.skipped[0][0])
    return scan.items
