//! zkmargin's margin engine in pure Rust (no Python): Black-76, per-instrument values,
//! scenario risk arrays, and standard, cross and portfolio margin over CSR account books.
//! docs/margin-model.md is the specification of every formula here.

pub mod error;
