"""Image shards and object stores as `qassess score` inputs: WebDataset tars and Parquet (bytes column,
{bytes, path} struct), the key as row id, bad members as load_error rows, resume; and s3:// folders,
shards and tables against moto's S3 server on loopback. Scoring uses the tiny random model: rows are
mostly parse_error, so ids, paths and statuses are what is checked."""
from __future__ import annotations

import io
import json
import os
import socket
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from qassess.io.images import PixelBudget, prefetch_images
from qassess.engines.local import run_score
from qassess.core.assessor import Settings
from qassess.io.sources import discover_items

GENERATED = {"ok", "parse_error"}  # what the random tiny model's rows may be


def jpeg(colour, size=(48, 36)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def write_tar(path: Path, samples: list[tuple[str, dict[str, bytes]]]) -> Path:
    """img2dataset's webdataset layout: KEY.jpg + KEY.json (+ KEY.txt)."""
    with tarfile.open(path, "w") as tar:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def settings(tiny_model) -> Settings:
    return Settings(model=str(tiny_model), backend="transformers", max_new_tokens=8, batch_size=4)


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def shards(tmp_path) -> Path:
    root = tmp_path / "shards"
    root.mkdir()
    meta = json.dumps({"url": "http://x"}).encode()
    write_tar(root / "00000.tar", [("000000001", {"jpg": jpeg("red"), "json": meta, "txt": b"a red square"}),
                                   ("000000002", {"jpg": b"\xff\xd8\xff\xe0 not a jpeg", "json": meta}),
                                   ("000000003", {"jpg": jpeg("blue"), "json": meta})])
    pd.DataFrame({"metadata": ["m"], "key": ["x"]}).to_parquet(root / "00000.parquet")  # beside a tar: skipped
    pd.DataFrame({"key": ["100", "101", "102"], "caption": ["a", "b", "c"],
                  "jpg": [jpeg("green"), b"corrupt", None]}).to_parquet(root / "00001.parquet", row_group_size=2)
    hf = tmp_path / "hf.parquet"  # datasets' Image feature: struct {bytes, path}, no key column
    pd.DataFrame({"image": [{"bytes": jpeg("white"), "path": "w.jpg"}, {"bytes": None, "path": "gone.jpg"}],
                  "label": [1, 2]}).to_parquet(hf)
    return root


def test_listing_ids_paths_and_bad_members(shards):
    hf = shards.parent / "hf.parquet"
    items = discover_items([shards, hf])
    assert [(i.id, i.path) for i in items] == [
        ("000000001", f"{shards}/00000.tar#000000001"), ("000000002", f"{shards}/00000.tar#000000002"),
        ("000000003", f"{shards}/00000.tar#000000003"), ("100", f"{shards}/00001.parquet#100"),
        ("101", f"{shards}/00001.parquet#101"), ("102", f"{shards}/00001.parquet#102"),
        ("0", f"{hf}#0"), ("1", f"{hf}#1")]
    loaded = {i.id: (im, err) for i, im, err in prefetch_images(items, PixelBudget(28 * 28, 64 * 28 * 28))}
    assert {k for k, (im, _) in loaded.items() if im is not None} == {"000000001", "000000003", "100", "0"}
    assert "decode" in loaded["000000002"][1] and "not a supported image" in loaded["101"][1]
    assert loaded["102"][1] == "no image bytes in this row (null cell)"
    assert "gone.jpg" in loaded["1"][1]
    import pickle  # items travel to Ray workers: shards pickle without their open files and caches

    again = pickle.loads(pickle.dumps(items))
    assert [i.read() for i in again if i.id in ("000000001", "100")] == [i.read() for i in items if i.id in ("000000001", "100")]
    with pytest.raises(Exception, match="no image column"):
        discover_items([shards / "00000.parquet"])  # named explicitly: an error, not silence


def test_truncated_tar_keeps_what_it_has(tmp_path):
    full = write_tar(tmp_path / "t.tar", [(f"k{i}", {"jpg": jpeg((i * 40, 0, 0))}) for i in range(4)]).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(full[: 512 * 3 + 700])  # through the second member's header and part of its data
    items = discover_items([cut])
    loaded = [(i.id, im is not None, err) for i, im, err in prefetch_images(items, None)]
    assert loaded[0] == ("k0", True, None)
    assert [x[0] for x in loaded[1:]] == ["k1", "!rest"] and all(not ok for _, ok, _ in loaded[1:])
    assert "truncated" in loaded[1][2] and "breaks off" in loaded[2][2]


def test_score_shards_then_resume(tiny_model, shards):
    out = shards.parent / "out.jsonl"
    inputs = [str(shards), str(shards.parent / "hf.parquet")]
    first = run_score(inputs, out, settings(tiny_model), limit=3, log=lambda m: None)
    assert first.done == 3
    messages: list[str] = []
    run_score(inputs, out, settings(tiny_model), log=messages.append)
    assert any("3 of 8 inputs already done" in m for m in messages)
    rows = rows_of(out)
    assert len(rows) == 8 and len({r["path"] for r in rows}) == 8
    status = {r["id"]: r["status"] for r in rows}
    assert {k for k, v in status.items() if v == "load_error"} == {"000000002", "101", "102", "1"}
    assert {status[k] for k in ("000000001", "000000003", "100", "0")} <= GENERATED
    assert rows[0]["path"] == f"{shards}/00000.tar#000000001"
    again: list[str] = []
    run_score(inputs, out, settings(tiny_model), log=again.append)
    assert any("nothing left to score" in m for m in again) and len(rows_of(out)) == 8


# ------------------------------------------------------------------------------------ S3 on loopback


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1 with fake credentials; the bucket holds photos, a shard and tables."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        client.create_bucket(Bucket="lab")
        for i, colour in enumerate(["red", "green", "blue"]):
            client.put_object(Bucket="lab", Key=f"photos/{'sub/' if i == 2 else ''}p{i}.jpg", Body=jpeg(colour))
        client.put_object(Bucket="lab", Key="photos/broken.jpg", Body=b"\xff\xd8 cut")
        client.put_object(Bucket="lab", Key="photos/notes.md", Body=b"not an input")
        buf = io.BytesIO()
        pd.DataFrame({"key": ["s0", "s1"], "jpg": [jpeg("gray"), b"bad"]}).to_parquet(buf)
        client.put_object(Bucket="lab", Key="shards/part-0.parquet", Body=buf.getvalue())
        buf = io.BytesIO()
        pd.DataFrame({"image_name": ["p0.jpg", "p1.jpg"], "MOS": [3.5, 2.0]}).to_parquet(buf)
        client.put_object(Bucket="lab", Key="tables/gt.parquet", Body=buf.getvalue())
        client.put_object(Bucket="lab", Key="tables/caps.csv", Body=b"id,caption\na,Sharp.\nb,Dark.\n")
        yield "s3://lab"
    finally:
        import fsspec

        fsspec.AbstractFileSystem.clear_instance_cache()
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        server.stop()


def test_s3_listing_tables_and_captions(s3):
    from qassess.io.captions import scan_captions
    from qassess.io.tables import read_table

    items = discover_items([f"{s3}/photos/", f"{s3}/shards/part-0.parquet"])
    assert [i.path for i in items] == [f"{s3}/photos/broken.jpg", f"{s3}/photos/p0.jpg", f"{s3}/photos/p1.jpg",
                                       f"{s3}/photos/sub/p2.jpg", f"{s3}/shards/part-0.parquet#s0",
                                       f"{s3}/shards/part-0.parquet#s1"]
    assert read_table(f"{s3}/tables/gt.parquet").frame["MOS"].tolist() == [3.5, 2.0]
    assert [(c.id, c.source) for c in scan_captions([f"{s3}/tables/caps.csv"]).items] == [
        ("a", f"{s3}/tables/caps.csv:2"), ("b", f"{s3}/tables/caps.csv:3")]
    with pytest.raises(Exception, match="no such file or folder: s3://lab/nothing"):
        discover_items([f"{s3}/nothing"])


def test_s3_score_through_the_cli_and_resume(tiny_model, s3, tmp_path):
    from typer.testing import CliRunner

    from qassess.cli import app

    out = tmp_path / "s3.csv"
    args = ["score", f"{s3}/photos/", f"{s3}/shards/part-0.parquet", "-o", str(out), "--model", str(tiny_model),
            "--backend", "transformers", "--max-new-tokens", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    status = dict(zip(rows["path"], rows["status"]))
    assert len(rows) == 6 and status[f"{s3}/photos/broken.jpg"] == "load_error"
    assert status[f"{s3}/shards/part-0.parquet#s1"] == "load_error"
    assert {status[f"{s3}/photos/p0.jpg"], status[f"{s3}/shards/part-0.parquet#s0"]} <= GENERATED
    assert rows.loc[rows["path"] == f"{s3}/shards/part-0.parquet#s0", "id"].item() == "s0"
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "nothing left to score" in again.output and len(pd.read_csv(out)) == 6


def test_caption_table_in_parquet_is_scored_in_caption_mode(tiny_model, tmp_path):
    caps = tmp_path / "caps.parquet"
    pd.DataFrame({"key": ["k1", "k2"], "caption": ["A sharp red square.", None]}).to_parquet(caps)
    out = tmp_path / "caps.jsonl"
    run_score([str(caps)], out, settings(tiny_model), log=lambda m: None)
    rows = rows_of(out)
    assert [(r["id"], r["path"], r["mode"]) for r in rows] == [("k1", f"{caps}#0", "caption")]
    assert rows[0]["status"] in GENERATED and rows[0]["caption"] == "A sharp red square."


def test_gzipped_tar_shards_are_read_like_plain_ones(tmp_path):
    """`.tar.gz` / `.tgz` WebDataset shards: listed inside folders, each member one item with its bytes."""
    import io
    import tarfile

    from PIL import Image

    from qassess.io.sources import discover_items

    (tmp_path / "in").mkdir()
    blobs = {}
    for name in ("00000.tar.gz", "00001.tgz"):
        with tarfile.open(tmp_path / "in" / name, "w:gz") as tar:
            for key in ("a", "b"):
                buf = io.BytesIO()
                Image.new("RGB", (8, 8), (len(name), 9, 9)).save(buf, "PNG")
                info = tarfile.TarInfo(f"{key}.png")
                info.size = len(buf.getvalue())
                tar.addfile(info, io.BytesIO(buf.getvalue()))
                blobs[f"{name}#{key}"] = buf.getvalue()
    items = discover_items([tmp_path / "in"])
    assert [it.path.rsplit("/", 1)[-1] for it in items] == sorted(blobs)
    for it in items:
        assert it.read() == blobs[it.path.rsplit("/", 1)[-1]]
