//! The `ode_solution` derivation's closed form against an independent integration: RK4 (with
//! step halving) on df/dt = −ηΘ(f − Y) for the analytic NTK of a ReLU network on five inputs must
//! agree with Y + exp(−ηΘt)(f0 − Y); note 002's second form (η dropped from one exponential) must
//! not.

// References come from the system libm, apart from the crate::numeric::portable under test.
#![allow(clippy::disallowed_methods)]

use derive::numeric::activation::Activation;
use derive::numeric::kernel::{kernels, Architecture};
use derive::numeric::ode::{exp_symmetric, rk4_checked};
use nalgebra::{DMatrix, DVector};

fn setup() -> (DMatrix<f64>, DVector<f64>, DVector<f64>) {
    let inputs: Vec<Vec<f64>> = (0..5)
        .map(|i| {
            let a = i as f64;
            vec![(0.7 * a).sin() + 0.3, (1.3 * a).cos(), 0.2 * a - 0.5]
        })
        .collect();
    let arch = Architecture::new(Activation::Relu, 2, 1.3, 0.2).unwrap();
    let k = kernels(&arch, &inputs).unwrap();
    let theta = k.ntk;
    let f0 = DVector::from_vec(vec![0.3, -1.1, 0.4, 0.9, -0.2]);
    let y = DVector::from_vec(vec![1.0, 0.0, -0.5, 0.5, 0.25]);
    (theta, f0, y)
}

fn max_gap(
    closed: impl Fn(&DMatrix<f64>, &DVector<f64>, &DVector<f64>, f64, f64) -> DVector<f64>,
) -> f64 {
    let (theta, f0, y) = setup();
    let eta = 0.7;
    let mut worst: f64 = 0.0;
    for t in [0.05, 0.2, 0.5, 1.0] {
        let rhs = |_: f64, f: &DVector<f64>| -(&theta * (f - &y)) * eta;
        let (num, err) = rk4_checked(&rhs, &f0, 0.0, t, 16, 1e-13).unwrap();
        assert!(err < 1e-12, "RK4 error estimate {err}");
        let c = closed(&theta, &f0, &y, eta, t);
        worst = worst.max((num - c).amax());
    }
    worst
}

#[test]
fn rk4_agrees_with_the_closed_form() {
    let gap = max_gap(|theta, f0, y, eta, t| {
        y + exp_symmetric(&(theta * (-eta * t))).unwrap() * (f0 - y)
    });
    println!("max |RK4 − closed form| = {gap:.2e}");
    assert!(gap < 1e-10, "{gap}");
}

#[test]
fn rk4_disagrees_with_note_002s_second_form() {
    let gap = max_gap(|theta, f0, y, eta, t| {
        let n = theta.nrows();
        exp_symmetric(&(theta * (-t))).unwrap() * f0
            + (DMatrix::identity(n, n) - exp_symmetric(&(theta * (-eta * t))).unwrap()) * y
    });
    println!("max |RK4 − note 002's form| = {gap:.2e}");
    assert!(gap > 1e-2, "{gap}");
}
