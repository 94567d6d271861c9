"""LoRA adapter folders as models: the base model they name, and the merged plain model that backends such
as vLLM load (written beside the adapter on first use)."""
from __future__ import annotations

import json
from pathlib import Path

from qassess.errors import UserError, one_line

MERGED_DIR = "merged"


def base_model_of(adapter_dir: str | Path) -> str:
    """The base model an adapter directory was trained on (from adapter_config.json)."""
    config_path = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"not a LoRA adapter directory: {adapter_dir} ({exc})") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{config_path} names no base_model_name_or_path")
    return base


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, dtype: str = "auto") -> Path:
    """Base model + LoRA merged into a plain model directory (with the processor): what vLLM loads."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    base = base_model_of(adapter_dir)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch_dtype)
    except OSError as exc:
        raise UserError(f"cannot load the base model {base} of {adapter_dir}: {one_line(exc)}") from None
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    from qassess.io.results import replace_dir

    def write(tmp: Path) -> None:
        merged.save_pretrained(str(tmp))
        AutoProcessor.from_pretrained(str(adapter_dir)).save_pretrained(str(tmp))

    return replace_dir(out_dir, write)


def ensure_merged(adapter_dir: str | Path, dtype: str = "auto") -> Path:
    """`adapter_dir/merged`, written on first use (or when older than the adapter): for backends, such as
    vLLM, that load plain model directories only."""
    adapter_dir = Path(adapter_dir)
    merged = adapter_dir / MERGED_DIR
    adapter = adapter_dir / "adapter_model.safetensors"
    done = merged / "config.json"
    if done.is_file() and (not adapter.is_file() or done.stat().st_mtime >= adapter.stat().st_mtime):
        return merged
    return merge_adapter(adapter_dir, merged, dtype=dtype)
