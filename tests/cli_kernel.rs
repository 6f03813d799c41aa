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
                "--mc".into(),
                "64".into(),
                "--seeds".into(),
                "3".into(),
            ],
            "Monte Carlo comparison: not available in this build",
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
