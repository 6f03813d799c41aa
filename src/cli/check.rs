//! `derive check` and `derive list`: find derivation files, check them, print the verdicts.

use crate::derivation::Verdict;
use std::path::PathBuf;

use super::{out, CliError};
use crate::derivation::discover::{all_files, derivations_dir, load_path, resolve, suite_files};
use crate::derivation::{check_all, render, Derivation, LinkResult, Report};

/// How `derive check` writes its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for a terminal: each claim with its links, proofs and counterexamples.
    Text,
    /// One JSON document: every derivation with its claims, links, verdicts, proofs, points
    /// and figures (schema version in the `version` field).
    Json,
}

/// Check the targets (or all); returns whether every verdict was as expected. Derivations are
/// checked in parallel and printed in order. A link with an internal soundness error is
/// reported with its derivation and the others are still checked; the error (exit code 3)
/// comes at the end.
pub fn run_check(
    targets: &[String],
    all: bool,
    notes: bool,
    timings: bool,
    format: Format,
) -> Result<bool, CliError> {
    let files: Vec<PathBuf> = if all || targets.is_empty() {
        suite_files(&derivations_dir(), notes)
    } else {
        targets
            .iter()
            .map(|t| resolve(t))
            .collect::<Result<_, _>>()?
    };
    if files.is_empty() {
        return Err(CliError::Usage("no derivation files found".into()));
    }
    let start = std::time::Instant::now();
    let derivations: Vec<Derivation> = files
        .iter()
        .map(|f| load_path(f))
        .collect::<Result<_, _>>()?;
    let reports = check_all(&derivations);
    let seconds = start.elapsed().as_secs_f64();
    let ok = reports.iter().all(Report::as_expected);
    match format {
        Format::Json => {
            let doc = crate::derivation::json::document(&derivations, &reports, timings);
            out(&format!("{doc:#}\n"))?;
        }
        Format::Text => {
            for (i, (d, report)) in derivations.iter().zip(&reports).enumerate() {
                if i > 0 {
                    out("\n")?;
                }
                out(&render(d, report, timings))?;
            }
            if files.len() > 1 {
                out(&summary(&reports, seconds, ok))?;
            }
        }
    }
    let unsound = reports.iter().flat_map(|r| r.unsound()).next();
    if let Some(link) = unsound {
        return Err(CliError::Unsound(
            link.unsound.clone().expect("an unsound link says why"),
        ));
    }
    Ok(ok)
}

/// The last line of `check --all`: counts per verdict and the time.
fn summary(reports: &[Report], seconds: f64, ok: bool) -> String {
    let links: Vec<&LinkResult> = reports.iter().flat_map(|r| &r.links).collect();
    let counts: Vec<String> = Verdict::EXPECTABLE
        .iter()
        .chain([&Verdict::Unsound])
        .map(|v| (v, links.iter().filter(|l| l.verdict == *v).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    format!(
        "\nchecked {} derivations ({} links: {}) in {seconds:.2} s: {}\n",
        reports.len(),
        links.len(),
        counts.join(", "),
        if ok {
            "all as expected"
        } else {
            "SOME NOT AS EXPECTED"
        }
    )
}

/// `derive list`: id, link count and title of every derivation.
pub fn run_list() -> Result<(), CliError> {
    for f in all_files(&derivations_dir()) {
        let d = load_path(&f)?;
        out(&format!(
            "{:<24} {:>2} claims {:>3} links  {}\n",
            d.id,
            d.claims.len(),
            d.links().count(),
            d.title
        ))?;
    }
    Ok(())
}
