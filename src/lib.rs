//! `derive`: a symbolic-numeric proof checker for the kernel recursions of infinite-width
//! neural networks.
//!
//! A derivation is a chain of equalities `a = b = c`; each link is proved by an e-graph with
//! named rewrite rules ([`prove`]) and checked numerically at high precision ([`numeric`]).
#![warn(missing_docs)]

pub mod cli;
pub mod expr;
pub mod numeric;
