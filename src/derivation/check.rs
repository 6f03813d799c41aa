//! Checking a derivation link by link: the prover and the numeric checker run independently;
//! their answers are combined here into a [`Verdict`].

use std::fmt;

use super::file::{Derivation, Expect, Kind};
use super::sample::{describe, point, used_symbols, POINTS};
use crate::expr::Expr;
use crate::numeric::eval::{Evaluator, Value};
use crate::numeric::tolerance::{compare, Comparison};
use crate::prove::{prove, Context, Limits, Outcome, Stats, Unsound};

/// The verdict on one link. Never a bool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The e-graph proved it and the numerics agree.
    Proved,
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
            ra.partial_cmp(&rb).unwrap_or(std::cmp::Ordering::Equal)
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
        match k {
            Kind::Positive | Kind::Size => {
                ctx.positive.insert(*s);
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
            Kind::Interval(a, _) if *a > 0.0 => {
                ctx.positive.insert(*s);
            }
            _ => {}
        }
    }
    ctx
}

/// Evaluate both sides at the derivation's points.
pub fn numeric_check(d: &Derivation, lhs: &Expr, rhs: &Expr) -> Evidence {
    let mut ev = Evidence {
        methods: methods(&[lhs, rhs]),
        ..Evidence::default()
    };
    let used = used_symbols(&[lhs, rhs]);
    for k in 0..POINTS {
        let env = point(d, k);
        let l = Evaluator::new(&env).eval(lhs);
        let r = Evaluator::new(&env).eval(rhs);
        match (l, r) {
            (Ok(l), Ok(r)) => ev.points.push(PointResult {
                at: describe(d, &env, Some(&used)),
                lhs: l,
                rhs: r,
                cmp: compare(l, r, POINTS),
            }),
            (Err(e), _) | (_, Err(e)) => {
                ev.skipped_count += 1;
                if ev.skipped.is_none() {
                    ev.skipped = Some(e.to_string());
                }
            }
        }
    }
    ev
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
    let verdict = if proved {
        Verdict::Proved
    } else if cex {
        Verdict::Refuted
    } else if !evidence.points.is_empty() && evidence.skipped_count == 0 {
        Verdict::Consistent
    } else {
        Verdict::Unknown
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
