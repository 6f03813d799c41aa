//! Numeric evaluation of math terms at a point.
//!
//! Deterministic parts evaluate in `f64`, tracking a magnitude scale `S` (the value computed with
//! every term's absolute value) from which [`tolerance`](super::tolerance) derives a rounding
//! bound. Expectations `E[...]` are exact when their argument is a polynomial in the i.i.d.
//! N(0,1) entries (moments (k−1)!!), and seeded Monte Carlo with a standard error otherwise.

use egg::{Id, Symbol};
use std::collections::{BTreeMap, HashMap};

use super::activation::Activation;
use crate::expr::{Expr, Math};

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
    fn exact(v: f64) -> Value {
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
    NonIntegerIndex(f64),
    /// A sum range is too long to evaluate.
    #[error("sum over {0} terms is too long to evaluate")]
    SumTooLong(f64),
    /// Something the numeric side cannot evaluate.
    #[error("{0}")]
    Unsupported(String),
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
    /// Monte Carlo samples for expectations that are not polynomial.
    pub mc_samples: usize,
    /// Matrix-valued symbols (evaluated as seeded random symmetric matrices; `I` is the identity).
    pub matrices: Vec<Symbol>,
    /// Arrays with given entries (1-based: `h[1]` is `arrays[h][0]`), e.g. a sampled network's
    /// pre-activations; other arrays are deterministic pseudo-random entries.
    pub arrays: HashMap<Symbol, Vec<f64>>,
    /// Seed of the draws of the random symbols in [`Evaluator::eval_draw`], when it is not
    /// `seed` (a width study varies the draws and keeps the point's deterministic arrays).
    pub draw_seed: Option<u64>,
}

/// Dimension of the random matrices matrix symbols stand for.
pub const MATRIX_DIM: usize = 3;

type Matrix = nalgebra::DMatrix<f64>;

type RvKey = (Symbol, Vec<i64>);

/// A polynomial in random variables with f64 coefficients.
#[derive(Debug, Clone, Default)]
struct RPoly(BTreeMap<Vec<(usize, u32)>, (f64, f64)>); // monomial -> (coeff, scale)

/// The evaluator for one point.
pub struct Evaluator<'a> {
    env: &'a Env,
    rvs: Vec<RvKey>,
    rv_index: HashMap<RvKey, usize>,
    /// Bound index values (sum variables).
    bound: Vec<(Symbol, f64)>,
    /// The current Monte Carlo sample of random variables, if sampling.
    sample: Option<HashMap<RvKey, f64>>,
    rng: rand_pcg::Pcg64,
}

fn fnv(s: &str, seed: u64) -> u64 {
    let mut h = 0xcbf29ce484222325u64 ^ seed;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// The deterministic pseudo-random entry `name[indices]` at a point with `seed`: uniform in
/// [−2, 2], the same every run.
pub fn array_entry(name: Symbol, indices: &[i64], seed: u64) -> f64 {
    let mut h = fnv(name.as_str(), seed);
    for i in indices {
        h = splitmix(h ^ (*i as u64));
    }
    let u = (splitmix(h) >> 11) as f64 / (1u64 << 53) as f64;
    4.0 * u - 2.0
}

const DOUBLE_FACTORIAL: [f64; 9] = [1.0, 0.0, 1.0, 0.0, 3.0, 0.0, 15.0, 0.0, 105.0];

impl<'a> Evaluator<'a> {
    /// An evaluator at the point `env`.
    pub fn new(env: &'a Env) -> Self {
        use rand::SeedableRng;
        Evaluator {
            env,
            rvs: vec![],
            rv_index: HashMap::new(),
            bound: vec![],
            sample: None,
            rng: rand_pcg::Pcg64::seed_from_u64(env.draw_seed.unwrap_or(env.seed) ^ 0x5eed),
        }
    }

    /// Evaluate the whole term. A matrix-valued term M is reduced to the bilinear form uᵀMv
    /// with seeded random vectors u, v: two matrices are equal iff these agree for almost all u, v.
    pub fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        let root = Id::from(e.as_ref().len() - 1);
        if self.is_matrix(e, root) {
            let (m, scale, err) = self.matrix(e, root)?;
            let u = self.probe(1);
            let v = self.probe(2);
            let value = (u.transpose() * &m * &v)[(0, 0)];
            let norm = u.abs().sum() * v.abs().sum();
            return Ok(Value {
                value,
                scale: scale * norm,
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
        self.sample = Some(HashMap::new());
        let root = Id::from(e.as_ref().len() - 1);
        let v = self.value(e, root);
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
                (s.as_str() == "I" || self.env.matrices.contains(s)) && self.lookup(*s).is_err()
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

    /// Evaluate a matrix-valued subterm: (matrix, magnitude scale, error estimate).
    fn matrix(&mut self, e: &Expr, id: Id) -> Result<(Matrix, f64, f64), EvalError> {
        let n = MATRIX_DIM;
        if !self.is_matrix(e, id) {
            // A scalar where a matrix is expected: 0 is the zero matrix, c in mexp(c) handled there.
            let v = self.value(e, id)?;
            if v.value == 0.0 && v.stderr == 0.0 {
                return Ok((Matrix::zeros(n, n), 0.0, 0.0));
            }
            return Err(EvalError::Unsupported(
                "a scalar is added to a matrix (only 0 is allowed)".into(),
            ));
        }
        let norm = |m: &Matrix| m.abs().sum();
        Ok(match &e[id] {
            Math::Symbol(s) if s.as_str() == "I" => (Matrix::identity(n, n), n as f64, 0.0),
            Math::Symbol(s) => {
                let m = Matrix::from_fn(n, n, |i, j| {
                    let (a, b) = (i.min(j) as i64, i.max(j) as i64);
                    array_entry(*s, &[a, b], self.env.seed)
                });
                let sc = norm(&m);
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
                (
                    x / c.value,
                    (sx + nx * c.scale / d) / d,
                    (ex + nx * c.stderr / d) / d,
                )
            }
            Math::MatExp(a) => {
                let (x, sx, ex) = if self.is_matrix(e, *a) {
                    self.matrix(e, *a)?
                } else {
                    let c = self.value(e, *a)?;
                    (
                        Matrix::identity(n, n) * c.value,
                        c.scale * n as f64,
                        c.stderr,
                    )
                };
                let m = x.exp();
                let growth = sx.exp();
                (m, growth, ex * growth)
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

    fn is_random(&self, s: Symbol) -> bool {
        self.env.random.contains(&s)
    }

    fn lookup(&self, s: Symbol) -> Result<f64, EvalError> {
        if let Some((_, v)) = self.bound.iter().rev().find(|(b, _)| *b == s) {
            return Ok(*v);
        }
        if let Some(v) = self.env.scalars.get(&s) {
            return Ok(*v);
        }
        if s.as_str() == "pi" {
            return Ok(std::f64::consts::PI);
        }
        Err(EvalError::Unbound(s.to_string()))
    }

    fn index(&mut self, e: &Expr, id: Id) -> Result<i64, EvalError> {
        let v = self.value(e, id)?.value;
        let r = v.round();
        if (v - r).abs() > 1e-9 || !v.is_finite() {
            return Err(EvalError::NonIntegerIndex(v));
        }
        Ok(r as i64)
    }

    fn random_key(&mut self, e: &Expr, id: Id) -> Result<Option<RvKey>, EvalError> {
        match &e[id] {
            Math::Symbol(s) if self.is_random(*s) && self.lookup(*s).is_err() => {
                Ok(Some((*s, vec![])))
            }
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
                Ok(Some((s, idx)))
            }
            _ => Ok(None),
        }
    }

    fn sampled(&mut self, key: RvKey) -> f64 {
        use rand_distr::Distribution;
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
        let un = |this: &mut Self,
                  a: &Id,
                  f: fn(f64) -> f64,
                  df: fn(f64) -> f64|
         -> Result<Value, EvalError> {
            let x = this.value(e, *a)?;
            let v = f(x.value);
            let d = slope(f, df, x.value, x.scale);
            Ok(Value {
                value: v,
                scale: v.abs() + d * x.scale,
                stderr: d * x.stderr,
            })
        };
        Ok(match node {
            Math::Num(c) => Value::exact(c.to_f64()),
            Math::Symbol(s) => Value::exact(self.lookup(*s)?),
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                let v = if matches!(node, Math::Add(_)) {
                    x.value + y.value
                } else {
                    x.value - y.value
                };
                Value {
                    value: v,
                    scale: x.scale + y.scale,
                    stderr: x.stderr + y.stderr,
                }
            }
            Math::Mul([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                Value {
                    value: x.value * y.value,
                    scale: x.scale * y.scale,
                    stderr: x.value.abs() * y.stderr + y.value.abs() * x.stderr,
                }
            }
            Math::Div([a, b]) => {
                let (x, y) = (self.value(e, *a)?, self.value(e, *b)?);
                let v = x.value / y.value;
                Value {
                    value: v,
                    scale: (x.scale + v.abs() * y.scale) / y.value.abs(),
                    stderr: (x.stderr + v.abs() * y.stderr) / y.value.abs(),
                }
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
                let v = x.value.powf(y.value);
                let d = (y.value * x.value.powf(y.value - 1.0)).abs();
                // The exponent's own rounding matters only for a positive base.
                let via_exponent = if x.value > 0.0 {
                    (v * x.value.ln()).abs() * y.scale
                } else {
                    0.0
                };
                let d = if d.is_finite() { d } else { 0.0 };
                Value {
                    value: v,
                    scale: v.abs() + d * x.scale + via_exponent,
                    stderr: d * x.stderr,
                }
            }
            Math::Sqrt(a) => un(self, a, f64::sqrt, |x| 0.5 / x.sqrt())?,
            Math::Exp(a) => un(self, a, f64::exp, f64::exp)?,
            Math::Log(a) => un(self, a, f64::ln, |x| 1.0 / x)?,
            Math::Sin(a) => un(self, a, f64::sin, f64::cos)?,
            Math::Cos(a) => un(self, a, f64::cos, f64::sin)?,
            Math::Tan(a) => un(self, a, f64::tan, |x| 1.0 / (x.cos() * x.cos()))?,
            Math::Asin(a) => un(self, a, f64::asin, |x| 1.0 / (1.0 - x * x).sqrt())?,
            Math::Acos(a) => un(self, a, f64::acos, |x| 1.0 / (1.0 - x * x).sqrt())?,
            Math::Atan(a) => un(self, a, f64::atan, |x| 1.0 / (1.0 + x * x))?,
            Math::Atan2([a, b]) => {
                let (y, x) = (self.value(e, *a)?, self.value(e, *b)?);
                let r2 = x.value * x.value + y.value * y.value;
                let v = y.value.atan2(x.value);
                Value {
                    value: v,
                    scale: v.abs() + (x.value.abs() * y.scale + y.value.abs() * x.scale) / r2,
                    stderr: (x.value.abs() * y.stderr + y.value.abs() * x.stderr) / r2,
                }
            }
            Math::Abs(a) => un(self, a, f64::abs, |_| 1.0)?,
            Math::Relu(a) => un(
                self,
                a,
                |x| Activation::Relu.eval(x),
                |x| Activation::Relu.deriv(x),
            )?,
            Math::Step(a) => un(self, a, |x| Activation::Step.eval(x), |_| 0.0)?,
            Math::Erf(a) => un(
                self,
                a,
                |x| Activation::Erf.eval(x),
                |x| Activation::Erf.deriv(x),
            )?,
            Math::Tanh(a) => un(self, a, f64::tanh, |x| Activation::Tanh.deriv(x))?,
            Math::Sigmoid(a) => un(
                self,
                a,
                |x| Activation::Sigmoid.eval(x),
                |x| Activation::Sigmoid.deriv(x),
            )?,
            Math::Softplus(a) => un(
                self,
                a,
                |x| Activation::Softplus.eval(x),
                |x| Activation::Softplus.deriv(x),
            )?,
            Math::Gelu(a) => un(
                self,
                a,
                |x| Activation::Gelu.eval(x),
                |x| Activation::Gelu.deriv(x),
            )?,
            Math::Phi(a) | Math::DPhi(a) => {
                let act = self.env.phi.ok_or_else(|| {
                    EvalError::Unsupported("the generic activation phi has no instance here".into())
                })?;
                let x = self.value(e, *a)?;
                let deriv = matches!(node, Math::DPhi(_));
                let v = if deriv {
                    act.deriv(x.value)
                } else {
                    act.eval(x.value)
                };
                let h = 1e-6 * (1.0 + x.value.abs());
                let slope = if deriv {
                    ((act.deriv(x.value + h) - act.deriv(x.value - h)) / (2.0 * h)).abs()
                } else {
                    act.deriv(x.value).abs()
                };
                Value {
                    value: v,
                    scale: v.abs() + slope * x.scale,
                    stderr: slope * x.stderr,
                }
            }
            Math::Delta([a, b]) => {
                let (x, y) = (self.index(e, *a)?, self.index(e, *b)?);
                Value::exact(if x == y { 1.0 } else { 0.0 })
            }
            Math::Index(args) => {
                let Some(s) = e[args[0]].symbol() else {
                    return Err(EvalError::Unsupported(
                        "only a symbol can be indexed".into(),
                    ));
                };
                let idx = args[1..]
                    .iter()
                    .map(|a| self.index(e, *a))
                    .collect::<Result<Vec<_>, _>>()?;
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
                Value::exact(array_entry(s, &idx, self.env.seed))
            }
            Math::Sum([v, lo, hi, body]) => {
                let var = e[*v].symbol().ok_or_else(|| {
                    EvalError::Unsupported("a sum's index must be a symbol".into())
                })?;
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                if hi - lo > 100_000 {
                    return Err(EvalError::SumTooLong((hi - lo) as f64));
                }
                let mut acc = Value::exact(0.0);
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = self.value(e, *body);
                    self.bound.pop();
                    let t = t?;
                    acc.value += t.value;
                    acc.scale += t.scale;
                    acc.stderr += t.stderr;
                }
                acc
            }
            Math::Expect(a) => self.expectation(e, *a)?,
            Math::Gauss([s11, s12, s22, body]) => self.gauss(e, [*s11, *s12, *s22], *body)?,
            Math::Deriv([t, body]) => {
                let (d, err, scale) = self.derivative(e, *t, *body, false)?;
                Value {
                    value: d[(0, 0)],
                    scale,
                    stderr: err,
                }
            }
            Math::MatMul(_) | Math::MatExp(_) => {
                return Err(EvalError::Unsupported(
                    "a matrix expression where a number is expected".into(),
                ))
            }
        })
    }

    /// d/dt(body) at the current value of t, for a matrix-valued or (as a 1×1 matrix) scalar body.
    fn derivative(
        &mut self,
        e: &Expr,
        t: Id,
        body: Id,
        as_matrix: bool,
    ) -> Result<(Matrix, f64, f64), EvalError> {
        let t = e[t]
            .symbol()
            .ok_or_else(|| EvalError::Unsupported("d/dX needs a symbol X".into()))?;
        let t0 = self.lookup(t)?;
        richardson(t0, |x| {
            self.bound.push((t, x));
            let r = if as_matrix {
                self.matrix(e, body).map(|(m, s, _)| (m, s))
            } else {
                self.value(e, body)
                    .map(|v| (Matrix::from_element(1, 1, v.value), v.scale))
            };
            self.bound.pop();
            r
        })
    }

    /// gauss(s11, s12, s22; body) = E[body(u, v)], (u, v) ~ N(0, [[s11, s12], [s12, s22]]), by the
    /// quadrature of [`super::gauss`]: split at the axes when the body has a kink (relu, step, abs),
    /// a smooth rule otherwise.
    fn gauss(&mut self, e: &Expr, cov: [Id; 3], body: Id) -> Result<Value, EvalError> {
        let c: Vec<f64> = cov
            .iter()
            .map(|id| self.value(e, *id).map(|v| v.value))
            .collect::<Result<_, _>>()?;
        let cov = super::gauss::Cov2::new(c[0], c[1], c[2])
            .map_err(|err| EvalError::Unsupported(format!("gauss(...): {err}")))?;
        let kinked = subterm_nodes(e, body).any(|n| {
            matches!(n, Math::Relu(_) | Math::Step(_) | Math::Abs(_))
                || (matches!(n, Math::Phi(_) | Math::DPhi(_))
                    && self.env.phi.is_some_and(|a| a.is_kinked()))
        });
        let shape = if kinked {
            super::gauss::Shape::KinkedAtAxes
        } else {
            super::gauss::Shape::Smooth
        };
        let (u, v) = (Symbol::from("u"), Symbol::from("v"));
        let first_error = std::cell::RefCell::new(None);
        let scale_acc = std::cell::Cell::new(0.0f64);
        let env = self.env;
        let bound = self.bound.clone();
        let f = |x: f64, y: f64| -> f64 {
            let mut inner = Evaluator::new(env);
            inner.bound = bound.clone();
            inner.bound.push((u, x));
            inner.bound.push((v, y));
            match inner.value(e, body) {
                Ok(val) => {
                    scale_acc.set(scale_acc.get().max(val.scale));
                    val.value
                }
                Err(err) => {
                    first_error.borrow_mut().get_or_insert(err);
                    f64::NAN
                }
            }
        };
        let result = super::gauss::expect2(&f, cov, shape);
        // The natural scale: E|body| with u and v independent at the same variances. It stays
        // of the order of the kernel's magnitude where the value itself vanishes (e.g. relu at
        // ρ = −1); the quadrature is accurate to ~1e-15 of it (tests/gauss_reference.rs).
        let independent = super::gauss::Cov2::new(c[0], 0.0, c[2])
            .map_err(|err| EvalError::Unsupported(format!("gauss(...): {err}")))?;
        // |body| has kinks where body changes sign (on the axes for odd activations); it is only
        // a scale, so a failed quadrature falls back to the largest integrand value seen.
        let magnitude = super::gauss::expect2(
            &|x, y| f(x, y).abs(),
            independent,
            super::gauss::Shape::KinkedAtAxes,
        );
        if let Some(err) = first_error.into_inner() {
            return Err(err);
        }
        let value = result.map_err(|err| EvalError::Unsupported(format!("gauss(...): {err}")))?;
        let magnitude = magnitude.unwrap_or(0.0);
        let scale = value.abs().max(magnitude).max(scale_acc.get() * 1e-2);
        Ok(Value {
            value,
            scale,
            stderr: 0.0,
        })
    }

    /// E[x]: exact if x is a polynomial in the random entries, Monte Carlo otherwise.
    fn expectation(&mut self, e: &Expr, a: Id) -> Result<Value, EvalError> {
        if self.sample.is_some() {
            // Nested inside a Monte Carlo sample: the inner expectation is over fresh randomness;
            // not supported (it would need nested sampling).
            return Err(EvalError::Unsupported(
                "nested E[...] inside a Monte Carlo expectation".into(),
            ));
        }
        match self.rpoly(e, a) {
            Ok(p) => Ok(moments(&p)),
            Err(PolyError::NotPolynomial) => self.monte_carlo(e, a),
            Err(PolyError::Eval(err)) => Err(err),
        }
    }

    /// E[e] over the random symbols of the environment when `e` is a polynomial in them (exact
    /// Gaussian moments); `None` when it is not (no Monte Carlo is run). Used by width studies
    /// to integrate the link's own Gaussian symbols out exactly.
    pub fn exact_expectation(&mut self, e: &Expr) -> Option<Result<Value, EvalError>> {
        let root = Id::from(e.as_ref().len() - 1);
        match self.rpoly(e, root) {
            Ok(p) => Some(Ok(moments(&p))),
            Err(PolyError::NotPolynomial) => None,
            Err(PolyError::Eval(err)) => Some(Err(err)),
        }
    }

    fn monte_carlo(&mut self, e: &Expr, a: Id) -> Result<Value, EvalError> {
        let n = self.env.mc_samples.max(2);
        let (mut mean, mut m2, mut scale) = (0.0, 0.0, 0.0f64);
        let mut nonzero = 0usize;
        for k in 0..n {
            self.sample = Some(HashMap::new());
            let v = self.value(e, a);
            self.sample = None;
            let v = v?;
            if !v.value.is_finite() {
                return Err(EvalError::Unsupported(
                    "a Monte Carlo sample is not finite".into(),
                ));
            }
            if v.value != 0.0 {
                nonzero += 1;
            }
            let d = v.value - mean;
            mean += d / (k + 1) as f64;
            m2 += d * (v.value - mean);
            scale = scale.max(v.scale);
        }
        let var = m2 / (n - 1) as f64;
        let stderr = (var / n as f64).sqrt();
        if nonzero < 10 || stderr == 0.0 && nonzero < n {
            return Err(EvalError::Unsupported(format!(
                "Monte Carlo estimate is degenerate ({nonzero} non-zero samples of {n})"
            )));
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
            return Ok(RPoly(BTreeMap::from([(vec![(i, 1)], (1.0, 1.0))])));
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
                Ok(mul(&x, &y))
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
                let x = self.rpoly(e, *a)?;
                if constant(&x).is_some() {
                    return self.as_constant(e, id);
                }
                let k = self.value(e, *b)?.value;
                if k < 0.0 || k.fract() != 0.0 || k > 8.0 {
                    return Err(PolyError::NotPolynomial);
                }
                let mut out = RPoly(BTreeMap::from([(vec![], (1.0, 1.0))]));
                for _ in 0..k as u32 {
                    out = mul(&out, &x);
                }
                Ok(out)
            }
            Math::Sum([v, lo, hi, body]) => {
                let var = e[*v].symbol().ok_or(PolyError::NotPolynomial)?;
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                if hi - lo > 10_000 {
                    return Err(EvalError::SumTooLong((hi - lo) as f64).into());
                }
                let mut acc = RPoly::default();
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = self.rpoly(e, *body);
                    self.bound.pop();
                    acc = add(acc, t?);
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

    fn as_constant(&mut self, e: &Expr, id: Id) -> Result<RPoly, PolyError> {
        let v = self.value(e, id)?;
        Ok(RPoly(BTreeMap::from([(vec![], (v.value, v.scale))])))
    }

    /// Does the subterm mention a random symbol outside an inner E[...]?
    fn mentions_random(&self, e: &Expr, id: Id) -> bool {
        match &e[id] {
            Math::Symbol(s) => self.is_random(*s) && self.lookup(*s).is_err(),
            Math::Expect(_) => false,
            n => egg::Language::children(n)
                .iter()
                .any(|c| self.mentions_random(e, *c)),
        }
    }
}

/// |f'(x)| for error propagation; where f' is infinite (√ at 0, acos at ±1) the secant slope over
/// the rounding-sized step η = 1e-12·scale, which is how far such a point's input is known.
fn slope(f: fn(f64) -> f64, df: fn(f64) -> f64, x: f64, scale: f64) -> f64 {
    let d = df(x).abs();
    if d.is_finite() {
        return d;
    }
    let eta = 1e-12 * scale.max(f64::MIN_POSITIVE);
    let fx = f(x);
    [x - eta, x + eta]
        .iter()
        .map(|y| ((f(*y) - fx) / eta).abs())
        .filter(|s| s.is_finite())
        .fold(0.0, f64::max)
}

/// The nodes of the subterm rooted at `id`.
fn subterm_nodes(e: &Expr, id: Id) -> impl Iterator<Item = &Math> {
    let mut stack = vec![id];
    let mut out = vec![];
    while let Some(i) = stack.pop() {
        out.push(&e[i]);
        stack.extend(egg::Language::children(&e[i]).iter().copied());
    }
    out.into_iter()
}

/// Derivative at `t0` by central differences with two Richardson extrapolations.
/// Returns (derivative, error estimate, magnitude scale). The error estimate is the difference of
/// the last two extrapolants, which bounds the error of the better one for smooth functions.
fn richardson(
    t0: f64,
    mut f: impl FnMut(f64) -> Result<(Matrix, f64), EvalError>,
) -> Result<(Matrix, f64, f64), EvalError> {
    let h0 = 1e-2 * t0.abs().max(1.0);
    let mut central = vec![];
    let mut scale: f64 = 0.0;
    for k in 0..3 {
        let h = h0 / f64::from(1u32 << k);
        let (fp, sp) = f(t0 + h)?;
        let (fm, sm) = f(t0 - h)?;
        scale = scale.max((sp + sm) / (2.0 * h));
        central.push((fp - fm) / (2.0 * h));
    }
    // Eliminate h² then h⁴.
    let r1: Vec<Matrix> = (0..2)
        .map(|k| (&central[k + 1] * 4.0 - &central[k]) / 3.0)
        .collect();
    let r2 = (&r1[1] * 16.0 - &r1[0]) / 15.0;
    let err = (&r2 - &r1[1]).abs().max();
    // Rounding in the differences is amplified by 1/h; it enters through `scale`.
    Ok((r2, err, scale * 1e-3))
}

/// The expectation of a polynomial in i.i.d. N(0,1) entries (moments (k−1)!!).
fn moments(p: &RPoly) -> Value {
    let mut value = 0.0;
    let mut scale = 0.0;
    for (m, (c, s)) in &p.0 {
        let moment: f64 = m
            .iter()
            .map(|(_, k)| {
                DOUBLE_FACTORIAL
                    .get(*k as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            })
            .product();
        value += c * moment;
        scale += s * moment.abs();
    }
    Value {
        value,
        scale,
        stderr: 0.0,
    }
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

fn add(mut x: RPoly, y: RPoly) -> RPoly {
    for (m, (c, s)) in y.0 {
        let e = x.0.entry(m).or_insert((0.0, 0.0));
        e.0 += c;
        e.1 += s;
    }
    x
}

fn mul(x: &RPoly, y: &RPoly) -> RPoly {
    let mut out = RPoly::default();
    for (m1, (c1, s1)) in &x.0 {
        for (m2, (c2, s2)) in &y.0 {
            let mut m: BTreeMap<usize, u32> = m1.iter().copied().collect();
            for (i, k) in m2 {
                *m.entry(*i).or_insert(0) += k;
            }
            let e = out.0.entry(m.into_iter().collect()).or_insert((0.0, 0.0));
            e.0 += c1 * c2;
            e.1 += s1 * s2;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn gaussian_moments_are_exact() {
        assert_eq!(eval("(E (^ z 4))").value, 3.0);
        assert_eq!(eval("(E (* (idx w i 1) (idx w i 2)))").value, 0.0);
        assert_eq!(eval("(E (* (idx w i 1) (idx w i 1)))").value, 1.0);
        // E[(Σ_j w_j)^2] = n
        assert_eq!(eval("(E (^ (sum j 1 n (idx w i j)) 2))").value, 3.0);
    }

    #[test]
    fn non_polynomial_expectations_use_monte_carlo() {
        // E[relu(z)] = 1/√(2π) ≈ 0.39894
        let v = eval("(E (relu z))");
        assert!(v.stderr > 0.0);
        assert!(
            (v.value - 0.3989422804014327).abs() < 5.0 * v.stderr,
            "{v:?}"
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
}
