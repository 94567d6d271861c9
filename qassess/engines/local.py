"""A scoring run as the CLI does it: pick inputs, skip what the output already holds, write per batch,
show progress, summarize. Kept apart from `scoring` so the Python API stays free of files and terminals."""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from qassess import models
from qassess.errors import UserError
from qassess.core.assessor import Assessor, Settings
from qassess.io.sources import row_key
from qassess.core.record import SETUP_FIELDS
from qassess.io.lock import output_lock
from qassess.io.results import open_results

CAPTION_TABLES = {".csv", ".jsonl", ".ndjson", ".json", ".tsv"}


def detect_mode(inputs: Sequence[str | Path]) -> str:
    """"caption" when every input is a caption table (a Parquet file without an image column counts), a
    .txt file, or a folder holding .txt files and no images (walked the way image discovery walks:
    hidden names skipped, links followed once). URIs are caption sources only when they name a table."""
    from qassess.io.image_shards import ParquetShard
    from qassess.io.sources import IMAGE_EXTENSIONS, walk_files
    from qassess.io.storage import is_uri, local_name

    def is_caption_source(raw: str | Path) -> bool:
        raw = local_name(raw)
        if is_uri(raw):
            return Path(raw).suffix.lower() in CAPTION_TABLES
        p = Path(raw)
        if p.is_file() and p.suffix.lower() == ".parquet":
            return not ParquetShard(str(p), str(p)).probe()
        if not p.is_dir():
            return p.is_file() and p.suffix.lower() in CAPTION_TABLES | {".txt"}
        has_txt = False
        for f, _ in walk_files(p, lambda name: True, set()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                return False  # stop at the first image: image discovery walks the folder anyway
            has_txt = has_txt or f.suffix.lower() == ".txt"
        return has_txt

    return "caption" if inputs and all(is_caption_source(p) for p in inputs) else "image"


@dataclass
class Tally:
    """Counts for the progress line and the closing summary."""

    total: int
    done: int = 0
    statuses: Counter = field(default_factory=Counter)
    rating_sum: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, records: list[dict]) -> None:
        for r in records:
            self.done += 1
            self.statuses[r["status"]] += 1
            if r["status"] == "ok":
                self.rating_sum += r["rating"]

    @property
    def failed(self) -> int:
        return self.done - self.statuses["ok"]

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "nothing to do"
        ok = self.statuses["ok"]
        mean = f"; mean rating {self.rating_sum / ok:.3f}" if ok else ""
        return f"{self.done} scored in {time.monotonic() - self.started:.1f}s ({counts}){mean}"


def remaining(items: Sequence, keys: Sequence[str], done: set, *, limit: int | None, output, log
              ) -> tuple[list, Tally]:
    """The inputs a (resumed) run still has to score, at most `limit`, and their tally; says what resuming
    skipped, or that nothing is left. Shared by the local and the Ray engine."""
    todo = [it for it, key in zip(items, keys) if key not in done]
    if len(todo) < len(items):
        log(f"resuming {output}: {len(items) - len(todo)} of {len(items)} inputs already done")
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        log("nothing left to score")
    return todo, Tally(total=len(todo))


def run_score(inputs: Sequence[str | Path], output: Path | None, settings: Settings, *, captions: bool = False,
              resume: bool = True, retry_errors: bool = False, limit: int | None = None,
              id_col: str | None = None, caption_col: str | None = None, shard: tuple[int, int] | None = None,
              log=None) -> Tally:
    """Score `inputs` into `output`. `shard` (I, N): only this job's share (qassess.engines.partition). Rows whose
    status is generation_error (a failed engine or server) are attempted again by every rerun."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if settings.max_pixels is not None and settings.min_pixels is not None and settings.min_pixels > settings.max_pixels:
        raise UserError("--min-pixels is larger than --max-pixels")
    mode = "caption" if captions else detect_mode(inputs)
    if mode == "caption":
        from qassess.io.captions import read_captions

        items = read_captions(inputs, id_col=id_col, caption_col=caption_col)
        if not items:
            raise UserError("no captions found in " + ", ".join(map(str, inputs)))
        keys = [it.source for it in items]
    else:
        from qassess.io.sources import discover_items

        items = discover_items(inputs)  # files, shard members (shard.tar#KEY), object-store files
        keys = [row_key(it.path) for it in items]
    if shard is not None:
        from qassess.engines.partition import select_shard

        pairs = select_shard(list(zip(items, keys)), keys, inputs, shard)
        items, keys = [it for it, _ in pairs], [k for _, k in pairs]
        log(f"shard {shard[0]}/{shard[1]}: {len(items)} input(s) of this share")

    with output_lock(output, log):
        return _run_locked(items, keys, inputs, output, settings, mode=mode, resume=resume,
                           retry_errors=retry_errors, limit=limit, log=log)


def _run_locked(items, keys, inputs, output, settings, *, mode, resume, retry_errors, limit, log) -> Tally:
    """The part of a run that reads and writes `output`: only while its lock is held."""
    writer, done_rows = open_results(output, resume=resume, drop_errors=retry_errors,
                                     drop_statuses=("generation_error",))
    try:
        check_same_setup(done_rows, mode, settings, output)
        done = {row_key(r["path"]) if mode == "image" else r["path"] for r in done_rows}
        todo, tally = remaining(items, keys, done, limit=limit, output=output, log=log)
        if not todo:
            return tally
        if models.is_default(settings.model):
            log(models.NOTICE)  # once, after the inputs are known to be good
        if settings.from_preset:
            log(f"preset {settings.model}: " + ", ".join(f"{k} {getattr(settings, k)}" for k in settings.from_preset))
        manifest, finished = None, False
        with Assessor(settings) as assessor:
            if output is not None:
                manifest = _start_manifest(output, assessor, mode, inputs=len(items),
                                           done=sum(key in done for key in keys), todo=len(todo),
                                           fresh=not resume or not done_rows)
            try:
                batches = (assessor.iter_caption_batches(todo) if mode == "caption"
                           else assessor.iter_image_batches(todo))
                with _Progress(tally, log, f"{mode}s") as progress:
                    for records in batches:
                        if tally.done == 0:
                            reason = f" ({assessor.backend_reason})" if assessor.backend_reason else ""
                            progress.log(f"backend: {assessor.backend_name}{reason}; model: {models.model_id(settings.model)}")
                        writer.write(records)
                        tally.add(records)
                        progress.update()
                finished = True
            finally:
                if manifest is not None:
                    manifest.finish(tally.statuses, interrupted=not finished)
        return tally
    finally:
        writer.close()


def _start_manifest(output: Path, assessor: Assessor, mode: str, *, fresh: bool, **counts):
    """Load the backend, then record this run's segment in OUTPUT.manifest.json (qassess.io.manifest)."""
    from qassess import __version__
    from qassess.io import manifest as mf

    started = mf.now()
    backend = assessor.backend(counts["todo"])
    manifest = mf.Manifest(output, fresh=fresh)
    manifest.start({
        "qassess_version": __version__, "started": started, "ended": None, "outcome": "running",
        "mode": mode, "inputs": counts, "model": mf.model_record(assessor.resolved, backend.model),
        "template": mf.template_record(assessor.template), "settings": mf.settings_record(assessor.settings),
        "backend": mf.backend_record(backend, assessor.backend_reason), "versions": mf.versions(), "counts": {}})
    return manifest


def check_same_setup(rows: list[dict], mode: str, settings: Settings, output) -> None:
    from qassess.core.prompts import get_template

    want = {"mode": mode, "model": models.model_id(settings.model), "template": get_template(settings.template).name}
    for row in rows[:1] + rows[-1:]:
        for key in SETUP_FIELDS:
            if row.get(key) not in (None, "") and str(row[key]) != str(want[key]):
                raise UserError(f"{output} holds results with {key}={row[key]!r}, not {want[key]!r}: "
                                f"use --overwrite or another -o")


class _Progress:
    """A rich bar on a terminal; a plain line per batch otherwise (logs, CI)."""

    def __init__(self, tally: Tally, log, unit: str):
        self.tally, self.plain_log, self.unit = tally, log, unit
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} {task.fields[unit]}/s, {task.fields[failed]} failed"),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=False)

    def __enter__(self):
        if self.bar:
            self.bar.start()
            self.task = self.bar.add_task("score", total=self.tally.total, rate="-", unit=self.unit, failed=0)
        return self

    def log(self, msg: str) -> None:
        (self.bar.console.print if self.bar else self.plain_log)(msg)

    def update(self) -> None:
        t = self.tally
        if self.bar:
            self.bar.update(self.task, completed=t.done, rate=f"{t.rate:.2f}", failed=t.failed)
        else:
            self.plain_log(f"[{t.done}/{t.total}] {t.rate:.2f} {self.unit}/s, {t.failed} failed")

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()
