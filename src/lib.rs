#![forbid(unsafe_code)]
//! `derive`: a symbolic-numeric proof checker for the kernel recursions of infinite-width
//! neural networks.
//!
//! A derivation is a chain of equalities `a = b = c …` ([`Derivation`], loaded from a TOML file by
//! [`load`]). Each link is proved by an e-graph with named rewrite rules ([`prove()`], theories in
//! [`prove::theories`]) and, independently, checked numerically ([`numeric`]); [`check()`] combines
//! the two into a [`Verdict`] per link and [`render()`] prints the result.
//!
//! ```
//! let src = r#"
//! id = "square"
//! title = "a binomial"
//! [symbols]
//! a = "real"
//! b = "real"
//! [[chain]]
//! expr = "(a + b)^2"
//! [[chain]]
//! expr = "a^2 + 2*a*b + b^2"
//! "#;
//! let d = derive::load("square.toml", src).unwrap();
//! let report = derive::check(&d).unwrap();
//! assert_eq!(report.links[0].verdict, derive::Verdict::Proved);
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod derivation;
pub mod expr;
pub mod limits;
pub mod numeric;
pub mod prove;

pub use derivation::{check, load, render, Derivation, InputError, Report, Verdict};
pub use expr::{latex, parse, text, Expr, Math};
pub use prove::{prove, Context, Limits, Outcome, Theory};
