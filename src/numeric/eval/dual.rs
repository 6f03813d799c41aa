//! Exact first derivatives by forward mode: a term is evaluated as a pair (value, derivative)
//! along one moved variable (a symbol, or one entry of an array), by the chain rule at every node.
//!
//! This is the first choice of [`Evaluator::differentiate`] for a scalar body: one pass instead
//! of the two dozen evaluations of Ridders' tableau, and no truncation error. It declines (returns
//! `None`, and the tableau is used) wherever the chain rule at the point is not the derivative or
//! is not known here:
//! - a kink exactly at the point (relu, abs, step, sign and leaky relu at 0, max/min at a tie);
//! - an infinite slope (√ at 0, acos/asin at ±1, x^p with p < 1 at 0), even where the inner
//!   derivative is 0 (√(a²) at 0 has none): the tableau differentiates one-sidedly there or finds
//!   the kink;
//! - an index, a range or a Kronecker δ that depends on the moved symbol (an integer that moves);
//! - any node it has no rule for that depends on the moved variable (E[…], gauss, integrals, an
//!   inner derivative, φ′);
//! - a value that cannot be computed at the point itself (0/0 of a removable singularity): the
//!   tableau never samples the point.
//!
//! The derivative's magnitude scale follows the same rules as values' (the computation on
//! absolute values), with the error that a unary function's slope inherits from its argument
//! (|f″|·scale of the argument, f″ from a difference of the slopes).

use crate::numeric::portable::Portable;
use egg::{Id, Symbol};

use super::{
    product, quotient, symbol_bit, unary, unary_fns, undecided_jump, EvalError, Evaluator, Moved,
    Value,
};
use crate::expr::{Expr, Math};
use crate::numeric::activation::Activation;

/// (value, derivative along the moved variable).
type Dual = (Value, Value);

/// Is the subterm continuous in every symbol by its form: numbers and symbols under arithmetic,
/// powers, max, min, leaky relu and the continuous functions of one argument (not step or
/// sign), with no binder, index, δ, φ or φ′ (an integrand the fundamental theorem applies to at
/// every end where it has a value)?
fn continuous(e: &Expr, id: Id) -> bool {
    let ok = match &e[id] {
        Math::Num(_)
        | Math::Symbol(_)
        | Math::Add(_)
        | Math::Sub(_)
        | Math::Mul(_)
        | Math::Div(_)
        | Math::Neg(_)
        | Math::Pow(_)
        | Math::Max(_)
        | Math::Min(_)
        | Math::LeakyRelu(_) => true,
        Math::Step(_) | Math::Sign(_) => false,
        n => unary_fns(n).is_some(),
    };
    ok && egg::Language::children(&e[id])
        .iter()
        .all(|c| continuous(e, *c))
}

/// Why the forward mode declined: the tableau is used instead. A budget failure is not a decline.
enum Decline {
    Here,
    Budget(EvalError),
}

impl From<EvalError> for Decline {
    fn from(err: EvalError) -> Decline {
        match err {
            EvalError::Budget(_) => Decline::Budget(err),
            _ => Decline::Here,
        }
    }
}

fn zero() -> Value {
    Value::exact(0.0)
}

fn sum(x: Value, y: Value) -> Value {
    Value {
        value: x.value + y.value,
        scale: x.scale + y.scale,
        stderr: x.stderr + y.stderr,
    }
}

fn negate(x: Value) -> Value {
    Value {
        value: -x.value,
        ..x
    }
}

/// The signed slope f′(x) of a unary node with f(x) = `fx`, or `None` at a kink.
fn slope_of(node: &Math, x: f64, fx: f64) -> Option<f64> {
    let act = |a: Activation| a.deriv(x);
    Some(match node {
        Math::Sqrt(_) => 0.5 / fx,
        Math::Exp(_) => fx,
        Math::Log(_) => 1.0 / x,
        Math::Sin(_) => x.pcos(),
        Math::Cos(_) => -x.psin(),
        Math::Tan(_) => 1.0 / (x.pcos() * x.pcos()),
        Math::Asin(_) => 1.0 / (1.0 - x * x).sqrt(),
        Math::Acos(_) => -1.0 / (1.0 - x * x).sqrt(),
        Math::Atan(_) => 1.0 / (1.0 + x * x),
        Math::Cosh(_) => x.psinh(),
        Math::Sinh(_) => x.pcosh(),
        Math::Abs(_) | Math::Sign(_) | Math::Relu(_) | Math::Step(_) if x == 0.0 => return None,
        Math::Abs(_) => x.signum(),
        Math::Sign(_) | Math::Step(_) => 0.0,
        Math::Relu(_) => act(Activation::Relu),
        Math::Erf(_) => act(Activation::Erf),
        Math::Tanh(_) => 1.0 - fx * fx,
        Math::Sigmoid(_) => fx * (1.0 - fx),
        Math::Softplus(_) => act(Activation::Softplus),
        Math::Gelu(_) => act(Activation::Gelu),
        _ => return None,
    })
}

/// The curvature f″(x) of a unary node with f(x) = `fx`, where it is known in closed form. Near
/// a singularity of f′ (acos at 1 − 10⁻¹¹) a difference of slopes over a fixed step misses it by
/// orders of magnitude, and the slope's error with it.
fn curvature_of(node: &Math, x: f64, fx: f64) -> Option<f64> {
    let gauss = |x: f64| 2.0 / std::f64::consts::PI.sqrt() * (-x * x).pexp();
    Some(match node {
        Math::Sqrt(_) => -0.25 / (x * fx),
        Math::Exp(_) | Math::Cosh(_) | Math::Sinh(_) => fx,
        Math::Log(_) => -1.0 / (x * x),
        Math::Sin(_) | Math::Cos(_) => -fx,
        Math::Tan(_) => 2.0 * fx * (1.0 + fx * fx),
        Math::Asin(_) => x / ((1.0 - x) * (1.0 + x)).ppowf(1.5),
        Math::Acos(_) => -x / ((1.0 - x) * (1.0 + x)).ppowf(1.5),
        Math::Atan(_) => -2.0 * x / ((1.0 + x * x) * (1.0 + x * x)),
        Math::Abs(_) | Math::Sign(_) | Math::Relu(_) | Math::Step(_) => 0.0,
        Math::Erf(_) => -2.0 * x * gauss(x),
        Math::Tanh(_) => -2.0 * fx * (1.0 - fx * fx),
        Math::Sigmoid(_) => fx * (1.0 - fx) * (1.0 - 2.0 * fx),
        _ => return None,
    })
}

/// The slope f′(x) as a value whose scale carries the error it inherits from x (|f″|·scale of x,
/// f″ in closed form where `exact` has it, else by a central difference of f′, one-sided where a
/// side is outside f's domain).
fn slope_value(
    fp: f64,
    x: Value,
    exact: Option<f64>,
    slope_at: impl Fn(f64) -> Option<f64>,
) -> Option<Value> {
    if !fp.is_finite() {
        return None;
    }
    let h = 1e-5 * (1.0 + x.value.abs());
    let curvature = match exact {
        Some(c) if c.is_finite() => c.abs(),
        Some(_) => return None,
        None => match (slope_at(x.value + h), slope_at(x.value - h)) {
            (Some(a), Some(b)) if a.is_finite() && b.is_finite() => (a - b).abs() / (2.0 * h),
            (Some(a), _) if a.is_finite() => (a - fp).abs() / h,
            (_, Some(b)) if b.is_finite() => (fp - b).abs() / h,
            _ => return None,
        },
    };
    Some(Value {
        value: fp,
        scale: fp.abs() + curvature * x.scale,
        stderr: curvature * x.stderr,
    })
}

impl Evaluator<'_> {
    /// The derivative of `body` along `what` at the point by forward mode: `Ok(None)` where it
    /// declines (see the module documentation), an error only when the term budget runs out.
    pub(super) fn forward_derivative(
        &mut self,
        e: &Expr,
        body: Id,
        what: &Moved,
    ) -> Result<Option<Value>, EvalError> {
        // An integral whose ends move: its derivative needs no value of it (a peak at the end
        // may leave the quadrature undecided where f(t) is plain).
        let leibniz = match &e[body] {
            Math::Integral(_) => match self.leibniz(e, body, what) {
                Ok(d) if self.integrable_here(e, body, what) => Ok((Value::exact(0.0), d)),
                Ok(_) => Err(Decline::Here),
                Err(x) => Err(x),
            },
            _ => Err(Decline::Here),
        };
        let r = match leibniz {
            Err(Decline::Here) => self.dual(e, body, what),
            r => r,
        };
        match r {
            Ok((_, d)) if d.value.is_finite() && d.scale.is_finite() && d.stderr.is_finite() => {
                Ok(Some(d))
            }
            Ok(_) | Err(Decline::Here) => Ok(None),
            Err(Decline::Budget(err)) => Err(err),
        }
    }

    /// The derivative of the integral `id` by Leibniz's rule, where only its ends move and its
    /// integrand is continuous in its variable (so that the fundamental theorem holds at the
    /// ends): f(hi)·hi′ − f(lo)·lo′. d/dt ∫₀ᵗ (1 + exp(−10¹²·(s − 0.3)²)) ds at t = 0.3 is 2,
    /// which differences of the integral over steps wider than the peak read as 1. An integrand
    /// that moves, or that may jump (step, sign, δ, φ, φ′, nested binders), goes to the
    /// tableau. The integral's own value is not needed.
    fn leibniz(&mut self, e: &Expr, id: Id, what: &Moved) -> Result<Value, Decline> {
        let Math::Integral([var, lo, hi, body]) = &e[id] else {
            return Err(Decline::Here);
        };
        let x = e[*var].symbol().ok_or(Decline::Here)?;
        // An integral that binds the moved name (∫ over t in 0..t): its body cannot see the
        // moved variable, but its ends can (d/dt of it is f(t), not 0).
        let binds_moved = matches!(what, Moved::Symbol(t) if *t == x);
        if (!binds_moved && Self::mentions(e, *body, what)) || !continuous(e, *body) {
            return Err(Decline::Here);
        }
        let ((a, da), (b, db)) = (self.dual(e, *lo, what)?, self.dual(e, *hi, what)?);
        let mut d = zero();
        for (end, dend, upper) in [(b, db, true), (a, da, false)] {
            if dend.value == 0.0 && dend.scale == 0.0 {
                continue;
            }
            self.bound.push((x, end.value));
            let f = self.value(e, *body);
            self.bound.pop();
            let f = f?;
            if !f.value.is_finite() {
                return Err(Decline::Here);
            }
            let term = product(f, dend);
            d = sum(d, if upper { term } else { negate(term) });
        }
        Ok(d)
    }

    /// Does the integral `id` exist here: a value at the point, or (where its quadrature is
    /// undecided at the point, a peak at an end) values with the moved symbol 10⁻⁴ of its size
    /// to either side? An integral that diverges (∫₀ᵗ ds/s) has none, and no derivative.
    fn integrable_here(&mut self, e: &Expr, id: Id, what: &Moved) -> bool {
        if self.value(e, id).is_ok() {
            return true;
        }
        let Moved::Symbol(t) = what else {
            return false;
        };
        let Ok(x) = self.lookup(*t) else {
            return false;
        };
        let h = 1e-4 * x.abs().max(1.0);
        [x + h, x - h].into_iter().all(|y| {
            self.bound.push((*t, y));
            let ok = self.value(e, id).is_ok_and(|v| v.value.is_finite());
            self.bound.pop();
            ok
        })
    }

    /// The symbol whose occurrences the moved variable is made of.
    fn moved_name(what: &Moved) -> Symbol {
        match what {
            Moved::Symbol(t) => *t,
            Moved::Entry(s, _) => *s,
        }
    }

    /// Does the subterm mention the moved variable's name at all? (Exact: a walk of the
    /// subterm, for the decisions to decline, which must not depend on the filter's collisions.)
    fn mentions(e: &Expr, id: Id, what: &Moved) -> bool {
        let name = Self::moved_name(what);
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            match &e[i] {
                Math::Symbol(s) if *s == name => return true,
                n => stack.extend(egg::Language::children(n).iter().copied()),
            }
        }
        false
    }

    /// Can the subterm depend on the moved variable? (A 64-bit filter: true when unsure; false
    /// positives cost only time, never a different result.)
    fn may_depend(&self, e: &Expr, id: Id, what: &Moved) -> bool {
        let key = e as *const Expr as usize;
        match self.constants.iter().rev().find(|(k, _)| *k == key) {
            Some((_, table)) if table.mentions.len() == e.as_ref().len() => {
                table.mentions[usize::from(id)] & symbol_bit(Self::moved_name(what)) != 0
            }
            _ => true,
        }
    }

    fn dual(&mut self, e: &Expr, id: Id, what: &Moved) -> Result<Dual, Decline> {
        if self.is_constant(e, id) || !self.may_depend(e, id, what) {
            return Ok((self.value(e, id)?, zero()));
        }
        match self.dual_node(e, id, what) {
            // A decline stands only where the moved name really occurs (the filter may have
            // collided): the result never depends on the filter.
            Err(Decline::Here) if !Self::mentions(e, id, what) => Ok((self.value(e, id)?, zero())),
            // An overflowed or undefined value, or slope, is no derivative: ((a²)^(1/2))′ at
            // a = −3·10¹⁵⁴ read 0 through a² = ∞. The tableau reports the point.
            Ok((v, d)) if !(v.value.is_finite() && d.value.is_finite()) => Err(Decline::Here),
            r => r,
        }
    }

    fn dual_node(&mut self, e: &Expr, id: Id, what: &Moved) -> Result<Dual, Decline> {
        if self.random_key(e, id)?.is_some() {
            return Ok((self.value(e, id)?, zero()));
        }
        let node = &e[id];
        if let Some((a, f, df)) = unary_fns(node) {
            let (x, dx) = self.dual(e, a, what)?;
            // A jump or kink at an argument within rounding error of 0: which side it is on
            // is not known here (the tableau evaluates around it and tests for the kink).
            let kinked = matches!(
                node,
                Math::Abs(_) | Math::Sign(_) | Math::Relu(_) | Math::Step(_)
            );
            if kinked && undecided_jump(&x) {
                return Err(Decline::Here);
            }
            let fx = unary(x, f, df);
            // The chain rule f′(g)·g′ needs f′ at g, even where g′ = 0: √(a²) and acos(1 − a²)
            // at a = 0 have no derivative although g′ = 0 there (f′ is infinite).
            let fp = slope_of(node, x.value, fx.value).ok_or(Decline::Here)?;
            if !fp.is_finite() {
                return Err(Decline::Here);
            }
            if dx.value == 0.0 && dx.scale == 0.0 {
                return Ok((fx, zero()));
            }
            let exact = curvature_of(node, x.value, fx.value);
            let slope =
                slope_value(fp, x, exact, |y| slope_of(node, y, f(y))).ok_or(Decline::Here)?;
            return Ok((fx, product(slope, dx)));
        }
        match node {
            Math::Symbol(s) => {
                let v = self.value(e, id)?;
                let moved = matches!(what, Moved::Symbol(t) if t == s);
                Ok((v, Value::exact(if moved { 1.0 } else { 0.0 })))
            }
            Math::Index(args) => {
                if let Moved::Symbol(_) = what {
                    // The moved symbol is in an index (an array named like it is not indexed by
                    // a real): the index would move; the tableau reports it.
                    return Err(Decline::Here);
                }
                if args[1..].iter().any(|a| Self::mentions(e, *a, what)) {
                    return Err(Decline::Here);
                }
                let v = self.value(e, id)?;
                let Moved::Entry(s, idx) = what else {
                    unreachable!("a symbol declined above")
                };
                let mut buf = [0i64; 8];
                let here = e[args[0]].symbol() == Some(*s)
                    && self.indices(e, &args[1..], &mut buf)?[..] == idx[..];
                Ok((v, Value::exact(if here { 1.0 } else { 0.0 })))
            }
            Math::Add(_) | Math::Sub(_) => {
                let (terms, c, c_scale) = self.linear_chain(e, id);
                let (mut v, mut d) = (zero(), zero());
                for (positive, t) in terms {
                    let (x, dx) = self.dual(e, t, what)?;
                    let (x, dx) = if positive {
                        (x, dx)
                    } else {
                        (negate(x), negate(dx))
                    };
                    v = sum(v, x);
                    d = sum(d, dx);
                }
                v.value += c;
                v.scale += c_scale;
                Ok((v, d))
            }
            Math::Neg(a) => {
                let (x, dx) = self.dual(e, *a, what)?;
                Ok((negate(x), negate(dx)))
            }
            Math::Mul([a, b]) => {
                let ((x, dx), (y, dy)) = (self.dual(e, *a, what)?, self.dual(e, *b, what)?);
                Ok((product(x, y), sum(product(dx, y), product(x, dy))))
            }
            Math::Div([a, b]) => {
                let ((x, dx), (y, dy)) = (self.dual(e, *a, what)?, self.dual(e, *b, what)?);
                let q = quotient(x, y);
                // (dx − q·dy)/y
                Ok((q, quotient(sum(dx, negate(product(q, dy))), y)))
            }
            Math::Pow([a, b]) => {
                let ((x, dx), (y, dy)) = (self.dual(e, *a, what)?, self.dual(e, *b, what)?);
                let v = super::power(x, y);
                let d = if dy.value == 0.0 && dy.scale == 0.0 {
                    // y·x^(y − 1)·dx, where x^(y − 1) is finite: (a²)^(1/2) at a = 0 has no
                    // derivative although dx = 0 there.
                    if x.value == 0.0 && y.value < 1.0 && y.value != 0.0 {
                        return Err(Decline::Here);
                    }
                    let below = Value {
                        value: y.value - 1.0,
                        scale: y.scale + 1.0,
                        stderr: y.stderr,
                    };
                    product(product(y, super::power(x, below)), dx)
                } else if x.value > 0.0 {
                    // x^y·(dy·ln x + y·dx/x)
                    let ln = unary(x, f64::pln, |x, _| 1.0 / x);
                    product(v, sum(product(dy, ln), product(y, quotient(dx, x))))
                } else {
                    return Err(Decline::Here);
                };
                Ok((v, d))
            }
            Math::Sum([var, lo, hi, body]) => {
                if Self::mentions(e, *lo, what) || Self::mentions(e, *hi, what) {
                    return Err(Decline::Here);
                }
                let var = e[*var].symbol().ok_or(Decline::Here)?;
                if matches!(what, Moved::Symbol(t) if *t == var) {
                    // The sum binds the moved name: its body cannot see the moved variable.
                    return Ok((self.value(e, id)?, zero()));
                }
                let (lo, hi) = (self.index(e, *lo)?, self.index(e, *hi)?);
                self.spend(lo, hi)?;
                let (mut v, mut d) = (zero(), zero());
                let before = self.terms;
                for j in lo..=hi {
                    self.bound.push((var, j as f64));
                    let t = self.dual(e, *body, what);
                    self.bound.pop();
                    let (x, dx) = t?;
                    if j == lo {
                        self.project(before, lo, hi)?;
                    }
                    v = sum(v, x);
                    d = sum(d, dx);
                }
                Ok((v, d))
            }
            Math::Max([a, b]) | Math::Min([a, b]) => {
                let ((x, dx), (y, dy)) = (self.dual(e, *a, what)?, self.dual(e, *b, what)?);
                if x.value.is_nan() || y.value.is_nan() {
                    return Ok((Value::exact(f64::NAN), zero()));
                }
                if x.value == y.value {
                    return Err(Decline::Here);
                }
                let first = (x.value > y.value) == matches!(node, Math::Max(_));
                Ok(if first { (x, dx) } else { (y, dy) })
            }
            Math::LeakyRelu([a, s]) => {
                let ((x, dx), (k, dk)) = (self.dual(e, *a, what)?, self.dual(e, *s, what)?);
                if x.value == 0.0 {
                    return Err(Decline::Here);
                }
                Ok(if x.value > 0.0 {
                    (x, dx)
                } else {
                    (product(x, k), sum(product(dx, k), product(x, dk)))
                })
            }
            Math::Phi(a) => {
                let act = self.env.phi.ok_or(Decline::Here)?;
                let (x, dx) = self.dual(e, *a, what)?;
                let v = self.value(e, id)?;
                if dx.value == 0.0 && dx.scale == 0.0 {
                    return Ok((v, zero()));
                }
                let kinked = matches!(
                    act,
                    Activation::Relu
                        | Activation::Step
                        | Activation::Abs
                        | Activation::LeakyRelu { .. }
                );
                if kinked && (x.value == 0.0 || undecided_jump(&x)) {
                    return Err(Decline::Here);
                }
                let slope = slope_value(act.deriv(x.value), x, None, |y| Some(act.deriv(y)))
                    .ok_or(Decline::Here)?;
                let slope = product(Value::exact(self.env.phi_gain.0), slope);
                Ok((v, product(slope, dx)))
            }
            Math::Integral(_) => {
                let d = self.leibniz(e, id, what)?;
                Ok((self.value(e, id)?, d))
            }
            // Delta of moving indices, E[…], gauss, inner derivatives, φ′ and the rest: the
            // tableau.
            _ => Err(Decline::Here),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Env, Evaluator, Moved};
    use egg::Symbol;

    fn env() -> Env {
        let mut env = Env {
            seed: 3,
            ..Env::default()
        };
        for (s, v) in [("t", 0.37), ("x", -1.3), ("n", 4.0), ("a", 2.0), ("b", 3.0)] {
            env.scalars.insert(Symbol::from(s), v);
        }
        env
    }

    /// Forward mode and Ridders' tableau on the same body: (forward, tableau, tableau's error).
    fn both(body: &str, what: Moved) -> (Option<f64>, f64, f64) {
        let e = crate::expr::parse(body).unwrap();
        let env = env();
        let mut ev = Evaluator::new(&env);
        let root = egg::Id::from(e.as_ref().len() - 1);
        ev.with_constants(&e, |ev| {
            let fwd = ev
                .forward_derivative(&e, root, &what)
                .unwrap()
                .map(|d| d.value);
            let t0 = match &what {
                Moved::Symbol(t) => ev.lookup(*t).unwrap(),
                Moved::Entry(s, idx) => {
                    ev.env.entry_scale(*s) * ev.env.entry_pattern(*s, ev.name_hash(*s), idx)
                }
            };
            let d = crate::numeric::diff::derivative(t0, None, |x| {
                match &what {
                    Moved::Symbol(t) => ev.bound.push((*t, x)),
                    Moved::Entry(s, idx) => ev.perturbed.push((*s, idx.clone(), x)),
                }
                let r = ev.value(&e, root);
                match &what {
                    Moved::Symbol(_) => ev.bound.pop().map(|_| ()),
                    Moved::Entry(..) => ev.perturbed.pop().map(|_| ()),
                };
                r.map(|v| (nalgebra::DMatrix::from_element(1, 1, v.value), v.scale))
                    .map_err(super::super::Failure::Inner)
            })
            .ok()
            .unwrap();
            (fwd, d.value[(0, 0)], d.error)
        })
    }

    /// Forward mode does not decline on `body` and agrees with the tableau to 1e-8 relative
    /// beyond ten times the tableau's own error estimate.
    fn agrees(body: &str, what: Moved) {
        let (fwd, tab, err) = both(body, what);
        let fwd = fwd.unwrap_or_else(|| panic!("{body}: forward mode declined"));
        assert!(
            (fwd - tab).abs() <= 1e-8 * (1.0 + tab.abs()) + 10.0 * err,
            "{body}: forward {fwd}, tableau {tab} ± {err}"
        );
    }

    #[test]
    fn forward_mode_agrees_with_the_tableau() {
        let t = || Moved::Symbol(Symbol::from("t"));
        for body in [
            "t^3 - 2*t + 1",
            "sin(t)*exp(-t^2)/(1 + t)",
            "sqrt(1 - t^2)*acos(t) + asin(t)*atan(t)",
            "log(t)*t^(1/3) + t^t",
            "tanh(t)*sigmoid(t) + softplus(t) + gelu(t) + erf(t)",
            "cosh(t) - sinh(t)*tan(t) + cos(t)",
            "relu(t - 1) + abs(t) + step(t)",
            "max(t, 0.2)*min(t^2, 1) + leaky_relu(t - 1, 0.1)",
            "sum(k in 1..n, sin(k*t)/k)",
            "sum(t in 1..n, t^2) + t",
            "a*t/(b - t)",
            "x^2*t",
        ] {
            agrees(body, t());
        }
        // By an entry: W[1, 2] moves, W[2, 1] and W[1, 1] do not.
        let entry = || Moved::Entry(Symbol::from("W"), vec![1, 2]);
        for body in [
            "sum(i in 1..2, sum(j in 1..3, W[i, j]*x^j))",
            "tanh(sum(j in 1..3, W[1, j]*W[j, 2]))",
            "W[2, 1]*W[1, 1] + W[1, 2]^3",
        ] {
            agrees(body, entry());
        }
    }

    /// Where the chain rule at the point is not the derivative, or an integer would move, forward
    /// mode declines (and the tableau decides).
    #[test]
    fn forward_mode_declines_at_kinks_and_moving_indices() {
        let mut env = env();
        env.scalars.insert(Symbol::from("t"), 0.0);
        for body in [
            "relu(t)",
            "abs(t)*2",
            "max(t, 0)",
            "sqrt(t)",
            // An infinite slope times an inner derivative of 0 is no derivative.
            "sqrt(t^2)",
            "(t^2)^(1/2)",
            "acos(1 - t^2)",
            "W[1, t + 1]",
            "sum(k in 1..t + 1, k)",
            "E[t*z]",
        ] {
            let e = crate::expr::parse(body).unwrap();
            let mut ev = Evaluator::new(&env);
            let root = egg::Id::from(e.as_ref().len() - 1);
            let r = ev.with_constants(&e, |ev| {
                ev.forward_derivative(&e, root, &Moved::Symbol(Symbol::from("t")))
            });
            assert!(matches!(r, Ok(None)), "{body}: {r:?}");
        }
    }
}
