//! Closed forms (lemmas) for E[φ(u)φ(v)] and E[φ'(u)φ'(v)], (u, v) ~ N(0, [[s11, s12], [s12, s22]]),
//! written to be stable in f64, and [`dual`], which uses them where they exist and quadrature
//! ([`super::gauss`]) otherwise.
//!
//! Notation: m = √(s11·s22), det = s11·s22 − s12² (compensated, see [`Cov2::det`]),
//! θ = atan2(√det, s12) ∈ [0, π] the angle between u and v, φ = π − θ = atan2(√det, −s12).
//! Angles are never taken from acos(ρ), which loses half the digits near ρ = ±1.
//!
//! | activation | E[φ(u)φ(v)] | E[φ'(u)φ'(v)] |
//! |---|---|---|
//! | relu | m·S(π−θ)/(2π), S(x) = sin x − x·cos x | (π−θ)/(2π) |
//! | a·min(x,0)+b·max(x,0) | (a−b)²·relu + a·b·s12 | ((a²+b²)(π−θ) + 2ab·θ)/(2π) |
//! | step | (π−θ)/(2π) | 0 |
//! | erf | (2/π)·atan2(2·s12, √D), D = 1 + 2(s11+s22) + 4·det | (4/π)/√D |
//! | sin | e^(−(s11+s22)/2)·sinh(s12) | cos kernel |
//! | cos | e^(−(s11+s22)/2)·cosh(s12) | sin kernel |
//! | gelu | see [`gelu`] | see [`gelu_deriv`] |
//!
//! m·S(π−θ) equals √det + (π−θ)·s12; the series of S is used when π−θ < 1, where that sum cancels.
//! Kinked activations with a zero variance are evaluated at the point 0 (φ'(0) as
//! [`Activation::deriv`] defines it), matching [`super::gauss`].

use super::activation::Activation;
use super::error::NumericError;
use super::gauss::{expect_pair, Cov2, Shape};
use crate::numeric::portable::Portable;
use std::f64::consts::PI;

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for one activation and one covariance: the NNGP and derivative
/// kernel maps, before the σw² scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    /// E[φ(u)φ(v)].
    pub k: f64,
    /// E[φ'(u)φ'(v)].
    pub kdot: f64,
}

/// Does [`dual`] use a closed form for `act` (otherwise it uses quadrature)?
pub fn has_closed_form(act: Activation) -> bool {
    !matches!(
        act,
        Activation::Tanh | Activation::Softplus | Activation::Sigmoid
    )
}

/// Coefficients of S(x) = sin x − x·cos x = x³·Σ c_k·x^(2k): c_k = (−1)^k·2(k+1)/(2k+3)!.
#[allow(clippy::excessive_precision)]
const S_SERIES: [f64; 11] = [
    0.333_333_333_333_333_3,
    -0.033_333_333_333_333_33,
    0.001_190_476_190_476_190_5,
    -0.000_022_045_855_379_188_712,
    2.505_210_838_544_171_8e-7,
    -1.927_085_260_418_593_8e-9,
    1.070_602_922_454_774_3e-11,
    -4.498_331_606_952_833e-14,
    1.479_714_344_392_379_3e-16,
    -3.914_588_212_678_252e-19,
    8.509_974_375_387_505e-22,
];

/// S(x) = sin x − x·cos x for 0 ≤ x < 1 by its series (no cancellation; error < 1e-21·x³).
#[inline]
pub(crate) fn s_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut acc = 0.0_f64;
    for c in S_SERIES.iter().rev() {
        acc = acc * x2 + c; // plain ops: mul_add is a library call without target FMA
    }
    acc * x2 * x
}

/// E[relu(u)·relu(v)] from m = √(s11·s22), s12 and √det: m·S(φ)/(2π) with φ = π − θ.
#[inline]
pub(crate) fn relu_core(m: f64, s12: f64, sq: f64) -> f64 {
    if sq == 0.0 {
        // ρ = ±1 exactly: E = m/2 or 0 (this gives the exact diagonal s/2).
        return if s12 > 0.0 { 0.5 * s12 } else { 0.0 };
    }
    let phi = sq.patan2(-s12);
    if phi < 1.0 {
        m * s_series(phi) / (2.0 * PI)
    } else {
        (sq + phi * s12) / (2.0 * PI)
    }
}

/// Both variances positive? (Otherwise kinked closed forms evaluate at the point 0.)
fn nondegenerate(c: &Cov2) -> bool {
    c.s11 > 0.0 && c.s22 > 0.0
}

/// E[relu(u)·relu(v)]: the arc-cosine kernel of degree 1.
pub fn relu(c: &Cov2) -> f64 {
    if !nondegenerate(c) {
        return 0.0;
    }
    relu_core(c.s11.sqrt() * c.s22.sqrt(), c.s12, c.det().sqrt())
}

/// E[step(u)·step(v)] = P(u > 0, v > 0) = (π − θ)/(2π), also E[relu'(u)·relu'(v)].
pub fn step(c: &Cov2) -> f64 {
    if !nondegenerate(c) {
        return 0.0;
    }
    c.det().sqrt().patan2(-c.s12) / (2.0 * PI)
}

/// E[φ(u)φ(v)] for φ(x) = neg·min(x, 0) + pos·max(x, 0): (neg − pos)²·relu + neg·pos·s12.
pub fn leaky(neg: f64, pos: f64, c: &Cov2) -> f64 {
    let d = neg - pos;
    d * d * relu(c) + neg * pos * c.s12
}

/// E[φ'(u)φ'(v)] for φ(x) = neg·min(x, 0) + pos·max(x, 0), with φ'(0) = neg:
/// ((neg² + pos²)(π − θ) + 2·neg·pos·θ)/(2π).
pub fn leaky_deriv(neg: f64, pos: f64, c: &Cov2) -> f64 {
    if !nondegenerate(c) {
        // The zero-variance coordinate sits at the kink: φ'(0) = neg.
        let mean = |var: f64| if var > 0.0 { 0.5 * (neg + pos) } else { neg };
        return if c.s11 == 0.0 {
            neg * mean(c.s22)
        } else {
            neg * mean(c.s11)
        };
    }
    let sq = c.det().sqrt();
    let theta = sq.patan2(c.s12);
    let phi = sq.patan2(-c.s12);
    ((neg * neg + pos * pos) * phi + 2.0 * neg * pos * theta) / (2.0 * PI)
}

/// 1 + 2(s11 + s22) + 4·det = (1 + 2·s11)(1 + 2·s22) − 4·s12², without cancellation.
fn erf_d(c: &Cov2) -> f64 {
    1.0 + 2.0 * (c.s11 + c.s22) + 4.0 * c.det()
}

/// E[erf(u)·erf(v)] = (2/π)·asin(2·s12/√((1+2s11)(1+2s22))), as (2/π)·atan2(2·s12, √D).
pub fn erf(c: &Cov2) -> f64 {
    (2.0 / PI) * (2.0 * c.s12).patan2(erf_d(c).sqrt())
}

/// E[erf'(u)·erf'(v)] = (4/π)/√((1+2s11)(1+2s22) − 4·s12²).
pub fn erf_deriv(c: &Cov2) -> f64 {
    (4.0 / PI) / erf_d(c).sqrt()
}

/// e^(−(s11+s22)/2)·(e^(s12) ± e^(−s12))/2 without overflow; `odd` selects sinh.
fn trig_kernel(c: &Cov2, odd: bool) -> f64 {
    let m = 0.5 * (c.s11 + c.s22);
    if c.s12.abs() < 1.0 {
        let h = if odd { c.s12.psinh() } else { c.s12.pcosh() };
        h * (-m).pexp()
    } else {
        let (p, q) = ((c.s12 - m).pexp(), (-c.s12 - m).pexp());
        0.5 * if odd { p - q } else { p + q }
    }
}

/// E[sin u · sin v] = e^(−(s11+s22)/2)·sinh(s12).
pub fn sin(c: &Cov2) -> f64 {
    trig_kernel(c, true)
}

/// E[cos u · cos v] = e^(−(s11+s22)/2)·cosh(s12).
pub fn cos(c: &Cov2) -> f64 {
    trig_kernel(c, false)
}

/// Q = (1+s11)(1+s22) − s12² = 1 + s11 + s22 + det, and the angle atan2(s12, √Q).
fn gelu_q(c: &Cov2) -> (f64, f64) {
    let q = 1.0 + c.s11 + c.s22 + c.det();
    (q, c.s12.patan2(q.sqrt()))
}

/// E[gelu(u)·gelu(v)], gelu(x) = x·Φ(x):
///
/// s12/4 + s12·asin(s12/√((1+s11)(1+s22)))/(2π) + (det + s12²/(1+s11) + s12²/(1+s22))/(2π√Q),
/// with Q = (1+s11)(1+s22) − s12². (Derived by Gaussian integration by parts: E[uΦ(u)vΦ(v)] =
/// s11·E[φ(u)vΦ(v)] + s12·E[Φ(u)Φ(v)] + s12·E[Φ(u)vφ(v)], each term a Gaussian integral.)
pub fn gelu(c: &Cov2) -> f64 {
    let (q, ang) = gelu_q(c);
    let s12sq = c.s12 * c.s12;
    0.25 * c.s12
        + c.s12 * ang / (2.0 * PI)
        + (c.det() + s12sq / (1.0 + c.s11) + s12sq / (1.0 + c.s22)) / (2.0 * PI * q.sqrt())
}

/// E[gelu'(u)·gelu'(v)], gelu'(x) = Φ(x) + x·φ(x):
///
/// 1/4 + asin(s12/√((1+s11)(1+s22)))/(2π) + s12·(1/(1+s11) + 1/(1+s22))/(2π√Q) + s12/(2π·Q^(3/2)).
pub fn gelu_deriv(c: &Cov2) -> f64 {
    let (q, ang) = gelu_q(c);
    let sq = q.sqrt();
    0.25 + ang / (2.0 * PI)
        + c.s12 * (1.0 / (1.0 + c.s11) + 1.0 / (1.0 + c.s22)) / (2.0 * PI * sq)
        + c.s12 / (2.0 * PI * q * sq)
}

/// The quadrature shape for an activation.
pub fn shape(act: Activation) -> Shape {
    if act.is_kinked() {
        Shape::KinkedAtAxes
    } else {
        Shape::Smooth
    }
}

/// Rejects activation parameters that are not finite.
fn check_act(act: Activation) -> Result<(), NumericError> {
    if let Activation::LeakyRelu { neg, pos } = act {
        if !(neg.is_finite() && pos.is_finite()) {
            return Err(NumericError::InvalidArchitecture(format!(
                "leaky relu slopes must be finite, got {neg} and {pos}"
            )));
        }
    }
    Ok(())
}

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) by quadrature, whatever the activation.
pub fn dual_quadrature(act: Activation, cov: Cov2) -> Result<Dual, NumericError> {
    check_act(act)?;
    let sh = shape(act);
    let f = |x: f64| act.eval(x);
    let d = |x: f64| act.deriv(x);
    Ok(Dual {
        k: expect_pair(&f, &f, cov, sh)?,
        kdot: expect_pair(&d, &d, cov, sh)?,
    })
}

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for (u, v) ~ N(0, cov): a closed form when
/// [`has_closed_form`], quadrature otherwise. Errors: invalid covariance or parameters.
pub fn dual(act: Activation, cov: Cov2) -> Result<Dual, NumericError> {
    let c = Cov2::new(cov.s11, cov.s12, cov.s22)?;
    check_act(act)?;
    Ok(match act {
        Activation::Identity => Dual {
            k: c.s12,
            kdot: 1.0,
        },
        Activation::Relu => Dual {
            k: relu(&c),
            kdot: step(&c),
        },
        Activation::Step => Dual {
            k: step(&c),
            kdot: 0.0,
        },
        Activation::LeakyRelu { neg, pos } => Dual {
            k: leaky(neg, pos, &c),
            kdot: leaky_deriv(neg, pos, &c),
        },
        Activation::Abs => Dual {
            k: leaky(-1.0, 1.0, &c),
            kdot: leaky_deriv(-1.0, 1.0, &c),
        },
        Activation::Erf => Dual {
            k: erf(&c),
            kdot: erf_deriv(&c),
        },
        Activation::Sin => Dual {
            k: sin(&c),
            kdot: cos(&c),
        },
        Activation::Cos => Dual {
            k: cos(&c),
            kdot: sin(&c),
        },
        Activation::Gelu => Dual {
            k: gelu(&c),
            kdot: gelu_deriv(&c),
        },
        Activation::Tanh | Activation::Softplus | Activation::Sigmoid => {
            return dual_quadrature(act, c)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Natural scales √(E f(u)²·E f(v)²) for the kernel and its derivative, by quadrature.
    fn scales(act: Activation, c: &Cov2) -> (f64, f64) {
        let d1 = dual_quadrature(act, Cov2::diagonal(c.s11).unwrap()).unwrap();
        let d2 = dual_quadrature(act, Cov2::diagonal(c.s22).unwrap()).unwrap();
        ((d1.k * d2.k).sqrt(), (d1.kdot * d2.kdot).sqrt())
    }

    fn compare(act: Activation, c: Cov2, tol: f64) -> Result<(), String> {
        let a = dual(act, c).map_err(|e| e.to_string())?;
        let q = dual_quadrature(act, c).map_err(|e| e.to_string())?;
        let (sk, sd) = scales(act, &c);
        let (ek, ed) = ((a.k - q.k).abs(), (a.kdot - q.kdot).abs());
        if ek > tol * sk.max(1e-300) || ed > tol * sd.max(1e-300) {
            return Err(format!(
                "{act} at {c:?}: closed {a:?} vs quadrature {q:?} (errors {:.1e}, {:.1e} of scale)",
                ek / sk,
                ed / sd
            ));
        }
        Ok(())
    }

    const CLOSED: [Activation; 10] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Step,
        Activation::LeakyRelu { neg: 0.1, pos: 1.0 },
        Activation::LeakyRelu {
            neg: -0.3,
            pos: 2.0,
        },
        Activation::Abs,
        Activation::Erf,
        Activation::Gelu,
        Activation::Sin,
        Activation::Cos,
    ];

    #[test]
    fn closed_forms_match_quadrature_on_a_grid() {
        for act in CLOSED {
            for &(s11, s22) in &[(1.0_f64, 1.0_f64), (0.1, 10.0), (2.7, 0.5)] {
                let m = (s11 * s22).sqrt();
                for &rho in &[-1.0, -0.999999, -0.6, 0.0, 0.25, 0.999999, 1.0] {
                    let c = Cov2::new(s11, rho * m, s22).unwrap();
                    compare(act, c, 1e-13).unwrap();
                }
            }
        }
    }

    #[test]
    fn exact_diagonal_and_degenerate_cases() {
        let c = Cov2::diagonal(3.0).unwrap();
        assert_eq!(relu(&c), 1.5);
        assert_eq!(step(&c), 0.5);
        let z = Cov2::new(0.0, 0.0, 2.0).unwrap();
        for act in CLOSED {
            let a = dual(act, z).unwrap();
            let q = dual_quadrature(act, z).unwrap();
            assert!(
                (a.k - q.k).abs() < 1e-15 && (a.kdot - q.kdot).abs() < 1e-15,
                "{act}"
            );
        }
    }

    #[test]
    fn near_antiparallel_relu_is_accurate() {
        // E[relu(u)relu(v)] at ρ = −1 + ε behaves as (2ε)^(3/2)/(6π)·m·(1 + O(ε)).
        let eps = 2f64.powi(-40);
        let c = Cov2::new(1.0, -1.0 + eps, 1.0).unwrap();
        let approx = (2.0 * eps).ppowf(1.5) / (6.0 * PI);
        assert!(
            (relu(&c) / approx - 1.0).abs() < 1e-5,
            "{} vs {approx}",
            relu(&c)
        );
    }

    #[test]
    fn invalid_input_is_an_error() {
        let bad = Cov2 {
            s11: -1.0,
            s12: 0.0,
            s22: 1.0,
        };
        assert!(dual(Activation::Relu, bad).is_err());
        let c = Cov2::new(1.0, 0.0, 1.0).unwrap();
        assert!(dual(
            Activation::LeakyRelu {
                neg: f64::NAN,
                pos: 1.0
            },
            c
        )
        .is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn closed_forms_match_quadrature(
            idx in 0usize..CLOSED.len(),
            s11 in 0.1f64..10.0,
            s22 in 0.1f64..10.0,
            rho in -1.0f64..=1.0,
        ) {
            let c = Cov2::new(s11, rho * (s11 * s22).sqrt(), s22).unwrap();
            prop_assert!(compare(CLOSED[idx], c, 1e-13).is_ok(), "{}", compare(CLOSED[idx], c, 1e-13).unwrap_err());
        }
    }
}
