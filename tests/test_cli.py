"""`qassess score` end to end on the tiny local model (transformers backend), and its bad-input errors."""
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

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def make_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"img{i:03d}.png"
        Image.new("RGB", (40 + i, 30), (i * 5 % 255, 100, 200)).save(p)
        paths.append(p)
    return paths


def run_cli(*args, check_code=0):
    proc = subprocess.run([sys.executable, "-m", "qassess", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)
    assert proc.returncode == check_code, proc.stderr[-2000:]
    return proc


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_score_folder_to_csv_then_caption_mode(tiny_model, tmp_path):
    import pandas as pd

    make_images(tmp_path / "photos", 3)
    (tmp_path / "photos" / "sub").mkdir()
    (tmp_path / "photos" / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0trunc")
    out = tmp_path / "out.csv"
    proc = run_cli("score", tmp_path / "photos", "-o", out, "--model", tiny_model, "--backend", "transformers",
                   "--max-new-tokens", "24", "--self-check")
    assert "backend: transformers" in proc.stderr and "4 scored" in proc.stderr
    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["status"]) <= {"ok", "parse_error", "load_error"}
    assert df.loc[df["id"] == "broken", "status"].item() == "load_error"
    good = df[df["status"] != "load_error"]
    assert good["raw"].notna().all() and (good["pixels"] > 0).all() and (good["template"] == "paper").all()
    # every failure carries a reason, and no failed row carries a rating
    assert df.loc[df["status"] != "ok", "error"].notna().all()
    assert df.loc[df["status"] != "ok", "rating"].isna().all()

    # caption mode from a folder of .txt files (detected) and from the earlier output (--captions)
    caps = tmp_path / "caps"
    caps.mkdir()
    (caps / "a.txt").write_text("A sharp photo of a red flower.")
    (caps / "b.txt").write_text("\ufeffA dark, noisy street at night.\n")
    out2 = tmp_path / "caps.jsonl"
    run_cli("score", caps, "-o", out2, "--model", tiny_model, "--backend", "transformers", "--max-new-tokens", "16")
    rows = rows_of(out2)
    assert [(r["id"], r["mode"]) for r in rows] == [("a", "caption"), ("b", "caption")]
    assert rows[1]["caption"] == "A dark, noisy street at night."

    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text("\n".join(json.dumps({"id": f"x{i}", "caption": c}) for i, c in
                                 enumerate(["blurry dog", "", "clean landscape"])) + "\n")
    out3 = tmp_path / "caps3.csv"
    run_cli("score", earlier, "--captions", "-o", out3, "--model", tiny_model, "--backend", "transformers",
            "--max-new-tokens", "16")
    assert list(pd.read_csv(out3)["id"]) == ["x0", "x2"]


def test_kill_mid_run_then_resume(tiny_model, tmp_path):
    make_images(tmp_path / "photos", 40)
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "qassess", "score", str(tmp_path / "photos"), "-o", str(out), "--model",
            str(tiny_model), "--backend", "transformers", "--batch-size", "1", "--max-new-tokens", "32"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-500:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(out, "a") as fh:  # as if the kill had torn a record in half
        fh.write('{"id": "img039", "path": "')
    before = rows_of_complete(out)
    assert 3 <= len(before) < 40
    resumed = run_cli(*args[3:])
    assert f"{len(before)} of 40 inputs already done" in resumed.stderr
    after = rows_of(out)
    assert sorted(r["id"] for r in after) == [f"img{i:03d}" for i in range(40)]
    assert after[: len(before)] == before  # finished rows untouched
    again = run_cli(*args[3:])
    assert "nothing left to score" in again.stderr and len(rows_of(out)) == 40


def rows_of_complete(path: Path) -> list[dict]:
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


runner = CliRunner()


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "no/such/dir", "-o", "{tmp}/o.csv"], "no such file or folder"),
        (["score", "{tmp}/empty", "-o", "{tmp}/o.csv"], "no images"),
        (["score", "{tmp}/photos", "-o", "{tmp}/missing/o.csv"], "output folder does not exist"),
        (["score", "{tmp}/photos", "-o", "{tmp}/o.xlsx"], "cannot tell the output format"),
        (["score", "{tmp}/photos", "-o", "{tmp}/o.csv", "--model", "{tmp}/nomodel"], "model"),
        (["score", "{tmp}/photos", "-o", "{tmp}/o.csv", "--samples", "3"], "--temperature"),
        (["score", "{tmp}/photos", "-o", "{tmp}/o.csv", "--template", "nope"], "unknown template"),
        (["score", "{tmp}/photos", "-o", "{tmp}/o.csv", "--backend", "nope", "--model", "{model}"], "unknown backend"),
        (["score", "{tmp}/table.csv", "--captions", "-o", "{tmp}/o.csv"], "column"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, tiny_model, args, message):
    make_images(tmp_path / "photos", 1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "table.csv").write_text("name,score\na.jpg,3\n")
    args = [a.format(tmp=tmp_path, model=tiny_model) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_resume_refuses_another_model(tmp_path, tiny_model):
    make_images(tmp_path / "photos", 1)
    out = tmp_path / "o.jsonl"
    out.write_text(json.dumps({"id": "img000", "path": "x", "mode": "image", "model": "other/model",
                               "template": "paper", "status": "ok"}) + "\n")
    result = runner.invoke(app, ["score", str(tmp_path / "photos"), "-o", str(out), "--model", str(tiny_model)])
    assert result.exit_code == 2 and "model='other/model'" in result.output


def test_ctrl_c_keeps_finished_rows_and_says_how_to_resume(tiny_model, tmp_path):
    make_images(tmp_path / "photos", 40)
    out = tmp_path / "out.csv"
    args = [sys.executable, "-m", "qassess", "score", str(tmp_path / "photos"), "-o", str(out), "--model",
            str(tiny_model), "--backend", "transformers", "--batch-size", "1", "--max-new-tokens", "32"]
    # A shell's background job inherits SIGINT ignored (then Python installs no KeyboardInterrupt): reset it.
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 3:  # header + 2 rows
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, stderr[-1000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    import pandas as pd

    kept = pd.read_csv(out)
    assert 2 <= len(kept) < 40 and kept["id"].is_unique
