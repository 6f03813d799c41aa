//! The symbolic side: an egg e-graph with named rewrite rules grouped into theories.
//!
//! One link = one [`prove`] call = one runner. Rules live in [`theories`], one module per theory,
//! each with a `rules()` table; the e-class analysis is in [`analysis`] and the polynomial normal
//! form that replaces associativity and commutativity is in [`poly`].

pub mod analysis;
pub mod bounds;
pub mod context;
pub mod link;
pub mod poly;
pub mod rule;
pub mod theories;

pub use analysis::{MathAnalysis, MathGraph};
pub use context::Context;
pub use link::{prove, prove_bound, rules_for, stop_text, Limits, Outcome, Stats, Step, Unsound};
pub use rule::{Rule, Theory, UnknownTheory};
