"""The ``zkmargin`` command line (docs/cli.md).

Every command is registered on the argparse sub-parsers by a small ``add_*`` (or
``register``) function listed in :data:`COMMANDS`; a new topic adds its own function there
(one line). The commands over files live in :mod:`zkmargin.commands`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import _progress
from .attest.cli import register as add_attestation
from .commands import (
    Subparsers,
    add_backtest,
    add_cascade,
    add_liquidations,
    add_margin,
    add_report,
    add_stress,
    add_var,
)
from .errors import ConvergenceWarning, ZkMarginError
from .results import MODELS

if TYPE_CHECKING:  # the commands that margin import the compiled engine when they run
    from .engine import MarginEngine
    from .synthetic import Exchange

T = TypeVar("T")


def _timed(timings: list[tuple[str, float]], label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    out = fn()
    timings.append((label, time.perf_counter() - start))
    return out


def _usd(x: float) -> str:
    return f"{x / 1e6:,.2f}M"


def _margin_section(ex: Exchange, threads: int, top: int, timings: list[tuple[str, float]]) -> MarginEngine:
    from .engine import MarginEngine

    eng = _timed(
        timings,
        "build engine (Deribit 35-scenario table)",
        lambda: MarginEngine(ex.instruments, threads=threads),
    )
    _timed(timings, "risk arrays (instruments x scenarios)", lambda: eng.risk_arrays(ex.market))
    results = {
        model: _timed(
            timings, f"{model} margin, all accounts", partial(eng.compute, ex.accounts, ex.market, model)
        )
        for model in MODELS
    }
    pm = results["portfolio"]
    print(f"\nCapital required across {len(ex.accounts):,} accounts (USD)")
    print(f"  {'model':<10} {'initial':>14} {'maintenance':>14} {'liquidatable':>13} {'vs standard':>12}")
    std_im = float(results["standard"].initial_margin.sum())
    for model, res in results.items():
        im = float(res.initial_margin.sum())
        print(
            f"  {model:<10} {_usd(im):>14} {_usd(float(res.maintenance_margin.sum())):>14} "
            f"{int(res.liquidatable.sum()):>13,} {im / std_im:>11.1%}"
        )
    print(f"  total equity {_usd(float(pm.equity.sum()))}")
    healthy = np.flatnonzero(~pm.liquidatable)
    order = healthy[np.argsort(-pm.margin_ratio[healthy], kind="stable")[:top]]
    print(
        f"\nAccounts closest to liquidation ({int(pm.liquidatable.sum()):,} already below maintenance; "
        "these are the solvent ones with the highest MM / equity)"
    )
    print(f"  {'account':>8} {'equity':>14} {'maint.':>14} {'ratio':>8} {'worst scen.':>11} {'positions':>9}")
    counts = np.diff(ex.accounts.offsets)
    for a in order:
        print(
            f"  {a:>8} {pm.equity[a]:>14,.0f} {pm.maintenance_margin[a]:>14,.0f} "
            f"{pm.margin_ratio[a]:>8.3f} {pm.worst_scenario[a]:>11} {counts[a]:>9}"
        )
    return eng


def _proof_section(
    eng: MarginEngine, ex: Exchange, n: int, mode: str, timings: list[tuple[str, float]]
) -> None:
    from .proof.demo import run_sample

    report = _timed(
        timings,
        f"commit + prove + verify {n} accounts ({mode})",
        lambda: run_sample(eng, ex.accounts, ex.market, n, mode=mode),
    )
    print()
    for line in report.lines():
        print(line)


def _demo(args: argparse.Namespace) -> int:
    if args.accounts < 1:
        raise SystemExit("zkmargin demo: error: --accounts must be >= 1")
    from .engine import default_threads
    from .synthetic import generate_exchange

    threads = args.threads if args.threads is not None else default_threads()
    timings: list[tuple[str, float]] = []
    ex = _timed(timings, "generate sample exchange", lambda: generate_exchange(args.accounts, seed=args.seed))
    print(
        f"zkmargin demo: {len(ex.instruments)} instruments on {ex.instruments.n_underlyings} underlyings, "
        f"{len(ex.accounts):,} accounts, {ex.accounts.n_rows:,} positions, {threads} threads"
    )
    eng = _margin_section(ex, threads, args.top, timings)
    if args.proofs > 0:
        _proof_section(eng, ex, args.proofs, args.proof_mode, timings)
    print("\nTimings")
    for label, seconds in timings:
        print(f"  {label:<48} {seconds * 1e3:>10.1f} ms")
    return 0


def add_demo(sub: Subparsers) -> None:
    """``zkmargin demo``: margin a generated exchange and prove solvency for a sample."""
    p = sub.add_parser(
        "demo",
        help="margin a generated exchange and prove solvency for a sample of accounts",
        description="Margins a generated exchange book under every model and proves solvency "
        "for a sample of its accounts.",
    )
    p.add_argument("--accounts", type=int, default=100_000, help="accounts to generate (default 100,000)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: every core)")
    p.add_argument("--top", type=int, default=10, help="accounts to list closest to liquidation")
    p.add_argument("--proofs", type=int, default=4, help="accounts to prove solvent (0 to skip)")
    p.add_argument(
        "--proof-mode", choices=("subset", "full"), default="subset", help="solvency proof hiding mode"
    )
    p.set_defaults(run=_demo)


#: One registration function per command; a new topic adds its own here.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_demo,
    add_margin,
    add_stress,
    add_var,
    add_backtest,
    add_liquidations,
    add_cascade,
    add_report,
    add_attestation,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``zkmargin`` parser with every command of :data:`COMMANDS`."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="zkmargin",
        description="Margin engine for crypto derivatives with zero-knowledge solvency proofs. "
        "File formats: docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv for debug)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zkmargin``; returns the exit status (2 for bad input, 3 for a cut-short cascade)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version or a usage error, already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="zkmargin: %(levelname)s: %(message)s", stream=sys.stderr, force=True
    )
    shown = _progress.ENABLED
    _progress.ENABLED = not args.no_progress
    run: Callable[[argparse.Namespace], int] = args.run
    with warnings.catch_warnings():
        # A cut-short cascade is reported on stderr however the caller's filters are set.
        warnings.simplefilter("always", ConvergenceWarning)
        logging.captureWarnings(True)
        try:
            return run(args)
        except (ZkMarginError, OSError) as exc:
            print(f"zkmargin {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except ImportError as exc:
            print(
                f"zkmargin {args.command}: error: {exc} (pip install 'zkmargin[cli,report]')", file=sys.stderr
            )
            return 2
        finally:
            logging.captureWarnings(False)
            _progress.ENABLED = shown


if __name__ == "__main__":
    raise SystemExit(main())
