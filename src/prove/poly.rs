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
/// Largest number of pairs of terms multiplied in one product: a result within `MAX_TERMS`
/// from more pairs needs eight or more pairs to merge into each term on average (dense
/// polynomials of high degree), which no derivation's algebra has; 28 × 28 terms from saturated
/// e-graphs, multiplied again at every normalisation, were most of a 2 s proof search.
const MAX_PRODUCT_PAIRS: usize = 8 * MAX_TERMS;
/// Largest numerator or denominator (in bits) of a product's coefficients before the class is
/// left as it is: powers of powers in a saturated e-graph otherwise build coefficients of
/// thousands of digits whose gcds dominated proof time (|t − 10⁷|/(t − 10⁷) spent 6 s there).
/// 512 bits (154 digits) is far beyond the constants of any derivation (E[w²⁰] = 19!! has 30 bits).
const MAX_COEFFICIENT_BITS: u64 = 512;

impl Monomial {
    /// The product of two monomials (exponents add; zero exponents drop).
    pub fn mul(&self, other: &Monomial) -> Monomial {
        // Both are sorted by atom: merge them.
        let (x, y) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() || j < y.len() {
            if j == y.len() || (i < x.len() && x[i].0 < y[j].0) {
                out.push(x[i].clone());
                i += 1;
            } else if i == x.len() || y[j].0 < x[i].0 {
                out.push(y[j].clone());
                j += 1;
            } else {
                let e = &x[i].1 + &y[j].1;
                if !e.is_zero() {
                    out.push((x[i].0, e));
                }
                i += 1;
                j += 1;
            }
        }
        Monomial(out)
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
            out.add_term(m.clone(), c.clone());
        }
        out
    }
    /// Adds `c · m` in place (a term that cancels is removed).
    fn add_term(&mut self, m: Monomial, c: BigRational) {
        match self.0.entry(m) {
            std::collections::btree_map::Entry::Vacant(v) => {
                if !c.is_zero() {
                    v.insert(c);
                }
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                *o.get_mut() += c;
                if o.get().is_zero() {
                    o.remove();
                }
            }
        }
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
                out.add_term(m1.mul(m2), c1 * c2);
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
///
/// A class met again below itself (the e-graph's cycles) is cut off: read as an atom, and a node
/// that reaches it is skipped. A form computed with no cut below it is the form the class has
/// when normalised on its own, so it is shared with every later normaliser of this iteration
/// (`MathAnalysis::polys`), as is the form of the class a walk started from; one that depends on
/// where the walk came from stays in this normaliser's memo, marked, and marks every form built
/// on it.
pub struct Normalizer<'a> {
    egraph: &'a MathGraph,
    /// Forms computed here, and whether a cut lies below them.
    memo: HashMap<Id, (Poly, bool)>,
    stack: HashSet<Id>,
    /// Cuts so far: a walk that adds none is independent of the stack it started on.
    cuts: usize,
}

impl<'a> Normalizer<'a> {
    /// A normaliser over `egraph` (which must be clean: rebuilt).
    pub fn new(egraph: &'a MathGraph) -> Self {
        Normalizer {
            egraph,
            memo: HashMap::new(),
            stack: HashSet::new(),
            cuts: 0,
        }
    }

    /// The normal form of class `id`.
    pub fn poly(&mut self, id: Id) -> Poly {
        let id = self.egraph.find(id);
        if let Some((p, cut)) = self.memo.get(&id) {
            if *cut {
                self.cuts += 1;
            }
            return p.clone();
        }
        if let Some(p) = self.egraph.analysis.polys.borrow().get(&id) {
            return p.clone();
        }
        let class = &self.egraph[id];
        if let Some(c) = &class.data.constant {
            return Poly::constant(c.0.clone());
        }
        if self.stack.contains(&id) {
            self.cuts += 1;
            return Poly::atom(id);
        }
        let cuts_before = self.cuts;
        self.stack.insert(id);
        let mut best: Option<Poly> = None;
        for node in class.nodes.iter().filter(|n| is_arithmetic(n)) {
            if node
                .children()
                .iter()
                .any(|c| self.stack.contains(&self.egraph.find(*c)))
            {
                self.cuts += 1;
                continue;
            }
            if let Some(p) = self.node_poly(node) {
                if p.len() <= MAX_TERMS
                    && best.as_ref().is_none_or(|b| self.rank(&p) < self.rank(b))
                {
                    best = Some(p);
                }
            }
        }
        self.stack.remove(&id);
        let p = best.unwrap_or_else(|| Poly::atom(id));
        let cut = self.cuts != cuts_before;
        self.memo.insert(id, (p.clone(), cut));
        if !cut || self.stack.is_empty() {
            self.egraph
                .analysis
                .polys
                .borrow_mut()
                .insert(id, p.clone());
        }
        p
    }

    /// How a form ranks among the forms of one class (smaller is chosen): first the number of
    /// its monomials holding cos(x)² or a higher power — where the trig rule `cos-sq` has put
    /// 1 − sin(x)² in the class, that form is chosen, so that sin²x + cos²x meets 1 in any
    /// sum, with any coefficients —, then its number of terms and of atom factors.
    fn rank(&self, p: &Poly) -> (usize, usize, usize) {
        let squared_cos = |(a, e): &(Id, BigRational)| {
            e.is_integer()
                && *e >= BigRational::from_integer(2.into())
                && self.egraph[*a]
                    .nodes
                    .iter()
                    .any(|n| matches!(n, Math::Cos(_)))
        };
        let reducible = p.0.keys().filter(|m| m.0.iter().any(squared_cos)).count();
        let (terms, degree) = p.cost();
        (reducible, terms, degree)
    }

    fn node_poly(&mut self, node: &Math) -> Option<Poly> {
        Some(match node {
            Math::Num(c) => Poly::constant(c.0.clone()),
            Math::Add([a, b]) => self.poly(*a).add(&self.poly(*b)),
            Math::Sub([a, b]) => self
                .poly(*a)
                .add(&self.poly(*b).scale(&-BigRational::one())),
            Math::Neg(a) => self.poly(*a).scale(&-BigRational::one()),
            Math::Mul([a, b]) => product(&self.poly(*a), &self.poly(*b))?,
            Math::Div([a, b]) => {
                let den = self.power(*b, &-BigRational::one())?;
                product(&self.poly(*a), &den)?
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
                out = product(&out, &base)?;
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

/// `a · b` expanded, unless it would have more than `MAX_TERMS` terms (such a class is left as
/// it is, as any form over `MAX_TERMS` is): the pairs of terms are bounded before they are
/// multiplied, the result after.
fn product(a: &Poly, b: &Poly) -> Option<Poly> {
    if a.len() * b.len() > MAX_PRODUCT_PAIRS {
        return None;
    }
    let p = a.mul(b);
    let small = |c: &BigRational| c.numer().bits().max(c.denom().bits()) <= MAX_COEFFICIENT_BITS;
    (p.len() <= MAX_TERMS && p.0.values().all(small)).then_some(p)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> BigRational {
        BigRational::from_integer(n.into())
    }
    fn mono(v: &[(usize, i64)]) -> Monomial {
        Monomial(v.iter().map(|(a, e)| (Id::from(*a), q(*e))).collect())
    }

    #[test]
    fn monomials_multiply_by_merging_their_sorted_atoms() {
        let x = mono(&[(1, 2), (3, -1), (5, 1)]);
        let y = mono(&[(0, 1), (3, 1), (5, 2), (7, 1)]);
        // x³'s exponent of atom 3 cancels and is dropped; the rest stay sorted.
        assert_eq!(x.mul(&y), mono(&[(0, 1), (1, 2), (5, 3), (7, 1)]));
        assert_eq!(x.mul(&Monomial::default()), x);
    }

    #[test]
    fn products_beyond_the_bounds_are_refused_not_truncated() {
        // (1 + a)(1 − a) = 1 − a²: terms that cancel are removed.
        let one_plus = Poly::constant(q(1)).add(&Poly::atom(Id::from(1)));
        let one_minus = Poly::constant(q(1)).add(&Poly::atom(Id::from(1)).scale(&q(-1)));
        let p = product(&one_plus, &one_minus).expect("small");
        assert_eq!(p.len(), 2);
        // 23 × 23 = 529 pairs of terms exceed MAX_PRODUCT_PAIRS.
        let sum =
            |n: usize| (0..n).fold(Poly::default(), |acc, i| acc.add(&Poly::atom(Id::from(i))));
        assert!(product(&sum(22), &sum(1)).is_some());
        assert!(product(&sum(23), &sum(23)).is_none());
        // A coefficient of 2^600 exceeds MAX_COEFFICIENT_BITS.
        let big = Poly::atom(Id::from(1)).scale(&BigRational::from_integer(BigInt::from(1) << 300));
        assert!(product(&big, &big).is_none());
        assert!(product(&big, &Poly::constant(q(3))).is_some());
    }
}
