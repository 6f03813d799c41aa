//! Binders: which node binds which symbols in which child ([`slot`], [`node_binds`]), and
//! everything built on that one fact — a [`walk`] that gives each node with the names bound above
//! it, free symbols, capture-refusing substitution and unfolding of definitions, and renaming
//! bound indices apart. The loader, the prover's analysis and the description of sample points
//! ask here (the evaluators and printers still match `sum` and `gauss` themselves).
//!
//! Three nodes bind: `sum(j in lo..hi, body)` binds its index `j` in `body` (not in `lo`, `hi`),
//! `integral(s in a..b, body)` its variable `s` likewise, and `gauss(s11, s12, s22; body)` binds
//! [`GAUSS_VARS`] (`u`, `v`) in `body`. A rule that consults
//! what is declared about a symbol (a range, randomness, positivity) is sound only where the
//! symbol means the declared one; [`rename_apart`] makes that true everywhere in a term by
//! renaming every bound index that collides with a declared or free name, or shadows an
//! enclosing binder, before the prover sees the term.

use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;

use super::lang::{Expr, Math, GAUSS_VARS};

/// The symbols node `n` binds in its body (none for nodes that bind nothing); `name` reads the
/// symbol a child stands for (the index slot of a `sum`). The one rule of what binds what: terms
/// use it through [`binds`], e-graph analyses with their own `name`.
pub fn node_binds(n: &Math, name: impl Fn(Id) -> Option<Symbol>) -> Vec<Symbol> {
    match n {
        Math::Gauss(_) => GAUSS_VARS.iter().map(|s| Symbol::from(*s)).collect(),
        // A sum binds the name in its index slot.
        _ => slots(n)
            .filter(|(_, slot)| *slot == Slot::Name)
            .filter_map(|(c, _)| name(c))
            .collect(),
    }
}

/// The symbols node `id` of `e` binds in its body (none for nodes that bind nothing).
pub fn binds(e: &Expr, id: Id) -> Vec<Symbol> {
    node_binds(&e[id], |c| e[c].symbol())
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
        (Math::Sum(_), 0) | (Math::Integral(_), 0) => Slot::Name,
        (Math::Sum(_), 3) | (Math::Integral(_), 3) | (Math::Gauss(_), 3) => Slot::Body,
        _ => Slot::Free,
    }
}

/// The children of node `n` with their slots, in order.
pub fn slots(n: &Math) -> impl Iterator<Item = (Id, Slot)> + '_ {
    n.children()
        .iter()
        .enumerate()
        .map(|(k, c)| (*c, slot(n, k)))
}

/// The children of node `id` with their slots, in order.
fn children(e: &Expr, id: Id) -> Vec<(Id, Slot)> {
    slots(&e[id]).collect()
}

/// Walk the subterm `id` of `e` top down, children left to right, calling `f` on every node with
/// the names bound above it (outermost first). The index slot of a `sum` names its binder and is
/// not an occurrence: it is not visited. The walk stops at the first `Break`, which it returns.
pub fn walk<B>(
    e: &Expr,
    id: Id,
    f: &mut impl FnMut(Id, &[Symbol]) -> ControlFlow<B>,
) -> ControlFlow<B> {
    fn go<B>(
        e: &Expr,
        id: Id,
        bound: &mut Vec<Symbol>,
        f: &mut impl FnMut(Id, &[Symbol]) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        f(id, bound)?;
        let here = binds(e, id);
        for (c, slot) in children(e, id) {
            match slot {
                Slot::Name => {}
                Slot::Free => go(e, c, bound, f)?,
                Slot::Body => {
                    let depth = bound.len();
                    bound.extend(&here);
                    let r = go(e, c, bound, f);
                    bound.truncate(depth);
                    r?;
                }
            }
        }
        ControlFlow::Continue(())
    }
    go(e, id, &mut vec![], f)
}

/// The free occurrences of symbols in the subterm `id` of `e`, in walk order (see [`walk`]).
pub fn free_occurrences(e: &Expr, id: Id) -> Vec<(Id, Symbol)> {
    let mut out = vec![];
    let _ = walk(e, id, &mut |n, bound| -> ControlFlow<()> {
        if let Math::Symbol(s) = &e[n] {
            if !bound.contains(s) {
                out.push((n, *s));
            }
        }
        ControlFlow::Continue(())
    });
    out
}

/// Does `s` occur free in the subterm `id` of `e`?
pub fn free_in(e: &Expr, id: Id, s: Symbol) -> bool {
    walk(e, id, &mut |n, bound| match &e[n] {
        Math::Symbol(x) if *x == s && !bound.contains(x) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// The symbols that occur free in the subterm `id` of `e`.
pub fn free_symbols(e: &Expr, id: Id) -> BTreeSet<Symbol> {
    free_occurrences(e, id)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
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

/// The subterm `id` of `e` as a term of its own.
pub fn subterm(e: &Expr, id: Id) -> Expr {
    let mut out = Expr::default();
    copy(e, id, &mut out);
    out
}

/// The terms whose sum is `e`, with their signs (`true`: added): `e` split at its top-level
/// `+`, `−` and negations. Each term keeps its coefficient (`2·x` stays one term).
pub fn additive_terms(e: &Expr) -> Vec<(bool, Expr)> {
    fn split(e: &Expr, id: Id, positive: bool, out: &mut Vec<(bool, Expr)>) {
        match &e[id] {
            Math::Add([a, b]) => {
                split(e, *a, positive, out);
                split(e, *b, positive, out);
            }
            Math::Sub([a, b]) => {
                split(e, *a, positive, out);
                split(e, *b, !positive, out);
            }
            Math::Neg(a) => split(e, *a, !positive, out),
            _ => out.push((positive, subterm(e, id))),
        }
    }
    let mut out = vec![];
    split(e, root(e), true, &mut out);
    out
}

/// Append the term `e` to `out`; returns the id of its root in `out`.
pub fn append(out: &mut Expr, e: &Expr) -> Id {
    let base = out.as_ref().len();
    let mut last = Id::from(0);
    for n in e.as_ref() {
        last = out.add(n.clone().map_children(|c| Id::from(usize::from(c) + base)));
    }
    last
}

/// Why a term could not be unfolded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnfoldError {
    /// `(definition, bound symbol)`: the definition mentions a free symbol that a binder around
    /// its use binds, so unfolding would capture it.
    Capture(Symbol, Symbol),
    /// Unfolding this definition made the term larger than the node budget.
    TooLarge(Symbol),
    /// The symbol is the variable of a derivative `d/dx(body)`: x there is both the variable
    /// differentiated in `body` and the point the derivative is taken at, so x := e cannot be
    /// written by replacing symbols (d/dj(j·i) at j = i is i; d/di(i·i) is 2i).
    DerivativeVariable(Symbol),
}

/// Replace every free occurrence of a defined symbol in `e` by its definition; returns the
/// result and the names unfolded (in order of first use). A name bound by a binder around it
/// is the binder's, not the definition (and a `sum`'s index slot is a name, not a use). A
/// definition used under a binder that binds one of its free symbols would be captured, and a
/// result of more than `max_nodes` nodes is refused as soon as it grows past it: both are errors.
pub fn unfold(
    e: &Expr,
    defs: &BTreeMap<Symbol, Expr>,
    max_nodes: usize,
) -> Result<(Expr, Vec<Symbol>), UnfoldError> {
    replace(e, defs, max_nodes, false)
}

/// Substitute values for symbols: x := a for each `(x, a)` of `values` (a sum with one term, an
/// integrand at an end, an initial time), refusing capture like [`unfold`] and, unlike a
/// definition, a derivative's variable (see [`differentiated`]): x := a cannot be written in
/// d/dx(body), and a value that mentions x cannot enter the body of d/dx (there it would be
/// differentiated; a definition that mentions x is a function of it and is meant to be).
pub fn substitute_values(
    e: &Expr,
    values: &BTreeMap<Symbol, Expr>,
    max_nodes: usize,
) -> Result<(Expr, Vec<Symbol>), UnfoldError> {
    replace(e, values, max_nodes, true)
}

fn replace(
    e: &Expr,
    defs: &BTreeMap<Symbol, Expr>,
    max_nodes: usize,
    values: bool,
) -> Result<(Expr, Vec<Symbol>), UnfoldError> {
    struct Unfolder<'a> {
        e: &'a Expr,
        defs: &'a BTreeMap<Symbol, Expr>,
        max_nodes: usize,
        out: Expr,
        used: Vec<Symbol>,
        bound: Vec<Symbol>,
        values: bool,
    }
    impl Unfolder<'_> {
        fn copy(&mut self, id: Id) -> Result<Id, UnfoldError> {
            let e = self.e;
            if let Math::Symbol(s) = &e[id] {
                if let Some(d) = self.defs.get(s).filter(|_| !self.bound.contains(s)) {
                    if let Some(b) = self.bound.iter().find(|b| free_in(d, root(d), **b)) {
                        return Err(UnfoldError::Capture(*s, *b));
                    }
                    if self.out.as_ref().len() + d.as_ref().len() > self.max_nodes {
                        return Err(UnfoldError::TooLarge(*s));
                    }
                    if !self.used.contains(s) {
                        self.used.push(*s);
                    }
                    return Ok(append(&mut self.out, d));
                }
            }
            let here = binds(e, id);
            // Values: in d/dx(body) x may not be replaced, and a value substituted in the body
            // may not mention x (it would be differentiated): x is bound there.
            if let Some((x, var, body)) = differentiated(e, id).filter(|_| self.values) {
                if self.defs.contains_key(&x) && !self.bound.contains(&x) {
                    return Err(UnfoldError::DerivativeVariable(x));
                }
                // The variable's indices (d/dx[i]) are terms outside the body.
                let v = self.copy(var)?;
                self.bound.push(x);
                let b = self.copy(body);
                self.bound.pop();
                let b = b?;
                return Ok(self.out.add(match e[id] {
                    Math::Deriv(_) => Math::Deriv([v, b]),
                    Math::Grad(_) => Math::Grad([v, b]),
                    Math::Jacobian(_) => Math::Jacobian([v, b]),
                    _ => Math::Hessian([v, b]),
                }));
            }
            let mut kids = vec![];
            for (c, slot) in children(e, id) {
                kids.push(match slot {
                    Slot::Name => copy(e, c, &mut self.out),
                    Slot::Free => self.copy(c)?,
                    Slot::Body => {
                        let depth = self.bound.len();
                        self.bound.extend(&here);
                        let r = self.copy(c);
                        self.bound.truncate(depth);
                        r?
                    }
                });
            }
            let mut kids = kids.into_iter();
            let n = e[id]
                .clone()
                .map_children(|_| kids.next().expect("one id per child"));
            Ok(self.out.add(n))
        }
    }
    let mut u = Unfolder {
        e,
        defs,
        max_nodes,
        out: Expr::default(),
        used: vec![],
        bound: vec![],
        values,
    };
    u.copy(root(e))?;
    Ok((u.out, u.used))
}

/// The symbol a differentiating node moves, its variable and its body: `d/dx(body)`,
/// `d/dx[i](body)` (the array x), `grad(x, body)`, `jacobian(x, body)`, `hessian(x, body)`.
/// Such a node is not a binder of [`slot`]'s kind: x there is both free (the point the
/// derivative is taken at) and bound in `body` (the variable differentiated). A substitution may
/// therefore neither replace x (x := e would have to replace the point only, which no term can
/// say) nor bring x into the body (it would be differentiated too).
pub fn differentiated(e: &Expr, id: Id) -> Option<(Symbol, Id, Id)> {
    let (v, body) = match &e[id] {
        Math::Deriv([v, b])
        | Math::Grad([v, b])
        | Math::Jacobian([v, b])
        | Math::Hessian([v, b]) => (*v, *b),
        _ => return None,
    };
    let x = match &e[v] {
        Math::Symbol(x) => *x,
        Math::Index(args) => e[args[0]].symbol()?,
        _ => return None,
    };
    Some((x, v, body))
}

/// Substitute symbol `to` for the free occurrences of `from` in `e`; `None` if a binder of `e`
/// would capture `to`, or if `from` is the variable of a derivative in `e` (see
/// [`differentiated`]), or `to` is one whose body mentions `from`.
pub fn substitute(e: &Expr, from: Symbol, to: Symbol) -> Option<Expr> {
    fn go(e: &Expr, id: Id, from: Symbol, to: Symbol, out: &mut Expr) -> Option<Id> {
        if let Math::Symbol(s) = &e[id] {
            let s = if *s == from { to } else { *s };
            return Some(out.add(Math::Symbol(s)));
        }
        // Every differentiating node, d/dx[i], grad, jacobian and hessian too: `to` may not be
        // brought into the body where it is the variable differentiated.
        if let Some((x, _, body)) = differentiated(e, id) {
            if x == from || (x == to && free_in(e, body, from)) {
                return None;
            }
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

/// Rename the bound indices of `terms` apart: a `sum` index or an `integral` variable that is in
/// `reserved` (declared or free names), or that a binder inside its body binds again, gets a
/// fresh name `j_1`, `j_2`, … that occurs nowhere in the terms, is not reserved and is bound nowhere in its body. Afterwards
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
        if let (Math::Sum([_, _, _, body]) | Math::Integral([_, _, _, body]), [b]) =
            (&e[id], bound.as_slice())
        {
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
        // A differentiating node's variable may not be brought into its body: y → x in
        // grad(x, y·x) or d/dx[i](y[i]·x[i]) would differentiate y too.
        for t in [
            "(grad x (* y x))",
            "(d (idx x i) (* (idx y i) (idx x i)))",
            "(d x (* y x))",
        ] {
            assert!(
                substitute(&e(t), Symbol::from("y"), Symbol::from("x")).is_none(),
                "{t}"
            );
        }
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

    #[test]
    fn walk_gives_each_node_the_names_bound_above_it() {
        // Ranges are outside the binder, the body inside; the index slot is not visited.
        let t = e("(sum j j n (gauss 1 0 1 (* u j)))");
        let mut seen = vec![];
        let _ = walk(&t, root(&t), &mut |id, bound| -> ControlFlow<()> {
            if let Some(s) = t[id].symbol() {
                let bound: Vec<String> = bound.iter().map(|b| b.to_string()).collect();
                seen.push(format!("{s}:{}", bound.join(",")));
            }
            ControlFlow::Continue(())
        });
        assert_eq!(seen, ["j:", "n:", "u:j,u,v", "j:j,u,v"]);
        let free: Vec<String> = free_occurrences(&t, root(&t))
            .iter()
            .map(|(_, s)| s.to_string())
            .collect();
        assert_eq!(free, ["j", "n"]);
    }

    fn defs(pairs: &[(&str, &str)]) -> BTreeMap<Symbol, Expr> {
        pairs
            .iter()
            .map(|(n, d)| (Symbol::from(*n), e(d)))
            .collect()
    }

    #[test]
    fn unfold_respects_binders() {
        // A use under a binder of one of its free symbols is refused.
        let d = defs(&[("h", "(^ (idx x i) 2)")]);
        assert_eq!(
            unfold(&e("(sum i 1 n h)"), &d, 1000).unwrap_err(),
            UnfoldError::Capture(Symbol::from("h"), Symbol::from("i"))
        );
        // In a range it is outside the binder, and a closed definition unfolds anywhere.
        let (u, used) = unfold(&e("(sum i 1 h i)"), &d, 1000).unwrap();
        assert_eq!(u.to_string(), "(sum i 1 (^ (idx x i) 2) i)");
        assert_eq!(used, [Symbol::from("h")]);
        // A bound index named like a definition is the binder's: neither the index slot nor
        // its bound uses are unfolded (the free use in the range is).
        let d = defs(&[("q", "(+ x 1)")]);
        let (u, _) = unfold(&e("(sum q q n (* q 2))"), &d, 1000).unwrap();
        assert_eq!(u.to_string(), "(sum q (+ x 1) n (* q 2))");
        // One shared id for the range and the body: positions decide, not ids.
        let mut shared = Expr::default();
        let j = shared.add(Math::Symbol(Symbol::from("j")));
        let h = shared.add(Math::Symbol(Symbol::from("h")));
        shared.add(Math::Sum([j, h, h, h]));
        let d = defs(&[("h", "(idx x j)")]);
        assert_eq!(
            unfold(&shared, &d, 1000).unwrap_err(),
            UnfoldError::Capture(Symbol::from("h"), Symbol::from("j"))
        );
        let d = defs(&[("h", "(+ n 1)")]);
        let (u, _) = unfold(&shared, &d, 1000).unwrap();
        assert_eq!(u.to_string(), "(sum j (+ n 1) (+ n 1) (+ n 1))");
        // The budget.
        let d = defs(&[("h", "(+ n (+ n (+ n n)))")]);
        assert_eq!(
            unfold(&e("(* h h)"), &d, 10).unwrap_err(),
            UnfoldError::TooLarge(Symbol::from("h"))
        );
    }

    /// Property tests against an oracle written on the generator's own tree.
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum T {
            Sym(&'static str),
            Num,
            Add(Box<T>, Box<T>),
            Sum(&'static str, Box<T>, Box<T>, Box<T>),
            Gauss(Box<T>, Box<T>, Box<T>, Box<T>),
        }

        const NAMES: [&str; 7] = ["j", "k", "q", "n", "u", "v", "x"];
        /// Sum indices: `u` collides with gauss's bound variable.
        const INDICES: [&str; 4] = ["j", "k", "q", "u"];

        fn text(t: &T) -> String {
            match t {
                T::Sym(s) => s.to_string(),
                T::Num => "1".into(),
                T::Add(a, b) => format!("(+ {} {})", text(a), text(b)),
                T::Sum(j, a, b, c) => format!("(sum {j} {} {} {})", text(a), text(b), text(c)),
                T::Gauss(a, b, c, d) => {
                    format!("(gauss {} {} {} {})", text(a), text(b), text(c), text(d))
                }
            }
        }

        /// What the node binds in its body.
        fn bound_by(t: &T) -> Vec<&'static str> {
            match t {
                T::Sum(j, ..) => vec![*j],
                T::Gauss(..) => vec!["u", "v"],
                _ => vec![],
            }
        }

        fn free(t: &T) -> BTreeSet<String> {
            match t {
                T::Sym(s) => BTreeSet::from([s.to_string()]),
                T::Num => BTreeSet::new(),
                T::Add(a, b) => free(a).union(&free(b)).cloned().collect(),
                T::Sum(_, a, b, c) | T::Gauss(a, b, c, _) => {
                    let body = match t {
                        T::Sum(.., c) | T::Gauss(.., c) => c,
                        _ => unreachable!(),
                    };
                    let mut out: BTreeSet<String> = free(body)
                        .into_iter()
                        .filter(|s| !bound_by(t).contains(&s.as_str()))
                        .collect();
                    let ranges: Vec<&T> = match t {
                        T::Sum(..) => vec![a, b],
                        _ => vec![a, b, c],
                    };
                    for r in ranges {
                        out.extend(free(r));
                    }
                    out
                }
            }
        }

        /// The children of a node with "is it the body".
        fn kids(t: &T) -> Vec<(&T, bool)> {
            match t {
                T::Sym(_) | T::Num => vec![],
                T::Add(a, b) => vec![(a, false), (b, false)],
                T::Sum(_, a, b, c) => vec![(a, false), (b, false), (c, true)],
                T::Gauss(a, b, c, d) => vec![(a, false), (b, false), (c, false), (d, true)],
            }
        }

        fn rebuild(t: &T, new: Vec<T>) -> T {
            let mut it = new.into_iter().map(Box::new);
            let mut n = || it.next().unwrap();
            match t {
                T::Sym(_) | T::Num => t.clone(),
                T::Add(..) => T::Add(n(), n()),
                T::Sum(j, ..) => T::Sum(j, n(), n(), n()),
                T::Gauss(..) => T::Gauss(n(), n(), n(), n()),
            }
        }

        /// Unfold `q := d` by the book; `Err(b)` when the first free use of `q` (top down, left
        /// to right) stands under a binder of `b`, free in `d` (outermost first).
        fn unfold_oracle(t: &T, d: &T, bound: &mut Vec<&'static str>) -> Result<T, String> {
            if let T::Sym("q") = t {
                if !bound.contains(&"q") {
                    let fd = free(d);
                    if let Some(b) = bound.iter().find(|b| fd.contains(**b)) {
                        return Err(b.to_string());
                    }
                    return Ok(d.clone());
                }
            }
            let mut new = vec![];
            for (c, body) in kids(t) {
                let depth = bound.len();
                if body {
                    bound.extend(bound_by(t));
                }
                let r = unfold_oracle(c, d, bound);
                bound.truncate(depth);
                new.push(r?);
            }
            Ok(rebuild(t, new))
        }

        /// Substitute `to` for free `from` by the book; `None` on capture.
        fn subst_oracle(t: &T, from: &'static str, to: &'static str) -> Option<T> {
            match t {
                T::Sym(s) if *s == from => return Some(T::Sym(to)),
                _ => {}
            }
            let b = bound_by(t);
            let mut new = vec![];
            for (c, body) in kids(t) {
                if body && b.contains(&to) && !b.contains(&from) && free(c).contains(from) {
                    return None;
                }
                new.push(if body && b.contains(&from) {
                    c.clone()
                } else {
                    subst_oracle(c, from, to)?
                });
            }
            Some(rebuild(t, new))
        }

        fn term() -> impl Strategy<Value = T> {
            let leaf = prop_oneof![
                3 => proptest::sample::select(&NAMES[..]).prop_map(T::Sym),
                1 => Just(T::Num),
            ];
            leaf.prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| T::Add(a.into(), b.into())),
                    (
                        proptest::sample::select(&INDICES[..]),
                        inner.clone(),
                        inner.clone(),
                        inner.clone()
                    )
                        .prop_map(|(j, a, b, c)| T::Sum(
                            j,
                            a.into(),
                            b.into(),
                            c.into()
                        )),
                    (inner.clone(), inner.clone(), inner.clone(), inner.clone())
                        .prop_map(|(a, b, c, d)| T::Gauss(a.into(), b.into(), c.into(), d.into())),
                ]
            })
        }

        fn parse(t: &T) -> Expr {
            text(t).parse().unwrap()
        }

        fn names(s: &BTreeSet<Symbol>) -> BTreeSet<String> {
            s.iter().map(|s| s.to_string()).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn free_symbols_agree_with_the_oracle(t in term()) {
                let e = parse(&t);
                prop_assert_eq!(names(&free_symbols(&e, root(&e))), free(&t));
                for s in NAMES {
                    prop_assert_eq!(free_in(&e, root(&e), Symbol::from(s)), free(&t).contains(s));
                }
            }

            #[test]
            fn unfold_agrees_with_the_oracle(t in term(), d in term()) {
                let e = parse(&t);
                let defs = BTreeMap::from([(Symbol::from("q"), parse(&d))]);
                let got = unfold(&e, &defs, usize::MAX).map(|(u, _)| u.to_string());
                let want = unfold_oracle(&t, &d, &mut vec![]).map(|u| text(&u));
                match (got, want) {
                    (Ok(g), Ok(w)) => prop_assert_eq!(g, w),
                    (Err(UnfoldError::Capture(q, b)), Err(w)) => {
                        prop_assert_eq!(q.as_str(), "q");
                        prop_assert_eq!(b.to_string(), w);
                    }
                    (g, w) => prop_assert!(false, "unfold {:?}, oracle {:?}", g, w),
                }
            }

            #[test]
            fn substitute_agrees_with_the_oracle(
                t in term(),
                from in proptest::sample::select(&NAMES[..]),
                to in proptest::sample::select(&NAMES[..]),
            ) {
                let e = parse(&t);
                let got = substitute(&e, Symbol::from(from), Symbol::from(to)).map(|s| s.to_string());
                prop_assert_eq!(got, subst_oracle(&t, from, to).map(|s| text(&s)));
            }

            #[test]
            fn renaming_apart_keeps_free_symbols_and_unshadows(t in term()) {
                let e = parse(&t);
                let reserved: BTreeSet<Symbol> = ["n", "x", "k"].iter().map(|s| Symbol::from(*s)).collect();
                let out = rename_apart(&[&e], &reserved).remove(0);
                prop_assert_eq!(free_symbols(&out, root(&out)), free_symbols(&e, root(&e)));
                // No sum index is reserved or shadows an enclosing sum index.
                let _ = walk(&out, root(&out), &mut |id, bound| -> ControlFlow<()> {
                    if let Math::Sum([j, ..]) = &out[id] {
                        let j = out[*j].symbol().unwrap();
                        assert!(!reserved.contains(&j), "{out}");
                        assert!(!bound.contains(&j) || GAUSS_VARS.contains(&j.as_str()), "{out}");
                    }
                    ControlFlow::Continue(())
                });
            }
        }
    }
}
