//! Command-line subcommands (argument structs and their `run` functions); `main.rs` only parses
//! and dispatches.

pub mod kernel;

use crate::numeric::NumericError;

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
}

impl CliError {
    /// The process exit code for this error (2: bad input or unavailable feature).
    pub fn exit_code(&self) -> u8 {
        2
    }
}
