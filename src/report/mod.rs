//! `derive report`: a note's display equations, each with the verdict of the derivation links
//! that cite it (`cite = { note, line, quote }`), or `not encoded`.
//!
//! Data flow: note bytes → rows ([`note::equations`]) ‖ derivations → check reports → the rows
//! each citation's quote stands in → one verdict per row → text or JSON. A row cited by several
//! links fails if one of them is refuted (or unsound), holds if one is proved, consistent or a
//! limit and none fails, and is undecided otherwise.

pub mod cache;
pub mod html;
pub mod note;
mod plot;
pub mod summary;

use crate::derivation::file::{CiteKind, Reason};
use crate::derivation::{Derivation, LinkId, Verdict};
use note::{Equation, NoteError};
use serde_json::json;
use std::fmt;
pub use summary::{Counterexample, LinkSummary, StudyPlot};

/// The verdict on one equation (one row, or one `=` link of a row) of a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowVerdict {
    /// A citing link is proved, consistent or a limit, and none fails.
    Holds,
    /// A citing link is refuted (or its proof is unsound) and no convention rescues it.
    Fails,
    /// Refuted as written; under the convention its link names, it holds.
    HoldsWithConvention,
    /// Marked not checkable (`[[unchecked]]`), with the reason.
    NotCheckable,
    /// Cited, but no link decides it (unknown, unchecked).
    Undecided,
    /// No derivation cites it.
    NotEncoded,
}

impl RowVerdict {
    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            RowVerdict::Holds => "holds",
            RowVerdict::Fails => "fails",
            RowVerdict::HoldsWithConvention => "holds-with-convention",
            RowVerdict::NotCheckable => "not-checkable",
            RowVerdict::Undecided => "undecided",
            RowVerdict::NotEncoded => "not-encoded",
        }
    }
}

/// One link that cites an equation.
#[derive(Debug, Clone)]
pub struct Citing {
    /// The derivation's id.
    pub derivation: String,
    /// Its file.
    pub file: String,
    /// The link (`claim.step`).
    pub link: LinkId,
    /// Its verdict as written.
    pub verdict: Verdict,
    /// The convention it is read under, with that reading's verdict.
    pub convention: Option<(String, String, Verdict)>,
    /// Refuted as written, holds under its convention.
    pub holds_under: bool,
    /// A typo or index slip.
    pub minor: bool,
    /// The step's remark (the author's diagnosis).
    pub remark: Option<String>,
    /// The checker's diagnosis of a refuted link.
    pub diagnosis: Option<String>,
    /// Where a refuted link fails.
    pub counterexample: Option<Counterexample>,
    /// The rules of the proof, for a proved link.
    pub rules: Vec<String>,
    /// The width study of a limit link.
    pub study: Option<StudyPlot>,
    /// What the file says the cited equation is.
    pub kind: Option<CiteKind>,
}

impl Citing {
    fn new(
        d: &Derivation,
        r: &LinkSummary,
        step: &crate::derivation::file::Step,
        kind: Option<CiteKind>,
    ) -> Citing {
        Citing {
            derivation: d.id.clone(),
            file: d.file.clone(),
            link: LinkId {
                claim: r.claim,
                step: r.step,
            },
            verdict: r.verdict,
            convention: r.convention.clone(),
            holds_under: r.holds_under,
            minor: step.minor,
            remark: step.remark.clone(),
            diagnosis: r.diagnosis.clone(),
            counterexample: r.counterexample.clone(),
            rules: r.rules.clone(),
            study: r.study.clone(),
            kind,
        }
    }
}

/// An `[[unchecked]]` entry placed on an equation.
#[derive(Debug, Clone)]
pub struct NotChecked {
    /// The derivation file's id.
    pub derivation: String,
    /// Its file.
    pub file: String,
    /// Why.
    pub reason: Reason,
    /// What exactly.
    pub detail: String,
    /// What the file says the equation is.
    pub kind: Option<CiteKind>,
}

/// One equation of the note (a row, or one `=` link of a row) with its verdict.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row it stands in (for an inline equation: the quote, at its line).
    pub equation: Equation,
    /// The `=` link within the row (1-based), `None` for the whole row.
    pub link: Option<usize>,
    /// Which of the display rows that start on this line it is (1-based): two rows on one line
    /// (`a = b \\ c = d`) are told apart as `183` and `183b`. The labels (text and Markdown; see
    /// [`line_label`]) are `183` for the first, `183b` … `183z` for the 2nd to 26th and
    /// `183r27`, `183r28`, … from the 27th on: unique, since a line number has digits only and
    /// every suffix starts with a letter. JSON gives the number itself (field `row`).
    pub row: usize,
    /// Inline math (not a display row), cited by a derivation.
    pub inline: bool,
    /// The verdict.
    pub verdict: RowVerdict,
    /// The links that cite it.
    pub citing: Vec<Citing>,
    /// The entries that mark it not checkable.
    pub unchecked: Vec<NotChecked>,
}

impl Row {
    /// What the equation is: the kind a citing file gives, else read from its form.
    pub fn kind(&self) -> &'static str {
        let given = self
            .citing
            .iter()
            .filter_map(|c| c.kind)
            .chain(self.unchecked.iter().filter_map(|u| u.kind))
            .next();
        if let Some(k) = given {
            return k.name();
        }
        let latex = &self.equation.latex;
        match self.equation.kind {
            _ if note::is_definition(latex) => "definition",
            note::Kind::Expression => "prose",
            note::Kind::Approximation => "approximation",
            note::Kind::Inequality => "inequality",
            note::Kind::Equation => {
                if self.link.is_some_and(|k| k > 1) || note::is_continuation(latex) {
                    "derivation-step"
                } else {
                    "claim"
                }
            }
        }
    }

    /// Is any failure here only a typo or index slip?
    pub fn minor(&self) -> bool {
        self.verdict == RowVerdict::Fails
            && self
                .citing
                .iter()
                .filter(|c| {
                    matches!(c.verdict, Verdict::Refuted | Verdict::Unsound) && !c.holds_under
                })
                .all(|c| c.minor)
    }

    /// The conventions under which the failing links hold.
    pub fn conventions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .citing
            .iter()
            .filter(|c| c.holds_under)
            .filter_map(|c| c.convention.as_ref().map(|(n, _, _)| n.clone()))
            .collect();
        v.dedup();
        v
    }

    /// Why: the diagnosis and remark of the deciding links, or the reason it is not checked.
    pub fn reason(&self) -> Option<String> {
        match self.verdict {
            RowVerdict::NotCheckable => self
                .unchecked
                .first()
                .map(|u| format!("{}: {}", u.reason.describe(), u.detail)),
            RowVerdict::Fails | RowVerdict::HoldsWithConvention => {
                let parts: Vec<String> = self
                    .citing
                    .iter()
                    .filter(|c| matches!(c.verdict, Verdict::Refuted | Verdict::Unsound))
                    .flat_map(|c| {
                        c.remark
                            .iter()
                            .cloned()
                            .chain(c.diagnosis.as_deref().map(|d| flat(d, 160)))
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            _ => {
                let parts: Vec<String> = self
                    .citing
                    .iter()
                    .filter_map(|c| c.remark.clone())
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
        }
    }

    /// A counterexample of a failing link.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        self.citing
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Refuted | Verdict::Unsound))
            .find_map(|c| c.counterexample.as_ref())
    }
}

/// The report on one note.
#[derive(Debug, Clone)]
pub struct NoteReport {
    /// The note's file name.
    pub note: String,
    /// Its equations, in order of the note.
    pub rows: Vec<Row>,
}

impl NoteReport {
    /// How many equations have verdict `v`.
    pub fn count(&self, v: RowVerdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
}

/// Why a report cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// The note cannot be read.
    Note(NoteError),
    /// A derivation cites a quote that is not in the note.
    Quote {
        /// The derivation file.
        file: String,
        /// Where the quote stands in it (line, column).
        at: (usize, usize),
        /// The note.
        note: String,
    },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Note(e) => e.fmt(f),
            ReportError::Quote { note, .. } => {
                write!(f, "the quote is not in {note} (a quote must be verbatim LaTeX of the note; whitespace is ignored)")
            }
        }
    }
}

/// Where a citation stands: (row index, link within it), or an inline equation.
enum Place {
    Row(usize),
    Inline(usize),
}

/// The report on the note `name` (its bytes), from checked derivations and their reports.
pub fn report(
    name: &str,
    bytes: &[u8],
    checked: &[(&Derivation, &[LinkSummary])],
) -> Result<NoteReport, ReportError> {
    let equations = note::equations(bytes).map_err(ReportError::Note)?;
    let text = std::str::from_utf8(bytes).expect("equations() checked UTF-8");
    let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // One entry per row, or per `=` link of a row with several.
    let mut rows: Vec<Row> = vec![];
    let mut on_line: std::collections::HashMap<usize, usize> = Default::default();
    for equation in equations {
        let row = {
            let k = on_line.entry(equation.line).or_insert(0);
            *k += 1;
            *k
        };
        let links: Vec<Option<usize>> = if equation.links >= 2 {
            (1..=equation.links).map(Some).collect()
        } else {
            vec![None]
        };
        for link in links {
            rows.push(Row {
                equation: equation.clone(),
                link,
                row,
                inline: false,
                verdict: RowVerdict::NotEncoded,
                citing: vec![],
                unchecked: vec![],
            });
        }
    }
    let place = |cite: &crate::derivation::file::Cite,
                 file: &str,
                 rows: &[Row]|
     -> Result<Place, ReportError> {
        // A quote across rows is placed by its first row.
        let first = cite.quote.split("\\\\").next().unwrap_or_default();
        let best = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| !row.inline && note::contains(&row.equation.latex, first))
            .min_by_key(|(_, row)| cite.line.map_or(0, |l| row.equation.line.abs_diff(l)))
            .map(|(i, _)| i);
        if let Some(i) = best {
            let row = &rows[i];
            let link = (row.equation.links >= 2)
                .then(|| note::link_of(&row.equation.latex, first))
                .flatten();
            // The entry of that link (rows of one equation are consecutive).
            let j = rows
                .iter()
                .position(|r| r.equation == row.equation && r.link == link)
                .unwrap_or(i);
            return Ok(Place::Row(j));
        }
        let q: String = cite.quote.chars().filter(|c| !c.is_whitespace()).collect();
        if q.is_empty() || !squashed.contains(&q) {
            return Err(ReportError::Quote {
                file: file.to_string(),
                at: cite.at,
                note: cite.note.clone(),
            });
        }
        let line = match text.find(cite.quote.as_str()) {
            Some(at) => 1 + text[..at].matches('\n').count(),
            None => cite.line.unwrap_or(1),
        };
        Ok(Place::Inline(line))
    };
    let at_place = |p: Place, cite: &crate::derivation::file::Cite, rows: &mut Vec<Row>| -> usize {
        match p {
            Place::Row(j) => j,
            Place::Inline(line) => {
                if let Some(j) = rows
                    .iter()
                    .position(|r| r.inline && r.equation.latex == cite.quote)
                {
                    return j;
                }
                let (links, kind) = (1, note::Kind::Equation);
                rows.push(Row {
                    equation: Equation {
                        line,
                        latex: cite.quote.clone(),
                        links,
                        kind,
                    },
                    link: None,
                    row: 1,
                    inline: true,
                    verdict: RowVerdict::NotEncoded,
                    citing: vec![],
                    unchecked: vec![],
                });
                rows.len() - 1
            }
        }
    };
    for (d, r) in checked {
        for link in d.links() {
            let Some(result) = r
                .iter()
                .find(|l| (l.claim, l.step) == (link.id.claim, link.id.step))
            else {
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
            let p = place(cite, &d.file, &rows)?;
            let j = at_place(p, cite, &mut rows);
            rows[j]
                .citing
                .push(Citing::new(d, result, link.step, cite.kind));
        }
        for u in &d.unchecked {
            if u.cite.note != name {
                continue;
            }
            let p = place(&u.cite, &d.file, &rows)?;
            let j = at_place(p, &u.cite, &mut rows);
            rows[j].unchecked.push(NotChecked {
                derivation: d.id.clone(),
                file: d.file.clone(),
                reason: u.reason,
                detail: u.detail.clone(),
                kind: u.cite.kind,
            });
        }
    }
    for row in &mut rows {
        let fails = |c: &Citing| matches!(c.verdict, Verdict::Refuted | Verdict::Unsound);
        let holds = |c: &Citing| {
            matches!(
                c.verdict,
                Verdict::Proved | Verdict::Consistent | Verdict::Limit
            )
        };
        row.verdict = if row.citing.iter().any(|c| fails(c) && !c.holds_under) {
            RowVerdict::Fails
        } else if row.citing.iter().any(|c| c.holds_under) {
            RowVerdict::HoldsWithConvention
        } else if row.citing.iter().any(holds) {
            RowVerdict::Holds
        } else if !row.unchecked.is_empty() {
            RowVerdict::NotCheckable
        } else if !row.citing.is_empty() {
            RowVerdict::Undecided
        } else {
            RowVerdict::NotEncoded
        };
    }
    rows.sort_by_key(|r| (r.equation.line, r.inline));
    Ok(NoteReport {
        note: name.to_string(),
        rows,
    })
}

/// The verdicts in the order summaries list them.
pub const ORDER: [RowVerdict; 6] = [
    RowVerdict::Holds,
    RowVerdict::Fails,
    RowVerdict::HoldsWithConvention,
    RowVerdict::NotCheckable,
    RowVerdict::Undecided,
    RowVerdict::NotEncoded,
];

/// The links that cite a row, each as "derivation link verdict" (the id between `quote`s).
fn citing(row: &Row, quote: &str) -> Vec<String> {
    row.citing
        .iter()
        .map(|c| {
            let under = match &c.convention {
                Some((name, _, v)) => format!(" (under `{name}`: {})", v.name().to_lowercase()),
                None => String::new(),
            };
            format!(
                "{quote}{}{quote} {} {}{under}",
                c.derivation,
                c.link,
                c.verdict.name().to_lowercase()
            )
        })
        .collect()
}

/// The row's LaTeX on one line, at most `n` characters.
pub(crate) fn flat(latex: &str, n: usize) -> String {
    let flat = latex.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(n).collect();
    if flat.chars().count() > n {
        out.push('…');
    }
    out
}

/// Where the equation stands: `line 61`, `line 61 link 2`, `line 61 inline`.
fn place_text(row: &Row) -> String {
    let line = line_label(row.equation.line, row.row);
    match (row.link, row.inline) {
        (Some(k), _) => format!("{line:>4}.{k}"),
        (None, true) => format!("{line:>4}i"),
        (None, false) => format!("{line:>4}  "),
    }
}

/// The label of the `row`-th display row (1-based) that starts on note line `line`: `183`,
/// then `183b` … `183z`, then `183r27`, `183r28`, … (see [`Row::row`]). Letters alone ran out:
/// rows 26, 27 and 28 of one line were all `183z`.
fn line_label(line: usize, row: usize) -> String {
    match row {
        0 | 1 => line.to_string(),
        2..=26 => format!("{line}{}", char::from(b'a' + (row - 1) as u8)),
        k => format!("{line}r{k}"),
    }
}

/// A one-line summary of the counts.
fn summary(r: &NoteReport) -> String {
    ORDER
        .iter()
        .map(|v| format!("{} {}", r.count(*v), v.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The counterexample, as shown.
pub(crate) fn cex_text(c: &Counterexample) -> String {
    match (c.lhs, c.rhs) {
        (Some(l), Some(r)) => format!("at {}: lhs = {l}, rhs = {r}", c.at),
        _ => c.at.clone(),
    }
}

/// The report as text.
pub fn text(r: &NoteReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{}: {} equations; {}", r.note, r.rows.len(), summary(r));
    for row in &r.rows {
        let minor = if row.minor() { " (minor)" } else { "" };
        let _ = writeln!(
            o,
            "  line {}  {:<21}  {}",
            place_text(row),
            format!("{}{minor}", row.verdict.name()),
            flat(&row.equation.latex, 64)
        );
        let by = citing(row, "");
        if !by.is_empty() {
            let _ = writeln!(o, "               by {}", by.join("; "));
        }
        match row.verdict {
            RowVerdict::Fails | RowVerdict::HoldsWithConvention | RowVerdict::NotCheckable => {
                if let Some(why) = row.reason() {
                    let _ = writeln!(o, "               why: {why}");
                }
                if row.verdict == RowVerdict::Fails {
                    if let Some(c) = row.counterexample() {
                        let _ = writeln!(o, "               counterexample {}", cex_text(c));
                    }
                }
            }
            _ => {}
        }
    }
    o
}

fn badge(v: RowVerdict) -> &'static str {
    match v {
        RowVerdict::Holds => "✅ holds",
        RowVerdict::Fails => "❌ fails",
        RowVerdict::HoldsWithConvention => "🟨 holds with convention",
        RowVerdict::NotCheckable => "⬛ not checkable",
        RowVerdict::Undecided => "❔ undecided",
        RowVerdict::NotEncoded => "⬜ not encoded",
    }
}

/// The report as GitHub-renderable Markdown: a summary table of counts, then each equation with
/// a badge, its line, its LaTeX, the reason and the links that decide it.
pub fn markdown(r: &NoteReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "## {}\n", r.note);
    let _ = writeln!(o, "| verdict | equations |\n|---|---|");
    for v in ORDER {
        let _ = writeln!(o, "| {} | {} |", badge(v), r.count(v));
    }
    let _ = writeln!(o, "| total | {} |\n", r.rows.len());
    let _ = writeln!(
        o,
        "| line | verdict | equation | why | checked by |\n|---|---|---|---|---|"
    );
    let cell = |s: &str| s.replace('|', "\\vert ").replace('\n', " ");
    for row in &r.rows {
        // `|` would end a table cell; alignment `&` means nothing outside its block.
        let latex = cell(&flat(&row.equation.latex, 400)).replace('&', " ");
        let by = citing(row, "`");
        let mut why = row.reason().unwrap_or_default();
        if row.verdict == RowVerdict::Fails {
            if let Some(c) = row.counterexample() {
                why = format!("{why} — counterexample {}", cex_text(c));
            }
        }
        let line = place_text(row).trim().to_string();
        let _ = writeln!(
            o,
            "| {line} | {}{} | ${latex}$ | {} | {} |",
            badge(row.verdict),
            if row.minor() { " (minor)" } else { "" },
            cell(&why),
            by.join("; ")
        );
    }
    o
}

/// One equation as JSON.
fn row_json(row: &Row) -> serde_json::Value {
    let convention = row.conventions();
    json!({
        "line": row.equation.line,
        "link": row.link,
        "row": row.row,
        "inline": row.inline,
        "latex": row.equation.latex,
        "kind": row.kind(),
        "verdict": row.verdict.name(),
        "how": row.citing.iter().map(|c| c.verdict.name().to_lowercase()).collect::<Vec<_>>(),
        "convention": if convention.is_empty() { serde_json::Value::Null } else { json!(convention.join(", ")) },
        "reason": row.reason(),
        "minor": row.minor(),
        "counterexample": row.counterexample().map(|c| json!({"at": c.at, "lhs": c.lhs, "rhs": c.rhs})),
        "derivations": row.citing.iter().map(|c| json!({
            "derivation": c.derivation,
            "file": c.file,
            "claim": c.link.to_string(),
            "verdict": c.verdict.name().to_lowercase(),
            "under": c.convention.as_ref().map(|(n, _, v)| json!({"convention": n, "verdict": v.name().to_lowercase()})),
        })).chain(row.unchecked.iter().map(|u| json!({
            "derivation": u.derivation,
            "file": u.file,
            "claim": null,
            "verdict": "not-checkable",
            "reason": u.reason.name(),
        }))).collect::<Vec<_>>(),
    })
}

/// The reports as one JSON document (schema version 1): `{"version": 1, "notes": [{"note",
/// "counts": {verdict: n}, "equations": [{"line", "link" (the `=` link within its row, null for
/// the whole row), "row" (which of the rows starting on that line, from 1), "inline", "latex", "kind", "verdict", "how" (the citing links' verdicts),
/// "convention", "reason", "minor", "counterexample", "derivations": [{"derivation", "file",
/// "claim", "verdict", "under"}]}]}]}`.
pub fn json(reports: &[NoteReport]) -> serde_json::Value {
    let notes: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let counts: serde_json::Map<String, serde_json::Value> = ORDER
                .iter()
                .map(|v| (v.name().to_string(), json!(r.count(*v))))
                .collect();
            let equations: Vec<serde_json::Value> = r.rows.iter().map(row_json).collect();
            json!({"note": r.note, "counts": counts, "equations": equations})
        })
        .collect();
    json!({"version": 1, "notes": notes})
}
