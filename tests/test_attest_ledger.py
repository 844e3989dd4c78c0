"""Reading an exchange's book for an attestation: CSV and Parquet agree, errors name the
file's row, account and instrument, and the exchange's own amounts round down."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.attest_fixtures import snapshot
from zkmargin.attest.ledger import Book, decimal_units, read_book, write_book
from zkmargin.book import Accounts
from zkmargin.errors import ParameterError

SNAP = snapshot()
BOOK = Book(
    ("a", "b", "c"),
    Accounts.from_triples([0, 0, 2], [1, 3, 4], [1.5, -0.25, 2.0], [[100.0, 0.5], [0.0, 0.0], [-5.0, 1.0]]),
)


def _write(tmp: Path, pos: str, bal: str) -> tuple[Path, Path]:
    (tmp / "p.csv").write_text(pos)
    (tmp / "b.csv").write_text(bal)
    return tmp / "p.csv", tmp / "b.csv"


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    write_book(tmp_path / "p.csv", tmp_path / "b.csv", SNAP, BOOK)
    got = read_book(SNAP, tmp_path / "p.csv", tmp_path / "b.csv")
    assert got.ids == BOOK.ids
    for f in ("offsets", "instrument", "quantity", "balances"):
        np.testing.assert_array_equal(getattr(got.accounts, f), getattr(BOOK.accounts, f))
    pq.write_table(
        pa.table(
            {
                "account": ["a", "a", "c"],
                "instrument": ["BTC-PERP", "BTC-C60", "BTC-P55"],
                "quantity": [1.5, -0.25, 2.0],
            }
        ),
        tmp_path / "p.parquet",
    )
    pq.write_table(
        pa.table({"account": ["a", "b", "c"], "USDC": [100.0, 0.0, -5.0], "BTC": [0.5, 0.0, 1.0]}),
        tmp_path / "b.parquet",
    )
    par = read_book(SNAP, tmp_path / "p.parquet", tmp_path / "b.parquet")
    assert par.ids == got.ids
    np.testing.assert_array_equal(par.accounts.quantity, got.accounts.quantity)
    np.testing.assert_array_equal(par.accounts.balances, got.accounts.balances)


@pytest.mark.parametrize(
    ("pos", "bal", "match"),
    [
        (
            "account,instrument,quantity\na,BTC-XYZ,1\n",
            "account,USDC,BTC\na,1,0\n",
            "row 2: unknown instrument 'BTC-XYZ'",
        ),
        (
            "account,instrument,quantity\nz,BTC,1\n",
            "account,USDC,BTC\na,1,0\n",
            "account 'z' has no balance row",
        ),
        (
            "account,instrument,quantity\n",
            "account,USDC,BTC\na,1,0\na,2,0\n",
            "row 3: account 'a' appears twice",
        ),
        (
            "account,instrument,quantity\na,BTC,lots\n",
            "account,USDC,BTC\na,1,0\n",
            "quantity of 'a' in 'BTC'",
        ),
        ("account,instrument,quantity\na,BTC,inf\n", "account,USDC,BTC\na,1,0\n", "not finite"),
        ("account,instrument,quantity\n", "account,USDC\na,1\n", "no column 'BTC'"),
        ("account,instrument,quantity\n", "account,USDC,BTC\na,1\n", "row 2: 2 fields"),
    ],
)
def test_errors_name_the_row(tmp_path: Path, pos: str, bal: str, match: str) -> None:
    p, b = _write(tmp_path, pos, bal)
    with pytest.raises(ParameterError, match=match):
        read_book(SNAP, p, b)


def test_exchange_amounts_round_down() -> None:
    assert decimal_units("1.23456789", 4, "fund") == 12345
    assert decimal_units("0.1", 1, "fund") == 1  # exact decimal, no float noise
    assert decimal_units("7", 0, "fund") == 7
    for bad in ("-1", "nan", "1e", "inf"):
        with pytest.raises(ParameterError):
            decimal_units(bad, 2, "fund")
