"""Runs benches/bench_dynamic.py at tiny sizes so CI exercises the benchmark code path
(which itself asserts that Rust, NumPy and the pure-Python reference agree)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_dynamic.py"


def test_bench_dynamic_smoke(capsys: object) -> None:
    spec = importlib.util.spec_from_file_location("bench_dynamic", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--smoke", "--threads", "2"])
    assert len(rows) == 2
    for r in rows:
        assert r["rust_s"] > 0 and r["baseline_s"] > 0 and r["ratio"] > 0
