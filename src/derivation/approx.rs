//! Approximation links: `a ≈ b` as a declared parameter goes to 0 or to infinity, with the
//! order of the error (`approx = "t -> 0"`, `order = 2`: |a − b| = O(t²)).
//!
//! At [`POINTS`] random sample points of the derivation (not its edge points, where many
//! symbols share a value and differences vanish), the parameter is set to h₀·2⁻ᵏ (to 0,
//! k < [`STEPS_ZERO`], down to ~1e-16) or n₀·2ᵏ (to infinity, k < [`STEPS_INF`]); both sides are
//! evaluated (deterministic terms only; in ball arithmetic where they allow it, so that an error
//! term below f64's rounding of the sides is measured). O(hᵖ) bounds the error constant
//! |a − b|/hᵖ: over the steps whose difference stands well above rounding (100×), its largest
//! value over the second half may be at most [`GROWTH`] times its largest over the first half. A
//! constant that grew more but slowed down (at most √[`GROWTH`] over the last quarter) leaves the
//! point undecided (a constant still converging from below). With fewer than
//! [`MIN_GROWTH_STEPS`] such steps, the log–log slope over the last [`FIT`] must be at least
//! `order` − min([`SLOPE_SLACK`], order/2) (to 0) or at most its negative (to infinity); a point
//! whose difference stays within rounding at every step holds without evidence. The link holds
//! when every point holds and at least one showed an error to measure (otherwise it is
//! `unknown`: no evidence), and is refuted at the first point that does not hold, with the
//! measured slope and growth.

use egg::Symbol;

use super::file::{Derivation, Kind};
use super::sample::{point_scaled, EDGE_POINTS};
use crate::expr::Expr;
use crate::numeric::eval::Evaluator;
use crate::numeric::precise::BITS;
use crate::numeric::tolerance::compare;

/// Halvings of a parameter that goes to 0 (0.1 down to ~1e-16: ball arithmetic measures the
/// error there; in f64 the steps below rounding are not fitted).
pub const STEPS_ZERO: usize = 50;
/// Doublings of a parameter that goes to infinity (16 up to ~10¹³; in f64, rounding in terms
/// such as (1 + a/n)ⁿ grows faster than the error being measured beyond ~10⁵, and those steps
/// are not fitted: the range matters where a term of higher order dominates up to n = 10⁵,
/// 1/n + 10¹⁰/n³ against O(n⁻²)).
pub const STEPS_INF: usize = 40;
/// Steps the slope is fitted over (the last ones above rounding).
pub const FIT: usize = 6;
/// How far the fitted slope may fall short of the order (see the module docs): the fitted slopes
/// of `derivations/approximations.toml` are within 0.01 of their orders, and 1 + t^(11/4) must
/// not pass for O(t³).
pub const SLOPE_SLACK: f64 = 0.1;
/// How much the error constant |lhs − rhs|/hᵖ may grow from the first half of the steps above
/// rounding to the second before the order is refuted: O(hᵖ) means the constant stays bounded.
/// Over the ~9 decades of a study toward 0 this refutes t^1.95 for O(t²) (growth 1.7) and
/// t²·log(1/t) (1.8) and admits t^1.98 (1.2); a constant that converges from above (the next
/// term of the expansion) shrinks, one that oscillates boundedly (2 + sin(1/t)) does not grow.
pub const GROWTH: f64 = 1.5;
/// Steps above rounding the growth of the error constant needs (two per half at least).
pub const MIN_GROWTH_STEPS: usize = 4;
// A constant whose growth exceeds GROWTH but slows down (grows at most ×√GROWTH over the last
// quarter of the steps, where a steady power grows by the square root of its growth over the
// halves) leaves the point undecided rather than refuted: (1 + a/n)ⁿ ≈ eᵃ with O(1/n) at
// a = 75 is still converging from below at n = 2000.
/// Sample points at which the study is made.
pub const POINTS: usize = 4;

/// Where the parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// To 0 from above.
    Zero,
    /// To +∞.
    Infinity,
}

/// One point of the study.
#[derive(Debug, Clone)]
pub struct ApproxPoint {
    /// The point (the other symbols).
    pub at: String,
    /// (parameter, |lhs − rhs|) at the steps that evaluated.
    pub steps: Vec<(f64, f64)>,
    /// The fitted slope, when at least 3 steps stand above rounding.
    pub slope: Option<f64>,
    /// Does the point agree with the stated order?
    pub holds: bool,
    /// Why the point decides nothing (it then holds, with no slope), if so.
    pub undecided: Option<String>,
    /// The differences fitted do not decrease at every step (down to the last step).
    pub unsteady: bool,
    /// How much the error constant |lhs − rhs|/hᵖ (|lhs − rhs|·nᵖ toward infinity) grows from
    /// the first half of the steps above rounding to the second (ratio of their largest
    /// values), when there are at least [`MIN_GROWTH_STEPS`].
    pub growth: Option<f64>,
}

/// The study of an approximation link.
#[derive(Debug, Clone)]
pub struct ApproxStudy {
    /// The parameter.
    pub symbol: Symbol,
    /// Where it goes.
    pub toward: Toward,
    /// The stated order of the error.
    pub order: f64,
    /// The points.
    pub points: Vec<ApproxPoint>,
    /// Why some points were not evaluated (first reason).
    pub skipped: Option<String>,
}

impl ApproxStudy {
    /// The first point that contradicts the stated order.
    pub fn failure(&self) -> Option<&ApproxPoint> {
        self.points.iter().find(|p| !p.holds)
    }
    /// Every point agrees, there are enough of them, and at least one measured an error.
    pub fn holds(&self) -> bool {
        self.points.len() >= 2
            && self.failure().is_none()
            && self.points.iter().any(|p| p.slope.is_some())
    }
    /// The slope the order asks for, as a sentence.
    pub fn needed(&self) -> String {
        match self.toward {
            Toward::Zero => format!("≥ {:.2}", needed(self.order)),
            Toward::Infinity => format!("≤ {:.2}", -needed(self.order)),
        }
    }
}

/// The least slope (in absolute value) that agrees with an error of order `order`: the order
/// less the slack, and never less than half the order (so that a small order still asks for an
/// error that vanishes: a constant difference has slope 0).
fn needed(order: f64) -> f64 {
    order - SLOPE_SLACK.min(order / 2.0)
}

/// The growth of the error constant over `above` (steps in order toward the limit): the largest
/// |lhs − rhs|/hᵖ (toward 0; |lhs − rhs|·hᵖ toward infinity) over the second half of the steps
/// over the largest over the first half.
fn constant_growth(above: &[(f64, f64)], order: f64, toward: Toward) -> Option<f64> {
    if above.len() < MIN_GROWTH_STEPS {
        return None;
    }
    let c = |(h, d): &(f64, f64)| match toward {
        Toward::Zero => d / h.powf(order),
        Toward::Infinity => d * h.powf(order),
    };
    let half = above.len() / 2;
    let first = above[..half].iter().map(c).fold(0.0, f64::max);
    let second = above[half..].iter().map(c).fold(0.0, f64::max);
    (first > 0.0 && first.is_finite() && second.is_finite()).then(|| second / first)
}

fn fit_slope(xy: &[(f64, f64)]) -> Option<f64> {
    if xy.len() < 3 {
        return None;
    }
    let pts: Vec<(f64, f64)> = xy.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The study of `lhs ≈ rhs` as `symbol` goes `toward`, with error of the given `order`.
pub fn study(
    d: &Derivation,
    lhs: &Expr,
    rhs: &Expr,
    symbol: Symbol,
    toward: Toward,
    order: f64,
) -> ApproxStudy {
    let kind = d
        .symbols
        .iter()
        .find(|(s, _)| *s == symbol)
        .map(|(_, k)| k.clone());
    let start = match (toward, &kind) {
        (Toward::Zero, Some(Kind::Interval(_, b))) => b.min(0.1),
        (Toward::Zero, _) => 0.1,
        (Toward::Infinity, _) => 16.0,
    };
    let mut out = ApproxStudy {
        symbol,
        toward,
        order,
        points: vec![],
        skipped: None,
    };
    let steps_n = match toward {
        Toward::Zero => STEPS_ZERO,
        Toward::Infinity => STEPS_INF,
    };
    // The steps are not exact powers of 2 (a factor in [1, 1.3) from the golden ratio's
    // multiples): an error such as sin(π/(10t)) or (1 − (−1)ⁿ)/2 that vanishes at every dyadic
    // parameter does not vanish at these.
    let wobble = |j: usize| 1.0 + 0.3 * (j as f64 * 0.618_033_988_749_895).fract();
    for k in EDGE_POINTS..EDGE_POINTS + POINTS {
        let base = point_scaled(d, k, 0);
        let mut steps = vec![];
        let mut above = vec![];
        let mut failed = None;
        for j in 0..steps_n {
            let h = match toward {
                Toward::Zero => start * 2f64.powi(-(j as i32)) / wobble(j),
                Toward::Infinity => (start * 2f64.powi(j as i32) * wobble(j)).round(),
            };
            let mut env = base.clone();
            env.scalars.insert(symbol, h);
            // Ball arithmetic where both sides allow it: a term of the error far below f64's
            // rounding of the sides (exp(t) + 10⁻⁶·t against 1 + t at t = 10⁻¹⁰) is measured,
            // not lost.
            if let Ok((l, r, c)) = crate::numeric::precise::compare_sides(lhs, rhs, &env, BITS) {
                if l.to_f64().is_finite() && r.to_f64().is_finite() && c.diff.is_finite() {
                    steps.push((h, c.diff));
                    if c.diff > 100.0 * c.tol {
                        above.push((h, c.diff));
                    }
                    continue;
                }
            }
            let l = Evaluator::new(&env).eval(lhs);
            let r = Evaluator::new(&env).eval(rhs);
            match (l, r) {
                (Ok(l), Ok(r))
                    if l.value.is_finite()
                        && r.value.is_finite()
                        && l.stderr == 0.0
                        && r.stderr == 0.0 =>
                {
                    let diff = (l.value - r.value).abs();
                    steps.push((h, diff));
                    // Between rounding and 100× rounding a difference is noise, not fitted.
                    if diff > 100.0 * compare(l, r, 1).tol {
                        above.push((h, diff));
                    }
                }
                (Ok(_), Ok(_)) => {
                    failed.get_or_insert_with(|| {
                        "a side is not finite or is a Monte Carlo estimate".to_string()
                    });
                }
                (Err(e), _) | (_, Err(e)) => {
                    failed.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if steps.len() < steps_n / 2 {
            out.skipped
                .get_or_insert_with(|| failed.unwrap_or_else(|| "too few steps evaluated".into()));
            continue;
        }
        let tail = &above[above.len().saturating_sub(FIT)..];
        let growth = constant_growth(&above, order, toward);
        let late = above
            .get(above.len() / 2..)
            .and_then(|h| constant_growth(h, order, toward));
        // A power law's tail decreases at every step. One that does not: where the steps after
        // it fall within rounding, the study met rounding before the asymptotic range at this
        // point ((1 + a/n)ⁿ at a = −15523 is 969¹⁶ at n = 16 and underflows past n ≈ 15523):
        // undecided; where it reaches the last step, the difference does not tend to 0 (an
        // oscillation, or a constant): refuted whatever the fitted slope.
        let steady = tail.windows(2).all(|w| w[1].1 < w[0].1);
        let reaches_end = tail.last().map(|t| t.0) == steps.last().map(|s| s.0);
        // Growth over the last quarter alone refutes whatever the halves show: a large term of
        // higher order (7·10¹¹·t⁴) can dominate the first half and hide a constant that grows
        // as 1/t in the second.
        let late_growth = late.is_some_and(|q| q > GROWTH);
        let decelerating = !late_growth
            && growth.is_some_and(|g| g > GROWTH)
            && late.is_some_and(|q| q <= GROWTH.sqrt());
        let (slope, holds, undecided) = if decelerating {
            // Growth that slows down: a constant still converging (from below) toward its
            // limit, as (1 + a/n)ⁿ does for n up to ~a², or a factor such as log that grows
            // ever more slowly. A steady power grows over the last quarter of the steps by
            // the square root of its growth over the halves; this grew less than √GROWTH.
            (
                None,
                true,
                Some(format!(
                    "the error constant grew ×{:.2} from the first half of the steps to the second, but only ×{:.2} over the last quarter: this point may not be in the asymptotic range",
                    growth.unwrap_or(f64::NAN),
                    late.unwrap_or(f64::NAN)
                )),
            )
        } else if tail.len() >= 3 && !steady && !reaches_end {
            (
                None,
                true,
                Some("the difference is not yet decreasing where it falls to rounding".to_string()),
            )
        } else {
            let slope = fit_slope(tail);
            let holds = match (growth, slope, toward) {
                // The error constant decides where there are enough steps: O(hᵖ) bounds
                // |lhs − rhs|/hᵖ, whatever the local slope does and whether or not the
                // difference decreases at every step (t²·(2 + sin(1/t)) and t²·(1 + sin(log t))
                // are O(t²), with slopes that wander; t^1.5·(1 + sin(log t)) is not, though its
                // last steps may climb steeply).
                (Some(g), _, _) => g <= GROWTH && !late_growth,
                (None, Some(s), Toward::Zero) => steady && s >= needed(order),
                (None, Some(s), Toward::Infinity) => steady && s <= -needed(order),
                // Fewer than 3 steps well above rounding: the difference vanishes at this
                // point (no evidence either way here).
                (None, None, _) => steady,
            };
            (slope, holds, None)
        };
        out.points.push(ApproxPoint {
            at: super::sample::describe(d, &base, None),
            steps,
            slope,
            holds,
            undecided,
            unsteady: !steady && reaches_end,
            growth,
        });
        if !holds {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fit_slope;

    #[test]
    fn the_slope_of_a_power_law() {
        let xy: Vec<(f64, f64)> = (0..8)
            .map(|k| {
                let h = 0.1 * 2f64.powi(-k);
                (h, 3.0 * h * h)
            })
            .collect();
        assert!((fit_slope(&xy).unwrap() - 2.0).abs() < 1e-12);
        assert!(fit_slope(&xy[..2]).is_none());
    }
}
