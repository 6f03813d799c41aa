//! What is wrong with a refuted link: a constant factor, a flipped sign, a missing term.

use super::check::Evidence;
use crate::expr::text;
use crate::precision::{RATIO_REL, SCALE};
use crate::prove::Outcome;

/// Recognise a constant `k` as a short closed form (rationals, and rationals times π^±1, √2, √π).
pub fn recognise(k: f64) -> Option<String> {
    let candidates: [(&str, f64); 6] = [
        ("", 1.0),
        ("π", std::f64::consts::PI),
        ("/π", 1.0 / std::f64::consts::PI),
        ("√2", std::f64::consts::SQRT_2),
        ("/√2", std::f64::consts::FRAC_1_SQRT_2),
        ("√π", std::f64::consts::PI.sqrt()),
    ];
    for (name, base) in candidates {
        let q = k / base;
        for den in 1..=12i64 {
            let num = q * den as f64;
            if (num - num.round()).abs() < RATIO_REL * num.abs().max(1.0) && num.round() != 0.0 {
                let n = num.round() as i64;
                let frac = if den == 1 {
                    format!("{n}")
                } else {
                    format!("{n}/{den}")
                };
                return Some(match name.strip_prefix('/') {
                    _ if name.is_empty() => frac,
                    Some(sym) if den == 1 => format!("{n}/{sym}"),
                    Some(sym) => format!("{n}/({den}{sym})"),
                    None if n == 1 && den == 1 => name.to_string(),
                    None => format!("{frac}·{name}"),
                });
            }
        }
    }
    None
}

/// A diagnosis from the numeric evidence and the prover's residual.
pub fn diagnose(ev: &Evidence, outcome: &Outcome) -> Option<String> {
    let mut notes = vec![];
    // Ratio rhs/lhs at the points where both are clearly non-zero.
    let ratios: Vec<f64> = ev
        .points
        .iter()
        .filter(|p| {
            p.lhs.value.abs() > RATIO_REL * p.lhs.scale.max(1e-300) && p.rhs.value.abs() > 0.0
        })
        .map(|p| p.rhs.value / p.lhs.value)
        .collect();
    // A point where one side is 0 and the other clearly is not: no constant factor relates them
    // (sum(j in 0..m, c) against (m + 1)·c at m = −1 is 0 against a number). A side is 0 when
    // it is within its own rounding and uncertainty of 0; one that is merely not clear at
    // RATIO_REL of its magnitude scale is not 0 (a derivative by differences has a scale far
    // above its value: 8·10⁶ with a scale of 6·10¹⁶ against its exact negative).
    let zero_against_number = ev.points.iter().any(|p| {
        use crate::numeric::eval::Value;
        let clear = |x: &Value| x.value.abs() > RATIO_REL * x.scale.max(1e-300);
        let zero = |x: &Value| x.value.abs() <= SCALE * x.scale + x.stderr;
        (zero(&p.lhs) && clear(&p.rhs)) || (zero(&p.rhs) && clear(&p.lhs))
    });
    if ratios.len() >= 3 && !zero_against_number {
        let r0 = ratios[0];
        let constant = ratios
            .iter()
            .all(|r| (r - r0).abs() <= RATIO_REL * r0.abs().max(1e-300));
        if constant {
            if (r0 - 1.0).abs() < RATIO_REL {
                // The sides agree to RATIO_REL at every point: a factor of 1 says nothing (10²⁰ +
                // step(a − 10⁷) against 10²⁰ differs by 1 where the ratio is 1 to 10⁻²⁰).
            } else if (r0 + 1.0).abs() < RATIO_REL {
                notes.push(
                    "sign flipped: the right side is the negative of the left side".to_string(),
                );
            } else {
                let k = recognise(r0).unwrap_or_else(|| format!("{r0:.6}"));
                notes.push(format!(
                    "off by a constant factor: right side = {k} × left side"
                ));
            }
        }
    }
    if let Outcome::NotDerivable { residual } = outcome {
        if notes.is_empty() {
            notes.push(format!(
                "the sides differ by {} (lhs − rhs in normal form): a term is missing, extra or wrong",
                text(residual)
            ));
        }
    }
    if notes.is_empty() {
        None
    } else {
        Some(notes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_common_constants() {
        assert_eq!(recognise(0.5).as_deref(), Some("1/2"));
        assert_eq!(recognise(-1.0).as_deref(), Some("-1"));
        assert_eq!(
            recognise(1.0 / (2.0 * std::f64::consts::PI)).as_deref(),
            Some("1/(2π)")
        );
        assert_eq!(recognise(std::f64::consts::PI).as_deref(), Some("π"));
        assert_eq!(recognise(0.123456789), None);
    }
}
