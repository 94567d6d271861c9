"""The `qassess` command line: score, compare, train (each command imports its heavy parts lazily)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from qassess.errors import UserError

app = typer.Typer(
    name="qassess",
    help="Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from qassess import __version__

        print(f"qassess {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version.")):
    """Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5)."""


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def user_errors(command):
    """One line and exit 2 for bad input, 130 for Ctrl-C; tracebacks only for real bugs."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            _say(f"Error: {exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _say("interrupted: rows written so far are kept; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper


# --- score ---
DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"


@app.command("score")
@user_errors
def score(
    inputs: List[Path] = typer.Argument(..., help="Image files or folders (recursive); or caption sources."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Result file: .csv or .jsonl (default: JSONL on stdout)."),
    model: str = typer.Option(DEFAULT_MODEL, "-m", "--model", envvar="QASSESS_MODEL", help="Model directory or hub id."),
    backend: str = typer.Option("auto", "-b", "--backend", help="auto, vllm, transformers, or a plugin name."),
    captions: bool = typer.Option(False, "--captions", help="Inputs hold captions (folder of .txt, or CSV/JSONL with id and caption columns): rate them without images."),
    template: str = typer.Option("paper", "--template", help="Prompt preset (paper, q-insight) or a YAML/JSON template file."),
    self_check: bool = typer.Option(False, "--self-check", help="Also rate each image's own caption without the image; keeps both ratings and their gap."),
    samples: int = typer.Option(1, "--samples", "-n", help="Sampled answers per image (needs --temperature > 0); the mean and spread are kept."),
    batch_size: int = typer.Option(8, "--batch-size", help="Inputs per generate call."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's processor setting)."),
    min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Lower pixel budget (default: the model's)."),
    max_decode_pixels: int = typer.Option(100_000_000, "--max-decode-pixels", help="Refuse images larger than this before decoding them."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy (deterministic)."),
    top_p: float = typer.Option(1.0, "--top-p"),
    top_k: int = typer.Option(0, "--top-k", help="0 = off."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampling (reruns give the same text)."),
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="Skip inputs the output already holds (default), or start the file anew."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="When resuming, score again the rows whose status is not ok."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Score at most this many inputs (after skipping done ones)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Caption mode: the id column of a table."),
    caption_col: Optional[str] = typer.Option(None, "--caption-col", help="Caption mode: the caption column of a table."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16, float16."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ..."),
    workers: int = typer.Option(2, "--workers", help="Threads preparing images ahead of the model."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow model code from the model folder (off unless you trust it)."),
):
    """Rate images (or captions) with a caption -> reasoning -> rating model.

    \b
    Examples:
      qassess score ./photos -o out.csv
      qassess score ./photos ./more -o out.jsonl --model Qwen/Qwen2.5-VL-7B-Instruct --backend vllm
      qassess score ./captions -o rescored.jsonl             # a folder of .txt caption files
      qassess score out.jsonl --captions -o caption_only.csv  # re-rate the captions of an earlier run
      qassess score photo.jpg --self-check                    # JSONL to stdout
    The paper's evaluation sampling: --temperature 1 --top-p 0.95 --top-k 50 --seed 42.
    A rerun of the same command resumes where it stopped (after a crash or Ctrl-C).
    """
    from qassess.runs import run_score
    from qassess.scoring import Settings

    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    settings = Settings(
        model=model, backend=backend, template=template, batch_size=batch_size, temperature=temperature,
        top_p=top_p, top_k=top_k, seed=seed, max_new_tokens=max_new_tokens, samples=samples,
        self_check=self_check, min_pixels=min_pixels, max_pixels=max_pixels,
        max_decode_pixels=max_decode_pixels, dtype=dtype, device=device,
        trust_remote_code=trust_remote_code, workers=workers)
    tally = run_score(inputs, output, settings, captions=captions, resume=resume, retry_errors=retry_errors,
                      limit=limit, id_col=id_col, caption_col=caption_col, log=_say)
    _say(tally.summary() + (f"; results in {output}" if output else ""))


# --- compare ---

# --- train ---


def main() -> None:
    app()


if __name__ == "__main__":
    main()
