//! zkmargin's margin engine in pure Rust (no Python): Black-76, per-instrument values,
//! scenario risk arrays, and standard, cross and portfolio margin over CSR account books.
//! docs/margin-model.md is the specification of every formula here.

pub mod bounds;
pub mod dynamic;
pub mod error;
pub mod fastmath;
pub mod implied;
pub mod isa;
pub mod linalg;
pub mod margin;
pub mod model;
pub mod netting;
pub mod normal;
pub mod parallel;
pub mod pricing;
pub mod probe;
pub mod risk;
pub mod scenarios;
mod simd;
pub mod state;
pub mod surface;
pub mod values;
