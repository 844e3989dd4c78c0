"""Exchange-wide solvency attestation bundles (docs/proof-spec.md §13).

:func:`attest` commits every account of a book, proves each account's margin statement
with a committed shortfall under every scenario set's snapshot, builds the Merkle tree of
account leaves, sums the balance commitments into per-asset liabilities, proves the
public reserves cover them and the insurance fund covers each scenario set's summed
shortfall, and writes one bundle directory plus, separately, one private receipt per
account. :func:`verify_bundle` checks all of it from the files alone;
:func:`verify_receipt` is what an account holder runs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import EncodingError, ParameterError, ZkMarginError
from ..proof._codec import (
    Reader,
    j_hex,
    j_hexes,
    j_int,
    j_ints,
    j_str,
    json_object,
    u32,
)
from ..proof.commitments import AccountCommitment, AccountOpening
from ..proof.cover import CoverProof, cover_check, prove_cover
from ..proof.generators import generators
from ..proof.group import Group, get_group
from ..proof.merkle import InclusionProof, MerkleTree, id_digest, leaf_hash
from ..proof.rangeproof import MsmCheck, _random_weight, evaluate_checks
from ..proof.snapshot import EpochSnapshot
from ..proof.solvency import SolvencyProof, solvency_check
from .journal import JOURNAL_DIR, Journal
from .ledger import Book
from .work import AccountResult, ProveJob, chunk_jobs, prove_chunk

__all__ = [
    "BUNDLE_VERSION",
    "AttestReport",
    "VerifyReport",
    "attest",
    "verify_bundle",
    "verify_receipt",
]

BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
ACCOUNTS_FILE = "accounts.bin"
RESERVES_FILE = "reserves.bin"
RESERVES_LABEL = b"reserves"
FUND_LABEL = b"insurance-fund"
_ACC_MAGIC = b"ZKML"
_PRF_MAGIC = b"ZKMP"
_MANIFEST_KEYS = (
    "zkmargin",
    "epoch",
    "n",
    "accounts",
    "assets",
    "merkle_root",
    "accounts_file",
    "scenario_sets",
    "liabilities",
    "reserves",
    "reserves_proof",
    "insurance_fund",
    "files",
)
_SET_KEYS = ("name", "snapshot", "snapshot_digest", "proofs", "fund_proof")
#: accounts per batch-verification MSM (memory stays bounded; one failure is then
#: located by verifying that batch's proofs one by one)
VERIFY_BATCH = 256

Progress = Callable[[str, int], Callable[[int], None]]
#: scenario set names and every file a manifest names: plain file names inside the bundle
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")


def _no_progress(desc: str, total: int) -> Callable[[int], None]:
    del desc, total
    return lambda k: None


def context_digest(group: Group, merkle_root: bytes, snapshot_digest: bytes) -> bytes:
    """What a cover proof binds: ``keccak256(merkle root || snapshot digest)`` (§13.3)."""
    return group.keccak256(merkle_root + snapshot_digest)


# ------------------------------------------------------------------ container files


def _accounts_bytes(rows: Sequence[tuple[str, bytes]]) -> bytes:
    out = [_ACC_MAGIC, bytes([BUNDLE_VERSION]), u32(len(rows))]
    for aid, com in rows:
        b = aid.encode()
        out += [bytes([len(b)]), b, u32(len(com)), com]
    return b"".join(out)


def _read_accounts(data: bytes, backend: str | Group) -> list[tuple[str, AccountCommitment]]:
    r = Reader(data, "accounts")
    if r.take(4) != _ACC_MAGIC or r.u8() != BUNDLE_VERSION:
        raise EncodingError("accounts: bad magic or version", "accounts")
    out: list[tuple[str, AccountCommitment]] = []
    for _ in range(r.u32()):
        try:
            aid = r.take(r.u8()).decode()
        except UnicodeDecodeError:
            raise EncodingError("accounts: account id is not UTF-8", "accounts", len(out)) from None
        out.append((aid, AccountCommitment.from_bytes(r.take(r.u32()), backend)))
    r.done()
    return out


def _proofs_bytes(proofs: Sequence[bytes]) -> bytes:
    return b"".join(
        [_PRF_MAGIC, bytes([BUNDLE_VERSION]), u32(len(proofs)), *(u32(len(p)) + p for p in proofs)]
    )


def _read_proofs(data: bytes) -> list[bytes]:
    r = Reader(data, "proofs")
    if r.take(4) != _PRF_MAGIC or r.u8() != BUNDLE_VERSION:
        raise EncodingError("proofs: bad magic or version", "proofs")
    out = [r.take(r.u32()) for _ in range(r.u32())]
    r.done()
    return out


# ------------------------------------------------------------------ attest


@dataclass(frozen=True)
class AttestReport:
    bundle: Path
    private: Path
    accounts: int
    insolvent: dict[str, int]
    shortfall: dict[str, int]
    merkle_root: bytes
    prove_seconds: float
    bundle_bytes: int
    #: accounts whose proofs came from the journal of an interrupted run (``resume``)
    resumed: int = 0


def _check_sets(snapshots: Sequence[EpochSnapshot]) -> None:
    if not snapshots:
        raise ParameterError("at least one snapshot (the base scenario set) is required", "snapshots")
    base = snapshots[0]
    names = [s.scenario_set for s in snapshots]
    for name in names:
        if not _SAFE_NAME.fullmatch(name):
            raise ParameterError(
                f"scenario set name {name!r} must be letters, digits, '_', '-' or '.' (it names files)",
                "scenario_set",
            )
    if len(set(names)) != len(names):
        raise ParameterError(f"scenario set names must be distinct, got {names}", "snapshots")
    shared = (
        "epoch",
        "kind",
        "underlying",
        "strike",
        "expiry",
        "contract_size",
        "settlement",
        "spot",
        "vol",
        "forward",
        "rate",
        "asset_price",
        "haircut",
        "quantity_decimals",
        "balance_decimals",
        "money_decimals",
    )
    for s in snapshots[1:]:
        for f in shared:
            if getattr(s, f) != getattr(base, f):
                raise ParameterError(
                    f"scenario set {s.scenario_set!r} differs from {base.scenario_set!r} in {f}: "
                    "every set of one epoch shares the instruments, market and scales",
                    f,
                )


def attest(
    snapshots: Sequence[EpochSnapshot],
    book: Book,
    reserves: Sequence[int],
    insurance_fund: int,
    out: str | Path,
    private: str | Path,
    *,
    n: int = 64,
    chunk: int = 64,
    backend: str = "native",
    client: Any = None,
    threads: int | None = None,
    resume: bool = False,
    progress: Progress = _no_progress,
) -> AttestReport:
    """Attest ``book`` under ``snapshots`` (the first is the base scenario set, others
    e.g. a stress set). ``reserves`` are per asset in balance units, ``insurance_fund`` in
    money units. ``client`` (a ``dask.distributed.Client``) spreads the proving.

    ``threads`` is the native prover's thread count per proving task. By default a task on
    a Dask ``client`` gets its host's cores divided by the worker threads on that host
    (:func:`~zkmargin.attest.distributed.task_threads`: one thread each when the workers'
    threads fill the cores, as a multi-threaded prover in every worker would oversubscribe
    them), and in-process proving follows the core's thread rule (every core unless
    ``ZKMARGIN_THREADS`` says otherwise).

    Every finished proving job is journaled in ``private`` (see
    :mod:`zkmargin.attest.journal`); ``resume=True`` takes the jobs an interrupted run with
    the same snapshots, book, ``n``, ``chunk`` and backend finished from there and proves
    only the rest. The journal is removed once the bundle is written."""
    _check_sets(snapshots)
    if type(resume) is not bool:
        raise ParameterError(f"resume must be True or False, got {resume!r}", "resume")
    base = snapshots[0]
    if len(reserves) != base.n_assets:
        raise ParameterError(f"need {base.n_assets} reserve amounts, one per asset", "reserves")
    if len(book.ids) != len(book.accounts):
        raise ParameterError(f"{len(book.ids)} ids for {len(book.accounts)} accounts", "ids")
    for k, aid in enumerate(book.ids):
        if type(aid) is not str or not 1 <= len(aid.encode()) <= 255:
            raise ParameterError(f"account id {aid!r} must be a str of 1-255 UTF-8 bytes", "ids", k)
    seen: set[str] = set()
    for k, aid in enumerate(book.ids):
        if aid in seen:
            raise ParameterError(f"account id {aid!r} is a duplicate", "ids", k)
        seen.add(aid)
    out, private = Path(out), Path(private)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ParameterError(f"{out} is not empty and holds no bundle", "out")
    group = get_group(backend)
    order = sorted(range(len(book.ids)), key=lambda k: id_digest(group.keccak256, book.ids[k]))
    if threads is None and client is not None and backend == "native":
        from .distributed import task_threads

        threads = task_threads(client)
    jobs = chunk_jobs(book, order, n=n, chunk=chunk, backend=backend, threads=threads)
    journal = Journal(
        private / JOURNAL_DIR, [s.digest(group) for s in snapshots], group.keccak256, group.name
    )
    t0 = time.perf_counter()
    tick = progress("prove", len(order))
    results: list[AccountResult] = []
    todo = []
    for job in jobs:
        part = journal.load(job) if resume else None
        if part is None:
            todo.append(job)
        else:
            results.extend(part)
            tick(len(part))
    resumed = len(results)

    def done(job: ProveJob, part: list[AccountResult]) -> None:
        journal.save(job, part)
        tick(len(part))

    if client is None:
        for job in todo:
            part = prove_chunk(job, snapshots)
            results.extend(part)
            done(job, part)
    else:
        from .distributed import run_jobs

        results += run_jobs(client, todo, snapshots, done)
    prove_s = time.perf_counter() - t0
    results.sort(key=lambda r: id_digest(group.keccak256, r.account_id))
    rep = _write(snapshots, results, reserves, insurance_fund, out, private, n, group, prove_s)
    journal.remove()
    return replace(rep, resumed=resumed)


def _write(
    snapshots: Sequence[EpochSnapshot],
    results: Sequence[AccountResult],
    reserves: Sequence[int],
    fund: int,
    out: Path,
    private: Path,
    n: int,
    group: Group,
    prove_s: float,
) -> AttestReport:
    out.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    kk = group.keccak256
    rows = [(r.account_id, r.commitment) for r in results]
    tree = MerkleTree.of_accounts(kk, rows)
    files: dict[str, bytes] = {ACCOUNTS_FILE: _accounts_bytes(rows)}
    J = snapshots[0].n_assets
    # liabilities: per asset, the sum of every account's balance commitment
    coms = [AccountCommitment.from_bytes(c, group) for c in (r.commitment for r in results)]
    liab_pts = [_sum_points(group, (c.balances[j] for c in coms)) for j in range(J)]
    liab_vals = [sum(r.opening.balances[j] for r in results) for j in range(J)]
    liab_blind = [sum(r.opening.balance_blindings[j] for r in results) for j in range(J)]
    liab = [group.encode_compressed(p) for p in liab_pts]
    base_digest = snapshots[0].digest(group)
    ctx = context_digest(group, tree.root, base_digest)
    try:
        files[RESERVES_FILE] = prove_cover(
            RESERVES_LABEL, ctx, list(reserves), liab, liab_vals, liab_blind, n=n, backend=group
        ).to_bytes()
    except ZkMarginError as e:
        raise ParameterError(f"reserves do not cover liabilities: {e}", "reserves") from None
    sets = []
    insolvent: dict[str, int] = {}
    short_tot: dict[str, int] = {}
    for k, snap in enumerate(snapshots):
        name = snap.scenario_set
        files[f"snapshot-{name}.bin"] = snap.to_bytes()
        files[f"proofs-{name}.bin"] = _proofs_bytes([r.proofs[k] for r in results])
        s_pts = [r.shortfalls[k].point for r in results]
        s_val = sum(r.shortfalls[k].value for r in results)
        s_bl = sum(r.shortfalls[k].blinding for r in results)
        insolvent[name] = sum(1 for r in results if r.shortfalls[k].value > 0)
        short_tot[name] = s_val
        total = group.encode_compressed(_sum_points(group, s_pts))
        sctx = context_digest(group, tree.root, snap.digest(group))
        try:
            files[f"fund-{name}.bin"] = prove_cover(
                FUND_LABEL, sctx, [fund], [total], [s_val], [s_bl], n=n, backend=group
            ).to_bytes()
        except ZkMarginError as e:
            raise ParameterError(
                f"the insurance fund does not cover the shortfalls of scenario set {name!r}: {e}",
                "insurance_fund",
            ) from None
        sets.append(
            {
                "name": name,
                "snapshot": f"snapshot-{name}.bin",
                "snapshot_digest": snap.digest(group).hex(),
                "proofs": f"proofs-{name}.bin",
                "fund_proof": f"fund-{name}.bin",
            }
        )
    for fname, data in files.items():
        (out / fname).write_bytes(data)
        if fname.startswith("snapshot-"):
            snap = EpochSnapshot.from_bytes(data)
            (out / fname.replace(".bin", ".json")).write_text(json.dumps(snap.to_json()))
    manifest = {
        "type": "zkmargin.AttestationBundle",
        "version": BUNDLE_VERSION,
        "zkmargin": __version__,
        "epoch": snapshots[0].epoch,
        "n": n,
        "accounts": len(results),
        "assets": J,
        "merkle_root": tree.root.hex(),
        "accounts_file": ACCOUNTS_FILE,
        "scenario_sets": sets,
        "liabilities": [x.hex() for x in liab],
        "reserves": list(reserves),
        "reserves_proof": RESERVES_FILE,
        "insurance_fund": fund,
        "files": {f: kk(d).hex() for f, d in sorted(files.items())},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    for i, r in enumerate(results):
        receipt = {
            "type": "zkmargin.AccountReceipt",
            "version": BUNDLE_VERSION,
            "account_id": r.account_id,
            "epoch": snapshots[0].epoch,
            "merkle_root": tree.root.hex(),
            "commitment": AccountCommitment.from_bytes(r.commitment, group).to_json(),
            "opening": r.opening.to_json(),
            "inclusion": tree.proof(i).to_json(),
        }
        (private / f"{id_digest(kk, r.account_id).hex()}.json").write_text(json.dumps(receipt))
    size = sum(p.stat().st_size for p in out.iterdir())
    return AttestReport(out, private, len(results), insolvent, short_tot, tree.root, prove_s, size)


def _sum_points(group: Group, encoded: Iterable[bytes]) -> Any:
    acc = group.identity()
    for e in encoded:
        acc = group.add(acc, group.decode_compressed(e))
    return acc


# ------------------------------------------------------------------ verify


@dataclass
class VerifyReport:
    """``ok`` iff nothing failed; ``failures`` say what, naming files and account ids."""

    failures: list[str] = field(default_factory=list)
    accounts: int = 0
    proofs: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _manifest(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EncodingError(f"{path / MANIFEST}: not readable JSON ({e})", "manifest") from None
    o = json_object(obj, "zkmargin.AttestationBundle", BUNDLE_VERSION, _MANIFEST_KEYS)
    j_str(o, "zkmargin")
    j_int(o, "epoch", 0, (1 << 64) - 1)
    j_int(o, "n", 8, 64)
    j_int(o, "accounts", 0, (1 << 32) - 1)
    J = j_int(o, "assets", 0, 1 << 16)
    j_hex(o, "merkle_root", 32)
    if len(j_hexes(o, "liabilities", 32)) != J or len(j_ints(o, "reserves", 0, (1 << 127) - 1)) != J:
        raise EncodingError("manifest: liabilities and reserves need one entry per asset", "liabilities")
    j_int(o, "insurance_fund", 0, (1 << 127) - 1)
    files = o["files"]
    if type(files) is not dict or not all(type(v) is str for v in files.values()):
        raise EncodingError("manifest: files must map names to hex digests", "files")
    sets = o["scenario_sets"]
    if type(sets) is not list or not sets:
        raise EncodingError("manifest: scenario_sets must be a non-empty list", "scenario_sets")
    for s in sets:
        if type(s) is not dict or set(s) != set(_SET_KEYS) or not all(type(s[k]) is str for k in _SET_KEYS):
            raise EncodingError(
                f"manifest: each scenario set needs exactly the string keys {_SET_KEYS}", "scenario_sets"
            )
        j_hex(s, "snapshot_digest", 32)
    names = [
        o["accounts_file"],
        o["reserves_proof"],
        *(s[k] for s in sets for k in ("snapshot", "proofs", "fund_proof")),
    ]
    for name in [*names, *files]:
        if type(name) is not str or not _SAFE_NAME.fullmatch(name):
            raise EncodingError(f"manifest: {name!r} is not a plain file name inside the bundle", "files")
    return o


def verify_bundle(
    path: str | Path,
    *,
    backend: str = "native",
    progress: Progress = _no_progress,
) -> VerifyReport:
    """Check a bundle from its files alone: file digests, snapshots, the Merkle root over
    all leaves, every account's proof under every scenario set (batched), liabilities,
    reserves and the insurance fund. Never raises for a bad bundle: every failure is
    reported in ``failures``."""
    t0 = time.perf_counter()
    rep = VerifyReport()
    try:
        _verify(Path(path), get_group(backend), rep, progress)
    except (EncodingError, OSError, ParameterError) as e:
        rep.failures.append(f"bundle unreadable: {e}")
    rep.seconds = time.perf_counter() - t0
    return rep


def _read(path: Path, name: str, m: dict[str, Any], group: Group, rep: VerifyReport) -> bytes:
    data = (path / name).read_bytes()
    want = m["files"].get(name)
    if want is None:
        rep.failures.append(f"{name}: not listed in the manifest's file digests")
    elif group.keccak256(data).hex() != want:
        rep.failures.append(f"{name}: keccak256 differs from the manifest's")
    return data


def _verify(path: Path, group: Group, rep: VerifyReport, progress: Progress) -> None:
    m = _manifest(path)
    kk = group.keccak256
    n = m["n"]
    accounts = _read_accounts(_read(path, m["accounts_file"], m, group, rep), group)
    rep.accounts = len(accounts)
    if len(accounts) != m["accounts"]:
        rep.failures.append(f"accounts: {len(accounts)} leaves, the manifest says {m['accounts']}")
    try:
        tree = MerkleTree.of_accounts(kk, [(a, c.to_bytes()) for a, c in accounts])
    except ParameterError as e:
        rep.failures.append(f"accounts: {e}")
        return
    root = bytes.fromhex(m["merkle_root"])
    if tree.root != root:
        rep.failures.append("merkle root: recomputed from the account leaves, differs from the manifest's")
    snaps: list[EpochSnapshot] = []
    for s in m["scenario_sets"]:
        snap = EpochSnapshot.from_bytes(_read(path, s["snapshot"], m, group, rep))
        if snap.digest(group).hex() != s["snapshot_digest"]:
            rep.failures.append(f"snapshot {s['name']!r}: digest differs from the manifest's")
        if snap.scenario_set != s["name"] or snap.epoch != m["epoch"]:
            rep.failures.append(
                f"snapshot {s['name']!r}: scenario set name or epoch differs from the manifest's"
            )
        snaps.append(snap)
    try:
        _check_sets(snaps)
    except ParameterError as e:
        rep.failures.append(f"snapshots: {e}")
        return
    J = snaps[0].n_assets
    if m["assets"] != J:
        rep.failures.append(f"manifest: {m['assets']} assets, the snapshot has {J}")
        return
    gens = generators(group)
    for snap, s in zip(snaps, m["scenario_sets"], strict=True):
        proofs = _read_proofs(_read(path, s["proofs"], m, group, rep))
        if len(proofs) != len(accounts):
            rep.failures.append(f"proofs {s['name']!r}: {len(proofs)} proofs for {len(accounts)} accounts")
            continue
        digest = snap.digest(group)
        tick = progress(f"verify {s['name']}", len(accounts))
        shortfalls: list[Any] = []
        batch: list[tuple[str, MsmCheck | None]] = []
        for (aid, com), raw in zip(accounts, proofs, strict=True):
            check, point = _account_check(group, snap, digest, aid, com, raw, n)
            batch.append((aid, check))
            if point is not None:
                shortfalls.append(point)
            if len(batch) == VERIFY_BATCH:
                _flush(group, gens, batch, s["name"], rep)
                tick(len(batch))
                batch = []
        _flush(group, gens, batch, s["name"], rep)
        tick(len(batch))
        rep.proofs += len(proofs)
        if len(shortfalls) != len(accounts):
            continue  # already reported per account
        total = group.identity()
        for p in shortfalls:
            total = group.add(total, p)
        fund = CoverProof.from_bytes(_read(path, s["fund_proof"], m, group, rep), group)
        ctx = context_digest(group, tree.root, digest)
        ch = cover_check(group, FUND_LABEL, ctx, [m["insurance_fund"]], [total], fund, n, _random_weight())
        if ch is None or not evaluate_checks(group, gens, [(1, ch)]):
            rep.failures.append(
                f"insurance fund {s['name']!r}: the proof that the fund covers the summed "
                "shortfalls is invalid"
            )
    liab = [_sum_points(group, (c.balances[j] for _, c in accounts)) for j in range(J)]
    stated = j_hexes(m, "liabilities", 32)
    for j, (p, q) in enumerate(zip(liab, stated, strict=True)):
        if group.encode_compressed(p) != q:
            rep.failures.append(
                f"liabilities asset {j}: the manifest's commitment is not the sum over all accounts"
            )
    res = CoverProof.from_bytes(_read(path, m["reserves_proof"], m, group, rep), group)
    ctx = context_digest(group, tree.root, snaps[0].digest(group))
    ch = cover_check(group, RESERVES_LABEL, ctx, list(m["reserves"]), liab, res, n, _random_weight())
    if ch is None or not evaluate_checks(group, gens, [(1, ch)]):
        rep.failures.append("reserves: the proof that reserves cover liabilities (every asset) is invalid")


def _account_check(
    group: Group, snap: EpochSnapshot, digest: bytes, aid: str, com: AccountCommitment, raw: bytes, n: int
) -> tuple[MsmCheck | None, Any]:
    try:
        proof = SolvencyProof.from_bytes(raw, group)
        st = snap.statement(com, aid, n=n, digest=digest)
    except (EncodingError, ParameterError):
        return None, None
    check = solvency_check(group, st, com, proof, _random_weight())
    if check is None:
        return None, None
    return check, group.decode_compressed(proof.aux[-1])


def _flush(
    group: Group, gens: Any, batch: Sequence[tuple[str, MsmCheck | None]], set_name: str, rep: VerifyReport
) -> None:
    if not batch:
        return
    good = [(_random_weight(), c) for _, c in batch if c is not None]
    if len(good) == len(batch) and evaluate_checks(group, gens, good):
        return
    for aid, c in batch:
        if c is None or not evaluate_checks(group, gens, [(1, c)]):
            rep.failures.append(f"account {aid!r} ({set_name}): solvency proof invalid")


# ------------------------------------------------------------------ receipts


def verify_receipt(
    bundle: str | Path,
    account_id: str,
    receipt: str | Path,
    *,
    backend: str = "native",
) -> list[str]:
    """What an account holder checks: the receipt is for this account, epoch and root; its
    opening opens its commitment; and the leaf of (account id, commitment) is in the
    bundle's Merkle root at the stated position. Returns the failures (empty when all
    holds)."""
    group = get_group(backend)
    kk = group.keccak256
    out: list[str] = []
    try:
        m = _manifest(Path(bundle))
        obj = json.loads(Path(receipt).read_text(encoding="utf-8"))
        keys = ("account_id", "epoch", "merkle_root", "commitment", "opening", "inclusion")
        o = json_object(obj, "zkmargin.AccountReceipt", BUNDLE_VERSION, keys)
        com = AccountCommitment.from_json(o["commitment"], group)
        op = AccountOpening.from_json(o["opening"])
        inc = InclusionProof.from_json(o["inclusion"])
        rid = j_str(o, "account_id")
    except (EncodingError, OSError, ValueError) as e:
        return [f"receipt or manifest unreadable: {e}"]
    if rid != account_id:
        out.append(f"the receipt is for account {rid!r}, not {account_id!r}")
    if o["epoch"] != m["epoch"] or o["merkle_root"] != m["merkle_root"]:
        out.append("the receipt is for another epoch or Merkle root than the bundle's")
    if not _opens(group, com, op):
        out.append("the opening does not open the commitment")
    try:
        root = inc.root(kk, leaf_hash(kk, account_id, com.to_bytes()))
    except EncodingError as e:
        out.append(f"inclusion path malformed: {e}")
    else:
        if root != bytes.fromhex(m["merkle_root"]):
            out.append("inclusion path does not lead from this account's leaf to the bundle's Merkle root")
    if inc.count != m["accounts"]:
        out.append("inclusion path is for a tree of another size")
    return out


def _opens(group: Group, com: AccountCommitment, op: AccountOpening) -> bool:
    from ..proof._field import R

    gens = generators(group)
    GH = group.vec([gens.G, gens.H])
    if len(op.quantities) != len(com.positions) or len(op.balances) != len(com.balances):
        return False
    Qs, Bs = com.points(group)
    pairs = [
        *zip(Qs, op.quantities, op.position_blindings, strict=True),
        *zip(Bs, op.balances, op.balance_blindings, strict=True),
    ]
    return all(group.eq(p, group.msm(GH, [v % R, r % R])) for p, v, r in pairs)
