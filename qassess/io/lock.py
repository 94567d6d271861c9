"""One writer per output: a lock file beside it (OUTPUT.lock) naming the pid and host of the run that
writes it, so that a second run on the same file or folder stops in one line instead of doing all the
work again beside the first.

The lock is created atomically: its content is written to a private file first, then hard-linked to
the lock name, which fails when the name exists, so a reader never sees a half-written lock. A lock
whose pid is dead on this host (a killed run) is stale: the next run moves it aside with one rename
(of two runs that find it stale, only one rename succeeds) and takes it. A lock from another host is
never judged stale: its pid cannot be checked from here, so the message says what to remove instead.
Object-store outputs (s3://...) have no atomic create-if-absent and take no lock.
"""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from qassess.errors import UserError

SUFFIX = ".lock"


def lock_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class OutputLock:
    """Held while a run writes `output`; `acquire` raises UserError when another live run holds it."""

    def __init__(self, output: str | Path):
        self.output = Path(output)
        self.path = lock_path(output)
        self.held = False
        self.took_over: dict | None = None  # the stale lock this one replaced, for the log

    def acquire(self) -> "OutputLock":
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        private = self.path.with_name(f"{self.path.name}.{me['pid']}.tmp")
        private.write_text(json.dumps(me) + "\n", encoding="utf-8")
        try:
            for _ in range(3):
                try:
                    os.link(private, self.path)
                    self.held = True
                    return self
                except FileExistsError:
                    pass
                owner = _read(self.path)
                if owner is None:
                    continue  # released in between: try again
                if not self._stale(owner, me):
                    raise UserError(self._refusal(owner))
                aside = self.path.with_name(f"{self.path.name}.stale.{me['pid']}")
                try:
                    os.rename(self.path, aside)  # only one of several runs wins this
                except FileNotFoundError:
                    continue
                aside.unlink(missing_ok=True)
                self.took_over = owner
            raise UserError(f"cannot take the lock {self.path}: other runs keep taking it")
        finally:
            private.unlink(missing_ok=True)

    @staticmethod
    def _stale(owner: dict, me: dict) -> bool:
        pid = owner.get("pid")
        return owner.get("host") == me["host"] and isinstance(pid, int) and pid != me["pid"] and not _alive(pid)

    def _refusal(self, owner: dict) -> str:
        who = (f"pid {owner['pid']} on {owner['host']}" if owner.get("pid") and owner.get("host")
               else "unreadable lock")
        return (f"another run ({who}) is writing {self.output}: wait for it to finish, or use another -o; "
                f"if that run is gone, remove {self.path}")

    def release(self) -> None:
        if self.held and (_read(self.path) or {}).get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False


@contextmanager
def output_lock(output: str | Path | None, log=None) -> Iterator[OutputLock | None]:
    """Hold OUTPUT.lock for the block; no lock for stdout (None, "-") or object-store URIs."""
    from qassess.io.storage import is_uri

    if output is None or str(output) == "-" or is_uri(str(output)) or not Path(output).parent.is_dir():
        yield None  # nothing to lock, or a missing folder the writer reports
        return
    lock = OutputLock(output).acquire()
    if lock.took_over and log:
        log(f"took over the stale lock of pid {lock.took_over.get('pid')} (no longer running) on {lock.output}")
    try:
        yield lock
    finally:
        lock.release()
