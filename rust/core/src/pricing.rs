//! Black-76 on the forward (docs/margin-model.md §2.1).

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use rayon::prelude::*;

use crate::error::{ErrorKind, Result, check_each, finite, finite_positive, same_len};
use crate::parallel::chunked_rows;

/// Price and sensitivities of one option; conventions in docs/margin-model.md §2.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    pub price: f64,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

pub fn norm_cdf(x: f64) -> f64 {
    // erfc keeps full relative precision in the far left tail, where 1 + erf would cancel.
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Black-76 for validated inputs (`f, k, t, vol > 0`, all finite).
pub fn black76(is_call: bool, f: f64, k: f64, t: f64, vol: f64, rate: f64) -> Greeks {
    let disc = (-rate * t).exp();
    let sqrt_t = t.sqrt();
    let sd = vol * sqrt_t;
    let d1 = ((f / k).ln() + 0.5 * sd * sd) / sd;
    let d2 = d1 - sd;
    let pdf1 = norm_pdf(d1);
    let (price, delta) = if is_call {
        (
            disc * (f * norm_cdf(d1) - k * norm_cdf(d2)),
            disc * norm_cdf(d1),
        )
    } else {
        (
            disc * (k * norm_cdf(-d2) - f * norm_cdf(-d1)),
            -disc * norm_cdf(-d1),
        )
    };
    let gamma = disc * pdf1 / (f * sd);
    let vega = disc * f * pdf1 * sqrt_t;
    let theta = rate * price - disc * f * pdf1 * vol / (2.0 * sqrt_t);
    Greeks {
        price,
        delta,
        gamma,
        vega,
        theta,
    }
}

/// Black-76 over equal-length columns, validated, in parallel; returns a `5 x n` block
/// (price, delta, gamma, vega, theta rows).
pub fn black76_batch(
    is_call: &[bool],
    f: &[f64],
    k: &[f64],
    t: &[f64],
    vol: &[f64],
    rate: &[f64],
) -> Result<Vec<f64>> {
    let n = is_call.len();
    for (field, col) in [
        ("forward", f),
        ("strike", k),
        ("t", t),
        ("vol", vol),
        ("rate", rate),
    ] {
        same_len(field, col.len(), n, "is_call")?;
    }
    finite_positive("forward", f)?;
    finite_positive("strike", k)?;
    finite_positive("vol", vol)?;
    finite("t", t)?;
    check_each(
        "t",
        t,
        ErrorKind::Expired,
        "time to expiry must be > 0",
        |x| x <= 0.0,
    )?;
    finite("rate", rate)?;
    let mut out = vec![0.0; 5 * n];
    chunked_rows(&mut out, 5, BATCH_CHUNK)
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut rows)| {
            let start = c * BATCH_CHUNK;
            for j in 0..rows[0].len() {
                let i = start + j;
                let g = black76(is_call[i], f[i], k[i], t[i], vol[i], rate[i]);
                for (row, x) in rows
                    .iter_mut()
                    .zip([g.price, g.delta, g.gamma, g.vega, g.theta])
                {
                    row[j] = x;
                }
            }
        });
    Ok(out)
}

const BATCH_CHUNK: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_call_parity() {
        let (f, k, t, v, r) = (105.0, 100.0, 0.7, 0.4, 0.03);
        let c = black76(true, f, k, t, v, r);
        let p = black76(false, f, k, t, v, r);
        let parity = (-r * t).exp() * (f - k);
        assert!((c.price - p.price - parity).abs() < 1e-12);
        assert!((c.delta - p.delta - (-r * t).exp()).abs() < 1e-14);
        assert_eq!(c.gamma, p.gamma);
        assert_eq!(c.vega, p.vega);
    }

    #[test]
    fn haug_reference_value() {
        // Haug's Black-Scholes example: S=60, K=65, r=8%, T=0.25, vol=30% -> 2.1334.
        // Black-76 on the forward F = S e^{rT} reproduces it.
        let (s, k, t, v, r): (f64, f64, f64, f64, f64) = (60.0, 65.0, 0.25, 0.30, 0.08);
        let g = black76(true, s * (r * t).exp(), k, t, v, r);
        assert!((g.price - 2.1334).abs() < 5e-5, "{}", g.price);
    }

    #[test]
    fn greeks_match_finite_differences() {
        let (f, k, t, v, r) = (3000.0, 3200.0, 0.3, 0.65, 0.02);
        let h = 1e-3;
        for call in [true, false] {
            let g = black76(call, f, k, t, v, r);
            let p = |f: f64, t: f64, v: f64| black76(call, f, k, t, v, r).price;
            let d = (p(f + h, t, v) - p(f - h, t, v)) / (2.0 * h);
            let gm = (p(f + h, t, v) - 2.0 * g.price + p(f - h, t, v)) / (h * h);
            let vg = (p(f, t, v + 1e-6) - p(f, t, v - 1e-6)) / 2e-6;
            let th = -(p(f, t + 1e-6, v) - p(f, t - 1e-6, v)) / 2e-6;
            assert!((d - g.delta).abs() < 1e-7, "delta {d} {}", g.delta);
            assert!((gm - g.gamma).abs() < 1e-6, "gamma {gm} {}", g.gamma);
            assert!((vg - g.vega).abs() < 1e-4, "vega {vg} {}", g.vega);
            assert!((th - g.theta).abs() < 1e-4, "theta {th} {}", g.theta);
        }
    }

    #[test]
    fn cdf_tails() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        // N(-10) = 7.6198530241605e-24 (tabulated); relative accuracy survives the tail.
        assert!((norm_cdf(-10.0) / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-12);
    }
}
