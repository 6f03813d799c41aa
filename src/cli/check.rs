//! `derive check` and `derive list`: find derivation files, check them, print the verdicts.

use crate::derivation::Verdict;
use crate::limits::MAX_FILE_BYTES;
use std::path::{Path, PathBuf};

use super::{out, CliError};
use crate::derivation::{check, load, render, Derivation};

/// The derivations folder: `./derivations` if present, else the one this binary was built from.
pub fn derivations_dir() -> PathBuf {
    let local = PathBuf::from("derivations");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations")
    }
}

/// Every derivation file under `dir` (sorted), excluding the `should_fail/` folder of malformed
/// files kept for the error tests.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "should_fail") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Load a file given its path. A file larger than [`MAX_FILE_BYTES`] is refused before it is
/// read; text that is not UTF-8 is an error at the line and column of its first bad byte.
pub fn load_path(path: &Path) -> Result<Derivation, CliError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| CliError::Input(format!("error: cannot read {name}: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > MAX_FILE_BYTES as u64 {
        return Err(CliError::Input(format!(
            "error: {name}: the file has {size} bytes, more than the budget MAX_FILE_BYTES = {MAX_FILE_BYTES}"
        )));
    }
    let mut bytes = Vec::new();
    // Read one byte past the budget, in case the file grew since its size was taken.
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_FILE_BYTES as u64 + 1),
        &mut bytes,
    )
    .map_err(cannot)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(CliError::Input(format!(
            "error: {name}: the file has more than the budget MAX_FILE_BYTES = {MAX_FILE_BYTES} bytes"
        )));
    }
    let src =
        String::from_utf8(bytes).map_err(|e| not_utf8(&name, e.as_bytes(), e.utf8_error()))?;
    Ok(load(&name, &src)?)
}

/// The error for a file that is not UTF-8: file, line and column of the first bad byte (the
/// column counts the characters before it on its line, from 1).
fn not_utf8(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> CliError {
    let good = &bytes[..e.valid_up_to()];
    let text = std::str::from_utf8(good).unwrap_or_default();
    let line = text.matches('\n').count() + 1;
    let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let bad = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
    CliError::Input(format!(
        "error: {name}:{line}:{col}: the file is not valid UTF-8 (byte 0x{bad:02x} at offset {})",
        e.valid_up_to()
    ))
}

/// Resolve a target: a path to a file, or the id (file stem) of a derivation in the folder.
pub fn resolve(target: &str) -> Result<PathBuf, CliError> {
    let p = PathBuf::from(target);
    if p.is_file() {
        return Ok(p);
    }
    if target.ends_with(".toml") || target.contains('/') {
        return Err(CliError::Input(format!("error: no such file: {target}")));
    }
    let dir = derivations_dir();
    let found: Vec<PathBuf> = all_files(&dir)
        .into_iter()
        .filter(|f| f.file_stem().is_some_and(|s| s == target))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            let known: Vec<String> = all_files(&dir)
                .iter()
                .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect();
            Err(CliError::Input(format!(
                "error: no derivation `{target}` (known: {})",
                known.join(", ")
            )))
        }
        _ => Err(CliError::Input(format!(
            "error: `{target}` is ambiguous: {}",
            found
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Check the targets (or all); returns whether every verdict was as expected.
pub fn run_check(targets: &[String], all: bool, timings: bool) -> Result<bool, CliError> {
    let files: Vec<PathBuf> = if all || targets.is_empty() {
        all_files(&derivations_dir())
    } else {
        targets
            .iter()
            .map(|t| resolve(t))
            .collect::<Result<_, _>>()?
    };
    if files.is_empty() {
        return Err(CliError::Input("error: no derivation files found".into()));
    }
    let mut ok = true;
    let start = std::time::Instant::now();
    let mut counts: Vec<(Verdict, usize)> = vec![];
    for (i, f) in files.iter().enumerate() {
        let d = load_path(f)?;
        let report = check(&d)?;
        if i > 0 {
            out("\n")?;
        }
        out(&render(&d, &report, timings))?;
        ok &= report.as_expected();
        for l in &report.links {
            match counts.iter_mut().find(|(v, _)| *v == l.verdict) {
                Some((_, n)) => *n += 1,
                None => counts.push((l.verdict, 1)),
            }
        }
    }
    if files.len() > 1 {
        let links: Vec<String> = counts.iter().map(|(v, n)| format!("{n} {v}")).collect();
        out(&format!(
            "\nchecked {} derivations ({} links: {}) in {:.2} s: {}\n",
            files.len(),
            counts.iter().map(|(_, n)| n).sum::<usize>(),
            links.join(", "),
            start.elapsed().as_secs_f64(),
            if ok {
                "all as expected"
            } else {
                "SOME NOT AS EXPECTED"
            }
        ))?;
    }
    Ok(ok)
}

/// `derive list`: id, link count and title of every derivation.
pub fn run_list() -> Result<(), CliError> {
    for f in all_files(&derivations_dir()) {
        let d = load_path(&f)?;
        out(&format!(
            "{:<24} {:>2} links  {}\n",
            d.id,
            d.chain.len() - 1,
            d.title
        ))?;
    }
    Ok(())
}
