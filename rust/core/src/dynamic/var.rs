//! Per-account historical / Monte Carlo VaR and expected shortfall over joint scenarios,
//! fused (docs/margin-model.md §10.5): each account's scenario P&L is accumulated in one
//! per-thread scratch vector of length `S` and reduced at once, so no accounts x scenarios
//! matrix ever exists and peak memory is `threads x S` floats beyond the inputs.

use rayon::prelude::*;

use super::open_unit;
use crate::error::{ErrorKind, InputError, Result, finite};
use crate::model::Book;

/// Number of tail scenarios `k = max(1, ceil((1 - alpha) S - 1e-9))`. The `1e-9` keeps
/// `(1 - 0.99) * 10000 = 100.00000000000001` at 100 rather than 101.
pub fn tail_count(n_scen: usize, confidence: f64) -> usize {
    let k = ((1.0 - confidence) * n_scen as f64 - 1e-9).ceil();
    (k.max(1.0) as usize).min(n_scen)
}

/// (VaR, ES) of one loss vector: VaR is the `k`-th largest loss, ES the mean of the `k`
/// largest. Reorders `losses` (selection, `O(S)`).
pub fn var_es_of(losses: &mut [f64], k: usize) -> (f64, f64) {
    let (top, kth, _) = losses.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let var = *kth;
    let es = (top.iter().sum::<f64>() + var) / k as f64;
    (var, es)
}

/// A validated instrument-major `I x S` risk array (P&L per contract per joint scenario).
#[derive(Debug, Clone, Copy)]
pub struct RiskArrays<'a> {
    pub data: &'a [f64],
    pub n_instruments: usize,
    pub n_scenarios: usize,
}

impl RiskArrays<'_> {
    pub fn validate(&self) -> Result<()> {
        if self.n_scenarios == 0 {
            return Err(InputError::whole(
                ErrorKind::Shape,
                "risk_arrays",
                "needs at least one scenario",
            ));
        }
        if self.data.len() != self.n_instruments * self.n_scenarios {
            return Err(InputError::whole(
                ErrorKind::Shape,
                "risk_arrays",
                "length is not instruments x scenarios",
            ));
        }
        if let Some(i) = self.data.par_iter().position_first(|v| !v.is_finite()) {
            return Err(InputError::at(
                ErrorKind::NonFinite,
                "risk_arrays",
                i,
                "must be finite",
            ));
        }
        Ok(())
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_scenarios..(i + 1) * self.n_scenarios]
    }

    /// Scenario P&L of rows `rows` of `book` into `acc` (overwritten).
    fn account_pnl(&self, book: &Book<'_>, rows: std::ops::Range<usize>, acc: &mut [f64]) {
        acc.fill(0.0);
        for r in rows {
            let q = book.quantity[r];
            for (a, x) in acc.iter_mut().zip(self.row(book.instrument[r] as usize)) {
                *a += q * x;
            }
        }
    }
}

/// Per-account (VaR, ES) of the loss `-P[s]` at `confidence`, `P[s] = sum_rows q R[i, s]`.
/// Values may be negative (an account that gains in the tail); requirements floor at 0.
pub fn account_var_es(
    risk: &RiskArrays<'_>,
    book: &Book<'_>,
    confidence: f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    open_unit("confidence", confidence)?;
    risk.validate()?;
    book.validate(risk.n_instruments)?;
    let s = risk.n_scenarios;
    let k = tail_count(s, confidence);
    let pairs: Vec<(f64, f64)> = (0..book.n_accounts())
        .into_par_iter()
        .with_min_len(64)
        .map_init(
            || vec![0.0; s],
            |acc, a| {
                risk.account_pnl(book, book.rows(a), acc);
                for x in acc.iter_mut() {
                    *x = -*x;
                }
                var_es_of(acc, k)
            },
        )
        .collect();
    Ok(pairs.into_iter().unzip())
}

/// Per-account scenario P&L, `A x S` row-major. Meant for a handful of named stress
/// scenarios (the caller chooses `S`), where the full matrix is the desired output.
pub fn account_scenario_pnl(risk: &RiskArrays<'_>, book: &Book<'_>) -> Result<Vec<f64>> {
    risk.validate()?;
    book.validate(risk.n_instruments)?;
    let s = risk.n_scenarios;
    let mut out = vec![0.0; book.n_accounts() * s];
    out.par_chunks_mut(s)
        .enumerate()
        .for_each(|(a, acc)| risk.account_pnl(book, book.rows(a), acc));
    Ok(out)
}

/// SPAN 2-style requirement `x max(0, tail) + (1 - x) max(0, stress) + liquidity + concentration`
/// per account (`tail` is VaR or ES).
pub fn span2_combine(
    x: f64,
    tail: &[f64],
    stress: &[f64],
    liquidity: &[f64],
    concentration: &[f64],
) -> Result<Vec<f64>> {
    super::param_in("x", x, 0.0, 1.0)?;
    let n = tail.len();
    for (field, v) in [
        ("tail", tail),
        ("stress", stress),
        ("liquidity", liquidity),
        ("concentration", concentration),
    ] {
        crate::error::same_len(field, v.len(), n, "tail")?;
        finite(field, v)?;
    }
    Ok((0..n)
        .map(|a| {
            x * tail[a].max(0.0) + (1.0 - x) * stress[a].max(0.0) + liquidity[a] + concentration[a]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_count_rounding() {
        assert_eq!(tail_count(10_000, 0.99), 100);
        assert_eq!(tail_count(10_000, 0.975), 250);
        assert_eq!(tail_count(10, 0.99), 1);
        assert_eq!(tail_count(7, 0.5), 4);
    }

    #[test]
    fn var_es_small_book() {
        // Two instruments, 4 scenarios; account 0 long 1 of instrument 0, account 1 spread.
        let r = [-3.0, 1.0, -1.0, 2.0, 1.0, 1.0, 1.0, 1.0];
        let risk = RiskArrays {
            data: &r,
            n_instruments: 2,
            n_scenarios: 4,
        };
        let book = Book {
            offsets: &[0, 1, 3],
            instrument: &[0, 0, 1],
            quantity: &[1.0, 2.0, -1.0],
            balances: &[],
            n_assets: 0,
        };
        let (var, es) = account_var_es(&risk, &book, 0.5).unwrap();
        // losses acct0: [3, -1, 1, -2] -> top 2: 3, 1
        assert_eq!((var[0], es[0]), (1.0, 2.0));
        // acct1 P = 2 r0 - r1 = [-7, 1, -3, 3] -> losses [7, -1, 3, -3]
        assert_eq!((var[1], es[1]), (3.0, 5.0));
        assert_eq!(
            account_var_es(&risk, &book, 1.0).unwrap_err().field,
            "confidence"
        );
    }
}
