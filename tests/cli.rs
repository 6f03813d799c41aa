//! The command line as a user meets it: outputs and exit codes (0 as expected, 1 not as expected,
//! 2 bad input).

// References come from the system libm, apart from the crate::numeric::portable under test.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
mod common;

use common::{derive, stderr, stdout};

#[test]
fn check_by_id_and_by_path() {
    for target in ["first_layer_cov", "derivations/first_layer_cov.toml"] {
        let o = derive(&["check", target]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("5 links: 4 proved, 1 limit — as expected"),
            "{}",
            stdout(&o)
        );
        assert!(stdout(&o).contains("sum-delta"), "{}", stdout(&o));
    }
}

#[test]
fn a_wrong_link_is_refuted_and_exits_1() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("derive-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mine.toml");
    std::fs::write(
        &file,
        r#"id = "mine"
title = "variance of a random projection, with a factor 2 too many"
[symbols]
n = "size"
x = "array"
w = "gaussian"
[[claim]]
start = "E[sum(j in 1..n, w[j]*x[j])^2]"
[[claim.step]]
expr = "2*sum(j in 1..n, x[j]^2)"
by = ["expectation", "sums"]
"#,
    )
    .unwrap();
    let o = derive(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("refuted"), "{out}");
    assert!(out.contains("counterexample"), "{out}");
    assert!(
        out.contains("off by a constant factor: right side = 2 × left side"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_with_file_line_and_column() {
    let o = derive(&["check", "derivations/should_fail/unknown_symbol.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown_symbol.toml:9:20: unknown symbol `sigma_b`"),
        "{}",
        stderr(&o)
    );

    // A directory is not a derivation file, and says so (it was "no such file").
    let o = derive(&["check", "derivations/should_fail"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));

    let o = derive(&["check", "no_such_derivation"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no derivation `no_such_derivation`"));

    let o = derive(&["prove", "a", "a", "--by", "magic"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown theory `magic`"));

    let o = derive(&["eval", "x + 1", "--at", "x=nan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("must be finite"), "{}", stderr(&o));

    let o = derive(&["eval", "1/(x-1)", "--at", "x=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no value at x=1"), "{}", stderr(&o));

    // A function of 1/0 has no value either: atan(1/0) is not π/2, exp(−1/0) not 0.
    for expr in ["atan(1/(x-1))", "exp(-1/(x-1)^2)", "tanh(0^(-1))"] {
        let o = derive(&["eval", expr, "--at", "x=1"]);
        assert_eq!(o.status.code(), Some(2), "{expr}");
        assert!(stderr(&o).contains("no value"), "{expr}: {}", stderr(&o));
    }

    let o = derive(&["eval", "2 *"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("<expr>:1:"), "{}", stderr(&o));

    // A value outside the declared domain evaluates another expression.
    let o = derive(&[
        "eval",
        "rho",
        "--decl",
        "rho=interval -1..1",
        "--at",
        "rho=5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("outside its declared domain"),
        "{}",
        stderr(&o)
    );
    // An expression without a value is an input error, never a number: acos just beyond 1 and
    // the square root of a tiny negative number (ball arithmetic knows the argument's sign).
    for expr in ["acos(1 + 1e-30)", "sqrt(-1e-30)", "asin(-2)"] {
        let o = derive(&["eval", expr]);
        assert_eq!(o.status.code(), Some(2), "{expr}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("has no value"),
            "{expr}: {}",
            stderr(&o)
        );
    }
    // The origin has no angle (f64's atan2(0, 0) = 0 was printed with an allowance of NaN).
    let o = derive(&["eval", "atan2(0, x)", "--at", "x=0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("the origin has no angle"),
        "{}",
        stderr(&o)
    );
    let o = derive(&["eval", "a", "--at", "a=1,a=2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    // A matrix is shown as uᵀMv for seeded u, v and said to be one (it was printed as a plain
    // number), and mexp of a scalar is a shape error at its position (it printed 5.089).
    for expr in ["I", "mexp(A) @ A"] {
        let o = derive(&["eval", expr, "--decl", "A=matrix"]);
        assert_eq!(o.status.code(), Some(0), "{expr}: {}", stderr(&o));
        assert!(stdout(&o).contains("[a matrix M"), "{expr}: {}", stdout(&o));
    }
    let o = derive(&["eval", "2 + 3"]);
    assert!(!stdout(&o).contains("matrix"), "{}", stdout(&o));
    let o = derive(&["eval", "mexp(1)"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("<expr>:1:1: mexp takes a matrix"),
        "{}",
        stderr(&o)
    );

    let o = derive(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn prove_and_eval_from_the_command_line() {
    let o = derive(&[
        "prove",
        "E[w[i,j]*w[i,k]]",
        "delta(j,k)",
        "--by",
        "expectation",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("E-second-moment"));

    let o = derive(&[
        "prove",
        "E[w[i,j]*w[i,k]]",
        "2*delta(j,k)",
        "--by",
        "expectation",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("refuted"));

    // gauss's variable outside a gauss(…) has no value and cannot be declared: refused, as a
    // file's loader refuses it (it was `unchecked`, advising to declare it).
    let o = derive(&["prove", "u + 1", "1 + u"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("variable of gauss"));

    let o = derive(&["eval", "sw^2/n0 * 3 + sb^2", "--at", "sw=1.5,sb=0.1,n0=3"]);
    assert_eq!(o.status.code(), Some(0));
    // 17 significant digits: 1.5²·3/3 + 0.1² is 2.2599999999999998 in f64, and says so.
    assert_eq!(stdout(&o).trim(), "2.2599999999999998");

    // Where f64 loses every digit, ball arithmetic gives the value: (1 + 10⁻²⁰)^(10²⁰) is e.
    let o = derive(&["eval", "(1+1e-20)^(10^20)"]);
    assert_eq!(o.status.code(), Some(0));
    let v: f64 = stdout(&o).trim().parse().unwrap();
    assert!((v - std::f64::consts::E).abs() < 1e-15, "{v}");
    // Where it cannot, f64 says how little it knows.
    let o = derive(&["eval", "(1+1e-300)^(10^300)"]);
    assert!(stdout(&o).contains("f64 rounding bound"), "{}", stdout(&o));

    // E[relu(u) relu(v)] against the arc-cosine closed form, ρ = 0.3/√2.
    let o = derive(&["eval", "gauss(1, 0.3, 2; relu(u)*relu(v))"]);
    assert_eq!(o.status.code(), Some(0));
    // Printed with the allowance for rounding and quadrature error.
    let out = stdout(&o);
    let (value, allowance) = out.split_once(" ± ").expect("a value with its allowance");
    let v: f64 = value.trim().parse().unwrap();
    let allowance: f64 = allowance
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(allowance > 0.0 && allowance < 1e-10, "{out}");
    let rho: f64 = 0.3 / 2f64.sqrt();
    let pi = std::f64::consts::PI;
    let closed = 2f64.sqrt() / (2.0 * pi) * ((1.0 - rho * rho).sqrt() + (pi - rho.acos()) * rho);
    assert!((v - closed).abs() < 1e-12 * closed, "{v} vs {closed}");
}

#[test]
fn list_shows_every_derivation() {
    let o = derive(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for f in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(out.contains(&stem), "{stem} missing from {out}");
        }
    }
}

#[test]
fn check_speaks_json_with_the_same_verdicts_as_text() {
    let o = derive(&["check", "relu_cov", "relu_cov_quarter", "--format", "json"]);
    // relu_cov_quarter is refuted as it expects: exit 0.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(doc["version"], 1);
    let ds = doc["derivations"].as_array().expect("derivations");
    assert_eq!(ds.len(), 2);
    let text = stdout(&derive(&["check", "relu_cov", "relu_cov_quarter"]));
    let mut links = 0;
    for d in ds {
        for claim in d["claims"].as_array().unwrap() {
            for l in claim["links"].as_array().unwrap() {
                links += 1;
                let (id, verdict) = (l["link"].as_str().unwrap(), l["verdict"].as_str().unwrap());
                assert!(
                    text.contains(&format!("link {id}: {verdict}")),
                    "link {id} is {verdict} in JSON but not in the text:\n{text}"
                );
                if verdict == "refuted" {
                    let points = l["numeric"]["points"].as_array().unwrap();
                    assert!(points.iter().any(|p| p["agrees"] == false), "{l}");
                    assert!(l["diagnosis"].is_string(), "{l}");
                }
                if verdict == "proved" {
                    assert!(!l["proof"]["rewrites"].as_array().unwrap().is_empty());
                }
            }
        }
    }
    assert_eq!(
        links,
        doc["counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    );
}

#[test]
fn derivatives_of_matrix_exponentials_have_honest_uncertainties() {
    // mexp's magnitude scale is exp of the entrywise |tA|; it once was exp(Σ|tA_ij|) (1e19 where
    // ‖exp(tA)‖ is 1e4), which made the derivative's error estimate refuse to converge.
    let eval = |expr: &str| -> (f64, f64) {
        let o = derive(&[
            "eval", expr, "--at", "t=2.68", "--decl", "A=matrix", "--decl", "B=matrix", "--decl",
            "t=real",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        let (value, err) = out.split_once(" ± ").expect("a value with its uncertainty");
        (
            value.trim().parse().unwrap(),
            err.split_whitespace().next().unwrap().parse().unwrap(),
        )
    };
    let (right, err) = eval("d/dt(mexp(t*A) @ B) - (A @ mexp(t*A) @ B)");
    assert!(right.abs() <= err, "{right} ± {err}");
    // Relative to the derivative itself (29.2 here, on 5 × 5 general matrices; the allowance
    // grows with exp(|tA|), which is larger in dimension 5 than for the symmetric 3 × 3
    // matrices this was first measured on).
    let (value, _) = eval("d/dt(mexp(t*A) @ B)");
    assert!(
        err < 1e-6 * value.abs(),
        "the uncertainty {err} is too large to be evidence for {value}"
    );
    // A wrong derivative (2A instead of A) is far outside that uncertainty.
    let (wrong, _) = eval("d/dt(mexp(t*A) @ B) - (2*A @ mexp(t*A) @ B)");
    assert!(wrong.abs() > 100.0 * err, "{wrong} vs ± {err}");
}

#[test]
fn prove_without_by_tries_every_theory() {
    // E[w w] = δ needs the expectation theory; leaving --by out must not make it `consistent`.
    let o = derive(&["prove", "E[w[i,j]*w[i,k]]", "delta(j,k)"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("link 1.1: proved"), "{}", stdout(&o));
}

#[test]
fn vectors_and_gradients_from_the_command_line() {
    let decl = |d: &'static str| ["--decl", d];
    // ∇β(βᵀx)·∇β(βᵀx′) = xᵀx′, by the chain rule and δ-elimination inside the sum over β.
    let mut args = vec![
        "prove",
        "dot(grad(b, dot(b, x)), grad(b, dot(b, y)))",
        "dot(x, y)",
    ];
    for d in ["n=size", "x=vector n", "y=vector n", "b=vector n"] {
        args.extend(decl(d));
    }
    let o = derive(&args);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("link 1.1: proved"), "{}", stdout(&o));
    // With one factor of the gradient's entries doubled it is refuted.
    args[2] = "2*dot(x, y)";
    let o = derive(&args);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("link 1.1: refuted"), "{}", stdout(&o));
    // Sizes that do not fit: exit 2, the column of the product.
    let mut args = vec!["prove", "dot(x, W@x)", "0"];
    for d in ["n=size", "m=size", "x=vector n", "W=matrix n x m"] {
        args.extend(decl(d));
    }
    let o = derive(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("<lhs>:1:8") && stderr(&o).contains("`W` is n × m, `x` has n entries"),
        "{}",
        stderr(&o)
    );
    // Declarations a file would refuse are refused from the command line too (exit 2, no
    // panic): a block that is not a vector or matrix, a block named twice, a size that is not a
    // declared size.
    for (decls, says) in [
        (
            &["w=vector n", "x=vector n", "theta=params w, c", "c=real"][..],
            "the block `c` of `theta` is not a declared vector or matrix",
        ),
        (
            &["w=vector n", "x=vector n", "theta=params w, w"][..],
            "the block `w` appears twice in `theta`",
        ),
        (
            &["w=vector n", "x=vector q"][..],
            "the size `q` of `x` is not a declared size",
        ),
        (
            &["w=vector n", "x=vector i"][..],
            "the size `i` of `x` is not a declared size",
        ),
        (
            &["w=vector n", "x=vector n", "n=vector n"][..],
            "the size `n` of `w` is not a declared size",
        ),
    ] {
        let mut args = vec!["prove", "dot(w, x)", "dot(x, w)"];
        for d in decls {
            args.extend(decl(d));
        }
        let o = derive(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{decls:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stderr(&o).contains(says), "{decls:?}: {}", stderr(&o));
    }
}

#[test]
fn eval_prints_what_it_knows() {
    let o = derive(&["eval", "pi"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // 17 significant digits: the f64 nearest π, read back exactly.
    let printed = stdout(&o).trim().to_string();
    assert_eq!(printed, "3.1415926535897931", "{printed}");
    assert_eq!(printed.parse::<f64>().unwrap(), std::f64::consts::PI);
    let o = derive(&["eval", "pi", "--digits", "5"]);
    assert_eq!(stdout(&o).trim(), "3.1416");
    let o = derive(&["eval", "1e-9/3", "--digits", "4"]);
    assert_eq!(stdout(&o).trim(), "3.333e-10");
    let o = derive(&["eval", "pi", "--digits", "18"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    // A leading minus is an expression, not an option.
    let o = derive(&["eval", "-pi"]);
    assert_eq!(stdout(&o).trim(), "-3.1415926535897931", "{}", stderr(&o));
    // An integral with its limits reversed is the negated integral, with the same allowance
    // (the adaptive bisection once tested its midpoint against a < m < b only).
    let value_and_allowance = |expr: &str| -> (f64, f64) {
        let o = derive(&["eval", expr]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        let (v, a) = out.split_once(" ± ").expect("a value with its allowance");
        let a = a.split_whitespace().next().unwrap();
        (v.trim().parse().unwrap(), a.parse().unwrap())
    };
    let e1 = std::f64::consts::E - 1.0;
    let (forward, a1) = value_and_allowance("integral(s in 0..1, exp(s)*sin(40*s)^2)");
    let (backward, a2) = value_and_allowance("integral(s in 1..0, exp(s)*sin(40*s)^2)");
    assert_eq!(forward, -backward);
    assert_eq!(a1, a2);
    let (v, a) = value_and_allowance("integral(s in 1..0, exp(s))");
    assert!((v + e1).abs() <= a && a < 1e-10, "{v} ± {a}");
    let o = derive(&[
        "prove",
        "min(a, b)",
        "-max(-a, -b)",
        "--decl",
        "a=real",
        "--decl",
        "b=real",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // `I` is the identity matrix from the command line too (it was assumed a real: A@I = A was
    // reported UNSOUND).
    let o = derive(&["prove", "A@I", "A", "--decl", "A=matrix"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains("assuming"), "{}", stdout(&o));
    // A Gaussian vector or a covariance given to `eval` is refused as by `prove` (E[z[1]²] with
    // z a Gaussian vector printed 3.46: z was read as a deterministic vector).
    for (expr, decl) in [
        ("E[z[1]^2]", "z=gaussian vector 3"),
        ("S[1, 1]", "S=covariance 3"),
    ] {
        let o = derive(&["eval", expr, "--decl", decl]);
        assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
        assert!(
            stderr(&o).contains("declared in a derivation file"),
            "{}",
            stderr(&o)
        );
    }
}

/// `derive report`, in a project folder of its own: a note named like note 000 holding the row
/// that `catapult_lambda_note000` cites (its extra factor η is refuted), a row of two `=` links,
/// a row marked not checkable, a row read under a convention, and a row no derivation cites.
#[test]
fn report_places_citations_on_rows() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("derive-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("derivations/wrong")).unwrap();
    // Its citation's `line` moved to where the test note holds the row (a `line` more than 3
    // lines from its quote is an error).
    let catapult = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("derivations/wrong/catapult_lambda_note000.toml"),
    )
    .unwrap();
    assert!(catapult.contains("cite = { line = 136,"));
    std::fs::write(
        dir.join("derivations/wrong/catapult_lambda_note000.toml"),
        catapult.replace("cite = { line = 136,", "cite = { line = 5,"),
    )
    .unwrap();
    std::fs::write(
        dir.join("derivations/n.toml"),
        r#"id = "n"
title = "the test note's other rows"
note = "000_aeb21564a603e9d2.txt"

[symbols]
f = "real"
y = "real"

[define]
L = "(f - y)^2"

[conventions.half]
text = "the loss carries ½"
define = { L = "1/2*(f - y)^2" }

[[claim]]
start = "(f + y)^2"

[[claim.step]]
cite = { line = 9, quote = '= f^2 + 2fy + y^2' }
expr = "f^2 + 2*f*y + y^2"

[[claim.step]]
cite = { line = 9, quote = '= f^2 + y^2' }
expr = "f^2 + y^2"
expect = "refuted"
remark = "the cross term 2fy is dropped"

[[claim]]
start = "d/df(L)"

[[claim.step]]
cite = { line = 11, quote = 'L_f = f - y' }
expr = "f - y"
by = ["calculus"]
convention = "half"
expect = "refuted"

[[unchecked]]
cite = { line = 10, quote = '\mathcal{D}' }
reason = "notation"
detail = "names the data set"
"#,
    )
    .unwrap();
    let note = dir.join("000_aeb21564a603e9d2.txt");
    std::fs::write(
        &note,
        "Intro.\n$$\n\\begin{aligned}\n\\kappa_{t+1}(1,1) &= \\lambda_t \\\\\n&=\\lambda_t+\\eta^2\\frac{f_t^2}{d}(\\eta\\lambda_t-4)\n\\end{aligned}\n$$\nand $$a = b$$ inline.\n$$g = (f + y)^2 = f^2 + 2fy + y^2 = f^2 + y^2$$\n$$\\mathcal{D}$$\n$$L_f = f - y$$\n",
    )
    .unwrap();
    let path = note.display().to_string();
    let o = common::derive_in(&dir, &["report", &path]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(
        text.contains("8 equations; 1 holds, 2 fails, 1 holds-with-convention, 1 not-checkable, 0 undecided, 3 not-encoded"),
        "{text}"
    );
    assert!(text.contains("line    5    fails"), "{text}");
    assert!(
        text.contains("catapult_lambda_note000 1.1 refuted"),
        "{text}"
    );
    // The row of three links: link 2 holds (the first step), link 3 fails (the second).
    assert!(text.contains("line    9.1  not-encoded"), "{text}");
    assert!(text.contains("line    9.2  holds"), "{text}");
    assert!(text.contains("line    9.3  fails"), "{text}");
    assert!(
        text.contains("why: the cross term 2fy is dropped"),
        "{text}"
    );
    assert!(text.contains("counterexample at"), "{text}");
    assert!(text.contains("line   10    not-checkable"), "{text}");
    assert!(
        text.contains("why: notation only: names the data set"),
        "{text}"
    );
    assert!(
        text.contains("line   11    holds-with-convention"),
        "{text}"
    );
    let o = common::derive_in(&dir, &["report", &path, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["notes"][0]["counts"]["fails"], 2);
    let eq = &v["notes"][0]["equations"];
    assert_eq!(eq[1]["line"], 5);
    assert_eq!(eq[1]["verdict"], "fails");
    assert_eq!(eq[1]["kind"], "derivation-step");
    assert!(eq[1]["counterexample"]["lhs"].is_number(), "{}", eq[1]);
    assert_eq!(eq[2]["verdict"], "not-encoded");
    assert_eq!(eq[5]["link"], 3);
    assert_eq!(eq[5]["verdict"], "fails");
    assert_eq!(eq[7]["verdict"], "holds-with-convention");
    assert_eq!(eq[7]["convention"], "half");
    // The second run reads the cache and says the same.
    let again = common::derive_in(&dir, &["report", &path, "--format", "json"]);
    assert_eq!(again.stdout, o.stdout);
    assert!(dir.join("target/derive-cache").is_dir());
    let md = dir.join("report.md");
    let o = common::derive_in(
        &dir,
        &[
            "report",
            &path,
            "--format",
            "md",
            "--out",
            &md.display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| ❌ fails | 2 |"), "{md}");
    assert!(md.contains("| 5 | ❌ fails |"), "{md}");
    let html = dir.join("report.html");
    let o = common::derive_in(
        &dir,
        &[
            "report",
            &path,
            "--format",
            "html",
            "--out",
            &html.display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(html).unwrap();
    assert_eq!(html.matches("<details class=\"eq").count(), 8, "{html}");
    assert_eq!(html.matches("<math").count(), 8, "{html}");
    assert!(!html.contains("<script"), "{html}");

    // A quote that is not in the note: exit 2 at the quote in the derivation file.
    let src = std::fs::read_to_string(dir.join("derivations/n.toml")).unwrap();
    std::fs::write(
        dir.join("derivations/n.toml"),
        src.replace("'L_f = f - y'", "'L_f = f + y'"),
    )
    .unwrap();
    let o = common::derive_in(&dir, &["report", &path]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("n.toml:33:")
            && stderr(&o).contains("the quote is not in 000_aeb21564a603e9d2.txt"),
        "{}",
        stderr(&o)
    );

    // Bad notes: exit 2 with the file and line.
    for (name, bytes, want) in [
        (
            "open.txt",
            &b"x\n$$ a = b\n"[..],
            ":2:1: `$$` opens a display equation",
        ),
        (
            "none.txt",
            &b"no equations\n"[..],
            ":1:1: the note has no display equation",
        ),
        (
            "bin.txt",
            &b"$$a$$\n\xff\n"[..],
            ":2:1: the note is not UTF-8",
        ),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = derive(&["report", &p.display().to_string()]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stderr(&o).contains(want), "{name}: {}", stderr(&o));
    }
}

/// The four `derive prove` commands of issue 10's "Done means": each proved from the command
/// line, and each with a wrong twin that is refuted.
#[test]
fn the_kernel_identities_of_the_issue_are_proved_from_the_command_line() {
    let cov = [
        "--decl",
        "s11=positive",
        "--decl",
        "s22=positive",
        "--decl",
        "rho=interval -1..1",
    ];
    let s12 = "rho*sqrt(s11*s22)";
    let cases: Vec<(String, String, String, Vec<&str>)> = vec![
        (
            "d/drho((sqrt(1 - rho^2) + (pi - acos(rho))*rho)/(2*pi))".into(),
            "(pi - acos(rho))/(2*pi)".into(),
            "(pi - acos(rho))/pi".into(),
            vec!["--decl", "rho=interval -1..1", "--by", "calculus,trig"],
        ),
        (
            format!("d/drho(gauss(s11, {s12}, s22; relu(u)*relu(v)))"),
            format!("sqrt(s11*s22)*gauss(s11, {s12}, s22; step(u)*step(v))"),
            format!("gauss(s11, {s12}, s22; step(u)*step(v))"),
            cov.to_vec(),
        ),
        (
            format!("gauss(s11, {s12}, s22; abs(u)*abs(v))"),
            "2*sqrt(s11*s22)/pi * (sqrt(1 - rho^2) + rho*asin(rho))".into(),
            "2*sqrt(s11*s22)/pi * (sqrt(1 - rho^2) + rho*acos(rho))".into(),
            cov.to_vec(),
        ),
        (
            format!("gauss(s11, {s12}, s22; (2/sqrt(pi))*exp(-u^2)*((2/sqrt(pi))*exp(-v^2)))"),
            "4/(pi*sqrt((1 + 2*s11)*(1 + 2*s22) - 4*rho^2*s11*s22))".into(),
            "4/(pi*sqrt((1 + 2*s11)*(1 + 2*s22) - 2*rho^2*s11*s22))".into(),
            cov.to_vec(),
        ),
    ];
    for (lhs, rhs, wrong, decls) in cases {
        let mut args = vec!["prove", lhs.as_str(), rhs.as_str()];
        args.extend(&decls);
        let o = derive(&args);
        assert!(
            stdout(&o).contains("link 1.1: proved"),
            "{lhs} = {rhs}\n{}",
            stdout(&o)
        );
        let mut args = vec!["prove", lhs.as_str(), wrong.as_str()];
        args.extend(&decls);
        let o = derive(&args);
        assert!(
            stdout(&o).contains("link 1.1: refuted"),
            "{lhs} = {wrong}\n{}",
            stdout(&o)
        );
    }
}

/// A prelude array (`x`, `xp`, `y`) used as a number is a usage error naming the prelude and
/// the declaration that makes it a number (it was "symbol `x` has no value (declare it)", with
/// `prove` reporting the link unchecked).
#[test]
fn prelude_arrays_used_as_numbers_are_input_errors() {
    for args in [&["prove", "x + 1", "1 + x"][..], &["eval", "x"][..]] {
        let o = derive(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("`x` is an array in the prelude")
                && stderr(&o).contains("--decl x=real"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = derive(&["prove", "x + 1", "1 + x", "--decl", "x=real"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = derive(&["eval", "x + 1", "--at", "x=2"]);
    assert_eq!(stdout(&o).trim(), "3.0000000000000000", "{}", stderr(&o));
}

#[test]
fn command_line_domains_are_those_of_a_file() {
    // A derivative by a size or an index is refused as a file refuses it (exit 2, the column of
    // the d/d): d/dk of Σⱼ (j−1)(j−2)(j−3)·δ(j, k) was "proved" equal to 3k² − 12k + 11, and
    // d/dn(n²) = 2n proved and evaluated for a width n.
    for (args, says) in [
        (
            &[
                "prove",
                "d/dk(sum(j in 1..3, (j-1)*(j-2)*(j-3)*delta(j, k)))",
                "3*k^2 - 12*k + 11",
                "--by",
                "sums,calculus",
                "--decl",
                "k=index in 1..3",
            ][..],
            "<lhs>:1:1: d/dk: `k` is an index, which takes integer values only",
        ),
        (
            &["prove", "2*n", "d/dn(n^2)"][..],
            "<rhs>:1:1: d/dn: `n` is a size",
        ),
        (
            &["eval", "d/dn(n^2)", "--at", "n=3"][..],
            "<expr>:1:1: d/dn: `n` is a size",
        ),
        // An index outside its range at the values given (the lower end alone where the upper
        // one needs a size not given).
        (
            &["eval", "k", "--decl", "k=index in 1..5", "--at", "k=9"][..],
            "--at k=9: outside its range 1..5",
        ),
        (
            &["eval", "i", "--at", "i=0,n=3"][..],
            "--at i=0: outside its range 1..n = 3",
        ),
        (
            &["eval", "i", "--at", "i=-7"][..],
            "--at i=-7: outside its range 1..n",
        ),
    ] {
        let o = derive(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // The same with a real variable, and an index inside its range, are fine.
    let o = derive(&["eval", "d/dn(n^2)", "--decl", "n=real", "--at", "n=3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = derive(&["eval", "i", "--at", "i=3,n=3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("3.0000000000000000"),
        "{}",
        stdout(&o)
    );
}
