//! Resolution: PubGrub over the target environment of one profile.
//!
//! The resolver does no I/O of its own: it asks a [`PackageSource`] (which blocks
//! while the index client works concurrently), evaluates markers for the profile's
//! target, and turns a failure into a derivation a person can read.

pub mod accelerator;
mod candidates;
mod package;
mod provider;
mod report;
pub mod specifiers;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifier};
use pep508_rs::{ExtraName, PackageName, Requirement};

pub use accelerator::{AcceleratorError, AcceleratorPolicy};
pub use candidates::FormatPolicy;

use crate::index::{CoreMetadata, IndexError, PackageSource};
use crate::input::requirements::BinarySelection;
use crate::input::target::Target;

/// A requirement of the lock's inputs, with the label that `# via` shows for it
/// (e.g. `-r requirements.in`).
#[derive(Debug, Clone)]
pub struct RootRequirement {
    pub requirement: Requirement,
    pub source: String,
}

/// Everything one resolution depends on besides the indexes.
#[derive(Debug, Clone)]
pub struct ResolveRequest {
    pub target: Target,
    pub requirements: Vec<RootRequirement>,
    /// Narrow a package's versions wherever it is required; never add a package.
    pub constraints: Vec<RootRequirement>,
    /// Replace every requirement on a package, whoever declares it.
    pub overrides: Vec<RootRequirement>,
    /// Pins to keep when they still satisfy everything (an existing lock).
    pub preferences: BTreeMap<PackageName, Version>,
    /// Allow pre-releases everywhere (`--pre`).
    pub prereleases: bool,
    pub only_binary: BinarySelection,
    pub no_binary: BinarySelection,
    pub accelerator: AcceleratorPolicy,
}

impl ResolveRequest {
    /// Resolve `requirements` for `target` with no constraints, overrides or
    /// preferences, stable releases only, wheels and sdists alike, no accelerator check.
    pub fn new(target: Target, requirements: Vec<RootRequirement>) -> Self {
        Self {
            target,
            requirements,
            constraints: Vec::new(),
            overrides: Vec::new(),
            preferences: BTreeMap::new(),
            prereleases: false,
            only_binary: BinarySelection::Nothing,
            no_binary: BinarySelection::Nothing,
            accelerator: AcceleratorPolicy::cpu(),
        }
    }
}

/// The chosen set: one version per package, with the files the target can install.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub packages: BTreeMap<PackageName, ResolvedPackage>,
}

#[derive(Debug, Clone)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The index (or find-links source) the files come from.
    pub index: Arc<str>,
    /// The URL the lock writes (`name @ URL`) when the input requires the package by a
    /// direct reference; its one file is that archive.
    pub direct: Option<String>,
    /// Extras some requirement activated.
    pub extras: BTreeSet<ExtraName>,
    /// Installable files of this version for the target, by filename.
    pub files: Vec<LockedFile>,
    /// Requirements of this package active on the target, as declared.
    pub dependencies: Vec<Dependency>,
    /// Who asked for it: input labels (`-r requirements.in`) and package names.
    pub required_by: BTreeSet<RequiredBy>,
    pub metadata: Arc<CoreMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedFile {
    pub filename: String,
    pub url: url::Url,
    pub sha256: String,
    pub is_wheel: bool,
    pub size: Option<u64>,
}

/// One edge of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: PackageName,
    pub extras: Vec<ExtraName>,
    /// The requirement as the package declares it, e.g. `idna>=2.8`.
    pub requirement: String,
    /// Its version specifiers as pipdeptree shows them (see [`specifier_text`]), e.g.
    /// `>=0.40.0,<0.48.0`; empty when it has none (pipdeptree's `Any`).
    pub specifier: String,
    /// Set when the edge comes in through one of this package's extras.
    pub via_extra: Option<ExtraName>,
}

/// A requirement's version specifiers as pipdeptree 2.x shows them: each one's text,
/// sorted in reverse (so `>=` comes before `<`), comma-joined, the same text once;
/// empty for none (a bare name or a URL). The text is pep440's normal form of each
/// specifier, which is what packaging prints unless the metadata spells a version in
/// a non-normal way (`1.0-rc1`), which no current wheel tool writes.
pub fn specifier_text(specifiers: &[VersionSpecifier]) -> String {
    let mut texts: Vec<String> = specifiers.iter().map(ToString::to_string).collect();
    texts.sort_unstable_by(|a, b| b.cmp(a));
    texts.dedup();
    texts.join(",")
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequiredBy {
    Input(String),
    Package(PackageName),
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no solution for the requirements on profile `{profile}`:\n\n{explanation}")]
    NoSolution {
        profile: String,
        explanation: String,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Accelerator(#[from] Box<AcceleratorError>),
    #[error("{0}")]
    Unsupported(String),
}

/// Resolve `request` against `source` for the profile named `profile`.
pub fn resolve(
    source: &dyn PackageSource,
    request: &ResolveRequest,
    profile: &str,
) -> Result<Resolution, ResolveError> {
    let resolution = provider::solve(source, request, profile)?;
    accelerator::check(&resolution, &request.accelerator, &request.target, profile)?;
    Ok(resolution)
}

#[cfg(test)]
mod tests;
