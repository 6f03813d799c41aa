//! Finding derivation files: the `derivations/` folder, every file under it, a target given by
//! id or path, and loading a file from disk within the input budgets.

use std::path::{Path, PathBuf};

use super::error::InputError;
use super::file::{load, Derivation};
use crate::limits::MAX_FILE_BYTES;

/// Why a derivation file could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is larger than the input budget.
    #[error(
        "{path}: the file has {size} bytes, more than the budget MAX_FILE_BYTES = {MAX_FILE_BYTES}"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Its size (at least; it may have grown while it was read).
        size: u64,
    },
    /// The file is not UTF-8.
    #[error(
        "{path}:{line}:{col}: the file is not valid UTF-8 (byte 0x{byte:02x} at offset {offset})"
    )]
    NotUtf8 {
        /// The file.
        path: String,
        /// Line of the first bad byte, from 1.
        line: usize,
        /// Column (characters before it on its line, plus 1).
        col: usize,
        /// The byte.
        byte: u8,
        /// Its offset in the file.
        offset: usize,
    },
    /// The text is not a valid derivation.
    #[error(transparent)]
    Input(Box<InputError>),
    /// A target that looks like a path names no file.
    #[error("no such file: {0}")]
    NoSuchFile(String),
    /// A target that names something other than a regular file (a directory, a pipe, a device).
    #[error(
        "{path} is {what}, not a derivation file (give a .toml file, or --all for the folder)"
    )]
    NotAFile {
        /// The target.
        path: String,
        /// What it is.
        what: &'static str,
    },
    /// No derivation has this id.
    #[error("no derivation `{target}` (known: {})", known.join(", "))]
    UnknownId {
        /// The id asked for.
        target: String,
        /// The ids there are.
        known: Vec<String>,
    },
    /// Several files have this id.
    #[error("`{target}` is ambiguous: {}", found.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// The id asked for.
        target: String,
        /// The files that have it.
        found: Vec<PathBuf>,
    },
}

impl From<InputError> for LoadError {
    fn from(e: InputError) -> Self {
        LoadError::Input(Box::new(e))
    }
}

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

/// The folder of the notes' derivations (`derivations/notes/NNN/`), checked by `derive report`
/// and by `derive check --all --notes`.
pub const NOTES_DIR: &str = "notes";

/// The suite of `derive check --all`: every derivation file except the notes' (see
/// [`NOTES_DIR`]), unless `notes` is set.
pub fn suite_files(dir: &Path, notes: bool) -> Vec<PathBuf> {
    let skip = dir.join(NOTES_DIR);
    all_files(dir)
        .into_iter()
        .filter(|p| notes || !p.starts_with(&skip))
        .collect()
}

/// Load a file given its path. A file larger than [`MAX_FILE_BYTES`] is refused before it is
/// read; text that is not UTF-8 is an error at the line and column of its first bad byte.
pub fn load_path(path: &Path) -> Result<Derivation, LoadError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| LoadError::Io {
        path: name.clone(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    let too_large = |size| LoadError::TooLarge {
        path: name.clone(),
        size,
    };
    if size > MAX_FILE_BYTES as u64 {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    // Read one byte past the budget, in case the file grew since its size was taken.
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_FILE_BYTES as u64 + 1),
        &mut bytes,
    )
    .map_err(cannot)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let src =
        String::from_utf8(bytes).map_err(|e| not_utf8(&name, e.as_bytes(), e.utf8_error()))?;
    Ok(load(&name, &src)?)
}

/// The error for a file that is not UTF-8: file, line and column of the first bad byte (the
/// column counts the characters before it on its line, from 1).
fn not_utf8(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> LoadError {
    let good = &bytes[..e.valid_up_to()];
    let text = std::str::from_utf8(good).unwrap_or_default();
    LoadError::NotUtf8 {
        path: name.to_string(),
        line: text.matches('\n').count() + 1,
        col: text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
        byte: bytes.get(e.valid_up_to()).copied().unwrap_or(0),
        offset: e.valid_up_to(),
    }
}

/// Resolve a target: a path to a file, or the id (file stem) of a derivation in the folder.
pub fn resolve(target: &str) -> Result<PathBuf, LoadError> {
    let p = PathBuf::from(target);
    if p.is_file() {
        return Ok(p);
    }
    if let Ok(meta) = std::fs::metadata(&p) {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a pipe, a socket or a device)"
        };
        return Err(LoadError::NotAFile {
            path: target.to_string(),
            what,
        });
    }
    if target.ends_with(".toml") || target.contains('/') {
        return Err(LoadError::NoSuchFile(target.to_string()));
    }
    let dir = derivations_dir();
    let files = all_files(&dir);
    let found: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.file_stem().is_some_and(|s| s == target))
        .cloned()
        .collect();
    match found.len() {
        1 => Ok(found[0].clone()),
        0 => Err(LoadError::UnknownId {
            target: target.to_string(),
            known: files
                .iter()
                .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect(),
        }),
        _ => Err(LoadError::Ambiguous {
            target: target.to_string(),
            found,
        }),
    }
}
