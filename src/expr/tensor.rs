//! Vectors and matrices of declared sizes, written out as entries and sums.
//!
//! A derivation may declare `x = "vector n0"`, `W = "matrix n1 x n0"` and a parameter vector
//! made of blocks, `theta = "params W, v"`. Terms then use `@` (matrix product), `transpose`,
//! `dot`, `norm`, `trace`, `outer`, entrywise functions (`relu(W@x)`), entries (`W[i, j]`) and
//! `grad(theta, f)`, the gradient of a scalar.
//!
//! [`infer`] gives every subterm its shape and refuses a term whose shapes do not fit, at the
//! offending node ("`@`: W is n1 × n0, x has n0 + 1 entries"). [`lower`] writes a scalar term
//! as the scalar language the prover and the evaluator know: an entry of `W@x` is
//! `sum(k₁ in 1..n0, W[i, k₁]*x[k₁])`, `dot(x, y)` a sum of products, and a gradient's entry
//! the partial derivative by one parameter, `d/dW[k₁, k₂](f)`; so `dot(grad(θ, f(x)),
//! grad(θ, f(x')))` — the NTK — is a sum over every parameter block and entry of products of
//! partial derivatives, which the calculus theory differentiates by the chain rule and the sums
//! theory collapses (δ-elimination).
//!
//! Sizes are compared as written (`n1` and `n1` agree; `n1` and `n0 + 1` do not, even where they
//! happen to be equal). The indices the lowering introduces are named `k₁`, `k₂`, … (a
//! subscript digit cannot be typed in a name, so they never capture a user's symbol).

use std::collections::HashMap;

use egg::{Id, Language, Symbol};

use super::binders::root;
use super::lang::{Constant, Expr, Math};
use super::print::text;
use super::shape::ShapeError;

/// The shape of a subterm.
#[derive(Debug, Clone, PartialEq)]
pub enum TShape {
    /// A number (or a term the tensor layer does not concern itself with).
    Scalar,
    /// An array of `rows × cols` entries; a vector of n entries is `n × 1`, its transpose `1 × n`.
    Tensor(Dim, Dim),
    /// A vector over the parameters of a declared parameter group (a gradient).
    Params(Symbol),
}

/// A size: a number or a term in size symbols, compared by its text.
#[derive(Debug, Clone)]
pub struct Dim {
    expr: Expr,
    text: String,
}

impl PartialEq for Dim {
    fn eq(&self, o: &Dim) -> bool {
        self.text == o.text
    }
}

impl Dim {
    /// The size `e`.
    pub fn new(expr: Expr) -> Dim {
        let text = text(&expr);
        Dim { expr, text }
    }
    fn is_one(&self) -> bool {
        self.text == "1"
    }
    /// The size as a term.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What the derivation declares: the sized vectors and matrices, the parameter groups, and the
/// shapes of definitions (for terms that use them before they are unfolded).
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    /// `x = "vector n"` is `(n, 1)`; `W = "matrix m x n"` is `(m, n)`.
    pub tensors: HashMap<Symbol, (Dim, Dim)>,
    /// The tensors declared as vectors: their entries take one index (`x[i]`), a matrix's two
    /// (`W[i, j]`, also when a size is 1).
    pub vectors: std::collections::HashSet<Symbol>,
    /// `theta = "params W, v"`: the blocks, in order.
    pub params: HashMap<Symbol, Vec<Symbol>>,
    /// Definitions whose value is not a number.
    pub defined: HashMap<Symbol, TShape>,
    /// Symbols written through a factor: a covariance S = F·Fᵀ, a Gaussian vector z = F·ξ.
    pub factored: HashMap<Symbol, Factored>,
    /// Square matrices of unspecified size (`A = "matrix"`): numbers to this module, which
    /// names them as such in its errors.
    pub sizeless: std::collections::HashSet<Symbol>,
}

/// A covariance S (entries Σ_k F[i, k]·F[j, k]) or a Gaussian vector z ~ N(0, F·Fᵀ) (entries
/// Σ_k F[i, k]·ξ[k] with ξ i.i.d. N(0, 1)): E[z zᵀ] = F·E[ξ ξᵀ]·Fᵀ = F·Fᵀ, and every positive
/// semi-definite matrix is F·Fᵀ for some F, so a claim about all covariances is a claim about
/// all factors.
#[derive(Debug, Clone)]
pub struct Factored {
    /// The factor F (size × size).
    pub factor: Symbol,
    /// ξ, for a Gaussian vector; `None` for the covariance itself.
    pub noise: Option<Symbol>,
    /// The size.
    pub size: Dim,
}

impl Shapes {
    /// Does the term use a sized vector or matrix, a parameter group or a vector operation?
    pub fn involved(&self, e: &Expr) -> bool {
        e.as_ref().iter().any(|n| match n {
            Math::Symbol(s) => {
                self.tensors.contains_key(s)
                    || self.params.contains_key(s)
                    || self.defined.contains_key(s)
            }
            n => n.tensor_name().is_some(),
        })
    }

    fn describe(&self, e: &Expr, id: Id, shape: &TShape) -> String {
        let name = match &e[id] {
            Math::Symbol(s) => format!("`{s}`"),
            _ => format!("`{}`", super::print::text_at(e, id)),
        };
        match shape {
            TShape::Scalar
                if super::binders::free_symbols(e, id)
                    .iter()
                    .any(|s| self.sizeless.contains(s)) =>
            {
                format!(
                "{name} is a matrix of unspecified size (declare its sizes, `matrix n x n`, to take its transpose, trace, norm or entries; without sizes only +, −, scalar factors, @ and mexp apply)"
                )
            }
            TShape::Scalar => format!("{name} is a number"),
            TShape::Tensor(r, c) if c.is_one() => format!("{name} has {r} entries"),
            TShape::Tensor(r, c) if r.is_one() => format!("{name} is a row of {c} entries"),
            TShape::Tensor(r, c) => format!("{name} is {r} × {c}"),
            TShape::Params(p) => format!("{name} is a vector over the parameters {p}"),
        }
    }
}

fn fail<T>(at: Id, message: String) -> Result<T, ShapeError> {
    Err(ShapeError { at, message })
}

/// The shape of `e`; an error names the node whose operands do not fit.
pub fn infer(e: &Expr, shapes: &Shapes) -> Result<TShape, ShapeError> {
    let mut memo = vec![None; e.as_ref().len()];
    go(e, root(e), shapes, &mut memo)
}

fn go(e: &Expr, id: Id, sh: &Shapes, memo: &mut Vec<Option<TShape>>) -> Result<TShape, ShapeError> {
    if let Some(s) = &memo[usize::from(id)] {
        return Ok(s.clone());
    }
    let s = go_node(e, id, sh, memo)?;
    memo[usize::from(id)] = Some(s.clone());
    Ok(s)
}

fn go_node(
    e: &Expr,
    id: Id,
    sh: &Shapes,
    memo: &mut Vec<Option<TShape>>,
) -> Result<TShape, ShapeError> {
    use TShape::*;
    let mut of = |c: Id| go(e, c, sh, memo);
    let node = &e[id];
    let scalar_only = |shape: &TShape, c: Id, what: &str| -> Result<(), ShapeError> {
        match shape {
            Scalar => Ok(()),
            s => fail(
                id,
                format!("{what} takes a number, but {}", sh.describe(e, c, s)),
            ),
        }
    };
    // Two operands whose shapes do not fit: what is wrong, then both shapes.
    let two =
        |what: String, a: Id, sa: &TShape, b: Id, sb: &TShape| -> Result<TShape, ShapeError> {
            fail(
                id,
                format!(
                    "{what}: {}, {}",
                    sh.describe(e, a, sa),
                    sh.describe(e, b, sb)
                ),
            )
        };
    Ok(match node {
        Math::Num(_) => Scalar,
        Math::Symbol(s) => {
            if let Some((r, c)) = sh.tensors.get(s) {
                Tensor(r.clone(), c.clone())
            } else if sh.params.contains_key(s) {
                Params(*s)
            } else if let Some(d) = sh.defined.get(s) {
                d.clone()
            } else {
                Scalar
            }
        }
        Math::Index(args) => {
            for a in &args[1..] {
                let s = of(*a)?;
                scalar_only(&s, *a, "an index")?;
            }
            if let Some(head) = e[args[0]].symbol() {
                if sh.tensors.contains_key(&head) {
                    let want = if sh.vectors.contains(&head) { 1 } else { 2 };
                    if args.len() - 1 != want {
                        let what = if want == 1 {
                            "a vector: an entry takes 1 index"
                        } else {
                            "a matrix: an entry takes 2 indices, `W[i, j]`"
                        };
                        return fail(id, format!("`{head}` is {what}"));
                    }
                    // A number written as an index must name an entry: whole, from 1, and
                    // within a size written as a number (`x[4]` of a vector of 3 entries, `x[0]`,
                    // `x[1.5]` are mistakes at every point, not points outside a domain).
                    let (r, c) = &sh.tensors[&head];
                    for (k, a) in args[1..].iter().enumerate() {
                        let Math::Num(q) = &e[*a] else { continue };
                        let size = if k == 0 { r } else { c };
                        let bound = match size.expr().as_ref() {
                            [Math::Num(n)] if n.0.is_integer() => Some(n.0.clone()),
                            _ => None,
                        };
                        let q = &q.0;
                        let outside = !q.is_integer()
                            || *q < num_rational::BigRational::from_integer(1.into())
                            || bound.as_ref().is_some_and(|n| q > n);
                        if outside {
                            let range = match &bound {
                                Some(n) => format!("1..{n}"),
                                None => format!("whole numbers from 1 to {size}"),
                            };
                            return fail(
                                id,
                                format!(
                                    "`{head}[…]`: the index {q} names no entry (indices run over {range})"
                                ),
                            );
                        }
                    }
                }
                if sh.params.contains_key(&head) {
                    return fail(
                        id,
                        format!("`{head}` is a parameter group: index its blocks, not the group"),
                    );
                }
            }
            Scalar
        }
        Math::Add([a, b]) | Math::Sub([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            let zero = |c: Id| matches!(&e[c], Math::Num(q) if q.is_zero());
            match (&sa, &sb) {
                _ if sa == sb => sa,
                (Scalar, _) if zero(*a) => sb,
                (_, Scalar) if zero(*b) => sa,
                _ => {
                    let op = if matches!(node, Math::Add(_)) {
                        "+"
                    } else {
                        "−"
                    };
                    return two(
                        format!("`{op}` needs two terms of one shape"),
                        *a,
                        &sa,
                        *b,
                        &sb,
                    );
                }
            }
        }
        Math::Mul([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            match (&sa, &sb) {
                (Scalar, _) => sb,
                (_, Scalar) => sa,
                (Tensor(r1, c1), Tensor(r2, c2)) if c1.is_one() && c2.is_one() && r1 == r2 => sa,
                _ => {
                    return two("`*` multiplies by a number or two vectors of one length entrywise (write `@` for the matrix product, `dot` for the inner product)".into(), *a, &sa, *b, &sb)
                }
            }
        }
        Math::Div([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            if sb != Scalar {
                return fail(id, format!("division by {}", sh.describe(e, *b, &sb)));
            }
            sa
        }
        Math::Neg(a) => of(*a)?,
        Math::Pow([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            scalar_only(&sb, *b, "an exponent")?;
            match &sa {
                Tensor(_, c) if !c.is_one() => {
                    return fail(
                        id,
                        format!(
                            "a power of a matrix: {} (write the product with `@`)",
                            sh.describe(e, *a, &sa)
                        ),
                    )
                }
                Params(_) => {
                    return fail(
                        id,
                        "a power of a gradient (write `norm(g)^2` or `dot(g, g)`)".into(),
                    )
                }
                _ => sa,
            }
        }
        Math::MatMul([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            match (&sa, &sb) {
                (Tensor(r1, c1), Tensor(r2, c2)) => {
                    if c1 != r2 {
                        return two(
                            "`@` needs as many columns on the left as rows on the right".into(),
                            *a,
                            &sa,
                            *b,
                            &sb,
                        );
                    }
                    if r1.is_one() && c2.is_one() {
                        Scalar
                    } else {
                        Tensor(r1.clone(), c2.clone())
                    }
                }
                (Scalar, Scalar) => Scalar, // square matrices without sizes: expr::shape
                _ => {
                    return two(
                        "`@` takes a vector or matrix on each side".into(),
                        *a,
                        &sa,
                        *b,
                        &sb,
                    )
                }
            }
        }
        Math::Transpose(a) => match of(*a)? {
            Tensor(r, c) => Tensor(c, r),
            s => {
                return fail(
                    id,
                    format!(
                        "transpose takes a vector or matrix: {}",
                        sh.describe(e, *a, &s)
                    ),
                )
            }
        },
        Math::Trace(a) => match of(*a)? {
            Tensor(r, c) if r == c => Scalar,
            s => {
                return fail(
                    id,
                    format!("trace takes a square matrix: {}", sh.describe(e, *a, &s)),
                )
            }
        },
        Math::Norm(a) => match of(*a)? {
            Tensor(..) | Params(_) => Scalar,
            s => {
                return fail(
                    id,
                    format!(
                        "norm takes a vector, a matrix or a gradient: {} (write abs for a number)",
                        sh.describe(e, *a, &s)
                    ),
                )
            }
        },
        Math::Dot([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            match (&sa, &sb) {
                (Tensor(..), Tensor(..)) | (Params(_), Params(_)) if sa == sb => Scalar,
                _ => {
                    return two(
                        "dot takes two vectors (or matrices, or gradients) of one shape".into(),
                        *a,
                        &sa,
                        *b,
                        &sb,
                    )
                }
            }
        }
        Math::Outer([a, b]) => {
            let (sa, sb) = (of(*a)?, of(*b)?);
            match (&sa, &sb) {
                (Tensor(r1, c1), Tensor(r2, c2)) if c1.is_one() && c2.is_one() => {
                    Tensor(r1.clone(), r2.clone())
                }
                _ => return two("outer takes two vectors".into(), *a, &sa, *b, &sb),
            }
        }
        Math::Grad([x, f]) => {
            let sf = of(*f)?;
            if sf != Scalar {
                return fail(
                    id,
                    format!("grad differentiates a number: {}", sh.describe(e, *f, &sf)),
                );
            }
            match e[*x].symbol() {
                Some(s) if sh.factored.contains_key(&s) => {
                    return fail(
                        id,
                        format!("grad by `{s}`: a covariance's or a Gaussian vector's entries are not free variables"),
                    )
                }
                Some(s) if sh.params.contains_key(&s) => Params(s),
                Some(s) if sh.tensors.contains_key(&s) => {
                    let (r, c) = &sh.tensors[&s];
                    Tensor(r.clone(), c.clone())
                }
                _ => {
                    return fail(
                        id,
                        "grad(θ, f): θ must be a declared parameter group (`params W, v`) or a declared vector or matrix".into(),
                    )
                }
            }
        }
        Math::Jacobian([x, f]) | Math::Hessian([x, f]) => {
            let hessian = matches!(e[id], Math::Hessian(_));
            let name = if hessian { "hessian" } else { "jacobian" };
            let n = match e[*x].symbol() {
                Some(s) if sh.vectors.contains(&s) && !sh.factored.contains_key(&s) => {
                    sh.tensors[&s].0.clone()
                }
                _ => {
                    return fail(
                        id,
                        format!("{name}(x, f): x must be a declared vector (`vector N`)"),
                    )
                }
            };
            let sf = of(*f)?;
            match (&sf, hessian) {
                (Scalar, true) => Tensor(n.clone(), n),
                (Tensor(m, c), false) if c.is_one() => Tensor(m.clone(), n),
                _ => {
                    let wants = if hessian { "a number" } else { "a vector" };
                    return fail(
                        id,
                        format!("{name} differentiates {wants}: {}", sh.describe(e, *f, &sf)),
                    );
                }
            }
        }
        Math::Sum([j, lo, hi, body]) => {
            for c in [lo, hi] {
                let s = of(*c)?;
                scalar_only(&s, *c, "a sum's range")?;
            }
            let _ = j;
            of(*body)?
        }
        Math::Deriv([t, body]) => {
            let st = of(*t)?;
            scalar_only(&st, *t, "d/d…")?;
            if let Math::Index(args) = &e[*t] {
                if let Some(h) = e[args[0]].symbol().filter(|h| sh.factored.contains_key(h)) {
                    return fail(
                        id,
                        format!("a derivative by an entry of `{h}`: a covariance's or a Gaussian vector's entries are not free variables (they are written through a factor)"),
                    );
                }
            }
            of(*body)?
        }
        n => {
            // Entrywise: the unary functions of a number.
            let children = egg::Language::children(n);
            let entrywise = n.unary_name().is_some() && !matches!(n, Math::MatExp(_));
            if entrywise {
                let s = of(children[0])?;
                if matches!(s, Params(_)) {
                    return fail(
                        id,
                        format!("{} of a gradient", n.unary_name().unwrap_or("?")),
                    );
                }
                return Ok(s);
            }
            let what = match n {
                Math::Expect(_) => "E[…]",
                Math::Gauss(_) => "gauss(…)",
                Math::Integral(_) => "an integral",
                Math::MatExp(_) => "mexp",
                _ => "this function",
            };
            for c in children {
                let s = of(*c)?;
                scalar_only(&s, *c, what)?;
            }
            Scalar
        }
    })
}

/// Write the scalar term `e` in entries and sums (see the module's documentation). A term that
/// uses no vector or matrix comes back unchanged.
///
/// A new index is named after its binding level: `k₃` is bound by the third binder (of the
/// user's sums and the new ones) on the way from the root. So a name never shadows or captures
/// (a binder's body is deeper), and two writings of one quantity — `f(x)` lowered at the root or
/// inside the sums of a gradient — use the same names wherever they stand at the same depth,
/// which is what lets the prover see them as the same term.
pub fn lower(e: &Expr, shapes: &Shapes) -> Result<Expr, ShapeError> {
    if !shapes.involved(e) {
        return Ok(e.clone());
    }
    match infer(e, shapes)? {
        TShape::Scalar => {}
        s => {
            return fail(
                root(e),
                format!(
                    "a side of a link must be a number: {}",
                    shapes.describe(e, root(e), &s)
                ),
            )
        }
    }
    let mut memo = vec![None; e.as_ref().len()];
    for i in 0..e.as_ref().len() {
        go(e, Id::from(i), shapes, &mut memo)?;
    }
    let mut l = Lowering {
        e,
        sh: shapes,
        shape: memo
            .into_iter()
            .map(|s| s.unwrap_or(TShape::Scalar))
            .collect(),
        out: Expr::default(),
        depth: 0,
    };
    l.scalar(root(e));
    Ok(l.out)
}

struct Lowering<'a> {
    e: &'a Expr,
    sh: &'a Shapes,
    shape: Vec<TShape>,
    out: Expr,
    /// Binders (the user's sums and the new ones) between the root and the node being lowered.
    depth: usize,
}

/// An entry position: row and column indices (terms of the output); `None` for a size-1 side.
#[derive(Clone, Copy)]
struct At {
    row: Option<Id>,
    col: Option<Id>,
}

impl At {
    /// The entry `row` of a vector (no column index).
    fn of_vector(row: Option<Id>) -> At {
        At { row, col: None }
    }
}

impl Lowering<'_> {
    fn shape(&self, id: Id) -> &TShape {
        &self.shape[usize::from(id)]
    }

    fn add(&mut self, n: Math) -> Id {
        self.out.add(n)
    }

    fn num(&mut self, k: i64) -> Id {
        self.add(Math::Num(Constant::int(k)))
    }

    fn dim(&mut self, d: &Dim) -> Id {
        super::binders::append(&mut self.out, d.expr())
    }

    /// The name of an index bound at the current depth + 1: `k₁`, `k₂`, …
    fn index(&mut self) -> Id {
        const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
        let digits: String = (self.depth + 1)
            .to_string()
            .chars()
            .map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize])
            .collect();
        self.add(Math::Symbol(Symbol::from(format!("k{digits}"))))
    }

    /// sum(k in 1..size, body(k)) for a new index k; a side of size 1 carries no index.
    fn sum_over(&mut self, size: &Dim, body: impl FnOnce(&mut Self, Option<Id>) -> Id) -> Id {
        if size.is_one() {
            return body(self, None);
        }
        let k = self.index();
        let one = self.num(1);
        let hi = self.dim(size);
        self.depth += 1;
        let b = body(self, Some(k));
        self.depth -= 1;
        self.add(Math::Sum([k, one, hi, b]))
    }

    /// A user's sum: its range, then its body one binder deeper.
    fn user_sum(&mut self, parts: [Id; 4], body: impl FnOnce(&mut Self, Id) -> Id) -> Id {
        let [j, lo, hi, inner] = parts;
        let (jv, lo, hi) = (self.copy(j), self.scalar(lo), self.scalar(hi));
        self.depth += 1;
        let b = body(self, inner);
        self.depth -= 1;
        self.add(Math::Sum([jv, lo, hi, b]))
    }

    /// A scalar subterm.
    fn scalar(&mut self, id: Id) -> Id {
        let e = self.e;
        match &e[id] {
            Math::Dot([a, b]) => match self.shape(*a).clone() {
                TShape::Params(group) => self.params_dot(&group, *a, *b),
                TShape::Tensor(r, c) => self.sum_over(&r, |me, i| {
                    me.sum_over(&c, |me, j| {
                        let at = At { row: i, col: j };
                        let x = me.entry(*a, at);
                        let y = me.entry(*b, at);
                        me.add(Math::Mul([x, y]))
                    })
                }),
                TShape::Scalar => unreachable!("shapes were inferred"),
            },
            Math::Norm(a) => {
                let d = match self.shape(*a).clone() {
                    TShape::Params(group) => self.params_dot(&group, *a, *a),
                    TShape::Tensor(r, c) => self.sum_over(&r, |me, i| {
                        me.sum_over(&c, |me, j| {
                            let x = me.entry(*a, At { row: i, col: j });
                            let two = me.num(2);
                            me.add(Math::Pow([x, two]))
                        })
                    }),
                    TShape::Scalar => unreachable!("shapes were inferred"),
                };
                self.add(Math::Sqrt(d))
            }
            Math::Trace(a) => {
                let TShape::Tensor(r, _) = self.shape(*a).clone() else {
                    unreachable!("shapes were inferred")
                };
                self.sum_over(&r, |me, i| me.entry(*a, At { row: i, col: i }))
            }
            Math::MatMul([a, b]) if matches!(self.shape(*a), TShape::Tensor(..)) => {
                // A row times a column: a number.
                self.product_entry(*a, *b, At::of_vector(None))
            }
            Math::Sum(parts) => self.user_sum(*parts, |me, b| me.scalar(b)),
            Math::Index(args)
                if e[args[0]]
                    .symbol()
                    .is_some_and(|s| self.sh.factored.contains_key(&s)) =>
            {
                let f = self.sh.factored[&e[args[0]].symbol().expect("a symbol")].clone();
                let row = self.scalar(args[1]);
                let col = args.get(2).map(|c| self.scalar(*c));
                self.factored_entry(&f, row, col)
            }
            node => {
                let node = node.clone();
                let lowered = node.map_children(|c| self.scalar(c));
                self.add(lowered)
            }
        }
    }

    /// Σ over the blocks of `group` and their entries of a(entry)·b(entry).
    fn params_dot(&mut self, group: &Symbol, a: Id, b: Id) -> Id {
        let blocks = self.sh.params[group].clone();
        let mut total = None;
        for block in blocks {
            let (r, c) = self.sh.tensors[&block].clone();
            let term = self.sum_over(&r, |me, i| {
                me.sum_over(&c, |me, j| {
                    let at = At { row: i, col: j };
                    let x = me.param_entry(a, block, at);
                    let y = me.param_entry(b, block, at);
                    me.add(Math::Mul([x, y]))
                })
            });
            total = Some(match total {
                None => term,
                Some(t) => self.add(Math::Add([t, term])),
            });
        }
        total.expect("a parameter group has blocks")
    }

    /// The entry of the block `block` at `at` of a gradient-shaped subterm.
    fn param_entry(&mut self, id: Id, block: Symbol, at: At) -> Id {
        let e = self.e;
        match &e[id] {
            Math::Grad([_, f]) => {
                let var = self.block_entry(block, at);
                let body = self.scalar(*f);
                self.add(Math::Deriv([var, body]))
            }
            Math::Symbol(_) => self.block_entry(block, at),
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let x = self.param_entry(*a, block, at);
                let y = self.param_entry(*b, block, at);
                self.add(if matches!(e[id], Math::Add(_)) {
                    Math::Add([x, y])
                } else {
                    Math::Sub([x, y])
                })
            }
            Math::Neg(a) => {
                let x = self.param_entry(*a, block, at);
                self.add(Math::Neg(x))
            }
            Math::Mul([a, b]) => {
                let (g, k) = if matches!(self.shape(*a), TShape::Params(_)) {
                    (*a, *b)
                } else {
                    (*b, *a)
                };
                let x = self.param_entry(g, block, at);
                let c = self.scalar(k);
                self.add(Math::Mul([c, x]))
            }
            Math::Div([a, b]) => {
                let x = self.param_entry(*a, block, at);
                let c = self.scalar(*b);
                self.add(Math::Div([x, c]))
            }
            Math::Sum(parts) => self.user_sum(*parts, |me, b| me.param_entry(b, block, at)),
            _ => unreachable!("gradient-shaped nodes are the ones above (shapes were inferred)"),
        }
    }

    /// The entry (row, col) of a factored symbol: Σ_k F[row, k]·F[col, k] for a covariance,
    /// Σ_k F[row, k]·ξ[k] for a Gaussian vector.
    fn factored_entry(&mut self, f: &Factored, row: Id, col: Option<Id>) -> Id {
        let (factor, noise) = (f.factor, f.noise);
        self.sum_over(&f.size.clone(), |me, k| {
            let k = k.unwrap_or_else(|| me.num(1));
            let fh = me.add(Math::Symbol(factor));
            let left = me.add(Math::Index(vec![fh, row, k].into_boxed_slice()));
            let right = match (noise, col) {
                (Some(xi), _) => {
                    let xh = me.add(Math::Symbol(xi));
                    me.add(Math::Index(vec![xh, k].into_boxed_slice()))
                }
                (None, col) => {
                    let col = col.unwrap_or_else(|| me.num(1));
                    let fh = me.add(Math::Symbol(factor));
                    me.add(Math::Index(vec![fh, col, k].into_boxed_slice()))
                }
            };
            me.add(Math::Mul([left, right]))
        })
    }

    /// `W[i, j]` or `x[i]` of a declared block, an index of a side of size 1 being 1.
    fn block_entry(&mut self, block: Symbol, at: At) -> Id {
        if let Some(f) = self.sh.factored.get(&block).cloned() {
            let row = at.row.unwrap_or_else(|| self.num(1));
            return self.factored_entry(&f, row, at.col);
        }
        let head = self.add(Math::Symbol(block));
        let row = at.row.unwrap_or_else(|| self.num(1));
        let mut args = vec![head, row];
        if !self.sh.vectors.contains(&block) {
            let col = at.col.unwrap_or_else(|| self.num(1));
            args.push(col);
        }
        self.add(Math::Index(args.into_boxed_slice()))
    }

    fn copy(&mut self, id: Id) -> Id {
        let node = self.e[id].clone();
        let n = node.map_children(|c| self.copy(c));
        self.add(n)
    }

    /// The entry at `at` of the matrix product `a @ b`: a sum over the inner index.
    fn product_entry(&mut self, a: Id, b: Id, at: At) -> Id {
        let TShape::Tensor(_, inner) = self.shape(a).clone() else {
            unreachable!("shapes were inferred")
        };
        self.sum_over(&inner, |me, k| {
            let x = me.entry(
                a,
                At {
                    row: at.row,
                    col: k,
                },
            );
            let y = me.entry(
                b,
                At {
                    row: k,
                    col: at.col,
                },
            );
            me.add(Math::Mul([x, y]))
        })
    }

    /// The entry at `at` of a vector- or matrix-valued subterm (a scalar subterm is itself).
    fn entry(&mut self, id: Id, at: At) -> Id {
        let e = self.e;
        let shape = self.shape(id).clone();
        let TShape::Tensor(_, _) = shape else {
            return self.scalar(id);
        };
        match &e[id] {
            Math::Symbol(s) if self.sh.tensors.contains_key(s) => self.block_entry(*s, at),
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let x = self.entry(*a, at);
                let y = self.entry(*b, at);
                self.add(if matches!(e[id], Math::Add(_)) {
                    Math::Add([x, y])
                } else {
                    Math::Sub([x, y])
                })
            }
            Math::Mul([a, b]) => {
                let x = self.entry(*a, at);
                let y = self.entry(*b, at);
                self.add(Math::Mul([x, y]))
            }
            Math::Div([a, b]) => {
                let x = self.entry(*a, at);
                let y = self.scalar(*b);
                self.add(Math::Div([x, y]))
            }
            Math::Neg(a) => {
                let x = self.entry(*a, at);
                self.add(Math::Neg(x))
            }
            Math::Pow([a, b]) => {
                let x = self.entry(*a, at);
                let y = self.scalar(*b);
                self.add(Math::Pow([x, y]))
            }
            Math::MatMul([a, b]) => self.product_entry(*a, *b, at),
            Math::Transpose(a) => self.entry(
                *a,
                At {
                    row: at.col,
                    col: at.row,
                },
            ),
            Math::Outer([a, b]) => {
                let x = self.entry(*a, At::of_vector(at.row));
                let y = self.entry(*b, At::of_vector(at.col));
                self.add(Math::Mul([x, y]))
            }
            Math::Grad([x, f]) => {
                let s = e[*x]
                    .symbol()
                    .expect("grad's variable is a symbol (inferred)");
                let var = self.block_entry(s, at);
                let body = self.scalar(*f);
                self.add(Math::Deriv([var, body]))
            }
            // J[i, j] = ∂f_i/∂x_j.
            Math::Jacobian([x, f]) => {
                let s = e[*x]
                    .symbol()
                    .expect("jacobian's variable is a symbol (inferred)");
                let var = self.block_entry(s, At::of_vector(at.col));
                let body = self.entry(*f, At::of_vector(at.row));
                self.add(Math::Deriv([var, body]))
            }
            // H[i, j] = ∂/∂x_i (∂f/∂x_j).
            Math::Hessian([x, f]) => {
                let s = e[*x]
                    .symbol()
                    .expect("hessian's variable is a symbol (inferred)");
                let (xi, xj) = (
                    self.block_entry(s, At::of_vector(at.row)),
                    self.block_entry(s, At::of_vector(at.col)),
                );
                let body = self.scalar(*f);
                let inner = self.add(Math::Deriv([xj, body]));
                self.add(Math::Deriv([xi, inner]))
            }
            Math::Sum(parts) => self.user_sum(*parts, |me, b| me.entry(b, at)),
            Math::Deriv([t, body]) => {
                let tv = self.scalar(*t);
                let b = self.entry(*body, at);
                self.add(Math::Deriv([tv, b]))
            }
            n if n.unary_name().is_some() => {
                let x = self.entry(n.children()[0], at);
                let mut m = n.clone();
                m.children_mut()[0] = x;
                self.add(m)
            }
            _ => unreachable!("vector- and matrix-valued nodes are the ones above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Shapes {
        let d = |s: &str| Dim::new(crate::expr::parse(s).unwrap());
        let mut sh = Shapes::default();
        sh.tensors.insert(Symbol::from("x"), (d("n0"), d("1")));
        sh.tensors.insert(Symbol::from("y"), (d("n0"), d("1")));
        sh.tensors.insert(Symbol::from("v"), (d("n1"), d("1")));
        sh.tensors.insert(Symbol::from("W"), (d("n1"), d("n0")));
        sh.tensors.insert(Symbol::from("R"), (d("1"), d("n0")));
        for v in ["x", "y", "v"] {
            sh.vectors.insert(Symbol::from(v));
        }
        sh.params.insert(
            Symbol::from("theta"),
            vec![Symbol::from("W"), Symbol::from("v")],
        );
        sh
    }

    fn lowered(s: &str) -> Result<String, String> {
        let e = crate::expr::parse(s).unwrap();
        lower(&e, &shapes())
            .map(|e| crate::expr::text(&e))
            .map_err(|e| e.message)
    }

    #[test]
    fn products_become_sums() {
        assert_eq!(
            lowered("dot(x, y)").unwrap(),
            "sum(k₁ in 1..n0, x[k₁]*y[k₁])"
        );
        assert_eq!(
            lowered("transpose(v) @ relu(W @ x)").unwrap(),
            "sum(k₁ in 1..n1, v[k₁]*relu(sum(k₂ in 1..n0, W[k₁, k₂]*x[k₂])))"
        );
        assert_eq!(
            lowered("norm(x)^2").unwrap(),
            "sqrt(sum(k₁ in 1..n0, x[k₁]^2))^2"
        );
        assert_eq!(
            lowered("trace(outer(x, y))").unwrap(),
            "sum(k₁ in 1..n0, x[k₁]*y[k₁])"
        );
        assert_eq!(lowered("W[1, 2] + 3").unwrap(), "W[1, 2] + 3");
        // A matrix with one row keeps its two indices: R@x is a number, R[1, k]·x[k] summed.
        assert_eq!(lowered("R@x").unwrap(), "sum(k₁ in 1..n0, R[1, k₁]*x[k₁])");
    }

    #[test]
    fn a_gradient_dotted_is_a_sum_of_partial_derivatives() {
        // Indices are named by binding level: f(x) and f(y) use the same names at one depth.
        assert_eq!(
            lowered("dot(grad(theta, dot(v, W@x)), grad(theta, dot(v, W@y)))").unwrap(),
            "sum(k₁ in 1..n1, sum(k₂ in 1..n0, d/dW[k₁, k₂](sum(k₃ in 1..n1, v[k₃]*sum(k₄ in 1..n0, W[k₃, k₄]*x[k₄])))*d/dW[k₁, k₂](sum(k₃ in 1..n1, v[k₃]*sum(k₄ in 1..n0, W[k₃, k₄]*y[k₄]))))) + sum(k₁ in 1..n1, d/dv[k₁](sum(k₂ in 1..n1, v[k₂]*sum(k₃ in 1..n0, W[k₂, k₃]*x[k₃])))*d/dv[k₁](sum(k₂ in 1..n1, v[k₂]*sum(k₃ in 1..n0, W[k₂, k₃]*y[k₃]))))"
        );
    }

    #[test]
    fn shapes_that_do_not_fit_are_named() {
        let err = lowered("dot(v, W@v)").unwrap_err();
        assert!(err.contains("`W` is n1 × n0, `v` has n1 entries"), "{err}");
        assert!(lowered("x + v").unwrap_err().contains("one shape"));
        assert!(lowered("W*W").is_err());
        assert!(lowered("W@x").unwrap_err().contains("must be a number"));
        assert!(lowered("trace(W)").unwrap_err().contains("square"));
        assert!(lowered("W[1]").unwrap_err().contains("2 indices"));
        assert!(lowered("grad(n0, dot(x, x))").is_err());
        assert!(lowered("norm(3)").is_err());
        assert!(lowered("exp(grad(theta, dot(x, x)))").is_err());
        assert!(lowered("trace(hessian(x, W@x))")
            .unwrap_err()
            .contains("a number"));
        assert!(lowered("trace(jacobian(x, dot(x, x)))")
            .unwrap_err()
            .contains("a vector"));
        assert!(lowered("trace(hessian(W, dot(x, x)))")
            .unwrap_err()
            .contains("declared vector"));
    }

    #[test]
    fn jacobians_and_hessians_are_entries_of_derivatives() {
        // J[i, j] = d/dx[j](F_i); tr J sums J[k, k].
        assert_eq!(
            lowered("trace(jacobian(x, tanh(x)))").unwrap(),
            "sum(k₁ in 1..n0, d/dx[k₁](tanh(x[k₁])))"
        );
        // H[i, j] = d/dx[i](d/dx[j](f)).
        assert_eq!(
            lowered("trace(hessian(x, x[1]^3))").unwrap(),
            "sum(k₁ in 1..n0, d/dx[k₁](d/dx[k₁](x[1]^3)))"
        );
    }
}
