"""Asking a model which of two images is better: both images in one prompt, in both orders by default,
the two answers combined into P(a better) and their disagreement kept (position bias).

P(a better) per order comes from the probabilities of the answer words where the backend gives them
(`p_from` = tokens; qassess.pairwise.answer_probs), else from the share of the stated verdicts over
`--samples` (`p_from` = samples; `p_a_samples` keeps that share beside a token reading). A template with
an answer prefix (Compare2Score) is read in one forward pass after it, as its authors read it.

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
from qassess.backends.base import Completion, Request, Sampling
from qassess.core.assessor import Assessor, Settings
from qassess.errors import BUGS, UserError, one_line
from qassess.pairwise import answer_probs
from qassess.pairwise.prompts import Reading, get_pair_template

ASKS = ("pair", "ratings")
VERDICT_FIELDS = ["id", "a", "b", "ref", "winner", "p_a", "p_from", "p_a_samples", "p_ab", "p_ba", "position_flip",
                  "order_gap", "caption", "reasoning", "raw_ab", "raw_ba", "rating_a", "rating_b", "ask", "model",
                  "backend", "template", "status", "error"]
SETUP = ("ask", "model", "template")


def pair_key(a: str, b: str, ref: str | None = None) -> str:
    return f"{a}|{b}" + (f"|{ref}" if ref else "")


class PairJudge:
    """Verdict rows for pairs of image paths ((a, b) or (a, b, ref)), one list per batch (for writers that
    flush per batch)."""

    def __init__(self, settings: Settings, *, ask: str = "pair", template: str = "paper-pair",
                 both_orders: bool = True, loaded_backend=None):
        self.assessor = Assessor(settings, loaded_backend=loaded_backend)
        self.settings, self.ask, self.both_orders = settings, ask, both_orders
        self.template = get_pair_template(template) if ask == "pair" else None
        self.template_name = template if ask == "pair" else self.assessor.template.name
        self._rated: dict[str, dict] = {}  # ask="ratings": each image is rated once per run
        self._reader: tuple | None = None  # (tokenizer, score ids, prefill ids), once the backend is loaded

    def close(self) -> None:
        self.assessor.close()

    def _row(self, pair: tuple) -> dict:
        a, b, ref = (*pair, None)[:3]
        return {**dict.fromkeys(VERDICT_FIELDS), "id": pair_key(a, b, ref), "a": a, "b": b, "ref": ref,
                "ask": self.ask, "model": models.model_id(self.settings.model), "backend": self.assessor.backend_name,
                "template": self.template_name}

    def _check_refs(self, pairs: Sequence[tuple]) -> None:
        with_ref = any(len(p) > 2 and p[2] for p in pairs)
        needs = self.template is not None and self.template.needs_ref
        if needs and not all(len(p) > 2 and p[2] for p in pairs):
            raise UserError(f"--pair-template {self.template_name} compares two images with a reference: every "
                            "pair needs a ref (a pairs table with a ref column)")
        if with_ref and not needs:
            raise UserError(f"the pairs have a reference (column ref), which {self.template_name!r} does not show; "
                            "use a template made for references (q-insight-pair)")

    def judge(self, pairs: Sequence[tuple]) -> Iterator[list[dict]]:
        self._check_refs(pairs)
        self.assessor.backend(len(pairs))
        size = max(1, self.assessor.batch_size // (2 if self.both_orders else 1))
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            yield self._ratings(chunk) if self.ask == "ratings" else self._pairs(chunk)

    # -- both images in one prompt --------------------------------------------------------------
    def _pairs(self, chunk: Sequence[tuple]) -> list[dict]:
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
        for pair in chunk:
            row = self._row(pair)
            bad = [f"{p}: {errors[p]}" for p in pair if p in errors]
            if bad:
                row.update(status="load_error", error="; ".join(bad))
            else:
                a, b = pair[:2]
                orders = [(a, b), (b, a)] if self.both_orders else [(a, b)]
                for first, second in orders:
                    shown = [images[{"a": first, "b": second, "ref": row["ref"]}[s]] for s in self.template.slots]
                    slots.append((len(rows), first == a))
                    requests.append(Request(messages, shown[0], more_images=tuple(shown[1:])))
            rows.append(row)
        outs = self._generate(requests)
        answers: dict[int, dict] = {}
        for (slot, forward), out in zip(slots, outs):
            answers.setdefault(slot, {})["ab" if forward else "ba"] = out
        for slot, got in answers.items():
            self._combine(rows[slot], got)
        return rows

    def _tokens(self) -> tuple:
        """(tokenizer, ids whose scores to record while generating, first-token ids after the answer
        prefix): what reading the answer words' probabilities needs, each None when unavailable."""
        if self._reader is None:
            backend = self.assessor.backend()
            tokenizer = getattr(getattr(backend, "processor", None), "tokenizer", None)
            reads = self.settings.probs and getattr(backend, "reads_probabilities", False) and tokenizer is not None
            words = [w for w, _ in self.template.answers]
            prefix = self.template.answer_prefix
            lead = "" if not prefix or prefix[-1].isspace() else " "
            prefill = reads and prefix and hasattr(backend, "next_token_scores")  # duck-typed plugins may lack it
            self._reader = (tokenizer, answer_probs.candidate_ids(tokenizer, words) if reads else None,
                            answer_probs.first_token_ids(tokenizer, words, lead) if prefill else None)
        return self._reader

    def _generate(self, requests: list[Request]) -> list:
        """Per request: its completions, or P(the first image is better) read after the answer prefix, or
        the Exception it raised; a failing batch is retried one by one so one bad pair costs one row."""
        if not requests:
            return []
        s = self.settings
        sampling = Sampling(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                            max_new_tokens=s.max_new_tokens, n=s.samples, seed=s.seed)
        backend = self.assessor.backend()
        _, score_ids, prefill_ids = self._tokens()
        values = [v for _, v in self.template.answers]

        def run(batch):
            if prefill_ids:
                rows = backend.next_token_scores(batch, [self.template.answer_prefix] * len(batch), prefill_ids)
                return [answer_probs.prefilled(r, values) for r in rows]
            if score_ids:
                return backend.complete(batch, sampling, score_ids)
            return [[Completion(t) for t in texts] for texts in backend.generate(batch, sampling)]

        try:
            return run(requests)
        except NotImplementedError:
            if not prefill_ids:
                raise
            self._reader = (self._reader[0], self._reader[1], None)  # no prefill here: generate and read
            return self._generate(requests)
        except BUGS:
            raise
        except Exception:  # noqa: BLE001 - retried one by one below; a systemic failure repeats there
            outs = []
            for request in requests:
                try:
                    outs += run([request])
                except BUGS:
                    raise
                except Exception as exc:  # noqa: BLE001
                    outs.append(exc)
            return outs

    def _token_p(self, completion: Completion, reading: Reading) -> float | None:
        tokenizer, score_ids, _ = self._tokens()
        if reading.word is None or not score_ids:
            return None
        words = [w for w, _ in self.template.answers]
        values = [v for _, v in self.template.answers]
        return answer_probs.read_completion(completion.text, reading.start, reading.word, words, values,
                                            completion.token_ids, completion.scores, score_ids, tokenizer,
                                            self.assessor.backend().decode)

    def _combine(self, row: dict, got: dict) -> None:
        """P(a better) per order, then their mean: from the answer tokens when every order asked has a
        token reading, else the share of parsed samples naming a (ties half). The row is ok only when
        every order asked gave a verdict."""
        errors, stated, tokens = [], {}, {}
        for order, out in got.items():
            def oriented(p: float, order=order) -> float:
                return 1 - p if order == "ba" else p

            if isinstance(out, Exception):
                errors.append(f"order {order}: {one_line(out)}")
                continue
            if isinstance(out, float):  # read after the answer prefix: nothing was written
                tokens[order] = oriented(out)
                continue
            readings = [self.template.read(c.text) for c in out]
            row[f"raw_{order}"] = out[0].text
            if order == "ab" or row["caption"] is None:
                row["caption"], row["reasoning"] = readings[0].caption, readings[0].reasoning
            values = [r.value for r in readings if r.value is not None]
            if values:
                stated[order] = oriented(statistics.fmean(values))
            read = [p for p in (self._token_p(c, r) for c, r in zip(out, readings) if r.value is not None)
                    if p is not None]
            if read:
                tokens[order] = oriented(statistics.fmean(read))
            failed = [r.error for r in readings if r.value is None]
            if failed and not values:
                errors.append(f"order {order}: {failed[0]}")
            elif failed:
                errors.append(f"order {order}: {len(failed)} of {len(readings)} samples gave no verdict")
        use, source = (tokens, "tokens") if len(tokens) == len(got) else (stated, "samples")
        use = {order: round(p, 4) for order, p in use.items()}  # what the row shows is what decides
        for order, p in use.items():  # kept on a failed row too: what the order that answered said
            row[f"p_{order}"] = p
        if len(use) < len(got):
            row.update(status="generation_error" if any(isinstance(o, Exception) for o in got.values())
                       else "parse_error", error="; ".join(errors))
            return
        if len(stated) == len(got):
            row["p_a_samples"] = round(statistics.fmean(stated.values()), 4)
        self._verdict(row, statistics.fmean(use.values()), "; ".join(errors) or None, source)
        if len(use) == 2:
            row["order_gap"] = round(abs(use["ab"] - use["ba"]), 4)
            row["position_flip"] = int(_side(use["ab"]) != _side(use["ba"]))

    @staticmethod
    def _verdict(row: dict, p_a: float, note: str | None, source: str) -> None:
        p_a = round(p_a, 4)  # the winner is the side of the p_a the row shows
        row.update(p_a=p_a, winner=_side(p_a), p_from=source, status="ok", error=note)

    # -- each image rated alone -----------------------------------------------------------------
    def _ratings(self, chunk: Sequence[tuple[str, str]]) -> list[dict]:
        from pathlib import Path

        paths = [x for x in dict.fromkeys(x for pair in chunk for x in pair) if x not in self._rated]
        self._rated.update(zip(paths, self.assessor.score([Path(p) for p in paths])))
        rated = self._rated
        rows = []
        for a, b in chunk:
            row = self._row((a, b))
            ra, rb = rated[a], rated[b]
            row.update(rating_a=ra["rating"], rating_b=rb["rating"], raw_ab=ra["raw"], raw_ba=rb["raw"])
            bad = [f"{x}: {r['error']}" for x, r in ((a, ra), (b, rb)) if r["status"] != "ok"]
            if bad:
                row.update(status=next(r["status"] for r in (ra, rb) if r["status"] != "ok"), error="; ".join(bad))
            else:
                self._verdict(row, thurstone_p(ra, rb), None, "ratings")
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
