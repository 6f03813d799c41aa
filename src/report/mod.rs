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
    /// What the link checks, as the derivation states it: its two sides with the relation
    /// (`from = to`), so a reader sees what a partial quote stands for.
    pub checked: String,
}

impl Citing {
    fn new(
        d: &Derivation,
        r: &LinkSummary,
        link: &crate::derivation::Link<'_>,
        kind: Option<CiteKind>,
    ) -> Citing {
        let step = link.step;
        let rel = if step.approx.is_some() {
            "≈"
        } else {
            step.rel.symbol()
        };
        let side = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        Citing {
            checked: format!("{} {rel} {}", side(&link.from.text), side(&step.term.text)),
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
    /// A derivation's citation does not name one equation (one link) of the note.
    Quote {
        /// The derivation file.
        file: String,
        /// Where the quote stands in it (line, column).
        at: (usize, usize),
        /// The note.
        note: String,
        /// What is wrong with it.
        problem: QuoteProblem,
    },
}

/// What is wrong with a citation's quote.
#[derive(Debug, Clone, PartialEq)]
pub enum QuoteProblem {
    /// The quote is nowhere in the note.
    NotInNote,
    /// In the note, but in no display row and not inside one inline math span (prose, or across
    /// an equation's end).
    NotInOneEquation,
    /// It stands in several equations, and no `line` picks exactly one (the candidates' lines).
    Ambiguous {
        /// The lines of the equations it stands in.
        lines: Vec<usize>,
        /// The citation's `line`, if it gives one.
        said: Option<usize>,
    },
    /// Its only equation is more than 3 lines from the citation's `line`.
    FarFromHint {
        /// Where the quote is.
        found: usize,
        /// What the citation says.
        said: usize,
    },
    /// It stands in several places of a row with several relations, in different links.
    SeveralPlaces {
        /// The row's line.
        line: usize,
        /// The links it stands in.
        links: Vec<usize>,
        /// The row's links, as one would quote them.
        example: Vec<String>,
    },
    /// It covers several `=` links of a row with several relations.
    SeveralLinks {
        /// The row's line.
        line: usize,
        /// How many links it covers.
        links: usize,
        /// The row's links, as one would quote them.
        example: Vec<String>,
    },
}

/// How far (in lines) a citation's `line` may be from where its quote stands.
pub const LINE_SLACK: usize = 3;

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = |v: &[usize]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            ReportError::Note(e) => e.fmt(f),
            ReportError::Quote { note, problem, .. } => match problem {
                QuoteProblem::NotInNote => write!(f, "the quote is not in {note} (a quote must be verbatim LaTeX of the note; whitespace is ignored)"),
                QuoteProblem::NotInOneEquation => write!(f, "the quote is not inside one equation of {note}: it matches no display row and does not lie within one inline math span `$…$` (quote the LaTeX of one equation, not prose or text across an equation's end)"),
                QuoteProblem::Ambiguous { lines: l, said: None } => write!(f, "the quote matches {} equations of {note}, at lines {}: give `line` (one of them) or lengthen the quote", l.len(), lines(l)),
                QuoteProblem::Ambiguous { lines: l, said: Some(y) } => write!(f, "the quote matches {} equations of {note}, at lines {}, and `line = {y}` does not pick exactly one: give the line of one of them or lengthen the quote", l.len(), lines(l)),
                QuoteProblem::FarFromHint { found, said } => write!(f, "quote found at line {found}, cite says line {said} (in {note}; `line` must be within {LINE_SLACK} lines of the equation)"),
                QuoteProblem::SeveralPlaces { line, links, example } => {
                    let e: Vec<String> = links.iter().filter_map(|k| example.get(k - 1).map(|t| format!("link {k}: `{}`", flat(t, 60)))).collect();
                    write!(f, "the quote stands in {} links of the row at line {line} of {note} ({}); lengthen it so that it stands in one", links.len(), e.join(" and "))
                }
                QuoteProblem::SeveralLinks { line, links, example } => {
                    let e: Vec<String> = example.iter().enumerate().map(|(k, t)| format!("link {}: `{}`", k + 1, flat(t, 60))).collect();
                    write!(f, "the quote covers {links} `=` links of the row at line {line} of {note}; quote one link of the row, e.g. {}", e.join(" or "))
                }
            },
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
    let inline = note::inline_spans(text);
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
        let error = |problem| ReportError::Quote {
            file: file.to_string(),
            at: cite.at,
            note: cite.note.clone(),
            problem,
        };
        // The distance from the citation's `line` to an equation's lines (0 inside them).
        let off = |first: usize, last: usize, said: usize| {
            if said < first {
                first - said
            } else {
                said.saturating_sub(last)
            }
        };
        // A quote across rows is placed by its first row.
        let first = cite.quote.split("\\\\").next().unwrap_or_default();
        // The display rows it stands in, one entry per row (its first link's).
        let candidates: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                !row.inline
                    && row.link.unwrap_or(1) == 1
                    && note::contains(&row.equation.latex, first)
            })
            .map(|(i, _)| i)
            .collect();
        let span = |i: usize| {
            let e = &rows[i].equation;
            (e.line, note::last_line(e))
        };
        let chosen = match (candidates.as_slice(), cite.line) {
            ([], _) => None,
            ([i], None) => Some(*i),
            ([i], Some(said)) => {
                let (a, b) = span(*i);
                if off(a, b, said) > LINE_SLACK {
                    return Err(error(QuoteProblem::FarFromHint { found: a, said }));
                }
                Some(*i)
            }
            (many, said) => {
                let at: Vec<usize> = many
                    .iter()
                    .copied()
                    .filter(|i| {
                        said.is_some_and(|y| {
                            let (a, b) = span(*i);
                            off(a, b, y) == 0
                        })
                    })
                    .collect();
                match at.as_slice() {
                    [i] => Some(*i),
                    _ => {
                        return Err(error(QuoteProblem::Ambiguous {
                            lines: many.iter().map(|i| rows[*i].equation.line).collect(),
                            said,
                        }))
                    }
                }
            }
        };
        if let Some(i) = chosen {
            let row = &rows[i];
            let latex = &row.equation.latex;
            let link = if row.equation.links >= 2 {
                let inside = note::relations_in(latex, first).unwrap_or(0);
                if inside >= 2 {
                    return Err(error(QuoteProblem::SeveralLinks {
                        line: row.equation.line,
                        links: inside.max(2),
                        example: note::link_texts(latex),
                    }));
                }
                let links = note::links_of(latex, first);
                if links.len() >= 2 {
                    return Err(error(QuoteProblem::SeveralPlaces {
                        line: row.equation.line,
                        links,
                        example: note::link_texts(latex),
                    }));
                }
                note::link_of(latex, first)
            } else {
                None
            };
            // The entry of that link (rows of one equation are consecutive).
            let j = rows
                .iter()
                .position(|r| r.equation == row.equation && r.link == link)
                .unwrap_or(i);
            return Ok(Place::Row(j));
        }
        let q: String = cite.quote.chars().filter(|c| !c.is_whitespace()).collect();
        if q.is_empty() || !squashed.contains(&q) {
            return Err(error(QuoteProblem::NotInNote));
        }
        // Not a display row: accepted only inside one inline math span.
        let spans: Vec<usize> = inline
            .iter()
            .filter(|(_, body)| note::contains(body, &cite.quote))
            .map(|(line, _)| *line)
            .collect();
        match (spans.as_slice(), cite.line) {
            ([], _) => Err(error(QuoteProblem::NotInOneEquation)),
            ([line], None) => Ok(Place::Inline(*line)),
            ([line], Some(said)) if off(*line, *line, said) > LINE_SLACK => {
                Err(error(QuoteProblem::FarFromHint { found: *line, said }))
            }
            ([line], Some(_)) => Ok(Place::Inline(*line)),
            (many, said) => {
                let at: Vec<usize> = many.iter().copied().filter(|l| Some(*l) == said).collect();
                match at.as_slice() {
                    [line] => Ok(Place::Inline(*line)),
                    _ => Err(error(QuoteProblem::Ambiguous {
                        lines: many.to_vec(),
                        said,
                    })),
                }
            }
        }
    };
    let at_place = |p: Place, cite: &crate::derivation::file::Cite, rows: &mut Vec<Row>| -> usize {
        match p {
            Place::Row(j) => j,
            Place::Inline(line) => {
                if let Some(j) = rows.iter().position(|r| {
                    r.inline && r.equation.line == line && r.equation.latex == cite.quote
                }) {
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
                .push(Citing::new(d, result, &link, cite.kind));
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
            let checks: Vec<String> = row
                .citing
                .iter()
                .map(|c| format!("{} {}", c.link, flat(&c.checked, 64)))
                .collect();
            let _ = writeln!(o, "               checks {}", checks.join("; "));
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
        let by: Vec<String> = citing(row, "`")
            .into_iter()
            .zip(&row.citing)
            .map(|(b, c)| format!("{b}, checks `{}`", cell(&flat(&c.checked, 200))))
            .collect();
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
            "checks": c.checked,
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
/// "claim", "verdict", "checks" (the link's two sides as the derivation states them),
/// "under"}]}]}]}`.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The report on `note` (named `n.txt`) from one derivation whose steps are `steps`
    /// (`[[claim]]` blocks citing `n.txt`).
    fn run(note: &str, claims: &str) -> Result<NoteReport, ReportError> {
        let src = format!(
            "id = \"t\"\ntitle = \"t\"\nnote = \"n.txt\"\n\n[symbols]\na = \"real\"\nb = \"real\"\n\n{claims}"
        );
        let d = crate::derivation::load("t.toml", &src).expect("the test derivation loads");
        let s = summary::summarise(&crate::derivation::check(&d));
        report("n.txt", note.as_bytes(), &[(&d, &s)])
    }

    fn claim(quote: &str, line: Option<usize>, start: &str, expr: &str) -> String {
        let line = line.map_or(String::new(), |l| format!("line = {l}, "));
        format!("[[claim]]\nstart = \"{start}\"\n\n[[claim.step]]\ncite = {{ {line}quote = '''{quote}''' }}\nexpr = \"{expr}\"\n\n")
    }

    fn problem(r: Result<NoteReport, ReportError>) -> QuoteProblem {
        match r {
            Err(ReportError::Quote { problem, at, .. }) => {
                assert!(at.0 > 0 && at.1 > 0, "the error has a position");
                problem
            }
            Err(e) => panic!("another error: {e}"),
            Ok(r) => panic!("no error: {}", text(&r)),
        }
    }

    const NOTE: &str = "First equation, with $a + b$ inline.\n$$\n(a+b)^2 = a^2 + 2ab + b^2\n$$\n\nInline $x = y$.\n";

    #[test]
    fn a_quote_outside_every_equation_is_an_error() {
        // Prose.
        let r = run(NOTE, &claim("First equation", None, "a", "a"));
        assert_eq!(problem(r), QuoteProblem::NotInOneEquation);
        // Across an equation's end.
        let r = run(NOTE, &claim("b^2\n$$\n\nInline", None, "a", "a"));
        assert_eq!(problem(r), QuoteProblem::NotInOneEquation);
        // Inside one inline span: accepted, at its line.
        let r = run(NOTE, &claim("x = y", Some(6), "a + b", "b + a")).unwrap();
        let row = r.rows.iter().find(|r| r.inline).expect("an inline row");
        assert_eq!((row.equation.line, row.verdict), (6, RowVerdict::Holds));
        let e = run(NOTE, &claim("First equation", None, "a", "a")).unwrap_err();
        assert!(e.to_string().contains("not inside one equation"), "{e}");
    }

    const TWICE: &str = "$$\na + b = b + a\n$$\ntext\n$$\nc = a + b = b + a\n$$\n";

    #[test]
    fn a_quote_in_several_rows_needs_a_line_that_picks_one() {
        let r = run(TWICE, &claim("a + b", None, "a + b", "b + a"));
        assert_eq!(
            problem(r),
            QuoteProblem::Ambiguous {
                lines: vec![2, 6],
                said: None
            }
        );
        let r = run(TWICE, &claim("a + b", Some(4), "a + b", "b + a"));
        assert!(matches!(problem(r), QuoteProblem::Ambiguous { .. }));
        let e = run(TWICE, &claim("a + b", None, "a + b", "b + a")).unwrap_err();
        assert!(e.to_string().contains("lines 2, 6"), "{e}");
        // The line picks the second row (its second link: the quote ends there).
        let r = run(TWICE, &claim("a + b = b + a", Some(6), "a + b", "b + a")).unwrap();
        let cited: Vec<(usize, Option<usize>)> = r
            .rows
            .iter()
            .filter(|r| !r.citing.is_empty())
            .map(|r| (r.equation.line, r.link))
            .collect();
        assert_eq!(cited, [(6, Some(2))]);
    }

    #[test]
    fn a_line_far_from_the_only_match_is_an_error() {
        let note = format!("{}$$\nx = 1\n$$\n", "text\n".repeat(10));
        let r = run(&note, &claim("x = 1", Some(2), "a", "a"));
        assert_eq!(problem(r), QuoteProblem::FarFromHint { found: 12, said: 2 });
        let e = run(&note, &claim("x = 1", Some(2), "a", "a")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("quote found at line 12, cite says line 2"),
            "{e}"
        );
        assert!(run(&note, &claim("x = 1", Some(10), "a", "a")).is_ok());
    }

    const CHAIN: &str = "$$\n(a+b)^2 = a^2 + b^2 = a^2 + b^2 + 0\n$$\n";

    #[test]
    fn a_quote_over_several_links_is_an_error() {
        let whole = claim(
            "(a+b)^2 = a^2 + b^2 = a^2 + b^2 + 0",
            None,
            "(a+b)^2",
            "a^2 + b^2",
        );
        let r = run(CHAIN, &whole);
        assert!(matches!(
            problem(r),
            QuoteProblem::SeveralLinks { links: 2, .. }
        ));
        let e = run(CHAIN, &whole).unwrap_err().to_string();
        assert!(
            e.contains("quote one link of the row, e.g. link 1: `(a+b)^2 = a^2 + b^2`"),
            "{e}"
        );
        // One link quoted: link 1 fails, link 2 is not cited.
        let r = run(
            CHAIN,
            &claim("(a+b)^2 = a^2 + b^2", None, "(a+b)^2", "a^2 + b^2"),
        )
        .unwrap();
        let v: Vec<(Option<usize>, RowVerdict)> =
            r.rows.iter().map(|r| (r.link, r.verdict)).collect();
        assert_eq!(
            v,
            [
                (Some(1), RowVerdict::Fails),
                (Some(2), RowVerdict::NotEncoded)
            ]
        );
    }

    #[test]
    fn a_quote_standing_in_two_links_of_a_row_is_an_error() {
        // `t + t =` stands at link 1 (true) and link 3 (false): taking the first placed the
        // refutation of t + t = 3t on t + t = 2t (attack 47).
        let row = "$$\na + a = 2 a = a + a = 3 a\n$$\n";
        let r = run(row, &claim("a + a =", None, "a + a", "3*a"));
        match problem(r) {
            QuoteProblem::SeveralPlaces { line: 2, links, .. } => assert_eq!(links, [1, 3]),
            p => panic!("{p:?}"),
        }
        let e = run(row, &claim("a + a =", None, "a + a", "3*a"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("stands in 2 links of the row at line 2"), "{e}");
        // Lengthened, it names one link: the third fails, the first is not cited.
        let r = run(row, &claim("a + a = 3 a", None, "a + a", "3*a")).unwrap();
        let v: Vec<(Option<usize>, RowVerdict)> =
            r.rows.iter().map(|r| (r.link, r.verdict)).collect();
        assert_eq!(v[0], (Some(1), RowVerdict::NotEncoded));
        assert_eq!(v[2], (Some(3), RowVerdict::Fails));
    }

    #[test]
    fn every_format_shows_what_the_link_checks() {
        let r = run(
            CHAIN,
            &claim("= a^2 + b^2 + 0", None, "a^2 + b^2", "a^2 + b^2 + 0"),
        )
        .unwrap();
        let t = text(&r);
        assert!(t.contains("checks 1.1 a^2 + b^2 = a^2 + b^2 + 0"), "{t}");
        let m = markdown(&r);
        assert!(m.contains("checks `a^2 + b^2 = a^2 + b^2 + 0`"), "{m}");
        let j = json(std::slice::from_ref(&r));
        assert_eq!(
            j["notes"][0]["equations"][1]["derivations"][0]["checks"],
            "a^2 + b^2 = a^2 + b^2 + 0"
        );
        let h = html::html(std::slice::from_ref(&r));
        assert!(
            h.contains("checks <code class=\"checks\">a^2 + b^2 = a^2 + b^2 + 0</code>"),
            "{h}"
        );
        // Long expressions are cut in text, like the LaTeX.
        let long = format!("a{}", " + a".repeat(40));
        let r = run(CHAIN, &claim("= a^2 + b^2 + 0", None, &long, &long)).unwrap();
        let t = text(&r);
        let checks = t.lines().find(|l| l.contains("checks")).unwrap_or_default();
        assert!(checks.ends_with('…') && checks.chars().count() < 100, "{t}");
    }
}
