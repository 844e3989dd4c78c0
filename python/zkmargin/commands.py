"""The commands over files (docs/cli.md): ``margin``, ``stress``, ``var``, ``backtest``,
``liquidations``, ``cascade`` and ``report``, each registered by its ``add_*`` function
(listed in :data:`zkmargin.cli.COMMANDS`). They need the ``cli`` extra; ``report`` also
``report``. Heavy libraries are imported inside the commands, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _progress
from .results import MODELS

log = logging.getLogger("zkmargin")

Subparsers = Any  # argparse's _SubParsersAction is private


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


def _file_command(
    sub: Subparsers, name: str, summary: str, description: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """A sub-command over the input files of docs/cli.md, run by ``run``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    _add_inputs(p)
    p.set_defaults(run=run)
    return p


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
        from .files import load_inputs
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

    def cascade(self, args: argparse.Namespace) -> Any:
        """The cascade of ``args`` on this book (shared by ``cascade`` and ``report``)."""
        from .dynamic import cascade

        inp = self.inputs
        names = inp.instruments.underlying_names or ()
        if args.underlying is not None and args.underlying not in names:
            raise SystemExit(f"zkmargin: error: --underlying {args.underlying!r} is not one of {list(names)}")
        u = 0 if args.underlying is None else names.index(args.underlying)
        return cascade(
            inp.instruments,
            inp.accounts,
            inp.market,
            inp.asset_underlying,
            self.rule(args),
            underlying=u,
            shock=args.shock,
            depth=args.impact_depth,
            impact=args.impact,
            mode=args.mode,
            penalty=args.penalty,
            max_rounds=args.max_rounds,
            threads=args.threads,
        )


def _write_accounts(columns: dict[str, Any], ids: Any, path: Path | None, what: str) -> int:
    """Write one row per account id (the index ``account``) with ``columns``; exit status 0."""
    import pandas as pd

    _write(pd.DataFrame(columns, index=pd.Index(ids, name="account")), path, what)
    return 0


def _write(frame: Any, path: Path | None, what: str) -> None:
    if path is None:
        return
    from .files import write_table

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
    p = _file_command(
        sub,
        "margin",
        "margin every account of a book read from files",
        "Margins every account: equity, initial and maintenance margin, add-ons, worst "
        "scenario and net Greeks per underlying, one row per account (and model).",
        _margin,
    )
    p.add_argument("--model", choices=(*MODELS, "all"), default="portfolio", help="margin model (portfolio)")
    _add_output(p, "one row per account (and model)")


def _parse_stress(text: str) -> Any:
    from .dynamic import StressScenario

    try:
        name, move, mult = text.rsplit(":", 2)
        return StressScenario(name, float(move), float(mult))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:MOVE:VOL_MULTIPLIER") from None


def _stress(args: argparse.Namespace) -> int:

    from .dynamic import DEFAULT_STRESSES, stress_test

    run = _Run(args)
    inp = run.inputs
    stresses = tuple(args.stress) if args.stress else DEFAULT_STRESSES
    rep = stress_test(inp.instruments, inp.accounts, inp.market, inp.asset_underlying, stresses, args.threads)
    print(f"{'scenario':<28} {'underwater':>10} {'shortfall':>16}")
    for k, name in enumerate(rep.names):
        print(f"{name:<28} {int(rep.underwater[k]):>10,} {rep.shortfall[k]:>16,.2f}")
    after = dict(zip(rep.names, rep.equity_after.T, strict=True))
    return _write_accounts(after, inp.accounts.ids(), args.output, "equity after each stress")


def add_stress(sub: Subparsers) -> None:
    """``zkmargin stress``: equity of every account after named joint moves."""
    p = _file_command(
        sub,
        "stress",
        "equity of every account after named stress scenarios",
        "Applies named joint moves (price move for every underlying, vol multiplier) "
        "and reports the accounts left underwater and the total shortfall per scenario.",
        _stress,
    )
    p.add_argument(
        "--stress",
        action="append",
        type=_parse_stress,
        metavar="NAME:MOVE:VOL_MULT",
        help="a scenario, e.g. 'crash:-0.4:2.0' (repeatable; default: the built-in four)",
    )
    _add_output(p, "equity after each scenario, one row per account")


def _var(args: argparse.Namespace) -> int:

    from . import dynamic
    from .files import read_prices

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
    return _write_accounts({"var": var, "es": es}, inp.accounts.ids(), args.output, "VaR and ES per account")


def add_var(sub: Subparsers) -> None:
    """``zkmargin var``: per-account VaR and expected shortfall over joint scenarios."""
    p = _file_command(
        sub,
        "var",
        "VaR and expected shortfall per account over historical or Monte Carlo moves",
        "Per-account VaR and ES of the book's loss over joint moves: historical "
        "(--prices, one column per underlying) or seeded Monte Carlo.",
        _var,
    )
    p.add_argument("--prices", type=Path, default=None, help="price history table, one column per underlying")
    p.add_argument("--horizon", type=int, default=1, help="horizon in days (1)")
    p.add_argument("--confidence", type=float, default=0.99, help="confidence level (0.99)")
    p.add_argument("--mc", type=int, default=10_000, help="Monte Carlo scenarios without --prices (10,000)")
    p.add_argument(
        "--sigma", type=float, default=0.8, help="annual vol of every underlying for Monte Carlo (0.8)"
    )
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (0)")
    _add_output(p, "VaR and ES per account")


def _backtest(args: argparse.Namespace) -> int:
    from .dynamic import backtest
    from .files import read_prices

    run = _Run(args)
    inp = run.inputs
    und = inp.instruments.underlying_names or tuple(str(u) for u in range(inp.instruments.n_underlyings))
    px = read_prices(args.prices, und)
    out = backtest(
        inp.instruments,
        inp.accounts,
        inp.market,
        px,
        inp.asset_underlying,
        horizon=args.horizon,
        warmup=args.warmup,
        static_range=args.static_range,
        expected_rate=args.expected_rate,
        threads=args.threads,
    )
    rows = {}
    print(
        f"{'policy':<8} {'observations':>12} {'breaches':>9} {'rate':>8} {'Kupiec LR':>10} {'p':>7}  mean IM"
    )
    for name, p in out.items():
        lr, pval = p.kupiec()
        rows[name] = [p.observations, p.breaches, p.breach_rate, lr, pval, p.capital]
        counts = f"{p.observations:>12,} {p.breaches:>9,} {p.breach_rate:>8.4f}"
        print(f"{name:<8} {counts} {lr:>10.3f} {pval:>7.3f}  {p.capital:,.2f}")
    if args.output is not None:
        import pandas as pd

        cols = ["observations", "breaches", "breach_rate", "kupiec_lr", "kupiec_p", "mean_capital"]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
        frame.index.name = "policy"
        _write(frame, args.output, "backtest summary")
    return 0


def add_backtest(sub: Subparsers) -> None:
    """``zkmargin backtest``: static vs dynamic margin over a price history."""
    p = _file_command(
        sub,
        "backtest",
        "static vs dynamic portfolio margin over a price history, with Kupiec's test",
        "Replays a price history (--prices, one column per underlying, row 0 = today's index "
        "prices) and compares the static SPAN range with the anti-procyclical dynamic one "
        "(docs/margin-model.md §10.10).",
        _backtest,
    )
    p.add_argument(
        "--prices", type=Path, required=True, help="price history table, one column per underlying"
    )
    p.add_argument("--horizon", type=int, default=2, help="loss horizon in days (2)")
    p.add_argument("--warmup", type=int, default=60, help="days of history before the first test day (60)")
    p.add_argument("--static-range", type=float, default=0.16, help="scan range of the static policy (0.16)")
    p.add_argument(
        "--expected-rate", type=float, default=0.01, help="breach rate Kupiec tests against (0.01)"
    )
    _add_output(p, "one row per policy")


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
    p = _file_command(
        sub,
        "liquidations",
        "liquidatable accounts, largest shortfall first, with the positions to close",
        "Scans the book for accounts below maintenance margin and sizes each close-out "
        "(greedy or pro rata, whichever closes less notional; docs/margin-model.md §10.8).",
        _liquidations,
    )
    _add_liquidity(p)
    p.add_argument("--top", type=int, default=10, help="liquidations to print (10)")
    _add_output(p, "one row per liquidated account")
    p.add_argument(
        "--closeouts", type=Path, default=None, help="write the signed quantity to close per position"
    )


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


def _cascade(args: argparse.Namespace) -> int:
    res = _Run(args).cascade(args)
    print(f"cascade ({res.mode}): {res.rounds} rounds, {'converged' if res.converged else 'NOT converged'}")
    for k, (m, n) in enumerate(zip(res.moves, res.liquidations, strict=True)):
        print(f"  round {k + 1:>3}: move {m:+.2%}, {n:,} accounts liquidated")
    print(f"  liquidated notional {res.liquidated_notional:,.2f}, bad debt {res.bad_debt:,.2f}")
    return 0 if res.converged else 3


def add_cascade(sub: Subparsers) -> None:
    """``zkmargin cascade``: liquidation cascade after a crash of one underlying."""
    p = _file_command(
        sub,
        "cascade",
        "liquidation cascade after a crash (exit status 3 if it did not converge)",
        "Crashes one underlying, liquidates, moves the price by the impact of the "
        "forced selling and repeats until nobody is liquidated or --max-rounds.",
        _cascade,
    )
    _add_liquidity(p)
    _cascade_args(p)


def _report(args: argparse.Namespace) -> int:
    from .report import build_report

    run = _Run(args)
    html = build_report(run, args)
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote report ({len(html) / 1024:,.0f} KiB) to {args.output}")
    return 0


def add_report(sub: Subparsers) -> None:
    """``zkmargin report``: a self-contained HTML report with plots."""
    p = _file_command(
        sub,
        "report",
        "a self-contained HTML report with plots (needs the report extra)",
        "Writes one HTML file with embedded plots: an account's risk profile across "
        "price and vol moves, capital by model, the distribution of distance to liquidation, "
        "stress results and a cascade path.",
        _report,
    )
    _add_liquidity(p)
    _cascade_args(p)
    p.add_argument("--account", default=None, help="account for the risk profile (default: highest MM)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .html file to write")
