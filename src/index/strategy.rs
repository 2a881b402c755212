//! Which general indexes a project's versions come from (`--index-strategy`, as uv
//! spells it), and the record of which indexes were asked, for "no solution" reports.
//!
//! The default, [`IndexStrategy::FirstIndex`], takes every version from the first
//! index that has the project and never asks the others: a name published on a public
//! index cannot then shadow the same name on a private one (dependency confusion).
//! [`IndexStrategy::UnsafeBestMatch`] asks every index and merges their versions, the
//! first index's files winning where two list the same version, as uv does;
//! [`IndexStrategy::UnsafeFirstMatch`] merges them alike, but the resolver tries the
//! first index's versions before any of the next one's.

use std::collections::BTreeMap;
use std::sync::Arc;

use pep440_rs::Version;

use super::{DistFile, Skipped};

/// How the general indexes (those without a `packages:` list) share a project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IndexStrategy {
    /// Every version from the first index that has the project; the rest never asked.
    #[default]
    FirstIndex,
    /// Every index asked; the first index's versions tried first (newest first), then
    /// the next index's.
    UnsafeFirstMatch,
    /// Every index asked; all their versions considered, the newest fitting one wins.
    UnsafeBestMatch,
}

impl IndexStrategy {
    /// The name on the command line (`--index-strategy NAME`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstIndex => "first-index",
            Self::UnsafeFirstMatch => "unsafe-first-match",
            Self::UnsafeBestMatch => "unsafe-best-match",
        }
    }
}

impl std::fmt::Display for IndexStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one index said about a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexAnswer {
    /// It lists files of the project (after `exclude_newer`): `versions` of them, and
    /// the newest, are those the view's target can use (every version, in a view
    /// without a target; none, when it can use no file).
    Has {
        versions: usize,
        newest: Option<Version>,
    },
    /// No page for the project.
    Missing,
    /// A page, but no file left on it (`too_new` of them dropped by `exclude_newer`).
    Empty { too_new: usize },
    /// Not asked: an earlier index had the project (first-index strategy).
    NotAsked,
}

/// Every general index of a view, in priority order, with its answer about one
/// project. Only made for projects no `packages:` list pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSurvey {
    pub strategy: IndexStrategy,
    pub indexes: Vec<SurveyedIndex>,
}

/// One index of an [`IndexSurvey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyedIndex {
    pub name: Arc<str>,
    /// Redacted, for messages.
    pub url: String,
    pub answer: IndexAnswer,
}

impl IndexSurvey {
    /// What `files` (one index's, after `exclude_newer`) say, `listed` files before it.
    /// What an index's page of a project answers: `files` the target can use,
    /// `skipped` files it cannot, `too_new` files `exclude_newer` dropped.
    pub fn answer(files: &[DistFile], skipped: Skipped, too_new: usize) -> IndexAnswer {
        if files.is_empty() && skipped.total() == 0 {
            return IndexAnswer::Empty { too_new };
        }
        let versions: std::collections::BTreeSet<&Version> =
            files.iter().map(|f| &f.version).collect();
        IndexAnswer::Has {
            versions: versions.len(),
            newest: versions.last().map(|v| (*v).clone()),
        }
    }

    /// One sentence for a "no solution" report about `name`, when the index choice may
    /// be why no version fits: more than one general index, and at least one has it.
    pub fn hint(&self, name: &str) -> Option<String> {
        if self.indexes.len() < 2
            || !self
                .indexes
                .iter()
                .any(|i| matches!(i.answer, IndexAnswer::Has { .. }))
        {
            return None;
        }
        let mut asked = Vec::new();
        let mut not_asked = Vec::new();
        for surveyed in &self.indexes {
            let index = format!("`{}` ({})", surveyed.name, surveyed.url);
            match &surveyed.answer {
                IndexAnswer::Has { versions: 0, .. } => {
                    asked.push(format!("{index} has files of it, none the target can use"))
                }
                IndexAnswer::Has { versions, newest } => {
                    let noun = if *versions == 1 {
                        "version"
                    } else {
                        "versions"
                    };
                    let newest = match newest {
                        Some(v) if *versions > 1 => format!(", the newest {v}"),
                        Some(v) => format!(": {v}"),
                        None => String::new(),
                    };
                    asked.push(format!("{index} has {versions} {noun}{newest}"));
                }
                IndexAnswer::Missing => asked.push(format!("{index} does not have it")),
                IndexAnswer::Empty { too_new: 0 } => {
                    asked.push(format!("{index} lists no files of it"))
                }
                IndexAnswer::Empty { too_new } => asked.push(format!(
                    "{index} has only files newer than `exclude-newer` ({too_new})"
                )),
                IndexAnswer::NotAsked => not_asked.push(index),
            }
        }
        let mut text = match self.strategy {
            IndexStrategy::FirstIndex => format!(
                "`{name}` comes from the first index that has it (`--index-strategy first-index`): {}",
                asked.join("; ")
            ),
            strategy => format!(
                "`{name}` was looked up on every index (`--index-strategy {strategy}`): {}",
                asked.join("; ")
            ),
        };
        if !not_asked.is_empty() {
            let (noun, pronoun) = match not_asked.len() {
                1 => ("index", "it"),
                _ => ("indexes", "one of them"),
            };
            text.push_str(&format!(
                ". Never asked: {noun} {}. If {pronoun} has the version you need, list \
                 `{name}` under that index's `packages:` in a profile, or pass \
                 `--index-strategy unsafe-best-match` (every index asked; see \
                 `dockgen lock --help` for its risk)",
                not_asked.join(", ")
            ));
        }
        Some(text)
    }
}

/// Unsafe-best-match and unsafe-first-match: the files of every index that has the project (`per_index`, in
/// priority order), where a version listed by several comes only from the first.
pub fn merge_best_match(per_index: Vec<Vec<DistFile>>) -> Vec<DistFile> {
    let mut owner: BTreeMap<Version, usize> = BTreeMap::new();
    for (i, files) in per_index.iter().enumerate() {
        for file in files {
            owner.entry(file.version.clone()).or_insert(i);
        }
    }
    per_index
        .into_iter()
        .enumerate()
        .flat_map(|(i, files)| files.into_iter().map(move |f| (i, f)))
        .filter(|(i, f)| owner.get(&f.version) == Some(i))
        .map(|(_, f)| f)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::index::DistKind;

    fn file(index: &str, version: &str, filename: &str) -> DistFile {
        DistFile {
            filename: filename.into(),
            kind: DistKind::Sdist,
            version: Version::from_str(version).unwrap(),
            url: url::Url::parse(&format!("https://{index}.example/{filename}")).unwrap(),
            sha256: None,
            requires_python: None,
            yanked: None,
            upload_time: None,
            size: None,
            has_metadata_sidecar: false,
            index: Arc::from(index),
        }
    }

    #[test]
    fn best_match_keeps_the_first_index_entry_of_a_shared_version() {
        let merged = merge_best_match(vec![
            vec![file("a", "1.0", "x-1.0.tar.gz")],
            vec![
                file("b", "1.0", "x-1.0.tar.gz"),
                file("b", "1.0", "x-1.0-py3-none-any.whl"),
                file("b", "2.0", "x-2.0.tar.gz"),
            ],
        ]);
        let got: Vec<(String, String)> = merged
            .iter()
            .map(|f| (f.index.to_string(), f.filename.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), "x-1.0.tar.gz".to_string()),
                ("b".to_string(), "x-2.0.tar.gz".to_string()),
            ]
        );
    }

    fn surveyed(name: &str, answer: IndexAnswer) -> SurveyedIndex {
        SurveyedIndex {
            name: Arc::from(name),
            url: format!("https://{name}.example/simple/"),
            answer,
        }
    }

    #[test]
    fn no_hint_for_one_index_or_a_project_nowhere() {
        let one = IndexSurvey {
            strategy: IndexStrategy::FirstIndex,
            indexes: vec![surveyed(
                "pypi",
                IndexAnswer::Has {
                    versions: 1,
                    newest: None,
                },
            )],
        };
        assert_eq!(one.hint("x"), None);
        let nowhere = IndexSurvey {
            strategy: IndexStrategy::FirstIndex,
            indexes: vec![
                surveyed("a", IndexAnswer::Missing),
                surveyed("b", IndexAnswer::Missing),
            ],
        };
        assert_eq!(nowhere.hint("x"), None);
    }

    #[test]
    fn hint_names_every_index_and_those_never_asked() {
        let survey = IndexSurvey {
            strategy: IndexStrategy::FirstIndex,
            indexes: vec![
                surveyed("private", IndexAnswer::Missing),
                surveyed("dated", IndexAnswer::Empty { too_new: 2 }),
                surveyed(
                    "extra",
                    IndexAnswer::Has {
                        versions: 1,
                        newest: Some(Version::from_str("0.6.17").unwrap()),
                    },
                ),
                surveyed("pypi", IndexAnswer::NotAsked),
                surveyed("mirror", IndexAnswer::NotAsked),
            ],
        };
        assert_eq!(
            survey.hint("flashinfer-cubin").unwrap(),
            "`flashinfer-cubin` comes from the first index that has it (`--index-strategy \
             first-index`): `private` (https://private.example/simple/) does not have it; \
             `dated` (https://dated.example/simple/) has only files newer than \
             `exclude-newer` (2); `extra` (https://extra.example/simple/) has 1 version: \
             0.6.17. Never asked: indexes `pypi` (https://pypi.example/simple/), `mirror` \
             (https://mirror.example/simple/). If one of them has the version you need, list \
             `flashinfer-cubin` under that index's `packages:` in a profile, or pass \
             `--index-strategy unsafe-best-match` (every index asked; see `dockgen lock \
             --help` for its risk)"
        );
    }

    #[test]
    fn answer_counts_versions_and_dropped_files() {
        let files = [
            file("a", "1.0", "x-1.0.tar.gz"),
            file("a", "2.0", "x-2.0.tar.gz"),
        ];
        assert_eq!(
            IndexSurvey::answer(&files, Skipped::default(), 1),
            IndexAnswer::Has {
                versions: 2,
                newest: Some(Version::from_str("2.0").unwrap()),
            }
        );
        assert_eq!(
            IndexSurvey::answer(&[], Skipped::default(), 3),
            IndexAnswer::Empty { too_new: 3 }
        );
        let other_platforms = Skipped {
            incompatible_wheels: 2,
            requires_python: 0,
        };
        assert_eq!(
            IndexSurvey::answer(&[], other_platforms, 0),
            IndexAnswer::Has {
                versions: 0,
                newest: None
            }
        );
    }
}
