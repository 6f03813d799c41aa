//! Points at which links are evaluated, drawn from the declared domains, edges first.

use egg::Symbol;
use rand::{Rng, SeedableRng};

use super::file::{Derivation, Kind};
use crate::numeric::activation::Activation;
use crate::numeric::eval::{Env, Evaluator};

/// How many points each link is evaluated at.
pub const POINTS: usize = 12;
/// How many of them use edge values of the domains.
pub const EDGE_POINTS: usize = 4;
/// Monte Carlo samples per expectation that is not a polynomial in the Gaussian entries.
pub const MC_SAMPLES: usize = 20_000;

/// Concrete activations the generic `phi` stands for, cycled over the points.
const PHI: [Activation; 4] = [
    Activation::Tanh,
    Activation::Relu,
    Activation::Erf,
    Activation::Sin,
];

fn edge(kind: &Kind, k: usize) -> Option<f64> {
    Some(match kind {
        Kind::Real => [0.0, 1.0, -1.0, 0.5][k % 4],
        Kind::Positive => [1.0, 0.5, 2.0, 1e-3][k % 4],
        Kind::Size => [1.0, 2.0, 3.0, 5.0][k % 4],
        Kind::Integer => [0.0, 1.0, -1.0, 2.0][k % 4],
        Kind::Interval(a, b) => {
            let w = b - a;
            [*a, *b, a + 1e-6 * w, b - 1e-6 * w][k % 4]
        }
        _ => return None,
    })
}

fn random(kind: &Kind, rng: &mut rand_pcg::Pcg64) -> Option<f64> {
    Some(match kind {
        Kind::Real => rng.random_range(-3.0..3.0),
        Kind::Positive => rng.random_range(0.2..3.0),
        Kind::Size => rng.random_range(1..=6) as f64,
        Kind::Integer => rng.random_range(-5..=5) as f64,
        Kind::Interval(a, b) => rng.random_range(*a..*b),
        _ => return None,
    })
}

/// The `k`-th evaluation point of a derivation (deterministic).
pub fn point(d: &Derivation, k: usize) -> Env {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(0xd371_7e00 + k as u64);
    let mut env = Env {
        seed: k as u64 + 1,
        mc_samples: MC_SAMPLES,
        phi: Some(PHI[k % PHI.len()]),
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
        let v = if k < EDGE_POINTS {
            edge(kind, k + i)
        } else {
            random(kind, &mut rng)
        };
        if let Some(v) = v {
            env.scalars.insert(*s, v);
        }
    }
    // Indices last: their ranges depend on the sizes just drawn.
    let index_syms: Vec<(Symbol, &Kind)> = d
        .symbols
        .iter()
        .filter(|(_, k)| matches!(k, Kind::Index(..)))
        .map(|(s, k)| (*s, k))
        .collect();
    for (s, kind) in index_syms {
        if let Kind::Index(lo, hi) = kind {
            let mut ev = Evaluator::new(&env);
            let (lo, hi) = (ev.eval(lo), ev.eval(hi));
            if let (Ok(lo), Ok(hi)) = (lo, hi) {
                let (lo, hi) = (lo.value.round() as i64, hi.value.round() as i64);
                if lo <= hi {
                    let v = if k < EDGE_POINTS {
                        if k % 2 == 0 {
                            lo
                        } else {
                            hi
                        }
                    } else {
                        rng.random_range(lo..=hi)
                    };
                    env.scalars.insert(s, v as f64);
                }
            }
        }
    }
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
    let arrays: Vec<String> = d
        .symbols
        .iter()
        .filter(|(s, k)| *k == Kind::Array && shown(s))
        .map(|(s, _)| s.to_string())
        .collect();
    if !arrays.is_empty() {
        parts.push(format!(
            "{} with seeded entries in [-2, 2] (seed {})",
            arrays.join(", "),
            env.seed
        ));
    }
    if let Some(phi) = env.phi.filter(|_| shown(&Symbol::from("phi"))) {
        parts.push(format!("phi={phi}"));
    }
    parts.join(", ")
}

/// The symbols (and `phi`, if used) that occur in the terms, for describing points.
pub fn used_symbols(terms: &[&crate::expr::Expr]) -> Vec<Symbol> {
    use crate::expr::Math;
    let mut out = vec![];
    for t in terms {
        for n in t.as_ref() {
            let s = match n {
                Math::Symbol(s) => Some(*s),
                Math::Phi(_) | Math::DPhi(_) => Some(Symbol::from("phi")),
                _ => None,
            };
            if let Some(s) = s.filter(|s| !out.contains(s)) {
                out.push(s);
            }
        }
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
