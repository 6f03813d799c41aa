//! The derivation file format (TOML, math in strings) and its loading with spans.
//!
//! A file holds **claims**; a claim starts from an expression and holds its **steps**; each step
//! is a link from the expression before it, numbered `claim.step` (`link 2.3`). A claim or a step
//! may cite the equation of a note it checks.
//!
//! ```toml
//! id = "first_layer_cov"
//! title = "First-layer covariance"
//! note = "002_e07fa2555108a1ea.txt"   # the note citations refer to, unless they name another
//!
//! [symbols]
//! sw = "positive"          # real, positive, size, integer, interval A..B, index in LO..HI,
//! x = "array"              # array, gaussian, matrix
//! w = "gaussian"
//!
//! [define]
//! h_x = "sw/sqrt(n0) * sum(j in 1..n0, w[i,j]*x[j]) + sb*beta[i]"
//!
//! [[claim]]
//! title = "the covariance of the first layer"
//! cite = { line = 170, quote = '\frac{1}{n_0} \mathbf{x}^{\top} \mathbf{x}' + \beta^2' }
//! start = "E[h_x * h_xp]"
//!
//! [[claim.step]]
//! expr = "..."
//! by = ["expectation", "sums"]
//! expect = "proved"          # the default
//! remark = "why the step holds"
//! ```

// Input errors carry the file text for rendering; they are built once per failed load.
#![allow(clippy::result_large_err)]

use egg::Symbol;
use num_rational::BigRational;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

use super::error::InputError;
use crate::expr::shape::{shape_of, Shape};
use crate::expr::tensor::{infer, lower, Dim, Factored, Shapes, TShape};
use crate::expr::{parse_with_functions, Expr, Math};
use crate::limits::MAX_TERM_NODES;
use crate::prove::Theory;
use egg::Language as _;
use std::cell::RefCell;

pub use super::verdict::Verdict;

/// What a declared symbol is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Any real number.
    Real,
    /// A real number > 0.
    Positive,
    /// A positive integer (a width or dimension).
    Size,
    /// Any integer.
    Integer,
    /// A real number in `[lo, hi]`.
    Interval(f64, f64),
    /// An index ranging over `lo..hi` (inclusive).
    Index(Expr, Expr),
    /// A deterministic array of reals (`x[j]`).
    Array,
    /// A scalar or array with i.i.d. N(0,1) entries.
    Gaussian,
    /// A square matrix of unspecified size (`@` keeps the order of its products): any square
    /// matrix, so checked numerically on seeded general (not symmetric) matrices of dimension
    /// [`MATRIX_DIM`](crate::numeric::eval::MATRIX_DIM).
    Matrix,
    /// A vector (`vector n`: rows n, 1 column) or matrix (`matrix m x n`) of declared sizes
    /// with seeded entries; terms using it are written in entries and sums (`expr::tensor`).
    Tensor(Expr, Expr),
    /// A parameter vector made of declared vectors and matrices (`params W, v`), for `grad`.
    Params(Vec<Symbol>),
    /// A covariance matrix of size d (`covariance d`): symmetric positive semi-definite, written
    /// as S = F·Fᵀ with a factor F of seeded entries (every such S has one).
    Covariance(Expr),
    /// A Gaussian vector of d entries (`gaussian vector d`, i.i.d. N(0, 1) entries, or
    /// `gaussian vector d cov S`, z ~ N(0, S), written z = F·ξ with S = F·Fᵀ and ξ i.i.d.).
    GaussianVector(Expr, Option<Symbol>),
}

impl Kind {
    /// Does a symbol of this kind take one number as its value (real, positive, interval, size,
    /// integer, index)?
    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Kind::Real
                | Kind::Positive
                | Kind::Size
                | Kind::Integer
                | Kind::Interval(..)
                | Kind::Index(..)
        )
    }

    /// The ends of an interval as the numerics sample it: the doubles nearest the written ends
    /// that lie inside the written interval (the prover reads the ends as written: 0.1 is 1/10,
    /// whose nearest double is above it, so the sampled upper end is the double below; a point
    /// at the nearest double lay outside the interval, and `0.1 − b ≥ 0` was refuted there).
    pub fn sampled_interval(&self) -> Option<(f64, f64)> {
        let Kind::Interval(a, b) = self else {
            return None;
        };
        let exact = |x: f64| num_rational::BigRational::from_float(x);
        let written = crate::prove::analysis::decimal_value;
        let lo = match (exact(*a), written(*a)) {
            (Some(x), Some(w)) if x < w => next_up(*a),
            _ => *a,
        };
        let hi = match (exact(*b), written(*b)) {
            (Some(x), Some(w)) if x > w => -next_up(-*b),
            _ => *b,
        };
        Some((lo, hi))
    }

    /// Are its values seeded deterministic entries (an array, a sized vector or matrix, an
    /// unsized matrix), whose magnitude a point draws ([`crate::numeric::eval::Env::entry_scales`])?
    pub fn is_seeded(&self) -> bool {
        matches!(self, Kind::Array | Kind::Tensor(..) | Kind::Matrix)
    }
}

/// The least double above `x` (`f64::next_up`, stable after this crate's MSRV).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Where a claim or a step comes from: an equation of a note, quoted verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cite {
    /// The note's file name (e.g. `002_e07fa2555108a1ea.txt`).
    pub note: String,
    /// The line of the note where the quote stands, if given (a hint; the quote decides).
    pub line: Option<usize>,
    /// The equation's LaTeX, verbatim (short).
    pub quote: String,
    /// What the cited equation is, if the file says (`definition`, `claim`, …).
    pub kind: Option<CiteKind>,
    /// Where the quote stands in the derivation file: line and column, from 1 (for errors).
    pub at: (usize, usize),
}

/// What a cited equation of a note is, when the file says so (otherwise read from its form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiteKind {
    /// It defines a symbol; checked by the claims that use it as the note later does.
    Definition,
    /// It asserts something with its own left side.
    Claim,
    /// A link from the expression before it.
    DerivationStep,
    /// An approximation with a regime.
    Approximation,
    /// An inequality.
    Inequality,
    /// A fragment of a sentence.
    Prose,
}

impl CiteKind {
    /// Every kind, in the order errors list them.
    pub const ALL: [CiteKind; 6] = [
        CiteKind::Definition,
        CiteKind::Claim,
        CiteKind::DerivationStep,
        CiteKind::Approximation,
        CiteKind::Inequality,
        CiteKind::Prose,
    ];

    /// The name files and reports use.
    pub fn name(self) -> &'static str {
        match self {
            CiteKind::Definition => "definition",
            CiteKind::Claim => "claim",
            CiteKind::DerivationStep => "derivation-step",
            CiteKind::Approximation => "approximation",
            CiteKind::Inequality => "inequality",
            CiteKind::Prose => "prose",
        }
    }
}

/// Why an equation of a note is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A symbol, set or object is named; nothing is asserted.
    Notation,
    /// A fragment of a sentence, not an equation.
    Prose,
    /// Conversion damage beyond reconstruction.
    Garbled,
    /// It needs something the language cannot state (the detail says what).
    Outside,
}

impl Reason {
    /// Every reason, in the order errors list them.
    pub const ALL: [Reason; 4] = [
        Reason::Notation,
        Reason::Prose,
        Reason::Garbled,
        Reason::Outside,
    ];

    /// The name files and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Notation => "notation",
            Reason::Prose => "prose",
            Reason::Garbled => "garbled",
            Reason::Outside => "outside",
        }
    }

    /// How the report says it.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Notation => "notation only",
            Reason::Prose => "prose",
            Reason::Garbled => "garbled beyond reconstruction",
            Reason::Outside => "needs a result outside the language",
        }
    }
}

/// An equation of a note that is not checked, and why (`[[unchecked]]`).
#[derive(Debug, Clone)]
pub struct Unchecked {
    /// The equation.
    pub cite: Cite,
    /// Why it is not checked.
    pub reason: Reason,
    /// What exactly (e.g. the construct the language lacks).
    pub detail: String,
}

/// A link read under a named convention: both sides with the convention's substitutions.
#[derive(Debug, Clone)]
pub struct Under {
    /// The convention's name.
    pub convention: String,
    /// What it says.
    pub text: String,
    /// The left side under the convention.
    pub from: Term,
    /// The right side under the convention.
    pub to: Term,
    /// The verdict the file expects under the convention.
    pub expect: Verdict,
    /// The declarations whose index ranges the convention changes, as they read under it
    /// (`i = "index in 1..m"` under m := 1 is an index in 1..1: sampled at i = 5 it refuted
    /// a[i] = a[1], true for the one i there is).
    pub ranges: Vec<(Symbol, Kind)>,
}

/// An expression of the file, parsed, with where it came from.
#[derive(Debug, Clone)]
pub struct Term {
    /// As written (definitions not yet unfolded).
    pub written: Expr,
    /// With definitions unfolded: what is proved and evaluated.
    pub expr: Expr,
    /// The definitions it unfolds.
    pub unfolds: Vec<String>,
    /// The source text.
    pub text: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// A step of a claim: the link from the expression before it to its own.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's expression (the link's right side).
    pub term: Term,
    /// Theories cited for the link.
    pub by: Vec<Theory>,
    /// The verdict the file expects for the link.
    pub expect: Verdict,
    /// A remark shown with the link.
    pub remark: Option<String>,
    /// The note's equation this step checks, if cited.
    pub cite: Option<Cite>,
    /// For a link that holds only as a width goes to infinity: that width symbol.
    pub limit: Option<Symbol>,
    /// The expected log–log slope of the discrepancy against the width (−1/2 by default).
    pub rate: f64,
    /// For a limit link: the resolution (absolute) its width study must reach, if declared.
    pub resolution: Option<f64>,
    /// How the step relates to the expression before it (`=` unless the file says `rel`).
    pub rel: Relation,
    /// For an approximation link: the parameter, where it goes, and the order of the error.
    pub approx: Option<(Symbol, super::approx::Toward, f64)>,
    /// The link read under a named convention as well, if the step names one.
    pub under: Option<Box<Under>>,
    /// A typo or index slip (`minor = true`): still a failure, tagged minor.
    pub minor: bool,
}

/// An unknown function of one variable (`[unknowns.f]`), known only through its hypotheses.
#[derive(Debug, Clone)]
pub struct Unknown {
    /// Its name (`f`).
    pub name: Symbol,
    /// The variable it is a function of (`t`), a declared scalar.
    pub of: Symbol,
    /// Is it matrix valued (its initial value is a matrix)?
    pub matrix: bool,
    /// The ODE and the initial condition, if declared (an unknown used in a claim needs both).
    pub hypotheses: Option<Hypotheses>,
}

/// What is known of an unknown f of t: df/dt = `ode` (a polynomial in f, affine for the usual
/// linear flows) and f(`at`) = `value`. By uniqueness of the solution of an ODE whose right
/// side is locally Lipschitz in f, a candidate that satisfies both is f.
#[derive(Debug, Clone)]
pub struct Hypotheses {
    /// df/dt as a term in f, t and declared symbols, definitions unfolded.
    pub ode: Expr,
    /// The ODE's right side as written.
    pub ode_text: String,
    /// The degree of the right side in f (0: f does not enter; 1: affine).
    pub degree: u32,
    /// The initial time (free of t and f).
    pub at: Expr,
    /// As written.
    pub at_text: String,
    /// The value at the initial time (free of t and f), definitions unfolded.
    pub value: Expr,
    /// As written.
    pub value_text: String,
}

impl Unknown {
    /// `df/dt = … , f(0) = …`, as written.
    pub fn statement(&self) -> String {
        match &self.hypotheses {
            Some(h) => format!(
                "d{f}/d{t} = {}, {f}({}) = {}",
                h.ode_text,
                h.at_text,
                h.value_text,
                f = self.name,
                t = self.of
            ),
            None => format!("{}({}), no hypotheses", self.name, self.of),
        }
    }
}

/// A claim: a chain of equalities from a starting expression through its steps.
#[derive(Debug, Clone)]
pub struct Claim {
    /// What the claim says, if the file gives it.
    pub title: Option<String>,
    /// The note's equation the claim checks, if cited.
    pub cite: Option<Cite>,
    /// The starting expression.
    pub start: Term,
    /// The steps (at least one).
    pub steps: Vec<Step>,
}

/// A link's number: claim and step, both from 1 (`2.3` is the third step of the second claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId {
    /// The claim, from 1.
    pub claim: usize,
    /// The step within the claim, from 1.
    pub step: usize,
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.claim, self.step)
    }
}

/// One link of a derivation: the expression before a step, and the step.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// Its number.
    pub id: LinkId,
    /// The claim it belongs to.
    pub claim: &'a Claim,
    /// The left side (the claim's start or the previous step's expression).
    pub from: &'a Term,
    /// The step (its expression is the right side).
    pub step: &'a Step,
}

/// A loaded derivation.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// Short identifier (`first_layer_cov`).
    pub id: String,
    /// Title.
    pub title: String,
    /// The file it came from.
    pub file: String,
    /// The note citations refer to unless they name another.
    pub note: Option<String>,
    /// Declared symbols in file order.
    pub symbols: Vec<(Symbol, Kind)>,
    /// The claims in file order.
    pub claims: Vec<Claim>,
    /// Finite-width networks on which `limit` links are measured, if declared.
    pub network: Option<NetworkSpec>,
    /// Equations of notes the file marks as not checked, with why.
    pub unchecked: Vec<Unchecked>,
    /// Unknown functions declared with their hypotheses (`[unknowns.NAME]`).
    pub unknowns: Vec<Unknown>,
}

impl Derivation {
    /// Every link, in file order.
    pub fn links(&self) -> impl Iterator<Item = Link<'_>> + '_ {
        self.claims.iter().enumerate().flat_map(|(c, claim)| {
            claim.steps.iter().enumerate().map(move |(s, step)| Link {
                id: LinkId {
                    claim: c + 1,
                    step: s + 1,
                },
                claim,
                from: if s == 0 {
                    &claim.start
                } else {
                    &claim.steps[s - 1].term
                },
                step,
            })
        })
    }

    /// The unknown function named `s`, if it is one.
    pub fn unknown(&self, s: Symbol) -> Option<&Unknown> {
        self.unknowns.iter().find(|u| u.name == s)
    }

    /// If one side of the link is an unknown function with hypotheses: the unknown, the other
    /// side (the claimed solution), and whether the unknown is the left side.
    pub fn unknown_link<'a>(&'a self, link: &Link<'a>) -> Option<(&'a Unknown, &'a Expr, bool)> {
        let is = |t: &Term| {
            (t.expr.as_ref().len() == 1)
                .then(|| t.expr.as_ref()[0].symbol())
                .flatten()
                .and_then(|s| self.unknown(s))
        };
        match (is(link.from), is(&link.step.term)) {
            (Some(u), None) => Some((u, &link.step.term.expr, true)),
            (None, Some(u)) => Some((u, &link.from.expr, false)),
            _ => None,
        }
    }

    /// The link numbered `id`, if there is one.
    pub fn link(&self, id: LinkId) -> Option<Link<'_>> {
        self.links().find(|l| l.id == id)
    }

    /// Both sides of link `id`, mutably (to build a changed derivation, e.g. a mutant).
    pub fn sides_mut(&mut self, id: LinkId) -> Option<(&mut Term, &mut Term)> {
        let claim = self.claims.get_mut(id.claim.checked_sub(1)?)?;
        let s = id.step.checked_sub(1)?;
        if s >= claim.steps.len() {
            return None;
        }
        if s == 0 {
            Some((&mut claim.start, &mut claim.steps[0].term))
        } else {
            let (before, after) = claim.steps.split_at_mut(s);
            Some((&mut before[s - 1].term, &mut after[0].term))
        }
    }

    /// Every expression of the file (starts and steps), in file order.
    pub fn terms(&self) -> impl Iterator<Item = &Term> + '_ {
        self.claims
            .iter()
            .flat_map(|c| std::iter::once(&c.start).chain(c.steps.iter().map(|s| &s.term)))
    }
}

// The `[network]` table, checked in its own file (a child module: it reads the loader and the
// raw table); the quantities it binds are listed in `quantity.rs`.
#[path = "network_spec.rs"]
mod network_spec;
pub use super::quantity::Quantity;
use network_spec::network;

// The `[unknowns]` table (unknown functions with an ODE and an initial condition) and the
// rules for using them in claims, checked in their own file (a child module, like the network).
#[path = "unknowns.rs"]
mod unknowns;
pub use network_spec::{network_cost, NetworkSpec, Train};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    id: Spanned<String>,
    title: String,
    note: Option<Spanned<String>>,
    #[serde(default)]
    symbols: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    define: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    claim: Vec<RawClaim>,
    #[serde(default)]
    unchecked: Vec<RawUnchecked>,
    #[serde(default)]
    conventions: BTreeMap<Spanned<String>, RawConvention>,
    network: Option<RawNetwork>,
    #[serde(default)]
    unknowns: BTreeMap<Spanned<String>, Spanned<RawUnknown>>,
    /// The format before claims; refused with a message that says what replaced it.
    chain: Option<Spanned<toml::Value>>,
    /// Likewise.
    source: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    activations: Spanned<Vec<String>>,
    depths: Spanned<Vec<usize>>,
    sw: Spanned<f64>,
    sb: Spanned<f64>,
    inputs: Spanned<Vec<Vec<f64>>>,
    widths: Option<Spanned<Vec<usize>>>,
    seeds: Option<Spanned<usize>>,
    #[serde(default)]
    bind: BTreeMap<Spanned<String>, Spanned<String>>,
    train: Option<Spanned<RawTrain>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnknown {
    of: Spanned<String>,
    ode: Option<Spanned<String>>,
    initial: Option<Spanned<RawInitial>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInitial {
    at: Spanned<String>,
    value: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    eta: f64,
    time: f64,
    steps: usize,
    target: f64,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawCite {
    note: Option<String>,
    line: Option<Spanned<i64>>,
    quote: Spanned<String>,
    kind: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnchecked {
    cite: Spanned<RawCite>,
    reason: Spanned<String>,
    detail: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConvention {
    text: String,
    #[serde(default)]
    define: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    title: Option<String>,
    cite: Option<Spanned<RawCite>>,
    start: Spanned<String>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawStep {
    expr: Spanned<String>,
    by: Option<Vec<Spanned<String>>>,
    expect: Option<Spanned<String>>,
    remark: Option<String>,
    cite: Option<Spanned<RawCite>>,
    limit: Option<Spanned<String>>,
    rate: Option<Spanned<f64>>,
    resolution: Option<Spanned<f64>>,
    rel: Option<Spanned<String>>,
    convention: Option<Spanned<String>>,
    expect_under: Option<Spanned<String>>,
    approx: Option<Spanned<String>>,
    order: Option<Spanned<f64>>,
    #[serde(default)]
    minor: bool,
}

/// How a step relates to the expression before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relation {
    /// `=` (the default).
    #[default]
    Eq,
    /// `<=`: the step is at least the expression before it.
    Le,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Relation {
    /// Parse `=`, `<=`, `<`, `>=`, `>` (or `≤`, `≥`).
    pub fn parse(s: &str) -> Option<Relation> {
        Some(match s.trim() {
            "=" | "==" => Relation::Eq,
            "<=" | "≤" => Relation::Le,
            "<" => Relation::Lt,
            ">=" | "≥" => Relation::Ge,
            ">" => Relation::Gt,
            _ => return None,
        })
    }

    /// The symbol shown between the sides.
    pub fn symbol(self) -> &'static str {
        match self {
            Relation::Eq => "=",
            Relation::Le => "≤",
            Relation::Lt => "<",
            Relation::Ge => "≥",
            Relation::Gt => ">",
        }
    }

    /// By how much the sides `l` (before) and `r` (the step) violate the relation, if they do
    /// (0 when it holds; for `=` the distance). A strict inequality between values equal to
    /// within the tolerance is not decided by a number, so it counts as holding.
    /// Not a number when either side is not finite (`max` would turn a NaN into 0: agreement).
    pub fn excess(self, l: f64, r: f64) -> f64 {
        if !(l - r).is_finite() {
            return f64::NAN;
        }
        match self {
            Relation::Eq => (l - r).abs(),
            Relation::Le | Relation::Lt => (l - r).max(0.0),
            Relation::Ge | Relation::Gt => (r - l).max(0.0),
        }
    }

    /// Does equality of the sides prove the relation?
    pub fn follows_from_equality(self) -> bool {
        matches!(self, Relation::Eq | Relation::Le | Relation::Ge)
    }
}

/// Reads and checks derivation files.
struct Loader<'a> {
    file: &'a str,
    src: &'a str,
    /// The parameterised definitions read so far (`K(r) = …`): parameters and body.
    functions: RefCell<BTreeMap<Symbol, (Vec<Symbol>, Expr)>>,
    /// The names of the unknown functions (`f(t)` parses as an application of `f`).
    unknowns: Vec<String>,
    /// The declared vectors, matrices and parameter groups, and the shapes of definitions.
    shapes: RefCell<Shapes>,
    /// The declared symbols whose values are integers (sizes, integers, indices), with their
    /// kind's name: none can be the variable of a derivative.
    discrete: RefCell<BTreeMap<Symbol, &'static str>>,
    /// The declared scalar symbols (real, positive, interval, size, integer, index: none has
    /// entries) and deterministic arrays (whose value is their entries).
    scalars: RefCell<BTreeSet<Symbol>>,
    arrays: RefCell<BTreeSet<Symbol>>,
}

impl Loader<'_> {
    fn err(
        &self,
        span: Range<usize>,
        msg: impl Into<String>,
        label: impl Into<String>,
    ) -> InputError {
        InputError::new(self.file, self.src, span, msg, label)
    }

    /// The file offset of byte `k` of the string value at `span`, when it maps exactly.
    fn inner_offset(&self, span: &Range<usize>, value: &str) -> Option<usize> {
        let raw = self.src.get(span.clone())?;
        for q in ["\"\"\"", "'''", "\"", "'"] {
            if let Some(rest) = raw.strip_prefix(q) {
                let rest = rest.strip_prefix('\n').unwrap_or(rest);
                let skip = raw.len() - rest.len();
                if rest.starts_with(value) {
                    return Some(span.start + skip);
                }
            }
        }
        None
    }

    fn parse_expr(&self, s: &Spanned<String>) -> Result<(Expr, Vec<Range<usize>>), InputError> {
        self.parse_expr_then(s, Ok)
    }

    /// [`Self::parse_expr`], with `before` applied to the parsed term before the parameterised
    /// definitions are (a definition's body renames its parameters apart there).
    fn parse_expr_then(
        &self,
        s: &Spanned<String>,
        before: impl FnOnce(Expr) -> Result<Expr, InputError>,
    ) -> Result<(Expr, Vec<Range<usize>>), InputError> {
        let span = s.span();
        let base = self.inner_offset(&span, s.get_ref());
        let shift = |r: Range<usize>| match base {
            Some(b) => b + r.start..b + r.end.max(r.start + 1),
            None => span.clone(),
        };
        let mut names: Vec<String> = self
            .functions
            .borrow()
            .keys()
            .map(|k| k.to_string())
            .collect();
        names.extend(self.unknowns.iter().cloned());
        let (e, spans) = parse_with_functions(s.get_ref(), &names)
            .map(|(e, spans)| (e, spans.into_iter().map(shift).collect::<Vec<_>>()))
            .map_err(|e| self.err(shift(e.span.clone()), e.message.clone(), "here"))?;
        self.derivative_variables(&e, &spans)?;
        self.entries(&e, &spans)?;
        let e = before(e)?;
        if names.is_empty() {
            return Ok((e, spans));
        }
        self.apply_functions(&e, &spans)
    }

    /// A declared scalar has no entries (`a[3]` for a real a), and a declared array is used
    /// through its entries (`x/x` for an array x is not a number).
    fn entries(&self, e: &Expr, spans: &[Range<usize>]) -> Result<(), InputError> {
        let (scalars, arrays) = (self.scalars.borrow(), self.arrays.borrow());
        match misused_entries(e, &|s| scalars.contains(&s), &|s| arrays.contains(&s)) {
            Some((id, msg)) => Err(self.err(
                spans.get(usize::from(id)).cloned().unwrap_or(0..0),
                msg,
                "here",
            )),
            None => Ok(()),
        }
    }

    /// A derivative d/dX needs a real variable: X declared a size, an integer or an index, or
    /// bound by an enclosing sum, takes integer values only, where the identities the prover
    /// uses for it (sum-single, δ against a range) would be differentiated as if they held
    /// between the integers (d/dk Σⱼ (j−1)(j−2)(j−3)·δ(j,k), identically 0, "equals"
    /// 3k² − 12k + 11).
    fn derivative_variables(&self, e: &Expr, spans: &[Range<usize>]) -> Result<(), InputError> {
        match derivative_by_integer(e, &self.discrete.borrow()) {
            Some((id, x, what)) => Err(self
                .err(
                    spans.get(usize::from(id)).cloned().unwrap_or(0..0),
                    format!("d/d{x}: `{x}` is {what}, which takes integer values only; a derivative needs a real variable"),
                    "here",
                )
                .with_help(format!("declare `{x}` real (or an interval), or write the difference of consecutive values instead"))),
            None => Ok(()),
        }
    }

    /// Replace every application `K[args]` of a parameterised definition by its body with the
    /// arguments for the parameters (a substitution that would capture a name bound in the body
    /// is an error). New nodes carry the span of the application; the result keeps only the
    /// nodes reachable from its root.
    fn apply_functions(
        &self,
        e: &Expr,
        spans: &[Range<usize>],
    ) -> Result<(Expr, Vec<Range<usize>>), InputError> {
        let functions = self.functions.borrow();
        let mut out = Expr::default();
        let mut out_spans: Vec<Range<usize>> = vec![];
        let mut map: Vec<egg::Id> = Vec::with_capacity(e.as_ref().len());
        for (i, node) in e.as_ref().iter().enumerate() {
            let call = match node {
                Math::Index(args) => e[args[0]]
                    .symbol()
                    .and_then(|h| functions.get(&h).map(|f| (h, f, &args[1..]))),
                _ => None,
            };
            if let Some((head, (params, body), actual)) = call {
                let span = spans[i].clone();
                if actual.len() != params.len() {
                    return Err(self.err(
                        span,
                        format!(
                            "`{head}` takes {} argument{}, but {} {} given",
                            params.len(),
                            if params.len() == 1 { "" } else { "s" },
                            actual.len(),
                            if actual.len() == 1 { "was" } else { "were" }
                        ),
                        "here",
                    ));
                }
                // The body is a formula in its parameters: an argument that mentions a variable
                // the body differentiates by would be differentiated too (K(r) = d/dt(r·t) at
                // r = t² is t², not d/dt(t³)).
                let wrt: BTreeSet<Symbol> = body
                    .as_ref()
                    .iter()
                    .filter_map(|n| match n {
                        Math::Deriv([t, _]) => body[*t].symbol(),
                        _ => None,
                    })
                    .collect();
                for a in actual {
                    let arg = &out[map[usize::from(*a)]];
                    let arg = arg.build_recexpr(|c| out[c].clone());
                    let free = binders::free_symbols(&arg, binders::root(&arg));
                    if let Some(t) = free.iter().find(|s| wrt.contains(s)) {
                        return Err(self.err(
                            span,
                            format!("an argument of `{head}` mentions `{t}`, which its definition differentiates by"),
                            "here",
                        )
                        .with_help("write the derivative out, or give the definition the argument's value as a parameter"));
                    }
                }
                let subst: BTreeMap<Symbol, Expr> = params
                    .iter()
                    .zip(actual)
                    .map(|(p, a)| {
                        let id = map[usize::from(*a)];
                        (*p, out[id].build_recexpr(|c| out[c].clone()))
                    })
                    .collect();
                let (applied, _) = binders::substitute_values(body, &subst, MAX_TERM_NODES)
                    .map_err(|err| match err {
                        // A parameter is renamed apart as `F·x`: name it as written.
                        UnfoldError::Capture(p, b) => {
                            let param = p.as_str().rsplit('·').next().unwrap_or(p.as_str());
                            self.err(
                                span.clone(),
                                format!("the argument given for `{param}` of `{head}` mentions `{b}`, which the definition of `{head}` binds: it would be captured"),
                                "here",
                            )
                            .with_help(format!("`{b}` in the argument is another name than the `{b}` bound inside `{head}`: rename it"))
                        }
                        err => unfold_error(self, span.clone(), err, Some(head)),
                    })?;
                let before = out.as_ref().len();
                let id = binders::append(&mut out, &applied);
                out_spans.extend(std::iter::repeat_n(span, out.as_ref().len() - before));
                map.push(id);
                continue;
            }
            map.push(out.add(node.clone().map_children(|c| map[usize::from(c)])));
            out_spans.push(spans[i].clone());
        }
        // Only what the root reaches (an application leaves its head and arguments behind).
        let n = out.as_ref().len();
        let mut reach = vec![false; n];
        if n > 0 {
            reach[n - 1] = true;
        }
        for i in (0..n).rev() {
            if reach[i] {
                for c in out[egg::Id::from(i)].children() {
                    reach[usize::from(*c)] = true;
                }
            }
        }
        let mut compact = Expr::default();
        let mut compact_spans = vec![];
        let mut new_id = vec![egg::Id::from(0); n];
        for i in (0..n).filter(|i| reach[*i]) {
            let node = out[egg::Id::from(i)]
                .clone()
                .map_children(|c| new_id[usize::from(c)]);
            new_id[i] = compact.add(node);
            compact_spans.push(out_spans[i].clone());
        }
        Ok((compact, compact_spans))
    }
}

/// The declared vectors, matrices and parameter groups: a size must be a declared `size` (or a
/// positive integer); a group's blocks must be declared vectors or matrices.
fn tensor_shapes(
    l: &Loader,
    raw: &BTreeMap<Spanned<String>, Spanned<String>>,
    symbols: &[(Symbol, Kind)],
) -> Result<Shapes, InputError> {
    let span_of = |s: Symbol| {
        raw.iter()
            .find(|(n, _)| n.get_ref() == s.as_str())
            .map(|(_, k)| k.span())
            .unwrap_or(0..0)
    };
    let kind_of = |s: Symbol| symbols.iter().find(|(x, _)| *x == s).map(|(_, k)| k);
    let mut shapes = Shapes::default();
    for (s, kind) in symbols {
        if let Err((message, help)) = check_tensor_kind(symbols, *s, kind) {
            return Err(l.err(span_of(*s), message, "here").with_help(help));
        }
        match kind {
            Kind::Matrix => {
                shapes.sizeless.insert(*s);
            }
            Kind::Tensor(m, n) => {
                shapes
                    .tensors
                    .insert(*s, (Dim::new(m.clone()), Dim::new(n.clone())));
                let declared = raw
                    .iter()
                    .find(|(x, _)| x.get_ref() == s.as_str())
                    .map(|(_, k)| k.get_ref().trim().to_string());
                if declared.is_some_and(|k| k.starts_with("vector")) {
                    shapes.vectors.insert(*s);
                }
            }
            Kind::Covariance(d) => {
                shapes
                    .tensors
                    .insert(*s, (Dim::new(d.clone()), Dim::new(d.clone())));
                shapes.factored.insert(
                    *s,
                    Factored {
                        factor: factor_name(*s),
                        noise: None,
                        size: Dim::new(d.clone()),
                    },
                );
            }
            Kind::GaussianVector(d, cov) => {
                shapes.tensors.insert(
                    *s,
                    (
                        Dim::new(d.clone()),
                        Dim::new(crate::expr::parse("1").expect("a number")),
                    ),
                );
                shapes.vectors.insert(*s);
                if let Some(c) = cov {
                    match kind_of(*c) {
                        Some(Kind::Covariance(dc))
                            if crate::expr::text(dc) == crate::expr::text(d) => {}
                        _ => {
                            return Err(l
                                .err(span_of(*s), format!("`{c}`, the covariance of `{s}`, is not a declared covariance of size {}", crate::expr::text(d)), "here")
                                .with_help(format!("declare it: {c} = \"covariance {}\"", crate::expr::text(d))));
                        }
                    }
                    shapes.factored.insert(
                        *s,
                        Factored {
                            factor: factor_name(*c),
                            noise: Some(noise_name(*s)),
                            size: Dim::new(d.clone()),
                        },
                    );
                }
            }
            Kind::Params(blocks) => {
                shapes.params.insert(*s, blocks.clone());
            }
            _ => {}
        }
    }
    Ok(shapes)
}

/// Is the declaration `s = kind` of a vector, matrix, covariance, Gaussian vector or parameter
/// group well formed among `symbols`: its sizes declared sizes, its blocks declared vectors or
/// matrices, each once? Otherwise (message, help). (Shared by derivation files and `--decl`.)
pub fn check_tensor_kind(
    symbols: &[(Symbol, Kind)],
    s: Symbol,
    kind: &Kind,
) -> Result<(), (String, String)> {
    let kind_of = |x: Symbol| symbols.iter().find(|(y, _)| *y == x).map(|(_, k)| k);
    let sizes = |d: &Expr| -> Result<(), (String, String)> {
        for x in d.as_ref().iter().filter_map(|n| n.symbol()) {
            if !matches!(kind_of(x), Some(Kind::Size)) {
                return Err((
                    format!("the size `{x}` of `{s}` is not a declared size"),
                    format!("declare it: {x} = \"size\""),
                ));
            }
        }
        Ok(())
    };
    match kind {
        Kind::Tensor(m, n) => {
            sizes(m)?;
            sizes(n)
        }
        Kind::Covariance(d) | Kind::GaussianVector(d, _) => sizes(d),
        Kind::Index(lo, hi) => {
            // Its ends are whole numbers from the other declarations, and the range is not empty
            // whatever they are.
            let others: Vec<(Symbol, Kind)> =
                symbols.iter().filter(|(x, _)| *x != s).cloned().collect();
            for end in [lo, hi] {
                if !integer(end, crate::expr::binders::root(end), &others, &[]) {
                    return Err((
                        format!(
                            "the range of the index `{s}` runs over whole numbers, but its end `{}` is not known to be one",
                            crate::expr::text(end)
                        ),
                        "write the ends with sizes, integers, other indices and integer constants".into(),
                    ));
                }
            }
            let ev = |e: &Expr| {
                crate::numeric::eval::Evaluator::new(&Default::default())
                    .eval(e)
                    .ok()
                    .map(|v| v.value)
            };
            if let (Some(a), Some(b)) = (ev(lo), ev(hi)) {
                if b < a {
                    return Err((
                        format!("the range {a}..{b} of the index `{s}` is empty"),
                        "give an index a range that holds at least one value".into(),
                    ));
                }
            }
            Ok(())
        }
        Kind::Params(blocks) => {
            for (i, b) in blocks.iter().enumerate() {
                if !matches!(kind_of(*b), Some(Kind::Tensor(..))) {
                    return Err((
                        format!("the block `{b}` of `{s}` is not a declared vector or matrix"),
                        "declare each block with its size: `vector N` or `matrix M x N`".into(),
                    ));
                }
                if blocks[..i].contains(b) {
                    return Err((
                        format!("the block `{b}` appears twice in `{s}`"),
                        "name each block of a parameter group once".into(),
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The factor F of a covariance S = F·Fᵀ (a name no one can type).
fn factor_name(s: Symbol) -> Symbol {
    Symbol::from(format!("√{s}"))
}

/// The i.i.d. N(0, 1) vector ξ of a Gaussian vector z = F·ξ (a name no one can type).
fn noise_name(s: Symbol) -> Symbol {
    Symbol::from(format!("ξ⁽{s}⁾"))
}

/// What the declarations of covariances and Gaussian vectors mean for the checker: each
/// covariance's factor is a seeded matrix, each factored vector's noise an i.i.d. Gaussian
/// array, and an i.i.d. Gaussian vector a Gaussian symbol (appended to the declarations).
fn factored_symbols(symbols: &mut Vec<(Symbol, Kind)>) {
    let mut extra = vec![];
    for (s, k) in symbols.iter_mut() {
        match k.clone() {
            Kind::Covariance(d) => {
                extra.push((factor_name(*s), Kind::Tensor(d.clone(), d.clone())));
            }
            Kind::GaussianVector(_, Some(_)) => {
                extra.push((noise_name(*s), Kind::Gaussian));
            }
            Kind::GaussianVector(_, None) => *k = Kind::Gaussian,
            _ => {}
        }
    }
    symbols.extend(extra);
}

/// Parse a symbol kind; the error is (message, label).
pub fn parse_kind(spec: &str) -> Result<Kind, (String, &'static str)> {
    let k = spec.trim();
    Ok(match k {
        "real" => Kind::Real,
        "positive" => Kind::Positive,
        "size" => Kind::Size,
        "integer" => Kind::Integer,
        "array" | "vector" => Kind::Array,
        "gaussian" => Kind::Gaussian,
        "matrix" => Kind::Matrix,
        _ if k.starts_with("covariance ") => {
            Kind::Covariance(size_term(k["covariance".len()..].trim())?)
        }
        _ if k.starts_with("gaussian vector ") => {
            let body = k["gaussian vector".len()..].trim();
            let (d, cov) = match body.split_once(" cov ") {
                Some((d, c)) => (d.trim(), Some(Symbol::from(c.trim()))),
                None => (body, None),
            };
            Kind::GaussianVector(size_term(d)?, cov)
        }
        _ if k.starts_with("vector ") => {
            let n = size_term(k["vector".len()..].trim())?;
            Kind::Tensor(n, crate::expr::parse("1").expect("a number"))
        }
        _ if k.starts_with("matrix ") => {
            let body = k["matrix".len()..].trim();
            let (m, n) = body
                .split_once(" x ")
                .or_else(|| body.split_once('×'))
                .ok_or_else(|| {
                    (
                        format!("`{k}` is not a matrix's shape"),
                        "expected `matrix M x N` (M rows, N columns)",
                    )
                })?;
            Kind::Tensor(size_term(m.trim())?, size_term(n.trim())?)
        }
        _ if k.starts_with("params") => {
            let blocks: Vec<Symbol> = k["params".len()..]
                .split(',')
                .map(|b| Symbol::from(b.trim()))
                .filter(|b| !b.as_str().is_empty())
                .collect();
            if blocks.is_empty() {
                return Err((
                    format!("`{k}` names no block"),
                    "expected `params W, v`: the declared vectors and matrices that make θ",
                ));
            }
            Kind::Params(blocks)
        }
        _ if k.starts_with("interval") => {
            let body = k["interval".len()..].trim();
            let (a, b) = body.split_once("..").ok_or_else(|| {
                (
                    format!("`{k}` is not an interval"),
                    "expected `interval A..B`",
                )
            })?;
            for end in [a, b] {
                if parse_number(end).is_some() && !exact_double(end) {
                    return Err((
                        format!("`{}` is not a double-precision number: this interval's end would be read as {}", end.trim(), parse_number(end).unwrap_or(f64::NAN)),
                        "write each end with at most 17 significant digits, so that the prover's end and the sampled one are the same number",
                    ));
                }
            }
            match (parse_number(a), parse_number(b)) {
                // Its width must be finite too: samples are drawn as lo + (hi − lo)·u.
                (Some(a), Some(b)) if a < b && (b - a).is_finite() => Kind::Interval(a, b),
                _ => {
                    return Err((
                        format!("`{k}` is not a valid interval"),
                        "needs finite numbers A < B with a finite width B − A",
                    ))
                }
            }
        }
        _ if k.starts_with("index") => {
            let body = k["index".len()..].trim();
            let body = body.strip_prefix("in").unwrap_or(body).trim();
            let (a, b) = body.split_once("..").ok_or_else(|| {
                (
                    format!("`{k}` is not an index range"),
                    "expected `index in LO..HI`",
                )
            })?;
            match (crate::expr::parse(a.trim()), crate::expr::parse(b.trim())) {
                (Ok(a), Ok(b)) => Kind::Index(a, b),
                _ => return Err((format!("bad index range in `{k}`"), "here")),
            }
        }
        _ => return Err((format!("unknown kind `{k}`"), "this kind")),
    })
}

/// A vector's or matrix's size: a positive integer or a term (its symbols are checked to be
/// declared sizes by the loader).
fn size_term(s: &str) -> Result<Expr, (String, &'static str)> {
    let e = crate::expr::parse(s).map_err(|_| {
        (
            format!("`{s}` is not a size"),
            "expected a size symbol or a positive integer",
        )
    })?;
    let ok = e.as_ref().iter().all(|n| match n {
        Math::Symbol(_) | Math::Add(_) | Math::Sub(_) | Math::Mul(_) => true,
        Math::Num(c) => c.0.is_integer() && !c.is_negative() && !c.is_zero(),
        _ => false,
    });
    if !ok {
        return Err((
            format!("`{s}` is not a size"),
            "expected a size symbol or a positive integer",
        ));
    }
    Ok(e)
}

/// Is the decimal `s` exactly the number its double reads back as (`0.3`, `1e-3`, but not
/// `1.00000000000000001`, whose double is 1)? The prover takes an interval's ends as the
/// shortest decimals of their doubles ([`crate::prove::analysis::decimal_value`]).
fn exact_double(s: &str) -> bool {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let body = if body.starts_with('.') {
        format!("0{body}")
    } else {
        body.to_string()
    };
    let written = format!("{neg}{body}").parse::<crate::expr::Constant>();
    match (written, parse_number(s)) {
        (Ok(q), Some(x)) => crate::prove::analysis::decimal_value(x) == Some(q.0),
        _ => false,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// Load and check a derivation from `src`, the text of `file`.
pub fn load(file: &str, src: &str) -> Result<Derivation, InputError> {
    let mut l = Loader {
        file,
        src,
        functions: RefCell::new(BTreeMap::new()),
        unknowns: vec![],
        shapes: RefCell::new(Shapes::default()),
        discrete: RefCell::new(BTreeMap::new()),
        scalars: RefCell::new(BTreeSet::new()),
        arrays: RefCell::new(BTreeSet::new()),
    };
    let raw: RawFile = toml::from_str(src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        l.err(
            span,
            format!("malformed derivation file: {}", e.message()),
            "here",
        )
    })?;
    l.unknowns = raw.unknowns.keys().map(|k| k.get_ref().clone()).collect();
    let l = l;
    if let Some(old) = raw.chain.as_ref().or(raw.source.as_ref()) {
        return Err(l
            .err(
                old.span(),
                "this file is in the old format: `[[chain]]` and `source` were replaced by claims",
                "old format",
            )
            .with_help(
                "write each chain as [[claim]] with `start = \"…\"`, then one [[claim.step]] per link (`expr`, `by`, `expect`, `remark`); cite a note's equation with `cite = { note, line, quote }`",
            ));
    }
    if raw.claim.is_empty() && raw.unchecked.is_empty() {
        return Err(l
            .err(
                raw.id.span(),
                "the derivation has no claim",
                "in this derivation",
            )
            .with_help("add a [[claim]] with `start = \"…\"` and at least one [[claim.step]] (or, for a note's equations that are not checked, [[unchecked]] entries)"));
    }
    // Declarations.
    let mut symbols = vec![];
    for (name, kind) in &raw.symbols {
        let parsed = parse_kind(kind.get_ref()).map_err(|(msg, label)| {
            l.err(kind.span(), format!("{msg} (symbol `{}`)", name.get_ref()), label)
                .with_help("kinds: real, positive, size, integer, interval A..B, index in LO..HI, array, gaussian, matrix, vector N, matrix M x N, params W, v, covariance N, gaussian vector N [cov S]")
        })?;
        let valid_name = crate::expr::parse(name.get_ref())
            .ok()
            .filter(|e| e.as_ref().len() == 1 && e.as_ref()[0].symbol().is_some());
        if valid_name.is_none() {
            return Err(l.err(
                name.span(),
                format!("`{}` is not a symbol name", name.get_ref()),
                "here",
            ));
        }
        if let Some(why) = builtin_name(name.get_ref()) {
            return Err(l.err(name.span(), why, "here"));
        }
        symbols.push((Symbol::from(name.get_ref().as_str()), parsed));
    }
    let declared: BTreeSet<Symbol> = symbols.iter().map(|(s, _)| *s).collect();
    *l.discrete.borrow_mut() = discrete_symbols(&symbols);
    *l.scalars.borrow_mut() = symbols
        .iter()
        .filter(|(_, k)| k.is_number())
        .map(|(s, _)| *s)
        .collect();
    *l.arrays.borrow_mut() = symbols
        .iter()
        .filter(|(_, k)| *k == Kind::Array)
        .map(|(s, _)| *s)
        .collect();
    let mut shapes = tensor_shapes(&l, &raw.symbols, &symbols)?;
    factored_symbols(&mut symbols);

    // Matrix-valued names: declared matrices, then definitions whose value is a matrix.
    let mut matrices: BTreeSet<Symbol> = symbols
        .iter()
        .filter(|(_, k)| *k == Kind::Matrix)
        .map(|(s, _)| *s)
        .collect();

    // Definitions, in file order; each may use earlier ones only (so there are no cycles).
    let mut raw_defs: Vec<(&Spanned<String>, &Spanned<String>)> = raw.define.iter().collect();
    raw_defs.sort_by_key(|(name, _)| name.span().start);
    let mut defs: BTreeMap<Symbol, Expr> = BTreeMap::new();
    // Each definition as written, in file order (a convention re-unfolds them with its own).
    let mut written_defs: Vec<(Symbol, Expr)> = vec![];
    for (k, (name, body)) in raw_defs.iter().enumerate() {
        if name.get_ref().contains('(') {
            function_definition(&l, name, body, &declared, &defs)?;
            continue;
        }
        let sym = Symbol::from(name.get_ref().as_str());
        if let Some(why) = builtin_name(name.get_ref()) {
            return Err(l.err(name.span(), why, "here"));
        }
        let (e, spans) = l.parse_expr(body)?;
        let pending: Vec<(Symbol, Range<usize>)> = raw_defs[k..]
            .iter()
            .map(|(n, _)| (Symbol::from(n.get_ref().as_str()), n.span()))
            .collect();
        check_symbols_in(&l, &e, &spans, &declared, &defs, Some((sym, &pending)))?;
        written_defs.push((sym, e.clone()));
        let (e, _) =
            unfold(&e, &defs).map_err(|err| unfold_error(&l, body.span(), err, Some(sym)))?;
        check_unfolded(&l, &e, body.span(), Some(sym))?;
        if declared.contains(&sym) {
            return Err(l.err(
                name.span(),
                format!("`{sym}` is both declared and defined"),
                "here",
            ));
        }
        if shapes.involved(&e) {
            match infer(&e, &shapes) {
                Ok(TShape::Scalar) => {}
                Ok(shape) => {
                    shapes.defined.insert(sym, shape);
                }
                Err(err) => return Err(l.err(body.span(), err.message, "in this definition")),
            }
            defs.insert(sym, e);
            continue;
        }
        let is_matrix = |s: Symbol| matrices.contains(&s);
        match shape_of(&e, &is_matrix) {
            Ok(Shape::Matrix) => {
                matrices.insert(sym);
            }
            Ok(Shape::Scalar) => {}
            Err(err) => return Err(l.err(body.span(), err.message, "in this definition")),
        }
        defs.insert(sym, e);
    }

    *l.shapes.borrow_mut() = shapes.clone();
    let unknowns = unknowns::load(&l, &raw.unknowns, &symbols, &defs, &matrices)?;
    let note = raw.note.as_ref().map(|n| n.get_ref().clone());
    let term = |t: &Spanned<String>| -> Result<Term, InputError> {
        let (written, spans) = l.parse_expr(t)?;
        if let Some(u) = unknowns::use_in_claim(&l, &written, &spans, &unknowns)? {
            return Ok(Term {
                written: u.clone(),
                expr: u,
                unfolds: vec![],
                text: t.get_ref().clone(),
                line: src[..t.span().start].matches('\n').count() + 1,
            });
        }
        check_symbols(&l, &written, &spans, &declared, &defs)?;
        let tensors = shapes.involved(&written);
        if tensors {
            infer(&written, &shapes)
                .map_err(|err| l.err(spans[usize::from(err.at)].clone(), err.message, "here"))?;
        } else {
            shape_of(&written, &|s| matrices.contains(&s))
                .map_err(|err| l.err(spans[usize::from(err.at)].clone(), err.message, "here"))?;
        }
        let (expr, mut unfolds) =
            unfold(&written, &defs).map_err(|err| unfold_error(&l, t.span(), err, None))?;
        // Vectors and matrices are written out in entries and sums (expr::tensor).
        let expr = if tensors || shapes.involved(&expr) {
            let lowered = lower(&expr, &shapes)
                .map_err(|err| l.err(t.span(), err.message, "in this expression"))?;
            unfolds.push("vectors and matrices as entries and sums".into());
            lowered
        } else {
            expr
        };
        check_unfolded(&l, &expr, t.span(), None)?;
        if let Some((range, why)) = sum_range_not_integer(&expr, &symbols) {
            return Err(l
                .err(
                    t.span(),
                    format!("a sum runs over whole numbers, but its range `{range}` {why}"),
                    "in this expression",
                )
                .with_help("write the range with sizes, indices, integers and sums' indices (`+`, `−`, `×`, integer constants)"));
        }
        Ok(Term {
            written,
            expr,
            unfolds,
            text: t.get_ref().clone(),
            line: src[..t.span().start].matches('\n').count() + 1,
        })
    };
    let conventions = conventions(
        &l,
        &raw.conventions,
        &declared,
        &symbols,
        &defs,
        &written_defs,
    )?;
    let mut claims = vec![];
    for raw_claim in &raw.claim {
        if raw_claim.step.is_empty() {
            return Err(l
                .err(raw_claim.start.span(), "this claim has no step", "start")
                .with_help("follow it with at least one [[claim.step]] with `expr = \"…\"`"));
        }
        let start = term(&raw_claim.start)?;
        let mut steps: Vec<Step> = vec![];
        for step in &raw_claim.step {
            // `expr = "… + O(t^p)"`: the error term states the approximation.
            let (expr, big_o) = split_big_o(&l, &step.expr)?;
            let mut loaded = load_step(&l, step, term(&expr)?, &symbols, note.as_deref())?;
            if let Some((o_span, sym, toward, order)) = big_o {
                if step.approx.is_some() || step.order.is_some() {
                    return Err(l
                        .err(o_span, "the error term and `approx`/`order` both state the approximation", "here")
                        .with_help("keep one: `+ O(t^p)` in the expression, or approx = \"t -> 0\" with order = p"));
                }
                let raw = RawStep {
                    approx: Some(Spanned::new(
                        o_span.clone(),
                        format!("{sym} -> {}", if toward { "0" } else { "inf" }),
                    )),
                    order: Some(Spanned::new(o_span.clone(), order)),
                    ..step.clone()
                };
                loaded = load_step(&l, &raw, term(&expr)?, &symbols, note.as_deref())?;
            }
            if let Some(name) = &step.convention {
                // A convention may not fix the variable the step lets go to a limit: with n fixed
                // there is no limit to take (n := 1000 made a false width limit `limit` "under
                // the convention", the study still varying n).
                let varying = loaded
                    .limit
                    .iter()
                    .chain(loaded.approx.as_ref().map(|(s, _, _)| s));
                if let Some(v) = conventions
                    .get(name.get_ref())
                    .and_then(|c| varying.clone().find(|v| c.values.contains_key(*v)))
                {
                    return Err(l
                        .err(
                            name.span(),
                            format!("the convention `{}` fixes `{v}`, the variable this step takes to its limit", name.get_ref()),
                            "here",
                        )
                        .with_help("a fixed value leaves nothing to take the limit of: state the step without the convention, or for that value without the limit"));
                }
                let from = steps.last().map_or(&start, |s| &s.term);
                loaded.under = Some(Box::new(under(
                    &l,
                    name,
                    step.expect_under.as_ref(),
                    &conventions,
                    (from, &loaded.term),
                    &symbols,
                )?));
            } else if let Some(e) = &step.expect_under {
                return Err(l
                    .err(e.span(), "`expect_under` without a `convention`", "here")
                    .with_help(
                        "name the convention the step is read under: `convention = \"NAME\"`",
                    ));
            }
            let from = steps.last().map_or(&start, |s| &s.term);
            unknowns::check_link(&l, step, from, &loaded, &unknowns)?;
            steps.push(loaded);
        }
        claims.push(Claim {
            title: raw_claim.title.clone(),
            cite: cite(&l, raw_claim.cite.as_ref(), note.as_deref())?,
            start,
            steps,
        });
    }
    let network = match &raw.network {
        None => None,
        Some(n) => Some(network(&l, n, &symbols)?),
    };
    // A convention may not give a symbol the [network] binds another value than the sampled
    // networks have (σw := 1.69 where the networks use 1.3 made σw written for σw² hold "under
    // the convention").
    if let Some(net) = &network {
        for name in raw
            .claim
            .iter()
            .flat_map(|c| &c.step)
            .filter_map(|s| s.convention.as_ref())
        {
            if let Some((sym, _)) = conventions
                .get(name.get_ref())
                .and_then(|c| net.bind.iter().find(|(sym, _)| c.values.contains_key(sym)))
            {
                return Err(l
                    .err(
                        name.span(),
                        format!("the convention `{}` gives `{sym}` a value, but `{sym}` is bound by [network] to the sampled networks' quantity", name.get_ref()),
                        "here",
                    )
                    .with_help("a convention may not change what the networks are: bind another symbol, or change the [network] table"));
            }
        }
    }
    if network.is_none() {
        // Without a network, a limit link is measured by sampling its random symbols; say early
        // when a width study is impossible.
        if let Some(step) = raw
            .claim
            .iter()
            .flat_map(|c| &c.step)
            .find(|s| s.limit.is_some())
        {
            let has_random = symbols.iter().any(|(_, k)| *k == Kind::Gaussian);
            if !has_random {
                return Err(l
                    .err(
                        step.limit.as_ref().unwrap().span(),
                        "a limit link needs randomness: declare gaussian symbols or a [network]",
                        "here",
                    )
                    .with_help("see the README section on limit links"));
            }
        }
    }
    let mut unchecked = vec![];
    for u in &raw.unchecked {
        let reason = Reason::ALL
            .into_iter()
            .find(|r| r.name() == u.reason.get_ref())
            .ok_or_else(|| {
                l.err(
                    u.reason.span(),
                    format!("unknown reason `{}`", u.reason.get_ref()),
                    "here",
                )
                .with_help("reasons: notation, prose, garbled, outside (say what in `detail`)")
            })?;
        if u.detail.get_ref().trim().is_empty() {
            return Err(l
                .err(u.detail.span(), "the detail is empty", "here")
                .with_help("say what the equation names, or what the language would need"));
        }
        let cite = cite(&l, Some(&u.cite), note.as_deref())?.expect("a citation");
        unchecked.push(Unchecked {
            cite,
            reason,
            detail: u.detail.get_ref().clone(),
        });
    }
    Ok(Derivation {
        id: raw.id.get_ref().clone(),
        title: raw.title,
        file: file.to_string(),
        note,
        symbols,
        claims,
        network,
        unchecked,
        unknowns,
    })
}

/// An expression ending in `+ O(e)`: the expression without it, and what `e` says: the
/// parameter, whether it goes to 0 (`t^p`, `t`, `sqrt(t)`: order p) or to ∞ (`n^-p`, `1/n^p`,
/// `1/sqrt(n)`, `1/n`: order p), and the order.
#[allow(clippy::type_complexity)]
fn split_big_o(
    l: &Loader,
    expr: &Spanned<String>,
) -> Result<
    (
        Spanned<String>,
        Option<(std::ops::Range<usize>, String, bool, f64)>,
    ),
    InputError,
> {
    let text = expr.get_ref();
    let trimmed = text.trim_end();
    let Some(open) = trimmed.rfind("O(") else {
        return Ok((expr.clone(), None));
    };
    // `O(` must be a whole word, preceded (after spaces) by a `+` at depth 0, and its `)` the end.
    let before = trimmed[..open].trim_end();
    let word = open == 0
        || !trimmed[..open]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut depth = 0i32;
    let mut closes_at_end = false;
    for (i, c) in trimmed[open + 1..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    closes_at_end = open + 1 + i + 1 == trimmed.len();
                    break;
                }
            }
            _ => {}
        }
    }
    if !(word && closes_at_end && before.ends_with('+')) {
        return Ok((expr.clone(), None));
    }
    let start = expr.span().start;
    // The span of the string's contents: one quote character after the value's start.
    let base = start + 1;
    let o_span = base + open..base + trimmed.len();
    let arg = &trimmed[open + 2..trimmed.len() - 1];
    let prefix = before[..before.len() - 1].trim_end().to_string();
    let bad = |why: &str| {
        l.err(
            o_span.clone(),
            format!("`O({arg})`: {why}"),
            "the error term",
        )
        .with_help(
            "write O(t^p) for a parameter going to 0, O(n^-p) or O(1/n^p) for one going to inf",
        )
    };
    let e: Expr = crate::expr::parse(arg).map_err(|_| bad("not an expression"))?;
    use crate::expr::Math;
    // An exponent: a number, its negation, or a quotient of such (`1/2`, `-1/2`).
    fn num(e: &Expr, id: egg::Id) -> Option<f64> {
        match &e[id] {
            Math::Num(c) => Some(c.to_f64()),
            Math::Neg(a) => num(e, *a).map(|x| -x),
            Math::Div([a, b]) => Some(num(e, *a)? / num(e, *b)?),
            _ => None,
        }
    }
    // A power of one symbol: (symbol, exponent).
    let power = |id: egg::Id| -> Option<(egg::Symbol, f64)> {
        match &e[id] {
            Math::Symbol(s) => Some((*s, 1.0)),
            Math::Sqrt(a) => e[*a].symbol().map(|s| (s, 0.5)),
            Math::Pow([a, k]) => Some((e[*a].symbol()?, num(&e, *k)?)),
            _ => None,
        }
    };
    let root = crate::expr::binders::root(&e);
    let (sym, exponent) = match &e[root] {
        Math::Div([one, d]) if num(&e, *one) == Some(1.0) => power(*d)
            .map(|(s, k)| (s, -k))
            .ok_or_else(|| bad("not a power of one parameter"))?,
        _ => power(root).ok_or_else(|| bad("not a power of one parameter"))?,
    };
    if !(exponent.is_finite() && exponent != 0.0) {
        return Err(bad("the exponent is 0 or not a number"));
    }
    let stripped = Spanned::new(start..start + prefix.len() + 2, prefix);
    Ok((
        stripped,
        Some((o_span, sym.to_string(), exponent > 0.0, exponent.abs())),
    ))
}

/// Check and convert one step (its expression already loaded as `term`).
fn load_step(
    l: &Loader,
    step: &RawStep,
    term: Term,
    symbols: &[(Symbol, Kind)],
    note: Option<&str>,
) -> Result<Step, InputError> {
    let mut by = vec![];
    for t in step.by.iter().flatten() {
        let theory: Theory = t
            .get_ref()
            .parse()
            .map_err(|e: crate::prove::UnknownTheory| {
                l.err(t.span(), e.to_string(), "not a theory")
            })?;
        by.push(theory);
    }
    let limit = match &step.limit {
        None => None,
        Some(w) => {
            let sym = Symbol::from(w.get_ref().trim());
            let size = symbols
                .iter()
                .any(|(s, kind)| *s == sym && *kind == Kind::Size);
            if !size {
                return Err(l
                    .err(
                        w.span(),
                        format!("`{}` is not a declared width", w.get_ref()),
                        "the width that goes to infinity",
                    )
                    .with_help("declare it under [symbols] with kind \"size\""));
            }
            Some(sym)
        }
    };
    let rate = match &step.rate {
        None => -0.5,
        Some(r) if step.limit.is_none() => {
            return Err(l.err(r.span(), "`rate` is only for `limit` links", "here"))
        }
        Some(r) if r.get_ref().is_finite() && *r.get_ref() < 0.0 => *r.get_ref(),
        Some(r) => {
            return Err(l.err(
                r.span(),
                format!("rate {} is not a negative number", r.get_ref()),
                "the expected log–log slope, e.g. -0.5",
            ))
        }
    };
    let resolution = match &step.resolution {
        None => None,
        Some(r) if step.limit.is_none() => {
            return Err(l.err(r.span(), "`resolution` is only for `limit` links", "here"))
        }
        Some(r) if r.get_ref().is_finite() && *r.get_ref() > 0.0 => Some(*r.get_ref()),
        Some(r) => {
            return Err(l.err(
                r.span(),
                format!("resolution {} is not a positive number", r.get_ref()),
                "the smallest offset of the limit the study must detect, e.g. 1e-3",
            ))
        }
    };
    let rel = match &step.rel {
        None => Relation::Eq,
        Some(r) => {
            let rel = Relation::parse(r.get_ref()).ok_or_else(|| {
                l.err(
                    r.span(),
                    format!("unknown relation `{}`", r.get_ref()),
                    "here",
                )
                .with_help(
                    "relations: =, <=, <, >=, > (the step compared with the expression before it)",
                )
            })?;
            if rel != Relation::Eq && step.limit.is_some() {
                return Err(l.err(r.span(), "an inequality cannot be a `limit` link", "here"));
            }
            rel
        }
    };
    let approx = match (&step.approx, &step.order) {
        (None, None) => None,
        (None, Some(o)) => {
            return Err(l
                .err(o.span(), "`order` is only for approximation links", "here")
                .with_help("say what goes where: approx = \"t -> 0\" or approx = \"n -> inf\""))
        }
        (Some(a), order) => {
            let text = a.get_ref();
            let (name, to) = text.split_once("->").ok_or_else(|| {
                l.err(
                    a.span(),
                    format!("`{text}` is not `SYMBOL -> 0` or `SYMBOL -> inf`"),
                    "here",
                )
            })?;
            let sym = Symbol::from(name.trim());
            let toward = match to.trim() {
                "0" => super::approx::Toward::Zero,
                "inf" | "∞" | "infinity" => super::approx::Toward::Infinity,
                other => {
                    return Err(l.err(
                        a.span(),
                        format!("`{other}`: an approximation's parameter goes to 0 or to inf"),
                        "here",
                    ))
                }
            };
            let kind = symbols.iter().find(|(s, _)| *s == sym).map(|(_, k)| k);
            let fits = match (kind, toward) {
                (Some(Kind::Real | Kind::Positive), _) => true,
                (Some(Kind::Size), super::approx::Toward::Infinity) => true,
                (Some(Kind::Interval(lo, hi)), super::approx::Toward::Zero) => {
                    *lo <= 0.0 && *hi > 0.0
                }
                _ => false,
            };
            if !fits {
                return Err(l
                    .err(a.span(), format!("`{}` is not a declared parameter that can go to {}", name.trim(), to.trim()), "here")
                    .with_help("declare it real or positive (an interval that contains 0 for -> 0, a size for -> inf)"));
            }
            if step.limit.is_some() || step.rel.is_some() {
                return Err(l.err(
                    a.span(),
                    "an approximation link cannot also be a limit link or an inequality",
                    "here",
                ));
            }
            let order = match order {
                None => return Err(l.err(
                    a.span(),
                    "an approximation link needs `order` (the error is O(t^order) or O(n^-order))",
                    "here",
                )),
                Some(o)
                    if o.get_ref().is_finite()
                        && *o.get_ref() > 0.0
                        && *o.get_ref() <= super::approx::MAX_ORDER =>
                {
                    *o.get_ref()
                }
                Some(o) => {
                    return Err(l.err(
                        o.span(),
                        format!(
                            "the order is a positive number up to {} (the steps of a study span about 16 decades: a higher order is not measured)",
                            super::approx::MAX_ORDER
                        ),
                        "here",
                    ))
                }
            };
            Some((sym, toward, order))
        }
    };
    let expect = match &step.expect {
        None if limit.is_some() || approx.is_some() => Verdict::Limit,
        None => Verdict::Proved,
        Some(e) => expected_verdict(l, e)?,
    };
    Ok(Step {
        term,
        by,
        expect,
        remark: step.remark.clone(),
        cite: cite(l, step.cite.as_ref(), note)?,
        limit,
        rate,
        resolution,
        rel,
        approx,
        under: None,
        minor: step.minor,
    })
}

/// The verdict a file names in `expect` or `expect_under`.
fn expected_verdict(l: &Loader, e: &Spanned<String>) -> Result<Verdict, InputError> {
    Verdict::expected(e.get_ref()).ok_or_else(|| {
        l.err(
            e.span(),
            format!("unknown verdict `{}`", e.get_ref()),
            "here",
        )
        .with_help("verdicts: proved, unchecked, consistent, refuted, unknown, limit")
    })
}

/// The first free symbol of `e` used against its kind: a number with entries (`a[3]`), or an
/// array without them (`x/x`), with the node and the message.
pub fn misused_entries(
    e: &Expr,
    scalar: &dyn Fn(Symbol) -> bool,
    array: &dyn Fn(Symbol) -> bool,
) -> Option<(egg::Id, String)> {
    use std::ops::ControlFlow;
    let heads: BTreeSet<egg::Id> = e
        .as_ref()
        .iter()
        .filter_map(|n| match n {
            Math::Index(args) => Some(args[0]),
            _ => None,
        })
        .collect();
    let found = binders::walk(e, binders::root(e), &mut |id, bound| {
        let Some(s) = e[id].symbol().filter(|s| !bound.contains(s)) else {
            return ControlFlow::Continue(());
        };
        let head = heads.contains(&id);
        if head && scalar(s) {
            return ControlFlow::Break((
                id,
                format!("`{s}` is declared a number and has no entries"),
            ));
        }
        if !head && array(s) {
            return ControlFlow::Break((
                id,
                format!("`{s}` is declared an array: use its entries, `{s}[j]`"),
            ));
        }
        ControlFlow::Continue(())
    });
    match found {
        ControlFlow::Break(x) => Some(x),
        ControlFlow::Continue(()) => None,
    }
}

/// A convention: what it says, and the definitions unfolded with its replacements.
struct Convention {
    text: String,
    /// The definitions under the convention (replaced ones by their replacements).
    defs: BTreeMap<Symbol, Expr>,
    /// The declared symbols it replaces, and their values: substituted as values once the
    /// definitions are unfolded, so not into a derivative's variable nor, mentioning it, into
    /// its body (x′ := x in d/dx(x·x′) would differentiate x′ too: ∂/∂x(x·x′) = x′ is x at
    /// x′ = x, while d/dx(x·x) = 2x).
    values: BTreeMap<Symbol, Expr>,
}

/// A parameterised definition `K(r, s) = "…"`: its name and parameters are checked, its body
/// may use the declared symbols, the parameters and the definitions above it; it is stored as
/// written for the expressions below it, where `K(x, y)` stands for the body with `x`, `y` for
/// `r`, `s` (the definitions it uses are unfolded with the expression's own).
fn function_definition(
    l: &Loader,
    name: &Spanned<String>,
    body: &Spanned<String>,
    declared: &BTreeSet<Symbol>,
    defs: &BTreeMap<Symbol, Expr>,
) -> Result<(), InputError> {
    let key = name.get_ref().trim();
    let bad = || {
        l.err(
            name.span(),
            format!("`{key}` is not a definition name: write `NAME` or `NAME(p1, p2, …)`"),
            "here",
        )
    };
    let (fname, rest) = key.split_once('(').ok_or_else(bad)?;
    let params_text = rest.strip_suffix(')').ok_or_else(bad)?;
    let is_ident = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
            && c.all(|x| x.is_alphanumeric() || x == '_')
    };
    let fname = fname.trim();
    if !is_ident(fname) {
        return Err(bad());
    }
    if let Some(why) = builtin_name(fname) {
        return Err(l.err(name.span(), why, "here"));
    }
    let fsym = Symbol::from(fname);
    if declared.contains(&fsym)
        || defs.contains_key(&fsym)
        || l.functions.borrow().contains_key(&fsym)
    {
        return Err(l.err(
            name.span(),
            format!("`{fname}` is already declared or defined"),
            "here",
        ));
    }
    let mut params: Vec<Symbol> = vec![];
    for p in params_text.split(',').map(str::trim) {
        if !is_ident(p) || builtin_name(p).is_some() {
            return Err(l.err(
                name.span(),
                format!("`{p}` is not a parameter name"),
                "here",
            ));
        }
        let ps = Symbol::from(p);
        if params.contains(&ps) || defs.contains_key(&ps) {
            return Err(l.err(
                name.span(),
                format!("the parameter `{p}` is repeated or is the name of a definition"),
                "here",
            ));
        }
        params.push(ps);
    }
    // The parameters are renamed apart (`G·a` for the parameter `a` of `G`) before the
    // definitions the body applies are expanded: `G(a) = F(a)·a` with `F(y) = y + a` means
    // (y + a)[y := a']·a' with the declared `a` in F's body, not 2a·a.
    let fresh: Vec<Symbol> = params
        .iter()
        .map(|p| Symbol::from(format!("{fname}·{p}")))
        .collect();
    let mut derivative_param = None;
    let (e, spans) = l.parse_expr_then(body, |mut e| {
        // A parameter as the variable of d/dX would turn `K(2)` into a derivative by a number.
        for (i, n) in e.as_ref().iter().enumerate() {
            if let Math::Deriv([t, _]) = n {
                if let Some(s) = e[*t].symbol().filter(|s| params.contains(s)) {
                    derivative_param = Some((i, s));
                    return Ok(e);
                }
            }
        }
        for (p, f) in params.iter().zip(&fresh) {
            e = binders::substitute(&e, *p, *f).ok_or_else(|| {
                l.err(
                    body.span(),
                    format!("the parameter `{p}` of `{fname}` is bound inside its body"),
                    "here",
                )
            })?;
        }
        Ok(e)
    })?;
    if let Some((i, p)) = derivative_param {
        let at = spans.get(i).cloned().unwrap_or_else(|| body.span());
        return Err(l
            .err(at, format!("the parameter `{p}` is the variable of a derivative"), "here")
            .with_help("differentiate by a declared symbol, or define the derivative as its own parameterised definition"));
    }
    let params = fresh;
    let mut allowed = declared.clone();
    allowed.extend(params.iter().copied());
    check_symbols(l, &e, &spans, &allowed, defs)?;
    let (unfolded, _) =
        unfold(&e, defs).map_err(|err| unfold_error(l, body.span(), err, Some(fsym)))?;
    check_unfolded(l, &unfolded, body.span(), Some(fsym))?;
    // Stored as written: the definitions it uses are unfolded where it is applied, with the
    // file's definitions or a convention's replacements (`Lreg(c) = L + c·f²` under a
    // convention that halves L uses the halved L).
    l.functions.borrow_mut().insert(fsym, (params, e));
    Ok(())
}

/// Check the `[conventions]` table: each replacement names a declared symbol or a definition and
/// uses only declared symbols and definitions. The definitions are unfolded again in file order
/// with the replacements, so a replaced definition changes every later one that uses it, and a
/// replaced declared symbol is substituted wherever it stands free.
/// Is the declaration `kind` built on the symbol `s`: a size of a declared vector or matrix, a
/// covariance's dimension, a Gaussian vector's size or covariance, a block of a parameter vector?
fn declaration_mentions(kind: &Kind, s: Symbol) -> bool {
    let in_expr = |e: &Expr| binders::free_symbols(e, binders::root(e)).contains(&s);
    match kind {
        Kind::Tensor(r, c) => in_expr(r) || in_expr(c),
        Kind::Covariance(d) => in_expr(d),
        Kind::GaussianVector(d, cov) => in_expr(d) || *cov == Some(s),
        Kind::Params(blocks) => blocks.contains(&s),
        _ => false,
    }
}

fn conventions(
    l: &Loader,
    raw: &BTreeMap<Spanned<String>, RawConvention>,
    declared: &BTreeSet<Symbol>,
    kinds: &[(Symbol, Kind)],
    defs: &BTreeMap<Symbol, Expr>,
    written_defs: &[(Symbol, Expr)],
) -> Result<BTreeMap<String, Convention>, InputError> {
    let mut out = BTreeMap::new();
    for (name, c) in raw {
        if c.text.trim().is_empty() {
            return Err(l.err(
                name.span(),
                "the convention's `text` is empty",
                "this convention",
            ));
        }
        if c.define.is_empty() {
            return Err(l
                .err(name.span(), "the convention changes nothing", "this convention")
                .with_help("give `define = { NAME = \"…\" }`: the definitions or declared symbols it replaces"));
        }
        let mut replaced: BTreeMap<Symbol, (Expr, Range<usize>)> = BTreeMap::new();
        for (sym_name, body) in &c.define {
            let sym = Symbol::from(sym_name.get_ref().as_str());
            let known = declared.contains(&sym) || defs.contains_key(&sym);
            // A parameterised definition `K(r)` (named with or without its parameters).
            let base = Symbol::from(sym_name.get_ref().split('(').next().unwrap_or("").trim());
            if !known && l.functions.borrow().contains_key(&base) {
                return Err(l
                    .err(
                        sym_name.span(),
                        format!("`{base}` is a parameterised definition, which a convention cannot replace"),
                        "here",
                    )
                    .with_help("a convention replaces a plain [define] entry or a declared symbol; replace one that the parameterised definition is built on (its later uses follow), or state the other reading as its own definition and claim"));
            }
            if !known {
                return Err(l
                    .err(
                        sym_name.span(),
                        format!("`{sym}` is neither declared nor defined, so a convention cannot replace it"),
                        "here",
                    )
                    .with_help("a convention replaces a [define] entry or a declared symbol"));
            }
            // A symbol another declaration is built on (the size of a declared vector or
            // matrix, a covariance's dimension, a Gaussian vector's size or covariance, a block
            // of a parameter vector) would change only where the claim writes it: dot, norm, E
            // and grad unfold by the declarations, which keep it (n := n + m left dot(x, x)
            // summing n entries, and a false claim `held under the convention`).
            if let Some((holder, _)) = kinds.iter().find(|(_, k)| declaration_mentions(k, sym)) {
                return Err(l
                    .err(
                        sym_name.span(),
                        format!("the convention replaces `{sym}`, which the declaration of `{holder}` is built on: dot, norm, E and grad over `{holder}` would keep `{sym}`"),
                        "here",
                    )
                    .with_help("a convention may not change a declared shape, a Gaussian vector's law or a parameter vector; state such a claim with its own declarations"));
            }
            let (e, spans) = l.parse_expr(body)?;
            check_symbols(l, &e, &spans, declared, defs)?;
            // A number for a declared symbol must lie in its declared domain (η = 0 for a
            // positive η is another claim, not a convention about this one).
            let kind = kinds.iter().find(|(k, _)| *k == sym).map(|(_, k)| k);
            let random_kind = |k: &Kind| matches!(k, Kind::Gaussian | Kind::GaussianVector(..));
            let gives_random = binders::free_symbols(&e, binders::root(&e))
                .iter()
                .any(|s| kinds.iter().any(|(k, kk)| k == s && random_kind(kk)));
            if let Some(kind) = kind.filter(|k| gives_random && !random_kind(k)) {
                // A number is not a random variable: a := w[1] for a real a would turn
                // E[a·w[1]] (a times 0) into E[w[1]²].
                return Err(l
                    .err(
                        body.span(),
                        format!("the convention sets `{sym}` = {}, a random term, but `{sym}` is declared {}", crate::expr::text(&e), domain_text(kind)),
                        "here",
                    )
                    .with_help("a convention may give a declared symbol only a value of its own declaration"));
            }
            if let (Some(kind), Ok(v)) = (
                kind,
                crate::numeric::eval::Evaluator::new(&Default::default()).eval(&e),
            ) {
                // A constant is compared exactly (`1.00000000000000001` is not in 0..1 though
                // its double is 1).
                let exact = crate::prove::analysis::exact_value(&e);
                // Another closed constant is bounded in ball arithmetic, and the whole ball must
                // lie in the domain: sin(π)·10¹⁷ − 1 is −1, though its double is 11.2.
                let ball = match exact {
                    Some(_) => None,
                    None => crate::numeric::precise::eval(
                        &e,
                        &Default::default(),
                        crate::numeric::precise::BITS,
                    )
                    .ok()
                    .map(|p| p.bounds()),
                };
                let outside = match ball {
                    Some((lo, hi)) => outside_domain(kind, lo, None)
                        .or_else(|| outside_domain(kind, hi, None))
                        .map(|d| {
                            format!("{d}; the value lies in [{lo:e}, {hi:e}], not shown inside")
                        }),
                    None => outside_domain(kind, v.value, exact.as_ref()),
                };
                if let Some(domain) = outside {
                    let shown = match ball {
                        Some(_) => crate::expr::text(&e),
                        None => v.value.to_string(),
                    };
                    return Err(l
                        .err(
                            body.span(),
                            format!("the convention sets `{sym}` = {shown}, outside its declared domain ({domain})"),
                            "here",
                        )
                        .with_help("declare the symbol with a domain that holds the value, or state the step for that value"));
                }
            } else if let Some(kind) = kind {
                // A term with symbols must lie in the domain by its form (n = −m for a size n,
                // η = −p for a positive η, i = n + 1 for an index in 1..n are other claims).
                if !in_domain_by_form(kind, &e, kinds) {
                    return Err(l
                        .err(
                            body.span(),
                            format!("the convention sets `{sym}` = {}, which is not {} by its form", crate::expr::text(&e), domain_text(kind)),
                            "here",
                        )
                        .with_help("a convention may give a declared symbol a number of its domain, or a term built from symbols of that domain (a size from sizes by + and ×, a positive from positives, an index or a vector only another of the same declaration)"));
                }
            }
            replaced.insert(sym, (e, body.span()));
        }
        // Declared symbols replaced: values (their replacements read the file's definitions as
        // written), substituted after the definitions are unfolded.
        let mut values: BTreeMap<Symbol, Expr> = BTreeMap::new();
        for (sym, (e, span)) in &replaced {
            if declared.contains(sym) {
                let (e, _) =
                    unfold(e, defs).map_err(|err| unfold_error(l, span.clone(), err, None))?;
                values.insert(*sym, e);
            }
        }
        // The definitions, replaced ones by their replacements, unfolded in file order.
        let mut conv: BTreeMap<Symbol, Expr> = BTreeMap::new();
        for (sym, written) in written_defs {
            let (body, span) = match replaced.get(sym) {
                Some((e, span)) => (e, span.clone()),
                None => (written, name.span()),
            };
            let (e, _) = unfold(body, &conv)
                .map_err(|err| unfold_error(l, span.clone(), err, Some(*sym)))?;
            check_unfolded(l, &e, span, Some(*sym))?;
            conv.insert(*sym, e);
        }
        out.insert(
            name.get_ref().clone(),
            Convention {
                text: c.text.clone(),
                defs: conv,
                values,
            },
        );
    }
    Ok(out)
}

/// If `v` lies outside the domain of `kind`: the domain, described.
pub fn outside_domain(kind: &Kind, v: f64, exact: Option<&BigRational>) -> Option<String> {
    if let Some(q) = exact {
        let zero = BigRational::from_integer(0.into());
        let end = |x: f64| crate::prove::analysis::decimal_value(x);
        let out = match kind {
            Kind::Positive => *q <= zero,
            Kind::Size => !(q.is_integer() && *q >= BigRational::from_integer(1.into())),
            Kind::Integer => !q.is_integer(),
            // Within the range: i = 5 for an index in 1..3 (or 0 for one in 1..n) made
            // Σ_j x_j·δ(i, j) = 0 hold "under the convention". Where an end depends on the sizes,
            // only a value every range holds is allowed: the lower end.
            Kind::Index(lo, hi) => {
                let (lo, hi) = (
                    crate::prove::analysis::exact_value(lo),
                    crate::prove::analysis::exact_value(hi),
                );
                !q.is_integer()
                    || lo.as_ref().is_none_or(|lo| q < lo)
                    || match (&hi, &lo) {
                        (Some(hi), _) => q > hi,
                        (None, Some(lo)) => q > lo,
                        (None, None) => true,
                    }
            }
            Kind::Interval(a, b) => {
                end(*a).is_none_or(|a| *q < a) || end(*b).is_none_or(|b| *q > b)
            }
            _ => false,
        };
        if out {
            return outside_domain(kind, f64::NAN, None);
        }
    }
    let integer = v.fract() == 0.0;
    match kind {
        Kind::Positive if v.is_nan() || v <= 0.0 => Some("positive".into()),
        Kind::Size if !(integer && v >= 1.0) => Some("a size: an integer ≥ 1".into()),
        Kind::Integer if !integer => Some("an integer".into()),
        Kind::Index(lo, hi) if !integer || v.is_nan() => {
            let sized = [lo, hi]
                .iter()
                .any(|e| crate::prove::analysis::exact_value(e).is_none());
            Some(format!(
                "an index in {}..{}{}",
                crate::expr::text(lo),
                crate::expr::text(hi),
                if sized {
                    " (its range depends on the sizes: only its lower end is in every range)"
                } else {
                    ""
                }
            ))
        }
        Kind::Interval(a, b) if v.is_nan() || v < *a || v > *b => {
            Some(format!("the interval {a}..{b}"))
        }
        Kind::Real if !v.is_finite() => Some("a real number".into()),
        Kind::Positive
        | Kind::Size
        | Kind::Integer
        | Kind::Index(..)
        | Kind::Interval(..)
        | Kind::Real => None,
        // A number is not a random symbol, an array, a vector or a matrix (E[w] = 1 "held
        // under" a convention setting a gaussian w = 1).
        _ => Some(
            "a symbol of the same declaration (random, array, vector or matrix): a number is not one"
                .into(),
        ),
    }
}

/// What a term is by its form: the classes a convention's value is sorted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    /// An integer ≥ 1.
    Size,
    /// An integer ≥ 0.
    Natural,
    /// An integer.
    Integer,
    /// A real > 0.
    Positive,
    /// A real ≥ 0.
    NonNegative,
    /// A real (finite wherever its parts are).
    Real,
    /// Anything else: random, an array, a matrix, or a function that may be undefined.
    Other,
}

fn form_of(e: &Expr, id: egg::Id, kinds: &[(Symbol, Kind)]) -> Form {
    use Form::*;
    let f = |i: &egg::Id| form_of(e, *i, kinds);
    let int = |x: Form| matches!(x, Size | Natural | Integer);
    let pos = |x: Form| matches!(x, Size | Positive);
    let nonneg = |x: Form| matches!(x, Size | Natural | Positive | NonNegative);
    let real = |x: Form| x != Other;
    match &e[id] {
        Math::Num(c) => {
            let q = c.0.clone();
            let zero = num_rational::BigRational::from_integer(0.into());
            let one = num_rational::BigRational::from_integer(1.into());
            match (q.is_integer(), q >= one, q >= zero, q > zero) {
                (true, true, _, _) => Size,
                (true, false, true, _) => Natural,
                (true, _, _, _) => Integer,
                (false, _, _, true) => Positive,
                _ => Real,
            }
        }
        Math::Symbol(s) if s.as_str() == "pi" => Positive,
        Math::Symbol(s) => match kinds.iter().find(|(k, _)| k == s).map(|(_, k)| k) {
            Some(Kind::Size) => Size,
            Some(Kind::Integer) | Some(Kind::Index(..)) => Integer,
            Some(Kind::Positive) => Positive,
            Some(Kind::Interval(a, _)) if *a > 0.0 => Positive,
            Some(Kind::Interval(a, _)) if *a >= 0.0 => NonNegative,
            Some(Kind::Interval(..)) | Some(Kind::Real) => Real,
            _ => Other,
        },
        Math::Add([a, b]) => {
            let (x, y) = (f(a), f(b));
            if int(x) && int(y) {
                if (x == Size && nonneg(y)) || (y == Size && nonneg(x)) {
                    Size
                } else if nonneg(x) && nonneg(y) {
                    Natural
                } else {
                    Integer
                }
            } else if (pos(x) && nonneg(y)) || (pos(y) && nonneg(x)) {
                Positive
            } else if nonneg(x) && nonneg(y) {
                NonNegative
            } else if real(x) && real(y) {
                Real
            } else {
                Other
            }
        }
        Math::Mul([a, b]) => {
            let (x, y) = (f(a), f(b));
            match (x, y) {
                (Size, Size) => Size,
                _ if int(x) && int(y) && nonneg(x) && nonneg(y) => Natural,
                _ if int(x) && int(y) => Integer,
                _ if pos(x) && pos(y) => Positive,
                _ if nonneg(x) && nonneg(y) => NonNegative,
                _ if real(x) && real(y) => Real,
                _ => Other,
            }
        }
        Math::Sub([a, b]) => match (f(a), f(b)) {
            (x, y) if int(x) && int(y) => Integer,
            (x, y) if real(x) && real(y) => Real,
            _ => Other,
        },
        Math::Neg(a) => match f(a) {
            x if int(x) => Integer,
            x if real(x) => Real,
            _ => Other,
        },
        Math::Div([a, b]) => match (f(a), f(b)) {
            (x, y) if pos(x) && pos(y) => Positive,
            (x, y) if nonneg(x) && pos(y) => NonNegative,
            (x, y) if real(x) && pos(y) => Real,
            _ => Other,
        },
        Math::Sqrt(a) => match f(a) {
            x if pos(x) => Positive,
            x if nonneg(x) => NonNegative,
            _ => Other,
        },
        Math::Exp(a) | Math::Cosh(a) => {
            if real(f(a)) {
                Positive
            } else {
                Other
            }
        }
        Math::Abs(a) | Math::Relu(a) | Math::Softplus(a) | Math::Sigmoid(a) => {
            if real(f(a)) {
                NonNegative
            } else {
                Other
            }
        }
        Math::Sin(a)
        | Math::Cos(a)
        | Math::Atan(a)
        | Math::Tanh(a)
        | Math::Erf(a)
        | Math::Sinh(a) => {
            if real(f(a)) {
                Real
            } else {
                Other
            }
        }
        _ => Other,
    }
}

/// Does the term lie in the domain of `kind` by its form ([`form_of`])? A term for an index, an
/// interval, an array, a vector or a matrix must be a symbol of the same declaration.
fn in_domain_by_form(kind: &Kind, e: &Expr, kinds: &[(Symbol, Kind)]) -> bool {
    let root = crate::expr::binders::root(e);
    if let Math::Symbol(s) = &e[root] {
        if kinds.iter().any(|(k, kk)| k == s && kk == kind) {
            return true;
        }
    }
    let form = form_of(e, root, kinds);
    match kind {
        Kind::Size => form == Form::Size,
        Kind::Integer => matches!(form, Form::Size | Form::Natural | Form::Integer),
        Kind::Positive => matches!(form, Form::Size | Form::Positive),
        Kind::Real => form != Form::Other,
        _ => false,
    }
}

/// The domain of `kind`, in words.
fn domain_text(kind: &Kind) -> String {
    match kind {
        Kind::Size => "a size (an integer ≥ 1)".into(),
        Kind::Integer => "an integer".into(),
        Kind::Positive => "positive".into(),
        Kind::Real => "a real number".into(),
        Kind::Interval(a, b) => format!("in the interval {a}..{b}"),
        Kind::Index(..) => "an index of the same range".into(),
        _ => "of the same declaration".into(),
    }
}

/// The link `from` → `to` read under the convention `name`.
fn under(
    l: &Loader,
    name: &Spanned<String>,
    expect: Option<&Spanned<String>>,
    conventions: &BTreeMap<String, Convention>,
    (from, to): (&Term, &Term),
    symbols: &[(Symbol, Kind)],
) -> Result<Under, InputError> {
    let Some(c) = conventions.get(name.get_ref()) else {
        let known: Vec<&str> = conventions.keys().map(String::as_str).collect();
        return Err(l
            .err(
                name.span(),
                format!("the convention `{}` is not defined", name.get_ref()),
                "here",
            )
            .with_help(if known.is_empty() {
                "define it: [conventions.NAME] with `text` and `define = { … }`".to_string()
            } else {
                format!("defined conventions: {}", known.join(", "))
            }));
    };
    let expect = match expect {
        None => Verdict::Proved,
        Some(e) => expected_verdict(l, e)?,
    };
    let read = |t: &Term| -> Result<Term, InputError> {
        let (expr, mut unfolds) =
            unfold(&t.written, &c.defs).map_err(|err| unfold_error(l, name.span(), err, None))?;
        let (expr, replaced) = binders::substitute_values(&expr, &c.values, MAX_TERM_NODES)
            .map_err(|err| convention_error(l, name.span(), err))?;
        unfolds.extend(replaced.iter().map(|s| s.to_string()));
        unfolds.sort();
        unfolds.dedup();
        let expr = lower(&expr, &l.shapes.borrow())
            .map_err(|err| l.err(name.span(), err.message, "under this convention"))?;
        check_unfolded(l, &expr, name.span(), None)?;
        Ok(Term {
            expr,
            unfolds,
            ..t.clone()
        })
    };
    let mut ranges = vec![];
    for (sym, kind) in symbols {
        if let Kind::Index(lo, hi) = kind {
            let end = |e: &Expr| {
                binders::substitute_values(e, &c.values, MAX_TERM_NODES)
                    .map(|(e, _)| e)
                    .map_err(|err| convention_error(l, name.span(), err))
            };
            let (lo2, hi2) = (end(lo)?, end(hi)?);
            if (&lo2, &hi2) != (lo, hi) {
                ranges.push((*sym, Kind::Index(lo2, hi2)));
            }
        }
    }
    Ok(Under {
        convention: name.get_ref().clone(),
        text: c.text.clone(),
        from: read(from)?,
        to: read(to)?,
        expect,
        ranges,
    })
}

/// Check and convert a citation; its note defaults to the file's `note`.
fn cite(
    l: &Loader,
    raw: Option<&Spanned<RawCite>>,
    default_note: Option<&str>,
) -> Result<Option<Cite>, InputError> {
    let Some(c) = raw else { return Ok(None) };
    let Some(note) = c.get_ref().note.as_deref().or(default_note) else {
        return Err(l
            .err(c.span(), "the citation names no note", "this citation")
            .with_help("give `note = \"NNN_….txt\"` in the citation or at the top of the file"));
    };
    let line = match &c.get_ref().line {
        None => None,
        Some(n) if *n.get_ref() >= 1 => Some(*n.get_ref() as usize),
        Some(n) => return Err(l.err(n.span(), "a line number counts from 1", "here")),
    };
    let quote = c.get_ref().quote.get_ref();
    if quote.trim().is_empty() {
        return Err(l.err(c.get_ref().quote.span(), "the quote is empty", "here"));
    }
    let kind = match &c.get_ref().kind {
        None => None,
        Some(k) => Some(
            CiteKind::ALL
                .into_iter()
                .find(|x| x.name() == k.get_ref())
                .ok_or_else(|| {
                    l.err(k.span(), format!("unknown kind `{}`", k.get_ref()), "here")
                        .with_help("kinds: definition, claim, derivation-step, approximation, inequality, prose")
                })?,
        ),
    };
    let at = {
        let start = c.get_ref().quote.span().start.min(l.src.len());
        let before = &l.src[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
        (line, col)
    };
    Ok(Some(Cite {
        note: note.to_string(),
        line,
        quote: quote.clone(),
        kind,
        at,
    }))
}

use crate::expr::binders;
pub use crate::expr::binders::UnfoldError;

fn capture(l: &Loader, span: Range<usize>, def: Symbol, bound: Symbol) -> InputError {
    l.err(
        span,
        format!("`{def}` is used where `{bound}` is bound, but its definition mentions a free `{bound}`"),
        "the definition would be captured here",
    )
    .with_help(format!("rename the bound index `{bound}` in this expression"))
}

/// Why `name` cannot be declared, if it is a name the language gives a meaning of its own: `pi`
/// and `I` are constants, and `gauss(...)` binds `u` and `v` (a declared `u` would lend its facts
/// to the bound one).
pub fn builtin_name(name: &str) -> Option<String> {
    match name {
        "pi" | "I" => Some(format!(
            "`{name}` is built in ({}) and cannot be declared or defined",
            if name == "pi" {
                "the constant π"
            } else {
                "the identity matrix"
            }
        )),
        "u" | "v" => Some(format!(
            "`{name}` cannot be declared or defined: gauss(s11, s12, s22; …) binds u and v in its body"
        )),
        _ if crate::expr::builtin_function(name) => Some(format!(
            "`{name}` is a built-in function and cannot be declared or defined: `{name}(…)` always calls the built-in"
        )),
        _ => None,
    }
}

/// Every free symbol must be declared or defined.
fn check_symbols(
    l: &Loader,
    e: &Expr,
    spans: &[Range<usize>],
    declared: &BTreeSet<Symbol>,
    defs: &BTreeMap<Symbol, Expr>,
) -> Result<(), InputError> {
    check_symbols_in(l, e, spans, declared, defs, None)
}

/// A definition not yet resolved: its name and the span of the name.
type Pending = (Symbol, Range<usize>);

/// [`check_symbols`] for the body of definition `def`, where `pending` are the definitions not
/// yet resolved (`def` itself and those after it in the file), with the spans of their names:
/// using one of them is an error that names both.
fn check_symbols_in(
    l: &Loader,
    e: &Expr,
    spans: &[Range<usize>],
    declared: &BTreeSet<Symbol>,
    defs: &BTreeMap<Symbol, Expr>,
    pending: Option<(Symbol, &[Pending])>,
) -> Result<(), InputError> {
    // A binder may not bind a built-in name: `sum(pi in 1..3, pi)` would read as π wherever
    // constants are folded (and `I` as the identity).
    for (i, _) in e.as_ref().iter().enumerate() {
        let id = egg::Id::from(i);
        if let Some(b) = binders::binds(e, id)
            .into_iter()
            .find(|b| matches!(b.as_str(), "pi" | "I"))
        {
            return Err(l
                .err(
                    spans[i].clone(),
                    format!("`{b}` is built in and cannot be bound by a sum or an integral"),
                    "bound here",
                )
                .with_help("name the index or variable otherwise, e.g. k or s"));
        }
    }
    let ok = |s: Symbol| {
        declared.contains(&s) || defs.contains_key(&s) || s.as_str() == "pi" || s.as_str() == "I"
    };
    // The first free symbol (the array of an index too) that is neither declared nor defined.
    let bad = binders::free_occurrences(e, binders::root(e))
        .into_iter()
        .find(|(_, s)| !ok(*s))
        .map(|(id, _)| id);
    match bad {
        None => Ok(()),
        Some(id) => {
            let name = e[id].symbol().unwrap();
            if let Some((def, pending)) = pending {
                if let Some((_, at)) = pending.iter().find(|(p, _)| *p == name) {
                    let msg = if name == def {
                        format!("the definition of `{def}` uses `{def}` itself: definitions cannot be recursive")
                    } else {
                        let line = l.src[..at.start.min(l.src.len())].matches('\n').count() + 1;
                        format!(
                            "the definition of `{def}` uses `{name}`, which is defined later (line {line}): definitions are resolved in file order, each may use only those above it"
                        )
                    };
                    return Err(l
                        .err(spans[usize::from(id)].clone(), msg, "used here")
                        .with_help(format!("move the definition of `{name}` above `{def}` (a cycle of definitions cannot be resolved)")));
                }
            }
            let help = if crate::expr::GAUSS_VARS.contains(&name.as_str()) {
                format!("`{name}` names a variable only inside gauss(s11, s12, s22; body), which binds u and v; elsewhere use another name, declared under [symbols]")
            } else {
                format!("declare it under [symbols], e.g. {name} = \"real\", or define it under [define]")
            };
            Err(l
                .err(
                    spans[usize::from(id)].clone(),
                    format!("unknown symbol `{name}`"),
                    "not declared",
                )
                .with_help(help))
        }
    }
}

/// The error of a failed [`unfold`] of the expression at `span`.
fn unfold_error(
    l: &Loader,
    span: Range<usize>,
    err: UnfoldError,
    def: Option<Symbol>,
) -> InputError {
    let within = def.map_or(String::new(), |d| format!(" in the definition of `{d}`"));
    match err {
        UnfoldError::Capture(d, b) => capture(l, span, d, b),
        UnfoldError::TooLarge(d) => l.err(
            span,
            format!("unfolding `{d}`{within} makes the term larger than the budget MAX_TERM_NODES = {MAX_TERM_NODES} nodes"),
            "in this expression",
        )
        .with_help("definitions are unfolded in full (each use is a copy): use fewer nested uses, or a sum"),
        UnfoldError::DerivativeVariable(x) => l.err(
            span,
            format!("`{x}`{within} is the variable of a derivative d/d{x} and cannot be replaced"),
            "in this expression",
        )
        .with_help("a derivative's variable is also the point it is taken at; name the derivative's variable apart from the symbol being defined or substituted"),
    }
}

/// A convention's value that cannot be substituted into a term: into a derivative's variable,
/// or, mentioning it, into the derivative's body.
fn convention_error(l: &Loader, span: Range<usize>, err: UnfoldError) -> InputError {
    match err {
        UnfoldError::Capture(s, x) => l
            .err(
                span,
                format!("under this convention `{s}` := a term in `{x}`, but the step binds `{x}` around `{s}` (a sum, integral or expectation over `{x}`, or d/d{x}): the substituted `{x}` would be captured by that binder, and a derivative d/d{x} would differentiate it too"),
                "under this convention",
            )
            .with_help(format!("name the step's bound variable apart from `{x}`; for a derivative, write it out (∂/∂{x}(…) evaluated) or give the step without the convention")),
        other => unfold_error(l, span, other, None),
    }
}

/// The term budgets, checked again after unfolding (definitions nest, so depth adds up).
fn check_unfolded(
    l: &Loader,
    e: &Expr,
    span: Range<usize>,
    def: Option<Symbol>,
) -> Result<(), InputError> {
    match crate::expr::term_budget_error(e) {
        None => Ok(()),
        Some((_, msg)) => {
            let whose = match def {
                Some(d) => format!("the definition of `{d}`, unfolded: "),
                None => "unfolded: ".into(),
            };
            Err(l
                .err(span, format!("{whose}{msg}"), "in this expression")
                .with_help("definitions are unfolded in full: nest fewer of them"))
        }
    }
}

/// Is the subterm `id` of `e` an integer by its form: an integer constant, a size, an index, a
/// declared integer, a name in `bound` (sums' indices), or `+`, `−`, `×`, |·|, max, min and
/// non-negative integer powers of such?
fn integer(e: &Expr, id: egg::Id, kinds: &[(Symbol, Kind)], bound: &[Symbol]) -> bool {
    match &e[id] {
        Math::Num(c) => c.0.is_integer(),
        Math::Symbol(s) => {
            bound.contains(s)
                || kinds.iter().any(|(k, kind)| {
                    k == s && matches!(kind, Kind::Size | Kind::Integer | Kind::Index(..))
                })
        }
        Math::Add([a, b]) | Math::Sub([a, b]) | Math::Mul([a, b]) => {
            integer(e, *a, kinds, bound) && integer(e, *b, kinds, bound)
        }
        Math::Neg(a) | Math::Abs(a) => integer(e, *a, kinds, bound),
        Math::Max([a, b]) | Math::Min([a, b]) => {
            integer(e, *a, kinds, bound) && integer(e, *b, kinds, bound)
        }
        Math::Pow([a, b]) => {
            integer(e, *a, kinds, bound)
                && matches!(&e[*b], Math::Num(c) if c.0.is_integer() && !num_traits::Signed::is_negative(&c.0))
        }
        _ => false,
    }
}

/// The discrete symbols of `kinds` (sizes, integers, indices), each with what it is.
pub fn discrete_symbols(kinds: &[(Symbol, Kind)]) -> BTreeMap<Symbol, &'static str> {
    kinds
        .iter()
        .filter_map(|(s, k)| match k {
            Kind::Size => Some((*s, "a size")),
            Kind::Integer => Some((*s, "an integer")),
            Kind::Index(..) => Some((*s, "an index")),
            _ => None,
        })
        .collect()
}

/// The first d/dx in `e` whose x takes integer values only (a symbol of `discrete`, see
/// [`discrete_symbols`], or the index of an enclosing sum), with x and what it is: a
/// derivative needs a real variable (d/dk of Σⱼ p(j)·δ(j, k) would differentiate the
/// interpolating polynomial through p's values, 3k² − 12k + 11).
pub fn derivative_by_integer(
    e: &Expr,
    discrete: &BTreeMap<Symbol, &'static str>,
) -> Option<(egg::Id, Symbol, &'static str)> {
    use std::ops::ControlFlow;
    let sums: BTreeSet<Symbol> = e
        .as_ref()
        .iter()
        .filter_map(|n| match n {
            Math::Sum([v, ..]) => e[*v].symbol(),
            _ => None,
        })
        .collect();
    let found = binders::walk(e, binders::root(e), &mut |id, bound| {
        let Math::Deriv([t, _]) = &e[id] else {
            return ControlFlow::Continue(());
        };
        let Some(x) = e[*t].symbol() else {
            return ControlFlow::Continue(());
        };
        let what = if bound.contains(&x) {
            sums.contains(&x).then_some("the index of an enclosing sum")
        } else {
            discrete.get(&x).copied()
        };
        match what {
            Some(what) => ControlFlow::Break((id, x, what)),
            None => ControlFlow::Continue(()),
        }
    });
    match found {
        ControlFlow::Break(hit) => Some(hit),
        ControlFlow::Continue(()) => None,
    }
}

/// The first sum range of `e` whose ends are not known to be integers (a size, an index, a
/// declared integer, an enclosing sum's index, an integer constant, or `+`, `−`, `×` and
/// non-negative integer powers of such), with why: `sum(j in 1..n/2, c)` has ⌊n/2⌋ terms, not
/// n/2, and the rules that count or split a range hold for whole-number ends only.
pub fn sum_range_not_integer(e: &Expr, kinds: &[(Symbol, Kind)]) -> Option<(String, String)> {
    fn go(
        e: &Expr,
        id: egg::Id,
        kinds: &[(Symbol, Kind)],
        bound: &mut Vec<Symbol>,
    ) -> Option<(String, String)> {
        if let Math::Sum([v, lo, hi, body]) = &e[id] {
            for end in [lo, hi] {
                if !integer(e, *end, kinds, bound) {
                    let text = crate::expr::text_at(e, *end);
                    return Some((text, "is not known to be a whole number".into()));
                }
            }
            let name = e[*v].symbol();
            bound.extend(name);
            let r = go(e, *body, kinds, bound);
            if name.is_some() {
                bound.pop();
            }
            return r;
        }
        // Other binders (integral, gauss) bind reals: their names are not sums' indices.
        let mut out = None;
        let shadow: Vec<Symbol> = binders::binds(e, id);
        let saved = bound.clone();
        bound.retain(|b| !shadow.contains(b));
        for c in e[id].children() {
            if out.is_none() {
                out = go(e, *c, kinds, bound);
            }
        }
        *bound = saved;
        out
    }
    go(e, binders::root(e), kinds, &mut vec![])
}

/// Replace defined symbols by their definitions; returns the names unfolded. A definition used
/// under a binder that binds one of its free symbols would be captured, and a result larger
/// than [`MAX_TERM_NODES`] is refused as soon as it grows past it: both are errors (see
/// [`binders::unfold`]).
pub fn unfold(e: &Expr, defs: &BTreeMap<Symbol, Expr>) -> Result<(Expr, Vec<String>), UnfoldError> {
    let (out, used) = binders::unfold(e, defs, MAX_TERM_NODES)?;
    let used: BTreeSet<String> = used.iter().map(|s| s.to_string()).collect();
    Ok((out, used.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfolded(define: &str, expr: &str) -> String {
        let src = format!(
            "id = \"t\"\ntitle = \"t\"\n[symbols]\nn = \"size\"\nx = \"real\"\n[define]\n{define}\n[[claim]]\nstart = \"{expr}\"\n[[claim.step]]\nexpr = \"0\"\n"
        );
        let d = load("t.toml", &src).unwrap_or_else(|e| panic!("{e:?}"));
        crate::expr::text(&d.claims[0].start.expr)
    }

    #[test]
    fn a_bound_name_is_the_binders_not_the_definitions() {
        // The index of a sum and its bound uses stay; the free use in the range unfolds.
        assert_eq!(
            unfolded("q = 'n + 1'", "sum(q in 1..q, q)"),
            "sum(q in 1..n + 1, q)"
        );
        // u and v are gauss(…)'s bound variables: they cannot be defined.
        let src = "id = \"t\"\ntitle = \"t\"\n[define]\nu = 'x + 1'\n[[claim]]\nstart = \"0\"\n[[claim.step]]\nexpr = \"0\"\n";
        let err = load("t.toml", src).expect_err("u is reserved");
        assert!(err.message.contains('u'), "{}", err.message);
    }
}

#[cfg(test)]
mod relation_tests {
    use super::Relation;

    #[test]
    fn excess_is_the_wrong_side_and_never_hides_a_nan() {
        assert_eq!(Relation::Le.excess(1.0, 3.0), 0.0);
        assert_eq!(Relation::Le.excess(3.0, 1.0), 2.0);
        assert_eq!(Relation::Ge.excess(1.0, 3.0), 2.0);
        assert_eq!(Relation::Eq.excess(1.0, 3.0), 2.0);
        for rel in [Relation::Le, Relation::Lt, Relation::Ge, Relation::Gt] {
            assert!(rel.excess(f64::INFINITY, f64::INFINITY).is_nan());
            assert!(rel.excess(f64::NAN, 0.0).is_nan());
        }
    }
}
