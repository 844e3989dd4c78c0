//! The one thread-count rule, used by every call that takes `threads` (the margin engine,
//! pricing, the dynamic layer and the proof backend alike):
//!
//! * `threads` is `None` or an int in `0..=MAX_THREADS`; `None` and `0` mean the default;
//! * the default is `ZKMARGIN_THREADS` when set (an int in `1..=MAX_THREADS`), else every
//!   hardware thread;
//! * anything else is a typed error: a bool or non-integer a `DTypeError`, an integer out of
//!   range (negative, or beyond `MAX_THREADS` however large) or a bad `ZKMARGIN_THREADS` a
//!   `ParameterError`, never an `OverflowError`.

use pyo3::prelude::*;

use crate::args::int_in;
use crate::errors::{Error, Result};

/// The largest thread count accepted: beyond it a request is a typo, not a machine.
pub const MAX_THREADS: usize = 1024;

/// The variable that sets the default thread count.
const ENV: &str = "ZKMARGIN_THREADS";

/// Number of hardware threads.
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The default thread count (see the module docs).
pub fn default_count() -> Result<usize> {
    let Some(raw) = std::env::var_os(ENV) else {
        return Ok(available());
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(Error::parameter(
            ENV,
            format!("{ENV}={text:?} must be an integer in [1, {MAX_THREADS}]"),
        )),
    }
}

/// A thread count resolved by the rule: always in `1..=MAX_THREADS`.
#[derive(Clone, Copy, Debug)]
pub struct Threads(pub usize);

impl Threads {
    pub fn resolve(obj: &Bound<'_, PyAny>) -> Result<Self> {
        let n = if obj.is_none() {
            0
        } else {
            int_in("threads", obj, 0, MAX_THREADS as u64)? as usize
        };
        Ok(Threads(if n == 0 { default_count()? } else { n }))
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Threads {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Threads::resolve(&obj)?)
    }
}

/// The count of an optional `threads` argument (`None`: the default).
pub fn count(threads: Option<Threads>) -> Result<usize> {
    threads.map_or_else(default_count, |t| Ok(t.0))
}

/// The thread count `threads` resolves to (`None` or 0: the default).
#[pyfunction]
#[pyo3(signature = (threads=None))]
fn resolve_threads(threads: Option<Threads>) -> Result<usize> {
    count(threads)
}

/// Number of hardware threads.
#[pyfunction]
fn available_threads() -> usize {
    available()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_THREADS", MAX_THREADS)?;
    m.add_function(wrap_pyfunction!(resolve_threads, m)?)?;
    m.add_function(wrap_pyfunction!(available_threads, m)?)?;
    Ok(())
}
