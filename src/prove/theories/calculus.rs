//! Derivatives `d/dt(expr)`.

use egg::{rewrite as rw, Id, Subst};

use crate::expr::Math;
use crate::prove::analysis::{symbol_of, MathGraph};
use crate::prove::poly::Normalizer;
use crate::prove::rule::{computed, extract, var, PatBuilder, Replacement, Rule, Theory};

/// The variable of a derivative `(d ?t …)`: the symbol t, or for a partial derivative by an
/// entry `W[a, b]` the array W (a term that does not mention W does not depend on its entries).
fn variable(eg: &MathGraph, id: Id) -> Option<egg::Symbol> {
    symbol_of(eg, id).or_else(|| {
        eg[id].nodes.iter().find_map(|n| match n {
            Math::Index(args) => symbol_of(eg, args[0]),
            _ => None,
        })
    })
}

/// `?t` is a variable: a symbol, or an entry of a declared array.
fn is_variable(t: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let t = var(t);
    move |eg, _, s| variable(eg, s[t]).is_some()
}

/// `?c` does not depend on the variable `?t`.
fn free_of(c: &'static str, t: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (c, t) = (var(c), var(t));
    move |eg, _, s| match variable(eg, s[t]) {
        Some(t) => !eg[s[c]].data.free.contains(&t),
        None => false,
    }
}

/// The argument of a unary function defined and continuous on every real (or matrix): −, exp,
/// sin, cos, atan, |·|, relu, erf, tanh, the smooth activations, cosh, sinh, mexp, transpose.
pub(crate) fn entire_unary(node: &Math) -> Option<Id> {
    match node {
        Math::Neg(a)
        | Math::Exp(a)
        | Math::Sin(a)
        | Math::Cos(a)
        | Math::Atan(a)
        | Math::Abs(a)
        | Math::Relu(a)
        | Math::Erf(a)
        | Math::Tanh(a)
        | Math::Sigmoid(a)
        | Math::Softplus(a)
        | Math::Gelu(a)
        | Math::Cosh(a)
        | Math::Sinh(a)
        | Math::MatExp(a)
        | Math::Transpose(a) => Some(*a),
        _ => None,
    }
}

/// Is the term, as a function of `x`, continuous wherever it is defined? Built only of nodes
/// that are (arithmetic, powers, the elementary functions, abs, relu, max, min, leaky relu and
/// the smooth activations, matrix products, exponentials and transposes, finite sums and entries
/// whose ranges and indices do not mention `x`).
/// Step, sign, the generic φ and φ′ (φ may be the step), atan2 (its branch cut), δ, derivatives,
/// expectations and integrals are not admitted (a sound "no" when unsure).
pub(crate) fn continuous_in(e: &crate::expr::Expr, id: Id, x: egg::Symbol) -> bool {
    let mentions = |i: Id| crate::expr::binders::free_symbols(e, i).contains(&x);
    match &e[id] {
        Math::Num(_) | Math::Symbol(_) => true,
        Math::Add([a, b])
        | Math::Sub([a, b])
        | Math::Mul([a, b])
        | Math::Div([a, b])
        | Math::MatMul([a, b])
        | Math::Max([a, b])
        | Math::Min([a, b])
        | Math::LeakyRelu([a, b]) => continuous_in(e, *a, x) && continuous_in(e, *b, x),
        // a^b jumps where a reaches 0 while b does (0^0 = 1, 0^y = 0 for y > 0:
        // `0^((s − 1/3)²)` is 1 at s = 1/3 and 0 elsewhere): an exponent that varies with x
        // needs a base that is a positive number.
        Math::Pow([a, b]) if mentions(*b) => {
            matches!(&e[*a], Math::Num(c) if c.0 > num_rational::BigRational::from_integer(0.into()))
                && continuous_in(e, *b, x)
        }
        Math::Pow([a, b]) => continuous_in(e, *a, x) && continuous_in(e, *b, x),
        Math::Sqrt(a) | Math::Log(a) | Math::Tan(a) | Math::Asin(a) | Math::Acos(a) => {
            continuous_in(e, *a, x)
        }
        node if entire_unary(node).is_some() => {
            continuous_in(e, entire_unary(node).expect("checked"), x)
        }
        Math::Index(args) => !args.iter().any(|a| mentions(*a)),
        Math::Sum([v, lo, hi, body]) => {
            e[*v].symbol() != Some(x)
                && !mentions(*lo)
                && !mentions(*hi)
                && continuous_in(e, *body, x)
        }
        _ => !mentions(id),
    }
}

/// Is the term, as a function of `x`, bounded on every bounded range of `x` by its form, so
/// that its integral over a finite range is a finite number? Built of arithmetic and natural
/// powers, division by terms free of `x` or positive by their form (1 + x², eˣ), √ of terms
/// ≥ 0 and log of terms > 0 by their form, the functions that are finite at every real (exp,
/// sin, cos, atan, erf, tanh, the activations, step and sign: a jump is integrable), finite
/// sums with ranges free of `x`, entries with indices free of `x`, and integrals of such terms.
/// A subterm free of `x` is a constant there. 1/x, 1/x², exp(1/x²), tan(x), log(x) are not
/// admitted: ∫₋₁¹ 1/x² is not a number, and the ring would cancel it (a sound "no" when unsure).
pub(crate) fn bounded_on_ranges(e: &crate::expr::Expr, id: Id, x: egg::Symbol) -> bool {
    let mentions = |i: Id| crate::expr::binders::free_symbols(e, i).contains(&x);
    if !mentions(id) {
        return true;
    }
    let b = |i: &Id| bounded_on_ranges(e, *i, x);
    match &e[id] {
        Math::Num(_) | Math::Symbol(_) => true,
        Math::Add([p, q])
        | Math::Sub([p, q])
        | Math::Mul([p, q])
        | Math::MatMul([p, q])
        | Math::Max([p, q])
        | Math::Min([p, q])
        | Math::LeakyRelu([p, q]) => b(p) && b(q),
        Math::Div([p, q]) => b(p) && b(q) && (!mentions(*q) || positive_form(e, *q)),
        Math::Pow([p, k]) => match &e[*k] {
            Math::Num(c)
                if c.0.is_integer() && c.0 >= num_rational::BigRational::from_integer(0.into()) =>
            {
                b(p)
            }
            _ if !mentions(*k) => b(p) && positive_form(e, *p),
            _ => {
                b(k) && matches!(&e[*p], Math::Num(c)
                    if c.0 > num_rational::BigRational::from_integer(0.into()))
            }
        },
        Math::Sqrt(p) => b(p) && nonnegative_form(e, *p),
        Math::Log(p) => b(p) && positive_form(e, *p),
        Math::Step(p) | Math::Sign(p) => b(p),
        node if entire_unary(node).is_some() => b(&entire_unary(node).expect("checked")),
        Math::Index(args) => !args.iter().any(|a| mentions(*a)),
        Math::Sum([v, lo, hi, body]) => {
            e[*v].symbol() != Some(x) && !mentions(*lo) && !mentions(*hi) && b(body)
        }
        Math::Integral([v, lo, hi, body]) => {
            let inner = e[*v].symbol();
            inner != Some(x)
                && b(lo)
                && b(hi)
                && b(body)
                && inner.is_some_and(|s| bounded_on_ranges(e, *body, s))
        }
        _ => false,
    }
}

/// Is the term > 0 at every value of its symbols by its form (a positive number, exp, cosh,
/// sigmoid, softplus, and sums, products, quotients, powers and roots built on them, with a
/// term ≥ 0 by its form added)?
fn positive_form(e: &crate::expr::Expr, id: Id) -> bool {
    let p = |i: &Id| positive_form(e, *i);
    let n = |i: &Id| nonnegative_form(e, *i);
    match &e[id] {
        Math::Num(c) => c.0 > num_rational::BigRational::from_integer(0.into()),
        Math::Exp(_) | Math::Cosh(_) | Math::Sigmoid(_) | Math::Softplus(_) => true,
        Math::Add([a, c]) => (p(a) && n(c)) || (n(a) && p(c)),
        Math::Mul([a, c]) | Math::Div([a, c]) => p(a) && p(c),
        Math::Pow([a, _]) | Math::Sqrt(a) => p(a),
        _ => false,
    }
}

/// Is the term ≥ 0 at every value of its symbols by its form (terms > 0 by their form, even
/// natural powers, |·|, relu, step, and sums and products of such)?
pub(crate) fn nonnegative_form(e: &crate::expr::Expr, id: Id) -> bool {
    let n = |i: &Id| nonnegative_form(e, *i);
    match &e[id] {
        _ if positive_form(e, id) => true,
        Math::Num(c) => c.0 >= num_rational::BigRational::from_integer(0.into()),
        Math::Abs(_) | Math::Relu(_) | Math::Step(_) => true,
        Math::Pow([_, k]) => matches!(&e[*k], Math::Num(c) if c.0.is_integer()
            && (c.0.to_integer() % num_bigint::BigInt::from(2)) == 0.into()),
        Math::Add([a, c]) | Math::Mul([a, c]) => n(a) && n(c),
        Math::Sqrt(_) => true,
        _ => false,
    }
}

/// The fundamental theorem of calculus with moving ends (Leibniz): d/dt ∫_a^b f(s) ds =
/// f(b)·db/dt − f(a)·da/dt, when the integrand does not depend on t (s ≠ t) and is continuous in
/// s wherever it is defined ([`continuous_in`]: at a jump of f, such as sign(s)² at s = 0, the
/// integral's derivative is not f's value there). The integrand at
/// an end is the body with the end substituted for `s` (a substitution that would capture a
/// name bound in the body is refused: no rewrite).
fn ftc(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let t = symbol_of(egraph, s[var("?t")])?;
    let x = symbol_of(egraph, s[var("?s")])?;
    let body = s[var("?f")];
    if x == t || egraph[body].data.free.contains(&t) {
        return None;
    }
    let f = extract(egraph, body);
    if !continuous_in(&f, crate::expr::binders::root(&f), x) {
        return None;
    }
    let at = |end: &'static str| -> Option<crate::expr::Expr> {
        let map = std::collections::BTreeMap::from([(x, extract(egraph, s[var(end)]))]);
        crate::expr::binders::substitute_values(&f, &map, crate::limits::MAX_TERM_NODES)
            .ok()
            .map(|(e, _)| e)
    };
    let (fb, fa) = (at("?b")?, at("?a")?);
    let mut p = PatBuilder::default();
    let tv = p.class(egraph, s[var("?t")]);
    let (a, b) = (p.class(egraph, s[var("?a")]), p.class(egraph, s[var("?b")]));
    let fb = p.expr(&fb);
    let fa = p.expr(&fa);
    let db = p.node(Math::Deriv([tv, b]));
    let da = p.node(Math::Deriv([tv, a]));
    let upper = p.node(Math::Mul([fb, db]));
    let lower = p.node(Math::Mul([fa, da]));
    p.node(Math::Sub([upper, lower]));
    Some(p.finish())
}

/// ∫_a^b c ds = c·(b − a) for a body `c` free of `s`.
fn int_const(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let x = symbol_of(egraph, s[var("?s")])?;
    if egraph[s[var("?c")]].data.free.contains(&x) {
        return None;
    }
    let mut p = PatBuilder::default();
    let c = p.class(egraph, s[var("?c")]);
    let (a, b) = (p.class(egraph, s[var("?a")]), p.class(egraph, s[var("?b")]));
    let len = p.node(Math::Sub([b, a]));
    p.node(Math::Mul([c, len]));
    Some(p.finish())
}

/// `?b` may depend on the variable `?t` (it mentions it).
fn depends_on(b: &'static str, t: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let free = free_of(b, t);
    move |eg, id, s| !free(eg, id, s)
}

/// `?a` varies with `?t` in its ring normal form: it is not a known constant and some atom of
/// its normal form mentions `t`. (A term that only looks t-dependent, such as `t − t`, does not
/// count: its derivative is 0, and a quotient rule would turn that into 0/0.) A derivative
/// among the atoms may still turn out constant (d/dt of a t-free term is 0 once d-const fires):
/// the rule waits.
fn varies(a: &'static str, t: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (a, t) = (var(a), var(t));
    move |eg, _, s| {
        let Some(tsym) = variable(eg, s[t]) else {
            return false;
        };
        if eg[s[a]].data.constant.is_some() {
            return false;
        }
        let p = Normalizer::new(eg).poly(s[a]);
        let atoms: Vec<Id> = p
            .atoms()
            .into_iter()
            .filter(|atom| eg[*atom].data.free.contains(&tsym))
            .collect();
        p.as_constant().is_none()
            && !atoms.is_empty()
            && atoms
                .iter()
                .all(|atom| !eg[*atom].nodes.iter().any(|n| matches!(n, Math::Deriv(_))))
    }
}

/// `?n` is a constant.
fn constant(n: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let n = var(n);
    move |eg, _, s| eg[s[n]].data.constant.is_some()
}

/// `?a` is `t` times a factor free of `t` (so A(t) commutes with A'(t)).
fn linear_in(a: &'static str, t: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (a, t) = (var(a), var(t));
    move |eg, _, s| {
        let Some(tsym) = symbol_of(eg, s[t]) else {
            return false;
        };
        let p = Normalizer::new(eg).poly(s[a]);
        let Some((m, _)) = p.as_monomial() else {
            return false;
        };
        let mut t_factors = 0;
        for (atom, e) in &m.0 {
            if eg[*atom].data.free.contains(&tsym) {
                if symbol_of(eg, *atom) == Some(tsym) && num_traits::One::is_one(e) {
                    t_factors += 1;
                } else {
                    return false;
                }
            }
        }
        t_factors == 1
    }
}

/// Differentiating under a finite sum: the summation index is not `?t` and does not occur in it
/// (an entry's indices: d/dW[j, b] under a sum over j would capture j), and the range is free
/// of `?t`.
fn index_apart(
    t: &'static str,
    j: &'static str,
    lo: &'static str,
    hi: &'static str,
) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let (t, j, lo, hi) = (var(t), var(j), var(lo), var(hi));
    move |eg, _, s| match (variable(eg, s[t]), symbol_of(eg, s[j])) {
        (Some(tv), Some(jv)) => {
            tv != jv
                && !eg[s[t]].data.free.contains(&jv)
                && !eg[s[lo]].data.free.contains(&tv)
                && !eg[s[hi]].data.free.contains(&tv)
        }
        _ => false,
    }
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Calculus,
        rewrite,
        examples,
    };
    vec![
        r(
            "d-const",
            rw!("d-const"; "(d ?t ?c)" => "0" if free_of("?c", "?t")),
            &["(d t (* a b))"],
        ),
        // Only for a variable: d/dc(c) of a constant or a compound term is not a derivative
        // (a substitution that put 0 in a derivative's variable slot must not make it 1).
        r(
            "d-self",
            rw!("d-self"; "(d ?t ?t)" => "1" if is_variable("?t")),
            &["(d t t)"],
        ),
        r(
            "d-entry",
            rw!("d-entry"; "(d (idx ?w ?a) (idx ?w ?i))" => "(delta ?i ?a)"),
            &["(d (idx x i) (idx x j))", "(d (idx x 2) (idx x (+ i 1)))"],
        ),
        r(
            "d-entry(2)",
            rw!("d-entry(2)"; "(d (idx ?w ?a ?b) (idx ?w ?i ?j))" => "(* (delta ?i ?a) (delta ?j ?b))"),
            &["(d (idx x i j) (idx x k l))"],
        ),
        r(
            "d-add",
            rw!("d-add"; "(d ?t (+ ?a ?b))" => "(+ (d ?t ?a) (d ?t ?b))"),
            &["(d t (+ (* a t) (exp t)))"],
        ),
        r(
            "d-sub",
            rw!("d-sub"; "(d ?t (- ?a ?b))" => "(- (d ?t ?a) (d ?t ?b))"),
            &["(d t (- (* a t) (exp t)))"],
        ),
        r(
            "d-neg",
            rw!("d-neg"; "(d ?t (neg ?a))" => "(neg (d ?t ?a))"),
            &["(d t (neg (exp t)))"],
        ),
        r(
            "d-mul",
            rw!("d-mul"; "(d ?t (* ?a ?b))" => "(+ (* (d ?t ?a) ?b) (* ?a (d ?t ?b)))"),
            &["(d t (* (exp t) (sin t)))"],
        ),
        r(
            "d-pow",
            rw!("d-pow"; "(d ?t (^ ?a ?n))" => "(* (* ?n (^ ?a (- ?n 1))) (d ?t ?a))" if constant("?n")),
            &["(d t (^ (+ t a) 3))"],
        ),
        r(
            "ftc",
            computed("ftc", "(d ?t (integral ?s ?a ?b ?f))", ftc),
            &[
                "(d t (integral x 0 t (exp (neg x))))",
                "(d t (integral x (* 2 t) (* t t) (* a (sin x))))",
            ],
        ),
        r(
            "int-const",
            computed("int-const", "(integral ?s ?a ?b ?c)", int_const),
            &["(integral x a b (* c c))", "(integral x 0 t (exp a))"],
        ),
        r(
            "int-add",
            rw!("int-add"; "(integral ?s ?a ?b (+ ?f ?g))" => "(+ (integral ?s ?a ?b ?f) (integral ?s ?a ?b ?g))"),
            &["(integral x 0 1 (+ (* x x) (sin x)))"],
        ),
        r(
            "int-sub",
            rw!("int-sub"; "(integral ?s ?a ?b (- ?f ?g))" => "(- (integral ?s ?a ?b ?f) (integral ?s ?a ?b ?g))"),
            &["(integral x 0 1 (- (exp x) x))"],
        ),
        r(
            "int-scale",
            rw!("int-scale"; "(integral ?s ?a ?b (* ?c ?f))" => "(* ?c (integral ?s ?a ?b ?f))"
                if free_of("?c", "?s")),
            &["(integral x 0 t (* a (cos x)))"],
        ),
        r(
            "d-cosh",
            rw!("d-cosh"; "(d ?t (cosh ?a))" => "(* (sinh ?a) (d ?t ?a))"),
            &["(d t (cosh (* a t)))"],
        ),
        r(
            "d-sinh",
            rw!("d-sinh"; "(d ?t (sinh ?a))" => "(* (cosh ?a) (d ?t ?a))"),
            &["(d t (sinh (* a t)))"],
        ),
        r(
            "d-exp",
            rw!("d-exp"; "(d ?t (exp ?a))" => "(* (exp ?a) (d ?t ?a))"),
            &["(d t (exp (* a t)))"],
        ),
        r(
            "d-log",
            rw!("d-log"; "(d ?t (log ?a))" => "(/ (d ?t ?a) ?a)"),
            &["(d t (log (+ s (* t t))))"],
        ),
        r(
            "d-sin",
            rw!("d-sin"; "(d ?t (sin ?a))" => "(* (cos ?a) (d ?t ?a))"),
            &["(d t (sin (* a t)))"],
        ),
        r(
            "d-cos",
            rw!("d-cos"; "(d ?t (cos ?a))" => "(neg (* (sin ?a) (d ?t ?a)))"),
            &["(d t (cos (* a t)))"],
        ),
        r(
            "d-div",
            // Only for denominators that depend on t: a constant one is d-div-const's (the
            // quotient rule there only grows the e-graph).
            rw!("d-div"; "(d ?t (/ ?a ?b))" => "(/ (- (* (d ?t ?a) ?b) (* ?a (d ?t ?b))) (^ ?b 2))"
                if depends_on("?b", "?t")),
            &["(d t (/ (sin t) (+ s (* t t))))"],
        ),
        r(
            "d-div-const",
            rw!("d-div-const"; "(d ?t (/ ?a ?b))" => "(/ (d ?t ?a) ?b)"
                if free_of("?b", "?t") if depends_on("?a", "?t")),
            &["(d t (/ (sin t) (+ s 1)))"],
        ),
        r(
            "d-tan",
            rw!("d-tan"; "(d ?t (tan ?a))" => "(/ (d ?t ?a) (^ (cos ?a) 2))"),
            &["(d t (tan (* c t)))"],
        ),
        r(
            "d-atan",
            rw!("d-atan"; "(d ?t (atan ?a))" => "(/ (d ?t ?a) (+ 1 (^ ?a 2)))"),
            &["(d t (atan (* a t)))"],
        ),
        r(
            "d-sqrt",
            // Where a > 0. At a = 0 the derivative of √a is not a number (or, for an a that
            // vanishes to higher order, a one-sided limit that the quotient does not show).
            rw!("d-sqrt"; "(d ?t (sqrt ?a))" => "(/ (d ?t ?a) (* 2 (sqrt ?a)))"
                if varies("?a", "?t")),
            &["(d t (sqrt (+ s (* t t))))"],
        ),
        r(
            "d-asin",
            // Where |a| < 1.
            rw!("d-asin"; "(d ?t (asin ?a))" => "(/ (d ?t ?a) (sqrt (- 1 (^ ?a 2))))"
                if varies("?a", "?t")),
            &["(d t (asin (* c (sin t))))"],
        ),
        r(
            "d-acos",
            // Where |a| < 1.
            rw!("d-acos"; "(d ?t (acos ?a))" => "(neg (/ (d ?t ?a) (sqrt (- 1 (^ ?a 2)))))"
                if varies("?a", "?t")),
            &["(d t (acos (* c (sin t))))"],
        ),
        r(
            "d-erf",
            rw!("d-erf"; "(d ?t (erf ?a))" => "(* (/ (* 2 (exp (neg (^ ?a 2)))) (sqrt pi)) (d ?t ?a))"),
            &["(d t (erf (* a t)))"],
        ),
        r(
            "d-tanh",
            rw!("d-tanh"; "(d ?t (tanh ?a))" => "(* (- 1 (^ (tanh ?a) 2)) (d ?t ?a))"),
            &["(d t (tanh (* a t)))"],
        ),
        r(
            "d-sigmoid",
            rw!("d-sigmoid"; "(d ?t (sigmoid ?a))" => "(* (* (sigmoid ?a) (- 1 (sigmoid ?a))) (d ?t ?a))"),
            &["(d t (sigmoid (* a t)))"],
        ),
        r(
            "d-phi",
            rw!("d-phi"; "(d ?t (phi ?a))" => "(* (dphi ?a) (d ?t ?a))"),
            &["(d t (phi (* t a)))"],
        ),
        r(
            "d-sum",
            rw!("d-sum"; "(d ?t (sum ?j ?lo ?hi ?body))" => "(sum ?j ?lo ?hi (d ?t ?body))"
                if index_apart("?t", "?j", "?lo", "?hi")),
            &["(d t (sum j 1 n (* t (idx x j))))"],
        ),
        r(
            "d-matmul",
            rw!("d-matmul"; "(d ?t (@ ?a ?b))" => "(+ (@ (d ?t ?a) ?b) (@ ?a (d ?t ?b)))"),
            &["(d t (@ (mexp (* t A)) B))"],
        ),
        r(
            "d-mexp",
            rw!("d-mexp"; "(d ?t (mexp ?a))" => "(@ (d ?t ?a) (mexp ?a))" if linear_in("?a", "?t")),
            &["(d t (mexp (* t A)))", "(d t (mexp (* (neg s) (* t A))))"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::bounded_on_ranges;

    /// Integrands whose integral over a finite range is a number by their form, and integrands
    /// with a pole or a domain edge that are not admitted.
    #[test]
    fn integrands_bounded_by_their_form() {
        let s = egg::Symbol::from("s");
        let admitted = |t: &str| {
            let e: crate::expr::Expr = crate::expr::parse(t).unwrap();
            bounded_on_ranges(&e, crate::expr::binders::root(&e), s)
        };
        for t in [
            "1/(1 + s^2)",
            "exp(-s^2)*sin(s)",
            "step(s - 1) + sign(s)",
            "sqrt(s^2 + 1)",
            "2^s",
            "log(1 + exp(s))",
            "integral(r in 0..s, r*exp(-r))",
            "1/c",
        ] {
            assert!(admitted(t), "{t}");
        }
        for t in [
            "1/s",
            "1/s^2 + 1",
            "exp(1/s^2)",
            "tan(s)",
            "log(s)",
            "sqrt(s)",
            "s^(1/2)",
            "s^(-1)",
            "1/(1 - s^2)",
            "gauss(1, 0, 1; u*s)",
        ] {
            assert!(!admitted(t), "{t}");
        }
    }
}
