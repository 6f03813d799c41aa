//! `derive prove` and `derive eval`: one-off links and values from the command line, with a
//! standard prelude of declarations (overridable with `--decl name=kind`).

use egg::Symbol;

use super::CliError;
use crate::derivation::file::{Claim, Derivation, Kind, Step, Term, Verdict};
use crate::derivation::sample::describe;
use crate::derivation::{check, render, InputError};
use crate::expr::binders::{free_occurrences, root};
use crate::expr::{parse_with_spans, Expr, Math};
use crate::numeric::eval::{Env, Evaluator};
use crate::prove::Theory;

/// The declarations `prove` and `eval` assume unless told otherwise.
pub const PRELUDE: &[(&str, &str)] = &[
    ("w", "gaussian"),
    ("W", "gaussian"),
    ("beta", "gaussian"),
    ("z", "gaussian"),
    ("n", "size"),
    ("n0", "size"),
    ("n1", "size"),
    ("N", "size"),
    ("sw", "positive"),
    ("sb", "positive"),
    ("i", "index in 1..n"),
    ("j", "index in 1..n"),
    ("k", "index in 1..n"),
    ("l", "index in 1..n"),
    ("x", "array"),
    ("xp", "array"),
    ("y", "array"),
];

fn kind(spec: &str) -> Result<Kind, CliError> {
    crate::derivation::file::parse_kind(spec).map_err(|(msg, _)| {
        CliError::Usage(format!(
            "{msg} in --decl (kinds: real, positive, size, integer, interval A..B, index in LO..HI, array, gaussian, matrix)"
        ))
    })
}

fn parse_arg(name: &str, src: &str) -> Result<Expr, CliError> {
    parse_with_spans(src)
        .map(|(e, _)| e)
        .map_err(|e| InputError::new(name, src, e.span.clone(), e.message.clone(), "here").into())
}

/// The free symbols of `e` not yet in `out`, in order of first occurrence; `pi` is a constant and
/// `u`, `v` are gauss(…)'s (they cannot be declared).
fn symbols_of(e: &Expr, out: &mut Vec<Symbol>) {
    for (_, s) in free_occurrences(e, root(e)) {
        if !out.contains(&s) && !["pi", "u", "v", "I"].contains(&s.as_str()) {
            out.push(s);
        }
    }
}

/// An input error at the node `id` of the argument `src` (named `name`), whose span the parser
/// recorded (the whole argument if it did not).
fn at_node(name: &str, src: &str, id: egg::Id, message: String) -> CliError {
    let spans = parse_with_spans(src).map(|(_, s)| s).unwrap_or_default();
    let span = spans.get(usize::from(id)).cloned().unwrap_or(0..src.len());
    InputError::new(name, src, span, message, "here").into()
}

/// `u` or `v` outside every gauss(…), as the loader refuses them in a file: they name gauss's
/// variables and cannot be declared, so a link would have no value to check.
fn gauss_variables_free(name: &str, src: &str, e: &Expr) -> Result<(), CliError> {
    let Some((id, s)) = free_occurrences(e, root(e))
        .into_iter()
        .find(|(_, s)| crate::expr::GAUSS_VARS.contains(&s.as_str()))
    else {
        return Ok(());
    };
    Err(at_node(
        name,
        src,
        id,
        format!("`{s}` is a variable of gauss(s11, s12, s22; …) and has no value outside one (it cannot be declared): name the symbol otherwise"),
    ))
}

type Declarations = (Vec<(Symbol, Kind)>, Vec<String>);

/// An array used without its entries or a number with entries, as the loader refuses them in a
/// file; a prelude array (`x`, `xp`, `y`) is named as such, with the declaration that makes it
/// a number.
fn entries_used_as_declared(
    name: &str,
    src: &str,
    e: &Expr,
    symbols: &[(Symbol, Kind)],
    decls: &[String],
) -> Result<(), CliError> {
    let kind = |s: Symbol| symbols.iter().find(|(x, _)| *x == s).map(|(_, k)| k);
    let Some((id, mut message)) = crate::derivation::file::misused_entries(
        e,
        &|s| kind(s).is_some_and(|k| k.is_number()),
        &|s| kind(s) == Some(&Kind::Array),
    ) else {
        return Ok(());
    };
    if let Some(s) = e[id].symbol() {
        let declared = decls.iter().any(|d| {
            d.split_once('=')
                .is_some_and(|(x, _)| x.trim() == s.as_str())
        });
        if !declared && kind(s) == Some(&Kind::Array) {
            message = format!("`{s}` is an array in the prelude: use its entries, `{s}[j]`, or make it a number with --decl {s}=real");
        }
    }
    Err(at_node(name, src, id, message))
}

/// Declarations: the prelude, overridden by `decls`, plus `real` for any other symbol used.
fn declarations(decls: &[String], exprs: &[&Expr]) -> Result<Declarations, CliError> {
    let mut syms: Vec<(Symbol, Kind)> = vec![];
    let set = |s: Symbol, k: Kind, syms: &mut Vec<(Symbol, Kind)>| {
        syms.retain(|(x, _)| *x != s);
        syms.push((s, k));
    };
    for (n, k) in PRELUDE {
        set(Symbol::from(*n), kind(k)?, &mut syms);
    }
    for d in decls {
        let (n, k) = d.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--decl `{d}` should be NAME=KIND, e.g. rho='interval -1..1'"
            ))
        })?;
        if let Some(why) = crate::derivation::file::builtin_name(n.trim()) {
            return Err(CliError::Usage(format!("--decl `{d}`: {why}")));
        }
        set(Symbol::from(n.trim()), kind(k.trim())?, &mut syms);
    }
    let mut used = vec![];
    for e in exprs {
        symbols_of(e, &mut used);
    }
    let mut assumed = vec![];
    for s in used {
        if !syms.iter().any(|(x, _)| *x == s) {
            assumed.push(s.to_string());
            syms.push((s, Kind::Real));
        }
    }
    // Indices must come after sizes for sampling; keep declared order otherwise.
    syms.sort_by_key(|(_, k)| matches!(k, Kind::Index(..)));
    Ok((syms, assumed))
}

/// A derivative d/dx by a size, an integer or an index (or an enclosing sum's index) is refused,
/// as in a derivation file: x takes integer values only, and the sum rules that hold between
/// the integers would be differentiated (d/dn of a size, d/dk of Σⱼ p(j)·δ(j, k)).
fn real_derivatives(
    name: &str,
    src: &str,
    e: &Expr,
    symbols: &[(Symbol, Kind)],
) -> Result<(), CliError> {
    let discrete = crate::derivation::file::discrete_symbols(symbols);
    let Some((id, x, what)) = crate::derivation::file::derivative_by_integer(e, &discrete) else {
        return Ok(());
    };
    Err(at_node(
        name,
        src,
        id,
        format!("d/d{x}: `{x}` is {what}, which takes integer values only; a derivative needs a real variable (--decl {x}=real)"),
    ))
}

/// `derive prove LHS RHS --by …`: returns whether the link was proved.
pub fn run_prove(lhs: &str, rhs: &str, by: &[String], decls: &[String]) -> Result<bool, CliError> {
    let l = parse_arg("<lhs>", lhs)?;
    let r = parse_arg("<rhs>", rhs)?;
    let theories = by
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<Theory>()
                .map_err(|e| CliError::Usage(format!("{e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Without --by, every theory: a user who leaves it out should not get `consistent` for what
    // the tool can prove.
    let theories = if theories.is_empty() {
        Theory::ALL.to_vec()
    } else {
        theories
    };
    let (symbols, assumed) = declarations(decls, &[&l, &r])?;
    // Sized vectors and matrices (`--decl x='vector n'`), written in entries and sums as a
    // derivation file's are (covariances and Gaussian vectors need a file).
    let mut shapes = crate::expr::tensor::Shapes::default();
    for (s, k) in &symbols {
        if let Err((message, help)) = crate::derivation::file::check_tensor_kind(&symbols, *s, k) {
            return Err(CliError::Usage(format!("--decl {s}: {message} ({help})")));
        }
        match k {
            Kind::Matrix => {
                shapes.sizeless.insert(*s);
            }
            Kind::Tensor(m, n) => {
                use crate::expr::tensor::Dim;
                shapes
                    .tensors
                    .insert(*s, (Dim::new(m.clone()), Dim::new(n.clone())));
                let vector = decls.iter().any(|d| {
                    d.split_once('=').is_some_and(|(x, k)| {
                        x.trim() == s.as_str() && k.trim().starts_with("vector")
                    })
                });
                if vector {
                    shapes.vectors.insert(*s);
                }
            }
            Kind::Params(blocks) => {
                shapes.params.insert(*s, blocks.clone());
            }
            Kind::Covariance(_) | Kind::GaussianVector(..) => {
                return Err(CliError::Usage(format!(
                    "`{s}`: covariances and Gaussian vectors are declared in a derivation file"
                )))
            }
            _ => {}
        }
    }
    for (name, src, e) in [("<lhs>", lhs, &l), ("<rhs>", rhs, &r)] {
        gauss_variables_free(name, src, e)?;
        entries_used_as_declared(name, src, e, &symbols, decls)?;
        real_derivatives(name, src, e, &symbols)?;
    }
    let mut lowered = vec![];
    for (name, src, e) in [("<lhs>", lhs, &l), ("<rhs>", rhs, &r)] {
        let located = |err: crate::expr::shape::ShapeError| -> CliError {
            at_node(name, src, err.at, err.message)
        };
        if let Some((range, why)) = crate::derivation::file::sum_range_not_integer(e, &symbols) {
            return Err(InputError::new(
                name,
                src,
                0..src.len(),
                format!("a sum runs over whole numbers, but its range `{range}` {why} (declare its symbols with --decl NAME=size, NAME=integer or NAME='index in LO..HI')"),
                "in this expression",
            )
            .into());
        }
        if shapes.involved(e) {
            crate::expr::tensor::infer(e, &shapes).map_err(located)?;
            let whole = |err: crate::expr::shape::ShapeError| -> CliError {
                InputError::new(name, src, 0..src.len(), err.message, "here").into()
            };
            lowered.push(crate::expr::tensor::lower(e, &shapes).map_err(whole)?);
        } else {
            lowered.push(e.clone());
        }
    }
    for (name, src, e) in [("<lhs>", lhs, &l), ("<rhs>", rhs, &r)] {
        if shapes.involved(e) {
            continue;
        }
        let is_matrix = |s: Symbol| symbols.iter().any(|(x, k)| *x == s && *k == Kind::Matrix);
        if let Err(err) = crate::expr::shape::shape_of(e, &is_matrix) {
            return Err(at_node(name, src, err.at, err.message));
        }
    }
    let term = |e: &Expr, lowered: &Expr, text: &str| Term {
        written: e.clone(),
        expr: lowered.clone(),
        unfolds: if e == lowered {
            vec![]
        } else {
            vec!["vectors and matrices as entries and sums".into()]
        },
        text: text.to_string(),
        line: 1,
    };
    let d = Derivation {
        id: "prove".into(),
        title: "a link from the command line".into(),
        file: "<command line>".into(),
        note: None,
        symbols,
        claims: vec![Claim {
            title: None,
            cite: None,
            start: term(&l, &lowered[0], lhs),
            steps: vec![Step {
                term: term(&r, &lowered[1], rhs),
                by: theories,
                expect: Verdict::Proved,
                remark: None,
                cite: None,
                limit: None,
                rate: -0.5,
                resolution: None,
                rel: crate::derivation::Relation::Eq,
                approx: None,
                under: None,
                minor: false,
            }],
        }],
        network: None,
        unchecked: vec![],
        unknowns: vec![],
    };
    if !assumed.is_empty() {
        super::out(&format!("assuming real: {}\n", assumed.join(", ")))?;
    }
    let report = check(&d);
    super::out(&render(&d, &report, true))?;
    if let Some(link) = report.unsound().next() {
        return Err(CliError::Unsound(
            link.unsound.clone().expect("an unsound link says why"),
        ));
    }
    Ok(report.as_expected())
}

/// `derive eval EXPR --at a=1,b=2`.
pub fn run_eval(
    expr: &str,
    at: &[String],
    decls: &[String],
    digits: usize,
) -> Result<(), CliError> {
    let e = parse_arg("<expr>", expr)?;
    let (mut symbols, _) = declarations(decls, &[&e])?;
    // As for `prove`: a covariance or a Gaussian vector given here would be read as plain
    // entries (E[z[1]²] with z a Gaussian vector printed 3.46, z taken as deterministic).
    if let Some((s, _)) = symbols
        .iter()
        .find(|(_, k)| matches!(k, Kind::Covariance(_) | Kind::GaussianVector(..)))
    {
        return Err(CliError::Usage(format!(
            "`{s}`: covariances and Gaussian vectors are declared in a derivation file"
        )));
    }
    // A value given for a symbol the prelude (not --decl) makes an array, a matrix or random
    // (x, w, …) makes it a real: `eval 'x + 1' --at x=2`.
    let declared = |n: &str| {
        decls
            .iter()
            .any(|d| d.split_once('=').is_some_and(|(x, _)| x.trim() == n))
    };
    for item in at.iter().flat_map(|a| a.split(',')) {
        if let Some((n, _)) = item.split_once('=') {
            let n = n.trim();
            if !declared(n) {
                for (s, k) in symbols.iter_mut() {
                    if s.as_str() == n && !k.is_number() {
                        *k = Kind::Real;
                    }
                }
            }
        }
    }
    entries_used_as_declared("<expr>", expr, &e, &symbols, decls)?;
    real_derivatives("<expr>", expr, &e, &symbols)?;
    let mut env = Env {
        seed: 1,
        // The checker's sample count (its term budget covers that many samples of a term).
        mc_samples: crate::precision::MC_SAMPLES,
        phi: None,
        ..Env::default()
    };
    for (s, k) in &symbols {
        if *k == Kind::Gaussian {
            env.random.push(*s);
        }
        if *k == Kind::Matrix {
            env.matrices.push(*s);
        }
    }
    for item in at.iter().flat_map(|a| a.split(',')) {
        if item.trim().is_empty() {
            continue;
        }
        let (n, v) = item
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--at `{item}` should be NAME=VALUE")))?;
        let v: f64 = v.trim().parse().map_err(|_| {
            CliError::Usage(format!("--at {}: `{}` is not a number", n.trim(), v.trim()))
        })?;
        if !v.is_finite() {
            return Err(CliError::Usage(format!(
                "--at {}: value must be finite",
                n.trim()
            )));
        }
        let name = Symbol::from(n.trim());
        // A value must lie in its symbol's declared domain (rho = 5 for an interval −1..1
        // evaluates another expression), and be given once.
        if let Some((_, kind)) = symbols.iter().find(|(s, _)| *s == name) {
            if !kind.is_number() {
                return Err(CliError::Usage(format!(
                    "--at {name}: `{name}` is declared an array, a matrix or random (--decl), not a number"
                )));
            }
            if let Some(domain) = crate::derivation::file::outside_domain(kind, v, None) {
                return Err(CliError::Usage(format!(
                    "--at {name}={v}: outside its declared domain ({domain})"
                )));
            }
        }
        if env.scalars.insert(name, v).is_some() {
            return Err(CliError::Usage(format!("--at {name}: given twice")));
        }
    }
    // An index lies in its range at the values given (k = 9 for an index in 1..5, i = 0 for one
    // in 1..n at n = 3); an end that needs a value not given is not known and not checked.
    for (s, k) in &symbols {
        if let (Kind::Index(lo, hi), Some(v)) = (k, env.scalars.get(s)) {
            let end = |x: &Expr| {
                Evaluator::new(&env)
                    .eval(x)
                    .ok()
                    .map(|v| v.value)
                    .filter(|v| v.is_finite())
            };
            if end(lo).is_some_and(|lo| *v < lo) || end(hi).is_some_and(|hi| *v > hi) {
                // An end that is a symbol's term is said with its value here (1..n = 3).
                let known = |x: &Expr| match (crate::prove::analysis::exact_value(x), end(x)) {
                    (None, Some(v)) => format!(" = {v}"),
                    _ => String::new(),
                };
                return Err(CliError::Usage(format!(
                    "--at {s}={v}: outside its range {}{}..{}{} (`{s}` is an index)",
                    crate::expr::text(lo),
                    known(lo),
                    crate::expr::text(hi),
                    known(hi),
                )));
            }
        }
    }
    // A matrix has no single value to print: it is shown as the checker compares matrix sides,
    // uᵀMv for seeded u, v, and said to be so; a shape error (mexp of a scalar, printed as
    // 5.089) is an input error at its position.
    let is_matrix = |s: Symbol| symbols.iter().any(|(x, k)| *x == s && *k == Kind::Matrix);
    let mut matrix = "";
    match crate::expr::shape::shape_of(&e, &is_matrix) {
        Ok(crate::expr::shape::Shape::Matrix) => {
            matrix = " [a matrix M, shown as the number uᵀMv for seeded vectors u, v, as checks compare matrix sides]";
        }
        Err(err) => {
            let spans = parse_with_spans(expr).map(|(_, s)| s).unwrap_or_default();
            let span = spans
                .get(usize::from(err.at))
                .cloned()
                .unwrap_or(0..expr.len());
            return Err(InputError::new("<expr>", expr, span, err.message, "here").into());
        }
        Ok(_) => {}
    }
    // Ball arithmetic where the expression allows it: the value with a rigorous bound on its
    // error, (1 + 10⁻²⁰)^(10²⁰) = e where f64 says 1.
    let precise = crate::numeric::precise::eval(&e, &env, crate::numeric::precise::BITS);
    if let Err(why) = &precise {
        // The argument lies wholly outside a function's domain: f64 would round it into the
        // domain (acos(1 + 10⁻³⁰) = 0) and print a value there is not.
        if why.no_value {
            return Err(CliError::Usage(format!("the expression has {}", why.why)));
        }
    }
    if let Ok(p) = precise {
        let v = p.to_f64();
        if let (0.0, Some(sign)) = (v, p.sign()) {
            // exp(−900): a number the ball holds but f64 cannot show.
            let side = if sign > 0.0 { "positive" } else { "negative" };
            super::out(&format!(
                "a {side} number below 2.2e-308 in magnitude (beyond f64's range; 128-bit ball arithmetic)\n"
            ))?;
            return Ok(());
        }
        if v.is_finite() {
            let r = p.rad;
            let shown = significant(v, digits);
            if r > 8.0 * f64::EPSILON * v.abs() {
                super::out(&format!(
                    "{shown} ± {r:.2e} (128-bit ball arithmetic){matrix}\n"
                ))?;
            } else {
                super::out(&format!("{shown}{matrix}\n"))?;
            }
            return Ok(());
        }
    }
    let v = Evaluator::new(&env)
        .eval(&e)
        .map_err(|err| CliError::Usage(format!("cannot evaluate: {err}")))?;
    if v.value.is_nan() {
        return Err(CliError::Usage(format!(
            "no value at {} (NaN: outside a function's domain, a division by 0, or ∞·0 past an overflow)",
            env_desc(&symbols, &env)
        )));
    }
    if !v.value.is_finite() {
        return Err(CliError::Usage(format!(
            "the value is not finite ({}) at {}",
            v.value,
            env_desc(&symbols, &env)
        )));
    }
    if v.stderr > 0.0 {
        super::out(&format!(
            "{} ± {:.2e} (uncertainty: Monte Carlo standard error or differentiation error estimate){matrix}\n",
            significant(v.value, digits),
            v.stderr
        ))?;
    } else {
        // Not in ball arithmetic: f64, with quadratures where the term has them. What is known
        // is the value within the allowance the checker compares with (f64 rounding, amplified
        // by cancellation; a quadrature's error estimate is part of the scale): ∫₀¹ s ds printed
        // 0.49999999999998346 as if all 17 digits held.
        let tol = crate::precision::REL * v.value.abs() + crate::precision::SCALE * v.scale;
        let quadrature = e
            .as_ref()
            .iter()
            .any(|n| matches!(n, Math::Integral(_) | Math::Gauss(_) | Math::Expect(_)));
        let what = if quadrature {
            "allowance for f64 rounding and quadrature error"
        } else {
            "f64 rounding bound"
        };
        super::out(&format!(
            "{} ± {:.2e} ({what}){matrix}\n",
            significant(v.value, digits),
            tol
        ))?;
    }
    Ok(())
}

/// `v` to `digits` significant digits: plain decimals for exponents −5 … digits − 1, else
/// scientific notation (17 digits round-trip every f64).
fn significant(v: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 17);
    let sci = format!("{:.*e}", digits - 1, v);
    let Some(exp) = sci.split_once('e').and_then(|(_, e)| e.parse::<i32>().ok()) else {
        return sci;
    };
    if (-5..digits as i32).contains(&exp) {
        format!("{:.*}", (digits as i32 - 1 - exp).max(0) as usize, v)
    } else {
        sci
    }
}

fn env_desc(symbols: &[(Symbol, Kind)], env: &Env) -> String {
    let d = Derivation {
        id: String::new(),
        title: String::new(),
        file: String::new(),
        note: None,
        symbols: symbols.to_vec(),
        claims: vec![],
        network: None,
        unchecked: vec![],
        unknowns: vec![],
    };
    describe(&d, env, None)
}
