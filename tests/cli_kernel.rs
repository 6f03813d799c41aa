//! Runs the built `derive kernel` binary on small CSV files: one good run, several bad inputs.

use std::path::PathBuf;
use std::process::Command;

fn temp(name: &str, content: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("derive-cli-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// `derive kernel` flags written as one string, then `--inputs` a temporary CSV of `content`.
fn flags(spec: &str, file: &str, content: &str) -> Vec<String> {
    let mut out: Vec<String> = spec.split_whitespace().map(String::from).collect();
    out.push("--inputs".into());
    out.push(temp(file, content).to_str().unwrap().into());
    out
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
            // x' = x + 1e-170·e₂: the determinant underflows; step printed the parallel 0.5
            // (truth 0.39503 at depth 20).
            vec![
                "--act".into(),
                "step".into(),
                "--depth".into(),
                "20".into(),
                "--inputs".into(),
                temp("step_parallel.csv", "1,0\n1,1e-170\n")
                    .to_str()
                    .unwrap()
                    .into(),
            ],
            "inputs 0 and 1: the determinant Σ(x,x)Σ(x′,x′) − Σ(x,x′)² of the pair underflows at layer 1",
        ),
        // Nearly parallel inputs under a recursion that carries Σ(x,x′), not the gap, and
        // magnifies it: |x′|² = 1 + 1e-16 rounds to 1, and sin at σw = 20 printed the parallel
        // Σ(x,x′) = 200 for 2e-39 (mpmath, 50 digits); erf at σw = 3, depth 60 printed 0.17376
        // for 0.39042.
        (
            flags("--act sin --depth 8 --sw 20", "sin_parallel.csv", "1,0\n1,1e-8\n"),
            "inputs 0 and 1: nearly parallel or opposite",
        ),
        (
            flags("--act erf --depth 60 --sw 3", "erf_parallel.csv", "1,0\n1,1e-8\n"),
            "this recursion magnifies the rounding of Σ(x,x′)",
        ),
        (
            flags("--act tanh --depth 8 --sw 20", "tanh_parallel.csv", "1,0\n1,1e-8\n"),
            "inputs 0 and 1: nearly parallel or opposite",
        ),
        // A variance that is 0 only by underflow (σb = 10⁻²⁰⁰ squares to 0; so does an input
        // of size 10⁻²⁰⁰ with σb = 0): the kink met a point mass, and step printed Σ = 0 for
        // 1.125, relu Σ̇ = 0 for 1.125, with exit 0. One input is refused as two are.
        (
            flags("--act step --depth 1 --sw 1.5 --sb 1e-200", "zero_and_one.csv", "0,0\n1,0\n"),
            "input 0: its variance at layer 1 underflows to 0 (the input and σb = 1e-200 are not both 0)",
        ),
        (
            flags("--act relu --depth 1 --sw 1.5", "tiny.csv", "1e-200,0\n"),
            "input 0: its variance at layer 1 underflows to 0 (the input and σb = 0 are not both 0)",
        ),
        (
            flags("--act relu --depth 1 --sb 1e-200", "zero.csv", "0,0\n"),
            "input 0: its variance at layer 1 underflows to 0",
        ),
        // Every activation: |x|² = 10⁻³⁴⁰ underflows before σw² = 10²⁰⁰ multiplies it, and
        // tanh and erf printed Σ = 0 for 5·10⁵⁹ (attack 20).
        (
            flags("--act tanh --depth 1 --sw 1e100", "tiny_input.csv", "1e-170,0\n"),
            "input 0: its variance at layer 1 underflows to 0 (the input and σb = 0 are not both 0)",
        ),
        (
            flags("--act erf --depth 2 --sw 1e100", "tiny_input_erf.csv", "1e-170,0\n1e-100,0\n"),
            "input 0: its variance at layer 1 underflows to 0",
        ),
        // A variance beyond f64's range names the input and the layer (it was "invalid
        // covariance [[inf, inf], [inf, inf]]", naming neither).
        (
            flags("--act relu --depth 2", "huge.csv", "3,4\n1e300,1e300\n"),
            "input 1: its variance at layer 1 is inf, beyond f64's range",
        ),
        // An NTK beyond f64's range was printed as inf, with exit 0.
        (
            flags("--act erf --depth 2 --sw 1e100", "ntk_overflow.csv", "1,0\n"),
            "input 0: its NTK at layer 3 is inf, beyond f64's range",
        ),
        (
            flags("--act relu --depth 300 --sw 10", "grows.csv", "1,0\n"),
            "input 0: its variance at layer 182 is inf, beyond f64's range",
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
            ".csv, .json or .npy",
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

/// The entries of an .npy file written by `derive kernel --format npy`, after checking its header
/// (format 1.0, `<f8`, C order, shape (n, n), header padded to 64 bytes).
fn read_npy(path: &std::path::Path, n: usize) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "magic and version 1.0");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "header padded to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.ends_with('\n'), "{header:?}");
    let dict = header.trim_end();
    assert_eq!(
        dict,
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {n}), }}")
    );
    let data = &bytes[10 + len..];
    assert_eq!(data.len(), 8 * n * n);
    data.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn npy_output_round_trips_the_csv_values_bit_exactly() {
    let f = temp(
        "npy.csv",
        "x1,x2,x3\n1.0,0.5,-0.2\n-0.3,2,0.1\n0.7,0.7,0.7\n0.1,-1e-3,2.5\n",
    );
    let fs = f.to_str().unwrap();
    let base = [
        "kernel", "--act", "erf", "--depth", "3", "--sw", "1.3", "--sb", "0.2", "--inputs", fs,
    ];
    let prefix = f.with_extension("");
    let mut args = base.to_vec();
    let out = prefix.with_extension("npy");
    args.extend(["--format", "npy", "--out", out.to_str().unwrap()]);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("npy_ntk.npy"), "{stdout}");
    // The CSV of the same run: shortest round-trip decimals, so they parse to the same bits.
    let csv = f.with_extension("rt.csv");
    let mut args = base.to_vec();
    args.extend(["--out", csv.to_str().unwrap()]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let n = 4;
    let p = prefix.to_str().unwrap();
    let files = [
        read_npy(&PathBuf::from(format!("{p}_sigma.npy")), n),
        read_npy(&PathBuf::from(format!("{p}_sigma_dot.npy")), n),
        read_npy(&PathBuf::from(format!("{p}_ntk.npy")), n),
    ];
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let v: Vec<&str> = line.split(',').collect();
        let (i, j): (usize, usize) = (v[0].parse().unwrap(), v[1].parse().unwrap());
        for (m, s) in files.iter().zip(&v[2..5]) {
            let want: f64 = s.parse().unwrap();
            // C order: entry (i, j) at i·n + j.
            assert_eq!(m[i * n + j].to_bits(), want.to_bits(), "({i},{j}): {s}");
        }
        rows += 1;
    }
    assert_eq!(rows, n * n);
    // The text output's numbers round-trip too.
    let (code, stdout, err) = run(&base);
    assert_eq!(code, 0, "{err}");
    let theta: Vec<f64> = stdout
        .lines()
        .skip_while(|l| *l != "Theta (NTK):")
        .skip(1)
        .take(n)
        .flat_map(|l| l.split_whitespace().map(|s| s.parse::<f64>().unwrap()))
        .collect();
    assert_eq!(theta.len(), n * n);
    for (a, b) in theta.iter().zip(&files[2]) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    // With --mc the Monte Carlo matrices get their own files.
    let mut args = base.to_vec();
    let mc_prefix = f.with_extension("mc");
    args.extend([
        "--mc",
        "64",
        "--seeds",
        "4",
        "--format",
        "npy",
        "--out",
        mc_prefix.to_str().unwrap(),
    ]);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("entries within"), "{stdout}");
    let p = mc_prefix.to_str().unwrap();
    for name in [
        "sigma",
        "sigma_dot",
        "ntk",
        "sigma_mc",
        "sigma_mc_half_width",
        "ntk_mc",
        "ntk_mc_half_width",
    ] {
        let m = read_npy(&PathBuf::from(format!("{p}_{name}.npy")), n);
        assert!(m.iter().all(|v| v.is_finite()), "{name}");
    }
    // npy needs a file name.
    let mut args = base.to_vec();
    args.extend(["--format", "npy"]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs --out PATH"), "{err}");
}
