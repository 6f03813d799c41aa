//! Trigonometric and inverse trigonometric identities. Each holds wherever its left side is
//! defined (inverse functions on [−1, 1]).

use crate::prove::analysis::MathGraph;
use crate::prove::rule::{var, Rule, Theory};
use crate::prove::theories::gaussian::within_unit;
use egg::{Id, Subst};

/// `?x` is known to lie in [−1, 1]: cos(acos x) = x and sin(asin x) = x would otherwise give a
/// value to a term that has none (|x| > 1).
fn in_unit(x: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let x = var(x);
    move |eg, _, s| within_unit(eg, s[x])
}
use egg::rewrite as rw;

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Trig,
        rewrite,
        examples,
    };
    vec![
        r(
            "cosh-exp",
            rw!("cosh-exp"; "(cosh ?x)" => "(/ (+ (exp ?x) (exp (neg ?x))) 2)"),
            &["(cosh (* 2 t))"],
        ),
        r(
            "sinh-exp",
            rw!("sinh-exp"; "(sinh ?x)" => "(/ (- (exp ?x) (exp (neg ?x))) 2)"),
            &["(sinh (- t 1))"],
        ),
        r(
            "acos-asin",
            rw!("acos-asin"; "(acos ?x)" => "(- (/ pi 2) (asin ?x))"),
            &["(acos c)"],
        ),
        r(
            "asin-acos",
            rw!("asin-acos"; "(asin ?x)" => "(- (/ pi 2) (acos ?x))"),
            &["(asin c)"],
        ),
        // The special values, which the rules above do not reach from a closed argument
        // (acos 0 = π − acos 0 needs a node (neg 0) that nothing builds): E[step(u)·step(−v)]
        // at ρ = 0 came out `unknown` with lhs − rhs = −1/4 + acos(0)/(2π).
        r(
            "acos-0",
            rw!("acos-0"; "(acos 0)" => "(/ pi 2)"),
            &["(acos 0)"],
        ),
        r("asin-0", rw!("asin-0"; "(asin 0)" => "0"), &["(asin 0)"]),
        r("atan-0", rw!("atan-0"; "(atan 0)" => "0"), &["(atan 0)"]),
        r("acos-1", rw!("acos-1"; "(acos 1)" => "0"), &["(acos 1)"]),
        r(
            "asin-1",
            rw!("asin-1"; "(asin 1)" => "(/ pi 2)"),
            &["(asin 1)"],
        ),
        r(
            "acos-neg",
            rw!("acos-neg"; "(acos (neg ?x))" => "(- pi (acos ?x))"),
            &["(acos (neg c))"],
        ),
        r(
            "cos-acos",
            rw!("cos-acos"; "(cos (acos ?x))" => "?x" if in_unit("?x")),
            &["(cos (acos c))"],
        ),
        r(
            "sin-acos",
            rw!("sin-acos"; "(sin (acos ?x))" => "(sqrt (- 1 (^ ?x 2)))"),
            &["(sin (acos c))"],
        ),
        r(
            "sin-asin",
            rw!("sin-asin"; "(sin (asin ?x))" => "?x" if in_unit("?x")),
            &["(sin (asin c))"],
        ),
        r(
            "cos-asin",
            rw!("cos-asin"; "(cos (asin ?x))" => "(sqrt (- 1 (^ ?x 2)))"),
            &["(cos (asin c))"],
        ),
        r(
            "cos-sq",
            rw!("cos-sq"; "(^ (cos ?x) 2)" => "(- 1 (^ (sin ?x) 2))"),
            &["(^ (cos a) 2)"],
        ),
        r(
            "sin-pi-minus",
            rw!("sin-pi-minus"; "(sin (- pi ?x))" => "(sin ?x)"),
            &["(sin (- pi a))"],
        ),
        r(
            "cos-pi-minus",
            rw!("cos-pi-minus"; "(cos (- pi ?x))" => "(neg (cos ?x))"),
            &["(cos (- pi a))"],
        ),
        r(
            "sin-neg",
            rw!("sin-neg"; "(sin (neg ?x))" => "(neg (sin ?x))"),
            &["(sin (neg a))"],
        ),
        r(
            "cos-neg",
            rw!("cos-neg"; "(cos (neg ?x))" => "(cos ?x)"),
            &["(cos (neg a))"],
        ),
    ]
}
