//! A search for the point where a relation (an inequality, or an equality: its margin is
//! −|lhs − rhs|) fails, beyond the sampled points.
//!
//! Sampled points miss a violation confined to a narrow set: `(b − 0.3)² ≥ 10⁻⁸` fails only
//! for |b − 0.3| < 10⁻⁴. From each of the first [`STARTS`] sample points, the margin
//! greater − lesser is minimised along each real symbol of the link in turn, for [`ROUNDS`]
//! rounds of coordinate descent (a joint violation in two symbols is reached): a grid of [`GRID`]
//! cells over a bracket (the declared interval; ×/÷ 10³ around the value for a positive symbol;
//! ±10·(|x| + 1) for a real one; 1 to 10⁴ or more for a size), then golden-section refinement
//! around the grid's [`CELLS`] best local minima and the zeros of the sides' subterms (where a
//! narrow well sits) (for an integer: grids zooming into the best cell,
//! then every integer of the last). The zeros are also looked for beyond the bracket, about
//! decade by decade up to ±[`FAR`] (relu(n − 10⁸)), and where the arguments of a δ coincide;
//! an index moves within its range, and the size its range ends at is raised to reach a zero
//! (δ(i, 37) with i in 1..n). A point f64 cannot evaluate (a jump's argument within rounding of
//! 0) is evaluated in ball arithmetic, where an exact 0 is exact. The least margin found is compared like any point (ball arithmetic where the
//! sides allow it, the f64 tolerance otherwise): beyond the tolerance it is a counterexample,
//! described with the point. A local search finds no violation where none is near a grid
//! minimum; it only adds evidence against a link, never for it.

use egg::Symbol;

use super::check::PointResult;
use super::file::{Derivation, Kind, Relation};
use super::sample::{point_retry, used_symbols};
use crate::expr::Expr;
use crate::numeric::eval::{Env, Evaluator};
use crate::numeric::tolerance::{compare, Comparison};

/// Sample points the search starts from.
pub const STARTS: usize = 4;
/// Cells of the grid along one symbol.
pub const GRID: usize = 64;
/// Golden-section steps of the refinement.
pub const REFINE: usize = 80;
/// Local minima of the grid refined along one symbol.
pub const CELLS: usize = 3;
/// Rounds of coordinate descent over the symbols from one start.
pub const ROUNDS: usize = 3;
/// Cells of the grid on which the sides' subterms are searched for zeros along a symbol (once
/// per start and symbol).
pub const FEATURE_GRID: usize = 128;

/// Sum terms and polynomial products (the evaluator's [`crate::numeric::eval::TERM_BUDGET`]
/// unit) that one search may spend: 5·10⁶, a few tenths of a second. A side with a double sum
/// over a size costs 10⁸ at the sizes the search visits; the search then stops early (it only
/// ever adds evidence against a link).
pub const SEARCH_TERMS: u64 = 5_000_000;
/// The budget of a search whose sides hold an integral, an expectation, `gauss(…)` or a
/// derivative (their quadrature nodes and samples count with the terms): 2·10⁶, a few tenths
/// of a second. A side that needs Monte Carlo is not searched (a margin within sampling error
/// is no violation, and each evaluation costs 20,000 samples).
pub const SEARCH_WORK_HEAVY: u64 = 2_000_000;

thread_local! {
    /// The work the running search has spent ([`SEARCH_TERMS`], [`SEARCH_WORK_HEAVY`]).
    static SPENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The running search's budget.
    static BUDGET: std::cell::Cell<u64> = const { std::cell::Cell::new(SEARCH_TERMS) };
}

/// Evaluates `e` at `env` for the search, within its budget.
fn evaluate(e: &Expr, env: &Env) -> Option<crate::numeric::eval::Value> {
    if SPENT.get() > BUDGET.get() {
        return None;
    }
    let mut ev = Evaluator::new(env);
    let v = ev.eval(e);
    SPENT.set(SPENT.get() + ev.work_spent());
    // Where f64 cannot decide (a jump's argument within rounding of 0: sign(n − 137) at
    // n = 137), ball arithmetic may (an exact 0 is exact there).
    v.ok().or_else(|| {
        crate::numeric::precise::eval(e, env, crate::numeric::precise::BITS)
            .ok()
            .map(|p| crate::numeric::eval::Value::exact(p.to_f64()))
    })
}

/// The margin of the relation at `env`: greater − lesser (negative where it fails), if both
/// sides are deterministic and finite there.
fn margin(lhs: &Expr, rhs: &Expr, rel: Relation, env: &Env) -> Option<f64> {
    let l = evaluate(lhs, env)?;
    let r = evaluate(rhs, env)?;
    if l.stderr > 0.0 || r.stderr > 0.0 || !l.value.is_finite() || !r.value.is_finite() {
        return None;
    }
    Some(match rel {
        Relation::Le | Relation::Lt => r.value - l.value,
        Relation::Ge | Relation::Gt => l.value - r.value,
        Relation::Eq => -(l.value - r.value).abs(),
    })
}

/// Are the terms pointwise: no integral, expectation, gauss(…) or derivative, whose evaluation is
/// a quadrature or a difference scheme at each point the search visits?
pub fn pointwise(terms: &[&Expr]) -> bool {
    use crate::expr::Math;
    terms.iter().all(|t| {
        !t.as_ref().iter().any(|n| {
            matches!(
                n,
                Math::Integral(_)
                    | Math::Expect(_)
                    | Math::Gauss(_)
                    | Math::Deriv(_)
                    | Math::Grad(_)
                    | Math::Jacobian(_)
                    | Math::Hessian(_)
            )
        })
    })
}

/// The bracket searched along a symbol of kind `kind` whose value at the point `env` is `x`
/// (an index: its range there).
fn bracket(kind: &Kind, x: f64, env: &Env) -> Option<(f64, f64)> {
    match kind {
        Kind::Index(lo, hi) => {
            let (lo, hi) = (evaluate(lo, env)?.value, evaluate(hi, env)?.value);
            (lo.is_finite() && hi.is_finite() && lo <= hi).then_some((lo.ceil(), hi.floor()))
        }
        Kind::Interval(a, b) => Some((*a, *b)),
        Kind::Positive if x > 0.0 => Some((x * 1e-3, x * 1e3)),
        Kind::Real => {
            let w = 10.0 * (x.abs() + 1.0);
            Some((x - w, x + w))
        }
        Kind::Size => Some((1.0, (x * 1e3).max(1e4))),
        Kind::Integer => {
            let w = (10.0 * (x.abs() + 1.0)).max(1e4);
            Some(((x - w).round(), (x + w).round()))
        }
        _ => None,
    }
}

/// A symbol the search moves along: its bracket, the zeros of the sides' subterms along it
/// ([`features`]) and the values it may take.
struct Along {
    symbol: Symbol,
    bracket: (f64, f64),
    zeros: Vec<f64>,
    domain: (f64, f64),
}

/// The least margin along an integer symbol `s` over `lo..=hi`: grids that zoom into the best
/// cell until it holds at most [`GRID`] integers, then each of them.
fn minimise_integer(
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    env: &Env,
    along: &Along,
) -> Option<(f64, f64)> {
    let (s, (lo, hi), features, domain) =
        (along.symbol, along.bracket, &along.zeros[..], along.domain);
    let at = |x: f64| {
        let mut e = env.clone();
        e.scalars.insert(s, x);
        margin(lhs, rhs, rel, &e).map(|m| (m, x))
    };
    let best =
        |xs: &mut dyn Iterator<Item = f64>| xs.filter_map(at).min_by(|a, b| a.0.total_cmp(&b.0));
    let zoomed = {
        let (mut lo, mut hi) = (lo, hi);
        while hi - lo > GRID as f64 {
            let step = (hi - lo) / GRID as f64;
            let (_, x) = best(&mut (0..=GRID).map(|i| (lo + step * i as f64).round()))?;
            (lo, hi) = ((x - step).max(lo).floor(), (x + step).min(hi).ceil());
        }
        best(&mut (lo as i64..=hi as i64).map(|i| i as f64))
    };
    // The integers around the zeros of the subterms (relu(1 − (n − 100)²) is non-zero at
    // n = 100 only, which a zooming grid of ties does not find).
    let near = best(
        &mut features
            .iter()
            .flat_map(|z| [z.floor() - 1.0, z.floor(), z.ceil(), z.ceil() + 1.0])
            .chain(beyond(features, domain, true))
            .filter(|x| (domain.0..=domain.1).contains(x)),
    );
    match (zoomed, near) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The least margin along `s` from `env` (its value and where): the grid's [`CELLS`] best
/// local minima, and the zeros of the sides' subterms along `s` (`features`: a narrow well
/// exp(−10¹⁰·(b − 0.7)²) sits where b − 0.7 vanishes, between grid points), each refined by
/// golden section in the cells around it.
fn minimise(lhs: &Expr, rhs: &Expr, rel: Relation, env: &Env, along: &Along) -> Option<(f64, f64)> {
    let (s, (lo, hi), features, domain) =
        (along.symbol, along.bracket, &along.zeros[..], along.domain);
    let at = |x: f64| {
        let mut e = env.clone();
        e.scalars.insert(s, x);
        margin(lhs, rhs, rel, &e)
    };
    let cell = (hi - lo) / GRID as f64;
    let xs: Vec<f64> = (0..=GRID).map(|i| lo + cell * i as f64).collect();
    let ys: Vec<Option<f64>> = xs.iter().map(|x| at(*x)).collect();
    // Local minima of the grid, best first.
    let mut minima: Vec<(f64, f64)> = (0..=GRID)
        .filter_map(|i| {
            let y = ys[i]?;
            let left = i.checked_sub(1).and_then(|j| ys[j]).is_none_or(|l| y <= l);
            let right = ys.get(i + 1).copied().flatten().is_none_or(|r| y <= r);
            (left && right).then_some((y, xs[i]))
        })
        .collect();
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    minima.truncate(CELLS);
    // The zeros, and the midpoints between neighbouring zeros: between two zeros every jump of
    // the sides (step(a − 0.3) − step(a − 0.3 − 10⁻⁹)) stays on one side, so a midpoint meets
    // each pattern of sides, however narrow its interval.
    let mut zeros: Vec<f64> = features.to_vec();
    zeros.sort_by(f64::total_cmp);
    let midpoints: Vec<f64> = zeros
        .windows(2)
        .map(|w| w[0] + (w[1] - w[0]) / 2.0)
        .collect();
    let outside = beyond(&zeros, domain, false);
    let starts = minima.into_iter().chain(
        zeros
            .iter()
            .chain(&midpoints)
            .chain(&outside)
            .filter_map(|x| at(*x).map(|y| (y, *x))),
    );
    let mut found: Option<(f64, f64)> = None;
    for (y0, x0) in starts {
        // Refined within a grid cell inside the bracket; beyond it (a far zero), within a
        // tenth of its magnitude.
        let window = if (lo..=hi).contains(&x0) {
            ((x0 - cell).max(lo), (x0 + cell).min(hi))
        } else {
            let w = 0.1 * x0.abs().max(1.0);
            ((x0 - w).max(domain.0), (x0 + w).min(domain.1))
        };
        let best = crate::numeric::features::golden_min(at, window, (y0, x0), REFINE);
        if found.is_none_or(|f| best.0 < f.0) {
            found = Some(best);
        }
    }
    found
}

/// The zeros along `s` of the subterms of both sides that mention it (and of a − b for each
/// δ(a, b): δ is 1 where they coincide), within `lo..hi` and, decade by decade, beyond it up to
/// ±[`FAR`] within the symbol's domain `(dlo, dhi)` (relu(n − 10⁸) is 0 up to n = 10⁸, far
/// beyond the bracket around a sampled width).
fn features(
    lhs: &Expr,
    rhs: &Expr,
    env: &Env,
    s: Symbol,
    (lo, hi): (f64, f64),
    (dlo, dhi): (f64, f64),
) -> Vec<f64> {
    use crate::expr::Math;
    let mut terms: Vec<Expr> = vec![];
    for side in [lhs, rhs] {
        let root = crate::expr::binders::root(side);
        let mentions = |i| crate::expr::binders::free_symbols(side, i).contains(&s);
        let ids = Evaluator::feature_subterms(side, root, mentions);
        terms.extend(ids.iter().map(|i| crate::expr::binders::subterm(side, *i)));
        for i in ids {
            if let Math::Delta([a, b]) = side[i] {
                use crate::expr::binders::{append, subterm};
                let mut t = Expr::default();
                let a = append(&mut t, &subterm(side, a));
                let b = append(&mut t, &subterm(side, b));
                t.add(Math::Sub([a, b]));
                terms.push(t);
            }
        }
    }
    let index: Vec<egg::Id> = (0..terms.len()).map(egg::Id::from).collect();
    let cuts = |(a, b): (f64, f64)| {
        crate::numeric::features::feature_cuts(&index, a, b, FEATURE_GRID, |id, x| {
            let mut e = env.clone();
            e.scalars.insert(s, x);
            evaluate(&terms[usize::from(id)], &e)
                .map(|v| v.value)
                .filter(|v| v.is_finite())
        })
    };
    let mut out = cuts((lo, hi));
    // About decades beyond the bracket, each its own grid (one linear grid over 10⁴..10¹⁵
    // would put every zero below 10¹³ in its first cell); their ends ([`WIDEN`]) stay off round
    // numbers, where a zero on a grid's end would be seen by neither grid.
    let mut edge = hi.max(1.0);
    while edge < FAR.min(dhi) {
        let next = (edge * WIDEN).min(dhi).min(FAR);
        out.extend(cuts((edge, next)));
        edge = next;
    }
    let mut edge = lo.min(-1.0);
    while edge > (-FAR).max(dlo) {
        let next = (edge * WIDEN).max(dlo).max(-FAR);
        out.extend(cuts((next, edge)));
        edge = next;
    }
    out.retain(|z| (dlo..=dhi).contains(z));
    out
}

/// The factor from one grid beyond the bracket to the next: about a decade, 10^(1 − (2 − φ)/10)
/// ≈ 9.158, whose powers times a round bracket end are never round.
pub const WIDEN: f64 = 9.158_058_193_831_865;

/// How far beyond its bracket the subterms' zeros along a symbol are looked for: ±10¹⁵ (f64
/// integers are exact to 2⁵³ ≈ 9·10¹⁵).
pub const FAR: f64 = 1e15;

/// The values a symbol of kind `kind` may take (for an index: its bracket).
fn domain(kind: &Kind, bracket: (f64, f64)) -> (f64, f64) {
    match kind {
        Kind::Interval(a, b) => (*a, *b),
        Kind::Positive => (f64::MIN_POSITIVE, f64::INFINITY),
        Kind::Size => (1.0, f64::INFINITY),
        Kind::Real | Kind::Integer => (f64::NEG_INFINITY, f64::INFINITY),
        _ => bracket,
    }
}

/// Points beyond the outermost zeros (within the domain): past the last zero of relu(a − 10⁸)
/// the side is non-zero, at no zero and no midpoint between zeros.
fn beyond(zeros: &[f64], (dlo, dhi): (f64, f64), integer: bool) -> Vec<f64> {
    let (Some(min), Some(max)) = (
        zeros.iter().copied().reduce(f64::min),
        zeros.iter().copied().reduce(f64::max),
    ) else {
        return vec![];
    };
    let step = |z: f64| {
        if integer {
            1.0
        } else {
            z.abs().max(1.0) * 1e-6
        }
    };
    [
        max + step(max),
        max + max.abs().max(1.0),
        min - step(min),
        min - min.abs().max(1.0),
    ]
    .into_iter()
    .map(|x| if integer { x.round() } else { x })
    .filter(|x| x.is_finite() && (dlo..=dhi).contains(x))
    .collect()
}

/// How many points [`feature_points`] gives at most.
pub const FEATURE_POINTS: usize = 4;

/// Points where the sides change character along a symbol other than `fixed` (an order
/// study's parameter): from `base`, each other searchable symbol moved just past the outermost
/// zeros of the sides' subterms along it (beyond the bracket too, up to ±[`FAR`]), at most
/// [`FEATURE_POINTS`]. A study run only at random points misses an error term that a factor
/// such as relu(a − 10⁸) switches on far from them.
pub fn feature_points(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    fixed: Symbol,
    base: &Env,
) -> Vec<Env> {
    SPENT.set(0);
    BUDGET.set(SEARCH_TERMS);
    let used = used_symbols(&[lhs, rhs]);
    let mut out = vec![];
    for (s, kind) in d
        .symbols
        .iter()
        .filter(|(s, _)| *s != fixed && used.contains(s))
    {
        let Some(range) = base.scalars.get(s).and_then(|x| bracket(kind, *x, base)) else {
            continue;
        };
        let integer = matches!(kind, Kind::Size | Kind::Integer | Kind::Index(..));
        let dom = domain(kind, range);
        let zeros = features(lhs, rhs, base, *s, range, dom);
        for x in beyond(&zeros, dom, integer) {
            if out.len() >= FEATURE_POINTS {
                return out;
            }
            // Only where the zeros lie outside the bracket the random points are drawn from:
            // inside it they meet them.
            if (range.0..=range.1).contains(&x) {
                continue;
            }
            let mut env = base.clone();
            env.scalars.insert(*s, x);
            out.push(env);
        }
    }
    out
}

/// A point where the relation `lhs rel rhs` fails beyond its tolerance, found by the search,
/// if any.
pub fn search(d: &Derivation, lhs: &Expr, rhs: &Expr, rel: Relation) -> Option<PointResult> {
    SPENT.set(0);
    BUDGET.set(if pointwise(&[lhs, rhs]) {
        SEARCH_TERMS
    } else {
        SEARCH_WORK_HEAVY
    });
    // A side estimated by Monte Carlo at the first point is not searched.
    let first = point_retry(d, 0, 0);
    if [lhs, rhs]
        .iter()
        .any(|e| evaluate(e, &first).is_some_and(|v| v.stderr > 0.0))
    {
        return None;
    }
    let mut used = used_symbols(&[lhs, rhs]);
    // The symbols an index's range mentions belong to the point too (the search may raise a
    // size so that an index reaches a value: the counterexample names both).
    let ranges: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(s, _)| used.contains(s))
        .filter_map(|(_, k)| match k {
            Kind::Index(lo, hi) => Some([lo, hi]),
            _ => None,
        })
        .flatten()
        .flat_map(|e| crate::expr::binders::free_symbols(e, crate::expr::binders::root(e)))
        .collect();
    for s in ranges {
        if !used.contains(&s) {
            used.push(s);
        }
    }
    let kinds: Vec<(Symbol, &Kind)> = d
        .symbols
        .iter()
        .filter(|(s, _)| used.contains(s))
        .map(|(s, k)| (*s, k))
        .collect();
    for k in 0..STARTS {
        let mut env = point_retry(d, k, 0);
        // Coordinate descent: each symbol in turn moves to where the margin is least, for
        // [`ROUNDS`] rounds, so that a violation at a point in several symbols jointly
        // ((a − 0.3)² + (b − 0.7)² ≥ 10⁻⁸) is reached.
        let brackets: Vec<Option<(f64, f64)>> = kinds
            .iter()
            .map(|(s, kind)| env.scalars.get(s).and_then(|x| bracket(kind, *x, &env)))
            .collect();
        let mut current = margin(lhs, rhs, rel, &env);
        // The subterms' zeros along each symbol, found in the first round (from the start).
        let mut zeros: Vec<Option<Vec<f64>>> = vec![None; kinds.len()];
        for _ in 0..ROUNDS {
            let mut moved = false;
            for (i, ((s, kind), range)) in kinds.iter().zip(&brackets).enumerate() {
                let Some(range) = *range else {
                    continue;
                };
                let integer = matches!(kind, Kind::Size | Kind::Integer | Kind::Index(..));
                // An index moves within its range at the current point (its bounds may have
                // moved with a size).
                let range = match kind {
                    Kind::Index(..) => {
                        match env.scalars.get(s).and_then(|x| bracket(kind, *x, &env)) {
                            Some(r) => r,
                            None => continue,
                        }
                    }
                    _ => range,
                };
                // An index whose range ends at a size may reach beyond the current end: the
                // zeros are looked for up to FAR, and the size is raised to the farthest
                // (δ(i, 37) with i in 1..n is 1 at i = 37 only, which n = 3 does not reach).
                let raises = match kind {
                    Kind::Index(_, hi) => hi.as_ref()[..]
                        .last()
                        .and_then(crate::expr::Math::symbol)
                        .filter(|m| {
                            hi.as_ref().len() == 1
                                && d.symbols.iter().any(|(x, k)| x == m && *k == Kind::Size)
                        }),
                    _ => None,
                };
                let dom = match raises {
                    Some(_) => (range.0, FAR),
                    None => domain(kind, range),
                };
                let f = zeros[i].get_or_insert_with(|| features(lhs, rhs, &env, *s, range, dom));
                let (range, dom) = match (raises, f.iter().copied().reduce(f64::max)) {
                    (Some(m), Some(z)) if z + 1.0 > range.1 => {
                        let top = (z + 1.0).ceil();
                        env.scalars.insert(m, top);
                        current = margin(lhs, rhs, rel, &env);
                        ((range.0, top), (range.0, top))
                    }
                    _ => (range, domain(kind, range)),
                };
                let along = Along {
                    symbol: *s,
                    bracket: range,
                    zeros: f.clone(),
                    domain: dom,
                };
                let found = if integer {
                    minimise_integer(lhs, rhs, rel, &env, &along)
                } else {
                    minimise(lhs, rhs, rel, &env, &along)
                };
                let Some((m, at)) = found else {
                    continue;
                };
                if current.is_none_or(|c| m < c) {
                    env.scalars.insert(*s, at);
                    current = Some(m);
                    moved = true;
                }
                if m < 0.0 {
                    if let Some(p) = violated(d, lhs, rhs, rel, &env, &used) {
                        return Some(p);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
    None
}

/// The point `env` as a counterexample, if the relation fails there beyond the tolerance.
fn violated(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    env: &Env,
    used: &[Symbol],
) -> Option<PointResult> {
    // Every index within its range at this point (a size may have moved below an index).
    let in_range = d
        .symbols
        .iter()
        .all(|(s, k)| match (k, env.scalars.get(s)) {
            (Kind::Index(..), Some(x)) if used.contains(s) => {
                bracket(k, *x, env).is_some_and(|(lo, hi)| (lo..=hi).contains(x))
            }
            _ => true,
        });
    if !in_range {
        return None;
    }
    let bits = crate::numeric::precise::BITS;
    let (l, r, mut cmp) = match crate::numeric::precise::compare_sides(lhs, rhs, env, bits) {
        Ok((l, r, c)) => crate::numeric::precise::as_point(&l, &r, &c),
        Err(_) => {
            let l = Evaluator::new(env).eval(lhs).ok()?;
            let r = Evaluator::new(env).eval(rhs).ok()?;
            if super::check::underflow_zone(l, r).is_some() {
                return None;
            }
            let c: Comparison = compare(l, r, 1);
            (l, r, c)
        }
    };
    cmp.diff = rel.excess(l.value, r.value);
    (cmp.diff > cmp.tol && !cmp.statistical).then(|| PointResult::at(d, env, used, (l, r, cmp)))
}
