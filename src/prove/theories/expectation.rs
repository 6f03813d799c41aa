//! Expectation over i.i.d. standard normal entries (the symbols the context declares random).
//!
//! Deterministic factors leave `E` (linearity), `E` exchanges with finite sums, factors with
//! disjoint random symbols separate (independence), and the moments of one N(0,1) entry and of
//! two entries of one array are known exactly.

use egg::{rewrite as rw, Id, Subst, Symbol};
use num_rational::BigRational;
use num_traits::{One, ToPrimitive};
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

/// E[Σ c_m d_m r_m] = Σ c_m d_m E[r_m] with d_m deterministic and r_m random factors.
fn linear(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let x = s[var("?x")];
    let p = Normalizer::new(egraph).poly(x);
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

/// E[Π factors] = Π E[group] over groups of factors sharing no random symbol.
fn independent(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(s[var("?x")]);
    let (m, c) = p.as_monomial()?;
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

fn deterministic(v: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let v = var(v);
    move |eg, _, s| randoms(eg, s[v]).is_empty()
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
            if deterministic("?lo") if deterministic("?hi")),
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
            "E-second-moment",
            computed("E-second-moment", "(E ?x)", second_moment),
            &[
                "(E (* (idx w i j) (idx w i k)))",
                "(E (* (idx w i j) (idx w k l)))",
            ],
        ),
    ]
}
