//! Writing generated files: atomically, and compared with what is on disk for the
//! `--check` modes (a unified diff, as `cargo fmt --check` shows one).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Write `bytes` to `path`, which is left as the kind of file it is:
///
/// - a regular file (or nothing yet) is replaced atomically: written to a temporary
///   file in the same directory, then renamed over it, so readers see the old file or
///   the new one, never half of one, and a failed write leaves both untouched;
/// - a symbolic link stays a link: its target (followed to the end of the chain) is
///   replaced that way, and created if the link dangles;
/// - a device or a FIFO (`-o /dev/stdout`, `-o /dev/null`) is opened and written to,
///   as a shell's `>` would: renaming over it would replace the device node with a
///   regular file;
/// - a directory is an error.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    match destination(path)? {
        Destination::Directory => {
            anyhow::bail!("cannot write `{}`: it is a directory", path.display())
        }
        Destination::InPlace => {
            // Appending: through `/dev/stdout` into a shell's `>> file`, the file's
            // content stays; a pipe, a FIFO or a device does not mind.
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open `{}`", path.display()))?;
            std::io::Write::write_all(&mut file, bytes)
                .and_then(|()| std::io::Write::flush(&mut file))
                .with_context(|| format!("cannot write `{}`", path.display()))
        }
        Destination::File(target) => replace_file(&target, bytes),
    }
}

/// Whether `path` is written in place rather than replaced (see [`write_atomically`]):
/// a device, a FIFO, or a process's open file (`/dev/stdout`). Such a path is never
/// read as an earlier output: reading a pipe would wait for ever.
pub fn writes_in_place(path: &Path) -> bool {
    matches!(destination(path), Ok(Destination::InPlace))
}

enum Destination {
    /// A regular file, or nothing yet: replaced through a temporary file.
    File(PathBuf),
    /// A device, a FIFO, or an open file of a process: written to.
    InPlace,
    Directory,
}

fn destination(path: &Path) -> anyhow::Result<Destination> {
    let Some(target) = resolve_links(path)? else {
        return Ok(Destination::InPlace);
    };
    Ok(match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => Destination::Directory,
        Ok(meta) if !meta.is_file() => Destination::InPlace,
        _ => Destination::File(target),
    })
}

/// A link into a process's table of open files (`/dev/stdout` -> `/proc/self/fd/1`):
/// it names whatever that process opened, a pipe or a file a shell opened for `>>`,
/// which must be written to, not replaced.
fn is_open_file_alias(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.starts_with("/dev/fd/")
        || (text.starts_with("/proc/") && text.split('/').nth(3) == Some("fd"))
}

/// `path` with every symbolic link along the chain at its end followed (a link's
/// relative target read from the link's directory), up to the first path that is not
/// a link, which may not exist; `None` when the chain passes through a process's open
/// files ([`is_open_file_alias`]).
fn resolve_links(path: &Path) -> anyhow::Result<Option<PathBuf>> {
    // Linux's own limit on links followed in one lookup.
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        if is_open_file_alias(&current) {
            return Ok(None);
        }
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)
                    .with_context(|| format!("cannot read the link `{}`", current.display()))?;
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(Some(current)),
        }
    }
    anyhow::bail!(
        "cannot write `{}`: more than {MAX_LINKS} symbolic links to follow",
        path.display()
    )
}

/// Replace the regular file `path` (or create it) through a temporary file in the
/// same directory, renamed over it. On any failure the temporary file is removed.
fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Some(file) = dir.ancestors().find(|dir| dir.is_file()) {
        anyhow::bail!(
            "cannot write `{}`: `{}` is a file, not a directory",
            path.display(),
            file.display()
        );
    }
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
    // `persist`'s error carries the temporary file back: dropping it removes it.
    tmp.persist(path)
        .map_err(|error| error.error)
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
    let current = match writes_in_place(path) {
        true => String::new(),
        false => crate::input::text::read_text(path).unwrap_or_default(),
    };
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, symlink};

    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_regular_file_is_replaced_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"new file\n").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, b"second\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/sbom.json");
        std::fs::write(&target, b"old").unwrap();
        // A relative link, through a second link.
        symlink("real/sbom.json", dir.path().join("first")).unwrap();
        symlink("first", dir.path().join("link")).unwrap();
        let link = dir.path().join("link");
        write_atomically(&link, b"new").unwrap();
        for path in [&link, &dir.path().join("first")] {
            assert!(
                std::fs::symlink_metadata(path)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("first"));
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["first", "link", "real"]);
        assert_eq!(names(&dir.path().join("real")), ["sbom.json"]);
    }

    #[test]
    fn a_dangling_symlink_gets_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        symlink(dir.path().join("made/here.txt"), &link).unwrap();
        write_atomically(&link, b"made").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read(dir.path().join("made/here.txt")).unwrap(),
            b"made"
        );
        // A loop of links is an error, not a hang.
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let error = write_atomically(&dir.path().join("a"), b"x").unwrap_err();
        assert!(
            format!("{error:#}").contains("more than 40 symbolic links"),
            "{error:#}"
        );
    }

    #[test]
    fn a_device_is_written_through_not_replaced() {
        let null = Path::new("/dev/null");
        write_atomically(null, b"discarded").unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // A link to a device writes to the device.
        let dir = tempfile::tempdir().unwrap();
        symlink(null, dir.path().join("null")).unwrap();
        write_atomically(&dir.path().join("null"), b"discarded").unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // A device that refuses the write is an error.
        let error = write_atomically(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(format!("{error:#}").starts_with("cannot write `/dev/full`: "));
        assert!(
            std::fs::metadata("/dev/full")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn a_fifo_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(names(dir.path()), ["fifo"]);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory is refused before anything is written.
        let error = write_atomically(dir.path(), b"x").unwrap_err();
        assert!(format!("{error:#}").ends_with("it is a directory"));
        // A file where a directory should be.
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let error = write_atomically(&dir.path().join("file/out.txt"), b"x").unwrap_err();
        assert!(
            format!("{error:#}").ends_with("/file` is a file, not a directory"),
            "{error:#}"
        );
        std::fs::remove_file(dir.path().join("file")).unwrap();
        // The rename itself fails (over a directory that is not empty): the
        // temporary file written next to it is removed.
        let busy = dir.path().join("busy");
        std::fs::create_dir(&busy).unwrap();
        std::fs::write(busy.join("inside"), b"").unwrap();
        let error = replace_file(&busy, b"x").unwrap_err();
        let message = format!("{error:#}");
        assert!(message.starts_with("cannot replace `"), "{message}");
        // The OS's words once, not twice (tempfile's error repeats its cause).
        assert_eq!(message.matches("(os error").count(), 1, "{message}");
        assert_eq!(names(dir.path()), ["busy"]);
    }
}
