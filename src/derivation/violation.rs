//! A search for the point where an inequality fails, beyond the sampled points.
//!
//! Sampled points miss a violation confined to a narrow set: `(b − 0.3)² ≥ 10⁻⁸` fails only
//! for |b − 0.3| < 10⁻⁴. From each of the first [`STARTS`] sample points, the margin
//! greater − lesser is minimised along each real symbol of the link in turn, for [`ROUNDS`]
//! rounds of coordinate descent (a joint violation in two symbols is reached): a grid of [`GRID`]
//! cells over a bracket (the declared interval; ×/÷ 10³ around the value for a positive symbol;
//! ±10·(|x| + 1) for a real one; 1 to 10⁴ or more for a size), then golden-section refinement
//! around the grid's [`CELLS`] best local minima and the zeros of the sides' subterms (where a
//! narrow well sits) (for an integer: grids zooming into the best cell,
//! then every integer of the last). The least margin found is compared like any point (ball arithmetic where the
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

/// The margin of the relation at `env`: greater − lesser (negative where it fails), if both
/// sides are deterministic and finite there.
fn margin(lhs: &Expr, rhs: &Expr, rel: Relation, env: &Env) -> Option<f64> {
    let l = Evaluator::new(env).eval(lhs).ok()?;
    let r = Evaluator::new(env).eval(rhs).ok()?;
    if l.stderr > 0.0 || r.stderr > 0.0 || !l.value.is_finite() || !r.value.is_finite() {
        return None;
    }
    Some(match rel {
        Relation::Le | Relation::Lt => r.value - l.value,
        Relation::Ge | Relation::Gt => l.value - r.value,
        Relation::Eq => -(l.value - r.value).abs(),
    })
}

/// The bracket searched along a symbol of kind `kind` whose value at the point is `x`.
fn bracket(kind: &Kind, x: f64) -> Option<(f64, f64)> {
    match kind {
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

/// The least margin along an integer symbol `s` over `lo..=hi`: grids that zoom into the best
/// cell until it holds at most [`GRID`] integers, then each of them.
fn minimise_integer(
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    env: &Env,
    s: Symbol,
    (mut lo, mut hi): (f64, f64),
) -> Option<(f64, f64)> {
    let at = |x: f64| {
        let mut e = env.clone();
        e.scalars.insert(s, x);
        margin(lhs, rhs, rel, &e).map(|m| (m, x))
    };
    let best =
        |xs: &mut dyn Iterator<Item = f64>| xs.filter_map(at).min_by(|a, b| a.0.total_cmp(&b.0));
    while hi - lo > GRID as f64 {
        let step = (hi - lo) / GRID as f64;
        let (_, x) = best(&mut (0..=GRID).map(|i| (lo + step * i as f64).round()))?;
        (lo, hi) = ((x - step).max(lo).floor(), (x + step).min(hi).ceil());
    }
    best(&mut (lo as i64..=hi as i64).map(|i| i as f64))
}

/// The least margin along `s` from `env` (its value and where): the grid's [`CELLS`] best
/// local minima, and the zeros of the sides' subterms along `s` (`features`: a narrow well
/// exp(−10¹⁰·(b − 0.7)²) sits where b − 0.7 vanishes, between grid points), each refined by
/// golden section in the cells around it.
fn minimise(
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    env: &Env,
    s: Symbol,
    (lo, hi): (f64, f64),
    features: &[f64],
) -> Option<(f64, f64)> {
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
    let starts = minima
        .into_iter()
        .chain(features.iter().filter_map(|x| at(*x).map(|y| (y, *x))));
    let mut found: Option<(f64, f64)> = None;
    for (y0, x0) in starts {
        let best = crate::numeric::features::golden_min(
            at,
            ((x0 - cell).max(lo), (x0 + cell).min(hi)),
            (y0, x0),
            REFINE,
        );
        if found.is_none_or(|f| best.0 < f.0) {
            found = Some(best);
        }
    }
    found
}

/// The zeros along `s` of the subterms of both sides that mention it, within `lo..hi`.
fn features(lhs: &Expr, rhs: &Expr, env: &Env, s: Symbol, (lo, hi): (f64, f64)) -> Vec<f64> {
    let mut out = vec![];
    for side in [lhs, rhs] {
        let root = crate::expr::binders::root(side);
        let ids = Evaluator::feature_subterms(side, root, |i| {
            crate::expr::binders::free_symbols(side, i).contains(&s)
        });
        let terms: Vec<Expr> = ids
            .iter()
            .map(|i| crate::expr::binders::subterm(side, *i))
            .collect();
        let index: Vec<egg::Id> = (0..terms.len()).map(egg::Id::from).collect();
        out.extend(crate::numeric::features::feature_cuts(
            &index,
            lo,
            hi,
            FEATURE_GRID,
            |id, x| {
                let mut e = env.clone();
                e.scalars.insert(s, x);
                Evaluator::new(&e)
                    .eval(&terms[usize::from(id)])
                    .ok()
                    .map(|v| v.value)
                    .filter(|v| v.is_finite())
            },
        ));
    }
    out
}

/// A point where the inequality `lhs rel rhs` fails beyond its tolerance, found by the search,
/// if any.
pub fn search(d: &Derivation, lhs: &Expr, rhs: &Expr, rel: Relation) -> Option<PointResult> {
    if rel == Relation::Eq {
        return None;
    }
    let used = used_symbols(&[lhs, rhs]);
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
            .map(|(s, kind)| env.scalars.get(s).and_then(|x| bracket(kind, *x)))
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
                let integer = matches!(kind, Kind::Size | Kind::Integer);
                let found = if integer {
                    minimise_integer(lhs, rhs, rel, &env, *s, range)
                } else {
                    let f = zeros[i].get_or_insert_with(|| features(lhs, rhs, &env, *s, range));
                    minimise(lhs, rhs, rel, &env, *s, range, f)
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
    let bits = crate::numeric::precise::BITS;
    let (l, r, mut cmp) = match crate::numeric::precise::compare_sides(lhs, rhs, env, bits) {
        Ok((l, r, c)) => crate::numeric::precise::as_point(&l, &r, &c),
        Err(_) => {
            let l = Evaluator::new(env).eval(lhs).ok()?;
            let r = Evaluator::new(env).eval(rhs).ok()?;
            let c: Comparison = compare(l, r, 1);
            (l, r, c)
        }
    };
    cmp.diff = rel.excess(l.value, r.value);
    (cmp.diff > cmp.tol && !cmp.statistical).then(|| PointResult::at(d, env, used, (l, r, cmp)))
}
