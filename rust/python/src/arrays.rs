//! Borrowing numpy arrays as slices without copies, with typed errors for bad layouts.

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1, PyUntypedArrayMethods};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::{Error, Result};

fn layout(field: &str) -> Error {
    Error::Layout {
        field: field.to_owned(),
    }
}

pub fn slice1<'a, T: numpy::Element>(
    field: &str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> Result<&'a [T]> {
    a.as_slice().map_err(|_| layout(field))
}

/// A C-contiguous 1-D array the caller lends for writing.
pub fn slice1_mut<'a, T: numpy::Element>(
    field: &str,
    a: &'a mut PyReadwriteArray1<'_, T>,
) -> Result<&'a mut [T]> {
    a.as_slice_mut().map_err(|_| layout(field))
}

/// A C-contiguous 2-D array as (flat row-major slice, rows, cols).
pub fn slice2<'a, T: numpy::Element>(
    field: &str,
    a: &'a PyReadonlyArray2<'_, T>,
) -> Result<(&'a [T], usize, usize)> {
    let shape = a.shape();
    let (rows, cols) = (shape[0], shape[1]);
    let s = a.as_slice().map_err(|_| layout(field))?;
    Ok((s, rows, cols))
}

/// Worker pools by thread count, kept across calls (building one spawns its threads) and
/// tagged with the process id: after `fork` the child has none of the parent's threads, so
/// a pool inherited from the parent would never run a job; the child builds its own.
static POOLS: Mutex<Vec<(u32, usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());

fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    let pid = std::process::id();
    let mut pools = POOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pools.retain(|(p, _, _)| *p == pid);
    if let Some((_, _, pool)) = pools.iter().find(|(_, n, _)| *n == threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| {
            Error::Py(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "thread pool: {e}"
            )))
        })?;
    let pool = Arc::new(pool);
    pools.push((pid, threads, Arc::clone(&pool)));
    Ok(pool)
}

/// Run `f` with the GIL released on a pool of `threads` threads.
pub fn run_detached<T: Send>(
    py: Python<'_>,
    threads: usize,
    f: impl FnOnce() -> T + Send,
) -> Result<T> {
    let pool = pool(threads.max(1))?;
    Ok(py.detach(|| pool.install(f)))
}
