"""`--shard I/N`: which inputs one of N jobs (a SLURM array task) scores (image shards as inputs are qassess.io.image_shards).

An input belongs to shard sha1(key) mod N, where the key is its path relative to the input root it was
found under (`photos/a/b.jpg` given as `photos` -> `a/b.jpg`; a file given by name -> its name; a
caption table row `t.csv:12` -> `t.csv:12`). So the split does not depend on the order the file system
lists files in, on where the job runs or on the other inputs, and shards 0..N-1 together are exactly
one unsharded run. Python's hash() is salted per process, hence sha1.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Sequence, TypeVar

from qassess.errors import UserError

T = TypeVar("T")
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """"3/16" -> (3, 16); None stays None."""
    if spec is None:
        return None
    match = _SPEC.match(str(spec))
    if not match:
        raise UserError(f"--shard takes I/N with 0 <= I < N (e.g. 3/16), got {spec!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 0 <= index < count:
        raise UserError(f"--shard {spec}: I must be in 0..N-1 and N at least 1")
    return index, count


def _norm(text: str) -> str:
    """Local paths absolute (as given: links not resolved); URIs (s3://...) as they are."""
    return text.rstrip("/") if "://" in text else os.path.abspath(text)


def shard_key(item: str | Path, roots: Sequence[str | Path]) -> str:
    """`item` (a path, a URI, a caption row "t.csv:12" or an image-shard row "a.tar#KEY") relative to
    the first input root holding it."""
    text = _norm(str(item))
    for root in roots:
        base = _norm(str(root))
        sep = "/" if "://" in base else os.sep
        if text.startswith(base + sep):
            return text[len(base) + 1:].replace(os.sep, "/")
        if text == base or (text.startswith(base) and text[len(base)] in ":[#"):
            return base.rsplit(sep, 1)[-1] + text[len(base):]
    return text.replace(os.sep, "/").rsplit("/", 1)[-1]  # not under any root: its name is still stable


def in_shard(key: str, index: int, count: int) -> bool:
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index


def select_shard(items: Sequence[T], keys: Sequence[str], roots: Sequence[str | Path],
                 shard: tuple[int, int] | None) -> list[T]:
    """The items of shard (I, N) in their original order; all of them when `shard` is None."""
    if shard is None:
        return list(items)
    index, count = shard
    return [it for it, key in zip(items, keys) if in_shard(shard_key(key, roots), index, count)]
