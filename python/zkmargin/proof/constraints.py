"""The solvency statement compiled to linear constraints (docs/proof-spec.md §2.2-§2.5):
the base-point layout, the canonical constraint list, the static no-wraparound check, the
honest prover's witness and the proven equity and requirement.

It reads a statement through :class:`StatementShape` (the attributes it needs), so the
statement module can compile itself on construction without this module importing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import EncodingError
from .rangeproof import LinearForm

__all__ = [
    "WRAP_LIMIT",
    "Layout",
    "StatementShape",
    "build_forms",
    "proven_requirement",
    "rows_per_group",
    "witness",
    "wrap_check",
]

#: Every derived constraint value must stay below this in absolute value for all inputs
#: the range proofs allow, so that "V mod r in [0, 2^n)" implies the integer V is in
#: [0, 2^n) (r > 2^253; docs/proof-spec.md §2.4).
WRAP_LIMIT = 1 << 250


class StatementShape(Protocol):
    """What the compiler reads of a :class:`~zkmargin.proof.statement.SolvencyStatement`."""

    @property
    def n(self) -> int: ...
    @property
    def instruments(self) -> tuple[int, ...]: ...
    @property
    def balance_decimals(self) -> tuple[int, ...]: ...
    @property
    def n_scenarios(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def groups(self) -> tuple[int, ...]: ...
    @property
    def n_buckets(self) -> int: ...
    @property
    def buckets(self) -> tuple[int, ...]: ...
    @property
    def loss_lo(self) -> tuple[int, ...]: ...
    @property
    def loss_hi(self) -> tuple[int, ...]: ...
    @property
    def roll_lo(self) -> tuple[int, ...]: ...
    @property
    def roll_hi(self) -> tuple[int, ...]: ...
    @property
    def mtm_lo(self) -> tuple[int, ...]: ...
    @property
    def mtm_hi(self) -> tuple[int, ...]: ...
    @property
    def som_hi(self) -> tuple[int, ...]: ...
    @property
    def coll_lo(self) -> tuple[int, ...]: ...
    @property
    def coll_hi(self) -> tuple[int, ...]: ...
    @property
    def shortfall(self) -> bool: ...
    @property
    def aggregation(self) -> str: ...
    @property
    def som_side(self) -> tuple[int, ...]: ...
    @property
    def asset_group(self) -> tuple[int, ...]: ...
    @property
    def held_lo(self) -> tuple[int, ...]: ...
    @property
    def borrowed_hi(self) -> tuple[int, ...]: ...


#: ``som_side`` of a call and of a put (statement.SOM_CALL, SOM_PUT)
_CALL, _PUT = 1, 2


def rows_per_group(st: StatementShape) -> int:
    """Constraints of each loss group after its ``l'_k >= 0``: one per scenario, and under
    "span" the two short-option-minimum floors (short calls, short puts)."""
    return st.n_scenarios + (2 if st.aggregation == "span" else 0)


class Layout:
    """Base-point indices: Q_i, B_j (issuer's), then P_i, B+_j, L'_k, U'_e and, with a
    shortfall, S' (prover's)."""

    def __init__(self, st: StatementShape) -> None:
        ic, J = len(st.instruments), len(st.balance_decimals)
        self.Q = 0
        self.B = ic
        self.P = ic + J
        self.Bp = 2 * ic + J
        self.L = 2 * ic + 2 * J
        self.U = 2 * ic + 2 * J + st.n_groups
        self.S = self.U + st.n_buckets
        self.total = self.S + int(st.shortfall)


def _lin(acc: dict[int, int], lay: Layout, i: int, lo: int, hi: int) -> None:
    """Add a real coefficient x (floor lo, ceil hi) on q_i = p_i - s_i, rounded down on
    both non-negative parts: lo * p_i - hi * s_i = (lo - hi) P_i + hi Q_i."""
    if lo != hi:
        acc[lay.P + i] = acc.get(lay.P + i, 0) + lo - hi
    if hi:
        acc[lay.Q + i] = acc.get(lay.Q + i, 0) + hi


def _form(acc: dict[int, int], const: int = 0) -> LinearForm:
    return LinearForm(tuple(sorted((k, v) for k, v in acc.items() if v)), const)


def build_forms(st: StatementShape) -> list[LinearForm]:
    """The constraint list in its canonical order (docs/proof-spec.md §2.4)."""
    lay = Layout(st)
    ic, J, S = len(st.instruments), len(st.balance_decimals), st.n_scenarios
    forms: list[LinearForm] = []
    for i in range(ic):  # p_i >= 0
        forms.append(_form({lay.P + i: 1}))
    for i in range(ic):  # s_i = p_i - q_i >= 0
        forms.append(_form({lay.P + i: 1, lay.Q + i: -1}))
    for j in range(J):  # b+_j >= 0, b-_j = b+_j - b_j >= 0
        forms.append(_form({lay.Bp + j: 1}))
        forms.append(_form({lay.Bp + j: 1, lay.B + j: -1}))
    members: list[list[int]] = [[] for _ in range(st.n_groups)]
    for i, g in enumerate(st.groups):
        members[g].append(i)
    assets: list[list[int]] = [[] for _ in range(st.n_groups)]
    for j, g in enumerate(st.asset_group):
        if 0 <= g < st.n_groups:
            assets[g].append(j)
    span = st.aggregation == "span"
    for k in range(st.n_groups):  # l'_k >= 0 and l'_k + mm * P_k[s] >= 0 for every s
        forms.append(_form({lay.L + k: 1}))
        for s in range(S):
            acc = {lay.L + k: 1}
            for i in members[k]:
                _lin(acc, lay, i, st.loss_lo[i * S + s], st.loss_hi[i * S + s])
            for j in assets[k]:  # held_lo b+ - borrowed_hi b- = (held - borrowed) B+ + borrowed B
                held, borrowed = st.held_lo[j * S + s], st.borrowed_hi[j * S + s]
                acc[lay.Bp + j] = acc.get(lay.Bp + j, 0) + held - borrowed
                acc[lay.B + j] = acc.get(lay.B + j, 0) + borrowed
            forms.append(_form(acc))
        if span:  # l'_k >= som over short calls, l'_k >= som over short puts
            for side in (_CALL, _PUT):
                acc = {lay.L + k: 1}
                for i in members[k]:
                    if st.som_side[i] == side and st.som_hi[i]:  # - som_hi s_i = - som_hi (P_i - Q_i)
                        acc[lay.P + i] = acc.get(lay.P + i, 0) - st.som_hi[i]
                        acc[lay.Q + i] = acc.get(lay.Q + i, 0) + st.som_hi[i]
                forms.append(_form(acc))
    bmem: list[list[int]] = [[] for _ in range(st.n_buckets)]
    for i, e in enumerate(st.buckets):
        bmem[e].append(i)
    for e in range(st.n_buckets):  # u'_e >= y D_e and u'_e >= -y D_e
        acc = {lay.U + e: 1}
        for i in bmem[e]:
            _lin(acc, lay, i, -st.roll_hi[i], -st.roll_lo[i])
        forms.append(_form(acc))
        acc = {lay.U + e: 1}
        for i in bmem[e]:
            _lin(acc, lay, i, st.roll_lo[i], st.roll_hi[i])
        forms.append(_form(acc))
    if st.shortfall:  # s' >= 0
        forms.append(_form({lay.S: 1}))
    # final: collateral + mtm - som - sum l' - sum u' (+ s') >= 0 (under "span" som is
    # in the groups' floors)
    acc = {}
    for j in range(J):  # floor(lo_j) b+ - ceil(hi_j) b- = (lo - hi) B+ + hi B
        acc[lay.Bp + j] = st.coll_lo[j] - st.coll_hi[j]
        acc[lay.B + j] = st.coll_hi[j]
    for i in range(ic):
        _lin(acc, lay, i, st.mtm_lo[i], st.mtm_hi[i])
        if st.som_hi[i] and not span:  # - som_hi * s_i = - som_hi P_i + som_hi Q_i
            acc[lay.P + i] = acc.get(lay.P + i, 0) - st.som_hi[i]
            acc[lay.Q + i] = acc.get(lay.Q + i, 0) + st.som_hi[i]
    for k in range(st.n_groups):
        acc[lay.L + k] = -1
    for e in range(st.n_buckets):
        acc[lay.U + e] = -1
    if st.shortfall:
        acc[lay.S] = 1
    forms.append(_form(acc))
    return forms


def wrap_check(st: StatementShape, forms: Sequence[LinearForm]) -> None:
    """Static no-wraparound check: with every range-proved variable in [0, 2^n) (so each
    q_i, b_j in (-2^n, 2^n)) and each u'_e bounded through its first defining constraint,
    every constraint's integer value must stay below WRAP_LIMIT in absolute value."""
    lay = Layout(st)
    bound = [1 << st.n] * lay.total
    ic, J = len(st.instruments), len(st.balance_decimals)
    first_u = 2 * ic + 2 * J + st.n_groups * (1 + rows_per_group(st))
    for e in range(st.n_buckets):
        f = forms[first_u + 2 * e]
        bound[lay.U + e] = (1 << st.n) + sum(abs(c) * (1 << st.n) for k, c in f.terms if k != lay.U + e)
    for j, f in enumerate(forms):
        tot = abs(f.const) + sum(abs(c) * bound[k] for k, c in f.terms)
        if tot >= WRAP_LIMIT:
            raise EncodingError(
                f"statement: constraint {j} could reach 2^{tot.bit_length() - 1}, too close to r",
                "statement",
                j,
            )


def witness(
    st: StatementShape, forms: Sequence[LinearForm], quantities: Sequence[int], balances: Sequence[int]
) -> list[int]:
    """Integer values of every base variable for the honest prover: p = max(q, 0),
    b+ = max(b, 0), and the smallest slacks l'_k, u'_e (and shortfall) that satisfy their
    constraints."""
    lay = Layout(st)
    ic, J = len(st.instruments), len(st.balance_decimals)
    x = [0] * lay.total
    for i, q in enumerate(quantities):
        x[lay.Q + i] = q
        x[lay.P + i] = max(q, 0)
    for j, b in enumerate(balances):
        x[lay.B + j] = b
        x[lay.Bp + j] = max(b, 0)
    pos = 2 * ic + 2 * J
    rows = rows_per_group(st)
    for k in range(st.n_groups):
        worst = 0
        for f in forms[pos + 1 : pos + 1 + rows]:
            rest = sum(c * x[b] for b, c in f.terms if b != lay.L + k)
            worst = max(worst, -rest)
        x[lay.L + k] = worst
        pos += 1 + rows
    for e in range(st.n_buckets):
        need = 0
        for f in (forms[pos], forms[pos + 1]):
            need = max(need, -sum(c * x[b] for b, c in f.terms if b != lay.U + e))
        x[lay.U + e] = need
        pos += 2
    if st.shortfall:
        x[lay.S] = max(0, -sum(c * x[b] for b, c in forms[-1].terms if b != lay.S))
    return x


def proven_requirement(
    st: StatementShape, forms: Sequence[LinearForm], quantities: Sequence[int], balances: Sequence[int]
) -> tuple[int, int]:
    """(proven equity lower bound, proven requirement upper bound) in money units for the
    honest witness: the proof shows equity_proven - requirement_proven >= 0."""
    x = witness(st, forms, quantities, balances)
    lay = Layout(st)
    req = 0
    eq = 0
    for b, c in forms[-1].terms:
        if lay.L <= b < lay.S:
            req -= c * x[b]
        elif b == lay.S:
            continue
        else:
            eq += c * x[b]
    # the additive som enters the final form on P/Q; separate it back out for reporting
    # (under "span" it is inside the loss slacks already)
    som = 0
    if st.aggregation != "span":
        som = sum(h * max(-q, 0) for h, q in zip(st.som_hi, quantities, strict=True))
    return eq + som, req + som
