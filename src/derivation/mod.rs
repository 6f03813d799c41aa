//! Derivation files: the format, loading with spans, link checking, verdicts, diagnosis, text.

pub mod approx;
pub mod check;
pub mod diagnose;
pub mod discover;
pub mod draws;
pub mod error;
pub mod file;
pub mod hypotheses;
pub mod json;
pub mod limit;
pub mod quantity;
pub mod render;
pub mod sample;
pub mod sides;
pub mod verdict;
pub mod violation;

pub use check::{check, check_all, LinkResult, Report};
pub use error::InputError;
pub use file::{load, Cite, Claim, Derivation, Kind, Link, LinkId, Relation, Step, Term};
pub use render::render;
pub use verdict::Verdict;
