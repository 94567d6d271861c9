"""Shard folders (qassess.engines.ray_output): what a rerun reads back after an interrupted or retried write."""
import json

import pytest

from qassess.engines import ray_output as shards
from qassess.errors import UserError


def row(path, status="ok"):
    return {"id": path.rsplit("/", 1)[-1], "path": path, "status": status, "rating": 3.0 if status == "ok" else None}


def test_duplicates_and_unfinished_writes_are_not_read_twice(tmp_path):
    fs, root = shards.open_folder(str(tmp_path))
    shards.atomic_put(fs, f"{root}/part-a-000000.jsonl", shards.encode([row("/x/1.png"), row("/x/2.png")], "jsonl"))
    # The same row again in a later shard (a write retried after its first file landed) and a parquet one.
    shards.atomic_put(fs, f"{root}/part-a-000001.parquet", shards.encode([row("/x/2.png"), row("/x/3.png", "parse_error")], "parquet"))
    (tmp_path / ".part-a-000002.jsonl.1234abcd.tmp").write_text('{"path": "/x/4.png"')  # a write cut short
    (tmp_path / "notes.txt").write_text("not a shard")

    found = shards.read_existing(str(tmp_path))
    assert [r["path"] for r in found.rows] == ["/x/1.png", "/x/2.png", "/x/3.png"]
    assert found.duplicates == 1
    again = shards.read_existing(str(tmp_path))  # the duplicate was removed from the folder itself
    assert again.duplicates == 0 and len(again.rows) == 3

    retry = shards.read_existing(str(tmp_path), drop_errors=True)
    assert [r["path"] for r in retry.rows] == ["/x/1.png", "/x/2.png"] and retry.dropped_errors == 1
    assert not (tmp_path / "part-a-000001.parquet").exists()  # its only remaining row was a failure
    assert shards.remove_shards(str(tmp_path)) == 1 and (tmp_path / "notes.txt").exists()


def test_jsonl_shards_hold_the_local_run_lines(tmp_path):
    from qassess.core.record import FIELDS

    data = shards.encode([row("/x/1.png")], "jsonl").decode()
    assert list(json.loads(data)) == FIELDS and data.endswith("\n")


def test_a_file_is_not_a_shard_folder(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(UserError, match="folder of shards"):
        shards.read_existing(str(tmp_path / "out"))
