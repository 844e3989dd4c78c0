//! Health, partial liquidation with position selection, and the batch liquidation scan
//! (docs/margin-model.md §10.8).
//!
//! A close-out is a vector `c` of per-row fractions in `[0, 1]`, executed at mark, so equity
//! moves only by the costs (penalty and half spread on the closed notional). The
//! requirement after the close-out is recomputed by the engine on the kept book, so the
//! margin a close-out releases includes netting: closing one leg of a hedge raises it.

use rayon::prelude::*;

use super::addons::AddonRule;
use super::param_in;
use crate::error::{ErrorKind, InputError, Result, finite, same_len};
use crate::isa::{Isa, multiversion};
use crate::margin::{Engine, Model, Prepared, Scratch, Sums};
use crate::model::{Book, Collateral, Prices};

/// What a partial liquidation must restore on the kept book (besides the add-ons).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Initial,
    /// `(1 + buffer) MM`.
    Maintenance {
        buffer: f64,
    },
}

impl Target {
    pub fn parse(name: &str, buffer: f64) -> Result<Self> {
        param_in("buffer", buffer, 0.0, f64::MAX)?;
        match name {
            "initial" => Ok(Target::Initial),
            "maintenance" => Ok(Target::Maintenance { buffer }),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "target",
                format!("unknown target {name:?} (initial, maintenance)"),
            )),
        }
    }

    #[inline(always)]
    fn of(self, im: f64, mm: f64) -> f64 {
        match self {
            Target::Initial => im,
            Target::Maintenance { buffer } => (1.0 + buffer) * mm,
        }
    }
}

/// The base model, the target, the penalty and the liquidity add-ons of a scan.
#[derive(Debug, Clone, Copy)]
pub struct LiquidationRule<'a> {
    pub model: Model,
    pub target: Target,
    /// Liquidation penalty as a fraction of the notional closed, in `[0, 1]`.
    pub penalty: f64,
    pub addons: AddonRule<'a>,
}

/// Which close-out the scan chose for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Method {
    /// Below maintenance but already at the target: nothing is closed.
    None = 0,
    Greedy = 1,
    ProRata = 2,
    /// Whole-account fallback: no close-out restores the target.
    Full = 3,
}

/// Outcome of liquidating one account; its per-row fractions live in [`Scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liquidation {
    pub account: usize,
    /// `MM + add-ons - equity > 0`.
    pub shortfall: f64,
    /// Every row is closed in full.
    pub full: bool,
    /// Loss the account cannot cover after the whole-account fallback, else 0.
    pub bad_debt: f64,
    /// `sum_j c_j x_j`, the USD notional closed.
    pub closed_notional: f64,
    pub method: Method,
}

/// Liquidatable accounts by shortfall with their close-outs in CSR form: liquidation `k`
/// closes `close_fraction[p]` of book row `rows[p]` for `p` in `offsets[k]..offsets[k+1]`,
/// one entry per row of the account, in book order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub liquidations: Vec<Liquidation>,
    pub offsets: Vec<usize>,
    pub rows: Vec<usize>,
    pub close_fraction: Vec<f64>,
}

/// Root-search tolerance in units of a fraction: a search stops once its bracket is this
/// narrow and returns the end where health is met.
pub const FRACTION_TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 200;
/// Relative tolerance of ties: greedy scores this close go to the lower row index, and pro
/// rata replaces the greedy close-out only when it closes less notional by more than this
/// share of the account's, so rounding cannot flip a choice between implementations.
pub const TIE: f64 = 1e-9;
/// Upper bound on the minimality passes; the pass that changes nothing proves the result
/// coordinate-minimal. Usually that is the second; rows zig-zagging towards a corner of
/// `H` are sped up by `Search::try_jump`, so the bound is only a safeguard.
pub const MAX_PASSES: usize = 1000;
/// Accounts per parallel task.
const CHUNK: usize = 512;

/// The per-instrument constants of the scan in one 32-byte record.
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

/// One row of the account being liquidated.
#[derive(Debug, Clone, Copy, Default)]
struct RowTerms {
    /// `x = |q| N`.
    notional: f64,
    /// Half spread on the full row, `hs x`.
    spread: f64,
    /// Cost of closing the full row, `(penalty + hs) x`.
    cost: f64,
    threshold: f64,
    base_ratio: f64,
}

/// Per-thread working memory, reused across accounts.
struct Workspace {
    sc: Scratch,
    base: Sums,
    trial: Sums,
    rows: Vec<RowTerms>,
    /// Add-ons of each row of the task's accounts (`Scanner::row_addons`).
    addons: Vec<f64>,
}

/// One account and everything its health depends on.
struct Account<'a> {
    engine: &'a Engine,
    prep: &'a Prepared,
    rule: &'a LiquidationRule<'a>,
    instrument: &'a [i64],
    quantity: &'a [f64],
    /// Collateral balances, whose scenario P&L stays in every kept book (§6.2).
    balances: &'a [f64],
    rows: &'a [RowTerms],
    equity: f64,
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

    fn notional(&self, c: &[f64]) -> f64 {
        self.rows.iter().zip(c).map(|(r, &f)| f * r.notional).sum()
    }
}

/// The search over close-outs `c` of one account. `base` holds the sums of the book kept
/// after `c` (with its costs and add-ons), margined, so trying another fraction for one row
/// costs `O(S + U)` (`Engine::moved_margin`) rather than a whole re-margining of the account.
struct Search<'a, 'w> {
    acc: &'a Account<'a>,
    sc: &'w mut Scratch,
    base: &'w mut Sums,
    trial: &'w mut Sums,
    c: &'w mut [f64],
    costs: f64,
    addons: f64,
}

impl Search<'_, '_> {
    /// Sets row `j` to fraction `t` (all rows when `j` is `None`), re-sums the base and
    /// returns its health (margining it is what makes `line` O(S)).
    #[inline(always)]
    fn set(&mut self, j: Option<usize>, t: f64) -> f64 {
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
    fn uniform(&mut self, f: f64) -> f64 {
        let (costs, addons) = self.acc.build(self.trial, |_| f);
        self.acc.health(self.trial, costs, addons, self.sc)
    }

    /// Greedy by health gained per unit of notional closed: close the best row in full and
    /// re-score, until closing the best row in full restores health; then close the
    /// smallest fraction of it that does. Rows with no positive gain are never closed.
    /// False when it cannot restore health (`c` is then meaningless).
    #[inline(always)]
    fn greedy(&mut self) -> bool {
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
    fn minimise(&mut self) {
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

/// Everything a scan shares between accounts.
struct Scanner<'a> {
    engine: &'a Engine,
    prep: Prepared,
    coll: &'a Collateral<'a>,
    book: &'a Book<'a>,
    extra_equity: Option<&'a [f64]>,
    rule: &'a LiquidationRule<'a>,
    terms: Vec<InstrumentTerms>,
}

impl Scanner<'_> {
    fn workspace(&self) -> Workspace {
        Workspace {
            sc: self.engine.scratch(),
            base: self.engine.sums(),
            trial: self.engine.sums(),
            rows: Vec::new(),
            addons: Vec::new(),
        }
    }

    /// Close-out cost, concentration add-on and size premium of every row in `rows`, in
    /// one flat loop: per-account loops of a few rows do not vectorise, this one does.
    #[inline(always)]
    fn row_addons(&self, rows: std::ops::Range<usize>, out: &mut Vec<f64>) {
        let book = self.book;
        // Sized first and filled by index: `extend` is not inlined into the per-ISA copies.
        out.resize(rows.len(), 0.0);
        let rows = book.instrument[rows.clone()]
            .iter()
            .zip(&book.quantity[rows]);
        for (v, (&i, &q)) in out.iter_mut().zip(rows) {
            let t = &self.terms[i as usize];
            let x = q.abs() * t.notional;
            let (conc, premium) = self.rule.addons.nonlinear(x, t.threshold, t.base_ratio);
            *v = t.half_spread * x + conc + premium;
        }
    }

    /// Liquidates account `a` if it is below maintenance, appending its per-row close-out
    /// fractions to `fractions` (one per row); `None` when it is healthy. `row_addons` holds
    /// the add-ons of its rows.
    #[inline(always)]
    fn account(
        &self,
        a: usize,
        row_addons: &[f64],
        ws: &mut Workspace,
        fractions: &mut Vec<f64>,
    ) -> Option<Liquidation> {
        let book = self.book;
        let rows = book.rows(a);
        let (instrument, quantity) = (&book.instrument[rows.clone()], &book.quantity[rows]);
        let balances = &book.balances[a * book.n_assets..(a + 1) * book.n_assets];
        let mut addons = 0.0;
        for v in row_addons {
            addons += v;
        }
        let Workspace {
            sc,
            base,
            trial,
            rows,
            ..
        } = ws;
        let m0 = self.engine.evaluate::<false>(
            &self.prep,
            self.coll,
            instrument,
            quantity,
            balances,
            self.rule.model,
            sc,
        );
        let equity = m0.equity + self.extra_equity.map_or(0.0, |e| e[a]);
        let requirement = m0.maintenance_margin + addons;
        if equity >= requirement {
            return None;
        }
        let start = fractions.len();
        fractions.resize(start + instrument.len(), 0.0);
        let c = &mut fractions[start..];
        let penalty = self.rule.penalty;
        rows.clear();
        let (mut total, mut spread) = (0.0, 0.0);
        for (&i, &q) in instrument.iter().zip(quantity) {
            let t = &self.terms[i as usize];
            let x = q.abs() * t.notional;
            let row = RowTerms {
                notional: x,
                spread: t.half_spread * x,
                cost: (penalty + t.half_spread) * x,
                threshold: t.threshold,
                base_ratio: t.base_ratio,
            };
            total += x;
            spread += row.spread;
            rows.push(row);
        }
        let mut out = Liquidation {
            account: a,
            shortfall: requirement - equity,
            full: false,
            bad_debt: 0.0,
            closed_notional: 0.0,
            method: Method::None,
        };
        let h0 = equity
            - (self
                .rule
                .target
                .of(m0.initial_margin, m0.maintenance_margin)
                + addons);
        if h0 >= 0.0 {
            return Some(out);
        }
        let acc = Account {
            engine: self.engine,
            prep: &self.prep,
            rule: self.rule,
            instrument,
            quantity,
            balances,
            rows,
            equity,
        };
        let mut search = Search {
            acc: &acc,
            sc,
            base,
            trial,
            c,
            costs: 0.0,
            addons: 0.0,
        };
        let greedy = search.greedy();
        // H is concave along the pro-rata ray, so a pro-rata close-out exists iff H(1) >= 0.
        let h_full = search.uniform(1.0);
        let pro_rata = (h_full >= 0.0).then(|| {
            smallest_root(
                #[inline(always)]
                |f| search.uniform(f),
                (0.0, h0),
                (1.0, h_full),
            )
        });
        out.method = match pro_rata {
            Some(f) if !greedy || f * total < acc.notional(search.c) - TIE * total => {
                search.set(None, f);
                Method::ProRata
            }
            _ if greedy => Method::Greedy,
            _ => {
                search.c.fill(1.0);
                // The penalty is paid only out of what is left; the spread is a market cost.
                return Some(Liquidation {
                    full: true,
                    bad_debt: (spread - equity).max(0.0),
                    closed_notional: total,
                    method: Method::Full,
                    ..out
                });
            }
        };
        search.minimise();
        out.closed_notional = acc.notional(search.c);
        out.full = search.c.iter().all(|&f| f >= 1.0);
        Some(out)
    }
}

/// Search bracket `h(lo) < 0 <= h(hi)`, with the previous left end for a chord slope.
struct Bracket {
    lo: f64,
    h_lo: f64,
    left: Option<(f64, f64)>,
    hi: f64,
    h_hi: f64,
}

impl Bracket {
    /// Evaluates `t` (a NaN means the midpoint) kept half a tolerance inside the bracket, so
    /// a step that lands on an end still moves the other one; moves the end on its side and
    /// returns true when `h(t) >= 0`.
    #[inline(always)]
    fn probe(&mut self, h: &mut impl FnMut(f64) -> f64, t: f64) -> bool {
        let half = 0.5 * FRACTION_TOLERANCE;
        let t = if t.is_nan() {
            0.5 * (self.lo + self.hi)
        } else {
            t.max(self.lo + half).min(self.hi - half)
        };
        let v = h(t);
        if v >= 0.0 {
            (self.hi, self.h_hi) = (t, v);
            true
        } else {
            self.left = Some((self.lo, self.h_lo));
            (self.lo, self.h_lo) = (t, v);
            false
        }
    }

    #[inline(always)]
    fn width(&self) -> f64 {
        self.hi - self.lo
    }
}

/// Smallest `t` in `[lo, hi]` with `h(t) >= 0` for a concave `h` with `h(lo) < 0 <= h(hi)`,
/// to within `FRACTION_TOLERANCE`; the returned `t` always has `h(t) >= 0`.
///
/// Each round takes a Newton-like step from `lo` with the slope of the chord through the
/// last two left ends (by concavity at least `h'(lo)`, so it lands left of the root, and on
/// it when both ends lie on the root's linear piece), then a secant step between `lo` and
/// `hi` (the chord lies below `h`, so it lands right). A step that rounding puts on the
/// wrong side is numerically on the root and is followed by a probe half a tolerance to
/// the other side; a round that fails to halve the bracket ends with a bisection.
#[inline(always)]
pub fn smallest_root(mut h: impl FnMut(f64) -> f64, lo: (f64, f64), hi: (f64, f64)) -> f64 {
    let half = 0.5 * FRACTION_TOLERANCE;
    let mut b = Bracket {
        lo: lo.0,
        h_lo: lo.1,
        left: None,
        hi: hi.0,
        h_hi: hi.1,
    };
    for _ in 0..MAX_ITERATIONS {
        let width = b.width();
        if width <= FRACTION_TOLERANCE {
            break;
        }
        if let Some((p, h_p)) = b.left {
            let slope = (b.h_lo - h_p) / (b.lo - p);
            if slope > 0.0
                && b.probe(&mut h, b.lo - b.h_lo / slope)
                && b.width() > FRACTION_TOLERANCE
            {
                b.probe(&mut h, b.hi - half);
            }
        }
        if b.width() <= FRACTION_TOLERANCE {
            break;
        }
        let secant = b.lo - b.h_lo * (b.hi - b.lo) / (b.h_hi - b.h_lo);
        if !b.probe(&mut h, secant) && b.width() > FRACTION_TOLERANCE {
            b.probe(&mut h, b.lo + half);
        }
        if b.width() > 0.5 * width && b.width() > FRACTION_TOLERANCE {
            b.probe(&mut h, f64::NAN);
        }
    }
    b.hi
}

/// One task's liquidations, each with the start of its rows' fractions in the buffer.
type Part = (Vec<(Liquidation, usize)>, Vec<f64>);

multiversion! {
    /// One task's accounts: its liquidations, each with where its rows' fractions start in
    /// the task's buffer. Compiled per instruction set like the engine's account loop: the
    /// base margin of every account is most of a scan.
    fn scan_chunk(
        scanner: &Scanner<'_>,
        ws: &mut Workspace,
        accounts: std::ops::Range<usize>,
    ) -> Part {
        let (mut found, mut fractions) = (Vec::new(), Vec::new());
        let first = scanner.book.rows(accounts.start).start;
        let mut addons = std::mem::take(&mut ws.addons);
        scanner.row_addons(first..scanner.book.rows(accounts.end - 1).end, &mut addons);
        for a in accounts {
            let rows = scanner.book.rows(a);
            let start = fractions.len();
            let row_addons = &addons[rows.start - first..rows.end - first];
            if let Some(l) = scanner.account(a, row_addons, ws, &mut fractions) {
                found.push((l, start));
            }
        }
        ws.addons = addons;
        (found, fractions)
    }
}

/// Every account with `equity + extra_equity < MM + add-ons`, ordered by shortfall (largest
/// first; ties by account index), with its close-out. Parallel over accounts; the result
/// does not depend on the number of threads.
pub fn liquidation_scan(
    engine: &Engine,
    px: &Prices<'_>,
    coll: &Collateral<'_>,
    book: &Book<'_>,
    extra_equity: Option<&[f64]>,
    rule: &LiquidationRule<'_>,
) -> Result<Scan> {
    engine.validate_book(px, coll, book)?;
    rule.addons.validate(engine.instruments.len())?;
    if let Target::Maintenance { buffer } = rule.target {
        param_in("buffer", buffer, 0.0, f64::MAX)?;
    }
    if let Some(extra) = extra_equity {
        same_len("extra_equity", extra.len(), book.n_accounts(), "accounts")?;
        finite("extra_equity", extra)?;
    }
    param_in("penalty", rule.penalty, 0.0, 1.0)?;
    let scanner = Scanner {
        engine,
        prep: engine.prepare_with(px, coll, rule.model == Model::Portfolio),
        coll,
        book,
        extra_equity,
        rule,
        terms: instrument_terms(&rule.addons),
    };
    let n_a = book.n_accounts();
    let isa = Isa::best();
    // Per task: its liquidations, each with where its rows' fractions start in the task's
    // buffer (memory in proportion to the liquidated rows, not to the book).
    let parts: Vec<Part> = (0..n_a.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || scanner.workspace(),
            |ws, k| scan_chunk(isa, &scanner, ws, k * CHUNK..((k + 1) * CHUNK).min(n_a)),
        )
        .collect();
    let mut found = Vec::new();
    let mut fractions = Vec::new();
    for (part, f) in parts {
        let base = fractions.len();
        found.extend(part.into_iter().map(|(l, start)| (l, base + start)));
        fractions.extend(f);
    }
    found.par_sort_unstable_by(|(x, _), (y, _)| {
        y.shortfall
            .total_cmp(&x.shortfall)
            .then(x.account.cmp(&y.account))
    });
    let mut offsets = Vec::with_capacity(found.len() + 1);
    offsets.push(0);
    let (mut rows, mut close_fraction) = (Vec::new(), Vec::new());
    for (l, start) in &found {
        let r = book.rows(l.account);
        close_fraction.extend_from_slice(&fractions[*start..*start + r.len()]);
        rows.extend(r);
        offsets.push(rows.len());
    }
    let liquidations = found.into_iter().map(|(l, _)| l).collect();
    Ok(Scan {
        liquidations,
        offsets,
        rows,
        close_fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::Aggregation;
    use crate::model::Instruments;
    use crate::scenarios::ScenarioTable;

    /// Linear perpetuals (kind 1) and futures (kind 2) on one underlying at 500, one
    /// scenario row moving it -10%.
    fn engine(kind: &[i64]) -> Engine {
        let n = kind.len();
        let ins = Instruments::new(
            kind,
            &vec![0; n],
            &vec![0.0; n],
            &vec![0.25; n],
            &vec![1.0; n],
            &vec![0; n],
            1,
        )
        .unwrap();
        let table =
            ScenarioTable::new(&[-0.1], &[0.0], &[1.0], 1, 1, 0.5, 0.25, 0.3, 0.13, 0.5).unwrap();
        Engine::new(ins, table, crate::margin::test_params(), Aggregation::Sum).unwrap()
    }

    struct Case {
        engine: Engine,
        notional: Vec<f64>,
        zeros: Vec<f64>,
        depth: Vec<f64>,
    }

    impl Case {
        fn new(kind: &[i64]) -> Self {
            let n = kind.len();
            Self {
                engine: engine(kind),
                notional: vec![500.0; n],
                zeros: vec![0.0; n],
                depth: vec![1e12; n],
            }
        }

        fn scan(
            &self,
            model: Model,
            offsets: &[i64],
            instrument: &[i64],
            quantity: &[f64],
            cash: &[f64],
        ) -> Scan {
            let rule = LiquidationRule {
                model,
                target: Target::Initial,
                penalty: 0.02,
                addons: AddonRule {
                    notional: &self.notional,
                    half_spread: &self.zeros,
                    depth: &self.depth,
                    base_ratio: &self.zeros,
                    share: 1.0,
                    rate: 0.0,
                    imf: 0.0,
                },
            };
            let px = Prices {
                spot: &[500.0],
                vol: &self.zeros,
                forward: None,
                rate: 0.0,
            };
            let coll = Collateral {
                price: &[1.0],
                haircut: &[0.0],
            };
            let book = Book {
                offsets,
                instrument,
                quantity,
                balances: cash,
                n_assets: 1,
            };
            liquidation_scan(&self.engine, &px, &coll, &book, None, &rule).unwrap()
        }
    }

    #[test]
    fn closed_form_single_position() {
        // Notional 1000, IM 100, MM 50, equity 40, penalty 2%: c = (IM - E) / (IM - pen N) = 60 / 80.
        let s = Case::new(&[1]).scan(Model::Standard, &[0, 1], &[0], &[2.0], &[40.0]);
        let l = s.liquidations[0];
        assert_eq!(s.liquidations.len(), 1);
        assert!((s.close_fraction[0] - 0.75).abs() < 1e-12 && !l.full);
        assert!((l.shortfall - 10.0).abs() < 1e-12);
        assert!((l.closed_notional - 750.0).abs() < 1e-9);
    }

    #[test]
    fn minimality_keeps_the_hedge_leg() {
        // Long 4 perpetuals, short 1 future on one underlying, cross margin: net USD delta
        // 1500, IM 150, MM 75, equity 70. Pro rata needs 0.8 of both legs (2000 notional);
        // then closing less of the short leg RAISES health (it hedges), so minimisation
        // drops it and closes half the longs: 70 - 0.02 x 1000 = 0.1 x |1000 - 500|.
        let s = Case::new(&[1, 2]).scan(Model::Cross, &[0, 2], &[0, 1], &[4.0, -1.0], &[70.0]);
        let l = s.liquidations[0];
        assert_eq!(
            (l.method, s.rows.as_slice()),
            (Method::ProRata, &[0, 1][..])
        );
        assert_eq!(s.close_fraction[1], 0.0);
        assert!((s.close_fraction[0] - 0.5).abs() < 1e-12);
        assert!((l.closed_notional - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn insolvent_accounts_fall_back_to_full() {
        let s = Case::new(&[1]).scan(
            Model::Standard,
            &[0, 1, 2],
            &[0, 0],
            &[1.0, 1.0],
            &[-5.0, 20.0],
        );
        assert_eq!(s.liquidations.len(), 2);
        let l = s.liquidations[0];
        assert_eq!((l.account, l.method), (0, Method::Full));
        assert!(l.full && l.bad_debt == 5.0 && s.close_fraction[0] == 1.0);
        assert_eq!(s.offsets, vec![0, 1, 2]);
    }

    #[test]
    fn sums_margin_matches_evaluate() {
        let eng = engine(&[0, 1, 2, 2]);
        let px = Prices {
            spot: &[500.0],
            vol: &[0.5; 4],
            forward: None,
            rate: 0.0,
        };
        let coll = Collateral {
            price: &[1.0],
            haircut: &[0.0],
        };
        let (ins, qty) = ([0i64, 1, 2, 3], [1.5, -4.0, 2.0, -0.5]);
        let mut sc = eng.scratch();
        for model in [Model::Standard, Model::Cross, Model::Portfolio] {
            let prep = eng.prepare(&px, model == Model::Portfolio);
            let m = eng.evaluate::<true>(&prep, &coll, &ins, &qty, &[0.0], model, &mut sc);
            let mut s = eng.sums();
            for (&i, &q) in ins.iter().zip(&qty) {
                eng.move_position(&prep, model, &mut s, i as usize, 0.0, 2.0 * q);
                eng.move_position(&prep, model, &mut s, i as usize, 2.0 * q, q);
            }
            let (im, mm) = eng.sums_margin(model, &mut s, &mut sc);
            assert!(
                (im - m.initial_margin).abs() < 1e-9 && (mm - m.maintenance_margin).abs() < 1e-9
            );
            assert!(m.initial_margin > 0.0);
        }
    }

    #[test]
    fn root_finder_meets_the_target_within_tolerance() {
        // A concave piecewise-linear h with its root at 0.3.
        let h = |t: f64| (t - 0.3).min(0.1 * (t - 0.3));
        let t = smallest_root(h, (0.0, h(0.0)), (1.0, h(1.0)));
        assert!(h(t) >= 0.0 && t - 0.3 <= FRACTION_TOLERANCE);
    }
}
