//! `derive report` on the notes 000 and 002 (`../shared/notes/` beside the repository): the JSON
//! report of both is pinned by an insta snapshot (a changed verdict fails), and the HTML report
//! is opened in headless Chromium, which must render every equation as MathML with a verdict
//! badge and log nothing; a screenshot is saved as target/report-screenshot.png.
//!
//! Without the notes, or without Chromium, the trial is reported as ignored with the reason in
//! its name (never passed). `.ci/run` installs Chromium and sets DERIVE_REQUIRE_BROWSER=1, so on
//! CI a missing browser fails.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const NOTES: [&str; 2] = ["000_aeb21564a603e9d2.txt", "002_e07fa2555108a1ea.txt"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn notes() -> Option<Vec<String>> {
    let dir = root().join("../shared/notes");
    let paths: Vec<PathBuf> = NOTES.iter().map(|n| dir.join(n)).collect();
    paths
        .iter()
        .all(|p| p.is_file())
        .then(|| paths.iter().map(|p| p.display().to_string()).collect())
}

/// One report run at a time: the first fills the cache the others read.
static RUN: Mutex<()> = Mutex::new(());

fn report(format: &str) -> Result<Vec<u8>, Failed> {
    let _one = RUN.lock().unwrap_or_else(|e| e.into_inner());
    let notes = notes().ok_or("the notes are not at hand")?;
    let mut args = vec!["report".to_string()];
    args.extend(notes);
    args.extend(["--format".into(), format.into()]);
    let o = Command::new(env!("CARGO_BIN_EXE_derive"))
        .args(&args)
        .current_dir(root())
        .output()
        .map_err(|e| format!("run derive: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "derive report failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok(o.stdout)
}

fn json_snapshot() -> Result<(), Failed> {
    let out = report("json")?;
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| format!("not JSON: {e}"))?;
    for n in v["notes"].as_array().ok_or("no notes")? {
        if n["counts"]["not-encoded"] != 0 {
            return Err(format!("{}: equations not encoded", n["note"]).into());
        }
        for e in n["equations"].as_array().ok_or("no equations")? {
            // Every failure carries a counterexample and a reason; every not-checkable a reason.
            match e["verdict"].as_str() {
                Some("fails")
                    if !e["counterexample"]["lhs"].is_number()
                        || !e["counterexample"]["rhs"].is_number()
                        || e["reason"].is_null() =>
                {
                    return Err(format!(
                        "line {} fails without a counterexample (both values) or a reason",
                        e["line"]
                    )
                    .into())
                }
                Some("not-checkable") if e["reason"].is_null() => {
                    return Err(format!("line {} not checkable without a reason", e["line"]).into())
                }
                Some("holds-with-convention") if e["convention"].is_null() => {
                    return Err(format!("line {} without its convention", e["line"]).into())
                }
                _ => {}
            }
        }
    }
    let text = String::from_utf8(out).map_err(|e| e.to_string())?;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("report_notes_000_002_json", text));
    Ok(())
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn browser(chromium: &Path) -> Result<(), Failed> {
    let html = report("html")?;
    let dir = root().join("target");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let page = dir.join("report-test.html");
    std::fs::write(&page, &html).map_err(|e| e.to_string())?;
    let url = format!("file://{}", page.display());
    let profile = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("derive-chromium-{}", std::process::id()));
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let run = |extra: &[String]| -> Result<std::process::Output, Failed> {
        Command::new(chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .map_err(|e| format!("run {}: {e}", chromium.display()).into())
    };
    let dom = run(&["--dump-dom".into()])?;
    if !dom.status.success() {
        return Err(format!("chromium failed: {}", String::from_utf8_lossy(&dom.stderr)).into());
    }
    // The page logs nothing: it has no script, so any console message is an error (a resource
    // it tried to load, a parse failure).
    let log = String::from_utf8_lossy(&dom.stderr);
    if let Some(line) = log
        .lines()
        .find(|l| l.contains(":CONSOLE") || l.contains("Failed to load resource"))
    {
        return Err(format!("the page logged: {line}").into());
    }
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let equations = dom.matches("<details class=\"eq").count();
    let json: serde_json::Value =
        serde_json::from_slice(&report("json")?).map_err(|e| e.to_string())?;
    let expected: usize = json["notes"]
        .as_array()
        .ok_or("no notes")?
        .iter()
        .map(|n| n["equations"].as_array().map_or(0, Vec::len))
        .sum();
    if equations != expected || equations == 0 {
        return Err(format!("{equations} equations in the page, {expected} in the report").into());
    }
    // Every equation: a verdict badge and MathML, nothing left as LaTeX.
    for (k, eq) in dom.split("<details class=\"eq").skip(1).enumerate() {
        let eq = eq.split("</details>").next().unwrap_or_default();
        if !eq.contains("<span class=\"badge\">") {
            return Err(format!("equation {k} has no verdict badge").into());
        }
        if !eq.contains("<math") || eq.contains("<merror") || eq.contains("could not be rendered") {
            return Err(format!("equation {k} is not rendered as MathML").into());
        }
        let summary = eq.split("</summary>").next().unwrap_or_default();
        // The summary's visible text: without the annotation (the LaTeX kept for copying) and
        // without tags and attribute values.
        let visible = strip_annotations_and_tags(summary);
        if let Some(at) = visible.find('\\') {
            return Err(format!(
                "equation {k} shows LaTeX source: {}",
                &visible[at..visible.len().min(at + 40)]
            )
            .into());
        }
    }
    let shot = dir.join("report-screenshot.png");
    let o = run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2400".into(),
    ])?;
    let _ = std::fs::remove_dir_all(&profile);
    if !o.status.success() || !shot.is_file() {
        return Err("no screenshot".into());
    }
    Ok(())
}

fn strip_annotations_and_tags(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<annotation") {
        out.push_str(&rest[..i]);
        rest = rest[i..]
            .find("</annotation>")
            .map_or("", |j| &rest[i + j + "</annotation>".len()..]);
    }
    out.push_str(rest);
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// 28 display rows on one note line get 28 distinct labels in the text report: `3`, `3b` …
/// `3z`, `3r27`, `3r28` (rows 26, 27 and 28 were all `3z`).
fn rows_on_one_line_have_distinct_labels() -> Result<(), Failed> {
    let rows: Vec<String> = (1..=28).map(|k| format!("x_{{{k}}} = {k}")).collect();
    let note = format!("Many rows.\n\n$$ {} $$\n", rows.join(" \\\\ "));
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("derive-many-rows-{}.txt", std::process::id()));
    std::fs::write(&path, note)?;
    let o = Command::new(env!("CARGO_BIN_EXE_derive"))
        .arg("report")
        .arg(&path)
        .current_dir(root())
        .output();
    let _ = std::fs::remove_file(&path);
    let o = o?;
    let out = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        return Err(format!(
            "derive report failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    let labels: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("line "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let distinct: std::collections::HashSet<&&str> = labels.iter().collect();
    if labels.len() != 28 || distinct.len() != 28 {
        return Err(format!(
            "{} rows, {} distinct labels: {labels:?}",
            labels.len(),
            distinct.len()
        )
        .into());
    }
    if labels[..2] != ["3", "3b"] || labels[24..] != ["3y", "3z", "3r27", "3r28"] {
        return Err(format!("labels {labels:?}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test(
        "report::rows_on_one_line_have_distinct_labels",
        rows_on_one_line_have_distinct_labels,
    )];
    match notes() {
        Some(_) => trials.push(Trial::test("report::notes_000_002_json", json_snapshot)),
        None => trials.push(
            Trial::test(
                "report::notes_000_002_json (NOT RUN: ../shared/notes/ is not beside the repository)",
                || Ok(()),
            )
            .with_ignored_flag(true),
        ),
    }
    let required = std::env::var_os("DERIVE_REQUIRE_BROWSER").is_some();
    match (chromium(), notes()) {
        (Some(c), Some(_)) => trials.push(Trial::test("report::html_in_chromium", move || browser(&c))),
        (None, _) if required => trials.push(Trial::test("report::html_in_chromium", || {
            Err("DERIVE_REQUIRE_BROWSER is set but Chromium is not installed (apt-get install chromium, or set CHROMIUM=path)".into())
        })),
        (None, _) => trials.push(
            Trial::test(
                "report::html_in_chromium (NOT RUN: Chromium is not installed; apt-get install chromium)",
                || Ok(()),
            )
            .with_ignored_flag(true),
        ),
        (Some(_), None) => trials.push(
            Trial::test(
                "report::html_in_chromium (NOT RUN: ../shared/notes/ is not beside the repository)",
                || Ok(()),
            )
            .with_ignored_flag(true),
        ),
    }
    libtest_mimic::run(&args, trials).exit();
}
