"""The whole public API under generated adversarial input (tests/fuzz_api.py).

The fuzzer runs in a subprocess, so an abort, a segfault or a hang in the native core fails
this test (naming the case that caused it) instead of killing the test runner. Seed and
budget: ``ZKMARGIN_FUZZ_SEED`` (default fixed, so CI is reproducible) and
``ZKMARGIN_FUZZ_SECONDS`` (default 25). Every failure prints the command that replays it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).with_name("fuzz_api.py")
SEED = int(os.environ.get("ZKMARGIN_FUZZ_SEED", "20261201"))
SECONDS = float(os.environ.get("ZKMARGIN_FUZZ_SECONDS", "25"))
#: Past the budget, the slowest single case (a proof, a liquidation scan) may still run.
GRACE = 60.0


def _run(*args: str, timeout: float) -> tuple[int | None, list[dict], str]:
    """(exit code or None on timeout, the JSON lines printed, stderr) of one driver run."""
    env = {**os.environ, "ZKMARGIN_THREADS": "2"}
    try:
        proc = subprocess.run(
            [sys.executable, str(DRIVER), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        code: int | None = proc.returncode
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return code, lines, err


def _last_case(stderr: str) -> str:
    started = [x for x in stderr.splitlines() if x.startswith("case ")]
    return started[-1] if started else "(none started)"


def test_public_api_survives_adversarial_input() -> None:
    code, lines, err = _run("--seed", str(SEED), "--seconds", str(SECONDS), timeout=SECONDS + GRACE)
    failures = [x["failure"] for x in lines if "failure" in x]
    summary = next((x for x in lines if "cases" in x), None)
    replay = f"python tests/fuzz_api.py --seed {SEED} --case N -v"
    if code is None or (summary is None and not failures):
        last = _last_case(err)
        raise AssertionError(
            f"fuzzer (seed {SEED}) {'timed out' if code is None else f'died with exit code {code}'} "
            f"during {last} (replay: {replay.replace('N', last.split()[-1])}); stderr tail:\n"
            + "\n".join(err.splitlines()[-15:])
        )
    report = "\n".join(
        f"- case {f['case']} [{f['target']}] {f['verdict']}: {f['detail']}\n"
        f"  inputs: {'; '.join(f['mutations']) or 'valid'}\n  replay: {f['replay']}"
        for f in failures[:30]
    )
    assert not failures, f"seed {SEED}: {len(failures)} failing cases (first 30):\n{report}"
    assert code == 0
    assert summary is not None
    # the budget bought a real run over every target, not a handful of cases
    assert summary["cases"] >= 200, summary
    assert set(summary["per_target"]) == {t for t in summary["targets"]}, summary
    print(f"fuzz seed {SEED}: {summary['cases']} cases in {summary['seconds']} s, {summary['counts']}")


def test_a_failure_is_reported_with_its_replay() -> None:
    """The harness can fail: a deliberately broken check must come back as a failure
    naming the case and its replay command (``--self-test`` plants one)."""
    code, lines, _ = _run("--seed", "1", "--case", "0", "--self-test", timeout=120)
    failures = [x["failure"] for x in lines if "failure" in x]
    assert code == 1
    assert len(failures) == 1
    assert failures[0]["verdict"] == "untyped exception"
    assert "--seed 1 --case 0" in failures[0]["replay"]
