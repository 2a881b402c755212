//! Writing generated files: atomically, and compared with what is on disk for the
//! `--check` modes (a unified diff, as `cargo fmt --check` shows one).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Write through a temporary file in the same directory, then rename: readers see
/// the old lock or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    // A temporary file is private (0600); the file it replaces keeps its mode, a new
    // one gets the usual 0644 (a build context copies modes into images).
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    tmp.as_file()
        .set_permissions(mode)
        .with_context(|| format!("cannot set the mode of `{}`", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(())
}

/// `path` relative to `base` when it lies below a common ancestor, with `/` separators.
pub fn relative_path(path: &Path, base: &Path) -> String {
    let path = normalize(path);
    let base = normalize(base);
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = base.components().count() - common;
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups).collect();
    parts.extend(
        path.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub fn display_path(path: &Path, cwd: &Path) -> String {
    relative_path(path, cwd)
}

/// A unified diff from the file at `path` (missing: empty) to `fresh`, or `None` when
/// they are equal. `label` names the file in the diff header.
pub fn stale_diff(path: &Path, fresh: &str, label: &str) -> Option<String> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == fresh {
        return None;
    }
    let diff = similar::TextDiff::from_lines(current.as_str(), fresh);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(label, &format!("{label} (fresh)"))
            .to_string(),
    )
}
