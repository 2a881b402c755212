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
//!
//! The rendered lock then names each as `name==VERSION --hash=sha256:...`
//! ([`crate::render::DirectPins`]).

use std::path::Path;

use super::wheelhouse::{
    FileStore, Lookup, StoreEntry, WheelhouseError, WheelhouseFile, is_plain_filename,
};
use crate::index::direct::{DIRECT_INDEX, DirectRef, DirectRefs, archive_filename};
use crate::index::registry::RegistryClient;
use crate::index::{DistFile, DistKind, vcs};
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
    let file = DistFile {
        filename: filename.clone(),
        kind: DistKind::Sdist,
        version: pin.version.clone(),
        url: crate::secrets::without_userinfo(url),
        sha256: Some(sha256.clone()),
        requires_python: None,
        yanked: None,
        upload_time: None,
        size: None,
        has_metadata_sidecar: false,
        index: std::sync::Arc::from(DIRECT_INDEX),
    };
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
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if let Lookup::Found(entry) = store.get(&sha256)? {
        return Ok((entry, false));
    }
    let mut temp = store.temp()?;
    std::io::Write::write_all(&mut temp, &bytes)
        .map_err(|error| Stored::Store(super::wheelhouse::io("write", temp.path())(error)))?;
    Ok((
        store.insert(temp, &sha256, &format!("{stem}.tar.gz"))?,
        false,
    ))
}
