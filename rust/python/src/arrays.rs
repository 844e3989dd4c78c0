//! Borrowing numpy arrays as slices without copies, with typed errors for bad layouts.

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::layout_err;

pub fn slice1<'a, T: numpy::Element>(
    field: &str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| layout_err(field))
}

/// A C-contiguous 2-D array as (flat row-major slice, rows, cols).
pub fn slice2<'a, T: numpy::Element>(
    field: &str,
    a: &'a PyReadonlyArray2<'_, T>,
) -> PyResult<(&'a [T], usize, usize)> {
    let shape = a.shape();
    let (rows, cols) = (shape[0], shape[1]);
    let s = a.as_slice().map_err(|_| layout_err(field))?;
    Ok((s, rows, cols))
}

/// Run `f` with the GIL released on a pool of `threads` threads.
pub fn run_detached<T: Send>(
    py: Python<'_>,
    threads: usize,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("thread pool: {e}")))?;
    Ok(py.detach(|| pool.install(f)))
}
