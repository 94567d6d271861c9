"""Helpers for tests, demos and benchmarks (no network): a random-weight Qwen2.5-VL builder."""
from qassess.testing.tiny import build_tiny_model

__all__ = ["build_tiny_model"]
