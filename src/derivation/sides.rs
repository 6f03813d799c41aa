//! Side values shared by the links checked together.
//!
//! A link's sides are evaluated at the derivation's seeded points ([`point_retry`]), and the
//! right side of link k is the left side of link k + 1, evaluated at the same points; a wrong
//! twin of a derivation often states the same side over the same declarations. The value of a
//! term at a point is a pure function of the term and the point (`Evaluator::new(env).eval(e)`,
//! `precise::eval(e, env, bits)`), and the point is a pure function of the derivation's
//! declared symbols, its number and its shrink, so each (term, point) is evaluated once per
//! check and the links read it from here: every figure is the one a fresh evaluation gives.
//! Likewise an unknown function integrated to a point (links comparing it with different
//! candidates).
//!
//! [`point_retry`]: super::sample::point_retry

use std::sync::{Arc, Mutex, OnceLock};

use egg::Symbol;

use super::check::PointError;
use super::file::{Derivation, Hypotheses, Unknown};
use crate::expr::Expr;
use crate::numeric::eval::{Env, EvalError, Evaluator, Value};
use crate::numeric::precise::{NotPrecise, Precise};

/// The points of a derivation: its declared symbols (names and kinds, in order) decide them.
fn points_of(d: &Derivation) -> String {
    format!("{:?}", d.symbols)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    /// The derivation's points (an index into [`SideValues::points`]).
    points: usize,
    /// The point's number.
    k: usize,
    /// Its shrink (sizes divided by 10^shrink).
    shrink: u32,
    /// Ball arithmetic at these bits, or f64 (`None`).
    precise: Option<u32>,
    term: Expr,
}

#[derive(Debug, Clone)]
enum Stored {
    Precise(Result<Precise, NotPrecise>),
    Float(Result<Value, EvalError>),
}

type Slot = Arc<OnceLock<Stored>>;

/// An unknown function's hypotheses at a point: everything its integration reads.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SolutionKey {
    points: usize,
    k: usize,
    shrink: u32,
    name: Symbol,
    of: Symbol,
    matrix: bool,
    ode: Expr,
    at: Expr,
    at_text: String,
    value: Expr,
}

/// An integrated unknown and the point it was compared at (see [`super::hypotheses::solve`]).
type Solution = Result<(Value, Env), PointError>;

/// Values of terms at the points of derivations, each computed once (see the module docs).
#[derive(Debug, Default)]
pub struct SideValues {
    points: Mutex<rustc_hash::FxHashMap<String, usize>>,
    values: Mutex<rustc_hash::FxHashMap<Key, Slot>>,
    solutions: Mutex<rustc_hash::FxHashMap<SolutionKey, Arc<OnceLock<Solution>>>>,
}

/// The points of one derivation, for looking up its sides.
#[derive(Debug, Clone, Copy)]
pub struct Points<'a> {
    values: &'a SideValues,
    id: usize,
}

impl SideValues {
    /// The points of `d` (derivations with the same declarations share them).
    pub fn points(&self, d: &Derivation) -> Points<'_> {
        let mut map = self.points.lock().expect("not poisoned");
        let n = map.len();
        let id = *map.entry(points_of(d)).or_insert(n);
        Points { values: self, id }
    }

    fn slot(&self, key: Key) -> Slot {
        self.values
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone()
    }
}

impl Points<'_> {
    fn key(&self, k: usize, shrink: u32, precise: Option<u32>, term: &Expr) -> Key {
        Key {
            points: self.id,
            k,
            shrink,
            precise,
            term: term.clone(),
        }
    }

    /// `term` at the point `env` = `point_retry(d, k, shrink)` in ball arithmetic at `bits`.
    pub fn precise(
        &self,
        k: usize,
        shrink: u32,
        term: &Expr,
        env: &Env,
        bits: u32,
    ) -> Result<Precise, NotPrecise> {
        let slot = self.values.slot(self.key(k, shrink, Some(bits), term));
        let stored =
            slot.get_or_init(|| Stored::Precise(crate::numeric::precise::eval(term, env, bits)));
        match stored {
            Stored::Precise(r) => r.clone(),
            Stored::Float(_) => unreachable!("a precise key holds a precise value"),
        }
    }

    /// `term` at the point `env` = `point_retry(d, k, shrink)` in f64.
    pub fn float(&self, k: usize, shrink: u32, term: &Expr, env: &Env) -> Result<Value, EvalError> {
        let slot = self.values.slot(self.key(k, shrink, None, term));
        let stored = slot.get_or_init(|| Stored::Float(Evaluator::new(env).eval(term)));
        match stored {
            Stored::Float(r) => r.clone(),
            Stored::Precise(_) => unreachable!("an f64 key holds an f64 value"),
        }
    }

    /// The unknown `u` integrated to the point `point_retry(d, k, shrink)` by `solve`.
    pub(super) fn solution(
        &self,
        k: usize,
        shrink: u32,
        u: &Unknown,
        h: &Hypotheses,
        solve: impl FnOnce() -> Solution,
    ) -> Solution {
        let key = SolutionKey {
            points: self.id,
            k,
            shrink,
            name: u.name,
            of: u.of,
            matrix: u.matrix,
            ode: h.ode.clone(),
            at: h.at.clone(),
            at_text: h.at_text.clone(),
            value: h.value.clone(),
        };
        let slot = self
            .values
            .solutions
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone();
        slot.get_or_init(solve).clone()
    }
}
