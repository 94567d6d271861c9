"""`--engine ray` on ONE local Ray cluster per module (2 CPUs, small object store), tiny model, transformers
backend, greedy: the same rows as a local run, a replica killed mid-run, an interrupted run resumed on an
S3 store served by moto on loopback, bad inputs. Fails in CI when ray is missing (see conftest._in_ci)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qassess.cli import app

try:
    import ray  # noqa: F401
    import ray.data  # noqa: F401
    RAY_ERROR = None
except Exception as err:  # noqa: BLE001 - a broken install must be reported, not only a missing one
    RAY_ERROR = f"{type(err).__name__}: {err}"

if RAY_ERROR is not None:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):  # as conftest._in_ci
        pytest.fail(f"ray[data] cannot be imported in CI ({RAY_ERROR})", pytrace=False)
    pytest.skip(f"ray[data] cannot be imported ({RAY_ERROR})", allow_module_level=True)

OPTS = ["--backend", "transformers", "--max-new-tokens", "6", "--batch-size", "2", "--temperature", "0"]


def make_images(folder: Path, n: int, start: int = 0) -> list[Path]:
    """Same-size images (no padding differences between batch compositions)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = folder / f"img{i:03d}.png"
        Image.new("RGB", (56, 42), (i * 37 % 255, 90, 200 - i * 11 % 200)).save(p)
        paths.append(p)
    return paths


def shard_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("part-*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on loopback with fake credentials; set before the cluster starts, so that every
    Ray worker inherits the endpoint."""
    from moto.server import ThreadedMotoServer

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                            "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://{host}:{port}")
    import boto3

    boto3.client("s3").create_bucket(Bucket="bucket")
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def cluster(s3):
    """One local cluster for the module: 2 CPUs (= 2 replicas), 500 MB object store, no dashboard."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's memory monitor kills workers when the whole machine is short of memory; on a CI box shared
    # with other jobs that is someone else's memory, and the kill would look like a flaky test.
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=500 * 1024 * 1024,
             logging_level="WARNING")
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def local_rows(model: Path, paths: list[Path]) -> dict[str, dict]:
    from qassess.core.assessor import Assessor

    with Assessor(model=str(model), backend="transformers", max_new_tokens=6, batch_size=2, temperature=0) as a:
        return {os.path.abspath(r["path"]): r for r in a.score(paths)}


def test_rows_equal_a_local_run_and_bad_inputs_are_rows(cluster, tiny_model, tmp_path):
    photos = tmp_path / "photos"
    paths = make_images(photos, 5)
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "scores"
    result = CliRunner().invoke(app, ["score", str(photos), "-o", str(out), "--engine", "ray", "--replicas", "2",
                                      "--model", str(tiny_model), *OPTS])
    assert result.exit_code == 0, result.output
    rows = shard_rows(out)
    assert sorted(r["path"] for r in rows) == sorted(str(p.resolve()) for p in photos.iterdir())  # one each
    bad = next(r for r in rows if r["id"] == "broken")
    assert bad["status"] == "load_error" and bad["error"]
    want = local_rows(tiny_model, paths)
    for r in rows:
        if r["id"] == "broken":
            continue
        w = want[r["path"]]
        for key in ("id", "status", "raw", "rating", "error", "pixels", "max_pixels", "backend", "template"):
            assert r[key] == w[key], (key, r[key], w[key])
    assert all(r["raw"] for r in rows if r["id"] != "broken")

    # A rerun finds everything done and starts no job at all.
    again = CliRunner().invoke(app, ["score", str(photos), "-o", str(out), "--engine", "ray",
                                     "--model", str(tiny_model), *OPTS])
    assert again.exit_code == 0, again.output
    assert "nothing left to score" in again.output
    assert len(shard_rows(out)) == 6


def _replicas_of(pid: int) -> list:
    import psutil

    return [p for p in psutil.Process(pid).children(recursive=True)
            if "MapWorker(MapBatches(Scorer))" in " ".join(p.cmdline() or [])]


def test_a_replica_killed_mid_run_loses_and_duplicates_nothing(cluster, tiny_model, tmp_path):
    import ray.data

    from qassess.engines.ray_data import score_dataset
    from qassess.core.assessor import Settings

    paths = [str(p) for p in make_images(tmp_path / "p", 16)]
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=8)
    settings = Settings(model=str(tiny_model), backend="transformers", max_new_tokens=6, batch_size=2, temperature=0)
    rows, killed_after = [], None
    for batch in score_dataset(ds, settings, replicas=2).iter_batches(batch_size=None, batch_format="pyarrow"):
        rows.extend(batch.to_pylist())
        if killed_after is None:  # the first rows are out: kill a replica while the rest are being scored
            victims = _replicas_of(os.getpid())
            assert victims, "no replica process found"
            os.kill(victims[0].pid, signal.SIGKILL)
            killed_after = len(rows)
    assert killed_after is not None and killed_after < 16
    assert sorted(r["path"] for r in rows) == sorted(paths)
    assert {r["status"] for r in rows} <= {"ok", "parse_error"}


def test_interrupted_run_on_s3_resumes_without_duplicates(cluster, s3, tiny_model, tmp_path):
    import fsspec

    fs = fsspec.filesystem("s3")
    for p in make_images(tmp_path / "p", 24):
        fs.pipe_file(f"bucket/photos/{p.name}", p.read_bytes())
    fs.pipe_file("bucket/photos/.hidden/skip.png", b"x")  # dot-folders are not inputs
    args = ["score", "s3://bucket/photos/", "-o", "s3://bucket/scores/", "--engine", "ray",
            "--output-format", "parquet", "--model", str(tiny_model), *OPTS]
    # A first run as its own driver on the shared cluster, killed as soon as its first shard landed.
    proc = subprocess.Popen([sys.executable, "-m", "qassess", *args, "--ray-address", cluster],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            fs.invalidate_cache()
            if fs.exists("bucket/scores") and fs.find("bucket/scores"):
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        stderr = proc.communicate(timeout=60)[1].decode(errors="replace")
    first = sorted(fs.find("bucket/scores"))
    assert first, stderr[-2000:]
    assert all(f.rsplit("/", 1)[-1].startswith("part-") and f.endswith(".parquet") for f in first)

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    fs.invalidate_cache()
    rows = [r for f in sorted(fs.find("bucket/scores")) for r in pq.read_table(fs.open(f, "rb")).to_pylist()]
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)) == 24  # every input once: no loss, no duplicate
    assert set(paths) == {f"s3://bucket/photos/img{i:03d}.png" for i in range(24)}
    if proc.returncode != 0:  # killed before the end: the rerun resumed from what the shards held
        assert "resuming s3://bucket/scores/" in result.output


def test_unreachable_address_and_file_output_are_one_line_errors(tiny_model, tmp_path):
    photos = tmp_path / "photos"
    make_images(photos, 1)
    proc = subprocess.run([sys.executable, "-m", "qassess", "score", str(photos), "-o", str(tmp_path / "out"),
                           "--engine", "ray", "--ray-address", "127.0.0.1:9", "--model", str(tiny_model)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: cannot reach the Ray cluster at 127.0.0.1:9")
    assert "Traceback" not in proc.stderr
    result = CliRunner().invoke(app, ["score", str(photos), "-o", str(tmp_path / "out.jsonl"), "--engine", "ray"])
    assert result.exit_code == 2 and "folder of shards" in result.output


def test_webdataset_shard_inputs(cluster, tiny_model, tmp_path):
    """img2dataset's tar shards go through the Ray engine too: one row per sample, the key as id,
    `shard.tar#KEY` as path, a bad member a load_error row; the same rows as a local run of the shard."""
    import io
    import tarfile

    shard = tmp_path / "00000.tar"
    with tarfile.open(shard, "w") as tar:
        for i, p in enumerate(make_images(tmp_path / "src", 3)):
            for name, data in ((f"{i:05d}.png", p.read_bytes()), (f"{i:05d}.json", b'{"caption": "x"}')):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("00009.jpg")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"junk!"))
    out = tmp_path / "scores"
    result = CliRunner().invoke(app, ["score", str(shard), "-o", str(out), "--engine", "ray",
                                      "--model", str(tiny_model), *OPTS])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in shard_rows(out)}
    assert sorted(rows) == ["00000", "00001", "00002", "00009"]
    assert rows["00009"]["status"] == "load_error" and rows["00009"]["error"]
    assert rows["00001"]["path"] == f"{shard.resolve()}#00001"

    from qassess.core.assessor import Assessor
    from qassess.io.sources import iter_image_items

    with Assessor(model=str(tiny_model), backend="transformers", max_new_tokens=6, batch_size=2, temperature=0) as a:
        local = {r["id"]: r for r in a.score(list(iter_image_items([str(shard)])))}
    for key in ("00000", "00001", "00002"):
        for field in ("status", "raw", "pixels"):
            assert rows[key][field] == local[key][field], (key, field)


def test_the_default_model_finishes_with_rated_rows(cluster, tmp_path):
    """No --model: the embedded model writes real ratings and probabilities, whose columns every Ray
    shard writer must carry (a schema without them made Ray retry the first rated batch for ever)."""
    photos = tmp_path / "photos"
    make_images(photos, 2)
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / f"scores-{fmt}"
        result = CliRunner().invoke(app, ["score", str(photos), "-o", str(out), "--engine", "ray",
                                          "--backend", "transformers", "--temperature", "0",
                                          "--output-format", fmt])
        assert result.exit_code == 0, result.output
        if fmt == "jsonl":
            rows = shard_rows(out)
        else:
            import pyarrow.parquet as pq

            rows = [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
        assert len(rows) == 2
        assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
        assert all(isinstance(r["rating"], float) and 1 <= r["rating"] <= 5 for r in rows)
        assert all(isinstance(r["rating_expected"], float) for r in rows)


def test_shards_inside_folders_gzipped_tars_and_a_run_manifest(cluster, tiny_model, tmp_path):
    """The local engine's listing: a .tar.gz WebDataset shard found inside a sub-folder beside a plain
    image; and FOLDER.manifest.json records the run as a local run's manifest does."""
    import io
    import tarfile

    photos = tmp_path / "photos"
    make_images(photos, 1)
    (photos / "sub").mkdir()
    with tarfile.open(photos / "sub" / "00000.tar.gz", "w:gz") as tar:
        for i, p in enumerate(make_images(tmp_path / "src", 2, start=5)):
            data = p.read_bytes()
            info = tarfile.TarInfo(f"{i:05d}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "scores"
    result = CliRunner().invoke(app, ["score", str(photos), "-o", str(out), "--engine", "ray",
                                      "--model", str(tiny_model), *OPTS])
    assert result.exit_code == 0, result.output
    rows = {r["path"]: r for r in shard_rows(out)}
    shard = (photos / "sub" / "00000.tar.gz").resolve()
    assert sorted(rows) == sorted([str((photos / "img000.png").resolve()), f"{shard}#00000", f"{shard}#00001"])
    # the tiny random model writes no answer in 6 tokens: parse_error rows, but each image was read
    assert all(r["status"] != "load_error" and r["pixels"] and r["raw"] for r in rows.values()), rows
    manifest = json.loads((tmp_path / "scores.manifest.json").read_text())
    segment = manifest["segments"][-1]
    assert segment["engine"] == "ray" and segment["outcome"] == "finished"
    assert sum(segment["counts"].values()) == 3 and "load_error" not in segment["counts"]
    assert segment["inputs"]["todo"] == 3
    assert segment["ray"]["replicas"] == 1 and segment["model"]["weights"]
