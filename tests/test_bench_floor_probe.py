"""The floor probe compiles and runs on a small book, and its hand-written loops compute
the worst-case losses SciPy computes (the script checks that before it reports a time)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_floor_probe", BENCHES / "bench_floor_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_floor_probe"] = module
    spec.loader.exec_module(module)
    return module


def test_floor_probe_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    module = _load()
    if shutil.which("cc") is None or not module.has_avx512():
        pytest.skip("needs a C compiler and AVX-512 F")
    assert module.main(["--accounts", "2000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "Checked: the bare and masked worst-case losses equal SciPy's to 1e-9." in out
    for text in ("C bare:", "C masked:", "C full:", "engine: MarginEngine.compute", "Floor on 1 thread(s):"):
        assert text in out


def test_floor_probe_rejects_a_loop_that_disagrees_with_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reported times only count when the C losses equal SciPy's: a reference off by 1%
    # (as a wrong loop would be) stops the run before any table is printed.
    module = _load()
    if shutil.which("cc") is None or not module.has_avx512():
        pytest.skip("needs a C compiler and AVX-512 F")
    right = module.undamped_loss
    monkeypatch.setattr(module, "undamped_loss", lambda *a: 1.01 * right(*a))
    with pytest.raises(SystemExit, match="bare: worst-case losses sum to"):
        module.main(["--accounts", "500", "--repeat", "1"])


@pytest.mark.parametrize("argv", [["--accounts", "0"], ["--repeat", "-2"], ["--accounts", "x"]])
def test_floor_probe_arguments_must_be_positive(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _load().main(argv)
    assert "not a whole number >= 1" in capsys.readouterr().err
