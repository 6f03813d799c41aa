//! Points at which links are evaluated, drawn from the declared domains, edges first.

use crate::numeric::portable::Portable;
use egg::Symbol;
use rand::{Rng, SeedableRng};

use super::file::{Derivation, Kind};
use crate::numeric::activation::Activation;
use crate::numeric::eval::{Env, Evaluator, MATRIX_DIM};

pub use crate::precision::{
    ALIAS_POINT, CONSTANT_POINT, DECADES, EDGE_POINTS, MAX_SHRINK, MAX_SIZE, MC_SAMPLES, POINTS,
    SEPARATE_POINT,
};

/// Concrete activations the generic `phi` stands for, cycled over the points: odd ones with
/// φ(0) = 0 and ones with φ(0) ≠ 0 (sigmoid, softplus, cos), kinked and smooth, and one with
/// two slopes, sampled at 0.3 and 1.7 and moved by the violation search
/// (`violation::Axis::PhiSlope`): the other eight are bounded by |a| + 1 and have slopes at most
/// 1.13, so "φ(a)² ≤ a² + 1" and "φ′(a) ≤ 1.13" held at every point for a generic φ.
pub(crate) const PHI: [Activation; 9] = [
    Activation::Tanh,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Erf,
    Activation::Softplus,
    Activation::Sin,
    Activation::Cos,
    Activation::Gelu,
    Activation::LeakyRelu { neg: 0.3, pos: 1.7 },
];

/// The constant added to the two-slope instance of φ: its φ(0), which the other eight keep
/// among 0, ½, log 2 and 1 (so that φ(0)(φ(0) − ½)(φ(0) − log 2)(φ(0) − 1) = 0 held). The
/// violation search moves it too.
pub(crate) const PHI_SHIFT: f64 = 0.37;

/// A point inside [a, b] at fraction t from a (no overflow for the widest f64 intervals).
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    (a * (1.0 - t) + b * t).clamp(a.min(b), a.max(b))
}

pub(crate) fn edge(kind: &Kind, k: usize) -> Option<f64> {
    Some(match kind {
        Kind::Real => [0.0, 1.0, -1.0, 1.0 - 1e-6][k % 4],
        Kind::Positive => [1.0, 0.5, 2.0, 1e-3][k % 4],
        Kind::Size => [1.0, 2.0, 3.0, 5.0][k % 4],
        Kind::Integer => [0.0, 1.0, -1.0, 2.0][k % 4],
        Kind::Interval(..) => {
            let (a, b) = kind.sampled_interval()?;
            [a, b, lerp(a, b, 1e-6), lerp(b, a, 1e-6)][k % 4]
        }
        _ => return None,
    })
}

fn log_uniform(rng: &mut rand_pcg::Pcg64, lo: f64, hi: f64) -> f64 {
    10f64.ppowf(rng.random_range(lo.plog10()..=hi.plog10()))
}

fn random(kind: &Kind, rng: &mut rand_pcg::Pcg64) -> Option<f64> {
    let tiny = 10f64.ppowf(-DECADES);
    let huge = 10f64.ppowf(DECADES);
    Some(match kind {
        // A third of the draws uniform over the moderate values (|x| ≤ MODERATE), where
        // periodic and bounded functions do everything (1 + sin a + cos a < 0 only for a in
        // (π, 3π/2) modulo 2π, which log-uniform magnitudes almost never meet); the rest
        // log-uniform in magnitude over DECADES decades each way.
        Kind::Real if rng.random_range(0..3) == 0 => rng.random_range(-MODERATE..=MODERATE),
        Kind::Real => {
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            sign * log_uniform(rng, tiny, huge)
        }
        Kind::Positive if rng.random_range(0..3) == 0 => {
            rng.random_range(0.0..=MODERATE).max(f64::MIN_POSITIVE)
        }
        Kind::Positive => log_uniform(rng, tiny, huge),
        Kind::Size => log_uniform(rng, 1.0, MAX_SIZE).round(),
        Kind::Integer => {
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            sign * (log_uniform(rng, 1.0, 1e6).round() - 1.0)
        }
        Kind::Interval(..) => {
            let (a, b) = kind.sampled_interval()?;
            interval(a, b, rng)
        }
        _ => return None,
    })
}

/// A random point of [a, b]: uniform, near an edge (10^-9 to 1/2 of the width from it), or, for
/// an interval around 0 that spans many decades, with a log-uniform magnitude.
fn interval(a: f64, b: f64, rng: &mut rand_pcg::Pcg64) -> f64 {
    let top = a.abs().max(b.abs());
    let huge = 10f64.ppowf(DECADES);
    if top > huge && rng.random_range(0..8) < 7 {
        // An interval far wider than the magnitudes reals are drawn from (-1e308..1e308): mostly
        // the same log-uniform magnitudes as reals, inside the interval.
        let m = log_uniform(rng, 10f64.ppowf(-DECADES), huge);
        let x = match (a < 0.0, b > 0.0) {
            (true, true) if rng.random_bool(0.5) => -m,
            (true, true) => m,
            (false, _) => a + m,
            (_, false) => b - m,
        };
        return x.clamp(a, b);
    }
    match rng.random_range(0..4) {
        0 => lerp(a, b, rng.random_range(0.0..1.0)),
        1 => lerp(a, b, log_uniform(rng, 1e-9, 0.5)),
        2 => lerp(b, a, log_uniform(rng, 1e-9, 0.5)),
        _ if a < 0.0 && b > 0.0 => {
            let top = a.abs().max(b);
            let m = log_uniform(rng, (top * 1e-12).max(1e-300), top);
            let x = if rng.random_bool(0.5) { m } else { -m };
            x.clamp(a, b)
        }
        _ => lerp(a, b, rng.random_range(0.0..1.0)),
    }
}

/// The `k`-th evaluation point of a derivation (deterministic).
pub fn point(d: &Derivation, k: usize) -> Env {
    point_scaled(d, k, 0)
}

/// The range −MODERATE..MODERATE from which a third of the random reals are drawn uniformly
/// (two periods of sin and cos, beyond the edge values 0, ±1).
pub const MODERATE: f64 = 4.0 * std::f64::consts::PI;

/// Sizes up to this are the edge sizes (1, 2, 3, 5); a size above it is generic.
pub const EDGE_SIZE: f64 = 5.0;

/// The `k`-th point retried after the term budget refused it `retry` times: sizes above
/// [`EDGE_SIZE`] keep their place on the log scale of (EDGE_SIZE, MAX_SIZE] inside the smaller
/// range (EDGE_SIZE, MAX_SIZE/10^retry] (a size drawn near the top stays near the new top, one
/// near the bottom stays small), so that a retried point is still a generic size rather than
/// 1 or 2; edge sizes are divided by 10^retry (at least 1). Where the smaller range leaves no
/// generic size, every size is divided by 10^retry: [`generic_sizes_lost`] then says so.
pub fn point_retry(d: &Derivation, k: usize, retry: u32) -> Env {
    let cap = MAX_SIZE / 10f64.powi(retry as i32);
    let low = EDGE_SIZE + 1.0;
    point_with(d, k, |v| {
        if retry > 0 && v > EDGE_SIZE && cap >= low {
            let t = (v / low).pln() / (MAX_SIZE / low).pln();
            (low * (cap / low).ppowf(t.clamp(0.0, 1.0)))
                .round()
                .clamp(low, cap.floor())
        } else {
            (v / 10f64.powi(retry as i32)).round().max(1.0)
        }
    })
}

/// Did the `retry`-th retry of point `k` bring every size in `used` down to an edge size
/// (≤ [`EDGE_SIZE`]) where the point had a generic one? Such a point repeats the edge points'
/// evidence and is not evaluated: a link true only for sizes up to 5 would pass at it.
pub fn generic_sizes_lost(d: &Derivation, k: usize, retry: u32, used: &[Symbol]) -> bool {
    if retry == 0 {
        return false;
    }
    let sizes: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(s, kind)| *kind == Kind::Size && used.contains(s))
        .map(|(s, _)| *s)
        .collect();
    let (full, now) = (point_scaled(d, k, 0), point_retry(d, k, retry));
    let generic = |env: &Env| {
        sizes
            .iter()
            .any(|s| env.scalars.get(s).is_some_and(|v| *v > EDGE_SIZE))
    };
    generic(&full) && !generic(&now)
}

/// Is the point generic in the sizes of `used`: none of them is a size, or one is above
/// [`EDGE_SIZE`]?
pub fn generic_point(d: &Derivation, env: &Env, used: &[Symbol]) -> bool {
    let mut sizes = d
        .symbols
        .iter()
        .filter(|(s, kind)| *kind == Kind::Size && used.contains(s))
        .peekable();
    sizes.peek().is_none() || sizes.any(|(s, _)| env.scalars.get(s).is_some_and(|v| *v > EDGE_SIZE))
}

/// Why the `retry`-th retry of point `k` is not evaluated, if its generic sizes were lost
/// ([`generic_sizes_lost`]).
pub fn retry_lost(d: &Derivation, k: usize, retry: u32, used: &[Symbol]) -> Option<String> {
    generic_sizes_lost(d, k, retry, used).then(|| {
        format!(
            "the term budget refuses the sides at every size above {EDGE_SIZE} at this point (sizes up to {EDGE_SIZE} are the edge points' own)"
        )
    })
}

/// The `k`-th evaluation point with its sizes divided by `10^shrink` (at least 1): the same
/// point of the same symbolic ranges, smaller (the width studies' other sizes).
pub fn point_scaled(d: &Derivation, k: usize, shrink: u32) -> Env {
    point_with(d, k, |v| (v / 10f64.powi(shrink as i32)).round().max(1.0))
}

/// The `k`-th point with each drawn size `v` replaced by `size(v)` (the same draws otherwise;
/// the indices' ranges follow the sizes).
fn point_with(d: &Derivation, k: usize, size: impl Fn(f64) -> f64) -> Env {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(0xd371_7e00 + k as u64);
    let mut env = Env {
        seed: k as u64 + 1,
        mc_samples: MC_SAMPLES,
        phi: Some(PHI[k % PHI.len()]),
        phi_shift: if matches!(PHI[k % PHI.len()], Activation::LeakyRelu { .. }) {
            PHI_SHIFT
        } else {
            0.0
        },
        ..Env::default()
    };
    for (i, (s, kind)) in d.symbols.iter().enumerate() {
        if *kind == Kind::Gaussian {
            env.random.push(*s);
            continue;
        }
        if *kind == Kind::Matrix {
            env.matrices.push(*s);
            continue;
        }
        if let Some(ends) = kind.sampled_interval() {
            env.domains.insert(*s, ends);
        }
        let v = if k < EDGE_POINTS {
            edge(kind, k + i)
        } else {
            random(kind, &mut rng)
        };
        let v = match (kind, v) {
            (Kind::Size, Some(v)) => Some(size(v)),
            // One random point in six puts every real on an odd multiple of ½, the next such
            // point on an integer, of magnitude < 4 (its sign kept): identities that fail only
            // there ((a²)^c = a^(2c) at c = ½, a < 0) are sampled, which a continuous draw
            // never does.
            (Kind::Real, Some(v)) if k >= EDGE_POINTS && k % 6 == 5 => {
                let m = v.abs() % 4.0;
                Some(
                    v.signum()
                        * if (k / 6) % 2 == 0 {
                            m.floor() + 0.5
                        } else {
                            m.round()
                        },
                )
            }
            (_, v) => v,
        };
        if let Some(v) = v {
            env.scalars.insert(*s, v);
        }
    }
    // The magnitude of each deterministic array's, vector's and matrix's seeded entries: 1 at
    // the edge points and at every other random point (unit entries, the generic case), drawn
    // like a positive real's at the rest (an entry is any real: `relu(abs(x[i]) − 2) = 0` is
    // false), from a generator of its own (the other symbols' draws stay where they were).
    if k >= EDGE_POINTS && k % 2 == 0 {
        for (s, kind) in &d.symbols {
            if kind.is_seeded() {
                let mut own = rand_pcg::Pcg64::seed_from_u64(
                    0x5ca1_e000 ^ (k as u64) ^ crate::numeric::eval::name_seed(*s),
                );
                let v = random(&Kind::Positive, &mut own).unwrap_or(1.0);
                env.entry_scales.insert(*s, v);
            }
        }
    }
    // Structure between the seeded entries, which independent draws never meet: at one random
    // point every seeded symbol takes the entries of the first declared one of its kind (arrays
    // parallel: the equality case of Cauchy–Schwarz, (Σx_j y_j)² ≤ 0.99·Σx_j²·Σy_j² fails
    // there); at another each one's entries are all equal (x[i] = x[i + 1], a rank-one matrix,
    // a singular covariance S = F·Fᵀ). Both points have unit entry scales (k is odd).
    if k == ALIAS_POINT {
        let mut first: Vec<(&Kind, Symbol)> = vec![];
        for (s, kind) in &d.symbols {
            if !kind.is_seeded() {
                continue;
            }
            match first.iter().find(|(k, _)| *k == kind) {
                Some((_, x)) => {
                    env.entry_alias.insert(*s, *x);
                }
                None => first.push((kind, *s)),
            }
        }
    }
    if k == CONSTANT_POINT && d.symbols.iter().any(|(_, kind)| kind.is_seeded()) {
        env.constant_entries = true;
    }
    if k == SEPARATE_POINT {
        env.separated = d
            .symbols
            .iter()
            .filter(|(_, kind)| kind.is_seeded())
            .map(|(s, _)| *s)
            .collect();
    }
    // Indices last: their ranges depend on the sizes just drawn.
    let index_syms: Vec<(Symbol, &Kind)> = d
        .symbols
        .iter()
        .filter(|(_, k)| matches!(k, Kind::Index(..)))
        .map(|(s, k)| (*s, k))
        .collect();
    let mut first_index: Option<i64> = None;
    for (s, kind) in index_syms {
        if let Kind::Index(lo, hi) = kind {
            let mut ev = Evaluator::new(&env);
            let (lo, hi) = (ev.eval(lo), ev.eval(hi));
            match (lo, hi) {
                (Ok(lo), Ok(hi)) if lo.value.is_finite() && hi.value.is_finite() => {
                    let (lo, hi) = (lo.value.round() as i64, hi.value.round() as i64);
                    if lo <= hi {
                        let v = if k < EDGE_POINTS {
                            if k % 2 == 0 {
                                lo
                            } else {
                                hi
                            }
                        } else {
                            let v = rng.random_range(lo..=hi);
                            // One random point in three puts every index on the first one's
                            // value where its range holds it: coincident indices inside a
                            // range (j = k = 2 of 1..3), not only at its ends, where an
                            // identity wrong only on the diagonal away from the edges fails.
                            match first_index {
                                Some(f) if k % 3 == 0 && (lo..=hi).contains(&f) => f,
                                _ => v,
                            }
                        };
                        first_index.get_or_insert(v);
                        env.scalars.insert(s, v as f64);
                    } else {
                        env.undefined.push((
                            s,
                            format!("the range {lo}..{hi} of index `{s}` is empty at this point"),
                        ));
                    }
                }
                (Err(e), _) | (_, Err(e)) => env.undefined.push((
                    s,
                    format!("the range of index `{s}` cannot be evaluated: {e}"),
                )),
                _ => env.undefined.push((
                    s,
                    format!("the range of index `{s}` is not finite at this point"),
                )),
            }
        }
    }
    // The declared shapes at these sizes: an entry outside is not a number (x[3] of a vector of
    // 2 entries), never a seeded value.
    env.shape_decls = std::sync::Arc::new(
        d.symbols
            .iter()
            .filter_map(|(s, kind)| match kind {
                Kind::Tensor(rows, cols) => Some((*s, vec![rows.clone(), cols.clone()], true)),
                Kind::GaussianVector(n, _) => Some((*s, vec![n.clone()], false)),
                Kind::Covariance(n) => Some((*s, vec![n.clone(), n.clone()], false)),
                _ => None,
            })
            .collect(),
    );
    env.update_shapes();
    env
}

/// A readable list of the point's values of the symbols in `used` (all if `None`).
pub fn describe(d: &Derivation, env: &Env, used: Option<&[Symbol]>) -> String {
    let shown = |s: &Symbol| used.is_none_or(|u| u.contains(s));
    let mut parts = vec![];
    for (s, _) in &d.symbols {
        if let Some(v) = env.scalars.get(s).filter(|_| shown(s)) {
            parts.push(format!("{s}={}", fmt_num(*v)));
        }
    }
    let arrays: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(s, k)| matches!(k, Kind::Array | Kind::Tensor(..)) && shown(s))
        .map(|(s, _)| *s)
        .collect();
    if !arrays.is_empty() {
        parts.push(format!(
            "{} with seeded entries in {} (seed {}{})",
            names(&arrays),
            entry_range(env, &arrays),
            env.seed,
            structure(env, &arrays)
        ));
    }
    // Entries given a value of their own (the violation search moves single entries).
    for (s, idx, v) in env.entry_values.iter().filter(|(s, _, _)| shown(s)) {
        let idx: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
        parts.push(format!("{s}[{}]={}", idx.join(", "), fmt_num(*v)));
    }
    // Unsized matrices are seeded MATRIX_DIM × MATRIX_DIM matrices (numeric::eval): name them,
    // or a point that only draws matrices is described by nothing at all. A matrix-valued side
    // is compared as the number uᵀ·side·v (Evaluator::eval).
    let matrices: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(s, k)| *k == Kind::Matrix && shown(s))
        .map(|(s, _)| *s)
        .collect();
    if !matrices.is_empty() {
        parts.push(format!(
            "{} as seeded {MATRIX_DIM}×{MATRIX_DIM} matrices with entries in {} (seed {}{}; a matrix side M is shown as uᵀMv for seeded vectors u, v)",
            names(&matrices),
            entry_range(env, &matrices),
            env.seed,
            structure(env, &matrices)
        ));
    }
    if let Some(phi) = env.phi.filter(|_| shown(&Symbol::from("phi"))) {
        let gain = match env.phi_gain.0 {
            1.0 => String::new(),
            g => format!("{g}·"),
        };
        let shift = match env.phi_shift {
            0.0 => String::new(),
            c if c < 0.0 => format!("−{}", -c),
            c => format!("+{c}"),
        };
        if gain.is_empty() {
            parts.push(format!("phi={phi}{shift}"));
        } else {
            parts.push(format!("phi={gain}({phi}){shift}"));
        }
    }
    parts.join(", ")
}

/// The structure between seeded entries at `env`, said after the seed: `; y = x` where y takes
/// x's entries, `; each with all entries equal` where they are constant.
fn structure(env: &Env, symbols: &[Symbol]) -> String {
    let mut out = String::new();
    for s in symbols {
        if let Some(x) = env.entry_alias.get(s) {
            out.push_str(&format!("; {s} drawn as {x}"));
        }
    }
    if env.constant_entries {
        out.push_str("; each with all entries equal");
    }
    if let Some(what) = env.structure.describe() {
        out.push_str(&format!("; entries {what}"));
    }
    if symbols.iter().any(|s| env.separated.contains(s)) {
        out.push_str("; entries on separate supports: vectors orthogonal, matrices diagonal");
    }
    out
}

fn names(symbols: &[Symbol]) -> String {
    symbols
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The range the seeded entries of `symbols` are drawn from at `env`: [-2, 2] times each one's
/// [`Env::entry_scale`] (said once where they share it).
fn entry_range(env: &Env, symbols: &[Symbol]) -> String {
    let scales: Vec<f64> = symbols.iter().map(|s| env.entry_scale(*s)).collect();
    if scales.iter().all(|c| *c == 1.0) {
        return "[-2, 2]".into();
    }
    if scales.iter().all(|c| *c == scales[0]) {
        return format!("[-2, 2]·{}", fmt_num(scales[0]));
    }
    let each: Vec<String> = symbols
        .iter()
        .zip(&scales)
        .map(|(s, c)| format!("{s}: ·{}", fmt_num(*c)))
        .collect();
    format!("[-2, 2] ({})", each.join(", "))
}

/// The symbols that occur free in the terms (and `phi`, if used), for describing points: a
/// bound index is the binder's, not the declared symbol of the same name.
pub fn used_symbols(terms: &[&crate::expr::Expr]) -> Vec<Symbol> {
    use crate::expr::{binders, Math};
    use std::ops::ControlFlow;
    let mut out = vec![];
    for t in terms {
        let _ = binders::walk(t, binders::root(t), &mut |id, bound| -> ControlFlow<()> {
            let s = match &t[id] {
                Math::Symbol(s) if !bound.contains(s) => Some(*s),
                Math::Phi(_) | Math::DPhi(_) => Some(Symbol::from("phi")),
                _ => None,
            };
            if let Some(s) = s.filter(|s| !out.contains(s)) {
                out.push(s);
            }
            ControlFlow::Continue(())
        });
    }
    out
}

/// A number with up to 12 significant digits, compact.
pub fn fmt_num(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{:.12e}", v);
        let parsed: f64 = s.parse().unwrap_or(v);
        let plain = format!("{parsed}");
        if plain.len() <= 18 {
            plain
        } else {
            format!("{parsed:.6e}")
        }
    }
}
