//! The report as one self-contained HTML page: each equation rendered as MathML (by
//! `pulldown-latex`; no script, stylesheet or font is fetched), a colour-coded verdict badge, and
//! the proof chain, counterexample and diagnosis in an expandable section; a limit link's width
//! study is drawn as a log–log plot of the discrepancy against the width (SVG).

use super::{cex_text, flat, NoteReport, Row, RowVerdict, ORDER};
use pulldown_latex::{config::DisplayMode, push_mathml, Parser, RenderConfig, Storage};
use std::fmt::Write as _;

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The notes' LaTeX as the renderer reads it: MathJax-only commands replaced by their LaTeX
/// equivalents, and a row with alignment `&` wrapped in an `aligned` block.
fn normalise(latex: &str) -> String {
    let mut s = latex
        .replace("\\bold{", "\\mathbf{")
        .replace("\\bm{", "\\boldsymbol{");
    if has_top_level_ampersand(&s) {
        s = format!("\\begin{{aligned}}{s}\\end{{aligned}}");
    }
    s
}

/// Does the row align with `&` outside any environment of its own (a row of an `aligned`
/// block, cut out of it)?
fn has_top_level_ampersand(s: &str) -> bool {
    let mut depth = 0i32;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("\\begin{") {
            depth += 1;
        } else if rest.starts_with("\\end{") {
            depth -= 1;
        } else if rest.starts_with("\\&") {
            i += 2;
            continue;
        } else if rest.starts_with('&') && depth <= 0 {
            return true;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// An equation as MathML, or `None` when the renderer cannot read it.
pub fn mathml(latex: &str) -> Option<String> {
    let src = normalise(latex);
    let storage = Storage::new();
    let parser = Parser::new(&src, &storage);
    let mut out = String::new();
    // The renderer copies the annotation as it is: a note's `\text{<img …>}` would be markup.
    let annotation = esc(latex);
    let config = RenderConfig {
        display_mode: DisplayMode::Block,
        annotation: Some(&annotation),
        ..RenderConfig::default()
    };
    push_mathml(&mut out, parser, config).ok()?;
    (!out.contains("<merror")).then_some(out)
}

fn class(v: RowVerdict) -> &'static str {
    v.name()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em}
table.counts td,table.counts th{padding:.2em .8em;text-align:left}
details.eq{border-left:.4em solid #bbb;margin:.6em 0;padding:.3em .8em;background:#fafafa}
details.eq>summary{cursor:pointer;list-style:none;display:flex;gap:1em;align-items:center}
.badge{display:inline-block;min-width:11em;padding:.1em .5em;border-radius:.3em;font-size:.85em;font-weight:600;color:#fff}
.holds{border-color:#2e7d32}.holds .badge,.badge.holds{background:#2e7d32}
.fails{border-color:#c62828}.fails .badge,.badge.fails{background:#c62828}
.holds-with-convention{border-color:#f9a825}.holds-with-convention .badge,.badge.holds-with-convention{background:#b58900}
.not-checkable{border-color:#555}.not-checkable .badge,.badge.not-checkable{background:#555}
.undecided{border-color:#6a1b9a}.undecided .badge,.badge.undecided{background:#6a1b9a}
.not-encoded{border-color:#999}.not-encoded .badge,.badge.not-encoded{background:#999}
.line{color:#666;font-size:.85em;min-width:5em}
.math{overflow-x:auto;overflow-y:hidden}
.why,.links{font-size:.9em;margin:.4em 0 .2em 0}
code{font-size:.9em}
svg.plot{background:#fff;border:1px solid #ddd;margin:.4em 0}";

/// The page for the reports.
pub fn html(reports: &[NoteReport]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>derive report</title><style>{STYLE}</style></head><body>\n<h1>derive report</h1>\n"
    );
    for r in reports {
        let _ = writeln!(o, "<h2>{}</h2>", esc(&r.note));
        let _ = writeln!(
            o,
            "<table class=\"counts\"><tr><th>verdict</th><th>equations</th></tr>"
        );
        for v in ORDER {
            let _ = writeln!(
                o,
                "<tr><td><span class=\"badge {}\">{}</span></td><td>{}</td></tr>",
                class(v),
                v.name(),
                r.count(v)
            );
        }
        let _ = writeln!(
            o,
            "<tr><td>total</td><td>{}</td></tr></table>",
            r.rows.len()
        );
        for row in &r.rows {
            equation(&mut o, row);
        }
    }
    o.push_str("</body></html>\n");
    o
}

fn equation(o: &mut String, row: &Row) {
    let v = row.verdict;
    let place = match (row.link, row.inline) {
        (Some(k), _) => format!("line {} link {k}", row.equation.line),
        (None, true) => format!("line {} (inline)", row.equation.line),
        (None, false) => format!("line {}", row.equation.line),
    };
    let math = match mathml(&row.equation.latex) {
        Some(m) => m,
        // Never the LaTeX source as if it were rendered: say that it could not be rendered.
        None => format!(
            "<span class=\"unrendered\" title=\"{}\">(this equation's LaTeX could not be rendered)</span>",
            esc(&row.equation.latex)
        ),
    };
    let minor = if row.minor() { " (minor)" } else { "" };
    let _ = write!(
        o,
        "<details class=\"eq {}\" data-verdict=\"{}\"><summary><span class=\"badge\">{}{minor}</span><span class=\"line\">{}</span><div class=\"math\">{math}</div></summary>",
        class(v),
        v.name(),
        v.name(),
        esc(&place)
    );
    if let Some(why) = row.reason() {
        let _ = write!(o, "<p class=\"why\"><b>why:</b> {}</p>", esc(&why));
    }
    if !row.conventions().is_empty() {
        let _ = write!(
            o,
            "<p class=\"why\"><b>holds under:</b> {}</p>",
            esc(&row.conventions().join(", "))
        );
    }
    if v == RowVerdict::Fails {
        if let Some(c) = row.counterexample() {
            let _ = write!(
                o,
                "<p class=\"why\"><b>counterexample:</b> {}</p>",
                esc(&cex_text(c))
            );
        }
    }
    if !row.citing.is_empty() {
        o.push_str("<ul class=\"links\">");
        for c in &row.citing {
            let under = match &c.convention {
                Some((n, text, uv)) => format!(
                    "; under convention <code>{}</code> ({}): {}",
                    esc(n),
                    esc(text),
                    uv.name().to_lowercase()
                ),
                None => String::new(),
            };
            let rules = if c.rules.is_empty() {
                String::new()
            } else {
                format!(" — proof: {}", esc(&c.rules.join(" → ")))
            };
            let _ = write!(
                o,
                "<li><code>{}</code> link {} ({}): {}{under}{rules}<br>checks <code class=\"checks\">{}</code></li>",
                esc(&c.derivation),
                c.link,
                esc(&c.file),
                c.verdict.name().to_lowercase(),
                esc(&c.checked)
            );
            if let Some(study) = &c.study {
                o.push_str(&plot(study));
            }
        }
        o.push_str("</ul>");
    }
    for u in &row.unchecked {
        let _ = write!(
            o,
            "<p class=\"why\"><code>{}</code>: {}</p>",
            esc(&u.derivation),
            esc(&flat(&u.detail, 400))
        );
    }
    o.push_str("</details>\n");
}

/// A log–log plot of the width study: rms discrepancy against width per configuration.
fn plot(study: &super::StudyPlot) -> String {
    super::plot::svg(study)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_aligned_blocks_and_matrices_render() {
        for latex in [
            "&= \\frac{1}{2} x",
            "a &= \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}",
            "\\bold{x}^\\top \\bold{y}",
            "\\delta_{jk}=\\begin{cases}1 & j=k \\\\ 0 & j\\neq k\\end{cases}",
        ] {
            let m = mathml(latex).unwrap_or_else(|| panic!("not rendered: {latex}"));
            assert!(m.starts_with("<math"), "{m}");
        }
        // A command the renderer does not know is not passed off as rendered.
        assert!(mathml("\\notacommand{x}").is_none());
    }
}
