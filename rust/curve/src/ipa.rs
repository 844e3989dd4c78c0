//! Scalars of the batched inner-product verification equation.

use ark_ff::{Field, Zero};

use crate::{CurveError, Fr, Result};

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
