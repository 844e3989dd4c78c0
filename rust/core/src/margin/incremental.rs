//! A book's requirement kept as running sums, so one position can be changed or tried
//! without re-margining the book: what liquidation searches and what-if queries use
//! (docs/margin-model.md §4-§6); whole-book margining does not.

use crate::netting::{SpanBook, signed_correlation, span_terms};

use super::{
    Aggregation, Engine, Model, Portable, Prepared, Scratch, add_calendar, standard_row, worst_loss,
};

/// The additive part of one book's requirement under a model (§4-§6): standard-rule
/// requirements of the rows margined alone, net USD delta per underlying (cross),
/// scenario P&L per underlying, net delta per roll bucket and the short-option minimum
/// (portfolio). Changing one position costs `O(S)` and re-margining the book `O(U S)`,
/// whatever its number of rows; once margined, the book with one position moved is
/// margined in `O(S)` without changing it: what a liquidation search needs to try many
/// close-outs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sums {
    /// `U x S` (portfolio).
    pnl: Vec<f64>,
    /// Worst loss per underlying (sum and correlation aggregations) and the roll add-on as
    /// of the last `Engine::sums_margin` (portfolio), valid while `fresh`.
    loss: Vec<f64>,
    roll: f64,
    fresh: bool,
    /// Per underlying (cross).
    net: Vec<f64>,
    /// Per roll bucket (portfolio).
    bucket: Vec<f64>,
    /// Short-option minimum of short calls and of short puts per underlying (SPAN).
    short: Vec<f64>,
    som: f64,
    im: f64,
    mm: f64,
}

/// One position of a [`Sums`] moved, held beside it (see `Engine::moved_margin`).
#[derive(Debug, Clone, Copy)]
struct Moved {
    u: usize,
    /// The moved position's portfolio (its P&L then in the scratch's `moved`).
    g: usize,
    /// Net USD delta of underlying `u` (cross).
    net: f64,
    im: f64,
    mm: f64,
    bucket: usize,
    /// Net delta of `bucket` (portfolio).
    delta: f64,
    short_slot: usize,
    short: f64,
    som: f64,
}

impl Engine {
    /// Empty [`Sums`] (a book without positions).
    pub fn sums(&self) -> Sums {
        let (n_u, n_g) = (self.n_underlyings(), self.n_groups);
        Sums {
            pnl: vec![0.0; n_g * self.table.n_scenarios],
            loss: vec![0.0; n_g],
            roll: 0.0,
            fresh: false,
            net: vec![0.0; n_u],
            bucket: vec![0.0; self.bucket_expiry.len()],
            short: vec![0.0; 2 * n_u],
            som: 0.0,
            im: 0.0,
            mm: 0.0,
        }
    }

    /// Clears `s` back to an empty book.
    #[inline(always)]
    pub fn clear_sums(&self, s: &mut Sums) {
        s.pnl.fill(0.0);
        s.net.fill(0.0);
        s.bucket.fill(0.0);
        s.short.fill(0.0);
        (s.som, s.im, s.mm) = (0.0, 0.0, 0.0);
        s.fresh = false;
    }

    /// Adds the scenario P&L of an account's collateral (§6.2) to `s` (portfolio model;
    /// `prep` from [`Self::prepare_with`]).
    #[inline(always)]
    pub fn add_balances(&self, prep: &Prepared, model: Model, s: &mut Sums, balances: &[f64]) {
        if model != Model::Portfolio {
            return;
        }
        let n_s = self.table.n_scenarios;
        for (cr, &b) in prep.collateral.iter().zip(balances) {
            if let Some(cr) = cr {
                let row = if b > 0.0 { &cr.held } else { &cr.borrowed };
                let g = cr.group;
                for (a, r) in s.pnl[g * n_s..(g + 1) * n_s].iter_mut().zip(row) {
                    *a += b * r;
                }
                s.fresh = false;
            }
        }
    }

    /// Changes one position of instrument `i` from `from` to `to` contracts in `s` under
    /// `model`; `prep` as for [`Self::evaluate`].
    #[inline(always)]
    pub fn move_position(
        &self,
        prep: &Prepared,
        model: Model,
        s: &mut Sums,
        i: usize,
        from: f64,
        to: f64,
    ) {
        let unit = &prep.units[i];
        let dq = to - from;
        s.fresh = false;
        match model {
            Model::Cross if !unit.is_option => s.net[unit.underlying] += dq * unit.greeks[0],
            Model::Standard | Model::Cross => {
                let (im_to, mm_to) = standard_row(unit, to);
                let (im_from, mm_from) = standard_row(unit, from);
                s.im += im_to - im_from;
                s.mm += mm_to - mm_from;
            }
            Model::Portfolio => {
                let n_s = self.table.n_scenarios;
                let u = unit.group;
                let row = &prep.risk[i * self.width..][..n_s];
                for (a, r) in s.pnl[u * n_s..(u + 1) * n_s].iter_mut().zip(row) {
                    *a += dq * r;
                }
                s.bucket[unit.bucket] += dq * unit.greeks[0];
                let short = ((-to).max(0.0) - (-from).max(0.0)) * unit.som;
                s.som += short;
                s.short[unit.short_slot] += short;
            }
        }
    }

    /// (IM, MM) of the book summed in `s` under `model`; the same numbers as
    /// [`Self::evaluate`] up to rounding. Records what [`Self::moved_margin`] reuses.
    #[inline(always)]
    pub fn sums_margin(&self, model: Model, s: &mut Sums, sc: &mut Scratch) -> (f64, f64) {
        let n_s = self.table.n_scenarios;
        if model == Model::Portfolio {
            if !matches!(self.aggregation, Aggregation::Joint) {
                for (g, (l, pnl)) in s.loss.iter_mut().zip(s.pnl.chunks_exact(n_s)).enumerate() {
                    *l = self.group_loss::<Portable, false>(g, pnl).0;
                }
            }
            s.roll = s
                .bucket
                .iter()
                .enumerate()
                .map(|(b, &d)| self.roll(b, d))
                .sum();
            s.fresh = true;
        }
        self.margin_of(model, s, None, sc)
    }

    /// (IM, MM) of the book summed in `s` with instrument `i`'s position moved from `from`
    /// to `to` contracts, `s` itself unchanged: what [`Self::move_position`] then
    /// [`Self::sums_margin`] on a copy return, to the bit except for the roll add-on, whose
    /// one changed bucket is swapped rather than re-summed. `O(S + U)` after
    /// `sums_margin(s)`; the joint aggregation re-adds all underlyings, `O(U S)`, still
    /// without copying `s`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn moved_margin(
        &self,
        prep: &Prepared,
        model: Model,
        s: &Sums,
        i: usize,
        from: f64,
        to: f64,
        sc: &mut Scratch,
    ) -> (f64, f64) {
        let unit = &prep.units[i];
        let dq = to - from;
        let n_s = self.table.n_scenarios;
        let (u, g) = (unit.underlying, unit.group);
        if model == Model::Portfolio {
            let row = &prep.risk[i * self.width..][..n_s];
            for ((m, p), r) in sc.moved.iter_mut().zip(&s.pnl[g * n_s..]).zip(row) {
                *m = p + dq * r;
            }
        }
        let (mut im, mut mm) = (s.im, s.mm);
        let mut net = s.net[u];
        match model {
            Model::Cross if !unit.is_option => net += dq * unit.greeks[0],
            Model::Standard | Model::Cross => {
                let (im_to, mm_to) = standard_row(unit, to);
                let (im_from, mm_from) = standard_row(unit, from);
                im += im_to - im_from;
                mm += mm_to - mm_from;
            }
            Model::Portfolio => {}
        }
        let short = ((-to).max(0.0) - (-from).max(0.0)) * unit.som;
        let moved = Moved {
            u,
            g,
            net,
            im,
            mm,
            bucket: unit.bucket,
            delta: s.bucket[unit.bucket] + dq * unit.greeks[0],
            short_slot: unit.short_slot,
            short: s.short[unit.short_slot] + short,
            som: s.som + short,
        };
        self.margin_of(model, s, Some(moved), sc)
    }

    /// (IM, MM) of `s`, or of `s` with one position moved (the moved underlying's P&L
    /// then in `sc.moved`). One body for both, so the two agree.
    #[inline(always)]
    fn margin_of(
        &self,
        model: Model,
        s: &Sums,
        moved: Option<Moved>,
        sc: &mut Scratch,
    ) -> (f64, f64) {
        let n_s = self.table.n_scenarios;
        let (im, mm, som) = moved.map_or((s.im, s.mm, s.som), |m| (m.im, m.mm, m.som));
        let moved_g = moved.map(|m| m.g);
        match model {
            Model::Standard => (im, mm),
            Model::Cross => s
                .net
                .iter()
                .enumerate()
                .fold((im, mm), |(im, mm), (u, &n)| {
                    let n = moved.filter(|m| m.u == u).map_or(n, |m| m.net);
                    let (a, b) = self.net_delta_requirement(n);
                    (im + a, mm + b)
                }),
            Model::Portfolio => {
                let Scratch {
                    joint,
                    loss,
                    moved: moved_pnl,
                    dir,
                    short,
                    span,
                    ..
                } = sc;
                let pnl = |g: usize| {
                    if moved_g == Some(g) {
                        &moved_pnl[..]
                    } else {
                        &s.pnl[g * n_s..(g + 1) * n_s]
                    }
                };
                let wcl = match &self.aggregation {
                    Aggregation::Joint => {
                        joint.fill(0.0);
                        for g in 0..self.n_groups {
                            self.add_joint(g, joint, pnl(g));
                        }
                        worst_loss::<Portable, false>(joint).0
                    }
                    Aggregation::Correlation(rho) => {
                        for g in 0..self.n_groups {
                            (dir[2 * g], dir[2 * g + 1]) = self.directional(g, pnl(g));
                        }
                        signed_correlation(dir, rho)
                    }
                    Aggregation::Sum | Aggregation::Span(_) => {
                        for (g, l) in loss.iter_mut().enumerate() {
                            *l = if s.fresh && moved_g != Some(g) {
                                s.loss[g]
                            } else {
                                self.group_loss::<Portable, false>(g, pnl(g)).0
                            };
                        }
                        loss.iter().sum()
                    }
                };
                if let Aggregation::Span(rules) = &self.aggregation {
                    let n_u = self.n_underlyings();
                    short.copy_from_slice(&s.short);
                    let (calendar, work) = span.split_at_mut(2 * n_u);
                    calendar.fill(0.0);
                    for (b, &d) in s.bucket.iter().enumerate() {
                        let d = moved.filter(|m| m.bucket == b).map_or(d, |m| m.delta);
                        add_calendar(calendar, self.bucket_underlying[b], d);
                    }
                    if let Some(m) = moved {
                        short[m.short_slot] = m.short;
                    }
                    let book = SpanBook {
                        loss,
                        calendar,
                        short,
                        work,
                    };
                    let t = span_terms(rules, book);
                    return self.portfolio_requirement(t.scan + t.intra + t.floor);
                }
                // `None` comes from `sums_margin`, which has just summed `s.roll`. A move on
                // fresh sums changes one bucket, swapped in O(1) rather than re-summed (so
                // it may differ from re-summing in the last bits); on stale sums, re-sum.
                let roll = match moved {
                    Some(m) if s.fresh => {
                        let b = m.bucket;
                        s.roll - self.roll(b, s.bucket[b]) + self.roll(b, m.delta)
                    }
                    Some(m) => s
                        .bucket
                        .iter()
                        .enumerate()
                        .map(|(b, &d)| self.roll(b, if b == m.bucket { m.delta } else { d }))
                        .sum(),
                    None => s.roll,
                };
                self.portfolio_requirement(wcl + roll + som)
            }
        }
    }
}
