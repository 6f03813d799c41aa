//! Errors in derivation files: file, line, column and the offending text underlined.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};
use std::ops::Range;

/// A problem with a derivation file (or command-line input), pointing at its text.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct InputError {
    /// What is wrong.
    pub message: String,
    /// The file's name and text.
    #[source_code]
    pub src: NamedSource<String>,
    /// Where.
    #[label("{label}")]
    pub span: SourceSpan,
    /// The label under the underlined text.
    pub label: String,
    /// A hint, if one helps.
    #[help]
    pub help: Option<String>,
    /// 1-based line and column of the span's start.
    pub line_col: (usize, usize),
    /// The file's name.
    pub file: String,
}

impl InputError {
    /// An error at `span` of the text `src` of file `file`.
    pub fn new(
        file: &str,
        src: &str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let start = span.start.min(src.len());
        let end = span.end.clamp(start, src.len());
        let before = &src[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        InputError {
            message: message.into(),
            src: NamedSource::new(file, src.to_string()),
            span: (start, end - start).into(),
            label: label.into(),
            help: None,
            line_col: (line, col),
            file: file.to_string(),
        }
    }

    /// Add a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The error as plain text: a `file:line:col: message` line, then the annotated source.
    pub fn render(&self) -> String {
        let mut out = format!(
            "error: {}:{}:{}: {}\n",
            self.file, self.line_col.0, self.line_col.1, self.message
        );
        let handler =
            GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
        let mut body = String::new();
        if handler.render_report(&mut body, self).is_ok() {
            out.push_str(&body);
        }
        out
    }
}
