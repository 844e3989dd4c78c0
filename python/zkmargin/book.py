"""Instruments and account books (columnar, CSR)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from ._frames import balances_matrix, column
from ._ids import IdIndex, display, id_array
from .errors import (
    DTypeError,
    DuplicateError,
    ExpiredError,
    IndexOutOfRangeError,
    InputError,
    InstrumentNameError,
    NonFiniteError,
    ParameterError,
    ShapeError,
    UnknownIdentifierError,
)
from .results import ACCOUNT_FIELDS
from .symbols import ParsedName, as_utc, parse_name, year_fraction

F64 = NDArray[np.float64]


class Kind(IntEnum):
    """Instrument kind codes (docs/margin-model.md §1.1)."""

    SPOT = 0
    PERPETUAL = 1
    FUTURE = 2
    CALL = 3
    PUT = 4


class Settlement(IntEnum):
    """Settlement codes: linear (USD) or inverse (coin-settled)."""

    LINEAR = 0
    INVERSE = 1


@dataclass(frozen=True, eq=False)
class Instruments:
    """The instrument universe, one entry per column (docs/margin-model.md §1.1).

    Built from columns, or from Deribit-style names with :meth:`from_names`; then ``names``
    holds each instrument's name (in the caller's order, which is also the engine's),
    ``underlying_names`` the currency of each underlying index, ``expiry_time`` each
    expiry as a UTC datetime (``None`` for spot and perpetuals) and ``valuation_time``
    the time the float ``expiry`` (years) is measured from."""

    kind: NDArray[np.int64]
    underlying: NDArray[np.int64]
    strike: NDArray[np.float64]
    expiry: NDArray[np.float64]
    contract_size: NDArray[np.float64]
    settlement: NDArray[np.int64]
    names: tuple[str, ...] | None
    underlying_names: tuple[str, ...] | None
    expiry_time: tuple[datetime | None, ...] | None
    valuation_time: datetime | None
    _index: IdIndex | None = field(repr=False)

    def __init__(
        self,
        kind: Any,
        underlying: Any,
        strike: Any,
        expiry: Any,
        contract_size: Any,
        settlement: Any,
        *,
        names: Sequence[str] | None = None,
        underlying_names: Sequence[str] | None = None,
    ) -> None:
        cols = {
            "kind": _arrays.i64("kind", kind),
            "underlying": _arrays.i64("underlying", underlying),
            "strike": _arrays.f64("strike", strike),
            "expiry": _arrays.f64("expiry", expiry),
            "contract_size": _arrays.f64("contract_size", contract_size),
            "settlement": _arrays.i64("settlement", settlement),
        }
        n = cols["kind"].shape[0]
        for name, arr in cols.items():
            _arrays.same_length(name, arr, n, "kind")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "names", None)
        object.__setattr__(self, "underlying_names", None)
        object.__setattr__(self, "expiry_time", None)
        object.__setattr__(self, "valuation_time", None)
        object.__setattr__(self, "_index", None)
        if names is not None:
            nm = tuple(names)
            if len(nm) != n:
                raise ShapeError(f"names: length {len(nm)} does not match kind ({n})", "names")
            bad = next((k for k, x in enumerate(nm) if not isinstance(x, str)), None)
            if bad is not None:
                raise DTypeError(f"names[{bad}]: instrument names must be str, got {nm[bad]!r}", "names", bad)
            index = IdIndex("instrument", np.array(nm, dtype=str) if nm else np.empty(0, "U1"), "names")
            object.__setattr__(self, "names", nm)
            object.__setattr__(self, "_index", index)
        if underlying_names is not None:
            un = tuple(underlying_names)
            bad = next((k for k, x in enumerate(un) if not isinstance(x, str)), None)
            if bad is not None:
                raise DTypeError(
                    f"underlying_names[{bad}]: must be str, got {un[bad]!r}", "underlying_names", bad
                )
            if n and len(un) < self.n_underlyings:
                raise ShapeError(
                    f"underlying_names: {len(un)} names for {self.n_underlyings} underlyings",
                    "underlying_names",
                )
            IdIndex("underlying", np.array(un, dtype=str), "underlying_names")
            object.__setattr__(self, "underlying_names", un)

    @classmethod
    def from_names(
        cls,
        names: Sequence[str],
        valuation_time: datetime | str,
        underlyings: Sequence[str] | None = None,
        contract_sizes: Mapping[str, float] | None = None,
    ) -> Instruments:
        """Instruments from Deribit-style names (:mod:`zkmargin.symbols`), in the given order.

        Expiries are at 08:00 UTC on the named date and become years of 365 days after
        ``valuation_time`` (a timezone-aware datetime or ISO 8601 string); an instrument at
        or past its expiry is an :class:`~zkmargin.errors.ExpiredError`. Underlying indices
        follow ``underlyings`` (e.g. ``["BTC", "ETH"]``, matching ``Market.spot``) or the
        order in which currencies first appear. ``BTC-...`` is inverse (coin-settled) and
        ``BTC_USDC-...`` linear, both on the BTC index. Contract sizes are Deribit's
        (:data:`DERIBIT_INVERSE_FACE`; one coin per inverse option; one unit of the
        underlying per linear contract, i.e. quantities in coins) unless ``contract_sizes``
        maps a name to its own. Unparsable names raise
        :class:`~zkmargin.errors.InstrumentNameError`, repeated names
        :class:`~zkmargin.errors.DuplicateError`; every message names the instrument."""
        names = list(names)
        val = as_utc("valuation_time", valuation_time)
        parsed = []
        for k, name in enumerate(names):
            try:
                parsed.append(parse_name(name))
            except InstrumentNameError as exc:
                raise InstrumentNameError(f"names[{k}]: {exc}", "names", k, key=name) from None
        sizes = dict(contract_sizes or {})
        known = set(names)
        for name in sizes:
            if name not in known:
                raise UnknownIdentifierError(
                    f"contract_sizes names instrument {name!r}, which is not in names",
                    "contract_sizes",
                    key=name,
                )
        und_names = (
            list(underlyings) if underlyings is not None else list(dict.fromkeys(p.currency for p in parsed))
        )
        und_index = {u: i for i, u in enumerate(und_names)}
        if len(und_index) != len(und_names):
            raise DuplicateError("underlyings: a currency is listed twice", "underlyings")
        n = len(names)
        kind = np.empty(n, dtype=np.int64)
        und = np.empty(n, dtype=np.int64)
        strike = np.zeros(n)
        expiry = np.zeros(n)
        cs = np.empty(n)
        st = np.empty(n, dtype=np.int64)
        times: list[datetime | None] = []
        for k, p in enumerate(parsed):
            if p.currency not in und_index:
                raise UnknownIdentifierError(
                    f"names[{k}]: instrument {p.name!r} is on {p.currency}, which is not in underlyings",
                    "names",
                    k,
                    key=p.name,
                )
            kind[k] = _KIND_OF[p.kind]
            und[k] = und_index[p.currency]
            st[k] = Settlement.LINEAR if p.linear else Settlement.INVERSE
            strike[k] = p.strike if p.strike is not None else 0.0
            if p.expiry is not None:
                if p.expiry <= val:
                    raise ExpiredError(
                        f"names[{k}]: instrument {p.name!r} expired at {p.expiry.isoformat()}, "
                        f"not after the valuation time {val.isoformat()}",
                        "names",
                        k,
                        key=p.name,
                    )
                expiry[k] = year_fraction(val, p.expiry)
            times.append(p.expiry)
            cs[k] = sizes[p.name] if p.name in sizes else _default_size(k, p)
        out = cls(kind, und, strike, expiry, cs, st, names=names, underlying_names=und_names)
        object.__setattr__(out, "expiry_time", tuple(times))
        object.__setattr__(out, "valuation_time", val)
        return out

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def n_underlyings(self) -> int:
        """Underlyings referenced: ``max(underlying) + 1`` (0 for an empty universe)."""
        return int(self.underlying.max()) + 1 if len(self) else 0

    @property
    def is_option(self) -> NDArray[np.bool_]:
        """Calls and puts."""
        out: NDArray[np.bool_] = (self.kind == Kind.CALL) | (self.kind == Kind.PUT)
        return out

    def label(self, i: int) -> str:
        """Instrument ``i`` as the caller knows it: its name, else ``instrument i``."""
        return repr(self.names[i]) if self.names is not None else f"instrument {i}"

    def underlying_label(self, u: int) -> str:
        """Underlying ``u`` as the caller knows it: its currency, else its index."""
        names = self.underlying_names
        return names[u] if names is not None and u < len(names) else str(u)

    def index(self, ids: Any, field: str = "instrument") -> NDArray[np.int64]:
        """Instrument index of each id: names when the universe has names, else integer
        indices (range-checked). Errors name the offending id and its position in ``ids``."""
        raw = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
        if raw.dtype.kind in "OU" and self._index is not None:
            return self._index.positions(field, raw)  # str names (an object array of ints is refused)
        arr = id_array(field, raw)
        if arr.dtype.kind == "U":
            if self._index is None:
                raise DTypeError(
                    f"{field}: instrument names given but these instruments have none "
                    "(build them with Instruments.from_names)",
                    field,
                )
            return self._index.positions(field, arr)
        bad = np.flatnonzero((arr < 0) | (arr >= len(self)))
        if bad.size:
            k = int(bad[0])
            raise IndexOutOfRangeError(
                f"{field}: row {k} names instrument {int(arr[k])}, outside 0..{len(self) - 1}",
                field,
                k,
                key=int(arr[k]),
            )
        return arr

    def relabel(self, exc: InputError) -> InputError:
        """``exc`` about instrument ``i`` (a column, its vol or forward) or underlying ``u``
        (its spot) restated with the instrument's name or underlying's currency."""
        i = exc.index
        if i is None or (self.names is None and self.underlying_names is None):
            return exc
        prefix = f"{exc.field}[{i}]: "
        detail = str(exc)[len(prefix) :] if str(exc).startswith(prefix) else str(exc)
        if exc.field in _PER_INSTRUMENT and self.names is not None and i < len(self):
            return type(exc)(
                f"{exc.field} of instrument {self.label(i)}: {detail}", exc.field, i, key=self.names[i]
            )
        if exc.field == "spot" and self.underlying_names is not None and i < len(self.underlying_names):
            u = self.underlying_names[i]
            return type(exc)(f"spot of underlying {u}: {detail}", exc.field, i, key=u)
        return exc

    def per_instrument(self, values: Mapping[str, float], field: str, default: float | None = None) -> F64:
        """A length-``I`` array from ``{name: value}`` (e.g. vols); instruments not named get
        ``default``, or :class:`~zkmargin.errors.UnknownIdentifierError` if it is ``None``."""
        keys = list(values)
        out = np.full(len(self), np.nan if default is None else float(default))
        if keys:
            out[self.index(np.array(keys, dtype=str), field)] = [float(values[k]) for k in keys]
        if default is None and np.isnan(out).any():
            k = int(np.flatnonzero(np.isnan(out))[0])
            key = self.names[k] if self.names is not None else k
            raise UnknownIdentifierError(f"{field}: no value for {self.label(k)}", field, k, key=key)
        return out


#: USD face value of Deribit's inverse perpetuals and futures (Deribit contract
#: specifications: BTC 10 USD, ETH 1 USD).
DERIBIT_INVERSE_FACE = {"BTC": 10.0, "ETH": 1.0}

#: Fields whose index is an instrument (the columns here and the market's per-instrument data).
_PER_INSTRUMENT = ("kind", "underlying", "strike", "expiry", "contract_size", "settlement", "vol", "forward")

_KIND_OF = {
    "spot": Kind.SPOT,
    "perpetual": Kind.PERPETUAL,
    "future": Kind.FUTURE,
    "call": Kind.CALL,
    "put": Kind.PUT,
}


def _default_size(k: int, p: ParsedName) -> float:
    if p.linear or p.kind in ("call", "put"):
        return 1.0
    face = DERIBIT_INVERSE_FACE.get(p.currency)
    if face is None:
        raise ParameterError(
            f"names[{k}]: no default contract size for inverse {p.currency} {p.kind}s "
            f"({p.name!r}); pass contract_sizes={{{p.name!r}: ...}}",
            "contract_sizes",
            k,
            key=p.name,
        )
    return face


@dataclass(frozen=True, eq=False)
class Accounts:
    """Positions in CSR form plus collateral balances (docs/margin-model.md §1.3).

    Books built by :meth:`from_triples` or :meth:`from_table` also remember the caller's
    identifiers: ``account_id`` (the id of each account, in account order; ``None`` means
    the ids are ``0..A-1``), ``source_row`` (the caller's row behind each CSR row, the first
    one when repeats were merged), ``assets`` (balance column names) and the instruments the
    rows were resolved against, so that every later error names the caller's row and ids."""

    offsets: NDArray[np.int64]
    instrument: NDArray[np.int64]
    quantity: NDArray[np.float64]
    balances: NDArray[np.float64]
    account_id: NDArray[Any] | None
    source_row: NDArray[np.int64] | None
    assets: tuple[str, ...] | None
    instruments: Instruments | None = field(repr=False)

    def __init__(
        self,
        offsets: Any,
        instrument: Any,
        quantity: Any,
        balances: Any,
        *,
        account_id: Any = None,
        source_row: Any = None,
        assets: Sequence[str] | None = None,
        instruments: Instruments | None = None,
    ) -> None:
        off = _arrays.i64("offsets", offsets)
        ins = _arrays.i64("instrument", instrument)
        qty = _arrays.f64("quantity", quantity)
        bal = _arrays.f64("balances", balances, ndim=2)
        _arrays.same_length("quantity", qty, ins.shape[0], "instrument")
        if off.shape[0] == 0:
            raise ShapeError("offsets: needs at least one element (A + 1 for A accounts)", "offsets")
        _arrays.same_length("balances", bal, off.shape[0] - 1, "number of accounts")
        ids = None if account_id is None else IdIndex("account", account_id, "account_id").keys
        if ids is not None:
            _arrays.same_length("account_id", ids, off.shape[0] - 1, "number of accounts")
        rows = None if source_row is None else _arrays.i64("source_row", source_row)
        if rows is not None:
            _arrays.same_length("source_row", rows, ins.shape[0], "instrument")
        names = None if assets is None else tuple(str(a) for a in assets)
        if names is not None and len(names) != bal.shape[1]:
            raise ShapeError(f"assets: {len(names)} names for {bal.shape[1]} balance columns", "assets")
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "instrument", ins)
        object.__setattr__(self, "quantity", qty)
        object.__setattr__(self, "balances", bal)
        object.__setattr__(self, "account_id", ids)
        object.__setattr__(self, "source_row", rows)
        object.__setattr__(self, "assets", names)
        object.__setattr__(self, "instruments", instruments)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_rows(self) -> int:
        """Position rows."""
        return int(self.instrument.shape[0])

    def ids(self) -> NDArray[Any]:
        """The caller's id of every account (``0..A-1`` when none were given)."""
        return self.account_id if self.account_id is not None else np.arange(len(self))

    def with_quantity(self, quantity: Any) -> Accounts:
        """The same book (rows, balances, ids) with new row quantities."""
        return Accounts(
            self.offsets,
            self.instrument,
            quantity,
            self.balances,
            account_id=self.account_id,
            source_row=self.source_row,
            assets=self.assets,
            instruments=self.instruments,
        )

    def describe_row(self, r: int) -> str:
        """CSR row ``r`` in the caller's terms: their row number, account id and instrument."""
        a = int(np.searchsorted(self.offsets, r, side="right")) - 1
        row = int(self.source_row[r]) if self.source_row is not None else r
        acc = display(self.ids()[a])
        i = int(self.instrument[r])
        what = (
            self.instruments.label(i)
            if self.instruments is not None and 0 <= i < len(self.instruments)
            else i
        )
        return f"row {row} (account {acc}, instrument {what})"

    def check_universe(self, instruments: Instruments) -> None:
        """Raise :class:`~zkmargin.errors.ParameterError` if this book's rows were resolved
        against named instruments that are not ``instruments`` (indices would mean other
        instruments)."""
        mine = self.instruments
        if mine is None or mine is instruments or mine.names is None or mine.names == instruments.names:
            return
        raise ParameterError(
            "the book's instrument names were resolved against another instrument universe "
            "than the engine's; build both from the same Instruments",
            "instruments",
        )

    def relabel(self, exc: InputError) -> InputError:
        """``exc`` from the engine (which sees CSR rows and flat balances) restated in the
        caller's rows and ids; ``exc`` itself when it is about something else."""
        i = exc.index
        if i is None:
            return exc
        prefix = f"{exc.field}[{i}]: "
        detail = str(exc)[len(prefix) :] if str(exc).startswith(prefix) else str(exc)
        if exc.field in ("instrument", "quantity") and i < self.n_rows:
            row = int(self.source_row[i]) if self.source_row is not None else i
            a = int(np.searchsorted(self.offsets, i, side="right")) - 1
            msg = f"{exc.field} in {self.describe_row(i)}: {detail}"
            return type(exc)(msg, exc.field, row, key=self.ids()[a].item())
        if exc.field == "balances" and self.balances.size and i < self.balances.size:
            a, j = divmod(i, self.balances.shape[1])
            asset = self.assets[j] if self.assets is not None else str(j)
            msg = f"balances of account {display(self.ids()[a])}, asset {asset}: {detail}"
            return type(exc)(msg, "balances", a, key=self.ids()[a].item())
        if exc.field in ACCOUNT_FIELDS and i < len(self):
            # an engine output (NonFiniteResultError), indexed by account
            return type(exc)(
                f"{exc.field} of account {display(self.ids()[i])}: {detail}",
                exc.field,
                i,
                key=self.ids()[i].item(),
            )
        return exc

    @classmethod
    def from_triples(
        cls,
        account: Any,
        instrument: Any,
        quantity: Any,
        balances: Any,
        instruments: Instruments | None = None,
        assets: Sequence[str] | None = None,
        duplicates: str = "sum",
    ) -> Accounts:
        """Build from (account, instrument, quantity) triples in any order.

        ``account``: integer rows of ``balances`` when it is an array (or a DataFrame with
        the default index); otherwise ids (int or str) keying a balances table by its
        ``account`` column or its index, and accounts come out in that table's order.
        ``instrument``: integer indices or, given ``instruments`` with names, names.
        ``balances``: ``A x J`` array, or a pandas DataFrame / pyarrow Table of any memory
        layout (``assets`` picks and orders its asset columns).

        Repeated (account, instrument) pairs are summed (``duplicates="sum"``) or refused
        (``"raise"``: :class:`~zkmargin.errors.DuplicateError` naming both rows); pairs
        summing to exactly zero are dropped; rows come out sorted by account, then
        instrument. Every error names the caller's row and ids, and the book remembers them
        (see :class:`Accounts`)."""
        if duplicates not in ("sum", "raise"):
            raise ParameterError("duplicates must be 'sum' or 'raise'", "duplicates")
        bal_in, keys, asset_names = balances_matrix(balances, None if assets is None else list(assets))
        bal = _arrays.f64("balances", bal_in, ndim=2)
        qty = _arrays.f64("quantity", quantity)
        n_acc = bal.shape[0]
        acc_raw = account if isinstance(account, np.ndarray) else np.asarray(account)
        if keys is not None:
            index = IdIndex("account", keys, "balances.account")
            acc = index.positions("account", acc_raw)
            ids: NDArray[Any] | None = index.keys
        else:
            acc = id_array("account", acc_raw)
            ids = None
            if acc.dtype.kind == "U":
                raise DTypeError(
                    "account: string account ids need balances keyed by account id "
                    "(a DataFrame indexed by account, or with an 'account' column)",
                    "account",
                )
            bad = np.flatnonzero((acc < 0) | (acc >= n_acc))
            if bad.size:
                k = int(bad[0])
                raise IndexOutOfRangeError(
                    f"account: row {k} names account {int(acc[k])}, outside 0..{n_acc - 1}",
                    "account",
                    k,
                    key=int(acc[k]),
                )
        if instruments is not None:
            ins = instruments.index(instrument)
        else:
            ins = id_array("instrument", instrument)
            if ins.dtype.kind == "U":
                raise DTypeError("instrument: names need instruments= (Instruments.from_names)", "instrument")
            bad = np.flatnonzero(ins < 0)
            if bad.size:
                k = int(bad[0])
                raise IndexOutOfRangeError(
                    f"instrument: row {k} names instrument {int(ins[k])}, which is negative",
                    "instrument",
                    k,
                    key=int(ins[k]),
                )
        _arrays.same_length("instrument", ins, acc.shape[0], "account")
        _arrays.same_length("quantity", qty, acc.shape[0], "account")
        bad = np.flatnonzero(~np.isfinite(qty))
        if bad.size:
            k = int(bad[0])
            raise NonFiniteError(f"quantity: row {k} is not finite ({qty[k]})", "quantity", k)
        bad = np.flatnonzero(~np.isfinite(bal).all(axis=1))
        if bad.size:
            a = int(bad[0])
            who = display(ids[a]) if ids is not None else str(a)
            raise NonFiniteError(f"balances of account {who} are not all finite", "balances", a)
        span = int(ins.max()) + 1 if ins.size else 1
        if n_acc * span < 2**62:  # one int64 key sorts about twice as fast as lexsort
            order = np.argsort(acc * span + ins, kind="stable")
        else:
            order = np.lexsort((ins, acc))
        acc_s, ins_s, qty_s = acc[order], ins[order], qty[order]
        if acc_s.size:
            new = np.empty(acc_s.size, dtype=bool)
            new[0] = True
            new[1:] = (acc_s[1:] != acc_s[:-1]) | (ins_s[1:] != ins_s[:-1])
            if duplicates == "raise" and not new.all():
                k = int(np.flatnonzero(~new)[0])
                first, second = sorted((int(order[k - 1]), int(order[k])))
                who = display(ids[acc_s[k]]) if ids is not None else str(int(acc_s[k]))
                what = instruments.label(int(ins_s[k])) if instruments is not None else str(int(ins_s[k]))
                raise DuplicateError(
                    f"rows {first} and {second} both hold account {who}, instrument {what}",
                    "instrument",
                    second,
                    key=ids[acc_s[k]].item() if ids is not None else int(acc_s[k]),
                )
            starts = np.flatnonzero(new)
            merged_q = np.add.reduceat(qty_s, starts)
            merged_a, merged_i, first_row = acc_s[starts], ins_s[starts], order[starts]
            keep = merged_q != 0.0
            merged_a, merged_i, merged_q = merged_a[keep], merged_i[keep], merged_q[keep]
            first_row = first_row[keep]
        else:
            merged_a, merged_i, merged_q, first_row = acc_s, ins_s, qty_s, order
        counts = np.bincount(merged_a, minlength=n_acc)
        offsets = np.zeros(n_acc + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            offsets,
            np.ascontiguousarray(merged_i),
            np.ascontiguousarray(merged_q),
            bal,
            account_id=ids,
            source_row=np.ascontiguousarray(first_row, dtype=np.int64),
            assets=asset_names,
            instruments=instruments,
        )

    @classmethod
    def from_table(
        cls,
        table: Any,
        balances: Any,
        instruments: Instruments | None = None,
        assets: Sequence[str] | None = None,
        duplicates: str = "sum",
    ) -> Accounts:
        """Build from a pandas DataFrame, pyarrow Table or dict of columns with columns
        ``account``, ``instrument`` and ``quantity`` (same rules as :meth:`from_triples`)."""
        return cls.from_triples(
            column(table, "account"),
            column(table, "instrument"),
            column(table, "quantity"),
            balances,
            instruments=instruments,
            assets=assets,
            duplicates=duplicates,
        )


@contextmanager
def user_errors(instruments: Instruments | None, accounts: Accounts | None = None) -> Iterator[None]:
    """Re-raise an :class:`~zkmargin.errors.InputError` from the engine in the caller's
    terms (their rows, account ids, instrument names); see :meth:`Accounts.relabel`.
    Also refuses a book resolved against other named instruments than the engine's."""
    if accounts is not None and instruments is not None:
        accounts.check_universe(instruments)
    try:
        yield
    except InputError as exc:
        new = accounts.relabel(exc) if accounts is not None else exc
        if new is exc and instruments is not None:
            new = instruments.relabel(exc)
        if new is exc:
            raise
        raise new from None
