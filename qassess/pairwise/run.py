"""`qassess pairs` as the CLI runs it: pairs from a table, or designed over folders of images (anchors or a
budget); verdict rows appended per batch and skipped on a rerun (resumable like `score`); scores from
the verdicts with `rank`."""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from qassess import models
from qassess.core.assessor import Settings
from qassess.errors import UserError
from qassess.io.results import open_results
from qassess.pairwise import design, rank
from qassess.pairwise.judge import SETUP, VERDICT_FIELDS, PairJudge, pair_key


@dataclass
class PairTally:
    statuses: Counter = field(default_factory=Counter)
    flips: int = 0
    both: int = 0  # ok rows asked in both orders

    def add(self, rows: list[dict]) -> None:
        for r in rows:
            self.statuses[r["status"]] += 1
            if r["status"] == "ok" and r.get("position_flip") is not None:
                self.both += 1
                self.flips += int(r["position_flip"])

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "nothing to do"
        bias = f"; the two orders disagree on {self.flips} of {self.both} ({self.flips / self.both:.1%})" if self.both else ""
        return f"{sum(self.statuses.values())} pairs judged ({counts}){bias}"


def read_pairs(source: str | Path) -> list[tuple[str, ...]]:
    """Pairs from a table with columns a and b, and ref for templates that compare against a reference
    (paths relative to the table's folder)."""
    from qassess.io.tables import read_table

    table = read_table(source, raw=True)
    cols = set(map(str, table.frame.columns))
    if not {"a", "b"} <= cols:
        raise UserError(f"{source}: a pairs table needs columns a and b (has: {', '.join(sorted(cols))})")
    root = Path(source).parent
    names = ["a", "b", "ref"] if "ref" in cols else ["a", "b"]
    pairs = []
    for row in table.frame.to_dict("records"):
        if any(row[c] is None or str(row[c]).strip() in ("", "nan") for c in names):
            raise UserError(f"{source}: a pair has an empty {' or '.join(names)} cell")
        paths = tuple(str(x if Path(x).is_absolute() else root / x) for x in (str(row[c]) for c in names))
        if paths[0] == paths[1]:
            raise UserError(f"{source}: a pair compares {paths[0]} with itself")
        pairs.append(paths)
    if not pairs:
        raise UserError(f"{source}: no pairs")
    return pairs


class PairRun:
    """One verdict file: what it holds, and judging more pairs into it."""

    def __init__(self, output: Path | None, settings: Settings, *, ask: str, template: str, both_orders: bool,
                 resume: bool, retry_errors: bool, log=None):
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.settings, self.output = settings, output
        self.writer, self.rows = open_results(output, resume=resume, drop_errors=retry_errors,
                                              drop_statuses=("generation_error",), fields=VERDICT_FIELDS)
        self.judge = PairJudge(settings, ask=ask, template=template, both_orders=both_orders)
        want = {"ask": ask, "model": models.model_id(settings.model), "template": self.judge.template_name}
        for row in self.rows[:1] + self.rows[-1:]:
            for key in SETUP:
                if row.get(key) not in (None, "") and str(row[key]) != str(want[key]):
                    raise UserError(f"{output} holds verdicts with {key}={row[key]!r}, not {want[key]!r}: "
                                    "use --overwrite or another -o")
        self.tally = PairTally()
        self.tally.add([r for r in self.rows])
        self._noted = False

    def done(self) -> set[str]:
        return {str(r["id"]) for r in self.rows}

    def ask(self, pairs: Sequence[tuple[str, str]], limit: int | None = None) -> None:
        done = self.done()
        todo = [p for p in pairs if pair_key(*p) not in done]
        if len(todo) < len(pairs):
            self.log(f"resuming {self.output}: {len(pairs) - len(todo)} of {len(pairs)} pairs already judged")
        todo = todo[:limit] if limit else todo
        if not todo:
            return
        if models.is_default(self.settings.model) and not self._noted:
            self.log(models.NOTICE)
            self._noted = True
        for rows in self.judge.judge(todo):
            self.writer.write(rows)
            self.rows += rows
            self.tally.add(rows)
            self.log(f"[{sum(self.tally.statuses.values())}] pairs judged, {self.tally.statuses['ok']} ok")
            if rows and all("rating" in (r.get("error") or "") and r["status"] == "parse_error" for r in rows):
                self.log("note: the model answers with ratings, not verdicts (it was not trained to compare "
                         "two images); --ask ratings compares its ratings of each image instead")

    def verdicts(self) -> list[rank.Verdict]:
        return [rank.Verdict(str(r["a"]), str(r["b"]), float(r["p_a"])) for r in self.rows
                if r.get("status") == "ok" and r.get("p_a") not in (None, "")]

    def close(self) -> None:
        self.writer.close()
        self.judge.close()


def run_table(pairs_table: str, output: Path | None, settings: Settings, *, limit: int | None = None,
              **options) -> PairTally:
    pairs = read_pairs(pairs_table)
    run = PairRun(output, settings, **options)
    try:
        run.ask(pairs, limit)
        return run.tally
    finally:
        run.close()


def run_images(inputs: Sequence[str], scores_out: Path, verdicts_out: Path, settings: Settings, *,
               anchors: int | None, anchor_scores: str | None, budget: str | None, seed: int,
               model: str, prior: float, level: float, **options) -> tuple[PairTally, rank.Ranking]:
    from qassess.io.sources import discover_items

    items = [str(it.path) for it in discover_items(list(inputs))]
    if len(items) < 2:
        raise UserError("pairs need at least two images")
    known = read_anchor_scores(anchor_scores) if anchor_scores else None
    if known is not None and not anchors:
        raise UserError("--anchor-scores needs --anchors K (how many of them to use)")
    if anchors and budget:
        raise UserError("choose --anchors or --budget, not both")
    run = PairRun(verdicts_out, settings, **options)
    try:
        fixed = None
        if anchors:
            if known is not None:
                chosen = _spread_by_score(known, anchors)
                fixed = {a: known[a] for a in chosen}
            else:
                chosen = design.spread_anchors(items, anchors, seed)
            run.ask(design.anchor_pairs(items, chosen))
        else:
            total = design.parse_budget(budget or "4n", len(items))
            run.ask(design.first_round(items, seed))
            while len(run.rows) < total:
                current = rank.fit(run.verdicts(), model=model, prior=prior, items=items)
                asked = {frozenset((str(r["a"]), str(r["b"]))) for r in run.rows}
                more = design.next_round(dict(zip(current.ids, current.latent)), dict(zip(current.ids, current.se)),
                                         asked, min(len(items) // 2, total - len(run.rows)))
                if not more:
                    break
                run.ask(more)
        ranking = rank.fit(run.verdicts(), model=model, prior=prior, anchors=fixed, level=level,
                           items=[x for x in items if x in {v for p in run.verdicts() for v in (p.a, p.b)}])
        write_scores(ranking, scores_out)
        return run.tally, ranking
    finally:
        run.close()


def read_anchor_scores(source: str, *, paths: bool = True) -> dict[str, float]:
    """Anchor images and their known scores: a table with an image (or path, or id) column and a score (or
    mos) column; with `paths`, relative paths are taken from the table's folder (as `pairs` asks them)."""
    from qassess.io.tables import read_table

    frame = read_table(source).frame
    image = next((c for c in ("image", "path", "id") if c in frame.columns), None)
    score = next((c for c in ("score", "mos") if c in frame.columns), None)
    if image is None or score is None:
        raise UserError(f"{source}: anchor scores need an image (or path) column and a score (or mos) column")
    root = Path(source).parent
    def name(p) -> str:
        return str(p) if not paths or Path(str(p)).is_absolute() else str(root / str(p))

    return {name(p): float(s) for p, s in zip(frame[image], frame[score])}


def _spread_by_score(known: dict[str, float], k: int) -> list[str]:
    if not 2 <= k <= len(known):
        raise UserError(f"--anchors must be between 2 and the {len(known)} anchors of --anchor-scores")
    order = sorted(known, key=known.get)
    return [order[round(i * (len(order) - 1) / (k - 1))] for i in range(k)]


def write_scores(ranking: rank.Ranking, output: Path | None) -> None:
    import pandas as pd

    frame = pd.DataFrame(ranking.rows())
    if output is None or str(output) == "-":
        frame.to_json(sys.stdout, orient="records", lines=True)
        return
    suffix = Path(output).suffix.lower()
    if suffix == ".csv":
        frame.to_csv(output, index=False)
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(output, orient="records", lines=True)
    else:
        raise UserError(f"cannot tell the format of {output}: use a .csv or .jsonl file name")
