"""MarketState (docs/margin-model.md §7.1): a what-if, an applied trade and a price tick
against a full ``MarginEngine.compute`` of the changed book and market."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.margin_strategies import Case, cases
from zkmargin import MarginEngine, MarketState, errors
from zkmargin.book import Accounts
from zkmargin.results import ACCOUNT_FIELDS, MODELS
from zkmargin.synthetic import generate_exchange

EX = generate_exchange(400, seed=3)
ENGINE = MarginEngine(EX.instruments)


def triples(acc: Accounts) -> tuple[list[int], list[int], list[float]]:
    counts = np.diff(acc.offsets)
    return list(np.repeat(np.arange(counts.size), counts)), list(acc.instrument), list(acc.quantity)


def changed_book(acc: Accounts, account: int, trades: list[tuple[int, float]], cash: list[float]) -> Accounts:
    """The book with ``trades`` and ``cash`` added to ``account``, built from scratch."""
    a, i, q = triples(acc)
    a += [account] * len(trades)
    i += [t[0] for t in trades]
    q += [t[1] for t in trades]
    bal = acc.balances.copy()
    bal[account] += cash
    return Accounts.from_triples(np.array(a, dtype=np.int64), np.array(i, dtype=np.int64), np.array(q), bal)


def merged_book(acc: Accounts, account: int, trades: list[tuple[int, float]], cash: list[float]) -> Accounts:
    """docs §7.1's trial book for a raw CSR book (rows unsorted, instruments repeated):
    each trade added to the first row of its instrument, else inserted before the first
    row of a larger instrument; rows reaching exactly zero dropped; other accounts as
    they are."""
    lo, hi = int(acc.offsets[account]), int(acc.offsets[account + 1])
    rows = [[int(i), float(q)] for i, q in zip(acc.instrument[lo:hi], acc.quantity[lo:hi], strict=True)]
    for ins, q in trades:
        at = next((r for r in rows if r[0] == ins), None)
        if at is not None:
            at[1] += q
        else:
            pos = next((k for k, r in enumerate(rows) if r[0] > ins), len(rows))
            rows.insert(pos, [ins, q])
    rows = [r for r in rows if r[1] != 0.0]
    instrument = [*acc.instrument[:lo], *(r[0] for r in rows), *acc.instrument[hi:]]
    quantity = [*acc.quantity[:lo], *(r[1] for r in rows), *acc.quantity[hi:]]
    offsets = acc.offsets.copy()
    offsets[account + 1 :] += len(rows) - (hi - lo)
    bal = acc.balances.copy()
    bal[account] += cash
    return Accounts(offsets, np.array(instrument, dtype=np.int64), np.array(quantity), bal)


def row(res: zkmargin.MarginResult, a: int) -> list[float]:
    return [float(getattr(res, f)[a]) for f in ACCOUNT_FIELDS]


def as_list(m: zkmargin.state.AccountMargin) -> list[float]:
    return [getattr(m, f) for f in ACCOUNT_FIELDS]


@pytest.mark.parametrize("model", MODELS)
def test_what_if_is_the_full_recompute_of_the_changed_book_to_the_bit(model: str) -> None:
    st_ = MarketState(ENGINE, EX.accounts, EX.market, model)
    base = ENGINE.compute(EX.accounts, EX.market, model)
    rng = np.random.default_rng(1)
    n_i = EX.instruments.kind.shape[0]
    n_j = EX.accounts.balances.shape[1]
    for a in rng.choice(len(EX.accounts), 12, replace=False):
        a = int(a)
        held = EX.accounts.instrument[EX.accounts.offsets[a] : EX.accounts.offsets[a + 1]]
        trades = [(int(i), float(rng.normal(0, 3))) for i in rng.integers(0, n_i, 3)]
        if held.size:  # also close one position exactly
            close = int(held[0])
            q = EX.accounts.quantity[EX.accounts.offsets[a]]
            trades.append((close, -float(q) - sum(t[1] for t in trades if t[0] == close)))
        cash = list(rng.normal(0, 100, n_j))
        w = st_.what_if(a, trades, cash)
        full = ENGINE.compute(changed_book(EX.accounts, a, trades, cash), EX.market, model)
        assert as_list(w.after) == row(full, a)
        assert w.after.worst_scenario == full.worst_scenario[a]
        assert as_list(w.before) == row(base, a)
        assert w.d_initial_margin == w.after.initial_margin - w.before.initial_margin
        assert w.d_maintenance_margin == w.after.maintenance_margin - w.before.maintenance_margin
        assert w.d_equity == w.after.equity - w.before.equity
    # nothing was applied
    res = st_.result()
    for f in (*ACCOUNT_FIELDS, "worst_scenario", "net_delta", "net_vega"):
        np.testing.assert_array_equal(getattr(res, f), getattr(base, f))


def test_a_trade_stream_applied_equals_recomputing_the_final_book() -> None:
    st_ = MarketState(ENGINE, EX.accounts, EX.market)
    rng = np.random.default_rng(2)
    n_i = EX.instruments.kind.shape[0]
    book = EX.accounts
    for _ in range(40):
        a = int(rng.integers(0, len(book)))
        trades = [(int(rng.integers(0, n_i)), float(rng.normal(0, 2)))]
        w = st_.apply(a, trades)
        book = changed_book(book, a, trades, [0.0] * book.balances.shape[1])
        assert as_list(w.after) == row(ENGINE.compute(book, EX.market), a)
    got, want = st_.result(), ENGINE.compute(book, EX.market)
    for f in (*ACCOUNT_FIELDS, "worst_scenario", "net_delta", "net_gamma", "net_vega", "net_theta"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f))
    final = st_.accounts()
    for f in ("offsets", "instrument", "quantity", "balances"):
        np.testing.assert_array_equal(getattr(final, f), getattr(book, f))


def test_a_price_tick_reprices_once_and_remargins_everyone() -> None:
    st_ = MarketState(ENGINE, EX.accounts, EX.market)
    st_.apply(0, [(3, 1.5)])
    moved = dataclasses.replace(EX.market, spot=EX.market.spot * 1.04, vol=EX.market.vol * 1.1)
    got = st_.tick(moved)
    want = ENGINE.compute(st_.accounts(), moved)
    for f in (*ACCOUNT_FIELDS, "worst_scenario", "net_delta"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f))


@given(case=cases(max_accounts=4), data=st.data())
def test_what_if_property_matches_full_recompute(case: Case, data: st.DataObject) -> None:
    """Books as raw CSR (unsorted, repeated instruments, any parameters), the changed book
    rebuilt independently by ``merged_book``: agreement to 1e-12 of the gross magnitudes
    (in fact to the bit: the same rows are summed in the same order)."""
    acc = case.accounts
    if len(acc) == 0:
        return
    eng = case.engine(MarginEngine)
    model = data.draw(st.sampled_from(MODELS))
    n_i = case.instruments.kind.shape[0]
    a = data.draw(st.integers(0, len(acc) - 1))
    trade = st.tuples(st.integers(0, n_i - 1), st.floats(-20, 20, allow_nan=False))
    trades = data.draw(st.lists(trade, max_size=4))
    cash = data.draw(
        st.lists(st.floats(-1e3, 1e3), min_size=acc.balances.shape[1], max_size=acc.balances.shape[1])
    )
    w = MarketState(eng, acc, case.market, model).what_if(a, trades, cash)
    changed = merged_book(acc, a, trades, cash)
    full = eng.compute(changed, case.market, model)
    values = eng.instrument_values(case.market)
    risk = np.abs(eng.risk_arrays(case.market)).max(axis=1)
    rows = slice(changed.offsets[a], changed.offsets[a + 1])
    q, ins = np.abs(changed.quantity[rows]), changed.instrument[rows]
    gross = 1.0 + np.abs(changed.balances[a] * case.market.asset_price).sum()
    gross += float((q * (np.abs(values.mtm[ins]) + risk[ins] + np.abs(values.delta[ins]))).sum())
    for f, got in zip(ACCOUNT_FIELDS, as_list(w.after), strict=True):
        want = float(getattr(full, f)[a])
        if f == "margin_ratio":
            assert got == pytest.approx(want, rel=1e-9) or (np.isinf(got) and np.isinf(want))
        else:
            assert abs(got - want) <= 1e-12 * gross, f


def test_state_keeps_no_reference_to_the_callers_book() -> None:
    acc = EX.accounts
    quantity, balances = acc.quantity.copy(), acc.balances.copy()
    st_ = MarketState(ENGINE, acc, EX.market)
    st_.apply(1, [(0, 5.0)], [10.0] * acc.balances.shape[1])
    np.testing.assert_array_equal(acc.quantity, quantity)
    np.testing.assert_array_equal(acc.balances, balances)


def test_bad_what_if_arguments_raise_typed_errors() -> None:
    st_ = MarketState(ENGINE, EX.accounts, EX.market)
    n = len(EX.accounts)
    with pytest.raises(errors.IndexOutOfRangeError) as exc:
        st_.what_if(n, [(0, 1.0)])
    assert exc.value.field == "account"
    with pytest.raises(errors.IndexOutOfRangeError) as exc:
        st_.what_if(0, [(0, 1.0), (10**6, 1.0)])
    assert (exc.value.field, exc.value.index) == ("trades.instrument", 1)
    with pytest.raises(errors.NonFiniteError) as exc:
        st_.what_if(0, [(0, float("nan"))])
    assert (exc.value.field, exc.value.index) == ("trades.quantity", 0)
    with pytest.raises(errors.ShapeError):
        st_.what_if(0, [(0, 1.0)], [1.0] * 9)
    with pytest.raises(errors.ParameterError):
        MarketState(ENGINE, EX.accounts, EX.market, "bogus")


def test_what_if_by_account_id_and_instrument_name() -> None:
    from datetime import datetime, timezone

    names = ["BTC-PERPETUAL", "BTC-27MAR26-60000-C", "BTC-27MAR26-55000-P"]
    ins = zkmargin.Instruments.from_names(names, datetime(2026, 1, 15, 8, tzinfo=timezone.utc))
    market = zkmargin.Market([60_000.0], [0.0, 0.55, 0.6], [1.0], [0.0])
    acc = Accounts.from_triples(
        np.array(["bob", "alice", "bob"]),
        np.array(["BTC-27MAR26-60000-C", "BTC-PERPETUAL", "BTC-PERPETUAL"]),
        np.array([-2.0, 1000.0, 500.0]),
        pd.DataFrame({"USDC": [5e4, 8e4]}, index=pd.Index(["alice", "bob"], name="account")),
        instruments=ins,
    )
    eng = MarginEngine(ins)
    st_ = MarketState(eng, acc, market)
    w = st_.what_if("bob", [("BTC-27MAR26-55000-P", -3.0)])
    b = int(np.flatnonzero(acc.ids() == "bob")[0])
    put = names.index("BTC-27MAR26-55000-P")
    assert as_list(w.after) == row(eng.compute(changed_book(acc, b, [(put, -3.0)], [0.0]), market), b)
    assert list(st_.result().account_id) == list(acc.ids())
    with pytest.raises(errors.UnknownIdentifierError) as exc:
        st_.what_if("dave", [])
    assert exc.value.field == "account"
    with pytest.raises(errors.UnknownIdentifierError) as exc:
        st_.what_if("bob", [("BTC-PERPETUAL", 1.0), ("BTC-XYZ", 1.0)])
    assert (exc.value.field, exc.value.index) == ("trades.instrument", 1)


@pytest.mark.parametrize(
    "kw",
    [{"settlement_mode": "segregated"}, {"asset_underlying": [-1, 0, 1]}],
    ids=["segregated", "collateral-in-scenarios"],
)
def test_what_if_follows_the_engines_settlement_mode_and_collateral_rows(kw: dict[str, object]) -> None:
    eng = MarginEngine(EX.instruments, **kw)  # type: ignore[arg-type]
    st_ = MarketState(eng, EX.accounts, EX.market)
    base = eng.compute(EX.accounts, EX.market)
    np.testing.assert_array_equal(st_.result().maintenance_margin, base.maintenance_margin)
    a = 5
    trades = [(int(EX.accounts.instrument[EX.accounts.offsets[a]]), -1.5), (0, 2.0)]
    cash = [100.0, -0.01, 0.0]
    w = st_.what_if(a, trades, cash)
    full = eng.compute(changed_book(EX.accounts, a, trades, cash), EX.market)
    assert as_list(w.after) == row(full, a)
