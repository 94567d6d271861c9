"""The package's shape: no import circles between modules (lazy imports inside functions included),
and no module reaching into another package's private names."""
from __future__ import annotations

import ast
from pathlib import Path

import qassess

ROOT = Path(qassess.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every qassess import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("qassess"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    out.append((sub, None, node.lineno))
                else:
                    out.append((_owner(node.module), alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(_owner(a.name), None, node.lineno) for a in node.names if a.name.startswith("qassess")]
    return out


def _graph() -> dict[str, set[str]]:
    return {name: {m for m, _, _ in _imports(path) if m and m != name} for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_no_private_names_across_modules():
    crossing = []
    for name, path in MODULES.items():
        for module, imported, line in _imports(path):
            if imported and imported.startswith("_") and not imported.startswith("__") and module != name:
                crossing.append(f"{path.relative_to(ROOT.parent)}:{line}: {module}.{imported}")
    assert crossing == []


def test_every_folder_is_a_package_with_a_docstring():
    """A folder under qassess/ says what it holds (its __init__ docstring), else it is not a package."""
    for folder in [p for p in ROOT.rglob("*") if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))]:
        init = folder / "__init__.py"
        assert init.is_file(), folder
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_the_top_level_api_names_resolve():
    """`qassess.Assessor` and friends are lazy attributes: each must still reach its module."""
    from qassess.core import assessor, parsing, prompts

    assert qassess.Assessor is assessor.Assessor and qassess.Settings is assessor.Settings
    assert qassess.parse_completion is parsing.parse_completion and qassess.get_template is prompts.get_template
    assert callable(qassess.create_assessor)
