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

/// `text` with its LaTeX comments (an unescaped `%` to the end of its line) blanked to spaces of
/// the same length: a comment is not rendered, so `x + x = 2x % = 3x` holds one link, and a
/// quote from the comment is not in the row.
fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_comment = false;
    let mut backslashes = 0usize;
    for c in text.chars() {
        if c == '\n' {
            in_comment = false;
        } else if !in_comment && c == '%' && backslashes % 2 == 0 {
            in_comment = true;
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        if in_comment {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
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
    let body = &blank_comments(&text[start..end]);
    let mut depth = 0i32;
    let mut row_start = 0;
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut cuts = vec![];
    // Environments other than the row-splitting ones (`bmatrix`, `cases`, …) keep their `\\\\`.
    let mut inner = 0i32;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            for (marker, step) in [("\\begin{", 1), ("\\end{", -1)] {
                if body[i..].starts_with(marker) {
                    let name: String = body[i + marker.len()..]
                        .chars()
                        .take_while(|c| *c != '}')
                        .collect();
                    if !ROW_ENVIRONMENTS.contains(&name.as_str()) {
                        inner += step;
                    }
                }
            }
        }
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b'\\' if i + 1 < bytes.len() && bytes[i + 1] == b'\\' && depth <= 0 && inner <= 0 => {
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

/// The environments whose rows are the note's rows (split at `\\\\`).
const ROW_ENVIRONMENTS: [&str; 9] = [
    "aligned",
    "align*",
    "align",
    "split",
    "gathered",
    "gather",
    "gather*",
    "equation",
    "equation*",
];

/// The row with `\begin{aligned}`-like markers replaced by spaces (offsets kept).
fn blank_environments(raw: &str) -> String {
    let mut s = raw.to_string();
    for env in ROW_ENVIRONMENTS {
        for marker in [format!("\\begin{{{env}}}"), format!("\\end{{{env}}}")] {
            s = s.replace(&marker, &" ".repeat(marker.len()));
        }
    }
    s
}

/// The number of top-level relations of a row, and its kind.
fn relations(latex: &str) -> (usize, Kind) {
    let rels = relation_offsets(latex);
    let has = |k: Rel| rels.iter().any(|(_, r)| *r == k);
    let kind = if has(Rel::Approx) {
        Kind::Approximation
    } else if has(Rel::Ineq) {
        Kind::Inequality
    } else if has(Rel::Eq) {
        Kind::Equation
    } else {
        Kind::Expression
    };
    (rels.len(), kind)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Eq,
    Approx,
    Ineq,
}

/// The byte offsets (end of the sign) of the row's top-level relations, with their kind.
fn relation_offsets(latex: &str) -> Vec<(usize, Rel)> {
    let mut depth = 0i32;
    let mut out = vec![];
    let b = latex.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b'=' if depth <= 0 => out.push((i + 1, Rel::Eq)),
            b'<' | b'>' if depth <= 0 => out.push((i + 1, Rel::Ineq)),
            b'\\' if depth <= 0 => {
                let word: String = latex[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                let end = i + 1 + word.len();
                match word.as_str() {
                    "approx" | "simeq" | "sim" | "to" | "rightarrow" => {
                        out.push((end, Rel::Approx))
                    }
                    "le" | "leq" | "ge" | "geq" | "lesssim" | "gtrsim" | "neq" => {
                        out.push((end, Rel::Ineq))
                    }
                    "equiv" | "coloneqq" => out.push((end, Rel::Eq)),
                    _ => {}
                }
                i += 1 + word.len().max(1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Which `=` link of a row a quote stands for: the number of top-level relations before the
/// quote's end (at least 1), or `None` when the quote is not in the row (whitespace ignored).
pub fn link_of(latex: &str, quote: &str) -> Option<usize> {
    let (_, end) = find_span(latex, quote)?;
    let before = relation_offsets(latex)
        .iter()
        .filter(|(at, _)| *at <= end)
        .count();
    Some(before.max(1))
}

/// The links of the row that the quote's occurrences stand for, in order, each once: more than
/// one means the quote does not say which link it cites (`t + t =` in `t + t = 2t = t + t = 3t`).
pub fn links_of(latex: &str, quote: &str) -> Vec<usize> {
    let rels = relation_offsets(latex);
    let mut out: Vec<usize> = find_spans(latex, quote)
        .into_iter()
        .map(|(_, end)| rels.iter().filter(|(at, _)| *at <= end).count().max(1))
        .collect();
    out.dedup();
    out
}

/// How many top-level relations of the row stand inside the quote (its first occurrence,
/// whitespace ignored): a quote holding two or more covers several links. `None` when the quote
/// is not in the row.
pub fn relations_in(latex: &str, quote: &str) -> Option<usize> {
    let (start, end) = find_span(latex, quote)?;
    Some(
        relation_offsets(latex)
            .iter()
            .filter(|(at, _)| *at > start && *at <= end)
            .count(),
    )
}

/// The row's links as a reader would quote them: the first from the row's start through its
/// second side, each later one from its relation sign (`= c`).
pub fn link_texts(latex: &str) -> Vec<String> {
    let rels = relation_offsets(latex);
    let mut out = vec![];
    for k in 0..rels.len() {
        let start = if k == 0 {
            0
        } else {
            sign_start(latex, rels[k].0)
        };
        let end = rels
            .get(k + 1)
            .map_or(latex.len(), |(at, _)| sign_start(latex, *at));
        out.push(latex[start..end].trim().to_string());
    }
    out
}

/// Where the relation sign that ends at `end` begins (`=`, `<`, `\le`, …).
fn sign_start(latex: &str, end: usize) -> usize {
    let head = &latex[..end];
    let word = head
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if word > 0 && head[..end - word].ends_with('\\') {
        end - word - 1
    } else {
        end - 1
    }
}

/// The last line of a row that starts at `line`: rows may span lines.
pub fn last_line(e: &Equation) -> usize {
    e.line + e.latex.matches('\n').count()
}

/// The note's inline math spans (`$…$` and `\(…\)`, display `$$…$$` left out): the line
/// (from 1) where each starts, and its content.
pub fn inline_spans(text: &str) -> Vec<(usize, String)> {
    let line_of = |offset: usize| 1 + text[..offset].matches('\n').count();
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if text[i..].starts_with("$$") {
            // A display block: skip to its end.
            i = text[i + 2..].find("$$").map_or(b.len(), |j| i + 2 + j + 2);
            continue;
        }
        if text[i..].starts_with("\\$") {
            i += 2;
            continue;
        }
        let close = if b[i] == b'$' {
            Some(("$", 1))
        } else if text[i..].starts_with("\\(") {
            Some(("\\)", 2))
        } else {
            None
        };
        if let Some((close, open)) = close {
            let body = i + open;
            let mut j = body;
            let end = loop {
                match text[j..].find(close) {
                    Some(k) if close == "$" && text[..j + k].ends_with('\\') => j += k + 1,
                    Some(k) if close == "$" && text[j + k..].starts_with("$$") => break None,
                    Some(k) => break Some(j + k),
                    None => break None,
                }
            };
            if let Some(end) = end {
                out.push((line_of(i), text[body..end].to_string()));
                i = end + close.len();
                continue;
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// The byte span in `latex` of the first occurrence of `quote` (whitespace ignored in both).
fn find_span(latex: &str, quote: &str) -> Option<(usize, usize)> {
    find_spans(latex, quote).into_iter().next()
}

/// Every place the quote stands in the row (whitespace ignored), as byte spans, first first.
fn find_spans(latex: &str, quote: &str) -> Vec<(usize, usize)> {
    let q: Vec<char> = quote.chars().filter(|c| !c.is_whitespace()).collect();
    if q.is_empty() {
        return vec![];
    }
    // The non-space characters of the row with their byte offsets.
    let chars: Vec<(usize, char)> = latex
        .char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    (0..chars.len())
        .filter(|&s| {
            s + q.len() <= chars.len()
                && chars[s..s + q.len()]
                    .iter()
                    .map(|x| x.1)
                    .eq(q.iter().copied())
        })
        .map(|s| {
            let (at, c) = chars[s + q.len() - 1];
            (chars[s].0, at + c.len_utf8())
        })
        .collect()
}

/// Does the row define its left side (`:=`, `\equiv`, `\coloneqq`)?
pub fn is_definition(latex: &str) -> bool {
    latex.contains(":=") || latex.contains("\\coloneqq") || latex.contains("\\equiv")
}

/// Does the row begin with its relation (`&= …`, `= …`): a link from the row before?
pub fn is_continuation(latex: &str) -> bool {
    let t = latex.trim_start().trim_start_matches('&').trim_start();
    t.starts_with('=')
        || t.starts_with("\\approx")
        || t.starts_with("\\le")
        || t.starts_with("\\ge")
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
    fn comments_are_not_rendered() {
        // `% = 3x` is a comment: one link, and a quote from it is not in the row (attack 53:
        // the commented link was refuted on a true row). `\%` is a percent sign, not one.
        let eqs = equations(b"$$\nx + x = 2x % = 3x\n$$\n$$a = 5\\% \\\\ b = c$$").unwrap();
        assert_eq!((eqs[0].links, eqs[0].latex.as_str()), (1, "x + x = 2x"));
        assert_eq!(link_of(&eqs[0].latex, "= 3x"), None);
        assert_eq!(eqs[1].latex, "a = 5\\%");
        assert_eq!(eqs[2].latex, "b = c");
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
    fn matrices_and_cases_keep_their_rows() {
        let eqs =
            equations(b"$$\\delta_{jk}=\\begin{cases}1 & j=k \\\\ 0 & j\\neq k\\end{cases}$$")
                .unwrap();
        assert_eq!(eqs.len(), 1);
        let eqs = equations(b"$$\\begin{aligned} a &= \\begin{bmatrix}1 \\\\ 2\\end{bmatrix} \\\\ &= b \\end{aligned}$$").unwrap();
        assert_eq!(eqs.len(), 2);
    }

    #[test]
    fn a_quote_names_the_link_it_ends_in() {
        let row = "f = (a + b) c = ac + bc";
        assert_eq!(link_of(row, "f = (a+b)c"), Some(1));
        assert_eq!(link_of(row, "= ac + bc"), Some(2));
        assert_eq!(link_of(row, "(a + b) c"), Some(1));
        assert_eq!(link_of(row, "xyz"), None);
        assert_eq!(link_of("&= c", "c"), Some(1));
    }

    #[test]
    fn quotes_match_without_whitespace() {
        assert!(contains("a &= \\frac{1}{2}", "&=\\frac{1}{2}"));
        assert!(!contains("a = b", ""));
    }
}
