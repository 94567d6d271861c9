"""Models qassess ships or names: the embedded default, and how a `--model` value becomes a folder.

The default (`qassess-demo-v1`; the v2 build's warm start `qassess-demo-v2-sft` and its GRPO model `qassess-demo-v2` beside it) lives in this package folder and is used whenever no model is given:
a small Qwen2.5-VL trained by qassess itself on synthetic distortions (MODEL.md). It loads from the
package, never from a hub.

`--model` takes a preset name (qassess.models.presets), a local folder or a hub id. Resolution is offline-first:
a hub id already in the local Hugging Face cache loads from its snapshot folder (no network call at
all); one that is not cached fails at once, in one line, when the hub is off (HF_HUB_OFFLINE) or
unreachable, instead of the hub client's minutes of retries per file.
"""
from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from qassess.errors import UserError, one_line
from qassess.models.presets import DEFAULT_ID  # re-exported; written once, in the preset table

PACKAGE_DIR = Path(__file__).resolve().parent
NOTICE = (f"model: {DEFAULT_ID}, a small model trained by qassess on synthetic distortions of 55 photos; "
          "it is a demo, not a judge of real-world photos. For research use a full-size model, e.g. "
          "--model Qwen/Qwen2.5-VL-7B-Instruct trained with recipes/full.yaml (see README).")


def default_model_dir() -> Path:
    return PACKAGE_DIR / DEFAULT_ID


def is_default(model: str | None) -> bool:
    return model in (None, "", "default", DEFAULT_ID)


HUB_PROBE_TIMEOUT = 3.0  # seconds for DNS + TCP connect to the hub before calling it unreachable
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass(frozen=True)
class Resolved:
    """A `--model` value made concrete: what the backends load and where it came from (for the manifest)."""

    given: str
    path: str  # a folder, or a hub id the backend will download (hub reachable, not cached)
    source: str  # packaged | local | hub-cache | hub
    preset: object = None  # qassess.models.presets.Preset
    hub_id: str | None = None
    revision: str | None = None  # the commit of a cached snapshot; None when not known before loading
    subfolder: str | None = None


def resolve(model: str | None, presets_file: str | None = None) -> str:
    """The folder or hub id the backends load: the packaged default for no model / its id."""
    return resolve_model(model, presets_file).path


def resolve_model(model: str | None, presets_file: str | None = None, *, download: bool = True) -> Resolved:
    """Preset name, folder or hub id -> Resolved. `download=False` never lets anything be fetched."""
    from qassess.models.presets import PACKAGED, get_preset

    given = DEFAULT_ID if is_default(model) else str(model)
    preset = get_preset(given, presets_file)
    target = preset.model if preset else given
    if target.startswith(PACKAGED):
        return Resolved(given, str(PACKAGE_DIR / target[len(PACKAGED):]), "packaged", preset)
    if Path(target).expanduser().exists():
        return Resolved(given, str(Path(target).expanduser()), "local", preset)
    from qassess.backends.base import HUB_ID, looks_like_folder, missing_folder

    if not HUB_ID.match(target) or looks_like_folder(target):
        if preset:
            raise UserError(f"preset {given!r}: its model {target!r} is neither a folder nor a hub id")
        raise missing_folder(target)
    revision = preset.revision if preset else None
    subfolder = preset.subfolder if preset else None
    cached, missing = cached_snapshot(target, revision, subfolder)
    if cached:
        path = Path(cached, subfolder) if subfolder else Path(cached)
        return Resolved(given, str(path), "hub-cache", preset, target, Path(cached).name, subfolder)
    offline = hub_offline_reason()
    if offline:
        what = f"{target}{'/' + subfolder if subfolder else ''}"
        state = f"incomplete in the local Hugging Face cache ({missing})" if missing else "not in the local Hugging Face cache"
        fetch = (f"`qassess models --download {given}`" if preset and preset.hub_id
                 else f"`huggingface-cli download {target}`")
        raise UserError(f"model {what} is {state} and {offline}: run {fetch} where there is a network, "
                        f"or pass --model /path/to/a/local/copy")
    if subfolder:  # backends take a folder for these: fetch just that folder, then load it locally
        if not download:
            return Resolved(given, target, "hub", preset, target, revision, subfolder)
        folder = _snapshot(target, revision, [f"{subfolder}/*"])
        return Resolved(given, str(Path(folder, subfolder)), "hub-cache", preset, target, Path(folder).name, subfolder)
    return Resolved(given, target, "hub", preset, target, revision, None)


def training_model(name: str) -> str:
    """What a recipe's model.name_or_path loads: the embedded model or a preset's folder by name, a local
    folder as it is, a hub id (cached or fetchable); a missing folder is the one-line error above."""
    from qassess.backends.base import missing_folder

    resolved = resolve_model(name)
    if resolved.source in ("packaged", "local", "hub-cache") and not Path(resolved.path).is_dir():
        raise missing_folder(resolved.path)
    return resolved.path


def remote_model(model: str | None, presets_file: str | None = None) -> tuple[Resolved, str | None]:
    """A served model's Resolved (its path is the name the servers serve), and a local copy of it for the
    processor (pixel budget, placeholder ids) when one is here without any download, else None."""
    from qassess.models.presets import get_preset

    given = DEFAULT_ID if is_default(model) else str(model)
    try:
        local = resolve_model(given, presets_file, download=False)
    except UserError:
        local = None
    copy = local.path if local and local.source != "hub" and Path(local.path, "config.json").is_file() else None
    return Resolved(given, given, "remote", get_preset(given, presets_file)), copy


def cached_snapshot(hub_id: str, revision: str | None = None, subfolder: str | None = None) -> tuple[str | None, str | None]:
    """(snapshot folder, None) when the model is complete in the local HF cache, else (None, what is
    missing or None if nothing is cached). Reads the cache only: never a network call."""
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(hub_id, revision=revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, or an unusable cache entry: both mean "not here"
        return None, None
    root = Path(folder, subfolder) if subfolder else Path(folder)
    missing = missing_files(root)
    return (None, missing) if missing else (str(folder), None)


def missing_files(folder: Path) -> str | None:
    """What keeps `folder` from being a loadable model (config, weights, index shards), or None."""
    if not (folder / "config.json").is_file():
        return "no config.json"
    indexes = list(folder.glob("*.index.json"))
    for index in indexes:
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return f"{index.name} is unreadable"
        absent = sorted(s for s in shards if not (folder / s).is_file())
        if absent:
            return f"{len(absent)} weight shard(s) missing, e.g. {absent[0]}"
    if not indexes and not any(f.suffix in WEIGHT_SUFFIXES for f in folder.iterdir() if f.is_file()):
        return "no weights file"
    return None


def hub_offline_reason(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the hub cannot be used right now (offline mode, or no route within `timeout` s), or None.

    One DNS lookup and TCP connect to the hub endpoint, bounded by a thread join (getaddrinfo itself has
    no timeout): seconds at worst, where the hub client retries each file for minutes."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set"
    from urllib.parse import urlsplit

    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except Exception:  # noqa: BLE001
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlsplit(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(None)
        except OSError as exc:
            result.append(one_line(exc, limit=10**6))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if not result:
        return f"the hub ({host}) did not answer within {timeout:g} s"
    return f"the hub ({host}) is unreachable ({result[0]})" if result[0] else None


def _snapshot(hub_id: str, revision: str | None, patterns: list[str] | None) -> str:
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(hub_id, revision=revision, allow_patterns=patterns)
    except Exception as exc:  # noqa: BLE001 - any download failure is one line for the user
        raise UserError(f"cannot download {hub_id}: {one_line(exc)}") from None


def download(preset, log=print) -> str:
    """Fetch a preset's hub files into the local HF cache (after the fast reachability check)."""
    if preset.hub_id is None:
        raise UserError(f"preset {preset.name!r} is {'packaged with qassess' if preset.packaged else 'a local folder'}:"
                        " nothing to download")
    offline = hub_offline_reason()
    if offline:
        raise UserError(f"cannot download {preset.hub_id}: {offline}; run `{preset.download_command()}` "
                        "where there is a network, then copy the cache or pass --model /path/to/the/copy")
    log(f"downloading: {preset.download_command()}")
    return _snapshot(preset.hub_id, preset.revision, [f"{preset.subfolder}/*"] if preset.subfolder else None)


def model_id(model: str | None) -> str:
    """What output rows call the model: the shipped id for the default (or its folder), else the value
    (a preset name stays its name: the manifest records the hub id and revision it resolved to)."""
    if is_default(model):
        return DEFAULT_ID
    marker = Path(str(model)) / "qassess_model.json"
    try:
        return str(json.loads(marker.read_text(encoding="utf-8"))["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return str(model)
