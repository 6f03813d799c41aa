//! An evaluator for the attack harnesses, written apart from `derive::numeric` so that it shares
//! none of the checker's shortcuts:
//!
//! - every value is a polynomial in independent N(0,1) entries (keyed by array name and integer
//!   indices) with `f64` coefficients; `E[…]` of a polynomial is exact (moments (k−1)!!, any
//!   degree), so two random terms are equal iff their coefficient tables agree;
//! - finite sums are brute force, bounds must be integers, an empty or reversed range sums to 0;
//!   the bound index shadows every other meaning of its name (declared, random, matrix);
//! - `gauss(s11, s12, s22; body)` needs a covariance that is PSD (else the term is *undefined*);
//!   a polynomial body is exact (u = a·z₁, v = b·z₁ + c·z₂), any other body uses polar quadrature
//!   (then the value is marked approximate);
//! - `d/dt` by Richardson central differences (approximate);
//! - matrices are 3×3 (`*` between two matrices is taken as the matrix product, so a rule that
//!   commutes it is caught); `I` is the identity unless the name is declared otherwise;
//! - domain errors (log of a non-positive number, sqrt of a negative one, division by zero,
//!   asin/acos outside [−1, 1], 0^negative) make the term *undefined*, which is different from
//!   *unsupported* (a construct this evaluator does not handle).

// References come from the system libm, apart from the crate::numeric::portable under test.
#![allow(clippy::disallowed_methods)]

use derive::expr::{Expr, Math};
use egg::{Id, Symbol};
use std::collections::{BTreeMap, HashMap};

/// A random atom: an N(0,1) entry, by name and integer indices.
pub type Key = (String, Vec<i64>);
/// A monomial: sorted atoms with exponents.
pub type Mono = Vec<(Key, u32)>;

/// A polynomial in random atoms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Poly(pub BTreeMap<Mono, f64>);

/// The dimension of matrices: 5, as the checker's (`derive::numeric::eval::MATRIX_DIM`), past
/// the identities of small dimensions.
pub const D: usize = 5;

/// A D×D matrix.
pub type Mat = [[f64; D]; D];

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A scalar (possibly random).
    P(Poly),
    /// A deterministic matrix.
    M(Mat),
}

/// Why a term has no value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fail {
    /// Mathematically undefined at this point (domain error, non-PSD covariance).
    Undefined(String),
    /// Not handled by this evaluator.
    Unsupported(String),
}

/// A value and whether it is approximate (quadrature, finite differences).
#[derive(Debug, Clone, PartialEq)]
pub struct Res {
    /// The value.
    pub val: Val,
    /// Approximate?
    pub approx: bool,
}

type R = Result<Res, Fail>;

fn und<T>(s: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Undefined(s.into()))
}
fn uns<T>(s: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Unsupported(s.into()))
}

impl Poly {
    /// The constant `c`.
    pub fn c(c: f64) -> Poly {
        let mut p = Poly::default();
        if c != 0.0 {
            p.0.insert(vec![], c);
        }
        p
    }
    fn atom(k: Key) -> Poly {
        let mut p = Poly::default();
        p.0.insert(vec![(k, 1)], 1.0);
        p
    }
    /// The value if deterministic.
    pub fn constant(&self) -> Option<f64> {
        match self.0.len() {
            0 => Some(0.0),
            1 => self.0.get(&vec![]).copied(),
            _ => None,
        }
    }
    fn add(&self, o: &Poly) -> Poly {
        let mut out = self.clone();
        for (m, c) in &o.0 {
            *out.0.entry(m.clone()).or_insert(0.0) += c;
        }
        out.0.retain(|_, c| *c != 0.0);
        out
    }
    fn scale(&self, k: f64) -> Poly {
        let mut p = Poly(self.0.iter().map(|(m, c)| (m.clone(), c * k)).collect());
        p.0.retain(|_, c| *c != 0.0);
        p
    }
    fn mul(&self, o: &Poly) -> Poly {
        let mut out = Poly::default();
        for (m1, c1) in &self.0 {
            for (m2, c2) in &o.0 {
                let mut map: BTreeMap<Key, u32> = m1.iter().cloned().collect();
                for (k, e) in m2 {
                    *map.entry(k.clone()).or_insert(0) += e;
                }
                *out.0.entry(map.into_iter().collect()).or_insert(0.0) += c1 * c2;
            }
        }
        out.0.retain(|_, c| *c != 0.0);
        out
    }
    /// E[self] over independent N(0,1) atoms.
    pub fn expect(&self) -> f64 {
        self.0
            .iter()
            .map(|(m, c)| c * m.iter().map(|(_, e)| moment(*e)).product::<f64>())
            .sum()
    }
    fn max_abs(&self) -> f64 {
        self.0.values().fold(0.0f64, |a, c| a.max(c.abs()))
    }
}

/// E[z^e] for z ~ N(0,1).
pub fn moment(e: u32) -> f64 {
    if e % 2 == 1 {
        0.0
    } else {
        (1..e).step_by(2).map(|k| k as f64).product()
    }
}

/// The concrete function standing for the generic activation `phi`: φ(0) ≠ 0, neither odd nor
/// even, so identities that hold only for special activations are caught.
pub fn phi(x: f64) -> f64 {
    x.sin() + 0.2 * x * x + 0.3
}
/// φ′.
pub fn dphi(x: f64) -> f64 {
    x.cos() + 0.4 * x
}

/// What symbols mean at one point.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Scalar values (sizes, reals, free indices).
    pub scalars: HashMap<String, f64>,
    /// Names with i.i.d. N(0,1) entries.
    pub random: Vec<String>,
    /// Deterministic arrays (entries from a hash of name, indices and `seed`).
    pub arrays: Vec<String>,
    /// Matrices.
    pub matrices: HashMap<String, Mat>,
    /// Seed of array entries.
    pub seed: u64,
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// A deterministic entry of array `name`: a multiple of 1/4 in [−3, 3], never the same for
/// many entries.
pub fn entry(name: &str, idx: &[i64], seed: u64) -> f64 {
    let mut h = mix(seed ^ 0x1234);
    for b in name.bytes() {
        h = mix(h ^ b as u64);
    }
    for i in idx {
        h = mix(h ^ (*i as u64).wrapping_mul(0x100000001b3));
    }
    ((h % 25) as f64 - 12.0) / 4.0
}

/// A pseudo-random matrix with small integer entries.
pub fn matrix(name: &str, seed: u64) -> Mat {
    let mut m = [[0.0; D]; D];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = (entry(name, &[i as i64, j as i64], seed) * 0.5).round() / 2.0;
        }
    }
    m
}

const ID: Mat = {
    let mut m = [[0.0; D]; D];
    let mut i = 0;
    while i < D {
        m[i][i] = 1.0;
        i += 1;
    }
    m
};

fn mm(a: &Mat, b: &Mat) -> Mat {
    let mut c = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..D {
            c[i][j] = (0..D).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}
fn mlin(a: &Mat, ka: f64, b: &Mat, kb: f64) -> Mat {
    let mut c = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..D {
            c[i][j] = ka * a[i][j] + kb * b[i][j];
        }
    }
    c
}
fn mexp(a: &Mat) -> Mat {
    // scaling and squaring with a Taylor series
    let norm: f64 = a.iter().flatten().map(|x| x.abs()).sum();
    let mut s = 0;
    while norm / f64::powi(2.0, s) > 0.5 {
        s += 1;
    }
    let a = mlin(a, 1.0 / f64::powi(2.0, s), &ID, 0.0);
    let mut term = ID;
    let mut sum = ID;
    for k in 1..30 {
        term = mlin(&mm(&term, &a), 1.0 / k as f64, &ID, 0.0);
        sum = mlin(&sum, 1.0, &term, 1.0);
    }
    for _ in 0..s {
        sum = mm(&sum, &sum);
    }
    sum
}

/// Largest number of terms a sum may have before it is unsupported.
pub const MAX_SUM: i64 = 4000;

/// The evaluator.
pub struct Eval<'a> {
    env: &'a Env,
    /// Bound names (sum indices, gauss u/v, the variable of d/dt at a shifted point).
    bound: Vec<(String, Val)>,
    work: usize,
}

fn res(val: Val, approx: bool) -> R {
    Ok(Res { val, approx })
}

impl<'a> Eval<'a> {
    /// At `env`.
    pub fn new(env: &'a Env) -> Self {
        Eval {
            env,
            bound: vec![],
            work: 0,
        }
    }

    /// Evaluate a whole term.
    pub fn eval(&mut self, e: &Expr) -> R {
        self.go(e, Id::from(e.as_ref().len() - 1))
    }

    fn scalar(&mut self, e: &Expr, id: Id) -> Result<(f64, bool), Fail> {
        let r = self.go(e, id)?;
        match r.val {
            Val::P(p) => match p.constant() {
                Some(c) => Ok((c, r.approx)),
                None => uns("a random variable inside a non-polynomial function"),
            },
            Val::M(_) => uns("a matrix where a number is expected"),
        }
    }

    fn int(&mut self, e: &Expr, id: Id) -> Result<i64, Fail> {
        let (x, _) = self.scalar(e, id)?;
        if !x.is_finite() || (x - x.round()).abs() > 1e-9 {
            return uns(format!("index or bound {x} is not an integer"));
        }
        Ok(x.round() as i64)
    }

    fn lookup(&self, s: &str) -> Option<Val> {
        if let Some((_, v)) = self.bound.iter().rev().find(|(n, _)| n == s) {
            return Some(v.clone());
        }
        if let Some(v) = self.env.scalars.get(s) {
            return Some(Val::P(Poly::c(*v)));
        }
        if self.env.random.iter().any(|r| r == s) {
            return Some(Val::P(Poly::atom((s.to_string(), vec![]))));
        }
        if let Some(m) = self.env.matrices.get(s) {
            return Some(Val::M(*m));
        }
        if s == "pi" {
            return Some(Val::P(Poly::c(std::f64::consts::PI)));
        }
        if s == "I" {
            return Some(Val::M(ID));
        }
        None
    }

    fn unary(&mut self, e: &Expr, a: Id, f: impl Fn(f64) -> Result<f64, Fail>) -> R {
        let (x, approx) = self.scalar(e, a)?;
        let y = f(x)?;
        if !y.is_finite() {
            return und("overflow");
        }
        res(Val::P(Poly::c(y)), approx)
    }

    fn go(&mut self, e: &Expr, id: Id) -> R {
        self.work += 1;
        if self.work > 3_000_000 {
            return uns("too much work");
        }
        use Math::*;
        let node = e[id].clone();
        match node {
            Num(c) => res(Val::P(Poly::c(c.to_f64())), false),
            Symbol(s) => match self.lookup(s.as_str()) {
                Some(v) => res(v, false),
                None => uns(format!("unbound symbol {s}")),
            },
            Add([a, b]) | Sub([a, b]) => {
                let k = if matches!(node, Sub(_)) { -1.0 } else { 1.0 };
                let (x, y) = (self.go(e, a)?, self.go(e, b)?);
                let approx = x.approx || y.approx;
                let v = match (x.val, y.val) {
                    (Val::P(p), Val::P(q)) => Val::P(p.add(&q.scale(k))),
                    (Val::M(p), Val::M(q)) => Val::M(mlin(&p, 1.0, &q, k)),
                    (Val::P(p), Val::M(q)) => {
                        let c = p
                            .constant()
                            .ok_or(Fail::Unsupported("random+matrix".into()))?;
                        Val::M(mlin(&ID, c, &q, k))
                    }
                    (Val::M(p), Val::P(q)) => {
                        let c = q
                            .constant()
                            .ok_or(Fail::Unsupported("random+matrix".into()))?;
                        Val::M(mlin(&p, 1.0, &ID, k * c))
                    }
                };
                res(v, approx)
            }
            Mul([a, b]) | MatMul([a, b]) => {
                let (x, y) = (self.go(e, a)?, self.go(e, b)?);
                let approx = x.approx || y.approx;
                let v = match (x.val, y.val) {
                    (Val::P(p), Val::P(q)) => Val::P(p.mul(&q)),
                    (Val::M(p), Val::M(q)) => Val::M(mm(&p, &q)),
                    (Val::P(p), Val::M(q)) | (Val::M(q), Val::P(p)) => {
                        let c = p
                            .constant()
                            .ok_or(Fail::Unsupported("random*matrix".into()))?;
                        Val::M(mlin(&q, c, &ID, 0.0))
                    }
                };
                res(v, approx)
            }
            Neg(a) => {
                let x = self.go(e, a)?;
                let v = match x.val {
                    Val::P(p) => Val::P(p.scale(-1.0)),
                    Val::M(m) => Val::M(mlin(&m, -1.0, &ID, 0.0)),
                };
                res(v, x.approx)
            }
            Div([a, b]) => {
                let x = self.go(e, a)?;
                let (d, ad) = self.scalar(e, b)?;
                if d == 0.0 {
                    return und("division by zero");
                }
                let v = match x.val {
                    Val::P(p) => Val::P(p.scale(1.0 / d)),
                    Val::M(m) => Val::M(mlin(&m, 1.0 / d, &ID, 0.0)),
                };
                res(v, x.approx || ad)
            }
            Pow([a, b]) => {
                let (k, ak) = self.scalar(e, b)?;
                let x = self.go(e, a)?;
                let approx = x.approx || ak;
                let is_nat = k >= 0.0 && k.fract() == 0.0 && k <= 64.0;
                match x.val {
                    Val::M(m) if is_nat => {
                        let mut out = ID;
                        for _ in 0..k as u32 {
                            out = mm(&out, &m);
                        }
                        res(Val::M(out), approx)
                    }
                    Val::M(_) => uns("matrix power"),
                    Val::P(p) => {
                        if is_nat {
                            let mut out = Poly::c(1.0);
                            for _ in 0..k as u32 {
                                out = out.mul(&p);
                            }
                            return res(Val::P(out), approx);
                        }
                        let Some(base) = p.constant() else {
                            return uns("non-integer power of a random variable");
                        };
                        if base == 0.0 && k < 0.0 {
                            return und("0 to a negative power");
                        }
                        if base < 0.0 && k.fract() != 0.0 {
                            return und("fractional power of a negative number");
                        }
                        let y = base.powf(k);
                        if !y.is_finite() {
                            return und("overflow");
                        }
                        res(Val::P(Poly::c(y)), approx)
                    }
                }
            }
            Sqrt(a) => self.unary(e, a, |x| {
                if x < 0.0 {
                    und("sqrt of a negative number")
                } else {
                    Ok(x.sqrt())
                }
            }),
            Exp(a) => self.unary(e, a, |x| Ok(x.exp())),
            Log(a) => self.unary(e, a, |x| {
                if x <= 0.0 {
                    und("log of a non-positive number")
                } else {
                    Ok(x.ln())
                }
            }),
            Sin(a) => self.unary(e, a, |x| Ok(x.sin())),
            Cos(a) => self.unary(e, a, |x| Ok(x.cos())),
            Tan(a) => self.unary(e, a, |x| {
                if x.cos().abs() < 1e-12 {
                    und("tan at a pole")
                } else {
                    Ok(x.tan())
                }
            }),
            Asin(a) => self.unary(e, a, |x| {
                if x.abs() > 1.0 {
                    und("asin outside [-1, 1]")
                } else {
                    Ok(x.asin())
                }
            }),
            Acos(a) => self.unary(e, a, |x| {
                if x.abs() > 1.0 {
                    und("acos outside [-1, 1]")
                } else {
                    Ok(x.acos())
                }
            }),
            Atan(a) => self.unary(e, a, |x| Ok(x.atan())),
            Atan2([a, b]) => {
                let (y, ay) = self.scalar(e, a)?;
                let (x, ax) = self.scalar(e, b)?;
                if x == 0.0 && y == 0.0 {
                    return und("atan2(0, 0)");
                }
                res(Val::P(Poly::c(y.atan2(x))), ax || ay)
            }
            Abs(a) => self.unary(e, a, |x| Ok(x.abs())),
            Relu(a) => self.unary(e, a, |x| Ok(x.max(0.0))),
            Step(a) => self.unary(e, a, |x| Ok(if x > 0.0 { 1.0 } else { 0.0 })),
            Erf(a) => self.unary(e, a, |x| Ok(libm::erf(x))),
            Tanh(a) => self.unary(e, a, |x| Ok(x.tanh())),
            Sigmoid(a) => self.unary(e, a, |x| Ok(1.0 / (1.0 + (-x).exp()))),
            Softplus(a) => self.unary(e, a, |x| Ok(x.max(0.0) + (-x.abs()).exp().ln_1p())),
            Gelu(a) => self.unary(e, a, |x| {
                Ok(0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)))
            }),
            Cosh(a) => self.unary(e, a, |x| Ok(x.cosh())),
            Sinh(a) => self.unary(e, a, |x| Ok(x.sinh())),
            Sign(a) => self.unary(e, a, |x| {
                Ok(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                })
            }),
            Max([a, b]) | Min([a, b]) | LeakyRelu([a, b]) => {
                let ((x, ax), (y, ay)) = (self.scalar(e, a)?, self.scalar(e, b)?);
                let v = match node {
                    Max(_) => x.max(y),
                    Min(_) => x.min(y),
                    _ => {
                        if x >= 0.0 {
                            x
                        } else {
                            y * x
                        }
                    }
                };
                res(Val::P(Poly::c(v)), ax || ay)
            }
            Integral(_) => uns("integrals are not evaluated by the exact harness"),
            Phi(a) => self.unary(e, a, |x| Ok(phi(x))),
            DPhi(a) => self.unary(e, a, |x| Ok(dphi(x))),
            Delta([a, b]) => {
                let ((x, ax), (y, ay)) = (self.scalar(e, a)?, self.scalar(e, b)?);
                res(Val::P(Poly::c(if x == y { 1.0 } else { 0.0 })), ax || ay)
            }
            Index(args) => {
                let name = match &e[args[0]] {
                    Symbol(s) => s.as_str().to_string(),
                    _ => return uns("indexing a non-symbol"),
                };
                if self.bound.iter().any(|(n, _)| *n == name) {
                    return uns("indexing a bound number");
                }
                let mut idx = vec![];
                for a in &args[1..] {
                    idx.push(self.int(e, *a)?);
                }
                if self.env.random.contains(&name) {
                    res(Val::P(Poly::atom((name, idx))), false)
                } else if self.env.arrays.contains(&name) {
                    res(Val::P(Poly::c(entry(&name, &idx, self.env.seed))), false)
                } else {
                    uns(format!("{name} is not an array"))
                }
            }
            Sum([v, lo, hi, body]) => {
                let name = match &e[v] {
                    Symbol(s) => s.as_str().to_string(),
                    _ => return uns("sum over a non-symbol"),
                };
                let (lo, hi) = (self.int(e, lo)?, self.int(e, hi)?);
                if hi.saturating_sub(lo) > MAX_SUM {
                    return uns("sum too long");
                }
                let mut acc: Option<Res> = None;
                for j in lo..=hi {
                    self.bound.push((name.clone(), Val::P(Poly::c(j as f64))));
                    let r = self.go(e, body);
                    self.bound.pop();
                    let r = r?;
                    acc = Some(match acc {
                        None => r,
                        Some(a) => {
                            let approx = a.approx || r.approx;
                            let val = match (a.val, r.val) {
                                (Val::P(p), Val::P(q)) => Val::P(p.add(&q)),
                                (Val::M(p), Val::M(q)) => Val::M(mlin(&p, 1.0, &q, 1.0)),
                                _ => return uns("sum of matrices and numbers"),
                            };
                            Res { val, approx }
                        }
                    });
                }
                Ok(acc.unwrap_or(Res {
                    val: Val::P(Poly::default()),
                    approx: false,
                }))
            }
            Expect(a) => {
                let x = self.go(e, a)?;
                match x.val {
                    Val::P(p) => res(Val::P(Poly::c(p.expect())), x.approx),
                    Val::M(_) => uns("E of a matrix"),
                }
            }
            Gauss([a, b, c, body]) => self.gauss(e, a, b, c, body),
            Deriv([t, body]) => {
                let name = match &e[t] {
                    Symbol(s) => s.as_str().to_string(),
                    _ => return uns("d/d of a non-symbol"),
                };
                let Some(Val::P(p)) = self.lookup(&name) else {
                    return uns("d/dt: the variable has no value");
                };
                let Some(t0) = p.constant() else {
                    return uns("d/dt by a random variable");
                };
                let at = |dt: f64, me: &mut Self| -> R {
                    me.bound.push((name.clone(), Val::P(Poly::c(t0 + dt))));
                    let r = me.go(e, body);
                    me.bound.pop();
                    r
                };
                // undefined at the point itself: no derivative
                at(0.0, self)?;
                // Richardson extrapolation at two step sizes; the two must agree, or the
                // derivative is not resolved (fast oscillation, a kink): unsupported.
                let h = 1e-3 * (1.0 + t0.abs());
                let d = |p: Val, q: Val, h: f64| -> Result<Val, Fail> {
                    Ok(match (p, q) {
                        (Val::P(p), Val::P(q)) => Val::P(p.add(&q.scale(-1.0)).scale(0.5 / h)),
                        (Val::M(p), Val::M(q)) => Val::M(mlin(&p, 0.5 / h, &q, -0.5 / h)),
                        _ => return uns("d/dt of mixed values"),
                    })
                };
                let rich = |h: f64, me: &mut Self| -> Result<Val, Fail> {
                    let d1 = d(at(h, me)?.val, at(-h, me)?.val, h)?;
                    let d2 = d(at(h / 2.0, me)?.val, at(-h / 2.0, me)?.val, h / 2.0)?;
                    Ok(match (d1, d2) {
                        (Val::P(p), Val::P(q)) => {
                            Val::P(q.scale(4.0 / 3.0).add(&p.scale(-1.0 / 3.0)))
                        }
                        (Val::M(p), Val::M(q)) => Val::M(mlin(&q, 4.0 / 3.0, &p, -1.0 / 3.0)),
                        _ => return uns("d/dt of mixed values"),
                    })
                };
                let v = rich(h, self)?;
                let v2 = rich(h / 4.0, self)?;
                let (a, b) = (
                    Res {
                        val: v.clone(),
                        approx: false,
                    },
                    Res {
                        val: v2,
                        approx: false,
                    },
                );
                if compare_tol(&a, &b, 1e-7) != Cmp::Same {
                    return uns("d/dt: finite differences do not converge");
                }
                res(v, true)
            }
            MatExp(a) => {
                let x = self.go(e, a)?;
                let m = match x.val {
                    Val::M(m) => m,
                    Val::P(p) => {
                        let c = p
                            .constant()
                            .ok_or(Fail::Unsupported("mexp of random".into()))?;
                        mlin(&ID, c, &ID, 0.0)
                    }
                };
                res(Val::M(mexp(&m)), x.approx)
            }
            Transpose(_) | Trace(_) | Norm(_) | Dot(_) | Outer(_) | Grad(_) | Jacobian(_)
            | Hessian(_) => uns("vector operations are written as entries by the loader"),
        }
    }

    fn gauss(&mut self, e: &Expr, a: Id, b: Id, c: Id, body: Id) -> R {
        let (s11, a1) = self.scalar(e, a)?;
        let (s12, a2) = self.scalar(e, b)?;
        let (s22, a3) = self.scalar(e, c)?;
        if s11 < 0.0 || s22 < 0.0 || s12 * s12 > s11 * s22 * (1.0 + 1e-12) + 1e-300 {
            return und("gauss: the covariance is not positive semi-definite");
        }
        let ca = s11.sqrt();
        let (cb, cc) = if ca > 0.0 {
            let cb = s12 / ca;
            (cb, (s22 - cb * cb).max(0.0).sqrt())
        } else {
            (0.0, s22.sqrt())
        };
        let approx0 = a1 || a2 || a3;
        // exact when the body is a polynomial in u, v
        let z1 = Poly::atom(("#z1".into(), vec![]));
        let z2 = Poly::atom(("#z2".into(), vec![]));
        let u = z1.scale(ca);
        let v = z1.scale(cb).add(&z2.scale(cc));
        self.bound.push(("u".into(), Val::P(u)));
        self.bound.push(("v".into(), Val::P(v)));
        let exact = self.go(e, body);
        self.bound.truncate(self.bound.len() - 2);
        match exact {
            Ok(Res {
                val: Val::P(p),
                approx,
            }) => return res(Val::P(Poly::c(p.expect())), approx || approx0),
            Ok(_) => return uns("gauss of a matrix"),
            Err(Fail::Undefined(s)) => return und(s),
            Err(Fail::Unsupported(_)) => {}
        }
        // polar quadrature: (z1, z2) = r (cos θ, sin θ), weight r e^{−r²/2} / 2π
        let (nt, nr, rmax) = (1024usize, 32usize, 9.0f64);
        let mut total = 0.0;
        let mut approx = true;
        for it in 0..nt {
            let th = (it as f64 + 0.5) * std::f64::consts::TAU / nt as f64;
            let (c1, s1) = (th.cos(), th.sin());
            let mut ray = 0.0;
            // Simpson in r on [0, rmax]
            for ir in 0..=nr {
                let r = rmax * ir as f64 / nr as f64;
                let w = if ir == 0 || ir == nr {
                    1.0
                } else if ir % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                let (x1, x2) = (r * c1, r * s1);
                self.bound.push(("u".into(), Val::P(Poly::c(ca * x1))));
                self.bound
                    .push(("v".into(), Val::P(Poly::c(cb * x1 + cc * x2))));
                let f = self.go(e, body);
                self.bound.truncate(self.bound.len() - 2);
                let f = f?;
                approx |= f.approx;
                let Val::P(p) = f.val else {
                    return uns("gauss of a matrix");
                };
                let fv = p
                    .constant()
                    .ok_or(Fail::Unsupported("random in gauss".into()))?;
                ray += w * fv * r * (-r * r / 2.0).exp();
            }
            total += ray * rmax / nr as f64 / 3.0;
        }
        res(Val::P(Poly::c(total / nt as f64)), approx || approx0)
    }
}

/// How two values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// Equal (within the rounding or quadrature allowance).
    Same,
    /// Different beyond doubt.
    Differ,
    /// Too close to call with approximate values.
    Unclear,
}

/// Compare two results. Exact values: relative 1e-7 (the evaluator works in f64 on expanded
/// polynomials, so cancellation can cost a few digits; lies show up as differences of order 0.1);
/// approximate ones (quadrature, finite differences): equal within 1e-6, different beyond 1e-2,
/// too close to call in between (relative to max(1, |values|)).
pub fn compare(a: &Res, b: &Res) -> Cmp {
    compare_tol(a, b, 1e-7)
}

/// [`compare`] with the tolerance for exact values given.
pub fn compare_tol(a: &Res, b: &Res, exact_tol: f64) -> Cmp {
    let (d, scale) = match (&a.val, &b.val) {
        (Val::P(p), Val::P(q)) => {
            let diff = p.add(&q.scale(-1.0));
            (diff.max_abs(), 1f64.max(p.max_abs()).max(q.max_abs()))
        }
        (Val::M(p), Val::M(q)) => {
            let d = mlin(p, 1.0, q, -1.0);
            let mx = |m: &Mat| m.iter().flatten().fold(0.0f64, |a, x| a.max(x.abs()));
            (mx(&d), 1f64.max(mx(p)).max(mx(q)))
        }
        // a matrix and a number: equal only if the matrix is that multiple of I
        (Val::P(p), Val::M(m)) | (Val::M(m), Val::P(p)) => match p.constant() {
            Some(c) => {
                let d = mlin(m, 1.0, &ID, -c);
                let mx = |m: &Mat| m.iter().flatten().fold(0.0f64, |a, x| a.max(x.abs()));
                (mx(&d), 1f64.max(mx(m)).max(c.abs()))
            }
            None => return Cmp::Differ,
        },
    };
    if !d.is_finite() || !scale.is_finite() {
        return Cmp::Unclear;
    }
    let rel = d / scale;
    if a.approx || b.approx {
        if rel < 1e-6 {
            Cmp::Same
        } else if rel > 1e-2 {
            Cmp::Differ
        } else {
            Cmp::Unclear
        }
    } else if rel < exact_tol {
        Cmp::Same
    } else {
        Cmp::Differ
    }
}

/// Evaluate `e` at `env`.
pub fn eval(e: &Expr, env: &Env) -> R {
    Eval::new(env).eval(e)
}

/// A small deterministic generator (splitmix64), so that every harness is reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        mix(self.0)
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// One of the items.
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }
    /// True with probability p.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Interned symbol helper.
pub fn sym(s: &str) -> Symbol {
    Symbol::from(s)
}
