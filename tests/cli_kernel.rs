//! Runs the built `derive kernel` binary on small CSV files: one good run, several bad inputs.

use std::path::PathBuf;
use std::process::Command;

fn temp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("derive-cli-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_derive"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn good_input_prints_and_writes_kernels() {
    let f = temp("good.csv", "x1,x2\n1.0,0.5\n-0.3,2\n");
    let fs = f.to_str().unwrap();
    let (code, out, err) = run(&[
        "kernel", "--act", "relu", "--depth", "2", "--sw", "1.4", "--sb", "0.1", "--inputs", fs,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("NTK parameterisation") && out.contains("Theta (NTK):"),
        "{out}"
    );
    let json = f.with_extension("json");
    let (code, _, err) = run(&[
        "kernel",
        "--act",
        "erf",
        "--depth",
        "3",
        "--inputs",
        fs,
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["ntk"].as_array().unwrap().len(), 2);
    let csv = f.with_extension("out.csv");
    let (code, _, err) = run(&[
        "kernel",
        "--act",
        "gelu",
        "--depth",
        "1",
        "--inputs",
        fs,
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 5);
}

#[test]
fn bad_inputs_exit_2_with_a_message() {
    let good = temp("ok.csv", "1,2\n3,4\n");
    let g = good.to_str().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--act".into(),
                "swish".into(),
                "--depth".into(),
                "2".into(),
                "--inputs".into(),
                g.into(),
            ],
            "unknown activation",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "0".into(),
                "--inputs".into(),
                g.into(),
            ],
            "depth",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--sw".into(),
                "-1".into(),
                "--inputs".into(),
                g.into(),
            ],
            "σw",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--inputs".into(),
                temp("nan.csv", "1,2\n3,nan\n").to_str().unwrap().into(),
            ],
            ":2:3: `nan` is not a finite number",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--inputs".into(),
                temp("ragged.csv", "1,2\n3\n").to_str().unwrap().into(),
            ],
            ":2:1:",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--inputs".into(),
                temp("word.csv", "1,2\n3,four\n").to_str().unwrap().into(),
            ],
            ":2:3: `four` is not a number",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--inputs".into(),
                "/nonexistent/derive.csv".into(),
            ],
            "/nonexistent/derive.csv",
        ),
        (
            vec![
                "--act".into(),
                "relu".into(),
                "--depth".into(),
                "1".into(),
                "--inputs".into(),
                g.into(),
                "--out".into(),
                "x.txt".into(),
            ],
            ".csv or .json",
        ),
    ];
    for (args, msg) in cases {
        let mut a = vec!["kernel".to_string()];
        a.extend(args);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let (code, _, err) = run(&refs);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(msg), "{a:?}: expected `{msg}` in `{err}`");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `(within, total)` from a summary line `NAME: a/b entries within …`.
fn within(out: &str, name: &str) -> (usize, usize) {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no `{name}:` summary in\n{out}"));
    let frac = line[name.len() + 2..].split_whitespace().next().unwrap();
    let (a, b) = frac.split_once('/').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn monte_carlo_agrees_with_the_analytic_kernels() {
    let f = temp(
        "mc.csv",
        "x1,x2,x3\n1.0,0.5,-0.2\n-0.3,2,0.1\n0.7,0.7,0.7\n",
    );
    let fs = f.to_str().unwrap();
    let base = [
        "kernel", "--act", "relu", "--depth", "2", "--sw", "1.4", "--sb", "0.1", "--inputs", fs,
        "--mc", "256", "--seeds", "8",
    ];
    let (code, out, err) = run(&base);
    assert_eq!(code, 0, "{err}");
    // The progress bar stays hidden when stderr is not a terminal.
    assert!(err.is_empty(), "{err}");
    for needle in [
        "Sigma (NNGP):",
        "Sigma_mc (NNGP, Monte Carlo mean ± half-width, width 256):",
        "Theta (NTK):",
        "Theta_mc (NTK, Monte Carlo mean ± half-width, width 256):",
        "8 random networks of width 256",
        "95% simultaneous",
        "O(1/width) bias",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from\n{out}");
    }
    for name in ["NNGP", "NTK"] {
        let (inside, total) = within(&out, name);
        assert_eq!(total, 9, "{out}");
        assert!(
            inside + 1 >= total,
            "{name}: only {inside}/{total} inside\n{out}"
        );
    }

    // The files carry the Monte Carlo matrices beside the analytic ones.
    let json = f.with_extension("mc.json");
    let mut args = base.to_vec();
    args.extend(["--out", json.to_str().unwrap()]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("NTK: ") && out.contains("entries within"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["ntk"].as_array().unwrap().len(), 3);
    let mc = &v["monte_carlo"];
    assert_eq!(mc["width"], 256);
    assert_eq!(mc["seeds"], 8);
    assert_eq!(mc["ntk_mean"].as_array().unwrap().len(), 3);
    assert_eq!(mc["sigma_half_width"][2].as_array().unwrap().len(), 3);
    let csv = f.with_extension("mc.out.csv");
    let mut args = base.to_vec();
    args.extend(["--out", csv.to_str().unwrap()]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "i,j,sigma,sigma_dot,ntk,sigma_mc,sigma_mc_half_width,ntk_mc,ntk_mc_half_width"
    );
    assert_eq!(lines.clone().count(), 9);
    assert!(lines.all(|l| l.split(',').count() == 9), "{text}");
}

#[test]
fn bad_monte_carlo_arguments_exit_2_with_a_message() {
    let good = temp("mc-ok.csv", "1,2\n3,4\n");
    let g = good.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--mc", "0"], "--mc WIDTH must be ≥ 1"),
        (vec!["--mc", "64", "--seeds", "0"], "--seeds N must be ≥ 3"),
        (vec!["--mc", "64", "--seeds", "1"], "--seeds N must be ≥ 3"),
        (
            vec!["--mc", "64", "--seeds", "2"],
            "at least 3 random networks",
        ),
        (vec!["--seeds", "8"], "--seeds needs --mc WIDTH"),
        (vec!["--seed", "8"], "--seed needs --mc WIDTH"),
        (vec!["--mc", "-3"], "-3"),
        (
            vec!["--mc", "100000", "--seeds", "1000"],
            "use a smaller --mc WIDTH or fewer --seeds",
        ),
        (
            vec!["--mc", "18446744073709551615"],
            "use a smaller --mc WIDTH or fewer --seeds",
        ),
        (
            vec!["--mc", "4000", "--seeds", "100000"],
            "use a smaller --mc WIDTH or fewer --seeds",
        ),
        (vec!["--mc", "16", "--sw", "0"], "σw must be finite and > 0"),
    ];
    for (extra, msg) in cases {
        let mut a = vec!["kernel", "--act", "relu", "--depth", "2", "--inputs", g];
        a.extend(extra);
        let (code, out, err) = run(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(msg), "{a:?}: expected `{msg}` in `{err}`");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.is_empty(), "{a:?}: {out}");
    }
    // A zero input with σb = 0 gives identical draws at that entry: refused, not a zero-width
    // interval.
    let zero = temp("mc-zero.csv", "0,0\n1,2\n");
    let (code, _, err) = run(&[
        "kernel",
        "--act",
        "relu",
        "--depth",
        "1",
        "--inputs",
        zero.to_str().unwrap(),
        "--mc",
        "16",
        "--seeds",
        "4",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("standard error is zero"), "{err}");
}
