"""`qassess merge`: the outputs of sharded or split runs as one file."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from qassess.cli.app import app, say, user_errors


@app.command("merge")
@user_errors
def merge_command(
    inputs: List[str] = typer.Argument(..., help="Result files (.jsonl/.csv), folders of them, or globs."),
    output: Path = typer.Option(..., "-o", "--output", help="The merged file: .jsonl or .csv."),
    on_conflict: str = typer.Option("error", "--on-conflict", help="Same input, different rating or status: error (refuse, naming them) or first (keep the first file's row, counted)."),
):
    """Combine the outputs of sharded or split runs into one file (and one manifest).

    \b
    Examples:
      qassess merge part*.jsonl -o all.jsonl
      qassess merge shards/ -o all.csv
    Identical duplicates collapse to one row; a generation_error row gives way to an ok row of the
    same input; other disagreements are refused unless --on-conflict first.
    """
    from qassess.engines.merge import merge

    result = merge(inputs, output, on_conflict)
    say(result.summary() + f"; written to {output}")
    for line in result.conflicts[:10]:
        say(f"conflict: {line}")
