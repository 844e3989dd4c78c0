//! The one error type of the curve crate: every malformed input maps to one variant.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurveError {
    /// Input of the wrong size.
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A base-field coordinate >= p.
    CoordinateNotCanonical,
    /// A scalar >= r (the index says which element of a vector).
    ScalarNotCanonical { index: usize },
    /// Coordinates that do not satisfy y^2 = x^3 + 3.
    NotOnCurve,
    /// Compressed encoding with invalid flag bits (both set, or infinity with payload).
    BadFlags,
    /// Vectors that must have the same length do not.
    Mismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// A prover step called out of protocol order.
    OutOfOrder { step: &'static str },
    /// A challenge that must be invertible is zero.
    ZeroChallenge,
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurveError::Length {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected {expected} bytes, got {got}")
            }
            CurveError::CoordinateNotCanonical => {
                write!(f, "point coordinate is not below the field modulus p")
            }
            CurveError::ScalarNotCanonical { index } => {
                write!(f, "scalar {index} is not below the group order r")
            }
            CurveError::NotOnCurve => write!(f, "point is not on the curve y^2 = x^3 + 3"),
            CurveError::BadFlags => write!(f, "compressed point has invalid flag bits"),
            CurveError::Mismatch { what, left, right } => {
                write!(f, "{what}: lengths differ ({left} vs {right})")
            }
            CurveError::OutOfOrder { step } => write!(f, "{step} called out of protocol order"),
            CurveError::ZeroChallenge => write!(f, "challenge is zero"),
        }
    }
}

impl std::error::Error for CurveError {}

pub type Result<T> = std::result::Result<T, CurveError>;
