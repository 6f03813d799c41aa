//! Input budgets: every limit `derive` puts on what it reads, in one place.
//!
//! A hostile or mistaken input (a 20,000-term sum, a tower of powers, a definition that doubles
//! itself 25 times, a kernel over a million inputs) must end with a message that names the budget
//! it exceeds and exit code 2, in bounded time and memory — never a stack overflow, a panic or an
//! allocation of terabytes. Each message quotes the constant's name, so that `grep` leads here.
//!
//! | budget | applies to |
//! |---|---|
//! | [`MAX_FILE_BYTES`] | a derivation file |
//! | [`MAX_EXPR_BYTES`] | one expression string |
//! | [`MAX_NESTING`] | brackets `(`/`[` open at once in one expression |
//! | [`MAX_TERM_NODES`] | nodes of one term, as written and after unfolding `[define]`s |
//! | [`MAX_TERM_DEPTH`] | depth of one term (operator chains count: `a+a+…+a` with k terms is k deep) |
//! | [`MAX_LITERAL_DIGITS`], [`MAX_LITERAL_MAGNITUDE`] | number literals |
//! | [`MAX_FOLD_BITS`] | exact constants the prover folds from powers |
//! | [`MAX_NETWORK_BYTES`], [`MAX_NETWORK_WORK`] | the `[network]` table's width study |
//! | [`MAX_KERNEL_FILE_BYTES`], [`MAX_KERNEL_INPUTS`], [`MAX_KERNEL_DEPTH`], [`MAX_KERNEL_BYTES`], [`MAX_KERNEL_WORK`] | `derive kernel` |
//!
//! The term budgets are enforced once, when an expression is parsed and when definitions are
//! unfolded; everything downstream (printers, prover, numeric evaluator) recurses over terms and
//! relies on them. The largest term of the shipped derivations has 114 nodes and depth 13.

/// The largest derivation file read, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// The longest expression string parsed, in bytes.
pub const MAX_EXPR_BYTES: usize = 64 << 10;

/// The deepest bracket nesting in one expression.
pub const MAX_NESTING: usize = 256;

/// The most nodes a term may have (each symbol, number, operator, function and binder is one
/// node), both as written and after its `[define]`s are unfolded.
pub const MAX_TERM_NODES: usize = 2_000;

/// The deepest a term may be. Chains of binary operators nest: `a+a+…+a` with k terms, `-…-a`
/// with k minus signs and `a^a^…^a` with k powers are k deep.
pub const MAX_TERM_DEPTH: usize = 200;

/// The most digits (mantissa and exponent together) a number literal may have.
pub const MAX_LITERAL_DIGITS: usize = 100;

/// The largest magnitude of a number literal (and of `frac(p, q)`), and the reciprocal of the
/// smallest non-zero one: literals must be representable as normal `f64` values, so that the
/// exact prover and the floating-point checks see the same number.
pub const MAX_LITERAL_MAGNITUDE: f64 = 1e300;

/// Exact constant folding of `a^n` stops when the folded value would need more bits (numerator
/// and denominator together) than this; the power then stays unfolded in the e-graph.
pub const MAX_FOLD_BITS: u64 = 4096;

/// The largest memory estimate of one network a `[network]` width study samples (at its largest
/// width and depth): 8 bytes × (parameters, three times over when trained, plus the activations
/// of every layer at every input). Draws run in parallel, one network per thread.
pub const MAX_NETWORK_BYTES: f64 = 512.0 * 1024.0 * 1024.0;

/// The largest estimated work of a `[network]` width study: Σ over widths and depths of
/// parameters × (20 for sampling them + inputs × (1 + 3 × training steps) for the passes) ×
/// draws × activations. About 10⁸ units take a second; the shipped studies need ≤ 2·10⁹.
pub const MAX_NETWORK_WORK: f64 = 2e10;

/// The most input rows `derive kernel` reads.
pub const MAX_KERNEL_INPUTS: usize = 2048;

/// The largest `--inputs` file `derive kernel` reads, in bytes.
pub const MAX_KERNEL_FILE_BYTES: usize = 256 << 20;

/// The most hidden layers `derive kernel` computes.
pub const MAX_KERNEL_DEPTH: usize = 10_000;

/// The largest memory estimate of `derive kernel`: three N×N matrices, the per-layer diagonals
/// and the output text (see `cli::kernel::kernel_cost`).
pub const MAX_KERNEL_BYTES: f64 = 512.0 * 1024.0 * 1024.0;

/// The largest work estimate of `derive kernel`, in closed-form pair-layers (N(N+1)/2 × L, ×2
/// for activations that need quadrature, plus the printing; see `cli::kernel::kernel_cost`):
/// about a minute on two cores.
pub const MAX_KERNEL_WORK: f64 = 5e8;
