//! `derive report NOTE.txt...`: every display equation of the notes, with the verdict of the
//! derivation links that cite it, or `not encoded`.

use std::path::Path;

use super::{out, CliError};
use crate::derivation::check_all;
use crate::derivation::discover::{all_files, derivations_dir, load_path};
use crate::report::{self, NoteReport};

/// How `derive report` writes its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A summary per note, then each display row with its verdict.
    Text,
    /// GitHub-renderable Markdown: a summary table per note, then each row with a badge.
    Md,
    /// One JSON document (schema version in the `version` field).
    Json,
    /// One self-contained HTML page: MathML equations, verdict badges, expandable proofs,
    /// counterexamples and width-study plots (no script, nothing fetched).
    Html,
}

/// Report on the notes: every derivation in derivations/ is checked, and the links citing each
/// note are placed on its rows.
pub fn run_report(
    notes: &[String],
    format: Format,
    out_path: Option<&str>,
) -> Result<bool, CliError> {
    if notes.is_empty() {
        return Err(CliError::Usage(
            "name at least one note (a .txt file)".into(),
        ));
    }
    // Read every note first: a bad one is an error before the derivations are checked.
    let mut read = vec![];
    for n in notes {
        let bytes = std::fs::read(n).map_err(|source| CliError::Io {
            path: n.clone(),
            source,
        })?;
        let name = Path::new(n)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| n.clone());
        if let Err(e) = report::note::equations(&bytes) {
            return Err(note_error(n, e));
        }
        read.push((n, name, bytes));
    }
    let derivations = all_files(&derivations_dir())
        .iter()
        .map(|f| load_path(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Load(Box::new(e)))?;
    let reports = check_all(&derivations);
    let checked: Vec<_> = derivations.iter().zip(&reports).collect();
    let mut all: Vec<NoteReport> = vec![];
    for (path, name, bytes) in read {
        all.push(report::report(&name, &bytes, &checked).map_err(|e| {
            let msg = e.to_string();
            match e {
                report::ReportError::Note(e) => note_error(path, e),
                report::ReportError::Quote { file, at, .. } => CliError::Data {
                    path: file,
                    line: at.0,
                    col: at.1,
                    msg,
                },
            }
        })?);
    }
    let text = match format {
        Format::Text => all.iter().map(report::text).collect::<Vec<_>>().join("\n"),
        Format::Md => all
            .iter()
            .map(report::markdown)
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Html => report::html::html(&all),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report::json(&all)).expect("JSON values serialise")
        ),
    };
    match out_path {
        Some(p) => std::fs::write(p, text).map_err(|source| CliError::Io {
            path: p.to_string(),
            source,
        })?,
        None => out(&text)?,
    }
    Ok(true)
}

fn note_error(path: &str, e: report::note::NoteError) -> CliError {
    let line = match e {
        report::note::NoteError::NotUtf8 { line }
        | report::note::NoteError::Unterminated { line } => line,
        report::note::NoteError::NoEquations => 1,
    };
    CliError::Data {
        path: path.to_string(),
        line,
        col: 1,
        msg: e.to_string(),
    }
}
