//! Standard, cross and portfolio margin per account and over whole books
//! (docs/margin-model.md §3-§7).

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::error::{ErrorKind, InputError, Result, same_len};
use crate::isa::{Isa, multiversion};
use crate::model::{Book, Collateral, Instruments, Prices, Settlement};
use crate::netting::{SpanBook, directional_losses, signed_correlation, span_terms};
use crate::parallel::{Unfilled, chunk_groups};
use crate::risk::SettlementMode;
use crate::scenarios::ScenarioTable;
use crate::simd::{Lanes, Portable};
use crate::surface::Curves;
use worst::{LANES, worst_loss};

mod incremental;
mod kernel;
mod params;
mod prepare;
mod worst;

pub use incremental::Sums;
#[cfg(test)]
pub(crate) use params::test_params;
pub use params::{Aggregation, Model, Params};
pub use prepare::{CollateralRisk, Prepared, Unit};

/// One account's outcome. Greeks go to the scratch's `greeks` (U x 4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountMargin {
    pub equity: f64,
    pub initial_margin: f64,
    pub maintenance_margin: f64,
    pub scenario_loss: f64,
    pub roll_addon: f64,
    pub short_option_addon: f64,
    pub worst_scenario: i64,
}

impl AccountMargin {
    pub fn free_collateral(&self) -> f64 {
        self.equity - self.initial_margin
    }

    pub fn margin_ratio(&self) -> f64 {
        if self.equity > 0.0 {
            self.maintenance_margin / self.equity
        } else {
            f64::INFINITY
        }
    }
}

/// Per-thread working memory, reused across accounts so the hot loop never allocates.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// Scenario P&L per portfolio, `n_groups x W`; between accounts every entry is -0.0,
    /// the identity of `+`, so a portfolio's first row adds into it with no branch and
    /// gives that row's own P&L to the bit.
    pnl: Vec<f64>,
    joint: Vec<f64>,
    touched_u: Vec<bool>,
    net: Vec<f64>,
    loss: Vec<f64>,
    /// Per roll bucket: the account's net delta so far and whether it touched the bucket.
    bucket: Vec<BucketSum>,
    /// Buckets in the order the account first touched them (the roll add-on sums in that
    /// order), one spare slot for the branch-free append.
    touched_b: Vec<usize>,
    /// One underlying's P&L with a position moved (`Engine::moved_margin`).
    moved: Vec<f64>,
    /// Directional losses `2U` (correlation), short-option minima `2U` and calendar sums
    /// plus working memory `4U` (SPAN).
    dir: Vec<f64>,
    short: Vec<f64>,
    span: Vec<f64>,
    /// `delta, gamma, vega, theta` of the last evaluated account, `U x 4` (underlying-major).
    pub greeks: Vec<f64>,
    /// The account's position rows as the P&L kernel reads them (grown, never shrunk).
    rows: Vec<kernel::Row>,
}

/// One roll bucket's running sum for the account being margined (§6.4), with the bucket's
/// rate beside it so the roll add-on reads one record per touched bucket.
#[derive(Debug, Clone, Copy)]
struct BucketSum {
    delta: f64,
    rate: f64,
    seen: bool,
}

/// The engine: instruments, scenario table, parameters and aggregation, validated once.
#[derive(Debug, Clone)]
pub struct Engine {
    pub instruments: Instruments,
    pub table: ScenarioTable,
    pub params: Params,
    pub aggregation: Aggregation,
    pub settlement: SettlementMode,
    /// Underlying each collateral asset is shocked with (`None`: not shocked).
    pub asset_underlying: Vec<Option<usize>>,
    /// Scenario P&L portfolios: `U` (cross) or `2 U` (segregated: `U + u` holds the
    /// coin-settled instruments of `u`).
    pub n_groups: usize,
    /// Scenario P&L rows are padded with zeros from `S` to `width`, a multiple of [`LANES`].
    width: usize,
    /// Dampener per portfolio and scenario (`n_groups x W`, zero-padded), and whether any
    /// is non-zero.
    damp: Vec<f64>,
    damped: bool,
    /// Whether the joint aggregation limits some underlying's gains (§6.3).
    gains_limited: bool,
    /// Portfolio of each instrument (see `Unit::group`).
    pub group: Vec<usize>,
    /// Roll bucket of each instrument and the expiry of each bucket (§6.4).
    pub bucket: Vec<usize>,
    pub bucket_expiry: Vec<f64>,
    /// Underlying of each roll bucket (the SPAN calendar spreads).
    bucket_underlying: Vec<usize>,
    bucket_rate: Vec<f64>,
}

/// Accounts per parallel task: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 2048;

/// Per-account float outputs, in the order of [`ACCOUNT_FIELDS`].
pub const N_FIELDS: usize = 8;

/// Names of the per-account float outputs, as `zkmargin.results.ACCOUNT_FIELDS` (tested).
pub const ACCOUNT_FIELDS: [&str; N_FIELDS] = [
    "equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "margin_ratio",
    "scenario_loss",
    "roll_addon",
    "short_option_addon",
];

/// Names of the per-account, per-underlying Greeks (`zkmargin.results.GREEK_FIELDS`).
pub const GREEK_FIELDS: [&str; 4] = ["net_delta", "net_gamma", "net_vega", "net_theta"];

/// Where `margin_ratio` sits in [`ACCOUNT_FIELDS`]: the one output that may be `+inf`
/// (equity <= 0, §7).
const MARGIN_RATIO: usize = 4;

/// Whole-book outputs: `N_FIELDS` rows of `A` floats, `A` worst-scenario indices, and 4
/// Greeks rows of `A x U` (row-major) each.
#[derive(Debug, Clone)]
pub struct Output {
    pub fields: Vec<Vec<f64>>,
    pub worst: Vec<i64>,
    pub greeks: Vec<Vec<f64>>,
}

/// Engine settings beyond the table, parameters and aggregation (§6.2-§6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub settlement: SettlementMode,
    /// Per collateral asset, the underlying it moves with, or -1; empty: none moves.
    pub asset_underlying: Vec<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            settlement: SettlementMode::Cross,
            asset_underlying: Vec::new(),
        }
    }
}

impl Engine {
    pub fn new(
        instruments: Instruments,
        table: ScenarioTable,
        params: Params,
        aggregation: Aggregation,
    ) -> Result<Self> {
        Self::with_options(instruments, table, params, aggregation, Options::default())
    }

    pub fn with_options(
        instruments: Instruments,
        table: ScenarioTable,
        params: Params,
        aggregation: Aggregation,
        options: Options,
    ) -> Result<Self> {
        params.validate()?;
        if let Some(i) = instruments
            .underlying
            .iter()
            .position(|&u| u >= table.n_underlyings)
        {
            return Err(InputError::at(
                ErrorKind::IndexOutOfRange,
                "underlying",
                i,
                format!("scenario table covers {} underlyings", table.n_underlyings),
            ));
        }
        let aggregation = match aggregation {
            Aggregation::Span(rules) => Aggregation::Span(rules.with_table(
                &table.moves,
                &table.weights,
                table.n_underlyings,
            )),
            other => other,
        };
        if let Aggregation::Correlation(rho) = &aggregation {
            same_len(
                "correlation",
                rho.len(),
                table.n_underlyings * table.n_underlyings,
                "U x U",
            )?;
        }
        let n_u = table.n_underlyings;
        let settlement = options.settlement;
        if settlement == SettlementMode::Segregated && aggregation != Aggregation::Sum {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "aggregation",
                "the segregated settlement mode margins each settlement currency on its own: \
                 aggregation must be 'sum'",
            ));
        }
        let asset_underlying = options
            .asset_underlying
            .iter()
            .enumerate()
            .map(|(j, &u)| match u {
                -1 => Ok(None),
                u if u >= 0 && (u as u64) < n_u as u64 => Ok(Some(u as usize)),
                _ => Err(InputError::at(
                    ErrorKind::IndexOutOfRange,
                    "asset_underlying",
                    j,
                    format!("{u} is neither -1 nor in 0..{n_u}"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let segregated = settlement == SettlementMode::Segregated;
        let n_groups = if segregated { 2 * n_u } else { n_u };
        let group_of = |i: usize| {
            let u = instruments.underlying[i];
            if segregated && instruments.settlement[i] == Settlement::Inverse {
                n_u + u
            } else {
                u
            }
        };
        let n_s = table.n_scenarios;
        let width = n_s.div_ceil(LANES) * LANES;
        let mut damp = vec![0.0; n_groups * width];
        for g in 0..n_groups {
            let (u, coin) = (g % n_u, g >= n_u);
            for s in 0..n_s {
                let k = s * n_u + u;
                // Coin-settled portfolios count the USD dampener in coins at the edge price.
                let d = table.dampener[k];
                damp[g * width + s] = if coin { d / (1.0 + table.edge[k]) } else { d };
            }
        }
        let damped = damp.iter().any(|&d| d != 0.0);
        let group: Vec<usize> = (0..instruments.len()).map(group_of).collect();
        let gains_limited = table.limits_gains();
        let mut keys: Vec<(usize, f64)> = Vec::new();
        let mut bucket = Vec::with_capacity(instruments.len());
        for i in 0..instruments.len() {
            let t = if instruments.kind[i].is_spot_like() {
                0.0
            } else {
                instruments.expiry[i]
            };
            let key = (group_of(i), t);
            let b = match keys.iter().position(|k| *k == key) {
                Some(b) => b,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            bucket.push(b);
        }
        let bucket_expiry: Vec<f64> = keys.iter().map(|k| k.1).collect();
        let bucket_underlying = keys.iter().map(|k| k.0 % n_u).collect();
        let bucket_rate = keys
            .iter()
            .map(|&(g, t)| match table.roll.get(g % n_u) {
                Some(r) => Params {
                    annual_move_risk: r.annual_move_risk,
                    min_annual_move: r.min_annual_move,
                    ..params
                }
                .roll_rate(t),
                None => params.roll_rate(t),
            })
            .collect();
        Ok(Self {
            instruments,
            table,
            params,
            aggregation,
            settlement,
            asset_underlying,
            n_groups,
            width,
            damp,
            damped,
            gains_limited,
            group,
            bucket,
            bucket_expiry,
            bucket_underlying,
            bucket_rate,
        })
    }

    pub fn n_underlyings(&self) -> usize {
        self.table.n_underlyings
    }

    /// Roll-shock rate of each bucket (§6.4), in bucket id order: what the add-on charges
    /// per unit of `|D_b|`.
    pub fn bucket_rates(&self) -> &[f64] {
        &self.bucket_rate
    }

    pub fn validate_prices(&self, px: &Prices<'_>) -> Result<()> {
        px.validate(&self.instruments, self.n_underlyings())
    }

    pub fn validate_book(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
    ) -> Result<()> {
        self.validate_layout(px, coll, book)?;
        book.validate_values(self.instruments.len())
    }

    /// [`Engine::validate_book`] but for the book's values ([`Book::validate_values`]).
    fn validate_layout(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
    ) -> Result<()> {
        self.validate_prices(px)?;
        self.validate_collateral(coll)?;
        same_len(
            "balances",
            book.n_assets,
            coll.price.len(),
            "number of collateral assets",
        )?;
        book.validate_layout()
    }

    /// Collateral prices and haircuts, and one `asset_underlying` link per asset.
    pub fn validate_collateral(&self, coll: &Collateral<'_>) -> Result<()> {
        coll.validate()?;
        if !self.asset_underlying.is_empty() {
            same_len(
                "asset_underlying",
                self.asset_underlying.len(),
                coll.price.len(),
                "number of collateral assets",
            )?;
        }
        Ok(())
    }

    pub fn scratch(&self) -> Scratch {
        let (u, s, g) = (self.n_underlyings(), self.table.n_scenarios, self.n_groups);
        let n_b = self.bucket_expiry.len();
        Scratch {
            pnl: vec![-0.0; g * self.width],
            joint: vec![0.0; self.width],
            touched_u: vec![false; g],
            net: vec![0.0; u],
            loss: vec![0.0; g],
            bucket: self
                .bucket_rate
                .iter()
                .map(|&rate| BucketSum {
                    delta: 0.0,
                    rate,
                    seen: false,
                })
                .collect(),
            touched_b: vec![0; n_b + 1],
            moved: vec![0.0; s],
            dir: vec![0.0; 2 * u],
            short: vec![0.0; 2 * u],
            span: vec![0.0; 4 * u],
            greeks: vec![0.0; 4 * u],
            rows: Vec::new(),
        }
    }

    /// Margin of one account given its rows (instrument indices already validated against
    /// this engine) and balances. `prep` must come from `prepare(.., true)` for the
    /// portfolio model. This is the building block for liquidation searches too, which
    /// pass `GREEKS = false`: the net Greeks in the scratch are then left stale and the worst
    /// scenario is not located (-1).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn evaluate<const GREEKS: bool>(
        &self,
        prep: &Prepared,
        coll: &Collateral<'_>,
        instrument: &[i64],
        quantity: &[f64],
        balances: &[f64],
        model: Model,
        sc: &mut Scratch,
    ) -> AccountMargin {
        self.evaluate_in::<GREEKS, Portable>(prep, coll, instrument, quantity, balances, model, sc)
    }

    /// [`Engine::evaluate`] with the worst-scenario scans in `V`'s registers (the same bits
    /// for every `V`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn evaluate_in<const GREEKS: bool, V: Lanes>(
        &self,
        prep: &Prepared,
        coll: &Collateral<'_>,
        instrument: &[i64],
        quantity: &[f64],
        balances: &[f64],
        model: Model,
        sc: &mut Scratch,
    ) -> AccountMargin {
        let mut equity: f64 = balances
            .iter()
            .enumerate()
            .map(|(j, &b)| coll.value(j, b))
            .sum();
        if GREEKS {
            sc.greeks.fill(0.0);
        }
        let rows = instrument
            .iter()
            .zip(quantity)
            .map(|(&i, &q)| (i as usize, q));
        let mut out = AccountMargin {
            equity: 0.0,
            initial_margin: 0.0,
            maintenance_margin: 0.0,
            scenario_loss: 0.0,
            roll_addon: 0.0,
            short_option_addon: 0.0,
            worst_scenario: -1,
        };
        // One loop per model keeps the per-row work branch-free on the model.
        match model {
            Model::Standard | Model::Cross => {
                let cross = model == Model::Cross;
                for (i, q) in rows {
                    let unit = &prep.units[i];
                    equity += q * unit.mtm;
                    if GREEKS {
                        add_greeks(&mut sc.greeks, unit, q);
                    }
                    if cross && !unit.is_option {
                        sc.touched_u[unit.underlying] = true;
                        sc.net[unit.underlying] += q * unit.greeks[0];
                    } else {
                        let (im, mm) = standard_row(unit, q);
                        out.initial_margin += im;
                        out.maintenance_margin += mm;
                    }
                }
                for u in 0..self.n_underlyings() {
                    if sc.touched_u[u] {
                        let (im, mm) = self.net_delta_requirement(sc.net[u]);
                        out.initial_margin += im;
                        out.maintenance_margin += mm;
                        sc.net[u] = 0.0;
                        sc.touched_u[u] = false;
                    }
                }
            }
            Model::Portfolio => {
                let w = self.width;
                // The SPAN aggregation's per-slot short-option sums are the only per-row
                // work another aggregation skips: a separate copy keeps them out of its loop.
                let rows = (instrument, quantity);
                let (som, n_b);
                (equity, som, n_b) = if matches!(self.aggregation, Aggregation::Span(_)) {
                    self.row_pass::<GREEKS, true>(prep, rows, equity, sc)
                } else {
                    self.row_pass::<GREEKS, false>(prep, rows, equity, sc)
                };
                for (cr, &b) in prep.collateral.iter().zip(balances) {
                    if let Some(cr) = cr.as_ref().filter(|_| b != 0.0) {
                        let row = if b > 0.0 { &cr.held } else { &cr.borrowed };
                        let g = cr.group;
                        let acc = &mut sc.pnl[g * w..(g + 1) * w];
                        if !sc.touched_u[g] {
                            sc.touched_u[g] = true;
                            acc.fill(0.0);
                        }
                        for (a, r) in acc.iter_mut().zip(row) {
                            *a += b * r;
                        }
                    }
                }
                let (wcl, worst) = self.worst_case_loss::<V, GREEKS>(sc);
                let (wcl, roll, som) = if let Aggregation::Span(rules) = &self.aggregation {
                    let (calendar, work) = sc.span.split_at_mut(2 * self.n_underlyings());
                    calendar.fill(0.0);
                    for &b in &sc.touched_b[..n_b] {
                        let sum = &mut sc.bucket[b];
                        add_calendar(calendar, self.bucket_underlying[b], sum.delta);
                        (sum.delta, sum.seen) = (0.0, false);
                    }
                    let book = SpanBook {
                        loss: &sc.loss,
                        calendar,
                        short: &sc.short,
                        work,
                    };
                    let t = span_terms(rules, book);
                    sc.short.fill(0.0);
                    (t.scan, t.intra, t.floor)
                } else {
                    let mut roll = 0.0;
                    for &b in &sc.touched_b[..n_b] {
                        let sum = &mut sc.bucket[b];
                        roll += roll_at(sum.rate, sum.delta);
                        (sum.delta, sum.seen) = (0.0, false);
                    }
                    (wcl, roll, som)
                };
                out.scenario_loss = wcl;
                out.roll_addon = roll;
                out.short_option_addon = som;
                out.worst_scenario = worst;
                (out.initial_margin, out.maintenance_margin) =
                    self.portfolio_requirement(wcl + roll + som);
            }
        }
        out.equity = equity;
        out
    }

    /// The portfolio model's pass over an account's rows: scenario P&L into the scratch's
    /// portfolio rows and the per-row sums beside it; returns `equity` plus the rows' MtM
    /// (added to it row by row), the short-option minimum and the roll buckets touched.
    #[inline(always)]
    fn row_pass<const GREEKS: bool, const SPAN: bool>(
        &self,
        prep: &Prepared,
        (instrument, quantity): (&[i64], &[f64]),
        equity: f64,
        sc: &mut Scratch,
    ) -> (f64, f64, usize) {
        let Scratch {
            pnl,
            rows,
            greeks,
            touched_u,
            bucket,
            touched_b,
            short,
            ..
        } = sc;
        let mut sums = RowSums::<GREEKS, SPAN> {
            units: &prep.units,
            equity,
            som: 0.0,
            n_b: 0,
            greeks,
            touched_u,
            bucket,
            touched_b,
            short,
        };
        kernel::accumulate(
            pnl, self.width, &prep.risk, instrument, quantity, rows, &mut sums,
        );
        (sums.equity, sums.som, sums.n_b)
    }

    /// Cross-margin (IM, MM) of a net USD delta on one underlying (§5).
    #[inline(always)]
    fn net_delta_requirement(&self, net: f64) -> (f64, f64) {
        (
            self.params.linear_im * net.abs(),
            self.params.linear_mm * net.abs(),
        )
    }

    /// Roll add-on of bucket `b` with net USD delta `delta` (§6.4).
    #[inline(always)]
    fn roll(&self, b: usize, delta: f64) -> f64 {
        roll_at(self.bucket_rate[b], delta)
    }

    /// (IM, MM) from `base = WCL + roll + short-option minimum` (§6.5).
    #[inline(always)]
    fn portfolio_requirement(&self, base: f64) -> (f64, f64) {
        (self.params.im_factor * base, self.params.mm_factor * base)
    }

    /// `max(0, max_s -(pnl[s] + d[s]))` of portfolio `g` with its dampener `d` (§6.3), and
    /// (when `INDEX`) the first scenario attaining it.
    #[inline(always)]
    fn group_loss<V: Lanes, const INDEX: bool>(&self, g: usize, pnl: &[f64]) -> (f64, i64) {
        if !self.damped {
            return worst_loss::<V, INDEX>(pnl);
        }
        worst::scan::<V, INDEX, true>(pnl, &self.damp[g * self.width..][..pnl.len()])
    }

    /// The first scenario in which portfolio `g` loses `loss`, its worst loss (> 0).
    #[inline(always)]
    fn first_worst<V: Lanes>(&self, g: usize, pnl: &[f64], loss: f64) -> i64 {
        if !self.damped {
            return worst::first_at::<V, false>(pnl, &[], -loss);
        }
        worst::first_at::<V, true>(pnl, &self.damp[g * self.width..][..pnl.len()], -loss)
    }

    /// Adds portfolio `g`'s contribution to the joint scenario P&L (§6.3): its losses, and
    /// its gains times its gain offset up to the cap; in a dampened row only a loss beyond
    /// the dampener counts, `min(0, p + d)`.
    #[inline(always)]
    fn add_joint(&self, g: usize, joint: &mut [f64], pnl: &[f64]) {
        if !self.damped && !self.gains_limited {
            for (j, p) in joint.iter_mut().zip(pnl) {
                *j += p;
            }
            return;
        }
        let u = g % self.n_underlyings();
        let (c, cap) = (self.table.gain_offset[u], self.table.gain_cap[u]);
        let damp = &self.damp[g * self.width..(g + 1) * self.width];
        for ((j, &p), &d) in joint.iter_mut().zip(pnl).zip(damp) {
            *j += if d > 0.0 {
                (p + d).min(0.0)
            } else if p > 0.0 {
                c * p.min(cap)
            } else {
                p
            };
        }
    }

    /// Directional worst losses `(down, up)` of portfolio `g` (§6.3), on its dampened P&L.
    #[inline(always)]
    fn directional(&self, g: usize, pnl: &[f64]) -> (f64, f64) {
        let n_s = self.table.n_scenarios;
        let damp = self.damped.then(|| &self.damp[g * self.width..][..n_s]);
        directional_losses(
            &pnl[..n_s],
            damp,
            &self.table.moves,
            self.n_underlyings(),
            g,
        )
    }

    /// WCL and (when `INDEX`) worst scenario from the scratch's per-underlying P&L (§6.3);
    /// resets the P&L.
    #[inline(always)]
    fn worst_case_loss<V: Lanes, const INDEX: bool>(&self, sc: &mut Scratch) -> (f64, i64) {
        let n_u = self.n_groups;
        let w = self.width;
        // The padding of the P&L rows is +-0 (zero risk, zero dampener): never a loss.
        let result = match &self.aggregation {
            Aggregation::Joint => {
                sc.joint.fill(0.0);
                for u in 0..n_u {
                    if sc.touched_u[u] {
                        self.add_joint(u, &mut sc.joint, &sc.pnl[u * w..(u + 1) * w]);
                    }
                }
                worst_loss::<V, INDEX>(&sc.joint)
            }
            _ => {
                // Per-portfolio worst loss; its first scenario only for the worst portfolio,
                // the one the output names.
                for u in 0..n_u {
                    sc.loss[u] = if sc.touched_u[u] {
                        self.group_loss::<V, false>(u, &sc.pnl[u * w..(u + 1) * w])
                            .0
                    } else {
                        0.0
                    };
                }
                let (mut top, mut top_u) = (0.0, None);
                for u in 0..n_u {
                    if sc.loss[u] > top {
                        top = sc.loss[u];
                        top_u = Some(u);
                    }
                }
                let wcl = if let Aggregation::Correlation(rho) = &self.aggregation {
                    for u in 0..n_u {
                        (sc.dir[2 * u], sc.dir[2 * u + 1]) = if sc.touched_u[u] {
                            self.directional(u, &sc.pnl[u * w..(u + 1) * w])
                        } else {
                            (0.0, 0.0)
                        };
                    }
                    signed_correlation(&sc.dir, rho)
                } else {
                    sc.loss.iter().sum()
                };
                let worst = match top_u {
                    Some(u) if INDEX && wcl > 0.0 => {
                        self.first_worst::<V>(u, &sc.pnl[u * w..(u + 1) * w], top)
                    }
                    _ => -1,
                };
                (wcl, worst)
            }
        };
        // `loss` keeps every portfolio's worst loss (overwritten for each account): the
        // SPAN aggregation reads it next.
        for (u, touched) in sc.touched_u.iter_mut().enumerate() {
            if *touched {
                sc.pnl[u * w..(u + 1) * w].fill(-0.0);
                *touched = false;
            }
        }
        result
    }

    /// Every account of `book`, in parallel over account chunks. Inputs are validated first.
    pub fn compute(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
    ) -> Result<Output> {
        self.compute_on(Isa::best(), px, coll, book, model)
    }

    /// [`Engine::compute`] with the account loop compiled for `isa` (the portable copy
    /// when this CPU lacks it). The bits are the same for every `isa`; this exists so that
    /// tests and benchmarks can show it.
    pub fn compute_on(
        &self,
        isa: Isa,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
    ) -> Result<Output> {
        self.compute_with(isa, px, coll, book, model, None)
    }

    /// [`Engine::compute_on`] with options on underlyings that have a surface in `curves`
    /// valued off it (§2.5) and discounted at the curve's rate per instrument (§1.5), today
    /// and in every scenario.
    pub fn compute_with(
        &self,
        isa: Isa,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
        curves: Option<&Curves>,
    ) -> Result<Output> {
        let mut vols = Vec::new();
        let px = &self.with_curves(px, curves, &mut vols)?;
        // The book's values are checked chunk by chunk as the tasks reach them, while they
        // are in cache for the margining that follows: a separate pass over the whole book
        // first would read it from memory twice.
        self.validate_layout(px, coll, book)?;
        let prep = self.prepare_market(px, coll, model == Model::Portfolio, curves);
        let n_a = book.n_accounts();
        let n_u = self.n_underlyings();
        // Every output is written exactly once by the pass: no zero-fill first, which
        // would be a serial write of all of them on the calling thread.
        let (mut fields, mut greeks) = (Unfilled::new(N_FIELDS, n_a), Unfilled::new(4, n_a * n_u));
        let mut worst = Unfilled::new(1, n_a);
        let blocks = chunk_groups(fields.slots(), CHUNK);
        let greek_blocks = chunk_groups(greeks.slots(), CHUNK * n_u);
        let tasks: Vec<_> = blocks
            .into_iter()
            .zip(greek_blocks)
            .zip(chunk_groups(worst.slots(), CHUNK))
            .enumerate()
            .collect();
        let (bad, not_finite) = (AtomicBool::new(false), AtomicBool::new(false));
        tasks.into_par_iter().for_each_init(
            || self.scratch(),
            |sc, (c, ((mut cols, mut gcols), mut worst_part))| {
                let chunk = Chunk {
                    start: c * CHUNK,
                    fields: &mut cols,
                    greeks: &mut gcols,
                    worst: worst_part[0],
                };
                match fill_chunk(isa, self, &prep, coll, book, model, sc, chunk) {
                    Filled::BadInput => bad.store(true, Ordering::Relaxed),
                    Filled::Written { finite } => {
                        if !finite {
                            not_finite.store(true, Ordering::Relaxed);
                        }
                    }
                }
            },
        );
        if bad.into_inner() {
            // The first bad value of the whole book, as `validate_book` reports it.
            return Err(match book.validate_values(self.instruments.len()) {
                Err(e) => e,
                Ok(()) => unreachable!("values_ok and validate_values share their predicates"),
            });
        }
        // SAFETY: no task returned `BadInput`, so every task's `fill_chunk` wrote every
        // account of its chunk, and the chunks cover `0..n_a` (`chunk_groups`).
        let (fields, greeks, worst) = unsafe {
            (
                fields.assume_filled(),
                greeks.assume_filled(),
                worst.assume_filled(),
            )
        };
        if not_finite.into_inner() {
            first_non_finite(&fields, &greeks)?;
        }
        let Some(worst) = worst.into_iter().next() else {
            unreachable!("one row of worst scenarios")
        };
        Ok(Output {
            fields,
            worst,
            greeks,
        })
    }
}

/// The error naming the first output that is not finite (`margin_ratio` may be `+inf`),
/// in the order of the fields and then the Greeks, at its flat index; `Ok` when there is
/// none. Inputs within their bounds (§9) should never get here.
fn first_non_finite(fields: &[Vec<f64>], greeks: &[Vec<f64>]) -> Result<()> {
    let named = ACCOUNT_FIELDS.iter().zip(fields).enumerate();
    let fields = named.map(|(j, (name, row))| (*name, row, j == MARGIN_RATIO));
    let greeks = GREEK_FIELDS
        .iter()
        .zip(greeks)
        .map(|(name, row)| (*name, row, false));
    for (name, row, inf_ok) in fields.chain(greeks) {
        let bad = |x: &f64| !(x.is_finite() || (inf_ok && *x == f64::INFINITY));
        if let Some(i) = row.iter().position(bad) {
            return Err(InputError::at(
                ErrorKind::NonFiniteResult,
                name,
                i,
                format!(
                    "the result {} is not finite although every input is within its bounds \
                     (docs/margin-model.md §9)",
                    row[i]
                ),
            ));
        }
    }
    Ok(())
}

/// Whether one account's outputs are finite (`margin_ratio` may be `+inf`): folded
/// without a branch, as part of the pass that writes them.
#[inline(always)]
fn account_finite(fields: &[f64; N_FIELDS], greeks: &[f64]) -> bool {
    let ratio = fields[MARGIN_RATIO];
    let others = fields[..MARGIN_RATIO]
        .iter()
        .chain(&fields[MARGIN_RATIO + 1..]);
    let ok = others.chain(greeks).fold(true, |ok, x| ok & x.is_finite());
    ok & (ratio.is_finite() | (ratio == f64::INFINITY))
}

/// What [`fill_chunk`] did with its chunk.
enum Filled {
    /// A value of the chunk failed [`Book::values_ok`]; nothing was written.
    BadInput,
    /// Every output of the chunk was written; `finite`: all of them finite.
    Written { finite: bool },
}

/// One parallel task's slice of the whole-book outputs.
struct Chunk<'a, 'b> {
    /// Index of the first account.
    start: usize,
    fields: &'a mut [&'b mut [MaybeUninit<f64>]],
    greeks: &'a mut [&'b mut [MaybeUninit<f64>]],
    worst: &'a mut [MaybeUninit<i64>],
}

/// The portfolio model's per-row sums besides the scenario P&L (§6.4-§6.5), taken in the
/// account's row order while the P&L kernel walks the rows; `SPAN`: also per short slot.
struct RowSums<'a, const GREEKS: bool, const SPAN: bool> {
    units: &'a [Unit],
    equity: f64,
    som: f64,
    /// Buckets touched so far (the first `n_b` of `touched_b`).
    n_b: usize,
    greeks: &'a mut [f64],
    touched_u: &'a mut [bool],
    bucket: &'a mut [BucketSum],
    touched_b: &'a mut [usize],
    short: &'a mut [f64],
}

impl<const GREEKS: bool, const SPAN: bool> kernel::Visit for RowSums<'_, GREEKS, SPAN> {
    #[inline(always)]
    fn visit(&mut self, i: usize, q: f64) -> usize {
        let unit = &self.units[i];
        self.equity += q * unit.mtm;
        if GREEKS {
            add_greeks(self.greeks, unit, q);
        }
        // Appended at the end of the list, which only grows on a first touch.
        let b = unit.bucket;
        self.touched_b[self.n_b] = b;
        let sum = &mut self.bucket[b];
        self.n_b += usize::from(!sum.seen);
        sum.seen = true;
        sum.delta += q * unit.greeks[0];
        // `-q` for a short row, 0 for a long one (adding 0 leaves the sums as they are):
        // no branch on the sign, which a mixed book mispredicts.
        let short = (-q).max(0.0) * unit.som;
        self.som += short;
        if SPAN {
            self.short[unit.short_slot] += short;
        }
        unit.group
    }

    #[inline(always)]
    fn enter(&mut self, g: usize) {
        self.touched_u[g] = true;
    }
}

multiversion! {
    /// Margins the accounts of one chunk into (every entry of) its outputs, or writes none
    /// of them when a value of the chunk fails [`Book::values_ok`]. Compiled per
    /// instruction set: the scenario P&L accumulation is where a portfolio pass spends its
    /// time.
    fn fill_chunk<V>(
        engine: &Engine,
        prep: &Prepared,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
        sc: &mut Scratch,
        out: Chunk<'_, '_>,
    ) -> Filled {
        // The chunk's values first, in this instruction set's registers (SSE2 has no
        // 64-bit integer comparison for the instrument indices).
        let accounts = out.start..out.start + out.worst.len();
        let rows = book.rows(accounts.start).start..book.rows(accounts.end - 1).end;
        if !book.values_ok(rows, accounts, engine.instruments.len()) {
            return Filled::BadInput;
        }
        let n_u = engine.n_underlyings();
        let mut finite = true;
        for k in 0..out.worst.len() {
            let a = out.start + k;
            let rows = book.rows(a);
            let bal = &book.balances[a * book.n_assets..(a + 1) * book.n_assets];
            let r = engine.evaluate_in::<true, V>(
                prep,
                coll,
                &book.instrument[rows.clone()],
                &book.quantity[rows],
                bal,
                model,
                sc,
            );
            let fields = [
                r.equity,
                r.initial_margin,
                r.maintenance_margin,
                r.free_collateral(),
                r.margin_ratio(),
                r.scenario_loss,
                r.roll_addon,
                r.short_option_addon,
            ];
            finite &= account_finite(&fields, &sc.greeks);
            for (col, x) in out.fields.iter_mut().zip(fields) {
                col[k].write(x);
            }
            out.worst[k].write(r.worst_scenario);
            // `greeks` is underlying-major (`U x 4`), the outputs Greek-major.
            for (g, gcol) in out.greeks.iter_mut().enumerate().take(4) {
                let per_u = sc.greeks.chunks_exact(4);
                for (x, src) in gcol[k * n_u..(k + 1) * n_u].iter_mut().zip(per_u) {
                    x.write(src[g]);
                }
            }
        }
        Filled::Written { finite }
    }
}

/// Roll add-on of a bucket with roll-shock `rate` and net USD delta `delta` (§6.4).
#[inline(always)]
fn roll_at(rate: f64, delta: f64) -> f64 {
    rate * delta.abs()
}

/// Adds a roll bucket's net delta `d` to its underlying's sums of positive and negative
/// per-expiry deltas (the SPAN calendar spreads, §6.4a).
#[inline(always)]
fn add_calendar(calendar: &mut [f64], u: usize, d: f64) {
    calendar[2 * u] += d.max(0.0);
    calendar[2 * u + 1] += (-d).max(0.0);
}

/// Standard-rule (IM, MM) of `q` contracts margined on their own (§4).
#[inline(always)]
fn standard_row(unit: &Unit, q: f64) -> (f64, f64) {
    let (im, mm) = if q < 0.0 {
        unit.short_req
    } else {
        unit.long_req
    };
    (q.abs() * im, q.abs() * mm)
}

/// Adds `q` contracts' Greeks to the `U x 4` per-underlying accumulator.
#[inline(always)]
fn add_greeks(acc: &mut [f64], unit: &Unit, q: f64) {
    let slot = &mut acc[4 * unit.underlying..4 * unit.underlying + 4];
    for (a, g) in slot.iter_mut().zip(unit.greeks) {
        *a += q * g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_margin_ratio_may_be_plus_infinity() {
        let fields = [1.0, 2.0, 3.0, -1.0, f64::INFINITY, 0.0, -0.0, 4.0];
        assert!(account_finite(&fields, &[0.5; 8]));
        assert!(account_finite(&fields, &[]));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for j in 0..N_FIELDS {
                let mut f = fields;
                f[j] = bad;
                let ok = j == MARGIN_RATIO && bad == f64::INFINITY;
                assert_eq!(account_finite(&f, &[0.5; 8]), ok, "field {j} = {bad}");
            }
            let mut g = [0.5; 8];
            g[5] = bad;
            assert!(!account_finite(&fields, &g));
        }
    }

    #[test]
    fn the_first_non_finite_output_is_named_in_field_order() {
        let mut fields = vec![vec![1.0; 3]; N_FIELDS];
        let mut greeks = vec![vec![0.0; 6]; 4];
        fields[MARGIN_RATIO][0] = f64::INFINITY;
        assert_eq!(first_non_finite(&fields, &greeks), Ok(()));
        greeks[2][4] = f64::NAN;
        let e = first_non_finite(&fields, &greeks).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str(), e.index),
            (ErrorKind::NonFiniteResult, "net_vega", Some(4))
        );
        fields[6][2] = f64::NEG_INFINITY;
        fields[MARGIN_RATIO][1] = f64::NAN;
        let e = first_non_finite(&fields, &greeks).unwrap_err();
        assert_eq!((e.field.as_str(), e.index), ("margin_ratio", Some(1)));
    }
}
