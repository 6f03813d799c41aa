//! `derive report`: a note's display equations, each with the verdict of the derivation links
//! that cite it (`cite = { note, line, quote }`), or `not encoded`.
//!
//! Data flow: note bytes → rows ([`note::equations`]) ‖ derivations → check reports → the rows
//! each citation's quote stands in → one verdict per row → text or JSON. A row cited by several
//! links fails if one of them is refuted (or unsound), holds if one is proved, consistent or a
//! limit and none fails, and is undecided otherwise.

pub mod note;

use crate::derivation::{Derivation, LinkId, Report, Verdict};
use note::{Equation, NoteError};
use serde_json::json;

/// The verdict on one row of a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowVerdict {
    /// A citing link is proved, consistent or a limit, and none fails.
    Holds,
    /// A citing link is refuted (or its proof is unsound).
    Fails,
    /// Cited, but no link decides it (unknown, unchecked).
    Undecided,
    /// No derivation cites the row.
    NotEncoded,
}

impl RowVerdict {
    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            RowVerdict::Holds => "holds",
            RowVerdict::Fails => "fails",
            RowVerdict::Undecided => "undecided",
            RowVerdict::NotEncoded => "not-encoded",
        }
    }
}

/// A link's verdict as the report reads it.
fn row_verdict(v: Verdict) -> RowVerdict {
    match v {
        Verdict::Proved | Verdict::Consistent | Verdict::Limit => RowVerdict::Holds,
        Verdict::Refuted | Verdict::Unsound => RowVerdict::Fails,
        Verdict::Unchecked | Verdict::Unknown => RowVerdict::Undecided,
    }
}

/// One link that cites a row.
#[derive(Debug, Clone)]
pub struct Citing {
    /// The derivation's id.
    pub derivation: String,
    /// Its file.
    pub file: String,
    /// The link (`claim.step`).
    pub link: LinkId,
    /// Its verdict.
    pub verdict: Verdict,
}

/// One row of the note with its verdict.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row.
    pub equation: Equation,
    /// The verdict.
    pub verdict: RowVerdict,
    /// The links that cite it.
    pub citing: Vec<Citing>,
}

/// The report on one note.
#[derive(Debug, Clone)]
pub struct NoteReport {
    /// The note's file name.
    pub note: String,
    /// Its rows, in order.
    pub rows: Vec<Row>,
    /// Citations of this note whose quote stands in no row (e.g. inline math).
    pub unplaced: Vec<(Citing, String)>,
}

impl NoteReport {
    /// How many rows have verdict `v`.
    pub fn count(&self, v: RowVerdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
}

/// The report on the note `name` (its bytes), from checked derivations and their reports.
pub fn report(
    name: &str,
    bytes: &[u8],
    checked: &[(&Derivation, &Report)],
) -> Result<NoteReport, NoteError> {
    let equations = note::equations(bytes)?;
    let mut rows: Vec<Row> = equations
        .into_iter()
        .map(|equation| Row {
            equation,
            verdict: RowVerdict::NotEncoded,
            citing: vec![],
        })
        .collect();
    let mut unplaced = vec![];
    for (d, r) in checked {
        for link in d.links() {
            let Some(result) = r.links.iter().find(|l| l.id == link.id) else {
                continue;
            };
            // The step's own citation, else its claim's.
            let claim = &d.claims[link.id.claim - 1];
            let Some(cite) = link.step.cite.as_ref().or(claim.cite.as_ref()) else {
                continue;
            };
            if cite.note != name {
                continue;
            }
            let citing = Citing {
                derivation: d.id.clone(),
                file: d.file.clone(),
                link: link.id,
                verdict: result.verdict,
            };
            // A quote across rows is placed by its first row.
            let first = cite.quote.split("\\\\").next().unwrap_or_default();
            let candidates: Vec<usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, row)| note::contains(&row.equation.latex, first))
                .map(|(i, _)| i)
                .collect();
            // The line is a hint: the candidate nearest to it.
            let best = candidates
                .into_iter()
                .min_by_key(|i| cite.line.map_or(0, |l| rows[*i].equation.line.abs_diff(l)));
            match best {
                Some(i) => rows[i].citing.push(citing),
                None => unplaced.push((citing, cite.quote.clone())),
            }
        }
    }
    for row in &mut rows {
        let vs: Vec<RowVerdict> = row.citing.iter().map(|c| row_verdict(c.verdict)).collect();
        row.verdict = if vs.is_empty() {
            RowVerdict::NotEncoded
        } else if vs.contains(&RowVerdict::Fails) {
            RowVerdict::Fails
        } else if vs.contains(&RowVerdict::Holds) {
            RowVerdict::Holds
        } else {
            RowVerdict::Undecided
        };
    }
    Ok(NoteReport {
        note: name.to_string(),
        rows,
        unplaced,
    })
}

const ORDER: [RowVerdict; 4] = [
    RowVerdict::Holds,
    RowVerdict::Fails,
    RowVerdict::Undecided,
    RowVerdict::NotEncoded,
];

/// The links that cite a row, each as "derivation link verdict" (the id between `quote`s).
fn citing(row: &Row, quote: &str) -> Vec<String> {
    row.citing
        .iter()
        .map(|c| {
            format!(
                "{quote}{}{quote} {} {}",
                c.derivation,
                c.link,
                c.verdict.name().to_lowercase()
            )
        })
        .collect()
}

/// The report as text.
pub fn text(r: &NoteReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let counts: Vec<String> = ORDER
        .iter()
        .map(|v| format!("{} {}", r.count(*v), v.name()))
        .collect();
    let _ = writeln!(
        o,
        "{}: {} display rows; {}",
        r.note,
        r.rows.len(),
        counts.join(", ")
    );
    for row in &r.rows {
        let flat = row
            .equation
            .latex
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut latex: String = flat.chars().take(72).collect();
        if flat.chars().count() > 72 {
            latex.push('…');
        }
        let by = citing(row, "");
        let _ = writeln!(
            o,
            "  line {:>4}  {:<11}  {}",
            row.equation.line,
            row.verdict.name(),
            latex
        );
        if !by.is_empty() {
            let _ = writeln!(o, "             by {}", by.join("; "));
        }
    }
    for (c, quote) in &r.unplaced {
        let _ = writeln!(
            o,
            "  cited by {} {} but in no display row: {}",
            c.derivation,
            c.link,
            quote.chars().take(60).collect::<String>()
        );
    }
    o
}

/// The report as GitHub-renderable Markdown: a summary table of counts, then each row with a
/// badge, its line, its LaTeX and the links that decide it.
pub fn markdown(r: &NoteReport) -> String {
    use std::fmt::Write as _;
    let badge = |v: RowVerdict| match v {
        RowVerdict::Holds => "✅ holds",
        RowVerdict::Fails => "❌ fails",
        RowVerdict::Undecided => "❔ undecided",
        RowVerdict::NotEncoded => "⬜ not encoded",
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## {}
",
        r.note
    );
    let _ = writeln!(
        o,
        "| verdict | rows |
|---|---|"
    );
    for v in ORDER {
        let _ = writeln!(o, "| {} | {} |", badge(v), r.count(v));
    }
    let _ = writeln!(
        o,
        "| total | {} |
",
        r.rows.len()
    );
    let _ = writeln!(
        o,
        "| line | verdict | equation | checked by |
|---|---|---|---|"
    );
    for row in &r.rows {
        let flat = row
            .equation
            .latex
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // `|` would end a table cell; alignment `&` means nothing outside its block.
        let latex = flat.replace('|', "\\vert ").replace('&', " ");
        let by = citing(row, "`");
        let _ = writeln!(
            o,
            "| {} | {} | ${}$ | {} |",
            row.equation.line,
            badge(row.verdict),
            latex,
            by.join("; ")
        );
    }
    o
}

/// The reports as one JSON document (schema version 1): `{"version": 1, "notes": [{"note",
/// "counts": {"holds", "fails", "undecided", "not-encoded"}, "equations": [{"line", "link"
/// (null: the whole row), "latex", "kind", "verdict", "how" (the citing links' verdicts),
/// "derivations": [{"derivation", "file", "claim"}]}], "unplaced": [...]}]}`.
pub fn json(reports: &[NoteReport]) -> serde_json::Value {
    let notes: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let counts: serde_json::Map<String, serde_json::Value> = ORDER
                .iter()
                .map(|v| (v.name().to_string(), json!(r.count(*v))))
                .collect();
            let equations: Vec<serde_json::Value> = r
                .rows
                .iter()
                .map(|row| {
                    json!({
                        "line": row.equation.line,
                        "link": null,
                        "latex": row.equation.latex,
                        "kind": row.equation.kind.name(),
                        "verdict": row.verdict.name(),
                        "how": row.citing.iter().map(|c| c.verdict.name().to_lowercase()).collect::<Vec<_>>(),
                        "derivations": row.citing.iter().map(|c| json!({
                            "derivation": c.derivation,
                            "file": c.file,
                            "claim": c.link.to_string(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let unplaced: Vec<serde_json::Value> = r
                .unplaced
                .iter()
                .map(|(c, q)| json!({"derivation": c.derivation, "claim": c.link.to_string(), "quote": q}))
                .collect();
            json!({"note": r.note, "counts": counts, "equations": equations, "unplaced": unplaced})
        })
        .collect();
    json!({"version": 1, "notes": notes})
}
