"""Smoke test of benches/bench_proof.py: the quick run completes and prints every table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benches" / "bench_proof.py"


def test_bench_proof_quick_run(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("py_ecc")
    pytest.importorskip("Crypto")
    spec = importlib.util.spec_from_file_location("bench_proof", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_proof"] = mod
    spec.loader.exec_module(mod)
    assert mod.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for title in (
        "Range proof n=8, m=2: native vs pyecc",
        "Solvency proof, 3 positions, subset mode",
        "Batch verification of 4 solvency proofs",
        "64-bit range proofs by aggregation size",
        "Solvency proofs by hiding mode",
    ):
        assert title in out
    assert "speed-up" in out
    assert "| full " in out and "| subset " in out
