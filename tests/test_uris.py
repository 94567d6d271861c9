"""Object-store URIs where `compare` and `report` read files (predictions, --preds, ground truth,
--refs), against moto's S3 on loopback: s3://bucket/x must reach the store as it was typed (a Path
would fold it into s3:/bucket/x); and the libraries every URI and server call uses are declared."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qassess.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def s3(monkeypatch):
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                           AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://{host}:{port}").items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket="bucket")
    yield client
    server.stop()


def test_compare_and_report_read_s3_uris_as_typed(s3, tmp_path):
    rows = [{"id": f"img{i}", "path": f"img{i}.png", "status": "ok", "rating": 1.0 + i * 0.5,
             "caption": "a sharp photo of a red flower", "reasoning": "sharp, vivid"} for i in range(6)]
    lines = [json.dumps(r) + "\n" for r in rows]
    s3.put_object(Bucket="bucket", Key="runs/a.jsonl", Body="".join(lines[:3]))
    s3.put_object(Bucket="bucket", Key="runs/b.jsonl", Body="".join(lines[3:]))
    s3.put_object(Bucket="bucket", Key="gt.csv", Body="image_name,MOS\n" + "".join(
        f"img{i}.png,{10 + 15 * i + (i % 2) * 3}\n" for i in range(6)))
    s3.put_object(Bucket="bucket", Key="refs.json", Body=json.dumps(
        [{"image": f"img{i}.png", "description": {"answer": "a red flower"}, "good_aspect": {"answer": "sharp"},
          "bad_aspect": {"answer": "none"}} for i in range(6)]))

    result = CliRunner().invoke(app, ["compare", "s3://bucket/runs/a.jsonl", "s3://bucket/gt.csv",
                                      "--preds", "s3://bucket/runs/b.jsonl", "--refs", "s3://bucket/refs.json",
                                      "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())
    text = json.dumps(report)
    assert "s3:/bucket" not in text.replace("s3://bucket", "")
    assert '"n": 6' in text or '"matched": 6' in text, text[:800]

    page = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "s3://bucket/runs/a.jsonl", "-o", str(page),
                                      "--gt", "s3://bucket/gt.csv", "--refs", "s3://bucket/refs.json"])
    assert result.exit_code == 0, result.output
    assert "qassess report: a.jsonl" in page.read_text(encoding="utf-8")


def test_httpx_and_fsspec_are_core_dependencies():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower() for d in deps}
    assert {"httpx", "fsspec"} <= names
    pins = (ROOT / "requirements" / "cpu.txt").read_text().lower().split()
    assert any(p.startswith("httpx") for p in pins) and any(p.startswith("fsspec") for p in pins)
