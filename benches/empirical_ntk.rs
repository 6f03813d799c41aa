//! Empirical NTK of one finite-width network: width 1024, depth 3, N = 100 inputs in R^10.
//! A comparison with a peer (neural-tangents) is measured side by side on one machine
//! (`farm-bench --vs`), never against a remembered figure.
//!
//! Run with `cargo bench --bench empirical_ntk`; `-- erf` (or any activation name) picks the
//! activation (default relu).

use derive::numeric::portable::Portable;
use std::time::Instant;

use derive::numeric::activation::Activation;
use derive::numeric::kernel::Architecture;
use derive::numeric::network::Network;
use nalgebra::DMatrix;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() {
    let act: Activation = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("activation name"))
        .unwrap_or(Activation::Relu);
    let (width, depth, n, dim) = (1024, 3, 100, 10);
    let arch = Architecture::new(act, depth, 1.4, 0.1).expect("architecture");
    let net = Network::sample(&arch, dim, width, 0).expect("network");
    // Deterministic inputs without touching the network's RNG.
    let inputs = DMatrix::from_fn(n, dim, |i, j| ((i * 31 + j * 17) as f64 * 0.37).psin());

    for _ in 0..3 {
        std::hint::black_box(net.empirical_ntk(&inputs).expect("ntk"));
    }
    let runs = 15;
    let times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let k = net.empirical_ntk(&inputs).expect("ntk");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box(k);
            ms
        })
        .collect();
    let med = median(times.clone());
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "empirical NTK {act}, width {width}, depth {depth}, N = {n}, n0 = {dim}, {} threads: \
         median {med:.2} ms (min {min:.2} ms) over {runs} runs",
        rayon::current_num_threads(),
    );
}
