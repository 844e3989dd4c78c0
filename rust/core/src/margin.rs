//! Standard, cross and portfolio margin per account and over whole books
//! (docs/margin-model.md §3-§7).

use rayon::prelude::*;

use crate::error::{ErrorKind, InputError, Result, same_len};
use crate::isa::{Isa, multiversion};
use crate::linalg::check_correlation;
use crate::model::{Book, Collateral, Instruments, Kind, Prices, Settlement};
use crate::netting::{SpanBook, SpanRules, directional_losses, signed_correlation, span_terms};
use crate::parallel::{chunk_groups, zeroed_rows};
use crate::risk::{SettlementMode, risk_arrays};
use crate::scenarios::ScenarioTable;
use crate::surface::Curves;
use crate::values::{Values, instrument_values};

/// docs/margin-model.md §8.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub linear_im: f64,
    pub linear_mm: f64,
    pub option_im_base: f64,
    pub option_im_floor: f64,
    pub option_mm: f64,
    pub im_factor: f64,
    pub mm_factor: f64,
    pub annual_move_risk: f64,
    pub min_annual_move: f64,
    pub short_option_min: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            linear_im: 0.10,
            linear_mm: 0.05,
            option_im_base: 0.15,
            option_im_floor: 0.10,
            option_mm: 0.075,
            im_factor: 1.0,
            mm_factor: 0.8,
            annual_move_risk: 0.075,
            min_annual_move: 0.01,
            short_option_min: 0.003,
        }
    }
}

impl Params {
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("linear_im", self.linear_im),
            ("linear_mm", self.linear_mm),
            ("option_im_base", self.option_im_base),
            ("option_im_floor", self.option_im_floor),
            ("option_mm", self.option_mm),
            ("im_factor", self.im_factor),
            ("mm_factor", self.mm_factor),
            ("annual_move_risk", self.annual_move_risk),
            ("min_annual_move", self.min_annual_move),
            ("short_option_min", self.short_option_min),
        ];
        for (name, v) in fields {
            if !v.is_finite() || v < 0.0 {
                return Err(InputError::whole(
                    ErrorKind::Parameter,
                    name,
                    format!("must be finite and >= 0 (got {v})"),
                ));
            }
        }
        if self.im_factor <= 0.0 || self.mm_factor <= 0.0 || self.mm_factor > self.im_factor {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "mm_factor",
                "need 0 < mm_factor <= im_factor",
            ));
        }
        if self.linear_mm > self.linear_im {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "linear_mm",
                "must not exceed linear_im",
            ));
        }
        Ok(())
    }

    /// Roll-shock rate for a bucket expiring in `t` years (§6.4).
    pub fn roll_rate(&self, t: f64) -> f64 {
        self.min_annual_move
            .max((self.annual_move_risk * t).exp() - 1.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Standard,
    Cross,
    Portfolio,
}

impl Model {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "standard" => Ok(Model::Standard),
            "cross" => Ok(Model::Cross),
            "portfolio" => Ok(Model::Portfolio),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "model",
                format!("unknown model {name:?} (standard, cross, portfolio)"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    Sum,
    Joint,
    /// Row-major `U x U` correlation matrix.
    Correlation(Vec<f64>),
    /// CME SPAN per underlying (combined commodity).
    Span(SpanRules),
}

impl Aggregation {
    pub fn parse(name: &str, correlation: Option<&[f64]>, n_underlyings: usize) -> Result<Self> {
        match (name, correlation) {
            ("sum", None) => Ok(Aggregation::Sum),
            ("joint", None) => Ok(Aggregation::Joint),
            ("correlation", Some(rho)) => {
                check_correlation("correlation", rho, n_underlyings)?;
                Ok(Aggregation::Correlation(rho.to_vec()))
            }
            ("span", None) => Ok(Aggregation::Span(SpanRules::new(
                &vec![0.0; n_underlyings],
                &[],
                &[],
                &[],
                n_underlyings,
            )?)),
            ("correlation", None) => Err(InputError::whole(
                ErrorKind::Parameter,
                "correlation",
                "aggregation 'correlation' needs a correlation matrix",
            )),
            ("sum" | "joint" | "span", Some(_)) => Err(InputError::whole(
                ErrorKind::Parameter,
                "correlation",
                "a correlation matrix is only used with aggregation 'correlation'",
            )),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "aggregation",
                format!("unknown aggregation {name:?} (sum, joint, correlation, span)"),
            )),
        }
    }
}

/// What one contract of an instrument contributes, packed so the hot loop touches one
/// record per position row instead of a dozen parallel arrays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unit {
    pub underlying: usize,
    /// The portfolio whose scenario P&L the row joins (§6.3): its underlying, or under the
    /// segregated mode its (underlying, settlement currency).
    pub group: usize,
    pub bucket: usize,
    pub is_option: bool,
    pub mtm: f64,
    /// delta, gamma, vega, theta (§2.3).
    pub greeks: [f64; 4],
    /// Standard-model requirements per contract for a long and a short row: (IM, MM).
    pub long_req: (f64, f64),
    pub short_req: (f64, f64),
    /// Short-option minimum per short contract (0 for delta-one instruments).
    pub som: f64,
    /// `2 u` for calls and delta-one rows, `2 u + 1` for puts: where a short row's
    /// minimum goes under the SPAN aggregation (the larger of calls and puts counts).
    pub short_slot: usize,
}

/// Per-instrument numbers for one market state, computed once and shared by all accounts.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub values: Values,
    /// `I x S` risk arrays; empty unless the portfolio model was prepared.
    pub risk: Vec<f64>,
    pub units: Vec<Unit>,
    /// Per collateral asset, its scenario P&L per unit of balance when it is shocked with
    /// an underlying (§6.2); empty when no asset is (or collateral was not prepared).
    pub collateral: Vec<Option<CollateralRisk>>,
}

/// Scenario P&L of one unit of a collateral asset linked to an underlying.
#[derive(Debug, Clone)]
pub struct CollateralRisk {
    pub group: usize,
    /// `S` entries for a held balance (haircut value) and a borrowed one (grossed up).
    pub held: Vec<f64>,
    pub borrowed: Vec<f64>,
}

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
    pnl: Vec<f64>,
    joint: Vec<f64>,
    touched_u: Vec<bool>,
    net: Vec<f64>,
    loss: Vec<f64>,
    worst_u: Vec<i64>,
    bucket: Vec<f64>,
    bucket_seen: Vec<bool>,
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
}

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
    /// Dampener per portfolio and scenario (`n_groups x S`), and whether any is non-zero.
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

/// Per-account float outputs, in the order of `zkmargin.results.ACCOUNT_FIELDS`.
pub const N_FIELDS: usize = 8;

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
        let mut damp = vec![0.0; n_groups * n_s];
        for g in 0..n_groups {
            let (u, coin) = (g % n_u, g >= n_u);
            for s in 0..n_s {
                let k = s * n_u + u;
                // Coin-settled portfolios count the USD dampener in coins at the edge price.
                let d = table.dampener[k];
                damp[g * n_s + s] = if coin { d / (1.0 + table.edge[k]) } else { d };
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

    pub fn validate_prices(&self, px: &Prices<'_>) -> Result<()> {
        px.validate(&self.instruments, self.n_underlyings())
    }

    pub fn validate_book(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        book: &Book<'_>,
    ) -> Result<()> {
        self.validate_prices(px)?;
        coll.validate()?;
        same_len(
            "balances",
            book.n_assets,
            coll.price.len(),
            "number of collateral assets",
        )?;
        if !self.asset_underlying.is_empty() {
            same_len(
                "asset_underlying",
                self.asset_underlying.len(),
                coll.price.len(),
                "number of collateral assets",
            )?;
        }
        book.validate(self.instruments.len())
    }

    /// Values, risk arrays (when `with_risk`) and per-contract requirements for `px`,
    /// which must have been validated.
    pub fn prepare(&self, px: &Prices<'_>, with_risk: bool) -> Prepared {
        self.prepare_values(px, with_risk, None)
    }

    /// Today's vol of every instrument under `curves` (§2.5): the surface's for options
    /// on an underlying with one, `px.vol` otherwise; `px` is validated on the way, with
    /// the vols of surfaced options not required.
    pub fn surface_vols(&self, px: &Prices<'_>, curves: &Curves) -> Result<Vec<f64>> {
        let ins = &self.instruments;
        if !curves.surfaces.is_empty() {
            same_len(
                "surfaces",
                curves.surfaces.len(),
                self.n_underlyings(),
                "number of underlyings",
            )?;
        }
        if let Some(r) = &curves.rates {
            same_len("rates", r.len(), ins.len(), "number of instruments")?;
            crate::error::finite("rates", r)?;
            crate::bounds::magnitude("rates", r, crate::bounds::MAX_RATE)?;
        }
        same_len("vol", px.vol.len(), ins.len(), "number of instruments")?;
        let stand_in: Vec<f64> = (0..ins.len())
            .map(|i| {
                let surfaced = ins.kind[i].is_option() && curves.of(ins.underlying[i]).is_some();
                if surfaced { 1.0 } else { px.vol[i] }
            })
            .collect();
        let px = Prices {
            vol: &stand_in,
            ..*px
        };
        self.validate_prices(&px)?;
        curves.base_vols(ins, &px)
    }

    /// `px` with today's vols under `curves` (written to `buf`), or `px` itself without.
    pub fn with_curves<'a>(
        &self,
        px: &Prices<'a>,
        curves: Option<&Curves>,
        buf: &'a mut Vec<f64>,
    ) -> Result<Prices<'a>> {
        match curves {
            None => Ok(*px),
            Some(s) => {
                *buf = self.surface_vols(px, s)?;
                let vol: &'a Vec<f64> = buf;
                Ok(Prices { vol, ..*px })
            }
        }
    }

    /// [`Self::prepare`] with scenario vols read off `curves` and its rates (§1.5, §2.5,
    /// §6.2); `px.vol` must already hold [`Self::surface_vols`].
    pub fn prepare_values(
        &self,
        px: &Prices<'_>,
        with_risk: bool,
        curves: Option<&Curves>,
    ) -> Prepared {
        let ins = &self.instruments;
        let p = &self.params;
        let values = instrument_values(ins, px, curves.and_then(|c| c.rates.as_deref()));
        let risk = if with_risk {
            risk_arrays(
                ins,
                px,
                &self.table,
                &values.forward,
                self.settlement,
                curves,
            )
        } else {
            Vec::new()
        };
        let units = (0..ins.len())
            .map(|i| {
                let notional = values.notional[i];
                let f = values.forward[i];
                let (long_req, short_req, som) = if ins.kind[i].is_option() {
                    let k = ins.strike[i];
                    let otm = if ins.kind[i] == Kind::Call {
                        (k - f).max(0.0)
                    } else {
                        (f - k).max(0.0)
                    };
                    let im = notional * (p.option_im_base - otm / f).max(p.option_im_floor)
                        + values.mtm[i];
                    let mm = notional * p.option_mm + values.mtm[i];
                    ((0.0, 0.0), (im, mm), p.short_option_min * notional)
                } else {
                    let req = (p.linear_im * notional, p.linear_mm * notional);
                    (req, req, 0.0)
                };
                Unit {
                    underlying: ins.underlying[i],
                    group: self.group[i],
                    bucket: self.bucket[i],
                    is_option: ins.kind[i].is_option(),
                    mtm: values.mtm[i],
                    greeks: [
                        values.delta[i],
                        values.gamma[i],
                        values.vega[i],
                        values.theta[i],
                    ],
                    long_req,
                    short_req,
                    som,
                    short_slot: 2 * ins.underlying[i] + usize::from(ins.kind[i] == Kind::Put),
                }
            })
            .collect();
        Prepared {
            values,
            risk,
            units,
            collateral: Vec::new(),
        }
    }

    /// [`Self::prepare`] plus, for the portfolio model under the cross settlement mode,
    /// the scenario P&L of the collateral assets linked to an underlying (§6.2): a held
    /// balance's haircut value and a borrowed balance's grossed-up one move like a linear
    /// spot position, `w m p (1 -+ h)` per unit.
    pub fn prepare_with(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        with_risk: bool,
    ) -> Prepared {
        self.prepare_market(px, coll, with_risk, None)
    }

    /// [`Self::prepare_with`] with the market's `curves` (as [`Self::prepare_values`]).
    pub fn prepare_market(
        &self,
        px: &Prices<'_>,
        coll: &Collateral<'_>,
        with_risk: bool,
        curves: Option<&Curves>,
    ) -> Prepared {
        let mut prep = self.prepare_values(px, with_risk, curves);
        if with_risk && self.settlement == SettlementMode::Cross {
            let n_s = self.table.n_scenarios;
            let n_u = self.n_underlyings();
            let rows = |u: usize, factor: f64| -> Vec<f64> {
                (0..n_s)
                    .map(|s| {
                        let (m, _, w) = self.table.cell(s, u);
                        w * m * factor
                    })
                    .collect()
            };
            prep.collateral = self
                .asset_underlying
                .iter()
                .enumerate()
                .map(|(j, link)| {
                    link.map(|u| {
                        let (p, h) = (coll.price[j], coll.haircut[j]);
                        debug_assert!(u < n_u);
                        CollateralRisk {
                            group: u,
                            held: rows(u, p * (1.0 - h)),
                            borrowed: rows(u, p * (1.0 + h)),
                        }
                    })
                })
                .collect();
            if prep.collateral.iter().all(Option::is_none) {
                prep.collateral.clear();
            }
        }
        prep
    }

    pub fn scratch(&self) -> Scratch {
        let (u, s, g) = (self.n_underlyings(), self.table.n_scenarios, self.n_groups);
        Scratch {
            pnl: vec![0.0; g * s],
            joint: vec![0.0; s],
            touched_u: vec![false; g],
            net: vec![0.0; u],
            loss: vec![0.0; g],
            worst_u: vec![-1; g],
            bucket: vec![0.0; self.bucket_expiry.len()],
            bucket_seen: vec![false; self.bucket_expiry.len()],
            touched_b: Vec::new(),
            moved: vec![0.0; s],
            dir: vec![0.0; 2 * u],
            short: vec![0.0; 2 * u],
            span: vec![0.0; 4 * u],
            greeks: vec![0.0; 4 * u],
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
        let n_s = self.table.n_scenarios;
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
                let mut som = 0.0;
                let span = matches!(self.aggregation, Aggregation::Span(_));
                for (i, q) in rows {
                    let unit = &prep.units[i];
                    let u = unit.group;
                    equity += q * unit.mtm;
                    if GREEKS {
                        add_greeks(&mut sc.greeks, unit, q);
                    }
                    let row = &prep.risk[i * n_s..(i + 1) * n_s];
                    let acc = &mut sc.pnl[u * n_s..(u + 1) * n_s];
                    // The first row of an underlying overwrites its accumulator, so stale
                    // P&L from the previous account never needs clearing.
                    if sc.touched_u[u] {
                        for (a, r) in acc.iter_mut().zip(row) {
                            *a += q * r;
                        }
                    } else {
                        sc.touched_u[u] = true;
                        for (a, r) in acc.iter_mut().zip(row) {
                            *a = q * r;
                        }
                    }
                    let b = unit.bucket;
                    if !sc.bucket_seen[b] {
                        sc.bucket_seen[b] = true;
                        sc.touched_b.push(b);
                    }
                    sc.bucket[b] += q * unit.greeks[0];
                    if q < 0.0 {
                        som += -q * unit.som;
                        if span {
                            sc.short[unit.short_slot] += -q * unit.som;
                        }
                    }
                }
                for (cr, &b) in prep.collateral.iter().zip(balances) {
                    if let Some(cr) = cr.as_ref().filter(|_| b != 0.0) {
                        let row = if b > 0.0 { &cr.held } else { &cr.borrowed };
                        let g = cr.group;
                        let acc = &mut sc.pnl[g * n_s..(g + 1) * n_s];
                        if !sc.touched_u[g] {
                            sc.touched_u[g] = true;
                            acc.fill(0.0);
                        }
                        for (a, r) in acc.iter_mut().zip(row) {
                            *a += b * r;
                        }
                    }
                }
                let (wcl, worst) = self.worst_case_loss::<GREEKS>(sc);
                let (wcl, roll, som) = if let Aggregation::Span(rules) = &self.aggregation {
                    let (calendar, work) = sc.span.split_at_mut(2 * self.n_underlyings());
                    calendar.fill(0.0);
                    for &b in &sc.touched_b {
                        add_calendar(calendar, self.bucket_underlying[b], sc.bucket[b]);
                        sc.bucket[b] = 0.0;
                        sc.bucket_seen[b] = false;
                    }
                    sc.touched_b.clear();
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
                    for &b in &sc.touched_b {
                        roll += self.roll(b, sc.bucket[b]);
                        sc.bucket[b] = 0.0;
                        sc.bucket_seen[b] = false;
                    }
                    sc.touched_b.clear();
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
        self.bucket_rate[b] * delta.abs()
    }

    /// (IM, MM) from `base = WCL + roll + short-option minimum` (§6.5).
    #[inline(always)]
    fn portfolio_requirement(&self, base: f64) -> (f64, f64) {
        (self.params.im_factor * base, self.params.mm_factor * base)
    }

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
                let row = &prep.risk[i * n_s..(i + 1) * n_s];
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
                    *l = self.group_loss::<false>(g, pnl).0;
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
            let row = &prep.risk[i * n_s..(i + 1) * n_s];
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
                        worst_loss::<false>(joint).0
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
                                self.group_loss::<false>(g, pnl(g)).0
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

    /// `max(0, max_s -(pnl[s] + d[s]))` of portfolio `g` with its dampener `d` (§6.3), and
    /// (when `INDEX`) the first scenario attaining it.
    #[inline(always)]
    fn group_loss<const INDEX: bool>(&self, g: usize, pnl: &[f64]) -> (f64, i64) {
        if !self.damped {
            return worst_loss::<INDEX>(pnl);
        }
        let n_s = self.table.n_scenarios;
        worst_damped_loss::<INDEX>(pnl, &self.damp[g * n_s..(g + 1) * n_s])
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
        let n_s = self.table.n_scenarios;
        let u = g % self.n_underlyings();
        let (c, cap) = (self.table.gain_offset[u], self.table.gain_cap[u]);
        let damp = &self.damp[g * n_s..(g + 1) * n_s];
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
        let damp = self.damped.then(|| &self.damp[g * n_s..(g + 1) * n_s]);
        directional_losses(pnl, damp, &self.table.moves, self.n_underlyings(), g)
    }

    /// WCL and (when `INDEX`) worst scenario from the scratch's per-underlying P&L (§6.3);
    /// resets the P&L.
    #[inline(always)]
    fn worst_case_loss<const INDEX: bool>(&self, sc: &mut Scratch) -> (f64, i64) {
        let n_u = self.n_groups;
        let n_s = self.table.n_scenarios;
        // Per-portfolio worst loss and its first scenario.
        for u in 0..n_u {
            (sc.loss[u], sc.worst_u[u]) = if sc.touched_u[u] {
                self.group_loss::<INDEX>(u, &sc.pnl[u * n_s..(u + 1) * n_s])
            } else {
                (0.0, -1)
            };
        }
        let result = match &self.aggregation {
            Aggregation::Joint => {
                sc.joint.fill(0.0);
                for u in 0..n_u {
                    if sc.touched_u[u] {
                        self.add_joint(u, &mut sc.joint, &sc.pnl[u * n_s..(u + 1) * n_s]);
                    }
                }
                worst_loss::<INDEX>(&sc.joint)
            }
            _ => {
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
                            self.directional(u, &sc.pnl[u * n_s..(u + 1) * n_s])
                        } else {
                            (0.0, 0.0)
                        };
                    }
                    signed_correlation(&sc.dir, rho)
                } else {
                    sc.loss.iter().sum()
                };
                let worst = top_u.map_or(-1, |u| sc.worst_u[u]);
                (wcl, if wcl > 0.0 { worst } else { -1 })
            }
        };
        // `loss` keeps every portfolio's worst loss (overwritten for each account): the
        // SPAN aggregation reads it next.
        sc.touched_u.fill(false);
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
        self.validate_book(px, coll, book)?;
        let prep = self.prepare_market(px, coll, model == Model::Portfolio, curves);
        let n_a = book.n_accounts();
        let n_u = self.n_underlyings();
        let mut fields = zeroed_rows(N_FIELDS, n_a);
        let mut worst = vec![-1i64; n_a];
        let mut greeks = zeroed_rows(4, n_a * n_u);
        let blocks = chunk_groups(fields.iter_mut().map(Vec::as_mut_slice), CHUNK);
        let greek_blocks = chunk_groups(greeks.iter_mut().map(Vec::as_mut_slice), CHUNK * n_u);
        let tasks: Vec<_> = blocks
            .into_iter()
            .zip(greek_blocks)
            .zip(worst.chunks_mut(CHUNK))
            .enumerate()
            .collect();
        tasks.into_par_iter().for_each_init(
            || self.scratch(),
            |sc, (c, ((mut cols, mut gcols), worst_part))| {
                let chunk = Chunk {
                    start: c * CHUNK,
                    fields: &mut cols,
                    greeks: &mut gcols,
                    worst: worst_part,
                };
                fill_chunk(isa, self, &prep, coll, book, model, sc, chunk);
            },
        );
        Ok(Output {
            fields,
            worst,
            greeks,
        })
    }
}

/// One parallel task's slice of the whole-book outputs.
struct Chunk<'a, 'b> {
    /// Index of the first account.
    start: usize,
    fields: &'a mut [&'b mut [f64]],
    greeks: &'a mut [&'b mut [f64]],
    worst: &'b mut [i64],
}

multiversion! {
    /// Margins the accounts of one chunk into its outputs. Compiled per instruction set:
    /// the scenario P&L accumulation is where a portfolio pass spends its time.
    fn fill_chunk(
        engine: &Engine,
        prep: &Prepared,
        coll: &Collateral<'_>,
        book: &Book<'_>,
        model: Model,
        sc: &mut Scratch,
        out: Chunk<'_, '_>,
    ) {
        let n_u = engine.n_underlyings();
        for k in 0..out.worst.len() {
            let a = out.start + k;
            let rows = book.rows(a);
            let bal = &book.balances[a * book.n_assets..(a + 1) * book.n_assets];
            let r = engine.evaluate::<true>(
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
            for (col, x) in out.fields.iter_mut().zip(fields) {
                col[k] = x;
            }
            out.worst[k] = r.worst_scenario;
            for (g, gcol) in out.greeks.iter_mut().enumerate() {
                for (u, x) in gcol[k * n_u..(k + 1) * n_u].iter_mut().enumerate() {
                    *x = sc.greeks[4 * u + g];
                }
            }
        }
    }
}

/// `max(0, max_s -pnl[s])` and, when `INDEX`, the first scenario attaining it (-1 when no
/// scenario loses, or not asked). A running arg-max is a serial dependency chain; lane-wise
/// minima vectorise, and the one scan for the index that follows usually stops early.
#[inline(always)]
fn worst_loss<const INDEX: bool>(pnl: &[f64]) -> (f64, i64) {
    let mut lanes = [0.0f64; 8];
    let chunks = pnl.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &p) in lanes.iter_mut().zip(c) {
            *l = if p < *l { p } else { *l };
        }
    }
    let low = lanes
        .iter()
        .chain(rest)
        .fold(0.0, |m, &p| if p < m { p } else { m });
    if low < 0.0 {
        let worst = if INDEX {
            pnl.iter().position(|&p| p == low).map_or(-1, |s| s as i64)
        } else {
            -1
        };
        (-low, worst)
    } else {
        (0.0, -1)
    }
}

/// [`worst_loss`] of `pnl + damp` (both of one length), vectorised the same way.
#[inline(always)]
fn worst_damped_loss<const INDEX: bool>(pnl: &[f64], damp: &[f64]) -> (f64, i64) {
    let mut lanes = [0.0f64; 8];
    let (chunks, dchunks) = (pnl.chunks_exact(8), damp.chunks_exact(8));
    let (rest, drest) = (chunks.remainder(), dchunks.remainder());
    for (c, d) in chunks.zip(dchunks) {
        for ((l, &p), &x) in lanes.iter_mut().zip(c).zip(d) {
            let v = p + x;
            *l = if v < *l { v } else { *l };
        }
    }
    let low = lanes
        .iter()
        .copied()
        .chain(rest.iter().zip(drest).map(|(&p, &x)| p + x))
        .fold(0.0, |m, v| if v < m { v } else { m });
    if low < 0.0 {
        let worst = if INDEX {
            pnl.iter()
                .zip(damp)
                .position(|(&p, &x)| p + x == low)
                .map_or(-1, |s| s as i64)
        } else {
            -1
        };
        (-low, worst)
    } else {
        (0.0, -1)
    }
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
