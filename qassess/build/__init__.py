"""Helpers for tests, demos and benchmarks (no network): a random-weight Qwen2.5-VL builder."""
from __future__ import annotations

from typing import Any

__all__ = ["build_tiny_model"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m qassess.build.tiny` does not import the module twice.
    if name == "build_tiny_model":
        from qassess.build.tiny import build_tiny_model

        return build_tiny_model
    raise AttributeError(name)
