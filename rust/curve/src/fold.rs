//! The generator folds of the inner-product argument and scalar multiplication.

use ark_ec::{AdditiveGroup, CurveGroup};
use ark_ff::{BigInteger, PrimeField, Zero};
use rayon::prelude::*;

use crate::{CurveError, Fr, G1Affine, G1Projective, Result};

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
