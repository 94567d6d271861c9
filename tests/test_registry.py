"""One registry mechanism for backends, rewards, templates and presets: built-ins and plugins the same way,
names listed without importing anything, one "did you mean" for every unknown name."""
from __future__ import annotations

from importlib import metadata

import pytest

from qassess.backends import BACKENDS
from qassess.core.prompts import TEMPLATES, get_template
from qassess.errors import UserError
from qassess.models.presets import BUILTIN as PRESETS
from qassess.registry import Registry, did_you_mean, load_target
from qassess.train.rewards import REWARDS, resolve_factory


def double(x):
    return 2 * x


def _entry_points(monkeypatch, group, **targets):
    points = [metadata.EntryPoint(name, value, group) for name, value in targets.items()]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None, **_: [p for p in points if p.group == group])


def test_did_you_mean():
    assert did_you_mean("predicton", ["prediction", "format"]) == " (did you mean 'prediction'?)"
    assert did_you_mean("zzz", ["prediction", "format"]) == ""


def test_every_kind_is_one_registry_with_its_plugin_group():
    kinds = [(BACKENDS, "qassess.backends"), (REWARDS, "qassess.rewards"), (TEMPLATES, "qassess.templates"),
             (PRESETS, "qassess.presets")]
    for registry, group in kinds:
        assert isinstance(registry, Registry) and registry.group == group


def test_string_targets_load_on_use_and_plugins_cannot_shadow(monkeypatch):
    reg = Registry("widget")
    reg.register("double", f"{__name__}:double")
    reg.register("ten", 10)
    _entry_points(monkeypatch, "qassess.widgets", triple=f"{__name__}:double", ten="no_such_module_q:X")
    assert list(reg) == ["double", "ten", "triple"]
    assert reg.targets()["double"] == f"{__name__}:double"  # listed, not imported
    assert reg["double"](3) == 6 and reg["ten"] == 10 and reg["triple"] is double
    with pytest.raises(KeyError):
        reg["nope"]
    with pytest.raises(ValueError, match="twice"):
        reg.register("ten", 11)


def test_unknown_names_suggest_the_nearest(monkeypatch):
    with pytest.raises(UserError, match="unknown template 'papr' \\(did you mean 'paper'\\?\\)"):
        get_template("papr")
    with pytest.raises(UserError, match="unknown reward 'predicton' \\(did you mean 'prediction'\\?\\)"):
        resolve_factory("predicton")
    with pytest.raises(ValueError, match="module:attribute"):
        load_target("no_colon")


def test_a_reward_plugin_registers_like_a_builtin(monkeypatch):
    _entry_points(monkeypatch, "qassess.rewards", doubled=f"{__name__}:double")
    assert "doubled" in REWARDS and resolve_factory("doubled") is double
