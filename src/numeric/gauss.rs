//! Gaussian expectations E[F(u, v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]) and E[f(u)] for
//! u ~ N(0, s), to ~1e-15 relative accuracy.
//!
//! Everything is computed in whitened coordinates u = a·z1, v = b·(ρ·z1 + c·z2), with z1, z2
//! independent standard normals, a = √s11, b = √s22, ρ = s12/(√s11·√s22) and c = √(1 − ρ²)
//! ([`Cov2::whiten`]). No product of variances is ever formed: ρ and c come from the covariance
//! rescaled by exact powers of two, so every variance from the smallest subnormal to the largest
//! finite f64 gives the same ρ and c (s11·s22 = 1e-400 underflowed to a determinant of 0 and made
//! ρ = ±1 of ρ = 0).
//!
//! Three rules:
//!
//! - The wedge rule (integrands kinked only on lines through the origin: relu, step, abs, … of
//!   u, v, u − v, …): in polar coordinates of (z1, z2), the lines cut the plane into wedges; inside
//!   each the integrand is smooth, and a Gauss–Legendre rule in the angle times a composite
//!   Gauss–Legendre rule in the radius (on [0, 10], the weight r·e^(−r²/2) is below 1e-21 beyond)
//!   integrates it to machine precision.
//! - The trapezoid rule in (z1, z2) over [−9, 9]², for analytic integrands, which converges
//!   geometrically. The step is halved (from 0.2) until, from step 0.05 on, two successive steps
//!   agree to 3e-8 of the scale; the error estimate is the last difference times its ratio to the
//!   one before (geometric convergence).
//! - Nested globally adaptive Gauss–Legendre in z2 inside z1 ([`piecewise`]), split at every
//!   kink line (and every crossing of two) and graded towards every line where a feature may be
//!   narrow, with the domain grown until the weighted integrand is negligible at its ends. It
//!   takes over where the others do not apply or do not converge.
//!
//! [`expect1`], [`expect2`] and [`expect_pair`] serve the kernels of known activations (a
//! [`Shape`] says where they may kink); [`expectation`] serves `gauss(…)` with an integrand whose
//! kinks, jumps and features are read from its form ([`Integrand`]) and returns an error estimate
//! and the magnitude scale E[S] the tolerance is relative to.
//!
//! Degenerate covariances are reduced exactly: a zero variance fixes that coordinate at 0, and
//! ρ = ±1 (c = 0) reduces to the 1-D integral E[F(a·z, ±b·z)], z ~ N(0, 1).
//!
//! Non-finite integrand values are errors ([`NumericError::NonFiniteIntegrand`]), never dropped.

use super::error::NumericError;
use crate::numeric::portable::Portable;
use std::f64::consts::{FRAC_PI_2, PI};
use std::sync::OnceLock;

mod piecewise;

pub use crate::precision::PSD_SLACK;
pub(crate) use piecewise::jumps;
pub use piecewise::{expectation, Curve, Estimate, Integrand, Line, Smoothness};

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

/// A covariance in whitened form: u = a·z1, v = b·(ρ·z1 + c·z2) for independent standard
/// normals z1, z2 (see [`Cov2::whiten`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whitened {
    /// √s11.
    pub a: f64,
    /// √s22.
    pub b: f64,
    /// The correlation s12/(√s11·√s22) (0 if a variance is 0).
    pub rho: f64,
    /// √(1 − ρ²), accurate relative to itself as ρ → ±1 (1 if a variance is 0).
    pub c: f64,
}

/// `s` = x·4^k with x in [0.5, 2): the exact power-of-two rescaling that lets products of
/// variances be formed without overflow or underflow. `s` must be positive and finite.
fn unit_scaled(s: f64) -> (f64, i32) {
    let (_, e) = libm::frexp(s);
    let k = e.div_euclid(2);
    (libm::scalbn(s, -2 * k), k)
}

/// The covariance rescaled by exact powers of two, (s11·4^−k1, s12·2^−(k1+k2), s22·4^−k2,
/// k1, k2), for positive variances: its entries are O(1), so its determinant neither
/// overflows nor underflows, and its correlation is the covariance's.
fn rescaled(s11: f64, s12: f64, s22: f64) -> (f64, f64, f64, i32, i32) {
    let (x11, k1) = unit_scaled(s11);
    let (x22, k2) = unit_scaled(s22);
    (x11, libm::scalbn(s12, -(k1 + k2)), x22, k1, k2)
}

impl Cov2 {
    /// A validated covariance: all entries finite, s11 ≥ 0, s22 ≥ 0 and s12² ≤ s11·s22. A |s12|
    /// exceeding √s11·√s22 by at most the relative [`PSD_SLACK`] (rounding in a recursion) is
    /// clamped to ±√s11·√s22; more is an error. Nothing here forms s11·s22, so variances from
    /// 1e-320 to 1e308 are judged alike.
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
        if s11 > 0.0 && s22 > 0.0 {
            let (x11, x12, x22, k1, k2) = rescaled(s11, s12, s22);
            if det2_raw(x11, x12, x22) < 0.0 {
                // Within the slack: clamp to the boundary so that the determinant is exactly 0
                // (ρ = ±1).
                let mut mag = (x11 * x22).sqrt();
                while det2_raw(x11, mag, x22) > 0.0 {
                    mag = f64::from_bits(mag.to_bits() + 1);
                }
                s12c = libm::scalbn(mag, k1 + k2).copysign(s12);
            }
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

    /// The whitened form (a, b, ρ, c), computed from the covariance rescaled by exact powers of
    /// two: ρ = s12/(√s11·√s22) and c = √det/(√s11·√s22) with the determinant of the rescaled
    /// matrix (fused multiply-adds, accurate relative to itself as ρ → ±1). A zero variance gives
    /// ρ = 0, c = 1.
    pub fn whiten(&self) -> Whitened {
        let (a, b) = (self.s11.sqrt(), self.s22.sqrt());
        if !(a > 0.0 && b > 0.0) {
            return Whitened {
                a,
                b,
                rho: 0.0,
                c: 1.0,
            };
        }
        let (x11, x12, x22, _, _) = rescaled(self.s11, self.s12, self.s22);
        let m = x11.sqrt() * x22.sqrt();
        Whitened {
            a,
            b,
            rho: (x12 / m).clamp(-1.0, 1.0),
            c: (det2(x11, x12, x22).sqrt() / m).min(1.0),
        }
    }

    /// The determinant s11·s22 − s12², clamped at 0: that of the rescaled matrix, scaled back (it
    /// under- or overflows only where the determinant itself is outside f64's range; use
    /// [`Cov2::sqrt_det`] or [`Cov2::whiten`] to stay scale-free).
    pub fn det(&self) -> f64 {
        if !(self.s11 > 0.0 && self.s22 > 0.0) {
            return 0.0;
        }
        let (x11, x12, x22, k1, k2) = rescaled(self.s11, self.s12, self.s22);
        libm::scalbn(det2(x11, x12, x22), 2 * (k1 + k2))
    }

    /// √(s11·s22 − s12²) = √s11·√s22·c, without forming s11·s22.
    pub fn sqrt_det(&self) -> f64 {
        let w = self.whiten();
        w.a * w.b * w.c
    }

    /// The correlation s12/√(s11·s22), or `None` if a variance is 0.
    pub fn corr(&self) -> Option<f64> {
        let w = self.whiten();
        (w.a > 0.0 && w.b > 0.0).then_some(w.rho)
    }
}

/// s11·s22 − s12² with the rounding errors of both products compensated; clamped at 0. For
/// entries of moderate size (the products must not overflow or underflow; [`Cov2`] rescales).
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

/// Where an integrand may fail to be smooth; this selects the quadrature rule of [`expect1`] and
/// [`expect2`].
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
            let mut z = (PI * (i as f64 + 0.75) / (nf + 0.5)).pcos();
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

/// The 2-D standard normal's radial density r·e^(−r²/2)/(2π).
fn polar_weight(r: f64) -> f64 {
    r * (-0.5 * r * r).pexp() / (2.0 * PI)
}

/// ∫₀^∞ g(r)·r·e^(−r²/2)/(2π) dr: the radial part of a 2-D standard normal in polar coordinates.
fn polar_radial() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| radial_rule(polar_weight))
}

/// Angular nodes per wedge and radial nodes per panel of the finer wedge rule, whose difference
/// from the coarser one is the wedge rule's error estimate.
const FINE_ANGULAR_NODES: usize = 24;
const FINE_RADIAL_NODES: usize = 20;

fn polar_radial_fine() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| radial_rule_with(polar_weight, &PANELS, FINE_RADIAL_NODES))
}

/// ∫₀^∞ g(z)·e^(−z²/2)/√(2π) dz: one half of a 1-D standard normal.
fn half_line() -> &'static Radial {
    static R: OnceLock<Radial> = OnceLock::new();
    R.get_or_init(|| radial_rule(|z| (-0.5 * z * z).pexp() / (2.0 * PI).sqrt()))
}

/// Standard normal density.
fn phi(z: f64) -> f64 {
    (-0.5 * z * z).pexp() * (0.5 / PI).sqrt()
}

#[inline]
fn check(value: f64, u: f64, v: f64) -> Result<f64, NumericError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(NumericError::NonFiniteIntegrand { u, v, value })
    }
}

/// The integrand's value and magnitude scale at (u, v), both finite (else an error: a scale
/// that overflows leaves the result's accuracy unknown).
#[inline]
fn checked(f: &dyn Fn(f64, f64) -> (f64, f64), u: f64, v: f64) -> Result<(f64, f64), NumericError> {
    let (y, s) = f(u, v);
    check(y, u, v)?;
    Ok((y, check(s, u, v)?))
}

/// An integrand of the kernels' API as one of [`expectation`]'s: its value, and |value| as its
/// magnitude scale.
fn with_abs(f: &dyn Fn(f64, f64) -> f64) -> impl Fn(f64, f64) -> (f64, f64) + '_ {
    move |u, v| {
        let y = f(u, v);
        (y, y.abs())
    }
}

/// Half-width of the trapezoid grid in standard-normal units.
const TRAP_RANGE: f64 = 9.0;
/// First trapezoid step (the comparison step); the first accepted step is half of it.
const TRAP_H0: f64 = 0.2;
/// Successive trapezoid sums must agree to this fraction of the scale (the error then is ~its
/// square).
const TRAP_AGREE: f64 = 3e-8;
/// Finest 2-D trapezoid level tried (step TRAP_H0 / 2^level) before the adaptive rule takes over.
const TRAP_MAX_LEVEL_2D: u32 = 4;
/// A difference of successive trapezoid sums above this fraction of the scale at the third
/// level (step 0.05) sends the integral to the adaptive rule at once: the grid does not resolve
/// the integrand (a feature of width ~1 in u or v at a standard deviation ≫ 1), and each
/// further level would cost four times the last.
const TRAP_HOPELESS: f64 = 1e-4;
/// Finest 1-D trapezoid level tried.
const TRAP_MAX_LEVEL_1D: u32 = 8;

/// E[f(u)] for u ~ N(0, var).
///
/// `var = 0` evaluates f(0). Kinked integrands (at u = 0) are split at 0; smooth ones use the
/// trapezoid rule. Errors: invalid variance, non-finite integrand values, no convergence.
pub fn expect1(f: &dyn Fn(f64) -> f64, var: f64, shape: Shape) -> Result<f64, NumericError> {
    expect1_stretched(f, var, shape, var.sqrt())
}

/// Standard deviations above which an activation's features (width ~1 in u) are narrower than
/// [`piecewise::TRUSTED_WIDTH`] in standard-normal units, where the trapezoid rules are not
/// trusted with them: tanh′² at Var u = 2.25·10⁶ came out half its value, and 0 beyond, since a
/// grid that misses a bump converges to a value without it.
const TRAPEZOID_STRETCH: f64 = 1.0 / piecewise::TRUSTED_WIDTH;

/// [`expect1`] where f(√var·z) changes over 1/`stretch` in z (its features have width 1 in the
/// argument of the activations, which moves `stretch` per unit of z).
fn expect1_stretched(
    f: &dyn Fn(f64) -> f64,
    var: f64,
    shape: Shape,
    stretch: f64,
) -> Result<f64, NumericError> {
    if !var.is_finite() || var < 0.0 {
        return Err(NumericError::InvalidVariance(var));
    }
    let s = var.sqrt();
    if s == 0.0 {
        return check(f(0.0), 0.0, 0.0);
    }
    if shape == Shape::Smooth && stretch > TRAPEZOID_STRETCH {
        return piecewise::activation_fallback_1d(f, s, stretch).map(|e| e.value);
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
            piecewise::activation_fallback_1d(f, s, stretch).map(|e| e.value)
        }
    }
}

/// E[F(u, v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).
///
/// Errors: an invalid covariance, non-finite integrand values, no convergence.
pub fn expect2(f: &dyn Fn(f64, f64) -> f64, cov: Cov2, shape: Shape) -> Result<f64, NumericError> {
    let cov = Cov2::new(cov.s11, cov.s12, cov.s22)?;
    let w = cov.whiten();
    let (a, b) = (w.a, w.b);
    if a == 0.0 && b == 0.0 {
        return check(f(0.0, 0.0), 0.0, 0.0);
    }
    if a == 0.0 {
        return expect1(&|v| f(0.0, v), cov.s22, shape);
    }
    if b == 0.0 {
        return expect1(&|u| f(u, 0.0), cov.s11, shape);
    }
    if w.c == 0.0 {
        // ρ = ±1: v = ±(b/a)·u exactly.
        let sb = if w.rho >= 0.0 { b } else { -b };
        return expect1_stretched(&|z| f(a * z, sb * z), 1.0, shape, a.max(b));
    }
    let g = with_abs(f);
    // Features at u = 0 and v = 0 of width ~1 in u and v.
    let lines = [Line::U_AXIS, Line::V_AXIS];
    match shape {
        Shape::KinkedAtAxes => Ok(wedges(&g, w, &axes_angles(w), ANGULAR_NODES, polar_radial())?.0),
        Shape::Smooth if a.max(b) > TRAPEZOID_STRETCH => {
            piecewise::activation_fallback(&g, w, &lines).map(|e| e.value)
        }
        Shape::Smooth => match trapezoid2(&g, w)? {
            Some(t) => Ok(t.value),
            None => piecewise::activation_fallback(&g, w, &lines).map(|e| e.value),
        },
    }
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

/// The angles of the axes u = 0 (t = ±π/2) and v = 0 (t = α ± π/2, α = atan2(c, ρ)) in the polar
/// coordinates of the whitened plane, as wedge edges from −π/2 to 3π/2.
fn axes_angles(w: Whitened) -> Vec<f64> {
    let alpha = w.c.patan2(w.rho);
    vec![
        -FRAC_PI_2,
        alpha - FRAC_PI_2,
        FRAC_PI_2,
        alpha + FRAC_PI_2,
        3.0 * FRAC_PI_2,
    ]
}

/// The polar rule on the wedges between consecutive `angles` (ascending; the last is the first
/// plus 2π) in the whitened plane, z = r·(cos t, sin t): u = a·r·cos t and v = b·r·cos(t − α)
/// with α = atan2(c, ρ). Returns (∫F, ∫S, ∫S·|score_ρ|) for the integrand's (value, scale)
/// F, S (see [`rho_score`]; the last is 0 where c = 1 is not meant, for the kernels' API).
fn wedges(
    f: &dyn Fn(f64, f64) -> (f64, f64),
    w: Whitened,
    angles: &[f64],
    angular: usize,
    rad: &Radial,
) -> Result<(f64, f64, f64), NumericError> {
    let alpha = w.c.patan2(w.rho);
    let gl = gauss_legendre(angular);
    let (mut total, mut scale, mut bound) = (0.0, 0.0, 0.0);
    for e in angles.windows(2) {
        let (mid, half) = ((e[0] + e[1]) / 2.0, (e[1] - e[0]) / 2.0);
        let (mut wedge, mut wedge_scale, mut wedge_bound) = (0.0, 0.0, 0.0);
        for (x, wx) in gl.x.iter().zip(&gl.w) {
            let t = mid + half * x;
            let (ct, st) = (t.pcos(), t.psin());
            let (cu, cv) = (w.a * ct, w.b * (t - alpha).pcos());
            let (mut radial, mut radial_scale, mut radial_bound) = (0.0, 0.0, 0.0);
            for (r, wr) in rad.r.iter().zip(&rad.w) {
                let (u, v) = (r * cu, r * cv);
                let (y, s) = checked(f, u, v)?;
                radial += wr * y;
                radial_scale += wr * s;
                radial_bound += wr * s * rho_score(w, r * ct, r * st);
            }
            wedge += wx * radial;
            wedge_scale += wx * radial_scale;
            wedge_bound += wx * radial_bound;
        }
        total += half * wedge;
        scale += half * wedge_scale;
        bound += half * wedge_bound;
    }
    Ok((total, scale, bound))
}

/// |∂ log p/∂ρ| for the standardised bivariate normal of correlation ρ at the whitened point
/// (z1, z2): |ρ·(1 − z2²) + c·z1·z2|/c². Since ∂E[F]/∂ρ = E[F·∂ log p/∂ρ], E[S·|score|] bounds
/// how fast the expectation moves with ρ (it grows like 1/c² as the covariance becomes
/// singular). Infinite for c = 0.
fn rho_score(w: Whitened, z1: f64, z2: f64) -> f64 {
    ((w.rho * (1.0 - z2 * z2) + w.c * z1 * z2) / (w.c * w.c)).abs()
}

/// ∫ S(r·cos t, r·sin t)·r·e^(−r²/2)/(2π) dt over the circle of radius r (by the wedges' angular
/// rule): the density of the scale at radius r, for the wedge rule's tail check.
fn wedge_ring(
    f: &dyn Fn(f64, f64) -> (f64, f64),
    w: Whitened,
    angles: &[f64],
    r: f64,
) -> Result<f64, NumericError> {
    let alpha = w.c.patan2(w.rho);
    let gl = gauss_legendre(ANGULAR_NODES);
    let mut ring = 0.0;
    for e in angles.windows(2) {
        let (mid, half) = ((e[0] + e[1]) / 2.0, (e[1] - e[0]) / 2.0);
        for (x, wx) in gl.x.iter().zip(&gl.w) {
            let t = mid + half * x;
            let (u, v) = (r * w.a * t.pcos(), r * w.b * (t - alpha).pcos());
            let (_, s) = checked(f, u, v)?;
            ring += half * wx * s;
        }
    }
    Ok(ring * polar_weight(r))
}

/// The trapezoid rule's result: ∫F, ∫S, ∫S·|score_ρ| ([`rho_score`]), the error estimate and
/// the estimated weight of the scale outside the grid's square.
struct Trapezoid {
    value: f64,
    scale: f64,
    bound: f64,
    error: f64,
    tail: f64,
}

/// Trapezoid rule in whitened coordinates u = a·z1, v = b·(ρ·z1 + c·z2), refined by halving;
/// `None` where it does not converge (a feature the grid does not resolve).
fn trapezoid2(
    f: &dyn Fn(f64, f64) -> (f64, f64),
    w: Whitened,
) -> Result<Option<Trapezoid>, NumericError> {
    let Whitened { a, b, rho, c } = w;
    let mut h = TRAP_H0;
    let mut m = (TRAP_RANGE / h).ceil() as i64;
    let (mut sum, mut abs, mut bound) = (0.0, 0.0, 0.0);
    // The scale on the square rings max(|i|, |j|) = k of the first grid, for the tail estimate.
    let mut rings = vec![0.0; m as usize + 1];
    // Adds the grid nodes (i·h, j·h), |i|, |j| ≤ m, skipping those with both indices even when
    // `only_new` (they belong to the previous, coarser grid): to ∫F, ∫S and ∫S·|score_ρ|.
    let add = |h: f64, m: i64, only_new: bool, acc: [&mut f64; 3], rings: &mut [f64]| {
        let [sum, abs, bound] = acc;
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
            let (mut row, mut row_abs, mut row_bound) = (0.0, 0.0, 0.0);
            let mut j = start;
            while j <= m {
                let z2 = j as f64 * h;
                let v = v0 + b * c * z2;
                let (y, s) = checked(f, u, v)?;
                let p2 = phi(z2);
                row += p2 * y;
                row_abs += p2 * s;
                row_bound += p2 * s * rho_score(w, z1, z2);
                if !only_new {
                    rings[i.unsigned_abs().max(j.unsigned_abs()) as usize] += p1 * p2 * s;
                }
                j += step;
            }
            *sum += p1 * row;
            *abs += p1 * row_abs;
            *bound += p1 * row_bound;
        }
        Ok::<(), NumericError>(())
    };
    add(h, m, false, [&mut sum, &mut abs, &mut bound], &mut rings)?;
    // The scale's density at distance z from the origin is about the ring's sum times h (a ring
    // of nodes stands for a band of width h); it decays at the rate λ measured between z ≈ 8
    // and z ≈ 9, and beyond 9 weighs about density/λ.
    let mu = m as usize;
    let near = (rings[mu] + rings[mu - 1]) * h / 2.0;
    let inner = (rings[mu - 5] + rings[mu - 6]) * h / 2.0;
    let tail = decay_tail(near, inner, 1.0);
    let mut prev = h * h * sum;
    let mut last_diff = f64::INFINITY;
    for level in 1..=TRAP_MAX_LEVEL_2D {
        h /= 2.0;
        m *= 2;
        add(h, m, true, [&mut sum, &mut abs, &mut bound], &mut [])?;
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
            return Ok(Some(Trapezoid {
                value: cur,
                scale: h * h * abs,
                bound: h * h * bound,
                error: d * rate,
                tail,
            }));
        }
        last_diff = d;
        // Geometric convergence squares the difference at each level: one still above
        // TRAP_HOPELESS of the scale at step 0.05 means a feature the grid does not resolve.
        if level >= 2 && (cur - prev).abs() > TRAP_HOPELESS * h * h * abs {
            break;
        }
        prev = cur;
    }
    Ok(None)
}

/// The weight beyond a boundary of a density that is `near` at the boundary and `inner` at
/// `gap` inside it: `near`/λ with λ = ln(inner/near)/gap its rate of decay (exact for an
/// exponential decay, an over-estimate for a Gaussian one, which decays ever faster); infinite
/// where it does not decay.
fn decay_tail(near: f64, inner: f64, gap: f64) -> f64 {
    if near == 0.0 {
        0.0
    } else if inner > near {
        near * gap / (inner / near).pln()
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step times a bump narrow against Var v = 71 (Var u = 1.2e-5): the fixed wedge rule is
    /// off by ~3e-8 absolute. The bump's line v = 0 is probed as narrow, so the graded adaptive
    /// rule takes over, and its error estimate covers its error.
    /// Reference: E[step(u)·(2/√π)·e^(−v²)] by mpmath at 40 digits (1-D quadrature of the
    /// conditional expectation in closed form), 0.0470860124579255979680.
    #[test]
    fn the_kinked_rule_estimates_its_error() {
        let cov = Cov2::new(1.16894063142e-5, 0.007092545701145359, 71.28542984797).unwrap();
        let f = |u: f64, v: f64| {
            if u > 0.0 {
                2.0 / PI.sqrt() * (-v * v).pexp()
            } else {
                0.0
            }
        };
        let reference = 0.047_086_012_457_925_6;
        let coarse = expect2(&f, cov, Shape::KinkedAtAxes).unwrap();
        assert!((coarse - reference).abs() > 1e-9, "coarse {coarse}");
        let g = with_abs(&f);
        let it = Integrand {
            f: &g,
            kinks: &[Line::U_AXIS],
            features: &[Line::V_AXIS],
            curves: &[],
            smoothness: Smoothness::Analytic,
            uses_u: true,
            uses_v: true,
            rho_scale: 0.0,
        };
        let e = expectation(&it, cov).unwrap();
        assert!(
            (e.value - reference).abs() <= e.error.max(1e-16),
            "{} ± {}",
            e.value,
            e.error
        );
        assert!(e.error < 1e-13, "{}", e.error);
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
            let exact = 2f64.ppowf(kf / 2.0) * gamma(kf / 2.0 + 1.0) / (2.0 * PI);
            assert!(
                (s / exact - 1.0).abs() < 2e-15,
                "polar k={k}: {s} vs {exact}"
            );
            let h = half_line();
            let s: f64 = h.r.iter().zip(&h.w).map(|(r, w)| w * r.powi(k)).sum();
            let exact = 2f64.ppowf(kf / 2.0) * gamma((kf + 1.0) / 2.0) / (2.0 * PI.sqrt());
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

    /// ρ and c do not depend on the scale of the variances: s11·s22 is never formed (1e-400
    /// underflowed to a determinant of 0, i.e. ρ = ±1; 1e320 overflowed).
    #[test]
    fn whitening_is_scale_free() {
        for (s, t) in [
            (1.0, 1.0),
            (1e-200, 1e-200),
            (1e160, 1e160),
            (1e-300, 1e300),
            (5e-324, 1.0),
        ] {
            for rho in [-0.999_999_9, -0.5, 0.0, 0.3] {
                let s12 = rho * f64::sqrt(s) * f64::sqrt(t);
                let w = Cov2::new(s, s12, t).unwrap().whiten();
                assert!((w.rho - rho).abs() <= 1e-15, "{s} {t} {rho}: {w:?}");
                let c = ((1.0 - rho) * (1.0 + rho)).sqrt();
                assert!((w.c - c).abs() <= 1e-8 * c, "{s} {t} {rho}: {w:?}");
            }
            // ρ = 1 up to the rounding of √s·√t: c is at most √(4ε).
            let w = Cov2::new(s, f64::sqrt(s) * f64::sqrt(t), t)
                .unwrap()
                .whiten();
            assert!(w.rho == 1.0 && w.c <= 3e-8, "{s} {t}: {w:?}");
        }
        let c = Cov2::new(1e-200, 0.0, 1e-200).unwrap();
        assert_eq!(c.sqrt_det(), 1e-200);
        assert_eq!(c.corr(), Some(0.0));
        assert_eq!(
            Cov2::new(1e160, 0.5e160, 1e160).unwrap().det(),
            f64::INFINITY
        );
    }

    fn relu_closed(s11: f64, s12: f64, s22: f64) -> f64 {
        let d = det2(s11, s12, s22).sqrt();
        (d + (PI - d.patan2(s12)) * s12) / (2.0 * PI)
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
                &f64::psin,
                &f64::psin,
                Cov2::new(s11, s12, s22).unwrap(),
                Shape::Smooth,
            )
            .unwrap();
            let exact = (-(s11 + s22) / 2.0).pexp() * f64::psinh(s12);
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
                    let x = expect2(&|u, v| (-u * u - v * v).pexp(), cov, Shape::Smooth).unwrap();
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
        let x = expect2(&|u, v| u * v.ptanh(), cov, Shape::Smooth).unwrap();
        assert!(x.abs() < 1e-13, "{x}");
        let r = 0.999998;
        let cov = Cov2::new(0.5, r * (0.5f64 * 70.0).sqrt(), 70.0).unwrap();
        let x = expect2(&|_, v| 1.0 - v.ptanh().powi(2), cov, Shape::Smooth).unwrap();
        // E[sech²(v)] for v ~ N(0, 70): ∫ sech² = 2 over a density ≈ 1/√(2π·70) near 0.
        let approx = 2.0 / (2.0 * PI * 70.0f64).sqrt();
        assert!((x - approx).abs() < 0.02 * approx, "{x} vs {approx}");
    }
}
