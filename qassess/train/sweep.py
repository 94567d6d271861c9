"""`qassess train RECIPE --sweep SWEEP.yaml`: one recipe trained under several sets of overrides, in turn.

A trade-off (reasoning weight against prediction weight, say) is only measured when every setting gets
the same budget and all of them finish, which on a CPU takes hours and survives interruptions only if
each run can be picked up where it stopped. The sweep file names the runs; each is a mapping of the
dotted keys the command line takes (YAML values, so `rewards.reasoning.weight: 0.5`):

    equal:        {}                                  # the recipe as it is
    reasoning-2x: {rewards.reasoning.weight: 2.0}
    lr-low:       {learning_rate: 1.0e-4, lora.r: 8}
    no-reasoning: {rewards: [format, {name: prediction, params: {threshold: 0.35}}]}  # the whole list

A later key applies after an earlier one, so `rewards: [...]` followed by `rewards.format.weight: 2` works.

Run NAME trains into OUTPUT_DIR/NAME (OUTPUT_DIR: the recipe's, after the command-line overrides, which
apply to every run; a run's own overrides come last). Before training, OUTPUT_DIR/NAME/qassess_sweep.json
records the run's recipe; a rerun skips a run whose training finished (qassess_train.json) with that
recipe, resumes one that did not from its last checkpoint (as `qassess train` does), and refuses a
folder whose recorded recipe differs (its checkpoints belong to other settings). OUTPUT_DIR/sweep.json
lists every run, its folder and its state.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from qassess.errors import UserError
from qassess.train.config import Recipe, apply_overrides, parse_overrides, parse_recipe, read_raw, to_dict

MARKER = "qassess_sweep.json"
SUMMARY = "sweep.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def load_sweep(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The named runs of a sweep file, in file order (yaml.safe_load keeps it)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"sweep file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise UserError(f"sweep {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"sweep {path}: expected a mapping of run names to overrides, e.g. `equal: {{}}`")
    runs = []
    for name, overrides in raw.items():
        name = str(name)
        if not _NAME.match(name):
            raise UserError(f"sweep {path}: run name {name!r} is not a folder name (letters, digits, . _ -)")
        overrides = {} if overrides is None else overrides
        if not isinstance(overrides, dict):
            raise UserError(f"sweep {path}: run {name!r} must map dotted keys to values, got {overrides!r}")
        if any(str(k).split(".")[-1] == "output_dir" for k in overrides):
            raise UserError(f"sweep {path}: run {name!r} sets output_dir; the sweep puts each run in "
                            "OUTPUT_DIR/<name> (set OUTPUT_DIR in the recipe or with --output_dir)")
        runs.append((name, {str(k): v for k, v in overrides.items()}))
    return runs


def plan(recipe_path: str | Path, cli_overrides: Sequence[str], sweep_path: str | Path) -> tuple[Path, list[tuple[str, Recipe]]]:
    """Every run's recipe, validated before the first one trains (a typo in run five must not wait hours)."""
    from qassess.train.common import default_output_dir

    base = apply_overrides(read_raw(Path(recipe_path)), parse_overrides(cli_overrides))
    root = default_output_dir(parse_recipe(base, source=str(recipe_path)))
    recipes = []
    for name, overrides in load_sweep(sweep_path):
        try:
            raw = apply_overrides(base, list(overrides.items()), typed=True)
            if not isinstance(raw.setdefault("training", {}), dict):
                raise UserError("training must be a mapping")
            raw["training"]["output_dir"] = str(root / name)
            recipes.append((name, parse_recipe(raw, source=str(recipe_path))))
        except UserError as exc:
            raise UserError(f"sweep run {name!r}: {exc}") from None
    return root, recipes


def state(recipe: Recipe) -> str:
    """`new`, `started` (may resume) or `finished`; a folder recorded for another recipe is an error."""
    from qassess.train.trainer import RUN_INFO

    out = Path(recipe.training["output_dir"])
    marker = out / MARKER
    if not marker.is_file():
        if (out / RUN_INFO).is_file():
            raise UserError(f"{out} holds a finished training that is not this sweep's; move it or choose "
                            "another --output_dir")
        return "new"
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))["recipe"]
    except (ValueError, KeyError, OSError):
        raise UserError(f"{marker} is not readable; delete {out} to train that run again") from None
    changed = _differences(recorded, _plain(recipe))
    if changed:
        raise UserError(f"{out} was trained with another recipe ({', '.join(changed[:3])}); delete it to "
                        "train that run again, or give the new settings a new run name")
    return "finished" if (out / RUN_INFO).is_file() else "started"


def run_sweep(recipe_path: str | Path, cli_overrides: Sequence[str], sweep_path: str | Path,
              show_progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Train each run of the sweep in turn (skipping finished ones); returns OUTPUT_DIR."""
    from qassess.train.trainer import RUN_INFO, train

    root, recipes = plan(recipe_path, cli_overrides, sweep_path)
    states = {name: state(recipe) for name, recipe in recipes}  # every folder checked before any training
    for i, (name, recipe) in enumerate(recipes, 1):
        out = Path(recipe.training["output_dir"])
        if states[name] == "finished":
            say(f"sweep {i}/{len(recipes)} {name}: finished in {out}, skipped")
            continue
        say(f"sweep {i}/{len(recipes)} {name}: " + ("resuming" if states[name] == "started" else "training")
            + f" into {out}")
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text(json.dumps({"run": name, "recipe": _plain(recipe)}, indent=1) + "\n",
                                  encoding="utf-8")
        train(recipe, show_progress=show_progress, say=say)
        states[name] = "finished"
        _write_summary(root, recipes, RUN_INFO)
    _write_summary(root, recipes, RUN_INFO)
    say(f"sweep: {len(recipes)} runs finished in {root} (listed in {root / SUMMARY})")
    return root


def _write_summary(root: Path, recipes: list[tuple[str, Recipe]], run_info: str) -> None:
    rows = []
    for name, recipe in recipes:
        out = Path(recipe.training["output_dir"])
        info = json.loads((out / run_info).read_text(encoding="utf-8")) if (out / run_info).is_file() else None
        rows.append({"run": name, "output_dir": str(out), "finished": info is not None,
                     "global_step": info["global_step"] if info else None,
                     "reward_weights": {r.label or r.name: r.weight for r in recipe.rewards}})
    root.mkdir(parents=True, exist_ok=True)
    (root / SUMMARY).write_text(json.dumps({"runs": rows}, indent=1) + "\n", encoding="utf-8")


def _plain(recipe: Recipe) -> dict[str, Any]:
    return json.loads(json.dumps(to_dict(recipe), default=str))


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ, as `key: old -> new`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{prefix}{i}.")]
    return [] if a == b else [f"{prefix.rstrip('.')}: {_short(a)} -> {_short(b)}"]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
