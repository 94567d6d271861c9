"""Are scores from pairs worth their cost? Absolute ratings vs pair-derived scores, in one run.

Issue 22's evidence: on a folder of labelled images (labels.csv with columns image and mos, image paths
relative to the folder), with one model, this runs in one process

  (a) the absolute ratings, through `qassess score`'s own path (qassess.engines.local.run_score);
  (b) pair-derived scores through `qassess pairs`' own paths (qassess.pairwise.run): budgets 1n, 2n,
      4n, 8n (a random cycle, then rounds of close pairs, then Bradley-Terry), and all pairs when n is
      small (`pairs pairs.csv` + `rank`, since the budget design only looks at score neighbours), in each
      asking mode that works for the model: `--ask ratings` always; `--ask pair` (both images in one
      prompt, both orders) first at the smallest budget, and at the others only when at least
      --min-parse of its verdicts parse (a rating-only model answers a rating there: all parse errors).

For each row: SRCC against the labels, SRCC against the absolute ratings of (a), model prompts and the
images in them, wall time, both as multiples of (a), the parse success rate and the position-bias rate
(share of pairs asked in both orders whose two orders pick different winners; `--ask ratings` rates each
image alone, so it has no order to be biased by). Why one process: the model is loaded once (a warm-up
outside every timed run) and shared by every run, so the ratios compare the work, not the loading;
model calls are counted at the backend, so nothing is estimated; the files are read once before (a),
and (a) runs again last, so its two times show how much of a ratio is the shared machine's noise. Each budget starts from an empty
verdict file, so its cost is its own, not the increment over the previous budget.

    .venv/bin/python bench/bench_pairs.py                                      # samples/real, default model
    .venv/bin/python bench/bench_pairs.py /work/shared/data/livec_val --limit 40 --model qassess-demo-v2-sft
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "samples" / "real"


@dataclass
class Row:
    """One measured way of scoring the images (what the table prints)."""

    method: str  # "rating" for (a), else the pair ask mode
    budget: str  # "-" for (a), "1n", ..., "all"
    pairs: int | None  # pairs asked (None for (a))
    ok: int  # ratings or verdicts that parsed
    asked: int  # ratings or pairs asked
    scored: int  # images with a score
    srcc_labels: float | None
    srcc_rating: float | None
    prompts: int
    images: int  # images inside those prompts (a pair prompt shows two)
    calls: int  # backend calls (batches) the prompts went in
    wall: float
    flips: int | None = None  # pairs whose two orders disagree, of `both`
    both: int | None = None
    note: str = ""


@dataclass
class Meter:
    """Counts what reaches the backend: prompts, the images in them, the calls they went in. Installed by
    patching qassess.backends.create_backend so that every Assessor (score's and the pair judge's) gets
    the one loaded backend, whose close() is deferred to the end of the bench."""

    prompts: int = 0
    images: int = 0
    calls: int = 0
    backend: object = None
    made_with: tuple | None = None
    _depth: int = 0
    _original: object = None
    _close: object = None
    load_seconds: float = 0.0

    def install(self) -> None:
        import qassess.backends as backends

        self._original = backends.create_backend

        def create(name, model, **kwargs):
            key = (name, model, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
            if self.backend is None:
                start = time.perf_counter()
                self.backend = self._original(name, model, **kwargs)
                self.load_seconds = time.perf_counter() - start
                self.made_with = key
                self._wrap(self.backend)
            elif key != self.made_with:
                raise RuntimeError(f"the bench shares one backend, but a run asked for another: {key} vs {self.made_with}")
            return self.backend

        backends.create_backend = create

    def _wrap(self, backend) -> None:
        for name in ("generate", "complete", "next_token_scores"):
            method = getattr(backend, name, None)
            if method is not None:
                setattr(backend, name, self._counted(method))
        self._close = backend.close
        backend.close = lambda: None

    def _counted(self, method):
        def call(requests, *args, **kwargs):
            outer = self._depth == 0  # a backend's generate may call its own complete: count once
            self._depth += 1
            try:
                return method(requests, *args, **kwargs)
            except NotImplementedError:  # a reading this backend lacks: nothing was computed
                outer = False
                raise
            finally:
                self._depth -= 1
                if outer:  # a failed batch counts too: the judge retries it one by one, and both cost
                    self.prompts += len(requests)
                    self.calls += 1
                    self.images += sum(len(r.images) for r in requests)
        return call

    def snapshot(self) -> tuple[int, int, int]:
        return self.prompts, self.images, self.calls

    def uninstall(self) -> None:
        import qassess.backends as backends

        if self._original is not None:
            backends.create_backend = self._original
        if self._close is not None:
            self._close()


def read_labels(folder: Path, limit: int | None) -> list[tuple[str, float]]:
    """(image path, mos) from FOLDER/labels.csv, the first `limit` rows; every image must exist, once."""
    from qassess.errors import UserError
    from qassess.io.tables import read_table

    labels = folder / "labels.csv"
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    if not labels.is_file():
        raise UserError(f"{folder}: no labels.csv there (columns image and mos)")
    frame = read_table(labels, raw=True).frame
    missing = {"image", "mos"} - set(map(str, frame.columns))
    if missing:
        raise UserError(f"{labels}: needs columns image and mos (missing: {', '.join(sorted(missing))})")
    rows = frame.to_dict("records")[:limit] if limit else frame.to_dict("records")
    out, seen = [], set()
    for k, row in enumerate(rows):
        name = str(row["image"]).strip()
        try:
            mos = float(row["mos"])
        except (TypeError, ValueError):
            mos = math.nan
        if not name or name == "nan" or not math.isfinite(mos):
            raise UserError(f"{labels}: row {k + 1} has no image or no numeric mos")
        path = Path(os.path.abspath(folder / name))  # absolute: a pairs table's relative paths mean its own folder
        if not path.is_file():
            raise UserError(f"{labels}: row {k + 1}: no such image {path}")
        if str(path) in seen:
            raise UserError(f"{labels}: {path} is listed twice")
        seen.add(str(path))
        out.append((str(path), mos))
    if len(out) < 3:
        raise UserError(f"{labels}: {len(out)} image(s); SRCC needs at least 3")
    return out


def srcc_on(scores: dict[str, float], truth: dict[str, float]) -> float | None:
    """SRCC over the images both sides have; None when undefined (fewer than 3, or a constant side)."""
    from qassess.evaluate.metrics import srcc

    common = [k for k in scores if k in truth and scores[k] is not None and truth[k] is not None]
    if len(common) < 3:
        return None
    value = srcc([scores[k] for k in common], [truth[k] for k in common])
    return None if math.isnan(value) else value


def _quiet(msg: str) -> None:
    pass


def run_absolute(paths: list[str], work: Path, settings_kw: dict, meter: Meter, *, tag: str = "-"
                 ) -> tuple[Row, dict[str, float]]:
    """(a): the images through `qassess score`'s run; ratings per image path. Run first and again last
    (tag "again"): the two times show how much of a ratio is the shared machine's noise."""
    from qassess.core.assessor import Settings
    from qassess.engines.local import run_score
    from qassess.io.tables import read_records

    out = work / f"ratings{'' if tag == '-' else '-' + tag}.csv"
    before = meter.snapshot()
    start = time.perf_counter()
    tally = run_score(paths, out, Settings(**settings_kw), resume=False, log=_quiet)
    wall = time.perf_counter() - start
    ratings = {str(r["path"]): float(r["rating"]) for r in read_records(out) if r.get("status") == "ok"}
    prompts, images, calls = (a - b for a, b in zip(meter.snapshot(), before))
    row = Row("rating", tag, None, tally.statuses["ok"], tally.done, len(ratings), None, 1.0, prompts, images, calls,
              wall)
    return row, ratings


def run_pairs(paths: list[str], work: Path, settings_kw: dict, meter: Meter, *, ask: str, budget: str,
              template: str) -> tuple[Row, dict[str, float], dict[str, float]]:
    """(b) at one budget, from an empty verdict file: `qassess pairs IMAGES --budget B` (run_images), or
    for budget "all" `qassess pairs pairs.csv` (run_table) then `qassess rank` (read_verdicts, fit).
    A run with no usable verdict (every answer a parse error) is a row with its parse rate and no scores."""
    from qassess.core.assessor import Settings
    from qassess.errors import UserError
    from qassess.pairwise import rank
    from qassess.pairwise.run import PairTally, run_images, run_table

    tag = f"{ask}-{budget}"
    verdicts_out, scores_out = work / f"{tag}.verdicts.jsonl", work / f"{tag}.scores.csv"
    options = dict(ask=ask, template=template, both_orders=True, resume=False, retry_errors=False, log=_quiet)
    before = meter.snapshot()
    start = time.perf_counter()
    ranking, note = None, ""
    try:
        if budget == "all":
            table = work / f"{tag}.pairs.csv"
            with table.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["a", "b"])
                writer.writerows((a, b) for i, a in enumerate(paths) for b in paths[i + 1:])
            run_table(str(table), verdicts_out, Settings(**settings_kw), **options)
            verdicts, _ = rank.read_verdicts(verdicts_out)
            ranking = rank.fit(verdicts, items=[p for p in paths if p in {x for v in verdicts for x in (v.a, v.b)}])
        else:
            _, ranking = run_images(paths, scores_out, verdicts_out, Settings(**settings_kw), anchors=None,
                                    anchor_scores=None, budget=budget, seed=0, model="bradley-terry",
                                    prior=rank.DEFAULT_PRIOR, level=0.95, **options)
    except UserError as exc:  # e.g. "no usable verdicts to rank": the row says so
        note = str(exc)
    wall = time.perf_counter() - start
    prompts, images, calls = (a - b for a, b in zip(meter.snapshot(), before))
    rows = [json.loads(line) for line in verdicts_out.read_text().splitlines() if line.strip()] \
        if verdicts_out.is_file() else []
    tally = PairTally()
    tally.add(rows)
    # the scores as `pairs` writes them (rounded): the solver's raw floats split tied ratings by ~1e-10,
    # which Spearman would read as distinct ranks
    scores = {r["id"]: r["score"] for r in ranking.rows()} if ranking is not None else {}
    if rows and tally.statuses["ok"] < len(rows):
        errors = [r.get("error") or r["status"] for r in rows if r["status"] != "ok"]
        note = "; ".join(x for x in (note, f"e.g. {errors[0][:90]}") if x)
    both = tally.both if ask == "pair" else None
    row = Row(ask, budget, len(rows), tally.statuses["ok"], len(rows), len(scores), None, None, prompts, images,
              calls, wall, tally.flips if both is not None else None, both, note)
    return row, scores, rated_alone(rows)


def rated_alone(rows: list[dict]) -> dict[str, float]:
    """`--ask ratings` verdict rows -> the rating each image got there (to check it against (a)'s)."""
    out = {}
    for r in rows:
        for side in ("a", "b"):
            if r.get(f"rating_{side}") is not None:
                out[str(r[side])] = float(r[f"rating_{side}"])
    return out


# -- the table -----------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _times(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base else "n/a"


def markdown(rows: list[Row], n: int) -> str:
    """The result table: row 1 is the absolute rating (a), whose wall time and prompts are the 1.00x."""
    base = rows[0]
    head = ["method", "budget", "pairs", "parsed", "images scored", "SRCC vs labels", "SRCC vs rating",
            "prompts (images)", "x rating", "backend calls", "wall s", "x rating", "position bias"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    notes = []
    for r in rows:
        if r.both is None:
            bias = "-" if r.method == "rating" else "none (each image rated alone)"
        elif r.both == 0:
            bias = "n/a (no pair parsed in both orders)"
        else:
            bias = f"{r.flips}/{r.both} ({r.flips / r.both:.0%})"
        parsed = f"{r.ok}/{r.asked} ({r.ok / r.asked:.0%})" if r.asked else "0/0"
        label = ("absolute rating (`score`)" if r is base else "the same, run again last" if r.method == "rating"
                 else f"`pairs --ask {r.method}`")
        cells = [label, "-" if r.method == "rating" else r.budget, "-" if r.pairs is None else str(r.pairs), parsed, f"{r.scored}/{n}",
                 _f(r.srcc_labels), "1 (itself)" if r is base else _f(r.srcc_rating),
                 f"{r.prompts} ({r.images})", _times(r.prompts, base.prompts), str(r.calls), f"{r.wall:.1f}",
                 _times(r.wall, base.wall), bias]
        lines.append("| " + " | ".join(cells) + " |")
        if r.note:
            notes.append(f"- {label}{'' if r.method == 'rating' else ' ' + r.budget}: {r.note}")
    return "\n".join(lines + ([""] + notes if notes else []))


def budgets_for(n: int, budgets: list[str], all_max: int) -> list[str]:
    """The budgets to run for n images: distinct pair counts only (a budget above n(n-1)/2 is capped to
    it), and "all" when n <= all_max and no budget already asks every pair."""
    from qassess.pairwise.design import parse_budget

    total = n * (n - 1) // 2
    out, counts = [], set()
    for b in budgets:
        count = parse_budget(b, n)
        if count not in counts and count < total:
            out.append(b)
            counts.add(count)
    if n <= all_max or any(parse_budget(b, n) >= total for b in budgets):
        out.append("all")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER),
                    help="a folder with labels.csv (columns image, mos; image paths relative to the folder)")
    ap.add_argument("--limit", type=int, default=None, help="use the first N rows of labels.csv")
    ap.add_argument("--model", default=None, help="default: the embedded default model")
    ap.add_argument("--backend", default="transformers")
    ap.add_argument("--budgets", default="1n,2n,4n,8n", help="comma-separated, as `pairs --budget` takes them")
    ap.add_argument("--all-max", type=int, default=20, help="also ask all pairs when n is at most this")
    ap.add_argument("--asks", default="ratings,pair", help="ratings, pair or both (comma-separated)")
    ap.add_argument("--min-parse", type=float, default=0.5,
                    help="--ask pair runs the larger budgets only when this share of its first budget's verdicts parsed")
    ap.add_argument("--pair-template", default="paper-pair")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--max-pixels", type=int, default=None)
    ap.add_argument("--samples", type=int, default=1,
                    help="ratings per image (with --temperature > 0): graded P(a better) for --ask ratings")
    ap.add_argument("--temperature", type=float, default=None, help="default: the model preset's")
    args = ap.parse_args(argv)

    from qassess.errors import UserError
    from qassess.models import DEFAULT_ID
    from qassess.pairwise.design import parse_budget

    meter = Meter()
    try:
        if args.limit is not None and args.limit < 3:
            raise UserError("--limit must be at least 3 (SRCC needs three images)")
        if not 0 <= args.min_parse <= 1:
            raise UserError("--min-parse must be between 0 and 1")
        asks = [a.strip() for a in args.asks.split(",") if a.strip()]
        if not asks or set(asks) - {"ratings", "pair"}:
            raise UserError(f"--asks takes ratings and/or pair, not {args.asks!r}")
        budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
        if not budgets:
            raise UserError("--budgets is empty")
        folder = Path(args.folder)
        labelled = read_labels(folder, args.limit)
        for b in budgets:
            parse_budget(b, len(labelled))  # a bad budget fails here, before the model loads
        paths, truth = [p for p, _ in labelled], dict(labelled)
        n = len(paths)
        settings_kw = dict(model=args.model or DEFAULT_ID, backend=args.backend, batch_size=args.batch_size,
                           max_new_tokens=args.max_new_tokens, max_pixels=args.max_pixels, samples=args.samples,
                           temperature=args.temperature)
        from qassess.core.assessor import Assessor, Settings

        used = Settings(**settings_kw)  # bad options fail before anything runs
        meter.install()
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for p in paths:  # every run then reads the files from the page cache, (a) as well as the last
                Path(p).read_bytes()
            with Assessor(Settings(**settings_kw)) as warm:  # load the model and pay first-call costs untimed,
                warm.backend(len(paths))  # on a full batch (its batch size is known once the backend is)
                list(warm.score(paths[:warm.batch_size]))
            print(f"model loaded in {meter.load_seconds:.1f} s (outside every timed run)", file=sys.stderr)
            base, ratings = run_absolute(paths, work, settings_kw, meter)
            base.srcc_labels = srcc_on(ratings, truth)
            rows = [base]
            print(f"rating: {base.wall:.1f} s", file=sys.stderr)
            for ask in asks:
                for k, budget in enumerate(budgets_for(n, budgets, args.all_max)):
                    row, scores, alone = run_pairs(paths, work, settings_kw, meter, ask=ask, budget=budget,
                                                   template=args.pair_template)
                    row.srcc_labels, row.srcc_rating = srcc_on(scores, truth), srcc_on(scores, ratings)
                    if alone:
                        same = sum(alone[p] == ratings.get(p) for p in alone)
                        row.note = (f"{row.note}; " if row.note else "") + (
                            f"its ratings equal (a)'s on {same} of {len(alone)} images")
                    rows.append(row)
                    print(f"{ask} {budget}: {row.wall:.1f} s, {row.ok}/{row.asked} parsed", file=sys.stderr)
                    if ask == "pair" and k == 0 and row.ok < args.min_parse * max(row.asked, 1):
                        row.note = (f"{row.note}; " if row.note else "") + (
                            f"larger budgets not run: under {args.min_parse:.0%} of the verdicts parsed")
                        break
            again, second = run_absolute(paths, work, settings_kw, meter, tag="again")
            again.srcc_labels, again.srcc_rating = srcc_on(second, truth), srcc_on(second, ratings)
            again.note = f"its ratings equal (a)'s on {sum(second[p] == ratings.get(p) for p in second)} of {len(second)} images"
            rows.append(again)
            print(f"rating again: {again.wall:.1f} s", file=sys.stderr)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        meter.uninstall()
    model = args.model or f"{DEFAULT_ID} (default)"
    print(f"{folder}: {n} images{f' (first {args.limit} rows of labels.csv)' if args.limit else ''}; model {model}, "
          f"backend {args.backend}; budgets {', '.join(budgets_for(n, budgets, args.all_max))}; pair template "
          f"{args.pair_template}; samples {used.samples}, temperature {used.temperature:g}, max new tokens "
          f"{used.max_new_tokens}\n")
    print(markdown(rows, n))
    print("\n(x rating: multiples of the absolute rating's prompts and wall time; the model was loaded once, "
          f"before every run, in {meter.load_seconds:.1f} s; position bias: pairs whose two orders pick "
          "different winners, of those parsed in both; `--ask ratings` rates each image alone, once per run, "
          "so it has no order)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
