//! BN254 G1 (Ethereum alt_bn128) arithmetic for zkmargin proofs: canonical encodings,
//! keccak256 try-and-increment generators, multi-threaded multi-scalar multiplication and
//! the generator folds of the inner-product argument.
//!
//! Pure Rust (no PyO3) so that `cargo test -p zkmargin-curve` never links libpython.
//! Every decoder is strict: the byte layouts are specified in `docs/proof-spec.md` §3 and
//! each malformed input maps to one [`CurveError`] variant.

use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInt, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;
use std::fmt;
use tiny_keccak::{Hasher, Keccak};

pub use ark_bn254::{Fq, Fr, G1Affine, G1Projective};

mod prover;
pub use prover::RangeProver;

/// Below this many terms an MSM or fold runs on the calling thread: splitting small jobs
/// costs more in scheduling than it saves.
pub const PARALLEL_THRESHOLD: usize = 512;

/// Flag bits of the 32-byte compressed encoding (p < 2^254 leaves the top two bits free).
pub const COMPRESSED_Y_ODD: u8 = 0x80;
pub const COMPRESSED_INFINITY: u8 = 0x40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurveError {
    /// Input of the wrong size.
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A base-field coordinate >= p.
    CoordinateNotCanonical,
    /// A scalar >= r (the index says which element of a vector).
    ScalarNotCanonical { index: usize },
    /// Coordinates that do not satisfy y^2 = x^3 + 3.
    NotOnCurve,
    /// Compressed encoding with invalid flag bits (both set, or infinity with payload).
    BadFlags,
    /// Vectors that must have the same length do not.
    Mismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// A prover step called out of protocol order.
    OutOfOrder { step: &'static str },
    /// A challenge that must be invertible is zero.
    ZeroChallenge,
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurveError::Length {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected {expected} bytes, got {got}")
            }
            CurveError::CoordinateNotCanonical => {
                write!(f, "point coordinate is not below the field modulus p")
            }
            CurveError::ScalarNotCanonical { index } => {
                write!(f, "scalar {index} is not below the group order r")
            }
            CurveError::NotOnCurve => write!(f, "point is not on the curve y^2 = x^3 + 3"),
            CurveError::BadFlags => write!(f, "compressed point has invalid flag bits"),
            CurveError::Mismatch { what, left, right } => {
                write!(f, "{what}: lengths differ ({left} vs {right})")
            }
            CurveError::OutOfOrder { step } => write!(f, "{step} called out of protocol order"),
            CurveError::ZeroChallenge => write!(f, "challenge is zero"),
        }
    }
}

impl std::error::Error for CurveError {}

pub type Result<T> = std::result::Result<T, CurveError>;

// ---------------------------------------------------------------- field elements <-> bytes

fn bigint_from_be(b: &[u8; 32]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (k, limb) in limbs.iter_mut().enumerate() {
        // limb 0 is the least significant: bytes 24..32
        let start = 32 - 8 * (k + 1);
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[start..start + 8]);
        *limb = u64::from_be_bytes(w);
    }
    BigInt(limbs)
}

fn be_from_bigint(x: BigInt<4>) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.to_bytes_be());
    out
}

fn fq_from_be(b: &[u8; 32]) -> Result<Fq> {
    Fq::from_bigint(bigint_from_be(b)).ok_or(CurveError::CoordinateNotCanonical)
}

fn fq_to_be(x: &Fq) -> [u8; 32] {
    be_from_bigint(x.into_bigint())
}

fn fq_is_odd(x: &Fq) -> bool {
    x.into_bigint().is_odd()
}

fn array32(b: &[u8], what: &'static str) -> Result<[u8; 32]> {
    b.try_into().map_err(|_| CurveError::Length {
        what,
        expected: 32,
        got: b.len(),
    })
}

/// A scalar from 32 big-endian bytes; values >= r are rejected (never reduced).
pub fn scalar_from_be(b: &[u8]) -> Result<Fr> {
    let a = array32(b, "scalar")?;
    Fr::from_bigint(bigint_from_be(&a)).ok_or(CurveError::ScalarNotCanonical { index: 0 })
}

pub fn scalar_to_be(s: &Fr) -> [u8; 32] {
    be_from_bigint(s.into_bigint())
}

/// Scalars from concatenated 64-byte big-endian chunks, each reduced mod r (for uniform
/// random scalars: the bias of a 512-bit integer mod r is below 2^-250).
pub fn scalars_from_wide(b: &[u8]) -> Result<Vec<Fr>> {
    if b.len() % 64 != 0 {
        return Err(CurveError::Length {
            what: "wide scalar vector",
            expected: 64 * (b.len() / 64 + 1),
            got: b.len(),
        });
    }
    // x = hi 2^256 + lo with each 256-bit half brought below r by subtraction (2^256 < 6 r):
    // a few limb operations and one multiplication, where the generic byte-wise reduction
    // costs dozens of field operations per scalar.
    let two_256 = Fr::from(2u64).pow([256u64]);
    let half = |c: &[u8]| {
        let a: [u8; 32] = c.try_into().expect("chunks_exact(64) halves");
        let mut x = bigint_from_be(&a);
        while x >= Fr::MODULUS {
            x.sub_with_borrow(&Fr::MODULUS);
        }
        Fr::from_bigint(x).unwrap_or_default()
    };
    Ok(b.chunks_exact(64)
        .map(|c| half(&c[..32]) * two_256 + half(&c[32..]))
        .collect())
}

/// A vector of scalars from their concatenated 32-byte big-endian encodings.
pub fn scalars_from_be(b: &[u8]) -> Result<Vec<Fr>> {
    if b.len() % 32 != 0 {
        return Err(CurveError::Length {
            what: "scalar vector",
            expected: 32 * (b.len() / 32 + 1),
            got: b.len(),
        });
    }
    b.chunks_exact(32)
        .enumerate()
        .map(|(i, c)| {
            let a: [u8; 32] = c.try_into().expect("chunks_exact(32)");
            Fr::from_bigint(bigint_from_be(&a)).ok_or(CurveError::ScalarNotCanonical { index: i })
        })
        .collect()
}

// ---------------------------------------------------------------- point encodings

/// EIP-196: x || y, 32 bytes each, big-endian; the identity is (0, 0).
pub fn point_to_evm(p: &G1Affine) -> [u8; 64] {
    let mut out = [0u8; 64];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_to_be(&x));
        out[32..].copy_from_slice(&fq_to_be(&y));
    }
    out
}

pub fn point_from_evm(b: &[u8]) -> Result<G1Affine> {
    if b.len() != 64 {
        return Err(CurveError::Length {
            what: "EVM point",
            expected: 64,
            got: b.len(),
        });
    }
    let xb: [u8; 32] = b[..32].try_into().expect("32 bytes");
    let yb: [u8; 32] = b[32..].try_into().expect("32 bytes");
    let x = fq_from_be(&xb)?;
    let y = fq_from_be(&yb)?;
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::identity());
    }
    let p = G1Affine::new_unchecked(x, y);
    // BN254 G1 has cofactor 1: every point on the curve is in the prime-order group, so
    // the on-curve check is the whole subgroup check.
    if !p.is_on_curve() {
        return Err(CurveError::NotOnCurve);
    }
    Ok(p)
}

/// 32 bytes: x big-endian with 0x80 set in the first byte when y is odd; the identity is
/// 0x40 followed by 31 zero bytes.
pub fn point_to_compressed(p: &G1Affine) -> [u8; 32] {
    match p.xy() {
        None => {
            let mut out = [0u8; 32];
            out[0] = COMPRESSED_INFINITY;
            out
        }
        Some((x, y)) => {
            let mut out = fq_to_be(&x);
            if fq_is_odd(&y) {
                out[0] |= COMPRESSED_Y_ODD;
            }
            out
        }
    }
}

pub fn point_from_compressed(b: &[u8]) -> Result<G1Affine> {
    let mut a = array32(b, "compressed point")?;
    let flags = a[0] & (COMPRESSED_Y_ODD | COMPRESSED_INFINITY);
    a[0] &= !(COMPRESSED_Y_ODD | COMPRESSED_INFINITY);
    if flags == COMPRESSED_INFINITY {
        if a.iter().any(|&v| v != 0) {
            return Err(CurveError::BadFlags);
        }
        return Ok(G1Affine::identity());
    }
    if flags == COMPRESSED_Y_ODD | COMPRESSED_INFINITY {
        return Err(CurveError::BadFlags);
    }
    let x = fq_from_be(&a)?;
    let y = sqrt_rhs(&x).ok_or(CurveError::NotOnCurve)?;
    let want_odd = flags == COMPRESSED_Y_ODD;
    let y = if fq_is_odd(&y) == want_odd { y } else { -y };
    Ok(G1Affine::new_unchecked(x, y))
}

/// A square root of x^3 + 3, if one exists.
fn sqrt_rhs(x: &Fq) -> Option<Fq> {
    let rhs = x.square() * x + ark_bn254::g1::Config::COEFF_B;
    rhs.sqrt()
}

// ---------------------------------------------------------------- hashing

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut k = Keccak::v256();
    k.update(data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// Try-and-increment: for counter = 0, 1, ...: x = keccak256(label || u32_be(counter))
/// read big-endian and reduced mod p; the first x with x^3 + 3 a square gives the point
/// (x, y) with y the even square root. Returns the point and the counter used.
pub fn hash_to_g1(label: &[u8]) -> (G1Affine, u32) {
    let mut buf = Vec::with_capacity(label.len() + 4);
    let mut counter: u32 = 0;
    loop {
        buf.clear();
        buf.extend_from_slice(label);
        buf.extend_from_slice(&counter.to_be_bytes());
        let h = keccak256(&buf);
        // from_be_bytes_mod_order reduces the 256-bit integer modulo p.
        let x = Fq::from_be_bytes_mod_order(&h);
        if let Some(y) = sqrt_rhs(&x) {
            let y = if fq_is_odd(&y) { -y } else { y };
            return (G1Affine::new_unchecked(x, y), counter);
        }
        // Half of all x fail; 2^32 consecutive failures has probability 2^-(2^32).
        counter = counter
            .checked_add(1)
            .expect("try-and-increment counter overflow");
    }
}

/// `count` generators with labels `prefix || u32_be(start + i)`, derived in parallel.
pub fn derive_generators(prefix: &[u8], start: u32, count: usize) -> Vec<G1Affine> {
    (0..count)
        .into_par_iter()
        .map(|i| {
            let idx = start
                .checked_add(u32::try_from(i).expect("generator index fits u32"))
                .expect("generator index overflow");
            let mut label = Vec::with_capacity(prefix.len() + 4);
            label.extend_from_slice(prefix);
            label.extend_from_slice(&idx.to_be_bytes());
            hash_to_g1(&label).0
        })
        .collect()
}

// ---------------------------------------------------------------- arithmetic

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

/// Out-of-place fold `out_i = a * lo_i + b * hi_i`, e.g. the inner-product argument's
/// `G' = x^-1 G_lo + x G_hi` in one call.
pub fn fold(lo: &[G1Affine], hi: &[G1Affine], a: Fr, b: Fr) -> Result<Vec<G1Affine>> {
    if lo.len() != hi.len() {
        return Err(CurveError::Mismatch {
            what: "fold halves",
            left: lo.len(),
            right: hi.len(),
        });
    }
    // a = 1 is the common case: the prover keeps a uniform factor aside and folds as
    // lo_i + b * hi_i, with one shared scalar b for every element.
    if a == Fr::from(1u64) {
        return Ok(fold_shared_scalar(lo, hi, b));
    }
    // one element is already a full scalar multiplication: worth splitting from two up
    let proj: Vec<G1Projective> = lo
        .par_iter()
        .zip(hi.par_iter())
        .map(|(l, h)| mul(l, &a) + mul(h, &b))
        .collect();
    Ok(G1Projective::normalize_batch(&proj))
}

/// Width of the NAF recoding in the shared-scalar fold: odd multiples 1, 3, 5, 7 per base.
const FOLD_WNAF: usize = 4;

/// `lo_i + b * hi_i` for all i with one scalar `b`: GLV-split `b = k1 + k2 lambda`
/// (|k1|, |k2| < 2^128) and recode both halves once in width-4 NAF for every point. Each
/// point then costs about 128 Jacobian doublings and 51 mixed additions of precomputed
/// odd multiples of `hi_i` and `phi(hi_i)` (all tables normalised with one inversion),
/// against 128 doublings and 96 projective additions of a plain GLV double-and-add.
fn fold_shared_scalar(lo: &[G1Affine], hi: &[G1Affine], b: Fr) -> Vec<G1Affine> {
    use ark_bn254::g1::Config;
    use ark_ec::scalar_mul::glv::GLVConfig;
    let ((s1, k1), (s2, k2)) = Config::scalar_decomposition(b);
    let naf = |k: Fr| {
        k.into_bigint()
            .find_wnaf(FOLD_WNAF)
            .expect("the width is in 2..64")
    };
    let (d1, d2) = (naf(k1), naf(k2));
    let steps = d1.len().max(d2.len());
    let odd = 1usize << (FOLD_WNAF - 2);
    // odd multiples (1, 3, 5, 7) of +-hi_i, signed by k1's sign
    let table: Vec<G1Projective> = hi
        .par_iter()
        .flat_map_iter(|p| {
            let base = G1Projective::from(if s1 { *p } else { -*p });
            let twice = base.double();
            let mut t = Vec::with_capacity(odd);
            t.push(base);
            for j in 1..odd {
                t.push(t[j - 1] + twice);
            }
            t
        })
        .collect();
    let table = G1Projective::normalize_batch(&table);
    // phi(j b1) = j phi(b1); flip when k2's sign differs from k1's
    let flip = s1 != s2;
    let proj: Vec<G1Projective> = lo
        .par_iter()
        .zip(table.par_chunks(odd))
        .map(|(l, t1)| {
            let t2: Vec<G1Affine> = t1
                .iter()
                .map(|q| {
                    let e = Config::endomorphism_affine(q);
                    if flip { -e } else { e }
                })
                .collect();
            let mut acc = G1Projective::zero();
            for i in (0..steps).rev() {
                acc.double_in_place();
                for (digits, t) in [(&d1, t1), (&d2, &t2[..])] {
                    let d = digits.get(i).copied().unwrap_or(0);
                    if d > 0 {
                        acc += t[(d / 2) as usize];
                    } else if d < 0 {
                        acc += -t[(-d / 2) as usize];
                    }
                }
            }
            acc + l
        })
        .collect();
    G1Projective::normalize_batch(&proj)
}

/// Fold with per-element weights: `out_i = wa_i * lo_i + wb_i * hi_i` (the first round of
/// the inner-product argument folds `y^-i`-scaled generators without materialising them).
pub fn fold_weighted(
    lo: &[G1Affine],
    hi: &[G1Affine],
    wa: &[Fr],
    wb: &[Fr],
) -> Result<Vec<G1Affine>> {
    if lo.len() != hi.len() {
        return Err(CurveError::Mismatch {
            what: "fold halves",
            left: lo.len(),
            right: hi.len(),
        });
    }
    if wa.len() != lo.len() || wb.len() != lo.len() {
        return Err(CurveError::Mismatch {
            what: "fold weights",
            left: wa.len().min(wb.len()),
            right: lo.len(),
        });
    }
    let proj: Vec<G1Projective> = lo
        .par_iter()
        .zip(hi.par_iter())
        .zip(wa.par_iter().zip(wb.par_iter()))
        .map(|((l, h), (x, y))| mul(l, x) + mul(h, y))
        .collect();
    Ok(G1Projective::normalize_batch(&proj))
}

/// `out_i = w_i * p_i` (used to materialise scaled generator vectors when needed).
pub fn scale(points: &[G1Affine], w: &[Fr]) -> Result<Vec<G1Affine>> {
    if points.len() != w.len() {
        return Err(CurveError::Mismatch {
            what: "scale points/weights",
            left: points.len(),
            right: w.len(),
        });
    }
    let proj: Vec<G1Projective> = points
        .par_iter()
        .zip(w.par_iter())
        .map(|(p, s)| mul(p, s))
        .collect();
    Ok(G1Projective::normalize_batch(&proj))
}

/// `s * p` through the projective path, which for BN254 G1 is the GLV endomorphism
/// method (arkworks' affine `*` is plain double-and-add, about twice as slow).
#[inline]
pub fn mul(p: &G1Affine, s: &Fr) -> G1Projective {
    G1Projective::from(*p) * s
}

/// One range proof's inner-product verification data: the challenges and final scalars
/// that fix the coefficients of the generator vectors g and h in its equation, and the
/// random weight the proof's equation is multiplied by (docs/proof-spec.md §6).
pub struct IpaCheck {
    pub n: usize,
    pub m: usize,
    pub y: Fr,
    pub z: Fr,
    pub a: Fr,
    pub b: Fr,
    pub u: Vec<Fr>,
    pub weight: Fr,
}

/// Sum over `checks` of `weight * (coefficient of g_i, coefficient of h_i)`:
/// `g_i: -z - a s_i` and `h_i: z + (z^(2+j) 2^t - b s_i^-1) y^-i` for `i = j n + t`,
/// with `s_i = prod_r u_r^(+-1)` (round 1 owns the top bit of i). Vectors have length
/// `len` (>= every n m; shorter proofs use a prefix of the generators).
pub fn ipa_generator_scalars(checks: &[IpaCheck], len: usize) -> Result<(Vec<Fr>, Vec<Fr>)> {
    let mut g = vec![Fr::zero(); len];
    let mut h = vec![Fr::zero(); len];
    for c in checks {
        let nn = c.n * c.m;
        if nn == 0 || !nn.is_power_of_two() || nn > len || c.u.len() != nn.trailing_zeros() as usize
        {
            return Err(CurveError::Mismatch {
                what: "ipa check sizes",
                left: c.u.len(),
                right: nn,
            });
        }
        if c.y.is_zero() || c.u.iter().any(|u| u.is_zero()) {
            return Err(CurveError::ScalarNotCanonical { index: 0 });
        }
        let mut uinv = c.u.clone();
        ark_ff::batch_inversion(&mut uinv);
        let mut sv = vec![Fr::from(1u64)];
        sv.reserve(nn);
        for r in (0..c.u.len()).rev() {
            let lo: Vec<Fr> = sv.iter().map(|v| *v * uinv[r]).collect();
            let hi: Vec<Fr> = sv.iter().map(|v| *v * c.u[r]).collect();
            sv = lo;
            sv.extend(hi);
        }
        let yinv = c.y.inverse().expect("y != 0");
        let mut zj = c.z.square(); // z^(2+j)
        let two = Fr::from(2u64);
        let neg_z = -c.z;
        let mut ypow = Fr::from(1u64); // y^-i
        for j in 0..c.m {
            let mut pow2 = zj; // z^(2+j) 2^t
            for t in 0..c.n {
                let i = j * c.n + t;
                g[i] += c.weight * (neg_z - c.a * sv[i]);
                h[i] += c.weight * (c.z + (pow2 - c.b * sv[nn - 1 - i]) * ypow);
                pow2 *= two;
                ypow *= yinv;
            }
            zj *= c.z;
        }
    }
    Ok((g, h))
}

pub fn generator() -> G1Affine {
    G1Affine::generator()
}

pub fn identity() -> G1Affine {
    G1Affine::identity()
}

pub fn to_affine(p: &G1Projective) -> G1Affine {
    p.into_affine()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::VariableBaseMSM;
    use ark_ff::UniformRand;
    use ark_std::test_rng;

    const P_HEX: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
    const R_HEX: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for i in 0..32 {
            out[i] = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn add_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = a[i] as u16 + b[i] as u16 + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        out
    }

    #[test]
    fn generator_is_one_two() {
        let e = point_to_evm(&generator());
        let mut want = [0u8; 64];
        want[31] = 1;
        want[63] = 2;
        assert_eq!(e, want);
    }

    #[test]
    fn evm_roundtrip_and_identity() {
        let mut rng = test_rng();
        for _ in 0..20 {
            let p = (G1Projective::rand(&mut rng)).into_affine();
            assert_eq!(point_from_evm(&point_to_evm(&p)).unwrap(), p);
            assert_eq!(point_from_compressed(&point_to_compressed(&p)).unwrap(), p);
        }
        let id = G1Affine::identity();
        assert_eq!(point_to_evm(&id), [0u8; 64]);
        assert_eq!(point_from_evm(&[0u8; 64]).unwrap(), id);
        assert_eq!(
            point_from_compressed(&point_to_compressed(&id)).unwrap(),
            id
        );
    }

    #[test]
    fn evm_rejects_noncanonical() {
        let p = generator();
        let mut e = point_to_evm(&p);
        // x + p encodes the same residue: must be rejected, not reduced.
        let xp = add_be(&e[..32].try_into().unwrap(), &hex32(P_HEX));
        e[..32].copy_from_slice(&xp);
        assert_eq!(point_from_evm(&e), Err(CurveError::CoordinateNotCanonical));
        let mut off = point_to_evm(&p);
        off[63] ^= 1; // (1, 3) is not on the curve
        assert_eq!(point_from_evm(&off), Err(CurveError::NotOnCurve));
        assert!(matches!(
            point_from_evm(&off[..63]),
            Err(CurveError::Length { .. })
        ));
    }

    #[test]
    fn compressed_rejects_bad_flags_and_offcurve() {
        let mut id = [0u8; 32];
        id[0] = COMPRESSED_INFINITY;
        id[31] = 1;
        assert_eq!(point_from_compressed(&id), Err(CurveError::BadFlags));
        let mut both = [0u8; 32];
        both[0] = COMPRESSED_INFINITY | COMPRESSED_Y_ODD;
        assert_eq!(point_from_compressed(&both), Err(CurveError::BadFlags));
        // find an x whose x^3+3 is a non-residue
        let mut x = [0u8; 32];
        loop {
            x[31] += 1;
            if sqrt_rhs(&fq_from_be(&x).unwrap()).is_none() {
                break;
            }
        }
        assert_eq!(point_from_compressed(&x), Err(CurveError::NotOnCurve));
        let mut big = hex32(P_HEX);
        big[31] += 1; // p + 1 > p
        assert_eq!(
            point_from_compressed(&big),
            Err(CurveError::CoordinateNotCanonical)
        );
    }

    #[test]
    fn wide_scalars_reduce_mod_r() {
        let mut rng = test_rng();
        let mut data = vec![0xffu8; 64]; // 2^512 - 1
        data.extend((0..64 * 50).map(|_| u8::rand(&mut rng)));
        let got = scalars_from_wide(&data).unwrap();
        for (c, s) in data.chunks_exact(64).zip(&got) {
            assert_eq!(*s, Fr::from_be_bytes_mod_order(c));
        }
        assert!(scalars_from_wide(&data[..63]).is_err());
    }

    #[test]
    fn scalars_strict() {
        let r = hex32(R_HEX);
        assert_eq!(
            scalar_from_be(&r),
            Err(CurveError::ScalarNotCanonical { index: 0 })
        );
        let mut rm1 = r;
        rm1[31] -= 1;
        assert_eq!(scalar_from_be(&rm1).unwrap(), -Fr::from(1u64));
        let mut two = [0u8; 64];
        two[31] = 5;
        two[32..].copy_from_slice(&r);
        assert_eq!(
            scalars_from_be(&two),
            Err(CurveError::ScalarNotCanonical { index: 1 })
        );
        assert!(scalars_from_be(&two[..40]).is_err());
    }

    #[test]
    fn hash_to_curve_is_deterministic_and_on_curve() {
        let (a, ca) = hash_to_g1(b"zkmargin/test");
        let (b, cb) = hash_to_g1(b"zkmargin/test");
        assert_eq!((a, ca), (b, cb));
        assert!(a.is_on_curve());
        assert!(!fq_is_odd(&a.y().unwrap()));
        let v = derive_generators(b"zkmargin/test/vec", 0, 8);
        let mut lbl = b"zkmargin/test/vec".to_vec();
        lbl.extend_from_slice(&5u32.to_be_bytes());
        assert_eq!(v[5], hash_to_g1(&lbl).0);
        assert_ne!(v[0], v[1]);
    }

    #[test]
    fn msm_matches_arkworks_and_edge_cases() {
        let mut rng = test_rng();
        for n in [16usize, 17, 100, 1000, 2049] {
            let pts: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::rand(&mut rng).into_affine())
                .collect();
            let sc: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            assert_eq!(
                msm(&pts, &sc).unwrap(),
                G1Projective::msm_unchecked(&pts, &sc),
                "n = {n}"
            );
        }
        // repeated points (doubling inside a bucket), negations (cancellation), identity
        // points, zero and extreme scalars
        let p = G1Projective::rand(&mut rng).into_affine();
        let mut pts = vec![p; 40];
        pts.extend(vec![-p; 10]);
        pts.push(G1Affine::identity());
        let mut sc: Vec<Fr> = (0..51).map(|i| Fr::from((i % 3) as u64 + 1)).collect();
        sc[3] = Fr::from(0u64);
        sc[4] = -Fr::from(1u64);
        sc[5] = Fr::from(2u64).pow([253u64]);
        let naive = pts
            .iter()
            .zip(&sc)
            .fold(G1Projective::zero(), |acc, (p, s)| acc + *p * *s);
        assert_eq!(msm(&pts, &sc).unwrap(), naive);
    }

    #[test]
    fn msm_matches_naive_both_paths() {
        let mut rng = test_rng();
        for n in [0usize, 1, 7, 600, 1500] {
            let pts: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::rand(&mut rng).into_affine())
                .collect();
            let sc: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let naive = pts
                .iter()
                .zip(&sc)
                .fold(G1Projective::zero(), |acc, (p, s)| acc + *p * *s);
            assert_eq!(msm(&pts, &sc).unwrap(), naive);
        }
        assert!(msm(&[generator()], &[]).is_err());
    }

    #[test]
    fn msm_crowded_buckets_match_naive() {
        // 0/1 scalars put every entry of a window into one bucket (the projective tail);
        // one wide scalar keeps the other windows busy, and a repeated point forces the
        // doubling case inside a batched round.
        let mut rng = test_rng();
        let n = 700;
        let mut pts: Vec<G1Affine> = (0..n)
            .map(|_| G1Projective::rand(&mut rng).into_affine())
            .collect();
        pts[5] = pts[4];
        let mut sc: Vec<Fr> = (0..n).map(|i| Fr::from((i % 2) as u64)).collect();
        sc[10] = Fr::rand(&mut rng);
        let naive = pts
            .iter()
            .zip(&sc)
            .fold(G1Projective::zero(), |acc, (p, s)| acc + *p * *s);
        assert_eq!(msm(&pts, &sc).unwrap(), naive);
        let same = vec![Fr::rand(&mut rng); n];
        assert_eq!(
            msm(&pts, &same).unwrap(),
            G1Projective::msm_unchecked(&pts, &same)
        );
    }

    #[test]
    fn folds_match_definition() {
        let mut rng = test_rng();
        let lo: Vec<G1Affine> = (0..70)
            .map(|_| G1Projective::rand(&mut rng).into_affine())
            .collect();
        let hi: Vec<G1Affine> = (0..70)
            .map(|_| G1Projective::rand(&mut rng).into_affine())
            .collect();
        let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let f = fold(&lo, &hi, a, b).unwrap();
        let f1 = fold(&lo, &hi, Fr::from(1u64), b).unwrap();
        let wa: Vec<Fr> = (0..70).map(|_| Fr::rand(&mut rng)).collect();
        let wb: Vec<Fr> = (0..70).map(|_| Fr::rand(&mut rng)).collect();
        let g = fold_weighted(&lo, &hi, &wa, &wb).unwrap();
        let s = scale(&lo, &wa).unwrap();
        for i in 0..70 {
            assert_eq!(f[i], (lo[i] * a + hi[i] * b).into_affine());
            assert_eq!(f1[i], (hi[i] * b + lo[i]).into_affine());
            assert_eq!(g[i], (lo[i] * wa[i] + hi[i] * wb[i]).into_affine());
            assert_eq!(s[i], (lo[i] * wa[i]).into_affine());
        }
        assert!(fold(&lo, &hi[..69], a, b).is_err());
        // shared-scalar path edge cases: lo = hi, identities, small and extreme scalars
        let mut lo2 = lo[..8].to_vec();
        let mut hi2 = lo[..8].to_vec();
        hi2[1] = G1Affine::identity();
        lo2[2] = G1Affine::identity();
        hi2[3] = -lo2[3];
        for bb in [
            Fr::from(0u64),
            Fr::from(1u64),
            -Fr::from(1u64),
            Fr::from(2u64),
            b,
        ] {
            let g = fold(&lo2, &hi2, Fr::from(1u64), bb).unwrap();
            for i in 0..8 {
                assert_eq!(g[i], (hi2[i] * bb + lo2[i]).into_affine(), "i = {i}");
            }
        }
    }

    #[test]
    fn keccak_known_answer() {
        // keccak256("") (Ethereum's empty hash)
        let h = keccak256(b"");
        assert_eq!(
            h,
            hex32("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        );
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use ark_ec::VariableBaseMSM;
    use ark_ff::UniformRand;
    use ark_std::test_rng;
    use std::time::Instant;

    /// `cargo test -p zkmargin-curve --release -- --ignored --nocapture` prints
    /// this crate's MSM and fold against arkworks' on the same inputs.
    #[test]
    #[ignore]
    fn compare_with_arkworks() {
        let mut rng = test_rng();
        for n in [1024usize, 2048, 8192, 16384] {
            let pts: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::rand(&mut rng).into_affine())
                .collect();
            let sc: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let best = |f: &dyn Fn() -> G1Projective| {
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        let _ = std::hint::black_box(f());
                        t.elapsed()
                    })
                    .min()
                    .unwrap()
            };
            assert_eq!(
                msm(&pts, &sc).unwrap(),
                G1Projective::msm_unchecked(&pts, &sc)
            );
            let t_ours = best(&|| msm(&pts, &sc).unwrap());
            let t_ark = best(&|| G1Projective::msm_unchecked(&pts, &sc));
            let t = Instant::now();
            let f = fold(&pts[..n / 2], &pts[n / 2..], Fr::from(1u64), sc[0]).unwrap();
            let t_fold = t.elapsed();
            let t = Instant::now();
            let g: Vec<G1Projective> = pts[..n / 2]
                .iter()
                .zip(&pts[n / 2..])
                .map(|(l, h)| *h * sc[0] + l)
                .collect();
            let t_fold_ark = t.elapsed();
            assert_eq!(f[3], g[3].into_affine());
            println!(
                "n={n}: msm ours {:?} arkworks {:?} | fold n/2 ours {:?} arkworks GLV mul {:?}",
                t_ours, t_ark, t_fold, t_fold_ark
            );
        }
    }
}
