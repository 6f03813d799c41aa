//! Helpers shared by the attack harnesses (tests/rule_props.rs, tests/fuzz_mutations.rs).
#![allow(dead_code)]

pub mod exact;
