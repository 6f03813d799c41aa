//! Numerical derivatives and 1-D integrals for the numeric side of the prover, in one place.
//!
//! - [`derivative`]: central differences extrapolated to zero step (Ridders' scheme: a Neville
//!   tableau in h², the step shrinking by 1.4 per row), with an error estimate taken from the
//!   tableau. Typically 1e-13 relative for smooth functions.
//! - [`integrate`]: the `quadrature` crate's double-exponential rule on a finite interval. That
//!   crate silently replaces NaN and ±∞ integrand values by 0; here any non-finite value is an
//!   error ([`DiffError::NonFinite`]), so an endpoint singularity is reported rather than hidden.
//! - [`activation_derivative`]: φ' of an [`Activation`] by [`derivative`], keeping the steps on
//!   one side of a kink.

use std::cell::Cell;

use super::activation::Activation;

/// Why a derivative or integral could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffError {
    /// The function returned NaN or ±∞.
    #[error("the function is not finite at x = {x} (value {value})")]
    NonFinite {
        /// Where.
        x: f64,
        /// What it returned.
        value: f64,
    },
    /// A point or step that is not finite, or a non-positive step.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The integration interval has a non-finite end.
    #[error("integration needs a finite interval, got [{a}, {b}]")]
    InvalidInterval {
        /// Lower end.
        a: f64,
        /// Upper end.
        b: f64,
    },
    /// The integral's error estimate stayed above the tolerance.
    #[error(
        "integral did not converge: estimate {value} with error {error} > tolerance {tolerance}"
    )]
    NotConverged {
        /// The last estimate.
        value: f64,
        /// Its error estimate.
        error: f64,
        /// The requested absolute tolerance.
        tolerance: f64,
    },
    /// A derivative requested exactly at a kink of a kinked activation.
    #[error("{0} has a kink at 0; its derivative there is a convention, not a limit")]
    Kink(Activation),
}

/// Default absolute tolerance of [`integrate`].
pub const DEFAULT_TOLERANCE: f64 = 1e-12;

fn eval(f: &dyn Fn(f64) -> f64, x: f64) -> Result<f64, DiffError> {
    let value = f(x);
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DiffError::NonFinite { x, value })
    }
}

/// f'(t) and an error estimate, with initial step 0.1·max(1, |t|). See [`derivative_with_step`].
pub fn derivative(f: &dyn Fn(f64) -> f64, t: f64) -> Result<(f64, f64), DiffError> {
    derivative_with_step(f, t, 0.1 * t.abs().max(1.0))
}

/// f'(t) and an error estimate by Richardson-extrapolated central differences, starting from step
/// `h0` (f must be smooth on [t − h0, t + h0]).
///
/// Row i of the tableau holds the central difference with step h0/1.4ⁱ; column j removes the
/// h^(2j) error term. The answer is the entry whose difference from its two predecessors is
/// smallest, and that difference is the error estimate; the tableau stops once the diagonal's
/// error grows to twice the best so far (rounding has taken over).
pub fn derivative_with_step(
    f: &dyn Fn(f64) -> f64,
    t: f64,
    h0: f64,
) -> Result<(f64, f64), DiffError> {
    const SHRINK: f64 = 1.4;
    const ROWS: usize = 12;
    const SAFE: f64 = 2.0;
    if !t.is_finite() {
        return Err(DiffError::InvalidArgument("point is not finite"));
    }
    if !(h0.is_finite() && h0 > 0.0) {
        return Err(DiffError::InvalidArgument(
            "step must be finite and positive",
        ));
    }
    let central = |h: f64| -> Result<f64, DiffError> {
        // Use the step that is actually representable around t.
        let h = (t + h) - t;
        Ok((eval(f, t + h)? - eval(f, t - h)?) / (2.0 * h))
    };
    let mut table = [[0.0f64; ROWS]; ROWS];
    let mut h = h0;
    table[0][0] = central(h)?;
    let mut best = table[0][0];
    let mut err = f64::INFINITY;
    for i in 1..ROWS {
        h /= SHRINK;
        table[i][0] = central(h)?;
        let mut fac = SHRINK * SHRINK;
        for j in 1..=i {
            table[i][j] = (table[i][j - 1] * fac - table[i - 1][j - 1]) / (fac - 1.0);
            fac *= SHRINK * SHRINK;
            let e = (table[i][j] - table[i][j - 1])
                .abs()
                .max((table[i][j] - table[i - 1][j - 1]).abs());
            if e <= err {
                err = e;
                best = table[i][j];
            }
        }
        if (table[i][i] - table[i - 1][i - 1]).abs() >= SAFE * err {
            break;
        }
    }
    Ok((best, err))
}

/// A definite integral with its error estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Integral {
    /// The value.
    pub value: f64,
    /// The rule's own absolute error estimate.
    pub error: f64,
    /// Number of integrand evaluations.
    pub evaluations: u32,
}

/// ∫ₐᵇ f to the absolute tolerance [`DEFAULT_TOLERANCE`]. See [`integrate_with_tolerance`].
pub fn integrate(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> Result<Integral, DiffError> {
    integrate_with_tolerance(f, a, b, DEFAULT_TOLERANCE)
}

/// ∫ₐᵇ f by the double-exponential (tanh–sinh) rule of the `quadrature` crate, to absolute
/// tolerance `tolerance`. Errors if a, b are not finite, if f is NaN or ±∞ at any abscissa the
/// rule visits (an integrable endpoint singularity included — the crate would count it as 0),
/// or if the rule's error estimate stays above the tolerance. b < a gives −∫ᵇₐ f.
pub fn integrate_with_tolerance(
    f: &dyn Fn(f64) -> f64,
    a: f64,
    b: f64,
    tolerance: f64,
) -> Result<Integral, DiffError> {
    if !(a.is_finite() && b.is_finite()) {
        return Err(DiffError::InvalidInterval { a, b });
    }
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(DiffError::InvalidArgument(
            "tolerance must be finite and positive",
        ));
    }
    if a == b {
        return Ok(Integral {
            value: 0.0,
            error: 0.0,
            evaluations: 0,
        });
    }
    let (lo, hi, sign) = if a < b { (a, b, 1.0) } else { (b, a, -1.0) };
    let bad: Cell<Option<(f64, f64)>> = Cell::new(None);
    let guarded = |x: f64| {
        let v = f(x);
        if !v.is_finite() && bad.get().is_none() {
            bad.set(Some((x, v)));
        }
        v
    };
    let out = quadrature::double_exponential::integrate(guarded, lo, hi, tolerance);
    if let Some((x, value)) = bad.get() {
        return Err(DiffError::NonFinite { x, value });
    }
    if !(out.error_estimate <= tolerance && out.integral.is_finite()) {
        return Err(DiffError::NotConverged {
            value: sign * out.integral,
            error: out.error_estimate,
            tolerance,
        });
    }
    Ok(Integral {
        value: sign * out.integral,
        error: out.error_estimate,
        evaluations: out.num_function_evaluations,
    })
}

/// φ'(x) and an error estimate by [`derivative_with_step`]. For kinked activations the initial
/// step is at most |x|/2 so no difference straddles the kink at 0, and x = 0 is an error.
pub fn activation_derivative(act: Activation, x: f64) -> Result<(f64, f64), DiffError> {
    let mut h0 = 0.1 * x.abs().max(1.0);
    if act.is_kinked() {
        if x == 0.0 {
            return Err(DiffError::Kink(act));
        }
        h0 = h0.min(0.5 * x.abs());
    }
    derivative_with_step(&|z| act.eval(z), x, h0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_is_accurate_for_smooth_functions() {
        type Case<'a> = (&'a dyn Fn(f64) -> f64, f64, f64);
        let cases: [Case; 4] = [
            (&|x: f64| x.exp(), 0.7, 0.7f64.exp()),
            (&|x: f64| x.sin(), 2.0, 2.0f64.cos()),
            (&|x: f64| 1.0 / (1.0 + x * x), -0.3, 0.6 / (1.09f64 * 1.09)),
            (&|x: f64| x.ln(), 50.0, 0.02),
        ];
        for (f, t, want) in cases {
            let (d, err) = derivative(f, t).unwrap();
            assert!(
                (d - want).abs() < 1e-12 * want.abs().max(1.0),
                "{d} vs {want}"
            );
            assert!(err < 1e-9, "error estimate {err}");
            assert!(
                (d - want).abs() <= 10.0 * err + 1e-15,
                "{d} vs {want}, err {err}"
            );
        }
    }

    #[test]
    fn derivative_reports_non_finite_values() {
        let r = derivative(&|x: f64| x.ln(), 0.05);
        assert!(matches!(r, Err(DiffError::NonFinite { .. })), "{r:?}");
        assert!(derivative_with_step(&|x| x, 1.0, 0.0).is_err());
        assert!(derivative(&|x| x, f64::NAN).is_err());
    }

    #[test]
    fn activation_derivatives_agree() {
        for act in Activation::ALL {
            for &x in &[-2.3, -0.7, -0.05, 0.4, 1.9] {
                let (d, err) = activation_derivative(act, x).unwrap();
                let want = act.deriv(x);
                assert!(
                    (d - want).abs() <= 1e-10 * want.abs().max(1.0),
                    "{act} at {x}: {d} (±{err}) vs {want}"
                );
            }
        }
        assert_eq!(
            activation_derivative(Activation::Relu, 0.0),
            Err(DiffError::Kink(Activation::Relu))
        );
    }

    #[test]
    fn integrate_smooth_functions() {
        let e = integrate(&|x: f64| x.exp(), 0.0, 1.0).unwrap();
        assert!(
            (e.value - (std::f64::consts::E - 1.0)).abs() < 1e-13,
            "{e:?}"
        );
        // Reversed bounds flip the sign.
        let r = integrate(&|x: f64| x.exp(), 1.0, 0.0).unwrap();
        assert!((r.value + e.value).abs() < 1e-15);
        // ∫_{-1}^{1} √(1 − x²) = π/2 (endpoint derivative singularity, finite values).
        let c = integrate(&|x: f64| (1.0 - x * x).max(0.0).sqrt(), -1.0, 1.0).unwrap();
        assert!(
            (c.value - std::f64::consts::FRAC_PI_2).abs() < 1e-12,
            "{c:?}"
        );
        assert_eq!(integrate(&|x| x, 2.0, 2.0).unwrap().value, 0.0);
    }

    #[test]
    fn integrate_refuses_non_finite_integrands() {
        // The crate alone would return a finite number here.
        let raw = quadrature::double_exponential::integrate(|x: f64| 1.0 / x, -1.0, 1.0, 1e-10);
        assert!(raw.integral.is_finite());
        let r = integrate(&|x: f64| 1.0 / x, -1.0, 1.0);
        assert!(matches!(r, Err(DiffError::NonFinite { .. })), "{r:?}");
        let nan = integrate(&|x: f64| if x > 0.5 { f64::NAN } else { 1.0 }, 0.0, 1.0);
        assert!(matches!(nan, Err(DiffError::NonFinite { .. })));
        assert!(matches!(
            integrate(&|x| x, 0.0, f64::INFINITY),
            Err(DiffError::InvalidInterval { .. })
        ));
    }
}
