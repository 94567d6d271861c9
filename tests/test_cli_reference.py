"""docs/cli.md is the CLI's own --help, current: regenerate it with `python -m qassess.cli.reference`."""
from __future__ import annotations

from pathlib import Path

from qassess.cli import reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == reference.render(), \
        "docs/cli.md is stale: run `python -m qassess.cli.reference`"


def test_reference_shows_the_panels():
    text = DOC.read_text(encoding="utf-8")
    for panel in ("Inputs", "Output and resume", "Model and prompt", "Sampling", "Readouts", "Images", "Engine",
                  "Remote servers", "Ray"):
        assert f"─ {panel} ─" in text, panel
