//! Per-contract values and Greeks at today's market (docs/margin-model.md §2.2-2.3).

use crate::model::{Instruments, Kind, Prices, Settlement};
use crate::pricing::{Greeks, black76};

/// Black-76 of an option instrument, or zero Greeks with `price = 0` for delta-one kinds.
fn option_greeks(ins: &Instruments, i: usize, f: f64, vol: f64, rate: f64) -> Greeks {
    match ins.kind[i] {
        Kind::Call | Kind::Put => black76(
            ins.kind[i] == Kind::Call,
            f,
            ins.strike[i],
            ins.expiry[i],
            vol,
            rate,
        ),
        _ => Greeks {
            price: 0.0,
            delta: 0.0,
            gamma: 0.0,
            vega: 0.0,
            theta: 0.0,
        },
    }
}

/// Value of one contract in its settlement currency (§2.2): USD `L(f, vol)` for linear
/// instruments, coins `V(f, vol) = G / f` for inverse ones.
pub fn settlement_value(ins: &Instruments, i: usize, f: f64, vol: f64, rate: f64) -> f64 {
    let cs = ins.contract_size[i];
    let opt = ins.kind[i].is_option();
    match ins.settlement[i] {
        Settlement::Linear if opt => cs * option_greeks(ins, i, f, vol, rate).price,
        Settlement::Linear => cs * f,
        Settlement::Inverse if opt => cs * option_greeks(ins, i, f, vol, rate).price / f,
        Settlement::Inverse => -cs / f,
    }
}

/// Everything the margin models need per instrument, computed once per market state.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub mark_price: Vec<f64>,
    pub mtm: Vec<f64>,
    pub delta: Vec<f64>,
    pub gamma: Vec<f64>,
    pub vega: Vec<f64>,
    pub theta: Vec<f64>,
    /// The forward each instrument is valued on.
    pub forward: Vec<f64>,
    /// Standard-model notional per contract `N_i` (§4).
    pub notional: Vec<f64>,
}

/// `rates`: a zero rate per instrument (a rate curve, §1.5) instead of `px.rate`.
pub fn instrument_values(ins: &Instruments, px: &Prices<'_>, rates: Option<&[f64]>) -> Values {
    let n = ins.len();
    let mut v = Values::default();
    for i in 0..n {
        let s = px.spot[ins.underlying[i]];
        let f = px.forward_of(ins, i);
        let cs = ins.contract_size[i];
        let kind = ins.kind[i];
        let rate = rates.map_or(px.rate, |r| r[i]);
        let g = option_greeks(ins, i, f, px.vol[i], rate);
        let inverse = ins.settlement[i] == Settlement::Inverse;
        let (mark, mtm, delta, gamma, vega, theta) = match (kind.is_option(), inverse) {
            (true, false) => (
                g.price,
                cs * g.price,
                cs * f * g.delta,
                cs * f * f * g.gamma,
                cs * g.vega,
                cs * g.theta,
            ),
            (true, true) => {
                let k = s * cs;
                (
                    g.price / f,
                    k * g.price / f,
                    k * (g.delta - g.price / f),
                    k * (f * g.gamma - 2.0 * g.delta + 2.0 * g.price / f),
                    k * g.vega / f,
                    k * g.theta / f,
                )
            }
            (false, false) => {
                let mtm = if kind == Kind::Spot { cs * s } else { 0.0 };
                (f, mtm, cs * f, 0.0, 0.0, 0.0)
            }
            (false, true) => (f, 0.0, s * cs / f, -2.0 * s * cs / f, 0.0, 0.0),
        };
        let notional = if inverse && !kind.is_option() {
            cs
        } else {
            cs * f
        };
        v.mark_price.push(mark);
        v.mtm.push(mtm);
        v.delta.push(delta);
        v.gamma.push(gamma);
        v.vega.push(vega);
        v.theta.push(theta);
        v.forward.push(f);
        v.notional.push(notional);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe() -> Instruments {
        Instruments::new(
            &[1, 1, 3, 4, 2],
            &[0, 0, 0, 0, 0],
            &[0.0, 0.0, 55_000.0, 65_000.0, 0.0],
            &[0.0, 0.0, 0.25, 0.5, 0.3],
            &[0.001, 10.0, 1.0, 1.0, 10.0],
            &[0, 1, 1, 0, 1],
            1,
        )
        .unwrap()
    }

    #[test]
    fn inverse_perp_pnl_matches_coin_formula() {
        let ins = universe();
        let s = 60_000.0;
        for m in [-0.5, -0.1, 0.2, 1.0] {
            let pnl = settlement_value(&ins, 1, s * (1.0 + m), 0.0, 0.0)
                - settlement_value(&ins, 1, s, 0.0, 0.0);
            let expect = 10.0 / s * (1.0 - 1.0 / (1.0 + m));
            assert!((pnl - expect).abs() < 1e-15, "{m}: {pnl} vs {expect}");
        }
    }

    #[test]
    fn usd_deltas_and_gammas_match_finite_differences_of_w() {
        let ins = universe();
        let spot = [60_000.0];
        let vol = [0.0, 0.0, 0.6, 0.7, 0.0];
        let fwd = [60_000.0, 60_000.0, 61_000.0, 62_000.0, 61_500.0];
        let px = Prices {
            spot: &spot,
            vol: &vol,
            forward: Some(&fwd),
            rate: 0.03,
        };
        let v = instrument_values(&ins, &px, None);
        for (i, &vol_i) in vol.iter().enumerate() {
            let f = v.forward[i];
            let inverse = ins.settlement[i] == Settlement::Inverse;
            let w = |x: f64| {
                let v = settlement_value(&ins, i, x, vol_i, 0.03);
                if inverse { spot[0] * v } else { v }
            };
            let h = f * 1e-4;
            let d = f * (w(f + h) - w(f - h)) / (2.0 * h);
            let g = f * f * (w(f + h) - 2.0 * w(f) + w(f - h)) / (h * h);
            assert!(
                (d - v.delta[i]).abs() <= 1e-6 * (1.0 + d.abs()),
                "delta {i}: {d} {}",
                v.delta[i]
            );
            assert!(
                (g - v.gamma[i]).abs() <= 1e-3 * (1.0 + g.abs()),
                "gamma {i}: {g} {}",
                v.gamma[i]
            );
            if ins.kind[i].is_option() {
                assert!((w(f) - v.mtm[i]).abs() < 1e-9 * (1.0 + w(f).abs()));
            }
        }
    }
}
