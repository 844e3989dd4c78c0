//! Map core errors onto the Python hierarchy in `zkmargin.errors` (defined in Python so
//! there is exactly one set of classes).

use pyo3::PyErr;
use zkmargin_core::error::{ErrorKind, InputError};

pyo3::import_exception!(zkmargin.errors, NonFiniteError);
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

/// Arguments every `InputError` subclass takes: (message, field, index).
pub type ErrArgs = (String, String, Option<usize>);

pub fn core_err(e: InputError) -> PyErr {
    let args: ErrArgs = (e.to_string(), e.field, e.index);
    match e.kind {
        ErrorKind::NonFinite => NonFiniteError::new_err(args),
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

pub fn layout_err(field: &str) -> PyErr {
    ArrayLayoutError::new_err((
        format!("{field}: array is not C-contiguous; pass np.ascontiguousarray({field})"),
        field.to_owned(),
        None::<usize>,
    ))
}

pub fn shape_err(field: &str, message: String) -> PyErr {
    ShapeError::new_err((
        format!("{field}: {message}"),
        field.to_owned(),
        None::<usize>,
    ))
}
