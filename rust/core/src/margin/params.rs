//! The model's parameters and the choice of model and aggregation (docs/margin-model.md §6.3, §8).

use crate::error::{ErrorKind, InputError, Result};
use crate::linalg::check_correlation;
use crate::netting::SpanRules;

/// docs/margin-model.md §8. No defaults here: `zkmargin.MarginParams` (Python) is the one
/// place they are defined, and every field crosses the binding (docs/design-notes.md §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub linear_im: f64,
    pub linear_mm: f64,
    pub option_im_base: f64,
    pub option_im_floor: f64,
    pub option_mm: f64,
    pub im_factor: f64,
    pub mm_factor: f64,
    pub annual_move_risk: f64,
    pub min_annual_move: f64,
    pub short_option_min: f64,
}

impl Params {
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("linear_im", self.linear_im),
            ("linear_mm", self.linear_mm),
            ("option_im_base", self.option_im_base),
            ("option_im_floor", self.option_im_floor),
            ("option_mm", self.option_mm),
            ("im_factor", self.im_factor),
            ("mm_factor", self.mm_factor),
            ("annual_move_risk", self.annual_move_risk),
            ("min_annual_move", self.min_annual_move),
            ("short_option_min", self.short_option_min),
        ];
        for (name, v) in fields {
            if !v.is_finite() || v < 0.0 {
                return Err(InputError::whole(
                    ErrorKind::Parameter,
                    name,
                    format!("must be finite and >= 0 (got {v})"),
                ));
            }
        }
        if self.im_factor <= 0.0 || self.mm_factor <= 0.0 || self.mm_factor > self.im_factor {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "mm_factor",
                "need 0 < mm_factor <= im_factor",
            ));
        }
        if self.linear_mm > self.linear_im {
            return Err(InputError::whole(
                ErrorKind::Parameter,
                "linear_mm",
                "must not exceed linear_im",
            ));
        }
        Ok(())
    }

    /// Roll-shock rate for a bucket expiring in `t` years (§6.4).
    pub fn roll_rate(&self, t: f64) -> f64 {
        self.min_annual_move
            .max((self.annual_move_risk * t).exp() - 1.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Standard,
    Cross,
    Portfolio,
}

impl Model {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "standard" => Ok(Model::Standard),
            "cross" => Ok(Model::Cross),
            "portfolio" => Ok(Model::Portfolio),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "model",
                format!("unknown model {name:?} (standard, cross, portfolio)"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    Sum,
    Joint,
    /// Row-major `U x U` correlation matrix.
    Correlation(Vec<f64>),
    /// CME SPAN per underlying (combined commodity).
    Span(SpanRules),
}

impl Aggregation {
    pub fn parse(name: &str, correlation: Option<&[f64]>, n_underlyings: usize) -> Result<Self> {
        match (name, correlation) {
            ("sum", None) => Ok(Aggregation::Sum),
            ("joint", None) => Ok(Aggregation::Joint),
            ("correlation", Some(rho)) => {
                check_correlation("correlation", rho, n_underlyings)?;
                Ok(Aggregation::Correlation(rho.to_vec()))
            }
            ("span", None) => Ok(Aggregation::Span(SpanRules::new(
                &vec![0.0; n_underlyings],
                &[],
                &[],
                &[],
                n_underlyings,
            )?)),
            ("correlation", None) => Err(InputError::whole(
                ErrorKind::Parameter,
                "correlation",
                "aggregation 'correlation' needs a correlation matrix",
            )),
            ("sum" | "joint" | "span", Some(_)) => Err(InputError::whole(
                ErrorKind::Parameter,
                "correlation",
                "a correlation matrix is only used with aggregation 'correlation'",
            )),
            _ => Err(InputError::whole(
                ErrorKind::Parameter,
                "aggregation",
                format!("unknown aggregation {name:?} (sum, joint, correlation, span)"),
            )),
        }
    }
}

/// The parameters the crate's unit tests run with (the values of `zkmargin.MarginParams()`).
#[cfg(test)]
pub(crate) fn test_params() -> Params {
    Params {
        linear_im: 0.10,
        linear_mm: 0.05,
        option_im_base: 0.15,
        option_im_floor: 0.10,
        option_mm: 0.075,
        im_factor: 1.0,
        mm_factor: 0.8,
        annual_move_risk: 0.075,
        min_annual_move: 0.01,
        short_option_min: 0.003,
    }
}
