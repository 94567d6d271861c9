"""The `qassess` application, the one way commands report to the user (`say`, stderr) and the one
mapping of errors to exit codes (`user_errors`)."""
from __future__ import annotations

import functools
import sys

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


DEBUG = {"on": False}  # set by `qassess --debug COMMAND`


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
          debug: bool = typer.Option(False, "--debug", envvar="QASSESS_DEBUG",
                                     help="Show the traceback behind a one-line error too (with what caused it).")):
    """Interpretable blind image quality assessment: a multimodal LLM describes, reasons, rates (1-5)."""
    DEBUG["on"] = debug


def say(msg: str) -> None:
    """A line for the user on stderr (stdout may carry results)."""
    print(msg, file=sys.stderr, flush=True)


def user_errors(command):
    """One line and exit 2 for bad input (its traceback with --debug), 130 for Ctrl-C; any other exception
    is a bug and shows as one, with its traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            if DEBUG["on"]:
                exc.__suppress_context__ = False  # the exception it was made from, too
                raise
            say(f"Error: {exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            say("interrupted: rows written so far are kept; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper


def one_of(value, alias, name: str):
    """An option given by its name or by its old spelling (kept, hidden, for existing scripts); required."""
    if value is not None and alias is not None and value != alias:
        raise UserError(f"{name} is given twice, with different values")
    if value is None and alias is None:
        raise UserError(f"missing option {name}")
    return value if value is not None else alias

