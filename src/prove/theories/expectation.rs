//! Expectation over i.i.d. standard normal entries (the symbols the context declares random).
//!
//! Deterministic factors leave `E` (linearity), `E` exchanges with finite sums, factors with
//! disjoint random symbols separate (independence), and the moments of one N(0,1) entry and of
//! two entries of one array are known exactly.

use egg::{rewrite as rw, Id, Subst, Symbol};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive};
use std::collections::BTreeSet;

use crate::expr::{Constant, Math};
use crate::prove::analysis::MathGraph;
use crate::prove::poly::Normalizer;
use crate::prove::rule::{computed, var, PatBuilder, Replacement, Rule, Theory};
use crate::prove::theories::sums::{monomial_pattern, sum_pattern};

/// The random symbols a class depends on.
fn randoms(egraph: &MathGraph, id: Id) -> BTreeSet<Symbol> {
    egraph[id]
        .data
        .free
        .iter()
        .filter(|s| egraph.analysis.ctx.is_random(**s))
        .copied()
        .collect()
}

/// If the class is one N(0,1) variable — a random scalar symbol or an entry `w[i,…]` of a random
/// array — its array symbol and index classes.
fn entry(egraph: &MathGraph, id: Id) -> Option<(Symbol, Vec<Id>)> {
    egraph[id].nodes.iter().find_map(|n| match n {
        Math::Symbol(s) if egraph.analysis.ctx.is_random(*s) => Some((*s, vec![])),
        Math::Index(args) => {
            let s = crate::prove::analysis::symbol_of(egraph, args[0])?;
            let indices = &args[1..];
            let deterministic = indices.iter().all(|i| randoms(egraph, *i).is_empty());
            (egraph.analysis.ctx.is_random(s) && deterministic).then(|| (s, indices.to_vec()))
        }
        _ => None,
    })
}

/// Do the random factors of a monomial have a finite joint expectation by their form: each of
/// finite expectation ([`growth::tame`]: polynomial growth, or exp of an affine function of the
/// entries), to a non-negative integer power, so that their product is too. E[a/b] (a Cauchy
/// ratio) and E[a·exp(b²)] have none, and splitting them proves 0·∞ = 0.
///
/// [`growth::tame`]: super::growth::tame
pub(super) fn finite_mean(egraph: &MathGraph, factors: &[(Id, BigRational)]) -> bool {
    let depends = |c: Id| !randoms(egraph, c).is_empty();
    let variable = |c: Id| entry(egraph, c).is_some();
    let x = super::growth::Variables {
        depends: &depends,
        variable: &variable,
    };
    factors.iter().all(|(a, e)| {
        !depends(*a)
            || (e.is_integer() && !e.is_negative() && super::growth::tame(egraph, *a, 12, &x))
    })
}

/// E[Σ c_m d_m r_m] = Σ c_m d_m E[r_m] with d_m deterministic and r_m random factors, each r_m
/// of finite expectation ([`finite_mean`]).
fn linear(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let x = s[var("?x")];
    let p = Normalizer::new(egraph).poly(x);
    if !p.0.keys().all(|m| finite_mean(egraph, &m.0)) {
        return None;
    }
    if let Some((m, c)) = p.as_monomial() {
        if c.is_one() && !m.0.is_empty() && m.0.iter().all(|(a, _)| !randoms(egraph, *a).is_empty())
        {
            return None;
        }
    }
    let mut b = PatBuilder::default();
    let mut terms = vec![];
    for (m, c) in &p.0 {
        let (random, det): (Vec<_>, Vec<_>) =
            m.0.iter()
                .cloned()
                .partition(|(a, _)| !randoms(egraph, *a).is_empty());
        let expectation = if random.is_empty() {
            None
        } else {
            let inner = monomial_pattern(&mut b, egraph, &BigRational::one(), &random, None);
            Some(b.node(Math::Expect(inner)))
        };
        terms.push(monomial_pattern(&mut b, egraph, c, &det, expectation));
    }
    sum_pattern(&mut b, terms);
    Some(b.finish())
}

/// Factors sharing random symbols, with the symbols.
type Group = (BTreeSet<Symbol>, Vec<(Id, BigRational)>);

/// E[Π factors] = Π E[group] over groups of factors sharing no random symbol, each of finite
/// expectation ([`finite_mean`]).
fn independent(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(s[var("?x")]);
    let (m, c) = p.as_monomial()?;
    if !finite_mean(egraph, &m.0) {
        return None;
    }
    // Union-find over factors by shared random symbols.
    let factors: Vec<(Id, BigRational, BTreeSet<Symbol>)> =
        m.0.iter()
            .map(|(a, e)| (*a, e.clone(), randoms(egraph, *a)))
            .collect();
    let mut groups: Vec<Group> = vec![];
    for (a, e, syms) in factors {
        let mut merged = (syms.clone(), vec![(a, e)]);
        groups.retain(|(gs, members)| {
            if gs.is_disjoint(&syms) {
                true
            } else {
                merged.0.extend(gs.iter().copied());
                merged.1.extend(members.iter().cloned());
                false
            }
        });
        groups.push(merged);
    }
    if groups.len() < 2 {
        return None;
    }
    groups.sort_by(|a, b| a.1.cmp(&b.1));
    let mut b = PatBuilder::default();
    let mut parts = vec![];
    for (_, members) in &groups {
        let inner = monomial_pattern(&mut b, egraph, &BigRational::one(), members, None);
        parts.push(b.node(Math::Expect(inner)));
    }
    let prod = parts
        .into_iter()
        .reduce(|x, y| b.node(Math::Mul([x, y])))
        .unwrap();
    monomial_pattern(&mut b, egraph, c, &[], Some(prod));
    Some(b.finish())
}

/// E[z^n] = (n−1)!! for even n and 0 for odd n, z ~ N(0,1).
fn moment(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(s[var("?x")]);
    let (m, c) = p.as_monomial()?;
    if !c.is_one() || m.0.len() != 1 {
        return None;
    }
    let (a, e) = &m.0[0];
    entry(egraph, *a)?;
    if !e.is_integer() {
        return None;
    }
    let n = e.to_integer().to_u32()?;
    if n == 0 || n > 32 {
        return None;
    }
    let value: u64 = if n % 2 == 1 {
        0
    } else {
        (1..n).step_by(2).map(u64::from).product()
    };
    let mut b = PatBuilder::default();
    b.node(Math::Num(Constant::int(value as i64)));
    Some(b.finish())
}

/// E[w[a…]·w[b…]] = Π_k δ(a_k, b_k) for two entries of one i.i.d. N(0,1) array (a factor
/// δ(a, a) = 1 is left out).
fn second_moment(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(s[var("?x")]);
    let (m, c) = p.as_monomial()?;
    if !c.is_one() || m.0.len() != 2 || !m.0.iter().all(|(_, e)| e.is_one()) {
        return None;
    }
    let (s1, i1) = entry(egraph, m.0[0].0)?;
    let (s2, i2) = entry(egraph, m.0[1].0)?;
    if s1 != s2 || i1.len() != i2.len() || i1.is_empty() {
        return None;
    }
    let mut b = PatBuilder::default();
    // δ(a, a) = 1: identical index classes contribute no factor.
    let deltas: Vec<Id> = i1
        .iter()
        .zip(&i2)
        .filter(|(x, y)| egraph.find(**x) != egraph.find(**y))
        .map(|(x, y)| {
            let (x, y) = (b.class(egraph, *x), b.class(egraph, *y));
            b.node(Math::Delta([x, y]))
        })
        .collect();
    if deltas.is_empty() {
        b.node(Math::Num(Constant::int(1)));
    } else {
        deltas.into_iter().reduce(|x, y| b.node(Math::Mul([x, y])));
    }
    Some(b.finish())
}

/// A linear form Σ_k c(k)·ξ[…, k, …] in one i.i.d. N(0, 1) array ξ with deterministic
/// coefficients: a Gaussian variable with variance Σ_k c(k)².
struct Form {
    k: Symbol,
    lo: Id,
    hi: Id,
    xi: Symbol,
    /// ξ's index classes, with `None` where the summation index stands.
    indices: Vec<Option<Id>>,
    /// c(k), k free: a constant and deterministic atoms with their exponents (written out by
    /// [`Form::coeff`] only when the rule applies: extraction walks the e-graph).
    c: BigRational,
    atoms: Vec<(Id, BigRational)>,
}

impl Form {
    fn coeff(&self, egraph: &MathGraph) -> crate::expr::Expr {
        let mut coeff = crate::expr::Expr::default();
        let mut factors = vec![coeff.add(Math::Num(Constant(self.c.clone())))];
        for (atom, e) in &self.atoms {
            let t = crate::prove::rule::extract(egraph, *atom);
            let mut base = crate::expr::binders::append(&mut coeff, &t);
            if !e.is_one() {
                let ke = coeff.add(Math::Num(Constant(e.clone())));
                base = coeff.add(Math::Pow([base, ke]));
            }
            factors.push(base);
        }
        factors
            .into_iter()
            .reduce(|x, y| coeff.add(Math::Mul([x, y])));
        coeff
    }

    /// Might the coefficient mention gauss's u or v (captured in a gauss body)?
    fn mentions_gauss_vars(&self, egraph: &MathGraph) -> bool {
        self.atoms.iter().any(|(a, _)| {
            crate::expr::GAUSS_VARS
                .iter()
                .any(|v| egraph[*a].data.free.contains(&Symbol::from(*v)))
        })
    }
}

fn linear_form(egraph: &MathGraph, class: Id) -> Option<Form> {
    use crate::prove::analysis::symbol_of;
    egraph[class].nodes.iter().find_map(|n| {
        let Math::Sum([kv, lo, hi, body]) = n else {
            return None;
        };
        let k = symbol_of(egraph, *kv)?;
        if !randoms(egraph, *lo).is_empty() || !randoms(egraph, *hi).is_empty() {
            return None;
        }
        let p = Normalizer::new(egraph).poly(*body);
        let (m, c) = p.as_monomial()?;
        let mut xi = None;
        let mut atoms = vec![];
        for (atom, e) in &m.0 {
            if randoms(egraph, *atom).is_empty() {
                atoms.push((*atom, e.clone()));
                continue;
            }
            // The one random factor: an entry of ξ with k as exactly one of its indices.
            if xi.is_some() || !e.is_one() {
                return None;
            }
            let (sym, idx) = entry(egraph, *atom)?;
            let mut at_k = 0;
            let indices: Vec<Option<Id>> = idx
                .iter()
                .map(|i| {
                    if symbol_of(egraph, *i) == Some(k) {
                        at_k += 1;
                        None
                    } else {
                        Some(egraph.find(*i))
                    }
                })
                .collect();
            let k_elsewhere = indices
                .iter()
                .flatten()
                .any(|i| egraph[*i].data.free.contains(&k));
            if at_k != 1 || k_elsewhere {
                return None;
            }
            xi = Some((sym, indices));
        }
        let (xi, indices) = xi?;
        Some(Form {
            k,
            lo: egraph.find(*lo),
            hi: egraph.find(*hi),
            xi,
            indices,
            c: c.clone(),
            atoms,
        })
    })
}

/// The unary function nodes of a class applied to a linear form: (node, form).
fn applied_forms(egraph: &MathGraph, class: Id) -> Vec<(Math, Form)> {
    egraph[class]
        .nodes
        .iter()
        .filter(|n| n.unary_name().is_some() && !matches!(n, Math::MatExp(_)))
        .filter_map(|n| {
            let child = egg::Language::children(n)[0];
            linear_form(egraph, child)
                .filter(|f| !f.mentions_gauss_vars(egraph))
                .map(|f| (n.clone(), f))
        })
        .collect()
}

/// E[f(X)·g(Y)] = gauss(Var X, Cov(X, Y), Var Y; f(u)·g(v)) for linear forms X = Σ_k a(k)·ξ_k,
/// Y = Σ_k b(k)·ξ_k in one i.i.d. N(0, 1) array over one range with deterministic coefficients
/// ((X, Y) is then jointly Gaussian with those moments); E[f(X)] likewise with gauss(Var X, 0,
/// 1; f(u)). A d-dimensional z ~ N(0, S) is such a form (the loader writes z = F·ξ, S = F·Fᵀ),
/// so the expectations of a Gaussian vector's two-dimensional marginals are the gauss lemmas.
fn marginal(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(s[var("?x")]);
    let (m, c) = p.as_monomial()?;
    if !c.is_one() {
        return None;
    }
    // E[X^p] = (p − 1)!!·(Var X)^(p/2) for even p, 0 for odd p (X ~ N(0, Var X)).
    if let [(a, e)] = &m.0[..] {
        if let (Some(f), Some(p)) = (linear_form(egraph, *a), e.to_integer().to_u32()) {
            if (1..=64).contains(&p) {
                let mut b = PatBuilder::default();
                if p % 2 == 1 {
                    b.node(Math::Num(Constant::int(0)));
                    return Some(b.finish());
                }
                let mut dfact = BigRational::one();
                let mut q = p - 1;
                while q > 1 {
                    dfact *= BigRational::from_integer(q.into());
                    q -= 2;
                }
                let kv = b.node(Math::Symbol(f.k));
                let (lo, hi) = (b.class(egraph, f.lo), b.class(egraph, f.hi));
                let mut sq = f.coeff(egraph);
                let r = egg::Id::from(sq.as_ref().len() - 1);
                let two = sq.add(Math::Num(Constant::int(2)));
                sq.add(Math::Pow([r, two]));
                let body = b.expr(&sq);
                let var = b.node(Math::Sum([kv, lo, hi, body]));
                let half = b.node(Math::Num(Constant::int(i64::from(p / 2))));
                let power = b.node(Math::Pow([var, half]));
                let c = b.node(Math::Num(Constant(dfact)));
                b.node(Math::Mul([c, power]));
                return Some(b.finish());
            }
        }
    }
    let atoms: Vec<Id> = match &m.0[..] {
        [(a, e)] if e.is_one() => vec![*a],
        [(a, e)] if *e == BigRational::from_integer(2.into()) => vec![*a, *a],
        [(a, e1), (b, e2)] if e1.is_one() && e2.is_one() => vec![*a, *b],
        _ => return None,
    };
    let fs = applied_forms(egraph, atoms[0]);
    let gs = if atoms.len() == 2 {
        applied_forms(egraph, atoms[1])
    } else {
        vec![]
    };
    let mut b = PatBuilder::default();
    let sum_of = |b: &mut PatBuilder, f: &Form, body: &crate::expr::Expr| -> Id {
        let kv = b.node(Math::Symbol(f.k));
        let (lo, hi) = (b.class(egraph, f.lo), b.class(egraph, f.hi));
        let body = b.expr(body);
        b.node(Math::Sum([kv, lo, hi, body]))
    };
    let square = |x: &crate::expr::Expr| -> crate::expr::Expr {
        let mut out = x.clone();
        let r = egg::Id::from(out.as_ref().len() - 1);
        let two = out.add(Math::Num(Constant::int(2)));
        out.add(Math::Pow([r, two]));
        out
    };
    let at = |b: &mut PatBuilder, node: &Math, var: &str| -> Id {
        let x = b.node(Math::Symbol(Symbol::from(var)));
        let mut n = node.clone();
        egg::Language::children_mut(&mut n)[0] = x;
        b.node(n)
    };
    if atoms.len() == 1 {
        let (node, f) = fs.into_iter().next()?;
        let s11 = sum_of(&mut b, &f, &square(&f.coeff(egraph)));
        let zero = b.node(Math::Num(Constant::int(0)));
        let one = b.node(Math::Num(Constant::int(1)));
        let body = at(&mut b, &node, "u");
        b.node(Math::Gauss([s11, zero, one, body]));
        return Some(b.finish());
    }
    for (fnode, f) in &fs {
        for (gnode, g) in &gs {
            if f.xi != g.xi || f.lo != g.lo || f.hi != g.hi || f.indices != g.indices {
                continue;
            }
            // b's index renamed to a's: both sums then run over one k. Neither coefficient may
            // mention the other's index otherwise (an outer index named like it would be
            // captured: Σ_k E[X·Y_k] with Y_k = c_k Σ_j b_j ξ_j and X's index named k).
            let fc = f.coeff(egraph);
            let gc0 = g.coeff(egraph);
            if g.k != f.k
                && (crate::prove::rule::occurs(&fc, g.k) || crate::prove::rule::occurs(&gc0, f.k))
            {
                continue;
            }
            let Some(gc) = crate::expr::binders::substitute(&gc0, g.k, f.k) else {
                continue;
            };
            let mut ab = fc.clone();
            let ra = egg::Id::from(ab.as_ref().len() - 1);
            let rb = crate::expr::binders::append(&mut ab, &gc);
            ab.add(Math::Mul([ra, rb]));
            let s11 = sum_of(&mut b, f, &square(&fc));
            let s12 = sum_of(&mut b, f, &ab);
            let s22 = sum_of(&mut b, f, &square(&gc));
            let fu = at(&mut b, fnode, "u");
            let gv = at(&mut b, gnode, "v");
            let body = b.node(Math::Mul([fu, gv]));
            b.node(Math::Gauss([s11, s12, s22, body]));
            return Some(b.finish());
        }
    }
    None
}

fn deterministic(v: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let v = var(v);
    move |eg, _, s| randoms(eg, s[v]).is_empty()
}

/// The class bound to `v` has a finite expectation by its form ([`finite_mean`]).
fn finite(v: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let v = var(v);
    move |eg, _, s| finite_mean(eg, &[(s[v], BigRational::one())])
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Expectation,
        rewrite,
        examples,
    };
    vec![
        r(
            "E-linear",
            computed("E-linear", "(E ?x)", linear),
            &[
                "(E (+ (* a (idx w i j)) (* b (idx beta i))))",
                "(E (* 3 (^ (idx beta i) 2)))",
                "(E a)",
            ],
        ),
        r(
            "E-sum",
            rw!("E-sum"; "(E (sum ?j ?lo ?hi ?a))" => "(sum ?j ?lo ?hi (E ?a))"
            if deterministic("?lo") if deterministic("?hi") if finite("?a")),
            &["(E (sum j 1 n (* (idx w i j) (idx x j))))"],
        ),
        r(
            "E-independent",
            computed("E-independent", "(E ?x)", independent),
            &[
                "(E (* (idx beta i) (sum j 1 n (idx w i j))))",
                "(E (* (^ (idx beta i) 2) (^ (idx w i j) 2)))",
            ],
        ),
        r(
            "E-moment",
            computed("E-moment", "(E ?x)", moment),
            &[
                "(E (idx w i j))",
                "(E (^ (idx beta i) 2))",
                "(E (^ z 4))",
                "(E (^ z 3))",
            ],
        ),
        r(
            "E-marginal",
            computed("E-marginal", "(E ?x)", marginal),
            &[
                "(E (* (relu (sum k 1 n (* (idx x k) (idx w k)))) (relu (sum k 1 n (* (idx xp k) (idx w k))))))",
                "(E (^ (tanh (sum k 1 n (* 2 (idx w i k)))) 2))",
                "(E (erf (sum k 1 n (* (idx x k) (idx w k)))))",
                "(E (^ (sum k 1 n (* (idx x k) (idx w k))) 4))",
                "(E (^ (sum k 1 n (* (idx x k) (idx w k))) 3))",
            ],
        ),
        r(
            "E-second-moment",
            computed("E-second-moment", "(E ?x)", second_moment),
            &[
                "(E (* (idx w i j) (idx w i k)))",
                "(E (* (idx w i j) (idx w k l)))",
            ],
        ),
    ]
}
