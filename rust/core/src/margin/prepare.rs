//! What every account shares for one market state: per-instrument values, risk arrays and
//! per-contract requirements, computed once per call (docs/margin-model.md §2, §4, §6.2).

use crate::error::{Result, same_len};
use crate::model::{Collateral, Kind, Prices};
use crate::risk::{SettlementMode, risk_arrays, risk_arrays_padded};
use crate::surface::Curves;
use crate::values::{Values, instrument_values};

use super::Engine;

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
    /// `I x W` risk arrays, each row padded with zeros from `S` to the engine's vector-width
    /// multiple `W`; empty unless the portfolio model was prepared.
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
    /// `W` entries (`S` and zero padding) for a held balance (haircut value) and a borrowed
    /// one (grossed up).
    pub held: Vec<f64>,
    pub borrowed: Vec<f64>,
}

impl Engine {
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

    /// Weighted P&L per contract, `I x S` row-major (§6.2), each instrument revalued from
    /// its forward in `px` (its underlying's spot when `px` gives no forwards).
    pub fn risk_arrays(&self, px: &Prices<'_>, curves: Option<&Curves>) -> Vec<f64> {
        let ins = &self.instruments;
        let forward: Vec<f64> = (0..ins.len()).map(|i| px.forward_of(ins, i)).collect();
        risk_arrays(ins, px, &self.table, &forward, self.settlement, curves)
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
            risk_arrays_padded(
                ins,
                px,
                &self.table,
                &values.forward,
                self.settlement,
                curves,
                self.width,
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
            // Padded like the risk rows, with zeros.
            let rows = |u: usize, factor: f64| -> Vec<f64> {
                (0..self.width)
                    .map(|s| {
                        if s < n_s {
                            let (m, _, w) = self.table.cell(s, u);
                            w * m * factor
                        } else {
                            0.0
                        }
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
}
