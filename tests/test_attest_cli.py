"""The attestation CLI on a CI-sized synthetic exchange: snapshot, audit, attest, verify,
verify-inclusion, exit codes and --help (issue 12, item 5)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from zkmargin.cli import main
from zkmargin.proof import get_group
from zkmargin.proof.merkle import id_digest

ACCOUNTS = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    assert main(["snapshot", "--synthetic", str(ACCOUNTS), "--seed", "25", "--out", str(root / "in")]) == 0
    i = root / "in"
    fund = (i / "fund.txt").read_text().strip()
    args = [
        "attest",
        "--snapshot",
        str(i / "snapshot-base.json"),
        "--snapshot",
        str(i / "snapshot-stress.json"),
    ]
    args += ["--positions", str(i / "positions.csv"), "--balances", str(i / "balances.csv")]
    args += ["--reserves", str(i / "reserves.csv"), "--fund", fund, "--out", str(root / "bundle"), "--quiet"]
    assert main(args) == 0
    return root


def test_attest_and_verify(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["verify", str(run / "bundle"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {ACCOUNTS} accounts, {2 * ACCOUNTS} solvency proofs")
    manifest = json.loads((run / "bundle" / "manifest.json").read_text())
    assert manifest["accounts"] == ACCOUNTS
    assert [s["name"] for s in manifest["scenario_sets"]] == ["base", "stress"]
    assert len(list((run / "bundle.private").iterdir())) == ACCOUNTS


def test_verify_inclusion(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (run / "in" / "balances.csv").open() as f:
        ids = [row["account"] for row in csv.DictReader(f)]
    kk = get_group("native").keccak256
    receipt = run / "bundle.private" / f"{id_digest(kk, ids[0]).hex()}.json"
    bundle = str(run / "bundle")
    assert main(["verify-inclusion", bundle, "--account", ids[0], "--opening", str(receipt)]) == 0
    shown = capsys.readouterr().out
    # the holder sees their own positions and balances, as in the book the exchange read
    with (run / "in" / "positions.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["account"] == ids[0]]
    assert rows and all(f"  {r['instrument']}: {float(r['quantity']):g}" in shown for r in rows)
    assert "committed balances:" in shown and "  USDC: " in shown
    capsys.readouterr()
    assert main(["verify-inclusion", bundle, "--account", "someone-else", "--opening", str(receipt)]) == 1
    assert "receipt is for account" in capsys.readouterr().err


def test_verify_fails_loudly(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    for f in (run / "bundle").iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    raw = bytearray((bundle / "fund-stress.bin").read_bytes())
    raw[-3] ^= 4
    (bundle / "fund-stress.bin").write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["verify", str(bundle), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "fund-stress.bin: keccak256 differs" in err


def test_audit_command(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(run / "in" / "snapshot-base.json"), "--engine", "numpy"]) == 0
    assert "OK" in capsys.readouterr().out
    obj = json.loads((run / "in" / "snapshot-base.json").read_text())
    obj["mm_factor"] = 0.4
    bad = run / "doctored.json"
    bad.write_text(json.dumps(obj))
    assert main(["audit", str(bad)]) == 1
    obj["mm_factor"] = "0.4"
    bad.write_text(json.dumps(obj))
    assert main(["audit", str(bad)]) == 2
    assert "mm_factor" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["snapshot", "audit", "attest", "verify", "verify-inclusion"])
def test_help(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([cmd, "--help"]) == 0
    assert f"usage: zkmargin {cmd}" in capsys.readouterr().out


def test_bad_input_is_a_typed_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "none.json")
    assert main(["audit", missing]) == 2
    assert "zkmargin audit:" in capsys.readouterr().err


def test_attest_resume(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zkmargin.attest import bundle

    i = run / "in"
    args = ["attest", "--snapshot", str(i / "snapshot-base.json"), "--positions", str(i / "positions.csv")]
    args += ["--balances", str(i / "balances.csv"), "--reserves", str(i / "reserves.csv")]
    args += [
        "--fund",
        (i / "fund.txt").read_text().strip(),
        "--out",
        str(tmp_path / "b"),
        "--chunk",
        "1",
        "--quiet",
    ]
    real, calls = bundle.prove_chunk, []

    def crash_after_one(job: object, snaps: object) -> object:
        if calls:
            raise KeyboardInterrupt  # the operator's ^C, or a crash, mid-run
        calls.append(1)
        return real(job, snaps)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle, "prove_chunk", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    monkeypatch.setattr(bundle, "prove_chunk", real)
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed: the proofs of 1 account(s) came from the interrupted run's journal" in out
    assert main(["verify", str(tmp_path / "b"), "--quiet"]) == 0
