"""`qassess train` (GRPO or SFT from a YAML recipe) and `qassess data synth` (a synthetic training set)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, one_of, say, user_errors
from qassess.errors import UserError
from qassess.synth.content import CONTENT_WEIGHT


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@user_errors
def train(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="YAML recipe (see recipes/: full, baseline, ablations, tiny-cpu)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar and a line per logging step."),
    sweep: Optional[Path] = typer.Option(None, "--sweep", metavar="YAML", help="Train the recipe once per run named in this file (run name -> dotted overrides), each into OUTPUT_DIR/<name>, in turn; a rerun skips finished runs and resumes interrupted ones."),
    evaluate: Optional[Path] = typer.Option(None, "--evaluate", metavar="DATA", help="With --sweep: then score every run and the warm start on DATA's held-out split (a `qassess data synth` output: test.json, images/), compare, and write the ablation table to --table.", rich_help_panel="Ablation table"),
    table: Path = typer.Option(Path("docs/ablation.md"), "--table", metavar="MD", help="The Markdown file the table goes to (its section, named after the sweep file, is replaced; the rest kept); CSV, JSON and PNG beside it.", rich_help_panel="Ablation table"),
    eval_subset: bool = typer.Option(False, "--eval-subset", help="Score scripts/eval_model.sh's fixed subset of the held-out images (SUBSET=1), not all of them.", rich_help_panel="Ablation table"),
    eval_limit: Optional[int] = typer.Option(None, "--eval-limit", metavar="N", help="Only N held-out images (after --eval-subset), spread evenly over them (every k-th), to fit a budget.", rich_help_panel="Ablation table"),
    eval_bootstrap: int = typer.Option(1000, "--eval-bootstrap", metavar="N", help="Bootstrap resamples of every interval.", rich_help_panel="Ablation table"),
    eval_against: Optional[str] = typer.Option(None, "--eval-against", metavar="RUN", help="Paired differences against this run of the sweep (default: the warm start).", rich_help_panel="Ablation table"),
):
    """Fine-tune with GRPO (TRL) from a YAML recipe; any recipe key can be overridden on the command line.

    \b
    Examples:
      qassess train recipes/tiny-cpu.yaml
      qassess train recipes/full.yaml --learning_rate 2e-6 --output_dir runs/x
      qassess train recipes/full.yaml --data.scores my.csv --skip-missing --rewards.prediction.threshold 0.3
      accelerate launch --config_file recipes/accelerate/zero3.yaml -m qassess train recipes/full.yaml
      qassess train recipes/default/grpo.yaml --sweep recipes/sweeps/reasoning-weight.yaml
      qassess train recipes/default/grpo.yaml --sweep recipes/sweeps/ablation.yaml --output_dir runs/ablation \\
          --evaluate .cache/synth --eval-subset --eval-against full --table docs/ablation.md

    \b
    Overrides: a bare key is a GRPOConfig field or a unique model/data/lora key;
    other keys take their section, e.g. --lora.r 16.
    Output: LoRA adapter + processor (qassess score --model DIR); --merge adds DIR/merged.
    A rerun resumes from the last checkpoint (--resume_from_checkpoint false starts over).
    """
    if evaluate is None and (eval_subset or eval_limit is not None or eval_against is not None):
        raise UserError("--eval-subset, --eval-limit and --eval-against go with --evaluate DATA")
    if evaluate is not None:
        if sweep is None:
            raise UserError("--evaluate measures the runs of a sweep: give --sweep FILE too")
        from qassess.train.ablation import Evaluation, run_ablation

        run_ablation(recipe, ctx.args, sweep, Evaluation(evaluate, table, eval_subset, eval_limit, eval_bootstrap,
                                                         eval_against), show_progress=progress, say=say)
        return
    if sweep is not None:
        from qassess.train.sweep import run_sweep

        run_sweep(recipe, ctx.args, sweep, show_progress=progress, say=say)
        return
    from qassess.train.config import load_recipe
    from qassess.train.trainer import train as run_training

    loaded = load_recipe(recipe, ctx.args)
    run_training(loaded, show_progress=progress, say=say)


data_app = typer.Typer(help="Make training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
@user_errors
def data_synth(
    photos: List[Path] = typer.Argument(..., help="Photo files or folders (searched recursively)."),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (images/, train.json, test.json, labels.csv).  [required]"),
    out_alias: Optional[Path] = typer.Option(None, "--out", hidden=True),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="CSV with `file` and `content` columns: "
                                            "a subject line per photo, kept in the rows for checks (the texts never use it)."),
    seed: int = typer.Option(0, "--seed", help="Seed for noise, angles, mixes and wording."),
    long_side: int = typer.Option(448, "--long-side", help="Long side in px (sides snap to multiples of 28)."),
    holdout: float = typer.Option(0.18, "--holdout", help="Share of source photos held out as test.json "
                                  "(by a hash of the photo's path: every distorted copy stays on one side)."),
    mixes: int = typer.Option(15, "--mixes", help="Random two- and three-distortion mixes per photo."),
    workers: int = typer.Option(1, "--workers", help="Processes (one photo each; the output is the same for any number)."),
    types: Optional[List[str]] = typer.Option(None, "--type", help="Only these distortion types (repeatable)."),
    content_weight: float = typer.Option(CONTENT_WEIGHT, "--content-weight", help="How much a pristine photo's "
                                         "lack of fine detail lowers the labels of all its copies (0: none; MODEL.md)."),
):
    """Distort photos at 5 graded levels per type (KADID-10k style), label each by HaarPSI scaled by its photo's
    detail, write references.

    \b
    Examples:
      qassess data synth data/photos -o .cache/synth --manifest data/photos/manifest.csv
      qassess data synth ./my_photos -o my_set --type jpeg --type gaussian_noise --seed 3
      qassess train recipes/default/sft.yaml --data.scores my_set/train.json --data.images my_set/images
    """
    out = one_of(out, out_alias, "-o/--output")
    from qassess.synth.dataset import synthesize, up_to_date

    if out.exists() and any(out.iterdir()) and not (out / "synth.json").is_file():
        raise UserError(f"{out} is not empty and not a `data synth` output; choose another folder")
    if up_to_date(out, photos, seed=seed, long_side=long_side, holdout=holdout, mixes_per_photo=mixes, types=types,
                  content_weight=content_weight):
        say(f"synth: {out} is up to date (same photos and settings); delete it to rebuild")
        return
    result = synthesize(photos, out, manifest=manifest, seed=seed, long_side=long_side, holdout=holdout,
                        mixes_per_photo=mixes, types=types, workers=workers, content_weight=content_weight,
                        progress=lambda i, n: say(f"synth: {i}/{n} photos") if i % 10 == 0 or i == n else None)
    splits = {s: sum(r["split"] == s for r in result.rows) for s in ("train", "test")}
    say(f"synth: {len(result.rows)} images from {len({r['source'] for r in result.rows})} photos "
         f"({splits['train']} train, {splits['test']} test) in {out}")
    for name, reason in result.skipped:
        say(f"skipped {name}: {reason}")
