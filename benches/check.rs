//! Prover and checker figures: per-link proof time and e-graph size (links that the prover
//! handles: not the first entry of a claim, not `limit` links), the worst proved link and the worst
//! link overall, and the time of checking every derivation (what `derive check --all` does,
//! without printing; width studies included).
//!
//! Run: `cargo bench --bench check`; `cargo bench --bench check -- proofs [ID…]` measures only the
//! proofs (of the derivations named, or of all).

use derive::derivation::discover::{derivations_dir, suite_files};
use derive::derivation::{check_all, load};
use derive::prove::{prove, Limits, Outcome};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let files = suite_files(&derivations_dir(), false);
    let derivations: Vec<_> = files
        .iter()
        .map(|f| {
            load(
                &f.display().to_string(),
                &std::fs::read_to_string(f).unwrap(),
            )
            .unwrap()
        })
        .collect();

    // Arguments (cargo adds `--bench`): `proofs` skips the whole check; ids filter the proofs.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let proofs_only = args.first().is_some_and(|a| a == "proofs");
    let only: Vec<&String> = args.iter().skip(usize::from(proofs_only)).collect();

    // The whole check first, in a fresh process state (as `derive check --all` runs).
    let mut totals = vec![];
    for _ in 0..if proofs_only { 0 } else { 9 } {
        // Each run from a fresh state: the expectations kept by every thread are forgotten.
        rayon::broadcast(|_| derive::numeric::kept::forget());
        derive::numeric::kept::forget();
        let t = Instant::now();
        check_all(&derivations);
        totals.push(t.elapsed().as_secs_f64());
    }
    if !proofs_only {
        println!(
            "check of all {} derivations (proofs + numerics), median of 9: {:.3} s (target 3 s)",
            derivations.len(),
            median(totals)
        );
    }

    println!(
        "{:<28} {:>4} {:>10} {:>8} {:>6}  outcome",
        "derivation", "link", "proof ms", "e-nodes", "iters"
    );
    let (mut worst_ms, mut worst_nodes) = (0.0f64, 0usize);
    let (mut proved_ms, mut proved_nodes) = (0.0f64, 0usize);
    for d in derivations
        .iter()
        .filter(|d| only.is_empty() || only.iter().any(|o| **o == d.id))
    {
        let ctx = derive::derivation::check::context(d);
        for link in d.links() {
            let (a, b) = (&link.from, &link.step);
            if b.limit.is_some() {
                continue;
            }
            // The limits `check` uses: a short search where the numerics refute the link.
            let refuted = derive::derivation::check::numeric_check(d, &a.expr, &b.term.expr)
                .counterexample()
                .is_some();
            let limits = if refuted {
                Limits::refuted()
            } else {
                Limits::default()
            };
            let mut times = vec![];
            let mut last = None;
            for _ in 0..15 {
                let t = Instant::now();
                let r = prove(&a.expr, &b.term.expr, &b.by, &ctx, limits).unwrap();
                times.push(t.elapsed().as_secs_f64() * 1e3);
                last = Some(r);
            }
            let (outcome, stats) = last.unwrap();
            let ms = median(times);
            let kind = match outcome {
                Outcome::Proved(_) => "proved",
                Outcome::NotDerivable { .. } => "saturated",
                Outcome::Exhausted { .. } => "limit",
                Outcome::Refused { .. } => "refused",
            };
            worst_ms = worst_ms.max(ms);
            worst_nodes = worst_nodes.max(stats.nodes);
            if kind == "proved" {
                proved_ms = proved_ms.max(ms);
                proved_nodes = proved_nodes.max(stats.nodes);
            }
            println!(
                "{:<28} {:>4} {:>10.2} {:>8} {:>6}  {kind}",
                d.id, link.id, ms, stats.nodes, stats.iterations
            );
        }
    }
    println!("worst proved link: {proved_ms:.2} ms, {proved_nodes} e-nodes (targets 50 ms, 20000)");
    println!("worst link of any outcome: {worst_ms:.2} ms, {worst_nodes} e-nodes");
}
