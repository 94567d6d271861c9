"""Ray Data as an engine: the same loader, prompts, parser and records as `qassess score`, run by a pool of
replicas over a streaming Ray Dataset (many nodes, retries, object stores).

    import ray, qassess.engines.ray_data
    ds = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)
    rows = qassess.engines.ray_data.score_dataset(ds, bytes_column="bytes", replicas=8, gpus_per_replica=1)
    rows.write_parquet("s3://bucket/scores/")

Each replica is a Ray actor holding one qassess Assessor (model loaded once, in __init__); Ray restarts a
replica that dies and retries its batch, so no row is lost, and a batch's rows only leave the actor
whole. Images are decoded and resized on the replica (`qassess.io.images.load_image` on the bytes, with
the backend's pixel budget, in a thread pool), so every engine sees the same pixels.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from qassess.core.record import to_arrow
from qassess.errors import UserError
from qassess.core.assessor import DEFAULT_BATCH, DEFAULT_BATCH_OTHER, Settings

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

# Stages that only move bytes reserve no CPU: on a node whose cores all belong to replicas they would
# otherwise wait for ever behind them (Ray schedules by reserved resources, not load).
IO_CPUS = 0


def read_bytes(location: str) -> bytes:
    """The bytes of a local path or any fsspec URI (s3://, gs://, hdfs://, ...)."""
    import fsspec

    with fsspec.open(location, "rb") as fh:
        return fh.read()


def _read_batch(batch: "pa.Table", path_column: str) -> "pa.Table":
    """Add `_bytes` (None when unreadable) and `_read_error` to a batch of paths."""
    import pyarrow as pa

    from qassess.errors import one_line

    data, errors = [], []
    for location in batch.column(path_column).to_pylist():
        try:
            data.append(read_bytes(location))
            errors.append(None)
        except FileNotFoundError:
            data.append(None)
            errors.append("file not found")
        except Exception as exc:  # noqa: BLE001 - any read failure is this row's load_error
            data.append(None)
            errors.append(f"cannot read: {one_line(exc)}")
    return batch.append_column("_bytes", pa.array(data, pa.binary())).append_column(
        "_read_error", pa.array(errors, pa.string()))


class Scorer:
    """A replica: one Assessor for the actor's lifetime; called with a batch of image bytes."""

    def __init__(self, settings: Settings, path_column: str, bytes_column: str, id_column: str | None,
                 threads: int | None):
        from concurrent.futures import ThreadPoolExecutor

        from qassess.core.assessor import Assessor

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.path_column, self.bytes_column, self.id_column = path_column, bytes_column, id_column
        self.assessor = Assessor(settings)
        self.budget = self.assessor.image_budget()  # loads the model here, once per replica
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="qassess-image")

    def _load(self, item: tuple) -> tuple:
        from qassess.io.images import ImageLoadError, load_image

        path, data, read_error = item
        if data is None:
            return path, None, read_error or "no image bytes"
        try:
            return path, load_image(data, self.budget), None
        except ImageLoadError as exc:
            return path, None, str(exc)

    def __call__(self, batch: "pa.Table") -> "pa.Table":
        paths = [str(p) for p in batch.column(self.path_column).to_pylist()]
        data = batch.column(self.bytes_column).to_pylist()
        errors = (batch.column("_read_error").to_pylist() if "_read_error" in batch.column_names
                  else [None] * len(paths))
        ids = ([str(i) for i in batch.column(self.id_column).to_pylist()] if self.id_column else None)
        loaded = list(self.pool.map(self._load, zip(paths, data, errors)))
        return to_arrow(self.assessor.score_loaded(loaded, self.budget.max_pixels, ids))


def score_dataset(dataset: "ray.data.Dataset", settings: Settings | None = None, *, replicas: int = 1,
                  gpus_per_replica: float = 0, cpus_per_replica: float = 1, path_column: str = "path",
                  bytes_column: str | None = None, id_column: str | None = None,
                  batch_size: int | None = None, **options: Any) -> "ray.data.Dataset":
    """A Ray Dataset of qassess records (the columns of `qassess.core.record`), one per input row; lazy, as
    Ray Datasets are: nothing runs until it is consumed or written.

    `dataset` has a `path_column` (a local path or fsspec URI, kept as the record's path) and, when
    `bytes_column` is given, the encoded image (e.g. `read_binary_files(..., include_paths=True)` gives
    "bytes" and "path"); without it each path is read in a stage of its own. `id_column` sets the
    record id (default: the file stem). `settings` (or Settings keyword `options`) as for
    `qassess.core.assessor.Assessor`; `batch_size` defaults to the backend's usual one (64 vLLM, 8 else).
    Unreadable or undecodable images give load_error rows, as in a local run.
    """
    settings = settings or Settings(**options)
    if replicas < 1:
        raise UserError("--replicas must be at least 1")
    if gpus_per_replica < 0 or cpus_per_replica <= 0:
        raise UserError("--gpus-per-replica must be >= 0 and cpus per replica > 0")
    settings, size = plan(settings, gpus_per_replica, batch_size)
    if bytes_column is None:
        dataset = dataset.map_batches(_read_batch, fn_kwargs={"path_column": path_column}, batch_format="pyarrow",
                                      batch_size=size, num_cpus=IO_CPUS)
        bytes_column = "_bytes"
    threads = max(1, int(cpus_per_replica)) if not gpus_per_replica else None
    from ray.data import ActorPoolStrategy

    # Ray Data's actor pools restart a dead replica and retry its batch (max_restarts and
    # max_task_retries -1 by default): a killed replica costs time, not rows.
    return dataset.map_batches(
        Scorer, fn_constructor_args=(settings, path_column, bytes_column, id_column, threads),
        batch_format="pyarrow", batch_size=size, compute=ActorPoolStrategy(size=replicas),
        num_cpus=cpus_per_replica, num_gpus=gpus_per_replica or None)


def plan(settings: Settings, gpus_per_replica: float = 0, batch_size: int | None = None) -> tuple[Settings, int]:
    """Settings with a concrete backend (every replica must run the same one: decided once, here) and
    the batch size: the given one, else the local run's default for that backend."""
    if settings.backend == "auto":
        settings = dataclasses.replace(settings, backend=auto_backend(gpus_per_replica))
    size = batch_size or settings.batch_size or DEFAULT_BATCH.get(settings.backend, DEFAULT_BATCH_OTHER)
    return settings, size


def auto_backend(gpus_per_replica: float) -> str:
    """vLLM on GPU replicas (when installed), transformers on CPU ones: a CPU replica is a slice of a
    node, where vLLM's start-up and thread binding rarely pay off."""
    import importlib.util

    return "vllm" if gpus_per_replica and importlib.util.find_spec("vllm") else "transformers"

