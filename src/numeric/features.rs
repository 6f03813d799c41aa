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
        let mut own = vec![];
        let grid: Vec<(f64, Option<f64>)> = (0..=cells)
            .map(|k| {
                let x = lo + (hi - lo) * k as f64 / cells as f64;
                (x, value(id, x))
            })
            .collect();
        // An infinite value (an overflow: exp(a) beyond a = 709.8) has a sign, where a sign
        // change may sit (exp(a) − 10³⁰⁰), but no size the touch threshold could scale with.
        let largest = grid
            .iter()
            .filter_map(|(_, y)| y.map(f64::abs).filter(|y| y.is_finite()))
            .fold(0.0, f64::max);
        if largest == 0.0 {
            continue;
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
        if own.len() <= MAX_CUTS / 2 {
            cuts.extend(own);
        }
        if cuts.len() > MAX_CUTS {
            break;
        }
    }
    cuts.retain(|x| *x > lo && *x < hi);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|x, y| (*x - *y).abs() <= 1e-12 * (hi - lo));
    cuts.truncate(MAX_CUTS);
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
    let mut out = cuts.to_vec();
    for c in cuts {
        for k in 1..=GRADING_STEPS {
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
/// Most zeros an integral's range is cut at.
pub(crate) const MAX_CUTS: usize = 64;
/// Pieces graded geometrically (by 4) towards each zero on either side: down to 4⁻²⁰ ≈ 10⁻¹²
/// of the range.
pub(crate) const GRADING_STEPS: usize = 20;
