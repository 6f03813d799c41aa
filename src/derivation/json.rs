//! `derive check --format json`: the results as one JSON document, for other tools and CI.
//!
//! Schema (version 1): `{"version": 1, "derivations": [{"id", "title", "file", "claims":
//! [{"claim", "title", "cite", "start", "links": [{"link": "2.3", "line", "lhs", "rhs", "relation" (=, ≤, <, ≥, >), "by",
//! "expect", "verdict", "as_expected", "unsound", "proof" | "no_proof", "numeric", "limit",
//! "diagnosis"}]}], "counts", "as_expected"}], "counts", "as_expected"}`. Numbers that are not
//! finite are `null`. Times appear only with `--timings` (so the document is reproducible).

use serde_json::{json, Value};

use super::check::{LinkResult, Report};
use super::file::{Cite, Derivation, Link};
use super::limit::{Decision, LimitEvidence};
use super::verdict::Verdict;
use crate::expr::text;
use crate::prove::{stop_text, Outcome};

/// The schema version of the document.
pub const VERSION: u32 = 1;

/// The document for these derivations and their reports (same order).
pub fn document(ds: &[Derivation], rs: &[Report], timings: bool) -> Value {
    let derivations: Vec<Value> = ds
        .iter()
        .zip(rs)
        .map(|(d, r)| derivation(d, r, timings))
        .collect();
    let links: Vec<&LinkResult> = rs.iter().flat_map(|r| &r.links).collect();
    json!({
        "version": VERSION,
        "derivations": derivations,
        "counts": counts(&links),
        "as_expected": rs.iter().all(Report::as_expected),
    })
}

fn counts(links: &[&LinkResult]) -> Value {
    let mut m = serde_json::Map::new();
    for v in Verdict::EXPECTABLE.iter().chain([&Verdict::Unsound]) {
        m.insert(
            v.name().to_lowercase(),
            json!(links.iter().filter(|l| l.verdict == *v).count()),
        );
    }
    Value::Object(m)
}

fn cite(c: &Option<Cite>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => json!({"note": c.note, "line": c.line, "quote": c.quote,
            "kind": c.kind.map(|k| k.name())}),
    }
}

/// One derivation with its claims and links.
pub fn derivation(d: &Derivation, r: &Report, timings: bool) -> Value {
    let claims: Vec<Value> = d
        .claims
        .iter()
        .enumerate()
        .map(|(c, claim)| {
            let links: Vec<Value> = d
                .links()
                .filter(|l| l.id.claim == c + 1)
                .filter_map(|l| {
                    let res = r.links.iter().find(|x| x.id == l.id)?;
                    Some(link(&l, res, timings))
                })
                .collect();
            json!({
                "claim": c + 1,
                "title": claim.title,
                "cite": cite(&claim.cite),
                "start": claim.start.text,
                "line": claim.start.line,
                "links": links,
            })
        })
        .collect();
    let links: Vec<&LinkResult> = r.links.iter().collect();
    json!({
        "id": d.id,
        "title": d.title,
        "file": d.file,
        "claims": claims,
        "unchecked": d.unchecked.iter().map(|u| json!({
            "cite": cite(&Some(u.cite.clone())),
            "reason": u.reason.name(),
            "detail": u.detail,
        })).collect::<Vec<_>>(),
        "counts": counts(&links),
        "as_expected": r.as_expected(),
    })
}

fn link(l: &Link, r: &LinkResult, timings: bool) -> Value {
    let mut o = json!({
        "link": l.id.to_string(),
        "line": l.step.term.line,
        "lhs": l.from.text,
        "rhs": l.step.term.text,
        "relation": l.step.rel.symbol(),
        "by": l.step.by.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "limit": l.step.limit.map(|w| w.to_string()),
        "cite": cite(&l.step.cite),
        "expect": r.expect.name(),
        "verdict": r.verdict.name().to_lowercase(),
        "as_expected": r.as_expected(),
        "minor": l.step.minor,
        "unsound": r.unsound.as_ref().map(|u| u.to_string()),
        "diagnosis": r.diagnosis,
    });
    let search = |o: &mut Value, key: &str, v: Value| {
        o.as_object_mut().expect("an object").insert(key.into(), v);
    };
    let mut stats = json!({"iterations": r.stats.iterations, "e_nodes": r.stats.nodes});
    if timings {
        stats["ms"] = json!(r.stats.time.as_secs_f64() * 1e3);
    }
    match &r.outcome {
        None => {}
        Some(Outcome::Proved(steps)) => {
            let rewrites: Vec<Value> = steps
                .iter()
                .map(|s| {
                    json!({"rule": s.rule, "before": text(&s.before), "after": text(&s.after),
                        "right_to_left": s.backward})
                })
                .collect();
            search(
                &mut o,
                "proof",
                json!({"rewrites": rewrites, "search": stats}),
            );
        }
        Some(Outcome::NotDerivable { residual }) => search(
            &mut o,
            "no_proof",
            json!({"stopped_by": "saturation", "residual": text(residual), "search": stats}),
        ),
        Some(Outcome::Refused { why, .. }) => search(
            &mut o,
            "no_proof",
            json!({"stopped_by": "not rewritten", "why": why, "search": stats}),
        ),
        Some(Outcome::Exhausted { stop, .. }) => search(
            &mut o,
            "no_proof",
            json!({"stopped_by": stop_text(stop), "search": stats}),
        ),
    }
    let ev = &r.evidence;
    if let Some(study) = &ev.approx {
        let points: Vec<Value> = study
            .points
            .iter()
            .map(|p| json!({"at": p.at, "below": p.below, "steps": p.steps, "slope": p.slope, "constant_growth": p.growth, "holds": p.holds, "undecided": p.undecided}))
            .collect();
        search(
            &mut o,
            "order_study",
            json!({"symbol": study.symbol.to_string(), "order": study.order,
                "to": match study.toward { super::approx::Toward::Zero => "0", super::approx::Toward::Infinity => "inf" },
                "points": points, "not_evaluated_because": study.skipped, "not_decided_because": study.unseen}),
        );
    } else if let Some(study) = &ev.limit {
        search(&mut o, "width_study", limit(study));
    } else {
        let points: Vec<Value> = ev
            .points
            .iter()
            .map(|p| {
                json!({
                    "at": p.at,
                    "lhs": p.lhs.value, "lhs_stderr": p.lhs.stderr,
                    "rhs": p.rhs.value, "rhs_stderr": p.rhs.stderr,
                    "difference": p.cmp.diff, "tolerance": p.cmp.tol,
                    "statistical": p.cmp.statistical, "agrees": p.cmp.agrees(),
                })
            })
            .collect();
        let mut numeric = json!({
            "methods": ev.methods.iter().map(|m| m.name(ev.statistical())).collect::<Vec<_>>(),
            "points": points,
            "not_evaluated": ev.skipped_count,
            "small_sizes_only": ev.small_sizes_only(),
            "not_evaluated_because": ev.skipped,
        });
        // Present only when they apply: why agreeing points are not evidence.
        if let Some(at) = &ev.undecided_strict {
            numeric["strict_inequality_undecided_at"] = json!(at);
        }
        if let Some(at) = &ev.undecided_jump {
            numeric["jump_undecided_at"] = json!(at);
        }
        if let Some((at, why)) = &ev.undecided_point {
            numeric["undecided_point"] = json!({"at": at, "why": why});
        }
        if let Some((at, residual, value)) = &ev.hidden_difference {
            numeric["hidden_difference"] =
                json!({"at": at, "residual": residual, "residual_value": value});
        }
        if let Some(res) = ev.coarse_resolution {
            numeric["coarse_monte_carlo_resolution"] = json!(res);
            if ev.coarse_by_terms {
                numeric["coarse_resolution_scale"] = json!("residual terms");
            }
        }
        if let Some((at, tol)) = &ev.unresolved {
            numeric["unresolved_f64"] = json!({"at": at, "tolerance": tol});
        }
        search(&mut o, "numeric", numeric);
    }
    if let Some(sub) = &r.substitution {
        let goals: Vec<Value> = sub
            .goals
            .iter()
            .map(|g| {
                let step = crate::derivation::file::Step {
                    term: g.to.clone(),
                    under: None,
                    remark: None,
                    cite: None,
                    ..l.step.clone()
                };
                let read = Link {
                    from: &g.from,
                    step: &step,
                    ..*l
                };
                let mut inner = link(&read, &g.result, timings);
                inner["goal"] = json!(g.what);
                inner
            })
            .collect();
        search(
            &mut o,
            "substitution",
            json!({"unknown": sub.unknown, "hypotheses": sub.statement, "degree": sub.degree,
                "goals": goals}),
        );
    }
    if let (Some(u), Some(ur)) = (&l.step.under, &r.under) {
        let step = crate::derivation::file::Step {
            term: u.to.clone(),
            under: None,
            ..l.step.clone()
        };
        let read = Link {
            from: &u.from,
            step: &step,
            ..*l
        };
        let mut inner = link(&read, &ur.result, timings);
        inner["convention"] = json!(u.convention);
        inner["text"] = json!(u.text);
        search(&mut o, "under", inner);
        search(
            &mut o,
            "holds_under_convention",
            json!(r.holds_under_convention()),
        );
    }
    o
}

fn limit(e: &LimitEvidence) -> Value {
    let studies: Vec<Value> = e
        .studies
        .iter()
        .map(|s| {
            let widths: Vec<Value> = s
                .widths
                .iter()
                .map(|w| {
                    json!({"width": w.width, "mean": w.mean, "std_err": w.std_err, "rms": w.rms,
                        "lhs": w.lhs, "rhs": w.rhs})
                })
                .collect();
            let decision = match &s.decision {
                Decision::Limit => json!({"decision": "limit"}),
                Decision::Refuted(why) => json!({"decision": "refuted", "why": why}),
                Decision::Unknown(why) => json!({"decision": "unknown", "why": why}),
            };
            json!({
                "config": s.config,
                "draws": s.draws,
                "widths": widths,
                "slope": s.slope.map(|(m, h)| json!({"slope": m, "half_width": h})),
                "limit_term": s.limit,
                "resolution": s.resolution,
                "resolution_needed": s.needed,
                "scale": s.scale,
                "variance_reduction": s.reduction,
                "rate_note": s.rate_note,
                "decision": decision,
            })
        })
        .collect();
    json!({
        "width": e.width.to_string(),
        "rate": e.rate,
        "seeds": e.seeds,
        "source": e.source,
        "studies": studies,
        "not_run_because": e.skipped,
    })
}
