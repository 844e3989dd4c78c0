//! The machine's multiply-add rate for the engine's own arithmetic: a separate IEEE
//! multiply and add per element (the engine never fuses them, so that every instruction
//! set gives the same bits), on the widest vectors this CPU runs, operands in L1. It is
//! the compute side of the benchmarks' floor (benches/bench_margin.py): a margin pass can
//! do its positions x scenarios multiply-adds no faster than this.

use std::time::Instant;

use crate::isa::{Isa, multiversion};

/// Doubles per accumulator (one AVX-512 register) and independent accumulators: enough
/// add chains in flight to hide the add latency on every copy.
const LANES: usize = 8;
const CHAINS: usize = 4;
/// 6 KiB of operands: resident in L1, so loads never bound the rate.
const LEN: usize = 768;

multiversion! {
    /// `reps` passes of `acc += x * y` over `x` (a multiple of `LANES * CHAINS` long);
    /// returns the sum of the accumulators, so that nothing is optimised away.
    fn kernel(x: &[f64], y: f64, reps: usize) -> f64 {
        let mut acc = [[0.0f64; LANES]; CHAINS];
        for _ in 0..reps {
            // one opaque read per pass: the compiler may not hoist passes into one
            let x = std::hint::black_box(x);
            for c in x.chunks_exact(LANES * CHAINS) {
                for (k, a) in acc.iter_mut().enumerate() {
                    for (l, v) in a.iter_mut().enumerate() {
                        *v += c[LANES * k + l] * y;
                    }
                }
            }
        }
        acc.iter().flatten().sum()
    }
}

fn operands() -> Vec<f64> {
    (0..LEN).map(|i| 1.0 + i as f64 * 1e-9).collect()
}

/// Multiply-adds per second one thread sustains with the widest copy of the kernel this
/// CPU runs: the fastest of repeated timed runs within about `seconds` (at least 3 runs).
pub fn madd_rate(seconds: f64) -> f64 {
    let x = operands();
    let isa = Isa::best();
    // size one run at about a fiftieth of the budget from a short calibration run
    let mut reps = 256usize;
    let t = Instant::now();
    std::hint::black_box(kernel(isa, &x, 0.999_999, reps));
    let per_rep = t.elapsed().as_secs_f64().max(1e-9) / reps as f64;
    reps = ((seconds / 50.0 / per_rep) as usize).clamp(256, 1 << 26);
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut runs = 0;
    while runs < 3 || start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        std::hint::black_box(kernel(isa, &x, 0.999_999, reps));
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    (reps * LEN) as f64 / best.max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_gives_the_same_bits_so_none_fuses() {
        // a fused multiply-add rounds once where multiply-then-add rounds twice: over many
        // passes the sums would part in their last bits
        let x = operands();
        let want = kernel(Isa::Portable, &x, 0.999_999, 1000);
        for isa in Isa::ALL.into_iter().filter(|i| i.available()) {
            assert_eq!(kernel(isa, &x, 0.999_999, 1000).to_bits(), want.to_bits());
        }
        let scalar: f64 = {
            let mut acc = [0.0f64; LANES * CHAINS];
            for _ in 0..1000 {
                for c in x.chunks_exact(LANES * CHAINS) {
                    for (a, v) in acc.iter_mut().zip(c) {
                        *a += v * 0.999_999;
                    }
                }
            }
            acc.iter().sum()
        };
        assert_eq!(want.to_bits(), scalar.to_bits());
    }

    #[test]
    fn the_rate_is_a_positive_number() {
        let r = madd_rate(0.01);
        assert!(r.is_finite() && r > 1e6, "{r}");
    }
}
