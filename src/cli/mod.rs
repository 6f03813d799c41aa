//! Command-line subcommands (argument structs and their `run` functions); `main.rs` only parses
//! and dispatches.

pub mod adhoc;
pub mod check;
pub mod kernel;
pub mod report;

use crate::derivation::discover::LoadError;
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
    /// Bad input text (an expression or declaration on the command line), pointing at it.
    #[error(transparent)]
    Input(Box<InputError>),
    /// A derivation file could not be found or loaded.
    #[error(transparent)]
    Load(Box<LoadError>),
    /// A proof that the numerics contradict: an internal soundness error (exit code 3).
    #[error(transparent)]
    Unsound(#[from] Unsound),
    /// Standard output was closed before everything was written (e.g. `derive check --all |
    /// head -1`): stop quietly, with exit code [`BROKEN_PIPE_EXIT`].
    #[error("standard output was closed")]
    BrokenPipe,
}

/// The exit code when standard output is closed early: 141 = 128 + SIGPIPE, what a shell shows
/// for a process the signal ended (it is not 0: the output is incomplete).
pub const BROKEN_PIPE_EXIT: u8 = 141;

/// Write `text` to standard output; a closed pipe becomes [`CliError::BrokenPipe`] instead of the
/// panic `print!` raises.
pub fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| io_to_cli("<stdout>", e))
}

/// An I/O error on `path`; a broken pipe is [`CliError::BrokenPipe`].
pub fn io_to_cli(path: &str, e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Io {
            path: path.to_string(),
            source: e,
        }
    }
}

impl CliError {
    /// The process exit code: 3 for an internal soundness error, 2 for everything else (bad
    /// input or an unavailable feature).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Unsound(_) => 3,
            CliError::BrokenPipe => BROKEN_PIPE_EXIT,
            _ => 2,
        }
    }

    /// The message to print on standard error.
    pub fn message(&self) -> String {
        match self {
            CliError::Input(e) => e.render(),
            CliError::Load(e) => match e.as_ref() {
                LoadError::Input(e) => e.render(),
                other => format!("error: {other}"),
            },
            other => format!("error: {other}"),
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        CliError::Input(Box::new(e))
    }
}

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        CliError::Load(Box::new(e))
    }
}
