//! The on-disk cache: parsed project pages with their HTTP cache policy, core metadata
//! per (file URL, sha256), computed hashes of files that publish none, and what the
//! audit views read from inside files (wheel listings, sdist build systems).
//!
//! Entries are written atomically (a temp file in the same directory, then renamed), so a
//! crash leaves either the old entry or the new one. An entry that cannot be read or
//! parsed is deleted and treated as a miss: the cache is never a reason to fail.
//! Keys are sha256 of the index name and the URL without userinfo, so credentials never
//! reach a file name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use url::Url;

/// Bumped when the layout of an entry changes; old entries are then simply not found.
const VERSION: &str = "v1";

/// What is cached, each kind in a directory of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Parsed project pages of the simple API (and find-links pages).
    Simple,
    /// The HTTP cache policy of each `Simple` page, apart, so that a revalidation
    /// answered "not modified" rewrites a few hundred bytes instead of the page.
    SimplePolicy,
    /// Raw core metadata bytes; immutable for a given (URL, sha256).
    Metadata,
    /// sha256 of files whose index publishes none.
    Hashes,
    /// Entry names of a wheel's zip; immutable for a given (URL, sha256).
    Listings,
    /// The `[build-system]` of an sdist; immutable for a given (URL, sha256).
    BuildSystems,
    /// Why an sdist's metadata needs a build; immutable for a given (URL, sha256).
    NeedsBuild,
    /// Archives of direct references, by their sha256 (content-addressed).
    Archives,
    /// Core metadata made by a PEP 517 build, by sdist sha256, interpreter and extra
    /// build dependencies.
    Built,
    /// Answers of an OSV vulnerability service (`check --vulns`), with when they were
    /// fetched: the advisory ids of each pin, and each advisory.
    Osv,
}

impl Bucket {
    fn dir(self) -> &'static str {
        match self {
            Bucket::Simple => "simple",
            Bucket::SimplePolicy => "simple-policy",
            Bucket::Metadata => "metadata",
            Bucket::Built => "built-metadata",
            Bucket::Hashes => "hashes",
            Bucket::Listings => "listings",
            Bucket::BuildSystems => "build-systems",
            Bucket::NeedsBuild => "needs-build",
            Bucket::Archives => "archives",
            Bucket::Osv => "osv",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// A failed write has been warned about (once per run is enough).
    warned: Arc<AtomicBool>,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            warned: Arc::default(),
        }
    }

    /// `$DOCKGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/dockgen`, else `~/.cache/dockgen`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("DOCKGEN_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = var("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("dockgen"));
        }
        var("HOME").map(|home| PathBuf::from(home).join(".cache").join("dockgen"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key of `url` on `index`, extended by `extra` (e.g. a sha256).
    pub fn key(index: &str, url: &Url, extra: &str) -> String {
        let mut hasher = Sha256::new();
        // The URL without userinfo, unmasked: masks would make two URLs one key.
        for part in [index, crate::secrets::without_userinfo(url).as_str(), extra] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }

    /// Where the entry for `key` lives (it may not exist).
    pub fn path(&self, bucket: Bucket, key: &str) -> PathBuf {
        let ext = match bucket {
            Bucket::Metadata | Bucket::Built => "metadata",
            Bucket::Archives => "archive",
            Bucket::Simple
            | Bucket::SimplePolicy
            | Bucket::Hashes
            | Bucket::Listings
            | Bucket::BuildSystems
            | Bucket::NeedsBuild
            | Bucket::Osv => "json",
        };
        self.root
            .join(format!("{}-{VERSION}", bucket.dir()))
            .join(&key[..2.min(key.len())])
            .join(format!("{key}.{ext}"))
    }

    /// Reads a JSON entry; a corrupt one is removed and reads as a miss.
    pub fn read_json<T: DeserializeOwned>(&self, bucket: Bucket, key: &str) -> Option<T> {
        let path = self.path(bucket, key);
        let bytes = self.read_raw(&path)?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(err) => {
                self.drop_entry(&path, &err.to_string());
                None
            }
        }
    }

    pub fn write_json<T: Serialize>(&self, bucket: Bucket, key: &str, value: &T) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.write_bytes(bucket, key, &bytes),
            Err(err) => tracing::debug!("not caching entry `{key}`: {err}"),
        }
    }

    pub fn read_bytes(&self, bucket: Bucket, key: &str) -> Option<Vec<u8>> {
        self.read_raw(&self.path(bucket, key))
    }

    /// Writes an entry atomically. Failures are logged, not returned: a read-only or
    /// full cache slows dockgen down but does not stop it.
    pub fn write_bytes(&self, bucket: Bucket, key: &str, bytes: &[u8]) {
        let path = self.path(bucket, key);
        if let Err(err) = write_atomic(&path, bytes) {
            if self.warned.swap(true, Ordering::Relaxed) {
                tracing::debug!("cannot write cache entry `{}`: {err}", path.display());
            } else {
                tracing::warn!(
                    "cannot write to the cache `{}` ({err} at `{}`); going on without \
                     caching, which makes later runs slower",
                    self.root.display(),
                    path.display()
                );
            }
        }
    }

    /// Deletes an entry found to be corrupt after reading (e.g. metadata that no longer
    /// parses), so the next run refetches it.
    pub fn remove(&self, bucket: Bucket, key: &str, why: &str) {
        self.drop_entry(&self.path(bucket, key), why);
    }

    fn read_raw(&self, path: &Path) -> Option<Vec<u8>> {
        match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                self.drop_entry(path, &err.to_string());
                None
            }
        }
    }

    fn drop_entry(&self, path: &Path, why: &str) {
        tracing::debug!("dropping cache entry `{}`: {why}", path.display());
        let _ = std::fs::remove_file(path);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_data()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_credentials_and_depend_on_index() {
        let with = Url::parse("https://u:secret@example.com/simple/a/").unwrap();
        let without = Url::parse("https://example.com/simple/a/").unwrap();
        assert_eq!(
            Cache::key("idx", &with, ""),
            Cache::key("idx", &without, "")
        );
        assert_ne!(
            Cache::key("idx", &without, ""),
            Cache::key("other", &without, "")
        );
    }

    #[test]
    fn corrupt_entry_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.write_json(Bucket::Hashes, "abcd", &"ok".to_owned());
        assert_eq!(
            cache.read_json::<String>(Bucket::Hashes, "abcd").as_deref(),
            Some("ok")
        );
        let path = cache.path(Bucket::Hashes, "abcd");
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(cache.read_json::<String>(Bucket::Hashes, "abcd"), None);
        assert!(!path.exists());
    }
}
