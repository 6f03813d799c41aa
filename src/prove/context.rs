//! What the prover may assume about the symbols of a derivation.

use egg::Symbol;
use std::collections::{BTreeMap, BTreeSet};

use num_rational::BigRational;

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
    /// Sizes: integers ≥ 1 (widths, counts).
    pub sizes: BTreeSet<Symbol>,
    /// Matrix-valued symbols (`I` is the identity).
    pub matrices: BTreeSet<Symbol>,
    /// Declared ranges of free index symbols: `j in lo..hi`.
    pub ranges: BTreeMap<Symbol, (Expr, Expr)>,
    /// Declared closed intervals `lo..hi` of real symbols (exact rationals).
    pub intervals: BTreeMap<Symbol, (BigRational, BigRational)>,
    /// Every other declared or defined name (sizes, arrays, reals, …).
    pub declared: BTreeSet<Symbol>,
    /// Declared integers (`integer`); sizes and indices are integers too.
    pub integers: BTreeSet<Symbol>,
    /// Names bound by sums only (never by an integral or a gauss) in the terms being proved:
    /// integers. Set by the search from the terms, after renaming apart.
    pub sum_bound: BTreeSet<Symbol>,
    /// Names bound by an integral or a gauss in the terms being proved (not integers).
    pub other_bound: BTreeSet<Symbol>,
}

impl Context {
    /// An empty context in which only `pi` is known to be positive.
    pub fn new() -> Self {
        let mut ctx = Context::default();
        ctx.positive.insert(Symbol::from("pi"));
        ctx.matrices.insert(Symbol::from("I"));
        ctx
    }

    /// `u` and `v` are bound by every `gauss(...)`: no declaration may lend them facts (the
    /// loader refuses to declare them; this keeps a hand-built context from doing it either).
    fn gauss_bound(s: Symbol) -> bool {
        crate::expr::GAUSS_VARS.contains(&s.as_str())
    }

    /// Is `s` declared random?
    pub fn is_random(&self, s: Symbol) -> bool {
        self.random.contains(&s) && !Self::gauss_bound(s)
    }

    /// Every name the derivation gives a meaning to: no binder may use one of these names
    /// (the prover renames bound indices apart from them, see
    /// [`crate::expr::binders::rename_apart`]), so a fact about a name holds wherever it occurs.
    pub fn reserved(&self) -> BTreeSet<Symbol> {
        let mut out = self.declared.clone();
        out.extend(self.random.iter().copied());
        out.extend(self.positive.iter().copied());
        out.extend(self.matrices.iter().copied());
        out.extend(self.sizes.iter().copied());
        out.extend(self.ranges.keys().copied());
        out.extend(self.intervals.keys().copied());
        out
    }

    /// Is `s` one of [`Context::reserved`] (without building the set)?
    pub fn is_reserved(&self, s: Symbol) -> bool {
        self.declared.contains(&s)
            || self.random.contains(&s)
            || self.positive.contains(&s)
            || self.matrices.contains(&s)
            || self.sizes.contains(&s)
            || self.ranges.contains_key(&s)
            || self.intervals.contains_key(&s)
    }

    /// Is `s` known to be an integer: a size, an index, a declared integer, or a sum's index (as
    /// bound in the terms, or a canonical name `sum-alpha` gives one, unless an integral or a
    /// gauss binds that name too)?
    pub fn is_integer(&self, s: Symbol) -> bool {
        self.sizes.contains(&s)
            || self.ranges.contains_key(&s)
            || self.integers.contains(&s)
            || self.sum_bound.contains(&s)
            || (!self.other_bound.contains(&s)
                && !self.is_reserved(s)
                && crate::prove::theories::sums::is_canonical(s))
    }

    /// Is `s` declared strictly positive?
    pub fn is_positive(&self, s: Symbol) -> bool {
        self.positive.contains(&s) && !Self::gauss_bound(s)
    }
}
