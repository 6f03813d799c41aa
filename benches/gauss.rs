//! Cost of one bivariate Gaussian expectation by quadrature (µs per evaluation).
//! Run: CARGO_TARGET_DIR=... cargo bench --bench gauss

use derive::numeric::activation::Activation;
use derive::numeric::closed::shape;
use derive::numeric::gauss::{expect_pair, Cov2};
use std::time::Instant;

fn main() {
    let covs: Vec<Cov2> = [
        (1.0, 0.3, 1.0),
        (0.1, -0.999999, 10.0),
        (2.7, 1.1, 0.5),
        (1.0, 0.999999, 1.0),
    ]
    .iter()
    .map(|&(a, b, c)| Cov2::new(a, b, c).unwrap())
    .collect();
    for act in Activation::ALL {
        let sh = shape(act);
        let f = move |x: f64| act.eval(x);
        let d = move |x: f64| act.deriv(x);
        let reps = if act.is_kinked() { 400 } else { 8 };
        let mut runs = Vec::new();
        for run in 0..6 {
            let t = Instant::now();
            for _ in 0..reps {
                for c in &covs {
                    std::hint::black_box(expect_pair(&f, &f, *c, sh).unwrap());
                    std::hint::black_box(expect_pair(&d, &d, *c, sh).unwrap());
                }
            }
            if run > 0 {
                runs.push(t.elapsed().as_secs_f64() * 1e6 / (reps * covs.len() * 2) as f64);
            }
        }
        runs.sort_by(f64::total_cmp);
        println!(
            "gauss {act:<16} {:?}: median {:.1} µs per expectation",
            sh,
            runs[runs.len() / 2]
        );
    }
}
