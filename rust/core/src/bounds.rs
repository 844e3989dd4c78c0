//! Input bounds: the ranges inside which every documented formula stays finite in double
//! precision (docs/margin-model.md §9, "Bounds"). They are far outside any real market and
//! book; a value beyond one is refused with a `Parameter` error naming the field and index
//! instead of overflowing to infinity or NaN somewhere downstream.
//!
//! Why these suffice: a per-contract value is at most `e^(|r| T) max(F, K) <= e^100 1e12`,
//! a Greek at most `e^(|r| T) / (F vol sqrt(T))` with the vol shocked down to at most 5% of
//! its floor, and an account sums at most `2^63` rows of `|q| cs` times those; every such
//! product stays below `1e300`.

use crate::error::{ErrorKind, InputError, Result};

/// Index prices, forwards, option strikes and collateral prices (USD).
pub const MIN_PRICE: f64 = 1e-12;
pub const MAX_PRICE: f64 = 1e12;
/// Times to expiry (years): 32 microseconds to a century.
pub const MIN_EXPIRY: f64 = 1e-12;
pub const MAX_EXPIRY: f64 = 100.0;
/// Option vols (fractions), up to the surfaces' `MAX_VOL` (10.0 = 1000%).
pub const MIN_VOL: f64 = 1e-6;
pub use crate::surface::MAX_VOL;
/// Continuously compounded rates, in either direction.
pub const MAX_RATE: f64 = 1.0;
/// Contract sizes (units of the underlying, or USD face for inverse delta-one).
pub const MAX_CONTRACT_SIZE: f64 = 1e9;
/// Position quantities (contracts) and collateral balances (units of the asset).
pub const MAX_QUANTITY: f64 = 1e12;
pub const MAX_BALANCE: f64 = 1e15;

/// The first value outside `[lo, hi]` (NaN included) as a `Parameter` error; callers check
/// finiteness first, so the error they raise for NaN and infinity keeps its own kind.
pub fn within(field: &str, values: &[f64], lo: f64, hi: f64) -> Result<()> {
    match values.iter().position(|&v| !(lo..=hi).contains(&v)) {
        Some(i) => {
            let v = values[i];
            let message = if lo == f64::NEG_INFINITY {
                format!("{v:e} is above the supported maximum {hi:e} (docs/margin-model.md §9)")
            } else {
                format!(
                    "{v:e} is outside the supported range [{lo:e}, {hi:e}] (docs/margin-model.md §9)"
                )
            };
            Err(InputError::at(ErrorKind::Parameter, field, i, message))
        }
        None => Ok(()),
    }
}

/// `within` on `|v|`: the first value with `|v| > max`.
pub fn magnitude(field: &str, values: &[f64], max: f64) -> Result<()> {
    within(field, values, -max, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_value_outside() {
        let err = within("spot", &[1.0, 1e13, 0.0], MIN_PRICE, MAX_PRICE).unwrap_err();
        assert_eq!(
            (err.kind, err.field.as_str(), err.index),
            (ErrorKind::Parameter, "spot", Some(1))
        );
        assert!(magnitude("quantity", &[-1e12, 1e12], MAX_QUANTITY).is_ok());
        assert_eq!(
            magnitude("quantity", &[-1.5e12], MAX_QUANTITY)
                .unwrap_err()
                .index,
            Some(0)
        );
    }
}
