//! The finite-width networks against the infinite-width kernels: a tiny analytic recursion with the
//! closed forms for relu and erf (written here, independent of `numeric::kernel`), the Monte Carlo
//! mean of the empirical kernels inside its confidence interval, and the empirical NTK converging
//! at rate width^(−1/2) (draws from the shared width-study sampler, a log–log fit of `stats`).

// References come from the system libm, apart from the crate::numeric::portable under test.
#![allow(clippy::disallowed_methods)]

use derive::numeric::activation::Activation;
use derive::numeric::kernel::Architecture;
use derive::numeric::network::{
    empirical_kernels_with, sample_widths, McOptions, Network, NetworkError,
};
use derive::numeric::stats::{self, LogLogFit};
use nalgebra::DMatrix;
use std::f64::consts::PI;

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).
fn expectations(act: Activation, s11: f64, s22: f64, s12: f64) -> (f64, f64) {
    match act {
        Activation::Relu => {
            let theta = ((s11 * s22 - s12 * s12).max(0.0).sqrt()).atan2(s12);
            let ff = (s11 * s22).sqrt() / (2.0 * PI) * (theta.sin() + (PI - theta) * theta.cos());
            (ff, (PI - theta) / (2.0 * PI))
        }
        Activation::Erf => {
            let d = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22);
            let ff = 2.0 / PI * (2.0 * s12 / d.sqrt()).asin();
            (ff, 4.0 / PI / (d - 4.0 * s12 * s12).sqrt())
        }
        other => panic!("no closed form for {other} in this test"),
    }
}

/// (Σ^(L+1), Θ^(L+1)) for inputs given as rows of `x`.
fn analytic(arch: &Architecture, x: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let (n, n0) = x.shape();
    let (sw2, sb2) = (arch.sigma_w.powi(2), arch.sigma_b.powi(2));
    let mut sigma = (x * x.transpose()) * (sw2 / n0 as f64);
    sigma.add_scalar_mut(sb2);
    let mut theta = sigma.clone();
    for _ in 0..arch.depth {
        let mut next = DMatrix::zeros(n, n);
        let mut dot = DMatrix::zeros(n, n);
        for i in 0..n {
            for j in 0..n {
                let (ff, dd) =
                    expectations(arch.activation, sigma[(i, i)], sigma[(j, j)], sigma[(i, j)]);
                next[(i, j)] = sw2 * ff + sb2;
                dot[(i, j)] = sw2 * dd;
            }
        }
        theta = theta.component_mul(&dot) + &next;
        sigma = next;
    }
    (sigma, theta)
}

fn inputs() -> DMatrix<f64> {
    // Four inputs in R^5 with a spread of norms and angles (one pair nearly parallel).
    DMatrix::from_row_slice(
        4,
        5,
        &[
            1.0, 0.5, -0.3, 0.8, 0.1, //
            -0.7, 1.2, 0.4, 0.0, -0.9, //
            0.9, 0.6, -0.2, 0.7, 0.3, //
            0.2, -0.4, 1.5, -0.6, 0.5,
        ],
    )
}

/// Per width (in the order given) and draw (seeds `base..base + seeds`, the same at every
/// width): the RMS over all N² entries of Θ̂ − Θ.
fn rms_by_width(
    arch: &Architecture,
    x: &DMatrix<f64>,
    widths: &[usize],
    seeds: u64,
    base: u64,
    theta: &DMatrix<f64>,
) -> Vec<Vec<f64>> {
    let n = x.nrows() as f64;
    sample_widths(widths, base..base + seeds, |width, seed| {
        let net = Network::sample(arch, x.ncols(), width, seed)?;
        Ok::<_, NetworkError>((net.empirical_ntk(x)? - theta).norm() / n)
    })
    .unwrap()
}

/// Least-squares fit of log RMS against log width over every (width, draw) pair, so the slope's
/// interval reflects the scatter between draws (expected slope −1/2).
fn fit(widths: &[usize], rms: &[Vec<f64>], level: f64) -> LogLogFit {
    let (mut xs, mut ys) = (vec![], vec![]);
    for (&w, draws) in widths.iter().zip(rms) {
        for &r in draws {
            xs.push(w as f64);
            ys.push(r);
        }
    }
    stats::loglog_fit(&xs, &ys, level).unwrap()
}

fn quiet() -> McOptions {
    McOptions {
        progress: false,
        ..McOptions::default()
    }
}

#[test]
fn depth_one_nngp_is_exact_in_expectation() {
    // For L = 1 the readout's covariance is σw²/n Σ_i φ(h_i)φ(h_i') + σb², an unbiased estimate of
    // Σ²: the Monte Carlo interval must contain it.
    for act in [Activation::Relu, Activation::Erf] {
        let arch = Architecture::new(act, 1, 1.5, 0.3).unwrap();
        let x = inputs();
        let (sigma, _) = analytic(&arch, &x);
        let mc = empirical_kernels_with(&arch, &x, 128, 40, 1000, &quiet()).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                let d = (mc.nngp_mean[(i, j)] - sigma[(i, j)]).abs();
                assert!(
                    d <= mc.nngp_half_width[(i, j)],
                    "{act} ({i},{j}): mean {} ± {} vs {}",
                    mc.nngp_mean[(i, j)],
                    mc.nngp_half_width[(i, j)],
                    sigma[(i, j)]
                );
            }
        }
    }
}

#[test]
fn monte_carlo_kernels_match_analytic_kernels() {
    // Depth 2–3 at width 512: the finite-width bias is O(1/n) ≈ 0.2% relative, well inside the
    // simultaneous intervals of 24 draws; allow it explicitly as 1% of the entry.
    for act in [Activation::Relu, Activation::Erf] {
        for depth in [2, 3] {
            let arch = Architecture::new(act, depth, 1.4, 0.2).unwrap();
            let x = inputs();
            let (sigma, theta) = analytic(&arch, &x);
            let mc = empirical_kernels_with(&arch, &x, 512, 24, 7, &quiet()).unwrap();
            for i in 0..4 {
                for j in 0..4 {
                    let (s, t) = (sigma[(i, j)], theta[(i, j)]);
                    let ds = (mc.nngp_mean[(i, j)] - s).abs();
                    let dt = (mc.ntk_mean[(i, j)] - t).abs();
                    assert!(
                        ds <= mc.nngp_half_width[(i, j)] + 0.01 * s.abs(),
                        "{act} L={depth} Σ({i},{j}): {} ± {} vs {s}",
                        mc.nngp_mean[(i, j)],
                        mc.nngp_half_width[(i, j)]
                    );
                    assert!(
                        dt <= mc.ntk_half_width[(i, j)] + 0.01 * t.abs(),
                        "{act} L={depth} Θ({i},{j}): {} ± {} vs {t}",
                        mc.ntk_mean[(i, j)],
                        mc.ntk_half_width[(i, j)]
                    );
                }
            }
        }
    }
}

#[test]
fn empirical_ntk_converges_at_rate_one_over_sqrt_width() {
    // Six configurations, so each slope interval is at 1 − 0.05/6 (Bonferroni): all six hold
    // together with probability ≥ 95% if the rate is −1/2. The intervals come from the scatter of
    // log RMS over 12 draws × 3 widths (34 degrees of freedom).
    let level = stats::bonferroni(0.95, 6).unwrap();
    let x = inputs();
    for act in [Activation::Relu, Activation::Erf] {
        for depth in 1..=3 {
            let arch = Architecture::new(act, depth, 1.4, 0.2).unwrap();
            let (_, theta) = analytic(&arch, &x);
            let widths = [64, 256, 1024];
            let rms = rms_by_width(&arch, &x, &widths, 12, 42, &theta);
            let fit = fit(&widths, &rms, level);
            let ci = fit.slope_interval;
            assert!(
                ci.contains(-0.5),
                "{act} L={depth}: slope {:.3} ∈ [{:.3}, {:.3}] excludes −1/2",
                fit.slope,
                ci.lo(),
                ci.hi()
            );
            // And it discriminates: it excludes both no convergence (0) and a 1/width rate (−1).
            assert!(ci.hi() < 0.0 && ci.lo() > -1.0, "{act} L={depth}: {ci:?}");
            println!(
                "{act} L={depth}: slope {:.3} ± {:.3}",
                ci.center, ci.half_width
            );
        }
    }
}

#[test]
fn infinite_width_limit_is_reached_by_single_wide_draws() {
    // One draw at width 4096, depth 1: Θ̂ within a few percent of Θ entrywise (std ∝ 1/√n ≈ 1.6%).
    let arch = Architecture::new(Activation::Erf, 1, 1.2, 0.1).unwrap();
    let x = inputs();
    let (_, theta) = analytic(&arch, &x);
    let net = Network::sample(&arch, 5, 4096, 3).unwrap();
    let ntk = net.empirical_ntk(&x).unwrap();
    let rel = (&ntk - &theta).amax() / theta.amax();
    assert!(rel < 0.08, "relative discrepancy {rel}");
}

/// Larger study (widths 64…4096, 32 draws): slope ≈ −1/2 and RMS·√width constant up to the
/// Monte Carlo scatter of the per-width means (each within 4 of its own standard errors, plus 3%
/// for the O(1/width) bias, of the pooled mean). About a minute.
/// `cargo test --test network_convergence -- --ignored --nocapture`
#[test]
#[ignore]
fn width_study_large() {
    let x = inputs();
    for act in [Activation::Relu, Activation::Erf] {
        for depth in 1..=3 {
            let arch = Architecture::new(act, depth, 1.4, 0.2).unwrap();
            let (_, theta) = analytic(&arch, &x);
            let widths = [64, 128, 256, 512, 1024, 2048, 4096];
            let rms = rms_by_width(&arch, &x, &widths, 32, 99, &theta);
            let fit = fit(&widths, &rms, 0.99);
            // RMS·√width per width: constant if the discrepancy falls as 1/√width.
            let means: Vec<f64> = rms.iter().map(|r| stats::mean(r).unwrap()).collect();
            let scaled: Vec<f64> = means
                .iter()
                .zip(&widths)
                .map(|(m, &w)| m * (w as f64).sqrt())
                .collect();
            let mean = stats::mean(&scaled).unwrap();
            let spread = scaled
                .iter()
                .map(|s| (s / mean - 1.0).abs())
                .fold(0.0, f64::max);
            println!(
                "{act} L={depth}: slope {:.3} ± {:.3}; RMS·√n = {:?} (max deviation {:.1}%)",
                fit.slope,
                fit.slope_interval.half_width,
                scaled.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>(),
                100.0 * spread
            );
            assert!(fit.slope_interval.contains(-0.5));
            for (((draws, m), s), width) in rms.iter().zip(&means).zip(&scaled).zip(widths) {
                let rel_se = stats::std_error(draws).unwrap() / m;
                let dev = (s / mean - 1.0).abs();
                assert!(
                    dev <= 4.0 * rel_se + 0.03,
                    "{act} L={depth} width {width}: RMS·√n off the mean by {dev:.3} (se {rel_se:.3})"
                );
            }
        }
    }
}
