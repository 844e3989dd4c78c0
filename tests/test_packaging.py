"""Packaging: one version source, optional dependencies stay optional, every public callable
is documented."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import zkmargin

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_cargo_workspace_version() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    m = re.search(r'\[workspace\.package\][^\[]*?\nversion = "([^"]+)"', cargo)
    assert m is not None
    assert zkmargin.__version__ == m.group(1)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r"^version\s*=", pyproject, re.M)
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert f"## {zkmargin.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_import_is_numpy_only() -> None:
    code = (
        "import sys, zkmargin, zkmargin.cli; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'matplotlib', 'tqdm', 'scipy') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _public_modules() -> list[ModuleType]:
    import zkmargin.cli
    import zkmargin.io
    import zkmargin.report

    mods = [zkmargin, zkmargin.io, zkmargin.report, zkmargin.cli, zkmargin.symbols, zkmargin.errors]
    mods += [m for m in (getattr(zkmargin, name) for name in zkmargin.__all__) if inspect.ismodule(m)]
    return list(dict.fromkeys(mods))


def test_every_public_callable_has_a_docstring() -> None:
    missing = []
    for mod in _public_modules():
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if getattr(obj, "__module__", "").split(".")[0] != "zkmargin":
                continue  # re-exported from numpy, typing, ...
            if not inspect.getdoc(obj):
                missing.append(f"{mod.__name__}.{name}")
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    is_method = inspect.isfunction(member) or isinstance(member, property)
                    if attr.startswith("_") or not is_method:
                        continue
                    # An override documented on its base class counts (getdoc walks the MRO).
                    if not inspect.getdoc(getattr(obj, attr)):
                        missing.append(f"{mod.__name__}.{name}.{attr}")
    assert not missing, missing
