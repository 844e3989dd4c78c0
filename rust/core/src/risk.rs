//! Risk arrays: weighted P&L per contract per scenario (docs/margin-model.md §6.2).

use rayon::prelude::*;

use crate::error::{ErrorKind, InputError, Result};
use crate::model::{Instruments, Prices, Settlement};
use crate::scenarios::ScenarioTable;
use crate::surface::Curves;
use crate::values::settlement_value;

/// How coin-settled P&L is margined (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementMode {
    /// Deribit's cross portfolio margin with USD collateral: every instrument of an
    /// underlying in one portfolio, coin P&L valued at the scenario's price.
    Cross,
    /// Deribit's segregated portfolio margin: one portfolio per settlement currency, coin
    /// P&L in coins (reported at today's index).
    Segregated,
}

impl SettlementMode {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cross" => Ok(Self::Cross),
            "segregated" => Ok(Self::Segregated),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "settlement_mode",
                format!("unknown settlement mode {name:?} (cross, segregated)"),
            )),
        }
    }
}

/// `I x S` row-major (instrument-major): each instrument's scenarios are contiguous, so an
/// account's scenario P&L is a sequence of contiguous multiply-adds. With `curves`, an
/// option on an underlying with a surface takes its scenario base vol off the surface at
/// the moved forward (§2.5, §6.2), and a rate curve's per-instrument rates replace
/// `px.rate` (§1.5); `px.vol` holds today's vols either way.
pub fn risk_arrays(
    ins: &Instruments,
    px: &Prices<'_>,
    table: &ScenarioTable,
    forward: &[f64],
    mode: SettlementMode,
    curves: Option<&Curves>,
) -> Vec<f64> {
    let s_count = table.n_scenarios;
    let n_u = table.n_underlyings;
    let mut out = vec![0.0; ins.len() * s_count];
    out.par_chunks_mut(s_count.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let u = ins.underlying[i];
            let spot = px.spot[u];
            let f = forward[i];
            let vol = px.vol[i];
            let rate = curves.map_or(px.rate, |c| c.rate(i, px.rate));
            let base = settlement_value(ins, i, f, vol, rate);
            let opt = ins.kind[i].is_option();
            let inverse = ins.settlement[i] == Settlement::Inverse;
            let surface = curves.and_then(|sm| sm.of(u)).filter(|_| opt);
            for (s, cell) in row.iter_mut().enumerate() {
                let (m, v, w) = table.cell(s, u);
                // The surface covers the option's expiry: `surface_vols` checked it.
                let smile_vol = surface
                    .and_then(|sf| sf.vol(ins.expiry[i], (ins.strike[i] / (f * (1.0 + m))).ln()))
                    .unwrap_or(vol);
                let vol_s = if opt {
                    table.shocked_vol(u, smile_vol, v, ins.expiry[i])
                } else {
                    vol
                };
                let moved = settlement_value(ins, i, f * (1.0 + m), vol_s, rate);
                *cell = match (inverse, mode) {
                    (false, _) => w * (moved - base),
                    // Coins at today's index; an extended row's coin P&L is the fraction
                    // `w` of its USD value at the scenario price, in coins at its edge.
                    (true, SettlementMode::Segregated) => {
                        let e = table.edge[s * n_u + u];
                        w * (1.0 + m) / (1.0 + e) * spot * (moved - base)
                    }
                    // An option's coin value is itself revalued; futures' P&L is settled
                    // in coins worth the scenario price.
                    (true, SettlementMode::Cross) if opt => w * spot * ((1.0 + m) * moved - base),
                    (true, SettlementMode::Cross) => w * spot * (1.0 + m) * (moved - base),
                };
            }
        });
    out
}
