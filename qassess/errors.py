"""Errors that reach the user as one line (the CLI maps them to exit code 2, no traceback), and the one
way an exception becomes a line of text (a row's error cell, a one-line message)."""


class UserError(Exception):
    """An error in the user's input or options: shown as one line, exit 2."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's message on one line, cut to `limit` characters; its type name when it has none."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
