"""`qassess rank`: scores with confidence intervals from any table of pairwise verdicts."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from qassess.cli.app import app, say, user_errors
from qassess.pairwise.rank import DEFAULT_PRIOR


@app.command("rank")
@user_errors
def rank(
    verdicts: str = typer.Argument(..., help="A table of verdicts (CSV/JSONL/...): columns a, b and winner (a, b or tie) or p_a, e.g. a `qassess pairs` output or human 2AFC choices. Rows whose status is not ok are left out.", rich_help_panel="Inputs"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Scores: .csv or .jsonl (default: JSONL on stdout).", rich_help_panel="Output"),
    model: str = typer.Option("bradley-terry", "--model", help="bradley-terry (logistic) or thurstone (Case V, probit).", rich_help_panel="Model"),
    prior: float = typer.Option(DEFAULT_PRIOR, "--prior", help="Precision of the Gaussian prior on each latent score (MAP; larger pulls scores together).", rich_help_panel="Model"),
    level: float = typer.Option(0.95, "--level", help="Confidence level of the intervals (Laplace approximation).", rich_help_panel="Model"),
    anchor_scores: Optional[str] = typer.Option(None, "--anchor-scores", help="A table of anchors with known scores (columns image/path/id and score/mos): scores are mapped onto their scale; else the scale is relative (centred latents).", rich_help_panel="Model"),
):
    """Scores from pairwise verdicts: Bradley-Terry or Thurstone, maximum a posteriori, with intervals.

    \b
    Examples:
      qassess rank verdicts.jsonl -o scores.csv
      qassess rank human_2afc.csv --model thurstone -o scores.csv
      qassess rank verdicts.jsonl --anchor-scores anchors.csv -o scores.csv   # on the anchors' scale
    """
    from qassess.pairwise import rank as ranking
    from qassess.pairwise.run import read_anchor_scores, write_scores

    rows, notes = ranking.read_verdicts(verdicts)
    for note in notes:
        say(f"note: {note}")
    anchors = read_anchor_scores(anchor_scores, paths=False) if anchor_scores else None
    result = ranking.fit(rows, model=model, prior=prior, anchors=anchors, level=level)
    for note in result.notes:
        say(f"note: {note}")
    write_scores(result, output)
    say(f"{len(result.ids)} items ranked from {len(rows)} verdicts ({result.model}, {result.scale} scale)"
        + (f"; scores in {output}" if output else ""))
