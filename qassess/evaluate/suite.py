"""`qassess eval`: score each dataset of a suite with the resumable local run, compare each with its
preset's labels (direction applied, so agreement is a positive SRCC), and print the paper-style table.

Everything lands in one folder, so a rerun resumes and `--preds DIR` rebuilds the table without a model:

    eval.json          the suite: datasets, splits, directions, folders, label counts, the fit
    NAME.jsonl         the `qassess score` output of one dataset (+ NAME.manifest.json)
    NAME.labels.csv    the labels that dataset was compared with (image, path, mos), as read from its preset
    NAME.compare.json  `qassess compare --json` of that dataset
    table.md / .csv / .json / .tex
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from qassess.errors import UserError

SUITE_FILE = "eval.json"
TABLE_FORMATS = ("md", "csv", "json", "tex")


@dataclass
class Planned:
    """One dataset of the suite: what is scored, and against which labels."""

    name: str
    split: str
    lower_better: bool
    labels: Any  # qassess.evaluate.datasets.Labels

    def record(self) -> dict:
        s = self.labels.split
        return {"name": self.name, "title": self.labels.preset.title, "split": self.split,
                "direction": s.direction, "scale": list(s.scale), "folder": str(self.labels.folder),
                "label_files": self.labels.files, "labels": len(self.labels.frame),
                "missing_images": self.labels.missing, "expected": s.expected}


def plan(names: Sequence[str], roots: Sequence[str] | None, splits: dict[str, str] | None = None,
         user_presets: str | Path | None = None) -> list[Planned]:
    """Every dataset found and its labels read before anything is scored (a wrong root fails at once)."""
    from qassess.evaluate.datasets import find_folder, get_preset, load

    splits = dict(splits or {})
    unknown = set(splits) - set(names)
    if unknown:
        raise UserError(f"--split names dataset(s) not in --datasets: {', '.join(sorted(unknown))}")
    if len(set(names)) != len(names):
        raise UserError("--datasets names a dataset twice")
    out = []
    for name in names:
        preset = get_preset(name, user_presets)
        split = preset.split(splits.get(name)).name
        folder, _ = find_folder(preset, roots, split)
        labels = load(preset, folder, split)
        if labels.missing == len(labels.frame):
            raise UserError(f"{name}: none of its {len(labels.frame)} labelled images is under {labels.images_dir} "
                            f"(`qassess datasets check {name}` says what is there)")
        out.append(Planned(name, split, labels.split.lower_better, labels))
    return out


def run_eval(planned: list[Planned], out_dir: Path, settings, *, limit: int | None = None,
             retry_errors: bool = False, fit: str | None = None, log: Callable[[str], None] = print) -> "Table":
    """Score every planned dataset into OUT/NAME.jsonl (resumed when rerun), then build the table."""
    from qassess.engines.local import run_score

    out_dir.mkdir(parents=True, exist_ok=True)
    suite = {"datasets": [p.record() for p in planned], "model": settings.model, "limit": limit,
             "self_check": bool(settings.self_check)}
    for p in planned:
        frame = p.labels.frame[["image", "path", "mos"]]
        frame.to_csv(out_dir / f"{p.name}.labels.csv", index=False)
    (out_dir / SUITE_FILE).write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    for p in planned:
        frame = p.labels.frame
        if p.labels.missing:
            log(f"warning: {p.name}: {p.labels.missing} of {len(frame)} labelled images are missing and are not "
                f"scored (counted in the table; `qassess datasets check {p.name}` lists them)")
        inputs = frame.loc[frame["exists"], "path"].tolist()
        log(f"{p.name} ({p.labels.preset.title}, split {p.split}): {len(inputs)} images -> {out_dir / (p.name + '.jsonl')}")
        tally = run_score(inputs, out_dir / f"{p.name}.jsonl", settings, resume=True, retry_errors=retry_errors,
                          limit=limit, log=log)
        log(f"{p.name}: {tally.summary()}")
    return build_table(out_dir, fit=fit, out_dir=out_dir)


@dataclass
class Table:
    """The suite's rows (one per dataset) and the average over datasets, as the papers print them."""

    rows: list[dict]
    average: dict
    fit: str
    model: str
    warnings: list[str] = field(default_factory=list)

    def columns(self) -> list[tuple[str, str]]:
        """(key, header) of the metric columns present in any row."""
        cols = [("plcc", "PLCC"), ("srcc", "SRCC")]
        for key, label in (("expected", "expected"), ("self_check", "caption-only")):
            if any(r.get(f"{key}_srcc") is not None for r in self.rows):
                cols += [(f"{key}_plcc", f"PLCC {label}"), (f"{key}_srcc", f"SRCC {label}")]
        return cols

    def to_dict(self) -> dict:
        from qassess.evaluate.compare.result import jsonable

        return jsonable({"model": self.model, "fit": self.fit, "datasets": self.rows, "average": self.average,
                         "notes": self.notes(), "warnings": self.warnings})

    def notes(self) -> list[str]:
        lower = [r["dataset"] for r in self.rows if r["direction"] == "lower"]
        out = [f"PLCC: {'raw (no mapping)' if self.fit == 'none' else self.fit + ' fit first'}; SRCC does not depend on it.",
               "AVG: the mean of the per-dataset values (over the datasets that have one)."]
        if lower:
            out.append(f"Lower is better in {', '.join(lower)} (DMOS): correlations are computed against the negated "
                       "labels, so agreement is positive.")
        if any(r.get("unscored") for r in self.rows):
            out.append("Not every labelled image was scored in " + ", ".join(
                f"{r['dataset']} ({r['unscored']} of {r['labels']})" for r in self.rows if r.get("unscored"))
                + " (--limit, missing files or an unfinished run).")
        return out


def _cell(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def compare_one(preds: Path, labels_csv: Path, name: str, lower_better: bool, fit: str | None):
    """`qassess compare PREDS NAME=LABELS [--lower-better-for NAME] [--fit F]`, as a Report."""
    from qassess.evaluate.compare import compare

    labels = pd.read_csv(labels_csv, dtype={"image": str, "path": str})[["path", "mos"]]
    return compare(preds, {name: labels}, id_col=None, fit=fit, lower_better=[name] if lower_better else False)


def build_table(preds_dir: Path, *, fit: str | None = None, out_dir: Path | None = None) -> Table:
    """The table from a suite folder's outputs (no model needed); writes NAME.compare.json and table.* to
    `out_dir` when given."""
    suite_path = preds_dir / SUITE_FILE
    if not suite_path.is_file():
        raise UserError(f"{preds_dir} holds no {SUITE_FILE}: give the -o folder of an earlier `qassess eval` run")
    try:
        suite = json.loads(suite_path.read_text(encoding="utf-8"))
        datasets = suite["datasets"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{suite_path}: not a qassess eval record ({exc})") from None
    rows, warnings, models = [], [], set()
    for d in datasets:
        name = d["name"]
        preds = preds_dir / f"{name}.jsonl"
        row = {"dataset": name, "split": d["split"], "direction": d["direction"], "labels": d["labels"],
               "missing_images": d.get("missing_images", 0)}
        if not preds.is_file():
            rows.append({**row, "error": f"no {preds.name} (not scored yet)"})
            continue
        try:
            report = compare_one(preds, preds_dir / f"{name}.labels.csv", name, d["direction"] == "lower", fit)
        except UserError as exc:
            rows.append({**row, "error": str(exc)})
            continue
        if out_dir is not None:
            (out_dir / f"{name}.compare.json").write_text(report.to_json() + "\n", encoding="utf-8")
        models.update(report.inputs["predictions"].get("models") or [])
        g = report.groups[name]
        counts = g["rows"]
        row.update(n=g["n"], failed=sum(counts["failed"].values()), plcc=g["plcc"], srcc=g["srcc"], krcc=g["krcc"],
                   unscored=max(d["labels"] - counts["matched"], 0))
        for key in ("expected", "self_check"):
            sub = g.get(key) or {}
            row[f"{key}_plcc"], row[f"{key}_srcc"] = sub.get("plcc"), sub.get("srcc")
        warnings += [f"{name}: {w}" for w in report.warnings]
        rows.append(row)
    average: dict[str, Any] = {"dataset": "AVG", "datasets": sum("error" not in r for r in rows)}
    for key in ("plcc", "srcc", "expected_plcc", "expected_srcc", "self_check_plcc", "self_check_srcc"):
        values = [r.get(key) for r in rows if r.get(key) is not None]
        average[key] = sum(values) / len(values) if values else None
        average[f"{key}_over"] = len(values)
    table = Table(rows, average, fit or "none", ", ".join(sorted(models)) or str(suite.get("model") or "?"), warnings)
    if out_dir is not None:
        write_table(table, out_dir)
    return table


def to_markdown(table: Table) -> str:
    cols = table.columns()
    head = ["dataset", "split", "n", "failed", *(h for _, h in cols)]
    lines = [f"Model: {table.model}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.rows:
        if "error" in r:
            lines.append(f"| {r['dataset']} | {r['split']} | - | - | " + " | ".join("-" for _ in cols) + " |")
            continue
        lines.append(f"| {r['dataset']} | {r['split']} | {r['n']} | {r['failed']} | "
                     + " | ".join(_cell(r.get(k)) for k, _ in cols) + " |")
    lines.append("| **AVG** | | | | " + " | ".join(_cell(table.average.get(k)) for k, _ in cols) + " |")
    lines += ["", "Paper style (PLCC / SRCC):", "",
              "| model | " + " | ".join(r["dataset"] for r in table.rows) + " | AVG |",
              "|" + "---|" * (len(table.rows) + 2),
              f"| {table.model} | " + " | ".join(f"{_cell(r.get('plcc'))} / {_cell(r.get('srcc'))}" for r in table.rows)
              + f" | {_cell(table.average.get('plcc'))} / {_cell(table.average.get('srcc'))} |", ""]
    lines += table.notes()
    lines += [f"{r['dataset']}: no metrics: {r['error']}" for r in table.rows if "error" in r]
    return "\n".join(lines) + "\n"


def to_latex(table: Table) -> str:
    """One tabular row per model, PLCC and SRCC per dataset and the average (the papers' layout)."""
    names = [r["dataset"] for r in table.rows] + ["AVG"]
    def esc(text: str) -> str:
        return "".join("\\" + c if c in "&%$#_{}" else c for c in str(text))

    lines = ["\\begin{tabular}{l" + "cc" * len(names) + "}", "\\toprule",
             "Model & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{esc(n)}}}" for n in names) + " \\\\",
             " & " + " & ".join("PLCC & SRCC" for _ in names) + " \\\\", "\\midrule"]
    cells = [c for r in [*table.rows, table.average] for c in (_cell(r.get("plcc")), _cell(r.get("srcc")))]
    lines += [esc(table.model) + " & " + " & ".join(cells) + " \\\\", "\\bottomrule", "\\end{tabular}",
              f"% PLCC: {table.fit}; " + " ".join(table.notes()[1:])]
    return "\n".join(lines) + "\n"


def to_frame(table: Table) -> pd.DataFrame:
    keys = ["dataset", "split", "direction", "labels", "missing_images", "n", "failed", "plcc", "srcc", "krcc",
            "expected_plcc", "expected_srcc", "self_check_plcc", "self_check_srcc", "error"]
    rows = [*table.rows, {k: v for k, v in table.average.items() if not k.endswith("_over")}]
    return pd.DataFrame([{k: r.get(k) for k in keys} for r in rows], columns=keys)


def write_table(table: Table, out_dir: Path) -> dict[str, Path]:
    paths = {fmt: out_dir / f"table.{fmt}" for fmt in TABLE_FORMATS}
    try:
        paths["md"].write_text(to_markdown(table), encoding="utf-8")
        to_frame(table).to_csv(paths["csv"], index=False)
        paths["json"].write_text(json.dumps(table.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        paths["tex"].write_text(to_latex(table), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the table in {out_dir}: {exc.strerror or exc}") from None
    return paths
