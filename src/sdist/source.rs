//! [`BuildingSource`]: the profile's source, with sdists whose metadata needs a build
//! built (or, under `--no-build`, refused with the versions that need none).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use pep508_rs::{PackageName, Requirement};

use super::{BuildIndexes, Builder, Sdist, SdistSource};
use crate::index::direct::TreeBuilds;
use crate::index::filename::SdistFormat;
use crate::index::registry::RegistryClient;
use crate::index::{
    CoreMetadata, DistFile, DistKind, IndexError, PackageSource, ProjectFiles, metadata, strategy,
};
use crate::input::target::Target;

/// `inner`, with metadata builds for the sdists it cannot read statically.
pub struct BuildingSource<'a> {
    inner: &'a dyn PackageSource,
    builds: &'a ProfileBuilds<'a>,
}

impl<'a> BuildingSource<'a> {
    pub fn new(inner: &'a dyn PackageSource, builds: &'a ProfileBuilds<'a>) -> Self {
        Self { inner, builds }
    }

    fn build(&self, file: &DistFile, reason: String) -> Result<Arc<CoreMetadata>, IndexError> {
        let name = sdist_name(&file.filename).ok_or_else(|| IndexError::NeedsBuild {
            file: file.filename.clone(),
            reason: reason.clone(),
        })?;
        if self.builds.builder.options().no_build {
            return Err(IndexError::NoBuild {
                file: file.filename.clone(),
                reason,
                alternatives: self.alternatives(&name),
            });
        }
        let sha256 = match &file.sha256 {
            Some(hash) => hash.clone(),
            None => self.inner.sha256(file)?,
        };
        let download = |path: &std::path::Path| -> Result<(), IndexError> {
            if let Some(bytes) = self.builds.client.take_sdist(file) {
                return std::fs::write(path, bytes).map_err(|err| IndexError::Io {
                    path: path.display().to_string(),
                    message: err.to_string(),
                });
            }
            if file.url.scheme() == "file" {
                let from = file.url.to_file_path().map_err(|()| IndexError::Io {
                    path: file.url.to_string(),
                    message: "not a local path".into(),
                })?;
                let bytes = std::fs::read(&from).map_err(|err| IndexError::Io {
                    path: from.display().to_string(),
                    message: err.to_string(),
                })?;
                // The file was hashed when it was read for its metadata; it must not
                // have changed since, or the build would be cached under that hash.
                let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                if actual != sha256 {
                    return Err(IndexError::HashMismatch {
                        file: file.filename.clone(),
                        index: file.index.to_string(),
                        expected: sha256.clone(),
                        actual,
                    });
                }
                std::fs::write(path, bytes).map_err(|err| IndexError::Io {
                    path: path.display().to_string(),
                    message: err.to_string(),
                })
            } else {
                self.builds.client.download_to_path(file, path).map(drop)
            }
        };
        let sdist = Sdist {
            name: &name,
            version: Some(&file.version),
            filename: &file.filename,
            sha256: &sha256,
            source: SdistSource::Archive(&download),
        };
        Ok(Arc::new(self.builds.metadata(&sdist)?))
    }

    /// The newest versions of `name` that have a wheel for the target, for the
    /// `--no-build` error.
    fn alternatives(&self, name: &PackageName) -> String {
        if self.inner.direct_url(name).is_some() {
            return format!("require a wheel of `{name}` instead");
        }
        let Ok(Some(project)) = self.inner.project(name) else {
            return String::new();
        };
        let mut versions: Vec<_> = project
            .files
            .iter()
            .filter(|file| file.yanked.is_none())
            .filter(|file| self.builds.target.dist_rank(&file.kind).is_some())
            .map(|file| file.version.clone())
            .collect();
        versions.sort();
        versions.dedup();
        let newest: Vec<String> = versions
            .iter()
            .rev()
            .take(5)
            .map(|v| v.to_string())
            .collect();
        match newest.as_slice() {
            [] => format!("no version of `{name}` has a wheel for this target"),
            _ => format!(
                "versions of `{name}` with wheels for this target: {}",
                newest.join(", ")
            ),
        }
    }
}

/// Metadata builds for one profile: its indexes (where sdists and build requirements
/// come from), its target's Python, its `extra_build_dependencies`. Serves
/// [`BuildingSource`] and, for git commits' trees,
/// [`crate::index::direct::DirectSource`].
pub struct ProfileBuilds<'a> {
    client: &'a RegistryClient,
    builder: &'a Builder,
    target: &'a Target,
    extra: &'a BTreeMap<PackageName, Vec<Requirement>>,
}

impl<'a> ProfileBuilds<'a> {
    pub fn new(
        client: &'a RegistryClient,
        builder: &'a Builder,
        target: &'a Target,
        extra: &'a BTreeMap<PackageName, Vec<Requirement>>,
    ) -> Self {
        Self {
            client,
            builder,
            target,
            extra,
        }
    }

    fn metadata(&self, sdist: &Sdist<'_>) -> Result<CoreMetadata, IndexError> {
        let indexes = BuildIndexes {
            client: self.client,
            extra: self.extra,
        };
        let bytes = self
            .builder
            .metadata(sdist, &self.target.python, &indexes)?;
        Ok(metadata::parse_core_metadata(&bytes, sdist.filename)?)
    }
}

impl TreeBuilds for ProfileBuilds<'_> {
    fn tree_metadata(
        &self,
        tree: &std::path::Path,
        name: &PackageName,
        label: &str,
        key: &str,
    ) -> Result<CoreMetadata, IndexError> {
        self.metadata(&Sdist {
            name,
            version: None,
            filename: label,
            sha256: key,
            source: SdistSource::Tree(tree),
        })
    }
}

/// The project name an sdist's file name starts with (`name-version.tar.gz`).
fn sdist_name(filename: &str) -> Option<PackageName> {
    let (stem, _) = SdistFormat::from_filename(filename)?;
    let (name, _) = stem.rsplit_once('-')?;
    PackageName::from_str(name).ok()
}

impl PackageSource for BuildingSource<'_> {
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        self.inner.project(name)
    }

    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        match self.inner.metadata(file) {
            Err(IndexError::NeedsBuild { reason, .. }) if file.kind == DistKind::Sdist => {
                self.build(file, reason)
            }
            other => other,
        }
    }

    fn sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        self.inner.sha256(file)
    }

    fn survey(&self, name: &PackageName) -> Option<strategy::IndexSurvey> {
        self.inner.survey(name)
    }

    fn prefetch_project(&self, name: &PackageName) {
        self.inner.prefetch_project(name);
    }

    fn prefetch_metadata(&self, file: &DistFile) {
        self.inner.prefetch_metadata(file);
    }

    fn direct_url(&self, name: &PackageName) -> Option<String> {
        self.inner.direct_url(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_the_file_name() {
        let name = |f: &str| sdist_name(f).map(|n| n.to_string());
        assert_eq!(name("basicsr-1.4.2.tar.gz").as_deref(), Some("basicsr"));
        assert_eq!(
            name("flash_attn-2.8.3.tar.gz").as_deref(),
            Some("flash-attn")
        );
        assert_eq!(name("Py-Foo.Bar-0.1.zip").as_deref(), Some("py-foo-bar"));
        assert_eq!(name("nodash.tar.gz"), None);
    }
}
