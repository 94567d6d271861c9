"""Asking a model which of two images is better: both images in one prompt, in both orders by default,
the two answers combined into P(a better) and their disagreement kept (position bias).

`ask="ratings"` is for models that only rate single images (the embedded demo model): each image is
rated alone with the model's own template and the pair's P(a better) is Thurstone's
Phi((mean_a - mean_b) / sqrt(var_a + var_b)) over the sampled ratings (1, 0 or 1/2 for single ratings),
as VisualQuality-R1 compares ratings.
"""
from __future__ import annotations

import math
import statistics
from typing import Iterator, Sequence

from qassess import models
from qassess.backends.base import Request, Sampling
from qassess.core.assessor import Assessor, Settings
from qassess.errors import one_line
from qassess.pairwise.prompts import get_pair_template, parse_verdict

ASKS = ("pair", "ratings")
VERDICT_FIELDS = ["id", "a", "b", "winner", "p_a", "p_ab", "p_ba", "position_flip", "order_gap", "caption",
                  "reasoning", "raw_ab", "raw_ba", "rating_a", "rating_b", "ask", "model", "backend", "template",
                  "status", "error"]
SETUP = ("ask", "model", "template")
_SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5}


def pair_key(a: str, b: str) -> str:
    return f"{a}|{b}"


class PairJudge:
    """Verdict rows for pairs of image paths, one list per batch (for writers that flush per batch)."""

    def __init__(self, settings: Settings, *, ask: str = "pair", template: str = "paper-pair",
                 both_orders: bool = True, loaded_backend=None):
        self.assessor = Assessor(settings, loaded_backend=loaded_backend)
        self.settings, self.ask, self.both_orders = settings, ask, both_orders
        self.template = get_pair_template(template) if ask == "pair" else None
        self.template_name = template if ask == "pair" else self.assessor.template.name
        self._rated: dict[str, dict] = {}  # ask="ratings": each image is rated once per run

    def close(self) -> None:
        self.assessor.close()

    def _row(self, a: str, b: str) -> dict:
        return {**dict.fromkeys(VERDICT_FIELDS), "id": pair_key(a, b), "a": a, "b": b, "ask": self.ask,
                "model": models.model_id(self.settings.model), "backend": self.assessor.backend_name,
                "template": self.template_name}

    def judge(self, pairs: Sequence[tuple[str, str]]) -> Iterator[list[dict]]:
        self.assessor.backend(len(pairs))
        size = max(1, self.assessor.batch_size // (2 if self.both_orders else 1))
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            yield self._ratings(chunk) if self.ask == "ratings" else self._pairs(chunk)

    # -- both images in one prompt --------------------------------------------------------------
    def _pairs(self, chunk: Sequence[tuple[str, str]]) -> list[dict]:
        from qassess.io.images import load_image

        budget = self.assessor.image_budget()
        images, errors = {}, {}
        for path in dict.fromkeys(x for pair in chunk for x in pair):
            try:
                images[path] = load_image(path, budget)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is recorded on its rows
                errors[path] = one_line(exc)
        rows, requests, slots = [], [], []
        messages = self.template.messages()
        for a, b in chunk:
            row = self._row(a, b)
            bad = [f"{p}: {errors[p]}" for p in (a, b) if p in errors]
            if bad:
                row.update(status="load_error", error="; ".join(bad))
            else:
                orders = [(a, b), (b, a)] if self.both_orders else [(a, b)]
                for first, second in orders:
                    slots.append((len(rows), first == a))
                    requests.append(Request(messages, images[first], more_images=(images[second],)))
            rows.append(row)
        outs = self._generate(requests)
        answers: dict[int, dict] = {}
        for (slot, forward), out in zip(slots, outs):
            answers.setdefault(slot, {})["ab" if forward else "ba"] = out
        for slot, got in answers.items():
            self._combine(rows[slot], got)
        return rows

    def _generate(self, requests: list[Request]) -> list:
        """Texts per request; a failing batch is retried one by one so one bad pair costs one row."""
        if not requests:
            return []
        s = self.settings
        sampling = Sampling(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, n=s.samples, seed=s.seed)
        backend = self.assessor.backend()
        try:
            return backend.generate(requests, sampling)
        except Exception:  # noqa: BLE001 - retried one by one below; a systemic failure repeats there
            outs = []
            for request in requests:
                try:
                    outs += backend.generate([request], sampling)
                except Exception as exc:  # noqa: BLE001
                    outs.append(exc)
            return outs

    def _combine(self, row: dict, got: dict) -> None:
        """P(a better) per order (the share of parsed samples naming a, ties half), then their mean; the
        row is ok only when every order asked gave a verdict."""
        errors, p = [], {}
        for order, out in got.items():
            if isinstance(out, Exception):
                errors.append(f"order {order}: {one_line(out)}")
                continue
            parsed = [parse_verdict(text) for text in out]
            scores = [_SCORE[w] for w, *_ in parsed if w is not None]
            if order == "ba":
                scores = [1 - x for x in scores]
            row[f"raw_{order}"] = out[0]
            if order == "ab" or row["caption"] is None:
                row["caption"], row["reasoning"] = parsed[0][1], parsed[0][2]
            if scores:
                p[order] = statistics.fmean(scores)
                row[f"p_{order}"] = round(p[order], 4)
            failed = [why for w, _, _, why in parsed if w is None]
            if failed and not scores:
                errors.append(f"order {order}: {failed[0]}")
            elif failed:
                errors.append(f"order {order}: {len(failed)} of {len(parsed)} samples gave no verdict")
        if len(p) < len(got):
            row.update(status="generation_error" if any(isinstance(o, Exception) for o in got.values())
                       else "parse_error", error="; ".join(errors))
            return
        self._verdict(row, statistics.fmean(p.values()), "; ".join(errors) or None)
        if len(p) == 2:
            row["order_gap"] = round(abs(p["ab"] - p["ba"]), 4)
            row["position_flip"] = int(_side(p["ab"]) != _side(p["ba"]))

    @staticmethod
    def _verdict(row: dict, p_a: float, note: str | None) -> None:
        row.update(p_a=round(p_a, 4), winner=_side(p_a), status="ok", error=note)

    # -- each image rated alone -----------------------------------------------------------------
    def _ratings(self, chunk: Sequence[tuple[str, str]]) -> list[dict]:
        from pathlib import Path

        paths = [x for x in dict.fromkeys(x for pair in chunk for x in pair) if x not in self._rated]
        self._rated.update(zip(paths, self.assessor.score([Path(p) for p in paths])))
        rated = self._rated
        rows = []
        for a, b in chunk:
            row = self._row(a, b)
            ra, rb = rated[a], rated[b]
            row.update(rating_a=ra["rating"], rating_b=rb["rating"], raw_ab=ra["raw"], raw_ba=rb["raw"])
            bad = [f"{x}: {r['error']}" for x, r in ((a, ra), (b, rb)) if r["status"] != "ok"]
            if bad:
                row.update(status=next(r["status"] for r in (ra, rb) if r["status"] != "ok"), error="; ".join(bad))
            else:
                self._verdict(row, thurstone_p(ra, rb), None)
            rows.append(row)
        return rows


def thurstone_p(ra: dict, rb: dict) -> float:
    """P(a better) from two rating records: Phi of the mean difference over the samples' spread."""
    from scipy.stats import norm

    delta = ra["rating"] - rb["rating"]
    var = (ra.get("rating_std") or 0.0) ** 2 + (rb.get("rating_std") or 0.0) ** 2
    if var == 0:
        return 1.0 if delta > 0 else 0.0 if delta < 0 else 0.5
    return float(norm.cdf(delta / math.sqrt(var)))


def _side(p: float) -> str:
    return "a" if p > 0.5 else "b" if p < 0.5 else "tie"
