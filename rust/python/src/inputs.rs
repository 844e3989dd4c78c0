//! The engine's inputs as they cross from Python: each structure is read by attribute
//! name from the zkmargin object that defines it (`Instruments`, `ScenarioTable`,
//! `MarginParams`, `Market`, `Accounts`, `VolSurface`, `SpanRules.native()`), then
//! borrowed as the core's types. Python has validated and normalised them (dtypes,
//! broadcasting, defaults); the core validates the numbers again.

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use zkmargin_core::margin::{Aggregation, Options, Params};
use zkmargin_core::model::{Book, Collateral, Instruments, Prices};
use zkmargin_core::netting::SpanRules;
use zkmargin_core::risk::SettlementMode;
use zkmargin_core::scenarios::{RollRule, ScenarioTable, VolRule};
use zkmargin_core::surface::{Curves, Surface};

use crate::args::from_attributes;
use crate::arrays::{slice1, slice2};
use crate::errors::{Error, Result};

pub type F1<'py> = PyReadonlyArray1<'py, f64>;
pub type F2<'py> = PyReadonlyArray2<'py, f64>;
pub type I1<'py> = PyReadonlyArray1<'py, i64>;
pub type I2<'py> = PyReadonlyArray2<'py, i64>;

from_attributes! {
    /// `zkmargin.Instruments`.
    pub struct InstrumentsIn<'py> {
        kind: I1<'py>,
        underlying: I1<'py>,
        strike: F1<'py>,
        expiry: F1<'py>,
        contract_size: F1<'py>,
        settlement: I1<'py>,
    }
}

impl InstrumentsIn<'_> {
    pub fn build(&self, n_underlyings: usize) -> Result<Instruments> {
        Ok(Instruments::new(
            slice1("kind", &self.kind)?,
            slice1("underlying", &self.underlying)?,
            slice1("strike", &self.strike)?,
            slice1("expiry", &self.expiry)?,
            slice1("contract_size", &self.contract_size)?,
            slice1("settlement", &self.settlement)?,
            n_underlyings,
        )?)
    }
}

from_attributes! {
    /// `zkmargin.ScenarioTable` (every field present: Python fills in the defaults).
    pub struct ScenariosIn<'py> {
        moves: F2<'py>,
        vol_shocks: F2<'py>,
        weights: F2<'py>,
        vol_up: F1<'py>,
        vol_down: F1<'py>,
        power_short: F1<'py>,
        power_long: F1<'py>,
        min_vol_up: F1<'py>,
        edge: F2<'py>,
        dampener: F2<'py>,
        annual_move_risk: Option<F1<'py>>,
        min_annual_move: Option<F1<'py>>,
        pnl_offset: F1<'py>,
        max_offsetable_pnl: F1<'py>,
        vol_shift: String,
        look_ahead: f64,
    }
}

/// `u`-th entry of each of the named per-underlying columns, checked to have `n_u` entries.
fn per_underlying<'a, const N: usize>(
    cols: [(&str, &'a F1<'_>); N],
    n_u: usize,
) -> Result<[&'a [f64]; N]> {
    let mut out = [&[][..]; N];
    for (slot, (name, a)) in out.iter_mut().zip(cols) {
        let col = slice1(name, a)?;
        if col.len() != n_u {
            return Err(Error::shape(
                name,
                format!("has {} entries for {n_u} underlyings", col.len()),
            ));
        }
        *slot = col;
    }
    Ok(out)
}

impl ScenariosIn<'_> {
    pub fn build(&self) -> Result<ScenarioTable> {
        let (m, n_s, n_u) = slice2("moves", &self.moves)?;
        let (v, vs, vu) = slice2("vol_shocks", &self.vol_shocks)?;
        let (w, ws, wu) = slice2("weights", &self.weights)?;
        if (vs, vu) != (n_s, n_u) || (ws, wu) != (n_s, n_u) {
            return Err(Error::shape(
                "vol_shocks",
                "moves, vol_shocks and weights must have one shape",
            ));
        }
        let [up, down, short, long, min_up] = per_underlying(
            [
                ("vol_up", &self.vol_up),
                ("vol_down", &self.vol_down),
                ("power_short", &self.power_short),
                ("power_long", &self.power_long),
                ("min_vol_up", &self.min_vol_up),
            ],
            n_u,
        )?;
        let rules: Vec<VolRule> = (0..n_u)
            .map(|u| VolRule {
                vol_up: up[u],
                vol_down: down[u],
                power_short: short[u],
                power_long: long[u],
                min_vol_up: min_up[u],
            })
            .collect();
        let absolute = match self.vol_shift.as_str() {
            "relative" => false,
            "absolute" => true,
            other => {
                return Err(Error::parameter(
                    "vol_shift",
                    format!("must be 'relative' or 'absolute', got {other:?}"),
                ));
            }
        };
        let (edge, dampener) = (
            slice2("edge", &self.edge)?.0,
            slice2("dampener", &self.dampener)?.0,
        );
        let mut table = ScenarioTable::new(m, v, w, n_s, n_u, 0.0, 0.0, 0.0, 0.0, 0.0)
            .and_then(|t| t.with_vol_rules(&rules))
            .and_then(|t| t.with_time_and_vol(self.look_ahead, absolute))
            .and_then(|t| t.with_extended(edge, dampener))?;
        match (&self.annual_move_risk, &self.min_annual_move) {
            (Some(a), Some(b)) => {
                let [a, b] =
                    per_underlying([("annual_move_risk", a), ("min_annual_move", b)], n_u)?;
                let roll: Vec<RollRule> = a
                    .iter()
                    .zip(b)
                    .map(|(&annual_move_risk, &min_annual_move)| RollRule {
                        annual_move_risk,
                        min_annual_move,
                    })
                    .collect();
                table = table.with_roll_rules(&roll)?;
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::parameter(
                    "annual_move_risk",
                    "per-underlying roll parameters need both annual_move_risk and min_annual_move",
                ));
            }
        }
        let offset = slice1("pnl_offset", &self.pnl_offset)?;
        let cap = slice1("max_offsetable_pnl", &self.max_offsetable_pnl)?;
        Ok(table.with_gain_offsets(offset, cap)?)
    }
}

from_attributes! {
    /// `zkmargin.MarginParams`: every field, no defaults on this side.
    pub struct ParamsIn(Params) {
        linear_im,
        linear_mm,
        option_im_base,
        option_im_floor,
        option_mm,
        im_factor,
        mm_factor,
        annual_move_risk,
        min_annual_move,
        short_option_min,
    }
}

from_attributes! {
    /// `zkmargin.span.NativeSpan`: (intra_rate (U,), legs (K, 2), ratios (K, 2), rates (K,)).
    pub struct SpanIn<'py> {
        intra_rate: F1<'py>,
        legs: I2<'py>,
        ratios: F2<'py>,
        rates: F1<'py>,
    }
}

from_attributes! {
    /// `zkmargin.engine.EngineRules`: how accounts aggregate and settle.
    pub struct RulesIn<'py> {
        aggregation: String,
        correlation: Option<F2<'py>>,
        span: Option<SpanIn<'py>>,
        settlement_mode: String,
        asset_underlying: Option<I1<'py>>,
    }
}

impl RulesIn<'_> {
    pub fn aggregation(&self, n_u: usize) -> Result<Aggregation> {
        let rho = self
            .correlation
            .as_ref()
            .map(|c| slice2("correlation", c))
            .transpose()?;
        if let Some((_, r, c)) = rho {
            if r != n_u || c != n_u {
                return Err(Error::shape(
                    "correlation",
                    format!("must be {n_u} x {n_u}, got {r} x {c}"),
                ));
            }
        }
        match (
            Aggregation::parse(&self.aggregation, rho.map(|r| r.0), n_u)?,
            &self.span,
        ) {
            (Aggregation::Span(_), Some(s)) => Ok(Aggregation::Span(SpanRules::new(
                slice1("span_intra_rate", &s.intra_rate)?,
                slice2("span_legs", &s.legs)?.0,
                slice2("span_ratios", &s.ratios)?.0,
                slice1("span_rates", &s.rates)?,
                n_u,
            )?)),
            (_, Some(_)) => Err(Error::parameter(
                "span",
                "SPAN rules are only used with aggregation 'span'",
            )),
            (agg, None) => Ok(agg),
        }
    }

    pub fn options(&self) -> Result<Options> {
        Ok(Options {
            settlement: SettlementMode::parse(&self.settlement_mode)?,
            asset_underlying: match &self.asset_underlying {
                Some(a) => slice1("asset_underlying", a)?.to_vec(),
                None => Vec::new(),
            },
        })
    }
}

from_attributes! {
    /// `zkmargin.VolSurface`: `vol` is `expiries x nodes`.
    pub struct SurfaceIn<'py> {
        expiry: F1<'py>,
        log_moneyness: F1<'py>,
        vol: F2<'py>,
    }
}

from_attributes! {
    /// `zkmargin.Market`.
    pub struct MarketIn<'py> {
        spot: F1<'py>,
        vol: F1<'py>,
        forward: Option<F1<'py>>,
        rate: f64,
        asset_price: F1<'py>,
        haircut: F1<'py>,
        surfaces: Option<Vec<Option<SurfaceIn<'py>>>>,
    }
}

/// Per-instrument zero rates, a rate curve evaluated in Python at each expiry (§1.5).
pub type RatesIn<'py> = Option<F1<'py>>;

impl MarketIn<'_> {
    pub fn prices(&self) -> Result<Prices<'_>> {
        Ok(Prices {
            spot: slice1("spot", &self.spot)?,
            vol: slice1("vol", &self.vol)?,
            forward: self
                .forward
                .as_ref()
                .map(|f| slice1("forward", f))
                .transpose()?,
            rate: self.rate,
        })
    }

    pub fn collateral(&self) -> Result<Collateral<'_>> {
        Ok(Collateral {
            price: slice1("asset_price", &self.asset_price)?,
            haircut: slice1("haircut", &self.haircut)?,
        })
    }

    /// The market's vol surfaces and the per-instrument `rates` (either may be absent) as
    /// core curves.
    pub fn curves(&self, rates: &RatesIn<'_>) -> Result<Option<Curves>> {
        let rates = rates
            .as_ref()
            .map(|r| slice1("rates", r).map(<[f64]>::to_vec))
            .transpose()?;
        let Some(list) = &self.surfaces else {
            return Ok(rates.map(|rates| Curves {
                surfaces: Vec::new(),
                rates: Some(rates),
            }));
        };
        let surfaces = list
            .iter()
            .enumerate()
            .map(|(u, s)| s.as_ref().map(|s| surface(u, s)).transpose())
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Curves { surfaces, rates }))
    }
}

fn surface(u: usize, s: &SurfaceIn<'_>) -> Result<Surface> {
    let field = format!("surfaces[{u}]");
    let (v, rows, cols) = slice2(&format!("{field}.vol"), &s.vol)?;
    let (t, k) = (
        slice1(&format!("{field}.expiry"), &s.expiry)?,
        slice1(&format!("{field}.log_moneyness"), &s.log_moneyness)?,
    );
    if rows != t.len() || cols != k.len() {
        let name = format!("{field}.vol");
        let msg = format!("is {rows} x {cols}, expected {} x {}", t.len(), k.len());
        return Err(Error::shape(&name, msg));
    }
    Ok(Surface::new(&field, t, k, v)?)
}

from_attributes! {
    /// `zkmargin.Accounts`: positions in CSR form and balances `A x J`.
    pub struct BookIn<'py> {
        offsets: I1<'py>,
        instrument: I1<'py>,
        quantity: F1<'py>,
        balances: F2<'py>,
    }
}

impl BookIn<'_> {
    pub fn view(&self) -> Result<Book<'_>> {
        let (balances, rows, cols) = slice2("balances", &self.balances)?;
        let offsets = slice1("offsets", &self.offsets)?;
        let n_accounts = offsets.len().saturating_sub(1);
        if rows != n_accounts {
            return Err(Error::shape(
                "balances",
                format!("has {rows} rows for {n_accounts} accounts"),
            ));
        }
        Ok(Book {
            offsets,
            instrument: slice1("instrument", &self.instrument)?,
            quantity: slice1("quantity", &self.quantity)?,
            balances,
            n_assets: cols,
        })
    }

    /// The positions alone (what the risk and add-on kernels read).
    pub fn positions(&self) -> Result<Book<'_>> {
        Ok(Book {
            offsets: slice1("offsets", &self.offsets)?,
            instrument: slice1("instrument", &self.instrument)?,
            quantity: slice1("quantity", &self.quantity)?,
            balances: &[],
            n_assets: 0,
        })
    }
}
