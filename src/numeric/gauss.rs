//! Gaussian expectations E[F(u, v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]) and E[f(u)] for
//! u ~ N(0, s), to ~1e-15 relative accuracy.
//!
//! Two rules, chosen by [`Shape`]:
//!
//! - [`Shape::KinkedAtAxes`] (relu, step, leaky relu, abs and their derivatives): after whitening,
//!   (u, v) = (a·r·cos t, b·r·cos(t − α)) with a = √s11, b = √s22, α = atan2(√det, s12). The lines
//!   u = 0 and v = 0 cut the plane into four wedges; inside each the integrand is smooth, and a
//!   Gauss–Legendre rule in the angle times a composite Gauss–Legendre rule in the radius (on
//!   [0, 10], the weight r·e^(−r²/2) is below 1e-21 beyond) integrates it to machine precision.
//! - [`Shape::Smooth`]: trapezoid rule in Cholesky coordinates u = a·z1, v = b·(ρ·z1 + c·z2) over
//!   [−9, 9]², which converges geometrically for analytic integrands. The step is halved (from 0.2)
//!   until, from step 0.05 on, two successive steps agree to 3e-8 of the scale Σ|F|; the error
//!   estimate is the last difference times its ratio to the one before (geometric convergence). Where the grid has not
//!   converged at step 0.2/16 (or is far from it at 0.05), the integrand has features narrow in
//!   those units (the activations' width ~1 in u and v at a large variance): nested globally adaptive Gauss–Legendre in z2 inside
//!   z1 takes over, its first panels graded towards u = 0 and v = 0 at that width (so no narrow
//!   peak falls between all first nodes), accepted at 1e-12 of E|F|.
//!
//! Degenerate covariances are reduced exactly: a zero variance fixes that coordinate at 0, and
//! ρ = ±1 (det = 0) reduces to the 1-D integral E[F(a·z, ±b·z)], z ~ N(0, 1).
//!
//! Non-finite integrand values are errors ([`NumericError::NonFiniteIntegrand`]), never dropped.

use super::error::NumericError;
use std::f64::consts::{FRAC_PI_2, PI};
use std::sync::OnceLock;

pub use crate::precision::PSD_SLACK;

/// A 2×2 covariance matrix [[s11, s12], [s12, s22]].
///
/// Build it with [`Cov2::new`], which validates it; the functions of this module re-validate a
/// `Cov2` built by hand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cov2 {
    /// Var(u).
    pub s11: f64,
    /// Cov(u, v).
    pub s12: f64,
    /// Var(v).
    pub s22: f64,
}

impl Cov2 {
    /// A validated covariance: all entries finite, s11 ≥ 0, s22 ≥ 0 and s12² ≤ s11·s22. A |s12|
    /// exceeding √(s11·s22) by at most the relative [`PSD_SLACK`] (rounding in a recursion) is
    /// clamped to ±√(s11·s22); more is an error.
    pub fn new(s11: f64, s12: f64, s22: f64) -> Result<Self, NumericError> {
        let bad = |reason| NumericError::InvalidCovariance {
            s11,
            s12,
            s22,
            reason,
        };
        if !(s11.is_finite() && s12.is_finite() && s22.is_finite()) {
            return Err(bad("entries must be finite"));
        }
        if s11 < 0.0 || s22 < 0.0 {
            return Err(bad("variances must be ≥ 0"));
        }
        if s12.abs() > s11.sqrt() * s22.sqrt() * (1.0 + PSD_SLACK) {
            return Err(bad("not positive semi-definite (s12² > s11·s22)"));
        }
        let mut s12c = s12;
        if det2_raw(s11, s12, s22) < 0.0 {
            // Within the slack: clamp to the boundary so that det() is exactly 0 (ρ = ±1).
            let mut mag = (s11 * s22).sqrt();
            while det2_raw(s11, mag, s22) > 0.0 {
                mag = f64::from_bits(mag.to_bits() + 1);
            }
            s12c = mag.copysign(s12);
        }
        Ok(Cov2 {
            s11,
            s12: s12c,
            s22,
        })
    }

    /// The covariance of (u, u) for u ~ N(0, s): [[s, s], [s, s]].
    pub fn diagonal(s: f64) -> Result<Self, NumericError> {
        Cov2::new(s, s, s)
    }

    /// The determinant s11·s22 − s12², computed with fused multiply-adds so that it is accurate
    /// relative to itself even when it is tiny (ρ → ±1); clamped at 0.
    pub fn det(&self) -> f64 {
        det2(self.s11, self.s12, self.s22)
    }

    /// The correlation s12/√(s11·s22), or `None` if a variance is 0.
    pub fn corr(&self) -> Option<f64> {
        let m = self.s11.sqrt() * self.s22.sqrt();
        (m > 0.0).then(|| (self.s12 / m).clamp(-1.0, 1.0))
    }
}

/// s11·s22 − s12² with the rounding errors of both products compensated; clamped at 0.
pub(crate) fn det2(s11: f64, s12: f64, s22: f64) -> f64 {
    det2_raw(s11, s12, s22).max(0.0)
}

/// s11·s22 − s12² with the rounding errors of both products compensated (may be negative).
fn det2_raw(s11: f64, s12: f64, s22: f64) -> f64 {
    let p = s11 * s22;
    let ep = s11.mul_add(s22, -p);
    let q = s12 * s12;
    let eq = s12.mul_add(s12, -q);
    (p - q) + (ep - eq)
}

/// Where an integrand may fail to be smooth; this selects the quadrature rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Analytic in both arguments (erf, tanh, gelu, sin, cos, softplus, sigmoid, ...).
    Smooth,
    /// Smooth except across the axes u = 0 and v = 0 (relu, step, leaky relu, abs, ...).
    KinkedAtAxes,
}

/// A Gauss–Legendre rule on [−1, 1].
struct Rule {
    x: Vec<f64>,
    w: Vec<f64>,
}

/// Legendre polynomial P_n(x) and its derivative, by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 2..=n {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

/// The n-point Gauss–Legendre nodes and weights (Newton's method on P_n from the Tricomi initial
/// guesses), computed once per n and cached.
fn gauss_legendre(n: usize) -> &'static Rule {
    const MAX: usize = 129;
    static CACHE: [OnceLock<Rule>; MAX] = [const { OnceLock::new() }; MAX];
    assert!(
        (1..MAX).contains(&n),
        "Gauss–Legendre size {n} out of range"
    );
    CACHE[n].get_or_init(|| {
        let mut x = vec![0.0; n];
        let mut w = vec![0.0; n];
        let nf = n as f64;
        for i in 0..n.div_ceil(2) {
            let mut z = (PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
            for _ in 0..100 {
                let (p, dp) = legendre(n, z);
                let dz = p / dp;
                z -= dz;
                if dz.abs() <= 1e-16 * z.abs().max(1e-300) {
                    break;
                }
            }
            let (_, dp) = legendre(n, z);
            let wi = 2.0 / ((1.0 - z * z) * dp * dp);
            x[i] = -z;
            x[n - 1 - i] = z;
            w[i] = wi;
            w[n - 1 - i] = wi;
        }
        if n % 2 == 1 {
            x[n / 2] = 0.0;
        }
        Rule { x, w }
    })
}

/// Radial extent of the polar and half-line rules (e^(−R²/2) ≈ 2e-22).
const RADIUS: f64 = 10.0;
/// Panel edges of the composite radial rule on [0, RADIUS]. With 14 nodes per panel the moments
/// ∫ r^k·r·e^(−r²/2) (k ≤ 7) come out within 1e-15; a factor varying as fast as tanh(3r) within
/// ~2e-11 (such integrands should use [`Shape::Smooth`] when they have no kink).
const PANELS: [f64; 5] = [0.0, 2.0, 4.0, 6.0, RADIUS];
/// Gauss–Legendre nodes per radial panel.
const RADIAL_NODES: usize = 14;
/// Gauss–Legendre nodes per angular wedge.
const ANGULAR_NODES: usize = 16;

/// A rule on [0, ∞): nodes r_k and weights that include the Gaussian factor.
struct Radial {
    r: Vec<f64>,
    w: Vec<f64>,
}

/// Composite Gauss–Legendre on the panels, with weight `weight(r)` folded into the weights.
fn radial_rule(weight: impl Fn(f64) -> f64) -> Radial {
    radial_rule_with(weight, &PANELS, RADIAL_NODES)
}

fn radial_rule_with(weight: impl Fn(f64) -> f64, panels: &[f64], n: usize) -> Radial {
    let gl = gauss_legendre(n);
    let mut r = Vec::new();
    let mut w = Vec::new();
    for p in panels.windows(2) {
        let (mid, half) = ((p[0] + p[1]) / 2.0, (p[1] - p[0]) / 2.0);
        for (x, wx) in gl.x.iter().zip(&gl.w) {
            let rk = mid + half * x;
            r.push(rk);
            w.push(half * wx * weight(rk));
        }
    }
    Radial { r, w }
}

/// ∫₀^∞ g(r)·r·e^(−r²/2)/(2π) dr: the radial part of a 2-D standard normal in polar coordinates.
fn polar_radial() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| radial_rule(|r| r * (-0.5 * r * r).exp() / (2.0 * PI)))
}

/// ∫₀^∞ g(z)·e^(−z²/2)/√(2π) dz: one half of a 1-D standard normal.
fn half_line() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| radial_rule(|z| (-0.5 * z * z).exp() / (2.0 * PI).sqrt()))
}

/// Standard normal density.
fn phi(z: f64) -> f64 {
    (-0.5 * z * z).exp() * (0.5 / PI).sqrt()
}

#[inline]
fn check(value: f64, u: f64, v: f64) -> Result<f64, NumericError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(NumericError::NonFiniteIntegrand { u, v, value })
    }
}

/// Half-width of the trapezoid grid in standard-normal units.
const TRAP_RANGE: f64 = 9.0;
/// First trapezoid step (the comparison step); the first accepted step is half of it.
const TRAP_H0: f64 = 0.2;
/// Successive trapezoid sums must agree to this fraction of Σ|F| (the error then is ~its square).
const TRAP_AGREE: f64 = 3e-8;
/// Finest 2-D trapezoid level tried (step TRAP_H0 / 2^level) before the adaptive rule
/// ([`nested_adaptive`]) takes over.
const TRAP_MAX_LEVEL_2D: u32 = 4;
/// A difference of successive trapezoid sums above this fraction of the scale at the third
/// level (step 0.05) sends the integral to the adaptive rule at once: the grid does not resolve
/// the integrand (a feature of width ~1 in u or v at a standard deviation ≫ 1), and each
/// further level would cost four times the last.
const TRAP_HOPELESS: f64 = 1e-4;
/// Gauss–Legendre nodes per half panel of the adaptive rule.
const ADAPT_NODES: usize = 10;
/// Most panels the adaptive rule may use in one dimension.
const ADAPT_MAX_PANELS: usize = 400;
/// Relative error (of the scale ∫|g|) the adaptive rule aims at in each dimension.
const ADAPT_REL: f64 = 1e-13;
/// Relative error (of the scale E|F|) at which the nested adaptive rule's result is accepted:
/// its two dimensions' estimates add, and an inner integral may stop at its panel limit.
const ADAPT_ACCEPT: f64 = 1e-12;
/// Finest 1-D trapezoid level tried.
const TRAP_MAX_LEVEL_1D: u32 = 8;

/// E[f(u)] for u ~ N(0, var).
///
/// `var = 0` evaluates f(0). Kinked integrands (at u = 0) are split at 0; smooth ones use the
/// trapezoid rule. Errors: invalid variance, non-finite integrand values, no convergence.
pub fn expect1(f: &dyn Fn(f64) -> f64, var: f64, shape: Shape) -> Result<f64, NumericError> {
    if !var.is_finite() || var < 0.0 {
        return Err(NumericError::InvalidVariance(var));
    }
    let s = var.sqrt();
    if s == 0.0 {
        return check(f(0.0), 0.0, 0.0);
    }
    match shape {
        Shape::KinkedAtAxes => {
            let rule = half_line();
            let mut sum = 0.0;
            for (z, w) in rule.r.iter().zip(&rule.w) {
                let (up, um) = (s * z, -s * z);
                sum += w * (check(f(up), up, 0.0)? + check(f(um), um, 0.0)?);
            }
            Ok(sum)
        }
        Shape::Smooth => {
            let m0 = (TRAP_RANGE / TRAP_H0).ceil() as i64;
            let mut h = TRAP_H0;
            let (mut sum, mut abs) = (0.0, 0.0);
            for i in -m0..=m0 {
                let z = i as f64 * h;
                let u = s * z;
                let val = phi(z) * check(f(u), u, 0.0)?;
                sum += val;
                abs += val.abs();
            }
            let mut prev = h * sum;
            let mut m = m0;
            for _level in 1..=TRAP_MAX_LEVEL_1D {
                h /= 2.0;
                m *= 2;
                for i in (-m + 1..m).step_by(2) {
                    let z = i as f64 * h;
                    let u = s * z;
                    let val = phi(z) * check(f(u), u, 0.0)?;
                    sum += val;
                    abs += val.abs();
                }
                let cur = h * sum;
                if (cur - prev).abs() <= 1e-3 * TRAP_AGREE * h * abs && h <= 0.05 {
                    return Ok(cur);
                }
                prev = cur;
            }
            Err(NumericError::NoConvergence {
                estimate: prev,
                error: f64::NAN,
            })
        }
    }
}

/// E[F(u, v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).
///
/// Errors: an invalid covariance, non-finite integrand values, no convergence.
pub fn expect2(f: &dyn Fn(f64, f64) -> f64, cov: Cov2, shape: Shape) -> Result<f64, NumericError> {
    let cov = Cov2::new(cov.s11, cov.s12, cov.s22)?;
    let (a, b) = (cov.s11.sqrt(), cov.s22.sqrt());
    if a == 0.0 && b == 0.0 {
        return check(f(0.0, 0.0), 0.0, 0.0);
    }
    if a == 0.0 {
        return expect1(&|v| f(0.0, v), cov.s22, shape);
    }
    if b == 0.0 {
        return expect1(&|u| f(u, 0.0), cov.s11, shape);
    }
    let det = cov.det();
    if det == 0.0 {
        // ρ = ±1: v = ±(b/a)·u exactly.
        let sb = if cov.s12 >= 0.0 { b } else { -b };
        return expect1(&|z| f(a * z, sb * z), 1.0, shape);
    }
    match shape {
        Shape::KinkedAtAxes => Ok(wedges(f, a, b, cov.s12, det)?),
        Shape::Smooth => {
            let ab = a * b;
            trapezoid2(f, a, b, cov.s12 / ab, det.sqrt() / ab).map(|(v, _)| v)
        }
    }
}

/// Angular nodes per wedge and radial nodes per panel of the finer kinked rule
/// ([`expect2_estimated`]).
const FINE_ANGULAR_NODES: usize = 24;
const FINE_RADIAL_NODES: usize = 20;

fn polar_radial_fine() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| {
        radial_rule_with(
            |r| r * (-0.5 * r * r).exp() / (2.0 * PI),
            &PANELS,
            FINE_RADIAL_NODES,
        )
    })
}

/// [`expect2`] with an estimate of its error, for a checker that must not mistake quadrature
/// error for a difference. The kinked rule has fixed nodes, which an integrand narrow against
/// the variances (e.g. e^(−v²) with Var v = 70) can defeat: it is evaluated with a finer rule
/// too, the finer value is returned and the difference of the two is its error estimate. The
/// smooth rule's estimate is the square of its last two values' difference relative to the
/// scale (geometric convergence), or, where the adaptive rule took over, that rule's own
/// estimate (accepted up to 1e-12 of E|F|, far above rounding).
pub fn expect2_estimated(
    f: &dyn Fn(f64, f64) -> f64,
    cov: Cov2,
    shape: Shape,
) -> Result<(f64, f64), NumericError> {
    let c = Cov2::new(cov.s11, cov.s12, cov.s22)?;
    let (a, b, det) = (c.s11.sqrt(), c.s22.sqrt(), c.det());
    if shape == Shape::KinkedAtAxes && a > 0.0 && b > 0.0 && det > 0.0 {
        let coarse = wedges(f, a, b, c.s12, det)?;
        let fine = wedges_with(f, a, b, c.s12, det, FINE_ANGULAR_NODES, polar_radial_fine())?;
        return Ok((fine, (fine - coarse).abs()));
    }
    if shape == Shape::Smooth && a > 0.0 && b > 0.0 && det > 0.0 {
        let ab = a * b;
        return trapezoid2(f, a, b, c.s12 / ab, det.sqrt() / ab);
    }
    expect2(f, cov, shape).map(|v| (v, 0.0))
}

/// E[f(u)·g(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]); see [`expect2`].
pub fn expect_pair(
    f: &dyn Fn(f64) -> f64,
    g: &dyn Fn(f64) -> f64,
    cov: Cov2,
    shape: Shape,
) -> Result<f64, NumericError> {
    expect2(&|u, v| f(u) * g(v), cov, shape)
}

/// The four-wedge polar rule for integrands kinked at the axes, for 0 < α < π.
fn wedges(
    f: &dyn Fn(f64, f64) -> f64,
    a: f64,
    b: f64,
    s12: f64,
    det: f64,
) -> Result<f64, NumericError> {
    wedges_with(f, a, b, s12, det, ANGULAR_NODES, polar_radial())
}

/// [`wedges`] with `angular` Gauss–Legendre nodes per wedge and the radial rule `rad`.
fn wedges_with(
    f: &dyn Fn(f64, f64) -> f64,
    a: f64,
    b: f64,
    s12: f64,
    det: f64,
    angular: usize,
    rad: &Radial,
) -> Result<f64, NumericError> {
    let alpha = det.sqrt().atan2(s12);
    // u = a·r·cos t vanishes at t = ±π/2, v = b·r·cos(t − α) at t = α ± π/2.
    let edges = [
        -FRAC_PI_2,
        alpha - FRAC_PI_2,
        FRAC_PI_2,
        alpha + FRAC_PI_2,
        3.0 * FRAC_PI_2,
    ];
    let gl = gauss_legendre(angular);
    let mut total = 0.0;
    for e in edges.windows(2) {
        let (mid, half) = ((e[0] + e[1]) / 2.0, (e[1] - e[0]) / 2.0);
        let mut wedge = 0.0;
        for (x, wx) in gl.x.iter().zip(&gl.w) {
            let t = mid + half * x;
            let (cu, cv) = (a * t.cos(), b * (t - alpha).cos());
            let mut radial = 0.0;
            for (r, wr) in rad.r.iter().zip(&rad.w) {
                let (u, v) = (r * cu, r * cv);
                radial += wr * check(f(u, v), u, v)?;
            }
            wedge += wx * radial;
        }
        total += half * wedge;
    }
    Ok(total)
}

/// Trapezoid rule in Cholesky coordinates u = a·z1, v = b·(ρ·z1 + c·z2), refined by halving.
fn trapezoid2(
    f: &dyn Fn(f64, f64) -> f64,
    a: f64,
    b: f64,
    rho: f64,
    c: f64,
) -> Result<(f64, f64), NumericError> {
    let mut h = TRAP_H0;
    let mut m = (TRAP_RANGE / h).ceil() as i64;
    let (mut sum, mut abs) = (0.0, 0.0);
    // Adds the grid nodes (i·h, j·h), |i|, |j| ≤ m, skipping those with both indices even when
    // `only_new` (they belong to the previous, coarser grid).
    let add = |h: f64, m: i64, only_new: bool, sum: &mut f64, abs: &mut f64| {
        for i in -m..=m {
            let z1 = i as f64 * h;
            let p1 = phi(z1);
            let u = a * z1;
            let v0 = b * rho * z1;
            let (start, step) = if only_new && i % 2 == 0 {
                (-m + 1, 2)
            } else {
                (-m, 1)
            };
            let mut row = 0.0;
            let mut row_abs = 0.0;
            let mut j = start;
            while j <= m {
                let z2 = j as f64 * h;
                let v = v0 + b * c * z2;
                let val = phi(z2) * check(f(u, v), u, v)?;
                row += val;
                row_abs += val.abs();
                j += step;
            }
            *sum += p1 * row;
            *abs += p1 * row_abs;
        }
        Ok::<(), NumericError>(())
    };
    add(h, m, false, &mut sum, &mut abs)?;
    let mut prev = h * h * sum;
    let mut last_diff = f64::INFINITY;
    for level in 1..=TRAP_MAX_LEVEL_2D {
        h /= 2.0;
        m *= 2;
        add(h, m, true, &mut sum, &mut abs)?;
        let cur = h * h * sum;
        let d = (cur - prev).abs();
        // Accepted from the second level on, where two differences show the rate: the error
        // of `cur` is about d·(d/d_prev) (geometric convergence), at most d. (Two early values
        // can agree because the integral is small against the scale, not because the grid
        // resolves the integrand: u·tanh(v) at ρ ≈ 0 and Var v = 180 agreed to 3e-8 at step
        // 0.1 while wrong by 1e-11 of the scale.)
        if level >= 2 && d <= TRAP_AGREE * h * h * abs {
            let rate = if last_diff > 0.0 {
                (d / last_diff).min(1.0)
            } else {
                1.0
            };
            return Ok((cur, d * rate));
        }
        last_diff = d;
        // Geometric convergence squares the difference at each level: one still above
        // TRAP_HOPELESS of the scale at step 0.05 means a feature the grid does not resolve.
        if level >= 2 && (cur - prev).abs() > TRAP_HOPELESS * h * h * abs {
            break;
        }
        prev = cur;
    }
    nested_adaptive(f, a, b, rho, c)
}

/// Panel edges on [−TRAP_RANGE, TRAP_RANGE] graded towards `center`: center ± width·2^k, so that
/// a feature of that width at the center is seen by the first rule (an adaptive rule whose first
/// nodes all miss a narrow peak would agree with itself on a wrong value).
fn graded(center: f64, width: f64) -> Vec<f64> {
    let (lo, hi) = (-TRAP_RANGE, TRAP_RANGE);
    let center = center.clamp(lo, hi);
    let mut edges = vec![lo, center, hi];
    let mut d = width.min(TRAP_RANGE);
    while d < 2.0 * TRAP_RANGE {
        edges.extend([center - d, center + d]);
        d *= 2.0;
    }
    edges.extend([-4.5, 4.5]);
    let mut edges: Vec<f64> = edges
        .into_iter()
        .filter(|e| (lo..=hi).contains(e))
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup_by(|x, y| (*x - *y).abs() < 1e-12);
    edges
}

/// An integral by [`adaptive`]: its value, its scale ∫|g|, its discretisation error estimate
/// and the error it inherits from the integrand's own values (an inner integral's).
#[derive(Debug, Clone, Copy, Default)]
struct Integral {
    value: f64,
    scale: f64,
    err: f64,
    inherited: f64,
}

impl Integral {
    fn add(self, o: Integral, w: f64) -> Integral {
        Integral {
            value: self.value + w * o.value,
            scale: self.scale + w * o.scale,
            err: self.err + w * o.err,
            inherited: self.inherited + w * o.inherited,
        }
    }
}

/// ∫ g over the panels `edges` by globally adaptive Gauss–Legendre: the panel with the largest
/// discretisation error estimate (the difference of its rule and the sum of the rules on its
/// halves) is halved until the estimates add up to at most [`ADAPT_REL`] of the scale, or
/// [`ADAPT_MAX_PANELS`] are used (the estimate then says so). `g` gives each point's value,
/// scale and error (an inner integral's; 0 for a plain function).
fn adaptive(
    g: &mut dyn FnMut(f64) -> Result<Integral, NumericError>,
    edges: &[f64],
) -> Result<Integral, NumericError> {
    let gl = gauss_legendre(ADAPT_NODES);
    let mut rule = |a: f64, b: f64| -> Result<Integral, NumericError> {
        let (mid, half) = ((a + b) / 2.0, (b - a) / 2.0);
        let mut acc = Integral::default();
        for (x, w) in gl.x.iter().zip(&gl.w) {
            let y = g(mid + half * x)?;
            acc = acc.add(
                Integral {
                    value: y.value,
                    scale: y.scale,
                    err: 0.0,
                    inherited: y.err + y.inherited,
                },
                half * w,
            );
        }
        Ok(acc)
    };
    // A panel: its ends, the rule on its two halves, and its discretisation error estimate.
    struct Panel {
        a: f64,
        b: f64,
        left: Integral,
        right: Integral,
        err: f64,
    }
    // `whole`: the rule on the panel, when its parent computed it as one of its halves.
    let mut make = |a: f64, b: f64, whole: Option<f64>| -> Result<Panel, NumericError> {
        let whole = match whole {
            Some(w) => w,
            None => rule(a, b)?.value,
        };
        let m = (a + b) / 2.0;
        let (left, right) = (rule(a, m)?, rule(m, b)?);
        Ok(Panel {
            a,
            b,
            left,
            right,
            err: (whole - left.value - right.value).abs(),
        })
    };
    let mut panels = Vec::with_capacity(ADAPT_MAX_PANELS);
    for e in edges.windows(2) {
        panels.push(make(e[0], e[1], None)?);
    }
    loop {
        let total = panels.iter().fold(Integral::default(), |acc, p| {
            let mut t = acc.add(p.left, 1.0).add(p.right, 1.0);
            t.err = acc.err + p.err;
            t
        });
        if total.err <= ADAPT_REL * total.scale || panels.len() >= ADAPT_MAX_PANELS {
            return Ok(total);
        }
        let worst = (0..panels.len())
            .max_by(|&i, &j| panels[i].err.total_cmp(&panels[j].err))
            .expect("panels");
        let p = panels.swap_remove(worst);
        let m = (p.a + p.b) / 2.0;
        panels.push(make(p.a, m, Some(p.left.value))?);
        panels.push(make(m, p.b, Some(p.right.value))?);
    }
}

/// The 2-D expectation in Cholesky coordinates by [`adaptive`] in z2 inside [`adaptive`] in z1,
/// for integrands narrow against the variances (e^(−v²) with Var v = 10⁴), which a uniform grid
/// resolves only at a prohibitive step. The panels are graded towards u = 0 and v = 0, where
/// the activations' features are, at their width 1 in u and v. The result is accepted when the
/// outer and inner error estimates together are at most [`ADAPT_ACCEPT`] of the scale
/// E|F(u, v)| (an inner integral that cancels to rounding noise is judged against the whole).
fn nested_adaptive(
    f: &dyn Fn(f64, f64) -> f64,
    a: f64,
    b: f64,
    rho: f64,
    c: f64,
) -> Result<(f64, f64), NumericError> {
    // In z1 the integrand changes with u = a·z1 and, through v's mean b·ρ·z1, with v.
    let outer_edges = graded(0.0, 1.0 / a.max(b * rho.abs()).max(1.0));
    let inner_width = 1.0 / (b * c).max(1.0);
    let mut outer = |z1: f64| -> Result<Integral, NumericError> {
        let p1 = phi(z1);
        if p1 == 0.0 {
            return Ok(Integral::default());
        }
        let u = a * z1;
        let v0 = b * rho * z1;
        // v = v0 + b·c·z2 is 0 at z2 = −v0/(b·c).
        let edges = graded(-v0 / (b * c), inner_width);
        let mut inner = |z2: f64| -> Result<Integral, NumericError> {
            let v = v0 + b * c * z2;
            let y = phi(z2) * check(f(u, v), u, v)?;
            Ok(Integral {
                value: y,
                scale: y.abs(),
                ..Integral::default()
            })
        };
        let r = adaptive(&mut inner, &edges)?;
        Ok(Integral {
            value: p1 * r.value,
            scale: p1 * r.scale,
            err: p1 * (r.err + r.inherited),
            inherited: 0.0,
        })
    };
    let r = adaptive(&mut outer, &outer_edges)?;
    let error = r.err + r.inherited;
    if error <= ADAPT_ACCEPT * r.scale {
        Ok((r.value, error))
    } else {
        Err(NumericError::NoConvergence {
            estimate: r.value,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step times a bump narrow against Var v = 71 (Var u = 1.2e-5): the fixed kinked rule is
    /// off by ~3e-8 absolute; the estimated rule's error estimate covers its own error.
    /// Reference: E[step(u)·(2/√π)·e^(−v²)] by mpmath at 40 digits (1-D quadrature of the
    /// conditional expectation in closed form), 0.0470860124579255979680.
    #[test]
    fn the_kinked_rule_estimates_its_error() {
        let cov = Cov2::new(1.16894063142e-5, 0.007092545701145359, 71.28542984797).unwrap();
        let f = |u: f64, v: f64| {
            if u > 0.0 {
                2.0 / PI.sqrt() * (-v * v).exp()
            } else {
                0.0
            }
        };
        let reference = 0.047_086_012_457_925_6;
        let coarse = expect2(&f, cov, Shape::KinkedAtAxes).unwrap();
        assert!((coarse - reference).abs() > 1e-9, "coarse {coarse}");
        let (fine, error) = expect2_estimated(&f, cov, Shape::KinkedAtAxes).unwrap();
        assert!((fine - reference).abs() <= error, "{fine} ± {error}");
        // The estimate is the coarse rule's error (~2e-6 here): wide, but it covers the truth.
        assert!(error < 1e-5, "{error}");
    }

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in [1, 2, 5, 12, 16, 40] {
            let r = gauss_legendre(n);
            for k in 0..2 * n {
                let s: f64 =
                    r.x.iter()
                        .zip(&r.w)
                        .map(|(x, w)| w * x.powi(k as i32))
                        .sum();
                let exact = if k % 2 == 1 {
                    0.0
                } else {
                    2.0 / (k as f64 + 1.0)
                };
                assert!((s - exact).abs() < 1e-14, "n={n} k={k}: {s} vs {exact}");
            }
        }
    }

    #[test]
    fn radial_rules_reproduce_gaussian_moments() {
        // ∫₀^∞ r^k·r·e^(−r²/2) dr = 2^(k/2)·Γ(k/2 + 1); ∫₀^∞ z^k e^(−z²/2)/√(2π) dz likewise.
        let gamma = |x: f64| libm::tgamma(x);
        for k in 0..8 {
            let kf = k as f64;
            let p = polar_radial();
            let s: f64 = p.r.iter().zip(&p.w).map(|(r, w)| w * r.powi(k)).sum();
            let exact = 2f64.powf(kf / 2.0) * gamma(kf / 2.0 + 1.0) / (2.0 * PI);
            assert!(
                (s / exact - 1.0).abs() < 2e-15,
                "polar k={k}: {s} vs {exact}"
            );
            let h = half_line();
            let s: f64 = h.r.iter().zip(&h.w).map(|(r, w)| w * r.powi(k)).sum();
            let exact = 2f64.powf(kf / 2.0) * gamma((kf + 1.0) / 2.0) / (2.0 * PI.sqrt());
            assert!(
                (s / exact - 1.0).abs() < 2e-15,
                "half-line k={k}: {s} vs {exact}"
            );
        }
    }

    #[test]
    fn covariance_validation() {
        assert!(Cov2::new(1.0, 0.5, 1.0).is_ok());
        assert!(Cov2::new(-1.0, 0.0, 1.0).is_err());
        assert!(Cov2::new(1.0, f64::NAN, 1.0).is_err());
        assert!(Cov2::new(1.0, 1.1, 1.0).is_err());
        assert!(Cov2::new(0.0, 1e-300, 1.0).is_err());
        let c = Cov2::new(4.0, 4.0 * (1.0 + 1e-14), 4.0).unwrap();
        assert_eq!(c.s12, 4.0);
        assert_eq!(c.det(), 0.0);
        let c = Cov2::new(2.0, -(1.0 + 1e-14) * 6f64.sqrt(), 3.0).unwrap();
        assert_eq!(c.det(), 0.0);
        assert_eq!(Cov2::new(3.0, 3.0, 3.0).unwrap().s12, 3.0);
    }

    fn relu_closed(s11: f64, s12: f64, s22: f64) -> f64 {
        let d = det2(s11, s12, s22).sqrt();
        (d + (PI - d.atan2(s12)) * s12) / (2.0 * PI)
    }

    #[test]
    fn relu_kernel_by_wedges_matches_arc_cosine() {
        let relu = |x: f64| x.max(0.0);
        for &(s11, s22) in &[(1.0_f64, 1.0_f64), (0.1, 10.0), (2.7, 0.5)] {
            let m: f64 = (s11 * s22).sqrt();
            for &rho in &[-1.0, -0.999999, -0.5, 0.0, 0.3, 0.999999, 1.0] {
                let s12 = rho * m;
                let q = expect_pair(
                    &relu,
                    &relu,
                    Cov2::new(s11, s12, s22).unwrap(),
                    Shape::KinkedAtAxes,
                )
                .unwrap();
                let c = relu_closed(s11, s12, s22);
                assert!((q - c).abs() <= 1e-15 * m, "{s11} {rho} {s22}: {q} vs {c}");
            }
        }
    }

    #[test]
    fn smooth_rule_matches_sin_kernel() {
        for &(s11, s12, s22) in &[(1.0, 0.3, 2.0), (10.0, -9.99, 10.0), (0.1, 0.0, 3.0)] {
            let q = expect_pair(
                &f64::sin,
                &f64::sin,
                Cov2::new(s11, s12, s22).unwrap(),
                Shape::Smooth,
            )
            .unwrap();
            let exact = (-(s11 + s22) / 2.0).exp() * f64::sinh(s12);
            assert!((q - exact).abs() < 1e-15, "{q} vs {exact}");
        }
    }

    #[test]
    fn degenerate_covariances_are_exact() {
        let relu = |x: f64| x.max(0.0);
        let c = Cov2::new(0.0, 0.0, 2.0).unwrap();
        assert_eq!(
            expect_pair(&relu, &relu, c, Shape::KinkedAtAxes).unwrap(),
            0.0
        );
        let c = Cov2::new(2.0, 2.0, 2.0).unwrap();
        let q = expect_pair(&relu, &relu, c, Shape::KinkedAtAxes).unwrap();
        assert!((q - 1.0).abs() < 1e-15, "{q}");
        let q = expect1(&|x| x * x, 3.0, Shape::Smooth).unwrap();
        assert!((q - 3.0).abs() < 1e-14, "{q}");
    }

    #[test]
    fn non_finite_integrands_are_errors() {
        let c = Cov2::new(1.0, 0.2, 1.0).unwrap();
        for shape in [Shape::Smooth, Shape::KinkedAtAxes] {
            let e = expect2(&|u, _| if u > 3.0 { f64::NAN } else { u }, c, shape);
            assert!(
                matches!(e, Err(NumericError::NonFiniteIntegrand { .. })),
                "{e:?}"
            );
            let e = expect1(&|u| 1.0 / (u - u), 1.0, shape);
            assert!(e.is_err());
        }
        let bad = Cov2 {
            s11: 1.0,
            s12: 2.0,
            s22: 1.0,
        };
        assert!(expect2(&|u, v| u * v, bad, Shape::Smooth).is_err());
        assert!(expect1(&|u| u, -1.0, Shape::Smooth).is_err());
    }

    /// erf'(u)·erf'(v) (up to 4/π) at variances from 10⁻³ to 10⁶ and |ρ| up to 0.999998, against
    /// the closed form 1/√((1 + 2 s11)(1 + 2 s22) − 4 s12²): features of width 1 in u and v are
    /// 1/σ wide in the rule's units, which the uniform grid alone missed (no convergence) and
    /// an adaptive rule with evenly spaced first panels missed silently (a wrong value).
    #[test]
    fn narrow_integrands_at_large_variances() {
        for s11 in [1e-3, 0.5, 2.0, 70.0, 1e4, 1e6] {
            for s22 in [1e-3, 0.5, 70.0, 1e6] {
                for rho in [0.0, 0.3, -0.999998, 0.999998] {
                    let s12: f64 = rho * f64::sqrt(s11 * s22);
                    let cov = Cov2::new(s11, s12, s22).unwrap();
                    let exact =
                        1.0 / ((1.0 + 2.0 * s11) * (1.0 + 2.0 * s22) - 4.0 * s12 * s12).sqrt();
                    let x = expect2(&|u, v| (-u * u - v * v).exp(), cov, Shape::Smooth).unwrap();
                    assert!(
                        (x - exact).abs() <= 1e-11 * exact,
                        "s11={s11} s22={s22} rho={rho}: {x} vs {exact}"
                    );
                }
            }
        }
    }

    /// An integrand odd in u (E[u·tanh(v)] = 0 at ρ = 0) and one computed with cancellation
    /// (1 − tanh² far out): inner integrals that are rounding noise are judged against the whole
    /// expectation's scale, not their own, and the result is accepted.
    #[test]
    fn noise_in_inner_integrals_is_judged_against_the_whole() {
        let cov = Cov2::new(2.0, 0.0, 1e4).unwrap();
        let x = expect2(&|u, v| u * v.tanh(), cov, Shape::Smooth).unwrap();
        assert!(x.abs() < 1e-13, "{x}");
        let r = 0.999998;
        let cov = Cov2::new(0.5, r * (0.5f64 * 70.0).sqrt(), 70.0).unwrap();
        let x = expect2(&|_, v| 1.0 - v.tanh().powi(2), cov, Shape::Smooth).unwrap();
        // E[sech²(v)] for v ~ N(0, 70): ∫ sech² = 2 over a density ≈ 1/√(2π·70) near 0.
        let approx = 2.0 / (2.0 * PI * 70.0f64).sqrt();
        assert!((x - approx).abs() < 0.02 * approx, "{x} vs {approx}");
    }
}
