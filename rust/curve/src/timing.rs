use super::*;
use ark_ec::CurveGroup;
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
