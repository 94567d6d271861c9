"""`qassess serve` as documented: the embedded model's server started on loopback with the client's flags
(served name, pixel budget, model length, CPU environment), its printed `--base-url` line, and one image
scored through it. Marked vllm: skips without vLLM locally, fails in CI."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qassess.cli import app
from qassess.models import DEFAULT_ID

pytestmark = pytest.mark.vllm
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_print_command_has_the_flags_the_client_needs():
    result = CliRunner().invoke(app, ["serve", "--print-command", "--port", "8123", "--max-pixels", "50176"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[0]
    assert "-m vllm.entrypoints.openai.api_server" in line and "vllm serve" not in line
    for flag in (f"--served-model-name {DEFAULT_ID}", "--port 8123", "--max-model-len",
                 '--mm-processor-kwargs \'{"min_pixels": ', '"max_pixels": 50176}\'',
                 "--limit-mm-per-prompt", "VLLM_CPU_KVCACHE_SPACE=", "--enforce-eager"):
        assert flag in line, flag
    assert "--base-url http://127.0.0.1:8123/v1" in result.output


def test_the_documented_server_starts_and_scores_an_image(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "qassess", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    try:
        deadline, line = time.monotonic() + START_TIMEOUT, b""
        while time.monotonic() < deadline and proc.poll() is None and not line:
            ready, _, _ = select.select([proc.stdout], [], [], 2)
            if ready:
                line = proc.stdout.readline()
        assert line, f"no --base-url line: {(tmp_path / 'serve.log').read_text(errors='replace')[-2000:]}"
        words = line.decode().split()
        base_url = words[words.index("--base-url") + 1]
        assert base_url == f"http://127.0.0.1:{port}/v1" and words[words.index("--model") + 1] == DEFAULT_ID

        photo = tmp_path / "photo.png"
        Image.new("RGB", (120, 90), (200, 120, 40)).save(photo)
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(app, ["score", str(photo), "-o", str(out), "--base-url", base_url,
                                          "--temperature", "0"])
        assert result.exit_code == 0, result.output
        import json

        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == 1 and rows[0]["status"] == "ok" and 1 <= rows[0]["rating"] <= 5, rows
        assert rows[0]["backend"] == "openai"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # forwarded to the vLLM server it started
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything left of the server's process group
        except ProcessLookupError:
            pass
        log.close()
