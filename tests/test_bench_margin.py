"""The margin benchmark script runs end to end on a tiny workload (its numbers are not
checked here: performance targets live in the benchmark, not in timed tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_margin.py"


def test_bench_margin_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_margin", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_margin"] = module
    spec.loader.exec_module(module)
    argv = ["--accounts", "300", "--options", "2000", "--memory-accounts", "2000", "--repeat", "1"]
    argv += ["--wide-scenarios", "64", "--wide-accounts", "200"]
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    # both sections (the Deribit table and the wide one) check their own numbers
    assert out.count("bit-identical: True") == 2
    assert out.count("minimal SciPy equals the engine's worst-case loss + roll add-on: True") == 2
    assert out.count("Floor on 1 thread(s):") == 2 and "x 64 scenarios (Monte-Carlo joint table)" in out
    for text in ("pure Python reference", "NumPy/SciPy engine", "Black-76", "out= into reused caller"):
        assert text in out
    for text in ("One call on 2,000 accounts", "Risk arrays alone"):
        assert text in out


def test_madd_rate_probe() -> None:
    from zkmargin import _core
    from zkmargin.errors import DTypeError, ParameterError

    rate = _core.madd_rate(0.02)
    assert _core.madd_rate() > 1e6
    assert 1e6 < rate < 1e13  # one thread's multiply-adds per second
    for bad in (0.0, -1.0, float("nan"), float("inf"), 11):
        with pytest.raises(ParameterError, match="seconds"):
            _core.madd_rate(bad)
    for wrong in (True, "0.1", [1.0]):
        with pytest.raises(DTypeError, match="seconds"):
            _core.madd_rate(wrong)  # type: ignore[arg-type]
