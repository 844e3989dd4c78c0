"""Fuzz targets: pricing, implied vol, the engine, risk arrays, scenario tables, what-if
and curves."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fuzzing.base import Target, accounts_of, check_margin, close, finite, instruments_of, market_of, universe
from fuzzing.mutate import Args, Finding
from zkmargin import (
    MarginEngine,
    MarginParams,
    Market,
    MarketState,
    RateCurve,
    ScenarioTable,
    VolSurface,
    baseline,
    black76,
    deribit_scenarios,
    implied_vol,
    span_scenarios,
)
from zkmargin.baseline.pricing import black76_one


class Black76(Target):
    name = "black76"
    weight = 3.0

    def base(self, rng: np.random.Generator) -> Args:
        n = int(rng.integers(1, 6))
        f = np.round(10 ** rng.uniform(-2, 6, n), 3)
        return {
            "is_call": rng.random(n) < 0.5,
            "forward": f,
            "strike": np.round(f * rng.uniform(0.3, 3.0, n), 3),
            "t": np.round(rng.uniform(1e-3, 5.0, n), 4),
            "vol": np.round(rng.uniform(0.01, 3.0, n), 3),
            "rate": float(np.round(rng.uniform(-0.05, 0.2), 3)),
            "threads": int(rng.integers(1, 3)),
        }

    def call(self, a: Args) -> Any:
        return black76(
            a["is_call"], a["forward"], a["strike"], a["t"], a["vol"], a["rate"], threads=a["threads"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "black76")
        cols = np.broadcast_arrays(
            *(np.asarray(a[k]) for k in ("is_call", "forward", "strike", "t", "vol", "rate"))
        )
        shape = cols[0].shape
        for name, row in zip(out._fields, out, strict=True):
            if row.shape != shape:
                raise Finding(f"{name} has shape {row.shape}, want {shape}")
        want = np.array(
            [
                black76_one(bool(c), float(f), float(k), float(t), float(v), float(r))
                for c, f, k, t, v, r in zip(*(x.ravel() for x in cols), strict=True)
            ]
        ).reshape(*shape, 5)
        for j, name in enumerate(out._fields):
            close(getattr(out, name), want[..., j], f"black76.{name}", rtol=1e-9 if not mutated else 1e-7)


class ImpliedVol(Target):
    name = "implied_vol"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = Black76().base(rng)
        g = black76(a["is_call"], a["forward"], a["strike"], a["t"], a["vol"], a["rate"])
        return {
            "price": g.price,
            **{k: a[k] for k in ("is_call", "forward", "strike", "t", "rate", "threads")},
        }

    def call(self, a: Args) -> Any:
        return implied_vol(
            a["price"], a["is_call"], a["forward"], a["strike"], a["t"], a["rate"], a["threads"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "implied_vol")
        if np.any(out <= 0):
            raise Finding(f"implied vol {out} is not > 0")
        back = black76(a["is_call"], a["forward"], a["strike"], a["t"], out, a["rate"]).price
        close(back, np.broadcast_to(np.asarray(a["price"], dtype=np.float64), back.shape), "repriced", 1e-7)


class Engine(Target):
    """Constructors and ``MarginEngine.compute`` against the pure-Python reference."""

    name = "engine.compute"
    weight = 4.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        a["model"] = str(rng.choice(["standard", "cross", "portfolio"]))
        a["threads"] = int(rng.integers(1, 3))
        a["params"] = {} if rng.random() < 0.7 else {"linear_im": 0.2, "option_mm": 0.1, "mm_factor": 0.5}
        return a

    def call(self, a: Args) -> Any:
        ins = instruments_of(a)
        m = market_of(a)
        acc = accounts_of(a)
        p = a["params"]
        params = MarginParams(**p) if isinstance(p, dict) else p
        eng = MarginEngine(ins, params=params, threads=a["threads"])
        return ins, m, acc, params, eng.compute(acc, m, a["model"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, params, res = out
        want = baseline.MarginEngine(ins, params=params).compute(acc, m, a["model"])
        check_margin(res, want, len(acc), max(ins.n_underlyings, 1))


class RiskArrays(Target):
    name = "engine.risk_arrays"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        a["table"] = str(rng.choice(["deribit", "span"]))
        return a

    def call(self, a: Args) -> Any:
        ins = instruments_of(a)
        m = market_of(a)
        n_u = max(ins.n_underlyings, 1)
        sc = deribit_scenarios(n_u) if a["table"] == "deribit" else span_scenarios(n_u)
        eng = MarginEngine(ins, scenarios=sc)
        return ins, m, sc, eng.risk_arrays(m), eng.instrument_values(m)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, sc, risk, vals = out
        finite(risk, "risk_arrays")
        finite(vals, "instrument_values")
        if risk.shape != (len(ins), sc.n_scenarios):
            raise Finding(f"risk arrays of shape {risk.shape}")
        ref = baseline.MarginEngine(ins, scenarios=sc)
        close(risk, ref.risk_arrays(m), "risk_arrays")
        want = ref.instrument_values(m)
        for f in dataclasses.fields(vals):
            close(getattr(vals, f.name), getattr(want, f.name), f"instrument_values.{f.name}")


class Scenarios(Target):
    """Scenario-table builders, then the engine on the table they built."""

    name = "scenarios"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_u = max(int(a["underlying"].max()) + 1, 1)
        a["builder"] = str(rng.choice(["deribit", "span", "table"]))
        a["price_range"] = float(np.round(rng.uniform(0.02, 0.3), 3))
        a["vol_up"] = float(np.round(rng.uniform(0.0, 1.0), 3))
        a["vol_down"] = float(np.round(rng.uniform(0.0, 1.0), 3))
        a["buckets"] = int(rng.integers(1, 6))
        a["look_ahead"] = float(rng.choice([0.0, 1 / 365]))
        s = int(rng.integers(1, 6))
        a["moves"] = np.round(rng.uniform(-0.5, 0.5, (s, n_u)), 3)
        a["vol_shocks"] = np.round(rng.uniform(-1, 1, (s, n_u)), 3)
        a["weights"] = np.ones((s, n_u))
        a["n_underlyings"] = n_u
        return a

    def call(self, a: Args) -> Any:
        if a["builder"] == "deribit":
            sc = deribit_scenarios(
                a["n_underlyings"], a["price_range"], a["buckets"], vol_up=a["vol_up"], vol_down=a["vol_down"]
            )
        elif a["builder"] == "span":
            sc = span_scenarios(
                a["n_underlyings"], a["price_range"], a["vol_up"], look_ahead_days=a["look_ahead"]
            )
        else:
            sc = ScenarioTable(
                a["moves"],
                a["vol_shocks"],
                a["weights"],
                vol_up=a["vol_up"],
                vol_down=a["vol_down"],
                look_ahead=a["look_ahead"],
            )
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        res = MarginEngine(ins, scenarios=sc).compute(acc, m, "portfolio")
        return ins, m, acc, sc, res

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, sc, res = out
        finite((sc.moves, sc.vol_shocks, sc.weights), "scenarios")
        want = baseline.MarginEngine(ins, scenarios=sc).compute(acc, m, "portfolio")
        check_margin(res, want, len(acc), sc.n_underlyings)


class WhatIf(Target):
    name = "MarketState.what_if"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_i = a["kind"].shape[0]
        a["account"] = int(rng.integers(0, a["offsets"].shape[0] - 1))
        a["trades"] = [(int(rng.integers(n_i)), float(np.round(rng.uniform(-5, 5), 2))) for _ in range(2)]
        a["balance_change"] = np.round(rng.uniform(-100, 100, a["asset_price"].shape[0]), 2)
        a["model"] = str(rng.choice(["standard", "cross", "portfolio"]))
        a["apply"] = bool(rng.random() < 0.5)
        return a

    def call(self, a: Args) -> Any:
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        state = MarketState(MarginEngine(ins), acc, m, a["model"])
        fn = state.apply if a["apply"] else state.what_if
        w = fn(a["account"], a["trades"], a["balance_change"])
        return w, state.result(), state.tick(m)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        w, res, ticked = out
        finite((w.before, w.after), "what_if", allow_inf=("margin_ratio",))
        check_margin(res, None, res.equity.shape[0], res.net_delta.shape[1])
        check_margin(ticked, None, res.equity.shape[0], res.net_delta.shape[1])


class Curves(Target):
    """Rate curves, vol surfaces and the engine valued off them."""

    name = "curves"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng, n_u=1)
        a["curve_t"] = np.array([0.1, 0.5, 2.0])
        a["curve_r"] = np.round(rng.uniform(-0.02, 0.08, 3), 4)
        a["surf_t"] = np.array([0.001, 2.0])
        a["surf_x"] = np.array([-2.0, 0.0, 2.0])
        a["surf_v"] = np.round(rng.uniform(0.2, 1.2, (2, 3)), 3)
        a["rate"] = 0.0
        return a

    def call(self, a: Args) -> Any:
        curve = RateCurve(a["curve_t"], a["curve_r"])
        surf = VolSurface(a["surf_t"], a["surf_x"], a["surf_v"])
        m = Market(
            a["spot"],
            a["vol"],
            a["asset_price"],
            a["haircut"],
            forward=a["forward"],
            surfaces=[surf],
            rate_curve=curve,
        )
        ins, acc = instruments_of(a), accounts_of(a)
        return ins, m, acc, MarginEngine(ins).compute(acc, m, "portfolio")

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, res = out
        check_margin(res, baseline.MarginEngine(ins).compute(acc, m, "portfolio"), len(acc), 1)
