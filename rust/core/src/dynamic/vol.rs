//! Volatility estimation from price histories (docs/margin-model.md §10.1).
//!
//! Histories are time-major `T x U` row-major matrices: row `t` holds the prices of every
//! underlying at observation `t`, so one row is one joint observation.

use super::{open_unit, param_in};
use crate::error::{ErrorKind, InputError, Result};

/// Log returns `r[t, u] = ln(P[t+1, u] / P[t, u])`, `(T-1) x U`.
///
/// Errors: `T < 2` (Shape), a non-finite price (NonFinite) or a price `<= 0` (NonPositive),
/// each naming `prices` and the flat index of the first bad entry.
pub fn log_returns(prices: &[f64], n_obs: usize, n_und: usize) -> Result<Vec<f64>> {
    check_matrix("prices", prices, n_obs, n_und, 2)?;
    crate::error::finite_positive("prices", prices)?;
    let mut out = Vec::with_capacity((n_obs - 1) * n_und);
    for t in 0..n_obs - 1 {
        for u in 0..n_und {
            out.push((prices[(t + 1) * n_und + u] / prices[t * n_und + u]).ln());
        }
    }
    Ok(out)
}

/// Shape checks shared by every history input: `rows x cols` elements, `rows >= min_rows`,
/// `cols >= 1`.
pub(crate) fn check_matrix(
    field: &str,
    data: &[f64],
    rows: usize,
    cols: usize,
    min_rows: usize,
) -> Result<()> {
    if cols == 0 {
        return Err(InputError::whole(
            ErrorKind::Shape,
            field,
            "needs at least one underlying (column)",
        ));
    }
    if data.len() != rows * cols {
        return Err(InputError::whole(
            ErrorKind::Shape,
            field,
            format!("has {} entries, expected {rows} x {cols}", data.len()),
        ));
    }
    if rows < min_rows {
        return Err(InputError::whole(
            ErrorKind::Shape,
            field,
            format!("history too short: {rows} observations, at least {min_rows} needed"),
        ));
    }
    Ok(())
}

/// RiskMetrics EWMA volatility per period, `n x U`: row `t` is the estimate after
/// observing return `t`, seeded with `sigma2[0] = r[0]^2` and updated by
/// `sigma2[t] = lambda sigma2[t-1] + (1 - lambda) r[t]^2`.
pub fn ewma_vol(returns: &[f64], n: usize, n_und: usize, lambda: f64) -> Result<Vec<f64>> {
    check_matrix("returns", returns, n, n_und, 1)?;
    crate::error::finite("returns", returns)?;
    open_unit("lambda", lambda)?;
    let mut var: Vec<f64> = returns[..n_und].iter().map(|r| r * r).collect();
    let mut out = Vec::with_capacity(n * n_und);
    out.extend(var.iter().map(|v| v.sqrt()));
    for t in 1..n {
        for u in 0..n_und {
            let r = returns[t * n_und + u];
            var[u] = lambda * var[u] + (1.0 - lambda) * r * r;
            out.push(var[u].sqrt());
        }
    }
    Ok(out)
}

/// Rolling sample standard deviation (mean-adjusted, `ddof = 1`) over the last `window`
/// returns, `(n - window + 1) x U`: row `k` covers returns `k .. k + window`.
pub fn rolling_vol(returns: &[f64], n: usize, n_und: usize, window: usize) -> Result<Vec<f64>> {
    if window < 2 {
        return Err(InputError::whole(
            ErrorKind::Parameter,
            "window",
            format!("must be >= 2 (got {window})"),
        ));
    }
    check_matrix("returns", returns, n, n_und, window)?;
    crate::error::finite("returns", returns)?;
    let rows = n - window + 1;
    let mut out = Vec::with_capacity(rows * n_und);
    for k in 0..rows {
        for u in 0..n_und {
            // Two passes per window: exact enough to match the reference to rounding, and
            // immune to the cancellation of running-sum updates on long quiet histories.
            let col = (k..k + window).map(|t| returns[t * n_und + u]);
            let mean = col.clone().sum::<f64>() / window as f64;
            let ss: f64 = col.map(|r| (r - mean) * (r - mean)).sum();
            out.push((ss / (window - 1) as f64).sqrt());
        }
    }
    Ok(out)
}

/// Annualised volatility `sigma * sqrt(periods_per_year)` (365 for crypto's daily bars).
pub fn annualise(vol: &[f64], periods_per_year: f64) -> Result<Vec<f64>> {
    param_in(
        "periods_per_year",
        periods_per_year,
        f64::MIN_POSITIVE,
        f64::MAX,
    )?;
    crate::error::finite("vol", vol)?;
    let k = periods_per_year.sqrt();
    Ok(vol.iter().map(|v| v * k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_matches_hand_recursion() {
        let r = [0.01, -0.02, 0.03];
        let v = ewma_vol(&r, 3, 1, 0.9).unwrap();
        let s0 = 0.0001_f64;
        let s1 = 0.9 * s0 + 0.1 * 0.0004;
        let s2 = 0.9 * s1 + 0.1 * 0.0009;
        for (got, want) in v.iter().zip([s0.sqrt(), s1.sqrt(), s2.sqrt()]) {
            assert!((got - want).abs() < 1e-16, "{got} vs {want}");
        }
    }

    #[test]
    fn short_and_bad_histories_are_rejected() {
        assert_eq!(
            log_returns(&[100.0], 1, 1).unwrap_err().kind,
            ErrorKind::Shape
        );
        let e = log_returns(&[100.0, f64::NAN], 2, 1).unwrap_err();
        assert_eq!((e.kind, e.index), (ErrorKind::NonFinite, Some(1)));
        let e = log_returns(&[100.0, 0.0], 2, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NonPositive);
        assert_eq!(
            ewma_vol(&[0.1], 1, 1, 1.0).unwrap_err().kind,
            ErrorKind::Parameter
        );
        assert_eq!(
            rolling_vol(&[0.1, 0.2], 2, 1, 3).unwrap_err().kind,
            ErrorKind::Shape
        );
    }

    #[test]
    fn rolling_is_sample_std() {
        let v = rolling_vol(&[1.0, 2.0, 3.0, 5.0], 4, 1, 3).unwrap();
        assert!((v[0] - 1.0).abs() < 1e-15);
        assert!((v[1] - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
