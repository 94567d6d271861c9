"""The `qassess` command line: one module per command (score, pairs, rank, merge, compare, report, models, train and
data), each importing its heavy parts only when it runs."""
from __future__ import annotations

from qassess.cli import compare, merge, models, pairs, rank, report, score, train  # noqa: F401 - each registers its command
from qassess.cli.app import app


def main() -> None:
    app(prog_name="qassess")


if __name__ == "__main__":
    main()
