//! Plain-text rendering of a checked derivation (what `derive check` prints and the snapshots pin).

use crate::numeric::portable::Portable;
use std::fmt::Write;

use super::check::{LinkResult, Report};
use super::file::{Cite, Derivation, Step};
use super::sample::fmt_num;
use super::verdict::Verdict;
use crate::expr::text;
use crate::prove::{stop_text, Outcome, Step as Rewrite};

/// Longest subterm shown beside a rule name.
const SHORT: usize = 70;

fn short(s: String) -> Option<String> {
    (s.chars().count() <= SHORT).then_some(s)
}

fn step_line(s: &Rewrite) -> String {
    let dir = if s.backward { " (right to left)" } else { "" };
    match (short(text(&s.before)), short(text(&s.after))) {
        // A bound on a term (an inequality's last step), not a rewrite.
        (Some(b), Some(_)) if s.before == s.after => format!("{}{dir}: {b}", s.rule),
        (Some(b), Some(a)) => format!("{}{dir}: {b}  ⟶  {a}", s.rule),
        _ => format!("{}{dir}", s.rule),
    }
}

/// A citation, as shown: `note:line: quote`.
fn cite_line(c: &Cite) -> String {
    match c.line {
        Some(n) => format!("{}:{n}: {}", c.note, c.quote),
        None => format!("{}: {}", c.note, c.quote),
    }
}

/// Render the report. `timings` adds wall-clock times (off for snapshots).
pub fn render(d: &Derivation, r: &Report, timings: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} — {}", d.id, d.title);
    for (c, claim) in d.claims.iter().enumerate() {
        let _ = writeln!(o);
        match &claim.title {
            Some(t) => {
                let _ = writeln!(o, "  claim {}: {t}", c + 1);
            }
            None => {
                let _ = writeln!(o, "  claim {}", c + 1);
            }
        }
        if let Some(cite) = &claim.cite {
            let _ = writeln!(o, "  cites {}", cite_line(cite));
        }
        let _ = writeln!(o, "    {}", claim.start.text);
        for link in d.links().filter(|l| l.id.claim == c + 1) {
            let arrow = if link.step.limit.is_some() {
                "→"
            } else if link.step.approx.is_some() {
                "≈"
            } else {
                link.step.rel.symbol()
            };
            let _ = writeln!(o, "  {arrow} {}", link.step.term.text);
            if let Some(result) = r.links.iter().find(|l| l.id == link.id) {
                render_link(&mut o, result, link.step, timings);
                if let (Some(u), Some(ur)) = (&link.step.under, &result.under) {
                    let _ = writeln!(
                        o,
                        "        under convention `{}` ({}): {} ⇒ {}",
                        u.convention,
                        u.text,
                        crate::expr::text(&u.from.expr),
                        crate::expr::text(&u.to.expr)
                    );
                    let read = Step {
                        term: u.to.clone(),
                        under: None,
                        remark: None,
                        cite: None,
                        ..link.step.clone()
                    };
                    render_link(&mut o, &ur.result, &read, timings);
                    if result.holds_under_convention() {
                        let _ = writeln!(
                            o,
                            "        ⇒ link {}: holds under convention `{}` (refuted as written)",
                            link.id, u.convention
                        );
                    }
                }
            }
        }
    }
    if !d.unchecked.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "  not checked:");
        for u in &d.unchecked {
            let _ = writeln!(o, "    {}", cite_line(&u.cite));
            let _ = writeln!(o, "      {}: {}", u.reason.describe(), u.detail);
        }
    }
    let counts = Verdict::EXPECTABLE
        .iter()
        .chain([&Verdict::Unsound])
        .map(|v| (v, r.links.iter().filter(|l| l.verdict == *v).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let unexpected: Vec<String> = r
        .links
        .iter()
        .filter(|l| !l.as_expected())
        .map(|l| match &l.under {
            Some(u) if l.verdict == l.expect => format!(
                "link {} under `{}` is {} (expected {})",
                l.id, u.convention, u.result.verdict, u.result.expect
            ),
            _ => format!("link {} is {} (expected {})", l.id, l.verdict, l.expect),
        })
        .collect();
    let _ = writeln!(o);
    if r.links.is_empty() {
        let _ = writeln!(o, "no links: {} equations not checked", d.unchecked.len());
    } else if unexpected.is_empty() {
        let _ = writeln!(o, "{} links: {counts} — as expected", r.links.len());
    } else {
        let _ = writeln!(
            o,
            "{} links: {counts} — NOT as expected: {}",
            r.links.len(),
            unexpected.join("; ")
        );
    }
    o
}

fn render_link(o: &mut String, link: &LinkResult, step: &Step, timings: bool) {
    let by = if let Some(w) = step.limit {
        format!("as {w} → ∞")
    } else if let Some((t, toward, order)) = step.approx {
        match toward {
            super::approx::Toward::Zero => format!("as {t} → 0, error O({t}^{order})"),
            super::approx::Toward::Infinity => format!("as {t} → ∞, error O({t}^-{order})"),
        }
    } else if step.by.is_empty() {
        "by algebra".to_string()
    } else {
        let names: Vec<&str> = step.by.iter().map(|t| t.name()).collect();
        format!("by {}", names.join(", "))
    };
    let _ = writeln!(
        o,
        "      {} link {}: {}   [{by}]  (line {})",
        link.verdict.mark(),
        link.id,
        link.verdict,
        step.term.line
    );
    if let Some(u) = &link.unsound {
        let _ = writeln!(o, "        {u}");
    }
    if let Some(c) = &step.cite {
        let _ = writeln!(o, "        cites {}", cite_line(c));
    }
    if let Some(n) = &step.remark {
        let _ = writeln!(o, "        remark: {n}");
    }
    if !step.term.unfolds.is_empty() {
        let _ = writeln!(o, "        unfolds: {}", step.term.unfolds.join(", "));
    }
    if let Some(study) = &link.evidence.limit {
        render_study(o, study);
    }
    if let Some(study) = &link.evidence.approx {
        render_order_study(o, study);
    }
    if let Some(sub) = &link.substitution {
        let _ = writeln!(
            o,
            "        checked by substitution: {} is the unknown with {}; its right side is {} in {}, so the solution is unique",
            sub.unknown,
            sub.statement,
            match sub.degree {
                0 | 1 => "affine (Lipschitz)".to_string(),
                k => format!("a polynomial of degree {k} (locally Lipschitz)"),
            },
            sub.unknown
        );
        for (k, g) in sub.goals.iter().enumerate() {
            let _ = writeln!(
                o,
                "        ({}) {}: {} = {}   {} {}",
                ["a", "b"].get(k).unwrap_or(&"?"),
                g.what,
                g.from.text,
                g.to.text,
                g.result.verdict.mark(),
                g.result.verdict
            );
            render_checks(
                o,
                &g.result,
                super::file::Relation::Eq,
                timings,
                "            ",
            );
        }
        let _ = writeln!(
            o,
            "        integrated: {} by RK4 from {} = {} to each point's {} ({}), against the claimed solution ({})",
            sub.unknown,
            sub.of,
            sub.from,
            sub.of,
            if sub.left { "lhs" } else { "rhs" },
            if sub.left { "rhs" } else { "lhs" }
        );
    }
    render_checks(o, link, step.rel, timings, "        ");
}

/// The proof (or why there is none), the numeric evidence, and the diagnosis of a link, each
/// line indented by `pad`.
fn render_checks(
    o: &mut String,
    link: &LinkResult,
    rel: super::file::Relation,
    timings: bool,
    pad: &str,
) {
    match &link.outcome {
        None => {}
        Some(Outcome::Proved(steps)) => {
            let t = if timings {
                format!(", {:.1} ms", link.stats.time.as_secs_f64() * 1e3)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "{pad}proof: {} rewrites ({} iterations, {} e-nodes{t})",
                steps.len(),
                link.stats.iterations,
                link.stats.nodes
            );
            for s in steps {
                let _ = writeln!(o, "{pad}  {}", step_line(s));
            }
        }
        Some(Outcome::NotDerivable { residual }) => {
            let _ = writeln!(
                o,
                "{pad}no proof: the theories saturate ({} iterations, {} e-nodes); lhs − rhs = {}",
                link.stats.iterations,
                link.stats.nodes,
                text(residual)
            );
        }
        Some(Outcome::Refused { why, .. }) => {
            let _ = writeln!(
                o,
                "{pad}no proof: not rewritten: {why} ({} iterations, {} e-nodes)",
                link.stats.iterations, link.stats.nodes
            );
        }
        Some(Outcome::Exhausted {
            stop: egg::StopReason::Other(why),
            ..
        }) => {
            let _ = writeln!(
                o,
                "{pad}no proof: {why} ({} iterations, {} e-nodes)",
                link.stats.iterations, link.stats.nodes
            );
        }
        Some(Outcome::Exhausted { stop, .. }) => {
            let _ = writeln!(
                o,
                "{pad}no proof: the search stopped at the {} ({} iterations, {} e-nodes)",
                stop_text(stop),
                link.stats.iterations,
                link.stats.nodes
            );
        }
    }
    let ev = &link.evidence;
    let mut methods: Vec<&str> = ev
        .methods
        .iter()
        .map(|m| m.name(ev.statistical()))
        .collect();
    if methods.is_empty() {
        methods.push("direct evaluation");
    }
    let method = methods.join(", ");
    if ev.limit.is_some() {
        // The width study was shown above.
    } else if let Some(c) = ev.counterexample() {
        if c.at.is_empty() {
            // A link without symbols: its one point is the link itself.
            let _ = writeln!(o, "{pad}counterexample (the link has no symbols):");
        } else {
            let _ = writeln!(o, "{pad}counterexample at {}:", c.at);
        }
        let _ = writeln!(o, "{pad}  lhs = {}", fmt_num(c.lhs.value));
        let _ = writeln!(o, "{pad}  rhs = {}", fmt_num(c.rhs.value));
        if rel == super::file::Relation::Eq {
            let _ = writeln!(
                o,
                "{pad}  |lhs − rhs| = {:.3e} > tolerance {:.3e}",
                c.cmp.diff, c.cmp.tol
            );
        } else if c.cmp.signed == 0.0 && c.cmp.tol == 0.0 {
            let _ = writeln!(
                o,
                "{pad}  the sides are exactly equal, so the strict `{}` fails",
                rel.symbol()
            );
        } else {
            let _ = writeln!(
                o,
                "{pad}  `{}` is violated by {:.3e} > tolerance {:.3e}",
                rel.symbol(),
                c.cmp.diff,
                c.cmp.tol
            );
        }
    } else if let Some(w) = ev.worst() {
        let what = if rel == super::file::Relation::Eq {
            "|lhs − rhs|".to_string()
        } else {
            format!("violation of `{}`", rel.symbol())
        };
        let _ = writeln!(
            o,
            "{pad}numeric: {} points ({method}), worst {what} = {:.1e} (tolerance {:.1e})",
            ev.points.len(),
            w.cmp.diff,
            w.cmp.tol
        );
    }
    if let Some(why) = &ev.skipped {
        let _ = writeln!(
            o,
            "{pad}numeric: {} of {} points not evaluated: {why}",
            ev.skipped_count,
            ev.skipped_count + ev.points.len()
        );
    }
    // A link without symbols has one point, the link itself.
    let point = |at: &str| {
        if at.is_empty() {
            "the link's one point".to_string()
        } else {
            at.to_string()
        }
    };
    if let (Some(at), None) = (&ev.undecided_strict, ev.counterexample()) {
        let at = point(at);
        let _ = writeln!(
            o,
            "{pad}numeric: at {at} the sides are equal within the tolerance: the strict inequality is not decided there"
        );
    }
    if let (Some(at), None) = (&ev.undecided_jump, ev.counterexample()) {
        let at = point(at);
        let _ = writeln!(
            o,
            "{pad}numeric: at {at} a jump's argument is within rounding of 0 and ball arithmetic cannot tell its side either (its zero may lie between neighbouring doubles): the relation is not decided there"
        );
    }
    if let (Some((at, why)), None, Verdict::Unknown) =
        (&ev.undecided_point, ev.counterexample(), link.verdict)
    {
        let at = if at.is_empty() { "every point" } else { at };
        let _ = writeln!(
            o,
            "{pad}numeric: at {at} a side has a value that is {why}; the claim may fail there, so the agreement elsewhere is not `consistent`"
        );
    }
    if let (Some((at, residual, value)), None) = (&ev.hidden_difference, ev.counterexample()) {
        let at = if at.is_empty() { "every point" } else { at };
        if rel == super::file::Relation::Eq {
            let _ = writeln!(
                o,
                "{pad}numeric: at {at} the sides agree only within an f64 tolerance that hides a difference: the prover's lhs − rhs = {residual} is {value:.6e} there; not evidence"
            );
        } else {
            let _ = writeln!(
                o,
                "{pad}numeric: at {at} the sides satisfy `{}` only within an f64 tolerance that hides a violation: the prover's lhs − rhs = {residual} is {value:.6e} there; not evidence",
                rel.symbol()
            );
        }
    }
    if let (Some(res), None) = (ev.coarse_resolution, ev.counterexample()) {
        let scale = if ev.coarse_by_terms {
            "the size of the terms of the prover's lhs − rhs (the sides share a larger part exactly)"
        } else {
            "the sides' scale"
        };
        // (The estimates are Monte Carlo means, or a difference scheme's error where forward
        // mode declined: both are statistical points.)
        let size = if res.is_nan() {
            format!("cannot be measured against {scale}, which is 0")
        } else {
            format!(
                "is {res:.1e} of {scale}, coarser than {:.0e}",
                crate::precision::MC_RESOLUTION_REL
            )
        };
        let _ = writeln!(
            o,
            "{pad}numeric: the resolution of the estimates (Monte Carlo, or a difference scheme's error) {size}: agreement that coarse is no evidence for `consistent`"
        );
    }
    if let (Some((at, tol)), None) = (&ev.unresolved, ev.counterexample()) {
        let at = if at.is_empty() { "every point" } else { at };
        let _ = writeln!(
            o,
            "{pad}numeric: at {at} the sides agree only within a tolerance of {tol:.1e}, coarser than {:.0e} of the values compared (the sides, or the terms of lhs − rhs where the sides share a part): any value that near would have agreed; not evidence",
            crate::precision::F64_RESOLUTION_REL
        );
    }
    if ev.small_sizes_only() && ev.counterexample().is_none() {
        let _ = writeln!(
            o,
            "{pad}numeric: every evaluated point has its sizes at most {}: not evidence for every size",
            super::sample::EDGE_SIZE
        );
    }
    if let Some(d) = &link.diagnosis {
        let _ = writeln!(o, "{pad}diagnosis: {d}");
    }
}

fn render_order_study(o: &mut String, s: &super::approx::ApproxStudy) {
    use super::approx::Toward;
    let constant = match s.toward {
        Toward::Zero => format!("|lhs − rhs|/{}^{}", s.symbol, fmt_num(s.order)),
        Toward::Infinity => format!("|lhs − rhs|·{}^{}", s.symbol, fmt_num(s.order)),
    };
    let _ = writeln!(
        o,
        "        order study: |lhs − rhs| as {} {}; the error constant {constant} may grow at most ×{} from the first half of the steps above rounding to the second (with fewer than {} such steps: log–log slope over the last {}, needed {})",
        s.symbol,
        match s.toward {
            Toward::Zero if s.sides == [true] => "about halves from −0.1 (from below)",
            Toward::Zero if s.sides.len() == 2 => "about halves from 0.1 and from −0.1 (both sides)",
            Toward::Zero => "about halves from 0.1",
            Toward::Infinity => "about doubles from 16",
        },
        super::approx::GROWTH,
        super::approx::MIN_GROWTH_STEPS,
        super::approx::FIT,
        s.needed()
    );
    for p in &s.points {
        let (first, last) = (p.steps.first(), p.steps.last());
        let range = match (first, last) {
            (Some(a), Some(b)) => format!(
                "{} = {} … {}: |lhs − rhs| {:.1e} … {:.1e}",
                s.symbol,
                fmt_num(a.0),
                fmt_num(b.0),
                a.1,
                b.1
            ),
            _ => String::new(),
        };
        let slope = match (p.slope, &p.undecided) {
            (_, Some(why)) => format!("undecided: {why}"),
            (Some(x), None) if p.unsteady => {
                format!("slope {x:.2}, but the difference does not decrease at every step")
            }
            (Some(x), None) => format!("slope {x:.2}"),
            (None, None) => "within rounding".to_string(),
        };
        let slope = match (p.growth, &p.undecided) {
            (Some(g), None) => format!("{slope}; error constant ×{g:.2}"),
            _ => slope,
        };
        let slope = match p.creep {
            // Named only where it decides: a constant that grew more than GROWTH is refuted by that.
            Some(c) if c.systematic && !p.holds && p.growth.is_none_or(|g| g <= super::approx::GROWTH) => format!(
                "{slope}; the error constant rose at each of the last {} steps, from {:.6e} to {:.6e}, its increments not shrinking (×{:.2} from the first half of those steps to the second): it is not bounded",
                c.steps, c.from, c.to, c.ratio
            ),
            _ => slope,
        };
        let at = if p.at.is_empty() {
            String::new()
        } else {
            format!(" at {}", p.at)
        };
        let _ = writeln!(
            o,
            "          {}{at}{}: {range}; {slope}",
            match (p.holds, &p.undecided) {
                (false, _) => "✗",
                (true, Some(_)) => "?",
                (true, None) => "✓",
            },
            if p.below { ", from below" } else { "" }
        );
    }
    if let Some(why) = &s.skipped {
        let _ = writeln!(o, "          some points not evaluated: {why}");
    }
    if let Some(why) = &s.unseen {
        let _ = writeln!(o, "          not decided: {why}");
    }
}

fn render_study(o: &mut String, s: &super::limit::LimitEvidence) {
    use super::limit::Decision;
    let widths = s
        .studies
        .first()
        .map(|st| {
            let ws: Vec<String> = st.widths.iter().map(|w| w.width.to_string()).collect();
            ws.join(", ")
        })
        .unwrap_or_default();
    // No width was drawn when the study could not start (its fit is degenerate; said below).
    let drawn = if widths.is_empty() {
        "no width drawn".to_string()
    } else {
        format!(
            "{} at {} = {widths}; {} draws per width",
            s.source, s.width, s.seeds
        )
    };
    let _ = writeln!(
        o,
        "        width study: {drawn}; fit lhs − rhs ≈ a + b·{}^({}) + c·{}^({}), limit iff a = 0 at the needed resolution",
        s.width,
        s.rate,
        s.width,
        2.0 * s.rate
    );
    for st in &s.studies {
        let mark = match st.decision {
            Decision::Limit => "✓",
            Decision::Refuted(_) => "✗",
            Decision::Unknown(_) => "?",
        };
        let _ = writeln!(
            o,
            "          {mark} {}: a = {} ± {} (resolution {:.1e}, needed {:.1e}{}; {}{})",
            st.config,
            sig(st.limit),
            sig(st.resolution),
            st.resolution,
            st.needed,
            if st.capped {
                " (declared coarser; capped at a tenth of the scale)"
            } else if st.declared {
                " (declared)"
            } else {
                ""
            },
            st.reduction,
            if st.draws != s.seeds {
                format!("; {} draws per width", st.draws)
            } else {
                String::new()
            }
        );
        if let (Some(first), Some(last)) = (st.widths.first(), st.widths.last()) {
            let slope = match st.slope {
                Some((m, h)) => format!("slope {m:.2} ± {h:.2}; "),
                None => String::new(),
            };
            let _ = writeln!(
                o,
                "            {slope}rms {} at {} → {} at {}; mean at {}: {} ± {}",
                sig(first.rms),
                first.width,
                sig(last.rms),
                last.width,
                last.width,
                sig(last.mean),
                sig(last.std_err),
            );
        }
        if let Some(n) = &st.rate_note {
            let _ = writeln!(o, "            rate: {n}");
        }
        match &st.decision {
            Decision::Limit => {}
            Decision::Refuted(m) | Decision::Unknown(m) => {
                let _ = writeln!(o, "            {m}");
            }
        }
    }
    if let Some(why) = &s.skipped {
        let _ = writeln!(o, "        width study not run: {why}");
    }
}

/// Two significant digits: enough for a Monte Carlo figure.
pub(super) fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (1 - x.abs().plog10().floor() as i32).max(0) as usize;
    if digits > 6 {
        format!("{x:.1e}")
    } else {
        format!("{x:.digits$}")
    }
}
