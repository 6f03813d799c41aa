//! exp and log beyond the ring normal form.

use crate::prove::analysis::MathGraph;
use crate::prove::poly::is_positive;
use crate::prove::rule::{pat, var, Rule, Theory};
use egg::{rewrite as rw, Id, Subst};

fn positive(v: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let v = var(v);
    move |eg, _, s| is_positive(eg, s[v])
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let _ = pat;
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Powers,
        rewrite,
        examples,
    };
    vec![
        r(
            "exp-add",
            rw!("exp-add"; "(exp (+ ?a ?b))" => "(* (exp ?a) (exp ?b))"),
            &["(exp (+ a b))"],
        ),
        r(
            "exp-sub",
            rw!("exp-sub"; "(exp (- ?a ?b))" => "(/ (exp ?a) (exp ?b))"),
            &["(exp (- a b))"],
        ),
        r(
            "exp-neg",
            rw!("exp-neg"; "(exp (neg ?a))" => "(/ 1 (exp ?a))"),
            &["(exp (neg a))"],
        ),
        r("exp-zero", rw!("exp-zero"; "(exp 0)" => "1"), &["(exp 0)"]),
        r(
            "log-exp",
            rw!("log-exp"; "(log (exp ?a))" => "?a"),
            &["(log (exp a))"],
        ),
        r(
            "exp-log",
            rw!("exp-log"; "(exp (log ?a))" => "?a" if positive("?a")),
            &["(exp (log s))"],
        ),
        r(
            "log-mul",
            rw!("log-mul"; "(log (* ?a ?b))" => "(+ (log ?a) (log ?b))" if positive("?a") if positive("?b")),
            &["(log (* s n))"],
        ),
        r("log-one", rw!("log-one"; "(log 1)" => "0"), &["(log 1)"]),
        r(
            "sqrt-exp",
            rw!("sqrt-exp"; "(sqrt (exp ?a))" => "(exp (* 1/2 ?a))"),
            &["(sqrt (exp a))"],
        ),
    ]
}
