"""The margin model vectorised with NumPy and SciPy (docs/margin-model.md).

A second, independent implementation of the specification, written the way a quant team
would without a native core: per-instrument arrays, then accounts in fixed-size chunks,
scenario P&L as sparse (positions) x dense (risk arrays) products per underlying and
per-account sums with ``np.bincount``. Memory stays bounded by the chunk size.

SciPy is an optional dependency (extra ``baselines``), imported when first needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..book import Accounts, Kind, Settlement
from ..engine import EngineBase
from ..market import Market
from ..pricing import Greeks
from ..results import ACCOUNT_FIELDS, GREEK_FIELDS, InstrumentValues, MarginResult, StatementTerms
from .checks import black76_arguments
from .curves import surface_vols

F64 = NDArray[np.float64]
#: Accounts per chunk: the (chunk x S) scenario P&L block per underlying is ~18 MB at S = 35.
CHUNK = 65_536


def _black76(
    is_call: NDArray[np.bool_], f: F64, k: F64, t: F64, s: F64, r: float | F64
) -> tuple[F64, F64, F64, F64, F64]:
    from scipy.special import ndtr

    disc = np.exp(-r * t)
    sqrt_t = np.sqrt(t)
    sd = s * sqrt_t
    d1 = (np.log(f / k) + 0.5 * s * s * t) / sd
    d2 = d1 - sd
    pdf = np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi)
    sign = np.where(is_call, 1.0, -1.0)
    # ndtr(sign * d) is N(d) for calls and N(-d) for puts, each accurate in its own tail.
    price = sign * disc * (f * ndtr(sign * d1) - k * ndtr(sign * d2))
    delta = sign * disc * ndtr(sign * d1)
    gamma = disc * pdf / (f * sd)
    vega = disc * f * pdf * sqrt_t
    theta = r * price - disc * f * pdf * s / (2.0 * sqrt_t)
    return price, delta, gamma, vega, theta


def black76(is_call: Any, forward: Any, strike: Any, t: Any, vol: Any, rate: Any = 0.0) -> Greeks:
    """Black-76 price and Greeks vectorised with NumPy (same contract as ``zkmargin.black76``)."""
    calls, (f, k, tt, s, r), shape = black76_arguments(is_call, forward, strike, t, vol, rate)
    return Greeks(*(x.reshape(shape) for x in _black76(calls, f, k, tt, s, r)))


@dataclass(frozen=True)
class _Priced:
    """Every per-instrument quantity the account loop needs, at one market state."""

    underlying: NDArray[np.int64]
    is_option: NDArray[np.bool_]
    cs: F64
    fwd: F64
    values: F64  # (6, I): mark_price, mtm, delta, gamma, vega, theta
    im: tuple[F64, F64]  # standard IM per contract for (long, short) rows, per |q|
    mm: tuple[F64, F64]
    bucket: NDArray[np.int64]  # roll bucket of each instrument
    bucket_rate: F64  # roll rate(T) of each bucket
    group: NDArray[np.int64]  # scenario P&L portfolio of each instrument (§6.3)
    bucket_underlying: NDArray[np.int64]  # underlying of each roll bucket (SPAN calendar spreads)
    bucket_expiry: F64  # T of each roll bucket


class MarginEngine(EngineBase):
    """Same constructor and methods as :class:`zkmargin.MarginEngine`; ``threads`` is
    ignored (NumPy's own kernels are single-threaded here)."""

    #: accounts per chunk; results do not depend on it, only peak memory does
    chunk_size: int = CHUNK

    # -- per-instrument ------------------------------------------------------------------

    def _forward(self, market: Market) -> F64:
        ins = self.instruments
        spot = market.spot[ins.underlying]
        if market.forward is None:
            return spot
        return np.where(ins.kind == Kind.SPOT, spot, market.forward)

    def _settlement_value(self, market: Market, f: F64, vol: F64, look_ahead: float = 0.0) -> F64:
        """§2.2 in the settlement currency (USD ``L`` or coins ``V``) for every instrument;
        ``f`` and ``vol`` are (I,) or (I, S); options valued ``look_ahead`` years later
        (intrinsic value once expired, §6.2)."""
        ins = self.instruments
        shape = f.shape
        col = (slice(None),) + (None,) * (f.ndim - 1)

        def per_instrument(x: NDArray[Any]) -> NDArray[Any]:
            return np.broadcast_to(x[col], shape)

        cs = per_instrument(ins.contract_size)
        opt = per_instrument(ins.is_option)
        inverse = per_instrument(ins.settlement == Settlement.INVERSE)
        # settlement-currency value G: cs F (linear delta-one), the USD face -cs (inverse
        # delta-one), cs B (options); inverse contracts pay G / F coins, worth S_u G / F
        g = np.where(inverse, -cs, cs * f)
        if opt.any():
            t = per_instrument(ins.expiry - look_ahead)
            live = opt & (t > 0.0)
            g[live] = (
                cs[live]
                * _black76(
                    per_instrument(ins.kind == Kind.CALL)[live],
                    f[live],
                    per_instrument(ins.strike)[live],
                    t[live],
                    np.broadcast_to(vol, shape)[live],
                    self._rate(market, shape)[live],
                )[0]
            )
            done = opt & ~live
            if done.any():
                k = per_instrument(ins.strike)[done]
                call = per_instrument(ins.kind == Kind.CALL)[done]
                g[done] = cs[done] * np.maximum(np.where(call, f[done] - k, k - f[done]), 0.0)
        return np.where(inverse, g / f, g)

    def _shocked_vol(self, vol: F64, level: F64) -> F64:
        """§6.1 for (I, S) vols and vol-shock levels; only option rows are meaningful."""
        sc = self.scenarios
        u = self.instruments.underlying
        dte = np.maximum(365.0 * self.instruments.expiry, 1.0)[:, None]
        power = np.where(dte < 30.0, sc.power_short[u][:, None], sc.power_long[u][:, None])
        mult = (30.0 / dte) ** power
        vol_up, vol_down = sc.vol_up[u][:, None], sc.vol_down[u][:, None]
        if sc.vol_shift == "absolute":
            up = np.maximum(vol + level * vol_up * mult, sc.min_vol_up[u][:, None])
            down = np.maximum(vol + level * vol_down * mult, 0.05 * vol)
        else:
            up = np.maximum(vol * (1.0 + level * vol_up * mult), sc.min_vol_up[u][:, None])
            down = vol * np.maximum(1.0 + level * vol_down * mult, 0.05)
        return np.where(level > 0.0, up, np.where(level < 0.0, down, vol))

    def _rate(self, market: Market, shape: tuple[int, ...]) -> F64:
        """Each instrument's discount rate (§1.5), broadcast to ``shape`` ((I,) or (I, S))."""
        col = (slice(None),) + (None,) * (len(shape) - 1)
        rates = market.rates_at(self.instruments.expiry)
        per = np.full(len(self.instruments), market.rate) if rates is None else rates
        return np.broadcast_to(per[col], shape)

    def _smile_vol(self, market: Market, f: F64) -> F64:
        """§2.5: each instrument's vol at forwards ``f`` ((I,) or (I, S)): its surface's at
        ``(T, ln(K / F))`` for options on an underlying with one, ``market.vol`` else."""
        ins = self.instruments
        col = (slice(None),) + (None,) * (f.ndim - 1)
        vol = np.array(np.broadcast_to(market.vol[col], f.shape))
        for u, surface in enumerate(market.surfaces or ()):
            rows = np.flatnonzero(ins.is_option & (ins.underlying == u))
            if surface is None or rows.size == 0:
                continue
            t = np.broadcast_to(ins.expiry[rows][col], f[rows].shape)
            vol[rows] = surface_vols(surface, t, np.log(ins.strike[rows][col] / f[rows]))
        return vol

    def _risk(self, market: Market, f: F64) -> F64:
        ins = self.instruments
        u = ins.underlying
        sc = self.scenarios
        moves, shocks, weights = sc.moves[:, u].T, sc.vol_shocks[:, u].T, sc.weights[:, u].T
        moved_f = f[:, None] * (1.0 + moves)
        shocked = self._shocked_vol(self._smile_vol(market, moved_f), shocks)
        today = self._settlement_value(market, f, self._smile_vol(market, f))[:, None]
        moved = self._settlement_value(market, moved_f, shocked, sc.look_ahead)
        spot = market.spot[u][:, None]
        inverse = (ins.settlement == Settlement.INVERSE)[:, None]
        if self.settlement_mode == "segregated":
            # coins at today's index; an extended row is expressed at its edge (§6.2)
            coin = (1.0 + moves) / (1.0 + sc.edge[:, u].T) * spot * (moved - today)
        else:
            coin = np.where(
                ins.is_option[:, None],
                spot * ((1.0 + moves) * moved - today),
                spot * (1.0 + moves) * (moved - today),
            )
        return weights * np.where(inverse, coin, moved - today)

    def risk_arrays(self, market: Market) -> F64:
        """Weighted P&L per contract, instruments x scenarios (docs §6.2)."""
        self.validate_market(market)
        return np.ascontiguousarray(self._risk(market, self._forward(market)))

    def _values(self, market: Market, f: F64) -> F64:
        """§2.3 as a (6, I) block."""
        ins = self.instruments
        n = len(ins)
        cs = ins.contract_size
        spot = market.spot[ins.underlying]
        inverse = ins.settlement == Settlement.INVERSE
        opt = ins.is_option
        mark = f.copy()
        mtm = np.where(ins.kind == Kind.SPOT, cs * spot, 0.0)
        delta = np.where(inverse, spot * cs / f, cs * f)
        gamma = np.where(inverse, -2.0 * spot * cs / f, 0.0)
        vega = np.zeros(n)
        theta = np.zeros(n)
        if opt.any():
            o_f, o_cs, o_s = f[opt], cs[opt], spot[opt]
            b, d_b, g_b, v_b, t_b = _black76(
                ins.kind[opt] == Kind.CALL,
                o_f,
                ins.strike[opt],
                ins.expiry[opt],
                self._smile_vol(market, f)[opt],
                self._rate(market, f.shape)[opt],
            )
            o_inv = inverse[opt]
            mark[opt] = np.where(o_inv, b / o_f, b)
            mtm[opt] = np.where(o_inv, o_s * o_cs * b / o_f, o_cs * b)
            delta[opt] = np.where(o_inv, o_s * o_cs * (d_b - b / o_f), o_cs * o_f * d_b)
            gamma[opt] = np.where(
                o_inv,
                o_s * o_cs * (o_f * g_b - 2.0 * d_b + 2.0 * b / o_f),
                o_cs * o_f * o_f * g_b,
            )
            vega[opt] = np.where(o_inv, o_s * o_cs * v_b / o_f, o_cs * v_b)
            theta[opt] = np.where(o_inv, o_s * o_cs * t_b / o_f, o_cs * t_b)
        return np.stack([mark, mtm, delta, gamma, vega, theta])

    def instrument_values(self, market: Market) -> InstrumentValues:
        """Per-contract marks, MtM and USD Greeks (docs §2.3)."""
        self.validate_market(market)
        block = self._values(market, self._forward(market))
        return InstrumentValues(*(np.ascontiguousarray(x) for x in block))

    def statement_terms(self, market: Market) -> StatementTerms:
        """Roll buckets and rates, forwards and the scenario P&L of shocked collateral, as
        :meth:`compute` uses them (docs/proof-spec.md §2.3); buckets renumbered in order of
        first appearance, as the Rust engine numbers them."""
        self.validate_market(market)
        priced = self._price(market)
        first = np.unique(priced.bucket, return_index=True)[1]
        order = np.argsort(first, kind="stable")  # bucket ids by first appearance
        renumber = np.empty_like(order)
        renumber[order] = np.arange(order.size)
        J, S = market.asset_price.shape[0], self.scenarios.n_scenarios
        group = np.full(J, -1, dtype=np.int64)
        held, borrowed = np.zeros((J, S)), np.zeros((J, S))
        risk = self._collateral_risk(market)
        if risk is not None:
            assets, per_held, per_borrowed = risk
            held[assets], borrowed[assets] = per_held, per_borrowed
            assert self.asset_underlying is not None
            group[assets] = self.asset_underlying[assets]
        return StatementTerms(
            bucket=renumber[priced.bucket].astype(np.int64),
            bucket_expiry=np.ascontiguousarray(priced.bucket_expiry[order]),
            roll_rate=np.ascontiguousarray(priced.bucket_rate[order]),
            forward=np.ascontiguousarray(priced.fwd),
            portfolio=priced.group.astype(np.int64),
            collateral_group=group,
            collateral_held=held,
            collateral_borrowed=borrowed,
        )

    def _price(self, market: Market) -> _Priced:
        ins, p = self.instruments, self.params
        f = self._forward(market)
        values = self._values(market, f)
        cs, opt = ins.contract_size, ins.is_option
        delta_one_notional = np.where(opt | (ins.settlement == Settlement.LINEAR), cs * f, cs)
        # §4: short options pay Deribit's OTM-reduced rate plus their mark; longs nothing
        otm = np.where(
            ins.kind == Kind.CALL, np.maximum(ins.strike - f, 0.0), np.maximum(f - ins.strike, 0.0)
        )
        mtm = values[1]
        short_im = cs * f * np.maximum(p.option_im_base - otm / f, p.option_im_floor) + mtm
        short_mm = cs * f * p.option_mm + mtm
        d1_im = p.linear_im * delta_one_notional
        d1_mm = p.linear_mm * delta_one_notional
        im = (np.where(opt, 0.0, d1_im), np.where(opt, short_im, d1_im))
        mm = (np.where(opt, 0.0, d1_mm), np.where(opt, short_mm, d1_mm))
        t_key = np.where((ins.kind == Kind.SPOT) | (ins.kind == Kind.PERPETUAL), 0.0, ins.expiry)
        group = self._groups()
        keys, bucket = np.unique(
            np.stack([group.astype(np.float64), t_key], axis=1),
            axis=0,
            return_inverse=True,
        )
        t_b = keys[:, 1] if keys.size else np.zeros(0)
        sc = self.scenarios
        if sc.annual_move_risk is not None and sc.min_annual_move is not None:
            u_b = (keys[:, 0].astype(np.int64) % self.n_underlyings) if keys.size else np.zeros(0, np.int64)
            risk, floor = sc.annual_move_risk[u_b], sc.min_annual_move[u_b]
        else:
            risk, floor = np.full(t_b.shape, p.annual_move_risk), np.full(t_b.shape, p.min_annual_move)
        rate = np.maximum(floor, np.expm1(risk * t_b))
        bucket = bucket.ravel().astype(np.int64)
        bucket_u = (keys[:, 0].astype(np.int64) % self.n_underlyings) if keys.size else np.zeros(0, np.int64)
        return _Priced(ins.underlying, opt, cs, f, values, im, mm, bucket, rate, group, bucket_u, t_b)

    def _groups(self) -> NDArray[np.int64]:
        """§6.3: each instrument's portfolio (``U + u`` for coin-settled ones when segregated)."""
        ins = self.instruments
        if self.settlement_mode == "segregated":
            coin = ins.settlement == Settlement.INVERSE
            return np.where(coin, self.n_underlyings + ins.underlying, ins.underlying)
        return ins.underlying.copy()

    @property
    def _n_groups(self) -> int:
        return self.n_underlyings * (2 if self.settlement_mode == "segregated" else 1)

    def _dampeners(self) -> F64:
        """§6.3: ``(n_groups, S)`` dampener per portfolio and scenario."""
        sc = self.scenarios
        g = np.arange(self._n_groups)
        u = g % self.n_underlyings
        d = sc.dampener[:, u].T
        return np.where((g >= self.n_underlyings)[:, None], d / (1.0 + sc.edge[:, u].T), d)

    def _collateral_risk(self, market: Market) -> tuple[NDArray[np.int64], F64, F64] | None:
        """§6.2: (asset indices, P&L per held unit, per borrowed unit) of the linked assets."""
        if self.asset_underlying is None or self.settlement_mode != "cross":
            return None
        assets = np.flatnonzero(self.asset_underlying >= 0)
        if assets.size == 0:
            return None
        u = self.asset_underlying[assets]
        sc = self.scenarios
        wm = (sc.weights[:, u] * sc.moves[:, u]).T  # (J', S)
        px, h = market.asset_price[assets][:, None], market.haircut[assets][:, None]
        return assets, wm * (px * (1.0 - h)), wm * (px * (1.0 + h))

    # -- per-account ---------------------------------------------------------------------

    def _compute(self, accounts: Accounts, market: Market, model: str) -> MarginResult:
        self.validate(accounts, market)
        priced = self._price(market)
        risk = None
        if model == "portfolio":
            full = self._risk(market, priced.fwd)
            # one risk matrix per portfolio, other instruments' rows zeroed, so that
            # positions x risk_g is that portfolio's scenario P&L
            risk = [np.where((priced.group == g)[:, None], full, 0.0) for g in range(self._n_groups)]
        parts = [
            self._chunk(accounts, market, priced, risk, model, a0, min(a0 + self.chunk_size, len(accounts)))
            for a0 in range(0, max(len(accounts), 1), self.chunk_size)
        ]
        floats = np.concatenate([c[0] for c in parts], axis=1)
        worst = np.concatenate([c[1] for c in parts])
        greeks = np.concatenate([c[2] for c in parts], axis=1)
        fields: dict[str, Any] = {
            k: np.ascontiguousarray(v) for k, v in zip(ACCOUNT_FIELDS, floats, strict=True)
        }
        fields.update((k, np.ascontiguousarray(v)) for k, v in zip(GREEK_FIELDS, greeks, strict=True))
        return MarginResult(model=model, worst_scenario=worst, **fields, **self.labels(accounts))

    def _chunk(
        self,
        accounts: Accounts,
        market: Market,
        priced: _Priced,
        risk: list[F64] | None,
        model: str,
        a0: int,
        a1: int,
    ) -> tuple[F64, NDArray[np.int64], F64]:
        """Accounts ``a0 .. a1``: ((8, n) floats in ACCOUNT_FIELDS order, worst, (4, n, U))."""
        p = self.params
        n, n_u = a1 - a0, self.n_underlyings
        offsets = accounts.offsets[a0 : a1 + 1]
        r0, r1 = int(offsets[0]), int(offsets[-1])
        local = offsets - r0
        ins = accounts.instrument[r0:r1]
        q = accounts.quantity[r0:r1]
        acct = np.repeat(np.arange(n), np.diff(local))
        und = priced.underlying[ins]
        opt = priced.is_option[ins]

        def per_account(w: F64) -> F64:
            return np.bincount(acct, weights=w, minlength=n).astype(np.float64, copy=False)

        def per_account_underlying(w: F64) -> F64:
            sums = np.bincount(acct * n_u + und, weights=w, minlength=n * n_u)
            return sums.astype(np.float64, copy=False).reshape(n, n_u)

        b = accounts.balances[a0:a1]
        px, h = market.asset_price, market.haircut
        collateral = np.where(b >= 0.0, b * px * (1.0 - h), b * px * (1.0 + h)).sum(axis=1)
        equity = collateral + per_account(q * priced.values[1][ins])
        greeks = np.stack([per_account_underlying(q * priced.values[g][ins]) for g in range(2, 6)])

        zeros = np.zeros(n)
        wcl, roll, som = zeros, zeros, zeros
        worst = np.full(n, -1, dtype=np.int64)
        if model == "portfolio":
            assert risk is not None
            wcl, worst, losses = self._worst_case(risk, ins, q, local, self._collateral_pnl(market, b))
            n_b = priced.bucket_rate.shape[0]
            net = np.bincount(
                acct * n_b + priced.bucket[ins],
                weights=q * priced.values[2][ins],
                minlength=n * n_b,
            ).reshape(n, n_b)
            short_opt = opt & (q < 0.0)
            if self.aggregation == "span":
                row_som = np.where(
                    short_opt, -q * (p.short_option_min * (priced.cs[ins] * priced.fwd[ins])), 0.0
                )
                is_put = self.instruments.kind[ins] == Kind.PUT
                shorts = (
                    per_account_underlying(np.where(is_put, 0.0, row_som)),
                    per_account_underlying(np.where(is_put, row_som, 0.0)),
                )
                wcl, roll, som = self._span(losses, net, priced.bucket_underlying, shorts)
            else:
                roll = (np.abs(net) * priced.bucket_rate).sum(axis=1)
                som = p.short_option_min * per_account(
                    np.where(short_opt, np.abs(q) * priced.cs[ins] * priced.fwd[ins], 0.0)
                )
            base = wcl + roll + som
            im, mm = p.im_factor * base, p.mm_factor * base
        else:
            short = q < 0.0
            row_im = np.abs(q) * np.where(short, priced.im[1][ins], priced.im[0][ins])
            row_mm = np.abs(q) * np.where(short, priced.mm[1][ins], priced.mm[0][ins])
            if model == "cross":
                netted = ~opt
                net_d1 = per_account_underlying(np.where(netted, q * priced.values[2][ins], 0.0))
                row_im, row_mm = np.where(netted, 0.0, row_im), np.where(netted, 0.0, row_mm)
                im = per_account(row_im) + (p.linear_im * np.abs(net_d1)).sum(axis=1)
                mm = per_account(row_mm) + (p.linear_mm * np.abs(net_d1)).sum(axis=1)
            else:
                im, mm = per_account(row_im), per_account(row_mm)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(equity > 0.0, mm / equity, np.inf)
        floats = np.stack([equity, im, mm, equity - im, ratio, wcl, roll, som])
        return floats, worst, greeks

    def _collateral_pnl(self, market: Market, balances: F64) -> F64 | None:
        """§6.2: ``(n_groups, n, S)`` scenario P&L of a chunk's linked collateral, or None."""
        linked = self._collateral_risk(market)
        if linked is None:
            return None
        assets, held, borrowed = linked
        assert self.asset_underlying is not None
        out = np.zeros((self._n_groups, balances.shape[0], self.scenarios.n_scenarios))
        for k, j in enumerate(assets.tolist()):
            b = balances[:, j][:, None]
            out[self.asset_underlying[j]] += np.where(b > 0.0, b * held[k], b * borrowed[k])
        return out

    def _worst_case(
        self,
        risk: list[F64],
        ins: NDArray[np.int64],
        q: F64,
        local_offsets: NDArray[np.int64],
        collateral: F64 | None,
    ) -> tuple[F64, NDArray[np.int64], F64]:
        """§6.3 for one chunk: (WCL, worst scenario, per-portfolio worst loss (G, n))."""
        from scipy.sparse import csr_matrix

        n = local_offsets.shape[0] - 1
        positions = csr_matrix((q, ins, local_offsets), shape=(n, len(self.instruments)))
        pnl = np.stack([np.asarray(positions @ risk_g) for risk_g in risk])  # (G, n, S)
        if collateral is not None:
            pnl = pnl + collateral
        damp = self._dampeners()[:, None, :]  # (G, 1, S)
        rows = np.arange(n)
        if self.aggregation == "joint":
            g_u = np.arange(self._n_groups) % self.n_underlyings
            offset = self.scenarios.pnl_offset[g_u][:, None, None]
            cap = self.scenarios.max_offsetable_pnl[g_u][:, None, None]
            gains = np.where(pnl > 0.0, offset * np.minimum(pnl, cap), pnl)
            loss = -np.where(damp > 0.0, np.minimum(0.0, pnl + damp), gains).sum(axis=0)
            wcl = np.maximum(0.0, loss.max(axis=1, initial=-np.inf))
            worst = np.where(wcl > 0.0, loss.argmax(axis=1), -1)
            return wcl, worst.astype(np.int64), np.zeros((0, n))
        pnl = pnl + damp
        losses = np.maximum(0.0, (-pnl).max(axis=2))  # (G, n)
        if self.aggregation == "correlation":
            assert self.correlation is not None
            # directional worst losses: rows moving each underlying down (m <= 0) and up
            moves = self.scenarios.moves.T[:, None, :]  # (U, 1, S)
            down = np.maximum(0.0, np.where(moves <= 0.0, -pnl, 0.0).max(axis=2))
            up = np.maximum(0.0, np.where(moves >= 0.0, -pnl, 0.0).max(axis=2))
            e = down - up
            quad = np.einsum("un,uv,vn->n", e, self.correlation, e)
            wcl = np.minimum(down, up).sum(axis=0) + np.sqrt(np.maximum(0.0, quad))
        else:
            wcl = losses.sum(axis=0)
        top_u = losses.argmax(axis=0)
        worst = np.where(wcl > 0.0, (-pnl[top_u, rows]).argmax(axis=1), -1)
        return wcl, worst.astype(np.int64), losses

    def _span(
        self, losses: F64, net: NDArray[Any], bucket_u: NDArray[np.int64], short: tuple[F64, F64]
    ) -> tuple[F64, F64, F64]:
        """§6.4a SPAN for one chunk: (scan net of credits, calendar charges, floor top-up)."""
        assert self.span is not None
        n_u = self.n_underlyings
        n = net.shape[0]
        pos = np.zeros((n, n_u))
        neg = np.zeros((n, n_u))
        for b, u in enumerate(bucket_u.tolist()):
            pos[:, u] += np.maximum(net[:, b], 0.0)
            neg[:, u] += np.maximum(-net[:, b], 0.0)
        loss = losses.T  # (n, U)
        original = pos - neg
        remaining = original.copy()
        credit = np.zeros((n, n_u))
        price_range = (self.scenarios.weights * np.abs(self.scenarios.moves)).max(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            for sp in self.span.inter_spreads:
                (a, b), (ra, rb) = (sp.leg_a, sp.leg_b), (sp.ratio_a, sp.ratio_b)
                ka, kb = remaining[:, a] / ra, remaining[:, b] / rb
                up = (ka > 0.0) & (kb > 0.0)
                dn = (ka < 0.0) & (kb < 0.0)
                count = np.where(up, np.minimum(ka, kb), np.where(dn, -np.maximum(ka, kb), 0.0))
                side = np.where(up, 1.0, -1.0)
                formed = up | dn
                for u, r in ((a, ra), (b, rb)):
                    orig = np.abs(original[:, u])
                    below = loss[:, u] < orig * price_range[u]
                    wpr = np.where(formed, np.where(below, loss[:, u] / orig, price_range[u]), 0.0)
                    credit[:, u] += np.where(formed, sp.rate * (count * abs(r)) * wpr, 0.0)
                    remaining[:, u] -= np.where(formed, side * count * r, 0.0)
        intra_rate = np.broadcast_to(np.asarray(self.span.intra_rate, dtype=np.float64), (n_u,))
        scan = loss - np.minimum(credit, loss)
        intra = intra_rate * np.minimum(pos, neg)
        floor = np.maximum(np.maximum(short[0], short[1]) - (scan + intra), 0.0)
        return scan.sum(axis=1), intra.sum(axis=1), floor.sum(axis=1)
