//! `derive kernel`: the analytic NNGP, derivative and NTK matrices of a dense network for the
//! inputs in a CSV file, optionally compared with a Monte Carlo over finite-width networks
//! (`--mc WIDTH --seeds N`).

use super::CliError;
use crate::limits::{
    MAX_KERNEL_BYTES, MAX_KERNEL_DEPTH, MAX_KERNEL_FILE_BYTES, MAX_KERNEL_INPUTS, MAX_KERNEL_WORK,
};
use crate::numeric::activation::Activation;
use crate::numeric::kernel::{has_fast_path, kernels, Architecture, Kernels};
use crate::numeric::network::{self, McKernels, McOptions};
use crate::numeric::stats::{self, Quantile};
use nalgebra::DMatrix;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The conventions of the printed kernels (those of neural-tangents, so results can be compared).
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
    /// Weight standard deviation σw (> 0).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub sw: f64,
    /// Bias standard deviation σb (≥ 0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub sb: f64,
    /// CSV file with one input per row (comma-separated numbers); a first line that is entirely
    /// non-numeric is taken as a header.
    #[arg(long)]
    pub inputs: PathBuf,
    /// Write the kernels to FILE instead of stdout, in the format of --format or, without it,
    /// of FILE's extension: `.csv`, `.json` or `.npy`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format. `text` (default without --out): the matrices as text, one row per line.
    /// `csv`: one line per (i, j): i,j,sigma,sigma_dot,ntk (and the Monte Carlo columns with
    /// --mc). `json`: one object with the matrices as arrays of rows. `npy`: NumPy's binary
    /// format (version 1.0, little-endian f64 `<f8`, C order, shape (N, N)), one file per
    /// matrix, named from --out PATH (a trailing `.npy` dropped): PATH_sigma.npy,
    /// PATH_sigma_dot.npy, PATH_ntk.npy, and with --mc PATH_sigma_mc.npy,
    /// PATH_sigma_mc_half_width.npy, PATH_ntk_mc.npy, PATH_ntk_mc_half_width.npy;
    /// `numpy.load(PATH + "_ntk.npy")` reads one. Numbers in text and csv are the shortest
    /// decimals that read back to the same f64.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Output>,
    /// Also compare Σ and Θ with the mean empirical kernels of random finite networks of this
    /// hidden width (Monte Carlo, 95% simultaneous confidence intervals).
    #[arg(long, value_name = "WIDTH")]
    pub mc: Option<usize>,
    /// Number of random networks for the Monte Carlo comparison (with --mc; default 32, ≥ 3).
    #[arg(long, value_name = "N")]
    pub seeds: Option<usize>,
    /// Seed of the first random network (network i uses BASE + i); with --mc.
    #[arg(long, value_name = "BASE")]
    pub seed: Option<u64>,
}

/// Number of random networks for `--mc` when `--seeds` is not given.
pub const DEFAULT_SEEDS: usize = 32;

pub use derive::precision::MC_LEVEL;

/// The largest network `--mc` samples, in bytes of parameters and activations per draw.
pub const MAX_BYTES_PER_DRAW: f64 = 512.0 * 1024.0 * 1024.0;

/// The largest estimated Monte Carlo work in the units of the cost model (parameters sampled ×
/// 20 plus multiply-adds); about 10⁹ units take a second on two cores, so this is a minute or two.
pub const MAX_WORK: f64 = 1e11;

/// The note printed with every Monte Carlo comparison.
pub const MC_BIAS_NOTE: &str = "note: the Monte Carlo mean estimates the expected kernel of \
networks of finite width; it converges to the analytic kernel as width → ∞, but at finite width \
an O(1/width) bias remains, which the intervals (sampling error only) do not include — with \
many seeds or a small width, entries can fall outside without any error in the analytic kernel";

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
    if args.seeds.is_some() && args.mc.is_none() {
        return Err(CliError::Usage("--seeds needs --mc WIDTH".into()));
    }
    if args.seed.is_some() && args.mc.is_none() {
        return Err(CliError::Usage("--seed needs --mc WIDTH".into()));
    }
    if let Some(s) = args.seeds {
        if s < stats::MIN_SAMPLES {
            return Err(CliError::Usage(format!(
                "--seeds N must be ≥ {}: a confidence interval needs at least {} random networks, \
                 got {s}",
                stats::MIN_SAMPLES,
                stats::MIN_SAMPLES
            )));
        }
    }
    if let Some(seed) = args.seed {
        let n = args.seeds.unwrap_or(DEFAULT_SEEDS);
        if seed.checked_add(n as u64).is_none() {
            return Err(CliError::Usage(format!(
                "--seed {seed}: the {n} networks use seeds {seed}, {seed} + 1, …, which pass 2^64 − 1; use a seed below {}",
                u64::MAX - n as u64 + 1
            )));
        }
    }
    let format = output_format(args)?;
    if args.depth > MAX_KERNEL_DEPTH {
        return Err(CliError::Usage(format!(
            "--depth {}: more hidden layers than the budget MAX_KERNEL_DEPTH = {MAX_KERNEL_DEPTH}",
            args.depth
        )));
    }
    let inputs = read_inputs(&args.inputs)?;
    kernel_budget(act, inputs.len(), inputs[0].len(), args.depth, format)?;
    let k = kernels(&arch, &inputs)?;
    let mc = match args.mc {
        Some(width) => Some(monte_carlo(
            &arch,
            &inputs,
            &k,
            width,
            args.seeds.unwrap_or(DEFAULT_SEEDS),
            args.seed.unwrap_or(0),
        )?),
        None => None,
    };
    let io = |path: &Path, e| CliError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let stdout_err = |e| super::io_to_cli("<output>", e);
    let n0 = inputs[0].len();
    let Some(path) = &args.out else {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
        write_text(&mut w, &arch, &k, n0, mc.as_ref())
            .and_then(|()| w.flush())
            .map_err(stdout_err)?;
        return Ok(());
    };
    let written = match format {
        Output::Npy => {
            let files = npy_files(path, &k, mc.as_ref());
            for (file, m) in &files {
                write_npy(file, m).map_err(|e| io(file, e))?;
            }
            files
                .iter()
                .map(|(f, _)| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => {
            let file = std::fs::File::create(path).map_err(|e| io(path, e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            match format {
                Output::Text => write_text(&mut w, &arch, &k, n0, mc.as_ref()),
                Output::Csv => write_csv(&mut w, &k, mc.as_ref()),
                _ => w.write_all(to_json(&arch, &k, mc.as_ref()).as_bytes()),
            }
            .and_then(|()| w.flush())
            .map_err(|e| io(path, e))?;
            path.display().to_string()
        }
    };
    writeln!(out, "wrote {written} ({} inputs)", inputs.len()).map_err(stdout_err)?;
    if let Some(mc) = &mc {
        out.write_all(mc_summary(mc).as_bytes())
            .map_err(stdout_err)?;
    }
    Ok(())
}

/// The output format: --format, else the extension of --out, else text.
fn output_format(args: &KernelArgs) -> Result<Output, CliError> {
    match (args.format, &args.out) {
        (Some(f @ (Output::Csv | Output::Json | Output::Npy)), None) => Err(CliError::Usage(
            format!("--format {f}: needs --out PATH (only text goes to stdout)"),
        )),
        (Some(f), _) => Ok(f),
        (None, None) => Ok(Output::Text),
        (None, Some(p)) => match p.extension().and_then(|e| e.to_str()) {
            Some("csv") => Ok(Output::Csv),
            Some("json") => Ok(Output::Json),
            Some("npy") => Ok(Output::Npy),
            _ => Err(CliError::Usage(format!(
                "--out {}: the extension must be .csv, .json or .npy, or give --format",
                p.display()
            ))),
        },
    }
}

/// How the analytic entries of one kernel sit in the Monte Carlo intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Agreement {
    /// Entries (of all N²) whose analytic value lies inside its interval.
    within: usize,
    /// N².
    total: usize,
    /// The entry with the largest |analytic − mean| / half-width: (i, j, |analytic − mean|,
    /// half-width).
    worst: (usize, usize, f64, f64),
}

impl Agreement {
    fn new(analytic: &DMatrix<f64>, mean: &DMatrix<f64>, half_width: &DMatrix<f64>) -> Self {
        let n = analytic.nrows();
        let mut within = 0;
        let mut worst = (0, 0, 0.0, f64::INFINITY);
        let mut worst_ratio = f64::NEG_INFINITY;
        for i in 0..n {
            for j in 0..n {
                let diff = (analytic[(i, j)] - mean[(i, j)]).abs();
                let hw = half_width[(i, j)];
                if diff <= hw {
                    within += 1;
                }
                let ratio = diff / hw;
                if ratio > worst_ratio {
                    worst_ratio = ratio;
                    worst = (i, j, diff, hw);
                }
            }
        }
        Agreement {
            within,
            total: n * n,
            worst,
        }
    }
}

/// A Monte Carlo comparison of the analytic kernels with finite networks.
#[derive(Debug, Clone, PartialEq)]
struct McComparison {
    width: usize,
    base_seed: u64,
    mc: McKernels,
    sigma: Agreement,
    ntk: Agreement,
}

/// Estimated (bytes, work) of the analytic kernels of `n` inputs of dimension `n0` through
/// `depth` hidden layers, and of writing them. Bytes: three N×N matrices of f64, three per-layer
/// diagonals per input, the inputs, and the output (≈ 24 bytes per number in text and CSV, ≈ 72
/// in JSON, 8 in npy). Work, in units of one closed-form pair-layer (relu, abs, leaky relu, erf;
/// any other activation needs quadrature, counted as 2 units): N(N+1)/2 × L pair-layers plus
/// per written number (3·N² of them) 5 units in text and CSV, 15 in JSON, 0.5 in npy.
pub fn kernel_cost(
    act: Activation,
    n: usize,
    n0: usize,
    depth: usize,
    format: Output,
) -> (f64, f64) {
    let (n, n0, l) = (n as f64, n0 as f64, depth as f64);
    let (per_number, print_work) = match format {
        Output::Text | Output::Csv => (24.0, 5.0),
        Output::Json => (72.0, 15.0),
        Output::Npy => (8.0, 0.5),
    };
    let bytes = 8.0 * (3.0 * n * n + 3.0 * n * (l + 1.0) + n * n0) + 3.0 * n * n * per_number;
    let per_pair_layer = if has_fast_path(act) { 1.0 } else { 2.0 };
    (
        bytes,
        n * (n + 1.0) / 2.0 * l * per_pair_layer + 3.0 * n * n * print_work,
    )
}

fn kernel_budget(
    act: Activation,
    n: usize,
    n0: usize,
    depth: usize,
    format: Output,
) -> Result<(), CliError> {
    let (bytes, work) = kernel_cost(act, n, n0, depth, format);
    if bytes > MAX_KERNEL_BYTES {
        return Err(CliError::Usage(format!(
            "{n} inputs at depth {depth}: the kernels and their output need about {}, more than \
             the budget MAX_KERNEL_BYTES = {}; use fewer inputs",
            mib(bytes),
            mib(MAX_KERNEL_BYTES)
        )));
    }
    if work > MAX_KERNEL_WORK {
        return Err(CliError::Usage(format!(
            "{n} inputs at depth {depth}: estimated work {work:.1e} (pair-layers N(N+1)/2 × L, \
             ×2 for activations without a closed form, plus the output), more than the budget \
             MAX_KERNEL_WORK = {MAX_KERNEL_WORK:.0e}, about a minute; use fewer inputs or layers"
        )));
    }
    Ok(())
}

/// Estimated (bytes per draw, total floating-point work) of a Monte Carlo run: every draw samples
/// P parameters (counted as 20 operations each), runs forward and backward passes (≈ 4·P·N) and
/// forms 2L + 1 Gram matrices (≈ 2·width·N² each).
fn mc_cost(depth: usize, width: usize, seeds: usize, n: usize, n0: usize) -> (f64, f64) {
    let (l, w, s, n, n0) = (
        depth as f64,
        width as f64,
        seeds as f64,
        n as f64,
        n0 as f64,
    );
    let params = n0 * w + w + (l - 1.0) * (w * w + w) + w + 1.0;
    let bytes = 8.0 * (params + (2.0 * l + 1.0) * w * n);
    let per_draw = 20.0 * params + 4.0 * params * n + (2.0 * l + 1.0) * 2.0 * w * n * n;
    (bytes, s * per_draw)
}

fn monte_carlo(
    arch: &Architecture,
    inputs: &[Vec<f64>],
    k: &Kernels,
    width: usize,
    seeds: usize,
    base_seed: u64,
) -> Result<McComparison, CliError> {
    let n = inputs.len();
    let n0 = inputs[0].len();
    let (bytes, work) = mc_cost(arch.depth, width, seeds, n, n0);
    if bytes > MAX_BYTES_PER_DRAW || work > MAX_WORK {
        return Err(CliError::Usage(format!(
            "--mc {width} --seeds {seeds}: too large for one run (each network needs about {} \
             of memory, limit {}; estimated work {work:.1e}, limit {MAX_WORK:.0e}, about a minute \
             or two); use a smaller --mc WIDTH or fewer --seeds",
            mib(bytes),
            mib(MAX_BYTES_PER_DRAW),
        )));
    }
    let mc_err = |e: network::NetworkError| {
        let hint = match &e {
            network::NetworkError::EntryStats {
                source: stats::StatsError::ZeroStandardError { .. },
                ..
            } => {
                " (every random network gave the same value for this entry, e.g. for a zero \
                 input with σb = 0)"
            }
            _ => "",
        };
        CliError::Usage(format!("--mc: {e}{hint}"))
    };
    let x = DMatrix::from_fn(n, n0, |i, j| inputs[i][j]);
    let options = McOptions {
        level: MC_LEVEL,
        quantile: Quantile::StudentT,
        progress: std::io::stderr().is_terminal(),
    };
    let mc = network::empirical_kernels_with(arch, &x, width, seeds, base_seed, &options)
        .map_err(mc_err)?;
    let sigma = Agreement::new(&k.sigma, &mc.nngp_mean, &mc.nngp_half_width);
    let ntk = Agreement::new(&k.ntk, &mc.ntk_mean, &mc.ntk_half_width);
    Ok(McComparison {
        width,
        base_seed,
        mc,
        sigma,
        ntk,
    })
}

/// A byte count in MiB, in scientific notation when huge.
fn mib(bytes: f64) -> String {
    let m = bytes / (1024.0 * 1024.0);
    if m < 1e6 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1e} MiB")
    }
}

/// `0.95` as `95%`, `0.995833…` as `99.5833%`.
fn percent(p: f64) -> String {
    let s = format!("{:.4}", 100.0 * p);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// The header line of a Monte Carlo comparison.
fn mc_header(c: &McComparison) -> String {
    let n = c.mc.nngp_mean.nrows();
    format!(
        "Monte Carlo: {} random networks of width {} (seeds {}..={}); Student-t intervals, {} \
         simultaneous over the {} distinct entries of Σ̂ and Θ̂ together (Bonferroni: {} per entry)",
        c.mc.seeds,
        c.width,
        c.base_seed,
        c.base_seed.wrapping_add(c.mc.seeds as u64 - 1),
        percent(MC_LEVEL),
        n * (n + 1),
        percent(c.mc.level),
    )
}

/// The per-kernel summary lines and the bias note.
fn mc_summary(c: &McComparison) -> String {
    let line = |name: &str, sym: &str, a: &Agreement| {
        let (i, j, diff, hw) = a.worst;
        format!(
            "{name}: {}/{} entries within the {} simultaneous interval; worst |{sym} − {sym}̂| = \
             {diff:.3e} (half-width {hw:.3e}, {:.2}× the half-width) at [{i},{j}]\n",
            a.within,
            a.total,
            percent(MC_LEVEL),
            diff / hw,
        )
    };
    let mut s = mc_header(c);
    s.push('\n');
    s += &line("NNGP", "Σ", &c.sigma);
    s += &line("NTK", "Θ", &c.ntk);
    s += MC_BIAS_NOTE;
    s.push('\n');
    s
}

/// The output formats of `derive kernel` (see `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The matrices as text.
    Text,
    /// One line per entry.
    Csv,
    /// One JSON object.
    Json,
    /// NumPy .npy files, one per matrix.
    Npy,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Text => "text",
            Output::Csv => "csv",
            Output::Json => "json",
            Output::Npy => "npy",
        })
    }
}

/// Reads one input per non-empty line; errors name file, line and column.
fn read_inputs(path: &Path) -> Result<Vec<Vec<f64>>, CliError> {
    let name = path.display().to_string();
    let io = |e| CliError::Io {
        path: name.clone(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_KERNEL_FILE_BYTES as u64 {
        return Err(CliError::Usage(format!(
            "{name}: the file has {size} bytes, more than the budget MAX_KERNEL_FILE_BYTES = \
             {MAX_KERNEL_FILE_BYTES}"
        )));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_KERNEL_FILE_BYTES as u64),
        &mut text,
    )
    .map_err(io)?;
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
        if rows.len() == MAX_KERNEL_INPUTS {
            return Err(at(
                line_no,
                1,
                format!("more than {MAX_KERNEL_INPUTS} inputs (the budget MAX_KERNEL_INPUTS)"),
            ));
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

/// Writes the shortest decimal that reads back to the same f64 (zmij, a Ryu-style formatter).
fn put(w: &mut impl Write, buf: &mut zmij::Buffer, v: f64) -> std::io::Result<()> {
    w.write_all(buf.format(v).as_bytes())
}

/// Width of a column of numbers in the text output (the longest shortest form of an f64,
/// `-2.2250738585072014e-308`, has 24 characters).
const TEXT_COLUMN: usize = 24;

fn write_matrix(w: &mut impl Write, title: &str, m: &DMatrix<f64>) -> std::io::Result<()> {
    const SPACES: [u8; TEXT_COLUMN] = [b' '; TEXT_COLUMN];
    writeln!(w, "{title}")?;
    let mut buf = zmij::Buffer::new();
    let t = m.transpose();
    for row in t.as_slice().chunks(m.ncols().max(1)) {
        for (j, &v) in row.iter().enumerate() {
            if j > 0 {
                w.write_all(b" ")?;
            }
            let s = buf.format(v);
            w.write_all(&SPACES[..TEXT_COLUMN.saturating_sub(s.len())])?;
            w.write_all(s.as_bytes())?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn write_mc_matrix(
    w: &mut impl Write,
    title: &str,
    mean: &DMatrix<f64>,
    hw: &DMatrix<f64>,
) -> std::io::Result<()> {
    writeln!(w, "{title}")?;
    for i in 0..mean.nrows() {
        let row: Vec<String> = (0..mean.ncols())
            .map(|j| format!("{:>14.6e} ± {:>8.2e}", mean[(i, j)], hw[(i, j)]))
            .collect();
        writeln!(w, "{}", row.join("  "))?;
    }
    Ok(())
}

fn write_text(
    w: &mut impl Write,
    arch: &Architecture,
    k: &Kernels,
    n0: usize,
    mc: Option<&McComparison>,
) -> std::io::Result<()> {
    writeln!(
        w,
        "# derive kernel: act={} depth={} σw={} σb={} N={} n0={n0}; {CONVENTIONS}",
        arch.activation,
        arch.depth,
        arch.sigma_w,
        arch.sigma_b,
        k.sigma.nrows()
    )?;
    if let Some(c) = mc {
        writeln!(w, "{}", mc_header(c))?;
    }
    write_matrix(w, "Sigma (NNGP):", &k.sigma)?;
    if let Some(c) = mc {
        let title = format!(
            "Sigma_mc (NNGP, Monte Carlo mean ± half-width, width {}):",
            c.width
        );
        write_mc_matrix(w, &title, &c.mc.nngp_mean, &c.mc.nngp_half_width)?;
    }
    write_matrix(w, "Sigma_dot (derivative kernel):", &k.sigma_dot)?;
    write_matrix(w, "Theta (NTK):", &k.ntk)?;
    if let Some(c) = mc {
        let title = format!(
            "Theta_mc (NTK, Monte Carlo mean ± half-width, width {}):",
            c.width
        );
        write_mc_matrix(w, &title, &c.mc.ntk_mean, &c.mc.ntk_half_width)?;
        // The header was printed above; keep the summary lines and the note.
        for l in mc_summary(c).lines().skip(1) {
            writeln!(w, "{l}")?;
        }
    }
    Ok(())
}

/// One row per (i, j): the analytic kernels, then (with --mc) the Monte Carlo means and the
/// half-widths of their simultaneous intervals.
fn write_csv(w: &mut impl Write, k: &Kernels, mc: Option<&McComparison>) -> std::io::Result<()> {
    w.write_all(b"i,j,sigma,sigma_dot,ntk")?;
    if mc.is_some() {
        w.write_all(b",sigma_mc,sigma_mc_half_width,ntk_mc,ntk_mc_half_width")?;
    }
    w.write_all(b"\n")?;
    let mut buf = zmij::Buffer::new();
    let mut ints = itoa::Buffer::new();
    let n = k.sigma.nrows();
    for i in 0..n {
        let i_text = ints.format(i).to_owned();
        for j in 0..n {
            w.write_all(i_text.as_bytes())?;
            w.write_all(b",")?;
            w.write_all(ints.format(j).as_bytes())?;
            let mut cols = vec![k.sigma[(i, j)], k.sigma_dot[(i, j)], k.ntk[(i, j)]];
            if let Some(c) = mc {
                let m = &c.mc;
                cols.extend([
                    m.nngp_mean[(i, j)],
                    m.nngp_half_width[(i, j)],
                    m.ntk_mean[(i, j)],
                    m.ntk_half_width[(i, j)],
                ]);
            }
            for v in cols {
                w.write_all(b",")?;
                put(w, &mut buf, v)?;
            }
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// The .npy files of `--format npy` for `--out path` (see `--help`), with their matrices.
fn npy_files<'a>(
    path: &Path,
    k: &'a Kernels,
    mc: Option<&'a McComparison>,
) -> Vec<(PathBuf, &'a DMatrix<f64>)> {
    let stem = if path.extension().is_some_and(|e| e == "npy") {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let named = |suffix: &str| {
        let mut name = stem.clone().into_os_string();
        name.push(format!("_{suffix}.npy"));
        PathBuf::from(name)
    };
    let mut files = vec![
        (named("sigma"), &k.sigma),
        (named("sigma_dot"), &k.sigma_dot),
        (named("ntk"), &k.ntk),
    ];
    if let Some(c) = mc {
        files.extend([
            (named("sigma_mc"), &c.mc.nngp_mean),
            (named("sigma_mc_half_width"), &c.mc.nngp_half_width),
            (named("ntk_mc"), &c.mc.ntk_mean),
            (named("ntk_mc_half_width"), &c.mc.ntk_half_width),
        ]);
    }
    files
}

/// The header of an .npy file (format version 1.0) holding a C-order `<f8` array of `shape`:
/// magic, version, header length, and the dict padded with spaces to a multiple of 64 bytes.
pub fn npy_header(shape: (usize, usize)) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        shape.0, shape.1
    );
    // Magic (6) + version (2) + length (2) + dict + padding + '\n'.
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    let len = total - 10;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// Writes `m` as an .npy file: the header of [`npy_header`], then the entries row by row.
fn write_npy(path: &Path, m: &DMatrix<f64>) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(&npy_header(m.shape()))?;
    // C order: the column-major storage of the transpose.
    for v in m.transpose().as_slice() {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
}

fn to_json(arch: &Architecture, k: &Kernels, mc: Option<&McComparison>) -> String {
    let drows = |m: &DMatrix<f64>| {
        (0..m.nrows())
            .map(|i| m.row(i).iter().copied().collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let mut v = serde_json::json!({
        "conventions": CONVENTIONS,
        "act": arch.activation.to_string(),
        "depth": arch.depth,
        "sw": arch.sigma_w,
        "sb": arch.sigma_b,
        "sigma": drows(&k.sigma),
        "sigma_dot": drows(&k.sigma_dot),
        "ntk": drows(&k.ntk),
    });
    if let Some(c) = mc {
        let agreement = |a: &Agreement| {
            let (i, j, diff, hw) = a.worst;
            serde_json::json!({
                "within": a.within,
                "total": a.total,
                "worst": { "i": i, "j": j, "abs_diff": diff, "half_width": hw },
            })
        };
        v["monte_carlo"] = serde_json::json!({
            "width": c.width,
            "seeds": c.mc.seeds,
            "base_seed": c.base_seed,
            "family_level": MC_LEVEL,
            "per_entry_level": c.mc.level,
            "interval": "Student t, Bonferroni over the N(N+1) distinct entries of sigma and ntk",
            "sigma_mean": drows(&c.mc.nngp_mean),
            "sigma_half_width": drows(&c.mc.nngp_half_width),
            "ntk_mean": drows(&c.mc.ntk_mean),
            "ntk_half_width": drows(&c.mc.ntk_half_width),
            "sigma_agreement": agreement(&c.sigma),
            "ntk_agreement": agreement(&c.ntk),
            "note": MC_BIAS_NOTE.trim_start_matches("note: "),
        });
    }
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
