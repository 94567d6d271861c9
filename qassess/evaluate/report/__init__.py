"""`qassess report`: one self-contained HTML page to look at a score run (summary, plots, a gallery).

    rows        the run as columns, the summary on every row, compare's metrics, which rows get pictures
    thumbnails  pictures through the loader `score` uses, in a thread pool behind a progress bar
    page        the HTML: escaped JSON data, the page's own script and style, a strict CSP
"""
from qassess.evaluate.report.page import build_report, render_page, script_json

__all__ = ["build_report", "render_page", "script_json"]
