"""`qassess score ... --engine ray`: list the inputs, skip what OUT_DIR holds, connect to (or start) a Ray
cluster, stream the images through `qassess.engines.ray_data.score_dataset`, write shards (qassess.engines.ray_output)."""
from __future__ import annotations

import os
import posixpath
import socket
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Sequence

from qassess import models
from qassess.errors import UserError
from qassess.core.assessor import Settings

MB = 1024 * 1024
SHARD_BATCHES = 4  # batches per output shard


def list_items(inputs: Sequence[str]) -> tuple[list[str], dict]:
    """The local engine's listing (qassess.io.sources.discover_items: folders walked the same way, image
    shards found inside them, .tar/.tar.gz/.parquet, URIs listed recursively), with local paths made
    absolute so that every node reads them the same way: (every row's path in order, {path: ImageItem}
    of the shard members among them, read through their shard)."""
    from qassess.engines.ray_output import is_uri
    from qassess.io.sources import discover_items

    items = discover_items([p if is_uri(p) else os.path.abspath(p) for p in inputs])
    members = {it.path: it for it in items if it.source is not None and hasattr(it.source, "members")}
    return [it.path for it in items], members


def _read_items(batch: dict) -> dict:
    """Encoded bytes (None when unreadable) and the reason, for a batch of shard items."""
    from qassess.errors import one_line

    data, errors = [], []
    for item in batch["item"]:
        try:
            got = item.read()
            data.append(got.read_bytes() if isinstance(got, Path) else bytes(got))
            errors.append(None)
        except Exception as exc:  # noqa: BLE001 - a bad member is this row's load_error
            data.append(None)
            errors.append(one_line(exc))
    return {"path": list(batch["path"]), "id": list(batch["id"]), "_bytes": data, "_read_error": errors}


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A one-line error now, instead of ray.init retrying an unreachable head for minutes."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address must be HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def connect(address: str | None, log) -> bool:
    """Join the cluster at `address`, or start a local one sized to this machine. True if we started
    the connection (and must shut it down); a session that already called ray.init is reused."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UserError(f"--engine ray needs Ray Data: pip install 'qassess[ray]' ({exc})") from None
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
        log(f"ray: joined {address} ({_cpus()})")
    else:
        cpus = os.cpu_count() or 1
        # A small object store: images stream through it, backpressure keeps it bounded.
        store = min(max(512, 256 * cpus), 4096) * MB
        ray.init(num_cpus=cpus, include_dashboard=False, object_store_memory=store, logging_level="WARNING")
        log(f"ray: started a local cluster ({_cpus()})")
    import logging

    ray.data.DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # our own lines say what runs where
    return True


def _cpus() -> str:
    import ray

    res = ray.cluster_resources()
    gpus = f", {res['GPU']:g} GPUs" if res.get("GPU") else ""
    return f"{res.get('CPU', 0):g} CPUs{gpus}"


def _shard_sink(location: str, fmt: str, run_id: str, rows_per_shard: int):
    from ray.data import Datasink
    from ray.data.block import BlockAccessor

    from qassess.engines.ray_output import FORMATS, PREFIX, atomic_put, encode, open_folder

    class ShardSink(Datasink):
        """One shard per write task, named by run and task index: a retried task rewrites its own file."""

        def __init__(self):
            self.counts: Counter = Counter()
            self.rating_sum = 0.0

        @property
        def min_rows_per_write(self) -> int:
            return rows_per_shard

        def write(self, blocks, ctx) -> dict:
            records = [r for b in blocks for r in BlockAccessor.for_block(b).to_arrow().to_pylist()]
            if not records:
                return {}
            fs, root = open_folder(location)
            name = f"{PREFIX}{run_id}-{ctx.task_idx:06d}{FORMATS[fmt]}"
            atomic_put(fs, posixpath.join(root, name), encode(records, fmt))
            out = Counter(r["status"] for r in records)
            return {"counts": dict(out), "rating_sum": sum(r["rating"] for r in records if r["status"] == "ok")}

        def on_write_complete(self, write_result) -> None:
            for ret in write_result.write_returns:
                self.counts.update(ret.get("counts", {}))
                self.rating_sum += ret.get("rating_sum", 0.0)

    return ShardSink()


def run_ray(inputs: Sequence[str], output: str | None, settings: Settings, *, address: str | None = None,
            replicas: int = 1, gpus_per_replica: float = 0, output_format: str = "jsonl", resume: bool = True,
            retry_errors: bool = False, limit: int | None = None, log=None):
    from qassess.engines import ray_output as shards
    from qassess.engines.local import check_same_setup, detect_mode, remaining

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if not output or output == "-" or output.lower().endswith((".csv", ".jsonl", ".ndjson", ".parquet")):
        raise UserError("--engine ray writes a folder of shards: give -o a folder (a path or a URI like s3://bucket/scores/)")
    if output_format not in shards.FORMATS:
        raise UserError(f"--output-format must be one of: {', '.join(shards.FORMATS)}")
    if replicas < 1 or gpus_per_replica < 0:
        raise UserError("--replicas must be at least 1 and --gpus-per-replica at least 0")
    local = [p for p in inputs if not shards.is_uri(p)]
    if local and detect_mode([Path(p) for p in local]) == "caption":
        raise UserError("--engine ray scores images; rate captions with the local engine")
    todo_all, shard_items = list_items(inputs)
    resolved = models.resolve_model(settings.model, settings.presets)  # a bad --model fails here, not on every replica

    from qassess.io.lock import output_lock

    with output_lock(output, log):  # OUT.lock beside a local folder; its shards are written inside as before
        if not resume:
            removed = shards.remove_shards(output)
            if removed:
                log(f"--overwrite: removed {removed} shards from {output}")
        existing = shards.read_existing(output, drop_errors=retry_errors)
        check_same_setup(existing.rows, "image", settings, output)
        if existing.duplicates:
            log(f"dropped {existing.duplicates} duplicate rows from {output} (a write retried after it landed)")
        todo, tally = remaining(todo_all, todo_all, {row["path"] for row in existing.rows}, limit=limit,
                                output=output, log=log)
        if not todo:
            return tally
        fs, root = shards.open_folder(output)
        fs.makedirs(root, exist_ok=True)
        if models.is_default(settings.model):
            log(models.NOTICE)

        manifest, finished = None, False
        started = connect(address, log)
        try:
            import ray.data

            from qassess.engines.ray_data import plan, score_dataset

            run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
            settings, batch = plan(settings, gpus_per_replica)
            if not shards.is_uri(output):
                manifest = _start_manifest(output, resolved, settings, fresh=not resume or not existing.rows,
                                           ray={"run_id": run_id, "replicas": replicas,
                                                "gpus_per_replica": gpus_per_replica, "batch_size": batch,
                                                "format": output_format, "cluster": _cpus()},
                                           inputs={"inputs": len(todo_all), "done": len(todo_all) - len(todo),
                                                   "todo": len(todo)})
            # One input block per batch lets every replica start at once; a shard per few batches bounds both
            # the file count and what an interruption costs (rows not yet in a shard are scored again).
            blocks = min(-(-len(todo) // batch), 10_000)
            files = [p for p in todo if p not in shard_items]
            members = [shard_items[p] for p in todo if p in shard_items]
            sink = _shard_sink(output, output_format, run_id, SHARD_BATCHES * batch)
            parts = []
            if files:
                items = ray.data.from_items([{"path": p} for p in files], override_num_blocks=blocks)
                parts.append(score_dataset(items, settings, replicas=replicas, gpus_per_replica=gpus_per_replica))
            if members:  # image shards: each sample read through its shard (one ranged read a member)
                samples = ray.data.from_items([{"path": it.path, "id": it.id, "item": it} for it in members],
                                              override_num_blocks=blocks)
                samples = samples.map_batches(_read_items, batch_format="numpy", num_cpus=0)
                parts.append(score_dataset(samples, settings, replicas=replicas, gpus_per_replica=gpus_per_replica,
                                           bytes_column="_bytes", id_column="id"))
            rows = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
            log(f"ray: {len(todo)} images, {replicas} replica(s), shards {output_format} -> {output}")
            try:
                rows.write_datasink(sink, ray_remote_args={"num_cpus": 0})
            except Exception as exc:  # noqa: BLE001 - a user error raised on a replica comes back wrapped
                cause = _user_error(exc)
                if cause is None:
                    raise
                raise UserError(str(cause)) from None
            tally.done = sum(sink.counts.values())
            tally.statuses.update(sink.counts)
            tally.rating_sum = sink.rating_sum
            finished = True
            return tally
        finally:
            if manifest is not None:
                manifest.finish(tally.statuses, interrupted=not finished)
            if started:
                import ray

                ray.shutdown()


def _start_manifest(output: str, resolved, settings: Settings, *, fresh: bool, ray: dict, inputs: dict):
    """FOLDER.manifest.json beside a local shard folder, as a local run writes OUT.manifest.json: model,
    revision, weights, template, settings, and the Ray side (replicas, cluster) in place of the backend,
    which lives on the replicas."""
    import ray as ray_module

    from qassess import __version__
    from qassess.core.prompts import get_template
    from qassess.io import manifest as mf

    manifest = mf.Manifest(output.rstrip("/"), fresh=fresh)
    manifest.start({
        "qassess_version": __version__, "started": mf.now(), "ended": None, "outcome": "running",
        "mode": "image", "engine": "ray", "inputs": inputs, "model": mf.model_record(resolved),
        "template": mf.template_record(get_template(settings.template)), "settings": mf.settings_record(settings),
        "backend": {"name": settings.backend, "on": "every replica"},
        "ray": {**ray, "version": ray_module.__version__}, "versions": mf.versions(), "counts": {}})
    return manifest


def _user_error(exc: BaseException) -> UserError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UserError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None
