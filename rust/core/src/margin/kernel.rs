//! The scenario P&L accumulation of the portfolio model (docs/margin-model.md §6.2-§6.3):
//! every position row adds `q x` its instrument's risk row into its portfolio's P&L row.
//!
//! The rows are walked in the account's order once per block of scenarios, with the block
//! of the current portfolio's P&L held in registers and written back only when the next
//! row belongs to another portfolio. Each scenario of each portfolio thus sees the same
//! IEEE additions in the same order as a row-by-row `pnl += q risk` through memory: the
//! blocking changes where the partial sums live, never the bits.

/// The per-row work fused with the P&L pass. A trait rather than a closure, so that its
/// `#[inline(always)]` bodies are compiled into every instruction set's copy of the loop.
pub(super) trait Visit {
    /// Sees position row `(instrument, quantity)`, once per row in the account's order,
    /// and returns the row's portfolio (its P&L row in `pnl`).
    fn visit(&mut self, i: usize, q: f64) -> usize;
    /// The pass moves to portfolio `g`'s P&L: called before its first row is added, and
    /// again whenever an account's rows come back to it.
    fn enter(&mut self, g: usize);
}

/// One position row of an account, resolved once per account: offsets of its risk row in
/// `Prepared.risk` and of its portfolio's row in the P&L scratch (both multiples of the
/// padded width `W`), and its quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Row {
    pub risk: usize,
    pub pnl: usize,
    pub q: f64,
}

/// Scenarios per block on wide tables: 6 AVX-512 registers of accumulators, which leaves
/// room for the quantity and a product (the AVX2 copy's 12 spill a few in the first pass,
/// where the per-row sums need registers too).
const WIDE: usize = 48;

/// `pnl[g * w + s] += q * risk[i * w + s]` for every position row `(i, q)` of `instrument`
/// and `quantity` in order and every scenario `s < w` (`w` a multiple of 8), where
/// `g = visit.visit(i, q)` is the row's portfolio.
/// `visit` is called once per row, in order, fused with the first block of scenarios:
/// the caller's per-row sums ride along the same pass. `rows` is working memory.
#[inline(always)]
pub(super) fn accumulate(
    pnl: &mut [f64],
    w: usize,
    risk: &[f64],
    instrument: &[i64],
    quantity: &[f64],
    rows: &mut Vec<Row>,
    visit: &mut impl Visit,
) {
    // The first block is the whole row when it fits one (the Deribit table's 35
    // scenarios pad to 40: five AVX-512 registers), else the widest that fits.
    let first = match w {
        40 => 40,
        w if w >= WIDE => WIDE,
        w if w >= 32 => 32,
        w if w >= 16 => 16,
        _ => 8,
    };
    let record = first < w;
    rows.clear();
    let pass = Pass {
        pnl,
        w,
        risk,
        rows,
        record,
    };
    match first {
        40 => pass.first::<40>(instrument, quantity, visit),
        WIDE => pass.first::<WIDE>(instrument, quantity, visit),
        32 => pass.first::<32>(instrument, quantity, visit),
        16 => pass.first::<16>(instrument, quantity, visit),
        _ => pass.first::<8>(instrument, quantity, visit),
    }
    if record {
        accumulate_rows(pnl, first, w, risk, rows);
    }
}

/// The first pass over an account's rows (see [`accumulate`]).
struct Pass<'a> {
    pnl: &'a mut [f64],
    w: usize,
    risk: &'a [f64],
    rows: &'a mut Vec<Row>,
    /// Whether later blocks follow, which read the rows back from `rows`.
    record: bool,
}

impl Pass<'_> {
    #[inline(always)]
    fn first<const B: usize>(self, instrument: &[i64], quantity: &[f64], visit: &mut impl Visit) {
        let Pass {
            pnl,
            w,
            risk,
            rows,
            record,
        } = self;
        // An offset no portfolio has: the first row always loads its block.
        let mut at = usize::MAX;
        let mut acc = [0.0; B];
        for (&i, &q) in instrument.iter().zip(quantity) {
            let i = i as usize;
            let g = visit.visit(i, q);
            let p = g * w;
            if p != at {
                if at != usize::MAX {
                    pnl[at..at + B].copy_from_slice(&acc);
                }
                at = p;
                acc = *lanes::<B>(pnl, at);
                visit.enter(g);
            }
            if record {
                rows.push(Row {
                    risk: i * w,
                    pnl: p,
                    q,
                });
            }
            for (a, x) in acc.iter_mut().zip(lanes::<B>(risk, i * w)) {
                *a += q * x;
            }
        }
        if at != usize::MAX {
            pnl[at..at + B].copy_from_slice(&acc);
        }
    }
}

/// [`accumulate`]'s later blocks: scenarios `s0..w` over the recorded `rows`.
#[inline(always)]
fn accumulate_rows(pnl: &mut [f64], mut s0: usize, w: usize, risk: &[f64], rows: &[Row]) {
    while s0 + WIDE <= w {
        block::<WIDE>(pnl, s0, risk, rows);
        s0 += WIDE;
    }
    // The rest, a multiple of 8 below 48, in at most three narrower blocks.
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

/// Scenarios `s0..s0 + B` of every row in `rows`, in order.
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
        for (a, x) in acc.iter_mut().zip(lanes::<B>(risk, r.risk + s0)) {
            *a += r.q * x;
        }
    }
    pnl[at..at + B].copy_from_slice(&acc);
}

/// `x[at..at + B]` as a fixed-length array reference, which keeps the block in registers
/// (copying into a local array instead compiles to a `memcpy` call per row).
#[inline(always)]
pub(super) fn lanes<const B: usize>(x: &[f64], at: usize) -> &[f64; B] {
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

    /// Records the rows it visits and the portfolios entered; each row's portfolio is the
    /// third entry of `rows`.
    struct Seen<'a> {
        rows: &'a [(usize, f64, usize)],
        seen: Vec<(usize, f64)>,
        entered: Vec<usize>,
    }

    impl Visit for Seen<'_> {
        fn visit(&mut self, i: usize, q: f64) -> usize {
            self.seen.push((i, q));
            self.rows[self.seen.len() - 1].2
        }

        fn enter(&mut self, g: usize) {
            // Entered right after visiting a row of `g`, before any other row.
            assert_eq!(self.rows[self.seen.len() - 1].2, g);
            self.entered.push(g);
        }
    }

    /// Runs [`accumulate`] on `(instrument, q, portfolio)` rows; returns the visited rows.
    fn run(
        pnl: &mut [f64],
        w: usize,
        risk: &[f64],
        rows: &[(usize, f64, usize)],
    ) -> Vec<(usize, f64)> {
        let instrument: Vec<i64> = rows.iter().map(|r| r.0 as i64).collect();
        let quantity: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let mut seen = Seen {
            rows,
            seen: Vec::new(),
            entered: Vec::new(),
        };
        accumulate(
            pnl,
            w,
            risk,
            &instrument,
            &quantity,
            &mut Vec::new(),
            &mut seen,
        );
        // Entered exactly where the portfolio changes from one row to the next.
        let runs: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|&(k, r)| k == 0 || rows[k - 1].2 != r.2)
            .map(|(_, r)| r.2)
            .collect();
        assert_eq!(seen.entered, runs);
        seen.seen
    }

    #[test]
    fn blocks_match_row_by_row_bits() {
        let n_i = 7;
        for w in [8, 16, 24, 32, 40, 48, 56, 64, 72, 88, 96, 120, 1000] {
            let risk = values(n_i * w, w as u64);
            for n_g in [1, 2, 4] {
                for n_rows in [0, 1, 2, 5, 13, 40] {
                    let q = values(n_rows, 7 + n_rows as u64);
                    // Portfolios interleaved, repeated and skipped, instruments repeated.
                    let rows: Vec<(usize, f64, usize)> = (0..n_rows)
                        .map(|k| ((k * 5 + n_g) % n_i, q[k], (k * k + k / 3) % n_g))
                        .collect();
                    let reference_rows: Vec<Row> = rows
                        .iter()
                        .map(|&(i, q, g)| Row {
                            risk: i * w,
                            pnl: g * w,
                            q,
                        })
                        .collect();
                    let start = values(n_g * w, 3);
                    let (mut want, mut got) = (start.clone(), start);
                    reference(&mut want, w, &risk, &reference_rows);
                    let seen = run(&mut got, w, &risk, &rows);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "w {w} groups {n_g} rows {n_rows}");
                    let visited: Vec<(usize, f64)> = rows.iter().map(|r| (r.0, r.1)).collect();
                    assert_eq!(seen, visited, "each row visited once, in order");
                }
            }
        }
    }

    #[test]
    fn negative_zero_start_is_kept() {
        // A portfolio's first row adds into -0.0: a zero risk entry must give
        // -0.0 + q 0.0 as in the scalar loop (what a fresh accumulator of +0.0 would not).
        for w in [40, 1000] {
            let risk = vec![0.0; w];
            let mut pnl = vec![-0.0; w];
            run(&mut pnl, w, &risk, &[(0, -2.0, 0)]);
            assert!(pnl.iter().all(|x| x.to_bits() == (-0.0f64).to_bits()));
        }
    }
}
