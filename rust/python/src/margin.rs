//! Bindings for the margin engine and Black-76.

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadwriteArray1,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use zkmargin_core::error::{ErrorKind, InputError};
use zkmargin_core::margin::{Aggregation, Engine, Model, Options, Params};
use zkmargin_core::model::{Book, Collateral, Instruments, Prices};
use zkmargin_core::netting::SpanRules;
use zkmargin_core::pricing::{self, Column};
use zkmargin_core::risk::{SettlementMode, risk_arrays};
use zkmargin_core::scenarios::{RollRule, ScenarioTable, VolRule};

use zkmargin_core::isa::Isa;
use zkmargin_core::surface::Curves;

use crate::arrays::{run_detached, slice1, slice2};
use crate::errors::{core_err, layout_err, shape_err};
use crate::surface::{SurfacesIn, curves};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_function(wrap_pyfunction!(black76, m)?)?;
    m.add_function(wrap_pyfunction!(black76_into, m)?)?;
    m.add_function(wrap_pyfunction!(available_threads, m)?)?;
    m.add_function(wrap_pyfunction!(debug_build, m)?)?;
    Ok(())
}

/// True when the extension was compiled without optimisation (debug assertions on); the
/// package is meant to be installed as a release build.
#[pyfunction]
fn debug_build() -> bool {
    cfg!(debug_assertions)
}

/// Number of hardware threads rayon would use by default.
#[pyfunction]
fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn check_threads(threads: usize) -> PyResult<usize> {
    if threads == 0 {
        Err(core_err(InputError::whole(
            ErrorKind::Parameter,
            "threads",
            "must be >= 1",
        )))
    } else {
        Ok(threads)
    }
}

/// Black-76 price and Greeks over arrays of one length `n` or length 1 (broadcast);
/// returns the rows price, delta, gamma, vega, theta.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn black76<'py>(
    py: Python<'py>,
    is_call: PyReadonlyArray1<'py, bool>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    vol: PyReadonlyArray1<'py, f64>,
    rate: PyReadonlyArray1<'py, f64>,
    threads: usize,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let threads = check_threads(threads)?;
    let calls = column("is_call", &is_call)?;
    let (f, k, tt, v, r) = (
        column("forward", &forward)?,
        column("strike", &strike)?,
        column("t", &t)?,
        column("vol", &vol)?,
        column("rate", &rate)?,
    );
    let rows = run_detached(py, threads, || {
        pricing::black76_batch(calls, f, k, tt, v, r)
    })?
    .map_err(core_err)?;
    Ok(rows.into_iter().map(|r| r.into_pyarray(py)).collect())
}

/// [`black76`] into the caller's five float64 rows (price, delta, gamma, vega, theta),
/// each C-contiguous and of the broadcast length; the Python wrapper checks dtypes, shapes
/// and that no row aliases an input or another row.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn black76_into<'py>(
    py: Python<'py>,
    is_call: PyReadonlyArray1<'py, bool>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    vol: PyReadonlyArray1<'py, f64>,
    rate: PyReadonlyArray1<'py, f64>,
    out: [PyReadwriteArray1<'py, f64>; 5],
    threads: usize,
) -> PyResult<()> {
    let threads = check_threads(threads)?;
    let calls = column("is_call", &is_call)?;
    let (f, k, tt, v, r) = (
        column("forward", &forward)?,
        column("strike", &strike)?,
        column("t", &t)?,
        column("vol", &vol)?,
        column("rate", &rate)?,
    );
    let mut out = out;
    let slices = out
        .iter_mut()
        .zip(pricing::OUTPUTS)
        .map(|(row, name)| row.as_slice_mut().map_err(|_| layout_err(name)))
        .collect::<PyResult<Vec<_>>>()?;
    let out: [&mut [f64]; 5] = match slices.try_into() {
        Ok(rows) => rows,
        Err(_) => unreachable!("five output rows"),
    };
    run_detached(py, threads, || {
        pricing::black76_batch_into(calls, f, k, tt, v, r, out)
    })?
    .map_err(core_err)
}

/// The per-account outputs of `compute` as numpy arrays (see `zkmargin.results`).
pub(crate) type AccountArrays<'py> = (
    Vec<Bound<'py, PyArray1<f64>>>,
    Bound<'py, PyArray1<i64>>,
    Vec<Bound<'py, PyArray2<f64>>>,
);

pub(crate) fn column<'a, T: numpy::Element>(
    name: &'static str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<Column<'a, T>> {
    Ok(Column {
        name,
        values: slice1(name, a)?,
    })
}

/// The engine: instruments, scenario table, parameters and aggregation, validated once.
/// Immutable after construction, so it is safe to share between threads.
#[pyclass(name = "Engine", frozen, module = "zkmargin._core")]
pub struct PyEngine {
    pub inner: Engine,
}

fn parse_params(params: &Bound<'_, PyDict>) -> PyResult<Params> {
    let mut p = Params::default();
    for (key, value) in params.iter() {
        let key: String = key.extract()?;
        let slot = match key.as_str() {
            "linear_im" => &mut p.linear_im,
            "linear_mm" => &mut p.linear_mm,
            "option_im_base" => &mut p.option_im_base,
            "option_im_floor" => &mut p.option_im_floor,
            "option_mm" => &mut p.option_mm,
            "im_factor" => &mut p.im_factor,
            "mm_factor" => &mut p.mm_factor,
            "annual_move_risk" => &mut p.annual_move_risk,
            "min_annual_move" => &mut p.min_annual_move,
            "short_option_min" => &mut p.short_option_min,
            _ => {
                let msg = format!("unknown parameter {key:?}");
                return Err(core_err(InputError::whole(
                    ErrorKind::Parameter,
                    "params",
                    msg,
                )));
            }
        };
        *slot = value.extract()?;
    }
    Ok(p)
}

/// One [`VolRule`] per underlying from five length-`U` arrays.
fn vol_rules(
    fields: [(&str, &PyReadonlyArray1<'_, f64>); 5],
    n_u: usize,
) -> PyResult<Vec<VolRule>> {
    let mut cols = Vec::with_capacity(5);
    for (name, a) in fields {
        let col = slice1(name, a)?;
        if col.len() != n_u {
            return Err(shape_err(
                name,
                format!("has {} entries for {n_u} underlyings", col.len()),
            ));
        }
        cols.push(col);
    }
    Ok((0..n_u)
        .map(|u| VolRule {
            vol_up: cols[0][u],
            vol_down: cols[1][u],
            power_short: cols[2][u],
            power_long: cols[3][u],
            min_vol_up: cols[4][u],
        })
        .collect())
}

/// Market prices as the tuple `(spot, vol, forward or None, rate)`.
#[derive(FromPyObject)]
pub(crate) struct PricesIn<'py>(
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    Option<PyReadonlyArray1<'py, f64>>,
    f64,
);

impl PricesIn<'_> {
    pub(crate) fn view(&self) -> PyResult<Prices<'_>> {
        Ok(Prices {
            spot: slice1("spot", &self.0)?,
            vol: slice1("vol", &self.1)?,
            forward: self.2.as_ref().map(|f| slice1("forward", f)).transpose()?,
            rate: self.3,
        })
    }
}

/// Collateral assets as the tuple `(asset_price, haircut)`.
#[derive(FromPyObject)]
pub(crate) struct CollateralIn<'py>(PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, f64>);

impl CollateralIn<'_> {
    pub(crate) fn view(&self) -> PyResult<Collateral<'_>> {
        Ok(Collateral {
            price: slice1("asset_price", &self.0)?,
            haircut: slice1("haircut", &self.1)?,
        })
    }
}

/// The account book as the tuple `(offsets, instrument, quantity, balances)`.
#[derive(FromPyObject)]
pub(crate) struct BookIn<'py>(
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, f64>,
);

impl BookIn<'_> {
    pub(crate) fn view(&self) -> PyResult<Book<'_>> {
        let (balances, rows, cols) = slice2("balances", &self.3)?;
        let offsets = slice1("offsets", &self.0)?;
        let n_accounts = offsets.len().saturating_sub(1);
        if rows != n_accounts {
            return Err(shape_err(
                "balances",
                format!("has {rows} rows for {n_accounts} accounts"),
            ));
        }
        Ok(Book {
            offsets,
            instrument: slice1("instrument", &self.1)?,
            quantity: slice1("quantity", &self.2)?,
            balances,
            n_assets: cols,
        })
    }
}

/// SPAN rules as the tuple `(intra_rate (U,), legs (K, 2), ratios (K, 2), rates (K,))`.
#[derive(FromPyObject)]
pub(crate) struct SpanIn<'py>(
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, i64>,
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray1<'py, f64>,
);

impl SpanIn<'_> {
    fn rules(&self, n_u: usize) -> PyResult<SpanRules> {
        let (legs, _, _) = slice2("span_legs", &self.1)?;
        let (ratios, _, _) = slice2("span_ratios", &self.2)?;
        SpanRules::new(
            slice1("span_intra_rate", &self.0)?,
            legs,
            ratios,
            slice1("span_rates", &self.3)?,
            n_u,
        )
        .map_err(core_err)
    }
}

/// Per-instrument zero rates from Python (a rate curve evaluated there, §1.5).
pub(crate) type RatesIn<'py> = Option<PyReadonlyArray1<'py, f64>>;

impl PyEngine {
    /// `prices` with the vols of `surfaces` applied (written to `vols`), and the core
    /// curves of `surfaces` and `rates`.
    fn curved_prices<'a>(
        &self,
        prices: &'a PricesIn<'_>,
        surfaces: &SurfacesIn<'_>,
        rates: &RatesIn<'_>,
        vols: &'a mut Vec<f64>,
    ) -> PyResult<(Prices<'a>, Option<Curves>)> {
        let curves = curves(surfaces, rates)?;
        let px = self
            .inner
            .with_curves(&prices.view()?, curves.as_ref(), vols)
            .map_err(core_err)?;
        Ok((px, curves))
    }
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (kind, underlying, strike, expiry, contract_size, settlement, moves, vol_shocks, weights,
                        vol_up, vol_down, power_short, power_long, min_vol_up, params, aggregation, correlation=None,
                        *, edge=None, dampener=None, annual_move_risk=None, min_annual_move=None,
                        pnl_offset=None, max_offsetable_pnl=None, settlement_mode="cross",
                        asset_underlying=None, span=None, look_ahead=0.0, absolute_vol=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: PyReadonlyArray1<'_, i64>,
        underlying: PyReadonlyArray1<'_, i64>,
        strike: PyReadonlyArray1<'_, f64>,
        expiry: PyReadonlyArray1<'_, f64>,
        contract_size: PyReadonlyArray1<'_, f64>,
        settlement: PyReadonlyArray1<'_, i64>,
        moves: PyReadonlyArray2<'_, f64>,
        vol_shocks: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray2<'_, f64>,
        vol_up: PyReadonlyArray1<'_, f64>,
        vol_down: PyReadonlyArray1<'_, f64>,
        power_short: PyReadonlyArray1<'_, f64>,
        power_long: PyReadonlyArray1<'_, f64>,
        min_vol_up: PyReadonlyArray1<'_, f64>,
        params: &Bound<'_, PyDict>,
        aggregation: &str,
        correlation: Option<PyReadonlyArray2<'_, f64>>,
        edge: Option<PyReadonlyArray2<'_, f64>>,
        dampener: Option<PyReadonlyArray2<'_, f64>>,
        annual_move_risk: Option<PyReadonlyArray1<'_, f64>>,
        min_annual_move: Option<PyReadonlyArray1<'_, f64>>,
        pnl_offset: Option<PyReadonlyArray1<'_, f64>>,
        max_offsetable_pnl: Option<PyReadonlyArray1<'_, f64>>,
        settlement_mode: &str,
        asset_underlying: Option<PyReadonlyArray1<'_, i64>>,
        span: Option<SpanIn<'_>>,
        look_ahead: f64,
        absolute_vol: bool,
    ) -> PyResult<Self> {
        let (m, n_s, n_u) = slice2("moves", &moves)?;
        let (v, vs, vu) = slice2("vol_shocks", &vol_shocks)?;
        let (w, ws, wu) = slice2("weights", &weights)?;
        if (vs, vu) != (n_s, n_u) || (ws, wu) != (n_s, n_u) {
            return Err(shape_err(
                "vol_shocks",
                "moves, vol_shocks and weights must have one shape".into(),
            ));
        }
        let rules = vol_rules(
            [
                ("vol_up", &vol_up),
                ("vol_down", &vol_down),
                ("power_short", &power_short),
                ("power_long", &power_long),
                ("min_vol_up", &min_vol_up),
            ],
            n_u,
        )?;
        let mut table = ScenarioTable::new(m, v, w, n_s, n_u, 0.0, 0.0, 0.0, 0.0, 0.0)
            .and_then(|t| t.with_vol_rules(&rules))
            .and_then(|t| t.with_time_and_vol(look_ahead, absolute_vol))
            .map_err(core_err)?;
        if edge.is_some() || dampener.is_some() {
            let e = match &edge {
                Some(e) => slice2("edge", e)?.0.to_vec(),
                None => m.to_vec(),
            };
            let d = match &dampener {
                Some(d) => slice2("dampener", d)?.0.to_vec(),
                None => vec![0.0; n_s * n_u],
            };
            table = table.with_extended(&e, &d).map_err(core_err)?;
        }
        match (&annual_move_risk, &min_annual_move) {
            (Some(a), Some(b)) => {
                let (a, b) = (
                    slice1("annual_move_risk", a)?,
                    slice1("min_annual_move", b)?,
                );
                if b.len() != a.len() {
                    return Err(shape_err(
                        "min_annual_move",
                        format!("has {} entries, annual_move_risk {}", b.len(), a.len()),
                    ));
                }
                let roll: Vec<RollRule> = a
                    .iter()
                    .zip(b)
                    .map(|(&annual_move_risk, &min_annual_move)| RollRule {
                        annual_move_risk,
                        min_annual_move,
                    })
                    .collect();
                table = table.with_roll_rules(&roll).map_err(core_err)?;
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(core_err(InputError::whole(
                    ErrorKind::Parameter,
                    "annual_move_risk",
                    "per-underlying roll parameters need both annual_move_risk and min_annual_move",
                )));
            }
        }
        let instruments = Instruments::new(
            slice1("kind", &kind)?,
            slice1("underlying", &underlying)?,
            slice1("strike", &strike)?,
            slice1("expiry", &expiry)?,
            slice1("contract_size", &contract_size)?,
            slice1("settlement", &settlement)?,
            n_u,
        )
        .map_err(core_err)?;
        let rho = correlation
            .as_ref()
            .map(|c| slice2("correlation", c))
            .transpose()?;
        if let Some((_, r, c)) = rho {
            if r != n_u || c != n_u {
                return Err(shape_err(
                    "correlation",
                    format!("must be {n_u} x {n_u}, got {r} x {c}"),
                ));
            }
        }
        let aggregation = match (
            Aggregation::parse(aggregation, rho.map(|r| r.0), n_u).map_err(core_err)?,
            span,
        ) {
            (Aggregation::Span(_), Some(rules)) => Aggregation::Span(rules.rules(n_u)?),
            (_, Some(_)) => {
                return Err(core_err(InputError::whole(
                    ErrorKind::Parameter,
                    "span",
                    "SPAN rules are only used with aggregation 'span'",
                )));
            }
            (agg, None) => agg,
        };
        if let (Some(c), Some(cap)) = (&pnl_offset, &max_offsetable_pnl) {
            let (c, cap) = (slice1("pnl_offset", c)?, slice1("max_offsetable_pnl", cap)?);
            table = table.with_gain_offsets(c, cap).map_err(core_err)?;
        } else if pnl_offset.is_some() || max_offsetable_pnl.is_some() {
            return Err(core_err(InputError::whole(
                ErrorKind::Parameter,
                "pnl_offset",
                "gain offsets need both pnl_offset and max_offsetable_pnl",
            )));
        }
        let options = Options {
            settlement: SettlementMode::parse(settlement_mode).map_err(core_err)?,
            asset_underlying: match &asset_underlying {
                Some(a) => slice1("asset_underlying", a)?.to_vec(),
                None => Vec::new(),
            },
        };
        let inner = Engine::with_options(
            instruments,
            table,
            parse_params(params)?,
            aggregation,
            options,
        )
        .map_err(core_err)?;
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

    /// Checks market prices against the instruments (typed error on the first problem).
    #[pyo3(signature = (prices, surfaces=None, rates=None))]
    fn validate_market(
        &self,
        prices: PricesIn<'_>,
        surfaces: SurfacesIn<'_>,
        rates: RatesIn<'_>,
    ) -> PyResult<()> {
        let mut vols = Vec::new();
        let (px, _) = self.curved_prices(&prices, &surfaces, &rates, &mut vols)?;
        self.inner.validate_prices(&px).map_err(core_err)
    }

    /// Checks prices, collateral and the account book (typed error on the first problem).
    #[pyo3(signature = (prices, collateral, book, surfaces=None, rates=None))]
    fn validate(
        &self,
        py: Python<'_>,
        prices: PricesIn<'_>,
        collateral: CollateralIn<'_>,
        book: BookIn<'_>,
        surfaces: SurfacesIn<'_>,
        rates: RatesIn<'_>,
    ) -> PyResult<()> {
        let mut vols = Vec::new();
        let (px, _) = self.curved_prices(&prices, &surfaces, &rates, &mut vols)?;
        let (coll, book) = (collateral.view()?, book.view()?);
        run_detached(py, available_threads(), || {
            self.inner.validate_book(&px, &coll, &book)
        })?
        .map_err(core_err)
    }

    /// Per-instrument `6 x I` block: mark_price, mtm, delta, gamma, vega, theta.
    #[pyo3(signature = (prices, surfaces=None, rates=None))]
    fn instrument_values<'py>(
        &self,
        py: Python<'py>,
        prices: PricesIn<'py>,
        surfaces: SurfacesIn<'py>,
        rates: RatesIn<'py>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let mut vols = Vec::new();
        let (px, curves) = self.curved_prices(&prices, &surfaces, &rates, &mut vols)?;
        self.inner.validate_prices(&px).map_err(core_err)?;
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
        out.into_pyarray(py).reshape([6, n])
    }

    /// Weighted P&L per contract, `I x S`.
    #[pyo3(signature = (prices, threads, surfaces=None, rates=None))]
    fn risk_arrays<'py>(
        &self,
        py: Python<'py>,
        prices: PricesIn<'py>,
        threads: usize,
        surfaces: SurfacesIn<'py>,
        rates: RatesIn<'py>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let threads = check_threads(threads)?;
        let mut vols = Vec::new();
        let (px, curves) = self.curved_prices(&prices, &surfaces, &rates, &mut vols)?;
        self.inner.validate_prices(&px).map_err(core_err)?;
        let e = &self.inner;
        let risk = run_detached(py, threads, || {
            let fwd: Vec<f64> = (0..e.instruments.len())
                .map(|i| px.forward_of(&e.instruments, i))
                .collect();
            risk_arrays(
                &e.instruments,
                &px,
                &e.table,
                &fwd,
                e.settlement,
                curves.as_ref(),
            )
        })?;
        risk.into_pyarray(py)
            .reshape([e.instruments.len(), e.table.n_scenarios])
    }

    /// Margin of every account: (8 rows of `A` floats, `A` worst scenarios, 4 Greeks `A x U`).
    #[pyo3(signature = (prices, collateral, book, model, threads, surfaces=None, rates=None))]
    #[allow(clippy::too_many_arguments)]
    fn compute<'py>(
        &self,
        py: Python<'py>,
        prices: PricesIn<'py>,
        collateral: CollateralIn<'py>,
        book: BookIn<'py>,
        model: &str,
        threads: usize,
        surfaces: SurfacesIn<'py>,
        rates: RatesIn<'py>,
    ) -> PyResult<AccountArrays<'py>> {
        let curves = curves(&surfaces, &rates)?;
        let threads = check_threads(threads)?;
        let model = Model::parse(model).map_err(core_err)?;
        let (px, coll, book) = (prices.view()?, collateral.view()?, book.view()?);
        let (n_a, n_u) = (book.n_accounts(), self.inner.n_underlyings());
        let e = &self.inner;
        let out = run_detached(py, threads, || {
            e.compute_with(Isa::best(), &px, &coll, &book, model, curves.as_ref())
        })?
        .map_err(core_err)?;
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
