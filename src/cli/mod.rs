//! Command-line subcommands (argument structs and their `run` functions); `main.rs` only parses
//! and dispatches.

pub mod adhoc;
pub mod check;
pub mod kernel;

use crate::derivation::InputError;
use crate::numeric::NumericError;
use crate::prove::Unsound;

/// Why a subcommand failed. Every variant is a user error and maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An argument value is not acceptable.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file is malformed at a position (1-based line and column).
    #[error("{path}:{line}:{col}: {msg}")]
    Data {
        /// The file.
        path: String,
        /// Line, from 1.
        line: usize,
        /// Column (character), from 1.
        col: usize,
        /// What is wrong there.
        msg: String,
    },
    /// The numerics refused the input.
    #[error(transparent)]
    Numeric(#[from] NumericError),
    /// A feature that this build does not provide.
    #[error("{0}")]
    Unavailable(String),
    /// Bad input whose message is already rendered (a derivation file error points at its text).
    #[error("{0}")]
    Input(String),
    /// A proof that the numerics contradict: an internal soundness error (exit code 3).
    #[error(transparent)]
    Unsound(#[from] Unsound),
}

impl CliError {
    /// The process exit code: 3 for an internal soundness error, 2 for everything else (bad
    /// input or an unavailable feature).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Unsound(_) => 3,
            _ => 2,
        }
    }

    /// The message to print on standard error.
    pub fn message(&self) -> String {
        match self {
            CliError::Input(m) => m.clone(),
            other => format!("error: {other}"),
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        CliError::Input(e.render())
    }
}
