//! Links from an unknown function to a claimed solution, checked by substitution.
//!
//! For an unknown f of t with df/dt = F(f, t) and f(t0) = f0 (`[unknowns.f]`, see `unknowns.rs`)
//! and a link `f = g`:
//!
//! - **prover**: two sub-goals, each proved by the e-graph with the link's theories: (a) the
//!   ODE, d/dt(g) = F(g, t), and (b) the initial condition, g[t := t0] = f0. F is a polynomial in
//!   f (checked at load), hence locally Lipschitz, so the solution through f0 is unique
//!   (Picard–Lindelöf) and both together prove f = g wherever g is defined.
//! - **numerics**: each sub-goal is also checked at the points like any link, and f itself is
//!   computed at every point by integrating the ODE from t0 to the sampled t with
//!   [`crate::numeric::ode::rk4_checked`] (a matrix f column-flattened), then compared with g
//!   there, allowing for the integrator's error estimate ([`crate::precision::ODE_TOLERANCE`]).
//!   A point where the integration fails (not finite, not converged, over the budget) is not
//!   evaluated.
//!
//! A sub-goal refuted, or a point where the integrated f and g differ, refutes the link; a proof
//! of both that the numerics contradict is an internal soundness error.

use nalgebra::{DMatrix, DVector};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::check::{
    check_sides, gather, methods, side, Evidence, LinkResult, Method, PointError, PointResult, Skip,
};
use super::draws::NetworkDraws;
use super::file::{Derivation, Hypotheses, Link, Relation, Step, Term, Unknown};
use super::sample::{point_retry, retry_lost, used_symbols, MAX_SHRINK};
use super::sides::SideValues;
use super::verdict::Verdict;
use crate::expr::{binders, text, Expr, Math};
use crate::limits::MAX_TERM_NODES;
use crate::numeric::eval::{Env, Evaluator, Value, MATRIX_DIM};
use crate::numeric::tolerance::{compare, Comparison};
use crate::precision::{ODE_FIRST_STEPS, ODE_MAX_EVALUATIONS, ODE_TOLERANCE, POINTS};
use crate::prove::{Context, Outcome, Unsound};

/// A link `f = g` checked by substitution into the hypotheses of the unknown f.
#[derive(Debug, Clone)]
pub struct Substitution {
    /// The unknown's name.
    pub unknown: String,
    /// Its hypotheses, as written (`df/dt = …, f(0) = …`).
    pub statement: String,
    /// The degree of the ODE's right side in f (1: affine).
    pub degree: u32,
    /// The sub-goals: (a) the ODE, (b) the initial condition.
    pub goals: Vec<SubGoal>,
    /// Is the unknown the link's left side (so the integrated values are the `lhs` of the
    /// points)?
    pub left: bool,
    /// The initial time, as written.
    pub from: String,
    /// The variable.
    pub of: String,
}

/// One sub-goal of a link checked by substitution.
#[derive(Debug, Clone)]
pub struct SubGoal {
    /// What it states (`the ODE`, `the initial condition`).
    pub what: &'static str,
    /// Its left side.
    pub from: Term,
    /// Its right side.
    pub to: Term,
    /// Its check, as a link of its own.
    pub result: LinkResult,
}

/// Does the term mention an unknown function of `d`?
fn mentions_unknown(d: &Derivation, e: &Expr) -> bool {
    binders::free_symbols(e, binders::root(e))
        .iter()
        .any(|s| d.unknown(*s).is_some())
}

/// A term of a sub-goal (shown as computed).
fn term(e: Expr, line: usize) -> Term {
    Term {
        written: e.clone(),
        text: text(&e),
        expr: e,
        unfolds: vec![],
        line,
    }
}

/// Check `link` by substitution if one of its sides is an unknown function; `None` if the link
/// does not involve an unknown. A link that uses an unknown otherwise (only a changed
/// derivation can have one: the loader refuses it) is `unknown`.
pub(super) fn check(
    d: &Derivation,
    ctx: &Context,
    link: &Link,
    draws: &NetworkDraws,
    result: &mut LinkResult,
) -> Option<LinkResult> {
    let Some((u, candidate, left)) = d.unknown_link(link) else {
        if mentions_unknown(d, &link.from.expr) || mentions_unknown(d, &link.step.term.expr) {
            let mut r = result.clone();
            r.diagnosis = Some(
                "an unknown function is used inside a term: only a link `f = solution` is checked"
                    .into(),
            );
            return Some(r);
        }
        return None;
    };
    let mut r = result.clone();
    let fail = |mut r: LinkResult, why: String| {
        r.diagnosis = Some(why);
        Some(r)
    };
    let Some(h) = &u.hypotheses else {
        return fail(r, format!("`{}` has no hypotheses", u.name));
    };
    if mentions_unknown(d, candidate) || link.step.rel != Relation::Eq {
        return fail(
            r,
            "the claimed solution must be a term free of unknown functions, equal to it".into(),
        );
    }
    // (a) d/dt(g) = F(g, t)
    let mut lhs_a = Expr::default();
    let tv = lhs_a.add(Math::Symbol(u.of));
    let g = binders::append(&mut lhs_a, candidate);
    lhs_a.add(Math::Deriv([tv, g]));
    let into = BTreeMap::from([(u.name, candidate.clone())]);
    let (rhs_a, _) = match binders::unfold(&h.ode, &into, MAX_TERM_NODES) {
        Ok(x) => x,
        Err(e) => {
            return fail(
                r,
                format!(
                    "the claimed solution cannot be substituted into the ODE: {}",
                    unfold_failure(e)
                ),
            )
        }
    };
    // (b) g[t := t0] = f0
    let at = BTreeMap::from([(u.of, h.at.clone())]);
    let (lhs_b, _) = match binders::substitute_values(candidate, &at, MAX_TERM_NODES) {
        Ok(x) => x,
        Err(e) => {
            return fail(
                r,
                format!(
                    "the claimed solution cannot be taken at {} = {}: {}",
                    u.of,
                    h.at_text,
                    unfold_failure(e)
                ),
            )
        }
    };
    let line = link.step.term.line;
    let goals = [
        ("the ODE", lhs_a, rhs_a),
        ("the initial condition", lhs_b, h.value.clone()),
    ];
    let goals: Vec<SubGoal> = goals
        .into_iter()
        .map(|(what, from, to)| {
            let (from, to) = (term(from, line), term(to, line));
            let step = Step {
                term: to.clone(),
                rel: Relation::Eq,
                limit: None,
                approx: None,
                under: None,
                remark: None,
                cite: None,
                expect: Verdict::Proved,
                ..link.step.clone()
            };
            let sub = Link {
                from: &from,
                step: &step,
                ..*link
            };
            let result = check_sides(d, ctx, &sub, draws);
            SubGoal {
                what,
                from,
                to,
                result,
            }
        })
        .collect();
    r.evidence = integrate(d, u, h, candidate, left, &draws.sides);
    // The proof by substitution holds on an interval from the initial time where the prover's
    // facts about t hold and the claimed solution is defined and continuous: the initial time
    // in t's declared domain, the initial condition evaluated there (0·(1/0) = 0 is a rewrite,
    // not a value), and no pole of the solution between the initial time and a point's t.
    let mut gaps: Vec<String> = vec![];
    if let Some(why) = initial_time_outside(d, u, h) {
        gaps.push(why);
    }
    if goals
        .get(1)
        .is_some_and(|g| !g.result.evidence.checked() || g.result.evidence.points.is_empty())
    {
        gaps.push(format!(
            "the claimed solution was not evaluated at {} = {}, so the initial condition is a rewrite, not a value",
            u.of, h.at_text
        ));
    }
    if let Some(why) = pole_on_path(d, u, h, candidate) {
        gaps.push(why);
    }
    // Uniqueness (Picard–Lindelöf) needs the right side continuous in t at every time, not only
    // polynomial in f: y′ = 2y/t (or 2y·sign(t)/(|t| + 1 − |sign t|), finite at 0) with y(0) = 0
    // has every C·t² as a solution, so "y = 0" does not follow from the hypotheses.
    let nonunique = discontinuous_in_time(&h.ode, binders::root(&h.ode), u.of);
    if let Some(why) = &nonunique {
        gaps.push(format!(
            "the right side of the ODE is not known to be defined and continuous in {t} at every {t} ({why}), so the hypotheses need not determine {f}: a candidate that satisfies both is a solution, not necessarily {f}",
            t = u.of,
            f = u.name
        ));
    }
    // A solution of an ODE is differentiable: a claimed solution with a jump in t satisfies the
    // ODE wherever it is differentiated (1 + step(t − 10⁷) for y′ = 0, y(0) = 1) and is not one.
    if !crate::prove::theories::calculus::continuous_in(candidate, binders::root(candidate), u.of) {
        gaps.push(format!(
            "the claimed solution is not known to be continuous in {t} (a step, sign, δ, φ, derivative or expectation of {t}): a solution of an ODE is differentiable",
            t = u.of
        ));
    }
    // Continuity by form holds where the solution is defined: a quotient may jump where its
    // denominator is 0 (|t − 10⁷|/(t − 10⁷) is sign(t − 10⁷), a jump beyond the points, which
    // the pole search, looking for a growing |f|, never meets), and tan, log, √, asin, acos and
    // fractional powers stop being defined beyond every sampled t (tan(10⁻⁷·t)).
    if let Some(why) = domain_not_shown(candidate, u.of, ctx) {
        gaps.push(format!(
            "the claimed solution {why} at every {t}: where that fails the solution may jump, lose its derivative or be undefined",
            t = u.of
        ));
    }
    let proved = gaps.is_empty()
        && goals
            .iter()
            .all(|g| matches!(g.result.outcome, Some(Outcome::Proved(_))));
    let refuted_goals: Vec<&SubGoal> = goals
        .iter()
        .filter(|g| g.result.verdict == Verdict::Refuted)
        .collect();
    // Without uniqueness, the integrated solution is one of several: a candidate that differs
    // from it may be another (y = t² beside y = 0 for y′ = 2y/t, y(0) = 0), so such a point is
    // no counterexample.
    if nonunique.is_some() {
        let before = r.evidence.points.len();
        r.evidence.points.retain(|p| p.cmp.diff <= p.cmp.tol);
        let dropped = before - r.evidence.points.len();
        if dropped > 0 {
            r.evidence.skipped_count += dropped;
            r.evidence.skipped.get_or_insert_with(|| {
                format!(
                    "the integrated {} is one solution of the hypotheses, which may have others",
                    u.name
                )
            });
        }
    }
    let cex = r.evidence.counterexample().is_some();
    let checked = r.evidence.checked();
    if let Some(g) = goals.iter().find(|g| g.result.verdict == Verdict::Unsound) {
        r.verdict = Verdict::Unsound;
        r.unsound = g.result.unsound.clone();
    } else if proved && cex {
        let p = r.evidence.counterexample().expect("a counterexample");
        r.verdict = Verdict::Unsound;
        r.unsound = Some(Unsound(format!(
            "link {} of `{}` was proved by substitution but the integrated {} differs from the solution at {}: {} vs {}",
            link.id, d.id, u.name, p.at, p.lhs.value, p.rhs.value
        )));
    } else if !refuted_goals.is_empty() || cex {
        r.verdict = Verdict::Refuted;
        let mut why: Vec<String> = refuted_goals
            .iter()
            .map(|g| {
                format!(
                    "the claimed solution does not satisfy {} ({})",
                    g.what,
                    if g.what == "the ODE" { "a" } else { "b" }
                )
            })
            .collect();
        if cex {
            why.push(format!(
                "it differs from {} integrated numerically from {} = {}",
                u.name, u.of, h.at_text
            ));
        }
        r.diagnosis = Some(why.join("; "));
    } else if !gaps.is_empty() {
        r.verdict = Verdict::Unknown;
        r.diagnosis = Some(gaps.join("; "));
    } else {
        r.verdict = match (proved, checked) {
            (true, true) => Verdict::Proved,
            (true, false) => Verdict::Unchecked,
            (false, true) => Verdict::Consistent,
            (false, false) => Verdict::Unknown,
        };
    }
    r.substitution = Some(Box::new(Substitution {
        unknown: u.name.to_string(),
        statement: u.statement(),
        degree: h.degree,
        goals,
        left,
        from: h.at_text.clone(),
        of: u.of.to_string(),
    }));
    Some(r)
}

/// Why the initial time is not in the declared domain of the unknown's variable (the prover
/// may use that domain's facts for the ODE, which must hold on the whole way from the initial
/// time), if it is not.
fn initial_time_outside(d: &Derivation, u: &Unknown, h: &Hypotheses) -> Option<String> {
    use super::file::Kind;
    let kind = d.symbols.iter().find(|(s, _)| *s == u.of).map(|(_, k)| k)?;
    let inside = |t0: f64| match kind {
        Kind::Interval(a, b) => *a <= t0 && t0 <= *b,
        // The ODE proved for t > 0 holds on (0, t]; the initial condition at 0 is a value.
        Kind::Positive => t0 >= 0.0,
        _ => true,
    };
    // The initial time at every sample point (it may name other symbols: y(a) with a in
    // [−2, −1]); where it cannot be evaluated, it is not known to be inside.
    for k in 0..POINTS {
        let env = point_retry(d, k, 0);
        let t0 = Evaluator::new(&env).eval(&h.at).map(|v| v.value);
        let (t, at) = (u.of, &h.at_text);
        let why = match t0 {
            Ok(t0) if t0.is_finite() && inside(t0) => continue,
            Ok(t0) if t0.is_finite() => {
                format!("the initial time {t} = {at} is {t0} at a sample point, outside {t}'s declared domain")
            }
            _ => format!("the initial time {t} = {at} is not evaluated at a sample point, so it is not known to lie in {t}'s declared domain"),
        };
        return Some(format!(
            "{why}, where the prover may have used facts about {t} that do not hold on the way from it"
        ));
    }
    None
}

/// Samples of the claimed solution along the way from the initial time to a point's t.
pub const PATH_SAMPLES: usize = 256;
/// The largest sampled peaks of |solution| refined by golden section, looking for a pole.
pub const PEAKS: usize = 8;
/// Golden-section steps of that refinement (the bracket shrinks to 10⁻²⁵ of two samples' span,
/// below f64's resolution: a pole is approached until |y| overflows or stops growing).
pub const PEAK_STEPS: usize = 120;

/// Why the term `id` of `e` is not known to be defined and continuous in `t` at every t, if it
/// is not: built of +, −, ×, @, max, min, |·|, relu, leaky relu, natural powers, division by
/// terms free of t, √ of a term ≥ 0 by its form, exp, mexp, transpose, sin, cos, atan, erf, tanh,
/// sigmoid, softplus, gelu, cosh, sinh, entries and finite sums whose ranges are free of t (a
/// subterm free of t is a constant there).
fn discontinuous_in_time(e: &Expr, id: egg::Id, t: egg::Symbol) -> Option<String> {
    let mentions = |i: egg::Id| binders::free_symbols(e, i).contains(&t);
    if !mentions(id) {
        return None;
    }
    let all = |ids: &[egg::Id]| ids.iter().find_map(|c| discontinuous_in_time(e, *c, t));
    match &e[id] {
        Math::Num(_) | Math::Symbol(_) => None,
        Math::Add([a, b])
        | Math::Sub([a, b])
        | Math::Mul([a, b])
        | Math::MatMul([a, b])
        | Math::Max([a, b])
        | Math::Min([a, b])
        | Math::LeakyRelu([a, b]) => all(&[*a, *b]),
        Math::Div([a, b]) if !mentions(*b) => discontinuous_in_time(e, *a, t),
        Math::Div(_) => Some(format!("a division by a term in {t}")),
        Math::Pow([a, b]) => match &e[*b] {
            Math::Num(c)
                if c.0.is_integer() && c.0 >= num_rational::BigRational::from_integer(0.into()) =>
            {
                discontinuous_in_time(e, *a, t)
            }
            _ => Some(format!(
                "a power of a term in {t} that is not a natural number"
            )),
        },
        Math::Sqrt(a) if crate::prove::theories::calculus::nonnegative_form(e, *a) => {
            discontinuous_in_time(e, *a, t)
        }
        node if crate::prove::theories::calculus::entire_unary(node).is_some() => {
            let a = crate::prove::theories::calculus::entire_unary(node).expect("checked");
            discontinuous_in_time(e, a, t)
        }
        Math::Index(args) if !args.iter().any(|a| mentions(*a)) => None,
        Math::Sum([v, lo, hi, body])
            if e[*v].symbol() != Some(t) && !mentions(*lo) && !mentions(*hi) =>
        {
            discontinuous_in_time(e, *body, t)
        }
        _ => Some(format!(
            "`{}`",
            crate::expr::text(&binders::subterm(e, id))
                .chars()
                .take(40)
                .collect::<String>()
        )),
    }
}

/// A pole (or an undefined value) of the claimed solution between the initial time and the t of
/// a sample point, if any: beyond it, the substitution proves nothing (y′ = y², y(0) = 1 has
/// the solution 1/(1 − t) only for t < 1). Found where the claimed solution is not finite at a
/// sample of the way, or changes sign across a bisected interval where it grows past 10⁶ times
/// its largest sampled size.
fn pole_on_path(d: &Derivation, u: &Unknown, h: &Hypotheses, candidate: &Expr) -> Option<String> {
    // A matrix-valued solution is evaluated as uᵀF(t)v for seeded random u, v: a pole of any
    // entry is a pole of that form, for almost every u, v.
    for k in 0..POINTS {
        let env = point_retry(d, k, 0);
        let (Some(&t1), Ok(t0)) = (
            env.scalars.get(&u.of),
            Evaluator::new(&env).eval(&h.at).map(|v| v.value),
        ) else {
            continue;
        };
        if !t0.is_finite() || !t1.is_finite() {
            continue;
        }
        // The value there: `Err` where it is undefined (NaN, outside a domain), `Ok(None)`
        // where it overflows f64 (e^(−kt) at t = −7·10⁵ is defined, only large).
        let value = |t: f64| -> Result<Option<f64>, ()> {
            let mut e = env.clone();
            e.scalars.insert(u.of, t);
            // A NaN decides nothing (0·∞ after an overflow is NaN, though the product is 0);
            // an error of the evaluator (outside a domain) is an undefined value.
            match Evaluator::new(&e).eval(candidate) {
                Ok(v) if v.value.is_finite() => Ok(Some(v.value)),
                Ok(_) | Err(crate::numeric::eval::EvalError::Budget(_)) => Ok(None),
                Err(_) => Err(()),
            }
        };
        let g = |t: f64| value(t).ok().flatten();
        let xs: Vec<f64> = (0..=PATH_SAMPLES)
            .map(|i| t0 + (t1 - t0) * i as f64 / PATH_SAMPLES as f64)
            .collect();
        let mut ys: Vec<Option<f64>> = Vec::with_capacity(xs.len());
        for x in &xs {
            match value(*x) {
                Ok(y) => ys.push(y),
                Err(()) => {
                    return Some(format!(
                        "the claimed solution is not defined at {} = {:.6e}, between the initial time and a sampled {}",
                        u.of, x, u.of
                    ))
                }
            }
        }
        let largest = ys.iter().flatten().fold(0.0f64, |m, y| m.max(y.abs()));
        let pole = |at: f64| {
            format!(
                "the claimed solution has a pole at {} ≈ {:.6e}, between the initial time and a sampled {}: substitution proves it only up to there",
                u.of, at, u.of
            )
        };
        // A sample that overflows between two that do not: the solution is infinite there
        // (1/(1 − t)² at t = 1 exactly), not merely large on a whole stretch (e^(−kt) far out).
        let infinite = |t: f64| {
            let mut e = env.clone();
            e.scalars.insert(u.of, t);
            Evaluator::new(&e)
                .eval(candidate)
                .is_ok_and(|v| v.value.is_infinite())
        };
        for i in 1..ys.len().saturating_sub(1) {
            if ys[i].is_none() && ys[i - 1].is_some() && ys[i + 1].is_some() && infinite(xs[i]) {
                return Some(pole(xs[i]));
            }
        }
        // The largest peaks of |y| among the samples, refined: near a pole |y| grows without
        // bound whether or not the solution changes sign there (1/(1 − t)² does not), while a
        // smooth peak refined stays about as large as sampled.
        let mut peaks: Vec<(f64, usize)> = (1..ys.len().saturating_sub(1))
            .filter_map(|i| {
                let y = ys[i]?.abs();
                let side = |j: usize| ys[j].map_or(0.0, f64::abs);
                (y >= side(i - 1) && y >= side(i + 1) && y > 0.0).then_some((y, i))
            })
            .collect();
        peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
        peaks.truncate(PEAKS);
        // 1/|y|, 0 where y is infinite; the search stops where the solution has no value or
        // the evaluation is refused (its term budget).
        let inverse = |t: f64| {
            let mut e = env.clone();
            e.scalars.insert(u.of, t);
            match Evaluator::new(&e).eval(candidate) {
                Ok(v) if v.value.is_infinite() => Some(0.0),
                Ok(v) if v.value.is_finite() => Some(1.0 / v.value.abs()),
                _ => None,
            }
        };
        for (y, i) in peaks {
            let (least, at) = crate::numeric::features::golden_min(
                inverse,
                (xs[i - 1], xs[i + 1]),
                (1.0 / y, xs[i]),
                PEAK_STEPS,
            );
            if least * 1e6 * largest.max(f64::MIN_POSITIVE) < 1.0 {
                return Some(pole(at));
            }
        }
        for i in 0..ys.len() {
            let Some(y) = ys[i] else {
                continue;
            };
            let Some(y1) = ys.get(i + 1).copied().flatten() else {
                continue;
            };
            if y.signum() == y1.signum() || y == 0.0 || y1 == 0.0 {
                continue;
            }
            // A sign change: a zero, or a pole? Bisect and look at the size there.
            let (mut a, mut b, ya) = (xs[i], xs[i + 1], y);
            let mut peak = 0.0f64;
            for _ in 0..60 {
                let m = 0.5 * (a + b);
                if m == a || m == b {
                    break;
                }
                match g(m) {
                    Some(ym) => {
                        peak = peak.max(ym.abs());
                        if ym.signum() == ya.signum() {
                            a = m;
                        } else {
                            b = m;
                        }
                    }
                    None => {
                        peak = f64::INFINITY;
                        break;
                    }
                }
            }
            if peak > 1e6 * largest.max(f64::MIN_POSITIVE) {
                return Some(format!(
                    "the claimed solution has a pole at {} ≈ {:.6e}, between the initial time and a sampled {}: substitution proves it only up to there",
                    u.of,
                    0.5 * (a + b),
                    u.of
                ));
            }
        }
    }
    None
}

/// The unknown integrated from its initial time to every point's t, compared with the
/// candidate there (the unknown on the left if `left`).
fn integrate(
    d: &Derivation,
    u: &Unknown,
    h: &Hypotheses,
    candidate: &Expr,
    left: bool,
    sides: &SideValues,
) -> Evidence {
    let mut ev = Evidence {
        methods: vec![Method::Integration],
        ..Evidence::default()
    };
    for m in methods(&[candidate, &h.ode, &h.value]) {
        if !ev.methods.contains(&m) {
            ev.methods.push(m);
        }
    }
    let mut used = used_symbols(&[candidate, &h.ode, &h.value, &h.at]);
    used.retain(|s| *s != u.name);
    if !used.contains(&u.of) {
        used.push(u.of);
    }
    // The same unknown at the same points is integrated once per check (links that compare it
    // with different candidates read it from `sides`).
    let points = sides.points(d);
    let at = |k: usize| -> (Result<PointResult, Skip>, bool) {
        for shrink in 0..=MAX_SHRINK {
            if let Some(why) = retry_lost(d, k, shrink, &used) {
                return (Err(why.into()), false);
            }
            let env = point_retry(d, k, shrink);
            let solved = points.solution(k, shrink, u, h, || solve(&env, u, h));
            match compare_solution(candidate, left, solved) {
                Err(PointError::Budget(_)) if shrink < MAX_SHRINK => continue,
                Err(e) => return (Err(Skip::new(e, d, &env, &used)), false),
                Ok(point) => return (Ok(PointResult::at(d, &env, &used, point)), false),
            }
        }
        unreachable!("the last shrink returns")
    };
    gather(&mut ev, at, false);
    ev
}

/// A matrix as a column-major vector, and back.
fn flatten(m: &DMatrix<f64>) -> DVector<f64> {
    DVector::from_column_slice(m.as_slice())
}

fn unflatten(y: &DVector<f64>) -> DMatrix<f64> {
    DMatrix::from_column_slice(MATRIX_DIM, MATRIX_DIM, y.as_slice())
}

/// At one point: the unknown integrated from its initial time to the point's t ([`solve`]),
/// compared with the candidate.
fn compare_solution(
    candidate: &Expr,
    left: bool,
    solved: Result<(Value, Env), PointError>,
) -> Result<(Value, Value, Comparison), PointError> {
    let (value, env) = solved?;
    let g = side(&env, candidate, "claimed solution")?;
    let (l, r) = if left { (value, g) } else { (g, value) };
    Ok((l, r, compare(l, r, POINTS)))
}

/// At one point: the unknown integrated from its initial time to the point's t (its value, with
/// the integrator's error estimate as its standard error), and the point with t set and the
/// matrices the integration drew (where the candidate is evaluated).
pub(super) fn solve(env: &Env, u: &Unknown, h: &Hypotheses) -> Result<(Value, Env), PointError> {
    let Some(&t1) = env.scalars.get(&u.of) else {
        return Err(PointError::Other(format!(
            "`{}` has no value at this point",
            u.of
        )));
    };
    let mut env = env.clone();
    if u.matrix {
        env.matrices.push(u.name);
    }
    let t0 = side(&env, &h.at, "initial time")?.value;
    let y0 = if u.matrix {
        let (m, _, _) = Evaluator::new(&env)
            .eval_matrix(&h.value)
            .map_err(|e| PointError::Other(format!("the initial value: {e}")))?;
        flatten(&m)
    } else {
        DVector::from_element(1, side(&env, &h.value, "initial value")?.value)
    };
    if y0.iter().any(|x| !x.is_finite()) {
        return Err(PointError::Other(
            "the initial value is not finite at some points".into(),
        ));
    }
    // The ODE's other matrices are the same at every step: drawn once.
    for s in binders::free_symbols(&h.ode, binders::root(&h.ode)) {
        if s != u.name && env.matrices.contains(&s) && !env.given_matrices.contains_key(&s) {
            let Ok(e) = s.as_str().parse::<Expr>() else {
                continue;
            };
            if let Ok((m, _, err)) = Evaluator::new(&env).eval_matrix(&e) {
                env.given_matrices.insert(s, (m, err));
            }
        }
    }
    let knots = time_knots(&env, u, h, t0, t1)?;
    let cell = RefCell::new(env);
    let calls = Cell::new(0usize);
    let failure: RefCell<Option<PointError>> = RefCell::new(None);
    let rhs = |s: f64, y: &DVector<f64>| -> DVector<f64> {
        let nan = DVector::from_element(y.len(), f64::NAN);
        if failure.borrow().is_some() {
            return nan;
        }
        if calls.get() >= ODE_MAX_EVALUATIONS {
            *failure.borrow_mut() = Some(PointError::Other(format!(
                "the integration of d{}/d{} from {} = {} to {} = {t1} needs more than {ODE_MAX_EVALUATIONS} evaluations of the right side (stiff or fast-growing at this point)",
                u.name, u.of, u.of, h.at_text, u.of
            )));
            return nan;
        }
        calls.set(calls.get() + 1);
        {
            let mut env = cell.borrow_mut();
            env.scalars.insert(u.of, s);
            if u.matrix {
                env.given_matrices.insert(u.name, (unflatten(y), 0.0));
            } else {
                env.scalars.insert(u.name, y[0]);
            }
        }
        let env = cell.borrow();
        let mut ev = Evaluator::new(&env);
        let out = if u.matrix {
            ev.eval_matrix(&h.ode).map(|(m, _, _)| flatten(&m))
        } else {
            ev.eval(&h.ode).map(|v| DVector::from_element(1, v.value))
        };
        match out {
            Ok(v) => v,
            Err(e) => {
                *failure.borrow_mut() = Some(PointError::Other(format!(
                    "the right side of the ODE at {} = {s}: {e}",
                    u.of
                )));
                nan
            }
        }
    };
    // The first attempt's steps from a Lipschitz estimate of the right side at the start (a
    // difference quotient along a fixed direction), so that a stiff point is not halved 16 times.
    let f0 = rhs(t0, &y0);
    let delta = 1e-6 * y0.amax().max(1.0);
    let dir = DVector::from_fn(y0.len(), |i, _| 1.0 / (1.0 + i as f64));
    let f1 = rhs(t0, &(&y0 + &dir * delta));
    let lipschitz = (&f1 - &f0).amax() / (dir.amax() * delta);
    let span = (t1 - t0).abs();
    let wanted = (lipschitz * span).ceil();
    if let Some(e) = failure.borrow_mut().take() {
        return Err(e);
    }
    if !wanted.is_finite() || wanted * 12.0 > ODE_MAX_EVALUATIONS as f64 {
        return Err(PointError::Other(format!(
            "the integration of d{}/d{} from {} = {} to {} = {t1} needs more than {ODE_MAX_EVALUATIONS} evaluations of the right side (|∂F/∂{}|·|{} − {}| ≈ {wanted:.1e}: stiff or fast-growing at this point)",
            u.name, u.of, u.of, h.at_text, u.of, u.name, u.of, h.at_text
        )));
    }
    let steps0 = (wanted as usize).max(ODE_FIRST_STEPS);
    // Piece by piece between the knots, each piece's first attempt with its share of the steps
    // (at least 2), the pieces' error estimates added.
    let solved = knots
        .windows(2)
        .try_fold((y0.clone(), 0.0), |(y, error), piece| {
            let share = (steps0 as f64 * (piece[1] - piece[0]).abs() / span).ceil();
            let steps = (share as usize).max(2);
            crate::numeric::ode::rk4_checked(&rhs, &y, piece[0], piece[1], steps, ODE_TOLERANCE)
                .map(|(y, e)| (y, error + e))
        });
    let mut env = cell.into_inner();
    let (y, error) = match (solved, failure.into_inner()) {
        (_, Some(e)) => return Err(e),
        (Err(e), None) => {
            return Err(PointError::Other(format!(
                "the integration of d{}/d{} from {} = {} to {} = {t1} failed: {e}",
                u.name, u.of, u.of, h.at_text, u.of
            )))
        }
        (Ok(found), None) => found,
    };
    env.scalars.insert(u.of, t1);
    // The Richardson estimate vanishes where both attempts round or underflow to the same
    // numbers (a solution decaying to 1e-300): the accuracy asked of the integrator relative to
    // the larger of the initial and final values is added, so that an error estimate of 0 never
    // stands for an exact value.
    let error = error + ODE_TOLERANCE * y0.amax().max(y.amax());
    let value = if u.matrix {
        // The error estimate bounds each entry; the evaluator's is the sum over the entries.
        let n = (MATRIX_DIM * MATRIX_DIM) as f64;
        env.given_matrices
            .insert(u.name, (unflatten(&y), error * n));
        let mut f = Expr::default();
        f.add(Math::Symbol(u.name));
        side(&env, &f, "integrated solution")?
    } else {
        env.scalars.remove(&u.name);
        Value {
            value: y[0],
            scale: y[0].abs(),
            stderr: error,
        }
    };
    Ok((value, env))
}

/// Where the integration of an unknown from `t0` to `t1` breaks its range: at the zeros of the
/// subterms of the right side that shape features (`Evaluator::quadrature_subterms`: arguments
/// of functions, denominators, non-polynomial power bases) and vary with time alone (not with
/// the unknown), and at the
/// extrema of those a function may amplify (`numeric::eval::amplified_subterms`), with pieces
/// graded towards each, as a quadrature cuts an integral (`numeric::features`). A spike of the
/// right side sits at such a zero (−10⁴·exp(−10¹⁰·(sin 100t − ½)²)·y): fixed RK4 steps step
/// over it, at both step sizes the error estimate compares, and y ≡ y₀ was `consistent`. A
/// subterm with more zeros than are cut at leaves the point not evaluated. The knots run from
/// `t0` to `t1` (downwards when `t1 < t0`).
fn time_knots(
    env: &Env,
    u: &Unknown,
    h: &Hypotheses,
    t0: f64,
    t1: f64,
) -> Result<Vec<f64>, PointError> {
    use crate::numeric::features::{quadrature_cuts, ZERO_GRID};
    let (lo, hi) = (t0.min(t1), t0.max(t1));
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return Ok(vec![t0, t1]);
    }
    let e = &h.ode;
    let ids = Evaluator::quadrature_subterms(e, binders::root(e), |i| {
        let free = binders::free_symbols(e, i);
        free.contains(&u.of) && !free.contains(&u.name)
    });
    let subterms: Vec<Expr> = ids.iter().map(|i| binders::subterm(e, *i)).collect();
    let amplified = crate::numeric::eval::amplified_subterms(e, binders::root(e));
    let mut probe = env.clone();
    let cuts = quadrature_cuts(
        &(0..subterms.len()).collect::<Vec<_>>(),
        lo,
        hi,
        ZERO_GRID,
        |k| amplified.binary_search(&ids[k]).is_ok(),
        |k, x| {
            probe.scalars.insert(u.of, x);
            Evaluator::new(&probe)
                .eval(&subterms[k])
                .ok()
                .map(|v| v.value)
                .filter(|v| v.is_finite())
        },
    )
    .map_err(|(k, why)| {
        PointError::Other(format!(
            "the right side of d{}/d{} has a subterm, `{}`, that {why}: the integration from {} = {} to {} = {t1} would step over features at its zeros or extrema",
            u.name,
            u.of,
            text(&subterms[k]),
            u.of,
            h.at_text,
            u.of
        ))
    })?;
    let mut knots: Vec<f64> = std::iter::once(lo)
        .chain(cuts.graded(lo, hi))
        .chain(std::iter::once(hi))
        .collect();
    if t1 < t0 {
        knots.reverse();
    }
    Ok(knots)
}

/// Why a substitution into an ODE's terms failed, as a clause.
fn unfold_failure(e: binders::UnfoldError) -> String {
    match e {
        binders::UnfoldError::Capture(d, b) => {
            format!("`{b}` in what replaces `{d}` would be captured by a binder")
        }
        binders::UnfoldError::TooLarge(d) => {
            format!("substituting `{d}` makes the term larger than the node budget")
        }
        binders::UnfoldError::DerivativeVariable(x) => format!(
            "`{x}` is the variable of a derivative in it (write the derivative out, or name its variable apart)"
        ),
    }
}

/// What a partial function of the claimed solution needs of its argument to be defined there.
enum Needs {
    /// Not 0: a denominator, the base of a negative power, the cosine under a tangent.
    NonZero,
    /// Positive: the argument of log and of √ (no derivative at 0), 1 − x² under asin and acos
    /// (none at ±1), the base of a power that is not an integer and is below 1.
    Positive,
    /// Not negative: the base of a power above 1 that is not an integer.
    NonNegative,
}

/// The first condition that a partial function of `candidate` needs at every `t` to be defined
/// and differentiable (a denominator ≠ 0, cos(x) ≠ 0 under tan(x), log's and √'s argument > 0,
/// |x| < 1 under asin and acos, the base of a power that is not an integer > 0 below power 1
/// and ≥ 0 above) that varies with `t` and that the
/// bounds of the prover do not show (every theory), in text. One that is only ≥ 0 may vanish
/// with its numerator and jump there: relu(t − c)²/(t − c)² is step(t − c); one not shown at
/// all may fail beyond every sampled t (tan(10⁻⁷·t) has a pole at t ≈ 1.6·10⁷).
fn domain_not_shown(candidate: &Expr, t: egg::Symbol, ctx: &Context) -> Option<String> {
    use crate::prove::{prove_bound, Limits, Theory};
    use num_rational::BigRational;
    let exponent =
        |k: egg::Id| crate::prove::analysis::exact_value(&binders::subterm(candidate, k));
    let sub = |i: egg::Id| binders::subterm(candidate, i);
    // 1 − x², built from x.
    let one_minus_square = |x: egg::Id| {
        let mut e = sub(x);
        let root = binders::root(&e);
        let two = e.add(Math::Num(crate::expr::Constant::int(2)));
        let sq = e.add(Math::Pow([root, two]));
        let one = e.add(Math::Num(crate::expr::Constant::int(1)));
        e.add(Math::Sub([one, sq]));
        e
    };
    let mut conditions: Vec<(Expr, Needs, String)> = candidate
        .as_ref()
        .iter()
        .filter_map(|n| match n {
            Math::Div([_, b]) => Some((
                sub(*b),
                Needs::NonZero,
                format!("divides by {}, not shown ≠ 0", text(&sub(*b))),
            )),
            Math::Pow([a, k]) => match exponent(*k) {
                Some(q) if q.is_integer() && q >= BigRational::from_integer(0.into()) => None,
                // x^k with k < 0 divides by a power of x.
                Some(q) if q.is_integer() => Some((
                    sub(*a),
                    Needs::NonZero,
                    format!("divides by a power of {}, not shown ≠ 0", text(&sub(*a))),
                )),
                // x^q for 0 < q < 1 has no derivative at x = 0 (a solution is differentiable).
                Some(q)
                    if q > BigRational::from_integer(0.into())
                        && q < BigRational::from_integer(1.into()) =>
                {
                    Some((
                        sub(*a),
                        Needs::Positive,
                        format!(
                            "takes a power {q} of {}, not shown > 0 (no derivative at 0)",
                            text(&sub(*a))
                        ),
                    ))
                }
                Some(q) if q > BigRational::from_integer(0.into()) => Some((
                    sub(*a),
                    Needs::NonNegative,
                    format!("takes a power {q} of {}, not shown ≥ 0", text(&sub(*a))),
                )),
                _ => Some((
                    sub(*a),
                    Needs::Positive,
                    format!("takes a power of {}, not shown > 0", text(&sub(*a))),
                )),
            },
            Math::Tan(a) => {
                let mut c = sub(*a);
                let root = binders::root(&c);
                c.add(Math::Cos(root));
                let shown = text(&c);
                Some((
                    c,
                    Needs::NonZero,
                    format!(
                        "takes tan({}), with a pole where {shown} = 0: {shown} not shown ≠ 0",
                        text(&sub(*a))
                    ),
                ))
            }
            Math::Log(a) => Some((
                sub(*a),
                Needs::Positive,
                format!("takes log({0}): {0} not shown > 0", text(&sub(*a))),
            )),
            // A solution of an ODE is differentiable: √ at 0, asin and acos at ±1 are places
            // where it may not be (√((1 − 10⁻⁷t)²) is |1 − 10⁻⁷t|, which solves y′ = −10⁻⁷
            // only up to t = 10⁷). (A kink of |·|, relu, max or min written as such is left to
            // the numerics: t·|t| is smooth, and exp(−t·|t|/2) a solution.)
            Math::Sqrt(a) => Some((
                sub(*a),
                Needs::Positive,
                format!(
                    "takes √({0}): {0} not shown > 0 (no derivative at 0)",
                    text(&sub(*a))
                ),
            )),
            Math::Asin(a) | Math::Acos(a) => Some((
                one_minus_square(*a),
                Needs::Positive,
                format!(
                    "takes {}({1}): |{1}| not shown < 1 (no derivative at ±1)",
                    n.unary_name().unwrap_or("asin"),
                    text(&sub(*a))
                ),
            )),
            _ => None,
        })
        .filter(|(b, _, _)| binders::free_symbols(b, binders::root(b)).contains(&t))
        .collect();
    conditions.dedup_by(|a, b| a.0.as_ref() == b.0.as_ref());
    let bound_in = |e: &Expr, strict: bool, ctx: &Context| {
        prove_bound(e, strict, &Theory::ALL, ctx, Limits::default())
            .is_ok_and(|(proof, _)| proof.is_some())
    };
    // Shown as it stands, or on both halves of a symbol's declared interval (1 − p₀ + p₀·eᵗ for
    // p₀ in [0, 1]: 1 − p₀ ≥ ½ on one half, p₀·eᵗ ≥ ½ on the other; interval bounds alone
    // see only a lower bound of 0 + 0).
    let shown = |e: &Expr, strict: bool| {
        bound_in(e, strict, ctx)
            || binders::free_symbols(e, binders::root(e))
                .iter()
                .filter_map(|s| ctx.intervals.get(s).map(|iv| (*s, iv.clone())))
                .any(|(s, (lo, hi))| {
                    let mid = (&lo + &hi) / BigRational::from_integer(2.into());
                    [(lo, mid.clone()), (mid, hi)].into_iter().all(|half| {
                        let mut narrowed = ctx.clone();
                        narrowed.intervals.insert(s, half);
                        bound_in(e, strict, &narrowed)
                    })
                })
    };
    conditions.into_iter().find_map(|(b, needs, why)| {
        let ok = match needs {
            Needs::Positive => shown(&b, true),
            Needs::NonNegative => shown(&b, false),
            Needs::NonZero => {
                let mut neg = b.clone();
                let root = binders::root(&neg);
                neg.add(Math::Neg(root));
                shown(&b, true) || shown(&neg, true)
            }
        };
        (!ok).then_some(why)
    })
}
