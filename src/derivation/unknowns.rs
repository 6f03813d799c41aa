//! The `[unknowns]` table: a function of one variable known only through hypotheses, an ODE and
//! an initial condition,
//!
//! ```toml
//! [unknowns.f]
//! of = "t"                                   # the variable, a declared real
//! ode = "-eta*Theta @ (f - Y)"               # df/dt, a polynomial in f
//! initial = { at = "0", value = "f0" }       # f(0) = f0
//! ```
//!
//! and the rules for using one in a claim: the unknown stands alone as a side of a link
//! (`f` or `f(t)`), and that link `f = candidate` is checked by substitution (`hypotheses.rs`).
//! The right side must be a polynomial in f (affine, for the linear flows of the notes) so that
//! it is locally Lipschitz in f and the solution through the initial value is unique: a
//! candidate that satisfies both hypotheses is f.

use egg::{Id, Symbol};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

use super::{
    builtin_name, check_symbols, check_unfolded, unfold, unfold_error, Hypotheses, InputError,
    Kind, Loader, RawStep, RawUnknown, Step, Term, Unknown,
};
use crate::expr::binders;
use crate::expr::shape::{shape_of, Shape};
use crate::expr::{Expr, Math};

/// The highest degree in the unknown accepted on the right side of an ODE (a polynomial of a
/// higher degree is still locally Lipschitz; this only keeps the terms small).
const MAX_DEGREE: u32 = 8;

fn shape_name(s: Shape) -> &'static str {
    match s {
        Shape::Scalar => "a scalar",
        Shape::Matrix => "a matrix",
    }
}

/// Check and convert the `[unknowns]` table.
pub(super) fn load(
    l: &Loader,
    raw: &BTreeMap<Spanned<String>, Spanned<RawUnknown>>,
    symbols: &[(Symbol, Kind)],
    defs: &BTreeMap<Symbol, Expr>,
    matrices: &BTreeSet<Symbol>,
) -> Result<Vec<Unknown>, InputError> {
    let declared: BTreeSet<Symbol> = symbols.iter().map(|(s, _)| *s).collect();
    let mut out = vec![];
    for (name, u) in raw {
        let key = name.get_ref().as_str();
        let valid = crate::expr::parse(key)
            .ok()
            .filter(|e| e.as_ref().len() == 1 && e.as_ref()[0].symbol().is_some());
        if valid.is_none() {
            return Err(l.err(
                name.span(),
                format!("`{key}` is not a function name"),
                "here",
            ));
        }
        if let Some(why) = builtin_name(key) {
            return Err(l.err(name.span(), why, "here"));
        }
        let f = Symbol::from(key);
        if declared.contains(&f) || defs.contains_key(&f) || l.functions.borrow().contains_key(&f) {
            return Err(l
                .err(
                    name.span(),
                    format!("`{f}` is an unknown function and also declared or defined"),
                    "here",
                )
                .with_help("an unknown is known only through its hypotheses: remove it from [symbols] and [define]"));
        }
        let u = u.get_ref();
        let of = Symbol::from(u.of.get_ref().trim());
        match symbols.iter().find(|(s, _)| *s == of).map(|(_, k)| k) {
            Some(Kind::Real | Kind::Positive | Kind::Interval(..)) => {}
            _ => {
                return Err(l
                    .err(
                        u.of.span(),
                        format!("`{}` is not a declared real variable", u.of.get_ref()),
                        "the variable of the unknown function",
                    )
                    .with_help(format!(
                    "declare it under [symbols], e.g. {} = \"real\" (also positive or an interval)",
                    u.of.get_ref().trim()
                )))
            }
        }
        let (ode, initial) = match (&u.ode, &u.initial) {
            (Some(o), Some(i)) => (o, i),
            (None, None) => {
                // Declared without hypotheses: allowed, but it cannot be used in a claim.
                out.push(Unknown {
                    name: f,
                    of,
                    matrix: false,
                    hypotheses: None,
                });
                continue;
            }
            (Some(o), None) => {
                return Err(l
                    .err(o.span(), format!("the ODE of `{f}` has no initial condition"), "here")
                    .with_help(format!("add initial = {{ at = \"0\", value = \"…\" }}: the value of {f} at one time, without which the solution is not unique")))
            }
            (None, Some(i)) => {
                return Err(l
                    .err(i.span(), format!("`{f}` has an initial condition but no ODE"), "here")
                    .with_help(format!("add ode = \"…\": d{f}/d{of} as a term in {f}")))
            }
        };
        // The right side: declared symbols, definitions, f and t.
        let (written, spans) = l.parse_expr(ode)?;
        let mut allowed = declared.clone();
        allowed.insert(f);
        check_symbols(l, &written, &spans, &allowed, defs)?;
        let degree = degree(&written, binders::root(&written), f).map_err(|at| {
            l.err(
                spans[usize::from(at)].clone(),
                format!("the right side of the ODE is not a polynomial in `{f}`"),
                "here",
            )
            .with_help(format!(
                "{f} may enter through +, −, *, @, division by a term free of {f}, and whole powers: \
                 such a right side is locally Lipschitz in {f}, which is what makes the solution \
                 unique (a right side like sqrt({f}) has several solutions through 0)"
            ))
        })?;
        if degree > MAX_DEGREE {
            return Err(l.err(
                ode.span(),
                format!("the right side of the ODE has degree {degree} in `{f}`, more than {MAX_DEGREE}"),
                "here",
            ));
        }
        let (ode_expr, _) =
            unfold(&written, defs).map_err(|err| unfold_error(l, ode.span(), err, None))?;
        check_unfolded(l, &ode_expr, ode.span(), None)?;
        // The initial condition: free of f and t.
        let initial = initial.get_ref();
        let fixed = |s: &Spanned<String>, what: &str| -> Result<(Expr, Shape), InputError> {
            let (e, spans) = l.parse_expr(s)?;
            check_symbols(l, &e, &spans, &declared, defs)?;
            if let Some((id, _)) = binders::free_occurrences(&e, binders::root(&e))
                .into_iter()
                .find(|(_, x)| *x == of)
            {
                return Err(l.err(
                    spans[usize::from(id)].clone(),
                    format!("the initial {what} mentions the variable `{of}`"),
                    "here",
                ));
            }
            let shape = shape_of(&e, &|x| matrices.contains(&x))
                .map_err(|err| l.err(spans[usize::from(err.at)].clone(), err.message, "here"))?;
            let (e, _) = unfold(&e, defs).map_err(|err| unfold_error(l, s.span(), err, None))?;
            check_unfolded(l, &e, s.span(), None)?;
            Ok((e, shape))
        };
        let (at, at_shape) = fixed(&initial.at, "time")?;
        if at_shape != Shape::Scalar {
            return Err(l.err(initial.at.span(), "the initial time is a matrix", "here"));
        }
        let (value, value_shape) = fixed(&initial.value, "value")?;
        // The shape of f is the initial value's; the right side must have it too.
        let ode_shape = |f_shape: Shape| {
            shape_of(&written, &|x| {
                matrices.contains(&x) || (x == f && f_shape == Shape::Matrix)
            })
        };
        match ode_shape(value_shape) {
            Ok(s) if s == value_shape => {}
            mine => {
                let other = match value_shape {
                    Shape::Scalar => Shape::Matrix,
                    Shape::Matrix => Shape::Scalar,
                };
                let fits_other = ode_shape(other).is_ok_and(|s| s == other);
                if fits_other || mine.is_ok() {
                    let ode_is = if fits_other {
                        format!("{} in {f}", shape_name(other))
                    } else {
                        shape_name(mine.clone().unwrap_or(other)).to_string()
                    };
                    return Err(l
                        .err(
                            initial.value.span(),
                            format!(
                                "the initial value is {}, but the right side of the ODE is {ode_is}",
                                shape_name(value_shape)
                            ),
                            "here",
                        )
                        .with_help(format!("{f} has the shape of its initial value, and d{f}/d{of} must have the same shape")));
                }
                let err = mine.expect_err("neither shape fits");
                return Err(l.err(
                    spans[usize::from(err.at)].clone(),
                    format!(
                        "{} (with {f} {}, the shape of its initial value)",
                        err.message,
                        shape_name(value_shape)
                    ),
                    "here",
                ));
            }
        }
        out.push(Unknown {
            name: f,
            of,
            matrix: value_shape == Shape::Matrix,
            hypotheses: Some(Hypotheses {
                ode: ode_expr,
                ode_text: ode.get_ref().trim().to_string(),
                degree,
                at,
                at_text: initial.at.get_ref().trim().to_string(),
                value,
                value_text: initial.value.get_ref().trim().to_string(),
            }),
        });
    }
    Ok(out)
}

/// The degree in `f` of the subterm `id`, if it is a polynomial in `f` (coefficients free of f);
/// else the node where it stops being one.
fn degree(e: &Expr, id: Id, f: Symbol) -> Result<u32, Id> {
    if !binders::free_symbols(e, id).contains(&f) {
        return Ok(0);
    }
    let free_of_f = |c: &Id| !binders::free_symbols(e, *c).contains(&f);
    match &e[id] {
        Math::Symbol(_) => Ok(1),
        Math::Add([a, b]) | Math::Sub([a, b]) => Ok(degree(e, *a, f)?.max(degree(e, *b, f)?)),
        Math::Neg(a) => degree(e, *a, f),
        Math::Mul([a, b]) | Math::MatMul([a, b]) => {
            Ok(degree(e, *a, f)?.saturating_add(degree(e, *b, f)?))
        }
        Math::Div([a, b]) if free_of_f(b) => degree(e, *a, f),
        Math::Pow([a, b]) => {
            let n = match &e[*b] {
                Math::Num(c) if c.0.is_integer() => {
                    match num_traits::ToPrimitive::to_u32(&c.0.to_integer()) {
                        Some(n) if n <= 64 => n,
                        _ => return Err(id),
                    }
                }
                _ => return Err(id),
            };
            Ok(degree(e, *a, f)?.saturating_mul(n))
        }
        Math::Sum([v, lo, hi, body])
            if e[*v].symbol() != Some(f) && free_of_f(lo) && free_of_f(hi) =>
        {
            degree(e, *body, f)
        }
        _ => Err(id),
    }
}

/// If the claim term (parsed, at `spans`) uses an unknown function: the term `f` when it is the
/// whole term (`f` or `f(t)`, t its variable) and the unknown has hypotheses; an error when an
/// unknown is used anywhere else. `None` when the term uses no unknown.
pub(super) fn use_in_claim(
    l: &Loader,
    e: &Expr,
    spans: &[Range<usize>],
    unknowns: &[Unknown],
) -> Result<Option<Expr>, InputError> {
    let find = |s: Symbol| unknowns.iter().find(|u| u.name == s);
    // Free occurrences (a sum index named like an unknown is the sum's).
    let uses: Vec<(Id, &Unknown)> = binders::free_occurrences(e, binders::root(e))
        .into_iter()
        .filter_map(|(id, s)| find(s).map(|u| (id, u)))
        .collect();
    let Some((first, u)) = uses.first().copied() else {
        return Ok(None);
    };
    let root = binders::root(e);
    let whole = match &e[root] {
        Math::Symbol(s) if *s == u.name => true,
        Math::Index(args) if args.len() == 2 && e[args[0]].symbol() == Some(u.name) => {
            if e[args[1]].symbol() != Some(u.of) {
                return Err(l
                    .err(
                        spans[usize::from(root)].clone(),
                        format!("`{}` is a function of `{}`: write `{}` or `{}({})`", u.name, u.of, u.name, u.name, u.of),
                        "here",
                    )
                    .with_help(format!(
                        "its value at the initial time is stated by `initial`, and the claimed solution is checked at every sampled `{}`",
                        u.of
                    )));
            }
            true
        }
        _ => false,
    };
    if !whole {
        let at = match &e[first] {
            _ if usize::from(first) < spans.len() => spans[usize::from(first)].clone(),
            _ => spans[usize::from(root)].clone(),
        };
        return Err(l
            .err(
                at,
                format!("the unknown function `{}` may only stand alone as a side of a link", u.name),
                "used here",
            )
            .with_help(format!(
                "start a claim with `start = \"{f}\"` and state the claimed solution as its step: derive checks {f} = solution against the ODE and the initial condition of [unknowns.{f}]",
                f = u.name
            )));
    }
    if u.hypotheses.is_none() {
        return Err(l
            .err(
                spans[usize::from(root)].clone(),
                format!("`{}` is used in a claim, but [unknowns.{}] states no hypotheses", u.name, u.name),
                "used here",
            )
            .with_help(format!(
                "give its ODE and initial condition: ode = \"…\" (d{f}/d{t} as a term in {f}) and initial = {{ at = \"0\", value = \"…\" }}",
                f = u.name,
                t = u.of
            )));
    }
    let mut out = Expr::default();
    out.add(Math::Symbol(u.name));
    Ok(Some(out))
}

/// A link with an unknown as a side: the other side must not use an unknown, and the link must
/// be a plain equality (it is checked by substitution, not by a width or order study).
pub(super) fn check_link(
    l: &Loader,
    raw: &RawStep,
    from: &Term,
    step: &Step,
    unknowns: &[Unknown],
) -> Result<(), InputError> {
    let is_unknown = |t: &Term| {
        t.expr.as_ref().len() == 1
            && t.expr.as_ref()[0]
                .symbol()
                .is_some_and(|s| unknowns.iter().any(|u| u.name == s))
    };
    let (a, b) = (is_unknown(from), is_unknown(&step.term));
    if !a && !b {
        return Ok(());
    }
    if a && b {
        return Err(l
            .err(
                raw.expr.span(),
                "both sides of this link are unknown functions",
                "here",
            )
            .with_help("state the claimed solution: a term free of the unknown"));
    }
    let extra = [
        raw.limit.as_ref().map(|s| ("limit", s.span())),
        raw.approx.as_ref().map(|s| ("approx", s.span())),
        raw.rel
            .as_ref()
            .filter(|_| step.rel != super::Relation::Eq)
            .map(|s| ("rel", s.span())),
        raw.convention.as_ref().map(|s| ("convention", s.span())),
    ];
    if let Some((what, span)) = extra.into_iter().flatten().next() {
        return Err(l
            .err(
                span,
                format!(
                    "a link from an unknown function to its claimed solution cannot have `{what}`"
                ),
                "here",
            )
            .with_help("it is an equality checked against the ODE and the initial condition"));
    }
    Ok(())
}
