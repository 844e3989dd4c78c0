"""A deterministic synthetic exchange for tests, examples and benchmarks.

Two underlyings (BTC at 60,000 and ETH at 3,000), about 400 instruments shaped like a
Deribit/Derive listing (spot, linear and inverse perpetuals, dated futures, a strike x
expiry grid of European options with a volatility smile), three collateral assets, and
accounts whose books and collateral look like a real venue's: mostly small, a long tail of
larger books, concentrated in perpetuals and near-the-money options, mostly solvent with a
few percent near or below maintenance.

Everything is vectorised: a million accounts take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .book import Accounts, Instruments, Kind, Settlement
from .errors import ParameterError
from .market import Market
from .pricing import black76

RATE = 0.03
ASSETS = ("USDC", "BTC", "ETH")
HAIRCUTS = (0.0, 0.05, 0.07)
#: the underlying each collateral asset moves with (an engine's ``asset_underlying``)
ASSET_UNDERLYING = (-1, 0, 1)


@dataclass(frozen=True)
class _Underlying:
    name: str
    spot: float
    base_vol: float
    linear_perp_cs: float  # coins per contract
    inverse_face: float  # USD face of the inverse perpetual (and inverse futures)
    futures_inverse: bool
    futures_cs: float  # coins (linear) or USD face (inverse)
    options_inverse: bool
    strike_step: float
    spot_lot: float


_UNDERLYINGS = (
    _Underlying("BTC", 60_000.0, 0.55, 0.001, 10.0, True, 10.0, True, 500.0, 0.001),
    _Underlying("ETH", 3_000.0, 0.70, 0.01, 10.0, False, 0.01, False, 25.0, 0.01),
)
_FUTURE_DAYS = (7, 14, 28, 56, 91, 182, 364)
_OPTION_DAYS = (7, 14, 28, 56, 91, 182, 273, 364)
#: strikes at these multiples of the ATM standard deviation ``base_vol * sqrt(T)``
_STRIKE_Z = np.linspace(-2.2, 2.2, 12)
#: rounds of redrawing an instrument already held by the account before dropping the row
_REDRAWS = 2
#: resolution of the instrument-selection table (weights are quantised to 1 / _TABLE)
_TABLE = 1 << 16


@dataclass(frozen=True, eq=False)
class Exchange:
    """Instruments, today's market and the account books of a synthetic venue."""

    instruments: Instruments
    market: Market
    accounts: Accounts
    names: list[str]

    @property
    def asset_names(self) -> tuple[str, ...]:
        """Collateral asset names, in balance-column order."""
        return ASSETS


def _smile_vol(
    base: float, forward: NDArray[np.float64], strike: NDArray[np.float64], t: NDArray[np.float64]
) -> NDArray[np.float64]:
    # quadratic smile in log-moneyness; short expiries a little richer (mild inverted term)
    term = (np.maximum(t, 1 / 52) / 0.25) ** -0.05
    return (base + 0.8 * np.log(strike / forward) ** 2) * term


def _listing() -> tuple[Instruments, Market, list[str], NDArray[np.float64]]:
    """(instruments, market, names, selection weight of each instrument)."""
    kind: list[int] = []
    und: list[int] = []
    strike: list[float] = []
    expiry: list[float] = []
    cs: list[float] = []
    st: list[int] = []
    fwd: list[float] = []
    vol: list[float] = []
    weight: list[float] = []
    names: list[str] = []

    def add(name: str, k: Kind, u: int, s: Settlement, size: float, f: float, **kw: float) -> None:
        names.append(name)
        kind.append(int(k))
        und.append(u)
        st.append(int(s))
        cs.append(size)
        fwd.append(f)
        strike.append(kw.get("strike", 0.0))
        expiry.append(kw.get("expiry", 0.0))
        vol.append(kw.get("vol", 0.0))
        weight.append(kw["weight"])

    lin, inv = Settlement.LINEAR, Settlement.INVERSE
    for u, ul in enumerate(_UNDERLYINGS):
        s0, n = ul.spot, ul.name
        add(f"{n}-SPOT", Kind.SPOT, u, lin, 1.0, s0, weight=1.5)
        add(f"{n}-PERP", Kind.PERPETUAL, u, lin, ul.linear_perp_cs, s0, weight=6.0)
        add(f"{n}-PERP-INV", Kind.PERPETUAL, u, inv, ul.inverse_face, s0, weight=3.0)
        for days in _FUTURE_DAYS:
            t = days / 365.0
            f = s0 * np.exp(RATE * t)
            fut_st = inv if ul.futures_inverse else lin
            add(f"{n}-FUT-{days}D", Kind.FUTURE, u, fut_st, ul.futures_cs, f, expiry=t, weight=1.0)
        opt_st = inv if ul.options_inverse else lin
        for days in _OPTION_DAYS:
            t = days / 365.0
            f = s0 * np.exp(RATE * t)
            sd = ul.base_vol * np.sqrt(t)
            ks = np.unique(np.round(f * np.exp(_STRIKE_Z * sd) / ul.strike_step) * ul.strike_step)
            vols = _smile_vol(ul.base_vol, np.full(ks.shape, f), ks, np.full(ks.shape, t))
            # near-the-money and near-dated options trade most
            w = 0.6 * np.exp(-0.5 * (np.log(ks / f) / sd) ** 2) / np.sqrt(days / 7.0)
            for k, v, wk in zip(ks.tolist(), vols.tolist(), w.tolist(), strict=True):
                for ck, tag in ((Kind.CALL, "C"), (Kind.PUT, "P")):
                    add(
                        f"{n}-{days}D-{k:.0f}-{tag}",
                        ck,
                        u,
                        opt_st,
                        1.0,
                        f,
                        strike=k,
                        expiry=t,
                        vol=v,
                        weight=wk,
                    )
    instruments = Instruments(kind, und, strike, expiry, cs, st)
    spots = [ul.spot for ul in _UNDERLYINGS]
    market = Market(
        spot=spots,
        vol=vol,
        asset_price=[1.0, spots[0], spots[1]],
        haircut=list(HAIRCUTS),
        rate=RATE,
        forward=fwd,
    )
    return instruments, market, names, np.array(weight)


def _lot(instruments: Instruments) -> NDArray[np.float64]:
    """Smallest tradable quantity of each instrument."""
    spot_lot = np.array([ul.spot_lot for ul in _UNDERLYINGS])[instruments.underlying]
    return np.where(instruments.kind == Kind.SPOT, spot_lot, np.where(instruments.is_option, 0.1, 1.0))


def _draw(
    rng: np.random.Generator,
    row_und: NDArray[np.int64],
    und: NDArray[np.int64],
    weight: NDArray[np.float64],
) -> NDArray[np.int64]:
    """An instrument of underlying ``row_und[k]`` for each row, drawn by ``weight``."""
    ins = np.empty(row_und.size, dtype=np.int64)
    for u in range(len(_UNDERLYINGS)):
        (members,) = np.nonzero(und == u)
        cdf = np.cumsum(weight[members])
        # inverse-CDF lookup table: one gather per row instead of a binary search
        grid = (np.arange(_TABLE) + 0.5) * (cdf[-1] / _TABLE)
        table = members[np.minimum(np.searchsorted(cdf, grid, side="right"), members.size - 1)]
        pick = row_und == u
        ins[pick] = table[rng.integers(0, _TABLE, size=int(pick.sum()))]
    return ins


def _distinct_rows(
    rng: np.random.Generator,
    acct: NDArray[np.int64],
    row_und: NDArray[np.int64],
    und: NDArray[np.int64],
    weight: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(account, instrument) rows sorted by account then instrument, no repeats.

    ``acct`` must be sorted. Repeats are redrawn a few times and the few left are dropped.
    The result is what ``Accounts.from_triples`` would build, but without its general
    two-key sort, which alone takes seconds at ten million rows.
    """
    n_ins = und.size
    ins = _draw(rng, row_und, und, weight)
    key = acct * n_ins + ins
    for redraw in range(_REDRAWS + 1):
        # stable argsort of an account-sorted key only has to order within each account
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        repeat = np.zeros(key.size, dtype=bool)
        repeat[1:] = sorted_key[1:] == sorted_key[:-1]
        if redraw == _REDRAWS or not repeat.any():
            break
        again = order[repeat]
        ins[again] = _draw(rng, row_und[again], und, weight)
        key[again] = acct[again] * n_ins + ins[again]
    keep = order[~repeat]
    return acct[keep], ins[keep]


def generate_exchange(n_accounts: int = 100_000, seed: int = 0) -> Exchange:
    """A synthetic venue with ``n_accounts`` accounts; the same ``seed`` gives the same venue."""
    if not isinstance(n_accounts, (int, np.integer)) or n_accounts < 0:
        raise ParameterError(f"n_accounts must be an int >= 0, got {n_accounts!r}", "n_accounts")
    rng = np.random.default_rng(seed)
    instruments, market, names, weight = _listing()
    und = instruments.underlying
    assert market.forward is not None
    fwd = market.forward
    # USD notional of one contract (inverse delta-one contracts: their USD face)
    delta_one_inverse = ~instruments.is_option & (instruments.settlement == Settlement.INVERSE)
    notional = np.where(delta_one_inverse, instruments.contract_size, instruments.contract_size * fwd)

    # rows per account: 1 + geometric tail, mean about 10, at most 40
    n_rows = np.minimum(rng.geometric(1.0 / 11.0, size=n_accounts), 40)
    acct = np.repeat(np.arange(n_accounts), n_rows)
    n = acct.size

    # each account trades mostly one underlying (BTC for 60%)
    home = (rng.random(n_accounts) < 0.4).astype(np.int64)
    row_und = np.where(rng.random(n) < 0.85, home[acct], 1 - home[acct])
    acct, ins = _distinct_rows(rng, acct, row_und, und, weight)
    n = acct.size

    # per-account size (USD per position) is heavy-tailed; row sizes vary around it
    size = np.exp(rng.normal(np.log(15_000.0), 1.3, size=n_accounts))
    row_usd = size[acct] * np.exp(rng.normal(0.0, 0.6, size=n))
    kind = instruments.kind[ins]
    p_long = np.select([kind == Kind.SPOT, np.isin(kind, (Kind.CALL, Kind.PUT))], [0.9, 0.55], 0.5)
    sign = np.where(rng.random(n) < p_long, 1.0, -1.0)
    lot = _lot(instruments)[ins]
    lots = np.maximum(np.round(row_usd / notional[ins] / lot), 1.0)
    qty = sign * lots * lot

    gross = np.bincount(acct, weights=np.abs(qty) * notional[ins], minlength=n_accounts)
    # option premium already in equity: long premium counts as collateral, short premium owed
    premium = _option_premium(instruments, market, fwd)
    mtm = np.bincount(acct, weights=qty * premium[ins], minlength=n_accounts)
    # collateral against gross notional: median 35%, a few percent of accounts thinly funded
    usd_value = gross * np.exp(rng.normal(np.log(0.35), 0.55, size=n_accounts)) - np.minimum(mtm, 0.0)
    balances = np.zeros((n_accounts, len(ASSETS)))
    coin = rng.random(n_accounts)
    share = rng.uniform(0.2, 1.0, size=n_accounts)
    holds_btc = coin < 0.3
    holds_eth = (coin >= 0.3) & (coin < 0.5)
    coin_usd = np.where(holds_btc | holds_eth, usd_value * share, 0.0)
    balances[:, 0] = usd_value - coin_usd
    balances[:, 1] = np.where(holds_btc, coin_usd / market.asset_price[1], 0.0)
    balances[:, 2] = np.where(holds_eth, coin_usd / market.asset_price[2], 0.0)
    # some coin holders have borrowed USDC against their coins
    borrow = (holds_btc | holds_eth) & (rng.random(n_accounts) < 0.1)
    balances[:, 0] = np.where(borrow, -0.2 * coin_usd, balances[:, 0])
    balances = np.round(balances, 8)
    offsets = np.zeros(n_accounts + 1, dtype=np.int64)
    np.cumsum(np.bincount(acct, minlength=n_accounts), out=offsets[1:])
    accounts = Accounts(offsets, ins, qty, balances)
    return Exchange(instruments, market, accounts, names)


def _option_premium(
    instruments: Instruments, market: Market, fwd: NDArray[np.float64]
) -> NDArray[np.float64]:
    """USD value per contract of each option (0 for the rest), to size collateral."""
    premium = np.zeros(len(instruments))
    opt = instruments.is_option
    price = black76(
        instruments.kind[opt] == Kind.CALL,
        fwd[opt],
        instruments.strike[opt],
        instruments.expiry[opt],
        market.vol[opt],
        market.rate,
    ).price
    usd_per_coin = np.where(
        instruments.settlement[opt] == Settlement.INVERSE,
        market.spot[instruments.underlying[opt]] / fwd[opt],
        1.0,
    )
    premium[opt] = instruments.contract_size[opt] * price * usd_per_coin
    return premium
