//! The binding's one error type. Every core, curve and PyO3 error converts into [`Error`]
//! with `?`, and an [`Error`] becomes the matching class of `zkmargin.errors` (defined in
//! Python, so there is exactly one set of classes) when it reaches Python.

use pyo3::PyErr;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use zkmargin_core::error::{ErrorKind, InputError};
use zkmargin_curve::CurveError;

pyo3::import_exception!(zkmargin.errors, NonFiniteError);
pyo3::import_exception!(zkmargin.errors, NonFiniteResultError);
pyo3::import_exception!(zkmargin.errors, NonPositiveError);
pyo3::import_exception!(zkmargin.errors, ExpiredError);
pyo3::import_exception!(zkmargin.errors, ShapeError);
pyo3::import_exception!(zkmargin.errors, IndexOutOfRangeError);
pyo3::import_exception!(zkmargin.errors, OffsetsError);
pyo3::import_exception!(zkmargin.errors, ParameterError);
pyo3::import_exception!(zkmargin.errors, NotPositiveSemidefiniteError);
pyo3::import_exception!(zkmargin.errors, ArbitrageBoundsError);
pyo3::import_exception!(zkmargin.errors, SurfaceCoverageError);
pyo3::import_exception!(zkmargin.errors, EncodingError);
pyo3::import_exception!(zkmargin.errors, DTypeError);
pyo3::import_exception!(zkmargin.errors, ArrayLayoutError);

/// What a binding function fails with.
#[derive(Debug)]
pub enum Error {
    /// A core input error (its kind picks the class, it names its own field and index).
    Input(InputError),
    /// A curve error about the argument `field`.
    Curve { field: String, error: CurveError },
    /// A Python object of the wrong type for `field`.
    Type { field: String, message: String },
    /// A C-contiguity violation of the array `field`.
    Layout { field: String },
    /// Already a Python exception (an extraction or numpy error).
    Py(PyErr),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn parameter(field: &str, message: impl Into<String>) -> Self {
        Error::Input(InputError::whole(ErrorKind::Parameter, field, message))
    }

    pub fn shape(field: &str, message: impl Into<String>) -> Self {
        Error::Input(InputError::whole(ErrorKind::Shape, field, message))
    }

    pub fn dtype(field: &str, message: impl Into<String>) -> Self {
        Error::Type {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(e)
    }
}

/// The argument a curve error is about when the caller names none (see [`Named`]).
fn curve_field(e: &CurveError) -> &'static str {
    match e {
        CurveError::ScalarNotCanonical { .. } => "scalars",
        CurveError::Mismatch { .. } => "lengths",
        CurveError::OutOfOrder { .. } => "step",
        CurveError::ZeroChallenge => "challenge",
        CurveError::Length { .. }
        | CurveError::CoordinateNotCanonical
        | CurveError::NotOnCurve
        | CurveError::BadFlags => "point",
    }
}

impl From<CurveError> for Error {
    fn from(error: CurveError) -> Self {
        Error::Curve {
            field: curve_field(&error).to_owned(),
            error,
        }
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

/// Naming the argument a curve error is about: `zc::scalar_from_be(a).named("a")?`.
pub trait Named<T> {
    fn named(self, field: &str) -> Result<T>;
}

impl<T> Named<T> for std::result::Result<T, CurveError> {
    fn named(self, field: &str) -> Result<T> {
        self.map_err(|error| Error::Curve {
            field: field.to_owned(),
            error,
        })
    }
}

/// Arguments every `InputError` subclass takes: (message, field, index).
type ErrArgs = (String, String, Option<usize>);

fn input_err(e: InputError) -> PyErr {
    let args: ErrArgs = (e.to_string(), e.field, e.index);
    match e.kind {
        ErrorKind::NonFinite => NonFiniteError::new_err(args),
        ErrorKind::NonFiniteResult => NonFiniteResultError::new_err(args),
        ErrorKind::NonPositive => NonPositiveError::new_err(args),
        ErrorKind::Expired => ExpiredError::new_err(args),
        ErrorKind::Shape => ShapeError::new_err(args),
        ErrorKind::IndexOutOfRange => IndexOutOfRangeError::new_err(args),
        ErrorKind::Offsets => OffsetsError::new_err(args),
        ErrorKind::Parameter => ParameterError::new_err(args),
        ErrorKind::NotPositiveSemidefinite => NotPositiveSemidefiniteError::new_err(args),
        ErrorKind::Arbitrage => ArbitrageBoundsError::new_err(args),
        ErrorKind::Coverage => SurfaceCoverageError::new_err(args),
    }
}

fn curve_err(field: String, e: CurveError) -> PyErr {
    let index = match &e {
        CurveError::ScalarNotCanonical { index } => Some(*index),
        _ => None,
    };
    let args: ErrArgs = (format!("{field}: {e}"), field, index);
    match e {
        CurveError::Mismatch { .. } => ShapeError::new_err(args),
        CurveError::OutOfOrder { .. } | CurveError::ZeroChallenge => ParameterError::new_err(args),
        _ => EncodingError::new_err(args),
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        match e {
            Error::Input(e) => input_err(e),
            Error::Curve { field, error } => curve_err(field, error),
            Error::Type { field, message } => {
                DTypeError::new_err((format!("{field}: {message}"), field, None::<usize>))
            }
            Error::Layout { field } => ArrayLayoutError::new_err((
                format!("{field}: array is not C-contiguous; pass np.ascontiguousarray({field})"),
                field,
                None::<usize>,
            )),
            Error::Py(e) => e,
        }
    }
}

/// A plain `TypeError` from extracting a function argument as a `DTypeError` (PyO3 notes
/// the argument's name on it); other errors unchanged.
pub fn typed_argument(py: Python<'_>, e: PyErr) -> PyErr {
    if e.get_type(py).is(py.get_type::<PyTypeError>()) {
        DTypeError::new_err((e.value(py).to_string(), None::<String>, None::<usize>))
    } else {
        e
    }
}

/// A plain `TypeError` from an extraction (a numpy array of the wrong dtype, a `str`
/// where a number belongs) as a `DTypeError` naming `field`; other errors unchanged.
pub fn typed(py: Python<'_>, field: &str, e: PyErr) -> Error {
    if e.get_type(py).is(py.get_type::<PyTypeError>()) {
        Error::dtype(field, e.value(py).to_string())
    } else {
        Error::Py(e)
    }
}
