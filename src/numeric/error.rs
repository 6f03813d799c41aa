//! The error type shared by the numeric modules (Gaussian expectations, closed forms, kernels).

/// How [`NumericError::NotDecaying`] names the weight beyond the domain.
fn share_text(share: f64) -> String {
    if share.is_finite() {
        format!("still {share:.1e} of the total")
    } else {
        "not decaying, or the integrand overflows".to_string()
    }
}

/// Why a numeric computation was refused or failed.
///
/// Every error names the offending value; none of them is a panic, since all of them can be
/// caused by user input (a covariance, an architecture, a file of inputs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NumericError {
    /// A covariance matrix [[s11, s12], [s12, s22]] is not finite, has a negative variance or is
    /// not positive semi-definite.
    #[error("invalid covariance [[{s11:e}, {s12:e}], [{s12:e}, {s22:e}]]: {reason}")]
    InvalidCovariance {
        /// Variance of the first coordinate.
        s11: f64,
        /// Covariance of the two coordinates.
        s12: f64,
        /// Variance of the second coordinate.
        s22: f64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A variance is negative or not finite.
    #[error("invalid variance {0}: must be finite and ≥ 0")]
    InvalidVariance(f64),
    /// The integrand returned a NaN or an infinity at the point (u, v) (v = 0 for 1-D integrals).
    #[error("integrand is not finite ({value}) at u = {u}, v = {v}")]
    NonFiniteIntegrand {
        /// First coordinate of the point.
        u: f64,
        /// Second coordinate of the point.
        v: f64,
        /// The value returned there.
        value: f64,
    },
    /// A quadrature did not reach its tolerance with the finest rule it tries.
    #[error("quadrature did not converge: estimate {estimate}, error estimate {error}")]
    NoConvergence {
        /// The best estimate.
        estimate: f64,
        /// Its estimated absolute error.
        error: f64,
    },
    /// The integrand's weight (its magnitude times the density) does not become negligible at
    /// the ends of the largest integration domain: its expectation may be infinite.
    #[error("the integrand does not decay fast enough (its weight beyond {end} standard deviations is {}), so the expectation may be infinite", share_text(*share))]
    NotDecaying {
        /// The largest end tried, in standard deviations.
        end: f64,
        /// The estimated weight beyond it, as a fraction of the integral of the scale.
        share: f64,
    },
    /// The integrand vanished at every node of the rule: a feature narrower than the nodes
    /// cannot be ruled out.
    #[error("the integrand vanished at every node: a feature narrower than the nodes cannot be ruled out")]
    Unresolved,
    /// The covariance is singular, or a variance 0, only to within its rounding, and the
    /// expectation jumps there (E[step(u)] is ½ for a positive variance and step(0) = 0 at 0):
    /// which reading holds is not known in f64.
    #[error("the covariance is degenerate only to within its rounding ({0}), and the expectation jumps there ({1:.6e} against {2:.6e} in the limit): which holds is not known in f64")]
    JumpAtDegenerate(&'static str, f64, f64),
    /// A curve of the integrand has more zeros along a line than the quadrature cuts at, or
    /// oscillates in step with the grid they are searched on: a narrow feature at each would
    /// not be resolved.
    #[error("a curve of the integrand {0}: a narrow feature at each zero would not be resolved")]
    UnresolvedFeatures(String),
    /// An architecture (depth, σw, σb, activation parameters) is not valid.
    #[error("invalid architecture: {0}")]
    InvalidArchitecture(String),
    /// The inputs to a kernel computation are not valid.
    #[error("invalid inputs: {0}")]
    InvalidInputs(String),
}
