//! Implied-vol surfaces per underlying (docs/margin-model.md §2.5): curves on a
//! log-moneyness grid at listed expiries, interpolated linearly in total variance along
//! log-moneyness within an expiry and along expiry at fixed log-moneyness, so total
//! variance never decreases in expiry once the slices do not (checked at construction).

use crate::error::{ErrorKind, InputError, Result, finite};
use crate::model::{Instruments, Prices};

/// Largest surface vol accepted (a fraction: 10.0 = 1000%), as `zkmargin.market.MAX_VOL`.
pub const MAX_VOL: f64 = 10.0;

/// One underlying's surface: `vol[j * n_k + m]` at expiry `expiry[j]` and log-moneyness
/// `k[m] = ln(K / F)`; stored as total variance `w = vol^2 T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    expiry: Vec<f64>,
    k: Vec<f64>,
    w: Vec<f64>,
}

fn increasing(field: &str, x: &[f64]) -> Result<()> {
    if x.is_empty() {
        return Err(InputError::whole(
            ErrorKind::Shape,
            field,
            "needs at least one node",
        ));
    }
    finite(field, x)?;
    match x.windows(2).position(|p| p[1] <= p[0]) {
        Some(j) => Err(InputError::at(
            ErrorKind::Parameter,
            field,
            j + 1,
            "nodes must be strictly increasing",
        )),
        None => Ok(()),
    }
}

impl Surface {
    /// `field` prefixes every error (e.g. `surfaces[1]`).
    pub fn new(field: &str, expiry: &[f64], k: &[f64], vol: &[f64]) -> Result<Self> {
        increasing(&format!("{field}.expiry"), expiry)?;
        if expiry[0] <= 0.0 {
            return Err(InputError::at(
                ErrorKind::Expired,
                &format!("{field}.expiry"),
                0,
                "expiries must be > 0",
            ));
        }
        increasing(&format!("{field}.log_moneyness"), k)?;
        let (n_t, n_k) = (expiry.len(), k.len());
        let vol_field = format!("{field}.vol");
        crate::error::same_len(
            &vol_field,
            vol.len(),
            n_t * n_k,
            "expiries x log-moneyness nodes",
        )?;
        finite(&vol_field, vol)?;
        if let Some(j) = vol.iter().position(|&v| v <= 0.0 || v > MAX_VOL) {
            return Err(InputError::at(
                ErrorKind::Parameter,
                &vol_field,
                j,
                format!(
                    "vol must be in (0, {}] as a fraction (got {})",
                    MAX_VOL, vol[j]
                ),
            ));
        }
        let w: Vec<f64> = vol
            .iter()
            .enumerate()
            .map(|(j, &v)| v * v * expiry[j / n_k])
            .collect();
        for j in 1..n_t {
            for m in 0..n_k {
                if w[j * n_k + m] < w[(j - 1) * n_k + m] {
                    return Err(InputError::at(
                        ErrorKind::Parameter,
                        &vol_field,
                        j * n_k + m,
                        format!(
                            "total variance vol^2 T falls from expiry {} to {} at log-moneyness {} \
                             (calendar arbitrage)",
                            expiry[j - 1],
                            expiry[j],
                            k[m]
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            expiry: expiry.to_vec(),
            k: k.to_vec(),
            w,
        })
    }

    /// Total variance of slice `j` at log-moneyness `x`: linear between nodes, flat
    /// beyond the first and last node.
    fn slice_w(&self, j: usize, x: f64) -> f64 {
        let n_k = self.k.len();
        let row = &self.w[j * n_k..(j + 1) * n_k];
        if x <= self.k[0] {
            return row[0];
        }
        if x >= self.k[n_k - 1] {
            return row[n_k - 1];
        }
        // First node above x; 1 <= m < n_k here.
        let m = self.k.partition_point(|&node| node <= x);
        let (k0, k1) = (self.k[m - 1], self.k[m]);
        row[m - 1] + (row[m] - row[m - 1]) * ((x - k0) / (k1 - k0))
    }

    /// Vol at expiry `t` and log-moneyness `x`; `None` outside `[expiry[0], expiry[n-1]]`.
    pub fn vol(&self, t: f64, x: f64) -> Option<f64> {
        let n_t = self.expiry.len();
        if !(self.expiry[0] <= t && t <= self.expiry[n_t - 1]) {
            return None;
        }
        // Last slice at or below t.
        let j = self.expiry.partition_point(|&e| e <= t) - 1;
        let w = if j == n_t - 1 {
            self.slice_w(j, x)
        } else {
            let (t0, t1) = (self.expiry[j], self.expiry[j + 1]);
            let (w0, w1) = (self.slice_w(j, x), self.slice_w(j + 1, x));
            w0 + (w1 - w0) * ((t - t0) / (t1 - t0))
        };
        Some((w / t).sqrt())
    }

    pub fn first_expiry(&self) -> f64 {
        self.expiry[0]
    }

    pub fn last_expiry(&self) -> f64 {
        self.expiry[self.expiry.len() - 1]
    }
}

/// Market curves beyond `Prices`: a surface or none for each underlying (options on an
/// underlying without one, or all when `surfaces` is empty, use the market's vol per
/// instrument), and a zero rate per instrument read off a rate curve (§1.5; `None`: the
/// market's one rate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    pub surfaces: Vec<Option<Surface>>,
    pub rates: Option<Vec<f64>>,
}

impl Curves {
    /// The rate instrument `i` is discounted at: its curve rate, else `scalar`.
    #[inline(always)]
    pub fn rate(&self, i: usize, scalar: f64) -> f64 {
        self.rates.as_ref().map_or(scalar, |r| r[i])
    }

    /// The surface of underlying `u`, if any.
    pub fn of(&self, u: usize) -> Option<&Surface> {
        self.surfaces.get(u).and_then(Option::as_ref)
    }

    /// Today's vol of every instrument: the surface's at `(T_i, ln(K_i / F_i))` for options
    /// on an underlying with a surface, the market's `vol[i]` otherwise. An option whose
    /// expiry the surface does not cover is an error naming the instrument (`expiry[i]`).
    pub fn base_vols(&self, ins: &Instruments, px: &Prices<'_>) -> Result<Vec<f64>> {
        (0..ins.len())
            .map(|i| {
                let u = ins.underlying[i];
                match self.of(u) {
                    Some(s) if ins.kind[i].is_option() => {
                        let x = (ins.strike[i] / px.forward_of(ins, i)).ln();
                        s.vol(ins.expiry[i], x)
                            .ok_or_else(|| not_covered(s, i, ins.expiry[i]))
                    }
                    _ => Ok(px.vol.get(i).copied().unwrap_or(0.0)),
                }
            })
            .collect()
    }
}

fn not_covered(s: &Surface, i: usize, t: f64) -> InputError {
    InputError::at(
        ErrorKind::Coverage,
        "expiry",
        i,
        format!(
            "the vol surface of this option's underlying covers expiries {} to {}, not {t}",
            s.first_expiry(),
            s.last_expiry()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface() -> Surface {
        // Two slices, three nodes; a smile with higher wings.
        Surface::new(
            "s",
            &[0.25, 1.0],
            &[-0.5, 0.0, 0.5],
            &[0.8, 0.6, 0.7, 0.7, 0.55, 0.65],
        )
        .unwrap()
    }

    #[test]
    fn nodes_interpolation_and_extrapolation() {
        let s = surface();
        assert!((s.vol(0.25, 0.0).unwrap() - 0.6).abs() < 1e-15);
        assert!((s.vol(1.0, 0.5).unwrap() - 0.65).abs() < 1e-15);
        // Linear in total variance along k, flat beyond the wings.
        let w: f64 = 0.5 * (0.36 + 0.49) * 0.25;
        assert!((s.vol(0.25, 0.25).unwrap() - (w / 0.25).sqrt()).abs() < 1e-15);
        assert_eq!(s.vol(0.25, 3.0), s.vol(0.25, 0.5));
        // Linear in total variance along T at fixed k.
        let (w0, w1): (f64, f64) = (0.36 * 0.25, 0.55 * 0.55);
        let t: f64 = 0.625;
        let want = ((w0 + (w1 - w0) * 0.5) / t).sqrt();
        assert!((s.vol(t, 0.0).unwrap() - want).abs() < 1e-15);
        assert_eq!(s.vol(0.2, 0.0), None);
        assert_eq!(s.vol(1.5, 0.0), None);
    }

    #[test]
    fn total_variance_never_falls_in_expiry() {
        let s = surface();
        for x in [-0.9, -0.5, -0.2, 0.0, 0.3, 0.5, 0.8] {
            let mut prev = 0.0;
            for j in 0..=30 {
                let t = 0.25 + 0.75 * f64::from(j) / 30.0;
                let w = s.vol(t, x).unwrap().powi(2) * t;
                assert!(w >= prev - 1e-15, "{x} {t}");
                prev = w;
            }
        }
    }

    #[test]
    fn bad_surfaces_are_typed() {
        let e = Surface::new("s", &[1.0, 0.5], &[0.0], &[0.5, 0.5]).unwrap_err();
        assert_eq!((e.field.as_str(), e.index), ("s.expiry", Some(1)));
        let e = Surface::new("s", &[0.5, 1.0], &[0.0], &[0.8, 0.5]).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str(), e.index),
            (ErrorKind::Parameter, "s.vol", Some(1))
        );
        let e = Surface::new("s", &[1.0], &[0.0], &[55.0]).unwrap_err();
        assert_eq!(e.field, "s.vol");
        let e = Surface::new("s", &[1.0], &[0.0, 1.0], &[0.5]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
    }
}
