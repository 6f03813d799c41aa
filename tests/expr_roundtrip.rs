//! Round trip of the printers through the parser: for random well-formed terms over every node
//! kind, `parse(text(e))` is `e` (compared as s-expressions), also for every subterm via
//! `text_at`, and `latex` never panics.

use derive::expr::{latex, latex_at, parse, parse_with_spans, text, text_at, Expr, Math};
use egg::{Id, Language};
use proptest::prelude::*;

/// Symbols the parser accepts: plain, primed, with digits, Greek, underscored.
const SYMBOLS: &[&str] = &[
    "x", "y", "w", "A", "B", "n0", "s12", "x'", "y''", "sw", "sb", "θ", "alpha", "K_1", "_t", "xp",
];
/// Index and bound variables.
const INDICES: &[&str] = &["i", "j", "k", "t"];

const BINARY: &[&str] = &["+", "-", "*", "/", "^", "@", "atan2", "delta"];
const UNARY: &[&str] = &[
    "neg", "sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "abs", "relu",
    "step", "erf", "tanh", "sigmoid", "softplus", "gelu", "phi", "dphi", "mexp", "E",
];

fn symbol() -> impl Strategy<Value = String> {
    prop::sample::select(SYMBOLS).prop_map(str::to_string)
}

fn index_var() -> impl Strategy<Value = String> {
    prop::sample::select(INDICES).prop_map(str::to_string)
}

/// Constants as s-expression leaves: integers, fractions (some not decimal), tiny decimals.
fn constant() -> impl Strategy<Value = String> {
    prop_oneof![
        (-20i64..=20).prop_map(|n| n.to_string()),
        (-20i64..=20, 1i64..=12).prop_map(|(p, q)| format!("{p}/{q}")),
        (-3i64..=3, 0u32..=14).prop_map(|(p, k)| format!("{p}/{}", 10u64.pow(k))),
        Just("123456789012345678901234567890".to_string()),
    ]
}

/// A random well-formed term, as an s-expression.
fn sexpr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![symbol(), index_var(), constant()];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            4 => (prop::sample::select(BINARY), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| format!("({op} {a} {b})")),
            3 => (prop::sample::select(UNARY), inner.clone())
                .prop_map(|(op, a)| format!("({op} {a})")),
            1 => (symbol(), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(x, ix)| format!("(idx {x} {})", ix.join(" "))),
            1 => (index_var(), inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(j, lo, hi, b)| format!("(sum {j} {lo} {hi} {b})")),
            1 => (inner.clone(), inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c, body)| format!("(gauss {a} {b} {c} {body})")),
            1 => (index_var(), inner)
                .prop_map(|(t, b)| format!("(d {t} {b})")),
        ]
    })
}

/// The subterm of `e` rooted at `id`, as its own `RecExpr`.
fn subterm(e: &Expr, id: Id) -> Expr {
    e[id].build_recexpr(|c| e[c].clone())
}

fn check(e: &Expr) -> Result<(), TestCaseError> {
    let printed = text(e);
    let back = parse(&printed)
        .map_err(|err| TestCaseError::fail(format!("{e} printed as {printed:?}: {err}")))?;
    prop_assert_eq!(back.to_string(), e.to_string(), "printed as {:?}", printed);
    let (_, spans) = parse_with_spans(&printed).unwrap();
    prop_assert_eq!(spans.len(), back.as_ref().len());
    let _ = latex(e);
    for (k, _) in e.as_ref().iter().enumerate() {
        let id = Id::from(k);
        let sub = text_at(e, id);
        let back = parse(&sub).map_err(|err| TestCaseError::fail(format!("{sub:?}: {err}")))?;
        prop_assert_eq!(back.to_string(), subterm(e, id).to_string());
        let _ = latex_at(e, id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn text_round_trips(src in sexpr()) {
        let e: Expr = src.parse().unwrap();
        check(&e)?;
    }

    /// Printers never panic, even on node soups that are not well formed.
    #[test]
    fn printers_are_total(nodes in prop::collection::vec((0usize..8, 0usize..40, 0usize..40), 0..20)) {
        let nodes: Vec<Math> = nodes
            .into_iter()
            .map(|(kind, a, b)| {
                let (a, b) = (Id::from(a), Id::from(b));
                match kind {
                    0 => Math::Sub([a, b]),
                    1 => Math::Neg(a),
                    2 => Math::Index(vec![a, b, a].into_boxed_slice()),
                    3 => Math::Sum([a, b, a, b]),
                    4 => Math::Deriv([a, b]),
                    5 => Math::Pow([b, a]),
                    6 => Math::Symbol(format!("q{{}}#_{a}'").into()),
                    _ => Math::Index(Box::new([])),
                }
            })
            .collect();
        let e = Expr::from(nodes);
        let _ = text(&e);
        let _ = latex(&e);
        for k in 0..e.as_ref().len() + 2 {
            let _ = text_at(&e, Id::from(k));
            let _ = latex_at(&e, Id::from(k));
        }
    }
}

#[test]
fn deep_terms_print_without_overflowing() {
    let mut e = Expr::default();
    let mut id = e.add(Math::Symbol("x".into()));
    for _ in 0..100_000 {
        let one = e.add(Math::Num(derive::expr::Constant::int(1)));
        id = e.add(Math::Sub([id, one]));
    }
    let _ = id;
    assert!(text(&e).starts_with("x - 1 - 1"));
    assert!(latex(&e).starts_with("x - 1 - 1"));
}

#[test]
fn deep_sources_do_not_overflow() {
    for src in [
        format!("x{}", " - 1".repeat(20_000)),
        format!("{}x", "-".repeat(20_000)),
        format!("{}x", "x^".repeat(20_000)),
        format!("{}x{}", "sqrt(".repeat(100), ")".repeat(100)),
    ] {
        // Either parsed, or refused by a named budget (src/limits.rs): never a stack overflow.
        if let Err(e) = parse(&src) {
            assert!(e.message.contains("MAX_"), "{}…: {}", &src[..40], e.message);
        }
    }
}
