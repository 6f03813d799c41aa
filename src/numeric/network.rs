//! Finite-width fully connected networks in the NTK parameterization: sampling, batched forward
//! and backward passes, the empirical NNGP and NTK of one draw, the gradient of a squared loss,
//! Monte Carlo over draws, and the sampler of width studies.
//!
//! # Conventions (neural-tangents)
//!
//! With L hidden layers of width n, input dimension n₀ and a scalar readout,
//!
//! ```text
//! h¹      = σw/√n₀ · W¹ x       + σb · b¹
//! aˡ      = φ(hˡ)
//! hˡ⁺¹    = σw/√n  · Wˡ⁺¹ aˡ    + σb · bˡ⁺¹        (l = 1 … L; h^(L+1) = f has width 1)
//! ```
//!
//! with every entry of every W and b standard normal. Write n_{l−1} for the fan-in of layer l
//! (n₀ for l = 1, n otherwise), a⁰ = x, and δ_l = ∂f/∂hˡ, so δ_{L+1} = 1 and
//! δ_l = φ'(hˡ) ⊙ (σw/√n_l) (Wˡ⁺¹)ᵀ δ_{l+1}. Since ∂f/∂Wˡ_ij = δ_l,i · σw/√n_{l−1} · a^{l−1}_j and
//! ∂f/∂bˡ_i = σb · δ_l,i, the empirical NTK Θ̂(x, x') = Σ_θ ∂f(x)/∂θ · ∂f(x')/∂θ is, layer by layer,
//!
//! ```text
//! Θ̂(x, x') = Σ_{l=1}^{L+1} (δ_l(x)·δ_l(x')) · ( σw²/n_{l−1} · a^{l−1}(x)·a^{l−1}(x') + σb² )
//! ```
//!
//! and the empirical NNGP (the covariance the readout sees for this draw) is
//! Σ̂(x, x') = σw²/n · a^L(x)·a^L(x') + σb², the l = L+1 term. No Jacobian is formed: the cost is
//! four n×n×N matrix products for depth 3 (two forward, two backward) plus N×N Gram matrices.
//!
//! Inputs are given as an N×n₀ matrix, one input per row.

use std::ops::Range;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nalgebra::{DMatrix, DMatrixViewMut, DVector, Dyn, MatrixView};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;
use rayon::prelude::*;

use super::error::NumericError;
use super::kernel::Architecture;
use super::stats::{self, Quantile, StatsError};

/// Why a network could not be built or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    /// The architecture breaks a rule of [`Architecture`].
    #[error(transparent)]
    Architecture(#[from] NumericError),
    /// Width below 1.
    #[error("width must be at least 1")]
    Width,
    /// An architecture of another depth than the network's.
    #[error("the network has {have} hidden layers, the architecture {want}")]
    Depth {
        /// The network's depth.
        have: usize,
        /// The architecture's.
        want: usize,
    },
    /// Input dimension below 1.
    #[error("input dimension must be at least 1")]
    InputDim,
    /// No inputs given.
    #[error("no inputs given")]
    NoInputs,
    /// Inputs of the wrong dimension.
    #[error("inputs have dimension {got}, the network expects {expected}")]
    InputShape {
        /// The network's input dimension.
        expected: usize,
        /// The inputs' dimension.
        got: usize,
    },
    /// An input entry is NaN or infinite.
    #[error("input {row} has a non-finite entry")]
    NonFiniteInput {
        /// The offending input (row).
        row: usize,
    },
    /// A forward pass overflowed to a non-finite value.
    #[error("the network produced a non-finite value (overflow)")]
    NonFiniteOutput,
    /// A parameter vector of the wrong length.
    #[error("parameter vector has length {got}, the network has {expected} parameters")]
    ParameterLength {
        /// Number of parameters of the network.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// Targets of a loss of the wrong length.
    #[error("{got} targets for {expected} inputs")]
    TargetLength {
        /// Number of inputs.
        expected: usize,
        /// Number of targets.
        got: usize,
    },
    /// A statistic over seeds could not be formed.
    #[error("Monte Carlo statistics: {0}")]
    Stats(#[from] StatsError),
    /// A statistic failed at one kernel entry.
    #[error("Monte Carlo statistics of {kernel}[{i},{j}]: {source}")]
    EntryStats {
        /// "nngp" or "ntk".
        kernel: &'static str,
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// The underlying failure.
        source: StatsError,
    },
}

/// One dense layer z = σw/√fan_in · W a + σb · b, with W of shape fan_out × fan_in.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    w: DMatrix<f64>,
    b: DVector<f64>,
}

/// One draw of a finite-width network.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    arch: Architecture,
    input_dim: usize,
    width: usize,
    /// L hidden layers then the readout (1 × n).
    layers: Vec<Layer>,
}

/// The empirical kernels and outputs of one network on a batch of inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalKernels {
    /// f(x) for each input.
    pub outputs: DVector<f64>,
    /// Σ̂ = σw²/n · a^L(x)·a^L(x') + σb² (N×N).
    pub nngp: DMatrix<f64>,
    /// Θ̂ = Σ_θ ∂f(x)/∂θ ∂f(x')/∂θ (N×N).
    pub ntk: DMatrix<f64>,
}

impl Network {
    /// Samples a network: Pcg64 seeded with `seed`; for each layer in order, W column by column,
    /// then b, each entry standard normal.
    pub fn sample(
        arch: &Architecture,
        input_dim: usize,
        width: usize,
        seed: u64,
    ) -> Result<Self, NetworkError> {
        arch.validate()?;
        if input_dim < 1 {
            return Err(NetworkError::InputDim);
        }
        if width < 1 {
            return Err(NetworkError::Width);
        }
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut normal = |count: usize| -> Vec<f64> {
            (0..count)
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect()
        };
        let mut layers = Vec::with_capacity(arch.depth + 1);
        for l in 0..=arch.depth {
            let fan_in = if l == 0 { input_dim } else { width };
            let fan_out = if l == arch.depth { 1 } else { width };
            let w = DMatrix::from_vec(fan_out, fan_in, normal(fan_out * fan_in));
            let b = DVector::from_vec(normal(fan_out));
            layers.push(Layer { w, b });
        }
        Ok(Network {
            arch: *arch,
            input_dim,
            width,
            layers,
        })
    }

    /// The same weights and biases under another architecture of the same depth (another
    /// activation, σw or σb): the weights are standard normal whatever the architecture (NTK
    /// parameterisation), so this is the network [`Network::sample`] gives for `arch` and the same
    /// seed, without drawing them again.
    pub fn with_architecture(&self, arch: &Architecture) -> Result<Self, NetworkError> {
        arch.validate()?;
        if arch.depth != self.arch.depth {
            return Err(NetworkError::Depth {
                have: self.arch.depth,
                want: arch.depth,
            });
        }
        Ok(Network {
            arch: *arch,
            input_dim: self.input_dim,
            width: self.width,
            layers: self.layers.clone(),
        })
    }

    /// The total number of parameters (weights and biases of every layer, readout included).
    pub fn num_parameters(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// All parameters in sampling order: per layer, W column-major, then b.
    pub fn parameters(&self) -> Vec<f64> {
        let mut p = Vec::with_capacity(self.num_parameters());
        for l in &self.layers {
            p.extend_from_slice(l.w.as_slice());
            p.extend_from_slice(l.b.as_slice());
        }
        p
    }

    /// Replaces all parameters (same order as [`Network::parameters`]).
    pub fn set_parameters(&mut self, params: &[f64]) -> Result<(), NetworkError> {
        let expected = self.num_parameters();
        if params.len() != expected {
            return Err(NetworkError::ParameterLength {
                expected,
                got: params.len(),
            });
        }
        let mut rest = params;
        for l in &mut self.layers {
            let (w, r) = rest.split_at(l.w.len());
            l.w.as_mut_slice().copy_from_slice(w);
            let (b, r) = r.split_at(l.b.len());
            l.b.as_mut_slice().copy_from_slice(b);
            rest = r;
        }
        Ok(())
    }

    /// σw/√fan_in of layer `l` (0-based).
    fn scale(&self, l: usize) -> f64 {
        self.arch.sigma_w / (self.layers[l].w.ncols() as f64).sqrt()
    }

    /// Checks the inputs (N×n₀, finite) and returns them transposed: n₀×N, one input per column.
    fn columns(&self, inputs: &DMatrix<f64>) -> Result<DMatrix<f64>, NetworkError> {
        if inputs.nrows() == 0 {
            return Err(NetworkError::NoInputs);
        }
        if inputs.ncols() != self.input_dim {
            return Err(NetworkError::InputShape {
                expected: self.input_dim,
                got: inputs.ncols(),
            });
        }
        for (row, r) in inputs.row_iter().enumerate() {
            if r.iter().any(|x| !x.is_finite()) {
                return Err(NetworkError::NonFiniteInput { row });
            }
        }
        Ok(inputs.transpose())
    }

    /// Batched forward pass: returns the activations a⁰ = x, a¹ … a^L (each fan×N), the
    /// derivatives φ'(h¹) … φ'(h^L), and the outputs.
    fn forward_trace(
        &self,
        x: DMatrix<f64>,
        want_derivs: bool,
    ) -> (Vec<DMatrix<f64>>, Vec<DMatrix<f64>>, DVector<f64>) {
        let depth = self.arch.depth;
        let act = self.arch.activation;
        let sb = self.arch.sigma_b;
        let n_inputs = x.ncols();
        let mut acts = Vec::with_capacity(depth + 1);
        let mut derivs = Vec::with_capacity(depth);
        acts.push(x);
        for l in 0..depth {
            let layer = &self.layers[l];
            let mut h = DMatrix::zeros(layer.w.nrows(), n_inputs);
            gemm(self.scale(l), &layer.w, Op::N, &acts[l], Op::N, &mut h);
            let mut d = if want_derivs {
                DMatrix::zeros(h.nrows(), n_inputs)
            } else {
                DMatrix::zeros(0, 0)
            };
            let rows = h.nrows();
            let bias = layer.b.as_slice();
            if want_derivs {
                h.as_mut_slice()
                    .par_chunks_mut(rows)
                    .zip(d.as_mut_slice().par_chunks_mut(rows))
                    .for_each(|(hc, dc)| {
                        for ((hv, dv), bv) in hc.iter_mut().zip(dc.iter_mut()).zip(bias) {
                            let z = *hv + sb * bv;
                            *dv = act.deriv(z);
                            *hv = act.eval(z);
                        }
                    });
            } else {
                h.as_mut_slice().par_chunks_mut(rows).for_each(|hc| {
                    for (hv, bv) in hc.iter_mut().zip(bias) {
                        *hv = act.eval(*hv + sb * bv);
                    }
                });
            }
            acts.push(h);
            derivs.push(d);
        }
        let readout = &self.layers[depth];
        let mut f = DMatrix::zeros(1, n_inputs);
        gemm(
            self.scale(depth),
            &readout.w,
            Op::N,
            &acts[depth],
            Op::N,
            &mut f,
        );
        let out = DVector::from_iterator(n_inputs, f.iter().map(|v| v + sb * readout.b[0]));
        (acts, derivs, out)
    }

    /// The pre-activations h¹ … h^L (each width × N, one column per input) of this draw.
    pub fn preactivations(&self, inputs: &DMatrix<f64>) -> Result<Vec<DMatrix<f64>>, NetworkError> {
        let x = self.columns(inputs)?;
        let (act, sb) = (self.arch.activation, self.arch.sigma_b);
        let mut out: Vec<DMatrix<f64>> = Vec::with_capacity(self.arch.depth);
        let mut a = x;
        for l in 0..self.arch.depth {
            let layer = &self.layers[l];
            let mut h = DMatrix::zeros(layer.w.nrows(), a.ncols());
            gemm(self.scale(l), &layer.w, Op::N, &a, Op::N, &mut h);
            for mut col in h.column_iter_mut() {
                for (hv, bv) in col.iter_mut().zip(layer.b.iter()) {
                    *hv += sb * bv;
                }
            }
            a = h.map(|z| act.eval(z));
            out.push(finite_mat(h)?);
        }
        Ok(out)
    }

    /// f(x) for each input (row) of `inputs`.
    pub fn outputs(&self, inputs: &DMatrix<f64>) -> Result<DVector<f64>, NetworkError> {
        let x = self.columns(inputs)?;
        let (_, _, out) = self.forward_trace(x, false);
        finite_vec(out)
    }

    /// The empirical NTK Θ̂ of this draw (see the module docs for the structured form).
    pub fn empirical_ntk(&self, inputs: &DMatrix<f64>) -> Result<DMatrix<f64>, NetworkError> {
        Ok(self.kernels(inputs)?.ntk)
    }

    /// Outputs, empirical NNGP and empirical NTK in one forward and one backward pass.
    pub fn kernels(&self, inputs: &DMatrix<f64>) -> Result<EmpiricalKernels, NetworkError> {
        let x = self.columns(inputs)?;
        let n_inputs = x.ncols();
        let depth = self.arch.depth;
        let sb2 = self.arch.sigma_b.powi(2);
        let (acts, mut deltas, outputs) = self.forward_trace(x, true);
        self.backward(&mut deltas, &vec![1.0; n_inputs]);
        let c_out = self.scale(depth);

        // Θ̂ = Σ_l (δ_l·δ_l') ∘ (c_l² a^{l−1}·a^{l−1}' + σb²); the readout term has δ = 1.
        let nngp = gram(&acts[depth], c_out * c_out, sb2);
        let mut ntk = nngp.clone();
        for l in 0..depth {
            let c = self.scale(l);
            let ga = gram(&acts[l], c * c, sb2);
            let gd = gram(&deltas[l], 1.0, 0.0);
            ntk += ga.component_mul(&gd);
        }
        Ok(EmpiricalKernels {
            outputs: finite_vec(outputs)?,
            nngp: finite_mat(nngp)?,
            ntk: finite_mat(ntk)?,
        })
    }

    /// The backward pass: overwrites `derivs` (φ'(h¹) … φ'(h^L), each width × N) with
    /// δ_l = ∂(g_c·f(x_c))/∂hˡ, column c for input c, where `g` (length N) weights the outputs:
    /// g = 1 gives ∂f/∂hˡ (the empirical NTK), g = f − y the gradient of ½(f − y)².
    fn backward(&self, derivs: &mut [DMatrix<f64>], g: &[f64]) {
        let depth = self.arch.depth;
        let c_out = self.scale(depth);
        let readout = self.layers[depth].w.as_slice();
        derivs[depth - 1]
            .as_mut_slice()
            .par_chunks_mut(self.width)
            .zip(g.par_iter())
            .for_each(|(col, &gc)| {
                for (d, w) in col.iter_mut().zip(readout) {
                    *d *= c_out * w * gc;
                }
            });
        let mut back = DMatrix::zeros(self.width, g.len());
        for l in (0..depth - 1).rev() {
            // back = σw/√n · W^{l+2}ᵀ δ_{l+2}, in 1-based layer numbers.
            gemm(
                self.scale(l + 1),
                &self.layers[l + 1].w,
                Op::T,
                &derivs[l + 1],
                Op::N,
                &mut back,
            );
            derivs[l]
                .as_mut_slice()
                .par_iter_mut()
                .zip(back.as_slice().par_iter())
                .for_each(|(d, b)| *d *= b);
        }
    }

    /// The outputs f(x_c) for the inputs (rows of `inputs`) and the gradient of the squared loss
    /// ½·Σ_c (f(x_c) − y_c)² in the order of [`Network::parameters`], by one batched forward and
    /// one backward pass: with δ_{L+1} = f − y, ∂/∂Wˡ = σw/√n_{l−1} · δ_l (a^{l−1})ᵀ and
    /// ∂/∂bˡ = σb · Σ_c δ_l,c.
    pub fn loss_gradient(
        &self,
        inputs: &DMatrix<f64>,
        targets: &[f64],
    ) -> Result<(DVector<f64>, Vec<f64>), NetworkError> {
        let x = self.columns(inputs)?;
        if targets.len() != x.ncols() {
            return Err(NetworkError::TargetLength {
                expected: x.ncols(),
                got: targets.len(),
            });
        }
        let (acts, mut deltas, outputs) = self.forward_trace(x, true);
        let outputs = finite_vec(outputs)?;
        let residual: Vec<f64> = outputs.iter().zip(targets).map(|(f, y)| f - y).collect();
        self.backward(&mut deltas, &residual);
        deltas.push(DMatrix::from_row_slice(1, residual.len(), &residual));
        let mut grad = Vec::with_capacity(self.num_parameters());
        for (l, (delta, a)) in deltas.iter().zip(&acts).enumerate() {
            let mut gw = DMatrix::zeros(delta.nrows(), a.nrows());
            gemm(self.scale(l), delta, Op::N, a, Op::T, &mut gw);
            grad.extend_from_slice(gw.as_slice());
            grad.extend(delta.row_iter().map(|r| self.arch.sigma_b * r.sum()));
        }
        if grad.iter().all(|v| v.is_finite()) {
            Ok((outputs, grad))
        } else {
            Err(NetworkError::NonFiniteOutput)
        }
    }

    /// f at one input by plain loops (no batching); an independent reference for the tests.
    #[cfg(test)]
    fn output_at(&self, x: &[f64]) -> Result<f64, NetworkError> {
        let m = DMatrix::from_row_slice(1, x.len(), x);
        self.columns(&m)?;
        let (acts, _) = self.loop_forward(x);
        let f = acts.last().expect("readout")[0];
        if f.is_finite() {
            Ok(f)
        } else {
            Err(NetworkError::NonFiniteOutput)
        }
    }

    /// Activations a⁰ … a^L, readout output appended as a length-1 vector, and φ'(h¹) … φ'(h^L).
    #[cfg(test)]
    fn loop_forward(&self, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let act = self.arch.activation;
        let sb = self.arch.sigma_b;
        let mut acts = vec![x.to_vec()];
        let mut derivs = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let c = self.scale(l);
            let prev = &acts[l];
            let h: Vec<f64> = (0..layer.w.nrows())
                .map(|i| {
                    let dot: f64 = (0..layer.w.ncols())
                        .map(|j| layer.w[(i, j)] * prev[j])
                        .sum();
                    c * dot + sb * layer.b[i]
                })
                .collect();
            if l < self.arch.depth {
                derivs.push(h.iter().map(|&z| act.deriv(z)).collect());
                acts.push(h.iter().map(|&z| act.eval(z)).collect());
            } else {
                acts.push(h);
            }
        }
        (acts, derivs)
    }

    /// The explicit gradient ∂f(x)/∂θ for one input, one entry per parameter in the order of
    /// [`Network::parameters`], by plain per-parameter loops (∂f/∂Wˡ_ij = δ_l,i σw/√n_{l−1} a^{l−1}_j,
    /// ∂f/∂bˡ_i = σb δ_l,i); an independent reference for the tests of the batched passes.
    #[cfg(test)]
    fn gradient(&self, x: &[f64]) -> Result<Vec<f64>, NetworkError> {
        let m = DMatrix::from_row_slice(1, x.len(), x);
        self.columns(&m)?;
        let (acts, derivs) = self.loop_forward(x);
        let depth = self.arch.depth;
        // deltas[l] = ∂f/∂h^{l+1}, 0-based layer l.
        let mut deltas: Vec<Vec<f64>> = vec![Vec::new(); depth + 1];
        deltas[depth] = vec![1.0];
        for l in (0..depth).rev() {
            let next = &self.layers[l + 1];
            let c = self.scale(l + 1);
            deltas[l] = (0..next.w.ncols())
                .map(|j| {
                    let back: f64 = (0..next.w.nrows())
                        .map(|i| next.w[(i, j)] * deltas[l + 1][i])
                        .sum();
                    derivs[l][j] * c * back
                })
                .collect();
        }
        let mut g = Vec::with_capacity(self.num_parameters());
        for (l, (a_prev, delta)) in acts.iter().zip(&deltas).enumerate() {
            let c = self.scale(l);
            // W is stored column-major: all rows i of column j, then column j + 1.
            for &a in a_prev {
                g.extend(delta.iter().map(|d| d * c * a));
            }
            g.extend(delta.iter().map(|d| self.arch.sigma_b * d));
        }
        if g.iter().all(|v| v.is_finite()) {
            Ok(g)
        } else {
            Err(NetworkError::NonFiniteOutput)
        }
    }
}

fn finite_vec(v: DVector<f64>) -> Result<DVector<f64>, NetworkError> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(v)
    } else {
        Err(NetworkError::NonFiniteOutput)
    }
}

fn finite_mat(m: DMatrix<f64>) -> Result<DMatrix<f64>, NetworkError> {
    if m.iter().all(|x| x.is_finite()) {
        Ok(m)
    } else {
        Err(NetworkError::NonFiniteOutput)
    }
}

/// alpha · aᵀa + beta (entrywise), symmetrised exactly.
fn gram(a: &DMatrix<f64>, alpha: f64, beta: f64) -> DMatrix<f64> {
    let n = a.ncols();
    let mut g = DMatrix::zeros(n, n);
    gemm(alpha, a, Op::T, a, Op::N, &mut g);
    for j in 0..n {
        for i in 0..j {
            let s = 0.5 * (g[(i, j)] + g[(j, i)]) + beta;
            g[(i, j)] = s;
            g[(j, i)] = s;
        }
        g[(j, j)] += beta;
    }
    g
}

/// Transpose flag for [`gemm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    N,
    T,
}

/// op(x) as a view of x's column-major storage: a transpose is a swap of the strides.
fn op_view(x: &DMatrix<f64>, t: Op) -> Strided<'_> {
    let (r, c) = x.shape();
    match t {
        Op::N => Strided::from_slice_with_strides(x.as_slice(), r, c, 1, r),
        Op::T => Strided::from_slice_with_strides(x.as_slice(), c, r, r, 1),
    }
}

/// A matrix view with run-time strides.
type Strided<'a> = MatrixView<'a, f64, Dyn, Dyn, Dyn, Dyn>;

/// Products with a dimension up to this size go to nalgebra's level-2 routines on contiguous
/// columns ([`small_gemm`]): nalgebra's `gemm` calls matrixmultiply (which takes any strides)
/// only when every dimension exceeds 5, and below that its column-by-column path misreads views
/// whose row stride is not 1, so transposed views must not reach it.
const SMALL: usize = 8;

/// Products below this many multiply-adds run as one block.
const PARALLEL_FLOPS: usize = 1 << 21;

/// out ← alpha · op(a) · op(b) by nalgebra's `gemm` (matrixmultiply) on strided views, so
/// transposes are not copied; products with a small dimension go to [`small_gemm`]. Large
/// products are split into blocks of at least 128 rows of `out` (disjoint mutable views from
/// nalgebra's `rows_range_pair_mut`) computed in parallel. The split depends only on the shapes,
/// so results do not depend on the number of threads.
fn gemm(alpha: f64, a: &DMatrix<f64>, ta: Op, b: &DMatrix<f64>, tb: Op, out: &mut DMatrix<f64>) {
    let (av, bv) = (op_view(a, ta), op_view(b, tb));
    let (m, k) = av.shape();
    let n = bv.ncols();
    assert_eq!(k, bv.nrows(), "gemm: inner dimensions differ");
    assert_eq!((m, n), out.shape(), "gemm: output shape");
    if m == 0 || n == 0 {
        return;
    }
    if m.min(k).min(n) <= SMALL {
        small_gemm(alpha, a, ta, b, tb, out);
        return;
    }
    let blocks = if m * n * k < PARALLEL_FLOPS {
        1
    } else {
        m.div_ceil(128).clamp(1, 8)
    };
    let rows_per = m.div_ceil(blocks).div_ceil(8) * 8;
    row_blocks(alpha, &av, &bv, 0, rows_per, &mut out.as_view_mut());
}

/// Rows `r0..` of op(a)·op(b) into `out` (those rows of the product), split at multiples of
/// `rows_per` into halves run with `rayon::join`.
fn row_blocks(
    alpha: f64,
    av: &Strided<'_>,
    bv: &Strided<'_>,
    r0: usize,
    rows_per: usize,
    out: &mut DMatrixViewMut<'_, f64>,
) {
    let rows = out.nrows();
    let blocks = rows.div_ceil(rows_per);
    if blocks <= 1 {
        // Every dimension exceeds SMALL here (blocks have ≥ 56 rows), so nalgebra takes
        // matrixmultiply, which reads any strides.
        out.gemm(alpha, &av.rows(r0, rows), bv, 0.0);
        return;
    }
    let split = blocks / 2 * rows_per;
    let (mut top, mut bottom) = out.rows_range_pair_mut(0..split, split..);
    rayon::join(
        || row_blocks(alpha, av, bv, r0, rows_per, &mut top),
        || row_blocks(alpha, av, bv, r0 + split, rows_per, &mut bottom),
    );
}

/// out ← alpha · op(a) · op(b) for a product with a small dimension (see [`SMALL`]), by
/// nalgebra's `gemm`, `gemm_tr` and `ger` on the contiguous matrices.
fn small_gemm(
    alpha: f64,
    a: &DMatrix<f64>,
    ta: Op,
    b: &DMatrix<f64>,
    tb: Op,
    out: &mut DMatrix<f64>,
) {
    match (ta, tb) {
        (Op::N, Op::N) if a.nrows() == 1 => {
            // A row times a matrix (the readout): dot products with the columns of b.
            let mut y = DVector::zeros(b.ncols());
            y.gemv_tr(alpha, b, &a.row(0).transpose(), 0.0);
            out.row_mut(0).tr_copy_from(&y);
        }
        (Op::N, Op::N) => out.gemm(alpha, a, b, 0.0),
        (Op::T, Op::N) => out.gemm_tr(alpha, a, b, 0.0),
        (Op::N, Op::T) => {
            // a·bᵀ = Σ_k a[:, k] b[:, k]ᵀ.
            out.fill(0.0);
            for (x, y) in a.column_iter().zip(b.column_iter()) {
                out.ger(alpha, &x, &y, 1.0);
            }
        }
        (Op::T, Op::T) => {
            // aᵀbᵀ = (b·a)ᵀ.
            let mut ba = DMatrix::zeros(b.nrows(), a.ncols());
            ba.gemm(alpha, b, a, 0.0);
            out.copy_from(&ba.transpose());
        }
    }
}

/// Options for [`empirical_kernels_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McOptions {
    /// Family confidence level of all intervals together (default 0.95).
    pub level: f64,
    /// Reference distribution of the intervals (default Student t with seeds − 1 dof).
    pub quantile: Quantile,
    /// Show a progress bar (default true; it hides itself when stderr is not a terminal).
    pub progress: bool,
}

impl Default for McOptions {
    fn default() -> Self {
        McOptions {
            level: crate::precision::MC_LEVEL,
            quantile: Quantile::StudentT,
            progress: true,
        }
    }
}

/// Monte Carlo estimates of the expected empirical kernels over independent draws.
#[derive(Debug, Clone, PartialEq)]
pub struct McKernels {
    /// Mean over seeds of Σ̂ (N×N).
    pub nngp_mean: DMatrix<f64>,
    /// Confidence half-widths for each entry of `nngp_mean`.
    pub nngp_half_width: DMatrix<f64>,
    /// Mean over seeds of Θ̂ (N×N).
    pub ntk_mean: DMatrix<f64>,
    /// Confidence half-widths for each entry of `ntk_mean`.
    pub ntk_half_width: DMatrix<f64>,
    /// Number of draws.
    pub seeds: usize,
    /// Per-interval coverage after the Bonferroni correction over all N(N+1) distinct entries.
    pub level: f64,
}

/// The draws for `seeds` = count, starting at `base_seed` (seed of draw i is base_seed + i).
fn seed_range(seeds: usize, base_seed: u64) -> Range<u64> {
    base_seed..base_seed.wrapping_add(seeds as u64)
}

fn progress_bar(len: usize, show: bool, msg: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    // indicatif's stderr target draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} draws ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(msg);
    bar
}

/// Running per-entry mean and sum of squared deviations (Welford), fed in seed order.
struct Accumulator {
    n: usize,
    mean: DMatrix<f64>,
    m2: DMatrix<f64>,
}

impl Accumulator {
    fn new(size: usize) -> Self {
        Accumulator {
            n: 0,
            mean: DMatrix::zeros(size, size),
            m2: DMatrix::zeros(size, size),
        }
    }
    fn push(&mut self, x: &DMatrix<f64>) {
        self.n += 1;
        let n = self.n as f64;
        for ((m, s), v) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(x.iter()) {
            let d = v - *m;
            *m += d / n;
            *s += d * (v - *m);
        }
    }
    fn half_widths(
        &self,
        kernel: &'static str,
        level: f64,
        quantile: Quantile,
        comparisons: usize,
    ) -> Result<(DMatrix<f64>, f64), NetworkError> {
        let size = self.mean.nrows();
        let mut hw = DMatrix::zeros(size, size);
        let mut used = level;
        for j in 0..size {
            for i in 0..size {
                let se = (self.m2[(i, j)] / (self.n - 1) as f64 / self.n as f64).sqrt();
                let ci = stats::interval_from(
                    self.mean[(i, j)],
                    se,
                    self.n,
                    level,
                    quantile,
                    comparisons,
                )
                .map_err(|source| NetworkError::EntryStats {
                    kernel,
                    i,
                    j,
                    source,
                })?;
                hw[(i, j)] = ci.half_width;
                used = ci.level;
            }
        }
        Ok((hw, used))
    }
}

/// Monte Carlo of the empirical NNGP and NTK over `seeds` independent draws (seed of draw i is
/// `base_seed + i`), parallel over draws with rayon. Per-draw results are combined in seed
/// order, so the result does not depend on the number of threads. Intervals are simultaneous:
/// Bonferroni over the N(N+1) distinct entries of the two symmetric kernels.
pub fn empirical_kernels_with(
    arch: &Architecture,
    inputs: &DMatrix<f64>,
    width: usize,
    seeds: usize,
    base_seed: u64,
    options: &McOptions,
) -> Result<McKernels, NetworkError> {
    arch.validate()?;
    if seeds < stats::MIN_SAMPLES {
        return Err(StatsError::TooFewSamples {
            needed: stats::MIN_SAMPLES,
            got: seeds,
        }
        .into());
    }
    let n = inputs.nrows();
    let mut nngp = Accumulator::new(n);
    let mut ntk = Accumulator::new(n);
    let bar = progress_bar(
        seeds,
        options.progress,
        format!("{} L={} n={width}", arch.activation, arch.depth),
    );
    let all: Vec<u64> = seed_range(seeds, base_seed).collect();
    let chunk = 2 * rayon::current_num_threads().max(1);
    for group in all.chunks(chunk) {
        let results: Vec<Result<EmpiricalKernels, NetworkError>> = group
            .par_iter()
            .map(|&seed| {
                let net = Network::sample(arch, inputs.ncols(), width, seed)?;
                let k = net.kernels(inputs);
                bar.inc(1);
                k
            })
            .collect();
        for r in results {
            let k = r?;
            nngp.push(&k.nngp);
            ntk.push(&k.ntk);
        }
    }
    bar.finish_and_clear();
    let comparisons = n * (n + 1);
    let (nngp_half_width, level) =
        nngp.half_widths("nngp", options.level, options.quantile, comparisons)?;
    let (ntk_half_width, _) =
        ntk.half_widths("ntk", options.level, options.quantile, comparisons)?;
    Ok(McKernels {
        nngp_mean: nngp.mean,
        nngp_half_width,
        ntk_mean: ntk.mean,
        ntk_half_width,
        seeds,
        level,
    })
}

/// The draws of a width study: `draw(width, seed)` for every width and every seed of `seeds`,
/// run in parallel over all pairs. Row i of the result holds the draws at `widths[i]` in seed
/// order. Every width uses the same seeds: common random numbers, as far as a draw's
/// randomness at one width coincides with its randomness at another (it does for draws of
/// symbols indexed by unit, e.g. `w[k]` in a derivation's width study; it does not for
/// [`Network::sample`], whose layers are filled column by column and so are not nested).
/// This is the one sampler of width studies: the `limit` links of `derivation::limit` use it (and
/// `tests/network_convergence.rs` checks the empirical NTK's rate of convergence through it).
pub fn sample_widths<T, E, F>(
    widths: &[usize],
    seeds: Range<u64>,
    draw: F,
) -> Result<Vec<Vec<T>>, E>
where
    T: Send,
    E: Send,
    F: Fn(usize, u64) -> Result<T, E> + Sync,
{
    let pairs: Vec<(usize, u64)> = widths
        .iter()
        .flat_map(|&w| seeds.clone().map(move |s| (w, s)))
        .collect();
    let mut all = pairs
        .into_par_iter()
        .map(|(w, s)| draw(w, s))
        .collect::<Result<Vec<T>, E>>()?
        .into_iter();
    let per = seeds.end.saturating_sub(seeds.start) as usize;
    Ok(widths
        .iter()
        .map(|_| all.by_ref().take(per).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::activation::Activation;
    use crate::numeric::diff;

    fn inputs(n: usize, dim: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = Pcg64::seed_from_u64(seed);
        DMatrix::from_fn(n, dim, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    fn tiny(act: Activation, depth: usize) -> Network {
        let arch = Architecture::new(act, depth, 1.3, 0.4).unwrap();
        Network::sample(&arch, 3, 5, 11).unwrap()
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn batched_forward_matches_loops() {
        for act in [Activation::Relu, Activation::Erf, Activation::Tanh] {
            for depth in 1..=3 {
                let net = tiny(act, depth);
                let x = inputs(4, 3, 1);
                let f = net.outputs(&x).unwrap();
                for i in 0..4 {
                    let xi: Vec<f64> = x.row(i).iter().copied().collect();
                    assert!(rel(f[i], net.output_at(&xi).unwrap()) < 1e-13);
                }
            }
        }
    }

    /// The explicit gradient against extrapolated central differences in every
    /// parameter (smooth activations, so differences are exact up to rounding).
    #[test]
    fn gradient_matches_finite_differences() {
        for act in [Activation::Erf, Activation::Tanh] {
            for depth in 1..=3 {
                let net = tiny(act, depth);
                let x = [0.3, -1.1, 0.8];
                let g = net.gradient(&x).unwrap();
                let p0 = net.parameters();
                let scale = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
                for (k, &gk) in g.iter().enumerate() {
                    let f = |t: f64| {
                        let mut n2 = net.clone();
                        let mut p = p0.clone();
                        p[k] = t;
                        n2.set_parameters(&p).unwrap();
                        let v = n2.output_at(&x).unwrap();
                        Ok::<_, diff::DiffError>((DMatrix::from_element(1, 1, v), v.abs()))
                    };
                    let r = diff::derivative(p0[k], None, f).unwrap();
                    let (d, err) = (r.value[(0, 0)], r.error);
                    assert!(
                        (d - gk).abs() <= 1e-9 * scale,
                        "{act} L={depth} param {k}: fd {d} (±{err}) vs {gk}"
                    );
                }
            }
        }
    }

    /// The structured NTK against JᵀJ from the explicit per-parameter gradient.
    #[test]
    fn structured_ntk_matches_explicit_jacobian() {
        for act in [
            Activation::Relu,
            Activation::Erf,
            Activation::LeakyRelu { neg: 0.2, pos: 1.0 },
        ] {
            for depth in 1..=3 {
                let net = tiny(act, depth);
                let x = inputs(4, 3, 2);
                let k = net.kernels(&x).unwrap();
                let jac: Vec<Vec<f64>> = (0..4)
                    .map(|i| {
                        let xi: Vec<f64> = x.row(i).iter().copied().collect();
                        net.gradient(&xi).unwrap()
                    })
                    .collect();
                for i in 0..4 {
                    for j in 0..4 {
                        let explicit: f64 = jac[i].iter().zip(&jac[j]).map(|(a, b)| a * b).sum();
                        assert!(
                            rel(k.ntk[(i, j)], explicit) < 1e-12,
                            "{act} L={depth} ({i},{j}): {} vs {explicit}",
                            k.ntk[(i, j)]
                        );
                    }
                }
                // The readout-layer terms alone are the empirical NNGP.
                let last = net.num_parameters() - net.width - 1;
                for i in 0..4 {
                    for j in 0..4 {
                        let ro: f64 = jac[i][last..]
                            .iter()
                            .zip(&jac[j][last..])
                            .map(|(a, b)| a * b)
                            .sum();
                        assert!(rel(k.nngp[(i, j)], ro) < 1e-12);
                    }
                }
            }
        }
    }

    /// The batched loss gradient against the per-input explicit gradients: Σ_c (f_c − y_c) ∇f(x_c).
    #[test]
    fn loss_gradient_matches_explicit_gradients() {
        for act in [Activation::Relu, Activation::Erf, Activation::Tanh] {
            for depth in 1..=3 {
                let net = tiny(act, depth);
                let x = inputs(4, 3, 9);
                let y = [0.5, -0.2, 1.0, 0.0];
                let (f, g) = net.loss_gradient(&x, &y).unwrap();
                let mut want = vec![0.0; net.num_parameters()];
                for c in 0..4 {
                    let xc: Vec<f64> = x.row(c).iter().copied().collect();
                    let r = net.output_at(&xc).unwrap() - y[c];
                    assert!(rel(f[c], y[c] + r) < 1e-12);
                    for (w, gc) in want.iter_mut().zip(net.gradient(&xc).unwrap()) {
                        *w += r * gc;
                    }
                }
                let scale = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
                for (k, (a, b)) in g.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * scale,
                        "{act} L={depth} param {k}: {a} vs {b}"
                    );
                }
            }
        }
        let net = tiny(Activation::Relu, 2);
        assert!(matches!(
            net.loss_gradient(&inputs(2, 3, 1), &[1.0]),
            Err(NetworkError::TargetLength {
                expected: 2,
                got: 1
            })
        ));
    }

    #[test]
    fn large_products_match_naive() {
        // Exercise the parallel row-block path of gemm with both transposes.
        let a = inputs(300, 200, 3);
        let b = inputs(300, 50, 4);
        let mut c = DMatrix::zeros(200, 50);
        gemm(0.5, &a, Op::T, &b, Op::N, &mut c);
        let naive = a.transpose() * &b * 0.5;
        assert!((c - naive).amax() < 1e-11);
        let a2 = inputs(260, 300, 5);
        let mut c2 = DMatrix::zeros(260, 50);
        gemm(1.0, &a2, Op::N, &b, Op::N, &mut c2);
        assert!((&c2 - &a2 * &b).amax() < 1e-11);
        let mut c3 = DMatrix::zeros(50, 260);
        gemm(1.0, &b, Op::T, &a2, Op::T, &mut c3);
        assert!((&c3 - c2.transpose()).amax() < 1e-11);
        // The same bits on one thread.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut c4 = DMatrix::zeros(260, 50);
        pool.install(|| gemm(1.0, &a2, Op::N, &b, Op::N, &mut c4));
        assert_eq!(c2, c4);
        // Products with a small dimension, every transpose.
        let (x, y) = (inputs(40, 3, 6), inputs(30, 3, 7));
        let mut o = DMatrix::zeros(40, 30);
        gemm(2.0, &x, Op::N, &y, Op::T, &mut o);
        assert!((&o - &x * y.transpose() * 2.0).amax() < 1e-12);
        let mut o = DMatrix::zeros(3, 3);
        gemm(2.0, &x, Op::T, &x, Op::N, &mut o);
        assert!((&o - x.transpose() * &x * 2.0).amax() < 1e-12);
        let mut o = DMatrix::zeros(3, 40);
        gemm(
            1.0,
            &inputs(30, 3, 8),
            Op::T,
            &inputs(40, 30, 9),
            Op::T,
            &mut o,
        );
        let want = inputs(30, 3, 8).transpose() * inputs(40, 30, 9).transpose();
        assert!((&o - want).amax() < 1e-12);
        let mut o = DMatrix::zeros(1, 30);
        gemm(
            1.0,
            &inputs(1, 40, 1),
            Op::N,
            &inputs(40, 30, 2),
            Op::N,
            &mut o,
        );
        assert!((&o - inputs(1, 40, 1) * inputs(40, 30, 2)).amax() < 1e-12);
    }

    #[test]
    fn sampling_is_reproducible_and_validated() {
        let arch = Architecture::new(Activation::Relu, 2, 1.0, 0.1).unwrap();
        let a = Network::sample(&arch, 3, 8, 5).unwrap();
        assert_eq!(a, Network::sample(&arch, 3, 8, 5).unwrap());
        assert_ne!(a, Network::sample(&arch, 3, 8, 6).unwrap());
        assert_eq!(a.num_parameters(), 8 * 3 + 8 + 8 * 8 + 8 + 8 + 1);
        assert!(matches!(
            Network::sample(&Architecture { depth: 0, ..arch }, 3, 8, 5),
            Err(NetworkError::Architecture(_))
        ));
        assert!(Architecture::new(Activation::Relu, 1, f64::NAN, 0.0).is_err());
        assert!(Architecture::new(Activation::Relu, 1, 1.0, -1.0).is_err());
        assert!(Network::sample(&arch, 3, 0, 1).is_err());
        assert!(matches!(
            a.outputs(&DMatrix::zeros(2, 4)),
            Err(NetworkError::InputShape {
                expected: 3,
                got: 4
            })
        ));
        assert_eq!(
            a.outputs(&DMatrix::zeros(0, 3)),
            Err(NetworkError::NoInputs)
        );
        let mut bad = DMatrix::zeros(2, 3);
        bad[(1, 2)] = f64::INFINITY;
        assert_eq!(
            a.empirical_ntk(&bad),
            Err(NetworkError::NonFiniteInput { row: 1 })
        );
        let mut b = a.clone();
        assert!(b.set_parameters(&[1.0]).is_err());
    }

    #[test]
    fn monte_carlo_is_deterministic_and_needs_seeds() {
        let arch = Architecture::new(Activation::Erf, 2, 1.5, 0.2).unwrap();
        let x = inputs(3, 4, 7);
        let opts = McOptions {
            progress: false,
            ..McOptions::default()
        };
        let a = empirical_kernels_with(&arch, &x, 16, 7, 100, &opts).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| empirical_kernels_with(&arch, &x, 16, 7, 100, &opts).unwrap());
        assert_eq!(a, b);
        assert!(a.ntk_half_width.iter().all(|h| *h > 0.0));
        assert!(matches!(
            empirical_kernels_with(&arch, &x, 16, 2, 0, &opts),
            Err(NetworkError::Stats(StatsError::TooFewSamples { .. }))
        ));
    }
}
