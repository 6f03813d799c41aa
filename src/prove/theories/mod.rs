//! The theories: each module's `rules()` is a named table of rewrites.

pub mod algebra;
pub mod calculus;
pub mod expectation;
pub mod gaussian;
pub mod growth;
pub mod matrices;
pub mod piecewise;
pub mod powers;
pub mod sums;
pub mod trig;
