//! Pointwise activations φ and their derivatives φ', as used by the kernel recursions and the
//! finite-width networks.

use crate::numeric::portable::Portable;
use std::fmt;
use std::str::FromStr;

/// A pointwise activation function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// φ(x) = x.
    Identity,
    /// φ(x) = max(x, 0).
    Relu,
    /// φ(x) = 1 if x > 0 else 0 (the derivative of relu).
    Step,
    /// φ(x) = neg·min(x, 0) + pos·max(x, 0); relu is (0, 1), abs is (−1, 1).
    LeakyRelu {
        /// Slope for x < 0.
        neg: f64,
        /// Slope for x > 0.
        pos: f64,
    },
    /// φ(x) = |x|.
    Abs,
    /// φ(x) = erf(x).
    Erf,
    /// φ(x) = tanh(x).
    Tanh,
    /// φ(x) = x·Φ(x) with Φ the standard normal CDF.
    Gelu,
    /// φ(x) = sin(x).
    Sin,
    /// φ(x) = cos(x).
    Cos,
    /// φ(x) = log(1 + eˣ).
    Softplus,
    /// φ(x) = 1 / (1 + e⁻ˣ).
    Sigmoid,
}

/// An activation name that is not known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown activation `{0}` (known: identity, relu, step, leaky_relu(a), abs, erf, tanh, gelu, sin, cos, softplus, sigmoid)")]
pub struct UnknownActivation(pub String);

impl Activation {
    /// Every activation with default parameters (leaky relu with slope 0.1), for tests and listings.
    pub const ALL: [Activation; 12] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Step,
        Activation::LeakyRelu { neg: 0.1, pos: 1.0 },
        Activation::Abs,
        Activation::Erf,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Sin,
        Activation::Cos,
        Activation::Softplus,
        Activation::Sigmoid,
    ];

    /// φ(x).
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Step => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { neg, pos } => {
                if x > 0.0 {
                    pos * x
                } else {
                    neg * x
                }
            }
            Activation::Abs => x.abs(),
            Activation::Erf => libm::erf(x),
            Activation::Tanh => x.ptanh(),
            Activation::Gelu => 0.5 * x * libm::erfc(-x / std::f64::consts::SQRT_2),
            Activation::Sin => x.psin(),
            Activation::Cos => x.pcos(),
            Activation::Softplus => x.max(0.0) + (-x.abs()).pexp().pln_1p(),
            Activation::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).pexp())
                } else {
                    let e = x.pexp();
                    e / (1.0 + e)
                }
            }
        }
    }

    /// φ'(x); at a kink the right derivative is used except for step, whose derivative is 0.
    pub fn deriv(&self, x: f64) -> f64 {
        match *self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Step => 0.0,
            Activation::LeakyRelu { neg, pos } => {
                if x > 0.0 {
                    pos
                } else {
                    neg
                }
            }
            Activation::Abs => {
                if x > 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }
            Activation::Erf => std::f64::consts::FRAC_2_SQRT_PI * (-x * x).pexp(),
            Activation::Tanh => {
                let t = x.ptanh();
                1.0 - t * t
            }
            Activation::Gelu => {
                let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
                let pdf = (-0.5 * x * x).pexp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + x * pdf
            }
            Activation::Sin => x.pcos(),
            Activation::Cos => -x.psin(),
            Activation::Softplus => Activation::Sigmoid.eval(x),
            Activation::Sigmoid => {
                let s = Activation::Sigmoid.eval(x);
                s * (1.0 - s)
            }
        }
    }

    /// Does φ (or φ′, with `derivative`) jump at 0? Its value at an argument within rounding
    /// error of 0 is then not known ([`crate::numeric::eval::undecided_jump`]).
    pub fn jumps(&self, derivative: bool) -> bool {
        if derivative {
            matches!(
                self,
                Activation::Relu | Activation::LeakyRelu { .. } | Activation::Abs
            )
        } else {
            matches!(self, Activation::Step)
        }
    }

    /// Is φ (or φ') non-smooth at 0? Such integrands need the plane split at the axes.
    pub fn is_kinked(&self) -> bool {
        matches!(
            self,
            Activation::Relu | Activation::Step | Activation::LeakyRelu { .. } | Activation::Abs
        )
    }
}

impl FromStr for Activation {
    type Err = UnknownActivation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(arg) = lower
            .strip_prefix("leaky_relu(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let neg: f64 = arg
                .trim()
                .parse()
                .map_err(|_| UnknownActivation(s.to_string()))?;
            if !neg.is_finite() {
                return Err(UnknownActivation(s.to_string()));
            }
            return Ok(Activation::LeakyRelu { neg, pos: 1.0 });
        }
        Ok(match lower.as_str() {
            "identity" | "linear" => Activation::Identity,
            "relu" => Activation::Relu,
            "step" => Activation::Step,
            "leaky_relu" => Activation::LeakyRelu { neg: 0.1, pos: 1.0 },
            "abs" => Activation::Abs,
            "erf" => Activation::Erf,
            "tanh" => Activation::Tanh,
            "gelu" => Activation::Gelu,
            "sin" => Activation::Sin,
            "cos" => Activation::Cos,
            "softplus" => Activation::Softplus,
            "sigmoid" => Activation::Sigmoid,
            _ => return Err(UnknownActivation(s.to_string())),
        })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Relu => write!(f, "relu"),
            Activation::Step => write!(f, "step"),
            Activation::LeakyRelu { neg, pos } if *pos == 1.0 => write!(f, "leaky_relu({neg})"),
            Activation::LeakyRelu { neg, pos } if *pos < 0.0 => {
                write!(f, "{neg}·min(x,0)−{}·max(x,0)", -pos)
            }
            Activation::LeakyRelu { neg, pos } => write!(f, "{neg}·min(x,0)+{pos}·max(x,0)"),
            Activation::Abs => write!(f, "abs"),
            Activation::Erf => write!(f, "erf"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::Sin => write!(f, "sin"),
            Activation::Cos => write!(f, "cos"),
            Activation::Softplus => write!(f, "softplus"),
            Activation::Sigmoid => write!(f, "sigmoid"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        for act in Activation::ALL {
            for &x in &[-2.3, -0.7, 0.4, 1.9] {
                let h = 1e-6;
                let fd = (act.eval(x + h) - act.eval(x - h)) / (2.0 * h);
                assert!(
                    (fd - act.deriv(x)).abs() < 1e-7,
                    "{act} at {x}: {fd} vs {}",
                    act.deriv(x)
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(act.to_string().parse::<Activation>().unwrap(), act);
        }
        assert!("swish".parse::<Activation>().is_err());
    }
}
