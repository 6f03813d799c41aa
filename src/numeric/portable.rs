//! Transcendental functions that give the same bits on every machine.
//!
//! `f64::exp`, `sin`, `powf` and the rest call the system's C library, whose results differ in
//! the last bit between library versions and between CPUs (glibc picks an FMA variant of `sin`
//! where the CPU has one). derive prints the differences and tolerances it measured and pins them
//! in snapshots, so a figure must not depend on the machine: a proved link's rounding-level
//! difference printed 1.4e-17 here and 6.8e-20 on CI. Every transcendental call goes through
//! these methods instead, which run the `libm` crate (a pure-Rust port of musl's libm, < 1 ulp,
//! IEEE arithmetic only). `clippy.toml` forbids the std methods, so a new call cannot slip back.
//!
//! The methods are named after the std ones with a `p` (portable) in front: `x.pexp()` is
//! `libm::exp(x)`. `sqrt`, `abs`, `floor`, `powi`, `mul_add` and friends are exact or
//! correctly rounded by IEEE 754 (or by the compiler's own runtime) and stay as they are.

/// Portable transcendental functions on `f64` (see the module docs).
pub trait Portable: Copy {
    /// eˣ.
    fn pexp(self) -> Self;
    /// eˣ − 1.
    fn pexp_m1(self) -> Self;
    /// ln x.
    fn pln(self) -> Self;
    /// ln(1 + x).
    fn pln_1p(self) -> Self;
    /// log₁₀ x.
    fn plog10(self) -> Self;
    /// log₂ x.
    fn plog2(self) -> Self;
    /// xʸ.
    fn ppowf(self, y: Self) -> Self;
    /// sin x.
    fn psin(self) -> Self;
    /// cos x.
    fn pcos(self) -> Self;
    /// (sin x, cos x).
    fn psin_cos(self) -> (Self, Self);
    /// tan x.
    fn ptan(self) -> Self;
    /// asin x.
    fn pasin(self) -> Self;
    /// acos x.
    fn pacos(self) -> Self;
    /// atan x.
    fn patan(self) -> Self;
    /// atan2(self, x): the angle of the point (x, self).
    fn patan2(self, x: Self) -> Self;
    /// sinh x.
    fn psinh(self) -> Self;
    /// cosh x.
    fn pcosh(self) -> Self;
    /// tanh x.
    fn ptanh(self) -> Self;
    /// √(x² + y²) without overflow.
    fn phypot(self, y: Self) -> Self;
    /// ∛x.
    fn pcbrt(self) -> Self;
}

impl Portable for f64 {
    #[inline]
    fn pexp(self) -> f64 {
        libm::exp(self)
    }
    #[inline]
    fn pexp_m1(self) -> f64 {
        libm::expm1(self)
    }
    #[inline]
    fn pln(self) -> f64 {
        libm::log(self)
    }
    #[inline]
    fn pln_1p(self) -> f64 {
        libm::log1p(self)
    }
    #[inline]
    fn plog10(self) -> f64 {
        libm::log10(self)
    }
    #[inline]
    fn plog2(self) -> f64 {
        libm::log2(self)
    }
    #[inline]
    fn ppowf(self, y: f64) -> f64 {
        libm::pow(self, y)
    }
    #[inline]
    fn psin(self) -> f64 {
        libm::sin(self)
    }
    #[inline]
    fn pcos(self) -> f64 {
        libm::cos(self)
    }
    #[inline]
    fn psin_cos(self) -> (f64, f64) {
        libm::sincos(self)
    }
    #[inline]
    fn ptan(self) -> f64 {
        libm::tan(self)
    }
    #[inline]
    fn pasin(self) -> f64 {
        libm::asin(self)
    }
    #[inline]
    fn pacos(self) -> f64 {
        libm::acos(self)
    }
    #[inline]
    fn patan(self) -> f64 {
        libm::atan(self)
    }
    #[inline]
    fn patan2(self, x: f64) -> f64 {
        libm::atan2(self, x)
    }
    #[inline]
    fn psinh(self) -> f64 {
        libm::sinh(self)
    }
    #[inline]
    fn pcosh(self) -> f64 {
        libm::cosh(self)
    }
    #[inline]
    fn ptanh(self) -> f64 {
        libm::tanh(self)
    }
    #[inline]
    fn phypot(self, y: f64) -> f64 {
        libm::hypot(self, y)
    }
    #[inline]
    fn pcbrt(self) -> f64 {
        libm::cbrt(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Portable;

    /// The methods are the functions they are named after (to within an ulp of std's).
    #[test]
    fn portable_functions_agree_with_std() {
        #[allow(clippy::disallowed_methods)]
        let cases: [(f64, f64); 6] = [
            (0.7f64.pexp(), 0.7f64.exp()),
            (0.7f64.pln(), 0.7f64.ln()),
            (0.7f64.psin(), 0.7f64.sin()),
            (0.7f64.ptanh(), 0.7f64.tanh()),
            (0.7f64.ppowf(2.5), 0.7f64.powf(2.5)),
            (0.7f64.patan2(-0.2), 0.7f64.atan2(-0.2)),
        ];
        for (p, s) in cases {
            assert!((p - s).abs() <= 2.0 * f64::EPSILON * s.abs(), "{p} vs {s}");
        }
    }
}
