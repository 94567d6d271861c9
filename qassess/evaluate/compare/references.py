"""Reference texts (the Q-Reasoning formats or any id + text table) and ROUGE-1 against them."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate import metrics
from qassess.evaluate.compare.columns import ID_CANDIDATES, REF_CANDIDATES, find_column, require_column
from qassess.evaluate.compare.join import PredIndex, arrow, choose_level, dedupe, lookup
from qassess.io.tables import Source, Table, read_table
from qassess.errors import UserError

QREASONING_FIELDS = ("description", "good_aspect", "bad_aspect")

_TRANSLATION = re.compile(r"<translation>(.*?)(?:</translation>|$)", re.S | re.I)

_SUMMARIZE = re.compile(r"<summarize>.*?(?:</summarize>|$)", re.S | re.I)

_TAG = re.compile(r"</?(?:translation|summarize)>", re.I)

_QUOTES = "\"'\u201c\u201d\u2018\u2019`"


def english_text(value: Any) -> str:
    """The English part of one Q-Reasoning annotation field, whatever its form: {"answer": text}
    (human_test.json), a list of strings (filted_data_human_eng.json), or "<summarize>JP</summarize>
    <translation>EN</translation>" with stray whitespace and quotes, or with the tags missing
    (koniq_cot_constrain / cot_reasoning_test / mixed_cot). A lone " " means no annotation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, dict):
        return english_text(value.get("answer", ""))
    if isinstance(value, (list, tuple)):
        return " ".join(t for t in (english_text(v) for v in value) if t)
    text = str(value)
    parts = _TRANSLATION.findall(text) or [_SUMMARIZE.sub(" ", text)]
    cleaned = (" ".join(_TAG.sub(" ", p).split()).strip(_QUOTES + " ,") for p in parts)
    return " ".join(p for p in cleaned if p)


def load_references(source: Source, *, id_col: str | None = None,
                    ref_col: str | None = None) -> tuple[Table, str, str]:
    """Reference texts keyed by image id: the Q-Reasoning formats (description + good_aspect +
    bad_aspect, English parts) or any table with an id and a text column. Returns the table with
    columns `id` and `reference` (+ `good`, `bad`: the English aspects, for Q-Reasoning files), the id
    column and a description of the text used."""
    table = read_table(source)
    cols = list(table.frame.columns)
    idc = require_column(cols, ID_CANDIDATES, role="id", source=table.source, override=id_col, option="--ref-id-col")
    if ref_col is None and all(find_column(cols, (f,), role="", source="") for f in QREASONING_FIELDS):
        fields = [find_column(cols, (f,), role="", source="") for f in QREASONING_FIELDS]
        english = [[english_text(v) for v in table.frame[f].tolist()] for f in fields]
        texts = [" ".join(t for t in row if t) for row in zip(*english)]
        split = {"good": english[1], "bad": english[2]}  # the human verdicts of the attribute agreement
        used = "Q-Reasoning: English parts of description + good_aspect + bad_aspect"
    else:
        textc = require_column(cols, REF_CANDIDATES + ("description", "caption"), role="reference text",
                               source=table.source, override=ref_col, option="--ref-col", exclude=[idc])
        texts = [english_text(v) for v in table.frame[textc].tolist()]
        split = {}
        used = f"column {textc!r}"
    table.frame = pd.DataFrame({"id": table.frame[idc].astype("str"), "reference": texts, **split})
    return table, idc, used


@dataclass
class Matched:
    """Predictions paired with their reference text, after the failure policy: `rows` are the original
    prediction rows scored, `texts` their generated text, `references` (and `good` / `bad` when the
    references split them) the human side."""

    rows: np.ndarray
    texts: list[str]
    references: list[str]
    good: list[str] | None
    bad: list[str] | None
    n_all: int
    in_kept: np.ndarray  # by original row: kept after the duplicate policy
    with_ref: np.ndarray  # by original row: has a usable reference
    empty: np.ndarray  # by original row: scored with an empty generated text
    info: dict[str, Any]


def match_references(refs: Source, index: PredIndex, *, failures: str, duplicates: str, id_col: str | None,
                     ref_col: str | None, warnings: list[str]) -> Matched:
    """The predictions that have a usable reference text, each with it.

    The failure policy applies here too: failed rows are excluded, scored as they are (usually empty
    text, so 0) under `worst`, or refused under `error`."""
    table, idc, used = load_references(refs, id_col=id_col, ref_col=ref_col)
    warnings.extend(table.notes)
    level, rkeys, _, _ = choose_level(index, table.frame["id"])
    has_words = table.frame["reference"].str.contains(r"[A-Za-z0-9]", regex=True).to_numpy()
    rkeyed = table.frame.assign(key=rkeys.to_numpy(zero_copy_only=False), usable=has_words)
    rdedup, ref_dups, _ = dedupe(rkeyed, "error" if duplicates == "error" else "first", usable="usable",
                                 mean_cols=[], what="reference", source=table.source)
    pa, _ = arrow()
    kept, kept_keys, _, _ = index.at(level)
    pos = lookup(kept_keys, pa.array(rdedup["key"].to_numpy(dtype=object), type=pa.large_string()))
    has_ref = (pos >= 0) & rdedup["usable"].to_numpy()[np.maximum(pos, 0)]
    failed = kept["failed"].to_numpy()
    if failures == "error" and (has_ref & failed).any():
        raise UserError(f"{int((has_ref & failed).sum())} predictions with a reference text failed; "
                        "use --failures exclude or worst")
    scored = has_ref & ~failed if failures == "exclude" else has_ref
    idx = np.flatnonzero(scored)
    n_all = len(index.frame)
    rows = kept["_row"].to_numpy()
    texts = [str(t) for t in kept["text"].to_numpy(dtype=object)[idx]]

    def column(name: str) -> list[str] | None:
        return [str(t) for t in rdedup[name].to_numpy(dtype=object)[pos[idx]]] if name in rdedup else None

    empty = np.zeros(n_all, dtype=bool)
    empty[rows[idx]] = [not t.strip() for t in texts]
    in_kept, with_ref = np.zeros(n_all, dtype=bool), np.zeros(n_all, dtype=bool)
    in_kept[rows], with_ref[rows[has_ref]] = True, True
    info = {"source": table.source, "rows": len(table.frame), "id_col": idc, "text": used, "match_by": level,
            "with_reference": int(has_ref.sum()), "duplicate_rows": ref_dups,
            "predictions_without_reference": int((~has_ref).sum()),
            "failed_excluded": int((has_ref & failed).sum()) if failures == "exclude" else 0}
    if idx.size == 0:
        warnings.append(f"{table.source}: no prediction has a usable reference text (matched by {level}); "
                        "no text measures")
    return Matched(rows=rows[idx], texts=texts, references=column("reference") or [], good=column("good"),
                   bad=column("bad"), n_all=n_all, in_kept=in_kept, with_ref=with_ref, empty=empty, info=info)


def fill(match: Matched, values: np.ndarray, names: tuple[str, ...], key: str, per_row: pd.DataFrame | None,
         groups: dict[str, dict[str, Any]], overall: dict[str, Any], summarize: Any = None) -> None:
    """Per-row values (one column per name, by scored row) into the per-row table, and their means (or
    `summarize(values_by_row, selection)`) under `key` in `overall` and in each group that has any."""
    by_row = np.full((match.n_all, len(names)), np.nan)
    by_row[match.rows] = values

    def summary(sel: np.ndarray) -> dict[str, Any]:
        if summarize is not None:
            out = summarize(by_row, sel)
        else:
            v = by_row[sel & np.isfinite(by_row[:, 0])]
            means = v.mean(axis=0) if len(v) else [None] * len(names)
            out = {"n": int(len(v)), **dict(zip(names, means))}
        out.update(no_reference=int((sel & match.in_kept & ~match.with_ref).sum()),
                   empty_generation=int((sel & match.empty).sum()))
        return out

    overall[key] = summary(match.in_kept)
    if per_row is None:
        return
    row_ids = per_row["_row"].to_numpy()
    for j, name in enumerate(names):
        per_row[f"{key}_{name}"] = by_row[row_ids, j]
    for g in groups:
        sel = np.zeros(match.n_all, dtype=bool)
        sel[row_ids[per_row["group"].to_numpy() == g]] = True
        if np.isfinite(by_row[sel, 0]).any():
            groups[g][key] = summary(sel)


def add_rouge(match: Matched, per_row: pd.DataFrame | None, groups: dict[str, dict[str, Any]],
              overall: dict[str, Any], *, stem: bool) -> pd.DataFrame | None:
    """ROUGE-1 (precision, recall, F1) of caption + reasoning against the reference text."""
    if not match.texts:
        return per_row
    values = metrics.rouge1(match.references, match.texts, stem=stem)
    fill(match, values, ("precision", "recall", "f1"), "rouge1", per_row, groups, overall)
    return per_row
