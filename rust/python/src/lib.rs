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
        m.add("MAX_CELLS", args::MAX_CELLS)?;
        threads::register(m)?;
        submodule(m, "margin", margin::register)?;
        submodule(m, "dynamic", dynamic::register)?;
        submodule(m, "curve", curve::register)?;
        Ok(())
    }
}
