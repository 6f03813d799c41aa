//! Approximation links: `a ≈ b` as a declared parameter goes to 0 or to infinity, with the
//! order of the error (`approx = "t -> 0"`, `order = 2`: |a − b| = O(|t|²)).
//!
//! At [`POINTS`] random sample points of the derivation (not its edge points, where many
//! symbols share a value and differences vanish), the parameter is set to ±h₀·2⁻ᵏ (to 0,
//! k < [`STEPS_ZERO`], down to ~1e-16) or n₀·2ᵏ (to infinity, k < [`STEPS_INF`]); both sides are
//! evaluated (deterministic terms only; in ball arithmetic where they allow it, so that an error
//! term below f64's rounding of the sides is measured).
//!
//! **Points.** Besides the [`POINTS`] random ones, the points where another symbol passes the
//! outermost zero of a subterm of the sides beyond the range the random points are drawn from
//! (`violation::feature_points`: relu(a − 10⁸)·t switches an O(t) term on at a = 10⁸).
//!
//! **Sides.** Toward 0 the parameter approaches from every side its declared domain allows:
//! from above when the domain holds positive values near 0 (`positive`, `real`, an interval with
//! b > 0), from below when it holds negative ones (`real`, an interval with a < 0), h₀ = 0.1 or
//! the interval's end if nearer. The claim holds only if it holds from each side (each with its
//! own points); a failure names the side (√(t² + t⁴) ≈ t is O(t³) from above, off by 2|t| from
//! below). **Steps to infinity** are rounded to integers only for `size` and `integer`
//! parameters; a real parameter takes the integer part of n₀·2ᵏ·w plus the golden section
//! [`FRACTION`] = 2 − φ ≈ 0.382, so that no step is an integer, a half-integer or a multiple of
//! 1/q for small q, and an error periodic in n (sin(πn)²) is not sampled at its zeros.
//!
//! **The error constant.** O(|h|ᵖ) bounds the error constant K = |a − b|/|h|ᵖ (|a − b|·nᵖ to
//! infinity): over the steps whose difference stands well above rounding (100×), its largest
//! value over the second half may be at most [`GROWTH`] times its largest over the first half.
//! A constant that grew more but slowed down (at most √[`GROWTH`] over the last quarter) leaves
//! the point undecided (a constant still converging from below). A constant can also grow
//! without bound more slowly than that, hidden behind a large constant part
//! (t²·(20 + log(1/t)), 100·t² + t^1.9): K still growing at the end of the range, with
//! increments that do not shrink, is no evidence of a bound, whereas a K converging to its limit
//! (c + O(|h|^q)) has increments that shrink geometrically. Where K increases at every step of
//! the last half of the steps above rounding (each increment beyond K's rounding, relative
//! [`CREEP_FLOOR`] at least) and the increments over the last half of those steps are at least
//! [`CREEP_REFUTE`] of those over its first half (a logarithm's or a power's), the order is
//! refuted; where they are at least [`CREEP_RATIO`] (a constant that may still converge, very
//! slowly: 1 − |h|^0.05), or where K rises over the last quarter only, the point is undecided
//! and the link cannot be a `limit` (`unknown`).
//! With fewer than [`MIN_GROWTH_STEPS`] steps above rounding, the log–log slope over the last
//! [`FIT`] must be at least `order` − min([`SLOPE_SLACK`], order/2) (to 0) or at most its
//! negative (to infinity); a point whose difference stays within rounding at every step holds
//! without evidence. The link holds when every point of every side holds, each side has at
//! least two points, at least one point showed an error to measure (otherwise it is `unknown`:
//! no evidence), and no point's constant is still growing; it is refuted at the first point
//! that does not hold, with the side, the measured slope and the growth.

use crate::numeric::portable::Portable;
use egg::Symbol;

use super::file::{Derivation, Kind};
use super::sample::{describe, point_scaled, EDGE_POINTS};
use crate::expr::Expr;
use crate::numeric::eval::Evaluator;
use crate::numeric::precise::BITS;
use crate::numeric::tolerance::compare;
pub use crate::precision::{
    BOUNDED_GROWTH, CREEP_FLOOR, CREEP_RATIO, CREEP_REFUTE, MIN_CREEP_STEPS,
};

/// The largest order an approximation link may state (O(t⁶⁴)): over the 16 decades a study
/// spans, an error of order 64 already falls by 10⁻¹⁰²⁴; a larger order (`order = 1e308`) is a
/// slip, not a claim, and is refused at load.
pub const MAX_ORDER: f64 = 64.0;

/// Halvings of a parameter that goes to 0 (0.1 down to ~1e-16: ball arithmetic measures the
/// error there; in f64 the steps below rounding are not fitted).
pub const STEPS_ZERO: usize = 50;
/// Doublings of a parameter that goes to infinity (16 up to ~10¹³; in f64, rounding in terms
/// such as (1 + a/n)ⁿ grows faster than the error being measured beyond ~10⁵, and those steps
/// are not fitted: the range matters where a term of higher order dominates up to n = 10⁵,
/// 1/n + 10¹⁰/n³ against O(n⁻²)).
pub const STEPS_INF: usize = 40;
/// Steps the slope is fitted over (the last ones above rounding).
pub const FIT: usize = 6;
/// How far the fitted slope may fall short of the order (see the module docs): the fitted slopes
/// of `derivations/approximations.toml` are within 0.01 of their orders, and 1 + t^(11/4) must
/// not pass for O(t³).
pub const SLOPE_SLACK: f64 = 0.1;
/// How much the error constant |lhs − rhs|/hᵖ may grow from the first half of the steps above
/// rounding to the second before the order is refuted: O(hᵖ) means the constant stays bounded.
/// Over the ~9 decades of a study toward 0 this refutes t^1.95 for O(t²) (growth 1.7) and
/// t²·log(1/t) (1.8) and admits t^1.98 (1.2); a constant that converges from above (the next
/// term of the expansion) shrinks, one that oscillates boundedly (2 + sin(1/t)) does not grow.
pub const GROWTH: f64 = 1.5;
/// Steps above rounding the growth of the error constant needs (two per half at least).
pub const MIN_GROWTH_STEPS: usize = 4;
// A constant whose growth exceeds GROWTH but slows down (grows at most ×√GROWTH over the last
// quarter of the steps, where a steady power grows by the square root of its growth over the
// halves) leaves the point undecided rather than refuted: (1 + a/n)ⁿ ≈ eᵃ with O(1/n) at
// a = 75 is still converging from below at n = 2000.
/// Sample points at which the study is made (on each side).
pub const POINTS: usize = 4;
/// The fractional part of a real parameter's steps toward infinity: the golden section 2 − φ,
/// the number worst approximated by fractions (q·x is at least 0.05 from an integer for every
/// q ≤ 10), so that a term periodic in the parameter (sin(πx)², (−1)^⌊2x⌋) is not sampled where
/// it vanishes, as integer steps sample sin(πx)².
pub const FRACTION: f64 = 0.381_966_011_250_105_1;

/// Where the parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// To 0, from each side the parameter's domain allows.
    Zero,
    /// To +∞.
    Infinity,
}

/// One point of the study.
#[derive(Debug, Clone)]
pub struct ApproxPoint {
    /// The point (the other symbols).
    pub at: String,
    /// (parameter, |lhs − rhs|) at the steps that evaluated.
    pub steps: Vec<(f64, f64)>,
    /// The fitted slope, when at least 3 steps stand above rounding.
    pub slope: Option<f64>,
    /// Does the point agree with the stated order?
    pub holds: bool,
    /// Why the point decides nothing (it then holds, with no slope), if so.
    pub undecided: Option<String>,
    /// The differences fitted do not decrease at every step (down to the last step).
    pub unsteady: bool,
    /// How much the error constant |lhs − rhs|/hᵖ (|lhs − rhs|·nᵖ toward infinity) grows from
    /// the first half of the steps above rounding to the second (ratio of their largest
    /// values), when there are at least [`MIN_GROWTH_STEPS`].
    pub growth: Option<f64>,
    /// The parameter goes to 0 from below (negative values).
    pub below: bool,
    /// The error constant still grows at the end of the study without slowing down (see the
    /// module docs): the point then holds no evidence of a bound (`systematic` false: the link
    /// is at best `unknown`) or refutes the order (`systematic` true).
    pub creep: Option<Creep>,
}

impl ApproxPoint {
    /// The point agrees with the order, but its error constant grew beyond
    /// [`BOUNDED_GROWTH`]: no evidence that it is bounded.
    pub fn unbounded(&self) -> bool {
        self.holds && self.growth.is_some_and(|g| g > BOUNDED_GROWTH)
    }
}

/// An error constant still growing at the end of an order study.
#[derive(Debug, Clone, Copy)]
pub struct Creep {
    /// Steps over which it increased at every step.
    pub steps: usize,
    /// Its first and last values over them.
    pub from: f64,
    /// See `from`.
    pub to: f64,
    /// Its increments over the later half of those steps over those of the earlier half.
    pub ratio: f64,
    /// Over the last half of the steps above rounding with increments that do not shrink
    /// (ratio at least [`CREEP_REFUTE`]: refutes), or otherwise (undecided).
    pub systematic: bool,
}

/// The study of an approximation link.
#[derive(Debug, Clone)]
pub struct ApproxStudy {
    /// The parameter.
    pub symbol: Symbol,
    /// Where it goes.
    pub toward: Toward,
    /// The stated order of the error.
    pub order: f64,
    /// The points (those from above, then those from below).
    pub points: Vec<ApproxPoint>,
    /// The sides studied toward 0 (`false` from above, `true` from below); `[false]` toward
    /// infinity.
    pub sides: Vec<bool>,
    /// Why some points were not evaluated (first reason).
    pub skipped: Option<String>,
    /// A change of the sides along the parameter beyond the steps, nearer the limit, that the
    /// study did not reach ([`super::violation::parameter_zeros`]): no `limit` then.
    pub unseen: Option<String>,
}

impl ApproxStudy {
    /// The first point that contradicts the stated order.
    pub fn failure(&self) -> Option<&ApproxPoint> {
        self.points.iter().find(|p| !p.holds)
    }
    /// Every point agrees, there are enough of them on each side, at least one measured an
    /// error, no error constant is still growing, and no point was left unevaluated.
    pub fn holds(&self) -> bool {
        !self.sides.is_empty()
            && self
                .sides
                .iter()
                .all(|b| self.points.iter().filter(|p| p.below == *b).count() >= 2)
            && self.failure().is_none()
            && self.points.iter().any(|p| p.slope.is_some())
            && self.points.iter().all(|p| p.creep.is_none())
            // A constant that grew beyond a bounded one's ×BOUNDED_GROWTH is no evidence of a
            // bound, even where it did not grow enough to refute.
            && self.points.iter().all(|p| !p.unbounded())
            // A point not evaluated is no agreement: exp(t) + relu(a)·t·e^(a/t)·e^(−a/t) ≈ 1 + t
            // with O(t²) (an O(t) error for a > 0, where e^(a/t) overflows) was a `limit` from
            // the points with a ≤ 0, where the error term is 0.
            && self.skipped.is_none()
            && self.unseen.is_none()
    }
    /// The slope the order asks for, as a sentence.
    pub fn needed(&self) -> String {
        match self.toward {
            Toward::Zero => format!("≥ {:.2}", needed(self.order)),
            Toward::Infinity => format!("≤ {:.2}", -needed(self.order)),
        }
    }
}

/// The least slope (in absolute value) that agrees with an error of order `order`: the order
/// less the slack, and never less than half the order (so that a small order still asks for an
/// error that vanishes: a constant difference has slope 0).
fn needed(order: f64) -> f64 {
    order - SLOPE_SLACK.min(order / 2.0)
}

/// The growth of the error constant over `above` (steps in order toward the limit): the largest
/// |lhs − rhs|/hᵖ (toward 0; |lhs − rhs|·hᵖ toward infinity) over the second half of the steps
/// over the largest over the first half.
fn constant_growth(above: &[(f64, f64)], order: f64, toward: Toward) -> Option<f64> {
    if above.len() < MIN_GROWTH_STEPS {
        return None;
    }
    let c = |&(h, d): &(f64, f64)| constant(h, d, order, toward);
    let half = above.len() / 2;
    let first = above[..half].iter().map(c).fold(0.0, f64::max);
    let second = above[half..].iter().map(c).fold(0.0, f64::max);
    (first > 0.0 && first.is_finite() && second.is_finite()).then(|| second / first)
}

/// Does the error constant rise systematically over `steps` (in order toward the limit): a
/// Kendall rank correlation with the step of at least [`RISE_TAU`]? A constant that grows (1/t
/// behind a large t² term) rises at nearly every pair of steps (τ near 1); a bounded oscillation
/// (1 + sin(1/t), spread over [0, 2]) has τ near 0, though the largest values of two quarters
/// may differ by ×1.7 by chance.
fn systematic_rise(steps: &[(f64, f64)], order: f64, toward: Toward) -> bool {
    let k: Vec<f64> = steps
        .iter()
        .map(|&(h, d)| constant(h, d, order, toward))
        .collect();
    let (mut concordant, mut pairs) = (0i64, 0i64);
    for i in 0..k.len() {
        for j in i + 1..k.len() {
            pairs += 1;
            concordant += match k[j].partial_cmp(&k[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    pairs > 0 && concordant as f64 / pairs as f64 >= RISE_TAU
}

/// The rank correlation of the error constant with the step above which a rise over the last
/// half of an order study is systematic ([`systematic_rise`]): for 12 steps of a bounded
/// oscillation (τ ≈ 0 with standard deviation ≈ 0.22), 0.6 is 2.7 standard deviations; a steady
/// rise has τ = 1.
pub const RISE_TAU: f64 = 0.6;

/// The error constant at a step: |lhs − rhs|/|h|ᵖ toward 0, |lhs − rhs|·hᵖ toward infinity.
fn constant(h: f64, d: f64, order: f64, toward: Toward) -> f64 {
    match toward {
        Toward::Zero => d / h.abs().ppowf(order),
        Toward::Infinity => d * h.ppowf(order),
    }
}

/// Does the error constant increase at every step of `run` (steps toward the limit, each with
/// its difference's relative rounding), by more than the rounding of both values and
/// [`CREEP_FLOOR`], with increments over the later half of the run at least [`CREEP_RATIO`] of
/// those over the earlier half? The run's first and last constants and that ratio, if so.
fn creeping(run: &[(f64, f64, f64)], order: f64, toward: Toward) -> Option<(f64, f64, f64)> {
    if run.len() < MIN_CREEP_STEPS {
        return None;
    }
    let k: Vec<(f64, f64)> = run
        .iter()
        .map(|&(h, d, u)| (constant(h, d, order, toward), u + CREEP_FLOOR))
        .collect();
    if k.iter().any(|(c, _)| !c.is_finite() || *c <= 0.0) {
        return None;
    }
    let inc: Vec<f64> = k.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let rising = k
        .windows(2)
        .zip(&inc)
        .all(|(w, i)| *i > (w[0].1 + w[1].1) * w[0].0.max(w[1].0));
    if !rising {
        return None;
    }
    let q = inc.len() / 2;
    let (early, late): (f64, f64) = (inc[..q].iter().sum(), inc[inc.len() - q..].iter().sum());
    let ratio = late / early;
    (ratio >= CREEP_RATIO).then(|| (k[0].0, k[k.len() - 1].0, ratio))
}

/// The least-squares slope of log y against log |x| (at least 3 points).
pub(crate) fn fit_slope(xy: &[(f64, f64)]) -> Option<f64> {
    if xy.len() < 3 {
        return None;
    }
    let pts: Vec<(f64, f64)> = xy.iter().map(|(x, y)| (x.abs().pln(), y.pln())).collect();
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The sides the parameter approaches 0 from, for its declared kind: `(below, h₀)`, h₀ the
/// first step's magnitude.
fn sides_toward_zero(kind: Option<&Kind>) -> Vec<(bool, f64)> {
    match kind {
        Some(Kind::Interval(a, b)) => {
            let mut out = vec![];
            if *b > 0.0 {
                out.push((false, b.min(0.1)));
            }
            if *a < 0.0 {
                out.push((true, (-a).min(0.1)));
            }
            out
        }
        Some(Kind::Real) => vec![(false, 0.1), (true, 0.1)],
        _ => vec![(false, 0.1)],
    }
}

/// The `j`-th step of the parameter at the study's `k`-th point: ±h₀·2⁻ʲ/w toward 0, n₀·2ʲ·w
/// toward infinity, rounded for an integer parameter and with a fractional part for a real one.
/// w = 2^u with u ∈ [0, 1) from multiples of the golden ratio, shifted by the point: the steps
/// are not exact powers of 2 (an error such as sin(π/(10t)) or (1 − (−1)ⁿ)/2 that vanishes at
/// every dyadic parameter does not vanish at these), and their place within an octave covers the
/// whole octave (an error term switched on over a third of each octave, t²·relu(cos(2π·log₂ t)),
/// is met). The fractional part is [`FRACTION`] shifted the same way, never an integer or a
/// half-integer at every step (an error that vanishes away from the integers is met too).
fn step(toward: Toward, start: f64, below: bool, integer: bool, j: usize, k: usize) -> f64 {
    let phase = (j as f64 * 0.618_033_988_749_895 + k as f64 * 0.414_213_562_373_095).fract();
    let wobble = 2f64.ppowf(phase);
    match toward {
        Toward::Zero => {
            let h = start * 2f64.powi(-(j as i32)) / wobble;
            if below {
                -h
            } else {
                h
            }
        }
        Toward::Infinity if integer => (start * 2f64.powi(j as i32) * wobble).round(),
        Toward::Infinity => {
            (start * 2f64.powi(j as i32) * wobble).floor() + (FRACTION + phase / 2.0).fract()
        }
    }
}

/// What one order study is about: the link's sides, the parameter, where it goes, the order,
/// the number of steps, and whether the parameter is an integer.
#[derive(Clone, Copy)]
struct Setting<'a> {
    d: &'a Derivation,
    lhs: &'a Expr,
    rhs: &'a Expr,
    symbol: Symbol,
    toward: Toward,
    order: f64,
    steps_n: usize,
    integer: bool,
}

/// The study of `lhs ≈ rhs` as `symbol` goes `toward`, with error of the given `order`.
pub fn study(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    symbol: Symbol,
    toward: Toward,
    order: f64,
) -> ApproxStudy {
    let kind = d
        .symbols
        .iter()
        .find(|(s, _)| *s == symbol)
        .map(|(_, k)| k.clone());
    let sides = match toward {
        Toward::Zero => sides_toward_zero(kind.as_ref()),
        Toward::Infinity => vec![(false, 16.0)],
    };
    let integer = matches!(kind, Some(Kind::Size | Kind::Integer));
    let mut out = ApproxStudy {
        symbol,
        toward,
        order,
        points: vec![],
        sides: sides.iter().map(|s| s.0).collect(),
        skipped: None,
        unseen: None,
    };
    let steps_n = match toward {
        Toward::Zero => STEPS_ZERO,
        Toward::Infinity => STEPS_INF,
    };
    let setting = Setting {
        d,
        lhs,
        rhs,
        symbol,
        toward,
        order,
        steps_n,
        integer,
    };
    // The random points, and points where another symbol switches a term of the sides on far
    // from them (relu(a − 10⁸)·t beside an O(t²) error).
    let mut bases: Vec<crate::numeric::eval::Env> = (EDGE_POINTS..EDGE_POINTS + POINTS)
        .map(|k| point_scaled(d, k, 0))
        .collect();
    let far = super::violation::feature_points(d, lhs, rhs, symbol, &bases);
    bases.extend(far);
    // And where the sides differ most at a step well inside the study (an error term on a
    // narrow band of another symbol that no subterm's zero marks).
    if let Some(&(below, start)) = sides.first() {
        let h = step(toward, start, below, integer, steps_n / 2, 0);
        bases.extend(super::violation::widest_gap(d, lhs, rhs, symbol, h));
    }
    // A subterm that changes sign along the parameter beyond the steps, nearer the limit
    // (step(n − 10¹⁵) toward infinity, step(10⁻²⁰ − |t|) toward 0), switches on what the
    // study has not seen: no verdict from the steps.
    if let (Some(kind), Some(base)) = (kind.as_ref(), bases.first()) {
        for &(below, start) in &sides {
            let ends = (
                step(toward, start, below, integer, 0, 0),
                step(toward, start, below, integer, steps_n - 1, 0),
            );
            let studied = (ends.0.min(ends.1), ends.0.max(ends.1));
            let zeros = super::violation::parameter_zeros(lhs, rhs, base, symbol, kind, studied);
            let nearer = zeros.iter().copied().find(|z| match toward {
                Toward::Zero => {
                    *z != 0.0
                        && (*z < 0.0) == below
                        && z.abs() < studied.0.abs().min(studied.1.abs())
                }
                Toward::Infinity => *z > studied.1,
            });
            if let Some(z) = nearer {
                out.unseen.get_or_insert(format!(
                    "a subterm of the sides changes sign at {symbol} = {}, beyond the steps studied ({} … {}): the study cannot see the sides there",
                    super::sample::fmt_num(z),
                    super::sample::fmt_num(ends.0),
                    super::sample::fmt_num(ends.1)
                ));
            }
        }
    }
    'sides: for &(below, start) in &sides {
        for (k, base) in bases.iter().enumerate() {
            let point = study_point(&setting, base.clone(), below, start, k);
            match point {
                Err(why) => {
                    out.skipped.get_or_insert(why);
                }
                Ok(p) => {
                    let holds = p.holds;
                    out.points.push(p);
                    if !holds {
                        break 'sides;
                    }
                }
            }
        }
    }
    out
}

/// One point of the study, at `base` (a sample point, or one of `violation::feature_points`),
/// from one side; why it was not evaluated if so.
fn study_point(
    setting: &Setting,
    base: crate::numeric::eval::Env,
    below: bool,
    start: f64,
    k: usize,
) -> Result<ApproxPoint, String> {
    let (d, lhs, rhs, symbol) = (setting.d, setting.lhs, setting.rhs, setting.symbol);
    let (toward, order) = (setting.toward, setting.order);
    let (steps_n, integer) = (setting.steps_n, setting.integer);
    let mut steps = vec![];
    // (|h|, |lhs − rhs|) at the steps well above rounding, and the difference's relative
    // rounding there.
    let mut above = vec![];
    let mut rounding = vec![];
    let mut failed = None;
    // The point's other real symbols stand for the reals up to their neighbouring doubles: a
    // jump whose zero lies between them (sign(3a − 1) at the double nearest 1/3) is decided at
    // the double and not at the real beside it, where the claim may fail (exp(t) ≈ 1 + t +
    // t·(1 − sign(3a − 1)²) with O(t²) is O(t) at a = 1/3, and was a `limit`). Tested at the
    // first and the last step.
    let reals: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(s, k)| {
            *s != symbol && matches!(k, Kind::Real | Kind::Positive | Kind::Interval(..))
        })
        .map(|(s, _)| *s)
        .collect();
    // The point is named by the link's other symbols (the studied one is shown as its steps).
    let others: Vec<Symbol> = super::sample::used_symbols(&[lhs, rhs])
        .into_iter()
        .filter(|s| *s != symbol)
        .collect();
    for j in 0..steps_n {
        let h = step(toward, start, below, integer, j, k);
        let mut env = base.clone();
        env.set_scalar(symbol, h);
        if !reals.is_empty() && (j == 0 || j + 1 == steps_n) {
            let straddles = |e: &Expr| {
                crate::numeric::precise::eval_widened(e, &env, BITS, &reals)
                    .is_err_and(|np| np.straddles)
            };
            if straddles(lhs) || straddles(rhs) {
                return Err(format!(
                    "at {} a jump's zero may lie between neighbouring doubles (its side is decided at the double, not for the reals beside it)",
                    describe(d, &base, Some(&others))
                ));
            }
        }
        // Ball arithmetic where both sides allow it: a term of the error far below f64's
        // rounding of the sides (exp(t) + 10⁻⁶·t against 1 + t at t = 10⁻¹⁰) is measured,
        // not lost.
        if let Ok((l, r, c)) = crate::numeric::precise::compare_sides(lhs, rhs, &env, BITS) {
            if l.to_f64().is_finite() && r.to_f64().is_finite() && c.diff.is_finite() {
                steps.push((h, c.diff));
                if c.diff > 100.0 * c.tol {
                    above.push((h.abs(), c.diff));
                    rounding.push(c.tol / c.diff);
                }
                continue;
            }
        }
        let l = Evaluator::new(&env).eval(lhs);
        let r = Evaluator::new(&env).eval(rhs);
        match (l, r) {
            (Ok(l), Ok(r))
                if l.value.is_finite()
                    && r.value.is_finite()
                    && l.stderr == 0.0
                    && r.stderr == 0.0 =>
            {
                let diff = (l.value - r.value).abs();
                steps.push((h, diff));
                // Between rounding and 100× rounding a difference is noise, not fitted.
                let tol = compare(l, r, 1).tol;
                if diff > 100.0 * tol {
                    above.push((h.abs(), diff));
                    rounding.push(tol / diff);
                }
            }
            (Ok(_), Ok(_)) => {
                failed.get_or_insert_with(|| {
                    "a side is not finite or is a Monte Carlo estimate".to_string()
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                failed.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if steps.len() < steps_n / 2 {
        return Err(failed.unwrap_or_else(|| "too few steps evaluated".into()));
    }
    let tail = &above[above.len().saturating_sub(FIT)..];
    let growth = constant_growth(&above, order, toward);
    let late = above
        .get(above.len() / 2..)
        .and_then(|h| constant_growth(h, order, toward));
    // The error constant still growing at the end, without slowing down: over the last half of
    // the steps above rounding it refutes; over the last quarter only, it leaves the point
    // undecided.
    let run = |from: usize| -> Vec<(f64, f64, f64)> {
        above[from..]
            .iter()
            .zip(&rounding[from..])
            .map(|(&(h, d), &u)| (h, d, u))
            .collect()
    };
    // Over the last half with increments that do not shrink at all (a logarithm or a power):
    // refuted; shrinking a little (a constant converging very slowly, 1 − |h|^0.05, which a
    // finite study cannot tell from a slow growth), or over the last quarter only: undecided.
    let creep = creeping(&run(above.len() / 2), order, toward)
        .map(|c| (c, c.2 >= CREEP_REFUTE, above.len() - above.len() / 2))
        .or_else(|| {
            let from = above.len() - above.len() / 4;
            creeping(&run(from), order, toward).map(|c| (c, false, above.len() - from))
        })
        .map(|((from, to, ratio), systematic, steps)| Creep {
            steps,
            from,
            to,
            ratio,
            systematic,
        });
    // A power law's tail decreases at every step. One that does not: where the steps after
    // it fall within rounding, the study met rounding before the asymptotic range at this
    // point ((1 + a/n)ⁿ at a = −15523 is 969¹⁶ at n = 16 and underflows past n ≈ 15523):
    // undecided; where it reaches the last step, the difference does not tend to 0 (an
    // oscillation, or a constant): refuted whatever the fitted slope.
    let steady = tail.windows(2).all(|w| w[1].1 < w[0].1);
    let reaches_end = tail.last().map(|t| t.0) == steps.last().map(|s| s.0.abs());
    // Growth over the last quarter alone refutes whatever the halves show: a large term of
    // higher order (7·10¹¹·t⁴) can dominate the first half and hide a constant that grows
    // as 1/t in the second.
    // The rise must be systematic (a rank correlation with the step over the last half): a
    // bounded oscillation's spread is not (t²·(1 + sin(1/t)), whose constant is spread over
    // [0, 2] and whose quarters' largest values differed ×1.7 by chance, was refuted).
    let late_growth = late.is_some_and(|q| q > GROWTH)
        && above
            .get(above.len() / 2..)
            .is_some_and(|h| systematic_rise(h, order, toward));
    let decelerating = !late_growth
        && growth.is_some_and(|g| g > GROWTH)
        && late.is_some_and(|q| q <= GROWTH.sqrt());
    // Growth that stopped: the constant flat (within a bounded constant's ×BOUNDED_GROWTH) over
    // the last MIN_CREEP_STEPS steps above rounding. The study reached the asymptotic range
    // only at its end: exp(−10¹³·t) − 1 + 10¹³·t is linear in t down to t ≈ 10⁻¹³ and
    // quadratic below, so its O(t²) constant grew ×16724 over the steps and was refuted,
    // though it is bounded (by 5·10²⁵). A constant still growing at the end (t·(…) claimed
    // O(t²) grows ×64 over six halvings, t²·log(1/t) ×1.13 near t = 10⁻¹⁶) is not flat.
    let settled_ratio = (above.len() >= MIN_CREEP_STEPS)
        .then(|| {
            let last = &above[above.len() - MIN_CREEP_STEPS..];
            let c: Vec<f64> = last
                .iter()
                .map(|&(h, d)| constant(h, d, order, toward))
                .collect();
            let (lo, hi) = c.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
            (lo > 0.0 && hi.is_finite()).then_some(hi / lo)
        })
        .flatten();
    // And it stopped abruptly, not as a slow growth does: its rate per step over the last
    // steps is below a tenth of its rate over the halves (a logarithm's rate barely changes:
    // t²·log(1/t) grows by 2.8% per halving over the halves and 2.4% at the end).
    let stopped = match (growth, settled_ratio) {
        (Some(g), Some(r)) if g > GROWTH && r <= crate::precision::BOUNDED_GROWTH => {
            let early = g.pln() / (above.len() / 2).max(1) as f64;
            let late = r.pln() / (MIN_CREEP_STEPS - 1) as f64;
            late < 0.1 * early
        }
        _ => false,
    };
    let (slope, holds, undecided) = if stopped {
        (
            None,
            true,
            Some(format!(
                "the error constant grew ×{:.2} from the first half of the steps to the second, but by at most ×{:.3} over the last {MIN_CREEP_STEPS}: this point may have reached the asymptotic range only there",
                growth.unwrap_or(f64::NAN),
                settled_ratio.unwrap_or(f64::NAN)
            )),
        )
    } else if creep.is_some_and(|c| c.systematic) {
        // Rising at every step of the last half, its increments not shrinking: a log-like or
        // power-like growth (t²·(20 + log(1/t)), 100·t² + t^1.9), not a convergence.
        (fit_slope(tail), false, None)
    } else if decelerating {
        // Growth that slows down: a constant still converging (from below) toward its
        // limit, as (1 + a/n)ⁿ does for n up to ~a², or a factor such as log that grows
        // ever more slowly. A steady power grows over the last quarter of the steps by
        // the square root of its growth over the halves; this grew less than √GROWTH.
        (
            None,
            true,
            Some(format!(
                "the error constant grew ×{:.2} from the first half of the steps to the second, but only ×{:.2} over the last quarter: this point may not be in the asymptotic range",
                growth.unwrap_or(f64::NAN),
                late.unwrap_or(f64::NAN)
            )),
        )
    } else if tail.len() >= 3 && !steady && !reaches_end && !growth.is_some_and(|g| g > GROWTH) {
        // (Where the error constant already grew beyond GROWTH over the steps above rounding,
        // the order fails there whatever rounding does after: 74.7·t·(1.01 + sin(1/t)) as
        // O(t²) grew ×10¹⁸ and was left undecided.)
        (
            None,
            true,
            Some("the difference is not yet decreasing where it falls to rounding".to_string()),
        )
    } else {
        let slope = fit_slope(tail);
        let holds = match (growth, slope, toward) {
            // The error constant decides where there are enough steps: O(hᵖ) bounds
            // |lhs − rhs|/hᵖ, whatever the local slope does and whether or not the
            // difference decreases at every step (t²·(2 + sin(1/t)) and t²·(1 + sin(log t))
            // are O(t²), with slopes that wander; t^1.5·(1 + sin(log t)) is not, though its
            // last steps may climb steeply).
            (Some(g), _, _) => g <= GROWTH && !late_growth,
            (None, Some(s), Toward::Zero) => steady && s >= needed(order),
            (None, Some(s), Toward::Infinity) => steady && s <= -needed(order),
            // Fewer than 3 steps well above rounding: the difference vanishes at this
            // point (no evidence either way here).
            (None, None, _) => steady,
        };
        let modest = holds && growth.is_some_and(|g| g > BOUNDED_GROWTH && g <= GROWTH);
        match creep {
            _ if modest && creep.is_none() => (
                None,
                true,
                Some(format!(
                    "the error constant grew ×{:.2} from the first half of the steps to the second: more than a bounded constant's ×{BOUNDED_GROWTH}, less than the ×{GROWTH} that refutes: no evidence that it is bounded",
                    growth.unwrap_or(f64::NAN)
                )),
            ),
            // Still growing over the last quarter: the point decides nothing, and the link
            // cannot be a limit (ApproxStudy::holds).
            Some(c) if holds => (
                None,
                true,
                Some(format!(
                    "the error constant rose at each of the last {} steps, from {:.6e} to {:.6e}, its increments not shrinking (×{:.2} from the first half of those steps to the second): no evidence that it is bounded",
                    c.steps, c.from, c.to, c.ratio
                )),
            ),
            _ => (slope, holds, None),
        }
    };
    Ok(ApproxPoint {
        at: super::sample::describe(d, &base, Some(&others)),
        steps,
        slope,
        holds,
        undecided,
        unsteady: !steady && reaches_end,
        growth,
        below,
        creep,
    })
}

#[cfg(test)]
mod tests {
    use super::fit_slope;

    #[test]
    fn the_slope_of_a_power_law() {
        let xy: Vec<(f64, f64)> = (0..8)
            .map(|k| {
                let h = 0.1 * 2f64.powi(-k);
                (h, 3.0 * h * h)
            })
            .collect();
        assert!((fit_slope(&xy).unwrap() - 2.0).abs() < 1e-12);
        assert!(fit_slope(&xy[..2]).is_none());
    }
}
