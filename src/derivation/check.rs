//! Checking a derivation link by link: the prover and the numeric checker run independently;
//! their answers are combined here into a [`Verdict`].

use num_rational::BigRational;
use std::fmt;

use super::file::{Derivation, Expect, Kind};
use super::sample::{describe, point_scaled, used_symbols, MAX_SHRINK, POINTS};
use crate::expr::{Expr, Math};
use crate::numeric::eval::{Env, EvalError, Evaluator, Value};
use crate::numeric::tolerance::{compare, compare_difference, Comparison};

/// Fewest points (of [`POINTS`]) at which both sides must evaluate to finite values for a link
/// to count as checked numerically: `proved` needs them (else `unchecked`), `consistent` needs
/// them (else `unknown`). Two thirds of the points: a link may be undefined on part of a wide
/// domain (a root of a negative number, an overflow), but not on most of it.
pub const MIN_POINTS: usize = 8;
use crate::numeric::precise::{BITS, PRECISE_METHOD};
use crate::prove::{prove, Context, Limits, Outcome, Stats, Unsound};

/// The verdict on one link. Never a bool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The e-graph proved it and the numerics agree at at least [`MIN_POINTS`] points.
    Proved,
    /// The e-graph proved it, but fewer than [`MIN_POINTS`] points could be evaluated: a proof
    /// with no numeric evidence, which a file must expect explicitly (`expect = "unchecked"`).
    Unchecked,
    /// No proof with the cited theories, but the numerics agree at every point.
    Consistent,
    /// A point where the two sides differ beyond the tolerance.
    Refuted,
    /// Neither a proof nor a decision from the numerics.
    Unknown,
    /// Holds as a width goes to infinity, at the expected rate (a width study).
    Limit,
}

impl Verdict {
    /// The verdict's name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Proved => "proved",
            Verdict::Unchecked => "unchecked",
            Verdict::Consistent => "consistent",
            Verdict::Refuted => "refuted",
            Verdict::Unknown => "unknown",
            Verdict::Limit => "limit",
        }
    }
    /// Is this the verdict a file expects?
    pub fn matches(self, e: Expect) -> bool {
        self.name() == e.name()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    pub methods: Vec<&'static str>,
    /// For a limit link: the width study.
    pub limit: Option<super::limit::LimitEvidence>,
}

impl Evidence {
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

/// The result of checking one link `chain[k-1] = chain[k]`.
#[derive(Debug, Clone)]
pub struct LinkResult {
    /// Index of the link's right side in the chain (1-based link number).
    pub index: usize,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict the file expects.
    pub expect: Expect,
    /// What the prover found (`None` for a limit link, which is not an identity).
    pub outcome: Option<Outcome>,
    /// Prover figures.
    pub stats: Stats,
    /// Numeric evidence.
    pub evidence: Evidence,
    /// For refuted links: what seems to be wrong.
    pub diagnosis: Option<String>,
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
        self.links.iter().all(|l| l.verdict.matches(l.expect))
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
                if let (Some(a), Some(b)) =
                    (BigRational::from_float(*a), BigRational::from_float(*b))
                {
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
    let mut ev = Evidence {
        methods: methods(&[lhs, rhs]),
        ..Evidence::default()
    };
    let used = used_symbols(&[lhs, rhs]);
    let difference = merged_difference(lhs, rhs);
    for k in 0..POINTS {
        let mut outcome = Err(String::new());
        for shrink in 0..=MAX_SHRINK {
            let env = point_scaled(d, k, shrink);
            // High precision (src/numeric/precise.rs): where both sides evaluate in ball
            // arithmetic at 128 bits, that comparison decides the point; otherwise f64 below.
            if let Ok((l, r, c)) = crate::numeric::precise::compare_sides(lhs, rhs, &env, BITS) {
                let (lhs, rhs, cmp) = crate::numeric::precise::as_point(&l, &r, &c);
                let at = describe(d, &env, Some(&used));
                outcome = Ok(PointResult { at, lhs, rhs, cmp });
                if !ev.methods.contains(&PRECISE_METHOD) {
                    ev.methods.push(PRECISE_METHOD);
                }
                break;
            }
            match evaluate_point(&env, lhs, rhs, difference.as_ref()) {
                Err(PointError::Budget(_)) if shrink < MAX_SHRINK => continue,
                Err(e) => {
                    outcome = Err(e.to_string());
                    break;
                }
                Ok((l, r, cmp)) => {
                    outcome = Ok(PointResult {
                        at: describe(d, &env, Some(&used)),
                        lhs: l,
                        rhs: r,
                        cmp,
                    });
                    break;
                }
            }
        }
        match outcome {
            Ok(p) => ev.points.push(p),
            Err(why) => {
                ev.skipped_count += 1;
                if ev.skipped.is_none() {
                    ev.skipped = Some(why);
                }
            }
        }
    }
    ev
}

enum PointError {
    Budget(String),
    Other(String),
}

impl fmt::Display for PointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointError::Budget(s) | PointError::Other(s) => f.write_str(s),
        }
    }
}

fn side(env: &Env, e: &Expr, name: &str) -> Result<Value, PointError> {
    match Evaluator::new(env).eval(e) {
        Ok(v) if v.value.is_finite() => Ok(v),
        Ok(v) => Err(PointError::Other(format!(
            "the {name} is not finite ({}) at some points",
            v.value
        ))),
        Err(e @ EvalError::Budget(_)) => Err(PointError::Budget(e.to_string())),
        Err(e) => Err(PointError::Other(e.to_string())),
    }
}

/// Both sides at one point, compared. The comparison of statistical sides is made on the merged
/// difference when there is one (see [`numeric_check`]).
fn evaluate_point(
    env: &Env,
    lhs: &Expr,
    rhs: &Expr,
    difference: Option<&Expr>,
) -> Result<(Value, Value, Comparison), PointError> {
    let l = side(env, lhs, "lhs")?;
    let r = side(env, rhs, "rhs")?;
    if l.stderr > 0.0 || r.stderr > 0.0 {
        if let Some(diff) = difference {
            let dv = side(env, diff, "difference lhs − rhs")?;
            return Ok((l, r, compare_difference(dv, l, r, POINTS)));
        }
    }
    Ok((l, r, compare(l, r, POINTS)))
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

/// Which numeric methods evaluating these terms involves.
fn methods(terms: &[&Expr]) -> Vec<&'static str> {
    use crate::expr::Math;
    let mut out = vec![];
    let mut add = |m: &'static str| {
        if !out.contains(&m) {
            out.push(m)
        }
    };
    for t in terms {
        for n in t.as_ref() {
            match n {
                Math::Expect(_) => add("exact Gaussian moments or Monte Carlo"),
                Math::Gauss(_) => add("quadrature"),
                Math::Deriv(_) => add("Richardson differences"),
                Math::MatMul(_) | Math::MatExp(_) => add("random matrices"),
                _ => {}
            }
        }
    }
    out
}

/// Check every link of `d`.
pub fn check(d: &Derivation) -> Result<Report, Unsound> {
    let ctx = context(d);
    let mut links = vec![];
    for k in 1..d.chain.len() {
        if d.chain[k].is_link() {
            links.push(check_link(d, &ctx, k)?);
        }
    }
    Ok(Report { links })
}

/// Check the link from `d.chain[k - 1]` to `d.chain[k]` (`k ≥ 1`, and `d.chain[k]` is a link).
pub fn check_link(d: &Derivation, ctx: &Context, k: usize) -> Result<LinkResult, Unsound> {
    let (a, b) = (&d.chain[k - 1], &d.chain[k]);
    if let Some(width) = b.limit {
        let study = super::limit::study(d, &a.expr, &b.expr, width, b.rate, b.resolution);
        let verdict = if study.holds() {
            Verdict::Limit
        } else if study.failure().is_some() {
            Verdict::Refuted
        } else {
            Verdict::Unknown
        };
        return Ok(LinkResult {
            index: k,
            verdict,
            expect: b.expect,
            outcome: None,
            stats: Stats::default(),
            evidence: Evidence {
                methods: vec!["width study"],
                limit: Some(study),
                ..Evidence::default()
            },
            diagnosis: None,
        });
    }
    let (outcome, stats) = prove(&a.expr, &b.expr, &b.by, ctx, Limits::default())?;
    let evidence = numeric_check(d, &a.expr, &b.expr);
    let cex = evidence.counterexample().is_some();
    let proved = matches!(outcome, Outcome::Proved(_));
    if proved && cex {
        let p = evidence.counterexample().unwrap();
        return Err(Unsound(format!(
            "link {k} of `{}` was proved but the sides differ at {}: {} vs {}",
            d.id, p.at, p.lhs.value, p.rhs.value
        )));
    }
    let checked = evidence.points.len() >= MIN_POINTS;
    let verdict = match (proved, cex, checked) {
        (true, _, true) => Verdict::Proved,
        (true, _, false) => Verdict::Unchecked,
        (false, true, _) => Verdict::Refuted,
        (false, false, true) => Verdict::Consistent,
        (false, false, false) => Verdict::Unknown,
    };
    let diagnosis = if verdict == Verdict::Refuted {
        super::diagnose::diagnose(&evidence, &outcome)
    } else {
        None
    };
    Ok(LinkResult {
        index: k,
        verdict,
        expect: b.expect,
        outcome: Some(outcome),
        stats,
        evidence,
        diagnosis,
    })
}
