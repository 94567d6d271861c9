"""Judging predictions: correlation metrics, `qassess compare`, agreement in meaning, the HTML report."""
