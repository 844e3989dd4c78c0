//! Dynamic margin (docs/margin-model.md §10 onwards): volatility estimation and dynamic
//! scan ranges with anti-procyclicality, joint scenarios (historical, filtered historical,
//! Monte Carlo), fused per-account VaR / expected shortfall, liquidity and concentration
//! add-ons, volatility- and size-dependent collateral haircuts, and partial liquidation.
//!
//! Everything here consumes the core's own outputs (risk arrays from `risk`, equity and
//! requirements from `margin`) rather than re-valuing instruments, so the dynamic layer
//! can never disagree with the base model about what a position is worth.

pub mod addons;
pub mod liquidation;
pub mod rng;
pub mod scan;
pub mod scenarios;
pub mod var;
pub mod vol;

use crate::error::{ErrorKind, InputError, Result};

/// A finite scalar parameter inside `[lo, hi]` (inclusive bounds).
pub(crate) fn param_in(field: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(InputError::whole(
            ErrorKind::Parameter,
            field,
            format!("must be finite and {} (got {value})", range_text(lo, hi)),
        ))
    }
}

/// `[lo, hi]` in words, without spelling out `f64::MAX` or `f64::MIN_POSITIVE` (which
/// stand for "no upper bound" and "> 0").
fn range_text(lo: f64, hi: f64) -> String {
    match (lo == f64::MIN_POSITIVE, hi == f64::MAX) {
        (true, true) => "> 0".to_string(),
        (false, true) => format!(">= {lo}"),
        (true, false) => format!("> 0 and <= {hi}"),
        (false, false) => format!("in [{lo}, {hi}]"),
    }
}

/// A probability strictly inside (0, 1), e.g. a VaR confidence level or EWMA decay.
pub(crate) fn open_unit(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(InputError::whole(
            ErrorKind::Parameter,
            field,
            format!("must be in (0, 1) (got {value})"),
        ))
    }
}
