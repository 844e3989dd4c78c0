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
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    assert "bit-identical: True" in out
    assert "minimal SciPy equals the engine's worst-case loss + roll add-on: True" in out
    assert "Memory floor:" in out
    for text in ("pure Python reference", "NumPy/SciPy engine", "Black-76", "One call on 2,000 accounts"):
        assert text in out
