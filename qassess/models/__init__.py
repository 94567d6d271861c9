"""Models qassess ships or names: the embedded default, and how a `--model` value becomes a folder.

The default (`qassess-demo-v1`) lives in this package folder and is used whenever no model is given:
a small Qwen2.5-VL trained by qassess itself on synthetic distortions (MODEL.md). It loads from the
package, never from a hub.
"""
from __future__ import annotations

import json
from pathlib import Path

DEFAULT_ID = "qassess-demo-v1"
PACKAGE_DIR = Path(__file__).resolve().parent
NOTICE = ("model: qassess-demo-v1, a small model trained by qassess on synthetic distortions of 55 photos; "
          "it is a demo, not a judge of real-world photos. For research use a full-size model, e.g. "
          "--model Qwen/Qwen2.5-VL-7B-Instruct trained with recipes/full.yaml (see README).")


def default_model_dir() -> Path:
    return PACKAGE_DIR / DEFAULT_ID


def is_default(model: str | None) -> bool:
    return model in (None, "", "default", DEFAULT_ID)


def resolve(model: str | None) -> str:
    """The folder or hub id the backends load: the packaged default for no model / its id."""
    if is_default(model):
        return str(default_model_dir())
    return str(model)


def model_id(model: str | None) -> str:
    """What output rows call the model: the shipped id for the default (or its folder), else the value."""
    if is_default(model):
        return DEFAULT_ID
    marker = Path(str(model)) / "qassess_model.json"
    try:
        return str(json.loads(marker.read_text(encoding="utf-8"))["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return str(model)
