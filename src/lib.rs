#![forbid(unsafe_code)]
//! `derive`: a symbolic-numeric proof checker for the kernel recursions of infinite-width
//! neural networks.
//!
//! A derivation ([`Derivation`], loaded from a TOML file by [`load`] or found on disk by
//! [`discover`]) holds claims; a claim is a chain of equalities `a = b = c …` whose links are
//! numbered `claim.step`. Each link is proved by an e-graph with named rewrite rules ([`prove()`],
//! theories in [`prove::theories`]) and, independently, checked numerically ([`numeric`]);
//! [`check()`] combines the two into a [`Verdict`] per link, [`render()`] prints the result and
//! [`derivation::json`] writes it for tools. The analytic kernels of a network (Σ, Σ̇, Θ) are
//! [`numeric::kernel`].
//!
//! The public API is this page's re-exports; the modules are public so that the test suite can
//! reach the rules, evaluators and samplers it checks one by one. The command line lives in the
//! binary (`src/main.rs`, `src/cli/`).
//!
//! ```
//! let src = r#"
//! id = "square"
//! title = "a binomial"
//! [symbols]
//! a = "real"
//! b = "real"
//! [[claim]]
//! start = "(a + b)^2"
//! [[claim.step]]
//! expr = "a^2 + 2*a*b + b^2"
//! "#;
//! let d = derive::load("square.toml", src).unwrap();
//! let report = derive::check(&d);
//! assert_eq!(report.links[0].verdict, derive::Verdict::Proved);
//! ```
#![warn(missing_docs)]

pub mod derivation;
pub mod expr;
pub mod limits;
pub mod numeric;
pub mod precision;
pub mod prove;
pub mod report;

pub use derivation::discover;
pub use derivation::{check, check_all, load, render, Derivation, InputError, Report, Verdict};
pub use expr::{latex, parse, text, Expr, Math};
pub use prove::{prove, Context, Limits, Outcome, Theory};
