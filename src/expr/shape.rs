//! Shapes: every subterm is a scalar or a (square) matrix, checked when a term is loaded.
//!
//! `*` is the commutative product of scalars, or a scalar times a matrix; `@` is the matrix
//! product. The prover's polynomial normal form treats `*` as commutative, so a product of two
//! matrices written with `*` (or a matrix power `A^2`, which means `A*A` there) would let it prove
//! `A*B = B*A`: such terms are refused here, with the position of the offending node.

use egg::{Id, Symbol};

use super::binders::root;
use super::lang::{Expr, Math};

/// The shape of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A number.
    Scalar,
    /// A square matrix.
    Matrix,
}

/// A term whose shapes do not fit: the node and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    /// The offending node.
    pub at: Id,
    /// What is wrong, in words.
    pub message: String,
}

/// The shape of `e`, given which symbols stand for matrices (`I` always does).
pub fn shape_of(e: &Expr, is_matrix: &dyn Fn(Symbol) -> bool) -> Result<Shape, ShapeError> {
    go(e, root(e), is_matrix)
}

fn go(e: &Expr, id: Id, is_matrix: &dyn Fn(Symbol) -> bool) -> Result<Shape, ShapeError> {
    use Shape::*;
    let err = |message: String| Err(ShapeError { at: id, message });
    let scalar = |c: Id, what: &str| -> Result<(), ShapeError> {
        match go(e, c, is_matrix)? {
            Scalar => Ok(()),
            Matrix => Err(ShapeError {
                at: id,
                message: format!("{what} takes a scalar, but is given a matrix"),
            }),
        }
    };
    let zero = |c: Id| matches!(&e[c], Math::Num(q) if q.is_zero());
    Ok(match &e[id] {
        Math::Symbol(s) => {
            if s.as_str() == "I" || is_matrix(*s) {
                Matrix
            } else {
                Scalar
            }
        }
        Math::Num(_) => Scalar,
        Math::Add([a, b]) | Math::Sub([a, b]) => {
            match (go(e, *a, is_matrix)?, go(e, *b, is_matrix)?) {
                (Scalar, Scalar) => Scalar,
                (Matrix, Matrix) => Matrix,
                // 0 is the zero matrix.
                (Matrix, Scalar) if zero(*b) => Matrix,
                (Scalar, Matrix) if zero(*a) => Matrix,
                _ => {
                    return err(
                        "a scalar is added to a matrix (write c*I for c times the identity)".into(),
                    )
                }
            }
        }
        Math::Mul([a, b]) => match (go(e, *a, is_matrix)?, go(e, *b, is_matrix)?) {
            (Scalar, Scalar) => Scalar,
            (Matrix, Matrix) => return err(
                "`*` between two matrices: write `@` for the matrix product (`*` is commutative)"
                    .into(),
            ),
            _ => Matrix,
        },
        Math::Div([a, b]) => {
            if go(e, *b, is_matrix)? == Matrix {
                return err("division by a matrix".into());
            }
            go(e, *a, is_matrix)?
        }
        Math::Neg(a) => go(e, *a, is_matrix)?,
        Math::Pow([a, b]) => {
            if go(e, *a, is_matrix)? == Matrix {
                return err("a power of a matrix: write the product with `@`".into());
            }
            scalar(*b, "an exponent")?;
            Scalar
        }
        Math::MatMul([a, b]) => {
            if go(e, *a, is_matrix)? == Scalar || go(e, *b, is_matrix)? == Scalar {
                return err("`@` takes a matrix on each side (`*` multiplies by a scalar)".into());
            }
            Matrix
        }
        Math::MatExp(a) => {
            if go(e, *a, is_matrix)? == Scalar {
                return err("mexp takes a matrix (write exp for a scalar)".into());
            }
            Matrix
        }
        Math::Deriv([t, body]) => {
            scalar(*t, "d/d…")?;
            go(e, *body, is_matrix)?
        }
        Math::Sum([_, lo, hi, body]) => {
            scalar(*lo, "a sum's range")?;
            scalar(*hi, "a sum's range")?;
            go(e, *body, is_matrix)?
        }
        Math::Integral([_, lo, hi, body]) => {
            scalar(*lo, "an integral's range")?;
            scalar(*hi, "an integral's range")?;
            scalar(*body, "an integral")?;
            Scalar
        }
        Math::Expect(x) => go(e, *x, is_matrix)?,
        Math::Gauss([a, b, c, body]) => {
            for x in [a, b, c, body] {
                scalar(*x, "gauss(...)")?;
            }
            Scalar
        }
        // An entry of an array or of a matrix is a number; indices are numbers.
        Math::Index(args) => {
            for i in &args[1..] {
                scalar(*i, "an index")?;
            }
            Scalar
        }
        Math::Delta([a, b])
        | Math::Atan2([a, b])
        | Math::Max([a, b])
        | Math::Min([a, b])
        | Math::LeakyRelu([a, b]) => {
            scalar(*a, "this function")?;
            scalar(*b, "this function")?;
            Scalar
        }
        n => {
            let name = n.unary_name().unwrap_or("this function");
            for c in egg::Language::children(n) {
                scalar(*c, name)?;
            }
            Scalar
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(s: &str) -> Result<Shape, String> {
        let e: Expr = s.parse().unwrap();
        shape_of(&e, &|s| ["A", "B"].contains(&s.as_str())).map_err(|e| e.message)
    }

    #[test]
    fn matrices_do_not_commute_through_star() {
        assert_eq!(shape("(@ A B)"), Ok(Shape::Matrix));
        assert_eq!(shape("(* 2 (+ A B))"), Ok(Shape::Matrix));
        assert_eq!(shape("(+ A 0)"), Ok(Shape::Matrix));
        assert!(shape("(* A B)")
            .unwrap_err()
            .contains("`*` between two matrices"));
        assert!(shape("(^ (+ A B) 2)")
            .unwrap_err()
            .contains("power of a matrix"));
        assert!(shape("(+ A 1)").is_err());
        assert!(shape("(exp A)").is_err());
        assert!(shape("(mexp x)").is_err());
        assert_eq!(shape("(idx A i j)"), Ok(Shape::Scalar));
    }
}
