//! `requirements.in` files, as pip and pip-tools read them.
//!
//! STUB: the input helper owns this file and replaces the bodies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pep508_rs::{PackageName, Requirement};
use url::Url;

/// Where a line came from: shown in errors and in `# via` annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct InputRequirement {
    pub requirement: Requirement,
    pub origin: Origin,
}

/// `--find-links` target: a local directory or a page of links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindLinks {
    Directory(PathBuf),
    Url(Url),
}

/// pip's `--only-binary` / `--no-binary` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BinarySelection {
    #[default]
    Nothing,
    All,
    Packages(BTreeSet<PackageName>),
}

impl BinarySelection {
    pub fn contains(&self, name: &PackageName) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::Packages(names) => names.contains(name),
        }
    }
}

/// Everything one input file (and the files it includes) says.
#[derive(Debug, Clone, Default)]
pub struct RequirementsInput {
    pub requirements: Vec<InputRequirement>,
    pub constraints: Vec<InputRequirement>,
    pub index_url: Option<Url>,
    pub extra_index_urls: Vec<Url>,
    pub find_links: Vec<FindLinks>,
    pub pre: bool,
    pub only_binary: BinarySelection,
    pub no_binary: BinarySelection,
    /// Every file read, in the order read (the top file first).
    pub files: Vec<PathBuf>,
}

pub fn parse_requirements_file(path: &Path) -> Result<RequirementsInput, RequirementsError> {
    let _ = path;
    todo!()
}

#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}
