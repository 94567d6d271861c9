"""Joining by image id: keys at several levels (path, parent/name, name, stem), duplicates, the match."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from qassess.errors import UserError

LEVELS = ("path", "parent/name", "name", "stem")  # most specific first


def arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.compute (imported on use: `import qassess` stays fast)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise UserError("qassess compare needs pyarrow (pip install pyarrow)") from None
    return pa, pc


def id_keys(ids: pd.Series, level: str) -> Any:
    """Join keys at one level as an Arrow string array (null where the id is empty): the path as
    given (slashes unified, leading ./ dropped), the last folder and the file name, the file name,
    or the stem (the name without its last extension). Arrow's hashing is several times faster than
    Python strings on a million ids."""
    pa, pc = arrow()
    keys = pa.array(ids.astype("str"))
    keys = pc.utf8_trim_whitespace(keys.cast(pa.large_string()) if keys.type != pa.large_string() else keys)
    if level == "path":
        keys = pc.replace_substring_regex(pc.replace_substring(keys, "\\", "/"), r"^(?:\./)+", "")
    elif level == "parent/name":  # e.g. LIVE's jp2k/img1.bmp and jpeg/img1.bmp
        keys = pc.replace_substring_regex(pc.replace_substring(keys, "\\", "/"), r"^.*/([^/]*/[^/]*)$", r"\1")
    else:
        if pc.any(pc.match_substring_regex(keys, r"[/\\]")).as_py():
            keys = pc.replace_substring_regex(keys, r"^.*[/\\]", "")
        if level == "stem":
            keys = pc.replace_substring_regex(keys, r"^(.+)\.[^.]*$", r"\1")
    return pc.if_else(pc.equal(keys, ""), pa.scalar(None, pa.large_string()), keys)


def _is_unique(keys: Any) -> bool:
    """No key twice (nulls ignored)."""
    _, pc = arrow()
    valid = keys.drop_null()
    return len(pc.unique(valid)) == len(valid)


def lookup(keys: Any, value_set: Any) -> np.ndarray:
    """Position of each key in `value_set` (unique keys), -1 where absent."""
    _, pc = arrow()
    return pc.fill_null(pc.index_in(keys, value_set=value_set), -1).to_numpy(zero_copy_only=False)


@dataclass
class PredIndex:
    """Prediction rows per join level: one row per key (the duplicate policy applied) and the keys,
    each computed once however many files are joined against them."""

    frame: pd.DataFrame  # must hold `id`, `failed`, `rating` (and optionally `self_check`)
    duplicates: str
    source: str
    _levels: dict[str, tuple[pd.DataFrame, Any, int, list[str]]] = field(default_factory=dict)

    def at(self, level: str) -> tuple[pd.DataFrame, Any, int, list[str]]:
        """(rows, their unique keys as Arrow strings, duplicate rows dropped, example duplicated keys)."""
        if level not in self._levels:
            pa, pc = arrow()
            keys = id_keys(self.frame["id"], level)
            valid = pc.is_valid(keys).to_numpy(zero_copy_only=False)
            rows, keys = self.frame[valid], keys.filter(pa.array(valid))
            if _is_unique(keys):
                self._levels[level] = (rows, keys, 0, [])
            else:
                keyed = rows.assign(key=keys.to_numpy(zero_copy_only=False), usable=~rows["failed"].to_numpy())
                mean_cols = ["rating"] + [c for c in ("self_check", "expected") if c in keyed]
                # "error" is raised by join_ground_truth, and only if this level is the one used
                policy = "first" if self.duplicates == "error" else self.duplicates
                kept, dups, examples = dedupe(keyed, policy, usable="usable", mean_cols=mean_cols,
                                              what="prediction", source=self.source)
                kept_keys = pa.array(kept.pop("key").to_numpy(dtype=object), type=pa.large_string())
                self._levels[level] = (kept.drop(columns=["usable"]), kept_keys, dups, examples)
        return self._levels[level]


def choose_level(preds: PredIndex, other_ids: pd.Series) -> tuple[str, Any, np.ndarray, dict[str, int]]:
    """The level (path, parent/name, name, stem) that matches the most rows of `other_ids`, ties going
    to the more specific level. Returns the level, the other side's keys at that level, each key's row in
    `preds.at(level)` (-1: none) and the matches per level tried.

    The file name is tried first: when it matches every row without a duplicate on either side, the
    full path could only give the same pairs, so the other levels are not computed (half the work
    on a million rows); the level is reported as `path` when the ids are moreover equal as given."""
    pa, pc = arrow()
    tried: dict[str, int] = {}
    found: dict[str, tuple[int, Any, np.ndarray]] = {}
    for level in ("name", "path", "parent/name", "stem"):
        keys = id_keys(other_ids, level)
        rows, value_set, dups, _ = preds.at(level)
        pos = lookup(keys, value_set)
        # distinct predictions matched: a file name shared by several ground-truth rows (LIVE's
        # jp2k/img1.bmp, jpeg/img1.bmp) must not make the name level look better than the full path
        found[level] = (int(np.unique(pos[pos >= 0]).size), keys, pos)
        tried[level] = found[level][0]
        if level == "name" and (pos >= 0).all() and not dups and np.bincount(pos).max(initial=0) <= 1:
            given = pa.array(rows["id"].astype("str")).take(pa.array(pos))
            if pc.all(pc.equal(given, pa.array(other_ids.astype("str")))).as_py():
                return "path", id_keys(other_ids, "path"), pos, {"name": tried["name"], "path": tried["name"]}
            break
        if level == "path" and tried[level] == len(keys) - keys.null_count:
            break
    level = max(found, key=lambda lv: (found[lv][0], -LEVELS.index(lv)))
    return level, found[level][1], found[level][2], tried


def dedupe(frame: pd.DataFrame, policy: str, *, usable: str, mean_cols: Sequence[str], what: str,
           source: str) -> tuple[pd.DataFrame, int, list[str]]:
    """One row per `key`: `first` keeps the first usable row (else the first row), `mean` averages
    `mean_cols` over usable rows, `error` refuses. Returns the frame, rows dropped, example keys."""
    keyed = frame[frame["key"].notna()]
    dup = keyed["key"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return keyed, 0, []
    dups = keyed[dup]
    examples = [str(k) for k in pd.unique(dups["key"])[:3]]
    extra = int(len(dups) - dups["key"].nunique())
    if policy == "error":
        raise UserError(f"{source}: {extra} duplicated {what} rows (e.g. {', '.join(examples)}); "
                        "choose --duplicates first or mean")
    ordered = dups.assign(_unusable=~dups[usable].to_numpy(), _order=np.arange(len(dups)))
    ordered = ordered.sort_values(["_unusable", "_order"], kind="stable")
    kept = ordered.drop_duplicates("key", keep="first")
    if policy == "mean":
        good = ordered[~ordered["_unusable"]]
        means = good.groupby("key", sort=False)[list(mean_cols)].mean()
        kept = kept.set_index("key")
        kept.loc[means.index, list(mean_cols)] = means
        kept = kept.reset_index()
    kept = kept.drop(columns=["_unusable", "_order"])
    single = keyed[~dup]
    return pd.concat([single, kept[single.columns]], ignore_index=False), extra, examples


def join_ground_truth(name: str, gframe: pd.DataFrame, info: dict[str, Any], index: PredIndex, duplicates: str,
                      warnings: list[str]) -> pd.DataFrame:
    """Matched rows of one ground-truth table: the prediction columns plus `key`, `gt`, `gt_id`, `group`,
    `source`. Fills `info` with how ids matched and what did not."""
    pa, pc = arrow()
    level, gkeys, pos, tried = choose_level(index, gframe["id"])
    kept, kept_keys, pred_dups, pred_dup_examples = index.at(level)
    if pred_dups and duplicates == "error":
        raise UserError(f"{index.source}: {pred_dups} duplicated prediction rows at the {level} level "
                        f"(e.g. {', '.join(pred_dup_examples)}); choose --duplicates first or mean")
    valid = pc.is_valid(gkeys).to_numpy(zero_copy_only=False)
    empty_ids = int((~valid).sum())
    gt_dups, gt_dup_examples = 0, []
    matched_twice = np.bincount(pos[pos >= 0]).max(initial=0) > 1  # cheaper than hashing the keys again
    if empty_ids or matched_twice:
        gkeyed = gframe[valid].assign(key=gkeys.filter(pa.array(valid)).to_numpy(zero_copy_only=False),
                                      usable=np.isfinite(gframe["gt"].to_numpy()[valid]))
        gframe, gt_dups, gt_dup_examples = dedupe(gkeyed, duplicates, usable="usable", mean_cols=["gt"],
                                                  what="ground-truth", source=info["source"])
        gkeys = pa.array(gframe["key"].to_numpy(dtype=object), type=pa.large_string())
        pos = lookup(gkeys, kept_keys)
    hit = pos >= 0
    if not hit.any():
        example_pred, example_gt = index.frame["id"].iloc[0], gframe["id"].iloc[0]
        raise UserError(f"{name}: no prediction matches a ground-truth id (tried path, parent/name, name, stem); "
                        f"e.g. prediction id {example_pred!r} vs ground-truth id {example_gt!r}")
    part = kept.iloc[pos[hit]].reset_index(drop=True)
    part["key"] = kept_keys.take(pa.array(pos[hit])).to_pandas()
    part["gt"] = gframe["gt"].to_numpy()[hit]
    part["gt_id"] = gframe["id"].to_numpy(dtype=object)[hit]  # the image as the ground truth names it (--baseline)
    if "group" in gframe:  # a dataset column in the ground truth wins over one in the predictions
        part["group"] = gframe["group"].to_numpy(dtype=object)[hit]
    elif "group" in part:
        part["group"] = part["group"].replace("", name).to_numpy(dtype=object)
    else:
        part["group"] = np.full(len(part), name, dtype=object)
    part["source"] = name
    unmatched = gkeys.filter(pa.array(~hit)).slice(0, 5).to_pylist()
    info.update(match_by=level, matches_by_level=tried, matched=int(hit.sum()),
                unmatched_gt=int((~hit).sum()) + empty_ids, unmatched_gt_examples=[str(u) for u in unmatched],
                duplicate_gt_rows=gt_dups, duplicate_gt_examples=gt_dup_examples,
                duplicate_pred_rows=pred_dups, duplicate_pred_examples=pred_dup_examples)
    if info["unmatched_gt"]:
        warnings.append(f"{name}: {info['unmatched_gt']} of {info['rows']} ground-truth rows have no prediction "
                        f"(matched by {level}; e.g. {', '.join(info['unmatched_gt_examples'][:3])})")
    if gt_dups or pred_dups:
        warnings.append(f"{name}: duplicated ids at the {level} level, {gt_dups} ground-truth and {pred_dups} "
                        f"prediction rows ({duplicates} kept)")
    return part
