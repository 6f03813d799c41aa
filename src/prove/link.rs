//! Proving one link `lhs = rhs`: one egg runner, explanations on, deterministic limits.

use egg::{FlatTerm, Id, Language, Runner, StopReason};
use std::collections::BTreeSet;
use std::time::Duration;

use super::analysis::MathAnalysis;
use super::context::Context;
use super::poly::{to_pattern, Normalizer};
use super::rule::{append, Rule, Theory};
use crate::expr::binders::{free_symbols, rename_apart, root};
use crate::expr::{Expr, Math};

/// Limits of one proof search. Only the node and iteration limits are deterministic; the time
/// limit is a safety net that no pinned verdict may depend on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum e-graph iterations.
    pub iterations: usize,
    /// Maximum e-nodes.
    pub nodes: usize,
    /// Wall-clock safety limit.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            iterations: 30,
            nodes: 20_000,
            time: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The search for a link whose sides the numerics already refute: it can only find an
    /// unsound proof, and a false claim otherwise runs to the limits. A smaller e-graph (not a
    /// time, so that the outcome is the same on every machine); the searches of the wrong
    /// derivations that saturate, and so show lhs − rhs in normal form, stay far below it.
    pub fn refuted() -> Self {
        Limits {
            nodes: REFUTED_NODES,
            ..Limits::default()
        }
    }
}

/// E-nodes of the proof search for a link with a counterexample ([`Limits::refuted`]).
pub const REFUTED_NODES: usize = 1_500;

thread_local! {
    /// The limits of the search running on this thread: when it must stop, and its e-node limit.
    static BUDGET: std::cell::Cell<Option<(std::time::Instant, usize)>> =
        const { std::cell::Cell::new(None) };
    /// Calls of [`over_budget`] on this thread (the clock is read at every 16th).
    static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Has the proof search running on this thread passed its time limit or its e-node limit?
///
/// egg checks its limits only between rules, and one application of a computed rule (a normal
/// form over a large term) can take seconds and add thousands of nodes; computed appliers call
/// this and apply nothing once it is true, so the runner stops at its next check. Skipping an
/// application only loses equalities, never adds a false one.
///
/// The clock is read at every 16th call only (one application is short next to the time limit,
/// and reading the clock at each of the hundreds of thousands of calls of a search cost 5% of it).
pub fn over_budget(egraph_nodes: usize) -> bool {
    let tick = CALLS.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % 16 == 0
    });
    BUDGET.with(|b| {
        b.get().is_some_and(|(deadline, nodes)| {
            egraph_nodes >= nodes || (tick && std::time::Instant::now() >= deadline)
        })
    })
}

/// Clears the budget when the search ends (also on unwinding).
struct BudgetGuard;

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(None));
    }
}

/// One rewrite of a proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The rule's name.
    pub rule: String,
    /// `true` if the rule was used right to left.
    pub backward: bool,
    /// The subterm before the rewrite.
    pub before: Expr,
    /// The subterm after the rewrite.
    pub after: Expr,
    /// The whole term after the rewrite.
    pub term: Expr,
}

/// What the search found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Both sides are equal; the steps rewrite lhs into rhs.
    Proved(Vec<Step>),
    /// The e-graph saturated without joining the sides: the theories cannot derive the link.
    /// `residual` is the normal form of lhs − rhs.
    NotDerivable {
        /// Normal form of lhs − rhs, with atoms extracted as smallest terms.
        residual: Expr,
    },
    /// The search was not run: a term may have no value (an expectation not shown to have a
    /// finite mean), and rewriting would cancel it (0·∞ = 0). `why` names the term.
    Refused {
        /// Why the terms were not rewritten.
        why: String,
        /// lhs − rhs as written (no rewriting was done).
        residual: Expr,
    },
    /// A limit stopped the search first: the link may still be derivable with more room.
    Exhausted {
        /// egg's reason for stopping (iteration, e-node or time limit).
        stop: StopReason,
        /// Normal form of lhs − rhs in the e-graph as the search left it (its equalities are
        /// proved ones, so this equals lhs − rhs wherever the sides are defined).
        residual: Expr,
    },
}

/// Why a search stopped, in words.
pub fn stop_text(stop: &StopReason) -> String {
    match stop {
        StopReason::Saturated => "saturation".into(),
        StopReason::IterationLimit(_) => "iteration limit".into(),
        StopReason::NodeLimit(_) => "e-node limit".into(),
        StopReason::TimeLimit(t) => format!("time limit ({t:.1} s)"),
        StopReason::Other(why) => why.clone(),
    }
}

/// Figures about one search.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Iterations run.
    pub iterations: usize,
    /// E-nodes at the end.
    pub nodes: usize,
    /// E-classes at the end.
    pub classes: usize,
    /// Wall-clock time.
    pub time: Duration,
}

/// An internal error: a rule merged two different constants.
#[derive(Debug, Clone, thiserror::Error)]
#[error("internal soundness error: {0}")]
pub struct Unsound(pub String);

/// Every rule of the given theories (algebra is always included).
pub fn rules_for(theories: &[Theory]) -> Vec<&'static Rule> {
    let mut ts: Vec<Theory> = theories.to_vec();
    if !ts.contains(&Theory::Algebra) {
        ts.push(Theory::Algebra);
    }
    ts.sort();
    ts.dedup();
    ts.into_iter().flat_map(|t| t.rules().iter()).collect()
}

/// Try to prove `lhs = rhs` with the rules of `theories` under `ctx`.
pub fn prove(
    lhs: &Expr,
    rhs: &Expr,
    theories: &[Theory],
    ctx: &Context,
    limits: Limits,
) -> Result<(Outcome, Stats), Unsound> {
    // Bound indices are renamed apart from every declared and free name first, so that a fact
    // the context states about a name (its range, randomness, positivity) holds wherever the
    // name occurs in the e-graph, and no binder shadows another.
    let (mut runner, stats, renamed, refused) =
        search(&[lhs, rhs], theories, ctx, limits, true, |eg, roots| {
            eg.find(roots[0]) == eg.find(roots[1])
        })?;
    let (lhs, rhs) = (&renamed[0], &renamed[1]);
    let (l, r) = (runner.roots[0], runner.roots[1]);
    if refused.is_none() && runner.egraph.find(l) == runner.egraph.find(r) {
        let mut explanation = runner.explain_equivalence(lhs, rhs);
        let flat = explanation.make_flat_explanation().clone();
        return Ok((Outcome::Proved(steps(&flat)), stats));
    }
    let residual = {
        let eg = &runner.egraph;
        eg.analysis.begin_iteration();
        let mut norm = Normalizer::new(eg);
        let diff = norm.poly(l).add(
            &norm
                .poly(r)
                .scale(&-num_rational::BigRational::from_integer(1.into())),
        );
        let (pat, subst) = to_pattern(eg, &diff);
        let residual = instantiate(eg, &pat, &subst);
        // Extraction may leave a binder shadowing another (sum(m in 1..n, sum(m in 1..m, x[m])),
        // correct but read as capture): the outer one is renamed for the reader.
        let mut reserved = ctx.reserved();
        reserved.extend(free_symbols(&residual, root(&residual)));
        rename_apart(&[&residual], &reserved).remove(0)
    };
    let outcome = match (refused, runner.stop_reason) {
        (Some(why), _) => Outcome::Refused { why, residual },
        (None, Some(StopReason::Saturated)) => Outcome::NotDerivable { residual },
        (None, Some(stop)) => Outcome::Exhausted { stop, residual },
        // egg sets a stop reason whenever `run` returns; keep a total match all the same.
        (None, None) => Outcome::Exhausted {
            stop: StopReason::Other("no stop reason".into()),
            residual,
        },
    };
    Ok((outcome, stats))
}

/// An inequality: is `diff` (the greater side minus the lesser) ≥ 0 (`strict`: > 0) by the
/// bounds of [`super::bounds`] on its class, once the e-graph holds it with the cited theories?
/// Returns the proof (the smallest term of the class, and the bound) if so.
pub fn prove_bound(
    diff: &Expr,
    strict: bool,
    theories: &[Theory],
    ctx: &Context,
    limits: Limits,
) -> Result<(Option<Vec<Step>>, Stats), Unsound> {
    let (runner, stats, _, refused) =
        search(&[diff], theories, ctx, limits, false, move |eg, roots| {
            super::bounds::certified(eg, roots[0], strict).is_some()
        })?;
    if refused.is_some() {
        return Ok((None, stats));
    }
    let root_id = runner.roots[0];
    let Some(cauchy_schwarz) = super::bounds::certified(&runner.egraph, root_id, strict) else {
        return Ok((None, stats));
    };
    let smallest = egg::Extractor::new(&runner.egraph, egg::AstSize)
        .find_best(root_id)
        .1;
    let sign = if strict { "> 0" } else { "≥ 0" };
    let by = if cauchy_schwarz {
        " (Cauchy–Schwarz)"
    } else {
        ""
    };
    let steps = vec![
        Step {
            rule: "e-graph".into(),
            backward: false,
            before: diff.clone(),
            after: smallest.clone(),
            term: smallest.clone(),
        },
        Step {
            rule: format!("bounds {sign}{by}"),
            backward: false,
            before: smallest.clone(),
            after: smallest.clone(),
            term: smallest,
        },
    ];
    Ok((Some(steps), stats))
}

/// A finished search: the runner, its figures and the renamed terms.
/// The last is why the terms were not rewritten, if they were not (they may have no value; the
/// runner then holds them as written).
type Searched = (Runner<Math, MathAnalysis>, Stats, Vec<Expr>, Option<String>);

/// One e-graph search: the terms, with bound indices renamed apart from every declared and free
/// name first (so that a fact the context states about a name — its range, randomness,
/// positivity — holds wherever the name occurs, and no binder shadows another), saturated with
/// the theories' rules until `done` holds of the roots or a limit stops it. Normal forms are
/// shared within an iteration and recomputed at the next. Returns the runner, its figures and
/// the renamed terms; an unsound merge (two different constants) is an error.
fn search(
    terms: &[&Expr],
    theories: &[Theory],
    ctx: &Context,
    limits: Limits,
    explanations: bool,
    done: impl Fn(&super::analysis::MathGraph, &[Id]) -> bool + 'static,
) -> Result<Searched, Unsound> {
    let mut reserved = ctx.reserved();
    for t in terms {
        reserved.extend(free_symbols(t, root(t)));
    }
    let renamed = rename_apart(terms, &reserved);
    let rules = rules_for(theories);
    let rewrites: Vec<_> = rules.iter().map(|r| &r.rewrite).collect();
    let start = std::time::Instant::now();
    BUDGET.with(|b| b.set(Some((start + limits.time, limits.nodes))));
    let _guard = BudgetGuard;
    // Names that sums bind (and no integral or gauss binds) are integers.
    let mut ctx = ctx.clone();
    let (mut sums, mut others) = (BTreeSet::new(), BTreeSet::new());
    for t in &renamed {
        for node in t.as_ref() {
            let bound = crate::expr::binders::node_binds(node, |c| t[c].symbol());
            match node {
                Math::Sum(_) => sums.extend(bound),
                _ => others.extend(bound),
            }
        }
    }
    ctx.sum_bound = sums.difference(&others).copied().collect();
    ctx.other_bound = others;
    let mut runner: Runner<Math, MathAnalysis> = Runner::new(MathAnalysis::new(ctx));
    if explanations {
        runner = runner.with_explanations_enabled();
    }
    runner = runner
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time)
        .with_scheduler(egg::SimpleScheduler);
    for t in &renamed {
        runner = runner.with_expr(t);
    }
    // Terms that may have no value are not rewritten (see growth::undefined_expectation).
    if let Some(id) = super::theories::growth::undefined_expectation(&runner.egraph) {
        let best = egg::Extractor::new(&runner.egraph, egg::AstSize)
            .find_best(id)
            .1;
        let term = crate::expr::text(&best);
        let why = if matches!(best.as_ref().last(), Some(Math::Integral(_))) {
            format!(
                "{term} is not shown to be finite (its integrand is not bounded on the range by its form), so the sides may have no value (rewriting would cancel it: ∞ − ∞ = 0)"
            )
        } else {
            format!(
                "{term} is not shown to have a finite mean, so the sides may have no value (rewriting would cancel it: 0·∞ = 0)"
            )
        };
        let stats = Stats {
            iterations: 0,
            nodes: runner.egraph.total_size(),
            classes: runner.egraph.number_of_classes(),
            time: start.elapsed(),
        };
        return Ok((runner, stats, renamed, Some(why)));
    }
    runner = runner
        .with_hook(move |r| {
            r.egraph.analysis.begin_iteration();
            if done(&r.egraph, &r.roots) {
                Err("done".into())
            } else {
                Ok(())
            }
        })
        .run(rewrites);
    let stats = Stats {
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_size(),
        classes: runner.egraph.number_of_classes(),
        time: start.elapsed(),
    };
    if let Some(msg) = runner.egraph.analysis.contradiction.clone() {
        return Err(Unsound(msg));
    }
    Ok((runner, stats, renamed, None))
}

/// A pattern with its variables replaced by smallest terms of their classes.
fn instantiate(
    eg: &super::analysis::MathGraph,
    pat: &egg::PatternAst<Math>,
    subst: &egg::Subst,
) -> Expr {
    let extractor = egg::Extractor::new(eg, egg::AstSize);
    let mut out = Expr::default();
    let mut map: Vec<Id> = vec![];
    for n in pat.as_ref() {
        let id = match n {
            egg::ENodeOrVar::ENode(node) => {
                out.add(node.clone().map_children(|c| map[usize::from(c)]))
            }
            egg::ENodeOrVar::Var(v) => {
                let (_, e) = extractor.find_best(subst[*v]);
                append(&mut out, &e)
            }
        };
        map.push(id);
    }
    out
}

/// Turn a flat explanation into steps: for each rewrite, the rule and the subterm it changed.
fn steps(flat: &[FlatTerm<Math>]) -> Vec<Step> {
    let mut out = vec![];
    for pair in flat.windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        if let Some((rule, backward, before, after)) = find_rewrite(prev, next) {
            out.push(Step {
                rule,
                backward,
                before,
                after,
                term: next.remove_rewrites().get_recexpr(),
            });
        }
    }
    out
}

fn find_rewrite(
    prev: &FlatTerm<Math>,
    next: &FlatTerm<Math>,
) -> Option<(String, bool, Expr, Expr)> {
    if let Some(rule) = next.forward_rule {
        return Some((
            rule.to_string(),
            false,
            prev.remove_rewrites().get_recexpr(),
            next.remove_rewrites().get_recexpr(),
        ));
    }
    if let Some(rule) = next.backward_rule {
        return Some((
            rule.to_string(),
            true,
            prev.remove_rewrites().get_recexpr(),
            next.remove_rewrites().get_recexpr(),
        ));
    }
    for (p, n) in prev.children.iter().zip(&next.children) {
        if let Some(found) = find_rewrite(p, n) {
            return Some(found);
        }
    }
    None
}
