//! Gradient flow in the kernel regime, as an independent check of the `ode_solution` derivation
//! (tests/ode_solution.rs): the matrix exponential of a symmetric kernel matrix, and a fixed-step
//! RK4 integrator with step halving that solves df/dt = −ηΘ(f − Y) without it. The integrator
//! also computes the unknown functions of derivation files from their ODE and initial condition
//! (`derivation/hypotheses.rs`).

use crate::numeric::portable::Portable;
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Why a matrix function or an ODE solve failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdeError {
    /// A matrix that must be square is not.
    #[error("matrix must be square, got {rows}×{cols}")]
    NotSquare {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A matrix that must be symmetric is not (relative asymmetry given).
    #[error("matrix must be symmetric; max |A − Aᵀ| / max |A| = {0:e}")]
    NotSymmetric(f64),
    /// A NaN or infinite entry, time or step.
    #[error("non-finite value in {0}")]
    NonFinite(&'static str),
    /// A step count of zero or a non-positive tolerance.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Step halving did not reach the tolerance.
    #[error("RK4 did not reach tolerance {tolerance:e} with {steps} steps (error {error:e})")]
    NotConverged {
        /// Requested tolerance.
        tolerance: f64,
        /// Steps of the last attempt.
        steps: usize,
        /// Last error estimate.
        error: f64,
    },
}

fn check_symmetric(a: &DMatrix<f64>) -> Result<(), OdeError> {
    if !a.is_square() {
        return Err(OdeError::NotSquare {
            rows: a.nrows(),
            cols: a.ncols(),
        });
    }
    if a.iter().any(|x| !x.is_finite()) {
        return Err(OdeError::NonFinite("matrix"));
    }
    let scale = a.amax();
    let asym = (a - a.transpose()).amax();
    if asym > 1e-12 * scale {
        return Err(OdeError::NotSymmetric(asym / scale));
    }
    Ok(())
}

/// Eigendecomposition of the symmetrised matrix (A + Aᵀ)/2.
fn eigen(a: &DMatrix<f64>) -> Result<SymmetricEigen<f64, nalgebra::Dyn>, OdeError> {
    check_symmetric(a)?;
    let sym = (a + a.transpose()) * 0.5;
    Ok(SymmetricEigen::new(sym))
}

/// V·diag(g(λ))·Vᵀ.
fn spectral(e: &SymmetricEigen<f64, nalgebra::Dyn>, g: impl Fn(f64) -> f64) -> DMatrix<f64> {
    let mut scaled = e.eigenvectors.clone();
    for (mut col, &l) in scaled.column_iter_mut().zip(e.eigenvalues.iter()) {
        col *= g(l);
    }
    &scaled * e.eigenvectors.transpose()
}

/// exp(A) for a symmetric A, by eigendecomposition: V·diag(e^λ)·Vᵀ. A must be symmetric to
/// 1e-12 relative; it is symmetrised before decomposing.
pub fn exp_symmetric(a: &DMatrix<f64>) -> Result<DMatrix<f64>, OdeError> {
    let e = eigen(a)?;
    Ok(spectral(&e, f64::pexp))
}

/// Integrates y' = rhs(t, y) from t0 to t1 with `steps` classical fourth-order Runge–Kutta steps
/// of equal size.
fn rk4(
    rhs: &dyn Fn(f64, &DVector<f64>) -> DVector<f64>,
    y0: &DVector<f64>,
    t0: f64,
    t1: f64,
    steps: usize,
) -> Result<DVector<f64>, OdeError> {
    if steps == 0 {
        return Err(OdeError::InvalidArgument("steps must be at least 1"));
    }
    if !(t0.is_finite() && t1.is_finite()) {
        return Err(OdeError::NonFinite("time interval"));
    }
    let h = (t1 - t0) / steps as f64;
    let mut y = y0.clone();
    for i in 0..steps {
        let t = t0 + i as f64 * h;
        let k1 = rhs(t, &y);
        let k2 = rhs(t + 0.5 * h, &(&y + &k1 * (0.5 * h)));
        let k3 = rhs(t + 0.5 * h, &(&y + &k2 * (0.5 * h)));
        let k4 = rhs(t + h, &(&y + &k3 * h));
        y += (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (h / 6.0);
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(OdeError::NonFinite("RK4 solution"));
    }
    Ok(y)
}

/// RK4 with step halving: starting from `steps0` steps, doubles the step count until the
/// Richardson estimate |y_{h/2} − y_h|∞ / 15 of the error of y_{h/2} is at most
/// `tolerance`·max(1, |y|∞) (at most 2¹⁶ times the initial count). Returns the extrapolated
/// solution y_{h/2} + (y_{h/2} − y_h)/15 and the error estimate.
pub fn rk4_checked(
    rhs: &dyn Fn(f64, &DVector<f64>) -> DVector<f64>,
    y0: &DVector<f64>,
    t0: f64,
    t1: f64,
    steps0: usize,
    tolerance: f64,
) -> Result<(DVector<f64>, f64), OdeError> {
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(OdeError::InvalidArgument("tolerance must be positive"));
    }
    let mut steps = steps0.max(1);
    let mut coarse = rk4(rhs, y0, t0, t1, steps)?;
    let mut error = f64::INFINITY;
    for _ in 0..16 {
        steps *= 2;
        let fine = rk4(rhs, y0, t0, t1, steps)?;
        let diff = &fine - &coarse;
        error = diff.amax() / 15.0;
        if error <= tolerance * fine.amax().max(1.0) {
            return Ok((fine + diff / 15.0, error));
        }
        coarse = fine;
    }
    Err(OdeError::NotConverged {
        tolerance,
        steps,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;
    use rand_pcg::Pcg64;

    fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = Pcg64::seed_from_u64(seed);
        DMatrix::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    /// A random PSD kernel on train + test points: K = B Bᵀ / dim.
    fn psd(n: usize, seed: u64) -> DMatrix<f64> {
        let b = random(n, 3 * n, seed);
        &b * b.transpose() / (3 * n) as f64
    }

    #[test]
    fn exp_matches_taylor_series() {
        let a = psd(5, 1) * 0.7 - DMatrix::identity(5, 5) * 0.3;
        let mut term = DMatrix::identity(5, 5);
        let mut sum = term.clone();
        for k in 1..40 {
            term = &term * &a / k as f64;
            sum += &term;
        }
        let e = exp_symmetric(&a).unwrap();
        assert!(
            (&e - &sum).amax() < 1e-13 * sum.amax(),
            "{}",
            (&e - &sum).amax()
        );
        let inv = exp_symmetric(&(-&a)).unwrap();
        assert!((e * inv - DMatrix::identity(5, 5)).amax() < 1e-13);
        assert!(matches!(
            exp_symmetric(&random(3, 3, 2)),
            Err(OdeError::NotSymmetric(_))
        ));
        assert!(matches!(
            exp_symmetric(&random(3, 2, 2)),
            Err(OdeError::NotSquare { .. })
        ));
    }

    #[test]
    fn rk4_agrees_with_the_matrix_exponential() {
        // y' = −A y with A symmetric PSD: y(t) = exp(−tA) y0.
        let a = psd(5, 3) * 4.0;
        let y0 = DVector::from_column_slice(random(5, 1, 4).as_slice());
        let t = 0.7;
        let closed = exp_symmetric(&(&a * -t)).unwrap() * &y0;
        let rhs = |_t: f64, y: &DVector<f64>| -(&a * y);
        let ode = rk4(&rhs, &y0, 0.0, t, 2000).unwrap();
        assert!(
            (&ode - &closed).amax() < 1e-10,
            "{}",
            (&ode - &closed).amax()
        );
        let (checked, err) = rk4_checked(&rhs, &y0, 0.0, t, 10, 1e-12).unwrap();
        assert!(err <= 1e-12 * checked.amax().max(1.0));
        assert!((&checked - &closed).amax() < 1e-11);
        assert!(rk4(&|_, y| y.clone(), &DVector::zeros(1), 0.0, 1.0, 0).is_err());
        assert!(rk4_checked(&rhs, &y0, 0.0, t, 10, 0.0).is_err());
    }
}
