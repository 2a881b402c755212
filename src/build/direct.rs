//! Direct references in the package store, so that the build installs them from
//! files by hash with no network, like every other package.
//!
//! - An archive pin (`name @ URL --hash=sha256:...`) is a file like any other: fetched
//!   from its URL with the index client (a `file://` one read from disk), checked
//!   against the locked hash, stored under it.
//! - A git pin (`name @ git+URL@<commit>`) has no file: its commit (or its
//!   `#subdirectory=`) is exported from the cache clone as an sdist-like
//!   `name-VERSION.tar.gz` ([`vcs::export_archive`], the same bytes for the same
//!   commit), stored under the hash of those bytes, which the rendered lock pins.
//! - A local directory pin (`name @ file:///abs/path`) has no file either: the
//!   directory is exported the same way ([`export_directory`]: sorted entries, fixed
//!   times, owners and modes, without `.git/`, `__pycache__/`, `*.pyc` and virtual
//!   environments), so the same content is the same bytes.
//!
//! The rendered lock then names each as `name==VERSION --hash=sha256:...`
//! ([`crate::render::DirectPins`]).

use std::path::Path;

use super::wheelhouse::{
    FileStore, Lookup, StoreEntry, WheelhouseError, WheelhouseFile, is_plain_filename,
};
use crate::index::direct::{DirectRef, DirectRefs, archive_filename, direct_file};
use crate::index::registry::RegistryClient;
use crate::index::{DistKind, vcs};
use crate::lock::{LockFile, LockedPin};

/// A direct pin's file in the store.
#[derive(Debug, Clone)]
pub struct DirectFile {
    pub file: WheelhouseFile,
    /// Whether its archive was downloaded now (not in the store yet); a git pin's
    /// export never counts.
    pub downloaded: bool,
}

/// Puts the file of every direct pin of `lock` into `store` (fetching or exporting
/// what it lacks) and returns them, by package name. Blocks.
pub fn store_direct_pins(
    lock: &LockFile,
    client: &RegistryClient,
    store: &FileStore,
    cache_dir: &Path,
) -> Result<Vec<DirectFile>, WheelhouseError> {
    let mut files = Vec::new();
    for (package, pin) in &lock.pins {
        let Some(url) = &pin.url else { continue };
        let fail = |message: String| WheelhouseError::Direct {
            package: pin.name.clone(),
            url: crate::secrets::url_text(url),
            line: pin.line,
            message,
        };
        let origin = format!("lock line {}", pin.line);
        let refs = DirectRefs::from_lock_pin(package, url, &pin.hashes, origin)
            .map_err(|error| fail(error.to_string()))?;
        let Some(reference) = refs.get(package) else {
            return Err(fail("not a direct reference".into()));
        };
        let stored = match &reference.git {
            Some(git) => store_git(pin, reference, git, client, store, cache_dir),
            None if crate::lock::is_directory_pin(url) => store_directory(pin, reference, store),
            None => store_archive(pin, reference, client, store),
        };
        let (entry, downloaded) = stored.map_err(|error| match error {
            Stored::Message(message) => fail(message),
            Stored::Store(error) => error,
        })?;
        let file = WheelhouseFile {
            package: package.clone(),
            version: pin.version.clone(),
            filename: entry.filename,
            sha256: entry.sha256,
            size: entry.size,
            path: entry.path,
        };
        files.push(DirectFile { file, downloaded });
    }
    Ok(files)
}

/// Why a direct pin did not reach the store: a message about the pin, or the store's
/// own error.
enum Stored {
    Message(String),
    Store(WheelhouseError),
}

impl From<WheelhouseError> for Stored {
    fn from(error: WheelhouseError) -> Self {
        Stored::Store(error)
    }
}

/// The archive of an archive pin, by its locked hash: from the store, else fetched
/// (`true`).
fn store_archive(
    pin: &LockedPin,
    reference: &DirectRef,
    client: &RegistryClient,
    store: &FileStore,
) -> Result<(StoreEntry, bool), Stored> {
    let sha256 = match pin.hashes.as_slice() {
        [hash] => crate::index::validate::sha256(hash).map_err(|_| {
            Stored::Message(format!(
                "`sha256:{hash}` is not a sha256; re-lock with `dockgen lock`"
            ))
        })?,
        [] => {
            return Err(Stored::Message(
                "the lock pins it without `--hash`, so its file cannot be checked; \
                 re-lock with `dockgen lock`"
                    .into(),
            ));
        }
        _ => {
            return Err(Stored::Message(
                "the lock pins it with several hashes, but its URL names one file; \
                 re-lock with `dockgen lock`"
                    .into(),
            ));
        }
    };
    if let Lookup::Found(entry) = store.get(&sha256)? {
        return Ok((entry, false));
    }
    let url = reference.request_url();
    let filename = archive_filename(url);
    if !is_plain_filename(&filename) {
        return Err(Stored::Message(format!(
            "`{filename}` is not a plain file name; refusing to write it into the wheelhouse"
        )));
    }
    let mut file = direct_file(
        filename.clone(),
        DistKind::Sdist,
        pin.version.clone(),
        crate::secrets::without_userinfo(url),
    );
    file.sha256 = Some(sha256.clone());
    let temp = store.temp()?;
    client
        .download_to_path(&file, temp.path())
        .map_err(|error| Stored::Message(error.to_string()))?;
    Ok((store.insert(temp, &sha256, &filename)?, true))
}

/// The locked commit of a git pin, exported as `name-VERSION.tar.gz` into the store.
fn store_git(
    pin: &LockedPin,
    reference: &DirectRef,
    git: &vcs::GitUrl,
    client: &RegistryClient,
    store: &FileStore,
    cache_dir: &Path,
) -> Result<(StoreEntry, bool), Stored> {
    let Some(commit) = git.rev.as_deref().filter(|rev| vcs::is_full_commit(rev)) else {
        return Err(Stored::Message(
            "a git pin must name a full commit id; re-lock with `dockgen lock`".into(),
        ));
    };
    let clone = vcs::Clone::open(&git.repo, &reference.repository(), Some(cache_dir))
        .map_err(Stored::Message)?;
    let commit = vcs::resolve_commit(&clone, git, Some(commit), client.is_offline())
        .map_err(Stored::Message)?;
    let stem = format!("{}-{}", reference.name.as_dist_info_name(), pin.version);
    let bytes = vcs::export_archive(&clone, &commit, git.subdirectory.as_deref(), &stem)
        .map_err(Stored::Message)?;
    store_export(store, &bytes, &stem)
}

/// An exported source tree's `bytes` in the store as `stem.tar.gz`, under their
/// hash (never counted as downloaded).
fn store_export(store: &FileStore, bytes: &[u8], stem: &str) -> Result<(StoreEntry, bool), Stored> {
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    if let Lookup::Found(entry) = store.get(&sha256)? {
        return Ok((entry, false));
    }
    let mut temp = store.temp()?;
    std::io::Write::write_all(&mut temp, bytes)
        .map_err(|error| Stored::Store(super::wheelhouse::io("write", temp.path())(error)))?;
    Ok((
        store.insert(temp, &sha256, &format!("{stem}.tar.gz"))?,
        false,
    ))
}

/// A local directory pin, exported as `name-VERSION.tar.gz` into the store. The
/// directory must still be there and, when its `pyproject.toml` says its version
/// statically, still be of the locked version.
fn store_directory(
    pin: &LockedPin,
    reference: &DirectRef,
    store: &FileStore,
) -> Result<(StoreEntry, bool), Stored> {
    let path = reference
        .request_url()
        .to_file_path()
        .map_err(|()| Stored::Message("not a usable local path".into()))?;
    if !path.is_dir() {
        return Err(Stored::Message(format!(
            "there is no directory `{}` on this machine (the lock names an absolute path); \
             build where the project is, or re-lock with `dockgen lock`",
            path.display()
        )));
    }
    if let Ok(core) = vcs::tree_metadata(&path, &reference.name)
        && core.version != pin.version
    {
        return Err(Stored::Message(format!(
            "the directory now says version {}, but the lock pins {}; re-lock with \
             `dockgen lock`",
            core.version, pin.version
        )));
    }
    let stem = format!("{}-{}", reference.name.as_dist_info_name(), pin.version);
    let bytes = export_directory(&path, &stem)?;
    store_export(store, &bytes, &stem)
}

/// The modification time of every exported entry (1980-01-01, as wheels use).
const EXPORT_MTIME: u64 = 315_532_800;

/// The directory at `root` as a gzipped tar of everything under `prefix/`: entries in
/// sorted order, times, owners and modes fixed (0755 for directories and executables,
/// else 0644), symbolic links kept as links; without `.git/`, `__pycache__/`, `*.pyc`
/// files and virtual environments (directories holding `pyvenv.cfg`). The same content
/// gives the same bytes.
fn export_directory(root: &Path, prefix: &str) -> Result<Vec<u8>, Stored> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut out = tar::Builder::new(encoder);
    let failed = |path: &Path, error: std::io::Error| {
        Stored::Message(format!("cannot export `{}`: {error}", path.display()))
    };
    append_entry(&mut out, root, prefix, true, &failed)?;
    append_children(&mut out, root, prefix, &failed)?;
    let encoder = out.into_inner().map_err(|error| failed(root, error))?;
    encoder.finish().map_err(|error| failed(root, error))
}

type Tar = tar::Builder<flate2::write::GzEncoder<Vec<u8>>>;

/// What [`export_directory`] keeps under `dir` (written as `name`), depth first in
/// sorted order.
fn append_children(
    out: &mut Tar,
    dir: &Path,
    name: &str,
    failed: &dyn Fn(&Path, std::io::Error) -> Stored,
) -> Result<(), Stored> {
    let mut children: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|error| failed(dir, error))?
        .map(|entry| {
            let entry = entry.map_err(|error| failed(dir, error))?;
            Ok((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ))
        })
        .collect::<Result<_, Stored>>()?;
    children.sort();
    for (child, path) in children {
        let kind = std::fs::symlink_metadata(&path).map_err(|error| failed(&path, error))?;
        let is_dir = kind.is_dir();
        let skipped = match is_dir {
            true => child == ".git" || child == "__pycache__" || path.join("pyvenv.cfg").is_file(),
            false => child.ends_with(".pyc"),
        };
        if skipped || !(is_dir || kind.is_file() || kind.file_type().is_symlink()) {
            continue;
        }
        let entry = format!("{name}/{child}");
        append_entry(out, &path, &entry, false, failed)?;
        if is_dir {
            append_children(out, &path, &entry, failed)?;
        }
    }
    Ok(())
}

/// One entry of [`export_directory`]: `path` written as `name`.
fn append_entry(
    out: &mut Tar,
    path: &Path,
    name: &str,
    root: bool,
    failed: &dyn Fn(&Path, std::io::Error) -> Stored,
) -> Result<(), Stored> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = match root {
        true => std::fs::metadata(path),
        false => std::fs::symlink_metadata(path),
    }
    .map_err(|error| failed(path, error))?;
    let mut header = tar::Header::new_gnu();
    header.set_mtime(EXPORT_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    let executable = metadata.permissions().mode() & 0o111 != 0;
    if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(|error| failed(path, error))?;
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_size(0);
        out.append_link(&mut header, name, target)
            .map_err(|error| failed(path, error))
    } else if metadata.is_dir() {
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        out.append_data(&mut header, name, std::io::empty())
            .map_err(|error| failed(path, error))
    } else {
        let bytes = std::fs::read(path).map_err(|error| failed(path, error))?;
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_size(bytes.len() as u64);
        out.append_data(&mut header, name, bytes.as_slice())
            .map_err(|error| failed(path, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bytes: &[u8]) -> Vec<(String, u32, u64)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_directory_exports_sorted_normalised_and_without_clutter() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        for dir in ["pkg/__pycache__", ".git/objects", ".venv/bin", "b"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "pyproject.toml",
            "pkg/__init__.py",
            "pkg/old.pyc",
            "pkg/__pycache__/x.cpython-311.pyc",
            ".git/HEAD",
            ".venv/pyvenv.cfg",
            "b/run.sh",
        ] {
            std::fs::write(root.join(file), file).unwrap();
        }
        std::fs::set_permissions(
            root.join("b/run.sh"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::set_permissions(
            root.join("pyproject.toml"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let Ok(first) = export_directory(&root, "proj-1.0") else {
            panic!("export failed")
        };
        let listed: Vec<(String, u32)> = entries(&first)
            .into_iter()
            .map(|(path, mode, mtime)| {
                assert_eq!(mtime, EXPORT_MTIME);
                (path, mode)
            })
            .collect();
        let expected = [
            ("proj-1.0", 0o755),
            ("proj-1.0/b", 0o755),
            ("proj-1.0/b/run.sh", 0o755),
            ("proj-1.0/pkg", 0o755),
            ("proj-1.0/pkg/__init__.py", 0o644),
            ("proj-1.0/pyproject.toml", 0o644),
        ];
        let expected: Vec<(String, u32)> = expected
            .iter()
            .map(|(path, mode)| (path.to_string(), *mode))
            .collect();
        assert_eq!(listed, expected);
        // Same content, same bytes, whatever the files' times.
        std::fs::write(root.join("pkg/__init__.py"), "pkg/__init__.py").unwrap();
        let Ok(second) = export_directory(&root, "proj-1.0") else {
            panic!("export failed")
        };
        assert_eq!(first, second);
    }
}
