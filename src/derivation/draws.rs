//! Sampled networks shared between width studies.
//!
//! A width study on a `[network]` samples, for every activation, depth, width and seed, a
//! finite-width network and computes its pre-activations, empirical kernels and (if the file
//! trains) its trained outputs: the expensive part of every limit link. Links that bind the same
//! network (the same activation, depth, σw, σb, inputs, training, width and seed) see the same
//! draw, so [`NetworkDraws::prepare`] samples each such network once, in parallel, before the
//! links are checked, and the studies read them from here. A draw that was not prepared (a study
//! that spends more draws than the first round) is sampled where it is needed; either way the
//! numbers are those of the same seeded network, so sharing changes no figure.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::collections::HashMap;

use super::file::{Derivation, NetworkSpec};
use super::limit::{config_seed, train, StudyError, SEEDS, WIDTHS};
use super::sides::SideValues;
use crate::numeric::activation::Activation;
use crate::numeric::kernel::Architecture;
use crate::numeric::network::{EmpiricalKernels, Network};

/// What a study reads from one sampled network.
#[derive(Debug, Clone)]
pub struct NetDraw {
    /// The last hidden layer's pre-activations (width × inputs), if bound.
    pub pre: Option<DMatrix<f64>>,
    /// The empirical kernels and outputs at initialisation, if bound.
    pub emp: Option<EmpiricalKernels>,
    /// The outputs after training, if bound.
    pub trained: Option<DVector<f64>>,
}

/// Which parts of a draw a `[network]` binds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Pre-activations.
    pub pre: bool,
    /// Empirical kernels and outputs.
    pub emp: bool,
    /// Trained outputs.
    pub trained: bool,
}

impl Needs {
    /// What the quantities bound by `spec` need.
    pub fn of(spec: &NetworkSpec) -> Needs {
        use super::quantity::Quantity as Q;
        let any = |f: fn(&Q) -> bool| spec.bind.iter().any(|(_, q)| f(q));
        let trained = spec.train.is_some() && any(|q| matches!(q, Q::TrainedOutput(_)));
        Needs {
            pre: any(|q| matches!(q, Q::Preactivation(_))),
            emp: any(|q| {
                matches!(
                    q,
                    Q::Output(_)
                        | Q::TrainedOutput(_)
                        | Q::Nngp(..)
                        | Q::Ntk(..)
                        | Q::EmpiricalNngp(..)
                        | Q::EmpiricalNtk(..)
                )
            }),
            trained,
        }
    }

    fn union(self, o: Needs) -> Needs {
        Needs {
            pre: self.pre || o.pre,
            emp: self.emp || o.emp,
            trained: self.trained || o.trained,
        }
    }

    fn covers(self, o: Needs) -> bool {
        (self.pre || !o.pre) && (self.emp || !o.emp) && (self.trained || !o.trained)
    }
}

/// Everything that decides a sampled network and what is computed on it (floats by their bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NetKey {
    act: String,
    depth: usize,
    sw: u64,
    sb: u64,
    inputs: Vec<Vec<u64>>,
    train: Option<[u64; 4]>,
    width: usize,
    seed: u64,
}

fn key(spec: &NetworkSpec, act: Activation, depth: usize, width: usize, seed: u64) -> NetKey {
    NetKey {
        act: format!("{act:?}"),
        depth,
        sw: spec.sw.to_bits(),
        sb: spec.sb.to_bits(),
        inputs: spec
            .inputs
            .iter()
            .map(|x| x.iter().map(|v| v.to_bits()).collect())
            .collect(),
        train: spec.train.map(|t| {
            [
                t.eta.to_bits(),
                t.time.to_bits(),
                t.steps as u64,
                t.target.to_bits(),
            ]
        }),
        width,
        seed,
    }
}

/// Sample the network of (`act`, `depth`, `width`, `seed`) and compute what `needs` asks for.
pub fn sample(
    spec: &NetworkSpec,
    act: Activation,
    depth: usize,
    width: usize,
    seed: u64,
    needs: Needs,
) -> Result<NetDraw, StudyError> {
    let arch = Architecture::new(act, depth, spec.sw, spec.sb)?;
    let net = Network::sample(&arch, spec.inputs[0].len(), width, seed)?;
    measure(&net, spec, needs)
}

/// What `needs` asks for, computed on `net`.
fn measure(net: &Network, spec: &NetworkSpec, needs: Needs) -> Result<NetDraw, StudyError> {
    let dim = spec.inputs[0].len();
    let rows: Vec<f64> = spec.inputs.iter().flatten().copied().collect();
    let inputs = DMatrix::from_row_slice(spec.inputs.len(), dim, &rows);
    let pre = if needs.pre {
        net.preactivations(&inputs)?.pop()
    } else {
        None
    };
    let emp = if needs.emp {
        Some(net.kernels(&inputs)?)
    } else {
        None
    };
    let trained = match spec.train {
        Some(t) if needs.trained => {
            let mut net = net.clone();
            train(&mut net, spec, &t).map_err(StudyError::Training)?;
            Some(net.outputs(&inputs)?)
        }
        _ => None,
    };
    Ok(NetDraw { pre, emp, trained })
}

/// A network to prepare: its file's `[network]`, activation, depth, width, seed and needs.
type Wanted<'a> = (&'a NetworkSpec, Activation, usize, usize, u64, Needs);

/// What decides a network's standard normal weights: depth, input dimension, width and seed.
type WeightKey = (usize, usize, usize, u64);

/// The networks sampled before the links are checked, and the values of the links' sides at
/// their points (computed as the links need them, see [`SideValues`]).
#[derive(Debug, Default)]
pub struct NetworkDraws {
    map: HashMap<NetKey, (Needs, NetDraw)>,
    /// Side values shared by the links checked with these draws.
    pub sides: SideValues,
}

impl NetworkDraws {
    /// No prepared draws: every study samples its own.
    pub fn none() -> NetworkDraws {
        NetworkDraws::default()
    }

    /// Sample, once each and in parallel, the networks of the first round of every width study
    /// of these derivations (the default or declared widths and seeds of each `[network]` with a
    /// `limit` link), computing for each what any of the derivations binds.
    pub fn prepare(ds: &[&Derivation]) -> NetworkDraws {
        let mut wanted: HashMap<NetKey, Wanted> = HashMap::new();
        for d in ds {
            let Some(spec) = &d.network else { continue };
            if !d.links().any(|l| l.step.limit.is_some()) {
                continue;
            }
            let needs = Needs::of(spec);
            let widths = spec.widths.clone().unwrap_or(WIDTHS.to_vec());
            let seeds = spec.seeds.unwrap_or(SEEDS) as u64;
            for &act in &spec.activations {
                for &depth in &spec.depths {
                    let base = config_seed(depth);
                    for &w in &widths {
                        for seed in base..base + seeds {
                            let k = key(spec, act, depth, w, seed);
                            let entry = wanted
                                .entry(k)
                                .or_insert((spec, act, depth, w, seed, needs));
                            entry.5 = entry.5.union(needs);
                        }
                    }
                }
            }
        }
        // Networks that differ only in their architecture (activation, σw, σb) have the same
        // standard normal weights for the same seed: drawn once per (depth, input dimension,
        // width, seed), then measured under each architecture.
        let mut groups: HashMap<WeightKey, Vec<(NetKey, Wanted)>> = HashMap::new();
        for (k, w) in wanted {
            let dim = w.0.inputs[0].len();
            groups.entry((w.2, dim, w.3, w.4)).or_default().push((k, w));
        }
        let map = groups
            .into_par_iter()
            .flat_map_iter(|((depth, dim, width, seed), members)| {
                let (spec0, act0) = (members[0].1 .0, members[0].1 .1);
                let base = Architecture::new(act0, depth, spec0.sw, spec0.sb)
                    .map_err(StudyError::from)
                    .and_then(|a| Ok(Network::sample(&a, dim, width, seed)?));
                members
                    .into_iter()
                    .filter_map(move |(k, (spec, act, depth, _, _, needs))| {
                        // A draw that fails is not kept: the study samples it again and says why.
                        let base = base.as_ref().ok()?;
                        let arch = Architecture::new(act, depth, spec.sw, spec.sb).ok()?;
                        let net = base.with_architecture(&arch).ok()?;
                        let draw = measure(&net, spec, needs).ok()?;
                        Some((k, (needs, draw)))
                    })
            })
            .collect();
        NetworkDraws {
            map,
            sides: SideValues::default(),
        }
    }

    /// The draw of (`act`, `depth`, `width`, `seed`) for `spec`: prepared, or sampled now.
    pub fn get(
        &self,
        spec: &NetworkSpec,
        act: Activation,
        depth: usize,
        width: usize,
        seed: u64,
    ) -> Result<std::borrow::Cow<'_, NetDraw>, StudyError> {
        let needs = Needs::of(spec);
        match self.map.get(&key(spec, act, depth, width, seed)) {
            Some((have, draw)) if have.covers(needs) => Ok(std::borrow::Cow::Borrowed(draw)),
            _ => Ok(std::borrow::Cow::Owned(sample(
                spec, act, depth, width, seed, needs,
            )?)),
        }
    }

    /// How many networks were prepared.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Were none prepared?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
