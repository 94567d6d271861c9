"""Loading predictions and ground truth into the columns the comparison uses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from qassess.evaluate.compare.columns import (
    GROUP_CANDIDATES, GT_CANDIDATES, ID_CANDIDATES, PRED_CANDIDATES, clean_text, find_column, list_columns,
    require_column, to_scores,
)
from qassess.evaluate.compare.twoafc import is_pair_table
from qassess.io.tables import Source, Table, read_table
from qassess.errors import UserError

GroundTruth = Union[Source, Sequence[Source], Mapping[str, Source], None]


def ground_truth_sources(items: GroundTruth) -> dict[str, Source]:
    """Name -> source. Strings may be `name=path`; unnamed files are named by their stem."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): v for k, v in items.items()}
    if isinstance(items, (str, Path, pd.DataFrame)):
        items = [items]
    out: dict[str, Source] = {}
    for i, item in enumerate(items):
        if isinstance(item, pd.DataFrame):
            name, src = f"gt{i + 1}", item
        else:
            text = str(item)
            name_part, sep, path_part = text.partition("=")
            if sep and name_part and not Path(text).exists() and "/" not in name_part and "\\" not in name_part:
                name, src = name_part, path_part
            else:
                name, src = Path(text).name.split(".")[0], text
        if name in out:
            raise UserError(f"two ground-truth sources are named {name!r}; name them with name=path")
        out[name] = src
    return out


@dataclass
class Predictions:
    """The predictions as loaded, with where they came from and what was found in them."""

    table: Table
    frame: pd.DataFrame  # columns: id, rating, failed, status, error, [self_check], [expected], [text], [group]
    info: dict[str, Any]


def load_predictions(source: Source, *, id_col: str | None, pred_col: str | None, group_col: str | None,
                     want_text: bool, warnings: list[str]) -> Predictions:
    """Predictions as rows of id, rating, failed, status, error (+ self_check, group, text when present).

    A row failed when its status is not ok or it has no rating; the kind is kept for the counts. Only
    the columns needed are read (a qassess CSV carries long texts)."""
    chosen: dict[str, str | None] = {}
    all_columns: list[str] = []

    def select(columns: list[str], headerless: bool) -> dict[str, str]:
        name = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)
        all_columns[:] = columns
        if headerless and not id_col and not pred_col and len(columns) >= 2:
            chosen.update(id="column1", score="column2")
        else:
            if is_pair_table(columns) and not pred_col:
                raise UserError(f"{name} holds pair verdicts (a, b, winner or p_a): compare them with a human-choice "
                                "table (columns a, b and winner or p_a), or make scores of them with `qassess rank`")
            chosen["id"] = require_column(columns, ID_CANDIDATES, role="id", source=name, override=id_col,
                                          option="--pred-id-col/--id-col")
            chosen["score"] = require_column(columns, PRED_CANDIDATES, role="prediction", source=name,
                                             override=pred_col, option="--pred-col", exclude=[chosen["id"]])
        def find(candidates: tuple[str, ...]) -> str | None:
            return find_column(columns, candidates, role="", source=name, exclude=[chosen["id"], chosen["score"]])

        chosen["status"] = find(("status",))
        chosen["error"] = find(("error",))
        chosen["self_check"] = find(("self_check_rating",))
        chosen["expected"] = find(("rating_expected",))
        chosen["model"] = find(("model",))
        chosen["group"] = find_column(columns, GROUP_CANDIDATES, role="group", source=name,
                                      override=group_col if group_col and group_col in columns else None)
        chosen["caption"] = find(("caption",)) if want_text else None
        chosen["reasoning"] = find(("reasoning", "think")) if want_text else None
        wanted = {chosen["id"]: "text", chosen["score"]: "number"}
        for role in ("status", "error", "model", "group", "caption", "reasoning"):
            if chosen[role]:
                wanted[chosen[role]] = "text"
        for role in ("self_check", "expected"):
            if chosen[role]:
                wanted[chosen[role]] = "number"
        return wanted

    table = read_table(source, select)
    warnings.extend(table.notes)
    raw = table.frame
    if raw.empty:
        raise UserError(f"{table.source}: no prediction rows")
    ids = raw[chosen["id"]].astype("str")
    rating = to_scores(raw[chosen["score"]], column=chosen["score"], source=table.source, ids=ids)
    if chosen["status"]:
        status = clean_text(raw[chosen["status"]]).str.lower()
        status = status.mask(status == "", "ok")
    else:
        status = pd.Series("ok", index=raw.index, dtype="str")
    failed = (status != "ok").to_numpy() | np.isnan(rating)
    status = status.mask((status == "ok").to_numpy() & failed, "missing_rating")
    frame = pd.DataFrame({"id": ids, "rating": rating, "failed": failed, "status": status,
                          "_row": np.arange(len(raw))}, index=raw.index)  # _row: kept through the joins
    frame["error"] = raw[chosen["error"]].astype("str").fillna("") if chosen["error"] else ""
    info: dict[str, Any] = {"source": table.source, "rows": len(frame), "id_col": chosen["id"],
                            "score_col": chosen["score"], "status_col": chosen["status"]}
    if chosen["self_check"]:
        sc = to_scores(raw[chosen["self_check"]], column=chosen["self_check"], source=table.source, ids=ids)
        if np.isfinite(sc).any():
            frame["self_check"] = sc
            info["self_check_col"] = chosen["self_check"]
    if chosen["expected"]:  # the probability-weighted rating (score --probs), scored beside the stated one
        ex = to_scores(raw[chosen["expected"]], column=chosen["expected"], source=table.source, ids=ids)
        if np.isfinite(ex).any():
            frame["expected"] = ex
            info["expected_col"] = chosen["expected"]
    if chosen["group"]:
        frame["group"] = clean_text(raw[chosen["group"]])
        info["group_col"] = chosen["group"]
    if want_text:
        if not chosen["caption"] and not chosen["reasoning"]:
            raise UserError(f"{table.source}: ROUGE-1 needs the generated text: no caption or reasoning column; "
                            f"columns are: {list_columns(all_columns)}")
        parts = [clean_text(raw[c]) for c in (chosen["caption"], chosen["reasoning"]) if c]
        frame["text"] = (parts[0] + " " + parts[1]).str.strip() if len(parts) == 2 else parts[0]
        info["text"] = " + ".join(c for c in (chosen["caption"], chosen["reasoning"]) if c)
    if chosen["model"]:
        models = sorted(str(v).strip() for v in raw[chosen["model"]].dropna().unique() if str(v).strip())
        info["models"] = models[:10]
        if len(models) > 1:
            warnings.append(f"{table.source}: predictions come from {len(models)} models ({', '.join(models[:4])}); "
                            "they are pooled")
    return Predictions(table, frame, info)


def load_ground_truth(name: str, source: Source, *, id_col: str | None, gt_col: str | None,
                      group_col: str | None, warnings: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Ground truth as rows of id, gt (+ group), and what was detected (columns, header)."""
    chosen: dict[str, str | None] = {}

    def select(columns: list[str], headerless: bool) -> dict[str, str]:
        label = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)
        if headerless and not id_col and not gt_col and len(columns) >= 2:
            chosen.update(id="column1", score="column2")
        else:
            chosen["id"] = require_column(columns, ID_CANDIDATES, role="id", source=label, override=id_col,
                                          option="--gt-id-col/--id-col")
            chosen["score"] = require_column(columns, GT_CANDIDATES, role="ground-truth score", source=label,
                                             override=gt_col, option="--gt-col", exclude=[chosen["id"]])
        chosen["group"] = find_column(columns, GROUP_CANDIDATES, role="group", source=label,
                                      override=group_col if group_col and group_col in columns else None,
                                      exclude=[chosen["id"], chosen["score"]])
        wanted = {chosen["id"]: "text", chosen["score"]: "number"}
        if chosen["group"]:
            wanted[chosen["group"]] = "text"
        return wanted

    table = read_table(source, select)
    warnings.extend(table.notes)
    raw = table.frame
    if raw.empty:
        raise UserError(f"{table.source}: no ground-truth rows")
    ids = raw[chosen["id"]].astype("str")
    gt = to_scores(raw[chosen["score"]], column=chosen["score"], source=table.source, ids=ids)
    frame = pd.DataFrame({"id": ids, "gt": gt}, index=raw.index)
    if chosen["group"]:
        frame["group"] = clean_text(raw[chosen["group"]]).replace("", name)
    info = {"source": table.source, "rows": len(frame), "id_col": chosen["id"], "score_col": chosen["score"],
            "group_col": chosen["group"]}
    if table.headerless:
        info["note"] = "no header: column 1 is the id, column 2 the score"
    return frame, info
