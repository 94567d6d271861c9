"""`qassess compare`: how well predicted ratings agree with human scores, per dataset.

Reads predictions (a qassess output, or any table with an id and a score), ground truth in the layouts
people have (KonIQ's CSV, the Q-Align / DeQA-Score / Q-Insight JSON lists, the Q-Reasoning files, plain
`name,score` text), optional reference texts for ROUGE-1, joins them by path, parent folder and name,
file name or stem, and computes the metrics of `qassess.evaluate.metrics`. Nothing is dropped silently:
unmatched, duplicated, failed and non-finite rows are counted in the report, and a fit that fails is
reported as failed.

    tables      reading CSV/TSV/TXT, JSON, JSONL, Excel          columns     which column holds what
    load        predictions and ground truth as compare uses them join        ids matched at several levels
    scores      metrics per group, pooled, self-check, intervals  references  Q-Reasoning texts, ROUGE-1
    report      the Report (the --json layout)                     render      terminal, Markdown, CSV, plot
    run         compare(): the entry point
"""
from qassess.evaluate.compare.references import english_text, load_references
from qassess.evaluate.compare.render import (
    notes, plot, render_table, sections, summary_rows, to_markdown, write_rows, write_summary_csv,
)
from qassess.evaluate.compare.result import Report
from qassess.evaluate.compare.run import DUPLICATE_POLICIES, FAILURE_POLICIES, compare
from qassess.io.tables import Table, read_table

__all__ = [
    "DUPLICATE_POLICIES", "FAILURE_POLICIES", "Report", "Table", "compare", "english_text", "load_references",
    "notes", "plot", "read_table", "render_table", "sections", "summary_rows", "to_markdown", "write_rows",
    "write_summary_csv",
]
