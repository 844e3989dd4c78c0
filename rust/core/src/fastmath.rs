//! Branch-free `exp` and `ln` for Black-76's hot loop (docs/margin-model.md §2.1).
//!
//! libm's versions are opaque calls, so a loop that uses them runs one option at a time.
//! These are straight-line IEEE arithmetic plus integer bit manipulation, which the
//! compiler turns into vector code across options. They never use fused multiply-adds,
//! so every instruction set computes the same bits and a result does not depend on which
//! kernel (scalar, AVX2, AVX-512) produced it. Accuracy: within 2 ulp of the correctly
//! rounded value over the whole range (tested against std below).

/// 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer, which then
/// sits in the low bits of the sum.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// ln 2 split so that `k * LN2_HI` is exact for |k| < 2^11 (its low 32 bits are zero).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `2^k` for -1022 <= k <= 1023, built from its exponent bits.
#[inline(always)]
fn pow2(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64).wrapping_shl(52))
}

/// e^x; 0 below -745.2 (as the exact value rounds), +inf above 709.8, NaN for NaN.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // Past these the result is 0 or inf anyway; clamping keeps k in the range of pow2.
    // A NaN passes both tests unchanged and propagates through the arithmetic.
    let xc = if x < -746.0 { -746.0 } else { x };
    let xc = if xc > 710.0 { 710.0 } else { xc };
    let (p, k) = exp_parts(xc);
    // k spans -1077..=1025, past pow2's range: scale in two halves, each a normal power of
    // two, so the result rounds once, even when it is subnormal.
    let k1 = k >> 1;
    p * pow2(k1) * pow2(k - k1)
}

/// [`exp`] for |x| <= 708, where e^x is a normal double: the same bits, without the
/// clamps and the two-step scaling that only results outside the normal range need.
#[inline(always)]
pub fn exp_normal(x: f64) -> f64 {
    let (p, k) = exp_parts(x);
    p * pow2(k)
}

/// `(p, k)` with e^x = p 2^k to within ~1 ulp of p, for -746 <= x <= 710.
#[inline(always)]
fn exp_parts(x: f64) -> (f64, i64) {
    let t = x * std::f64::consts::LOG2_E + ROUND;
    let kf = t - ROUND;
    let k = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    // Cody-Waite: r = x - k ln2 with |r| <= 0.347, exact up to the last term's rounding.
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Taylor to degree 13: the first omitted term is below 4e-18 on |r| <= 0.347. The
    // terms past 1 are summed first (Estrin's scheme, a short dependency chain), so their
    // rounding is relative to e^r - 1 <= 0.42 and the result stays within ~1 ulp.
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let h0 = 1.0 / 2.0 + r * (1.0 / 6.0);
    let h1 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let h2 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    let h3 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let h4 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let h5 = 1.0 / 479_001_600.0 + r * (1.0 / 6_227_020_800.0);
    let tail = (h0 + h1 * r2) + (h2 + h3 * r2) * r4 + (h4 + h5 * r2) * r8;
    (1.0 + (r + r2 * tail), k)
}

/// Bits of sqrt(1/2): subtracting them puts the mantissa range [sqrt(1/2), sqrt(2)) at
/// exponent zero, so one shift yields the exponent and the reduced argument is near 1.
const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;
const MANTISSA: i64 = 0x000f_ffff_ffff_ffff;

/// Natural logarithm; -inf at 0, +inf at +inf, NaN below 0 and for NaN.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    // Subnormals are scaled into the normal range first.
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny {
        x * 18_014_398_509_481_984.0
    } else {
        x
    }; // 2^54
    let ix = (xs.to_bits() as i64).wrapping_sub(SQRT_HALF_BITS);
    let e = (ix >> 52).wrapping_sub(if tiny { 54 } else { 0 });
    let m = f64::from_bits(((ix & MANTISSA).wrapping_add(SQRT_HALF_BITS)) as u64);
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716; m - 1 is exact (Sterbenz).
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let z2 = z * z;
    let z4 = z2 * z2;
    let z8 = z4 * z4;
    // sum_{j=1..10} z^j / (2j + 1); the first omitted term is below 7e-19.
    let a = (1.0 / 3.0 + z * (1.0 / 5.0)) + (1.0 / 7.0 + z * (1.0 / 9.0)) * z2;
    let b = (1.0 / 11.0 + z * (1.0 / 13.0)) + (1.0 / 15.0 + z * (1.0 / 17.0)) * z2;
    let c = 1.0 / 19.0 + z * (1.0 / 21.0);
    let series = z * ((a + b * z4) + c * z8);
    let two_s = s + s;
    let ln_m = two_s + two_s * series;
    // e as a double without an int-to-float conversion (AVX2 has none for 64-bit lanes).
    let ef = f64::from_bits((ROUND.to_bits() as i64).wrapping_add(e) as u64) - ROUND;
    let y = ef * LN2_HI + (ef * LN2_LO + ln_m);
    let y = if x == f64::INFINITY { x } else { y };
    let y = if x == 0.0 { f64::NEG_INFINITY } else { y };
    if x < 0.0 || x.is_nan() { f64::NAN } else { y }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite doubles of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
    }

    /// Reproducible doubles spread over many binades.
    fn samples(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
    }

    #[test]
    fn exp_within_two_ulp_of_std() {
        for x in samples(-745.0, 709.7, 200_000).chain(samples(-1.0, 1.0, 100_000)) {
            // Subnormal results count in the subnormal spacing, where 2 ulp is absolute.
            let (got, want) = (exp(x), x.exp());
            assert!(ulps(got, want) <= 2, "exp({x}) = {got:e} vs {want:e}");
        }
    }

    #[test]
    fn exp_normal_is_exp_in_the_normal_range() {
        for x in samples(-708.0, 708.0, 200_000).chain([-708.0, 0.0, 708.0]) {
            assert_eq!(exp_normal(x).to_bits(), exp(x).to_bits(), "exp_normal({x})");
        }
    }

    #[test]
    fn exp_limits() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-800.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(-745.0), (-745.0f64).exp());
    }

    #[test]
    fn ln_within_two_ulp_of_std() {
        let wide = samples(-700.0, 700.0, 200_000).map(f64::exp);
        for x in wide.chain(samples(0.5, 2.0, 100_000)) {
            let (got, want) = (ln(x), x.ln());
            assert!(ulps(got, want) <= 2, "ln({x}) = {got} vs {want}");
        }
    }

    #[test]
    fn ln_limits() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        for x in [5e-324, 1e-310, f64::MIN_POSITIVE, f64::MAX] {
            assert!(ulps(ln(x), x.ln()) <= 2, "ln({x})");
        }
    }
}
