//! Dynamic scan ranges and anti-procyclicality tools (docs/margin-model.md §10.2-§10.3).

use super::{open_unit, param_in};
use crate::error::{ErrorKind, InputError, Result, finite, same_len};

/// Parameters of `range = clamp(k * sigma * sqrt(horizon), floor, cap)`.
#[derive(Debug, Clone, Copy)]
pub struct ScanRule {
    pub k: f64,
    pub horizon: f64,
    pub floor: f64,
    pub cap: f64,
}

impl ScanRule {
    pub fn validate(&self) -> Result<()> {
        param_in("k", self.k, f64::MIN_POSITIVE, f64::MAX)?;
        param_in("horizon", self.horizon, f64::MIN_POSITIVE, f64::MAX)?;
        param_in("floor", self.floor, 0.0, self.cap.min(f64::MAX))?;
        open_unit("cap", self.cap)?;
        Ok(())
    }

    /// The range for one annualised volatility.
    pub fn range(&self, sigma: f64) -> f64 {
        (self.k * sigma * self.horizon.sqrt()).clamp(self.floor, self.cap)
    }
}

fn nonnegative(field: &str, values: &[f64]) -> Result<()> {
    finite(field, values)?;
    crate::error::check_each(field, values, ErrorKind::Parameter, "must be >= 0", |v| {
        v < 0.0
    })
}

/// Scan range per underlying from annualised volatilities.
pub fn scan_ranges(sigma: &[f64], rule: &ScanRule) -> Result<Vec<f64>> {
    rule.validate()?;
    nonnegative("sigma", sigma)?;
    Ok(sigma.iter().map(|&s| rule.range(s)).collect())
}

/// Anti-procyclical volatility `max(lookback, (1 - w) current + w stressed)`: a floor from a
/// long look-back and a fixed weight `w` on the stressed-period volatility, so a calm
/// market never drives the estimate (and the margin) to its cyclical low.
pub fn apc_vol(
    current: &[f64],
    lookback: &[f64],
    stressed: &[f64],
    stress_weight: f64,
) -> Result<Vec<f64>> {
    nonnegative("current", current)?;
    same_len("lookback", lookback.len(), current.len(), "current")?;
    same_len("stressed", stressed.len(), current.len(), "current")?;
    nonnegative("lookback", lookback)?;
    nonnegative("stressed", stressed)?;
    param_in("stress_weight", stress_weight, 0.0, 1.0)?;
    Ok((0..current.len())
        .map(|u| lookback[u].max((1.0 - stress_weight) * current[u] + stress_weight * stressed[u]))
        .collect())
}

/// Rate-limited path of requirements (or ranges), `n x U` time-major:
/// `out[0] = target[0]`, `out[t] = min(target[t], out[t-1] (1 + max_rise))`.
/// Decreases pass through at once; increases are spread over several updates so margin
/// calls do not spike at the moment liquidity is scarcest.
pub fn cap_path(targets: &[f64], n: usize, n_und: usize, max_rise: f64) -> Result<Vec<f64>> {
    super::vol::check_matrix("targets", targets, n, n_und, 1)?;
    nonnegative("targets", targets)?;
    if !(max_rise.is_finite() && max_rise >= 0.0) {
        return Err(InputError::whole(
            ErrorKind::Parameter,
            "max_rise",
            format!("must be finite and >= 0 (got {max_rise})"),
        ));
    }
    let mut out = targets.to_vec();
    for t in 1..n {
        for u in 0..n_und {
            let prev = out[(t - 1) * n_und + u];
            let k = t * n_und + u;
            out[k] = out[k].min(prev * (1.0 + max_rise));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp() {
        let rule = ScanRule {
            k: 2.0,
            horizon: 0.25,
            floor: 0.05,
            cap: 0.5,
        };
        // 2 * sigma * 0.5 = sigma
        assert_eq!(
            scan_ranges(&[0.01, 0.3, 0.9], &rule).unwrap(),
            vec![0.05, 0.3, 0.5]
        );
        let bad = ScanRule { cap: 1.0, ..rule };
        assert_eq!(scan_ranges(&[0.1], &bad).unwrap_err().field, "cap");
    }

    #[test]
    fn path_limits_rises_only() {
        let p = cap_path(&[1.0, 3.0, 3.0, 0.5], 4, 1, 0.5).unwrap();
        assert_eq!(p, vec![1.0, 1.5, 2.25, 0.5]);
    }
}
