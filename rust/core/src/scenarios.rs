//! Scenario tables and the vol-shock rule (docs/margin-model.md §6.1).

use crate::error::{ErrorKind, InputError, Result, finite, same_len};

/// Floor on the down-shocked vol multiplier, so a shocked vol stays positive.
pub const MIN_DOWN_FACTOR: f64 = 0.05;

/// One underlying's vol-shock parameters (Deribit sets them per currency).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolRule {
    pub vol_up: f64,
    pub vol_down: f64,
    pub power_short: f64,
    pub power_long: f64,
    pub min_vol_up: f64,
}

impl VolRule {
    /// Each field finite and >= 0; errors name the field and `u` (or the whole field).
    fn validate(&self, u: Option<usize>) -> Result<()> {
        for (field, v) in [
            ("vol_up", self.vol_up),
            ("vol_down", self.vol_down),
            ("power_short", self.power_short),
            ("power_long", self.power_long),
            ("min_vol_up", self.min_vol_up),
        ] {
            nonnegative(field, u, v)?;
        }
        Ok(())
    }
}

/// `v` finite and >= 0, else a parameter error on `field` (at underlying `u` when given).
fn nonnegative(field: &str, u: Option<usize>, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        return Ok(());
    }
    let msg = format!("must be finite and >= 0 (got {v})");
    Err(match u {
        Some(u) => InputError::at(ErrorKind::Parameter, field, u, msg),
        None => InputError::whole(ErrorKind::Parameter, field, msg),
    })
}

/// Per-underlying roll-shock parameters that override `Params` (§6.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollRule {
    pub annual_move_risk: f64,
    pub min_annual_move: f64,
}

#[derive(Debug, Clone)]
pub struct ScenarioTable {
    /// `S x U`, row-major.
    pub moves: Vec<f64>,
    pub vol_shocks: Vec<f64>,
    pub weights: Vec<f64>,
    /// The move at which a row's P&L is expressed (`S x U`): the move itself for ordinary
    /// rows, the edge of the standard range `±R` for Deribit's extended rows (§6.2).
    pub edge: Vec<f64>,
    /// USD amount subtracted from each underlying's loss in each row (`S x U`, >= 0):
    /// Deribit's extended dampener (§6.3); zero for ordinary rows.
    pub dampener: Vec<f64>,
    pub n_scenarios: usize,
    pub n_underlyings: usize,
    /// One per underlying.
    pub vol: Vec<VolRule>,
    /// One per underlying, or empty (then `Params` applies to every underlying).
    pub roll: Vec<RollRule>,
    /// Per underlying, Deribit's gain offset (`pnl_offset`, the share of a portfolio's
    /// scenario gain that may offset other portfolios' losses under the joint aggregation)
    /// and its cap (`max_offsetable_pnl`, USD; infinite for none).
    pub gain_offset: Vec<f64>,
    pub gain_cap: Vec<f64>,
    /// Vol shocks in vol points (`s + v vol_up mult`) instead of relative (`s (1 + ..)`).
    pub absolute_vol: bool,
    /// Years of time decay in the scenarios: options are revalued at `T - look_ahead`.
    pub look_ahead: f64,
}

fn check_entries(field: &str, vals: &[f64], ok: impl Fn(f64) -> bool, rule: &str) -> Result<()> {
    match vals.iter().position(|&v| !ok(v)) {
        Some(i) => Err(InputError::at(
            ErrorKind::Parameter,
            field,
            i,
            format!("entries must be {rule}"),
        )),
        None => Ok(()),
    }
}

impl ScenarioTable {
    /// A table with one vol rule for every underlying, `edge = moves` and no dampener.
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
        check_entries("moves", moves, |m| m > -1.0, "> -1")?;
        check_entries(
            "vol_shocks",
            vol_shocks,
            |v| (-1.0..=1.0).contains(&v),
            "in [-1, 1]",
        )?;
        check_entries("weights", weights, |w| w >= 0.0, ">= 0")?;
        let rule = VolRule {
            vol_up,
            vol_down,
            power_short,
            power_long,
            min_vol_up,
        };
        rule.validate(None)?;
        Ok(Self {
            moves: moves.to_vec(),
            vol_shocks: vol_shocks.to_vec(),
            weights: weights.to_vec(),
            edge: moves.to_vec(),
            dampener: vec![0.0; cells],
            n_scenarios,
            n_underlyings,
            vol: vec![rule; n_underlyings],
            roll: Vec::new(),
            gain_offset: vec![1.0; n_underlyings],
            gain_cap: vec![f64::INFINITY; n_underlyings],
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

    /// Replaces the vol rules with one per underlying.
    pub fn with_vol_rules(mut self, rules: &[VolRule]) -> Result<Self> {
        same_len(
            "vol_up",
            rules.len(),
            self.n_underlyings,
            "number of underlyings",
        )?;
        for (u, r) in rules.iter().enumerate() {
            r.validate(Some(u))?;
        }
        self.vol = rules.to_vec();
        Ok(self)
    }

    /// Sets per-underlying roll parameters (each finite and >= 0).
    pub fn with_roll_rules(mut self, rules: &[RollRule]) -> Result<Self> {
        same_len(
            "annual_move_risk",
            rules.len(),
            self.n_underlyings,
            "number of underlyings",
        )?;
        for (u, r) in rules.iter().enumerate() {
            nonnegative("annual_move_risk", Some(u), r.annual_move_risk)?;
            nonnegative("min_annual_move", Some(u), r.min_annual_move)?;
        }
        self.roll = rules.to_vec();
        Ok(self)
    }

    /// Sets the per-underlying gain offsets (in `[0, 1]`) and caps (`>= 0`, `+inf` allowed).
    pub fn with_gain_offsets(mut self, offset: &[f64], cap: &[f64]) -> Result<Self> {
        let n_u = self.n_underlyings;
        same_len("pnl_offset", offset.len(), n_u, "number of underlyings")?;
        same_len(
            "max_offsetable_pnl",
            cap.len(),
            n_u,
            "number of underlyings",
        )?;
        finite("pnl_offset", offset)?;
        check_entries(
            "pnl_offset",
            offset,
            |c| (0.0..=1.0).contains(&c),
            "in [0, 1]",
        )?;
        check_entries(
            "max_offsetable_pnl",
            cap,
            |c| c >= 0.0,
            ">= 0 (+inf for no cap)",
        )?;
        self.gain_offset = offset.to_vec();
        self.gain_cap = cap.to_vec();
        Ok(self)
    }

    /// Whether any underlying's gains are limited (§6.3).
    pub fn limits_gains(&self) -> bool {
        self.gain_offset.iter().any(|&c| c < 1.0)
            || self.gain_cap.iter().any(|&c| c < f64::INFINITY)
    }

    /// Sets the extended-row edges and dampeners (`S x U` each).
    pub fn with_extended(mut self, edge: &[f64], dampener: &[f64]) -> Result<Self> {
        let cells = self.n_scenarios * self.n_underlyings;
        same_len("edge", edge.len(), cells, "scenarios x underlyings")?;
        same_len("dampener", dampener.len(), cells, "scenarios x underlyings")?;
        finite("edge", edge)?;
        finite("dampener", dampener)?;
        check_entries("edge", edge, |e| e > -1.0, "> -1")?;
        check_entries("dampener", dampener, |d| d >= 0.0, ">= 0")?;
        self.edge = edge.to_vec();
        self.dampener = dampener.to_vec();
        Ok(self)
    }

    pub fn cell(&self, s: usize, u: usize) -> (f64, f64, f64) {
        let k = s * self.n_underlyings + u;
        (self.moves[k], self.vol_shocks[k], self.weights[k])
    }

    /// Shocked vol for shock level `v` on an option of underlying `u` expiring in `t` years.
    pub fn shocked_vol(&self, u: usize, vol: f64, v: f64, t: f64) -> f64 {
        if v == 0.0 {
            return vol;
        }
        self.shocked_vol_by(u, vol, v, self.vol_term(u, t))
    }

    /// The term factor `(30 / max(365 t, 1))^power` of [`Self::shocked_vol`]: one per option,
    /// so a risk array computes its power once rather than once per scenario.
    pub fn vol_term(&self, u: usize, t: f64) -> f64 {
        let r = &self.vol[u];
        let dte = (365.0 * t).max(1.0);
        let p = if dte < 30.0 {
            r.power_short
        } else {
            r.power_long
        };
        (30.0 / dte).powf(p)
    }

    /// [`Self::shocked_vol`] with its term factor `mult` from [`Self::vol_term`].
    #[inline(always)]
    pub fn shocked_vol_by(&self, u: usize, vol: f64, v: f64, mult: f64) -> f64 {
        if v == 0.0 {
            return vol;
        }
        let r = &self.vol[u];
        if self.absolute_vol {
            return if v > 0.0 {
                (vol + v * r.vol_up * mult).max(r.min_vol_up)
            } else {
                (vol + v * r.vol_down * mult).max(MIN_DOWN_FACTOR * vol)
            };
        }
        if v > 0.0 {
            (vol * (1.0 + v * r.vol_up * mult)).max(r.min_vol_up)
        } else {
            vol * (1.0 + v * r.vol_down * mult).max(MIN_DOWN_FACTOR)
        }
    }
}
