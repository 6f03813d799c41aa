//! The one tolerance policy for comparing two numerically evaluated sides of a link.
//!
//! An exact evaluation carries a magnitude scale `S` (the same computation on absolute values,
//! see [`Value`]). Evaluating a sum or product of `n` terms in f64 has a forward rounding error of
//! at most about `n·ε·S` with ε = 2.2e-16; the terms our links expand to number at most a few
//! hundred, so the rounding error is below `1e-13·S`. We accept
//!
//! ```text
//! |lhs − rhs| ≤ REL·max(|lhs|, |rhs|) + SCALE·max(S_lhs, S_rhs)
//! ```
//!
//! with `REL = SCALE = 1e-12`, a margin of ~5× over that bound (and the quadrature reference's
//! 1e-13 accuracy). A wrong constant, sign, index or dropped term changes the value by far more
//! than 1e-12 of its scale at generic points, which is why points are sampled away from the
//! special values where wrong formulas often agree.
//!
//! Exact constants are folded as rationals before they reach f64 ([`super::eval`]), so constants
//! that cancel (`a + 10^20 − 10^20`) contribute nothing to `S`: the scale cannot be inflated by a
//! term that is not there.
//!
//! Monte Carlo values carry a standard error σ. When both sides' expectations can be merged into
//! one `E[lhs − rhs]` (they occur linearly), the difference is estimated from the same samples
//! (common random numbers) and the sides agree when `|mean(lhs − rhs)| ≤ z·σ(lhs − rhs)` plus the
//! rounding allowance ([`compare_difference`]); otherwise `|lhs − rhs| ≤ z·√(σl²+σr²)` plus the
//! rounding allowance. `z` is the two-sided normal quantile at level α/m (Bonferroni over the m
//! points of a link), α = 1e-4. An estimate needs [`super::eval::MC_MIN_NONZERO`] samples with a
//! non-zero integrand and no sample dominating its variance (else: not evaluated, divergent).
//!
//! Quadrature of E[f(z)] carries its error estimate inside the scale (`S` grows by 1e12 × the
//! estimate, so the allowance `1e-12·S` covers it). For gauss(s11, s12, s22; F) the scale is
//! E[S_F], the integrand's own magnitude scale integrated against the Gaussian density by the
//! same quadrature (the rounding of each node's value is relative to its S_F, and the weights are
//! the density's), not the largest S_F on the grid: exp(0.45·u²) reaches 1e16 at 9 standard
//! deviations while E[exp(0.45·u²)] = 3.2.
//!
//! Non-finite values never agree with anything.

use super::eval::Value;
use crate::numeric::portable::Portable;
use statrs::distribution::{ContinuousCDF, Normal};

pub use crate::precision::{ALPHA, REL, SCALE};

/// The result of comparing two values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// |lhs − rhs| (NaN if either is not finite).
    pub diff: f64,
    /// lhs − rhs with its sign, as exactly as the comparison knows it (the difference of the
    /// ball midpoints in ball arithmetic, the merged difference's estimate where one was
    /// evaluated): an inequality is on the wrong side by this, not by the difference of the
    /// sides' f64 images (10²⁰ + 1000 and 10²⁰ round to the same double). NaN where not finite.
    pub signed: f64,
    /// The allowed difference.
    pub tol: f64,
    /// Did Monte Carlo enter the comparison?
    pub statistical: bool,
    /// The standard error that the allowance counts `z` times (0 when not statistical).
    pub sigma: f64,
    /// Is the allowance a rigorous bound (ball arithmetic), not the f64 rounding policy?
    pub rigorous: bool,
}

impl Comparison {
    /// Do the values agree? (Never when a value is not finite.)
    pub fn agrees(&self) -> bool {
        self.diff.is_finite() && self.tol.is_finite() && self.diff <= self.tol
    }

    /// The same comparison as one of `to` comparisons instead of `from` (the Bonferroni factor
    /// when a link's points are extended after the first were made).
    pub fn as_one_of(self, from: usize, to: usize) -> Comparison {
        Comparison {
            tol: self.tol + (z(to) - z(from)) * self.sigma,
            ..self
        }
    }
}

/// The two-sided normal quantile at level α/m.
fn z(comparisons: usize) -> f64 {
    let m = comparisons.max(1) as f64;
    Normal::standard().inverse_cdf(1.0 - ALPHA / (2.0 * m))
}

/// Compare `l` and `r`, one of `comparisons` made for the same claim (for the Bonferroni factor).
pub fn compare(l: Value, r: Value, comparisons: usize) -> Comparison {
    if !l.value.is_finite() || !r.value.is_finite() {
        return Comparison {
            diff: f64::NAN,
            signed: f64::NAN,
            tol: 0.0,
            statistical: false,
            sigma: 0.0,
            rigorous: false,
        };
    }
    let diff = (l.value - r.value).abs();
    let mut tol = REL * l.value.abs().max(r.value.abs()) + SCALE * l.scale.max(r.scale);
    let statistical = l.stderr > 0.0 || r.stderr > 0.0;
    // hypot: squaring an uncertainty of 1e168 would overflow to an infinite allowance.
    let sigma = l.stderr.phypot(r.stderr);
    if statistical {
        tol += z(comparisons) * sigma;
    }
    Comparison {
        // A tolerance that is not a number (a rounding scale 0·∞: √ at 0) decides nothing, in
        // particular not agreement.
        diff: if tol.is_nan() { f64::NAN } else { diff },
        signed: if tol.is_nan() {
            f64::NAN
        } else {
            l.value - r.value
        },
        tol,
        statistical,
        sigma: if statistical { sigma } else { 0.0 },
        rigorous: false,
    }
}

/// Compare the two sides through `d`, the estimate of E[lhs − rhs] from common samples: the
/// difference is `|d|`, the allowance the rounding of both sides plus `z` standard errors of `d`.
pub fn compare_difference(d: Value, l: Value, r: Value, comparisons: usize) -> Comparison {
    if !d.value.is_finite() || !l.value.is_finite() || !r.value.is_finite() {
        return Comparison {
            diff: f64::NAN,
            signed: f64::NAN,
            tol: 0.0,
            statistical: false,
            sigma: 0.0,
            rigorous: false,
        };
    }
    let tol = REL * l.value.abs().max(r.value.abs())
        + SCALE * l.scale.max(r.scale).max(d.scale)
        + z(comparisons) * d.stderr;
    Comparison {
        diff: if tol.is_nan() {
            f64::NAN
        } else {
            d.value.abs()
        },
        signed: if tol.is_nan() { f64::NAN } else { d.value },
        tol,
        statistical: d.stderr > 0.0,
        sigma: d.stderr,
        rigorous: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: f64) -> Value {
        Value {
            value,
            scale: value.abs(),
            stderr: 0.0,
        }
    }

    #[test]
    fn huge_uncertainties_give_a_finite_allowance() {
        let big = |value: f64, stderr: f64| Value {
            value,
            scale: value.abs(),
            stderr,
        };
        // The sides agree within their uncertainties: squaring 7e168 must not overflow.
        let c = compare(big(-7.78e178, 7.2e168), big(-7.78e178 + 1e167, 0.0), 24);
        assert!(c.tol.is_finite() && c.agrees(), "{c:?}");
        // And a real difference at that size still disagrees.
        assert!(!compare(big(-7.78e178, 7.2e168), big(-3.0e178, 0.0), 24).agrees());
    }

    #[test]
    fn exact_values_agree_to_rounding_only() {
        assert!(compare(v(1.0), v(1.0 + 1e-14), 1).agrees());
        assert!(!compare(v(1.0), v(1.0 + 1e-9), 1).agrees());
    }

    #[test]
    fn nan_never_agrees() {
        assert!(!compare(v(f64::NAN), v(f64::NAN), 1).agrees());
        assert!(!compare(v(f64::INFINITY), v(f64::INFINITY), 1).agrees());
        // A rounding scale that is not a number (0·∞: √ at 0) decides nothing either.
        let nan_scale = Value {
            value: 0.0,
            scale: f64::NAN,
            stderr: 0.0,
        };
        assert!(!compare(nan_scale, nan_scale, 1).agrees());
        assert!(compare(nan_scale, nan_scale, 1).diff.is_nan());
    }

    #[test]
    fn monte_carlo_widens_by_its_standard_error() {
        let mc = Value {
            value: 1.01,
            scale: 1.0,
            stderr: 0.01,
        };
        assert!(compare(mc, v(1.0), 10).agrees());
        assert!(!compare(mc, v(1.2), 10).agrees());
    }
}
