//! Implied volatility of Black-76 prices (docs/margin-model.md §2.4).
//!
//! Every option is reduced to an out-of-the-money call in normalised form (Jäckel, "Let's
//! be rational", 2015): with `x = -|ln(F/K)|` and `s = vol sqrt(T)`,
//! `b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)`, which rises from 0 to
//! `b_max = e^{x/2}` with one inflection at `s_c = sqrt(2|x|)`. Below the inflection the
//! solver runs Newton on `1/ln b`, above it on `ln(b_max - b)`; both are close to
//! quadratic in `s` on their side, so Newton from the asymptotic guess converges in a
//! handful of steps, and a bracket kept around the root turns any step that leaves it
//! into a bisection. The tails are formed from the scaled Mills ratio, never as `1 - N`.

use rayon::prelude::*;

use crate::bounds;
use crate::error::{ErrorKind, InputError, Result, check_each, finite, finite_positive};
use crate::fastmath::{exp, ln};
use crate::normal::{INV_SQRT_2PI, Z_MAX, gauss_scaled, scaled_mills};
use crate::pricing::{Column, broadcast_len};

/// Largest `vol sqrt(T)` the solver returns: beyond it `b_max - b` is below the smallest
/// double, so no price distinguishes the vol.
const S_MAX: f64 = 2.0 * Z_MAX - 2.0;

/// A bound on the Newton steps (each either shrinks the bracket or converges); from the
/// asymptotic guesses the solver needs a handful.
const MAX_STEPS: usize = 64;

/// Why a price has no implied vol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoVol {
    /// At or below the discounted intrinsic value `e^{-rT} max(F - K, 0)` (call).
    AtOrBelowIntrinsic,
    /// At or above the upper bound `e^{-rT} F` (call) or `e^{-rT} K` (put).
    AtOrAboveUpper,
    /// Inside the bounds, but its time value underflows or lies within rounding of the
    /// upper bound, so no finite vol in double precision reproduces it.
    NotIdentifiable,
}

impl NoVol {
    fn describe(self) -> &'static str {
        match self {
            NoVol::AtOrBelowIntrinsic => {
                "price is at or below the discounted intrinsic value (no-arbitrage lower bound)"
            }
            NoVol::AtOrAboveUpper => {
                "price is at or above the discounted forward (call) or strike (put), \
                 the no-arbitrage upper bound"
            }
            NoVol::NotIdentifiable => {
                "price is within rounding of a no-arbitrage bound: its time value does not \
                 determine a vol in double precision"
            }
        }
    }
}

/// `(1 - N(z)) e^{z^2/2}` for any `z >= 0`: the fitted table up to `Z_MAX`, the
/// asymptotic series past it (its first omitted term is below 1e-16 there).
#[inline(always)]
fn mills(z: f64) -> f64 {
    if z <= Z_MAX {
        scaled_mills(z)
    } else {
        let w = 1.0 / (z * z);
        INV_SQRT_2PI / z * (1.0 - w * (1.0 - 3.0 * w * (1.0 - 5.0 * w)))
    }
}

/// `1 / (n! (2n + 1) (-2)^n)`: `N(z) - 1/2 = z / sqrt(2 pi) sum_n c_n z^{2n}`.
const HALF_CDF: [f64; 13] = {
    let mut c = [0.0; 13];
    let mut fact = 1.0;
    let mut n = 0;
    while n < 13 {
        if n > 0 {
            fact *= -2.0 * n as f64;
        }
        c[n] = 1.0 / (fact * (2 * n + 1) as f64);
        n += 1;
    }
    c
};

/// `N(z) - 1/2` for `z >= 0` without the cancellation of `N(z) - 1/2` near zero: the
/// Taylor series of the density's integral up to 0.75 (13 terms reach 1e-17), the tail
/// beyond.
#[inline(always)]
fn half_cdf(z: f64) -> f64 {
    if z < 0.75 {
        let w = z * z;
        let sum = HALF_CDF.iter().rev().fold(0.0, |acc, &c| acc * w + c);
        INV_SQRT_2PI * z * sum
    } else {
        0.5 - gauss_scaled(z, scaled_mills(z.min(Z_MAX)))
    }
}

/// `e^{-(h^2 + t^2)/2} = e^{x/2} e^{-d1^2/2}`, the factor both N terms share (x = 2 h t).
#[inline(always)]
fn shared_factor(d1: f64, b_max: f64) -> f64 {
    if d1.abs() <= Z_MAX {
        gauss_scaled(d1, b_max)
    } else {
        0.0
    }
}

/// `b(x, s)` and `db/ds` where `d1 = x/s + s/2 <= 0` (below the inflection): both N are
/// lower tails.
#[inline(always)]
fn b_lower(x: f64, s: f64, b_max: f64) -> (f64, f64) {
    let d1 = x / s + 0.5 * s;
    let d2 = d1 - s;
    let q = shared_factor(d1, b_max);
    (q * (mills(-d1) - mills(-d2)), q * INV_SQRT_2PI)
}

/// `b(x, s)` and `db/ds` where `d2 < 0 < d1`: `b = e^{x/2} (N(d1) - N(d2)) + 2 sinh(x/2)
/// N(d2)`, a sum of two half-cdfs plus a term that is small near the money, so nothing
/// cancels (`b_max - gap` would lose the digits of a small `b`). `sinh2 = 2 sinh(x/2)`.
#[inline(always)]
fn b_upper(x: f64, s: f64, b_max: f64, sinh2: f64) -> (f64, f64) {
    let d1 = x / s + 0.5 * s;
    let d2 = d1 - s;
    let q = shared_factor(d1, b_max);
    let n2 = if -d2 <= Z_MAX {
        gauss_scaled(d2, mills(-d2))
    } else {
        0.0
    };
    let b = b_max * (half_cdf(d1.max(0.0)) + half_cdf(-d2)) + sinh2 * n2;
    (b, q * INV_SQRT_2PI)
}

/// `b_max - b(x, s)` and `db/ds` where `d1 > 0`: two upper tails, nothing cancels.
#[inline(always)]
fn gap_upper(x: f64, s: f64, b_max: f64) -> (f64, f64) {
    let d1 = x / s + 0.5 * s;
    let d2 = d1 - s;
    let q = shared_factor(d1, b_max);
    (q * (mills(d1) + mills(-d2)), q * INV_SQRT_2PI)
}

/// `s = vol sqrt(T)` with `b(x, s) = beta`, given `gap = b_max - beta` computed from the
/// inputs (not by subtraction), for `x <= 0` and `0 < beta < b_max`.
fn solve_normalised(x: f64, beta: f64, gap: f64) -> std::result::Result<f64, NoVol> {
    let b_max = exp(0.5 * x);
    let s_c = (-2.0 * x).sqrt();
    let b_c = if s_c > 0.0 {
        b_lower(x, s_c, b_max).0
    } else {
        0.0
    };
    // Which objective: below the inflection 1/ln b; above it ln(b_max - b) when the
    // price is near its upper bound, b itself otherwise (ln of a gap near b_max would
    // lose the digits of a small beta).
    let region = if beta < b_c {
        Region::Lower
    } else if gap < 0.5 * b_max {
        Region::NearUpper
    } else {
        Region::Upper
    };
    let (ln_beta, ln_gap) = (ln(beta), ln(gap));
    let sinh2 = (0.5 * x).exp_m1() - (-0.5 * x).exp_m1();
    // Objective and its derivative in s, each falling as s rises.
    let objective = |s: f64| -> (f64, f64) {
        match region {
            Region::Lower => {
                // 1/ln b falls because ln b < 0 rises.
                let (b, vega) = b_lower(x, s, b_max);
                let lb = ln(b);
                (1.0 / lb - 1.0 / ln_beta, -vega / (b * lb * lb))
            }
            Region::Upper => {
                let (b, vega) = b_upper(x, s, b_max, sinh2);
                (beta - b, -vega)
            }
            Region::NearUpper => {
                let (g, vega) = gap_upper(x, s, b_max);
                (ln(g) - ln_gap, -vega / g)
            }
        }
    };
    let (mut lo, mut hi, mut s) = if region == Region::Lower {
        if ln_beta < -700.0 {
            return Err(NoVol::NotIdentifiable);
        }
        // b ~ e^{-x^2 / (2 s^2)} for small s.
        let guess = (-x / (-2.0 * ln_beta).sqrt()).min(s_c);
        (0.0, s_c, guess)
    } else {
        if ln_gap < -700.0 {
            return Err(NoVol::NotIdentifiable);
        }
        // b_max - b ~ 2 N(-s/2) ~ e^{-s^2/8} for large s; never left of s_c, nor of
        // sqrt(2 pi) beta (b <= s / sqrt(2 pi), tight at the money for small s).
        let guess = (-8.0 * (ln_gap - std::f64::consts::LN_2))
            .sqrt()
            .max(s_c)
            .max(2.506_628_274_631_000_7 * beta);
        (s_c, S_MAX, guess.min(S_MAX))
    };
    for _ in 0..MAX_STEPS {
        let (f, df) = objective(s);
        if f == 0.0 {
            return Ok(s);
        }
        if f < 0.0 {
            hi = s;
        } else {
            lo = s;
        }
        let newton = s - f / df;
        let next = if newton > lo && newton < hi && newton.is_finite() {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - s).abs() <= f64::EPSILON * s || hi - lo <= 2.0 * f64::EPSILON * hi {
            return finish(next, region);
        }
        s = next;
    }
    finish(s, region)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Lower,
    Upper,
    NearUpper,
}

fn finish(s: f64, region: Region) -> std::result::Result<f64, NoVol> {
    if region != Region::Lower && s >= S_MAX * (1.0 - 1e-12) {
        Err(NoVol::NotIdentifiable)
    } else {
        Ok(s)
    }
}

/// Implied Black-76 vol of one validated option (`f, k, t > 0`, all finite).
pub fn implied_vol(
    is_call: bool,
    price: f64,
    f: f64,
    k: f64,
    t: f64,
    rate: f64,
) -> std::result::Result<f64, NoVol> {
    // The same discount factor as `black76`, so a round trip sees the same forward price.
    let disc = exp(-rate * t);
    let p = price / disc;
    let (upper, intrinsic) = if is_call {
        (f, (f - k).max(0.0))
    } else {
        (k, (k - f).max(0.0))
    };
    if p >= upper {
        return Err(NoVol::AtOrAboveUpper);
    }
    if p <= intrinsic {
        return Err(NoVol::AtOrBelowIntrinsic);
    }
    let itm = intrinsic > 0.0;
    // Put-call parity moves an in-the-money option to its out-of-the-money twin; the
    // distance to the upper bound is the same for both, upper - p.
    let otm = if itm { p - intrinsic } else { p };
    let root = (f * k).sqrt();
    let x = -ln(f / k).abs();
    let s = solve_normalised(x, otm / root, (upper - p) / root)?;
    Ok(s / t.sqrt())
}

/// Options per parallel task.
const CHUNK: usize = 4096;

/// Implied vols over columns of length `n` or 1 (broadcast), in parallel. Inputs are
/// validated as for `black76_batch`, prices must be finite and >= 0, and the first price
/// without an implied vol is reported with its index.
pub fn implied_vol_batch(
    price: Column<'_, f64>,
    is_call: Column<'_, bool>,
    f: Column<'_, f64>,
    k: Column<'_, f64>,
    t: Column<'_, f64>,
    rate: Column<'_, f64>,
) -> Result<Vec<f64>> {
    let n = broadcast_len(&[price, f, k, t, rate], is_call)?;
    finite(price.name, price.values)?;
    if let Some(i) = price.values.iter().position(|&p| p < 0.0) {
        return Err(InputError::at(
            ErrorKind::NonPositive,
            price.name,
            i,
            format!("option price must be >= 0 (got {})", price.values[i]),
        ));
    }
    finite_positive(f.name, f.values)?;
    finite_positive(k.name, k.values)?;
    finite(t.name, t.values)?;
    check_each(
        t.name,
        t.values,
        ErrorKind::Expired,
        "time to expiry must be > 0",
        |x| x <= 0.0,
    )?;
    finite(rate.name, rate.values)?;
    bounds::within(f.name, f.values, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
    bounds::within(k.name, k.values, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
    bounds::within(t.name, t.values, bounds::MIN_EXPIRY, bounds::MAX_EXPIRY)?;
    bounds::magnitude(rate.name, rate.values, bounds::MAX_RATE)?;
    let at = |c: &Column<'_, f64>, i: usize| c.values[if c.values.len() == 1 { 0 } else { i }];
    let call_at = |i: usize| is_call.values[if is_call.values.len() == 1 { 0 } else { i }];
    let mut out = vec![0.0; n];
    let failure = out
        .par_chunks_mut(CHUNK)
        .enumerate()
        .filter_map(|(c, part)| {
            let mut first = None;
            for (j, slot) in part.iter_mut().enumerate() {
                let i = c * CHUNK + j;
                match implied_vol(
                    call_at(i),
                    at(&price, i),
                    at(&f, i),
                    at(&k, i),
                    at(&t, i),
                    at(&rate, i),
                ) {
                    Ok(v) => *slot = v,
                    Err(why) => {
                        first.get_or_insert((i, why));
                    }
                }
            }
            first
        })
        .min_by_key(|&(i, _)| i);
    match failure {
        Some((i, why)) => Err(InputError::at(
            ErrorKind::Arbitrage,
            price.name,
            i,
            format!("{} (price {})", why.describe(), at(&price, i)),
        )),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::black76;

    /// |price(iv(p)) - p| / p, and the relative error allowed beyond 1e-12: 4 ulps of vol
    /// (the floor set by rounding the returned vol, which only matters for prices below
    /// ~1e-250) plus 4 ulps of the larger of F and K (`black76` forms an in-the-money or
    /// at-the-money price as a difference of terms of that size).
    /// `Err` when the solver found no vol although the price carries its time value to
    /// at least 1e-13 relative, is that far from the upper bound, and the
    /// out-of-the-money twin does not underflow.
    fn round_trip(
        call: bool,
        f: f64,
        k: f64,
        t: f64,
        vol: f64,
        r: f64,
    ) -> std::result::Result<Option<(f64, f64)>, NoVol> {
        let g = black76(call, f, k, t, vol, r);
        let twin = black76(f < k, f, k, t, vol, r).price;
        let gap = (-r * t).exp() * if call { f } else { k } - g.price;
        match implied_vol(call, g.price, f, k, t, r) {
            Ok(v) => {
                let back = black76(call, f, k, t, v, r).price;
                let floor = 4.0 * f64::EPSILON * (vol * g.vega + f.max(k)) / g.price;
                Ok(Some(((back - g.price).abs() / g.price, floor)))
            }
            Err(why) if twin > 1e-290 * f && twin.min(gap) > 1e-13 * g.price => Err(why),
            Err(_) => Ok(None),
        }
    }

    #[test]
    fn round_trips_prices_across_moneyness_and_expiry() {
        let mut worst: f64 = 0.0;
        let mut solved = 0;
        for &t in &[1.0 / 8760.0, 1.0 / 365.0, 0.05, 0.5, 2.0, 10.0, 30.0] {
            for &vol in &[0.01, 0.05, 0.2, 0.8, 3.0, 8.0] {
                for j in -40..=40 {
                    let k = 100.0 * (0.1 * f64::from(j)).exp();
                    for call in [true, false] {
                        let case = round_trip(call, 100.0, k, t, vol, 0.03);
                        let case = case.unwrap_or_else(|e| panic!("{call} {k} {t} {vol}: {e:?}"));
                        if let Some((err, floor)) = case {
                            worst = worst.max(err / (1e-12 + floor));
                            solved += 1;
                        }
                    }
                }
            }
        }
        assert!(solved > 3000, "{solved}");
        assert!(worst < 1.0, "worst error / allowance {worst}");
    }

    #[test]
    fn at_the_money_and_both_bounds() {
        let (err, _) = round_trip(true, 50.0, 50.0, 1.0, 0.5, 0.0)
            .unwrap()
            .unwrap();
        assert!(err <= 1e-15, "{err}");
        assert_eq!(
            implied_vol(true, 10.0, 100.0, 90.0, 1.0, 0.0),
            Err(NoVol::AtOrBelowIntrinsic)
        );
        assert_eq!(
            implied_vol(false, 90.0, 100.0, 90.0, 1.0, 0.0),
            Err(NoVol::AtOrAboveUpper)
        );
        assert_eq!(
            implied_vol(true, 0.0, 100.0, 120.0, 1.0, 0.0),
            Err(NoVol::AtOrBelowIntrinsic)
        );
    }

    #[test]
    fn batch_names_the_first_price_without_a_vol() {
        let col = |name, values| Column { name, values };
        let prices = [5.0, 200.0, 300.0];
        let err = implied_vol_batch(
            col("price", &prices),
            Column {
                name: "is_call",
                values: &[true],
            },
            col("forward", &[100.0]),
            col("strike", &[100.0]),
            col("t", &[1.0]),
            col("rate", &[0.0]),
        )
        .unwrap_err();
        assert_eq!(
            (err.kind, err.field.as_str(), err.index),
            (ErrorKind::Arbitrage, "price", Some(1))
        );
    }
}
