//! A lower bound on what evaluating a term charges against [`TERM_BUDGET`], computed before the
//! evaluation: a term whose sums alone, counted at the sizes of the point, exceed the budget is
//! refused at once instead of after spending the whole budget on its first terms (a Hessian read
//! along two directions at n0 = 185 has 185⁴ terms; the running projection of
//! [`Evaluator::project`] needs the first outer term, itself ~10⁶ terms, to see it).
//!
//! The bound only counts what every evaluation path charges: a sum over `lo..=hi` charges its
//! `hi − lo + 1` terms and evaluates its body once per term (the hoisted factors are charged as
//! if they were not hoisted), a derivative evaluates its body at least once (forward mode or the
//! difference scheme), and every other node evaluates all its children. A constant subterm, an
//! expectation, a Gaussian integral, an integral and a matrix node count 0 (they may take paths
//! that do not evaluate their body term by term), as does a sum whose range depends on a name
//! bound inside the term or is not plain arithmetic on the point's values (it may be empty).

use egg::{Id, Symbol};

use super::{EvalError, Evaluator, TERM_BUDGET};
use crate::expr::{Expr, Math};

impl Evaluator<'_> {
    /// Refuse `e` (rooted at `root`) with [`EvalError::Budget`] when the terms its sums must
    /// charge, with what is already spent, exceed [`TERM_BUDGET`].
    pub(super) fn refuse_unaffordable(&mut self, e: &Expr, root: Id) -> Result<(), EvalError> {
        let least = self.least_terms(e, root, &mut vec![]);
        if least.saturating_add(u128::from(self.terms)) > u128::from(TERM_BUDGET) {
            self.terms = TERM_BUDGET + 1;
            return Err(EvalError::Budget(format!(
                "its sums have at least {least} terms at these sizes"
            )));
        }
        Ok(())
    }

    /// The least number of terms evaluating the subterm charges (see the module's doc); `bound`
    /// holds the names bound by enclosing sums, integrals and derivatives.
    fn least_terms(&mut self, e: &Expr, id: Id, bound: &mut Vec<Symbol>) -> u128 {
        if self.is_constant(e, id) {
            return 0;
        }
        match &e[id] {
            Math::Sum([v, lo, hi, body]) => {
                let count = match (self.range_end(e, *lo, bound), self.range_end(e, *hi, bound)) {
                    (Some(lo), Some(hi)) => (i128::from(hi) - i128::from(lo) + 1).max(0) as u128,
                    _ => return 0,
                };
                if count == 0 {
                    return 0;
                }
                let Some(var) = e[*v].symbol() else {
                    return 0;
                };
                bound.push(var);
                let inner = self.least_terms(e, *body, bound);
                bound.pop();
                count.saturating_mul(inner.saturating_add(1))
            }
            Math::Deriv([t, body]) => {
                let var = e[*t].symbol();
                bound.extend(var);
                let inner = self.least_terms(e, *body, bound);
                if var.is_some() {
                    bound.pop();
                }
                inner
            }
            Math::Expect(_)
            | Math::Gauss(_)
            | Math::Integral(_)
            | Math::MatMul(_)
            | Math::MatExp(_) => 0,
            node if node.tensor_name().is_some() => 0,
            node => egg::Language::children(node).iter().fold(0u128, |acc, c| {
                acc.saturating_add(self.least_terms(e, *c, bound))
            }),
        }
    }

    /// The value of a sum's end when it is plain arithmetic on numbers and the point's scalars
    /// (no name bound inside the term, no random symbol, no node that charges the budget).
    fn range_end(&mut self, e: &Expr, id: Id, bound: &[Symbol]) -> Option<i64> {
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            match &e[i] {
                Math::Num(_) => {}
                Math::Symbol(s) => {
                    if bound.contains(s) || self.is_random(*s) || !self.has_value(*s) {
                        return None;
                    }
                }
                n @ (Math::Add(_)
                | Math::Sub(_)
                | Math::Mul(_)
                | Math::Div(_)
                | Math::Neg(_)
                | Math::Pow(_)) => stack.extend(egg::Language::children(n).iter().copied()),
                _ => return None,
            }
        }
        let spent = self.terms;
        let end = self.index(e, id).ok();
        self.terms = spent;
        end
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Env, EvalError, Evaluator};
    use crate::expr::Expr;

    fn env() -> Env {
        let mut env = Env::default();
        env.scalars.insert("n".into(), 400.0);
        env
    }

    /// A term over the budget is refused before any term is spent; one whose inner range
    /// depends on the outer index is not over-counted (its count is unknown, so 0).
    #[test]
    fn unaffordable_terms_are_refused_before_they_are_evaluated() {
        let env = env();
        let e: Expr = "(sum i 1 n (sum j 1 n (sum k 1 n 1)))".parse().unwrap();
        let mut ev = Evaluator::new(&env);
        let least = ev.least_terms(&e, egg::Id::from(e.as_ref().len() - 1), &mut vec![]);
        assert_eq!(least, 400 * (1 + 400 * (1 + 400)));
        assert!(matches!(ev.eval(&e), Err(EvalError::Budget(m)) if m.contains("at least")));
        // Σ_{i ≤ 1000} Σ_{j = i..i} 1: 2000 terms; the inner range moves with i.
        let e: Expr = "(sum i 1 1000 (sum j i i 1))".parse().unwrap();
        let mut ev = Evaluator::new(&env);
        assert_eq!(
            ev.least_terms(&e, egg::Id::from(e.as_ref().len() - 1), &mut vec![]),
            1000
        );
        assert_eq!(ev.eval(&e).unwrap().value, 1000.0);
        // A derivative evaluates its body at least once; an expectation counts 0; a range
        // that moves with the derivative's variable counts 0.
        let mut env = env;
        env.scalars.insert("t".into(), 0.5);
        let e: Expr = "(+ (+ (d t (sum j 1 n t)) (E (sum j 1 n n))) (d n (sum j 1 n n)))"
            .parse()
            .unwrap();
        let mut ev = Evaluator::new(&env);
        assert_eq!(
            ev.least_terms(&e, egg::Id::from(e.as_ref().len() - 1), &mut vec![]),
            400
        );
    }
}
