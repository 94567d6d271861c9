"""The Python API behind `qassess score`: images or captions in, one record per input out."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from qassess import models
from qassess.backends.base import Sampling
from qassess.errors import BUGS, UserError, described
from qassess.io.images import DEFAULT_MAX_DECODE_PIXELS
from qassess.core.parsing import Parsed, parse_completion
from qassess.core.prompts import Template, get_template

# vLLM schedules a large call itself and was 1.5x faster with all images in one call than with 8 per
# call (bench_backends); transformers pads a batch to its longest prompt, so it wants small ones.
DEFAULT_BATCH = {"vllm": 64, "openai": 64}  # openai: requests in flight come from --max-in-flight
DEFAULT_BATCH_OTHER = 8


@dataclass
class Settings:
    """Everything that shapes a run besides the inputs (flat, like the CLI options)."""

    model: str = models.DEFAULT_ID  # the embedded default (qassess.models); a preset, folder or hub id otherwise
    backend: str = "auto"
    # None below = not set: a preset's value (qassess.models.presets) if `model` names one, else GENERIC_DEFAULTS.
    template: str | None = None
    batch_size: int | None = None  # None: what suits the backend (DEFAULT_BATCH)
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    max_new_tokens: int | None = None
    samples: int = 1
    self_check: bool = False
    # generate: stage 2 writes its own reasoning and answer (the paper's way); prefill: one forward pass
    # reads the rating distribution right after the caption and the start of the answer (rating_probs).
    self_check_mode: str = "generate"
    probs: bool = True  # rating_expected / rating_probs from the digit tokens' probabilities
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_decode_pixels: int = DEFAULT_MAX_DECODE_PIXELS
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    workers: int = 2
    backend_options: dict = field(default_factory=dict)
    presets: str | None = None  # a user presets YAML file (default: $QASSESS_PRESETS)
    from_preset: list = field(default_factory=list)  # filled in: the settings a preset supplied

    def __post_init__(self) -> None:
        self._apply_preset()
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        if self.samples < 1:
            raise UserError("--samples must be at least 1")
        if self.samples > 1 and self.temperature == 0:
            raise UserError("--samples above 1 needs --temperature above 0 (greedy samples are identical)")
        if self.max_new_tokens < 1:
            raise UserError("--max-new-tokens must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise UserError("--temperature must be >= 0 and --top-p in (0, 1]")
        if self.self_check_mode not in SELF_CHECK_MODES:
            raise UserError(f"--self-check-mode must be one of {', '.join(SELF_CHECK_MODES)}, "
                            f"not {self.self_check_mode!r}")


    def _apply_preset(self) -> None:
        """Fill every unset option from the model's preset (its authors' prompt and sampling), else from
        qassess's generic defaults; a hub id or folder alone gets the generic ones."""
        from qassess.models.presets import get_preset

        preset = get_preset(models.DEFAULT_ID if models.is_default(self.model) else self.model, self.presets)
        for key, generic in GENERIC_DEFAULTS.items():
            if getattr(self, key) is not None:
                continue
            value = None
            if preset is not None:
                value = preset.template if key == "template" else preset.sampling.get(key)
            if value is not None:
                self.from_preset.append(key)
            setattr(self, key, generic if value is None else value)


SELF_CHECK_MODES = ("generate", "prefill")

# What an option is when neither the user nor a preset sets it: the paper's template and the backends'
# own sampling defaults (greedy, seed None: unseeded).
GENERIC_DEFAULTS = {"template": "paper", **{key: getattr(Sampling, key)
                                            for key in ("temperature", "top_p", "top_k", "max_new_tokens", "seed")}}


def summarize_samples(texts: Sequence[str], read: Callable[[int, Parsed], tuple | None] | None = None) -> dict:
    """One record's rating fields from n sampled texts: the mean of the parsed ratings and their spread.

    Caption, reasoning and raw text come from the sample whose rating is nearest the mean, so the
    explanation shown agrees with the number shown. Unparseable samples are counted, never imputed.
    `read(i, parsed)` gives sample i's probability reading (qassess.core.rating_probs), asked only of the
    samples that parsed: their mean is the expected rating and its distribution.
    """
    from qassess.core import rating_probs

    parsed = [parse_completion(t) for t in texts]
    good = [p for p in parsed if p.ok]
    ratings = [p.rating for p in parsed]
    fields = {"ratings": ratings if len(texts) > 1 else None}
    if not good:
        first = parsed[0]
        errors = dict.fromkeys(p.error for p in parsed)
        return {**fields, "rating": None, "caption": first.caption, "reasoning": first.reasoning,
                "raw": texts[0], "status": "parse_error", "error": "; ".join(errors), "rating_std": None,
                "rating_expected": None, "rating_probs": None}
    mean = statistics.fmean(p.rating for p in good)
    chosen = min(range(len(parsed)), key=lambda i: abs(parsed[i].rating - mean) if parsed[i].ok else math.inf)
    failed = len(parsed) - len(good)
    return {
        **fields,
        "rating": round(mean, 4),
        "rating_std": round(statistics.pstdev(p.rating for p in good), 4) if len(texts) > 1 else None,
        "caption": parsed[chosen].caption,
        "reasoning": parsed[chosen].reasoning,
        "raw": texts[chosen],
        "status": "ok",
        "error": f"{failed} of {len(parsed)} samples unparseable" if failed else None,
        **rating_probs.summarize([read(i, p) if read else None for i, p in enumerate(parsed) if p.ok]),
    }


def _batched(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Assessor:
    """Loads the backend on first use, then rates batches; `score`/`score_captions` yield records in
    input order, `iter_image_batches`/`iter_caption_batches` yield one list per batch (for writers that
    flush per batch)."""

    def __init__(self, settings: Settings | None = None, /, *, loaded_backend=None, **options):
        """`loaded_backend`: an already created Backend to use (e.g. one vLLM engine shared by several
        assessors); it is then not closed by `close()`."""
        self.settings = settings or Settings(**options)
        self.template: Template = get_template(self.settings.template)
        if self.settings.self_check and not self.template.has_caption_stage:
            raise UserError(f"--self-check needs a caption-only stage, which template {self.template.name!r} lacks")
        self.resolved = None  # models.Resolved, once the backend is created
        self._backend = loaded_backend
        self._owns_backend = loaded_backend is None
        self.backend_reason: str | None = None
        self._digits: list[int] | None = None  # digit token ids, once the backend is loaded

    # -- backend -------------------------------------------------------------------------------
    def backend(self, expected_items: int | None = None):
        if self._backend is None:
            from qassess.backends import backend_class, create_backend, resolve_auto

            s = self.settings
            name, extra = s.backend, {}
            if name != "auto" and backend_class(name).remote:  # --model names a served model
                self.resolved, extra["local_copy"] = models.remote_model(s.model, s.presets)
            else:
                self.resolved = models.resolve_model(s.model, s.presets)
            if name == "auto":
                name, self.backend_reason = resolve_auto(self.resolved.path, expected_items)
            self._backend = create_backend(
                name, self.resolved.path, dtype=s.dtype, device=s.device, min_pixels=s.min_pixels,
                max_pixels=s.max_pixels, trust_remote_code=s.trust_remote_code, **extra, **s.backend_options)
        return self._backend

    @property
    def batch_size(self) -> int:
        if self.settings.batch_size:
            return self.settings.batch_size
        return DEFAULT_BATCH.get(self.backend_name or "", DEFAULT_BATCH_OTHER)

    @property
    def backend_name(self) -> str | None:
        return self._backend.name if self._backend is not None else None

    def close(self) -> None:
        if self._backend is not None and self._owns_backend:
            self._backend.close()
        self._backend = None

    def __enter__(self) -> "Assessor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _sampling(self, n: int):
        s = self.settings
        return Sampling(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                        max_new_tokens=s.max_new_tokens, n=n, seed=s.seed)

    def _digit_ids(self) -> list[int] | None:
        from qassess.core import rating_probs

        if self._digits is None:
            tokenizer = getattr(self._backend.processor, "tokenizer", None)  # a remote backend may have none
            self._digits = (rating_probs.digit_token_ids(tokenizer) if tokenizer is not None else None) or []
        return self._digits or None

    def _generate(self, requests: list, n: int) -> list[list | Exception]:
        """Completions per request; a failing batch is retried one by one so one bad input costs one row."""
        if not requests:
            return []
        from qassess.backends.base import BackendUnavailable, Completion

        sampling = self._sampling(n)
        reads = getattr(self._backend, "reads_probabilities", False)  # plugins may only implement generate
        score_ids = self._digit_ids() if self.settings.probs and reads else None

        def complete(batch):
            if hasattr(self._backend, "complete"):
                return self._backend.complete(batch, sampling, score_ids)
            return [[Completion(t) for t in texts] for texts in self._backend.generate(batch, sampling)]

        try:
            return complete(requests)
        except (BackendUnavailable, *BUGS):
            raise  # a bug is a traceback, never a row that every rerun would retry
        except Exception as exc:  # noqa: BLE001 - recorded per row below, or raised if systemic
            if len(requests) == 1:
                return [exc]
            first = exc
        outs: list[list | Exception] = []
        for request in requests:
            try:
                outs.extend(complete([request]))
            except (BackendUnavailable, *BUGS):
                raise
            except Exception as exc:  # noqa: BLE001
                outs.append(exc)
        if all(isinstance(o, Exception) for o in outs):
            first.add_note("generation failed for every input of a batch, one by one too: not a bad input")
            raise first
        return outs

    def _check_alive(self) -> None:
        """After a batch was handed out (and written): stop when the backend can serve no more (every
        remote server down). Duck-typed backends without the check are taken as always alive."""
        check = getattr(self._backend, "check_alive", None)
        if check is not None:
            check()

    # -- records -------------------------------------------------------------------------------
    def _base(self, mode: str, id_: str, path: str) -> dict:
        from qassess.core import record

        s = self.settings
        return {**record.empty(), "id": id_, "path": path, "mode": mode, "model": models.model_id(s.model), "backend": self.backend_name,
                "template": self.template.name}

    def _finish(self, record: dict, out: list | Exception) -> dict:
        from qassess.core import rating_probs

        if isinstance(out, Exception):
            return {**record, "status": "generation_error", "error": described(out)}
        read = None
        if self.settings.probs and any(c.scores is not None for c in out):
            def read(i: int, parsed: Parsed):
                c = out[i]
                return rating_probs.read_completion(c.text, parsed.span, c.token_ids, c.scores, self._backend.decode)
        return {**record, **summarize_samples([c.text for c in out], read)}

    def _self_check(self, records: list[dict]) -> None:
        """Stage 2 on each record's own caption (no image): a second opinion and its gap."""
        from qassess.backends.base import Request

        todo = [r for r in records if r["status"] == "ok"]
        for r in todo:
            if not r.get("caption"):
                r["self_check_error"] = "no caption to re-rate"
        todo = [r for r in todo if r.get("caption")]
        chat = self.template.chat_template_kwargs
        requests = [Request(self.template.caption_messages(r["caption"]), chat_kwargs=chat) for r in todo]
        if self.settings.self_check_mode == "prefill":
            self._self_check_prefill(todo, requests)
            return
        outs = self._generate(requests, 1)
        for r, out in zip(todo, outs):
            if isinstance(out, Exception):
                r["self_check_error"] = described(out)
                continue
            text = out[0].text
            parsed: Parsed = parse_completion(text)
            r["self_check_raw"] = text
            if parsed.ok:
                r["self_check_rating"] = parsed.rating
                r["self_check_gap"] = round(abs(parsed.rating - r["rating"]), 4)
            else:
                r["self_check_error"] = parsed.error

    def _self_check_prefill(self, todo: list[dict], requests: list) -> None:
        """The stage-2 rating read in one forward pass: prompt + caption + the start of the answer, then
        the expected rating over the digit tokens at that point (no reasoning is written)."""
        from qassess.core import rating_probs

        digits = self._digit_ids()
        if not digits:
            raise UserError("--self-check-mode prefill needs a tokenizer that writes each digit as one token")
        if not todo:
            return
        prefix = rating_probs.STAGE2_ANSWER_PREFIX
        try:
            rows = self._backend.next_token_scores(requests, [prefix] * len(requests), digits)
        except NotImplementedError as exc:
            raise UserError(f"--self-check-mode prefill: {exc}; use --self-check-mode generate") from None
        except BUGS:
            raise
        except Exception as exc:  # noqa: BLE001 - one batch's failure is recorded on its rows
            for r in todo:
                r["self_check_error"] = described(exc)
            return
        for r, row in zip(todo, rows):
            expected, _ = rating_probs.expected_rating([row])
            r["self_check_rating"] = round(expected, 4)
            r["self_check_gap"] = round(abs(expected - r["rating"]), 4)

    # -- image mode ----------------------------------------------------------------------------
    def image_budget(self, expected_items: int | None = None):
        """The backend's pixel budget as the loader's PixelBudget (loads the backend on first use)."""
        from qassess.io.images import PixelBudget

        min_px, max_px, factor = self.backend(expected_items).pixel_budget()
        return PixelBudget(min_pixels=min_px, max_pixels=max_px, factor=factor,
                           max_decode_pixels=self.settings.max_decode_pixels)

    def iter_image_batches(self, paths: Sequence) -> Iterator[list[dict]]:
        """`paths`: image file paths, or qassess.io.sources.ImageItem (shard members, object-store files)."""
        from qassess.io.images import prefetch_images

        budget = self.image_budget(len(paths))
        loaded = prefetch_images(paths, budget, workers=self.settings.workers, ahead=max(2 * self.batch_size, 8))
        try:
            for chunk in _batched(loaded, self.batch_size):
                yield self.score_loaded(chunk, budget.max_pixels)
                self._check_alive()
        finally:
            loaded.close()

    def score_loaded(self, chunk: Sequence[tuple], max_pixels: int, ids: Sequence[str] | None = None) -> list[dict]:
        """Records for one batch of images loaded elsewhere: (path or ImageItem, image or None, load error)
        each, in order; `ids` overrides the default id (the item's id, else the file stem). Engines that load images themselves (Ray
        workers reading object-store bytes) share prompts, parsing and records through here."""
        from qassess.backends.base import Request

        s = self.settings
        messages = self.template.image_messages()
        records, requests, slots = [], [], []
        for i, (item, image, error) in enumerate(chunk):
            id_, path = (item.id, item.path) if hasattr(item, "id") else (_stem(item), str(item))
            record = {**self._base("image", ids[i] if ids is not None else id_, path), "max_pixels": max_pixels}
            if image is None:
                record.update(status="load_error", error=error)
            else:
                record["pixels"] = image.width * image.height
                slots.append(len(records))
                requests.append(Request(messages, image, chat_kwargs=self.template.chat_template_kwargs))
            records.append(record)
        for slot, out in zip(slots, self._generate(requests, s.samples)):
            records[slot] = self._finish(records[slot], out)
        if s.self_check:
            self._self_check(records)
        return records

    def score(self, paths: Iterable[str | Path]) -> Iterator[dict]:
        for batch in self.iter_image_batches([p if hasattr(p, "read") else Path(p) for p in paths]):
            yield from batch

    # -- caption mode --------------------------------------------------------------------------
    def iter_caption_batches(self, items: Sequence) -> Iterator[list[dict]]:
        """Rate captions alone (stage 2): `items` have `.id`, `.caption`, `.source`."""
        from qassess.backends.base import Request

        self.backend(len(items))
        for chunk in _batched(items, self.batch_size):
            records = [{**self._base("caption", it.id, it.source)} for it in chunk]
            requests = [Request(self.template.caption_messages(it.caption), chat_kwargs=self.template.chat_template_kwargs)
                        for it in chunk]
            for i, out in enumerate(self._generate(requests, self.settings.samples)):
                records[i] = self._finish(records[i], out)
                records[i]["caption"] = chunk[i].caption  # the input, not a (missing) generated caption
            yield records
            self._check_alive()

    def score_captions(self, items: Iterable) -> Iterator[dict]:
        for batch in self.iter_caption_batches(list(items)):
            yield from batch


def _stem(path: str | Path) -> str:
    """The file name without its extension, for local paths and URIs alike (s3://b/x.jpg -> x)."""
    return Path(str(path).rstrip("/").rsplit("/", 1)[-1]).stem
