"""The `qassess` command line: one module per command (score, serve, pairs, rank, merge, compare, report, models,
train, data, datasets and eval), each importing its heavy parts only when it runs."""
from __future__ import annotations

from qassess.cli import (  # noqa: F401 - each registers its command
    compare, datasets, evaluate, merge, models, pairs, rank, report, score, serve, train,
)
from qassess.cli.app import app


def main() -> None:
    app(prog_name="qassess")


if __name__ == "__main__":
    main()
