"""qassess: interpretable blind image quality assessment (caption -> reasoning -> rating).

    import qassess
    with qassess.create_assessor() as assessor:   # the embedded default model; or create_assessor("path/or/hub-id")
        for record in assessor.score(["a.jpg", "b.png"]):
            print(record["id"], record["status"], record["rating"])

Heavy libraries (torch, transformers, vLLM) load only when a model is used.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Assessor", "Settings", "create_assessor", "parse_completion", "get_template", "__version__"]


def create_assessor(model: str | None = None, backend: str = "auto", **options):
    """The one entry point of the Python API: options are those of `qassess score` (see `Settings`).

    `model`: a folder or hub id; None uses the embedded default (qassess-demo-v1, never fetched)."""
    from qassess.core.assessor import Assessor, Settings
    from qassess.models import DEFAULT_ID

    return Assessor(Settings(model=model or DEFAULT_ID, backend=backend, **options))


def __getattr__(name: str):
    if name in ("Assessor", "Settings"):
        from qassess.core import assessor

        return getattr(assessor, name)
    if name == "parse_completion":
        from qassess.core.parsing import parse_completion

        return parse_completion
    if name == "get_template":
        from qassess.core.prompts import get_template

        return get_template
    raise AttributeError(f"module 'qassess' has no attribute {name!r}")
