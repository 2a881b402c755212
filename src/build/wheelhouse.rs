//! The wheelhouse: every file a lock names, fetched on the host and handed to the build
//! as `wheels/<original filename>` of the build context.
//!
//! Containers cannot reach the indexes (TLS interception, private indexes whose
//! credentials must stay on the host), so dockgen downloads each locked file itself into a
//! host-side content-addressed store, `<cache dir>/files-v1/sha256/<aa>/<hex>`, and hard
//! links it into the wheelhouse. A rebuild after a lock change downloads only the files
//! that are new, and the unchanged ones stay the same inodes, so the context changes only
//! where the lock changed. Once the store holds every locked file, no request is made at
//! all: the store remembers each file's original name next to its bytes
//! (`<hex>.json`), so not even the project pages are needed.
//!
//! The store is trusted only as far as it is checked: every entry is written atomically
//! (temp file, hash checked, rename), and every entry used is re-hashed once per process
//! (and again whenever its size, mtime or inode changed since), so bytes changed on disk
//! are noticed, dropped and fetched again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::index::cache::Cache;
use crate::index::registry::RegistryClient;
use crate::index::{DistFile, DistKind, IndexError, PackageSource};
use crate::input::target::Target;
use crate::lock::LockFile;

/// How [`fill_wheelhouse`] works.
#[derive(Debug, Clone)]
pub struct WheelhouseOptions {
    /// The cache directory holding the store (`files-v1/` under it). `None`: the index
    /// client's cache directory, else [`Cache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Files checked, looked up or downloaded at once (the client limits requests too).
    pub jobs: usize,
    /// The machine the files are for. When given, a pin's sdists are left out when the
    /// lock also names a wheel of it that this target installs: pip, offered both,
    /// takes the wheel and never opens the sdist. `None` keeps every locked file.
    pub target: Option<Target>,
}

impl Default for WheelhouseOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            jobs: 8,
            target: None,
        }
    }
}

/// One file in the wheelhouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelhouseFile {
    pub package: PackageName,
    pub version: Version,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    /// The verified file in the host store.
    pub path: PathBuf,
}

/// What a fill did. `files` is sorted by file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WheelhouseReport {
    pub files: Vec<WheelhouseFile>,
    /// Files in the wheelhouse that are hard links to the store.
    pub linked: usize,
    /// Files copied because the wheelhouse is on another file system than the store.
    pub copied: usize,
    /// Files fetched from an index in this fill (including files fetched only to learn
    /// their hash, when the index publishes none).
    pub downloaded: usize,
    pub bytes_downloaded: u64,
    /// Bytes of locked files that were already in the store.
    pub bytes_cached: u64,
    /// Store entries whose bytes no longer matched their name, dropped and fetched again.
    pub corrupt: usize,
    /// Files removed from the wheelhouse because the lock no longer names them.
    pub removed: Vec<String>,
    /// Locked sdists left out (neither fetched nor in the wheelhouse) because the lock
    /// has a wheel of the same pin for the target ([`WheelhouseOptions::target`]).
    pub sdists_left_out: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WheelhouseError {
    #[error(
        "there is no cache directory for the file store; set `DOCKGEN_CACHE_DIR` (or \
         `XDG_CACHE_HOME` or `HOME`)"
    )]
    NoStore,
    #[error(
        "the lock pins `{package}=={version}` with hash `sha256:{hash}`, which is not a \
         sha256 (64 hex digits); re-lock with `dockgen lock`"
    )]
    BadHash {
        package: String,
        version: String,
        hash: String,
    },
    #[error(
        "no index has `{package}` (locked at `{version}`; searched {indexes}); check the \
         profile's indexes or re-lock with `dockgen lock`"
    )]
    NoProject {
        package: String,
        version: String,
        indexes: String,
    },
    #[error(
        "no file of `{package}=={version}` has the locked hash `sha256:{hash}` (searched \
         {indexes}); the file was removed or replaced on the index, or the lock was made \
         against other indexes: re-lock with `dockgen lock`"
    )]
    NoMatchingFile {
        package: String,
        version: String,
        hash: String,
        indexes: String,
    },
    #[error("cannot put `{package} @ {url}` (lock line {line}) into the package store: {message}")]
    Direct {
        package: String,
        url: String,
        line: usize,
        message: String,
    },
    #[error("cannot fetch the locked files of `{package}`: {error}")]
    Index { package: String, error: IndexError },
    #[error(
        "index `{index}` lists `{filename}` for `{package}`, which is not a plain file \
         name; refusing to write it into the wheelhouse"
    )]
    BadFilename {
        package: String,
        filename: String,
        index: String,
    },
    #[error(
        "two locked files would both be `{filename}` in the wheelhouse (sha256 `{first}` \
         and `{second}`); re-lock with `dockgen lock`"
    )]
    FilenameClash {
        filename: String,
        first: String,
        second: String,
    },
    #[error("cannot {action} `{}`: {error}; check free space and permissions", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

pub(crate) fn io(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> WheelhouseError {
    let path = path.to_path_buf();
    move |error| WheelhouseError::Io {
        action,
        path,
        error,
    }
}

/// Written next to each stored file: what it was called, and how big it is, so a
/// truncated entry is caught without hashing it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EntryInfo {
    filename: String,
    size: u64,
}

/// A verified store entry.
#[derive(Debug, Clone)]
pub struct StoreEntry {
    pub sha256: String,
    pub path: PathBuf,
    pub filename: String,
    pub size: u64,
}

/// What a file looked like when it was last hashed; a change means hashing again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// Store entries hashed by this process, by path.
static VERIFIED: Mutex<Option<HashMap<PathBuf, Stamp>>> = Mutex::new(None);

fn remember_verified(path: &Path, stamp: Stamp) {
    VERIFIED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_default()
        .insert(path.to_path_buf(), stamp);
}

fn was_verified(path: &Path, stamp: &Stamp) -> bool {
    VERIFIED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|map| map.get(path))
        == Some(stamp)
}

/// The host-side content-addressed file store.
#[derive(Debug, Clone)]
pub struct FileStore {
    /// `<cache dir>/files-v1/sha256`
    root: PathBuf,
}

impl FileStore {
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            root: cache_dir.join("files-v1").join("sha256"),
        }
    }

    /// Where the bytes of `sha256` live (they may not).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    fn info_path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(format!("{sha256}.json"))
    }

    /// The entry of `sha256` if it is there and its bytes still hash to it; a damaged
    /// entry is removed and reads as a miss (`Ok(None)`, with `corrupt` set).
    pub fn get(&self, sha256: &str) -> Result<Lookup, WheelhouseError> {
        let path = self.path(sha256);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(err) => return Err(io("read the store entry", &path)(err)),
        };
        let info: Option<EntryInfo> = std::fs::read(self.info_path(sha256))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(info) = info else {
            self.drop_entry(sha256, "its `.json` is missing or unreadable");
            return Ok(Lookup::Missing);
        };
        if info.size != meta.len() || !is_plain_filename(&info.filename) {
            self.drop_entry(sha256, "its size or name is not what was stored");
            return Ok(Lookup::Corrupt);
        }
        let stamp = Stamp::of(&meta);
        if !was_verified(&path, &stamp) {
            let actual = hash_file(&path).map_err(io("read the store entry", &path))?;
            if actual != sha256 {
                self.drop_entry(sha256, "its bytes no longer match its hash");
                return Ok(Lookup::Corrupt);
            }
            remember_verified(&path, stamp);
        }
        Ok(Lookup::Found(StoreEntry {
            sha256: sha256.to_owned(),
            path,
            filename: info.filename,
            size: info.size,
        }))
    }

    fn drop_entry(&self, sha256: &str, why: &str) {
        tracing::warn!("dropping store entry `{sha256}`: {why}; it will be fetched again");
        let _ = std::fs::remove_file(self.path(sha256));
        let _ = std::fs::remove_file(self.info_path(sha256));
    }

    /// A temp file in the store (same file system, so it can be renamed into place).
    pub(crate) fn temp(&self) -> Result<tempfile::NamedTempFile, WheelhouseError> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        tempfile::NamedTempFile::new_in(&dir).map_err(io("create a temp file in", &dir))
    }

    /// Moves a downloaded temp file into place as `sha256`, after checking its bytes
    /// hash to it. The file is made read-only: the wheelhouse links to it.
    pub(crate) fn insert(
        &self,
        temp: tempfile::NamedTempFile,
        sha256: &str,
        filename: &str,
    ) -> Result<StoreEntry, WheelhouseError> {
        let actual = hash_file(temp.path()).map_err(io("read", temp.path()))?;
        if actual != sha256 {
            return Err(WheelhouseError::Io {
                action: "store",
                path: temp.path().to_path_buf(),
                error: std::io::Error::other(format!(
                    "`{filename}` hashes to `{actual}`, not `{sha256}`"
                )),
            });
        }
        let path = self.path(sha256);
        let dir = self.root.join(&sha256[..2]);
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let meta = temp.as_file().metadata().map_err(io("read", temp.path()))?;
        let mut permissions = meta.permissions();
        #[cfg(unix)]
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o444);
        #[cfg(not(unix))]
        permissions.set_readonly(true);
        std::fs::set_permissions(temp.path(), permissions).map_err(io("chmod", temp.path()))?;
        let size = meta.len();
        let info = EntryInfo {
            filename: filename.to_owned(),
            size,
        };
        // The name first: an entry counts only with both, and the bytes are the big part.
        let info_path = self.info_path(sha256);
        let mut info_temp =
            tempfile::NamedTempFile::new_in(&dir).map_err(io("create a temp file in", &dir))?;
        let json = serde_json::to_vec(&info).unwrap_or_default();
        info_temp
            .write_all(&json)
            .map_err(io("write", info_temp.path()))?;
        info_temp
            .persist(&info_path)
            .map_err(|err| io("write", &info_path)(err.error))?;
        temp.persist(&path)
            .map_err(|err| io("move into the store", &path)(err.error))?;
        if let Ok(meta) = std::fs::metadata(&path) {
            remember_verified(&path, Stamp::of(&meta));
        }
        Ok(StoreEntry {
            sha256: sha256.to_owned(),
            path,
            filename: filename.to_owned(),
            size,
        })
    }
}

/// What the store has for a hash.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(StoreEntry),
    Missing,
    /// There was an entry, but it was damaged and has been removed.
    Corrupt,
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

pub(crate) fn is_plain_filename(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.')
}

/// Runs `f` over `items` on up to `jobs` threads; results in the order of `items`.
fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// One locked file: a hash of a pin.
struct Wanted<'a> {
    package: &'a PackageName,
    version: &'a Version,
    sha256: String,
}

/// A download to run: a file the lock names by its published hash, or (`expected`
/// `None`) a file whose index publishes no hash, fetched to learn it.
struct Fetch {
    package: PackageName,
    file: DistFile,
    expected: Option<String>,
}

/// The cache directory of the file store: `cache_dir`, else the client's, else the
/// default one.
pub fn store_dir(
    cache_dir: Option<&Path>,
    client: &RegistryClient,
) -> Result<PathBuf, WheelhouseError> {
    cache_dir
        .or_else(|| client.cache_dir())
        .map(Path::to_path_buf)
        .or_else(Cache::default_dir)
        .ok_or(WheelhouseError::NoStore)
}

/// Makes sure the file store holds every file `lock` names (by hash), fetching what it
/// lacks through `client`. With `dest`, also fills that directory with the files, as
/// `dest/<original filename>` hard links into the store, and removes files the lock no
/// longer names. Blocks (call it from `spawn_blocking` in async code). With every file
/// in the store, it makes no request at all.
pub fn fill_wheelhouse(
    lock: &LockFile,
    client: &RegistryClient,
    dest: Option<&Path>,
    options: &WheelhouseOptions,
) -> Result<WheelhouseReport, WheelhouseError> {
    let cache_dir = store_dir(options.cache_dir.as_deref(), client)?;
    let store = FileStore::new(&cache_dir);
    let jobs = options.jobs.max(1);
    let mut report = WheelhouseReport::default();

    let mut wanted = Vec::new();
    let mut seen = BTreeSet::new();
    for (package, pin) in &lock.pins {
        if pin.url.is_some() {
            continue; // a direct reference: see `build::direct`
        }
        for hash in &pin.hashes {
            let Ok(sha256) = crate::index::validate::sha256(hash) else {
                return Err(WheelhouseError::BadHash {
                    package: package.to_string(),
                    version: pin.version.to_string(),
                    hash: hash.clone(),
                });
            };
            if seen.insert(sha256.clone()) {
                wanted.push(Wanted {
                    package,
                    version: &pin.version,
                    sha256,
                });
            }
        }
    }

    // 1. What the store already has (hashing each entry once per process).
    let lookups = parallel(&wanted, jobs, |w| store.get(&w.sha256));
    let mut found: HashMap<String, StoreEntry> = HashMap::new();
    let mut missing: Vec<&Wanted> = Vec::new();
    for (w, lookup) in wanted.iter().zip(lookups) {
        match lookup? {
            Lookup::Found(entry) => {
                report.bytes_cached += entry.size;
                found.insert(w.sha256.clone(), entry);
            }
            Lookup::Corrupt => {
                report.corrupt += 1;
                missing.push(w);
            }
            Lookup::Missing => missing.push(w),
        }
    }

    // 2. The index listings of the packages with missing files.
    // The file name of every wanted hash known before anything is downloaded: the
    // store's, then the listings'.
    let mut names: HashMap<String, String> = found
        .iter()
        .map(|(sha256, entry)| (sha256.clone(), entry.filename.clone()))
        .collect();
    let indexes = client
        .source_names()
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut fetches: Vec<Fetch> = Vec::new();
    if !missing.is_empty() {
        let packages: Vec<&PackageName> = missing
            .iter()
            .map(|w| w.package)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for package in &packages {
            client.prefetch_project(package);
        }
        let listings = parallel(&packages, jobs, |package| client.project(package));
        let mut probed = BTreeSet::new();
        for (package, listing) in packages.iter().zip(listings) {
            let listing = listing.map_err(|error| WheelhouseError::Index {
                package: package.to_string(),
                error,
            })?;
            let package_missing = missing.iter().filter(|w| w.package == *package);
            let Some(listing) = listing else {
                let first = missing.iter().find(|w| w.package == *package);
                return Err(WheelhouseError::NoProject {
                    package: package.to_string(),
                    version: first.map(|w| w.version.to_string()).unwrap_or_default(),
                    indexes,
                });
            };
            for w in package_missing {
                let published = listing
                    .files
                    .iter()
                    .find(|f| f.sha256.as_deref() == Some(w.sha256.as_str()));
                if let Some(file) = published {
                    names.insert(w.sha256.clone(), file.filename.clone());
                    fetches.push(Fetch {
                        package: (*package).clone(),
                        file: file.clone(),
                        expected: Some(w.sha256.clone()),
                    });
                    continue;
                }
                for file in &listing.files {
                    if file.sha256.is_none()
                        && file.version == *w.version
                        && probed.insert(file.url.to_string())
                    {
                        fetches.push(Fetch {
                            package: (*package).clone(),
                            file: file.clone(),
                            expected: None,
                        });
                    }
                }
            }
        }
    }
    let needless = match &options.target {
        Some(target) => needless_sdists(&wanted, &names, target),
        None => HashSet::new(),
    };
    report.sdists_left_out = needless.len();
    // Counted as cached in step 1, but not part of the wheelhouse.
    report.bytes_cached -= needless
        .iter()
        .filter_map(|sha256| found.get(sha256))
        .map(|entry| entry.size)
        .sum::<u64>();
    fetches.retain(|f| f.expected.as_ref().is_none_or(|h| !needless.contains(h)));

    // 3. Download what is missing, into the store.
    if !fetches.is_empty() {
        let results = parallel(&fetches, jobs, |fetch| download(&store, client, fetch));
        for (fetch, result) in fetches.iter().zip(results) {
            let (entry, size) = result?;
            report.downloaded += 1;
            report.bytes_downloaded += size;
            if fetch.expected.is_some() || seen.contains(&entry.sha256) {
                found.insert(entry.sha256.clone(), entry);
            }
        }
    }
    for w in &missing {
        if !found.contains_key(&w.sha256) && !needless.contains(&w.sha256) {
            return Err(WheelhouseError::NoMatchingFile {
                package: w.package.to_string(),
                version: w.version.to_string(),
                hash: w.sha256.clone(),
                indexes,
            });
        }
    }
    wanted.retain(|w| !needless.contains(&w.sha256));

    // Direct references: their archives, and git pins' exported commits.
    let direct = super::direct::store_direct_pins(lock, client, &store, &cache_dir)?;
    for super::direct::DirectFile { file, downloaded } in &direct {
        let Some((package, pin)) = lock.pins.get_key_value(&file.package) else {
            continue;
        };
        match downloaded {
            true => {
                report.downloaded += 1;
                report.bytes_downloaded += file.size;
            }
            false => report.bytes_cached += file.size,
        }
        wanted.push(Wanted {
            package,
            version: &pin.version,
            sha256: file.sha256.clone(),
        });
        found.insert(
            file.sha256.clone(),
            StoreEntry {
                sha256: file.sha256.clone(),
                path: file.path.clone(),
                filename: file.filename.clone(),
                size: file.size,
            },
        );
    }

    // 4. The wheelhouse: one link per locked file, nothing else.
    let mut by_name: BTreeMap<String, (&Wanted, &StoreEntry)> = BTreeMap::new();
    for w in &wanted {
        let Some(entry) = found.get(&w.sha256) else {
            continue;
        };
        if let Some((other, _)) = by_name.insert(entry.filename.clone(), (w, entry)) {
            return Err(WheelhouseError::FilenameClash {
                filename: entry.filename.clone(),
                first: other.sha256.clone(),
                second: w.sha256.clone(),
            });
        }
    }
    for (filename, (w, entry)) in &by_name {
        report.files.push(WheelhouseFile {
            package: w.package.clone(),
            version: w.version.clone(),
            filename: filename.clone(),
            sha256: w.sha256.clone(),
            size: entry.size,
            path: entry.path.clone(),
        });
    }
    let Some(dest) = dest else {
        return Ok(report);
    };
    std::fs::create_dir_all(dest).map_err(io("create", dest))?;
    for (filename, (_, entry)) in &by_name {
        if materialize(&entry.path, &dest.join(filename))? {
            report.linked += 1;
        } else {
            report.copied += 1;
        }
    }
    let listing = std::fs::read_dir(dest).map_err(io("list", dest))?;
    for item in listing {
        let item = item.map_err(io("list", dest))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let is_dir = item.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir && !by_name.contains_key(&name) {
            std::fs::remove_file(item.path()).map_err(io("remove", &item.path()))?;
            report.removed.push(name);
        }
    }
    report.removed.sort();
    Ok(report)
}

/// The hashes of the sdists among `wanted` whose pin also has a wheel that `target`
/// installs, by the file names known (`names`, by hash). A file whose name is not known
/// yet (its index publishes no hash) is kept.
fn needless_sdists(
    wanted: &[Wanted],
    names: &HashMap<String, String>,
    target: &Target,
) -> HashSet<String> {
    let kinds: Vec<(&Wanted, DistKind)> = wanted
        .iter()
        .filter_map(|w| {
            let name = names.get(&w.sha256)?;
            let parsed = crate::index::filename::parse(name, w.package).ok()??;
            Some((w, parsed.kind()))
        })
        .collect();
    let has_wheel: HashSet<(&PackageName, &Version)> = kinds
        .iter()
        .filter(|(_, kind)| target.dist_rank(kind).is_some())
        .map(|(w, _)| (w.package, w.version))
        .collect();
    kinds
        .iter()
        .filter(|(w, kind)| *kind == DistKind::Sdist && has_wheel.contains(&(w.package, w.version)))
        .map(|(w, _)| w.sha256.clone())
        .collect()
}

/// Downloads one file into the store; the entry and the bytes fetched.
fn download(
    store: &FileStore,
    client: &RegistryClient,
    fetch: &Fetch,
) -> Result<(StoreEntry, u64), WheelhouseError> {
    let file = &fetch.file;
    if !is_plain_filename(&file.filename) {
        return Err(WheelhouseError::BadFilename {
            package: fetch.package.to_string(),
            filename: file.filename.clone(),
            index: file.index.to_string(),
        });
    }
    let temp = store.temp()?;
    let downloaded = client
        .download_to_path(file, temp.path())
        .map_err(|error| WheelhouseError::Index {
            package: fetch.package.to_string(),
            error,
        })?;
    if let Some(expected) = &fetch.expected
        && *expected != downloaded.sha256
    {
        // The client checked the published hash, which is `expected`; this is a race
        // with the index changing the listing mid-run.
        return Err(WheelhouseError::Index {
            package: fetch.package.to_string(),
            error: IndexError::HashMismatch {
                file: file.filename.clone(),
                index: file.index.to_string(),
                expected: expected.clone(),
                actual: downloaded.sha256,
            },
        });
    }
    let entry = store.insert(temp, &downloaded.sha256, &file.filename)?;
    Ok((entry, downloaded.size))
}

/// Makes `to` the store file `from`: a hard link, or a copy across file systems.
/// `true` when it is a link. A link already in place is left alone.
pub(crate) fn materialize(from: &Path, to: &Path) -> Result<bool, WheelhouseError> {
    let source = std::fs::metadata(from).map_err(io("read", from))?;
    if let Ok(existing) = std::fs::symlink_metadata(to) {
        if same_file(&source, &existing) {
            return Ok(true);
        }
        std::fs::remove_file(to).map_err(io("remove", to))?;
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => return Ok(true),
        Err(err) => tracing::debug!(
            "cannot hard link `{}` to `{}` ({err}); copying",
            from.display(),
            to.display()
        ),
    }
    let dir = to.parent().unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temp file in", dir))?;
    std::fs::copy(from, temp.path()).map_err(io("copy to", temp.path()))?;
    temp.persist(to).map_err(|err| io("write", to)(err.error))?;
    Ok(false)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &FileStore, bytes: &[u8], filename: &str) -> StoreEntry {
        let mut temp = store.temp().unwrap();
        temp.write_all(bytes).unwrap();
        store
            .insert(temp, &hex::encode(Sha256::digest(bytes)), filename)
            .unwrap()
    }

    #[test]
    fn entries_round_trip_and_a_truncated_or_nameless_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let entry = put(&store, b"wheel bytes", "a-1.0-py3-none-any.whl");
        let hash = entry.sha256.clone();
        assert_eq!(
            entry.path,
            dir.path()
                .join("files-v1/sha256")
                .join(&hash[..2])
                .join(&hash)
        );
        let Lookup::Found(found) = store.get(&hash).unwrap() else {
            panic!("stored entry not found");
        };
        assert_eq!(
            (found.filename.as_str(), found.size),
            ("a-1.0-py3-none-any.whl", 11)
        );

        let mut permissions = std::fs::metadata(&entry.path).unwrap().permissions();
        assert!(permissions.readonly());
        #[allow(clippy::permissions_set_readonly_false)]
        permissions.set_readonly(false);
        std::fs::set_permissions(&entry.path, permissions).unwrap();
        std::fs::write(&entry.path, b"wheel").unwrap();
        assert!(matches!(store.get(&hash).unwrap(), Lookup::Corrupt));
        assert!(!entry.path.exists());

        let entry = put(&store, b"other bytes", "b-1.0.tar.gz");
        std::fs::remove_file(store.info_path(&entry.sha256)).unwrap();
        assert!(matches!(store.get(&entry.sha256).unwrap(), Lookup::Missing));
        assert!(!entry.path.exists());
    }

    #[test]
    fn insert_refuses_bytes_that_do_not_match_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let mut temp = store.temp().unwrap();
        temp.write_all(b"bytes").unwrap();
        let error = store.insert(temp, &"a".repeat(64), "x.whl").unwrap_err();
        assert!(matches!(
            error,
            WheelhouseError::Io {
                action: "store",
                ..
            }
        ));
        assert!(!store.path(&"a".repeat(64)).exists());
    }

    #[test]
    fn only_plain_file_names_reach_the_wheelhouse() {
        let names = ["a-1.0.tar.gz", "../x.whl", "a/b.whl", "..", ".hidden", ""];
        let plain: Vec<bool> = names.iter().map(|n| is_plain_filename(n)).collect();
        assert_eq!(plain, [true, false, false, false, false, false]);
    }
}
