"""Generation with transformers: loads fast, runs anywhere, batches with left padding.

The reference backend: every model transformers can load works here, including LoRA adapter
directories (with peft installed). Sampling knobs are always passed explicitly, so a model's own
generation_config (e.g. Qwen's repetition_penalty 1.05) cannot make it disagree with the vLLM backend.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

from qassess.backends.base import Backend, Completion, Request, Sampling, as_rgb, load_processor
from qassess.errors import UserError, fixable_load_error, one_line

_OPTIONS = {"attn_implementation"}


def _torch_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UserError(f"unknown device {device!r}: {one_line(err)}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available")
    return resolved


def _torch_dtype(dtype: str, device):
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


@contextlib.contextmanager
def _seeded(seed: int | None, device) -> Iterator[None]:
    """Seed sampling for one call without disturbing the caller's global RNG state."""
    if seed is None:
        yield
        return
    import torch

    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        unknown = set(self.options) - _OPTIONS
        if unknown:
            raise UserError(f"unknown option(s) for the transformers backend: {', '.join(sorted(unknown))}")
        import torch
        from transformers import AutoModelForImageTextToText

        self._device = _torch_device(self.device)
        self._dtype = _torch_dtype(self.dtype, self._device)
        self.processor = load_processor(self._processor_source(), trust_remote_code=self.trust_remote_code)
        self.processor.tokenizer.padding_side = "left"  # decoder-only batching
        self.pixel_budget()  # fail now, not at the first batch, on a model without a usable budget
        from transformers.utils import logging as hf_logging

        # A "Loading weights" bar per run is noise beside ours; a hub download keeps its bars.
        bars = hf_logging.is_progress_bar_enabled() and self.model_ref.local
        if bars:
            hf_logging.disable_progress_bar()
        try:
            self._model = AutoModelForImageTextToText.from_pretrained(
                self.model, dtype=self._dtype, trust_remote_code=self.trust_remote_code, **self.options)
        except Exception as err:  # noqa: BLE001 - sorted: what the user can fix is one line, the rest a bug
            if not fixable_load_error(err):
                raise
            raise UserError(f"cannot load model {self.model}: {one_line(err)}") from None
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self._model.to(self._device).eval()
        self._torch = torch

    def _processor_source(self) -> str:
        """An adapter directory may lack processor files: fall back to its base model's."""
        if not self.model_ref.adapter:
            return self.model
        path = Path(self.model)
        if (path / "tokenizer_config.json").is_file() and any(
                (path / f).is_file() for f in ("processor_config.json", "preprocessor_config.json")):
            return self.model
        try:
            base = json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{self.model}: adapter_config.json names no base model") from None
        return str(base)

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[str]]:
        return [[c.text for c in cs] for cs in self.complete(requests, sampling)]

    def complete(self, requests: Sequence[Request], sampling: Sampling,
                 score_ids: Sequence[int] | None = None) -> list[list[Completion]]:
        self.check_requests(requests)
        if self._model is None:
            raise RuntimeError("backend is closed")
        # Image and text-only rows go in separate sub-batches: each keeps the plain single-modality path.
        results: list[list[Completion] | None] = [None] * len(requests)
        for with_image in (True, False):
            idx = [i for i, r in enumerate(requests) if (r.image is not None) == with_image]
            if idx:
                batch = self._complete_batch([requests[i] for i in idx], sampling, score_ids)
                for i, completions in zip(idx, batch):
                    results[i] = completions
        return results  # type: ignore[return-value]

    def _encode(self, requests: Sequence[Request], suffixes: Sequence[str] | None = None):
        images = [as_rgb(image) for r in requests for image in r.images]
        texts = [self.chat_text(r) + (suffixes[i] if suffixes else "") for i, r in enumerate(requests)]
        inputs: dict[str, Any] = dict(text=texts, padding=True, return_tensors="pt")
        if images:
            inputs.update(images=images, images_kwargs={"size": self._size_kwargs()})
        return self.processor(**inputs).to(self._device)

    @contextlib.contextmanager
    def _recording(self, score_ids: Sequence[int] | None) -> Iterator[list]:
        """Raw LM-head scores of `score_ids` at every forward step (before any logits processor, so
        suppression, temperature and top-k/p never distort them), via a forward hook."""
        steps: list = []
        if not score_ids:
            yield steps
            return
        index = self._torch.tensor(list(score_ids), device=self._device)

        def hook(_module, _inputs, logits):
            steps.append(logits[:, -1, :].index_select(-1, index).float().cpu())

        handle = self._model.get_output_embeddings().register_forward_hook(hook)
        try:
            yield steps
        finally:
            handle.remove()

    def _complete_batch(self, requests: list[Request], sampling: Sampling,
                        score_ids: Sequence[int] | None) -> list[list[Completion]]:
        torch = self._torch
        enc = self._encode(requests)
        per_request = 1 if sampling.greedy else sampling.n
        tok = self.processor.tokenizer
        options: dict[str, Any] = dict(
            max_new_tokens=sampling.max_new_tokens,
            min_new_tokens=sampling.min_new_tokens or None,
            do_sample=not sampling.greedy,
            num_return_sequences=per_request,
            repetition_penalty=1.0,
            suppress_tokens=self.suppressed_token_ids() or None,
            pad_token_id=tok.pad_token_id,
        )
        if not sampling.greedy:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k)
        with torch.inference_mode(), _seeded(sampling.seed, self._device), self._recording(score_ids) as steps:
            out = self._model.generate(**enc, **options)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        texts = tok.batch_decode(new_tokens, skip_special_tokens=True)
        scores = torch.stack(steps, dim=1).tolist() if steps else None  # [rows, steps, len(score_ids)]
        completions = []
        for row, text in enumerate(texts):
            ids = new_tokens[row].tolist()
            ids = _until_pad(ids, tok.pad_token_id)
            completions.append(Completion(text, ids, scores[row][:len(ids)] if scores is not None else None))
        groups = [completions[i * per_request:(i + 1) * per_request] for i in range(len(requests))]
        # Greedy samples are identical by definition: decode once, repeat.
        return [g * sampling.n for g in groups] if sampling.greedy else groups

    def next_token_scores(self, requests: Sequence[Request], prefixes: Sequence[str],
                          score_ids: Sequence[int]) -> list[list[float]]:
        self.check_requests(requests)
        if self._model is None:
            raise RuntimeError("backend is closed")
        results: list = [None] * len(requests)
        for with_image in (True, False):
            idx = [i for i, r in enumerate(requests) if (r.image is not None) == with_image]
            if not idx:
                continue
            enc = self._encode([requests[i] for i in idx], [prefixes[i] for i in idx])
            with self._torch.inference_mode():
                logits = self._model(**enc, logits_to_keep=1).logits[:, -1, :]
            picked = logits.index_select(-1, self._torch.tensor(list(score_ids), device=self._device))
            for i, row in zip(idx, picked.float().cpu().tolist()):
                results[i] = row
        return results

    def close(self) -> None:
        if getattr(self, "_model", None) is None:
            return
        self._model = None
        import gc

        gc.collect()
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()


def _until_pad(ids: list[int], pad: int | None) -> list[int]:
    """Generated ids without the right padding of rows that finished early."""
    end = len(ids)
    while end and ids[end - 1] == pad:
        end -= 1
    return ids[:end]
