//! `zkmargin._core`: converts numpy arrays, validates, releases the GIL and maps errors.
//! All arithmetic lives in the pure-Rust crates.

mod arrays;
mod curve;
mod dynamic;
mod errors;
mod implied;
mod margin;
mod state;
mod surface;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _core {
    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        margin::register(m)?;
        curve::register(m)?;
        dynamic::register(m)?;
        implied::register(m)?;
        state::register(m)?;
        Ok(())
    }
}
