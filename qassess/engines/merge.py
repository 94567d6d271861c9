"""`qassess merge`: the outputs of sharded or split runs as one file, with nothing dropped silently.

Rows are the same input when they have the same path (else the same id). Identical duplicates (the same
status and rating, e.g. a shard scored twice) collapse to one; a failed row (generation_error) beside an
ok row of the same input gives way to the ok row (a rerun elsewhere fixed it); any other disagreement is
a conflict: refused with the inputs named, or (on_conflict="first") the first file's row is kept and the
conflicts are counted. Rows of different set-ups (mode, model, template) are refused: a merged file
should be one experiment. The inputs' manifests are combined into the output's manifest.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from qassess.errors import UserError
from qassess.core.record import SETUP_FIELDS, typed
from qassess.io.results import ResultWriter, output_format, read_complete

RESULT_SUFFIXES = (".jsonl", ".ndjson", ".csv")
RETRYABLE = "generation_error"


@dataclass
class MergeResult:
    rows: list[dict]
    files: list[Path]
    read: int = 0
    collapsed: int = 0  # identical duplicates
    replaced: int = 0  # failed rows superseded by an ok row of the same input
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.rows)} rows from {len(self.files)} file(s) ({self.read} read)"]
        if self.collapsed:
            parts.append(f"{self.collapsed} identical duplicate(s) collapsed")
        if self.replaced:
            parts.append(f"{self.replaced} failed row(s) replaced by an ok row of the same input")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} conflicting duplicate(s): first file's row kept")
        return "; ".join(parts)


def expand_inputs(items: Sequence[str | Path], exclude: Path | None = None) -> list[Path | str]:
    """Files as given; folders -> their result files (sorted); globs expanded (sorted); a URI
    (s3://bucket/preds.jsonl) stays a string, for the table reader to fetch."""
    from qassess.io.storage import is_uri

    files: list[Path | str] = []
    for item in items:
        text = str(item)
        p = Path(text)
        if is_uri(text):
            files.append(text)
        elif p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in RESULT_SUFFIXES and f.is_file()
                           and not f.name.startswith("."))
            if not found:
                raise UserError(f"{p}: no .jsonl or .csv result files in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        elif glob.has_magic(text):
            found = sorted(Path(f) for f in glob.glob(text) if Path(f).is_file())
            if not found:
                raise UserError(f"no file matches {text}")
            files.extend(found)
        else:
            raise UserError(f"no such file or folder: {text}")
    out, seen = [], set()
    for f in files:
        real = f if isinstance(f, str) else os.path.realpath(f)
        if real in seen or (exclude is not None and real == os.path.realpath(exclude)):
            continue
        seen.add(real)
        out.append(f)
    if not out:
        raise UserError("nothing to merge (the output itself is not an input)")
    return out


def read_rows(path: Path) -> list[dict]:
    try:
        rows, _ = read_complete(path, output_format(path))
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror or err}") from None
    if rows and not all("status" in r and ("path" in r or "id" in r) for r in rows[:1]):
        raise UserError(f"{path} is not a qassess result file (no status/path columns)")
    return [typed(r) for r in rows]


def _key(row: dict) -> str:
    return str(row.get("path") or row.get("id"))


def _same(a: dict, b: dict) -> bool:
    return a["status"] == b["status"] and a["rating"] == b["rating"]


def _describe(row: dict, source: Path) -> str:
    rating = "" if row["rating"] is None else f" {row['rating']}"
    return f"{source.name}: {row['status']}{rating}"


def merge_rows(files: Sequence[Path], on_conflict: str = "error") -> MergeResult:
    if on_conflict not in ("error", "first"):
        raise UserError(f"--on-conflict takes error or first, not {on_conflict!r}")
    result = MergeResult([], list(files))
    kept: dict[str, tuple[int, Path]] = {}  # key -> (index in result.rows, file it came from)
    setup: tuple | None = None
    setup_file: Path | None = None
    for f in files:
        for row in read_rows(f):
            result.read += 1
            this = tuple(row.get(k) for k in SETUP_FIELDS)
            if setup is None:
                setup, setup_file = this, f
            elif this != setup:
                diff = ", ".join(f"{k} {a!r} vs {b!r}" for k, a, b in zip(SETUP_FIELDS, setup, this) if a != b)
                raise UserError(f"{setup_file} and {f} hold results of different set-ups ({diff}): "
                                "merge outputs of one model and template")
            key = _key(row)
            if key not in kept:
                kept[key] = (len(result.rows), f)
                result.rows.append(row)
                continue
            index, first_file = kept[key]
            old = result.rows[index]
            if _same(old, row):
                result.collapsed += 1
            elif old["status"] == RETRYABLE and row["status"] == "ok":
                result.rows[index], kept[key] = row, (index, f)
                result.replaced += 1
            elif row["status"] == RETRYABLE and old["status"] == "ok":
                result.replaced += 1
            else:
                result.conflicts.append(f"{key} ({_describe(old, first_file)}; {_describe(row, f)})")
    if result.conflicts and on_conflict == "error":
        shown = "; ".join(result.conflicts[:3]) + (f"; and {len(result.conflicts) - 3} more"
                                                   if len(result.conflicts) > 3 else "")
        raise UserError(f"{len(result.conflicts)} input(s) have conflicting rows: {shown}. "
                        "Keep one file's rows with --on-conflict first, or rescore them")
    return result


def merge(inputs: Sequence[str | Path], output: str | Path, on_conflict: str = "error") -> MergeResult:
    """Merge `inputs` into `output` (.jsonl or .csv, written atomically) and its manifest."""
    output = Path(output)
    fmt = output_format(output)
    if not output.parent.exists():
        raise UserError(f"output folder does not exist: {output.parent}")
    files = expand_inputs(inputs, exclude=output)
    result = merge_rows(files, on_conflict)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            ResultWriter(fh, fmt, write_header=True).write(result.rows)
        os.replace(tmp, output)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {output}: {err.strerror or err}") from None
    _merge_manifests(files, output)
    return result


def _merge_manifests(files: Sequence[Path], output: Path) -> None:
    """Every input's run segments, in input order, beside the merged file (none if no input had one)."""
    from qassess.io import manifest as mf

    segments, sources = [], []
    for f in files:
        data = mf.read(mf.manifest_path(f))
        if data is not None:
            segments.extend(dict(s, merged_from=f.name) for s in data["segments"])
            sources.append(f.name)
    target = mf.manifest_path(output)
    if not segments:
        target.unlink(missing_ok=True)
        return
    target.write_text(json.dumps({"qassess_manifest": mf.SCHEMA, "output": output.name, "merged_from": sources,
                                  "segments": segments}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
