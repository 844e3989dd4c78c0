"""The Python-Rust seam: one thread rule, range-checked integers and typed errors at the
binding, submodules of ``zkmargin._core``, named structures, and the range prover's
states consumed step by step (docs/design-notes.md, "The seam")."""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import zkmargin
from zkmargin import _core, errors
from zkmargin._core import curve, dynamic, margin
from zkmargin.dynamic import historical_scenarios, monte_carlo_scenarios, rolling_volatility
from zkmargin.proof._scalars import system_rng
from zkmargin.proof.group import NativeGroup, get_group


def test_the_compiled_module_wins_over_its_stub_directory_and_submodules_import() -> None:
    assert Path(_core.__file__ or "").name == "_core.abi3.so"
    assert (Path(zkmargin.__file__).parent / "_core" / "__init__.pyi").is_file()
    for name in ("margin", "dynamic", "curve"):
        mod = importlib.import_module(f"zkmargin._core.{name}")
        assert mod is getattr(_core, name)
        assert mod.__name__ == f"zkmargin._core.{name}"
    assert margin.Engine.__module__ == "zkmargin._core.margin"
    flat = [n for m in (_core, margin, dynamic, curve) for n in dir(m) if n.startswith(("dyn_", "g1_"))]
    assert flat == []


def test_a_stub_directory_without_the_extension_counts_as_absent() -> None:
    script = (
        "import importlib.abc, importlib.machinery, sys\n"
        "class NoExtension(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name != 'zkmargin._core':\n"
        "            return None\n"
        "        # the .so gone: only the stub directory is left, a namespace package\n"
        "        spec = importlib.machinery.PathFinder.find_spec(name, path)\n"
        "        return importlib.machinery.ModuleSpec(name, None, is_package=True) if spec else None\n"
        "sys.meta_path.insert(0, NoExtension())\n"
        "import zkmargin\n"
        "try:\n"
        "    zkmargin.MarginEngine\n"
        "except ImportError as e:\n"
        "    assert 'compiled extension' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('MarginEngine imported without the extension')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------------------- threads


def test_zero_and_none_are_the_default_and_the_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZKMARGIN_THREADS", raising=False)
    assert _core.resolve_threads(None) == _core.resolve_threads(0) == _core.available_threads()
    monkeypatch.setenv("ZKMARGIN_THREADS", "3")
    assert _core.resolve_threads(0) == zkmargin.default_threads() == 3
    assert _core.resolve_threads(5) == 5
    ins = zkmargin.synthetic.generate_exchange(20, seed=2).instruments
    assert zkmargin.MarginEngine(ins).threads == 3
    assert zkmargin.MarginEngine(ins, threads=0).threads == 3


@pytest.mark.parametrize("env", ["abc", "0", "-2", "1.5", str(10**6)])
def test_a_bad_variable_is_a_parameter_error_naming_it(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("ZKMARGIN_THREADS", env)
    with pytest.raises(errors.ParameterError) as info:
        _core.resolve_threads(None)
    assert info.value.field == "ZKMARGIN_THREADS"
    with pytest.raises(errors.ParameterError):
        NativeGroup().msm(NativeGroup().derive(b"seam", 0, 1), [1])


@pytest.mark.parametrize(
    ("threads", "kind"),
    [
        (-1, errors.ParameterError),
        (2**64 + 1, errors.ParameterError),
        (_core.MAX_THREADS + 1, errors.ParameterError),
        (True, errors.DTypeError),
        (1.5, errors.DTypeError),
        ("2", errors.DTypeError),
    ],
)
def test_every_call_applies_the_thread_rule(threads: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind) as info:
        _core.resolve_threads(threads)
    assert getattr(info.value, "field", None) == "threads"
    one = np.ones(1)
    with pytest.raises(kind):
        margin.black76(np.ones(1, dtype=bool), one, one, one, one * 0.5, one * 0.0, threads)
    with pytest.raises(kind):
        zkmargin.black76(True, 100.0, 100.0, 1.0, 0.5, threads=threads)
    with pytest.raises(kind):
        zkmargin.MarginEngine(zkmargin.synthetic.generate_exchange(5, seed=1).instruments, threads=threads)
    group = NativeGroup(threads=threads)
    with pytest.raises(kind):
        group.msm(group.derive(b"seam", 0, 1), [1])


# ---------------------------------------------------------------------------- integers


def test_integers_out_of_range_are_parameter_errors_not_overflow() -> None:
    r = np.random.default_rng(1).normal(0, 0.01, (30, 2))
    cases = [
        (lambda: rolling_volatility(r, 2**70), "window"),
        (lambda: historical_scenarios(r, horizon=2**70), "horizon"),
        (lambda: monte_carlo_scenarios([0.5], [[1.0]], 0.1, 2**64 + 1, 7), "n_scenarios"),
        (lambda: dynamic.monte_carlo(np.ones(1), np.ones((1, 1)), 0.1, 10, -1), "seed"),
        (lambda: dynamic.rolling_vol(r, -3), "window"),
    ]
    for call, field in cases:
        with pytest.raises(errors.ParameterError) as info:
            call()
        assert info.value.field == field
    with pytest.raises(errors.DTypeError):
        dynamic.historical(r, 2.0)
    with pytest.raises(errors.DTypeError):
        dynamic.historical(r, True)


def test_absurd_sizes_are_refused_before_allocating() -> None:
    # 2^40 scenarios of one underlying would be 8 TiB
    with pytest.raises(errors.ParameterError) as info:
        monte_carlo_scenarios([0.5], [[1.0]], 0.1, 2**40, 7)
    assert info.value.field == "n_scenarios"
    with pytest.raises(errors.ParameterError):
        NativeGroup().derive(b"seam", 0, 2**40)
    # the default table of an underlying index of 2^40 would be 1 TiB
    ins = zkmargin.Instruments([0], [2**40], [0.0], [0.0], [1.0], [0])
    with pytest.raises(errors.ParameterError) as info:
        zkmargin.MarginEngine(ins)
    assert (info.value.field, info.value.index) == ("underlying", 0)


def test_arrays_of_the_wrong_dtype_are_dtype_errors_at_the_binding() -> None:
    with pytest.raises(errors.DTypeError):
        dynamic.log_returns(np.ones((3, 2), dtype=np.int64))
    with pytest.raises(errors.DTypeError):
        dynamic.span2(0.5, np.ones(2), np.ones(2), [1.0, 2.0], np.ones(2))
    # the same calls with the right dtypes run
    assert dynamic.log_returns(np.ones((3, 2))).shape == (2, 2)


def test_point_vector_indices_are_typed() -> None:
    v = NativeGroup().derive(b"seam", 0, 3)
    with pytest.raises(errors.IndexOutOfRangeError):
        v.get(3)
    with pytest.raises(errors.ParameterError):
        v.get(-1)
    with pytest.raises(errors.ParameterError):
        v.slice(2, 1)
    assert len(v.slice(1, 3)) == 2


# ---------------------------------------------------------------------------- structures


_INSTRUMENT_FIELDS = ("kind", "underlying", "strike", "expiry", "contract_size", "settlement")


@dataclass(frozen=True)
class _NoShortOptionMin:
    linear_im: float = 0.1
    linear_mm: float = 0.05
    option_im_base: float = 0.15
    option_im_floor: float = 0.1
    option_mm: float = 0.075
    im_factor: float = 1.0
    mm_factor: float = 0.8
    annual_move_risk: float = 0.075
    min_annual_move: float = 0.01


def test_structures_cross_by_name_and_wrong_types_are_dtype_errors() -> None:
    ex = zkmargin.synthetic.generate_exchange(30, seed=4)
    eng = zkmargin.MarginEngine(ex.instruments)
    rules = eng._native_rules
    # every MarginParams field is read; the binding has no defaults of its own
    with pytest.raises(errors.DTypeError) as info:
        margin.Engine(ex.instruments, eng.scenarios, _NoShortOptionMin(), rules)
    assert info.value.field == "short_option_min"
    with pytest.raises(errors.DTypeError) as info:
        margin.Engine(ex.instruments, eng.scenarios, eng.params, rules._replace(aggregation=3))
    assert info.value.field == "aggregation"

    # kind as float64, not int64
    float_kinds = SimpleNamespace(**{k: getattr(ex.instruments, k) for k in _INSTRUMENT_FIELDS})
    float_kinds.kind = float_kinds.kind.astype(np.float64)

    with pytest.raises(errors.DTypeError) as info:
        margin.Engine(float_kinds, eng.scenarios, eng.params, rules)
    assert info.value.field == "kind"
    with pytest.raises(errors.DTypeError) as info:
        eng._native.compute(ex.market, object(), "portfolio")
    assert info.value.field == "offsets"
    # the same call with the real objects is the engine's own result
    native = eng._native.compute(ex.market, ex.accounts, "portfolio", eng.threads)
    res = eng.compute(ex.accounts, ex.market)
    np.testing.assert_array_equal(native[0][2], res.maintenance_margin)


def test_risk_arrays_use_each_instruments_forward() -> None:
    ex = zkmargin.synthetic.generate_exchange(40, seed=5)
    eng = zkmargin.MarginEngine(ex.instruments)
    fwd = ex.market.spot[ex.instruments.underlying] * 1.01
    m = ex.market
    moved = zkmargin.Market(m.spot, m.vol, m.asset_price, m.haircut, m.rate, forward=fwd)
    ref = zkmargin.baseline.MarginEngine(ex.instruments).risk_arrays(moved)
    np.testing.assert_allclose(eng.risk_arrays(moved), ref, rtol=1e-9, atol=1e-9)
    assert not np.allclose(eng.risk_arrays(moved), eng.risk_arrays(m))


# ---------------------------------------------------------------------------- prover


def _prover() -> Any:
    g = NativeGroup()
    gens = g.derive(b"seam/g", 0, 8)
    hs = g.derive(b"seam/h", 0, 8)
    values = (5).to_bytes(32, "big")
    rnd = b"".join((i + 3).to_bytes(32, "big") for i in range(2 * 8 + 4))
    G, H = g.generator(), g.hash_to_curve(b"seam/H")
    return curve.RangeProver(gens, hs, G, H, values, values, 8, rnd)


def test_each_prover_state_is_consumed_by_its_step() -> None:
    s = (7).to_bytes(32, "big")
    p = _prover()
    _, _, committed = p.commit()
    with pytest.raises(errors.ParameterError) as info:
        p.commit()
    assert info.value.field == "commit"
    _, _, poly = committed.poly(s, s)
    with pytest.raises(errors.ParameterError):
        committed.poly(s, s)
    *_, evaluated = poly.evaluate(s)
    state = evaluated.ipa_begin(s)
    rounds = 0
    while isinstance(state, curve.IpaRound):
        _, _, fold = state.round()
        with pytest.raises(errors.ParameterError):
            state.round()
        state = fold.fold(s)
        rounds += 1
    assert rounds == 3 and isinstance(state, curve.IpaDone)  # n m = 8
    assert state.result() == state.result()
    # a bad challenge is refused before the state is taken
    with pytest.raises(errors.EncodingError):
        _prover().commit()[2].poly(b"\xff" * 32, s)


def test_the_backend_adapter_refuses_steps_out_of_order() -> None:
    g = get_group("native")
    gens = g.derive(b"seam/g", 0, 8)
    rnd = g.random_scalars(system_rng, 2 * 8 + 4)
    p = g.range_prover(gens, gens, g.generator(), g.hash_to_curve(b"H"), [5], [9], 8, rnd)
    with pytest.raises(errors.ParameterError) as info:
        p.poly(1, 2)
    assert info.value.field == "poly"
    p.commit()
    with pytest.raises(errors.ParameterError):
        p.commit()
