//! The report's result cache: the link summaries of a derivation, stored under
//! `target/derive-cache/` and keyed by the derivation file's path and content and by the build
//! of the tool (its version and its executable's size and modification time), so a changed
//! claim or a rebuilt checker is always checked afresh. A cache entry that cannot be read is a
//! miss; one that cannot be written is skipped (the report is the same, only slower next time).

use super::summary::LinkSummary;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The cache folder and the identity of this build.
pub struct Cache {
    dir: PathBuf,
    tool: String,
}

impl Cache {
    /// The cache under `root/target/derive-cache`.
    pub fn open(root: &Path) -> Cache {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| {
                let modified = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}-{modified}", m.len())
            })
            .unwrap_or_default();
        Cache {
            dir: root.join("target").join("derive-cache"),
            tool: format!("{}-{exe}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn path(&self, file: &str, src: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.tool, file, src).hash(&mut h);
        self.dir.join(format!("{:016x}.json", h.finish()))
    }

    /// The summaries stored for this file and content, if any.
    pub fn get(&self, file: &str, src: &str) -> Option<Vec<LinkSummary>> {
        let bytes = std::fs::read(self.path(file, src)).ok()?;
        let (tool, f, content, summaries): (String, String, String, Vec<LinkSummary>) =
            serde_json::from_slice(&bytes).ok()?;
        // A hash collision would otherwise return another file's results.
        (tool == self.tool && f == file && content == src).then_some(summaries)
    }

    /// Store the summaries (best effort).
    pub fn put(&self, file: &str, src: &str, summaries: &[LinkSummary]) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        if let Ok(json) = serde_json::to_vec(&(&self.tool, file, src, summaries)) {
            let path = self.path(file, src);
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(tmp, path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derivation::Verdict;

    fn summary() -> Vec<LinkSummary> {
        vec![LinkSummary {
            claim: 1,
            step: 2,
            verdict: Verdict::Refuted,
            convention: None,
            holds_under: false,
            diagnosis: Some("off by a constant factor".into()),
            counterexample: Some(super::super::Counterexample {
                at: "x=0.1".into(),
                lhs: Some(0.1 + 0.2),
                rhs: Some(1.0 / 3.0),
            }),
            rules: vec![],
            study: None,
        }]
    }

    #[test]
    fn a_changed_file_or_tool_misses_and_values_round_trip() {
        let root = std::env::temp_dir().join(format!("derive-cache-test-{}", std::process::id()));
        let cache = Cache::open(&root);
        cache.put("a.toml", "x = 1", &summary());
        // Bit for bit: a cached report reads the same as a fresh one.
        assert_eq!(cache.get("a.toml", "x = 1"), Some(summary()));
        assert_eq!(cache.get("a.toml", "x = 2"), None);
        assert_eq!(cache.get("b.toml", "x = 1"), None);
        let other = Cache {
            tool: "another build".into(),
            ..Cache::open(&root)
        };
        assert_eq!(other.get("a.toml", "x = 1"), None);
        let _ = std::fs::remove_dir_all(root);
    }
}
