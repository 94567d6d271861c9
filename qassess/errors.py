"""Errors that reach the user as one line (the CLI maps them to exit code 2, no traceback), which other
exceptions the user can fix and which are bugs, and the one way an exception becomes a line of text (a
row's error cell, a one-line message)."""

# Exceptions that only a change to the code fixes: never a row's generation_error nor a one-line "Error:",
# so that a bug shows as a traceback and is not retried silently by every rerun.
BUGS = (TypeError, AttributeError, NameError, AssertionError, SyntaxError)


class UserError(Exception):
    """An error in the user's input or options: shown as one line, exit 2."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's message on one line, cut to `limit` characters; its type name when it has none."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def described(exc: BaseException, limit: int = 300) -> str:
    """A row's error cell: the exception's type, then its message on one line."""
    return one_line(exc, limit) if isinstance(exc, UserError) else f"{type(exc).__name__}: {one_line(exc, limit)}"


def fixable_load_error(exc: BaseException) -> bool:
    """Whether a model or processor failed to load for a reason the user can fix (a missing or broken file,
    a config the library rejects, a missing package), as opposed to a bug or running out of memory."""
    if isinstance(exc, BUGS) or isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__:
        return False
    if isinstance(exc, (OSError, ValueError, KeyError, ImportError, EOFError, UserError)):
        return True
    return type(exc).__name__ == "SafetensorError"  # a truncated or corrupt weights file
