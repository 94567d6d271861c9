"""`qassess serve`: start vLLM's OpenAI-compatible server for a model, with the flags `--base-url` needs."""
from __future__ import annotations

from typing import Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.core.assessor import Settings
from qassess.models import DEFAULT_ID


@app.command("serve")
@user_errors
def serve(
    model: Optional[str] = typer.Argument(None, help=f"A preset (`qassess models`), a model folder or a hub id; default: the embedded model {DEFAULT_ID}."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface, for other machines)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    template: Optional[str] = typer.Option(None, "--template", help="Prompt preset or file whose chat-template options the server applies (default: the model preset's, else paper)."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's processor setting); pass the same to `qassess score`."),
    min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Lower pixel budget (default: the model's)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="Context length (default: the image tokens of the budget + 8192, capped by the model)."),
    dtype: str = typer.Option(Settings.dtype, "--dtype", help="auto, float32, bfloat16, float16."),
    device: str = typer.Option(Settings.device, "--device", help="auto, cpu or cuda."),
    trust_remote_code: bool = typer.Option(Settings.trust_remote_code, "--trust-remote-code", help="Allow model code from the model folder (off unless you trust it)."),
    presets: Optional[str] = typer.Option(None, "--presets", envvar="QASSESS_PRESETS", help="A YAML file of your own model presets."),
    print_command: bool = typer.Option(False, "--print-command", help="Print the server's command line and environment instead of starting it."),
):
    """Start vLLM's OpenAI-compatible server for MODEL, then print the `qassess score ... --base-url` to use.

    \b
    Examples:
      qassess serve                                  # the embedded model on 127.0.0.1:8000
      qassess serve q-insight --host 0.0.0.0 --port 8001
      qassess serve runs/full/merged --max-pixels 1003520 --print-command
    The flags agree with the client: served name (= MODEL), pixel budget (--mm-processor-kwargs), model
    length, the template's chat-template options, and on a CPU the KV-cache size and thread binding
    (VLLM_CPU_KVCACHE_SPACE, VLLM_CPU_OMP_THREADS_BIND; a value you exported wins). Ctrl-C stops it.
    """
    from qassess.backends.vllm_server import plan_server, run_server

    plan = plan_server(model, host=host, port=port, template=template, presets=presets, dtype=dtype,
                       device=device, min_pixels=min_pixels, max_pixels=max_pixels, max_model_len=max_model_len,
                       trust_remote_code=trust_remote_code)
    if print_command:
        print(plan.command_line())
        say(f"clients: qassess score PHOTOS -o out.jsonl --model {plan.served_name} --base-url {plan.base_url}")
        return
    say(f"starting: {plan.command_line()}")
    code = run_server(plan, say)
    if code:
        raise typer.Exit(code)
