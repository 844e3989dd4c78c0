//! BN254 G1 (Ethereum alt_bn128) arithmetic for zkmargin proofs: canonical encodings,
//! keccak256 try-and-increment generators, multi-threaded multi-scalar multiplication and
//! the generator folds of the inner-product argument.
//!
//! Pure Rust (no PyO3) so that `cargo test -p zkmargin-curve` never links libpython.
//! Every decoder is strict: the byte layouts are specified in `docs/proof-spec.md` §3 and
//! each malformed input maps to one [`CurveError`] variant.

use ark_ec::{AffineRepr, CurveGroup};

pub use ark_bn254::{Fq, Fr, G1Affine, G1Projective};

mod encoding;
mod error;
mod fold;
mod hash;
mod ipa;
mod msm;
mod prover;

pub use encoding::{
    COMPRESSED_INFINITY, COMPRESSED_Y_ODD, point_from_compressed, point_from_evm,
    point_to_compressed, point_to_evm, scalar_from_be, scalar_to_be, scalars_from_be,
    scalars_from_wide,
};
pub use error::{CurveError, Result};
pub use fold::{fold, fold_weighted, mul, scale};
pub use hash::{derive_generators, hash_to_g1, keccak256};
pub use ipa::{IpaCheck, ipa_generator_scalars};
pub use msm::{MAX_MSM_LEN, msm};
pub use prover::{Committed, Evaluated, Ipa, IpaDone, IpaFold, IpaRound, Polynomial, RangeProver};

/// Below this many terms an MSM or fold runs on the calling thread: splitting small jobs
/// costs more in scheduling than it saves.
pub const PARALLEL_THRESHOLD: usize = 512;

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
mod tests;

#[cfg(test)]
mod timing;
