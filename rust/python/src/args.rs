//! Reading arguments: named structures from the attributes of zkmargin's Python objects,
//! and integers range-checked into typed errors (never `OverflowError`, never a bool).

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{Error, Result, typed, typed_argument};

/// Upper bound of any size the binding allocates from a caller's integer (cells of an
/// output array, generators to derive): 2^28 cells is 2 GiB of `f64`. Larger requests are
/// a `ParameterError` before anything is allocated.
pub const MAX_CELLS: u64 = 1 << 28;

/// A struct read from the attributes of a Python object (or, in the `struct In(CoreType)`
/// form, a core type built directly from them), each field from the attribute of its own
/// name (the zkmargin dataclasses are the single definition of those names). A
/// missing attribute or a value of the wrong type is a `DTypeError` naming the field,
/// where `#[derive(FromPyObject)]` would raise a plain `TypeError`.
macro_rules! from_attributes {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident<$py:lifetime> {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name<$py> {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl<'a, $py> pyo3::FromPyObject<'a, $py> for $name<$py> {
            type Error = pyo3::PyErr;

            fn extract(obj: pyo3::Borrowed<'a, $py, pyo3::PyAny>) -> pyo3::PyResult<Self> {
                Ok(Self {
                    $($field: $crate::args::attribute(&obj, stringify!($field))?,)*
                })
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl<'a, 'py> pyo3::FromPyObject<'a, 'py> for $name {
            type Error = pyo3::PyErr;

            fn extract(obj: pyo3::Borrowed<'a, 'py, pyo3::PyAny>) -> pyo3::PyResult<Self> {
                Ok(Self {
                    $($field: $crate::args::attribute(&obj, stringify!($field))?,)*
                })
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($target:ident) {
            $($field:ident),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name(pub $target);

        impl<'a, 'py> pyo3::FromPyObject<'a, 'py> for $name {
            type Error = pyo3::PyErr;

            // a struct literal: a field added to the core type fails to compile here
            fn extract(obj: pyo3::Borrowed<'a, 'py, pyo3::PyAny>) -> pyo3::PyResult<Self> {
                Ok(Self($target {
                    $($field: $crate::args::attribute(&obj, stringify!($field))?,)*
                }))
            }
        }
    };
}
pub(crate) use from_attributes;

/// Attribute `name` of `obj` as a `T`.
pub fn attribute<'py, T>(obj: &Borrowed<'_, 'py, PyAny>, name: &str) -> PyResult<T>
where
    T: pyo3::conversion::FromPyObjectOwned<'py>,
{
    let py = obj.py();
    let value = obj.getattr(name).map_err(|_| {
        let kind = obj
            .get_type()
            .name()
            .map_or_else(|_| "?".into(), |n| n.to_string());
        PyErr::from(Error::dtype(
            name,
            format!("a {kind} has no attribute {name:?}"),
        ))
    })?;
    value
        .extract::<T>()
        .map_err(|e| PyErr::from(typed(py, name, e.into())))
}

/// A function argument (a numpy array) whose wrong type or dtype is a `DTypeError`, where
/// the plain extraction raises a builtin `TypeError`.
pub struct Arg<T>(pub T);

impl<'a, 'py, T: FromPyObject<'a, 'py>> FromPyObject<'a, 'py> for Arg<T> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        T::extract(obj)
            .map(Arg)
            .map_err(|e| typed_argument(py, e.into()))
    }
}

impl<T> std::ops::Deref for Arg<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// `obj` as an integer in `lo..=hi`: a bool or non-integer is a `DTypeError`, an integer
/// outside the range (however large) a `ParameterError`, both naming `field`.
pub fn int_in(field: &str, obj: &Bound<'_, PyAny>, lo: u64, hi: u64) -> Result<u64> {
    let py = obj.py();
    if obj.is_instance_of::<PyBool>() {
        return Err(Error::dtype(field, "must be an int, got a bool"));
    }
    let out_of_range = || {
        let shown = obj.repr().map_or_else(|_| "?".into(), |r| r.to_string());
        Error::parameter(
            field,
            format!("must be an integer in [{lo}, {hi}], got {shown}"),
        )
    };
    match obj.extract::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        Ok(_) => Err(out_of_range()),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => Err(out_of_range()),
        Err(e) => Err(typed(py, field, e)),
    }
}

/// `obj` as a size in `lo..=hi` (see [`int_in`]).
pub fn size_in(field: &str, obj: &Bound<'_, PyAny>, lo: usize, hi: usize) -> Result<usize> {
    // usize is 64 bits on every target the package builds for
    int_in(field, obj, lo as u64, hi as u64).map(|v| v as usize)
}

/// Refuses an output of `rows x cols` cells above [`MAX_CELLS`] before it is allocated.
pub fn check_cells(field: &str, rows: usize, cols: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n as u64 <= MAX_CELLS => Ok(()),
        _ => Err(Error::parameter(
            field,
            format!("{rows} x {cols} cells exceed the limit of {MAX_CELLS}"),
        )),
    }
}
