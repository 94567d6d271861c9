"""One writer per output: a second run on a file (score), a shard folder (score --engine ray) or a
training folder (train) is refused in one line naming the holder's pid and host; a lock left by a
killed run is taken over; --shard outputs of one job array lock separately and run side by side."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qassess.cli import app
from qassess.io.lock import lock_path

ROOT = Path(__file__).resolve().parents[1]
SCORE = ["--backend", "transformers", "--temperature", "0", "--max-new-tokens", "8"]


@pytest.fixture
def holder():
    """Start processes that take the lock of an output (as a run does) and keep it until killed."""
    procs = []

    def hold(output: Path) -> subprocess.Popen:
        code = ("import sys, time; from qassess.io.lock import OutputLock; OutputLock(sys.argv[1]).acquire(); "
                "print('held', flush=True); time.sleep(600)")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", code, str(output)], stdout=subprocess.PIPE, text=True, env=env)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def photos(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (56, 42), (40 * i, 90, 160)).save(folder / f"p{i}.png")
    return folder


def refused(result, output: Path, proc: subprocess.Popen) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: another run ")
    assert f"(pid {proc.pid} on {socket.gethostname()}) is writing {output}" in lines[0]


def test_second_writer_refused_stale_lock_taken_over_shards_side_by_side(tmp_path, holder):
    src = photos(tmp_path / "photos")
    out = tmp_path / "out.jsonl"
    proc = holder(out)
    refused(CliRunner().invoke(app, ["score", str(src), "-o", str(out), *SCORE]), out, proc)
    assert not out.exists()  # nothing scored, nothing written

    # Shards of one job array: each file has its own lock, so part 1 runs while part 0 is held.
    part0, part1 = tmp_path / "part0.jsonl", tmp_path / "part1.jsonl"
    holder(part0)
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(part1), "--shard", "1/2", *SCORE])
    assert result.exit_code == 0, result.output
    assert not lock_path(part1).exists()  # released at the end

    # The holder is killed: its lock stays behind, stale, and the next run takes it over.
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock_path(out).exists()
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(out), *SCORE])
    assert result.exit_code == 0, result.output
    assert f"took over the stale lock of pid {proc.pid}" in result.output
    assert len(out.read_text().splitlines()) == 2 and not lock_path(out).exists()


def test_ray_shard_folder_and_training_folder_are_locked_too(tmp_path, holder):
    src = photos(tmp_path / "photos", 1)
    folder = tmp_path / "scores"
    proc = holder(folder)
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(folder), "--engine", "ray",
                                      "--ray-address", "127.0.0.1:9"])  # refused before any cluster is reached
    refused(result, folder, proc)

    runs = tmp_path / "runs" / "tiny"
    runs.parent.mkdir()
    proc = holder(runs)
    result = CliRunner().invoke(app, ["train", str(ROOT / "recipes" / "tiny-cpu.yaml"), "--output_dir", str(runs)])
    refused(result, runs, proc)
    assert not runs.exists()
