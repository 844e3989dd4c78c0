"""The ``zkmargin`` command line (docs/cli.md).

Every command is registered on the argparse sub-parsers by a small ``add_*`` function
listed in :data:`COMMANDS`; a new topic adds its own function there (one line). Commands
over files need the ``cli`` extra (pandas, pyarrow, tqdm); ``report`` also ``report``
(matplotlib).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import _progress
from .attest.cli import register as add_attestation
from .errors import ConvergenceWarning, ZkMarginError
from .results import MODELS

if TYPE_CHECKING:  # the commands that margin import the compiled engine when they run
    from .engine import MarginEngine
    from .synthetic import Exchange

log = logging.getLogger("zkmargin")

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


Subparsers = Any  # argparse's _SubParsersAction is private


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


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs (docs/cli.md; CSV, Parquet or JSON by suffix)")
    g.add_argument("--positions", required=True, type=Path, help="table: account, instrument, quantity")
    g.add_argument("--balances", required=True, type=Path, help="table: account, then one column per asset")
    g.add_argument("--market", required=True, type=Path, help="table: field, name, value")
    g.add_argument(
        "--instruments",
        type=Path,
        default=None,
        help="table of instrument names (and contract_size), or of engine columns; "
        "default: the names in --positions",
    )
    g.add_argument(
        "--as-of", default=None, help="valuation time, ISO 8601 with zone (e.g. 2026-01-15T08:00Z)"
    )
    g.add_argument(
        "--scenarios", choices=("deribit", "span"), default="deribit", help="scenario table (default deribit)"
    )
    g.add_argument("--threads", type=int, default=None, help="worker threads (default: every core)")


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("-o", "--output", type=Path, default=None, help=f"write {what} here (.csv or .parquet)")


def _add_liquidity(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("liquidation costs (docs/margin-model.md §10.7-10.8)")
    g.add_argument("--half-spread", type=float, default=5e-4, help="half bid-ask spread, fraction (5e-4)")
    g.add_argument("--depth", type=float, default=2e6, help="market depth per instrument, USD (2e6)")
    g.add_argument(
        "--base-ratio", type=float, default=0.05, help="base margin ratio of the size premium (0.05)"
    )
    g.add_argument(
        "--penalty", type=float, default=0.02, help="liquidation penalty, fraction of notional (0.02)"
    )


class _Run:
    """Inputs loaded once per command, with the engine built on them."""

    def __init__(self, args: argparse.Namespace) -> None:
        from .engine import MarginEngine
        from .io import load_inputs
        from .scenarios import deribit_scenarios, span_scenarios

        start = time.perf_counter()
        self.inputs = load_inputs(args.positions, args.balances, args.market, args.instruments, args.as_of)
        ins, acc = self.inputs.instruments, self.inputs.accounts
        log.info(
            "loaded %d instruments, %d accounts, %d positions in %.1f ms",
            len(ins),
            len(acc),
            acc.n_rows,
            (time.perf_counter() - start) * 1e3,
        )
        n_und = max(ins.n_underlyings, 1)
        table = deribit_scenarios(n_und) if args.scenarios == "deribit" else span_scenarios(n_und)
        self.threads = args.threads
        self.engine = MarginEngine(ins, scenarios=table, threads=args.threads)

    def compute(self, model: str) -> Any:
        start = time.perf_counter()
        res = self.engine.compute(self.inputs.accounts, self.inputs.market, model)
        log.info("%s margin in %.1f ms", model, (time.perf_counter() - start) * 1e3)
        return res

    def rule(self, args: argparse.Namespace) -> Any:
        from .dynamic import LiquidityRule, instrument_notional

        n = len(self.inputs.instruments)
        notional = instrument_notional(self.engine, self.inputs.market)
        return LiquidityRule(notional, [args.half_spread] * n, [args.depth] * n, [args.base_ratio] * n)


def _write(frame: Any, path: Path | None, what: str) -> None:
    if path is None:
        return
    from .io import write_table

    write_table(frame, path)
    log.info("wrote %s to %s", what, path)
    print(f"wrote {what} ({len(frame):,} rows) to {path}")


def _margin(args: argparse.Namespace) -> int:
    import pandas as pd

    run = _Run(args)
    models = MODELS if args.model == "all" else (args.model,)
    frames = []
    header = ("model", "accounts", "equity", "initial", "maintenance", "liquidatable")
    print(f"{header[0]:<10} {header[1]:>9} {header[2]:>16} {header[3]:>16} {header[4]:>16} {header[5]:>12}")
    for model in _progress.progress(models, "margin", total=len(models)):
        res = run.compute(model)
        df = res.to_pandas()
        df.insert(0, "model", model)
        frames.append(df)
        print(
            f"{model:<10} {len(res):>9,} {res.equity.sum():>16,.2f} {res.initial_margin.sum():>16,.2f} "
            f"{res.maintenance_margin.sum():>16,.2f} {int(res.liquidatable.sum()):>12,}"
        )
    _write(pd.concat(frames), args.output, "margin results")
    return 0


def add_margin(sub: Subparsers) -> None:
    """``zkmargin margin``: equity, IM, MM and add-ons per account from files."""
    p = sub.add_parser(
        "margin",
        help="margin every account of a book read from files",
        description="Margins every account: equity, initial and maintenance margin, add-ons, worst "
        "scenario and net Greeks per underlying, one row per account (and model).",
    )
    _add_inputs(p)
    p.add_argument("--model", choices=(*MODELS, "all"), default="portfolio", help="margin model (portfolio)")
    _add_output(p, "one row per account (and model)")
    p.set_defaults(run=_margin)


def _parse_stress(text: str) -> Any:
    from .dynamic import StressScenario

    try:
        name, move, mult = text.rsplit(":", 2)
        return StressScenario(name, float(move), float(mult))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:MOVE:VOL_MULTIPLIER") from None


def _stress(args: argparse.Namespace) -> int:
    import pandas as pd

    from .dynamic import DEFAULT_STRESSES, stress_test

    run = _Run(args)
    inp = run.inputs
    stresses = tuple(args.stress) if args.stress else DEFAULT_STRESSES
    rep = stress_test(inp.instruments, inp.accounts, inp.market, inp.asset_underlying, stresses, args.threads)
    print(f"{'scenario':<28} {'underwater':>10} {'shortfall':>16}")
    for k, name in enumerate(rep.names):
        print(f"{name:<28} {int(rep.underwater[k]):>10,} {rep.shortfall[k]:>16,.2f}")
    df = pd.DataFrame(rep.equity_after, columns=rep.names, index=pd.Index(inp.accounts.ids(), name="account"))
    _write(df, args.output, "equity after each stress")
    return 0


def add_stress(sub: Subparsers) -> None:
    """``zkmargin stress``: equity of every account after named joint moves."""
    p = sub.add_parser(
        "stress",
        help="equity of every account after named stress scenarios",
        description="Applies named joint moves (price move for every underlying, vol multiplier) "
        "and reports the accounts left underwater and the total shortfall per scenario.",
    )
    _add_inputs(p)
    p.add_argument(
        "--stress",
        action="append",
        type=_parse_stress,
        metavar="NAME:MOVE:VOL_MULT",
        help="a scenario, e.g. 'crash:-0.4:2.0' (repeatable; default: the built-in four)",
    )
    _add_output(p, "equity after each scenario, one row per account")
    p.set_defaults(run=_stress)


def _var(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import dynamic
    from .io import read_prices

    run = _Run(args)
    inp = run.inputs
    und = inp.instruments.underlying_names or tuple(str(u) for u in range(inp.instruments.n_underlyings))
    if args.prices is not None:
        px = read_prices(args.prices, und)
        moves = dynamic.historical_scenarios(dynamic.log_returns(px), args.horizon)
        source = f"{moves.shape[0]:,} historical {args.horizon}-day moves from {args.prices}"
    else:
        sigma = np.full(len(und), args.sigma)
        moves = dynamic.monte_carlo_scenarios(
            sigma, np.eye(len(und)), args.horizon / 365.0, args.mc, args.seed
        )
        source = f"{args.mc:,} Monte Carlo moves (sigma {args.sigma}, seed {args.seed})"
    risk = dynamic.joint_risk_arrays(inp.instruments, inp.market, moves, args.threads)
    var, es = dynamic.var_es(risk, inp.accounts, args.confidence, args.threads)
    print(f"VaR / ES at {args.confidence:.2%} over {source}")
    print(f"  total VaR {var.sum():,.2f}   total ES {es.sum():,.2f}   accounts {len(var):,}")
    df = pd.DataFrame({"var": var, "es": es}, index=pd.Index(inp.accounts.ids(), name="account"))
    _write(df, args.output, "VaR and ES per account")
    return 0


def add_var(sub: Subparsers) -> None:
    """``zkmargin var``: per-account VaR and expected shortfall over joint scenarios."""
    p = sub.add_parser(
        "var",
        help="VaR and expected shortfall per account over historical or Monte Carlo moves",
        description="Per-account VaR and ES of the book's loss over joint moves: historical "
        "(--prices, one column per underlying) or seeded Monte Carlo.",
    )
    _add_inputs(p)
    p.add_argument("--prices", type=Path, default=None, help="price history table, one column per underlying")
    p.add_argument("--horizon", type=int, default=1, help="horizon in days (1)")
    p.add_argument("--confidence", type=float, default=0.99, help="confidence level (0.99)")
    p.add_argument("--mc", type=int, default=10_000, help="Monte Carlo scenarios without --prices (10,000)")
    p.add_argument(
        "--sigma", type=float, default=0.8, help="annual vol of every underlying for Monte Carlo (0.8)"
    )
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (0)")
    _add_output(p, "VaR and ES per account")
    p.set_defaults(run=_var)


def _liquidations(args: argparse.Namespace) -> int:
    import pandas as pd

    from .dynamic import scan_margin

    run = _Run(args)
    inp = run.inputs
    scan = scan_margin(run.engine, inp.accounts, inp.market, run.rule(args), penalty=args.penalty)
    ids = inp.accounts.ids()
    print(f"{len(scan):,} of {len(inp.accounts):,} accounts liquidatable")
    df = pd.DataFrame(
        {
            "shortfall": scan.shortfall,
            "method": scan.method_names(),
            "full": scan.full,
            "closed_notional": scan.closed_notional,
            "bad_debt": scan.bad_debt,
        },
        index=pd.Index(ids[scan.account], name="account"),
    )
    for acc, row in df.head(args.top).iterrows():
        print(
            f"  account {acc!s:<12} shortfall {row['shortfall']:>14,.2f}  {row['method']:<8} "
            f"closes {row['closed_notional']:>14,.2f} USD"
        )
    _write(df, args.output, "liquidations")
    if args.closeouts is not None:
        rows, ins, qty = scan.closed_quantities(inp.accounts)
        acc_of_row = np.searchsorted(inp.accounts.offsets, rows, side="right") - 1
        names = inp.instruments.names
        out = pd.DataFrame(
            {
                "instrument": [names[i] for i in ins] if names is not None else ins,
                "close_quantity": qty,
            },
            index=pd.Index(ids[acc_of_row], name="account"),
        )
        _write(out, args.closeouts, "close-out quantities")
    return 0


def add_liquidations(sub: Subparsers) -> None:
    """``zkmargin liquidations``: liquidatable accounts and their close-outs."""
    p = sub.add_parser(
        "liquidations",
        help="liquidatable accounts, largest shortfall first, with the positions to close",
        description="Scans the book for accounts below maintenance margin and sizes each close-out "
        "(greedy or pro rata, whichever closes less notional; docs/margin-model.md §10.8).",
    )
    _add_inputs(p)
    _add_liquidity(p)
    p.add_argument("--top", type=int, default=10, help="liquidations to print (10)")
    _add_output(p, "one row per liquidated account")
    p.add_argument(
        "--closeouts", type=Path, default=None, help="write the signed quantity to close per position"
    )
    p.set_defaults(run=_liquidations)


def _cascade_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cascade")
    g.add_argument("--underlying", default=None, help="underlying that crashes (default: the first)")
    g.add_argument("--shock", type=float, default=-0.3, help="initial relative move (-0.3)")
    g.add_argument(
        "--impact-depth", type=float, default=5e8, help="USD delta moving the price by impact (5e8)"
    )
    g.add_argument("--impact", type=float, default=1.0, help="square-root impact coefficient (1.0)")
    g.add_argument("--mode", choices=("partial", "full"), default="partial", help="close-out mode (partial)")
    g.add_argument("--max-rounds", type=int, default=50, help="round limit (50)")


def run_cascade(run: _Run, args: argparse.Namespace) -> Any:
    """The cascade of ``args`` on ``run``'s book (shared by ``cascade`` and ``report``)."""
    from .dynamic import cascade

    inp = run.inputs
    names = inp.instruments.underlying_names or ()
    u = 0 if args.underlying is None else (names.index(args.underlying) if args.underlying in names else -1)
    if u < 0:
        raise SystemExit(f"zkmargin: error: --underlying {args.underlying!r} is not one of {list(names)}")
    return cascade(
        inp.instruments,
        inp.accounts,
        inp.market,
        inp.asset_underlying,
        run.rule(args),
        underlying=u,
        shock=args.shock,
        depth=args.impact_depth,
        impact=args.impact,
        mode=args.mode,
        penalty=args.penalty,
        max_rounds=args.max_rounds,
        threads=args.threads,
    )


def _cascade(args: argparse.Namespace) -> int:
    res = run_cascade(_Run(args), args)
    print(f"cascade ({res.mode}): {res.rounds} rounds, {'converged' if res.converged else 'NOT converged'}")
    for k, (m, n) in enumerate(zip(res.moves, res.liquidations, strict=True)):
        print(f"  round {k + 1:>3}: move {m:+.2%}, {n:,} accounts liquidated")
    print(f"  liquidated notional {res.liquidated_notional:,.2f}, bad debt {res.bad_debt:,.2f}")
    return 0 if res.converged else 3


def add_cascade(sub: Subparsers) -> None:
    """``zkmargin cascade``: liquidation cascade after a crash of one underlying."""
    p = sub.add_parser(
        "cascade",
        help="liquidation cascade after a crash (exit status 3 if it did not converge)",
        description="Crashes one underlying, liquidates, moves the price by the impact of the "
        "forced selling and repeats until nobody is liquidated or --max-rounds.",
    )
    _add_inputs(p)
    _add_liquidity(p)
    _cascade_args(p)
    p.set_defaults(run=_cascade)


def _report(args: argparse.Namespace) -> int:
    from .report import build_report

    run = _Run(args)
    html = build_report(run, args)
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote report ({len(html) / 1024:,.0f} KiB) to {args.output}")
    return 0


def add_report(sub: Subparsers) -> None:
    """``zkmargin report``: a self-contained HTML report with plots."""
    p = sub.add_parser(
        "report",
        help="a self-contained HTML report with plots (needs the report extra)",
        description="Writes one HTML file with embedded plots: an account's risk profile across "
        "price and vol moves, capital by model, the distribution of distance to liquidation, "
        "stress results and a cascade path.",
    )
    _add_inputs(p)
    _add_liquidity(p)
    _cascade_args(p)
    p.add_argument("--account", default=None, help="account for the risk profile (default: highest MM)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .html file to write")
    p.set_defaults(run=_report)


#: One registration function per command; a new topic adds its own here.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_demo,
    add_margin,
    add_stress,
    add_var,
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


if __name__ == "__main__":
    raise SystemExit(main())
