//! Bindings for the dynamic-margin layer (`zkmargin_core::dynamic`, docs §10). Thin:
//! borrow arrays, release the GIL, map errors. The public API is `zkmargin.dynamic`.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use zkmargin_core::dynamic::addons::{AddonRule, HaircutRule, account_addons, dynamic_collateral};
use zkmargin_core::dynamic::liquidation::{LiquidationRule, Target, liquidation_scan};
use zkmargin_core::dynamic::scan::{ScanRule, apc_vol, cap_path, scan_ranges};
use zkmargin_core::dynamic::var::{
    RiskArrays, account_scenario_pnl, account_var_es, span2_combine,
};
use zkmargin_core::dynamic::{scenarios, vol};
use zkmargin_core::error::{ErrorKind, InputError};
use zkmargin_core::margin::Model;
use zkmargin_core::model::Book;

use crate::arrays::{run_detached, slice1, slice2};
use crate::errors::core_err;
use crate::margin::{BookIn, CollateralIn, PricesIn, PyEngine};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dyn_log_returns, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_ewma_vol, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_rolling_vol, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_annualise, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_scan_ranges, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_apc_vol, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_cap_path, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_historical, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_filtered_historical, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_monte_carlo, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_var_es, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_scenario_pnl, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_span2, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_addons, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_collateral, m)?)?;
    m.add_function(wrap_pyfunction!(dyn_liquidation_scan, m)?)?;
    Ok(())
}

type F1<'py> = PyReadonlyArray1<'py, f64>;
type F2<'py> = PyReadonlyArray2<'py, f64>;
type I1<'py> = PyReadonlyArray1<'py, i64>;
type Out1<'py> = Bound<'py, PyArray1<f64>>;
type Out2<'py> = Bound<'py, PyArray2<f64>>;

fn threads_ok(threads: usize) -> PyResult<usize> {
    if threads == 0 {
        return Err(core_err(InputError::whole(
            ErrorKind::Parameter,
            "threads",
            "must be >= 1",
        )));
    }
    Ok(threads)
}

fn matrix<'py>(py: Python<'py>, v: Vec<f64>, cols: usize) -> PyResult<Out2<'py>> {
    let rows = v.len().checked_div(cols).unwrap_or(0);
    v.into_pyarray(py).reshape([rows, cols])
}

/// A book of positions without balances (what the risk and add-on kernels read).
fn positions<'a>(
    offsets: &'a I1<'_>,
    instrument: &'a I1<'_>,
    quantity: &'a F1<'_>,
) -> PyResult<Book<'a>> {
    Ok(Book {
        offsets: slice1("offsets", offsets)?,
        instrument: slice1("instrument", instrument)?,
        quantity: slice1("quantity", quantity)?,
        balances: &[],
        n_assets: 0,
    })
}

fn risk<'a>(risk_arrays: &'a F2<'_>) -> PyResult<RiskArrays<'a>> {
    let (data, n_instruments, n_scenarios) = slice2("risk_arrays", risk_arrays)?;
    Ok(RiskArrays {
        data,
        n_instruments,
        n_scenarios,
    })
}

/// `(T-1) x U` log returns of a `T x U` price history.
#[pyfunction]
fn dyn_log_returns<'py>(py: Python<'py>, prices: F2<'py>) -> PyResult<Out2<'py>> {
    let (p, t, u) = slice2("prices", &prices)?;
    matrix(py, vol::log_returns(p, t, u).map_err(core_err)?, u)
}

/// RiskMetrics EWMA volatility per period, one row per return.
#[pyfunction]
fn dyn_ewma_vol<'py>(py: Python<'py>, returns: F2<'py>, lam: f64) -> PyResult<Out2<'py>> {
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(py, vol::ewma_vol(r, n, u, lam).map_err(core_err)?, u)
}

/// Rolling sample volatility over `window` returns.
#[pyfunction]
fn dyn_rolling_vol<'py>(py: Python<'py>, returns: F2<'py>, window: usize) -> PyResult<Out2<'py>> {
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(py, vol::rolling_vol(r, n, u, window).map_err(core_err)?, u)
}

#[pyfunction]
fn dyn_annualise<'py>(
    py: Python<'py>,
    vol_: F1<'py>,
    periods_per_year: f64,
) -> PyResult<Out1<'py>> {
    let v = slice1("vol", &vol_)?;
    Ok(vol::annualise(v, periods_per_year)
        .map_err(core_err)?
        .into_pyarray(py))
}

/// `clamp(k sigma sqrt(horizon), floor, cap)` per underlying.
#[pyfunction]
fn dyn_scan_ranges<'py>(
    py: Python<'py>,
    sigma: F1<'py>,
    k: f64,
    horizon: f64,
    floor: f64,
    cap: f64,
) -> PyResult<Out1<'py>> {
    let s = slice1("sigma", &sigma)?;
    Ok(scan_ranges(
        s,
        &ScanRule {
            k,
            horizon,
            floor,
            cap,
        },
    )
    .map_err(core_err)?
    .into_pyarray(py))
}

#[pyfunction]
fn dyn_apc_vol<'py>(
    py: Python<'py>,
    current: F1<'py>,
    lookback: F1<'py>,
    stressed: F1<'py>,
    stress_weight: f64,
) -> PyResult<Out1<'py>> {
    let (c, l, s) = (
        slice1("current", &current)?,
        slice1("lookback", &lookback)?,
        slice1("stressed", &stressed)?,
    );
    Ok(apc_vol(c, l, s, stress_weight)
        .map_err(core_err)?
        .into_pyarray(py))
}

#[pyfunction]
fn dyn_cap_path<'py>(py: Python<'py>, targets: F2<'py>, max_rise: f64) -> PyResult<Out2<'py>> {
    let (t, n, u) = slice2("targets", &targets)?;
    matrix(py, cap_path(t, n, u, max_rise).map_err(core_err)?, u)
}

#[pyfunction]
fn dyn_historical<'py>(py: Python<'py>, returns: F2<'py>, horizon: usize) -> PyResult<Out2<'py>> {
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(
        py,
        scenarios::historical(r, n, u, horizon).map_err(core_err)?,
        u,
    )
}

#[pyfunction]
fn dyn_filtered_historical<'py>(
    py: Python<'py>,
    returns: F2<'py>,
    lam: f64,
    horizon: usize,
) -> PyResult<Out2<'py>> {
    let (r, n, u) = slice2("returns", &returns)?;
    matrix(
        py,
        scenarios::filtered_historical(r, n, u, lam, horizon).map_err(core_err)?,
        u,
    )
}

#[pyfunction]
fn dyn_monte_carlo<'py>(
    py: Python<'py>,
    sigma: F1<'py>,
    correlation: F2<'py>,
    horizon: f64,
    n_scenarios: usize,
    seed: u64,
) -> PyResult<Out2<'py>> {
    let s = slice1("sigma", &sigma)?;
    let (rho, _, _) = slice2("correlation", &correlation)?;
    let out = py
        .detach(|| scenarios::monte_carlo(s, rho, horizon, n_scenarios, seed))
        .map_err(core_err)?;
    matrix(py, out, s.len())
}

/// Per-account (VaR, ES) over an `I x S` joint risk array; fused, no `A x S` matrix.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyn_var_es<'py>(
    py: Python<'py>,
    risk_arrays: F2<'py>,
    offsets: I1<'py>,
    instrument: I1<'py>,
    quantity: F1<'py>,
    confidence: f64,
    threads: usize,
) -> PyResult<(Out1<'py>, Out1<'py>)> {
    let threads = threads_ok(threads)?;
    let (risk, b) = (
        risk(&risk_arrays)?,
        positions(&offsets, &instrument, &quantity)?,
    );
    let (var, es) =
        run_detached(py, threads, || account_var_es(&risk, &b, confidence))?.map_err(core_err)?;
    Ok((var.into_pyarray(py), es.into_pyarray(py)))
}

/// Per-account scenario P&L, `A x S` (for a few named stress scenarios).
#[pyfunction]
fn dyn_scenario_pnl<'py>(
    py: Python<'py>,
    risk_arrays: F2<'py>,
    offsets: I1<'py>,
    instrument: I1<'py>,
    quantity: F1<'py>,
    threads: usize,
) -> PyResult<Out2<'py>> {
    let threads = threads_ok(threads)?;
    let (risk, b) = (
        risk(&risk_arrays)?,
        positions(&offsets, &instrument, &quantity)?,
    );
    let out = run_detached(py, threads, || account_scenario_pnl(&risk, &b))?.map_err(core_err)?;
    matrix(py, out, risk.n_scenarios)
}

#[pyfunction]
fn dyn_span2<'py>(
    py: Python<'py>,
    x: f64,
    tail: F1<'py>,
    stress: F1<'py>,
    liquidity: F1<'py>,
    concentration: F1<'py>,
) -> PyResult<Out1<'py>> {
    let out = span2_combine(
        x,
        slice1("tail", &tail)?,
        slice1("stress", &stress)?,
        slice1("liquidity", &liquidity)?,
        slice1("concentration", &concentration)?,
    )
    .map_err(core_err)?;
    Ok(out.into_pyarray(py))
}

/// The liquidity rule from its per-instrument columns (notional, half_spread, depth,
/// base_ratio) and scalars.
fn addon_rule<'a>(
    cols: [&'a F1<'_>; 4],
    share: f64,
    rate: f64,
    imf: f64,
) -> PyResult<AddonRule<'a>> {
    let [notional, half_spread, depth, base_ratio] = cols;
    Ok(AddonRule {
        notional: slice1("notional", notional)?,
        half_spread: slice1("half_spread", half_spread)?,
        depth: slice1("depth", depth)?,
        base_ratio: slice1("base_ratio", base_ratio)?,
        share,
        rate,
        imf,
    })
}

/// `3 x A` block: close-out cost, concentration add-on, size premium.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyn_addons<'py>(
    py: Python<'py>,
    notional: F1<'py>,
    half_spread: F1<'py>,
    depth: F1<'py>,
    base_ratio: F1<'py>,
    share: f64,
    rate: f64,
    imf: f64,
    offsets: I1<'py>,
    instrument: I1<'py>,
    quantity: F1<'py>,
    threads: usize,
) -> PyResult<Out2<'py>> {
    let threads = threads_ok(threads)?;
    let rule = addon_rule(
        [&notional, &half_spread, &depth, &base_ratio],
        share,
        rate,
        imf,
    )?;
    let b = positions(&offsets, &instrument, &quantity)?;
    let (c, k, p) = run_detached(py, threads, || account_addons(&rule, &b))?.map_err(core_err)?;
    let n = c.len();
    let mut block = c;
    block.extend(k);
    block.extend(p);
    block.into_pyarray(py).reshape([3, n])
}

/// (collateral value per account, haircut per balance `A x J`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyn_collateral<'py>(
    py: Python<'py>,
    balances: F2<'py>,
    asset_price: F1<'py>,
    sigma: F1<'py>,
    depth: F1<'py>,
    base: F1<'py>,
    z: f64,
    participation: f64,
    min_days: f64,
    cap: f64,
    threads: usize,
) -> PyResult<(Out1<'py>, Out2<'py>)> {
    let threads = threads_ok(threads)?;
    let (b, a, j) = slice2("balances", &balances)?;
    let rule = HaircutRule {
        price: slice1("asset_price", &asset_price)?,
        sigma: slice1("sigma", &sigma)?,
        depth: slice1("depth", &depth)?,
        base: slice1("base", &base)?,
        z,
        participation,
        min_days,
        cap,
    };
    if j != rule.price.len() {
        return Err(core_err(InputError::whole(
            ErrorKind::Shape,
            "balances",
            format!(
                "has {j} columns, expected one per asset ({})",
                rule.price.len()
            ),
        )));
    }
    let (value, h) =
        run_detached(py, threads, || dynamic_collateral(&rule, b, a))?.map_err(core_err)?;
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

/// Liquidatable accounts by shortfall with their per-row close-outs (docs §10.8).
#[pyfunction]
#[pyo3(signature = (engine, prices, collateral, book, model, target, buffer, penalty, notional,
                    half_spread, depth, base_ratio, share, rate, imf, extra_equity, threads))]
#[allow(clippy::too_many_arguments)]
fn dyn_liquidation_scan<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    prices: PricesIn<'py>,
    collateral: CollateralIn<'py>,
    book: BookIn<'py>,
    model: &str,
    target: &str,
    buffer: f64,
    penalty: f64,
    notional: F1<'py>,
    half_spread: F1<'py>,
    depth: F1<'py>,
    base_ratio: F1<'py>,
    share: f64,
    rate: f64,
    imf: f64,
    extra_equity: Option<F1<'py>>,
    threads: usize,
) -> PyResult<ScanOut<'py>> {
    let threads = threads_ok(threads)?;
    let rule = LiquidationRule {
        model: Model::parse(model).map_err(core_err)?,
        target: Target::parse(target, buffer).map_err(core_err)?,
        penalty,
        addons: addon_rule(
            [&notional, &half_spread, &depth, &base_ratio],
            share,
            rate,
            imf,
        )?,
    };
    let (px, coll, b) = (prices.view()?, collateral.view()?, book.view()?);
    let extra = extra_equity
        .as_ref()
        .map(|e| slice1("extra_equity", e))
        .transpose()?;
    let eng = &engine.get().inner;
    let scan = run_detached(py, threads, || {
        liquidation_scan(eng, &px, &coll, &b, extra, &rule)
    })?
    .map_err(core_err)?;
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
