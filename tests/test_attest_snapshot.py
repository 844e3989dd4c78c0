"""Epoch snapshots: canonical codecs, the published coefficient table and its audit, and
verification from the snapshot alone (issue 12, items 1, 2 and 8)."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.attest_fixtures import ENG, INS, INSOLVENT, MARKET, SCEN, one_account, snapshot
from helpers.budget import scaled
from zkmargin import MarginEngine, MarginParams, Market
from zkmargin.errors import EncodingError, InsolventError
from zkmargin.proof import AccountOpening, SolvencyProof, SolvencyStatement, prove_solvency, verify_solvency
from zkmargin.proof.coefficients import widened
from zkmargin.proof.snapshot import FIELDS, PARAM_FIELDS, EpochSnapshot
from zkmargin.proof.solvency import prove_account, verify_account
from zkmargin.proof.table import audit_snapshot, build_snapshot

SNAP = snapshot()


def test_codecs_roundtrip_and_digest_covers_every_field() -> None:
    raw = SNAP.to_bytes()
    assert raw[:5] == b"ZKSN\x01"
    assert EpochSnapshot.from_bytes(raw) == SNAP
    assert EpochSnapshot.from_json(json.loads(json.dumps(SNAP.to_json()))) == SNAP
    # every field is in the digest: change each one and the digest moves
    seen = {SNAP.digest()}
    made = 0
    for name, kind in FIELDS:
        v = getattr(SNAP, name)
        extra: dict[str, Any] = {}
        if kind == "enum":
            new: Any = {"sum": "joint", "cross": "segregated"}.get(v)
            if new is None:
                continue
        elif kind == "str":
            new = v + "x"
        elif name == "forward":
            new = tuple(MARKET.spot[0] * 1.001 for _ in SNAP.vol)
        elif kind == "f64[]?":  # the per-underlying roll parameters, present together
            new = tuple(0.05 for _ in range(SNAP.n_underlyings))
            other = "roll_min_annual_move" if name == "roll_annual_move_risk" else "roll_annual_move_risk"
            extra = {other: getattr(SNAP, other) or tuple(0.01 for _ in range(SNAP.n_underlyings))}
        elif kind.endswith("[]"):
            if not v:
                continue
            first = v[0]
            new = (first + "x" if isinstance(first, str) else type(first)(first + 1), *v[1:])
        else:
            new = type(v)(v + 1)
        try:
            changed = replace(SNAP, **{name: new}, **extra)
        except EncodingError:
            continue  # e.g. a bucket id beyond the range: the change is refused outright
        seen.add(changed.digest())
        made += 1
    assert len(seen) == made + 1  # every change gives a new digest
    assert made >= len(FIELDS) - 5  # model (one choice), forward (absent), a few refusals
    # the pure-Python keccak gives the same digest
    assert SNAP.digest("pyecc") == SNAP.digest()


def test_snapshot_lists_every_margin_parameter() -> None:
    # the snapshot must carry every parameter the statement depends on: a parameter added
    # to MarginParams has to be added to FIELDS (one place) and this test says so
    assert tuple(f.name for f in fields(MarginParams)) == PARAM_FIELDS
    assert all((p, "f64") in FIELDS for p in PARAM_FIELDS)


@pytest.mark.parametrize("mode", ["cross", "segregated"])
def test_every_engine_exports_the_same_statement_terms(mode: str) -> None:
    # the statement's roll buckets, rates, forwards and shocked-collateral rows
    # come from the engine; the three implementations must export the same numbers
    ex = zkmargin.synthetic.generate_exchange(20, seed=3)
    links = [-1, 0] + [-1] * (ex.market.asset_price.size - 2)
    kw: dict[str, Any] = {"settlement_mode": mode, "asset_underlying": links}
    rust = MarginEngine(ex.instruments, **kw).statement_terms(ex.market)
    assert rust.bucket.max() + 1 == rust.roll_rate.size == rust.bucket_expiry.size
    # first-appearance numbering: bucket ids rise by at most one along the universe
    assert all(b <= max(rust.bucket[:i], default=-1) + 1 for i, b in enumerate(rust.bucket))
    shocked = mode == "cross"
    assert rust.collateral_group.tolist() == ([-1, 0] if shocked else [-1, -1]) + [-1] * (len(links) - 2)
    assert bool(np.any(rust.collateral_held[1] != 0.0)) == shocked
    for cls in (zkmargin.baseline.numpy_engine.MarginEngine, zkmargin.baseline.MarginEngine):
        other = cls(ex.instruments, **kw).statement_terms(ex.market)
        for name in ("bucket", "bucket_expiry", "portfolio", "collateral_group"):
            assert getattr(other, name).tolist() == getattr(rust, name).tolist(), (cls, name)
        for name in ("roll_rate", "forward", "collateral_held", "collateral_borrowed"):
            np.testing.assert_allclose(
                getattr(other, name), getattr(rust, name), rtol=1e-14, atol=0, err_msg=name
            )


@pytest.mark.parametrize(
    "engine_class",
    [None, zkmargin.baseline.numpy_engine.MarginEngine, zkmargin.baseline.MarginEngine],
    ids=["rust", "numpy", "reference"],
)
def test_audit_with_every_engine_passes(engine_class: Any) -> None:
    ex = zkmargin.synthetic.generate_exchange(10, seed=2)
    snap = build_snapshot(MarginEngine(ex.instruments), ex.market, 1)
    rep = audit_snapshot(snap, engine_class)
    assert rep.ok, rep.summary()
    assert rep.largest_deviation <= 1
    assert rep.buckets_match


def test_audit_flags_a_table_from_other_parameters() -> None:
    cheap = snapshot(MarginEngine(INS, SCEN, MarginParams(mm_factor=0.01), "sum"))
    # the table of mm_factor = 0.01 published under the true parameters
    forged = replace(cheap, mm_factor=SNAP.mm_factor)
    rep = audit_snapshot(forged)
    assert not rep.ok
    assert rep.n_violations > 0 and rep.violations[0][0] == "loss"
    assert rep.largest_deviation > 1000
    # and one from another market
    moved = Market([66_000.0], MARKET.vol, MARKET.asset_price, MARKET.haircut, MARKET.rate)
    other = replace(snapshot(market=moved), spot=SNAP.spot)
    assert not audit_snapshot(other).ok


def test_doctored_mm_factor_proof_is_rejected() -> None:
    """Issue 12: an insolvent account proven under mm_factor = 0.01 must not verify."""
    rows, usdc = INSOLVENT
    acc, com, op = one_account(SNAP, rows, usdc)
    res = ENG.compute(acc, MARKET)
    assert res.equity[0] < res.maintenance_margin[0]
    with pytest.raises(InsolventError):
        prove_account(SNAP, "mallory", com, op, shortfall=False)
    cheap = snapshot(MarginEngine(INS, SCEN, MarginParams(mm_factor=0.01), "sum"))
    pr, _ = prove_account(cheap, "mallory", com, op, shortfall=False)
    assert verify_account(cheap, "mallory", com, pr, shortfall=False)  # consistent with itself...
    assert not verify_account(SNAP, "mallory", com, pr, shortfall=False)  # ...not with the epoch's
    # the doctored table under the real parameters is what the audit catches
    assert not audit_snapshot(replace(cheap, mm_factor=SNAP.mm_factor)).ok
    # a statement with the real snapshot's digest but the cheap coefficients: rejected too
    st_cheap = cheap.statement(com, "mallory", shortfall=False)
    forged = replace(st_cheap, snapshot=SNAP.digest())
    pr2 = prove_solvency(forged, com, op)
    assert verify_solvency(forged, com, pr2)  # the low-level API trusts its statement
    assert not verify_account(SNAP, "mallory", com, pr2, shortfall=False)


def test_proof_is_bound_to_the_snapshot_digest() -> None:
    _, com, op = one_account(SNAP, {1: 1.0, 3: -0.5}, 60_000.0, 0.2)
    pr, short = prove_account(SNAP, "alice", com, op)
    assert short is not None and short.value == 0
    assert verify_account(SNAP, "alice", com, pr)
    # another epoch, market or scenario set with the same table: the digest differs
    for change in ({"epoch": 8}, {"rate": 0.03}, {"scenario_set": "stress"}):
        assert not verify_account(replace(SNAP, **change), "alice", com, pr)
    assert not verify_account(SNAP, "bob", com, pr)
    assert not verify_account(SNAP, "alice", com, pr, shortfall=False)


def test_version_2_statement_codecs() -> None:
    _, com, _ = one_account(SNAP, {2: -1.0}, 30_000.0)
    st = SNAP.statement(com, "carol")
    assert st.version == 2 and st.shortfall and st.snapshot == SNAP.digest()
    assert SolvencyStatement.from_bytes(st.to_bytes()) == st
    assert SolvencyStatement.from_json(json.loads(json.dumps(st.to_json()))) == st
    raw = st.to_bytes()
    assert raw[4] == 2
    with pytest.raises(EncodingError):
        SolvencyStatement.from_bytes(raw[:10] + b"\x02" + raw[11:])  # shortfall flag 2
    with pytest.raises(EncodingError):
        replace(st, snapshot=b"\x01" * 31)
    with pytest.raises(EncodingError):
        replace(st, snapshot=b"", shortfall=True)


def test_insolvent_account_proves_with_a_shortfall() -> None:
    rows, usdc = INSOLVENT
    acc, com, op = one_account(SNAP, rows, usdc)
    res = ENG.compute(acc, MARKET)
    pr, short = prove_account(SNAP, "mallory", com, op)
    assert short is not None
    gap = (res.maintenance_margin[0] - res.equity[0]) * 10**SNAP.money_decimals
    # the proven shortfall covers the engine's gap, and exceeds it by at most the rounding
    assert gap <= short.value <= gap + 10**SNAP.money_decimals
    assert verify_account(SNAP, "mallory", com, pr)


# ------------------------------------------------------------------ strict JSON


def _mutations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Every JSON mutation of issue 12: wrong version (also as bool or float), missing
    and extra keys, and for the first integer and list fields: string, bool, float,
    null, Infinity, NaN; lists replaced by a scalar."""
    out: list[dict[str, Any]] = [
        {**obj, "version": obj["version"] + 1},
        {**obj, "version": True} if obj["version"] == 1 else {**obj, "version": float(obj["version"])},
        {**obj, "version": float(obj["version"])},
        {k: v for k, v in obj.items() if k != "version"},
        {**obj, "extra": 1},
    ]
    key = next(k for k in obj if k not in ("type", "version"))
    out.append({k: v for k, v in obj.items() if k != key})
    ints = [k for k, v in obj.items() if type(v) is int and k != "version"]
    lists = [k for k, v in obj.items() if type(v) is list and v and type(v[0]) is int]
    for k in ints[:3]:
        v = obj[k]
        out += [{**obj, k: str(v)}, {**obj, k: float(v) + 0.5}, {**obj, k: None}, {**obj, k: math.inf}]
        out.append({**obj, k: bool(v)})
    for k in lists[:3]:
        v = obj[k]
        for bad in (str(v[0]), True, 1.5, None, math.inf, math.nan):
            out.append({**obj, k: [bad, *v[1:]]})
        out.append({**obj, k: v[0]})
        out.append({**obj, k: tuple(v)})
    return out


def _objects() -> list[tuple[Any, dict[str, Any]]]:
    _, com, op = one_account(SNAP, {1: 1.0, 3: -0.5}, 60_000.0, 0.2)
    pr, _ = prove_account(SNAP, "alice", com, op)
    st = SNAP.statement(com, "alice")
    from zkmargin.proof.commitments import AccountCommitment
    from zkmargin.proof.merkle import InclusionProof, MerkleTree

    tree = MerkleTree(SNAP_KECCAK, [bytes(32), b"\x01" * 32, b"\x02" * 32])
    return [
        (EpochSnapshot.from_json, SNAP.to_json()),
        (SolvencyStatement.from_json, st.to_json()),
        (AccountCommitment.from_json, com.to_json()),
        (AccountOpening.from_json, op.to_json()),
        (SolvencyProof.from_json, pr.to_json()),
        (zkmargin.proof.RangeProof.from_json, pr.range_proof.to_json()),
        (InclusionProof.from_json, tree.proof(1).to_json()),
    ]


SNAP_KECCAK = zkmargin.proof.get_group("native").keccak256


@pytest.mark.parametrize("k", range(7))
def test_strict_json_decoders(k: int) -> None:
    decode, obj = _objects()[k]
    assert decode(json.loads(json.dumps(obj))) == decode(obj)
    for bad in _mutations(obj):
        with pytest.raises(EncodingError):
            decode(bad)
    # hex fields: upper case, odd length, non-hex, and a number for the string
    for key, v in obj.items():
        if key in ("hex", "snapshot", "positions", "balances", "siblings") and type(v) in (str, list):
            first = v if type(v) is str else v[0]
            if type(first) is not str:
                continue  # an opening's balances are integers
            for badhex in (
                first.upper() if first != first.upper() else None,
                first[:-1],
                "zz" + first[2:],
                7,
            ):
                if badhex is None:
                    continue
                mutated = badhex if type(v) is str else [badhex, *v[1:]]
                with pytest.raises(EncodingError):
                    decode({**obj, key: mutated})
    with pytest.raises(EncodingError):
        decode(json.dumps(obj))


def test_snapshot_float_fields_are_strict() -> None:
    obj = SNAP.to_json()
    for bad in ("0.8", True, None, math.inf, math.nan, [0.8], (1 << 53) + 1):
        with pytest.raises(EncodingError):
            EpochSnapshot.from_json({**obj, "mm_factor": bad})
    # an integral JSON number is a valid double
    assert EpochSnapshot.from_json({**obj, "rate": 0}).rate == 0.0
    with pytest.raises(EncodingError):
        EpochSnapshot.from_json({**obj, "forward": [1.0]})
    with pytest.raises(EncodingError):
        EpochSnapshot.from_json({**obj, "model": "standard"})
    raw = SNAP.to_bytes()
    for bad in (raw[:-1], raw + b"\x00", b"ZKSN\x02" + raw[5:], b"XKSN" + raw[4:]):
        with pytest.raises(EncodingError):
            EpochSnapshot.from_bytes(bad)


def test_engine_and_market_round_trip_through_the_snapshot() -> None:
    eng = SNAP.engine()
    np.testing.assert_array_equal(eng.risk_arrays(SNAP.market()), ENG.risk_arrays(MARKET))


@given(
    st.fractions(min_value=-(10**12), max_value=10**12, max_denominator=10**9),
    st.fractions(min_value=0, max_value=10**15, max_denominator=10**6),
    st.integers(8, 64),
    st.floats(-1.0, 1.0),
)
@scaled(5)  # exact rational arithmetic, microseconds an example; every rounding direction counts
def test_widened_interval_contains_every_recomputation_within_the_margin(
    x: Fraction, scale: Fraction, bits: int, t: float
) -> None:
    """§10.3: an auditor's value within mu of the publisher's lies in the interval, and
    the interval is never narrower than one unit beyond the floor and ceiling."""
    lo, hi = widened(x, scale, bits)
    mu = math.floor(scale / (1 << bits)) + 1
    assert lo <= math.floor(x) - 1 and hi >= math.ceil(x) + 1
    assert lo <= x + Fraction(t) * mu <= hi


def _extended() -> tuple[EpochSnapshot, SolvencyStatement]:
    """A version-2 snapshot with every version-2 feature but SPAN (which excludes the
    roll add-on it also carries here): absolute vol shocks, a look-ahead, a vol surface,
    a rate curve and shocked BTC collateral; and its version-3 statement."""
    from zkmargin.rates import RateCurve
    from zkmargin.surface import VolSurface

    table = replace(SCEN, vol_shift="absolute", look_ahead=1 / 365)
    smile = VolSurface([0.1, 0.5, 1.0], [-0.2, 0.0, 0.2], [[0.7, 0.6, 0.65]] * 3)
    market = replace(MARKET, rate=0.0, rate_curve=RateCurve([0.25, 1.0], [0.02, 0.03]), surfaces=[smile])
    eng = MarginEngine(INS, table, asset_underlying=[-1, 0])
    snap = build_snapshot(eng, market, 8)
    _, com, _ = one_account(snap, {1: 1.0, 3: -0.5}, 60_000.0, 0.2)
    return snap, snap.statement(com, "alice")


def test_version_2_snapshot_and_version_3_statement_codecs() -> None:
    snap, st = _extended()
    assert snap.version == 2 and st.version == 3
    assert EpochSnapshot.from_bytes(snap.to_bytes()) == snap
    assert EpochSnapshot.from_json(json.loads(json.dumps(snap.to_json()))) == snap
    assert SolvencyStatement.from_json(json.loads(json.dumps(st.to_json()))) == st
    assert audit_snapshot(snap).ok
    obj = snap.to_json()
    for key, bad in (
        ("asset_underlying", [-1, 0.0]),
        ("asset_underlying", [-1, True]),
        ("surface_n_expiry", ["3"]),
        ("surface_vol", [None, *obj["surface_vol"][1:]]),
        ("rate_curve_expiry", None),  # the zero rates without their expiries
        ("held_lo", obj["held_lo"][:-1]),
        ("vol_shift", "points"),
        ("look_ahead", -1.0),
        ("surface_n_moneyness", [4]),  # more nodes than the concatenation holds
    ):
        with pytest.raises(EncodingError):
            EpochSnapshot.from_json({**obj, key: bad})
    sobj = st.to_json()
    for key, bad in (("asset_group", [True, 0]), ("held_lo", sobj["held_lo"][1:]), ("som_side", [1])):
        with pytest.raises(EncodingError):
            SolvencyStatement.from_json({**sobj, key: bad})
