//! Numerical derivatives, one scheme: [`derivative`].
//!
//! Ridders' extrapolation: difference quotients at steps h₀, h₀/1.4, h₀/1.4², … in a Neville
//! tableau that removes one term of their error series per column, with the error estimated from
//! the tableau itself (the difference between an entry and its two predecessors, which shows
//! truncation and rounding alike) and the answer taken where that estimate is smallest.
//!
//! - **Stencil.** Central differences (f(t + h) − f(t − h))/2h, error series in h², when the
//!   stencil fits inside the variable's declared interval; at an edge of it, one-sided differences
//!   (f(t ± h) − f(t))/(±h) into the interval, error series in all powers of h.
//! - **Initial step** h₀ (see [`initial_step`]): 1% of the point's magnitude, at least 0.01 —
//!   [`BASE_STEP`]·max(1, |t|): large enough that the tableau's finest step h₀/1.4¹¹ ≈ h₀/40 stays
//!   far above rounding (ε/h ≲ 1e-11 relative), small enough for functions varying on scales of
//!   order 1 or of the point. Inside an interval [a, b] the central stencil uses
//!   h₀ ≤ (distance to the nearer edge)/2, so a singularity at an edge (√(1 − ρ²) at ρ = 1) is at
//!   least 2h₀ away and the error series converges. When the nearer edge is closer than
//!   [`MIN_CENTRAL`]·h₀ the central steps would be so small that rounding dominates: one-sided
//!   steps into the interval, h₀ ≤ (distance to the farther edge)/2.
//! - **Magnitude scale** of the result: the same tableau on the samples' magnitude scales (the
//!   computation on absolute values, as everywhere in [`super::eval`]), so the tolerance's
//!   rounding allowance follows the 1/h amplification of the differences.
//! - **Retries.** A central tableau whose error estimate stays too large is tried again from a
//!   step 100 times smaller (twice): a function varying on a scale far below h₀ (exp(λt), λ
//!   large). One-sided tableaux are not retried: at an edge where the function is not smooth,
//!   tiny steps make √h-type convergence look converged.
//! - **Failures** are errors, never numbers: a sample that is not finite, a step leaving the
//!   interval, or a tableau whose error estimate stays above [`MAX_REL_ERROR`] of the result
//!   (beyond rounding noise): differences that do not converge like a power series, because the
//!   function is not smooth at the point or at the edge it is differentiated from.

use nalgebra::DMatrix;

/// The initial step relative to max(1, |t|).
pub const BASE_STEP: f64 = 1e-2;
/// Central differences need the nearer interval edge at least this fraction of the base step
/// away (twice the central step): 1e-6·max(1, |t|), so the finest central step is ≳ 1e-8 and
/// its rounding ≲ 1e-8 relative. Nearer, the differences are one-sided.
pub const MIN_CENTRAL: f64 = 1e-4;
/// Step ratio between rows of the tableau.
const SHRINK: f64 = 1.4;
/// Rows of the tableau (finest step h₀/1.4¹¹ ≈ h₀/40).
const ROWS: usize = 12;
/// The tableau stops once its diagonal moves by this many times the best error estimate.
const SAFE: f64 = 2.0;
/// Largest accepted error estimate, relative to the result (largest entry), beyond
/// [`MAX_ROUNDING`]·ε·max|f|/h: a derivative known to fewer digits is not evaluated.
pub const MAX_REL_ERROR: f64 = 1e-6;
/// Rounding noise accepted whatever the result's size (a derivative that is 0 is known to
/// rounding only), in units of ε·max|f|/h, the rounding of one difference quotient of the
/// sampled values at the step of the chosen entry. (Not of ε·scale: near a singularity the
/// magnitude scale of the samples can be so large that any error would pass.)
pub const MAX_ROUNDING: f64 = 1e3;

/// Why a derivative could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffError {
    /// The function returned NaN at a point of the stencil (it has no value there).
    #[error("d/dt: the function has no value at t = {x}")]
    NonFinite {
        /// Where.
        x: f64,
    },
    /// The function overflowed to ±∞ at a point of the stencil: its value exists, f64 does
    /// not hold it.
    #[error("d/dt: the function overflows f64 at t = {x}")]
    Overflow {
        /// Where.
        x: f64,
    },
    /// A point that is not finite or lies outside the interval, or a step that would leave it.
    #[error("d/dt: {0}")]
    Domain(String),
    /// The one-sided difference quotients do not come together as the step shrinks: a kink
    /// (relu at 0), where the derivative does not exist.
    #[error(
        "d/dt at t = {t}: not differentiable there (the one-sided differences stay {gap:.1e} \
         apart as the step shrinks: a kink)"
    )]
    Kink {
        /// The point.
        t: f64,
        /// The gap between the one-sided quotients at the smaller step.
        gap: f64,
    },
    /// The tableau's error estimate stayed too large.
    #[error(
        "d/dt at t = {t}: the differences do not converge (error estimate {error:.1e} for a \
         value of magnitude {magnitude:.1e}): not smooth at the point{edge}",
        edge = if *.one_sided { " or at the edge of its interval" } else { "" }
    )]
    NotConverged {
        /// The point.
        t: f64,
        /// The best error estimate.
        error: f64,
        /// The magnitude it was compared with.
        magnitude: f64,
        /// Whether the differences were one-sided.
        one_sided: bool,
    },
}

/// A derivative estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Derivative<S = f64> {
    /// The estimate (1×1 for a scalar function).
    pub value: DMatrix<f64>,
    /// Its error estimate (largest over the entries): the tableau's, which shows truncation and
    /// rounding alike, plus ε·`scale` (of the largest entry) in case two entries agree by chance
    /// closer than rounding.
    pub error: f64,
    /// Magnitude scale: the tableau on the samples' magnitude scales.
    pub scale: S,
    /// The initial step of the tableau used (negative for one-sided steps to the left).
    pub step: f64,
}

/// The initial step for d/dt at `t` (see the module docs): `Ok((h0, one_sided))`, with h0 < 0
/// for one-sided steps to the left.
pub fn initial_step(t: f64, domain: Option<(f64, f64)>) -> Result<(f64, bool), DiffError> {
    if !t.is_finite() {
        return Err(DiffError::Domain(format!(
            "the point t = {t} is not finite"
        )));
    }
    let base = BASE_STEP * t.abs().max(1.0);
    let Some((lo, hi)) = domain else {
        return Ok((base, false));
    };
    if !(lo <= t && t <= hi) {
        return Err(DiffError::Domain(format!(
            "t = {t} lies outside its interval {lo}..{hi}"
        )));
    }
    let (below, above) = (t - lo, hi - t);
    let near = below.min(above);
    if near >= MIN_CENTRAL * base {
        return Ok((base.min(0.5 * near), false));
    }
    let far = below.max(above);
    if far <= 0.0 {
        return Err(DiffError::Domain(format!(
            "the interval {lo}..{hi} of t has no room for a difference"
        )));
    }
    let h = base.min(0.5 * far);
    Ok((if above >= below { h } else { -h }, true))
}

/// A magnitude scale, which the tableau combines as it combines the values, with positive
/// weights: one number for the whole sample, or a matrix of the entries' magnitudes (so that
/// a product of matrices can bound its rounding entry by entry, `numeric::eval`).
pub trait Scale: Clone {
    /// `wa·self + wb·other`, for weights ≥ 0.
    fn combine(&self, wa: f64, other: &Self, wb: f64) -> Self;
    /// The largest entry's scale (the error estimate is the largest over the entries).
    fn largest(&self) -> f64;
    /// Is every entry finite?
    fn finite(&self) -> bool;
}

impl Scale for f64 {
    fn combine(&self, wa: f64, other: &Self, wb: f64) -> Self {
        wa * self + wb * other
    }
    fn largest(&self) -> f64 {
        *self
    }
    fn finite(&self) -> bool {
        self.is_finite()
    }
}

impl Scale for DMatrix<f64> {
    fn combine(&self, wa: f64, other: &Self, wb: f64) -> Self {
        self * wa + other * wb
    }
    fn largest(&self) -> f64 {
        self.amax()
    }
    fn finite(&self) -> bool {
        self.iter().all(|x| x.is_finite())
    }
}

/// d/dt of `f` at `t`, where `f` returns a matrix (1×1 for a scalar) and its magnitude scale;
/// `domain` is the variable's declared interval, if any. Errors of `f` are returned as they are;
/// the scheme's own failures (see the module docs) as `E::from(DiffError)`.
pub fn derivative<S: Scale, E: From<DiffError>>(
    t: f64,
    domain: Option<(f64, f64)>,
    mut f: impl FnMut(f64) -> Result<(DMatrix<f64>, S), E>,
) -> Result<Derivative<S>, E> {
    let (h0, one_sided) = initial_step(t, domain)?;
    let mut failure = None;
    // One-sided differences get no retry: at an edge where the function is not smooth, smaller
    // steps only hide the non-convergence (√h behaviour looks converged at tiny h).
    let attempts = if one_sided { 1 } else { ATTEMPTS };
    for attempt in 0..attempts {
        let h = h0 * RETRY_SHRINK.powi(attempt);
        match tableau(t, domain, h, one_sided, &mut f)? {
            Ok(d) if !one_sided => {
                return match kink(t, h, &mut f)? {
                    Slopes::Kink(k) => Err(k.into()),
                    Slopes::Apart(gap) => Ok(Derivative {
                        error: d.error.max(0.5 * gap),
                        ..d
                    }),
                    Slopes::Together => Ok(d),
                }
            }
            Ok(d) => return Ok(d),
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.expect("at least one attempt").into())
}

/// Step ratio of the kink test ([`kink`]).
const KINK_SHRINK: f64 = 0.1;

/// What the one-sided quotients at a point say (see [`kink`]).
enum Slopes {
    /// They come together as the step shrinks: the derivative exists.
    Together,
    /// They stay apart by the gap, which is too small beside the quotients to call a kink
    /// (10⁻⁷ of them, where rounding may be at play): the derivative is known within half the
    /// gap at best (the central scheme gives the mean of the two slopes with an error estimate
    /// that does not see them: F″ of a²/2 + 10⁻⁷·relu(a)²/2 near 0 came out 1 + 5·10⁻⁸ ± 4·10⁻¹³,
    /// and a true F″ = 1 + 10⁻⁷·step(a) was refuted).
    Apart(f64),
    /// A kink: the derivative does not exist.
    Kink(DiffError),
}

/// A central scheme converges at a kink, to the mean of the one-sided derivatives (relu′(0)
/// = ½): the one-sided quotients at step `h`·10⁻² and ten times less are compared. Where the
/// function is differentiable their gap, about h·|f″|, falls with the step (tenfold); at a
/// kink it stays. A gap that falls by less than half and stands above rounding (100·ε·|f|/h)
/// and 10⁻⁶ of the quotients is a kink: the derivative does not exist there; one above rounding
/// only leaves the derivative uncertain by half of it.
fn kink<S: Scale, E: From<DiffError>>(
    t: f64,
    h: f64,
    f: &mut impl FnMut(f64) -> Result<(DMatrix<f64>, S), E>,
) -> Result<Slopes, E> {
    let (f0, s0) = f(t)?;
    let mut gaps = vec![];
    let mut floor = 0.0f64;
    let mut rounded = 0.0f64;
    for k in 1..=2 {
        let step = h * 1e-2 * KINK_SHRINK.powi(k - 1);
        let step = (t + step) - t;
        if step == 0.0 {
            return Ok(Slopes::Together);
        }
        let (fp, sp) = f(t + step)?;
        let (fm, sm) = f(t - step)?;
        if !(fp.iter().chain(fm.iter()).all(|v| v.is_finite())) {
            return Ok(Slopes::Together);
        }
        let forward = (&fp - &f0) / step;
        let backward = (&f0 - &fm) / step;
        let gap = (&forward - &backward).amax();
        let size = forward.amax().max(backward.amax());
        let rounding =
            100.0 * f64::EPSILON * s0.largest().max(sp.largest()).max(sm.largest()) / step;
        floor = floor.max(rounding + 1e-6 * size);
        rounded = rounded.max(rounding);
        gaps.push(gap);
    }
    let (g1, g2) = (gaps[0], gaps[1]);
    let stays = g2 > 0.5 * g1;
    Ok(if stays && g2 > floor {
        Slopes::Kink(DiffError::Kink { t, gap: g2 })
    } else if stays && g2 > rounded {
        Slopes::Apart(g2)
    } else {
        Slopes::Together
    })
}

/// Central tableaux tried, each starting from a step [`RETRY_SHRINK`] times the last: a function
/// that varies on a scale far below the initial step (exp(λt) with a large λ) gets a second
/// chance.
const ATTEMPTS: i32 = 3;
/// Ratio of the initial steps of successive tableaux.
const RETRY_SHRINK: f64 = 1e-2;

/// One Ridders tableau from step `h0`: `Ok(Err(NotConverged))` when its error estimate is too
/// large, `Err` for every other failure.
fn tableau<S: Scale, E: From<DiffError>>(
    t: f64,
    domain: Option<(f64, f64)>,
    h0: f64,
    one_sided: bool,
    f: &mut impl FnMut(f64) -> Result<(DMatrix<f64>, S), E>,
) -> Result<Result<Derivative<S>, DiffError>, E> {
    let (lo, hi) = domain.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    // The largest sample value (entry) so far.
    let mut largest: f64 = 0.0;
    let mut sample = |x: f64| -> Result<(DMatrix<f64>, S), E> {
        if !(lo <= x && x <= hi) {
            return Err(DiffError::Domain(format!(
                "a step from t = {t} leaves the interval {lo}..{hi} (at {x})"
            ))
            .into());
        }
        let (m, s) = f(x)?;
        if m.iter().all(|v| v.is_finite()) && s.finite() {
            largest = largest.max(m.amax());
            Ok((m, s))
        } else if m.iter().any(|v| v.is_nan()) {
            Err(DiffError::NonFinite { x }.into())
        } else {
            Err(DiffError::Overflow { x }.into())
        }
    };
    let centre = if one_sided { Some(sample(t)?) } else { None };
    // Row i: the difference quotient at step h0/1.4ⁱ and its magnitude scale.
    let mut quotient = |h: f64| -> Result<(DMatrix<f64>, S), E> {
        // The step that is representable around t.
        let h = (t + h) - t;
        match &centre {
            Some((f0, s0)) => {
                let (fp, sp) = sample(t + h)?;
                let w = 1.0 / h.abs();
                Ok(((fp - f0) / h, sp.combine(w, s0, w)))
            }
            None => {
                let (fp, sp) = sample(t + h)?;
                let (fm, sm) = sample(t - h)?;
                let w = 1.0 / (2.0 * h);
                Ok(((fp - fm) / (2.0 * h), sp.combine(w, &sm, w)))
            }
        }
    };
    // Extrapolation factor of column 1 (each further column multiplies it once more).
    let ratio = if one_sided { SHRINK } else { SHRINK * SHRINK };
    let diff = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).amax();
    let (first, first_scale) = quotient(h0)?;
    let mut prev: Vec<(DMatrix<f64>, S)> = vec![(first.clone(), first_scale.clone())];
    let mut best = (first, f64::INFINITY, first_scale);
    // The step of the row of the best entry.
    let mut best_h = h0;
    let mut h = h0;
    for _ in 1..ROWS {
        h /= SHRINK;
        let mut row = vec![quotient(h)?];
        let mut fac = ratio;
        for j in 1..=prev.len() {
            let (a, sa) = &row[j - 1];
            let (b, sb) = &prev[j - 1];
            let t_ij = (a * fac - b) / (fac - 1.0);
            let s_ij = sa.combine(fac / (fac - 1.0), sb, 1.0 / (fac - 1.0));
            let e = diff(&t_ij, a).max(diff(&t_ij, b));
            if e <= best.1 {
                best = (t_ij.clone(), e, s_ij.clone());
                best_h = h;
            }
            row.push((t_ij, s_ij));
            fac *= ratio;
        }
        let moved = diff(&row[row.len() - 1].0, &prev[prev.len() - 1].0);
        prev = row;
        if moved >= SAFE * best.1 {
            break;
        }
    }
    let (value, tableau_error, scale) = best;
    // Two entries can agree by chance closer than their rounding: add ε·scale, the rounding
    // error of a difference quotient of exactly computed samples.
    let error = tableau_error + f64::EPSILON * scale.largest();
    let magnitude = value.amax();
    let bound = MAX_REL_ERROR * magnitude + MAX_ROUNDING * f64::EPSILON * largest / best_h.abs();
    if error.is_nan() || error > bound {
        return Ok(Err(DiffError::NotConverged {
            t,
            error,
            magnitude,
            one_sided,
        }));
    }
    Ok(Ok(Derivative {
        value,
        error,
        scale,
        step: h0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::portable::Portable;

    /// d/dt of a scalar function, no interval.
    fn d(
        f: impl Fn(f64) -> f64,
        t: f64,
        domain: Option<(f64, f64)>,
    ) -> Result<Derivative, DiffError> {
        derivative(t, domain, |x| {
            let v = f(x);
            Ok::<_, DiffError>((DMatrix::from_element(1, 1, v), v.abs()))
        })
    }

    #[test]
    fn accurate_for_smooth_functions() {
        type Case<'a> = (&'a dyn Fn(f64) -> f64, f64, f64);
        let cases: [Case; 5] = [
            (&|x: f64| x.pexp(), 0.7, 0.7f64.pexp()),
            (&|x: f64| x.psin(), 2.0, 2.0f64.pcos()),
            (&|x: f64| 1.0 / (1.0 + x * x), -0.3, 0.6 / (1.09f64 * 1.09)),
            (&|x: f64| x.pln(), 50.0, 0.02),
            (
                &|x: f64| (3.0 * x).ptanh(),
                1e-3,
                3.0 / (3e-3f64).pcosh().powi(2),
            ),
        ];
        for (f, t, want) in cases {
            let r = d(f, t, None).unwrap();
            let got = r.value[(0, 0)];
            assert!(
                (got - want).abs() < 1e-11 * want.abs().max(1.0),
                "{got} vs {want}"
            );
            // The estimate is honest: the error is within it (plus rounding of the reference).
            assert!(
                (got - want).abs() <= r.error + 1e-15 * want.abs(),
                "{got} vs {want}, error estimate {}",
                r.error
            );
            assert!(!r.step.is_sign_negative());
        }
    }

    /// The arc-cosine kernel's d/dρ near and at the edges of ρ ∈ [−1, 1].
    #[test]
    fn stays_inside_the_interval() {
        let pi = std::f64::consts::PI;
        let want = |r: f64| (pi - r.pacos()) / (2.0 * pi);
        let domain = Some((-1.0, 1.0));
        // Near the edge: a central stencil of half the distance to it, inside.
        for r in [0.999, -0.999, 0.9999, 1.0 - 1e-5] {
            let (h, one_sided) = initial_step(r, domain).unwrap();
            assert!(!one_sided && h <= 0.5 * (1.0 - r.abs()) + 1e-17, "{r}: {h}");
            // With its magnitude scale (the terms' absolute values): near ρ = −1 the two terms
            // cancel to a value far smaller than either.
            let got = derivative(r, domain, |r: f64| {
                let (a, b) = ((1.0 - r * r).sqrt(), (pi - r.pacos()) * r);
                let v = (a + b) / (2.0 * pi);
                Ok::<_, DiffError>((
                    DMatrix::from_element(1, 1, v),
                    (a.abs() + b.abs()) / (2.0 * pi),
                ))
            })
            .unwrap();
            let v = got.value[(0, 0)];
            assert!(v.is_finite());
            assert!((v - want(r)).abs() < 1e-9, "{r}: {v} vs {}", want(r));
            // Honest as the tolerance uses it: the tableau's estimate plus the rounding allowance
            // on the scale (acos near ±1 amplifies the rounding of its argument ~20×, which no
            // magnitude scale sees).
            let allowed = got.error + crate::numeric::tolerance::SCALE * got.scale;
            assert!(
                (v - want(r)).abs() <= allowed,
                "{r}: error {:e}, estimate {:e}, allowed {allowed:e}",
                (v - want(r)).abs(),
                got.error
            );
        }
        // Nearer than MIN_CENTRAL·h₀: one-sided, into the interval.
        assert_eq!(initial_step(1.0 - 1e-9, domain).unwrap(), (-0.01, true));
        assert_eq!(initial_step(-1.0, domain).unwrap(), (0.01, true));
        // A smooth function one-sided at the edge: accurate.
        let e = d(|x| x.pexp(), 1.0, Some((0.0, 1.0))).unwrap();
        assert!((e.value[(0, 0)] - 1f64.pexp()).abs() < 1e-9, "{e:?}");
        assert!(e.step < 0.0);
        // A sample outside the interval is never taken.
        let outside = derivative(0.0, Some((0.0, 1.0)), |x| {
            assert!((0.0..=1.0).contains(&x), "sampled at {x}");
            Ok::<_, DiffError>((DMatrix::from_element(1, 1, x * x), x * x))
        });
        assert!(outside.unwrap().value[(0, 0)].abs() < 1e-12);
    }

    #[test]
    fn failures_are_errors() {
        // A non-finite sample (ln below 0).
        let r = d(|x| x.pln(), 0.005, None);
        assert!(matches!(r, Err(DiffError::NonFinite { .. })), "{r:?}");
        // Not smooth at the edge it is differentiated from: the arc-cosine kernel at ρ = 1
        // (a (1 − ρ)^(3/2) term): the one-sided differences converge like √h, not like a series.
        let pi = std::f64::consts::PI;
        let f = |r: f64| ((1.0 - r * r).max(0.0).sqrt() + (pi - r.pacos()) * r) / (2.0 * pi);
        let r = d(f, 1.0, Some((-1.0, 1.0)));
        assert!(
            matches!(
                r,
                Err(DiffError::NotConverged {
                    one_sided: true,
                    ..
                })
            ),
            "{r:?}"
        );
        // A jump inside every stencil: the differences grow like 1/h.
        let r = d(|x: f64| if x > 1e-7 { 1.0 } else { 0.0 }, 0.0, None);
        assert!(matches!(r, Err(DiffError::NotConverged { .. })), "{r:?}");
        // Outside the interval, not finite, no room.
        assert!(matches!(
            d(|x| x, 2.0, Some((0.0, 1.0))),
            Err(DiffError::Domain(_))
        ));
        assert!(matches!(
            d(|x| x, f64::NAN, None),
            Err(DiffError::Domain(_))
        ));
        assert!(matches!(
            d(|x| x, 1.0, Some((1.0, 1.0))),
            Err(DiffError::Domain(_))
        ));
        // The function's own errors come back unchanged.
        #[derive(Debug, PartialEq)]
        enum Mine {
            Boom,
            Diff(DiffError),
        }
        impl From<DiffError> for Mine {
            fn from(e: DiffError) -> Self {
                Mine::Diff(e)
            }
        }
        let r = derivative(0.0, None, |_| Err::<(DMatrix<f64>, f64), _>(Mine::Boom));
        assert_eq!(r, Err(Mine::Boom));
    }
}
