//! Package indexes: PEP 691 JSON / PEP 503 HTML simple APIs, `--find-links`
//! directories and pages, package metadata, file hashes, and the on-disk cache.
//!
//! The resolver sees this module only through [`PackageSource`], so its tests run on
//! in-memory sources and loopback indexes alike.

pub mod filename;
pub mod metadata;
pub mod zip;

use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use url::Url;

#[cfg(test)]
pub mod memory;

/// One distribution file of a project, as an index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    pub kind: DistKind,
    pub version: Version,
    /// Where to download it. Never carries credentials.
    pub url: Url,
    /// The published sha256 (lowercase hex), when the index gives one.
    pub sha256: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    /// `Some(reason)` (possibly empty) when the file is yanked (PEP 592).
    pub yanked: Option<String>,
    pub upload_time: Option<jiff::Timestamp>,
    pub size: Option<u64>,
    /// The index serves a PEP 658 / PEP 714 `.metadata` sidecar for it.
    pub has_metadata_sidecar: bool,
    /// Name of the index (or find-links source) that listed it.
    pub index: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistKind {
    /// The `.`-split tag sets from the wheel filename.
    Wheel {
        interpreters: Vec<String>,
        abis: Vec<String>,
        platforms: Vec<String>,
    },
    Sdist,
}

/// All files of one project from the one source that serves it.
#[derive(Debug, Clone)]
pub struct ProjectFiles {
    pub name: PackageName,
    /// Name of the index that served the project.
    pub index: Arc<str>,
    pub files: Vec<DistFile>,
}

/// Core metadata (METADATA / PKG-INFO) of one distribution, as far as resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extras: Vec<ExtraName>,
    pub summary: Option<String>,
    pub license: Option<String>,
}

/// What the resolver may ask of the indexes. Calls block the calling thread; the
/// resolver runs on a thread of its own while the source works concurrently.
pub trait PackageSource: Send + Sync {
    /// The files of `name`, from the one index that serves it (first index that has it,
    /// or the index whose `packages:` list names it). A project no index has is
    /// `Ok(None)`, not an error.
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError>;

    /// Metadata of one file: sidecar, else range request into the wheel, else the
    /// whole file; static PKG-INFO for sdists.
    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError>;

    /// The sha256 of a file: the published one, or the file downloaded and hashed.
    fn sha256(&self, file: &DistFile) -> Result<String, IndexError>;

    /// Hints that the resolver will soon ask for these; a source may start fetching.
    fn prefetch_project(&self, _name: &PackageName) {}
    fn prefetch_metadata(&self, _file: &DistFile) {}
}

/// Errors name the package, file and index concerned. Secrets never appear.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Other(String),
}
