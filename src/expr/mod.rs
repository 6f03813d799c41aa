//! The math language: node type, parser (infix syntax with spans), printers (text, LaTeX).

pub mod binders;
#[allow(missing_docs)] // define_language! variants carry no doc comments
mod lang;
mod parse;
mod print;
pub mod shape;
pub mod tensor;

pub use lang::{Constant, Expr, Math, GAUSS_VARS};
pub use parse::{
    builtin_function, parse, parse_with_functions, parse_with_spans, term_budget_error, ParseError,
};
pub use print::{latex, latex_at, text, text_at};
