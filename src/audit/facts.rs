//! What a lock installs, completed from the profile's indexes: the audit views
//! (`check`, `sbom`) read only this.
//!
//! A lock holds names, versions, sha256 hashes and `# via` annotations. For every pin
//! the indexes add the files those hashes name (file name, size, wheel tags, index,
//! URL), which of them the target installs, its core metadata (licenses, requirements),
//! and what installing it puts into site-packages: the top-level import names of a
//! wheel (from its zip's central directory, read by range requests) or the build
//! requirements of an sdist. Every answer goes through the [`RegistryClient`] and its
//! disk cache, so with a warm cache and `--offline` gathering makes no request at all,
//! and the views are fast and deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::Serialize;

use crate::index::registry::RegistryClient;
use crate::index::{BuildSystem, CoreMetadata, DistFile, DistKind, IndexError, PackageSource};
use crate::input::target::Target;
use crate::lock::{LockFile, Via};

/// Every pin of a lock with what the indexes say about it, by name.
#[derive(Debug, Clone)]
pub struct Facts {
    pub packages: BTreeMap<PackageName, PackageFacts>,
}

/// One pin of the lock.
#[derive(Debug, Clone)]
pub struct PackageFacts {
    pub name: PackageName,
    pub version: Version,
    /// The locked sha256 hashes, in lock order.
    pub hashes: Vec<String>,
    /// The lock's `# via` entries.
    pub via: Vec<Via>,
    /// The index that serves the project; `None` when no index of the profile has it.
    pub index: Option<String>,
    /// The files whose sha256 the lock names, in lock order.
    pub files: Vec<LockedFile>,
    /// Locked hashes that no file the index lists has.
    pub unknown_hashes: Vec<String>,
    /// What the target installs: the position in `files` of the best-ranked wheel for
    /// the target's tags, else of the sdist; `None` when no locked file fits.
    pub install: Option<usize>,
    /// Files of the pinned version the index lists but the lock does not name, the
    /// target's verdict on each (`true`: it could install it).
    pub unlocked: Vec<(String, bool)>,
    /// Core metadata of the installed file (else of the first locked file).
    pub metadata: Option<Arc<CoreMetadata>>,
    /// Why there is no metadata, when there is none but there are files.
    pub metadata_missing: Option<String>,
    /// The lock's `git+URL@<commit>` of a git pin, which names no file.
    pub git_pin: Option<String>,
    /// The lock's `file:///abs/path` of a local directory pin, which names no file.
    pub directory_pin: Option<String>,
}

impl PackageFacts {
    /// The file the target installs.
    pub fn installed(&self) -> Option<&LockedFile> {
        self.install.map(|at| &self.files[at])
    }

    /// `name==version`, as findings and reports name a pin.
    pub fn pin(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }

    /// An input asks for it (`# via -r ...`): a top-level requirement.
    pub fn from_input(&self) -> bool {
        self.via.iter().any(|via| matches!(via, Via::Input(_)))
    }
}

/// The locked packages and the `# via` edges between them, by key: what each one
/// requires.
pub struct Edges<'f> {
    /// Per package, `(child, only through an extra)`, once per pair (a plain
    /// requirement wins over one through an extra); a package's own extras leave out.
    pub children: BTreeMap<&'f PackageName, Vec<(&'f PackageName, bool)>>,
}

impl<'f> Edges<'f> {
    pub fn of(facts: &'f Facts) -> Self {
        let mut children: BTreeMap<&PackageName, Vec<(&PackageName, bool)>> =
            facts.packages.keys().map(|key| (key, Vec::new())).collect();
        for (child, package) in &facts.packages {
            for via in package.via.iter().filter_map(Via::package) {
                if via.name == *child {
                    continue;
                }
                let Some(list) = children.get_mut(&via.name) else {
                    continue;
                };
                match list.iter_mut().find(|(c, _)| *c == child) {
                    Some(edge) => edge.1 &= via.extra.is_some(),
                    None => list.push((child, via.extra.is_some())),
                }
            }
        }
        Edges { children }
    }

    /// Every package `from` reaches, those in `from` included.
    pub fn reach(
        &self,
        from: impl IntoIterator<Item = &'f PackageName>,
    ) -> BTreeSet<&'f PackageName> {
        let mut seen = BTreeSet::new();
        let mut queue = std::collections::VecDeque::new();
        for key in from {
            if seen.insert(key) {
                queue.push_back(key);
            }
        }
        while let Some(key) = queue.pop_front() {
            for (child, _) in self.children.get(key).into_iter().flatten() {
                if seen.insert(child) {
                    queue.push_back(child);
                }
            }
        }
        seen
    }
}

/// One locked file, as its index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedFile {
    pub filename: String,
    pub sha256: String,
    pub size: Option<u64>,
    /// Where the index serves it, without credentials.
    pub url: String,
    pub index: String,
    pub kind: FileKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FileKind {
    Wheel {
        /// The tag triples the filename expands to, `py3-none-any`.
        tags: Vec<String>,
        /// Rank of its best tag for the target (0 is the most preferred); `None` when
        /// the target cannot install it.
        rank: Option<usize>,
        /// What it installs at the top of site-packages; read for the installed wheel only.
        top_level: Option<Vec<TopLevel>>,
        /// Bytes its files take unpacked (the zip's uncompressed sizes, before pip
        /// compiles `.pyc` files); read for the installed wheel only.
        unpacked: Option<u64>,
    },
    Sdist {
        /// How it is built; read for the installed sdist only.
        build: Option<BuildSystem>,
    },
}

impl LockedFile {
    pub fn is_wheel(&self) -> bool {
        matches!(self.kind, FileKind::Wheel { .. })
    }

    /// What it takes once installed: a wheel's unpacked size when it was read, else
    /// (an sdist, whose build is not known here) the file's own size.
    pub fn installed_size(&self) -> Option<u64> {
        match self.kind {
            FileKind::Wheel {
                unpacked: Some(bytes),
                ..
            } => Some(bytes),
            _ => self.size,
        }
    }
}

/// A name a distribution puts at the top of site-packages, importable as `import name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TopLevel {
    pub name: String,
    pub kind: TopLevelKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TopLevelKind {
    /// A directory with `__init__.py`.
    Package,
    /// A directory without `__init__.py`: a PEP 420 namespace portion, which several
    /// distributions may share (`google/`, `nvidia/`).
    Namespace,
    /// A single module file (`six.py`, `_cffi_backend.cpython-311-x86_64-linux-gnu.so`).
    Module,
}

/// A failure that stops the gathering: the network, the cache under `--offline`, a
/// broken file. Names the package and, through the index error, the file and index.
#[derive(Debug, thiserror::Error)]
#[error("`{package}` {version}")]
pub struct FactsError {
    pub package: PackageName,
    pub version: String,
    #[source]
    pub source: Box<IndexError>,
}

/// Gathers the facts of every pin of `lock` for `target`, asking `client` (a view of
/// the profile's indexes) from `jobs` threads at once.
pub fn gather(
    lock: &LockFile,
    client: &RegistryClient,
    target: &Target,
    jobs: usize,
) -> Result<Facts, FactsError> {
    let pins: Vec<(&PackageName, &crate::lock::LockedPin)> = lock.pins.iter().collect();
    for (name, _) in &pins {
        client.prefetch_project(name);
    }
    let next = AtomicUsize::new(0);
    let results: Vec<(usize, Result<PackageFacts, FactsError>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.clamp(1, pins.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, pin)) = pins.get(at) else {
                            break;
                        };
                        done.push((at, package_facts(name, pin, client, target)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("facts worker panicked"))
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(at, _)| *at);
    let mut packages = BTreeMap::new();
    for (_, result) in results {
        let facts = result?;
        packages.insert(facts.name.clone(), facts);
    }
    Ok(Facts { packages })
}

fn package_facts(
    name: &PackageName,
    pin: &crate::lock::LockedPin,
    client: &RegistryClient,
    target: &Target,
) -> Result<PackageFacts, FactsError> {
    let fail = |source: IndexError| FactsError {
        package: name.clone(),
        version: pin.version.to_string(),
        source: Box::new(source),
    };
    let hashes: Vec<String> = pin.hashes.iter().map(|h| h.to_ascii_lowercase()).collect();
    let mut facts = PackageFacts {
        name: name.clone(),
        version: pin.version.clone(),
        hashes: hashes.clone(),
        via: pin.via.clone(),
        index: None,
        files: Vec::new(),
        unknown_hashes: Vec::new(),
        install: None,
        unlocked: Vec::new(),
        metadata: None,
        metadata_missing: None,
        git_pin: None,
        directory_pin: None,
    };
    let project = match &pin.url {
        // A direct reference: its archive, downloaded and hashed, is its only file.
        Some(url) => {
            let origin = format!("lock line {}", pin.line);
            let refs = crate::index::direct::DirectRefs::from_lock_pin(name, url, &[], origin)
                .map_err(fail)?;
            let archives = crate::index::direct::DirectArchives::default();
            let source = crate::index::direct::DirectSource::new(client, &refs, &archives)
                .with_unbuilt_trees();
            // A source tree (a git pin's commit, a local directory) is its only
            // "file", with no hash; its metadata is read from the tree (unless only a
            // build can tell it: not a reason to stop, as for an sdist).
            if crate::lock::is_source_tree_pin(url) {
                match crate::lock::is_git_pin(url) {
                    true => facts.git_pin = Some(url.clone()),
                    false => facts.directory_pin = Some(url.clone()),
                }
                let project = match source.project(name) {
                    Err(IndexError::NeedsBuild { reason, .. }) => {
                        facts.index = Some(crate::index::direct::DIRECT_INDEX.to_string());
                        facts.metadata_missing = Some(reason);
                        return Ok(facts);
                    }
                    other => other.map_err(fail)?,
                };
                if let Some(project) = &project {
                    facts.index = Some(project.index.to_string());
                    if let Some(file) = project.files.first() {
                        facts.metadata = Some(source.metadata(file).map_err(fail)?);
                    }
                }
                return Ok(facts);
            }
            source.project(name).map_err(fail)?
        }
        None => client.project(name).map_err(fail)?,
    };
    let Some(project) = project else {
        facts.unknown_hashes = hashes;
        return Ok(facts);
    };
    facts.index = Some(project.index.to_string());

    // Each locked hash names one file; files whose index publishes no hash are hashed
    // (downloaded once, then cached) only when a locked hash is otherwise unknown.
    let mut by_hash: BTreeMap<String, &DistFile> = project
        .files
        .iter()
        .filter_map(|file| Some((file.sha256.clone()?, file)))
        .collect();
    if hashes.iter().any(|hash| !by_hash.contains_key(hash)) {
        for file in project
            .files
            .iter()
            .filter(|file| file.sha256.is_none() && file.version == pin.version)
        {
            by_hash.insert(client.sha256(file).map_err(fail)?, file);
        }
    }
    let mut dist_files = Vec::new();
    for hash in &hashes {
        match by_hash.get(hash) {
            Some(file) => dist_files.push(*file),
            None => facts.unknown_hashes.push(hash.clone()),
        }
    }
    let locked: BTreeSet<&str> = dist_files.iter().map(|f| f.filename.as_str()).collect();
    facts.unlocked = project
        .files
        .iter()
        .filter(|file| file.version == pin.version && !locked.contains(file.filename.as_str()))
        .map(|file| (file.filename.clone(), rank(file, target).is_some()))
        .collect();

    facts.files = dist_files
        .iter()
        .map(|file| LockedFile {
            filename: file.filename.clone(),
            sha256: file
                .sha256
                .clone()
                .or_else(|| {
                    by_hash
                        .iter()
                        .find(|(_, f)| f.url == file.url)
                        .map(|(hash, _)| hash.clone())
                })
                .unwrap_or_default(),
            size: file.size,
            url: crate::secrets::url(&file.url),
            index: file.index.to_string(),
            kind: match &file.kind {
                DistKind::Wheel(tags) => FileKind::Wheel {
                    tags: tags.expand(),
                    rank: rank(file, target),
                    top_level: None,
                    unpacked: None,
                },
                DistKind::Sdist => FileKind::Sdist { build: None },
            },
        })
        .collect();
    let best_wheel = facts
        .files
        .iter()
        .enumerate()
        .filter_map(|(at, file)| match file.kind {
            FileKind::Wheel {
                rank: Some(rank), ..
            } => Some((rank, at)),
            _ => None,
        })
        .min()
        .map(|(_, at)| at);
    facts.install = best_wheel.or_else(|| facts.files.iter().position(|f| !f.is_wheel()));

    // What installing it puts where. An sdist's build system comes first: its
    // download also fills the metadata cache.
    if let Some(at) = facts.install {
        let file = dist_files[at];
        match &mut facts.files[at].kind {
            FileKind::Wheel {
                top_level,
                unpacked,
                ..
            } => {
                let entries = client.wheel_entries(file).map_err(fail)?;
                let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
                *top_level = Some(top_level_names(&names));
                *unpacked = Some(entries.iter().map(|e| e.size).sum());
            }
            FileKind::Sdist { build } => {
                *build = Some((*client.sdist_build_system(file).map_err(fail)?).clone());
            }
        }
    }
    // The metadata of what is installed; when that is an sdist whose metadata only a
    // build can tell, a wheel of the same version says it (wheels are built metadata).
    let first = facts
        .install
        .or((!dist_files.is_empty()).then_some(0))
        .map(|at| dist_files[at]);
    let wheel = project.files.iter().find(|file| {
        file.version == pin.version
            && matches!(file.kind, DistKind::Wheel { .. })
            && first.is_none_or(|first| first.url != file.url)
    });
    for file in first.into_iter().chain(wheel) {
        match client.metadata(file) {
            Ok(metadata) => {
                facts.metadata = Some(metadata);
                facts.metadata_missing = None;
                break;
            }
            // Only a build can tell (dynamic metadata of an sdist): not a reason to stop.
            Err(IndexError::NeedsBuild { reason, .. }) => {
                facts.metadata_missing.get_or_insert(reason);
            }
            Err(err) => return Err(fail(err)),
        }
    }
    Ok(facts)
}

fn rank(file: &DistFile, target: &Target) -> Option<usize> {
    target.dist_rank(&file.kind)
}

/// What a wheel with these entries puts at the top of site-packages: the root of the
/// archive and the `purelib` / `platlib` trees of its `.data` directory; not its
/// `.dist-info`, scripts, headers or data, nor names no `import` can spell.
pub fn top_level_names(entries: &[String]) -> Vec<TopLevel> {
    let mut packages: BTreeMap<String, bool> = BTreeMap::new();
    let mut modules: BTreeSet<String> = BTreeSet::new();
    for entry in entries {
        let mut parts: Vec<&str> = entry.split('/').filter(|p| !p.is_empty()).collect();
        match parts.first() {
            Some(first) if first.ends_with(".dist-info") => continue,
            Some(first) if first.ends_with(".data") => {
                if matches!(parts.get(1), Some(&"purelib" | &"platlib")) {
                    parts.drain(..2);
                } else {
                    continue;
                }
            }
            Some(_) => {}
            None => continue,
        }
        let is_directory = entry.ends_with('/');
        match parts[..] {
            // A directory entry alone says nothing; its files do.
            [] | [_] if is_directory => {}
            [] => {}
            [file] => {
                if let Some(module) = module_name(file) {
                    modules.insert(module.to_string());
                }
            }
            [dir, ref rest @ ..] => {
                if !is_identifier(dir) || dir == "__pycache__" {
                    continue;
                }
                let init = matches!(rest, [file] if !is_directory && module_name(file) == Some("__init__"));
                *packages.entry(dir.to_string()).or_default() |= init;
            }
        }
    }
    let mut names: Vec<TopLevel> = packages
        .into_iter()
        .map(|(name, init)| TopLevel {
            name,
            kind: if init {
                TopLevelKind::Package
            } else {
                TopLevelKind::Namespace
            },
        })
        .collect();
    for name in modules {
        if !names.iter().any(|known| known.name == name) {
            names.push(TopLevel {
                name,
                kind: TopLevelKind::Module,
            });
        }
    }
    names.sort();
    names
}

/// `six` for `six.py`, `_cffi_backend` for `_cffi_backend.cpython-311-x86_64-linux-gnu.so`;
/// `None` for files that are not modules (`.pth`, licenses, ...).
fn module_name(file: &str) -> Option<&str> {
    let (stem, extension) = file.rsplit_once('.')?;
    let stem = match extension {
        "py" | "pyc" => stem,
        "so" | "pyd" => stem.split('.').next().unwrap_or(stem),
        _ => return None,
    };
    is_identifier(stem).then_some(stem)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_names_of_a_wheel() {
        let entries = [
            "cv2/__init__.py",
            "cv2/data/haarcascade.xml",
            "cv2/cv2.abi3.so",
            "opencv_python.libs/libavcodec.so.59",
            "google/protobuf/__init__.py",
            "six.py",
            "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
            "distutils-precedence.pth",
            "__pycache__/six.cpython-311.pyc",
            "pkg-1.0.dist-info/METADATA",
            "pkg-1.0.data/purelib/extra_mod/__init__.py",
            "pkg-1.0.data/scripts/tool",
            "pkg-1.0.data/headers/pkg.h",
            "empty_dir/",
            "LICENSE",
        ]
        .map(String::from);
        let rendered: Vec<String> = top_level_names(&entries)
            .iter()
            .map(|t| format!("{} {:?}", t.name, t.kind))
            .collect();
        assert_eq!(
            rendered,
            [
                "_cffi_backend Module",
                "cv2 Package",
                "extra_mod Package",
                "google Namespace",
                "six Module",
            ]
        );
    }
}
