//! Every derivation file is a named test whose rendered verdicts are pinned by an insta snapshot
//! in snapshots/. Files under derivations/should_fail/ must be rejected; their error text is
//! pinned too. With CI=true a changed or missing snapshot fails.

use derive::derivation::discover::all_files;
use derive::derivation::{check, load, render};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

fn relative(p: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Every citation's quote must stand verbatim in the note it cites, at the line it gives (when
/// the notes are at hand: `../shared/notes/` beside the repository).
fn check_quotes(d: &derive::Derivation) -> Result<(), Failed> {
    let notes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/notes");
    if !notes.is_dir() {
        return Ok(());
    }
    let cites = d
        .claims
        .iter()
        .flat_map(|c| c.cite.iter().chain(c.steps.iter().flat_map(|s| &s.cite)))
        .chain(d.unchecked.iter().map(|u| &u.cite));
    for c in cites {
        let text = std::fs::read_to_string(notes.join(&c.note))
            .map_err(|e| Failed::from(format!("cited note {}: {e}", c.note)))?;
        if !text.contains(c.quote.as_str()) {
            return Err(Failed::from(format!(
                "the quote is not verbatim in {}: {}",
                c.note, c.quote
            )));
        }
        if let Some(given) = c.line {
            // The line given is where an occurrence of the quote starts, or where the display
            // row holding it starts (the line the report shows).
            let starts = text
                .match_indices(c.quote.as_str())
                .any(|(at, _)| text[..at].matches('\n').count() + 1 == given);
            let in_row = derive::report::note::equations(text.as_bytes())
                .unwrap_or_default()
                .iter()
                .any(|e| e.line == given && derive::report::note::contains(&e.latex, &c.quote));
            if !starts && !in_row {
                return Err(Failed::from(format!(
                    "the quote does not stand at line {given} of {} (neither starts there nor in the display row there)",
                    c.note
                )));
            }
        }
    }
    Ok(())
}

fn derivation_trial(path: PathBuf) -> Trial {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    Trial::test(format!("derivation::{name}"), move || {
        let src = std::fs::read_to_string(&path).map_err(|e| Failed::from(e.to_string()))?;
        let d = load(&relative(&path), &src).map_err(|e| Failed::from(e.render()))?;
        check_quotes(&d)?;
        let report = check(&d);
        let text = render(&d, &report, false);
        snapshot(&name, &text);
        if !report.as_expected() {
            return Err(Failed::from(format!(
                "verdicts not as the file expects:\n{text}"
            )));
        }
        Ok(())
    })
}

fn should_fail_trial(path: PathBuf) -> Trial {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    Trial::test(format!("should_fail::{name}"), move || {
        let src = std::fs::read_to_string(&path).map_err(|e| Failed::from(e.to_string()))?;
        match load(&relative(&path), &src) {
            Ok(_) => Err(Failed::from("a malformed file was accepted")),
            Err(e) => {
                snapshot(&format!("should_fail__{name}"), &e.render());
                Ok(())
            }
        }
    })
}

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let mut trials: Vec<Trial> = all_files(&root).into_iter().map(derivation_trial).collect();
    let mut bad: Vec<PathBuf> = std::fs::read_dir(root.join("should_fail"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    bad.sort();
    trials.extend(bad.into_iter().map(should_fail_trial));
    libtest_mimic::run(&args, trials).exit();
}
