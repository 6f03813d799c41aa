//! Reading a note: its display equations (`$$…$$` blocks), each row of an `aligned`/`align`
//! block, with its line number. The equations are found by reading the note, not listed by hand,
//! so a report's coverage is computed.

use std::fmt;

/// One row of a display equation.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    /// The note's line (from 1) where the row starts.
    pub line: usize,
    /// The row's LaTeX, trimmed (alignment `&` kept as written).
    pub latex: String,
    /// Its `=`, `≈`, `≤`, `≥` links: how many relations the row holds at its top level.
    pub links: usize,
    /// What the row says, from its form.
    pub kind: Kind,
}

/// What a row says, read from its relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Equalities.
    Equation,
    /// `\approx` somewhere at the top level.
    Approximation,
    /// `\le`, `\ge`, `<`, `>` at the top level.
    Inequality,
    /// No relation: an expression or notation.
    Expression,
}

impl Kind {
    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Equation => "equation",
            Kind::Approximation => "approximation",
            Kind::Inequality => "inequality",
            Kind::Expression => "expression",
        }
    }
}

/// Why a note cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum NoteError {
    /// The bytes are not UTF-8 (line of the first invalid byte).
    NotUtf8 {
        /// The line (from 1).
        line: usize,
    },
    /// A `$$` opens a display equation that never closes.
    Unterminated {
        /// The line (from 1) of the opening `$$`.
        line: usize,
    },
    /// No display equation at all.
    NoEquations,
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::NotUtf8 { .. } => f.write_str("the note is not UTF-8 text"),
            NoteError::Unterminated { .. } => {
                f.write_str("`$$` opens a display equation that is never closed")
            }
            NoteError::NoEquations => f.write_str("the note has no display equation (`$$…$$`)"),
        }
    }
}

/// The display equations of a note, row by row.
pub fn equations(bytes: &[u8]) -> Result<Vec<Equation>, NoteError> {
    let text = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
    })?;
    let line_of = |offset: usize| 1 + text[..offset].matches('\n').count();
    let mut out = vec![];
    let mut rest = 0;
    while let Some(open) = text[rest..].find("$$").map(|i| rest + i) {
        let body_start = open + 2;
        let Some(close) = text[body_start..].find("$$").map(|i| body_start + i) else {
            return Err(NoteError::Unterminated {
                line: line_of(open),
            });
        };
        rows(text, body_start, close, &line_of, &mut out);
        rest = close + 2;
    }
    if out.is_empty() {
        return Err(NoteError::NoEquations);
    }
    Ok(out)
}

/// The rows of the block `text[start..end]`: split at top-level `\\`, environments and empty
/// rows left out.
fn rows(
    text: &str,
    start: usize,
    end: usize,
    line_of: &dyn Fn(usize) -> usize,
    out: &mut Vec<Equation>,
) {
    let body = &text[start..end];
    let mut depth = 0i32;
    let mut row_start = 0;
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut cuts = vec![];
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b'\\' if i + 1 < bytes.len() && bytes[i + 1] == b'\\' && depth <= 0 => {
                cuts.push((row_start, i));
                i += 2;
                row_start = i;
                continue;
            }
            b'\\' => {
                // Skip the escaped character (e.g. `\{`), so it does not count as a brace.
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    cuts.push((row_start, bytes.len()));
    for (a, b) in cuts {
        let blanked = blank_environments(&body[a..b]);
        let latex = blanked.trim().to_string();
        if latex.is_empty() {
            continue;
        }
        // The row's line: where its first character (outside `\begin{…}`) stands.
        let lead = blanked.len() - blanked.trim_start().len();
        let line = line_of(start + a + lead);
        let (links, kind) = relations(&latex);
        out.push(Equation {
            line,
            latex,
            links,
            kind,
        });
    }
}

/// The row with `\begin{aligned}`-like markers replaced by spaces (offsets kept).
fn blank_environments(raw: &str) -> String {
    let mut s = raw.to_string();
    for env in [
        "aligned", "align*", "align", "split", "gathered", "equation",
    ] {
        for marker in [format!("\\begin{{{env}}}"), format!("\\end{{{env}}}")] {
            s = s.replace(&marker, &" ".repeat(marker.len()));
        }
    }
    s
}

/// The number of top-level relations of a row, and its kind.
fn relations(latex: &str) -> (usize, Kind) {
    let mut depth = 0i32;
    let (mut eq, mut approx, mut ineq) = (0, 0, 0);
    let b = latex.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b'=' if depth <= 0 => eq += 1,
            b'<' | b'>' if depth <= 0 => ineq += 1,
            b'\\' if depth <= 0 => {
                let word: String = latex[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                match word.as_str() {
                    "approx" | "simeq" | "sim" | "to" | "rightarrow" => approx += 1,
                    "le" | "leq" | "ge" | "geq" | "lesssim" | "gtrsim" => ineq += 1,
                    "neq" => ineq += 1,
                    _ => {}
                }
                i += 1 + word.len().max(1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let kind = if approx > 0 {
        Kind::Approximation
    } else if ineq > 0 {
        Kind::Inequality
    } else if eq > 0 {
        Kind::Equation
    } else {
        Kind::Expression
    };
    (eq + approx + ineq, kind)
}

/// Does `quote` stand in `latex` (whitespace ignored)?
pub fn contains(latex: &str, quote: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let q = squash(quote);
    !q.is_empty() && squash(latex).contains(&q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_rows_and_lines() {
        let note = "intro\n$$\n\\begin{aligned}\na &= b \\\\\n&= c\n\\end{aligned}\n$$\ntext $$x \\approx y$$ more\n";
        let eqs = equations(note.as_bytes()).unwrap();
        assert_eq!(eqs.len(), 3);
        assert_eq!((eqs[0].line, eqs[0].latex.as_str()), (4, "a &= b"));
        assert_eq!((eqs[1].line, eqs[1].latex.as_str()), (5, "&= c"));
        assert_eq!(eqs[2].line, 8);
        assert_eq!(eqs[2].kind, Kind::Approximation);
        assert_eq!(eqs[0].kind, Kind::Equation);
    }

    #[test]
    fn braces_hide_relations_and_row_breaks() {
        let eqs = equations(b"$$f_{a=1} \\le \\frac{1}{2}$$").unwrap();
        assert_eq!(eqs.len(), 1);
        assert_eq!((eqs[0].links, eqs[0].kind), (1, Kind::Inequality));
    }

    #[test]
    fn bad_notes_are_errors_with_lines() {
        assert_eq!(
            equations(b"a\nb $$x = 1\n"),
            Err(NoteError::Unterminated { line: 2 })
        );
        assert_eq!(equations(b"no math here"), Err(NoteError::NoEquations));
        assert_eq!(
            equations(b"ok\n\xff\xfe"),
            Err(NoteError::NotUtf8 { line: 2 })
        );
    }

    #[test]
    fn quotes_match_without_whitespace() {
        assert!(contains("a &= \\frac{1}{2}", "&=\\frac{1}{2}"));
        assert!(!contains("a = b", ""));
    }
}
