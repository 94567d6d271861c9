"""`qassess pairs`: which of two images is better, from a model shown both; verdicts, or scores through
`rank`. Option defaults are read from where they are defined (Settings, the samplers, the ranker)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.core.assessor import GENERIC_DEFAULTS, Settings
from qassess.errors import UserError
from qassess.models import DEFAULT_ID
from qassess.pairwise.rank import DEFAULT_PRIOR

TABLES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"}


@app.command("pairs")
@user_errors
def pairs(
    inputs: List[str] = typer.Argument(..., help="A table of pairs (columns a and b, and ref for a template that compares against a reference: image paths, relative to the table), or image files and folders to compare with --anchors or --budget.", rich_help_panel="Inputs"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="With a pairs table: the verdicts (.csv or .jsonl; default JSONL on stdout). With images: the scores (.csv or .jsonl).", rich_help_panel="Output and resume"),
    verdicts: Optional[Path] = typer.Option(None, "--verdicts", help="With images: where the verdicts go (default: beside -o, OUT.verdicts.jsonl).", rich_help_panel="Output and resume"),
    anchors: Optional[int] = typer.Option(None, "--anchors", metavar="K", help="Compare each image with K anchors (and the anchors among themselves).", rich_help_panel="Pairs"),
    anchor_scores: Optional[str] = typer.Option(None, "--anchor-scores", help="Anchors with known scores (columns image/path and score/mos): K of them, spread over the scores, fix the absolute scale. Without it the K anchors are drawn from the images and the scale is relative.", rich_help_panel="Pairs"),
    budget: Optional[str] = typer.Option(None, "--budget", help="Pairs to ask, e.g. 4n or 200: a random cycle, then rounds of the closest pairs by the current scores (default with images and no --anchors: 4n).", rich_help_panel="Pairs"),
    design_seed: int = typer.Option(0, "--design-seed", help="Seed of the pair design (the cycle, the anchors drawn).", rich_help_panel="Pairs"),
    ask: str = typer.Option("pair", "--ask", help="pair: both images in one prompt; ratings: each image rated alone with the model's template, P(a better) from the ratings (for rating-only models such as the embedded demo model).", rich_help_panel="Model and prompt"),
    pair_template: str = typer.Option("paper-pair", "--pair-template", help="The two-image prompt: paper-pair (caption -> think -> answer A / B / similar), q-insight-pair (Q-Insight's comparison model: two outputs against a reference, column ref), compare2score (Compare2Score's five levels, read after its answer prefix).", rich_help_panel="Model and prompt"),
    probs: bool = typer.Option(Settings.probs, "--probs/--no-probs", help="P(a better) from the answer words' token probabilities where the backend gives them (vllm, transformers), else from the stated verdicts of --samples; p_from says which.", rich_help_panel="Model and prompt"),
    one_order: bool = typer.Option(False, "--one-order", help="Ask each pair in the given order only (default: both orders, combined; their disagreement is the position bias).", rich_help_panel="Model and prompt"),
    model: str = typer.Option(Settings.model, "-m", "--model", envvar="QASSESS_MODEL", help=f"A preset, a model directory or a hub id; default: the embedded demo model {DEFAULT_ID}.", rich_help_panel="Model and prompt"),
    template: Optional[str] = typer.Option(None, "--template", help="With --ask ratings: the single-image template (default: the model preset's, else paper).", rich_help_panel="Model and prompt"),
    backend: str = typer.Option(Settings.backend, "-b", "--backend", help="auto, vllm, transformers, or a plugin name.", rich_help_panel="Engine"),
    samples: int = typer.Option(Settings.samples, "--samples", "-n", help="Sampled answers per order (needs --temperature > 0): without token probabilities, P(a better) is the share naming a.", rich_help_panel="Sampling"),
    temperature: Optional[float] = typer.Option(None, "--temperature", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['temperature']:g}.", rich_help_panel="Sampling"),
    top_p: Optional[float] = typer.Option(None, "--top-p", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['top_p']:g}.", rich_help_panel="Sampling"),
    top_k: Optional[int] = typer.Option(None, "--top-k", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['top_k']}.", rich_help_panel="Sampling"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for sampling. Default: the model preset's, else none.", rich_help_panel="Sampling"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help=f"Default: the model preset's, else {GENERIC_DEFAULTS['max_new_tokens']}.", rich_help_panel="Sampling"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Prompts per generate call (each pair is two prompts in both orders).", rich_help_panel="Engine"),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget per image (default: the model's processor setting).", rich_help_panel="Images"),
    dtype: str = typer.Option(Settings.dtype, "--dtype", help="auto, float32, bfloat16, float16.", rich_help_panel="Engine"),
    device: str = typer.Option(Settings.device, "--device", help="auto, cpu, cuda, cuda:1 ...", rich_help_panel="Engine"),
    rank_model: str = typer.Option("bradley-terry", "--rank-model", help="With images: bradley-terry or thurstone (see `qassess rank`).", rich_help_panel="Scores"),
    prior: float = typer.Option(DEFAULT_PRIOR, "--prior", help="With images: the ranker's prior precision (see `qassess rank`).", rich_help_panel="Scores"),
    level: float = typer.Option(0.95, "--level", help="With images: confidence level of the intervals.", rich_help_panel="Scores"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="Skip pairs the verdicts already hold (default), or start anew.", rich_help_panel="Output and resume"),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="When resuming, ask again the pairs whose status is not ok.", rich_help_panel="Output and resume"),
    limit: Optional[int] = typer.Option(None, "--limit", help="With a pairs table: judge at most this many pairs (after skipping done ones).", rich_help_panel="Inputs"),
):
    """Which of two images is better: a model sees both, in both orders; verdicts or scores.

    \b
    Examples:
      qassess pairs pairs.csv -o verdicts.jsonl                 # columns a, b: which is better, and why
      qassess pairs ./photos --budget 4n -o scores.csv          # sampled pairs -> Bradley-Terry scores
      qassess pairs ./photos --anchors 5 --anchor-scores anchors.csv -o scores.csv   # absolute scale
      qassess pairs ./photos --ask ratings --budget 3n -o scores.csv   # a rating-only model
    Each verdict row: winner, p_a (P(a better); p_from: tokens or samples), p_ab / p_ba per order,
    position_flip (the orders disagree), reasoning, status and error. A rerun resumes; an answer naming
    neither image is a parse_error.
    """
    from qassess.pairwise.judge import ASKS
    from qassess.pairwise.run import run_images, run_table

    if ask not in ASKS:
        raise UserError(f"--ask must be one of {', '.join(ASKS)}, not {ask!r}")
    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    settings = Settings(model=model, backend=backend, template=template, batch_size=batch_size,
                        temperature=temperature, top_p=top_p, top_k=top_k, seed=seed, max_new_tokens=max_new_tokens,
                        samples=samples, probs=probs, max_pixels=max_pixels, dtype=dtype, device=device)
    options = dict(ask=ask, template=pair_template, both_orders=not one_order, resume=resume,
                   retry_errors=retry_errors, log=say)
    table = len(inputs) == 1 and Path(inputs[0]).is_file() and Path(inputs[0]).suffix.lower() in TABLES
    if table:
        if anchors or anchor_scores or budget or verdicts:
            raise UserError("--anchors, --anchor-scores, --budget and --verdicts are for images, not a pairs table")
        tally = run_table(inputs[0], output, settings, limit=limit, **options)
        say(tally.summary() + (f"; verdicts in {output}" if output else ""))
        return
    if output is None:
        raise UserError("with images, -o names the scores file (.csv or .jsonl)")
    if limit is not None:
        raise UserError("--limit is for a pairs table; with images use --budget")
    verdicts = verdicts or output.with_name(output.stem + ".verdicts.jsonl")
    tally, ranking = run_images(inputs, output, verdicts, settings, anchors=anchors, anchor_scores=anchor_scores,
                                budget=budget, seed=design_seed, model=rank_model, prior=prior, level=level, **options)
    say(tally.summary() + f"; verdicts in {verdicts}")
    say(f"{len(ranking.ids)} images scored ({ranking.model}, {ranking.scale} scale); scores in {output}")
