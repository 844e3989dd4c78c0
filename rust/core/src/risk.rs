//! Risk arrays: weighted P&L per contract per scenario (docs/margin-model.md §6.2).

use rayon::prelude::*;

use crate::model::{Instruments, Prices};
use crate::scenarios::ScenarioTable;
use crate::surface::Curves;
use crate::values::usd_value;

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
    curves: Option<&Curves>,
) -> Vec<f64> {
    let s_count = table.n_scenarios;
    let mut out = vec![0.0; ins.len() * s_count];
    out.par_chunks_mut(s_count.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let u = ins.underlying[i];
            let spot = px.spot[u];
            let f = forward[i];
            let vol = px.vol[i];
            let rate = curves.map_or(px.rate, |c| c.rate(i, px.rate));
            let base = usd_value(ins, i, f, vol, rate, spot);
            let opt = ins.kind[i].is_option();
            let surface = curves.and_then(|sm| sm.of(u)).filter(|_| opt);
            for (s, cell) in row.iter_mut().enumerate() {
                let (m, v, w) = table.cell(s, u);
                // The surface covers the option's expiry: `surface_vols` checked it.
                let smile_vol = surface
                    .and_then(|sf| sf.vol(ins.expiry[i], (ins.strike[i] / (f * (1.0 + m))).ln()))
                    .unwrap_or(vol);
                let vol_s = if opt {
                    table.shocked_vol(smile_vol, v, ins.expiry[i])
                } else {
                    vol
                };
                *cell = w * (usd_value(ins, i, f * (1.0 + m), vol_s, rate, spot) - base);
            }
        });
    out
}
