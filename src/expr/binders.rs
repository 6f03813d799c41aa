//! Binders: which node binds which symbols in which child, and everything built on that one
//! fact — free symbols, capture-refusing substitution, and renaming bound indices apart.
//!
//! Two nodes bind: `sum(j in lo..hi, body)` binds its index `j` in `body` (not in `lo`, `hi`), and
//! `gauss(s11, s12, s22; body)` binds [`GAUSS_VARS`] (`u`, `v`) in `body`. A rule that consults
//! what is declared about a symbol (a range, randomness, positivity) is sound only where the
//! symbol means the declared one; [`rename_apart`] makes that true everywhere in a term by
//! renaming every bound index that collides with a declared or free name, or shadows an
//! enclosing binder, before the prover sees the term.

use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeSet, HashMap};

use super::lang::{Expr, Math, GAUSS_VARS};

/// The symbols node `id` of `e` binds in its body (none for nodes that bind nothing).
pub fn binds(e: &Expr, id: Id) -> Vec<Symbol> {
    match &e[id] {
        Math::Sum([v, ..]) => e[*v].symbol().into_iter().collect(),
        Math::Gauss(_) => GAUSS_VARS.iter().map(|s| Symbol::from(*s)).collect(),
        _ => vec![],
    }
}

/// What a child slot of a node is: the index name of a `sum`, a term outside the node's binder,
/// or the body the binder scopes over. Slots are positional: a RecExpr may share one id between
/// the index slot, a range and the body (`sum(j in j..n, j)`), so ids cannot tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The index name of a `sum`.
    Name,
    /// A term the node's binder does not scope over.
    Free,
    /// The body the node's binder scopes over.
    Body,
}

/// The slot of child number `k` of node `n`.
pub fn slot(n: &Math, k: usize) -> Slot {
    match (n, k) {
        (Math::Sum(_), 0) => Slot::Name,
        (Math::Sum(_), 3) | (Math::Gauss(_), 3) => Slot::Body,
        _ => Slot::Free,
    }
}

/// The children of node `id` with their slots, in order.
fn children(e: &Expr, id: Id) -> Vec<(Id, Slot)> {
    let n = &e[id];
    n.children()
        .iter()
        .enumerate()
        .map(|(k, c)| (*c, slot(n, k)))
        .collect()
}

/// Does `s` occur free in the subterm `id` of `e`?
pub fn free_in(e: &Expr, id: Id, s: Symbol) -> bool {
    if let Math::Symbol(x) = &e[id] {
        return *x == s;
    }
    let bound = binds(e, id);
    children(e, id).into_iter().any(|(c, slot)| match slot {
        Slot::Name => false,
        Slot::Body if bound.contains(&s) => false,
        _ => free_in(e, c, s),
    })
}

/// The symbols that occur free in the subterm `id` of `e`.
pub fn free_symbols(e: &Expr, id: Id) -> BTreeSet<Symbol> {
    let mut out = BTreeSet::new();
    if let Math::Symbol(x) = &e[id] {
        out.insert(*x);
        return out;
    }
    let bound = binds(e, id);
    for (c, slot) in children(e, id) {
        if slot == Slot::Name {
            continue;
        }
        let mut f = free_symbols(e, c);
        if slot == Slot::Body {
            f.retain(|s| !bound.contains(s));
        }
        out.extend(f);
    }
    out
}

/// The root id of a term.
pub fn root(e: &Expr) -> Id {
    Id::from(e.as_ref().len() - 1)
}

/// Copy the subterm `id` of `e` into `out`.
fn copy(e: &Expr, id: Id, out: &mut Expr) -> Id {
    let n = e[id].clone().map_children(|c| copy(e, c, out));
    out.add(n)
}

/// Substitute symbol `to` for the free occurrences of `from` in `e`; `None` if a binder of `e`
/// would capture `to`.
pub fn substitute(e: &Expr, from: Symbol, to: Symbol) -> Option<Expr> {
    fn go(e: &Expr, id: Id, from: Symbol, to: Symbol, out: &mut Expr) -> Option<Id> {
        if let Math::Symbol(s) = &e[id] {
            let s = if *s == from { to } else { *s };
            return Some(out.add(Math::Symbol(s)));
        }
        let bound = binds(e, id);
        let body = children(e, id)
            .into_iter()
            .find(|(_, slot)| *slot == Slot::Body)
            .map(|(c, _)| c);
        if body
            .is_some_and(|b| bound.contains(&to) && !bound.contains(&from) && free_in(e, b, from))
        {
            return None;
        }
        let mut failed = false;
        let mut k = 0;
        let node = e[id].clone().map_children(|c| {
            let slot = slot(&e[id], k);
            k += 1;
            if failed {
                return c;
            }
            let r = match slot {
                Slot::Name => Some(copy(e, c, out)),
                Slot::Body if bound.contains(&from) => Some(copy(e, c, out)),
                _ => go(e, c, from, to, out),
            };
            r.unwrap_or_else(|| {
                failed = true;
                c
            })
        });
        (!failed).then(|| out.add(node))
    }
    let mut out = RecExpr::default();
    go(e, root(e), from, to, &mut out)?;
    Some(out)
}

/// Rename the bound indices of `terms` apart: a `sum` index that is in `reserved` (declared or
/// free names), or that a binder inside its body binds again, gets a fresh name `j_1`, `j_2`, …
/// that occurs nowhere in the terms, is not reserved and is bound nowhere in its body. Afterwards
/// no binder shadows another and no bound name is reserved. Inner binders keep their names (the
/// outer one of two clashing binders is renamed), so a closed subterm such as an unfolded
/// definition reads the same wherever it stands, and renaming is deterministic: alpha-equal sums
/// on the two sides of a link stay identical.
pub fn rename_apart(terms: &[&Expr], reserved: &BTreeSet<Symbol>) -> Vec<Expr> {
    let mut taken: BTreeSet<Symbol> = reserved.clone();
    for t in terms {
        taken.extend(t.as_ref().iter().filter_map(Math::symbol));
    }
    /// Decide the name of every sum binder below `id` (bottom up); returns the names bound
    /// below and at `id`.
    fn decide(
        e: &Expr,
        id: Id,
        reserved: &BTreeSet<Symbol>,
        taken: &BTreeSet<Symbol>,
        names: &mut HashMap<Id, Symbol>,
    ) -> BTreeSet<Symbol> {
        let mut inside = BTreeSet::new();
        for (c, slot) in children(e, id) {
            if slot != Slot::Name {
                inside.extend(decide(e, c, reserved, taken, names));
            }
        }
        let bound = binds(e, id);
        if let (Math::Sum([_, _, _, body]), [b]) = (&e[id], bound.as_slice()) {
            let below = {
                let mut below = BTreeSet::new();
                collect_bound(e, *body, names, &mut below);
                below
            };
            let name = if reserved.contains(b) || below.contains(b) {
                (1..)
                    .map(|k| Symbol::from(format!("{b}_{k}")))
                    .find(|c| !taken.contains(c) && !below.contains(c))
                    .expect("an unused name")
            } else {
                *b
            };
            names.insert(id, name);
            inside.insert(name);
        } else {
            inside.extend(bound);
        }
        inside
    }
    /// The names bound strictly inside `id`, as decided.
    fn collect_bound(e: &Expr, id: Id, names: &HashMap<Id, Symbol>, out: &mut BTreeSet<Symbol>) {
        match names.get(&id) {
            Some(n) => {
                out.insert(*n);
            }
            None => out.extend(binds(e, id)),
        }
        for (c, slot) in children(e, id) {
            if slot != Slot::Name {
                collect_bound(e, c, names, out);
            }
        }
    }
    /// Copy with the decided names, resolving each reference through the enclosing binders.
    fn copy_renamed(
        e: &Expr,
        id: Id,
        names: &HashMap<Id, Symbol>,
        scope: &mut Vec<(Symbol, Symbol)>,
        out: &mut Expr,
    ) -> Id {
        match &e[id] {
            Math::Symbol(s) => {
                let s = scope
                    .iter()
                    .rev()
                    .find(|(old, _)| old == s)
                    .map_or(*s, |(_, new)| *new);
                out.add(Math::Symbol(s))
            }
            node => {
                let bound = binds(e, id);
                let mut k = 0;
                let n = node.clone().map_children(|c| {
                    let slot = slot(node, k);
                    k += 1;
                    match slot {
                        Slot::Name => match names.get(&id).copied().or(e[c].symbol()) {
                            Some(n) => out.add(Math::Symbol(n)),
                            None => copy(e, c, out),
                        },
                        Slot::Free => copy_renamed(e, c, names, scope, out),
                        Slot::Body => {
                            for b in &bound {
                                scope.push((*b, names.get(&id).copied().unwrap_or(*b)));
                            }
                            let r = copy_renamed(e, c, names, scope, out);
                            scope.truncate(scope.len() - bound.len());
                            r
                        }
                    }
                });
                out.add(n)
            }
        }
    }
    terms
        .iter()
        .map(|t| {
            let mut names = HashMap::new();
            decide(t, root(t), reserved, &taken, &mut names);
            let mut out = RecExpr::default();
            copy_renamed(t, root(t), &names, &mut vec![], &mut out);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Expr {
        s.parse().unwrap()
    }
    fn syms(names: &[&str]) -> BTreeSet<Symbol> {
        names.iter().map(|s| Symbol::from(*s)).collect()
    }

    #[test]
    fn free_symbols_respect_binders_and_ranges() {
        let t = e("(sum j (+ j 1) n (* (idx x j) k))");
        assert_eq!(free_symbols(&t, root(&t)), syms(&["j", "n", "x", "k"]));
        let g = e("(gauss a 0 b (* (relu u) w))");
        assert_eq!(free_symbols(&g, root(&g)), syms(&["a", "b", "w"]));
        assert!(free_in(&t, root(&t), Symbol::from("j")));
    }

    #[test]
    fn substitution_refuses_capture_and_respects_shadowing() {
        let t = e("(sum j 1 n (* (idx x j) k))");
        assert!(substitute(&t, Symbol::from("k"), Symbol::from("j")).is_none());
        let s = substitute(&t, Symbol::from("k"), Symbol::from("m")).unwrap();
        assert_eq!(s.to_string(), "(sum j 1 n (* (idx x j) m))");
        // `j` is bound in the body but free in the range.
        let r = e("(sum j j n (idx x j))");
        let s = substitute(&r, Symbol::from("j"), Symbol::from("i")).unwrap();
        assert_eq!(s.to_string(), "(sum j i n (idx x j))");
        // One shared id for the index slot and the range: positions, not ids, decide.
        let mut shared = Expr::default();
        let j = shared.add(Math::Symbol(Symbol::from("j")));
        let m = shared.add(Math::Symbol(Symbol::from("m")));
        shared.add(Math::Sum([j, j, m, j]));
        let s = substitute(&shared, Symbol::from("j"), Symbol::from("l")).unwrap();
        assert_eq!(s.to_string(), "(sum j l m j)");
        assert!(free_in(&shared, root(&shared), Symbol::from("j")));
    }

    #[test]
    fn bound_names_are_renamed_apart_from_declared_and_enclosing_ones() {
        // `j` is declared (and free in the outer range); the inner `j` shadows the outer one.
        let t = e("(sum j (+ j 1) n (sum j 1 j (idx x j)))");
        let out = rename_apart(&[&t], &syms(&["j", "n", "x"]));
        assert_eq!(
            out[0].to_string(),
            "(sum j_2 (+ j 1) n (sum j_1 1 j_2 (idx x j_1)))"
        );
        // The outer of two clashing binders is renamed: the inner (closed) sum stays as written.
        let t = e("(sum k 1 n (* (idx a k) (sum k 1 n (idx b k))))");
        let out = rename_apart(&[&t], &syms(&["n", "a", "b"]));
        assert_eq!(
            out[0].to_string(),
            "(sum k_1 1 n (* (idx a k_1) (sum k 1 n (idx b k))))"
        );
        // A sum index named like a random symbol is renamed; siblings get the same name.
        let t = e("(+ (sum z 1 n z) (sum z 1 n z))");
        let out = rename_apart(&[&t], &syms(&["z", "n"]));
        assert_eq!(
            out[0].to_string(),
            "(+ (sum z_1 1 n z_1) (sum z_1 1 n z_1))"
        );
        // Inside gauss, u is the bound variable: a sum over u around it is renamed.
        let t = e("(sum u 1 n (* u (gauss 1 0 1 (relu u))))");
        let out = rename_apart(&[&t], &syms(&["n"]));
        assert_eq!(
            out[0].to_string(),
            "(sum u_1 1 n (* u_1 (gauss 1 0 1 (relu u))))"
        );
    }
}
