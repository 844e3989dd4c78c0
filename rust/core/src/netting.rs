//! Netting across underlyings beyond the plain sum (docs/margin-model.md §6.3): the signed
//! correlation combination of directional losses, and CME SPAN's per-commodity
//! requirement with calendar spread charges, inter-commodity spread credits and the
//! short-option minimum as a floor.

use crate::error::{ErrorKind, InputError, Result, finite, same_len};

/// Worst losses of one underlying's scenario P&L over the rows that move it down
/// (`m <= 0`) and up (`m >= 0`), each floored at 0, after adding the row's dampener when
/// there is one. `moves` is the table's `S x U` row-major move matrix; a row with `m = 0`
/// (vol only) counts for both directions.
#[inline(always)]
pub fn directional_losses(
    pnl: &[f64],
    damp: Option<&[f64]>,
    moves: &[f64],
    n_u: usize,
    u: usize,
) -> (f64, f64) {
    let (mut down, mut up) = (0.0f64, 0.0f64);
    for (s, &p) in pnl.iter().enumerate() {
        let m = moves[s * n_u + u];
        let loss = -(p + damp.map_or(0.0, |d| d[s]));
        if m <= 0.0 && loss > down {
            down = loss;
        }
        if m >= 0.0 && loss > up {
            up = loss;
        }
    }
    (down, up)
}

/// SIMM-style combination of directional losses `dir = [down_0, up_0, down_1, up_1, ..]`:
/// the part an underlying loses whichever way it moves, `min(down, up)`, is added as is;
/// the directional remainder `e_u = down_u - up_u` (positive: loses when `u` falls) is
/// signed, so `sqrt(e' rho e)` offsets opposite exposures on positively correlated
/// underlyings and compounds same-direction ones.
#[inline(always)]
pub fn signed_correlation(dir: &[f64], rho: &[f64]) -> f64 {
    let n_u = dir.len() / 2;
    let e = |u: usize| dir[2 * u] - dir[2 * u + 1];
    let mut both = 0.0;
    for u in 0..n_u {
        both += dir[2 * u].min(dir[2 * u + 1]);
    }
    let mut q = 0.0;
    for a in 0..n_u {
        let ea = e(a);
        for b in 0..n_u {
            q += ea * rho[a * n_u + b] * e(b);
        }
    }
    both + q.max(0.0).sqrt()
}

/// One CME inter-commodity spread ("tier"): `ratio[k]` USD of net delta of underlying
/// `legs[k]` per spread, signed (opposite signs: a long of one leg against a short of the
/// other), and the credit `rate` in [0, 1] on each leg's weighted price risk.
#[derive(Debug, Clone, PartialEq)]
pub struct InterSpread {
    pub legs: [usize; 2],
    pub ratio: [f64; 2],
    pub rate: f64,
}

/// SPAN's per-commodity rules: the calendar (intra-commodity) spread charge per USD of
/// offsetting delta across expiries, per underlying, and the inter-commodity spreads in
/// priority order.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRules {
    pub intra_rate: Vec<f64>,
    pub inter: Vec<InterSpread>,
    /// Per underlying, the table's largest weighted move `max_s w |m|`: the price risk per
    /// USD of net delta (set by the engine from its table).
    pub price_range: Vec<f64>,
}

impl SpanRules {
    /// `legs` and `ratios` are `K x 2` row-major, `rates` has `K` entries.
    pub fn new(
        intra_rate: &[f64],
        legs: &[i64],
        ratios: &[f64],
        rates: &[f64],
        n_u: usize,
    ) -> Result<Self> {
        same_len(
            "span_intra_rate",
            intra_rate.len(),
            n_u,
            "number of underlyings",
        )?;
        finite("span_intra_rate", intra_rate)?;
        if let Some(u) = intra_rate.iter().position(|&r| r < 0.0) {
            return Err(InputError::at(
                ErrorKind::Parameter,
                "span_intra_rate",
                u,
                "must be >= 0",
            ));
        }
        let k = rates.len();
        same_len("span_legs", legs.len(), 2 * k, "2 x number of spreads")?;
        same_len("span_ratios", ratios.len(), 2 * k, "2 x number of spreads")?;
        finite("span_ratios", ratios)?;
        finite("span_rates", rates)?;
        let mut inter = Vec::with_capacity(k);
        for t in 0..k {
            let (a, b) = (legs[2 * t], legs[2 * t + 1]);
            for (x, leg) in [(a, 2 * t), (b, 2 * t + 1)] {
                if x < 0 || x as u64 >= n_u as u64 {
                    return Err(InputError::at(
                        ErrorKind::IndexOutOfRange,
                        "span_legs",
                        leg,
                        format!("underlying {x} is outside 0..{n_u}"),
                    ));
                }
            }
            if a == b {
                return Err(InputError::at(
                    ErrorKind::Parameter,
                    "span_legs",
                    2 * t + 1,
                    "an inter-commodity spread needs two different underlyings",
                ));
            }
            if let Some(j) = [2 * t, 2 * t + 1].into_iter().find(|&j| ratios[j] == 0.0) {
                return Err(InputError::at(
                    ErrorKind::Parameter,
                    "span_ratios",
                    j,
                    "delta per spread must be non-zero",
                ));
            }
            if !(0.0..=1.0).contains(&rates[t]) {
                return Err(InputError::at(
                    ErrorKind::Parameter,
                    "span_rates",
                    t,
                    format!("credit rate must be in [0, 1] (got {})", rates[t]),
                ));
            }
            inter.push(InterSpread {
                legs: [a as usize, b as usize],
                ratio: [ratios[2 * t], ratios[2 * t + 1]],
                rate: rates[t],
            });
        }
        Ok(Self {
            intra_rate: intra_rate.to_vec(),
            inter,
            price_range: vec![0.0; n_u],
        })
    }

    /// Sets `price_range` from an `S x U` table's moves and weights.
    pub fn with_table(mut self, moves: &[f64], weights: &[f64], n_u: usize) -> Self {
        self.price_range = (0..n_u)
            .map(|u| {
                moves
                    .iter()
                    .zip(weights)
                    .skip(u)
                    .step_by(n_u)
                    .fold(0.0f64, |r, (m, w)| r.max(w * m.abs()))
            })
            .collect();
        self
    }
}

/// Per-underlying inputs of [`span_terms`] for one account.
#[derive(Debug)]
pub struct SpanBook<'a> {
    /// Scan risk (worst scenario loss) `L_u`.
    pub loss: &'a [f64],
    /// Sums of the positive and of the negative per-expiry net deltas, `2U`
    /// (`[pos_0, neg_0, pos_1, ..]`, `neg >= 0`).
    pub calendar: &'a [f64],
    /// Short-option minimum of the short calls and of the short puts, `2U`.
    pub short: &'a [f64],
    /// Working memory, `2U`: remaining net delta and credit per underlying.
    pub work: &'a mut [f64],
}

/// The three parts of a SPAN requirement summed over underlyings, so that
/// `scan + intra + floor = sum_u max(L_u + intra_u - credit_u, som_u)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanTerms {
    /// Scan risk net of inter-commodity credits, `sum_u (L_u - credit_u)`.
    pub scan: f64,
    /// Calendar spread charges, `sum_u intra_rate_u min(pos_u, neg_u)`.
    pub intra: f64,
    /// What the short-option minimum adds where it exceeds the rest.
    pub floor: f64,
}

/// SPAN's requirement per combined commodity (underlying), `max(scan risk + calendar spread
/// charge - inter-commodity credit, short-option minimum)`, summed (docs §6.3).
pub fn span_terms(rules: &SpanRules, book: SpanBook<'_>) -> SpanTerms {
    let n_u = book.loss.len();
    let (remaining, credit) = book.work.split_at_mut(n_u);
    for u in 0..n_u {
        remaining[u] = book.calendar[2 * u] - book.calendar[2 * u + 1];
        credit[u] = 0.0;
    }
    for sp in &rules.inter {
        let [a, b] = sp.legs;
        let (ka, kb) = (remaining[a] / sp.ratio[0], remaining[b] / sp.ratio[1]);
        // Spreads form only when both legs sit on their side (both quotients one sign).
        let n = if ka > 0.0 && kb > 0.0 {
            ka.min(kb)
        } else if ka < 0.0 && kb < 0.0 {
            -(ka.max(kb))
        } else {
            continue;
        };
        let side = ka.signum();
        for (k, u) in [a, b].into_iter().enumerate() {
            let original = (book.calendar[2 * u] - book.calendar[2 * u + 1]).abs();
            let used = n * sp.ratio[k].abs();
            // Weighted price risk per USD of net delta: the price range, or less when the
            // whole scan risk is smaller than the net delta's move over it.
            let range = rules.price_range[u];
            let wpr = if book.loss[u] < original * range {
                book.loss[u] / original
            } else {
                range
            };
            credit[u] += sp.rate * used * wpr;
            remaining[u] -= side * n * sp.ratio[k];
        }
    }
    let mut terms = SpanTerms {
        scan: 0.0,
        intra: 0.0,
        floor: 0.0,
    };
    for (u, &credit) in credit.iter().enumerate() {
        let scan = book.loss[u] - credit.min(book.loss[u]);
        let intra = rules.intra_rate[u] * book.calendar[2 * u].min(book.calendar[2 * u + 1]);
        let som = book.short[2 * u].max(book.short[2 * u + 1]);
        terms.scan += scan;
        terms.intra += intra;
        terms.floor += (som - (scan + intra)).max(0.0);
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_correlation_nets_opposite_and_compounds_same_direction() {
        // long-like (loses on the way down) 100 and short-like 60, rho 0.95
        let rho = [1.0, 0.95, 0.95, 1.0];
        let hedge = signed_correlation(&[100.0, 0.0, 0.0, 60.0], &rho);
        let same = signed_correlation(&[100.0, 0.0, 60.0, 0.0], &rho);
        let want_hedge = (100.0f64 * 100.0 + 60.0 * 60.0 - 2.0 * 0.95 * 6000.0).sqrt();
        let want_same = (100.0f64 * 100.0 + 60.0 * 60.0 + 2.0 * 0.95 * 6000.0).sqrt();
        assert!((hedge - want_hedge).abs() < 1e-12 && (same - want_same).abs() < 1e-12);
        // a loss on both sides (short straddle) never nets: min(down, up) adds as is
        let straddle = signed_correlation(&[50.0, 70.0, 0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]);
        assert!((straddle - 70.0).abs() < 1e-12);
    }

    #[test]
    fn span_floor_credit_and_calendar_charge() {
        let rules = SpanRules::new(&[0.01, 0.0], &[0, 1], &[1.0, -1.0], &[0.5], 2)
            .unwrap()
            .with_table(&[0.1, -0.1, -0.2, 0.2], &[1.0, 1.0, 0.35, 0.35], 2);
        assert_eq!(rules.price_range, [0.1, 0.1]);
        let mut work = [0.0; 4];
        // u0: scan 800 on net delta +10000 (pos 12000, neg 2000); u1: scan 300 on -5000
        let t = span_terms(
            &rules,
            SpanBook {
                loss: &[800.0, 300.0],
                calendar: &[12000.0, 2000.0, 0.0, 5000.0],
                short: &[0.0, 0.0, 400.0, 100.0],
                work: &mut work,
            },
        );
        // 5000 spreads: credit 0.5 * 5000 * min(800/10000, 0.1) = 200 on u0 and
        // 0.5 * 5000 * min(300/5000, 0.1) = 150 on u1
        assert!((t.scan - (600.0 + 150.0)).abs() < 1e-9);
        assert!((t.intra - 20.0).abs() < 1e-12);
        // u1: max(150, 400) = 400, so the floor adds 250
        assert!((t.floor - 250.0).abs() < 1e-9);
    }

    #[test]
    fn span_rules_reject_bad_parameters() {
        let err = SpanRules::new(&[0.0, 0.0], &[0, 0], &[1.0, -1.0], &[0.5], 2).unwrap_err();
        assert_eq!((err.field.as_str(), err.index), ("span_legs", Some(1)));
        let err = SpanRules::new(&[0.0, 0.0], &[0, 1], &[1.0, -1.0], &[1.5], 2).unwrap_err();
        assert_eq!((err.field.as_str(), err.index), ("span_rates", Some(0)));
        let err = SpanRules::new(&[0.0, -1.0], &[], &[], &[], 2).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.index),
            ("span_intra_rate", Some(1))
        );
        let err = SpanRules::new(&[0.0, 0.0], &[0, 2], &[1.0, -1.0], &[0.5], 2).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IndexOutOfRange);
    }
}
