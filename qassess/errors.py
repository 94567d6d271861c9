"""Errors that reach the user as one line (the CLI maps them to exit code 2, no traceback)."""


class UserError(Exception):
    """An error in the user's input or options: shown as one line, exit 2."""
