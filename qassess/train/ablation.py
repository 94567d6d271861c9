"""`qassess train RECIPE --sweep FILE --evaluate DATA`: train every run of a sweep, then measure each
(and the warm start they all began from) on held-out images and write the table.

The paper's ablation table and its reasoning-vs-score trade-off are claims about training; they can
only be checked when every setting got the same warm start, seed and steps, was evaluated on the same
images in the same way, and the table says so. This module is that procedure, resumable at every stage:

    1. train:   `qassess.train.sweep.run_sweep` (finished runs skipped, interrupted ones resumed)
    2. score:   each run's model (its merged folder when there is one) and the warm start rate the held-out
                images with `qassess score --self-check`, greedy, into OUTPUT_DIR/<run>/heldout-<set>.jsonl
                (OUTPUT_DIR/_warm-start/ for the warm start; <set> names the image list, so another subset
                gets its own file); a rerun finds them done and loads no model
    3. measure: `qassess compare` on each file (qassess.evaluate.ablation), paired differences against
                the reference (the warm start, or a run named by --eval-against)
    4. write:   the Markdown section, CSV, JSON and plot (qassess.evaluate.ablation_table)
"""
from __future__ import annotations

import datetime
import hashlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from qassess.errors import UserError

WARM_START = "warm start"
WARM_DIR = "_warm-start"  # run names start with a letter or digit, so no run folder can be this


@dataclass
class Evaluation:
    """How the runs are measured (the `--evaluate` options)."""

    data: Path
    table: Path = Path("docs/ablation.md")
    subset: bool = False
    limit: int | None = None
    bootstrap: int = 1000
    against: str | None = None  # a run name; None: the warm start
    semantic_model: str | None = None


def run_ablation(recipe_path: str | Path, cli_overrides: Sequence[str], sweep_path: str | Path,
                 evaluation: Evaluation, show_progress: bool = True,
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or skip) every run, score, measure, write; returns the table's data. Everything that can be
    checked without training is checked first: the held-out set, the reference run, one warm start."""
    from qassess.evaluate.ablation import held_out
    from qassess.evaluate.ablation_table import write_outputs
    from qassess.train.config import load_recipe
    from qassess.train.sweep import plan, run_sweep

    if evaluation.bootstrap < 100:
        raise UserError("--eval-bootstrap needs at least 100 resamples for a 95% interval")
    held = held_out(evaluation.data, evaluation.subset, evaluation.limit)
    root, recipes = plan(recipe_path, cli_overrides, sweep_path)
    names = [name for name, _ in recipes]
    if evaluation.against is not None and evaluation.against not in names:
        raise UserError(f"--eval-against {evaluation.against!r} is not a run of {sweep_path} ({', '.join(names)})")
    warm = {recipe.model.name_or_path for _, recipe in recipes}
    if len(warm) != 1:
        raise UserError(f"the runs of {sweep_path} start from different models ({', '.join(sorted(warm))}); "
                        "an ablation compares runs from one warm start")
    run_sweep(recipe_path, cli_overrides, sweep_path, show_progress=show_progress, say=say)

    tag = _set_tag(held)
    warm_model = warm.pop()
    base_template = load_recipe(recipe_path, cli_overrides).template  # the prompt the warm start learnt
    entries = [(WARM_START, warm_model, base_template, root / WARM_DIR, None)]
    entries += [(name, _trained_model(Path(r.training["output_dir"])), r.template, Path(r.training["output_dir"]), r)
                for name, r in recipes]
    rows = []
    for name, model, template, folder, recipe in entries:
        preds = folder / f"heldout-{tag}.jsonl"
        score_held_out(model, template, held, preds, say)
        rows.append(_row(name, model, recipe, folder, preds))
    _measure_all(rows, held, evaluation, say)
    result = {"section": Path(sweep_path).stem, "sweep": str(sweep_path), "recipe": str(recipe_path),
              "overrides": list(cli_overrides), "output_dir": str(root), "warm_start": warm_model,
              "data": held.description, "seeds": sorted({r.training.get("seed", 42) for _, r in recipes}),
              "max_steps": sorted({r.training.get("max_steps") for _, r in recipes}, key=str),
              "reference": evaluation.against or WARM_START, "bootstrap": evaluation.bootstrap,
              "date": datetime.date.today().isoformat(), "rows": rows}
    for path in write_outputs(result, evaluation.table):
        say(f"ablation: wrote {path}")
    return result


def _trained_model(out: Path) -> str:
    """The merged model when the recipe merged (no adapter to apply at every image), else the adapter."""
    from qassess.models.adapters import MERGED_DIR

    return str(out / MERGED_DIR) if (out / MERGED_DIR / "config.json").is_file() else str(out)


def _set_tag(held) -> str:
    """Eight hex digits naming the held-out image list, so a score file only ever holds one set."""
    text = "\n".join([str(held.labels.resolve())] + sorted(str(p.resolve()) for p in held.images))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def score_held_out(model: str, template: str, held, output: Path, say: Callable[[str], None]) -> None:
    """`qassess score IMAGES --model MODEL --template T --self-check --temperature 0 -o OUTPUT`: greedy, so a
    rerun writes the same text; resumable (done images are skipped, no model loads when none is left)."""
    from qassess.core.assessor import Settings
    from qassess.engines.local import run_score

    output.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings(model=model, template=template, self_check=True, temperature=0.0, seed=0)
    tally = run_score([str(p) for p in held.images], output, settings, resume=True, log=say)
    say(f"ablation: {model}: {tally.summary()}")


def _row(name: str, model: str, recipe, folder: Path, preds: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"run": name, "model": model, "predictions": str(preds)}
    if recipe is None:
        row.update(steps=0, rewards=None, template=None, step_time=None)
        return row
    from qassess.train.trainer import RUN_INFO

    info = json.loads((folder / RUN_INFO).read_text(encoding="utf-8"))
    row.update(steps=info["global_step"], template=recipe.template, step_time=step_times(folder),
               rewards=[{"name": r.label or r.name, "weight": r.weight,
                         **({"mode": r.params["mode"]} if "mode" in r.params else {})} for r in recipe.rewards])
    return row


def step_times(folder: Path) -> dict[str, Any] | None:
    """Median and quartiles of TRL's `step_time` (seconds per optimizer step: generation, rewards, update)
    from OUTPUT/train_log.jsonl, the last record of each step (a resumed run logs a step twice). The
    median, not the mean: a checkpoint save or a neighbour's job inflates single steps."""
    from qassess.train.common import LOG_FILE

    path = folder / LOG_FILE
    if not path.is_file():
        return None
    by_step: dict[int, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(record.get("step_time"), (int, float)):
            by_step[int(record["step"])] = float(record["step_time"])
    if not by_step:
        return None
    values = sorted(by_step.values())
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"median": statistics.median(values), "iqr": [q[0], q[2]], "steps": len(values),
            "total": sum(values)}


def _measure_all(rows: list[dict[str, Any]], held, evaluation: Evaluation, say: Callable[[str], None]) -> None:
    """Each row's measures, then its paired differences from the reference row."""
    from qassess.evaluate.ablation import measure, paired_differences
    from qassess.evaluate.pareto import pareto_front

    per_image = {}
    for row in rows:
        say(f"ablation: measuring {row['run']}")
        try:
            row["measures"], per_image[row["run"]] = measure(row["predictions"], held, bootstrap=evaluation.bootstrap,
                                                              semantic_model=evaluation.semantic_model)
        except UserError as exc:  # e.g. a run that stopped writing ratings: its row says so, the others stand
            say(f"ablation: {row['run']}: cannot be measured ({exc})")
            row["measures"], per_image[row["run"]] = unmeasured(Path(row["predictions"]), str(exc)), None
    reference = evaluation.against or WARM_START
    for row in rows:
        base, new = per_image[reference], per_image[row["run"]]
        row["differences"] = None if row["run"] == reference or base is None or new is None else \
            paired_differences(new, base, n=evaluation.bootstrap)
    trained = [r for r in rows if r["run"] != WARM_START]
    for axis in ("rouge1", "attributes"):
        points = [(_value(r, "image_srcc"), _value(r, axis)) for r in trained]
        for r, on in zip(trained, pareto_front(points)):
            r.setdefault("front", {})[axis] = on


def unmeasured(preds: Path, reason: str) -> dict[str, Any]:
    """The measures of a prediction file compare refused: none, the reason, and how many rows parsed."""
    from qassess.evaluate.ablation import MEASURES

    rows = [json.loads(line) for line in preds.read_text(encoding="utf-8").splitlines() if line.strip()]
    ok = sum(r.get("status") == "ok" for r in rows)
    return {**dict.fromkeys(MEASURES), "notes": [f"not measured: {reason}"],
            "parsed": {"ok": ok, "matched": len(rows), "share": ok / len(rows) if rows else None}}


def _value(row: dict[str, Any], name: str) -> float | None:
    m = row["measures"].get(name)
    return None if m is None else m["value"]
