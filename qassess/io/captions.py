"""Caption inputs (caption-conditioned mode: rate a text without its image): folders of .txt files
and tables of id + caption."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from qassess.errors import UserError
from qassess.io.sources import collect_files

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "image", "image_name", "img_path", "path", "file", "filename", "key")  # key: img2dataset
CAPTION_COLUMNS = ("caption", "description", "text")
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"}  # read by qassess.io.tables


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


def _scan_table(path: Path | str, id_col: str | None, caption_col: str | None, scan: CaptionScan) -> Iterator[CaptionItem]:
    from qassess.io.tables import read_table, records_of

    table = read_table(path, raw=True)  # cells as written, each row's line or index as its source
    frame = table.frame
    if table.layout == "mapping":  # {id: caption}
        frame = frame.set_axis(["id", "caption"], axis=1)
    columns = [str(c) for c in frame.columns]
    if not columns:
        scan.skipped.extend(table.dropped)
        return
    id_key = _pick(columns, id_col, ID_COLUMNS, "id", path)
    caption_key = _pick(columns, caption_col, CAPTION_COLUMNS, "caption", path)
    for source, row in zip(table.origins, records_of(frame[[id_key, caption_key]])):
        yield CaptionItem(_cell_text(row.get(id_key), source), _cell_text(row.get(caption_key), source), source)
    scan.skipped.extend(table.dropped)  # a torn last line, after the rows before it


def scan_captions(paths: Sequence[str | Path], id_col: str | None = None, caption_col: str | None = None
                  ) -> CaptionScan:
    """Captions from folders of .txt files (recursive; id = file stem) and tables (CSV/TSV, JSONL,
    JSON, Parquet), in input order. Rows with an empty caption or id are left out and listed in
    `skipped`; a duplicate id is an error, since the results could not be told apart."""
    scan = CaptionScan()
    by_id: dict[str, str] = {}
    from qassess.io.storage import is_uri

    local = collect_files([p for p in paths if not is_uri(p)], lambda name: name.lower().endswith(".txt"))
    for p in local + [p for p in paths if is_uri(p)]:  # URIs name tables (read through qassess.io.tables)
        if is_uri(p):
            items: Iterable[CaptionItem] = _scan_table(p, id_col, caption_col, scan)
        elif p.suffix.lower() == ".txt":
            try:
                items = [CaptionItem(p.stem, read_text(p).strip(), str(p))]
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
