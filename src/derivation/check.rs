//! Checking a derivation link by link: the prover and the numeric checker run independently;
//! their answers are combined here into a [`Verdict`].

use rayon::prelude::*;
use std::fmt;

use super::draws::NetworkDraws;
use super::file::{Derivation, Kind, Link, LinkId, Relation};
use super::sample::{
    describe, generic_point, point_retry, retry_lost, used_symbols, MAX_SHRINK, POINTS,
};
use super::sides::SideValues;
pub use super::verdict::Verdict;
use crate::expr::{Expr, Math};
use crate::numeric::eval::{Env, EvalError, Evaluator, Value};
use crate::numeric::tolerance::{compare, compare_difference, Comparison};

use crate::numeric::precise::BITS;
pub use crate::precision::{EXTRA_POINTS, MIN_POINTS};
use crate::prove::{prove, Context, Limits, Outcome, Stats, Theory, Unsound};

/// One point where the sides were compared.
#[derive(Debug, Clone)]
pub struct PointResult {
    /// The point, described.
    pub at: String,
    /// Left side's value.
    pub lhs: Value,
    /// Right side's value.
    pub rhs: Value,
    /// The comparison.
    pub cmp: Comparison,
    /// Is the point generic in its sizes: the link uses no size, or one of the sizes it uses is
    /// above the edge sizes ([`super::sample::EDGE_SIZE`])?
    pub generic: bool,
}

impl PointResult {
    /// The comparison at the point `env` of `d`, described by the symbols in `used`.
    pub(super) fn at(
        d: &Derivation,
        env: &crate::numeric::eval::Env,
        used: &[egg::Symbol],
        (lhs, rhs, cmp): (Value, Value, Comparison),
    ) -> PointResult {
        PointResult {
            at: describe(d, env, Some(used)),
            lhs,
            rhs,
            cmp,
            generic: generic_point(d, env, used),
        }
    }
}

/// The numeric evidence for one link.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Points where both sides evaluated.
    pub points: Vec<PointResult>,
    /// Why some points could not be evaluated (first reason).
    pub skipped: Option<String>,
    /// How many points were skipped.
    pub skipped_count: usize,
    /// The numeric methods the link's terms needed.
    pub methods: Vec<Method>,
    /// For a limit link: the width study.
    pub limit: Option<super::limit::LimitEvidence>,
    /// For an approximation link: the order study.
    pub approx: Option<super::approx::ApproxStudy>,
    /// For a strict inequality: a point where the sides are equal within the tolerance, where
    /// `<` is not decided (it fails if they are equal); the link is then not `consistent`.
    pub undecided_strict: Option<String>,
    /// A point the violation search reached where a jump's argument is within rounding of 0
    /// and ball arithmetic cannot tell its side either (sign(sin(πn/1000)) at n = 1000): the
    /// relation is not decided there, so the link is not `consistent`.
    pub undecided_jump: Option<String>,
    /// A point where a side has a value that f64 cannot decide ([`EvalError::Undecided`]: a
    /// jump's side within rounding, a covariance singular only to rounding) and ball arithmetic
    /// could not take it (the point, why). Unlike a point outside the domain, the claim may
    /// fail there, so a link without a proof is not `consistent`.
    pub undecided_point: Option<(String, String)>,
    /// For an equality the prover did not show: the prover's normal form of lhs − rhs, evaluated
    /// at the same points, is not 0 beyond its own tolerance at this point (described), while
    /// the sides agreed there within theirs: the sides' f64 tolerance hides a difference that a
    /// more accurate computation shows (constants that cancel, 10²⁴ − 10²⁴), so the agreement is
    /// no evidence and the link is not `consistent`. (The residual, the value there.)
    pub hidden_difference: Option<(String, String, f64)>,
    /// For an equality without a proof checked by Monte Carlo: the resolution reached (the
    /// largest statistical tolerance relative to the largest |side|, or to the largest term of
    /// the prover's lhs − rhs where that is smaller) when it is coarser than
    /// [`crate::precision::MC_RESOLUTION_REL`]: agreement that coarse is not `consistent`.
    pub coarse_resolution: Option<f64>,
    /// The scale of [`Self::coarse_resolution`] is the size of the terms of the prover's
    /// lhs − rhs (smaller than the sides: they share a part exactly), not the sides'.
    pub coarse_by_terms: bool,
    /// For an equality without a proof: a point where the sides agree only within an f64
    /// tolerance coarser than [`crate::precision::F64_RESOLUTION_REL`] of max(|lhs|, |rhs|) (or
    /// of the prover's lhs − rhs terms where smaller)
    /// (the point, the tolerance), when fewer than [`MIN_POINTS`] points are finer: terms far
    /// larger than the sides cancel, and any value near the claimed one would have agreed; not
    /// `consistent`.
    pub unresolved: Option<(String, f64)>,
}

impl Evidence {
    /// Enough points for a verdict: [`MIN_POINTS`] evaluated, and at least one of them at a
    /// generic size when the link uses sizes (agreement at sizes 1 to 5 alone is no evidence for
    /// every size: (n−1)(n−2)(n−3)(n−4)(n−5) vanishes there).
    pub fn checked(&self) -> bool {
        self.points.len() >= MIN_POINTS
            && !self.small_sizes_only()
            && self.undecided_strict.is_none()
            && self.undecided_jump.is_none()
            && self.hidden_difference.is_none()
    }
    /// Were the points evaluated only at edge sizes (≤ [`super::sample::EDGE_SIZE`]) of a link
    /// that uses sizes (the term budget refused the larger ones)?
    pub fn small_sizes_only(&self) -> bool {
        !self.points.is_empty() && self.points.iter().all(|p| !p.generic)
    }
    /// The first point where the sides disagree.
    pub fn counterexample(&self) -> Option<&PointResult> {
        self.points.iter().find(|p| !p.cmp.agrees())
    }
    /// Did any comparison use Monte Carlo?
    pub fn statistical(&self) -> bool {
        self.points.iter().any(|p| p.cmp.statistical)
    }
    /// The point with the largest difference relative to its tolerance.
    pub fn worst(&self) -> Option<&PointResult> {
        self.points.iter().max_by(|a, b| {
            let ra = a.cmp.diff / a.cmp.tol.max(f64::MIN_POSITIVE);
            let rb = b.cmp.diff / b.cmp.tol.max(f64::MIN_POSITIVE);
            // Ties (e.g. every difference exactly 0): show the tightest tolerance.
            ra.partial_cmp(&rb)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.cmp.tol.total_cmp(&a.cmp.tol))
        })
    }
}

/// The result of checking one link.
#[derive(Debug, Clone)]
pub struct LinkResult {
    /// The link's number (`claim.step`).
    pub id: LinkId,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict the file expects.
    pub expect: Verdict,
    /// For [`Verdict::Unsound`]: what went wrong.
    pub unsound: Option<Unsound>,
    /// What the prover found (`None` for a limit link, which is not an identity).
    pub outcome: Option<Outcome>,
    /// Prover figures.
    pub stats: Stats,
    /// Numeric evidence.
    pub evidence: Evidence,
    /// For refuted links: what seems to be wrong.
    pub diagnosis: Option<String>,
    /// For a step read under a named convention: that reading's result.
    pub under: Option<Box<UnderResult>>,
    /// For a link from an unknown function to a claimed solution: the two sub-goals it was
    /// checked by (the ODE and the initial condition).
    pub substitution: Option<Box<super::hypotheses::Substitution>>,
}

/// A link checked under a named convention.
#[derive(Debug, Clone)]
pub struct UnderResult {
    /// The convention's name.
    pub convention: String,
    /// What it says.
    pub text: String,
    /// The link's result with the convention's substitutions.
    pub result: LinkResult,
}

impl LinkResult {
    /// Are this verdict, and the one under the convention if there is one, what the file expects?
    pub fn as_expected(&self) -> bool {
        self.verdict == self.expect
            && self
                .under
                .as_ref()
                .is_none_or(|u| u.result.verdict == u.result.expect)
    }

    /// Refuted as written, but it holds (proved, consistent or a limit) under its convention.
    pub fn holds_under_convention(&self) -> bool {
        self.verdict == Verdict::Refuted
            && self.under.as_ref().is_some_and(|u| {
                matches!(
                    u.result.verdict,
                    Verdict::Proved | Verdict::Consistent | Verdict::Limit
                )
            })
    }
}

/// The result of checking a derivation.
#[derive(Debug, Clone)]
pub struct Report {
    /// The links in order.
    pub links: Vec<LinkResult>,
}

impl Report {
    /// Does every verdict match what the file expects?
    pub fn as_expected(&self) -> bool {
        self.links.iter().all(LinkResult::as_expected)
    }

    /// The links whose check found an internal soundness error.
    pub fn unsound(&self) -> impl Iterator<Item = &LinkResult> + '_ {
        self.links.iter().filter(|l| l.verdict == Verdict::Unsound)
    }
}

/// The prover's context from the declarations.
pub fn context(d: &Derivation) -> Context {
    let mut ctx = Context::new();
    for (s, k) in &d.symbols {
        ctx.declared.insert(*s);
        match k {
            Kind::Positive => {
                ctx.positive.insert(*s);
            }
            Kind::Size => {
                ctx.positive.insert(*s);
                ctx.sizes.insert(*s);
            }
            Kind::Gaussian => {
                ctx.random.insert(*s);
            }
            Kind::Integer => {
                ctx.integers.insert(*s);
            }
            Kind::Matrix => {
                ctx.matrices.insert(*s);
            }
            Kind::Index(lo, hi) => {
                ctx.ranges.insert(*s, (lo.clone(), hi.clone()));
            }
            Kind::Interval(a, b) => {
                if *a > 0.0 {
                    ctx.positive.insert(*s);
                }
                // The ends as written (`0.3` is 3/10, not its double's binary value, which is
                // below 3/10: `x < 3/10` is false at the end).
                let exact = crate::prove::analysis::decimal_value;
                if let (Some(a), Some(b)) = (exact(*a), exact(*b)) {
                    ctx.intervals.insert(*s, (a, b));
                }
            }
            _ => {}
        }
    }
    ctx
}

/// Evaluate both sides at the derivation's points.
///
/// A point where a side cannot be evaluated (an error of the numeric method, a non-finite value,
/// a point outside a domain) is a point not evaluated, with its reason — never a counterexample.
/// A point refused by the term budget is retried with the sizes scaled down by 10, up to
/// [`MAX_SHRINK`] times (the same symbolic ranges at smaller sizes).
///
/// Where Monte Carlo enters, the decision is made on the difference lhs − rhs: its
/// expectations are merged into one E[…] (linearity), whose estimator uses the same samples for
/// both sides (common random numbers), so the tolerance is the standard error of the difference.
pub fn numeric_check(d: &Derivation, lhs: &Expr, rhs: &Expr) -> Evidence {
    numeric_check_with(d, lhs, rhs, &SideValues::default())
}

/// How far the sides `l`, `r` compared by `cmp` are on the wrong side of `rel`
/// ([`Relation::excess`]); sides known exactly (no tolerance: ball arithmetic, or exact zeros)
/// and equal violate a strict inequality (1 − r² > 0 fails at r = 1), by the least positive
/// number. Equal means an exact difference of 0, not equal f64 images: x⁴ − x² and −¼ at the
/// double nearest 1/√2 differ by 10⁻³³ in ball arithmetic, and both round to −0.25.
/// The amount is read from the comparison's signed difference (`cmp.signed`: exact in ball
/// arithmetic, the merged difference where one was evaluated), not from the f64 images `l`, `r`:
/// 10²⁰ + 1000 ≤ 10²⁰ and step(a) ≤ 1 − 10⁻²⁰ fail by amounts the images round away.
pub fn excess(rel: Relation, l: f64, r: f64, cmp: &Comparison) -> f64 {
    let strict = matches!(rel, Relation::Lt | Relation::Gt);
    if !l.is_finite() || !r.is_finite() || cmp.signed.is_nan() {
        return f64::NAN;
    }
    if strict && cmp.tol == 0.0 && cmp.signed == 0.0 && !cmp.statistical {
        f64::MIN_POSITIVE
    } else {
        rel.excess(cmp.signed, 0.0)
    }
}

/// [`numeric_check`] reading and recording the sides' values at the points in `sides` (shared by
/// the links checked together; the same values a fresh evaluation gives).
pub fn numeric_check_with(d: &Derivation, lhs: &Expr, rhs: &Expr, sides: &SideValues) -> Evidence {
    let mut ev = Evidence {
        methods: methods(&[lhs, rhs]),
        ..Evidence::default()
    };
    let used = used_symbols(&[lhs, rhs]);
    let difference = merged_difference(lhs, rhs);
    let points = sides.points(d);
    // The points are independent (each has its own seed): evaluated in parallel, kept in order.
    let at = |k: usize| -> (Result<PointResult, Skip>, bool) {
        for shrink in 0..=MAX_SHRINK {
            if let Some(why) = retry_lost(d, k, shrink, &used) {
                return (Err(why.into()), false);
            }
            let env = point_retry(d, k, shrink);
            // High precision (src/numeric/precise.rs): where both sides evaluate in ball
            // arithmetic at 128 bits, that comparison decides the point; otherwise f64 below.
            let precise = |e: &Expr| points.precise(k, shrink, e, &env, BITS);
            if let Ok((l, r)) = precise(lhs).and_then(|l| Ok((l, precise(rhs)?))) {
                let c = crate::numeric::precise::compare(&l, &r);
                let (lhs, rhs, cmp) = crate::numeric::precise::as_point(&l, &r, &c);
                return (Ok(PointResult::at(d, &env, &used, (lhs, rhs, cmp))), true);
            }
            let float = |e: &Expr| points.float(k, shrink, e, &env);
            match evaluate_point(&float, lhs, rhs, difference.as_ref()) {
                Err(PointError::Budget(_)) if shrink < MAX_SHRINK => continue,
                Err(e) => return (Err(Skip::new(e, d, &env, &used)), false),
                Ok(point) => return (Ok(PointResult::at(d, &env, &used, point)), false),
            }
        }
        unreachable!("the last shrink returns")
    };
    // The same computation at every point: no symbol with a value at the points (only random
    // ones) and no generic activation.
    let uniform = used.iter().all(|s| {
        d.symbols
            .iter()
            .any(|(x, k)| x == s && *k == Kind::Gaussian)
    });
    // Closed sides (no symbol at all, no generic activation) are the same numbers at every
    // point: a deterministic result (a quadrature, exact moments) is computed once and stands
    // for every point; a Monte Carlo one is drawn at each point with its own seed.
    let closed = used.is_empty()
        && ![lhs, rhs].iter().any(|e| {
            e.as_ref()
                .iter()
                .any(|n| matches!(n, Math::Phi(_) | Math::DPhi(_)))
        });
    let first = std::sync::OnceLock::new();
    let once = |k: usize| {
        if closed {
            let (r, precise) = first.get_or_init(|| at(0));
            if r.as_ref().is_ok_and(|p: &PointResult| !p.cmp.statistical) {
                return (r.clone(), *precise);
            }
        }
        at(k)
    };
    gather(&mut ev, once, uniform);
    ev
}

/// Evaluate a link at its points with `at` (the k-th point: its result, or why it was not
/// evaluated, and whether ball arithmetic decided it): the first [`POINTS`] in parallel, then,
/// when fewer than [`MIN_POINTS`] evaluated and none disagrees, a second batch of
/// [`EXTRA_POINTS`], every comparison then counting as one of all of them (Bonferroni).
pub(super) fn gather(
    ev: &mut Evidence,
    at: impl Fn(usize) -> (Result<PointResult, Skip>, bool) + Sync + Send,
    uniform: bool,
) {
    let mut outcomes: Vec<(Result<PointResult, Skip>, bool)> =
        (0..POINTS).into_par_iter().map(&at).collect();
    // Too few points evaluated (a side undefined or a derivative not converging near the edge of
    // an interval): a second batch of random points, and every comparison is then one of all
    // the points made (Bonferroni).
    // (A counterexample among the first decides the link already.)
    let refuted = outcomes
        .iter()
        .any(|(o, _)| o.as_ref().is_ok_and(|p| !p.cmp.agrees()));
    let evaluated = || outcomes.iter().filter_map(|(o, _)| o.as_ref().ok());
    let small_only = evaluated().count() > 0 && evaluated().all(|p| !p.generic);
    if !refuted && (evaluated().count() < MIN_POINTS || small_only) {
        let total = POINTS + EXTRA_POINTS;
        outcomes.extend((POINTS..total).into_par_iter().map(&at).collect::<Vec<_>>());
        for p in outcomes.iter_mut().filter_map(|(o, _)| o.as_mut().ok()) {
            p.cmp = p.cmp.as_one_of(POINTS, total);
        }
    }
    // Where every point computes the same expectation (`uniform`: no symbol takes a value at the
    // points), an estimator found without finite variance at one point (a heavy tail:
    // E[exp(0.4·w²)]) has none at the others either, where the samples merely missed the tail:
    // its standard errors are not evidence for or against the link anywhere.
    let heavy = uniform
        && outcomes
            .iter()
            .any(|(o, _)| o.as_ref().is_err_and(|s| s.why.starts_with(DIVERGENT)));
    if heavy {
        for (o, _) in outcomes.iter_mut() {
            if o.as_ref().is_ok_and(|p| p.cmp.statistical) {
                *o = Err(format!(
                    "{DIVERGENT}: at another point the Monte Carlo estimator has no finite variance, so its standard error is not trusted here"
                )
                .into());
            }
        }
    }
    for (outcome, precise) in outcomes {
        if precise && !ev.methods.contains(&Method::Precise) {
            ev.methods.push(Method::Precise);
        }
        match outcome {
            Ok(p) => ev.points.push(p),
            Err(Skip { why, undecided_at }) => {
                if let (Some(at), None) = (undecided_at, &ev.undecided_point) {
                    ev.undecided_point = Some((at, why.clone()));
                }
                ev.skipped_count += 1;
                if ev.skipped.is_none() {
                    ev.skipped = Some(why);
                }
            }
        }
    }
}

/// Why a point was not evaluated; where a side has a value there that f64 cannot decide, also
/// the point (see [`Evidence::undecided_point`]).
#[derive(Debug, Clone)]
pub(super) struct Skip {
    pub why: String,
    pub undecided_at: Option<String>,
}

impl From<String> for Skip {
    fn from(why: String) -> Skip {
        Skip {
            why,
            undecided_at: None,
        }
    }
}

impl Skip {
    /// The skip for `e` at the point `env`.
    pub(super) fn new(
        e: PointError,
        d: &Derivation,
        env: &crate::numeric::eval::Env,
        used: &[egg::Symbol],
    ) -> Skip {
        Skip {
            undecided_at: matches!(e, PointError::Undecided(_))
                .then(|| describe(d, env, Some(used))),
            why: e.to_string(),
        }
    }
}

/// How a divergent expectation's error reads ([`EvalError::Divergent`]).
const DIVERGENT: &str = "divergent expectation";

#[derive(Debug, Clone)]
pub(super) enum PointError {
    Budget(String),
    /// A side has a value there that f64 cannot decide ([`EvalError::Undecided`]).
    Undecided(String),
    Other(String),
}

impl fmt::Display for PointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointError::Budget(s) | PointError::Undecided(s) | PointError::Other(s) => {
                f.write_str(s)
            }
        }
    }
}

pub(super) fn side(env: &Env, e: &Expr, name: &str) -> Result<Value, PointError> {
    judged(Evaluator::new(env).eval(e), name)
}

/// A side's value as a point's evidence: a value that is not finite, or whose accuracy is not,
/// and an evaluation error are reasons the point is not evaluated.
/// Why an f64 comparison of `l` and `r` is no evidence, if both sides and their magnitude scales
/// lie below √(smallest normal double) ≈ 1.5·10⁻¹⁵⁴ and are not both exactly 0: there a product
/// of two such quantities underflows (x·x/x is 0 at x = 2·10⁻³⁰⁰, not x), so a difference may
/// be the underflow's and an agreement may be two underflows'.
pub(super) fn underflow_zone(l: Value, r: Value) -> Option<String> {
    let tiny = f64::MIN_POSITIVE.sqrt();
    let size = [l.value, r.value, l.scale, r.scale]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    // Values below it but not 0 are rounding too, however large the scale an underflow left
    // (x·x/x at x = 2·10⁻³⁰⁰: 0 ± 10⁻²⁰ against 2·10⁻³⁰⁰).
    let values = l.value.abs().max(r.value.abs());
    (size < tiny && size > 0.0 || values < tiny && values > 0.0).then(|| {
        format!(
            "the sides ({:e}, {:e}) are below {tiny:.1e}, where f64 products underflow: the comparison needs ball arithmetic",
            l.value, r.value
        )
    })
}

fn judged(value: Result<Value, EvalError>, name: &str) -> Result<Value, PointError> {
    match value {
        Ok(v) if v.value.is_finite() && v.scale.is_finite() && v.stderr.is_finite() => Ok(v),
        // Overflow: the value exists, f64 does not hold it (or its accuracy).
        Ok(v) if v.value.is_finite() => Err(PointError::Undecided(format!(
            "the {name}'s magnitude overflows at some points (rounding scale {}, standard error {}), so its accuracy is unknown there",
            v.scale, v.stderr
        ))),
        Ok(v) if v.value.is_nan() => Err(PointError::Other(format!(
            "the {name} has no value at some points (NaN: outside a function's domain, a division by 0, or ∞·0 past an overflow)"
        ))),
        Ok(v) => Err(PointError::Undecided(format!(
            "the {name} is not finite ({}) at some points",
            v.value
        ))),
        Err(e @ EvalError::Budget(_)) => Err(PointError::Budget(e.to_string())),
        Err(e @ EvalError::Undecided(_)) => Err(PointError::Undecided(e.to_string())),
        Err(e) => Err(PointError::Other(e.to_string())),
    }
}

/// Both sides at one point, compared. The comparison of statistical sides is made on the merged
/// difference when there is one (see [`numeric_check`]).
fn evaluate_point(
    eval: &dyn Fn(&Expr) -> Result<Value, EvalError>,
    lhs: &Expr,
    rhs: &Expr,
    difference: Option<&Expr>,
) -> Result<(Value, Value, Comparison), PointError> {
    let l = judged(eval(lhs), "lhs")?;
    let r = judged(eval(rhs), "rhs")?;
    if let Some(why) = underflow_zone(l, r) {
        return Err(PointError::Other(why));
    }
    // With one expectation in the link and the other side exact, the merged difference is that
    // side's own estimate shifted by a constant: the same samples, mean and standard error, so
    // the comparison of the sides is the same test (and its Monte Carlo is not run twice).
    let single = expectations(lhs) + expectations(rhs) == 1
        && (outermost_expectation(lhs, root(lhs)) || outermost_expectation(rhs, root(rhs)))
        && l.stderr.min(r.stderr) == 0.0;
    if (l.stderr > 0.0 || r.stderr > 0.0) && !single {
        if let Some(diff) = difference {
            let dv = judged(eval(diff), "difference lhs − rhs")?;
            return Ok((l, r, compare_difference(dv, l, r, POINTS)));
        }
    }
    Ok((l, r, compare(l, r, POINTS)))
}

fn expectations(e: &Expr) -> usize {
    e.as_ref()
        .iter()
        .filter(|n| matches!(n, Math::Expect(_)))
        .count()
}

/// Is the side's one expectation reached from its root through +, −, ×, ÷ only (not inside a
/// sum, whose terms' estimates would add their standard errors)?
fn outermost_expectation(e: &Expr, id: egg::Id) -> bool {
    match &e[id] {
        Math::Expect(_) => true,
        Math::Add(_) | Math::Sub(_) | Math::Neg(_) | Math::Mul(_) | Math::Div(_) => {
            egg::Language::children(&e[id])
                .iter()
                .any(|c| outermost_expectation(e, *c))
        }
        _ => false,
    }
}

/// `E[D]` with `D` the difference lhs − rhs in which every `E[X]` is replaced by `X`, when every
/// expectation occurs linearly (under +, −, scalar factors and divisors free of E, and sums);
/// `None` if some expectation occurs non-linearly (then the sides are compared separately) or
/// there is none.
pub fn merged_difference(lhs: &Expr, rhs: &Expr) -> Option<Expr> {
    let has_e = |e: &Expr| e.as_ref().iter().any(|n| matches!(n, Math::Expect(_)));
    if !has_e(lhs) && !has_e(rhs) {
        return None;
    }
    let mut out = Expr::default();
    let l = linear_body(lhs, root(lhs), &mut out)?;
    let r = linear_body(rhs, root(rhs), &mut out)?;
    let d = out.add(Math::Sub([l, r]));
    out.add(Math::Expect(d));
    Some(out)
}

fn root(e: &Expr) -> egg::Id {
    egg::Id::from(e.as_ref().len() - 1)
}

fn contains_expect(e: &Expr, id: egg::Id) -> bool {
    matches!(e[id], Math::Expect(_))
        || egg::Language::children(&e[id])
            .iter()
            .any(|c| contains_expect(e, *c))
}

fn copy(e: &Expr, id: egg::Id, out: &mut Expr) -> egg::Id {
    let node = egg::Language::map_children(e[id].clone(), |c| copy(e, c, out));
    out.add(node)
}

fn linear_body(e: &Expr, id: egg::Id, out: &mut Expr) -> Option<egg::Id> {
    if !contains_expect(e, id) {
        return Some(copy(e, id, out));
    }
    let node = match &e[id] {
        Math::Expect(a) => return Some(copy(e, *a, out)),
        Math::Add([a, b]) => Math::Add([linear_body(e, *a, out)?, linear_body(e, *b, out)?]),
        Math::Sub([a, b]) => Math::Sub([linear_body(e, *a, out)?, linear_body(e, *b, out)?]),
        Math::Neg(a) => Math::Neg(linear_body(e, *a, out)?),
        Math::Mul([a, b]) if !(contains_expect(e, *a) && contains_expect(e, *b)) => {
            Math::Mul([linear_body(e, *a, out)?, linear_body(e, *b, out)?])
        }
        Math::Div([a, b]) if !contains_expect(e, *b) => {
            Math::Div([linear_body(e, *a, out)?, copy(e, *b, out)])
        }
        Math::Sum([v, lo, hi, body]) if !contains_expect(e, *lo) && !contains_expect(e, *hi) => {
            Math::Sum([
                copy(e, *v, out),
                copy(e, *lo, out),
                copy(e, *hi, out),
                linear_body(e, *body, out)?,
            ])
        }
        _ => return None,
    };
    Some(out.add(node))
}

/// A numeric method that decided (part of) a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Expectations: exact Gaussian moments for polynomials, quadrature over one or two entries,
    /// seeded Monte Carlo otherwise.
    Expectation,
    /// Bivariate Gaussian expectations by quadrature.
    Quadrature,
    /// Derivatives: exact by forward mode, Ridders' extrapolation of difference quotients where it
    /// declines (kinks, edges, nodes it has no rule for).
    Derivatives,
    /// Matrix terms through seeded random matrices.
    RandomMatrices,
    /// Both sides in 128-bit ball arithmetic.
    Precise,
    /// A width study (limit links).
    WidthStudy,
    /// The error's order as a parameter goes to 0 or ∞ (approximation links).
    OrderStudy,
    /// An unknown function's ODE integrated by RK4 with step halving (links checked by
    /// substitution into the hypotheses).
    Integration,
}

impl Method {
    /// The method's name as shown; `statistical` says whether Monte Carlo entered the link (an
    /// expectation is then Monte Carlo, else exact moments).
    pub fn name(self, statistical: bool) -> &'static str {
        match self {
            Method::Expectation if statistical => "Monte Carlo",
            Method::Expectation => "exact Gaussian moments or quadrature",
            Method::Quadrature => "quadrature",
            Method::Derivatives => {
                "derivatives: forward mode, Ridders differences where it declines"
            }
            Method::RandomMatrices => "random matrices",
            Method::Precise => "128-bit ball arithmetic",
            Method::WidthStudy => "width study",
            Method::OrderStudy => "order study",
            Method::Integration => "RK4 integration",
        }
    }
}

/// Which numeric methods evaluating these terms involves.
pub(super) fn methods(terms: &[&Expr]) -> Vec<Method> {
    use crate::expr::Math;
    let mut out = vec![];
    let mut add = |m: Method| {
        if !out.contains(&m) {
            out.push(m)
        }
    };
    for t in terms {
        for n in t.as_ref() {
            match n {
                Math::Expect(_) => add(Method::Expectation),
                Math::Gauss(_) => add(Method::Quadrature),
                Math::Deriv(_) => add(Method::Derivatives),
                Math::MatMul(_) | Math::MatExp(_) => add(Method::RandomMatrices),
                _ => {}
            }
        }
    }
    out
}

/// Check every link of `d`. Links are independent (each has its own seeds), so they are checked
/// in parallel; the report lists them in file order. An internal soundness error is reported for
/// its link ([`Verdict::Unsound`]) and the other links are still checked.
pub fn check(d: &Derivation) -> Report {
    check_with(d, &NetworkDraws::prepare(&[d]))
}

/// [`check`] with networks sampled beforehand (shared by the width studies that bind them).
pub fn check_with(d: &Derivation, draws: &NetworkDraws) -> Report {
    let ctx = context(d);
    let links: Vec<Link> = d.links().collect();
    let links = links
        .par_iter()
        .map(|link| check_link_with(d, &ctx, link, draws))
        .collect();
    Report { links }
}

/// Check every derivation (what `derive check --all` does): derivations and their links are
/// checked in parallel; the reports come in the order of `ds`.
pub fn check_all(ds: &[Derivation]) -> Vec<Report> {
    let all: Vec<&Derivation> = ds.iter().collect();
    let draws = NetworkDraws::prepare(&all);
    ds.par_iter().map(|d| check_with(d, &draws)).collect()
}

/// Check one link of `d` (a width study samples its own networks).
pub fn check_link(d: &Derivation, ctx: &Context, link: &Link) -> LinkResult {
    check_link_with(d, ctx, link, &NetworkDraws::none())
}

/// Check one link of `d`, width studies reading the networks sampled in `draws`; a step that
/// names a convention is checked as written and under the convention.
pub fn check_link_with(
    d: &Derivation,
    ctx: &Context,
    link: &Link,
    draws: &NetworkDraws,
) -> LinkResult {
    let mut result = check_sides(d, ctx, link, draws);
    if let Some(u) = &link.step.under {
        let step = super::file::Step {
            term: u.to.clone(),
            expect: u.expect,
            under: None,
            ..link.step.clone()
        };
        let read = Link {
            from: &u.from,
            step: &step,
            ..*link
        };
        // The declarations as they read under the convention: index ranges with its values.
        let under_d;
        let under_ctx;
        let (d_read, ctx_read) = if u.ranges.is_empty() {
            (d, ctx)
        } else {
            let mut changed = d.clone();
            for (sym, kind) in &u.ranges {
                for (s, k) in changed.symbols.iter_mut() {
                    if s == sym {
                        *k = kind.clone();
                    }
                }
            }
            under_d = changed;
            under_ctx = context(&under_d);
            (&under_d, &under_ctx)
        };
        result.under = Some(Box::new(UnderResult {
            convention: u.convention.clone(),
            text: u.text.clone(),
            result: check_sides(d_read, ctx_read, &read, draws),
        }));
    }
    result
}

/// The Monte Carlo resolution of a link's evidence: the largest tolerance of its statistical
/// points relative to `scale`, by default the largest |side| over all its points (NaN when the
/// scale is 0).
fn mc_resolution(ev: &Evidence, scale: Option<f64>) -> f64 {
    let scale = scale.unwrap_or_else(|| {
        ev.points
            .iter()
            .map(|p| p.lhs.value.abs().max(p.rhs.value.abs()))
            .fold(0.0, f64::max)
    });
    let tol = ev
        .points
        .iter()
        .filter(|p| p.cmp.statistical)
        .map(|p| p.cmp.tol)
        .fold(0.0, f64::max);
    if scale > 0.0 {
        tol / scale
    } else {
        f64::NAN
    }
}

/// The size of the prover's normal form of lhs − rhs (`residual`) at the link's points: the
/// smallest, over its additive terms (grouped as below), of the largest |term| over the points
/// where it is evaluated (each term at the same points and seeds as the sides), or `None` when
/// a term is evaluated at none of them.
/// Its closed constants count as one term, their sum: 1000·sin²1 + 1000·cos²1 − 1000 is no
/// scale of 1000 that a Monte Carlo term beside it is resolved against.
fn term_scale(d: &Derivation, residual: &Expr, sides: &SideValues) -> Option<f64> {
    // The plain terms (functions of the point computed to rounding: no expectation, quadrature,
    // derivative or random symbol) are summed into one first, as a width study sums the terms
    // that do not change from draw to draw: terms that cancel where the prover does not see it
    // (1000·a/(a + 1) + 1000/(a + 1) against 1000, 10⁵·atan a + 10⁵·atan(1/a) against 5·10⁴·π)
    // are a shared part, not a scale: E[sin(w₁w₂w₃)] + those = 1000.005 agreed within 1.4e-2
    // (E[sin(w₁w₂w₃)] = 0).
    use crate::expr::binders::append;
    let zero: Expr = "0".parse().expect("a number");
    // Where every term is plain, their sum is lhs − rhs itself (≈ 0 for a true link, no scale):
    // only the closed constants are summed then.
    let all = crate::expr::binders::additive_terms(residual);
    let group: fn(&Derivation, &Expr) -> bool = if all.iter().all(|(_, t)| plain(d, t)) {
        |_, t| crate::numeric::eval::is_closed(t)
    } else {
        plain
    };
    let (closed, mut terms): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, t)| group(d, t));
    if !closed.is_empty() {
        let mut sum = Expr::default();
        let mut acc = append(&mut sum, &zero);
        for (positive, t) in &closed {
            let id = append(&mut sum, t);
            acc = sum.add(if *positive {
                Math::Add([acc, id])
            } else {
                Math::Sub([acc, id])
            });
        }
        terms.push((true, sum));
    }
    // The smallest group is the measure: a tolerance larger than one part of lhs − rhs says
    // nothing about that part, whatever the size of the others. ∫₀¹ 10¹²eˢ ds + E[cos³u·cos v]
    // = 10¹²(e − 1) + 0.3 (the expectation is 0.2776) agreed within 4.5, the quadrature error
    // of the integral the prover does not cancel against 10¹²(e − 1); a Monte Carlo term beside
    // it agreed within 1.2e-2 on a scale of 1718. Groups that are 0 at every point have no size.
    let mut scale = f64::INFINITY;
    for (_, term) in terms {
        let ev = numeric_check_with(d, &term, &zero, sides);
        let size = ev
            .points
            .iter()
            .map(|p| p.lhs.value.abs())
            .filter(|v| v.is_finite())
            .reduce(f64::max)?;
        if size > 0.0 {
            scale = scale.min(size);
        }
    }
    Some(if scale.is_finite() { scale } else { 0.0 })
}

/// Is `t` computed to rounding at a point: arithmetic and functions of the declared symbols, no
/// expectation, quadrature, derivative, matrix exponential, random symbol or unknown function?
fn plain(d: &Derivation, t: &Expr) -> bool {
    let sampled_or_unknown = |s: &egg::Symbol| {
        d.unknowns.iter().any(|u| u.name == *s)
            || d.symbols
                .iter()
                .any(|(x, k)| x == s && matches!(k, Kind::Gaussian | Kind::GaussianVector(..)))
    };
    super::violation::pointwise(&[t])
        && t.as_ref().iter().all(|n| match n {
            Math::MatExp(_) => false,
            Math::Symbol(s) => !sampled_or_unknown(s),
            _ => true,
        })
}

/// The residual lhs − rhs as an exact number, when the theories rewrote it to one.
fn constant_residual(residual: &Expr) -> Option<num_rational::BigRational> {
    match residual.as_ref() {
        [Math::Num(c)] => Some(c.0.clone()),
        _ => None,
    }
}

/// The verdict of a link whose lhs − rhs the theories rewrote to the number `c`, if `c` decides
/// it against the relation (refuted, with the diagnosis), or `Unsound` where an evaluated point
/// contradicts `c` beyond its tolerance. `None` where `c` satisfies the relation (the numerics
/// and the bounds then decide as usual) or no point was evaluated (the sides may have no value
/// anywhere).
fn decided_by_constant(
    d: &Derivation,
    link: &Link,
    rel: Relation,
    c: &num_rational::BigRational,
    evidence: &Evidence,
) -> Option<(Verdict, Option<Unsound>, Option<String>)> {
    use num_traits::{Signed, ToPrimitive, Zero};
    let wrong = match rel {
        Relation::Eq => !c.is_zero(),
        Relation::Le => c.is_positive(),
        Relation::Lt => !c.is_negative(),
        Relation::Ge => c.is_negative(),
        Relation::Gt => !c.is_positive(),
    };
    if !wrong || evidence.points.is_empty() {
        return None;
    }
    let value = c.to_f64().unwrap_or(f64::NAN);
    if let Some(p) = evidence
        .points
        .iter()
        .find(|p| (p.cmp.signed - value).abs() > p.cmp.tol + value.abs() * f64::EPSILON)
    {
        return Some((
            Verdict::Unsound,
            Some(Unsound(format!(
                "link {} of `{}`: the theories rewrote lhs − rhs to {} but at {} it is {:?}",
                link.id, d.id, value, p.at, p.cmp.signed
            ))),
            None,
        ));
    }
    let text = crate::expr::text(&Expr::from(vec![Math::Num(crate::expr::Constant(
        c.clone(),
    ))]));
    Some((
        Verdict::Refuted,
        None,
        Some(if rel == Relation::Eq {
            format!(
                "the theories rewrite lhs − rhs to the number {text} (exact), so the sides differ wherever they have values"
            )
        } else {
            format!(
                "the theories rewrite lhs − rhs to the number {text} (exact), so `{}` fails wherever the sides have values",
                rel.symbol()
            )
        }),
    ))
}

/// The prover's normal form of lhs − rhs (`residual`) checked against 0 at the link's points:
/// the first point where it differs from 0 beyond its own tolerance, if any (described, with the
/// residual's text and its value there).
/// For an inequality, the first point where the residual is on the wrong side of 0 beyond its
/// tolerance: (1 + a²)² ≤ 1 + 2a² + a⁴ − 10⁻¹⁷ holds within the sides' f64 tolerance, while
/// lhs − rhs = 10⁻¹⁷ > 0.
fn hidden_difference(
    d: &Derivation,
    residual: &Expr,
    rel: Relation,
    sides: &SideValues,
) -> Option<(String, String, f64)> {
    let zero: Expr = "0".parse().expect("a number");
    let ev = numeric_check_with(d, residual, &zero, sides);
    let p = ev.points.iter().find(|p| {
        if rel == Relation::Eq {
            !p.cmp.agrees()
        } else {
            excess(rel, p.lhs.value, 0.0, &p.cmp) > p.cmp.tol
        }
    })?;
    Some((p.at.clone(), crate::expr::text(residual), p.lhs.value))
}

/// The prover's normal form of lhs − rhs (`residual`) searched against 0 beyond the link's points
/// ([`super::violation::search_residual`]), where it and the sides are light (no sum, integral,
/// expectation or derivative, whose values a search pays for) and the sides share a part far
/// larger than it ([`crate::precision::SHARED_PART_REL`]): a difference that part hides from f64.
fn beyond_points(
    d: &Derivation,
    (lhs, rhs): (&Expr, &Expr),
    residual: &Expr,
    rel: Relation,
    (sides, sides_points): (&SideValues, &[PointResult]),
) -> Option<super::violation::ResidualFound> {
    // Sides and residual pointwise (no sum, integral, expectation or derivative): a derivative
    // by differences has a scale far above its value, which no ratio below can read.
    if [lhs, rhs, residual]
        .iter()
        .any(|t| t.as_ref().iter().any(crate::numeric::eval::is_heavy))
        || !super::violation::pointwise(&[lhs, rhs, residual])
    {
        return None;
    }
    // Only where the sides share a part far larger than the residual at the link's points (the
    // case f64 cannot resolve): elsewhere the search of the sides already sees what the
    // residual's would, and a second search doubled the cost of every unproved link.
    let zero: Expr = "0".parse().expect("a number");
    let shared = sides_points
        .iter()
        .map(|p| p.lhs.scale.max(p.rhs.scale))
        .fold(0.0, f64::max);
    let own = numeric_check_with(d, residual, &zero, sides)
        .points
        .iter()
        .map(|p| p.lhs.scale)
        .fold(f64::NAN, f64::max);
    // (NaN where the residual has no value at any point: not searched.)
    let small = own <= crate::precision::SHARED_PART_REL * shared;
    if !small {
        return None;
    }
    let found = super::violation::search_residual(d, lhs, rhs, residual, rel)?;
    // A value whose scale overflowed is no difference.
    if let super::violation::ResidualFound::Hidden(p) = &found {
        (p.lhs.value.is_finite() && p.lhs.scale.is_finite()).then_some(())?;
    }
    Some(found)
}

/// The additive terms of the prover's normal form of lhs − rhs, with their signs (every theory;
/// a short search), or none if it has no normal form.
/// A width study measures its resolution against their size, not the sides': parts the sides
/// share exactly are not evidence.
fn residual_terms(a: &Expr, b: &Expr, ctx: &Context) -> Vec<(bool, Expr)> {
    every_theory_residual(a, b, ctx)
        .map(|r| crate::expr::binders::additive_terms(&r))
        .unwrap_or_default()
}

/// The prover's normal form of lhs − rhs with every theory (a short search), if it has one.
/// Every theory: equal terms written differently (sin²1 + cos²1 against 1, √2·√3 against √6,
/// 100·(sin²a + cos²a) against 100) must cancel here whatever the link cites; its rules are
/// proved equalities all the same.
fn every_theory_residual(a: &Expr, b: &Expr, ctx: &Context) -> Option<Expr> {
    match prove(a, b, &Theory::ALL, ctx, Limits::refuted()) {
        Ok((
            Outcome::NotDerivable { residual }
            | Outcome::Exhausted { residual, .. }
            | Outcome::Refused { residual, .. },
            _,
        )) => Some(residual),
        _ => None,
    }
}

/// Check one link's two sides as they stand.
pub(super) fn check_sides(
    d: &Derivation,
    ctx: &Context,
    link: &Link,
    draws: &NetworkDraws,
) -> LinkResult {
    let (a, b) = (link.from, &link.step.term);
    let step = link.step;
    let mut result = LinkResult {
        id: link.id,
        verdict: Verdict::Unknown,
        expect: step.expect,
        unsound: None,
        outcome: None,
        stats: Stats::default(),
        evidence: Evidence::default(),
        diagnosis: None,
        under: None,
        substitution: None,
    };
    if !d.unknowns.is_empty() {
        if let Some(r) = super::hypotheses::check(d, ctx, link, draws, &mut result) {
            return r;
        }
    }
    if let Some((symbol, toward, order)) = step.approx {
        let study = super::approx::study(d, &a.expr, &b.expr, symbol, toward, order);
        result.verdict = if study.failure().is_some() {
            Verdict::Refuted
        } else if study.holds() {
            Verdict::Limit
        } else {
            Verdict::Unknown
        };
        result.evidence = Evidence {
            methods: vec![Method::OrderStudy],
            approx: Some(study),
            ..Evidence::default()
        };
        return result;
    }
    if let Some(width) = step.limit {
        let terms = residual_terms(&a.expr, &b.expr, ctx);
        let study = super::limit::study(
            d,
            &a.expr,
            &b.expr,
            &terms,
            width,
            step.rate,
            step.resolution,
            draws,
        );
        result.verdict = if study.holds() {
            Verdict::Limit
        } else if study.failure().is_some() {
            Verdict::Refuted
        } else {
            Verdict::Unknown
        };
        result.evidence = Evidence {
            methods: vec![Method::WidthStudy],
            limit: Some(study),
            ..Evidence::default()
        };
        return result;
    }
    // The numerics first: a link they refute needs the prover only to catch an unsound proof,
    // which a short search does (a false claim otherwise explores until the limits, seconds
    // when derivatives of closed forms are involved); the verdict is the counterexample's.
    let mut evidence = numeric_check_with(d, &a.expr, &b.expr, &draws.sides);
    if step.rel != Relation::Eq {
        // An inequality fails at a point by the amount the step is on the wrong side, beyond
        // the tolerance the equality would have had there.
        for p in &mut evidence.points {
            p.cmp.diff = excess(step.rel, p.lhs.value, p.rhs.value, &p.cmp);
            // Equal within a tolerance, a strict inequality is not decided by a number.
            let strict = matches!(step.rel, Relation::Lt | Relation::Gt);
            let exact = p.cmp.tol == 0.0 && !p.cmp.statistical;
            if strict
                && !exact
                && evidence.undecided_strict.is_none()
                && p.cmp.signed.abs() <= p.cmp.tol
            {
                evidence.undecided_strict = Some(p.at.clone());
            }
        }
        // A side that is not finite decides nothing: the point is not evaluated.
        let before = evidence.points.len();
        evidence.points.retain(|p| !p.cmp.diff.is_nan());
        let dropped = before - evidence.points.len();
        if dropped > 0 {
            evidence.skipped_count += dropped;
            evidence.skipped.get_or_insert_with(|| {
                "a side is not finite, so the inequality is not decided there".into()
            });
        }
    }
    let mut cex = evidence.counterexample().is_some();
    let limits = if cex {
        Limits::refuted()
    } else {
        Limits::default()
    };
    let (outcome, stats) = match prove(&a.expr, &b.expr, &step.by, ctx, limits) {
        Ok(found) => found,
        Err(e) => {
            result.verdict = Verdict::Unsound;
            result.unsound = Some(e);
            return result;
        }
    };
    // The prover shows equality, which proves ≤ and ≥ and refutes < and >.
    let equal = matches!(outcome, Outcome::Proved(_));
    if equal && !step.rel.follows_from_equality() {
        // With or without a counterexample among the points (sides found equal there): refuted
        // by the proof. Sides found apart beyond their tolerance contradict the proof.
        if let Some(p) = evidence
            .points
            .iter()
            .find(|p| p.cmp.signed.abs() > p.cmp.tol)
        {
            result.verdict = Verdict::Unsound;
            result.unsound = Some(Unsound(format!(
                "link {} of `{}` was proved an equality but the sides differ at {}: {:?} vs {:?}",
                link.id, d.id, p.at, p.lhs.value, p.rhs.value
            )));
            return result;
        }
        result.verdict = Verdict::Refuted;
        result.diagnosis = Some(format!(
            "the sides are equal (proved), so `{}` fails everywhere",
            step.rel.symbol()
        ));
        result.outcome = Some(outcome);
        result.stats = stats;
        result.evidence = evidence;
        return result;
    }
    // An inequality that equality does not settle: the greater side minus the lesser, bounded
    // below on the e-graph (prove::bounds).
    let (mut outcome, mut stats) = (outcome, stats);
    let mut bounded = false;
    if !equal && !cex && step.rel != Relation::Eq {
        let (greater, lesser) = match step.rel {
            Relation::Le | Relation::Lt => (&b.expr, &a.expr),
            _ => (&a.expr, &b.expr),
        };
        let strict = matches!(step.rel, Relation::Lt | Relation::Gt);
        let mut diff = crate::expr::Expr::default();
        let g = crate::expr::binders::append(&mut diff, greater);
        let l = crate::expr::binders::append(&mut diff, lesser);
        diff.add(crate::expr::Math::Sub([g, l]));
        match crate::prove::prove_bound(&diff, strict, &step.by, ctx, Limits::default()) {
            Ok((Some(steps), s)) => {
                bounded = true;
                outcome = Outcome::Proved(steps);
                stats = s;
            }
            Ok((None, _)) => {}
            Err(e) => {
                result.verdict = Verdict::Unsound;
                result.unsound = Some(e);
                return result;
            }
        }
    }
    let proved = equal || bounded;
    // lhs − rhs rewritten to a number c by the theories (exact rationals): the relation is
    // decided by c's sign wherever the rules hold, as a proof decides it, and no tolerance
    // enters: 10²⁰ + 1000 ≤ 10²⁰ and gauss(1, 0, 1; step(u)) ≥ ½ + 10⁻²⁰ fail by amounts f64
    // rounds away. The points must agree with c within their tolerance (else a rule is unsound).
    if let (
        Outcome::NotDerivable { residual } | Outcome::Exhausted { residual, .. },
        false,
        false,
    ) = (&outcome, proved, cex)
    {
        if let Some(c) = constant_residual(residual) {
            if let Some(verdict) = decided_by_constant(d, link, step.rel, &c, &evidence) {
                result.verdict = verdict.0;
                result.unsound = verdict.1;
                result.diagnosis = verdict.2;
                result.outcome = Some(outcome);
                result.stats = stats;
                result.evidence = evidence;
                return result;
            }
        }
    }
    // Sampled points miss a violation confined to a narrow set: where no proof settles the
    // relation, search for one (`super::violation`): a well exp(−10¹²·(a − 0.3)²) makes
    // `= 0` as false as `≤ 0`, beside an integral or an expectation too (their quadratures
    // count against a smaller budget; Monte Carlo sides are not searched).
    if !proved && !cex {
        let searched = super::violation::search_all(d, &a.expr, &b.expr, step.rel);
        if let Some(p) = searched.found {
            evidence.points.push(p);
            cex = evidence.counterexample().is_some();
        }
        if evidence.undecided_strict.is_none() {
            evidence.undecided_strict = searched.strict;
        }
        evidence.undecided_jump = searched.jump;
        if evidence.undecided_point.is_none() {
            evidence.undecided_point = searched.point;
        }
    }
    if let (
        Outcome::NotDerivable { residual }
        | Outcome::Exhausted { residual, .. }
        | Outcome::Refused { residual, .. },
        false,
        false,
    ) = (&outcome, cex, proved)
    {
        evidence.hidden_difference = hidden_difference(d, residual, step.rel, &draws.sides);
        if evidence.hidden_difference.is_none() {
            let at = (&draws.sides, evidence.points.as_slice());
            match beyond_points(d, (&a.expr, &b.expr), residual, step.rel, at) {
                Some(super::violation::ResidualFound::Violation(p)) => {
                    evidence.points.push(p);
                    cex = evidence.counterexample().is_some();
                }
                Some(super::violation::ResidualFound::Hidden(p)) => {
                    evidence.hidden_difference =
                        Some((p.at, crate::expr::text(residual), p.lhs.value));
                }
                None => {}
            }
        }
    }
    // The size of the terms of lhs − rhs once the parts both sides share are cancelled by
    // every theory (computed once, only where a resolution is measured against it).
    let shared_cancelled = std::cell::OnceCell::new();
    let terms_scale = || {
        *shared_cancelled.get_or_init(|| {
            every_theory_residual(&a.expr, &b.expr, ctx)
                .and_then(|r| term_scale(d, &r, &draws.sides))
        })
    };
    // An inequality that every statistical point satisfies by more than its tolerance is
    // decided beyond the noise, however coarse; one within its tolerance of the wrong side is
    // judged like an equality (E[relu(z + w)·relu(y − z)·(1 + 100·g·y)] ≤ 0.05, with E = 0.109,
    // agreed within 2.5).
    let beyond_noise = step.rel != Relation::Eq
        && evidence
            .points
            .iter()
            .filter(|p| p.cmp.statistical)
            .all(|p| {
                let margin = match step.rel {
                    Relation::Le | Relation::Lt => -p.cmp.signed,
                    _ => p.cmp.signed,
                };
                margin > p.cmp.tol
            });
    if !proved && !cex && !beyond_noise && evidence.statistical() {
        let coarse = |res: f64| res > crate::precision::MC_RESOLUTION_REL || res.is_nan();
        let res = mc_resolution(&evidence, None);
        if coarse(res) {
            evidence.coarse_resolution = Some(res);
        } else {
            // Fine against the sides: parts the sides share exactly (`+ sb²` on both) are not
            // evidence and must not dilute the resolution, as in the width studies
            // ([`residual_terms`]): it is measured again against the size of the terms of the
            // prover's lhs − rhs, where they are smaller.
            let sides = evidence
                .points
                .iter()
                .map(|p| p.lhs.value.abs().max(p.rhs.value.abs()))
                .fold(0.0, f64::max);
            if let Some(terms) = terms_scale().filter(|t| *t < sides) {
                let res = mc_resolution(&evidence, Some(terms));
                if coarse(res) {
                    evidence.coarse_resolution = Some(res);
                    evidence.coarse_by_terms = true;
                }
            }
        }
    }
    if !proved && !cex {
        // A point whose tolerance is coarser than the sides is not evidence (it counts as not
        // evaluated): with fewer than MIN_POINTS others left, the link is not `consistent` —
        // for `≤`, `<`, `≥`, `>` as for `=` (E[w²·cosh²30] − E[w²·sinh²30] ≤ −10¹⁵ agreed
        // within 6.9·10¹⁵).
        // The sides' own values are the measure, with no floor: 2·10⁹·gauss(1, 0, 1; cos(7.3u))
        // (= 0.0054 ± 0.0087) agreed with −0.003 while a floor of 1 made ±0.0087 look fine, and
        // a floor is a choice of units. A ball-arithmetic radius counts like an f64 tolerance
        // (10⁵⁰·sin²a + 10⁵⁰·cos²a + 1 − 10⁵⁰ = 2 agreed within a rigorous 2.4·10¹²). For `=`,
        // where the sides share a part exactly (100 + … = 100), the size of the terms of the
        // prover's lhs − rhs (every theory) is the measure when it is smaller, as for Monte
        // Carlo — not for ball arithmetic, whose closed constants summing to 0 (abs(−10⁷)/(−10⁷)
        // + 1) leave no term to measure against, and whose radius is already rigorous.
        let coarse_at = |p: &PointResult, cap: f64| {
            let size = p.lhs.value.abs().max(p.rhs.value.abs());
            let size = if p.cmp.rigorous { size } else { size.min(cap) };
            !p.cmp.statistical && p.cmp.tol > crate::precision::F64_RESOLUTION_REL * size
        };
        let mut cap = f64::INFINITY;
        let mut resolved = evidence
            .points
            .iter()
            .filter(|p| !coarse_at(p, cap))
            .count();
        if resolved >= MIN_POINTS
            && evidence
                .points
                .iter()
                .any(|p| !p.cmp.statistical && !p.cmp.rigorous)
        {
            if let Some(t) = terms_scale() {
                cap = t;
                resolved = evidence
                    .points
                    .iter()
                    .filter(|p| !coarse_at(p, cap))
                    .count();
            }
        }
        let coarse = |p: &&PointResult| coarse_at(p, cap);
        if resolved < MIN_POINTS {
            evidence.unresolved = evidence
                .points
                .iter()
                .find(coarse)
                .map(|p| (p.at.clone(), p.cmp.tol));
        }
    }
    let checked =
        evidence.checked() && evidence.coarse_resolution.is_none() && evidence.unresolved.is_none();
    result.verdict = match (proved, cex, checked) {
        (true, true, _) => {
            let p = evidence.counterexample().expect("a counterexample");
            result.unsound = Some(Unsound(format!(
                "link {} of `{}` was proved but the sides differ at {}: {:?} vs {:?}",
                link.id, d.id, p.at, p.lhs.value, p.rhs.value
            )));
            Verdict::Unsound
        }
        (true, false, true) => Verdict::Proved,
        (true, false, false) => Verdict::Unchecked,
        (false, true, _) => Verdict::Refuted,
        (false, false, true) if evidence.undecided_point.is_none() => Verdict::Consistent,
        (false, false, _) => Verdict::Unknown,
    };
    if result.verdict == Verdict::Refuted && step.rel == Relation::Eq {
        result.diagnosis = super::diagnose::diagnose(&evidence, &outcome);
    }
    result.outcome = Some(outcome);
    result.stats = stats;
    result.evidence = evidence;
    result
}
