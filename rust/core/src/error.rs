//! The core's one error type. Every check names the field and, where there is one, the
//! first offending index, so the Python layer can raise a precise typed exception.

use std::fmt;

/// What class of mistake the input has; maps 1:1 onto `zkmargin.errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NonFinite,
    /// Finite inputs whose result is NaN or infinite (an output, not an input, is named).
    NonFiniteResult,
    NonPositive,
    Expired,
    Shape,
    IndexOutOfRange,
    Offsets,
    Parameter,
    NotPositiveSemidefinite,
    /// A price outside its no-arbitrage bounds (or within rounding of one).
    Arbitrage,
    /// A vol surface that does not cover an option's expiry.
    Coverage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub kind: ErrorKind,
    pub field: String,
    pub index: Option<usize>,
    pub message: String,
}

impl InputError {
    pub fn new(
        kind: ErrorKind,
        field: &str,
        index: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            field: field.to_owned(),
            index,
            message: message.into(),
        }
    }

    pub fn at(kind: ErrorKind, field: &str, index: usize, message: impl Into<String>) -> Self {
        Self::new(kind, field, Some(index), message)
    }

    pub fn whole(kind: ErrorKind, field: &str, message: impl Into<String>) -> Self {
        Self::new(kind, field, None, message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{}]: {}", self.field, i, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for InputError {}

pub type Result<T> = std::result::Result<T, InputError>;

/// First index where `bad` holds, as an error of `kind`.
pub fn check_each(
    field: &str,
    values: &[f64],
    kind: ErrorKind,
    what: &str,
    bad: impl Fn(f64) -> bool,
) -> Result<()> {
    match values.iter().position(|&v| bad(v)) {
        Some(i) => Err(InputError::at(
            kind,
            field,
            i,
            format!("{} (got {})", what, values[i]),
        )),
        None => Ok(()),
    }
}

pub fn finite(field: &str, values: &[f64]) -> Result<()> {
    check_each(field, values, ErrorKind::NonFinite, "must be finite", |v| {
        !v.is_finite()
    })
}

pub fn finite_positive(field: &str, values: &[f64]) -> Result<()> {
    finite(field, values)?;
    check_each(field, values, ErrorKind::NonPositive, "must be > 0", |v| {
        v <= 0.0
    })
}

pub fn same_len(field: &str, len: usize, expected: usize, other: &str) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(InputError::whole(
            ErrorKind::Shape,
            field,
            format!("length {len} does not match {other} ({expected})"),
        ))
    }
}
