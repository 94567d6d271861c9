"""The one interface every generation backend implements, and the checks they share.

A backend turns chat requests (optionally with one image each) into n texts per request. Everything
else in qassess (prompts, parsing, scoring, writers) is backend-agnostic, so vLLM, transformers and
plugins are interchangeable and can be compared on the same inputs.
"""
from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from qassess.errors import UserError, fixable_load_error, one_line

if TYPE_CHECKING:
    from PIL import Image


class BackendUnavailable(UserError):
    """The backend can serve no further request (e.g. every remote server is down): the run stops."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0 => greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 => off
    max_new_tokens: int = 1024
    n: int = 1  # samples per request, in ONE request (vLLM SamplingParams.n; HF num_return_sequences)
    seed: int | None = None
    min_new_tokens: int = 0  # end-of-sequence is suppressed before this (benchmarks force equal lengths)

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise UserError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.max_new_tokens < 1 or self.n < 1:
            raise UserError("max_new_tokens and n must be at least 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise UserError("min_new_tokens must be between 0 and max_new_tokens")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Request:
    messages: list[dict]  # HF chat messages; the user content holds {"type": "image"} where the image goes
    image: "Image.Image | None" = None  # already resized by the loader to the budget
    chat_kwargs: dict = field(default_factory=dict)  # extra apply_chat_template arguments (add_vision_id)
    more_images: tuple = ()  # the images of further image slots, in order (a pair of images in one prompt)

    @property
    def images(self) -> list:
        """Every image of the request, in the order of its image slots."""
        return ([self.image] if self.image is not None else []) + list(self.more_images)


@dataclass
class Completion:
    """One generated text, with what the probability reading needs (qassess.core.rating_probs)."""

    text: str
    token_ids: list[int] | None = None  # generated ids, special tokens included
    # Per generated step, the scores of the tokens asked for in `complete(..., score_ids=...)`, in that
    # order (log-probabilities or logits: both give the same softmax over the set). None if not asked.
    scores: list[list[float]] | None = None


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16", "half": "float16"}


@dataclass(frozen=True)
class ModelRef:
    """A checked model reference: a local directory (full model or LoRA adapter) or a hub id."""

    name: str
    local: bool
    adapter: bool = False  # a PEFT adapter directory (adapter_config.json, no config.json)


def looks_like_folder(text: str) -> bool:
    """A value that can only mean a local folder: a path form (./, ~, /, Windows drive) or one whose first
    part is a folder here (runs/x, .cache/m). Hub ids are exactly owner/name."""
    path = Path(text).expanduser()
    return (text.startswith((".", "~", "/", "\\")) or path.is_absolute() or len(path.parts) != 2
            or path.parent.is_dir())


def missing_folder(text: str) -> UserError:
    """The one error for a local model folder that is not there, with the ways to make one."""
    return UserError(f"no such model folder {text}; build it with `python -m qassess.build.tiny {text}` "
                     f"(a tiny random test model) or `qassess train RECIPE --output_dir {text}`, or pass "
                     "the embedded model or a preset (`qassess models` lists them) or a hub id")


def check_model(model: str | Path) -> ModelRef:
    """Fail early and in one line on a model that cannot be loaded, before any heavy import."""
    text = str(model)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"model must be a directory or a hub id, got a file: {text}")
        config = path / "config.json"
        if config.is_file():
            try:
                data = json.loads(config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise UserError(f"not a usable model directory: {config} is not valid JSON ({err})") from None
            if not isinstance(data, dict) or "model_type" not in data:
                raise UserError(f"not a usable model directory: {config} has no model_type")
            return ModelRef(str(path), local=True)
        if (path / "adapter_config.json").is_file():
            return ModelRef(str(path), local=True, adapter=True)
        raise UserError(f"not a model directory (no config.json): {text}")
    if HUB_ID.match(text) and not looks_like_folder(text):
        return ModelRef(text, local=False)
    raise missing_folder(text)


def read_model_config(model: str) -> dict | None:
    """config.json of a local model directory, or of a hub id already in the local HF cache (never
    fetched). None when unavailable: callers then fall back to library defaults."""
    path = Path(model).expanduser() / "config.json"
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "config.json")
        except Exception:  # noqa: BLE001 - an invalid repo id or a broken cache both mean "unknown"
            return None
        if not isinstance(cached, str):
            return None
        path = Path(cached)
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return cfg if isinstance(cfg, dict) else None


def normalize_dtype(dtype: str) -> str:
    try:
        return DTYPES[str(dtype).lower()]
    except KeyError:
        raise UserError(f"unknown dtype {dtype!r}; choose one of: auto, float32, bfloat16, float16") from None


def load_processor(model: str, *, trust_remote_code: bool = False):
    """The model's own processor (chat template, tokenizer, image processor), as a one-line error if absent."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(model, trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 - OSError, ValueError, KeyError, ImportError: "cannot use it"
        if not fixable_load_error(err):
            raise
        raise UserError(f"cannot load the processor of {model}: {one_line(err)}") from None
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise UserError(f"{model} has no multimodal processor (image processor + tokenizer); "
                        "is it a vision-language model?")
    if not getattr(processor, "chat_template", None) and not getattr(processor.tokenizer, "chat_template", None):
        raise UserError(f"{model} has no chat template")
    return processor


def as_rgb(image: "Image.Image") -> "Image.Image":
    """8-bit RGB with transparency composited on white. qassess's loader already hands over RGB; this
    keeps the backends agreeing for API callers who pass other modes (transformers would drop the alpha
    channel, vLLM composites on white)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info:
        from PIL import Image as PILImage

        rgba = image.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _edge(size: Any, key: str) -> int | None:
    if size is None:
        return None
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return int(value) if value is not None else None


class Backend(ABC):
    """Generation on one model. Subclasses load in __init__ and implement `generate`."""

    name: str = ""
    remote: bool = False  # True: `model` names a model on servers, not a local folder or hub id

    @classmethod
    def model_reference(cls, model: str) -> ModelRef:
        """The checked model reference (a remote backend overrides this: its model is a served name)."""
        return check_model(model)

    def __init__(self, model: str, *, dtype: str = "auto", device: str = "auto",
                 min_pixels: int | None = None, max_pixels: int | None = None,
                 trust_remote_code: bool = False, max_model_len: int | None = None, **options: Any):
        self.model_ref = self.model_reference(model)
        self.model = self.model_ref.name
        self.dtype = normalize_dtype(dtype)
        self.device = device
        self.trust_remote_code = trust_remote_code
        self.max_model_len = max_model_len
        self.options = options
        for label, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserError(f"{label} must be a positive integer, got {value!r}")
        if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
            raise UserError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
        self._min_pixels = min_pixels
        self._max_pixels = max_pixels
        self.processor = None  # set by subclasses (load_processor)

    def pixel_budget(self) -> tuple[int, int, int]:
        """(min_pixels, max_pixels, factor) in force: user overrides, else the processor's config."""
        ip = self.processor.image_processor
        size = getattr(ip, "size", None)
        min_px = self._min_pixels or _edge(size, "shortest_edge") or getattr(ip, "min_pixels", None)
        max_px = self._max_pixels or _edge(size, "longest_edge") or getattr(ip, "max_pixels", None)
        patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
        if not (min_px and max_px and patch and merge):
            raise UserError(f"{self.model}: its image processor has no Qwen-style pixel budget "
                            "(min/max pixels, patch and merge size)")
        factor = int(patch) * int(merge)
        if max_px < factor * factor:
            raise UserError(f"max_pixels {max_px} is below one vision token ({factor}x{factor} pixels)")
        if min_px > max_px:
            raise UserError(f"min_pixels ({min_px}) is larger than max_pixels ({max_px})")
        return int(min_px), int(max_px), factor

    def _size_kwargs(self) -> dict[str, int]:
        """The budget as the image processor's `size`, so it does not resize the loader's output again."""
        min_px, max_px, _ = self.pixel_budget()
        return {"shortest_edge": min_px, "longest_edge": max_px}

    def chat_text(self, request: Request) -> str:
        return self.processor.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True,
                                                  **request.chat_kwargs)

    def suppressed_token_ids(self) -> list[int]:
        """Image/video placeholder ids: a random or lightly trained model may sample them, never useful."""
        tok = self.processor.tokenizer
        ids = []
        for token in ("<|image_pad|>", "<|video_pad|>"):
            token_id = tok.convert_tokens_to_ids(token)
            if token_id is not None and token_id != tok.unk_token_id:
                ids.append(int(token_id))
        return ids

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.processor.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    @abstractmethod
    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[str]]:
        """One list of `sampling.n` texts per request, in order; special tokens stripped. A backend whose
        requests fail one by one (a remote server) may put that request's Exception in its place."""

    def check_alive(self) -> None:
        """Raise BackendUnavailable (a UserError) when no further request can succeed (every remote server
        down); checked after each batch is handed out, so what finished is written before the run stops."""

    def complete(self, requests: Sequence[Request], sampling: Sampling,
                 score_ids: Sequence[int] | None = None) -> list[list[Completion]]:
        """Like `generate`, plus the generated ids and, with `score_ids`, those tokens' scores at every
        step. Backends that cannot see token scores keep this default: texts only (no expected rating)."""
        return [[Completion(t) for t in texts] for texts in self.generate(requests, sampling)]

    def next_token_scores(self, requests: Sequence[Request], prefixes: Sequence[str],
                          score_ids: Sequence[int]) -> list[list[float]]:
        """Scores of `score_ids` for the token after each request's prompt followed by `prefixes[i]`
        (the start of the assistant's answer), in one forward pass: the cheap stage-2 reading."""
        raise NotImplementedError(f"the {self.name} backend cannot read token probabilities")

    @property
    def reads_probabilities(self) -> bool:
        return type(self).complete is not Backend.complete

    def close(self) -> None:
        """Release the model (idempotent)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def check_requests(requests: Sequence[Request]) -> None:
        for i, request in enumerate(requests):
            slots = sum(
                1
                for message in request.messages if isinstance(message.get("content"), list)
                for part in message["content"] if isinstance(part, dict) and part.get("type") == "image"
            )
            if slots != len(request.images) or (request.more_images and request.image is None):
                raise ValueError(f"request {i}: {slots} image slot(s) in the messages for "
                                 f"{len(request.images)} image(s)")
