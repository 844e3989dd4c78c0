"""Fuzz targets: zkmargin.dynamic (volatility, joint tables, VaR/ES and add-ons,
liquidation, Kupiec) and the extras (orders, forwards, segregated requirements)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fuzzing.base import (
    Target,
    accounts_of,
    check_margin,
    close,
    finite,
    instruments_of,
    liquidity_rule_of,
    market_of,
    universe,
)
from fuzzing.mutate import Args
from zkmargin import (
    Accounts,
    MarginEngine,
    Orders,
    currency_requirements,
    dynamic,
    forwards_from_futures,
)
from zkmargin.baseline import dynamic as dref


def _rows(x: Any) -> list[list[float]]:
    """An accepted history as the reference takes it (a 1-D history is one column)."""
    arr = np.asarray(x, dtype=np.float64)
    return (arr.reshape(-1, 1) if arr.ndim == 1 else arr).tolist()


def _returns(rng: np.random.Generator) -> np.ndarray:
    t, u = int(rng.integers(2, 12)), int(rng.integers(1, 3))
    return np.round(rng.normal(0, 0.03, (t, u)), 5)


class Volatility(Target):
    name = "dynamic.volatility"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        r = _returns(rng)
        return {
            "fn": str(
                rng.choice(
                    [
                        "log_returns",
                        "ewma",
                        "rolling",
                        "annualise",
                        "scan_ranges",
                        "apc",
                        "cap_path",
                        "span_table",
                        "dynamic_span_table",
                    ]
                )
            ),
            "prices": np.round(100 * np.exp(np.cumsum(r, axis=0)), 4),
            "returns": r,
            "lam": 0.94,
            "window": int(rng.integers(2, max(3, r.shape[0] + 1))),
            "periods": 365.0,
            "k": 3.5,
            "horizon": 2 / 365,
            "floor": 0.05,
            "cap": 0.45,
            "weight": 0.25,
            "max_rise": 0.25,
        }

    def call(self, a: Args) -> Any:
        fn = a["fn"]
        if fn == "log_returns":
            return dynamic.log_returns(a["prices"])
        if fn == "ewma":
            return dynamic.ewma_volatility(a["returns"], a["lam"])
        if fn == "rolling":
            return dynamic.rolling_volatility(a["returns"], a["window"])
        if fn == "annualise":
            return dynamic.annualise(a["returns"], a["periods"])
        r = a["returns"]
        numeric = isinstance(r, np.ndarray) and r.dtype.kind in "biuf" and r.ndim == 2 and len(r)
        sig = np.abs(r[-1]) if numeric else r
        if fn == "scan_ranges":
            return dynamic.scan_ranges(sig, a["k"], a["horizon"], a["floor"], a["cap"])
        if fn == "apc":
            return dynamic.apc_volatility(sig, a["floor"], a["cap"], a["weight"])
        if fn == "cap_path":
            return dynamic.cap_path(a["prices"], a["max_rise"])
        if fn == "span_table":
            t = dynamic.span_table_from_ranges(
                dynamic.scan_ranges(sig, a["k"], a["horizon"], a["floor"], a["cap"])
            )
            return (t.moves, t.vol_shocks, t.weights)
        t = dynamic.dynamic_span_table(sig, a["k"], a["horizon"], a["floor"], a["cap"])
        return (t.moves, t.vol_shocks, t.weights)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        fn = a["fn"]
        if fn == "log_returns":
            close(out, dref.log_returns(np.asarray(a["prices"]).tolist()), fn)
        elif fn == "ewma":
            close(out, dref.ewma_vol(_rows(a["returns"]), float(a["lam"])), fn)
        elif fn == "rolling":
            close(out, dref.rolling_vol(_rows(a["returns"]), int(a["window"])), fn)
        elif fn == "cap_path":
            close(out, dref.cap_path(np.asarray(a["prices"]).tolist(), float(a["max_rise"])), fn)


class Joint(Target):
    name = "dynamic.joint"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        r = _returns(rng)
        u = r.shape[1]
        return {
            "fn": str(rng.choice(["historical", "filtered", "monte_carlo"])),
            "returns": r,
            "horizon": int(rng.integers(1, r.shape[0] + 1)),
            "lam": 0.94,
            "sigma": np.round(rng.uniform(0.1, 1.5, u), 3),
            "correlation": np.eye(u),
            "mc_horizon": 2 / 365,
            "n_scenarios": int(rng.integers(1, 50)),
            "seed": int(rng.integers(0, 2**32)),
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "historical":
            return dynamic.historical_scenarios(a["returns"], a["horizon"])
        if a["fn"] == "filtered":
            return dynamic.filtered_historical_scenarios(a["returns"], a["lam"], a["horizon"])
        return dynamic.monte_carlo_scenarios(
            a["sigma"], a["correlation"], a["mc_horizon"], a["n_scenarios"], a["seed"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        if a["fn"] == "historical":
            close(
                out,
                dref.historical(_rows(a["returns"]), int(a["horizon"])),
                "historical",
            )
        elif a["fn"] == "monte_carlo":
            want = dref.monte_carlo(
                np.atleast_1d(np.asarray(a["sigma"], dtype=float)).tolist(),
                np.asarray(a["correlation"], dtype=float).tolist(),
                float(a["mc_horizon"]),
                int(a["n_scenarios"]),
                int(a["seed"]),
            )
            close(out, want, "monte_carlo", 1e-9)


class Risk(Target):
    """VaR/ES, scenario P&L, SPAN 2 combination, liquidity add-ons, dynamic haircuts."""

    name = "dynamic.risk"
    weight = 3.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_i = a["kind"].shape[0]
        n_a = a["offsets"].shape[0] - 1
        s = int(rng.integers(1, 8))
        a.update(
            fn=str(rng.choice(["var_es", "scenario_pnl", "span2", "addons", "collateral", "joint_risk"])),
            risk=np.round(rng.normal(0, 100, (n_i, s)), 3),
            confidence=float(rng.choice([0.9, 0.99, 0.5])),
            notional=np.round(rng.uniform(1, 1e4, n_i), 2),
            half_spread=np.round(rng.uniform(0, 0.01, n_i), 5),
            depth=np.round(rng.uniform(1e3, 1e7, n_i), 1),
            base_ratio=0.05,
            share=0.1,
            liq_rate=0.1,
            imf=0.0,
            tail=np.round(rng.uniform(0, 1e3, n_a), 2),
            x=0.5,
            sigma=np.round(rng.uniform(0.1, 1.5, a["asset_price"].shape[0]), 3),
            asset_depth=np.round(rng.uniform(1e3, 1e7, a["asset_price"].shape[0]), 1),
            base=np.zeros(a["asset_price"].shape[0]),
            moves=np.round(rng.uniform(-0.5, 0.5, (s, max(int(a["underlying"].max()) + 1, 1))), 3),
            threads=int(rng.integers(1, 3)),
        )
        return a

    def call(self, a: Args) -> Any:
        fn = a["fn"]
        if fn == "var_es":
            return dynamic.var_es(a["risk"], accounts_of(a), a["confidence"], a["threads"])
        if fn == "scenario_pnl":
            return dynamic.scenario_pnl(a["risk"], accounts_of(a), a["threads"])
        if fn == "span2":
            return dynamic.span2_margin(a["x"], a["tail"], a["tail"], a["tail"], a["tail"])
        if fn == "addons":
            rule = liquidity_rule_of(a)
            return dynamic.addons(rule, accounts_of(a), a["threads"])
        if fn == "collateral":
            return dynamic.dynamic_collateral(
                a["balances"], a["asset_price"], a["sigma"], a["asset_depth"], a["base"], threads=a["threads"]
            )
        return dynamic.joint_risk_arrays(instruments_of(a), market_of(a), a["moves"], a["threads"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        if a["fn"] == "var_es":
            want = dref.var_es(
                np.asarray(a["risk"], dtype=float).tolist(),
                np.asarray(a["offsets"]).tolist(),
                np.asarray(a["instrument"]).tolist(),
                np.asarray(a["quantity"]).tolist(),
                float(a["confidence"]),
            )
            close(out[0], want[0], "var")
            close(out[1], want[1], "es")


class Liquidation(Target):
    """The liquidation scan and a short stress test."""

    name = "dynamic.liquidation"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = Risk().base(rng)
        a["fn"] = str(rng.choice(["scan", "stress"]))
        a["target"] = str(rng.choice(["initial", "maintenance"]))
        a["buffer"] = 0.0
        a["penalty"] = 0.025
        a["asset_underlying"] = np.full(a["asset_price"].shape[0], -1, dtype=np.int64)
        a["stress_move"] = -0.3
        a["vol_multiplier"] = 1.5
        return a

    def call(self, a: Args) -> Any:
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        if a["fn"] == "scan":
            rule = liquidity_rule_of(a)
            eng = MarginEngine(ins)
            return dynamic.scan_margin(eng, acc, m, rule, "portfolio", a["target"], a["buffer"], a["penalty"])
        stress = dynamic.StressScenario("s", a["stress_move"], a["vol_multiplier"])
        return dynamic.stress_test(ins, acc, m, a["asset_underlying"], [stress])


class Kupiec(Target):
    name = "dynamic.kupiec"
    weight = 0.5

    def base(self, rng: np.random.Generator) -> Args:
        n = int(rng.integers(1, 1000))
        return {"n": n, "breaches": int(rng.integers(0, n + 1)), "p": 0.01}

    def call(self, a: Args) -> Any:
        return dynamic.kupiec(a["n"], a["breaches"], a["p"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "kupiec")
        close(out, dref.kupiec(int(a["n"]), int(a["breaches"]), float(a["p"])), "kupiec")


class Extras(Target):
    """Resting orders, forwards from futures marks, per-currency requirements, books from
    triples and a short liquidation cascade."""

    name = "extras"
    weight = 1.5

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_i = a["kind"].shape[0]
        n_a = a["offsets"].shape[0] - 1
        a.update(
            fn=str(rng.choice(["orders", "forwards", "segregated", "triples", "cascade"])),
            order_offsets=np.array([0] * n_a + [1], dtype=np.int64),
            order_instrument=np.array([int(rng.integers(n_i))], dtype=np.int64),
            order_quantity=np.array([float(np.round(rng.uniform(-5, 5), 2))]),
            futures_mark=np.round(a["spot"][a["underlying"]] * rng.uniform(0.9, 1.1, n_i), 2),
            account=rng.integers(0, n_a, a["instrument"].shape[0]).astype(np.int64),
            shock=-0.3,
            depth=1e6,
            max_rounds=3,
            underlying_index=0,
        )
        return a

    def call(self, a: Args) -> Any:
        ins, m = instruments_of(a), market_of(a)
        fn = a["fn"]
        if fn == "orders":
            orders = Orders(a["order_offsets"], a["order_instrument"], a["order_quantity"])
            return MarginEngine(ins).compute(accounts_of(a), m, "portfolio", orders=orders)
        if fn == "forwards":
            return forwards_from_futures(ins, a["spot"], a["futures_mark"])
        if fn == "segregated":
            eng = MarginEngine(ins, settlement_mode="segregated")
            req = currency_requirements(eng, accounts_of(a), m)
            return (req.initial_margin, req.maintenance_margin)
        if fn == "triples":
            acc = Accounts.from_triples(a["account"], a["instrument"], a["quantity"], a["balances"])
            return MarginEngine(ins).compute(acc, m, "cross")
        rule = dynamic.LiquidityRule(np.ones(len(ins)), 0.001, 1e6)
        none = np.full(len(m.asset_price), -1, dtype=np.int64)
        res = dynamic.cascade(
            ins,
            accounts_of(a),
            m,
            none,
            rule,
            a["underlying_index"],
            a["shock"],
            a["depth"],
            max_rounds=a["max_rounds"],
        )
        return (res.quantity_after, res.liquidator_position, res.bad_debt, res.liquidated_notional)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        if dataclasses.is_dataclass(out):
            check_margin(out, None, out.equity.shape[0], out.net_delta.shape[1])
        else:
            finite(out, a["fn"])
