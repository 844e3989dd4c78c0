//! `zkmargin._core.dynamic`: the dynamic-margin layer (`zkmargin_core::dynamic`, docs
//! §10). Thin: borrow arrays, release the GIL, map errors. The public API is
//! `zkmargin.dynamic`.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use zkmargin_core::dynamic::addons::{AddonRule, HaircutRule, account_addons, dynamic_collateral};
use zkmargin_core::dynamic::liquidation::{self, LiquidationRule, Target, liquidation_scan};
use zkmargin_core::dynamic::scan::{ScanRule, apc_vol, cap_path, scan_ranges};
use zkmargin_core::dynamic::var::{
    RiskArrays, account_scenario_pnl, account_var_es, span2_combine,
};
use zkmargin_core::dynamic::{scenarios, vol};
use zkmargin_core::margin::Model;

use crate::args::{Arg, check_cells, from_attributes, int_in, size_in};
use crate::arrays::{run_detached, slice1, slice2};
use crate::errors::{Error, Result};
use crate::inputs::{BookIn, F1, F2, MarketIn};
use crate::margin::PyEngine;
use crate::threads::{self, Threads};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(log_returns, m)?)?;
    m.add_function(wrap_pyfunction!(ewma_vol, m)?)?;
    m.add_function(wrap_pyfunction!(rolling_vol, m)?)?;
    m.add_function(wrap_pyfunction!(annualise, m)?)?;
    m.add_function(wrap_pyfunction!(scan_ranges_py, m)?)?;
    m.add_function(wrap_pyfunction!(apc_vol_py, m)?)?;
    m.add_function(wrap_pyfunction!(cap_path_py, m)?)?;
    m.add_function(wrap_pyfunction!(historical, m)?)?;
    m.add_function(wrap_pyfunction!(filtered_historical, m)?)?;
    m.add_function(wrap_pyfunction!(monte_carlo, m)?)?;
    m.add_function(wrap_pyfunction!(var_es, m)?)?;
    m.add_function(wrap_pyfunction!(scenario_pnl, m)?)?;
    m.add_function(wrap_pyfunction!(span2, m)?)?;
    m.add_function(wrap_pyfunction!(addons, m)?)?;
    m.add_function(wrap_pyfunction!(collateral, m)?)?;
    m.add_function(wrap_pyfunction!(liquidation_scan_py, m)?)?;
    // The tolerances the scan and the Monte Carlo factorisation work to, for the reference
    // (zkmargin.baseline.dynamic) to read rather than copy.
    m.add("PSD_JITTER", zkmargin_core::linalg::PSD_JITTER)?;
    m.add("FRACTION_TOLERANCE", liquidation::FRACTION_TOLERANCE)?;
    m.add("MAX_ITERATIONS", liquidation::MAX_ITERATIONS)?;
    m.add("TIE", liquidation::TIE)?;
    m.add("MAX_PASSES", liquidation::MAX_PASSES)?;
    Ok(())
}

type Out1<'py> = Bound<'py, PyArray1<f64>>;
type Out2<'py> = Bound<'py, PyArray2<f64>>;

fn matrix<'py>(py: Python<'py>, v: Vec<f64>, cols: usize) -> Result<Out2<'py>> {
    let rows = v.len().checked_div(cols).unwrap_or(0);
    Ok(v.into_pyarray(py).reshape([rows, cols])?)
}

fn risk<'a>(risk_arrays: &'a F2<'_>) -> Result<RiskArrays<'a>> {
    let (data, n_instruments, n_scenarios) = slice2("risk_arrays", risk_arrays)?;
    Ok(RiskArrays {
        data,
        n_instruments,
        n_scenarios,
    })
}

/// A window or horizon in rows: any size the core can compare with the rows it has.
fn rows_arg(field: &str, obj: &Bound<'_, PyAny>) -> Result<usize> {
    size_in(field, obj, 0, usize::MAX)
}

/// `(T-1) x U` log returns of a `T x U` price history.
#[pyfunction]
fn log_returns<'py>(py: Python<'py>, prices: Arg<F2<'py>>) -> Result<Out2<'py>> {
    let (p, t, u) = slice2("prices", &prices)?;
    matrix(py, vol::log_returns(p, t, u)?, u)
}

/// RiskMetrics EWMA volatility per period, one row per return.
#[pyfunction]
fn ewma_vol<'py>(py: Python<'py>, returns: Arg<F2<'py>>, lam: f64) -> Result<Out2<'py>> {
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(py, vol::ewma_vol(r, n, u, lam)?, u)
}

/// Rolling sample volatility over `window` returns.
#[pyfunction]
fn rolling_vol<'py>(
    py: Python<'py>,
    returns: Arg<F2<'py>>,
    window: &Bound<'py, PyAny>,
) -> Result<Out2<'py>> {
    let window = rows_arg("window", window)?;
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(py, vol::rolling_vol(r, n, u, window)?, u)
}

#[pyfunction]
fn annualise<'py>(py: Python<'py>, vol_: Arg<F1<'py>>, periods_per_year: f64) -> Result<Out1<'py>> {
    let v = slice1("vol", &vol_)?;
    Ok(vol::annualise(v, periods_per_year)?.into_pyarray(py))
}

/// `clamp(k sigma sqrt(horizon), floor, cap)` per underlying.
#[pyfunction]
#[pyo3(name = "scan_ranges")]
fn scan_ranges_py<'py>(
    py: Python<'py>,
    sigma: Arg<F1<'py>>,
    k: f64,
    horizon: f64,
    floor: f64,
    cap: f64,
) -> Result<Out1<'py>> {
    let s = slice1("sigma", &sigma)?;
    let rule = ScanRule {
        k,
        horizon,
        floor,
        cap,
    };
    Ok(scan_ranges(s, &rule)?.into_pyarray(py))
}

#[pyfunction]
#[pyo3(name = "apc_vol")]
fn apc_vol_py<'py>(
    py: Python<'py>,
    current: Arg<F1<'py>>,
    lookback: Arg<F1<'py>>,
    stressed: Arg<F1<'py>>,
    stress_weight: f64,
) -> Result<Out1<'py>> {
    let (c, l, s) = (
        slice1("current", &current)?,
        slice1("lookback", &lookback)?,
        slice1("stressed", &stressed)?,
    );
    Ok(apc_vol(c, l, s, stress_weight)?.into_pyarray(py))
}

#[pyfunction]
#[pyo3(name = "cap_path")]
fn cap_path_py<'py>(py: Python<'py>, targets: Arg<F2<'py>>, max_rise: f64) -> Result<Out2<'py>> {
    let (t, n, u) = slice2("targets", &targets)?;
    matrix(py, cap_path(t, n, u, max_rise)?, u)
}

#[pyfunction]
fn historical<'py>(
    py: Python<'py>,
    returns: Arg<F2<'py>>,
    horizon: &Bound<'py, PyAny>,
) -> Result<Out2<'py>> {
    let horizon = rows_arg("horizon", horizon)?;
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(py, scenarios::historical(r, n, u, horizon)?, u)
}

#[pyfunction]
fn filtered_historical<'py>(
    py: Python<'py>,
    returns: Arg<F2<'py>>,
    lam: f64,
    horizon: &Bound<'py, PyAny>,
) -> Result<Out2<'py>> {
    let horizon = rows_arg("horizon", horizon)?;
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(
        py,
        scenarios::filtered_historical(r, n, u, lam, horizon)?,
        u,
    )
}

/// `n_scenarios x U` correlated normal log moves (seeded, reproducible).
#[pyfunction]
fn monte_carlo<'py>(
    py: Python<'py>,
    sigma: Arg<F1<'py>>,
    correlation: Arg<F2<'py>>,
    horizon: f64,
    n_scenarios: &Bound<'py, PyAny>,
    seed: &Bound<'py, PyAny>,
) -> Result<Out2<'py>> {
    let s = slice1("sigma", &sigma)?;
    let n_scenarios = size_in("n_scenarios", n_scenarios, 0, usize::MAX)?;
    check_cells("n_scenarios", n_scenarios, s.len())?;
    let seed = int_in("seed", seed, 0, u64::MAX)?;
    let (rho, _, _) = slice2("correlation", &correlation)?;
    let out = py.detach(|| scenarios::monte_carlo(s, rho, horizon, n_scenarios, seed))?;
    matrix(py, out, s.len())
}

/// Per-account (VaR, ES) over an `I x S` joint risk array; fused, no `A x S` matrix.
#[pyfunction]
#[pyo3(signature = (risk_arrays, accounts, confidence, threads=None))]
fn var_es<'py>(
    py: Python<'py>,
    risk_arrays: Arg<F2<'py>>,
    accounts: BookIn<'py>,
    confidence: f64,
    threads: Option<Threads>,
) -> Result<(Out1<'py>, Out1<'py>)> {
    let threads = threads::count(threads)?;
    let (risk, b) = (risk(&risk_arrays)?, accounts.positions()?);
    let (var, es) = run_detached(py, threads, || account_var_es(&risk, &b, confidence))??;
    Ok((var.into_pyarray(py), es.into_pyarray(py)))
}

/// Per-account scenario P&L, `A x S` (for a few named stress scenarios).
#[pyfunction]
#[pyo3(signature = (risk_arrays, accounts, threads=None))]
fn scenario_pnl<'py>(
    py: Python<'py>,
    risk_arrays: Arg<F2<'py>>,
    accounts: BookIn<'py>,
    threads: Option<Threads>,
) -> Result<Out2<'py>> {
    let threads = threads::count(threads)?;
    let (risk, b) = (risk(&risk_arrays)?, accounts.positions()?);
    check_cells("risk_arrays", b.n_accounts(), risk.n_scenarios)?;
    let out = run_detached(py, threads, || account_scenario_pnl(&risk, &b))??;
    matrix(py, out, risk.n_scenarios)
}

#[pyfunction]
fn span2<'py>(
    py: Python<'py>,
    x: f64,
    tail: Arg<F1<'py>>,
    stress: Arg<F1<'py>>,
    liquidity: Arg<F1<'py>>,
    concentration: Arg<F1<'py>>,
) -> Result<Out1<'py>> {
    let out = span2_combine(
        x,
        slice1("tail", &tail)?,
        slice1("stress", &stress)?,
        slice1("liquidity", &liquidity)?,
        slice1("concentration", &concentration)?,
    )?;
    Ok(out.into_pyarray(py))
}

from_attributes! {
    /// `zkmargin.dynamic.LiquidityRule`: per-instrument columns and the add-on scalars.
    pub struct LiquidityIn<'py> {
        notional: F1<'py>,
        half_spread: F1<'py>,
        depth: F1<'py>,
        base_ratio: F1<'py>,
        share: f64,
        rate: f64,
        imf: f64,
    }
}

impl LiquidityIn<'_> {
    fn rule(&self) -> Result<AddonRule<'_>> {
        Ok(AddonRule {
            notional: slice1("notional", &self.notional)?,
            half_spread: slice1("half_spread", &self.half_spread)?,
            depth: slice1("depth", &self.depth)?,
            base_ratio: slice1("base_ratio", &self.base_ratio)?,
            share: self.share,
            rate: self.rate,
            imf: self.imf,
        })
    }
}

/// `3 x A` block: close-out cost, concentration add-on, size premium.
#[pyfunction]
#[pyo3(signature = (rule, accounts, threads=None))]
fn addons<'py>(
    py: Python<'py>,
    rule: LiquidityIn<'py>,
    accounts: BookIn<'py>,
    threads: Option<Threads>,
) -> Result<Out2<'py>> {
    let threads = threads::count(threads)?;
    let (rule, b) = (rule.rule()?, accounts.positions()?);
    let (c, k, p) = run_detached(py, threads, || account_addons(&rule, &b))??;
    let n = c.len();
    let mut block = c;
    block.extend(k);
    block.extend(p);
    Ok(block.into_pyarray(py).reshape([3, n])?)
}

from_attributes! {
    /// `zkmargin.dynamic.HaircutRule`.
    pub struct HaircutIn {
        z: f64,
        participation: f64,
        min_days: f64,
        cap: f64,
    }
}

from_attributes! {
    /// The per-asset columns of `zkmargin.dynamic.dynamic_collateral`.
    pub struct AssetsIn<'py> {
        asset_price: F1<'py>,
        sigma: F1<'py>,
        depth: F1<'py>,
        base: F1<'py>,
    }
}

/// (collateral value per account, haircut per balance `A x J`).
#[pyfunction]
#[pyo3(signature = (balances, assets, rule, threads=None))]
fn collateral<'py>(
    py: Python<'py>,
    balances: Arg<F2<'py>>,
    assets: AssetsIn<'py>,
    rule: HaircutIn,
    threads: Option<Threads>,
) -> Result<(Out1<'py>, Out2<'py>)> {
    let threads = threads::count(threads)?;
    let (b, a, j) = slice2("balances", &balances)?;
    let rule = HaircutRule {
        price: slice1("asset_price", &assets.asset_price)?,
        sigma: slice1("sigma", &assets.sigma)?,
        depth: slice1("depth", &assets.depth)?,
        base: slice1("base", &assets.base)?,
        z: rule.z,
        participation: rule.participation,
        min_days: rule.min_days,
        cap: rule.cap,
    };
    if j != rule.price.len() {
        return Err(Error::shape(
            "balances",
            format!(
                "has {j} columns, expected one per asset ({})",
                rule.price.len()
            ),
        ));
    }
    let (value, h) = run_detached(py, threads, || dynamic_collateral(&rule, b, a))??;
    Ok((value.into_pyarray(py), matrix(py, h, j)?))
}

/// Per liquidation: account, shortfall, full, bad_debt, closed_notional, method; then the
/// CSR close-out: offsets into rows, book row, fraction closed.
type ScanOut<'py> = (
    Bound<'py, PyArray1<i64>>,
    Out1<'py>,
    Bound<'py, PyArray1<bool>>,
    Out1<'py>,
    Out1<'py>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Out1<'py>,
);

from_attributes! {
    /// `zkmargin.dynamic.liquidation.LiquidationRule`.
    pub struct LiquidationIn<'py> {
        model: String,
        target: String,
        buffer: f64,
        penalty: f64,
        liquidity: LiquidityIn<'py>,
    }
}

/// Liquidatable accounts by shortfall with their per-row close-outs (docs §10.8).
#[pyfunction]
#[pyo3(name = "liquidation_scan", signature = (engine, market, accounts, rule, extra_equity=None, threads=None))]
fn liquidation_scan_py<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    market: MarketIn<'py>,
    accounts: BookIn<'py>,
    rule: LiquidationIn<'py>,
    extra_equity: Option<Arg<F1<'py>>>,
    threads: Option<Threads>,
) -> Result<ScanOut<'py>> {
    let threads = threads::count(threads)?;
    let rule = LiquidationRule {
        model: Model::parse(&rule.model)?,
        target: Target::parse(&rule.target, rule.buffer)?,
        penalty: rule.penalty,
        addons: rule.liquidity.rule()?,
    };
    let (px, coll, b) = (market.prices()?, market.collateral()?, accounts.view()?);
    let extra = extra_equity
        .as_ref()
        .map(|e| slice1("extra_equity", e))
        .transpose()?;
    let eng = &engine.get().inner;
    let scan = run_detached(py, threads, || {
        liquidation_scan(eng, &px, &coll, &b, extra, &rule)
    })??;
    let l = &scan.liquidations;
    let account: Vec<i64> = l.iter().map(|l| l.account as i64).collect();
    let shortfall: Vec<f64> = l.iter().map(|l| l.shortfall).collect();
    let full: Vec<bool> = l.iter().map(|l| l.full).collect();
    let bad: Vec<f64> = l.iter().map(|l| l.bad_debt).collect();
    let closed: Vec<f64> = l.iter().map(|l| l.closed_notional).collect();
    let method: Vec<u8> = l.iter().map(|l| l.method as u8).collect();
    let offsets: Vec<i64> = scan.offsets.iter().map(|&o| o as i64).collect();
    let rows: Vec<i64> = scan.rows.iter().map(|&r| r as i64).collect();
    Ok((
        account.into_pyarray(py),
        shortfall.into_pyarray(py),
        full.into_pyarray(py),
        bad.into_pyarray(py),
        closed.into_pyarray(py),
        method.into_pyarray(py),
        offsets.into_pyarray(py),
        rows.into_pyarray(py),
        scan.close_fraction.into_pyarray(py),
    ))
}
