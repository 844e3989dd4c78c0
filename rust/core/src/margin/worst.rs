//! The worst scenario of a P&L row (docs/margin-model.md §6.3): its loss and the first
//! scenario attaining it.
//!
//! Two passes over the row, both branch-free within a vector of scenarios: the minimum in
//! four independent chains of lane-wise minima, then, only when a scenario loses and the
//! index is asked for, the first lane equal to that minimum as a bitmask of up to 64
//! scenarios at a time. The minimum is one of the values, so the second pass finds it
//! exactly; folding the index into the first pass instead (a running arg-min per lane)
//! costs a select per lane per vector and mispredicts on the merge.

use crate::simd::Lanes;

/// Vector width, in doubles, that P&L rows are padded to and scanned in: one AVX-512
/// register, two AVX2 ones, four SSE2 ones.
pub(super) const LANES: usize = 8;

/// Vectors whose equality masks are merged into one `u64` before the first test.
const MASKED: usize = 64 / LANES;

/// `max(0, max_s -(pnl[s] + damp[s]))` (`damp` read only when `DAMP`, then of `pnl`'s
/// length) and, when `INDEX`, the first scenario attaining it; the index is -1 when no
/// scenario loses or `INDEX` is off.
#[inline(always)]
pub(super) fn scan<V: Lanes, const INDEX: bool, const DAMP: bool>(
    pnl: &[f64],
    damp: &[f64],
) -> (f64, i64) {
    let low = lowest::<V, DAMP>(pnl, damp);
    if low >= 0.0 {
        return (0.0, -1);
    }
    if !INDEX {
        return (-low, -1);
    }
    (-low, first_at::<V, DAMP>(pnl, damp, low))
}

/// `min_s (pnl[s] + damp[s])`, `+0.0` for an empty row.
#[inline(always)]
fn lowest<V: Lanes, const DAMP: bool>(pnl: &[f64], damp: &[f64]) -> f64 {
    // Plain loops over the vectors: an iterator adaptor's closure is a function of its own,
    // compiled without the caller's instruction set, which then calls the intrinsics of
    // `V` out of line.
    let n = pnl.len() / LANES;
    let mut low = [V::splat(0.0); 4];
    let mut k = 0;
    while k + 4 <= n {
        for (j, l) in low.iter_mut().enumerate() {
            *l = value::<V, DAMP>(pnl, damp, k + j).min(*l);
        }
        k += 4;
    }
    while k < n {
        low[0] = value::<V, DAMP>(pnl, damp, k).min(low[0]);
        k += 1;
    }
    let mut low = low[0].min(low[1]).min(low[2].min(low[3])).low();
    for s in n * LANES..pnl.len() {
        let v = scalar::<DAMP>(pnl, damp, s);
        low = if v < low { v } else { low };
    }
    low
}

/// The first scenario `s` with `pnl[s] + damp[s] == low` (-1 if none): with `low` from
/// [`lowest`], the first scenario attaining the worst loss.
#[inline(always)]
pub(super) fn first_at<V: Lanes, const DAMP: bool>(pnl: &[f64], damp: &[f64], low: f64) -> i64 {
    let n = pnl.len() / LANES;
    let target = V::splat(low);
    let mut start = 0;
    while start < n {
        let mut mask = 0u64;
        for k in start..n.min(start + MASKED) {
            let eq = value::<V, DAMP>(pnl, damp, k).eq_mask(target);
            mask |= u64::from(eq) << ((k - start) * LANES);
        }
        if mask != 0 {
            return (start * LANES) as i64 + i64::from(mask.trailing_zeros());
        }
        start += MASKED;
    }
    // The minimum came from the tail when no vector holds it.
    let at = (n * LANES..pnl.len()).find(|&s| scalar::<DAMP>(pnl, damp, s) == low);
    at.map_or(-1, |s| s as i64)
}

/// Scenario `s` of `pnl` (`DAMP`: plus `damp`'s).
#[inline(always)]
fn scalar<const DAMP: bool>(pnl: &[f64], damp: &[f64], s: usize) -> f64 {
    if DAMP { pnl[s] + damp[s] } else { pnl[s] }
}

/// [`scan`] without a dampener.
#[inline(always)]
pub(super) fn worst_loss<V: Lanes, const INDEX: bool>(pnl: &[f64]) -> (f64, i64) {
    scan::<V, INDEX, false>(pnl, &[])
}

/// Vector `k` of `pnl` (`DAMP`: plus `damp`'s). A function rather than a closure, so that
/// it is always inlined: a large caller otherwise calls it, and its intrinsics, out of line.
#[inline(always)]
fn value<V: Lanes, const DAMP: bool>(pnl: &[f64], damp: &[f64], k: usize) -> V {
    let x = V::load(vector(pnl, k));
    if DAMP {
        x.add(V::load(vector(damp, k)))
    } else {
        x
    }
}

/// Vector `k` of `x` as a fixed-length array reference (kept in registers).
#[inline(always)]
fn vector(x: &[f64], k: usize) -> &[f64; LANES] {
    super::kernel::lanes::<LANES>(x, k * LANES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::{Isa, multiversion};

    multiversion! {
        fn both<V>(pnl: &[f64], damp: &[f64]) -> [(f64, i64); 3] {
            [
                scan::<V, true, false>(pnl, damp),
                scan::<V, true, true>(pnl, damp),
                scan::<V, false, true>(pnl, damp),
            ]
        }
    }

    /// The definition, one scenario at a time.
    fn reference(v: &[f64]) -> (f64, i64) {
        let (mut low, mut at) = (0.0, -1);
        for (s, &x) in v.iter().enumerate() {
            if x < low {
                (low, at) = (x, s as i64);
            }
        }
        if low < 0.0 { (-low, at) } else { (0.0, -1) }
    }

    #[test]
    fn matches_the_scalar_scan_with_ties_zeros_and_tails() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [0, 1, 7, 8, 9, 35, 40, 63, 64, 65, 100, 200, 1000, 1003] {
            for case in 0..40 {
                // Few distinct values so that ties are common; some rows never lose, and
                // the minimum lands in the tail, in the first vector and past 64.
                let pick = |r: u64| [-3.0, -1.0, -0.0, 0.0, 2.0, -2.5][(r % 6) as usize];
                let mut pnl: Vec<f64> = (0..len).map(|_| pick(next())).collect();
                let damp: Vec<f64> = (0..len)
                    .map(|_| [0.0, 0.5, 1.0][(next() % 3) as usize])
                    .collect();
                if case % 5 == 0 {
                    pnl.iter_mut().for_each(|p| *p = p.abs());
                }
                if case % 7 == 1 && len > 0 {
                    let s = (next() % len as u64) as usize;
                    pnl[s] = -7.0;
                }
                let damped: Vec<f64> = pnl.iter().zip(&damp).map(|(p, d)| p + d).collect();
                let want = [
                    reference(&pnl),
                    reference(&damped),
                    (reference(&damped).0, -1),
                ];
                for isa in Isa::ALL {
                    let got = both(isa, &pnl, &damp);
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(
                            (g.0.to_bits(), g.1),
                            (w.0.to_bits(), w.1),
                            "{isa:?} {len} {case}"
                        );
                    }
                }
            }
        }
    }
}
