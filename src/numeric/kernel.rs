//! Kernel recursions of infinite-width dense networks: NNGP Σ, derivative kernel Σ̇ and NTK Θ.
//!
//! Conventions (the NTK parameterisation, as neural-tangents computes it), with L hidden layers:
//!
//! ```text
//! Σ¹(x, x') = σw²·x·x'/n0 + σb²,     Θ¹ = Σ¹
//! Σˡ⁺¹ = σw²·E[φ(u)φ(v)] + σb²,      Σ̇ˡ⁺¹ = σw²·E[φ'(u)φ'(v)],   (u, v) ~ N(0, Σˡ on {x, x'})
//! Θˡ⁺¹ = Θˡ·Σ̇ˡ⁺¹ + Σˡ⁺¹
//! ```
//!
//! and the outputs are Σᴸ⁺¹, Σ̇ᴸ⁺¹, Θᴸ⁺¹.
//!
//! Each entry's recursion needs only its own previous values and the diagonal, so every pair of
//! inputs runs all layers in registers (upper triangle only, rows in parallel with rayon).
//! Four paths:
//!
//! - **relu family** (relu, leaky relu, abs): besides Σ(x, x') the recursion carries the
//!   determinant det = Σ(x,x)Σ(x',x') − Σ(x,x')², computed at layer 1 from a Gram determinant of
//!   the inputs and afterwards from an update of the gap e = √(Σ(x,x)Σ(x',x')) − Σ(x,x') that has
//!   no cancellation. The angle θ = atan2(√det, Σ(x,x')) therefore stays accurate to ~1e-16 even
//!   for near-parallel inputs, where subtracting Σ(x,x')² from Σ(x,x)Σ(x',x') would lose
//!   digits at every layer and compound them.
//! - **step**: the same determinant and angle. Step needs them most: its kernel
//!   σw²(π − θ)/(2π) + σb² goes like √(1 − ρ) near ρ = 1, so a 1 − ρ lost to rounding grows at
//!   every layer instead of merely persisting. From layer 2 on both variances are
//!   m = σw²/2 + σb², so the next gap m − Σ(x, x') is σw²·θ/(2π) and the next determinant
//!   gap·(2m − gap), both free of cancellation. For the same reason θ¹ must be accurate
//!   relative to itself, not to π: layer 1's Gram determinant takes exact residuals (see
//!   [`Path::needs_exact_gram`]).
//!
//!   Where that determinant underflows (leaves f64's normal range, 2⁻¹⁰²² ≈ 2.2e-308, or
//!   loses an ulp to an underflow in its computation) for a pair that is not exactly parallel
//!   or opposite, the angle it carries is lost. Step refuses such a pair (every later layer
//!   magnifies a lost angle: x' = x + 1e-170·e₂ printed the parallel Σ = 0.5 at depth 20 for
//!   0.39503); the relu family refuses it only where the angle that can hide there moves a
//!   printed value by more than [`HIDDEN_ANGLE_TOL`] of itself. Exactly parallel or opposite
//!   pairs have an exact 0 determinant and are computed as before.
//! - **erf**: closed forms with one atan2 and one square root per entry and layer.
//! - everything else: [`dual`] per entry and layer (closed form or quadrature).

use super::activation::Activation;
use super::closed::{dual, leaky_deriv, s_series};
use super::error::NumericError;
use super::gauss::{det2, Cov2};
use crate::numeric::portable::Portable;
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::f64::consts::PI;

/// A dense network architecture: the one type both the kernel recursions (here) and the
/// finite-width networks ([`super::network`]) take.
///
/// The rules, checked in [`Architecture::validate`] and nowhere else: depth ≥ 1 hidden layer,
/// σw finite and > 0, σb finite and ≥ 0, leaky-relu slopes finite. σw = 0 is refused because it
/// is a degenerate network, not a limit case worth a special path: every layer ignores its input,
/// so all kernels are the constant σb² and a sampled network has nothing random to average over
/// except its biases (the finite-width side and the derivation files already required σw > 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Architecture {
    /// The activation φ.
    pub activation: Activation,
    /// Number of hidden layers L ≥ 1.
    pub depth: usize,
    /// Weight standard deviation σw > 0 (the recursions use σw²).
    pub sigma_w: f64,
    /// Bias standard deviation σb ≥ 0 (the recursions use σb²).
    pub sigma_b: f64,
}

impl Architecture {
    /// A validated architecture (see the type's rules).
    pub fn new(
        activation: Activation,
        depth: usize,
        sigma_w: f64,
        sigma_b: f64,
    ) -> Result<Self, NumericError> {
        let a = Architecture {
            activation,
            depth,
            sigma_w,
            sigma_b,
        };
        a.validate()?;
        Ok(a)
    }

    /// Checks the rules of the type (the fields are public, so every entry point re-checks).
    pub fn validate(&self) -> Result<(), NumericError> {
        let bad = |m: String| Err(NumericError::InvalidArchitecture(m));
        if self.depth == 0 {
            return bad("depth must be ≥ 1 hidden layer, got 0".into());
        }
        if !(self.sigma_w.is_finite() && self.sigma_w > 0.0) {
            return bad(format!("σw must be finite and > 0, got {}", self.sigma_w));
        }
        if !(self.sigma_b.is_finite() && self.sigma_b >= 0.0) {
            return bad(format!("σb must be finite and ≥ 0, got {}", self.sigma_b));
        }
        if let Activation::LeakyRelu { neg, pos } = self.activation {
            if !(neg.is_finite() && pos.is_finite()) {
                return bad(format!(
                    "leaky relu slopes must be finite, got {neg}, {pos}"
                ));
            }
        }
        Ok(())
    }

    /// (σw², σb²).
    fn variances(&self) -> (f64, f64) {
        (self.sigma_w * self.sigma_w, self.sigma_b * self.sigma_b)
    }
}

/// The three kernel matrices of [`kernels`], indexed by input (N×N, symmetric).
#[derive(Debug, Clone, PartialEq)]
pub struct Kernels {
    /// NNGP kernel Σᴸ⁺¹.
    pub sigma: DMatrix<f64>,
    /// Derivative kernel Σ̇ᴸ⁺¹.
    pub sigma_dot: DMatrix<f64>,
    /// Neural tangent kernel Θᴸ⁺¹.
    pub ntk: DMatrix<f64>,
}

/// The kernels of one pair of inputs (x, x').
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairKernels {
    /// NNGP kernel Σᴸ⁺¹(x, x').
    pub sigma: f64,
    /// Derivative kernel Σ̇ᴸ⁺¹(x, x').
    pub sigma_dot: f64,
    /// Neural tangent kernel Θᴸ⁺¹(x, x').
    pub ntk: f64,
}

impl PairKernels {
    /// The first of Σ, Σ̇, Θ (its name) that differs from `other`'s by more than `tol` of the
    /// larger of the two (or by a NaN), with that relative difference.
    fn moved_beyond(&self, other: &PairKernels, tol: f64) -> Option<(&'static str, f64)> {
        [
            ("Σ", self.sigma, other.sigma),
            ("Σ̇", self.sigma_dot, other.sigma_dot),
            ("Θ", self.ntk, other.ntk),
        ]
        .into_iter()
        .find_map(|(name, u, v)| {
            let moved = (u - v).abs() / u.abs().max(v.abs());
            (u != v && (moved > tol || moved.is_nan())).then_some((name, moved))
        })
    }
}

/// Per-input data: |x|² and the diagonal kernels at every layer.
#[derive(Clone)]
struct Diag {
    /// Σˡ(x, x) for l = 1..=L+1 (index l − 1).
    s: Vec<f64>,
    /// √Σˡ(x, x).
    r: Vec<f64>,
    /// √(1 + 2·Σˡ(x, x)) (for erf).
    q: Vec<f64>,
    /// Σ̇ᴸ⁺¹(x, x).
    sdot: f64,
    /// Θᴸ⁺¹(x, x).
    t: f64,
}

fn diag(arch: &Architecture, sq_norm: f64, n0: usize) -> Result<Diag, NumericError> {
    let (sw2, sb2) = arch.variances();
    let mut s = sw2 * sq_norm / n0 as f64 + sb2;
    let mut t = s;
    let mut sdot = 0.0;
    let mut out_s = vec![s];
    // A variance or an NTK beyond f64's range is refused with the layer where it left it (the
    // caller names the input).
    let overflow = |what: &str, l: usize, v: f64| {
        Err(NumericError::InvalidInputs(format!(
            "its {what} at layer {l} is {v:e}, beyond f64's range (|x|² = {sq_norm:e}); rescale the input (or σw, σb)"
        )))
    };
    for l in 1..=arch.depth {
        if !s.is_finite() {
            return overflow("variance", l, s);
        }
        let d = dual(arch.activation, Cov2::diagonal(s)?)?;
        s = sw2 * d.k + sb2;
        sdot = sw2 * d.kdot;
        t = t * sdot + s;
        out_s.push(s);
    }
    if !s.is_finite() || !t.is_finite() {
        let (what, v) = if s.is_finite() {
            ("NTK", t)
        } else {
            ("variance", s)
        };
        return overflow(what, arch.depth + 1, v);
    }
    let r = out_s.iter().map(|v| v.sqrt()).collect();
    let q = out_s.iter().map(|v| (1.0 + 2.0 * v).sqrt()).collect();
    Ok(Diag {
        s: out_s,
        r,
        q,
        sdot,
        t,
    })
}

/// The relu-family, step and erf recursions form products of the variances of two inputs
/// (Σ(x,x)Σ(x',x'), the determinant of a pair): where such a product leaves [`PRODUCT_RANGE`]
/// at some layer it would overflow, or underflow to the determinant of parallel inputs (Σ̇ = 0.5
/// for relu at two inputs of size 1e-90 at 67°). Such inputs are refused, not computed wrong.
/// One input far from the others is fine (1e-160 beside 1: the product is 1e-160). The
/// determinant itself, tiny for nearly parallel or opposite pairs within this range, is checked
/// as the recursion runs (see the module docs).
const PRODUCT_RANGE: (f64, f64) = (1e-300, 1e300);

fn check_range(arch: &Architecture, inputs: &[&[f64]], diags: &[Diag]) -> Result<(), NumericError> {
    // A zero input (all coordinates 0, σb exactly 0: not σb² underflowing, as σb = 10⁻²⁰⁰
    // does) has variance exactly 0 and is handled exactly; any other variance that is 0 has
    // underflowed (|x|² of x = (10⁻¹⁷⁰, 0) is 0 before σw² = 10²⁰⁰ multiplies it, though
    // Σ¹ = 5·10⁻¹⁴¹). Every activation's kernel would then be printed as that of a zero
    // variance (0 for tanh and erf; the relu family and step meet their kink with a point
    // mass, Σ̇ = 0 instead of σw²/2), so it is refused, for one input as for several.
    for (i, (x, d)) in inputs.iter().zip(diags).enumerate() {
        let zero_input = x.iter().all(|c| *c == 0.0) && arch.sigma_b == 0.0;
        if let Some(l) = d.s.iter().position(|s| *s == 0.0).filter(|_| !zero_input) {
            return Err(NumericError::InvalidInputs(format!(
                "input {i}: its variance at layer {} underflows to 0 (the input and σb = {} are not both 0), where the kernel would be that of a zero variance; rescale the input (or σw, σb)",
                l + 1,
                if arch.sigma_b == 0.0 {
                    "0".to_string()
                } else {
                    format!("{:e}", arch.sigma_b)
                }
            )));
        }
    }
    if !has_fast_path(arch.activation) {
        return Ok(());
    }
    // erf forms (1 + 2Σ(x,x))(1 + 2Σ(x',x')): only the upper end matters.
    let tracked = path(arch.activation).tracks_det();
    let (lo, hi) = (if tracked { PRODUCT_RANGE.0 } else { 0.0 }, PRODUCT_RANGE.1);
    let refuse = |i: usize, j: usize, l: usize, p: f64| {
        Err(NumericError::InvalidInputs(format!(
            "inputs {i} and {j}: the product of their variances at layer {} is {p:e}, outside {lo:e}..{hi:e}, where this recursion's determinants leave f64's range; rescale the inputs (or σw, σb)",
            l + 1
        )))
    };
    let layers = diags.first().map_or(0, |d| d.s.len());
    for l in 0..layers {
        // (A variance 0 here is a zero input's, exactly: any other was refused above.)
        let mut v: Vec<(f64, usize)> = vec![];
        for (i, d) in diags.iter().enumerate() {
            if d.s[l] == 0.0 {
                continue;
            }
            v.push((d.s[l], i));
        }
        if v.len() < 2 {
            continue;
        }
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (a, b) = (v[0], v[1]);
        if a.0 * b.0 < lo {
            return refuse(a.1, b.1, l, a.0 * b.0);
        }
        let (a, b) = (v[v.len() - 1], v[v.len() - 2]);
        if a.0 * b.0 > hi {
            return refuse(b.1, a.1, l, a.0 * b.0);
        }
    }
    Ok(())
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// b − t·a without the rounding of t·a: Dekker's two-product gives t·a = p + e exactly (no FMA
/// needed; exact for |t|, |a| < 1e300, where the splits cannot overflow), and (b − p) − e is then
/// accurate to a few ulps of the result however much b and t·a cancel.
#[inline(always)]
fn residual_exact(b: f64, t: f64, a: f64) -> f64 {
    const SPLIT: f64 = 134_217_729.0; // 2^27 + 1
    let split = |v: f64| {
        let c = SPLIT * v;
        let hi = c - (c - v);
        (hi, v - hi)
    };
    let p = t * a;
    let ((th, tl), (ah, al)) = (split(t), split(a));
    let e = ((th * ah - p) + th * al + tl * ah) + tl * al;
    (b - p) - e
}

/// |x|²|y|² − (x·y)² = |x|²·|y − t·x|² (t = x·y/|x|², one re-orthogonalisation step): accurate
/// to ~1e-16/sin∠(x, y) relative, instead of 1e-16/sin²∠ for the direct difference. With
/// `EXACT` the residuals y_i − t·x_i come from [`residual_exact`], which makes the result
/// accurate to a few ulps at any angle (for |x| ≥ |y|, so that |t| ≤ 1), for three times the
/// work.
///
/// Also returns a bound on what underflow took from the result (0 if nothing underflowed): the
/// squares of residuals below 2⁻⁵¹¹ and a product |x|²·Σr² below f64's normal range are off
/// by up to half a subnormal spacing each. The residuals' own underflow (below 2⁻¹⁰²²) moves
/// a square that is normal by a relative 2⁻⁵⁰⁰ at most, so it is not counted.
fn gram<const EXACT: bool>(x: &[f64], y: &[f64], xx: f64) -> (f64, f64) {
    if xx == 0.0 {
        return (0.0, 0.0);
    }
    let t = dot(x, y) / xx;
    let res = |a: f64, b: f64| {
        if EXACT {
            residual_exact(b, t, a)
        } else {
            b - t * a
        }
    };
    let t2 = x.iter().zip(y).map(|(a, b)| a * res(*a, *b)).sum::<f64>() / xx;
    let r = |a: f64, b: f64| res(a, b) - t2 * a;
    let sum = x
        .iter()
        .zip(y)
        .map(|(a, b)| {
            let r = r(*a, *b);
            r * r
        })
        .sum::<f64>();
    let g = xx * sum;
    let mut err = 0.0;
    // Squares that underflowed matter only where they can move the sum by an ulp.
    if sum < x.len() as f64 * MIN_NORMAL {
        let lost = x
            .iter()
            .zip(y)
            .filter(|&(&a, &b)| {
                let r = r(a, b);
                r != 0.0 && r * r < MIN_NORMAL
            })
            .count();
        err += scaled_error(xx, lost as f64 * SUBNORMAL_ULP);
    }
    err += product_error(g, sum);
    (g, err)
}

/// The spacing of subnormal f64 (2⁻¹⁰⁷⁴): a product whose result lies below f64's normal
/// range is off by up to half of it, whatever its size.
const SUBNORMAL_ULP: f64 = f64::from_bits(1);

/// The smallest normal f64 (2⁻¹⁰²²): below it a value keeps fewer than 53 bits.
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// The error bound `e` of a factor, multiplied by the exact factor `f`, rounded up.
#[inline]
fn scaled_error(f: f64, e: f64) -> f64 {
    if e == 0.0 {
        0.0
    } else {
        f.abs() * e + SUBNORMAL_ULP
    }
}

/// The error underflow adds to a product `p` of a nonzero factor `q` (and any other factor):
/// one subnormal spacing if `p` lies below f64's normal range, else 0.
#[inline]
fn product_error(p: f64, q: f64) -> f64 {
    if q != 0.0 && p.abs() < MIN_NORMAL {
        SUBNORMAL_ULP
    } else {
        0.0
    }
}

/// Does `act` run one of the closed-form recursions in registers (relu family, step, erf)
/// rather than [`dual`] per entry and layer?
pub fn has_fast_path(act: Activation) -> bool {
    !matches!(path(act), Path::General(_))
}

/// Which per-entry recursion to run.
#[derive(Clone, Copy)]
enum Path {
    /// φ = neg·min(x,0) + pos·max(x,0).
    Leaky {
        neg: f64,
        pos: f64,
    },
    /// φ = step (1 for x > 0, else 0).
    Step,
    Erf,
    General(Activation),
}

impl Path {
    /// Does the recursion carry the determinant of the pair (see the module docs)?
    fn tracks_det(self) -> bool {
        matches!(self, Path::Leaky { .. } | Path::Step)
    }

    /// Does the recursion need the first layer's angle θ¹ to a few ulps of itself, not of π?
    /// The plain Gram determinant gives θ¹ to ~1e-16 absolute, i.e. 1e-16/θ¹ relative. Step's
    /// θ² ~ √θ¹ keeps half of that relative error, an absolute error ~1e-16/√θ¹ that later
    /// layers carry into Σ (2.5e-11 relative at x' = x + 1e-9·e₁, depth 3, 1.6e-10 at depth 8).
    /// The relu family maps θ to ~c·θ near 0, so an absolute 1e-16 stays one.
    fn needs_exact_gram(self) -> bool {
        matches!(self, Path::Step)
    }
}

fn path(act: Activation) -> Path {
    match act {
        Activation::Relu => Path::Leaky { neg: 0.0, pos: 1.0 },
        Activation::Abs => Path::Leaky {
            neg: -1.0,
            pos: 1.0,
        },
        Activation::LeakyRelu { neg, pos } => Path::Leaky { neg, pos },
        Activation::Step => Path::Step,
        Activation::Erf => Path::Erf,
        other => Path::General(other),
    }
}

/// Inputs of one pair at layer 1.
struct Pair<'a> {
    /// The indices of x and x' among the inputs (for messages).
    ij: (usize, usize),
    di: &'a Diag,
    dj: &'a Diag,
    /// Σ¹(x, x').
    s12: f64,
    /// Σ¹(x,x)Σ¹(x',x') − Σ¹(x,x')², accurately.
    det: f64,
    /// What underflow can have taken from `det` (see [`layer1`]).
    det_err: f64,
    /// Are x and x' the same input? Then the pair takes the diagonal's values ([`kernels`]).
    same: bool,
}

/// Runs the recursion for one pair. Returns (Σ, Σ̇, Θ) at layer L+1.
#[inline]
fn run_pair(arch: &Architecture, p: &Pair, path: Path) -> Result<PairKernels, NumericError> {
    match path {
        Path::Leaky { .. } | Path::Step | Path::Erf => {
            let mut out = Vec::with_capacity(1);
            run_block(arch, std::slice::from_ref(p), path, &mut out)?;
            Ok(out[0])
        }
        Path::General(_) => {
            let (plain, least) = scalar_run(arch, p, path, 0.0)?;
            check_magnified_rounding(arch, p, path, &plain, least)?;
            Ok(plain)
        }
    }
}

/// Pairs whose correlation comes within this of ±1 (1 − ρ² below it at some layer) are checked
/// for rounding that the erf and general recursions magnify ([`check_magnified_rounding`]).
/// Farther from ±1, rounding Σ(x,x′) by an ulp moves 1 − ρ² by less than 1e-11 of itself, and
/// the recursion carries that relative error, it does not magnify it: where the gap 1 − ρ grows
/// (χ > 1) the error grows with it, where it shrinks (χ < 1) the values no longer depend on it.
const NEAR_DEGENERATE: f64 = 1e-4;

/// How far Σ(x,x′) moved by 4 ulps of √(Σ(x,x)Σ(x′,x′)) at every layer may move a printed value,
/// relative to itself, before the pair is refused ([`check_magnified_rounding`]). The general
/// path's quadratures are accepted at 1e-12 of their scale, so two runs differ by that much
/// without any magnification; 1e-9 leaves a factor 1000 above that and still keeps nine digits.
const MAGNIFIED_TOL: f64 = 1e-9;

/// One erf or general pair through all layers, each Σ(x,x′) moved towards 0 by `bump` ulps of
/// √(Σ(x,x)Σ(x′,x′)) before its layer (0: the plain recursion). Also returns 1 − ρ² (in f64)
/// at the first layer (1-based) where it is below [`NEAR_DEGENERATE`], or its least value and
/// layer where it never is.
fn scalar_run(
    arch: &Architecture,
    p: &Pair,
    path: Path,
    bump: f64,
) -> Result<(PairKernels, (f64, usize)), NumericError> {
    let (sw2, sb2) = arch.variances();
    let mut st = State::start(p);
    let mut least = (f64::INFINITY, 0);
    // An exactly parallel or opposite pair (determinant exactly 0) has an exact layer 1.
    let exact = p.det == 0.0 && p.det_err == 0.0;
    for l in 0..arch.depth {
        let scale = p.di.r[l] * p.dj.r[l];
        if bump != 0.0 && !(exact && l == 0) {
            let by = (bump * f64::EPSILON * scale).min(st.s12.abs());
            st.s12 -= by.copysign(st.s12);
        }
        let gap = 1.0 - (st.s12 / scale) * (st.s12 / scale);
        // The first layer that comes within NEAR_DEGENERATE of ±1, else the nearest.
        if gap < least.0 && (least.0.is_nan() || least.0 >= NEAR_DEGENERATE) {
            least = (gap, l + 1);
        }
        match path {
            Path::Erf => erf_layer(sw2, sb2, &mut st, p.di, p.dj, l),
            Path::General(act) => {
                let d = dual(act, Cov2::new(p.di.s[l], st.s12, p.dj.s[l])?)?;
                st.s12 = sw2 * d.k + sb2;
                st.sdot = sw2 * d.kdot;
                st.th = st.th * st.sdot + st.s12;
            }
            Path::Leaky { .. } | Path::Step => unreachable!("determinant-tracking paths"),
        }
    }
    Ok((st.out(), least))
}

/// Refuses an erf or general pair that comes near ±1 correlation ([`NEAR_DEGENERATE`]) where
/// rounding Σ(x,x′) moves a printed value by more than [`MAGNIFIED_TOL`] of itself. These
/// recursions carry Σ(x,x′) and not the gap 1 − ρ, which f64 holds only to ~1e-16 absolute;
/// where the recursion magnifies the gap (χ > 1), a gap below that rounding comes out as
/// anything. x = (1, 0), x′ = (1, 1e-8) under sin at σw = 20, depth 8 printed the parallel
/// Σ(x,x′) = 200 for 2e-39 (|x′|² = 1 + 1e-16 rounds to 1), and erf at σw = 3, depth 60 printed
/// 0.17376 for 0.39042. The recursion runs again with Σ(x,x′) moved by 4 ulps towards 0 at every
/// layer (the size of its rounding); for exactly parallel or opposite pairs (determinant exactly
/// 0, layer 1 exact) from layer 2 on. (Identical inputs take the diagonal's values in
/// [`kernels`]: erf at σw = 3, depth 30 printed Θ(x, x) 2.5e-5 off beside the diagonal.)
fn check_magnified_rounding(
    arch: &Architecture,
    p: &Pair,
    path: Path,
    plain: &PairKernels,
    (least, layer): (f64, usize),
) -> Result<(), NumericError> {
    if least.is_nan() || least >= NEAR_DEGENERATE || p.same {
        return Ok(());
    }
    let (moved_run, _) = scalar_run(arch, p, path, 4.0)?;
    if let Some((name, moved)) = plain.moved_beyond(&moved_run, MAGNIFIED_TOL) {
        return Err(NumericError::InvalidInputs(format!(
            "inputs {} and {}: nearly parallel or opposite at layer {layer} (their \
                 correlation comes within {NEAR_DEGENERATE:e} of ±1 there: 1 − ρ² = {:.1e} in \
                 f64), and this recursion magnifies the rounding of Σ(x,x′): moving it by 4 \
                 ulps at every layer moves {name} by {moved:.1e} of itself (more than \
                 {MAGNIFIED_TOL:e}), so f64 does not determine the value; refused rather than \
                 printed (the relu family and step carry the gap itself and are not affected)",
            p.ij.0,
            p.ij.1,
            least.max(0.0)
        )));
    }
    Ok(())
}

/// Per-entry state of a fast recursion.
#[derive(Clone, Copy, Default)]
struct State {
    s12: f64,
    det: f64,
    th: f64,
    sdot: f64,
}

impl State {
    fn start(p: &Pair) -> Self {
        State {
            s12: p.s12,
            det: p.det,
            th: p.s12,
            sdot: 0.0,
        }
    }

    fn out(&self) -> PairKernels {
        PairKernels {
            sigma: self.s12,
            sigma_dot: self.sdot,
            ntk: self.th,
        }
    }
}

/// Underflow bookkeeping of one pair, for the checked re-runs ([`leaky_checked`],
/// [`step_underflow`]) of the blocks whose least determinant came near underflow.
#[derive(Clone, Copy, Default)]
struct Flags {
    /// The first layer (1-based) whose determinant lost precision to underflow; 0: none.
    under: usize,
    /// The last layer (0-based) up to which the determinant has been an exact 0 at every layer
    /// (the pair exactly parallel or opposite throughout).
    exact_to: Option<usize>,
}

impl Flags {
    /// Layer 1: an exact 0 if nothing underflowed in it, underflowed if underflow took more
    /// than an ulp of it (however large it is; see [`layer1`]).
    fn start(p: &Pair) -> Self {
        Flags {
            under: usize::from(p.det_err > p.det * f64::EPSILON),
            exact_to: (p.det == 0.0 && p.det_err == 0.0).then_some(0),
        }
    }

    /// The determinant `det` of layer `l` ≥ 1 (0-based) is below f64's normal range (or, for
    /// step, its gap is): is it an exact 0, i.e. was the pair exactly parallel or opposite at
    /// layer `l` − 1 and can nothing in the update open an angle (`opens` false: no bias term
    /// with unequal variances)? Otherwise it underflowed: records `l` if it is the first such
    /// layer and returns true.
    #[cold]
    #[inline(never)]
    fn check(&mut self, det: f64, l: usize, opens: bool) -> bool {
        if det == 0.0 && !opens && self.exact_to == Some(l - 1) {
            self.exact_to = Some(l);
            return false;
        }
        if self.under == 0 {
            self.under = l + 1;
        }
        true
    }
}

/// Can the relu-family update from layer `l` − 1 to `l` open an angle between exactly parallel
/// (or, for abs, opposite) inputs? Only its bias term tb, for unequal variances.
#[inline]
fn leaky_opens(sb2: f64, di: &Diag, dj: &Diag, l: usize) -> bool {
    sb2 != 0.0 && di.r[l - 1] != dj.r[l - 1]
}

/// Constants of the relu-family recursion for φ = neg·min(x,0) + pos·max(x,0).
struct Leaky {
    sw2: f64,
    sb2: f64,
    neg: f64,
    pos: f64,
    /// (neg − pos)².
    d2: f64,
    /// neg·pos.
    ab: f64,
    /// neg² + pos².
    c2: f64,
}

const INV_2PI: f64 = 0.5 / PI;

/// atan2(y, |x|) for y ≥ 0 given h = √(x² + y²): asin(y/h) below π/4 and acos(|x|/h) above,
/// each well conditioned there (and ~4× cheaper than atan2).
#[inline(always)]
fn half_angle(y: f64, x: f64, h: f64) -> f64 {
    let a = x.abs();
    if y <= a {
        (y / h).min(1.0).pasin()
    } else {
        (a / h).min(1.0).pacos()
    }
}

/// The angles of a pair from √det, s12 and m = √(s11·s22): (θ, π − θ), θ = atan2(√det, s12),
/// the smaller one computed directly (no π − θ rounding where it is tiny).
#[inline(always)]
fn angles(sq: f64, s12: f64, m: f64) -> (f64, f64) {
    let small = half_angle(sq, s12, m);
    if s12 >= 0.0 {
        (small, PI - small)
    } else {
        (PI - small, small)
    }
}

/// A layer at which one of the pair's variances is 0, for the activations with φ(0) = 0 (relu
/// family, step): E[φ(u)φ(v)] = 0, so Σ(x, x') = σb², and Σ̇ = `sdot` (the caller's point
/// evaluation at the kink).
#[inline(always)]
fn zero_variance_layer(sb2: f64, sdot: f64, st: &mut State, di: &Diag, dj: &Diag, l: usize) {
    st.sdot = sdot;
    st.s12 = sb2;
    st.th = st.th * st.sdot + st.s12;
    st.det = det2(di.s[l + 1], st.s12, dj.s[l + 1]);
}

/// One layer of the relu-family recursion carrying det (see the module docs).
#[inline(always)]
fn leaky_layer(k: &Leaky, st: &mut State, di: &Diag, dj: &Diag, l: usize) {
    let (sw2, sb2, d2, ab, c2) = (k.sw2, k.sb2, k.d2, k.ab, k.c2);
    let (ri, rj) = (di.r[l], dj.r[l]);
    let m = ri * rj;
    let (s12, det) = (st.s12, st.det);
    if m == 0.0 {
        // A zero variance: point evaluation at the kink (φ(0) = 0).
        let cov = Cov2 {
            s11: di.s[l],
            s12: 0.0,
            s22: dj.s[l],
        };
        zero_variance_layer(sb2, sw2 * leaky_deriv(k.neg, k.pos, &cov), st, di, dj, l);
        return;
    }
    let sq = det.sqrt();
    let (theta, phi) = angles(sq, s12, m);
    let relu = if sq == 0.0 {
        if s12 > 0.0 {
            0.5 * s12
        } else {
            0.0
        }
    } else if phi < 1.0 {
        m * s_series(phi) * INV_2PI
    } else {
        (sq + phi * s12) * INV_2PI
    };
    let kk = d2 * relu + ab * s12;
    let kdot = (c2 * phi + 2.0 * ab * theta) * INV_2PI;
    let s12n = sw2 * kk + sb2;
    st.sdot = sw2 * kdot;
    st.th = st.th * st.sdot + s12n;
    let (rin, rjn) = (di.r[l + 1], dj.r[l + 1]);
    let mn = rin * rjn;
    st.det = if s12 >= 0.0 {
        // Gap e = m − s12 and its update, free of cancellation for θ ≤ π/2.
        let e = det / (m + s12);
        let ms = if theta < 1.0 {
            m * s_series(theta)
        } else {
            sq - theta * s12
        };
        let gap = 0.5 * e - ms * INV_2PI;
        let inner = d2 * gap + ab * e;
        let dr = ri - rj;
        let c = 0.5 * c2;
        let tb = sw2 * sb2 * c * dr * dr / (mn + sw2 * c * m + sb2);
        let en = (tb + sw2 * inner).max(0.0);
        en * (mn + s12n)
    } else if s12n >= 0.0 {
        // The same gap for θ > π/2, where an even activation (abs) maps nearly opposite
        // inputs to nearly parallel ones: mn − s12n would cancel. With e = m − |s12| (from det,
        // free of cancellation) and m − s12 = m + |s12|, the inner gap
        // d2·(m/2 − relu) + ab·(m − s12) is ½(a + b)²·m − ab·e − d2·relu, whose terms are
        // each ≥ 0 or small: ½(a + b)² = c2/2 + ab is 0 for abs, and relu ~ m·φ³ for small φ.
        let e = det / (m - s12);
        let inner = 0.5 * (c2 + 2.0 * ab) * m - ab * e - d2 * relu;
        let dr = ri - rj;
        let c = 0.5 * c2;
        let tb = sw2 * sb2 * c * dr * dr / (mn + sw2 * c * m + sb2);
        let en = (tb + sw2 * inner).max(0.0);
        en * (mn + s12n)
    } else {
        det2(di.s[l + 1], s12n, dj.s[l + 1])
    };
    st.s12 = s12n;
}

/// One layer of the step recursion carrying det (see the module docs):
/// E[step(u)·step(v)] = (π − θ)/(2π), E[step'·step'] = 0 (so Θ = Σ).
#[inline(always)]
fn step_layer(sw2: f64, sb2: f64, st: &mut State, di: &Diag, dj: &Diag, l: usize) {
    let m = di.r[l] * dj.r[l];
    if m == 0.0 {
        // A zero variance: step(0) = 0, like a relu.
        zero_variance_layer(sb2, 0.0, st, di, dj, l);
        return;
    }
    let (theta, phi) = angles(st.det.sqrt(), st.s12, m);
    st.s12 = sw2 * phi * INV_2PI + sb2;
    st.sdot = 0.0;
    st.th = st.th * st.sdot + st.s12;
    // Both variances of the next layer are mn = σw²/2 + σb² (E[step(u)²] = 1/2 for any
    // variance > 0), so its gap mn − Σ(x, x') is σw²·θ/(2π) exactly: no cancellation, and
    // det = gap·(mn + Σ(x, x')) = gap·(2mn − gap).
    let mn = di.s[l + 1];
    debug_assert_eq!(mn, dj.s[l + 1]);
    let gap = sw2 * theta * INV_2PI;
    st.det = gap * (2.0 * mn - gap);
}

/// One layer of the erf recursion: E[erf erf] = (2/π)·asin(2·s12/√P), P = (1+2s11)(1+2s22),
/// E[erf' erf'] = (4/π)/√D with D = P − 4·s12² ≥ 1 + 2(s11 + s22).
#[inline(always)]
fn erf_layer(sw2: f64, sb2: f64, st: &mut State, di: &Diag, dj: &Diag, l: usize) {
    let s12 = st.s12;
    let hp = di.q[l] * dj.q[l];
    let d = hp * hp - 4.0 * s12 * s12;
    let sq = d.sqrt();
    let ang = half_angle(2.0 * s12.abs(), sq, hp).copysign(s12);
    st.s12 = sw2 * (2.0 / PI) * ang + sb2;
    st.sdot = sw2 * (4.0 / PI) / sq;
    st.th = st.th * st.sdot + st.s12;
}

/// The refusal of a pair whose determinant underflowed at `layer` (1-based), for `why`.
fn underflow_refusal(p: &Pair, layer: usize, why: &str) -> NumericError {
    NumericError::InvalidInputs(format!(
        "inputs {} and {}: the determinant Σ(x,x)Σ(x′,x′) − Σ(x,x′)² of the pair underflows at \
         layer {layer} (it, or a product it is computed from, falls below f64's normal range, \
         {MIN_NORMAL:e}) although they are not exactly parallel or opposite; {why}",
        p.ij.0, p.ij.1
    ))
}

/// How far the printed values of the relu family may move, relative to themselves, before an
/// angle hidden in an underflowed determinant makes a pair refused.
///
/// Near ρ = 1 such an angle hardly matters: the relu family maps θ to ~c·θ (c ≤ 1), Σ̇ moves by
/// ≤ (neg − pos)²θ/(π(neg² + pos²)) ≤ 2θ/π of itself and Σ by ~θ³, and a determinant below
/// 2⁻¹⁰²² hides θ ≤ 1.5e-154/m (m = √(Σ(x,x)Σ(x',x'))). At the scale of 1 that is nothing: relu
/// at x = e₁, x' = e₁ + 1e-170·e₂ (det¹ = ¼·1e-340 → 0), σb = 0.1, depth 3 prints Σ = 0.08125,
/// Σ̇ = 0.5, Θ = 0.2825, correct to 2e-16. It shows only near the lower end of the
/// variance-product range: at x = 1e-74·e₁ (m = 5e-149), x' = x + 1e-86·e₂ (θ = 1e-12, det¹ =
/// 2.5e-321 with 3 digits) relu's Σ̇ at depth 3 was 3.2e-15 off (refused now); x' = x +
/// 1e-84·e₂ (det¹ = 2.5e-317) was within 1e-16 and is printed. Near ρ = −1 (at layer 1 only:
/// relu maps any pair to ρ ≥ 0) relu's Σ̇ = σw²·φ/(2π) is the hidden angle itself: x' = −e₁ +
/// 1e-170·e₂ at depth 1 printed Σ̇ = 0 for 1.5915e-171 and Θ = 0 for −7.958e-172 (refused now;
/// at depth 3 the values are right to 2e-16 and printed); abs and leaky relu add σw²·neg·pos to
/// Σ̇ and are not moved. Underflows inside the relu update that leave a normal determinant (of
/// e, of the series terms, of tb) move the next angle by ≤ ~√(2⁻¹⁰⁷⁰·σw²/mn) < 1e-80 within
/// the variance-product range: not tracked. (References: mpmath, 900 digits, on the f64
/// inputs.)
const HIDDEN_ANGLE_TOL: f64 = 1e-15;

/// Refuses a relu-family pair whose determinant underflowed (first at `layer`, 1-based) if the
/// angle the underflow can hide moves a printed value by more than [`HIDDEN_ANGLE_TOL`] of
/// itself. The recursion runs twice more, with each underflowed determinant raised by once and
/// by four times its underflow error bound (a hidden angle α and ~2α where it was 0): the
/// values are smooth in α (Σ̇ linear, Σ cubic, the next angle ~c·α), so their change from α to
/// 2α is at least the change from 0 to α, and both runs take the same branches (a determinant
/// exactly 0 takes others, whose rounding alone would differ by ulps).
fn check_hidden_angle(k: &Leaky, p: &Pair, depth: usize, layer: usize) -> Result<(), NumericError> {
    let (a, b) = (
        leaky_checked(k, p, depth, 1.0).0,
        leaky_checked(k, p, depth, 4.0).0,
    );
    if let Some((name, moved)) = a.moved_beyond(&b, HIDDEN_ANGLE_TOL) {
        return Err(underflow_refusal(
            p,
            layer,
            &format!(
                "the angle it can hide moves {name} by {moved:.1e} of itself (more than \
                     {HIDDEN_ANGLE_TOL:e}): refused rather than printed as the value of an exactly \
                     parallel or opposite pair"
            ),
        ));
    }
    Ok(())
}

/// Runs one relu-family pair through all layers with the underflow checks of [`Flags`], each
/// underflowed determinant raised by `widen` times its error bound (0: the plain recursion).
/// Returns the kernels and the first layer (1-based) whose determinant underflowed, or 0.
fn leaky_checked(k: &Leaky, p: &Pair, depth: usize, widen: f64) -> (PairKernels, usize) {
    let (mut st, mut fl) = (State::start(p), Flags::start(p));
    for l in 0..depth {
        if l == 0 {
            if fl.under == 1 && widen != 0.0 {
                st.det += widen * p.det_err;
            }
        } else if st.det < MIN_NORMAL
            && fl.check(st.det, l, leaky_opens(k.sb2, p.di, p.dj, l))
            && widen != 0.0
        {
            st.det += widen * leaky_det_error(k, p.di, p.dj, l, st.s12);
        }
        leaky_layer(k, &mut st, p.di, p.dj, l);
    }
    (st.out(), fl.under)
}

/// The first layer (1-based) at which a step pair's determinant, or from layer 2 on the gap that
/// carries its angle, underflowed (0: none). From layer 2 on det = gap·(2m − gap) with both
/// variances m = σw²/2 + σb², so below `step_threshold` det or gap ≈ det/(2m) has left f64's
/// normal range; an exact 0 stays one (θ = 0 gives gap = 0).
fn step_underflow(sw2: f64, sb2: f64, p: &Pair, depth: usize) -> usize {
    let (mut st, mut fl) = (State::start(p), Flags::start(p));
    for l in 0..depth {
        if l > 0 && st.det < step_threshold(sw2, sb2) {
            fl.check(st.det, l, false);
        }
        step_layer(sw2, sb2, &mut st, p.di, p.dj, l);
    }
    fl.under
}

/// See [`step_underflow`].
fn step_threshold(sw2: f64, sb2: f64) -> f64 {
    MIN_NORMAL * (sw2 + 2.0 * sb2).max(1.0)
}

/// A bound on what underflow can take from the determinant that [`leaky_layer`] computes at
/// the end of layer `l` − 1 for layer `l` ≥ 1 (`s12` = Σ(x, x') of layer `l`). Each operation
/// of the update whose result lands below f64's normal range is off by up to u = 2⁻¹⁰⁷⁵, and
/// the later factors carry that on: e = det/(m ± s12) by u; m·S(θ)/(2π) (or relu's m·S(φ)/(2π))
/// by (m + 2)u; the inner gap d2·(½e − m·S/(2π)) + ab·e (or ½(c2 + 2ab)m − ab·e − d2·relu) by
/// (d2(m + 4) + |ab| + 3)u; tb = σw²σb²c·dr²/(mn + σw²c·m + σb²) (0 exactly without bias or
/// with equal variances) by (1 + |dr|)²u/mn + u; en = tb + σw²·inner by their sum plus u; and
/// det = en·(mn + s12n) by (mn + |s12n|) times that plus u (det2 in the last branch by a few u).
/// The bound below is that sum, doubled (each term counted in units of 2u).
fn leaky_det_error(k: &Leaky, di: &Diag, dj: &Diag, l: usize, s12: f64) -> f64 {
    let m = di.r[l - 1] * dj.r[l - 1];
    let dr = di.r[l - 1] - dj.r[l - 1];
    let mn = di.r[l] * dj.r[l];
    let scale = mn + s12.abs();
    let inner = k.d2 * (m + 4.0) + k.ab.abs() + 3.0;
    let tb = if k.sb2 != 0.0 && dr != 0.0 {
        2.0 * (1.0 + dr.abs()) * (1.0 + dr.abs()) + scale
    } else {
        0.0
    };
    SUBNORMAL_ULP * (4.0 + scale * (1.0 + k.sw2 * inner) + tb)
}

/// Pairs run in lockstep so that the CPU overlaps their (serial) per-layer dependency chains.
const BLOCK: usize = 8;

/// The lesser of `least` and the determinant of `st`: a plain select (one `minsd`), where
/// f64::min's NaN handling costs ~5 instructions more per pair and layer.
#[inline(always)]
fn least_det(st: &State, least: f64) -> f64 {
    if st.det < least {
        st.det
    } else {
        least
    }
}

/// Runs a block of at most [`BLOCK`] pairs through all layers, appending the results to `out`.
fn run_block(
    arch: &Architecture,
    pairs: &[Pair],
    path: Path,
    out: &mut Vec<PairKernels>,
) -> Result<(), NumericError> {
    let (sw2, sb2) = arch.variances();
    let mut st = [State::default(); BLOCK];
    for (s, p) in st.iter_mut().zip(pairs) {
        *s = State::start(p);
    }
    let nb = pairs.len();
    // The determinant-tracking paths only keep the least determinant of the block (`least`);
    // blocks where it came near underflow, and those where underflow took an ulp from a
    // layer-1 determinant, run again pair by pair with the checks of [`Flags`].
    let lost = pairs.iter().any(|p| p.det_err > p.det * f64::EPSILON);
    let mut least = f64::INFINITY;
    match path {
        Path::Leaky { neg, pos } => {
            let k = Leaky {
                sw2,
                sb2,
                neg,
                pos,
                d2: (neg - pos) * (neg - pos),
                ab: neg * pos,
                c2: neg * neg + pos * pos,
            };
            for l in 0..arch.depth {
                for (s, p) in st[..nb].iter_mut().zip(pairs) {
                    least = least_det(s, least);
                    leaky_layer(&k, s, p.di, p.dj, l);
                }
            }
            if lost || least < MIN_NORMAL {
                for p in pairs {
                    let under = leaky_checked(&k, p, arch.depth, 0.0).1;
                    if under > 0 {
                        check_hidden_angle(&k, p, arch.depth, under)?;
                    }
                }
            }
        }
        Path::Step => {
            let thr = step_threshold(sw2, sb2);
            for l in 0..arch.depth {
                for (s, p) in st[..nb].iter_mut().zip(pairs) {
                    least = least_det(s, least);
                    step_layer(sw2, sb2, s, p.di, p.dj, l);
                }
            }
            if lost || least < thr {
                for p in pairs {
                    let under = step_underflow(sw2, sb2, p, arch.depth);
                    if under > 0 {
                        return Err(underflow_refusal(
                            p,
                            under,
                            "step's kernel goes like √(1 − ρ), so every later layer magnifies \
                             the angle lost there (θ ↦ ~√(2θ/π)): the values would be those of \
                             another angle",
                        ));
                    }
                }
            }
        }
        Path::Erf => {
            let mut near = [false; BLOCK];
            for l in 0..arch.depth {
                for ((s, p), near) in st[..nb].iter_mut().zip(pairs).zip(near.iter_mut()) {
                    let scale = p.di.r[l] * p.dj.r[l];
                    let rho = s.s12 / scale;
                    *near |= 1.0 - rho * rho < NEAR_DEGENERATE;
                    erf_layer(sw2, sb2, s, p.di, p.dj, l);
                }
            }
            for ((s, p), near) in st[..nb].iter().zip(pairs).zip(near) {
                if near {
                    let (plain, least) = scalar_run(arch, p, path, 0.0)?;
                    check_magnified_rounding(arch, p, path, &plain, least)?;
                    debug_assert_eq!(plain, s.out());
                }
            }
        }
        Path::General(_) => {
            for p in pairs {
                out.push(run_pair(arch, p, path)?);
            }
            return Ok(());
        }
    }
    out.extend(st[..nb].iter().map(State::out));
    Ok(())
}

fn check_inputs(inputs: &[Vec<f64>]) -> Result<usize, NumericError> {
    let bad = |m: String| Err(NumericError::InvalidInputs(m));
    let Some(first) = inputs.first() else {
        return bad("no inputs".into());
    };
    let n0 = first.len();
    if n0 == 0 {
        return bad("inputs have dimension 0".into());
    }
    for (i, x) in inputs.iter().enumerate() {
        if x.len() != n0 {
            return bad(format!(
                "input {i} has {} coordinates, input 0 has {n0}",
                x.len()
            ));
        }
        if let Some(j) = x.iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "input {i}, coordinate {j} is not finite ({})",
                x[j]
            ));
        }
    }
    Ok(n0)
}

/// Σ¹(x, x'), the determinant of Σ¹ on {x, x'} and a bound on what underflow took from the
/// determinant (0 if nothing underflowed: then a determinant 0 is exact, the inputs are exactly
/// parallel or opposite), given the diagonals of x and x' and (|x|², |x'|²).
fn layer1(
    arch: &Architecture,
    x: &[f64],
    y: &[f64],
    di: &Diag,
    dj: &Diag,
    (xx, yy): (f64, f64),
    n0: usize,
) -> (f64, f64, f64) {
    let (sw2, sb2) = arch.variances();
    let a = sw2 / n0 as f64;
    // |Σ¹(x,x')| ≤ √(Σ¹(x,x)Σ¹(x',x')) holds exactly; f64 breaks it only by rounding or
    // underflow (x' = (1e-200, 0): Σ¹(x',x') underflows to 0, Σ¹(x,x') = 5e-201 does not),
    // which would make a valid input an invalid covariance.
    let bound = di.r[0] * dj.r[0];
    let s12 = (a * dot(x, y) + sb2).clamp(-bound, bound);
    let diff: f64 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
    let (g, g_err) = if !path(arch.activation).needs_exact_gram() {
        gram::<false>(x, y, xx)
    } else if xx >= yy {
        gram::<true>(x, y, xx)
    } else {
        gram::<true>(y, x, yy)
    };
    let (aa, asb) = (a * a, a * sb2);
    let (pg, pd) = (aa * g, asb * diff);
    let det = pg + pd;
    // What underflow took from the two terms (their sum adds no underflow error: a sum whose
    // result is subnormal is exact). A factor a² or a·σb² below the normal range is off by up to
    // half a subnormal spacing, i.e. the product by g or diff times that.
    let mut err = scaled_error(aa, g_err) + product_error(pg, g);
    err += product_error(aa, g) * g.max(1.0);
    if sb2 != 0.0 {
        if diff < n0 as f64 * MIN_NORMAL {
            let lost = x
                .iter()
                .zip(y)
                .filter(|&(&p, &q)| p != q && (p - q) * (p - q) < MIN_NORMAL)
                .count();
            err += scaled_error(asb, lost as f64 * SUBNORMAL_ULP);
        }
        err += product_error(pd, diff) + product_error(asb, diff) * diff.max(1.0);
    }
    (s12, det, err)
}

/// Σ, Σ̇ and Θ of a network for N inputs (rows of `inputs`, any common dimension n0 ≥ 1).
///
/// Errors: invalid architecture, no inputs, rows of different lengths or with non-finite values,
/// and any failure of the Gaussian expectations.
pub fn kernels(arch: &Architecture, inputs: &[Vec<f64>]) -> Result<Kernels, NumericError> {
    arch.validate()?;
    let n0 = check_inputs(inputs)?;
    let n = inputs.len();
    let norms: Vec<f64> = inputs.iter().map(|x| dot(x, x)).collect();
    let diags = norms
        .par_iter()
        .enumerate()
        .map(|(i, &xx)| {
            diag(arch, xx, n0).map_err(|e| match e {
                NumericError::InvalidInputs(m) => {
                    NumericError::InvalidInputs(format!("input {i}: {m}"))
                }
                e => e,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<&[f64]> = inputs.iter().map(Vec::as_slice).collect();
    check_range(arch, &rows, &diags)?;
    let pth = path(arch.activation);
    // Column i below the diagonal (entries (j, i), j > i: the pairs (x_i, x_j)), each column
    // written in place by one rayon task, then mirrored (the storage is column-major). Every
    // column runs to its end or its first error, and the error of the first column that has one
    // is returned, so that a refusal names the same pair at every run.
    let mut out = Kernels {
        sigma: DMatrix::zeros(n, n),
        sigma_dot: DMatrix::zeros(n, n),
        ntk: DMatrix::zeros(n, n),
    };
    out.sigma
        .as_mut_slice()
        .par_chunks_mut(n)
        .zip(out.sigma_dot.as_mut_slice().par_chunks_mut(n))
        .zip(out.ntk.as_mut_slice().par_chunks_mut(n))
        .enumerate()
        .map(|(i, ((cs, cd), ct))| {
            cs[i] = diags[i].s[arch.depth];
            cd[i] = diags[i].sdot;
            ct[i] = diags[i].t;
            let mut buf = Vec::with_capacity(BLOCK);
            let mut j0 = i + 1;
            while j0 < n {
                let j1 = (j0 + BLOCK).min(n);
                let mut block = [const { None }; BLOCK];
                for (slot, j) in block.iter_mut().zip(j0..j1) {
                    let (s12, det, det_err) = layer1(
                        arch,
                        &inputs[i],
                        &inputs[j],
                        &diags[i],
                        &diags[j],
                        (norms[i], norms[j]),
                        n0,
                    );
                    *slot = Some(Pair {
                        ij: (i, j),
                        di: &diags[i],
                        dj: &diags[j],
                        s12,
                        det,
                        det_err,
                        same: inputs[j] == inputs[i],
                    });
                }
                let pairs: Vec<Pair> = block.into_iter().flatten().collect();
                buf.clear();
                run_block(arch, &pairs, pth, &mut buf)?;
                for ((j, pk), p) in (j0..j1).zip(&buf).zip(&pairs) {
                    // Identical inputs: the pair is the diagonal (the recursions of the pair and
                    // of the diagonal round differently, and a chaotic one magnifies that).
                    let pk = if p.same {
                        PairKernels {
                            sigma: diags[i].s[arch.depth],
                            sigma_dot: diags[i].sdot,
                            ntk: diags[i].t,
                        }
                    } else {
                        *pk
                    };
                    cs[j] = pk.sigma;
                    cd[j] = pk.sigma_dot;
                    ct[j] = pk.ntk;
                }
                j0 = j1;
            }
            Ok::<(), NumericError>(())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<(), _>>()?;
    for m in [&mut out.sigma, &mut out.sigma_dot, &mut out.ntk] {
        mirror_lower(m);
    }
    Ok(out)
}

/// Copies the lower triangle of a square matrix to the upper one, in cache-sized tiles.
fn mirror_lower(m: &mut DMatrix<f64>) {
    const T: usize = 64;
    let n = m.nrows();
    for bj in (0..n).step_by(T) {
        for bi in (0..=bj).step_by(T) {
            for j in bj..(bj + T).min(n) {
                for i in bi..(bi + T).min(j) {
                    m[(i, j)] = m[(j, i)];
                }
            }
        }
    }
}

/// Σ, Σ̇ and Θ of a network for one pair of inputs (x, x'); same conventions and errors as
/// [`kernels`].
pub fn kernel_pair(arch: &Architecture, x: &[f64], y: &[f64]) -> Result<PairKernels, NumericError> {
    arch.validate()?;
    let inputs = [x.to_vec(), y.to_vec()];
    let n0 = check_inputs(&inputs)?;
    let (xx, yy) = (dot(x, x), dot(y, y));
    let (di, dj) = (diag(arch, xx, n0)?, diag(arch, yy, n0)?);
    check_range(arch, &[x, y], &[di.clone(), dj.clone()])?;
    let (s12, det, det_err) = layer1(arch, x, y, &di, &dj, (xx, yy), n0);
    if x == y {
        return Ok(PairKernels {
            sigma: di.s[arch.depth],
            sigma_dot: di.sdot,
            ntk: di.t,
        });
    }
    let p = Pair {
        ij: (0, 1),
        di: &di,
        dj: &dj,
        s12,
        det,
        det_err,
        same: false,
    };
    run_pair(arch, &p, path(arch.activation))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain recursion through `dual` at every entry, as a cross-check of the fast paths.
    fn naive(arch: &Architecture, x: &[f64], y: &[f64]) -> PairKernels {
        let (sw2, sb2) = arch.variances();
        let n0 = x.len() as f64;
        let (mut sxx, mut syy) = (sw2 * dot(x, x) / n0 + sb2, sw2 * dot(y, y) / n0 + sb2);
        let mut sxy = sw2 * dot(x, y) / n0 + sb2;
        let (mut th, mut sdot) = (sxy, 0.0);
        for _ in 0..arch.depth {
            let d = dual(arch.activation, Cov2::new(sxx, sxy, syy).unwrap()).unwrap();
            sxx = sw2
                * dual(arch.activation, Cov2::diagonal(sxx).unwrap())
                    .unwrap()
                    .k
                + sb2;
            syy = sw2
                * dual(arch.activation, Cov2::diagonal(syy).unwrap())
                    .unwrap()
                    .k
                + sb2;
            sxy = sw2 * d.k + sb2;
            sdot = sw2 * d.kdot;
            th = th * sdot + sxy;
        }
        PairKernels {
            sigma: sxy,
            sigma_dot: sdot,
            ntk: th,
        }
    }

    #[test]
    fn fast_paths_agree_with_the_plain_recursion() {
        let x = [0.8, -0.3, 1.1];
        let y = [-0.5, 0.9, -0.4];
        for act in Activation::ALL {
            for (sw, sb) in [(1.3, 0.2), (1.0, 0.0), (2.0, 1.0)] {
                let arch = Architecture::new(act, 3, sw, sb).unwrap();
                let a = kernel_pair(&arch, &x, &y).unwrap();
                let b = naive(&arch, &x, &y);
                let k = kernels(&arch, &[x.to_vec(), y.to_vec()]).unwrap();
                let scale = (k.ntk[(0, 0)] * k.ntk[(1, 1)]).sqrt();
                for (u, v) in [
                    (a.sigma, b.sigma),
                    (a.sigma_dot, b.sigma_dot),
                    (a.ntk, b.ntk),
                ] {
                    assert!(
                        (u - v).abs() <= 1e-13 * scale,
                        "{act} {sw} {sb}: {a:?} vs {b:?}"
                    );
                }
                assert_eq!(k.ntk[(0, 1)], a.ntk);
                assert_eq!(k.ntk[(1, 0)], a.ntk);
            }
        }
    }

    /// Nearly parallel pairs under the erf and general recursions: printed where the recursion
    /// does not magnify the rounding of Σ(x,x′) (values against mpmath at 50 digits on the same
    /// f64 inputs), refused where it does; identical inputs take the diagonal.
    #[test]
    fn nearly_parallel_pairs_are_printed_only_where_rounding_is_not_magnified() {
        let (x, y) = ([1.0, 0.0], [1.0, 1e-4]);
        for (act, depth, sw, sb, want) in [
            (
                Activation::Erf,
                10,
                1.2,
                0.1,
                [
                    0.478_732_293_169_394_35,
                    1.073_628_763_793_265_7,
                    7.958_139_762_095_359,
                ],
            ),
            (
                Activation::Sin,
                3,
                1.0,
                0.1,
                [
                    0.207_595_047_188_532_5,
                    0.802_404_951_521_318_3,
                    0.821_207_389_234_693_4,
                ],
            ),
        ] {
            let arch = Architecture::new(act, depth, sw, sb).unwrap();
            let k = kernel_pair(&arch, &x, &y).unwrap();
            for (got, want) in [k.sigma, k.sigma_dot, k.ntk].into_iter().zip(want) {
                assert!(
                    (got - want).abs() <= 1e-14 * want.abs(),
                    "{act}: {got} vs {want}"
                );
            }
        }
        for act in [
            Activation::Sin,
            Activation::Cos,
            Activation::Erf,
            Activation::Tanh,
        ] {
            let arch = Architecture::new(act, 8, 20.0, 0.0).unwrap();
            let e = kernel_pair(&arch, &[1.0, 0.0], &[1.0, 1e-8]).unwrap_err();
            assert!(e.to_string().contains("nearly parallel"), "{act}: {e}");
            let k = kernels(&arch, &[vec![1.0, 0.0], vec![1.0, 0.0]]).unwrap();
            assert_eq!(k.ntk[(0, 1)], k.ntk[(0, 0)], "{act}");
        }
        // Exactly parallel with σb = 0: layer 1 is exact (erf, σw = 3, depth 30; mpmath).
        let arch = Architecture::new(Activation::Erf, 30, 3.0, 0.0).unwrap();
        let k = kernel_pair(&arch, &[1.0, 0.0], &[2.0, 0.0]).unwrap();
        assert!((k.sigma - 0.016_335_393_862_542_27).abs() <= 1e-13 * 0.0164);
    }

    /// Smooth activations by quadrature at large variances, where the activation's width 1 is
    /// narrower than the trapezoid grid in standard-normal units: tanh′² came out half its
    /// value at σw = 2000 and 0 at σw = 3000. References: mpmath, 30 digits, split at ±k/σ.
    #[test]
    fn smooth_activations_at_large_variance() {
        for (act, sw, sigma, sigma_dot) in [
            (
                Activation::Tanh,
                2000.0,
                3_998_404.231_042_452_7,
                1_063.846_038_188_579,
            ),
            (
                Activation::Tanh,
                3000.0,
                8_997_606.346_426_964,
                1_595.769_093_017_790_8,
            ),
            (
                Activation::Sigmoid,
                3000.0,
                4_498_803.173_377_54,
                199.471_125_906_747_77,
            ),
        ] {
            let arch = Architecture::new(act, 1, sw, 0.0).unwrap();
            let k = kernel_pair(&arch, &[1.0], &[1.0]).unwrap();
            assert!(
                (k.sigma - sigma).abs() <= 1e-13 * sigma,
                "{act} {sw}: {k:?}"
            );
            assert!(
                (k.sigma_dot - sigma_dot).abs() <= 1e-13 * sigma_dot,
                "{act} {sw}: {k:?}"
            );
        }
    }

    #[test]
    fn first_layer_and_identity() {
        // Identity network: Σ = σw²^(L+1) x·y/n0 + σb²·(1 + σw² + ...), checked at L = 1.
        let arch = Architecture::new(Activation::Identity, 1, 2.0, 0.5).unwrap();
        let p = kernel_pair(&arch, &[1.0, 2.0], &[3.0, -1.0]).unwrap();
        let s1 = 4.0 * 1.0 / 2.0 + 0.25;
        assert!((p.sigma - (4.0 * s1 + 0.25)).abs() < 1e-14);
        assert!((p.sigma_dot - 4.0).abs() < 1e-15);
        assert!((p.ntk - (s1 * 4.0 + 4.0 * s1 + 0.25)).abs() < 1e-13);
    }

    #[test]
    fn invalid_input_is_an_error() {
        let arch = Architecture::new(Activation::Relu, 2, 1.0, 0.1).unwrap();
        assert!(Architecture::new(Activation::Relu, 0, 1.0, 0.0).is_err());
        assert!(Architecture::new(Activation::Relu, 1, -1.0, 0.0).is_err());
        assert!(Architecture::new(Activation::Relu, 1, 1.0, f64::NAN).is_err());
        assert!(kernels(&arch, &[]).is_err());
        assert!(kernels(&arch, &[vec![1.0], vec![1.0, 2.0]]).is_err());
        assert!(kernels(&arch, &[vec![1.0, f64::INFINITY]]).is_err());
        assert!(kernels(&arch, &[vec![]]).is_err());
    }

    #[test]
    fn nearly_opposite_inputs_keep_their_angle_through_an_even_activation() {
        // abs maps ρ ≈ −1 to ρ ≈ +1: the determinant of the next layer must not come from
        // Σ(x,x)Σ(x',x') − Σ(x,x')². References: the closed forms iterated in mpmath at 60
        // digits on these f64 inputs (Σ̇ was exactly 1.0 and Θ off by 8e-9 before).
        let arch = Architecture::new(Activation::Abs, 3, 1.0, 0.0).unwrap();
        let k = kernels(&arch, &[vec![1.0, 0.0], vec![-1.0, 1e-8]]).unwrap();
        let rel = |v: f64, want: f64| ((v - want) / want).abs();
        assert!(rel(k.sigma_dot[(0, 1)], 0.999_999_993_633_802_3) < 1e-14);
        assert!(rel(k.ntk[(0, 1)], 1.999_999_980_901_407) < 1e-14);
        let arch = Architecture::new(Activation::Abs, 3, 1.3, 0.1).unwrap();
        let k = kernels(&arch, &[vec![1.0, 0.2], vec![-2.0, -0.4000001]]).unwrap();
        assert!(rel(k.sigma_dot[(0, 1)], 1.521_680_427_425_158_5) < 1e-14);
        assert!(rel(k.ntk[(0, 1)], 29.150_263_199_652_23) < 1e-14);
    }

    #[test]
    fn nearly_parallel_and_opposite_inputs_keep_their_angle_through_step() {
        // Near ρ = 1 the step kernel goes like √(1 − ρ): a 1 − ρ lost to rounding at one layer
        // grows at every later one (x' = x + 1e-7·e₁ gave Σ = 1.2121784683400079 at depth 3,
        // and x + 1e-9·e₁ the parallel 1.215 at every depth); near ρ = −1 (θ¹ ≈ π) the next
        // layer is Σ² ≈ σb² + σw²(π − θ¹)/(2π) (σb = 0: 8.148e-9 for 8.495e-9). References:
        // Σ¹ = σw²·x·x'/n0 + σb², Σˡ⁺¹ = σw²(π − θˡ)/(2π) + σb², θˡ = atan2(√det, Σˡ(x,x')),
        // iterated in mpmath at 60 digits on these f64 inputs, σw and σb (mpf(float), not the
        // decimals: x + 1e-9·e₁ from decimals is 1.21409444065722 at depth 3), rounded to the
        // nearest f64. Tolerance 1e-14 relative, as for the relu family above: the fixed
        // recursion is within 2.5e-16 of these (all depths 1–8), the old one 1.5e-13 to 100%.
        let x = [2.5, -1.2, 2.0];
        let big = [25000.0, -12000.0, 20000.0];
        // (x, x', σw, σb, [(depth, Σ(x, x'))]).
        type Case<'a> = (&'a [f64], &'a [f64], f64, f64, &'a [(usize, f64)]);
        let cases: [Case; 5] = [
            (
                &x,
                &[2.5000001, -1.2, 2.0],
                1.5,
                0.3,
                &[(3, 1.212136363068661), (8, 1.02723771181906)],
            ),
            (
                &x,
                &[2.500000001, -1.2, 2.0],
                1.5,
                0.3,
                &[(3, 1.2140944406384926), (8, 1.034208300771891)],
            ),
            (
                &x,
                &[-2.5, 1.2, -2.0000001],
                1.5,
                0.0,
                &[
                    (1, 8.494763657103213e-9),
                    (3, 0.7500000009938502),
                    (8, 0.8843308797344114),
                ],
            ),
            (
                &big,
                &[-25000.0, 12000.0, -20000.0001],
                1.5,
                0.3,
                &[
                    (1, 0.09000725631312972),
                    (3, 0.8648695112347846),
                    (8, 0.9934038593117269),
                ],
            ),
            (
                &big,
                &[-25000.0, 12000.0, -20000.0001],
                1.5,
                0.0,
                &[
                    (1, 8.494763896247954e-10),
                    (3, 0.7500000000993851),
                    (8, 0.8843308797118059),
                ],
            ),
        ];
        let mut bad = vec![];
        for (x, y, sw, sb, want) in cases {
            for &(depth, want) in want {
                let arch = Architecture::new(Activation::Step, depth, sw, sb).unwrap();
                let k = kernels(&arch, &[x.to_vec(), y.to_vec()]).unwrap();
                let p = kernel_pair(&arch, x, y).unwrap();
                let got = k.sigma[(0, 1)];
                let err = ((got - want) / want).abs();
                if err > 1e-14 {
                    bad.push(format!(
                        "{y:?} σb = {sb}, depth {depth}: {got} vs {want} (rel. error {err:.1e})"
                    ));
                }
                assert_eq!((k.ntk[(0, 1)], k.sigma_dot[(0, 1)]), (got, 0.0));
                assert_eq!((p.sigma, p.sigma_dot, p.ntk), (got, 0.0, got));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn pairs_whose_determinant_underflows_are_refused_where_their_angle_matters() {
        // References: the recursions iterated in mpmath at 900 digits on these f64 inputs.
        let refused = |arch: &Architecture, x: &[f64], y: &[f64]| {
            let e = kernels(arch, &[x.to_vec(), y.to_vec()]).map(|k| k.sigma[(0, 1)]);
            let e = e.expect_err("refused").to_string();
            assert!(e.contains("inputs 0 and 1") && e.contains("layer 1"), "{e}");
            assert!(kernel_pair(arch, x, y).is_err());
        };
        // Step at x' = x + 1e-170·e₂: det¹ = ¼·1e-340 underflowed to 0 and Σ printed the
        // parallel 0.5 (σb = 0.1: 0.51) for 0.39503166450029269 (0.40724517081412286).
        let (x, y) = ([1.0, 0.0], [1.0, 1e-170]);
        for sb in [0.0, 0.1] {
            refused(
                &Architecture::new(Activation::Step, 20, 1.0, sb).unwrap(),
                &x,
                &y,
            );
        }
        // A normal determinant (¼·1e-300) is kept: 0.3950187722124678157.
        let step = Architecture::new(Activation::Step, 20, 1.0, 0.0).unwrap();
        let s = kernels(&step, &[x.to_vec(), vec![1.0, 1e-150]])
            .unwrap()
            .sigma[(0, 1)];
        assert!((s / 0.395_018_772_212_467_8 - 1.0).abs() < 1e-15, "{s}");
        // Relu at depth 1 and the nearly opposite x' = −x + 1e-170·e₂: Σ̇ = φ/(2π) printed 0
        // for 1.5915494309189533e-171 and Θ 0 for −7.957747154594767e-172.
        let relu = Architecture::new(Activation::Relu, 1, 1.0, 0.0).unwrap();
        refused(&relu, &x, &[-1.0, 1e-170]);
        // Relu at x = 1e100·e₁, x' = (2e-152, 2e-162): the residual's square underflowed inside
        // the Gram determinant, which came out normal but 20% off (Σ̇ 3.5e-12 off).
        refused(&relu, &[1e100, 0.0], &[2e-152, 2e-162]);
        // Where the angle an underflowed determinant can hide does not show in the printed
        // values, they are printed: relu near ρ = 1 at the scale of 1 (θ ≤ 1e-160 moves Σ̇ by
        // θ/π), abs near ρ = −1 (Σ̇ ≈ −σw²), and a subnormal determinant that carries 13 digits.
        // (activation, depth, σb, x, x', [Σ, Σ̇, Θ]).
        type Case = (Activation, usize, f64, [f64; 2], [f64; 2], [f64; 3]);
        let ok: [Case; 3] = [
            (Activation::Relu, 3, 0.1, x, y, [0.08125, 0.5, 0.2825]),
            (
                Activation::Abs,
                2,
                0.1,
                x,
                [-1.0, 1e-170],
                [
                    0.514_331_637_860_807_2,
                    0.833_809_148_776_645,
                    1.268_705_563_873_895_3,
                ],
            ),
            (
                Activation::Relu,
                3,
                0.0,
                [1e-74, 0.0],
                [1e-74, 1e-80],
                [
                    6.25e-150,
                    0.499_999_840_845_090_7,
                    2.499_998_806_338_349e-149,
                ],
            ),
        ];
        for (act, depth, sb, x, y, want) in ok {
            let arch = Architecture::new(act, depth, 1.0, sb).unwrap();
            let k = kernel_pair(&arch, &x, &y).unwrap();
            for (got, want) in [k.sigma, k.sigma_dot, k.ntk].into_iter().zip(want) {
                assert!(
                    (got / want - 1.0).abs() < 1e-15,
                    "{act} {y:?}: {got} vs {want}"
                );
            }
        }
        // Exactly parallel and exactly opposite pairs have an exact zero determinant.
        let x = [0.7, -1.3, 0.2];
        for act in [Activation::Step, Activation::Relu, Activation::Abs] {
            for sb in [0.0, 0.1] {
                let arch = Architecture::new(act, 4, 1.3, sb).unwrap();
                for c in [1.0, 2.0, -1.0, -0.5] {
                    let y = x.map(|v| c * v);
                    let a = kernel_pair(&arch, &x, &y).unwrap();
                    let b = naive(&arch, &x, &y);
                    for (u, v) in [
                        (a.sigma, b.sigma),
                        (a.sigma_dot, b.sigma_dot),
                        (a.ntk, b.ntk),
                    ] {
                        assert!(
                            (u - v).abs() <= 1e-13 * v.abs(),
                            "{act} {sb} {c}: {a:?} {b:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn inputs_whose_variance_products_leave_f64_are_refused() {
        // Σ̇ was 0.5 (parallel) at inputs of size 1e-90 at 67° (the determinant underflowed),
        // and Σ printed inf at 1e78.
        let relu = Architecture::new(Activation::Relu, 1, 1.0, 0.0).unwrap();
        let tiny = [vec![1e-90, 0.0], vec![3e-91, 7e-91]];
        let huge = [vec![1e78, 0.0], vec![3e77, 7e77]];
        assert!(kernels(&relu, &tiny).is_err());
        assert!(kernels(&relu, &huge).is_err());
        assert!(kernel_pair(&relu, &tiny[0], &tiny[1]).is_err());
        // Step, since it carries the determinant too (it printed 0.5 and 0.25 for 0.314).
        let step = Architecture::new(Activation::Step, 1, 1.0, 0.0).unwrap();
        assert!(kernels(&step, &tiny).is_err());
        assert!(kernels(&step, &huge).is_err());
        let erf = Architecture::new(Activation::Erf, 1, 1.0, 0.0).unwrap();
        assert!(kernels(&erf, &huge).is_err());
        assert!(kernels(&erf, &tiny).is_ok());
        // One input far from the others is fine, and a zero one with a tiny σb.
        assert!(kernels(&relu, &[tiny[0].clone(), vec![1.0, 2.0]]).is_ok());
        let tiny_sb = Architecture::new(Activation::Relu, 1, 1.0, 1e-80).unwrap();
        assert!(kernels(&tiny_sb, &[vec![0.0, 0.0], vec![1.0, 2.0]]).is_ok());
        // Scale-free at ordinary sizes: Σ̇ of relu depends on the angle only.
        let k = kernels(&relu, &[vec![1.0, 0.0], vec![0.3, 0.7]]).unwrap();
        let want = (PI - 0.7f64.patan2(0.3)) / (2.0 * PI);
        assert!((k.sigma_dot[(0, 1)] - want).abs() < 1e-15);
    }

    #[test]
    fn zero_inputs_are_exact() {
        let arch = Architecture::new(Activation::Relu, 2, 1.0, 0.0).unwrap();
        let k = kernels(&arch, &[vec![0.0, 0.0], vec![1.0, 0.0]]).unwrap();
        assert_eq!(k.sigma[(0, 1)], 0.0);
        assert_eq!(k.ntk[(0, 0)], 0.0);
        assert!(k.ntk.as_slice().iter().all(|v| v.is_finite()));
    }
}
