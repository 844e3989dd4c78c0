//! Health, partial liquidation and the batch liquidation scan (docs/margin-model.md §10.8).
//!
//! A partial liquidation closes the same fraction `f` of every position of the account
//! (pro rata, so hedges stay hedged). Every base margin model of §4-§6 is positively
//! homogeneous of degree one in the quantity vector, so the base requirement after the
//! close-out is exactly `(1 - f)` times today's; the add-ons are re-evaluated at the
//! scaled quantities.

use rayon::prelude::*;

use super::addons::AddonRule;
use super::param_in;
use crate::error::{ErrorKind, InputError, Result, finite, same_len};
use crate::model::Book;

/// Liquidation inputs per account (from the base engine) and the penalty rule.
#[derive(Debug, Clone, Copy)]
pub struct LiquidationInputs<'a> {
    pub equity: &'a [f64],
    /// Base maintenance margin (liquidatable when equity < MM + add-ons).
    pub maintenance: &'a [f64],
    /// Base requirement to restore after a partial close-out (IM, or a buffered MM).
    pub target: &'a [f64],
    /// Liquidation penalty as a fraction of the notional closed.
    pub penalty: f64,
}

/// Outcome of liquidating one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liquidation {
    pub account: usize,
    /// `MM + add-ons - equity > 0`.
    pub shortfall: f64,
    /// Fraction of every position closed, in (0, 1].
    pub fraction: f64,
    /// Whole-account fallback: no partial close-out restores the target.
    pub full: bool,
    /// Loss the account cannot cover after a full close-out (bad debt), else 0.
    pub bad_debt: f64,
}

/// The search stops once the bracket `[lo, hi]` is this narrow (in units of `f`).
pub const FRACTION_TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 200;

/// A row whose concentration or size add-on is non-zero at full size: only these rows make
/// the requirement non-linear in the kept fraction (an add-on that is zero at full size
/// stays zero for every smaller size, both being non-decreasing in size).
#[derive(Debug, Clone, Copy)]
pub struct ActiveRow {
    pub notional: f64,
    pub threshold: f64,
    pub base_ratio: f64,
}

fn nonlinear_addon(rule: &AddonRule<'_>, r: &ActiveRow, x: f64) -> f64 {
    let (c, p) = rule.nonlinear(x, r.threshold, r.base_ratio);
    c + p
}

/// Health after closing fraction `f` and its derivative in `f`.
#[allow(clippy::too_many_arguments)]
fn health(
    f: f64,
    e: f64,
    tgt: f64,
    penalty: f64,
    spread: f64,
    rule: &AddonRule<'_>,
    active: &[ActiveRow],
) -> (f64, f64) {
    let keep = 1.0 - f;
    let (mut g, mut dg) = (0.0, 0.0);
    for r in active {
        let (v, slope) = rule.nonlinear_with_slope(keep * r.notional, r.threshold, r.base_ratio);
        g += v;
        dg += r.notional * slope;
    }
    (
        e - f * (penalty + spread) - (keep * tgt + keep * spread + g),
        tgt - penalty + dg,
    )
}

/// A malformed book seen during the scan (see [`liquidate_one`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBook;

/// The per-instrument constants of the scan in one 32-byte record, so a row costs one
/// cache line instead of four.
#[derive(Debug, Clone, Copy)]
pub struct InstrumentTerms {
    pub notional: f64,
    pub half_spread: f64,
    /// `share * depth`, the concentration threshold.
    pub threshold: f64,
    pub base_ratio: f64,
}

pub fn instrument_terms(rule: &AddonRule<'_>) -> Vec<InstrumentTerms> {
    (0..rule.notional.len())
        .map(|i| InstrumentTerms {
            notional: rule.notional[i],
            half_spread: rule.half_spread[i],
            threshold: rule.share * rule.depth[i],
            base_ratio: rule.base_ratio[i],
        })
        .collect()
}

/// Liquidate account `a` if it is below maintenance; `None` when it is healthy.
///
/// After closing fraction `f` (keeping `k = 1 - f`) the health is
/// `E - f (P + C) - k T - k C - sum_active g(k x)`, with `P` the penalty and `C` the half
/// spread on the full notional (close-out costs are linear in size) and `g` the
/// concentration and size add-ons of the active rows. It is concave in `f` (the add-ons
/// are convex in the kept size), so `{f : health >= 0}` is an interval ending at 1. The
/// search keeps `health(lo) < 0 <= health(hi)` and alternates a Newton step from `lo`
/// (which, by concavity, stays left of the root) and a secant step (which stays right),
/// with a bisection whenever a round fails to halve the bracket, until
/// `hi - lo <= FRACTION_TOLERANCE`; it returns `hi`, so the target is always met.
/// `active` is per-thread scratch. The account's offsets and rows are checked on the way
/// (one pass over the book instead of a separate validation pass); on a bad offset,
/// instrument or quantity it returns `InvalidBook` and the caller reports the canonical
/// error from `Book::validate`.
pub fn liquidate_one(
    a: usize,
    inp: &LiquidationInputs<'_>,
    rule: &AddonRule<'_>,
    terms: &[InstrumentTerms],
    book: &Book<'_>,
    active: &mut Vec<ActiveRow>,
) -> std::result::Result<Option<Liquidation>, InvalidBook> {
    let (e, mm, tgt) = (inp.equity[a], inp.maintenance[a], inp.target[a]);
    let (mut notional, mut spread, mut nonlinear) = (0.0, 0.0, 0.0);
    let (lo, hi) = (book.offsets[a], book.offsets[a + 1]);
    if lo < 0 || hi < lo || hi as usize > book.instrument.len() {
        return Err(InvalidBook);
    }
    for r in lo as usize..hi as usize {
        let (i, q) = (book.instrument[r], book.quantity[r]);
        if i < 0 || i as usize >= terms.len() || !q.is_finite() {
            return Err(InvalidBook);
        }
        let t = &terms[i as usize];
        let x = q.abs() * t.notional;
        notional += x;
        spread += t.half_spread * x;
        let (c, p) = rule.nonlinear(x, t.threshold, t.base_ratio);
        nonlinear += c + p;
    }
    let requirement = mm + spread + nonlinear;
    if e >= requirement {
        return Ok(None);
    }
    let shortfall = requirement - e;
    let penalty = inp.penalty * notional;
    // Second pass, for liquidatable accounts only: the rows the search must re-evaluate.
    active.clear();
    for r in book.rows(a) {
        let t = &terms[book.instrument[r] as usize];
        let row = ActiveRow {
            notional: book.quantity[r].abs() * t.notional,
            threshold: t.threshold,
            base_ratio: t.base_ratio,
        };
        if nonlinear_addon(rule, &row, row.notional) > 0.0 {
            active.push(row);
        }
    }
    let h = |f: f64| health(f, e, tgt, penalty, spread, rule, active);
    let (h_one, _) = h(1.0);
    if h_one < 0.0 {
        // The penalty is paid only out of what is left; the spread is a market cost.
        let bad_debt = (spread - e).max(0.0);
        return Ok(Some(Liquidation {
            account: a,
            shortfall,
            fraction: 1.0,
            full: true,
            bad_debt,
        }));
    }
    let (h_zero, d_zero) = h(0.0);
    if h_zero >= 0.0 {
        // Below maintenance but already at the (lower) target: close the least possible.
        return Ok(Some(Liquidation {
            account: a,
            shortfall,
            fraction: 0.0,
            full: false,
            bad_debt: 0.0,
        }));
    }
    let fraction = smallest_root(h, (0.0, h_zero, d_zero), (1.0, h_one));
    Ok(Some(Liquidation {
        account: a,
        shortfall,
        fraction,
        full: fraction >= 1.0,
        bad_debt: 0.0,
    }))
}

/// Smallest `f` in `[lo, hi]` with `h(f) >= 0` for a concave `h` with `h(lo) < 0 <= h(hi)`.
///
/// In exact arithmetic a Newton step from `lo` lands left of the root and a secant step
/// right of it. When rounding puts a step on the wrong side, the step is (numerically) on
/// the root, so a probe half a tolerance to the other side closes the bracket at once.
fn smallest_root(h: impl Fn(f64) -> (f64, f64), lo0: (f64, f64, f64), hi0: (f64, f64)) -> f64 {
    let half_tol = 0.5 * FRACTION_TOLERANCE;
    let (mut lo, mut h_lo, mut d_lo) = lo0;
    let (mut hi, mut h_hi) = hi0;
    // Evaluates `c`, moves the bracket end on its side; true when `h(c) >= 0`.
    let step =
        |c: f64, lo: &mut f64, h_lo: &mut f64, d_lo: &mut f64, hi: &mut f64, h_hi: &mut f64| {
            // Keep candidates half a tolerance inside the bracket, so a step that lands on an
            // end (a root found to rounding) still moves the other end.
            let c = if c.is_nan() {
                0.5 * (*lo + *hi)
            } else {
                c.max(*lo + half_tol).min(*hi - half_tol)
            };
            let (hc, dc) = h(c);
            if hc >= 0.0 {
                (*hi, *h_hi) = (c, hc);
                true
            } else {
                (*lo, *h_lo, *d_lo) = (c, hc, dc);
                false
            }
        };
    for _ in 0..MAX_ITERATIONS {
        let width = hi - lo;
        if width <= FRACTION_TOLERANCE {
            break;
        }
        let newton = if d_lo > 0.0 {
            lo - h_lo / d_lo
        } else {
            f64::NAN
        };
        if step(newton, &mut lo, &mut h_lo, &mut d_lo, &mut hi, &mut h_hi)
            && hi - lo > FRACTION_TOLERANCE
        {
            step(
                hi - half_tol,
                &mut lo,
                &mut h_lo,
                &mut d_lo,
                &mut hi,
                &mut h_hi,
            );
        }
        if hi - lo <= FRACTION_TOLERANCE {
            break;
        }
        let secant = lo - h_lo * (hi - lo) / (h_hi - h_lo);
        if !step(secant, &mut lo, &mut h_lo, &mut d_lo, &mut hi, &mut h_hi)
            && hi - lo > FRACTION_TOLERANCE
        {
            step(
                lo + half_tol,
                &mut lo,
                &mut h_lo,
                &mut d_lo,
                &mut hi,
                &mut h_hi,
            );
        }
        if hi - lo > 0.5 * width && hi - lo > FRACTION_TOLERANCE {
            step(
                0.5 * (lo + hi),
                &mut lo,
                &mut h_lo,
                &mut d_lo,
                &mut hi,
                &mut h_hi,
            );
        }
    }
    hi
}

/// Everything but the per-row checks, which the scan does in its single pass over rows.
fn validate(inp: &LiquidationInputs<'_>, rule: &AddonRule<'_>, book: &Book<'_>) -> Result<()> {
    rule.validate(rule.notional.len())?;
    let n_rows = book.instrument.len();
    let off = book.offsets;
    let offsets_ends_ok = !off.is_empty() && off[0] == 0 && off[off.len() - 1] == n_rows as i64;
    if !offsets_ends_ok || book.quantity.len() != n_rows || !book.balances.is_empty() {
        // The canonical validator names the first problem.
        book.validate(rule.notional.len())?;
    }
    let n = book.n_accounts();
    for (field, v) in [
        ("equity", inp.equity),
        ("maintenance", inp.maintenance),
        ("target", inp.target),
    ] {
        same_len(field, v.len(), n, "accounts")?;
        finite(field, v)?;
    }
    if let Some(a) = inp.maintenance.iter().position(|&m| m < 0.0) {
        return Err(InputError::at(
            ErrorKind::Parameter,
            "maintenance",
            a,
            "must be >= 0",
        ));
    }
    if let Some(a) = inp.target.iter().position(|&m| m < 0.0) {
        return Err(InputError::at(
            ErrorKind::Parameter,
            "target",
            a,
            "must be >= 0",
        ));
    }
    param_in("penalty", inp.penalty, 0.0, 1.0)
}

/// Every liquidatable account with its partial-liquidation size, ordered by shortfall
/// (largest first; ties by account index, so the order is deterministic).
pub fn liquidation_scan(
    inp: &LiquidationInputs<'_>,
    rule: &AddonRule<'_>,
    book: &Book<'_>,
) -> Result<Vec<Liquidation>> {
    validate(inp, rule, book)?;
    let terms = instrument_terms(rule);
    let scanned: std::result::Result<Vec<Liquidation>, InvalidBook> = (0..book.n_accounts())
        .into_par_iter()
        .with_min_len(256)
        .map_init(Vec::new, |active, a| {
            liquidate_one(a, inp, rule, &terms, book, active).transpose()
        })
        .flatten()
        .collect();
    let mut out = match scanned {
        Ok(v) => v,
        Err(InvalidBook) => {
            book.validate(rule.notional.len())?;
            return Err(InputError::whole(
                ErrorKind::Offsets,
                "offsets",
                "malformed book",
            ));
        }
    };
    out.par_sort_unstable_by(|x, y| {
        y.shortfall
            .total_cmp(&x.shortfall)
            .then(x.account.cmp(&y.account))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(notional: &'a [f64], zeros: &'a [f64], depth: &'a [f64]) -> AddonRule<'a> {
        AddonRule {
            notional,
            half_spread: zeros,
            depth,
            base_ratio: zeros,
            share: 1.0,
            rate: 0.0,
            imf: 0.0,
        }
    }

    #[test]
    fn closed_form_without_addons() {
        // E = 40, MM = 50, IM = 100, notional 1000, penalty 2%: f = (IM - E) / (IM - pen N) = 60 / 80.
        let book = Book {
            offsets: &[0, 1],
            instrument: &[0],
            quantity: &[1.0],
            balances: &[],
            n_assets: 0,
        };
        let r = rule(&[1000.0], &[0.0], &[1e9]);
        let inp = LiquidationInputs {
            equity: &[40.0],
            maintenance: &[50.0],
            target: &[100.0],
            penalty: 0.02,
        };
        let l = liquidation_scan(&inp, &r, &book).unwrap();
        assert_eq!(l.len(), 1);
        assert!((l[0].fraction - 0.75).abs() < 1e-12 && !l[0].full);
        assert!((l[0].shortfall - 10.0).abs() < 1e-12);
    }

    #[test]
    fn bad_books_report_the_canonical_error() {
        let r = rule(&[1000.0], &[0.0], &[1e9]);
        let inp = LiquidationInputs {
            equity: &[40.0, 1.0],
            maintenance: &[50.0, 1.0],
            target: &[100.0, 1.0],
            penalty: 0.02,
        };
        // (offsets, instrument, quantity, expected kind, field, index)
        type Case<'a> = (&'a [i64], &'a [i64], &'a [f64], ErrorKind, &'a str, usize);
        let cases: [Case<'_>; 3] = [
            (
                &[0, 1, 2],
                &[0, 3],
                &[1.0, 1.0],
                ErrorKind::IndexOutOfRange,
                "instrument",
                1,
            ),
            (
                &[0, 1, 2],
                &[0, 0],
                &[1.0, f64::NAN],
                ErrorKind::NonFinite,
                "quantity",
                1,
            ),
            (
                &[0, 2, 1],
                &[0, 0],
                &[1.0, 1.0],
                ErrorKind::Offsets,
                "offsets",
                2,
            ),
        ];
        for (offsets, instrument, quantity, kind, field, index) in cases {
            let book = Book {
                offsets,
                instrument,
                quantity,
                balances: &[],
                n_assets: 0,
            };
            let e = liquidation_scan(&inp, &r, &book).unwrap_err();
            assert_eq!(
                (e.kind, e.field.as_str(), e.index),
                (kind, field, Some(index))
            );
        }
    }

    #[test]
    fn insolvent_accounts_fall_back_to_full() {
        let book = Book {
            offsets: &[0, 1, 2],
            instrument: &[0, 0],
            quantity: &[1.0, 1.0],
            balances: &[],
            n_assets: 0,
        };
        let r = rule(&[1000.0], &[0.0], &[1e9]);
        let inp = LiquidationInputs {
            equity: &[-5.0, 60.0],
            maintenance: &[50.0, 50.0],
            target: &[100.0, 100.0],
            penalty: 0.02,
        };
        let l = liquidation_scan(&inp, &r, &book).unwrap();
        assert_eq!(l[0].account, 0);
        assert!(l[0].full && l[0].bad_debt == 5.0 && l[0].fraction == 1.0);
        assert_eq!(l.len(), 1);
    }
}
