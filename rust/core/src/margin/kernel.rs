//! The scenario P&L accumulation of the portfolio model (docs/margin-model.md §6.2-§6.3):
//! every position row adds `q x` its instrument's risk row into its portfolio's P&L row.
//!
//! The rows are walked in the account's order once per block of scenarios, with the block
//! of the current portfolio's P&L held in registers and written back only when the next
//! row belongs to another portfolio. Each scenario of each portfolio thus sees the same
//! IEEE additions in the same order as a row-by-row `pnl += q risk` through memory: the
//! blocking changes where the partial sums live, never the bits.

/// One position row of an account, resolved once per account: offsets of its risk row in
/// `Prepared.risk` and of its portfolio's row in the P&L scratch (both multiples of the
/// padded width `W`), and its quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Row {
    pub risk: usize,
    pub pnl: usize,
    pub q: f64,
}

/// Scenarios per block on wide tables: 6 AVX-512 registers (12 AVX2 ones) of accumulators,
/// which leaves room for the quantity and a product without spilling.
const WIDE: usize = 48;

/// `pnl[r.pnl + s] += r.q * risk[r.risk + s]` for every row `r` in order and every
/// scenario `s < w` (`w` a multiple of 8, every offset `+ w` in bounds).
#[inline(always)]
pub(super) fn accumulate(pnl: &mut [f64], w: usize, risk: &[f64], rows: &[Row]) {
    let mut s0 = 0;
    while s0 + WIDE <= w {
        block::<WIDE>(pnl, s0, risk, rows);
        s0 += WIDE;
    }
    // The rest, a multiple of 8 below 48, in as few blocks as the lanes allow: the
    // Deribit table's 35 scenarios pad to 40, one block of five AVX-512 registers.
    if w - s0 == 40 {
        return block::<40>(pnl, s0, risk, rows);
    }
    if w - s0 >= 32 {
        block::<32>(pnl, s0, risk, rows);
        s0 += 32;
    }
    if w - s0 >= 16 {
        block::<16>(pnl, s0, risk, rows);
        s0 += 16;
    }
    if w - s0 >= 8 {
        block::<8>(pnl, s0, risk, rows);
        s0 += 8;
    }
    debug_assert_eq!(s0, w);
}

/// [`accumulate`] over scenarios `s0..s0 + B`.
#[inline(always)]
fn block<const B: usize>(pnl: &mut [f64], s0: usize, risk: &[f64], rows: &[Row]) {
    let Some(first) = rows.first() else {
        return;
    };
    let mut at = first.pnl + s0;
    let mut acc = *lanes::<B>(pnl, at);
    for r in rows {
        if r.pnl + s0 != at {
            pnl[at..at + B].copy_from_slice(&acc);
            at = r.pnl + s0;
            acc = *lanes::<B>(pnl, at);
        }
        let x = lanes::<B>(risk, r.risk + s0);
        for (a, x) in acc.iter_mut().zip(x) {
            *a += r.q * x;
        }
    }
    pnl[at..at + B].copy_from_slice(&acc);
}

/// `x[at..at + B]` as a fixed-length array reference, which keeps the block in registers
/// (copying into a local array instead compiles to a `memcpy` call per row).
#[inline(always)]
fn lanes<const B: usize>(x: &[f64], at: usize) -> &[f64; B] {
    let Ok(v) = x[at..at + B].try_into() else {
        unreachable!("a slice of B entries converts to [f64; B]")
    };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: row by row through memory.
    fn reference(pnl: &mut [f64], w: usize, risk: &[f64], rows: &[Row]) {
        for r in rows {
            for s in 0..w {
                pnl[r.pnl + s] += r.q * risk[r.risk + s];
            }
        }
    }

    /// A deterministic generator of awkward doubles (mixed signs and magnitudes).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let m = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                m * 10f64.powi((x % 9) as i32 - 4)
            })
            .collect()
    }

    #[test]
    fn blocks_match_row_by_row_bits() {
        let n_i = 7;
        for w in [8, 16, 24, 40, 48, 56, 64, 72, 120, 1000] {
            let risk = values(n_i * w, w as u64);
            for n_g in [1, 2, 4] {
                for n_rows in [0, 1, 2, 5, 13, 40] {
                    let q = values(n_rows, 7 + n_rows as u64);
                    // Portfolios interleaved, repeated and skipped, instruments repeated.
                    let rows: Vec<Row> = (0..n_rows)
                        .map(|k| Row {
                            risk: ((k * 5 + n_g) % n_i) * w,
                            pnl: ((k * k + k / 3) % n_g) * w,
                            q: q[k],
                        })
                        .collect();
                    let start = values(n_g * w, 3);
                    let (mut want, mut got) = (start.clone(), start);
                    reference(&mut want, w, &risk, &rows);
                    accumulate(&mut got, w, &risk, &rows);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "w {w} groups {n_g} rows {n_rows}");
                }
            }
        }
    }

    #[test]
    fn negative_zero_start_is_kept() {
        // A portfolio's first row adds into -0.0: a zero risk entry must stay -0.0 * q +
        // -0.0 as in the scalar loop (what a fresh accumulator of +0.0 would not give).
        let w = 40;
        let risk = vec![0.0; w];
        let rows = [Row {
            risk: 0,
            pnl: 0,
            q: -2.0,
        }];
        let mut pnl = vec![-0.0; w];
        accumulate(&mut pnl, w, &risk, &rows);
        let mut want = vec![-0.0; w];
        reference(&mut want, w, &risk, &rows);
        assert!(
            pnl.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
