//! `derive report NOTE.txt...`: every display equation of the notes, with the verdict of the
//! derivation links that cite it, or `not encoded`.

use std::path::Path;

use super::{out, CliError};
use crate::derivation::check::check_with;
use crate::derivation::discover::{all_files, derivations_dir, load_path};
use crate::derivation::draws::NetworkDraws;
use crate::report::cache::Cache;
use crate::report::summary::summarise;
use crate::report::{self, LinkSummary, NoteReport};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::IsTerminal;

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
    let names: Vec<&str> = read.iter().map(|(_, name, _)| name.as_str()).collect();
    let summaries = checked_derivations(&names)?;
    let checked: Vec<(&crate::derivation::Derivation, &[LinkSummary])> =
        summaries.iter().map(|(d, s)| (d, s.as_slice())).collect();
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

/// Every derivation that cites one of the notes, with its links' summaries: from the cache when
/// the file and the tool are unchanged, else checked (in parallel, with a progress bar on a
/// terminal) and stored.
fn checked_derivations(
    notes: &[&str],
) -> Result<Vec<(crate::derivation::Derivation, Vec<LinkSummary>)>, CliError> {
    let dir = derivations_dir();
    let mut citing = vec![];
    for f in all_files(&dir) {
        let d = load_path(&f).map_err(|e| CliError::Load(Box::new(e)))?;
        let cites = d
            .claims
            .iter()
            .flat_map(|c| c.cite.iter().chain(c.steps.iter().flat_map(|s| &s.cite)))
            .chain(d.unchecked.iter().map(|u| &u.cite))
            .any(|c| notes.contains(&c.note.as_str()));
        if cites {
            let src = std::fs::read_to_string(&f).map_err(|source| CliError::Io {
                path: f.display().to_string(),
                source,
            })?;
            citing.push((d, src));
        }
    }
    let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let cache = Cache::open(&root);
    let cached: Vec<Option<Vec<LinkSummary>>> = citing
        .iter()
        .map(|(d, src)| cache.get(&d.file, src))
        .collect();
    let todo: Vec<&crate::derivation::Derivation> = citing
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|((d, _), _)| d)
        .collect();
    let bar = if std::io::stderr().is_terminal() && !todo.is_empty() {
        let bar = ProgressBar::new(todo.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("checking {pos}/{len} derivations {wide_bar} {elapsed}")
                .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let draws = NetworkDraws::prepare(&todo);
    let fresh: Vec<Vec<LinkSummary>> = todo
        .par_iter()
        .map(|d| {
            let s = summarise(&check_with(d, &draws));
            bar.inc(1);
            s
        })
        .collect();
    bar.finish_and_clear();
    let mut fresh = fresh.into_iter();
    let mut out = vec![];
    for ((d, src), c) in citing.into_iter().zip(cached) {
        let s = match c {
            Some(s) => s,
            None => {
                let s = fresh.next().expect("one result per derivation checked");
                cache.put(&d.file, &src, &s);
                s
            }
        };
        out.push((d, s));
    }
    Ok(out)
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
