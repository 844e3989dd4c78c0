"""Attestation bundles end to end on a tiny universe: verification, receipts, and every
attack of issue 12 (doctored snapshot, swapped or dropped leaves, a path for the wrong
leaf, liabilities omitting an account, reserves below liabilities, a shortfall sum above
the fund, tampered files)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.attest_fixtures import BASE, BOOK, ENG, FUND, IDS, INS, MARKET, RESERVES, SCEN, STRESS, snapshot
from zkmargin import Accounts, MarginEngine, MarginParams
from zkmargin.attest import Book, attest, verify_bundle, verify_receipt
from zkmargin.attest import bundle as B
from zkmargin.errors import ParameterError
from zkmargin.proof import get_group
from zkmargin.proof.commitments import AccountCommitment
from zkmargin.proof.cover import prove_cover
from zkmargin.proof.merkle import MerkleTree, id_digest
from zkmargin.proof.snapshot import EpochSnapshot

KK = get_group("native").keccak256
STRESS_SNAP = snapshot(MarginEngine(INS, STRESS, aggregation="sum"), scenario_set="stress")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, B.AttestReport]:
    root = tmp_path_factory.mktemp("attest")
    rep = attest([BASE, STRESS_SNAP], BOOK, RESERVES, FUND, root / "bundle", root / "private")
    return root / "bundle", root / "private", rep


def _copy(made: Any, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(made[0], dst)
    return dst


def _rewrite(bundle: Path, name: str, data: bytes, **manifest: Any) -> None:
    """Replace a file and update the manifest as a cheating exchange would: the digest
    list and any given manifest fields stay consistent with the new file."""
    (bundle / name).write_bytes(data)
    m = json.loads((bundle / B.MANIFEST).read_text())
    m["files"][name] = KK(data).hex()
    m.update(manifest)
    (bundle / B.MANIFEST).write_text(json.dumps(m))


def _receipt(private: Path, aid: str) -> Path:
    return private / f"{id_digest(KK, aid).hex()}.json"


def test_bundle_verifies(made: Any) -> None:
    bundle, private, rep = made
    assert rep.accounts == 4
    assert rep.insolvent["base"] == 1 and rep.shortfall["base"] > 0
    assert rep.insolvent["stress"] >= 1 and rep.shortfall["stress"] >= rep.shortfall["base"]
    res = verify_bundle(bundle)
    assert res.ok, res.failures
    assert res.proofs == 8
    for aid in IDS:
        assert verify_receipt(bundle, aid, _receipt(private, aid)) == []


def test_receipt_for_the_wrong_account_or_leaf(made: Any, tmp_path: Path) -> None:
    bundle, private, _ = made
    # bob presenting alice's receipt, and alice's receipt with bob's inclusion path
    assert verify_receipt(bundle, "bob", _receipt(private, "alice"))
    r = json.loads(_receipt(private, "alice").read_text())
    r["inclusion"] = json.loads(_receipt(private, "bob").read_text())["inclusion"]
    f = tmp_path / "r.json"
    f.write_text(json.dumps(r))
    problems = verify_receipt(bundle, "alice", f)
    assert any("inclusion path" in p for p in problems)
    # an opening that does not open the commitment
    r = json.loads(_receipt(private, "alice").read_text())
    r["opening"]["balances"][0] += 1
    f.write_text(json.dumps(r))
    assert any("opening" in p for p in verify_receipt(bundle, "alice", f))


def test_swapped_leaf_is_rejected(made: Any, tmp_path: Path) -> None:
    bundle = _copy(made, tmp_path)
    accounts = B._read_accounts((bundle / B.ACCOUNTS_FILE).read_bytes(), "native")
    rows = [(a, c.to_bytes()) for a, c in accounts]
    rows[0], rows[1] = (rows[0][0], rows[1][1]), (rows[1][0], rows[0][1])  # commitments swapped
    tree = MerkleTree.of_accounts(KK, rows)
    _rewrite(bundle, B.ACCOUNTS_FILE, B._accounts_bytes(rows), merkle_root=tree.root.hex())
    res = verify_bundle(bundle)
    assert not res.ok
    assert any(f"account {rows[0][0]!r}" in f for f in res.failures)
    assert any(f"account {rows[1][0]!r}" in f for f in res.failures)


def test_dropped_leaf_is_rejected(made: Any, tmp_path: Path) -> None:
    bundle = _copy(made, tmp_path)
    _, private, _ = made
    accounts = B._read_accounts((bundle / B.ACCOUNTS_FILE).read_bytes(), "native")
    # drop a leaf without touching anything else: counts, root and proofs no longer match
    rows = [(a, c.to_bytes()) for a, c in accounts]
    dropped = rows.pop(2)
    _rewrite(bundle, B.ACCOUNTS_FILE, B._accounts_bytes(rows))
    res = verify_bundle(bundle)
    assert not res.ok
    assert any("merkle root" in f for f in res.failures)
    assert any("leaves" in f for f in res.failures)
    # an exchange that re-roots the tree without the account: the account holder's
    # receipt no longer leads to the published root
    tree = MerkleTree.of_accounts(KK, rows)
    _rewrite(
        bundle, B.ACCOUNTS_FILE, B._accounts_bytes(rows), merkle_root=tree.root.hex(), accounts=len(rows)
    )
    assert verify_receipt(bundle, dropped[0], _receipt(private, dropped[0]))


def test_liabilities_omitting_an_account_are_rejected(made: Any, tmp_path: Path) -> None:
    bundle = _copy(made, tmp_path)
    _, private, _ = made
    group = get_group("native")
    m = json.loads((bundle / B.MANIFEST).read_text())
    # the exchange proves reserves against liabilities without dave's (positive) balance
    kept = [a for a in IDS if a != "bob"]
    rec = [json.loads(_receipt(private, a).read_text()) for a in kept]
    coms = [AccountCommitment.from_json(r["commitment"]) for r in rec]
    vals = [sum(r["opening"]["balances"][j] for r in rec) for j in range(2)]
    blinds = [sum(r["opening"]["balance_blindings"][j] for r in rec) for j in range(2)]
    liab = [group.encode_compressed(B._sum_points(group, (c.balances[j] for c in coms))) for j in range(2)]
    ctx = B.context_digest(group, bytes.fromhex(m["merkle_root"]), BASE.digest())
    forged = prove_cover(B.RESERVES_LABEL, ctx, m["reserves"], liab, vals, blinds)
    _rewrite(bundle, B.RESERVES_FILE, forged.to_bytes(), liabilities=[x.hex() for x in liab])
    res = verify_bundle(bundle)
    assert any("liabilities asset 0" in f for f in res.failures)
    assert any(f.startswith("reserves:") for f in res.failures)


def test_reserves_below_liabilities(made: Any, tmp_path: Path) -> None:
    # alice alone holds 0.2 BTC; reserves of 0.1 BTC do not cover it
    alice = Book(IDS[:1], Accounts([0, 1], [1], [1.0], [[60_000.0, 0.2]]))
    with pytest.raises(ParameterError, match="reserves do not cover"):
        attest([BASE], alice, [RESERVES[0], RESERVES[1] // 10], FUND, tmp_path / "b", tmp_path / "p")
    bundle = _copy(made, tmp_path)
    m = json.loads((bundle / B.MANIFEST).read_text())
    m["reserves"][0] //= 10
    (bundle / B.MANIFEST).write_text(json.dumps(m))
    res = verify_bundle(bundle)
    assert res.failures == ["reserves: the proof that reserves cover liabilities (every asset) is invalid"]


def test_shortfall_sum_above_the_fund(made: Any, tmp_path: Path) -> None:
    _, _, rep = made
    # dave alone is the base set's shortfall; a fund one unit short of it does not cover it
    dave = Book(IDS[3:], Accounts([0, 2], [1, 3], [3.0, -2.0], [[20_000.0, 0.0]]))
    with pytest.raises(ParameterError, match="insurance fund does not cover"):
        attest([BASE], dave, RESERVES, rep.shortfall["base"] - 1, tmp_path / "b", tmp_path / "p")
    bundle = _copy(made, tmp_path)
    m = json.loads((bundle / B.MANIFEST).read_text())
    m["insurance_fund"] = rep.shortfall["stress"] // 2
    (bundle / B.MANIFEST).write_text(json.dumps(m))
    res = verify_bundle(bundle)
    assert any(f.startswith("insurance fund 'stress'") for f in res.failures)
    assert any(f.startswith("insurance fund 'base'") for f in res.failures)


def test_doctored_snapshot_in_the_bundle(made: Any, tmp_path: Path) -> None:
    bundle = _copy(made, tmp_path)
    cheap = snapshot(MarginEngine(INS, SCEN, MarginParams(mm_factor=0.01), "sum"))
    m = json.loads((bundle / B.MANIFEST).read_text())
    m["scenario_sets"][0]["snapshot_digest"] = cheap.digest().hex()
    (bundle / B.MANIFEST).write_text(json.dumps(m))
    _rewrite(bundle, "snapshot-base.bin", cheap.to_bytes())
    res = verify_bundle(bundle)
    assert sum("(base): solvency proof invalid" in f for f in res.failures) == 4


def test_tampered_file_is_named(made: Any, tmp_path: Path) -> None:
    bundle = _copy(made, tmp_path)
    raw = bytearray((bundle / "proofs-stress.bin").read_bytes())
    raw[-5] ^= 1
    (bundle / "proofs-stress.bin").write_bytes(bytes(raw))
    res = verify_bundle(bundle)
    assert "proofs-stress.bin: keccak256 differs from the manifest's" in res.failures
    assert any("(stress): solvency proof invalid" in f for f in res.failures)
    (bundle / B.MANIFEST).write_text("{}")
    assert verify_bundle(bundle).failures[0].startswith("bundle unreadable")


def test_engine_market_and_snapshot_pickle() -> None:
    eng = pickle.loads(pickle.dumps(ENG))
    np.testing.assert_array_equal(eng.risk_arrays(MARKET), ENG.risk_arrays(MARKET))
    assert eng.aggregation == ENG.aggregation and eng.params == ENG.params
    m = pickle.loads(pickle.dumps(MARKET))
    np.testing.assert_array_equal(m.vol, MARKET.vol)
    assert pickle.loads(pickle.dumps(BASE)) == BASE


def test_dask_local_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("dask.distributed")
    from zkmargin.attest.distributed import margin_on_dask

    # on a cluster each task proves on its worker thread's share of the cores
    seen: list[int | None] = []
    real = B.chunk_jobs

    def spy(*args: Any, **kw: Any) -> Any:
        jobs = real(*args, **kw)
        seen.extend(j.threads for j in jobs)
        return jobs

    monkeypatch.setattr(B, "chunk_jobs", spy)

    small = Book(IDS[:2], Accounts(BOOK.accounts.offsets[:3], *_rows(2), BOOK.accounts.balances[:2]))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        rep = attest([BASE], small, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=1, client=client)
        got = margin_on_dask(client, ENG, BOOK.accounts, MARKET, chunk=3)
    assert rep.accounts == 2
    # 2 one-thread workers on this host: each task gets half of its cores
    assert seen == [max(1, (os.cpu_count() or 1) // 2)] * 2
    assert verify_bundle(tmp_path / "b").ok
    want = ENG.compute(BOOK.accounts, MARKET)
    np.testing.assert_array_equal(got["maintenance_margin"], want.maintenance_margin)
    np.testing.assert_array_equal(got["equity"], want.equity)


def test_prover_threads_per_task(tmp_path: Path) -> None:
    from zkmargin.attest.work import ProveJob, chunk_jobs, prove_chunk

    small = Book(IDS[:1], Accounts(BOOK.accounts.offsets[:2], *_rows(1), BOOK.accounts.balances[:1]))
    rep = attest([BASE], small, RESERVES, FUND, tmp_path / "b", tmp_path / "p", threads=1)
    assert rep.accounts == 1 and verify_bundle(tmp_path / "b").ok
    for bad in (0, -1, 1025, True, 1.0, "2"):
        with pytest.raises(ParameterError, match="threads"):
            chunk_jobs(small, [0], n=64, chunk=1, backend="native", threads=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="native backend"):
        prove_chunk(ProveJob(small.ids, small.accounts, 64, "pyecc", 1), [BASE])


def _rows(k: int) -> tuple[np.ndarray, np.ndarray]:
    end = int(BOOK.accounts.offsets[k])
    return BOOK.accounts.instrument[:end], BOOK.accounts.quantity[:end]


def test_verifier_without_the_extension(tmp_path: Path) -> None:
    """zkmargin.proof imports and verifies a bundle with the pyecc backend when the
    compiled zkmargin._core cannot be imported."""
    # one perpetual: m = 16, so the pure-Python MSM stays at 2 x 1024 + small points
    one = Book(("erin",), Accounts([0, 1], [1], [2.0], [[30_000.0, 0.1]]))
    attest([BASE], one, RESERVES, FUND, tmp_path / "b", tmp_path / "p")
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "zkmargin._core":
                    raise ModuleNotFoundError("blocked for the test", name=name)
        sys.meta_path.insert(0, Block())
        import zkmargin.proof
        from zkmargin.cli import main
        assert "zkmargin._core" not in sys.modules
        try:
            zkmargin.MarginEngine
        except ImportError as e:
            assert "compiled extension" in str(e)
        else:
            raise SystemExit("MarginEngine imported without the extension")
        code = main(["verify", {str(tmp_path / "b")!r}, "--backend", "pyecc", "--quiet"])
        assert "zkmargin._core" not in sys.modules
        raise SystemExit(code)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK: 1 accounts, 1 solvency proofs")


def test_snapshot_file_round_trip_through_bundle(made: Any) -> None:
    bundle = made[0]
    snap = EpochSnapshot.from_bytes((bundle / "snapshot-stress.bin").read_bytes())
    assert snap == STRESS_SNAP
    assert EpochSnapshot.from_json(json.loads((bundle / "snapshot-stress.json").read_text())) == snap
    assert replace(snap, scenario_set="base") != BASE  # another scenario table


def test_bad_books_are_refused(tmp_path: Path) -> None:
    acc = BOOK.accounts
    for ids, match in (
        (("a", "b", "c"), "3 ids for 4 accounts"),
        (("a", "b", "", "d"), "1-255 UTF-8 bytes"),
        (("a", "b", "x" * 256, "d"), "1-255 UTF-8 bytes"),
        (("a", "b", "a", "d"), "duplicate"),
    ):
        with pytest.raises(ParameterError, match=match):
            attest([BASE], Book(ids, acc), RESERVES, FUND, tmp_path / "b", tmp_path / "p")
    with pytest.raises(ParameterError, match="letters, digits"):
        attest(
            [replace(BASE, scenario_set="../x")],
            Book(IDS, acc),
            RESERVES,
            FUND,
            tmp_path / "b",
            tmp_path / "p",
        )
