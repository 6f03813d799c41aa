//! Breaking a link must refute it. For every derivation in derivations/ and every link, the
//! link's right side is broken three ways, the way derivations in the notes go wrong:
//!
//! - **constant**: the first numeric constant (outside indices and sum bounds) is increased by 1
//!   (σw² → σw³, 1/n → 2/n, …); with no constant, the side is doubled;
//! - **sign**: the first `+` becomes `−`; with no `+`, the side is negated;
//! - **index**: the first indexed array (or vector or matrix) is replaced by another declared
//!   one (x[j] → xp[j], h[j] → hp[j]); with no array, the first symbol by another of the same kind in the term
//!   (Σ(x,x) → Σ(x,x')).
//!
//! The broken link is checked by the real checker (prover, numeric points, width studies) and
//! must come out `refuted`. One trial per derivation and mutation kind (libtest-mimic).

use derive::derivation::check::{check_link, context, Verdict};
use derive::derivation::{load, Derivation, Kind};
use derive::expr::{text, Constant, Expr, Math};
use egg::{Id, Symbol};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;

#[derive(Clone, Copy, Debug)]
enum Mutation {
    Constant,
    Sign,
    Index,
}

/// Node ids in pre-order, skipping index arguments and sum bounds.
fn preorder(e: &Expr) -> Vec<Id> {
    fn go(e: &Expr, id: Id, out: &mut Vec<Id>) {
        out.push(id);
        match &e[id] {
            Math::Index(_) => {}
            Math::Sum([_, _, _, body]) => go(e, *body, out),
            n => {
                for c in egg::Language::children(n) {
                    go(e, *c, out);
                }
            }
        }
    }
    let mut out = vec![];
    go(e, Id::from(e.as_ref().len() - 1), &mut out);
    out
}

fn replace(e: &Expr, id: Id, node: Math) -> Expr {
    let mut nodes = e.as_ref().to_vec();
    nodes[usize::from(id)] = node;
    Expr::from(nodes)
}

/// Wrap the whole term: `k * e` or `-e`.
fn wrap(e: &Expr, f: impl FnOnce(Id, Id) -> Math, k: i64) -> Expr {
    let mut nodes = e.as_ref().to_vec();
    let root = Id::from(nodes.len() - 1);
    nodes.push(Math::Num(Constant::int(k)));
    let c = Id::from(nodes.len() - 1);
    nodes.push(f(c, root));
    Expr::from(nodes)
}

fn mutate(d: &Derivation, e: &Expr, m: Mutation) -> Option<Expr> {
    let order = preorder(e);
    let kind = |s: Symbol| d.symbols.iter().find(|(t, _)| *t == s).map(|(_, k)| k);
    match m {
        Mutation::Constant => Some(
            match order.iter().find_map(|id| match &e[*id] {
                Math::Num(c) => Some((*id, c.clone())),
                _ => None,
            }) {
                Some((id, c)) => {
                    let bumped = Constant(c.0 + num_rational::BigRational::from_integer(1.into()));
                    replace(e, id, Math::Num(bumped))
                }
                None => wrap(e, |c, r| Math::Mul([c, r]), 2),
            },
        ),
        Mutation::Sign => Some(
            match order.iter().find(|id| matches!(e[**id], Math::Add(_))) {
                Some(id) => {
                    let Math::Add([a, b]) = e[*id] else {
                        unreachable!()
                    };
                    replace(e, *id, Math::Sub([a, b]))
                }
                None => wrap(e, |c, r| Math::Mul([c, r]), -1),
            },
        ),
        Mutation::Index => {
            let arrays: Vec<Symbol> = d
                .symbols
                .iter()
                .filter(|(_, k)| matches!(k, Kind::Array | Kind::Tensor(..)))
                .map(|(s, _)| *s)
                .collect();
            for id in &order {
                if let Math::Index(args) = &e[*id] {
                    let s = e[args[0]].symbol()?;
                    if let Some(other) = arrays.iter().find(|a| **a != s) {
                        return Some(replace(e, args[0], Math::Symbol(*other)));
                    }
                }
            }
            // No array: swap a symbol for another of the same kind in the term.
            let used: Vec<Symbol> = order.iter().filter_map(|id| e[*id].symbol()).collect();
            for id in &order {
                let Some(s) = e[*id].symbol() else { continue };
                // A bound index (or a name the loader introduced) has no declared kind.
                let Some(k) = kind(s) else { continue };
                if let Some(other) = used.iter().find(|t| **t != s && kind(**t) == Some(k)) {
                    return Some(replace(e, *id, Math::Symbol(*other)));
                }
            }
            None
        }
    }
}

fn run(path: &Path, m: Mutation) -> Result<(), Failed> {
    let src = std::fs::read_to_string(path).map_err(|e| Failed::from(e.to_string()))?;
    let d = load(&path.display().to_string(), &src).map_err(|e| Failed::from(e.render()))?;
    let ctx = context(&d);
    let mut missed = vec![];
    let mut tried = 0;
    // An inequality stays true under many changes of its bound: only equalities are mutated;
    // and only links that hold (a mutation of a false link, e.g. one that holds only under a
    // convention, may well be true).
    for link in d.links().filter(|l| {
        l.step.rel == derive::derivation::Relation::Eq
            && matches!(
                l.step.expect,
                Verdict::Proved | Verdict::Consistent | Verdict::Limit
            )
    }) {
        let Some(broken) = mutate(&d, &link.step.term.expr, m) else {
            continue;
        };
        tried += 1;
        let mut bad = d.clone();
        bad.sides_mut(link.id).expect("the link").1.expr = broken.clone();
        let bad_link = bad.link(link.id).expect("the link");
        let r = check_link(&bad, &ctx, &bad_link);
        if r.verdict != Verdict::Refuted {
            missed.push(format!(
                "link {} broken to `{}` is {} (expected refuted)",
                link.id,
                text(&broken),
                r.verdict
            ));
        }
    }
    if tried == 0 {
        return Err(Failed::from(format!(
            "no link of {} could be broken by {m:?}",
            d.id
        )));
    }
    if missed.is_empty() {
        Ok(())
    } else {
        Err(Failed::from(missed.join("\n")))
    }
}

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("derivations/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut trials = vec![];
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        for m in [Mutation::Constant, Mutation::Sign, Mutation::Index] {
            let f = f.clone();
            trials.push(Trial::test(
                format!("{name}::{}", format!("{m:?}").to_lowercase()),
                move || run(&f, m),
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
