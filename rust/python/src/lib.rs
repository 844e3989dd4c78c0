//! `zkmargin._core`: converts Python objects and numpy arrays, validates, releases the GIL
//! and maps errors. All arithmetic lives in the pure-Rust crates.
//!
//! Submodules, each importable as `zkmargin._core.<name>`: `margin` (Black-76, implied
//! vols, the engine and its market state), `dynamic` (the dynamic-margin layer), `curve`
//! (BN254 G1 and the range prover). The root holds the thread rule and build facts.

mod args;
mod arrays;
mod curve;
mod dynamic;
mod errors;
mod inputs;
mod margin;
mod prover;
mod state;
mod threads;

use pyo3::prelude::*;

/// True when the extension was compiled without optimisation (debug assertions on); the
/// package is meant to be installed as a release build.
#[pyfunction]
fn debug_build() -> bool {
    cfg!(debug_assertions)
}

/// Multiply-adds per second one thread sustains with the engine's arithmetic (separate
/// IEEE multiply and add, the widest vectors this CPU runs, operands in L1), measured for
/// about `seconds` (`None`: 0.2): the compute side of the benchmarks' floor.
#[pyfunction]
#[pyo3(signature = (seconds=None))]
fn madd_rate(py: Python<'_>, seconds: Option<&Bound<'_, PyAny>>) -> errors::Result<f64> {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    let s = match seconds {
        None => 0.2,
        Some(v) if v.is_instance_of::<PyBool>() => {
            return Err(errors::Error::dtype(
                "seconds",
                "seconds must be a float or an int, not a bool",
            ));
        }
        Some(v) if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() => {
            v.extract::<f64>()?
        }
        Some(_) => {
            return Err(errors::Error::dtype(
                "seconds",
                "seconds must be a float or an int",
            ));
        }
    };
    if !(0.01..=10.0).contains(&s) {
        return Err(errors::Error::parameter(
            "seconds",
            format!("seconds must be in [0.01, 10], got {s}"),
        ));
    }
    Ok(py.detach(|| zkmargin_core::probe::madd_rate(s)))
}

/// Adds the submodule `name` filled by `register`, and makes it importable as
/// `zkmargin._core.<name>` (an extension module is no package: the import system finds
/// submodules through `sys.modules` only).
fn submodule(
    parent: &Bound<'_, PyModule>,
    name: &str,
    register: fn(&Bound<'_, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let py = parent.py();
    let sub = PyModule::new(py, name)?;
    register(&sub)?;
    let qualified = format!("zkmargin._core.{name}");
    sub.setattr("__name__", &qualified)?;
    parent.add_submodule(&sub)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item(qualified, &sub)?;
    Ok(())
}

#[pymodule(gil_used = false)]
mod _core {
    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_function(wrap_pyfunction!(debug_build, m)?)?;
        m.add_function(wrap_pyfunction!(madd_rate, m)?)?;
        m.add("MAX_CELLS", args::MAX_CELLS)?;
        threads::register(m)?;
        submodule(m, "margin", margin::register)?;
        submodule(m, "dynamic", dynamic::register)?;
        submodule(m, "curve", curve::register)?;
        Ok(())
    }
}
