"""The report `compare` returns; `to_dict()` is the --json layout."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qassess.evaluate import metrics


@dataclass
class Report:
    """Everything `compare` found; `to_dict()` is the --json layout. `rows` is the per-row table."""

    overall: dict[str, Any]
    groups: dict[str, dict[str, Any]]
    average: dict[str, Any] | None
    settings: dict[str, Any]
    inputs: dict[str, Any]
    warnings: list[str]
    rows: pd.DataFrame | None = field(default=None, repr=False)
    fits: dict[str, metrics.Fit | None] = field(default_factory=dict, repr=False)
    paired: dict[str, Any] | None = None  # new - baseline on the same images (compare --baseline)

    def to_dict(self) -> dict[str, Any]:
        out = {"overall": self.overall, "groups": self.groups}
        if self.average is not None:
            out["average"] = self.average
        if self.paired is not None:
            out["paired"] = self.paired
        out.update(settings=self.settings, inputs=self.inputs, warnings=self.warnings)
        return jsonable(out)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


def jsonable(obj: Any) -> Any:
    """Plain JSON values (numpy scalars unwrapped, non-finite floats as None); the report page uses it too."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
