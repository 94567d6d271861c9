"""2AFC agreement of a model's pair verdicts with human choices (BAPPS, PIPAL and their kin).

People disagree on close pairs, so a human-choice table holds the share h of people preferring a (or one
winner per row, pooled here into that share). A model's pick agrees with a share h of them: h when it
picks a, 1 - h when it picks b, and 1/2 for a tie (the BAPPS convention), so a perfect model scores the
humans' own majority share, not 1. The mean over pairs is the 2AFC accuracy; its interval comes from
resampling pairs, since pairs (not people) are the sample a second study would redraw.

Pairs are matched whichever way round each table lists them: keys are the two images' ids at one level
(full path, folder/name, file name, stem; the level matching the most human pairs, as `compare` matches
scores), ordered so that (a, b) and (b, a) meet, and a flipped pair's choices are flipped with it. A
model's failed verdict (status not ok, or no winner) is counted and excluded, scored as the worse of the
two answers, or refused (`failures`); it is never a coin flip.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from qassess.errors import UserError
from qassess.evaluate import metrics
from qassess.evaluate.compare.join import LEVELS, id_keys

WINNERS = {"a": 1.0, "b": 0.0, "tie": 0.5, "similar": 0.5, "same": 0.5, "equal": 0.5}
RESAMPLES = 1000  # bootstrap resamples when the caller asks for none: a 2AFC accuracy always has its interval


def _names(columns: Sequence[Any]) -> dict[str, str]:
    return {str(c).strip().lower(): str(c) for c in columns}


def is_pair_table(columns: Sequence[Any]) -> bool:
    """Columns a and b, and a winner or p_a: the layout `qassess pairs` writes and 2AFC data comes in."""
    names = _names(columns)
    return {"a", "b"} <= set(names) and bool({"winner", "p_a"} & set(names))


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and value.strip().lower() in ("", "nan", "none", "null"))


def _share(value: Any) -> float | None:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    return p if 0 <= p <= 1 else None


def _stated(row: dict, cols: dict[str, str], source: str, where: str) -> float | None:
    """P(a better) a row states: its p_a (the finer statement), else its winner word; None when it states
    neither. A value that is there but unusable is the table's error, not a failure."""
    if "p_a" in cols and not _missing(row[cols["p_a"]]):
        p = _share(row[cols["p_a"]])
        if p is None:
            raise UserError(f"{source}: {where}: p_a {row[cols['p_a']]!r} is not a share between 0 and 1")
        return p
    if "winner" in cols and not _missing(row[cols["winner"]]):
        word = str(row[cols["winner"]]).strip().lower()
        if word not in WINNERS:
            raise UserError(f"{source}: {where}: winner {row[cols['winner']]!r} is not a, b or tie")
        return WINNERS[word]
    return None


def _where(origins: Sequence[str] | None, k: int) -> str:
    return origins[k] if origins else f"row {k + 1}"


def human_choices(frame: pd.DataFrame, source: str, origins: Sequence[str] | None = None) -> pd.DataFrame:
    """Columns a, b, [ref], h (share preferring a). A row without a choice is the table's error, named by
    where it is: a human table has no failures to exclude."""
    cols = _names(frame.columns)
    if not is_pair_table(frame.columns):
        raise UserError(f"{source}: a human-choice table needs columns a, b and winner (a/b/tie) or p_a "
                        f"(the share preferring a); columns are: {', '.join(map(str, frame.columns))}")
    h = []
    for k, row in enumerate(frame.to_dict("records")):
        p = _stated(row, cols, source, _where(origins, k))
        if p is None:
            raise UserError(f"{source}: {_where(origins, k)} has no choice (winner a, b or tie, or p_a)")
        h.append(p)
    out = _ids(frame, cols)
    out["h"] = h
    return out


def model_verdicts(frame: pd.DataFrame, source: str, origins: Sequence[str] | None = None) -> pd.DataFrame:
    """Columns a, b, [ref], pick (1 a, 0 b, 1/2 tie; NaN when failed), failed, status, error, flip (the
    two orders disagreed; NaN when asked once). The pick is the side of p_a (which is how `pairs` sets its
    winner), else the stated winner; a row whose status is ok but states neither failed too."""
    cols = _names(frame.columns)
    if not is_pair_table(frame.columns):
        raise UserError(f"{source}: 2AFC needs pair verdicts (columns a, b and winner or p_a, as `qassess pairs` "
                        f"writes them); columns are: {', '.join(map(str, frame.columns))}")
    out = _ids(frame, cols)
    status = frame[cols["status"]] if "status" in cols else pd.Series("ok", index=frame.index)
    status = status.map(lambda s: "ok" if _missing(s) else str(s).strip().lower()).to_numpy(dtype=object)
    picks = []
    for k, row in enumerate(frame.to_dict("records")):
        p = _stated(row, cols, source, _where(origins, k)) if status[k] == "ok" else None
        picks.append(np.nan if p is None else 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5)
    pick = np.array(picks, float)
    failed = (status != "ok") | np.isnan(pick)
    out["status"] = np.where((status == "ok") & failed, "missing_verdict", status)
    out["failed"] = failed
    out["pick"] = pick
    out["error"] = frame[cols["error"]].map(lambda e: "" if _missing(e) else str(e)).to_numpy() if "error" in cols else ""
    flip = frame[cols["position_flip"]] if "position_flip" in cols else pd.Series(np.nan, index=frame.index)
    out["flip"] = np.where(failed, np.nan, pd.to_numeric(flip, errors="coerce").to_numpy(dtype=float))
    return out


def _ids(frame: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame({"a": frame[cols["a"]].astype("str").to_numpy(), "b": frame[cols["b"]].astype("str").to_numpy()})
    if "ref" in cols:
        out["ref"] = frame[cols["ref"]].map(lambda r: "" if _missing(r) else str(r)).to_numpy()
    return out


def pair_keys(pairs: pd.DataFrame, level: str, *, with_ref: bool) -> tuple[np.ndarray, np.ndarray]:
    """(key, flipped) per row: the two ids at `level` in sorted order (and the reference's when both
    tables have one); None where an id is empty or both ids are equal at this level (the pair cannot be
    told apart from its flip there)."""
    ka = id_keys(pairs["a"], level).to_numpy(zero_copy_only=False)
    kb = id_keys(pairs["b"], level).to_numpy(zero_copy_only=False)
    kr = id_keys(pairs["ref"], level).to_numpy(zero_copy_only=False) if with_ref else [None] * len(pairs)
    keys, flipped = [], []
    for a, b, r in zip(ka, kb, kr):
        if a is None or b is None or a == b:
            keys.append(None)
            flipped.append(False)
            continue
        first, second = (b, a) if b < a else (a, b)
        keys.append(f"{first}\0{second}" + (f"\0{r or ''}" if with_ref else ""))
        flipped.append(b < a)
    return np.array(keys, dtype=object), np.array(flipped)


def match(model: pd.DataFrame, human: pd.DataFrame) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The level matching the most human pairs (ties to the more specific), with both tables' keys and
    flips there: (level, model keys, model flipped, human keys, human flipped)."""
    with_ref = all("ref" in t and (t["ref"] != "").any() for t in (model, human))  # an empty ref column is none
    best = None
    for level in LEVELS:
        mk, mf = pair_keys(model, level, with_ref=with_ref)
        hk, hf = pair_keys(human, level, with_ref=with_ref)
        found = len(set(hk[pd.notna(hk)]) & set(mk[pd.notna(mk)]))
        if best is None or found > best[0]:
            best = (found, level, mk, mf, hk, hf)
    return best[1:]


def pooled_human(human: pd.DataFrame, keys: np.ndarray, flipped: np.ndarray) -> pd.DataFrame:
    """One row per pair: h in the key's order (rows naming the same pair pooled into the share of all
    their choices, each row one vote), and the first row's a, b and flip to show it as the table does."""
    rows = human.assign(key=keys, hk=np.where(flipped, 1 - human["h"].to_numpy(), human["h"].to_numpy()),
                        hflip=flipped)
    rows = rows[rows["key"].notna()]
    grouped = rows.groupby("key", sort=False)
    out = rows.drop_duplicates("key").set_index("key")
    out["hk"] = grouped["hk"].mean()
    out["votes"] = grouped.size()
    return out


def pooled_model(model: pd.DataFrame, keys: np.ndarray, flipped: np.ndarray, duplicates: str,
                 source: str) -> tuple[pd.DataFrame, int]:
    """One verdict per pair in the key's order, and how many duplicate rows were set aside: `first` keeps
    the first usable verdict (a retried pair's success), `mean` averages the usable picks, `error` refuses."""
    rows = model.assign(key=keys, mk=np.where(flipped, 1 - model["pick"].to_numpy(), model["pick"].to_numpy()),
                        flipk=model["flip"].to_numpy())
    rows = rows[rows["key"].notna()]
    extra = int(rows["key"].duplicated().sum())
    if extra and duplicates == "error":
        example = rows.loc[rows["key"].duplicated(), "a"].iloc[0]
        raise UserError(f"{source}: {extra} duplicated pair verdicts (e.g. one with {example}); "
                        "choose --duplicates first or mean")
    ordered = rows.assign(_bad=rows["failed"].to_numpy()).sort_values("_bad", kind="stable")
    out = ordered.drop_duplicates("key").set_index("key")  # not groupby.first(): it mixes rows' cells
    if duplicates == "mean":
        good = rows[~rows["failed"].to_numpy()].groupby("key", sort=False)
        means = good[["mk", "flipk"]].mean()
        out.loc[means.index, ["mk", "flipk"]] = means
    return out.drop(columns="_bad"), extra


def agreement(h: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Share of people agreeing with each pick: h for a, 1 - h for b, 1/2 for a tie (either way)."""
    return h * pick + (1 - h) * (1 - pick)


def bootstrap_interval(values: np.ndarray, n: int, seed: int, level: float = 0.95) -> list[float | None]:
    """Percentile interval of the mean agreement over `n` resamples of the pairs; none for one pair."""
    if values.size < 2:
        return [None, None]
    return metrics.bootstrap_mean_ci(values, n, seed, level)


def score_group(name: str, model: pd.DataFrame, human: pd.DataFrame, *, failures: str, duplicates: str,
                bootstrap: int, seed: int, source: str) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """The 2AFC metrics of one human table, its per-pair rows (as the human table orients them), and how
    it matched."""
    level, mk, mf, hk, hf = match(model, human)
    pairs = pooled_human(human, hk, hf)
    verdicts, dups = pooled_model(model, mk, mf, duplicates, source)
    hit = pairs.index.isin(verdicts.index)
    if not hit.any():
        raise UserError(f"{name}: no verdict matches a human pair (tried {', '.join(LEVELS)}, either order); e.g. "
                        f"verdict ({model['a'].iloc[0]}, {model['b'].iloc[0]}) vs human pair "
                        f"({human['a'].iloc[0]}, {human['b'].iloc[0]})")
    rows = pairs[hit].join(verdicts[["mk", "flipk", "failed", "status", "error"]], how="left")
    failed = rows["failed"].to_numpy(dtype=bool)
    kinds = rows.loc[failed, "status"].value_counts().to_dict()
    if failed.any() and failures == "error":
        first = rows[failed].iloc[0]
        raise UserError(f"{name}: {int(failed.sum())} matched verdicts failed ({', '.join(f'{k} {v}' for k, v in kinds.items())}); "
                        f"first ({first['a']}, {first['b']}): {first['status']}; use --failures exclude or worst")
    hkey, pick = rows["hk"].to_numpy(float), rows["mk"].to_numpy(float)
    agree = agreement(hkey, pick)
    if failures == "worst":
        agree = np.where(failed, np.minimum(hkey, 1 - hkey), agree)
    used = ~failed | (failures == "worst")
    flip = rows["flipk"].to_numpy(float)
    asked_twice = ~failed & np.isfinite(flip)
    out: dict[str, Any] = {"n": int(used.sum()), "accuracy": float(agree[used].mean()) if used.any() else None}
    n = bootstrap or RESAMPLES
    out["ci_low"], out["ci_high"] = bootstrap_interval(agree[used], n, seed) if used.any() else (None, None)
    out["position_flip_rate"] = float(flip[asked_twice].mean()) if asked_twice.any() else None
    out["position_flip_n"] = int(asked_twice.sum())
    out["rows"] = {"matched": int(hit.sum()), "used": int(used.sum()), "failed": kinds, "failures_policy": failures,
                   "failures_excluded": int(failed.sum()) if failures == "exclude" else 0,
                   "failures_scored_worst": int(failed.sum()) if failures == "worst" else 0}
    flipped_h = rows["hflip"].to_numpy(bool)
    shown = pd.DataFrame({
        "group": name, "a": rows["a"].to_numpy(), "b": rows["b"].to_numpy(),
        "human_p_a": np.where(flipped_h, 1 - hkey, hkey), "votes": rows["votes"].to_numpy(),
        "model_pick": [None if math.isnan(x) else "a" if x == 1 else "b" if x == 0 else "tie"
                       for x in np.where(flipped_h, 1 - pick, pick)],
        "agreement": np.where(used, agree, np.nan), "used": used,
        "excluded": np.where(failed & ~used, "failed verdict", ""), "position_flip": np.where(failed, np.nan, flip),
        "status": rows["status"].to_numpy(), "error": rows["error"].to_numpy()})
    info = {"match_by": level, "pairs": int(len(pairs)), "matched": int(hit.sum()),
            "unmatched_gt": int((~hit).sum()) + int(pd.isna(hk).sum()),
            "pooled_gt_rows": int(pairs["votes"].sum() - len(pairs)), "duplicate_pred_rows": dups}
    return out, shown, info


def across_groups(groups: dict[str, dict[str, Any]], rows: pd.DataFrame, *, bootstrap: int,
                  seed: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The overall entry (the one group, or every used pair pooled) and the mean of the group accuracies."""
    if len(groups) == 1:
        return dict(next(iter(groups.values()))), None
    used = rows[rows["used"].to_numpy()]
    agree = used["agreement"].to_numpy(float)
    flips = rows["position_flip"].to_numpy(float)
    twice = np.isfinite(flips)  # failed rows have none
    low, high = bootstrap_interval(agree, bootstrap or RESAMPLES, seed)
    overall = {"n": int(agree.size), "accuracy": float(agree.mean()), "ci_low": low, "ci_high": high,
               "position_flip_rate": float(flips[twice].mean()) if twice.any() else None,
               "position_flip_n": int(twice.sum()), "pooled": True}
    average = {"groups": len(groups), "accuracy": float(np.mean([g["accuracy"] for g in groups.values()])),
               "note": "mean of the per-group accuracies"}
    return overall, average
