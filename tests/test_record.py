"""The one record schema: every format (CSV, JSONL, Parquet, Ray's Arrow blocks) carries every field with
its type, including the probability readings (rating_expected, rating_probs)."""
from __future__ import annotations

import io

import pyarrow.parquet as pq

from qassess.core import record
from qassess.engines import ray_output
from qassess.engines.merge import read_rows
from qassess.io.results import open_results

FULL = {
    "id": "a", "path": "photos/a.jpg", "mode": "image", "model": "qassess-demo-v1", "backend": "transformers",
    "template": "paper", "rating": 3.4, "caption": "A dim street.", "reasoning": "Noise in the sky.",
    "raw": "<caption>A dim street.</caption>", "status": "ok", "error": None, "ratings": [3.0, 3.8],
    "rating_std": 0.4, "rating_expected": 3.31, "rating_probs": [0.05, 0.1, 0.4, 0.35, 0.1],
    "self_check_rating": 3.0, "self_check_gap": 0.4, "self_check_raw": "<answer>3</answer>",
    "self_check_error": None, "pixels": 401408, "max_pixels": 1003520,
}


def test_the_full_record_covers_every_field():
    assert list(FULL) == record.FIELDS


def test_arrow_schema_carries_a_full_record():
    table = record.to_arrow([FULL, record.empty()])
    assert table.schema == record.arrow_schema() and table.column_names == record.FIELDS
    assert table.to_pylist() == [FULL, record.empty()]


def test_parquet_shard_round_trips_a_full_record():
    """What a Ray replica hands back and a Parquet shard holds (a missing column type made Ray retry)."""
    data = ray_output.encode([FULL], "parquet")
    assert pq.read_table(io.BytesIO(data)).to_pylist() == [FULL]


def test_csv_rows_read_back_with_their_types(tmp_path):
    out = tmp_path / "out.csv"
    writer, _ = open_results(out, resume=False)
    writer.write([FULL])
    writer.close()
    assert read_rows(out) == [FULL]


def test_typed_leaves_text_and_unparseable_cells_alone():
    row = record.typed({"id": "7", "rating": "n/a", "pixels": "", "rating_probs": "[0.5, 0.5]"})
    assert row["id"] == "7" and row["rating"] == "n/a" and row["pixels"] is None
    assert row["rating_probs"] == [0.5, 0.5] and set(row) == set(record.FIELDS)
