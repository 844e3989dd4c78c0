"""Deribit-style names, user identifiers in errors, and DataFrames in and out (issue 13)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from zkmargin import Accounts, Instruments, Kind, Market, Settlement, errors
from zkmargin.symbols import parse_name

VAL = datetime(2026, 1, 15, 8, 0, tzinfo=timezone.utc)
NAMES = [
    "BTC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-27MAR26-60000-C",
    "BTC-27MAR26-55000-P",
    "ETH-PERPETUAL",
    "ETH-26JUN26-3000-C",
    "BTC_USDC-PERPETUAL",
    "BTC_USDC-27MAR26-65000-C",
    "ETH_USDC-26JUN26-2500-P",
]
VOLS = {
    "BTC-27MAR26-60000-C": 0.55,
    "BTC-27MAR26-55000-P": 0.60,
    "ETH-26JUN26-3000-C": 0.70,
    "BTC_USDC-27MAR26-65000-C": 0.52,
    "ETH_USDC-26JUN26-2500-P": 0.75,
}


def _instruments() -> Instruments:
    return Instruments.from_names(NAMES, VAL, underlyings=["BTC", "ETH"])


def _market(ins: Instruments) -> Market:
    return Market(
        spot=[60_000.0, 3_000.0],
        vol=ins.per_instrument(VOLS, "vol", default=0.0),
        asset_price=[1.0, 60_000.0, 3_000.0],
        haircut=[0.0, 0.05, 0.08],
        rate=0.03,
    )


def _positions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account": ["alice", "bob", "alice", "carol", "bob", "alice", "carol", "bob"],
            "instrument": [
                "BTC-27MAR26-60000-C",
                "ETH-PERPETUAL",
                "BTC-PERPETUAL",
                "BTC_USDC-27MAR26-65000-C",
                "ETH-26JUN26-3000-C",
                "BTC-27MAR26-55000-P",
                "ETH_USDC-26JUN26-2500-P",
                "BTC_USDC-PERPETUAL",
            ],
            "quantity": [-2.0, 3_000.0, -800.0, 5.0, -10.0, 4.0, -20.0, 0.5],
        }
    )


def _balances() -> pd.DataFrame:
    # Built column-first, so selecting columns yields a Fortran-ordered block.
    df = pd.DataFrame(
        {
            "USDC": [20_000.0, 8_000.0, 50_000.0],
            "BTC": [0.5, 0.0, 0.1],
            "ETH": [2.0, 5.0, 0.0],
            "note": list("xyz"),
        },
        index=pd.Index(["carol", "alice", "bob"], name="account"),
    )
    return df


def test_parse_names() -> None:
    p = parse_name("BTC-27MAR26-60000-C")
    assert (p.kind, p.currency, p.linear, p.strike) == ("call", "BTC", False, 60_000.0)
    assert p.expiry == datetime(2026, 3, 27, 8, tzinfo=timezone.utc)
    assert parse_name("BTC-5JUN26").expiry == datetime(2026, 6, 5, 8, tzinfo=timezone.utc)
    q = parse_name("XRP_USDC-27MAR26-0d625-P")
    assert (q.kind, q.currency, q.linear, q.strike) == ("put", "XRP", True, 0.625)
    assert parse_name("BTC_USDC").kind == "spot"
    assert parse_name("ETH_USDC-PERPETUAL").linear


@pytest.mark.parametrize(
    "bad", ["BTC-27XYZ26-60000-C", "btc-perpetual", "BTC-31FEB26", "BTC-27MAR26-60000-X", ""]
)
def test_bad_names_are_typed(bad: str) -> None:
    with pytest.raises(errors.InstrumentNameError) as info:
        Instruments.from_names(["BTC-PERPETUAL", bad], VAL)
    assert info.value.index == 1 and info.value.key == bad and repr(bad) in str(info.value)


def test_from_names_columns() -> None:
    ins = _instruments()
    assert ins.names == tuple(NAMES) and ins.underlying_names == ("BTC", "ETH")
    assert list(ins.kind) == [
        Kind.PERPETUAL,
        Kind.FUTURE,
        Kind.CALL,
        Kind.PUT,
        Kind.PERPETUAL,
        Kind.CALL,
        Kind.PERPETUAL,
        Kind.CALL,
        Kind.PUT,
    ]
    assert list(ins.underlying) == [0, 0, 0, 0, 1, 1, 0, 0, 1]
    assert (
        list(ins.settlement[:6]) == [Settlement.INVERSE] * 6
        and list(ins.settlement[6:]) == [Settlement.LINEAR] * 3
    )
    assert list(ins.contract_size) == [10.0, 10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    # 27 Mar 08:00 is 71 days after 15 Jan 08:00.
    assert ins.expiry[2] == pytest.approx(71 / 365, rel=1e-15)
    assert ins.expiry_time is not None and ins.expiry_time[0] is None
    assert ins.expiry_time[1] == datetime(2026, 3, 27, 8, tzinfo=timezone.utc)
    assert ins.strike[3] == 55_000.0
    # An ISO string with Z is the same valuation time; overrides of contract size apply by name.
    again = Instruments.from_names(
        NAMES, "2026-01-15T08:00:00Z", contract_sizes={"BTC_USDC-PERPETUAL": 0.001}
    )
    assert np.array_equal(again.expiry, ins.expiry) and again.contract_size[6] == 0.001


def test_from_names_errors_name_the_instrument() -> None:
    with pytest.raises(errors.DuplicateError, match="'BTC-PERPETUAL' is given twice \\(rows 0 and 2\\)"):
        Instruments.from_names(["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-PERPETUAL"], VAL)
    with pytest.raises(errors.ExpiredError, match="'BTC-9JAN26'") as info:
        Instruments.from_names(["BTC-PERPETUAL", "BTC-9JAN26"], VAL)
    assert info.value.index == 1
    with pytest.raises(errors.UnknownIdentifierError, match="'SOL_USDC-PERPETUAL' is on SOL"):
        Instruments.from_names(["BTC-PERPETUAL", "SOL_USDC-PERPETUAL"], VAL, underlyings=["BTC"])
    with pytest.raises(errors.ParameterError, match="no default contract size for inverse SOL"):
        Instruments.from_names(["SOL-PERPETUAL"], VAL)
    with pytest.raises(errors.ParameterError, match="no timezone"):
        Instruments.from_names(["BTC-PERPETUAL"], datetime(2026, 1, 15))
    with pytest.raises(errors.UnknownIdentifierError, match="'ETH-PERPETUAL'"):
        Instruments.from_names(["BTC-PERPETUAL"], VAL, contract_sizes={"ETH-PERPETUAL": 1.0})
    with pytest.raises(errors.InstrumentNameError, match="must be a str"):
        Instruments.from_names(["BTC-PERPETUAL", 7], VAL)  # type: ignore[list-item]
    with pytest.raises(errors.DTypeError, match=r"names\[1\]: instrument names must be str"):
        Instruments([1, 1], [0, 0], [0, 0], [0, 0], [10, 10], [1, 1], names=["A", 7])  # type: ignore[list-item]


def test_book_from_names_and_string_ids_matches_engine_arrays() -> None:
    ins = _instruments()
    market = _market(ins)
    bal = _balances()
    pos = _positions()
    before = (pos.copy(), bal.copy())
    book = Accounts.from_table(pos, balances=bal[["USDC", "BTC", "ETH"]], instruments=ins)
    pd.testing.assert_frame_equal(pos, before[0])  # nothing the caller passes is mutated
    pd.testing.assert_frame_equal(bal, before[1])
    assert list(book.ids()) == ["carol", "alice", "bob"] and book.assets == ("USDC", "BTC", "ETH")
    assert book.balances.flags.c_contiguous
    eng = zkmargin.MarginEngine(ins)
    res = eng.compute(book, market, "portfolio")
    df = res.to_pandas()
    assert list(df.index) == ["carol", "alice", "bob"] and df.index.name == "account"
    for name in (
        "equity",
        "initial_margin",
        "maintenance_margin",
        "scenario_loss",
        "roll_addon",
        "short_option_addon",
        "free_collateral",
        "margin_ratio",
        "worst_scenario",
    ):
        np.testing.assert_array_equal(df[name].to_numpy(), getattr(res, name))
    np.testing.assert_array_equal(df["net_delta[ETH]"].to_numpy(), res.net_delta[:, 1])
    assert df.loc["alice", "worst_scenario_label"] == res.worst_scenario_label()[1]
    labelled = [x for x in df["worst_scenario_label"] if x is not None]
    assert labelled and all("vol" in x for x in labelled)

    # The same book from integer triples in the engine's own terms gives the same numbers.
    acc_idx = {"carol": 0, "alice": 1, "bob": 2}
    triples = Accounts.from_triples(
        [acc_idx[a] for a in pos["account"]],
        [NAMES.index(n) for n in pos["instrument"]],
        pos["quantity"].to_numpy(),
        np.ascontiguousarray(bal[["USDC", "BTC", "ETH"]].to_numpy()),
    )
    ref = zkmargin.baseline.MarginEngine(ins).compute(triples, market, "portfolio")
    np.testing.assert_allclose(df["maintenance_margin"].to_numpy(), ref.maintenance_margin, rtol=1e-9)
    np.testing.assert_allclose(df["equity"].to_numpy(), ref.equity, rtol=1e-9)

    table = res.to_arrow()
    assert table.column_names[0] == "account" and table.column("account").to_pylist() == [
        "carol",
        "alice",
        "bob",
    ]
    np.testing.assert_array_equal(table.column("initial_margin").to_numpy(), res.initial_margin)


def test_arrow_and_integer_ids() -> None:
    ins = _instruments()
    pos = pa.table({"account": [7, 3, 7], "instrument": [2, 0, 0], "quantity": [1.0, -100.0, 50.0]})
    bal = pa.table({"account": [3, 7], "USDC": [1_000.0, 2_000.0], "BTC": [0.1, 0.2], "ETH": [0.0, 0.0]})
    book = Accounts.from_table(pos, bal, instruments=ins)
    assert list(book.ids()) == [3, 7]
    assert list(book.offsets) == [0, 1, 3] and list(book.instrument) == [0, 0, 2]
    assert list(book.source_row) == [1, 2, 0]
    res = zkmargin.MarginEngine(ins).compute(book, _market(ins), "cross")
    assert res.to_pandas().index.tolist() == [3, 7]
    # Arrow tables with string ids and names give the same book as pandas.
    bal_df = _balances()
    arrow_bal = pa.table(
        {"account": bal_df.index.tolist(), **{c: bal_df[c].to_numpy() for c in ("USDC", "BTC", "ETH")}}
    )
    from_arrow = Accounts.from_table(pa.Table.from_pandas(_positions()), arrow_bal, instruments=ins)
    from_pandas = Accounts.from_table(_positions(), bal_df[["USDC", "BTC", "ETH"]], instruments=ins)
    for name in ("offsets", "instrument", "quantity", "balances", "source_row", "account_id"):
        np.testing.assert_array_equal(getattr(from_arrow, name), getattr(from_pandas, name))


def test_user_rows_in_errors() -> None:
    ins = _instruments()
    market = _market(ins)
    bal = np.ascontiguousarray(_balances()[["USDC", "BTC", "ETH"]].to_numpy())
    # The issue's case: the user's row 0 is bad; sorting moves it to CSR row 3.
    book = Accounts.from_triples([2, 0, 0, 1], [99, 0, 1, 2], [1.0, 1.0, 1.0, 1.0], bal)
    with pytest.raises(errors.IndexOutOfRangeError) as info:
        zkmargin.MarginEngine(ins).compute(book, market)
    assert info.value.index == 0 and "row 0 (account 2, instrument 99)" in str(info.value)
    with pytest.raises(errors.IndexOutOfRangeError, match="row 0 names instrument 99"):
        Accounts.from_triples([2, 0, 0, 1], [99, 0, 1, 2], [1.0] * 4, bal, instruments=ins)
    pos = _positions()
    pos.loc[5, "instrument"] = "BTC-27MAR26-58000-P"
    with pytest.raises(
        errors.UnknownIdentifierError, match="row 5 names instrument 'BTC-27MAR26-58000-P'"
    ) as unk:
        Accounts.from_table(pos, _balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    assert unk.value.index == 5 and unk.value.key == "BTC-27MAR26-58000-P"
    pos = _positions()
    pos.loc[4, "account"] = "dave"
    with pytest.raises(errors.UnknownIdentifierError, match="row 4 names account 'dave'"):
        Accounts.from_table(pos, _balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    pos = pd.concat([_positions(), _positions().iloc[[2]]], ignore_index=True)
    merged = Accounts.from_table(pos, _balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    assert merged.n_rows == len(_positions())
    with pytest.raises(
        errors.DuplicateError, match="rows 2 and 8 both hold account 'alice', instrument 'BTC-PERPETUAL'"
    ):
        Accounts.from_table(pos, _balances()[["USDC", "BTC", "ETH"]], instruments=ins, duplicates="raise")
    dup = _balances()
    dup.index = pd.Index(["carol", "alice", "carol"], name="account")
    with pytest.raises(errors.DuplicateError, match="account 'carol' is given twice \\(rows 0 and 2\\)"):
        Accounts.from_table(_positions(), dup[["USDC", "BTC", "ETH"]], instruments=ins)
    with pytest.raises(errors.DTypeError, match="string account ids need balances keyed"):
        Accounts.from_table(_positions(), bal, instruments=ins)
    nan_bal = _balances()
    nan_bal.loc["bob", "ETH"] = np.nan
    with pytest.raises(errors.NonFiniteError, match=r"missing values|account .bob."):
        Accounts.from_table(_positions(), nan_bal[["USDC", "BTC", "ETH"]], instruments=ins)


def test_engine_errors_name_instruments_and_accounts() -> None:
    ins = _instruments()
    bad_vol = dict(VOLS, **{"ETH-26JUN26-3000-C": -0.1})
    market = Market(
        [60_000.0, 3_000.0],
        ins.per_instrument(bad_vol, "vol", default=0.0),
        [1.0, 60_000.0, 3_000.0],
        [0.0, 0.05, 0.08],
    )
    book = Accounts.from_table(_positions(), _balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    with pytest.raises(errors.InputError, match="vol of instrument 'ETH-26JUN26-3000-C'") as info:
        zkmargin.MarginEngine(ins).compute(book, market)
    assert info.value.key == "ETH-26JUN26-3000-C" and info.value.index == 5
    bad_q = book.with_quantity(np.where(np.arange(book.n_rows) == 4, np.inf, book.quantity))
    with pytest.raises(errors.NonFiniteError) as nf:
        zkmargin.MarginEngine(ins).compute(bad_q, _market(ins))
    row = int(book.source_row[4])
    assert nf.value.index == row and f"row {row} (account" in str(nf.value)
    with pytest.raises(errors.UnknownIdentifierError, match="no value for 'BTC-27MAR26'") as nv:
        ins.per_instrument({"BTC-PERPETUAL": 0.0}, "vol")
    assert nv.value.key == "BTC-27MAR26" and nv.value.index == 1


def test_issue_case_balances_frame_any_layout() -> None:
    """The issue's call: integer ids, balances as a column selection (Fortran-ordered)."""
    ins = _instruments()
    df = pd.DataFrame({"USDC": [1_000.0, 2_000.0], "BTC": [0.1, 0.0], "ETH": [0.0, 1.0], "x": [1, 2]})
    sel = df[["USDC", "BTC", "ETH"]]
    assert not sel.to_numpy().flags.c_contiguous
    pos = pd.DataFrame({"account": [1, 0], "instrument": [0, 4], "quantity": [100.0, -50.0]})
    book = Accounts.from_table(pos, balances=sel)
    assert book.account_id is None and book.assets == ("USDC", "BTC", "ETH")
    np.testing.assert_array_equal(book.balances, sel.to_numpy())
    res = zkmargin.MarginEngine(ins).compute(book, _market(ins))
    assert res.to_pandas().index.tolist() == [0, 1]
    with pytest.raises(errors.ArrayLayoutError):  # numpy arrays are still never copied silently
        Accounts.from_table(pos, balances=np.asfortranarray(sel.to_numpy()))


def test_dynamic_errors_name_user_rows_and_universes_must_match() -> None:
    ins = _instruments()
    book = Accounts.from_table(_positions(), _balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    risk = zkmargin.dynamic.joint_risk_arrays(ins, _market(ins), [[-0.1, -0.1], [0.1, 0.1]])
    bad = book.with_quantity(np.where(np.arange(book.n_rows) == 2, np.nan, book.quantity))
    with pytest.raises(errors.NonFiniteError) as info:
        zkmargin.dynamic.var_es(risk, bad, 0.5)
    row = int(book.source_row[2])
    assert info.value.index == row and f"row {row} (account" in str(info.value)
    # A book resolved against one named universe cannot be margined by an engine on another.
    other = Instruments.from_names(list(reversed(NAMES)), VAL)
    with pytest.raises(errors.ParameterError, match="another instrument universe"):
        zkmargin.MarginEngine(other).compute(book, _market(ins))
    same = Instruments.from_names(NAMES, VAL, underlyings=["BTC", "ETH"])
    zkmargin.MarginEngine(same).compute(book, _market(ins))  # equal names are the same universe


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4), st.integers(0, len(NAMES) - 1), st.sampled_from([-2.0, -1.0, 0.5, 1.0, 3.0])
        ),
        max_size=40,
    ),
    st.permutations(range(5)),
)
def test_string_ids_build_the_same_book_as_integers(
    rows: list[tuple[int, int, float]], perm: list[int]
) -> None:
    ins = _instruments()
    acc = [r[0] for r in rows]
    inst = [r[1] for r in rows]
    qty = [r[2] for r in rows]
    bal = np.arange(15, dtype=np.float64).reshape(5, 3)
    want = Accounts.from_triples(acc, inst, qty, bal)
    # The same accounts as strings, with the balances table in another order.
    ids = [f"u{a}" for a in perm]
    frame = pd.DataFrame(bal[perm], columns=["USDC", "BTC", "ETH"], index=pd.Index(ids, name="account"))
    got = Accounts.from_table(
        pd.DataFrame(
            {"account": [f"u{a}" for a in acc], "instrument": [NAMES[i] for i in inst], "quantity": qty}
        ),
        frame,
        instruments=ins,
    )
    assert list(got.ids()) == ids
    for k, a in enumerate(perm):  # account k of `got` is account perm[k] of `want`
        lo, hi = got.offsets[k], got.offsets[k + 1]
        wlo, whi = want.offsets[a], want.offsets[a + 1]
        np.testing.assert_array_equal(got.instrument[lo:hi], want.instrument[wlo:whi])
        np.testing.assert_array_equal(got.quantity[lo:hi], want.quantity[wlo:whi])
        np.testing.assert_array_equal(got.balances[k], bal[a])
        for r in range(lo, hi):  # each row remembers a caller row holding that pair
            src = int(got.source_row[r])
            assert (acc[src], inst[src]) == (a, int(got.instrument[r]))


def test_named_book_on_vol_surfaces_to_pandas() -> None:
    """The issue's whole path: Deribit-style names, one vol surface per underlying, a
    positions DataFrame with string ids, margined; ``to_pandas()`` is the engine's arrays
    and the pure-Python reference agrees on the surfaced market."""
    ins = _instruments()
    t = np.array([0.1, 0.5, 1.0])
    k = np.array([-1.0, -0.3, 0.0, 0.3, 1.0])
    smile = np.array([0.75, 0.6, 0.55, 0.58, 0.7])
    surfaces = [
        zkmargin.VolSurface(t, k, np.vstack([smile, smile * 0.98, smile * 0.97])),
        zkmargin.VolSurface(t, k, np.vstack([smile + 0.1, smile + 0.09, smile + 0.08])),
    ]
    market = Market(
        spot=[60_000.0, 3_000.0],
        vol=np.zeros(len(ins)),  # options on a surfaced underlying take the surface's vol
        asset_price=[1.0, 60_000.0, 3_000.0],
        haircut=[0.0, 0.05, 0.08],
        rate=0.03,
        surfaces=surfaces,
    )
    book = Accounts.from_table(_positions(), balances=_balances()[["USDC", "BTC", "ETH"]], instruments=ins)
    res = zkmargin.MarginEngine(ins).compute(book, market, "portfolio")
    df = res.to_pandas()
    assert list(df.index) == ["carol", "alice", "bob"]
    for name in ("equity", "initial_margin", "maintenance_margin", "scenario_loss", "worst_scenario"):
        np.testing.assert_array_equal(df[name].to_numpy(), getattr(res, name))
    flat = Market(
        spot=market.spot,
        vol=_market(ins).vol,
        asset_price=market.asset_price,
        haircut=market.haircut,
        rate=0.03,
    )
    assert not np.allclose(
        res.maintenance_margin, zkmargin.MarginEngine(ins).compute(book, flat).maintenance_margin
    )
    ref = zkmargin.baseline.MarginEngine(ins).compute(book, market, "portfolio")
    np.testing.assert_allclose(df["maintenance_margin"].to_numpy(), ref.maintenance_margin, rtol=1e-9)
