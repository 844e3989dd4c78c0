"""The what-if benchmark script runs end to end on a tiny workload (its timings are not
checked here; that the streamed and recomputed books agree is)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_whatif.py"


def test_bench_whatif_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_whatif", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_whatif"] = module
    spec.loader.exec_module(module)
    assert module.main(["--accounts", "300", "--what-ifs", "50", "--stream", "10"]) == 0
    out = capsys.readouterr().out
    assert "what-if, 10-position account" in out and "35 scenarios" in out
    assert "final books margin identically: True" in out
