//! Piecewise functions in terms of one another: max, min, leaky_relu and sign through abs and
//! relu (each identity holds for every real argument, 0 included).

use egg::rewrite as rw;

use crate::prove::rule::{Rule, Theory};

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
            "relu-max",
            rw!("relu-max"; "(relu ?x)" => "(max ?x 0)"),
            &["(relu (- a 1))"],
        ),
        r(
            "abs-neg",
            rw!("abs-neg"; "(abs (neg ?x))" => "(abs ?x)"),
            &["(abs (neg (- a b)))"],
        ),
        r(
            "sign-abs",
            rw!("sign-abs"; "(* ?x (sign ?x))" => "(abs ?x)"),
            &["(* (- a b) (sign (- a b)))"],
        ),
    ]
}
