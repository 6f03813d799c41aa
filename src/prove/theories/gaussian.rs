//! Closed forms of bivariate Gaussian expectations `gauss(s11, s12, s22; f(u)*g(v))` as lemmas:
//! the arc-cosine kernels of relu and step, abs, the erf kernel (Williams 1997), sin and cos. Each holds for
//! s11, s22 > 0 and |s12| ≤ √(s11·s22); the conditions require the variances to be known positive.
//! The numeric side evaluates `gauss(...)` by quadrature (`numeric::gauss`), so `tests/rules.rs`
//! checks every lemma against an independent computation.

use egg::{rewrite as rw, Id, Subst};

use crate::prove::analysis::MathGraph;
use crate::prove::poly::is_positive;
use crate::prove::rule::{var, Rule, Theory};

fn positive(a: &'static str, c: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (a, c) = (var(a), var(c));
    move |eg, _, s| is_positive(eg, s[a]) && is_positive(eg, s[c])
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Gaussian,
        rewrite,
        examples,
    };
    // ρ = s12 / √(s11·s22)
    vec![
        r(
            "gauss-relu",
            rw!("gauss-relu";
                "(gauss ?a ?b ?c (* (relu u) (relu v)))" =>
                "(* (/ (sqrt (* ?a ?c)) (* 2 pi)) (+ (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2))) (* (- pi (acos (/ ?b (sqrt (* ?a ?c))))) (/ ?b (sqrt (* ?a ?c))))))"
                if positive("?a", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (relu u) (relu v)))"],
        ),
        r(
            "gauss-step",
            rw!("gauss-step";
                "(gauss ?a ?b ?c (* (step u) (step v)))" =>
                "(/ (- pi (acos (/ ?b (sqrt (* ?a ?c))))) (* 2 pi))"
                if positive("?a", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (step u) (step v)))"],
        ),
        r(
            "gauss-erf",
            rw!("gauss-erf";
                "(gauss ?a ?b ?c (* (erf u) (erf v)))" =>
                "(* (/ 2 pi) (asin (/ (* 2 ?b) (sqrt (* (+ 1 (* 2 ?a)) (+ 1 (* 2 ?c)))))))"
                if positive("?a", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (erf u) (erf v)))"],
        ),
        r(
            "gauss-abs",
            rw!("gauss-abs";
                "(gauss ?a ?b ?c (* (abs u) (abs v)))" =>
                "(* (/ (* 2 (sqrt (* ?a ?c))) pi) (+ (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2))) (* (/ ?b (sqrt (* ?a ?c))) (asin (/ ?b (sqrt (* ?a ?c)))))))"
                if positive("?a", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (abs u) (abs v)))"],
        ),
        r(
            "gauss-sin",
            rw!("gauss-sin";
                "(gauss ?a ?b ?c (* (sin u) (sin v)))" =>
                "(* (exp (* -1/2 (+ ?a ?c))) (/ (- (exp ?b) (exp (neg ?b))) 2))"),
            &["(gauss s (* c (sqrt (* s n))) n (* (sin u) (sin v)))"],
        ),
        r(
            "gauss-cos",
            rw!("gauss-cos";
                "(gauss ?a ?b ?c (* (cos u) (cos v)))" =>
                "(* (exp (* -1/2 (+ ?a ?c))) (/ (+ (exp ?b) (exp (neg ?b))) 2))"),
            &["(gauss s (* c (sqrt (* s n))) n (* (cos u) (cos v)))"],
        ),
        r(
            "gauss-relu-diag",
            rw!("gauss-relu-diag"; "(gauss ?a ?b ?c (^ (relu u) 2))" => "(/ ?a 2)"),
            &["(gauss s (* c (sqrt (* s n))) n (^ (relu u) 2))"],
        ),
    ]
}
