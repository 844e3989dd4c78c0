//! Risk arrays: weighted P&L per contract per scenario (docs/margin-model.md §6.2).

use rayon::prelude::*;

use crate::error::{ErrorKind, InputError, Result};
use crate::isa::Isa;
use crate::model::{Instruments, Kind, Prices, Settlement};
use crate::pricing::black76_prices;
use crate::scenarios::ScenarioTable;
use crate::surface::Curves;
use crate::values::{settlement_value, settlement_value_at};

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
    risk_arrays_padded(ins, px, table, forward, mode, curves, table.n_scenarios)
}

/// [`risk_arrays`] with each instrument's row padded with zeros to `width >= S` entries,
/// so that a margin pass accumulates whole vectors with no remainder loop.
pub fn risk_arrays_padded(
    ins: &Instruments,
    px: &Prices<'_>,
    table: &ScenarioTable,
    forward: &[f64],
    mode: SettlementMode,
    curves: Option<&Curves>,
    width: usize,
) -> Vec<f64> {
    let n_s = table.n_scenarios;
    assert!(width >= n_s, "risk rows narrower than the scenario table");
    let mut out = vec![0.0; ins.len() * width];
    let isa = Isa::best();
    out.par_chunks_mut(width.max(1)).enumerate().for_each_init(
        || (vec![0.0; n_s], vec![0.0; n_s]),
        |(fwd, vols), (i, row)| {
            let row = &mut row[..n_s];
            risk_row(
                isa, ins, px, table, forward, mode, curves, i, row, fwd, vols,
            );
        },
    );
    out
}

/// Instrument `i`'s row of the risk arrays. Options are priced in one vectorised pass over
/// the scenarios (their moved forwards and shocked vols gathered first into `fwd` and
/// `vols`); each cell's P&L is the same arithmetic as pricing it alone.
#[allow(clippy::too_many_arguments)]
fn risk_row(
    isa: Isa,
    ins: &Instruments,
    px: &Prices<'_>,
    table: &ScenarioTable,
    forward: &[f64],
    mode: SettlementMode,
    curves: Option<&Curves>,
    i: usize,
    row: &mut [f64],
    fwd: &mut [f64],
    vols: &mut [f64],
) {
    let n_u = table.n_underlyings;
    let u = ins.underlying[i];
    let spot = px.spot[u];
    let f = forward[i];
    let vol = px.vol[i];
    let rate = curves.map_or(px.rate, |c| c.rate(i, px.rate));
    let base = settlement_value(ins, i, f, vol, rate);
    let opt = ins.kind[i].is_option();
    let inverse = ins.settlement[i] == Settlement::Inverse;
    let later = ins.expiry[i] - table.look_ahead;
    let surface = curves.and_then(|sm| sm.of(u)).filter(|_| opt);
    let term = if opt {
        table.vol_term(u, ins.expiry[i])
    } else {
        0.0
    };
    for (s, (fs, vs)) in fwd.iter_mut().zip(vols.iter_mut()).enumerate() {
        let (m, v, _) = table.cell(s, u);
        *fs = f * (1.0 + m);
        // The surface covers the option's expiry: `surface_vols` checked it.
        let smile_vol = surface
            .and_then(|sf| sf.vol(ins.expiry[i], (ins.strike[i] / *fs).ln()))
            .unwrap_or(vol);
        *vs = if opt {
            table.shocked_vol_by(u, smile_vol, v, term)
        } else {
            vol
        };
    }
    // The moved value of one contract per scenario (`settlement_value_at`), into `row`.
    if opt && later > 0.0 {
        let call = ins.kind[i] == Kind::Call;
        black76_prices(isa, call, fwd, ins.strike[i], later, vols, rate, row);
        let cs = ins.contract_size[i];
        for (cell, &fs) in row.iter_mut().zip(fwd.iter()) {
            *cell = if inverse { cs * *cell / fs } else { cs * *cell };
        }
    } else {
        for ((cell, &fs), &vs) in row.iter_mut().zip(fwd.iter()).zip(vols.iter()) {
            *cell = settlement_value_at(ins, i, fs, vs, rate, later);
        }
    }
    for (s, cell) in row.iter_mut().enumerate() {
        let (m, _, w) = table.cell(s, u);
        let moved = *cell;
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
}
