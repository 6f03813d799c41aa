//! The verdict on a link: what a check concludes and what a file expects, one enum.

use std::fmt;

/// The verdict on one link. Never a bool. A file states the one it expects with the same
/// names (`expect = "refuted"`), except [`Verdict::Unsound`], which no file can expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Verdict {
    /// The e-graph proved it and the numerics agree at enough points.
    Proved,
    /// The e-graph proved it, but too few points could be evaluated: a proof with no numeric
    /// evidence, which a file must expect explicitly (`expect = "unchecked"`).
    Unchecked,
    /// No proof with the cited theories, but the numerics agree at every point.
    Consistent,
    /// A point where the two sides differ beyond the tolerance.
    Refuted,
    /// Neither a proof nor a decision from the numerics.
    Unknown,
    /// Holds as a width goes to infinity, at the expected rate (a width study).
    Limit,
    /// An internal soundness error: the prover proved the link and the numerics contradict it
    /// (or a rule merged two different constants). A bug of `derive`, never expected.
    Unsound,
}

impl Verdict {
    /// Every verdict a file may expect, in the order summaries list them.
    pub const EXPECTABLE: [Verdict; 6] = [
        Verdict::Proved,
        Verdict::Unchecked,
        Verdict::Limit,
        Verdict::Consistent,
        Verdict::Refuted,
        Verdict::Unknown,
    ];

    /// The verdict's name, as files write it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Proved => "proved",
            Verdict::Unchecked => "unchecked",
            Verdict::Consistent => "consistent",
            Verdict::Refuted => "refuted",
            Verdict::Unknown => "unknown",
            Verdict::Limit => "limit",
            Verdict::Unsound => "UNSOUND",
        }
    }

    /// The verdict a file names (`None` for an unknown name, and for `UNSOUND`).
    pub fn expected(name: &str) -> Option<Verdict> {
        Verdict::EXPECTABLE.into_iter().find(|v| v.name() == name)
    }

    /// The one-character mark shown before a link.
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Proved => "✓",
            Verdict::Unchecked => "◌",
            Verdict::Consistent => "≈",
            Verdict::Refuted => "✗",
            Verdict::Unknown => "?",
            Verdict::Limit => "→",
            Verdict::Unsound => "‼",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
