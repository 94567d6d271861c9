"""The remote backend against two real `vllm serve` processes on loopback (tiny model, float32): greedy
and seeded texts equal the offline vLLM engine's, the prompt tokens equal the local processor's, shards
merge into the unsharded run, and a server killed mid-run loses nothing. Servers start once per module
(~60 s on a busy CPU, both at once); the kill test runs last."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_backends import (BIG_MAX, BIG_MIN, IMAGE_MESSAGES, budget_image, mixed_requests, odd_mode_requests,
                           text_messages)
from test_scale_out import make_tree, rows_of

from qassess.backends import create_backend
from qassess.backends.base import Request, Sampling
from qassess.engines.merge import merge
from qassess.engines.local import run_score
from qassess.core.assessor import Settings

pytestmark = pytest.mark.vllm
START_TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    def __init__(self, model: Path, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind",
               "VLLM_LOGGING_LEVEL": "WARNING"}
        budget = json.dumps({"min_pixels": BIG_MIN, "max_pixels": BIG_MAX})  # as the session offline engine
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--dtype",
                 "float32", "--port", str(self.port), "--host", "127.0.0.1", "--enforce-eager",
                 "--max-model-len", "4096", "--mm-processor-kwargs", budget],
                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self, deadline: float) -> None:
        import httpx

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"vllm serve exited ({self.proc.returncode}): {self.log.read_text(errors='replace')[-1500:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"vllm serve did not start in {START_TIMEOUT} s: {self.log.read_text(errors='replace')[-1500:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server and its engine-core child
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tiny_model, tmp_path_factory):
    logs = tmp_path_factory.mktemp("vllm-serve")
    started = [VLLMServer(tiny_model, logs / f"server{i}.log") for i in range(2)]
    try:
        yield started
    finally:
        for s in started:
            if s.proc.poll() is None:
                os.killpg(s.proc.pid, signal.SIGTERM)
        for s in started:
            try:
                s.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()


@pytest.fixture(scope="module")
def ready(servers, tiny_vllm_backend):
    """Both servers up (they boot while the session's offline engine loads)."""
    deadline = time.monotonic() + START_TIMEOUT
    for s in servers:
        s.wait_ready(deadline)
    return servers


@pytest.fixture(scope="module")
def remote(ready, tiny_model):
    with create_backend("openai", str(tiny_model), base_url=[s.url for s in ready], local_copy=str(tiny_model),
                        min_pixels=BIG_MIN, max_pixels=BIG_MAX, max_in_flight=4) as backend:
        yield backend


def test_greedy_and_seeded_texts_equal_the_offline_engine(remote, tiny_vllm_backend):
    requests = mixed_requests(BIG_MIN, BIG_MAX) + odd_mode_requests(BIG_MIN, BIG_MAX)
    greedy = Sampling(max_new_tokens=16)
    out = remote.generate(requests, greedy)
    assert out == tiny_vllm_backend.generate(requests, greedy)
    assert len({texts[0] for texts in out}) > 2  # the images made a difference
    sampled = Sampling(temperature=1.0, top_p=0.95, top_k=50, n=3, seed=42, max_new_tokens=10)
    assert remote.generate(requests[:2], sampled) == tiny_vllm_backend.generate(requests[:2], sampled)


def test_the_server_builds_the_same_prompt_tokens(remote, tiny_vllm_backend):
    """The server applies the chat template itself: its prompt ids equal the local processor's."""
    request = Request(IMAGE_MESSAGES, budget_image(500, 300, 9, BIG_MIN, BIG_MAX))
    body = {**remote.payload(request, Sampling(max_new_tokens=1)), "return_token_ids": True}
    served = remote.pool.post("/chat/completions", body)["prompt_token_ids"]
    local = tiny_vllm_backend.processor(text=[tiny_vllm_backend.chat_text(request)], images=[request.image],
                                        images_kwargs={"size": tiny_vllm_backend._size_kwargs()})
    ids = local["input_ids"][0]
    assert served == (ids.tolist() if hasattr(ids, "tolist") else list(ids))


def test_rating_token_scores_equal_the_offline_engine(remote, tiny_vllm_backend):
    """rating_expected reads the digit tokens' log-probabilities: the server's equal the offline engine's."""
    from qassess.core import rating_probs

    ids = rating_probs.digit_token_ids(remote.processor.tokenizer)
    assert ids and remote.reads_probabilities
    requests = mixed_requests(BIG_MIN, BIG_MAX)[:3]
    sampling = Sampling(max_new_tokens=8)
    got = [r[0] for r in remote.complete(requests, sampling, ids)]
    want = [r[0] for r in tiny_vllm_backend.complete(requests, sampling, ids)]
    assert [(c.text, c.token_ids) for c in got] == [(c.text, c.token_ids) for c in want]
    flat = lambda cs: [x for c in cs for step in c.scores for x in step]  # noqa: E731
    assert len(flat(got)) >= 10 and flat(got) == pytest.approx(flat(want), abs=1e-3)
    # --self-check-mode prefill: the one-step reading after the caption and the answer's start
    captions = [Request(text_messages(t)) for t in ("a sharp portrait", "a blurry dog")]
    prefix = [rating_probs.STAGE2_ANSWER_PREFIX] * 2
    got_next = remote.next_token_scores(captions, prefix, ids)
    want_next = tiny_vllm_backend.next_token_scores(captions, prefix, ids)
    assert sum(got_next, []) == pytest.approx(sum(want_next, []), abs=1e-3)


def _settings(tiny_model, urls, **kw):
    return Settings(model=str(tiny_model), backend="openai", max_new_tokens=kw.pop("max_new_tokens", 8),
                    min_pixels=BIG_MIN, max_pixels=BIG_MAX, batch_size=kw.pop("batch_size", 4),
                    backend_options={"base_url": urls, **kw})


def _comparable(rows):
    return sorted((r["path"], r["status"], r["raw"], r["rating"], r["pixels"]) for r in rows)


def test_shards_together_equal_one_unsharded_run(ready, tiny_model, tmp_path):
    make_tree(tmp_path / "photos", 6)
    urls = [s.url for s in ready]
    quiet = lambda m: None  # noqa: E731
    run_score([tmp_path / "photos"], tmp_path / "all.jsonl", _settings(tiny_model, urls), log=quiet)
    (tmp_path / "parts").mkdir()
    for i in range(3):
        run_score([tmp_path / "photos"], tmp_path / "parts" / f"part{i}.jsonl", _settings(tiny_model, urls),
                  shard=(i, 3), log=quiet)
    parts = [rows_of(tmp_path / "parts" / f"part{i}.jsonl") for i in range(3)]
    assert sum(map(len, parts)) == 6 and sum(1 for p in parts if p) >= 2
    merge([tmp_path / "parts"], tmp_path / "merged.jsonl")
    whole = rows_of(tmp_path / "all.jsonl")
    assert len(whole) == 6 and _comparable(rows_of(tmp_path / "merged.jsonl")) == _comparable(whole)
    assert {r["backend"] for r in whole} == {"openai"}


def test_one_of_two_servers_killed_mid_run_loses_nothing(ready, tiny_model, tmp_path, capfd):
    """Runs last: it kills a server of the module's pair."""
    make_tree(tmp_path / "photos", 10)
    out = tmp_path / "out.jsonl"
    logs: list[str] = []
    settings = _settings(tiny_model, [s.url for s in ready], batch_size=2, max_in_flight=1, max_new_tokens=24)
    errors: list[BaseException] = []

    def run():
        try:
            run_score([tmp_path / "photos"], out, settings, log=logs.append)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out.exists() and len(rows_of(out)) >= 2):
        time.sleep(0.2)
    at_kill = len(rows_of(out)) if out.exists() else 0
    ready[1].kill()
    worker.join(timeout=300)
    assert not worker.is_alive() and not errors, errors
    rows = rows_of(out)
    assert 2 <= at_kill < 10 and len(rows) == 10 and len({r["path"] for r in rows}) == 10
    assert "generation_error" not in {r["status"] for r in rows}, [r["error"] for r in rows]
    assert "left the rotation" in capfd.readouterr().err
