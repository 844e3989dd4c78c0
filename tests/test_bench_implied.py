"""The implied-vol benchmark script runs end to end on a tiny workload (its timings are
not checked here; its accuracy lines are)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_implied.py"


def test_bench_implied_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_implied", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_implied"] = module
    spec.loader.exec_module(module)
    assert module.main(["--options", "3000", "--lbr-options", "200", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "py_lets_be_rational" in out and "zkmargin Rust, 1 thread" in out
    within = float(re.search(r"max error / allowance = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    assert within < 1.0
    agree = float(re.search(r"well-determined of 200: ([0-9.e+-]+)", out).group(1))  # type: ignore[union-attr]
    assert agree < 1e-9
