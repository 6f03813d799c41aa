//! Integrands compiled once and run at every quadrature node.
//!
//! The evaluator walks the term at each node of a quadrature (about 10⁴ to 10⁵ nodes per
//! `gauss(...)`), asking at every subterm whether it is random, constant or a chain of sums.
//! [`Program`] asks those questions once: the subterms that do not mention the integration
//! variables are evaluated once, and the rest becomes a short stack program over
//! [`Value`]s with the evaluator's own arithmetic (the same magnitude scale and error
//! propagation), so a compiled integrand gives the evaluator's values bit for bit.

use super::eval::{product, quotient, unary, undecided_jump, underflowed, Value};

/// One instruction of a [`Program`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A value fixed for the whole integral (a constant, or a subterm free of the variables).
    Push(Value),
    /// The integration variable with this slot.
    Var(usize),
    /// x · y.
    Mul,
    /// x / y.
    Div,
    /// −x.
    Neg,
    /// x^y.
    Pow,
    /// f(x), with f's derivative for the error propagation; `true` for an f that is 0 at no
    /// argument but 0 (exp, sigmoid, softplus, gelu), whose 0 elsewhere is an underflow.
    Unary(fn(f64) -> f64, super::eval::Deriv, bool),
    /// f(x) for an f that jumps at 0 (step, sign), counted where x is within rounding error
    /// of 0.
    Jump(fn(f64) -> f64, super::eval::Deriv),
    /// A chain of + and −: pops one value per sign (true: added) and adds the constant `c` of
    /// the chain's constant terms, whose magnitude scale is `s`.
    Linear(Vec<bool>, f64, f64),
    /// The terms of a sum over an index, unrolled: pops this many values and adds them.
    Sum(usize),
}

/// A compiled integrand: run it with the variables' values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    pub(crate) ops: Vec<Op>,
}

impl Program {
    /// Its instructions as numbers, appended to `out`: two programs with the same fingerprint
    /// compute the same function (constants by their bits, functions by their addresses).
    pub(crate) fn fingerprint(&self, out: &mut Vec<u64>) {
        let value = |v: &Value| [v.value.to_bits(), v.scale.to_bits(), v.stderr.to_bits()];
        out.push(self.ops.len() as u64);
        for op in &self.ops {
            match op {
                Op::Push(v) => {
                    out.push(0);
                    out.extend(value(v));
                }
                Op::Var(i) => out.extend([1, *i as u64]),
                Op::Mul => out.push(2),
                Op::Div => out.push(3),
                Op::Neg => out.push(4),
                Op::Pow => out.push(5),
                Op::Unary(f, df, z) => {
                    out.extend([6, *f as usize as u64, *df as usize as u64, u64::from(*z)])
                }
                Op::Jump(f, df) => out.extend([7, *f as usize as u64, *df as usize as u64]),
                Op::Linear(signs, c, sc) => {
                    out.extend([8, signs.len() as u64, c.to_bits(), sc.to_bits()]);
                    out.extend(signs.iter().map(|b| u64::from(*b)));
                }
                Op::Sum(n) => out.extend([9, *n as u64]),
            }
        }
    }

    /// The sum terms one run adds up: what [`super::eval::Evaluator`] charges to its budget for
    /// walking the term once.
    pub(crate) fn sum_terms(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Sum(n) => *n,
                _ => 0,
            })
            .sum()
    }

    /// The integrand at `vars`, using `stack` as scratch space; adds to `undecided` the jumps
    /// whose argument is within rounding error of 0 ([`undecided_jump`]).
    pub(crate) fn run(&self, vars: &[f64], stack: &mut Vec<Value>, undecided: &mut u64) -> Value {
        stack.clear();
        for op in &self.ops {
            match op {
                Op::Push(v) => stack.push(*v),
                Op::Var(i) => stack.push(Value::exact(vars[*i])),
                Op::Mul => {
                    let y = stack.pop().expect("operand");
                    let x = stack.pop().expect("operand");
                    stack.push(product(x, y));
                }
                Op::Div => {
                    let y = stack.pop().expect("operand");
                    let x = stack.pop().expect("operand");
                    stack.push(quotient(x, y));
                }
                Op::Neg => {
                    let x = stack.pop().expect("operand");
                    stack.push(Value {
                        value: -x.value,
                        ..x
                    });
                }
                Op::Pow => {
                    let y = stack.pop().expect("operand");
                    let x = stack.pop().expect("operand");
                    stack.push(super::eval::power(x, y));
                }
                Op::Unary(f, df, never_zero) => {
                    let x = stack.pop().expect("operand");
                    let v = unary(x, *f, *df);
                    stack.push(underflowed(v, *never_zero && x.value != 0.0));
                }
                Op::Jump(f, df) => {
                    let x = stack.pop().expect("operand");
                    if undecided_jump(&x) {
                        *undecided += 1;
                    }
                    stack.push(unary(x, *f, *df));
                }
                Op::Sum(n) => {
                    let base = stack.len() - n;
                    let mut acc = Value {
                        value: 0.0,
                        scale: 0.0,
                        stderr: 0.0,
                    };
                    for x in &stack[base..] {
                        acc.value += x.value;
                        acc.scale += x.scale;
                        acc.stderr += x.stderr;
                    }
                    stack.truncate(base);
                    stack.push(acc);
                }
                Op::Linear(signs, c, s) => {
                    let base = stack.len() - signs.len();
                    let mut acc = Value {
                        value: 0.0,
                        scale: 0.0,
                        stderr: 0.0,
                    };
                    for (x, positive) in stack[base..].iter().zip(signs) {
                        acc.value += if *positive { x.value } else { -x.value };
                        acc.scale += x.scale;
                        acc.stderr += x.stderr;
                    }
                    stack.truncate(base);
                    acc.value += c;
                    acc.scale += s;
                    stack.push(acc);
                }
            }
        }
        stack.pop().expect("a result")
    }
}
