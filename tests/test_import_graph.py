"""The package's import graph, read with ``ast`` from python/zkmargin/**/*.py: no cycles,
and production code never depends on the oracles in ``zkmargin.baseline``.

What counts as an edge ``a -> b`` (both modules of the package):

- every ``import`` / ``from ... import`` statement in ``a``, at module level or inside a
  function or method: an import deferred into a function still makes ``a`` need ``b`` and
  only moves the cycle from import time to call time;
- except statements under ``if TYPE_CHECKING:`` (type checkers read them, Python never
  runs them);
- ``from p import x`` is an edge to ``p.x`` when that is a module (Python imports it, whether
  or not ``p`` has finished initialising), else to ``p``; relative imports are resolved
  against ``a``'s package;
- not the implicit import of a module's parent packages (every submodule would otherwise
  form a cycle with a package ``__init__`` that imports it).

The compiled extension ``zkmargin._core`` (its stub ``_core.pyi``) is a leaf.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "python"
PACKAGE = "zkmargin"
ORACLES = f"{PACKAGE}.baseline"

#: Production modules allowed to use an oracle, each edge with its reason. Such an import
#: must sit inside a function, so that importing the module never loads the oracle.
ALLOWED_ORACLE_USES = {
    # `zkmargin attest audit --engine numpy|reference` recomputes a snapshot with the
    # independent implementation the user names: the oracle is the feature there.
    ("zkmargin.attest.cli", "zkmargin.baseline"): "audit --engine reference",
    ("zkmargin.attest.cli", "zkmargin.baseline.numpy_engine"): "audit --engine numpy",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: Path
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = "inside a function" if self.in_function else "at module level"
        return f"{self.path.relative_to(ROOT.parent)}:{self.line}: {self.source} -> {self.target} ({where})"


def module_files() -> dict[str, Path]:
    """Every module by dotted name; a stub without a ``.py`` beside it (the compiled
    extension) is a leaf of the graph."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py*")):
        if path.suffix not in (".py", ".pyi") or (path.suffix == ".pyi" and path.with_suffix(".py").exists()):
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    nodes: Iterable[ast.AST], in_function: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in ``nodes`` and below that Python can run, with whether it
    sits inside a function body."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse, in_function)  # the `else:` branch does run
        else:
            nested = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from _imports(ast.iter_child_nodes(node), nested)


def edges(modules: dict[str, Path]) -> list[Edge]:
    out = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for stmt, in_function in _imports([tree]):
            if isinstance(stmt, ast.Import):
                targets = [alias.name for alias in stmt.names]
            else:
                if stmt.level:
                    base = package.split(".")
                    base = base[: len(base) - (stmt.level - 1)]
                    origin = ".".join([*base, stmt.module] if stmt.module else base)
                else:
                    origin = stmt.module or ""
                submodules = [f"{origin}.{a.name}" for a in stmt.names if f"{origin}.{a.name}" in modules]
                names_too = len(submodules) < len(stmt.names)
                targets = submodules + ([origin] if names_too else [])
            kept = [t for t in targets if t in modules and t != name]
            out += [Edge(name, t, path, stmt.lineno, in_function) for t in kept]
    return out


def cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """One cycle through every strongly connected component of more than one module, found
    with Tarjan's algorithm and a shortest path inside the component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph.get(v, []):
            if e.target not in index:
                connect(e.target)
                low[v] = min(low[v], low[e.target])
            elif e.target in on_stack:
                low[v] = min(low[v], index[e.target])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            components.append(comp)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for comp in components:
        if len(comp) == 1:
            continue
        start = min(comp)
        # breadth-first from `start` back to itself, staying inside the component
        parent: dict[str, Edge] = {}
        frontier = [start]
        closing: Edge | None = None
        while frontier and closing is None:
            nxt = []
            for v in frontier:
                for e in graph.get(v, []):
                    if e.target == start:
                        closing = e
                        break
                    if e.target in comp and e.target not in parent:
                        parent[e.target] = e
                        nxt.append(e.target)
                if closing is not None:
                    break
            frontier = nxt
        assert closing is not None
        path = [closing]
        while path[0].source != start:
            path.insert(0, parent[path[0].source])
        found.append(path)
    return found


def graph() -> tuple[dict[str, Path], dict[str, list[Edge]]]:
    modules = module_files()
    out: dict[str, list[Edge]] = {name: [] for name in modules}
    for e in edges(modules):
        out[e.source].append(e)
    return modules, out


def is_oracle(name: str) -> bool:
    return name == ORACLES or name.startswith(ORACLES + ".")


def oracle_violations(g: dict[str, list[Edge]]) -> list[str]:
    bad = []
    for source, out in g.items():
        if is_oracle(source):
            continue
        for e in out:
            if not is_oracle(e.target):
                continue
            if (e.source, e.target) not in ALLOWED_ORACLE_USES:
                bad.append(f"{e}: production code imports the oracles")
            elif not e.in_function:
                bad.append(f"{e}: an allowed oracle use must import inside the function using it")
    return bad


# ------------------------------------------------------------------ the checker itself


def _write(tmp: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    modules = {}
    for rel in files:
        parts = list(Path(rel).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = tmp / rel
    return modules


def _graph_of(modules: dict[str, Path]) -> dict[str, list[Edge]]:
    g: dict[str, list[Edge]] = {name: [] for name in modules}
    for e in edges(modules):
        g[e.source].append(e)
    return g


def test_the_checker_finds_function_level_cycles_and_skips_type_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "python")
    modules = _write(
        tmp_path / "python",
        {
            "zkmargin/__init__.py": "from . import a\n",
            "zkmargin/a.py": "from .sub.b import thing\n",
            "zkmargin/sub/__init__.py": "",
            "zkmargin/sub/b.py": "def f():\n    from ..a import x\n    return x\n",
            "zkmargin/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n"
                "else:\n    from . import a\n"
            ),
            "zkmargin/d.py": "import zkmargin.c\n",
            "zkmargin/baseline/__init__.py": "",
            "zkmargin/e.py": "from .baseline import x\n",
        },
    )
    g = _graph_of(modules)
    found = cycles(g)
    assert [[(e.source, e.target) for e in c] for c in found] == [
        [("zkmargin.a", "zkmargin.sub.b"), ("zkmargin.sub.b", "zkmargin.a")]
    ]
    assert found[0][1].in_function and found[0][1].line == 2
    # the TYPE_CHECKING import is no edge, its `else:` branch is
    assert [e.target for e in g["zkmargin.c"]] == ["zkmargin.a"]
    bad = oracle_violations(g)
    assert len(bad) == 1 and bad[0].startswith("python/zkmargin/e.py:1: zkmargin.e -> zkmargin.baseline")


# ------------------------------------------------------------------ the package


def test_the_package_has_no_import_cycle() -> None:
    modules, g = graph()
    assert {"zkmargin", "zkmargin.proof", "zkmargin.baseline", "zkmargin.dynamic"} <= set(modules)
    found = cycles(g)
    assert not found, "import cycles:\n" + "\n\n".join("\n".join(map(str, c)) for c in found)


def test_production_does_not_import_the_oracles() -> None:
    _, g = graph()
    assert not oracle_violations(g), "\n".join(oracle_violations(g))
    # every allowance is still used (a stale one would let a later import through unseen)
    used = {(e.source, e.target) for out in g.values() for e in out}
    assert set(ALLOWED_ORACLE_USES) <= used


def test_importing_every_production_module_loads_no_oracle() -> None:
    """The same rule at run time, where an ``importlib`` call or the package root's lazy
    ``zkmargin.baseline`` attribute would show too."""
    # __main__ runs the command line when imported
    production = sorted(n for n in module_files() if not is_oracle(n) and n != "zkmargin.__main__")
    code = (
        "import importlib, sys\n"
        f"for name in {production!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('zkmargin.baseline')))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
