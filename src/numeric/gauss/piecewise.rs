//! [`expectation`]: E[F(u, v)] for an integrand whose kinks, jumps and features are known from
//! its form, with an error estimate that is honest for the integrand's actual smoothness.
//!
//! The evaluator reads the integrand ([`Integrand`]): the lines where the arguments of relu,
//! step, abs, sign, max, min, leaky relu and kinked activations vanish, when those arguments are
//! affine in u and v (**kink lines**: the integrand is smooth on each side); the lines where the
//! affine arguments of smooth functions vanish (**feature lines**: exp(−10⁶·(u − 3)²) is narrow
//! there); and whether it is a polynomial on each piece, analytic on each piece, or neither
//! ([`Smoothness`]).
//!
//! - A body of u alone (or v alone, or ρ = ±1) is a 1-D integral in z ~ N(0, 1), split at the
//!   kink points.
//! - Feature lines are **probed**: the integrand is evaluated across each (at its point nearest
//!   the origin and where it crosses another line) at distances 2⁰, 2⁻¹, … down to the
//!   rounding of the point's position, and the smallest distance below which it varies like a
//!   smooth function is the feature's width.
//! - The trapezoid rule (no kink lines) and the wedge rule (kink lines through the origin) are
//!   used only for integrands known to be smooth on each piece whose features are at least
//!   [`TRUSTED_WIDTH`] wide; otherwise, or where they do not converge, nested adaptive
//!   Gauss–Legendre split at every kink line and every crossing of two lines, its first panels
//!   graded towards each feature line down to a quarter of its width.
//! - The domain grows (|z| ≤ 9, 13, 19, 27, 37.5) until the weighted scale at its ends is
//!   negligible ([`TAIL_REL`]); an integrand that still does not decay at |z| = 37.5, where the
//!   density is 1e-306, is an error ([`NumericError::NotDecaying`]): its expectation may be
//!   infinite.
//! - Where the integrand is not known to be smooth on each piece ([`Smoothness::Unknown`]), the
//!   error estimate of each panel is multiplied by [`ALGEBRAIC`], which covers algebraic
//!   convergence (a jump or an integrable singularity inside a panel).
//! - A result is refused where the integrand and its scale vanished at every node, unless it is
//!   a polynomial on each piece ([`NumericError::Unresolved`]): a feature narrower than the nodes
//!   cannot be ruled out.
//! - The result's magnitude scale is E[S], the integrand's own scale integrated against the
//!   density (never its largest value on the grid), plus the rounding of the covariance
//!   propagated: near ρ = ±1 the expectation moves fast with ρ (the ReLU kernel at ρ = −1 + 1e-16
//!   is 1e-25 where ρ = −1 gives 0), so how far ρ's rounding allowance moves it enters the scale
//!   ([`SENSITIVITY_BOUND`]).

use super::{
    axes_angles, check, checked, decay_tail, gauss_legendre, phi, polar_radial, polar_radial_fine,
    rho_score, trapezoid2, wedge_ring, wedges, Cov2, NumericError, Whitened, ANGULAR_NODES,
    FINE_ANGULAR_NODES, RADIUS, TRAP_RANGE,
};
use crate::numeric::features::{golden_min, quadrature_cuts, ZERO_GRID};
use crate::numeric::portable::Portable;
use crate::precision::{CURVE_CELLS, CURVE_PROBES, SCALE, UNSEEN_WIDTH};
use std::f64::consts::{FRAC_PI_2, PI};

/// The line α·u + β·v + γ = 0 in the plane of (u, v).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// α.
    pub u: f64,
    /// β.
    pub v: f64,
    /// γ.
    pub c: f64,
}

impl Line {
    /// u = 0.
    pub const U_AXIS: Line = Line {
        u: 1.0,
        v: 0.0,
        c: 0.0,
    };
    /// v = 0.
    pub const V_AXIS: Line = Line {
        u: 0.0,
        v: 1.0,
        c: 0.0,
    };
}

/// What is known of an integrand's smoothness from its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Smoothness {
    /// A polynomial on each piece the kink lines cut (sums and products of u, v, constants and
    /// relu, step, abs, sign, max, min, leaky relu of affine arguments): it has no feature
    /// narrower than its pieces, and where it vanishes at every node it vanishes.
    Polynomial,
    /// Analytic on each piece (exp, sin, tanh, erf, … as well): it may vary fast near its
    /// feature lines.
    Analytic,
    /// Not known to be smooth on each piece (a root, a logarithm, a quotient by a function of u
    /// or v, a kink at an argument that is not affine, …): it may be kinked, jump or be singular
    /// anywhere.
    Unknown,
}

/// An integrand and what is known of it.
pub struct Integrand<'a> {
    /// The integrand's value and its magnitude scale S ≥ |value| (the same computation on
    /// absolute values: what its rounding is relative to) at (u, v).
    pub f: &'a dyn Fn(f64, f64) -> (f64, f64),
    /// Lines across which it may be kinked or jump.
    pub kinks: &'a [Line],
    /// Lines near which it may vary fast.
    pub features: &'a [Line],
    /// Subterms whose zeros may carry a feature along a curve (see [`Curve`]).
    pub curves: &'a [Curve<'a>],
    /// What is known of its smoothness on the pieces the kink lines cut.
    pub smoothness: Smoothness,
    /// Does it depend on u?
    pub uses_u: bool,
    /// Does it depend on v?
    pub uses_v: bool,
    /// The magnitude scale of the correlation ρ = s12/(√s11·√s22), from those of the
    /// covariance's entries (0 where ρ is exact): ρ is known to [`SCALE`] of it, and the
    /// expectation's scale includes how far that moves it.
    pub rho_scale: f64,
}

/// A subterm of the integrand that is not affine in u and v but sits inside a smooth function
/// or a kink (u² + v² − 1 in exp(−10⁸·(u² + v² − 1)²), u·v − 1 in step(u·v − 1)): the integrand
/// may be narrow, kinked or jump along its zero set, a curve no [`Line`] describes. Each 1-D
/// integral of the nested rule is cut at its zeros along the integral's variable and graded
/// towards them; the outer one also where its zero set along the inner variable begins or ends
/// (see [`nested`]).
pub struct Curve<'a> {
    /// Its value at (u, v) (non-finite where it has none).
    pub g: &'a dyn Fn(f64, f64) -> f64,
    /// Does it depend on u?
    pub uses_u: bool,
    /// Does it depend on v?
    pub uses_v: bool,
    /// Is it the base of a power of high degree, narrow where it peaks (sin u in
    /// sin(u)^(10¹²))? Its extrema are cut at, not only its zeros.
    pub peaks: bool,
}

/// An expectation with its error estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// E[F].
    pub value: f64,
    /// The result's magnitude scale: E[S], the expectation of the integrand's magnitude scale,
    /// plus |∂E[F]/∂ρ| times ρ's scale (the rounding of the covariance, propagated; see
    /// [`expectation`]). What the rounding of the result is relative to.
    pub scale: f64,
    /// An estimate of |value − E[F]| (quadrature and truncation of the domain).
    pub error: f64,
}

/// Ends of the integration domain in standard-normal units, tried in turn until the weighted
/// scale beyond is negligible: the density is 1e-18 at 9 and 2e-306 at 37.5 (the last end at
/// which it is a normal f64).
const ENDS: [f64; 5] = [9.0, 13.0, 19.0, 27.0, 37.5];
/// Marks up to this many standard deviations have their far side's weight bounded
/// ([`integrate_line`]): beyond, the density is below f64's smallest number.
const FAR_MARKS: f64 = 38.5;
/// How far beyond its furthest mark (a kink, a feature, a curve's zero) a 1-D integral's domain
/// first ends, in standard-normal units: the tail estimate ([`tail`]) reads the integrand on the
/// last 1.5 units before the end, which must lie past the mark.
const BEYOND_MARKS: f64 = 2.0;
/// The estimated weight of the scale beyond the domain's ends must be at most this fraction of
/// the scale: 1e-14, a tenth of what the adaptive rule aims at ([`ADAPT_REL`]), so that the
/// truncation never dominates the error estimate it is added to. (A Gaussian-tailed integrand
/// meets it at |z| = 9 for polynomial factors up to degree ~6; E[u^20] needs 13.)
const TAIL_REL: f64 = 1e-14;
/// Features at least this wide (in standard-normal units, across their line) are resolved by the
/// trapezoid grid (accepted at a step of 0.05 or finer) and by the wedge rule (whose angular
/// nodes are ~0.004 rad from a wedge's edge); narrower ones go to the graded adaptive rule. A
/// Gaussian bump of width 0.1 sampled at step 0.05 has a trapezoid error e^(−2π²·(0.05/0.05)²)
/// ≈ 3e-9 at that step and e^(−79) at the next.
pub const TRUSTED_WIDTH: f64 = 0.1;
/// The error estimate of a panel where the integrand is not known to be smooth is multiplied by
/// 3. The estimate is d = |Q(panel) − Q(halves)|; where the error falls by a ratio r per halving,
/// that of Q(halves) is d·r/(1 − r), at most 3·d for r ≤ 3/4: r = 1/2 for a jump inside the
/// panel, 1/4 for a kink, 2^(−1/2) for an integrable singularity |x|^(−1/2).
pub const ALGEBRAIC: f64 = 3.0;
/// Where the bound E[S·|score_ρ|]·scale(ρ) on the covariance's rounding propagated to the result
/// is at most 16 times E[S], it is added to the scale as it is (an honest bound: the scale grows
/// at most 17-fold, far below a wrong value's difference); beyond (|ρ| ≳ 0.95 for the ReLU
/// kernel, and ρ = ±1, where the bound is infinite) the change itself is computed, from the
/// expectation at ρ moved by SCALE·scale(ρ) towards 0. The constant only trades one extra
/// quadrature at those points against a looser scale at the others.
const SENSITIVITY_BOUND: f64 = 16.0;
/// Gauss–Legendre nodes per half panel of the adaptive rule.
const ADAPT_NODES: usize = 10;
/// Fewest panels the adaptive rule may use in one dimension before it stops (it may use twice
/// its first panels where those are more).
const ADAPT_MAX_PANELS: usize = 400;
/// Relative error (of the scale ∫S) the adaptive rule aims at in each dimension.
const ADAPT_REL: f64 = 1e-13;
/// Relative error (of the scale E[S]) at which a result is accepted: the nested rule's two
/// dimensions' estimates add, and an inner integral may stop at its panel limit.
pub const ADAPT_ACCEPT: f64 = 1e-12;
/// Panels are graded towards a feature from a quarter of its width up to this distance.
const GRADE_UP_TO: f64 = 2.0;
/// Differences of probed values below this fraction of the largest probed value are rounding
/// noise, not a feature (a feature that small carries less than 1e-11 of the integrand's size
/// times its width).
const PROBE_FLOOR: f64 = 1e-11;
/// Differences of probed values used to find a change of rate ([`rate_change`]) stand this many
/// times above [`PROBE_FLOOR`]: their rounding (1e-16 of the largest value) is then below 1e-7
/// of themselves, and a power law extrapolated from two of them over 60 halvings is off by
/// less than 1e-5.
const RATE_MARGIN: f64 = 100.0;

/// E[F(u, v)] for (u, v) ~ N(0, cov), with its error estimate and scale E[S] (see the module
/// documentation for the rules).
///
/// Errors: an invalid covariance, non-finite integrand values, no convergence, an integrand
/// that does not decay, an integrand that vanished at every node.
pub fn expectation(it: &Integrand, cov: Cov2) -> Result<Estimate, NumericError> {
    let cov = Cov2::new(cov.s11, cov.s12, cov.s22)?;
    let w = cov.whiten();
    let factor = if it.smoothness == Smoothness::Unknown {
        ALGEBRAIC
    } else {
        1.0
    };
    let (uses_u, uses_v) = (it.uses_u && w.a > 0.0, it.uses_v && w.b > 0.0);
    if !uses_u && !uses_v {
        let (y, s) = (it.f)(0.0, 0.0);
        return Ok(Estimate {
            value: check(y, 0.0, 0.0)?,
            scale: s,
            error: 0.0,
        });
    }
    let (est, bound) = integrate(it, w, factor)?;
    if est.scale == 0.0 && it.smoothness != Smoothness::Polynomial {
        return Err(NumericError::Unresolved);
    }
    // A covariance singular within the rounding of its determinant (c ≤ √(8ε): gauss(1/9, 1/3,
    // 1; …) has c = 10⁻⁸ from the rounding of 1/9 and 1/3) may be singular: E is discontinuous
    // there where the body jumps along the support (sign(v − 3u)² is 0 on it, 1 off it). How far
    // the singular covariance's expectation lies enters the scale, as the rounding of ρ does.
    let singular = if uses_u && uses_v && w.c > 0.0 && w.c <= (8.0 * f64::EPSILON).sqrt() {
        let (e, _) = integrate(it, with_c(w, 0.0), factor)?;
        // Nearer still to singular (c a millionth of its value): an expectation that stays
        // with `est`, away from the singular one, jumps there.
        let near = with_c(w, w.c * 1e-6);
        let what = "a correlation within rounding of ±1";
        no_jump(it, near, factor, (e.value, est.value, est.scale), what)?;
        (e.value - est.value).abs() / SCALE
    } else {
        0.0
    };
    // The covariance is known only to its rounding: ρ to SCALE·rho_scale. How far that moves
    // the expectation enters its scale (as |f'(x)|·scale(x) does for a function of x).
    let moved = if uses_u && uses_v && it.rho_scale > 0.0 {
        if bound * it.rho_scale <= SENSITIVITY_BOUND * est.scale {
            bound * it.rho_scale
        } else {
            // The expectation at ρ moved by its rounding allowance towards 0 (always a
            // covariance; at a scale this small E is smooth in ρ wherever |ρ| < 1, so one side
            // measures the derivative, and at ρ = ±1 it is the only side).
            let r = w.rho - (SCALE * it.rho_scale).min(w.rho.abs()).copysign(w.rho);
            let c = ((1.0 - r.abs()) * (1.0 + r.abs())).sqrt();
            if r == w.rho {
                0.0
            } else {
                let (e, _) = integrate(it, Whitened { rho: r, c, ..w }, factor)?;
                // At ρ = ±1 exactly the law is singular: an expectation that stays at the moved
                // value as the move shrinks a millionfold jumps there.
                // (Nearer in √(1 − ρ²), which f64 holds where ρ itself rounds to ±1.)
                if w.c == 0.0 {
                    let near = with_c(w, c * 1e-6);
                    let what = "a correlation of ±1 that may be rounding";
                    no_jump(it, near, factor, (est.value, e.value, est.scale), what)?;
                }
                (e.value - est.value).abs() / SCALE
            }
        }
    } else {
        0.0
    };
    Ok(Estimate {
        scale: est.scale + moved + singular,
        ..est
    })
}

/// `w` with √(1 − ρ²) = `c` (ρ of w's sign).
fn with_c(w: Whitened, c: f64) -> Whitened {
    Whitened {
        rho: ((1.0 - c) * (1.0 + c)).sqrt().copysign(w.rho),
        c,
        ..w
    }
}

/// An error if the expectation jumps at a singular covariance: `at` its value there, `off` its
/// value off it (`scale` the integrand's), and the expectation at `near` (a millionfold nearer)
/// still with `off` ([`jumps`]).
fn no_jump(
    it: &Integrand,
    near: Whitened,
    factor: f64,
    (at, off, scale): (f64, f64, f64),
    what: &'static str,
) -> Result<(), NumericError> {
    let (nearer, _) = integrate(it, near, factor)?;
    if jumps(at, off, nearer.value, scale) {
        return Err(NumericError::JumpAtDegenerate(what, at, off));
    }
    Ok(())
}

/// Does an expectation jump at a degenerate covariance? `at` is its value there, `off` and
/// `nearer` its values off it and a millionfold nearer: a jump when `off` differs from `at`
/// beyond [`crate::precision::F64_RESOLUTION_REL`] of the integrand's scale and `nearer` has not
/// come even halfway back (a continuous expectation moves with the distance, by a power of it).
pub(crate) fn jumps(at: f64, off: f64, nearer: f64, scale: f64) -> bool {
    let gap = (off - at).abs();
    gap > crate::precision::F64_RESOLUTION_REL * scale.max(at.abs()).max(off.abs())
        && (nearer - at).abs() >= 0.5 * gap
}

/// The expectation by the rule that applies (see [`expectation`], which handles a body of
/// neither u nor v), with the bound E[S·|score_ρ|] (infinite at ρ = ±1, 0 for 1-D integrals
/// that do not depend on ρ).
fn integrate(it: &Integrand, w: Whitened, factor: f64) -> Result<(Estimate, f64), NumericError> {
    let (uses_u, uses_v) = (it.uses_u && w.a > 0.0, it.uses_v && w.b > 0.0);
    Ok(match (uses_u, uses_v) {
        (false, true) => (line(it, 0.0, w.b, factor)?, 0.0),
        (true, false) | (false, false) => (line(it, w.a, 0.0, factor)?, 0.0),
        (true, true) if w.c == 0.0 => (line(it, w.a, w.b.copysign(w.rho), factor)?, f64::INFINITY),
        (true, true) => {
            let (e, bound) = plane(it, w, factor)?;
            (with_unseen(e, unseen_plane(it, w)?)?, bound)
        }
    })
}

/// The old rules' fallback for the kernels of smooth activations ([`super::expect2`]): the
/// nested rule graded towards `lines` at the activations' width 1 in u and v.
pub(super) fn activation_fallback(
    f: &dyn Fn(f64, f64) -> (f64, f64),
    w: Whitened,
    lines: &[Line],
) -> Result<Estimate, NumericError> {
    let mut zl: Vec<ZLine> = lines.iter().filter_map(|l| zline(*l, w, false)).collect();
    for l in &mut zl {
        // A width of 1 in u (or v) is 1/a (or 1/b) across the line, whose normal moves u by a.
        let stretch = (l.p * w.a).abs().max((l.p * w.rho + l.q * w.c).abs() * w.b);
        l.width = 4.0 / stretch.max(1.0);
    }
    nested(f, w, &zl, &[], 1.0).map(|(e, _)| e)
}

/// The old rules' fallback for E[f(s·z)] of a smooth activation ([`super::expect1`]) where the
/// trapezoid rule is not trusted or did not converge: the activation's width 1 around its
/// argument's 0 is 1/`stretch` in z (softplus at σw = 20 is a smoothed kink 0.07 wide in z), so
/// the adaptive rule is graded towards z = 0 from a quarter of 4/stretch.
pub(super) fn activation_fallback_1d(
    f: &dyn Fn(f64) -> f64,
    s: f64,
    stretch: f64,
) -> Result<Estimate, NumericError> {
    let marks = [Mark {
        at: 0.0,
        width: 4.0 / stretch.max(1.0),
    }];
    let mut g = |z: f64| -> Result<Integral, NumericError> {
        let u = s * z;
        let y = check(f(u), u, 0.0)?;
        let p = phi(z);
        Ok(Integral {
            value: p * y,
            scale: p * y.abs(),
            ..Integral::default()
        })
    };
    accepted(integrate_line(&mut g, &marks, false)?, 1.0)
}

/// A line p·z1 + q·z2 + r = 0 of the whitened plane, (p, q) a unit normal, with what crosses
/// it: a kink (or jump), or a feature of `width` (across the line; infinite where none is
/// known).
#[derive(Debug, Clone, Copy)]
struct ZLine {
    p: f64,
    q: f64,
    r: f64,
    kink: bool,
    width: f64,
    /// Is it u = 0 or v = 0 (whose wedge edges are computed as the old rule's)?
    axis: bool,
}

/// x·y·2^k without an intermediate overflow or underflow (0 if either is 0).
fn scaled_mul(x: f64, y: f64, k: i32) -> f64 {
    if x == 0.0 || y == 0.0 {
        return 0.0;
    }
    let ((mx, ex), (my, ey)) = (libm::frexp(x), libm::frexp(y));
    libm::scalbn(mx * my, ex + ey + k)
}

/// The binary exponent of x·y (None if either is 0).
fn exponent(x: f64, y: f64) -> Option<i32> {
    (x != 0.0 && y != 0.0).then(|| libm::frexp(x).1 + libm::frexp(y).1)
}

/// (α·x, β·y, γ) scaled by a common power of two so that the larger of the first two is
/// about 1: the same line, free of overflow and underflow. None if α·x = β·y = 0.
fn scaled_line(l: Line, x: f64, y: f64) -> Option<(f64, f64, f64)> {
    let e = match (exponent(l.u, x), exponent(l.v, y)) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    Some((
        scaled_mul(l.u, x, -e),
        scaled_mul(l.v, y, -e),
        libm::scalbn(l.c, -e),
    ))
}

/// The line `l` in the whitened plane, or None where it does not cross the largest domain.
fn zline(l: Line, w: Whitened, kink: bool) -> Option<ZLine> {
    any_zline(l, w, kink).filter(|z| z.r.abs() <= ENDS[ENDS.len() - 1] * std::f64::consts::SQRT_2)
}

/// The line `l` in the whitened plane, however far (None where it is not a line there).
fn any_zline(l: Line, w: Whitened, kink: bool) -> Option<ZLine> {
    // α·u + β·v = α·a·z1 + β·b·(ρ·z1 + c·z2).
    let (au, bv, g) = scaled_line(l, w.a, w.b)?;
    let (p, q) = (au + bv * w.rho, bv * w.c);
    let n = p.phypot(q);
    let r = g / n;
    if n == 0.0 || !r.is_finite() {
        return None;
    }
    Some(ZLine {
        p: p / n,
        q: q / n,
        r,
        kink,
        width: f64::INFINITY,
        axis: l.c == 0.0 && (l.u == 0.0 || l.v == 0.0),
    })
}

/// The width of a feature across a line, from the integrand `at(t)` at signed distance t from
/// a point of it: the smallest distance 2^(−k) below which the differences of successive probes
/// shrink as the distance does (as a smooth function's do), above the rounding noise; infinite
/// where they shrink all the way up to distance 1. `size` is the point's distance from the
/// origin (the probes stop at its rounding).
fn feature_width(
    at: &mut dyn FnMut(f64) -> Result<f64, NumericError>,
    size: f64,
) -> Result<f64, NumericError> {
    probe_width(at, size).map(|(width, _)| width)
}

/// [`feature_width`], and whether any probe saw a value other than 0.
fn probe_width(
    at: &mut dyn FnMut(f64) -> Result<f64, NumericError>,
    size: f64,
) -> Result<(f64, bool), NumericError> {
    // The probes go down to the rounding of the point's position (to 1e-300 at the origin),
    // and stop once 60 successive ones have shown nothing but rounding noise.
    let finest = resolution(size);
    let (mut g, mut m, mut quiet) = ([vec![], vec![]], 0.0f64, 0usize);
    let mut k = 0;
    loop {
        let t = libm::scalbn(1.0, -k);
        if t < finest {
            break;
        }
        for (side, sign) in [1.0, -1.0].into_iter().enumerate() {
            let y = at(sign * t)?;
            m = m.max(y.abs());
            g[side].push(y);
        }
        let n = g[0].len();
        if n >= 2 {
            let moved = g
                .iter()
                .any(|s| (s[n - 1] - s[n - 2]).abs() > PROBE_FLOOR * m);
            quiet = if moved { 0 } else { quiet + 1 };
            if m > 0.0 && quiet >= 60 {
                break;
            }
        }
        k += 1;
    }
    let n = g[0].len();
    if m == 0.0 || n < 3 {
        return Ok((f64::INFINITY, m != 0.0));
    }
    let floor = PROBE_FLOOR * m;
    let mut width = f64::INFINITY;
    for side in &g {
        // d(k) = |g(k) − g(k+1)| spans [2^−(k+1), 2^−k]; from the smallest distances up, the
        // first that is smaller than the one below it marks the feature's scale.
        let d = |k: usize| (side[k] - side[k + 1]).abs();
        for k in (0..n - 2).rev() {
            if d(k + 1) > floor && d(k) < d(k + 1) {
                width = width.min(libm::scalbn(1.0, -(k as i32 + 1)));
                break;
            }
        }
        width = width.min(rate_change(&d, n - 1, floor));
    }
    Ok((width, true))
}

/// The scale of a smoothed kink among the differences `d(0..n)` of [`probe_width`]: where their
/// rate of shrinking changes, below [`TRUSTED_WIDTH`]; infinite where it does not.
///
/// A smoothed kink (erf(10⁴·u)·u, tanh(10⁴·u)·u, softplus(10⁴·u)/10⁴) has differences that
/// shrink monotonically on both sides of its scale, so the rule of the smallest difference above
/// sees nothing; but they shrink at another rate there (×¼ per halving where the integrand is
/// quadratic in t, ×½ where it is linear) or by another factor (the slope doubles across
/// softplus's scale). The differences are extrapolated from the two smallest distances whose
/// differences stand [`RATE_MARGIN`] above the rounding floor, as a power of the distance; the
/// first distance above them where a difference is off that power law by more than a factor
/// √2 is the feature's scale. A function of scale 1 departs from its power law by ~t there, so it
/// is not flagged below 0.1 unless its derivatives are several times its size; such a flag
/// only grades the panels more finely. (erf(10⁴·u)·u was integrated as |u|, 2·10⁻⁹ off with an
/// error estimate of 10⁻¹².)
fn rate_change(d: &dyn Fn(usize) -> f64, n: usize, floor: f64) -> f64 {
    let valid = |k: usize| d(k) > RATE_MARGIN * floor;
    // The smallest distance (largest k) from which every larger one stands above the floor.
    let mut bottom = None;
    for k in 0..n {
        if !valid(k) {
            break;
        }
        bottom = Some(k);
    }
    let Some(kb) = bottom.filter(|&k| k >= 2) else {
        return f64::INFINITY;
    };
    let rate = d(kb) / d(kb - 1);
    if !(rate.is_finite() && rate > 0.0) {
        return f64::INFINITY;
    }
    for k in (0..kb - 1).rev() {
        let predicted = d(kb - 1) * rate.powi(k as i32 - (kb as i32 - 1));
        let off = (d(k) / predicted).pln().abs();
        if off.is_nan() || off > std::f64::consts::LN_2 / 2.0 {
            let t = libm::scalbn(1.0, -(k as i32 + 1));
            return if t < TRUSTED_WIDTH { t } else { f64::INFINITY };
        }
    }
    f64::INFINITY
}

/// The smallest meaningful distance from a point at `x`: its rounding, 8 ulps (1e-300 at 0).
fn resolution(x: f64) -> f64 {
    (8.0 * f64::EPSILON * x.abs()).max(1e-300)
}

/// A point of a 1-D integral: an edge of its panels, graded towards from `width`/4 when `width`
/// is finite and below [`GRADE_UP_TO`].
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: f64,
    width: f64,
}

/// The first panel edges on [−end, end]: 0, ±1, ±2, ±4, ±8, the smaller ends, and the marks
/// with their grading.
fn panel_edges(end: f64, marks: &[Mark]) -> Vec<f64> {
    let mut e = vec![-end, 0.0, end];
    for x in [1.0, 2.0, 4.0, 8.0].into_iter().chain(ENDS) {
        if x < end {
            e.extend([-x, x]);
        }
    }
    for m in marks {
        if m.at.is_nan() || m.at.abs() >= end {
            continue;
        }
        e.push(m.at);
        if m.width < GRADE_UP_TO {
            let mut d = (m.width / 4.0).max(resolution(m.at));
            while d < GRADE_UP_TO {
                e.extend([m.at - d, m.at + d]);
                d *= 2.0;
            }
        }
    }
    e.retain(|x| x.abs() <= end);
    e.sort_by(f64::total_cmp);
    e.dedup_by(|x, y| (*x - *y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()));
    e
}

/// An integral by [`adaptive`]: its value, its scale ∫S, its discretisation error estimate
/// and the error it inherits from the integrand's own values (an inner integral's).
#[derive(Debug, Clone, Copy, Default)]
struct Integral {
    value: f64,
    scale: f64,
    /// ∫S·|score_ρ| (see [`rho_score`]), for the nested rule.
    bound: f64,
    err: f64,
    inherited: f64,
}

impl Integral {
    fn add(self, o: Integral, w: f64) -> Integral {
        Integral {
            value: self.value + w * o.value,
            scale: self.scale + w * o.scale,
            bound: self.bound + w * o.bound,
            err: self.err + w * o.err,
            inherited: self.inherited + w * o.inherited,
        }
    }
}

type Integrand1<'g> = dyn FnMut(f64) -> Result<Integral, NumericError> + 'g;

/// ∫ g over the panels `edges` by globally adaptive Gauss–Legendre: the panel with the largest
/// discretisation error estimate (the difference of its rule and the sum of the rules on its
/// halves) is halved until the estimates add up to at most [`ADAPT_REL`] of the scale, or
/// [`ADAPT_MAX_PANELS`] (or twice the first panels) are used (the estimate then says so). `g`
/// gives each point's value, scale and error (an inner integral's; 0 for a plain function).
fn adaptive(g: &mut Integrand1, edges: &[f64]) -> Result<Integral, NumericError> {
    let gl = gauss_legendre(ADAPT_NODES);
    let mut rule = |a: f64, b: f64| -> Result<Integral, NumericError> {
        let (mid, half) = ((a + b) / 2.0, (b - a) / 2.0);
        let mut acc = Integral::default();
        for (x, w) in gl.x.iter().zip(&gl.w) {
            let y = g(mid + half * x)?;
            acc = acc.add(
                Integral {
                    err: 0.0,
                    inherited: y.err + y.inherited,
                    ..y
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
    let limit = ADAPT_MAX_PANELS.max(2 * edges.len());
    let mut panels = Vec::with_capacity(limit);
    for e in edges.windows(2) {
        panels.push(make(e[0], e[1], None)?);
    }
    loop {
        let total = panels.iter().fold(Integral::default(), |acc, p| {
            let mut t = acc.add(p.left, 1.0).add(p.right, 1.0);
            t.err = acc.err + p.err;
            t
        });
        if total.err <= ADAPT_REL * total.scale || panels.len() >= limit {
            return Ok(total);
        }
        let worst = (0..panels.len())
            .max_by(|&i, &j| panels[i].err.total_cmp(&panels[j].err))
            .expect("panels");
        let p = panels.swap_remove(worst);
        let m = (p.a + p.b) / 2.0;
        if !(p.a < m && m < p.b) {
            // The panel cannot be halved in f64: its estimate stays.
            panels.push(p);
            return Ok(panels.iter().fold(Integral::default(), |acc, p| {
                let mut t = acc.add(p.left, 1.0).add(p.right, 1.0);
                t.err = acc.err + p.err;
                t
            }));
        }
        panels.push(make(p.a, m, Some(p.left.value))?);
        panels.push(make(m, p.b, Some(p.right.value))?);
    }
}

/// The estimated weight of g's scale beyond ±end: on each side, the larger scale at end and
/// end − 1/2 against the larger at end − 1 and end − 3/2 give the rate of decay
/// ([`decay_tail`]). Where a mark lies within 3/2 of the end (only at the last end: the first
/// end lies [`BEYOND_MARKS`] beyond every mark), the four points are drawn between the mark and
/// the end, so that all of them read the integrand on the far side of its jump or bump.
fn tail(g: &mut Integrand1, end: f64, marks: &[Mark]) -> Result<f64, NumericError> {
    let mut total = 0.0;
    for s in [1.0, -1.0] {
        let span = marks
            .iter()
            .map(|m| s * m.at)
            .filter(|&a| a < end && a > end - 1.5)
            .map(|a| 0.9 * (end - a))
            .fold(1.5, f64::min);
        let step = span / 3.0;
        let near = g(s * end)?.scale.max(g(s * (end - step))?.scale);
        let inner = g(s * (end - 2.0 * step))?
            .scale
            .max(g(s * (end - span))?.scale);
        total += decay_tail(near, inner, 2.0 * step);
    }
    Ok(total)
}

/// ∫ g over ℝ by [`adaptive`] on [−end, end], the end grown through [`ENDS`] until the scale
/// beyond is negligible ([`TAIL_REL`]); the estimated weight beyond is added to the error. An
/// integrand that is not finite beyond |z| = 9 while its scale has not become negligible, or
/// whose scale beyond 37.5 is not negligible, does not decay: an error, never a value.
///
/// The first end lies [`BEYOND_MARKS`] beyond every mark inside the largest domain: the tail
/// estimate extrapolates the decay seen inside, so a jump or a bump beyond the end is invisible
/// to it (1 + 10³⁰·step(v − 10) was integrated as 1 on |z| ≤ 9). `whole`: the domain is the
/// last end at once (something lies beyond it, see [`unseen`]).
fn integrate_line(
    g: &mut Integrand1,
    marks: &[Mark],
    whole: bool,
) -> Result<Integral, NumericError> {
    // Marks within BEYOND_MARKS of the last end are not reached for: their far side carries
    // at most 10⁻²⁷⁶ of the integrand's size there, and reaching them left too short a span for
    // the tail estimate (step(u·v − 3), whose hyperbola nears the axes, was refused as not
    // decaying).
    let reach = ENDS[ENDS.len() - 1] - BEYOND_MARKS;
    let furthest = marks
        .iter()
        .map(|m| m.at.abs())
        .filter(|a| *a <= reach)
        .fold(0.0, f64::max);
    let first = ENDS
        .iter()
        .position(|&end| !whole && end >= furthest + BEYOND_MARKS)
        .unwrap_or(ENDS.len() - 1);
    let mut share = f64::INFINITY;
    for (k, &end) in ENDS.iter().enumerate().skip(first) {
        let attempt =
            adaptive(g, &panel_edges(end, marks)).and_then(|r| tail(g, end, marks).map(|t| (r, t)));
        let (mut r, beyond) = match attempt {
            Ok(x) => x,
            Err(NumericError::NonFiniteIntegrand { .. }) if k > first => {
                return Err(NumericError::NotDecaying {
                    end: ENDS[k - 1],
                    share,
                })
            }
            Err(e) => return Err(e),
        };
        if beyond <= TAIL_REL * r.scale {
            r.err += beyond;
            // A mark the domain does not reach for (beyond 35.5σ) carries its far side's weight
            // into the error: the integrand's scale just past it times the normal tail beyond
            // it (Mills: φ(m)/m), where f64 still holds the density. 10²⁹⁸·step(z − 37) is then
            // no exact 0 (its weight is 0.057), and a far side too light to matter (step(u·v −
            // 3) near the axes) costs nothing.
            for m in marks {
                let a = m.at.abs();
                if a > reach && a < FAR_MARKS {
                    let past = m.at + m.at.signum() * 1e-9 * a;
                    r.err += g(past)?.scale / a;
                }
            }
            return Ok(r);
        }
        share = beyond / r.scale;
    }
    Err(NumericError::NotDecaying {
        end: ENDS[ENDS.len() - 1],
        share,
    })
}

/// A 1-D expectation E[F(ku·z, kv·z)], z ~ N(0, 1): split at the kink points, graded towards
/// the feature points.
fn line(it: &Integrand, ku: f64, kv: f64, factor: f64) -> Result<Estimate, NumericError> {
    let f = it.f;
    let end = ENDS[ENDS.len() - 1];
    let at_line = |l: &Line| -> Option<f64> {
        let (x, y, g) = scaled_line(*l, ku, kv)?;
        let z = -g / (x + y);
        z.is_finite().then_some(z)
    };
    let point = |l: &Line| at_line(l).filter(|z| z.abs() < end);
    // Kinks and features beyond the last end: the domain does not reach them, but their near
    // flank may lie inside it (the weight of 10³⁰⁰·exp(−(u − 40)²) peaks at u = 26.7) and their
    // far side carries weight (10³⁰⁸·step(u − 37.51) has 3.16).
    let far: Vec<f64> = it
        .kinks
        .iter()
        .chain(it.features)
        .filter_map(at_line)
        .filter(|z| z.abs() >= end)
        .collect();
    let at = |z: f64| -> Result<f64, NumericError> {
        let (u, v) = (ku * z, kv * z);
        check(f(u, v).0, u, v)
    };
    let mut marks: Vec<Mark> = it
        .kinks
        .iter()
        .filter_map(point)
        .map(|at| Mark {
            at,
            width: f64::INFINITY,
        })
        .collect();
    for z in it.features.iter().filter_map(point) {
        let width = feature_width(&mut |t| at(z + t), z.abs())?;
        marks.push(Mark { at: z, width });
    }
    // Zeros of the curves along the line: a ridge on u² = 1 is narrow at u = ±1.
    let curves: Vec<&Curve> = it.curves.iter().collect();
    for z in curve_zeros(&curves, |z| (ku * z, kv * z), ZERO_GRID)? {
        marks.push(curve_mark(z, &[0.0], false, &mut |t, _| at(t))?);
    }
    let mut g = |z: f64| -> Result<Integral, NumericError> {
        let (u, v) = (ku * z, kv * z);
        let (y, s) = checked(f, u, v)?;
        let p = phi(z);
        Ok(Integral {
            value: p * y,
            scale: p * s,
            ..Integral::default()
        })
    };
    // Where something lies beyond, the whole domain: the near flank of what lies beyond is
    // integrated, not extrapolated.
    let r = integrate_line(&mut g, &marks, !far.is_empty())?;
    let beyond = unseen(&far, !it.curves.is_empty(), &mut |z| {
        let (u, v) = (ku * z, kv * z);
        let (y, s) = f(u, v);
        check(y, u, v)?;
        check(s, u, v)
    })?;
    with_unseen(accepted(r, factor)?, beyond)
}

/// What lies beyond the last end of a 1-D domain ([`unseen`]).
struct Unseen {
    /// The estimated weight of the integrand's scale there (a normal f64, or 0).
    weight: f64,
    /// Is the integrand nonzero somewhere there (its weight may lie below f64's range)?
    nonzero: bool,
}

/// Probes of the far side, in standard deviations beyond the last end: the density falls by
/// e^(−37.5·k) at k, so at most 1.8·10³⁰⁸ (the largest f64) times it is below f64's range past
/// 54 (k = 16.5); and far points, where only whether the integrand is nonzero is asked.
const FAR_PROBES: [f64; 14] = [
    0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5, 4.0, 6.0, 10.0, 16.5,
];
const FAR_POINTS: [f64; 6] = [60.0, 100.0, 1e3, 1e6, 1e12, 1e100];

/// The integrand's weight beyond ±37.5 where something lies there: kinks or features at `far`
/// (or zero sets of curves, when `curves`), which no end reaches and no tail estimate sees.
/// `scale(z)` is the integrand's magnitude scale at z (an error where it has none).
///
/// The weight beyond a point m is at most S·φ(m)/m for an integrand of scale at most S there
/// (Mills); it is estimated as the largest S(z)·φ(z)/z over probes from the end outwards, each
/// far mark and just past it ([`FAR_PROBES`]), computed from logarithms so that no factor
/// underflows. A weight that is nonzero but below f64's range still makes the expectation no
/// exact 0 (`nonzero`): E[relu(u − 74.7·…)] is 10⁻⁶⁴⁵, not 0, and a strict `0 <` of it is
/// true. An integrand with no finite scale at a probe before 54 has an unknown weight there: an
/// error.
fn unseen(
    far: &[f64],
    curves: bool,
    scale: &mut dyn FnMut(f64) -> Result<f64, NumericError>,
) -> Result<Unseen, NumericError> {
    let mut out = Unseen {
        weight: 0.0,
        nonzero: false,
    };
    if far.is_empty() && !curves {
        return Ok(out);
    }
    let end = ENDS[ENDS.len() - 1];
    let mut probes: Vec<f64> = vec![];
    for side in [1.0, -1.0] {
        probes.extend(FAR_PROBES.iter().map(|k| side * (end + k)));
        probes.extend(FAR_POINTS.iter().map(|k| side * k));
    }
    for &m in far {
        let a = m.abs();
        // Just past the mark (its position is rounded), then 1, 3 and 6 of the tail's decay
        // lengths 1/m beyond.
        probes.extend([1e-9 * a, 1.0 / a, 3.0 / a, 6.0 / a].map(|d| m + d.copysign(m)));
    }
    let ln_root = (2.0 * PI).sqrt().pln();
    for z in probes {
        let a = z.abs();
        // Mills: the normal weight beyond a is at most φ(a)/a.
        tally(&mut out, a, -0.5 * a * a - ln_root - a.pln(), scale(z))?;
    }
    Ok(out)
}

/// Adds a probe at distance `a` beyond the last end, whose tail weight is e^`ln_tail`, of scale
/// `s`, to `out` ([`unseen`]).
fn tally(
    out: &mut Unseen,
    a: f64,
    ln_tail: f64,
    s: Result<f64, NumericError>,
) -> Result<(), NumericError> {
    let s = match s {
        Ok(s) => s,
        // Beyond 54 the weight is below f64's range whatever the integrand's finite value.
        Err(_) if a > ENDS[ENDS.len() - 1] + FAR_PROBES[FAR_PROBES.len() - 1] => return Ok(()),
        Err(e) => return Err(e),
    };
    if s > 0.0 {
        out.nonzero = true;
        let w = (s.pln() + ln_tail).pexp();
        if w.is_finite() && w >= f64::MIN_POSITIVE {
            out.weight = out.weight.max(w);
        }
    }
    Ok(())
}

/// [`unseen`] in the whitened plane: lines whose nearest point lies beyond the last end are
/// probed there and beyond, outwards and along them (the weight beyond a line at distance r is
/// at most φ(r)/r); where curves may have zeros beyond, rings of probes (the weight beyond
/// radius ρ is e^(−ρ²/2)).
fn unseen_plane(it: &Integrand, w: Whitened) -> Result<Unseen, NumericError> {
    let end = ENDS[ENDS.len() - 1];
    let far: Vec<ZLine> = it
        .kinks
        .iter()
        .chain(it.features)
        .filter_map(|l| any_zline(*l, w, false))
        .filter(|l| l.r.abs() >= end)
        .collect();
    let mut out = Unseen {
        weight: 0.0,
        nonzero: false,
    };
    if far.is_empty() && it.curves.is_empty() {
        return Ok(out);
    }
    let f = it.f;
    let scale = |z1: f64, z2: f64| -> Result<f64, NumericError> {
        let (u, v) = (w.a * z1, w.b * (w.rho * z1 + w.c * z2));
        let (y, s) = f(u, v);
        check(y, u, v)?;
        check(s, u, v)
    };
    let ln_root = (2.0 * PI).sqrt().pln();
    for l in &far {
        let a = l.r.abs();
        // The nearest point is −r·(p, q); beyond it, further from the origin.
        for d in [1e-9 * a, 1.0 / a, 3.0 / a, 6.0 / a] {
            let t = -(l.r + d.copysign(l.r));
            for along in [0.0, 1.0, -1.0, 3.0, -3.0] {
                let (z1, z2) = (t * l.p - along * l.q, t * l.q + along * l.p);
                tally(&mut out, a, -0.5 * a * a - ln_root - a.pln(), scale(z1, z2))?;
            }
        }
    }
    if !it.curves.is_empty() {
        const ANGLES: usize = 32;
        for k in FAR_PROBES.iter().map(|k| end + k).chain(FAR_POINTS) {
            for j in 0..ANGLES {
                let t = 2.0 * PI * j as f64 / ANGLES as f64;
                let (z1, z2) = (k * t.pcos(), k * t.psin());
                tally(&mut out, k, -0.5 * k * k, scale(z1, z2))?;
            }
        }
    }
    Ok(out)
}

/// `e` with the weight beyond the domain ([`Unseen`]) in its error and its scale: refused
/// where that weight is not negligible, no exact 0 where something nonzero lies there.
fn with_unseen(mut e: Estimate, beyond: Unseen) -> Result<Estimate, NumericError> {
    e.error += beyond.weight;
    e.scale += beyond.weight;
    if e.error > ADAPT_ACCEPT * e.scale {
        return Err(NumericError::NoConvergence {
            estimate: e.value,
            error: e.error,
        });
    }
    if beyond.nonzero {
        e.scale = e.scale.max(f64::MIN_POSITIVE);
    }
    Ok(e)
}

/// The zeros of the curves ([`Curve`]) along the line `at(t)`, t in [−37.5, 37.5]
/// ([`quadrature_cuts`] on `cells` intervals: sign changes, and zeros touched without one); an
/// error where a curve has too many to cut at.
fn curve_zeros(
    curves: &[&Curve],
    at: impl Fn(f64) -> (f64, f64),
    cells: usize,
) -> Result<Vec<f64>, NumericError> {
    let end = ENDS[ENDS.len() - 1];
    let index: Vec<usize> = (0..curves.len()).collect();
    let value = |k: usize, t: f64| {
        let (u, v) = at(t);
        let y = (curves[k].g)(u, v);
        y.is_finite().then_some(y)
    };
    let mut cuts = quadrature_cuts(&index, -end, end, cells, |k| curves[k].peaks, value)
        .map_err(|(_, why)| NumericError::UnresolvedFeatures(why.to_string()))?
        .all();
    // Two zeros inside one cell (u² + v² = 1 near u = ±1) show on the grid only as a small
    // |g| between larger ones, which the search above takes for one zero touched: where the
    // extreme of g between its neighbours has the other sign, both zeros are found by bisection.
    let h = 2.0 * end / cells as f64;
    for k in 0..curves.len() {
        let grid: Vec<Option<f64>> = (0..=cells).map(|i| value(k, -end + h * i as f64)).collect();
        for i in 1..cells {
            let (Some(l), Some(m), Some(r)) = (grid[i - 1], grid[i], grid[i + 1]) else {
                continue;
            };
            let sign = m.signum();
            if m == 0.0 || l.signum() != sign || r.signum() != sign {
                continue;
            }
            if !(m.abs() <= l.abs() && m.abs() <= r.abs()) {
                continue;
            }
            let (a, b) = (-end + h * (i - 1) as f64, -end + h * (i + 1) as f64);
            let x = -end + h * i as f64;
            let (y, t) = golden_min(|t| value(k, t).map(|y| sign * y), (a, b), (sign * m, x), 80);
            if y >= 0.0 {
                continue;
            }
            for (mut lo, mut hi) in [(a, t), (t, b)] {
                // g has the sign `sign` at lo (resp. hi) and the other at t.
                let lo_side = lo == a;
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    let Some(ym) = value(k, mid) else { break };
                    if (ym.signum() == sign) == lo_side {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                cuts.push(0.5 * (lo + hi));
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    Ok(cuts)
}

/// A mark at a curve's zero `z` on a 1-D integral, graded towards from the smallest width the
/// probes `at(t, s)` measure across it (t along the integral's variable from `z`, s one of
/// `offsets` across it). Where every probe saw only 0 the width is not known: graded from
/// [`UNSEEN_WIDTH`] when `unseen_graded` (the outer integral, whose integrand is probed only on
/// a few lines), not at all otherwise (the inner integral's own integrand is 0 there).
fn curve_mark(
    z: f64,
    offsets: &[f64],
    unseen_graded: bool,
    at: &mut dyn FnMut(f64, f64) -> Result<f64, NumericError>,
) -> Result<Mark, NumericError> {
    let (mut width, mut seen) = (f64::INFINITY, false);
    for &s in offsets {
        let (w, saw) = probe_width(&mut |t| at(z + t, s), z.abs())?;
        width = width.min(w);
        seen |= saw;
    }
    if !seen && unseen_graded {
        width = UNSEEN_WIDTH;
    }
    Ok(Mark { at: z, width })
}

/// The least (`sign` = 1) or greatest (`sign` = −1) value of a curve along z2 at z1, and where:
/// the extreme of a grid of [`CURVE_CELLS`] intervals on [−37.5, 37.5], refined by golden
/// section between its neighbours. None where no value is finite.
fn curve_extreme(curve: &Curve, w: Whitened, z1: f64, sign: f64) -> Option<(f64, f64)> {
    let end = ENDS[ENDS.len() - 1];
    let (u, v0, bc) = (w.a * z1, w.b * w.rho * z1, w.b * w.c);
    let at = |z2: f64| -> Option<f64> {
        let y = sign * (curve.g)(u, v0 + bc * z2);
        y.is_finite().then_some(y)
    };
    let h = 2.0 * end / CURVE_CELLS as f64;
    let mut best: Option<(f64, f64)> = None;
    for k in 0..=CURVE_CELLS {
        let z2 = -end + h * k as f64;
        if let Some(y) = at(z2) {
            if best.is_none_or(|(b, _)| y < b) {
                best = Some((y, z2));
            }
        }
    }
    let (y, z2) = best?;
    let (y, z2) = golden_min(at, (z2 - h, z2 + h), (y, z2), 60);
    Some((sign * y, z2))
}

/// The estimate of an integral, accepted when its error (times `factor` where the integrand is
/// not known to be smooth) is at most [`ADAPT_ACCEPT`] of its scale.
fn accepted(r: Integral, factor: f64) -> Result<Estimate, NumericError> {
    let error = factor * (r.err + r.inherited);
    if error <= ADAPT_ACCEPT * r.scale {
        Ok(Estimate {
            value: r.value,
            scale: r.scale,
            error,
        })
    } else {
        Err(NumericError::NoConvergence {
            estimate: r.value,
            error,
        })
    }
}

/// Where two lines cross, in the whitened plane.
fn crossing(a: &ZLine, b: &ZLine) -> Option<(f64, f64)> {
    let det = a.p * b.q - b.p * a.q;
    let z1 = (b.r * a.q - a.r * b.q) / det;
    let z2 = (a.r * b.p - b.r * a.p) / det;
    (z1.is_finite() && z2.is_finite()).then_some((z1, z2))
}

/// The 2-D expectation: the trapezoid or wedge rule where they apply and converge, the nested
/// rule otherwise.
fn plane(it: &Integrand, w: Whitened, factor: f64) -> Result<(Estimate, f64), NumericError> {
    let f = it.f;
    let mut lines: Vec<ZLine> = it
        .kinks
        .iter()
        .filter_map(|l| zline(*l, w, true))
        .chain(it.features.iter().filter_map(|l| zline(*l, w, false)))
        .collect();
    // Probe each feature line at its point nearest the origin, near it along the line, and where
    // it crosses another line.
    let end = ENDS[ENDS.len() - 1];
    for i in 0..lines.len() {
        if lines[i].kink {
            continue;
        }
        let l = lines[i];
        // Also 1 and 2 units along the line each way: the rest of the integrand may vanish at
        // the nearest point (erf(10⁴·u)·erf(v) is 0 all along the probe through the origin).
        let mut points: Vec<(f64, f64)> = [0.0, 1.0, -1.0, 2.0, -2.0]
            .into_iter()
            .map(|s| (-l.r * l.p - s * l.q, -l.r * l.q + s * l.p))
            .collect();
        for (j, o) in lines.iter().enumerate() {
            if j != i {
                if let Some(x) = crossing(&l, o) {
                    points.push(x);
                }
            }
        }
        let mut width = f64::INFINITY;
        for (z1, z2) in points {
            if z1.phypot(z2) > end {
                continue;
            }
            let mut at = |t: f64| -> Result<f64, NumericError> {
                let (y1, y2) = (z1 + t * l.p, z2 + t * l.q);
                let (u, v) = (w.a * y1, w.b * (w.rho * y1 + w.c * y2));
                check(f(u, v).0, u, v)
            };
            width = width.min(feature_width(&mut at, z1.phypot(z2))?);
        }
        lines[i].width = width;
    }
    // A curve's zero set is not located by a line's probes: the fast rules are not trusted
    // with it (a ridge on u² + v² = 1 of width 1e-4 fell between every node).
    // Nor with a line whose kink or feature lies beyond their domains' ends, or so near an end
    // that their tail estimates read it (10³⁰·step(u − 10) beside v² was integrated as v²).
    let reach = TRAP_RANGE.min(RADIUS) - BEYOND_MARKS;
    let trusted = it.smoothness != Smoothness::Unknown
        && it.curves.is_empty()
        && lines
            .iter()
            .all(|l| (l.kink || l.width >= TRUSTED_WIDTH) && l.r.abs() <= reach);
    let kinks: Vec<&ZLine> = lines.iter().filter(|l| l.kink).collect();
    if trusted && kinks.is_empty() {
        if let Some(t) = trapezoid2(f, w)? {
            if t.tail <= TAIL_REL * t.scale && t.error <= ADAPT_ACCEPT * t.scale {
                let e = Estimate {
                    value: t.value,
                    scale: t.scale,
                    error: t.error + t.tail,
                };
                return Ok((e, t.bound));
            }
        }
    } else if trusted && kinks.iter().all(|l| l.r == 0.0) {
        let angles = if kinks.iter().all(|l| l.axis) {
            axes_angles(w)
        } else {
            wedge_angles(&kinks)
        };
        let (coarse, scale, bound) = wedges(f, w, &angles, ANGULAR_NODES, polar_radial())?;
        let (fine, ..) = wedges(f, w, &angles, FINE_ANGULAR_NODES, polar_radial_fine())?;
        let near = wedge_ring(f, w, &angles, RADIUS)?.max(wedge_ring(f, w, &angles, RADIUS - 0.5)?);
        let inner =
            wedge_ring(f, w, &angles, RADIUS - 1.0)?.max(wedge_ring(f, w, &angles, RADIUS - 1.5)?);
        let beyond = decay_tail(near, inner, 1.0);
        let error = (fine - coarse).abs() + beyond;
        if beyond <= TAIL_REL * scale && error <= ADAPT_ACCEPT * scale {
            let e = Estimate {
                value: fine,
                scale,
                error,
            };
            return Ok((e, bound));
        }
    }
    nested(f, w, &lines, it.curves, factor)
}

/// The wedge edges of kink lines through the origin: each line's two directions, from the
/// smallest, ascending, closed by the smallest plus 2π.
fn wedge_angles(kinks: &[&ZLine]) -> Vec<f64> {
    let mut t: Vec<f64> = vec![];
    for l in kinks {
        let d = (l.q.patan2(l.p) - FRAC_PI_2).rem_euclid(PI);
        t.extend([d, d + PI]);
    }
    t.sort_by(f64::total_cmp);
    t.dedup_by(|x, y| (*x - *y).abs() <= 1e-15);
    if t.len() > 1 && (t[0] + 2.0 * PI - t[t.len() - 1]).abs() <= 1e-15 {
        t.pop();
    }
    t.push(t[0] + 2.0 * PI);
    t
}

/// The nested rule: [`integrate_line`] in z2 inside [`integrate_line`] in z1. In z1 it is split
/// where a line is vertical and where two lines cross (the inner integral has a kink there),
/// graded towards where a line crosses z2 = 0 when that line is steep or narrow (the inner
/// integral then changes over |q|/|p| + width/|p|) and towards where two lines cross when one
/// of them is a feature (over its width/|p|); in z2 it is split where each line crosses and
/// graded towards the feature lines.
///
/// A curve ([`Curve`]) cuts the inner integral at its zeros along z2 (at each z1), graded from
/// the width the integrand's probes measure there; and the outer one where the inner integral
/// changes fast: at the zeros along z1 of a curve of u alone (a ridge on u² = 1), and where a
/// curve's least or greatest value along z2 crosses or touches 0 (its zero set along z2 begins
/// or ends there: u = ±1 for u² + v² = 1), graded from the width the integrand's probes across
/// that point measure, or from [`UNSEEN_WIDTH`] where they saw only 0.
fn nested(
    f: &dyn Fn(f64, f64) -> (f64, f64),
    w: Whitened,
    lines: &[ZLine],
    curves: &[Curve],
    factor: f64,
) -> Result<(Estimate, f64), NumericError> {
    let mut outer_marks = vec![];
    for (i, l) in lines.iter().enumerate() {
        if l.p != 0.0 {
            let at = -l.r / l.p;
            let width = if l.q == 0.0 {
                l.width
            } else {
                (l.q.abs() + if l.width.is_finite() { l.width } else { 0.0 }) / l.p.abs()
            };
            outer_marks.push(Mark { at, width });
        }
        for o in &lines[i + 1..] {
            if let Some((z1, _)) = crossing(l, o) {
                // Near where two features cross, the inner integral changes over the z1-extent
                // of either (its width over |p|): two ridges of width 1e-4 crossing at the
                // origin make an inner integral 1e-4 wide in z1 (exp(−10⁸(u − v)²)·exp(−10⁸v²)
                // was integrated as half its mass, erf(10⁴(u − v))·erf(10⁴v) 3e-9 off).
                let width = [l, o]
                    .into_iter()
                    .filter(|x| x.p != 0.0 && x.width.is_finite())
                    .map(|x| x.width / x.p.abs())
                    .fold(f64::INFINITY, f64::min);
                outer_marks.push(Mark { at: z1, width });
            }
        }
    }
    let bc = w.b * w.c;
    let value_at = |z1: f64, z2: f64| -> Result<f64, NumericError> {
        let (u, v) = (w.a * z1, w.b * (w.rho * z1 + w.c * z2));
        check(f(u, v).0, u, v)
    };
    let (with_v, without_v): (Vec<&Curve>, Vec<&Curve>) = curves.iter().partition(|c| c.uses_v);
    for z1 in curve_zeros(&without_v, |z1| (w.a * z1, 0.0), ZERO_GRID)? {
        outer_marks.push(curve_mark(z1, &CURVE_PROBES, true, &mut |t, s| {
            value_at(t, s)
        })?);
    }
    if !with_v.is_empty() {
        let end = ENDS[ENDS.len() - 1];
        let extremes: Vec<(usize, f64)> = (0..with_v.len())
            .flat_map(|k| [(k, 1.0), (k, -1.0)])
            .collect();
        let ends = quadrature_cuts(
            &extremes,
            -end,
            end,
            CURVE_CELLS,
            |_| false,
            |(k, sign), z1| curve_extreme(with_v[k], w, z1, sign).map(|(y, _)| y),
        )
        .map_err(|(_, why)| NumericError::UnresolvedFeatures(why.to_string()))?
        .zeros;
        for z1 in ends {
            // Probed on the fixed lines and across the point of every curve's extremes: the one
            // nearest 0 may belong to another curve than the one that touches 0 here (u² − 0.6u
            // + 0.09, a part of (u − 0.3)² + (v − 0.2)² written out, is least everywhere along
            // z2), and a probe that misses the feature sees a smooth integrand (1 + a bump of
            // width 1e-6 at (0.3, 0.2) measured no width and was integrated as 1).
            let mut offsets = CURVE_PROBES.to_vec();
            for &(k, sign) in &extremes {
                if let Some((_, z2)) = curve_extreme(with_v[k], w, z1, sign) {
                    if !offsets.contains(&z2) {
                        offsets.push(z2);
                    }
                }
            }
            outer_marks.push(curve_mark(z1, &offsets, true, &mut |t, s| value_at(t, s))?);
        }
    }
    let mut outer = |z1: f64| -> Result<Integral, NumericError> {
        let p1 = phi(z1);
        if p1 == 0.0 {
            return Ok(Integral::default());
        }
        let u = w.a * z1;
        let v0 = w.b * w.rho * z1;
        let marks: Vec<Mark> = lines
            .iter()
            .filter(|l| l.q != 0.0)
            .map(|l| Mark {
                at: -(l.r + l.p * z1) / l.q,
                width: l.width / l.q.abs(),
            })
            .collect();
        let mut marks = marks;
        for z2 in curve_zeros(&with_v, |z2| (u, v0 + bc * z2), CURVE_CELLS)? {
            marks.push(curve_mark(z2, &[0.0], false, &mut |t, _| value_at(z1, t))?);
        }
        let mut inner = |z2: f64| -> Result<Integral, NumericError> {
            let v = v0 + bc * z2;
            let (y, s) = checked(f, u, v)?;
            let p2 = phi(z2);
            Ok(Integral {
                value: p2 * y,
                scale: p2 * s,
                bound: p2 * s * rho_score(w, z1, z2),
                ..Integral::default()
            })
        };
        let r = integrate_line(&mut inner, &marks, false)?;
        Ok(Integral {
            value: p1 * r.value,
            scale: p1 * r.scale,
            bound: p1 * r.bound,
            err: p1 * (r.err + r.inherited),
            inherited: 0.0,
        })
    };
    let r = integrate_line(&mut outer, &outer_marks, false)?;
    Ok((accepted(r, factor)?, r.bound))
}

#[cfg(test)]
mod tests {
    use super::jumps;

    /// A jump: the value off the degenerate covariance differs and stays when it moves a
    /// millionfold nearer (E[step(u)]: ½ against step(0) = 0). Continuous: the nearer value comes
    /// back (E[u²] = s: 10⁻¹³ and 10⁻¹⁹ against 0). Rounding-level gaps and NaN are no jump.
    #[test]
    fn a_jump_is_a_gap_that_stays_as_the_covariance_nears_degenerate() {
        assert!(jumps(0.0, 0.5, 0.5, 0.5));
        assert!(!jumps(0.0, 1e-13, 1e-19, 1e-13));
        assert!(!jumps(0.5, 0.5 + 1e-12, 0.5 + 1e-12, 0.5));
        assert!(!jumps(0.0, 0.5, f64::NAN, 0.5));
        assert!(!jumps(0.0, f64::NAN, 0.5, 0.5));
    }

    use super::*;

    fn one(
        f: &dyn Fn(f64, f64) -> (f64, f64),
        kinks: &[Line],
        features: &[Line],
        smoothness: Smoothness,
        cov: Cov2,
    ) -> Result<Estimate, NumericError> {
        expectation(
            &Integrand {
                f,
                kinks,
                features,
                curves: &[],
                smoothness,
                uses_u: true,
                uses_v: true,
                rho_scale: 0.0,
            },
            cov,
        )
    }

    /// The probes measure a bump's width (within a factor of 4) and see none in smooth
    /// functions of width 1.
    #[test]
    fn probes_measure_feature_widths() {
        for w in [1e-2, 1e-5, 1e-9, 1e-14] {
            let mut bump = |t: f64| Ok((-(t / w) * (t / w)).pexp());
            let got = feature_width(&mut bump, 0.0).unwrap();
            assert!(got >= w / 4.0 && got <= 4.0 * w, "{w}: {got}");
            let mut step = |t: f64| Ok((t / w).ptanh());
            let got = feature_width(&mut step, 3.0).unwrap();
            assert!(got >= w / 4.0 && got <= 4.0 * w, "{w}: {got}");
        }
        for f in [
            f64::psin,
            f64::ptanh,
            |t: f64| (-t * t).pexp(),
            |t: f64| t.max(0.0),
        ] {
            let mut at = |t: f64| Ok(f(t));
            assert_eq!(feature_width(&mut at, 0.0).unwrap(), f64::INFINITY);
        }
    }

    /// A line's coefficients are rescaled before they meet the variances: relu(1e-300·u) at
    /// Var u = 1e-300 still kinks at u = 0.
    #[test]
    fn lines_are_scale_free() {
        let w = Cov2::new(1e-300, 0.0, 1e300).unwrap().whiten();
        let l = zline(
            Line {
                u: 1e-300,
                v: 0.0,
                c: 0.0,
            },
            w,
            true,
        )
        .unwrap();
        assert_eq!((l.p, l.q, l.r), (1.0, 0.0, 0.0));
        let l = zline(
            Line {
                u: 1e300,
                v: 1e-300,
                c: -1e150,
            },
            w,
            true,
        )
        .unwrap();
        // 1e300·1e-150·z1 + 1e-300·1e150·z2 = 1e150: z1 = 1.
        assert!((l.r / l.p + 1.0).abs() < 1e-15, "{l:?}");
    }

    /// E[step(u² − 1)] = P(|u| > 1) read as an integrand of unknown smoothness (its jumps at ±1
    /// are found by the subdivision): the error estimate, multiplied for algebraic convergence,
    /// covers the error.
    #[test]
    fn unknown_smoothness_has_an_honest_estimate() {
        let f = |u: f64, _: f64| {
            let y = if u * u > 1.0 { 1.0 } else { 0.0 };
            (y, y)
        };
        let exact = 0.317_310_507_862_914_1;
        let e = one(
            &f,
            &[],
            &[],
            Smoothness::Unknown,
            Cov2::new(1.0, 0.3, 2.0).unwrap(),
        )
        .unwrap();
        assert!((e.value - exact).abs() <= e.error.max(1e-15), "{e:?}");
        assert!(e.error <= 1e-12, "{e:?}");
    }

    #[test]
    fn integrands_that_do_not_decay_are_errors() {
        let cov = Cov2::new(1.0, 0.5, 1.0).unwrap();
        for c in [1.0, 0.5] {
            let f = move |u: f64, v: f64| {
                let y = (c * u * u).pexp() * v.pcos();
                (y, y.abs())
            };
            let e = one(&f, &[], &[], Smoothness::Analytic, cov);
            assert!(
                matches!(e, Err(NumericError::NotDecaying { .. })),
                "{c}: {e:?}"
            );
        }
        // c = 0.45 decays, slowly: E[exp(0.45·u²)·cos v] = e^(−1/2)·…, here E[exp(0.45 u²)].
        let f = |u: f64, _: f64| {
            let y = (0.45 * u * u).pexp();
            (y, y)
        };
        let e = one(&f, &[], &[], Smoothness::Analytic, cov).unwrap();
        assert!((e.value - 10f64.sqrt()).abs() < 1e-13 * e.value, "{e:?}");
        assert!(e.scale < 4.0, "{e:?}");
    }

    /// A bump narrower than every probe vanishes at every node: not a value, unless the
    /// integrand is a polynomial on each piece (relu(u)·relu(−u) is 0).
    #[test]
    fn integrands_that_vanish_at_every_node() {
        let cov = Cov2::new(1.0, 0.0, 1.0).unwrap();
        let f = |u: f64, _: f64| {
            let y = (-1e300 * (u - 3.0).powi(2)).pexp();
            (y, y)
        };
        let e = one(&f, &[], &[], Smoothness::Analytic, cov);
        assert!(matches!(e, Err(NumericError::Unresolved)), "{e:?}");
        let g = |u: f64, _: f64| (u.max(0.0) * (-u).max(0.0), 0.0);
        let e = one(&g, &[Line::U_AXIS], &[], Smoothness::Polynomial, cov).unwrap();
        assert_eq!(e.value, 0.0);
    }
}
