//! Unpacking sdists and wheels from untrusted indexes: every entry stays inside the
//! destination (no absolute paths, no `..`, no links that leave it), and the whole is
//! bounded in size and entry count.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The most an archive may unpack to, and the most entries it may hold.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: usize = 200_000;

/// Where an entry named `name` goes under `dest`, or `None` when it would leave it.
fn inside(dest: &Path, name: &Path) -> Option<PathBuf> {
    let mut path = dest.to_path_buf();
    let mut depth = 0usize;
    for component in name.components() {
        match component {
            Component::Normal(part) => {
                path.push(part);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (depth > 0).then_some(path)
}

/// Whether a symlink at `entry` (relative to the archive root) pointing to `target`
/// stays inside the archive.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = entry.components().count() as isize - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Counts bytes and entries against the limits, across the threads of one archive.
struct Budget {
    bytes: AtomicU64,
    entries: AtomicUsize,
}

impl Budget {
    fn new() -> Self {
        Self {
            bytes: AtomicU64::new(0),
            entries: AtomicUsize::new(0),
        }
    }

    fn entry(&self) -> Result<(), String> {
        if self.entries.fetch_add(1, Ordering::Relaxed) >= MAX_ENTRIES {
            return Err(format!("it has more than {MAX_ENTRIES} entries"));
        }
        Ok(())
    }

    /// Copies `reader` to a new file at `path`, counting its bytes.
    fn copy(&self, reader: &mut dyn Read, path: &Path) -> Result<(), String> {
        let left = MAX_UNPACKED_BYTES.saturating_sub(self.bytes.load(Ordering::Relaxed));
        let mut file = fs::File::create(path)
            .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        let written = io::copy(&mut reader.take(left + 1), &mut file)
            .map_err(|err| format!("cannot write `{}`: {err}", path.display()))?;
        if self.bytes.fetch_add(written, Ordering::Relaxed) + written > MAX_UNPACKED_BYTES {
            return Err(format!(
                "it unpacks to more than {} GiB",
                MAX_UNPACKED_BYTES >> 30
            ));
        }
        Ok(())
    }
}

fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create `{}`: {err}", parent.display())),
        None => Ok(()),
    }
}

/// Unpacks a `.tar.gz`/`.tgz` archive into `dest`. Regular files, directories and
/// symlinks that stay inside are kept; other entry kinds (devices, hard links to
/// outside) are refused.
pub fn tar_gz(archive: &Path, dest: &Path) -> Result<(), String> {
    let file = fs::File::open(archive).map_err(|err| format!("cannot open it: {err}"))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    let budget = Budget::new();
    let entries = tar
        .entries()
        .map_err(|err| format!("it is not a tar archive: {err}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|err| format!("it is not a valid tar.gz: {err}"))?;
        budget.entry()?;
        let name = entry
            .path()
            .map_err(|err| format!("an entry has an unreadable name: {err}"))?
            .into_owned();
        let Some(path) = inside(dest, &name) else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                name.display()
            ));
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            create_parent(&path)?;
            budget.copy(&mut entry, &path)?;
            let mode = entry.header().mode().unwrap_or(0o644);
            set_mode(&path, mode)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            if !link_stays_inside(&name, &target) {
                return Err(format!(
                    "its link `{}` -> `{}` points outside the archive",
                    name.display(),
                    target.display()
                ));
            }
            create_parent(&path)?;
            std::os::unix::fs::symlink(&target, &path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            // Handled by the tar reader.
        } else {
            return Err(format!(
                "its entry `{}` is a {kind:?}, which an sdist has no use for",
                name.display()
            ));
        }
    }
    Ok(())
}

/// An archive larger than this is unpacked by several threads (torch's wheel alone
/// takes seconds on one).
const PARALLEL_UNZIP_BYTES: u64 = 64 << 20;
const UNZIP_THREADS: usize = 4;

/// What [`zip`] maps entry names with: `None` skips the entry.
pub type Rename<'a> = &'a (dyn Fn(&Path) -> Option<PathBuf> + Sync);

/// Unpacks a zip archive (an sdist `.zip` or a wheel) into `dest`; `rename` maps an
/// entry's name to where it goes under `dest` (`None` skips the entry). A large one is
/// unpacked by several threads, each taking every n-th entry.
pub fn zip(archive: &Path, dest: &Path, rename: Rename<'_>) -> Result<(), String> {
    let size = fs::metadata(archive)
        .map_err(|err| format!("cannot open it: {err}"))?
        .len();
    let threads = if size > PARALLEL_UNZIP_BYTES {
        UNZIP_THREADS
    } else {
        1
    };
    let budget = Budget::new();
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for part in 0..threads {
            let (budget, failure) = (&budget, &failure);
            scope.spawn(move || {
                if let Err(why) = zip_part(archive, dest, rename, budget, (part, threads)) {
                    failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(why);
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The entries `part` (of `parts`) of the zip: those whose index is `part` modulo `parts`.
fn zip_part(
    archive: &Path,
    dest: &Path,
    rename: Rename<'_>,
    budget: &Budget,
    (part, parts): (usize, usize),
) -> Result<(), String> {
    let file = fs::File::open(archive).map_err(|err| format!("cannot open it: {err}"))?;
    let mut zip = ::zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|err| format!("it is not a valid zip archive: {err}"))?;
    for i in (part..zip.len()).step_by(parts) {
        budget.entry()?;
        let mut entry = zip
            .by_index(i)
            .map_err(|err| format!("it is not a valid zip archive: {err}"))?;
        let raw = PathBuf::from(String::from_utf8_lossy(entry.name_raw()).into_owned());
        let Some(name) = entry.enclosed_name() else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                raw.display()
            ));
        };
        let Some(relative) = rename(&name) else {
            continue;
        };
        let Some(path) = inside(dest, &relative) else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                raw.display()
            ));
        };
        if entry.is_dir() {
            fs::create_dir_all(&path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
            continue;
        }
        if entry.is_symlink() {
            return Err(format!(
                "its entry `{}` is a symbolic link, which dockgen does not unpack from a zip",
                raw.display()
            ));
        }
        create_parent(&path)?;
        let mode = entry.unix_mode();
        budget.copy(&mut entry, &path)?;
        if let Some(mode) = mode {
            set_mode(&path, mode)?;
        }
    }
    Ok(())
}

/// Keeps the permission bits that matter (executable or not), never setuid/setgid.
fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|err| format!("cannot set the mode of `{}`: {err}", path.display()))
}

/// The one top-level directory of an unpacked sdist (`name-version/`).
pub fn top_dir(dest: &Path) -> Result<PathBuf, String> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dest).map_err(|err| format!("cannot read it back: {err}"))? {
        let entry = entry.map_err(|err| format!("cannot read it back: {err}"))?;
        dirs.push(entry.path());
    }
    match dirs.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Err(format!(
            "it should hold one top-level directory, but it holds {} entries",
            dirs.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_that_leave_the_destination_are_refused() {
        let dest = Path::new("/tmp/x");
        assert_eq!(
            inside(dest, Path::new("a/b")),
            Some(PathBuf::from("/tmp/x/a/b"))
        );
        assert_eq!(
            inside(dest, Path::new("./a")),
            Some(PathBuf::from("/tmp/x/a"))
        );
        assert_eq!(inside(dest, Path::new("a/../../b")), None);
        assert_eq!(inside(dest, Path::new("/etc/passwd")), None);
        assert_eq!(inside(dest, Path::new(".")), None);
    }

    #[test]
    fn links_may_point_within_the_archive_only() {
        assert!(link_stays_inside(
            Path::new("p-1/a/link"),
            Path::new("../b")
        ));
        assert!(link_stays_inside(
            Path::new("p-1/link"),
            Path::new("sub/file")
        ));
        assert!(!link_stays_inside(
            Path::new("p-1/link"),
            Path::new("../../etc")
        ));
        assert!(!link_stays_inside(
            Path::new("p-1/link"),
            Path::new("/etc/passwd")
        ));
    }

    #[test]
    fn a_tar_with_a_parent_entry_is_refused_and_writes_nothing_outside() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil-1.0.tar.gz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        let body = b"owned";
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // `set_path` refuses `..`; write the name bytes as a hostile archive would.
        header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../escaped.tx");
        header.set_cksum();
        builder.append(&header, &body[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let error = tar_gz(&archive, &dest).unwrap_err();
        assert_eq!(
            error,
            "its entry `../escaped.tx` would be written outside the archive's directory"
        );
        assert!(!dir.path().join("escaped.tx").exists());
    }
}
