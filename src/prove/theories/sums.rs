//! Finite sums `sum(j in lo..hi, body)` and the Kronecker δ.
//!
//! Substitution under a binder is done on an extracted term by
//! [`crate::prove::rule::substitute`], which refuses to capture a variable.

use egg::{rewrite as rw, Id, Subst, Symbol};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive};

use crate::expr::{Expr, Math};
use crate::prove::analysis::{symbol_of, MathGraph};
use crate::prove::poly::{Monomial, Normalizer, Poly};
use crate::prove::rule::{
    append, computed, extract, occurs, substitute, var, PatBuilder, Replacement, Rule, Theory,
};

/// Build `coeff · Π atoms^e · extra` as a pattern node (atoms as class variables).
pub(crate) fn monomial_pattern(
    b: &mut PatBuilder,
    egraph: &MathGraph,
    coeff: &BigRational,
    atoms: &[(Id, BigRational)],
    extra: Option<Id>,
) -> Id {
    let mut factors: Vec<Id> = vec![];
    if !coeff.is_one() || (atoms.is_empty() && extra.is_none()) {
        factors.push(b.node(Math::Num(crate::expr::Constant(coeff.clone()))));
    }
    for (a, e) in atoms {
        let x = b.class(egraph, *a);
        if e.is_one() {
            factors.push(x);
        } else {
            let k = b.node(Math::Num(crate::expr::Constant(e.clone())));
            factors.push(b.node(Math::Pow([x, k])));
        }
    }
    if let Some(x) = extra {
        factors.push(x);
    }
    factors
        .into_iter()
        .reduce(|x, y| b.node(Math::Mul([x, y])))
        .expect("at least one factor")
}

/// Join terms with `+`.
pub(crate) fn sum_pattern(b: &mut PatBuilder, terms: Vec<Id>) -> Id {
    match terms.into_iter().reduce(|x, y| b.node(Math::Add([x, y]))) {
        Some(t) => t,
        None => b.node(Math::Num(crate::expr::Constant::int(0))),
    }
}

/// sum(j, Σ_m c_m f_m g_m(j)) = Σ_m c_m f_m · sum(j, g_m(j)); an empty g_m sums to hi − lo + 1.
fn sum_linear(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let j = symbol_of(egraph, s[var("?j")])?;
    let (lo, hi, body) = (s[var("?lo")], s[var("?hi")], s[var("?body")]);
    let p = Normalizer::new(egraph).poly(body);
    let depends = |a: &Id| egraph[*a].data.free.contains(&j);
    // Nothing to do if the body is one monomial with coefficient 1 that depends on j entirely.
    if let Some((m, c)) = p.as_monomial() {
        if c.is_one() && m.0.iter().all(|(a, _)| depends(a)) && !m.0.is_empty() {
            return None;
        }
    }
    let mut b = PatBuilder::default();
    let mut terms = vec![];
    for (m, c) in &p.0 {
        let (inner, outer): (Vec<_>, Vec<_>) = m.0.iter().cloned().partition(|(a, _)| depends(a));
        let jv = b.class(egraph, s[var("?j")]);
        let (lo_v, hi_v) = (b.class(egraph, lo), b.class(egraph, hi));
        let summed = if inner.is_empty() {
            // A sum of a constant has max(0, hi − lo + 1) terms: hi − lo + 1 only where that
            // count is known not to be negative (an empty range sums to 0, not to a negative count).
            // And only for integer ends: 1..n/2 holds ⌊n/2⌋ integers.
            if !count_nonnegative(egraph, lo, hi)
                || !integer_valued(egraph, lo, 4)
                || !integer_valued(egraph, hi, 4)
            {
                return None;
            }
            let d = b.node(Math::Sub([hi_v, lo_v]));
            let one = b.node(Math::Num(crate::expr::Constant::int(1)));
            b.node(Math::Add([d, one]))
        } else {
            let body = monomial_pattern(&mut b, egraph, &BigRational::one(), &inner, None);
            b.node(Math::Sum([jv, lo_v, hi_v, body]))
        };
        terms.push(monomial_pattern(&mut b, egraph, c, &outer, Some(summed)));
    }
    sum_pattern(&mut b, terms);
    Some(b.finish())
}

/// Is hi − lo + 1 ≥ 0 known? True when the count's normal form is a polynomial in declared sizes
/// (each ≥ 1) that stays non-negative: writing every size as 1 + s with s ≥ 0, all coefficients
/// (the constant term included) are non-negative.
fn count_nonnegative(egraph: &MathGraph, lo: Id, hi: Id) -> bool {
    let mut norm = Normalizer::new(egraph);
    let count = norm
        .poly(hi)
        .add(&norm.poly(lo).scale(&-BigRational::one()))
        .add(&Poly::constant(BigRational::one()));
    let size = |a: Id| {
        egraph[a].nodes.iter().any(|n| {
            n.symbol()
                .is_some_and(|s| egraph.analysis.ctx.sizes.contains(&s))
        })
    };
    // Substitute size = 1 + s: expand each monomial Π size^e (non-negative integer exponents).
    let mut shifted = Poly::default();
    for (m, c) in &count.0 {
        let mut term = Poly::constant(c.clone());
        for (a, e) in &m.0 {
            let Some(e) = e.to_integer().to_u32().filter(|_| e.is_integer()) else {
                return false;
            };
            if !size(*a) {
                return false;
            }
            let one_plus = Poly::constant(BigRational::one()).add(&Poly::atom(*a));
            for _ in 0..e {
                term = term.mul(&one_plus);
            }
        }
        shifted = shifted.add(&term);
    }
    shifted.0.values().all(|c| !c.is_negative())
}

/// The sums (as class ids) among a monomial's atoms, with their parts.
fn sum_atoms(egraph: &MathGraph, m: &Monomial) -> Vec<(Id, [Id; 4])> {
    m.0.iter()
        .filter_map(|(a, _)| {
            egraph[*a].nodes.iter().find_map(|n| match n {
                Math::Sum(parts) => Some((*a, *parts)),
                _ => None,
            })
        })
        .collect()
}

const FRESH: [&str; 8] = ["k", "l", "m", "p", "q", "r", "j2", "k2"];

/// sum(j, a(j)) · sum(j', b(j')) = sum(j, sum(k, a(j)·b(k))), renaming the second bound index to a
/// fresh one when needed.
fn sum_product(egraph: &MathGraph, eclass: Id, _: &Subst) -> Option<Replacement> {
    let p = Normalizer::new(egraph).poly(eclass);
    let (m, c) = p.as_monomial()?;
    // Expand a squared sum into two factors.
    let mut factors: Vec<(Id, BigRational)> = vec![];
    for (a, e) in &m.0 {
        if *e == BigRational::from_integer(2.into())
            && !sum_atoms(egraph, &Monomial(vec![(*a, BigRational::one())])).is_empty()
        {
            factors.push((*a, BigRational::one()));
            factors.push((*a, BigRational::one()));
        } else {
            factors.push((*a, e.clone()));
        }
    }
    let sums: Vec<(usize, Id, [Id; 4])> = factors
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| e.is_one())
        .filter_map(|(i, (a, _))| {
            sum_atoms(egraph, &Monomial(vec![(*a, BigRational::one())]))
                .first()
                .map(|(id, parts)| (i, *id, *parts))
        })
        .collect();
    if sums.len() < 2 {
        return None;
    }
    let (i1, _, [j1, lo1, hi1, b1]) = sums[0];
    let (i2, _, [j2, lo2, hi2, b2]) = sums[1];
    let sj1 = symbol_of(egraph, j1)?;
    let sj2 = symbol_of(egraph, j2)?;
    let body1 = extract(egraph, b1);
    let body2 = extract(egraph, b2);
    // The second sum's index must not occur free in the first body, and vice versa.
    let mut second_index = sj2;
    let body2 = if sj2 == sj1 || egraph[b1].data.free.contains(&sj2) {
        let ctx = &egraph.analysis.ctx;
        let fresh = FRESH.iter().map(|s| Symbol::from(*s)).find(|s| {
            !ctx.is_reserved(*s)
                && !occurs(&body1, *s)
                && !occurs(&body2, *s)
                && !egraph[eclass].data.free.contains(s)
                && !egraph[b1].data.free.contains(s)
        })?;
        second_index = fresh;
        substitute(&body2, sj2, fresh)?
    } else {
        body2
    };
    // The second sum moves under the first binder: nothing of it (body or range) may mention
    // the first index; the first body moves under the second binder.
    let free = |id: Id, x: Symbol| egraph[id].data.free.contains(&x);
    if (free(b2, sj1) && sj1 != sj2) || free(lo2, sj1) || free(hi2, sj1) {
        return None;
    }
    if free(b1, second_index) {
        return None;
    }
    let mut b = PatBuilder::default();
    let rest: Vec<(Id, BigRational)> = factors
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != i1 && *i != i2)
        .map(|(_, f)| f.clone())
        .collect();
    let x = b.class(egraph, b1);
    let y = b.expr(&body2);
    let prod = b.node(Math::Mul([x, y]));
    let k = b.node(Math::Symbol(second_index));
    let (l2, h2) = (b.class(egraph, lo2), b.class(egraph, hi2));
    let inner = b.node(Math::Sum([k, l2, h2, prod]));
    let jv = b.class(egraph, j1);
    let (l1, h1) = (b.class(egraph, lo1), b.class(egraph, hi1));
    let outer = b.node(Math::Sum([jv, l1, h1, inner]));
    monomial_pattern(&mut b, egraph, c, &rest, Some(outer));
    Some(b.finish())
}

/// The δ factor of a monomial pairing `k` with another index symbol, if any.
fn delta_partner(egraph: &MathGraph, m: &Monomial, k: Symbol) -> Option<(usize, Symbol)> {
    m.0.iter().enumerate().find_map(|(i, (a, e))| {
        if !e.is_one() {
            return None;
        }
        egraph[*a].nodes.iter().find_map(|n| match n {
            Math::Delta([x, y]) => {
                let (sx, sy) = (symbol_of(egraph, *x)?, symbol_of(egraph, *y)?);
                if sx == k && sy != k {
                    Some((i, sy))
                } else if sy == k && sx != k {
                    Some((i, sx))
                } else {
                    None
                }
            }
            _ => None,
        })
    })
}

/// Σ_k a(k)·δ(j,k) = a(j) for the body monomial of a sum over k; `None` unless every other
/// factor substitutes without capture.
fn eliminate_delta(
    egraph: &MathGraph,
    k: Symbol,
    body: Id,
    allowed: &dyn Fn(Symbol) -> bool,
) -> Option<Expr> {
    let p = Normalizer::new(egraph).poly(body);
    let (m, c) = p.as_monomial()?;
    let (di, j) = delta_partner(egraph, m, k)?;
    if !allowed(j) {
        return None;
    }
    let mut out = Expr::default();
    let mut factors = vec![out.add(Math::Num(crate::expr::Constant(c.clone())))];
    for (i, (a, e)) in m.0.iter().enumerate() {
        if i == di {
            continue;
        }
        let t = substitute(&extract(egraph, *a), k, j)?;
        let mut base = append(&mut out, &t);
        if !e.is_one() {
            let ke = out.add(Math::Num(crate::expr::Constant(e.clone())));
            base = out.add(Math::Pow([base, ke]));
        }
        factors.push(base);
    }
    factors
        .into_iter()
        .reduce(|x, y| out.add(Math::Mul([x, y])));
    Some(out)
}

/// The body monomial of a sum over `k` with its δ(j,k) factor written out as a δ node: the form
/// the δ-elimination reads, so that proofs show how the body became a product with a δ.
fn explicit_delta_body(egraph: &MathGraph, f: &mut PatBuilder, k: Symbol, body: Id) -> Option<Id> {
    let p = Normalizer::new(egraph).poly(body);
    let (m, c) = p.as_monomial()?;
    let (di, _) = delta_partner(egraph, m, k)?;
    let (x, y) = egraph[m.0[di].0].nodes.iter().find_map(|n| match n {
        Math::Delta([x, y]) => Some((*x, *y)),
        _ => None,
    })?;
    let (x, y) = (f.class(egraph, x), f.class(egraph, y));
    let delta = f.node(Math::Delta([x, y]));
    let others: Vec<(Id, BigRational)> =
        m.0.iter()
            .enumerate()
            .filter(|(i, _)| *i != di)
            .map(|(_, a)| a.clone())
            .collect();
    Some(monomial_pattern(f, egraph, c, &others, Some(delta)))
}

/// `sum(index in ?lo..?hi, body)` as a pattern node.
fn sum_over(egraph: &MathGraph, f: &mut PatBuilder, index: Id, s: &Subst, body: Id) -> Id {
    let iv = f.class(egraph, index);
    let (lo, hi) = (
        f.class(egraph, s[var("?lo")]),
        f.class(egraph, s[var("?hi")]),
    );
    f.node(Math::Sum([iv, lo, hi, body]))
}

/// The matched `sum(k in ?lo..?hi, ?body)` with the body's δ(j,k) written out.
fn explicit_delta_sum(egraph: &MathGraph, f: &mut PatBuilder, k: Symbol, s: &Subst) -> Option<Id> {
    let body = explicit_delta_body(egraph, f, k, s[var("?body")])?;
    Some(sum_over(egraph, f, s[var("?k")], s, body))
}

/// Does the matched range `?lo..?hi` mention `x` free?
fn range_mentions(egraph: &MathGraph, s: &Subst, x: Symbol) -> bool {
    [var("?lo"), var("?hi")]
        .iter()
        .any(|v| egraph[s[*v]].data.free.contains(&x))
}

/// sum(j in R, sum(k in R, a·δ(j,k))) = sum(j in R, a[k := j]): both indices range over R.
fn sum_delta_nested(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let j = symbol_of(egraph, s[var("?j")])?;
    let k = symbol_of(egraph, s[var("?k")])?;
    // Both indices must range over one set R: a range that mentions either index is not R.
    if [j, k].iter().any(|x| range_mentions(egraph, s, *x)) || j == k {
        return None;
    }
    let reduced = eliminate_delta(egraph, k, s[var("?body")], &|x| x == j)?;
    let mut b = PatBuilder::default();
    let jv = b.class(egraph, s[var("?j")]);
    let (lo, hi) = (
        b.class(egraph, s[var("?lo")]),
        b.class(egraph, s[var("?hi")]),
    );
    let body = b.expr(&reduced);
    b.node(Math::Sum([jv, lo, hi, body]));
    // The same match with the δ factor explicit.
    let mut f = PatBuilder::with_prefix("f");
    let inner = explicit_delta_sum(egraph, &mut f, k, s)?;
    let var_j = s[var("?j")];
    sum_over(egraph, &mut f, var_j, s, inner);
    Some(b.finish_from(f))
}

/// sum(k in lo..hi, a·δ(j,k)) = a[k := j] when `j` is a free index declared to range over lo..hi.
fn sum_delta_declared(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let k = symbol_of(egraph, s[var("?k")])?;
    if range_mentions(egraph, s, k) {
        return None;
    }
    let (lo, hi) = (egraph.find(s[var("?lo")]), egraph.find(s[var("?hi")]));
    let in_range = |j: Symbol| {
        egraph.analysis.ctx.ranges.get(&j).is_some_and(|(l, h)| {
            egraph.lookup_expr(l).map(|x| egraph.find(x)) == Some(lo)
                && egraph.lookup_expr(h).map(|x| egraph.find(x)) == Some(hi)
        })
    };
    let reduced = eliminate_delta(egraph, k, s[var("?body")], &in_range)?;
    let mut b = PatBuilder::default();
    b.expr(&reduced);
    let mut f = PatBuilder::with_prefix("f");
    explicit_delta_sum(egraph, &mut f, k, s)?;
    Some(b.finish_from(f))
}

/// How deep under a sum over k [`sum_delta_scoped`] looks for an inner sum with δ(j, k).
const SCOPED_DEPTH: usize = 10;

/// Within `sum(k in R, body)`, an inner `sum(j in R, g·δ(j,k))` anywhere in the body (under
/// products, functions, derivatives and other sums, none of which binds k on the way) equals
/// g[j := k]: k ranges over R there. The body is rebuilt along the path to the inner sum (each
/// node on it is one of its class's nodes, so the rebuilt body is the body), with the inner sum
/// replaced; the equality is stated for the whole sum over k, where it holds.
fn sum_delta_scoped(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    use egg::Language;
    let k = symbol_of(egraph, s[var("?k")])?;
    if range_mentions(egraph, s, k) {
        return None;
    }
    let (lo, hi) = (egraph.find(s[var("?lo")]), egraph.find(s[var("?hi")]));
    let mut visited = std::collections::HashSet::new();
    let (path, reduced) = scoped_path(
        egraph,
        s[var("?body")],
        k,
        (lo, hi),
        SCOPED_DEPTH,
        true,
        &mut visited,
    )?;
    let mut b = PatBuilder::default();
    let mut cur = b.expr(&reduced);
    for (node, at) in path.iter().rev() {
        let mut i = 0;
        let rebuilt = node.clone().map_children(|c| {
            let out = if i == *at { cur } else { b.class(egraph, c) };
            i += 1;
            out
        });
        cur = b.node(rebuilt);
    }
    let kv = b.class(egraph, s[var("?k")]);
    let (l, h) = (
        b.class(egraph, s[var("?lo")]),
        b.class(egraph, s[var("?hi")]),
    );
    b.node(Math::Sum([kv, l, h, cur]));
    Some(b.finish())
}

/// A path of (node, child position) from `class` down to a class holding `sum(j in R, g·δ(j,k))`
/// (not the top class itself: that is the sum over k's own body only when it is such a sum,
/// which [`sum_delta_nested`] handles), with g[j := k].
fn scoped_path(
    egraph: &MathGraph,
    class: Id,
    k: Symbol,
    range: (Id, Id),
    depth: usize,
    top: bool,
    visited: &mut std::collections::HashSet<Id>,
) -> Option<(Vec<(Math, usize)>, Expr)> {
    use egg::Language;
    let class = egraph.find(class);
    let data = &egraph[class].data;
    // No δ below, or k not free below (a δ(j, k) under a binder of k is about another index).
    if !data.delta || !data.free.contains(&k) {
        return None;
    }
    for n in &egraph[class].nodes {
        if let Math::Sum([j, lo, hi, body]) = n {
            let Some(j) = symbol_of(egraph, *j) else {
                continue;
            };
            if j == k {
                continue; // a binder of k: below it, k is another index
            }
            // δ(j, k) as a factor needs a δ and k in the body (a cheap test before the
            // body's normal form).
            let body_data = &egraph[*body].data;
            if !top
                && body_data.delta
                && body_data.free.contains(&k)
                && egraph.find(*lo) == range.0
                && egraph.find(*hi) == range.1
            {
                if let Some(reduced) = eliminate_delta(egraph, j, *body, &|x| x == k) {
                    return Some((vec![], reduced));
                }
            }
        }
        // Below a binder of k, k is another index; below a binder of a name the range R
        // mentions, a range written like R is another range (`sum(k in 1..1, sum(j in 1..k, …))`
        // inside `sum(K in 1..k, …)`: its `1..k` is not the outer one, though both are one
        // e-class). Bound names may coincide after `sum-alpha`, so both are checked here.
        let bound = crate::expr::binders::node_binds(n, |c| symbol_of(egraph, c));
        if depth == 0
            || bound.iter().any(|b| {
                *b == k
                    || egraph[range.0].data.free.contains(b)
                    || egraph[range.1].data.free.contains(b)
            })
        {
            continue;
        }
        for (i, c) in n.children().iter().enumerate() {
            if visited.insert(egraph.find(*c)) {
                if let Some((mut path, reduced)) =
                    scoped_path(egraph, *c, k, range, depth - 1, false, visited)
                {
                    path.insert(0, (n.clone(), i));
                    return Some((path, reduced));
                }
            }
        }
    }
    None
}

/// The nested sums `sum(?i in ?a..?b, sum(?j in ?c..?d, ..))` may be swapped: the indices differ,
/// the inner range does not mention `?i` and the outer range does not mention `?j`.
fn swappable(eg: &mut MathGraph, _: Id, s: &Subst) -> bool {
    let (Some(i), Some(j)) = (symbol_of(eg, s[var("?i")]), symbol_of(eg, s[var("?j")])) else {
        return false;
    };
    let free_of = |v: &'static str, x: Symbol| !eg[s[var(v)]].data.free.contains(&x);
    i != j && free_of("?c", i) && free_of("?d", i) && free_of("?a", j) && free_of("?b", j)
}

/// sum(j in a..a, body) = body[j := a]: a range of one element (its bounds in one class).
/// Its bounds must be known integers: a sum over a range with non-integer bounds is undefined
/// (the evaluator refuses it), and the rule must not give it a value.
fn sum_single(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    if egraph.find(s[var("?lo")]) != egraph.find(s[var("?hi")])
        || !integer_valued(egraph, s[var("?lo")], 4)
    {
        return None;
    }
    let j = symbol_of(egraph, s[var("?j")])?;
    let at = std::collections::BTreeMap::from([(j, extract(egraph, s[var("?lo")]))]);
    // Substitution refuses to capture (a bound name of the body free in `a`): no rewrite then.
    let (body, _) = crate::expr::binders::substitute_values(
        &extract(egraph, s[var("?body")]),
        &at,
        crate::limits::MAX_TERM_NODES,
    )
    .ok()?;
    let mut b = PatBuilder::default();
    b.expr(&body);
    Some(b.finish())
}

/// Is the class known to hold an integer: an integer constant, a size, an index declared over a
/// range, a declared integer, a sum's index, or a sum, difference, product or negation of such
/// (to `depth` levels)?
fn integer_valued(egraph: &MathGraph, id: Id, depth: usize) -> bool {
    let data = &egraph[id].data;
    if let Some(c) = &data.constant {
        return c.0.is_integer();
    }
    let ctx = &egraph.analysis.ctx;
    egraph[id].nodes.iter().any(|n| match n {
        Math::Symbol(x) => ctx.is_integer(*x),
        Math::Add([a, b]) | Math::Sub([a, b]) | Math::Mul([a, b]) if depth > 0 => {
            integer_valued(egraph, *a, depth - 1) && integer_valued(egraph, *b, depth - 1)
        }
        Math::Neg(a) if depth > 0 => integer_valued(egraph, *a, depth - 1),
        _ => false,
    })
}

/// Canonical bound-index names, tried in order.
const CANONICAL: [&str; 8] = ["k", "l", "m", "p", "q", "r", "s", "t"];

/// [`CANONICAL`] interned once (interning takes a global lock, and `sum-alpha` fires at every
/// sum of every iteration).
fn canonical_symbols() -> &'static [Symbol; 8] {
    static SYMBOLS: std::sync::OnceLock<[Symbol; 8]> = std::sync::OnceLock::new();
    SYMBOLS.get_or_init(|| CANONICAL.map(Symbol::from))
}

/// Is `s` a name [`sum_alpha`] gives a sum's index (one of [`CANONICAL`] or `k1`, `k2`, …)?
pub fn is_canonical(s: Symbol) -> bool {
    let s = s.as_str();
    CANONICAL.contains(&s)
        || FRESH.contains(&s)
        || s.strip_prefix('k')
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// sum(j in R, a(j)) = sum(c in R, a(c)) with `c` the canonical index of the sum: the first
/// name of [`CANONICAL`] (or `k1`, `k2`, …) that is neither reserved by the context nor free in
/// the body. Alpha-equal sums have the same free symbols, hence the same canonical form, so they
/// meet in one class; substitution refuses to capture.
fn sum_alpha(egraph: &MathGraph, _: Id, s: &Subst) -> Option<Replacement> {
    let j = symbol_of(egraph, s[var("?j")])?;
    let body = s[var("?body")];
    let ctx = &egraph.analysis.ctx;
    let free = &egraph[body].data.free;
    let c = canonical_symbols()
        .iter()
        .copied()
        .chain((1..).map(|k| Symbol::from(format!("k{k}"))))
        .find(|c| !ctx.is_reserved(*c) && (*c == j || !free.contains(c)))?;
    if c == j {
        return None;
    }
    let renamed = substitute(&extract(egraph, body), j, c)?;
    let mut b = PatBuilder::default();
    let v = b.node(Math::Symbol(c));
    let (lo, hi) = (
        b.class(egraph, s[var("?lo")]),
        b.class(egraph, s[var("?hi")]),
    );
    let body = b.expr(&renamed);
    b.node(Math::Sum([v, lo, hi, body]));
    Some(b.finish())
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Sums,
        rewrite,
        examples,
    };
    vec![
        r(
            "sum-alpha",
            computed("sum-alpha", "(sum ?j ?lo ?hi ?body)", sum_alpha),
            &["(sum j 1 n (* (idx x j) (idx xp j)))"],
        ),
        r(
            "sum-linear",
            computed("sum-linear", "(sum ?j ?lo ?hi ?body)", sum_linear),
            &[
                "(sum j 1 n (+ (* a (idx x j)) b))",
                "(sum j 1 n (* 3 (idx x j)))",
            ],
        ),
        r(
            "sum-product",
            computed("sum-product", "(* ?a ?b)", sum_product),
            &[
                "(* (sum j 1 n (idx x j)) (sum j 1 n (idx xp j)))",
                "(* 2 (* (sum j 1 n (idx x j)) (sum k 1 n (idx xp k))))",
            ],
        ),
        r(
            "sum-product(^2)",
            computed("sum-product(^2)", "(^ ?a 2)", sum_product),
            &["(^ (sum j 1 n (idx x j)) 2)"],
        ),
        r(
            "sum-delta",
            computed(
                "sum-delta",
                "(sum ?j ?lo ?hi (sum ?k ?lo ?hi ?body))",
                sum_delta_nested,
            ),
            &["(sum j 1 n (sum k 1 n (* (* (idx x j) (idx xp k)) (delta j k))))"],
        ),
        r(
            "sum-delta(declared)",
            computed(
                "sum-delta(declared)",
                "(sum ?k ?lo ?hi ?body)",
                sum_delta_declared,
            ),
            &["(sum k 1 n (* (idx x k) (delta i k)))"],
        ),
        r(
            "sum-delta(scoped)",
            computed(
                "sum-delta(scoped)",
                "(sum ?k ?lo ?hi ?body)",
                sum_delta_scoped,
            ),
            &[
                "(sum k 1 n (* (idx x k) (sum j 1 n (* (idx xp j) (delta j k)))))",
                "(sum k 1 n (exp (* 2 (sum j 1 n (* (idx xp j) (delta k j))))))",
            ],
        ),
        r(
            "sum-single",
            computed("sum-single", "(sum ?j ?lo ?hi ?body)", sum_single),
            &[
                "(sum j 1 1 (* j a))",
                "(sum j n n (* j b))",
                "(sum j (+ n 1) (+ n 1) (- j s))",
            ],
        ),
        r(
            "sum-swap",
            rw!("sum-swap";
                "(sum ?i ?a ?b (sum ?j ?c ?d ?body))" => "(sum ?j ?c ?d (sum ?i ?a ?b ?body))"
                if swappable),
            &["(sum p 1 (+ n 1) (sum j 1 n (* (idx x j p) (idx xp j))))"],
        ),
        r(
            "delta-same",
            rw!("delta-same"; "(delta ?a ?a)" => "1"),
            &["(delta i i)"],
        ),
        r(
            "delta-sym",
            rw!("delta-sym"; "(delta ?a ?b)" => "(delta ?b ?a)"),
            &["(delta i j)"],
        ),
    ]
}
