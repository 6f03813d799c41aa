//! Closed forms of bivariate Gaussian expectations `gauss(s11, s12, s22; f(u)*g(v))` as lemmas:
//! the arc-cosine kernels of relu and step, abs, the erf kernel (Williams 1997), sin and cos. Each holds for
//! s11, s22 > 0 and |s12| ≤ √(s11·s22), and fires only where both are known ([`covariance`]).
//! The numeric side evaluates `gauss(...)` by quadrature (`numeric::gauss`), so `tests/rules.rs`
//! checks every lemma against an independent computation.

use egg::{rewrite as rw, Id, Subst};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

use crate::expr::Math;
use crate::prove::analysis::MathGraph;
use crate::prove::poly::{is_positive, Normalizer};
use crate::prove::rule::{var, Rule, Theory};

/// Is the class known to lie in [−1, 1]: a constant there, a symbol declared in an interval
/// inside [−1, 1], or a sine, cosine, tanh or erf?
pub(crate) fn within_unit(egraph: &MathGraph, id: Id) -> bool {
    let one = BigRational::one();
    if let Some(c) = &egraph[id].data.constant {
        return c.0 >= -one.clone() && c.0 <= one;
    }
    egraph[id].nodes.iter().any(|n| match n {
        Math::Symbol(s) => egraph
            .analysis
            .ctx
            .intervals
            .get(s)
            .is_some_and(|(a, b)| a >= &-one.clone() && b <= &one),
        Math::Sin(_) | Math::Cos(_) | Math::Tanh(_) | Math::Erf(_) => true,
        _ => false,
    })
}

/// Is |b| ≤ √(a·c) known? Either b = 0, or the normal forms of a, b and c are single monomials
/// and b²/(a·c) is a coefficient ≤ 1 times atoms that each lie in [−1, 1] (positive exponents).
fn correlation_bounded(egraph: &MathGraph, a: Id, b: Id, c: Id) -> bool {
    let mut norm = Normalizer::new(egraph);
    let (pa, pb, pc) = (norm.poly(a), norm.poly(b), norm.poly(c));
    if pb.is_empty() {
        return true;
    }
    let (Some((ma, ca)), Some((mb, cb)), Some((mc, cc))) =
        (pa.as_monomial(), pb.as_monomial(), pc.as_monomial())
    else {
        return false;
    };
    if !ca.is_positive() || !cc.is_positive() {
        return false;
    }
    let mut exponents: BTreeMap<Id, BigRational> = BTreeMap::new();
    let two = BigRational::from_integer(2.into());
    for (x, e) in &mb.0 {
        *exponents
            .entry(egraph.find(*x))
            .or_insert_with(BigRational::zero) += e * &two;
    }
    for (x, e) in ma.0.iter().chain(&mc.0) {
        *exponents
            .entry(egraph.find(*x))
            .or_insert_with(BigRational::zero) -= e;
    }
    let coefficient = cb * cb / (ca * cc);
    coefficient <= BigRational::one()
        && exponents
            .iter()
            .filter(|(_, e)| !e.is_zero())
            .all(|(x, e)| e.is_positive() && within_unit(egraph, *x))
}

/// The side condition of every lemma: [[a, b], [b, c]] is a covariance with a, c > 0 known and
/// |b| ≤ √(a·c) known (see [`correlation_bounded`]). Without it a lemma could turn an undefined
/// expectation (a negative variance, a matrix that is not positive semi-definite) into a number.
fn covariance(
    a: &'static str,
    b: &'static str,
    c: &'static str,
) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (a, b, c) = (var(a), var(b), var(c));
    move |eg, _, s| {
        is_positive(eg, s[a]) && is_positive(eg, s[c]) && correlation_bounded(eg, s[a], s[b], s[c])
    }
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
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (relu u) (relu v)))"],
        ),
        r(
            "gauss-step",
            rw!("gauss-step";
                "(gauss ?a ?b ?c (* (step u) (step v)))" =>
                "(/ (- pi (acos (/ ?b (sqrt (* ?a ?c))))) (* 2 pi))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (step u) (step v)))"],
        ),
        r(
            "gauss-erf",
            rw!("gauss-erf";
                "(gauss ?a ?b ?c (* (erf u) (erf v)))" =>
                "(* (/ 2 pi) (asin (/ (* 2 ?b) (sqrt (* (+ 1 (* 2 ?a)) (+ 1 (* 2 ?c)))))))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (erf u) (erf v)))"],
        ),
        r(
            "gauss-abs",
            rw!("gauss-abs";
                "(gauss ?a ?b ?c (* (abs u) (abs v)))" =>
                "(* (/ (* 2 (sqrt (* ?a ?c))) pi) (+ (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2))) (* (/ ?b (sqrt (* ?a ?c))) (asin (/ ?b (sqrt (* ?a ?c)))))))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (abs u) (abs v)))"],
        ),
        r(
            "gauss-sin",
            rw!("gauss-sin";
                "(gauss ?a ?b ?c (* (sin u) (sin v)))" =>
                "(* (exp (* -1/2 (+ ?a ?c))) (/ (- (exp ?b) (exp (neg ?b))) 2))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (sin u) (sin v)))"],
        ),
        r(
            "gauss-cos",
            rw!("gauss-cos";
                "(gauss ?a ?b ?c (* (cos u) (cos v)))" =>
                "(* (exp (* -1/2 (+ ?a ?c))) (/ (+ (exp ?b) (exp (neg ?b))) 2))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (cos u) (cos v)))"],
        ),
        r(
            "gauss-relu-diag",
            rw!("gauss-relu-diag"; "(gauss ?a ?b ?c (^ (relu u) 2))" => "(/ ?a 2)"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (^ (relu u) 2))"],
        ),
    ]
}
