"""Finished proving jobs kept on disk, so that an interrupted attestation resumes where it
stopped instead of proving every account again (``attest(resume=True)``, ``zkmargin attest
--resume``). A whole book takes hours to prove; a crash, a lost worker or a reboot should
cost one chunk, not the run.

Each finished job is one file ``journal/<key>.json`` in the *private* directory (it holds
the accounts' openings, which are secret), written atomically (a temporary file renamed
into place), so a crash leaves either the whole entry or none. ``<key>`` is a keccak256
digest of everything the job's results depend on: the journal format, the backend, the
range-proof bits, every scenario set's snapshot digest, the account ids and their book
rows. A resumed run with another book, snapshot, ``n`` or chunk size finds no matching
entries and proves afresh; an entry that does not decode strictly is an
:class:`~zkmargin.errors.EncodingError` naming its file, never silently re-proven or used.
The journal is removed once the bundle is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EncodingError
from ..proof._codec import j_hex, j_hexes, j_int, j_str, json_object, u32
from ..proof._field import R
from ..proof.commitments import AccountOpening
from ..proof.solvency import Shortfall
from .work import AccountResult, ProveJob

__all__ = ["JOURNAL_DIR", "Journal"]

JOURNAL_DIR = "journal"
_KIND = "zkmargin.AttestJournalEntry"
_VERSION = 1
_DOMAIN = b"zkmargin/attest-journal/v1"


def _rows_bytes(job: ProveJob) -> bytes:
    acc = job.accounts
    parts = [
        np.ascontiguousarray(acc.offsets, dtype="<i8"),
        np.ascontiguousarray(acc.instrument, dtype="<i8"),
        np.ascontiguousarray(acc.quantity, dtype="<f8"),
        np.ascontiguousarray(acc.balances, dtype="<f8"),
    ]
    return b"".join(u32(p.size) + p.tobytes() for p in parts)


class Journal:
    """The journal of one attestation: ``directory`` (created on the first entry),
    ``digests`` the scenario sets' snapshot digests in order, ``keccak`` the backend's
    hash, ``backend`` its name."""

    def __init__(
        self, directory: Path, digests: Sequence[bytes], keccak: Callable[[bytes], bytes], backend: str
    ) -> None:
        self.directory = directory
        self.digests = tuple(digests)
        self._kk = keccak
        self._backend = backend

    def key(self, job: ProveJob) -> str:
        ids = b"".join(u32(len(a.encode())) + a.encode() for a in job.ids)
        data = b"".join(
            [
                _DOMAIN,
                u32(len(self._backend)),
                self._backend.encode(),
                u32(job.n),
                u32(len(self.digests)),
                *self.digests,
                u32(len(job.ids)),
                ids,
                _rows_bytes(job),
            ]
        )
        return self._kk(data).hex()

    def save(self, job: ProveJob, results: Sequence[AccountResult]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.key(job)
        entry = {
            "type": _KIND,
            "version": _VERSION,
            "key": key,
            "accounts": [_result_json(r) for r in results],
        }
        path = self.directory / f"{key}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)

    def load(self, job: ProveJob) -> list[AccountResult] | None:
        """The job's results if a finished entry exists, else ``None``."""
        key = self.key(job)
        path = self.directory / f"{key}.json"
        if not path.exists():
            return None
        try:
            obj = json.loads(path.read_text())
            o = json_object(obj, _KIND, _VERSION, ["key", "accounts"])
            if j_hex(o, "key", 32).hex() != key:
                raise EncodingError("journal entry: key does not match its job", "key")
            rows = o["accounts"]
            if type(rows) is not list or len(rows) != len(job.ids):
                raise EncodingError(f"journal entry: need a list of {len(job.ids)} accounts", "accounts")
            out = [_result_from_json(r, job.n, len(self.digests)) for r in rows]
            if tuple(r.account_id for r in out) != job.ids:
                raise EncodingError("journal entry: account ids differ from its job", "accounts")
        except (EncodingError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise EncodingError(f"attestation journal {path}: {e}", "journal") from None
        return out

    def remove(self) -> None:
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if p.suffix in (".json", ".tmp"):
                    p.unlink()
            self.directory.rmdir()


def _result_json(r: AccountResult) -> dict[str, Any]:
    return {
        "account_id": r.account_id,
        "commitment": r.commitment.hex(),
        "opening": r.opening.to_json(),
        "proofs": [p.hex() for p in r.proofs],
        "shortfalls": [
            {"value": s.value, "blinding": s.blinding, "point": s.point.hex()} for s in r.shortfalls
        ],
    }


def _exact(obj: Any, keys: set[str], what: str) -> dict[str, Any]:
    if type(obj) is not dict or set(obj) != keys:
        raise EncodingError(f"journal entry: {what} must be an object with keys {sorted(keys)}", what)
    out: dict[str, Any] = obj
    return out


def _result_from_json(obj: Any, n: int, sets: int) -> AccountResult:
    o = _exact(obj, {"account_id", "commitment", "opening", "proofs", "shortfalls"}, "account")
    proofs = j_hexes(o, "proofs")
    shorts = o["shortfalls"]
    if len(proofs) != sets or type(shorts) is not list or len(shorts) != sets:
        raise EncodingError(f"journal entry: need {sets} proofs and shortfalls per account", "proofs")
    fall = []
    for s in shorts:
        d = _exact(s, {"value", "blinding", "point"}, "shortfall")
        fall.append(
            Shortfall(
                j_int(d, "value", 0, (1 << n) - 1), j_int(d, "blinding", 0, R - 1), j_hex(d, "point", 32)
            )
        )
    return AccountResult(
        j_str(o, "account_id"),
        j_hex(o, "commitment"),
        AccountOpening.from_json(o["opening"]),
        proofs,
        tuple(fall),
    )
