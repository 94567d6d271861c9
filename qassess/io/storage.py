"""Inputs that live in object stores or other file systems, named by fsspec URIs (s3://bucket/prefix/,
gs://..., hdfs://..., memory://...). Local paths never go through fsspec: `is_uri` tells them apart.

S3-compatible stores other than AWS (MinIO, Ceph, moto on loopback) are reached with the usual AWS
variables: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Credentials are left to the
file system's own chain and never logged.
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from qassess.errors import UserError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def is_uri(source: object) -> bool:
    """True for "scheme://..." strings other than file:// (those are local paths)."""
    if not isinstance(source, str):
        return False
    m = _SCHEME.match(source)
    return bool(m) and m.group(1).lower() != "file"


def local_name(source: str | Path) -> str | Path:
    """file:///x -> /x; anything else unchanged."""
    if isinstance(source, str) and source.lower().startswith("file://"):
        return source[len("file://"):]
    return source


def storage_options(uri: str) -> dict:
    """Options for the URI's file system: an S3 endpoint from AWS_ENDPOINT_URL(_S3), as the AWS CLI does."""
    scheme = _SCHEME.match(uri).group(1).lower()
    if scheme in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def filesystem(uri: str):
    """(fsspec file system, path inside it) for a URI; a clear error when its driver is missing."""
    try:
        import fsspec

        return fsspec.core.url_to_fs(uri, **storage_options(uri))
    except ImportError as exc:
        raise UserError(f"{uri}: cannot open this kind of URI ({str(exc).splitlines()[0]})") from None
    except ValueError as exc:
        raise UserError(f"{uri}: {str(exc).splitlines()[0]}") from None


def uri_of(fs, path: str) -> str:
    """The URI of `path` as `fs` lists it (listings drop the scheme)."""
    return path if _SCHEME.match(path) else fs.unstrip_protocol(path)


@contextmanager
def local_copy(uri: str) -> Iterator[Path]:
    """A temporary local copy of one remote file, under its own name (readers that want a path)."""
    fs, path = filesystem(uri)
    with tempfile.TemporaryDirectory(prefix="qassess-") as tmp:
        target = Path(tmp) / (Path(path).name or "data")
        try:
            fs.get_file(path, str(target))
        except FileNotFoundError:
            raise UserError(f"no such file: {uri}") from None
        except (IsADirectoryError, NotADirectoryError):
            raise UserError(f"{uri}: a folder, not a file") from None
        except OSError as exc:
            raise UserError(f"cannot read {uri}: {exc}") from None
        yield target
