"""The page: one HTML file with its CSS, script, data and thumbnails inside, nothing fetched.

Data goes in as JSON inside `<script type="application/json">` with `<`, `>`, `&`, U+2028 and U+2029
escaped, so no text can close the element; the script renders it with textContent only. A
Content-Security-Policy allows the page's own script and style (by hash) and data: images, nothing
else: no network, and no injected script would run even if escaping failed.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import os
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from qassess.evaluate.compare.result import jsonable
from qassess.errors import UserError
from qassess.evaluate.report.rows import Run, choose_thumbnails, load_run
from qassess.evaluate.report.thumbnails import Thumb, check_options, make_thumbnails, resolve

COMPRESS_ABOVE = 2_000_000  # characters of row data
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(obj: Any) -> str:
    """JSON that is safe inside a <script> element (the escapes are only ever needed inside strings,
    where \\uXXXX means the same character)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _ESCAPES[m.group(0)], text)


def _asset(name: str) -> str:
    return resources.files("qassess.evaluate.report").joinpath("assets", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _numbers(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return [round(float(v), digits) if math.isfinite(v) else None for v in values]


def _columns(run: Run, why: list[str]) -> dict[str, list]:
    r = run.rows
    out: dict[str, list] = {c: r[c].tolist() for c in ("id", "name", "path", "mode", "status", "error", "caption",
                                                       "reasoning", "raw", "group")}
    out["sc_error"] = r["self_check_error"].tolist()
    for c in ("rating", "spread", "expected", "sc", "gap", "mos", "err", "rouge"):
        out[c] = _numbers(r[c].to_numpy(dtype=float))
    out["ratings"] = r["ratings"].tolist() if r["ratings"].notna().any() else [None] * len(r)
    out["why"] = why
    return out


def render_page(run: Run, thumbs: dict[int, tuple[Thumb, str]], thumb_note: str, why: list[str], *,
                title: str, compress: bool | None = None) -> str:
    """The HTML text. `thumbs`: row -> (thumbnail, file URI of the original). `compress` (None: when the
    data passes COMPRESS_ABOVE) gzips the row data into base64, which the page inflates with the
    browser's own DecompressionStream: captions and reasoning of a large run shrink several times."""
    from qassess import __version__

    rows = sorted(i for i, (t, _) in thumbs.items() if t.uri)
    thumb_data = {"row": rows, "uri": [thumbs[i][0].uri for i in rows], "w": [thumbs[i][0].width for i in rows],
                  "h": [thumbs[i][0].height for i in rows], "file": [thumbs[i][1] for i in rows]}
    data = {"summary": jsonable(run.summary), "warnings": run.warnings, "thumb_note": thumb_note,
            "version": __version__, "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "columns": _columns(run, why)}  # the columns are built JSON-ready: no walk over every value
    text = script_json(data)
    encoding = "json"
    if compress or (compress is None and len(text) > COMPRESS_ABOVE):
        text = base64.b64encode(gzip.compress(text.encode("utf-8", errors="replace"), compresslevel=6,
                                              mtime=0)).decode("ascii")
        encoding = "gzip+base64"
    css, js = _asset("page.css"), _asset("page.js")
    csp = (f"default-src 'none'; script-src {_csp_hash(js)}; style-src {_csp_hash(css)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    parts = {"CSP": csp, "VERSION": __version__, "TITLE": _html_text(title), "CSS": css, "JS": js,
             "ENCODING": encoding, "DATA": text, "THUMBS": script_json(thumb_data)}
    return re.sub(r"@@([A-Z]+)@@", lambda m: parts[m.group(1)], _asset("page.html"))  # one pass: data stays data


def build_report(preds: str | Path, out: str | Path, *, ground_truth: Sequence[str] | None = None,
                 refs: str | Path | None = None, fit: str | None = None, id_col: str | None = None,
                 pred_col: str | None = None, gt_id_col: str | None = None, gt_col: str | None = None,
                 roots: Sequence[str | Path] = (), max_thumbnails: int = 2000, thumb_size: int = 256,
                 thumb_format: str = "webp", thumb_quality: int = 70, workers: int | None = None,
                 title: str | None = None, compress: bool | None = None,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the report of one score output to `out`; returns what went in (rows, thumbnails, bytes, seconds).

    Relative image paths are looked up under each of `roots`, then the current folder, then the
    output's folder. Rows whose file is missing or unreadable get a card without a picture, saying why."""
    started = time.monotonic()
    from qassess.io.storage import is_uri

    remote = is_uri(str(preds))  # s3://... stays a string: Path() would fold its // into /
    preds, out = (str(preds) if remote else Path(preds)), Path(out)
    name = preds.rstrip("/").rsplit("/", 1)[-1] if remote else preds.name
    if max_thumbnails < 0:
        raise UserError("--max-thumbnails must be 0 or more")
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"the report is an HTML page: give -o a name ending in .html, not {out.name}")
    if not out.parent.is_dir():
        raise UserError(f"output folder does not exist: {out.parent}")
    check_options(thumb_size, thumb_format, thumb_quality)
    for root in roots:
        if not Path(root).is_dir():
            raise UserError(f"--root {root} is not a folder")
    run = load_run(preds, ground_truth, refs, fit=fit, id_col=id_col, pred_col=pred_col, gt_id_col=gt_id_col,
                   gt_col=gt_col)
    if not remote:
        _add_manifest(preds, run)
    timings = {"read": time.monotonic() - started}
    chosen, thumb_note = choose_thumbnails(run.rows, max_thumbnails)
    search = [Path(r) for r in roots] + [Path.cwd()] + ([] if remote else [preds.resolve().parent])
    thumbs, why = _pictures(run, chosen, search, size=thumb_size, fmt=thumb_format, quality=thumb_quality,
                            workers=workers, log=log)
    timings["thumbnails"] = time.monotonic() - started - timings["read"]
    missing = sum(1 for i in chosen if why[i])
    if missing:
        run.warnings.append(f"{missing} of {len(chosen)} rows chosen for a picture have none (file missing or "
                            "unreadable); their cards say why")
    page = render_page(run, thumbs, thumb_note, why, title=title or f"qassess report: {name}",
                       compress=compress)
    data = page.encode("utf-8", errors="replace")  # a lone surrogate from a JSON escape becomes '?'
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    seconds = time.monotonic() - started
    timings["page"] = seconds - timings["read"] - timings["thumbnails"]
    return {"rows": len(run.rows), "thumbnails": sum(1 for t, _ in thumbs.values() if t.uri),
            "without_picture": missing, "bytes": len(data), "seconds": seconds, "timings": timings,
            "warnings": run.warnings, "statuses": run.summary["statuses"]}


def _pictures(run: Run, chosen: np.ndarray, search: list[Path], **options) -> tuple[dict, list[str]]:
    """Thumbnails of the chosen rows whose file is there ({row: (thumb, file URI)}), and for every row
    why it has no picture ("" when it has one or was not chosen)."""
    why = [""] * len(run.rows)
    paths = run.rows["path"].to_numpy()
    found: list[tuple[int, Path]] = []
    for i in chosen:
        file = resolve(str(paths[i]), search)
        if file is None:
            why[i] = f"file not found: {paths[i]}" if paths[i] else "no path in the row"
        else:
            found.append((int(i), file))
    made = make_thumbnails([f for _, f in found], **options) if found else []
    thumbs: dict[int, tuple[Thumb, str]] = {}
    for (i, file), thumb in zip(found, made):
        thumbs[i] = (thumb, file.resolve().as_uri())
        if thumb.uri is None:
            why[i] = f"no picture: {thumb.problem}"
    return thumbs, why


def _add_manifest(preds: Path, run: Run) -> None:
    """The run manifest's one-line description, as `compare` prints it."""
    from qassess.io import manifest as mf

    path = mf.manifest_path(preds)
    data = mf.read(path) if path.is_file() else None
    if data is not None:
        run.summary["manifest"] = mf.describe(data)
