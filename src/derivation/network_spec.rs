//! The `[network]` table of a derivation file: sampled finite-width networks whose quantities
//! (see [`Quantity`]) are bound to symbols, checked against the declarations and the budgets.

use egg::Symbol;

use super::{InputError, Kind, Loader, Quantity, RawNetwork};
use crate::limits::{MAX_NETWORK_BYTES, MAX_NETWORK_WORK};

/// The `[network]` table: sampled finite-width networks whose quantities are bound to symbols.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// The activations `phi` stands for in turn.
    pub activations: Vec<crate::numeric::activation::Activation>,
    /// The depths (numbers of hidden layers L) studied.
    pub depths: Vec<usize>,
    /// σw.
    pub sw: f64,
    /// σb.
    pub sb: f64,
    /// The inputs (each of the same dimension n₀).
    pub inputs: Vec<Vec<f64>>,
    /// Widths of the study (overrides the default).
    pub widths: Option<Vec<usize>>,
    /// Draws per width (overrides the default).
    pub seeds: Option<usize>,
    /// Which symbol stands for which network quantity.
    pub bind: Vec<(Symbol, Quantity)>,
    /// Gradient-descent training on input 1, if declared.
    pub train: Option<Train>,
}

/// Training of the sampled networks by gradient descent on input 1 with the loss ½(f(x₁) − y)²
/// (one training point, so the sum and mean scalings agree): `steps` steps of size `time/steps`
/// with learning rate `eta`, approximating the gradient flow up to `time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Train {
    /// Learning rate η.
    pub eta: f64,
    /// Training time t (η·t is the total step).
    pub time: f64,
    /// Number of gradient-descent steps.
    pub steps: usize,
    /// Target y for input 1.
    pub target: f64,
}

/// Check and convert the `[network]` table.
pub(super) fn network(
    l: &Loader,
    n: &RawNetwork,
    symbols: &[(Symbol, Kind)],
) -> Result<NetworkSpec, InputError> {
    use crate::numeric::activation::Activation;
    let mut activations = vec![];
    for a in n.activations.get_ref() {
        let act: Activation =
            a.parse()
                .map_err(|e: crate::numeric::activation::UnknownActivation| {
                    l.err(n.activations.span(), e.to_string(), "in this list")
                })?;
        activations.push(act);
    }
    if activations.is_empty() {
        return Err(l.err(n.activations.span(), "no activations given", "here"));
    }
    let depths = n.depths.get_ref().clone();
    if depths.is_empty() || depths.iter().any(|d| !(1..=8).contains(d)) {
        return Err(l.err(
            n.depths.span(),
            "depths must be a non-empty list of numbers in 1..8",
            "here",
        ));
    }
    for (v, what) in [(&n.sw, "sw"), (&n.sb, "sb")] {
        let x = *v.get_ref();
        let ok = x.is_finite() && if what == "sw" { x > 0.0 } else { x >= 0.0 };
        if !ok {
            return Err(l.err(
                v.span(),
                format!("{what} = {x} is not allowed"),
                if what == "sw" {
                    "needs a finite σw > 0"
                } else {
                    "needs a finite σb ≥ 0"
                },
            ));
        }
    }
    let inputs = n.inputs.get_ref().clone();
    let dim = inputs.first().map_or(0, Vec::len);
    if inputs.is_empty()
        || dim == 0
        || inputs
            .iter()
            .any(|x| x.len() != dim || x.iter().any(|v| !v.is_finite()))
    {
        return Err(l.err(
            n.inputs.span(),
            "inputs must be non-empty lists of finite numbers, all of the same length",
            "here",
        ));
    }
    let widths = match &n.widths {
        Some(w) => {
            let ws = w.get_ref().clone();
            let mut distinct = ws.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() < 4 || ws.iter().any(|&x| !(2..=8192).contains(&x)) {
                return Err(l.err(
                    w.span(),
                    "widths must hold at least 4 distinct numbers in 2..8192 (the fit has 3 parameters and measures its misfit)",
                    "here",
                ));
            }
            // Widths all in one residue class (all even, all multiples of 16, …) would see a
            // discrepancy periodic in the width, such as (−1)ⁿ − 1, at one phase only.
            let g = distinct.iter().fold(0, |g, w| gcd(g, w - distinct[0]));
            if g > 1 {
                return Err(l
                    .err(
                        w.span(),
                        format!(
                            "the widths are all congruent modulo {g} (≡ {} mod {g}): a discrepancy that is periodic in the width, such as (-1)^n - 1, would be seen at one phase only",
                            distinct[0] % g
                        ),
                        "here",
                    )
                    .with_help(format!(
                        "add a width that is not ≡ {} mod {g} (e.g. an odd one), or leave `widths` out (the default widths fall in every residue class modulo 2..6)",
                        distinct[0] % g
                    )));
            }
            Some(ws)
        }
        None => None,
    };
    // The covariance of the means across the widths is estimated from the draws.
    let least = widths
        .as_ref()
        .map_or(crate::precision::WIDTHS.len(), Vec::len)
        + crate::precision::SEEDS_BEYOND_WIDTHS;
    let seeds = match &n.seeds {
        Some(s) if !(least..=1000).contains(s.get_ref()) => {
            return Err(l.err(
                s.span(),
                format!(
                    "seeds must be in {least}..1000: the covariance of the means at {} widths is estimated from the draws per width, and needs {} more than there are widths",
                    least - crate::precision::SEEDS_BEYOND_WIDTHS,
                    crate::precision::SEEDS_BEYOND_WIDTHS
                ),
                "here",
            ))
        }
        s => s.as_ref().map(|s| *s.get_ref()),
    };
    network_budget(
        l,
        n,
        &activations,
        &depths,
        &inputs,
        widths.as_deref(),
        seeds,
    )?;
    let mut bind = vec![];
    for (name, spec) in &n.bind {
        let sym = Symbol::from(name.get_ref().as_str());
        let Some((_, kind)) = symbols.iter().find(|(s, _)| *s == sym) else {
            return Err(l.err(
                name.span(),
                format!("`{sym}` is bound but not declared"),
                "declare it under [symbols]",
            ));
        };
        let q = Quantity::parse(spec.get_ref(), inputs.len()).map_err(|m| {
            l.err(spec.span(), m, "here").with_help(format!(
                "quantities: {}",
                crate::derivation::quantity::listing()
            ))
        })?;
        if q.is_array() != (*kind == Kind::Array) {
            let want = if q.is_array() { "an array" } else { "a number" };
            return Err(l.err(
                spec.span(),
                format!(
                    "`{}` is {want}, but `{sym}` is declared {kind:?}",
                    spec.get_ref()
                ),
                "here",
            ));
        }
        bind.push((sym, q));
    }
    let train = match &n.train {
        None => None,
        Some(t) => {
            let r = t.get_ref();
            let ok = r.eta.is_finite()
                && r.eta > 0.0
                && r.time.is_finite()
                && r.time > 0.0
                && (1..=100_000).contains(&r.steps)
                && r.target.is_finite();
            if !ok {
                return Err(l.err(
                    t.span(),
                    "train needs eta > 0, time > 0, steps in 1..100000 and a finite target",
                    "here",
                ));
            }
            Some(Train {
                eta: r.eta,
                time: r.time,
                steps: r.steps,
                target: r.target,
            })
        }
    };
    let needs_train = bind.iter().any(|(_, q)| q.needs_training());
    if needs_train && train.is_none() {
        return Err(l
            .err(
                n.activations.span(),
                "training quantities are bound but [network] has no `train`",
                "in this [network]",
            )
            .with_help("add train = { eta = 0.5, time = 2.0, steps = 400, target = 0.5 }"));
    }
    Ok(NetworkSpec {
        activations,
        depths,
        sw: *n.sw.get_ref(),
        sb: *n.sb.get_ref(),
        inputs,
        widths,
        seeds,
        bind,
        train,
    })
}

/// Estimated (bytes of the largest network, multiply-adds of the whole study) of a `[network]`
/// width study; see [`MAX_NETWORK_BYTES`] and [`MAX_NETWORK_WORK`].
pub fn network_cost(
    activations: usize,
    depths: &[usize],
    inputs: usize,
    n0: usize,
    widths: &[usize],
    seeds: usize,
    train_steps: Option<usize>,
) -> (f64, f64) {
    let (a, m, n0, s) = (activations as f64, inputs as f64, n0 as f64, seeds as f64);
    let passes = 1.0 + 3.0 * train_steps.unwrap_or(0) as f64;
    let copies = if train_steps.is_some() { 3.0 } else { 1.0 };
    let mut bytes: f64 = 0.0;
    let mut work = 0.0;
    for &w in widths {
        let w = w as f64;
        for &d in depths {
            let l = d as f64;
            let params = n0 * w + (l - 1.0) * w * w + (l + 1.0) * w + 1.0;
            bytes = bytes.max(8.0 * (copies * params + 4.0 * l * w * m));
            work += params * (20.0 + m * passes) * s * a;
        }
    }
    (bytes, work)
}

/// Refuse a `[network]` table whose width study would exceed the memory or work budget.
fn network_budget(
    l: &Loader,
    n: &RawNetwork,
    activations: &[crate::numeric::activation::Activation],
    depths: &[usize],
    inputs: &[Vec<f64>],
    widths: Option<&[usize]>,
    seeds: Option<usize>,
) -> Result<(), InputError> {
    let widths = widths.unwrap_or(&crate::derivation::limit::WIDTHS);
    let seeds = seeds.unwrap_or(crate::derivation::limit::SEEDS);
    let steps = n.train.as_ref().map(|t| t.get_ref().steps);
    let (bytes, work) = network_cost(
        activations.len(),
        depths,
        inputs.len(),
        inputs[0].len(),
        widths,
        seeds,
        steps,
    );
    let mib = |b: f64| b / (1024.0 * 1024.0);
    if bytes > MAX_NETWORK_BYTES {
        let span = n.widths.as_ref().map_or(n.depths.span(), |w| w.span());
        return Err(l
            .err(
                span,
                format!(
                    "one sampled network of this width study needs about {:.0} MiB, more than the budget MAX_NETWORK_BYTES = {:.0} MiB",
                    mib(bytes),
                    mib(MAX_NETWORK_BYTES)
                ),
                "the widths and depths studied",
            )
            .with_help("use smaller widths or depths"));
    }
    if work > MAX_NETWORK_WORK {
        let span = n
            .seeds
            .as_ref()
            .map(|s| s.span())
            .or_else(|| n.widths.as_ref().map(|w| w.span()))
            .unwrap_or(n.depths.span());
        return Err(l
            .err(
                span,
                format!(
                    "this width study needs about {work:.1e} units of work (parameters sampled and multiply-adds), more than the budget MAX_NETWORK_WORK = {MAX_NETWORK_WORK:.0e}"
                ),
                "here",
            )
            .with_help("use fewer seeds, smaller widths, fewer depths or activations, or fewer training steps"));
    }
    Ok(())
}

/// The greatest common divisor (gcd(0, b) = b).
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
