"""Generation on OpenAI-compatible chat-completions servers (`vllm serve`), one or many.

qassess keeps its own loader, pixel budget, prompts and parser; the server only generates. For the
texts to equal the offline vLLM backend's, each request carries what that backend sets on its engine:
the template's chat_template_kwargs, the suppressed image placeholder ids (logit_bias), and every
sampling value explicitly (a server otherwise fills gaps from the model's generation_config, e.g. Qwen's
repetition_penalty 1.05). Images travel as lossless PNG data URLs, so the server decodes exactly the
pixels the local backends see. The server applies its own pixel budget again (vLLM refuses per-request
budgets by default): the image token count it reports is checked against ours, so a server started
with another budget stops the run in one line instead of silently giving other texts. top_k,
repetition_penalty, min_p, chat_template_kwargs and return_token_ids are vLLM extensions of the API.
"""
from __future__ import annotations

import base64
import io
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from qassess.backends.base import (Backend, BackendUnavailable, Completion, ModelRef, Request, Sampling, as_rgb,
                                   load_processor)
from qassess.backends.servers import PoolPolicy, RequestFailed, ServerPool, ServersDown, display_url
from qassess.errors import UserError

# Qwen2.5-VL's processor defaults: the budget when neither --max/--min-pixels nor a local copy says.
QWEN25_VL_BUDGET = (3136, 12845056, 28)
API_KEY_ENVS = ("QASSESS_API_KEY", "OPENAI_API_KEY")
_OPTIONS = {"base_url", "api_key_env", "processor", "max_in_flight", "request_timeout", "attempts"}
PLACEHOLDERS = ("<|image_pad|>", "<|video_pad|>")
PNG_LEVEL = 1  # zlib level: lossless either way; 1 is several times faster to encode than 6


class BudgetMismatch(Exception):
    """The server resized an image differently from qassess's loader (another pixel budget)."""


def encode_png(image) -> str:
    buf = io.BytesIO()
    as_rgb(image).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def openai_messages(messages: list[dict], image) -> list[dict]:
    """HF chat messages -> OpenAI ones: each {"type": "image"} slot becomes an image_url part (`image`: one
    image, or a list with one per slot in order)."""
    images = iter(image if isinstance(image, list) else [image])
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image":
                    parts.append({"type": "image_url", "image_url": {"url": encode_png(next(images))}})
                else:
                    parts.append(part)
            content = parts
        out.append({**message, "content": content})
    return out


def read_api_key(env_name: str | None) -> str | None:
    """The key from `env_name` (which must then be set), else from QASSESS_API_KEY / OPENAI_API_KEY."""
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise UserError(f"--api-key-env {env_name}: that environment variable is not set")
        return value
    return next((os.environ[n] for n in API_KEY_ENVS if os.environ.get(n)), None)


class OpenAIBackend(Backend):
    """`model` is the name the servers serve (`vllm serve DIR --served-model-name NAME`)."""

    name = "openai"
    remote = True

    def __init__(self, model: str, *, base_url: Sequence[str] | str = (), api_key_env: str | None = None,
                 processor: str | None = None, max_in_flight: int = 16, request_timeout: float = 600.0,
                 attempts: int = 5, local_copy: str | None = None, log=None, **kwargs: Any):
        super().__init__(model, **kwargs)
        unknown = set(self.options) - _OPTIONS
        if unknown:
            raise UserError(f"unknown option(s) for the openai backend: {', '.join(sorted(unknown))}")
        if max_in_flight < 1 or attempts < 1 or request_timeout <= 0:
            raise UserError("--max-in-flight and attempts must be at least 1, --request-timeout above 0")
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        source = processor or local_copy
        if source is not None:
            if not Path(source).is_dir():
                raise UserError(f"--processor {source}: not a folder (give a local copy of the served model)")
            self.processor = load_processor(source, trust_remote_code=self.trust_remote_code)
        self.processor_source = source
        api_key = read_api_key(api_key_env)
        policy = PoolPolicy(max_in_flight=max_in_flight, attempts=attempts, timeout=request_timeout)
        self.pool = ServerPool(urls, api_key, policy, self._log)
        self.device = "remote: " + ", ".join(s.name for s in self.pool.servers)  # for the manifest
        try:
            self._check_servers()
            placeholders = self._placeholder_ids()
            self._bias = {str(i): -100.0 for i in placeholders.values()}
            self._image_pad = placeholders.get("<|image_pad|>")
        except BaseException:
            self.pool.close()
            raise
        self._threads = ThreadPoolExecutor(max_workers=max_in_flight * len(self.pool.servers),
                                           thread_name_prefix="qassess-remote")

    @classmethod
    def model_reference(cls, model: str) -> ModelRef:
        if not str(model).strip():
            raise UserError("--model must name the model the servers serve")
        return ModelRef(str(model), local=False)

    # -- start-up ------------------------------------------------------------------------------
    def _check_servers(self) -> None:
        """Every server answers GET /models and serves `self.model`; one that does not is dropped, and
        none answering is a one-line error."""
        answers = self.pool.get_each("/models")
        for url, (data, error) in answers.items():
            if error is None:
                served = [m.get("id") for m in (data or {}).get("data", []) if isinstance(m, dict)]
                if self.model not in served:
                    raise UserError(f"{display_url(url)} serves {', '.join(map(repr, served)) or 'no model'}, "
                                    f"not {self.model!r}: pass --model NAME with one of those, or start "
                                    f"`qassess serve {self.model}` (or vLLM's server with --served-model-name {self.model})")
                continue
            self.pool.drop(url, error)
            self._log(f"server {display_url(url)} is not usable: {error}")
        if not self.pool.alive():
            failures = "; ".join(f"{display_url(u)}: {e}" for u, (_, e) in answers.items())
            raise UserError(f"no server answers: {failures}")

    def _placeholder_ids(self) -> dict[str, int]:
        """Image/video pad ids to suppress, as the offline backends do: from the local processor, else
        from the server's /tokenize (vLLM); neither gives a logged note, and no bias."""
        ids: dict[str, int] = {}
        server = self.pool.alive()[0]
        root = server.url[:-3] if server.url.endswith("/v1") else server.url
        for token in PLACEHOLDERS:
            if self.processor is not None:
                tok = self.processor.tokenizer
                token_id = tok.convert_tokens_to_ids(token)
                if token_id is not None and token_id != tok.unk_token_id:
                    ids[token] = int(token_id)
                continue
            response, failure = self.pool.request(
                "POST", root + "/tokenize", server,
                json={"model": self.model, "prompt": token, "add_special_tokens": False})
            tokens = (response.json().get("tokens") if failure is None else None) or []
            if len(tokens) == 1:
                ids[token] = int(tokens[0])
        if not ids:
            self._log("note: no local processor and no /tokenize on the server: image placeholder tokens are "
                      "not suppressed (pass --processor DIR, a local copy of the served model, to match "
                      "the offline backends exactly)")
        return ids

    def pixel_budget(self) -> tuple[int, int, int]:
        if self.processor is not None:
            return super().pixel_budget()
        min_px, max_px, factor = QWEN25_VL_BUDGET
        min_px, max_px = self._min_pixels or min_px, self._max_pixels or max_px
        if min_px > max_px:
            raise UserError(f"min_pixels ({min_px}) is larger than max_pixels ({max_px})")
        return min_px, max_px, factor

    # -- generation ----------------------------------------------------------------------------
    def payload(self, request: Request, sampling: Sampling) -> dict:
        """The chat-completions body for one request (what the offline backend's SamplingParams say)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": openai_messages(request.messages, request.images or None),
            "n": 1 if sampling.greedy else sampling.n,  # vLLM refuses n > 1 when greedy
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "top_k": sampling.top_k,
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "max_completion_tokens": sampling.max_new_tokens,
            "min_tokens": sampling.min_new_tokens,
            "skip_special_tokens": True,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self._bias:
            body["logit_bias"] = self._bias
        if request.chat_kwargs:
            body["chat_template_kwargs"] = dict(request.chat_kwargs)
        if request.image is not None and self._image_pad is not None:
            body["return_token_ids"] = True  # vLLM: lets _check_image_tokens see what the server made of it
        return body

    def _check_image_tokens(self, request: Request, data: dict) -> str | None:
        """The server resizes images again with its own budget (per-request budgets are refused by
        vLLM by default); if that changed our image, the texts would silently differ from a local run."""
        prompt_ids = data.get("prompt_token_ids")
        if request.image is None or self._image_pad is None or not isinstance(prompt_ids, list):
            return None
        factor = self.pixel_budget()[2]
        want = sum((image.width // factor) * (image.height // factor) for image in request.images)
        got = prompt_ids.count(self._image_pad)
        if got == want:
            return None
        min_px, max_px, _ = self.pixel_budget()
        return (f"the server turned a {request.image.width}x{request.image.height} image into {got} image tokens, "
                f"not {want}: its pixel budget differs from qassess's ({min_px}..{max_px}); start it with "
                f"`qassess serve MODEL --min-pixels {min_px} --max-pixels {max_px}`")

    def _one(self, request: Request, sampling: Sampling, score_ids: Sequence[int] | None) -> list | Exception:
        body = self.payload(request, sampling)
        if score_ids:  # vLLM: raw log-probabilities of just these tokens at every step, as the offline engine
            body.update(logprobs=True, logprob_token_ids=list(score_ids), return_tokens_as_token_ids=True,
                        return_token_ids=True)
        try:
            data = self.pool.post("/chat/completions", body)
        except (RequestFailed, ServersDown) as err:
            return err
        mismatch = self._check_image_tokens(request, data)
        if mismatch:
            return BudgetMismatch(mismatch)
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        want = 1 if sampling.greedy else sampling.n
        if len(choices) != want:
            return RequestFailed(f"the server returned {len(choices)} choice(s), not {want}")
        completions = [self._completion(c, score_ids) for c in choices]
        return completions * sampling.n if sampling.greedy else completions

    @staticmethod
    def _completion(choice: dict, score_ids: Sequence[int] | None) -> Completion:
        text = (choice.get("message") or {}).get("content") or ""
        token_ids, scores = choice.get("token_ids"), None
        steps = ((choice.get("logprobs") or {}).get("content")) if score_ids else None
        if isinstance(steps, list) and isinstance(token_ids, list) and len(steps) == len(token_ids):
            scores = []
            for step in steps:
                got = {str(t.get("token")): t.get("logprob") for t in step.get("top_logprobs") or []}
                scores.append([got.get(f"token_id:{i}", -math.inf) for i in score_ids])
        return Completion(text, token_ids if isinstance(token_ids, list) else None, scores)

    @property
    def reads_probabilities(self) -> bool:
        return self.processor is not None  # reading digits back needs the tokenizer (a local copy)

    def complete(self, requests: Sequence[Request], sampling: Sampling,
                 score_ids: Sequence[int] | None = None) -> list[list[Completion] | Exception]:
        """Completions per request; a request that failed for good is its Exception (the row records it)."""
        self.check_requests(requests)
        self.check_alive()
        out = list(self._threads.map(lambda r: self._one(r, sampling, score_ids), requests))
        for result in out:
            if isinstance(result, BudgetMismatch):
                raise BackendUnavailable(str(result))
        if out and all(isinstance(r, RequestFailed) and r.refused for r in out):
            # Every request of the batch refused (400: e.g. an option this server does not know): a
            # set-up error, not a bad input; going on would only fill the output with the same failure.
            raise BackendUnavailable(f"the server refused every request of a batch: {out[0]}")
        return out

    def next_token_scores(self, requests: Sequence[Request], prefixes: Sequence[str],
                          score_ids: Sequence[int]) -> list[list[float]]:
        """The one-pass stage-2 reading: the prompt, then the assistant's answer started with `prefixes[i]`
        (continue_final_message), one step, the raw log-probabilities of `score_ids`."""
        self.check_requests(requests)
        self.check_alive()

        def one(i: int) -> list[float]:
            body = self.payload(requests[i], Sampling(max_new_tokens=1))
            body["messages"].append({"role": "assistant", "content": prefixes[i]})
            body.update(add_generation_prompt=False, continue_final_message=True, logprobs=True,
                        logprob_token_ids=list(score_ids), return_tokens_as_token_ids=True, return_token_ids=True)
            choice = (self.pool.post("/chat/completions", body).get("choices") or [{}])[0]
            completion = self._completion(choice, score_ids)
            if not completion.scores:
                raise RequestFailed("the server returned no log-probabilities (a vLLM server is needed)")
            return completion.scores[0]

        return list(self._threads.map(one, range(len(requests))))

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[str] | Exception]:
        return [r if isinstance(r, Exception) else [c.text for c in r] for r in self.complete(requests, sampling)]

    def check_alive(self) -> None:
        if not self.pool.alive():
            raise ServersDown(self.pool.down_message())

    def close(self) -> None:
        threads = getattr(self, "_threads", None)
        if threads is not None:
            self._threads = None
            threads.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: nothing new starts
            self.pool.close()  # requests in flight end now (their rows were not written: a rerun does them)
            threads.shutdown(wait=True)
