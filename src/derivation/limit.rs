//! Links that hold only as a width goes to infinity (`limit = "n"`): a width study.
//!
//! Both sides are evaluated on finite-width draws at several widths, and the discrepancy
//! d = lhs − rhs is measured per draw. The link holds in the limit when, for every configuration,
//!
//! 1. the log–log slope of |d| against the width has an interval (level [`LEVEL`], Bonferroni over
//!    the configurations) that lies below 0 and contains the expected rate (−1/2 unless the link
//!    says otherwise), and
//! 2. at the largest width the mean of d over the draws is consistent with 0 (Student t, level
//!    1 − [`ALPHA`](crate::numeric::tolerance::ALPHA), Bonferroni over the configurations): a
//!    discrepancy that settles at a non-zero value is what a wrong constant or a dropped term
//!    produces, and it is a counterexample.
//!
//! The draws come from one of two sources:
//!
//! - with a `[network]` table: sampled finite-width networks (`numeric::network`), one
//!   configuration per activation and depth; bound symbols take the network's quantities
//!   (pre-activations, empirical kernels) and its infinite-width kernels (`numeric::kernel`);
//! - otherwise: the link's own random symbols, drawn once per seed (`Evaluator::eval_draw`), at
//!   two of the derivation's sample points, with the width symbol set to each width.
//!
//! Seeds are fixed, so the verdict is reproducible. Fit: least squares of log |d| on log width
//! over every (width, draw) pair, so the interval reflects the scatter between draws.

use egg::Symbol;
use nalgebra::DMatrix;
use rayon::prelude::*;

use super::file::{Derivation, NetworkSpec, Quantity, Train};
use super::sample::{describe, point, used_symbols, EDGE_POINTS};
use crate::expr::Expr;
use crate::numeric::eval::{Env, Evaluator};
use crate::numeric::kernel::{kernel_pair, Architecture as KernelArch};
use crate::numeric::network::{Architecture as NetArch, Network};
use crate::numeric::stats::{self, loglog_fit, Quantile};
use crate::numeric::tolerance::ALPHA;

/// Widths of a study unless the `[network]` table says otherwise.
pub const WIDTHS: [usize; 6] = [16, 32, 64, 128, 256, 512];
/// Draws per width unless the `[network]` table says otherwise.
pub const SEEDS: usize = 48;
/// Level of the slope interval, before the Bonferroni correction over the configurations.
pub const LEVEL: f64 = 0.99;
/// Sample points (after the edge points) used when there is no `[network]`.
const POINT_CONFIGS: usize = 2;

/// The discrepancy at one width.
#[derive(Debug, Clone)]
pub struct WidthStat {
    /// The width.
    pub width: usize,
    /// Mean of lhs − rhs over the draws.
    pub mean: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Root mean square of lhs − rhs.
    pub rms: f64,
    /// Mean of the left side (to show what it converges to).
    pub lhs: f64,
    /// Mean of the right side.
    pub rhs: f64,
}

/// One configuration's width study.
#[derive(Debug, Clone)]
pub struct Study {
    /// What was sampled (activation and depth, or the sample point).
    pub config: String,
    /// Per width, in increasing order.
    pub widths: Vec<WidthStat>,
    /// Fitted slope of log |lhs − rhs| against log width.
    pub slope: f64,
    /// Half-width of its [`LEVEL`] interval.
    pub slope_hw: f64,
    /// Why the limit fails here, if it does.
    pub failure: Option<String>,
}

/// The evidence for a limit link.
#[derive(Debug, Clone)]
pub struct LimitEvidence {
    /// The width symbol.
    pub width: Symbol,
    /// Expected slope.
    pub rate: f64,
    /// Draws per width.
    pub seeds: usize,
    /// Where the draws came from.
    pub source: &'static str,
    /// One study per configuration.
    pub studies: Vec<Study>,
    /// Why the study could not be run, if it could not.
    pub skipped: Option<String>,
}

impl LimitEvidence {
    /// Every configuration converges at the expected rate.
    pub fn holds(&self) -> bool {
        self.skipped.is_none()
            && !self.studies.is_empty()
            && self.studies.iter().all(|s| s.failure.is_none())
    }
    /// The first configuration where it fails.
    pub fn failure(&self) -> Option<&Study> {
        self.studies.iter().find(|s| s.failure.is_some())
    }
}

/// The infinite-width Σ^L, Θ^L and Σ̇^L (NaN for L = 1, where it is not defined) of the last
/// hidden layer between inputs a and b.
/// The infinite-width Σ^(L+1) and Θ^(L+1) of the network's output between inputs a and b.
fn analytic_output(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    a: &[f64],
    b: &[f64],
) -> Result<[f64; 2], String> {
    let arch = KernelArch::new(act, depth, spec.sw, spec.sb).map_err(|e| e.to_string())?;
    let k = kernel_pair(&arch, a, b).map_err(|e| e.to_string())?;
    Ok([k.sigma, k.ntk])
}

/// Train `net` by gradient descent on input 1 (loss ½(f(x₁) − y)²).
fn train(net: &mut Network, spec: &NetworkSpec, t: &Train) -> Result<(), String> {
    let x = &spec.inputs[0];
    let dt = t.eta * t.time / t.steps as f64;
    let mut theta = net.parameters();
    for _ in 0..t.steps {
        let f = net.output_at(x).map_err(|e| e.to_string())?;
        let g = net.gradient(x).map_err(|e| e.to_string())?;
        let r = f - t.target;
        for (p, gi) in theta.iter_mut().zip(&g) {
            *p -= dt * r * gi;
        }
        net.set_parameters(&theta).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn analytic(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    a: &[f64],
    b: &[f64],
) -> Result<[f64; 3], String> {
    if depth == 1 {
        let n0 = a.len() as f64;
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let s = spec.sw * spec.sw * dot / n0 + spec.sb * spec.sb;
        return Ok([s, s, f64::NAN]);
    }
    let arch = KernelArch::new(act, depth - 1, spec.sw, spec.sb).map_err(|e| e.to_string())?;
    let k = kernel_pair(&arch, a, b).map_err(|e| e.to_string())?;
    Ok([k.sigma, k.ntk, k.sigma_dot])
}

/// The environment of one network draw: bound symbols take the draw's quantities.
fn network_draw(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    width: usize,
    seed: u64,
    kernels: &[(usize, usize, [f64; 3])],
    random: &[Symbol],
) -> Result<Env, String> {
    let arch = NetArch::new(act, depth, spec.sw, spec.sb).map_err(|e| e.to_string())?;
    let dim = spec.inputs[0].len();
    let net = Network::sample(&arch, dim, width, seed).map_err(|e| e.to_string())?;
    let rows: Vec<f64> = spec.inputs.iter().flatten().copied().collect();
    let inputs = DMatrix::from_row_slice(spec.inputs.len(), dim, &rows);
    let needs = |f: fn(&Quantity) -> bool| spec.bind.iter().any(|(_, q)| f(q));
    let pre = if needs(|q| matches!(q, Quantity::Preactivation(_))) {
        net.preactivations(&inputs).map_err(|e| e.to_string())?
    } else {
        vec![]
    };
    let emp = if needs(|q| matches!(q, Quantity::EmpiricalNngp(..) | Quantity::EmpiricalNtk(..))) {
        Some(net.kernels(&inputs).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let outputs = if needs(|q| matches!(q, Quantity::Output(_))) {
        Some(net.outputs(&inputs).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let trained = match spec.train {
        Some(t) if needs(|q| matches!(q, Quantity::TrainedOutput(_))) => {
            let mut net = net.clone();
            train(&mut net, spec, &t)?;
            Some(net.outputs(&inputs).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let mut env = Env {
        seed,
        phi: Some(act),
        random: random.to_vec(),
        ..Env::default()
    };
    let kernel = |a: usize, b: usize| {
        kernels
            .iter()
            .find(|(i, j, _)| (*i, *j) == (a.min(b), a.max(b)))
            .map(|k| k.2)
            .expect("kernels computed for every pair")
    };
    for (sym, q) in &spec.bind {
        match *q {
            Quantity::Width => {
                env.scalars.insert(*sym, width as f64);
            }
            Quantity::SigmaW => {
                env.scalars.insert(*sym, spec.sw);
            }
            Quantity::SigmaB => {
                env.scalars.insert(*sym, spec.sb);
            }
            Quantity::InputDim => {
                env.scalars.insert(*sym, dim as f64);
            }
            Quantity::Input(a) => {
                env.arrays.insert(*sym, spec.inputs[a - 1].clone());
            }
            Quantity::Preactivation(a) => {
                let h = &pre[depth - 1];
                env.arrays
                    .insert(*sym, h.column(a - 1).iter().copied().collect());
            }
            Quantity::Sigma(a, b) => {
                env.scalars.insert(*sym, kernel(a, b)[0]);
            }
            Quantity::Theta(a, b) => {
                env.scalars.insert(*sym, kernel(a, b)[1]);
            }
            Quantity::SigmaDot(a, b) => {
                if depth == 1 {
                    return Err("Σ̇ of the first layer is not defined (use depths ≥ 2)".into());
                }
                env.scalars.insert(*sym, kernel(a, b)[2]);
            }
            Quantity::EmpiricalNngp(a, b) => {
                let k = emp.as_ref().expect("computed above");
                env.scalars.insert(*sym, k.nngp[(a - 1, b - 1)]);
            }
            Quantity::EmpiricalNtk(a, b) => {
                let k = emp.as_ref().expect("computed above");
                env.scalars.insert(*sym, k.ntk[(a - 1, b - 1)]);
            }
            Quantity::Nngp(a, b) | Quantity::Ntk(a, b) => {
                let k =
                    analytic_output(spec, act, depth, &spec.inputs[a - 1], &spec.inputs[b - 1])?;
                let v = if matches!(q, Quantity::Nngp(..)) {
                    k[0]
                } else {
                    k[1]
                };
                env.scalars.insert(*sym, v);
            }
            Quantity::Output(a) => {
                env.scalars
                    .insert(*sym, outputs.as_ref().expect("computed above")[a - 1]);
            }
            Quantity::TrainedOutput(a) => {
                env.scalars
                    .insert(*sym, trained.as_ref().expect("computed above")[a - 1]);
            }
            Quantity::Target | Quantity::Eta | Quantity::Time => {
                let t = spec.train.expect("checked at load time");
                let v = match q {
                    Quantity::Target => t.target,
                    Quantity::Eta => t.eta,
                    _ => t.time,
                };
                env.scalars.insert(*sym, v);
            }
        }
    }
    Ok(env)
}

/// One side for one draw.
fn side(env: &Env, e: &Expr) -> Result<f64, String> {
    let v = Evaluator::new(env)
        .eval_draw(e)
        .map_err(|e| e.to_string())?;
    if !v.value.is_finite() {
        return Err(format!("{} is not finite", crate::expr::text(e)));
    }
    Ok(v.value)
}

/// lhs − rhs (and the two sides) for one draw.
fn difference(env: &Env, lhs: &Expr, rhs: &Expr) -> Result<(f64, f64), String> {
    Ok((side(env, lhs)?, side(env, rhs)?))
}

/// Does the side change from draw to draw (or with the width)? A side that does not, such as an
/// infinite-width kernel computed by quadrature, is evaluated once per configuration.
fn varies(d: &Derivation, spec: &NetworkSpec, e: &Expr) -> bool {
    let used = used_symbols(&[e]);
    used.iter().any(|s| {
        let random = d
            .symbols
            .iter()
            .any(|(t, k)| t == s && *k == super::file::Kind::Gaussian);
        let drawn = spec.bind.iter().any(|(t, q)| {
            t == s
                && matches!(
                    q,
                    Quantity::Width
                        | Quantity::Preactivation(_)
                        | Quantity::EmpiricalNngp(..)
                        | Quantity::EmpiricalNtk(..)
                        | Quantity::Output(_)
                        | Quantity::TrainedOutput(_)
                )
        });
        random || drawn
    })
}

/// Summarise one configuration's draws (per width: (lhs, rhs) per draw) into a [`Study`].
fn summarise(
    config: String,
    draws: Vec<(usize, Vec<(f64, f64)>)>,
    rate: f64,
    configs: usize,
) -> Result<Study, String> {
    let mut widths = vec![];
    let (mut xs, mut ys) = (vec![], vec![]);
    for (width, sides) in &draws {
        let d: Vec<f64> = sides.iter().map(|(l, r)| l - r).collect();
        let mean = stats::mean(&d).map_err(|e| e.to_string())?;
        let std_err = stats::std_error(&d).map_err(|e| e.to_string())?;
        let rms = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
        let avg = |f: fn(&(f64, f64)) -> f64| sides.iter().map(f).sum::<f64>() / sides.len() as f64;
        widths.push(WidthStat {
            width: *width,
            mean,
            std_err,
            rms,
            lhs: avg(|s| s.0),
            rhs: avg(|s| s.1),
        });
        for x in d.iter().filter(|x| **x != 0.0) {
            xs.push(*width as f64);
            ys.push(x.abs());
        }
    }
    if widths.iter().all(|w| w.rms == 0.0) {
        return Err("the sides agree exactly at every width: an identity, not a limit (check it as an ordinary link)".into());
    }
    let level = 1.0 - (1.0 - LEVEL) / configs as f64;
    let fit = loglog_fit(&xs, &ys, level).map_err(|e| format!("the log–log fit failed: {e}"))?;
    let (lo, hi) = (fit.slope_interval.lo(), fit.slope_interval.hi());
    let last = widths.last().expect("at least three widths");
    let seeds = draws.last().map_or(0, |(_, s)| s.len());
    let t = stats::critical_value(1.0 - ALPHA / configs as f64, seeds - 1, Quantile::StudentT)
        .map_err(|e| e.to_string())?;
    let failure = if last.mean.abs() > t * last.std_err {
        Some(format!(
            "at width {} the mean of lhs − rhs over {seeds} draws is {:.3e} ± {:.1e} (lhs ≈ {:.4}, rhs ≈ {:.4}): it does not go to 0",
            last.width,
            last.mean,
            last.std_err,
            last.lhs,
            last.rhs,
        ))
    } else if !(lo <= rate && rate <= hi && hi < 0.0) {
        Some(format!(
            "|lhs − rhs| falls as width^({:.2} ± {:.2}), not width^({rate})",
            fit.slope, fit.slope_interval.half_width
        ))
    } else {
        None
    };
    Ok(Study {
        config,
        widths,
        slope: fit.slope,
        slope_hw: fit.slope_interval.half_width,
        failure,
    })
}

/// Run the width study of the link `lhs` → `rhs` as `width` → ∞.
pub fn study(d: &Derivation, lhs: &Expr, rhs: &Expr, width: Symbol, rate: f64) -> LimitEvidence {
    let mut ev = LimitEvidence {
        width,
        rate,
        seeds: SEEDS,
        source: "",
        studies: vec![],
        skipped: None,
    };
    let result = match &d.network {
        Some(spec) => network_studies(d, spec, lhs, rhs, width, rate, &mut ev),
        None => point_studies(d, lhs, rhs, width, rate, &mut ev),
    };
    if let Err(e) = result {
        ev.skipped = Some(e);
    }
    ev
}

fn network_studies(
    d: &Derivation,
    spec: &NetworkSpec,
    lhs: &Expr,
    rhs: &Expr,
    width: Symbol,
    rate: f64,
    ev: &mut LimitEvidence,
) -> Result<(), String> {
    if !spec
        .bind
        .iter()
        .any(|(s, q)| *s == width && *q == Quantity::Width)
    {
        return Err(format!(
            "`{width}` is not bound to the network's width in [network.bind]"
        ));
    }
    let widths = spec.widths.clone().unwrap_or(WIDTHS.to_vec());
    let seeds = spec.seeds.unwrap_or(SEEDS);
    ev.seeds = seeds;
    ev.source = "sampled networks";
    let configs = spec.activations.len() * spec.depths.len();
    // Gaussian symbols not bound to the network are drawn afresh for every draw.
    let random: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(_, k)| *k == super::file::Kind::Gaussian)
        .map(|(s, _)| *s)
        .collect();
    for (ci, &act) in spec.activations.iter().enumerate() {
        for (di, &depth) in spec.depths.iter().enumerate() {
            let mut kernels = vec![];
            for a in 1..=spec.inputs.len() {
                for b in a..=spec.inputs.len() {
                    let k = analytic(spec, act, depth, &spec.inputs[a - 1], &spec.inputs[b - 1])?;
                    kernels.push((a, b, k));
                }
            }
            let base = 0x11_0000 + 1000 * (ci * spec.depths.len() + di) as u64;
            // Sides that do not vary between draws are evaluated once, on the first draw.
            let first = network_draw(spec, act, depth, widths[0], base, &kernels, &random)?;
            let fixed_l = (!varies(d, spec, lhs))
                .then(|| side(&first, lhs))
                .transpose()?;
            let fixed_r = (!varies(d, spec, rhs))
                .then(|| side(&first, rhs))
                .transpose()?;
            let mut draws = vec![];
            for &w in &widths {
                let sides = (0..seeds as u64)
                    .into_par_iter()
                    .map(|s| {
                        let env = network_draw(spec, act, depth, w, base + s, &kernels, &random)?;
                        let l = fixed_l.map_or_else(|| side(&env, lhs), Ok)?;
                        let r = fixed_r.map_or_else(|| side(&env, rhs), Ok)?;
                        Ok((l, r))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                draws.push((w, sides));
            }
            let config = format!("{act}, L = {depth}");
            ev.studies.push(summarise(config, draws, rate, configs)?);
        }
    }
    Ok(())
}

fn point_studies(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    width: Symbol,
    rate: f64,
    ev: &mut LimitEvidence,
) -> Result<(), String> {
    ev.source = "the link's random symbols, drawn";
    let used = used_symbols(&[lhs, rhs]);
    let shown: Vec<Symbol> = used.into_iter().filter(|s| *s != width).collect();
    for k in 0..POINT_CONFIGS {
        let base_env = point(d, EDGE_POINTS + k);
        let mut draws = vec![];
        for &w in &WIDTHS {
            let sides = (0..SEEDS as u64)
                .into_par_iter()
                .map(|s| {
                    let mut env = base_env.clone();
                    env.scalars.insert(width, w as f64);
                    env.seed = 0x22_0000 + 1000 * k as u64 + s;
                    difference(&env, lhs, rhs)
                })
                .collect::<Result<Vec<_>, String>>()?;
            draws.push((w, sides));
        }
        let config = describe(d, &base_env, Some(&shown));
        ev.studies
            .push(summarise(config, draws, rate, POINT_CONFIGS)?);
    }
    Ok(())
}
