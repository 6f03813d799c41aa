//! What the report needs of a checked link, in a form that can be cached: the verdicts (as
//! written and under a convention), the diagnosis, a counterexample, the proof's rules and the
//! width study's points. Built from a [`Report`]; stored by [`super::cache`].

use crate::derivation::check::LinkResult;
use crate::derivation::{Report, Verdict};
use serde::{Deserialize, Serialize};

/// A point where the sides of a refuted link differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The point, described (or the width study's failure).
    pub at: String,
    /// Left side's value (`None` for a width study's failure).
    pub lhs: Option<f64>,
    /// Right side's value.
    pub rhs: Option<f64>,
}

/// One configuration of a width study: its points (width, rms |lhs − rhs|) and fitted slope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The configuration (activation, depth, point).
    pub config: String,
    /// The fitted log–log slope and its standard error, when finite.
    pub slope: Option<(f64, f64)>,
    /// (width, rms) with both finite and positive.
    pub points: Vec<(f64, f64)>,
}

/// A width study, as plotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyPlot {
    /// The width symbol.
    pub width: String,
    /// One series per configuration.
    pub series: Vec<Series>,
}

/// One checked link, as the report reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    /// The claim, from 1.
    pub claim: usize,
    /// The step, from 1.
    pub step: usize,
    /// The verdict as written.
    pub verdict: Verdict,
    /// The convention it is read under (name, text) and that reading's verdict.
    pub convention: Option<(String, String, Verdict)>,
    /// Refuted as written, holds under the convention.
    pub holds_under: bool,
    /// The checker's diagnosis of a refuted link.
    pub diagnosis: Option<String>,
    /// Where a refuted link fails.
    pub counterexample: Option<Counterexample>,
    /// The rules of the proof, for a proved link.
    pub rules: Vec<String>,
    /// The width study of a limit link.
    pub study: Option<StudyPlot>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The summary of one link's result.
pub fn summarise_link(r: &LinkResult) -> LinkSummary {
    let counterexample = if let Some(p) = r.evidence.counterexample() {
        Some(Counterexample {
            at: p.at.clone(),
            lhs: finite(p.lhs.value),
            rhs: finite(p.rhs.value),
        })
    } else {
        r.evidence
            .limit
            .as_ref()
            .and_then(|l| l.failure())
            .map(|st| {
                // Both sides as the widest networks give them (means over the draws).
                let widest = st.widths.last();
                Counterexample {
                    at: format!(
                        "width study, {}{}: {}",
                        st.config,
                        widest.map_or(String::new(), |w| format!(
                            ", means over {} draws at width {}",
                            st.draws, w.width
                        )),
                        st.failure.clone().unwrap_or_default()
                    ),
                    lhs: widest.and_then(|w| finite(w.lhs)),
                    rhs: widest.and_then(|w| finite(w.rhs)),
                }
            })
    };
    let rules = match &r.outcome {
        Some(crate::prove::Outcome::Proved(steps)) => {
            steps.iter().map(|s| s.rule.to_string()).collect()
        }
        _ => vec![],
    };
    let study = r.evidence.limit.as_ref().map(|l| StudyPlot {
        width: l.width.to_string(),
        series: l
            .studies
            .iter()
            .map(|s| Series {
                config: s.config.clone(),
                slope: s.slope.filter(|(b, e)| b.is_finite() && e.is_finite()),
                points: s
                    .widths
                    .iter()
                    .map(|w| (w.width as f64, w.rms))
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
                    .collect(),
            })
            .collect(),
    });
    LinkSummary {
        claim: r.id.claim,
        step: r.id.step,
        verdict: r.verdict,
        convention: r
            .under
            .as_ref()
            .map(|u| (u.convention.clone(), u.text.clone(), u.result.verdict)),
        holds_under: r.holds_under_convention(),
        diagnosis: r.diagnosis.clone(),
        counterexample,
        rules,
        study,
    }
}

/// The summaries of a derivation's links, in order.
pub fn summarise(r: &Report) -> Vec<LinkSummary> {
    r.links.iter().map(summarise_link).collect()
}
