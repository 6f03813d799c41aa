//! Numeric evaluation of math terms at a point.
//!
//! Deterministic parts evaluate in `f64`, tracking a magnitude scale `S` (the value computed with
//! every term's absolute value) from which [`tolerance`](super::tolerance) derives a rounding
//! bound. Expectations `E[...]` are exact when their argument is a polynomial in the i.i.d.
//! N(0,1) entries (moments (k−1)!!), and seeded Monte Carlo with a standard error otherwise.

use crate::numeric::portable::Portable;
use egg::{Id, Symbol};

/// The maps of the evaluator: keys are interned symbols and small index lists, hashed on every
/// lookup of a hot loop, so a fast non-cryptographic hash (no key here comes from an adversary
/// who could aim at collisions: they are the derivation's own names).
pub type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

use super::activation::Activation;
use super::features::{quadrature_cuts, Unresolved, ZERO_GRID};
use super::integrand::{Op, Program};
use crate::expr::{Expr, Math};

mod cost;
mod dual;

/// A value with its rounding scale and Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    /// The value.
    pub value: f64,
    /// Magnitude scale: the same computation on absolute values (rounding error ≲ n·ε·scale).
    pub scale: f64,
    /// Standard error from Monte Carlo (0 when exact).
    pub stderr: f64,
}

impl Value {
    /// A value known exactly (its scale is its magnitude).
    pub fn exact(v: f64) -> Value {
        Value {
            value: v,
            scale: v.abs(),
            stderr: 0.0,
        }
    }
}

/// Why a term could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A symbol has no value at this point.
    #[error("symbol `{0}` has no value (declare it)")]
    Unbound(String),
    /// A random variable outside any E[…].
    #[error("random variable `{0}` occurs outside E[...]")]
    RandomOutsideExpectation(String),
    /// An index is not an integer.
    #[error("index `{0}` is not an integer")]
    NonIntegerIndex(String),
    /// The evaluation would take more than [`TERM_BUDGET`] terms.
    #[error("term budget exceeded: {0} (the budget is {TERM_BUDGET} sum terms and polynomial products per side and point)")]
    Budget(String),
    /// An expectation that does not exist (infinite or undefined), or whose estimator has no
    /// finite variance.
    #[error("divergent expectation: {0}")]
    Divergent(String),
    /// The point lies outside a symbol's domain (e.g. a declared index whose range is empty).
    #[error("outside the domain: {0}")]
    OutOfDomain(String),
    /// The term has a value here, but f64 cannot tell which: the side of a jump its argument
    /// lies on is within rounding (step(1 − 1), or a covariance that is singular only to
    /// rounding). Unlike [`EvalError::OutOfDomain`], the claim may fail at such a point.
    #[error("not decided in f64: {0}")]
    Undecided(String),
    /// Something the numeric side cannot evaluate.
    #[error("{0}")]
    Unsupported(String),
}

/// A derivative's failure: of the function it differentiates, or of the scheme itself.
enum Failure {
    Inner(EvalError),
    Own(super::diff::DiffError),
}

impl From<super::diff::DiffError> for Failure {
    fn from(e: super::diff::DiffError) -> Self {
        Failure::Own(e)
    }
}

impl From<super::diff::DiffError> for EvalError {
    fn from(e: super::diff::DiffError) -> Self {
        match e {
            super::diff::DiffError::Domain(_) => EvalError::OutOfDomain(e.to_string()),
            super::diff::DiffError::Overflow { .. } => EvalError::Undecided(e.to_string()),
            _ => EvalError::Unsupported(e.to_string()),
        }
    }
}

/// A factor that is 1 by default ([`Env::phi_gain`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain(pub f64);

impl Default for Gain {
    fn default() -> Self {
        Gain(1.0)
    }
}

/// Where a term is evaluated.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Values of scalar symbols (including free indices, as integers).
    pub scalars: HashMap<Symbol, f64>,
    /// Symbols whose entries are i.i.d. N(0,1).
    pub random: Vec<Symbol>,
    /// Seed from which deterministic array entries and Monte Carlo samples are drawn.
    pub seed: u64,
    /// The concrete activation standing for the generic `phi` at this point.
    pub phi: Option<Activation>,
    /// A constant added to that activation (φ(x) = gain·act(x) + shift; φ′ is gain·act′): φ(0)
    /// is then not one of the few values the fixed activations take there.
    pub phi_shift: f64,
    /// The factor of that activation (1 unless the violation search moves it: 2·sin has
    /// φ″ = 2, beyond every fixed instance's curvature).
    pub phi_gain: Gain,
    /// Monte Carlo samples for expectations that are not polynomial.
    pub mc_samples: usize,
    /// Matrix-valued symbols (evaluated as seeded random [`MATRIX_DIM`] × [`MATRIX_DIM`]
    /// matrices, general, not symmetric; `I` is the identity).
    pub matrices: Vec<Symbol>,
    /// Arrays with given entries (1-based: `h[1]` is `arrays[h][0]`), e.g. a sampled network's
    /// pre-activations; other arrays are deterministic pseudo-random entries.
    pub arrays: HashMap<Symbol, Vec<f64>>,
    /// Declared symbols with no value at this point, and why (e.g. an index whose range is
    /// empty at the sizes drawn): evaluating them is "outside the domain", not "undeclared".
    pub undefined: Vec<(Symbol, String)>,
    /// Bounded domains `[lo, hi]` of scalar symbols (intervals): derivatives with respect to
    /// them stay inside (one-sided differences at an edge).
    pub domains: HashMap<Symbol, (f64, f64)>,
    /// Seed of the draws of the random symbols in [`Evaluator::eval_draw`], when it is not
    /// `seed` (a width study varies the draws and keeps the point's deterministic arrays).
    pub draw_seed: Option<u64>,
    /// Matrix symbols (also listed in `matrices`) with given entries and an error estimate of
    /// them (the sum of the entries' absolute errors), e.g. an unknown function's value
    /// integrated numerically; other matrix symbols are seeded random matrices.
    pub given_matrices: HashMap<Symbol, (nalgebra::DMatrix<f64>, f64)>,
    /// The entries' ranges of declared vectors and matrices at this point (`vector n`: [n];
    /// `matrix m x n`: [m, n]; each index runs over 1..=size): an entry outside is not a number.
    pub shapes: HashMap<Symbol, Vec<i64>>,
    /// The declared dimensions of each vector and matrix, whose values at this point are
    /// [`Env::shapes`] (with `true` where a trailing dimension 1 is dropped: a vector): kept
    /// so that a point whose sizes move (the violation search) moves its shapes too
    /// ([`Env::update_shapes`]).
    pub shape_decls: std::sync::Arc<Vec<(Symbol, Vec<Expr>, bool)>>,
    /// The factor the seeded entries of a deterministic array, vector or matrix are multiplied
    /// by at this point (1 where absent): an entry is any real, not only one of [−2, 2], so the
    /// points draw the entries' magnitude like a real's (`relu(abs(x[i]) − 2) = 0` is false).
    pub entry_scales: HashMap<Symbol, f64>,
    /// Entries of deterministic arrays, vectors and matrices given a value of their own at this
    /// point instead of the seeded one (the violation search moves single entries: x[2] = 0
    /// beside x[1] ≠ 0).
    pub entry_values: Vec<(Symbol, Vec<i64>, f64)>,
    /// Seeded symbols whose entries are drawn as another's (`y → x`: y's entries are x's, times
    /// y's own [`Env::entry_scale`]): points where arrays are parallel, the equality case of
    /// Cauchy–Schwarz, which independent draws never meet.
    pub entry_alias: HashMap<Symbol, Symbol>,
    /// Every seeded symbol's entries are all equal (its seeded entry at index 1, …, 1): x[i] =
    /// x[i + 1], a rank-one matrix, a singular covariance factor.
    pub constant_entries: bool,
    /// Seeded symbols whose entries lie on separate supports at this point, in declaration
    /// order: the m-th of K one-index arrays is 0 except at the indices i ≡ m + 1 (mod K)
    /// (two vectors orthogonal, with disjoint supports), and every matrix is diagonal (a
    /// covariance factor F, and S = F·Fᵀ with it: uncorrelated entries, S = I up to scale).
    /// Independent draws never meet these equality cases: (Σx_j y_j)² ≥ 10⁻⁶·Σx_j²·Σy_j² and
    /// S₁₂² ≥ 10⁻³·S₁₁S₂₂ were `consistent`.
    pub separated: Vec<Symbol>,
    /// A structure every seeded symbol's entries take at this point ([`Structure`]; the
    /// violation search starts from each).
    pub structure: Structure,
}

impl Env {
    /// Sets [`Env::shapes`] from [`Env::shape_decls`] at this point's sizes: an entry outside is
    /// not a number (x[3] of a vector of 2 entries), never a seeded value. To be called whenever
    /// a size changes (x[2] of a `vector n` moved to n = 1 took a seeded value, and a true claim
    /// was refuted there).
    pub fn update_shapes(&mut self) {
        let decls = self.shape_decls.clone();
        for (s, dims, vector) in decls.iter() {
            let mut ev = Evaluator::new(self);
            let sizes: Option<Vec<i64>> = dims
                .iter()
                .map(|e| {
                    ev.eval(e)
                        .ok()
                        .filter(|v| v.value.is_finite())
                        .map(|v| v.value.round() as i64)
                })
                .collect();
            match sizes {
                Some(mut sizes) => {
                    if *vector && sizes.len() == 2 && sizes[1] == 1 {
                        sizes.pop();
                    }
                    self.shapes.insert(*s, sizes);
                }
                None => {
                    self.shapes.remove(s);
                }
            }
        }
    }

    /// Sets the scalar `s` to `v`, and where a declared shape mentions `s` (a size), the shapes
    /// with it ([`Env::update_shapes`]).
    pub fn set_scalar(&mut self, s: Symbol, v: f64) {
        self.scalars.insert(s, v);
        let sized = self.shape_decls.iter().any(|(_, dims, _)| {
            dims.iter().any(|e| {
                e.as_ref()
                    .iter()
                    .any(|n| n.symbol().is_some_and(|x| x == s))
            })
        });
        if sized {
            self.update_shapes();
        }
    }

    /// The factor of the seeded entries of `s` at this point ([`Env::entry_scales`]).
    pub fn entry_scale(&self, s: Symbol) -> f64 {
        self.entry_scales.get(&s).copied().unwrap_or(1.0)
    }

    /// The deterministic entry `s[idx]` at this point: its own value ([`Env::entry_values`]),
    /// else the seeded one times the magnitude.
    pub fn seeded_entry(&self, s: Symbol, idx: &[i64]) -> f64 {
        match self
            .entry_values
            .iter()
            .rev()
            .find(|(p, i, _)| *p == s && i[..] == idx[..])
        {
            Some((_, _, v)) => *v,
            None => {
                let name = self.entry_alias.get(&s).copied().unwrap_or(s);
                self.entry_scale(s) * self.entry_pattern(s, hash_of_name(name, self.seed), idx)
            }
        }
    }

    /// The seeded entry at `idx` of the symbol `s` whose name hashes to `h`: at `idx`, or at
    /// 1, …, 1 where the point's entries are constant ([`Env::constant_entries`]); 0 off its
    /// support where the point separates them ([`Env::separated`]).
    pub fn entry_pattern(&self, s: Symbol, h: u64, idx: &[i64]) -> f64 {
        if let Some(m) = self.separated.iter().position(|x| *x == s) {
            // A vector's entry may be written with a second index 1.
            let vector = self.shapes.get(&s).is_some_and(|d| d.len() == 1);
            let idx = if vector {
                &idx[..1.min(idx.len())]
            } else {
                idx
            };
            let on = match idx {
                [i] => (i - 1).rem_euclid(self.separated.len() as i64) == m as i64,
                [i, rest @ ..] => rest.iter().all(|j| j == i),
                [] => true,
            };
            if !on {
                return 0.0;
            }
        }
        if self.constant_entries {
            return entry_from_hash(h, &vec![1; idx.len()]);
        }
        let e = |idx: &[i64]| entry_from_hash(h, idx);
        if self.structure == Structure::Seeded {
            return e(idx);
        }
        // A vector's entry may be written with a second index 1.
        let idx = match self.shapes.get(&s) {
            Some(d) if d.len() == 1 && idx.len() == 2 && idx[1] == 1 => &idx[..1],
            _ => idx,
        };
        match (self.structure, idx) {
            (Structure::Centred | Structure::Antisymmetric, [i]) => match self.shapes.get(&s) {
                Some(d) => e(&[*i]) - e(&[d[0] + 1 - i]),
                None => e(idx),
            },
            (Structure::Centred, [i, j]) => match self.shapes.get(&s) {
                Some(d) if d.len() == 2 => e(idx) - e(&[d[0] + 1 - i, d[1] + 1 - j]),
                _ => e(idx),
            },
            (Structure::Antisymmetric, [i, j]) => e(&[*i, *j]) - e(&[*j, *i]),
            (Structure::Nilpotent, [i]) => {
                if *i == 1 {
                    e(idx)
                } else {
                    0.0
                }
            }
            (Structure::Nilpotent, [i, j]) => {
                if *i == 1 && *j > 1 {
                    e(idx)
                } else {
                    0.0
                }
            }
            (Structure::Identity, [_]) => e(&[1]),
            (Structure::Identity, [i, j]) => {
                if i == j {
                    e(&[1, 1])
                } else {
                    0.0
                }
            }
            (Structure::Linear, [i]) => e(&[1]) + e(&[2]) * (i - 1) as f64,
            (Structure::Linear, [i, j]) => {
                e(&[1, 1]) + e(&[2, 1]) * (i - 1) as f64 + e(&[1, 2]) * (j - 1) as f64
            }
            _ => e(idx),
        }
    }

    /// Is `s[idx]` an entry of the declared vector or matrix `s` (always, for an array with no
    /// declared shape)? A vector's entry may also be written with a second index 1.
    pub fn entry_in_shape(&self, s: Symbol, idx: &[i64]) -> Result<(), EvalError> {
        let Some(dims) = self.shapes.get(&s) else {
            return Ok(());
        };
        let inside = match (dims.len(), idx.len()) {
            (n, m) if n == m => idx.iter().zip(dims).all(|(i, d)| (1..=*d).contains(i)),
            (1, 2) => (1..=dims[0]).contains(&idx[0]) && idx[1] == 1,
            // A wrong number of indices is a shape question for the loader, not a range one.
            _ => true,
        };
        if inside {
            return Ok(());
        }
        let ranges: Vec<String> = dims.iter().map(|d| format!("1..{d}")).collect();
        let at: Vec<String> = idx.iter().map(i64::to_string).collect();
        Err(EvalError::OutOfDomain(format!(
            "{s}[{}] is not an entry of {s}, whose indices run over {} here",
            at.join(", "),
            ranges.join(" x ")
        )))
    }
}

/// Most sum terms (body evaluations) plus polynomial monomial products one side of a link may
/// cost at one point. A 2·10⁵-term sum is well inside; nested 99999 × 99999 sums, or a sum over
/// all of i64, are refused with [`EvalError::Budget`] (a point not evaluated, never agreement),
/// and the checker retries the point at smaller sizes.
pub const TERM_BUDGET: u64 = 1_000_000;

pub use crate::precision::{MC_MAX_SHARE, MC_MAX_TOP_SHARE, MC_MIN_NONZERO, MC_MIXTURE, TOP};

/// The share of Σ(x − mean)² carried by the [`TOP`] largest squared deviations.
pub fn top_share(values: &[f64], mean: f64) -> f64 {
    let mut dev: Vec<f64> = values.iter().map(|v| (v - mean).powi(2)).collect();
    let total: f64 = dev.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    dev.sort_unstable_by(|a, b| b.total_cmp(a));
    dev.iter().take(TOP).sum::<f64>() / total
}

/// Dimension of the random matrices that unsized `matrix` symbols stand for: 5. Their entries
/// are independent seeded numbers in [−2, 2] (general matrices: not symmetric, not triangular,
/// not commuting). An identity that holds only for small or special matrices must not pass:
/// with symmetric 3 × 3 matrices (as they were) the commutators K = AB − BA, L = AC − CA are
/// antisymmetric 3 × 3 matrices, for which KLKK = KKLK holds, and it was `consistent`. Small
/// dimensions have identities of their own: in dimension 2 every commutator squares to a
/// multiple of I (Hall's identity [[A, B]², C] = 0), and in dimension d the Cayley–Hamilton
/// theorem and the Amitsur–Levitzki theorem (the standard polynomial of degree 2d vanishes)
/// give polynomial identities that hold there only. Dimension 5 is past these accidents for
/// the terms the notes write, at little cost (a 5 × 5 product is 125 multiplications).
pub const MATRIX_DIM: usize = 5;

type Matrix = nalgebra::DMatrix<f64>;

type RvKey = (Symbol, Vec<i64>);

/// Subterms with their signs (`true`: added).
type Signed = Vec<(bool, Id)>;

/// A chain of + and −: its non-constant terms, the sum of its constants and that sum's scale.
type Chain = (Signed, f64, f64);

/// A polynomial in random variables with f64 coefficients.
#[derive(Debug, Clone, Default)]
struct RPoly(rustc_hash::FxHashMap<Vec<(usize, u32)>, (f64, f64)>); // monomial -> (coeff, scale)

/// The evaluator for one point.
pub struct Evaluator<'a> {
    env: &'a Env,
    rvs: Vec<RvKey>,
    rv_index: HashMap<RvKey, usize>,
    /// Bound index values (sum variables).
    bound: Vec<(Symbol, f64)>,
    /// Array entries moved off their seeded values by a partial derivative d/dW[a, b].
    perturbed: Vec<(Symbol, Vec<i64>, f64)>,
    /// The current Monte Carlo sample of random variables, if sampling.
    sample: Option<HashMap<RvKey, f64>>,
    /// Inside Monte Carlo: the sample number, from which every entry is drawn by hashing
    /// (seed, sample, entry), so the same entry has the same value in every E[...] of the point
    /// (common random numbers).
    mc_k: Option<u64>,
    /// Sum terms and monomial products spent so far (see [`TERM_BUDGET`]).
    terms: u64,
    /// Integrand evaluations of the integrations run so far (quadrature nodes, Monte Carlo
    /// samples): with `terms`, the work a caller with a budget of its own counts.
    nodes: u64,
    rng: rand_pcg::Pcg64,
    /// The constant table of each expression being evaluated (keyed by its address, which is
    /// unique while it is borrowed for the evaluation), so that a constant subterm's exact value
    /// is computed once, not at every node and every index of a sum.
    constants: Vec<(usize, std::rc::Rc<ConstantTable>)>,
    /// [`Evaluator::name_hash`] of the arrays met so far.
    name_hashes: Vec<(Symbol, u64)>,
    /// The hashes of random variables' names that [`keyed_normal`] starts from.
    rv_hashes: Vec<(Symbol, u64)>,
    /// Inside an integration: how many integrand evaluations met a jump whose side rounding
    /// hides ([`undecided_jump`]); outside one (`None`) such a jump is an error.
    jump_tally: Option<u64>,
}

/// What a derivative moves: a symbol (bound to each sample) or one entry of an array.
#[derive(Clone)]
enum Moved {
    Symbol(Symbol),
    Entry(Symbol, Vec<i64>),
}

/// The symbol `pi`, interned once.
fn pi_symbol() -> Symbol {
    static PI: std::sync::OnceLock<Symbol> = std::sync::OnceLock::new();
    *PI.get_or_init(|| Symbol::from("pi"))
}

/// The identity matrix's name (compared as a symbol: reading a name locks the symbol table).
fn identity_symbol() -> Symbol {
    static I: std::sync::OnceLock<Symbol> = std::sync::OnceLock::new();
    *I.get_or_init(|| Symbol::from("I"))
}

fn fnv(s: &str, seed: u64) -> u64 {
    let mut h = 0xcbf29ce484222325u64 ^ seed;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The standard deviation Monte Carlo sample `k` is drawn with ([`MC_MIXTURE`]): of every ten
/// samples, as many as each component's share in tenths, in the order of the components (seven
/// at 1, two at 2.5, one at 6), so that the counts are exact and both sides of a link draw the
/// same sample at the same scale.
fn mixture_scale(k: usize) -> f64 {
    let tenth = (k % 10) as f64 + 0.5;
    let mut upto = 0.0;
    for (share, s) in MC_MIXTURE {
        upto += 10.0 * share;
        if tenth < upto {
            return s;
        }
    }
    MC_MIXTURE[MC_MIXTURE.len() - 1].1
}

/// A hash of a symbol's name, the same every run (seeds derived from a name).
pub fn name_seed(name: Symbol) -> u64 {
    fnv(name.as_str(), 0)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// The deterministic pseudo-random entry `name[indices]` at a point with `seed`: uniform in
/// [−2, 2], the same every run (before the point's [`Env::entry_scale`]).
pub fn array_entry(name: Symbol, indices: &[i64], seed: u64) -> f64 {
    entry_from_hash(hash_of_name(name, seed), indices)
}

/// fnv(name, seed), memoised per thread: reading a symbol's name locks the global symbol table,
/// which evaluators created by the thousand (an ODE's right side at every step) would contend.
fn hash_of_name(name: Symbol, seed: u64) -> u64 {
    thread_local! {
        static HASHES: std::cell::RefCell<HashMap<(Symbol, u64), u64>> = Default::default();
    }
    HASHES.with(|m| {
        *m.borrow_mut()
            .entry((name, seed))
            .or_insert_with(|| fnv(name.as_str(), seed))
    })
}

/// [`array_entry`] from the hash of the array's name and the seed.
fn entry_from_hash(mut h: u64, indices: &[i64]) -> f64 {
    for i in indices {
        h = splitmix(h ^ (*i as u64));
    }
    let u = (splitmix(h) >> 11) as f64 / (1u64 << 53) as f64;
    4.0 * u - 2.0
}

/// A structure of the seeded entries at a point, each the equality case of claims that
/// independent draws never meet (each was a false `consistent`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Structure {
    /// Independent seeded entries.
    #[default]
    Seeded,
    /// Each entry minus the one at the mirrored index (i ↦ n + 1 − i along each declared
    /// dimension): a vector's entries sum to 0, a square matrix is traceless.
    Centred,
    /// A matrix's entries A[i, j] − A[j, i] (antisymmetric: A + Aᵀ = 0, xᵀAx = 0); a vector's
    /// as [`Structure::Centred`].
    Antisymmetric,
    /// A matrix 0 except in its first row beyond the diagonal (nilpotent: A² = 0 at every
    /// size), a vector's entries 0 beyond the first.
    Nilpotent,
    /// A matrix a multiple of the identity (orthogonal at ±1), a vector's entries all equal.
    Identity,
    /// Entries affine in the indices (an arithmetic progression: second differences 0).
    Linear,
}

impl Structure {
    /// How a counterexample names the structure.
    pub fn describe(self) -> Option<&'static str> {
        Some(match self {
            Structure::Seeded => return None,
            Structure::Centred => "centred: each entry minus its mirror, so sums and traces are 0",
            Structure::Antisymmetric => "antisymmetric: each entry minus its transpose's (a vector's minus its mirror)",
            Structure::Nilpotent => "0 except in the first row beyond the diagonal, so A² = 0 (a vector's beyond its first)",
            Structure::Identity => "a multiple of the identity (a vector's entries all equal)",
            Structure::Linear => "entries affine in the indices",
        })
    }
}

/// E[z^k] for z ~ N(0, 1): (k−1)!! for even k, 0 for odd k, for every k (exact integers while
/// they fit in f64's 53 bits, correctly rounded products beyond; infinite beyond ~k = 300, which is
/// reported as an error by the caller).
pub fn gaussian_moment(k: u32) -> f64 {
    if k % 2 == 1 {
        return 0.0;
    }
    if k <= 56 {
        let mut m: u128 = 1;
        let mut j = 1u128;
        while j < u128::from(k) {
            m *= j;
            j += 2;
        }
        return m as f64;
    }
    let mut m = num_bigint::BigUint::from(1u32);
    let mut j = 1u32;
    while j < k {
        m *= j;
        j += 2;
    }
    num_traits::ToPrimitive::to_f64(&m).unwrap_or(f64::INFINITY)
}

/// A standard normal drawn from a hash: entry `key` of Monte Carlo sample `k` at seed `seed`.
#[cfg(test)]
fn keyed_normal(key: &RvKey, k: u64, seed: u64) -> f64 {
    keyed_normal_from(fnv(key.0.as_str(), seed ^ 0x6d63_5eed), key, k)
}

/// [`keyed_normal`] from the hash of the variable's name and the seed.
fn keyed_normal_from(mut h: u64, key: &RvKey, k: u64) -> f64 {
    for i in &key.1 {
        h = splitmix(h ^ (*i as u64));
    }
    h = splitmix(h ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let u1 = ((splitmix(h) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((splitmix(h ^ 0x5555) >> 11) as f64) / (1u64 << 53) as f64;
    (-2.0 * u1.pln()).sqrt() * (std::f64::consts::TAU * u2).pcos()
}

impl<'a> Evaluator<'a> {
    /// An evaluator at the point `env`.
    pub fn new(env: &'a Env) -> Self {
        use rand::SeedableRng;
        Evaluator {
            env,
            rvs: vec![],
            rv_index: HashMap::default(),
            bound: vec![],
            perturbed: vec![],
            sample: None,
            mc_k: None,
            terms: 0,
            nodes: 0,
            rng: rand_pcg::Pcg64::seed_from_u64(env.draw_seed.unwrap_or(env.seed) ^ 0x5eed),
            constants: vec![],
            name_hashes: vec![],
            rv_hashes: vec![],
            jump_tally: None,
        }
    }

    /// A jump (step, sign, a kinked φ′) whose argument rounding hides: an error at a point;
    /// inside an integration, tallied ([`Evaluator::tallying`]).
    fn undecided(&mut self, node: &Math, x: &Value) -> Result<(), EvalError> {
        match &mut self.jump_tally {
            Some(n) => {
                *n += 1;
                Ok(())
            }
            None => Err(jump_error(&node.to_string(), x)),
        }
    }

    /// Runs an integration (`run` counts its integrand evaluations in `nodes`, and adds the
    /// undecided jumps of evaluators of its own to `extra`). A quadrature graded towards a jump
    /// puts a few nodes within rounding error of it, a set of measure 0 that does not change
    /// the integral; when more than [`crate::precision::JUMP_NODES`] of the nodes meet one, the
    /// argument is within rounding of the jump over a whole region, and the integral is not
    /// known.
    fn tallying<T>(
        &mut self,
        run: impl FnOnce(&mut Self, &mut u64, &mut usize) -> Result<T, EvalError>,
    ) -> Result<T, EvalError> {
        let outer = self.jump_tally.replace(0);
        let (mut extra, mut nodes) = (0u64, 0usize);
        let result = run(self, &mut extra, &mut nodes);
        self.nodes += nodes as u64;
        let undecided = self.jump_tally.take().unwrap_or(0) + extra;
        self.jump_tally = outer;
        let value = result?;
        if undecided as f64 > crate::precision::JUMP_NODES * nodes as f64 {
            return Err(EvalError::Undecided(format!(
                "at {undecided} of {nodes} integrand evaluations the argument of a jump (step, sign, φ′) is within the rounding error of 0: which side of the jump they lie on is not known in f64"
            )));
        }
        Ok(value)
    }

    /// Run `f` with the constant table of `e` installed (see [`Evaluator::constant`]).
    fn with_constants<T>(&mut self, e: &Expr, f: impl FnOnce(&mut Self) -> T) -> T {
        let key = e as *const Expr as usize;
        let installed = self.constants.iter().any(|(k, _)| *k == key);
        if !installed {
            self.constants.push((key, ConstantTable::kept(e)));
        }
        let out = f(self);
        if !installed {
            self.constants.pop();
        }
        out
    }

    /// The exact value of the subterm if it is a constant: from the table of `e` when one is
    /// installed, else computed.
    fn constant(&self, e: &Expr, id: Id) -> Option<num_rational::BigRational> {
        let key = e as *const Expr as usize;
        match self.constants.iter().rev().find(|(k, _)| *k == key) {
            Some((_, table)) if table.exact.len() == e.as_ref().len() => {
                table.exact[usize::from(id)].clone()
            }
            _ => exact_const(e, id),
        }
    }

    /// The subterm's value as an f64 if it is a constant (rounded once from its exact value).
    fn constant_f64(&self, e: &Expr, id: Id) -> Option<f64> {
        let key = e as *const Expr as usize;
        match self.constants.iter().rev().find(|(k, _)| *k == key) {
            Some((_, table)) if table.exact.len() == e.as_ref().len() => {
                table.exact[usize::from(id)].as_ref()?;
                Some(table.rounded[usize::from(id)])
            }
            _ => {
                exact_const(e, id).map(|q| num_traits::ToPrimitive::to_f64(&q).unwrap_or(f64::NAN))
            }
        }
    }

    /// Can the subterm be evaluated once for every term of a sum over `var`: it provably does not
    /// mention `var`, draws no random value and holds no expectation? (False when unsure.)
    fn invariant_in(&self, e: &Expr, id: Id, var: Symbol) -> bool {
        let key = e as *const Expr as usize;
        let Some((_, table)) = self.constants.iter().rev().find(|(k, _)| *k == key) else {
            return false;
        };
        if table.mentions.len() != e.as_ref().len() {
            return false;
        }
        let m = table.mentions[usize::from(id)];
        !table.expects[usize::from(id)]
            && m & symbol_bit(var) == 0
            && self.env.random.iter().all(|r| m & symbol_bit(*r) == 0)
    }

    /// Is the subterm a constant? (Without cloning its value.)
    fn is_constant(&self, e: &Expr, id: Id) -> bool {
        let key = e as *const Expr as usize;
        match self.constants.iter().rev().find(|(k, _)| *k == key) {
            Some((_, table)) if table.exact.len() == e.as_ref().len() => {
                table.exact[usize::from(id)].is_some()
            }
            _ => exact_const(e, id).is_some(),
        }
    }

    /// Evaluate the whole term. A matrix-valued term M is reduced to the bilinear form uᵀMv
    /// with seeded random vectors u, v: two matrices are equal iff these agree for almost all u, v.
    pub fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        self.with_constants(e, |this| {
            this.refuse_unaffordable(e, Id::from(e.as_ref().len() - 1))?;
            this.eval_root(e)
        })
    }

    /// Evaluate a matrix-valued term entry by entry: (matrix, magnitude scale, error estimate).
    pub fn eval_matrix(
        &mut self,
        e: &Expr,
    ) -> Result<(nalgebra::DMatrix<f64>, f64, f64), EvalError> {
        let root = Id::from(e.as_ref().len() - 1);
        self.with_constants(e, |this| {
            this.refuse_unaffordable(e, root)?;
            this.matrix(e, root).map(|(m, s, err)| (m, s.sum(), err))
        })
    }

    fn eval_root(&mut self, e: &Expr) -> Result<Value, EvalError> {
        let root = Id::from(e.as_ref().len() - 1);
        if self.is_matrix(e, root) {
            let (m, scale, err) = self.matrix(e, root)?;
            let u = self.probe(1);
            let v = self.probe(2);
            let value = (u.transpose() * &m * &v)[(0, 0)];
            // The magnitude of uᵀMv, entry by entry: |u|ᵀ·magnitudes·|v|.
            let scale = (u.abs().transpose() * &scale * v.abs())[(0, 0)];
            let norm = u.abs().sum() * v.abs().sum();
            return Ok(Value {
                value,
                scale,
                stderr: err * norm,
            });
        }
        self.value(e, root)
    }

    /// Evaluate the term for one draw of its random variables (symbols in `env.random` outside
    /// any `E[...]`): each entry is a fresh N(0,1) sample from the point's seed, the same entry
    /// taking the same value wherever it occurs. This is how a finite-width quantity (an average
    /// over n sampled units) is measured.
    pub fn eval_draw(&mut self, e: &Expr) -> Result<Value, EvalError> {
        self.sample = Some(HashMap::default());
        let root = Id::from(e.as_ref().len() - 1);
        let v = self.with_constants(e, |this| {
            this.refuse_unaffordable(e, root)?;
            this.value(e, root)
        });
        self.sample = None;
        v
    }

    fn probe(&self, k: u64) -> nalgebra::DVector<f64> {
        let name = Symbol::from(if k == 1 { "#u" } else { "#v" });
        nalgebra::DVector::from_fn(MATRIX_DIM, |i, _| {
            array_entry(name, &[i as i64], self.env.seed)
        })
    }

    /// Is the subterm matrix-valued?
    fn is_matrix(&self, e: &Expr, id: Id) -> bool {
        match &e[id] {
            Math::Symbol(s) => {
                (*s == identity_symbol() || self.env.matrices.contains(s)) && !self.has_value(*s)
            }
            Math::MatMul(_) | Math::MatExp(_) => true,
            Math::Add([a, b]) | Math::Sub([a, b]) | Math::Mul([a, b]) => {
                self.is_matrix(e, *a) || self.is_matrix(e, *b)
            }
            Math::Div([a, _]) | Math::Neg(a) => self.is_matrix(e, *a),
            Math::Deriv([_, body]) => self.is_matrix(e, *body),
            _ => false,
        }
    }

    /// Evaluate a matrix-valued subterm: (matrix, magnitudes, error estimate). The magnitudes
    /// are a matrix M ≥ 0 that bounds the entries' magnitudes along the computation, entry by
    /// entry (|X| for a leaf, M_X·M_Y for a product X@Y, exp(M_X) for mexp(X)): the rounding of
    /// an entry is a few ε times its magnitude. (One number for the whole matrix, the sum of
    /// magnitudes, multiplied through a product as ΣM_X·ΣM_Y, overstates a product of k d × d
    /// matrices by up to d^(k−1): at d = 5 a wrong factor 1.001 on KLKK passed as rounding.)
    /// The error estimate is the sum of the entries' absolute errors.
    fn matrix(&mut self, e: &Expr, id: Id) -> Result<(Matrix, Matrix, f64), EvalError> {
        let n = MATRIX_DIM;
        if !self.is_matrix(e, id) {
            // A scalar where a matrix is expected: 0 is the zero matrix, c in mexp(c) handled there.
            let v = self.value(e, id)?;
            if v.value == 0.0 && v.stderr == 0.0 {
                return Ok((Matrix::zeros(n, n), Matrix::zeros(n, n), 0.0));
            }
            return Err(EvalError::Unsupported(
                "a scalar is added to a matrix (only 0 is allowed)".into(),
            ));
        }
        let norm = |m: &Matrix| m.abs().sum();
        Ok(match &e[id] {
            Math::Symbol(s) if *s == identity_symbol() => {
                (Matrix::identity(n, n), Matrix::identity(n, n), 0.0)
            }
            Math::Symbol(s) if self.env.given_matrices.contains_key(s) => {
                let (m, err) = &self.env.given_matrices[s];
                (m.clone(), m.abs(), *err)
            }
            Math::Symbol(s) => {
                // The name hashed once, not per entry (reading a name locks the symbol table).
                // Every entry drawn on its own: a general matrix (not symmetric).
                let (h, scale) = (self.name_hash(*s), self.env.entry_scale(*s));
                let m = Matrix::from_fn(n, n, |i, j| {
                    scale * self.env.entry_pattern(*s, h, &[i as i64, j as i64])
                });
                let sc = m.abs();
                (m, sc, 0.0)
            }
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let (x, sx, ex) = self.matrix(e, *a)?;
                let (y, sy, ey) = self.matrix(e, *b)?;
                let m = if matches!(e[id], Math::Add(_)) {
                    x + y
                } else {
                    x - y
                };
                (m, sx + sy, ex + ey)
            }
            Math::Neg(a) => {
                let (x, sx, ex) = self.matrix(e, *a)?;
                (-x, sx, ex)
            }
            Math::Mul([a, b]) | Math::MatMul([a, b]) => {
                let (ma, mb) = (self.is_matrix(e, *a), self.is_matrix(e, *b));
                match (ma, mb) {
                    (true, true) if matches!(e[id], Math::MatMul(_)) => {
                        let (x, sx, ex) = self.matrix(e, *a)?;
                        let (y, sy, ey) = self.matrix(e, *b)?;
                        let nx = norm(&x);
                        let ny = norm(&y);
                        (x * y, sx * sy, ex * ny + ey * nx)
                    }
                    (true, true) => {
                        return Err(EvalError::Unsupported(
                            "`*` between two matrices: write `@` for the matrix product".into(),
                        ))
                    }
                    _ => {
                        let (m, s) = if ma { (*a, *b) } else { (*b, *a) };
                        let (x, sx, ex) = self.matrix(e, m)?;
                        let c = self.value(e, s)?;
                        let nx = norm(&x);
                        (
                            x * c.value,
                            sx * c.scale,
                            ex * c.value.abs() + c.stderr * nx,
                        )
                    }
                }
            }
            Math::Div([a, b]) => {
                let (x, sx, ex) = self.matrix(e, *a)?;
                let c = self.value(e, *b)?;
                let nx = norm(&x);
                let d = c.value.abs();
                let sc = (sx + x.abs() * (c.scale / d)) / d;
                (x / c.value, sc, (ex + nx * c.stderr / d) / d)
            }
            Math::MatExp(a) => {
                let (x, sx, ex) = if self.is_matrix(e, *a) {
                    self.matrix(e, *a)?
                } else {
                    let c = self.value(e, *a)?;
                    (
                        Matrix::identity(n, n) * c.value,
                        Matrix::identity(n, n) * c.scale,
                        c.stderr,
                    )
                };
                // nalgebra's scaling and squaring estimates norms of powers up to X¹⁰: beyond
                // MEXP_MAX_NORM they overflow, and ⌈log₂ ∞⌉ squarings never end.
                let one_norm = |m: &Matrix| m.abs().row_sum().max();
                let largest = one_norm(&x).max(one_norm(&sx));
                let finite = x.iter().chain(sx.iter()).all(|v| v.is_finite());
                if !finite || largest.is_nan() || largest > crate::precision::MEXP_MAX_NORM {
                    return Err(EvalError::Unsupported(format!(
                        "mexp of a matrix whose norm ({largest:.3e}) exceeds {:.0e}: beyond the matrix exponential's range",
                        crate::precision::MEXP_MAX_NORM
                    )));
                }
                let m = x.exp();
                // The magnitudes are the same computation on the magnitudes: |exp(X)| ≤
                // exp(|X|) ≤ exp(M_X) entry by entry (every term of the series is). (Not
                // exp(ΣM_X): for ΣM_X ≈ 45 that is 1e19 where ‖exp(x)‖ may be 1e4, and every
                // tolerance and error estimate built on it would be vacuous.)
                let growth = sx.exp();
                let err = ex * growth.sum();
                (m, growth, err)
            }
            Math::Deriv([t, body]) => {
                let (d, err, scale) = self.derivative(e, *t, *body, true)?;
                (d, scale, err)
            }
            _ => {
                return Err(EvalError::Unsupported(
                    "this matrix expression is not evaluated numerically".into(),
                ))
            }
        })
    }

    /// Account for a sum over `lo..=hi` (empty when `hi < lo`) against [`TERM_BUDGET`].
    fn spend(&mut self, lo: i64, hi: i64) -> Result<(), EvalError> {
        let count = (i128::from(hi) - i128::from(lo) + 1).max(0);
        self.charge(count, || format!("a sum over {lo}..{hi}"))
    }

    /// After the first term of a sum over `lo..=hi` that started with `before` terms spent:
    /// refuse at once if the remaining terms, each as costly as the first, exceed the budget.
    fn project(&mut self, before: u64, lo: i64, hi: i64) -> Result<(), EvalError> {
        let per = i128::from(self.terms.saturating_sub(before));
        let rest = i128::from(hi) - i128::from(lo);
        if per > 0 && i128::from(self.terms) + per * rest > i128::from(TERM_BUDGET) {
            self.terms = TERM_BUDGET + 1;
            return Err(EvalError::Budget(format!(
                "a sum over {lo}..{hi} whose terms cost {per} each"
            )));
        }
        Ok(())
    }

    /// Sum terms and polynomial products spent so far (see [`TERM_BUDGET`]).
    pub fn terms_spent(&self) -> u64 {
        self.terms
    }

    /// Sum terms, monomial products and integrand evaluations spent so far: the cost of the
    /// evaluations made, for a caller that evaluates many points within a budget.
    pub fn work_spent(&self) -> u64 {
        self.terms + self.nodes
    }

    fn charge(&mut self, count: i128, what: impl FnOnce() -> String) -> Result<(), EvalError> {
        let total = i128::from(self.terms) + count;
        if total > i128::from(TERM_BUDGET) {
            self.terms = TERM_BUDGET + 1;
            return Err(EvalError::Budget(what()));
        }
        self.terms = total as u64;
        Ok(())
    }

    /// The indices `args`, evaluated into `buf` (no allocation for up to 8 of them).
    fn indices<'b>(
        &mut self,
        e: &Expr,
        args: &[Id],
        buf: &'b mut [i64; 8],
    ) -> Result<std::borrow::Cow<'b, [i64]>, EvalError> {
        if args.len() > buf.len() {
            return args
                .iter()
                .map(|a| self.index(e, *a))
                .collect::<Result<Vec<_>, _>>()
                .map(std::borrow::Cow::Owned);
        }
        for (slot, a) in buf.iter_mut().zip(args) {
            *slot = self.index(e, *a)?;
        }
        Ok(std::borrow::Cow::Borrowed(&buf[..args.len()]))
    }

    /// The hash of an array's name and the point's seed that its seeded entries start from
    /// (cached: hashing the name means reading it from the symbol table).
    fn name_hash(&mut self, s: Symbol) -> u64 {
        if let Some((_, h)) = self.name_hashes.iter().find(|(n, _)| *n == s) {
            return *h;
        }
        let name = self.env.entry_alias.get(&s).copied().unwrap_or(s);
        let h = hash_of_name(name, self.env.seed);
        self.name_hashes.push((s, h));
        h
    }

    fn is_random(&self, s: Symbol) -> bool {
        self.env.random.contains(&s)
    }

    /// Does `s` have a number here ([`Evaluator::lookup`] succeeds)? Without building the error.
    fn has_value(&self, s: Symbol) -> bool {
        self.bound.iter().any(|(b, _)| *b == s)
            || self.env.scalars.contains_key(&s)
            || s == pi_symbol()
    }

    fn lookup(&self, s: Symbol) -> Result<f64, EvalError> {
        if let Some((_, v)) = self.bound.iter().rev().find(|(b, _)| *b == s) {
            return Ok(*v);
        }
        if let Some(v) = self.env.scalars.get(&s) {
            return Ok(*v);
        }
        if s == pi_symbol() {
            return Ok(std::f64::consts::PI);
        }
        if let Some((_, why)) = self.env.undefined.iter().find(|(u, _)| *u == s) {
            return Err(EvalError::OutOfDomain(why.clone()));
        }
        Err(EvalError::Unbound(s.to_string()))
    }

    fn index(&mut self, e: &Expr, id: Id) -> Result<i64, EvalError> {
        // A bound index, read directly.
        if let Math::Symbol(s) = &e[id] {
            if let Some((_, v)) = self.bound.iter().rev().find(|(b, _)| b == s) {
                if v.fract() == 0.0 && v.abs() <= 9.007_199_254_740_992e15 {
                    return Ok(*v as i64);
                }
            }
        }
        // A constant integer from the table, without copying its exact value.
        let key = e as *const Expr as usize;
        if let Some((_, table)) = self.constants.iter().rev().find(|(k, _)| *k == key) {
            if table.exact.len() == e.as_ref().len() {
                if let Some(Some(q)) = table.exact.get(usize::from(id)) {
                    if let (true, Some(i)) =
                        (q.is_integer(), num_traits::ToPrimitive::to_i64(q.numer()))
                    {
                        return Ok(i);
                    }
                }
            }
        }
        if let Some(q) = self.constant(e, id) {
            // Exact: a literal bound such as ±9223372036854775807 is not rounded through f64.
            if !q.is_integer() {
                // Exactly as it is (1 + 10⁻²² would print as 1 through f64).
                return Err(EvalError::NonIntegerIndex(q.to_string()));
            }
            return num_traits::ToPrimitive::to_i64(q.numer()).ok_or_else(|| {
                EvalError::Budget(format!("the index {} does not fit in 64 bits", q.numer()))
            });
        }
        // Exactly, from the point's values: an index is an integer or it is not, and a value
        // rounded in f64 cannot say which (k + 10⁻¹² read as k made δ(j, k + 10⁻¹²) = 1, and
        // δ(0, −8·10⁻²⁰) = 1 refuted δ(a, b)·a = δ(a, b)·b; attack 47).
        if let Some(i) = self.whole_index(e, id)? {
            return Ok(i);
        }
        let Some(q) = self.exact_index(e, id)? else {
            let v = self.value(e, id)?.value;
            return Err(EvalError::Unsupported(format!(
                "the index `{}` (≈ {v}) cannot be computed exactly (only +, −, ×, ÷ and whole \
                 powers of the point's values are), so whether it is an integer is not known",
                crate::expr::binders::subterm(e, id)
            )));
        };
        if !q.is_integer() {
            return Err(EvalError::NonIntegerIndex(if q.denom().bits() <= 64 {
                q.to_string()
            } else {
                // The nearest whole number and the exact offset from it, as f64s.
                let whole = q.round();
                let off = num_traits::ToPrimitive::to_f64(&(&q - &whole)).unwrap_or(f64::NAN);
                format!(
                    "{} {} {:e}",
                    whole.numer(),
                    if off < 0.0 { "−" } else { "+" },
                    off.abs()
                )
            }));
        }
        num_traits::ToPrimitive::to_i64(q.numer())
            .filter(|i| i.unsigned_abs() <= 1 << 53)
            .ok_or_else(|| {
                EvalError::Budget(format!(
                    "the index {} is beyond 2^53, where f64 integers are not exact",
                    q.numer()
                ))
            })
    }

    /// Are the two terms equal, computed exactly from the point's values (δ(a, b) is 1 where
    /// they are, 0 elsewhere, whole numbers or not: δ(j, 3/2) is 0 for every j, and reading it
    /// as having no value skipped every even n of Σⱼ δ(j, (n + 1)/2) = 1, where it fails;
    /// attack 49)? A term that needs another operation than +, −, ×, ÷ and whole powers has no
    /// exact value here, and the point is not evaluated.
    fn same_value(&mut self, e: &Expr, a: Id, b: Id) -> Result<bool, EvalError> {
        if let (Some(x), Some(y)) = (self.whole_index(e, a)?, self.whole_index(e, b)?) {
            return Ok(x == y);
        }
        let (x, y) = (self.exact_index(e, a)?, self.exact_index(e, b)?);
        match (x, y) {
            (Some(x), Some(y)) => Ok(x == y),
            _ => Err(EvalError::Unsupported(format!(
                "δ({}, {}) needs its arguments exactly (only +, −, ×, ÷ and whole powers of the \
                 point's values are computed exactly)",
                crate::expr::binders::subterm(e, a),
                crate::expr::binders::subterm(e, b)
            ))),
        }
    }

    /// An index in whole numbers, where every value it is made of is one and +, −, × and whole
    /// powers stay within 2^53 (exact, without allocating); `None` sends it to [`Self::exact_index`].
    fn whole_index(&mut self, e: &Expr, id: Id) -> Result<Option<i64>, EvalError> {
        const EXACT: i64 = 1 << 53;
        let leaf = |v: f64| (v.fract() == 0.0 && v.abs() <= EXACT as f64).then_some(v as i64);
        let r = match &e[id] {
            Math::Num(c) => {
                if !c.0.is_integer() {
                    return Ok(None);
                }
                num_traits::ToPrimitive::to_i64(c.0.numer())
            }
            Math::Symbol(s) => match self.bound.iter().rev().find(|(b, _)| b == s) {
                Some((_, v)) => leaf(*v),
                None => leaf(self.value(e, id)?.value),
            },
            Math::Index(_) => leaf(self.value(e, id)?.value),
            Math::Neg(a) => self.whole_index(e, *a)?.map(|x| -x),
            Math::Add([a, b]) | Math::Sub([a, b]) | Math::Mul([a, b]) | Math::Pow([a, b]) => {
                let (Some(x), Some(y)) = (self.whole_index(e, *a)?, self.whole_index(e, *b)?)
                else {
                    return Ok(None);
                };
                match &e[id] {
                    Math::Add(_) => x.checked_add(y),
                    Math::Sub(_) => x.checked_sub(y),
                    Math::Mul(_) => x.checked_mul(y),
                    _ => u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
                }
            }
            _ => None,
        };
        Ok(r.filter(|i| i.unsigned_abs() <= EXACT as u64))
    }

    /// An index's exact value from the point's values (each an exact rational, as every f64
    /// is) through +, −, ×, ÷ and whole powers; `None` where another operation is involved.
    fn exact_index(
        &mut self,
        e: &Expr,
        id: Id,
    ) -> Result<Option<num_rational::BigRational>, EvalError> {
        use num_rational::BigRational;
        let leaf = |v: f64| {
            if v.is_finite() {
                BigRational::from_float(v)
            } else {
                None
            }
        };
        Ok(match &e[id] {
            Math::Num(c) => Some(c.0.clone()),
            Math::Symbol(s) => {
                if let Some((_, v)) = self.bound.iter().rev().find(|(b, _)| b == s) {
                    leaf(*v)
                } else {
                    leaf(self.value(e, id)?.value)
                }
            }
            // An entry of an array is one of the point's values.
            Math::Index(_) => leaf(self.value(e, id)?.value),
            Math::Neg(a) => self.exact_index(e, *a)?.map(|q| -q),
            Math::Add([a, b])
            | Math::Sub([a, b])
            | Math::Mul([a, b])
            | Math::Div([a, b])
            | Math::Pow([a, b]) => {
                let (a, b) = (*a, *b);
                let (Some(x), Some(y)) = (self.exact_index(e, a)?, self.exact_index(e, b)?) else {
                    return Ok(None);
                };
                exact_node(&e[id], &|c| {
                    if c == a {
                        Some(x.clone())
                    } else if c == b {
                        Some(y.clone())
                    } else {
                        None
                    }
                })
            }
            _ => None,
        })
    }

    fn random_key(&mut self, e: &Expr, id: Id) -> Result<Option<RvKey>, EvalError> {
        match &e[id] {
            Math::Symbol(s) if self.is_random(*s) && !self.has_value(*s) => Ok(Some((*s, vec![]))),
            Math::Index(args) => {
                let Some(s) = e[args[0]].symbol() else {
                    return Err(EvalError::Unsupported(
                        "only a symbol can be indexed".into(),
                    ));
                };
                if !self.is_random(s) {
                    return Ok(None);
                }
                let idx = args[1..]
                    .iter()
                    .map(|a| self.index(e, *a))
                    .collect::<Result<Vec<_>, _>>()?;
                self.env.entry_in_shape(s, &idx)?;
                Ok(Some((s, idx)))
            }
            _ => Ok(None),
        }
    }

    fn sampled(&mut self, key: RvKey) -> f64 {
        use rand_distr::Distribution;
        if let Some(k) = self.mc_k {
            let seed = self.env.seed ^ 0x6d63_5eed;
            let sample = self.sample.as_mut().expect("sampling");
            if let Some(v) = sample.get(&key) {
                return *v;
            }
            // The name's hash, cached (reading a name goes through the global symbol table).
            let h = match self.rv_hashes.iter().find(|(n, _)| *n == key.0) {
                Some((_, h)) => *h,
                None => {
                    let h = fnv(key.0.as_str(), seed);
                    self.rv_hashes.push((key.0, h));
                    h
                }
            };
            let v = keyed_normal_from(h, &key, k);
            sample.insert(key, v);
            return v;
        }
        let rng = &mut self.rng;
        *self
            .sample
            .as_mut()
            .expect("sampling")
            .entry(key)
            .or_insert_with(|| rand_distr::StandardNormal.sample(rng))
    }

    /// Evaluate a subterm as a number.
    fn value(&mut self, e: &Expr, id: Id) -> Result<Value, EvalError> {
        if let Some(key) = self.random_key(e, id)? {
            if self.sample.is_some() {
                return Ok(Value::exact(self.sampled(key)));
            }
            return Err(EvalError::RandomOutsideExpectation(key.0.to_string()));
        }
        let node = &e[id];
        if let Some((a, f, df)) = unary_fns(node) {
            let x = self.value(e, a)?;
            if jumps(node) && undecided_jump(&x) {
                self.undecided(node, &x)?;
            }
            let v = unary(x, f, df);
            return Ok(underflowed(v, zero_only_at_zero(node) && maybe_nonzero(&x)));
        }
        Ok(match node {
            Math::Num(c) => {
                let v = self.constant_f64(e, id).unwrap_or_else(|| c.to_f64());
                underflowed(Value::exact(v), !num_traits::Zero::is_zero(&c.0))
            }
            Math::Symbol(s) => Value::exact(self.lookup(*s)?),
            Math::Add(_)
            | Math::Sub(_)
            | Math::Neg(_)
            | Math::Mul(_)
            | Math::Div(_)
            | Math::Pow(_)
                if self.is_constant(e, id) =>
            {
                // A constant below f64's range (10^(−330)) rounds to 0 or a subnormal: the
                // underflow's absolute error is in the allowance, so it does not count as 0.
                let v = self.constant_f64(e, id).expect("checked");
                let nonzero = self
                    .constant(e, id)
                    .is_none_or(|q| !num_traits::Zero::is_zero(&q));
                underflowed(Value::exact(v), nonzero)
            }
            Math::Add(_) | Math::Sub(_) => {
                let (terms, c, c_scale) = self.linear_chain(e, id);
                let mut acc = Value {
                    value: 0.0,
                    scale: 0.0,
                    stderr: 0.0,
                };
                for (positive, t) in terms {
                    let x = self.value(e, t)?;
                    acc.value += if positive { x.value } else { -x.value };
                    acc.scale += x.scale;
                    acc.stderr += x.stderr;
                }
                acc.value += c;
                acc.scale += c_scale;
                acc
            }
            Math::Mul([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                product(x, y)
            }
            Math::Div([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                quotient(x, y)
            }
            Math::Neg(a) => {
                let x = self.value(e, *a)?;
                Value {
                    value: -x.value,
                    ..x
                }
            }
            Math::Pow([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                // 0^y jumps at y = 0 (0^0 = 1): an exponent within rounding of 0 is a jump's
                // argument whose side f64 does not know.
                if x.value == 0.0 && x.scale == 0.0 && y.value.is_finite() && undecided_jump(&y) {
                    return Err(jump_error("0^y", &y));
                }
                power(x, y)
            }
            Math::Sqrt(_)
            | Math::Exp(_)
            | Math::Log(_)
            | Math::Sin(_)
            | Math::Cos(_)
            | Math::Tan(_)
            | Math::Asin(_)
            | Math::Acos(_)
            | Math::Atan(_)
            | Math::Abs(_)
            | Math::Relu(_)
            | Math::Step(_)
            | Math::Erf(_)
            | Math::Tanh(_)
            | Math::Sigmoid(_)
            | Math::Softplus(_)
            | Math::Gelu(_)
            | Math::Cosh(_)
            | Math::Sinh(_)
            | Math::Sign(_) => unreachable!("unary_fns handles these above"),
            Math::Max([a, b]) | Math::Min([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                if x.value.is_nan() || y.value.is_nan() {
                    return Ok(Value::exact(f64::NAN));
                }
                let first = if matches!(node, Math::Max(_)) {
                    x.value >= y.value
                } else {
                    x.value <= y.value
                };
                // The chosen operand, with its scale; a tie within the uncertainties keeps the
                // larger uncertainty.
                let mut v = if first { x } else { y };
                v.stderr = x.stderr.max(y.stderr);
                v.scale = x.scale.max(y.scale);
                v
            }
            Math::LeakyRelu([a, s]) => {
                let (x, slope) = (self.value(e, *a)?, self.value(e, *s)?);
                if x.value.is_nan() || slope.value.is_nan() {
                    return Ok(Value::exact(f64::NAN));
                }
                if x.value >= 0.0 {
                    x
                } else {
                    product(x, slope)
                }
            }
            Math::Atan2([a, b]) => {
                let (y, x) = (self.value(e, *a)?, self.value(e, *b)?);
                // The angle of the origin is no number (f64's 0 there came with an allowance
                // of 0/0).
                if x.value == 0.0 && y.value == 0.0 {
                    return Err(EvalError::OutOfDomain(
                        "atan2(0, 0): the origin has no angle".into(),
                    ));
                }
                // ∂ atan2 = (x dy − y dx)/r², with r = hypot(x, y) taken without squaring
                // (x² + y² underflows to 0 at 10⁻³⁰⁰).
                let r = x.value.phypot(y.value);
                let (cx, sy) = (x.value.abs() / r, y.value.abs() / r);
                // A zero has no sign: f64's −0 (of −a at a = 0, or 0·(−1)) would put the angle
                // at −π on the negative axis, where atan2(0, x < 0) = π (adding +0 makes −0 +0).
                let v = (y.value + 0.0).patan2(x.value + 0.0);
                Value {
                    value: v,
                    scale: v.abs() + (cx * y.scale + sy * x.scale) / r,
                    stderr: (cx * y.stderr + sy * x.stderr) / r,
                }
            }
            Math::Phi(a) | Math::DPhi(a) => {
                let act = self.env.phi.ok_or_else(|| {
                    EvalError::Unsupported("the generic activation phi has no instance here".into())
                })?;
                let x = self.value(e, *a)?;
                let deriv = matches!(node, Math::DPhi(_));
                if act.jumps(deriv) && undecided_jump(&x) {
                    self.undecided(node, &x)?;
                }
                // φ′ is the derivative where it exists: at the kink of relu, leaky relu or abs a
                // point has no value (a convention such as step(0) = 0 made
                // d/dt(φ(t) − φ(−t)) = dφ(t) + dφ(−t) false at t = 0, where the left side is 1;
                // the prover's chain rule for φ holds wherever φ′ exists). Inside an integrand
                // (a quadrature's variable bound, a Monte Carlo sample) the kink is a null set.
                if deriv
                    && act.jumps(true)
                    && x.value == 0.0
                    && self.bound.is_empty()
                    && self.sample.is_none()
                {
                    return Err(EvalError::OutOfDomain(format!(
                        "dphi(0) for phi = {act}: the derivative does not exist at its kink"
                    )));
                }
                if x.value.is_nan() {
                    return Ok(Value::exact(f64::NAN));
                }
                let g = self.env.phi_gain.0;
                let v = if deriv {
                    g * act.deriv(x.value)
                } else {
                    g * act.eval(x.value) + self.env.phi_shift
                };
                let h = 1e-6 * (1.0 + x.value.abs());
                let slope = g.abs()
                    * if deriv {
                        ((act.deriv(x.value + h) - act.deriv(x.value - h)) / (2.0 * h)).abs()
                    } else {
                        act.deriv(x.value).abs()
                    };
                // The shift's addition rounds relative to the larger of the two terms.
                let shift = if deriv { 0.0 } else { self.env.phi_shift.abs() };
                Value {
                    value: v,
                    scale: v.abs() + shift + slope * x.scale,
                    stderr: slope * x.stderr,
                }
            }
            Math::Delta([a, b]) => Value::exact(if self.same_value(e, *a, *b)? {
                1.0
            } else {
                0.0
            }),
            Math::Index(args) => {
                let Some(s) = e[args[0]].symbol() else {
                    return Err(EvalError::Unsupported(
                        "only a symbol can be indexed".into(),
                    ));
                };
                let mut buf = [0i64; 8];
                let idx = self.indices(e, &args[1..], &mut buf)?;
                self.env.entry_in_shape(s, &idx)?;
                if let Some((_, _, v)) = self
                    .perturbed
                    .iter()
                    .rev()
                    .find(|(p, i, _)| *p == s && i[..] == idx[..])
                {
                    return Ok(Value::exact(*v));
                }
                if let Some(values) = self.env.arrays.get(&s) {
                    let entry = match idx[..] {
                        [k] if k >= 1 => values.get(k as usize - 1),
                        _ => None,
                    };
                    let Some(v) = entry else {
                        return Err(EvalError::Unsupported(format!(
                            "`{s}` has entries 1..{}; index {idx:?} is outside",
                            values.len()
                        )));
                    };
                    return Ok(Value::exact(*v));
                }
                if let Some((_, _, v)) = self
                    .env
                    .entry_values
                    .iter()
                    .rev()
                    .find(|(p, i, _)| *p == s && i[..] == idx[..])
                {
                    return Ok(Value::exact(*v));
                }
                let h = self.name_hash(s);
                Value::exact(self.env.entry_scale(s) * self.env.entry_pattern(s, h, &idx))
            }
            Math::Integral([v, lo, hi, body]) => self.integral(e, *v, *lo, *hi, *body)?,
            Math::Sum([v, lo, hi, body]) => {
                let var = e[*v].symbol().ok_or_else(|| {
                    EvalError::Unsupported("a sum's index must be a symbol".into())
                })?;
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                self.spend(lo, hi)?;
                let mut acc = Value::exact(0.0);
                // An empty or reversed range (hi < lo) sums to 0.
                if hi < lo {
                    return Ok(acc);
                }
                let before = self.terms;
                // Factors of the body that do not depend on the index are evaluated once and
                // multiply the sum of the rest (distributivity; the budget is charged as if
                // they were evaluated in every term).
                let mut factors = vec![];
                self.factors(e, *body, &mut factors);
                let (fixed, varying): (Vec<Id>, Vec<Id>) = factors
                    .into_iter()
                    .partition(|f| self.invariant_in(e, *f, var));
                let hoist = !fixed.is_empty() && !varying.is_empty();
                let mut common = Value::exact(1.0);
                if hoist {
                    for f in &fixed {
                        let x = self.value(e, *f)?;
                        common = product(common, x);
                    }
                }
                let common_cost = self.terms - before;
                // Neumaier's compensated sum: the rounding of a long sum stays at a few ulps of
                // its magnitude instead of growing with the count (10⁶ terms of c drifted by
                // 10⁶·ε, past the tolerance's 10⁻¹²).
                let mut compensation = 0.0f64;
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = if hoist {
                        self.product_of(e, &varying)
                    } else {
                        self.value(e, *body)
                    };
                    self.bound.pop();
                    let t = t?;
                    if j == lo {
                        self.project(before, lo, hi)?;
                    }
                    let sum = acc.value + t.value;
                    compensation += if acc.value.abs() >= t.value.abs() {
                        (acc.value - sum) + t.value
                    } else {
                        (t.value - sum) + acc.value
                    };
                    acc.value = sum;
                    acc.scale += t.scale;
                    acc.stderr += t.stderr;
                }
                acc.value += compensation;
                if hoist {
                    let rest = i128::from(hi) - i128::from(lo);
                    self.charge(i128::from(common_cost) * rest, || {
                        format!("a sum over {lo}..{hi}")
                    })?;
                    acc = product(common, acc);
                }
                acc
            }
            Math::Expect(a) => self.expectation(e, *a)?,
            Math::Gauss([s11, s12, s22, body]) => self.gauss(e, [*s11, *s12, *s22], *body)?,
            Math::Deriv([t, body]) => {
                let (d, err, scale) = self.derivative(e, *t, *body, false)?;
                Value {
                    value: d[(0, 0)],
                    scale: scale[(0, 0)],
                    stderr: err,
                }
            }
            Math::MatMul(_) | Math::MatExp(_) => {
                return Err(EvalError::Unsupported(
                    "a matrix expression where a number is expected".into(),
                ))
            }
            Math::Transpose(_)
            | Math::Trace(_)
            | Math::Norm(_)
            | Math::Dot(_)
            | Math::Outer(_)
            | Math::Grad(_)
            | Math::Jacobian(_)
            | Math::Hessian(_) => {
                return Err(EvalError::Unsupported(
                    "vector and matrix operations are evaluated after the loader writes them as entries and sums (declare the vectors' and matrices' sizes)".into(),
                ))
            }
        })
    }

    /// The factors of the chain of `×` rooted at `id`, left to right (a constant subterm is one
    /// factor).
    fn factors(&self, e: &Expr, id: Id, out: &mut Vec<Id>) {
        match &e[id] {
            Math::Mul([a, b]) if !self.is_constant(e, id) => {
                self.factors(e, *a, out);
                self.factors(e, *b, out);
            }
            _ => out.push(id),
        }
    }

    /// The product of `factors`' values, left to right.
    fn product_of(&mut self, e: &Expr, factors: &[Id]) -> Result<Value, EvalError> {
        let mut acc = self.value(e, factors[0])?;
        for f in &factors[1..] {
            let x = self.value(e, *f)?;
            acc = product(acc, x);
        }
        Ok(acc)
    }

    /// d/dt(body) at the current value of t, for a matrix-valued or (as a 1×1 matrix) scalar body:
    /// (value, error estimate, magnitude scale): exact by forward mode ([`dual`]) for a scalar
    /// body where the chain rule applies at the point, otherwise by the one difference scheme,
    /// [`super::diff::derivative`] (Ridders' extrapolation; initial step from t and its declared
    /// interval, one-sided at an edge of it). A failure of the scheme (a sample that is not
    /// finite, differences that do not converge) is an error: the point is not evaluated. A `t`
    /// bound by an enclosing sum or d/dt has no declared interval.
    fn derivative(
        &mut self,
        e: &Expr,
        t: Id,
        body: Id,
        as_matrix: bool,
    ) -> Result<(Matrix, f64, Matrix), EvalError> {
        if let Math::Index(args) = &e[t] {
            return self.entry_derivative(e, t, args, body, as_matrix);
        }
        let t = e[t]
            .symbol()
            .ok_or_else(|| EvalError::Unsupported("d/dX needs a symbol X".into()))?;
        let t0 = self.lookup(t)?;
        let bound_here = self.bound.iter().any(|(b, _)| *b == t);
        let domain = if bound_here {
            None
        } else {
            self.env.domains.get(&t).copied()
        };
        self.differentiate(e, body, as_matrix, t0, domain, Moved::Symbol(t))
    }

    /// ∂/∂W[a, b](body): the entry W[a, b] (indices evaluated here) is moved to each sample of
    /// the derivative scheme while the body is evaluated; the other entries keep their values.
    fn entry_derivative(
        &mut self,
        e: &Expr,
        t: Id,
        args: &[Id],
        body: Id,
        as_matrix: bool,
    ) -> Result<(Matrix, f64, Matrix), EvalError> {
        let Some(s) = e[args[0]].symbol() else {
            return Err(EvalError::Unsupported(
                "only a symbol can be indexed".into(),
            ));
        };
        if self.is_random(s) {
            return Err(EvalError::Unsupported(format!(
                "d/d{s}[…]: a derivative by an entry of a random array is not evaluated"
            )));
        }
        let mut buf = [0i64; 8];
        let idx = self.indices(e, &args[1..], &mut buf)?.to_vec();
        self.env.entry_in_shape(s, &idx)?;
        let t0 = self.value(e, t)?.value;
        self.differentiate(e, body, as_matrix, t0, None, Moved::Entry(s, idx))
    }

    /// The derivative of `body` as `what` moves from `t0`: (value, error estimate, magnitudes:
    /// 1×1 for a scalar body, entry by entry for a matrix). Forward mode first for a scalar body
    /// ([`dual`]: exact, one pass); where it declines, the one difference scheme
    /// ([`super::diff::derivative`]). The scheme's own failure is said with the variable's name
    /// (the scheme calls it t).
    fn differentiate(
        &mut self,
        e: &Expr,
        body: Id,
        as_matrix: bool,
        t0: f64,
        domain: Option<(f64, f64)>,
        what: Moved,
    ) -> Result<(Matrix, f64, Matrix), EvalError> {
        // What one sample of the body costs (see [`Self::scheme`]).
        let work = subterm_nodes(e, body).count() as u64
            * if as_matrix {
                (MATRIX_DIM as u64).pow(3)
            } else {
                1
            };
        if as_matrix {
            return self.scheme(t0, domain, &what, work, |ev| {
                ev.matrix(e, body).map(|(m, s, _)| (m, s))
            });
        }
        if let Some(d) = self.forward_derivative(e, body, &what)? {
            let one = |x: f64| Matrix::from_element(1, 1, x);
            return Ok((one(d.value), d.stderr, one(d.scale)));
        }
        // Linearity: a sum term by term, each by forward mode where it can be, so that the
        // difference scheme runs only on the terms forward mode declines (a kink), not on a
        // fast-varying term beside them whose higher derivatives its error estimate misjudges
        // (d/dt(relu(t)² + exp(100t)) at 0 was 100.00017 ± 2.6e-5).
        // A factor free of the variable comes out (c·f, f/c): the scheme runs on f alone.
        let moves = |id: Id| match &what {
            Moved::Symbol(t) => crate::expr::binders::free_symbols(e, id).contains(t),
            Moved::Entry(s, _) => crate::expr::binders::free_symbols(e, id).contains(s),
        };
        if let Math::Mul([a, b]) | Math::Div([a, b]) = &e[body] {
            let (c, f) = match (moves(*a), moves(*b)) {
                (false, true) if matches!(e[body], Math::Mul(_)) => (*a, *b),
                (true, false) => (*b, *a),
                _ => (body, body),
            };
            if c == body && moves(*a) && moves(*b) && matches!(e[body], Math::Mul(_)) {
                // The product rule: (uv)′ = u′v + uv′, each factor by forward mode where it can
                // be, the scheme on the other alone (√(1 + relu(t)²)·e^(30t) at 0 was 30.00046
                // with an estimate of ±5.8e-6 when the scheme ran on the product).
                let (u, v) = (self.value(e, *a)?, self.value(e, *b)?);
                let factors = self
                    .differentiate(e, *a, false, t0, domain, what.clone())
                    .and_then(|du| {
                        let dv = self.differentiate(e, *b, false, t0, domain, what.clone())?;
                        Ok((du, dv))
                    });
                // A factor without a derivative here (|a| at 0) does not decide the product's
                // (a·|a| has one, 0): the scheme runs on the product and tests it for a kink.
                let ((du, eu, su), (dv, ev, sv)) = match factors {
                    Err(
                        EvalError::Unsupported(_)
                        | EvalError::OutOfDomain(_)
                        | EvalError::Undecided(_),
                    ) => {
                        let (d, err, scale) = self.scheme(t0, domain, &what, work, |ev| {
                            ev.value(e, body)
                                .map(|v| (Matrix::from_element(1, 1, v.value), v.scale))
                        })?;
                        return Ok((d, err, Matrix::from_element(1, 1, scale)));
                    }
                    r => r?,
                };
                let (du, dv) = (du[(0, 0)], dv[(0, 0)]);
                let one = |x: f64| Matrix::from_element(1, 1, x);
                return Ok((
                    one(du * v.value + u.value * dv),
                    eu * v.value.abs()
                        + du.abs() * v.stderr
                        + u.value.abs() * ev
                        + u.stderr * dv.abs(),
                    one(su[(0, 0)] * v.scale + u.scale * sv[(0, 0)]),
                ));
            }
            if c != body {
                let k = self.value(e, c)?;
                let (d, err, scale) = self.differentiate(e, f, false, t0, domain, what.clone())?;
                let k = if matches!(e[body], Math::Div(_)) {
                    Value {
                        value: 1.0 / k.value,
                        scale: 1.0 / k.value.abs(),
                        stderr: k.stderr / (k.value * k.value),
                    }
                } else {
                    k
                };
                let one = |x: f64| Matrix::from_element(1, 1, x);
                let v = d[(0, 0)];
                return Ok((
                    one(v * k.value),
                    err * k.value.abs() + v.abs() * k.stderr,
                    one(scale[(0, 0)] * k.scale),
                ));
            }
        }
        let mut terms = vec![];
        linear_terms(e, body, true, &mut terms);
        if terms.len() > 1 {
            let (mut value, mut err, mut scale) = (0.0, 0.0, 0.0);
            // Terms without a derivative here (relu(t) at 0): their sum may have one
            // (relu(t) − relu(−t) = t, derivative 1; the point was dropped as a kink, and
            // d/dt(relu(t) − relu(−t)) = step(t) + step(−t), 0 at t = 0, was `consistent`).
            let mut failed: Vec<(bool, Id, EvalError)> = vec![];
            for &(positive, t) in &terms {
                match self.differentiate(e, t, false, t0, domain, what.clone()) {
                    Ok((d, er, sc)) => {
                        value += if positive { d[(0, 0)] } else { -d[(0, 0)] };
                        err += er;
                        scale += sc[(0, 0)];
                    }
                    Err(
                        why @ (EvalError::Unsupported(_)
                        | EvalError::OutOfDomain(_)
                        | EvalError::Undecided(_)),
                    ) => failed.push((positive, t, why)),
                    Err(other) => return Err(other),
                }
            }
            if failed.len() == 1 {
                return Err(failed.remove(0).2);
            }
            if !failed.is_empty() {
                // The scheme on the sum of those terms alone, tested for a kink as a whole; the
                // others keep their exact derivatives (the scheme run on the whole sum misjudged
                // a fast exponential beside a kink: d/dt(relu(t)² + e^(100t)) at 0 was
                // 100.00017 ± 2.6e-5).
                let parts: Vec<(bool, Id)> = failed.iter().map(|(p, t, _)| (*p, *t)).collect();
                let (d, er, sc) = self.scheme(t0, domain, &what, work, |ev| {
                    let (mut v, mut s) = (0.0, 0.0);
                    for &(positive, t) in &parts {
                        let x = ev.value(e, t)?;
                        v += if positive { x.value } else { -x.value };
                        s += x.scale;
                    }
                    Ok((Matrix::from_element(1, 1, v), s))
                })?;
                value += d[(0, 0)];
                err += er;
                scale += sc;
            }
            let one = |x: f64| Matrix::from_element(1, 1, x);
            return Ok((one(value), err, one(scale)));
        }
        let (d, err, scale) = self.scheme(t0, domain, &what, work, |ev| {
            ev.value(e, body)
                .map(|v| (Matrix::from_element(1, 1, v.value), v.scale))
        })?;
        Ok((d, err, Matrix::from_element(1, 1, scale)))
    }

    /// The difference scheme on `sample` (the body at the moved variable): (value, error
    /// estimate, magnitude scale of the kind `sample` gives). Each sample counts `work` in
    /// `nodes` (the body's nodes, times n³ for a matrix body), the unit of the violation
    /// search's budget.
    fn scheme<S: super::diff::Scale>(
        &mut self,
        t0: f64,
        domain: Option<(f64, f64)>,
        what: &Moved,
        work: u64,
        mut sample: impl FnMut(&mut Self) -> Result<(Matrix, S), EvalError>,
    ) -> Result<(Matrix, f64, S), EvalError> {
        let d = super::diff::derivative(t0, domain, |x| {
            self.nodes += work;
            match what {
                Moved::Symbol(t) => self.bound.push((*t, x)),
                Moved::Entry(s, idx) => self.perturbed.push((*s, idx.clone(), x)),
            }
            let r = sample(self);
            match what {
                Moved::Symbol(_) => self.bound.pop().map(|_| ()),
                Moved::Entry(..) => self.perturbed.pop().map(|_| ()),
            };
            r.map_err(Failure::Inner)
        });
        match d {
            Ok(d) => Ok((d.value, d.error, d.scale)),
            Err(Failure::Inner(err)) => Err(err),
            Err(Failure::Own(err)) => {
                let name = match what {
                    Moved::Symbol(t) => t.to_string(),
                    Moved::Entry(s, idx) => format!("{s}{idx:?}"),
                };
                let text = err
                    .to_string()
                    .replacen("d/dt", &format!("d/d{name}"), 1)
                    .replacen(" t = ", &format!(" {name} = "), 1);
                Err(match err {
                    super::diff::DiffError::Domain(_) => EvalError::OutOfDomain(text),
                    super::diff::DiffError::Overflow { .. } => EvalError::Undecided(text),
                    _ => EvalError::Unsupported(text),
                })
            }
        }
    }

    /// integral(s in a..b, body) by double-exponential quadrature (the `quadrature` crate). A
    /// non-finite range, an integrand that is not finite or cannot be evaluated at a node, and a
    /// quadrature whose error estimate stays above 1e-9 of the integral's magnitude are errors
    /// (the point is not evaluated), never a value. The magnitude scale is |b − a|·max|f|, plus
    /// 1e12 × the error estimate so that the rounding allowance covers it.
    fn integral(&mut self, e: &Expr, v: Id, lo: Id, hi: Id, body: Id) -> Result<Value, EvalError> {
        self.tallying(|this, _, nodes| this.integral_counted(e, [v, lo, hi, body], nodes))
    }

    /// [`Evaluator::integral`], counting its integrand evaluations.
    fn integral_counted(
        &mut self,
        e: &Expr,
        [v, lo, hi, body]: [Id; 4],
        nodes: &mut usize,
    ) -> Result<Value, EvalError> {
        let var = e[v].symbol().ok_or_else(|| {
            EvalError::Unsupported("an integral's variable must be a symbol".into())
        })?;
        let (lo_v, hi_v) = (self.value(e, lo)?, self.value(e, hi)?);
        let (a, b) = (lo_v.value, hi_v.value);
        // An end that is a point's or a bound value, or a constant f64 holds exactly, has no
        // rounding (see the ends' scale below).
        let exact_end = [lo, hi].map(|end| match &e[end] {
            Math::Symbol(_) => true,
            _ => self.constant(e, end).is_some_and(|q| {
                num_rational::BigRational::from_float(
                    self.value(e, end).map_or(f64::NAN, |v| v.value),
                ) == Some(q)
            }),
        });
        if !a.is_finite() || !b.is_finite() {
            return Err(EvalError::OutOfDomain(format!(
                "integral over {a}..{b}: the range is not finite"
            )));
        }
        if a == b {
            // Ends that round to one double: 0, within the integrand's scale there times the
            // ends' (∫ over t..t + 10⁻⁶ at t = 1.8·10¹⁰ is 10⁻⁶, not an exact 0).
            let mut out = Value::exact(0.0);
            let rounded: f64 = [lo_v.scale, hi_v.scale]
                .iter()
                .zip(exact_end)
                .filter(|(_, exact)| !exact)
                .map(|(s, _)| s)
                .sum();
            if rounded > 0.0 {
                self.bound.push((var, a));
                let f = self.value(e, body);
                self.bound.pop();
                out.scale = f?.scale * rounded;
            }
            return Ok(out);
        }
        // ∫_b^a = −∫_a^b, evaluated as such: a reversed range gets the same nodes, value and
        // allowance as the forward one (and both rules see their ranges in increasing order).
        let (a, b, sign) = if a > b { (b, a, -1.0) } else { (a, b, 1.0) };
        // The range is cut where a subterm of the body that varies with the variable vanishes
        // (a kink of relu(s − c), the peak of exp(−10⁸·(s − 0.3)²), of exp(−10⁶·(sin s − ½)²)):
        // both rules crowd their nodes towards the ends of each piece, so a feature narrower
        // than their spacing over the whole range is resolved there.
        let cuts = self.zeros_of_subterms(e, var, body, a, b)?;
        // The body compiled once (its parts free of the variable evaluated once): the
        // evaluator's arithmetic at every node, and the budget charged for its sums at every
        // node as for walking the term.
        let program = self.compile(e, body, &mut Vars::Named(&[var]))?;
        let stack = std::cell::RefCell::new(vec![]);
        let nodes_seen = std::cell::Cell::new(0usize);
        let me = std::cell::RefCell::new((&mut *self, None::<EvalError>, 0.0f64, false, 0usize));
        // The integrand's value at x, or its magnitude scale (`scale`).
        let at = |x: f64, scale: bool| -> f64 {
            let mut cell = me.borrow_mut();
            let (ev, failure, max_scale, statistical, nonzero) = &mut *cell;
            if failure.is_some() {
                return 0.0;
            }
            nodes_seen.set(nodes_seen.get() + 1);
            let r = match &program {
                Some(p) => ev.spend(1, p.sum_terms() as i64).and_then(|()| {
                    let mut jumps = 0;
                    let y = p.run(&[x], &mut stack.borrow_mut(), &mut jumps);
                    for _ in 0..jumps {
                        ev.undecided(&e[body], &y)?;
                    }
                    Ok(y)
                }),
                None => {
                    ev.bound.push((var, x));
                    let r = ev.value(e, body);
                    ev.bound.pop();
                    r
                }
            };
            match r {
                Ok(y) if y.value.is_finite() && y.scale.is_finite() => {
                    *max_scale = max_scale.max(y.scale);
                    *statistical |= y.stderr > 0.0;
                    *nonzero += usize::from(y.value != 0.0);
                    if scale {
                        y.scale
                    } else {
                        y.value
                    }
                }
                Ok(y) => {
                    *failure = Some(EvalError::OutOfDomain(format!(
                        "the integrand is not finite ({:.3e}, magnitude {:.3e}) at {var} = {x:.6e}",
                        y.value, y.scale
                    )));
                    0.0
                }
                Err(err) => {
                    *failure = Some(err);
                    0.0
                }
            }
        };
        // Two rules: the double-exponential one (it never samples the end points) and adaptive
        // Gauss–Kronrod. On a divergent integral (1/s on 0..1) the first still returns a finite
        // number; the second does not converge, and the point is not evaluated.
        let mut out = quadrature::Output {
            num_function_evaluations: 0,
            error_estimate: 0.0,
            integral: 0.0,
        };
        let f = |x: f64| at(x, false);
        // The magnitude the rounding and the quadrature error are measured against: the
        // integral of the integrand's magnitude scale, not the range times its largest value
        // (which a tall narrow peak inflates until any value passes).
        let mut magnitude = 0.0;
        for w in cuts.windows(2) {
            // The rule's target error is absolute: relative to the piece's magnitude (1e-14 of
            // it), or ∫ over 0..10⁻¹⁴ of 1 stops at its first level with an error estimate of
            // 3·10⁻⁶ of the value, and an iterated integral ∫₀¹∫₀ˢ dr ds was not evaluated.
            let m = quadrature::double_exponential::integrate(|x| at(x, true), w[0], w[1], 1e-10)
                .integral
                .abs();
            let m = quadrature::double_exponential::integrate(
                |x| at(x, true),
                w[0],
                w[1],
                (1e-10 * m).max(f64::MIN_POSITIVE),
            )
            .integral
            .abs();
            magnitude += m;
            let target = (1e-14 * m).max(f64::MIN_POSITIVE);
            let o = quadrature::double_exponential::integrate(f, w[0], w[1], target.min(1e-14));
            out.integral += o.integral;
            out.error_estimate += o.error_estimate;
        }
        // The second rule: adaptive Gauss–Kronrod over the same pieces (it does not sample the
        // ends either, where a cut may sit on a peak, and it fails where its bisection reaches
        // f64's resolution: 1/s on 0..1).
        let mut g = f;
        let check = adaptive_gk(&mut g, &cuts);
        // The ends are known to their rounding, as any value is to its scale: ∫ moves by the
        // integrand's value at an end times the end's move, so the integrand's scale at each end
        // times the end's scale enters the integral's scale (∫ of 1 over t..t + 10⁻⁶ at t = 1 is
        // 10⁻⁶ − 8·10⁻¹⁷ over the doubles t and t + 10⁻⁶ round to, and its true value was
        // refuted). An end with no rounding (an exact number) costs nothing.
        let nonzero_before = me.borrow().4;
        let mut ends_scale = 0.0;
        for (end, v) in [(lo, lo_v), (hi, hi_v)] {
            if !exact_end[usize::from(end == hi)] && v.scale > 0.0 {
                ends_scale += at(v.value, true).abs() * v.scale;
            }
        }
        *nodes = nodes_seen.get();
        let (_, failure, _, statistical, _) = me.into_inner();
        let nonzero = nonzero_before;
        if let Some(err) = failure {
            return Err(err);
        }
        // Both rules saw 0 at every node: a bump narrower than their spacing (a density of width
        // 1e-9 at 0.3) is invisible to both, and their agreement on 0 is no evidence.
        if nonzero == 0 {
            return Err(EvalError::Undecided(format!(
                "integral over {a}..{b}: the integrand is 0 at every node of both quadrature rules, so a feature narrower than their spacing would be missed"
            )));
        }
        if statistical {
            return Err(EvalError::Unsupported(
                "an integral of a Monte Carlo estimate is not evaluated".into(),
            ));
        }
        let allowed = 1e-9 * magnitude.max(out.integral.abs());
        if !out.integral.is_finite() || out.error_estimate > allowed {
            return Err(EvalError::Unsupported(format!(
                "integral over {a}..{b}: the quadrature did not converge (error estimate {:.1e} for a value of magnitude {:.1e})",
                out.error_estimate, magnitude
            )));
        }
        let check = check
            .map_err(|why| EvalError::Unsupported(format!("integral over {a}..{b}: {why}")))?;
        if (out.integral - check.integral).abs() > allowed {
            return Err(EvalError::Unsupported(format!(
                "integral over {a}..{b}: two quadrature rules disagree ({} and {}): the integral may diverge or the integrand be singular",
                out.integral, check.integral
            )));
        }
        // The error allowed for is the larger of the rule's estimate and the two rules'
        // disagreement (a measured error: 1 + 10⁻⁹·sin(1000·s) disagreed by 5e-11 with an
        // estimate below it, and its true value was refuted).
        let error = out
            .error_estimate
            .max((out.integral - check.integral).abs());
        Ok(Value {
            value: sign * out.integral,
            scale: magnitude + 1e12 * error + ends_scale,
            stderr: 0.0,
        })
    }

    /// The subterms of `body` that may hold a feature along a variable (`varies`): not
    /// constants, not inside a sum, integral, expectation or gauss(…), and with `heavy_too`
    /// false, holding no integral, expectation or gauss(…) either (each of their values a
    /// quadrature or a sample of its own, which the caller's budget may not afford). A sum is a
    /// value at a point like any other term: a feature whose argument holds one is cut at
    /// (E[exp(−10⁷·(Σ_{k ≤ 1} w_k)²)] came out half its value, and an entry of a Gaussian vector
    /// unfolds to such a sum).
    pub(crate) fn feature_subterms(
        e: &Expr,
        body: Id,
        heavy_too: bool,
        varies: impl Fn(Id) -> bool,
    ) -> Vec<Id> {
        let quadrature =
            |n: &Math| matches!(n, Math::Integral(_) | Math::Expect(_) | Math::Gauss(_));
        let mut ids = vec![];
        let mut stack = vec![body];
        while let Some(i) = stack.pop() {
            let heavy = is_heavy(&e[i]);
            if quadrature(&e[i]) && !heavy_too {
                continue;
            }
            let leaf = matches!(e[i], Math::Num(_) | Math::Symbol(_));
            if !leaf && (heavy_too || !subterm_nodes(e, i).any(quadrature)) && varies(i) {
                ids.push(i);
            }
            // Not into a heavy node, unless `heavy_too`: its body's subterms hold its bound
            // names or random entries, which have no value at a point (`varies` leaves those
            // out), and each of its own values is costly. With `heavy_too` its subterms in the
            // point's symbols alone count: gauss((8a − 5)², 0, 1; sign(u)²) = 1 fails where its
            // variance vanishes, at a = 5/8, and step((a − 5/8)·u) in a body or
            // sign((8a − 5)·s) in an integrand switch there too (such links were `consistent`).
            if !heavy || heavy_too {
                stack.extend(egg::Language::children(&e[i]).iter().copied());
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// The subterms a one-dimensional quadrature searches for zeros (and, among
    /// [`amplified_subterms`], extrema): those of [`Evaluator::feature_subterms`] (not
    /// `heavy_too`) that shape a feature where they vanish, the [`shaping_subterms`]. A sum,
    /// product or negation is no narrower than its parts, and its zeros are no kink (the zeros
    /// of s·(s − 1) or of the body itself need no cut); a function of one of them is: the
    /// argument of exp(−10⁸·(s − Σ w)²) is searched, not each of its ancestors (searching every
    /// subterm that held a sum, at about 1,400 points each, took three quarters of `check --all`).
    pub(crate) fn quadrature_subterms(e: &Expr, body: Id, varies: impl Fn(Id) -> bool) -> Vec<Id> {
        let shaping = shaping_subterms(e, body);
        let mut ids: Vec<Id> = Self::feature_subterms(e, body, false, &varies)
            .into_iter()
            .filter(|i| shaping.binary_search(i).is_ok())
            .collect();
        // The variable itself where a function takes it (relu(s), step(s) on −1..1: a kink or a
        // jump at 0 that no compound subterm marks, and the quadrature did not converge).
        ids.extend(
            shaping
                .iter()
                .filter(|i| matches!(e[**i], Math::Symbol(_)) && varies(**i)),
        );
        ids.sort();
        ids.dedup();
        ids
    }

    /// The ends of the pieces an integral over `a..b` (in either order) is cut into: `a`, the
    /// zeros of the body's subterms that vary with `var` ([`quadrature_cuts`]), graded, and `b`.
    /// A subterm whose zeros are too many to cut at leaves the integral without a value here.
    fn zeros_of_subterms(
        &mut self,
        e: &Expr,
        var: Symbol,
        body: Id,
        a: f64,
        b: f64,
    ) -> Result<Vec<f64>, EvalError> {
        let ids = Self::quadrature_subterms(e, body, |i| {
            crate::expr::binders::free_symbols(e, i).contains(&var)
        });
        // Each subterm compiled once (about 1,400 values each on the two grids and in the
        // bisections), walked as a term where it has no program.
        let mut programs = Vec::with_capacity(ids.len());
        for id in &ids {
            programs.push(self.compile(e, *id, &mut Vars::Named(&[var]))?);
        }
        let mut stack = vec![];
        let slots: Vec<usize> = (0..ids.len()).collect();
        let amplified = amplified_subterms(e, body);
        let peaks = |k: usize| amplified.binary_search(&ids[k]).is_ok();
        let cuts = quadrature_cuts(&slots, a.min(b), a.max(b), ZERO_GRID, peaks, |k, x| {
            let v = match &programs[k] {
                Some(p) => Some(p.run(&[x], &mut stack, &mut 0).value),
                None => {
                    self.bound.push((var, x));
                    let v = self.value(e, ids[k]).ok().map(|v| v.value);
                    self.bound.pop();
                    v
                }
            };
            v.filter(|v| v.is_finite())
        })
        .map_err(|(k, why)| unresolved(e, ids[k], why))?;
        let mut cuts = cuts.graded(a.min(b), a.max(b));
        if a > b {
            cuts.reverse();
        }
        Ok(std::iter::once(a)
            .chain(cuts)
            .chain(std::iter::once(b))
            .collect())
    }

    /// The chain of + and − at `id`: its terms that are not constants (with their signs, in
    /// order), the sum of its constant terms and that sum's magnitude scale. The constants are
    /// summed exactly as rationals, so constants that cancel (a + 10^20 − 10^20) do not raise
    /// the scale; one alone is its value rounded once. Where closed constants that are not
    /// rational (10¹⁰·sin²1, √2) stand beside other constants, all of them are summed in ball
    /// arithmetic: 10¹⁰·sin²1 + 10¹⁰·cos²1 − 10¹⁰ is then 0 to within 10⁻²⁷, not to within the
    /// 10¹⁰ that f64 rounding would allow for (and that would hide a difference of 10⁻³ beside it).
    fn linear_chain(&self, e: &Expr, id: Id) -> Chain {
        let mut terms = vec![];
        linear_terms(e, id, true, &mut terms);
        if let Some(folded) = self.closed_chain(e, &terms) {
            return folded;
        }
        let constants = terms
            .iter()
            .filter(|(_, t)| self.is_constant(e, *t))
            .count();
        let mut c = num_rational::BigRational::from_integer(0.into());
        let mut single = 0.0;
        let mut rest = vec![];
        for (positive, t) in terms {
            if constants == 1 {
                if let Some(x) = self.constant_f64(e, t) {
                    single = if positive { x } else { -x };
                    continue;
                }
            } else if let Some(q) = self.constant(e, t) {
                if positive {
                    c += q;
                } else {
                    c -= q;
                }
                continue;
            }
            rest.push((positive, t));
        }
        let c = if constants == 1 {
            single
        } else {
            num_traits::ToPrimitive::to_f64(&c).unwrap_or(f64::NAN)
        };
        (rest, c, c.abs())
    }

    /// [`Evaluator::linear_chain`] with its closed constants summed in ball arithmetic, when at
    /// least one is not rational and there are two or more constants to sum. The sum's scale is
    /// its magnitude plus its ball's radius over [`SCALE`] (the tolerance's factor), so that the
    /// allowance covers the radius.
    fn closed_chain(&self, e: &Expr, terms: &[(bool, Id)]) -> Option<Chain> {
        let closed = |t: Id| self.is_closed(e, t);
        let irrational = terms
            .iter()
            .any(|(_, t)| closed(*t) && !self.is_constant(e, *t));
        let constants = terms.iter().filter(|(_, t)| closed(*t)).count();
        if !irrational || constants < 2 {
            return None;
        }
        let (folded, rest): (Signed, Signed) = terms.iter().partition(|(_, t)| closed(*t));
        let sum = super::precise::signed_sum(e, &folded, self.env, crate::precision::BITS).ok()?;
        let c = sum.to_f64();
        let scale = c.abs() + sum.rad / crate::precision::SCALE;
        (c.is_finite() && scale.is_finite()).then_some((rest, c, scale))
    }

    /// Is the subterm a closed constant: numbers and π under arithmetic and functions of one
    /// argument (no symbol, binder, expectation or random entry)?
    fn is_closed(&self, e: &Expr, id: Id) -> bool {
        let key = e as *const Expr as usize;
        match self.constants.iter().rev().find(|(k, _)| *k == key) {
            Some((_, table)) if table.closed.len() == e.as_ref().len() => {
                table.closed[usize::from(id)]
            }
            _ => false,
        }
    }

    /// The integrand `e[id]` in the variables `vars` as a [`Program`] (see
    /// [`super::integrand`]), or `None` where it uses what a program does not have (indices,
    /// derivatives, nested integrals, … that mention a variable): the evaluator then walks the
    /// term.
    fn compile(&mut self, e: &Expr, id: Id, vars: &mut Vars) -> Result<Option<Program>, EvalError> {
        let mut ops = vec![];
        Ok(self.emit(e, id, vars, &mut ops)?.then_some(Program { ops }))
    }

    /// Appends the instructions of `e[id]` to `ops` (what [`Evaluator::value`] does, node for
    /// node, with sums unrolled); false where a node has no instruction.
    fn emit(
        &mut self,
        e: &Expr,
        id: Id,
        vars: &mut Vars,
        ops: &mut Vec<Op>,
    ) -> Result<bool, EvalError> {
        if ops.len() > MAX_PROGRAM {
            return Ok(false);
        }
        if matches!(vars, Vars::Random(_))
            && subterm_nodes(e, id).any(|n| matches!(n, Math::Expect(_)))
        {
            // An expectation inside a Monte Carlo sample is refused by the evaluator.
            return Ok(false);
        }
        let free = crate::expr::binders::free_symbols(e, id);
        let varying = match vars {
            Vars::Named(names) => names.iter().any(|v| free.contains(v)),
            Vars::Random(_) => free.iter().any(|s| self.is_random(*s)),
        };
        if !varying {
            // The same value at every node or sample: evaluated once.
            ops.push(Op::Push(self.value(e, id)?));
            return Ok(true);
        }
        if let Some(key) = self.random_key(e, id)? {
            let Vars::Random(keys) = vars else {
                return Ok(false);
            };
            let slot = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            ops.push(Op::Var(slot));
            return Ok(true);
        }
        let node = &e[id];
        if let Some(s) = node.symbol() {
            return Ok(match vars {
                Vars::Named(names) => match names.iter().position(|v| *v == s) {
                    Some(i) => {
                        ops.push(Op::Var(i));
                        true
                    }
                    None => false,
                },
                Vars::Random(_) => {
                    ops.push(Op::Push(self.value(e, id)?));
                    true
                }
            });
        }
        if let Some((a, f, df)) = unary_fns(node) {
            let ok = self.emit(e, a, vars, ops)?;
            ops.push(if jumps(node) {
                Op::Jump(f, df)
            } else {
                Op::Unary(f, df, zero_only_at_zero(node))
            });
            return Ok(ok);
        }
        match node {
            Math::Add(_) | Math::Sub(_) => {
                let (terms, c, c_scale) = self.linear_chain(e, id);
                let mut signs = vec![];
                for (positive, t) in terms {
                    if !self.emit(e, t, vars, ops)? {
                        return Ok(false);
                    }
                    signs.push(positive);
                }
                ops.push(Op::Linear(signs, c, c_scale));
                Ok(true)
            }
            Math::Mul([a, b]) | Math::Div([a, b]) | Math::Pow([a, b]) => {
                if !(self.emit(e, *a, vars, ops)? && self.emit(e, *b, vars, ops)?) {
                    return Ok(false);
                }
                ops.push(match node {
                    Math::Mul(_) => Op::Mul,
                    Math::Div(_) => Op::Div,
                    _ => Op::Pow,
                });
                Ok(true)
            }
            Math::Neg(a) => {
                let ok = self.emit(e, *a, vars, ops)?;
                ops.push(Op::Neg);
                Ok(ok)
            }
            Math::Sum([v, lo, hi, body]) => {
                // As in `value`: the factors free of the index (and of randomness) once, times
                // the sum of the others, term by term.
                let Some(var) = e[*v].symbol() else {
                    return Ok(false);
                };
                if matches!(vars, Vars::Named(names) if names.contains(&var)) {
                    // It rebinds an integration variable: walked as a term.
                    return Ok(false);
                }
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                if hi < lo {
                    ops.push(Op::Push(Value::exact(0.0)));
                    return Ok(true);
                }
                if (i128::from(hi) - i128::from(lo)) >= MAX_PROGRAM as i128 {
                    return Ok(false);
                }
                let mut factors = vec![];
                self.factors(e, *body, &mut factors);
                let (fixed, varying): (Vec<Id>, Vec<Id>) = factors
                    .into_iter()
                    .partition(|f| self.invariant_in(e, *f, var));
                let hoist = !fixed.is_empty() && !varying.is_empty();
                if hoist {
                    ops.push(Op::Push(Value::exact(1.0)));
                    for f in &fixed {
                        if !self.emit(e, *f, vars, ops)? {
                            return Ok(false);
                        }
                        ops.push(Op::Mul);
                    }
                }
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let ok = if hoist {
                        let mut ok = self.emit(e, varying[0], vars, ops);
                        for f in &varying[1..] {
                            ok = match ok {
                                Ok(true) => {
                                    self.emit(e, *f, vars, ops).inspect(|_| ops.push(Op::Mul))
                                }
                                other => other,
                            };
                        }
                        ok
                    } else {
                        self.emit(e, *body, vars, ops)
                    };
                    self.bound.pop();
                    if !ok? {
                        return Ok(false);
                    }
                }
                ops.push(Op::Sum((hi - lo + 1) as usize));
                if hoist {
                    ops.push(Op::Mul);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn gauss(&mut self, e: &Expr, cov: [Id; 3], body: Id) -> Result<Value, EvalError> {
        self.tallying(|this, extra, nodes| this.gauss_counted(e, cov, body, extra, nodes))
    }

    /// [`Evaluator::gauss`], counting its integrand evaluations and their undecided jumps.
    fn gauss_counted(
        &mut self,
        e: &Expr,
        cov: [Id; 3],
        body: Id,
        extra: &mut u64,
        nodes: &mut usize,
    ) -> Result<Value, EvalError> {
        let c: Vec<Value> = cov
            .iter()
            .map(|id| self.value(e, *id))
            .collect::<Result<_, _>>()?;
        let (u, v) = (Symbol::from("u"), Symbol::from("v"));
        let direct = product_of_uv(e, body, u, v);
        // A body f(u)·g(v) of table functions is fixed by the two functions: with the
        // covariance's entries (values, scales, errors) they decide the result, which is kept
        // (a sum over k of one expectation at edge points where every term is the same ran the
        // same quadrature n times). The node count is replayed with it, so budgets do not move.
        let key = direct.map(|(f, g)| {
            let ptrs = |h: UvFactor| h.map(|(f, df)| (f as usize, df as usize));
            let bits: Vec<u64> = c
                .iter()
                .flat_map(|x| [x.value.to_bits(), x.scale.to_bits(), x.stderr.to_bits()])
                .collect();
            (ptrs(f), ptrs(g), bits)
        });
        if let Some((r, n, x)) = key.as_ref().and_then(super::kept::direct) {
            *nodes = n;
            *extra += x;
            return r;
        }
        let (mut n, mut x) = (0, 0);
        let r = self.gauss_uncached(e, &c, body, direct, &mut x, &mut n);
        *nodes = n;
        *extra += x;
        if let Some(key) = key {
            super::kept::keep_direct(key, (r.clone(), n, x));
        }
        r
    }

    /// [`Self::gauss_counted`] without the memo: the covariance's entries `c` evaluated, and
    /// the body's factors if it is f(u)·g(v).
    fn gauss_uncached(
        &mut self,
        e: &Expr,
        c: &[Value],
        body: Id,
        direct: Option<(UvFactor, UvFactor)>,
        extra: &mut u64,
        nodes: &mut usize,
    ) -> Result<Value, EvalError> {
        use super::gauss::{expectation, Integrand};
        let cov = super::gauss::Cov2::new(c[0].value, c[1].value, c[2].value)
            .map_err(|err| EvalError::Unsupported(format!("gauss(...): {err}")))?;
        // The magnitude scale of ρ = s12/(√s11·√s22) from those of the entries (first order).
        let rho_scale = {
            let w = cov.whiten();
            if w.a > 0.0 && w.b > 0.0 {
                c[1].scale / w.a / w.b
                    + w.rho.abs() * (c[0].scale / c[0].value + c[2].scale / c[2].value) / 2.0
            } else {
                0.0
            }
        };
        let (u, v) = (Symbol::from("u"), Symbol::from("v"));
        // Where the body may kink, jump or vary fast, read from its form.
        let form = self.gauss_form(e, body, u, v);
        let first_error = std::cell::RefCell::new(None);
        // One evaluator for every integrand value (with the constants of `e` installed once);
        // u and v are the last two bound values, overwritten at each node.
        let mut inner = Evaluator::new(self.env);
        inner.bound = self.bound.clone();
        inner.bound.push((u, 0.0));
        inner.bound.push((v, 0.0));
        if let Some(table) = self.constants.last() {
            inner.constants.push(table.clone());
        }
        let (iu, iv) = (inner.bound.len() - 2, inner.bound.len() - 1);
        inner.jump_tally = Some(0);
        let inner = std::cell::RefCell::new(inner);
        let (nodes_seen, program_jumps) =
            (std::cell::Cell::new(0usize), std::cell::Cell::new(0u64));
        // The common body f(u)·g(v) (each a function of the table or u, v itself, `direct`)
        // directly: the same operations as the evaluator's, without walking the term at every
        // node.
        // Any other body of arithmetic and functions: compiled once (its parts free of u and v
        // evaluated once), the evaluator's arithmetic at every node.
        let program = if direct.is_none() {
            let mut me = inner.borrow_mut();
            me.with_constants(e, |me| me.compile(e, body, &mut Vars::Named(&[u, v])))?
        } else {
            None
        };
        let stack = std::cell::RefCell::new(Vec::new());
        // The integrand's value and its magnitude scale (the rounding of the value is relative
        // to it) at a node.
        let f = |x: f64, y: f64| -> (f64, f64) {
            nodes_seen.set(nodes_seen.get() + 1);
            if let Some(p) = &program {
                let mut jumps = 0;
                let val = p.run(&[x, y], &mut stack.borrow_mut(), &mut jumps);
                program_jumps.set(program_jumps.get() + jumps);
                return (val.value, val.scale);
            }
            if let Some((fu, gv)) = direct {
                let side = |h: UvFactor, z: f64| match h {
                    Some((f, df)) => unary(Value::exact(z), f, df),
                    None => Value::exact(z),
                };
                let val = product(side(fu, x), side(gv, y));
                return (val.value, val.scale);
            }
            let mut inner = inner.borrow_mut();
            // Each integrand value has the budget a fresh evaluator would have.
            inner.terms = 0;
            inner.bound[iu].1 = x;
            inner.bound[iv].1 = y;
            match inner.value(e, body) {
                Ok(val) => (val.value, val.scale),
                Err(err) => {
                    first_error.borrow_mut().get_or_insert(err);
                    (f64::NAN, f64::NAN)
                }
            }
        };
        // The curved subterms' values (compiled where they can be; NaN where one has none).
        let mut curved = form.curved.clone();
        curved.sort();
        curved.dedup();
        let curve_programs: Vec<Option<Program>> = curved
            .iter()
            .map(|&id| {
                let mut me = inner.borrow_mut();
                me.with_constants(e, |me| me.compile(e, id, &mut Vars::Named(&[u, v])))
                    .ok()
                    .flatten()
            })
            .collect();
        let curve_stack = std::cell::RefCell::new(Vec::new());
        let curve_fns: Vec<Box<dyn Fn(f64, f64) -> f64 + '_>> = curved
            .iter()
            .zip(&curve_programs)
            .map(|(&id, program)| -> Box<dyn Fn(f64, f64) -> f64 + '_> {
                let (inner, curve_stack) = (&inner, &curve_stack);
                Box::new(move |x: f64, y: f64| {
                    if let Some(p) = program {
                        return p.run(&[x, y], &mut curve_stack.borrow_mut(), &mut 0).value;
                    }
                    let mut inner = inner.borrow_mut();
                    inner.terms = 0;
                    inner.bound[iu].1 = x;
                    inner.bound[iv].1 = y;
                    inner.value(e, id).map_or(f64::NAN, |val| val.value)
                })
            })
            .collect();
        let curves: Vec<super::gauss::Curve> = curved
            .iter()
            .zip(&curve_fns)
            .map(|(&id, g)| {
                let free = crate::expr::binders::free_symbols(e, id);
                super::gauss::Curve {
                    g: g.as_ref(),
                    uses_u: free.contains(&u),
                    uses_v: free.contains(&v),
                    peaks: form.peaks.contains(&id),
                }
            })
            .collect();
        let integrand = Integrand {
            f: &f,
            kinks: &form.kinks,
            features: &form.features,
            curves: &curves,
            smoothness: form.smoothness,
            uses_u: form.uses_u,
            uses_v: form.uses_v,
            rho_scale,
        };
        // A compiled body (and compiled curves) is a function of its instructions alone: with
        // the form read from the body and the covariance's entries they decide the estimate,
        // which is kept like that of f(u)·g(v) ([`Self::gauss_counted`]; the same expectation
        // at every point of a link, and again in the violation search).
        let key = program
            .as_ref()
            .filter(|_| curve_programs.iter().all(Option::is_some))
            .map(|p| {
                let mut k = vec![];
                p.fingerprint(&mut k);
                for cp in curve_programs.iter().flatten() {
                    k.push(u64::MAX);
                    cp.fingerprint(&mut k);
                }
                for c in &curves {
                    k.push(
                        u64::from(c.uses_u) | u64::from(c.uses_v) << 1 | u64::from(c.peaks) << 2,
                    );
                }
                for (tag, lines) in [(1u64, &form.kinks), (2, &form.features)] {
                    k.push(tag);
                    k.extend(
                        lines
                            .iter()
                            .flat_map(|l| [l.u.to_bits(), l.v.to_bits(), l.c.to_bits()]),
                    );
                }
                k.push(form.smoothness as u64);
                k.push(u64::from(form.uses_u) | u64::from(form.uses_v) << 1);
                k.extend(
                    c.iter()
                        .flat_map(|x| [x.value.to_bits(), x.scale.to_bits(), x.stderr.to_bits()]),
                );
                k
            });
        // (A long program, a sum unrolled, is not kept: `kept::COMPILED_KEY_MOST`.)
        let kept = key.as_deref().and_then(super::kept::compiled);
        if let Some((_, n, x)) = &kept {
            nodes_seen.set(*n);
            program_jumps.set(*x);
        }
        let was_kept = kept.is_some();
        let result = kept.map(|(r, ..)| r).unwrap_or_else(|| {
            expectation(&integrand, cov).and_then(|est| {
                // A variance that is 0 only within rounding (exp(−1000) underflows to 0, a² − b² may
                // cancel) may be positive, and a variance within rounding of 0 may be 0: at 0 the
                // law of u is a point mass, and E[step(u)] jumps from 1/2 to step(0) = 0. The
                // expectation under the other reading enters the scale, as the rounding of ρ does.
                // Every combination of readings of the undecided variances (both may underflow).
                let undecided: Vec<usize> = [0, 2]
                    .into_iter()
                    .filter(|&i| undecided_jump(&c[i]))
                    .collect();
                // A variance read as 0 and as positive gives expectations that differ beyond
                // rounding, and the positive reading keeps its value as the variance shrinks a
                // millionfold: the expectation jumps at 0, and f64 cannot tell which side holds.
                let reading = |i: usize, var: f64| {
                    let mut s = [c[0].value, c[1].value, c[2].value];
                    s[i] = var;
                    let bound = s[0].sqrt() * s[2].sqrt();
                    s[1] = s[1].clamp(-bound, bound);
                    super::gauss::Cov2::new(s[0], s[1], s[2])
                        .and_then(|cov| expectation(&integrand, cov))
                        .map(|e| e.value)
                };
                for &i in &undecided {
                    let positive = if c[i].value > 0.0 {
                        c[i].value
                    } else {
                        (crate::precision::JUMP_ROUNDING * c[i].scale).max(f64::MIN_POSITIVE)
                    };
                    let nearer = (positive * 1e-6).max(f64::MIN_POSITIVE);
                    let (zero, off, near) = if c[i].value > 0.0 {
                        (reading(i, 0.0)?, est.value, reading(i, nearer)?)
                    } else {
                        (est.value, reading(i, positive)?, reading(i, nearer)?)
                    };
                    if super::gauss::jumps(zero, off, near, est.scale) {
                        return Err(super::error::NumericError::JumpAtDegenerate(
                            "a variance within rounding of 0",
                            zero,
                            off,
                        ));
                    }
                }
                let mut moved = 0.0f64;
                for mask in 1..1usize << undecided.len() {
                    let mut s = [c[0].value, c[1].value, c[2].value];
                    for (bit, &i) in undecided.iter().enumerate() {
                        if mask >> bit & 1 == 1 {
                            s[i] = if s[i] > 0.0 {
                                0.0
                            } else {
                                (crate::precision::JUMP_ROUNDING * c[i].scale)
                                    .max(f64::MIN_POSITIVE)
                            };
                        }
                    }
                    let bound = s[0].sqrt() * s[2].sqrt();
                    s[1] = s[1].clamp(-bound, bound);
                    let other = super::gauss::Cov2::new(s[0], s[1], s[2])
                        .and_then(|cov| expectation(&integrand, cov))?;
                    moved = moved.max((other.value - est.value).abs() / crate::precision::SCALE);
                }
                Ok(super::gauss::Estimate {
                    scale: est.scale + moved,
                    ..est
                })
            })
        });
        if let (Some(key), false) = (key, was_kept) {
            super::kept::keep_compiled(
                key,
                (result.clone(), nodes_seen.get(), program_jumps.get()),
            );
        }
        self.gauss_value(
            result,
            nodes,
            extra,
            &inner,
            &first_error,
            &nodes_seen,
            &program_jumps,
        )
    }

    /// The value of gauss(…) from the quadrature's estimate, with the nodes and jumps it took.
    #[allow(clippy::too_many_arguments)]
    fn gauss_value(
        &self,
        result: Result<super::gauss::Estimate, super::error::NumericError>,
        nodes: &mut usize,
        extra: &mut u64,
        inner: &std::cell::RefCell<Evaluator>,
        first_error: &std::cell::RefCell<Option<EvalError>>,
        nodes_seen: &std::cell::Cell<usize>,
        program_jumps: &std::cell::Cell<u64>,
    ) -> Result<Value, EvalError> {
        *nodes = nodes_seen.get();
        *extra += program_jumps.get() + inner.borrow().jump_tally.unwrap_or(0);
        if let Some(err) = first_error.borrow_mut().take() {
            return Err(err);
        }
        let est = result.map_err(|err| match err {
            super::error::NumericError::NotDecaying { .. } => {
                EvalError::Divergent(format!("gauss(...): {err}"))
            }
            // Its value exists; f64 or the nodes cannot show it.
            super::error::NumericError::JumpAtDegenerate(..)
            | super::error::NumericError::Unresolved
            | super::error::NumericError::NonFiniteIntegrand {
                value: f64::INFINITY,
                ..
            }
            | super::error::NumericError::NonFiniteIntegrand {
                value: f64::NEG_INFINITY,
                ..
            } => EvalError::Undecided(format!("gauss(...): {err}")),
            _ => EvalError::Unsupported(format!("gauss(...): {err}")),
        })?;
        // The magnitude scale is E[S], the integrand's own scale integrated against the density
        // (not its largest value on the grid, which an integrand growing like exp(0.45·u²)
        // makes 1e8 times larger), plus the covariance's rounding propagated, and the
        // quadrature's error estimate enters it (the tolerance allows 1e-12 of it).
        let scale = est
            .value
            .abs()
            .max(est.scale)
            .max(est.error / crate::precision::SCALE);
        Ok(Value {
            value: est.value,
            scale,
            stderr: 0.0,
        })
    }

    /// Where the body of gauss(…; body) may kink, jump or vary fast, read from its form (see
    /// [`super::gauss::Integrand`]): the zero lines of the affine arguments of relu, step, abs,
    /// sign, max, min, leaky relu and kinked activations, those of the affine arguments of smooth
    /// functions, and whether the body is a polynomial, analytic or neither on each piece.
    fn gauss_form(&mut self, e: &Expr, body: Id, u: Symbol, v: Symbol) -> GaussForm {
        let free = crate::expr::binders::free_symbols(e, body);
        let mut form = GaussForm {
            kinks: vec![],
            features: vec![],
            curved: vec![],
            peaks: vec![],
            smoothness: super::gauss::Smoothness::Polynomial,
            uses_u: free.contains(&u),
            uses_v: free.contains(&v),
        };
        let mut walk = FormWalk {
            u,
            v,
            bound: vec![],
            form: &mut form,
        };
        self.form_walk(e, body, false, &mut walk);
        form
    }

    /// The subterm as α·u + β·v + γ with coefficients evaluated at this point, or `None` where
    /// it is not affine in u and v (or a coefficient cannot be evaluated here).
    fn affine_uv(&mut self, e: &Expr, id: Id, w: &FormWalk) -> Option<[f64; 3]> {
        let (uv, bound) = form_mentions(e, id, w);
        if bound {
            return None;
        }
        if !uv {
            let x = self.value(e, id).ok()?.value;
            return x.is_finite().then_some([0.0, 0.0, x]);
        }
        let scaled = |k: f64, l: [f64; 3]| [k * l[0], k * l[1], k * l[2]];
        match &e[id] {
            Math::Symbol(s) if *s == w.u => Some([1.0, 0.0, 0.0]),
            Math::Symbol(s) if *s == w.v => Some([0.0, 1.0, 0.0]),
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let (x, y) = (self.affine_uv(e, *a, w)?, self.affine_uv(e, *b, w)?);
                let sg = if matches!(e[id], Math::Add(_)) {
                    1.0
                } else {
                    -1.0
                };
                Some([x[0] + sg * y[0], x[1] + sg * y[1], x[2] + sg * y[2]])
            }
            Math::Neg(a) => Some(scaled(-1.0, self.affine_uv(e, *a, w)?)),
            Math::Mul([a, b]) => {
                let (x, y) = (self.affine_uv(e, *a, w)?, self.affine_uv(e, *b, w)?);
                if x[0] == 0.0 && x[1] == 0.0 && !form_mentions(e, *a, w).0 {
                    Some(scaled(x[2], y))
                } else if y[0] == 0.0 && y[1] == 0.0 && !form_mentions(e, *b, w).0 {
                    Some(scaled(y[2], x))
                } else {
                    None
                }
            }
            Math::Div([a, b]) if !form_mentions(e, *b, w).0 => {
                let d = self.value(e, *b).ok()?.value;
                let x = self.affine_uv(e, *a, w)?;
                (d != 0.0 && d.is_finite()).then(|| scaled(1.0 / d, x))
            }
            _ => None,
        }
    }

    /// The kink line where `arg` (or `arg − minus`) vanishes. An argument that is not affine
    /// makes the body's smoothness unknown, and its own affine subterms feature lines (the kink
    /// of step(1e-6 − (u − 3)²) is near u = 3); false then.
    fn form_kink(&mut self, e: &Expr, arg: Id, minus: Option<Id>, w: &mut FormWalk) -> bool {
        let line = match minus {
            None => self.affine_uv(e, arg, w),
            Some(m) => match (self.affine_uv(e, arg, w), self.affine_uv(e, m, w)) {
                (Some(x), Some(y)) => Some([x[0] - y[0], x[1] - y[1], x[2] - y[2]]),
                _ => None,
            },
        };
        match line {
            Some([0.0, 0.0, _]) => true,
            Some([a, b, c]) if c.is_finite() => {
                w.form.kinks.push(super::gauss::Line { u: a, v: b, c });
                true
            }
            _ => {
                w.form.unknown();
                false
            }
        }
    }

    /// Does `e[id]` vanish exactly where one of its operands does (−x, c·x, x/c, x^k for a
    /// constant c and a whole k ≥ 1)?
    fn same_zeros_as_operand(&mut self, e: &Expr, id: Id, w: &FormWalk) -> bool {
        let free = |x: Id| form_mentions(e, x, w) == (false, false);
        match e[id] {
            Math::Neg(_) => true,
            Math::Mul([a, b]) => free(a) || free(b),
            Math::Div([_, b]) => free(b),
            Math::Pow([_, k]) if free(k) => {
                matches!(self.value(e, k).map(|x| x.value), Ok(k) if k >= 1.0 && k.fract() == 0.0)
            }
            _ => false,
        }
    }

    /// The walk of [`Evaluator::gauss_form`]; `smooth_context`: inside a function that is not a
    /// polynomial nor a kink at an affine argument (an affine argument there marks a feature
    /// line).
    fn form_walk(&mut self, e: &Expr, id: Id, smooth_context: bool, w: &mut FormWalk) {
        use super::gauss::Smoothness;
        let (uv, bound) = form_mentions(e, id, w);
        if !uv && !bound {
            return;
        }
        if uv {
            if let Some([a, b, c]) = self.affine_uv(e, id, w) {
                // A maximal affine subterm.
                if smooth_context && (a != 0.0 || b != 0.0) {
                    w.form.features.push(super::gauss::Line { u: a, v: b, c });
                }
                return;
            }
            // A subterm that is not affine inside a smooth function or a kink: its zero set is
            // a curve the integrand may be narrow, kinked or jump along (u² + v² − 1 in
            // exp(−10⁸·(u² + v² − 1)²)). A constant multiple, a negation or a whole power
            // has the zeros of its operand, which the walk reaches next.
            if smooth_context && !bound && !self.same_zeros_as_operand(e, id, w) {
                w.form.curved.push(id);
            }
        }
        let node = e[id].clone();
        let analytic = |w: &mut FormWalk| w.form.at_least(Smoothness::Analytic);
        match node {
            Math::Relu(a) | Math::Step(a) | Math::Abs(a) | Math::Sign(a) => {
                let affine = self.form_kink(e, a, None, w);
                self.form_walk(e, a, smooth_context || !affine, w);
            }
            Math::Max([a, b]) | Math::Min([a, b]) => {
                let affine = self.form_kink(e, a, Some(b), w);
                self.form_walk(e, a, smooth_context || !affine, w);
                self.form_walk(e, b, smooth_context || !affine, w);
            }
            Math::LeakyRelu([a, s]) => {
                let affine = self.form_kink(e, a, None, w);
                self.form_walk(e, a, smooth_context || !affine, w);
                if form_mentions(e, s, w) != (false, false) {
                    w.form.unknown();
                    self.form_walk(e, s, true, w);
                }
            }
            Math::Phi(a) | Math::DPhi(a) => match self.env.phi {
                Some(act) if act.is_kinked() => {
                    let affine = self.form_kink(e, a, None, w);
                    self.form_walk(e, a, smooth_context || !affine, w);
                }
                Some(Activation::Identity) => self.form_walk(e, a, smooth_context, w),
                Some(_) => {
                    analytic(w);
                    self.form_walk(e, a, true, w);
                }
                None => w.form.unknown(),
            },
            Math::Exp(a)
            | Math::Sin(a)
            | Math::Cos(a)
            | Math::Tanh(a)
            | Math::Erf(a)
            | Math::Sigmoid(a)
            | Math::Softplus(a)
            | Math::Gelu(a)
            | Math::Cosh(a)
            | Math::Sinh(a)
            | Math::Atan(a) => {
                analytic(w);
                self.form_walk(e, a, true, w);
            }
            Math::Add([a, b]) | Math::Sub([a, b]) | Math::Mul([a, b]) => {
                self.form_walk(e, a, smooth_context, w);
                self.form_walk(e, b, smooth_context, w);
            }
            Math::Neg(a) => self.form_walk(e, a, smooth_context, w),
            Math::Div([a, b]) if form_mentions(e, b, w) == (false, false) => {
                self.form_walk(e, a, smooth_context, w)
            }
            Math::Pow([a, b]) if form_mentions(e, b, w) == (false, false) => {
                // A power with a whole exponent ≥ 0 is a polynomial; any other may be singular
                // or kinked where the base vanishes.
                let k = self.value(e, b).map(|x| x.value);
                let whole = matches!(k, Ok(k) if k >= 0.0 && k.fract() == 0.0);
                if !whole {
                    w.form.unknown();
                }
                // A whole power of high degree is a polynomial that is narrow where its base
                // peaks (sin(u)^(10¹²) is a spike of width 10⁻⁶ where sin u = 1): its base is
                // read as inside a smooth function, so that its zeros and extrema are cut at.
                let steep = matches!(k, Ok(k) if k.abs() > STEEP_POWER);
                if steep {
                    w.form.peaks.push(a);
                }
                self.form_walk(e, a, smooth_context || !whole || steep, w);
            }
            Math::Pow([a, b]) if form_mentions(e, a, w) == (false, false) => {
                // c^f = exp(f·ln c).
                analytic(w);
                self.form_walk(e, b, true, w);
            }
            Math::Sum([var, lo, hi, body]) => {
                // A range that depends on u or v: not known.
                if form_mentions(e, lo, w).0 || form_mentions(e, hi, w).0 {
                    w.form.unknown();
                }
                match e[var].symbol() {
                    Some(s) => {
                        w.bound.push(s);
                        self.form_walk(e, body, smooth_context, w);
                        w.bound.pop();
                    }
                    None => w.form.unknown(),
                }
            }
            _ => {
                // A root, a logarithm, a quotient by u or v, an index, an integral, …
                w.form.unknown();
                for c in egg::Language::children(&e[id]).to_vec() {
                    self.form_walk(e, c, true, w);
                }
            }
        }
    }

    /// E[x]: exact if x is a polynomial in the random entries (moments (k−1)!! for every degree);
    /// split by linearity into its terms; a product over independent groups of entries as the
    /// product of the groups' expectations ([`Evaluator::independent_factors`]); adaptive
    /// quadrature if x is a function of one N(0,1) entry (to ~1e-14, kinks anywhere), the
    /// bivariate quadrature of two; seeded Monte Carlo with common random numbers otherwise. A
    /// divergent or undefined expectation is an error ([`EvalError::Divergent`]), never a number.
    fn expectation(&mut self, e: &Expr, a: Id) -> Result<Value, EvalError> {
        if self.sample.is_some() {
            // Nested inside a Monte Carlo sample: the inner expectation is over fresh randomness;
            // not supported (it would need nested sampling).
            return Err(EvalError::Unsupported(
                "nested E[...] inside a Monte Carlo expectation".into(),
            ));
        }
        // E[x·y] and E[x²] of polynomials: pairwise, without expanding the product.
        let pair = match &e[a] {
            Math::Mul([x, y]) => Some((*x, *y)),
            Math::Pow([x, k])
                if self
                    .constant(e, *k)
                    .is_some_and(|q| q == num_rational::BigRational::from_integer(2.into())) =>
            {
                Some((*x, *x))
            }
            _ => None,
        };
        if let Some((x, y)) = pair {
            match (self.rpoly(e, x), self.rpoly(e, y)) {
                (Ok(px), Ok(py)) => return self.pair_moment(&px, &py),
                (Err(PolyError::Eval(err)), _) | (_, Err(PolyError::Eval(err))) => return Err(err),
                _ => {}
            }
        }
        match self.poly_moments(e, a) {
            Ok(m) => Ok(m.value()),
            // Linearity first: each term by its own best method (exact moments, quadrature
            // over one entry, Monte Carlo), so that a term of one entry is never left to
            // sampling beside others (a rare event, 10⁹·step(z − 6), that 20,000 samples never
            // reach; a term of size 1000 whose sampling noise hides an error of 0.15 in another).
            // Standard errors add (the terms' samples may be correlated: the sum bounds the
            // standard error of their sum).
            Err(PolyError::NotPolynomial)
                if matches!(e[a], Math::Add(_) | Math::Sub(_) | Math::Neg(_)) =>
            {
                match e[a] {
                    Math::Add([x, y]) | Math::Sub([x, y]) => {
                        let (vx, vy) = (self.expectation(e, x)?, self.expectation(e, y)?);
                        let sign = if matches!(e[a], Math::Sub(_)) {
                            -1.0
                        } else {
                            1.0
                        };
                        Ok(Value {
                            value: vx.value + sign * vy.value,
                            scale: vx.scale + vy.scale,
                            stderr: vx.stderr + vy.stderr,
                        })
                    }
                    Math::Neg(x) => {
                        let v = self.expectation(e, x)?;
                        Ok(Value {
                            value: -v.value,
                            ..v
                        })
                    }
                    _ => unreachable!("matched above"),
                }
            }
            Err(PolyError::NotPolynomial) => {
                // Which entries does the integrand depend on? (One draw records them.)
                self.sample = Some(HashMap::default());
                self.mc_k = Some(u64::MAX);
                let probe = self.value(e, a);
                let keys: Vec<RvKey> = self
                    .sample
                    .take()
                    .map(|m| m.into_keys().collect())
                    .unwrap_or_default();
                self.mc_k = None;
                probe?;
                // An entry whose index depends on a random entry (w[2 − step(w[2])]) is not
                // one fixed variable: which entries the integrand uses changes with the draw,
                // and only sampling sees them all.
                let random_index = subterm_nodes(e, a).any(|n| {
                    matches!(n, Math::Index(args)
                        if args[1..].iter().any(|x| self.mentions_random(e, *x)))
                });
                if random_index {
                    return self.monte_carlo(e, a);
                }
                // Independence: a product whose factors fall into groups over disjoint sets of
                // i.i.d. entries is the product of the groups' expectations, each by its own
                // best method (10¹²·step(w₁ − 7) beside a function of w₂, w₃: the one-entry
                // quadrature sees the event that Monte Carlo over all three never samples).
                if keys.len() >= 2 {
                    if let Some(v) = self.independent_factors(e, a)? {
                        return Ok(v);
                    }
                }
                if keys.len() == 1 {
                    // One entry: the quadrature of gauss(1, 0, 1; f(u)), whose kinks and
                    // features are read from the body's form, whose domain reaches past them and
                    // which refuses a jump it cannot place in f64 or an integrand that vanished
                    // at every node; the adaptive rule over one entry where the body has no
                    // such form.
                    let key = keys[0].clone();
                    match self.as_gauss(e, a, &keys) {
                        Some(g) => {
                            let root = Id::from(g.as_ref().len() - 1);
                            let r = self.with_constants(&g, |me| me.value(&g, root));
                            // Where it fails, the one-entry rule says whether the expectation
                            // diverges (E[z⁻²] is not finite at the node nearest 0 in both);
                            // its value, if it has one, is not used.
                            match r {
                                Err(err) if !matches!(err, EvalError::Divergent(_)) => {
                                    match self.quadrature1(e, a, key) {
                                        Err(d @ EvalError::Divergent(_)) => Err(d),
                                        _ => Err(err),
                                    }
                                }
                                r => r,
                            }
                        }
                        None => self.quadrature1(e, a, key),
                    }
                } else if let Some(v) = self.as_gauss(e, a, &keys).and_then(|g| {
                    // Two entries: the bivariate quadrature of gauss(1, 0, 1; …), to ~1e-12
                    // rather than Monte Carlo's 1e-2 (E[exp(c·w₁·w₂)] = (1 − c²)^(−1/2) is
                    // 4e-4 from the exp(c²/2) of a common slip). Where the quadrature fails
                    // (E[w₁/w₂] is not finite at v = 0), Monte Carlo says why.
                    let root = Id::from(g.as_ref().len() - 1);
                    self.with_constants(&g, |me| me.value(&g, root)).ok()
                }) {
                    Ok(v)
                } else if let Some(v) = self.as_linear_gauss(e, a).and_then(|g| {
                    // Entries of Gaussian vectors (sums of many i.i.d. entries) that the body
                    // uses through at most two linear forms: the same bivariate quadrature,
                    // which sees a slab 10⁻⁶ wide that 20,000 samples never reach.
                    let root = Id::from(g.as_ref().len() - 1);
                    self.with_constants(&g, |me| me.value(&g, root)).ok()
                }) {
                    Ok(v)
                } else {
                    self.monte_carlo(e, a)
                }
            }
            Err(PolyError::Eval(err)) => Err(err),
        }
    }

    /// E[x] for a product x = f₁·f₂·…·fₖ whose factors fall into two or more groups over
    /// disjoint sets of random entries (union-find on shared entries): the entries are i.i.d.
    /// N(0, 1), so the groups are independent and E[x] is the product of the groups'
    /// expectations, each by [`Evaluator::expectation`] (exact moments, one- or two-entry
    /// quadrature, Monte Carlo), and the factors with no random entry are evaluated as they
    /// are. `None` (not split) when the product has fewer than two groups, or when a factor's
    /// entries are not known as fixed entries: an entry chosen by a random index, randomness
    /// under a binder (a sum over j of w[j], the entries z = F·ξ of a correlated Gaussian vector,
    /// which share ξ), a derivative or a nested E. A group that fails fails the term.
    fn independent_factors(&mut self, e: &Expr, a: Id) -> Result<Option<Value>, EvalError> {
        // A product, or a product to a power k = 1, 2, 3, …: (Π fᵢ)^k = Π fᵢ^k, so that
        // E[(w₁·g(w₂))²] and E[w₁²·g(w₂)²] are evaluated alike.
        let (base, exponent) = match e[a] {
            Math::Mul(_) => (a, None),
            Math::Pow([b, k])
                if matches!(e[b], Math::Mul(_))
                    && self.constant(e, k).is_some_and(|q| {
                        q.is_integer() && q > num_rational::BigRational::from_integer(0.into())
                    }) =>
            {
                (b, Some(k))
            }
            _ => return Ok(None),
        };
        if subterm_nodes(e, a).any(|n| matches!(n, Math::Expect(_) | Math::Deriv(_))) {
            return Ok(None);
        }
        let mut factors = vec![];
        self.factors(e, base, &mut factors);
        // Union-find over the factors: `owner` maps an entry to the first factor that has it.
        let mut parent: Vec<usize> = (0..factors.len()).collect();
        fn find(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut owner: HashMap<RvKey, usize> = HashMap::default();
        let mut random = vec![false; factors.len()];
        for (i, f) in factors.iter().enumerate() {
            let mut keys = vec![];
            if !self.fixed_entries(e, *f, &mut keys) {
                return Ok(None);
            }
            random[i] = !keys.is_empty();
            for key in keys {
                match owner.get(&key) {
                    Some(&j) => {
                        let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                        parent[ri] = rj;
                    }
                    None => {
                        owner.insert(key, i);
                    }
                }
            }
        }
        // The groups, each in the factors' order, in the order of their first factor.
        let mut groups: Vec<(usize, Vec<Id>)> = vec![];
        let mut fixed = vec![];
        for (i, f) in factors.iter().enumerate() {
            if !random[i] {
                fixed.push(*f);
                continue;
            }
            let r = find(&mut parent, i);
            match groups.iter_mut().find(|(root, _)| *root == r) {
                Some((_, g)) => g.push(*f),
                None => groups.push((r, vec![*f])),
            }
        }
        if groups.len() < 2 {
            return Ok(None);
        }
        let mut parts = Vec::with_capacity(fixed.len() + groups.len());
        for f in fixed {
            let mut v = self.value(e, f)?;
            if let Some(k) = exponent {
                v = power(v, self.value(e, k)?);
            }
            parts.push(v);
        }
        for (_, g) in groups {
            let v = match (&g[..], exponent) {
                ([f], None) => self.expectation(e, *f)?,
                _ => {
                    // The group's product (to the power) as a term of its own.
                    let mut out = Expr::default();
                    let mut root = None;
                    for f in g {
                        let id = crate::expr::binders::append(
                            &mut out,
                            &crate::expr::binders::subterm(e, f),
                        );
                        root = Some(match root {
                            None => id,
                            Some(p) => out.add(Math::Mul([p, id])),
                        });
                    }
                    let mut root = root.expect("a group has a factor");
                    if let Some(k) = exponent {
                        let k = crate::expr::binders::append(
                            &mut out,
                            &crate::expr::binders::subterm(e, k),
                        );
                        root = out.add(Math::Pow([root, k]));
                    }
                    self.with_constants(&out, |me| me.expectation(&out, root))?
                }
            };
            parts.push(v);
        }
        Ok(Some(independent_product(&parts)))
    }

    /// Adds to `out` the random entries of the subterm `id` (with repeats), when each is a fixed
    /// entry at this point; `false` when some are not: an entry whose index depends on a random
    /// value, or randomness under a binder, an expectation or a derivative.
    fn fixed_entries(&mut self, e: &Expr, id: Id, out: &mut Vec<RvKey>) -> bool {
        match &e[id] {
            Math::Index(args) if args[1..].iter().any(|x| self.mentions_random(e, *x)) => {
                return false
            }
            Math::Sum(_) | Math::Integral(_) | Math::Gauss(_) => {
                return !self.mentions_random(e, id);
            }
            Math::Expect(_) | Math::Deriv(_) => return false,
            _ => {}
        }
        match self.random_key(e, id) {
            Ok(Some(key)) => {
                out.push(key);
                true
            }
            Ok(None) => egg::Language::children(&e[id])
                .iter()
                .all(|c| self.fixed_entries(e, *c, out)),
            Err(_) => false,
        }
    }

    /// E[e[a]] over one or two independent N(0, 1) entries `keys` as gauss(1, 0, 1; body) with
    /// the entries replaced by u (and v), when every random entry of the integrand is one of the two
    /// and stands outside any binder, expectation or derivative (whose entries would depend on
    /// what they bind), and the integrand does not use u or v already; `None` otherwise.
    fn as_gauss(&mut self, e: &Expr, a: Id, keys: &[RvKey]) -> Option<Expr> {
        if keys.is_empty() || keys.len() > 2 {
            return None;
        }
        let (u, v) = (Symbol::from("u"), Symbol::from("v"));
        let free = crate::expr::binders::free_symbols(e, a);
        if free.contains(&u) || free.contains(&v) {
            return None;
        }
        fn copy(
            me: &mut Evaluator,
            e: &Expr,
            id: Id,
            keys: &[RvKey],
            (u, v): (Symbol, Symbol),
            out: &mut Expr,
        ) -> Option<Id> {
            if let Some(key) = me.random_key(e, id).ok()? {
                let s = if key == keys[0] {
                    u
                } else if keys.get(1) == Some(&key) {
                    v
                } else {
                    return None;
                };
                return Some(out.add(Math::Symbol(s)));
            }
            let scoped = binds_or_averages(&e[id]);
            if scoped {
                if me.mentions_random(e, id)
                    || subterm_nodes(e, id).any(|n| matches!(n, Math::Expect(_)))
                {
                    return None;
                }
                return Some(crate::expr::binders::append(
                    out,
                    &crate::expr::binders::subterm(e, id),
                ));
            }
            let mut failed = false;
            let node = egg::Language::map_children(e[id].clone(), |c| {
                copy(me, e, c, keys, (u, v), out).unwrap_or_else(|| {
                    failed = true;
                    c
                })
            });
            (!failed).then(|| out.add(node))
        }
        let mut out = Expr::default();
        let body = copy(self, e, a, keys, (u, v), &mut out)?;
        let (one, zero) = (
            out.add(Math::Num("1".parse().ok()?)),
            out.add(Math::Num("0".parse().ok()?)),
        );
        out.add(Math::Gauss([one, zero, one, body]));
        Some(out)
    }

    /// E[e[a]] as gauss(|α|², α·β, |β|²; body) when every random entry of the integrand stands
    /// in one of at most two linear forms c + α·ξ and d + β·ξ of the i.i.d. N(0, 1) entries ξ
    /// (an entry of a Gaussian vector is Σ_l √S[i, l]·ξ_l), each replaced by c + u or d + v,
    /// and none inside a binder, an expectation or a derivative otherwise; `None` otherwise. The
    /// coefficients are the forms' values at this point (f64, rounded once per term).
    fn as_linear_gauss(&mut self, e: &Expr, a: Id) -> Option<Expr> {
        let (u, v) = (Symbol::from("u"), Symbol::from("v"));
        let free = crate::expr::binders::free_symbols(e, a);
        if free.contains(&u) || free.contains(&v) {
            return None;
        }
        type Form = (f64, Vec<(usize, f64)>);
        fn copy(
            me: &mut Evaluator,
            e: &Expr,
            id: Id,
            forms: &mut Vec<Form>,
            out: &mut Expr,
        ) -> Option<Id> {
            if !me.mentions_random(e, id) {
                return Some(crate::expr::binders::append(
                    out,
                    &crate::expr::binders::subterm(e, id),
                ));
            }
            if let Ok(p) = me.rpoly(e, id) {
                if p.0
                    .keys()
                    .all(|m| m.iter().map(|(_, k)| k).sum::<u32>() <= 1)
                {
                    let mut c = 0.0;
                    let mut coef: Vec<(usize, f64)> = vec![];
                    for (m, (x, _)) in &p.0 {
                        match m.as_slice() {
                            [] => c += x,
                            [(i, 1)] => coef.push((*i, *x)),
                            _ => return None,
                        }
                    }
                    coef.retain(|(_, x)| *x != 0.0);
                    coef.sort_by_key(|(i, _)| *i);
                    if coef.is_empty() || !c.is_finite() || coef.iter().any(|(_, x)| !x.is_finite())
                    {
                        return None;
                    }
                    let k = match forms.iter().position(|(_, f)| *f == coef) {
                        Some(k) => k,
                        None if forms.len() < 2 => {
                            forms.push((c, coef));
                            forms.len() - 1
                        }
                        None => return None,
                    };
                    let sym = out.add(Math::Symbol(if k == 0 {
                        Symbol::from("u")
                    } else {
                        Symbol::from("v")
                    }));
                    if c == 0.0 {
                        return Some(sym);
                    }
                    let q = num_rational::BigRational::from_float(c)?;
                    let cn = out.add(Math::Num(q.into()));
                    return Some(out.add(Math::Add([cn, sym])));
                }
            }
            let scoped = binds_or_averages(&e[id]);
            if scoped {
                return None;
            }
            let mut failed = false;
            let node = egg::Language::map_children(e[id].clone(), |ch| {
                copy(me, e, ch, forms, out).unwrap_or_else(|| {
                    failed = true;
                    ch
                })
            });
            (!failed).then(|| out.add(node))
        }
        let mut forms: Vec<Form> = vec![];
        let mut out = Expr::default();
        let body = copy(self, e, a, &mut forms, &mut out)?;
        let dot = |x: &[(usize, f64)], y: &[(usize, f64)]| -> f64 {
            let mut t = 0.0;
            for (i, a) in x {
                if let Ok(j) = y.binary_search_by_key(i, |(k, _)| *k) {
                    t += a * y[j].1;
                }
            }
            t
        };
        let (s11, s12, s22) = match forms.as_slice() {
            [(_, f)] => (dot(f, f), 0.0, 1.0),
            [(_, f), (_, g)] => (dot(f, f), dot(f, g), dot(g, g)),
            _ => return None,
        };
        let mut num = |x: f64| -> Option<Id> {
            let q = num_rational::BigRational::from_float(x)?;
            Some(out.add(Math::Num(q.into())))
        };
        let (n11, n12, n22) = (num(s11)?, num(s12)?, num(s22)?);
        out.add(Math::Gauss([n11, n12, n22, body]));
        Some(out)
    }

    /// E[x·y] for polynomials x, y in the random entries.
    fn pair_moment(&mut self, x: &RPoly, y: &RPoly) -> Result<Value, EvalError> {
        // E[m1·m2] of two monomials of independent N(0, 1) entries is 0 unless every entry has
        // an even power in the product, that is unless m1 and m2 have the same entries at odd
        // powers: y's monomials are grouped by those, and each of x's meets only its group.
        fn odd(m: &[(usize, u32)]) -> Vec<usize> {
            m.iter()
                .filter(|(_, k)| k % 2 == 1)
                .map(|(i, _)| *i)
                .collect()
        }
        self.charge((x.0.len() + y.0.len()) as i128, || {
            "a polynomial product".into()
        })?;
        type Group<'p> = Vec<(&'p Vec<(usize, u32)>, f64, f64)>;
        let mut groups: HashMap<Vec<usize>, Group> = HashMap::default();
        for (m2, (c2, s2)) in &y.0 {
            groups.entry(odd(m2)).or_default().push((m2, *c2, *s2));
        }
        let (mut value, mut scale) = (0.0, 0.0);
        for (m1, (c1, s1)) in &x.0 {
            let Some(group) = groups.get(&odd(m1)) else {
                continue;
            };
            self.charge(group.len() as i128, || "a polynomial product".into())?;
            for (m2, c2, s2) in group {
                let mut moment = 1.0;
                let (mut p, mut q) = (0, 0);
                while moment != 0.0 && (p < m1.len() || q < m2.len()) {
                    let k = match (m1.get(p), m2.get(q)) {
                        (Some(a), Some(b)) if a.0 == b.0 => {
                            p += 1;
                            q += 1;
                            a.1 + b.1
                        }
                        (Some(a), Some(b)) if a.0 < b.0 => {
                            p += 1;
                            a.1
                        }
                        (Some(a), None) => {
                            p += 1;
                            a.1
                        }
                        (_, Some(b)) => {
                            q += 1;
                            b.1
                        }
                        (None, None) => unreachable!(),
                    };
                    moment *= gaussian_moment(k);
                }
                if moment == 0.0 {
                    continue;
                }
                if !moment.is_finite() {
                    return Err(EvalError::Unsupported(
                        "a Gaussian moment beyond f64's range".into(),
                    ));
                }
                value += c1 * c2 * moment;
                scale += s1 * s2 * moment;
            }
        }
        Ok(Value {
            value,
            scale,
            stderr: 0.0,
        })
    }

    /// E[f(z)] for the one N(0,1) entry `key` the integrand depends on: adaptive Gauss–Kronrod
    /// (7/15) on each half-line, cut at ±37 where the density is below 1e-297. Kinks anywhere are
    /// found by the subdivision. A singular or heavy-tailed integrand (E[z^(−2)], E[exp(z²)])
    /// does not converge, or has a non-negligible tail: reported as divergent.
    fn quadrature1(&mut self, e: &Expr, a: Id, key: RvKey) -> Result<Value, EvalError> {
        self.tallying(|this, _, nodes| this.quadrature1_counted(e, a, key, nodes))
    }

    /// [`Evaluator::quadrature1`], counting its integrand evaluations.
    fn quadrature1_counted(
        &mut self,
        e: &Expr,
        a: Id,
        key: RvKey,
        nodes: &mut usize,
    ) -> Result<Value, EvalError> {
        // Cut where a subterm that mentions the entry vanishes, graded (as for integrals): a
        // bump exp(−10¹²·(z − 3)²) is narrower than any fixed panel.
        let ids = Self::quadrature_subterms(e, a, |i| {
            subterm_nodes(e, i).any(|n| matches!(n, Math::Symbol(s) if *s == key.0))
        });
        let amplified = amplified_subterms(e, a);
        let peaks = |id: Id| amplified.binary_search(&id).is_ok();
        // Searched out to ±38.5, where the density falls below f64's smallest number: a jump
        // or bump beyond ±36 (1e298·step(z − 37), 0.06) lies where the rule's last panel and
        // its tail test cannot see it, and is refused.
        let cuts = quadrature_cuts(&ids, -FAR_END, FAR_END, ZERO_GRID, peaks, |id, x| {
            self.sample = Some(HashMap::from_iter([(key.clone(), x)]));
            self.mc_k = Some(u64::MAX);
            let v = self.value(e, id).ok().map(|v| v.value);
            self.sample = None;
            self.mc_k = None;
            v.filter(|v| v.is_finite())
        })
        .map_err(|(id, why)| unresolved(e, id, why))?;
        if let Some(x) = cuts.all().into_iter().find(|x| x.abs() > 36.0) {
            return Err(EvalError::Unsupported(format!(
                "E[…] over {}: the integrand has a feature at {x:.3} standard deviations, too near the end of the quadrature's domain (±37) to be integrated",
                key.0
            )));
        }
        let features = cuts.graded(-37.0, 37.0);
        let mut first_error = None;
        // The largest error estimate an integrand value carries (a Ridders derivative inside):
        // a bound on the mean's.
        let mut node_stderr: f64 = 0.0;
        let mut nonzero = 0usize;
        let mut f = |x: f64| -> f64 {
            *nodes += 1;
            self.sample = Some(HashMap::from_iter([(key.clone(), x)]));
            self.mc_k = Some(u64::MAX);
            let v = self.value(e, a);
            self.sample = None;
            self.mc_k = None;
            match v {
                Ok(v) => {
                    node_stderr = node_stderr.max(v.stderr);
                    nonzero += usize::from(v.value != 0.0);
                    v.value * (-0.5 * x * x).pexp() / (2.0 * std::f64::consts::PI).sqrt()
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                    f64::NAN
                }
            }
        };
        let mut edges = vec![-37.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 37.0];
        edges.extend(features);
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        let q = adaptive_gk(&mut f, &edges);
        let tail = f(37.0).abs().max(f(-37.0).abs()) * 37.0;
        if let Some(err) = first_error {
            return Err(err);
        }
        if nonzero == 0 {
            return Err(EvalError::Undecided(format!(
                "E[…] over {}: the integrand is 0 at every node of the quadrature, so a feature narrower than their spacing would be missed",
                key.0
            )));
        }
        let name = key.0;
        let q = q.map_err(|why| EvalError::Divergent(format!("E[…] over {name}: {why}")))?;
        if tail > 1e-16 * q.abs_integral {
            return Err(EvalError::Divergent(format!(
                "E[…] over {name}: the integrand does not decay in the Gaussian tails"
            )));
        }
        // The tolerance is 1e-12 of the scale: carrying the quadrature's error estimate in the
        // scale (×1e12) makes the comparison allow for it.
        Ok(Value {
            value: q.integral,
            scale: q.abs_integral + q.error * 1e12,
            stderr: node_stderr,
        })
    }

    /// E[e] over the random symbols of the environment when `e` is a polynomial in them (exact
    /// Gaussian moments); `None` when it is not (no Monte Carlo is run). Used by width studies
    /// to integrate the link's own Gaussian symbols out exactly.
    pub fn exact_expectation(&mut self, e: &Expr) -> Option<Result<Value, EvalError>> {
        let root = Id::from(e.as_ref().len() - 1);
        match self.with_constants(e, |this| this.poly_moments(e, root)) {
            Ok(m) => Some(Ok(m.value())),
            Err(PolyError::NotPolynomial) => None,
            Err(PolyError::Eval(err)) => Some(Err(err)),
        }
    }

    fn monte_carlo(&mut self, e: &Expr, a: Id) -> Result<Value, EvalError> {
        self.tallying(|this, extra, nodes| this.monte_carlo_counted(e, a, extra, nodes))
    }

    /// [`Evaluator::monte_carlo`], counting its samples and their undecided jumps.
    fn monte_carlo_counted(
        &mut self,
        e: &Expr,
        a: Id,
        extra: &mut u64,
        nodes: &mut usize,
    ) -> Result<Value, EvalError> {
        let n = self.env.mc_samples.max(2);
        *nodes = n;
        // The integrand compiled once, its random entries drawn by key for each sample (the
        // same keyed normals the evaluator draws; their order does not matter); the budget is
        // charged for every sample's instructions.
        let mut vars = Vars::Random(vec![]);
        let program = self.with_constants(e, |me| me.compile(e, a, &mut vars))?;
        let Vars::Random(keys) = vars else {
            unreachable!("random variables")
        };
        if let Some(p) = &program {
            self.charge(p.ops.len() as i128 * n as i128, || {
                format!("{n} Monte Carlo samples of {} operations each", p.ops.len())
            })?;
        }
        let seed = self.env.seed ^ 0x6d63_5eed;
        let hashes: Vec<u64> = keys.iter().map(|k| fnv(k.0.as_str(), seed)).collect();
        // Defensive importance sampling over fixed entries: a share of the samples is drawn
        // wider (`MC_MIXTURE`), each weighted by φ/q, q the mixture's density, so that a region
        // far in the tails where the integrand is huge is sampled, and no weight exceeds
        // 1/α₁ (the variance is at most that factor of plain sampling's).
        let dim = keys.len() as f64;
        let mixture = program.is_some() && !keys.is_empty();
        let weight = |r2: f64| -> f64 {
            // φ(x)/q(x) = 1 / Σ_c α_c s_c^(−d) exp(½|x|²(1 − 1/s_c²)), in logs.
            let logs = MC_MIXTURE
                .map(|(alpha, s)| alpha.pln() - dim * s.pln() + 0.5 * r2 * (1.0 - 1.0 / (s * s)));
            let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = logs.iter().map(|l| (l - top).pexp()).sum();
            (-(top + sum.pln())).pexp()
        };
        let mut draws = vec![0.0; keys.len()];
        let mut stack = vec![];
        // One map for every sample, cleared between them (its capacity is kept).
        let mut drawn: HashMap<RvKey, f64> = HashMap::default();
        // (value, weight, magnitude scale) of each sample.
        let mut samples: Vec<(f64, f64, f64)> = Vec::with_capacity(n);
        let mut nonzero = 0usize;
        for k in 0..n {
            let (v, w) = if let Some(p) = &program {
                let s = if mixture { mixture_scale(k) } else { 1.0 };
                let mut r2 = 0.0;
                for ((d, key), h) in draws.iter_mut().zip(&keys).zip(&hashes) {
                    *d = s * keyed_normal_from(*h, key, k as u64);
                    r2 += *d * *d;
                }
                let w = if mixture { weight(r2) } else { 1.0 };
                (Ok(p.run(&draws, &mut stack, extra)), w)
            } else {
                drawn.clear();
                self.sample = Some(drawn);
                self.mc_k = Some(k as u64);
                let v = self.value(e, a);
                drawn = self.sample.take().unwrap_or_default();
                self.mc_k = None;
                (v, 1.0)
            };
            let v = v?;
            if !v.value.is_finite() {
                return Err(EvalError::Divergent(
                    "a Monte Carlo sample is not finite".into(),
                ));
            }
            // A sample counts when any term of the integrand is non-zero (its magnitude scale):
            // a difference of two sides that cancels pathwise counts, an indicator that never
            // fires does not.
            if v.scale != 0.0 {
                nonzero += 1;
            }
            samples.push((v.value, w, v.scale));
        }
        if nonzero < MC_MIN_NONZERO.min(n) {
            return Err(EvalError::Undecided(format!(
                "Monte Carlo estimate is degenerate ({nonzero} non-zero samples of {n}; at least {MC_MIN_NONZERO} needed)"
            )));
        }
        // Every sample the same value: a standard error of 0, as if E were known exactly, while
        // a region no sample reached may hold the rest of it (√(1 + 10¹²·exp(−10¹²(w₁ + w₂ +
        // w₃ − 1)²)), a slab 10⁻⁶ wide at 0.6σ, came out 1 ± 2e-12 for 1.4887). Sampling that
        // saw no variation at all is no estimate.
        if samples.windows(2).all(|p| p[0].0 == p[1].0) {
            return Err(EvalError::Undecided(format!(
                "every one of the {n} Monte Carlo samples gave the same value ({}): a region no sample reached cannot be ruled out, so this is no estimate of E",
                samples[0].0
            )));
        }
        // The self-normalised estimate Σwf/Σw (two sides drawn at the same samples share their
        // weights), its standard error by the delta method: √(Σ w²(f − μ)²)/Σw.
        let wsum: f64 = samples.iter().map(|s| s.1).sum();
        let mean = samples.iter().map(|s| s.0 * s.1).sum::<f64>() / wsum;
        let scale = samples.iter().map(|s| s.2 * s.1).fold(0.0, f64::max);
        // The deviations w·(f − μ), normalised to a mean weight of 1.
        let norm = n as f64 / wsum;
        let devs: Vec<f64> = samples.iter().map(|s| s.1 * norm * (s.0 - mean)).collect();
        let m2: f64 = devs.iter().map(|d| d * d).sum();
        let stderr = (m2 / (n as f64 * (n - 1) as f64)).sqrt();
        // Finite variance: neither one sample nor the few largest may dominate the sum of
        // squared deviations. Rounding-sized deviations of a
        // pathwise-zero difference are exempt.
        if m2 > (1e-12 * scale).powi(2) * n as f64 {
            let largest = devs.iter().map(|d| d * d).fold(0.0, f64::max);
            if largest > MC_MAX_SHARE * m2 {
                return Err(EvalError::Divergent(format!(
                    "one Monte Carlo sample of {n} carries {:.0}% of the variance: the estimate is not reliable (the integrand has no finite variance, or a rare region that few samples reach carries it)",
                    100.0 * largest / m2
                )));
            }
            let top = top_share(&devs, 0.0);
            if top > MC_MAX_TOP_SHARE {
                return Err(EvalError::Divergent(format!(
                    "the {TOP} largest of {n} Monte Carlo samples carry {:.0}% of the variance: the estimate is not reliable (the integrand has no finite variance, or a rare region that few samples reach carries it)",
                    100.0 * top
                )));
            }
        }
        Ok(Value {
            value: mean,
            scale: mean.abs().max(scale * 1e-3),
            stderr,
        })
    }

    fn rv(&mut self, key: RvKey) -> usize {
        if let Some(i) = self.rv_index.get(&key) {
            return *i;
        }
        self.rvs.push(key.clone());
        self.rv_index.insert(key, self.rvs.len() - 1);
        self.rvs.len() - 1
    }

    /// Evaluate a subterm as a polynomial in the random variables.
    fn rpoly(&mut self, e: &Expr, id: Id) -> Result<RPoly, PolyError> {
        if let Some(key) = self.random_key(e, id)? {
            let i = self.rv(key);
            return Ok(RPoly(rustc_hash::FxHashMap::from_iter([(
                vec![(i, 1)],
                (1.0, 1.0),
            )])));
        }
        let node = &e[id];
        match node {
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let (x, mut y) = (self.rpoly(e, *a)?, self.rpoly(e, *b)?);
                if matches!(node, Math::Sub(_)) {
                    y.0.values_mut().for_each(|(c, _)| *c = -*c);
                }
                Ok(add(x, y))
            }
            Math::Neg(a) => {
                let mut x = self.rpoly(e, *a)?;
                x.0.values_mut().for_each(|(c, _)| *c = -*c);
                Ok(x)
            }
            Math::Mul([a, b]) => {
                let (x, y) = (self.rpoly(e, *a)?, self.rpoly(e, *b)?);
                self.charge((x.0.len() * y.0.len()) as i128, || {
                    "a polynomial product".into()
                })?;
                Ok(mul_owned(x, y))
            }
            Math::Div([a, b]) => {
                let x = self.rpoly(e, *a)?;
                let y = self.rpoly(e, *b)?;
                let Some((d, ds)) = constant(&y) else {
                    return Err(PolyError::NotPolynomial);
                };
                Ok(RPoly(
                    x.0.into_iter()
                        .map(|(m, (c, s))| (m, (c / d, (s + (c / d).abs() * ds) / d.abs())))
                        .collect(),
                ))
            }
            Math::Pow([a, b]) => {
                if self.mentions_random(e, *b) {
                    // A random exponent: not a polynomial (E[z₁^(2·step(z₂) + 2)] is left to
                    // the other methods).
                    return Err(PolyError::NotPolynomial);
                }
                let x = self.rpoly(e, *a)?;
                if constant(&x).is_some() {
                    return self.as_constant(e, id);
                }
                let k = self.value(e, *b)?.value;
                if k < 0.0 || k.fract() != 0.0 || k > 1000.0 {
                    // Negative or fractional powers of Gaussians are not polynomials: they go
                    // to quadrature or Monte Carlo, where E[z^(−2)] is found divergent.
                    return Err(PolyError::NotPolynomial);
                }
                let mut out = RPoly(rustc_hash::FxHashMap::from_iter([(vec![], (1.0, 1.0))]));
                for _ in 0..k as u32 {
                    self.charge((out.0.len() * x.0.len()) as i128, || {
                        "a polynomial power".into()
                    })?;
                    out = mul(&out, &x);
                }
                Ok(out)
            }
            Math::Sum([v, lo, hi, body]) => {
                let var = e[*v].symbol().ok_or(PolyError::NotPolynomial)?;
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                self.spend(lo, hi)?;
                let mut acc = RPoly::default();
                let before = self.terms;
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = self.rpoly(e, *body);
                    self.bound.pop();
                    acc = add(acc, t?);
                    if j == lo {
                        self.project(before, lo, hi)?;
                    }
                }
                Ok(acc)
            }
            _ => {
                // Anything else must be deterministic.
                if self.mentions_random(e, id) {
                    return Err(PolyError::NotPolynomial);
                }
                self.as_constant(e, id)
            }
        }
    }

    /// E[subterm] when it is a polynomial in the random variables, by linearity: sums,
    /// differences, sums over an index and products or quotients by a deterministic factor are
    /// taken term by term, so a sum of n terms costs n small polynomials, not one of n monomials
    /// (what made a width study's exact means at n = 10⁴ cost 50 ms). Any other subterm is
    /// expanded by [`Evaluator::rpoly`]. The same budget is charged for sums; value and scale
    /// are those of [`moments_of`] of the expanded polynomial, up to the order of summation.
    fn poly_moments(&mut self, e: &Expr, id: Id) -> Result<Moment, PolyError> {
        let node = &e[id];
        let linear = matches!(
            node,
            Math::Add(_) | Math::Sub(_) | Math::Neg(_) | Math::Mul(_) | Math::Div(_) | Math::Sum(_)
        );
        if !linear || !self.mentions_random(e, id) {
            return self.expanded_moments(e, id);
        }
        match node {
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let (x, y) = (self.poly_moments(e, *a)?, self.poly_moments(e, *b)?);
                let sign = if matches!(node, Math::Sub(_)) {
                    -1.0
                } else {
                    1.0
                };
                Ok(Moment {
                    value: x.value + sign * y.value,
                    scale: x.scale + y.scale,
                    mass: x.mass + y.mass,
                    stderr: x.stderr + y.stderr,
                })
            }
            Math::Neg(a) => {
                let x = self.poly_moments(e, *a)?;
                Ok(Moment {
                    value: -x.value,
                    ..x
                })
            }
            Math::Mul([a, b]) => {
                let (c, x) = match (self.mentions_random(e, *a), self.mentions_random(e, *b)) {
                    (false, true) => (*a, *b),
                    (true, false) => (*b, *a),
                    _ => return self.expanded_moments(e, id),
                };
                let c = self.value(e, c)?;
                let x = self.poly_moments(e, x)?;
                // A factor known to its error estimate (a Ridders derivative, a Monte Carlo
                // mean) passes it on, to first order.
                Ok(Moment {
                    value: x.value * c.value,
                    scale: x.scale * c.scale,
                    mass: x.mass * c.value.abs(),
                    stderr: x.stderr * c.value.abs() + x.value.abs() * c.stderr,
                })
            }
            Math::Div([a, b]) if !self.mentions_random(e, *b) => {
                let x = self.poly_moments(e, *a)?;
                let d = self.value(e, *b)?;
                let (d, ds, de) = (d.value, d.scale, d.stderr);
                Ok(Moment {
                    value: x.value / d,
                    scale: (x.scale + x.mass / d.abs() * ds) / d.abs(),
                    mass: x.mass / d.abs(),
                    stderr: (x.stderr + (x.value / d).abs() * de) / d.abs(),
                })
            }
            Math::Sum([v, lo, hi, body]) => {
                let var = e[*v].symbol().ok_or(PolyError::NotPolynomial)?;
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                self.spend(lo, hi)?;
                let mut acc = Moment::default();
                let before = self.terms;
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = self.poly_moments(e, *body);
                    self.bound.pop();
                    let t = t?;
                    acc.value += t.value;
                    acc.scale += t.scale;
                    acc.mass += t.mass;
                    acc.stderr += t.stderr;
                    if j == lo {
                        self.project(before, lo, hi)?;
                    }
                }
                Ok(acc)
            }
            _ => self.expanded_moments(e, id),
        }
    }

    /// E[subterm] of its expanded polynomial ([`Evaluator::rpoly`], then [`moments_of`]); a
    /// power of one random entry directly from its moment.
    fn expanded_moments(&mut self, e: &Expr, id: Id) -> Result<Moment, PolyError> {
        if let Math::Pow([a, k]) = &e[id] {
            if self.random_key(e, *a)?.is_some() && !self.mentions_random(e, *k) {
                let k = self.value(e, *k)?.value;
                if k < 0.0 || k.fract() != 0.0 || k > 1000.0 {
                    return Err(PolyError::NotPolynomial);
                }
                // The products rpoly would charge: one per factor.
                self.charge(k as i128, || "a polynomial power".into())?;
                let m = gaussian_moment(k as u32);
                if !m.is_finite() {
                    return Err(PolyError::Eval(EvalError::Unsupported(
                        "a Gaussian moment beyond f64's range".into(),
                    )));
                }
                return Ok(Moment {
                    value: m,
                    scale: m,
                    mass: m,
                    stderr: 0.0,
                });
            }
        }
        let p = self.rpoly(e, id)?;
        Ok(moments_of(&p)?)
    }

    fn as_constant(&mut self, e: &Expr, id: Id) -> Result<RPoly, PolyError> {
        let v = self.value(e, id)?;
        if v.stderr > 0.0 {
            // A polynomial's coefficients are exact or rounded, not estimates: one known only
            // to its error estimate (a Ridders derivative) is left to the other methods.
            return Err(PolyError::NotPolynomial);
        }
        Ok(RPoly(rustc_hash::FxHashMap::from_iter([(
            vec![],
            (v.value, v.scale),
        )])))
    }

    /// Does the subterm mention a random symbol outside an inner E[...]?
    fn mentions_random(&self, e: &Expr, id: Id) -> bool {
        match &e[id] {
            Math::Symbol(s) => self.is_random(*s) && !self.has_value(*s),
            Math::Expect(_) => false,
            n => egg::Language::children(n)
                .iter()
                .any(|c| self.mentions_random(e, *c)),
        }
    }
}

/// |f'(x)| for error propagation; where f' is infinite (√ at 0, acos at ±1) the secant slope over
/// the rounding-sized step η = 1e-12·scale, which is how far such a point's input is known.
fn slope(f: Unary, df: Deriv, x: f64, fx: f64, scale: f64) -> f64 {
    let d = df(x, fx).abs();
    if d.is_finite() {
        return d;
    }
    let eta = 1e-12 * scale.max(f64::MIN_POSITIVE);
    [x - eta, x + eta]
        .iter()
        .map(|y| ((f(*y) - fx) / eta).abs())
        .filter(|s| s.is_finite())
        .fold(0.0, f64::max)
}

/// Largest exact constant (in bits of numerator plus denominator) folded as a rational; beyond,
/// the term is evaluated in f64 (where it overflows to a non-finite value: not evaluated).
const MAX_CONST_BITS: u64 = 1 << 16;

/// The subterm's exact value if it is built from numbers with + − × ÷ and integer powers.
fn exact_const(e: &Expr, id: Id) -> Option<num_rational::BigRational> {
    exact_node(&e[id], &|c| exact_const(e, c))
}

/// A function of one real argument.
type Unary = fn(f64) -> f64;

/// The derivative of a [`Unary`] f at x, given x and f(x) (exp, tanh, sigmoid and √ read it
/// from f(x) instead of computing f again: the same operations on the same value).
pub(crate) type Deriv = fn(f64, f64) -> f64;

/// The variables of a compiled integrand ([`Evaluator::compile`]): named ones (u and v of
/// gauss), or the random entries it meets (slots in order of first use).
enum Vars<'s> {
    Named(&'s [Symbol]),
    Random(Vec<RvKey>),
}

/// A power with an exponent beyond this is read as a possible narrow feature of its base
/// ([`Evaluator::gauss_form`]): x^k falls from its peak by half within 0.7/k of it, which for
/// k ≤ 64 the quadrature's nodes resolve at any scale of x they resolve x at.
const STEEP_POWER: f64 = 64.0;

/// Most instructions of a compiled integrand; a larger one is walked as a term.
const MAX_PROGRAM: usize = 1 << 16;

/// exp, sigmoid, softplus and gelu are 0 at no nonzero argument: a 0 there is an underflow
/// (exp(−a²) at a = 15524), not an exact 0 ([`underflowed`]).
fn zero_only_at_zero(node: &Math) -> bool {
    matches!(
        node,
        Math::Exp(_) | Math::Sigmoid(_) | Math::Softplus(_) | Math::Gelu(_)
    )
}

/// A function of one argument that the evaluator computes as f(x) with slope f'(x): its
/// argument and (f, f'). One table for [`Evaluator::value`] and the integrands of `gauss`.
fn unary_fns(node: &Math) -> Option<(Id, Unary, Deriv)> {
    let (a, f, df): (&Id, Unary, Deriv) = match node {
        Math::Sqrt(a) => (a, f64::sqrt, |_, s| 0.5 / s),
        Math::Exp(a) => (a, f64::pexp, |_, ex| ex),
        // log 0 has no value (not −∞: exp(log 0) is not 0, exp(1/log 0) not 1).
        Math::Log(a) => (
            a,
            |x| if x == 0.0 { f64::NAN } else { x.pln() },
            |x, _| 1.0 / x,
        ),
        Math::Sin(a) => (a, f64::psin, |x, _| x.pcos()),
        Math::Cos(a) => (a, f64::pcos, |x, _| x.psin()),
        Math::Tan(a) => (a, f64::ptan, |x, _| 1.0 / (x.pcos() * x.pcos())),
        Math::Asin(a) => (a, f64::pasin, |x, _| 1.0 / (1.0 - x * x).sqrt()),
        Math::Acos(a) => (a, f64::pacos, |x, _| 1.0 / (1.0 - x * x).sqrt()),
        Math::Atan(a) => (a, f64::patan, |x, _| 1.0 / (1.0 + x * x)),
        Math::Abs(a) => (a, f64::abs, |_, _| 1.0),
        Math::Cosh(a) => (a, f64::pcosh, |x, _| x.psinh()),
        Math::Sinh(a) => (a, f64::psinh, |x, _| x.pcosh()),
        Math::Sign(a) => (a, sign, |_, _| 0.0),
        Math::Relu(a) => (
            a,
            |x| Activation::Relu.eval(x),
            |x, _| Activation::Relu.deriv(x),
        ),
        Math::Step(a) => (a, |x| Activation::Step.eval(x), |_, _| 0.0),
        Math::Erf(a) => (
            a,
            |x| Activation::Erf.eval(x),
            |x, _| Activation::Erf.deriv(x),
        ),
        // Activation::Tanh.deriv and Activation::Sigmoid.deriv, from f(x).
        Math::Tanh(a) => (a, f64::ptanh, |_, t| 1.0 - t * t),
        Math::Sigmoid(a) => (a, |x| Activation::Sigmoid.eval(x), |_, s| s * (1.0 - s)),
        Math::Softplus(a) => (
            a,
            |x| Activation::Softplus.eval(x),
            |x, _| Activation::Softplus.deriv(x),
        ),
        Math::Gelu(a) => (
            a,
            |x| Activation::Gelu.eval(x),
            |x, _| Activation::Gelu.deriv(x),
        ),
        _ => return None,
    };
    Some((*a, f, df))
}

/// What [`Evaluator::gauss_form`] reads from a gauss body.
struct GaussForm {
    kinks: Vec<super::gauss::Line>,
    features: Vec<super::gauss::Line>,
    /// Subterms not affine in u and v inside a smooth function or a kink, whose zeros may
    /// carry a feature along a curve ([`super::gauss::Curve`]).
    curved: Vec<Id>,
    /// The bases of powers of high degree ([`STEEP_POWER`]), narrow where they peak: their
    /// extrema are cut at too.
    peaks: Vec<Id>,
    smoothness: super::gauss::Smoothness,
    uses_u: bool,
    uses_v: bool,
}

impl GaussForm {
    fn at_least(&mut self, s: super::gauss::Smoothness) {
        self.smoothness = self.smoothness.max(s);
    }
    fn unknown(&mut self) {
        self.at_least(super::gauss::Smoothness::Unknown);
    }
}

/// Does the subterm mention u or v; does it mention a symbol bound inside the gauss body (a
/// sum's index)?
fn form_mentions(e: &Expr, id: Id, w: &FormWalk) -> (bool, bool) {
    let free = crate::expr::binders::free_symbols(e, id);
    (
        free.contains(&w.u) || free.contains(&w.v),
        w.bound.iter().any(|s| free.contains(s)),
    )
}

/// The state of the walk of [`Evaluator::gauss_form`]: gauss's variables, the symbols bound
/// inside the body so far (sum indices), and what was read.
struct FormWalk<'f> {
    u: Symbol,
    v: Symbol,
    bound: Vec<Symbol>,
    form: &'f mut GaussForm,
}

/// One factor of a `gauss` body: the bound variable itself (`None`) or a function of it.
type UvFactor = Option<(Unary, Deriv)>;

/// A body `f(u)·g(v)` (in this order, each factor `u`/`v` or a [`unary_fns`] function of it):
/// the two factors.
fn product_of_uv(e: &Expr, body: Id, u: Symbol, v: Symbol) -> Option<(UvFactor, UvFactor)> {
    let Math::Mul([p, q]) = &e[body] else {
        return None;
    };
    let factor = |id: Id, x: Symbol| -> Option<UvFactor> {
        if e[id].symbol() == Some(x) {
            return Some(None);
        }
        let (a, f, df) = unary_fns(&e[id])?;
        (e[a].symbol() == Some(x)).then_some(Some((f, df)))
    };
    Some((factor(*p, u)?, factor(*q, v)?))
}

/// f(x) with its magnitude scale and first-order error (see [`unary_fns`]).
pub(crate) fn unary(x: Value, f: Unary, df: Deriv) -> Value {
    // Undefined in, undefined out: step, sign and relu of NaN are not 0.
    let v = if x.value.is_nan() {
        f64::NAN
    } else {
        f(x.value)
    };
    let d = slope(f, df, x.value, v, x.scale);
    Value {
        value: v,
        scale: v.abs() + d * x.scale,
        stderr: d * x.stderr,
    }
}

/// Does a function that jumps at 0 (step, sign, ReLU′) see an argument whose side of 0 the
/// f64 evaluation cannot tell? Its |value| is within the rounding allowance of its magnitude
/// scale ([`crate::precision::JUMP_ROUNDING`]); an exact 0 (scale 0) is decided.
pub(crate) fn undecided_jump(x: &Value) -> bool {
    x.scale > 0.0 && x.value.abs() <= crate::precision::JUMP_ROUNDING * x.scale
}

/// Does the node jump at 0 in its argument (step, sign)?
pub(crate) fn jumps(node: &Math) -> bool {
    matches!(node, Math::Step(_) | Math::Sign(_))
}

/// The error for a jump whose side is not known ([`undecided_jump`]).
fn jump_error(what: &str, x: &Value) -> EvalError {
    EvalError::Undecided(format!(
        "the argument of {what} is {:.1e}, {JUMP_UNDECIDED} (magnitude scale {:.1e}): which side of the jump it lies on is not known in f64",
        x.value, x.scale
    ))
}

/// What [`jump_error`] says, for [`is_undecided_jump`].
const JUMP_UNDECIDED: &str = "within the rounding error of its jump at 0";

/// Is `e` the error of a jump whose side f64 cannot tell ([`undecided_jump`])?
pub fn is_undecided_jump(e: &EvalError) -> bool {
    matches!(e, EvalError::Undecided(m) if m.contains(JUMP_UNDECIDED))
}

/// sign(x): −1, 0 or 1.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// A result that is 0 only because f64 underflowed (`nonzero`: the exact result is not 0, e.g.
/// a product of nonzero factors): its scale is made the least positive double, so that it is
/// rounding, not an exact 0 (a comparison of such sides is left to ball arithmetic,
/// `check::underflow_zone`; a jump at it is undecided). exp(−a²) at a = 40 is 0 in f64 and
/// "equals" 0, which a strict inequality would count as a violation.
///
/// The same holds of a subnormal result (below 2⁻¹⁰²² in magnitude): f64's error model there is
/// fl(x∘y) = (x∘y)(1 + δ) + η with |η| ≤ 2⁻¹⁰⁷⁵, an absolute error that no relative allowance
/// covers; a scale of at least 2⁻¹⁰²² makes the allowance (2⁻⁵³ times the scale) cover η. x² at
/// x = 8·10⁻¹⁶¹ is 6.9·10⁻³²⁰ to 3 digits, and √(x²)/|x| came out 1.22: Cauchy–Schwarz refuted.
pub(crate) fn underflowed(mut v: Value, nonzero: bool) -> Value {
    if v.value.abs() < f64::MIN_POSITIVE && nonzero {
        v.scale = v.scale.max(f64::MIN_POSITIVE);
    }
    v
}

/// May `v` be nonzero? A value is, and so is a 0 that is 0 only within its rounding (a
/// positive scale): e^(−10⁶) underflows to 0 with the least positive scale, and t⁸·e^(−1/t²)
/// at t = 10⁻³, whose scale 10⁻²⁴ × 2⁻¹⁰²² underflows too, must stay a rounded 0, not become
/// an exact one (a gauss(…) variance, a step's argument).
pub(crate) fn maybe_nonzero(v: &Value) -> bool {
    v.value != 0.0 || v.scale > 0.0
}

/// x / y, with the magnitude scale and the first-order error.
pub(crate) fn quotient(x: Value, y: Value) -> Value {
    // x/0 has no value, not ±∞: a function of it must not come out finite (atan(1/0) is not π/2,
    // exp(−1/0) is not 0), so the point is not evaluated.
    // x/∞ has none either: ∞ is an overflow, not a value (2a³/√(a⁴) is not 0 where a⁴
    // overflows: that 0 read −2a + 2a³/√(a⁴) as 10⁷⁸ for a true identity).
    let v = if y.value == 0.0 || y.value.is_infinite() {
        f64::NAN
    } else {
        x.value / y.value
    };
    let out = Value {
        value: v,
        scale: (x.scale + v.abs() * y.scale) / y.value.abs(),
        stderr: (x.stderr + v.abs() * y.stderr) / y.value.abs(),
    };
    underflowed(out, maybe_nonzero(&x) && !x.value.is_nan())
}

/// x^y, with the magnitude scale and the first-order error.
pub(crate) fn power(x: Value, y: Value) -> Value {
    // powf(NaN, 0) and powf(1, NaN) are 1 in IEEE arithmetic; an undefined operand stays undefined.
    // 0^y for y < 0 is 1/0: no value (see [`quotient`]).
    let v = if x.value.is_nan() || y.value.is_nan() || (x.value == 0.0 && y.value < 0.0) {
        f64::NAN
    } else {
        x.value.ppowf(y.value)
    };
    // x^(y − 1) for y = 2 is x itself (pow is exact where the result is representable).
    let below = if y.value == 2.0 {
        x.value
    } else {
        x.value.ppowf(y.value - 1.0)
    };
    let d = (y.value * below).abs();
    // The exponent's own rounding matters only for a positive base (and an exact exponent has
    // none: its logarithm is not needed).
    let via_exponent = if x.value > 0.0 && y.scale != 0.0 {
        (v * x.value.pln()).abs() * y.scale
    } else {
        0.0
    };
    let d = if d.is_finite() { d } else { 0.0 };
    // A base that is 0 only within its rounding: the first-order term vanishes (x² at x = 0),
    // the power of the base's scale does not ((3a − 1)² near a = 1/3 is not an exact 0).
    let rounded_zero = if x.value == 0.0 && x.scale > 0.0 && y.value > 0.0 {
        x.scale.ppowf(y.value)
    } else {
        0.0
    };
    let out = Value {
        value: v,
        scale: v.abs() + d * x.scale + via_exponent + rounded_zero,
        stderr: d * x.stderr,
    };
    underflowed(out, maybe_nonzero(&x) && !x.value.is_nan())
}

/// The product of two values, with the magnitude scale and the first-order error.
pub(crate) fn product(x: Value, y: Value) -> Value {
    let out = Value {
        value: x.value * y.value,
        scale: x.scale * y.scale,
        stderr: x.value.abs() * y.stderr + y.value.abs() * x.stderr,
    };
    underflowed(out, maybe_nonzero(&x) && maybe_nonzero(&y))
}

/// The product of independent estimates xᵢ = vᵢ ± sᵢ (the expectations of groups of factors
/// over disjoint sets of i.i.d. entries: their Monte Carlo samples are disjoint draws, and
/// quadratures carry no sampling error). The value is Π vᵢ and the rounding scale Π scaleᵢ
/// (the scale of each term of the product's expansion, as for [`product`]). The standard error
/// is that of a product of independent estimators, Var(Π Xᵢ) = Π (μᵢ² + σᵢ²) − Π μᵢ² (exact for
/// independent Xᵢ), with the estimates for the means: the delta method's Σᵢ σᵢ²·Π_{j≠i} μⱼ²
/// plus the products of two or more variances, which are what remains when the means are
/// small beside their errors (E[sin(w₂w₃)] by Monte Carlo is 0 ± σ: the first order alone
/// would give a product of two such factors no error at all). It is accumulated term by term
/// (no difference of nearly equal products), each factor normalised by max(|vᵢ|, sᵢ) so that
/// the squares neither overflow nor underflow.
fn independent_product(parts: &[Value]) -> Value {
    let (mut value, mut scale) = (1.0f64, 1.0f64);
    // Π v̂ᵢ² and Π (v̂ᵢ² + ŝᵢ²) − Π v̂ᵢ² of the normalised factors, and Π of the norms.
    let (mut squares, mut variance, mut norm) = (1.0f64, 0.0f64, 1.0f64);
    for p in parts {
        value *= p.value;
        scale *= p.scale;
        let m = p.value.abs().max(p.stderr);
        let (v, s) = if m > 0.0 && m.is_finite() {
            norm *= m;
            (p.value / m, p.stderr / m)
        } else {
            (p.value, p.stderr)
        };
        variance = squares * s * s + variance * (v * v + s * s);
        squares *= v * v;
    }
    let out = Value {
        value,
        scale,
        stderr: variance.sqrt() * norm,
    };
    underflowed(out, parts.iter().all(maybe_nonzero))
}

/// The exact value of every subterm of an expression that is a constant (by node id), and that
/// value rounded to f64 (NaN where it is not a constant).
struct ConstantTable {
    exact: Vec<Option<num_rational::BigRational>>,
    rounded: Vec<f64>,
    /// Per node: a 64-bit filter of the symbols its subterm mentions (bit `symbol_bit(s)`; a
    /// clear bit proves the symbol absent), and whether the subterm holds an expectation.
    mentions: Vec<u64>,
    expects: Vec<bool>,
    /// Per node: is it a closed constant ([`Evaluator::is_closed`])?
    closed: Vec<bool>,
}

/// Is the term a closed constant: numbers and π under arithmetic and functions of one argument
/// (no symbol, binder, expectation or random entry)? Its f64 value is then rounding away from
/// its exact one, which ball arithmetic bounds.
pub fn is_closed(e: &Expr) -> bool {
    ConstantTable::of(e).closed.last().copied().unwrap_or(false)
}

/// The bit of a symbol in [`ConstantTable::mentions`].
fn symbol_bit(s: Symbol) -> u64 {
    // From the name, not from the symbol's interned number: that number depends on the order in
    // which names were first seen in the process (checks running in parallel), and a collision
    // sends a subterm down forward mode's walk instead of the plain value, which rounds
    // differently — a proved link printed 1.4e-17 in one run and 6.8e-20 in the next.
    1u64 << (splitmix(hash_of_name(s, 0x6d65_6e74_696f_6e73)) >> 58)
}

/// Expressions of at most this many nodes keep their constant tables (per thread).
const TABLE_KEPT_NODES: usize = 4096;

thread_local! {
    /// The constant tables of the expressions evaluated last on this thread: a link's sides are
    /// evaluated at every point and in the violation search, and their exact constants
    /// (rationals) cost more than evaluating the side in f64. Keyed by the whole expression, so
    /// a kept table is the one `ConstantTable::of` would compute.
    static TABLES: std::cell::RefCell<super::kept::Kept<u64, KeptTable>> =
        std::cell::RefCell::new(super::kept::Kept::new(256));
}

/// A kept constant table with the expression it is the table of.
type KeptTable = (Expr, std::rc::Rc<ConstantTable>);

/// A hash of the expression's nodes that reads a number's numerator and denominator as they are
/// (a rational's own hash normalises it by repeated division, which cost a quarter of a search).
fn nodes_hash(e: &Expr) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for n in e.as_ref() {
        same_node_key(n, &mut h);
    }
    h.finish()
}

fn same_node_key(n: &Math, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    std::mem::discriminant(n).hash(h);
    match n {
        Math::Num(c) => {
            c.0.numer().hash(h);
            c.0.denom().hash(h);
        }
        Math::Symbol(s) => s.hash(h),
        _ => {}
    }
    for c in egg::Language::children(n) {
        usize::from(*c).hash(h);
    }
}

/// Are the two expressions the same node for node (numbers by numerator and denominator)?
fn same_nodes(a: &Expr, b: &Expr) -> bool {
    a.as_ref().len() == b.as_ref().len()
        && a.as_ref()
            .iter()
            .zip(b.as_ref())
            .all(|(x, y)| match (x, y) {
                (Math::Num(p), Math::Num(q)) => {
                    p.0.numer() == q.0.numer() && p.0.denom() == q.0.denom()
                }
                (Math::Num(_), _) | (_, Math::Num(_)) => false,
                _ => x == y,
            })
}

impl ConstantTable {
    /// The table of `e`, kept per thread for expressions of at most [`TABLE_KEPT_NODES`] nodes.
    fn kept(e: &Expr) -> std::rc::Rc<ConstantTable> {
        if e.as_ref().len() > TABLE_KEPT_NODES {
            return std::rc::Rc::new(ConstantTable::of(e));
        }
        let key = nodes_hash(e);
        let kept = TABLES.with(|m| {
            m.borrow()
                .get_ref(&key)
                .filter(|(kept, _)| same_nodes(kept, e))
                .map(|(_, t)| t.clone())
        });
        if let Some(t) = kept {
            return t;
        }
        let t = std::rc::Rc::new(ConstantTable::of(e));
        TABLES.with(|m| m.borrow_mut().keep(key, (e.clone(), t.clone())));
        t
    }

    /// Computed bottom-up once: children come before their parents in a `RecExpr`.
    fn of(e: &Expr) -> ConstantTable {
        let mut exact: Vec<Option<num_rational::BigRational>> =
            Vec::with_capacity(e.as_ref().len());
        for node in e.as_ref() {
            let known = &exact;
            let v = exact_node(node, &|c| known[usize::from(c)].clone());
            exact.push(v);
        }
        let rounded = exact
            .iter()
            .map(|q| {
                q.as_ref().map_or(f64::NAN, |q| {
                    num_traits::ToPrimitive::to_f64(q).unwrap_or(f64::NAN)
                })
            })
            .collect();
        let (mut mentions, mut expects) = (
            Vec::with_capacity(e.as_ref().len()),
            Vec::with_capacity(e.as_ref().len()),
        );
        for node in e.as_ref() {
            let children = egg::Language::children(node);
            let mut m = children
                .iter()
                .fold(0u64, |m, c| m | mentions[usize::from(*c)]);
            if let Math::Symbol(s) = node {
                m |= symbol_bit(*s);
            }
            mentions.push(m);
            expects.push(
                matches!(node, Math::Expect(_))
                    || children.iter().any(|c| expects[usize::from(*c)]),
            );
        }
        let mut closed: Vec<bool> = Vec::with_capacity(e.as_ref().len());
        for node in e.as_ref() {
            let children = egg::Language::children(node);
            let shape = match node {
                Math::Num(_) => true,
                Math::Symbol(s) => *s == pi_symbol(),
                Math::Add(_)
                | Math::Sub(_)
                | Math::Neg(_)
                | Math::Mul(_)
                | Math::Div(_)
                | Math::Pow(_) => true,
                n => unary_fns(n).is_some(),
            };
            closed.push(shape && children.iter().all(|c| closed[usize::from(*c)]));
        }
        // A binder of the name `pi` (which the loader refuses) would make its bound uses read as
        // π: then nothing is taken for a closed constant.
        let binds_pi = e.as_ref().iter().enumerate().any(|(i, n)| {
            matches!(n, Math::Sum(_) | Math::Integral(_))
                && crate::expr::binders::binds(e, Id::from(i)).contains(&pi_symbol())
        });
        if binds_pi {
            closed.iter_mut().for_each(|c| *c = false);
        }
        ConstantTable {
            exact,
            rounded,
            mentions,
            expects,
            closed,
        }
    }
}

/// A node's exact value from its children's (`child`), if it is a constant.
fn exact_node(
    node: &Math,
    child: &dyn Fn(Id) -> Option<num_rational::BigRational>,
) -> Option<num_rational::BigRational> {
    use num_traits::{Signed, ToPrimitive, Zero};
    let small =
        |q: &num_rational::BigRational| q.numer().bits() + q.denom().bits() <= MAX_CONST_BITS;
    let q = match node {
        Math::Num(c) => c.0.clone(),
        Math::Neg(a) => -child(*a)?,
        Math::Add([a, b]) => child(*a)? + child(*b)?,
        Math::Sub([a, b]) => child(*a)? - child(*b)?,
        Math::Mul([a, b]) => child(*a)? * child(*b)?,
        Math::Div([a, b]) => {
            let d = child(*b)?;
            if d.is_zero() {
                return None;
            }
            child(*a)? / d
        }
        Math::Pow([a, b]) => {
            let k = child(*b)?;
            if !k.is_integer() {
                return None;
            }
            let base = child(*a)?;
            let k = k.numer().to_i64()?;
            let bits = (base.numer().bits() + base.denom().bits()).max(1);
            if bits.saturating_mul(k.unsigned_abs()) > MAX_CONST_BITS || (base.is_zero() && k < 0) {
                return None;
            }
            let p = num_traits::pow::Pow::pow(&base, k.unsigned_abs() as u32);
            if k < 0 {
                if p.is_zero() {
                    return None;
                }
                num_rational::BigRational::from_integer(1.into()) / p
            } else {
                p
            }
        }
        _ => return None,
    };
    let _ = q.is_negative();
    small(&q).then_some(q)
}

/// The terms of the chain of `+`, `−` and unary `−` rooted at `id`, with their signs.
fn linear_terms(e: &Expr, id: Id, positive: bool, out: &mut Vec<(bool, Id)>) {
    let mut stack = vec![(positive, id)];
    while let Some((p, i)) = stack.pop() {
        match &e[i] {
            Math::Add([a, b]) => {
                stack.push((p, *b));
                stack.push((p, *a));
            }
            Math::Sub([a, b]) => {
                stack.push((!p, *b));
                stack.push((p, *a));
            }
            Math::Neg(a) => stack.push((!p, *a)),
            _ => out.push((p, i)),
        }
    }
}

/// A one-dimensional integral with its absolute integral and error estimate.
struct Quad {
    integral: f64,
    abs_integral: f64,
    error: f64,
}

const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
const WGK: [f64; 8] = [
    0.022_935_322_010_529_225,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_18,
    0.140_653_259_715_525_92,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_83,
];
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// Gauss–Kronrod 7/15 on [a, b]: (Kronrod value, |value| integral, |Kronrod − Gauss|).
fn gk15(f: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> Result<(f64, f64, f64), String> {
    let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
    let (mut k, mut g, mut abs) = (0.0, 0.0, 0.0);
    for (i, x) in XGK.iter().enumerate() {
        let pts: &[f64] = if *x == 0.0 { &[0.0] } else { &[-1.0, 1.0] };
        for sgn in pts {
            let t = c + sgn * h * x;
            let y = f(t);
            if !y.is_finite() {
                return Err(format!("the integrand is not finite at {t:.6e}"));
            }
            k += WGK[i] * y;
            abs += WGK[i] * y.abs();
            if i % 2 == 1 {
                g += WG[i / 2] * y;
            }
        }
    }
    Ok((k * h, abs * h.abs(), ((k - g) * h).abs()))
}

/// Subintervals the adaptive quadrature may use before it calls the integral divergent.
const GK_MAX_INTERVALS: usize = 2000;

/// Adaptive Gauss–Kronrod over the consecutive intervals of `cuts`, bisecting the interval with
/// the largest error estimate until the total estimate is ≤ 1e-14 of ∫|f|. Fails (no
/// convergence: a singular or divergent integrand) when the estimate is still above 1e-10 of ∫|f|
/// after [`GK_MAX_INTERVALS`] subintervals.
fn adaptive_gk(f: &mut impl FnMut(f64) -> f64, cuts: &[f64]) -> Result<Quad, String> {
    let mut parts: Vec<(f64, f64, f64, f64, f64)> = vec![];
    for w in cuts.windows(2) {
        let (v, abs, err) = gk15(f, w[0], w[1])?;
        parts.push((w[0], w[1], v, abs, err));
    }
    loop {
        let total_abs: f64 = parts.iter().map(|p| p.3).sum();
        let total_err: f64 = parts.iter().map(|p| p.4).sum();
        let done = total_err <= 1e-14 * total_abs || total_err < 1e-300;
        if done || parts.len() >= GK_MAX_INTERVALS {
            if !done && total_err > 1e-10 * total_abs {
                return Err(format!(
                    "the integral does not converge (error estimate {total_err:.1e} of {total_abs:.1e} after {} subintervals): divergent or undefined",
                    parts.len()
                ));
            }
            return Ok(Quad {
                integral: parts.iter().map(|p| p.2).sum(),
                abs_integral: total_abs,
                error: total_err,
            });
        }
        let (i, _) = parts
            .iter()
            .enumerate()
            .max_by(|x, y| x.1 .4.total_cmp(&y.1 .4))
            .expect("non-empty");
        let (a, b, ..) = parts.swap_remove(i);
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            return Err(
                "the integrand is singular (the subdivision reached f64 resolution)".into(),
            );
        }
        for (x, y) in [(a, m), (m, b)] {
            let (v, abs, err) = gk15(f, x, y)?;
            parts.push((x, y, v, abs, err));
        }
    }
}

/// The nodes of the subterm rooted at `id`.
/// Is the node a sum, an integral, an expectation or gauss(…): one whose value costs a sum's
/// terms, a quadrature or samples?
/// The subterms of `root` (not inside a sum, integral, expectation or gauss) that a function
/// may amplify into a narrow feature where they peak: the arguments of every node other than
/// +, −, negation and products, the denominators of quotients, and the bases of powers of
/// degree above [`STEEP_POWER`] (1e10·sin s in exp(1e10·sin s), sin s in sin(s)^(10¹²)). A
/// subterm that is only added or multiplied is no narrower than its parts where it peaks (the
/// extremum of sin s in a·sin s is no feature), so quadratures cut at the extrema of these only.
pub(crate) fn amplified_subterms(e: &Expr, root: Id) -> Vec<Id> {
    let mut out = vec![];
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        let node = &e[i];
        if is_heavy(node) {
            continue;
        }
        let children = egg::Language::children(node);
        match node {
            Math::Add(_) | Math::Sub(_) | Math::Neg(_) | Math::Mul(_) => {}
            Math::Div([_, b]) => out.push(*b),
            Math::Pow([a, k]) => {
                let steep = match &e[*k] {
                    Math::Num(c) => c.to_f64().abs() > STEEP_POWER,
                    _ => true,
                };
                if steep {
                    out.push(*a);
                }
                out.push(*k);
            }
            _ => out.extend(children.iter().copied()),
        }
        stack.extend(children.iter().copied());
    }
    out.sort();
    out.dedup();
    out
}

/// The subterms of `root` that shape a feature where they vanish or peak: the
/// [`amplified_subterms`] (arguments of functions, denominators, exponents, bases of steep
/// powers) and the bases of powers whose exponent is not a non-negative integer ((s − c)^(1/3)
/// has a vertical tangent at c, (s − c)^(−2) a pole). Not the body itself, nor the terms of a
/// sum or the factors of a product, unless a function takes them.
pub(crate) fn shaping_subterms(e: &Expr, root: Id) -> Vec<Id> {
    let mut out = amplified_subterms(e, root);
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        let node = &e[i];
        if is_heavy(node) {
            continue;
        }
        if let Math::Pow([a, k]) = node {
            let polynomial = match &e[*k] {
                Math::Num(c) => {
                    let c = c.to_f64();
                    c >= 0.0 && c.fract() == 0.0
                }
                _ => false,
            };
            if !polynomial {
                out.push(*a);
            }
        }
        stack.extend(egg::Language::children(node).iter().copied());
    }
    out.sort();
    out.dedup();
    out
}

/// How far the one-entry quadrature searches for features: the density at 38.5 standard
/// deviations is 1.4e-322, below which f64 holds nothing (even 1.8e308 times the tail beyond is
/// 3e-16).
const FAR_END: f64 = 38.5;

/// Does the node bind a name or average over randomness (a sum, integral, gauss(…), E[…] or
/// derivative)? Inside it, an entry's meaning depends on what it binds.
fn binds_or_averages(n: &Math) -> bool {
    matches!(
        n,
        Math::Sum(_) | Math::Integral(_) | Math::Gauss(_) | Math::Expect(_) | Math::Deriv(_)
    )
}

pub(crate) fn is_heavy(n: &Math) -> bool {
    matches!(
        n,
        Math::Sum(_) | Math::Integral(_) | Math::Expect(_) | Math::Gauss(_)
    )
}

fn subterm_nodes(e: &Expr, id: Id) -> impl Iterator<Item = &Math> {
    let mut stack = vec![id];
    let mut out = vec![];
    while let Some(i) = stack.pop() {
        out.push(&e[i]);
        stack.extend(egg::Language::children(&e[i]).iter().copied());
    }
    out.into_iter()
}

/// The expectation of a polynomial in i.i.d. N(0,1) entries (moments (k−1)!!).
/// The expectation of a polynomial: its value, its rounding scale (Σ scaleᵢ·|momentᵢ|) and its
/// mass (Σ |coefficientᵢ·momentᵢ|, what a quotient by an inexact constant scales).
#[derive(Debug, Clone, Copy, Default)]
struct Moment {
    value: f64,
    scale: f64,
    mass: f64,
    /// The error estimate its deterministic factors carry (0 for exact moments).
    stderr: f64,
}

impl Moment {
    fn value(self) -> Value {
        Value {
            value: self.value,
            scale: self.scale,
            stderr: self.stderr,
        }
    }
}

fn moments_of(p: &RPoly) -> Result<Moment, EvalError> {
    let mut out = Moment::default();
    for (m, (c, s)) in &p.0 {
        let moment: f64 = m.iter().map(|(_, k)| gaussian_moment(*k)).product();
        if !moment.is_finite() {
            return Err(EvalError::Unsupported(
                "a Gaussian moment beyond f64's range".into(),
            ));
        }
        out.value += c * moment;
        out.scale += s * moment.abs();
        out.mass += (c * moment).abs();
    }
    Ok(out)
}

enum PolyError {
    NotPolynomial,
    Eval(EvalError),
}

impl From<EvalError> for PolyError {
    fn from(e: EvalError) -> Self {
        PolyError::Eval(e)
    }
}

fn constant(p: &RPoly) -> Option<(f64, f64)> {
    match p.0.len() {
        0 => Some((0.0, 0.0)),
        1 => p.0.get(&vec![]).copied(),
        _ => None,
    }
}

fn add(mut x: RPoly, mut y: RPoly) -> RPoly {
    // Into the larger of the two (a sum's terms are added one by one to a growing total).
    if x.0.len() < y.0.len() {
        std::mem::swap(&mut x, &mut y);
    }
    for (m, (c, s)) in y.0 {
        let e = x.0.entry(m).or_insert((0.0, 0.0));
        e.0 += c;
        e.1 += s;
    }
    x
}

/// [`mul`] of owned polynomials: a constant factor scales the other's coefficients in place.
fn mul_owned(mut x: RPoly, mut y: RPoly) -> RPoly {
    if constant(&x).is_some() {
        std::mem::swap(&mut x, &mut y);
    }
    match constant(&y) {
        Some(_) if y.0.is_empty() => RPoly::default(),
        Some((c2, s2)) => {
            for (c1, s1) in x.0.values_mut() {
                *c1 *= c2;
                *s1 *= s2;
            }
            x
        }
        None => mul(&x, &y),
    }
}

fn mul(x: &RPoly, y: &RPoly) -> RPoly {
    // A constant factor scales the other's coefficients (the same products as below, without
    // rebuilding the monomials).
    for (p, q) in [(x, y), (y, x)] {
        if q.0.is_empty() {
            return RPoly::default();
        }
        if let Some((c2, s2)) = constant(q) {
            return RPoly(
                p.0.iter()
                    .map(|(m, (c1, s1))| (m.clone(), (c1 * c2, s1 * s2)))
                    .collect(),
            );
        }
    }
    let mut out = RPoly::default();
    for (m1, (c1, s1)) in &x.0 {
        for (m2, (c2, s2)) in &y.0 {
            // Merge the two sorted monomials.
            let mut m = Vec::with_capacity(m1.len() + m2.len());
            let (mut p, mut q) = (0, 0);
            while p < m1.len() || q < m2.len() {
                match (m1.get(p), m2.get(q)) {
                    (Some(a), Some(b)) if a.0 == b.0 => {
                        m.push((a.0, a.1 + b.1));
                        p += 1;
                        q += 1;
                    }
                    (Some(a), Some(b)) if a.0 < b.0 => {
                        m.push(*a);
                        p += 1;
                    }
                    (Some(a), None) => {
                        m.push(*a);
                        p += 1;
                    }
                    (_, Some(b)) => {
                        m.push(*b);
                        q += 1;
                    }
                    (None, None) => unreachable!(),
                }
            }
            let e = out.0.entry(m).or_insert((0.0, 0.0));
            e.0 += c1 * c2;
            e.1 += s1 * s2;
        }
    }
    out
}

/// A quadrature's subterm whose zeros cannot all be cut at ([`quadrature_cuts`]): the
/// quadrature has no value at this point.
fn unresolved(e: &Expr, id: Id, why: Unresolved) -> EvalError {
    EvalError::Unsupported(format!(
        "the subterm {} {why}: a narrow feature at each would not be resolved",
        crate::expr::text_at(e, id)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_underflowed_zero_is_rounding_not_an_exact_zero() {
        // 1e-200·1e-200 and 1/1e308/1e308 are 0 in f64 but not in truth: a scale says so.
        let tiny = Value::exact(1e-200);
        assert_eq!(product(tiny, tiny).value, 0.0);
        assert!(product(tiny, tiny).scale > 0.0);
        // A quotient by an overflow has no value: ∞ may have come through a function that
        // shrinks its argument (√(a⁴) at a = 5·10⁷⁷ is 2.3·10¹⁵⁵, not ∞).
        let huge = Value::exact(1e308);
        assert!(quotient(Value::exact(1.0), product(huge, huge))
            .value
            .is_nan());
        assert!(quotient(Value::exact(1.0), Value::exact(1e308)).value > 0.0);
        assert!(power(Value::exact(10.0), Value::exact(-400.0)).scale > 0.0);
        // An exact 0 stays exact.
        assert_eq!(product(Value::exact(0.0), tiny).scale, 0.0);
        let e = crate::expr::parse("exp(-a^2)").unwrap();
        let mut env = Env::default();
        env.scalars.insert(Symbol::from("a"), 40.0);
        let v = Evaluator::new(&env).eval(&e).unwrap();
        assert!(v.value == 0.0 && v.scale > 0.0, "{v:?}");
    }

    /// The memo of gauss(…; f(u)·g(v)) keeps each result under its two functions (in order)
    /// and the covariance's entries: other functions or swapped factors at the same covariance
    /// are other results, and a kept result is the one a fresh quadrature gives, node count
    /// included.
    /// A kept constant table belongs to its expression alone: expressions that differ only in a
    /// number (1/3 against 2/3, 10²⁰ against 10²⁰ + 1) get their own tables, in either order.
    #[test]
    fn kept_constant_tables_are_keyed_by_every_number() {
        let pairs = [
            ("x + 1/3", "x + 2/3"),
            ("1e20 + 1", "100000000000000000001 - 1"),
        ];
        for (a, b) in pairs {
            let (ea, eb) = (
                crate::expr::parse(a).unwrap(),
                crate::expr::parse(b).unwrap(),
            );
            assert!(!same_nodes(&ea, &eb), "{a} / {b}");
            for (first, second) in [(&ea, &eb), (&eb, &ea)] {
                let _ = ConstantTable::kept(first);
                let kept = ConstantTable::kept(second);
                let fresh = ConstantTable::of(second);
                assert_eq!(kept.exact, fresh.exact, "{a} / {b}");
            }
        }
        let e = crate::expr::parse("x + 1/3").unwrap();
        assert!(same_nodes(&e, &crate::expr::parse("x + 1/3").unwrap()));
    }

    #[test]
    fn memoised_expectations_are_keyed_by_their_functions_and_covariance() {
        let env = Env::default();
        let value = |src: &str| {
            let e = crate::expr::parse(src).unwrap();
            Evaluator::new(&env).eval(&e).unwrap().value
        };
        let rho: f64 = 0.5;
        let arccos1 = ((1.0 - rho * rho).sqrt() + (std::f64::consts::PI - rho.pacos()) * rho)
            / (2.0 * std::f64::consts::PI);
        let relu = value("gauss(1, 1/2, 1; relu(u)*relu(v))");
        assert!((relu - arccos1).abs() < 1e-13, "{relu}");
        // Kept: the same value again, and 50 times in a sum.
        assert_eq!(value("gauss(1, 1/2, 1; relu(u)*relu(v))"), relu);
        let fifty = value("sum(k in 1..50, gauss(1, 1/2, 1; relu(u)*relu(v)))");
        assert!((fifty - 50.0 * arccos1).abs() < 1e-11, "{fifty}");
        // Other functions at the same covariance: E[step(u)step(v)] = 1/4 + asin(ρ)/(2π).
        let step = value("gauss(1, 1/2, 1; step(u)*step(v))");
        assert!((step - (0.25 + rho.pasin() / (2.0 * std::f64::consts::PI))).abs() < 1e-13);
        // Factors in the other order, at a covariance with s11 ≠ s22: other results.
        let a = value("gauss(1, 1/2, 4; relu(u)*exp(v))");
        let b = value("gauss(1, 1/2, 4; exp(u)*relu(v))");
        assert!((a - b).abs() > 1e-3, "{a} {b}");
        // A different covariance entry (s22) is another result.
        let other = value("gauss(1, 1/2, 2; relu(u)*relu(v))");
        assert!((other - relu).abs() > 1e-3);
        // Compiled bodies are kept by their instructions, constants included (Stein: E[u·erf(cu)]
        // = (2/√π)·c/√(1 + 2c²)).
        let stein = |c: f64| 2.0 / std::f64::consts::PI.sqrt() * c / (1.0 + 2.0 * c * c).sqrt();
        // (A factor outside erf leaves the form alone: only the instructions tell them apart.)
        for (src, want) in [
            ("gauss(1, 0, 1; u*erf(3*u))", stein(3.0)),
            ("gauss(1, 0, 1; u*erf(u)*3)", 3.0 * stein(1.0)),
            ("gauss(1, 0, 1; u*erf(u)*2)", 2.0 * stein(1.0)),
            ("gauss(1, 0, 1; u*erf(3*u))", stein(3.0)),
        ] {
            let v = value(src);
            assert!((v - want).abs() < 1e-13, "{src}: {v} against {want}");
        }
    }

    /// dφ is the derivative where it exists: at the kink of relu a point has no value (with
    /// step(0) = 0 the proved d/dt(φ(t) − φ(−t)) = dφ(t) + dφ(−t) was false at t = 0), beside
    /// it the slope; inside an integral the kink is a null set.
    #[test]
    fn dphi_has_no_value_at_a_kink_outside_integrands() {
        let mut env = Env {
            phi: Some(crate::numeric::activation::Activation::Relu),
            ..Env::default()
        };
        let e = crate::expr::parse("dphi(t)").unwrap();
        env.scalars.insert(Symbol::from("t"), 0.0);
        let at_kink = Evaluator::new(&env).eval(&e);
        assert!(
            matches!(at_kink, Err(EvalError::OutOfDomain(_))),
            "{at_kink:?}"
        );
        env.scalars.insert(Symbol::from("t"), 0.5);
        assert_eq!(Evaluator::new(&env).eval(&e).unwrap().value, 1.0);
        let i = crate::expr::parse("integral(s in -1..1, dphi(s))").unwrap();
        let v = Evaluator::new(&env).eval(&i).unwrap();
        assert!((v.value - 1.0).abs() < 1e-12, "{v:?}");
    }

    fn env() -> Env {
        let mut env = Env {
            random: vec![Symbol::from("w"), Symbol::from("z")],
            seed: 7,
            mc_samples: 20_000,
            ..Env::default()
        };
        env.scalars.insert(Symbol::from("n"), 3.0);
        env.scalars.insert(Symbol::from("i"), 2.0);
        env
    }

    fn eval(s: &str) -> Value {
        let e: Expr = s.parse().unwrap();
        Evaluator::new(&env()).eval(&e).unwrap()
    }

    /// d/dρ of the arc-cosine kernel through the evaluator, ρ declared in -1..1: near the edge a
    /// stencil inside the interval; at the edge (not smooth there) an error, not a number.
    #[test]
    fn derivatives_stay_inside_the_declared_interval() {
        let lhs =
            crate::expr::parse("d/drho((sqrt(1 - rho^2) + (pi - acos(rho))*rho)/(2*pi))").unwrap();
        let pi = std::f64::consts::PI;
        let rho = Symbol::from("rho");
        let mut env = env();
        env.domains.insert(rho, (-1.0, 1.0));
        for r in [0.3, 0.999, -0.999, 0.99999] {
            env.scalars.insert(rho, r);
            let v = Evaluator::new(&env).eval(&lhs).unwrap();
            let want = (pi - r.pacos()) / (2.0 * pi);
            assert!(v.value.is_finite());
            assert!((v.value - want).abs() < 1e-9, "{r}: {v:?} vs {want}");
            assert!(
                (v.value - want).abs() <= v.stderr + super::super::tolerance::SCALE * v.scale,
                "{r}: {v:?} vs {want}"
            );
        }
        env.scalars.insert(rho, 1.0);
        let r = Evaluator::new(&env).eval(&lhs);
        assert!(matches!(r, Err(EvalError::Unsupported(_))), "{r:?}");
        // Outside the interval: out of the domain.
        env.scalars.insert(rho, 1.5);
        let r = Evaluator::new(&env).eval(&lhs);
        assert!(matches!(r, Err(EvalError::OutOfDomain(_))), "{r:?}");
    }

    /// A long sum is compensated: 10⁶ terms of 0.1 come to 10⁵ within a few ulps (naive
    /// summation drifts by ~10⁶·ε relative, past the tolerance's 10⁻¹²).
    #[test]
    fn long_sums_do_not_drift() {
        let mut env = env();
        env.scalars.insert(Symbol::from("x"), 0.1);
        let e: Expr = "(sum j 1 1000000 x)".parse().unwrap();
        let v = Evaluator::new(&env).eval(&e).unwrap();
        assert!((v.value - 1e5).abs() <= 4.0 * f64::EPSILON * 1e5, "{v:?}");
    }

    #[test]
    fn gaussian_moments_are_exact() {
        assert_eq!(eval("(E (^ z 4))").value, 3.0);
        assert_eq!(eval("(E (* (idx w i 1) (idx w i 2)))").value, 0.0);
        assert_eq!(eval("(E (* (idx w i 1) (idx w i 1)))").value, 1.0);
        // E[(Σ_j w_j)^2] = n
        assert_eq!(eval("(E (^ (sum j 1 n (idx w i j)) 2))").value, 3.0);
    }

    #[test]
    fn one_dimensional_expectations_use_quadrature() {
        // E[relu(z)] = 1/√(2π) ≈ 0.39894, to ~1e-14 (Monte Carlo could not tell it from 0.41).
        let v = eval("(E (relu z))");
        assert_eq!(v.stderr, 0.0);
        assert!((v.value - 0.398_942_280_401_432_7).abs() < 1e-14, "{v:?}");
        // A kink away from 0: E[relu(z − 3)] = φ(3) − 3(1 − Φ(3)).
        let v = eval("(E (relu (- z 3)))");
        assert!((v.value - 3.821_543_170_477_205e-4).abs() < 1e-17, "{v:?}");
    }

    #[test]
    fn non_polynomial_expectations_of_two_entries_use_the_bivariate_quadrature() {
        // E[relu(z)·relu(z + w[1])] = (1 + 3π/4)/(2π) (variances 1 and 2, correlation 1/√2: the
        // factors share z, so the product is not split); E[exp(0.2·w₁w₂)] = (1 − 0.04)^(−1/2).
        let v = eval("(E (* (relu z) (relu (+ z (idx w 1)))))");
        let pi = std::f64::consts::PI;
        assert_eq!(v.stderr, 0.0);
        assert!(
            (v.value - (1.0 + 0.75 * pi) / (2.0 * pi)).abs() < 1e-13,
            "{v:?}"
        );
        let v = eval("(E (exp (* 0.2 (* (idx w 1) (idx w 2)))))");
        assert!((v.value - 1.020_620_726_159_657_6).abs() < 1e-13, "{v:?}");
    }

    #[test]
    fn a_random_exponent_is_not_a_polynomial() {
        // E[z₁^(2·step(z₂) + 2)] = ½·E[z₁²] + ½·E[z₁⁴] = 2 (it was an error: the exponent was
        // evaluated outside the mean).
        let v = eval("(E (^ (idx w 1) (+ (* 2 (step (idx w 2))) 2)))");
        assert!((v.value - 2.0).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn non_polynomial_expectations_of_three_entries_use_two_linear_forms_or_monte_carlo() {
        // E[relu(z + w[1])·relu(w[1] + w[2])] = (√3/2 + π/3)/π (variances 2, correlation ½); the
        // factors share w[1], so the product is not split: two linear forms of three entries,
        // the bivariate quadrature.
        let v = eval("(E (* (relu (+ z (idx w 1))) (relu (+ (idx w 1) (idx w 2)))))");
        let pi = std::f64::consts::PI;
        let want = (3f64.sqrt() / 2.0 + pi / 3.0) / pi;
        assert_eq!(v.stderr, 0.0, "{v:?}");
        assert!((v.value - want).abs() < 1e-12, "{v:?}");
        // A third form (w₃ − w₁, in a step that is 0 but 70σ away): Monte Carlo.
        let v = eval(
            "(E (* (* (relu (+ z (idx w 1))) (relu (+ (idx w 1) (idx w 2)))) (+ 1 (step (- (- (idx w 3) (idx w 1)) 100)))))",
        );
        assert!(v.stderr > 0.0, "{v:?}");
        assert!((v.value - want).abs() < 5.0 * v.stderr, "{v:?}");
    }

    /// Independence: a product of factors over disjoint sets of i.i.d. entries is the product of
    /// their expectations, each by its own method. E[(1 + 10¹²·step(w₁ − 7))·(2 + cos(w₂w₃)/10)]
    /// = (2 + 1/(10√2))·(1 + 10¹²·Φ(−7)) = 4.7208; Monte Carlo over the three entries never
    /// samples w₁ > 7 and gave 2.07.
    #[test]
    fn a_product_over_independent_entries_is_factorised() {
        let v = eval(
            "(E (* (+ 1 (* 1000000000000 (step (- (idx w 1) 7)))) (+ 2 (/ (cos (* (idx w 2) (idx w 3))) 10))))",
        );
        let phi7 = 1.279_812_543_885_835e-12; // Φ(−7)
        let want = (2.0 + 0.1 / 2f64.sqrt()) * (1.0 + 1e12 * phi7);
        assert_eq!(v.stderr, 0.0, "{v:?}");
        assert!((v.value - want).abs() < 1e-9 * want, "{v:?} vs {want}");
        // Three one-entry quadratures: E[relu(z)·relu(w₁)·relu(w₂)] = (2π)^(−3/2) to ~1e-14.
        let v = eval("(E (* (relu z) (* (relu (idx w 1)) (relu (idx w 2)))))");
        let want = (2.0 * std::f64::consts::PI).ppowf(-1.5);
        assert_eq!(v.stderr, 0.0, "{v:?}");
        assert!((v.value - want).abs() < 1e-14, "{v:?} vs {want}");
        // A product to a power: E[(w₁·relu(w₂)·relu(w₃))²] = 1·½·½.
        let v = eval("(E (^ (* (idx w 1) (* (relu (idx w 2)) (relu (idx w 3)))) 2))");
        assert_eq!(v.stderr, 0.0, "{v:?}");
        assert!((v.value - 0.25).abs() < 1e-14, "{v:?}");
        // A deterministic factor and two quadratures, one of them over a group of three entries
        // that share one relu (one linear form): E[n·relu(w₁)·relu(w₂ + w₃ + w₄)] =
        // 3·(1/√(2π))·(√3/√(2π)).
        let v = eval("(E (* n (* (relu (idx w 1)) (relu (+ (idx w 2) (+ (idx w 3) (idx w 4)))))))");
        let group = eval("(E (relu (+ (idx w 2) (+ (idx w 3) (idx w 4)))))");
        let want = 3.0 * 3f64.sqrt() / (2.0 * std::f64::consts::PI);
        assert_eq!(group.stderr, 0.0, "{group:?}");
        let factor = 3.0 * 0.398_942_280_401_432_7;
        assert!((v.value - factor * group.value).abs() < 1e-12, "{v:?}");
        assert!((v.value - want).abs() < 1e-12 * want, "{v:?} vs {want}");
    }

    /// Factors that share entries are one group, and the entries of a correlated vector, z = F·ξ
    /// (each a sum over the same ξ, as the loader writes `gaussian vector n cov S`), are not
    /// independent: such products are not split (Monte Carlo over all their entries).
    #[test]
    fn a_product_over_shared_or_correlated_entries_is_not_factorised() {
        // z₁ = w₁ + w₂, z₂ = w₂ + w₃, z₃ = w₃ + w₁: E[relu(z₁)relu(z₂)relu(z₃)] ≈ 0.905, not the
        // product of the means, π^(−3/2) = 0.180.
        let v = eval(
            "(E (* (relu (+ (idx w 1) (idx w 2))) (* (relu (+ (idx w 2) (idx w 3))) (relu (+ (idx w 3) (idx w 1))))))",
        );
        assert!(v.stderr > 0.0, "{v:?}");
        assert!((v.value - 0.905).abs() < 5.0 * v.stderr + 0.01, "{v:?}");
        // zᵢ = Σₖ (1 + δᵢₖ)·wₖ, correlation 5/6: E[Π relu(zᵢ)] ≈ 9.03, the product of the
        // means 0.933.
        let z = |i: u32| format!("(sum k 1 3 (* (+ 1 (delta {i} k)) (idx w k)))");
        let v = eval(&format!(
            "(E (* (relu {}) (* (relu {}) (relu {}))))",
            z(1),
            z(2),
            z(3)
        ));
        let means: f64 = (1..=3)
            .map(|i| eval(&format!("(E (relu {}))", z(i))).value)
            .product();
        assert!(v.stderr > 0.0, "{v:?}");
        assert!(
            (v.value - means).abs() > 20.0 * v.stderr,
            "{v:?} vs {means}"
        );
        assert!((v.value - 9.03).abs() < 5.0 * v.stderr + 0.05, "{v:?}");
    }

    /// The standard error of a product of independent estimates is exact to second order: two
    /// factors 0 ± 1 give 0 ± 1 (the first order alone says 0 ± 0), and the squares do not
    /// overflow.
    #[test]
    fn the_error_of_a_product_of_independent_estimates() {
        let x = |value: f64, stderr: f64| Value {
            value,
            scale: value.abs(),
            stderr,
        };
        let v = independent_product(&[x(0.0, 1.0), x(0.0, 1.0)]);
        assert_eq!((v.value, v.stderr), (0.0, 1.0));
        let v = independent_product(&[x(2.0, 0.1), x(3.0, 0.2)]);
        let want = (0.09f64 + 0.16 + 0.0004).sqrt();
        assert!(
            (v.value - 6.0).abs() < 1e-15 && (v.stderr - want).abs() < 1e-15,
            "{v:?}"
        );
        let v = independent_product(&[x(1e160, 1e150), x(1e-160, 0.0), Value::exact(1.0)]);
        assert!((v.stderr - 1e-10).abs() < 1e-24, "{v:?}");
        // An exact 0 makes an exact 0.
        let v = independent_product(&[Value::exact(0.0), x(2.0, 0.1)]);
        assert_eq!((v.value, v.scale, v.stderr), (0.0, 0.0, 0.0));
    }

    #[test]
    fn gaussian_moments_of_every_degree() {
        assert_eq!(eval("(E (* (^ z 4) (^ z 6)))").value, 945.0);
        assert_eq!(eval("(E (^ z 21))").value, 0.0);
        assert_eq!(eval("(E (^ z 20))").value, 654_729_075.0);
        assert_eq!(gaussian_moment(60), 2.921_560_637_147_317e40);
        assert_eq!(gaussian_moment(59), 0.0);
    }

    #[test]
    fn divergent_expectations_are_errors() {
        for t in [
            "(E (^ z (- 0 2)))",
            "(E (/ 1 z))",
            "(E (/ (idx w 1) (idx w 2)))",
            "(E (exp (* z z)))",
        ] {
            let e: Expr = t.parse().unwrap();
            let r = Evaluator::new(&env()).eval(&e);
            assert!(matches!(r, Err(EvalError::Divergent(_))), "{t}: {r:?}");
        }
    }

    /// An entry outside a declared shape is not a number: x[n + 1] of a vector of n entries is
    /// an error naming the ranges, inside a sum, an expectation or a derivative alike.
    #[test]
    fn entries_outside_a_declared_shape_are_not_numbers() {
        let mut env = env();
        env.shapes.insert(Symbol::from("x"), vec![3]);
        env.shapes.insert(Symbol::from("W"), vec![3, 2]);
        env.shapes.insert(Symbol::from("w"), vec![3]);
        let ok = |s: &str| Evaluator::new(&env).eval(&s.parse().unwrap()).is_ok();
        let err = |s: &str| match Evaluator::new(&env).eval(&s.parse().unwrap()) {
            Err(EvalError::OutOfDomain(m)) => m,
            other => panic!("{s}: {other:?}"),
        };
        assert!(ok("(sum j 1 n (idx x j))"));
        assert!(ok("(idx x 3 1)"));
        assert!(ok("(idx W 3 2)"));
        assert!(err("(sum j 1 (+ n 1) (idx x j))").contains("x[4] is not an entry of x"));
        assert!(err("(idx W 2 3)").contains("1..3 x 1..2"));
        assert!(err("(idx x 0)").contains("x[0]"));
        assert!(err("(E (idx w 4))").contains("w[4]"));
        assert!(err("(d (idx x 4) (idx x 1))").contains("x[4]"));
        // An array with no declared shape keeps its seeded entries.
        assert!(ok("(idx y 17)"));
    }

    #[test]
    fn sums_are_exact_on_empty_and_huge_ranges() {
        assert_eq!(eval("(sum j 3 1 (phi 0))").value, 0.0);
        let e: Expr = "(sum j -9223372036854775807 9223372036854775807 1)"
            .parse()
            .unwrap();
        assert!(matches!(
            Evaluator::new(&env()).eval(&e),
            Err(EvalError::Budget(_))
        ));
        let e: Expr = "(sum i 1 99999 (sum j 1 99999 1))".parse().unwrap();
        assert!(matches!(
            Evaluator::new(&env()).eval(&e),
            Err(EvalError::Budget(_))
        ));
        assert_eq!(eval("(sum j 1 200000 1)").value, 200000.0);
        // The bound index shadows the random symbol z.
        assert_eq!(eval("(E (sum z 1 n z))").value, 6.0);
    }

    /// Factors of a sum's body free of its index are evaluated once: the value is the sum's,
    /// an empty range never evaluates them, a factor mentioning the index (or shadowing it) is
    /// not taken out, and the budget is charged as if every term evaluated them.
    #[test]
    fn invariant_factors_of_a_sum_are_evaluated_once() {
        // Σ_{k=1..n} (i+1)·k·(i−1) = 3·6·1 at n = 3, i = 2.
        assert_eq!(eval("(sum k 1 n (* (* (+ i 1) k) (- i 1)))").value, 18.0);
        // Σ_j (Σ_{j=1..2} j)·j over j = 1..3: the inner sum binds j again, so it is 3 in every
        // term and the outer sum is 3·6.
        assert_eq!(eval("(sum j 1 3 (* (sum j 1 2 j) j))").value, 18.0);
        // An empty range is 0 without evaluating a factor that is undefined here.
        assert_eq!(eval("(sum k 1 0 (* (log (- 0 i)) k))").value, 0.0);
        // A non-empty one evaluates it (log of a negative number is not a number).
        assert!(!eval("(sum k 1 n (* (log (- 0 i)) k))").value.is_finite());
        // 1,000 terms, each with a factor of 1,000 terms: over the budget of 10^6, as unhoisted.
        let e: Expr = "(sum k 1 1000 (* (sum j 1 1000 j) k))".parse().unwrap();
        assert!(matches!(
            Evaluator::new(&env()).eval(&e),
            Err(EvalError::Budget(_))
        ));
        let e: Expr = "(sum k 1 999 (* (sum j 1 999 j) k))".parse().unwrap();
        assert_eq!(
            Evaluator::new(&env()).eval(&e).unwrap().value,
            (999.0 * 1000.0 / 2.0) * (999.0 * 1000.0 / 2.0)
        );
        // ... whose 999,000 terms leave no room for 5,000 more.
        let e: Expr = "(+ (sum k 1 999 (* (sum j 1 999 j) k)) (sum m 1 5000 m))"
            .parse()
            .unwrap();
        assert!(matches!(
            Evaluator::new(&env()).eval(&e),
            Err(EvalError::Budget(_))
        ));
    }

    #[test]
    fn cancelling_constants_do_not_raise_the_scale() {
        let mut env = env();
        env.scalars.insert(Symbol::from("a"), 0.7);
        let e: Expr = "(- (+ a (^ 10 20)) (^ 10 20))".parse().unwrap();
        let v = Evaluator::new(&env).eval(&e).unwrap();
        assert_eq!(v.value, 0.7);
        assert!(v.scale < 1.0, "{v:?}");
    }

    #[test]
    fn mixture_samples_follow_the_shares() {
        // Of every ten samples, as many at each scale as its share in tenths (a share changed in
        // MC_MIXTURE without the sampler would weight samples by the wrong density).
        for (share, s) in MC_MIXTURE {
            let count = (0..1000).filter(|k| mixture_scale(*k) == s).count();
            assert_eq!(count, (1000.0 * share).round() as usize, "scale {s}");
        }
        let total: f64 = MC_MIXTURE.iter().map(|c| c.0).sum();
        assert!((total - 1.0).abs() < 1e-12, "shares sum to {total}");
    }

    #[test]
    fn top_share_separates_finite_from_infinite_variance() {
        let draw = |f: &dyn Fn(f64, f64) -> f64| -> f64 {
            let v: Vec<f64> = (0..20_000u64)
                .map(|k| {
                    let a = keyed_normal(&(Symbol::from("a"), vec![]), k, 3);
                    let b = keyed_normal(&(Symbol::from("b"), vec![]), k, 3);
                    f(a, b)
                })
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            top_share(&v, mean)
        };
        let relu = |x: f64| x.max(0.0);
        let finite = [
            draw(&|a, b| a * b),
            draw(&|a, _| a * a),
            draw(&|a, b| relu(a) * relu(0.99 * a + 0.141 * b)),
            draw(&|a, b| a * a * b * b),
            // rare: ~1.5% of the samples non-zero
            draw(&|a, b| relu(a) * relu(-0.99 * a + 0.141 * b)),
        ];
        let infinite = [draw(&|a, b| a / b), draw(&|a, _| 1.0 / (a * a))];
        eprintln!("finite {finite:?} infinite {infinite:?}");
        assert!(finite.iter().all(|a| *a < MC_MAX_TOP_SHARE), "{finite:?}");
        assert!(
            infinite.iter().all(|a| *a > MC_MAX_TOP_SHARE),
            "{infinite:?}"
        );
    }

    #[test]
    fn random_outside_expectation_is_an_error() {
        let e: Expr = "(+ z 1)".parse().unwrap();
        assert!(matches!(
            Evaluator::new(&env()).eval(&e),
            Err(EvalError::RandomOutsideExpectation(_))
        ));
    }

    fn matrix_env() -> Env {
        let mut env = env();
        env.matrices = ["A", "B", "C"].into_iter().map(Symbol::from).collect();
        env
    }

    /// Unsized matrices are general MATRIX_DIM × MATRIX_DIM matrices: not symmetric, and not in
    /// a dimension where KLKK = KKLK holds for the commutators (it does for symmetric 3 × 3).
    #[test]
    fn unsized_matrices_are_general() {
        const { assert!(MATRIX_DIM >= 4) };
        let env = matrix_env();
        let a: Expr = "A".parse().unwrap();
        let (m, _, _) = Evaluator::new(&env).eval_matrix(&a).unwrap();
        assert_eq!(m.shape(), (MATRIX_DIM, MATRIX_DIM));
        assert!((&m - m.transpose()).amax() > 0.1, "symmetric:\n{m}");
        let side = |s: &str| {
            let e = crate::expr::parse(&s.replace('K', "(A@B - B@A)").replace('L', "(A@C - C@A)"))
                .unwrap();
            Evaluator::new(&env).eval(&e).unwrap()
        };
        let c = crate::numeric::tolerance::compare(side("K@L@K@K"), side("K@K@L@K"), 1);
        assert!(c.diff > c.tol, "{c:?}");
    }

    /// The rounding allowance of a product of matrices follows the entries' magnitudes through
    /// the product: a wrong factor 1 + 1e-6 on a product of seven 5 × 5 matrices is seen (with
    /// one magnitude for a whole matrix it passed at 1 + 1e-3).
    #[test]
    fn a_long_matrix_product_has_a_tight_allowance() {
        let env = matrix_env();
        let side = |s: &str| {
            let e = crate::expr::parse(s).unwrap();
            Evaluator::new(&env).eval(&e).unwrap()
        };
        let k = "(A@B - B@A)";
        let l = "(A@C - C@A)";
        let prod = format!("{k}@{l}@{k}@{k}");
        let exact = side(&prod);
        let c = crate::numeric::tolerance::compare(exact, side(&format!("(1 + 1e-6)*({prod})")), 1);
        assert!(c.diff > c.tol, "{c:?}");
        // And the same product computed another way agrees within it.
        let other = format!("({k}@{l})@({k}@{k})");
        let c = crate::numeric::tolerance::compare(exact, side(&other), 1);
        assert!(c.diff <= c.tol, "{c:?}");
    }
}
