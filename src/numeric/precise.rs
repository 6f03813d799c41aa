//! High-precision evaluation: rigorous ball arithmetic at ≥ 128 bits.
//!
//! The f64 evaluator ([`super::eval`]) compares the two sides of a link with a relative tolerance
//! of 1e-12, so an identity that is off by less than that (`pi = 3.141592653589`,
//! `a = a + 1e-14*a`) passes. This module evaluates every term that has no Monte Carlo,
//! quadrature, differentiation or matrix part (no `E[…]`, `gauss(…)`, `d/dt`, `@`, `mexp`, no
//! random or matrix symbol) in arbitrary precision and decides the comparison with an error bound
//! derived from the precision actually used.
//!
//! # Error model: balls
//!
//! Every subterm evaluates to a *ball* `[m − r, m + r]` that contains the exact real value of the
//! subterm at the point: `m` is a binary float with `bits` significant bits ([`dashu_float`]),
//! `r` an `f64` upper bound on `|m − exact|`. Inputs are exact: constants are exact rationals
//! (a rational that is not a dyadic number is rounded once, `r` = 1 ulp), symbol values and array
//! entries are taken as the exact binary64 numbers they are. Each operation then
//!
//! * computes the midpoint result with one correctly rounded operation of the library at the
//!   working precision `p` and adds 1 ulp of the result to the radius when the library reports
//!   the result inexact (correct rounding to nearest errs by at most ½ ulp: the factor 2 is a
//!   margin against the library's own claim, not a tolerance that hides anything — it is 2^-127
//!   relative at 128 bits);
//! * propagates the operands' radii with a bound valid on the whole ball: `ra + rb` for `±`,
//!   `|a|·rb + |b|·ra + ra·rb` for `·`, `(|a|·rb + |b|·ra)/(|b|·(|b| − rb))` for `/` (only when
//!   the divisor's ball excludes 0), `L·r` for a function with `|f'| ≤ L` on the ball (e.g. `exp`:
//!   `L = exp(hi)`, `log`: `1/lo`, `asin`: `1/√(1 − hi²)`, only when the ball stays inside the
//!   domain);
//! * rounds every radius computation upward (each f64 radius operation is followed by a factor
//!   `1 + 4ε`, and f64 images of midpoints are widened by 2⁻⁵¹ relative).
//!
//! Where a ball straddles a discontinuity (`step` at 0, a branch cut of `atan2`), a pole (a
//! divisor whose ball contains 0) or a domain edge (`log`, `sqrt` of a ball that reaches 0,
//! `asin` of one that reaches ±1), the term is [`NotPrecise`] and the checker falls back to f64
//! for that point. So the comparison is two-sided and rigorous:
//!
//! * if the balls of the two sides are disjoint, the sides **differ** at that point (a proof of
//!   inequality, modulo the correctness of the library's correctly rounded primitives);
//! * if they overlap, the sides agree to within the balls' width, i.e. to ~2⁻¹²⁰ of the scale of
//!   the computation: a true identity can never be refuted, and a false one is accepted only if
//!   it is off by less than that.
//!
//! Why balls and not "evaluate at p and 2p bits and take the difference": the difference of two
//! evaluations is an estimate, not a bound; it can vanish by accident (both round to the same
//! value) and it says nothing about cancellation that both precisions suffer alike. A running
//! error bound costs one f64 operation per node and is a bound.
//!
//! # erf
//!
//! `erf` is not in the library. For a point `x` (the ball's midpoint, exact):
//! * `|x|² ≤ (p + 20)·ln 2`: the Taylor series `erf x = 2/√π Σ (−1)ⁿ x²ⁿ⁺¹/(n!(2n+1))`, summed
//!   in ball arithmetic at `p + ⌈x²·log₂e⌉ + 24` bits (the terms grow to ~e^{x²} before they
//!   cancel to a value ≤ 1); the series alternates with decreasing terms once `n > x²`, so the
//!   tail after the last term summed is bounded by that term, which is added to the radius.
//!   `erfc x = 1 − erf x` (x > 0) is summed with another `⌈x²·log₂e⌉` guard bits, since
//!   erfc x ≈ e^{−x²}.
//! * larger `|x|`: the asymptotic series `erfc x = e^{−x²}/(x√π) Σ (−1)ⁿ (2n−1)!!/(2x²)ⁿ`, whose
//!   remainder (x real, positive) is bounded by the first omitted term; it reaches 2^-(p+20)
//!   relative before its terms start to grow because `x² > (p + 20)·ln 2`.
//! * `|x| > 27`: erfc x < 2⁻¹⁰⁷⁴, so `erf x = ±1` with radius 2⁻¹⁰⁷⁴.
//!
//! A ball input adds `(2/√π)·r` (the maximum of erf').
//!
//! # The crate
//!
//! `dashu-float` 0.6 (pure Rust): correctly rounded `+ − · /`, `sqrt`, `exp`, `ln`, `ln_1p`,
//! `sin`, `cos`, `tan`, `asin`, `acos`, `atan`, `atan2`, `tanh`, `pi`, with a Ziv loop that
//! certifies each rounding and reports whether a result is exact (which keeps integer index
//! arithmetic exact, with radius 0). Its failures are `Result`s (out of domain, overflow, Ziv
//! retry limit), never panics on the `Context` API used here. `rug` (MPFR) needs a C toolchain
//! and m4. `astro-float` 0.9 has the same functions and is 1.5–4× faster on `ln`, `asin`, `atan`,
//! but does not report whether a result is exact, which this error model uses for exact integer
//! and dyadic arithmetic. Measured in a release build at 128 bits (one call, x = 0.7312):
//!
//! | | exp | ln | sin | asin | atan | tanh |
//! |---|---|---|---|---|---|---|
//! | dashu-float 0.6.2 | 36 µs | 150 µs | 51 µs | 480 µs | 321 µs | 78 µs |
//! | astro-float 0.9.6 | 43 µs | 93 µs | 28 µs | 131 µs | 83 µs | 49 µs |
//!
//! `+ − ·` cost well under 1 µs. Both crates build in about 40 s of CPU from source. The
//! transcendentals' cost is why a side may make at most [`MAX_CALLS`] of them (and sum at most
//! [`MAX_TERMS`] terms) before falling back to f64; `derive check --all` takes as long as before
//! (≈ 20 s on this shared machine, within its noise).

use crate::numeric::portable::Portable;
use std::cmp::Ordering;
use std::collections::HashMap;

use dashu_base::Approximation::{Exact, Inexact};
use dashu_float::{round::mode::HalfEven, ConstCache, Context, FBig, FpError, Repr};
use dashu_int::IBig;
use egg::{Id, Symbol};

use super::activation::Activation;
use super::eval::Env;
use crate::expr::{Expr, Math};

type Big = FBig<HalfEven, 2>;

thread_local! {
    /// The library's cache of constants (π, ln 2, …) that argument reductions need; without it
    /// every `exp` or `sin` recomputes them.
    static CONSTS: std::cell::RefCell<ConstCache> = const { std::cell::RefCell::new(ConstCache::new()) };
}

fn cached<T>(f: impl FnOnce(Option<&mut ConstCache>) -> T) -> T {
    CONSTS.with(|c| match c.try_borrow_mut() {
        Ok(mut cache) => f(Some(&mut cache)),
        Err(_) => f(None),
    })
}
type Mid = Repr<2>;

pub use crate::precision::BITS;

/// The most sum terms one side may evaluate precisely (over it: f64).
pub const MAX_TERMS: usize = 4096;

/// The most transcendental function calls one side may make (over it: f64). The library's
/// functions cost 30–500 µs each at 128 bits (`exp` ≈ 36 µs, `ln` ≈ 150 µs, `asin` ≈ 480 µs in a
/// release build), so a long sum of activations is left to f64 rather than slowing the check.
pub const MAX_CALLS: usize = 400;

/// Largest |x| for which exp, sin, cos, tan, tanh are evaluated precisely (over it: f64).
const MAX_ARG: f64 = 1e6;

/// A value known to lie in the ball `[mid − rad, mid + rad]`.
#[derive(Debug, Clone)]
pub struct Precise {
    /// The midpoint, a binary float.
    pub mid: Mid,
    /// Upper bound on |mid − exact value| (0 when exact).
    pub rad: f64,
    /// The working precision in bits.
    pub bits: u32,
}

/// Why a term was not evaluated precisely (the f64 path is used instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("not evaluated in high precision: {why}")]
pub struct NotPrecise {
    /// Why.
    pub why: String,
    /// The term has no value at all, not merely one beyond what balls can show: the ball lies
    /// wholly outside a function's domain (acos(1 + 10⁻³⁰), sqrt of a negative ball), which
    /// f64, rounding the argument into the domain, would evaluate.
    pub no_value: bool,
    /// A branch (a jump's side, a kink's slope, 0^y at y = 0) is chosen by the side of 0 a
    /// ball lies on, and the ball straddles 0: the exact value may lie on either side.
    pub straddles: bool,
}

fn np<T>(why: impl Into<String>) -> Result<T, NotPrecise> {
    Err(NotPrecise {
        why: why.into(),
        no_value: false,
        straddles: false,
    })
}

fn no_value<T>(why: impl std::fmt::Display) -> Result<T, NotPrecise> {
    Err(NotPrecise {
        why: format!("no value: {why}"),
        no_value: true,
        straddles: false,
    })
}

/// A branch decided by a ball's side of 0, which it straddles ([`NotPrecise::straddles`]).
fn straddles<T>(what: &str) -> Result<T, NotPrecise> {
    Err(NotPrecise {
        why: format!("{what} of a ball that straddles 0"),
        no_value: false,
        straddles: true,
    })
}

/// The outcome of comparing two precise values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreciseComparison {
    /// Do the balls overlap? (If not, the values differ.)
    pub agrees: bool,
    /// |lhs − rhs| of the midpoints, rounded up to f64.
    pub diff: f64,
    /// The sign of lhs − rhs of the midpoints (−1, 0 or 1; the difference is exact or rounded
    /// at a precision that keeps its sign).
    pub sign: f64,
    /// The sum of the radii: the largest difference the evaluation error can explain.
    pub tol: f64,
    /// The working precision.
    pub bits: u32,
}

impl Precise {
    /// The nearest f64 to the midpoint.
    pub fn to_f64(&self) -> f64 {
        self.mid.to_f64().value()
    }

    /// f64 bounds (lo, hi) that contain the ball.
    pub fn bounds(&self) -> (f64, f64) {
        bounds(self)
    }

    /// The sign of every value in the ball (−1 or 1), if the ball excludes 0.
    pub fn sign(&self) -> Option<f64> {
        if self.mid.is_zero() || self.contains(&Mid::zero()) {
            return None;
        }
        Some(if self.mid.sign() == dashu_base::Sign::Negative {
            -1.0
        } else {
            1.0
        })
    }

    /// An exact value.
    pub fn exact(mid: Mid, bits: u32) -> Precise {
        Precise {
            mid,
            rad: 0.0,
            bits,
        }
    }

    /// Is `x` inside the ball?
    pub fn contains(&self, x: &Mid) -> bool {
        let ctx = Context::<HalfEven>::new(2 * self.bits as usize + 64);
        match ctx.sub(&self.mid, x) {
            Ok(d) => abs_up(d.value_ref().repr()) <= self.rad,
            Err(_) => false,
        }
    }

    /// The midpoint in decimal with `digits` significant digits.
    pub fn to_decimal(&self, digits: usize) -> String {
        let b = Big::from_repr(self.mid.clone(), Context::new(self.bits as usize));
        match b.to_decimal().value().with_precision(digits) {
            Exact(d) | Inexact(d, _) => d.to_string(),
        }
    }
}

trait MidZero {
    fn is_zero(&self) -> bool;
}
impl MidZero for Mid {
    fn is_zero(&self) -> bool {
        self.is_finite() && *self.significand() == IBig::ZERO
    }
}

/// Compare two precise values: they agree iff their balls overlap.
pub fn compare(l: &Precise, r: &Precise) -> PreciseComparison {
    let bits = l.bits.min(r.bits);
    let tol = up(l.rad + r.rad);
    let digits = l.mid.digits().max(r.mid.digits());
    let span = (l.mid.exponent() - r.mid.exponent()).unsigned_abs();
    // Exact subtraction: enough bits for both significands at their relative offset (capped; past
    // the cap the rounding of the difference is ≤ 2^-(cap) relative and is added below).
    let prec = (digits + span + 2).min(1 << 16);
    let ctx = Context::<HalfEven>::new(prec);
    let sign_of = |d: &Mid| {
        if d.is_zero() {
            0.0
        } else if d.sign() == dashu_base::Sign::Negative {
            -1.0
        } else {
            1.0
        }
    };
    let (diff, sign) = match ctx.sub(&l.mid, &r.mid) {
        Ok(Exact(d)) => (abs_up(d.repr()), sign_of(d.repr())),
        Ok(Inexact(d, _)) => (
            up(abs_up(d.repr()) + ulp(d.repr(), prec)),
            sign_of(d.repr()),
        ),
        Err(_) => (f64::INFINITY, f64::NAN),
    };
    PreciseComparison {
        agrees: diff.is_finite() && tol.is_finite() && diff <= tol,
        diff,
        sign,
        tol,
        bits,
    }
}

/// Evaluate `e` at the point `env` in ball arithmetic with `bits` bits of precision.
pub fn eval(e: &Expr, env: &Env, bits: u32) -> Result<Precise, NotPrecise> {
    eval_widened(e, env, bits, &[])
}

/// [`eval`] with each symbol of `widen` the ball of the reals between its value's neighbouring
/// doubles: the value contains every exact value near the point, not only at the double
/// (3a − 1 at the double nearest 1/3 is −5.6·10⁻¹⁷ exactly, and 0 for a real in the ball).
pub fn eval_widened(
    e: &Expr,
    env: &Env,
    bits: u32,
    widen: &[Symbol],
) -> Result<Precise, NotPrecise> {
    eval_with(e, env, bits, widen, &[])
}

/// The root of `e` at `env`, with the symbols of `widen` ([`eval_widened`]) and `radii`
/// ([`eval_box`]) read as balls.
fn eval_with(
    e: &Expr,
    env: &Env,
    bits: u32,
    widen: &[Symbol],
    radii: &[(Symbol, f64)],
) -> Result<Precise, NotPrecise> {
    if e.as_ref().is_empty() {
        return np("empty term");
    }
    let mut ev = Evaluator::new(env, bits);
    ev.widen = widen;
    ev.radii = radii;
    let root = Id::from(e.as_ref().len() - 1);
    let v = ev.value(e, root)?;
    if !v.rad.is_finite() || !v.mid.is_finite() {
        return np("the value or its error bound is not finite");
    }
    Ok(v)
}

/// [`eval`] over a box: each symbol of `radii` is the ball of that radius around its value at
/// `env` (a jump whose argument's ball straddles 0 is [`NotPrecise`], as at a point). The
/// result contains the value of `e` at every point of the box: a rigorous enclosure, as wide as
/// the dependency of the term on the box makes it (x − x over [−1, 1] is [−2, 2]).
pub fn eval_box(
    e: &Expr,
    env: &Env,
    bits: u32,
    radii: &[(Symbol, f64)],
) -> Result<Precise, NotPrecise> {
    eval_with(e, env, bits, &[], radii)
}

/// The signed sum of the subterms `terms` of `e` (`true`: added) in ball arithmetic with `bits`
/// bits: constants that cancel in f64 only to within its rounding (10¹⁰·sin²1 + 10¹⁰·cos²1
/// − 10¹⁰) cancel here to within the balls' radii.
pub fn signed_sum(
    e: &Expr,
    terms: &[(bool, Id)],
    env: &Env,
    bits: u32,
) -> Result<Precise, NotPrecise> {
    let mut ev = Evaluator::new(env, bits);
    let mut acc = ev.exact(Mid::zero());
    for (positive, t) in terms {
        let v = ev.value(e, *t)?;
        acc = if *positive {
            ev.add(&acc, &v)?
        } else {
            ev.sub(&acc, &v)?
        };
    }
    if !acc.rad.is_finite() || !acc.mid.is_finite() {
        return np("the value or its error bound is not finite");
    }
    Ok(acc)
}

/// Compare the two sides of a link at a point in high precision, if both evaluate precisely:
/// `(lhs, rhs, comparison)`.
pub fn compare_sides(
    lhs: &Expr,
    rhs: &Expr,
    env: &Env,
    bits: u32,
) -> Result<(Precise, Precise, PreciseComparison), NotPrecise> {
    compare_sides_widened(lhs, rhs, env, bits, &[])
}

/// [`compare_sides`] with the symbols of `widen` widened ([`eval_widened`]).
pub fn compare_sides_widened(
    lhs: &Expr,
    rhs: &Expr,
    env: &Env,
    bits: u32,
    widen: &[Symbol],
) -> Result<(Precise, Precise, PreciseComparison), NotPrecise> {
    let l = eval_widened(lhs, env, bits, widen)?;
    let r = eval_widened(rhs, env, bits, widen)?;
    let c = compare(&l, &r);
    Ok((l, r, c))
}

/// The f64 view of a precise comparison, for the checker's point records: the values (their
/// scale is the magnitude, no standard error) and a comparison that agrees exactly when the
/// balls overlap (`diff` rounded up, `tol` the sum of the radii).
pub fn as_point(
    l: &Precise,
    r: &Precise,
    c: &PreciseComparison,
) -> (
    super::eval::Value,
    super::eval::Value,
    super::tolerance::Comparison,
) {
    let val = |p: &Precise| super::eval::Value {
        value: p.to_f64(),
        scale: p.to_f64().abs(),
        stderr: 0.0,
    };
    let cmp = super::tolerance::Comparison {
        diff: if c.diff.is_finite() { c.diff } else { f64::MAX },
        signed: if c.sign.is_nan() {
            f64::NAN
        } else {
            c.sign * if c.diff.is_finite() { c.diff } else { f64::MAX }
        },
        tol: c.tol,
        statistical: false,
        sigma: 0.0,
        rigorous: true,
    };
    debug_assert_eq!(cmp.agrees(), c.agrees);
    (val(l), val(r), cmp)
}

// ---------------------------------------------------------------------------------------------
// Radius arithmetic in f64, rounded upward.

const EPS: f64 = f64::EPSILON;
/// The smallest positive f64: an upper bound on anything that underflows.
const TINY: f64 = 5e-324;

fn up(x: f64) -> f64 {
    x * (1.0 + 4.0 * EPS)
}

/// An upper bound on |m| as f64 (∞ if out of range).
fn abs_up(m: &Mid) -> f64 {
    if m.is_zero() {
        return 0.0;
    }
    let f = m.to_f64().value().abs();
    f * (1.0 + 2.0 * EPS) + TINY
}

/// A lower bound on |m| as f64.
fn abs_lo(m: &Mid) -> f64 {
    let f = m.to_f64().value().abs();
    if !f.is_finite() {
        return f64::MAX;
    }
    (f * (1.0 - 2.0 * EPS) - TINY).max(0.0)
}

/// 1 ulp of the (rounded) value `m` at precision `bits`: 2^(E − bits + 1) with 2^E ≤ |m| < 2^(E+1).
fn ulp(m: &Mid, bits: usize) -> f64 {
    if m.is_zero() {
        return TINY;
    }
    let e = m.exponent() as i64 + m.digits() as i64 - bits as i64;
    if e > 1023 {
        f64::INFINITY
    } else if e < -1074 {
        TINY
    } else {
        2f64.powi(e as i32)
    }
}

/// f64 bounds (lo, hi) of a ball.
fn bounds(a: &Precise) -> (f64, f64) {
    let f = a.mid.to_f64().value();
    let slack = f.abs() * 2.0 * EPS + TINY;
    (
        (f - a.rad - slack) * (1.0 + 4.0 * EPS.copysign(-f)),
        (f + a.rad + slack) * (1.0 + 4.0 * EPS.copysign(f)),
    )
}

fn f64_to_mid(v: f64) -> Result<Mid, NotPrecise> {
    if !v.is_finite() {
        return np(format!("{v} is not finite"));
    }
    if v == 0.0 {
        return Ok(Mid::zero());
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = (bits & ((1u64 << 52) - 1)) as i64;
    let (m, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1i64 << 52), exp - 1075)
    };
    let m = if v < 0.0 { -m } else { m };
    Ok(Mid::new(IBig::from(m), e as isize))
}

fn bigint_to_ibig(n: &num_bigint::BigInt) -> IBig {
    IBig::from_le_bytes(&n.to_signed_bytes_le())
}

fn int_mid(n: i64) -> Mid {
    Mid::new(IBig::from(n), 0)
}

// ---------------------------------------------------------------------------------------------

struct Evaluator<'a> {
    env: &'a Env,
    bits: u32,
    ctx: Context<HalfEven>,
    bound: Vec<(Symbol, i64)>,
    terms: usize,
    pi: HashMap<usize, Precise>,
    /// Transcendental function calls so far (see [`MAX_CALLS`]).
    calls: std::cell::Cell<usize>,
    /// Symbols read as the ball between their value's neighbouring doubles ([`eval_widened`]).
    widen: &'a [Symbol],
    /// Symbols read as the ball of the given radius around their value ([`eval_box`]).
    radii: &'a [(Symbol, f64)],
}

type Res = Result<Precise, NotPrecise>;

fn fp_err(e: FpError) -> NotPrecise {
    NotPrecise {
        why: format!("{e:?}"),
        no_value: false,
        straddles: false,
    }
}

impl<'a> Evaluator<'a> {
    fn new(env: &'a Env, bits: u32) -> Self {
        Evaluator {
            env,
            bits,
            ctx: Context::new(bits as usize),
            bound: vec![],
            terms: 0,
            pi: HashMap::new(),
            calls: std::cell::Cell::new(0),
            widen: &[],
            radii: &[],
        }
    }

    fn prec(&self) -> usize {
        self.ctx.precision()
    }

    /// A ball from a library result: the rounding error (1 ulp when inexact) plus `rad`.
    fn ball(&self, r: Result<dashu_float::round::Rounded<Big>, FpError>, rad: f64) -> Res {
        let (m, u) = match r.map_err(fp_err)? {
            Exact(v) => (v.into_repr(), 0.0),
            Inexact(v, _) => {
                let m = v.into_repr();
                let u = ulp(&m, self.prec());
                (m, u)
            }
        };
        if !m.is_finite() {
            return np("an intermediate value is infinite");
        }
        let rad = up(rad + u);
        if !rad.is_finite() {
            return np("an error bound overflows");
        }
        Ok(Precise {
            mid: m,
            rad,
            bits: self.bits,
        })
    }

    fn exact(&self, m: Mid) -> Precise {
        Precise::exact(m, self.bits)
    }

    fn add(&self, a: &Precise, b: &Precise) -> Res {
        self.ball(self.ctx.add(&a.mid, &b.mid), a.rad + b.rad)
    }

    fn sub(&self, a: &Precise, b: &Precise) -> Res {
        self.ball(self.ctx.sub(&a.mid, &b.mid), a.rad + b.rad)
    }

    fn neg(&self, a: &Precise) -> Precise {
        Precise {
            mid: -a.mid.clone(),
            ..a.clone()
        }
    }

    fn mul(&self, a: &Precise, b: &Precise) -> Res {
        let rad = if a.rad == 0.0 && b.rad == 0.0 {
            0.0
        } else {
            up(abs_up(&a.mid) * b.rad + abs_up(&b.mid) * a.rad + a.rad * b.rad)
        };
        self.ball(self.ctx.mul(&a.mid, &b.mid), rad)
    }

    fn div(&self, a: &Precise, b: &Precise) -> Res {
        if b.mid.is_zero() {
            return np("division by zero");
        }
        let blo = abs_lo(&b.mid);
        if b.rad >= blo {
            return np("a divisor's error ball contains 0");
        }
        let rad = if a.rad == 0.0 && b.rad == 0.0 {
            0.0
        } else {
            let den = blo * ((blo - b.rad) * (1.0 - 4.0 * EPS));
            up(up(abs_up(&a.mid) * b.rad + abs_up(&b.mid) * a.rad) / den)
        };
        self.ball(self.ctx.div(&a.mid, &b.mid), rad)
    }

    /// f applied to the midpoint, plus L·r for |f'| ≤ L on the ball.
    fn spend(&self, units: usize) -> Result<(), NotPrecise> {
        let n = self.calls.get() + units;
        self.calls.set(n);
        if n > MAX_CALLS {
            return np(format!(
                "more than {MAX_CALLS} transcendental calls are evaluated in f64"
            ));
        }
        Ok(())
    }

    fn lip(
        &self,
        a: &Precise,
        r: Result<dashu_float::round::Rounded<Big>, FpError>,
        l: f64,
    ) -> Res {
        let prop = if a.rad == 0.0 { 0.0 } else { up(l * a.rad) };
        if prop.is_nan() {
            return np("an error bound is undefined");
        }
        self.ball(r, prop)
    }

    fn int(&self, n: i64) -> Precise {
        self.exact(int_mid(n))
    }

    fn pi(&mut self) -> Res {
        let p = self.prec();
        if let Some(v) = self.pi.get(&p) {
            return Ok(v.clone());
        }
        let v = self.ball(Ok(cached(|c| self.ctx.pi::<2>(c))), 0.0)?;
        self.pi.insert(p, v.clone());
        Ok(v)
    }

    fn sign(&self, a: &Precise) -> Option<Ordering> {
        // Some(ordering of the whole ball against 0), None if it straddles 0.
        if a.mid.is_zero() && a.rad == 0.0 {
            return Some(Ordering::Equal);
        }
        if a.mid.is_zero() || abs_lo(&a.mid) <= a.rad {
            return None;
        }
        Some(if a.mid.sign() == dashu_base::Sign::Negative {
            Ordering::Less
        } else {
            Ordering::Greater
        })
    }

    fn positive(&self, a: &Precise, what: &str) -> Result<(), NotPrecise> {
        match self.sign(a) {
            Some(Ordering::Greater) => Ok(()),
            Some(Ordering::Less) => no_value(format!("{what} of a negative number")),
            _ => np(format!("{what} of a ball that is not positive")),
        }
    }

    fn cap(&self, a: &Precise, what: &str) -> Result<(), NotPrecise> {
        if abs_up(&a.mid) > MAX_ARG {
            return np(format!("{what} of an argument beyond {MAX_ARG:e}"));
        }
        Ok(())
    }

    fn exp(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.cap(a, "exp")?;
        let (_, hi) = bounds(a);
        let l = hi.pexp() * (1.0 + 1e-12);
        self.lip(a, cached(|c| self.ctx.exp(&a.mid, c)), l)
    }

    fn ln(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.positive(a, "log")?;
        let (lo, _) = bounds(a);
        let l = if a.rad == 0.0 {
            0.0
        } else {
            (1.0 + 1e-12) / lo
        };
        if !(l >= 0.0 && l.is_finite()) {
            return np("log near 0");
        }
        self.lip(a, cached(|c| self.ctx.ln(&a.mid, c)), l)
    }

    fn sqrt(&self, a: &Precise) -> Res {
        if a.mid.is_zero() && a.rad == 0.0 {
            return Ok(self.exact(Mid::zero()));
        }
        self.positive(a, "sqrt")?;
        let (lo, _) = bounds(a);
        let l = if a.rad == 0.0 {
            0.0
        } else {
            (1.0 + 1e-12) * 0.5 / lo.sqrt()
        };
        if !(l >= 0.0 && l.is_finite()) {
            return np("sqrt near 0");
        }
        self.lip(a, self.ctx.sqrt(&a.mid), l)
    }

    fn sin(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.cap(a, "sin")?;
        self.lip(a, cached(|c| self.ctx.sin(&a.mid, c)), 1.0)
    }

    fn cos(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.cap(a, "cos")?;
        self.lip(a, cached(|c| self.ctx.cos(&a.mid, c)), 1.0)
    }

    fn atan(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.lip(a, cached(|c| self.ctx.atan(&a.mid, c)), 1.0)
    }

    fn tanh(&self, a: &Precise) -> Res {
        self.spend(1)?;
        self.cap(a, "tanh")?;
        self.lip(a, cached(|c| self.ctx.tanh(&a.mid, c)), 1.0)
    }

    /// asin or acos: the ball must lie in [−1, 1]; strictly inside unless it is a point.
    fn arc(&self, a: &Precise, acos: bool) -> Res {
        self.spend(1)?;
        let one = Mid::one();
        let abs = if a.mid.sign() == dashu_base::Sign::Negative {
            -a.mid.clone()
        } else {
            a.mid.clone()
        };
        if abs > one {
            if !a.contains(&one) && !a.contains(&-one.clone()) {
                return no_value("asin/acos of a number outside [-1, 1]");
            }
            return np("asin/acos outside [-1, 1]");
        }
        let l = if a.rad == 0.0 {
            0.0
        } else {
            let (lo, hi) = bounds(a);
            let h = lo.abs().max(hi.abs());
            if h >= 1.0 {
                return np("asin/acos of a ball that reaches ±1");
            }
            (1.0 + 1e-9) / ((1.0 - h) * (1.0 + h)).sqrt()
        };
        let r = if acos {
            cached(|c| self.ctx.acos(&a.mid, c))
        } else {
            cached(|c| self.ctx.asin(&a.mid, c))
        };
        self.lip(a, r, l)
    }

    fn atan2(&mut self, y: &Precise, x: &Precise) -> Res {
        self.spend(1)?;
        // On the axis the angle is 0 to the right and π to the left: a zero has no sign (the
        // library's atan2 of a zero numerator read it as −0 and gave −π for atan2(−a, −1) at
        // a = 0, where 0 − a gave π).
        if y.mid.is_zero() && y.rad == 0.0 {
            match self.sign(x) {
                Some(Ordering::Greater) => return Ok(self.int(0)),
                Some(Ordering::Less) => return self.pi(),
                _ => {}
            }
        }
        if y.mid.is_zero() && x.mid.is_zero() {
            return np("atan2(0, 0)");
        }
        // The branch cut is the negative x axis.
        let y_straddles = self.sign(y).is_none() || (y.mid.is_zero() && y.rad > 0.0);
        let x_may_be_nonpositive = !matches!(self.sign(x), Some(Ordering::Greater));
        if y_straddles && x_may_be_nonpositive {
            return np("atan2 on its branch cut");
        }
        if y.mid.is_zero() && y.rad == 0.0 && self.sign(x).is_none() {
            return np("atan2(0, x) with x near 0");
        }
        let rad = if x.rad == 0.0 && y.rad == 0.0 {
            0.0
        } else {
            let rho = (abs_lo(&x.mid).phypot(abs_lo(&y.mid))) * (1.0 - 1e-12) - (x.rad + y.rad);
            if rho <= 0.0 {
                return np("atan2 near the origin");
            }
            up((x.rad + y.rad) / rho)
        };
        self.ball(cached(|c| self.ctx.atan2(&y.mid, &x.mid, c)), rad)
    }

    fn relu(&self, a: &Precise) -> Precise {
        if a.mid.sign() == dashu_base::Sign::Negative || a.mid.is_zero() {
            Precise {
                mid: Mid::zero(),
                ..a.clone()
            }
        } else {
            a.clone()
        }
    }

    fn abs(&self, a: &Precise) -> Precise {
        if a.mid.sign() == dashu_base::Sign::Negative {
            self.neg(a)
        } else {
            a.clone()
        }
    }

    /// step(x) = 1 if x > 0 else 0; undecidable on a ball that straddles 0.
    /// The slope of a function with slopes `neg` below 0 and `pos` above: at an exact 0 it has
    /// none (unless the slopes agree), as in f64 (dφ(0) of φ = −12.7·min(x, 0) + 1.7·max(x, 0)
    /// was −12.7, and a true difference quotient → dφ(0) was refuted; attack 49).
    fn kink_slope(&self, a: &Precise, neg: f64, pos: f64, what: &str) -> Res {
        let slope = match self.sign(a) {
            Some(Ordering::Greater) => pos,
            Some(Ordering::Less) => neg,
            Some(Ordering::Equal) if neg == pos => pos,
            Some(Ordering::Equal) => return no_value(format!("{what} at its kink")),
            None => return straddles(what),
        };
        Ok(Precise::exact(f64_to_mid(slope)?, self.bits))
    }

    fn step(&self, a: &Precise) -> Res {
        match self.jump_sign(a) {
            Some(Ordering::Greater) => Ok(self.int(1)),
            Some(_) => Ok(self.int(0)),
            None => straddles("step"),
        }
    }

    /// The side of 0 a jump's argument is on. Widened ([`eval_widened`]), a ball whose midpoint
    /// is an exact 0 is the jump at the double itself (the midpoint is the value there), decided
    /// as at the point: only a zero between doubles is left undecided.
    fn jump_sign(&self, a: &Precise) -> Option<Ordering> {
        match self.sign(a) {
            None if !self.widen.is_empty() && a.mid.is_zero() => Some(Ordering::Equal),
            s => s,
        }
    }

    fn sigmoid(&self, a: &Precise) -> Res {
        // 1/(1 + e^{-x}) for x ≥ 0, e^x/(1 + e^x) otherwise (both are exact identities).
        if a.mid.sign() == dashu_base::Sign::Negative {
            let e = self.exp(a)?;
            self.div(&e, &self.add(&self.int(1), &e)?)
        } else {
            let e = self.exp(&self.neg(a))?;
            self.div(&self.int(1), &self.add(&self.int(1), &e)?)
        }
    }

    fn softplus(&self, a: &Precise) -> Res {
        self.spend(1)?;
        // relu(x) + log(1 + e^{-|x|}).
        let e = self.exp(&self.neg(&self.abs(a)))?;
        // ln_1p on [0, 1]: |f'| ≤ 1.
        let l1p = self.lip(&e, cached(|c| self.ctx.ln_1p(&e.mid, c)), 1.0)?;
        self.add(&self.relu(a), &l1p)
    }

    fn sqrt2(&mut self) -> Res {
        self.sqrt(&self.int(2))
    }

    /// gelu(x) = x/2 · erfc(−x/√2).
    fn gelu(&mut self, a: &Precise) -> Res {
        let s2 = self.sqrt2()?;
        let z = self.div(&self.neg(a), &s2)?;
        let c = self.erfc(&z)?;
        let half = self.exact(Mid::new(IBig::from(1), -1));
        self.mul(&self.mul(a, &c)?, &half)
    }

    /// gelu'(x) = Φ(x) + x·φ(x) = erfc(−x/√2)/2 + x·e^{−x²/2}/√(2π).
    fn dgelu(&mut self, a: &Precise) -> Res {
        let s2 = self.sqrt2()?;
        let z = self.div(&self.neg(a), &s2)?;
        let half = self.exact(Mid::new(IBig::from(1), -1));
        let c = self.erfc(&z)?;
        let cdf = self.mul(&c, &half)?;
        let x2h = self.mul(&self.mul(a, a)?, &half)?;
        let g = self.exp(&self.neg(&x2h))?;
        let pi = self.pi()?;
        let s2pi = self.sqrt(&self.mul(&self.int(2), &pi)?)?;
        let pdf = self.div(&g, &s2pi)?;
        self.add(&cdf, &self.mul(a, &pdf)?)
    }

    fn erf(&mut self, a: &Precise) -> Res {
        self.spend(4)?;
        let v = erf_point(&a.mid, self.bits, false)?;
        Ok(widen(v, erf_slope(a) * a.rad))
    }

    fn erfc(&mut self, a: &Precise) -> Res {
        self.spend(4)?;
        let v = erf_point(&a.mid, self.bits, true)?;
        Ok(widen(v, erf_slope(a) * a.rad))
    }

    fn activation(&mut self, act: Activation, a: &Precise, deriv: bool) -> Res {
        use Activation as A;
        let f64c = |v: f64| f64_to_mid(v).map(|m| Precise::exact(m, self.bits));
        Ok(match (act, deriv) {
            (A::Identity, false) => a.clone(),
            (A::Identity, true) => self.int(1),
            (A::Relu, false) => self.relu(a),
            (A::Relu, true) => self.kink_slope(a, 0.0, 1.0, "relu'")?,
            (A::Step, false) => self.step(a)?,
            (A::Step, true) => self.int(0),
            (A::LeakyRelu { neg, pos }, false) => {
                let s = match self.sign(a) {
                    Some(Ordering::Greater) => pos,
                    Some(_) => neg,
                    None if neg == pos => pos,
                    // Continuous at 0: a ball straddling 0 maps into [neg·lo, pos·hi].
                    None => return self.leaky_straddle(a, neg, pos),
                };
                self.mul(a, &f64c(s)?)?
            }
            (A::LeakyRelu { neg, pos }, true) => self.kink_slope(a, neg, pos, "leaky relu'")?,
            (A::Abs, false) => self.abs(a),
            (A::Abs, true) => self.kink_slope(a, -1.0, 1.0, "abs'")?,
            (A::Erf, false) => self.erf(a)?,
            (A::Erf, true) => {
                // 2/√π e^{−x²}
                let g = self.exp(&self.neg(&self.mul(a, a)?))?;
                let pi = self.pi()?;
                let s = self.sqrt(&pi)?;
                self.div(&self.mul(&self.int(2), &g)?, &s)?
            }
            (A::Tanh, false) => self.tanh(a)?,
            (A::Tanh, true) => {
                let t = self.tanh(a)?;
                self.sub(&self.int(1), &self.mul(&t, &t)?)?
            }
            (A::Gelu, false) => self.gelu(a)?,
            (A::Gelu, true) => self.dgelu(a)?,
            (A::Sin, false) => self.sin(a)?,
            (A::Sin, true) => self.cos(a)?,
            (A::Cos, false) => self.cos(a)?,
            (A::Cos, true) => self.neg(&self.sin(a)?),
            (A::Softplus, false) => self.softplus(a)?,
            (A::Softplus, true) => self.sigmoid(a)?,
            (A::Sigmoid, false) => self.sigmoid(a)?,
            (A::Sigmoid, true) => {
                let s = self.sigmoid(a)?;
                self.mul(&s, &self.sub(&self.int(1), &s)?)?
            }
        })
    }

    fn leaky_straddle(&self, a: &Precise, neg: f64, pos: f64) -> Res {
        // |φ(x) − φ(m)| ≤ max(|neg|, |pos|)·|x − m|, φ(m) computed with the branch of m.
        let s = if a.mid.sign() == dashu_base::Sign::Negative {
            neg
        } else {
            pos
        };
        let v = self.mul(&self.exact(Mid::clone(&a.mid)), &self.exact(f64_to_mid(s)?))?;
        Ok(widen(v, a.rad * neg.abs().max(pos.abs())))
    }

    fn pow(&mut self, a: &Precise, b: &Precise) -> Res {
        if b.rad == 0.0 && b.mid.is_int() {
            if let Exact(n) = b.mid.to_int() {
                if let Ok(n) = i64::try_from(n) {
                    if n.unsigned_abs() <= 1 << 20 {
                        return self.powi(a, n);
                    }
                }
            }
        }
        if a.mid.is_zero() && a.rad == 0.0 {
            return match self.jump_sign(b) {
                Some(Ordering::Greater) => Ok(self.int(0)),
                // 0^y jumps at y = 0, like a step.
                None => straddles("0 to a power"),
                _ => np("0 to a power that is not positive"),
            };
        }
        // a^b = exp(b·log a) for a > 0.
        let l = self.ln(a)?;
        self.exp(&self.mul(b, &l)?)
    }

    fn powi(&self, a: &Precise, n: i64) -> Res {
        // A negative power of a base above 1 in magnitude is a power of its reciprocal: 10^330
        // overflows the f64 radius on the way to 10^(−330), 0.1^330 does not.
        let above_one =
            n < 0 && self.sign(&self.sub(&self.abs(a), &self.int(1))?) == Some(Ordering::Greater);
        let (mut base, invert_last) = if above_one {
            (self.div(&self.int(1), a)?, false)
        } else {
            (a.clone(), n < 0)
        };
        let mut result = self.int(1);
        let mut k = n.unsigned_abs();
        while k > 0 {
            if k & 1 == 1 {
                result = self.mul(&result, &base)?;
            }
            k >>= 1;
            if k > 0 {
                base = self.mul(&base, &base)?;
            }
        }
        if invert_last {
            result = self.div(&self.int(1), &result)?;
        }
        Ok(result)
    }

    fn lookup(&mut self, s: Symbol) -> Res {
        if let Some((_, v)) = self.bound.iter().rev().find(|(b, _)| *b == s) {
            return Ok(self.int(*v));
        }
        if self.env.random.contains(&s) {
            return np(format!("`{s}` is random"));
        }
        if s.as_str() == "I" || self.env.matrices.contains(&s) {
            if let Some(v) = self.env.scalars.get(&s) {
                return Ok(self.exact(f64_to_mid(*v)?));
            }
            return np(format!("`{s}` is a matrix"));
        }
        if let Some(v) = self.env.scalars.get(&s) {
            let mut x = self.exact(f64_to_mid(*v)?);
            if let Some((_, r)) = self.radii.iter().find(|(b, _)| *b == s) {
                x.rad = *r;
            } else if self.widen.contains(&s) {
                // The gap to the farther neighbouring double (exact in f64).
                let a = v.abs();
                let up = f64::from_bits(a.to_bits() + 1) - a;
                x.rad = if a == 0.0 {
                    up
                } else {
                    up.max(a - f64::from_bits(a.to_bits() - 1))
                };
            }
            return Ok(x);
        }
        if s.as_str() == "pi" {
            return self.pi();
        }
        np(format!("symbol `{s}` has no value"))
    }

    fn index(&mut self, e: &Expr, id: Id) -> Result<i64, NotPrecise> {
        let v = self.value(e, id)?;
        if v.rad != 0.0 || !v.mid.is_int() {
            return np("an index is not an exact integer");
        }
        match v.mid.to_int() {
            Exact(n) => i64::try_from(n).or_else(|_| np("an index out of range")),
            Inexact(..) => np("an index is not an exact integer"),
        }
    }

    /// The elementary binary operation of `node` on its operands' values.
    fn binary(&mut self, node: &Math, x: &Precise, y: &Precise) -> Res {
        match node {
            Math::Add(_) => self.add(x, y),
            Math::Sub(_) => self.sub(x, y),
            Math::Mul(_) => self.mul(x, y),
            Math::Div(_) => self.div(x, y),
            Math::Pow(_) => self.pow(x, y),
            Math::Atan2(_) => self.atan2(x, y),
            _ => unreachable!("binary is called on binary operations only"),
        }
    }

    /// The elementary function of `node` at its operand's value.
    fn unary(&mut self, node: &Math, x: &Precise) -> Res {
        match node {
            Math::Neg(_) => Ok(self.neg(x)),
            Math::Sqrt(_) => self.sqrt(x),
            Math::Exp(_) => self.exp(x),
            Math::Log(_) => self.ln(x),
            Math::Sin(_) => self.sin(x),
            Math::Cos(_) => self.cos(x),
            Math::Tan(_) => {
                let (s, c) = (self.sin(x)?, self.cos(x)?);
                self.div(&s, &c)
            }
            Math::Asin(_) => self.arc(x, false),
            Math::Acos(_) => self.arc(x, true),
            Math::Atan(_) => self.atan(x),
            Math::Abs(_) => Ok(self.abs(x)),
            Math::Relu(_) => Ok(self.relu(x)),
            Math::Step(_) => self.step(x),
            Math::Erf(_) => self.erf(x),
            Math::Tanh(_) => self.tanh(x),
            Math::Sigmoid(_) => self.sigmoid(x),
            Math::Softplus(_) => self.softplus(x),
            Math::Gelu(_) => self.gelu(x),
            Math::Cosh(_) | Math::Sinh(_) => {
                // (e^x ± e^−x)/2
                let (p, m) = (self.exp(x)?, self.exp(&self.neg(x))?);
                let s = if matches!(node, Math::Cosh(_)) {
                    self.add(&p, &m)?
                } else {
                    self.sub(&p, &m)?
                };
                let two = self.exact(int_mid(2));
                self.div(&s, &two)
            }
            _ => unreachable!("unary is called on elementary functions only"),
        }
    }

    fn value(&mut self, e: &Expr, id: Id) -> Res {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.value_inner(e, id))
    }

    fn value_inner(&mut self, e: &Expr, id: Id) -> Res {
        let node = &e[id];
        Ok(match node {
            Math::Num(c) => {
                let q = &c.0;
                let n = self.exact(Mid::new(bigint_to_ibig(q.numer()), 0));
                if q.is_integer() {
                    n
                } else {
                    let d = self.exact(Mid::new(bigint_to_ibig(q.denom()), 0));
                    self.div(&n, &d)?
                }
            }
            Math::Symbol(s) => self.lookup(*s)?,
            Math::Add([a, b])
            | Math::Sub([a, b])
            | Math::Mul([a, b])
            | Math::Div([a, b])
            | Math::Pow([a, b])
            | Math::Atan2([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                self.binary(node, &x, &y)?
            }
            Math::Neg(a)
            | Math::Sqrt(a)
            | Math::Exp(a)
            | Math::Log(a)
            | Math::Sin(a)
            | Math::Cos(a)
            | Math::Tan(a)
            | Math::Asin(a)
            | Math::Acos(a)
            | Math::Atan(a)
            | Math::Abs(a)
            | Math::Relu(a)
            | Math::Step(a)
            | Math::Erf(a)
            | Math::Tanh(a)
            | Math::Sigmoid(a)
            | Math::Softplus(a)
            | Math::Gelu(a)
            | Math::Cosh(a)
            | Math::Sinh(a) => {
                let x = self.value(e, *a)?;
                self.unary(node, &x)?
            }
            // Decided by the sign of a ball (an exact 0 included: sign(137 − 137) is 0); a ball
            // that straddles 0 is left to f64, which leaves a point at the jump undecided.
            Math::Sign(a) => {
                let x = self.value(e, *a)?;
                match self.jump_sign(&x) {
                    Some(Ordering::Greater) => self.int(1),
                    Some(Ordering::Less) => self.int(-1),
                    Some(Ordering::Equal) => self.int(0),
                    None => return straddles("sign"),
                }
            }
            Math::Max([a, b]) | Math::Min([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                let Some(o) = self.sign(&self.sub(&x, &y)?) else {
                    return np("max or min of two balls that overlap");
                };
                let x_wins = match node {
                    Math::Max(_) => o != Ordering::Less,
                    _ => o != Ordering::Greater,
                };
                if x_wins {
                    x
                } else {
                    y
                }
            }
            Math::LeakyRelu([a, slope]) => {
                let x = self.value(e, *a)?;
                match self.sign(&x) {
                    Some(Ordering::Less) => {
                        let k = self.value(e, *slope)?;
                        self.mul(&k, &x)?
                    }
                    Some(_) => x,
                    None => return straddles("leaky_relu"),
                }
            }
            Math::Phi(a) | Math::DPhi(a) => {
                let Some(act) = self.env.phi else {
                    return np("the generic activation phi has no instance here");
                };
                let x = self.value(e, *a)?;
                let deriv = matches!(node, Math::DPhi(_));
                let mut v = self.activation(act, &x, deriv)?;
                if self.env.phi_gain.0 != 1.0 {
                    let gain = self.exact(f64_to_mid(self.env.phi_gain.0)?);
                    v = self.mul(&v, &gain)?;
                }
                if deriv || self.env.phi_shift == 0.0 {
                    v
                } else {
                    let shift = self.exact(f64_to_mid(self.env.phi_shift)?);
                    self.add(&v, &shift)?
                }
            }
            // 1 where the arguments are equal, 0 elsewhere (whole numbers or not), decided only
            // by exact values.
            Math::Delta([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                if x.rad != 0.0 || y.rad != 0.0 {
                    return np("δ of arguments that are not exact");
                }
                self.int(i64::from(x.mid == y.mid))
            }
            Math::Index(args) => {
                let Some(s) = e[args[0]].symbol() else {
                    return np("only a symbol can be indexed");
                };
                if self.env.random.contains(&s) {
                    return np(format!("`{s}` is random"));
                }
                let idx = args[1..]
                    .iter()
                    .map(|a| self.index(e, *a))
                    .collect::<Result<Vec<_>, _>>()?;
                if self.env.entry_in_shape(s, &idx).is_err() {
                    return np("an entry outside the declared shape");
                }
                let v = if let Some(values) = self.env.arrays.get(&s) {
                    match idx[..] {
                        [k] if k >= 1 => match values.get(k as usize - 1) {
                            Some(v) => *v,
                            None => return np("array index outside"),
                        },
                        _ => return np("array index outside"),
                    }
                } else {
                    self.env.seeded_entry(s, &idx)
                };
                self.exact(f64_to_mid(v)?)
            }
            Math::Sum([v, lo, hi, body]) => {
                let Some(var) = e[*v].symbol() else {
                    return np("a sum's index must be a symbol");
                };
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                let count = if hi < lo {
                    0
                } else {
                    (hi as i128 - lo as i128 + 1) as u128
                };
                if count > (MAX_TERMS - self.terms.min(MAX_TERMS)) as u128 {
                    return np(format!(
                        "sums longer than {MAX_TERMS} terms in all are evaluated in f64"
                    ));
                }
                self.terms += count as usize;
                let mut acc = self.int(0);
                if count > 0 {
                    for j in lo..=hi {
                        self.bound.push((var, j));
                        let t = self.value(e, *body);
                        self.bound.pop();
                        acc = self.add(&acc, &t?)?;
                    }
                }
                acc
            }
            Math::Expect(_) => return np("E[...] is Monte Carlo or exact moments in f64"),
            Math::Gauss(_) => return np("gauss(...) is quadrature in f64"),
            Math::Integral(_) => return np("integral(...) is quadrature in f64"),
            Math::Deriv(_) => {
                return np("d/dt is evaluated in f64 (forward mode or Ridders differences)")
            }
            Math::MatMul(_) | Math::MatExp(_) => return np("matrix terms are evaluated in f64"),
            Math::Transpose(_)
            | Math::Trace(_)
            | Math::Norm(_)
            | Math::Dot(_)
            | Math::Outer(_)
            | Math::Grad(_)
            | Math::Jacobian(_)
            | Math::Hessian(_) => return np("vector operations are written as entries first"),
        })
    }
}

fn widen(mut v: Precise, extra: f64) -> Precise {
    if extra > 0.0 {
        v.rad = up(v.rad + extra);
    }
    v
}

/// max |erf'| = 2/√π·e^{−x²} over the ball: at the point of the ball closest to 0.
fn erf_slope(a: &Precise) -> f64 {
    if a.rad == 0.0 {
        return 0.0;
    }
    let (lo, hi) = bounds(a);
    let near = if lo <= 0.0 && hi >= 0.0 {
        0.0
    } else {
        lo.abs().min(hi.abs())
    };
    ERF_LIPSCHITZ * (-near * near).pexp() * (1.0 + 1e-12)
}

/// An upper bound on max |erf'| = 2/√π = 1.1283791670955126….
const ERF_LIPSCHITZ: f64 = std::f64::consts::FRAC_2_SQRT_PI * (1.0 + 2.0 * EPS);

// ---------------------------------------------------------------------------------------------
// erf and erfc at a point.

/// erf(x) for the exact binary64 value `x`, as a ball at `bits` bits.
pub fn erf(x: f64, bits: u32) -> Result<Precise, NotPrecise> {
    erf_point(&f64_to_mid(x)?, bits, false)
}

/// erfc(x) = 1 − erf(x) for the exact binary64 value `x`, as a ball at `bits` bits (accurate
/// relative to erfc itself, which is ~e^{−x²} for large x).
pub fn erfc(x: f64, bits: u32) -> Result<Precise, NotPrecise> {
    erf_point(&f64_to_mid(x)?, bits, true)
}

/// erf(x) (or erfc(x) if `complement`) for an exact `x`, as a ball at `bits` bits.
pub fn erf_point(x: &Mid, bits: u32, complement: bool) -> Result<Precise, NotPrecise> {
    let p = bits as usize;
    let out = Evaluator {
        env: &Env::default(),
        bits,
        ctx: Context::new(p),
        bound: vec![],
        terms: 0,
        pi: HashMap::new(),
        calls: std::cell::Cell::new(0),
        widen: &[],
        radii: &[],
    };
    if x.is_zero() {
        return Ok(out.int(if complement { 1 } else { 0 }));
    }
    let negative = x.sign() == dashu_base::Sign::Negative;
    let ax = if negative { -x.clone() } else { x.clone() };
    let axf = ax.to_f64().value();
    let x2 = axf * axf;
    let asymptotic = x2 > (p as f64 + 20.0) * std::f64::consts::LN_2;
    if !complement || negative {
        // erf(x) = ±erf(|x|); erfc(x) = 1 + erf(|x|) for x < 0: no cancellation.
        let e = if axf > 27.0 {
            // erfc(27) < 2^-1074.
            Precise {
                mid: Mid::one(),
                rad: TINY,
                bits,
            }
        } else if asymptotic {
            let c = erfc_asymptotic(&ax, p)?;
            round_to(&out, out.sub(&out.int(1), &c)?)?
        } else {
            erf_taylor(&ax, p)?
        };
        let e = if negative { out.neg(&e) } else { e };
        return if complement {
            out.sub(&out.int(1), &e)
        } else {
            Ok(e)
        };
    }
    // erfc(x), x > 0.
    if axf > 1e4 {
        return np("erfc beyond 1e4");
    }
    if asymptotic {
        erfc_asymptotic(&ax, p)
    } else {
        let extra = (x2 * std::f64::consts::LOG2_E).ceil() as usize + 8;
        let e = erf_taylor(&ax, p + extra)?;
        let w = Evaluator {
            ctx: Context::new(p + extra),
            ..out
        };
        let c = w.sub(&w.int(1), &e)?;
        round_to(
            &Evaluator {
                ctx: Context::new(p),
                ..w
            },
            c,
        )
    }
}

/// Round a ball's midpoint to the evaluator's precision (adding the rounding to the radius).
fn round_to(ev: &Evaluator, v: Precise) -> Res {
    let b = Big::from_repr(v.mid, Context::new(usize::MAX >> 8));
    let r = b.with_precision(ev.prec());
    let mut out = ev.ball(Ok(r), v.rad)?;
    out.bits = ev.bits;
    Ok(out)
}

/// An evaluator for a series at working precision `w`, its result to be rounded to `p` bits.
fn series_evaluator(p: usize, w: usize) -> Evaluator<'static> {
    static EMPTY: std::sync::OnceLock<Env> = std::sync::OnceLock::new();
    Evaluator {
        env: EMPTY.get_or_init(Env::default),
        bits: p as u32,
        ctx: Context::new(w),
        bound: vec![],
        terms: 0,
        pi: HashMap::new(),
        calls: std::cell::Cell::new(0),
        widen: &[],
        radii: &[],
    }
}

/// erf(x) for x > 0 (exact) by its Taylor series, result rounded to `p` bits.
fn erf_taylor(x: &Mid, p: usize) -> Res {
    let xf = x.to_f64().value();
    let x2f = xf * xf;
    let guard = (x2f * std::f64::consts::LOG2_E).ceil() as usize + 24;
    let w = p + guard;
    let ev = series_evaluator(p, w);
    let xb = ev.exact(x.clone());
    let x2 = ev.mul(&xb, &xb)?;
    let mut t = xb.clone(); // x^{2n+1}/n!
    let mut sum = xb.clone();
    let max_n = (10.0 * (x2f + w as f64)) as i64 + 100;
    let mut n = 1i64;
    loop {
        t = ev.div(&ev.mul(&t, &x2)?, &ev.int(n))?;
        let term = ev.div(&t, &ev.int(2 * n + 1))?;
        sum = if n % 2 == 1 {
            ev.sub(&sum, &term)?
        } else {
            ev.add(&sum, &term)?
        };
        let tb = up(abs_up(&term.mid) + term.rad);
        // Once n > x² the terms decrease: the tail is bounded by the next term ≤ this one.
        if (n as f64) > x2f + 1.0 && tb < abs_lo(&sum.mid) * 2f64.powi(-(w as i32).min(1000)) {
            sum.rad = up(sum.rad + tb);
            break;
        }
        n += 1;
        if n > max_n {
            return np("erf series did not converge");
        }
    }
    // · 2/√π
    let pi = ev.ball(Ok(cached(|c| ev.ctx.pi::<2>(c))), 0.0)?;
    let s = ev.sqrt(&pi)?;
    let v = ev.div(&ev.mul(&ev.int(2), &sum)?, &s)?;
    let out = Evaluator {
        ctx: Context::new(p),
        ..ev
    };
    round_to(&out, v)
}

/// erfc(x) for x > 0 with x² > (p + 20)·ln 2, by the asymptotic series with its remainder bound.
fn erfc_asymptotic(x: &Mid, p: usize) -> Res {
    let w = p + 24;
    let ev = series_evaluator(p, w);
    let xb = ev.exact(x.clone());
    let x2 = ev.mul(&xb, &xb)?;
    let two_x2 = ev.mul(&ev.int(2), &x2)?;
    let mut t = ev.int(1);
    let mut sum = ev.int(1);
    let mut prev = f64::INFINITY;
    let mut n = 1i64;
    let tail;
    loop {
        // t_n = −t_{n−1}·(2n−1)/(2x²)
        t = ev.neg(&ev.div(&ev.mul(&t, &ev.int(2 * n - 1))?, &two_x2)?);
        let tb = up(abs_up(&t.mid) + t.rad);
        if tb < 2f64.powi(-(w as i32 + 2)) || tb >= prev {
            // Remainder after the terms summed so far ≤ |t_n|.
            tail = tb;
            break;
        }
        sum = ev.add(&sum, &t)?;
        prev = tb;
        n += 1;
        if n > 100_000 {
            return np("erfc asymptotic series did not converge");
        }
    }
    sum.rad = up(sum.rad + tail);
    let g = ev.exp(&ev.neg(&x2))?;
    let pi = ev.ball(Ok(cached(|c| ev.ctx.pi::<2>(c))), 0.0)?;
    let s = ev.sqrt(&pi)?;
    let den = ev.mul(&xb, &s)?;
    let v = ev.div(&ev.mul(&g, &sum)?, &den)?;
    let out = Evaluator {
        ctx: Context::new(p),
        ..ev
    };
    round_to(&out, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        let mut env = Env::default();
        env.scalars.insert(Symbol::from("a"), 0.7);
        env.scalars.insert(Symbol::from("n"), 4.0);
        env
    }

    fn ev(s: &str) -> Precise {
        let e: Expr = s.parse().unwrap();
        eval(&e, &env(), BITS).unwrap()
    }

    #[test]
    fn integers_stay_exact() {
        let v = ev("(+ (* 3 n) 1)");
        assert_eq!(v.rad, 0.0);
        assert_eq!(v.to_f64(), 13.0);
    }

    #[test]
    fn pi_is_not_a_twelve_digit_decimal() {
        let l = ev("pi");
        let r = ev("3141592653589/1000000000000");
        assert!(!compare(&l, &r).agrees);
        assert!(compare(&l, &ev("(* 4 (atan 1))")).agrees);
    }

    /// A box's ball holds the value at every point of the box (checked on a grid), and a jump
    /// inside the box is not evaluated; it fails if the symbol's radius is ignored.
    #[test]
    fn a_box_encloses_every_value_in_it() {
        let a = Symbol::from("a");
        for (term, mid, rad) in [
            ("(+ (cos a) (cos (* (sqrt 2) a)))", 439.8, 0.5),
            ("(* (exp (neg a)) (sin (* 3 a)))", 0.7, 0.6),
            ("(/ 1 (+ 1 (^ a 2)))", 2.0, 0.5),
        ] {
            let e: Expr = term.parse().unwrap();
            let mut env = env();
            env.scalars.insert(a, mid);
            let ball = eval_box(&e, &env, 64, &[(a, rad)]).unwrap();
            let (lo, hi) = ball.bounds();
            for k in 0..=200 {
                env.scalars
                    .insert(a, mid - rad + 2.0 * rad * f64::from(k) / 200.0);
                let v = eval(&e, &env, BITS).unwrap().to_f64();
                assert!(lo <= v && v <= hi, "{term}: {v} outside [{lo}, {hi}]");
            }
        }
        let mut env = env();
        env.scalars.insert(a, 0.1);
        let step: Expr = "(step a)".parse().unwrap();
        assert!(eval_box(&step, &env, 64, &[(a, 0.5)]).is_err_and(|e| e.straddles));
        assert!(eval_box(&step, &env, 64, &[(a, 0.05)]).is_ok());
    }
}
