//! Algebra: every arithmetic class is joined with its canonical polynomial normal form
//! (see [`crate::prove::poly`]). This replaces associativity, commutativity, distributivity,
//! identities and constant folding with one rule family, `ring-normalize`.

use egg::{Id, Subst};

use crate::prove::analysis::MathGraph;
use crate::prove::poly::{to_pattern, Normalizer};
use crate::prove::rule::{computed, Replacement, Rule, Theory};

fn normalize(egraph: &MathGraph, eclass: Id, _: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(eclass);
    Some(Replacement::new(to_pattern(egraph, &p)))
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, searcher, examples| Rule {
        name,
        theory: Theory::Algebra,
        rewrite: computed(name, searcher, normalize),
        examples,
    };
    vec![
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
