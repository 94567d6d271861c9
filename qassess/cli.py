"""The `qassess` command line: score, compare, train (each command imports its heavy parts lazily)."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="qassess",
    help="Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# --- score ---

# --- compare ---

# --- train ---


def main() -> None:
    app()


if __name__ == "__main__":
    main()
