//! Links that hold only as a width goes to infinity (`limit = "n"`): a width study.
//!
//! Both sides are evaluated on finite-width draws at several widths ([`WIDTHS`] unless the
//! `[network]` declares others: about 16·2ᵏ but on no special set of integers, so that a
//! discrepancy vanishing at every multiple of 16, such as (−1)ⁿ − 1, is seen), and the discrepancy
//! d = lhs − rhs is measured per draw. For every configuration (an activation and depth, or a
//! sample point) the study decides on the **limit term**:
//!
//! 1. **Fit.** The mean discrepancy at each width n is fitted by generalised least squares with
//!    a model that has a limit term, `m(n) = a + b·n^r + c·n^(2r)`, r the link's rate (−1/2
//!    unless it declares another): `a` is what lhs − rhs tends to, `b·n^r + c·n^(2r)` the two
//!    leading finite-width corrections (a 1/√n offset and a 1/n bias both fit without moving
//!    `a`). The covariance of the per-width means is estimated from the draws, paired by seed
//!    across widths (common random numbers, see below), plus a floor (next point); a fit worse
//!    than that covariance says widens the interval by √(χ²/dof) ([`stats::limit_fit`]).
//! 2. **Interval and resolution.** `a` gets an interval at family level 1 − [`ALPHA`],
//!    Bonferroni over the configurations (Student t with the draws' degrees of freedom). Its
//!    half-width is the study's **resolution**: the smallest offset of the limit it detects. It
//!    never goes below [`FLOOR_REL`] of the scale (the quadrature and kernel recursions the sides
//!    come from are not more accurate than that, so smaller offsets count as 0).
//! 3. **Verdict.** `refuted` if the interval of `a` excludes 0 (a, its interval and both sides'
//!    means are shown), or if |lhs − rhs| does not fall with the width (the slope below: the
//!    sides fluctuate apart even if their means agree; the slope's interval lies above the
//!    declared rate and reaches 0 — one that holds both is `unknown`); `limit` if the interval
//!    contains 0 and the resolution is at most what the claim needs — [`RESOLUTION_REL`] of the scale of the
//!    quantity (the larger root mean square of the two sides at the largest width), or the
//!    link's `resolution = …` (absolute); otherwise more draws are spent (doubling, up to
//!    [`MAX_DRAW_FACTOR`] × the draws per width) and, if the resolution is still too coarse,
//!    `unknown` with the resolution reached and the one needed. When the means do not follow
//!    the model beyond chance ([`stats::misfits`]: they oscillate with the width, say, as
//!    (−1)ⁿ does) the misfit, not the draws, makes the interval wide: `unknown` at once, with
//!    the means at every width. Every verdict prints the resolution.
//!    **Draw by draw.** With random sides the mean of lhs − rhs may vanish while lhs − rhs does
//!    not (1/n·Σw_k² + β/10 → 1: a random limit). Its mean square is extrapolated the same way
//!    (powers 2r and 4r) and must tend to 0; an interval above 0 is `unknown` (a floor cannot be
//!    told from slower convergence), and an estimate above 0 that the interval does not yet
//!    exclude spends more draws first.
//! 4. **Rate (supporting evidence).** The log–log slope of |d| against the width, fitted over every
//!    (width, draw) pair with a [`LEVEL`] interval (Bonferroni over the configurations), is
//!    shown beside each configuration; its upper end must lie below 0 (the discrepancy must
//!    shrink), and a slope whose interval misses the declared rate is reported, not refuted.
//!
//! **Zero at every studied width.** A part of lhs − rhs that is exactly 0 (to rounding) at every
//! studied width — one of its additive terms, a group of them ([`term_groups`]), or the exact
//! mean the fit sees — is no evidence that it vanishes as n → ∞ (relu(n − 600)/n, or a
//! polynomial with a root at each width, fit a = 0 ± 0). Before a study says `limit`, every such
//! part is evaluated at [`PROBE_OFF_GRID`] and [`PROBE_BEYOND`] (random parts with a sum up to
//! [`PROBE_SUM_MAX`], deterministic ones up to [`PROBE_SUM_DETERMINISTIC_MAX`], further only
//! once found nonzero; parts without a sum on to 10¹⁵,
//! [`PROBE_FAR`]); nonzero there, the study says `refuted`
//! when the part is deterministic and does not shrink over its three largest widths
//! ([`PROBE_PERSIST`]), `unknown` otherwise, naming the part and the width. Links whose parts are
//! not 0 at the widths pay nothing but the check that they are not; an average whose exact mean
//! is 0 at every width (Σ w_k²/n → 1) pays its exact mean at six more widths up to 10⁴.
//!
//! **Exactly zero discrepancy.** If lhs − rhs is exactly 0 on every draw at every width, the
//! verdict is `limit` with resolution 0 only when neither side depends on the draws (the sides
//! are deterministic and equal at every width of the study); when the sides are random and agree
//! exactly on every draw there is nothing that converges to measure, and the verdict is
//! `unknown` (check such a link as an ordinary one). NaN or an infinite side is never agreement:
//! the study stops and the link is `unknown` with the reason.
//!
//! **Variance reduction** (why the resolution is affordable):
//!
//! - *Common random numbers*: every width uses the same seeds, and the covariance of the
//!   per-width means is estimated by pairing draws by seed, so shared randomness is used, not
//!   ignored. Without a `[network]` the link's Gaussian entries are drawn in evaluation order
//!   from the seed, so `w[k]` at width 16 is `w[k]` at width 512 (nested draws) for the usual
//!   `sum(k in 1..n, …)` forms. Sampled networks are not nested across widths
//!   (`Network::sample` fills layers column by column), so there the pairing only measures
//!   whatever correlation there is.
//! - *Exact expectation over the link's Gaussian symbols* (a control variate with known mean,
//!   equivalently conditioning): where lhs − rhs is a polynomial in the link's own Gaussian
//!   symbols, its mean over them is computed exactly from Gaussian moments
//!   ([`Evaluator::exact_expectation`]) and replaces the draw in the fit of `a`. Without a
//!   `[network]` the mean is then exact at every width; with one, only the network remains
//!   random. Not done when a side is not polynomial in them (e.g. `relu(w[k])`): the draws
//!   are used as they are.
//! - *The infinite-width value as a control variate* (networks): every draw also yields
//!   quantities whose infinite-width values are known from `numeric::kernel`, and
//!   `quantity − its infinite-width value` is a control that tends to 0: from the last hidden
//!   layer's pre-activations, the empirical Σ̂⁽ᴸ⁺¹⁾ and Σ̇̂⁽ᴸ⁺¹⁾ between every pair of inputs
//!   (when pre-activations are bound); when the empirical NTK, outputs or trained outputs are
//!   bound, Θ̂⁽ᴸ⁺¹⁾ − Θ⁽ᴸ⁺¹⁾ for every pair, the initial outputs f(x_c) (mean 0) and the
//!   products (Θ̂ − Θ)·f(x_c) (mean 0 by the sign symmetry of the readout). Per width, `d` is
//!   regressed on the controls ([`stats::control_variates`]) and `d − β·controls` enters the
//!   fit; the controls' own finite-width bias vanishes as n → ∞, so it moves the
//!   finite-width terms of the model, not `a`. The degrees of freedom of the interval drop by
//!   the number of controls used. Trusting these controls is trusting that the empirical
//!   kernels converge to `numeric::kernel`'s values, which `tests/network_convergence.rs`
//!   checks; without a `[network]` there are no such controls.
//!
//! The draws come from one of two sources:
//!
//! - with a `[network]` table: sampled finite-width networks (`numeric::network`), one
//!   configuration per activation and depth; bound symbols take the network's quantities
//!   (pre-activations, empirical kernels) and its infinite-width kernels (`numeric::kernel`);
//!   Gaussian symbols not bound to the network are drawn afresh for every draw;
//! - otherwise: the link's own Gaussian symbols, drawn once per seed (`Evaluator::eval_draw`),
//!   at two of the derivation's sample points (their deterministic arrays fixed; and at the
//!   points where another symbol passes a far zero of a subterm, `violation::feature_points`,
//!   and where the sides' exact means at width 59 differ most, `violation::widest_gap`), with
//!   the width symbol set to each width. When both sides use Gaussian symbols they are evaluated
//!   together, as lhs − rhs, so an entry takes one value in both.
//!
//! Seeds are fixed, so the verdict is reproducible. The draws of every study go through the one
//! sampler [`sample_widths`](crate::numeric::network::sample_widths).

use egg::Symbol;
use nalgebra::DMatrix;
use std::collections::BTreeSet;

use super::draws::NetworkDraws;
use super::file::{Derivation, NetworkSpec, Quantity, Train};
use super::sample::{describe, point_scaled, used_symbols, EDGE_POINTS};

use crate::expr::binders::append;
use crate::expr::{Expr, Math};
use crate::numeric::eval::{Env, EvalError, Evaluator};
use crate::numeric::kernel::{kernel_pair, Architecture};
use crate::numeric::network::NetworkError;
use crate::numeric::network::{sample_widths, Network};
use crate::numeric::stats::{self, loglog_fit, StatsError};
use crate::numeric::tolerance::ALPHA;
use crate::numeric::NumericError;
use crate::precision::{
    CANCEL_REL, DECLARED_RESOLUTION_MAX_REL, POINT_SHRINK, PROBE_BEYOND, PROBE_BLOCK_LEN,
    PROBE_BLOCK_START, PROBE_FAR, PROBE_OFF_GRID, PROBE_PERSIST, PROBE_SUM_DETERMINISTIC_MAX,
    PROBE_SUM_MAX, SEEDS_BEYOND_WIDTHS,
};

pub use crate::precision::{FLOOR_REL, LEVEL, MAX_DRAW_FACTOR, RESOLUTION_REL, SEEDS, WIDTHS};
/// Sample points (after the edge points) used when there is no `[network]`.
const POINT_CONFIGS: usize = 2;

/// Why a width study could not be run; shown as the link's reason for `unknown`
/// ([`LimitEvidence::skipped`]).
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The link's width symbol is not bound to the network's width.
    #[error("`{0}` is not bound to the network's width in [network.bind]")]
    WidthNotBound(Symbol),
    /// An infinite-width kernel could not be computed.
    #[error("{0}")]
    Kernel(#[from] NumericError),
    /// A network could not be sampled or evaluated.
    #[error("{0}")]
    Network(#[from] NetworkError),
    /// Training a sampled network failed.
    #[error("{0}")]
    Training(String),
    /// Σ̇ is bound, but a depth studied is 1, where it is not defined.
    #[error("Σ̇ of the first layer is not defined (use depths ≥ 2)")]
    SigmaDotAtDepthOne,
    /// A side (or its exact mean) could not be evaluated at a draw.
    #[error("{0}")]
    Evaluation(#[from] EvalError),
    /// A side is NaN or infinite at a draw.
    #[error("{side} is not finite")]
    NonFinite {
        /// The side, as text.
        side: String,
    },
    /// Too few widths or draws to fit the model.
    #[error("a width study needs at least 4 widths and {min} draws per width (got {widths} and {seeds})")]
    TooSmall {
        /// Draws per width needed.
        min: usize,
        /// Widths given.
        widths: usize,
        /// Draws per width given.
        seeds: usize,
    },
    /// A statistic of the draws (means, standard errors, control variates) failed.
    #[error("{0}")]
    Statistics(#[from] StatsError),
    /// The fit of the limit term failed.
    #[error("the fit of the limit term failed: {0}")]
    Fit(#[source] StatsError),
}

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
    /// Mean of lhs − rhs after the variance reduction (what the fit of `a` uses).
    pub reduced_mean: f64,
    /// Its standard error (before the floor).
    pub reduced_std_err: f64,
}

/// What a configuration's study concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The limit term is 0 at the needed resolution.
    Limit,
    /// The limit term is not 0, or the sides do not converge.
    Refuted(String),
    /// The study cannot decide (resolution too coarse, or nothing to measure).
    Unknown(String),
}

/// One configuration's width study.
#[derive(Debug, Clone)]
pub struct Study {
    /// What was sampled (activation and depth, or the sample point).
    pub config: String,
    /// Per width, in increasing order.
    pub widths: Vec<WidthStat>,
    /// Draws per width actually used.
    pub draws: usize,
    /// Fitted slope of log |lhs − rhs| against log width and the half-width of its [`LEVEL`]
    /// interval (None when the sides do not depend on the draws, or the fit was impossible).
    pub slope: Option<(f64, f64)>,
    /// The fitted limit term `a` of lhs − rhs.
    pub limit: f64,
    /// The half-width of a's interval: the resolution of the study.
    pub resolution: f64,
    /// The resolution the claim needs.
    pub needed: f64,
    /// Was it declared on the link (`resolution = …`)?
    pub declared: bool,
    /// Was the declared resolution coarser than [`DECLARED_RESOLUTION_MAX_REL`] of the scale, and
    /// `needed` that cap instead?
    pub capped: bool,
    /// The scale of the quantity (the larger RMS of the two sides at the largest width).
    pub scale: f64,
    /// The variance reduction used (shown with the study).
    pub reduction: String,
    /// A remark on the rate (the slope's interval misses the declared rate).
    pub rate_note: Option<String>,
    /// The means do not follow the model beyond chance ([`stats::misfits`]): the misfit, not
    /// the draws, limits the resolution, so more draws are not spent.
    pub misfit: bool,
    /// The mean square of lhs − rhs extrapolates above 0, though not beyond its interval: more
    /// draws may tell a floor (a random limit) from convergence.
    pub floor_suggested: bool,
    /// The conclusion.
    pub decision: Decision,
    /// Why the limit fails here, if it does (the message of [`Decision::Refuted`]).
    pub failure: Option<String>,
}

/// The evidence for a limit link.
#[derive(Debug, Clone)]
pub struct LimitEvidence {
    /// The width symbol.
    pub width: Symbol,
    /// Expected slope.
    pub rate: f64,
    /// Draws per width at the start (a study may spend more, see [`Study::draws`]).
    pub seeds: usize,
    /// Where the draws came from.
    pub source: &'static str,
    /// One study per configuration.
    pub studies: Vec<Study>,
    /// Why the study could not be run, if it could not.
    pub skipped: Option<String>,
}

impl LimitEvidence {
    /// Every configuration decided `limit`.
    pub fn holds(&self) -> bool {
        self.skipped.is_none()
            && !self.studies.is_empty()
            && self.studies.iter().all(|s| s.decision == Decision::Limit)
    }
    /// The first configuration where it fails.
    pub fn failure(&self) -> Option<&Study> {
        self.studies.iter().find(|s| s.failure.is_some())
    }
}

/// One draw: both sides, the discrepancy's exact mean over the link's own Gaussian symbols
/// (when it is a polynomial in them), and the control variates.
#[derive(Debug, Clone)]
struct Draw {
    lhs: f64,
    rhs: f64,
    exact: Option<f64>,
    controls: Vec<f64>,
    /// The additive terms of the prover's normal form of lhs − rhs, where they evaluate (see
    /// [`Sides::terms`]).
    terms: Vec<Option<f64>>,
}

/// How the sides of a link are evaluated on one environment.
struct Sides<'a> {
    lhs: &'a Expr,
    rhs: &'a Expr,
    /// lhs − rhs as one term, when both sides use random symbols (shared draws).
    diff: Option<Expr>,
    /// E[lhs − rhs] over the random symbols, when any side uses them.
    expect: bool,
    lhs_random: bool,
    rhs_random: bool,
    /// The additive terms of the prover's normal form of lhs − rhs: the parts of the claim that
    /// do not cancel exactly between its sides, whose size is the claim's scale.
    scale_terms: &'a [(bool, Expr)],
}

/// `a − b` as one term.
fn sub(a: &Expr, b: &Expr) -> Expr {
    let mut out: Expr = Default::default();
    let ra = append(&mut out, a);
    let rb = append(&mut out, b);
    out.add(Math::Sub([ra, rb]));
    out
}

fn uses_any(e: &Expr, syms: &[Symbol]) -> bool {
    used_symbols(&[e]).iter().any(|s| syms.contains(s))
}

impl<'a> Sides<'a> {
    fn new(
        lhs: &'a Expr,
        rhs: &'a Expr,
        random: &[Symbol],
        scale_terms: &'a [(bool, Expr)],
    ) -> Self {
        let (lhs_random, rhs_random) = (uses_any(lhs, random), uses_any(rhs, random));
        Sides {
            lhs,
            rhs,
            diff: (lhs_random && rhs_random).then(|| sub(lhs, rhs)),
            expect: lhs_random || rhs_random,
            lhs_random,
            rhs_random,
            scale_terms,
        }
    }

    /// The scale terms on one draw, signed (`None` where a term does not evaluate to a finite
    /// number); `fixed` holds the (unsigned) values of the terms that do not vary between
    /// draws (each evaluated once per configuration: a gauss(…) term is a quadrature).
    fn terms(&self, env: &Env, fixed: &[Option<Option<f64>>]) -> Vec<Option<f64>> {
        self.scale_terms
            .iter()
            .enumerate()
            .map(|(i, (positive, t))| {
                let v = match fixed.get(i) {
                    Some(Some(v)) => *v,
                    _ => side(env, t).ok(),
                };
                v.map(|v| if *positive { v } else { -v })
            })
            .collect()
    }

    /// (lhs, rhs) of one draw; `fixed` are sides evaluated once per configuration.
    fn draw(&self, env: &Env, fixed: (Option<f64>, Option<f64>)) -> Result<(f64, f64), StudyError> {
        let l = fixed.0.map_or_else(|| side(env, self.lhs), Ok)?;
        if let Some(diff) = &self.diff {
            let d = side(env, diff)?;
            return Ok((l, l - d));
        }
        let r = fixed.1.map_or_else(|| side(env, self.rhs), Ok)?;
        Ok((l, r))
    }

    /// E[lhs − rhs] over the environment's random symbols, when it is a polynomial in them.
    fn exact(&self, env: &Env, values: (f64, f64)) -> Result<Option<f64>, StudyError> {
        if !self.expect {
            return Ok(None);
        }
        let mean = |e: &Expr| -> Result<Option<f64>, StudyError> {
            match Evaluator::new(env).exact_expectation(e) {
                None => Ok(None),
                Some(Err(err)) => Err(err.into()),
                Some(Ok(v)) if v.value.is_finite() => Ok(Some(v.value)),
                Some(Ok(_)) => Ok(None),
            }
        };
        Ok(match &self.diff {
            Some(diff) => mean(diff)?,
            None => {
                let l = if self.lhs_random {
                    mean(self.lhs)?
                } else {
                    Some(values.0)
                };
                let r = if self.rhs_random {
                    mean(self.rhs)?
                } else {
                    Some(values.1)
                };
                l.zip(r).map(|(l, r)| l - r)
            }
        })
    }
}

/// The infinite-width Σ^(L+1), Σ̇^(L+1) and Θ^(L+1) of the network's output between inputs a, b.
fn output_kernels(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    a: &[f64],
    b: &[f64],
) -> Result<[f64; 3], StudyError> {
    let arch = Architecture::new(act, depth, spec.sw, spec.sb)?;
    let k = kernel_pair(&arch, a, b)?;
    Ok([k.sigma, k.sigma_dot, k.ntk])
}

/// Train `net` by gradient descent on input 1 (loss ½(f(x₁) − y)²): per step one batched
/// forward and backward pass ([`Network::loss_gradient`]).
pub(super) fn train(net: &mut Network, spec: &NetworkSpec, t: &Train) -> Result<(), String> {
    let x = DMatrix::from_row_slice(1, spec.inputs[0].len(), &spec.inputs[0]);
    let dt = t.eta * t.time / t.steps as f64;
    let mut theta = net.parameters();
    for _ in 0..t.steps {
        let (_, g) = net
            .loss_gradient(&x, &[t.target])
            .map_err(|e| e.to_string())?;
        for (p, gi) in theta.iter_mut().zip(&g) {
            *p -= dt * gi;
        }
        net.set_parameters(&theta).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The infinite-width Σ^L, Θ^L and Σ̇^L (NaN for L = 1, where it is not defined) of the last
/// hidden layer between inputs a and b.
fn analytic(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    a: &[f64],
    b: &[f64],
) -> Result<[f64; 3], StudyError> {
    if depth == 1 {
        let n0 = a.len() as f64;
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let s = spec.sw * spec.sw * dot / n0 + spec.sb * spec.sb;
        return Ok([s, s, f64::NAN]);
    }
    let arch = Architecture::new(act, depth - 1, spec.sw, spec.sb)?;
    let k = kernel_pair(&arch, a, b)?;
    Ok([k.sigma, k.ntk, k.sigma_dot])
}

/// Per pair of inputs (a ≤ b, 1-based): the last hidden layer's Σ^L, Θ^L, Σ̇^L and the
/// output's Σ^(L+1), Σ̇^(L+1), Θ^(L+1).
struct Kernels {
    pairs: Vec<(usize, usize, [f64; 3], [f64; 3])>,
}

impl Kernels {
    fn hidden(&self, a: usize, b: usize) -> [f64; 3] {
        self.find(a, b).2
    }
    fn find(&self, a: usize, b: usize) -> &(usize, usize, [f64; 3], [f64; 3]) {
        self.pairs
            .iter()
            .find(|(i, j, _, _)| (*i, *j) == (a.min(b), a.max(b)))
            .expect("kernels computed for every pair")
    }
}

/// The first seed of the draws of a configuration of depth `depth`; draw i of every width has
/// seed `config_seed + i`. It depends on the depth only (not on the activation, nor on positions
/// in the file), so networks of the same depth share their standard normal weights across
/// activations and files, and are sampled once (see `draws.rs`); each configuration's study is
/// still on its own draws.
pub(super) fn config_seed(depth: usize) -> u64 {
    // 1024 seeds per depth (a study uses at most SEEDS × MAX_DRAW_FACTOR = 192).
    0x11_0000 + (depth as u64) * 1024
}

/// The environment of one network draw (bound symbols take the draw's quantities) and its
/// control variates (see the module docs).
#[allow(clippy::too_many_arguments)]
fn network_draw(
    spec: &NetworkSpec,
    act: crate::numeric::activation::Activation,
    depth: usize,
    width: usize,
    seed: u64,
    kernels: &Kernels,
    random: &[Symbol],
    draws: &NetworkDraws,
) -> Result<(Env, Vec<f64>, Option<Env>), StudyError> {
    let dim = spec.inputs[0].len();
    let drawn = draws.get(spec, act, depth, width, seed)?;
    // Only what this file binds: a draw prepared for another file may hold more, and the study
    // (its control variates included) must not depend on which files are checked with it.
    let own = super::draws::Needs::of(spec);
    let pre = if own.pre { &drawn.pre } else { &None };
    let emp = if own.emp { &drawn.emp } else { &None };
    let trained = if own.trained { &drawn.trained } else { &None };
    let needs = |f: fn(&Quantity) -> bool| spec.bind.iter().any(|(_, q)| f(q));
    let outputs_bound = needs(|q| matches!(q, Quantity::Output(_) | Quantity::TrainedOutput(_)));
    let output_kernels_bound = needs(|q| matches!(q, Quantity::Nngp(..) | Quantity::Ntk(..)));
    // Control variates: each tends to 0 as the width grows.
    let mut controls = vec![];
    let m = spec.inputs.len();
    if let Some(h) = pre {
        let (sw2, sb2) = (spec.sw * spec.sw, spec.sb * spec.sb);
        for a in 0..m {
            for b in a..m {
                let out = kernels.find(a + 1, b + 1).3;
                let (ha, hb) = (h.column(a), h.column(b));
                let n = ha.len() as f64;
                let (mut s, mut sd) = (0.0, 0.0);
                for (x, y) in ha.iter().zip(hb.iter()) {
                    s += act.eval(*x) * act.eval(*y);
                    sd += act.deriv(*x) * act.deriv(*y);
                }
                controls.push(sw2 * s / n + sb2 - out[0]);
                controls.push(sw2 * sd / n - out[1]);
            }
        }
    }
    if let Some(k) = emp {
        let mut dtheta = vec![];
        for a in 0..m {
            for b in a..m {
                let c = k.ntk[(a, b)] - kernels.find(a + 1, b + 1).3[2];
                controls.push(c);
                dtheta.push(c);
            }
        }
        if outputs_bound {
            for c in 0..m {
                let f = k.outputs[c];
                controls.push(f);
                controls.extend(dtheta.iter().map(|t| t * f));
            }
        }
    }
    let mut env = Env {
        seed,
        phi: Some(act),
        random: random.to_vec(),
        ..Env::default()
    };
    for (sym, q) in &spec.bind {
        match *q {
            Quantity::Width => {
                env.set_scalar(*sym, width as f64);
            }
            Quantity::SigmaW => {
                env.set_scalar(*sym, spec.sw);
            }
            Quantity::SigmaB => {
                env.set_scalar(*sym, spec.sb);
            }
            Quantity::InputDim => {
                env.set_scalar(*sym, dim as f64);
            }
            Quantity::Input(a) => {
                env.arrays.insert(*sym, spec.inputs[a - 1].clone());
            }
            Quantity::Preactivation(a) => {
                let h = pre.as_ref().expect("computed above");
                env.arrays
                    .insert(*sym, h.column(a - 1).iter().copied().collect());
            }
            Quantity::Sigma(a, b) => {
                env.set_scalar(*sym, kernels.hidden(a, b)[0]);
            }
            Quantity::Theta(a, b) => {
                env.set_scalar(*sym, kernels.hidden(a, b)[1]);
            }
            Quantity::SigmaDot(a, b) => {
                if depth == 1 {
                    return Err(StudyError::SigmaDotAtDepthOne);
                }
                env.set_scalar(*sym, kernels.hidden(a, b)[2]);
            }
            Quantity::EmpiricalNngp(a, b) => {
                let k = emp.as_ref().expect("computed above");
                env.set_scalar(*sym, k.nngp[(a - 1, b - 1)]);
            }
            Quantity::EmpiricalNtk(a, b) => {
                let k = emp.as_ref().expect("computed above");
                env.set_scalar(*sym, k.ntk[(a - 1, b - 1)]);
            }
            Quantity::Nngp(a, b) => {
                env.set_scalar(*sym, kernels.find(a, b).3[0]);
            }
            Quantity::Ntk(a, b) => {
                env.set_scalar(*sym, kernels.find(a, b).3[2]);
            }
            Quantity::Output(a) => {
                let k = emp.as_ref().expect("computed above");
                env.set_scalar(*sym, k.outputs[a - 1]);
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
                env.set_scalar(*sym, v);
            }
        }
    }
    // The same environment with the output's infinite-width kernels replaced by this draw's
    // empirical ones: a side evaluated on both gives a control that tends to 0.
    let alt = match emp {
        Some(k) if output_kernels_bound => {
            let mut alt = env.clone();
            for (sym, q) in &spec.bind {
                match *q {
                    Quantity::Nngp(a, b) => {
                        alt.set_scalar(*sym, k.nngp[(a - 1, b - 1)]);
                    }
                    Quantity::Ntk(a, b) => {
                        alt.set_scalar(*sym, k.ntk[(a - 1, b - 1)]);
                    }
                    _ => {}
                }
            }
            Some(alt)
        }
        _ => None,
    };
    Ok((env, controls, alt))
}

/// One side for one draw.
fn side(env: &Env, e: &Expr) -> Result<f64, StudyError> {
    let v = Evaluator::new(env).eval_draw(e)?;
    if !v.value.is_finite() {
        return Err(StudyError::NonFinite {
            side: crate::expr::text(e),
        });
    }
    Ok(v.value)
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
        let drawn = spec.bind.iter().any(|(t, q)| t == s && q.is_drawn());
        random || drawn
    })
}

/// What a configuration's study needs besides its draws.
struct Plan {
    rate: f64,
    configs: usize,
    declared: Option<f64>,
    /// Neither side depends on the draws.
    deterministic: bool,
}

fn mean_of(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    s / n.max(1) as f64
}

/// Groups of additive terms of lhs − rhs merged where a set of them cancels draw by draw, in
/// every draw at every width (to 10⁻⁹ of their magnitudes): terms that cancel together
/// (1000·z − 1000·relu(z) + 1000·relu(−z), no two of which cancel) are one group, whose size
/// is 0, and cannot inflate the scale. Only exact cancellation merges: parts that cancel in
/// the limit only (Σw²/n against 1) are what the claim is about. Every set of groups is tried
/// up to [`MERGE_ALL_SETS`] groups, pairs and triples beyond; smaller sets first. A group with
/// a term that is not evaluated in some draw is left alone.
fn merge_cancelling(mut groups: Vec<Vec<usize>>, draws: &[&Draw]) -> Vec<Vec<usize>> {
    'merge: loop {
        let g = groups.len();
        // Each group's value in each draw.
        let values: Vec<Option<Vec<f64>>> = groups
            .iter()
            .map(|m| {
                draws
                    .iter()
                    .map(|x| m.iter().map(|t| x.terms[*t]).sum::<Option<f64>>())
                    .collect()
            })
            .collect();
        let mut sets: Vec<Vec<usize>> = if g <= MERGE_ALL_SETS {
            (1u32..(1 << g))
                .filter(|m| m.count_ones() >= 2)
                .map(|m| (0..g).filter(|i| m & (1 << i) != 0).collect())
                .collect()
        } else {
            (0..g)
                .flat_map(|a| {
                    (a + 1..g).flat_map(move |b| {
                        std::iter::once(vec![a, b]).chain((b + 1..g).map(move |c| vec![a, b, c]))
                    })
                })
                .collect()
        };
        sets.sort_by_key(Vec::len);
        for set in sets {
            let Some(vs) = set
                .iter()
                .map(|i| values[*i].as_ref())
                .collect::<Option<Vec<&Vec<f64>>>>()
            else {
                continue;
            };
            let cancels = (0..draws.len()).all(|d| {
                let (sum, size) = vs
                    .iter()
                    .fold((0.0, 0.0), |(s, a), v| (s + v[d], a + v[d].abs()));
                sum.abs() <= CANCEL_REL * size
            });
            if cancels {
                let mut merged = vec![];
                for i in set.iter().rev() {
                    merged.extend(groups.remove(*i));
                }
                merged.sort_unstable();
                groups.push(merged);
                continue 'merge;
            }
        }
        return groups;
    }
}

/// Groups up to which every set of them is tried by [`merge_cancelling`] (2⁸ sets).
const MERGE_ALL_SETS: usize = 8;

/// Is `value` 0 up to the rounding of terms of total size `magnitude`?
fn is_zero(value: f64, magnitude: f64) -> bool {
    value == 0.0 || value.abs() <= CANCEL_REL * magnitude
}

/// What is evaluated beyond the studied widths when it is 0 at every one of them.
#[derive(Debug, Clone, PartialEq)]
enum Probe {
    /// A set of the additive terms of lhs − rhs (one term, or a group of [`term_groups`]).
    Terms(Vec<usize>),
    /// lhs − rhs as the fit sees it: its exact mean over the link's Gaussian symbols, or itself
    /// when the sides do not depend on the draws.
    Whole,
}

/// The sets of terms (and lhs − rhs as fitted) that are 0 on every draw at every studied width:
/// single terms, the groups of [`term_groups`], and lhs − rhs when its exact means (or, for
/// deterministic sides, its values) are 0 there.
fn vanishing(draws: &[Vec<Draw>], plan: &Plan) -> Vec<Probe> {
    let terms = draws
        .last()
        .and_then(|d| d.first())
        .map_or(0, |x| x.terms.len());
    let all = || draws.iter().flatten();
    let zero_everywhere = |set: &[usize]| {
        all().all(|x| {
            set.iter()
                .map(|t| x.terms[*t])
                .collect::<Option<Vec<f64>>>()
                .is_some_and(|v| is_zero(v.iter().sum(), v.iter().map(|a| a.abs()).sum::<f64>()))
        })
    };
    let mut sets: Vec<Vec<usize>> = (0..terms).map(|t| vec![t]).collect();
    for g in term_groups(draws) {
        if !sets.contains(&g) {
            sets.push(g);
        }
    }
    let mut out: Vec<Probe> = sets
        .into_iter()
        .filter(|s| zero_everywhere(s))
        .map(Probe::Terms)
        .collect();
    let exact = all().all(|x| x.exact.is_some());
    if exact || plan.deterministic {
        let whole = all().all(|x| {
            let v = x.exact.unwrap_or(x.lhs - x.rhs);
            let size =
                x.lhs.abs() + x.rhs.abs() + x.terms.iter().flatten().map(|t| t.abs()).sum::<f64>();
            is_zero(v, size)
        });
        if whole {
            out.push(Probe::Whole);
        }
    }
    out
}

/// The single terms of lhs − rhs that are 0 on every draw at every studied width but the
/// largest, and not at it: they switched on within the study.
fn late_terms(draws: &[Vec<Draw>]) -> Vec<usize> {
    let Some((last, before)) = draws.split_last() else {
        return vec![];
    };
    if before.is_empty() {
        return vec![];
    }
    let terms = last.first().map_or(0, |x| x.terms.len());
    let zero = |x: &Draw, t: usize| x.terms[t].is_some_and(|v| v == 0.0);
    (0..terms)
        .filter(|t| {
            before.iter().flatten().all(|x| zero(x, *t)) && !last.iter().all(|x| zero(x, *t))
        })
        .collect()
}

/// How a configuration's probes are evaluated at a width other than the studied ones.
struct Prober<'a> {
    sides: &'a Sides<'a>,
    /// The environment at a width (one draw's: the first seed of the configuration).
    env: &'a (dyn Fn(usize) -> Env + Sync),
    /// Can the expression be evaluated on that environment? (With a network, only expressions
    /// of the width and of fixed quantities: a draw's arrays have the studied width.)
    usable: &'a (dyn Fn(&Expr) -> bool + Sync),
    /// The link's random symbols.
    random: &'a [Symbol],
    /// The sides do not depend on the draws.
    deterministic: bool,
}

impl Prober<'_> {
    fn exprs(&self, p: &Probe) -> Vec<&Expr> {
        match p {
            Probe::Terms(set) => set.iter().map(|t| &self.sides.scale_terms[*t].1).collect(),
            Probe::Whole => vec![self.sides.lhs, self.sides.rhs],
        }
    }

    /// Its cost grows with the width (a sum).
    fn summed(&self, p: &Probe) -> bool {
        self.exprs(p)
            .iter()
            .any(|e| e.as_ref().iter().any(|n| matches!(n, Math::Sum(_))))
    }

    /// It is random (evaluated on one draw), not a deterministic value or an exact mean.
    fn random(&self, p: &Probe) -> bool {
        match p {
            Probe::Terms(_) => self.exprs(p).iter().any(|e| uses_any(e, self.random)),
            Probe::Whole => false,
        }
    }

    /// The mean square of the terms `set` of lhs − rhs over the link's Gaussian symbols at
    /// width `w`, with its scale, where the evaluator computes it without sampling (exact
    /// moments, or quadrature over one or two entries): a part that is 0 on every draw may be
    /// nonzero on an event no draw reached (10⁶·step(β₁ − 4) has probability 3·10⁻⁵ and mean
    /// square 3·10⁷).
    fn mean_square(&self, set: &[usize], w: usize) -> Option<(f64, f64)> {
        let mut t = Expr::default();
        let mut sum: Option<egg::Id> = None;
        for i in set {
            let (positive, e) = &self.sides.scale_terms[*i];
            let mut id = append(&mut t, e);
            if !*positive {
                id = t.add(Math::Neg(id));
            }
            sum = Some(match sum {
                None => id,
                Some(a) => t.add(Math::Add([a, id])),
            });
        }
        let sq = t.add(Math::Mul([sum?, sum?]));
        t.add(Math::Expect(sq));
        if !(self.usable)(&t) {
            return None;
        }
        let env = (self.env)(w);
        let v = Evaluator::new(&env).eval(&t).ok()?;
        (v.stderr == 0.0 && v.value.is_finite() && v.scale.is_finite())
            .then_some((v.value, v.scale))
    }

    /// The terms `set` of lhs − rhs written as one sum, with their signs.
    fn terms_text(&self, set: &[usize]) -> String {
        let mut text = String::new();
        for (i, t) in set.iter().enumerate() {
            let (positive, e) = &self.sides.scale_terms[*t];
            text.push_str(match (i, positive) {
                (0, true) => "",
                (0, false) => "−",
                (_, true) => " + ",
                (_, false) => " − ",
            });
            text.push_str(&crate::expr::text(e));
        }
        text
    }

    fn label(&self, p: &Probe) -> String {
        match p {
            Probe::Terms(set) => {
                let text = self.terms_text(set);
                if set.len() == 1 {
                    format!("the term `{text}` of lhs − rhs")
                } else {
                    format!("the terms `{text}` of lhs − rhs together")
                }
            }
            Probe::Whole if self.deterministic => "lhs − rhs".into(),
            Probe::Whole => "the exact mean of lhs − rhs over the link's Gaussian symbols".into(),
        }
    }

    /// The probe's value at width `w` and the size of what it sums (for the rounding), where
    /// it evaluates to finite numbers.
    fn at(&self, p: &Probe, w: usize) -> Option<(f64, f64)> {
        if !self.exprs(p).iter().all(|e| (self.usable)(e)) {
            return None;
        }
        let env = (self.env)(w);
        let (value, size) = match p {
            Probe::Terms(set) => {
                let (mut value, mut size) = (0.0, 0.0);
                for t in set {
                    let (positive, e) = &self.sides.scale_terms[*t];
                    let v = side(&env, e).ok()?;
                    value += if *positive { v } else { -v };
                    size += v.abs();
                }
                (value, size)
            }
            Probe::Whole if self.deterministic => {
                let (l, r) = (
                    side(&env, self.sides.lhs).ok()?,
                    side(&env, self.sides.rhs).ok()?,
                );
                (l - r, l.abs() + r.abs())
            }
            Probe::Whole => {
                let mean = |e: &Expr, random: bool| -> Option<f64> {
                    if random {
                        match Evaluator::new(&env).exact_expectation(e)? {
                            Ok(v) => Some(v.value),
                            Err(_) => None,
                        }
                    } else {
                        side(&env, e).ok()
                    }
                };
                let l = mean(self.sides.lhs, self.sides.lhs_random)?;
                let r = mean(self.sides.rhs, self.sides.rhs_random)?;
                let value = self.sides.exact(&env, (l, r)).ok()??;
                (value, l.abs() + r.abs())
            }
        };
        (value.is_finite() && size.is_finite()).then_some((value, size))
    }
}

/// Does a deterministic probe clearly not shrink at its three largest widths (`v`, a factor
/// √10 apart), each above the resolution `needed`? See [`PROBE_PERSIST`].
fn persists(v: [f64; 3], needed: f64) -> bool {
    if v.iter().any(|x| x.abs() <= needed) {
        return false;
    }
    if v[2].abs() >= v[0].abs() {
        return true;
    }
    // Aitken's extrapolation assumes geometric convergence: the second change smaller than the
    // first and of its sign (not so just past a term's onset, relu(n − N)/(n·log n)).
    let (d1, d2) = (v[1] - v[0], v[2] - v[1]);
    let r = d2 / d1;
    if !(r > 0.0 && r < 1.0) {
        return false;
    }
    let c = v[2] - d2 * d2 / (d2 - d1);
    c * v[2] > 0.0 && c.abs() >= PROBE_PERSIST * v[2].abs()
}

/// A `limit` study checked beyond its widths: every term (or group, or lhs − rhs as fitted)
/// that is 0 at every studied width is evaluated at [`PROBE_OFF_GRID`] and [`PROBE_BEYOND`]
/// (those with a sum up to [`PROBE_SUM_MAX`], those without on to [`PROBE_FAR`]). Nonzero there, the link is not a limit:
/// `refuted` where it is deterministic and [`persists`], `unknown` otherwise. `None` when
/// nothing is 0 at the widths or everything stays 0.
fn beyond_widths(
    study: &Study,
    widths: &[usize],
    draws: &[Vec<Draw>],
    plan: &Plan,
    prober: &Prober,
) -> Option<Decision> {
    let largest = widths.iter().copied().max().unwrap_or(0);
    let shown = |ws: &[usize]| {
        ws.iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut unknown = None;
    let parts = vanishing(draws, plan);
    // Every single term that vanishes at the widths, together: one of them persisting beyond
    // the widths refutes the link only if they do not cancel each other there
    // (4·atan(1)·relu(n − 2000)/n − π·relu(n − 2000)/n is 0 at every n).
    let together = {
        let mut all: Vec<usize> = parts
            .iter()
            .filter_map(|p| match p {
                Probe::Terms(set) if set.len() == 1 => Some(set[0]),
                _ => None,
            })
            .collect();
        all.sort_unstable();
        Probe::Terms(all)
    };
    // A random part 0 on every draw whose mean square over the Gaussian symbols is not 0 (to
    // the resolution the claim needs): the draws missed where it is nonzero. Likewise a single
    // term 0 on every draw but at the largest width, where it switched on (0.1·β₁·step(n − 500)
    // was a `limit`: one width is too few to see whether it goes away).
    let late: Vec<Probe> = late_terms(draws)
        .into_iter()
        .map(|t| Probe::Terms(vec![t]))
        .collect();
    let before = &widths[..widths.len().saturating_sub(1)];
    for (p, switched) in parts
        .iter()
        .map(|p| (p, false))
        .chain(late.iter().map(|p| (p, true)))
    {
        let Probe::Terms(set) = p else { continue };
        if !prober.random(p) {
            continue;
        }
        if let Some((ms, scale)) = prober.mean_square(set, largest) {
            let rms = ms.max(0.0).sqrt();
            // Shrinking over the widths beyond the study (10⁶·step(β₁ − 4)/n), it goes to 0 in
            // mean square; not shrinking, or not known beyond, the draws are no evidence.
            let beyond: Vec<f64> = PROBE_BEYOND[..3]
                .iter()
                .filter_map(|w| prober.mean_square(set, *w))
                .map(|(ms, _)| ms.max(0.0).sqrt())
                .collect();
            let shrinks =
                beyond.len() == 3 && !persists([beyond[0], beyond[1], beyond[2]], study.needed);
            if rms > study.needed && ms > 1e-12 * scale && !shrinks {
                let label = prober.label(p);
                let seen = if switched {
                    format!(
                        "is 0 on every draw at n = {} and switches on at n = {largest}; its root mean square over the link's Gaussian symbols is {} there",
                        shown(before),
                        super::render::sig(rms)
                    )
                } else {
                    format!(
                        "is 0 on every draw at every studied width (n = {}), but its root mean square over the link's Gaussian symbols is {} at n = {largest}: it is nonzero on an event no draw reached",
                        shown(widths),
                        super::render::sig(rms)
                    )
                };
                unknown.get_or_insert_with(|| {
                    Decision::Unknown(format!(
                        "{label} {seen}, and it does not shrink beyond the studied widths"
                    ))
                });
            }
        }
    }
    for p in &parts {
        let p = p.clone();
        // A deterministic term with a sum costs about n evaluations: it is followed as far as
        // the evaluator's budget allows (3·10⁵); 1/n·Σ_k step(k − 20000) is 0 up to n = 20000
        // and tends to 1. Random parts and exact means (Σ over n random entries) stop at
        // PROBE_SUM_MAX.
        let cap = match &p {
            _ if !prober.summed(&p) => usize::MAX,
            // Deterministic: a term without random symbols, or the exact mean of lhs − rhs
            // (1/n·Σ_k w_k²·step(k − 20000.5), whose mean switches on at 20000, was a `limit`
            // when exact means stopped at PROBE_SUM_MAX).
            Probe::Whole => PROBE_SUM_DETERMINISTIC_MAX,
            Probe::Terms(_) if !prober.random(&p) => PROBE_SUM_DETERMINISTIC_MAX,
            _ => PROBE_SUM_MAX,
        };
        let far: &[usize] = if cap == usize::MAX { &PROBE_FAR } else { &[] };
        let probe_widths = PROBE_OFF_GRID
            .iter()
            .copied()
            .chain(PROBE_BLOCK_START..PROBE_BLOCK_START + PROBE_BLOCK_LEN)
            .chain(PROBE_BEYOND.iter().copied())
            .chain(far.iter().copied())
            .filter(|w| !widths.contains(w));
        let at = |w: usize| prober.at(&p, w).map(|(v, m)| (w, v, m));
        let tried: Vec<usize> = probe_widths.clone().filter(|w| *w <= cap).collect();
        let mut values: Vec<(usize, f64, f64)> = tried.iter().copied().filter_map(at).collect();
        let Some(&(w0, v0, _)) = values.iter().find(|(_, v, m)| !is_zero(*v, *m)) else {
            // 0 wherever it was evaluated; a width where it could not be is no evidence that
            // it stays 0 there (step(j − 2000) inside a sum was refused at j = 2000, and the
            // link was a `limit`).
            // An exact mean is followed beyond PROBE_SUM_MAX only as far as the evaluator's
            // budget allows (first_layer_cov's exceeds it at 10⁵): only a width up to there
            // that could not be evaluated leaves the link unknown.
            let required = if p == Probe::Whole {
                PROBE_SUM_MAX
            } else {
                cap
            };
            if let Some(w) = tried
                .iter()
                .filter(|w| **w <= required)
                .find(|w| !values.iter().any(|(v, ..)| v == *w))
            {
                let label = prober.label(&p);
                unknown.get_or_insert_with(|| {
                    Decision::Unknown(format!(
                        "{label} is 0 at every studied width (n = {}) but could not be evaluated at n = {w}: being 0 at the studied widths is no evidence that it vanishes as n → ∞",
                        shown(widths)
                    ))
                });
            }
            continue;
        };
        // Nonzero already, and deterministic: whether it shrinks is worth the larger widths
        // (as far as the evaluator's term budget allows) — links that hold never pay them.
        if cap < usize::MAX && !prober.random(&p) {
            values.extend(probe_widths.filter(|w| *w > cap).filter_map(at));
        }
        let label = prober.label(&p);
        let large: Vec<(usize, f64)> = values
            .iter()
            .filter(|(w, _, _)| *w > largest)
            .map(|(w, v, _)| (*w, *v))
            .collect();
        let last3 = (large.len() >= 3).then(|| &large[large.len() - 3..]);
        // With the other vanishing terms: the widths where the part persists, the sum there.
        let with_others = |l: &[(usize, f64)]| -> bool {
            if matches!(&p, Probe::Terms(set) if set.len() == 1)
                && matches!(&together, Probe::Terms(all) if all.len() > 1)
            {
                let sums: Option<Vec<f64>> = l
                    .iter()
                    .map(|(w, _)| prober.at(&together, *w).map(|(v, _)| v))
                    .collect();
                sums.is_some_and(|v| persists([v[0], v[1], v[2]], study.needed))
            } else {
                true
            }
        };
        if let Some(l) = last3.filter(|_| !prober.random(&p)) {
            if persists([l[0].1, l[1].1, l[2].1], study.needed) && with_others(l) {
                let at: Vec<String> = l
                    .iter()
                    .map(|(w, v)| format!("{} at n = {w}", super::render::sig(*v)))
                    .collect();
                return Some(Decision::Refuted(format!(
                    "{label} is 0 at every studied width (n = {}) but not beyond them: {} at n = {w0}, and {}; it does not shrink, so lhs − rhs does not go to 0",
                    shown(widths),
                    super::render::sig(v0),
                    at.join(", ")
                )));
            }
        }
        unknown.get_or_insert_with(|| {
            Decision::Unknown(format!(
                "{label} is 0 at every studied width (n = {}) but {} at n = {w0}{}: being 0 at the studied widths is no evidence that it vanishes as n → ∞",
                shown(widths),
                super::render::sig(v0),
                if prober.random(&p) { " (one draw)" } else { "" }
            ))
        });
    }
    unknown.or_else(|| sum_free_drift(study, widths, draws, plan, prober))
}

/// How much worse than its rounding floor a sum-free part may fit the study's law at the
/// studied widths (√(χ²/dof), see [`stats::LimitFit::scale_factor`]) and still be followed
/// beyond them by [`sum_free_drift`]: 10, residuals within 10⁻⁸ of the part.
const DRIFT_MISFIT: f64 = 10.0;

/// The terms of lhs − rhs free of sums and of random symbols, together, checked beyond the
/// studied widths: the study fits a + b·n^r + c·n^2r at its widths, and only the parts that
/// vanish there are probed beyond them — a part with a sum only up to [`PROBE_SUM_MAX`], a
/// random one not at all. A sum-free deterministic part costs one evaluation at any width, so
/// where it follows that law at the studied widths (to the rounding floor of the study,
/// [`FLOOR_REL`] of itself) it is evaluated at the largest of [`PROBE_FAR`] and compared with
/// the limit the law gives: where it departs from it by more than the resolution the claim
/// needs, the study's extrapolation of lhs − rhs does not hold there either, and nothing the
/// study saw says the other parts make up for it: `unknown`. A part that visibly departs from
/// the law at the studied widths (−n·eᵃ·cos a, cancelled there by a sum that grows like n) was
/// seen by the study and is left to it.
/// `(1/n)·Σ w_k² → 1 + n²/10¹⁸` was a `limit`: the exact mean of lhs − rhs, −n²/10¹⁸, is
/// 10⁻¹⁰ at n = 10007, the largest width a sum is probed at, and 10¹² at n = 10¹⁵.
fn sum_free_drift(
    study: &Study,
    widths: &[usize],
    draws: &[Vec<Draw>],
    plan: &Plan,
    prober: &Prober,
) -> Option<Decision> {
    let set: Vec<usize> = (0..prober.sides.scale_terms.len())
        .filter(|t| {
            let p = Probe::Terms(vec![*t]);
            !prober.summed(&p) && !prober.random(&p)
        })
        .collect();
    if set.is_empty() {
        return None;
    }
    let part = Probe::Terms(set.clone());
    // Its values at the studied widths (the same in every draw: it is deterministic).
    let means: Vec<f64> = draws
        .iter()
        .map(|ds| {
            let x = ds.first()?;
            set.iter().map(|t| x.terms.get(*t).copied().flatten()).sum()
        })
        .collect::<Option<_>>()?;
    let big = means.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
    let floor = (FLOOR_REL * big).max(f64::MIN_POSITIVE);
    let k = widths.len();
    let cov = DMatrix::from_fn(k, k, |i, j| if i == j { floor * floor } else { 0.0 });
    let xs: Vec<f64> = widths.iter().map(|w| *w as f64).collect();
    let fit = stats::limit_fit(&xs, &means, &cov, &[plan.rate, 2.0 * plan.rate], LEVEL, 1).ok()?;
    if fit.scale_factor > DRIFT_MISFIT {
        return None;
    }
    let (w, v) = PROBE_FAR
        .iter()
        .rev()
        .find_map(|w| prober.at(&part, *w).map(|(v, _)| (*w, v)))?;
    let law = fit.a;
    let off = (v - law).abs() - fit.a_interval.half_width;
    if off <= study.needed {
        return None;
    }
    Some(Decision::Unknown(format!(
        "the part `{}` of lhs − rhs that has no sum and no random symbol is {} at n = {w}, not the {} it tends to by the law it follows at the studied widths (n = {}): the study's extrapolation of lhs − rhs does not hold beyond its widths, and its other parts were not followed that far",
        prober.terms_text(&set),
        super::render::sig(v),
        super::render::sig(law),
        widths
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn rms_of(xs: impl Iterator<Item = f64>) -> f64 {
    mean_of(xs.map(|x| x * x)).sqrt()
}

/// The covariance of the per-width means of `y` (draws per width, in seed order), pairing draws
/// by seed across widths, with `dof` degrees of freedom.
fn seed_covariance(y: &[Vec<f64>], means: &[f64], dof: usize) -> DMatrix<f64> {
    let (k, seeds) = (y.len(), y.first().map_or(0, Vec::len));
    DMatrix::from_fn(k, k, |i, j| {
        let s: f64 = y[i]
            .iter()
            .zip(&y[j])
            .map(|(a, b)| (a - means[i]) * (b - means[j]))
            .sum();
        s / (dof as f64 * seeds as f64)
    })
}

/// How far from 0 a series of draws (one value per draw, per width) tends as the width grows:
/// |a| minus the half-width of a's interval (0 if the interval holds 0), with a extrapolated as
/// for lhs − rhs. `None` where a draw has no value or there is no fit.
fn limit_distance(
    widths: &[usize],
    draws: &[Vec<Draw>],
    value: impl Fn(&Draw) -> Option<f64>,
    powers: [f64; 2],
    level: f64,
) -> Option<f64> {
    extrapolate(widths, draws, value, powers, level).map(|(a, hw)| (a.abs() - hw).max(0.0))
}

/// The limit a of a series of draws (one value per draw, per width) as the width grows, fitted
/// as a + b·n^p₁ + c·n^p₂ to the means as for lhs − rhs, and the half-width of its interval.
fn extrapolate(
    widths: &[usize],
    draws: &[Vec<Draw>],
    value: impl Fn(&Draw) -> Option<f64>,
    powers: [f64; 2],
    level: f64,
) -> Option<(f64, f64)> {
    let y: Vec<Vec<f64>> = draws
        .iter()
        .map(|ds| ds.iter().map(&value).collect::<Option<Vec<f64>>>())
        .collect::<Option<_>>()?;
    let seeds = y.first()?.len();
    let means: Vec<f64> = y.iter().map(|v| mean_of(v.iter().copied())).collect();
    let big = means.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
    if big == 0.0 {
        return Some((0.0, 0.0));
    }
    let floor = FLOOR_REL * big;
    let dof = seeds.saturating_sub(1).max(1);
    let k = widths.len();
    let mut cov = seed_covariance(&y, &means, dof);
    for i in 0..k {
        cov[(i, i)] += floor * floor;
    }
    let xs: Vec<f64> = widths.iter().map(|w| *w as f64).collect();
    let fit = seed_fit(&xs, &means, &cov, &powers, level, dof).ok()?;
    Some((fit.a, fit.a_interval.half_width))
}

/// [`stats::limit_fit`] with a covariance of the means estimated from draws paired by seed
/// (`dof` degrees of freedom), its interval widened for the estimate: generalised least squares
/// with weights from an estimated covariance S (Wishart, n = `dof`) reports (X′S⁻¹X)⁻¹, whose
/// mean is (n − k + p)/n of (X′Σ⁻¹X)⁻¹, while the estimate's true variance is
/// (n − 1)/(n − k + p − 1) times it (k widths, p parameters). The standard error is multiplied
/// by the square root of both factors (1.07 at 48 draws and 6 widths; unbounded as n nears
/// k − p + 1), and a covariance with fewer than k + 2 degrees of freedom (singular or nearly)
/// gives no fit.
fn seed_fit(
    xs: &[f64],
    means: &[f64],
    cov: &DMatrix<f64>,
    powers: &[f64],
    level: f64,
    dof: usize,
) -> Result<stats::LimitFit, StatsError> {
    let (k, p) = (xs.len(), 1 + powers.len());
    if dof < k + 2 {
        return Err(StatsError::TooFewSamples {
            needed: k + 3,
            got: dof + 1,
        });
    }
    let mut fit = stats::limit_fit(xs, means, cov, powers, level, dof)?;
    let n = dof as f64;
    let free = (k - p) as f64;
    let factor = (n / (n - free) * (n - 1.0) / (n - free - 1.0)).sqrt();
    fit.a_std_err *= factor;
    fit.a_interval.half_width *= factor;
    Ok(fit)
}

/// The additive terms of lhs − rhs grouped as the scale of a study sees them: the terms that do
/// not change from draw to draw at any width summed into one, then every set that cancels draw
/// by draw merged ([`merge_cancelling`]).
fn term_groups(draws: &[Vec<Draw>]) -> Vec<Vec<usize>> {
    let k = draws.len();
    let terms = draws[k - 1].first().map_or(0, |x| x.terms.len());
    let all = || draws.iter().flatten();
    let steady = |t: usize| {
        draws.iter().all(|ds| {
            ds.first().is_some_and(|f| {
                ds.iter()
                    .all(|x| x.terms[t].is_some() && x.terms[t] == f.terms[t])
            })
        })
    };
    let mut group: Vec<usize> = (0..terms).collect();
    let fixed: Vec<usize> = (0..terms).filter(|t| steady(*t)).collect();
    if let Some(&first) = fixed.first() {
        for &t in &fixed {
            group[t] = first;
        }
    }
    let root_of = |g: &[usize], mut t: usize| {
        while g[t] != t {
            t = g[t];
        }
        t
    };
    let roots: BTreeSet<usize> = (0..terms).map(|t| root_of(&group, t)).collect();
    let groups: Vec<Vec<usize>> = roots
        .iter()
        .map(|r| (0..terms).filter(|t| root_of(&group, *t) == *r).collect())
        .collect();
    merge_cancelling(groups, &all().collect::<Vec<_>>())
}

/// Summarise one configuration's draws (per width, in seed order) into a [`Study`].
fn summarise(
    config: String,
    widths: &[usize],
    draws: &[Vec<Draw>],
    plan: &Plan,
) -> Result<Study, StudyError> {
    let seeds = draws.first().map_or(0, |d| d.len());
    let min = stats::MIN_SAMPLES.max(widths.len() + SEEDS_BEYOND_WIDTHS);
    if widths.len() < 4 || seeds < min {
        return Err(StudyError::TooSmall {
            min,
            widths: widths.len(),
            seeds,
        });
    }
    let k = widths.len();
    // Raw discrepancies.
    let d: Vec<Vec<f64>> = draws
        .iter()
        .map(|ds| ds.iter().map(|x| x.lhs - x.rhs).collect())
        .collect();
    let mut stats_w = vec![];
    for (i, &width) in widths.iter().enumerate() {
        let mean = stats::mean(&d[i])?;
        let std_err = stats::std_error(&d[i])?;
        stats_w.push(WidthStat {
            width,
            mean,
            std_err,
            rms: rms_of(d[i].iter().copied()),
            lhs: mean_of(draws[i].iter().map(|x| x.lhs)),
            rhs: mean_of(draws[i].iter().map(|x| x.rhs)),
            reduced_mean: mean,
            reduced_std_err: std_err,
        });
    }
    // The scale of the quantity: the larger RMS of the two sides at the largest width (or at any
    // width, if both vanish there).
    let side_scale = |i: usize| {
        rms_of(draws[i].iter().map(|x| x.lhs)).max(rms_of(draws[i].iter().map(|x| x.rhs)))
    };
    let mut scale = side_scale(k - 1);
    if scale == 0.0 {
        scale = (0..k).map(side_scale).fold(0.0, f64::max);
    }
    // The scale is what the claim is about: the limits the parts of lhs − rhs tend to, not
    // their size at a finite width. Parts the sides share exactly (`1000 + X` against
    // `1000 + 1.1·X`, or `1000·(1 + X/1000)` against it), a term that vanishes with the width
    // (`+ 10⁶/n`) and a random term that cancels draw by draw inflate the sides' RMS but have
    // no limit to resolve. Each additive term of the prover's normal form of lhs − rhs (or
    // each side, where there is none) is extrapolated like lhs − rhs; the scale is the largest
    // of those limits' distances from 0 beyond their intervals, and at most the sides' RMS.
    let level = 1.0 - ALPHA / plan.configs as f64;
    // Terms that do not change from draw to draw at any width (constants, functions of the
    // width or of the point) are summed into one first: equal constants written differently
    // (10⁶·sin²1 + 10⁶·cos²1 against 10⁶) cancel there even where the prover does not see it.
    // Terms that cancel draw by draw (1000·z against 1000·sign(z)·|z|) are summed likewise.
    // Each group's size is the limit of its root mean square as the width grows: a term that
    // vanishes with the width (10⁶/n) has none, a random term that persists (z·∇f) keeps its
    // spread.
    let rms_limit = |value: &dyn Fn(&Draw) -> Option<f64>| {
        let powers = [plan.rate, 2.0 * plan.rate];
        limit_distance(widths, draws, |x| value(x).map(|v| v * v), powers, level).map(f64::sqrt)
    };
    let groups = term_groups(draws);
    let group_value = |g: &[usize], x: &Draw| g.iter().map(|t| x.terms[*t]).sum::<Option<f64>>();
    let mut limit_scale = groups
        .iter()
        .filter_map(|g| rms_limit(&|x: &Draw| group_value(g, x)))
        .reduce(f64::max)
        .or_else(|| {
            [
                rms_limit(&|x: &Draw| Some(x.lhs)),
                rms_limit(&|x: &Draw| Some(x.rhs)),
            ]
            .into_iter()
            .flatten()
            .reduce(f64::max)
        });
    // Every part tends to 0 (η²f²/n → 0): the claim is measured against the parts' size at the
    // largest width, none of which can inflate it (each vanishes).
    if limit_scale == Some(0.0) {
        limit_scale = groups
            .iter()
            .filter_map(|g| {
                draws[k - 1]
                    .iter()
                    .map(|x| group_value(g, x))
                    .collect::<Option<Vec<f64>>>()
                    .map(|v| rms_of(v.into_iter()))
            })
            .reduce(f64::max)
            .filter(|s| *s > 0.0);
    }
    if let Some(s) = limit_scale {
        scale = scale.min(s);
    }
    // A declared resolution relaxes the default up to a tenth of the scale, not beyond.
    let cap = DECLARED_RESOLUTION_MAX_REL * scale;
    let needed = plan.declared.map_or(RESOLUTION_REL * scale, |r| r.min(cap));
    let capped = plan.declared.is_some_and(|r| r > cap);
    let last = stats_w.last().expect("at least four widths").clone();
    let mut study = Study {
        config,
        widths: stats_w,
        draws: seeds,
        slope: None,
        limit: 0.0,
        resolution: 0.0,
        needed,
        declared: plan.declared.is_some(),
        capped,
        scale,
        reduction: String::new(),
        rate_note: None,
        misfit: false,
        floor_suggested: false,
        decision: Decision::Limit,
        failure: None,
    };
    if d.iter().flatten().all(|x| *x == 0.0) {
        if plan.deterministic {
            study.reduction = "the sides do not depend on the draws".into();
        } else {
            study.decision = Decision::Unknown(EXACTLY_ZERO.into());
        }
        return Ok(study);
    }
    // The rate: supporting evidence, and the sides must come together.
    let mut falls = true;
    if !plan.deterministic {
        // Draws whose |lhs − rhs| is below the accuracy of the sides ([`FLOOR_REL`] of the
        // scale) are 0 as much as exact zeros are: their logarithms are rounding's (a quadrature
        // of ½ against ½ where exactly half the entries are positive), and they widened the
        // slope's interval to ±1 where the rms fell as n^(−1/2).
        let zero = FLOOR_REL * scale;
        let (mut xs, mut ys) = (vec![], vec![]);
        for (i, &w) in widths.iter().enumerate() {
            for x in d[i].iter().filter(|x| x.abs() > zero) {
                xs.push(w as f64);
                ys.push(x.abs());
            }
        }
        let level = stats::bonferroni(LEVEL, plan.configs)?;
        match loglog_fit(&xs, &ys, level) {
            Ok(fit) => {
                let (lo, hi) = (fit.slope_interval.lo(), fit.slope_interval.hi());
                study.slope = Some((fit.slope, fit.slope_interval.half_width));
                falls = hi < 0.0;
                if !(lo <= plan.rate && plan.rate <= hi) {
                    study.rate_note = Some(format!(
                        "|lhs − rhs| falls as width^({:.2} ± {:.2}), not width^({})",
                        fit.slope, fit.slope_interval.half_width, plan.rate
                    ));
                }
            }
            Err(e) => {
                study.rate_note = Some(format!("no log–log fit of |lhs − rhs|: {e}"));
            }
        }
    }
    // The values the limit term is fitted to: exact means over the link's Gaussian symbols where
    // every draw has one, then regression on the control variates.
    let exact = draws.iter().flatten().all(|x| x.exact.is_some());
    let q = draws[0][0].controls.len();
    let same_q = draws.iter().flatten().all(|x| x.controls.len() == q);
    // Each control variate used costs a degree of freedom of the covariance estimate, which
    // needs k + 2 ([`SEEDS_BEYOND_WIDTHS`]): with fewer left, the controls are not used.
    let controls_fit = seeds >= k + SEEDS_BEYOND_WIDTHS + q;
    let mut used = 0;
    let mut y: Vec<Vec<f64>> = Vec::with_capacity(k);
    for (i, ds) in draws.iter().enumerate() {
        let base: Vec<f64> = if exact {
            ds.iter().map(|x| x.exact.expect("checked")).collect()
        } else {
            d[i].clone()
        };
        if q > 0 && same_q && controls_fit {
            let controls: Vec<Vec<f64>> = (0..q)
                .map(|j| ds.iter().map(|x| x.controls[j]).collect())
                .collect();
            let adj = stats::control_variates(&base, &controls)?;
            used = used.max(adj.used);
            y.push(adj.values);
        } else {
            y.push(base);
        }
    }
    let mut parts = vec![];
    if exact {
        parts.push("exact mean over the link's Gaussian symbols".to_string());
    }
    if used > 0 {
        parts.push(format!("{used} control variates"));
    }
    study.reduction = if parts.is_empty() {
        "no variance reduction".into()
    } else {
        parts.join(", ")
    };
    let means: Vec<f64> = y.iter().map(|v| mean_of(v.iter().copied())).collect();
    for (w, m) in study.widths.iter_mut().zip(&means) {
        w.reduced_mean = *m;
    }
    // Covariance of the means, pairing draws by seed across widths; the regression on `used`
    // controls costs that many degrees of freedom.
    let dof = seeds.saturating_sub(1 + used).max(1);
    let floor = FLOOR_REL * scale;
    let mut cov = seed_covariance(&y, &means, dof);
    for i in 0..k {
        study.widths[i].reduced_std_err = cov[(i, i)].sqrt();
        cov[(i, i)] += floor * floor;
    }
    let xs: Vec<f64> = widths.iter().map(|w| *w as f64).collect();
    let powers = [plan.rate, 2.0 * plan.rate];
    let fit = seed_fit(&xs, &means, &cov, &powers, level, dof).map_err(StudyError::Fit)?;
    study.limit = fit.a;
    study.resolution = fit.a_interval.half_width;
    study.misfit = fit.scale_factor > 1.0 && stats::misfits(&fit, level, dof)?;
    let (a, hw) = (fit.a, fit.a_interval.half_width);
    // Where the means do not follow the model, its extrapolation is biased by what it misses
    // (−10/√n − ln(n)/n, which tends to 0, extrapolated to 0.014 ± 0.011 and was `refuted`):
    // an interval that excludes 0 refutes then only if the means at the largest widths do not
    // shrink towards 0 ([`persists`]).
    let excludes = !fit.a_interval.contains(0.0);
    let persisting = || persists([means[k - 3], means[k - 2], means[k - 1]], needed);
    // Convergence draw by draw: E[(lhs − rhs)²], extrapolated like the mean (a discrepancy of
    // order n^r has a mean square of order n^(2r)), must tend to 0.
    let mean_square = if plan.deterministic {
        None
    } else {
        extrapolate(
            widths,
            draws,
            |x| Some((x.lhs - x.rhs) * (x.lhs - x.rhs)),
            [2.0 * plan.rate, 4.0 * plan.rate],
            level,
        )
    };
    // A floor the interval does not yet exclude but the estimate points to (a > 0.8 of the
    // interval's half-width: for a discrepancy that does converge, about 2 % of studies at the
    // usual z ≈ 2.5) is worth more draws.
    study.floor_suggested = mean_square.is_some_and(|(a, hw)| a > 0.8 * hw && a <= hw);
    let mean_square_floor = || mean_square.map(|(a, hw)| a - hw).filter(|ms| *ms > 0.0);
    // The slope above is fitted to log |lhs − rhs| draw by draw, which is biased where draws
    // straddle 0 (a mean n^(−0.2) beside a spread √(2/n): the logs of the draws near 0 pull the
    // small widths down, and the slope came out −0.05 ± 0.10 while the rms fell as n^(−0.24)).
    // The root mean square per width is not: where it falls at the declared rate or faster, a
    // slope above the rate refutes nothing.
    let rms_falls_at_rate = || {
        let rms: Vec<(f64, f64)> = widths
            .iter()
            .zip(d.iter())
            .filter(|(_, ds)| !ds.is_empty())
            .map(|(w, ds)| (*w as f64, rms_of(ds.iter().copied())))
            .filter(|(_, r)| *r > 0.0 && r.is_finite())
            .collect();
        super::approx::fit_slope(&rms).is_some_and(|s| s <= plan.rate)
    };
    let decision = if excludes && (!study.misfit || persisting()) {
        Decision::Refuted(format!(
            "lhs − rhs tends to a = {a:.3e} ± {hw:.1e}, an interval that excludes 0 (at width {}: lhs ≈ {:.6}, rhs ≈ {:.6}): it does not go to 0",
            last.width, last.lhs, last.rhs
        ))
    } else if !falls && study.slope.is_some_and(|(s, h)| s - h > plan.rate) && !rms_falls_at_rate()
    {
        let (s, h) = study.slope.expect("fitted");
        Decision::Refuted(format!(
            "|lhs − rhs| does not fall with the width (slope {s:.2} ± {h:.2}): the sides do not come together"
        ))
    } else if !falls {
        // An interval that holds both 0 and the declared rate says nothing either way: more
        // draws, then `unknown` (1/n·Σ step(w_k) → ½ had a slope of −0.56 ± 1.01 and was
        // refuted).
        let (s, h) = study.slope.expect("fitted");
        Decision::Unknown(if s - h > plan.rate {
            format!(
                "the slope of |lhs − rhs| against the width, draw by draw, is {s:.2} ± {h:.2}, above the rate {}, but the root mean square per width falls at that rate or faster: whether the sides come together is not decided",
                plan.rate
            )
        } else {
            format!(
                "the slope of |lhs − rhs| against the width, {s:.2} ± {h:.2}, holds both 0 and the rate {}: whether the sides come together is not decided",
                plan.rate
            )
        })
    } else if let Some(ms) = mean_square_floor() {
        // The mean may tend to 0 while lhs − rhs does not: 1/n·Σw_k² + 0.1β → 1 has mean 1 at
        // every width and a discrepancy whose spread stays 0.1 (a random limit, not 1). A
        // floor that persists cannot be told from a discrepancy that shrinks more slowly
        // than the studied widths show, so it is `unknown`, not `refuted`.
        Decision::Unknown(format!(
            "the mean square of lhs − rhs tends to {:.3e} or more, not to 0 (fitted as a + b·n^({}) + c·n^({}); at width {}: {:.3e}): the sides do not come together draw by draw, or more slowly than the widths studied show",
            ms,
            2.0 * plan.rate,
            4.0 * plan.rate,
            last.width,
            last.rms * last.rms
        ))
    } else if study.misfit && (hw > needed || excludes) {
        // E.g. a discrepancy that oscillates with the width, (−1)ⁿ − 1: no extrapolation.
        let means: Vec<String> = study
            .widths
            .iter()
            .map(|w| format!("{} at {}", super::render::sig(w.reduced_mean), w.width))
            .collect();
        Decision::Unknown(format!(
            "the mean of lhs − rhs does not follow a + b·n^({}) + c·n^({}) ({}; χ²/dof = {:.1e}): the misfit widens a's interval to ±{hw:.1e}, coarser than the {needed:.1e} the claim needs, and more draws would not narrow it",
            plan.rate,
            2.0 * plan.rate,
            means.join(", "),
            fit.chi2 / fit.fit_dof as f64
        ))
    } else if hw > needed {
        Decision::Unknown(format!(
            "resolution {hw:.1e} after {seeds} draws per width is coarser than the {needed:.1e} the claim needs"
        ))
    } else {
        Decision::Limit
    };
    if let Decision::Refuted(m) = &decision {
        study.failure = Some(m.clone());
    }
    study.decision = decision;
    Ok(study)
}

/// Run one configuration: draw, summarise, and spend more draws (doubling, up to
/// [`MAX_DRAW_FACTOR`] × `seeds`) while the resolution is the only obstacle.
fn run_config<F>(
    config: String,
    widths: &[usize],
    seeds: usize,
    base: u64,
    plan: &Plan,
    draw: F,
    prober: &Prober,
) -> Result<Study, StudyError>
where
    F: Fn(usize, u64) -> Result<Draw, StudyError> + Sync,
{
    let mut per_width: Vec<Vec<Draw>> = vec![vec![]; widths.len()];
    let (mut total, mut batch) = (0usize, seeds);
    loop {
        let start = base + total as u64;
        let new = sample_widths(widths, start..start + batch as u64, &draw)?;
        for (all, more) in per_width.iter_mut().zip(new) {
            all.extend(more);
        }
        total += batch;
        let study = summarise(config.clone(), widths, &per_width, plan)?;
        let coarse = (matches!(study.decision, Decision::Unknown(_))
            && study.resolution > study.needed)
            || (study.decision == Decision::Limit && study.floor_suggested);
        // More draws cannot beat the floor.
        let floor_limited = FLOOR_REL * study.scale >= study.needed;
        if coarse
            && !floor_limited
            && !study.misfit
            && !plan.deterministic
            && 2 * total <= seeds * MAX_DRAW_FACTOR
        {
            batch = total;
            continue;
        }
        let mut study = study;
        if study.decision == Decision::Limit {
            if let Some(decision) = beyond_widths(&study, widths, &per_width, plan, prober) {
                if let Decision::Refuted(m) = &decision {
                    study.failure = Some(m.clone());
                }
                study.decision = decision;
            }
        }
        return Ok(study);
    }
}

/// Run the width study of the link `lhs` → `rhs` as `width` → ∞. `resolution` is the one the
/// link declares, if any; `scale_terms` are the additive terms of the prover's normal form of
/// lhs − rhs, if it has one (they bound the scale the resolution is relative to).
#[allow(clippy::too_many_arguments)]
pub fn study(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    scale_terms: &[(bool, Expr)],
    width: Symbol,
    rate: f64,
    resolution: Option<f64>,
    draws: &NetworkDraws,
) -> LimitEvidence {
    let mut ev = LimitEvidence {
        width,
        rate,
        seeds: SEEDS,
        source: "",
        studies: vec![],
        skipped: None,
    };
    let result = match &d.network {
        Some(spec) => network_studies(
            d,
            spec,
            (lhs, rhs, scale_terms),
            width,
            rate,
            resolution,
            draws,
            &mut ev,
        ),
        None => point_studies(d, (lhs, rhs, scale_terms), width, rate, resolution, &mut ev),
    };
    if let Err(e) = result {
        ev.skipped = Some(e.to_string());
    }
    ev
}

#[allow(clippy::too_many_arguments)]
fn network_studies(
    d: &Derivation,
    spec: &NetworkSpec,
    (lhs, rhs, scale_terms): (&Expr, &Expr, &[(bool, Expr)]),
    width: Symbol,
    rate: f64,
    resolution: Option<f64>,
    draws: &NetworkDraws,
    ev: &mut LimitEvidence,
) -> Result<(), StudyError> {
    if !spec
        .bind
        .iter()
        .any(|(s, q)| *s == width && *q == Quantity::Width)
    {
        return Err(StudyError::WidthNotBound(width));
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
        .filter(|(s, k)| {
            *k == super::file::Kind::Gaussian && !spec.bind.iter().any(|(b, _)| b == s)
        })
        .map(|(s, _)| *s)
        .collect();
    let sides = Sides::new(lhs, rhs, &random, scale_terms);
    let (vary_l, vary_r) = (varies(d, spec, lhs), varies(d, spec, rhs));
    let swapped: Vec<Symbol> = spec
        .bind
        .iter()
        .filter(|(_, q)| matches!(q, Quantity::Nngp(..) | Quantity::Ntk(..)))
        .map(|(s, _)| *s)
        .collect();
    let plan = Plan {
        rate,
        configs,
        declared: resolution,
        deterministic: !vary_l && !vary_r,
    };
    for &act in &spec.activations {
        for &depth in &spec.depths {
            let mut pairs = vec![];
            for a in 1..=spec.inputs.len() {
                for b in a..=spec.inputs.len() {
                    let (x, y) = (&spec.inputs[a - 1], &spec.inputs[b - 1]);
                    let hidden = analytic(spec, act, depth, x, y)?;
                    let out = output_kernels(spec, act, depth, x, y)?;
                    pairs.push((a, b, hidden, out));
                }
            }
            let kernels = Kernels { pairs };
            let base = config_seed(depth);
            // Sides that do not vary between draws are evaluated once, on the first draw.
            let (first, _, _) =
                network_draw(spec, act, depth, widths[0], base, &kernels, &random, draws)?;
            let fixed_l = (!vary_l).then(|| side(&first, lhs)).transpose()?;
            let fixed_r = (!vary_r).then(|| side(&first, rhs)).transpose()?;
            let fixed_terms: Vec<Option<Option<f64>>> = scale_terms
                .iter()
                .map(|(_, t)| (!varies(d, spec, t)).then(|| side(&first, t).ok()))
                .collect();
            let draw = |w: usize, s: u64| -> Result<Draw, StudyError> {
                let (env, mut controls, alt) =
                    network_draw(spec, act, depth, w, s, &kernels, &random, draws)?;
                let (lhs, rhs) = sides.draw(&env, (fixed_l, fixed_r))?;
                if let Some(alt) = &alt {
                    // Each side at the empirical output kernels minus itself at the
                    // infinite-width ones (when it uses them).
                    // (Both evaluated alone, so their draws of random symbols coincide.)
                    for e in [sides.lhs, sides.rhs] {
                        if uses_any(e, &swapped) {
                            controls.push(side(alt, e)? - side(&env, e)?);
                        }
                    }
                }
                let exact = sides.exact(&env, (lhs, rhs))?;
                Ok(Draw {
                    lhs,
                    rhs,
                    exact,
                    controls,
                    terms: sides.terms(&env, &fixed_terms),
                })
            };
            // Beyond the widths: the first draw's environment at another width, for
            // expressions of the width and fixed quantities only.
            let env_at = |w: usize| {
                let mut env = first.clone();
                env.set_scalar(width, w as f64);
                env
            };
            let usable = |e: &Expr| {
                used_symbols(&[e]).iter().all(|s| {
                    !random.contains(s)
                        && !spec
                            .bind
                            .iter()
                            .any(|(t, q)| t == s && q.is_drawn() && *q != Quantity::Width)
                })
            };
            let prober = Prober {
                sides: &sides,
                env: &env_at,
                usable: &usable,
                random: &random,
                deterministic: usable(lhs) && usable(rhs),
            };
            let config = format!("{act}, L = {depth}");
            ev.studies.push(run_config(
                config, &widths, seeds, base, &plan, draw, &prober,
            )?);
        }
    }
    Ok(())
}

fn point_studies(
    d: &Derivation,
    (lhs, rhs, scale_terms): (&Expr, &Expr, &[(bool, Expr)]),
    width: Symbol,
    rate: f64,
    resolution: Option<f64>,
    ev: &mut LimitEvidence,
) -> Result<(), StudyError> {
    ev.source = "the link's random symbols, drawn";
    let used = used_symbols(&[lhs, rhs]);
    let shown: Vec<Symbol> = used.iter().copied().filter(|s| *s != width).collect();
    let random: Vec<Symbol> = d
        .symbols
        .iter()
        .filter(|(_, k)| *k == super::file::Kind::Gaussian)
        .map(|(s, _)| *s)
        .collect();
    let sides = Sides::new(lhs, rhs, &random, scale_terms);
    // The other sizes at a thousandth of the sampled ones (at least 1): the study is about the
    // width; its cost grows with every other size too. Besides the sample points, the points
    // where another symbol passes the outermost zero of a subterm of the sides beyond the
    // range the points are drawn from (1/n·Σw² → 1 + relu(a − 10⁸) fails for a > 10⁸ only).
    let mut bases: Vec<_> = (0..POINT_CONFIGS)
        .map(|k| point_scaled(d, EDGE_POINTS + k, POINT_SHRINK))
        .collect();
    let far = super::violation::feature_points(d, lhs, rhs, width, &bases);
    bases.extend(far);
    // Where the means of the sides differ most at the largest width, as the inequality search
    // finds it (within the brackets of the sampled values): a wrong limit on a narrow band of
    // another symbol, e^(−10⁶(a − 0.3)²), that no subterm's zero marks. Only where those means
    // are exact (the search does not search Monte Carlo sides).
    if sides.expect {
        let mean = |e: &Expr| {
            if !uses_any(e, &random) {
                return e.clone();
            }
            let mut out = Expr::default();
            let root = append(&mut out, e);
            out.add(Math::Expect(root));
            out
        };
        let top = WIDTHS[2] as f64;
        bases.extend(super::violation::widest_gap(
            d,
            &mean(lhs),
            &mean(rhs),
            width,
            top,
        ));
    }
    let plan = Plan {
        rate,
        configs: bases.len(),
        declared: resolution,
        deterministic: !sides.expect,
    };
    for (k, base_env) in bases.into_iter().enumerate() {
        let base = 0x22_0000 + 1000 * k as u64;
        // The exact mean depends on the width only (the point's arrays are fixed): once per width.
        let mut exact = vec![];
        for &w in &WIDTHS {
            let mut env = base_env.clone();
            env.set_scalar(width, w as f64);
            let e = if sides.expect {
                let l = if sides.lhs_random {
                    0.0
                } else {
                    side(&env, lhs)?
                };
                let r = if sides.rhs_random {
                    0.0
                } else {
                    side(&env, rhs)?
                };
                sides.exact(&env, (l, r))?
            } else {
                None
            };
            exact.push((w, e));
        }
        let draw = |w: usize, s: u64| -> Result<Draw, StudyError> {
            let mut env = base_env.clone();
            env.set_scalar(width, w as f64);
            env.draw_seed = Some(s);
            let (lhs, rhs) = sides.draw(&env, (None, None))?;
            let exact = exact.iter().find(|(x, _)| *x == w).and_then(|(_, e)| *e);
            Ok(Draw {
                lhs,
                rhs,
                exact,
                controls: vec![],
                terms: sides.terms(&env, &[]),
            })
        };
        let config = match describe(d, &base_env, Some(&shown)) {
            c if c.is_empty() => format!("sample point {}", EDGE_POINTS + k + 1),
            c => c,
        };
        // Beyond the widths: the point at another width, on the configuration's first seed.
        let env_at = |w: usize| {
            let mut env = base_env.clone();
            env.set_scalar(width, w as f64);
            env.draw_seed = Some(base);
            env
        };
        let prober = Prober {
            sides: &sides,
            env: &env_at,
            usable: &|_: &Expr| true,
            random: &random,
            deterministic: plan.deterministic,
        };
        let mut study = run_config(config, &WIDTHS, SEEDS, base, &plan, draw, &prober)?;
        // At a feature point (the zero of a subterm: x₀ = 0 in θ₁·tanh(θ₂·x₀)) sides that agree
        // exactly on every draw hold the limit there; only at the sample points does that say
        // the study measured nothing.
        if k >= POINT_CONFIGS
            && matches!(&study.decision, Decision::Unknown(why) if why == EXACTLY_ZERO)
        {
            study.decision = Decision::Limit;
            study.reduction = "lhs − rhs is exactly 0 on every draw at this feature point".into();
        }
        ev.studies.push(study);
    }
    Ok(())
}

/// Why a study whose random sides agree exactly on every draw decides nothing.
const EXACTLY_ZERO: &str = "lhs − rhs is exactly 0 on every draw at every width: the sides are random and agree exactly, so there is no convergence to measure (check the link as an ordinary one)";

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// The fit with a covariance estimated from draws: its interval is the plain fit's times
    /// √(n/(n − k + p)·(n − 1)/(n − k + p − 1)) (1.0688 at n = 47, k = 6, p = 3), and a
    /// covariance with fewer than k + 2 degrees of freedom gives no fit.
    #[test]
    fn a_fit_on_an_estimated_covariance_is_widened_and_needs_draws_beyond_the_widths() {
        let xs: Vec<f64> = WIDTHS.iter().map(|w| *w as f64).collect();
        let means: Vec<f64> = xs.iter().map(|w| 0.3 / w.sqrt() - 1.0 / w).collect();
        let cov = DMatrix::from_fn(6, 6, |i, j| if i == j { 1e-4 } else { 2e-5 });
        let powers = [-0.5, -1.0];
        let plain = stats::limit_fit(&xs, &means, &cov, &powers, 0.99, 47).unwrap();
        let fit = seed_fit(&xs, &means, &cov, &powers, 0.99, 47).unwrap();
        let ratio = fit.a_interval.half_width / plain.a_interval.half_width;
        let exact = (47.0f64 / 44.0 * 46.0 / 43.0).sqrt();
        assert!((ratio - exact).abs() < 1e-12, "{ratio} vs {exact}");
        assert!((fit.a_std_err / plain.a_std_err - exact).abs() < 1e-12);
        assert_eq!(fit.a, plain.a);
        assert!(seed_fit(&xs, &means, &cov, &powers, 0.99, 8).is_ok());
        assert!(seed_fit(&xs, &means, &cov, &powers, 0.99, 7).is_err());
        assert!(seed_fit(&xs, &means, &cov, &powers, 0.99, 3).is_err());
    }

    #[test]
    fn study_errors_read_as_before_and_keep_their_cause() {
        let cause = StatsError::TooFewSamples { needed: 3, got: 1 };
        let e = StudyError::Fit(cause.clone());
        assert_eq!(
            e.to_string(),
            "the fit of the limit term failed: need at least 3 samples, got 1"
        );
        assert_eq!(e.source().unwrap().to_string(), cause.to_string());
        let e: StudyError = NetworkError::Width.into();
        assert_eq!(e.to_string(), "width must be at least 1");
        assert!(e.source().is_some());
        let e = StudyError::WidthNotBound(Symbol::from("n"));
        assert_eq!(
            e.to_string(),
            "`n` is not bound to the network's width in [network.bind]"
        );
    }
}
