//! Canonical byte encodings of scalars, base-field elements and G1 points
//! (docs/proof-spec.md §3). Every decoder is strict: non-canonical input is rejected,
//! never reduced.

use ark_ec::{AffineRepr, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInt, BigInteger, Field, PrimeField, Zero};

use crate::{CurveError, Fq, Fr, G1Affine, Result};

/// Flag bits of the 32-byte compressed encoding (p < 2^254 leaves the top two bits free).
pub const COMPRESSED_Y_ODD: u8 = 0x80;
pub const COMPRESSED_INFINITY: u8 = 0x40;

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

pub(crate) fn fq_from_be(b: &[u8; 32]) -> Result<Fq> {
    Fq::from_bigint(bigint_from_be(b)).ok_or(CurveError::CoordinateNotCanonical)
}

fn fq_to_be(x: &Fq) -> [u8; 32] {
    be_from_bigint(x.into_bigint())
}

pub(crate) fn fq_is_odd(x: &Fq) -> bool {
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
pub(crate) fn sqrt_rhs(x: &Fq) -> Option<Fq> {
    let rhs = x.square() * x + ark_bn254::g1::Config::COEFF_B;
    rhs.sqrt()
}
