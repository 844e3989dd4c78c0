use super::*;
use crate::encoding::{fq_from_be, fq_is_odd, sqrt_rhs};
use ark_ec::VariableBaseMSM;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::UniformRand;
use ark_ff::{Field, PrimeField, Zero};
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
