//! Joint scenarios across underlyings (docs/margin-model.md §10.4): every row is one joint
//! relative price move of all `U` underlyings, ready for a custom `ScenarioTable` with
//! vol shock 0 and weight 1.

use super::param_in;
use super::rng::SplitMix64;
use super::vol::{check_matrix, ewma_vol};
use crate::error::{ErrorKind, InputError, Result, finite};
use crate::linalg::check_correlation;

/// Overlapping `horizon`-period moves `m = exp(sum of horizon log returns) - 1`,
/// `(n - horizon + 1) x U`.
pub fn historical(returns: &[f64], n: usize, n_und: usize, horizon: usize) -> Result<Vec<f64>> {
    if horizon == 0 {
        return Err(InputError::whole(
            ErrorKind::Parameter,
            "horizon",
            "must be >= 1",
        ));
    }
    check_matrix("returns", returns, n, n_und, horizon)?;
    finite("returns", returns)?;
    let rows = n - horizon + 1;
    let mut out = Vec::with_capacity(rows * n_und);
    for s in 0..rows {
        for u in 0..n_und {
            let x: f64 = (s..s + horizon).map(|t| returns[t * n_und + u]).sum();
            out.push(x.exp_m1());
        }
    }
    Ok(out)
}

/// Filtered historical simulation: `r~[t] = r[t] * sigma[n-1] / sigma[t-1]` for
/// `t = 1 .. n-1` with `sigma` the EWMA volatility (`lambda`), so every past return is
/// replayed at today's volatility; then the same aggregation as [`historical`].
pub fn filtered_historical(
    returns: &[f64],
    n: usize,
    n_und: usize,
    lambda: f64,
    horizon: usize,
) -> Result<Vec<f64>> {
    if horizon == 0 {
        return Err(InputError::whole(
            ErrorKind::Parameter,
            "horizon",
            "must be >= 1",
        ));
    }
    check_matrix("returns", returns, n, n_und, horizon + 1)?;
    let sig = ewma_vol(returns, n, n_und, lambda)?;
    if let Some(k) = sig[..(n - 1) * n_und].iter().position(|&s| s <= 0.0) {
        return Err(InputError::at(
            ErrorKind::NonPositive,
            "returns",
            k,
            "EWMA volatility is zero here (constant prices), so later returns cannot be filtered",
        ));
    }
    let now = &sig[(n - 1) * n_und..];
    let mut scaled = Vec::with_capacity((n - 1) * n_und);
    for t in 1..n {
        for u in 0..n_und {
            scaled.push(returns[t * n_und + u] * now[u] / sig[(t - 1) * n_und + u]);
        }
    }
    historical(&scaled, n - 1, n_und, horizon)
}

/// Monte Carlo joint moves, `n_scen x U`: `z = L eps` with `L` the core's Cholesky factor
/// of `rho + 1e-10 I` (`linalg::check_correlation`, which rejects matrices that are not
/// symmetric positive semi-definite),  `eps` i.i.d. standard normals
/// drawn scenario-major from `SplitMix64(seed)`, log move `x = sigma sqrt(h) z - sigma^2 h / 2`
/// (so `E[1 + m] = 1`), `m = exp(x) - 1`.
pub fn monte_carlo(
    sigma: &[f64],
    rho: &[f64],
    horizon: f64,
    n_scen: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let n_und = sigma.len();
    let l = check_correlation("correlation", rho, n_und)?;
    finite("sigma", sigma)?;
    crate::error::check_each("sigma", sigma, ErrorKind::Parameter, "must be >= 0", |v| {
        v < 0.0
    })?;
    param_in("horizon", horizon, f64::MIN_POSITIVE, f64::MAX)?;
    if n_scen == 0 {
        return Err(InputError::whole(
            ErrorKind::Parameter,
            "n_scenarios",
            "must be >= 1",
        ));
    }
    let eps = SplitMix64::new(seed).normals(n_scen * n_und);
    let sd: Vec<f64> = sigma.iter().map(|s| s * horizon.sqrt()).collect();
    let mut out = Vec::with_capacity(n_scen * n_und);
    for s in 0..n_scen {
        let e = &eps[s * n_und..(s + 1) * n_und];
        for u in 0..n_und {
            let z: f64 = (0..=u).map(|k| l[u * n_und + k] * e[k]).sum();
            out.push((sd[u] * z - 0.5 * sd[u] * sd[u]).exp_m1());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monte_carlo_rejects_bad_correlation() {
        let bad = [1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0];
        let e = monte_carlo(&[0.5; 3], &bad, 0.01, 10, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotPositiveSemidefinite);
        // Perfectly correlated underlyings are PSD (singular) and accepted.
        assert!(monte_carlo(&[0.5; 2], &[1.0, 1.0, 1.0, 1.0], 0.01, 10, 1).is_ok());
    }

    #[test]
    fn historical_sums_log_returns() {
        let r = [0.1, -0.1, 0.2];
        let m = historical(&r, 3, 1, 2).unwrap();
        assert!((m[0] - 0.0).abs() < 1e-15 && (m[1] - 0.1f64.exp_m1()).abs() < 1e-15);
    }

    #[test]
    fn monte_carlo_is_seeded() {
        let a = monte_carlo(&[0.8], &[1.0], 1.0 / 365.0, 10, 42).unwrap();
        let b = monte_carlo(&[0.8], &[1.0], 1.0 / 365.0, 10, 42).unwrap();
        let c = monte_carlo(&[0.8], &[1.0], 1.0 / 365.0, 10, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
