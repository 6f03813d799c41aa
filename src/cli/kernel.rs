//! `derive kernel`: the analytic NNGP, derivative and NTK matrices of a dense network for the
//! inputs in a CSV file.

use super::CliError;
use crate::numeric::activation::Activation;
use crate::numeric::kernel::{kernels, Architecture, Kernels, Matrix};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The conventions of the printed kernels (DESIGN.md §5).
pub const CONVENTIONS: &str = "NTK parameterisation (neural-tangents): Σ¹ = σw²·x·x'/n0 + σb², \
Θ¹ = Σ¹; Σˡ⁺¹ = σw²·E[φ(u)φ(v)] + σb², Σ̇ˡ⁺¹ = σw²·E[φ'(u)φ'(v)], Θˡ⁺¹ = Θˡ·Σ̇ˡ⁺¹ + Σˡ⁺¹; \
outputs Σᴸ⁺¹, Σ̇ᴸ⁺¹, Θᴸ⁺¹ for L hidden layers and a linear readout";

/// Arguments of `derive kernel`.
#[derive(Debug, Clone, clap::Args)]
pub struct KernelArgs {
    /// Activation: identity, relu, step, leaky_relu, leaky_relu(a), abs, erf, tanh, gelu, sin,
    /// cos, softplus, sigmoid.
    #[arg(long)]
    pub act: String,
    /// Number of hidden layers L (≥ 1).
    #[arg(long)]
    pub depth: usize,
    /// Weight standard deviation σw (≥ 0).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub sw: f64,
    /// Bias standard deviation σb (≥ 0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub sb: f64,
    /// CSV file with one input per row (comma-separated numbers); a first line that is entirely
    /// non-numeric is taken as a header.
    #[arg(long)]
    pub inputs: PathBuf,
    /// Write the kernels to FILE instead of stdout: `.csv` (i,j,sigma,sigma_dot,ntk) or `.json`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also compare with finite networks of this width by Monte Carlo (accepted and validated;
    /// not available in this build).
    #[arg(long, value_name = "WIDTH")]
    pub mc: Option<usize>,
    /// Number of random networks for the Monte Carlo comparison (with --mc).
    #[arg(long, value_name = "N")]
    pub seeds: Option<usize>,
}

/// Runs `derive kernel`, writing the matrices (or a note about the output file) to `out`.
pub fn run(args: &KernelArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let act: Activation =
        args.act
            .parse()
            .map_err(|e: crate::numeric::activation::UnknownActivation| {
                CliError::Usage(e.to_string())
            })?;
    let arch = Architecture::new(act, args.depth, args.sw, args.sb)?;
    if args.mc == Some(0) {
        return Err(CliError::Usage("--mc WIDTH must be ≥ 1".into()));
    }
    if args.seeds == Some(0) {
        return Err(CliError::Usage("--seeds N must be ≥ 1".into()));
    }
    if args.seeds.is_some() && args.mc.is_none() {
        return Err(CliError::Usage("--seeds needs --mc WIDTH".into()));
    }
    let format = match &args.out {
        None => None,
        Some(p) => Some(match p.extension().and_then(|e| e.to_str()) {
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            _ => {
                return Err(CliError::Usage(format!(
                    "--out {}: the extension must be .csv or .json",
                    p.display()
                )))
            }
        }),
    };
    if args.mc.is_some() {
        return Err(CliError::Unavailable(
            "Monte Carlo comparison: not available in this build".into(),
        ));
    }
    let inputs = read_inputs(&args.inputs)?;
    let k = kernels(&arch, &inputs)?;
    let io = |path: &Path, e| CliError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let stdout_err = |e| io(Path::new("<output>"), e);
    match (&args.out, format) {
        (Some(path), Some(fmt)) => {
            let text = match fmt {
                Format::Csv => to_csv(&k),
                Format::Json => to_json(&arch, &k),
            };
            std::fs::write(path, text).map_err(|e| io(path, e))?;
            writeln!(out, "wrote {} ({} inputs)", path.display(), inputs.len())
                .map_err(stdout_err)?;
        }
        _ => {
            let text = pretty(&arch, &k, inputs[0].len());
            out.write_all(text.as_bytes()).map_err(stdout_err)?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Json,
}

/// Reads one input per non-empty line; errors name file, line and column.
fn read_inputs(path: &Path) -> Result<Vec<Vec<f64>>, CliError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Io {
        path: name.clone(),
        source: e,
    })?;
    let at = |line: usize, col: usize, msg: String| CliError::Data {
        path: name.clone(),
        line,
        col,
        msg,
    };
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut first_len = None;
    for (ln, line) in text.lines().enumerate() {
        let line_no = ln + 1;
        if line.trim().is_empty() {
            continue;
        }
        // Fields with their 1-based character columns.
        let mut fields = Vec::new();
        let mut col = 1;
        for f in line.split(',') {
            let lead = f.chars().take_while(|c| c.is_whitespace()).count();
            fields.push((col + lead, f.trim()));
            col += f.chars().count() + 1;
        }
        let parsed: Vec<Option<f64>> = fields.iter().map(|(_, f)| f.parse::<f64>().ok()).collect();
        if rows.is_empty() && first_len.is_none() && parsed.iter().all(Option::is_none) {
            first_len = Some(0); // a header line
            continue;
        }
        let mut row = Vec::with_capacity(fields.len());
        for ((c, f), p) in fields.iter().zip(&parsed) {
            match p {
                Some(v) if v.is_finite() => row.push(*v),
                Some(_) => return Err(at(line_no, *c, format!("`{f}` is not a finite number"))),
                None => return Err(at(line_no, *c, format!("`{f}` is not a number"))),
            }
        }
        if let Some(first) = rows.first() {
            if row.len() != first.len() {
                return Err(at(
                    line_no,
                    1,
                    format!(
                        "{} values, but the first input has {}",
                        row.len(),
                        first.len()
                    ),
                ));
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(at(1, 1, "no inputs".into()));
    }
    Ok(rows)
}

fn write_matrix(s: &mut String, title: &str, m: &Matrix) {
    use std::fmt::Write as _;
    let _ = writeln!(s, "{title}");
    for i in 0..m.n() {
        let row: Vec<String> = m.row(i).iter().map(|v| format!("{v:>18.10e}")).collect();
        let _ = writeln!(s, "{}", row.join(" "));
    }
}

fn pretty(arch: &Architecture, k: &Kernels, n0: usize) -> String {
    let mut s = format!(
        "# derive kernel: act={} depth={} σw={} σb={} N={} n0={n0}; {CONVENTIONS}\n",
        arch.act,
        arch.depth,
        arch.sw,
        arch.sb,
        k.sigma.n()
    );
    write_matrix(&mut s, "Sigma (NNGP):", &k.sigma);
    write_matrix(&mut s, "Sigma_dot (derivative kernel):", &k.sigma_dot);
    write_matrix(&mut s, "Theta (NTK):", &k.ntk);
    s
}

fn to_csv(k: &Kernels) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("i,j,sigma,sigma_dot,ntk\n");
    for i in 0..k.sigma.n() {
        for j in 0..k.sigma.n() {
            let _ = writeln!(
                s,
                "{i},{j},{:e},{:e},{:e}",
                k.sigma.get(i, j),
                k.sigma_dot.get(i, j),
                k.ntk.get(i, j)
            );
        }
    }
    s
}

fn to_json(arch: &Architecture, k: &Kernels) -> String {
    let rows = |m: &Matrix| (0..m.n()).map(|i| m.row(i).to_vec()).collect::<Vec<_>>();
    let v = serde_json::json!({
        "conventions": CONVENTIONS,
        "act": arch.act.to_string(),
        "depth": arch.depth,
        "sw": arch.sw,
        "sb": arch.sb,
        "sigma": rows(&k.sigma),
        "sigma_dot": rows(&k.sigma_dot),
        "ntk": rows(&k.ntk),
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
