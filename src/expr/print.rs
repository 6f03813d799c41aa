//! Printers: the infix surface syntax ([`text`], which [`parse`](super::parse) reads back to the
//! same term) and LaTeX ([`latex`]).
//!
//! Both are total: on a malformed `RecExpr` (an `idx` whose head is no symbol, a child id that
//! does not point to an earlier node, …) they print something readable instead of panicking.

use super::lang::{Constant, Expr, Math};
use egg::{Id, Language};
use num_bigint::BigInt;
use num_traits::{One, Signed, Zero};
use std::fmt::Write as _;

/// Binding strength of what a node prints as, loosest first.
const SUM: u8 = 0; // LaTeX `\sum …` extends as far right as it can
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const ATOM: u8 = 5;

/// Red zone and growth step for deep terms: printing recurses once per level.
fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// The root of a `RecExpr`: its last node.
fn root(e: &Expr) -> Id {
    Id::from(e.as_ref().len().saturating_sub(1))
}

/// Print a term in the infix surface syntax, with minimal parentheses.
pub fn text(e: &Expr) -> String {
    text_at(e, root(e))
}

/// Print the subterm of `e` rooted at node `root` in the infix surface syntax.
pub fn text_at(e: &Expr, root: Id) -> String {
    let mut out = String::new();
    Printer { nodes: e.as_ref() }.text(root, usize::MAX, &mut out);
    out
}

/// Print a term as LaTeX (math mode; uses `amsmath` and `amssymb`).
pub fn latex(e: &Expr) -> String {
    latex_at(e, root(e))
}

/// Print the subterm of `e` rooted at node `root` as LaTeX.
pub fn latex_at(e: &Expr, root: Id) -> String {
    let mut out = String::new();
    Printer { nodes: e.as_ref() }.latex(root, usize::MAX, &mut out);
    out
}

struct Printer<'a> {
    nodes: &'a [Math],
}

/// The literal of a non-negative constant: an integer, an exact decimal, or `frac(p, q)`.
fn text_literal(c: &Constant) -> String {
    let q = c.0.abs();
    if q.is_integer() {
        return q.numer().to_string();
    }
    let (n, d) = (q.numer(), q.denom());
    // A terminating decimal iff the denominator is 2^a 5^b; then n/d = m / 10^k.
    let (mut rest, mut twos, mut fives) = (d.clone(), 0usize, 0usize);
    let (two, five) = (BigInt::from(2), BigInt::from(5));
    while (&rest % &two).is_zero() {
        rest /= &two;
        twos += 1;
    }
    while (&rest % &five).is_zero() {
        rest /= &five;
        fives += 1;
    }
    if !rest.is_one() {
        return format!("frac({n}, {d})");
    }
    let k = twos.max(fives);
    let m = n * num_traits::pow(BigInt::from(10), k) / d;
    let digits = m.to_string();
    if k > 8 {
        return format!("{digits}e-{k}");
    }
    let digits = format!("{digits:0>width$}", width = k + 1);
    let (int, frac) = digits.split_at(digits.len() - k);
    format!("{int}.{frac}")
}

impl Printer<'_> {
    /// The node `id`, if it exists and lies before `below` (children precede parents).
    fn node(&self, id: Id, below: usize) -> Option<(&Math, usize)> {
        let i = usize::from(id);
        (i < below.min(self.nodes.len())).then(|| (&self.nodes[i], i))
    }

    /// How tightly the node `id` binds in the surface syntax.
    fn text_level(&self, id: Id, below: usize) -> u8 {
        match self.node(id, below).map(|(n, _)| n) {
            Some(Math::Add(_) | Math::Sub(_)) => ADD,
            Some(Math::Mul(_) | Math::Div(_) | Math::MatMul(_)) => MUL,
            Some(Math::Neg(_)) => NEG,
            Some(Math::Num(c)) if c.is_negative() => NEG,
            Some(Math::Pow(_)) => POW,
            _ => ATOM,
        }
    }

    fn text_paren(&self, id: Id, below: usize, paren: bool, out: &mut String) {
        if paren {
            out.push('(');
            self.text(id, below, out);
            out.push(')');
        } else {
            self.text(id, below, out);
        }
    }

    fn text_list(&self, ids: &[Id], below: usize, out: &mut String) {
        for (k, &id) in ids.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            self.text(id, below, out);
        }
    }

    fn text(&self, id: Id, below: usize, out: &mut String) {
        let Some((node, i)) = self.node(id, below) else {
            out.push('?');
            return;
        };
        deep(|| self.text_node(node, i, out));
    }

    fn text_node(&self, node: &Math, i: usize, out: &mut String) {
        let binary = |op: &str, [a, b]: [Id; 2], level: u8, out: &mut String| {
            let (la, lb) = (self.text_level(a, i), self.text_level(b, i));
            let (pa, pb) = if level == POW {
                // Right-associative; a prefix minus may start the exponent: `x^-1`.
                (la <= POW, lb < NEG)
            } else {
                // `a - (-b)`, not `a - -b`: a sign after an operator reads as a slip.
                (la < level, lb <= level || lb == NEG)
            };
            self.text_paren(a, i, pa, out);
            out.push_str(op);
            self.text_paren(b, i, pb, out);
        };
        match node {
            Math::Add(ab) => binary(" + ", *ab, ADD, out),
            Math::Sub(ab) => binary(" - ", *ab, ADD, out),
            Math::Mul(ab) => binary("*", *ab, MUL, out),
            Math::Div(ab) => binary("/", *ab, MUL, out),
            Math::MatMul(ab) => binary(" @ ", *ab, MUL, out),
            Math::Pow(ab) => binary("^", *ab, POW, out),
            Math::Neg(a) => {
                out.push('-');
                // `-(3)` is not the literal `-3`; `-(-x)` avoids `--x`.
                let literal = matches!(self.node(*a, i), Some((Math::Num(_), _)));
                self.text_paren(*a, i, literal || self.text_level(*a, i) <= NEG, out);
            }
            Math::Num(c) => {
                if c.is_negative() {
                    out.push('-');
                }
                out.push_str(&text_literal(c));
            }
            Math::Symbol(s) => out.push_str(s.as_str()),
            Math::Index(ids) => match ids.split_first() {
                Some((&head, rest)) => {
                    let paren = !matches!(self.node(head, i), Some((Math::Symbol(_), _)));
                    self.text_paren(head, i, paren, out);
                    out.push('[');
                    self.text_list(rest, i, out);
                    out.push(']');
                }
                None => out.push_str("idx[]"),
            },
            Math::Expect(a) => {
                out.push_str("E[");
                self.text(*a, i, out);
                out.push(']');
            }
            Math::Integral([j, lo, hi, body]) | Math::Sum([j, lo, hi, body]) => {
                out.push_str(if matches!(node, Math::Sum(_)) {
                    "sum("
                } else {
                    "integral("
                });
                self.text(*j, i, out);
                out.push_str(" in ");
                self.text(*lo, i, out);
                out.push_str("..");
                self.text(*hi, i, out);
                out.push_str(", ");
                self.text(*body, i, out);
                out.push(')');
            }
            Math::Gauss([a, b, c, body]) => {
                out.push_str("gauss(");
                self.text_list(&[*a, *b, *c], i, out);
                out.push_str("; ");
                self.text(*body, i, out);
                out.push(')');
            }
            Math::Deriv([t, body]) => {
                out.push_str("d/d");
                self.text(*t, i, out);
                out.push('(');
                self.text(*body, i, out);
                out.push(')');
            }
            Math::Atan2(ab)
            | Math::Delta(ab)
            | Math::Max(ab)
            | Math::Min(ab)
            | Math::LeakyRelu(ab) => {
                out.push_str(match node {
                    Math::Atan2(_) => "atan2(",
                    Math::Max(_) => "max(",
                    Math::Min(_) => "min(",
                    Math::LeakyRelu(_) => "leaky_relu(",
                    _ => "delta(",
                });
                self.text_list(ab, i, out);
                out.push(')');
            }
            other => {
                // The unary functions; `unary_name` and `tensor_name` cover every remaining variant.
                out.push_str(other.unary_name().or(other.tensor_name()).unwrap_or("?"));
                out.push('(');
                self.text_list(other.children(), i, out);
                out.push(')');
            }
        }
    }

    // ---------------------------------------------------------------- LaTeX

    fn latex_level(&self, id: Id, below: usize) -> u8 {
        match self.node(id, below).map(|(n, _)| n) {
            Some(Math::Sum(_) | Math::Integral(_)) => SUM,
            Some(Math::Add(_) | Math::Sub(_)) => ADD,
            Some(Math::Mul(_) | Math::MatMul(_)) => MUL,
            Some(Math::Neg(_)) => NEG,
            Some(Math::Num(c)) if c.is_negative() => NEG,
            Some(Math::Pow(_) | Math::MatExp(_)) => POW,
            _ => ATOM,
        }
    }

    fn latex_paren(&self, id: Id, below: usize, paren: bool, out: &mut String) {
        if paren {
            out.push_str("\\left(");
            self.latex(id, below, out);
            out.push_str("\\right)");
        } else {
            self.latex(id, below, out);
        }
    }

    fn latex_string(&self, id: Id, below: usize) -> String {
        let mut s = String::new();
        self.latex(id, below, &mut s);
        s
    }

    fn latex(&self, id: Id, below: usize, out: &mut String) {
        let Some((node, i)) = self.node(id, below) else {
            out.push_str("{?}");
            return;
        };
        deep(|| self.latex_node(node, i, out));
    }

    /// `\name\left(args\right)`.
    fn latex_call(&self, name: &str, args: &[Id], i: usize, out: &mut String) {
        out.push_str(name);
        out.push_str("\\left(");
        for (k, &a) in args.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            self.latex(a, i, out);
        }
        out.push_str("\\right)");
    }

    /// A subscript list: `jk` for single characters, `j,k+1` otherwise.
    fn latex_subscript(&self, ids: &[Id], i: usize) -> String {
        let parts: Vec<String> = ids.iter().map(|&a| self.latex_string(a, i)).collect();
        let sep = if parts.iter().all(|p| p.chars().count() == 1) {
            ""
        } else {
            ","
        };
        parts.join(sep)
    }

    fn latex_node(&self, node: &Math, i: usize, out: &mut String) {
        match node {
            Math::Add([a, b]) | Math::Sub([a, b]) => {
                let op = if matches!(node, Math::Add(_)) {
                    " + "
                } else {
                    " - "
                };
                self.latex_paren(*a, i, self.latex_level(*a, i) < ADD, out);
                out.push_str(op);
                let lb = self.latex_level(*b, i);
                self.latex_paren(*b, i, lb == NEG || lb <= ADD, out);
            }
            Math::Mul([a, b]) | Math::MatMul([a, b]) => {
                self.latex_paren(*a, i, self.latex_level(*a, i) < MUL, out);
                let lb = self.latex_level(*b, i);
                let mut rhs = String::new();
                self.latex_paren(*b, i, lb <= MUL || lb == NEG, &mut rhs);
                let number = rhs.starts_with(|c: char| c.is_ascii_digit())
                    || rhs.starts_with("\\frac")
                    || matches!(self.node(*b, i), Some((Math::Num(_), _)));
                out.push_str(if number { " \\cdot " } else { " " });
                out.push_str(&rhs);
            }
            Math::Div([a, b]) => {
                let _ = write!(
                    out,
                    "\\frac{{{}}}{{{}}}",
                    self.latex_string(*a, i),
                    self.latex_string(*b, i)
                );
            }
            Math::Pow([a, b]) => {
                let base_paren = self.latex_level(*a, i) <= POW
                    || matches!(self.node(*a, i), Some((Math::Div(_), _)))
                    || matches!(self.node(*a, i), Some((Math::Num(c), _)) if !c.0.is_integer());
                out.push('{');
                self.latex_paren(*a, i, base_paren, out);
                let _ = write!(out, "}}^{{{}}}", self.latex_string(*b, i));
            }
            Math::Neg(a) => {
                out.push('-');
                self.latex_paren(*a, i, self.latex_level(*a, i) <= NEG, out);
            }
            Math::Num(c) => {
                if c.is_negative() {
                    out.push('-');
                }
                let q = c.0.abs();
                if q.is_integer() {
                    out.push_str(&q.numer().to_string());
                } else {
                    let _ = write!(out, "\\frac{{{}}}{{{}}}", q.numer(), q.denom());
                }
            }
            Math::Symbol(s) => out.push_str(&latex_symbol(s.as_str())),
            Math::Index(ids) => match ids.split_first() {
                Some((&head, rest)) => {
                    let h = self.latex_string(head, i);
                    let symbol = matches!(self.node(head, i), Some((Math::Symbol(_), _)));
                    if !symbol {
                        let _ = write!(out, "\\left({h}\\right)");
                    } else if h.contains('_') {
                        let _ = write!(out, "{{{h}}}");
                    } else {
                        out.push_str(&h);
                    }
                    let _ = write!(out, "_{{{}}}", self.latex_subscript(rest, i));
                }
                None => out.push_str("\\mathrm{idx}"),
            },
            Math::Delta(ab) => {
                let _ = write!(out, "\\delta_{{{}}}", self.latex_subscript(ab, i));
            }
            Math::Expect(a) => {
                out.push_str("\\mathbb{E}\\left[ ");
                self.latex(*a, i, out);
                out.push_str(" \\right]");
            }
            Math::Integral([j, lo, hi, body]) => {
                let _ = write!(
                    out,
                    "\\int_{{{}}}^{{{}}} ",
                    self.latex_string(*lo, i),
                    self.latex_string(*hi, i)
                );
                self.latex_paren(*body, i, self.latex_level(*body, i) == ADD, out);
                let _ = write!(out, "\\,\\mathrm{{d}}{}", self.latex_string(*j, i));
            }
            Math::Sum([j, lo, hi, body]) => {
                let _ = write!(
                    out,
                    "\\sum_{{{}={}}}^{{{}}} ",
                    self.latex_string(*j, i),
                    self.latex_string(*lo, i),
                    self.latex_string(*hi, i)
                );
                self.latex_paren(*body, i, self.latex_level(*body, i) == ADD, out);
            }
            Math::Gauss([a, b, c, body]) => {
                let (a, b, c) = (
                    self.latex_string(*a, i),
                    self.latex_string(*b, i),
                    self.latex_string(*c, i),
                );
                let _ = write!(
                    out,
                    "\\mathbb{{E}}_{{(u,v)\\sim\\mathcal{{N}}\\left(0,\\left(\\begin{{smallmatrix}} {a} & {b} \\\\ {b} & {c} \\end{{smallmatrix}}\\right)\\right)}}\\left[ "
                );
                self.latex(*body, i, out);
                out.push_str(" \\right]");
            }
            Math::Deriv([t, body]) => {
                let _ = write!(out, "\\frac{{d}}{{d{}}} ", self.latex_string(*t, i));
                let simple = matches!(
                    self.node(*body, i),
                    Some((Math::Symbol(_) | Math::Index(_), _))
                );
                self.latex_paren(*body, i, !simple, out);
            }
            Math::MatExp(a) => {
                let _ = write!(out, "e^{{{}}}", self.latex_string(*a, i));
            }
            Math::Sqrt(a) => {
                let _ = write!(out, "\\sqrt{{{}}}", self.latex_string(*a, i));
            }
            Math::Abs(a) => {
                let _ = write!(out, "\\left|{}\\right|", self.latex_string(*a, i));
            }
            Math::Atan2(ab) => self.latex_call("\\operatorname{atan2}", ab, i, out),
            Math::Max(ab) => self.latex_call("\\max", ab, i, out),
            Math::Min(ab) => self.latex_call("\\min", ab, i, out),
            Math::LeakyRelu(ab) => self.latex_call("\\operatorname{leaky\\_relu}", ab, i, out),
            other => {
                let name = match other {
                    Math::Exp(_) => "\\exp",
                    Math::Log(_) => "\\log",
                    Math::Sin(_) => "\\sin",
                    Math::Cos(_) => "\\cos",
                    Math::Tan(_) => "\\tan",
                    Math::Asin(_) => "\\arcsin",
                    Math::Acos(_) => "\\arccos",
                    Math::Atan(_) => "\\arctan",
                    Math::Tanh(_) => "\\tanh",
                    Math::Phi(_) => "\\phi",
                    Math::DPhi(_) => "\\dot\\phi",
                    Math::Relu(_) => "\\operatorname{relu}",
                    Math::Step(_) => "\\operatorname{step}",
                    Math::Erf(_) => "\\operatorname{erf}",
                    Math::Sigmoid(_) => "\\operatorname{sigmoid}",
                    Math::Softplus(_) => "\\operatorname{softplus}",
                    Math::Gelu(_) => "\\operatorname{gelu}",
                    Math::Cosh(_) => "\\cosh",
                    Math::Sinh(_) => "\\sinh",
                    Math::Sign(_) => "\\operatorname{sign}",
                    Math::Transpose(_) => "\\operatorname{transpose}",
                    Math::Trace(_) => "\\operatorname{tr}",
                    Math::Norm(_) => "\\operatorname{norm}",
                    Math::Dot(_) => "\\operatorname{dot}",
                    Math::Outer(_) => "\\operatorname{outer}",
                    Math::Grad(_) => "\\nabla",
                    Math::Jacobian(_) => "J",
                    Math::Hessian(_) => "\\nabla^2",
                    _ => "\\operatorname{?}",
                };
                self.latex_call(name, other.children(), i, out);
            }
        }
    }
}

/// LaTeX names of the Greek letters, by their spelled-out names.
const GREEK: [&str; 36] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Omega",
];

/// The LaTeX for a Greek character, if it is one (Latin-looking capitals stay Latin).
fn greek_char(c: char) -> Option<&'static str> {
    Some(match c {
        'α' => "\\alpha",
        'β' => "\\beta",
        'γ' => "\\gamma",
        'δ' => "\\delta",
        'ε' => "\\epsilon",
        'ζ' => "\\zeta",
        'η' => "\\eta",
        'θ' => "\\theta",
        'ι' => "\\iota",
        'κ' => "\\kappa",
        'λ' => "\\lambda",
        'μ' => "\\mu",
        'ν' => "\\nu",
        'ξ' => "\\xi",
        'ο' => "o",
        'π' => "\\pi",
        'ρ' => "\\rho",
        'ς' => "\\varsigma",
        'σ' => "\\sigma",
        'τ' => "\\tau",
        'υ' => "\\upsilon",
        'φ' => "\\phi",
        'χ' => "\\chi",
        'ψ' => "\\psi",
        'ω' => "\\omega",
        'Α' => "A",
        'Β' => "B",
        'Γ' => "\\Gamma",
        'Δ' => "\\Delta",
        'Ε' => "E",
        'Ζ' => "Z",
        'Η' => "H",
        'Θ' => "\\Theta",
        'Ι' => "I",
        'Κ' => "K",
        'Λ' => "\\Lambda",
        'Μ' => "M",
        'Ν' => "N",
        'Ξ' => "\\Xi",
        'Ο' => "O",
        'Π' => "\\Pi",
        'Ρ' => "P",
        'Σ' => "\\Sigma",
        'Τ' => "T",
        'Υ' => "\\Upsilon",
        'Φ' => "\\Phi",
        'Χ' => "X",
        'Ψ' => "\\Psi",
        'Ω' => "\\Omega",
        'ϑ' => "\\vartheta",
        'ϕ' => "\\varphi",
        'ϵ' => "\\epsilon",
        'ϱ' => "\\varrho",
        'ϖ' => "\\varpi",
        _ => return None,
    })
}

/// Escape a piece of a name for use inside `\mathrm{…}`.
fn latex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '#' | '$' | '%' | '&' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\backslash "),
            '^' => out.push_str("\\hat{}"),
            '~' => out.push_str("\\sim "),
            c => match greek_char(c) {
                Some(g) => {
                    out.push('{');
                    out.push_str(g);
                    out.push('}');
                }
                None => out.push(c),
            },
        }
    }
    out
}

/// A name without digits or primes: Greek names and letters become commands, single
/// characters stay, longer names are upright; `a_b` subscripts `b`.
fn latex_base(base: &str) -> String {
    if let Some((head, sub)) = base.split_once('_') {
        if !head.is_empty() && !sub.is_empty() {
            return format!("{}_{{{}}}", latex_base(head), latex_base(sub));
        }
    }
    match base {
        "sw" => return "\\sigma_{w}".into(),
        "sb" => return "\\sigma_{b}".into(),
        _ => {}
    }
    if GREEK.contains(&base) {
        return format!("\\{base}");
    }
    let mut chars = base.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => greek_char(c).map_or_else(|| latex_escape(base), str::to_string),
        (None, _) => String::new(),
        _ if base.chars().all(|c| greek_char(c).is_some()) => base
            .chars()
            .filter_map(greek_char)
            .collect::<Vec<_>>()
            .join(" "),
        _ => format!("\\mathrm{{{}}}", latex_escape(base)),
    }
}

/// LaTeX for a symbol name: `sw` → `\sigma_{w}`, `beta` → `\beta`, `n0` → `n_{0}`,
/// `s12` → `s_{12}`, `x'` → `x'`.
pub(crate) fn latex_symbol(name: &str) -> String {
    let core = name.trim_end_matches('\'');
    let primes = &name[core.len()..];
    let base = core.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &core[base.len()..];
    // `K_1` subscripts like `K1`.
    let base = match base.strip_suffix('_') {
        Some(b) if !b.is_empty() && !digits.is_empty() => b,
        _ => base,
    };
    let mut out = if base.is_empty() {
        digits.to_string()
    } else {
        let b = latex_base(base);
        match (digits.is_empty(), b.strip_suffix('}')) {
            (true, _) => b,
            // Already subscripted (`sw2` → `\sigma_{w,2}`): extend the subscript.
            (false, Some(open)) if b.contains("_{") && !b.ends_with("}}") => {
                format!("{open},{digits}}}")
            }
            (false, _) if b.contains('_') => format!("{{{b}}}_{{{digits}}}"),
            (false, _) => format!("{b}_{{{digits}}}"),
        }
    };
    out.push_str(primes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    /// s-expression → text.
    fn t(sexpr: &str) -> String {
        text(&sexpr.parse().unwrap())
    }

    /// infix → LaTeX.
    fn l(src: &str) -> String {
        latex(&parse(src).unwrap())
    }

    #[test]
    fn text_parenthesizes_minimally() {
        assert_eq!(t("(- a (- b c))"), "a - (b - c)");
        assert_eq!(t("(- (- a b) c)"), "a - b - c");
        assert_eq!(t("(/ a (* b c))"), "a/(b*c)");
        assert_eq!(t("(* a (/ b c))"), "a*(b/c)");
        assert_eq!(t("(/ (* a b) c)"), "a*b/c");
        assert_eq!(t("(* (+ a b) c)"), "(a + b)*c");
        assert_eq!(t("(+ a (* b c))"), "a + b*c");
        assert_eq!(t("(^ a (^ b c))"), "a^b^c");
        assert_eq!(t("(^ (^ a b) c)"), "(a^b)^c");
        assert_eq!(t("(neg (^ x 2))"), "-x^2");
        assert_eq!(t("(^ (neg x) 2)"), "(-x)^2");
        assert_eq!(t("(* (neg x) y)"), "-x*y");
        assert_eq!(t("(neg (* x y))"), "-(x*y)");
        assert_eq!(t("(neg (neg x))"), "-(-x)");
        assert_eq!(t("(^ x (neg y))"), "x^-y");
        assert_eq!(t("(^ x (* y z))"), "x^(y*z)");
        assert_eq!(t("(@ A (@ B C))"), "A @ (B @ C)");
    }

    #[test]
    fn text_constants() {
        assert_eq!(t("-3"), "-3");
        assert_eq!(t("(neg 3)"), "-(3)");
        assert_eq!(t("(neg -3)"), "-(-3)");
        assert_eq!(t("(^ -3 2)"), "(-3)^2");
        assert_eq!(t("(neg (^ 3 2))"), "-3^2");
        assert_eq!(t("(^ 2 -1)"), "2^-1");
        assert_eq!(t("(- a -1/2)"), "a - (-0.5)");
        assert_eq!(t("1/3"), "frac(1, 3)");
        assert_eq!(t("-2/3"), "-frac(2, 3)");
        assert_eq!(t("1/1000"), "0.001");
        assert_eq!(t("3/8"), "0.375");
        assert_eq!(t("1/1000000000000"), "1e-12");
    }

    #[test]
    fn text_special_forms() {
        let src = "sum(j in 1..n0, E[w[i, j]*x[j]]) + gauss(s11, s12, s22; relu(u)*relu(v)) \
                   - d/dt(mexp(A @ B)) + delta(j, k)*atan2(a, b)";
        assert_eq!(text(&parse(src).unwrap()), src.replace("  ", ""));
    }

    #[test]
    fn text_at_prints_a_subterm() {
        let (e, spans) = crate::expr::parse_with_spans("a*(b + c)").unwrap();
        let plus = Id::from(spans.iter().position(|r| *r == (2..9)).unwrap());
        assert_eq!(text_at(&e, plus), "b + c");
        assert_eq!(latex_at(&e, plus), "b + c");
    }

    #[test]
    fn printers_are_total() {
        let empty = Expr::default();
        assert_eq!(text(&empty), "?");
        assert_eq!(latex(&empty), "{?}");
        let e: Expr = "(idx (+ a b) 1)".parse().unwrap();
        assert_eq!(text(&e), "(a + b)[1]");
        assert_eq!(text_at(&e, Id::from(99)), "?");
        let cyclic = Expr::from(vec![Math::Neg(Id::from(0))]);
        assert_eq!(text(&cyclic), "-?");
        assert_eq!(latex(&cyclic), "-{?}");
    }

    #[test]
    fn latex_layout() {
        assert_eq!(l("a/(b*c)"), "\\frac{a}{b c}");
        assert_eq!(l("sqrt(x)^2"), "{\\sqrt{x}}^{2}");
        assert_eq!(l("(a/b)^2"), "{\\left(\\frac{a}{b}\\right)}^{2}");
        assert_eq!(l("2*x"), "2 x");
        assert_eq!(l("x*2"), "x \\cdot 2");
        assert_eq!(l("a - (b - c)"), "a - \\left(b - c\\right)");
        assert_eq!(l("E[x]"), "\\mathbb{E}\\left[ x \\right]");
        assert_eq!(l("sum(j in 1..n0, x[j])"), "\\sum_{j=1}^{n_{0}} x_{j}");
        assert_eq!(l("delta(j, k)"), "\\delta_{jk}");
        assert_eq!(l("w[i, j] + w[i, j+1]"), "w_{ij} + w_{i,j + 1}");
        assert_eq!(l("relu(x)"), "\\operatorname{relu}\\left(x\\right)");
        assert_eq!(
            l("phi(x) + dphi(x)"),
            "\\phi\\left(x\\right) + \\dot\\phi\\left(x\\right)"
        );
        assert_eq!(l("d/dt(x^2)"), "\\frac{d}{dt} \\left({x}^{2}\\right)");
        assert_eq!(l("mexp(A)"), "e^{A}");
        assert_eq!(l("-0.5*x"), "-\\frac{1}{2} x");
        assert_eq!(
            l("gauss(a, b, c; u*v)"),
            "\\mathbb{E}_{(u,v)\\sim\\mathcal{N}\\left(0,\\left(\\begin{smallmatrix} a & b \\\\ b & c \\end{smallmatrix}\\right)\\right)}\\left[ u v \\right]"
        );
    }

    #[test]
    fn latex_symbols() {
        assert_eq!(latex_symbol("sw"), "\\sigma_{w}");
        assert_eq!(latex_symbol("sb"), "\\sigma_{b}");
        assert_eq!(latex_symbol("beta"), "\\beta");
        assert_eq!(latex_symbol("theta'"), "\\theta'");
        assert_eq!(latex_symbol("n0"), "n_{0}");
        assert_eq!(latex_symbol("s12"), "s_{12}");
        assert_eq!(latex_symbol("x'"), "x'");
        assert_eq!(latex_symbol("σ"), "\\sigma");
        assert_eq!(latex_symbol("sw2"), "\\sigma_{w,2}");
        assert_eq!(latex_symbol("rho12'"), "\\rho_{12}'");
        assert_eq!(latex_symbol("x_hat"), "x_{\\mathrm{hat}}");
        assert_eq!(latex_symbol("loss"), "\\mathrm{loss}");
        assert_eq!(latex_symbol("K_1"), "K_{1}");
        assert_eq!(latex_symbol("x_1'"), "x_{1}'");
        assert_eq!(l("n0[j]"), "{n_{0}}_{j}");
    }
}
