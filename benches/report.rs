//! `derive report` on notes 000 and 002 (`../shared/notes/`), as a user runs it: cold (the
//! result cache under target/derive-cache/ emptied first: every citing derivation is checked)
//! and cached (a second run: nothing changed, nothing re-checked). Medians of 3 runs each.
//!
//! Run: `cargo bench --bench report` (targets: cold ≤ 30 s, cached ≤ 1 s on 2 cores).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let notes = ["000_aeb21564a603e9d2.txt", "002_e07fa2555108a1ea.txt"]
        .map(|n| root.join("../shared/notes").join(n).display().to_string());
    if !Path::new(&notes[0]).is_file() {
        println!("the notes are not at hand (../shared/notes/): nothing measured");
        return;
    }
    let cache = root.join("target/derive-cache");
    let run = || {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_derive"))
            .arg("report")
            .args(&notes)
            .arg("--format")
            .arg("json")
            .current_dir(root)
            .output()
            .expect("run derive");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        t.elapsed().as_secs_f64()
    };
    let (mut cold, mut cached) = (vec![], vec![]);
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&cache);
        cold.push(run());
        cached.push(run());
    }
    println!(
        "derive report on notes 000 and 002: cold {:.2} s (target 30 s), cached {:.3} s (target 1 s); medians of 3",
        median(cold),
        median(cached)
    );
}
