//! Liquidity and concentration add-ons and liquidation-horizon collateral haircuts
//! (docs/margin-model.md §10.6-§10.7).

use rayon::prelude::*;

use super::param_in;
use crate::error::{ErrorKind, InputError, Result, check_each, finite, finite_positive, same_len};
use crate::model::Book;

/// Per-instrument liquidity data and the add-on rule.
#[derive(Debug, Clone, Copy)]
pub struct AddonRule<'a> {
    /// USD value per contract that a close-out trades (`>= 0`).
    pub notional: &'a [f64],
    /// Half bid/ask spread as a fraction of notional (`>= 0`).
    pub half_spread: &'a [f64],
    /// Market depth (or open interest) per instrument in USD (`> 0`).
    pub depth: &'a [f64],
    /// Base margin ratio `MR` the size premium compares against (`>= 0`).
    pub base_ratio: &'a [f64],
    /// Share of depth above which the concentration add-on starts, in (0, 1].
    pub share: f64,
    /// Concentration add-on per USD of notional above the threshold (`>= 0`).
    pub rate: f64,
    /// Drift-style size-premium factor `f` (per sqrt(USD), `>= 0`).
    pub imf: f64,
}

/// The three add-ons of one account, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Addons {
    pub closeout: f64,
    pub concentration: f64,
    pub size_premium: f64,
}

impl Addons {
    pub fn total(&self) -> f64 {
        self.closeout + self.concentration + self.size_premium
    }
}

fn nonneg(field: &str, v: &[f64]) -> Result<()> {
    finite(field, v)?;
    check_each(field, v, ErrorKind::Parameter, "must be >= 0", |x| x < 0.0)
}

impl AddonRule<'_> {
    pub fn validate(&self, n_instruments: usize) -> Result<()> {
        for (field, v) in [
            ("notional", self.notional),
            ("half_spread", self.half_spread),
            ("depth", self.depth),
            ("base_ratio", self.base_ratio),
        ] {
            same_len(field, v.len(), n_instruments, "instruments")?;
        }
        nonneg("notional", self.notional)?;
        nonneg("half_spread", self.half_spread)?;
        nonneg("base_ratio", self.base_ratio)?;
        finite_positive("depth", self.depth)?;
        if !(self.share.is_finite() && self.share > 0.0 && self.share <= 1.0) {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "share",
                format!("must be in (0, 1] (got {})", self.share),
            ));
        }
        param_in("rate", self.rate, 0.0, f64::MAX)?;
        param_in("imf", self.imf, 0.0, f64::MAX)
    }

    /// (concentration add-on, size premium) of one row of USD notional `x`, with the
    /// concentration threshold `share * depth` and the row's base ratio `MR`.
    #[inline(always)]
    pub fn nonlinear(&self, x: f64, threshold: f64, base_ratio: f64) -> (f64, f64) {
        let concentration = self.rate * (x - threshold).max(0.0);
        // max(MR, 0.8 MR + f sqrt(x)) - MR, per USD of notional.
        let premium = (self.imf * x.sqrt() - 0.2 * base_ratio).max(0.0) * x;
        (concentration, premium)
    }

    /// Add-ons of rows `rows` with every quantity scaled by `scale >= 0` (a partial
    /// close-out keeps `scale = 1 - f` of each position).
    pub fn account(&self, book: &Book<'_>, rows: std::ops::Range<usize>, scale: f64) -> Addons {
        let mut out = Addons::default();
        for r in rows {
            let i = book.instrument[r] as usize;
            let x = scale * book.quantity[r].abs() * self.notional[i];
            out.closeout += self.half_spread[i] * x;
            let (c, p) = self.nonlinear(x, self.share * self.depth[i], self.base_ratio[i]);
            out.concentration += c;
            out.size_premium += p;
        }
        out
    }
}

/// Add-ons per account: `(closeout, concentration, size_premium)`, each of length `A`.
pub fn account_addons(
    rule: &AddonRule<'_>,
    book: &Book<'_>,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    rule.validate(rule.notional.len())?;
    book.validate(rule.notional.len())?;
    let v: Vec<Addons> = (0..book.n_accounts())
        .into_par_iter()
        .map(|a| rule.account(book, book.rows(a), 1.0))
        .collect();
    Ok((
        v.iter().map(|x| x.closeout).collect(),
        v.iter().map(|x| x.concentration).collect(),
        v.iter().map(|x| x.size_premium).collect(),
    ))
}

/// Haircut rule per collateral asset: `h = min(cap, base + z sigma sqrt(tau / 365))`,
/// `tau = max(min_days, |b| p / (participation depth))` days to sell the balance.
#[derive(Debug, Clone, Copy)]
pub struct HaircutRule<'a> {
    pub price: &'a [f64],
    pub sigma: &'a [f64],
    pub depth: &'a [f64],
    pub base: &'a [f64],
    pub z: f64,
    pub participation: f64,
    pub min_days: f64,
    pub cap: f64,
}

impl HaircutRule<'_> {
    pub fn validate(&self) -> Result<()> {
        let n = self.price.len();
        for (field, v) in [
            ("sigma", self.sigma),
            ("depth", self.depth),
            ("base", self.base),
        ] {
            same_len(field, v.len(), n, "asset_price")?;
        }
        finite_positive("asset_price", self.price)?;
        nonneg("sigma", self.sigma)?;
        finite_positive("depth", self.depth)?;
        nonneg("base", self.base)?;
        param_in("z", self.z, 0.0, f64::MAX)?;
        if !(self.participation.is_finite()
            && self.participation > 0.0
            && self.participation <= 1.0)
        {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "participation",
                format!("must be in (0, 1] (got {})", self.participation),
            ));
        }
        param_in("min_days", self.min_days, 0.0, f64::MAX)?;
        if !(self.cap.is_finite() && (0.0..1.0).contains(&self.cap)) {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "cap",
                format!("must be in [0, 1) (got {})", self.cap),
            ));
        }
        if let Some(j) = self.base.iter().position(|&b| b > self.cap) {
            return Err(InputError::at(
                ErrorKind::Parameter,
                "base",
                j,
                "must not exceed cap",
            ));
        }
        Ok(())
    }

    pub fn haircut(&self, j: usize, balance: f64) -> f64 {
        let days = (balance.abs() * self.price[j] / (self.participation * self.depth[j]))
            .max(self.min_days);
        (self.base[j] + self.z * self.sigma[j] * (days / 365.0).sqrt()).min(self.cap)
    }
}

/// Collateral value per account (`A`) and the haircut of every balance (`A x J`), with the
/// §3 rule: held balances marked down by `h`, borrowed ones grossed up.
pub fn dynamic_collateral(
    rule: &HaircutRule<'_>,
    balances: &[f64],
    n_accounts: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    rule.validate()?;
    let n_assets = rule.price.len();
    same_len(
        "balances",
        balances.len(),
        n_accounts * n_assets,
        "accounts x assets",
    )?;
    finite("balances", balances)?;
    let h: Vec<f64> = balances
        .par_iter()
        .enumerate()
        .map(|(k, &b)| rule.haircut(k % n_assets.max(1), b))
        .collect();
    let value = (0..n_accounts)
        .map(|a| {
            (0..n_assets)
                .map(|j| {
                    let (b, hj) = (balances[a * n_assets + j], h[a * n_assets + j]);
                    let p = rule.price[j];
                    if b >= 0.0 {
                        b * p * (1.0 - hj)
                    } else {
                        b * p * (1.0 + hj)
                    }
                })
                .sum()
        })
        .collect();
    Ok((value, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addons_by_hand() {
        let rule = AddonRule {
            notional: &[100.0],
            half_spread: &[0.001],
            depth: &[1000.0],
            base_ratio: &[0.05],
            share: 0.1,
            rate: 0.5,
            imf: 0.01,
        };
        let book = Book {
            offsets: &[0, 1],
            instrument: &[0],
            quantity: &[-4.0],
            balances: &[],
            n_assets: 0,
        };
        let a = rule.account(&book, 0..1, 1.0);
        // x = 400: closeout 0.4, concentration 0.5 * (400 - 100) = 150,
        // premium (0.01 * 20 - 0.01) * 400 = 76.
        assert!((a.closeout - 0.4).abs() < 1e-12);
        assert!((a.concentration - 150.0).abs() < 1e-12);
        assert!((a.size_premium - 76.0).abs() < 1e-9);
        let zero = AddonRule {
            depth: &[0.0],
            ..rule
        };
        let e = zero.validate(1).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::NonPositive, "depth")
        );
    }

    #[test]
    fn haircut_grows_with_size_and_vol() {
        let rule = HaircutRule {
            price: &[100.0],
            sigma: &[0.8],
            depth: &[1e6],
            base: &[0.02],
            z: 2.33,
            participation: 0.1,
            min_days: 1.0,
            cap: 0.9,
        };
        let small = rule.haircut(0, 1.0);
        let big = rule.haircut(0, 100_000.0);
        assert!((small - (0.02 + 2.33 * 0.8 * (1.0f64 / 365.0).sqrt())).abs() < 1e-15);
        assert!(big > small);
    }
}
