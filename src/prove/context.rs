//! What the prover may assume about the symbols of a derivation.

use egg::Symbol;
use std::collections::{BTreeMap, BTreeSet};

use crate::expr::Expr;

/// Facts about symbols that rewrite conditions consult.
///
/// Built from a derivation's declarations; the prover never assumes anything not recorded here.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Symbols whose entries are i.i.d. standard normal random variables (`w`, `beta`, …).
    pub random: BTreeSet<Symbol>,
    /// Symbols known to be strictly positive (σw, widths, π, …).
    pub positive: BTreeSet<Symbol>,
    /// Matrix-valued symbols (`I` is the identity).
    pub matrices: BTreeSet<Symbol>,
    /// Declared ranges of free index symbols: `j in lo..hi`.
    pub ranges: BTreeMap<Symbol, (Expr, Expr)>,
}

impl Context {
    /// An empty context in which only `pi` is known to be positive.
    pub fn new() -> Self {
        let mut ctx = Context::default();
        ctx.positive.insert(Symbol::from("pi"));
        ctx.matrices.insert(Symbol::from("I"));
        ctx
    }

    /// Is `s` declared random?
    pub fn is_random(&self, s: Symbol) -> bool {
        self.random.contains(&s)
    }

    /// Is `s` declared strictly positive?
    pub fn is_positive(&self, s: Symbol) -> bool {
        self.positive.contains(&s)
    }
}
