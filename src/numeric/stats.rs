//! Sample statistics for Monte Carlo checks: means, standard errors, confidence intervals with
//! Bonferroni correction, and least-squares log–log fits of a discrepancy against a size.
//!
//! Policy: an interval is only produced from at least [`MIN_SAMPLES`] finite samples with a
//! strictly positive standard error. A zero spread almost always means a degenerate simulation
//! (every sample identical, e.g. a dead network), and an interval of width zero would claim an
//! exactness that Monte Carlo cannot certify; the caller gets [`StatsError::ZeroStandardError`].

use crate::numeric::portable::Portable;
use nalgebra::{DMatrix, DVector};
use statrs::distribution::{ContinuousCDF, FisherSnedecor, Normal, StudentsT};

/// The fewest samples from which a confidence interval is formed.
pub const MIN_SAMPLES: usize = 3;

/// Why a statistic could not be formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Fewer samples than the statistic needs.
    #[error("need at least {needed} samples, got {got}")]
    TooFewSamples {
        /// How many are needed.
        needed: usize,
        /// How many were given.
        got: usize,
    },
    /// A sample is NaN or infinite.
    #[error("sample {index} is not finite ({value})")]
    NonFinite {
        /// Position of the offending sample.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// All samples are equal, so the standard error is zero and no interval can be certified.
    #[error("the standard error is zero (all {n} samples equal {value}); cannot form an interval")]
    ZeroStandardError {
        /// Number of samples.
        n: usize,
        /// The common value.
        value: f64,
    },
    /// A confidence level outside (0, 1).
    #[error("confidence level must lie strictly between 0 and 1, got {0}")]
    InvalidLevel(f64),
    /// Zero comparisons for a Bonferroni correction.
    #[error("the number of comparisons must be at least 1")]
    NoComparisons,
    /// A log–log fit was given a non-positive value.
    #[error("log–log fit needs positive values; point {index} is ({x}, {y})")]
    NonPositive {
        /// Position of the offending point.
        index: usize,
        /// Its abscissa.
        x: f64,
        /// Its ordinate.
        y: f64,
    },
    /// The abscissae of a fit are all equal (or the two slices differ in length).
    #[error("degenerate fit: {0}")]
    DegenerateFit(&'static str),
}

/// Which reference distribution turns a standard error into an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantile {
    /// Student's t with n − 1 degrees of freedom (exact for Gaussian samples; the safe default).
    #[default]
    StudentT,
    /// The standard normal (large-sample approximation).
    Normal,
}

/// A symmetric confidence interval `center ± half_width`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceInterval {
    /// The point estimate.
    pub center: f64,
    /// Half the width of the interval.
    pub half_width: f64,
    /// The per-comparison coverage actually used (after any Bonferroni correction).
    pub level: f64,
}

impl ConfidenceInterval {
    /// Lower end.
    pub fn lo(&self) -> f64 {
        self.center - self.half_width
    }
    /// Upper end.
    pub fn hi(&self) -> f64 {
        self.center + self.half_width
    }
    /// Is `x` inside the closed interval?
    pub fn contains(&self, x: f64) -> bool {
        self.lo() <= x && x <= self.hi()
    }
}

fn check_finite(xs: &[f64]) -> Result<(), StatsError> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

fn check_len(n: usize, needed: usize) -> Result<(), StatsError> {
    if n < needed {
        Err(StatsError::TooFewSamples { needed, got: n })
    } else {
        Ok(())
    }
}

/// The arithmetic mean of at least one finite sample.
pub fn mean(xs: &[f64]) -> Result<f64, StatsError> {
    check_len(xs.len(), 1)?;
    check_finite(xs)?;
    Ok(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The sample standard deviation (divisor n − 1) of at least two finite samples.
pub fn std_dev(xs: &[f64]) -> Result<f64, StatsError> {
    check_len(xs.len(), 2)?;
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Ok((ss / (xs.len() - 1) as f64).sqrt())
}

/// The standard error of the mean, s/√n, of at least two finite samples (may be zero).
pub fn std_error(xs: &[f64]) -> Result<f64, StatsError> {
    Ok(std_dev(xs)? / (xs.len() as f64).sqrt())
}

/// The Bonferroni-corrected per-comparison level: with m comparisons at family level `level`,
/// each interval uses 1 − (1 − level)/m, so all m hold together with probability ≥ `level`.
pub fn bonferroni(level: f64, comparisons: usize) -> Result<f64, StatsError> {
    check_level(level)?;
    if comparisons == 0 {
        return Err(StatsError::NoComparisons);
    }
    Ok(1.0 - (1.0 - level) / comparisons as f64)
}

fn check_level(level: f64) -> Result<(), StatsError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidLevel(level))
    }
}

/// The two-sided critical value q with P(|T| ≤ q) = `level`, for T Student-t with `dof` degrees
/// of freedom or standard normal.
pub fn critical_value(level: f64, dof: usize, dist: Quantile) -> Result<f64, StatsError> {
    check_level(level)?;
    let p = 0.5 + 0.5 * level;
    Ok(match dist {
        Quantile::Normal => Normal::standard().inverse_cdf(p),
        Quantile::StudentT => {
            if dof == 0 {
                return Err(StatsError::TooFewSamples { needed: 2, got: 1 });
            }
            StudentsT::new(0.0, 1.0, dof as f64)
                .expect("positive degrees of freedom")
                .inverse_cdf(p)
        }
    })
}

/// Does a [`limit_fit`] misfit beyond chance? χ²/`fit_dof` of the residuals against the upper
/// `level` quantile of F(`fit_dof`, `t_dof`), the law of that ratio when the model holds and
/// the covariance is estimated with `t_dof` degrees of freedom. A misfit this large is not noise:
/// the means do not follow the model, and more draws only make the misfit plainer.
pub fn misfits(fit: &LimitFit, level: f64, t_dof: usize) -> Result<bool, StatsError> {
    check_level(level)?;
    if fit.fit_dof == 0 || t_dof == 0 {
        return Err(StatsError::TooFewSamples { needed: 2, got: 1 });
    }
    let f = FisherSnedecor::new(fit.fit_dof as f64, t_dof as f64)
        .expect("positive degrees of freedom")
        .inverse_cdf(level);
    Ok(fit.chi2 / fit.fit_dof as f64 > f)
}

/// A confidence interval for the mean of `xs` at family level `level`, Bonferroni-corrected for
/// `comparisons` simultaneous intervals (pass 1 for a single one).
///
/// Errors if there are fewer than [`MIN_SAMPLES`] samples, a sample is not finite, or the
/// standard error is zero.
pub fn confidence_interval(
    xs: &[f64],
    level: f64,
    dist: Quantile,
    comparisons: usize,
) -> Result<ConfidenceInterval, StatsError> {
    check_len(xs.len(), MIN_SAMPLES)?;
    let center = mean(xs)?;
    let se = std_error(xs)?;
    interval_from(center, se, xs.len(), level, dist, comparisons)
}

/// A confidence interval from a precomputed mean and standard error of `n` samples.
pub fn interval_from(
    center: f64,
    std_err: f64,
    n: usize,
    level: f64,
    dist: Quantile,
    comparisons: usize,
) -> Result<ConfidenceInterval, StatsError> {
    check_len(n, MIN_SAMPLES)?;
    check_finite(&[center, std_err])?;
    if std_err <= 0.0 {
        return Err(StatsError::ZeroStandardError { n, value: center });
    }
    let level = bonferroni(level, comparisons)?;
    let q = critical_value(level, n - 1, dist)?;
    Ok(ConfidenceInterval {
        center,
        half_width: q * std_err,
        level,
    })
}

/// A least-squares fit log y = intercept + slope · log x.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLogFit {
    /// The fitted exponent.
    pub slope: f64,
    /// The fitted log-prefactor.
    pub intercept: f64,
    /// The standard error of the slope, from the residuals (n − 2 degrees of freedom).
    pub slope_std_err: f64,
    /// The slope's confidence interval: t-quantile (n − 2 dof) × standard error.
    pub slope_interval: ConfidenceInterval,
    /// Number of points fitted.
    pub n: usize,
}

/// Fits log y against log x by ordinary least squares and gives the slope with a `level`
/// confidence interval. Needs at least three points with positive coordinates and two distinct x.
/// If the points lie exactly on a line the standard error is zero and this is an error (see the
/// module policy).
pub fn loglog_fit(xs: &[f64], ys: &[f64], level: f64) -> Result<LogLogFit, StatsError> {
    if xs.len() != ys.len() {
        return Err(StatsError::DegenerateFit("x and y differ in length"));
    }
    check_len(xs.len(), 3)?;
    check_finite(xs)?;
    check_finite(ys)?;
    for (index, (&x, &y)) in xs.iter().zip(ys).enumerate() {
        if x <= 0.0 || y <= 0.0 {
            return Err(StatsError::NonPositive { index, x, y });
        }
    }
    let lx: Vec<f64> = xs.iter().map(|x| x.pln()).collect();
    let ly: Vec<f64> = ys.iter().map(|y| y.pln()).collect();
    let n = lx.len();
    let mx = lx.iter().sum::<f64>() / n as f64;
    let my = ly.iter().sum::<f64>() / n as f64;
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx <= 0.0 {
        return Err(StatsError::DegenerateFit("all x are equal"));
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = lx
        .iter()
        .zip(&ly)
        .map(|(x, y)| {
            let r = y - intercept - slope * x;
            r * r
        })
        .sum();
    let dof = n - 2;
    let slope_std_err = (rss / dof as f64 / sxx).sqrt();
    if slope_std_err <= 0.0 {
        return Err(StatsError::ZeroStandardError { n, value: slope });
    }
    let q = critical_value(level, dof, Quantile::StudentT)?;
    Ok(LogLogFit {
        slope,
        intercept,
        slope_std_err,
        slope_interval: ConfidenceInterval {
            center: slope,
            half_width: q * slope_std_err,
            level,
        },
        n,
    })
}

/// A generalised least-squares fit of per-width means with a limit term,
/// `m(n) = a + Σ_k b_k·n^(p_k)`: `a` is what the quantity tends to as n → ∞.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitFit {
    /// The limit term `a`.
    pub a: f64,
    /// Its standard error (after the lack-of-fit scale factor).
    pub a_std_err: f64,
    /// Its confidence interval (Student t, `t_dof` degrees of freedom, at the given level).
    pub a_interval: ConfidenceInterval,
    /// The coefficients `b_k` of the finite-width terms, in the order of the powers.
    pub coefs: Vec<f64>,
    /// χ² of the residuals in the metric of the covariance.
    pub chi2: f64,
    /// Widths minus fitted parameters.
    pub fit_dof: usize,
    /// `√max(1, χ²/fit_dof)`: the standard errors are multiplied by it when the model fits
    /// worse than the covariance says (a misfit never narrows the interval).
    pub scale_factor: f64,
}

/// Fits `means[i] ≈ a + Σ_k b_k·widths[i]^(powers[k])` by generalised least squares with the
/// covariance `cov` of the means (widths × widths, e.g. estimated from draws that share seeds
/// across widths), and gives `a` with a `level` interval whose quantile is Student t with
/// `t_dof` degrees of freedom (those of the covariance estimate).
///
/// Needs more widths than parameters (so the misfit can be measured), finite inputs, positive
/// widths and a positive definite covariance.
pub fn limit_fit(
    widths: &[f64],
    means: &[f64],
    cov: &DMatrix<f64>,
    powers: &[f64],
    level: f64,
    t_dof: usize,
) -> Result<LimitFit, StatsError> {
    let k = widths.len();
    let params = 1 + powers.len();
    if means.len() != k || cov.shape() != (k, k) {
        return Err(StatsError::DegenerateFit(
            "widths, means and covariance differ in size",
        ));
    }
    check_len(k, params + 1)?;
    check_finite(widths)?;
    check_finite(means)?;
    check_finite(powers)?;
    check_finite(cov.as_slice())?;
    if let Some(index) = widths.iter().position(|w| *w <= 0.0) {
        return Err(StatsError::NonPositive {
            index,
            x: widths[index],
            y: means[index],
        });
    }
    // A covariance estimated from draws shared across widths can be singular in floating point
    // (nearly identical draws at two widths, or a width whose draws agree): retried with a
    // diagonal added, 10⁻¹², 10⁻⁹, 10⁻⁶ of its largest entry, which only widens the interval.
    let largest = cov.diagonal().amax();
    let chol = [0.0, 1e-12, 1e-9, 1e-6]
        .into_iter()
        .find_map(|j| {
            let mut c = cov.clone();
            for i in 0..k {
                c[(i, i)] += j * largest;
            }
            c.cholesky()
        })
        .ok_or(StatsError::DegenerateFit(
            "the covariance of the means is not positive definite",
        ))?;
    let x = DMatrix::from_fn(k, params, |i, j| {
        if j == 0 {
            1.0
        } else {
            widths[i].ppowf(powers[j - 1])
        }
    });
    let m = DVector::from_column_slice(means);
    let vinv_x = chol.solve(&x);
    let vinv_m = chol.solve(&m);
    let normal = x.transpose() * &vinv_x;
    let normal_inv = normal
        .cholesky()
        .ok_or(StatsError::DegenerateFit(
            "the widths do not determine the model",
        ))?
        .inverse();
    let beta = &normal_inv * (x.transpose() * &vinv_m);
    let resid = &m - &x * &beta;
    let chi2 = resid.dot(&chol.solve(&resid));
    let fit_dof = k - params;
    let scale_factor = (chi2 / fit_dof as f64).max(1.0).sqrt();
    let a_std_err = normal_inv[(0, 0)].max(0.0).sqrt() * scale_factor;
    check_finite(&[beta[0], a_std_err, chi2])?;
    let q = critical_value(level, t_dof, Quantile::StudentT)?;
    Ok(LimitFit {
        a: beta[0],
        a_std_err,
        a_interval: ConfidenceInterval {
            center: beta[0],
            half_width: q * a_std_err,
            level,
        },
        coefs: beta.iter().skip(1).copied().collect(),
        chi2,
        fit_dof,
        scale_factor,
    })
}

/// Samples adjusted by regression control variates.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjusted {
    /// Per sample: `y − β·c` (the controls are taken to have mean 0).
    pub values: Vec<f64>,
    /// The fitted coefficients, one per control (0 for a control that was dropped).
    pub beta: Vec<f64>,
    /// How many independent controls entered (the rank of the centred controls).
    pub used: usize,
}

/// Regression control variates: `controls[j][s]` is control j on sample s, each with mean 0
/// (exactly, or in the limit the caller is studying). β is the least-squares coefficient of the
/// centred `y` on the centred controls (minimum-norm, so constant or collinear controls drop
/// out); the adjusted samples `y_s − β·c_s` have the same mean as `y` when the controls have
/// mean 0, and a smaller variance when they are correlated with `y`. Every control must have
/// as many samples as `y`, and there must be at least `used + MIN_SAMPLES` samples, or no
/// control is used.
pub fn control_variates(y: &[f64], controls: &[Vec<f64>]) -> Result<Adjusted, StatsError> {
    let n = y.len();
    check_len(n, MIN_SAMPLES)?;
    check_finite(y)?;
    let none = || Adjusted {
        values: y.to_vec(),
        beta: vec![0.0; controls.len()],
        used: 0,
    };
    if controls.is_empty() {
        return Ok(none());
    }
    for c in controls {
        if c.len() != n {
            return Err(StatsError::DegenerateFit(
                "a control has the wrong number of samples",
            ));
        }
        check_finite(c)?;
    }
    let q = controls.len();
    let ybar = y.iter().sum::<f64>() / n as f64;
    let cbar: Vec<f64> = controls
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // Scale each control to unit spread so the rank tolerance is meaningful.
    let spread: Vec<f64> = controls
        .iter()
        .zip(&cbar)
        .map(|(c, m)| (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt())
        .collect();
    let xs = DMatrix::from_fn(n, q, |s, j| {
        if spread[j] > 0.0 {
            (controls[j][s] - cbar[j]) / spread[j]
        } else {
            0.0
        }
    });
    let ys = DVector::from_fn(n, |s, _| y[s] - ybar);
    let svd = xs.svd(true, true);
    let smax = svd.singular_values.max();
    if smax <= 0.0 {
        return Ok(none());
    }
    let tol = smax * 1e-8;
    let used = svd.singular_values.iter().filter(|s| **s > tol).count();
    if n < used + MIN_SAMPLES {
        return Ok(none());
    }
    let scaled = svd
        .solve(&ys, tol)
        .map_err(|_| StatsError::DegenerateFit("control variate regression"))?;
    let beta: Vec<f64> = (0..q)
        .map(|j| {
            if spread[j] > 0.0 {
                scaled[j] / spread[j]
            } else {
                0.0
            }
        })
        .collect();
    let values = (0..n)
        .map(|s| y[s] - (0..q).map(|j| beta[j] * controls[j][s]).sum::<f64>())
        .collect();
    Ok(Adjusted { values, beta, used })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_error() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mean(&xs).unwrap(), 2.5);
        let sd = (5.0f64 / 3.0).sqrt();
        assert!((std_dev(&xs).unwrap() - sd).abs() < 1e-15);
        assert!((std_error(&xs).unwrap() - sd / 2.0).abs() < 1e-15);
    }

    #[test]
    fn quantiles_match_tables() {
        // Normal 99.9% two-sided: 3.2905; t with 4 dof at 95%: 2.7764.
        let z = critical_value(0.999, 0, Quantile::Normal).unwrap();
        assert!((z - 3.290_526_731).abs() < 1e-8, "{z}");
        let t = critical_value(0.95, 4, Quantile::StudentT).unwrap();
        assert!((t - 2.776_445_105).abs() < 1e-8, "{t}");
    }

    #[test]
    fn bonferroni_divides_alpha() {
        assert!((bonferroni(0.95, 10).unwrap() - 0.995).abs() < 1e-15);
        assert_eq!(bonferroni(0.95, 0), Err(StatsError::NoComparisons));
        assert!(bonferroni(1.0, 2).is_err());
    }

    #[test]
    fn interval_widens_with_comparisons() {
        let xs = [1.0, 1.5, 0.7, 1.2, 0.9];
        let one = confidence_interval(&xs, 0.95, Quantile::StudentT, 1).unwrap();
        let many = confidence_interval(&xs, 0.95, Quantile::StudentT, 100).unwrap();
        assert!(many.half_width > one.half_width);
        assert!(one.contains(mean(&xs).unwrap()));
        let t = critical_value(0.95, 4, Quantile::StudentT).unwrap();
        assert!((one.half_width - t * std_error(&xs).unwrap()).abs() < 1e-15);
    }

    #[test]
    fn refuses_degenerate_samples() {
        assert_eq!(
            confidence_interval(&[2.0, 2.0, 2.0], 0.95, Quantile::Normal, 1),
            Err(StatsError::ZeroStandardError { n: 3, value: 2.0 })
        );
        assert!(matches!(
            confidence_interval(&[1.0, 2.0], 0.95, Quantile::Normal, 1),
            Err(StatsError::TooFewSamples { needed: 3, got: 2 })
        ));
        assert!(matches!(
            mean(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert!(mean(&[]).is_err());
    }

    #[test]
    fn loglog_fit_recovers_exponent() {
        let xs: [f64; 4] = [64.0, 256.0, 1024.0, 4096.0];
        // y = 3 x^-0.5 with a small multiplicative wobble.
        let wobble = [1.01, 0.99, 1.02, 0.985];
        let ys: Vec<f64> = xs
            .iter()
            .zip(wobble)
            .map(|(x, w)| 3.0 * x.ppowf(-0.5) * w)
            .collect();
        let fit = loglog_fit(&xs, &ys, 0.95).unwrap();
        assert!((fit.slope + 0.5).abs() < 0.02, "{fit:?}");
        assert!(fit.slope_interval.contains(-0.5));
        assert!(!fit.slope_interval.contains(-1.0));
        // Exact power laws have zero residuals: refused.
        let exact: Vec<f64> = xs.iter().map(|x| x.ppowf(-0.5)).collect();
        let r = loglog_fit(&xs, &exact, 0.95);
        assert!(
            matches!(r, Err(StatsError::ZeroStandardError { .. })) || r.is_ok(),
            "{r:?}"
        );
        assert!(loglog_fit(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 0.95).is_err());
        assert!(loglog_fit(&[1.0, 2.0, 3.0], &[1.0, -2.0, 3.0], 0.95).is_err());
    }
    fn widths() -> Vec<f64> {
        vec![16.0, 32.0, 64.0, 128.0, 256.0, 512.0]
    }

    #[test]
    fn limit_fit_recovers_the_limit_term() {
        let ws = widths();
        // m(n) = 0.3 + 2/√n − 5/n exactly, standard errors 1e-3/√n: a = 0.3 within rounding.
        let means: Vec<f64> = ws.iter().map(|n| 0.3 + 2.0 / n.sqrt() - 5.0 / n).collect();
        let cov = DMatrix::from_fn(6, 6, |i, j| if i == j { 1e-6 / ws[i] } else { 0.0 });
        let fit = limit_fit(&ws, &means, &cov, &[-0.5, -1.0], 0.99, 40).unwrap();
        assert!((fit.a - 0.3).abs() < 1e-12, "{fit:?}");
        assert!((fit.coefs[0] - 2.0).abs() < 1e-9 && (fit.coefs[1] + 5.0).abs() < 1e-8);
        assert_eq!(fit.scale_factor, 1.0);
        // The interval is the GLS standard error times the t quantile.
        let t = critical_value(0.99, 40, Quantile::StudentT).unwrap();
        assert!((fit.a_interval.half_width - t * fit.a_std_err).abs() < 1e-15);
        assert!(fit.a_interval.contains(0.3) && !fit.a_interval.contains(0.0));
        // Without the 1/√n term the same data put a far from 0.3.
        let short = limit_fit(&ws, &means, &cov, &[-1.0], 0.99, 40).unwrap();
        assert!((short.a - 0.3).abs() > 0.01, "{short:?}");
        assert!(
            short.scale_factor > 10.0,
            "a misfit widens the interval: {short:?}"
        );
    }

    #[test]
    fn limit_fit_refuses_what_it_cannot_fit() {
        let ws = widths();
        let cov = DMatrix::identity(6, 6);
        let m = vec![0.0; 6];
        // Three parameters need four widths.
        assert!(limit_fit(
            &ws[..3],
            &m[..3],
            &DMatrix::identity(3, 3),
            &[-0.5, -1.0],
            0.9,
            5
        )
        .is_err());
        // A singular covariance, a NaN mean, a non-positive width.
        assert!(limit_fit(&ws, &m, &DMatrix::zeros(6, 6), &[-0.5], 0.9, 5).is_err());
        let mut bad = m.clone();
        bad[2] = f64::NAN;
        assert!(limit_fit(&ws, &bad, &cov, &[-0.5], 0.9, 5).is_err());
        let mut w0 = ws.clone();
        w0[0] = 0.0;
        assert!(limit_fit(&w0, &m, &cov, &[-0.5], 0.9, 5).is_err());
    }

    #[test]
    fn control_variates_remove_correlated_noise() {
        // y = 1 + 0.5·c + tiny noise with mean-zero c: the adjusted values are ≈ 1 each.
        let c: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) / 8.0)
            .collect();
        let noise: Vec<f64> = (0..40)
            .map(|i| ((i * 13 % 7) as f64 - 3.0) * 1e-6)
            .collect();
        let y: Vec<f64> = c
            .iter()
            .zip(&noise)
            .map(|(c, e)| 1.0 + 0.5 * c + e)
            .collect();
        let constant = vec![2.0; 40];
        let adj = control_variates(&y, &[c.clone(), constant]).unwrap();
        assert_eq!(adj.used, 1, "the constant control drops out");
        assert!(
            (adj.beta[0] - 0.5).abs() < 1e-5 && adj.beta[1] == 0.0,
            "{:?}",
            adj.beta
        );
        let sd = std_dev(&adj.values).unwrap();
        assert!(sd < 1e-5 && std_dev(&y).unwrap() > 0.1, "{sd}");
        // Too few samples for the controls: none is used.
        let few = control_variates(&y[..3], &[c[..3].to_vec()]).unwrap();
        assert_eq!((few.used, few.values.as_slice()), (0, &y[..3]));
        assert!(control_variates(&y, &[vec![1.0; 3]]).is_err());
    }
}
