//! Rules, theories, and the plumbing custom rules share.

use egg::{
    AstSize, ENodeOrVar, Extractor, Id, Language, Pattern, PatternAst, Rewrite, Subst, Symbol, Var,
};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use super::analysis::{MathAnalysis, MathGraph};
use crate::expr::{Expr, Math};

/// A named rewrite rule of one theory.
pub struct Rule {
    /// The rule's name as shown in proofs (`sum-delta`, `E-linear`, …).
    pub name: &'static str,
    /// The theory it belongs to.
    pub theory: Theory,
    /// The rewrite itself.
    pub rewrite: Rewrite<Math, MathAnalysis>,
    /// Terms (s-expressions) in which the rule fires; the soundness test evaluates them.
    pub examples: &'static [&'static str],
}

/// A named group of rules that a link may cite in its `by` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Theory {
    /// Ring normal form: +, −, ·, /, integer and rational powers.
    Algebra,
    /// exp, log and powers beyond the ring normal form.
    Powers,
    /// Finite sums, Kronecker δ, substitution under binders.
    Sums,
    /// Expectation: linearity, independence, moments of i.i.d. N(0,1) entries.
    Expectation,
    /// Closed forms of bivariate Gaussian expectations (arc-cosine and erf kernels).
    Gaussian,
    /// Trigonometric and inverse trigonometric identities.
    Trig,
    /// Derivatives d/dt.
    Calculus,
    /// Matrix products and the matrix exponential.
    Matrices,
    /// max, min, leaky_relu and sign through abs and relu.
    Piecewise,
}

impl Theory {
    /// Every theory.
    pub const ALL: [Theory; 9] = [
        Theory::Algebra,
        Theory::Powers,
        Theory::Sums,
        Theory::Expectation,
        Theory::Gaussian,
        Theory::Trig,
        Theory::Calculus,
        Theory::Matrices,
        Theory::Piecewise,
    ];

    /// The name used in derivation files.
    pub fn name(self) -> &'static str {
        match self {
            Theory::Algebra => "algebra",
            Theory::Powers => "powers",
            Theory::Sums => "sums",
            Theory::Expectation => "expectation",
            Theory::Gaussian => "gaussian",
            Theory::Trig => "trig",
            Theory::Calculus => "calculus",
            Theory::Matrices => "matrices",
            Theory::Piecewise => "piecewise",
        }
    }

    /// The theory's rules, built once per process (their patterns are parsed from text: that
    /// was a tenth of the prover's time when every link built them again).
    pub fn rules(self) -> &'static [Rule] {
        static TABLES: [OnceLock<Vec<Rule>>; Theory::ALL.len()] =
            [const { OnceLock::new() }; Theory::ALL.len()];
        let i = Theory::ALL
            .iter()
            .position(|t| *t == self)
            .expect("every theory is in ALL");
        TABLES[i].get_or_init(|| self.build_rules())
    }

    fn build_rules(self) -> Vec<Rule> {
        use super::theories::*;
        match self {
            Theory::Algebra => algebra::rules(),
            Theory::Powers => powers::rules(),
            Theory::Sums => sums::rules(),
            Theory::Expectation => expectation::rules(),
            Theory::Gaussian => gaussian::rules(),
            Theory::Trig => trig::rules(),
            Theory::Calculus => calculus::rules(),
            Theory::Matrices => matrices::rules(),
            Theory::Piecewise => piecewise::rules(),
        }
    }
}

impl fmt::Display for Theory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A theory name that is not known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "unknown theory `{0}` (known: algebra, powers, sums, expectation, gaussian, trig, calculus, matrices, piecewise)"
)]
pub struct UnknownTheory(pub String);

impl FromStr for Theory {
    type Err = UnknownTheory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Theory::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTheory(s.to_string()))
    }
}

/// Parse a pattern written in egg's s-expression syntax (rule tables are static text).
pub fn pat(s: &str) -> Pattern<Math> {
    s.parse()
        .unwrap_or_else(|e| panic!("bad pattern `{s}`: {e}"))
}

/// A variable of a rule pattern.
pub fn var(s: &'static str) -> Var {
    // Parsing interns the name under a global lock; computed rules ask for their variables at
    // every match, so each name is parsed once per thread.
    thread_local! {
        static VARS: std::cell::RefCell<Vec<(&'static str, Var)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    VARS.with(|vars| {
        let mut vars = vars.borrow_mut();
        if let Some((_, v)) = vars.iter().find(|(n, _)| std::ptr::eq(*n, s) || *n == s) {
            return *v;
        }
        let v: Var = s
            .parse()
            .unwrap_or_else(|e| panic!("bad variable `{s}`: {e}"));
        vars.push((s, v));
        v
    })
}

/// The variable `?{prefix}{n}`, parsed once per thread (see [`var`]).
fn numbered_var(prefix: &'static str, n: usize) -> Var {
    thread_local! {
        static VARS: std::cell::RefCell<std::collections::HashMap<(&'static str, usize), Var>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    VARS.with(|vars| {
        *vars
            .borrow_mut()
            .entry((prefix, n))
            .or_insert_with(|| format!("?{prefix}{n}").parse().expect("a valid variable"))
    })
}

/// What a computed rule rewrites a match into.
pub struct Replacement {
    /// The replacement, a pattern over the variables bound in `subst`.
    pub to: PatternAst<Math>,
    /// The matched term as the rule reads it, when that is more explicit than the searcher
    /// pattern (e.g. with the δ factor it eliminates written out); proofs then show the step
    /// from the term as written to this form separately.
    pub from: Option<PatternAst<Math>>,
    /// Bindings of the variables of `to` and `from`.
    pub subst: Subst,
}

impl Replacement {
    /// A replacement read against the searcher pattern.
    pub fn new((to, subst): (PatternAst<Math>, Subst)) -> Self {
        Replacement {
            to,
            from: None,
            subst,
        }
    }
}

/// A rewrite whose right side is computed by `apply`, which returns the replacement as a pattern
/// over fresh variables plus their bindings (or `None` when the rule does not apply).
pub fn computed(name: &'static str, searcher: &str, apply: ApplyFn) -> Rewrite<Math, MathAnalysis> {
    let searcher = pat(searcher);
    let vars = searcher.vars();
    Rewrite::new(name, searcher, Computed(apply, vars)).expect("valid rewrite")
}

type ApplyFn = fn(&MathGraph, Id, &Subst) -> Option<Replacement>;

struct Computed(ApplyFn, Vec<Var>);

impl egg::Applier<Math, MathAnalysis> for Computed {
    fn apply_one(
        &self,
        egraph: &mut MathGraph,
        eclass: Id,
        subst: &Subst,
        searcher_ast: Option<&PatternAst<Math>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        if super::link::over_budget(egraph.total_size()) {
            return vec![];
        }
        let Some(Replacement {
            to,
            from,
            subst: mut bindings,
        }) = (self.0)(egraph, eclass, subst)
        else {
            return vec![];
        };
        for v in &self.1 {
            if bindings.get(*v).is_none() {
                bindings.insert(*v, subst[*v]);
            }
        }
        let (id, changed) = match (from.as_ref(), searcher_ast) {
            (Some(from), Some(_)) => egraph.union_instantiations(from, &to, &bindings, rule_name),
            (None, Some(from)) => egraph.union_instantiations(from, &to, &bindings, rule_name),
            (_, None) => {
                let id = egraph.add_instantiation(&to, &bindings);
                (id, egraph.union(eclass, id))
            }
        };
        if changed {
            vec![id]
        } else {
            vec![]
        }
    }
}

/// Helper for building replacement patterns.
#[derive(Default)]
pub struct PatBuilder {
    /// The pattern under construction.
    pub pat: PatternAst<Math>,
    /// Bindings of its variables.
    pub subst: Subst,
    bound: Vec<(Var, Id)>,
    next: usize,
    prefix: &'static str,
}

impl PatBuilder {
    /// A builder whose variables are named `?{prefix}N` (to build two patterns over one subst).
    pub fn with_prefix(prefix: &'static str) -> Self {
        PatBuilder {
            prefix,
            ..PatBuilder::default()
        }
    }

    /// A variable bound to class `id`.
    pub fn class(&mut self, egraph: &MathGraph, id: Id) -> Id {
        let prefix = if self.prefix.is_empty() {
            "c"
        } else {
            self.prefix
        };
        let v = numbered_var(prefix, self.next);
        self.next += 1;
        self.subst.insert(v, egraph.find(id));
        self.bound.push((v, egraph.find(id)));
        self.pat.add(ENodeOrVar::Var(v))
    }
    /// A node whose children are earlier pattern ids.
    pub fn node(&mut self, n: Math) -> Id {
        self.pat.add(ENodeOrVar::ENode(n))
    }
    /// A ground term, appended node by node.
    pub fn expr(&mut self, e: &Expr) -> Id {
        let base = self.pat.as_ref().len();
        let mut last = Id::from(0);
        for n in e.as_ref() {
            let n = n.clone().map_children(|c| Id::from(usize::from(c) + base));
            last = self.pat.add(ENodeOrVar::ENode(n));
        }
        last
    }
    /// A pattern over classes (as [`crate::prove::poly::to_pattern`] builds one), appended
    /// with each of its variables bound afresh to the class `subst` gives it.
    pub fn pattern(&mut self, egraph: &MathGraph, (pat, subst): &(PatternAst<Math>, Subst)) -> Id {
        let mut map: Vec<Id> = Vec::with_capacity(pat.as_ref().len());
        for n in pat.as_ref() {
            let id = match n {
                ENodeOrVar::Var(v) => self.class(egraph, subst[*v]),
                ENodeOrVar::ENode(n) => {
                    let n = n.clone().map_children(|c| map[usize::from(c)]);
                    self.node(n)
                }
            };
            map.push(id);
        }
        *map.last().expect("a non-empty pattern")
    }
    /// The finished replacement (its root is the last node added).
    pub fn finish(self) -> Replacement {
        Replacement::new((self.pat, self.subst))
    }

    /// The finished replacement, read from the explicit form `from` built by another builder
    /// (with another prefix).
    pub fn finish_from(self, from: PatBuilder) -> Replacement {
        let mut subst = self.subst;
        for (v, id) in from.bound {
            subst.insert(v, id);
        }
        Replacement {
            to: self.pat,
            from: Some(from.pat),
            subst,
        }
    }
}

/// A smallest term of class `id` (smallest when the iteration began; any term extracted is a
/// term of the class, which only grows). The smallest node of every class is found once per
/// iteration ([`MathAnalysis::begin_iteration`] forgets it), with its size; a class added
/// since gets its least node over stored children, and the term built is kept for the rest of
/// the iteration (the sum rules all extract every sum's body). Only a class whose stored nodes
/// lead round a cycle (classes merged since) is extracted afresh from the whole e-graph.
///
/// [`MathAnalysis::begin_iteration`]: super::analysis::MathAnalysis::begin_iteration
pub fn extract(egraph: &MathGraph, id: Id) -> Expr {
    let id = egraph.find(id);
    if let Some(t) = egraph.analysis.terms.borrow().get(&id) {
        return t.clone();
    }
    if egraph.analysis.best.borrow().is_none() {
        let ex = Extractor::new(egraph, AstSize);
        let map = egraph
            .classes()
            .map(|c| {
                let cost = ex.find_best_cost(c.id);
                (c.id, (cost, ex.find_best_node(c.id).clone()))
            })
            .collect();
        *egraph.analysis.best.borrow_mut() = Some(map);
    }
    let mut best = egraph.analysis.best.borrow_mut();
    let map = best.as_mut().expect("filled above");
    let mut out = Expr::default();
    let mut on_path = Vec::new();
    let term = match build_best(egraph, map, id, &mut out, &mut on_path, 0) {
        Some(_) => out,
        None => Extractor::new(egraph, AstSize).find_best(id).1,
    };
    egraph.analysis.terms.borrow_mut().insert(id, term.clone());
    term
}

/// The term of class `id` by the stored smallest nodes; `None` on a cycle (classes merged
/// since the nodes were chosen) or a class whose nodes all have a child without a stored node.
/// A class added since the nodes were chosen gets the node of least size among those whose
/// children have stored nodes.
fn build_best(
    egraph: &MathGraph,
    map: &mut std::collections::HashMap<Id, (usize, Math)>,
    id: Id,
    out: &mut Expr,
    on_path: &mut Vec<Id>,
    depth: usize,
) -> Option<Id> {
    let id = egraph.find(id);
    if depth > crate::limits::MAX_TERM_NODES || on_path.contains(&id) {
        return None;
    }
    let node = match map.get(&id) {
        Some((_, node)) => node.clone(),
        None => {
            let (cost, node) = egraph[id]
                .nodes
                .iter()
                .filter_map(|n| {
                    n.children()
                        .iter()
                        .try_fold(1usize, |acc, c| {
                            map.get(&egraph.find(*c))
                                .map(|(k, _)| acc.saturating_add(*k))
                        })
                        .map(|k| (k, n))
                })
                .min_by_key(|(k, _)| *k)?;
            let node = node.clone();
            map.insert(id, (cost, node.clone()));
            node
        }
    };
    on_path.push(id);
    let mut failed = false;
    let node = node.map_children(|c| {
        if failed {
            return c;
        }
        match build_best(egraph, map, c, out, on_path, depth + 1) {
            Some(x) => x,
            None => {
                failed = true;
                c
            }
        }
    });
    on_path.pop();
    if failed {
        return None;
    }
    Some(out.add(node))
}

pub use crate::expr::binders::{append, free_in, root, substitute};

/// Does symbol `s` occur anywhere in `e` (free or bound)?
pub fn occurs(e: &Expr, s: Symbol) -> bool {
    e.as_ref().iter().any(|n| n.symbol() == Some(s))
}

/// Does the searcher match anywhere? (Used by tests to show an example exercises its rule.)
pub fn fires(rule: &Rule, egraph: &MathGraph) -> bool {
    !rule.rewrite.searcher.search(egraph).is_empty()
}
