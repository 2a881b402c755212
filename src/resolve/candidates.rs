//! Which versions of a project the target can use, and with which files.
//!
//! A version is a candidate when at least one of its files installs on the target:
//! a wheel whose tags the target accepts, or an sdist (unless binaries are
//! required), with a `Requires-Python` that admits the target interpreter.

use std::collections::BTreeMap;
use std::sync::Arc;

use pep440_rs::Version;

use crate::index::{DistFile, DistKind, ProjectFiles};
use crate::input::target::Target;

/// The usable files of one version, best first: wheels by tag preference, then sdists.
/// They stay in the project's list: a candidate holds their positions there.
#[derive(Debug, Clone)]
pub struct Candidate {
    project: Arc<ProjectFiles>,
    /// Positions in `project.files`, best first; never empty.
    files: Vec<u32>,
    /// Every usable file is yanked: only an exact pin may select it.
    pub yanked: bool,
}

impl Candidate {
    /// The file whose metadata stands for the version.
    pub fn representative(&self) -> &DistFile {
        &self.project.files[self.files[0] as usize]
    }

    /// The usable files, best first.
    pub fn files(&self) -> impl Iterator<Item = &DistFile> {
        self.files
            .iter()
            .map(|&at| &self.project.files[at as usize])
    }
}

/// Whether wheels and sdists may be used for one project.
#[derive(Debug, Clone, Copy)]
pub struct FormatPolicy {
    pub wheels: bool,
    pub sdists: bool,
}

#[derive(Debug, Default)]
pub struct Candidates {
    pub versions: BTreeMap<Version, Candidate>,
    /// Versions dropped and why, for explanations when nothing is left.
    pub excluded: ExclusionCounts,
    /// The index that has a page for the project but lists no files on it.
    pub empty_on: Option<std::sync::Arc<str>>,
    /// Unsafe-first-match: the indexes in priority order; versions are tried by the
    /// rank of their index first, newest first within one.
    pub index_order: Option<Vec<std::sync::Arc<str>>>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ExclusionCounts {
    pub incompatible_wheels: usize,
    pub requires_python: usize,
    pub policy: usize,
}

impl Candidates {
    pub fn new(project: &Arc<ProjectFiles>, target: &Target, policy: FormatPolicy) -> Self {
        let mut excluded = ExclusionCounts {
            incompatible_wheels: project.skipped.incompatible_wheels,
            requires_python: project.skipped.requires_python,
            policy: 0,
        };
        let mut ranked: BTreeMap<Version, Vec<(usize, u32)>> = BTreeMap::new();
        for (at, file) in project.files.iter().enumerate() {
            if let Some(requires_python) = &file.requires_python
                && !requires_python.contains(&target.python)
            {
                excluded.requires_python += 1;
                continue;
            }
            let rank = match &file.kind {
                DistKind::Wheel(_) => {
                    if !policy.wheels {
                        excluded.policy += 1;
                        continue;
                    }
                    match target.dist_rank(&file.kind) {
                        Some(rank) => rank,
                        None => {
                            excluded.incompatible_wheels += 1;
                            continue;
                        }
                    }
                }
                DistKind::Sdist => {
                    if !policy.sdists {
                        excluded.policy += 1;
                        continue;
                    }
                    usize::MAX
                }
            };
            let at = u32::try_from(at).expect("fewer than 4 billion files of a project");
            ranked
                .entry(file.version.clone())
                .or_default()
                .push((rank, at));
        }
        let versions = ranked
            .into_iter()
            .map(|(version, mut files)| {
                let file = |at: u32| &project.files[at as usize];
                files.sort_by(|&(ra, a), &(rb, b)| {
                    ra.cmp(&rb)
                        .then_with(|| file(a).filename.cmp(&file(b).filename))
                });
                let yanked = files.iter().all(|&(_, at)| file(at).yanked.is_some());
                let files = files
                    .into_iter()
                    .filter(|&(_, at)| yanked || file(at).yanked.is_none())
                    .map(|(_, at)| at)
                    .collect();
                let project = project.clone();
                (
                    version,
                    Candidate {
                        project,
                        files,
                        yanked,
                    },
                )
            })
            .collect();
        Self {
            versions,
            excluded,
            empty_on: (project.files.is_empty() && project.skipped.total() == 0)
                .then(|| project.index.clone()),
            index_order: None,
        }
    }
}

impl Candidates {
    /// Where `candidate`'s index stands in [`Candidates::index_order`] (find-links
    /// sources and unknown indexes last).
    pub fn index_rank(&self, candidate: &Candidate) -> usize {
        let index = &candidate.representative().index;
        self.index_order
            .as_ref()
            .and_then(|order| order.iter().position(|i| i == index))
            .unwrap_or(usize::MAX)
    }
}
