"""Shared fixtures: one tiny Qwen2.5-VL per session, and the vLLM availability rule for CI."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Qwen2.5-VL directory (built once per test session, ~5 s)."""
    from qassess.build.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2.5-vl-tiny", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_vllm_backend(tiny_model):
    """ONE vLLM engine on the tiny model for the whole session (start-up ~20-40 s on CPU): float32, pixel
    budget 4 to 192 vision tokens (larger than the model's own 64, so the override path is exercised).
    Use it only from tests marked `vllm`."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from qassess.backends import create_backend

    backend = create_backend("vllm", str(tiny_model), dtype="float32", min_pixels=4 * 28 * 28,
                             max_pixels=192 * 28 * 28)
    yield backend
    backend.close()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def _vllm_import_error() -> str | None:
    try:
        import vllm  # noqa: F401
    except Exception as err:  # noqa: BLE001 - a broken install must be reported, not only a missing one
        return f"{type(err).__name__}: {err}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `vllm` skip without vLLM locally, but FAIL in CI (CI must not go green silently)."""
    if item.get_closest_marker("vllm") is None:
        return
    error = _vllm_import_error()
    if error is None:
        return
    if _in_ci():
        pytest.fail(f"vllm cannot be imported in CI ({error})", pytrace=False)
    pytest.skip(f"vllm cannot be imported ({error})")


@pytest.fixture
def two_images(tmp_path):
    """A bright and a dark grey square: a pair whose better side is obvious (pairs tests)."""
    from PIL import Image

    paths = []
    for name, grey in (("bright", 230), ("dark", 20)):
        path = tmp_path / f"{name}.png"
        Image.new("RGB", (56, 56), (grey, grey, grey)).save(path)
        paths.append(str(path))
    return paths
