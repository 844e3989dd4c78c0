//! The aggregated range prover of docs/proof-spec.md §6 with its scalar vectors kept in
//! `Fr`. The caller owns the Fiat-Shamir transcript: each step returns the points to
//! absorb and the next step takes the challenge squeezed from them. The pure-Python
//! reference (`zkmargin.proof._rangeprover.PyRangeProver`) runs the same steps, so both
//! backends emit identical proofs from the same randomness.

use ark_ec::CurveGroup;
use ark_ff::{BigInteger, Field, PrimeField, Zero};

use crate::{CurveError, Fr, G1Affine, G1Projective, Result, fold, msm, mul};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Commit,
    Poly,
    Evaluate,
    IpaBegin,
    IpaRound,
    IpaFold,
    Done,
}

/// State of one proof: witness, blinding randomness and the inner-product vectors.
pub struct RangeProver {
    step: Step,
    g_base: G1Affine,
    h_base: G1Affine,
    bits: Vec<bool>,
    gammas: Vec<Fr>,
    s_l: Vec<Fr>,
    s_r: Vec<Fr>,
    alpha: Fr,
    rho: Fr,
    tau1: Fr,
    tau2: Fr,
    y: Fr,
    z: Fr,
    l0: Vec<Fr>,
    r0: Vec<Fr>,
    r1: Vec<Fr>,
    // inner-product argument: current vectors, generators kept as (points, weights) with
    // g_true = fg * g and h_true_i = hw_i * h_i (see ipa_fold)
    a: Vec<Fr>,
    b: Vec<Fr>,
    g: Vec<G1Affine>,
    h: Vec<G1Affine>,
    hw: Vec<Fr>,
    fg: Fr,
    q: G1Affine,
}

fn inner(a: &[Fr], b: &[Fr]) -> Fr {
    a.iter().zip(b).map(|(x, y)| *x * y).sum()
}

fn powers(x: Fr, count: usize) -> Vec<Fr> {
    let mut out = Vec::with_capacity(count);
    let mut acc = Fr::from(1u64);
    for _ in 0..count {
        out.push(acc);
        acc *= x;
    }
    out
}

fn affine(p: G1Projective) -> G1Affine {
    p.into_affine()
}

impl RangeProver {
    /// `values` and `gammas` (m each, m a power of two) are the committed values and their
    /// blindings; the low `n` bits of each value are the witness (an out-of-range value
    /// gives a proof that fails). `randomness` is `alpha, s_L[0..nm), s_R[0..nm), rho,
    /// tau1, tau2`; `g` and `h` hold at least `n m` generators.
    #[allow(clippy::too_many_arguments)] // the protocol's inputs, each used once
    pub fn new(
        g: &[G1Affine],
        h: &[G1Affine],
        g_base: G1Affine,
        h_base: G1Affine,
        values: &[Fr],
        gammas: &[Fr],
        n: usize,
        randomness: &[Fr],
    ) -> Result<Self> {
        let m = values.len();
        if !(1..=64).contains(&n) || m == 0 || !m.is_power_of_two() {
            return Err(CurveError::Mismatch {
                what: "range proof n (1..=64) and m (a power of two)",
                left: n,
                right: m,
            });
        }
        if gammas.len() != m {
            return Err(CurveError::Mismatch {
                what: "values/gammas",
                left: m,
                right: gammas.len(),
            });
        }
        let nn = n * m;
        if g.len() < nn || h.len() < nn {
            return Err(CurveError::Mismatch {
                what: "generators/n m",
                left: g.len().min(h.len()),
                right: nn,
            });
        }
        if randomness.len() != 2 * nn + 4 {
            return Err(CurveError::Mismatch {
                what: "randomness/2 n m + 4",
                left: randomness.len(),
                right: 2 * nn + 4,
            });
        }
        let bits = values
            .iter()
            .flat_map(|v| {
                let limbs = v.into_bigint();
                (0..n).map(move |i| limbs.get_bit(i))
            })
            .collect();
        Ok(RangeProver {
            step: Step::Commit,
            g_base,
            h_base,
            bits,
            gammas: gammas.to_vec(),
            alpha: randomness[0],
            s_l: randomness[1..=nn].to_vec(),
            s_r: randomness[nn + 1..=2 * nn].to_vec(),
            rho: randomness[2 * nn + 1],
            tau1: randomness[2 * nn + 2],
            tau2: randomness[2 * nn + 3],
            y: Fr::zero(),
            z: Fr::zero(),
            l0: Vec::new(),
            r0: Vec::new(),
            r1: Vec::new(),
            a: Vec::new(),
            b: Vec::new(),
            g: g[..nn].to_vec(),
            h: h[..nn].to_vec(),
            hw: Vec::new(),
            fg: Fr::from(1u64),
            q: G1Affine::identity(),
        })
    }

    fn enter(&mut self, want: Step, step: &'static str) -> Result<()> {
        if self.step != want {
            return Err(CurveError::OutOfOrder { step });
        }
        Ok(())
    }

    /// `A = alpha H + <a_L, g> + <a_R, h>` and `S = rho H + <s_L, g> + <s_R, h>`.
    pub fn commit(&mut self) -> Result<(G1Affine, G1Affine)> {
        self.enter(Step::Commit, "commit")?;
        // a_R is 0 or -1: A is a signed sum of generators, no multiplications
        let a_pt = || {
            let mut acc = mul(&self.h_base, &self.alpha);
            for ((bit, g), h) in self.bits.iter().zip(&self.g).zip(&self.h) {
                if *bit {
                    acc += g;
                } else {
                    acc -= h;
                }
            }
            acc
        };
        let s_pt = || {
            let pts: Vec<G1Affine> = self
                .g
                .iter()
                .chain(&self.h)
                .chain(std::iter::once(&self.h_base))
                .copied()
                .collect();
            let sc: Vec<Fr> = self
                .s_l
                .iter()
                .chain(&self.s_r)
                .chain(std::iter::once(&self.rho))
                .copied()
                .collect();
            msm(&pts, &sc)
        };
        let (a, s) = rayon::join(a_pt, s_pt);
        self.step = Step::Poly;
        Ok((affine(a), affine(s?)))
    }

    /// With challenges y, z: `T1 = t1 G + tau1 H`, `T2 = t2 G + tau2 H`.
    pub fn poly(&mut self, y: Fr, z: Fr) -> Result<(G1Affine, G1Affine)> {
        self.enter(Step::Poly, "poly")?;
        let nn = self.bits.len();
        let n = nn / self.gammas.len();
        let yp = powers(y, nn);
        let two = Fr::from(2u64);
        let one = Fr::from(1u64);
        let mut d = Vec::with_capacity(nn);
        let mut zj = z.square();
        for _ in 0..self.gammas.len() {
            let mut v = zj;
            for _ in 0..n {
                d.push(v);
                v *= two;
            }
            zj *= z;
        }
        let bit = |b: bool| if b { one } else { Fr::zero() };
        self.l0 = self.bits.iter().map(|b| bit(*b) - z).collect();
        self.r0 = (0..nn)
            .map(|i| yp[i] * (bit(self.bits[i]) - one + z) + d[i])
            .collect();
        self.r1 = yp.iter().zip(&self.s_r).map(|(p, s)| *p * s).collect();
        let t1 = inner(&self.l0, &self.r1) + inner(&self.s_l, &self.r0);
        let t2 = inner(&self.s_l, &self.r1);
        let (g, h) = (self.g_base, self.h_base);
        let t1_pt = mul(&g, &t1) + mul(&h, &self.tau1);
        let t2_pt = mul(&g, &t2) + mul(&h, &self.tau2);
        (self.y, self.z) = (y, z);
        self.step = Step::Evaluate;
        Ok((affine(t1_pt), affine(t2_pt)))
    }

    /// With challenge x: `(t_hat, tau_x, mu)`; l(x), r(x) become the inner-product vectors.
    pub fn evaluate(&mut self, x: Fr) -> Result<(Fr, Fr, Fr)> {
        self.enter(Step::Evaluate, "evaluate")?;
        let mut zj = self.z.square();
        let mut tau_x = self.tau2 * x.square() + self.tau1 * x;
        for gamma in &self.gammas {
            tau_x += zj * gamma;
            zj *= self.z;
        }
        let mu = self.alpha + self.rho * x;
        self.a = self
            .l0
            .iter()
            .zip(&self.s_l)
            .map(|(p, q)| *p + *q * x)
            .collect();
        self.b = self
            .r0
            .iter()
            .zip(&self.r1)
            .map(|(p, q)| *p + *q * x)
            .collect();
        let t_hat = inner(&self.a, &self.b);
        self.step = Step::IpaBegin;
        Ok((t_hat, tau_x, mu))
    }

    /// With challenge w: `Q = w G`; generators h' = y^-i h_i.
    pub fn ipa_begin(&mut self, w: Fr) -> Result<()> {
        self.enter(Step::IpaBegin, "ipa_begin")?;
        let yinv = self.y.inverse().ok_or(CurveError::ZeroChallenge)?;
        self.hw = powers(yinv, self.a.len());
        self.q = affine(mul(&self.g_base, &w));
        self.step = if self.a.len() > 1 {
            Step::IpaRound
        } else {
            Step::Done
        };
        Ok(())
    }

    /// `L = <a_lo, g_hi> + <b_hi, h'_lo> + <a_lo, b_hi> Q` and
    /// `R = <a_hi, g_lo> + <b_lo, h'_hi> + <a_hi, b_lo> Q` of the current round.
    pub fn ipa_round(&mut self) -> Result<(G1Affine, G1Affine)> {
        self.enter(Step::IpaRound, "ipa_round")?;
        let half = self.a.len() / 2;
        let (a_lo, a_hi) = self.a.split_at(half);
        let (b_lo, b_hi) = self.b.split_at(half);
        let (g_lo, g_hi) = self.g.split_at(half);
        let (h_lo, h_hi) = self.h.split_at(half);
        let (hw_lo, hw_hi) = self.hw.split_at(half);
        let (fg, q) = (self.fg, self.q);
        let side = |a: &[Fr], b: &[Fr], g: &[G1Affine], h: &[G1Affine], hw: &[Fr], c: Fr| {
            let pts: Vec<G1Affine> = g
                .iter()
                .chain(h)
                .chain(std::iter::once(&q))
                .copied()
                .collect();
            let sc: Vec<Fr> = a
                .iter()
                .map(|v| *v * fg)
                .chain(b.iter().zip(hw).map(|(v, w)| *v * w))
                .chain(std::iter::once(c))
                .collect();
            msm(&pts, &sc)
        };
        let (l, r) = rayon::join(
            || side(a_lo, b_hi, g_hi, h_lo, hw_lo, inner(a_lo, b_hi)),
            || side(a_hi, b_lo, g_lo, h_hi, hw_hi, inner(a_hi, b_lo)),
        );
        self.step = Step::IpaFold;
        Ok((affine(l?), affine(r?)))
    }

    /// With challenge u: `a = u a_lo + u^-1 a_hi`, `b = u^-1 b_lo + u b_hi`,
    /// `g = u^-1 g_lo + u g_hi`, `h' = u h'_lo + u^-1 h'_hi`.
    pub fn ipa_fold(&mut self, u: Fr) -> Result<()> {
        self.enter(Step::IpaFold, "ipa_fold")?;
        let ui = u.inverse().ok_or(CurveError::ZeroChallenge)?;
        let half = self.a.len() / 2;
        let fold_s = |v: &[Fr], x: Fr, y: Fr| -> Vec<Fr> {
            v[..half]
                .iter()
                .zip(&v[half..])
                .map(|(p, q)| *p * x + *q * y)
                .collect()
        };
        self.a = fold_s(&self.a, u, ui);
        self.b = fold_s(&self.b, ui, u);
        // Both weight vectors stay geometric (fg uniform, hw_i = C y^-i), so hi_i / lo_i
        // is one constant per round and each generator fold is lo_i + c hi_i:
        // g' = (fg u^-1) (g_lo + u^2 g_hi), h' = (u hw_lo) (h_lo + u^-2 kappa h_hi).
        let hw0 = self.hw[0].inverse().ok_or(CurveError::ZeroChallenge)?;
        let kappa = self.hw[half] * hw0;
        let one = Fr::from(1u64);
        let (g_lo, g_hi) = self.g.split_at(half);
        let (h_lo, h_hi) = self.h.split_at(half);
        let (g, h) = rayon::join(
            || fold(g_lo, g_hi, one, u.square()),
            || fold(h_lo, h_hi, one, ui.square() * kappa),
        );
        (self.g, self.h) = (g?, h?);
        self.fg *= ui;
        self.hw = self.hw[..half].iter().map(|q| u * q).collect();
        self.step = if half > 1 { Step::IpaRound } else { Step::Done };
        Ok(())
    }

    /// The final scalars `(a, b)` of the inner-product argument.
    pub fn result(&self) -> Result<(Fr, Fr)> {
        if self.step != Step::Done {
            return Err(CurveError::OutOfOrder { step: "result" });
        }
        Ok((self.a[0], self.b[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{derive_generators, generator, hash_to_g1};

    fn prover(randomness: usize) -> Result<RangeProver> {
        let g = derive_generators(b"test/g", 0, 16);
        let h = derive_generators(b"test/h", 0, 16);
        let vals = [Fr::from(5u64), Fr::from(200u64)];
        let rnd: Vec<Fr> = (0..randomness as u64).map(|i| Fr::from(i + 7)).collect();
        let h_base = hash_to_g1(b"test/H").0;
        RangeProver::new(&g, &h, generator(), h_base, &vals, &vals, 8, &rnd)
    }

    #[test]
    fn steps_run_in_protocol_order_only() {
        assert!(matches!(prover(10), Err(CurveError::Mismatch { .. })));
        let mut p = prover(36).unwrap();
        let one = Fr::from(1u64);
        assert_eq!(
            p.poly(one, one).unwrap_err(),
            CurveError::OutOfOrder { step: "poly" }
        );
        let _ = p.commit().unwrap();
        assert!(p.commit().is_err());
        let _ = p.poly(Fr::from(3u64), Fr::from(4u64)).unwrap();
        p.evaluate(Fr::from(5u64)).unwrap();
        p.ipa_begin(Fr::from(6u64)).unwrap();
        assert!(p.result().is_err());
        for r in 0..4 {
            let _ = p.ipa_round().unwrap();
            assert_eq!(p.ipa_fold(Fr::zero()), Err(CurveError::ZeroChallenge));
            p.ipa_fold(Fr::from(r + 9)).unwrap();
        }
        assert!(p.ipa_round().is_err());
        assert!(p.result().is_ok());
    }
}
