//! keccak256 and the try-and-increment hash to G1 used to derive generators.

use ark_ff::PrimeField;
use rayon::prelude::*;
use tiny_keccak::{Hasher, Keccak};

use crate::encoding::{fq_is_odd, sqrt_rhs};
use crate::{Fq, G1Affine};

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
