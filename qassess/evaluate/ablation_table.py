"""The ablation table as the paper lays it out, in Markdown, with a CSV, a JSON and a plot beside it.

One Markdown file holds several tables (the ablation arms, the reasoning-weight sweep), each between
its own markers, so regenerating one leaves the others and any hand-written discussion around them
untouched:

    <!-- begin qassess ablation: NAME -->  ...  <!-- end qassess ablation: NAME -->

NAME is the sweep file's stem. Beside TABLE.md: TABLE.NAME.csv (one line per run), TABLE.NAME.json
(everything measured, with the settings) and TABLE.NAME.png (image SRCC against ROUGE-1 and against
attribute agreement, the Pareto front joined) when matplotlib is installed (the `plot` extra).
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from qassess.errors import UserError

COLUMNS = (("image_plcc", "image PLCC"), ("image_srcc", "image SRCC"), ("caption_plcc", "caption-only PLCC"),
           ("caption_srcc", "caption-only SRCC"), ("rouge1", "ROUGE-1 F1"), ("attributes", "attribute agreement"))
TITLE = "# Ablations of the GRPO rewards\n"


def write_outputs(result: dict[str, Any], table: Path) -> list[Path]:
    """Write (or replace) this sweep's section of `table` and its CSV/JSON/PNG; returns the paths written."""
    table = Path(table)
    name = result["section"]
    stem = table.with_suffix("")
    paths = {"csv": Path(f"{stem}.{name}.csv"), "json": Path(f"{stem}.{name}.json"), "png": Path(f"{stem}.{name}.png")}
    try:
        table.parent.mkdir(parents=True, exist_ok=True)
        plotted = _plot(result, paths["png"])
        section = markdown(result, plot=paths["png"].name if plotted else None,
                           files=(paths["csv"].name, paths["json"].name))
        old = table.read_text(encoding="utf-8") if table.is_file() else TITLE
        table.write_text(replace_section(old, name, section), encoding="utf-8")
        paths["json"].write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        _write_csv(result, paths["csv"])
    except OSError as exc:
        raise UserError(f"cannot write the ablation table {table}: {exc.strerror or exc}") from None
    return [table, paths["csv"], paths["json"]] + ([paths["png"]] if plotted else [])


def replace_section(text: str, name: str, section: str) -> str:
    """`text` with the block between NAME's markers replaced by `section` (appended when absent)."""
    begin, end = f"<!-- begin qassess ablation: {name} -->", f"<!-- end qassess ablation: {name} -->"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def markdown(result: dict[str, Any], plot: str | None = None, files: tuple[str, str] = ("", "")) -> str:
    """The section: what was run and measured, the table, the differences, the front."""
    rows = result["rows"]
    steps = ", ".join(str(s) for s in result["max_steps"])
    lines = [f"## {result['section']}", "",
             f"`qassess train {result['recipe']} --sweep {result['sweep']}"
             + (f" {' '.join(result['overrides'])}" if result["overrides"] else "") + " --evaluate ...`, written "
             f"{result['date']}. Every run starts from `{result['warm_start']}` with seed "
             f"{', '.join(map(str, result['seeds']))} and max_steps {steps}. Held-out: {result['data']}, scored "
             "greedily with the caption-only self-check (`qassess score --self-check --temperature 0`) and measured "
             f"by `qassess compare --refs --semantic`. Brackets: 95% percentile bootstrap intervals over the images "
             f"({result['bootstrap']} resamples). ROUGE-1 F1: caption + reasoning against the human text; attribute "
             "agreement: (matched - contradicted) / human verdicts per image, averaged; step time: median seconds "
             "per GRPO step [interquartile range] from train_log.jsonl. Front: not dominated on image SRCC and that "
             "column by another run of this table.", ""]
    head = ["run", "rewards", "steps", *(label for _, label in COLUMNS), "step time (s)", "front: ROUGE-1",
            "front: attributes"]
    lines += [_line(head), _line(["---"] * len(head))]
    for r in rows:
        m = r["measures"]
        front = r.get("front") or {}
        lines.append(_line([r["run"], _rewards(r), str(r["steps"]), *(_cell(m.get(k)) for k, _ in COLUMNS),
                            _time(r["step_time"]), _yes(front.get("rouge1")), _yes(front.get("attributes"))]))
    lines += ["", f"Difference from the {result['reference']} (new - reference on the images both rated, paired "
              "bootstrap 95% intervals; **bold**: the interval excludes 0):", ""]
    head = ["run", *(label for _, label in COLUMNS)]
    lines += [_line(head), _line(["---"] * len(head))]
    for r in rows:
        if r["run"] != result["reference"]:
            lines.append(_line([r["run"], *(_difference((r["differences"] or {}).get(k)) for k, _ in COLUMNS)]))
    notes = [f"{r['run']}: {n}" for r in rows for n in r["measures"]["notes"]]
    notes += [f"{r['run']}: parsed {r['measures']['parsed']['ok']}/{r['measures']['parsed']['matched']} held-out "
              "images" for r in rows if r["measures"]["parsed"]["ok"] < r["measures"]["parsed"]["matched"]]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    if plot:
        lines += ["", f"![image SRCC against ROUGE-1 and attribute agreement]({plot})"]
    lines += ["", f"Every number, with n per measure: [{files[1]}]({files[1]}), [{files[0]}]({files[0]})."]
    return "\n".join(lines) + "\n"


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def _cell(m: dict[str, Any] | None) -> str:
    if m is None:
        return "n/a"
    ci = m.get("ci") or [None, None]
    if None in ci:
        return f"{m['value']:.3f}"
    return f"{m['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _difference(m: dict[str, Any] | None) -> str:
    if m is None or m["value"] is None:
        return "n/a"
    lo, hi = m["ci"]
    text = f"{m['value']:+.3f} [{lo:+.3f}, {hi:+.3f}]" if lo is not None else f"{m['value']:+.3f}"
    return f"**{text}**" if lo is not None and (lo > 0 or hi < 0) else text


def _time(t: dict[str, Any] | None) -> str:
    return "n/a" if t is None else f"{t['median']:.1f} [{t['iqr'][0]:.1f}, {t['iqr'][1]:.1f}]"


def _yes(on: bool | None) -> str:
    return "n/a" if on is None else ("yes" if on else "no")


def _rewards(row: dict[str, Any]) -> str:
    """`format 1 + prediction 1 + ...`, a mode and a prompt other than the paper's named."""
    if row["rewards"] is None:
        return "(warm start, no GRPO)"
    parts = [f"{r['name']} {r['weight']:g}" + (f" ({r['mode']})" if r.get("mode") else "") for r in row["rewards"]]
    return " + ".join(parts) + (f"; {row['template']} prompt" if row.get("template") not in (None, "paper") else "")


def _write_csv(result: dict[str, Any], path: Path) -> None:
    fields = ["run", "steps", "rewards"]
    for key, _ in COLUMNS:
        fields += [key, f"{key}_low", f"{key}_high", f"{key}_n"]
    for key, _ in COLUMNS:
        fields += [f"diff_{key}", f"diff_{key}_low", f"diff_{key}_high"]
    fields += ["parsed", "matched", "step_time_median", "step_time_q1", "step_time_q3", "front_rouge1",
               "front_attributes", "model"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in result["rows"]:
            out: dict[str, Any] = {"run": r["run"], "steps": r["steps"], "rewards": _rewards(r), "model": r["model"],
                                   "parsed": r["measures"]["parsed"]["ok"], "matched": r["measures"]["parsed"]["matched"]}
            for key, _ in COLUMNS:
                m = r["measures"].get(key)
                if m is not None:
                    out.update({key: m["value"], f"{key}_low": (m["ci"] or [None])[0],
                                f"{key}_high": (m["ci"] or [None, None])[1], f"{key}_n": m["n"]})
                d = (r["differences"] or {}).get(key)
                if d is not None:
                    out.update({f"diff_{key}": d["value"], f"diff_{key}_low": d["ci"][0], f"diff_{key}_high": d["ci"][1]})
            if r["step_time"]:
                out.update(step_time_median=r["step_time"]["median"], step_time_q1=r["step_time"]["iqr"][0],
                           step_time_q3=r["step_time"]["iqr"][1])
            front = r.get("front") or {}
            out.update(front_rouge1=front.get("rouge1"), front_attributes=front.get("attributes"))
            writer.writerow(out)


def _plot(result: dict[str, Any], path: Path) -> bool:
    """Image SRCC (y) against ROUGE-1 and attribute agreement (x), intervals as error bars, the front
    joined by a line, the warm start in grey. False when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (axis, label) in zip(axes, (("rouge1", "ROUGE-1 F1"), ("attributes", "attribute agreement"))):
        front = []
        for r in result["rows"]:
            x, y = r["measures"].get(axis), r["measures"].get("image_srcc")
            if x is None or y is None:
                continue
            warm = r.get("front") is None
            color = "grey" if warm else ("tab:red" if r["front"].get(axis) else "tab:blue")
            ax.errorbar(x["value"], y["value"], xerr=_err(x), yerr=_err(y), fmt="o", color=color, capsize=3)
            ax.annotate(r["run"], (x["value"], y["value"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
            if not warm and r["front"].get(axis):
                front.append((x["value"], y["value"]))
        if len(front) > 1:
            xs, ys = zip(*sorted(front))
            ax.plot(xs, ys, color="tab:red", lw=1, label="Pareto front")
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel(f"held-out {label}")
        ax.set_ylabel("held-out image SRCC")
    fig.suptitle(f"{result['section']}: {result['data']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _err(m: dict[str, Any]) -> list[list[float]] | None:
    ci = m.get("ci")
    if not ci or None in ci:
        return None
    return [[max(0.0, m["value"] - ci[0])], [max(0.0, ci[1] - m["value"])]]
