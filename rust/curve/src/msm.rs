//! Multi-scalar multiplication (Pippenger with batch-affine buckets).

use ark_ec::{AdditiveGroup, AffineRepr};
use ark_ff::{Field, PrimeField, Zero};
use rayon::prelude::*;

use crate::{CurveError, Fq, Fr, G1Affine, G1Projective, Result, mul};

/// Multi-scalar multiplication: Pippenger's bucket method with signed window digits and
/// batch-affine bucket accumulation (one shared inversion per pass via Montgomery's
/// trick, so each bucket addition costs about 6 field multiplications instead of the 11
/// of a mixed projective addition). Groups of windows run in parallel on the rayon pool.
pub fn msm(points: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective> {
    if points.len() != scalars.len() {
        return Err(CurveError::Mismatch {
            what: "msm points/scalars",
            left: points.len(),
            right: scalars.len(),
        });
    }
    if points.len() > MAX_MSM_LEN {
        return Err(CurveError::Length {
            what: "msm points",
            expected: MAX_MSM_LEN,
            got: points.len(),
        });
    }
    if points.len() < 16 {
        return Ok(points
            .iter()
            .zip(scalars)
            .fold(G1Projective::zero(), |acc, (p, s)| acc + mul(p, s)));
    }
    Ok(pippenger(points, scalars))
}

/// Bits per window minimising `windows * (6 N + 28 * 2^(c-1))` (bucket accumulation in
/// batch-affine vs. the two projective additions per bucket of the final running sum).
fn window_bits(n: usize) -> usize {
    let mut best = (usize::MAX, 4);
    for c in 4..=16usize {
        let windows = (SCALAR_BITS + 1).div_ceil(c);
        let cost = windows.saturating_mul(6 * n + 28 * (1usize << (c - 1)));
        if cost < best.0 {
            best = (cost, c);
        }
    }
    best.1
}

const SCALAR_BITS: usize = 254;

/// Bucket entries pack a point index and a sign bit into one `u32`.
pub const MAX_MSM_LEN: usize = (u32::MAX >> 1) as usize;

/// Signed digit of window `w` (bits `w c .. w c + c`) plus the carry from lower windows,
/// in `[-2^(c-1), 2^(c-1)]`; returns (digit, carry out).
fn signed_digit(limbs: &[u64; 4], w: usize, c: usize, carry: i64) -> (i64, i64) {
    let start = w * c;
    let mut v: u64 = 0;
    if start < 256 {
        let limb = start / 64;
        let off = start % 64;
        v = limbs[limb] >> off;
        if off + c > 64 && limb + 1 < 4 {
            v |= limbs[limb + 1] << (64 - off);
        }
        v &= (1u64 << c) - 1;
    }
    let d = v as i64 + carry;
    let half = 1i64 << (c - 1);
    if d > half {
        (d - (1i64 << c), 1)
    } else {
        (d, 0)
    }
}

fn pippenger(points: &[G1Affine], scalars: &[Fr]) -> G1Projective {
    let n = points.len();
    let c = window_bits(n);
    let windows = (SCALAR_BITS + 1).div_ceil(c);
    let limbs: Vec<[u64; 4]> = scalars.iter().map(|s| s.into_bigint().0).collect();
    // digits[i * windows + w], computed once with the carries resolved in order
    let mut digits = vec![0i32; n * windows];
    for (i, l) in limbs.iter().enumerate() {
        let mut carry = 0i64;
        for w in 0..windows {
            let (d, cy) = signed_digit(l, w, c, carry);
            digits[i * windows + w] = d as i32;
            carry = cy;
        }
    }
    let nb = 1usize << (c - 1);
    // One group of consecutive windows per thread: the buckets of all windows in a group
    // share each batched inversion, so a small MSM does not pay one inversion per window
    // and round.
    let per = windows.div_ceil(rayon::current_num_threads().clamp(1, windows));
    let window_sums: Vec<G1Projective> = (0..windows.div_ceil(per))
        .into_par_iter()
        .flat_map_iter(|g| {
            let ws = g * per..((g + 1) * per).min(windows);
            let mut entries: Vec<(u32, u32)> = Vec::with_capacity(n * ws.len());
            for (k, w) in ws.clone().enumerate() {
                for (i, p) in points.iter().enumerate() {
                    let d = digits[i * windows + w];
                    if d == 0 || p.is_zero() {
                        continue;
                    }
                    let bucket = k * nb + d.unsigned_abs() as usize - 1;
                    // n < 2^31 (checked by msm), so index and sign fit one u32
                    entries.push((bucket as u32, (i as u32) << 1 | u32::from(d < 0)));
                }
            }
            let mut buckets = vec![G1Affine::identity(); ws.len() * nb];
            let mut tail = vec![G1Projective::zero(); ws.len() * nb];
            accumulate(&mut buckets, &mut tail, points, &entries);
            buckets
                .chunks(nb)
                .zip(tail.chunks(nb))
                .map(|(b, t)| {
                    let mut running = G1Projective::zero();
                    let mut total = G1Projective::zero();
                    for (ba, tp) in b.iter().zip(t).rev() {
                        running += ba;
                        if !tp.is_zero() {
                            running += tp;
                        }
                        total += running;
                    }
                    total
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut acc = G1Projective::zero();
    for ws in window_sums.iter().rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += ws;
    }
    acc
}

/// Below this many additions in one batch, the shared inversion (about 35 field
/// multiplications' worth per element) costs more than mixed projective additions save.
const MIN_AFFINE_BATCH: usize = 32;

/// Add every entry `(bucket, point index << 1 | negate)` into its bucket. Entries are
/// counting-sorted by bucket; round r adds the r-th entry of every bucket that has one in
/// affine coordinates with one shared inversion, so the work stays linear in the number of
/// entries. Once fewer than [`MIN_AFFINE_BATCH`] buckets still have entries, the rest go
/// into `tail` with projective additions (a few crowded buckets, e.g. 0/1 scalars, would
/// otherwise cost one inversion per entry).
fn accumulate(
    buckets: &mut [G1Affine],
    tail: &mut [G1Projective],
    points: &[G1Affine],
    entries: &[(u32, u32)],
) {
    let nb = buckets.len();
    let mut start = vec![0usize; nb + 1];
    for &(b, _) in entries {
        start[b as usize + 1] += 1;
    }
    for i in 0..nb {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut sorted = vec![0u32; entries.len()];
    for &(b, e) in entries {
        sorted[fill[b as usize]] = e;
        fill[b as usize] += 1;
    }
    let point = |e: u32| {
        let p = points[(e >> 1) as usize];
        if e & 1 == 1 { -p } else { p }
    };
    let count = |b: usize| start[b + 1] - start[b];
    let max_count = (0..nb).map(count).max().unwrap_or(0);
    // more[r] = number of buckets with more than r entries (the size of round r)
    let mut more = vec![0usize; max_count + 1];
    for b in 0..nb {
        if count(b) > 0 {
            more[count(b) - 1] += 1;
        }
    }
    for r in (0..max_count).rev() {
        more[r] += more[r + 1];
    }
    let mut idx: Vec<usize> = Vec::with_capacity(nb);
    let mut denom: Vec<Fq> = Vec::with_capacity(nb);
    let mut r = 0;
    while r < max_count && more[r] >= MIN_AFFINE_BATCH {
        idx.clear();
        denom.clear();
        for b in 0..nb {
            if start[b] + r >= start[b + 1] {
                continue;
            }
            let p = point(sorted[start[b] + r]);
            let cur = buckets[b];
            if cur.is_zero() {
                buckets[b] = p;
            } else if cur.x == p.x {
                // doubling or cancellation: rare, done directly
                tail[b] += p;
            } else {
                denom.push(p.x - cur.x);
                idx.push(b);
            }
        }
        ark_ff::batch_inversion(&mut denom);
        for (&b, inv) in idx.iter().zip(&denom) {
            let p = point(sorted[start[b] + r]);
            let cur = &mut buckets[b];
            let lambda = (p.y - cur.y) * inv;
            let x3 = lambda.square() - cur.x - p.x;
            let y3 = lambda * (cur.x - x3) - cur.y;
            *cur = G1Affine::new_unchecked(x3, y3);
        }
        r += 1;
    }
    for b in 0..nb {
        for &e in &sorted[(start[b] + r).min(start[b + 1])..start[b + 1]] {
            tail[b] += point(e);
        }
    }
}
