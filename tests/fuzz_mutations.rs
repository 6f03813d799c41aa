//! The mutation fuzzer (issue 8 §1): the expressions of the correct derivations in derivations/
//! are mutated — operators swapped, constants ±1 and ×2, symbols swapped for others of the same
//! kind, sum ranges shifted or reversed, a bound index replaced by a free one, signs flipped,
//! terms dropped, indices of an array swapped, functions swapped — and every mutant that changes
//! the value must not be accepted: its verdict (the real checker, `check_link`) must not be
//! `proved`, `consistent` or `limit`.
//!
//! Whether a mutant changes the value is the harness's own judgment: both the original side and
//! the mutant are evaluated by the independent evaluator of `tests/common/exact.rs` (exact
//! Gaussian moments, brute-force sums, polar quadrature for `gauss`) at several points drawn from
//! the declarations. A mutant that differs at some point (or is undefined where the original is
//! defined) changes the value; one that agrees everywhere keeps it and may get any verdict; the
//! rest (not evaluable, too close to call) are skipped and counted.
//!
//! `limit` links are skipped (the limits harness owns them). `KNOWN_LIES` lists mutants the
//! current checker accepts although they change the value; the fuzz trials fail on any other, and
//! `known_lies_reproduce` fails when a listed one is no longer accepted (remove it then).
//!
//! Short run: `cargo test --test fuzz_mutations`; long run: `… -- --ignored`.

mod common;

use common::exact::{compare, eval, matrix, Cmp, Env, Fail, Rng};
use derive::derivation::check::{check_link, context, Verdict};
use derive::derivation::file::{Kind, LinkId};
use derive::derivation::{load, Derivation};
use derive::expr::{Constant, Expr, Math};
use egg::{Id, Language, Symbol};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Mutations.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    SwapOperator,
    Constant,
    SwapSymbol,
    Range,
    BoundToFree,
    FlipSign,
    DropTerm,
    SwapIndices,
    SwapFunction,
}

const OPS: [Op; 9] = [
    Op::SwapOperator,
    Op::Constant,
    Op::SwapSymbol,
    Op::Range,
    Op::BoundToFree,
    Op::FlipSign,
    Op::DropTerm,
    Op::SwapIndices,
    Op::SwapFunction,
];

fn root(e: &Expr) -> Id {
    Id::from(e.as_ref().len() - 1)
}

fn copy(e: &Expr, id: Id, out: &mut Expr) -> Id {
    let n = e[id].clone().map_children(|c| copy(e, c, out));
    out.add(n)
}

/// Copy with free occurrences of `from` replaced by `to`.
fn copy_subst(e: &Expr, id: Id, from: Symbol, to: &Math, out: &mut Expr) -> Id {
    match &e[id] {
        Math::Symbol(s) if *s == from => out.add(to.clone()),
        Math::Sum([v, lo, hi, b]) if e[*v].symbol() == Some(from) => {
            let lo = copy_subst(e, *lo, from, to, out);
            let hi = copy_subst(e, *hi, from, to, out);
            let v = copy(e, *v, out);
            let b = copy(e, *b, out);
            out.add(Math::Sum([v, lo, hi, b]))
        }
        n => {
            let n = n.clone().map_children(|c| copy_subst(e, c, from, to, out));
            out.add(n)
        }
    }
}

/// Rename every sum binder called `j` to `y`, with its bound occurrences, naively: when `y`
/// occurs free in a body the renaming captures it (the attack the judgment then decides).
fn rename_binder(e: &Expr, j: Symbol, y: Symbol) -> Expr {
    fn go(e: &Expr, id: Id, inside: bool, j: Symbol, y: Symbol, out: &mut Expr) -> Id {
        match &e[id] {
            Math::Symbol(s) if *s == j && inside => out.add(Math::Symbol(y)),
            Math::Sum([v, lo, hi, b]) if e[*v].symbol() == Some(j) => {
                let lo = go(e, *lo, inside, j, y, out);
                let hi = go(e, *hi, inside, j, y, out);
                let v = out.add(Math::Symbol(y));
                let b = go(e, *b, true, j, y, out);
                out.add(Math::Sum([v, lo, hi, b]))
            }
            n => {
                let n = n.clone().map_children(|c| go(e, c, inside, j, y, out));
                out.add(n)
            }
        }
    }
    let mut out = Expr::default();
    go(e, root(e), false, j, y, &mut out);
    out
}

/// The names of sum binders in `e`.
fn binder_names(e: &Expr) -> Vec<Symbol> {
    let mut v: Vec<Symbol> = e
        .as_ref()
        .iter()
        .filter_map(|n| match n {
            Math::Sum([b, ..]) => e[*b].symbol(),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Rebuild `e` with the node `target` replaced by what `f` emits.
fn rebuild(
    e: &Expr,
    id: Id,
    target: Id,
    out: &mut Expr,
    f: &dyn Fn(&Expr, Id, &mut Expr) -> Option<Id>,
) -> Option<Id> {
    if id == target {
        return f(e, id, out);
    }
    let mut failed = false;
    let n = e[id]
        .clone()
        .map_children(|c| match rebuild(e, c, target, out, f) {
            Some(x) => x,
            None => {
                failed = true;
                c
            }
        });
    if failed {
        return None;
    }
    Some(out.add(n))
}

/// Ids of symbols in binding position (sum indices, d/dt variables).
fn binder_ids(e: &Expr) -> BTreeSet<Id> {
    e.as_ref()
        .iter()
        .filter_map(|n| match n {
            Math::Sum([v, ..]) | Math::Deriv([v, _]) => Some(*v),
            _ => None,
        })
        .collect()
}

/// Every node id reachable from the root (pre-order).
fn positions(e: &Expr) -> Vec<Id> {
    fn go(e: &Expr, id: Id, out: &mut Vec<Id>) {
        if !out.contains(&id) {
            out.push(id);
        }
        for c in e[id].children() {
            go(e, *c, out);
        }
    }
    let mut out = vec![];
    go(e, root(e), &mut out);
    out
}

fn kind_of(d: &Derivation, s: Symbol) -> Option<&Kind> {
    d.symbols.iter().find(|(t, _)| *t == s).map(|(_, k)| k)
}

fn same_kind(a: &Kind, b: &Kind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Emits the replacement of one node.
type Emit = Box<dyn Fn(&Expr, Id, &mut Expr) -> Option<Id>>;

/// Apply `op` at `at` (None if it does not apply there).
fn mutate(d: &Derivation, e: &Expr, op: Op, at: Id, rng: &mut Rng) -> Option<Expr> {
    let binders = binder_ids(e);
    let node = e[at].clone();
    let choice = rng.next();
    let f: Emit = match (op, &node) {
        (Op::SwapOperator, Math::Add([a, b])) => {
            let (a, b) = (*a, *b);
            Box::new(move |e, _, out| {
                let (x, y) = (copy(e, a, out), copy(e, b, out));
                Some(out.add(if choice % 2 == 0 {
                    Math::Sub([x, y])
                } else {
                    Math::Mul([x, y])
                }))
            })
        }
        (Op::SwapOperator, Math::Sub([a, b])) => {
            let (a, b) = (*a, *b);
            Box::new(move |e, _, out| {
                let (x, y) = (copy(e, a, out), copy(e, b, out));
                Some(out.add(if choice % 2 == 0 {
                    Math::Add([x, y])
                } else {
                    Math::Sub([y, x])
                }))
            })
        }
        (Op::SwapOperator, Math::Mul([a, b])) => {
            let (a, b) = (*a, *b);
            Box::new(move |e, _, out| {
                let (x, y) = (copy(e, a, out), copy(e, b, out));
                Some(out.add(if choice % 2 == 0 {
                    Math::Div([x, y])
                } else {
                    Math::Add([x, y])
                }))
            })
        }
        (Op::SwapOperator, Math::Div([a, b])) => {
            let (a, b) = (*a, *b);
            Box::new(move |e, _, out| {
                let (x, y) = (copy(e, a, out), copy(e, b, out));
                Some(out.add(if choice % 2 == 0 {
                    Math::Mul([x, y])
                } else {
                    Math::Div([y, x])
                }))
            })
        }
        (Op::SwapOperator, Math::MatMul([a, b])) => {
            let (a, b) = (*a, *b);
            Box::new(move |e, _, out| {
                let (x, y) = (copy(e, a, out), copy(e, b, out));
                Some(out.add(Math::MatMul([y, x])))
            })
        }
        (Op::Constant, Math::Num(c)) => {
            let c = c.clone();
            Box::new(move |_, _, out| {
                let one = num_rational::BigRational::from_integer(1.into());
                let q = match choice % 3 {
                    0 => c.0.clone() + one,
                    1 => c.0.clone() - one,
                    _ => c.0.clone() * num_rational::BigRational::from_integer(2.into()),
                };
                Some(out.add(Math::Num(Constant(q))))
            })
        }
        (Op::SwapSymbol, Math::Symbol(s)) if !binders.contains(&at) => {
            let k = kind_of(d, *s)?;
            let others: Vec<Symbol> = d
                .symbols
                .iter()
                .filter(|(t, k2)| t != s && same_kind(k, k2))
                .map(|(t, _)| *t)
                .collect();
            if others.is_empty() {
                return None;
            }
            let t = others[(choice % others.len() as u64) as usize];
            Box::new(move |_, _, out| Some(out.add(Math::Symbol(t))))
        }
        (Op::Range, Math::Sum([v, lo, hi, b])) => {
            let (v, lo, hi, b) = (*v, *lo, *hi, *b);
            Box::new(move |e, _, out| {
                let vv = copy(e, v, out);
                let (l, h) = match choice % 5 {
                    0 | 1 => {
                        let l = copy(e, lo, out);
                        let one = out.add(Math::Num(Constant::int(1)));
                        let l2 = out.add(if choice % 5 == 0 {
                            Math::Add([l, one])
                        } else {
                            Math::Sub([l, one])
                        });
                        (l2, copy(e, hi, out))
                    }
                    2 | 3 => {
                        let l = copy(e, lo, out);
                        let h = copy(e, hi, out);
                        let one = out.add(Math::Num(Constant::int(1)));
                        let h2 = out.add(if choice % 5 == 2 {
                            Math::Sub([h, one])
                        } else {
                            Math::Add([h, one])
                        });
                        (l, h2)
                    }
                    _ => {
                        let h = copy(e, hi, out);
                        let l = copy(e, lo, out);
                        (h, l)
                    }
                };
                let body = copy(e, b, out);
                Some(out.add(Math::Sum([vv, l, h, body])))
            })
        }
        (Op::BoundToFree, Math::Sum([v, lo, hi, b])) => {
            let (v, lo, hi, b) = (*v, *lo, *hi, *b);
            let j = e[v].symbol()?;
            let free: Vec<Symbol> = d
                .symbols
                .iter()
                .filter(|(_, k)| matches!(k, Kind::Index(..) | Kind::Size))
                .map(|(t, _)| *t)
                .filter(|t| *t != j)
                .collect();
            let to = if free.is_empty() {
                Math::Num(Constant::int(1))
            } else {
                Math::Symbol(free[(choice % free.len() as u64) as usize])
            };
            Box::new(move |e, _, out| {
                let vv = copy(e, v, out);
                let l = copy(e, lo, out);
                let h = copy(e, hi, out);
                let body = copy_subst(e, b, j, &to, out);
                Some(out.add(Math::Sum([vv, l, h, body])))
            })
        }
        (Op::FlipSign, n) if !binders.contains(&at) && !matches!(n, Math::Num(_)) => {
            Box::new(move |e, id, out| {
                let x = copy(e, id, out);
                Some(out.add(Math::Neg(x)))
            })
        }
        (Op::DropTerm, Math::Add([a, b]) | Math::Sub([a, b])) => {
            let keep = if choice % 2 == 0 { *a } else { *b };
            Box::new(move |e, _, out| Some(copy(e, keep, out)))
        }
        (Op::SwapIndices, Math::Index(args)) if args.len() >= 3 => {
            let args = args.clone();
            Box::new(move |e, _, out| {
                let mut ids: Vec<Id> = args.iter().map(|a| copy(e, *a, out)).collect();
                ids.swap(1, 2);
                Some(out.add(Math::Index(ids.into_boxed_slice())))
            })
        }
        (Op::SwapIndices, Math::Delta([a, b])) => {
            // δ(j, k) → δ(j, j): the pairing is lost
            let a = *a;
            let _ = b;
            Box::new(move |e, _, out| {
                let x = copy(e, a, out);
                let y = copy(e, a, out);
                Some(out.add(Math::Delta([x, y])))
            })
        }
        (Op::SwapFunction, n) if n.unary_name().is_some() => {
            let name = n.unary_name()?;
            let arg = n.children()[0];
            let to = match name {
                "sin" => "cos",
                "cos" => "sin",
                "asin" => "acos",
                "acos" => "asin",
                "relu" => "abs",
                "step" => "relu",
                "phi" => "dphi",
                "dphi" => "phi",
                "sqrt" => "abs",
                "exp" => "sqrt",
                "erf" => "tanh",
                "mexp" => return None,
                _ => "exp",
            };
            Box::new(move |e, _, out| {
                let x = copy(e, arg, out);
                Some(out.add(Math::unary(to, x).expect("known function")))
            })
        }
        _ => return None,
    };
    let mut out = Expr::default();
    rebuild(e, root(e), at, &mut out, &*f)?;
    (out != *e).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// The harness's own judgment.

/// Points drawn from the declarations (sizes 1..5, reals of both signs, indices inside their
/// declared ranges).
fn points(d: &Derivation, count: usize, seed: u64) -> Vec<Env> {
    let mut rng = Rng(seed);
    let mut out = vec![];
    for k in 0..count {
        let mut env = Env {
            seed: 100 + k as u64,
            ..Env::default()
        };
        let mut order: Vec<&(Symbol, Kind)> = d.symbols.iter().collect();
        order.sort_by_key(|(_, k)| matches!(k, Kind::Index(..)));
        for (s, kind) in order {
            let name = s.as_str().to_string();
            let v = match kind {
                Kind::Real => *rng.pick(&[-2.0, -1.25, -0.5, 0.0, 0.75, 1.5, 2.5]),
                Kind::Positive => *rng.pick(&[0.25, 0.5, 1.0, 1.5, 2.5, 3.0]),
                Kind::Size => 1.0 + rng.below(5) as f64,
                Kind::Integer => rng.below(6) as f64 - 2.0,
                Kind::Interval(a, b) => {
                    let u = *rng.pick(&[0.0, 0.1, 0.35, 0.5, 0.8, 1.0]);
                    a + u * (b - a)
                }
                Kind::Index(lo, hi) => {
                    let l = eval(lo, &env).ok().and_then(|r| scalar(&r.val));
                    let h = eval(hi, &env).ok().and_then(|r| scalar(&r.val));
                    match (l, h) {
                        (Some(l), Some(h)) if h >= l => l + rng.below((h - l) as usize + 1) as f64,
                        _ => continue,
                    }
                }
                Kind::Array | Kind::Tensor(..) => {
                    env.arrays.push(name);
                    continue;
                }
                Kind::Params(_) | Kind::Covariance(_) | Kind::GaussianVector(..) => continue,
                Kind::Gaussian => {
                    env.random.push(name);
                    continue;
                }
                Kind::Matrix => {
                    env.matrices
                        .insert(name.clone(), matrix(&name, 7 + k as u64));
                    continue;
                }
            };
            env.scalars.insert(name, v);
        }
        out.push(env);
    }
    out
}

fn scalar(v: &common::exact::Val) -> Option<f64> {
    match v {
        common::exact::Val::P(p) => p.constant(),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgment {
    Changed,
    Kept,
    Undecided,
}

/// Is the link `lhs = rhs` false (Changed), true (Kept) at the points, or undecided?
fn judge(lhs: &Expr, rhs: &Expr, pts: &[Env]) -> Judgment {
    let mut same = 0;
    let mut unclear = false;
    for env in pts {
        match (eval(lhs, env), eval(rhs, env)) {
            (Ok(a), Ok(b)) => match compare(&a, &b) {
                Cmp::Same => same += 1,
                Cmp::Differ => return Judgment::Changed,
                Cmp::Unclear => unclear = true,
            },
            (Ok(_), Err(Fail::Undefined(_))) | (Err(Fail::Undefined(_)), Ok(_)) => {
                return Judgment::Changed
            }
            _ => unclear = true,
        }
    }
    if same > 0 && !unclear {
        Judgment::Kept
    } else {
        Judgment::Undecided
    }
}

// ---------------------------------------------------------------------------------------------
// The fuzzer.

/// One mutant the checker accepted although it changes the value.
struct Accepted {
    key: String,
    verdict: Verdict,
    lhs: String,
    rhs: String,
    by: String,
}

#[derive(Default)]
struct Tally {
    tried: usize,
    changed: usize,
    kept: usize,
    undecided: usize,
    rejected: usize,
    unsound: usize,
    links_skipped: usize,
}

fn derivations() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("derivations/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load_path(path: &Path) -> Derivation {
    let src = std::fs::read_to_string(path).expect("read");
    load(&path.display().to_string(), &src).unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Is link `id` one the fuzzer attacks (an identity the file expects to hold)?
fn attackable(d: &Derivation, id: LinkId) -> bool {
    let s = d.link(id).expect("the link").step;
    s.limit.is_none() && matches!(s.expect, Verdict::Proved | Verdict::Consistent)
}

/// Both sides of link `id`.
fn sides(d: &Derivation, id: LinkId) -> (&Expr, &Expr) {
    let l = d.link(id).expect("the link");
    (&l.from.expr, &l.step.term.expr)
}

fn accepted(v: Verdict) -> bool {
    matches!(v, Verdict::Proved | Verdict::Consistent | Verdict::Limit)
}

/// Check link `id` of the derivation with its two sides replaced.
fn verdict_of(d: &Derivation, id: LinkId, lhs: &Expr, rhs: &Expr) -> Result<Verdict, String> {
    let mut bad = d.clone();
    let (l, r) = bad.sides_mut(id).expect("the link");
    l.expr = lhs.clone();
    r.expr = rhs.clone();
    let link = bad.link(id).expect("the link");
    let result = check_link(&bad, &context(&bad), &link);
    match result.unsound {
        Some(e) => Err(e.0),
        None => Ok(result.verdict),
    }
}

/// Names a bound index may be renamed to: every declared symbol and the built-in ones.
fn collision_names(d: &Derivation) -> Vec<Symbol> {
    let mut v: Vec<Symbol> = d.symbols.iter().map(|(s, _)| *s).collect();
    for s in ["pi", "I", "u", "v", "j", "k"] {
        v.push(Symbol::from(s));
    }
    v
}

/// One mutant of link `id`: (side, lhs, rhs) with side "lhs", "rhs" or "both".
fn mutant_of(d: &Derivation, id: LinkId, rng: &mut Rng) -> Option<(&'static str, Expr, Expr)> {
    let (l, r) = sides(d, id);
    if rng.chance(0.2) {
        // rename a bound index on both sides, possibly into a capture
        let mut names = binder_names(l);
        names.extend(binder_names(r));
        if names.is_empty() {
            return None;
        }
        let j = *rng.pick(&names);
        let y = *rng.pick(&collision_names(d));
        if y == j {
            return None;
        }
        return Some(("both", rename_binder(l, j, y), rename_binder(r, j, y)));
    }
    let side = usize::from(rng.chance(0.7));
    let orig = [l, r][side];
    let op = *rng.pick(&OPS);
    let pos = positions(orig);
    let at = *rng.pick(&pos);
    let m = mutate(d, orig, op, at, rng)?;
    Some(if side == 0 {
        ("lhs", m, r.clone())
    } else {
        ("rhs", l.clone(), m)
    })
}

fn fuzz(path: &Path, per_link: usize, seed: u64, tally: &mut Tally) -> Vec<Accepted> {
    let d = load_path(path);
    let pts = points(&d, 6, seed ^ 0x77);
    let mut out = vec![];
    let mut rng = Rng(seed ^ (d.id.len() as u64 * 0x51));
    // Equalities only: an inequality can stay true when its bound changes.
    let ids: Vec<LinkId> = d
        .links()
        .filter(|l| l.step.rel == derive::derivation::Relation::Eq)
        .map(|l| l.id)
        .collect();
    for k in ids {
        if !attackable(&d, k) {
            continue;
        }
        let (orig_l, orig_r) = sides(&d, k);
        if judge(orig_l, orig_r, &pts) != Judgment::Kept {
            // the harness cannot confirm the original link: no judgment on its mutants
            tally.links_skipped += 1;
            continue;
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut made = 0;
        let mut attempts = 0;
        while made < per_link && attempts < per_link * 40 {
            attempts += 1;
            let Some((side, ml, mr)) = mutant_of(&d, k, &mut rng) else {
                continue;
            };
            let text = format!("{ml} | {mr}");
            if (&ml == orig_l && &mr == orig_r) || !seen.insert(text.clone()) {
                continue;
            }
            made += 1;
            tally.tried += 1;
            match judge(&ml, &mr, &pts) {
                Judgment::Kept => {
                    tally.kept += 1;
                    continue;
                }
                Judgment::Undecided => {
                    tally.undecided += 1;
                    continue;
                }
                Judgment::Changed => tally.changed += 1,
            }
            let key = format!("{}:{k}:{side}:{text}", d.id);
            match verdict_of(&d, k, &ml, &mr) {
                Err(msg) => {
                    // The prover proved it and the numerics contradicted: not accepted (exit 3),
                    // but a rule lied; shown for the lead.
                    tally.unsound += 1;
                    println!("prover lie caught by the numerics: {key}\n    {msg}");
                }
                Ok(v) if accepted(v) => out.push(Accepted {
                    key,
                    verdict: v,
                    lhs: derive::expr::text(&ml),
                    rhs: derive::expr::text(&mr),
                    by: d
                        .link(k)
                        .expect("the link")
                        .step
                        .by
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(","),
                }),
                Ok(_) => tally.rejected += 1,
            }
        }
    }
    out
}

// Mutants the current checker accepts although they change the value:
// "derivation:link:side:mutant (s-expression)". The lead removes entries as fixes land.
const KNOWN_LIES: &[&str] = &[];

fn run(per_link: usize, seed: u64) -> Result<(), Failed> {
    let mut tally = Tally::default();
    let mut unknown = vec![];
    let mut all = 0;
    for path in derivations() {
        let before = (tally.tried, tally.changed);
        let found = fuzz(&path, per_link, seed, &mut tally);
        println!(
            "{}: {} mutants, {} change the value, {} accepted",
            path.file_stem().unwrap().to_string_lossy(),
            tally.tried - before.0,
            tally.changed - before.1,
            found.len()
        );
        for a in found {
            all += 1;
            let known = KNOWN_LIES.contains(&a.key.as_str());
            println!(
                "{} `{}`: {}\n    lhs: {}\n    rhs: {}\n    by: {}",
                if known { "known lie" } else { "NEW LIE" },
                a.verdict,
                a.key,
                a.lhs,
                a.rhs,
                a.by
            );
            if !known {
                println!("    new entry: {:?},", a.key);
                unknown.push(a.key);
            }
        }
    }
    println!(
        "{} mutants: {} change the value ({} refuted or unknown, {} internal soundness errors, {} accepted), {} keep it, {} undecided; {} links not confirmed by the harness (skipped)",
        tally.tried, tally.changed, tally.rejected, tally.unsound, all, tally.kept, tally.undecided, tally.links_skipped
    );
    if tally.changed == 0 {
        return Err("no mutant changed the value: the fuzzer tested nothing".into());
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} value-changing mutants accepted and not in KNOWN_LIES:\n{}",
            unknown.len(),
            unknown.join("\n")
        )
        .into())
    }
}

/// Every listed lie still reproduces (else it was fixed: remove it from KNOWN_LIES).
fn reproduce() -> Result<(), Failed> {
    let mut gone = vec![];
    for key in KNOWN_LIES {
        let mut parts = key.splitn(4, ':');
        let (id, k, side, m) = (
            parts.next().unwrap(),
            {
                let (c, s) = parts.next().unwrap().split_once('.').expect("claim.step");
                LinkId {
                    claim: c.parse().unwrap(),
                    step: s.parse().unwrap(),
                }
            },
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let _ = side;
        let path = derivations()
            .into_iter()
            .find(|p| p.file_stem().is_some_and(|s| s == id))
            .expect("derivation");
        let d = load_path(&path);
        let (ml, mr) = m.split_once(" | ").expect("lhs | rhs");
        let (ml, mr): (Expr, Expr) = (ml.parse().expect("lhs"), mr.parse().expect("rhs"));
        let pts = points(&d, 6, 0x77);
        let changed = judge(&ml, &mr, &pts) == Judgment::Changed;
        match verdict_of(&d, k, &ml, &mr) {
            Ok(v) if accepted(v) && changed => {}
            other => gone.push(format!("{key}: no longer reproduces ({other:?}, value changed: {changed}); remove it from KNOWN_LIES")),
        }
    }
    if gone.is_empty() {
        Ok(())
    } else {
        Err(gone.join("\n").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("fuzz_short", || run(2, 0x0f22_0008)),
        Trial::test("known_lies_reproduce", reproduce),
        Trial::test("a_planted_lie_is_judged_changed", || {
            let d = load_path(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations/projection_variance.toml"),
            );
            let pts = points(&d, 6, 1);
            let id = LinkId { claim: 1, step: 2 };
            let orig = sides(&d, id).1;
            let mut rng = Rng(3);
            // shift the range: sum(j in 1..n, …) → sum(j in 2..n, …) changes the value
            let at = positions(orig)
                .into_iter()
                .find(|id| matches!(orig[*id], Math::Sum(_)))
                .unwrap();
            let mut m = None;
            for _ in 0..20 {
                m = mutate(&d, orig, Op::Range, at, &mut rng);
                if m.as_ref()
                    .is_some_and(|m| judge(orig, m, &pts) == Judgment::Changed)
                {
                    break;
                }
            }
            let m = m.ok_or("no mutant")?;
            if judge(orig, &m, &pts) != Judgment::Changed {
                return Err("a shifted range was not judged a change".into());
            }
            if judge(orig, orig, &pts) != Judgment::Kept {
                return Err("the original was not judged equal to itself".into());
            }
            let v = verdict_of(&d, id, sides(&d, id).0, &m).map_err(Failed::from)?;
            if accepted(v) {
                return Err(format!("planted mutant accepted: {v}").into());
            }
            Ok(())
        }),
        // FUZZ_PER_LINK mutants per link (default 30)
        Trial::test("fuzz_long", || {
            let per_link = std::env::var("FUZZ_PER_LINK")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(30);
            run(per_link, 0x0f22_1008)
        })
        .with_ignored_flag(true),
    ];
    libtest_mimic::run(&args, trials).exit();
}
