//! Inequalities: `a ≤ b` is proved when the e-graph, saturated with the cited theories, holds
//! b − a in a class with a certified lower bound ≥ 0 (and `a < b` with one > 0).
//!
//! The certificate is interval arithmetic over exact rationals on the e-classes: every node of a
//! class gives bounds from its children's (a class takes the best of its nodes), from facts that
//! hold wherever a term is defined: constants; declared intervals and positive symbols; π in
//! [3.14159, 3.1416]; √, |·|, relu, exp, step, sigmoid, even powers ≥ 0; sin, cos, tanh, erf,
//! step, sigmoid ≤ 1; acos in [0, π]; sums, differences, negations, products and quotients by
//! interval arithmetic; E[f] and gauss(…; f) within f's bounds. One lemma: Cauchy–Schwarz,
//! √(E[f(u)²]·E[g(v)²]) − E[f(u)g(v)] ≥ 0 under one Gaussian covariance.

use egg::{Id, Symbol};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;

use super::analysis::MathGraph;
use super::rule::extract;
use super::theories::gaussian::is_covariance;
use crate::expr::{binders, Expr, Math, GAUSS_VARS};

/// A closed interval with exact ends (`None`: unbounded on that side).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    /// Lower end.
    pub lo: Option<BigRational>,
    /// Upper end.
    pub hi: Option<BigRational>,
}

fn q(n: i64, d: i64) -> BigRational {
    BigRational::new(n.into(), d.into())
}

impl Bounds {
    fn new(lo: Option<BigRational>, hi: Option<BigRational>) -> Bounds {
        Bounds { lo, hi }
    }
    fn nonneg() -> Bounds {
        Bounds::new(Some(BigRational::zero()), None)
    }
    fn unit() -> Bounds {
        Bounds::new(Some(-BigRational::one()), Some(BigRational::one()))
    }
    /// The tighter of two intervals for one class (both hold).
    fn meet(self, o: Bounds) -> Bounds {
        let lo = match (self.lo, o.lo) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let hi = match (self.hi, o.hi) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Bounds { lo, hi }
    }
}

fn add(a: &Option<BigRational>, b: &Option<BigRational>) -> Option<BigRational> {
    Some(a.as_ref()? + b.as_ref()?)
}

/// Interval product of bounds that may be open (±∞) at either end.
fn mul(x: &Bounds, y: &Bounds) -> Bounds {
    // An end is a number or ±∞ (None); the product's ends are the least and the greatest of
    // the four products of ends, with 0·(±∞) = 0 (an end 0 is attained, and the products of
    // 0 with values growing without bound stay 0). Half-bounded factors keep a bound where
    // their signs decide it: −10⁶ × [0, ∞) ⊆ (−∞, 0].
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum End {
        NegInf,
        At(BigRational),
        PosInf,
    }
    let lo = |v: &Option<BigRational>| v.clone().map_or(End::NegInf, End::At);
    let hi = |v: &Option<BigRational>| v.clone().map_or(End::PosInf, End::At);
    let times = |p: &End, q: &End| -> End {
        let sign = |e: &End| match e {
            End::NegInf => -1,
            End::PosInf => 1,
            End::At(v) if v.is_zero() => 0,
            End::At(v) if v.is_negative() => -1,
            End::At(_) => 1,
        };
        match (p, q) {
            (End::At(a), End::At(b)) => End::At(a * b),
            _ => match sign(p) * sign(q) {
                0 => End::At(BigRational::zero()),
                s if s < 0 => End::NegInf,
                _ => End::PosInf,
            },
        }
    };
    let ends = [
        times(&lo(&x.lo), &lo(&y.lo)),
        times(&lo(&x.lo), &hi(&y.hi)),
        times(&hi(&x.hi), &lo(&y.lo)),
        times(&hi(&x.hi), &hi(&y.hi)),
    ];
    let finite = |e: Option<&End>| match e {
        Some(End::At(v)) => Some(v.clone()),
        _ => None,
    };
    Bounds::new(finite(ends.iter().min()), finite(ends.iter().max()))
}

/// π's bounds.
fn pi() -> Bounds {
    Bounds::new(Some(q(314159, 100000)), Some(q(31416, 10000)))
}

/// Bounds of classes, memoised; a class met again while it is being bounded is unbounded
/// (the e-graph has cycles), so every bound rests on a finite derivation.
pub struct Bounder<'a> {
    eg: &'a MathGraph,
    memo: HashMap<Id, Bounds>,
    depth: usize,
    /// Set when the Cauchy–Schwarz lemma gave a bound.
    pub used_cauchy_schwarz: bool,
}

/// Deepest nesting of classes followed.
const MAX_DEPTH: usize = 12;

impl<'a> Bounder<'a> {
    /// A bounder over `eg`.
    pub fn new(eg: &'a MathGraph) -> Self {
        Bounder {
            eg,
            memo: HashMap::new(),
            depth: 0,
            used_cauchy_schwarz: false,
        }
    }

    /// The bounds of class `id`.
    pub fn bounds(&mut self, id: Id) -> Bounds {
        let id = self.eg.find(id);
        if let Some(b) = self.memo.get(&id) {
            return b.clone();
        }
        if let Some(c) = &self.eg[id].data.constant {
            return Bounds::new(Some(c.0.clone()), Some(c.0.clone()));
        }
        if self.depth >= MAX_DEPTH {
            return Bounds::default();
        }
        self.memo.insert(id, Bounds::default());
        self.depth += 1;
        let nodes = self.eg[id].nodes.clone();
        let mut out = Bounds::default();
        for n in &nodes {
            out = out.meet(self.node(n));
        }
        self.depth -= 1;
        self.memo.insert(id, out.clone());
        out
    }

    /// The bounds one node gives its class.
    fn node(&mut self, n: &Math) -> Bounds {
        let ctx = &self.eg.analysis.ctx;
        match n {
            Math::Symbol(s) if *s == Symbol::from("pi") => pi(),
            // gauss's own variables are bound there, whatever a declaration says of the names.
            Math::Symbol(s) if GAUSS_VARS.iter().any(|v| *s == Symbol::from(*v)) => {
                Bounds::default()
            }
            Math::Symbol(s) => {
                let mut b = Bounds::default();
                if let Some((lo, hi)) = ctx.intervals.get(s) {
                    b = Bounds::new(Some(lo.clone()), Some(hi.clone()));
                }
                if ctx.is_positive(*s) {
                    b = b.meet(Bounds::nonneg());
                }
                b
            }
            Math::Add([a, b]) => {
                let (x, y) = (self.bounds(*a), self.bounds(*b));
                Bounds::new(add(&x.lo, &y.lo), add(&x.hi, &y.hi))
            }
            Math::Sub([a, b]) => {
                if self.cauchy_schwarz(*a, *b) {
                    self.used_cauchy_schwarz = true;
                    return Bounds::nonneg();
                }
                let (x, y) = (self.bounds(*a), self.bounds(*b));
                let neg = |v: &Option<BigRational>| v.as_ref().map(|v| -v);
                Bounds::new(add(&x.lo, &neg(&y.hi)), add(&x.hi, &neg(&y.lo)))
            }
            Math::Neg(a) => {
                let x = self.bounds(*a);
                Bounds::new(x.hi.map(|v| -v), x.lo.map(|v| -v))
            }
            Math::Mul([a, b]) => {
                let (x, y) = (self.bounds(*a), self.bounds(*b));
                mul(&x, &y)
            }
            Math::Div([a, b]) => {
                // x / y for y ≥ c > 0: x · [1/hi(y), 1/c].
                let (x, y) = (self.bounds(*a), self.bounds(*b));
                match &y.lo {
                    Some(c) if c.is_positive() => {
                        let inv = Bounds::new(
                            Some(y.hi.as_ref().map_or(BigRational::zero(), |d| d.recip())),
                            Some(c.recip()),
                        );
                        mul(&x, &inv)
                    }
                    _ => Bounds::default(),
                }
            }
            Math::Pow([a, k]) => {
                let Some(k) = self.eg[*k].data.constant.clone() else {
                    return Bounds::default();
                };
                let k = k.0;
                if k.is_integer() && !k.is_negative() {
                    let even = (k.to_integer() % 2u32).is_zero();
                    let x = self.bounds(*a);
                    let nonneg_base = x.lo.as_ref().is_some_and(|l| !l.is_negative());
                    if nonneg_base || even {
                        // Monotone on [0, ∞): the ends' powers when the base is there.
                        let small: Option<usize> =
                            k.to_integer().try_into().ok().filter(|n| *n <= 64);
                        if let (true, Some(n)) = (nonneg_base, small) {
                            let p = |v: &BigRational| num_traits::pow(v.clone(), n);
                            return Bounds::new(x.lo.as_ref().map(p), x.hi.as_ref().map(p));
                        }
                        return Bounds::nonneg();
                    }
                }
                Bounds::default()
            }
            Math::Sqrt(a) => {
                let x = self.bounds(*a);
                // √x ≤ max(1, x).
                let hi = x.hi.map(|h| h.max(BigRational::one()));
                Bounds::new(Some(BigRational::zero()), hi)
            }
            Math::Abs(_) | Math::Relu(_) | Math::Exp(_) | Math::Softplus(_) | Math::Cosh(_) => {
                Bounds::nonneg()
            }
            Math::Step(_) | Math::Sigmoid(_) => {
                Bounds::new(Some(BigRational::zero()), Some(BigRational::one()))
            }
            Math::Sin(_) | Math::Cos(_) | Math::Tanh(_) | Math::Erf(_) | Math::Sign(_) => {
                Bounds::unit()
            }
            Math::Acos(_) => Bounds::new(Some(BigRational::zero()), pi().hi),
            Math::Asin(_) | Math::Atan(_) => {
                let h = pi().hi.map(|p| p / q(2, 1));
                Bounds::new(h.as_ref().map(|v| -v), h)
            }
            Math::Expect(f) => self.bounds(*f),
            Math::Gauss([a, b, c, f]) if is_covariance(self.eg, *a, *b, *c) => self.bounds(*f),
            _ => Bounds::default(),
        }
    }

    /// x − y ≥ 0 by Cauchy–Schwarz: x = √(E[f(u)²]·E[g(v)²]) and y = E[f(u)·g(v)] under one
    /// covariance (E[g(v)²] also written as E[g(u)²] with the variances swapped).
    fn cauchy_schwarz(&self, x: Id, y: Id) -> bool {
        let eg = self.eg;
        let nodes = |id: Id| eg[eg.find(id)].nodes.clone();
        let same = |p: Id, q: Id| eg.find(p) == eg.find(q);
        let squared = |id: Id| -> Vec<Id> {
            nodes(id)
                .iter()
                .filter_map(|n| match n {
                    Math::Pow([p, k])
                        if eg[*k]
                            .data
                            .constant
                            .as_ref()
                            .is_some_and(|c| c.0 == q(2, 1)) =>
                    {
                        Some(*p)
                    }
                    Math::Mul([p, r]) if same(*p, *r) => Some(*p),
                    _ => None,
                })
                .collect()
        };
        let only = |id: Id, var: &str| {
            let free = &eg[eg.find(id)].data.free;
            GAUSS_VARS
                .iter()
                .all(|v| free.contains(&Symbol::from(*v)) == (*v == var))
        };
        // g(v) written with u: the terms agree after renaming v to u.
        let renamed = |g: Id, h: Id| -> bool {
            let (u, v) = (Symbol::from("u"), Symbol::from("v"));
            let g: Expr = extract(eg, g);
            let h: Expr = extract(eg, h);
            let Ok(u_term) = u.as_str().parse::<Expr>() else {
                return false;
            };
            let map = std::collections::BTreeMap::from([(v, u_term)]);
            binders::substitute_values(&g, &map, crate::limits::MAX_TERM_NODES)
                .is_ok_and(|(g, _)| g.to_string() == h.to_string())
        };
        for yn in nodes(y) {
            let Math::Gauss([a, b, c, body]) = yn else {
                continue;
            };
            if !is_covariance(eg, a, b, c) {
                continue;
            }
            for bn in nodes(body) {
                let Math::Mul([p, r]) = bn else { continue };
                for (f, g) in [(p, r), (r, p)] {
                    if !(only(f, "u") && only(g, "v")) {
                        continue;
                    }
                    // E[f(u)²] under (a, ·, c) and E[g(v)²] or E[g(u)²] with c as u's variance.
                    let is_f2 = |id: Id| {
                        nodes(id).iter().any(|n| match n {
                            Math::Gauss([a1, b1, c1, body1]) => {
                                same(*a1, a)
                                    && same(*c1, c)
                                    && is_covariance(eg, *a1, *b1, *c1)
                                    && squared(*body1).iter().any(|s| same(*s, f))
                            }
                            _ => false,
                        })
                    };
                    let is_g2 = |id: Id| {
                        nodes(id).iter().any(|n| match n {
                            Math::Gauss([a1, b1, c1, body1]) => {
                                is_covariance(eg, *a1, *b1, *c1)
                                    && squared(*body1).iter().any(|s| {
                                        (same(*a1, a) && same(*c1, c) && same(*s, g))
                                            || (same(*a1, c)
                                                && same(*c1, a)
                                                && only(*s, "u")
                                                && renamed(g, *s))
                                    })
                            }
                            _ => false,
                        })
                    };
                    let found = nodes(x).iter().any(|n| match n {
                        Math::Sqrt(m) => nodes(*m).iter().any(|mn| match mn {
                            Math::Mul([g1, g2]) => {
                                (is_f2(*g1) && is_g2(*g2)) || (is_f2(*g2) && is_g2(*g1))
                            }
                            _ => false,
                        }),
                        _ => false,
                    });
                    if found {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Is class `id` known to be ≥ 0 (`strict`: > 0)? `Some(true)` when the Cauchy–Schwarz lemma
/// was used.
pub fn certified(eg: &MathGraph, id: Id, strict: bool) -> Option<bool> {
    let mut bounder = Bounder::new(eg);
    let b = bounder.bounds(id);
    b.lo.is_some_and(|l| {
        if strict {
            l.is_positive()
        } else {
            !l.is_negative()
        }
    })
    .then_some(bounder.used_cauchy_schwarz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(lo: Option<i64>, hi: Option<i64>) -> Bounds {
        let r = |v: i64| BigRational::from_integer(v.into());
        Bounds::new(lo.map(r), hi.map(r))
    }

    /// Products of intervals open at an end, against bounds worked out by hand, in both orders
    /// (the first case had no bound before: −10³ × [0, ∞) was taken as unbounded both ways).
    #[test]
    fn products_of_half_open_intervals() {
        let cases = [
            (
                b(Some(-1000), Some(-1000)),
                b(Some(0), None),
                b(None, Some(0)),
            ),
            (b(Some(0), Some(1)), b(Some(0), None), b(Some(0), None)),
            (b(Some(-1), Some(1)), b(Some(0), None), b(None, None)),
            (b(None, Some(2)), b(Some(3), Some(3)), b(None, Some(6))),
            (b(None, Some(-1)), b(None, Some(-1)), b(Some(1), None)),
            (b(Some(0), Some(0)), b(None, None), b(Some(0), Some(0))),
            (
                b(Some(2), Some(3)),
                b(Some(-5), Some(4)),
                b(Some(-15), Some(12)),
            ),
            (b(None, None), b(Some(1), Some(2)), b(None, None)),
        ];
        for (x, y, want) in cases {
            let got = mul(&x, &y);
            assert_eq!(
                (got.lo.clone(), got.hi.clone()),
                (want.lo.clone(), want.hi.clone())
            );
            assert_eq!(mul(&y, &x).lo, got.lo);
            assert_eq!(mul(&y, &x).hi, got.hi);
        }
    }
}
