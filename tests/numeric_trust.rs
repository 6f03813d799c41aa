//! Issue 8 §2: the numeric check must not be fooled. Each false identity the reviewer found is run
//! through the real checker (a derivation file loaded and checked by the library) and must get a
//! verdict that does not accept it; each true identity at an awkward point must not be refuted.
//!
//! Verdicts are compared by name so that this file also compiles against older versions of the
//! checker (it was run against the code before the fix to see every assertion fail once).

use std::time::{Duration, Instant};

/// The verdict of the one link `lhs = rhs` (by `by`) with the declarations `decls`, or the text
/// of an internal soundness error (a proof the numerics contradict: not accepted either).
fn verdict(lhs: &str, rhs: &str, by: &[&str], decls: &[(&str, &str)]) -> String {
    let symbols: String = decls
        .iter()
        .map(|(s, k)| format!("{s} = \"{k}\"\n"))
        .collect();
    let by: Vec<String> = by.iter().map(|t| format!("\"{t}\"")).collect();
    let src = format!(
        "id = \"t\"\ntitle = \"t\"\n\n[symbols]\n{symbols}\n[[claim]]\nstart = \"{lhs}\"\n\n[[claim.step]]\nexpr = \"{rhs}\"\nby = [{}]\nexpect = \"refuted\"\n",
        by.join(", ")
    );
    let d = derive::load("numeric_trust.toml", &src).unwrap_or_else(|e| panic!("{}", e.render()));
    let start = Instant::now();
    let r = derive::check(&d);
    let out = match &r.links[0].unsound {
        None => r.links[0].verdict.name().to_string(),
        Some(e) => format!("unsound: {e}"),
    };
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "{lhs} = {rhs} took {took:?}"
    );
    eprintln!("{lhs} = {rhs}: {out} ({took:.1?})");
    out
}

fn not_accepted(v: &str) -> bool {
    !matches!(v, "proved" | "consistent" | "limit")
}

fn refuted_or_unsound(v: &str) -> bool {
    v == "refuted" || v.starts_with("unsound")
}

#[test]
fn cancelling_constants_do_not_inflate_the_tolerance() {
    let v = verdict("a + 10^20 - 10^20", "a + 12345", &[], &[("a", "real")]);
    assert_eq!(v, "refuted");
}

#[test]
fn sizes_are_drawn_beyond_six() {
    let v = verdict(
        "(n-1)*(n-2)*(n-3)*(n-4)*(n-5)*(n-6)",
        "0",
        &[],
        &[("n", "size")],
    );
    assert_eq!(v, "refuted");
}

#[test]
fn reals_are_drawn_beyond_three() {
    let v = verdict("relu(a - 3)", "0", &[], &[("a", "real")]);
    assert_eq!(v, "refuted");
}

#[test]
fn positives_are_drawn_beyond_pi() {
    let v = verdict("acos(cos(s))", "s", &["trig"], &[("s", "positive")]);
    assert_eq!(v, "refuted");
}

#[test]
fn one_dimensional_expectations_are_exact_enough() {
    // E[relu(z)] = 1/√(2π) = 0.39894…: Monte Carlo with 20,000 samples cannot tell 0.41 from it.
    let v = verdict("E[relu(z)]", "0.41", &["expectation"], &[("z", "gaussian")]);
    assert_eq!(v, "refuted");
}

#[test]
fn gaussian_moments_of_high_degree_are_exact() {
    let v = verdict("E[z^21]", "1000", &["expectation"], &[("z", "gaussian")]);
    assert_eq!(v, "refuted");
    let v = verdict("E[z^4*z^6]", "945", &["expectation"], &[("z", "gaussian")]);
    assert!(matches!(v.as_str(), "proved" | "consistent"), "{v}");
    let v = verdict("E[z^4*z^6]", "944", &["expectation"], &[("z", "gaussian")]);
    assert_eq!(v, "refuted");
}

#[test]
fn divergent_expectations_are_not_evaluated() {
    let g = [("z", "gaussian"), ("w", "gaussian")];
    let v = verdict("E[z^(0-2)]", "0", &["expectation"], &g);
    assert!(not_accepted(&v), "{v}");
    let v = verdict("E[w[1]/w[2]]", "0", &["expectation"], &g);
    assert!(not_accepted(&v), "{v}");
}

#[test]
fn monte_carlo_compares_the_difference_under_common_samples() {
    // Both sides carry the large term 100·z·w[1] (variance 10⁴); their difference is
    // relu(z)relu(w[1]) − 0.2, whose mean is 1/(2π) − 0.2 = −0.041: far outside the standard
    // error of the difference (~0.004), far inside the sum of the sides' standard errors (~1.4).
    let g = [("z", "gaussian"), ("w", "gaussian")];
    let v = verdict(
        "E[100*z*w[1] + relu(z)*relu(w[1])]",
        "E[100*w[1]*z] + 0.2",
        &["expectation"],
        &g,
    );
    assert_eq!(v, "refuted");
}

#[test]
fn monte_carlo_needs_non_zero_samples() {
    // P(z > 5) = 2.9e-7: with 20,000 samples every sample is 0; that is no evidence for 0.
    let g = [("z", "gaussian"), ("w", "gaussian")];
    let v = verdict("E[step(z - 5)*step(w[1])]", "0", &["expectation"], &g);
    assert!(not_accepted(&v), "{v}");
}

#[test]
fn phi_is_drawn_from_activations_with_nonzero_value_at_zero() {
    // An empty sum is 0; 0 − φ(0) is not, for sigmoid, softplus, cos, ….
    let v = verdict(
        "sum(j in 3..1, phi(0))",
        "0 - phi(0)",
        &["sums"],
        &[("j", "integer")],
    );
    assert!(refuted_or_unsound(&v), "{v}");
}

#[test]
fn a_long_literal_sum_is_evaluated_not_skipped() {
    // Row 1 of §1: for j > n the inner sum is 0. 2·10⁵ terms are evaluated directly.
    let decls = [("n", "size"), ("j", "index in 1..n"), ("x", "array")];
    let v = verdict(
        "sum(j in 1..200000, sum(k in 1..n, x[k]*delta(j,k)))",
        "sum(j in 1..200000, x[j])",
        &["sums"],
        &decls,
    );
    assert!(refuted_or_unsound(&v), "{v}");
}

#[test]
fn no_evidence_is_not_proved() {
    // 99999 × 99999 terms exceed the budget at every point: whatever the prover says, the link
    // has no numeric evidence and is not `proved`.
    let v = verdict(
        "sum(i in 1..99999, sum(j in 1..99999, 1))",
        "99999*99999",
        &["sums"],
        &[("i", "integer"), ("j", "integer")],
    );
    assert!(matches!(v.as_str(), "unchecked" | "unknown"), "{v}");
    // Row 4 of §1: ranges of 2·10⁵ × 2·10⁵ terms.
    let decls = [("n", "size"), ("j", "index in 1..n"), ("x", "array")];
    let v = verdict(
        "sum(j in j+1..200000, sum(k in j+1..200000, x[k]*delta(j,k)))",
        "sum(j in j+1..200000, x[j])",
        &["sums"],
        &decls,
    );
    assert!(not_accepted(&v), "{v}");
}

#[test]
fn a_sum_over_all_of_i64_neither_overflows_nor_hangs() {
    let v = verdict(
        "sum(j in -9223372036854775807..9223372036854775807, 1)",
        "0",
        &["sums"],
        &[("j", "integer")],
    );
    assert!(not_accepted(&v), "{v}");
}

#[test]
fn a_bound_index_shadows_a_random_symbol() {
    // Row 5 of §1: the sum is n(n+1)/2, not integrated out.
    let decls = [("z", "gaussian"), ("n", "size")];
    let v = verdict(
        "E[exp(3*z)] + E[sum(z in 1..n, z)]",
        "E[exp(3*z)]",
        &["expectation", "sums"],
        &decls,
    );
    assert!(refuted_or_unsound(&v), "{v}");
    let v = verdict(
        "E[sum(z in 1..n, z)]",
        "n*(n+1)/2",
        &["expectation", "sums"],
        &decls,
    );
    assert!(!refuted_or_unsound(&v), "{v}");
}

#[test]
fn a_derivative_at_the_edge_of_its_interval_is_one_sided() {
    // True: d/dρ of the arc-cosine kernel. At ρ = ±1 a central difference steps outside [−1, 1].
    let v = verdict(
        "d/drho((sqrt(1 - rho^2) + (pi - acos(rho))*rho)/(2*pi))",
        "(pi - acos(rho))/(2*pi)",
        &["calculus", "trig"],
        &[("rho", "interval -1..1")],
    );
    assert!(!refuted_or_unsound(&v), "{v}");
}

#[test]
fn the_widest_interval_is_sampled() {
    // -1e308..1e308 is refused at load (its width is not a finite number); this is the widest
    // interval with a finite width.
    let v = verdict("a*2", "a + a", &[], &[("a", "interval -1e307..1e307")]);
    assert_eq!(v, "proved");
    let v = verdict("a*2", "a + a + 1", &[], &[("a", "interval -1e307..1e307")]);
    assert_eq!(v, "refuted");
}
