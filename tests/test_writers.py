import json

import pytest

from qassess.errors import UserError
from qassess.core.record import FIELDS
from qassess.io.results import open_results, output_format, read_complete

ROWS = [
    {"id": "a", "path": "p/a.jpg", "rating": 3.5, "caption": 'multi\nline, "quoted"\u2028 é', "status": "ok",
     "ratings": [3.0, None, 4.0]},
    {"id": "b", "path": "p/b.jpg", "rating": None, "status": "load_error", "error": "truncated"},
]


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_round_trip_and_resume(tmp_path, ext):
    out = tmp_path / f"r.{ext}"
    writer, done = open_results(out)
    assert done == []
    writer.write(ROWS)
    writer.close()
    writer, done = open_results(out)
    writer.close()
    assert [r["id"] for r in done] == ["a", "b"]
    assert done[0]["caption"] == ROWS[0]["caption"]
    if ext == "jsonl":
        assert done[0]["ratings"] == [3.0, None, 4.0] and done[1]["rating"] is None
    else:
        assert json.loads(done[0]["ratings"]) == [3.0, None, 4.0] and done[1]["rating"] == ""


@pytest.mark.parametrize("ext, torn", [("csv", b'c,"p/c.jpg,,,,"half a cap'), ("csv", b"c,p/c.jpg"),
                                       ("jsonl", b'{"id": "c", "path": "p/'), ("jsonl", b"\xe2\x82")])
def test_torn_last_record_is_cut(tmp_path, ext, torn):
    out = tmp_path / f"r.{ext}"
    writer, _ = open_results(out)
    writer.write(ROWS)
    writer.close()
    size = out.stat().st_size
    with open(out, "ab") as fh:
        fh.write(torn)
    writer, done = open_results(out)
    assert [r["id"] for r in done] == ["a", "b"] and out.stat().st_size == size
    writer.write([{"id": "c", "path": "p/c.jpg", "status": "ok"}])
    writer.close()
    rows, end = read_complete(out, ext)
    assert [r["id"] for r in rows] == ["a", "b", "c"] and end == out.stat().st_size


def test_csv_header_written_once(tmp_path):
    out = tmp_path / "r.csv"
    for _ in range(3):
        writer, _ = open_results(out)
        writer.write(ROWS[:1])
        writer.close()
    assert out.read_text().count(",".join(FIELDS[:3])) == 1


def test_overwrite_starts_anew(tmp_path):
    out = tmp_path / "r.jsonl"
    writer, _ = open_results(out)
    writer.write(ROWS)
    writer.close()
    writer, done = open_results(out, resume=False)
    writer.close()
    assert done == [] and out.read_text() == ""


def test_retry_errors_drops_failed_rows(tmp_path):
    out = tmp_path / "r.csv"
    writer, _ = open_results(out)
    writer.write(ROWS)
    writer.close()
    writer, done = open_results(out, drop_errors=True)
    writer.close()
    assert [r["id"] for r in done] == ["a"]
    assert [r["id"] for r in read_complete(out, "csv")[0]] == ["a"]


def test_bad_outputs(tmp_path):
    with pytest.raises(UserError, match="format"):
        output_format(tmp_path / "r.txt")
    with pytest.raises(UserError, match="does not exist"):
        open_results(tmp_path / "missing" / "r.csv")
    with pytest.raises(UserError, match="is a folder"):
        (tmp_path / "d.csv").mkdir()
        open_results(tmp_path / "d.csv")
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("image_name,MOS\nx.jpg,3\n")
    with pytest.raises(UserError, match="not a qassess result file"):
        open_results(foreign)
