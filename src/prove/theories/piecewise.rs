//! Piecewise functions in terms of one another: max, min, leaky_relu and sign through abs and
//! relu (each identity holds for every real argument, 0 included).

use egg::{rewrite as rw, Id, Subst};

use crate::prove::analysis::MathGraph;
use crate::prove::poly::is_positive;
use crate::prove::rule::{var, Rule, Theory};

fn positive(v: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let v = var(v);
    move |eg, _, s| is_positive(eg, s[v])
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Piecewise,
        rewrite,
        examples,
    };
    vec![
        r(
            "max-abs",
            rw!("max-abs"; "(max ?a ?b)" => "(/ (+ (+ ?a ?b) (abs (- ?a ?b))) 2)"),
            &["(max a (* 2 b))", "(max (sin t) 0)"],
        ),
        r(
            "min-abs",
            rw!("min-abs"; "(min ?a ?b)" => "(/ (- (+ ?a ?b) (abs (- ?a ?b))) 2)"),
            &["(min a (* 2 b))", "(min (neg a) 0)"],
        ),
        r(
            "leaky-relu",
            rw!("leaky-relu"; "(leaky_relu ?x ?s)" => "(- (relu ?x) (* ?s (relu (neg ?x))))"),
            &["(leaky_relu a (/ 1 10))", "(leaky_relu (- a b) s)"],
        ),
        r(
            "min-zero",
            rw!("min-zero"; "(min ?x 0)" => "(neg (relu (neg ?x)))"),
            &["(min (- a 1) 0)"],
        ),
        r(
            "max-zero",
            rw!("max-zero"; "(max ?x 0)" => "(relu ?x)"),
            &["(max (- a 1) 0)"],
        ),
        r(
            "abs-neg",
            rw!("abs-neg"; "(abs (neg ?x))" => "(abs ?x)"),
            &["(abs (neg (- a b)))"],
        ),
        r(
            "relu-homogeneous",
            rw!("relu-homogeneous"; "(relu (* ?c ?x))" => "(* ?c (relu ?x))" if positive("?c")),
            &["(relu (* s (- a b)))"],
        ),
        r(
            "step-homogeneous",
            rw!("step-homogeneous"; "(step (* ?c ?x))" => "(step ?x)" if positive("?c")),
            &["(step (* s (- a b)))"],
        ),
        r(
            "sign-abs",
            rw!("sign-abs"; "(* ?x (sign ?x))" => "(abs ?x)"),
            &["(* (- a b) (sign (- a b)))"],
        ),
    ]
}
