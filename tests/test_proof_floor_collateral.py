"""The solvency statement's version-3 features (docs/proof-spec.md §2.4, §6.9 of the model):
SPAN's short-option-minimum floor ``max(scan risk, SOM)`` and collateral shocked in the
scenarios (``b = b+ - b-``). Each keeps "proven requirement >= engine MM", proves and
verifies, refuses insolvent accounts, and resists doctored coefficients and a dishonest
balance split."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkmargin import Accounts, Instruments, MarginEngine, MarginParams, Market, ScenarioTable, span_scenarios
from zkmargin.errors import EncodingError, InsolventError, ParameterError
from zkmargin.proof import (
    SolvencyStatement,
    audit_snapshot,
    build_snapshot,
    build_statement,
    commit_account,
    default_balance_decimals,
    prove_account,
    prove_solvency,
    proven_requirement,
    verify_account,
    verify_solvency,
)
from zkmargin.proof.constraints import Layout
from zkmargin.proof.snapshot import EpochSnapshot

# BTC: a perpetual, an OTM call, an OTM put, a near call; USDC and BTC collateral
INS = Instruments(
    [1, 3, 4, 3], [0] * 4, [0.0, 80_000.0, 45_000.0, 62_000.0], [0.0, 0.1, 0.1, 0.05], [1.0] * 4, [0] * 4
)
MARKET = Market([60_000.0], [0.0, 0.55, 0.6, 0.5], [1.0, 60_000.0], [0.0, 0.1], rate=0.01)
BD = default_balance_decimals(MARKET.asset_price)
SOM = MarginParams(short_option_min=0.05)
SPAN = MarginEngine(INS, span_scenarios(1), SOM, aggregation="span")
LINKED = MarginEngine(INS, span_scenarios(1), SOM, asset_underlying=[-1, 0])
UNLINKED = MarginEngine(INS, span_scenarios(1), SOM)
MONEY = 1e-10


def _book(rows: dict[int, float], usdc: float, btc: float = 0.0) -> Accounts:
    ins = sorted(rows)
    return Accounts([0, len(ins)], ins, [rows[i] for i in ins], [[usdc, btc]])


def _statement(eng: Any, acc: Accounts) -> tuple[Any, Any, SolvencyStatement]:
    com, op = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=BD)
    return com, op, build_statement(eng, MARKET, com, "acct", 1)


def _rounding(op: Any, st: SolvencyStatement) -> float:
    """The §2.5 bound on how much more the proof claims than the engine (USD)."""
    per_unit = 4 * sum(abs(q) for q in op.quantities) + 4 * sum(abs(b) for b in op.balances)
    return per_unit * 10.0**-st.money_decimals + 1e-6


def _check_guarantee(eng: Any, acc: Accounts) -> tuple[float, float, Any, Any, SolvencyStatement]:
    """Engine MM and proven requirement (USD) of the committed book, asserting the rounding
    guarantee: proven requirement >= engine MM and proven equity <= engine equity on the
    committed balances (floored to their units, §2.1; with shocked collateral the
    requirement depends on them), and proven surplus <= engine surplus on the book as given."""
    com, op, stm = _statement(eng, acc)
    units = [b * 10.0**-d for b, d in zip(op.balances, stm.balance_decimals, strict=True)]
    committed = Accounts(acc.offsets, acc.instrument, acc.quantity, [units])
    res, given_res = eng.compute(committed, MARKET), eng.compute(acc, MARKET)
    peq, preq = proven_requirement(stm, op)
    mm, eq = float(res.maintenance_margin[0]), float(res.equity[0])
    tol = 1e-12 * (abs(mm) + abs(eq)) + 1e-9
    assert preq * MONEY >= mm - tol, (preq * MONEY, mm)
    assert peq * MONEY <= eq + tol, (peq * MONEY, eq)
    surplus = float(given_res.equity[0] - given_res.maintenance_margin[0])
    assert (peq - preq) * MONEY <= surplus + tol
    return mm, preq * MONEY, com, op, stm


# ------------------------------------------------------------------ SPAN floor


def test_span_floor_binds_and_is_proven_exactly() -> None:
    # short far-OTM strangle: tiny scan risk, the floor max(short calls, short puts) binds
    acc = _book(STRANGLE, usdc=50_000.0)
    res = SPAN.compute(acc, MARKET)
    assert res.short_option_addon[0] > 0.0  # the floor lifts the requirement
    # hand-computed floor: 0.8 * 0.05 * max(3 calls, 1 put) * 60,000
    assert res.maintenance_margin[0] == pytest.approx(0.8 * 0.05 * 3 * 60_000.0, rel=1e-12)
    mm, proven, com, op, stm = _check_guarantee(SPAN, acc)
    assert stm.version == 3 and stm.aggregation == "span" and stm.n_buckets == 0
    assert proven <= mm + _rounding(op, stm)
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)
    assert SolvencyStatement.from_bytes(stm.to_bytes()) == stm
    assert SolvencyStatement.from_json(stm.to_json()) == stm


def test_span_scan_risk_binds_when_larger_than_the_floor() -> None:
    acc = _book({0: 2.0, 3: -0.5}, usdc=80_000.0)
    res = SPAN.compute(acc, MARKET)
    assert res.short_option_addon[0] == 0.0
    mm, proven, _, op, stm = _check_guarantee(SPAN, acc)
    assert proven <= mm + _rounding(op, stm)


SCAN_ONLY = MarginEngine(INS, span_scenarios(1), MarginParams(short_option_min=0.0), aggregation="span")
STRANGLE = {1: -3.0, 2: -1.0}


def _between_scan_and_floor() -> Accounts:
    """The strangle with cash putting its equity halfway between the scan-risk MM and the floor."""
    bare = _book(STRANGLE, usdc=0.0)
    floor_mm = float(SPAN.compute(bare, MARKET).maintenance_margin[0])
    scan_mm = float(SCAN_ONLY.compute(bare, MARKET).maintenance_margin[0])
    assert scan_mm < 0.9 * floor_mm
    return _book(STRANGLE, usdc=(scan_mm + floor_mm) / 2 - float(SPAN.compute(bare, MARKET).equity[0]))


def test_insolvent_under_the_floor_is_refused_and_a_forced_proof_fails() -> None:
    poor = _between_scan_and_floor()
    scan_only = SCAN_ONLY
    com, op, stm = _statement(SPAN, poor)
    with pytest.raises(InsolventError):
        prove_solvency(stm, com, op)
    forced = prove_solvency(stm, com, op, _unchecked=True)
    assert not verify_solvency(stm, com, forced)
    # the same account proves against the scan risk alone, which is the point of the floor
    com2, op2, stm2 = _statement(scan_only, poor)
    assert verify_solvency(stm2, com2, prove_solvency(stm2, com2, op2))


def test_doctored_floor_coefficients_are_rejected() -> None:
    acc = _between_scan_and_floor()
    snap = build_snapshot(SPAN, MARKET, 4)
    com, op = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=snap.balance_decimals)
    honest = snap.statement(com, "acct", shortfall=False)
    with pytest.raises(InsolventError):
        prove_solvency(honest, com, op)
    # a prover that zeroes the short-option minimum proves its own statement ...
    doctored = replace(honest, som_hi=(0,) * len(honest.som_hi))
    pr = prove_solvency(doctored, com, op)
    assert verify_solvency(doctored, com, pr)
    # ... which no verifier derives from the snapshot
    assert not verify_account(snap, "acct", com, pr, shortfall=False)
    # and a snapshot published with that table fails its audit
    bad = replace(snap, som_hi=(0,) * len(snap.som_hi))
    report = audit_snapshot(bad)
    assert not report.ok and ("som_hi", 1) in report.violations
    # a floor row needs its side: a SPAN statement cannot hide a short option's side
    with pytest.raises(EncodingError, match="side"):
        replace(honest, som_side=(0,) * len(honest.som_side))


@given(
    st.lists(st.floats(-5.0, 5.0, allow_nan=False).map(lambda x: round(x, 3)), min_size=4, max_size=4),
    st.floats(0.0, 2e5),
)
def test_span_floor_rounding_guarantee(qs: list[float], usdc: float) -> None:
    rows = {i: q for i, q in enumerate(qs) if q != 0.0}
    if not rows:
        return
    mm, proven, _, op, stm = _check_guarantee(SPAN, _book(rows, usdc))
    assert proven <= mm + _rounding(op, stm)


# ------------------------------------------------------------------ shocked collateral


def test_wrong_way_collateral_needs_more_margin_and_is_proven() -> None:
    # long BTC perpetual backed by BTC only: the collateral falls with the position
    acc = _book({0: 1.0}, usdc=0.0, btc=0.6)
    _, proven, com, op, stm = _check_guarantee(LINKED, acc)
    mm_linked = float(LINKED.compute(acc, MARKET).maintenance_margin[0])
    mm_plain = float(UNLINKED.compute(acc, MARKET).maintenance_margin[0])
    # hand-computed: worst move -16%: loss 0.16 * 60,000 (perp) + 0.16 * 0.6 * 60,000 * 0.9 (BTC)
    assert mm_plain == pytest.approx(0.8 * (0.16 * 60_000.0 + 0.01 * 60_000.0), rel=1e-9)
    assert mm_linked == pytest.approx(mm_plain + 0.8 * 0.16 * 0.6 * 60_000.0 * 0.9, rel=1e-9)
    assert stm.version == 3 and stm.asset_group[1] != stm.asset_group[0]
    assert proven <= mm_linked + _rounding(op, stm)
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)
    assert SolvencyStatement.from_bytes(stm.to_bytes()) == stm
    assert SolvencyStatement.from_json(stm.to_json()) == stm


def test_btc_collateral_alone_is_charged_its_downside() -> None:
    # no positions at all: the BTC balance's own group appears in the statement
    acc = Accounts([0, 0], [], [], [[0.0, 1.0]])
    mm, proven, _, op, stm = _check_guarantee(LINKED, acc)
    assert stm.instruments == () and stm.n_groups == 1
    assert mm == pytest.approx(0.8 * 0.16 * 60_000.0 * 0.9 * 1.0, rel=1e-9)
    assert proven <= mm + _rounding(op, stm)


def test_insolvent_only_because_the_collateral_falls() -> None:
    acc = _book({0: 1.0}, usdc=0.0, btc=0.16)
    eq = float(LINKED.compute(acc, MARKET).equity[0])
    mm_plain = float(UNLINKED.compute(acc, MARKET).maintenance_margin[0])
    mm_linked = float(LINKED.compute(acc, MARKET).maintenance_margin[0])
    assert mm_plain <= eq < mm_linked  # solvent only if BTC did not fall with the book
    com, op, stm = _statement(LINKED, acc)
    with pytest.raises(InsolventError):
        prove_solvency(stm, com, op)
    assert not verify_solvency(stm, com, prove_solvency(stm, com, op, _unchecked=True))


def _final_surplus(stm: SolvencyStatement, x: list[int]) -> int:
    """The final constraint's value with every slack at its smallest admissible value."""
    lay = Layout(stm)
    forms = stm.forms
    x = list(x)
    ic, J = len(stm.instruments), len(stm.balance_decimals)
    pos = 2 * ic + 2 * J
    rows = stm.n_scenarios + (2 if stm.aggregation == "span" else 0)
    for k in range(stm.n_groups):
        need = 0
        for f in forms[pos + 1 : pos + 1 + rows]:
            need = max(need, -sum(c * x[b] for b, c in f.terms if b != lay.L + k))
        x[lay.L + k] = need
        pos += 1 + rows
    for e in range(stm.n_buckets):
        need = 0
        for f in forms[pos : pos + 2]:
            need = max(need, -sum(c * x[b] for b, c in f.terms if b != lay.U + e))
        x[lay.U + e] = need
        pos += 2
    return sum(c * x[b] for b, c in forms[-1].terms)


@given(
    st.floats(-3.0, 3.0).map(lambda x: round(x, 4)),
    st.floats(-2.0, 2.0).map(lambda x: round(x, 6)),
    st.integers(1, 10**12),
)
def test_inflating_the_balance_split_never_helps(q: float, btc: float, extra: int) -> None:
    """b+ = b + t, b- = t for t > 0 (a dishonest split the range proofs allow): the best
    final surplus the prover can reach never exceeds the honest split's."""
    _, op, stm = _statement(LINKED, _book({0: q}, usdc=10_000.0, btc=btc))
    lay = Layout(stm)
    honest = [0] * lay.total
    for i, v in enumerate(op.quantities):
        honest[lay.Q + i], honest[lay.P + i] = v, max(v, 0)
    for j, b in enumerate(op.balances):
        honest[lay.B + j], honest[lay.Bp + j] = b, max(b, 0)
    abused = list(honest)
    abused[lay.Bp + 1] += extra
    assert _final_surplus(stm, abused) <= _final_surplus(stm, honest)


def test_a_split_rewarding_table_is_refused() -> None:
    # a 3x-weighted fall of 50%: mm_factor * weight * |move| = 1.2 > 1, so raising b+ and
    # b- together would lower the loss slack faster than the collateral
    heavy = ScenarioTable([[-0.5], [0.1]], [[0.0], [0.0]], [[3.0], [1.0]])
    eng = MarginEngine(INS, heavy, SOM, asset_underlying=[-1, 0])
    com, _ = commit_account(_book({0: 1.0}, 0.0, 1.0), 0, n_instruments=len(INS), balance_decimals=BD)
    with pytest.raises(ParameterError, match="splitting") as info:
        build_statement(eng, MARKET, com, "acct", 1)
    assert info.value.field == "asset_underlying"
    # and a statement whose coefficients were doctored that way does not parse
    _, _, stm = _statement(LINKED, _book({0: 1.0}, 0.0, 1.0))
    held = list(stm.held_lo)
    held[1 * stm.n_scenarios + 12] = stm.borrowed_hi[1 * stm.n_scenarios + 12] + 10**12
    with pytest.raises(EncodingError, match="splitting"):
        replace(stm, held_lo=tuple(held))


@given(
    st.floats(-4.0, 4.0, allow_nan=False).map(lambda x: round(x, 3)),
    st.floats(-3.0, 3.0, allow_nan=False).map(lambda x: round(x, 3)),
    st.floats(-1e5, 3e5),
    st.floats(-2.0, 3.0).map(lambda x: round(x, 6)),
)
def test_shocked_collateral_rounding_guarantee(perp: float, call: float, usdc: float, btc: float) -> None:
    rows = {0: perp, 3: call}
    mm, proven, _, op, stm = _check_guarantee(LINKED, _book(rows, usdc, btc))
    assert proven <= mm + _rounding(op, stm)


# ------------------------------------------------------------------ through a snapshot


@pytest.mark.parametrize("engine", [SPAN, LINKED], ids=["span", "linked"])
def test_snapshot_carries_the_features_and_verifies(engine: Any) -> None:
    snap = build_snapshot(engine, MARKET, 9)
    assert snap.version == 2
    back = EpochSnapshot.from_bytes(snap.to_bytes())
    assert back == snap and EpochSnapshot.from_json(snap.to_json()) == snap
    import zkmargin

    for cls in (None, zkmargin.baseline.numpy_engine.MarginEngine, zkmargin.baseline.MarginEngine):
        assert audit_snapshot(back, cls).ok
    acc = _book({0: 0.5, 1: -1.0}, usdc=30_000.0, btc=0.5)
    com, op = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=snap.balance_decimals)
    pr, short = prove_account(back, "acct", com, op)
    assert short is not None and short.value == 0
    assert verify_account(back, "acct", com, pr)
    assert back.statement(com, "acct").version == 3


def test_a_version_two_encoding_of_version_one_content_is_refused() -> None:
    plain = build_snapshot(UNLINKED, MARKET, 2)
    assert plain.version == 1
    data = plain.to_bytes()
    # re-encode with the version-2 field list (every extra at its default)
    from zkmargin.proof.snapshot import FIELDS_V2_EXTRA, _encode

    extra = b"".join(_encode(kind, getattr(plain, name), name) for name, kind in FIELDS_V2_EXTRA)
    with pytest.raises(EncodingError, match="version 2 does not match"):
        EpochSnapshot.from_bytes(data[:4] + b"\x02" + data[5:] + extra)
    obj = plain.to_json()
    obj.update(
        {
            name: ([] if isinstance(v, tuple) else v)
            for name, v in ((n, getattr(plain, n)) for n, _ in FIELDS_V2_EXTRA)
        }
    )
    obj["version"] = 2
    with pytest.raises(EncodingError, match="version 2 does not match"):
        EpochSnapshot.from_json(obj)


def test_a_statement_version_must_match_its_content() -> None:
    _, _, stm = _statement(UNLINKED, _book({0: 1.0}, 5e4))
    assert stm.version == 1
    data = bytearray(stm.to_bytes())
    data[4] = 3
    with pytest.raises(EncodingError):
        SolvencyStatement.from_bytes(bytes(data))
    _, _, ext = _statement(LINKED, _book({0: 1.0}, 5e4, 0.1))
    obj = ext.to_json()
    obj["version"] = 1
    with pytest.raises(EncodingError):
        SolvencyStatement.from_json(obj)


def test_version_three_proofs_verify_on_the_pure_python_backend() -> None:
    # the native prover's bytes verify under py_ecc: the new rows are backend-independent
    small = ScenarioTable([[-0.16], [0.16]], [[0.0], [0.0]], [[1.0], [1.0]])  # m = 16: py_ecc stays quick
    com, op, stm = _statement(
        MarginEngine(INS, small, SOM, asset_underlying=[-1, 0]), _book({0: 1.0}, 0.0, 0.6)
    )
    assert stm.version == 3 and stm.m == 16
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr, backend="pyecc")


# ------------------------------------------------------------------ from the spec alone


def _spec_parse(data: bytes) -> dict[str, Any]:
    """docs/proof-spec.md §2.6, version 3, read without zkmargin.proof."""
    at = 0

    def take(k: int) -> bytes:
        nonlocal at
        at += k
        return data[at - k : at]

    def ints(count: int, width: int, signed: bool = False) -> list[int]:
        return [int.from_bytes(take(width), "big", signed=signed) for _ in range(count)]

    assert take(4) == b"ZKMT"
    ver, _mode, agg, n, _dq, _dm = take(6)
    assert ver == 3
    shortfall, bound = take(2)
    take(32 if bound else 0)
    take(8)
    take(take(1)[0])
    _U, S, K, E, ic, J = ints(6, 4)
    take(J)
    ib = 0 if agg == 2 else ic
    f: dict[str, Any] = {"agg": agg, "n": n, "S": S, "K": K, "E": E, "ic": ic, "J": J, "shortfall": shortfall}
    f["ins"], f["group"], f["bucket"] = ints(ic, 4), ints(ic, 4), ints(ib, 4)
    for name, count in (("loss_lo", ic * S), ("loss_hi", ic * S), ("roll_lo", ib), ("roll_hi", ib)):
        f[name] = ints(count, 16, True)
    for name, count in (("mtm_lo", ic), ("mtm_hi", ic), ("som_hi", ic), ("coll_lo", J), ("coll_hi", J)):
        f[name] = ints(count, 16, True)
    f["som_side"] = list(take(ic - ib))
    shocked = take(1)[0]
    f["asset_group"] = ints(J * shocked, 4)
    f["held_lo"], f["borrowed_hi"] = ints(J * S * shocked, 16, True), ints(J * S * shocked, 16, True)
    assert at == len(data)
    return f


def _spec_forms(f: dict[str, Any]) -> list[list[tuple[int, int]]]:
    """§2.4's constraint list over the base points Q, B, P, B+, L', U', S'."""
    ic, J, S, K, E = f["ic"], f["J"], f["S"], f["K"], f["E"]
    Q, B, P, Bp, L = 0, ic, ic + J, 2 * ic + J, 2 * ic + 2 * J
    U, Sx = L + K, L + K + E
    out: list[dict[int, int]] = []

    def add(acc: dict[int, int], k: int, c: int) -> None:
        acc[k] = acc.get(k, 0) + c

    def lin(acc: dict[int, int], i: int, lo: int, hi: int) -> None:
        add(acc, P + i, lo - hi)
        add(acc, Q + i, hi)

    out += [{P + i: 1} for i in range(ic)] + [{P + i: 1, Q + i: -1} for i in range(ic)]
    for j in range(J):
        out += [{Bp + j: 1}, {Bp + j: 1, B + j: -1}]
    for k in range(K):
        out.append({L + k: 1})
        for s in range(S):
            acc = {L + k: 1}
            for i in range(ic):
                if f["group"][i] == k:
                    lin(acc, i, f["loss_lo"][i * S + s], f["loss_hi"][i * S + s])
            for j, g in enumerate(f["asset_group"]):
                if g == k:
                    held, borrowed = f["held_lo"][j * S + s], f["borrowed_hi"][j * S + s]
                    add(acc, Bp + j, held - borrowed)
                    add(acc, B + j, borrowed)
            out.append(acc)
        if f["agg"] == 2:
            for side in (1, 2):
                acc = {L + k: 1}
                for i in range(ic):
                    if f["group"][i] == k and f["som_side"][i] == side:
                        add(acc, P + i, -f["som_hi"][i])
                        add(acc, Q + i, f["som_hi"][i])
                out.append(acc)
    for e in range(E):
        for sign in (-1, 1):
            acc = {U + e: 1}
            for i in range(ic):
                if f["bucket"][i] == e:
                    lo, hi = (
                        (f["roll_lo"][i], f["roll_hi"][i])
                        if sign > 0
                        else (-f["roll_hi"][i], -f["roll_lo"][i])
                    )
                    lin(acc, i, lo, hi)
            out.append(acc)
    if f["shortfall"]:
        out.append({Sx: 1})
    acc = {}
    for j in range(J):
        add(acc, Bp + j, f["coll_lo"][j] - f["coll_hi"][j])
        add(acc, B + j, f["coll_hi"][j])
    for i in range(ic):
        lin(acc, i, f["mtm_lo"][i], f["mtm_hi"][i])
        if f["agg"] != 2:
            add(acc, P + i, -f["som_hi"][i])
            add(acc, Q + i, f["som_hi"][i])
    for k in range(K):
        add(acc, L + k, -1)
    for e in range(E):
        add(acc, U + e, -1)
    if f["shortfall"]:
        add(acc, Sx, 1)
    out.append(acc)
    return [sorted((k, c) for k, c in a.items() if c) for a in out]


@pytest.mark.parametrize("engine", [SPAN, LINKED], ids=["span", "linked"])
def test_a_verifier_from_the_spec_forms_the_same_constraints(engine: Any) -> None:
    snap = build_snapshot(engine, MARKET, 5)
    com, _ = commit_account(
        _book({0: 0.5, 1: -1.0, 2: -2.0}, 1e4, 0.3),
        0,
        n_instruments=len(INS),
        balance_decimals=snap.balance_decimals,
    )
    stm = snap.statement(com, "acct")
    assert _spec_forms(_spec_parse(stm.to_bytes())) == [list(f.terms) for f in stm.forms]
    assert all(f.const == 0 for f in stm.forms)


def test_a_whole_exchange_attests_with_the_new_features(tmp_path: Any) -> None:
    """A bundle over a version-2 snapshot (SPAN floor) and a second set with shocked
    collateral is attested and verifies from its files; an account below the floor shows
    up as a shortfall the fund covers."""
    from zkmargin.attest import Book, attest, verify_bundle

    base = build_snapshot(SPAN, MARKET, 11)
    linked_engine = MarginEngine(INS, span_scenarios(1), SOM, aggregation="span", asset_underlying=[-1, 0])
    stress = build_snapshot(linked_engine, MARKET, 11, scenario_set="stress")
    poor = _between_scan_and_floor()
    accounts = Accounts(
        [0, 2, 4],
        [0, 1, *poor.instrument.tolist()],
        [0.5, -1.0, *poor.quantity.tolist()],
        [[2e4, 0.5], poor.balances[0].tolist()],
    )
    reserves = [10**7 * 10 ** base.balance_decimals[0], 10 * 10 ** base.balance_decimals[1]]
    fund = 10**6 * 10**base.money_decimals
    attest([base, stress], Book(("ann", "bo"), accounts), reserves, fund, tmp_path / "b", tmp_path / "p")
    report = verify_bundle(tmp_path / "b")
    assert report.ok, report.failures
    assert report.proofs == 4
    com, op = commit_account(poor, 0, n_instruments=len(INS), balance_decimals=base.balance_decimals)
    _, short = prove_account(base, "bo", com, op)
    assert short is not None and short.value > 0  # what the fund proof covered
