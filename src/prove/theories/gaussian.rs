//! Bivariate Gaussian expectations `gauss(s11, s12, s22; f(u)*g(v))`: lemmas for the closed
//! forms (the arc-cosine kernels of relu and step, the erf kernel of Williams 1997, sin and cos)
//! and principles that compose them: linearity in the body (`gauss-add`), sign flips of u or v
//! (`gauss-flip`, s12 → −s12), |x| = relu(x) + relu(−x) (`abs-relu`; the abs kernel follows from
//! the relu lemma), and Price's theorem (`gauss-price`: d/dt gauss(f(u)g(v)) =
//! gauss(f'(u)g'(v))·ds12/dt). Each holds for s11, s22 > 0 and |s12| ≤ √(s11·s22) and fires only
//! where both are known ([`covariance`]). The numeric side evaluates `gauss(...)` by quadrature
//! (`numeric::gauss`), so `tests/rules.rs` checks every rule against an independent computation.

use egg::{rewrite as rw, Id, Subst};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

use crate::expr::{Math, GAUSS_VARS};
use crate::prove::analysis::{symbol_of, MathGraph};
use crate::prove::poly::{is_positive, to_pattern, Normalizer, Poly};
use crate::prove::rule::{computed, extract, var, PatBuilder, Replacement, Rule, Theory};

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

/// [[a, b], [b, c]] is known to be a covariance: a, c > 0 and |b| ≤ √(a·c).
pub(crate) fn is_covariance(egraph: &MathGraph, a: Id, b: Id, c: Id) -> bool {
    is_positive(egraph, a) && is_positive(egraph, c) && correlation_bounded(egraph, a, b, c)
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
    move |eg, _, s| is_covariance(eg, s[a], s[b], s[c])
}

/// The weak derivative of an activation applied to the bound variable `x` (`u` or `v`), as a
/// term in `x`: the activations whose derivative has polynomial growth (Price's theorem needs
/// E|f'(u)g'(v)| finite and f, g absolutely continuous, so `step` and `abs` are not here).
fn weak_derivative(egraph: &MathGraph, id: Id, x: &str) -> Option<String> {
    let is_x = |c: &Id| symbol_of(egraph, *c) == Some(egg::Symbol::from(x));
    if is_x(&id) {
        return Some("1".into());
    }
    egraph[id].nodes.iter().find_map(|n| {
        Some(match n {
            Math::Relu(c) if is_x(c) => format!("(step {x})"),
            Math::Erf(c) if is_x(c) => format!("(* (/ 2 (sqrt pi)) (exp (neg (^ {x} 2))))"),
            Math::Sin(c) if is_x(c) => format!("(cos {x})"),
            Math::Cos(c) if is_x(c) => format!("(neg (sin {x}))"),
            Math::Tanh(c) if is_x(c) => format!("(- 1 (^ (tanh {x}) 2))"),
            Math::Sigmoid(c) if is_x(c) => format!("(* (sigmoid {x}) (- 1 (sigmoid {x})))"),
            Math::Softplus(c) if is_x(c) => format!("(sigmoid {x})"),
            _ => return None,
        })
    })
}

/// Price's theorem: d/dt gauss(a, b, c; f(u)·g(v)) = gauss(a, b, c; f'(u)·g'(v))·db/dt, where
/// the variances a, c do not depend on t, [[a, b], [b, c]] is a covariance ([`covariance`]),
/// and f, g are activations with a weak derivative ([`weak_derivative`]).
fn price(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let t = symbol_of(egraph, s[var("?t")])?;
    if GAUSS_VARS.iter().any(|x| t == egg::Symbol::from(*x)) {
        return None;
    }
    let (a, b, c) = (s[var("?a")], s[var("?b")], s[var("?c")]);
    if egraph[a].data.free.contains(&t) || egraph[c].data.free.contains(&t) {
        return None;
    }
    if !is_covariance(egraph, a, b, c) {
        return None;
    }
    let (f, g) = (s[var("?f")], s[var("?g")]);
    let (df, dg) = match (
        weak_derivative(egraph, f, "u"),
        weak_derivative(egraph, g, "v"),
    ) {
        (Some(df), Some(dg)) => (df, dg),
        _ => (
            weak_derivative(egraph, g, "u")?,
            weak_derivative(egraph, f, "v")?,
        ),
    };
    let body: crate::expr::Expr = format!("(* {df} {dg})").parse().ok()?;
    let mut p = PatBuilder::default();
    let (pa, pb, pc, pt) = (
        p.class(egraph, a),
        p.class(egraph, b),
        p.class(egraph, c),
        p.class(egraph, s[var("?t")]),
    );
    let body = p.expr(&body);
    let g = p.node(Math::Gauss([pa, pb, pc, body]));
    let db = p.node(Math::Deriv([pt, pb]));
    p.node(Math::Mul([g, db]));
    Some(p.finish())
}

/// The activation whose weak derivative is `k·F` for the factors `F` of a body that depend on
/// `x` alone (a product of atoms with exponents): step → relu (k = 1), cos → sin (1), sin →
/// cos (−1), sigmoid → softplus (1), exp(−x²) → erf (k = 2/√π, returned as the rational part
/// and the power of π). Returns the name, k's rational part and k's power of π.
fn antiderivative(
    egraph: &MathGraph,
    norm: &mut Normalizer,
    factors: &[(Id, BigRational)],
    x: &str,
) -> Option<(&'static str, BigRational, BigRational)> {
    let [(atom, e)] = factors else { return None };
    let is_x = |c: &Id| symbol_of(egraph, *c) == Some(egg::Symbol::from(x));
    let one = BigRational::one();
    let x_squared = |norm: &mut Normalizer, c: Id, sign: i64| {
        let p = norm.poly(c);
        p.as_monomial().is_some_and(|(m, k)| {
            *k == BigRational::from_integer(sign.into())
                && matches!(m.0.as_slice(), [(y, two)] if is_x(y) && *two == BigRational::from_integer(2.into()))
        })
    };
    let half_pi = BigRational::new((-1).into(), 2.into());
    egraph[*atom].nodes.iter().find_map(|n| match n {
        Math::Step(c) if is_x(c) && e.is_one() => Some(("relu", one.clone(), BigRational::zero())),
        Math::Cos(c) if is_x(c) && e.is_one() => Some(("sin", one.clone(), BigRational::zero())),
        Math::Sin(c) if is_x(c) && e.is_one() => Some(("cos", -one.clone(), BigRational::zero())),
        Math::Sigmoid(c) if is_x(c) && e.is_one() => {
            Some(("softplus", one.clone(), BigRational::zero()))
        }
        // exp(−x²), or exp(x²) to the power −1.
        Math::Exp(c)
            if (e.is_one() && x_squared(norm, *c, -1))
                || (*e == -one.clone() && x_squared(norm, *c, 1)) =>
        {
            Some(("erf", BigRational::from_integer(2.into()), half_pi.clone()))
        }
        _ => None,
    })
}

/// Price's theorem read backwards: gauss(a, b, c; K·f'(u)·g'(v)) = K/(b/t)·d/dt gauss(a, b, c;
/// f(u)·g(v)) where b = t·m for a symbol t that a, c, m and K do not involve, m > 0 known (so
/// db/dt = m ≠ 0), and f', g' are weak derivatives of activations ([`antiderivative`]). A body
/// with a closed form of its own (step·step, sin·sin, cos·cos) is left to its lemma.
fn price_inverse(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let (a, b, c, body) = (s[var("?a")], s[var("?b")], s[var("?c")], s[var("?f")]);
    if !is_covariance(egraph, a, b, c) {
        return None;
    }
    let mut norm = Normalizer::new(egraph);
    // b = coefficient · t · (positive atoms free of t).
    let pb = norm.poly(b);
    let (mb, kb) = pb.as_monomial()?;
    let free_of = |id: Id, t: egg::Symbol| !egraph[id].data.free.contains(&t);
    let (t_atom, t) = mb.0.iter().find_map(|(atom, e)| {
        let t = symbol_of(egraph, *atom)?;
        let ok = e.is_one()
            && !GAUSS_VARS.iter().any(|x| t == egg::Symbol::from(*x))
            && t != egg::Symbol::from("pi")
            && free_of(a, t)
            && free_of(c, t)
            && free_of(body, t)
            && mb
                .0
                .iter()
                .filter(|(y, _)| y != atom)
                .all(|(y, _)| free_of(*y, t) && is_positive(egraph, *y));
        ok.then_some((*atom, t))
    })?;
    let _ = t;
    let m = Poly(BTreeMap::from([(
        crate::prove::poly::Monomial(mb.0.iter().filter(|(y, _)| *y != t_atom).cloned().collect()),
        kb.clone(),
    )]));
    // The body: one monomial, its factors split into u-only, v-only and constant ones.
    let pbody = norm.poly(body);
    let (mbody, kbody) = pbody.as_monomial()?;
    let mentions = |id: Id, x: &str| egraph[id].data.free.contains(&egg::Symbol::from(x));
    let (mut fu, mut fv, mut konst) = (vec![], vec![], vec![]);
    for (atom, e) in &mbody.0 {
        match (mentions(*atom, "u"), mentions(*atom, "v")) {
            (true, false) => fu.push((*atom, e.clone())),
            (false, true) => fv.push((*atom, e.clone())),
            (false, false) => konst.push((*atom, e.clone())),
            (true, true) => return None,
        }
    }
    let (f, kf, pif) = antiderivative(egraph, &mut norm, &fu, "u")?;
    let (g, kg, pig) = antiderivative(egraph, &mut norm, &fv, "v")?;
    if f == g && matches!(f, "relu" | "sin" | "cos") {
        return None;
    }
    // K/(k_f·k_g): the rational part here, the power of π as a factor below.
    let k = kbody / (kf * kg);
    let k = Poly(BTreeMap::from([(crate::prove::poly::Monomial(konst), k)]));
    let pi_power = -(pif + pig);
    let inner: crate::expr::Expr = format!("(* ({f} u) ({g} v))").parse().ok()?;
    let mut p = PatBuilder::default();
    let (pa, pbv, pc, pt) = (
        p.class(egraph, a),
        p.class(egraph, b),
        p.class(egraph, c),
        p.class(egraph, t_atom),
    );
    let inner = p.expr(&inner);
    let gauss = p.node(Math::Gauss([pa, pbv, pc, inner]));
    let deriv = p.node(Math::Deriv([pt, gauss]));
    let pk = p.pattern(egraph, &to_pattern(egraph, &k));
    let pm = p.pattern(egraph, &to_pattern(egraph, &m));
    let scaled = p.node(Math::Mul([pk, deriv]));
    let mut out = p.node(Math::Div([scaled, pm]));
    if !pi_power.is_zero() {
        let pi = if pi_power.is_one() {
            "pi".to_string()
        } else {
            format!("(^ pi {pi_power})")
        };
        let pi: crate::expr::Expr = pi.parse().ok()?;
        let pi = p.expr(&pi);
        out = p.node(Math::Mul([out, pi]));
    }
    let _ = out;
    Some(p.finish())
}

/// Stein's lemma: E[x·g(y)] = Cov(x, y)·E[g'(y)] for x, y ∈ {u, v} and an activation g with a
/// weak derivative of polynomial growth ([`weak_derivative`]); Cov(u, u) = a, Cov(u, v) = b,
/// Cov(v, v) = c. Also for g = y itself (E[x·y] = Cov(x, y)).
fn stein(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let (a, b, c) = (s[var("?a")], s[var("?b")], s[var("?c")]);
    if !is_covariance(egraph, a, b, c) {
        return None;
    }
    let (p, q) = (s[var("?p")], s[var("?q")]);
    let var_of = |id: Id| -> Option<&'static str> {
        let sym = symbol_of(egraph, id)?;
        GAUSS_VARS
            .iter()
            .copied()
            .find(|x| sym == egg::Symbol::from(*x))
    };
    for (x, g) in [(p, q), (q, p)] {
        let Some(xname) = var_of(x) else { continue };
        for y in GAUSS_VARS {
            // g must depend on y only: its weak derivative in y, and no other Gaussian variable.
            let other = if y == "u" { "v" } else { "u" };
            if egraph[g].data.free.contains(&egg::Symbol::from(other)) {
                continue;
            }
            let Some(dg) = weak_derivative(egraph, g, y) else {
                continue;
            };
            let cov = match (xname, y) {
                ("u", "u") => a,
                ("v", "v") => c,
                _ => b,
            };
            let body: crate::expr::Expr = dg.parse().ok()?;
            let mut pb = PatBuilder::default();
            let (pa, pbb, pc, pcov) = (
                pb.class(egraph, a),
                pb.class(egraph, b),
                pb.class(egraph, c),
                pb.class(egraph, cov),
            );
            let body = pb.expr(&body);
            let gauss = pb.node(Math::Gauss([pa, pbb, pc, body]));
            pb.node(Math::Mul([pcov, gauss]));
            return Some(pb.finish());
        }
    }
    None
}

/// Factors free of u and v come out of gauss: E[k·f] = k·E[f] (a finite expectation of a tame
/// body, as for linearity). The body's product is flattened (as extracted) and split into the
/// factors free of u and v and the others.
fn scale_out(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let (a, b, c) = (s[var("?a")], s[var("?b")], s[var("?c")]);
    let body = s[var("?f")];
    if !is_covariance(egraph, a, b, c) || !tame(egraph, body, 12) {
        return None;
    }
    let e = extract(egraph, body);
    let mut factors = vec![];
    let mut stack = vec![crate::expr::binders::root(&e)];
    while let Some(id) = stack.pop() {
        match e[id] {
            Math::Mul([x, y]) => stack.extend([x, y]),
            _ => factors.push(id),
        }
    }
    let uv = |id: Id| {
        let free = crate::expr::binders::free_symbols(&e, id);
        GAUSS_VARS
            .iter()
            .any(|x| free.contains(&egg::Symbol::from(*x)))
    };
    let (dep, free): (Vec<Id>, Vec<Id>) = factors.into_iter().partition(|f| uv(*f));
    if dep.is_empty() || free.is_empty() {
        return None;
    }
    let mut p = PatBuilder::default();
    let (pa, pb, pc) = (p.class(egraph, a), p.class(egraph, b), p.class(egraph, c));
    let product = |ids: &[Id], p: &mut PatBuilder| -> Id {
        let mut acc: Option<Id> = None;
        for id in ids {
            let sub = egg::Language::build_recexpr(&e[*id], |ch| e[ch].clone());
            let x = p.expr(&sub);
            acc = Some(match acc {
                None => x,
                Some(a) => p.node(Math::Mul([a, x])),
            });
        }
        acc.expect("a non-empty product")
    };
    let k = product(&free, &mut p);
    let f = product(&dep, &mut p);
    let g = p.node(Math::Gauss([pa, pb, pc, f]));
    p.node(Math::Mul([k, g]));
    Some(p.finish())
}

/// Is the class of finite expectation under any Gaussian in u and v ([`growth::tame`]).
pub(super) fn tame(egraph: &MathGraph, id: Id, depth: usize) -> bool {
    let uv = |c: Id| {
        GAUSS_VARS
            .iter()
            .any(|x| egraph[c].data.free.contains(&egg::Symbol::from(*x)))
    };
    let variable = |c: Id| {
        egraph[c].nodes.iter().any(|n| {
            n.symbol()
                .is_some_and(|s| GAUSS_VARS.iter().any(|x| s == egg::Symbol::from(*x)))
        })
    };
    let x = super::growth::Variables {
        depends: &uv,
        variable: &variable,
    };
    super::growth::tame(egraph, id, depth, &x)
}

/// Linearity: gauss(a, b, c; f + g) = gauss(a, b, c; f) + gauss(a, b, c; g), for a covariance
/// and f, g of finite expectation ([`tame`]).
fn split(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let (a, b, c) = (s[var("?a")], s[var("?b")], s[var("?c")]);
    let (f, g) = (s[var("?f")], s[var("?g")]);
    if !(is_covariance(egraph, a, b, c) && tame(egraph, f, 12) && tame(egraph, g, 12)) {
        return None;
    }
    let mut p = PatBuilder::default();
    let (pa, pb, pc, pf, pg) = (
        p.class(egraph, a),
        p.class(egraph, b),
        p.class(egraph, c),
        p.class(egraph, f),
        p.class(egraph, g),
    );
    let l = p.node(Math::Gauss([pa, pb, pc, pf]));
    let r = p.node(Math::Gauss([pa, pb, pc, pg]));
    p.node(Math::Add([l, r]));
    Some(p.finish())
}

/// An activation node (one that `gauss-flip` can move a sign through): its name and argument.
fn activation(n: &Math) -> Option<(&'static str, Id)> {
    Some(match n {
        Math::Relu(c) => ("relu", *c),
        Math::Step(c) => ("step", *c),
        Math::Erf(c) => ("erf", *c),
        Math::Abs(c) => ("abs", *c),
        Math::Sin(c) => ("sin", *c),
        Math::Cos(c) => ("cos", *c),
        Math::Tanh(c) => ("tanh", *c),
        Math::Sigmoid(c) => ("sigmoid", *c),
        _ => return None,
    })
}

/// An activation applied to −x (x = `u` or `v`): the activation's name.
fn of_negated(egraph: &MathGraph, id: Id, x: &str) -> Option<&'static str> {
    let neg_x = |c: Id| {
        egraph[c].nodes.iter().any(
            |n| matches!(n, Math::Neg(y) if symbol_of(egraph, *y) == Some(egg::Symbol::from(x))),
        )
    };
    egraph[id].nodes.iter().find_map(|n| {
        activation(n)
            .filter(|(_, c)| neg_x(*c))
            .map(|(name, _)| name)
    })
}

/// An activation applied to x itself.
fn of_itself(egraph: &MathGraph, id: Id, x: &str) -> Option<&'static str> {
    let is_x = |c: Id| symbol_of(egraph, c) == Some(egg::Symbol::from(x));
    egraph[id].nodes.iter().find_map(|n| {
        activation(n)
            .filter(|(_, c)| is_x(*c))
            .map(|(name, _)| name)
    })
}

/// Sign flips: (u, v) and (−u, v) are Gaussian with covariances [[a, b], [b, c]] and
/// [[a, −b], [−b, c]], so gauss(a, b, c; f(−u)·g(v)) = gauss(a, −b, c; f(u)·g(v)), the same for
/// v, and with both flipped the covariance is unchanged. The integrand's factors are each an
/// activation of ±u or ±v, at least one of them negated.
fn flip(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let (a, b, c) = (s[var("?a")], s[var("?b")], s[var("?c")]);
    if !is_covariance(egraph, a, b, c) {
        return None;
    }
    let (f, g) = (s[var("?f")], s[var("?g")]);
    let side = |x: &str| -> Option<(&'static str, bool)> {
        for id in [f, g] {
            if let Some(n) = of_negated(egraph, id, x) {
                return Some((n, true));
            }
            if let Some(n) = of_itself(egraph, id, x) {
                return Some((n, false));
            }
        }
        None
    };
    let ((fu, nu), (gv, nv)) = (side("u")?, side("v")?);
    if !nu && !nv {
        return None;
    }
    let body: crate::expr::Expr = format!("(* ({fu} u) ({gv} v))").parse().ok()?;
    let mut p = PatBuilder::default();
    let (pa, pb, pc) = (p.class(egraph, a), p.class(egraph, b), p.class(egraph, c));
    let pb = if nu != nv { p.node(Math::Neg(pb)) } else { pb };
    let body = p.expr(&body);
    p.node(Math::Gauss([pa, pb, pc, body]));
    Some(p.finish())
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
        // Cho & Saul's arc-cosine kernels of degree 2 and 3: E[relu(u)^n relu(v)^n] =
        // (s11·s22)^(n/2)/(2π)·J_n(θ), θ = acos ρ, with J_2 = 3 sinθ cosθ + (π − θ)(1 + 2cos²θ)
        // and J_3 = 15 sinθ − 11 sin³θ + (π − θ)(9 cosθ + 6 cos³θ) (degrees 0 and 1 are
        // gauss-step and gauss-relu).
        r(
            "gauss-arccos(2)",
            rw!("gauss-arccos(2)";
                "(gauss ?a ?b ?c (* (^ (relu u) 2) (^ (relu v) 2)))" =>
                "(* (/ (* ?a ?c) (* 2 pi)) (+ (* 3 (* (/ ?b (sqrt (* ?a ?c))) (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2))))) (* (- pi (acos (/ ?b (sqrt (* ?a ?c))))) (+ 1 (* 2 (^ (/ ?b (sqrt (* ?a ?c))) 2))))))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (^ (relu u) 2) (^ (relu v) 2)))"],
        ),
        r(
            "gauss-arccos(3)",
            rw!("gauss-arccos(3)";
                "(gauss ?a ?b ?c (* (^ (relu u) 3) (^ (relu v) 3)))" =>
                "(* (/ (^ (* ?a ?c) 3/2) (* 2 pi)) (+ (- (* 15 (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2)))) (* 11 (^ (sqrt (- 1 (^ (/ ?b (sqrt (* ?a ?c))) 2))) 3))) (* (- pi (acos (/ ?b (sqrt (* ?a ?c))))) (+ (* 9 (/ ?b (sqrt (* ?a ?c)))) (* 6 (^ (/ ?b (sqrt (* ?a ?c))) 3))))))"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (* (^ (relu u) 3) (^ (relu v) 3)))"],
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
            "gauss-price",
            computed("gauss-price", "(d ?t (gauss ?a ?b ?c (* ?f ?g)))", price),
            &[
                "(d c (gauss s (* c (sqrt (* s n))) n (* (relu u) (relu v))))",
                "(d c (gauss s (* c (sqrt (* s n))) n (* (erf v) (sin u))))",
            ],
        ),
        r(
            "gauss-price-inverse",
            computed("gauss-price-inverse", "(gauss ?a ?b ?c ?f)", price_inverse),
            &[
                "(gauss s (* c (sqrt (* s n))) n (* (exp (neg (^ u 2))) (exp (neg (^ v 2)))))",
                "(gauss s (* c (sqrt (* s n))) n (* (* 3 (step u)) (cos v)))",
            ],
        ),
        r(
            "gauss-step-mean",
            rw!("gauss-step-mean"; "(gauss ?a ?b ?c (step u))" => "1/2"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (step u))"],
        ),
        r(
            "gauss-step-mean(v)",
            rw!("gauss-step-mean(v)"; "(gauss ?a ?b ?c (step v))" => "1/2"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (step v))"],
        ),
        r(
            "gauss-stein",
            computed("gauss-stein", "(gauss ?a ?b ?c (* ?p ?q))", stein),
            &[
                "(gauss s (* c (sqrt (* s n))) n (* u (erf v)))",
                "(gauss s (* c (sqrt (* s n))) n (* (tanh u) u))",
                "(gauss s (* c (sqrt (* s n))) n (* v (relu v)))",
            ],
        ),
        r(
            "gauss-scale",
            computed("gauss-scale", "(gauss ?a ?b ?c ?f)", scale_out),
            &["(gauss s (* c (sqrt (* s n))) n (* (* a b) (* (relu u) (relu v))))"],
        ),
        r(
            "gauss-add",
            computed("gauss-add", "(gauss ?a ?b ?c (+ ?f ?g))", split),
            &["(gauss s (* c (sqrt (* s n))) n (+ (* (relu u) (relu v)) (* u v)))"],
        ),
        r(
            "gauss-flip",
            computed("gauss-flip", "(gauss ?a ?b ?c (* ?f ?g))", flip),
            &[
                "(gauss s (* c (sqrt (* s n))) n (* (relu (neg u)) (relu v)))",
                "(gauss s (* c (sqrt (* s n))) n (* (erf (neg v)) (relu (neg u))))",
                "(gauss s (* c (sqrt (* s n))) n (* (sin u) (step (neg v))))",
            ],
        ),
        r(
            "abs-relu",
            rw!("abs-relu"; "(abs ?x)" => "(+ (relu ?x) (relu (neg ?x)))"),
            &["(abs (sin t))"],
        ),
        r(
            "gauss-relu-diag",
            rw!("gauss-relu-diag"; "(gauss ?a ?b ?c (^ (relu u) 2))" => "(/ ?a 2)"
                if covariance("?a", "?b", "?c")),
            &["(gauss s (* c (sqrt (* s n))) n (^ (relu u) 2))"],
        ),
    ]
}
