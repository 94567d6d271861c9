"""The record: one row of a scoring run, the same for every engine and every file format.

Every reader and writer derives from `SCHEMA`: the CSV header and cell order, the JSONL keys, the types
of a CSV row read back (`typed`), and the Arrow schema of Ray's blocks and Parquet shards
(`arrow_schema`). A column added here appears everywhere at once; a second list kept by hand drifts,
and a Ray block that does not fit its schema fails to convert, which Ray retries for ever.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("text", "float", "int", "floats")  # floats: a list of numbers (JSON in a CSV cell)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    doc: str


SCHEMA: tuple[Column, ...] = (
    Column("id", "text", "the input's id: file stem, shard key, or the caption table's id"),
    Column("path", "text", "where the input came from (path, shard member or URI)"),
    Column("mode", "text", "image or caption"),
    Column("model", "text", "the model as given (preset name, folder or hub id)"),
    Column("backend", "text", "the backend that generated the text"),
    Column("template", "text", "the prompt template"),
    Column("rating", "float", "the stated rating (mean over samples)"),
    Column("caption", "text", "the <caption> block"),
    Column("reasoning", "text", "the <think> block"),
    Column("raw", "text", "the whole generated text"),
    Column("status", "text", "ok, load_error, parse_error or generation_error"),
    Column("error", "text", "why the row is not ok (or how many samples failed)"),
    Column("ratings", "floats", "each sample's rating (with --samples above 1)"),
    Column("rating_std", "float", "spread of the samples' ratings"),
    Column("rating_expected", "float", "the probability-weighted rating (--probs)"),
    Column("rating_probs", "floats", "P(level = d) for d = 1..5 at the rating digit"),
    Column("self_check_rating", "float", "stage 2: the rating of the caption alone (--self-check)"),
    Column("self_check_gap", "float", "|rating - self_check_rating|"),
    Column("self_check_raw", "text", "stage 2's generated text"),
    Column("self_check_error", "text", "why stage 2 gave no rating"),
    Column("pixels", "int", "pixels the model saw"),
    Column("max_pixels", "int", "the pixel budget of the run"),
)
assert all(c.kind in KINDS for c in SCHEMA)

FIELDS: list[str] = [c.name for c in SCHEMA]
KIND: dict[str, str] = {c.name: c.kind for c in SCHEMA}
# A resumed run must not mix results of another set-up into one file.
SETUP_FIELDS = ("mode", "model", "template")


def empty() -> dict:
    """A record with every field present and unset."""
    return dict.fromkeys(FIELDS)


def typed(row: dict) -> dict:
    """A row read back from CSV (all text, "" for none) with the types a JSONL row has; JSONL rows and
    cells that do not parse pass unchanged."""
    out = {k: row.get(k) for k in FIELDS}
    for k, v in out.items():
        if v == "":
            out[k] = None
        elif isinstance(v, str) and KIND[k] != "text":
            try:
                out[k] = int(v) if KIND[k] == "int" else float(v) if KIND[k] == "float" else json.loads(v)
            except ValueError:
                pass
    return out


def arrow_schema() -> "pa.Schema":
    """The Arrow schema of records: fixed, so every Ray block and Parquet shard agree even when a column
    is empty in one of them."""
    import pyarrow as pa

    types = {"text": pa.string(), "float": pa.float64(), "int": pa.int64(), "floats": pa.list_(pa.float64())}
    return pa.schema([(c.name, types[c.kind]) for c in SCHEMA])


def to_arrow(records: Iterable[dict]) -> "pa.Table":
    import pyarrow as pa

    schema = arrow_schema()
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in records], schema=schema)
