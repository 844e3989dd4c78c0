//! The aggregated range prover of docs/proof-spec.md §6 with its scalar vectors kept in
//! `Fr`. The caller owns the Fiat-Shamir transcript: each step returns the points to
//! absorb and the next step takes the challenge squeezed from them. The pure-Python
//! reference (`zkmargin.proof._rangeprover.PyRangeProver`) runs the same steps, so both
//! backends emit identical proofs from the same randomness.
//!
//! The protocol order is in the types: each step consumes the state it runs on and
//! returns the next one ([`RangeProver`] -> [`Committed`] -> [`Polynomial`] ->
//! [`Evaluated`] -> [`Ipa`], whose rounds alternate [`IpaRound`] and [`IpaFold`] until
//! [`IpaDone`]), so a step can neither run twice nor out of order.

use ark_ec::CurveGroup;
use ark_ff::{BigInteger, Field, PrimeField, Zero};

use crate::{CurveError, Fr, G1Affine, G1Projective, Result, fold, msm, mul};

/// The witness and blinding randomness, fixed at construction.
struct Witness {
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
    g: Vec<G1Affine>,
    h: Vec<G1Affine>,
}

/// A proof before its first step: next is [`RangeProver::commit`].
pub struct RangeProver {
    w: Witness,
}

/// `A` and `S` emitted: next is [`Committed::poly`] with the challenges y, z.
pub struct Committed {
    w: Witness,
}

/// `T1` and `T2` emitted: next is [`Polynomial::evaluate`] with the challenge x.
pub struct Polynomial {
    w: Witness,
    y: Fr,
    z: Fr,
    l0: Vec<Fr>,
    r0: Vec<Fr>,
    r1: Vec<Fr>,
}

/// `(t_hat, tau_x, mu)` emitted: next is [`Evaluated::ipa_begin`] with the challenge w.
pub struct Evaluated {
    g_base: G1Affine,
    y: Fr,
    a: Vec<Fr>,
    b: Vec<Fr>,
    g: Vec<G1Affine>,
    h: Vec<G1Affine>,
}

/// The inner-product argument's current vectors, generators kept as (points, weights)
/// with g_true = fg * g and h_true_i = hw_i * h_i (see [`IpaFold::fold`]).
struct IpaState {
    a: Vec<Fr>,
    b: Vec<Fr>,
    g: Vec<G1Affine>,
    h: Vec<G1Affine>,
    hw: Vec<Fr>,
    fg: Fr,
    q: G1Affine,
}

/// Vectors longer than one: next is [`IpaRound::round`].
pub struct IpaRound {
    s: IpaState,
}

/// `L` and `R` of a round emitted: next is [`IpaFold::fold`] with the challenge u.
pub struct IpaFold {
    s: IpaState,
}

/// Vectors of length one: [`IpaDone::result`] gives the final scalars.
pub struct IpaDone {
    a: Fr,
    b: Fr,
}

/// The inner-product argument after `ipa_begin` or a fold: another round, or done.
pub enum Ipa {
    Round(IpaRound),
    Done(IpaDone),
}

impl Ipa {
    fn after(s: IpaState) -> Self {
        if s.a.len() > 1 {
            Ipa::Round(IpaRound { s })
        } else {
            Ipa::Done(IpaDone {
                a: s.a[0],
                b: s.b[0],
            })
        }
    }
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
        let w = Witness {
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
            g: g[..nn].to_vec(),
            h: h[..nn].to_vec(),
        };
        Ok(RangeProver { w })
    }

    /// `A = alpha H + <a_L, g> + <a_R, h>` and `S = rho H + <s_L, g> + <s_R, h>`.
    pub fn commit(self) -> Result<((G1Affine, G1Affine), Committed)> {
        let w = self.w;
        // a_R is 0 or -1: A is a signed sum of generators, no multiplications
        let a_pt = || {
            let mut acc = mul(&w.h_base, &w.alpha);
            for ((bit, g), h) in w.bits.iter().zip(&w.g).zip(&w.h) {
                if *bit {
                    acc += g;
                } else {
                    acc -= h;
                }
            }
            acc
        };
        let s_pt = || {
            let pts: Vec<G1Affine> =
                w.g.iter()
                    .chain(&w.h)
                    .chain(std::iter::once(&w.h_base))
                    .copied()
                    .collect();
            let sc: Vec<Fr> = w
                .s_l
                .iter()
                .chain(&w.s_r)
                .chain(std::iter::once(&w.rho))
                .copied()
                .collect();
            msm(&pts, &sc)
        };
        let (a, s) = rayon::join(a_pt, s_pt);
        let points = (affine(a), affine(s?));
        Ok((points, Committed { w }))
    }
}

impl Committed {
    /// With challenges y, z: `T1 = t1 G + tau1 H`, `T2 = t2 G + tau2 H`.
    pub fn poly(self, y: Fr, z: Fr) -> ((G1Affine, G1Affine), Polynomial) {
        let w = self.w;
        let nn = w.bits.len();
        let n = nn / w.gammas.len();
        let yp = powers(y, nn);
        let two = Fr::from(2u64);
        let one = Fr::from(1u64);
        let mut d = Vec::with_capacity(nn);
        let mut zj = z.square();
        for _ in 0..w.gammas.len() {
            let mut v = zj;
            for _ in 0..n {
                d.push(v);
                v *= two;
            }
            zj *= z;
        }
        let bit = |b: bool| if b { one } else { Fr::zero() };
        let l0: Vec<Fr> = w.bits.iter().map(|b| bit(*b) - z).collect();
        let r0: Vec<Fr> = (0..nn)
            .map(|i| yp[i] * (bit(w.bits[i]) - one + z) + d[i])
            .collect();
        let r1: Vec<Fr> = yp.iter().zip(&w.s_r).map(|(p, s)| *p * s).collect();
        let t1 = inner(&l0, &r1) + inner(&w.s_l, &r0);
        let t2 = inner(&w.s_l, &r1);
        let (g, h) = (w.g_base, w.h_base);
        let t1_pt = mul(&g, &t1) + mul(&h, &w.tau1);
        let t2_pt = mul(&g, &t2) + mul(&h, &w.tau2);
        let points = (affine(t1_pt), affine(t2_pt));
        let next = Polynomial {
            w,
            y,
            z,
            l0,
            r0,
            r1,
        };
        (points, next)
    }
}

impl Polynomial {
    /// With challenge x: `(t_hat, tau_x, mu)`; l(x), r(x) become the inner-product vectors.
    pub fn evaluate(self, x: Fr) -> ((Fr, Fr, Fr), Evaluated) {
        let w = &self.w;
        let mut zj = self.z.square();
        let mut tau_x = w.tau2 * x.square() + w.tau1 * x;
        for gamma in &w.gammas {
            tau_x += zj * gamma;
            zj *= self.z;
        }
        let mu = w.alpha + w.rho * x;
        let a: Vec<Fr> = self
            .l0
            .iter()
            .zip(&w.s_l)
            .map(|(p, q)| *p + *q * x)
            .collect();
        let b: Vec<Fr> = self
            .r0
            .iter()
            .zip(&self.r1)
            .map(|(p, q)| *p + *q * x)
            .collect();
        let t_hat = inner(&a, &b);
        let Witness { g_base, g, h, .. } = self.w;
        let next = Evaluated {
            g_base,
            y: self.y,
            a,
            b,
            g,
            h,
        };
        ((t_hat, tau_x, mu), next)
    }
}

impl Evaluated {
    /// With challenge w: `Q = w G`; generators h' = y^-i h_i.
    pub fn ipa_begin(self, w: Fr) -> Result<Ipa> {
        let yinv = self.y.inverse().ok_or(CurveError::ZeroChallenge)?;
        let hw = powers(yinv, self.a.len());
        let q = affine(mul(&self.g_base, &w));
        Ok(Ipa::after(IpaState {
            a: self.a,
            b: self.b,
            g: self.g,
            h: self.h,
            hw,
            fg: Fr::from(1u64),
            q,
        }))
    }
}

impl IpaRound {
    /// `L = <a_lo, g_hi> + <b_hi, h'_lo> + <a_lo, b_hi> Q` and
    /// `R = <a_hi, g_lo> + <b_lo, h'_hi> + <a_hi, b_lo> Q` of the current round.
    pub fn round(self) -> Result<((G1Affine, G1Affine), IpaFold)> {
        let s = self.s;
        let half = s.a.len() / 2;
        let (a_lo, a_hi) = s.a.split_at(half);
        let (b_lo, b_hi) = s.b.split_at(half);
        let (g_lo, g_hi) = s.g.split_at(half);
        let (h_lo, h_hi) = s.h.split_at(half);
        let (hw_lo, hw_hi) = s.hw.split_at(half);
        let (fg, q) = (s.fg, s.q);
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
        let points = (affine(l?), affine(r?));
        Ok((points, IpaFold { s }))
    }
}

impl IpaFold {
    /// With challenge u: `a = u a_lo + u^-1 a_hi`, `b = u^-1 b_lo + u b_hi`,
    /// `g = u^-1 g_lo + u g_hi`, `h' = u h'_lo + u^-1 h'_hi`.
    pub fn fold(self, u: Fr) -> Result<Ipa> {
        let mut s = self.s;
        let ui = u.inverse().ok_or(CurveError::ZeroChallenge)?;
        let half = s.a.len() / 2;
        let fold_s = |v: &[Fr], x: Fr, y: Fr| -> Vec<Fr> {
            v[..half]
                .iter()
                .zip(&v[half..])
                .map(|(p, q)| *p * x + *q * y)
                .collect()
        };
        s.a = fold_s(&s.a, u, ui);
        s.b = fold_s(&s.b, ui, u);
        // Both weight vectors stay geometric (fg uniform, hw_i = C y^-i), so hi_i / lo_i
        // is one constant per round and each generator fold is lo_i + c hi_i:
        // g' = (fg u^-1) (g_lo + u^2 g_hi), h' = (u hw_lo) (h_lo + u^-2 kappa h_hi).
        let hw0 = s.hw[0].inverse().ok_or(CurveError::ZeroChallenge)?;
        let kappa = s.hw[half] * hw0;
        let one = Fr::from(1u64);
        let (g_lo, g_hi) = s.g.split_at(half);
        let (h_lo, h_hi) = s.h.split_at(half);
        let (g, h) = rayon::join(
            || fold(g_lo, g_hi, one, u.square()),
            || fold(h_lo, h_hi, one, ui.square() * kappa),
        );
        (s.g, s.h) = (g?, h?);
        s.fg *= ui;
        s.hw = s.hw[..half].iter().map(|q| u * q).collect();
        Ok(Ipa::after(s))
    }
}

impl IpaDone {
    /// The final scalars `(a, b)` of the inner-product argument.
    pub fn result(&self) -> (Fr, Fr) {
        (self.a, self.b)
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

    fn evaluated() -> Evaluated {
        let (_, p) = prover(36).unwrap().commit().unwrap();
        let (_, p) = p.poly(Fr::from(3u64), Fr::from(4u64));
        p.evaluate(Fr::from(5u64)).1
    }

    #[test]
    fn the_inner_product_argument_takes_log2_rounds() {
        assert!(matches!(prover(10), Err(CurveError::Mismatch { .. })));
        let mut ipa = evaluated().ipa_begin(Fr::from(6u64)).unwrap();
        let mut rounds = 0u64;
        let (a, b) = loop {
            match ipa {
                Ipa::Round(r) => {
                    let (_, f) = r.round().unwrap();
                    ipa = f.fold(Fr::from(rounds + 9)).unwrap();
                    rounds += 1;
                }
                Ipa::Done(d) => break d.result(),
            }
        };
        assert_eq!(rounds, 4); // n m = 16
        assert!(!a.is_zero() || !b.is_zero());
    }

    #[test]
    fn zero_challenges_are_refused() {
        assert!(matches!(
            evaluated().ipa_begin(Fr::from(6u64)),
            Ok(Ipa::Round(_))
        ));
        let Ipa::Round(r) = evaluated().ipa_begin(Fr::from(6u64)).unwrap() else {
            unreachable!("16 elements need rounds")
        };
        let (_, f) = r.round().unwrap();
        assert!(matches!(f.fold(Fr::zero()), Err(CurveError::ZeroChallenge)));
        let mut e = evaluated();
        e.y = Fr::zero();
        assert!(matches!(
            e.ipa_begin(Fr::from(6u64)),
            Err(CurveError::ZeroChallenge)
        ));
    }
}
