//! Black-76 on the forward (docs/margin-model.md §2.1).

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use rayon::prelude::*;

use crate::error::{ErrorKind, Result, check_each, finite, finite_positive, same_len};
use crate::parallel::{chunk_groups, zeroed_rows};

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
    // A put uses N(-d) directly rather than 1 - N(d), which would cancel in the tails.
    let sign = if is_call { 1.0 } else { -1.0 };
    let n1 = norm_cdf(sign * d1);
    let n2 = norm_cdf(sign * d2);
    let price = sign * disc * (f * n1 - k * n2);
    let delta = sign * disc * n1;
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

/// One input column of a batch: either one value per option or a single broadcast value.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a, T> {
    pub name: &'static str,
    pub values: &'a [T],
}

impl<T: Copy> Column<'_, T> {
    fn get(&self, i: usize) -> T {
        if self.values.len() == 1 {
            self.values[0]
        } else {
            self.values[i]
        }
    }
}

/// Black-76 over columns of length `n` or 1 (broadcast), validated, in parallel; returns
/// the five rows price, delta, gamma, vega, theta.
pub fn black76_batch(
    is_call: Column<'_, bool>,
    f: Column<'_, f64>,
    k: Column<'_, f64>,
    t: Column<'_, f64>,
    vol: Column<'_, f64>,
    rate: Column<'_, f64>,
) -> Result<Vec<Vec<f64>>> {
    let floats = [f, k, t, vol, rate];
    let n = floats
        .iter()
        .map(|c| c.values.len())
        .chain([is_call.values.len()])
        .max()
        .unwrap_or(0);
    for c in floats {
        if c.values.len() != n && c.values.len() != 1 {
            same_len(c.name, c.values.len(), n, "the longest input")?;
        }
    }
    if is_call.values.len() != n && is_call.values.len() != 1 {
        same_len(is_call.name, is_call.values.len(), n, "the longest input")?;
    }
    finite_positive(f.name, f.values)?;
    finite_positive(k.name, k.values)?;
    finite_positive(vol.name, vol.values)?;
    finite(t.name, t.values)?;
    check_each(
        t.name,
        t.values,
        ErrorKind::Expired,
        "time to expiry must be > 0",
        |x| x <= 0.0,
    )?;
    finite(rate.name, rate.values)?;
    let mut out = zeroed_rows(5, n);
    chunk_groups(out.iter_mut().map(Vec::as_mut_slice), BATCH_CHUNK)
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut rows)| {
            let start = c * BATCH_CHUNK;
            for j in 0..rows[0].len() {
                let i = start + j;
                let g = black76(
                    is_call.get(i),
                    f.get(i),
                    k.get(i),
                    t.get(i),
                    vol.get(i),
                    rate.get(i),
                );
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
