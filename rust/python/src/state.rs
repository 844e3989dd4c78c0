//! Binding for the cached market state and its what-if calls.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use zkmargin_core::margin::{AccountMargin, Model};
use zkmargin_core::state::{MarketState, Trade, WhatIf};

use crate::args::size_in;
use crate::arrays::{run_detached, slice1};
use crate::errors::{Error, Result};
use crate::inputs::{BookIn, MarketIn, RatesIn};
use crate::margin::{AccountArrays, PyEngine};
use crate::threads::{self, Threads};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMarketState>()
}

/// One account's outcome: the eight `ACCOUNT_FIELDS` floats and the worst scenario.
type Margin = ([f64; 8], i64);

fn margin(m: &AccountMargin) -> Margin {
    (
        [
            m.equity,
            m.initial_margin,
            m.maintenance_margin,
            m.free_collateral(),
            m.margin_ratio(),
            m.scenario_loss,
            m.roll_addon,
            m.short_option_addon,
        ],
        m.worst_scenario,
    )
}

/// A book margined over a market priced once; see `zkmargin.state.MarketState`.
#[pyclass(name = "MarketState", module = "zkmargin._core.margin")]
pub struct PyMarketState {
    inner: MarketState,
}

/// The trades of one call as core `Trade`s.
fn trades(instrument: &[i64], quantity: &[f64]) -> Result<Vec<Trade>> {
    if instrument.len() != quantity.len() {
        return Err(Error::shape(
            "trades.quantity",
            format!(
                "length {} does not match trades.instrument ({})",
                quantity.len(),
                instrument.len()
            ),
        ));
    }
    Ok(instrument
        .iter()
        .zip(quantity)
        .map(|(&instrument, &quantity)| Trade {
            instrument,
            quantity,
        })
        .collect())
}

fn outcome(w: &WhatIf) -> (Margin, Margin) {
    (margin(&w.before), margin(&w.after))
}

#[pymethods]
impl PyMarketState {
    #[new]
    #[pyo3(signature = (engine, market, accounts, model, threads=None, rates=None))]
    fn new(
        py: Python<'_>,
        engine: PyRef<'_, PyEngine>,
        market: MarketIn<'_>,
        accounts: BookIn<'_>,
        model: &str,
        threads: Option<Threads>,
        rates: RatesIn<'_>,
    ) -> Result<Self> {
        let threads = threads::count(threads)?;
        let curves = market.curves(&rates)?;
        let model = Model::parse(model)?;
        let (px, coll, book) = (market.prices()?, market.collateral()?, accounts.view()?);
        let e = &engine.inner;
        let inner = run_detached(py, threads, || {
            MarketState::new(e, &px, &coll, &book, model, curves.as_ref())
        })??;
        Ok(Self { inner })
    }

    #[getter]
    fn n_accounts(&self) -> usize {
        self.inner.n_accounts()
    }

    /// (before, after) of `account` with the trades and balance change, state unchanged.
    fn what_if(
        &mut self,
        account: &Bound<'_, PyAny>,
        instrument: PyReadonlyArray1<'_, i64>,
        quantity: PyReadonlyArray1<'_, f64>,
        balance_change: PyReadonlyArray1<'_, f64>,
    ) -> Result<(Margin, Margin)> {
        let account = size_in("account", account, 0, usize::MAX)?;
        let t = trades(
            slice1("trades.instrument", &instrument)?,
            slice1("trades.quantity", &quantity)?,
        )?;
        let bal = slice1("balance_change", &balance_change)?;
        let w = self.inner.what_if(account, &t, bal)?;
        Ok(outcome(&w))
    }

    /// As `what_if`, and the change is kept (only that account is re-margined).
    fn apply(
        &mut self,
        account: &Bound<'_, PyAny>,
        instrument: PyReadonlyArray1<'_, i64>,
        quantity: PyReadonlyArray1<'_, f64>,
        balance_change: PyReadonlyArray1<'_, f64>,
    ) -> Result<(Margin, Margin)> {
        let account = size_in("account", account, 0, usize::MAX)?;
        let t = trades(
            slice1("trades.instrument", &instrument)?,
            slice1("trades.quantity", &quantity)?,
        )?;
        let bal = slice1("balance_change", &balance_change)?;
        let w = self.inner.apply(account, &t, bal)?;
        Ok(outcome(&w))
    }

    /// Reprices the universe once for new prices and re-margins every account.
    #[pyo3(signature = (market, threads=None, rates=None))]
    fn reprice(
        &mut self,
        py: Python<'_>,
        market: MarketIn<'_>,
        threads: Option<Threads>,
        rates: RatesIn<'_>,
    ) -> Result<()> {
        let threads = threads::count(threads)?;
        let curves = market.curves(&rates)?;
        let px = market.prices()?;
        let inner = &mut self.inner;
        Ok(run_detached(py, threads, || {
            inner.reprice(&px, curves.as_ref())
        })??)
    }

    /// Every account's outputs, as `Engine.compute` returns them.
    fn results<'py>(&self, py: Python<'py>) -> Result<AccountArrays<'py>> {
        let m = self.inner.margins();
        let n_a = m.len();
        let mut fields: Vec<Vec<f64>> = (0..8).map(|_| Vec::with_capacity(n_a)).collect();
        let mut worst = Vec::with_capacity(n_a);
        for a in m {
            let (f, w) = margin(a);
            for (col, x) in fields.iter_mut().zip(f) {
                col.push(x);
            }
            worst.push(w);
        }
        let g = self.inner.greeks();
        let n_u = self.inner.n_underlyings();
        let greeks = (0..4)
            .map(|k| {
                let col: Vec<f64> = (0..n_a * n_u)
                    .map(|j| g[(j / n_u) * 4 * n_u + 4 * (j % n_u) + k])
                    .collect();
                col.into_pyarray(py).reshape([n_a, n_u])
            })
            .collect::<PyResult<_>>()?;
        Ok((
            fields.into_iter().map(|f| f.into_pyarray(py)).collect(),
            worst.into_pyarray(py),
            greeks,
        ))
    }

    /// The current book: (offsets, instrument, quantity, balances `A x J`).
    #[allow(clippy::type_complexity)]
    fn book<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<(
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray2<f64>>,
    )> {
        let (off, ins, qty, bal) = self.inner.book();
        let n_a = off.len() - 1;
        let n_j = self.inner.n_assets();
        Ok((
            off.into_pyarray(py),
            ins.into_pyarray(py),
            qty.into_pyarray(py),
            bal.into_pyarray(py).reshape([n_a, n_j])?,
        ))
    }
}
