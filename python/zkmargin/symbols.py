"""Deribit-style instrument names (docs/cli.md, "Instrument names").

Deribit names its instruments ``BTC-PERPETUAL``, ``BTC-27MAR26`` (a dated future),
``BTC-27MAR26-60000-C`` (an option: expiry ``DMMMYY``, strike in USD, ``C`` or ``P``), and the
USDC-margined linear family with a ``_USDC`` suffix on the currency (``BTC_USDC-PERPETUAL``,
``BTC_USDC-27MAR26-60000-C``); a bare pair such as ``BTC_USDC`` is a spot market. Strikes of
linear altcoin options use ``d`` as the decimal point (``XRP_USDC-27MAR26-0d625-C``). Every
expiry is at 08:00 UTC on its date.

The currency before the optional ``_USDC`` is the underlying: ``BTC-...`` and
``BTC_USDC-...`` both reference the BTC index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import InstrumentNameError, ParameterError

#: Deribit's expiry time of day for futures and options.
EXPIRY_HOUR_UTC = 8

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_CURRENCY = r"(?P<cur>[A-Z0-9]{2,10})(?P<lin>_USDC)?"
_DATE = r"(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})"
_PATTERNS = {
    "perpetual": re.compile(rf"{_CURRENCY}-PERPETUAL"),
    "future": re.compile(rf"{_CURRENCY}-{_DATE}"),
    "option": re.compile(rf"{_CURRENCY}-{_DATE}-(?P<strike>\d+(?:d\d+)?)-(?P<cp>[CP])"),
    "spot": re.compile(r"(?P<cur>[A-Z0-9]{2,10})_USDC"),
}


@dataclass(frozen=True)
class ParsedName:
    """What a name says: ``kind`` (``"spot"``, ``"perpetual"``, ``"future"``, ``"call"`` or
    ``"put"``), the underlying currency, whether it is linear (USDC-settled), and for dated
    instruments the expiry (UTC) and, for options, the strike."""

    name: str
    kind: str
    currency: str
    linear: bool
    expiry: datetime | None = None
    strike: float | None = None


def _expiry(name: str, day: str, mon: str, yy: str) -> datetime:
    month = _MONTHS.get(mon)
    if month is None:
        raise InstrumentNameError(f"instrument {name!r}: unknown month {mon!r}", "name", key=name)
    try:
        return datetime(2000 + int(yy), month, int(day), EXPIRY_HOUR_UTC, tzinfo=timezone.utc)
    except ValueError as exc:
        raise InstrumentNameError(f"instrument {name!r}: {exc}", "name", key=name) from None


def parse_name(name: str) -> ParsedName:
    """Parse one Deribit-style name; :class:`~zkmargin.errors.InstrumentNameError` if it is
    not one (names are case-sensitive and upper-case, as Deribit's are)."""
    if not isinstance(name, str):
        raise InstrumentNameError(f"instrument name must be a str, got {name!r}", "name", key=name)
    m = _PATTERNS["option"].fullmatch(name)
    if m:
        strike = float(m["strike"].replace("d", "."))
        if not strike > 0:
            raise InstrumentNameError(f"instrument {name!r}: strike must be > 0", "name", key=name)
        return ParsedName(
            name,
            "call" if m["cp"] == "C" else "put",
            m["cur"],
            m["lin"] is not None,
            _expiry(name, m["day"], m["mon"], m["yy"]),
            strike,
        )
    m = _PATTERNS["perpetual"].fullmatch(name)
    if m:
        return ParsedName(name, "perpetual", m["cur"], m["lin"] is not None)
    m = _PATTERNS["future"].fullmatch(name)
    if m:
        return ParsedName(
            name, "future", m["cur"], m["lin"] is not None, _expiry(name, m["day"], m["mon"], m["yy"])
        )
    m = _PATTERNS["spot"].fullmatch(name)
    if m:
        return ParsedName(name, "spot", m["cur"], True)
    raise InstrumentNameError(
        f"instrument {name!r} is not a Deribit-style name (expected e.g. BTC-PERPETUAL, BTC-27MAR26, "
        "BTC-27MAR26-60000-C, BTC_USDC-PERPETUAL or BTC_USDC)",
        "name",
        key=name,
    )


def as_utc(field: str, t: datetime | str) -> datetime:
    """``t`` (a timezone-aware datetime or an ISO 8601 string with an offset or ``Z``) in UTC.
    A naive time is refused rather than guessed."""
    if isinstance(t, str):
        try:
            t = datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(f"{field}: {t!r} is not an ISO 8601 time", field) from None
    if not isinstance(t, datetime):
        raise ParameterError(f"{field}: expected a datetime or ISO 8601 string, got {t!r}", field)
    if t.tzinfo is None or t.utcoffset() is None:
        raise ParameterError(f"{field}: {t.isoformat()} has no timezone; pass a UTC time", field)
    return t.astimezone(timezone.utc)


#: Seconds in the model's year (docs/margin-model.md: time is in years of 365 days).
YEAR = timedelta(days=365).total_seconds()


def year_fraction(start: datetime, end: datetime) -> float:
    """``(end - start)`` in years of 365 days."""
    return (end - start).total_seconds() / YEAR
