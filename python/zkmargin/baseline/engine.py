"""The pure-Python reference margin engine (docs/margin-model.md, every section).

Arithmetic is done on Python floats with :mod:`math` only, one account, row and scenario
at a time, written to read like the specification. It is slow by design: it exists to
check the Rust and NumPy engines and to be the "Python loop" benchmark baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..book import Accounts, Kind
from ..engine import EngineBase
from ..market import Market
from ..results import ACCOUNT_FIELDS, GREEK_FIELDS, InstrumentValues, MarginResult, StatementTerms
from .curves import market_rate, surface_vol
from .pricing import Contract


class AccountMargin(NamedTuple):
    equity: float
    initial_margin: float
    maintenance_margin: float
    scenario_loss: float
    worst_scenario: int
    roll_addon: float
    short_option_addon: float


@dataclass(frozen=True)
class Prepared:
    """Contracts, their values (§2.3) and risk rows (§6.2, portfolio model only), and the
    collateral prices and haircuts, for one market state."""

    contracts: list[Contract]
    values: list[tuple[float, ...]]
    risk: list[list[float]]
    prices: list[float]
    haircuts: list[float]
    #: per asset (underlying, P&L per held unit, per borrowed unit) or None (§6.2)
    collateral: list[tuple[int, list[float], list[float]] | None]
    #: per portfolio, the dampener of each scenario (§6.3)
    dampeners: list[list[float]]


class MarginEngine(EngineBase):
    """Same constructor and methods as :class:`zkmargin.MarginEngine`; ``threads`` is ignored."""

    # -- per-instrument ------------------------------------------------------------------

    def _contracts(self, market: Market) -> list[Contract]:
        ins = self.instruments
        spot = market.spot.tolist()
        vol = market.vol.tolist()
        fwd = None if market.forward is None else market.forward.tolist()
        out = []
        for i, (k, u, strike, expiry, cs, st) in enumerate(
            zip(
                ins.kind.tolist(),
                ins.underlying.tolist(),
                ins.strike.tolist(),
                ins.expiry.tolist(),
                ins.contract_size.tolist(),
                ins.settlement.tolist(),
                strict=True,
            )
        ):
            # spot is marked to the index whatever forward is given (§1.2)
            f = fwd[i] if fwd is not None and k != Kind.SPOT else spot[u]
            c = Contract(k, u, strike, expiry, cs, st, spot[u], f, vol[i])
            c.vol = self._smile_vol(market, c, f)
            out.append(c)
        return out

    @staticmethod
    def _smile_vol(market: Market, c: Contract, f: float) -> float:
        """§2.5: the vol of ``c`` at forward ``f``, off its underlying's surface if it is an
        option and has one (coverage was checked by ``validate_market``)."""
        surface = None if market.surfaces is None else market.surfaces[c.underlying]
        if surface is None or not c.is_option:
            return c.vol
        return surface_vol(surface, c.expiry, math.log(c.strike / f))

    def _shocked_vol(self, c: Contract, level: float, vol: float) -> float:
        """§6.1: the vol an option with base vol ``vol`` sees under vol-shock level ``level``."""
        if level == 0.0:
            return vol
        sc = self.scenarios
        u = c.underlying
        dte = max(365.0 * c.expiry, 1.0)
        power = float(sc.power_short[u] if dte < 30.0 else sc.power_long[u])
        mult = math.pow(30.0 / dte, power)
        if sc.vol_shift == "absolute":
            if level > 0.0:
                return max(c.vol + level * float(sc.vol_up[u]) * mult, float(sc.min_vol_up[u]))
            return max(c.vol + level * float(sc.vol_down[u]) * mult, 0.05 * c.vol)
        if level > 0.0:
            return max(vol * (1.0 + level * float(sc.vol_up[u]) * mult), float(sc.min_vol_up[u]))
        return vol * max(1.0 + level * float(sc.vol_down[u]) * mult, 0.05)

    def _risk_rows(self, contracts: Sequence[Contract], market: Market) -> list[list[float]]:
        """§6.2: ``R[i][s]``, weighted USD(-equivalent) P&L per contract."""
        moves = self.scenarios.moves.tolist()
        shocks = self.scenarios.vol_shocks.tolist()
        weights = self.scenarios.weights.tolist()
        edges = self.scenarios.edge.tolist()
        segregated = self.settlement_mode == "segregated"
        rows = []
        for c in contracts:
            u = c.underlying
            rate = market_rate(market, c.expiry)
            today = c.settlement_value(c.fwd, c.vol, rate)
            later = c.expiry - self.scenarios.look_ahead
            row = []
            for m, v, w, e in zip(moves, shocks, weights, edges, strict=True):
                moved_f = c.fwd * (1.0 + m[u])
                base = self._smile_vol(market, c, moved_f)
                vol = self._shocked_vol(c, v[u], base) if c.is_option else c.vol
                moved = c.settlement_value(moved_f, vol, rate, later)
                if not c.inverse:
                    pnl = moved - today
                elif segregated:
                    # coins at today's index; an extended row is expressed at its edge
                    pnl = (1.0 + m[u]) / (1.0 + e[u]) * c.spot * (moved - today)
                elif c.is_option:
                    pnl = c.spot * ((1.0 + m[u]) * moved - today)
                else:
                    pnl = c.spot * (1.0 + m[u]) * (moved - today)
                row.append(w[u] * pnl)
            rows.append(row)
        return rows

    def _group(self, c: Contract) -> int:
        """§6.3: the portfolio a row's P&L joins: its underlying, or under the segregated
        mode ``U + u`` for coin-settled instruments."""
        if self.settlement_mode == "segregated" and c.inverse:
            return self.n_underlyings + c.underlying
        return c.underlying

    @property
    def _n_groups(self) -> int:
        return self.n_underlyings * (2 if self.settlement_mode == "segregated" else 1)

    def _dampeners(self) -> list[list[float]]:
        """§6.3: ``d[g][s]``, the dampener of portfolio ``g`` in scenario ``s``."""
        n_u = self.n_underlyings
        damp = self.scenarios.dampener.tolist()
        edges = self.scenarios.edge.tolist()
        out = []
        for g in range(self._n_groups):
            u, coin = g % n_u, g >= n_u
            out.append([d[u] / (1.0 + e[u]) if coin else d[u] for d, e in zip(damp, edges, strict=True)])
        return out

    def _collateral_rows(
        self, prices: Sequence[float], haircuts: Sequence[float]
    ) -> list[tuple[int, list[float], list[float]] | None]:
        """§6.2: per asset, (underlying, P&L per held unit, per borrowed unit) when it is
        shocked with an underlying (cross settlement mode only)."""
        if self.asset_underlying is None or self.settlement_mode != "cross":
            return []
        moves = self.scenarios.moves.tolist()
        weights = self.scenarios.weights.tolist()
        out: list[tuple[int, list[float], list[float]] | None] = []
        for u, px, h in zip(self.asset_underlying.tolist(), prices, haircuts, strict=True):
            if u < 0:
                out.append(None)
                continue
            out.append(
                (
                    u,
                    [w[u] * m[u] * (px * (1.0 - h)) for m, w in zip(moves, weights, strict=True)],
                    [w[u] * m[u] * (px * (1.0 + h)) for m, w in zip(moves, weights, strict=True)],
                )
            )
        return out

    def risk_arrays(self, market: Market) -> NDArray[np.float64]:
        """Weighted P&L per contract, instruments x scenarios (docs §6.2)."""
        self.validate_market(market)
        rows = self._risk_rows(self._contracts(market), market)
        return np.array(rows, dtype=np.float64).reshape(len(rows), self.scenarios.n_scenarios)

    def instrument_values(self, market: Market) -> InstrumentValues:
        """Per-contract marks, MtM and USD Greeks (docs §2.3)."""
        self.validate_market(market)
        vals = [c.values(market_rate(market, c.expiry)) for c in self._contracts(market)]
        cols = [np.array([v[j] for v in vals], dtype=np.float64) for j in range(6)]
        return InstrumentValues(*cols)

    # -- per-account ---------------------------------------------------------------------

    def _standard_row(self, c: Contract, mtm: float, q: float) -> tuple[float, float]:
        """§4: (IM, MM) of one row margined on its own."""
        p = self.params
        if not c.is_option:
            n = c.notional()
            return p.linear_im * abs(q) * n, p.linear_mm * abs(q) * n
        if q >= 0.0:
            return 0.0, 0.0
        f = c.fwd
        otm = max(c.strike - f, 0.0) if c.is_call else max(f - c.strike, 0.0)
        im = abs(q) * (c.cs * f * max(p.option_im_base - otm / f, p.option_im_floor) + mtm)
        mm = abs(q) * (c.cs * f * p.option_mm + mtm)
        return im, mm

    def _worst_case(self, pnl: list[list[float]], damp: list[list[float]]) -> tuple[float, int]:
        """§6.3: (WCL, worst scenario) from per-portfolio scenario P&L ``pnl[g][s]`` and
        dampeners ``damp[g][s]``."""
        if self.aggregation == "joint":
            sc, n_u = self.scenarios, self.n_underlyings
            offset, cap = sc.pnl_offset.tolist(), sc.max_offsetable_pnl.tolist()

            def counted(x: float, d: float, g: int) -> float:
                """A portfolio's contribution: losses in full, gains offset and capped."""
                if d > 0.0:
                    return min(0.0, x + d)
                return offset[g % n_u] * min(x, cap[g % n_u]) if x > 0.0 else x

            contrib = [
                [counted(x, d, g) for x, d in zip(p, dg, strict=True)]
                for g, (p, dg) in enumerate(zip(pnl, damp, strict=True))
            ]
            loss = [-sum(col) for col in zip(*contrib, strict=True)]
            wcl = max(0.0, max(loss))
            return wcl, (loss.index(max(loss)) if wcl != 0.0 else -1)
        damped = [[-(x + d) for x, d in zip(p, dg, strict=True)] for p, dg in zip(pnl, damp, strict=True)]
        losses = [max(0.0, max(x)) for x in damped]
        wcl = self._signed_correlation(damped) if self.aggregation == "correlation" else sum(losses)
        if wcl == 0.0:
            return wcl, -1
        u = losses.index(max(losses))
        return wcl, damped[u].index(losses[u])

    def _signed_correlation(self, damped: list[list[float]]) -> float:
        """§6.3: non-directional losses added, directional ones combined signed with rho,
        from each portfolio's (dampened) scenario losses ``damped[u][s]``."""
        assert self.correlation is not None  # the native constructor demands it
        moves = self.scenarios.moves.tolist()
        both, signed = 0.0, []
        for u, losses in enumerate(damped):
            down = max([0.0] + [x for x, m in zip(losses, moves, strict=True) if m[u] <= 0.0])
            up = max([0.0] + [x for x, m in zip(losses, moves, strict=True) if m[u] >= 0.0])
            both += min(down, up)
            signed.append(down - up)
        quad = 0.0
        for ea, rho_a in zip(signed, self.correlation.tolist(), strict=True):
            for r, eb in zip(rho_a, signed, strict=True):
                quad += ea * r * eb
        return both + math.sqrt(max(0.0, quad))

    def _span(
        self, loss: list[float], rows: Sequence[tuple[Contract, float, float]]
    ) -> tuple[float, float, float]:
        """§6.4a SPAN per underlying from its scan risk ``loss[u]``: (scan net of credits,
        calendar charges, floor top-up)."""
        assert self.span is not None  # EngineBase fills the default rules
        n_u = self.n_underlyings
        som_rate = self.params.short_option_min
        buckets: dict[tuple[int, float], float] = {}
        calls, puts = [0.0] * n_u, [0.0] * n_u
        for c, q, delta in rows:
            key = (c.underlying, self._bucket_expiry(c))
            buckets[key] = buckets.get(key, 0.0) + q * delta
            if c.is_option and q < 0.0:
                side = puts if c.kind == Kind.PUT else calls
                side[c.underlying] += -q * (som_rate * (c.cs * c.fwd))
        pos, neg = [0.0] * n_u, [0.0] * n_u
        for (u, _), d in buckets.items():
            pos[u] += max(d, 0.0)
            neg[u] += max(-d, 0.0)
        original = [p - n for p, n in zip(pos, neg, strict=True)]
        remaining = list(original)
        credit = [0.0] * n_u
        moves, weights = self.scenarios.moves.tolist(), self.scenarios.weights.tolist()
        price_range = [max(w[u] * abs(m[u]) for m, w in zip(moves, weights, strict=True)) for u in range(n_u)]
        for sp in self.span.inter_spreads:
            legs, ratios = (sp.leg_a, sp.leg_b), (sp.ratio_a, sp.ratio_b)
            ka, kb = (remaining[u] / r for u, r in zip(legs, ratios, strict=True))
            if ka > 0.0 and kb > 0.0:
                n = min(ka, kb)
            elif ka < 0.0 and kb < 0.0:
                n = -max(ka, kb)
            else:
                continue
            sign = 1.0 if ka > 0.0 else -1.0
            for u, r in zip(legs, ratios, strict=True):
                orig = abs(original[u])
                wpr = loss[u] / orig if loss[u] < orig * price_range[u] else price_range[u]
                credit[u] += sp.rate * (n * abs(r)) * wpr
                remaining[u] -= sign * n * r
        intra_rate = np.broadcast_to(np.asarray(self.span.intra_rate, dtype=np.float64), (n_u,)).tolist()
        scan = intra = floor = 0.0
        for u in range(n_u):
            s_u = loss[u] - min(credit[u], loss[u])
            i_u = intra_rate[u] * min(pos[u], neg[u])
            scan += s_u
            intra += i_u
            floor += max(max(calls[u], puts[u]) - (s_u + i_u), 0.0)
        return scan, intra, floor

    def _roll(self, rows: Sequence[tuple[Contract, float, float]]) -> float:
        """§6.4 roll/basis add-on on per-(portfolio, expiry) net USD delta."""
        buckets: dict[tuple[int, float], float] = {}
        for c, q, delta in rows:
            key = (self._group(c), self._bucket_expiry(c))
            buckets[key] = buckets.get(key, 0.0) + q * delta
        return sum(self._roll_rate(g, t) * abs(d) for (g, t), d in buckets.items())

    def _roll_rate(self, group: int, t: float) -> float:
        """§6.4 ``rate(T)`` with the roll parameters of the portfolio's underlying."""
        p, sc = self.params, self.scenarios
        u = group % self.n_underlyings
        if sc.annual_move_risk is not None and sc.min_annual_move is not None:
            risk, floor = float(sc.annual_move_risk[u]), float(sc.min_annual_move[u])
        else:
            risk, floor = p.annual_move_risk, p.min_annual_move
        return max(floor, math.exp(risk * t) - 1.0)

    @staticmethod
    def _bucket_expiry(c: Contract) -> float:
        """§6.4: the ``T`` a row's roll bucket is keyed by (0 for spot and perpetuals)."""
        return 0.0 if c.kind in (Kind.SPOT, Kind.PERPETUAL) else c.expiry

    def statement_terms(self, market: Market) -> StatementTerms:
        """Roll buckets and rates, forwards and the scenario P&L of shocked collateral, as
        :meth:`compute` uses them (docs/proof-spec.md §2.3); buckets numbered in order of
        first appearance."""
        self.validate_market(market)
        contracts = self._contracts(market)
        keys: dict[tuple[int, float], int] = {}
        bucket = [keys.setdefault((self._group(c), self._bucket_expiry(c)), len(keys)) for c in contracts]
        rows = self._collateral_rows(market.asset_price.tolist(), market.haircut.tolist())
        J, S = market.asset_price.shape[0], self.scenarios.n_scenarios
        held, borrowed = np.zeros((J, S)), np.zeros((J, S))
        group = np.full(J, -1, dtype=np.int64)
        for j, link in enumerate(rows):
            if link is not None:
                group[j], held[j], borrowed[j] = link
        return StatementTerms(
            bucket=np.array(bucket, dtype=np.int64),
            bucket_expiry=np.array([t for _, t in keys], dtype=np.float64),
            roll_rate=np.array([self._roll_rate(g, t) for g, t in keys], dtype=np.float64),
            forward=np.array([c.fwd for c in contracts], dtype=np.float64),
            portfolio=np.array([self._group(c) for c in contracts], dtype=np.int64),
            collateral_group=group,
            collateral_held=held,
            collateral_borrowed=borrowed,
        )

    def prepare(self, market: Market, model: str) -> Prepared:
        """Per-instrument numbers of one market state (the core's ``Engine::prepare``)."""
        contracts = self._contracts(market)
        prices, haircuts = market.asset_price.tolist(), market.haircut.tolist()
        portfolio = model == "portfolio"
        return Prepared(
            contracts,
            [c.values(market_rate(market, c.expiry)) for c in contracts],
            self._risk_rows(contracts, market) if portfolio else [],
            prices,
            haircuts,
            self._collateral_rows(prices, haircuts) if portfolio else [],
            self._dampeners(),
        )

    def account_margin(
        self,
        prep: Prepared,
        rows: Sequence[tuple[int, float]],
        balances: Sequence[float],
        model: str,
    ) -> AccountMargin:
        """Margin of one account from its ``(instrument, quantity)`` rows and balances."""
        p = self.params
        n_u = self.n_underlyings
        contracts, values = prep.contracts, prep.values
        collateral = sum(
            b * px * (1.0 - h) if b >= 0.0 else b * px * (1.0 + h)
            for b, px, h in zip(balances, prep.prices, prep.haircuts, strict=True)
        )
        equity = collateral + sum(q * values[i][1] for i, q in rows)
        wcl, worst, roll, som = 0.0, -1, 0.0, 0.0
        if model == "portfolio":
            pnl = [[0.0] * self.scenarios.n_scenarios for _ in range(self._n_groups)]
            for i, q in rows:
                acc = pnl[self._group(contracts[i])]
                for s, r in enumerate(prep.risk[i]):
                    acc[s] += q * r
            for link, b in zip(prep.collateral, balances, strict=False):
                if link is not None and b != 0.0:
                    g, held, borrowed = link
                    for s, r in enumerate(held if b > 0.0 else borrowed):
                        pnl[g][s] += b * r
            wcl, worst = self._worst_case(pnl, prep.dampeners)
            deltas = [(contracts[i], q, values[i][2]) for i, q in rows]
            if self.aggregation == "span":
                loss = [
                    max(0.0, max(-(x + d) for x, d in zip(pg, dg, strict=True)))
                    for pg, dg in zip(pnl, prep.dampeners, strict=True)
                ]
                wcl, roll, som = self._span(loss, deltas)
            else:
                roll = self._roll(deltas)
                som = p.short_option_min * sum(
                    abs(q) * contracts[i].cs * contracts[i].fwd
                    for i, q in rows
                    if contracts[i].is_option and q < 0.0
                )
            base = wcl + roll + som
            im, mm = p.im_factor * base, p.mm_factor * base
        else:
            im = mm = 0.0
            net_d1 = [0.0] * n_u
            for i, q in rows:
                c = contracts[i]
                if model == "cross" and not c.is_option:
                    net_d1[c.underlying] += q * values[i][2]
                else:
                    row_im, row_mm = self._standard_row(c, values[i][1], q)
                    im += row_im
                    mm += row_mm
            im += sum(p.linear_im * abs(x) for x in net_d1)
            mm += sum(p.linear_mm * abs(x) for x in net_d1)
        return AccountMargin(equity, im, mm, wcl, worst, roll, som)

    def _compute(self, accounts: Accounts, market: Market, model: str) -> MarginResult:
        self.validate(accounts, market)
        n_u = self.n_underlyings
        prep = self.prepare(market, model)
        offsets = accounts.offsets.tolist()
        instrument = accounts.instrument.tolist()
        quantity = accounts.quantity.tolist()

        out: dict[str, list[float]] = {name: [] for name in ACCOUNT_FIELDS}
        worst_out: list[int] = []
        greeks: list[list[list[float]]] = [[], [], [], []]
        for a, balances in enumerate(accounts.balances.tolist()):
            lo, hi = offsets[a], offsets[a + 1]
            rows = list(zip(instrument[lo:hi], quantity[lo:hi], strict=True))
            for g in range(4):
                net = [0.0] * n_u
                for i, q in rows:
                    net[prep.contracts[i].underlying] += q * prep.values[i][2 + g]
                greeks[g].append(net)
            equity, im, mm, wcl, worst, roll, som = self.account_margin(prep, rows, balances, model)
            out["equity"].append(equity)
            out["initial_margin"].append(im)
            out["maintenance_margin"].append(mm)
            out["free_collateral"].append(equity - im)
            out["margin_ratio"].append(mm / equity if equity > 0.0 else math.inf)
            out["scenario_loss"].append(wcl)
            out["roll_addon"].append(roll)
            out["short_option_addon"].append(som)
            worst_out.append(worst)

        n_a = len(accounts)
        fields: dict[str, Any] = {name: np.array(vals, dtype=np.float64) for name, vals in out.items()}
        fields.update(
            (name, np.array(g, dtype=np.float64).reshape(n_a, n_u))
            for name, g in zip(GREEK_FIELDS, greeks, strict=True)
        )
        return MarginResult(
            model=model, worst_scenario=np.array(worst_out, dtype=np.int64), **fields, **self.labels(accounts)
        )
