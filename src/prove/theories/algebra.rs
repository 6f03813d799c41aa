//! Algebra: every arithmetic class is joined with its canonical polynomial normal form
//! (see [`crate::prove::poly`]). This replaces associativity, commutativity, distributivity,
//! identities and constant folding with one rule family, `ring-normalize`.

use egg::{rewrite as rw, Id, Subst};
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use std::collections::BTreeMap;

use crate::expr::Math;
use crate::prove::analysis::MathGraph;
use crate::prove::poly::{is_positive, to_pattern, Monomial, Normalizer, Poly};
use crate::prove::rule::{computed, var, PatBuilder, Replacement, Rule, Theory};

fn normalize(egraph: &MathGraph, eclass: Id, _: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(eclass);
    Some(Replacement::new(to_pattern(egraph, &p)))
}

/// `a/b` is worth splitting into `a·(1/b)`: `a` is not 1 and `b` is neither a constant nor
/// known positive (those the normal form already writes as `b⁻¹`).
fn opaque_quotient(eg: &mut MathGraph, _: Id, s: &Subst) -> bool {
    let (a, b) = (s[var("?a")], s[var("?b")]);
    let one = eg[a]
        .data
        .constant
        .as_ref()
        .is_some_and(|c| num_traits::One::is_one(&c.0));
    !one && eg[b].data.constant.is_none() && !is_positive(eg, b)
}

/// `?b` is known positive.
fn positive_b(eg: &mut MathGraph, _: Id, s: &Subst) -> bool {
    is_positive(eg, s[var("?b")])
}

/// √x = √(x·D^k) / D^(k/2) for positive atoms D that x's normal form divides by (D^k the
/// least power that clears them): both sides are undefined exactly where x < 0. The root of a
/// quotient becomes a quotient of roots, so √(1 − a/P)·√P and √(P − a) meet.
fn sqrt_clear(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let x = s[var("?x")];
    let p = Normalizer::new(egraph).poly(x);
    if p.as_monomial()
        .is_some_and(|(m, _)| m.0.iter().all(|(a, _)| is_positive(egraph, *a)))
    {
        return None; // the normal form takes the root of a positive monomial itself
    }
    let mut clear: BTreeMap<Id, BigRational> = BTreeMap::new();
    for m in p.0.keys() {
        for (a, e) in &m.0 {
            if e.is_negative() {
                if !e.is_integer() || !is_positive(egraph, *a) {
                    return None;
                }
                let k = clear.entry(*a).or_insert_with(BigRational::zero);
                if -e > *k {
                    *k = -e.clone();
                }
            }
        }
    }
    if clear.is_empty() {
        return None;
    }
    let factor = Monomial(clear.iter().map(|(a, k)| (*a, k.clone())).collect());
    let cleared = Poly(
        p.0.iter()
            .map(|(m, c)| (m.mul(&factor), c.clone()))
            .collect(),
    );
    let half = BigRational::new(1.into(), 2.into());
    let root = Monomial(clear.iter().map(|(a, k)| (*a, k * &half)).collect());
    let root = Poly(BTreeMap::from([(
        root,
        BigRational::from_integer(1.into()),
    )]));
    let mut b = PatBuilder::default();
    let inner = b.pattern(egraph, &to_pattern(egraph, &cleared));
    let num = b.node(Math::Sqrt(inner));
    let den = b.pattern(egraph, &to_pattern(egraph, &root));
    b.node(Math::Div([num, den]));
    Some(b.finish())
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, searcher, examples| Rule {
        name,
        theory: Theory::Algebra,
        rewrite: computed(name, searcher, normalize),
        examples,
    };
    let plain = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Algebra,
        rewrite,
        examples,
    };
    vec![
        // A denominator that may vanish is never cancelled (x/x = 1 is false at 0); its
        // reciprocal `1/b` is an atom of the normal form, so a·(b/c) and (a·b)/c still meet.
        // Both sides are undefined exactly where b = 0.
        plain(
            "div-reciprocal",
            rw!("div-reciprocal"; "(/ ?a ?b)" => "(* ?a (/ 1 ?b))" if opaque_quotient),
            &["(/ (* a b) (+ 2 (sin t)))", "(/ a (+ 2 (cos t)))"],
        ),
        // 1/(a·b) = (1/a)·(1/b): both undefined exactly where a = 0 or b = 0.
        plain(
            "reciprocal-mul",
            rw!("reciprocal-mul"; "(/ 1 (* ?a ?b))" => "(* (/ 1 ?a) (/ 1 ?b))"),
            &["(/ 1 (* 2 (+ 2 (sin t))))", "(/ 1 (* s (+ 2 (cos t))))"],
        ),
        // 1/(a/b) = b·(1/a) for b > 0: both undefined exactly where a = 0.
        plain(
            "reciprocal-div",
            rw!("reciprocal-div"; "(/ 1 (/ ?a ?b))" => "(* ?b (/ 1 ?a))" if positive_b),
            &["(/ 1 (/ (+ 2 (sin t)) s))"],
        ),
        plain(
            "sqrt-clear",
            computed("sqrt-clear", "(sqrt ?x)", sqrt_clear),
            &[
                "(sqrt (+ 1 (/ (* a a) s)))",
                "(sqrt (+ (/ (* a a) (* s s)) (/ (* b b) s)))",
            ],
        ),
        r(
            "ring-normalize(+)",
            "(+ ?a ?b)",
            &["(+ (* a b) (* b a))", "(+ (* 2 a) (neg a))"],
        ),
        r(
            "ring-normalize(-)",
            "(- ?a ?b)",
            &["(- (* (+ a b) (+ a b)) (* a a))"],
        ),
        r(
            "ring-normalize(*)",
            "(* ?a ?b)",
            &["(* (+ a 1) (- a 1))", "(* (/ s (sqrt n)) (/ s (sqrt n)))"],
        ),
        r(
            "ring-normalize(/)",
            "(/ ?a ?b)",
            &["(/ (* s s) s)", "(/ (+ a b) s)"],
        ),
        r("ring-normalize(neg)", "(neg ?a)", &["(neg (neg a))"]),
        r(
            "ring-normalize(^)",
            "(^ ?a ?b)",
            &["(^ (+ a b) 2)", "(^ (^ s 2) 1/2)", "(^ s -2)"],
        ),
        r(
            "ring-normalize(sqrt)",
            "(sqrt ?a)",
            &["(sqrt (* 4 (* s s)))", "(sqrt (/ 9 4))"],
        ),
    ]
}
