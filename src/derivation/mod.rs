//! Derivation files: the format, loading with spans, link checking, verdicts, diagnosis, text.

pub mod check;
pub mod diagnose;
pub mod error;
pub mod file;
pub mod limit;
pub mod quantity;
pub mod render;
pub mod sample;

pub use check::{check, LinkResult, Report, Verdict};
pub use error::InputError;
pub use file::{load, Derivation, Expect, Kind};
pub use render::render;
