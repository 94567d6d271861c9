"""The report on the terminal (rich), as Markdown, CSV, a per-row table and a scatter plot."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate import metrics
from qassess.evaluate.compare.result import Report
from qassess.errors import UserError


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _lines(report: Report) -> list[tuple[str, dict[str, Any]]]:
    """(label, metrics) per table line: each group, then the average and pooled rows when there are several."""
    out = list(report.groups.items())
    if len(report.groups) > 1:
        out.append(("average", report.average or {}))
        out.append(("pooled", report.overall))
    elif not report.groups and report.overall:
        out.append(("overall", report.overall))
    return out


def _failed(m: dict[str, Any]) -> int | None:
    rows = m.get("rows")
    return sum(rows["failed"].values()) if rows else None


def sections(report: Report) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, headers, rows) of the tables shown on the terminal and in Markdown: the scores, then
    bootstrap intervals, caption-only (self-check) ratings and ROUGE-1 when present."""
    lines = _lines(report)
    if report.settings.get("kind") == "2afc":
        return [("2AFC agreement with human choices", ["group", "n", "failed", "accuracy", "95% interval",
                                                        "position flips", "asked twice"],
                 [[label, m.get("n"), _failed(m), m.get("accuracy"), _interval([m.get("ci_low"), m.get("ci_high")]),
                   m.get("position_flip_rate"), m.get("position_flip_n")] for label, m in lines])]
    out = []
    if report.groups:
        fitted = report.settings["fit"] != "none"
        heads = ["group", "n", "failed", "PLCC", "SRCC", "KRCC", "RMSE", "MAE"] + (["PLCC raw"] if fitted else [])
        rows = [[label, m.get("n"), _failed(m), *(m.get(k) for k in ("plcc", "srcc", "krcc", "rmse", "mae"))]
                + ([m.get("plcc_raw")] if fitted else []) for label, m in lines]
        out.append(("Scores", heads, rows))
    with_ci = [(label, m) for label, m in lines if m.get("ci")]
    if with_ci:
        out.append(("95% bootstrap intervals", ["group", "PLCC", "SRCC"],
                    [[label, _interval(m["ci"]["plcc"]), _interval(m["ci"]["srcc"])] for label, m in with_ci]))
    with_ex = [(label, m) for label, m in lines if m.get("expected")]
    if with_ex:
        rows = [[label, e.get("n"), e.get("missing"), e.get("plcc"), e.get("srcc"), e.get("krcc"),
                 e["stated_on_same_rows"].get("plcc"), e["stated_on_same_rows"].get("srcc")]
                for label, e in ((label, m["expected"]) for label, m in with_ex)]
        out.append(("Expected rating (rating_expected, from the rating tokens' probabilities) beside the stated one",
                    ["group", "n", "missing", "PLCC", "SRCC", "KRCC", "stated PLCC", "stated SRCC"], rows))
    with_sc = [(label, m) for label, m in lines if m.get("self_check")]
    if with_sc:
        rows = []
        for label, m in with_sc:
            sc, cons = m["self_check"], m.get("consistency") or {}
            rows.append([label, sc.get("n"), sc.get("missing"), sc.get("plcc"), sc.get("srcc"), cons.get("plcc"),
                         cons.get("srcc"), cons.get("mean_abs_gap")])
        out.append(("Caption-only rating (self-check) and its consistency with the image rating",
                    ["group", "n", "missing", "PLCC", "SRCC", "image~caption PLCC", "SRCC", "mean abs gap"], rows))
    with_rouge = [(label, m) for label, m in lines if m.get("rouge1")]
    if with_rouge:
        out.append(("ROUGE-1 of caption + reasoning against the references",
                    ["group", "n", "precision", "recall", "F1"],
                    [[label, r["n"], r["precision"], r["recall"], r["f1"]]
                     for label, r in ((label, m["rouge1"]) for label, m in with_rouge)]))
    with_meaning = [(label, m) for label, m in lines if m.get("semantic")]
    if with_meaning:
        out.append(("Meaning: embedding similarity and quality-attribute agreement with the references",
                    ["group", "n", "similarity", "sent. recall", "attr n", "attr P", "attr R", "contra."],
                    [[label, m["semantic"]["n"], *_meaning(m)] for label, m in with_meaning]))
    if report.paired and report.paired["groups"]:
        out.append(("New - baseline on the same images (paired bootstrap)",
                    ["group", "metric", "n", "new", "baseline", "diff", "95% interval"], _paired_rows(report.paired)))
    return out


PAIRED_LABELS = {"plcc": "PLCC", "srcc": "SRCC", "self_check_srcc": "caption SRCC",  # the caption-only rating
                 "expected_srcc": "expected SRCC"}


def _paired_rows(paired: dict[str, Any]) -> list[list[Any]]:
    return [[label, PAIRED_LABELS[metric], d["n"], d["new"], d["baseline"], d["difference"], _interval(d["ci"])]
            for label, entry in paired["groups"].items() for metric, d in entry.items()]


def _meaning(m: dict[str, Any]) -> list[Any]:
    s, a = m.get("semantic") or {}, m.get("attributes") or {}
    return [s.get("similarity"), s.get("sentence_recall"), a.get("n"), a.get("precision"), a.get("recall"),
            a.get("contradictions")]


def _interval(ci: list[float | None]) -> str:
    return f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]" if ci and ci[0] is not None else "-"


def summary_rows(report: Report) -> list[dict[str, Any]]:
    """One flat dict per line (the --csv layout): every number of the tables, nested keys joined by _."""
    out = []
    for label, m in _lines(report):
        flat: dict[str, Any] = {"group": label}
        for key, value in m.items():
            if key in ("fit", "rows"):
                continue
            if isinstance(value, dict):
                for k2, v2 in value.items():
                    if isinstance(v2, list) and len(v2) == 2:
                        flat[f"{key}_{k2}_low"], flat[f"{key}_{k2}_high"] = v2
                    elif not isinstance(v2, (dict, list)):
                        flat[f"{key}_{k2}"] = v2
            else:
                flat[key] = value
        if m.get("rows"):
            flat["failed"] = _failed(m)
            flat["matched"] = m["rows"]["matched"]
        out.append(flat)
    return out


def notes(report: Report) -> list[str]:
    """Plain-language lines under the table: what PLCC means here, how ids matched, what was left out."""
    s = report.settings
    if s.get("kind") == "2afc":
        return _choice_notes(report)
    policy = {"exclude": "excluded (counted under 'failed')", "error": "an error",
              "worst": f"scored {s['worst_score']} (the worst)"}[s["failures"]]
    lines = [f"PLCC: {s['plcc']}" + ("; SRCC/KRCC do not depend on the mapping" if s["fit"] != "none" else "")
             + f". Failed or missing ratings are {policy}."]
    if len(report.groups) > 1:
        lines.append("average: mean of the per-group values (as papers print it); pooled: all rows together.")
    if s["lower_better"]:
        lines.append(f"Lower is better in: {', '.join(s['lower_better'])} (correlations use -ground truth).")
    for name, info in report.inputs.get("ground_truth", {}).items():
        extra = (f", {info['unmatched_gt']} without prediction" if info["unmatched_gt"] else "") + (
            f", {info['duplicate_gt_rows']} duplicated" if info["duplicate_gt_rows"] else "")
        lines.append(f"{name}: {info['source']} ({info['score_col']}), matched {info['matched']}/{info['rows']} "
                     f"by {info['match_by']}{extra}.")
    pinfo = report.inputs.get("predictions", {})
    if pinfo.get("unmatched"):
        lines.append(f"{pinfo['unmatched']} of {pinfo['rows']} predictions matched no ground truth.")
    ref = report.inputs.get("references")
    if ref:
        lines.append(f"ROUGE-1 references: {ref['source']} ({ref['text']}), {ref['with_reference']} predictions "
                     f"with a reference (matched by {ref['match_by']}); lower-cased, "
                     f"{'Porter stemming' if s['rouge'] and s['rouge']['stem'] else 'no stemming'}.")
    paired = report.paired
    if paired:
        undefined = sum(d["undefined_resamples"] for e in paired["groups"].values() for d in e.values())
        lines.append(f"new - baseline: {paired['new']} against {paired['baseline']}, on the {paired['rows_paired']} images "
                     f"rated by both files (new "
                     f"{paired['rows_new']}, baseline {paired['rows_baseline']}), the same {paired['n_resamples']} "
                     f"resamples of them for both (seed {paired['seed']}); PLCC on {paired['plcc_on']}; caption: "
                     "the caption-only (self-check) rating"
                     + (f"; {undefined} resamples with an undefined correlation left out" if undefined else "") + ".")
    if s.get("semantic"):
        model = report.inputs.get("semantic_model", {}).get("name", "?")
        lines.append(f"similarity: cosine of {model} embeddings; sentence recall: share of reference sentences "
                     f"matched at cosine >= {s['semantic']['threshold']}; attr P/R: quality-attribute verdicts "
                     "(sharpness, noise, exposure, ...) matching the human's, pooled over rows; contradictions: "
                     "attributes judged with the opposite polarity (per row in --rows).")
    return lines


def _choice_notes(report: Report) -> list[str]:
    s = report.settings
    policy = {"exclude": "excluded (counted under 'failed')", "error": "an error",
              "worst": "scored as the worse answer (agreement min(h, 1 - h))"}[s["failures"]]
    lines = [f"2AFC accuracy: mean over pairs of {s['agreement']}; 95% percentile interval from "
             f"{s['bootstrap']['n_resamples']} resamples of the pairs. Failed verdicts are {policy}.",
             "position flips: share of the verdicts asked in both orders whose two orders chose differently."]
    if len(report.groups) > 1:
        lines.append("average: mean of the per-group accuracies; pooled: all pairs together.")
    for name, info in report.inputs.get("ground_truth", {}).items():
        pooled = f", {info['pooled_gt_rows']} rows pooled into the share of their pair" if info["pooled_gt_rows"] else ""
        lines.append(f"{name}: {info['source']}, {info['matched']}/{info['pairs']} pairs matched by "
                     f"{info['match_by']} (either order){pooled}.")
    return lines


def render_table(report: Report, console: Any) -> None:
    """Rich tables on the terminal, with the notes under them."""
    from rich import box
    from rich.table import Table as RichTable

    for title, heads, rows in sections(report):
        table = RichTable(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
        for h in heads:
            table.add_column(h, justify="left" if h in ("group", "metric") else "right")
        for row in rows:
            style = "bold" if row[0] in ("average", "pooled") else None
            table.add_row(*(_fmt(v, 3) for v in row), style=style)
        console.print(table)
    for line in notes(report):
        console.print(f"[dim]{line}[/dim]", highlight=False)


def to_markdown(report: Report) -> str:
    """The tables and notes as Markdown (4 decimals), with the warnings."""
    out: list[str] = []
    for title, heads, rows in sections(report):
        out += [f"**{title}**", "", "| " + " | ".join(heads) + " |", "|" + "|".join(" --- " for _ in heads) + "|"]
        out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
        out.append("")
    out.extend(f"- {line}" for line in notes(report))
    out.extend(f"- Warning: {w}" for w in report.warnings)
    return "\n".join(out) + "\n"


def write_summary_csv(report: Report, path: str | Path) -> None:
    """--csv: one line per group (and average, pooled), nested values flattened."""
    pd.DataFrame(summary_rows(report)).to_csv(path, index=False)


def write_rows(report: Report, path: str | Path) -> None:
    """The per-row table (CSV, or JSON Lines for .jsonl): every matched row, whether it was used and why not."""
    if report.rows is None:
        raise UserError("no per-row table: nothing was matched")
    keep = [c for c in ("group", "id", "key", "a", "b", "human_p_a", "votes", "model_pick", "agreement",
                        "position_flip", "prediction", "rating", "gt", "mapped", "used", "excluded", "status",
                        "error", "self_check", "rouge1_precision", "rouge1_recall", "rouge1_f1", "semantic_similarity",
                        "semantic_sentence_recall", "semantic_sentence_soft", "attributes_score",
                        "attributes_precision", "attributes_recall", "attributes_contradictions",
                        "attributes_matched", "attributes_human_verdicts", "attributes_detail") if c in report.rows]
    frame = report.rows[keep]
    if str(path).lower().endswith((".jsonl", ".ndjson")):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False)


def plot(report: Report, path: str | Path, max_points: int = 20_000, seed: int = 0) -> None:
    """PNG scatter of prediction vs ground truth per group with the fitted curve. Without --fit a
    4-parameter logistic is fitted for display only (and labelled so). Large groups are subsampled
    for drawing (the title says how many points are shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if report.rows is None or not report.groups:
        raise UserError("--plot needs ground truth")
    if report.settings.get("kind") == "2afc":
        raise UserError("--plot draws predicted against true scores; 2AFC verdicts have none")
    names = list(report.groups)
    cols = min(3, len(names))
    nrows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 4.2 * nrows), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, name in zip(axes.flat, names):
        rows = report.rows[(report.rows["group"].to_numpy() == name) & report.rows["used"].to_numpy()]
        x, y = rows["prediction"].to_numpy(dtype=float), rows["gt"].to_numpy(dtype=float)
        shown = rng.choice(x.size, max_points, replace=False) if x.size > max_points else np.arange(x.size)
        dense = shown.size > 2000
        ax.scatter(x[shown], y[shown], s=5 if dense else 14, alpha=0.3 if dense else 0.7, linewidths=0,
                   rasterized=True)
        fit = report.fits.get(name)
        label = report.settings["fit"]
        if fit is None:
            fit, label = metrics.fit_logistic(x, y, "logistic4"), "logistic4 (display only)"
        if fit.converged:
            grid = np.linspace(x.min(), x.max(), 200)
            ax.plot(grid, fit.predict(grid), color="tab:red", lw=2, label=label)
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.02, 0.95, f"{label} fit failed", transform=ax.transAxes, va="top", fontsize=8, color="tab:red")
        m = report.groups[name]
        sub = f" ({shown.size:,} of {x.size:,} shown)" if shown.size < x.size else ""
        ax.set_title(f"{name}: PLCC {_fmt(m['plcc'], 3)}  SRCC {_fmt(m['srcc'], 3)}{sub}", fontsize=9)
        ax.set_xlabel("prediction")
        ax.set_ylabel("ground truth" + (" (lower is better)" if m.get("lower_better") else ""))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
