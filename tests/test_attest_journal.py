"""Resuming an interrupted attestation from its journal (zkmargin.attest.journal): only
the unfinished jobs are proven again, the bundle verifies, entries of another run are
never used, and a damaged entry is a typed error naming its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.attest_fixtures import BASE, BOOK, FUND, RESERVES, snapshot
from zkmargin.attest import attest, verify_bundle
from zkmargin.attest import bundle as B
from zkmargin.attest.journal import JOURNAL_DIR
from zkmargin.errors import EncodingError, ParameterError


class Stop(Exception):
    pass


def _interrupted(tmp_path: Path, after: int = 1) -> Path:
    """Attest BOOK in chunks of 2 accounts, stopping after ``after`` finished chunks."""
    seen = [0]

    def progress(desc: str, total: int) -> Any:
        def tick(k: int) -> None:
            seen[0] += 1
            if seen[0] >= after:
                raise Stop

        return tick

    with pytest.raises(Stop):
        attest([BASE], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=2, progress=progress)
    return tmp_path / "p" / JOURNAL_DIR


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = B.prove_chunk

    def spy(job: Any, snapshots: Any) -> Any:
        calls.append(len(job.ids))
        return real(job, snapshots)

    monkeypatch.setattr(B, "prove_chunk", spy)
    return calls


def test_resume_proves_only_the_unfinished_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = _interrupted(tmp_path)
    assert len(list(journal.glob("*.json"))) == 1
    calls = _counting(monkeypatch)
    rep = attest([BASE], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=2, resume=True)
    assert calls == [2] and rep.resumed == 2 and rep.accounts == 4
    assert verify_bundle(tmp_path / "b").ok
    assert not journal.exists()  # removed once the bundle is written


def test_entries_of_another_run_are_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupted(tmp_path)
    calls = _counting(monkeypatch)
    other = snapshot(epoch=BASE.epoch + 1)  # another snapshot digest: another key
    rep = attest([other], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=2, resume=True)
    assert calls == [2, 2] and rep.resumed == 0
    # a run without resume proves everything even where an entry matches
    _interrupted(tmp_path / "again")
    calls.clear()
    rep = attest([BASE], BOOK, RESERVES, FUND, tmp_path / "again" / "b", tmp_path / "again" / "p", chunk=2)
    assert calls == [2, 2] and rep.resumed == 0
    assert verify_bundle(tmp_path / "again" / "b").ok


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e.update(version=True),
        lambda e: e.update(key="00" * 32),
        lambda e: e["accounts"].pop(),
        lambda e: e["accounts"][0].update(account_id="mallory"),
        lambda e: e["accounts"][0]["shortfalls"][0].update(value=1.0),
        lambda e: e["accounts"][0]["shortfalls"][0].update(value=-1),
        lambda e: e["accounts"][0].update(proofs=[]),
        lambda e: e["accounts"][0].update(extra=1),
        lambda e: e["accounts"][0]["opening"].update(balances="1"),
    ],
)
def test_a_damaged_entry_is_an_encoding_error(tmp_path: Path, damage: Any) -> None:
    journal = _interrupted(tmp_path)
    (entry,) = journal.glob("*.json")
    obj = json.loads(entry.read_text())
    damage(obj)
    entry.write_text(json.dumps(obj))
    with pytest.raises(EncodingError, match="attestation journal"):
        attest([BASE], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=2, resume=True)


def test_resume_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="resume"):
        attest([BASE], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", resume="yes")  # type: ignore[arg-type]


def test_truncated_entry_is_an_encoding_error(tmp_path: Path) -> None:
    journal = _interrupted(tmp_path)
    (entry,) = journal.glob("*.json")
    entry.write_text(entry.read_text()[:100])
    with pytest.raises(EncodingError, match=str(entry)):
        attest([BASE], BOOK, RESERVES, FUND, tmp_path / "b", tmp_path / "p", chunk=2, resume=True)
