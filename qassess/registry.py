"""One way to look things up by name, for every kind qassess has: backends, rewards, prompt templates and
model presets.

A registry maps names to entries: an object, or a "module:attribute" target imported on first use, so
listing names never imports a heavy backend. Built-ins are registered exactly as plugins are; plugins
come from the entry-point group `qassess.<kind>s` (e.g. "qassess.backends" = {"mine": "pkg.mod:Class"})
and cannot shadow a built-in name. Unknown names get one error that suggests the nearest name.
"""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from typing import Any

from qassess.errors import UserError


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the nearest choice, or '' when none is near."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_target(target: str) -> Any:
    """The object a "module:attribute" target names (ImportError / AttributeError / ValueError if none)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r} is not of the form module:attribute")
    return getattr(importlib.import_module(module_name), attr)


class Registry(Mapping):
    """Names -> entries of one kind. Reading an entry (`reg[name]`) imports a string target; `targets()`
    gives entries as registered, without importing anything."""

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group if group is not None else f"qassess.{kind}s"
        self._builtin: dict[str, Any] = {}

    def register(self, name: str, entry: Any) -> Any:
        if name in self._builtin:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._builtin[name] = entry
        return entry

    def targets(self) -> dict[str, Any]:
        """Built-ins, then plugins of the entry-point group (a plugin never replaces a built-in)."""
        found = dict(self._builtin)
        for point in metadata.entry_points(group=self.group):
            found.setdefault(point.name, point.value)
        return found

    def unknown(self, name: str, choices: str | None = None) -> UserError:
        names = list(self.targets())
        hint = did_you_mean(name, names)
        return UserError(f"unknown {self.kind} {name!r}{hint}; {choices or 'choose one of: ' + ', '.join(names)}")

    def __getitem__(self, name: str) -> Any:
        targets = self._builtin if name in self._builtin else self.targets()
        if name not in targets:
            raise KeyError(name)
        entry = targets[name]
        return load_target(entry) if isinstance(entry, str) else entry

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self.targets()

    def __iter__(self) -> Iterator[str]:
        return iter(self.targets())

    def __len__(self) -> int:
        return len(self.targets())
