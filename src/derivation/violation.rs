//! A search for the point where a relation (an inequality, or an equality: its margin is
//! −|lhs − rhs|) fails, beyond the sampled points.
//!
//! Sampled points miss a violation confined to a narrow set: `(b − 0.3)² ≥ 10⁻⁸` fails only
//! for |b − 0.3| < 10⁻⁴. From each of the first [`STARTS`] sample points (one per activation
//! where the link uses the generic φ; for an inequality over seeded arrays, also the points with
//! structured entries, [`Structure`]), each start with a share of the budget, the margin
//! greater − lesser is minimised along each real symbol of the link in turn, for [`ROUNDS`]
//! rounds of coordinate descent (a joint violation in two symbols is reached): a grid of [`GRID`]
//! cells over a bracket (the declared interval; ×/÷ 10³ around the value for a positive symbol;
//! ±10·(|x| + 1) for a real one; 1 to 10⁶ or more for a size, on a logarithmic grid), then golden-section refinement
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

use crate::numeric::portable::Portable;
use egg::Symbol;
use std::collections::HashMap;

use super::check::PointResult;
use super::file::{Derivation, Kind, Relation};
use super::sample::{point_retry, used_symbols, MAX_SHRINK};
use crate::expr::Expr;
use crate::numeric::activation::Activation;
use crate::numeric::eval::{Env, Evaluator, Structure};
use crate::numeric::tolerance::{compare, Comparison};
use crate::precision::{ALIAS_POINT, CONSTANT_POINT, SEPARATE_POINT};

/// Sample points the search starts from (then the structured ones where seeded arrays occur:
/// [`ALIAS_POINT`], [`CONSTANT_POINT`], [`SEPARATE_POINT`], [`CENTRED_POINT`]).
pub const STARTS: usize = 4;
/// The random point (odd: unit entry scales) from which the search starts with each structure
/// of the entries ([`Structure`]).
pub const STRUCTURED_POINT: usize = 11;
/// Each start leaves every later one 1/32 of the search's budget at least, and each structured
/// start adds that much to it.
pub const START_SHARE: u64 = 32;
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

/// Lowers the search's budget to half of what is left, for as long as it lives.
struct HalfBudget(u64);

impl HalfBudget {
    fn new() -> Self {
        let saved = BUDGET.get();
        let spent = SPENT.get();
        BUDGET.set(spent + saved.saturating_sub(spent) / 2);
        HalfBudget(saved)
    }
}

impl Drop for HalfBudget {
    fn drop(&mut self) {
        BUDGET.set(self.0);
    }
}

/// How far a size is searched at least: 10⁶, the terms one evaluation may spend on a sum
/// ([`crate::numeric::eval::TERM_BUDGET`]). Its grid is logarithmic and visited from the small
/// sizes up, so the search's budget is spent on small sizes first.
pub const SIZE_REACH: f64 = 1e6;

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
    /// The first point of the running search where a jump's side was not known in f64 and ball
    /// arithmetic could not tell it either (sign(sin(πn/1000)) at n = 1000).
    static UNDECIDED: std::cell::RefCell<Option<Env>> = const { std::cell::RefCell::new(None) };
    /// The first point of the running search where a side has a value f64 cannot decide for
    /// another reason than a pointwise jump (a covariance degenerate only to rounding under a
    /// jump, every integrand node at a jump: gauss((8a − 5)², 0, 1; sign(u)²) at a = 5/8) and
    /// ball arithmetic could not evaluate it: the point and why.
    static UNDECIDED_POINT: std::cell::RefCell<Option<(Env, String)>> =
        const { std::cell::RefCell::new(None) };
    /// The running search is evaluating the zeros of the sides' subterms (where a variance, a
    /// coefficient or an argument vanishes): only there is an undecided value recorded in
    /// [`UNDECIDED_POINT`] (elsewhere f64 fails harmlessly: an overflow at 10¹⁵⁴, a Monte
    /// Carlo estimate at a degenerate magnitude).
    static AT_ZEROS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the running search found its violation.
    static FOUND_AT: std::cell::RefCell<Option<Env>> = const { std::cell::RefCell::new(None) };
    /// The running search stays within its brackets (no zeros or magnitudes beyond them).
    static NEAR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The running search's real symbols (not sizes, integers or indices): a point's value
    /// stands for the reals up to its neighbouring doubles ([`crate::numeric::precise::eval_widened`]).
    static REALS: std::cell::RefCell<Vec<Symbol>> = const { std::cell::RefCell::new(vec![]) };
}

/// Is a jump of `e` at `env` decided at the double but not for the reals beside it: its
/// argument's zero lies between neighbouring doubles (sign(3a − 1) at the double nearest 1/3,
/// where 3a − 1 = −5.6·10⁻¹⁷ exactly), so the jump itself is never evaluated?
fn jump_between_doubles(e: &Expr, env: &Env) -> bool {
    let reals = REALS.with(|r| r.borrow().clone());
    if reals.is_empty() {
        return false;
    }
    crate::numeric::precise::eval_widened(e, env, crate::numeric::precise::BITS, &reals)
        .is_err_and(|np| np.straddles)
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
    let jump = v
        .as_ref()
        .is_err_and(crate::numeric::eval::is_undecided_jump);
    // (Not for a side with an expectation: the search does not search Monte Carlo sides, and
    // an estimator that saw one value in every sample at a degenerate point is no evidence
    // either way there.)
    let undecided = match &v {
        Err(err @ crate::numeric::eval::EvalError::Undecided(_)) if !jump && !sampled(&[e]) => {
            Some(err.to_string())
        }
        _ => None,
    };
    let out = v.ok().or_else(|| {
        crate::numeric::precise::eval(e, env, crate::numeric::precise::BITS)
            .ok()
            .map(|p| crate::numeric::eval::Value::exact(p.to_f64()))
    });
    if jump && (out.is_none() || jump_between_doubles(e, env)) {
        UNDECIDED.with(|u| {
            u.borrow_mut().get_or_insert_with(|| env.clone());
        });
    }
    if let (Some(why), None, true) = (undecided, &out, AT_ZEROS.get()) {
        UNDECIDED_POINT.with(|u| {
            u.borrow_mut().get_or_insert_with(|| (env.clone(), why));
        });
    }
    out
}

/// The margin of the relation at `env`: greater − lesser (negative where it fails), if both
/// sides are finite there and not Monte Carlo estimates (see [`sampled`]).
fn margin(lhs: &Expr, rhs: &Expr, rel: Relation, env: &Env) -> Option<f64> {
    let l = evaluate(lhs, env)?;
    let r = evaluate(rhs, env)?;
    let estimated = l.stderr > 0.0 || r.stderr > 0.0;
    if (estimated && sampled(&[lhs, rhs])) || !l.value.is_finite() || !r.value.is_finite() {
        return None;
    }
    Some(match rel {
        Relation::Le | Relation::Lt => r.value - l.value,
        Relation::Ge | Relation::Gt => l.value - r.value,
        Relation::Eq => -(l.value - r.value).abs(),
    })
}

/// May the terms be estimated by Monte Carlo: do they hold an expectation `E[…]` (the only node
/// the evaluator may sample)? Elsewhere a side's error estimate (`stderr`) is that of a
/// deterministic scheme — Ridders' differences for a derivative forward mode declines (φ′ of
/// φ, a nested d/dt, a kink nearby) — the same at every evaluation, and a margin beyond it is
/// evidence like any other (φ″ ≤ 1 was `consistent`: the search skipped every such side).
pub fn sampled(terms: &[&Expr]) -> bool {
    use crate::expr::Math;
    terms
        .iter()
        .any(|t| t.as_ref().iter().any(|n| matches!(n, Math::Expect(_))))
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
        Kind::Interval(..) => kind.sampled_interval(),
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

/// What the search moves: a scalar symbol's value, or the magnitude of a deterministic array's,
/// vector's or matrix's seeded entries ([`Env::entry_scale`]; an entry is any real, and
/// `relu(x[1] − 10⁹)` is 0 at every sampled magnitude).
///
/// A single entry written with whole-number indices (x[2], W[1, 2]) moves on its own too: the
/// ratios of a seeded array's entries, which entries are 0 and the sign pattern are otherwise
/// fixed by the seed (|x₁| ≤ 1000·|x₂| fails at x₂ = 0 only).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Axis {
    Value(Symbol),
    Scale(Symbol),
    /// The entry `s[i]` (one index) or `s[i, j]` (two).
    Entry(Symbol, [i64; 2], usize),
    /// A slope of the generic φ where it stands for the two-slope activation
    /// neg·min(x, 0) + pos·max(x, 0) (only from that instance's start): 0 for neg, 1 for pos.
    /// φ is any function, so a bound a claim puts on it (φ′ ≤ 1.71, φ(a) ≥ −1 − 0.3|a|,
    /// E[φ′(u)] ≥ 0) is searched beyond the fixed instances.
    PhiSlope(usize),
    /// The constant added to φ (φ = gain·act + shift; from every start): φ(0) is any value.
    PhiShift,
    /// The factor of φ (from every start): 2·sin has φ″ = 2, beyond every fixed instance.
    PhiGain,
}

impl Axis {
    fn symbol(self) -> Symbol {
        match self {
            Axis::Value(s) | Axis::Scale(s) | Axis::Entry(s, ..) => s,
            Axis::PhiSlope(_) | Axis::PhiShift | Axis::PhiGain => Symbol::from("phi"),
        }
    }

    fn get(self, env: &Env) -> Option<f64> {
        match self {
            Axis::Value(s) => env.scalars.get(&s).copied(),
            Axis::Scale(s) => Some(env.entry_scale(s)),
            Axis::Entry(s, idx, n) => Some(env.seeded_entry(s, &idx[..n])),
            Axis::PhiShift => env.phi.map(|_| env.phi_shift),
            Axis::PhiGain => env.phi.map(|_| env.phi_gain.0),
            Axis::PhiSlope(i) => match env.phi {
                Some(Activation::LeakyRelu { neg, pos }) => Some([neg, pos][i]),
                _ => None,
            },
        }
    }

    fn set(self, env: &mut Env, x: f64) {
        match self {
            // (A size moves the declared shapes with it.)
            Axis::Value(s) => env.set_scalar(s, x),
            Axis::Scale(s) => {
                env.entry_scales.insert(s, x);
            }
            Axis::Entry(s, idx, n) => {
                env.entry_values
                    .retain(|(p, i, _)| !(*p == s && i[..] == idx[..n]));
                env.entry_values.push((s, idx[..n].to_vec(), x));
            }
            Axis::PhiShift => env.phi_shift = x,
            Axis::PhiGain => env.phi_gain.0 = x,
            Axis::PhiSlope(i) => {
                if let Some(Activation::LeakyRelu { neg, pos }) = &mut env.phi {
                    *[neg, pos][i] = x;
                }
            }
        }
    }
}

/// The axes along which the search moves, with the kind of values each takes, for the symbols in
/// `used`: each scalar symbol, and the magnitude of each seeded array, vector and matrix (any
/// real: a negative one reflects the entries, 0 makes them all 0).
fn axes(
    d: &Derivation,
    used: &[Symbol],
    terms: &[&Expr],
    first_entries: bool,
) -> Vec<(Axis, Kind)> {
    let seeded = |s: &Symbol| {
        d.symbols
            .iter()
            .any(|(x, k)| x == s && matches!(k, Kind::Array | Kind::Tensor(..)))
    };
    let mut out: Vec<(Axis, Kind)> = d
        .symbols
        .iter()
        .filter(|(s, _)| used.contains(s))
        .map(|(s, k)| match k {
            k if k.is_seeded() => (Axis::Scale(*s), Kind::Real),
            _ => (Axis::Value(*s), k.clone()),
        })
        .collect();
    // Entries with whole-number indices, each once, at most MAX_ENTRY_AXES.
    for t in terms {
        for node in t.as_ref() {
            let crate::expr::Math::Index(args) = node else {
                continue;
            };
            let Some(s) = t[args[0]]
                .symbol()
                .filter(|s| used.contains(s) && seeded(s))
            else {
                continue;
            };
            let idx: Option<Vec<i64>> = args[1..]
                .iter()
                .map(|a| match &t[*a] {
                    crate::expr::Math::Num(c) if c.0.is_integer() => {
                        num_traits::ToPrimitive::to_i64(&c.0.to_integer())
                    }
                    _ => None,
                })
                .collect();
            let Some(idx) = idx.filter(|i| !i.is_empty() && i.len() <= 2) else {
                continue;
            };
            let axis = Axis::Entry(s, [idx[0], *idx.get(1).unwrap_or(&0)], idx.len());
            push_entry(&mut out, axis);
        }
    }
    // For an inequality, the first entries of each array, vector and matrix written only
    // under sums (y[j] in Σⱼ j²·y[j]): a violation on a hyperplane of entries (y₁ + 4y₂ = 0) is a move of one
    // entry away from a generic point, which a magnitude never makes.
    for (s, kind) in d.symbols.iter().filter(|_| first_entries) {
        if !used.contains(s) || !seeded(s) && *kind != Kind::Matrix {
            continue;
        }
        let vector = match kind {
            Kind::Array => true,
            Kind::Tensor(_, cols) => matches!(
                cols.as_ref(),
                [crate::expr::Math::Num(c)] if num_traits::One::is_one(&c.0)
            ),
            _ => false,
        };
        let first: [Axis; 2] = if vector {
            [Axis::Entry(*s, [1, 0], 1), Axis::Entry(*s, [2, 0], 1)]
        } else {
            [Axis::Entry(*s, [1, 2], 2), Axis::Entry(*s, [2, 1], 2)]
        };
        for axis in first {
            push_entry(&mut out, axis);
        }
    }
    // The slopes of φ (they move only from a start whose φ has two slopes).
    if uses_phi(terms) {
        out.push((Axis::PhiSlope(0), Kind::Real));
        out.push((Axis::PhiSlope(1), Kind::Real));
        out.push((Axis::PhiShift, Kind::Real));
        out.push((Axis::PhiGain, Kind::Real));
    }
    out
}

/// Adds the entry axis once, while there are fewer than [`MAX_ENTRY_AXES`].
fn push_entry(out: &mut Vec<(Axis, Kind)>, axis: Axis) {
    let entries = out
        .iter()
        .filter(|(a, _)| matches!(a, Axis::Entry(..)))
        .count();
    if entries < MAX_ENTRY_AXES && !out.iter().any(|(a, _)| *a == axis) {
        out.push((axis, Kind::Real));
    }
}

/// Does a term use the generic φ (phi or dphi)?
fn uses_phi(terms: &[&Expr]) -> bool {
    terms.iter().any(|e| {
        e.as_ref()
            .iter()
            .any(|n| matches!(n, crate::expr::Math::Phi(_) | crate::expr::Math::DPhi(_)))
    })
}

/// The most single entries the search moves along (each an axis of its own).
pub const MAX_ENTRY_AXES: usize = 8;

/// Where [`features`] looks along an axis: the bracket the points are drawn from, the values
/// the axis may take, and whether they are integers.
#[derive(Debug, Clone, Copy)]
struct Reach {
    bracket: (f64, f64),
    domain: (f64, f64),
    integer: bool,
}

/// An axis the search moves along: its bracket, the zeros of the sides' subterms along it
/// ([`features`]) and the values it may take.
struct Along {
    axis: Axis,
    bracket: (f64, f64),
    zeros: Vec<f64>,
    domain: (f64, f64),
    /// The first grid is logarithmic (a size: 1 to 10⁶ on a linear grid of 64 would step over
    /// every size below 15,625).
    log: bool,
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
    let (axis, (lo, hi), features, domain) =
        (along.axis, along.bracket, &along.zeros[..], along.domain);
    let at = |x: f64| {
        let mut e = env.clone();
        axis.set(&mut e, x);
        margin(lhs, rhs, rel, &e).map(|m| (m, x))
    };
    let best =
        |xs: &mut dyn Iterator<Item = f64>| xs.filter_map(at).min_by(|a, b| a.0.total_cmp(&b.0));
    // The integers around the zeros of the subterms (relu(1 − (n − 100)²) is non-zero at
    // n = 100 only, which a zooming grid of ties does not find), first: the zoom may spend
    // the budget of a side that costs a quadrature or a long sum.
    let near = best(
        &mut features
            .iter()
            .flat_map(|z| [z.floor() - 1.0, z.floor(), z.ceil(), z.ceil() + 1.0])
            .chain(beyond(features, domain, true))
            .filter(|x| (domain.0..=domain.1).contains(x)),
    );
    // The best point of every grid so far: a zoom the budget cuts short keeps what the coarser
    // grids found (Σⱼ 1/j ≤ 10 fails at the log grid's n = 15,000; its zoom ran out of terms).
    let zoomed = {
        let (mut lo, mut hi) = (lo, hi);
        let mut found: Option<(f64, f64)> = None;
        let keep = |found: &mut Option<(f64, f64)>, b: (f64, f64)| {
            if found.is_none_or(|f| b.0 < f.0) {
                *found = Some(b);
            }
        };
        if along.log && lo >= 1.0 && hi / lo > GRID as f64 {
            let ratio = (hi / lo).ppowf(1.0 / GRID as f64);
            let xs: Vec<f64> = (0..=GRID)
                .map(|i| (lo * ratio.ppowf(i as f64)).round().min(hi))
                .collect();
            let b = best(&mut xs.iter().copied())?;
            keep(&mut found, b);
            let i = xs.iter().position(|v| *v == b.1).unwrap_or(0);
            (lo, hi) = (xs[i.saturating_sub(1)], xs[(i + 1).min(GRID)]);
        }
        while hi - lo > GRID as f64 {
            let step = (hi - lo) / GRID as f64;
            let Some(b) = best(&mut (0..=GRID).map(|i| (lo + step * i as f64).round())) else {
                break;
            };
            keep(&mut found, b);
            (lo, hi) = ((b.1 - step).max(lo).floor(), (b.1 + step).min(hi).ceil());
        }
        if hi - lo <= GRID as f64 {
            if let Some(b) = best(&mut (lo as i64..=hi as i64).map(|i| i as f64)) {
                keep(&mut found, b);
            }
        }
        found
    };
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
    let (axis, (lo, hi), features, domain) =
        (along.axis, along.bracket, &along.zeros[..], along.domain);
    let at = |x: f64| {
        let mut e = env.clone();
        axis.set(&mut e, x);
        margin(lhs, rhs, rel, &e)
    };
    // The zeros, and the midpoints between neighbouring zeros: between two zeros every jump of
    // the sides (step(a − 0.3) − step(a − 0.3 − 10⁻⁹)) stays on one side, so a midpoint meets
    // each pattern of sides, however narrow its interval. They are evaluated before the grid,
    // and every start before any is refined, the least refined first: a side that costs a
    // quadrature spends its budget on the grid and a few refinements, and the zero where the
    // claim fails (beside ∫ or gauss(…), exp(−10¹²·(a − 0.7)²)) was never evaluated.
    let mut zeros: Vec<f64> = features.to_vec();
    zeros.sort_by(f64::total_cmp);
    let midpoints: Vec<f64> = zeros
        .windows(2)
        .map(|w| w[0] + (w[1] - w[0]) / 2.0)
        .collect();
    let outside = beyond(&zeros, domain, false);
    // They are evaluated even where the budget is spent, within a reserve of their own
    // ([`ZERO_RESERVE`]): the diagonal points and the heavy terms' zero search spent the whole
    // budget of gauss(1, ρ, 1; …) on ρ in −1..1 (at ρ = ±1 each value costs the degenerate
    // law's checks), and the zero of ρ − 0.7 was found but never evaluated.
    let budget = BUDGET.get();
    BUDGET.set(budget.max(SPENT.get().saturating_add(ZERO_RESERVE)));
    AT_ZEROS.set(true);
    let mut starts: Vec<(f64, f64)> = zeros
        .iter()
        .filter_map(|x| at(*x).map(|y| (y, *x)))
        .collect();
    AT_ZEROS.set(false);
    starts.extend(
        midpoints
            .iter()
            .chain(&outside)
            .filter_map(|x| at(*x).map(|y| (y, *x))),
    );
    BUDGET.set(budget);
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
    starts.extend(minima);
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
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

/// The terms whose zeros along the symbol `s` are where the sides change character, the light
/// ones first: the subterms of both sides that mention `s` and no name bound inside them; a −
/// b for each δ(a, b) (δ is 1 where they coincide) and for each max(a, b) and min(a, b) (their
/// kink is where the arguments cross, the zero of no subterm: min(a, 10⁷) = a was
/// `consistent`); with `difference`, lhs − rhs itself. The second list holds the heavy terms:
/// the subterms of sums' bodies written out at the index's values ([`sum_body_terms`]: many),
/// and those
/// with a sum, an integral, an expectation or gauss(…) (Σⱼ xⱼ² − 10⁴, whose zero is where relu of it switches
/// on: each value of theirs costs the sum's terms or a quadrature); an expectation's value
/// counts where it is exact or a quadrature, not a Monte Carlo estimate ([`feature_value`]).
fn feature_terms(
    lhs: &Expr,
    rhs: &Expr,
    s: Symbol,
    env: &Env,
    difference: bool,
) -> (Vec<Expr>, Vec<Expr>) {
    use crate::expr::binders::{append, free_symbols, root};
    use crate::expr::Math;
    let (mut terms, mut summed): (Vec<Expr>, Vec<Expr>) = (vec![], vec![]);
    for side in [lhs, rhs] {
        let top = root(side);
        let free = free_symbols(side, top);
        // A subterm inside a binder that mentions its bound name has no value of its own.
        let mentions = |i| {
            let f = free_symbols(side, i);
            f.contains(&s) && f.is_subset(&free)
        };
        let ids = Evaluator::feature_subterms(side, top, true, mentions);
        terms.extend(with_crossings(side, &ids));
        terms.extend(integral_end_terms(side, s, &free));
        summed.extend(sum_body_terms(side, s, env, &free));
    }
    let (mut light, mut heavy): (Vec<Expr>, Vec<Expr>) = terms
        .into_iter()
        .partition(|t| !t.as_ref().iter().any(crate::numeric::eval::is_heavy));
    heavy.extend(summed);
    // A term that Monte Carlo estimates here gives no zeros (its noise changes sign near 0),
    // and each of its values would cost the samples: tried once, at the start.
    heavy.retain(|t| !sampled(&[t]) || evaluate(t, env).is_some_and(|v| v.stderr == 0.0));
    // With `difference`, the difference of the sides itself, first: an inequality whose margin
    // only shrinks toward the end of a domain (a² ≤ 10¹⁸, exp(a) ≤ 10³⁰⁰) fails beyond the
    // difference's zero, where no subterm changes sign.
    // (Among the heavy terms where a side is heavy: its 128-cell grid over a quadrature spent
    // the budget before the light subterms were evaluated, and the zero of ρ − 0.7 in
    // exp(−10⁶·(ρ − 0.7)²) beside gauss(1, ρ, 1; …) was never found.)
    if difference {
        let mut t = Expr::default();
        let (l, r) = (append(&mut t, lhs), append(&mut t, rhs));
        t.add(Math::Sub([l, r]));
        if t.as_ref().iter().any(crate::numeric::eval::is_heavy) {
            heavy.insert(0, t);
        } else {
            light.insert(0, t);
        }
    }
    (light, heavy)
}

/// The subterms `ids` of `side`, then a − b for each δ(a, b), max(a, b) and min(a, b) among
/// them: where the arguments cross, δ is 1 and max and min have their kink.
fn with_crossings(side: &Expr, ids: &[egg::Id]) -> Vec<Expr> {
    use crate::expr::binders::{append, subterm};
    use crate::expr::Math;
    let mut out: Vec<Expr> = ids.iter().map(|i| subterm(side, *i)).collect();
    for i in ids {
        if let Math::Delta([a, b]) | Math::Max([a, b]) | Math::Min([a, b]) = side[*i] {
            let mut t = Expr::default();
            let a = append(&mut t, &subterm(side, a));
            let b = append(&mut t, &subterm(side, b));
            t.add(Math::Sub([a, b]));
            out.push(t);
        }
    }
    out
}

/// The subterms of integrals' bodies that mention the integration variable (and no other bound
/// name), written at each end of the range that mentions `s`: d/dt ∫₀ᵗ (1 + exp(−10¹²·(r −
/// 0.3)²)) dr is 1 + exp(−10¹²·(t − 0.3)²), whose peak is at the zero of t − 0.3, a subterm of
/// no side (d/dt of that integral = 1 was `consistent`).
fn integral_end_terms(
    side: &Expr,
    s: Symbol,
    free: &std::collections::BTreeSet<Symbol>,
) -> Vec<Expr> {
    use crate::expr::binders::{free_symbols, substitute_values, subterm};
    use crate::expr::Math;
    let mut out = vec![];
    for node in side.as_ref() {
        let Math::Integral([v, lo, hi, body]) = node else {
            continue;
        };
        let Some(x) = side[*v].symbol() else { continue };
        let mentions = |i| {
            let f = free_symbols(side, i);
            f.contains(&x) && f.iter().all(|y| *y == x || free.contains(y))
        };
        let ids = Evaluator::feature_subterms(side, *body, true, mentions);
        if ids.is_empty() {
            continue;
        }
        let terms = with_crossings(side, &ids);
        for end in [*lo, *hi] {
            let f = free_symbols(side, end);
            if !f.contains(&s) || !f.is_subset(free) {
                continue;
            }
            let map = std::collections::BTreeMap::from([(x, subterm(side, end))]);
            for t in &terms {
                if let Ok((written, _)) = substitute_values(t, &map, 100_000) {
                    out.push(written);
                }
            }
        }
    }
    out
}

/// Most values of a sum's index at which [`sum_body_terms`] writes out its body's subterms: 16.
pub const SUM_FEATURE_VALUES: i64 = 16;

/// The subterms of the bodies of the sums in `side` that mention both the summed index and `s`
/// (and no other bound name), written out at the index's values at `env` (all of them for a
/// range of at most [`SUM_FEATURE_VALUES`], else that many spread over it, both ends
/// included), and a − b for each max, min and δ among them: Σₖ step(a − k/7) is a staircase
/// whose sum never changes sign, and its steps are the zeros of a − k/7 (a sum of steps
/// against the same steps shifted by 0.01 was `consistent`).
fn sum_body_terms(
    side: &Expr,
    s: Symbol,
    env: &Env,
    free: &std::collections::BTreeSet<Symbol>,
) -> Vec<Expr> {
    use crate::expr::binders::{free_symbols, substitute_values, subterm};
    use crate::expr::{Constant, Math};
    let mut out = vec![];
    for node in side.as_ref() {
        let Math::Sum([v, lo, hi, body]) = node else {
            continue;
        };
        let Some(k) = side[*v].symbol() else { continue };
        let end = |id: egg::Id| {
            let f = free_symbols(side, id);
            if !f.is_subset(free) {
                return None;
            }
            Evaluator::new(env)
                .eval(&subterm(side, id))
                .ok()
                .map(|v| v.value)
                .filter(|v| v.is_finite() && v.fract() == 0.0)
                .map(|v| v as i64)
        };
        let (Some(lo), Some(hi)) = (end(*lo), end(*hi)) else {
            continue;
        };
        if hi < lo {
            continue;
        }
        let count = (hi - lo + 1).min(SUM_FEATURE_VALUES);
        let values: Vec<i64> = (0..count)
            .map(|j| {
                if count == 1 {
                    lo
                } else {
                    lo + ((hi - lo) as i128 * j as i128 / (count - 1) as i128) as i64
                }
            })
            .collect();
        let mentions = |i| {
            let f = free_symbols(side, i);
            f.contains(&s) && f.contains(&k) && f.iter().all(|x| *x == k || free.contains(x))
        };
        let ids = Evaluator::feature_subterms(side, *body, true, mentions);
        for t in &with_crossings(side, &ids) {
            for value in &values {
                let mut c = Expr::default();
                c.add(Math::Num(Constant(
                    num_rational::BigRational::from_integer((*value).into()),
                )));
                let map = std::collections::BTreeMap::from([(k, c)]);
                if let Ok((written, _)) = substitute_values(t, &map, 100_000) {
                    out.push(written);
                }
            }
        }
    }
    out
}

/// The zeros along `s` of the terms of [`feature_terms`], within `lo..hi` and, decade by
/// decade, beyond it up to ±[`FAR`] within the symbol's domain `(dlo, dhi)` (relu(n − 10⁸) is 0
/// up to n = 10⁸, far beyond the bracket around a sampled width). The heavy terms are searched
/// last, with at most half of the budget left.
fn features(
    lhs: &Expr,
    rhs: &Expr,
    env: &Env,
    axis: Axis,
    reach: Reach,
    difference: bool,
) -> Vec<f64> {
    let (light, heavy) = feature_terms(lhs, rhs, axis.symbol(), env, difference);
    let mut out = zeros_along(&light, env, axis, reach, FEATURE_GRID);
    // Not for a study's widest gap (within the brackets, on sides that are means already).
    if !heavy.is_empty() && !NEAR.get() {
        let _half = HalfBudget::new();
        out.extend(zeros_along(&heavy, env, axis, reach, HEAVY_GRID));
    }
    out
}

/// Cells of the grids on which [`features`] looks for the heavy terms' zeros: 16 (each value a
/// sum or a quadrature; at 128 cells the decades beyond the bracket spent the budget before
/// relu(a·gauss(1, 0, 1; u²) − 10⁸) was reached).
pub const HEAVY_GRID: usize = 16;

/// The value of a feature term at `env` for the zero search: finite or infinite with a sign,
/// and not a Monte Carlo estimate (whose noise changes sign where the term is near 0).
fn feature_value(t: &Expr, env: &Env) -> Option<f64> {
    evaluate(t, env)
        .filter(|v| v.stderr == 0.0 || !sampled(&[t]))
        .map(|v| v.value)
        .filter(|v| !v.is_nan())
}

/// The zeros of `terms` along `axis` from `env` on grids of `cells` cells (see [`features`]).
/// The point moved along an axis, one copy per place: the grid's subterms are evaluated one
/// after another at the same nodes (a copy per subterm and node cost most of the search on
/// `gradients`: every move of a size re-evaluates the declared shapes).
struct Moved<'e> {
    base: &'e Env,
    axis: Axis,
    at: HashMap<u64, Env>,
}

impl<'e> Moved<'e> {
    /// Places kept at most (a grid's nodes and its refinements fit).
    const KEPT: usize = 4096;

    fn new(base: &'e Env, axis: Axis) -> Moved<'e> {
        Moved {
            base,
            axis,
            at: HashMap::new(),
        }
    }

    /// The point with the axis at `x`.
    fn at(&mut self, x: f64) -> &Env {
        if self.at.len() >= Self::KEPT && !self.at.contains_key(&x.to_bits()) {
            self.at.clear();
        }
        let (base, axis) = (self.base, self.axis);
        self.at.entry(x.to_bits()).or_insert_with(|| {
            let mut e = base.clone();
            axis.set(&mut e, x);
            e
        })
    }
}

fn zeros_along(terms: &[Expr], env: &Env, axis: Axis, reach: Reach, cells: usize) -> Vec<f64> {
    let Reach {
        bracket: (lo, hi),
        domain: (dlo, dhi),
        integer,
    } = reach;
    let index: Vec<egg::Id> = (0..terms.len()).map(egg::Id::from).collect();
    let cuts = |(a, b): (f64, f64)| {
        let mut moved = Moved::new(env, axis);
        crate::numeric::features::feature_cuts(&index, a, b, cells, |id, x| {
            feature_value(&terms[usize::from(id)], moved.at(x))
        })
    };
    let mut out = cuts((lo, hi));
    if NEAR.get() {
        out.retain(|z| (dlo..=dhi).contains(z));
        return out;
    }
    // About decades beyond the bracket, each its own grid (one linear grid over 10⁴..10¹⁵
    // would put every zero below 10¹³ in its first cell); their ends ([`WIDEN`]) stay off round
    // numbers, where a zero on a grid's end would be seen by neither grid.
    // Each grid starts a little inside the one before (`SEAM`): a zero on the node where two
    // grids meet is an end of both, and a grid sees sign changes inside it only (n − 10¹⁵ sat
    // on the seam at FAR and was seen by neither).
    let mut edge = hi.max(1.0);
    while edge < FAR.min(dhi) {
        let next = (edge * WIDEN).min(dhi).min(FAR);
        out.extend(cuts((edge * SEAM, next)));
        edge = next;
    }
    let mut edge = lo.min(-1.0);
    while edge > (-FAR).max(dlo) {
        let next = (edge * WIDEN).max(dlo).max(-FAR);
        out.extend(cuts((next, edge * SEAM)));
        edge = next;
    }
    // The magnitudes the linear grids cannot resolve, log-spaced, on each side of 0 within the
    // domain: below 1 down to 10⁻³⁰⁰ (1/a² ≤ 10²⁴ fails below 10⁻¹²) and beyond FAR up to 10³⁰⁰
    // (a² ≤ 10⁴⁰ fails beyond 10²⁰).
    let whole = |x: f64| if integer { x.round() } else { x };
    let log_cuts = |sign: f64, (mlo, mhi): (f64, f64)| -> Vec<f64> {
        let (mlo, mhi) = (mlo.max(TINY), mhi.min(1.0 / TINY));
        if mlo >= mhi || mlo.is_nan() || mhi.is_nan() {
            return vec![];
        }
        let (tlo, thi) = (mlo.plog10(), mhi.plog10());
        let mut moved = Moved::new(env, axis);
        crate::numeric::features::feature_cuts(
            &index,
            tlo,
            thi,
            ((thi - tlo) / DECADES_PER_CELL).ceil().max(1.0) as usize,
            |id, t| {
                let e = moved.at(whole(sign * 10f64.ppowf(t)));
                feature_value(&terms[usize::from(id)], e)
            },
        )
        .into_iter()
        .map(|t| whole(sign * 10f64.ppowf(t)))
        .collect()
    };
    // (Integers have no magnitudes below 1 but 0; beyond FAR they are whole doubles, exact
    // to 2⁵³ ≈ 9·10¹⁵ and integers beyond.)
    let magnitudes: &[(f64, f64)] = if integer {
        &[(FAR * SEAM, f64::INFINITY)]
    } else {
        &[(0.0, 1.0), (FAR * SEAM, f64::INFINITY)]
    };
    for &(mlo, mhi) in magnitudes {
        out.extend(log_cuts(1.0, (dlo.max(mlo), dhi.min(mhi))));
        out.extend(log_cuts(-1.0, ((-dhi).max(mlo), (-dlo).min(mhi))));
    }
    // All entries 0, or this one: the degenerate array, vector or matrix (norm(x) > 0 fails
    // there only), or entry.
    if matches!(axis, Axis::Scale(_) | Axis::Entry(..)) {
        out.push(0.0);
    }
    out.retain(|z| (dlo..=dhi).contains(z));
    out
}

/// Where a grid of [`features`] starts, as a fraction of the end of the grid before it: 0.99,
/// so that the node two grids would share lies inside the later one.
pub const SEAM: f64 = 0.99;

/// The least magnitude the log-spaced grid of [`features`] reaches (its greatest is the
/// inverse): 10⁻³⁰⁰, near the ends of f64's normal range.
pub const TINY: f64 = 1e-300;

/// The width of a cell of the log-spaced grids of [`features`]: 3 decades (100 cells from 10⁻³⁰⁰
/// to 1, 95 from 10¹⁵ to 10³⁰⁰).
pub const DECADES_PER_CELL: f64 = 3.0;

/// The factor from one grid beyond the bracket to the next: about a decade, 10^(1 − (2 − φ)/10)
/// ≈ 9.158, whose powers times a round bracket end are never round.
pub const WIDEN: f64 = 9.158_058_193_831_865;

/// How far beyond its bracket the subterms' zeros along a symbol are looked for: ±10¹⁵ (f64
/// integers are exact to 2⁵³ ≈ 9·10¹⁵).
pub const FAR: f64 = 1e15;

/// The values a symbol of kind `kind` may take (for an index: its bracket).
fn domain(kind: &Kind, bracket: (f64, f64)) -> (f64, f64) {
    match kind {
        Kind::Interval(..) => kind.sampled_interval().unwrap_or(bracket),
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

/// A point where the sides differ most, as far as a search within the brackets reaches, with
/// `fixed` held at `value` (set to `value` in the point returned), if the sides differ beyond
/// their tolerance there. An order study adds it to its points: an error term on a narrow band
/// of another symbol (t·e^(−10⁶(a − 0.3)² − 1) beside an O(t²) error), written with no subterm
/// that vanishes there, is met neither by random points nor by [`feature_points`]. The search
/// stays within the brackets of the sampled values (no magnitudes beyond them): far out, the
/// difference is largest where the study is not yet asymptotic (e^(−kt) ≈ 1 − kt at k = 10¹²).
pub fn widest_gap(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    fixed: Symbol,
    value: f64,
) -> Option<Env> {
    use crate::expr::{Constant, Math};
    let q = num_rational::BigRational::from_float(value)?;
    let mut c = Expr::default();
    c.add(Math::Num(Constant(q)));
    let values = std::collections::BTreeMap::from([(fixed, c)]);
    let at = |e: &Expr| {
        crate::expr::binders::substitute_values(e, &values, 100_000)
            .ok()
            .map(|(e, _)| e)
    };
    let (l, r) = (at(lhs)?, at(rhs)?);
    FOUND_AT.with(|f| f.borrow_mut().take());
    NEAR.set(true);
    let found = search_all(d, &l, &r, Relation::Eq).found;
    NEAR.set(false);
    found?;
    let mut env = FOUND_AT.with(|f| f.borrow_mut().take())?;
    env.set_scalar(fixed, value);
    Some(env)
}

/// The zeros of the sides' subterms along the studied parameter `symbol` (of declared `kind`)
/// at `base`, over its whole domain (log-spaced down to 10⁻³⁰⁰ and up to 10³⁰⁰): an order study
/// that stops before such a zero (step(n − 10¹⁵), step(10⁻²⁰ − |t|)) has not seen the sides as
/// they are nearer the limit.
pub fn parameter_zeros(
    lhs: &Expr,
    rhs: &Expr,
    base: &Env,
    symbol: Symbol,
    kind: &Kind,
    studied: (f64, f64),
) -> Vec<f64> {
    SPENT.set(0);
    BUDGET.set(SEARCH_TERMS);
    let reach = Reach {
        bracket: studied,
        domain: domain(kind, studied),
        integer: matches!(kind, Kind::Size | Kind::Integer),
    };
    let zeros = features(lhs, rhs, base, Axis::Value(symbol), reach, false);
    // Only a sign change counts: a term that underflows to 0 (1/n² beyond 10¹⁵⁴) or overflows
    // is rounding, not a change of the sides.
    let (mut terms, heavy) = feature_terms(lhs, rhs, symbol, base, false);
    terms.extend(heavy);
    let at = |t: &Expr, x: f64| {
        let mut e = base.clone();
        e.set_scalar(symbol, x);
        evaluate(t, &e)
            .map(|v| v.value)
            .filter(|v| v.is_finite() && *v != 0.0)
    };
    // A term that already changes sign within the studied range (sin(log t), five periods
    // between 0.1 and 10⁻¹⁶) is seen doing so; one of constant sign there that changes beyond
    // it is not.
    let (lo, hi) = (
        studied.0.abs().min(studied.1.abs()),
        studied.0.abs().max(studied.1.abs()),
    );
    let sign = studied.0.signum();
    let steady = |t: &Expr| {
        let (llo, lhi) = (lo.plog10(), hi.plog10());
        let mut signs = (0..=STEADY_SAMPLES).filter_map(|k| {
            let x = sign * 10f64.ppowf(llo + (lhi - llo) * k as f64 / STEADY_SAMPLES as f64);
            at(t, x).map(f64::signum)
        });
        let first = signs.next();
        signs.all(|s| Some(s) == first)
    };
    zeros
        .into_iter()
        .filter(|z| {
            let (a, b) = (z - 1e-9 * z.abs(), z + 1e-9 * z.abs());
            terms.iter().any(|t| match (at(t, a), at(t, b)) {
                (Some(x), Some(y)) => x.signum() != y.signum() && steady(t),
                _ => false,
            })
        })
        .collect()
}

/// How many log-spaced points [`parameter_zeros`] tells from whether a term keeps its sign over
/// the studied range: 64.
const STEADY_SAMPLES: usize = 64;

/// How many points [`feature_points`] gives at most.
pub const FEATURE_POINTS: usize = 6;

/// Points where the sides change character along a symbol other than `fixed` (an order or
/// width study's parameter), in the regions the `bases` (the study's sample points) leave
/// unvisited: along each other searchable axis, the zeros of the sides' subterms (beyond the
/// bracket too, up to ±[`FAR`]) cut the axis into regions where each subterm keeps its sign;
/// from `bases[0]`, the axis is moved just past and well past the outermost zeros, to each zero
/// (its own region) and to the midpoint between neighbouring zeros, wherever no base lies in the
/// same region, at most
/// [`FEATURE_POINTS`] in all. A study run only at random points misses an error term that a factor
/// such as relu(a − 10⁸) switches on far from them, or relu(1 − (a − 3)²) on a band between them.
pub fn feature_points(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    fixed: Symbol,
    bases: &[Env],
) -> Vec<Env> {
    SPENT.set(0);
    BUDGET.set(SEARCH_TERMS);
    let Some(base) = bases.first() else {
        return vec![];
    };
    let used = used_symbols(&[lhs, rhs]);
    let mut out = vec![];
    for (axis, kind) in axes(d, &used, &[lhs, rhs], false)
        .into_iter()
        .filter(|(a, _)| *a != Axis::Value(fixed))
    {
        let Some(range) = axis.get(base).and_then(|x| bracket(&kind, x, base)) else {
            continue;
        };
        let integer = matches!(kind, Kind::Size | Kind::Integer | Kind::Index(..));
        let dom = domain(&kind, range);
        let reach = Reach {
            bracket: range,
            domain: dom,
            integer,
        };
        let mut zeros = features(lhs, rhs, base, axis, reach, false);
        // The entries are drawn symmetric about 0: a magnitude and its negative are the same
        // draw reflected, so the regions of a magnitude are those of its absolute value.
        let fold = |x: f64| match axis {
            Axis::Scale(_) => x.abs(),
            Axis::Value(_)
            | Axis::Entry(..)
            | Axis::PhiSlope(_)
            | Axis::PhiShift
            | Axis::PhiGain => x,
        };
        for z in &mut zeros {
            *z = fold(*z);
        }
        zeros.sort_by(f64::total_cmp);
        zeros.dedup();
        // The region of x: how many zeros lie below it (a zero itself is its own region).
        let region = |x: f64| {
            let below = zeros.iter().filter(|z| **z < x).count();
            if zeros.contains(&x) {
                2 * below + 1
            } else {
                2 * below
            }
        };
        let mut visited: Vec<usize> = bases
            .iter()
            .filter_map(|b| axis.get(b))
            .map(|x| region(fold(x)))
            .collect();
        let midpoints = zeros.windows(2).map(|w| {
            let m = w[0] + (w[1] - w[0]) / 2.0;
            if integer {
                m.round()
            } else {
                m
            }
        });
        // The zeros themselves last, each its own region: a narrow term sits at the zero of its
        // argument (a limit off by exp(−10¹²·(a − 0.7)² − 1) at a = 0.7 only); a jump's zero is
        // no point to study at, and the regions between come first.
        let at_zeros = zeros
            .clone()
            .into_iter()
            .map(|z| if integer { z.round() } else { z });
        let candidates: Vec<f64> = beyond(&zeros, dom, integer)
            .into_iter()
            .chain(midpoints)
            .chain(at_zeros)
            .map(fold)
            .filter(|x| (dom.0..=dom.1).contains(x))
            .collect();
        for x in candidates {
            if out.len() >= FEATURE_POINTS {
                return out;
            }
            let r = region(x);
            if visited.contains(&r) {
                continue;
            }
            visited.push(r);
            let mut env = base.clone();
            axis.set(&mut env, x);
            out.push(env);
        }
    }
    out
}

/// A point where the relation `lhs rel rhs` fails beyond its tolerance, found by the search,
/// if any.
pub fn search(d: &Derivation, lhs: &Expr, rhs: &Expr, rel: Relation) -> Option<PointResult> {
    search_all(d, lhs, rhs, rel).found
}

/// What the search of the prover's residual lhs − rhs against 0 found ([`search_residual`]).
pub enum ResidualFound {
    /// The sides, compared in ball arithmetic where the residual is not 0, violate the relation.
    Violation(PointResult),
    /// The residual is not 0 there, but the sides agree within their tolerance.
    Hidden(PointResult),
}

/// The prover's normal form of lhs − rhs (`residual`) searched against 0 like a link's sides:
/// sides that share a part f64 cannot resolve beside their difference are the same double
/// everywhere (10²⁰ + step(a − 10⁷) and 10²⁰), while the residual step(a − 10⁷) is 1 past 10⁷.
/// Where the residual is not 0 the sides are compared there in ball arithmetic, which holds
/// 10²⁰ + 1.
pub fn search_residual(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    residual: &Expr,
    rel: Relation,
) -> Option<ResidualFound> {
    let zero: Expr = "0".parse().expect("a number");
    FOUND_AT.with(|f| f.borrow_mut().take());
    let p = search(d, residual, &zero, rel)?;
    if let Some(env) = FOUND_AT.with(|f| f.borrow_mut().take()) {
        let used = used_symbols(&[lhs, rhs]);
        if let Some(v) = violated(d, lhs, rhs, rel, &env, &used) {
            return Some(ResidualFound::Violation(v));
        }
    }
    Some(ResidualFound::Hidden(p))
}

/// Is the strict relation undecided at `env`: the sides equal within f64's rounding there
/// (sin²(πn/1000) > 0 at n = 1000, where f64 gives 1.5e-32 for the exact 0)?
/// Ball arithmetic decides where it can (exp(−a²) at a = 40 is e^(−1600), not f64's 0).
fn undecided_strict(lhs: &Expr, rhs: &Expr, env: &Env) -> bool {
    let bits = crate::numeric::precise::BITS;
    // The reals between the point's neighbouring doubles count: (3a − 1)² > 0 at the double
    // nearest 1/3 holds by 3·10⁻³³, and fails at 1/3.
    let reals = REALS.with(|r| r.borrow().clone());
    let cmp = match crate::numeric::precise::compare_sides_widened(lhs, rhs, env, bits, &reals) {
        Ok((l, r, c)) => crate::numeric::precise::as_point(&l, &r, &c).2,
        Err(_) => {
            let (Ok(l), Ok(r)) = (Evaluator::new(env).eval(lhs), Evaluator::new(env).eval(rhs))
            else {
                return false;
            };
            // Beyond f64's range (as for a violation): not a rounding question.
            if super::check::underflow_zone(l, r).is_some() {
                return false;
            }
            compare(l, r, 1)
        }
    };
    // The signed difference (exact in ball arithmetic), not the f64 images: acos(−1) and
    // 3.1415926535897932385 both round to π's double, and differ by 4·10⁻²⁰.
    !cmp.statistical && cmp.tol > 0.0 && cmp.signed.abs() <= cmp.tol
}

/// What [`search_all`] found.
pub struct Searched {
    /// A violation.
    pub found: Option<PointResult>,
    /// Where none was found, for a strict relation (`<`, `>`): the first point reached where
    /// the sides are equal within rounding (described).
    pub strict: Option<String>,
    /// Where none was found: the first point reached where a jump's side is known neither in
    /// f64 nor in ball arithmetic (described; sign(sin(πn/1000))² = 1 fails at n = 1000).
    pub jump: Option<String>,
    /// Where none was found: the first point reached where a side has a value that f64 cannot
    /// decide for another reason, and ball arithmetic could not evaluate it (described, why).
    pub point: Option<(String, String)>,
}

/// [`search`], and where it finds no violation, the first points it reached where a number
/// cannot decide the relation ([`Searched`]): the link is then not `consistent`.
pub fn search_all(d: &Derivation, lhs: &Expr, rhs: &Expr, rel: Relation) -> Searched {
    let mut strict = None;
    UNDECIDED.with(|u| u.borrow_mut().take());
    UNDECIDED_POINT.with(|u| u.borrow_mut().take());
    let found = search_inner(d, lhs, rhs, rel, &mut strict);
    let jump = UNDECIDED.with(|u| u.borrow_mut().take());
    let point = UNDECIDED_POINT.with(|u| u.borrow_mut().take());
    if found.is_some() {
        return Searched {
            found,
            strict: None,
            jump: None,
            point: None,
        };
    }
    let used = used_symbols(&[lhs, rhs]);
    Searched {
        found,
        strict,
        jump: jump.map(|env| super::sample::describe(d, &env, Some(&used))),
        point: point.map(|(env, why)| (super::sample::describe(d, &env, Some(&used)), why)),
    }
}

fn search_inner(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    undecided: &mut Option<String>,
) -> Option<PointResult> {
    SPENT.set(0);
    // φ adds four axes (two slopes, a shift and a gain) to every start: twice the budget.
    BUDGET.set(
        if pointwise(&[lhs, rhs]) {
            SEARCH_TERMS
        } else {
            SEARCH_WORK_HEAVY
        } * if uses_phi(&[lhs, rhs]) { 2 } else { 1 },
    );
    // A side estimated by Monte Carlo at the first point is not searched.
    let first = point_retry(d, 0, 0);
    if sampled(&[lhs, rhs])
        && [lhs, rhs]
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
    // Sizes last: a sum's cost grows with them, and a search along a size may spend the
    // budget before the other axes are reached.
    // Single entries first: a magnitude moved to 0 first makes every entry 0, where a
    // homogeneous claim holds with equality and no single entry leads away (|x₁ + x₂| ≥
    // 10⁻²·(|x₁| + |x₂|) was `consistent`).
    let inequality = rel != Relation::Eq;
    // φ's slopes, shift and gain before everything: a claim true of the activations φ is
    // evaluated as and false of φ in general fails by a move of φ alone, and a side that costs a
    // quadrature spent the budget along a real symbol first (gauss(1, 0.5, 1; φ(u)φ(v)) ≤ 1.5
    // + a² was `consistent`, and refuted without the a²; attack 48).
    let mut kinds = axes(d, &used, &[lhs, rhs], inequality);
    kinds.sort_by_key(|(a, k)| match (a, k) {
        (Axis::PhiSlope(_) | Axis::PhiShift | Axis::PhiGain, _) => 0,
        (Axis::Entry(..), _) => 1,
        (_, Kind::Size) => 3,
        _ => 2,
    });
    REALS.with(|r| {
        *r.borrow_mut() = d
            .symbols
            .iter()
            .filter(|(s, k)| {
                used.contains(s) && matches!(k, Kind::Real | Kind::Positive | Kind::Interval(..))
            })
            .map(|(s, _)| *s)
            .collect()
    });
    // Where φ occurs, the lattice and the diagonal points have half the budget at most: the
    // starts that move φ must be left some (four diagonal points of a quadrature over φ(u)φ(v)
    // spent all of it, and no move of φ was tried; attack 48).
    let phi_first = uses_phi(&[lhs, rhs]).then(HalfBudget::new);
    if let Some(p) = exponent_lattice(d, lhs, rhs, rel, &used) {
        return Some(p);
    }
    // The diagonal points: every scalar symbol at the same edge value (all 0, all 1, all −1).
    // The sampled edge points stagger the symbols' values and the box search covers three
    // symbols, so a claim that fails only where four or more are equal ((a − b)² + (b − c)² +
    // (c − e)² > 0) was `consistent`.
    for j in 0..4 {
        let mut env = point_retry(d, 0, 0);
        for (s, kind) in &d.symbols {
            let scalar = matches!(
                kind,
                Kind::Real | Kind::Positive | Kind::Integer | Kind::Interval(..)
            );
            if scalar && used.contains(s) {
                if let Some(v) = super::sample::edge(kind, j) {
                    env.scalars.insert(*s, v);
                }
            }
        }
        let strict = matches!(rel, Relation::Lt | Relation::Gt);
        if margin(lhs, rhs, rel, &env).is_some_and(|m| m < 0.0 || m == 0.0 && strict) {
            if let Some(p) = violated(d, lhs, rhs, rel, &env, &used) {
                FOUND_AT.with(|f| *f.borrow_mut() = Some(env.clone()));
                return Some(p);
            }
        }
    }
    drop(phi_first);
    // Where the generic φ occurs, a start for each activation it stands for (the point k takes
    // the k-th): a violation only one of them shows (φ(a)² ≤ a² + 1 fails for slopes above 1)
    // is not reached from a start whose φ satisfies the claim everywhere. The start whose φ has
    // two slopes goes first: the search moves them too ([`Axis::PhiSlope`]), and a search through
    // expectations may spend its budget before a last start.
    let starts: Vec<usize> = if uses_phi(&[lhs, rhs]) {
        let n = super::sample::PHI.len();
        let two_slopes = (0..n)
            .find(|k| matches!(super::sample::PHI[*k], Activation::LeakyRelu { .. }))
            .unwrap_or(0);
        std::iter::once(two_slopes)
            .chain((0..STARTS.max(n)).filter(|k| *k != two_slopes))
            .collect()
    } else {
        (0..STARTS).collect()
    };
    // Then the sample points with structure between seeded entries (parallel, constant,
    // separated) and the structures of [`Structure`] (centred, antisymmetric, nilpotent, the
    // identity, arithmetic progressions): a violation that needs related entries (y = −x,
    // x = 2y, Σⱼ xⱼ = 0, A + Aᵀ = 0, A² = 0, Q = I) is a move of one magnitude away from them.
    // (For inequalities: an identity that holds at generic entries and fails only on such a
    // set is rare, and each start costs an equality's search as much as an inequality's.)
    let seeded = inequality
        && d.symbols
            .iter()
            .any(|(s, k)| k.is_seeded() && used.contains(s));
    let structured: &[(usize, Structure)] = if seeded {
        &[
            (ALIAS_POINT, Structure::Seeded),
            (CONSTANT_POINT, Structure::Seeded),
            (SEPARATE_POINT, Structure::Seeded),
            (STRUCTURED_POINT, Structure::Centred),
            (STRUCTURED_POINT, Structure::Antisymmetric),
            (STRUCTURED_POINT, Structure::Nilpotent),
            (STRUCTURED_POINT, Structure::Identity),
            (STRUCTURED_POINT, Structure::Linear),
        ]
    } else {
        &[]
    };
    let starts: Vec<(usize, Structure)> = starts
        .into_iter()
        .map(|k| (k, Structure::Seeded))
        .chain(structured.iter().copied())
        .collect();
    BUDGET.set(BUDGET.get() + structured.len() as u64 * BUDGET.get() / START_SHARE);
    let total = BUDGET.get();
    for (i, &(k, structure)) in starts.iter().enumerate() {
        // Each start leaves the ones after it a share of the budget at least (a size's grid
        // from the first start spent all of it, and the others evaluated nothing).
        // (One evaluation may overrun a start's limit: each start has a share beyond what was
        // spent when it begins.)
        let (later, share, spent) = (
            (starts.len() - i - 1) as u64,
            total / START_SHARE,
            SPENT.get(),
        );
        BUDGET.set(spent + share.max(total.saturating_sub(spent + later * share)));
        // A start whose sizes put the sides beyond the budget moves its sizes down (as the
        // sampled points are retried): an n × n double sum at n = 2500 evaluated nothing. A
        // structured start is about its entries' structure, not its sizes: it starts small
        // (sizes up to 50), where its share of the budget goes furthest.
        let at = |retry: u32| {
            let mut env = point_retry(d, k, retry);
            env.structure = structure;
            env
        };
        let first = if i < starts.len() - structured.len() {
            0
        } else {
            MAX_SHRINK - 1
        };
        let mut env = (first..=MAX_SHRINK)
            .map(at)
            .find(|env| margin(lhs, rhs, rel, env).is_some())
            .unwrap_or_else(|| at(0));
        // Coordinate descent: each symbol in turn moves to where the margin is least, for
        // [`ROUNDS`] rounds, so that a violation at a point in several symbols jointly
        // ((a − 0.3)² + (b − 0.7)² ≥ 10⁻⁸) is reached.
        let brackets: Vec<Option<(f64, f64)>> = kinds
            .iter()
            .map(|(a, kind)| a.get(&env).and_then(|x| bracket(kind, x, &env)))
            .collect();
        let mut current = margin(lhs, rhs, rel, &env);
        // The subterms' zeros along each symbol, found in the first round (from the start).
        let mut zeros: Vec<Option<Vec<f64>>> = vec![None; kinds.len()];
        for _ in 0..ROUNDS {
            let mut moved = false;
            for (i, ((axis, kind), range)) in kinds.iter().zip(&brackets).enumerate() {
                let Some(range) = *range else {
                    continue;
                };
                let integer = matches!(kind, Kind::Size | Kind::Integer | Kind::Index(..));
                // An index moves within its range at the current point (its bounds may have
                // moved with a size).
                let range = match kind {
                    Kind::Index(..) => match axis.get(&env).and_then(|x| bracket(kind, x, &env)) {
                        Some(r) => r,
                        None => continue,
                    },
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
                let f = zeros[i].get_or_insert_with(|| {
                    // At most half of what is left: the grid along the axis needs the rest (the
                    // features' grids over sizes up to FAR spent all of it on Σⱼ 1/j).
                    let _half = HalfBudget::new();
                    features(
                        lhs,
                        rhs,
                        &env,
                        *axis,
                        Reach {
                            bracket: range,
                            domain: dom,
                            integer,
                        },
                        rel != Relation::Eq,
                    )
                });
                let (range, dom) = match (raises, f.iter().copied().reduce(f64::max)) {
                    (Some(m), Some(z)) if z + 1.0 > range.1 => {
                        let top = (z + 1.0).ceil();
                        env.set_scalar(m, top);
                        current = margin(lhs, rhs, rel, &env);
                        ((range.0, top), (range.0, top))
                    }
                    _ => (range, domain(kind, range)),
                };
                // A size's own grid reaches on to SIZE_REACH (its features' grids stay in the
                // bracket: 128 sums of 10⁶ terms would spend the budget before the grid).
                let along = Along {
                    axis: *axis,
                    bracket: match kind {
                        Kind::Size => (range.0, range.1.max(SIZE_REACH)),
                        _ => range,
                    },
                    zeros: f.clone(),
                    domain: dom,
                    log: matches!(kind, Kind::Size),
                };
                let found = if integer {
                    minimise_integer(lhs, rhs, rel, &env, &along)
                } else {
                    minimise(lhs, rhs, rel, &env, &along)
                };
                let Some((m, at)) = found else {
                    continue;
                };
                // A magnitude moved to 0 where a non-strict claim then holds with equality is a
                // point no single move leads away from (tr(A)² ≥ 10⁻⁶·tr(A·Aᵀ) at A = 0): not
                // taken.
                if matches!(axis, Axis::Scale(_))
                    && at == 0.0
                    && m == 0.0
                    && !matches!(rel, Relation::Lt | Relation::Gt)
                {
                    continue;
                }
                // (Whatever f64's sign of the margin: x⁴ − x² + ¼ rounds to −10⁻¹⁷ near 1/√2.)
                if undecided.is_none() && matches!(rel, Relation::Lt | Relation::Gt) {
                    let mut there = env.clone();
                    axis.set(&mut there, at);
                    if undecided_strict(lhs, rhs, &there) {
                        *undecided = Some(super::sample::describe(d, &there, Some(&used)));
                    }
                }
                if current.is_none_or(|c| m < c) {
                    axis.set(&mut env, at);
                    current = Some(m);
                    moved = true;
                }
                // A strict inequality fails where the sides are equal, too.
                if m < 0.0 || m == 0.0 && matches!(rel, Relation::Lt | Relation::Gt) {
                    if let Some(p) = violated(d, lhs, rhs, rel, &env, &used) {
                        FOUND_AT.with(|f| *f.borrow_mut() = Some(env.clone()));
                        return Some(p);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
    if inequality {
        if let Some(p) = box_search(d, lhs, rhs, rel, &kinds, &first, &used) {
            return Some(p);
        }
    }
    None
}

/// Work the margins at the zeros of the sides' subterms along an axis may cost beyond the
/// search's budget, at each [`minimise`]: a quarter of a heavy search's budget.
pub const ZERO_RESERVE: u64 = SEARCH_WORK_HEAVY / 4;

/// Boxes the branch-and-bound search of [`box_search`] evaluates at most.
pub const BOXES: usize = 1500;
/// Real symbols the boxes of [`box_search`] span at most (the first ones of the link).
pub const BOX_DIMS: usize = 3;
/// Working precision of the boxes' enclosures (a coarse ball is still a bound).
const BOX_BITS: u32 = 64;

/// A branch-and-bound search for an inequality's violation over the brackets of its real
/// symbols (the declared interval; the search brackets of a real or positive symbol), from the
/// first sample point: each box is evaluated in ball arithmetic with its symbols as balls
/// ([`crate::numeric::precise::eval_box`]), which bounds the margin greater − lesser over the
/// whole box. A box whose lower bound is > 0 holds no violation and is dropped. Each round
/// halves, along its symbol widest relative to its bracket, the box with the least margin at
/// its centre at every depth (as DIRECT does: a well is narrowed at every scale at once) and the
/// box with the least lower bound (a box whose enclosure fails, a jump or a pole inside it,
/// counts as unbounded below); each half's centre is a candidate, judged as every point of the
/// search is ([`violated`]). This reaches a violation in a window the grids step over
/// (cos a + cos(√2·a) ≤ 1.999 for a in [10, 1000] fails only within 0.02 of a ≈ 439.84, found
/// in 293 boxes); like the rest of the search it only ever adds evidence against a link. It
/// has its own share of the search's budget for the centres' f64 margins (a quarter of
/// [`SEARCH_TERMS`]): the starts before it may have spent theirs.
fn box_search(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    kinds: &[(Axis, Kind)],
    start: &Env,
    used: &[Symbol],
) -> Option<PointResult> {
    use crate::numeric::precise::eval_box;
    if !pointwise(&[lhs, rhs]) {
        return None;
    }
    // The real symbols and their brackets at the start.
    let dims: Vec<(Symbol, (f64, f64))> = kinds
        .iter()
        .filter_map(|(axis, kind)| match (axis, kind) {
            (Axis::Value(s), Kind::Real | Kind::Positive | Kind::Interval(..)) => {
                let x = axis.get(start)?;
                let (lo, hi) = bracket(kind, x, start)?;
                (lo.is_finite() && hi.is_finite() && lo < hi).then_some((*s, (lo, hi)))
            }
            _ => None,
        })
        .take(BOX_DIMS)
        .collect();
    if dims.is_empty() {
        return None;
    }
    // The lower bound of greater − lesser over a box (−∞ where the enclosure fails), and the
    // point at its centre.
    let bound = |b: &[(f64, f64)]| -> (f64, Env) {
        let mut env = start.clone();
        let mut radii = Vec::with_capacity(dims.len());
        for ((s, _), (lo, hi)) in dims.iter().zip(b) {
            let mid = lo + (hi - lo) / 2.0;
            env.set_scalar(*s, mid);
            // The farther end from the (rounded) midpoint, rounded up.
            radii.push((
                *s,
                (mid - lo).max(hi - mid) * (1.0 + 1e-15) + f64::MIN_POSITIVE,
            ));
        }
        let lower = match (
            eval_box(lhs, &env, BOX_BITS, &radii),
            eval_box(rhs, &env, BOX_BITS, &radii),
        ) {
            (Ok(l), Ok(r)) => {
                let ((llo, lhi), (rlo, rhi)) = (l.bounds(), r.bounds());
                match rel {
                    Relation::Le | Relation::Lt => rlo - lhi,
                    _ => llo - rhi,
                }
            }
            _ => f64::NEG_INFINITY,
        };
        (
            if lower.is_nan() {
                f64::NEG_INFINITY
            } else {
                lower
            },
            env,
        )
    };
    BUDGET.set(SPENT.get() + SEARCH_TERMS / 4);
    let strict = matches!(rel, Relation::Lt | Relation::Gt);
    let first: Vec<(f64, f64)> = dims.iter().map(|(_, r)| *r).collect();
    let mut open: Vec<OpenBox> = vec![];
    let evaluated = std::cell::Cell::new(0usize);
    // Evaluates a box: a violation at its centre is returned; a box that may hold one stays open.
    let consider = |b: Vec<(f64, f64)>, depth: u32, open: &mut Vec<OpenBox>| {
        evaluated.set(evaluated.get() + 1);
        let (lower, env) = bound(&b);
        if lower > 0.0 {
            return None;
        }
        let m = margin(lhs, rhs, rel, &env);
        if let Some(m) = m {
            if m < 0.0 || m == 0.0 && strict {
                if let Some(p) = violated(d, lhs, rhs, rel, &env, used) {
                    FOUND_AT.with(|f| *f.borrow_mut() = Some(env.clone()));
                    return Some(p);
                }
            }
        }
        open.push(OpenBox {
            lower,
            centre: m.filter(|m| !m.is_nan()).unwrap_or(f64::INFINITY),
            depth,
            b,
        });
        None
    };
    if let Some(p) = consider(first.clone(), 0, &mut open) {
        return Some(p);
    }
    while evaluated.get() < BOXES && !open.is_empty() {
        // Each round halves, at every depth, the box with the least margin at its centre (a
        // well is narrowed at every scale at once, as DIRECT does), and the box with the least
        // lower bound (no region is left unvisited).
        let mut pick: Vec<usize> = vec![];
        let mut depths: Vec<u32> = open.iter().map(|o| o.depth).collect();
        depths.sort_unstable();
        depths.dedup();
        for depth in depths {
            if let Some(k) = (0..open.len())
                .filter(|&k| open[k].depth == depth)
                .min_by(|&i, &j| open[i].centre.total_cmp(&open[j].centre))
            {
                pick.push(k);
            }
        }
        if let Some(k) = (0..open.len()).min_by(|&i, &j| open[i].lower.total_cmp(&open[j].lower)) {
            if !pick.contains(&k) {
                pick.push(k);
            }
        }
        pick.sort_unstable_by(|a, b| b.cmp(a));
        let boxes: Vec<OpenBox> = pick.into_iter().map(|k| open.swap_remove(k)).collect();
        for o in boxes {
            // Halved along the symbol widest relative to its bracket.
            let w = |n: usize| (o.b[n].1 - o.b[n].0) / (first[n].1 - first[n].0);
            let axis = (0..o.b.len())
                .max_by(|&i, &j| w(i).total_cmp(&w(j)))
                .unwrap_or(0);
            let (lo, hi) = o.b[axis];
            let mid = lo + (hi - lo) / 2.0;
            if !(lo < mid && mid < hi) {
                continue; // as narrow as f64 makes it
            }
            for half in [(lo, mid), (mid, hi)] {
                let mut c = o.b.clone();
                c[axis] = half;
                if let Some(p) = consider(c, o.depth + 1, &mut open) {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// A box of [`box_search`] that may hold a violation.
struct OpenBox {
    /// The lower bound of the margin over the box (−∞ where the enclosure failed).
    lower: f64,
    /// The margin at the centre (+∞ where it has no value).
    centre: f64,
    /// Halvings from the first box.
    depth: u32,
    /// The box: an interval per symbol.
    b: Vec<(f64, f64)>,
}

/// Values of a real symbol in an exponent, jointly over all of them ([`exponent_lattice`]).
pub const EXPONENT_LATTICE: [f64; 12] = [
    -2.0,
    -1.5,
    -1.0,
    -0.5,
    0.0,
    1.0 / 3.0,
    0.5,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
];
/// At most this many real symbols in exponents are enumerated jointly (12³ points), and the signs
/// of at most this many bases.
const LATTICE_SYMBOLS: usize = 3;

/// Candidate values of one exponent symbol at most (the lattice and the affine solves).
const LATTICE_VALUES: usize = 40;
/// Combinations of exponent values at most (times the 2³ sign patterns of the bases).
const LATTICE_POINTS: usize = 20_000;

/// Power rules with a symbolic exponent fail only on a lattice that continuous draws never
/// meet: √(a^b) = a^(b/2) at a < 0 with b = 2, (a^b)^c = a^(bc) with b even and c = ½. The real
/// symbols in an exponent of a power (at most [`LATTICE_SYMBOLS`]) take every combination of
/// values that put an exponent on [`EXPONENT_LATTICE`]: the lattice itself, and where an
/// exponent is affine in its one symbol (b + ¼, 8q, b/2 + ⅛), the symbol's values that put that
/// exponent there (√(a^(b+1/4)) = a^(b/2+1/8) fails at b = 7/4). The real symbols in a base
/// (and nowhere in an exponent) take the value at the first sample point and its negative. The
/// first violation is returned.
fn exponent_lattice(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    rel: Relation,
    used: &[Symbol],
) -> Option<PointResult> {
    let real = |s: &Symbol| {
        used.contains(s)
            && d.symbols.iter().any(|(x, k)| {
                x == s && matches!(k, Kind::Real | Kind::Positive | Kind::Interval(..))
            })
    };
    let (mut exps, mut bases, mut exponents) = (vec![], vec![], vec![]);
    for e in [lhs, rhs] {
        for node in e.as_ref() {
            if let crate::expr::Math::Pow([a, b]) = node {
                let free: Vec<Symbol> = crate::expr::binders::free_symbols(e, *b)
                    .into_iter()
                    .filter(real)
                    .collect();
                if free.len() == 1 {
                    exponents.push((crate::expr::binders::subterm(e, *b), free[0]));
                }
                for s in free {
                    if !exps.contains(&s) {
                        exps.push(s);
                    }
                }
                for s in crate::expr::binders::free_symbols(e, *a) {
                    if real(&s) && !bases.contains(&s) {
                        bases.push(s);
                    }
                }
            }
        }
    }
    bases.retain(|s| !exps.contains(s));
    // At most 2³ sign patterns: the signs of the first bases only.
    bases.truncate(LATTICE_SYMBOLS);
    if exps.is_empty() || exps.len() > LATTICE_SYMBOLS {
        return None;
    }
    let start = point_retry(d, 0, 0);
    // Each exponent symbol's candidates: the lattice, then the affine solves.
    let mut values: Vec<Vec<f64>> = exps.iter().map(|_| EXPONENT_LATTICE.to_vec()).collect();
    for (x, s) in &exponents {
        let i = exps
            .iter()
            .position(|e| e == s)
            .expect("an exponent symbol");
        let at = |v: f64| {
            let mut env = start.clone();
            env.set_scalar(*s, v);
            Evaluator::new(&env).eval(x).ok().map(|v| v.value)
        };
        let (Some(e0), Some(e1), Some(e2)) = (at(0.0), at(1.0), at(2.0)) else {
            continue;
        };
        let slope = e1 - e0;
        if slope == 0.0 || !slope.is_finite() || (e2 - e1 - slope).abs() > 1e-12 * slope.abs() {
            continue;
        }
        for l in EXPONENT_LATTICE {
            let v = (l - e0) / slope;
            if values[i].len() < LATTICE_VALUES && !values[i].contains(&v) {
                values[i].push(v);
            }
        }
    }
    // At most LATTICE_POINTS combinations: each symbol's first candidates (the lattice first).
    let cap = (LATTICE_POINTS as f64).ppowf(1.0 / exps.len() as f64) as usize;
    for v in &mut values {
        v.truncate(cap);
    }
    let combos = values.iter().map(Vec::len).product::<usize>() << bases.len();
    for c in 0..combos {
        let mut env = start.clone();
        let mut rest = c;
        for s in &bases {
            let v = env.scalars.get(s).copied().unwrap_or(1.0).abs().max(0.5);
            env.set_scalar(*s, if rest & 1 == 1 { -v } else { v });
            rest >>= 1;
        }
        for (s, vs) in exps.iter().zip(&values) {
            env.set_scalar(*s, vs[rest % vs.len()]);
            rest /= vs.len();
        }
        // Each point within its domain (a positive or an interval keeps its own values).
        let inside = d
            .symbols
            .iter()
            .all(|(x, k)| match (k, env.scalars.get(x)) {
                (Kind::Positive, Some(v)) => *v > 0.0,
                (Kind::Interval(..), Some(v)) => k
                    .sampled_interval()
                    .is_some_and(|(lo, hi)| (lo..=hi).contains(v)),
                _ => true,
            });
        if !inside {
            continue;
        }
        let Some(m) = margin(lhs, rhs, rel, &env) else {
            continue;
        };
        if m < 0.0 || m == 0.0 && matches!(rel, Relation::Lt | Relation::Gt) {
            if let Some(p) = violated(d, lhs, rhs, rel, &env, used) {
                FOUND_AT.with(|f| *f.borrow_mut() = Some(env.clone()));
                return Some(p);
            }
        }
    }
    None
}

/// The point `env` as a counterexample, if the relation fails there beyond the tolerance.
/// The sides at `env` in ball arithmetic, each integral, expectation and gauss(…) among their
/// subterms (outside every binder) a ball around its f64 value as wide as the allowance a
/// comparison gives it (`REL` of it and `SCALE` of its magnitude scale): where the rest of the
/// sides needs ball arithmetic to be decided (at the peak of exp(−10¹²·(a − 0.7)²), a − 0.7
/// rounds to 0 and f64 allows for the rounding of the argument scaled by 10¹²: 1, beside an
/// integral). None where a heavy subterm has no f64 value, is a Monte Carlo estimate, sits under
/// a binder, or the balls do not evaluate.
fn with_heavy_balls(
    lhs: &Expr,
    rhs: &Expr,
    env: &Env,
) -> Option<(
    crate::numeric::eval::Value,
    crate::numeric::eval::Value,
    Comparison,
)> {
    use crate::expr::binders::{free_symbols, root, subterm};
    use crate::expr::Math;
    use crate::precision::{REL, SCALE};
    let heavy = |n: &Math| matches!(n, Math::Integral(_) | Math::Expect(_) | Math::Gauss(_));
    let mut env = env.clone();
    let mut radii: Vec<(Symbol, f64)> = vec![];
    let mut sides = vec![];
    for side in [lhs, rhs] {
        fn copy(
            side: &Expr,
            id: egg::Id,
            free: &std::collections::BTreeSet<Symbol>,
            balls: &mut dyn FnMut(&Expr) -> Option<Symbol>,
            out: &mut Expr,
            heavy: &dyn Fn(&Math) -> bool,
        ) -> Option<egg::Id> {
            if heavy(&side[id]) {
                if !free_symbols(side, id).iter().all(|s| free.contains(s)) {
                    return None;
                }
                let name = balls(&subterm(side, id))?;
                return Some(out.add(Math::Symbol(name)));
            }
            let mut failed = false;
            let node = egg::Language::map_children(side[id].clone(), |c| {
                copy(side, c, free, balls, out, heavy).unwrap_or_else(|| {
                    failed = true;
                    c
                })
            });
            (!failed).then(|| out.add(node))
        }
        let top = root(side);
        let free: std::collections::BTreeSet<Symbol> =
            free_symbols(side, top).into_iter().collect();
        let mut out = Expr::default();
        let mut balls = |t: &Expr| -> Option<Symbol> {
            let v = evaluate(t, &env)?;
            if v.stderr > 0.0 || !v.value.is_finite() || !v.scale.is_finite() {
                return None;
            }
            let name = Symbol::from(format!("·heavy{}", radii.len()));
            env.scalars.insert(name, v.value);
            radii.push((name, REL * v.value.abs() + SCALE * v.scale));
            Some(name)
        };
        copy(side, top, &free, &mut balls, &mut out, &heavy)?;
        sides.push(out);
    }
    if radii.is_empty() {
        return None;
    }
    let bits = crate::numeric::precise::BITS;
    let l = crate::numeric::precise::eval_box(&sides[0], &env, bits, &radii).ok()?;
    let r = crate::numeric::precise::eval_box(&sides[1], &env, bits, &radii).ok()?;
    let c = crate::numeric::precise::compare(&l, &r);
    let (l, r, mut cmp) = crate::numeric::precise::as_point(&l, &r, &c);
    // The balls of the heavy values are f64 allowances, not enclosures.
    cmp.rigorous = false;
    Some((l, r, cmp))
}

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
    let precise = crate::numeric::precise::compare_sides(lhs, rhs, env, bits)
        .map(|(l, r, c)| crate::numeric::precise::as_point(&l, &r, &c))
        .or_else(|_| with_heavy_balls(lhs, rhs, env).ok_or(()));
    let (l, r, mut cmp) = match precise {
        Ok(p) => p,
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
    cmp.diff = super::check::excess(rel, l.value, r.value, &cmp);
    // An error estimate of a deterministic scheme is in the allowance (z of them, as at the
    // sampled points); a Monte Carlo estimate's is not evidence for the search.
    let sampling = cmp.statistical && sampled(&[lhs, rhs]);
    (cmp.diff > cmp.tol && !sampling).then(|| PointResult::at(d, env, used, (l, r, cmp)))
}
