"""`qassess report`: one self-contained HTML page to look at a run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, one_of, say, user_errors


@app.command("report")
@user_errors
def report(
    preds: str = typer.Argument(..., help="A `qassess score` output (CSV/JSONL), a path or a URI (s3://...).", rich_help_panel="Inputs"),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="The page to write (.html): one file, no external assets.  [required]", rich_help_panel="Output"),
    out_alias: Optional[Path] = typer.Option(None, "--out", hidden=True),
    gt: Optional[List[str]] = typer.Option(None, "--gt", help="Ground truth (MOS) file, as for `compare`; name=path to name it (repeatable).", rich_help_panel="Inputs"),
    refs: Optional[str] = typer.Option(None, "--refs", help="Reference texts: ROUGE-1 per card and overall, as `compare --refs`.", rich_help_panel="Inputs"),
    fit: str = typer.Option("none", "--fit", help="PLCC mapping as in `compare` (none, logistic4, logistic5); a converged fit also maps ratings for the error.", rich_help_panel="Inputs"),
    root: Optional[List[Path]] = typer.Option(None, "--root", help="Folder that relative image paths are under (repeatable; then the current folder, then the output's).", rich_help_panel="Inputs"),
    max_thumbnails: int = typer.Option(2000, "--max-thumbnails", help="At most this many pictures (the extremes of every sort key first); 0: none.", rich_help_panel="Pictures"),
    thumb_size: int = typer.Option(256, "--thumb-size", help="Picture width in px for a 4:3 photo (an area budget, as score's).", rich_help_panel="Pictures"),
    thumb_format: str = typer.Option("webp", "--thumb-format", help="webp or jpeg.", rich_help_panel="Pictures"),
    thumb_quality: int = typer.Option(70, "--thumb-quality", help="Encoder quality 1-100.", rich_help_panel="Pictures"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Threads making pictures (default: CPU count, at most 8).", rich_help_panel="Pictures"),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column of the predictions (default: detected, as compare).", rich_help_panel="Inputs"),
    gt_id_col: Optional[str] = typer.Option(None, "--gt-id-col", help="Id column of the ground truth.", rich_help_panel="Inputs"),
    gt_col: Optional[str] = typer.Option(None, "--gt-col", help="Ground-truth score column (default: MOS, normalized_score, ...).", rich_help_panel="Inputs"),
    title: Optional[str] = typer.Option(None, "--title", help="Page title (default: qassess report: FILE).", rich_help_panel="Output"),
):
    """One HTML page to look at a run: counts, rating histogram, metrics and scatter against MOS,
    self-check gap, and a gallery sortable by rating / error / gap / spread, filterable by status.

    \b
    Examples:
      qassess report out.jsonl -o report.html
      qassess report out.jsonl -o report.html --gt gt.csv --refs human_test.json
      qassess report out.csv -o report.html --gt koniq=koniq.csv --fit logistic4 --root /data/koniq
    The page works offline and when mailed (pictures are embedded). Large runs: the summary counts
    every row, the gallery pages through every row, and pictures are capped by --max-thumbnails.
    """
    out = one_of(out, out_alias, "-o/--output")
    from qassess.evaluate.report import build_report

    result = build_report(preds, out, ground_truth=gt, refs=refs, fit=None if fit == "none" else fit, id_col=id_col,
                          gt_id_col=gt_id_col, gt_col=gt_col, roots=root or (), max_thumbnails=max_thumbnails,
                          thumb_size=thumb_size, thumb_format=thumb_format, thumb_quality=thumb_quality,
                          workers=workers, title=title, log=say)
    for warning in result["warnings"]:
        say(f"warning: {warning}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items()))
    say(f"report: {result['rows']} rows ({counts}), {result['thumbnails']} pictures, "
         f"{result['bytes'] / 1e6:.1f} MB in {result['seconds']:.1f}s: {out}")
