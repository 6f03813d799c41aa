//! Which terms have a finite expectation under a Gaussian: the side condition of the rules that
//! split an expectation (linearity, independent factors, constants out of gauss(…)). E[a/b] for
//! independent N(0,1) entries has no mean (a Cauchy ratio), and splitting it into E[a]·E[1/b]
//! = 0·E[1/b] "proves" E[a/b] = 0; E[a·exp(b²)] likewise.

use egg::Id;
use num_traits::Signed;

use crate::expr::Math;
use crate::prove::analysis::MathGraph;

/// What the variables of integration are for [`tame`].
pub struct Variables<'a> {
    /// Does the class depend on a variable of integration (u, v; the random entries)?
    pub depends: &'a dyn Fn(Id) -> bool,
    /// Is the class one variable of integration itself (u, v; a random symbol or an entry)?
    pub variable: &'a dyn Fn(Id) -> bool,
}

/// Is the class a term whose expectation under any Gaussian is finite, by its form: free of the
/// variables, a variable, +, −, ×, max, min, finite sums, powers with a non-negative integer exponent, division by a
/// term free of the variables, functions of at most linear growth of such terms (relu, abs,
/// erf, sin, …), exp, cosh, sinh of an affine function of the variables, and exp of a term
/// bounded above. `depth` bounds
/// the search through the e-graph's cycles.
pub fn tame(egraph: &MathGraph, id: Id, depth: usize, x: &Variables) -> bool {
    if depth == 0 {
        return false;
    }
    if !(x.depends)(id) || (x.variable)(id) {
        return true;
    }
    let t = |c: &Id| tame(egraph, *c, depth - 1, x);
    egraph[id].nodes.iter().any(|n| match n {
        Math::Num(_) | Math::Symbol(_) => true,
        Math::Add([a, b])
        | Math::Sub([a, b])
        | Math::Mul([a, b])
        | Math::Max([a, b])
        | Math::Min([a, b]) => t(a) && t(b),
        Math::Div([a, b]) => t(a) && !(x.depends)(*b),
        Math::LeakyRelu([a, slope]) => t(a) && !(x.depends)(*slope),
        // A sum over a range the variables do not move: finitely many tame terms.
        Math::Sum([_, lo, hi, body]) => !(x.depends)(*lo) && !(x.depends)(*hi) && t(body),
        Math::Pow([a, k]) => {
            t(a) && egraph[*k]
                .data
                .constant
                .as_ref()
                .is_some_and(|q| q.0.is_integer() && !q.0.is_negative())
        }
        Math::Neg(a)
        | Math::Relu(a)
        | Math::Step(a)
        | Math::Abs(a)
        | Math::Erf(a)
        | Math::Sin(a)
        | Math::Cos(a)
        | Math::Tanh(a)
        | Math::Sigmoid(a)
        | Math::Softplus(a)
        | Math::Gelu(a)
        | Math::Sign(a)
        | Math::Atan(a) => t(a),
        // The generic activation stands for activations of at most linear growth (relu, erf,
        // tanh, softplus, gelu, …: those it is checked with), and its derivative for theirs.
        Math::Phi(a) | Math::DPhi(a) => t(a),
        Math::Exp(a) => affine(egraph, *a, depth - 1, x) || bounded_above(egraph, *a),
        Math::Cosh(a) | Math::Sinh(a) => affine(egraph, *a, depth - 1, x),
        _ => false,
    })
}

/// Is the class bounded above wherever it is defined (−u², −10⁶(u − 3)²: exp of it is
/// bounded)?
fn bounded_above(egraph: &MathGraph, id: Id) -> bool {
    crate::prove::bounds::Bounder::new(egraph)
        .bounds(id)
        .hi
        .is_some()
}

/// Is the class an affine function of the variables (exp of it has every moment)?
fn affine(egraph: &MathGraph, id: Id, depth: usize, x: &Variables) -> bool {
    if depth == 0 {
        return false;
    }
    if !(x.depends)(id) || (x.variable)(id) {
        return true;
    }
    let a = |c: &Id| affine(egraph, *c, depth - 1, x);
    let fixed = |c: &Id| !(x.depends)(*c);
    egraph[id].nodes.iter().any(|n| match n {
        Math::Add([p, q]) | Math::Sub([p, q]) => a(p) && a(q),
        Math::Sum([_, lo, hi, body]) => fixed(lo) && fixed(hi) && a(body),
        Math::Neg(p) => a(p),
        Math::Mul([p, q]) => (fixed(p) && a(q)) || (a(p) && fixed(q)),
        Math::Div([p, q]) => a(p) && fixed(q),
        _ => false,
    })
}

/// Is an integral over a finite range with bound variable class `v` and integrand class `body`
/// shown to be a number: the integrand (a smallest term of its class) bounded on bounded
/// ranges by its form ([`super::calculus::bounded_on_ranges`])?
fn finite_integral(egraph: &MathGraph, v: Id, body: Id) -> bool {
    let Some(s) = egraph[v].nodes.iter().find_map(|n| n.symbol()) else {
        return false;
    };
    let term = egg::Extractor::new(egraph, egg::AstSize).find_best(body).1;
    super::calculus::bounded_on_ranges(&term, crate::expr::binders::root(&term), s)
}

/// The first class of `egraph` holding an expectation whose body is not shown to have a finite
/// mean (E[1/b], gauss(1, 0, 1; exp(u²))), or an integral whose integrand is not shown to be
/// bounded on the range (∫₋₁¹ 1/s²): such a term may have no value, and the ring
/// normal form would still cancel it (0·E[1/b] = 0, E[x] − E[x] = 0), so the prover does not
/// rewrite terms that hold one.
pub fn undefined_expectation(egraph: &MathGraph) -> Option<Id> {
    egraph.classes().find_map(|c| {
        c.nodes
            .iter()
            .any(|n| match n {
                Math::Expect(x) => !super::expectation::finite_mean(
                    egraph,
                    &[(*x, num_rational::BigRational::from_integer(1.into()))],
                ),
                Math::Gauss([_, _, _, f]) => !super::gaussian::tame(egraph, *f, 12),
                Math::Integral([v, _, _, body]) => !finite_integral(egraph, *v, *body),
                _ => false,
            })
            .then_some(c.id)
    })
}
