//! Helpers shared by the test suites: the command line as a user runs it, and the exact
//! evaluator of the attack harnesses (tests/rule_props.rs, tests/fuzz_mutations.rs).
#![allow(dead_code)]

pub mod exact;

use std::process::{Command, Output};

/// Run the `derive` binary with `args` in the repository's root.
pub fn derive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_derive"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run derive")
}

/// Run the `derive` binary with `args` in the folder `dir` (a project of its own: its
/// `derivations/` and `target/`).
pub fn derive_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_derive"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run derive")
}

/// Standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
