//! Prover and checker figures: per-link proof time and e-graph size, and the time of checking
//! every derivation (what `derive check --all` does, without printing).
//!
//! Run: `cargo bench --bench check`.

use derive::cli::check::{all_files, derivations_dir};
use derive::derivation::{check, load};
use derive::prove::{prove, Limits, Outcome};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let files = all_files(&derivations_dir());
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

    println!(
        "{:<28} {:>4} {:>10} {:>8} {:>6}  outcome",
        "derivation", "link", "proof ms", "e-nodes", "iters"
    );
    let (mut worst_ms, mut worst_nodes) = (0.0f64, 0usize);
    for d in &derivations {
        let ctx = derive::derivation::check::context(d);
        for k in 1..d.chain.len() {
            let (a, b) = (&d.chain[k - 1], &d.chain[k]);
            let mut times = vec![];
            let mut last = None;
            for _ in 0..15 {
                let t = Instant::now();
                let r = prove(&a.expr, &b.expr, &b.by, &ctx, Limits::default()).unwrap();
                times.push(t.elapsed().as_secs_f64() * 1e3);
                last = Some(r);
            }
            let (outcome, stats) = last.unwrap();
            let ms = median(times);
            let kind = match outcome {
                Outcome::Proved(_) => "proved",
                Outcome::NotDerivable { .. } => "saturated",
                Outcome::Exhausted { .. } => "limit",
            };
            worst_ms = worst_ms.max(ms);
            worst_nodes = worst_nodes.max(stats.nodes);
            println!(
                "{:<28} {:>4} {:>10.2} {:>8} {:>6}  {kind}",
                d.id, k, ms, stats.nodes, stats.iterations
            );
        }
    }
    println!("worst link: {worst_ms:.2} ms (target 50 ms), {worst_nodes} e-nodes (target 20000)");

    let mut totals = vec![];
    for _ in 0..9 {
        let t = Instant::now();
        for d in &derivations {
            check(d).unwrap();
        }
        totals.push(t.elapsed().as_secs_f64());
    }
    println!(
        "check of all {} derivations (proofs + numerics), median of 9: {:.3} s (target 1 s)",
        derivations.len(),
        median(totals)
    );
}
