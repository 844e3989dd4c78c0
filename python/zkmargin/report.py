"""``zkmargin report``: one self-contained HTML file (plots embedded as PNG data URIs, no
scripts, no external files). Needs the ``report`` extra (matplotlib)."""

from __future__ import annotations

import argparse
import base64
import html
import io
from datetime import datetime, timezone
from typing import Any

import numpy as np

from . import __version__, _progress
from .book import Accounts
from .dynamic import DEFAULT_STRESSES, StressScenario, stress_test
from .results import MODELS

#: The risk-profile grid: relative price moves x implied-vol multipliers.
PROFILE_MOVES = np.linspace(-0.5, 0.5, 21)
PROFILE_VOLS = (0.7, 1.0, 1.5, 2.0)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.0))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _one_account(accounts: Accounts, a: int) -> Accounts:
    lo, hi = int(accounts.offsets[a]), int(accounts.offsets[a + 1])
    return Accounts(
        np.array([0, hi - lo]),
        accounts.instrument[lo:hi],
        accounts.quantity[lo:hi],
        np.ascontiguousarray(accounts.balances[a : a + 1]),
        account_id=accounts.ids()[a : a + 1],
        assets=accounts.assets,
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def build_report(run: Any, args: argparse.Namespace) -> str:
    """The HTML report for the book of ``run`` (a loaded command-line run) and the
    cascade and liquidity settings of ``args``."""
    inp = run.inputs
    ins, acc, mkt = inp.instruments, inp.accounts, inp.market
    ids = acc.ids()
    sections: list[tuple[str, str, str]] = []  # (title, png, html below)
    steps = ["capital", "profile", "distance", "stress", "cascade"]
    results: dict[str, Any] = {}
    for step in _progress.progress(steps, "report", total=len(steps)):
        if step == "capital":
            results = {m: run.compute(m) for m in MODELS}
            fig, ax = _figure("Capital by model (all accounts, USD)")
            x = np.arange(len(MODELS))
            im = [float(results[m].initial_margin.sum()) for m in MODELS]
            mm = [float(results[m].maintenance_margin.sum()) for m in MODELS]
            ax.bar(x - 0.2, im, 0.4, label="initial margin")
            ax.bar(x + 0.2, mm, 0.4, label="maintenance margin")
            ax.set_xticks(x, list(MODELS))
            ax.legend()
            rows = [
                [m, f"{im[k]:,.0f}", f"{mm[k]:,.0f}", f"{int(results[m].liquidatable.sum()):,}"]
                for k, m in enumerate(MODELS)
            ]
            sections.append(
                ("Capital by model", _png(fig), _table(["model", "IM", "MM", "liquidatable"], rows))
            )
        elif step == "profile":
            pm = results["portfolio"]
            if args.account is None:
                a = int(np.argmax(pm.maintenance_margin))
            else:
                match = [k for k, v in enumerate(ids.tolist()) if str(v) == str(args.account)]
                if not match:
                    raise SystemExit(f"zkmargin report: error: no account {args.account!r} in the book")
                a = match[0]
            grid = [
                StressScenario(f"{m:+.0%} vol x{v}", float(m), v) for v in PROFILE_VOLS for m in PROFILE_MOVES
            ]
            rep = stress_test(ins, _one_account(acc, a), mkt, inp.asset_underlying, grid, args.threads)
            after = rep.equity_after[0].reshape(len(PROFILE_VOLS), PROFILE_MOVES.shape[0])
            fig, ax = _figure(f"Risk profile of account {ids[a]!s}: equity after a joint move")
            for k, v in enumerate(PROFILE_VOLS):
                ax.plot(PROFILE_MOVES * 100, after[k], marker="o", ms=3, label=f"vols x{v}")
            ax.axhline(float(pm.maintenance_margin[a]), color="red", ls="--", label="today's MM")
            ax.axhline(0.0, color="black", lw=0.8)
            ax.set_xlabel("price move of every underlying (%)")
            ax.set_ylabel("equity (USD)")
            ax.legend()
            info = _table(
                ["account", "equity", "IM", "MM", "worst scenario"],
                [
                    [
                        str(ids[a]),
                        f"{pm.equity[a]:,.2f}",
                        f"{pm.initial_margin[a]:,.2f}",
                        f"{pm.maintenance_margin[a]:,.2f}",
                        str(pm.worst_scenario_label()[a]),
                    ]
                ],
            )
            sections.append((f"Risk profile: account {ids[a]!s}", _png(fig), info))
        elif step == "distance":
            pm = results["portfolio"]
            pos = pm.equity > 0
            dist = np.where(pos, 1.0 - pm.maintenance_margin / np.where(pos, pm.equity, 1.0), -1.0)
            fig, ax = _figure("Distance to liquidation: share of equity that can be lost before MM")
            ax.hist(np.clip(dist, -1.0, 1.0), bins=40, color="tab:purple")
            ax.axvline(0.0, color="red", ls="--", label="liquidation")
            ax.set_xlabel("1 - MM / equity (negative: liquidatable)")
            ax.set_ylabel("accounts")
            ax.legend()
            text = f"<p>{int((dist < 0).sum()):,} of {len(dist):,} accounts are below maintenance margin.</p>"
            sections.append(("Distance to liquidation", _png(fig), text))
        elif step == "stress":
            rep = stress_test(ins, acc, mkt, inp.asset_underlying, DEFAULT_STRESSES, args.threads)
            fig, ax = _figure("Stress scenarios: shortfall (negative equity, USD)")
            ax.barh(rep.names, rep.shortfall, color="tab:red")
            ax.invert_yaxis()
            rows = [
                [n, f"{int(rep.underwater[k]):,}", f"{rep.shortfall[k]:,.0f}"]
                for k, n in enumerate(rep.names)
            ]
            sections.append(
                ("Stress scenarios", _png(fig), _table(["scenario", "underwater", "shortfall"], rows))
            )
        else:
            res = run.cascade(args)
            fig, ax = _figure(f"Liquidation cascade ({res.mode}) after a {args.shock:+.0%} shock")
            rounds = np.arange(1, len(res.moves) + 1)
            ax.plot(
                rounds, np.array(res.moves) * 100, marker="o", color="tab:blue", label="cumulative move (%)"
            )
            ax.set_xlabel("round")
            ax.set_ylabel("cumulative move (%)")
            ax2 = ax.twinx()
            ax2.bar(rounds, res.liquidations, alpha=0.3, color="tab:orange", label="accounts liquidated")
            ax2.set_ylabel("accounts liquidated")
            ax.legend(loc="lower left")
            status = "converged" if res.converged else f"did NOT converge within {res.rounds} rounds"
            text = (
                f"<p>{res.rounds} rounds, {status}; liquidated notional {res.liquidated_notional:,.0f} USD, "
                f"bad debt {res.bad_debt:,.0f} USD.</p>"
            )
            sections.append(("Liquidation cascade", _png(fig), text))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    val = ins.valuation_time.isoformat() if ins.valuation_time is not None else "n/a"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>zkmargin report</title><style>",
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}",
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:2px 8px;",
        "text-align:right}img{max-width:100%}section{margin-bottom:2em}</style></head><body>",
        "<h1>zkmargin report</h1>",
        f"<p>zkmargin {html.escape(__version__)}, generated {stamp}; valuation time {html.escape(val)}; ",
        f"{len(ins):,} instruments, {len(acc):,} accounts, {acc.n_rows:,} positions.</p>",
    ]
    for title, png, below in sections:
        parts.append(
            f"<section><h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
            f"src='data:image/png;base64,{png}'>{below}</section>"
        )
    parts.append("</body></html>")
    return "".join(parts)
