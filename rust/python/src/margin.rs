//! `zkmargin._core.margin`: Black-76, implied vols, the margin engine and its cached
//! market state.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use zkmargin_core::implied::implied_vol_batch;
use zkmargin_core::isa::Isa;
use zkmargin_core::margin::{ACCOUNT_FIELDS, Engine, GREEK_FIELDS, Model};
use zkmargin_core::model::Prices;
use zkmargin_core::pricing::{self, Column};
use zkmargin_core::surface::Curves;

use crate::args::Arg;
use crate::arrays::{run_detached, slice1, slice1_mut};
use crate::errors::Result;
use crate::inputs::{BookIn, InstrumentsIn, MarketIn, ParamsIn, RatesIn, RulesIn, ScenariosIn};
use crate::threads::{self, Threads};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_function(wrap_pyfunction!(black76, m)?)?;
    m.add_function(wrap_pyfunction!(black76_into, m)?)?;
    m.add_function(wrap_pyfunction!(implied_vol, m)?)?;
    // The engine's output order, which `zkmargin.results` names its fields by.
    m.add("ACCOUNT_FIELDS", PyTuple::new(m.py(), ACCOUNT_FIELDS)?)?;
    m.add("GREEK_FIELDS", PyTuple::new(m.py(), GREEK_FIELDS)?)?;
    crate::state::register(m)?;
    Ok(())
}

pub(crate) fn column<'a, T: numpy::Element>(
    name: &'static str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> Result<Column<'a, T>> {
    Ok(Column {
        name,
        values: slice1(name, a)?,
    })
}

/// Black-76's six input columns, named as in `zkmargin.black76`.
fn black76_columns<'a>(
    is_call: &'a PyReadonlyArray1<'_, bool>,
    floats: [&'a PyReadonlyArray1<'_, f64>; 5],
) -> Result<(Column<'a, bool>, [Column<'a, f64>; 5])> {
    let [f, k, t, v, r] = floats;
    Ok((
        column("is_call", is_call)?,
        [
            column("forward", f)?,
            column("strike", k)?,
            column("t", t)?,
            column("vol", v)?,
            column("rate", r)?,
        ],
    ))
}

/// Black-76 price and Greeks over arrays of one length `n` or length 1 (broadcast);
/// returns the rows price, delta, gamma, vega, theta.
#[pyfunction]
#[pyo3(signature = (is_call, forward, strike, t, vol, rate, threads=None))]
#[allow(clippy::too_many_arguments)] // the formula's six columns, each its own array
fn black76<'py>(
    py: Python<'py>,
    is_call: Arg<PyReadonlyArray1<'py, bool>>,
    forward: Arg<PyReadonlyArray1<'py, f64>>,
    strike: Arg<PyReadonlyArray1<'py, f64>>,
    t: Arg<PyReadonlyArray1<'py, f64>>,
    vol: Arg<PyReadonlyArray1<'py, f64>>,
    rate: Arg<PyReadonlyArray1<'py, f64>>,
    threads: Option<Threads>,
) -> Result<Vec<Bound<'py, PyArray1<f64>>>> {
    let threads = threads::count(threads)?;
    let (calls, [f, k, tt, v, r]) =
        black76_columns(&is_call, [&forward, &strike, &t, &vol, &rate])?;
    let rows = run_detached(py, threads, || {
        pricing::black76_batch(calls, f, k, tt, v, r)
    })??;
    Ok(rows.into_iter().map(|r| r.into_pyarray(py)).collect())
}

/// [`black76`] into the caller's five float64 rows (price, delta, gamma, vega, theta),
/// each C-contiguous and of the broadcast length; the Python wrapper checks dtypes, shapes
/// and that no row overlaps an input or another row.
#[pyfunction]
#[pyo3(signature = (is_call, forward, strike, t, vol, rate, out, threads=None))]
#[allow(clippy::too_many_arguments)] // the formula's six columns, each its own array
fn black76_into<'py>(
    py: Python<'py>,
    is_call: Arg<PyReadonlyArray1<'py, bool>>,
    forward: Arg<PyReadonlyArray1<'py, f64>>,
    strike: Arg<PyReadonlyArray1<'py, f64>>,
    t: Arg<PyReadonlyArray1<'py, f64>>,
    vol: Arg<PyReadonlyArray1<'py, f64>>,
    rate: Arg<PyReadonlyArray1<'py, f64>>,
    out: [PyReadwriteArray1<'py, f64>; 5],
    threads: Option<Threads>,
) -> Result<()> {
    let threads = threads::count(threads)?;
    let (calls, [f, k, tt, v, r]) =
        black76_columns(&is_call, [&forward, &strike, &t, &vol, &rate])?;
    let mut out = out;
    let rows = out
        .iter_mut()
        .zip(pricing::OUTPUTS)
        .map(|(row, name)| slice1_mut(name, row))
        .collect::<Result<Vec<_>>>()?;
    let Ok(rows) = <[&mut [f64]; 5]>::try_from(rows) else {
        unreachable!("five output rows")
    };
    run_detached(py, threads, || {
        pricing::black76_batch_into(calls, f, k, tt, v, r, rows)
    })??;
    Ok(())
}

/// Black-76 implied vols over arrays of one length `n` or length 1 (broadcast).
#[pyfunction]
#[pyo3(signature = (price, is_call, forward, strike, t, rate, threads=None))]
#[allow(clippy::too_many_arguments)] // the formula's six columns, each its own array
fn implied_vol<'py>(
    py: Python<'py>,
    price: Arg<PyReadonlyArray1<'py, f64>>,
    is_call: Arg<PyReadonlyArray1<'py, bool>>,
    forward: Arg<PyReadonlyArray1<'py, f64>>,
    strike: Arg<PyReadonlyArray1<'py, f64>>,
    t: Arg<PyReadonlyArray1<'py, f64>>,
    rate: Arg<PyReadonlyArray1<'py, f64>>,
    threads: Option<Threads>,
) -> Result<Bound<'py, PyArray1<f64>>> {
    let threads = threads::count(threads)?;
    let (p, calls, f, k, tt, r) = (
        column("price", &price)?,
        column("is_call", &is_call)?,
        column("forward", &forward)?,
        column("strike", &strike)?,
        column("t", &t)?,
        column("rate", &rate)?,
    );
    let vols = run_detached(py, threads, || implied_vol_batch(p, calls, f, k, tt, r))??;
    Ok(vols.into_pyarray(py))
}

/// The per-account outputs of `compute` as numpy arrays (see `zkmargin.results`).
pub(crate) type AccountArrays<'py> = (
    Vec<Bound<'py, PyArray1<f64>>>,
    Bound<'py, PyArray1<i64>>,
    Vec<Bound<'py, PyArray2<f64>>>,
);

/// The engine: instruments, scenario table, parameters and aggregation, validated once.
/// Immutable after construction, so it is safe to share between threads.
#[pyclass(name = "Engine", frozen, module = "zkmargin._core.margin")]
pub struct PyEngine {
    pub inner: Engine,
}

/// `Engine.statement_terms` (a dict): per bucket `roll_rate`, per instrument the forward
/// it is valued on and its portfolio (§6.3), per collateral asset the portfolio it is
/// shocked with (`-1` for none) and its scenario P&L per held and per borrowed unit
/// (`J x S`, zero rows for unshocked assets).
#[derive(IntoPyObject)]
struct StatementTerms<'py> {
    roll_rate: Bound<'py, PyArray1<f64>>,
    forward: Bound<'py, PyArray1<f64>>,
    portfolio: Bound<'py, PyArray1<i64>>,
    collateral_group: Bound<'py, PyArray1<i64>>,
    collateral_held: Bound<'py, PyArray2<f64>>,
    collateral_borrowed: Bound<'py, PyArray2<f64>>,
}

impl PyEngine {
    /// The market's prices with the vols of its surfaces applied (written to `vols`), and
    /// the core curves of its surfaces and `rates`.
    pub(crate) fn curved_prices<'a>(
        &self,
        market: &'a MarketIn<'_>,
        rates: &RatesIn<'_>,
        vols: &'a mut Vec<f64>,
    ) -> Result<(Prices<'a>, Option<Curves>)> {
        let curves = market.curves(rates)?;
        let px = self
            .inner
            .with_curves(&market.prices()?, curves.as_ref(), vols)?;
        Ok((px, curves))
    }
}

#[pymethods]
impl PyEngine {
    #[new]
    fn new(
        instruments: InstrumentsIn<'_>,
        scenarios: ScenariosIn<'_>,
        params: ParamsIn,
        rules: RulesIn<'_>,
    ) -> Result<Self> {
        let table = scenarios.build()?;
        let n_u = table.n_underlyings;
        let aggregation = rules.aggregation(n_u)?;
        let inner = Engine::with_options(
            instruments.build(n_u)?,
            table,
            params.0,
            aggregation,
            rules.options()?,
        )?;
        Ok(Self { inner })
    }

    #[getter]
    fn n_instruments(&self) -> usize {
        self.inner.instruments.len()
    }

    #[getter]
    fn n_scenarios(&self) -> usize {
        self.inner.table.n_scenarios
    }

    #[getter]
    fn n_underlyings(&self) -> usize {
        self.inner.n_underlyings()
    }

    /// (bucket id per instrument, expiry of each bucket) of the roll add-on.
    fn roll_buckets<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>) {
        let ids: Vec<i64> = self.inner.bucket.iter().map(|&b| b as i64).collect();
        (
            ids.into_pyarray(py),
            self.inner.bucket_expiry.clone().into_pyarray(py),
        )
    }

    /// The per-unit numbers the solvency statement takes from the engine, as the margin
    /// computation uses them (docs/proof-spec.md §2.3).
    #[pyo3(signature = (market, rates=None))]
    fn statement_terms<'py>(
        &self,
        py: Python<'py>,
        market: MarketIn<'py>,
        rates: RatesIn<'py>,
    ) -> Result<StatementTerms<'py>> {
        let mut vols = Vec::new();
        let (px, curves) = self.curved_prices(&market, &rates, &mut vols)?;
        let coll = market.collateral()?;
        self.inner.validate_prices(&px)?;
        self.inner.validate_collateral(&coll)?;
        let e = &self.inner;
        let prep = py.detach(|| e.prepare_market(&px, &coll, true, curves.as_ref()));
        let n_s = e.table.n_scenarios;
        let n_j = coll.price.len();
        let (mut group, mut held, mut borrowed) =
            (vec![-1i64; n_j], vec![0.0; n_j * n_s], vec![0.0; n_j * n_s]);
        for (j, risk) in prep.collateral.iter().enumerate() {
            if let Some(r) = risk {
                group[j] = r.group as i64;
                held[j * n_s..(j + 1) * n_s].copy_from_slice(&r.held[..n_s]);
                borrowed[j * n_s..(j + 1) * n_s].copy_from_slice(&r.borrowed[..n_s]);
            }
        }
        Ok(StatementTerms {
            roll_rate: e.bucket_rates().to_vec().into_pyarray(py),
            portfolio: prep
                .units
                .iter()
                .map(|u| u.group as i64)
                .collect::<Vec<i64>>()
                .into_pyarray(py),
            forward: prep.values.forward.into_pyarray(py),
            collateral_group: group.into_pyarray(py),
            collateral_held: held.into_pyarray(py).reshape([n_j, n_s])?,
            collateral_borrowed: borrowed.into_pyarray(py).reshape([n_j, n_s])?,
        })
    }

    /// Checks market prices against the instruments (typed error on the first problem).
    #[pyo3(signature = (market, rates=None))]
    fn validate_market(&self, market: MarketIn<'_>, rates: RatesIn<'_>) -> Result<()> {
        let mut vols = Vec::new();
        let (px, _) = self.curved_prices(&market, &rates, &mut vols)?;
        Ok(self.inner.validate_prices(&px)?)
    }

    /// Checks prices, collateral and the account book (typed error on the first problem).
    #[pyo3(signature = (market, accounts, rates=None))]
    fn validate(
        &self,
        py: Python<'_>,
        market: MarketIn<'_>,
        accounts: BookIn<'_>,
        rates: RatesIn<'_>,
    ) -> Result<()> {
        let mut vols = Vec::new();
        let (px, _) = self.curved_prices(&market, &rates, &mut vols)?;
        let (coll, book) = (market.collateral()?, accounts.view()?);
        Ok(run_detached(py, threads::default_count()?, || {
            self.inner.validate_book(&px, &coll, &book)
        })??)
    }

    /// Per-instrument `6 x I` block: mark_price, mtm, delta, gamma, vega, theta.
    #[pyo3(signature = (market, rates=None))]
    fn instrument_values<'py>(
        &self,
        py: Python<'py>,
        market: MarketIn<'py>,
        rates: RatesIn<'py>,
    ) -> Result<Bound<'py, PyArray2<f64>>> {
        let mut vols = Vec::new();
        let (px, curves) = self.curved_prices(&market, &rates, &mut vols)?;
        self.inner.validate_prices(&px)?;
        let v = py.detach(|| {
            self.inner
                .prepare_values(&px, false, curves.as_ref())
                .values
        });
        let n = self.inner.instruments.len();
        let mut out = Vec::with_capacity(6 * n);
        for col in [&v.mark_price, &v.mtm, &v.delta, &v.gamma, &v.vega, &v.theta] {
            out.extend_from_slice(col);
        }
        Ok(out.into_pyarray(py).reshape([6, n])?)
    }

    /// Weighted P&L per contract, `I x S`.
    #[pyo3(signature = (market, threads=None, rates=None))]
    fn risk_arrays<'py>(
        &self,
        py: Python<'py>,
        market: MarketIn<'py>,
        threads: Option<Threads>,
        rates: RatesIn<'py>,
    ) -> Result<Bound<'py, PyArray2<f64>>> {
        let threads = threads::count(threads)?;
        let mut vols = Vec::new();
        let (px, curves) = self.curved_prices(&market, &rates, &mut vols)?;
        self.inner.validate_prices(&px)?;
        let e = &self.inner;
        let risk = run_detached(py, threads, || e.risk_arrays(&px, curves.as_ref()))?;
        Ok(risk
            .into_pyarray(py)
            .reshape([e.instruments.len(), e.table.n_scenarios])?)
    }

    /// Margin of every account: (8 rows of `A` floats, `A` worst scenarios, 4 Greeks `A x U`).
    #[pyo3(signature = (market, accounts, model, threads=None, rates=None))]
    fn compute<'py>(
        &self,
        py: Python<'py>,
        market: MarketIn<'py>,
        accounts: BookIn<'py>,
        model: &str,
        threads: Option<Threads>,
        rates: RatesIn<'py>,
    ) -> Result<AccountArrays<'py>> {
        let curves = market.curves(&rates)?;
        let threads = threads::count(threads)?;
        let model = Model::parse(model)?;
        let (px, coll, book) = (market.prices()?, market.collateral()?, accounts.view()?);
        let (n_a, n_u) = (book.n_accounts(), self.inner.n_underlyings());
        let e = &self.inner;
        let out = run_detached(py, threads, || {
            e.compute_with(Isa::best(), &px, &coll, &book, model, curves.as_ref())
        })??;
        let greeks = out
            .greeks
            .into_iter()
            .map(|g| g.into_pyarray(py).reshape([n_a, n_u]))
            .collect::<PyResult<_>>()?;
        Ok((
            out.fields.into_iter().map(|f| f.into_pyarray(py)).collect(),
            out.worst.into_pyarray(py),
            greeks,
        ))
    }
}
