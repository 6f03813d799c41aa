//! The infix parser: surface syntax → [`Expr`], with a source span for every node.
//!
//! The grammar (`grammar.pest`) only tokenizes and brackets; precedence is folded here by a
//! Pratt parser, and reserved words, arities and the shape of indexing are checked while the
//! tree is built, so that every error names the offending piece of source in plain words.
//!
//! | surface                      | node                          |
//! |------------------------------|-------------------------------|
//! | `3`, `0.5`, `1e-3`           | `Num` (exact)                 |
//! | `-3` (minus on a literal)    | `Num(-3)`                     |
//! | `frac(1, 3)`                 | `Num(1/3)` (exact literal)    |
//! | `x`, `x'`, `n0`, `σ`         | `Symbol`                      |
//! | `a + b`, `a - b`             | `(+ a b)`, `(- a b)`          |
//! | `a * b`, `a / b`, `a @ b`    | `(* a b)`, `(/ a b)`, `(@ a b)` |
//! | `-a`                         | `(neg a)`                     |
//! | `a ^ b` (right-assoc)        | `(^ a b)`                     |
//! | `x[j]`, `w[i, j]`            | `(idx x j)`, `(idx w i j)`    |
//! | `sqrt(a)`, `relu(a)`, …      | `(sqrt a)`, `(relu a)`, …     |
//! | `atan2(a, b)`, `delta(j, k)` | `(atan2 a b)`, `(delta j k)`  |
//! | `E[a]`                       | `(E a)`                       |
//! | `sum(j in lo..hi, body)`     | `(sum j lo hi body)`          |
//! | `gauss(a, b, c; body)`       | `(gauss a b c body)`          |
//! | `d/dt(a)`                    | `(d t a)`                     |
//!
//! Precedence, loosest first: `+ -` < `* / @` < unary minus < `^` < indexing. All binary
//! operators are left-associative except `^`.
//!
//! Budgets (see [`crate::limits`]): an expression is at most [`MAX_EXPR_BYTES`] long, nests at
//! most [`MAX_NESTING`] brackets, and its term has at most [`MAX_TERM_NODES`] nodes and depth
//! [`MAX_TERM_DEPTH`]; a number literal has at most [`MAX_LITERAL_DIGITS`] digits and a
//! magnitude within [`MAX_LITERAL_MAGNITUDE`] (zero, or 1e-300 ≤ |x| ≤ 1e300). Everything that
//! walks terms later (printers, prover, evaluator) recurses, and relies on these.

use super::lang::{Constant, Expr, Math};
use crate::limits::{
    MAX_EXPR_BYTES, MAX_LITERAL_DIGITS, MAX_LITERAL_MAGNITUDE, MAX_NESTING, MAX_TERM_DEPTH,
    MAX_TERM_NODES,
};
use egg::{Id, Language, Symbol};
use num_traits::{Signed, Zero};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "expr/grammar.pest"]
struct Grammar;

/// A syntax error: where in the source (byte offsets) and what went wrong, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending piece of the source, as byte offsets (empty at the end of the input).
    pub span: Range<usize>,
    /// What went wrong, e.g. "expected an expression after `+`".
    pub message: String,
}

impl ParseError {
    fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
        }
    }

    fn with_size_hint(mut self) -> Self {
        self.message.push_str(
            ": write long sums as `sum(j in lo..hi, body)`, or split the term with [define]s",
        );
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at {}..{})",
            self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for ParseError {}

/// Parse the infix surface syntax into a term.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parse_with_spans(src).map(|(e, _)| e)
}

thread_local! {
    /// Names of the file's parameterised definitions (`K(r) = …`) while an expression of that
    /// file is parsed: a call `K(x)` is read as the application node `K[x]`, which the loader
    /// replaces by the definition's body with `x` for `r`.
    static USER_FUNCTIONS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`parse_with_spans`], where calls of the names in `functions` (parameterised definitions) are
/// read as applications `name[args]` for the loader to expand.
pub fn parse_with_functions(
    src: &str,
    functions: &[String],
) -> Result<(Expr, Vec<Range<usize>>), ParseError> {
    USER_FUNCTIONS.with(|f| *f.borrow_mut() = functions.to_vec());
    let r = parse_with_spans(src);
    USER_FUNCTIONS.with(|f| f.borrow_mut().clear());
    r
}

fn is_user_function(name: &str) -> bool {
    USER_FUNCTIONS.with(|f| f.borrow().iter().any(|n| n == name))
}

/// Parse like [`parse`], and also return the source span (byte offsets) of every node, indexed
/// like the nodes of the returned `RecExpr`.
pub fn parse_with_spans(src: &str) -> Result<(Expr, Vec<Range<usize>>), ParseError> {
    if src.len() > MAX_EXPR_BYTES {
        return Err(ParseError::new(
            0..0,
            format!(
                "the expression is {} bytes long, more than the budget MAX_EXPR_BYTES = {MAX_EXPR_BYTES}",
                src.len()
            ),
        ));
    }
    check_nesting(src)?;
    // pest itself is iterative over operator chains and recurses only per bracket (bounded
    // above). Its tokens bound the number of nodes, which is checked before the Pratt folding,
    // which recurses once per level of an operator chain (`-----x`, `x^x^…^x`).
    let mut pairs = match Grammar::parse(Rule::main, src) {
        Ok(pairs) => pairs,
        Err(err) => {
            return Err(check_brackets(src)
                .err()
                .unwrap_or_else(|| translate(src, err)))
        }
    };
    let main = pairs.next().expect("`main` always yields one pair");
    let tokens = main
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| makes_node(p.as_rule()))
        .count();
    if tokens > MAX_TERM_NODES {
        return Err(ParseError::new(
            0..src.len(),
            format!(
                "the expression has about {tokens} nodes, more than the budget MAX_TERM_NODES = {MAX_TERM_NODES}"
            ),
        )
        .with_size_hint());
    }
    let expr = main
        .into_inner()
        .next()
        .expect("`main` holds one expression");
    // Give the recursion a stack to match (reserved lazily, so only what is used is committed).
    let (out, spans) = if tokens > SMALL {
        stacker::grow(STACK_BASE + tokens * STACK_PER_NODE, || {
            build_and_lower(expr)
        })?
    } else {
        build_and_lower(expr)?
    };
    check_term_budget(&out, &spans)?;
    Ok((out, spans))
}

/// Terms with at most this many nodes are built on the caller's stack.
const SMALL: usize = 64;
/// Stack for a larger term: a base plus an allowance per node.
const STACK_BASE: usize = 1 << 20;
const STACK_PER_NODE: usize = 8 << 10;

/// Does a token of this rule become (at most) one node of the term?
fn makes_node(r: Rule) -> bool {
    matches!(
        r,
        Rule::number
            | Rule::ident
            | Rule::add
            | Rule::sub
            | Rule::mul
            | Rule::div
            | Rule::matmul
            | Rule::pow
            | Rule::neg
            | Rule::index
            | Rule::expect
            | Rule::sum
            | Rule::integral
            | Rule::gauss
            | Rule::deriv
            | Rule::call
    )
}

fn build_and_lower(expr: Pair<Rule>) -> Result<(Expr, Vec<Range<usize>>), ParseError> {
    let tree = build_expr(expr)?;
    let mut out = Expr::default();
    let mut spans = Vec::new();
    lower(tree, &mut out, &mut spans);
    Ok((out, spans))
}

/// The depth of every node of `e` (a leaf is 1 deep), computed without recursion.
pub fn depths(e: &Expr) -> Vec<usize> {
    let nodes = e.as_ref();
    let mut d: Vec<usize> = Vec::with_capacity(nodes.len());
    for n in nodes {
        let below = n
            .children()
            .iter()
            .map(|c| d.get(usize::from(*c)).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        d.push(below + 1);
    }
    d
}

/// Which term budget `e` exceeds, if any: `(node index, message)`. The node is the first (in
/// post-order) past the depth budget, or the root when the term has too many nodes.
pub fn term_budget_error(e: &Expr) -> Option<(usize, String)> {
    let n = e.as_ref().len();
    if n > MAX_TERM_NODES {
        return Some((
            n - 1,
            format!(
                "the term has {n} nodes, more than the budget MAX_TERM_NODES = {MAX_TERM_NODES}"
            ),
        ));
    }
    let d = depths(e);
    let deepest = d.iter().copied().max().unwrap_or(0);
    d.iter().position(|&k| k > MAX_TERM_DEPTH).map(|at| {
        (
            at,
            format!(
                "the term is {deepest} deep, more than the budget MAX_TERM_DEPTH = {MAX_TERM_DEPTH} (a chain of k operators nests k deep)"
            ),
        )
    })
}

fn check_term_budget(e: &Expr, spans: &[Range<usize>]) -> Result<(), ParseError> {
    match term_budget_error(e) {
        None => Ok(()),
        Some((at, msg)) => {
            Err(ParseError::new(spans.get(at).cloned().unwrap_or(0..0), msg).with_size_hint())
        }
    }
}

/// Words that are not symbols: the function names and the keywords of the special forms.
pub(crate) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "E" | "sum"
            | "integral"
            | "gauss"
            | "d"
            | "in"
            | "frac"
            | "atan2"
            | "delta"
            | "max"
            | "min"
            | "leaky_relu"
            | "dot"
            | "outer"
            | "grad"
            | "jacobian"
            | "hessian"
            | "transpose"
            | "trace"
            | "norm"
    ) || Math::unary(name, Id::from(0)).is_some()
}

/// A term under construction: a node whose children are still trees, with its source span.
struct Tree {
    node: Math,
    kids: Vec<Tree>,
    span: Range<usize>,
    /// A bare unsigned number literal, so that a prefix minus on it makes a negative constant.
    literal: bool,
}

impl Tree {
    fn leaf(node: Math, span: Range<usize>) -> Self {
        Tree {
            node,
            kids: Vec::new(),
            span,
            literal: false,
        }
    }
    fn with(node: Math, kids: Vec<Tree>, span: Range<usize>) -> Self {
        Tree {
            node,
            kids,
            span,
            literal: false,
        }
    }
}

/// Push `tree` onto `out` in post-order, recording spans; returns the root's id.
fn lower(tree: Tree, out: &mut Expr, spans: &mut Vec<Range<usize>>) -> Id {
    let Tree {
        mut node,
        kids,
        span,
        ..
    } = tree;
    let ids: Vec<Id> = kids.into_iter().map(|k| lower(k, out, spans)).collect();
    for (slot, id) in node.children_mut().iter_mut().zip(ids) {
        *slot = id;
    }
    spans.push(span);
    out.add(node)
}

/// A placeholder child, replaced by [`lower`].
fn z() -> Id {
    Id::from(0)
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::matmul, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::infix(Rule::pow, Assoc::Right))
        .op(Op::postfix(Rule::index))
});

type Built = Result<Tree, ParseError>;

fn span_of(p: &Pair<Rule>) -> Range<usize> {
    p.as_span().start()..p.as_span().end()
}

fn build_expr(pair: Pair<Rule>) -> Built {
    debug_assert_eq!(pair.as_rule(), Rule::expr);
    PRATT
        .map_primary(build_primary)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = op.as_span().start()..rhs.span.end;
            if rhs.literal {
                if let Math::Num(c) = &rhs.node {
                    return Ok(Tree::leaf(Math::Num(Constant(-c.0.clone())), span));
                }
            }
            Ok(Tree::with(Math::Neg(z()), vec![rhs], span))
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let node = match op.as_rule() {
                Rule::add => Math::Add([z(); 2]),
                Rule::sub => Math::Sub([z(); 2]),
                Rule::mul => Math::Mul([z(); 2]),
                Rule::div => Math::Div([z(); 2]),
                Rule::matmul => Math::MatMul([z(); 2]),
                Rule::pow => Math::Pow([z(); 2]),
                r => unreachable!("not an infix operator: {r:?}"),
            };
            let span = lhs.span.start..rhs.span.end;
            Ok(Tree::with(node, vec![lhs, rhs], span))
        })
        .map_postfix(|lhs, op| {
            let lhs = lhs?;
            match &lhs.node {
                Math::Symbol(_) => {}
                Math::Index(_) => {
                    return Err(ParseError::new(
                        lhs.span,
                        "only a symbol can be indexed: write `x[i, j]`, not `x[i][j]`",
                    ))
                }
                _ => return Err(ParseError::new(lhs.span, "only a symbol can be indexed")),
            }
            let span = lhs.span.start..op.as_span().end();
            let mut kids = vec![lhs];
            for p in op.into_inner() {
                if p.as_rule() == Rule::expr {
                    kids.push(build_expr(p)?);
                }
            }
            let node = Math::Index(vec![z(); kids.len()].into_boxed_slice());
            Ok(Tree::with(node, kids, span))
        })
        .parse(pair.into_inner())
}

/// The sub-expressions among `pairs` (skipping punctuation and keywords).
fn exprs<'i>(pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Result<Vec<Tree>, ParseError> {
    pairs
        .filter(|p| p.as_rule() == Rule::expr)
        .map(build_expr)
        .collect()
}

fn build_primary(pair: Pair<Rule>) -> Built {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::number => {
            let text = pair.as_str();
            let digits = text.chars().filter(char::is_ascii_digit).count();
            if digits > MAX_LITERAL_DIGITS {
                return Err(ParseError::new(
                    span,
                    format!("the number literal has {digits} digits, more than the budget MAX_LITERAL_DIGITS = {MAX_LITERAL_DIGITS}"),
                ));
            }
            let c = Constant::from_str(text).map_err(|m| ParseError::new(span.clone(), m))?;
            check_magnitude(&c, text, &span)?;
            let mut t = Tree::leaf(Math::Num(c), span);
            t.literal = true;
            Ok(t)
        }
        Rule::ident => symbol(pair),
        Rule::paren => {
            let mut inner = exprs(pair.into_inner())?;
            let mut t = inner.pop().expect("a parenthesis holds one expression");
            t.span = span;
            t.literal = false;
            Ok(t)
        }
        Rule::expect => Ok(Tree::with(
            Math::Expect(z()),
            exprs(pair.into_inner())?,
            span,
        )),
        Rule::sum => {
            let mut inner = pair.into_inner();
            let var = inner
                .find(|p| p.as_rule() == Rule::ident)
                .expect("`sum` has an index");
            let mut kids = vec![symbol(var)?];
            kids.extend(exprs(inner)?);
            Ok(Tree::with(Math::Sum([z(); 4]), kids, span))
        }
        Rule::integral => {
            let mut inner = pair.into_inner();
            let var = inner
                .find(|p| p.as_rule() == Rule::ident)
                .expect("`integral` has a variable");
            let mut kids = vec![symbol(var)?];
            kids.extend(exprs(inner)?);
            Ok(Tree::with(Math::Integral([z(); 4]), kids, span))
        }
        Rule::gauss => Ok(Tree::with(
            Math::Gauss([z(); 4]),
            exprs(pair.into_inner())?,
            span,
        )),
        Rule::deriv => {
            let mut inner = pair.into_inner();
            let d_over = inner.next().expect("`d/dt` comes first");
            let var = d_over.into_inner().next().expect("`d/dt` names a variable");
            let mut var = symbol(var)?;
            let mut rest: Vec<Pair<Rule>> = inner.collect();
            // `d/dW[a, b](f)`: the partial derivative by one entry of an array.
            if rest.first().is_some_and(|p| p.as_rule() == Rule::index) {
                let index = rest.remove(0);
                let end = index.as_span().end();
                let mut kids = vec![var];
                for p in index.into_inner() {
                    if p.as_rule() == Rule::expr {
                        kids.push(build_expr(p)?);
                    }
                }
                let at = kids[0].span.start..end;
                var = Tree::with(
                    Math::Index(vec![z(); kids.len()].into_boxed_slice()),
                    kids,
                    at,
                );
            }
            let mut kids = vec![var];
            kids.extend(exprs(rest.into_iter())?);
            Ok(Tree::with(Math::Deriv([z(); 2]), kids, span))
        }
        Rule::call => call(pair),
        r => unreachable!("not a primary: {r:?}"),
    }
}

/// A symbol, refusing reserved words with a hint at how they are used.
fn symbol(pair: Pair<Rule>) -> Built {
    let span = span_of(&pair);
    let name = pair.as_str();
    if is_reserved(name) {
        return Err(ParseError::new(span, reserved_use(name)));
    }
    Ok(Tree::leaf(Math::Symbol(name.into()), span))
}

fn reserved_use(name: &str) -> String {
    match name {
        "E" => "`E` is reserved for expectations: write `E[...]`".into(),
        "sum" => "`sum` is reserved: write `sum(j in lo..hi, body)`".into(),
        "integral" => "`integral` is reserved: write `integral(s in a..b, body)`".into(),
        "gauss" => "`gauss` is reserved: write `gauss(s11, s12, s22; body)`".into(),
        "d" => "`d` is reserved for derivatives: write `d/dt(...)`".into(),
        "in" => "`in` is reserved: it is used in `sum(j in lo..hi, body)`".into(),
        "frac" => "`frac` is reserved for exact fractions: write `frac(1, 3)`".into(),
        _ => format!("`{name}` is a function: call it as `{name}(...)`"),
    }
}

/// The built-in functions of two arguments, and of one argument beyond [`Math::unary`]'s.
const BINARY_FUNCTIONS: [&str; 11] = [
    "atan2",
    "delta",
    "frac",
    "max",
    "min",
    "leaky_relu",
    "dot",
    "outer",
    "grad",
    "jacobian",
    "hessian",
];
const UNARY_MATRIX_FUNCTIONS: [&str; 3] = ["transpose", "trace", "norm"];

/// Is `name` a function (or a special form) the language defines? A call `name(…)` always means
/// the built-in, so a file may not define a function of that name (its definition would be
/// silently ignored).
pub fn builtin_function(name: &str) -> bool {
    BINARY_FUNCTIONS.contains(&name)
        || UNARY_MATRIX_FUNCTIONS.contains(&name)
        || matches!(name, "E" | "sum" | "integral" | "gauss" | "d" | "in")
        || Math::unary(name, z()).is_some()
}

fn call(pair: Pair<Rule>) -> Built {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name_pair = inner.next().expect("a call starts with its name");
    let name_span = span_of(&name_pair);
    let name = name_pair.as_str();
    let arity = match name {
        _ if BINARY_FUNCTIONS.contains(&name) => 2,
        _ if UNARY_MATRIX_FUNCTIONS.contains(&name) => 1,
        "E" => {
            return Err(ParseError::new(
                name_span,
                "an expectation takes square brackets: write `E[...]`",
            ))
        }
        "sum" | "integral" | "gauss" | "d" | "in" => {
            return Err(ParseError::new(name_span, reserved_use(name)))
        }
        _ if Math::unary(name, z()).is_some() => 1,
        _ if is_user_function(name) => {
            // An application of a parameterised definition: `K[args]`, expanded by the loader
            // (which checks the number of arguments).
            let mut kids = vec![Tree::leaf(Math::Symbol(Symbol::from(name)), name_span)];
            kids.extend(exprs(inner)?);
            let n = kids.len();
            return Ok(Tree::with(
                Math::Index(vec![z(); n].into_boxed_slice()),
                kids,
                span,
            ));
        }
        _ => {
            return Err(ParseError::new(
                name_span,
                format!("unknown function `{name}`"),
            ))
        }
    };
    let args = exprs(inner)?;
    if args.len() != arity {
        let plural = if arity == 1 { "" } else { "s" };
        return Err(ParseError::new(
            span,
            format!(
                "`{name}` takes {arity} argument{plural}, but {} {} given",
                args.len(),
                if args.len() == 1 { "was" } else { "were" }
            ),
        ));
    }
    let node = match name {
        "atan2" => Math::Atan2([z(); 2]),
        "delta" => Math::Delta([z(); 2]),
        "max" => Math::Max([z(); 2]),
        "min" => Math::Min([z(); 2]),
        "leaky_relu" => Math::LeakyRelu([z(); 2]),
        "dot" => Math::Dot([z(); 2]),
        "outer" => Math::Outer([z(); 2]),
        "grad" => Math::Grad([z(); 2]),
        "jacobian" => Math::Jacobian([z(); 2]),
        "hessian" => Math::Hessian([z(); 2]),
        "transpose" => Math::Transpose(z()),
        "trace" => Math::Trace(z()),
        "norm" => Math::Norm(z()),
        "frac" => return fraction(args, span),
        _ => Math::unary(name, z()).expect("checked above"),
    };
    Ok(Tree::with(node, args, span))
}

/// `frac(p, q)`: the exact constant `p/q` for integer literals `p`, `q`.
fn fraction(args: Vec<Tree>, span: Range<usize>) -> Built {
    let mut parts = Vec::new();
    for a in &args {
        match &a.node {
            Math::Num(c) if c.0.is_integer() => parts.push(c.0.clone()),
            _ => {
                return Err(ParseError::new(
                    a.span.clone(),
                    "`frac(p, q)` is an exact fraction: `p` and `q` must be integers (for a quotient write `a / b`)",
                ))
            }
        }
    }
    if parts[1].is_zero() {
        return Err(ParseError::new(
            args[1].span.clone(),
            "`frac` divides by zero",
        ));
    }
    let q = &parts[0] / &parts[1];
    check_magnitude(&Constant(q.clone()), "this fraction", &span)?;
    let mut t = Tree::leaf(Math::Num(Constant(q.clone())), span);
    t.literal = !q.is_negative();
    Ok(t)
}

/// A literal must be 0 or within 1/[`MAX_LITERAL_MAGNITUDE`] ≤ |x| ≤ [`MAX_LITERAL_MAGNITUDE`]: a
/// normal, finite `f64`, so that the exact prover and the floating-point checks read the same
/// number.
fn check_magnitude(c: &Constant, text: &str, span: &Range<usize>) -> Result<(), ParseError> {
    if c.is_zero() {
        return Ok(());
    }
    let m = c.0.abs();
    let max =
        num_rational::BigRational::from_float(MAX_LITERAL_MAGNITUDE).expect("the budget is finite");
    let min = max.recip();
    if m > max || m < min {
        let what = if m > max { "larger" } else { "smaller" };
        return Err(ParseError::new(
            span.clone(),
            format!(
                "`{text}` is {what} in magnitude than a literal may be (the budget MAX_LITERAL_MAGNITUDE: 0 or 1e-300 ≤ |x| ≤ 1e300, a finite f64)"
            ),
        ));
    }
    Ok(())
}

/// Refuse sources nested too deeply for the recursive descent (before pest recurses).
fn check_nesting(src: &str) -> Result<(), ParseError> {
    let mut depth = 0usize;
    for (i, c) in src.char_indices() {
        match c {
            '(' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ParseError::new(
                        i..i + 1,
                        format!("expression nested more than {MAX_NESTING} brackets deep (the budget MAX_NESTING)"),
                    ));
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Unbalanced brackets, reported at the bracket at fault.
fn check_brackets(src: &str) -> Result<(), ParseError> {
    let mut open: Vec<(char, usize)> = Vec::new();
    for (i, c) in src.char_indices() {
        match c {
            '(' | '[' => open.push((c, i)),
            ')' | ']' => {
                let want = if c == ')' { '(' } else { '[' };
                match open.pop() {
                    None => return Err(ParseError::new(i..i + 1, format!("unmatched `{c}`"))),
                    Some((o, j)) if o != want => {
                        return Err(ParseError::new(
                            j..j + 1,
                            format!("unclosed `{o}` (found `{c}` first)"),
                        ))
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    match open.pop() {
        Some((o, j)) => Err(ParseError::new(j..j + 1, format!("unclosed `{o}`"))),
        None => Ok(()),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\''
}

/// The token starting at byte `p`: a word or number, `..`, or one character.
fn token_at(src: &str, p: usize) -> Range<usize> {
    let rest = &src[p..];
    match rest.chars().next() {
        None => p..p,
        Some(c) if is_word_char(c) => {
            let mut end = 0;
            let mut chars = rest.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                let decimal_point = c == '.'
                    && rest[..i].ends_with(|d: char| d.is_ascii_digit())
                    && chars.peek().is_some_and(|&(_, d)| d.is_ascii_digit());
                if !(is_word_char(c) || decimal_point) {
                    break;
                }
                end = i + c.len_utf8();
            }
            p..p + end
        }
        Some(_) if rest.starts_with("..") => p..p + 2,
        Some(c) => p..p + c.len_utf8(),
    }
}

/// The last token ending at or before byte `p` (skipping whitespace), if any.
fn token_before(src: &str, p: usize) -> Option<Range<usize>> {
    let head = src[..p].trim_end();
    let end = head.len();
    let last = head.chars().next_back()?;
    if head.ends_with("..") {
        return Some(end - 2..end);
    }
    if !is_word_char(last) {
        return Some(end - last.len_utf8()..end);
    }
    let mut start = end;
    for (i, c) in head.char_indices().rev() {
        let decimal_point = c == '.'
            && head[i + 1..].starts_with(|d: char| d.is_ascii_digit())
            && head[..i].ends_with(|d: char| d.is_ascii_digit())
            && !head[..i].ends_with('.');
        if !(is_word_char(c) || decimal_point) {
            break;
        }
        start = i;
    }
    Some(start..end)
}

fn describe(src: &str, span: &Range<usize>) -> String {
    if span.is_empty() {
        "the end of the input".into()
    } else {
        format!("`{}`", &src[span.clone()])
    }
}

/// Turn pest's "expected one of these rules" into a plain sentence.
fn translate(src: &str, err: pest::error::Error<Rule>) -> ParseError {
    use pest::error::{ErrorVariant, InputLocation};
    let p = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let positives = match err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { message } => return ParseError::new(p..p, message),
    };
    let found = token_at(src, p);
    let found_text = describe(src, &found);
    let wants_operand = positives.iter().any(|r| {
        matches!(
            r,
            Rule::expr
                | Rule::number
                | Rule::ident
                | Rule::neg
                | Rule::paren
                | Rule::call
                | Rule::expect
                | Rule::sum
                | Rule::integral
                | Rule::gauss
                | Rule::deriv
                | Rule::d_over
                | Rule::kw_e
                | Rule::kw_sum
                | Rule::kw_integral
                | Rule::kw_gauss
        )
    });
    if wants_operand {
        return match token_before(src, p) {
            Some(prev) if !starts_operand(&src[prev.clone()]) || &src[prev.clone()] == "in" => {
                ParseError::new(
                    prev.clone(),
                    format!(
                        "expected an expression after {}, found {found_text}",
                        describe(src, &prev)
                    ),
                )
            }
            _ => ParseError::new(found, format!("expected an expression, found {found_text}")),
        };
    }
    let wants_operator = positives.iter().any(|r| {
        matches!(
            r,
            Rule::add
                | Rule::sub
                | Rule::mul
                | Rule::div
                | Rule::matmul
                | Rule::pow
                | Rule::index
                | Rule::EOI
        )
    });
    let here = &src[found.clone()];
    if wants_operator && starts_operand(here) {
        if let Some(prev) = token_before(src, p) {
            let before = &src[prev];
            let product = if here.starts_with('(') {
                format!("{before}*(")
            } else {
                format!("{before}*{here}")
            };
            return ParseError::new(
                found,
                format!(
                    "missing operator before {found_text}: implicit multiplication is not supported, write `{product}`"
                ),
            );
        }
    }
    let mut wanted: Vec<&str> = Vec::new();
    if wants_operator {
        wanted.push("an operator");
    }
    for r in &positives {
        let w = match r {
            // After an operand, `(` (a call) and `[` (indexing) are rarely what was meant.
            Rule::lparen | Rule::lbrack if wants_operator => continue,
            Rule::lparen => "`(`",
            Rule::rparen => "`)`",
            Rule::lbrack => "`[`",
            Rule::rbrack => "`]`",
            Rule::comma => "`,`",
            Rule::semi => "`;`",
            Rule::dots => "`..`",
            Rule::kw_in => "`in`",
            _ => continue,
        };
        if !wanted.contains(&w) {
            wanted.push(w);
        }
    }
    if positives.contains(&Rule::EOI) && !wanted.iter().any(|w| w.contains('`')) {
        wanted.push("the end of the input");
    }
    let list = match wanted.len() {
        0 => "something else".to_string(),
        1 => wanted[0].to_string(),
        n => format!("{} or {}", wanted[..n - 1].join(", "), wanted[n - 1]),
    };
    ParseError::new(found, format!("expected {list}, found {found_text}"))
}

/// Does this token begin an operand (so that a missing operator is the likely mistake)?
fn starts_operand(tok: &str) -> bool {
    tok.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '(')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse and show the s-expression.
    fn s(src: &str) -> String {
        match parse(src) {
            Ok(e) => e.to_string(),
            Err(e) => panic!("{src:?} failed: {e}"),
        }
    }

    /// The error for `src`: its message and the source text its span covers.
    fn err(src: &str) -> (String, Range<usize>) {
        match parse(src) {
            Ok(e) => panic!("{src:?} parsed as {e}"),
            Err(e) => (e.message, e.span),
        }
    }

    #[test]
    fn numbers_are_exact() {
        assert_eq!(s("3"), "3");
        assert_eq!(s("0.5"), "1/2");
        assert_eq!(s("1e-3"), "1/1000");
        assert_eq!(s("2.5E+1"), "25");
        assert_eq!(s("frac(1, 3)"), "1/3");
        assert_eq!(s("frac(-2, 6)"), "-1/3");
    }

    #[test]
    fn minus_on_a_literal_is_a_negative_constant() {
        assert_eq!(s("-3"), "-3");
        assert_eq!(s("- 0.5"), "-1/2");
        assert_eq!(s("-frac(1, 3)"), "-1/3");
        assert_eq!(s("-x"), "(neg x)");
        assert_eq!(s("-(3)"), "(neg 3)");
        assert_eq!(s("--3"), "(neg -3)");
        assert_eq!(s("-3^2"), "(neg (^ 3 2))");
        assert_eq!(s("(-3)^2"), "(^ -3 2)");
        assert_eq!(s("2^-1"), "(^ 2 -1)");
        assert_eq!(s("a - -3"), "(- a -3)");
        assert_eq!(s("a*-b"), "(* a (neg b))");
    }

    #[test]
    fn identifiers() {
        assert_eq!(s("x"), "x");
        assert_eq!(s("x'"), "x'");
        assert_eq!(s("x''"), "x''");
        assert_eq!(s("xp"), "xp");
        assert_eq!(s("n_0"), "n_0");
        assert_eq!(s("σ"), "σ");
        assert_eq!(s("βθ2"), "βθ2");
        assert_eq!(s("Ex + sums + din + expo"), "(+ (+ (+ Ex sums) din) expo)");
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(s("a + b * c"), "(+ a (* b c))");
        assert_eq!(s("a - b - c"), "(- (- a b) c)");
        assert_eq!(s("a - (b - c)"), "(- a (- b c))");
        assert_eq!(s("a / b / c"), "(/ (/ a b) c)");
        assert_eq!(s("a/(b*c)"), "(/ a (* b c))");
        assert_eq!(s("a * b / c @ e"), "(@ (/ (* a b) c) e)");
        assert_eq!(s("a ^ b ^ c"), "(^ a (^ b c))");
        assert_eq!(s("-x^2"), "(neg (^ x 2))");
        assert_eq!(s("-x*y"), "(* (neg x) y)");
        assert_eq!(s("x^-y^z"), "(^ x (neg (^ y z)))");
        assert_eq!(s("2^-1*3"), "(* (^ 2 -1) 3)");
        assert_eq!(s(" ( a\n+\tb ) "), "(+ a b)");
    }

    #[test]
    fn indexing() {
        assert_eq!(s("x[j]"), "(idx x j)");
        assert_eq!(s("w[i, j]"), "(idx w i j)");
        assert_eq!(s("x[j+1]"), "(idx x (+ j 1))");
        assert_eq!(s("-x[j]^2"), "(neg (^ (idx x j) 2))");
        assert_eq!(s("x'[j]"), "(idx x' j)");
    }

    #[test]
    fn calls_and_special_forms() {
        assert_eq!(s("sqrt(x)"), "(sqrt x)");
        assert_eq!(s("arcsin(x) + asin(y)"), "(+ (asin x) (asin y))");
        assert_eq!(s("relu(mexp(A))"), "(relu (mexp A))");
        assert_eq!(s("atan2(a, b)"), "(atan2 a b)");
        assert_eq!(s("delta(j, k)"), "(delta j k)");
        assert_eq!(s("E[w[i,j]*w[i,k]]"), "(E (* (idx w i j) (idx w i k)))");
        assert_eq!(s("sum(j in 1..n0, x[j])"), "(sum j 1 n0 (idx x j))");
        assert_eq!(
            s("sum(j in 0..n - 1, 0.5*x[j])"),
            "(sum j 0 (- n 1) (* 1/2 (idx x j)))"
        );
        assert_eq!(
            s("gauss(s11, s12, s22; relu(u)*relu(v))"),
            "(gauss s11 s12 s22 (* (relu u) (relu v)))"
        );
        assert_eq!(s("d/dt(x^2)"), "(d t (^ x 2))");
        assert_eq!(s("d / dθ (sin(θ))"), "(d θ (sin θ))");
        assert_eq!(s("A @ B"), "(@ A B)");
    }

    #[test]
    fn spans_follow_the_nodes() {
        let src = "a + sqrt(b[j])";
        let (e, spans) = parse_with_spans(src).unwrap();
        assert_eq!(spans.len(), e.as_ref().len());
        let pieces: Vec<&str> = spans.iter().map(|r| &src[r.clone()]).collect();
        assert_eq!(
            pieces,
            ["a", "b", "j", "b[j]", "sqrt(b[j])", "a + sqrt(b[j])"]
        );
        let (_, spans) = parse_with_spans("(x) * -3").unwrap();
        assert_eq!(spans, [0..3, 6..8, 0..8]);
    }

    #[test]
    fn missing_operands() {
        assert_eq!(
            err("a +"),
            (
                "expected an expression after `+`, found the end of the input".into(),
                2..3
            )
        );
        assert_eq!(
            err("(a * )"),
            ("expected an expression after `*`, found `)`".into(), 3..4)
        );
        assert_eq!(
            err(""),
            (
                "expected an expression, found the end of the input".into(),
                0..0
            )
        );
        assert_eq!(
            err("f(x, )").0,
            "expected an expression after `,`, found `)`"
        );
        assert_eq!(err("sum(j in ..n, x)").1, 6..8);
        assert_eq!(
            err("x^"),
            (
                "expected an expression after `^`, found the end of the input".into(),
                1..2
            )
        );
    }

    #[test]
    fn unknown_functions_and_arity() {
        assert_eq!(err("1 + foo(x)"), ("unknown function `foo`".into(), 4..7));
        assert_eq!(
            err("sqrt(x, y)"),
            ("`sqrt` takes 1 argument, but 2 were given".into(), 0..10)
        );
        assert_eq!(
            err("atan2(x)"),
            ("`atan2` takes 2 arguments, but 1 was given".into(), 0..8)
        );
        assert_eq!(
            err("E(x)"),
            (
                "an expectation takes square brackets: write `E[...]`".into(),
                0..1
            )
        );
        assert_eq!(err("sum(j, x)"), ("expected `in`, found `,`".into(), 5..6));
        assert_eq!(err("frac(x, 2)").1, 5..6);
        assert_eq!(err("frac(1, 0)"), ("`frac` divides by zero".into(), 8..9));
    }

    #[test]
    fn reserved_words() {
        assert_eq!(
            err("2*exp"),
            ("`exp` is a function: call it as `exp(...)`".into(), 2..5)
        );
        assert_eq!(err("E + 1").1, 0..1);
        assert_eq!(err("d*x").1, 0..1);
        assert_eq!(err("sum(in in 1..n, x)").1, 4..6);
        assert_eq!(err("d/dsum(x)").1, 3..6);
    }

    #[test]
    fn brackets() {
        assert_eq!(err("E[x"), ("unclosed `[`".into(), 1..2));
        assert_eq!(
            err("sqrt(x[j)"),
            ("unclosed `[` (found `)` first)".into(), 6..7)
        );
        assert_eq!(err("x)"), ("unmatched `)`".into(), 1..2));
    }

    #[test]
    fn implicit_multiplication() {
        assert_eq!(
            err("2x"),
            ("missing operator before `x`: implicit multiplication is not supported, write `2*x`".into(), 1..2)
        );
        assert_eq!(err("0.5 sw").0, "missing operator before `sw`: implicit multiplication is not supported, write `0.5*sw`");
        assert_eq!(err("2(x+1)").1, 1..2);
        assert_eq!(err("sum(j in 1..n x)").1, 14..15);
    }

    #[test]
    fn indexing_errors() {
        assert_eq!(
            err("(a+b)[j]"),
            ("only a symbol can be indexed".into(), 0..5)
        );
        assert_eq!(err("x[i][j]").1, 0..4);
        assert_eq!(err("x[]").0, "expected an expression after `[`, found `]`");
    }

    #[test]
    fn other_errors() {
        assert_eq!(
            err("a = b"),
            (
                "expected an operator or the end of the input, found `=`".into(),
                2..3
            )
        );
        assert_eq!(
            err("gauss(a, b, c, x)"),
            ("expected an operator or `;`, found `,`".into(), 13..14)
        );
        assert_eq!(err("sum(j from 1..n, x)").0, "expected `in`, found `from`");
        let deep = format!("{}x{}", "(".repeat(300), ")".repeat(300));
        assert!(err(&deep).0.contains("nested"));
    }
}
