//! The math language: one e-graph node type, [`Math`], shared by the parser, the printers, the
//! prover and the numeric evaluator.
//!
//! Every construct of the surface syntax maps to one node. The s-expression form (egg's own
//! `RecExpr` syntax) is the internal exchange format, e.g. `(E (* (idx w i j) (idx w i k)))`.

use egg::{define_language, Id, Symbol};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::fmt;
use std::str::FromStr;

/// An exact rational constant. Decimal literals (`0.25`, `1e-3`) are read exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Constant(pub BigRational);

impl Constant {
    /// The constant `n`.
    pub fn int(n: i64) -> Self {
        Constant(BigRational::from_integer(BigInt::from(n)))
    }
    /// The constant `p/q`; `q` must not be zero.
    pub fn ratio(p: i64, q: i64) -> Self {
        Constant(BigRational::new(BigInt::from(p), BigInt::from(q)))
    }
    /// Is this exactly zero?
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
    /// Is this exactly one?
    pub fn is_one(&self) -> bool {
        self.0.is_one()
    }
    /// Is this negative?
    pub fn is_negative(&self) -> bool {
        self.0.is_negative()
    }
    /// The nearest `f64` (correctly rounded for small numerators and denominators).
    pub fn to_f64(&self) -> f64 {
        use num_traits::ToPrimitive;
        self.0.to_f64().unwrap_or(f64::NAN)
    }
}

impl From<BigRational> for Constant {
    fn from(q: BigRational) -> Self {
        Constant(q)
    }
}

impl FromStr for Constant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a number");
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad());
        }
        let q = if let Some((p, q)) = body.split_once('/') {
            let p = BigInt::from_str(p).map_err(|_| bad())?;
            let q = BigInt::from_str(q).map_err(|_| bad())?;
            if q.is_zero() {
                return Err(format!("`{s}` divides by zero"));
            }
            BigRational::new(p, q)
        } else {
            let (mantissa, exp) = match body.split_once(['e', 'E']) {
                Some((m, e)) => (m, i32::from_str(e).map_err(|_| bad())?),
                None => (body, 0),
            };
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit())
            {
                return Err(bad());
            }
            if exp.unsigned_abs() > 400 {
                return Err(format!("`{s}`: exponent out of range"));
            }
            let digits = BigInt::from_str(&format!("{int}{frac}")).map_err(|_| bad())?;
            let scale = exp - frac.len() as i32;
            let ten = BigRational::from_integer(BigInt::from(10));
            let mut q = BigRational::from_integer(digits);
            if scale >= 0 {
                q *= num_traits::pow(ten, scale as usize);
            } else {
                q /= num_traits::pow(ten, (-scale) as usize);
            }
            q
        };
        Ok(Constant(if neg { -q } else { q }))
    }
}

impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_integer() {
            write!(f, "{}", self.0.numer())
        } else {
            write!(f, "{}/{}", self.0.numer(), self.0.denom())
        }
    }
}

define_language! {
    /// One node of a math term.
    ///
    /// Binders: `sum` binds its first child (an index symbol) in its last child; `gauss` binds
    /// the symbols `u` and `v` in its body; `d` differentiates its body in its first child (a
    /// symbol, or an entry `(idx W a b)` of an array: a partial derivative ∂/∂W_ab).
    ///
    /// `transpose`, `trace`, `norm`, `dot`, `outer` and `grad` act on vectors and matrices of
    /// declared sizes; the loader rewrites them into entries and sums (`expr::tensor`), so the
    /// prover and the evaluator never see them.
    pub enum Math {
        "+" = Add([Id; 2]),
        "-" = Sub([Id; 2]),
        "*" = Mul([Id; 2]),
        "/" = Div([Id; 2]),
        "^" = Pow([Id; 2]),
        "neg" = Neg(Id),
        "sqrt" = Sqrt(Id),
        "exp" = Exp(Id),
        "log" = Log(Id),
        "sin" = Sin(Id),
        "cos" = Cos(Id),
        "tan" = Tan(Id),
        "asin" = Asin(Id),
        "acos" = Acos(Id),
        "atan" = Atan(Id),
        "atan2" = Atan2([Id; 2]),
        "abs" = Abs(Id),
        "relu" = Relu(Id),
        "step" = Step(Id),
        "erf" = Erf(Id),
        "tanh" = Tanh(Id),
        "sigmoid" = Sigmoid(Id),
        "softplus" = Softplus(Id),
        "gelu" = Gelu(Id),
        "cosh" = Cosh(Id),
        "sinh" = Sinh(Id),
        "sign" = Sign(Id),
        "max" = Max([Id; 2]),
        "min" = Min([Id; 2]),
        "leaky_relu" = LeakyRelu([Id; 2]),
        "phi" = Phi(Id),
        "dphi" = DPhi(Id),
        "delta" = Delta([Id; 2]),
        "idx" = Index(Box<[Id]>),
        "sum" = Sum([Id; 4]),
        "integral" = Integral([Id; 4]),
        "E" = Expect(Id),
        "gauss" = Gauss([Id; 4]),
        "d" = Deriv([Id; 2]),
        "@" = MatMul([Id; 2]),
        "mexp" = MatExp(Id),
        "transpose" = Transpose(Id),
        "trace" = Trace(Id),
        "norm" = Norm(Id),
        "dot" = Dot([Id; 2]),
        "outer" = Outer([Id; 2]),
        "grad" = Grad([Id; 2]),
        "jacobian" = Jacobian([Id; 2]),
        "hessian" = Hessian([Id; 2]),
        Num(Constant),
        Symbol(Symbol),
    }
}

/// The symbols bound by `gauss(s11, s12, s22; body)` in its body.
pub const GAUSS_VARS: [&str; 2] = ["u", "v"];

impl Math {
    /// The name of a unary elementary function node, if this is one.
    pub fn unary_name(&self) -> Option<&'static str> {
        Some(match self {
            Math::Sqrt(_) => "sqrt",
            Math::Exp(_) => "exp",
            Math::Log(_) => "log",
            Math::Sin(_) => "sin",
            Math::Cos(_) => "cos",
            Math::Tan(_) => "tan",
            Math::Asin(_) => "asin",
            Math::Acos(_) => "acos",
            Math::Atan(_) => "atan",
            Math::Abs(_) => "abs",
            Math::Relu(_) => "relu",
            Math::Step(_) => "step",
            Math::Erf(_) => "erf",
            Math::Tanh(_) => "tanh",
            Math::Sigmoid(_) => "sigmoid",
            Math::Softplus(_) => "softplus",
            Math::Gelu(_) => "gelu",
            Math::Cosh(_) => "cosh",
            Math::Sinh(_) => "sinh",
            Math::Sign(_) => "sign",
            Math::Phi(_) => "phi",
            Math::DPhi(_) => "dphi",
            Math::MatExp(_) => "mexp",
            _ => return None,
        })
    }

    /// Build the unary function node called `name` applied to `arg`.
    pub fn unary(name: &str, arg: Id) -> Option<Math> {
        Some(match name {
            "sqrt" => Math::Sqrt(arg),
            "exp" => Math::Exp(arg),
            "log" => Math::Log(arg),
            "sin" => Math::Sin(arg),
            "cos" => Math::Cos(arg),
            "tan" => Math::Tan(arg),
            "asin" | "arcsin" => Math::Asin(arg),
            "acos" | "arccos" => Math::Acos(arg),
            "atan" | "arctan" => Math::Atan(arg),
            "abs" => Math::Abs(arg),
            "relu" => Math::Relu(arg),
            "step" => Math::Step(arg),
            "erf" => Math::Erf(arg),
            "tanh" => Math::Tanh(arg),
            "sigmoid" => Math::Sigmoid(arg),
            "softplus" => Math::Softplus(arg),
            "gelu" => Math::Gelu(arg),
            "cosh" => Math::Cosh(arg),
            "sinh" => Math::Sinh(arg),
            "sign" => Math::Sign(arg),
            "phi" => Math::Phi(arg),
            "dphi" => Math::DPhi(arg),
            "mexp" => Math::MatExp(arg),
            _ => return None,
        })
    }

    /// The name of a vector or matrix operation node (written out by the loader), if this is one.
    pub fn tensor_name(&self) -> Option<&'static str> {
        Some(match self {
            Math::Transpose(_) => "transpose",
            Math::Trace(_) => "trace",
            Math::Norm(_) => "norm",
            Math::Dot(_) => "dot",
            Math::Outer(_) => "outer",
            Math::Grad(_) => "grad",
            Math::Jacobian(_) => "jacobian",
            Math::Hessian(_) => "hessian",
            _ => return None,
        })
    }

    /// The constant of a `Num` node.
    pub fn constant(&self) -> Option<&Constant> {
        match self {
            Math::Num(c) => Some(c),
            _ => None,
        }
    }

    /// The symbol of a `Symbol` node.
    pub fn symbol(&self) -> Option<Symbol> {
        match self {
            Math::Symbol(s) => Some(*s),
            _ => None,
        }
    }
}

/// A parsed term.
pub type Expr = egg::RecExpr<Math>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_exact() {
        assert_eq!(Constant::from_str("0.25").unwrap(), Constant::ratio(1, 4));
        assert_eq!(Constant::from_str("-3/6").unwrap(), Constant::ratio(-1, 2));
        assert_eq!(
            Constant::from_str("1e-3").unwrap(),
            Constant::ratio(1, 1000)
        );
        assert_eq!(Constant::from_str("2.5e1").unwrap(), Constant::int(25));
        assert!(Constant::from_str("x").is_err());
        assert!(Constant::from_str("1/0").is_err());
        assert_eq!(Constant::ratio(-1, 2).to_string(), "-1/2");
    }

    #[test]
    fn sexpr_round_trip() {
        let e: Expr = "(E (* (idx w i j) (idx w i k)))".parse().unwrap();
        assert_eq!(e.to_string(), "(E (* (idx w i j) (idx w i k)))");
        let e: Expr = "(sum j 1 n0 (* 1/2 (idx x j)))".parse().unwrap();
        assert_eq!(e.to_string(), "(sum j 1 n0 (* 1/2 (idx x j)))");
    }
}
