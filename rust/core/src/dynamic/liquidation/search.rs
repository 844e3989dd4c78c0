//! The close-out search within one account (docs/margin-model.md §10.8): greedy by health
//! gained per notional closed, then each closed row lowered to its smallest sufficient
//! fraction until a pass changes nothing.

use super::root::{FRACTION_TOLERANCE, smallest_root};
use super::{LiquidationRule, MAX_PASSES, TIE};
use crate::margin::{Engine, Prepared, Scratch, Sums};

/// One row of the account being liquidated.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RowTerms {
    /// `x = |q| N`.
    pub(super) notional: f64,
    /// Half spread on the full row, `hs x`.
    pub(super) spread: f64,
    /// Cost of closing the full row, `(penalty + hs) x`.
    pub(super) cost: f64,
    pub(super) threshold: f64,
    pub(super) base_ratio: f64,
}

/// One account and everything its health depends on.
pub(super) struct Account<'a> {
    pub(super) engine: &'a Engine,
    pub(super) prep: &'a Prepared,
    pub(super) rule: &'a LiquidationRule<'a>,
    pub(super) instrument: &'a [i64],
    pub(super) quantity: &'a [f64],
    /// Collateral balances, whose scenario P&L stays in every kept book (§6.2).
    pub(super) balances: &'a [f64],
    pub(super) rows: &'a [RowTerms],
    pub(super) equity: f64,
}

impl Account<'_> {
    /// Close-out cost plus add-ons of the kept part of row `r` after closing fraction `c`.
    #[inline(always)]
    fn kept_addons(&self, r: &RowTerms, c: f64) -> f64 {
        let keep = 1.0 - c;
        let (conc, premium) =
            self.rule
                .addons
                .nonlinear(keep * r.notional, r.threshold, r.base_ratio);
        keep * r.spread + conc + premium
    }

    /// Sums `s` of the book kept after closing `close(j)` of every row `j`; returns the
    /// close-out costs and the add-ons of the kept book.
    #[inline(always)]
    fn build(&self, s: &mut Sums, close: impl Fn(usize) -> f64) -> (f64, f64) {
        self.engine.clear_sums(s);
        self.engine
            .add_balances(self.prep, self.rule.model, s, self.balances);
        let (mut costs, mut addons) = (0.0, 0.0);
        for (j, (r, (&i, &q))) in self
            .rows
            .iter()
            .zip(self.instrument.iter().zip(self.quantity))
            .enumerate()
        {
            let c = close(j);
            let model = self.rule.model;
            self.engine
                .move_position(self.prep, model, s, i as usize, 0.0, (1.0 - c) * q);
            costs += c * r.cost;
            addons += self.kept_addons(r, c);
        }
        (costs, addons)
    }

    /// `H = E - costs - [Target(kept book) + add-ons(kept book)]`.
    #[inline(always)]
    fn health(&self, s: &mut Sums, costs: f64, addons: f64, sc: &mut Scratch) -> f64 {
        let (im, mm) = self.engine.sums_margin(self.rule.model, s, sc);
        self.health_of(im, mm, costs, addons)
    }

    #[inline(always)]
    fn health_of(&self, im: f64, mm: f64, costs: f64, addons: f64) -> f64 {
        self.equity - costs - (self.rule.target.of(im, mm) + addons)
    }

    pub(super) fn notional(&self, c: &[f64]) -> f64 {
        self.rows.iter().zip(c).map(|(r, &f)| f * r.notional).sum()
    }
}

/// The search over close-outs `c` of one account. `base` holds the sums of the book kept
/// after `c` (with its costs and add-ons), margined, so trying another fraction for one row
/// costs `O(S + U)` (`Engine::moved_margin`) rather than a whole re-margining of the account.
pub(super) struct Search<'a, 'w> {
    pub(super) acc: &'a Account<'a>,
    pub(super) sc: &'w mut Scratch,
    pub(super) base: &'w mut Sums,
    pub(super) trial: &'w mut Sums,
    pub(super) c: &'w mut [f64],
    pub(super) costs: f64,
    pub(super) addons: f64,
}

impl Search<'_, '_> {
    /// Sets row `j` to fraction `t` (all rows when `j` is `None`), re-sums the base and
    /// returns its health (margining it is what makes `line` O(S)).
    #[inline(always)]
    pub(super) fn set(&mut self, j: Option<usize>, t: f64) -> f64 {
        match j {
            Some(j) => self.c[j] = t,
            None => self.c.fill(t),
        }
        let c = &*self.c;
        (self.costs, self.addons) = self.acc.build(self.base, |k| c[k]);
        self.acc.health(self.base, self.costs, self.addons, self.sc)
    }

    /// `H(c)` with row `j` closed by fraction `t` instead of `c_j`.
    #[inline(always)]
    fn line(&mut self, j: usize, t: f64) -> f64 {
        let (acc, r, cj) = (self.acc, &self.acc.rows[j], self.c[j]);
        let q = acc.quantity[j];
        let (im, mm) = acc.engine.moved_margin(
            acc.prep,
            acc.rule.model,
            self.base,
            acc.instrument[j] as usize,
            (1.0 - cj) * q,
            (1.0 - t) * q,
            self.sc,
        );
        let costs = self.costs + (t - cj) * r.cost;
        let addons = self.addons - acc.kept_addons(r, cj) + acc.kept_addons(r, t);
        acc.health_of(im, mm, costs, addons)
    }

    /// `H` after closing fraction `f` of every row (pro rata).
    #[inline(always)]
    pub(super) fn uniform(&mut self, f: f64) -> f64 {
        let (costs, addons) = self.acc.build(self.trial, |_| f);
        self.acc.health(self.trial, costs, addons, self.sc)
    }

    /// Greedy by health gained per unit of notional closed: close the best row in full and
    /// re-score, until closing the best row in full restores health; then close the
    /// smallest fraction of it that does. Rows with no positive gain are never closed.
    /// False when it cannot restore health (`c` is then meaningless).
    #[inline(always)]
    pub(super) fn greedy(&mut self) -> bool {
        let mut h_cur = self.set(None, 0.0);
        loop {
            let mut best: Option<(usize, f64, f64)> = None;
            for j in 0..self.c.len() {
                if self.c[j] != 0.0 {
                    continue;
                }
                let h_j = self.line(j, 1.0);
                let gain = h_j - h_cur;
                if gain.is_nan() || gain <= 0.0 {
                    continue;
                }
                let x = self.acc.rows[j].notional;
                let score = if x > 0.0 { gain / x } else { f64::INFINITY };
                if best.is_none_or(|(_, s, _)| score > s + TIE * s.abs().max(score.abs())) {
                    best = Some((j, score, h_j));
                }
            }
            let Some((j, _, h_j)) = best else {
                return false;
            };
            if h_j >= 0.0 {
                let t = smallest_root(
                    #[inline(always)]
                    |t| self.line(j, t),
                    (0.0, h_cur),
                    (1.0, h_j),
                );
                self.set(Some(j), t);
                return true;
            }
            self.set(Some(j), 1.0);
            h_cur = h_j;
        }
    }

    /// Lowers each closed row to the smallest fraction that keeps `H >= 0` given the others,
    /// pass after pass, until a pass changes nothing (coordinate-minimal) or `MAX_PASSES`.
    /// Rows that zig-zag towards a corner of `H` move by a near-constant factor `rho` per
    /// pass; after each pass the limit of that geometric series, `c + rho / (1 - rho) d`
    /// (`d` the pass's step), is tried and taken when `H >= 0` there, so such accounts need
    /// a few passes instead of dozens. A jump only lowers fractions and lands on a feasible
    /// point, and only a pass that changes nothing ends the loop: the guarantees stand.
    #[inline(always)]
    pub(super) fn minimise(&mut self) {
        let mut before = self.c.to_vec();
        let mut last_step = f64::INFINITY;
        for _ in 0..MAX_PASSES {
            before.copy_from_slice(self.c);
            let mut changed = false;
            for j in 0..self.c.len() {
                let cj = self.c[j];
                if cj <= 0.0 {
                    continue;
                }
                let h_zero = self.line(j, 0.0);
                if h_zero >= 0.0 {
                    self.set(Some(j), 0.0);
                    changed = true;
                    continue;
                }
                // Two tolerances below: a root found to within one tolerance is final.
                let below = cj - 2.0 * FRACTION_TOLERANCE;
                if below <= 0.0 {
                    continue;
                }
                let h_below = self.line(j, below);
                if h_below < 0.0 {
                    continue;
                }
                let t = smallest_root(
                    #[inline(always)]
                    |t| self.line(j, t),
                    (0.0, h_zero),
                    (below, h_below),
                );
                self.set(Some(j), t);
                changed = true;
            }
            if !changed {
                return;
            }
            let step: f64 = self.c.iter().zip(&before).map(|(c, b)| b - c).sum();
            let rho = step / last_step;
            last_step = step;
            if rho < 1.0 {
                self.try_jump(&before, rho / (1.0 - rho));
            }
        }
    }

    /// Moves to `max(0, c + lambda (c - before))` when `H >= 0` there.
    #[inline(always)]
    fn try_jump(&mut self, before: &[f64], lambda: f64) {
        let extrapolate = |c: f64, b: f64| (c + lambda * (c - b)).max(0.0);
        let c = &*self.c;
        let (costs, addons) = self.acc.build(self.trial, |k| extrapolate(c[k], before[k]));
        if self.acc.health(self.trial, costs, addons, self.sc) >= 0.0 {
            for (c, &b) in self.c.iter_mut().zip(before) {
                *c = extrapolate(*c, b);
            }
            std::mem::swap(self.base, self.trial);
            (self.costs, self.addons) = (costs, addons);
        }
    }
}
