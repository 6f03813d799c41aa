#![forbid(unsafe_code)]
//! The `derive` command line.

mod cli;

// The library's modules, so that the command line's modules reach them as `crate::…`.
use derive::{derivation, expr, limits, numeric, precision, prove, report};

use clap::{Parser, Subcommand};
use cli::{adhoc, check};
use std::io::Write as _;
use std::process::ExitCode;

/// derive — checks derivations of infinite-width kernel recursions, link by link: an e-graph
/// proof with named rules and a high-precision numeric check for every link.
#[derive(Parser)]
#[command(name = "derive", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check derivations: ids (e.g. `first_layer_cov`), paths to .toml files, or --all.
    Check {
        /// Derivation ids or files.
        targets: Vec<String>,
        /// Check every derivation in derivations/ except the notes' (derivations/notes/, checked
        /// by `derive report`; add --notes to include them).
        #[arg(long)]
        all: bool,
        /// With --all: the notes' derivations too.
        #[arg(long, requires = "all")]
        notes: bool,
        /// Show proof times.
        #[arg(long)]
        timings: bool,
        /// Output format: text, or one JSON document (verdicts, proofs, points, figures).
        #[arg(long, value_enum, default_value = "text")]
        format: check::Format,
    },
    /// List the derivations.
    List,
    /// Prove one link LHS = RHS.
    Prove {
        /// Left side (may start with a minus: `-max(-a, -b)`).
        #[arg(allow_hyphen_values = true)]
        lhs: String,
        /// Right side (may start with a minus).
        #[arg(allow_hyphen_values = true)]
        rhs: String,
        /// Theories to use (comma-separated): algebra, powers, sums, expectation, gaussian, trig,
        /// calculus, matrices, piecewise. Without it, every theory.
        #[arg(long, value_delimiter = ',')]
        by: Vec<String>,
        /// Declare a symbol: NAME=KIND (e.g. rho='interval -1..1').
        #[arg(long)]
        decl: Vec<String>,
    },
    /// Report on notes: each display equation (each row of an aligned block, each `=` link of a
    /// row) with the verdict of the derivation links that cite it: holds, fails (counterexample
    /// and diagnosis), holds-with-convention, not-checkable (with the reason), or not-encoded.
    /// Results are cached under target/derive-cache/ by derivation content and tool build.
    Report {
        /// The notes (text files with `$$…$$` display equations).
        notes: Vec<String>,
        /// Output format: text, Markdown, JSON, or one self-contained HTML page.
        #[arg(long, value_enum, default_value = "text")]
        format: cli::report::Format,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<String>,
    },
    /// Analytic NNGP (Σ), derivative (Σ̇) and NTK (Θ) matrices for inputs in a CSV file.
    Kernel(cli::kernel::KernelArgs),
    /// Evaluate an expression.
    Eval {
        /// The expression (may start with a minus).
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// Values: NAME=VALUE[,NAME=VALUE…].
        #[arg(long)]
        at: Vec<String>,
        /// Declare a symbol: NAME=KIND.
        #[arg(long)]
        decl: Vec<String>,
        /// Significant digits printed (1 to 17; 17 round-trip every f64).
        #[arg(long, default_value_t = 17, value_parser = clap::value_parser!(u8).range(1..=17))]
        digits: u8,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // `print` reports a closed stream as an error instead of panicking.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check {
            targets,
            all,
            notes,
            timings,
            format,
        } => check::run_check(&targets, all, notes, timings, format),
        Command::List => check::run_list().map(|_| true),
        Command::Report { notes, format, out } => {
            cli::report::run_report(&notes, format, out.as_deref())
        }
        Command::Prove { lhs, rhs, by, decl } => adhoc::run_prove(&lhs, &rhs, &by, &decl),
        Command::Eval {
            expr,
            at,
            decl,
            digits,
        } => adhoc::run_eval(&expr, &at, &decl, usize::from(digits)).map(|_| true),
        Command::Kernel(args) => {
            cli::kernel::run(&args, &mut std::io::stdout().lock()).map(|_| true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(cli::CliError::BrokenPipe) => ExitCode::from(cli::BROKEN_PIPE_EXIT),
        Err(e) => {
            // Not `eprintln!`: it panics when standard error is closed.
            let _ = writeln!(std::io::stderr(), "{}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}
