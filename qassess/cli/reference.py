"""The CLI reference (docs/cli.md), generated from each command's own `--help`, so the page never drifts
from the options: `python -m qassess.cli.reference` rewrites it, and a test checks it is current."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMANDS = (["score"], ["serve"], ["pairs"], ["rank"], ["merge"], ["compare"], ["report"], ["models"], ["train"], ["data", "synth"],
            ["datasets"], ["datasets", "check"], ["eval"])
# Fixed width and no colour: the same text on every machine and terminal.
ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}


def help_text(command: list[str]) -> str:
    env = {**os.environ, **ENV}
    env.pop("FORCE_COLOR", None)
    result = subprocess.run([sys.executable, "-m", "qassess", *command, "--help"], capture_output=True, text=True,
                            env=env, check=True)
    return "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())


def render() -> str:
    parts = ["# CLI reference", "",
             "Generated from `qassess COMMAND --help` by `python -m qassess.cli.reference` (a test checks that it",
             "is current). The options of each command are grouped in panels; `qassess COMMAND --help` shows the same.",
             ""]
    for command in COMMANDS:
        parts += [f"## qassess {' '.join(command)}", "", "```text", help_text(command), "```", ""]
    return "\n".join(parts)


def main() -> None:
    out = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
