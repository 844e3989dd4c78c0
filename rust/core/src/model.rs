//! Instruments, market and account book, with the validation of docs/margin-model.md §9.

use rayon::prelude::*;

use crate::bounds;
use crate::error::{ErrorKind, InputError, Result, finite, finite_positive, same_len};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spot,
    Perpetual,
    Future,
    Call,
    Put,
}

impl Kind {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Kind::Spot,
            1 => Kind::Perpetual,
            2 => Kind::Future,
            3 => Kind::Call,
            4 => Kind::Put,
            _ => return None,
        })
    }

    pub fn is_option(self) -> bool {
        matches!(self, Kind::Call | Kind::Put)
    }

    /// Spot and perpetuals live in the `T = 0` roll bucket.
    pub fn is_spot_like(self) -> bool {
        matches!(self, Kind::Spot | Kind::Perpetual)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Linear,
    Inverse,
}

/// The instrument universe (owned: it is small and lives as long as an engine).
#[derive(Debug, Clone)]
pub struct Instruments {
    pub kind: Vec<Kind>,
    pub underlying: Vec<usize>,
    pub strike: Vec<f64>,
    pub expiry: Vec<f64>,
    pub contract_size: Vec<f64>,
    pub settlement: Vec<Settlement>,
}

impl Instruments {
    pub fn new(
        kind: &[i64],
        underlying: &[i64],
        strike: &[f64],
        expiry: &[f64],
        contract_size: &[f64],
        settlement: &[i64],
        n_underlyings: usize,
    ) -> Result<Self> {
        let n = kind.len();
        same_len("underlying", underlying.len(), n, "kind")?;
        same_len("strike", strike.len(), n, "kind")?;
        same_len("expiry", expiry.len(), n, "kind")?;
        same_len("contract_size", contract_size.len(), n, "kind")?;
        same_len("settlement", settlement.len(), n, "kind")?;
        let kinds = kind
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                Kind::from_code(c).ok_or_else(|| {
                    InputError::at(
                        ErrorKind::Parameter,
                        "kind",
                        i,
                        format!("unknown kind code {c} (0-4)"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let settlements = settlement
            .iter()
            .enumerate()
            .map(|(i, &c)| match c {
                0 => Ok(Settlement::Linear),
                1 => Ok(Settlement::Inverse),
                _ => Err(InputError::at(
                    ErrorKind::Parameter,
                    "settlement",
                    i,
                    format!("unknown settlement code {c} (0 linear, 1 inverse)"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let underlyings = underlying
            .iter()
            .enumerate()
            .map(|(i, &u)| {
                if u >= 0 && (u as u64) < n_underlyings as u64 {
                    Ok(u as usize)
                } else {
                    Err(InputError::at(
                        ErrorKind::IndexOutOfRange,
                        "underlying",
                        i,
                        format!("{u} is outside 0..{n_underlyings}"),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        finite("strike", strike)?;
        finite("expiry", expiry)?;
        finite_positive("contract_size", contract_size)?;
        bounds::within(
            "contract_size",
            contract_size,
            0.0,
            bounds::MAX_CONTRACT_SIZE,
        )?;
        bounds::within("expiry", expiry, f64::NEG_INFINITY, bounds::MAX_EXPIRY)?;
        for i in 0..n {
            let k = kinds[i];
            if k.is_option() && strike[i] <= 0.0 {
                return Err(InputError::at(
                    ErrorKind::NonPositive,
                    "strike",
                    i,
                    "option strike must be > 0",
                ));
            }
            if k.is_option() {
                bounds::within(
                    "strike",
                    &strike[i..=i],
                    bounds::MIN_PRICE,
                    bounds::MAX_PRICE,
                )
                .map_err(|e| InputError {
                    index: Some(i),
                    ..e
                })?;
                if expiry[i] > 0.0 && expiry[i] < bounds::MIN_EXPIRY {
                    return Err(InputError::at(
                        ErrorKind::Parameter,
                        "expiry",
                        i,
                        format!(
                            "option expiry {} is below the supported {:e} years",
                            expiry[i],
                            bounds::MIN_EXPIRY
                        ),
                    ));
                }
            }
            if expiry[i] < 0.0 {
                return Err(InputError::at(
                    ErrorKind::Expired,
                    "expiry",
                    i,
                    "negative time to expiry",
                ));
            }
            if (k.is_option() || k == Kind::Future) && expiry[i] <= 0.0 {
                return Err(InputError::at(
                    ErrorKind::Expired,
                    "expiry",
                    i,
                    "options and futures must have expiry > 0 (at or past expiry)",
                ));
            }
            if k == Kind::Spot && settlements[i] == Settlement::Inverse {
                return Err(InputError::at(
                    ErrorKind::Parameter,
                    "settlement",
                    i,
                    "spot must be linear",
                ));
            }
        }
        Ok(Self {
            kind: kinds,
            underlying: underlyings,
            strike: strike.to_vec(),
            expiry: expiry.to_vec(),
            contract_size: contract_size.to_vec(),
            settlement: settlements,
        })
    }

    pub fn len(&self) -> usize {
        self.kind.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }
}

/// Prices for one market state (borrowed from the caller).
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    pub spot: &'a [f64],
    pub vol: &'a [f64],
    pub forward: Option<&'a [f64]>,
    pub rate: f64,
}

impl Prices<'_> {
    pub fn validate(&self, ins: &Instruments, n_underlyings: usize) -> Result<()> {
        same_len(
            "spot",
            self.spot.len(),
            n_underlyings,
            "number of underlyings",
        )?;
        finite_positive("spot", self.spot)?;
        bounds::within("spot", self.spot, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
        same_len("vol", self.vol.len(), ins.len(), "number of instruments")?;
        finite("vol", self.vol)?;
        for (i, &v) in self.vol.iter().enumerate() {
            if v < 0.0 || (v == 0.0 && ins.kind[i].is_option()) {
                return Err(InputError::at(
                    ErrorKind::NonPositive,
                    "vol",
                    i,
                    format!("option vol must be > 0 (got {v})"),
                ));
            }
            let lo = if ins.kind[i].is_option() {
                bounds::MIN_VOL
            } else {
                0.0
            };
            bounds::within("vol", &self.vol[i..=i], lo, bounds::MAX_VOL).map_err(|e| {
                InputError {
                    index: Some(i),
                    ..e
                }
            })?;
        }
        if let Some(fwd) = self.forward {
            same_len("forward", fwd.len(), ins.len(), "number of instruments")?;
            finite_positive("forward", fwd)?;
            bounds::within("forward", fwd, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
        }
        if !self.rate.is_finite() {
            return Err(InputError::whole(
                ErrorKind::NonFinite,
                "rate",
                "must be finite",
            ));
        }
        if self.rate.abs() > bounds::MAX_RATE {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "rate",
                format!(
                    "{:e} is outside the supported range [-{m}, {m}] (docs/margin-model.md §9)",
                    self.rate,
                    m = bounds::MAX_RATE
                ),
            ));
        }
        Ok(())
    }

    /// The forward an instrument is valued on: its entry of `forward` (a perpetual's or
    /// future's mark price), the index when none is given; spot always uses the index.
    pub fn forward_of(&self, ins: &Instruments, i: usize) -> f64 {
        let s = self.spot[ins.underlying[i]];
        match self.forward {
            Some(f) if ins.kind[i] != Kind::Spot => f[i],
            _ => s,
        }
    }
}

/// Collateral asset prices and haircuts.
#[derive(Debug, Clone, Copy)]
pub struct Collateral<'a> {
    pub price: &'a [f64],
    pub haircut: &'a [f64],
}

impl Collateral<'_> {
    pub fn validate(&self) -> Result<()> {
        finite_positive("asset_price", self.price)?;
        bounds::within(
            "asset_price",
            self.price,
            bounds::MIN_PRICE,
            bounds::MAX_PRICE,
        )?;
        same_len(
            "haircut",
            self.haircut.len(),
            self.price.len(),
            "asset_price",
        )?;
        finite("haircut", self.haircut)?;
        if let Some(j) = self.haircut.iter().position(|&h| !(0.0..1.0).contains(&h)) {
            return Err(InputError::at(
                ErrorKind::Parameter,
                "haircut",
                j,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Haircut value of one balance: held assets marked down, borrowed ones grossed up.
    pub fn value(&self, j: usize, balance: f64) -> f64 {
        let (p, h) = (self.price[j], self.haircut[j]);
        if balance >= 0.0 {
            balance * p * (1.0 - h)
        } else {
            balance * p * (1.0 + h)
        }
    }
}

/// Positions in CSR form plus an `A x J` row-major balance matrix (borrowed, never copied).
#[derive(Debug, Clone, Copy)]
pub struct Book<'a> {
    pub offsets: &'a [i64],
    pub instrument: &'a [i64],
    pub quantity: &'a [f64],
    pub balances: &'a [f64],
    pub n_assets: usize,
}

impl Book<'_> {
    pub fn n_accounts(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn rows(&self, a: usize) -> std::ops::Range<usize> {
        self.offsets[a] as usize..self.offsets[a + 1] as usize
    }

    /// Every check of [`Book::validate_layout`] and [`Book::validate_values`].
    pub fn validate(&self, n_instruments: usize) -> Result<()> {
        self.validate_layout()?;
        self.validate_values(n_instruments)
    }

    /// Offsets that start at 0, never decrease and end at the number of rows; one
    /// quantity per row and `A x J` balances: what [`Book::rows`] needs.
    pub fn validate_layout(&self) -> Result<()> {
        let off = self.offsets;
        if off.is_empty() {
            return Err(InputError::whole(
                ErrorKind::Offsets,
                "offsets",
                "needs A + 1 >= 1 entries",
            ));
        }
        if off[0] != 0 {
            return Err(InputError::at(
                ErrorKind::Offsets,
                "offsets",
                0,
                "must start at 0",
            ));
        }
        if let Some(a) = off.windows(2).position(|w| w[1] < w[0]) {
            return Err(InputError::at(
                ErrorKind::Offsets,
                "offsets",
                a + 1,
                "offsets must be non-decreasing",
            ));
        }
        let n = self.instrument.len();
        if off[off.len() - 1] != n as i64 {
            return Err(InputError::at(
                ErrorKind::Offsets,
                "offsets",
                off.len() - 1,
                format!(
                    "last offset {} must equal the number of rows {n}",
                    off[off.len() - 1]
                ),
            ));
        }
        same_len("quantity", self.quantity.len(), n, "instrument")?;
        same_len(
            "balances",
            self.balances.len(),
            self.n_accounts() * self.n_assets,
            "accounts x assets",
        )?;
        Ok(())
    }

    /// Instrument indices in `0..n_instruments`, quantities and balances finite and within
    /// their bounds (docs/margin-model.md §9): the first bad value's typed error, column by
    /// column. The layout must be valid.
    pub fn validate_values(&self, n_instruments: usize) -> Result<()> {
        if let Some(i) = first_where(self.instrument, |&x| bad_instrument(x, n_instruments)) {
            return Err(InputError::at(
                ErrorKind::IndexOutOfRange,
                "instrument",
                i,
                format!("{} is outside 0..{n_instruments}", self.instrument[i]),
            ));
        }
        // One pass per column finds the first value that is NaN, infinite or out of bounds.
        for (field, values, max) in [
            ("quantity", self.quantity, bounds::MAX_QUANTITY),
            ("balances", self.balances, bounds::MAX_BALANCE),
        ] {
            if let Some(i) = first_where(values, |&v| bad_value(v, max)) {
                return Err(if values[i].is_finite() {
                    beyond(field, i, values[i], max)
                } else {
                    InputError::at(ErrorKind::NonFinite, field, i, "must be finite")
                });
            }
        }
        Ok(())
    }

    /// Whether rows `rows` and the balances of accounts `accounts` pass
    /// [`Book::validate_values`]: one branch-free pass, for a caller that checks each part
    /// of the book just before it reads it (and asks `validate_values` which value is bad).
    #[inline(always)]
    pub fn values_ok(
        &self,
        rows: std::ops::Range<usize>,
        accounts: std::ops::Range<usize>,
        n_instruments: usize,
    ) -> bool {
        let balances = &self.balances[accounts.start * self.n_assets..accounts.end * self.n_assets];
        let bad = self.instrument[rows.clone()]
            .iter()
            .fold(false, |any, &x| any | bad_instrument(x, n_instruments))
            | self.quantity[rows]
                .iter()
                .fold(false, |any, &v| any | bad_value(v, bounds::MAX_QUANTITY))
            | balances
                .iter()
                .fold(false, |any, &v| any | bad_value(v, bounds::MAX_BALANCE));
        !bad
    }
}

/// An instrument index outside `0..n`.
#[inline(always)]
fn bad_instrument(x: i64, n: usize) -> bool {
    x < 0 || x as u64 >= n as u64
}

/// NaN, infinite or beyond `max` in magnitude.
#[inline(always)]
fn bad_value(v: f64, max: f64) -> bool {
    !(-max..=max).contains(&v)
}

/// `|value| > max` at row `i` of `field`, as the `Parameter` error `bounds` raises.
fn beyond(field: &str, i: usize, value: f64, max: f64) -> InputError {
    InputError::at(
        ErrorKind::Parameter,
        field,
        i,
        format!(
            "{value:e} is outside the supported range [-{max:e}, {max:e}] (docs/margin-model.md §9)"
        ),
    )
}

/// Index of the first element satisfying `bad`, scanning large chunks in parallel (rayon's
/// `position_first` synchronises per element and is an order of magnitude slower here).
/// Each chunk is first folded without a branch (`position` stops at every element and
/// does not vectorise); only a chunk holding a bad element is searched for where.
fn first_where<T: Sync>(values: &[T], bad: impl Fn(&T) -> bool + Sync) -> Option<usize> {
    const CHUNK: usize = 1 << 16;
    values
        .par_chunks(CHUNK)
        .enumerate()
        .filter(|(_, chunk)| chunk.iter().fold(false, |any, v| any | bad(v)))
        .filter_map(|(c, chunk)| chunk.iter().position(&bad).map(|k| c * CHUNK + k))
        .min()
}
