//! Matrix products `A @ B` (non-commutative, bilinear) and the matrix exponential.
//!
//! Convention: `*` is multiplication by a scalar (commutative); `@` is the matrix product.

use crate::prove::analysis::MathGraph;
use crate::prove::rule::{var, Rule, Theory};
use egg::{rewrite as rw, Id, Subst};

/// `?k` is a scalar: no matrix symbol occurs in it.
fn scalar(k: &'static str) -> impl Fn(&mut MathGraph, Id, &Subst) -> bool {
    let k = var(k);
    move |eg, _, s| eg[s[k]].data.free.is_disjoint(&eg.analysis.ctx.matrices)
}

/// The rules.
pub fn rules() -> Vec<Rule> {
    let r = |name, rewrite, examples| Rule {
        name,
        theory: Theory::Matrices,
        rewrite,
        examples,
    };
    vec![
        r(
            "mm-assoc",
            rw!("mm-assoc"; "(@ (@ ?a ?b) ?c)" => "(@ ?a (@ ?b ?c))"),
            &["(@ (@ A B) C)"],
        ),
        r(
            "mm-assoc-rev",
            rw!("mm-assoc-rev"; "(@ ?a (@ ?b ?c))" => "(@ (@ ?a ?b) ?c)"),
            &["(@ A (@ B C))"],
        ),
        r(
            "mm-add-left",
            rw!("mm-add-left"; "(@ ?a (+ ?b ?c))" => "(+ (@ ?a ?b) (@ ?a ?c))"),
            &["(@ A (+ B C))"],
        ),
        r(
            "mm-add-right",
            rw!("mm-add-right"; "(@ (+ ?a ?b) ?c)" => "(+ (@ ?a ?c) (@ ?b ?c))"),
            &["(@ (+ A B) C)"],
        ),
        r(
            "mm-sub-left",
            rw!("mm-sub-left"; "(@ ?a (- ?b ?c))" => "(- (@ ?a ?b) (@ ?a ?c))"),
            &["(@ A (- B C))"],
        ),
        r(
            "mm-sub-right",
            rw!("mm-sub-right"; "(@ (- ?a ?b) ?c)" => "(- (@ ?a ?c) (@ ?b ?c))"),
            &["(@ (- A B) C)"],
        ),
        r(
            "mm-scalar-left",
            rw!("mm-scalar-left"; "(@ (* ?k ?a) ?b)" => "(* ?k (@ ?a ?b))" if scalar("?k")),
            &["(@ (* s A) B)"],
        ),
        r(
            "mm-scalar-right",
            rw!("mm-scalar-right"; "(@ ?a (* ?k ?b))" => "(* ?k (@ ?a ?b))" if scalar("?k")),
            &["(@ A (* s B))"],
        ),
        r(
            "mm-neg-left",
            rw!("mm-neg-left"; "(@ (neg ?a) ?b)" => "(neg (@ ?a ?b))"),
            &["(@ (neg A) B)"],
        ),
        r(
            "mexp-zero",
            rw!("mexp-zero"; "(mexp 0)" => "I"),
            &["(mexp 0)"],
        ),
        r(
            "mm-identity-left",
            rw!("mm-identity-left"; "(@ I ?a)" => "?a"),
            &["(@ I A)"],
        ),
        r(
            "mm-identity-right",
            rw!("mm-identity-right"; "(@ ?a I)" => "?a"),
            &["(@ A I)"],
        ),
    ]
}
