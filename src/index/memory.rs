//! An in-memory [`PackageSource`] for unit tests of the stages that consume indexes.
//! (Index behaviour itself is tested against real loopback HTTP servers.)

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;

use super::{CoreMetadata, DistFile, DistKind, IndexError, PackageSource, ProjectFiles, WheelTags};
use crate::input::pep508::parse_requirement;

#[derive(Default)]
pub struct MemorySource {
    projects: HashMap<PackageName, ProjectFiles>,
    /// By filename; an error where a requirement of the release is not PEP 508, as an
    /// index's broken METADATA would be.
    metadata: HashMap<String, Result<Arc<CoreMetadata>, IndexError>>,
}

/// One release: `name`, `version`, requirements, and optional wheel tag / flags.
pub struct Release<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub requires: &'a [&'a str],
    pub requires_python: Option<&'a str>,
    /// `py3-none-any` unless set.
    pub tag: &'a str,
    pub yanked: bool,
    pub index: &'a str,
}

impl<'a> Release<'a> {
    pub fn new(name: &'a str, version: &'a str, requires: &'a [&'a str]) -> Self {
        Self {
            name,
            version,
            requires,
            requires_python: None,
            tag: "py3-none-any",
            yanked: false,
            index: "pypi",
        }
    }
}

impl MemorySource {
    pub fn add(&mut self, release: Release<'_>) -> &mut Self {
        let name = PackageName::from_str(release.name).expect("test package name");
        let version = Version::from_str(release.version).expect("test version");
        let mut tags = release.tag.splitn(3, '-');
        let mut set = || tags.next().unwrap_or_default();
        let kind = DistKind::Wheel(WheelTags::new(set(), set(), set()));
        let filename = format!(
            "{}-{}-{}.whl",
            name.as_dist_info_name(),
            version,
            release.tag
        );
        let requires_python = release
            .requires_python
            .map(|s| VersionSpecifiers::from_str(s).expect("test specifiers"));
        let file = DistFile {
            filename: filename.clone(),
            kind,
            version: version.clone(),
            url: url::Url::parse(&format!("https://files.example/{filename}")).expect("test url"),
            sha256: Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                filename.as_bytes(),
            ))),
            requires_python: requires_python.clone(),
            yanked: release.yanked.then(String::new),
            upload_time: None,
            size: Some(1),
            has_metadata_sidecar: true,
            index: Arc::from(release.index),
        };
        let requires_dist = release
            .requires
            .iter()
            .map(|r| parse_requirement(r, None))
            .collect::<Result<Vec<_>, _>>();
        let requires_dist = match requires_dist {
            Ok(requires_dist) => requires_dist,
            Err(err) => {
                let error = IndexError::Metadata {
                    file: filename.clone(),
                    message: format!("invalid `Requires-Dist`: {}", err.message),
                };
                self.metadata.insert(filename.clone(), Err(error));
                Vec::new()
            }
        };
        let metadata = CoreMetadata {
            name: name.clone(),
            version,
            requires_dist,
            requires_python,
            provides_extras: Vec::new(),
            summary: None,
            license: None,
            license_expression: None,
            license_classifiers: Vec::new(),
        };
        self.metadata
            .entry(filename)
            .or_insert(Ok(Arc::new(metadata)));
        self.projects
            .entry(name.clone())
            .or_insert_with(|| ProjectFiles {
                name,
                index: Arc::from(release.index),
                files: Vec::new(),
                skipped: Default::default(),
            })
            .files
            .push(file);
        self
    }
}

impl PackageSource for MemorySource {
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        Ok(self.projects.get(name).cloned().map(Arc::new))
    }

    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        self.metadata
            .get(&file.filename)
            .cloned()
            .unwrap_or_else(|| {
                Err(IndexError::Metadata {
                    file: file.filename.clone(),
                    message: "no metadata in the test source".into(),
                })
            })
    }

    fn sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        Ok(file.sha256.clone().unwrap_or_default())
    }
}
