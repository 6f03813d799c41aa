//! Checks the Gaussian expectations (quadrature and closed forms) and the kernel recursions
//! against the 40-digit mpmath references of `scripts/gauss_reference.py`.

use derive::numeric::activation::Activation;
use derive::numeric::closed::{dual, has_closed_form, shape};
use derive::numeric::gauss::{expect1, expect_pair, Cov2};
use derive::numeric::kernel::{kernel_pair, kernels, Architecture};
use std::collections::BTreeMap;

const TOL: f64 = 1e-13;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Error relative to the value, or to the natural scale where the value is small against it.
fn rel(err: f64, value: f64, scale: f64) -> f64 {
    if value.abs() >= 1e-2 * scale {
        err / value.abs()
    } else {
        err / scale
    }
}

#[test]
fn expectations_match_the_reference() {
    let text = data("gauss_reference.csv");
    // activation -> (worst quadrature error, worst closed-form error, rows)
    let mut worst: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let act: Activation = f[0].parse().unwrap();
        let deriv = f[1] == "1";
        let [s11, s12, s22, value]: [f64; 4] =
            std::array::from_fn(|k| f[k + 2].parse::<f64>().unwrap());
        let cov = Cov2::new(s11, s12, s22).unwrap();
        let g = move |x: f64| if deriv { act.deriv(x) } else { act.eval(x) };
        let sq = move |x: f64| g(x) * g(x);
        let scale = (expect1(&sq, s11, shape(act)).unwrap()
            * expect1(&sq, s22, shape(act)).unwrap())
        .sqrt();
        let q = expect_pair(&g, &g, cov, shape(act)).unwrap();
        let eq = rel((q - value).abs(), value, scale);
        let d = dual(act, cov).unwrap();
        let c = if deriv { d.kdot } else { d.k };
        let ec = if has_closed_form(act) {
            rel((c - value).abs(), value, scale)
        } else {
            0.0
        };
        let key = format!("{}{}", f[0], if deriv { " (derivative)" } else { "" });
        let w = worst.entry(key.clone()).or_insert((0.0, 0.0, 0));
        w.0 = w.0.max(eq);
        w.1 = w.1.max(ec);
        w.2 += 1;
        if eq > TOL || ec > TOL {
            failures.push(format!(
                "{key} at ({s11}, {s12}, {s22}): reference {value:e}, quadrature {q:e} ({eq:.1e}), dual {c:e} ({ec:.1e})"
            ));
        }
    }
    println!(
        "{:<30} {:>6} {:>12} {:>12}",
        "activation", "rows", "quadrature", "closed form"
    );
    for (k, (eq, ec, n)) in &worst {
        println!("{k:<30} {n:>6} {eq:>12.2e} {ec:>12.2e}");
    }
    assert!(
        failures.is_empty(),
        "{} rows off:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn kernels_match_the_reference() {
    let text = data("kernel_reference.csv");
    let mut failures = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let act: Activation = f[0].parse().unwrap();
        let depth: usize = f[1].parse().unwrap();
        let (sw, sb): (f64, f64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        let vec = |s: &str| {
            s.split(';')
                .map(|v| v.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        };
        let (x, y) = (vec(f[4]), vec(f[5]));
        let r: Vec<f64> = f[6..].iter().map(|v| v.parse().unwrap()).collect();
        let arch = Architecture::new(act, depth, sw, sb).unwrap();
        let p = kernel_pair(&arch, &x, &y).unwrap();
        let k = kernels(&arch, &[x.clone(), y.clone()]).unwrap();
        let near_parallel = act.is_kinked() && depth == 3;
        let checks = [
            ("Σ", p.sigma, r[0], (r[3] * r[4]).sqrt()),
            (
                "Σ̇",
                p.sigma_dot,
                r[1],
                (k.sigma_dot[(0, 0)] * k.sigma_dot[(1, 1)]).sqrt(),
            ),
            ("Θ", p.ntk, r[2], (r[5] * r[6]).sqrt()),
            ("Σ(x,x)", k.sigma[(0, 0)], r[3], r[3]),
            ("Θ(x',x')", k.ntk[(1, 1)], r[6], r[6]),
        ];
        for (what, got, want, scale) in checks {
            let (err, tol) = if near_parallel {
                ((got - want).abs() / want.abs(), 1e-12)
            } else {
                (
                    (got - want).abs() / if scale > 0.0 { scale } else { 1.0 },
                    TOL,
                )
            };
            println!(
                "{act} depth {depth} σw {sw} σb {sb} {what}: error {err:.2e} (tolerance {tol:.0e})"
            );
            if err > tol {
                failures.push(format!(
                    "{act} {depth} {sw} {sb} {what}: {got:e} vs {want:e} ({err:.1e})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
