//! Package indexes: PEP 691 JSON / PEP 503 HTML simple APIs, `--find-links`
//! directories and pages, package metadata, file hashes, and the on-disk cache.
//!
//! The resolver sees this module only through [`PackageSource`], so its tests run on
//! in-memory sources and loopback indexes alike.

pub mod filename;
pub mod metadata;
pub mod zip;

use std::sync::Arc;

pub mod auth;
pub mod cache;
pub mod client;
pub mod direct;
pub mod find_links;
pub mod registry;
pub mod simple;
pub mod strategy;
pub mod validate;
pub mod vcs;

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
    /// The tag sets from the wheel filename.
    Wheel(WheelTags),
    Sdist,
}

/// The three tag sets of a wheel's file name, `{python}-{abi}-{platform}`, each
/// `.`-compressed as written (`cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`),
/// in one string: a resolution keeps tens of thousands of wheels, and three vectors of
/// strings each cost seven allocations where this costs one. No set holds a `-`: a
/// wheel's file name is split on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTags(Box<str>);

impl WheelTags {
    pub fn new(interpreters: &str, abis: &str, platforms: &str) -> Self {
        debug_assert!(
            ![interpreters, abis, platforms]
                .iter()
                .any(|s| s.contains('-'))
        );
        Self(format!("{interpreters}-{abis}-{platforms}").into_boxed_str())
    }

    fn set(&self, n: usize) -> &str {
        self.0.split('-').nth(n).unwrap_or_default()
    }

    /// The python tags, `.`-compressed (`py2.py3`).
    pub fn interpreters(&self) -> &str {
        self.set(0)
    }

    /// The ABI tags, `.`-compressed.
    pub fn abis(&self) -> &str {
        self.set(1)
    }

    /// The platform tags, `.`-compressed.
    pub fn platforms(&self) -> &str {
        self.set(2)
    }

    /// Every tag the sets expand to, `python-abi-platform`, in the file name's order.
    pub fn expand(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for interpreter in self.interpreters().split('.') {
            for abi in self.abis().split('.') {
                for platform in self.platforms().split('.') {
                    tags.push(format!("{interpreter}-{abi}-{platform}"));
                }
            }
        }
        tags
    }
}

/// All files of one project from the one source that serves it.
#[derive(Debug, Clone)]
pub struct ProjectFiles {
    pub name: PackageName,
    /// Name of the index that served the project.
    pub index: Arc<str>,
    pub files: Vec<DistFile>,
    /// Files the view's target cannot install, counted and not kept (see
    /// [`simple::Conversion::target`]).
    pub skipped: Skipped,
}

/// Files of a project left out because the target cannot install them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Wheels whose tags the target does not accept.
    pub incompatible_wheels: usize,
    /// Files whose `requires-python` excludes the target's interpreter.
    pub requires_python: usize,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.incompatible_wheels + self.requires_python
    }
}

impl std::ops::AddAssign for Skipped {
    fn add_assign(&mut self, other: Skipped) {
        self.incompatible_wheels += other.incompatible_wheels;
        self.requires_python += other.requires_python;
    }
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
    /// The `License` field as written (continuation lines kept): often a name, sometimes
    /// a whole license text.
    pub license: Option<String>,
    /// The PEP 639 `License-Expression` (an SPDX expression).
    pub license_expression: Option<String>,
    /// `Classifier: License :: ...` values, in file order.
    pub license_classifiers: Vec<String>,
}

/// How an sdist is built into a wheel: its `[build-system]` (PEP 517 / 518).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildSystem {
    /// Requirements of the build environment, as written.
    pub requires: Vec<String>,
    /// `build-backend`; `None` means setuptools' legacy backend.
    pub backend: Option<String>,
    /// `backend-path`: directories of the source tree that hold an in-tree backend.
    #[serde(default)]
    pub backend_path: Vec<String>,
    /// Whether the sdist declares them (`false`: the PEP 517 defaults apply).
    pub declared: bool,
}

/// What the resolver may ask of the indexes. Calls block the calling thread; the
/// resolver runs on a thread of its own while the source works concurrently.
pub trait PackageSource: Send + Sync {
    /// The files of `name`, from the index that serves it (the index whose `packages:`
    /// list names it, else the general indexes by the source's [`strategy::IndexStrategy`]). A project no index has is
    /// `Ok(None)`, not an error.
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError>;

    /// Metadata of one file: sidecar, else range request into the wheel, else the
    /// whole file; static PKG-INFO for sdists.
    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError>;

    /// The sha256 of a file: the published one, or the file downloaded and hashed.
    fn sha256(&self, file: &DistFile) -> Result<String, IndexError>;

    /// Which general indexes were asked for `name` and what each had (after
    /// [`PackageSource::project`] was asked), for explanations; `None` when the source
    /// does not keep such a record.
    fn survey(&self, _name: &PackageName) -> Option<strategy::IndexSurvey> {
        None
    }

    /// Hints that the resolver will soon ask for these; a source may start fetching.
    fn prefetch_project(&self, _name: &PackageName) {}
    fn prefetch_metadata(&self, _file: &DistFile) {}

    /// The URL the lock writes for `name` when the input requires it by a direct
    /// reference ([`direct::DirectSource`]); `None` for a package from the indexes.
    fn direct_url(&self, _name: &PackageName) -> Option<String> {
        None
    }
}

/// Errors name the package, file and index concerned. Secrets never appear: every URL
/// in here went through [`crate::secrets::url`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    #[error(
        "index `{index}` answered HTTP {status} for `{url}`{hint}",
        hint = status_hint(*status)
    )]
    Http {
        index: String,
        url: String,
        status: u16,
    },
    #[error(
        "could not reach index `{index}` at `{url}` after {attempts} attempt(s): {cause}; \
         check the network and the index URL, or run with `--offline` if the cache is warm"
    )]
    Network {
        index: String,
        url: String,
        attempts: u32,
        cause: String,
    },
    #[error(
        "index `{index}` did not answer `{url}` within {seconds:.1}s ({attempts} attempt(s)); \
         the index may be down, or raise the timeout"
    )]
    Timeout {
        index: String,
        url: String,
        seconds: f64,
        attempts: u32,
    },
    #[error(
        "`{file}` from index `{index}` does not match its published hash: expected \
         sha256 `{expected}`, got `{actual}`; the file was changed or corrupted on the \
         index, do not install it"
    )]
    HashMismatch {
        file: String,
        index: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{what} is not in the cache and `--offline` forbids the network; run once online to fill the cache"
    )]
    Offline { what: String },
    #[error("cannot read the page `{url}` of index `{index}`: {message}")]
    Parse {
        index: String,
        url: String,
        message: String,
    },
    #[error(
        "index `{index}` serves an invalid value for `{file}` of project `{project}`: \
         {message}; dockgen does not write it into a lock (report it to the index's \
         maintainers, or pin another version)"
    )]
    Invalid {
        index: String,
        project: String,
        file: String,
        /// Boxed to keep the error small.
        message: Box<str>,
    },
    #[error(
        "`{file}` from index `{index}` is {actual} bytes, but the index publishes a \
         size of {expected} bytes; the file was changed or corrupted on the index, \
         do not install it"
    )]
    SizeMismatch {
        file: String,
        index: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "index `{index}` sent more than {limit} bytes for `{url}` ({what}); dockgen \
         stops reading there: check the index URL"
    )]
    TooLarge {
        index: String,
        url: String,
        what: String,
        limit: u64,
    },
    #[error("cannot read the metadata of `{file}`: {message}")]
    Metadata { file: String, message: String },
    #[error(
        "`{file}` needs a build to tell its dependencies ({reason}); pin a version that \
         has wheels or static metadata"
    )]
    NeedsBuild { file: String, reason: String },
    #[error(
        "`{file}` needs a build to tell its dependencies ({reason}), and `--no-build` \
         forbids builds; {alternatives}"
    )]
    NoBuild {
        file: String,
        reason: String,
        /// The versions that need no build, as a sentence.
        alternatives: String,
    },
    /// A metadata build failed (boxed to keep the error small).
    #[error("{0}")]
    Build(Box<crate::sdist::BuildFailure>),
    #[error("cannot read `{path}`: {message}")]
    Io { path: String, message: String },
    /// A direct reference that cannot be locked (boxed to keep the error small).
    #[error("{0}")]
    Direct(Box<DirectFailure>),
    #[error("invalid index configuration: {message}")]
    Config { message: String },
}

/// Why a direct reference (`name @ URL`) cannot be locked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot lock `{name} @ {url}` ({origin}): {message}")]
pub struct DirectFailure {
    pub name: String,
    /// As written, secrets masked.
    pub url: String,
    /// Where it is written, e.g. `requirements.in:3`.
    pub origin: String,
    pub message: String,
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            "; check the credentials for this index (URL userinfo, \
             `DOCKGEN_INDEX_<NAME>_USERNAME`/`_PASSWORD`, or netrc)"
        }
        404 => "; check the index URL",
        429 => "; the index is rate limiting, retry later",
        500..=599 => "; the index has a server error, retry later",
        _ => "",
    }
}

impl From<metadata::MetadataError> for IndexError {
    fn from(error: metadata::MetadataError) -> Self {
        match error {
            metadata::MetadataError::NeedsBuild { filename, reason } => IndexError::NeedsBuild {
                file: filename,
                reason,
            },
            other => {
                let file = match &other {
                    metadata::MetadataError::InvalidField { file, .. }
                    | metadata::MetadataError::MissingField { file, .. } => file.clone(),
                    metadata::MetadataError::Archive { filename, .. }
                    | metadata::MetadataError::Mismatch { filename, .. }
                    | metadata::MetadataError::RangeUnsupported { filename, .. }
                    | metadata::MetadataError::Fetch { filename, .. }
                    | metadata::MetadataError::NeedsBuild { filename, .. } => filename.clone(),
                    metadata::MetadataError::Filename(_) => String::new(),
                };
                IndexError::Metadata {
                    file,
                    message: other.to_string(),
                }
            }
        }
    }
}
