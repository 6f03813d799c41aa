//! Gradient flow in the kernel regime: the matrix exponential of a symmetric kernel matrix, an
//! independent fixed-step RK4 integrator to cross-check it, and the closed-form predictions of a
//! network trained by gradient flow on the MSE loss with a fixed NTK Θ.
//!
//! # Loss scaling
//!
//! For training inputs X (N of them), targets Y and learning rate η, the outputs follow
//! df/dt = −η·c·Θ(X, X)(f − Y), with c fixed by how the loss is normalised ([`LossScaling`]):
//!
//! | loss                         | c     | f(t)                              |
//! |------------------------------|-------|-----------------------------------|
//! | `Mean`: 1/(2N)·Σ‖f − y‖²     | 1/N   | Y + exp(−η·t·Θ/N)(f₀ − Y)         |
//! | `Sum`:  ½·Σ‖f − y‖²          | 1     | Y + exp(−η·t·Θ)(f₀ − Y)           |
//!
//! `Mean` is neural-tangents' convention (DESIGN.md §5); mixing the two changes predictions by
//! O(1), so every caller names one. A test point x* follows
//! f*(t) = f₀* + Θ(x*, X)·Θ⁻¹·(I − exp(−η·c·t·Θ))(Y − f₀), evaluated through the eigenbasis of Θ as
//! Θ(x*, X)·V·diag((1 − e^{−η c t λ})/λ)·Vᵀ(Y − f₀), which stays finite (→ η c t) for λ → 0.

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
    /// A kernel matrix with a clearly negative eigenvalue.
    #[error(
        "kernel must be positive semi-definite; smallest eigenvalue {min:e} (largest {max:e})"
    )]
    NotPsd {
        /// Smallest eigenvalue.
        min: f64,
        /// Largest eigenvalue.
        max: f64,
    },
    /// Operands of incompatible sizes.
    #[error("shape mismatch: {0}")]
    Shape(String),
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

/// How the MSE loss is normalised; decides the rate constant of gradient flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossScaling {
    /// L = 1/(2N)·Σ‖f − y‖²: f(t) = Y + exp(−η·t·Θ/N)(f₀ − Y) (neural-tangents' convention).
    #[default]
    Mean,
    /// L = ½·Σ‖f − y‖²: f(t) = Y + exp(−η·t·Θ)(f₀ − Y).
    Sum,
}

impl LossScaling {
    /// The factor c in df/dt = −η·c·Θ(f − Y) for `n` training points: 1/n or 1.
    pub fn factor(&self, n: usize) -> f64 {
        match self {
            LossScaling::Mean => 1.0 / n as f64,
            LossScaling::Sum => 1.0,
        }
    }
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
    Ok(spectral(&e, f64::exp))
}

/// Integrates y' = rhs(t, y) from t0 to t1 with `steps` classical fourth-order Runge–Kutta steps
/// of equal size.
pub fn rk4(
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

/// Gradient flow on the MSE loss with a fixed kernel Θ on the training inputs.
#[derive(Debug, Clone)]
pub struct GradientFlow {
    eigen: SymmetricEigen<f64, nalgebra::Dyn>,
    ntk: DMatrix<f64>,
    rate: f64,
}

impl GradientFlow {
    /// Builds the flow for the N×N training kernel `ntk` (symmetric, PSD up to
    /// −1e-10·λ_max), learning rate `eta` and the loss normalisation `scaling`.
    pub fn new(ntk: &DMatrix<f64>, eta: f64, scaling: LossScaling) -> Result<Self, OdeError> {
        if !eta.is_finite() {
            return Err(OdeError::NonFinite("learning rate"));
        }
        let eigen = eigen(ntk)?;
        let max = eigen.eigenvalues.max();
        let min = eigen.eigenvalues.min();
        if min < -1e-10 * max.abs().max(f64::MIN_POSITIVE) {
            return Err(OdeError::NotPsd { min, max });
        }
        Ok(GradientFlow {
            eigen,
            ntk: ntk.clone(),
            rate: eta * scaling.factor(ntk.nrows()),
        })
    }

    /// The rate η·c of df/dt = −η·c·Θ(f − Y).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn check(&self, v: &DVector<f64>, what: &'static str) -> Result<(), OdeError> {
        if v.len() != self.ntk.nrows() {
            return Err(OdeError::Shape(format!(
                "{what} has length {}, the kernel is {}×{}",
                v.len(),
                self.ntk.nrows(),
                self.ntk.nrows()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(OdeError::NonFinite(what));
        }
        Ok(())
    }

    /// The right-hand side −η·c·Θ(f − Y) of the training-output ODE.
    pub fn velocity(&self, f: &DVector<f64>, y: &DVector<f64>) -> DVector<f64> {
        &self.ntk * (f - y) * (-self.rate)
    }

    /// Training outputs at time t: Y + exp(−η·c·t·Θ)(f₀ − Y).
    pub fn train_outputs(
        &self,
        f0: &DVector<f64>,
        y: &DVector<f64>,
        t: f64,
    ) -> Result<DVector<f64>, OdeError> {
        self.check(f0, "initial outputs")?;
        self.check(y, "targets")?;
        if !t.is_finite() {
            return Err(OdeError::NonFinite("time"));
        }
        let r = self.rate * t;
        let decay = spectral(&self.eigen, |l| (-r * l).exp());
        Ok(y + decay * (f0 - y))
    }

    /// Outputs at test points at time t: f₀* + Θ(x*, X)·Θ⁻¹(I − exp(−η·c·t·Θ))(Y − f₀), with
    /// `ntk_test_train` the M×N kernel between test and training inputs and `f0_test` the M
    /// initial test outputs. Zero eigenvalues of Θ contribute their limit η·c·t.
    pub fn test_outputs(
        &self,
        ntk_test_train: &DMatrix<f64>,
        f0_test: &DVector<f64>,
        f0: &DVector<f64>,
        y: &DVector<f64>,
        t: f64,
    ) -> Result<DVector<f64>, OdeError> {
        self.check(f0, "initial outputs")?;
        self.check(y, "targets")?;
        if !t.is_finite() {
            return Err(OdeError::NonFinite("time"));
        }
        if ntk_test_train.ncols() != self.ntk.nrows() || ntk_test_train.nrows() != f0_test.len() {
            return Err(OdeError::Shape(format!(
                "test kernel is {}×{}, expected {}×{}",
                ntk_test_train.nrows(),
                ntk_test_train.ncols(),
                f0_test.len(),
                self.ntk.nrows()
            )));
        }
        if ntk_test_train
            .iter()
            .chain(f0_test.iter())
            .any(|x| !x.is_finite())
        {
            return Err(OdeError::NonFinite("test kernel or outputs"));
        }
        let r = self.rate * t;
        // (1 − e^{−rλ})/λ, with its limit r at λ = 0.
        let g = spectral(&self.eigen, |l| {
            let x = r * l;
            if x == 0.0 {
                r
            } else {
                -(-x).exp_m1() / l
            }
        });
        Ok(f0_test + ntk_test_train * (g * (y - f0)))
    }
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
    fn rk4_agrees_with_closed_form_on_training_points() {
        let theta = psd(5, 3) * 4.0;
        let f0 = DVector::from_column_slice(random(5, 1, 4).as_slice());
        let y = DVector::from_column_slice(random(5, 1, 5).as_slice());
        for scaling in [LossScaling::Mean, LossScaling::Sum] {
            let flow = GradientFlow::new(&theta, 0.8, scaling).unwrap();
            let t = 3.0;
            let closed = flow.train_outputs(&f0, &y, t).unwrap();
            let rhs = |_t: f64, f: &DVector<f64>| flow.velocity(f, &y);
            let ode = rk4(&rhs, &f0, 0.0, t, 2000).unwrap();
            assert!(
                (&ode - &closed).amax() < 1e-10,
                "{scaling:?}: {}",
                (&ode - &closed).amax()
            );
            let (checked, err) = rk4_checked(&rhs, &f0, 0.0, t, 10, 1e-12).unwrap();
            assert!(err <= 1e-12 * checked.amax().max(1.0));
            assert!((&checked - &closed).amax() < 1e-11);
        }
        // Mean scaling with η equals Sum scaling with η/N.
        let mean = GradientFlow::new(&theta, 0.8, LossScaling::Mean).unwrap();
        let sum = GradientFlow::new(&theta, 0.8 / 5.0, LossScaling::Sum).unwrap();
        let d =
            mean.train_outputs(&f0, &y, 2.0).unwrap() - sum.train_outputs(&f0, &y, 2.0).unwrap();
        assert!(d.amax() < 1e-14);
        // Long training fits the targets.
        let fit = mean.train_outputs(&f0, &y, 1e4).unwrap();
        assert!((fit - &y).amax() < 1e-8);
    }

    #[test]
    fn test_point_predictions_match_the_joint_ode() {
        // Joint kernel over 5 training and 3 test points; test outputs follow
        // df*/dt = −η c Θ(x*, X)(f − Y).
        let (n, m) = (5, 3);
        let joint = psd(n + m, 6);
        let theta = joint.view((0, 0), (n, n)).into_owned();
        let cross = joint.view((n, 0), (m, n)).into_owned();
        let f0_all = DVector::from_column_slice(random(n + m, 1, 7).as_slice());
        let f0 = f0_all.rows(0, n).into_owned();
        let f0_test = f0_all.rows(n, m).into_owned();
        let y = DVector::from_column_slice(random(n, 1, 8).as_slice());
        let flow = GradientFlow::new(&theta, 1.5, LossScaling::Mean).unwrap();
        let rate = flow.rate();
        let rhs = |_t: f64, z: &DVector<f64>| {
            let resid = z.rows(0, n) - &y;
            let mut out = DVector::zeros(n + m);
            out.rows_mut(0, n).copy_from(&(&theta * &resid * (-rate)));
            out.rows_mut(n, m).copy_from(&(&cross * &resid * (-rate)));
            out
        };
        let t = 5.0;
        let ode = rk4(&rhs, &f0_all, 0.0, t, 2000).unwrap();
        let closed = flow.test_outputs(&cross, &f0_test, &f0, &y, t).unwrap();
        let d = (ode.rows(n, m) - &closed).amax();
        assert!(d < 1e-10, "{d}");
        // A singular kernel (rank 2) still gives finite predictions, and they match the ODE.
        let b = random(n + m, 2, 9);
        let low = &b * b.transpose();
        let theta = low.view((0, 0), (n, n)).into_owned();
        let cross = low.view((n, 0), (m, n)).into_owned();
        let flow = GradientFlow::new(&theta, 1.0, LossScaling::Sum).unwrap();
        let rate = flow.rate();
        let rhs = |_t: f64, z: &DVector<f64>| {
            let resid = z.rows(0, n) - &y;
            let mut out = DVector::zeros(n + m);
            out.rows_mut(0, n).copy_from(&(&theta * &resid * (-rate)));
            out.rows_mut(n, m).copy_from(&(&cross * &resid * (-rate)));
            out
        };
        let (ode, _) = rk4_checked(&rhs, &f0_all, 0.0, 0.5, 50, 1e-13).unwrap();
        let closed = flow.test_outputs(&cross, &f0_test, &f0, &y, 0.5).unwrap();
        assert!((ode.rows(n, m) - &closed).amax() < 1e-9 * closed.amax().max(1.0));
    }

    #[test]
    fn rejects_bad_kernels_and_shapes() {
        let mut bad = DMatrix::identity(3, 3);
        bad[(2, 2)] = -1.0;
        assert!(matches!(
            GradientFlow::new(&bad, 1.0, LossScaling::Mean),
            Err(OdeError::NotPsd { .. })
        ));
        let flow = GradientFlow::new(&DMatrix::identity(3, 3), 1.0, LossScaling::Mean).unwrap();
        assert!(matches!(
            flow.train_outputs(&DVector::zeros(2), &DVector::zeros(3), 1.0),
            Err(OdeError::Shape(_))
        ));
        assert!(rk4(&|_, y| y.clone(), &DVector::zeros(1), 0.0, 1.0, 0).is_err());
    }
}
