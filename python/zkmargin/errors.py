"""The one exception hierarchy of zkmargin.

Every error a caller can provoke with bad input is an :class:`InputError`, which is a
``ValueError`` so that existing ``except ValueError`` clauses keep working. Errors about
array *types* (dtype, memory layout) are also ``TypeError``. The Rust core raises these
same classes (it imports them from this module), so there is exactly one hierarchy.

Each input error carries ``field`` (the argument or column at fault) and ``index`` (the
first offending element, or ``None`` when the whole field is wrong). Errors about something
the caller named (an instrument name, an account id) also carry it as ``key``, and ``index``
is then the caller's own row, never a position in an internally sorted array.
"""

from __future__ import annotations

__all__ = [
    "ArbitrageBoundsError",
    "ArgumentTypeError",
    "ArrayLayoutError",
    "ConvergenceWarning",
    "DTypeError",
    "DuplicateError",
    "EncodingError",
    "ExpiredError",
    "IndexOutOfRangeError",
    "InputError",
    "InsolventError",
    "InstrumentNameError",
    "NonFiniteError",
    "NonFiniteResultError",
    "NonPositiveError",
    "NotPositiveSemidefiniteError",
    "OffsetsError",
    "OrderError",
    "OutOfBoundsError",
    "ParameterError",
    "ProofError",
    "ShapeError",
    "SurfaceCoverageError",
    "UnknownIdentifierError",
    "VolUnitError",
    "ZkMarginError",
]


class ZkMarginError(Exception):
    """Base class of every error zkmargin raises on purpose."""


class InputError(ZkMarginError, ValueError):
    """A value passed in is wrong. ``field``, ``index`` and ``key`` say where."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None, key: object = None):
        super().__init__(message)
        self.field = field
        self.index = index
        self.key = key


class NonFiniteError(InputError):
    """NaN or infinity where a finite number is required."""


class NonFiniteResultError(NonFiniteError):
    """Finite inputs whose result is NaN or infinite (an overflow the input bounds of
    docs/margin-model.md §9 did not exclude); ``field`` names the output and ``index`` its
    first bad element."""


class NonPositiveError(InputError):
    """Zero or a negative number where a strictly positive one is required."""


class ExpiredError(InputError):
    """Negative time, or an option or future at or past its expiry."""


class ShapeError(InputError):
    """Array lengths or dimensions do not match."""


class IndexOutOfRangeError(InputError):
    """An index (instrument, underlying, account, asset) outside its table."""


class OffsetsError(InputError):
    """CSR offsets that do not start at 0, decrease, or do not end at the row count."""


class ParameterError(InputError):
    """A model parameter outside its documented domain."""


class OutOfBoundsError(ParameterError):
    """A finite number outside the range in which the documented formulas stay finite
    (docs/margin-model.md §9, "Bounds"), e.g. a price above 1e12 or a rate of -800."""


class NotPositiveSemidefiniteError(InputError):
    """A correlation matrix that is not symmetric positive semi-definite."""


class EncodingError(InputError):
    """Malformed or non-canonical bytes: wrong length, coordinate >= p, scalar >= r,
    a point off the curve, the identity where it is forbidden, an unknown version."""


class ArbitrageBoundsError(InputError):
    """An option price outside its no-arbitrage bounds (at or below the discounted
    intrinsic value, at or above the discounted forward or strike), or so close to one
    that no vol in double precision reproduces it: it has no implied vol."""


class SurfaceCoverageError(InputError):
    """An option whose expiry its underlying's vol surface does not cover (before the
    first or after the last slice); ``index`` is the instrument."""


class VolUnitError(ParameterError):
    """A vol above :data:`zkmargin.market.MAX_VOL` given as a fraction: almost certainly
    a percentage (Deribit's ``mark_iv`` is in percent); pass ``vol_unit="percent"``."""


class InstrumentNameError(InputError):
    """A string that is not a recognised instrument name (docs/cli.md, "Instrument names")."""


class UnknownIdentifierError(IndexOutOfRangeError):
    """An instrument name or account id that the table it refers to does not contain."""


class DuplicateError(InputError):
    """An identifier (instrument name, account id, (account, instrument) row) given twice
    where each must be unique."""


class OrderError(InputError):
    """Rows that must be in order (e.g. a price history, oldest first) are not."""


class DTypeError(InputError, TypeError):
    """An array of the wrong element type."""


class ArgumentTypeError(InputError, TypeError):
    """An argument of the wrong Python type: a float or a bool where an int is expected,
    ``None`` or a str where bytes or a statement are, and so on."""


class ArrayLayoutError(InputError, TypeError):
    """An array that is not C-contiguous (zkmargin never copies large inputs silently)."""


class ProofError(ZkMarginError):
    """A proof could not be produced."""


class InsolventError(ProofError, ValueError):
    """The account does not satisfy the solvency statement, so no proof exists for it."""


class ConvergenceWarning(UserWarning):
    """An iterative computation stopped at its round limit before it settled (e.g. a
    liquidation cascade still liquidating at ``max_rounds``); its result is cut short."""
