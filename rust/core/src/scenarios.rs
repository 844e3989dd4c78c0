//! Scenario tables and the vol-shock rule (docs/margin-model.md §6.1).

use crate::error::{ErrorKind, InputError, Result, finite, same_len};

/// Floor on the down-shocked vol multiplier, so a shocked vol stays positive.
pub const MIN_DOWN_FACTOR: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct ScenarioTable {
    /// `S x U`, row-major.
    pub moves: Vec<f64>,
    pub vol_shocks: Vec<f64>,
    pub weights: Vec<f64>,
    pub n_scenarios: usize,
    pub n_underlyings: usize,
    pub vol_up: f64,
    pub vol_down: f64,
    pub power_short: f64,
    pub power_long: f64,
    pub min_vol_up: f64,
    /// Vol shocks in vol points (`s + v vol_up mult`) instead of relative (`s (1 + ..)`).
    pub absolute_vol: bool,
    /// Years of time decay in the scenarios: options are revalued at `T - look_ahead`.
    pub look_ahead: f64,
}

impl ScenarioTable {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        moves: &[f64],
        vol_shocks: &[f64],
        weights: &[f64],
        n_scenarios: usize,
        n_underlyings: usize,
        vol_up: f64,
        vol_down: f64,
        power_short: f64,
        power_long: f64,
        min_vol_up: f64,
    ) -> Result<Self> {
        let cells = n_scenarios * n_underlyings;
        if n_scenarios == 0 || n_underlyings == 0 {
            return Err(InputError::whole(
                ErrorKind::Shape,
                "moves",
                "needs at least one scenario and one underlying",
            ));
        }
        same_len("moves", moves.len(), cells, "scenarios x underlyings")?;
        same_len(
            "vol_shocks",
            vol_shocks.len(),
            cells,
            "scenarios x underlyings",
        )?;
        same_len("weights", weights.len(), cells, "scenarios x underlyings")?;
        finite("moves", moves)?;
        finite("vol_shocks", vol_shocks)?;
        finite("weights", weights)?;
        let bad = |field: &str, vals: &[f64], ok: &dyn Fn(f64) -> bool, rule: &str| -> Result<()> {
            match vals.iter().position(|&v| !ok(v)) {
                Some(i) => Err(InputError::at(
                    ErrorKind::Parameter,
                    field,
                    i,
                    format!("entries must be {rule}"),
                )),
                None => Ok(()),
            }
        };
        bad("moves", moves, &|m| m > -1.0, "> -1")?;
        bad(
            "vol_shocks",
            vol_shocks,
            &|v| (-1.0..=1.0).contains(&v),
            "in [-1, 1]",
        )?;
        bad("weights", weights, &|w| w >= 0.0, ">= 0")?;
        for (field, v) in [
            ("vol_up", vol_up),
            ("vol_down", vol_down),
            ("power_short", power_short),
            ("power_long", power_long),
            ("min_vol_up", min_vol_up),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(InputError::whole(
                    ErrorKind::Parameter,
                    field,
                    format!("must be finite and >= 0 (got {v})"),
                ));
            }
        }
        Ok(Self {
            moves: moves.to_vec(),
            vol_shocks: vol_shocks.to_vec(),
            weights: weights.to_vec(),
            n_scenarios,
            n_underlyings,
            vol_up,
            vol_down,
            power_short,
            power_long,
            min_vol_up,
            absolute_vol: false,
            look_ahead: 0.0,
        })
    }

    /// The same table with vol shocks in vol points when `absolute_vol` and options
    /// revalued `look_ahead` years later (SPAN's one-day look-ahead, §6.1).
    pub fn with_time_and_vol(mut self, look_ahead: f64, absolute_vol: bool) -> Result<Self> {
        if !look_ahead.is_finite() || look_ahead < 0.0 {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "look_ahead",
                format!("must be finite and >= 0 (got {look_ahead})"),
            ));
        }
        (self.look_ahead, self.absolute_vol) = (look_ahead, absolute_vol);
        Ok(self)
    }

    pub fn cell(&self, s: usize, u: usize) -> (f64, f64, f64) {
        let k = s * self.n_underlyings + u;
        (self.moves[k], self.vol_shocks[k], self.weights[k])
    }

    /// Shocked vol for shock level `v` on an option expiring in `t` years.
    pub fn shocked_vol(&self, vol: f64, v: f64, t: f64) -> f64 {
        if v == 0.0 {
            return vol;
        }
        let dte = (365.0 * t).max(1.0);
        let p = if dte < 30.0 {
            self.power_short
        } else {
            self.power_long
        };
        let mult = (30.0 / dte).powf(p);
        if self.absolute_vol {
            return if v > 0.0 {
                (vol + v * self.vol_up * mult).max(self.min_vol_up)
            } else {
                (vol + v * self.vol_down * mult).max(MIN_DOWN_FACTOR * vol)
            };
        }
        if v > 0.0 {
            (vol * (1.0 + v * self.vol_up * mult)).max(self.min_vol_up)
        } else {
            vol * (1.0 + v * self.vol_down * mult).max(MIN_DOWN_FACTOR)
        }
    }
}
