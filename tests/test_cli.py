"""Every command of the ``zkmargin`` command line, on files this test writes (docs/cli.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zkmargin
import zkmargin.io
from zkmargin import Accounts, Instruments, Market, cli, dynamic

AS_OF = "2026-01-15T08:00:00Z"
NAMES = [
    "BTC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-27MAR26-60000-C",
    "BTC-27MAR26-50000-P",
    "ETH-PERPETUAL",
    "ETH-26JUN26-3000-C",
    "BTC_USDC-PERPETUAL",
    "ETH_USDC-26JUN26-2500-P",
]
VOLS = {
    "BTC-27MAR26-60000-C": 0.55,
    "BTC-27MAR26-50000-P": 0.62,
    "ETH-26JUN26-3000-C": 0.7,
    "ETH_USDC-26JUN26-2500-P": 0.75,
}
ASSETS = ["USDC", "BTC", "ETH"]


def _book(n_accounts: int = 60, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small book with a spread of leverage, so some accounts are liquidatable."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_accounts):
        for name in rng.choice(NAMES, size=3, replace=False):
            size = {"BTC-PERPETUAL": 2_000.0, "ETH-PERPETUAL": 1_000.0, "BTC-27MAR26": 2_000.0}.get(name, 1.0)
            rows.append(
                (f"acct-{a:03d}", str(name), float(rng.choice([-1, 1]) * rng.uniform(0.2, 3.0) * size))
            )
    pos = pd.DataFrame(rows, columns=["account", "instrument", "quantity"])
    bal = pd.DataFrame(
        {
            "account": [f"acct-{a:03d}" for a in range(n_accounts)],
            "USDC": rng.uniform(500.0, 40_000.0, n_accounts),
            "BTC": rng.uniform(0.0, 0.3, n_accounts),
            "ETH": rng.uniform(0.0, 3.0, n_accounts),
        }
    )
    return pos, bal


def _market_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"field": "spot", "name": "BTC", "value": 60_000.0},
        {"field": "spot", "name": "ETH", "value": 3_000.0},
        {"field": "rate", "name": "", "value": 0.03},
        {"field": "forward", "name": "BTC-27MAR26", "value": 60_600.0},
    ]
    rows += [{"field": "vol", "name": n, "value": v} for n, v in VOLS.items()]
    for asset, price, haircut in (("USDC", 1.0, 0.0), ("BTC", 60_000.0, 0.05), ("ETH", 3_000.0, 0.08)):
        rows.append({"field": "price", "name": asset, "value": price})
        rows.append({"field": "haircut", "name": asset, "value": haircut})
    return rows


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    pos, bal = _book()
    out = {
        "positions": d / "positions.csv",
        "positions_pq": d / "positions.parquet",
        "balances": d / "balances.parquet",
        "market": d / "market.json",
        "market_csv": d / "market.csv",
        "instruments": d / "instruments.csv",
        "prices": d / "prices.csv",
    }
    pos.to_csv(out["positions"], index=False)
    pos.to_parquet(out["positions_pq"], index=False)
    bal.to_parquet(out["balances"], index=False)
    out["market"].write_text(json.dumps(_market_rows()))
    pd.DataFrame(_market_rows()).to_csv(out["market_csv"], index=False)
    pd.DataFrame({"instrument": NAMES}).to_csv(out["instruments"], index=False)
    rng = np.random.default_rng(0)
    steps = np.exp(np.cumsum(rng.normal(0.0, 0.03, (250, 2)), axis=0))
    pd.DataFrame({"BTC": 60_000.0 * steps[:, 0], "ETH": 3_000.0 * steps[:, 1]}).to_csv(
        out["prices"], index=False
    )
    return out


def _inputs(f: dict[str, Path], positions: str = "positions", market: str = "market") -> list[str]:
    return [
        "--positions", str(f[positions]),
        "--balances", str(f["balances"]),
        "--market", str(f[market]),
        "--instruments", str(f["instruments"]),
        "--as-of", AS_OF,
    ]  # fmt: skip


def _direct(f: dict[str, Path]) -> tuple[Instruments, Accounts, Market]:
    """The same inputs built with the Python API, to check the files' numbers."""
    ins = Instruments.from_names(NAMES, AS_OF)
    pos = pd.read_csv(f["positions"])
    bal = pd.read_parquet(f["balances"])
    book = Accounts.from_table(pos, bal, instruments=ins)
    fwd = np.where(np.arange(len(NAMES)) == 1, 60_600.0, np.array([60_000.0, 3_000.0])[ins.underlying])
    market = Market(
        [60_000.0, 3_000.0],
        ins.per_instrument(VOLS, "vol", 0.0),
        [1.0, 60_000.0, 3_000.0],
        [0.0, 0.05, 0.08],
        rate=0.03,
        forward=fwd,
    )
    return ins, book, market


def test_help_lists_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("demo", "margin", "stress", "var", "liquidations", "cascade", "report"):
        assert command in text
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        assert cli.main([name, "--help"]) == 0
        helptext = capsys.readouterr().out
        for action in p._actions:
            for flag in action.option_strings:
                assert flag in helptext, (name, flag)


def test_version_and_python_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "zkmargin", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"zkmargin {zkmargin.__version__}"
    exe = shutil.which("zkmargin")
    assert exe is not None
    assert subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout == out


def test_margin_matches_the_api(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "margin.parquet"
    assert cli.main(["margin", *_inputs(files), "--model", "all", "-o", str(out)]) == 0
    assert "wrote margin results" in capsys.readouterr().out
    got = pd.read_parquet(out)
    ins, book, market = _direct(files)
    eng = zkmargin.MarginEngine(ins)
    for model in ("standard", "cross", "portfolio"):
        want = eng.compute(book, market, model).to_pandas()
        part = got[got["model"] == model].drop(columns="model")
        pd.testing.assert_frame_equal(part, want, check_exact=True, check_dtype=False)
        assert (part.dtypes.drop("worst_scenario_label") == want.dtypes.drop("worst_scenario_label")).all()
    # Parquet positions, CSV market and CSV output give the same portfolio numbers.
    out_csv = tmp_path / "margin.csv"
    assert cli.main(["margin", *_inputs(files, "positions_pq", "market_csv"), "-o", str(out_csv)]) == 0
    csv = pd.read_csv(out_csv, index_col="account")
    np.testing.assert_allclose(
        csv["maintenance_margin"], got[got["model"] == "portfolio"]["maintenance_margin"], rtol=1e-12
    )


def test_bad_files_report_user_identifiers(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pos = pd.read_csv(files["positions"])
    pos.loc[7, "instrument"] = "BTC-27MAR26-61000-C"
    bad = tmp_path / "bad.csv"
    pos.to_csv(bad, index=False)
    args = _inputs(files)
    args[1] = str(bad)
    assert cli.main(["margin", *args]) == 2
    err = capsys.readouterr().err
    assert "row 7 names instrument 'BTC-27MAR26-61000-C'" in err
    market = [*_market_rows(), {"field": "vol", "name": "ETH-26JUN26-3000-C", "value": 0.8}]
    bad_m = tmp_path / "bad_market.json"
    bad_m.write_text(json.dumps(market))
    args = _inputs(files)
    args[5] = str(bad_m)
    assert cli.main(["margin", *args]) == 2
    assert "both give vol of 'ETH-26JUN26-3000-C'" in capsys.readouterr().err


def test_stress(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "stress.csv"
    assert (
        cli.main(
            [
                "stress",
                *_inputs(files),
                "--stress",
                "crash:-0.4:2.0",
                "--stress",
                "pump:0.3:1.2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    got = pd.read_csv(out, index_col="account")
    ins, book, market = _direct(files)
    want = dynamic.stress_test(
        ins,
        book,
        market,
        [-1, 0, 1],
        [dynamic.StressScenario("crash", -0.4, 2.0), dynamic.StressScenario("pump", 0.3, 1.2)],
    )
    np.testing.assert_allclose(got[["crash", "pump"]].to_numpy(), want.equity_after, rtol=1e-12)
    assert list(got.index) == list(book.ids())


def test_var(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "var.parquet"
    assert (
        cli.main(
            ["var", *_inputs(files), "--prices", str(files["prices"]), "--confidence", "0.95", "-o", str(out)]
        )
        == 0
    )
    got = pd.read_parquet(out)
    ins, book, market = _direct(files)
    px = pd.read_csv(files["prices"])[["BTC", "ETH"]].to_numpy()
    moves = dynamic.historical_scenarios(dynamic.log_returns(np.ascontiguousarray(px)), 1)
    var, es = dynamic.var_es(dynamic.joint_risk_arrays(ins, market, moves), book, 0.95)
    np.testing.assert_allclose(got["var"], var, rtol=1e-12)
    np.testing.assert_allclose(got["es"], es, rtol=1e-12)
    assert np.all(got["es"] >= got["var"])
    assert cli.main(["var", *_inputs(files), "--mc", "500", "--seed", "4"]) == 0


def test_price_history_out_of_order(files: dict[str, Path], tmp_path: Path) -> None:
    hist = pd.read_csv(files["prices"])
    hist.insert(0, "date", pd.date_range("2025-01-01", periods=len(hist), freq="D").strftime("%Y-%m-%d"))
    hist.loc[[40, 41], "date"] = hist.loc[[41, 40], "date"].to_numpy()
    path = tmp_path / "prices.csv"
    hist.to_csv(path, index=False)
    with pytest.raises(zkmargin.errors.OrderError, match="row 41 \\(2025-02-10") as info:
        zkmargin.io.read_prices(path, ("BTC", "ETH"))
    assert info.value.index == 41 and info.value.key == "2025-02-10"
    hist.loc[[40, 41], "date"] = hist.loc[[41, 40], "date"].to_numpy()
    hist.to_csv(path, index=False)
    assert zkmargin.io.read_prices(path, ("ETH", "BTC")).shape == (len(hist), 2)


def test_liquidations_and_cascade(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, rows = tmp_path / "liq.csv", tmp_path / "closeouts.csv"
    assert cli.main(["liquidations", *_inputs(files), "-o", str(out), "--closeouts", str(rows)]) == 0
    got = pd.read_csv(out, index_col="account")
    ins, book, market = _direct(files)
    pm = zkmargin.MarginEngine(ins).compute(book, market)
    assert set(got.index) == set(book.ids()[pm.liquidatable]) and len(got) > 0
    assert np.all(np.diff(got["shortfall"].to_numpy()) <= 0)  # largest shortfall first
    close = pd.read_csv(rows)
    assert set(close["account"]) == set(got.index) and set(close["instrument"]) <= set(NAMES)
    capsys.readouterr()
    code = cli.main(
        ["cascade", *_inputs(files), "--shock", "-0.35", "--impact-depth", "1e5", "--max-rounds", "1"]
    )
    captured = capsys.readouterr()
    assert code == 3 and "NOT converged" in captured.out
    assert "ConvergenceWarning" in captured.err and "max_rounds=1" in captured.err
    assert cli.main(["cascade", *_inputs(files), "--shock", "-0.35"]) == 0
    assert "converged" in capsys.readouterr().out


def test_report_renders_in_chromium(files: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "report.html"
    assert cli.main(["report", *_inputs(files), "--account", "acct-007", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count("data:image/png;base64,") == 5 and "<script" not in text and "acct-007" in text
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None, "chromium is needed (apt-get install -y chromium; .ci/run installs it)"
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={shot}", "--window-size=1100,2400", out.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert img.shape[0] == 2400 and img.shape[1] == 1100
    # Non-blank: many pixels are not the white background, and the plots' colours are there.
    non_white = (img < 240).any(axis=2)
    assert non_white.mean() > 0.05
    saturated = (img.max(axis=2) - img.min(axis=2)) > 80
    assert saturated.sum() > 5_000
