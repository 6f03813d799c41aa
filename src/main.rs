//! The `derive` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "derive",
    version,
    about = "A symbolic-numeric proof checker for NNGP/NTK kernel recursions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analytic NNGP (Σ), derivative (Σ̇) and NTK (Θ) matrices for inputs in a CSV file.
    Kernel(derive::cli::kernel::KernelArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Kernel(args) => derive::cli::kernel::run(args, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
