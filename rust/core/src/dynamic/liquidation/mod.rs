//! Health, partial liquidation with position selection, and the batch liquidation scan
//! (docs/margin-model.md §10.8).
//!
//! A close-out is a vector `c` of per-row fractions in `[0, 1]`, executed at mark, so equity
//! moves only by the costs (penalty and half spread on the closed notional). The
//! requirement after the close-out is recomputed by the engine on the kept book, so the
//! margin a close-out releases includes netting: closing one leg of a hedge raises it.
//!
//! Here: the rule and result types and the parallel scan over accounts; `search` holds the
//! close-out search within one account, `root` the bracketed root finder it runs on.

mod root;
mod search;

use rayon::prelude::*;

pub use self::root::{FRACTION_TOLERANCE, MAX_ITERATIONS, smallest_root};
use self::search::{Account, RowTerms, Search};
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

/// Per-thread working memory, reused across accounts.
struct Workspace {
    sc: Scratch,
    base: Sums,
    trial: Sums,
    rows: Vec<RowTerms>,
    /// Add-ons of each row of the task's accounts (`Scanner::row_addons`).
    addons: Vec<f64>,
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
