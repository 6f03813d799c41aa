//! The e-class analysis: exact constant folding and free-symbol tracking.

use egg::{Analysis, DidMerge, EGraph, Id, Symbol};
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};
use std::collections::BTreeSet;

use super::context::Context;
use crate::expr::binders::{self, Slot};
use crate::expr::{Constant, Math};

/// The e-graph type of the prover.
pub type MathGraph = EGraph<Math, MathAnalysis>;

/// Per-class facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The exact value of the class, if it is a constant.
    pub constant: Option<Constant>,
    /// Symbols that occur free in some term of the class (an over-approximation: the union over
    /// the class's terms, which is the safe side for capture and independence checks).
    pub free: BTreeSet<Symbol>,
    /// Some term of the class holds a δ node (an over-approximation, as `free`): a rule that
    /// looks for δ(j, k) below a class skips the classes without one.
    pub delta: bool,
}

/// The analysis, carrying the derivation's [`Context`] for rule conditions.
#[derive(Debug, Clone, Default)]
pub struct MathAnalysis {
    /// What the rules may assume about symbols.
    pub ctx: Context,
    /// Set when two classes with different constant values were merged: an unsound rule fired.
    pub contradiction: Option<String>,
    /// Normal forms computed in this iteration (cleared when the next begins): every rule that
    /// reads a class's polynomial would otherwise recompute those of all classes below it. An
    /// entry stays a true equality however the class grows later in the iteration.
    pub polys: std::cell::RefCell<std::collections::HashMap<Id, super::poly::Poly>>,
    /// A smallest node of every class, extracted once in this iteration (see
    /// [`super::rule::extract`]): extraction walks the whole e-graph, and rules extract terms of
    /// many classes.
    pub best: std::cell::RefCell<Option<std::collections::HashMap<Id, (usize, Math)>>>,
    /// The terms [`super::rule::extract`] built in this iteration, by class: the rules that
    /// match one pattern (the sum rules all match every sum) extract the same classes.
    pub terms: std::cell::RefCell<std::collections::HashMap<Id, crate::expr::Expr>>,
}

impl MathAnalysis {
    /// An analysis over `ctx`.
    pub fn new(ctx: Context) -> Self {
        MathAnalysis {
            ctx,
            contradiction: None,
            polys: Default::default(),
            best: Default::default(),
            terms: Default::default(),
        }
    }

    /// Forget what was computed in the last iteration (normal forms, smallest terms): the
    /// runner's hook calls this before each iteration.
    pub fn begin_iteration(&self) {
        self.polys.borrow_mut().clear();
        *self.best.borrow_mut() = None;
        self.terms.borrow_mut().clear();
    }
}

fn fold(egraph: &MathGraph, enode: &Math) -> Option<Constant> {
    let c = |id: &Id| egraph[*id].data.constant.as_ref().map(|c| c.0.clone());
    let q = match enode {
        Math::Num(c) => c.0.clone(),
        Math::Add([a, b]) => c(a)? + c(b)?,
        Math::Sub([a, b]) => c(a)? - c(b)?,
        Math::Mul([a, b]) => c(a)? * c(b)?,
        Math::Neg(a) => -c(a)?,
        Math::Div([a, b]) => {
            let d = c(b)?;
            if d.is_zero() {
                return None;
            }
            c(a)? / d
        }
        Math::Pow([a, b]) => {
            let base = c(a)?;
            let e = c(b)?;
            if !e.is_integer() {
                return None;
            }
            let n = e.to_integer().to_i32()?;
            if n.abs() > 64 || (n < 0 && base.is_zero()) {
                return None;
            }
            // The folded value needs about |n| times the bits of the base: past the budget the
            // power stays unfolded (nested powers would otherwise grow as 64^k digits).
            let bits = base.numer().bits() + base.denom().bits();
            if bits.saturating_mul(u64::from(n.unsigned_abs())) > crate::limits::MAX_FOLD_BITS {
                return None;
            }
            num_traits::pow::Pow::pow(base, n)
        }
        Math::Delta([a, b]) => {
            let (x, y) = (c(a)?, c(b)?);
            if x == y {
                BigRational::from_integer(1.into())
            } else {
                BigRational::from_integer(0.into())
            }
        }
        Math::Sqrt(a) => {
            let x = c(a)?;
            if x.is_negative() {
                return None;
            }
            let (n, d) = (x.numer().sqrt(), x.denom().sqrt());
            let r = num_rational::BigRational::new(n, d);
            if &r * &r == x {
                r
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(Constant(q))
}

fn free_symbols(egraph: &MathGraph, enode: &Math) -> BTreeSet<Symbol> {
    let f = |id: &Id| egraph[*id].data.free.clone();
    match enode {
        Math::Symbol(s) => BTreeSet::from([*s]),
        Math::Num(_) => BTreeSet::new(),
        // An expectation integrates the random symbols out.
        Math::Expect(x) => f(x)
            .into_iter()
            .filter(|s| !egraph.analysis.ctx.is_random(*s))
            .collect(),
        // Binders (sum, gauss) and everything else: the slots say what each child is.
        other => {
            let bound = binders::node_binds(other, |c| symbol_of(egraph, c));
            let mut out = BTreeSet::new();
            for (c, slot) in binders::slots(other) {
                match slot {
                    Slot::Name => {}
                    Slot::Free => out.extend(f(&c)),
                    Slot::Body => out.extend(f(&c).into_iter().filter(|s| !bound.contains(s))),
                }
            }
            out
        }
    }
}

/// The symbol a class stands for, if it contains a bare symbol node.
pub fn symbol_of(egraph: &MathGraph, id: Id) -> Option<Symbol> {
    egraph[id].nodes.iter().find_map(|n| n.symbol())
}

impl Analysis<Math> for MathAnalysis {
    type Data = Data;

    fn make(egraph: &mut MathGraph, enode: &Math, _id: Id) -> Data {
        let constant = fold(egraph, enode);
        let free = if constant.is_some() {
            BTreeSet::new()
        } else {
            free_symbols(egraph, enode)
        };
        let delta = matches!(enode, Math::Delta(_))
            || egg::Language::children(enode)
                .iter()
                .any(|c| egraph[*c].data.delta);
        Data {
            constant,
            free,
            delta,
        }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        if let (Some(x), Some(y)) = (&a.constant, &b.constant) {
            if x != y && self.contradiction.is_none() {
                self.contradiction = Some(format!("the constants {x} and {y} were merged"));
            }
        }
        let constant = a.constant.clone().or(b.constant.clone());
        // A constant depends on nothing; otherwise take the union (the safe side).
        let free: BTreeSet<Symbol> = if constant.is_some() {
            BTreeSet::new()
        } else {
            a.free.union(&b.free).copied().collect()
        };
        let merged = Data {
            constant,
            free,
            delta: a.delta || b.delta,
        };
        let changed_a = merged != *a;
        let changed_b = merged != b;
        *a = merged;
        DidMerge(changed_a, changed_b)
    }
}

/// The exact value of `e` if it is a constant term (numbers under exact arithmetic: the folding
/// the prover does), else `None`.
pub fn exact_value(e: &crate::expr::Expr) -> Option<BigRational> {
    let mut g = MathGraph::new(MathAnalysis::default());
    let root = g.add_expr(e);
    g[root].data.constant.as_ref().map(|c| c.0.clone())
}

/// The exact rational a finite `f64` was written as: its shortest decimal that reads back as it
/// (`0.3` for the double nearest 3/10, not that double's binary value). A declared interval end
/// is read this way, so that the prover's end is the one the file states.
pub fn decimal_value(x: f64) -> Option<BigRational> {
    if !x.is_finite() {
        return None;
    }
    format!("{x}").parse::<Constant>().ok().map(|c| c.0)
}
