//! Where a one-dimensional numeric method looks closer: the zeros of the subterms that vary along
//! its variable (a kink of relu(s − c), the peak of exp(−10⁸·(s − 0.3)²)), pieces graded towards
//! them, and a golden-section refinement. Used by the quadrature of integrals and of
//! expectations over one entry (`eval.rs`) and by the inequality search
//! (`derivation/violation.rs`).

/// Where a one-dimensional quadrature cuts its range (an integral's, or an expectation's over
/// one Gaussian entry): the zeros of subterms that vary along it (`value(id, x)`; `None` where
/// one cannot be evaluated). A kink of relu(s − c), the peak of exp(−10⁸·(s − 0.3)²) or of
/// exp(−10⁶·(sin s − ½)²) sits at such a zero. Found on a grid of [`ZERO_GRID`] intervals over
/// `lo..hi` (`cells` intervals: [`ZERO_GRID`] for quadrature): sign changes between non-zero values
/// (±∞ included; NaN is `None`), refined by bisection, and zeros the subterm
/// touches without changing sign (a local minimum of |y| below [`TOUCH`] of its largest value
/// on the grid, refined by golden section: (s − 0.3)² written 0.09 + s² − 0.6·s). A subterm
/// with more than [`MAX_CUTS`]/2 zeros oscillates (sin(1000·s)) and gives none; at most
/// [`MAX_CUTS`] in all, sorted.
pub(crate) fn feature_cuts<I: Copy>(
    ids: &[I],
    lo: f64,
    hi: f64,
    cells: usize,
    mut value: impl FnMut(I, f64) -> Option<f64>,
) -> Vec<f64> {
    let mut cuts = vec![];
    for &id in ids {
        let (own, _, _) = subterm_zeros(id, lo, hi, cells, &mut value);
        if own.len() <= MAX_CUTS / 2 {
            cuts.extend(own);
        }
        if cuts.len() > MAX_CUTS {
            break;
        }
    }
    finish(cuts, lo, hi, MAX_CUTS)
}

/// Where a quadrature over `lo..hi` cuts its range: the zeros of every subterm, as
/// [`feature_cuts`] finds them on `cells` intervals, none dropped. A quadrature's nodes see a
/// narrow feature only where it is cut at (exp(−2·10⁷·(sin 250s − ½)²) has 80 bumps of width
/// 10⁻⁶ on 0..1), so a subterm whose zeros cannot all be cut at leaves the quadrature
/// unresolved: `Err` with the subterm and what it showed, when it has more than `cells`/4 zeros
/// (fewer than four intervals per zero, and the grid may step over some), or when a second grid
/// of 13/8·`cells` + 1 intervals sees its sign change a different number of times (it oscillates
/// in step with the grid: cos(1024πs) is 1 at every point of a 512-interval grid of 0..1, and on
/// a grid of 511 it looks like one slow cycle, so a second grid of nearly the same step would
/// not tell).
///
/// Where `peaks(id)`, the subterm's local extrema are cut at too (a narrow feature also sits
/// where a subterm peaks without vanishing: sin(s)^(10¹²) is a spike of width 10⁻⁶ where
/// sin s = 1), returned apart from the zeros (gauss(…) cuts at the extrema only of the bases of
/// steep powers: its curves' extrema are many and seldom narrow); more than `cells`/4 of them
/// leave the quadrature unresolved as well.
pub(crate) fn quadrature_cuts<I: Copy>(
    ids: &[I],
    lo: f64,
    hi: f64,
    cells: usize,
    peaks: impl Fn(I) -> bool,
    mut value: impl FnMut(I, f64) -> Option<f64>,
) -> Result<Cuts, (I, Unresolved)> {
    let mut cuts = vec![];
    let mut tops = vec![];
    for &id in ids {
        let (own, fine, extrema) = subterm_zeros(id, lo, hi, cells, &mut value);
        if own.len() > cells / 4 {
            return Err((id, Unresolved::Zeros(own.len(), cells)));
        }
        if peaks(id) {
            if extrema.len() > cells / 4 {
                return Err((id, Unresolved::Extrema(extrema.len(), cells)));
            }
            tops.extend(extrema);
        }
        let alias = cells * 13 / 8 + 1;
        let grid = (0..=alias).map(|k| value(id, lo + (hi - lo) * k as f64 / alias as f64));
        let other = sign_changes(grid);
        if fine.abs_diff(other) > 2 + fine / 8 {
            return Err((id, Unresolved::Aliased(fine, other, cells)));
        }
        cuts.extend(own);
    }
    Ok(Cuts {
        zeros: finish(cuts, lo, hi, usize::MAX),
        peaks: finish(tops, lo, hi, usize::MAX),
    })
}

/// Where [`quadrature_cuts`] cuts a range: the subterms' zeros and their extrema, each sorted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cuts {
    /// Zeros (sign changes and zeros touched).
    pub zeros: Vec<f64>,
    /// Local extrema (of the subterms asked for).
    pub peaks: Vec<f64>,
}

impl Cuts {
    /// The pieces' inner ends: the zeros and the extrema, graded towards ([`graded`]; a cut
    /// alone is not enough: Gauss–Kronrod never samples a piece's end, and the peak of
    /// sin(w)^(10¹²) at an end was missed), sorted.
    /// An extremum is graded towards down to [`PEAK_GRADING_STEPS`], and not where it is a zero
    /// already (the minimum of (s − 0.3)², found twice).
    pub fn graded(&self, lo: f64, hi: f64) -> Vec<f64> {
        let near_zero = |x: &f64| {
            self.zeros
                .iter()
                .any(|z| (z - x).abs() <= SAME_POINT * (hi - lo))
        };
        let peaks: Vec<f64> = self
            .peaks
            .iter()
            .copied()
            .filter(|x| !near_zero(x))
            .collect();
        let mut out = graded(&self.zeros, lo, hi);
        out.extend(graded_to(&peaks, lo, hi, PEAK_GRADING_STEPS));
        out.sort_by(f64::total_cmp);
        out.dedup_by(|x, y| (*x - *y).abs() <= 1e-13 * (hi - lo));
        out
    }

    /// Zeros and extrema together, sorted.
    pub fn all(&self) -> Vec<f64> {
        let mut out = self.zeros.clone();
        out.extend(&self.peaks);
        out.sort_by(f64::total_cmp);
        out
    }
}

/// Why a quadrature's range could not be cut at every feature ([`quadrature_cuts`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unresolved {
    /// The subterm has this many zeros on the grid of so many intervals.
    Zeros(usize, usize),
    /// The subterm has this many local extrema on the grid of so many intervals.
    Extrema(usize, usize),
    /// Its sign changes this many times on the grid of the last so many intervals, and that
    /// many on the second grid (13/8 as many intervals, plus one).
    Aliased(usize, usize, usize),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::Zeros(n, cells) => write!(
                f,
                "has {n} zeros in the range (at most {} are cut at, a quarter of the {cells} intervals its zeros are searched on)",
                cells / 4
            ),
            Unresolved::Extrema(n, cells) => write!(
                f,
                "has {n} local extrema in the range (at most {} are cut at, a quarter of the {cells} intervals they are searched on)",
                cells / 4
            ),
            Unresolved::Aliased(a, b, cells) => write!(
                f,
                "oscillates in step with the grid its zeros are searched on (its sign changes {a} times on {cells} intervals, {b} times on {})",
                cells * 13 / 8 + 1
            ),
        }
    }
}

/// How often a sequence of values changes sign between non-zero values (an undefined value
/// breaks the sequence).
fn sign_changes(values: impl Iterator<Item = Option<f64>>) -> usize {
    let mut prev: Option<f64> = None;
    let mut n = 0;
    for y in values {
        match y {
            Some(y) if y != 0.0 => {
                if prev.is_some_and(|p| p.signum() != y.signum()) {
                    n += 1;
                }
                prev = Some(y);
            }
            Some(_) => {}
            None => prev = None,
        }
    }
    n
}

/// The zeros of one subterm on `cells` intervals of `lo..hi` (see [`feature_cuts`]), how
/// often its sign changes on that grid, and its local extrema there (refined by golden
/// section): a narrow feature also sits where a subterm peaks without vanishing (sin(s)^(10¹²)
/// is a spike of width 10⁻⁶ where sin s = 1). An extremum counts where it stands out of its
/// neighbours by more than [`PROMINENCE`] of the subterm's largest value on the grid (not the
/// rounding of sin²s + cos²s).
fn subterm_zeros<I: Copy>(
    id: I,
    lo: f64,
    hi: f64,
    cells: usize,
    value: &mut impl FnMut(I, f64) -> Option<f64>,
) -> (Vec<f64>, usize, Vec<f64>) {
    let mut own = vec![];
    let grid: Vec<(f64, Option<f64>)> = (0..=cells)
        .map(|k| {
            let x = lo + (hi - lo) * k as f64 / cells as f64;
            (x, value(id, x))
        })
        .collect();
    let changes = sign_changes(grid.iter().map(|(_, y)| *y));
    // An infinite value (an overflow: exp(a) beyond a = 709.8) has a sign, where a sign
    // change may sit (exp(a) − 10³⁰⁰), but no size the touch threshold could scale with.
    let largest = grid
        .iter()
        .filter_map(|(_, y)| y.map(f64::abs).filter(|y| y.is_finite()))
        .fold(0.0, f64::max);
    if largest == 0.0 {
        return (own, changes, vec![]);
    }
    // Sign changes between non-zero values (a zero on the grid lies between them).
    let mut prev: Option<(f64, f64)> = None;
    for &(x, y) in &grid {
        let Some(y) = y.filter(|y| *y != 0.0) else {
            if y.is_none() {
                prev = None;
            }
            continue;
        };
        if let Some((x0, y0)) = prev {
            if y0.signum() != y.signum() {
                let (mut a, mut b, ya) = (x0, x, y0);
                for _ in 0..60 {
                    let m = 0.5 * (a + b);
                    if m == a || m == b {
                        break;
                    }
                    match value(id, m) {
                        Some(ym) if ym != 0.0 && ym.signum() == ya.signum() => a = m,
                        Some(ym) if ym != 0.0 => b = m,
                        Some(_) => {
                            (a, b) = (m, m);
                            break;
                        }
                        None => break,
                    }
                }
                own.push(0.5 * (a + b));
            }
        }
        prev = Some((x, y));
    }
    // Zeros touched without a sign change.
    for k in 1..cells {
        let (Some(l), Some(m), Some(r)) = (grid[k - 1].1, grid[k].1, grid[k + 1].1) else {
            continue;
        };
        let (l, m, r) = (l.abs(), m.abs(), r.abs());
        // A plateau (m = l = r: −10³⁰⁰ + exp(a) far below the overflow) touches nothing.
        let strict = m < l || m < r;
        if !(m <= l && m <= r && strict && m < TOUCH * largest) || m == 0.0 && l == 0.0 {
            continue;
        }
        let best = golden_min(
            |x| value(id, x).map(f64::abs),
            (grid[k - 1].0, grid[k + 1].0),
            (m, grid[k].0),
            80,
        );
        own.push(best.1);
    }
    let mut extrema = vec![];
    for k in 1..cells {
        let (Some(l), Some(m), Some(r)) = (grid[k - 1].1, grid[k].1, grid[k + 1].1) else {
            continue;
        };
        if !(l.is_finite() && m.is_finite() && r.is_finite()) {
            continue;
        }
        let sign = if m > l.max(r) {
            1.0
        } else if m < l.min(r) {
            -1.0
        } else {
            continue;
        };
        if (m - l).abs().min((m - r).abs()) <= PROMINENCE * largest {
            continue;
        }
        let best = golden_min(
            |x| value(id, x).map(|y| -sign * y).filter(|y| y.is_finite()),
            (grid[k - 1].0, grid[k + 1].0),
            (-sign * m, grid[k].0),
            80,
        );
        extrema.push(best.1);
    }
    (own, changes, extrema)
}

/// How far a subterm's value at a grid point must stand out of both neighbours, relative to its
/// largest value on the grid, to count as a local extremum ([`subterm_zeros`]): 10⁻¹⁰, far above
/// the rounding of a constant computed as sin²s + cos²s (10⁻¹⁶), far below the rise of sin s
/// over one step of a 512-interval grid of 0..2 (8·10⁻⁶).
pub(crate) const PROMINENCE: f64 = 1e-10;

/// The cuts inside `lo..hi`, sorted, without near duplicates, at most `most`.
fn finish(mut cuts: Vec<f64>, lo: f64, hi: f64, most: usize) -> Vec<f64> {
    cuts.retain(|x| *x > lo && *x < hi);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|x, y| (*x - *y).abs() <= 1e-12 * (hi - lo));
    cuts.truncate(most);
    cuts
}

/// Golden-section search for the least value of `f` on `[a, b]`, for `steps` steps, starting
/// from the known point `best` (value, where); stops where `f` has no value. Returns the least
/// value seen and where.
pub(crate) fn golden_min(
    mut f: impl FnMut(f64) -> Option<f64>,
    (mut a, mut b): (f64, f64),
    mut best: (f64, f64),
    steps: usize,
) -> (f64, f64) {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..steps {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        let (Some(yc), Some(yd)) = (f(c), f(d)) else {
            break;
        };
        if yc < best.0 {
            best = (yc, c);
        }
        if yd < best.0 {
            best = (yd, d);
        }
        if yc <= yd {
            b = d;
        } else {
            a = c;
        }
    }
    best
}

/// The cuts with pieces graded towards each (its feature's width is unknown: 10⁻⁹ of the range
/// is as likely as 10⁻¹), 4⁻ᵏ of the range on either side for k ≤ [`GRADING_STEPS`], sorted,
/// inside `lo..hi`.
pub(crate) fn graded(cuts: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    graded_to(cuts, lo, hi, GRADING_STEPS)
}

/// [`graded`] down to 4⁻ˢᵗᵉᵖˢ of the range.
fn graded_to(cuts: &[f64], lo: f64, hi: f64, steps: usize) -> Vec<f64> {
    let mut out = cuts.to_vec();
    for c in cuts {
        for k in 1..=steps {
            let d = (hi - lo) * 0.25f64.powi(k as i32);
            out.extend([c - d, c + d].into_iter().filter(|x| *x > lo && *x < hi));
        }
    }
    out.sort_by(f64::total_cmp);
    out.dedup_by(|x, y| (*x - *y).abs() <= 1e-13 * (hi - lo));
    out
}

/// A local minimum of |y| below this fraction of its largest value on the grid is a zero the
/// subterm touches ([`feature_cuts`]).
pub(crate) const TOUCH: f64 = 1e-3;

/// Intervals of the grid on which an integral's subterms are searched for zeros
/// ([`feature_cuts`]).
pub(crate) const ZERO_GRID: usize = 512;
/// Most zeros the inequality search cuts a range at.
pub(crate) const MAX_CUTS: usize = 64;

/// Pieces graded geometrically (by 4) towards each zero on either side: down to 4⁻²⁰ ≈ 10⁻¹²
/// of the range.
pub(crate) const GRADING_STEPS: usize = 20;

/// … and towards each extremum down to 4⁻¹³ ≈ 1.5·10⁻⁸ of the range: f64 locates an extremum
/// only to about √ε ≈ 1.5·10⁻⁸ of its scale (sin(π/2 + δ) rounds to 1 for |δ| < 10⁻⁸), so a
/// peak there is no narrower than that on the grid of values f64 can tell apart.
pub(crate) const PEAK_GRADING_STEPS: usize = 13;

/// Zeros and extrema closer than this fraction of the range are one point (the minimum of
/// (s − 0.3)² is found as a zero touched and as an extremum, by two golden-section searches).
const SAME_POINT: f64 = 1e-8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::portable::Portable;

    /// A quadrature cuts at every zero it can, and refuses what it cannot resolve: too many
    /// zeros, or an oscillation in step with the grid (cos(1024πs) is 1 at every point of a
    /// 512-interval grid of 0..1, so that grid alone sees no zero at all).
    #[test]
    fn quadrature_cuts_refuse_what_they_cannot_resolve() {
        let pi = std::f64::consts::PI;
        let few = quadrature_cuts(
            &[0],
            0.0,
            1.0,
            ZERO_GRID,
            |_| true,
            |_, s| Some((20.0 * pi * s).psin()),
        )
        .unwrap();
        assert_eq!((few.zeros.len(), few.peaks.len()), (19, 20));
        let many = quadrature_cuts(
            &[0],
            0.0,
            1.0,
            ZERO_GRID,
            |_| true,
            |_, s| Some((500.0 * pi * s).psin()),
        );
        assert!(matches!(many, Err((0, Unresolved::Zeros(..)))), "{many:?}");
        let in_step = |_, s: f64| Some((1024.0 * pi * s).pcos() - 0.5);
        assert!(
            subterm_zeros(0, 0.0, 1.0, ZERO_GRID, &mut { in_step })
                .0
                .len()
                < 8
        );
        let aliased = quadrature_cuts(&[0], 0.0, 1.0, ZERO_GRID, |_| true, in_step);
        assert!(
            matches!(aliased, Err((0, Unresolved::Aliased(..)))),
            "{aliased:?}"
        );
    }

    /// A subterm that peaks without vanishing is cut at its peak (sin(s)^(10¹²) is a spike
    /// where sin s = 1), and the rounding of a constant is no extremum.
    #[test]
    fn quadrature_cuts_at_extrema() {
        let half_pi = std::f64::consts::FRAC_PI_2;
        let cuts = quadrature_cuts(&[0], 0.0, 2.0, ZERO_GRID, |_| true, |_, s| Some(s.psin()))
            .unwrap()
            .peaks;
        assert_eq!(cuts.len(), 1, "{cuts:?}");
        assert!((cuts[0] - half_pi).abs() < 1e-7, "{cuts:?}");
        let flat = quadrature_cuts(
            &[0],
            0.0,
            2.0,
            ZERO_GRID,
            |_| true,
            |_, s| Some(s.psin() * s.psin() + s.pcos() * s.pcos()),
        )
        .unwrap();
        assert!(flat.peaks.is_empty(), "{flat:?}");
    }
}
