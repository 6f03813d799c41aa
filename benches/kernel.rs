//! Kernel-recursion throughput: N = 2000 inputs in R^10, depth 10, relu and erf.
//! Prints ns per entry per layer (entries = N², as neural-tangents counts). A comparison with a
//! peer is measured side by side on one machine (`farm-bench --vs`), never against a remembered
//! figure.
//! Run: CARGO_TARGET_DIR=... cargo bench --bench kernel

use derive::numeric::activation::Activation;
use derive::numeric::kernel::{kernels, Architecture};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let depth = 10;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let inputs: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..10).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    for act in [Activation::Relu, Activation::Erf] {
        let arch = Architecture::new(act, depth, 1.4, 0.1).unwrap();
        let _ = kernels(&arch, &inputs[..n.min(200)]).unwrap(); // warm-up
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let k = kernels(&arch, &inputs).unwrap();
            times.push(t.elapsed().as_secs_f64());
            std::hint::black_box(k.ntk[(0, n - 1)]);
        }
        times.sort_by(f64::total_cmp);
        let med = times[times.len() / 2];
        let per = med * 1e9 / (n * n * depth) as f64;
        println!(
            "kernel {act}: N={n} depth={depth} threads={} median {med:.3} s = {per:.2} ns/entry/layer",
            rayon::current_num_threads(),
        );
    }
}
