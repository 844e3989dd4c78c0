//! Binding for the implied-vol solver.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use zkmargin_core::implied::implied_vol_batch;

use crate::arrays::run_detached;
use crate::errors::core_err;
use crate::margin::{check_threads, column};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(implied_vol, m)?)
}

/// Black-76 implied vols over arrays of one length `n` or length 1 (broadcast).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn implied_vol<'py>(
    py: Python<'py>,
    price: PyReadonlyArray1<'py, f64>,
    is_call: PyReadonlyArray1<'py, bool>,
    forward: PyReadonlyArray1<'py, f64>,
    strike: PyReadonlyArray1<'py, f64>,
    t: PyReadonlyArray1<'py, f64>,
    rate: PyReadonlyArray1<'py, f64>,
    threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let threads = check_threads(threads)?;
    let (p, calls, f, k, tt, r) = (
        column("price", &price)?,
        column("is_call", &is_call)?,
        column("forward", &forward)?,
        column("strike", &strike)?,
        column("t", &t)?,
        column("rate", &rate)?,
    );
    let vols = run_detached(py, threads, || implied_vol_batch(p, calls, f, k, tt, r))?
        .map_err(core_err)?;
    Ok(vols.into_pyarray(py))
}
