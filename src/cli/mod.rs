//! The command-line commands (the argument parsing itself is in `main.rs`).

pub mod adhoc;
pub mod check;
