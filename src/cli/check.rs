//! `derive check` and `derive list`: find derivation files, check them, print the verdicts.

use crate::derivation::Verdict;
use std::path::{Path, PathBuf};

use super::CliError;
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

/// Load a file given its path.
pub fn load_path(path: &Path) -> Result<Derivation, CliError> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("error: cannot read {}: {e}", path.display())))?;
    Ok(load(&path.display().to_string(), &src)?)
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
            println!();
        }
        print!("{}", render(&d, &report, timings));
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
        println!();
        println!(
            "checked {} derivations ({} links: {}) in {:.2} s: {}",
            files.len(),
            counts.iter().map(|(_, n)| n).sum::<usize>(),
            links.join(", "),
            start.elapsed().as_secs_f64(),
            if ok {
                "all as expected"
            } else {
                "SOME NOT AS EXPECTED"
            }
        );
    }
    Ok(ok)
}

/// `derive list`: id, link count and title of every derivation.
pub fn run_list() -> Result<(), CliError> {
    for f in all_files(&derivations_dir()) {
        let d = load_path(&f)?;
        println!("{:<24} {:>2} links  {}", d.id, d.chain.len() - 1, d.title);
    }
    Ok(())
}
