"""Seeded, time-bounded fuzzing of zkmargin's whole public API.

Run by tests/test_fuzz.py in a subprocess (so an abort or a segfault fails that test, not
the test runner), or by hand::

    python tests/fuzz_api.py --seed 7 --seconds 30        # a run
    python tests/fuzz_api.py --seed 7 --case 1234 -v      # replay one case

Every case draws valid inputs for one public entry point and then, most of the time,
breaks one or two of them: an adversarial number in one element (``5e-324``, ``1e300``,
``1.7e308``, ``-1e300``, NaN, inf, 0, negatives, huge ints), the wrong Python type
(``None``, bools, strings, floats where ints are expected), the wrong dtype, length or
layout, or an empty array. The case passes when the call either returns a finite result of
the right shape (``margin_ratio``'s documented ``+inf`` at non-positive equity aside) that
agrees with the pure-Python reference where that is cheap to check, or raises an exception
of the :mod:`zkmargin.errors` hierarchy; and when no argument it was given has changed.

Case ``k`` of seed ``s`` is drawn from ``numpy.random.default_rng([s, k])`` alone, so it
replays with ``--case k`` whatever ran before it. The run prints one JSON line: the seed,
how many cases ran, for how long, and every failure with its replay command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
import traceback
import warnings
from typing import Any

import numpy as np

from fuzzing.base import Target, same, snapshot
from fuzzing.dynamic_targets import Extras, Joint, Kupiec, Liquidation, Risk, Volatility
from fuzzing.margin_targets import Black76, Curves, Engine, ImpliedVol, RiskArrays, Scenarios, WhatIf
from fuzzing.mutate import Args, Finding, mutate_json, mutate_value
from fuzzing.proof_targets import Commit, RangeProofs, Solvency
from zkmargin import (
    errors,
)

TARGETS: tuple[Target, ...] = (
    Black76(),
    ImpliedVol(),
    Engine(),
    RiskArrays(),
    Scenarios(),
    WhatIf(),
    Curves(),
    Volatility(),
    Joint(),
    Risk(),
    Liquidation(),
    Kupiec(),
    Extras(),
    Commit(),
    RangeProofs(),
    Solvency(),
)
_WEIGHTS = np.array([t.weight for t in TARGETS]) / sum(t.weight for t in TARGETS)


# ------------------------------------------------------------------------- driver
@dataclasses.dataclass
class Outcome:
    case: int
    target: str
    mutations: list[str]
    verdict: str  # "ok", "typed error", or a failure
    detail: str = ""


def describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return (
            f"np.array({v.tolist()!r}, dtype={v.dtype})" if v.size <= 12 else f"<array {v.shape} {v.dtype}>"
        )
    text = repr(v)
    return text if len(text) <= 200 else text[:200] + "..."


def draw(seed: int, case: int, avoid: tuple[str, ...] = ()) -> tuple[Target, Args, list[str]]:
    rng = np.random.default_rng([seed, case])
    target = TARGETS[int(rng.choice(len(TARGETS), p=_WEIGHTS))]
    args = target.base(rng)
    mutations: list[str] = []
    if rng.random() < 0.85:
        keys = list(target.mutable or args)
        keys = [k for k in keys if k != "fn" and k not in avoid]
        for key in rng.choice(keys, size=min(len(keys), int(rng.integers(1, 3))), replace=False).tolist():
            value = args[key]
            if key.endswith("_json"):
                new, how = mutate_json(rng, value)
            else:
                new, how = mutate_value(rng, value)
            args[key] = new
            mutations.append(f"{key}: {how} -> {describe(new)}")
    return target, args, mutations


def _planted(a: Args) -> Any:
    raise ValueError("planted by --self-test")


def run_case(seed: int, case: int, avoid: tuple[str, ...] = (), self_test: bool = False) -> Outcome:
    target, args, mutations = draw(seed, case, avoid)
    before = {k: snapshot(v) for k, v in args.items()}
    out = Outcome(case, target.name, mutations, "ok")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", errors.ConvergenceWarning)
            with np.errstate(all="ignore"):
                result = (_planted if self_test else target.call)(args)
                target.check(args, result, bool(mutations))
    except Finding as exc:
        out.verdict, out.detail = "wrong result", str(exc)
    except errors.ZkMarginError as exc:
        out.verdict, out.detail = "typed error", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # the contract: nothing else escapes
        out.verdict = "untyped exception"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        out.detail = f"{type(exc).__name__}: {exc} (at {where})"
    for k, v in args.items():
        if not same(v, before[k]):
            out.verdict, out.detail = (
                "mutated input",
                f"argument {k!r} changed: {describe(before[k])} -> {describe(v)}",
            )
    return out


FAILURES = ("wrong result", "untyped exception", "mutated input")


def _hang(seed: int, case: int, avoid: tuple[str, ...], limit: float) -> None:
    """The watchdog: a case still running after ``limit`` seconds is reported as a hang
    and the run ends (a call inside the native core cannot be interrupted)."""
    target, _, mutations = draw(seed, case, avoid)
    failure = {
        "case": case,
        "target": target.name,
        "mutations": mutations,
        "verdict": "hang",
        "detail": f"still running after {limit} s",
        "replay": f"python tests/fuzz_api.py --seed {seed} --case {case} -v",
    }
    print(json.dumps({"failure": failure}), flush=True)
    os._exit(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--seconds", type=float, default=25.0, help="wall-clock budget")
    p.add_argument("--max-cases", type=int, default=10**9)
    p.add_argument("--case", type=int, default=None, help="replay one case")
    p.add_argument("--case-timeout", type=float, default=20.0, help="a case running longer is a hang")
    p.add_argument("--avoid", default="", help="comma-separated argument names never to break")
    p.add_argument("--self-test", action="store_true", help="plant a plain ValueError in every call")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    avoid = tuple(x for x in a.avoid.split(",") if x)
    cases = [a.case] if a.case is not None else range(a.max_cases)
    t0 = time.perf_counter()
    failures: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    per_target: dict[str, int] = {}
    n = 0
    for k in cases:
        if a.case is None and time.perf_counter() - t0 > a.seconds:
            break
        # written before the call, so a crash or a hang names the case that caused it
        print(f"case {k}", file=sys.stderr, flush=True)
        watchdog = threading.Timer(a.case_timeout, _hang, (a.seed, k, avoid, a.case_timeout))
        watchdog.start()
        o = run_case(a.seed, k, avoid, a.self_test)
        watchdog.cancel()
        n += 1
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
        per_target[o.target] = per_target.get(o.target, 0) + 1
        if a.verbose:
            print(json.dumps(dataclasses.asdict(o)), file=sys.stderr)
        if o.verdict in FAILURES:
            failure = {
                **dataclasses.asdict(o),
                "replay": f"python tests/fuzz_api.py --seed {a.seed} --case {k} -v",
            }
            failures.append(failure)
            # one line per failure as it is found, so a later crash loses none of them
            print(json.dumps({"failure": failure}), flush=True)
    summary = {
        "seed": a.seed,
        "cases": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "counts": counts,
        "per_target": per_target,
        "targets": [t.name for t in TARGETS],
        "failed": len(failures),
    }
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
