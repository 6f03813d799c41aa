//! The canonical polynomial normal form of e-classes.
//!
//! Instead of associativity and commutativity rules (which make the e-graph grow exponentially: a sum
//! of k terms has k!·Catalan(k−1) bracketings and orders, and saturating them exhausts any node limit),
//! every arithmetic class is read as a polynomial — a sum of monomials with exact rational
//! coefficients — over *atoms*: the classes that are not arithmetic (symbols, indexed entries,
//! sums, expectations, function applications). Atoms may carry rational exponents, but only
//! atoms known to be positive get negative or fractional ones, so `x/x = 1` and `√(x²) = x` are
//! never used where they could be false.

use egg::{ENodeOrVar, Id, Language, PatternAst, Subst, Var};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::collections::{BTreeMap, HashMap, HashSet};

use super::analysis::MathGraph;
use crate::expr::{Constant, Math};

/// A product of atoms with exponents, sorted by atom id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Monomial(pub Vec<(Id, BigRational)>);

/// A sum of monomials with non-zero exact coefficients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Poly(pub BTreeMap<Monomial, BigRational>);

/// Largest integer power that is expanded.
const MAX_EXPAND_POWER: u32 = 6;
/// Largest number of terms a normal form may have before the class is left as it is.
const MAX_TERMS: usize = 64;

impl Monomial {
    /// The product of two monomials (exponents add; zero exponents drop).
    pub fn mul(&self, other: &Monomial) -> Monomial {
        let mut map: BTreeMap<Id, BigRational> = self.0.iter().cloned().collect();
        for (a, e) in &other.0 {
            let entry = map.entry(*a).or_insert_with(BigRational::zero);
            *entry += e;
        }
        Monomial(map.into_iter().filter(|(_, e)| !e.is_zero()).collect())
    }
    /// The total number of atom factors.
    pub fn degree(&self) -> usize {
        self.0.len()
    }
}

impl Poly {
    /// The constant `q`.
    pub fn constant(q: BigRational) -> Poly {
        let mut p = Poly::default();
        if !q.is_zero() {
            p.0.insert(Monomial::default(), q);
        }
        p
    }
    /// The atom `a`.
    pub fn atom(a: Id) -> Poly {
        let mut p = Poly::default();
        p.0.insert(Monomial(vec![(a, BigRational::one())]), BigRational::one());
        p
    }
    /// Is this a constant (possibly zero)?
    pub fn as_constant(&self) -> Option<BigRational> {
        match self.0.len() {
            0 => Some(BigRational::zero()),
            1 => self.0.get(&Monomial::default()).cloned(),
            _ => None,
        }
    }
    /// The single monomial and its coefficient, if there is exactly one term.
    pub fn as_monomial(&self) -> Option<(&Monomial, &BigRational)> {
        if self.0.len() == 1 {
            self.0.iter().next()
        } else {
            None
        }
    }
    /// `self + other`.
    pub fn add(&self, other: &Poly) -> Poly {
        let mut out = self.clone();
        for (m, c) in &other.0 {
            let entry = out.0.entry(m.clone()).or_insert_with(BigRational::zero);
            *entry += c;
            if entry.is_zero() {
                out.0.remove(m);
            }
        }
        out
    }
    /// `c · self`.
    pub fn scale(&self, c: &BigRational) -> Poly {
        if c.is_zero() {
            return Poly::default();
        }
        Poly(self.0.iter().map(|(m, k)| (m.clone(), k * c)).collect())
    }
    /// `self · other`, expanded.
    pub fn mul(&self, other: &Poly) -> Poly {
        let mut out = Poly::default();
        for (m1, c1) in &self.0 {
            for (m2, c2) in &other.0 {
                let term = Poly(BTreeMap::from([(m1.mul(m2), c1 * c2)]));
                out = out.add(&term);
            }
        }
        out
    }
    /// Number of terms.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Is this the zero polynomial?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every atom that occurs.
    pub fn atoms(&self) -> Vec<Id> {
        let mut v: Vec<Id> = self
            .0
            .keys()
            .flat_map(|m| m.0.iter().map(|(a, _)| *a))
            .collect();
        v.sort();
        v.dedup();
        v
    }
    /// A size used to pick the simplest of several normal forms of one class.
    fn cost(&self) -> (usize, usize) {
        (self.0.len(), self.0.keys().map(Monomial::degree).sum())
    }
}

/// Is the class known to be strictly positive (so negative and fractional powers of it are safe)?
pub fn is_positive(egraph: &MathGraph, id: Id) -> bool {
    // Memoised per call (a class reached again is not searched again; one still being searched
    // counts as not known positive, which breaks the e-graph's cycles): without it the search
    // is exponential in the depth on classes with many nodes. A `true` always rests on a finite
    // derivation, so the memo can only lose proofs of positivity, never invent one.
    fn go(
        egraph: &MathGraph,
        id: Id,
        depth: usize,
        memo: &mut std::collections::HashMap<Id, bool>,
    ) -> bool {
        let id = egraph.find(id);
        if depth > 8 {
            return false;
        }
        if let Some(known) = memo.get(&id) {
            return *known;
        }
        let class = &egraph[id];
        if let Some(c) = &class.data.constant {
            return c.0.is_positive();
        }
        memo.insert(id, false);
        let found = class.nodes.iter().any(|n| match n {
            Math::Symbol(s) => egraph.analysis.ctx.is_positive(*s),
            Math::Exp(_) => true,
            Math::Sqrt(a) => go(egraph, *a, depth + 1, memo),
            Math::Mul([a, b]) | Math::Div([a, b]) | Math::Add([a, b]) => {
                go(egraph, *a, depth + 1, memo) && go(egraph, *b, depth + 1, memo)
            }
            Math::Pow([a, _]) => go(egraph, *a, depth + 1, memo),
            _ => false,
        });
        memo.insert(id, found);
        found
    }
    go(egraph, id, 0, &mut std::collections::HashMap::new())
}

/// Is this node one the normal form looks through?
pub fn is_arithmetic(node: &Math) -> bool {
    matches!(
        node,
        Math::Add(_)
            | Math::Sub(_)
            | Math::Mul(_)
            | Math::Div(_)
            | Math::Neg(_)
            | Math::Pow(_)
            | Math::Sqrt(_)
            | Math::Num(_)
    )
}

/// Computes normal forms of classes, memoised for one e-graph state.
pub struct Normalizer<'a> {
    egraph: &'a MathGraph,
    memo: HashMap<Id, Poly>,
    stack: HashSet<Id>,
}

impl<'a> Normalizer<'a> {
    /// A normaliser over `egraph` (which must be clean: rebuilt).
    pub fn new(egraph: &'a MathGraph) -> Self {
        Normalizer {
            egraph,
            memo: HashMap::new(),
            stack: HashSet::new(),
        }
    }

    /// The normal form of class `id`.
    pub fn poly(&mut self, id: Id) -> Poly {
        let id = self.egraph.find(id);
        if let Some(p) = self.memo.get(&id) {
            return p.clone();
        }
        if let Some(p) = self.egraph.analysis.polys.borrow().get(&id) {
            return p.clone();
        }
        let top = self.stack.is_empty();
        let class = &self.egraph[id];
        if let Some(c) = &class.data.constant {
            return Poly::constant(c.0.clone());
        }
        if self.stack.contains(&id) {
            return Poly::atom(id);
        }
        self.stack.insert(id);
        let mut best: Option<Poly> = None;
        for node in class.nodes.iter().filter(|n| is_arithmetic(n)) {
            if node
                .children()
                .iter()
                .any(|c| self.stack.contains(&self.egraph.find(*c)))
            {
                continue;
            }
            if let Some(p) = self.node_poly(node) {
                if p.len() <= MAX_TERMS && best.as_ref().is_none_or(|b| p.cost() < b.cost()) {
                    best = Some(p);
                }
            }
        }
        self.stack.remove(&id);
        let p = best.unwrap_or_else(|| Poly::atom(id));
        self.memo.insert(id, p.clone());
        if top {
            // Only a form computed with no class cut off as a cycle is shared.
            self.egraph
                .analysis
                .polys
                .borrow_mut()
                .insert(id, p.clone());
        }
        p
    }

    fn node_poly(&mut self, node: &Math) -> Option<Poly> {
        Some(match node {
            Math::Num(c) => Poly::constant(c.0.clone()),
            Math::Add([a, b]) => self.poly(*a).add(&self.poly(*b)),
            Math::Sub([a, b]) => self
                .poly(*a)
                .add(&self.poly(*b).scale(&-BigRational::one())),
            Math::Neg(a) => self.poly(*a).scale(&-BigRational::one()),
            Math::Mul([a, b]) => self.poly(*a).mul(&self.poly(*b)),
            Math::Div([a, b]) => {
                let den = self.power(*b, &-BigRational::one())?;
                self.poly(*a).mul(&den)
            }
            Math::Pow([a, b]) => {
                let e = self.egraph[*b].data.constant.clone()?;
                self.power(*a, &e.0)?
            }
            Math::Sqrt(a) => self.power(*a, &BigRational::new(1.into(), 2.into()))?,
            _ => return None,
        })
    }

    /// `class^e` as a polynomial, when that is exact and safe.
    fn power(&mut self, id: Id, e: &BigRational) -> Option<Poly> {
        let base = self.poly(id);
        if e.is_integer() && !e.is_negative() {
            let n = e.to_integer().to_u32()?;
            if n > MAX_EXPAND_POWER {
                return None;
            }
            let mut out = Poly::constant(BigRational::one());
            for _ in 0..n {
                out = out.mul(&base);
            }
            return Some(out);
        }
        // A negative or fractional power of a single monomial whose atoms are all positive.
        if let Some(q) = base.as_constant() {
            return rational_power(&q, e).map(Poly::constant);
        }
        if let Some((m, c)) = base.as_monomial() {
            if m.0.iter().all(|(a, _)| is_positive(self.egraph, *a)) {
                let coeff = rational_power(c, e)?;
                let m = Monomial(m.0.iter().map(|(a, k)| (*a, k * e)).collect());
                return Some(Poly(BTreeMap::from([(m, coeff)])));
            }
        }
        // Otherwise (a sum, or a product with a factor not known positive) the whole class is
        // one atom, if it is positive.
        if is_positive(self.egraph, id) {
            let id = self.egraph.find(id);
            return Some(Poly(BTreeMap::from([(
                Monomial(vec![(id, e.clone())]),
                BigRational::one(),
            )])));
        }
        None
    }
}

/// `q^e` if it is rational (integer powers; roots of perfect powers of positive rationals).
pub fn rational_power(q: &BigRational, e: &BigRational) -> Option<BigRational> {
    let n = e.numer().to_i32()?;
    let d = e.denom().to_u32()?;
    if n.abs() > 64 || d > 8 {
        return None;
    }
    if q.is_zero() {
        return if n > 0 {
            Some(BigRational::zero())
        } else {
            None
        };
    }
    let root = if d == 1 {
        q.clone()
    } else {
        if q.is_negative() {
            return None;
        }
        let (a, b) = (q.numer().nth_root(d), q.denom().nth_root(d));
        let r = BigRational::new(a, b);
        if num_traits::pow(r.clone(), d as usize) != *q {
            return None;
        }
        r
    };
    Some(num_traits::pow::Pow::pow(root, n))
}

/// Builds the canonical term of a polynomial as a pattern whose variables stand for atoms.
///
/// The term is `c·a^e·… / (b^k·…)` per monomial, monomials joined by `+`/`-`; exponent ½ is
/// written `sqrt`. Returns the pattern and the substitution binding its variables to atoms.
pub fn to_pattern(egraph: &MathGraph, p: &Poly) -> (PatternAst<Math>, Subst) {
    let mut pat = PatternAst::default();
    let mut subst = Subst::with_capacity(8);
    let mut vars: HashMap<Id, Id> = HashMap::new();
    let num = |pat: &mut PatternAst<Math>, q: BigRational| {
        pat.add(ENodeOrVar::ENode(Math::Num(Constant(q))))
    };
    if p.is_empty() {
        num(&mut pat, BigRational::zero());
        return (pat, subst);
    }
    let mut atom = |pat: &mut PatternAst<Math>, a: Id| -> Id {
        *vars.entry(a).or_insert_with(|| {
            let v: Var = format!("?atom{}", usize::from(a)).parse().unwrap();
            subst.insert(v, egraph.find(a));
            pat.add(ENodeOrVar::Var(v))
        })
    };
    let mut acc: Option<Id> = None;
    for (i, (m, c)) in p.0.iter().enumerate() {
        let negate = c.is_negative() && i > 0;
        let c_abs = if negate { -c.clone() } else { c.clone() };
        let mut numer: Vec<Id> = vec![];
        let mut denom: Vec<Id> = vec![];
        for (a, e) in &m.0 {
            // A reciprocal atom `1/b` is written in the denominator as `b`.
            let (a, e) = match reciprocal_of(egraph, *a) {
                Some(b) if e.is_positive() && e.is_integer() => (b, -e.clone()),
                _ => (*a, e.clone()),
            };
            let base = atom(&mut pat, a);
            let mag = e.abs();
            let f = if mag.is_one() {
                base
            } else if mag == BigRational::new(1.into(), 2.into()) {
                pat.add(ENodeOrVar::ENode(Math::Sqrt(base)))
            } else {
                let k = num(&mut pat, mag);
                pat.add(ENodeOrVar::ENode(Math::Pow([base, k])))
            };
            if e.is_negative() {
                denom.push(f)
            } else {
                numer.push(f)
            }
        }
        let product = |pat: &mut PatternAst<Math>, fs: &[Id]| -> Option<Id> {
            fs.iter()
                .copied()
                .reduce(|x, y| pat.add(ENodeOrVar::ENode(Math::Mul([x, y]))))
        };
        let mut term = product(&mut pat, &numer);
        if !c_abs.is_one() || term.is_none() {
            if c_abs == -BigRational::one() && term.is_some() {
                term = Some(pat.add(ENodeOrVar::ENode(Math::Neg(term.unwrap()))));
            } else {
                let k = num(&mut pat, c_abs);
                term = Some(match term {
                    Some(t) => pat.add(ENodeOrVar::ENode(Math::Mul([k, t]))),
                    None => k,
                });
            }
        }
        let mut term = term.unwrap();
        if let Some(d) = product(&mut pat, &denom) {
            term = pat.add(ENodeOrVar::ENode(Math::Div([term, d])));
        }
        acc = Some(match acc {
            None => term,
            Some(a) if negate => pat.add(ENodeOrVar::ENode(Math::Sub([a, term]))),
            Some(a) => pat.add(ENodeOrVar::ENode(Math::Add([a, term]))),
        });
    }
    (pat, subst)
}

/// `b` when the class is the reciprocal `1/b` of a class that may vanish (an atom of the normal
/// form; see the `div-reciprocal` rule).
fn reciprocal_of(egraph: &MathGraph, id: Id) -> Option<Id> {
    egraph[egraph.find(id)].nodes.iter().find_map(|n| match n {
        Math::Div([one, b])
            if egraph[*one]
                .data
                .constant
                .as_ref()
                .is_some_and(|c| c.0.is_one()) =>
        {
            Some(*b)
        }
        _ => None,
    })
}

/// The integer `n` as a rational.
pub fn int(n: i64) -> BigRational {
    BigRational::from_integer(BigInt::from(n))
}
