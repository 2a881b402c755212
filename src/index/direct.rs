//! Direct references to archives (`name @ https://.../x-1.0-py3-none-any.whl`, a bare
//! archive URL or path, `name @ file:///...`): a [`PackageSource`] beside the indexes.
//!
//! For a name the input gives a direct URL for, the only candidate is that archive's
//! version, wherever the name appears in the graph (as in pip and uv); every other name
//! goes to the indexes. Each archive is downloaded once per run (with the index
//! client's credentials, retries and `--offline`), hashed, checked against the input's
//! `--hash` values, and its metadata read from the wheel's METADATA or the sdist's
//! static PKG-INFO. An sdist that needs a build to tell its metadata answers
//! [`IndexError::NeedsBuild`], which [`crate::sdist::BuildingSource`] turns into a
//! build.
//!
//! A local project directory (`name @ ./path`, `name @ file:///abs/path`) is a source
//! tree like a git commit's: its metadata read statically from `pyproject.toml`, else
//! built (never cached: its content may change between locks). It is locked as
//! `name @ file:///abs/path`, with no hash.
//!
//! A `git+` reference has no archive: its revision is resolved to a full commit (an
//! existing lock's commit is kept unless the package is upgraded), the commit's tree
//! exported and its metadata read ([`super::vcs`]): static, or built by the
//! [`TreeBuilds`] given with [`DirectSource::with_tree_builds`]. It is locked as
//! `name @ git+URL@<commit>`, with no hash: pip cannot hash a VCS checkout. Other VCS
//! schemes are refused.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use pep508_rs::{PackageName, Requirement, VersionOrUrl};
use sha2::{Digest, Sha256};
use url::Url;

use super::cache::{Bucket, Cache};
use super::filename::{SdistFilename, SdistFormat, WheelFilename};
use super::registry::RegistryClient;
use super::vcs::{self, GitUrl};
use super::{
    CoreMetadata, DirectFailure, DistFile, DistKind, IndexError, PackageSource, ProjectFiles,
    metadata,
};

/// The index name of direct archives: no index is named with a space.
pub const DIRECT_INDEX: &str = "direct URL";

/// One direct reference of the input.
#[derive(Debug, Clone)]
pub struct DirectRef {
    pub name: PackageName,
    /// What is requested: expanded, credentials included. Never output.
    url: Url,
    /// What the lock writes (see [`lock_url`]).
    pub locked: String,
    /// What messages show: as written, secrets masked.
    pub shown: String,
    /// Accepted sha256 values (`--hash` on the input line); empty accepts any.
    pub hashes: Vec<String>,
    /// Where it was written, e.g. `requirements.in:3`.
    pub origin: String,
    /// A `git+` reference, split; `locked` is then its repository as the lock writes
    /// it, without the revision (the lock adds `@<commit>`).
    pub git: Option<GitUrl>,
}

impl DirectRef {
    /// The URL to request, credentials included (for the client's auth store only).
    pub fn request_url(&self) -> &Url {
        &self.url
    }

    /// A git reference's repository as messages show it: without `git+`, the
    /// revision and secrets.
    pub fn repository(&self) -> String {
        let repository = crate::secrets::text(vcs::split_rev(&self.shown).0);
        repository
            .strip_prefix("git+")
            .unwrap_or(&repository)
            .to_string()
    }

    /// Why this reference cannot be locked, naming it as written and where.
    fn fail(&self, message: String) -> IndexError {
        IndexError::Direct(Box::new(DirectFailure {
            name: self.name.to_string(),
            url: self.shown.clone(),
            origin: self.origin.clone(),
            message,
        }))
    }
}

/// The direct references of one lock's inputs, by package name.
#[derive(Debug, Clone, Default)]
pub struct DirectRefs {
    refs: BTreeMap<PackageName, DirectRef>,
}

impl DirectRefs {
    /// Collects `(requirement, --hash values, origin)`; requirements without a URL are
    /// skipped. The same name with two different URLs is an error naming both.
    pub fn collect<'r>(
        requirements: impl IntoIterator<Item = (&'r Requirement, &'r [String], String)>,
    ) -> Result<Self, IndexError> {
        let mut refs: BTreeMap<PackageName, DirectRef> = BTreeMap::new();
        for (requirement, hashes, origin) in requirements {
            let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url else {
                continue;
            };
            let given = url.given().unwrap_or(url.as_str());
            let mut request = url.to_url();
            let shown = crate::secrets::text(given);
            let git = GitUrl::parse(&request).map_err(|message| {
                IndexError::Direct(Box::new(DirectFailure {
                    name: requirement.name.to_string(),
                    url: shown.clone(),
                    origin: origin.clone(),
                    message,
                }))
            })?;
            request.set_fragment(None);
            let mut locked = lock_url(&request, given);
            if let Some(git) = &git {
                // ssh's user (`git@host`) is no secret, and ssh needs it.
                if git.repo.scheme() == "ssh" {
                    locked = given.split('#').next().unwrap_or(given).to_string();
                }
                locked = vcs::split_rev(&locked).0.to_string();
            }
            let new = DirectRef {
                name: requirement.name.clone(),
                locked,
                shown,
                url: request,
                hashes: hashes.to_vec(),
                origin,
                git,
            };
            match refs.get_mut(&new.name) {
                Some(known) if known.url != new.url => {
                    return Err(IndexError::Direct(Box::new(DirectFailure {
                        name: new.name.to_string(),
                        url: new.shown.clone(),
                        origin: new.origin.clone(),
                        message: format!(
                            "`{}` is also required from `{}` ({}); one package can come \
                             from one URL only",
                            new.name, known.shown, known.origin
                        ),
                    })));
                }
                Some(known) => {
                    for hash in new.hashes {
                        if !known.hashes.contains(&hash) {
                            known.hashes.push(hash);
                        }
                    }
                }
                None => {
                    refs.insert(new.name.clone(), new);
                }
            }
        }
        Ok(Self { refs })
    }

    /// The reference of a lock's `name @ URL` pin (`${VAR}` expanded from the
    /// environment, as pip does when it reads the lock); `hash` values accepted.
    pub fn from_lock_pin(
        name: &PackageName,
        url: &str,
        hashes: &[String],
        origin: String,
    ) -> Result<Self, IndexError> {
        let requirement = Requirement::from_str(&format!("{name} @ {url}")).map_err(|err| {
            IndexError::Direct(Box::new(DirectFailure {
                name: name.to_string(),
                url: crate::secrets::url_text(url),
                origin: origin.clone(),
                message: format!("not a URL: {}", err.message),
            }))
        })?;
        Self::collect([(&requirement, hashes, origin)])
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &DirectRef> {
        self.refs.values()
    }

    pub fn get(&self, name: &PackageName) -> Option<&DirectRef> {
        self.refs.get(name)
    }
}

/// The URL as the lock writes it: a local file as its `file://` URL; a remote one
/// without credentials (pip takes them from netrc or the environment), except a
/// userinfo written as `${VAR}` references, which pip expands when it reads the lock;
/// credential query values masked.
pub fn lock_url(url: &Url, given: &str) -> String {
    if url.scheme() == "file" {
        return url.to_string();
    }
    let shown = crate::secrets::url(url);
    let written_userinfo = given
        .split_once("://")
        .and_then(|(_, rest)| {
            let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
            authority.rsplit_once('@').map(|(userinfo, _)| userinfo)
        })
        .filter(|userinfo| userinfo.split(':').all(is_variable));
    match (written_userinfo, shown.split_once("://")) {
        (Some(userinfo), Some((scheme, rest))) => format!("{scheme}://{userinfo}@{rest}"),
        _ => shown,
    }
}

/// Whether `filename` names an archive dockgen locks (a wheel, an sdist), so that a
/// `file:` pin of another name is a local directory ([`crate::lock::is_directory_pin`]).
pub fn is_archive_name(filename: &str) -> bool {
    filename.to_ascii_lowercase().ends_with(".whl")
        || SdistFormat::from_filename(filename).is_some()
}

/// The file name of the archive at `url`: its path's last segment, percent-decoded.
pub fn archive_filename(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(|last| {
            percent_encoding::percent_decode_str(last)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

/// `${NAME}` as pip expands it (upper-case letters, digits, `_`).
fn is_variable(part: &str) -> bool {
    part.strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
}

/// What went wrong fetching or reading an archive, worded for a URL (the index
/// client's messages speak of indexes). URLs in them are already redacted.
fn fetch_message(error: IndexError) -> String {
    match error {
        IndexError::Http { url, status, .. } => {
            let hint = match status {
                401 | 403 => {
                    "; give credentials as `https://${USER}:${TOKEN}@host/...` in the input, \
                     or in netrc"
                }
                404 => "; check the URL",
                _ => "",
            };
            format!("the server answered HTTP {status} for `{url}`{hint}")
        }
        IndexError::Network {
            url,
            attempts,
            cause,
            ..
        } => format!(
            "could not reach `{url}` after {attempts} attempt(s): {cause}; check the network \
             and the URL"
        ),
        IndexError::Timeout {
            url,
            seconds,
            attempts,
            ..
        } => format!(
            "`{url}` did not answer within {seconds:.1}s ({attempts} attempt(s)); the server \
             may be down, or raise the timeout"
        ),
        IndexError::Offline { .. } => "`--offline` forbids the network, and the archive is \
                                        not in the cache (only archives pinned by `--hash` \
                                        in the input are cached)"
            .to_string(),
        other => other.to_string(),
    }
}

/// One fetched archive, or one source tree (a git commit's, a local directory).
#[derive(Debug)]
struct Archive {
    project: Arc<ProjectFiles>,
    /// `Err(reason)`: an sdist whose metadata only a build can tell.
    metadata: Result<Arc<CoreMetadata>, String>,
    /// A source tree's pin as the lock writes it: `git+URL@<commit>`, or a
    /// directory's `file:///abs/path`.
    locked: Option<String>,
}

impl Archive {
    /// The one file of a source tree, and its metadata.
    fn new(file: DistFile, core: CoreMetadata, locked: Option<String>) -> Self {
        Self {
            project: Arc::new(ProjectFiles {
                name: core.name.clone(),
                index: Arc::from(DIRECT_INDEX),
                files: vec![file],
                skipped: Default::default(),
            }),
            metadata: Ok(Arc::new(core)),
            locked,
        }
    }

    /// A source tree at `url` (what `label` names, e.g. `git commit <id>`), with its
    /// metadata: one file with no hash, pinned as `locked`.
    fn tree(url: Url, label: &str, core: CoreMetadata, locked: String) -> Self {
        let filename = format!("{}-{} ({label})", core.name, core.version);
        let mut file = direct_file(filename, DistKind::Sdist, core.version.clone(), url);
        file.requires_python = core.requires_python.clone();
        Self::new(file, core, Some(locked))
    }
}

/// The one file of a direct reference, as far as its URL tells: no hash, size or
/// upload time yet, from [`DIRECT_INDEX`]. `url` carries no credentials.
pub fn direct_file(
    filename: String,
    kind: DistKind,
    version: pep440_rs::Version,
    url: Url,
) -> DistFile {
    DistFile {
        filename,
        kind,
        version,
        url,
        sha256: None,
        requires_python: None,
        yanked: None,
        upload_time: None,
        size: None,
        has_metadata_sidecar: false,
        index: Arc::from(DIRECT_INDEX),
    }
}

/// The archive of `reference`: `file` completed with what the download told.
fn archive(
    reference: &DirectRef,
    mut file: DistFile,
    sha256: String,
    size: usize,
    metadata: Result<Arc<CoreMetadata>, String>,
) -> Archive {
    if let Ok(core) = &metadata {
        file.version = core.version.clone();
        file.requires_python = core.requires_python.clone();
    }
    file.sha256 = Some(sha256);
    file.size = Some(size as u64);
    Archive {
        project: Arc::new(ProjectFiles {
            name: reference.name.clone(),
            index: Arc::from(DIRECT_INDEX),
            files: vec![file],
            skipped: Default::default(),
        }),
        metadata,
        locked: None,
    }
}

type Cell = Arc<OnceLock<Result<Arc<Archive>, IndexError>>>;

/// Archives fetched so far, shared by every profile of one run: each is downloaded once
/// (a git reference once per commit kept).
#[derive(Debug, Default)]
pub struct DirectArchives {
    cells: Mutex<HashMap<String, Cell>>,
}

/// The indexes (`base`), with the input's direct references in front.
pub struct DirectSource<'a> {
    base: &'a RegistryClient,
    refs: &'a DirectRefs,
    archives: &'a DirectArchives,
    /// Commits of git references an existing lock pins, kept on relock.
    kept: BTreeMap<PackageName, String>,
    /// Builds the metadata of a source tree that has no static metadata.
    trees: Option<&'a dyn TreeBuilds>,
    /// Without `trees`: a source tree that needs a build answers
    /// [`IndexError::NeedsBuild`] (for readers of a lock, which need not build it)
    /// rather than an error saying `--no-build` forbids it.
    unbuilt_trees: bool,
}

/// Metadata builds of source trees (a git commit's): what [`DirectSource`] asks when a
/// tree's `pyproject.toml` does not say its dependencies statically.
pub trait TreeBuilds: Sync {
    /// The metadata of the tree at `tree`, which must be of `name`; `label` names it in
    /// messages, `key` identifies its content for the cache (e.g. `git:<commit>`).
    fn tree_metadata(
        &self,
        tree: &std::path::Path,
        name: &PackageName,
        label: &str,
        key: &str,
    ) -> Result<CoreMetadata, IndexError>;
}

impl<'a> DirectSource<'a> {
    pub fn new(
        base: &'a RegistryClient,
        refs: &'a DirectRefs,
        archives: &'a DirectArchives,
    ) -> Self {
        Self {
            base,
            refs,
            archives,
            kept: BTreeMap::new(),
            trees: None,
            unbuilt_trees: false,
        }
    }

    /// A source tree whose metadata needs a build answers [`IndexError::NeedsBuild`].
    pub fn with_unbuilt_trees(mut self) -> Self {
        self.unbuilt_trees = true;
        self
    }

    /// Why a source tree named `label` cannot be read without a build, as
    /// [`DirectSource::with_unbuilt_trees`] asks, else as an error of `reference`.
    fn unbuilt(&self, reference: &DirectRef, label: String, reason: String) -> IndexError {
        match self.unbuilt_trees {
            true => IndexError::NeedsBuild {
                file: label,
                reason,
            },
            false => reference.fail(format!(
                "{label}: {reason}, so its metadata needs a build, which `--no-build` forbids"
            )),
        }
    }

    /// Builds the metadata of git commits whose trees need a build with `trees`.
    pub fn with_tree_builds(mut self, trees: &'a dyn TreeBuilds) -> Self {
        self.trees = Some(trees);
        self
    }

    /// Keeps these commits (an existing lock's) for the git references of their
    /// names, as long as the repository has them.
    pub fn with_kept_commits(mut self, kept: BTreeMap<PackageName, String>) -> Self {
        self.kept = kept;
        self
    }

    /// The archive of `reference` when it is fetched already (no request).
    fn fetched(&self, reference: &DirectRef) -> Option<Arc<Archive>> {
        let key = self.key(reference);
        let cells = self
            .archives
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.get(&key)?.get()?.as_ref().ok().cloned()
    }

    fn key(&self, reference: &DirectRef) -> String {
        match (&reference.git, self.kept.get(&reference.name)) {
            (Some(_), Some(commit)) => format!("{} {commit}", reference.url),
            _ => reference.url.to_string(),
        }
    }

    fn archive(&self, reference: &DirectRef) -> Result<Arc<Archive>, IndexError> {
        let cell = self
            .archives
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(self.key(reference))
            .or_default()
            .clone();
        cell.get_or_init(|| {
            self.fetch(reference)
                .map(Arc::new)
                .map_err(|error| match error {
                    error @ (IndexError::Direct(_) | IndexError::NeedsBuild { .. }) => error,
                    other => reference.fail(fetch_message(other)),
                })
        })
        .clone()
    }

    fn fetch(&self, reference: &DirectRef) -> Result<Archive, IndexError> {
        let fail = |message: String| reference.fail(message);
        if let Some(git) = &reference.git {
            return self.fetch_git(reference, git);
        }
        let url = &reference.url;
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| fail("not a usable local path".into()))?;
            if path.is_dir() {
                return self.fetch_directory(reference, &path);
            }
            if !path.exists() && !is_archive_name(&archive_filename(url)) {
                return Err(fail(format!(
                    "there is no directory `{}`; require a local project as \
                     `name @ ./path/to/project` (relative to the input file) or \
                     `name @ file:///abs/path`",
                    path.display()
                )));
            }
        } else if !matches!(url.scheme(), "http" | "https") {
            return Err(fail(format!(
                "the scheme `{}:` is not supported; dockgen locks archives from `https://`, \
                 `http://` and `file://` URLs and local paths, and git repositories \
                 (`git+https://...`)",
                url.scheme()
            )));
        }
        let filename = archive_filename(url);
        let is_wheel = filename.to_ascii_lowercase().ends_with(".whl");
        let kind = if is_wheel {
            let wheel = WheelFilename::from_str(&filename)
                .map_err(|err| fail(format!("`{filename}` is not a valid wheel name: {err}")))?;
            if wheel.name != reference.name {
                return Err(fail(format!(
                    "the wheel `{filename}` is of `{}`, not `{}`",
                    wheel.name, reference.name
                )));
            }
            wheel.kind()
        } else if SdistFormat::from_filename(&filename).is_some() {
            DistKind::Sdist
        } else {
            return Err(fail(format!(
                "`{filename}` is not a wheel or an sdist (`.whl`, `.tar.gz`, `.zip`); \
                 dockgen locks direct references to archives, git repositories and local \
                 project directories"
            )));
        };
        let mut file = direct_file(
            filename.clone(),
            kind,
            pep440_rs::Version::new([0]),
            crate::secrets::without_userinfo(url),
        );
        // An archive the input pins by `--hash` is content-addressed: a cached copy
        // with that hash is that archive, so a relock (or `--offline`) needs no download.
        let cache = (url.scheme() != "file")
            .then(|| self.base.cache_dir().map(Cache::new))
            .flatten();
        let cached = cache.as_ref().and_then(|cache| {
            reference.hashes.iter().find_map(|hash| {
                cache
                    .read_bytes(Bucket::Archives, hash)
                    .filter(|bytes| hex::encode(Sha256::digest(bytes)) == *hash)
            })
        });
        let bytes = match cached {
            Some(bytes) => bytes,
            None => {
                let temp = tempfile::NamedTempFile::new().map_err(|err| IndexError::Io {
                    path: std::env::temp_dir().display().to_string(),
                    message: err.to_string(),
                })?;
                self.base.download_to_path(&file, temp.path())?;
                std::fs::read(temp.path()).map_err(|err| IndexError::Io {
                    path: temp.path().display().to_string(),
                    message: err.to_string(),
                })?
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(cache) = &cache
            && reference.hashes.contains(&sha256)
        {
            cache.write_bytes(Bucket::Archives, &sha256, &bytes);
        }
        if !reference.hashes.is_empty() && !reference.hashes.contains(&sha256) {
            return Err(fail(format!(
                "the file has sha256 `{sha256}`, but the input's `--hash` expects {}; the \
                 file changed, or the hash is wrong: do not install it",
                reference
                    .hashes
                    .iter()
                    .map(|h| format!("`sha256:{h}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        if is_wheel {
            let core = metadata::wheel_metadata(&bytes, &filename)?;
            if core.name != reference.name {
                return Err(fail(format!(
                    "its metadata names the package `{}`, not `{}`",
                    core.name, reference.name
                )));
            }
            return Ok(archive(
                reference,
                file,
                sha256,
                bytes.len(),
                Ok(Arc::new(core)),
            ));
        }
        // The lock names an sdist's version only through the file name (pip's format
        // has no version on a URL line), so it must say it.
        let Ok(named) = SdistFilename::parse(&filename, &reference.name) else {
            return Err(fail(format!(
                "the sdist's file name `{filename}` does not say its version; dockgen needs \
                 `{}-<version>.tar.gz` (or `.zip`)",
                reference.name
            )));
        };
        file.version = named.version.clone();
        let core = match metadata::sdist_metadata(&bytes, &filename) {
            Ok(core) => core,
            // Built when asked for ([`crate::sdist::BuildingSource`]), which checks
            // that the built metadata is of this name and version.
            Err(metadata::MetadataError::NeedsBuild { reason, .. }) => {
                return Ok(archive(reference, file, sha256, bytes.len(), Err(reason)));
            }
            Err(err) => return Err(err.into()),
        };
        if core.name != reference.name {
            return Err(fail(format!(
                "its metadata names the package `{}`, not `{}`",
                core.name, reference.name
            )));
        }
        if named.version != core.version {
            return Err(fail(format!(
                "the sdist's file name `{filename}` does not say its version {}; dockgen \
                 needs `{}-{}.tar.gz` (or `.zip`)",
                core.version, reference.name, core.version
            )));
        }
        Ok(archive(
            reference,
            file,
            sha256,
            bytes.len(),
            Ok(Arc::new(core)),
        ))
    }

    /// A git reference: its commit (kept, or what the revision names now), the
    /// commit's tree, its metadata. The one file is the commit, with no hash.
    fn fetch_git(&self, reference: &DirectRef, git: &GitUrl) -> Result<Archive, IndexError> {
        let fail = |message: String| reference.fail(message);
        let clone = vcs::Clone::open(&git.repo, &reference.repository(), self.base.cache_dir())
            .map_err(fail)?;
        let kept = self.kept.get(&reference.name).map(String::as_str);
        let commit =
            vcs::resolve_commit(&clone, git, kept, self.base.is_offline()).map_err(fail)?;
        let tree = vcs::export_tree(&clone, &commit).map_err(fail)?;
        let root = match &git.subdirectory {
            Some(sub) => tree.path().join(sub),
            None => tree.path().to_path_buf(),
        };
        if !root.is_dir() {
            return Err(fail(format!(
                "commit {commit} has no directory `{}`",
                git.subdirectory.as_deref().unwrap_or_default()
            )));
        }
        let core = match vcs::tree_metadata(&root, &reference.name) {
            Ok(core) => core,
            // A source tree whose metadata a build backend must tell (PEP 517).
            Err(IndexError::NeedsBuild { reason, .. }) => match self.trees {
                Some(trees) => {
                    let key = format!(
                        "git:{commit}:{}",
                        git.subdirectory.as_deref().unwrap_or_default()
                    );
                    let label = format!("{} (git commit {commit})", reference.shown);
                    trees
                        .tree_metadata(&root, &reference.name, &label, &key)
                        .map_err(|error| match error {
                            error @ IndexError::Build(_) => error,
                            other => fail(format!("commit {commit}: {}", fetch_message(other))),
                        })?
                }
                None => return Err(self.unbuilt(reference, format!("commit {commit}"), reason)),
            },
            Err(error) => return Err(fail(format!("commit {commit}: {}", fetch_message(error)))),
        };
        let subdirectory = git
            .subdirectory
            .as_ref()
            .map(|sub| format!("#subdirectory={sub}"))
            .unwrap_or_default();
        let locked = format!("{}@{commit}{subdirectory}", reference.locked);
        let url = Url::parse(&format!(
            "git+{}@{commit}{subdirectory}",
            crate::secrets::without_userinfo(&git.repo)
        ))
        .map_err(|err| fail(format!("not a URL with its commit: {err}")))?;
        Ok(Archive::tree(
            url,
            &format!("git commit {commit}"),
            core,
            locked,
        ))
    }

    /// A local project directory: its metadata, static or built (with no cache key:
    /// its content may change between locks). The one file is the directory, with no
    /// hash; the lock pins its absolute `file://` URL.
    fn fetch_directory(
        &self,
        reference: &DirectRef,
        path: &std::path::Path,
    ) -> Result<Archive, IndexError> {
        let fail = |message: String| reference.fail(message);
        let shown = path.display();
        let basename = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_archive_name(&basename) {
            return Err(fail(format!(
                "`{shown}` is a directory named like an archive, which a lock could not tell \
                 from one; rename it"
            )));
        }
        if !["pyproject.toml", "setup.py"]
            .iter()
            .any(|file| path.join(file).is_file())
        {
            return Err(fail(format!(
                "directory `{shown}` is not a Python project: it has no `pyproject.toml` or \
                 `setup.py`"
            )));
        }
        let locked = Url::from_file_path(path)
            .map_err(|()| fail("not a usable local path".into()))?
            .to_string();
        let locked = locked.trim_end_matches('/').to_string();
        let core = match vcs::tree_metadata(path, &reference.name) {
            Ok(core) => core,
            Err(IndexError::NeedsBuild { reason, .. }) => match self.trees {
                Some(trees) => {
                    let label = format!("{} (local directory)", reference.shown);
                    trees
                        .tree_metadata(path, &reference.name, &label, "")
                        .map_err(|error| match error {
                            error @ IndexError::Build(_) => error,
                            other => fail(format!("directory `{shown}`: {}", fetch_message(other))),
                        })?
                }
                None => {
                    let label = format!("directory `{shown}`");
                    return Err(self.unbuilt(reference, label, reason));
                }
            },
            Err(error) => {
                return Err(fail(format!(
                    "directory `{shown}`: {}",
                    fetch_message(error)
                )));
            }
        };
        Ok(Archive::tree(
            reference.url.clone(),
            "local directory",
            core,
            locked,
        ))
    }

    /// The reference whose archive (or git commit) `file` is.
    fn reference_of(&self, file: &DistFile) -> Option<&DirectRef> {
        if *file.index != *DIRECT_INDEX {
            return None;
        }
        self.refs.iter().find(|r| match &r.git {
            Some(git) => file.url.as_str().starts_with(&format!(
                "git+{}@",
                crate::secrets::without_userinfo(&git.repo)
            )),
            None => crate::secrets::without_userinfo(&r.url) == file.url,
        })
    }
}

impl PackageSource for DirectSource<'_> {
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        match self.refs.get(name) {
            Some(reference) => Ok(Some(self.archive(reference)?.project.clone())),
            None => self.base.project(name),
        }
    }

    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        match self.reference_of(file) {
            Some(reference) => match &self.archive(reference)?.metadata {
                Ok(metadata) => Ok(metadata.clone()),
                Err(reason) => Err(IndexError::NeedsBuild {
                    file: file.filename.clone(),
                    reason: reason.clone(),
                }),
            },
            None => self.base.metadata(file),
        }
    }

    fn sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        match (self.reference_of(file), &file.sha256) {
            (Some(_), Some(sha256)) => Ok(sha256.clone()),
            _ => self.base.sha256(file),
        }
    }

    fn survey(&self, name: &PackageName) -> Option<super::strategy::IndexSurvey> {
        match self.refs.get(name) {
            Some(_) => None,
            None => self.base.survey(name),
        }
    }

    fn prefetch_project(&self, name: &PackageName) {
        if self.refs.get(name).is_none() {
            self.base.prefetch_project(name);
        }
    }

    fn prefetch_metadata(&self, file: &DistFile) {
        if self.reference_of(file).is_none() {
            self.base.prefetch_metadata(file);
        }
    }

    fn direct_url(&self, name: &PackageName) -> Option<String> {
        let reference = self.refs.get(name)?;
        match &reference.git {
            // Its commit once resolved; before, the reference as written.
            Some(_) => Some(
                self.fetched(reference)
                    .and_then(|archive| archive.locked.clone())
                    .unwrap_or_else(|| reference.shown.clone()),
            ),
            // A directory's absolute path once read; an archive's URL.
            None => Some(
                self.fetched(reference)
                    .and_then(|archive| archive.locked.clone())
                    .unwrap_or_else(|| reference.locked.clone()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(url: &str, given: &str) -> String {
        lock_url(&Url::parse(url).unwrap(), given)
    }

    #[test]
    fn lock_urls_carry_no_credentials_but_keep_variables() {
        assert_eq!(
            lock(
                "https://user:hunter2secret@files.example/x-1.0-py3-none-any.whl",
                "https://user:hunter2secret@files.example/x-1.0-py3-none-any.whl"
            ),
            "https://files.example/x-1.0-py3-none-any.whl"
        );
        assert_eq!(
            lock(
                "https://me:expanded-token-value@files.example/x.whl",
                "https://${USER}:${TOKEN}@files.example/x.whl"
            ),
            "https://${USER}:${TOKEN}@files.example/x.whl"
        );
        assert_eq!(
            lock(
                "https://files.example/x.whl?token=abcdefghijk",
                "https://files.example/x.whl?token=abcdefghijk"
            ),
            "https://files.example/x.whl?token=****"
        );
        assert_eq!(
            lock("file:///wheels/x-1.0-py3-none-any.whl", "./wheels/x.whl"),
            "file:///wheels/x-1.0-py3-none-any.whl"
        );
    }

    #[test]
    fn git_references_lock_their_repository_as_written() {
        let locked = |text: &str| {
            let requirement = Requirement::from_str(text).unwrap();
            let refs = DirectRefs::collect([(&requirement, &[][..], String::new())]).unwrap();
            refs.iter().next().unwrap().locked.clone()
        };
        assert_eq!(
            locked("x @ git+https://${USER}:${TOKEN}@host.example/org/x.git@v1#egg=x"),
            "git+https://${USER}:${TOKEN}@host.example/org/x.git"
        );
        assert_eq!(
            locked("x @ git+https://user:hunter2secret@host.example/x@v1"),
            "git+https://host.example/x"
        );
        assert_eq!(
            locked("x @ git+ssh://git@host.example/org/x.git@main"),
            "git+ssh://git@host.example/org/x.git"
        );
        assert_eq!(locked("x @ git+file:///srv/x"), "git+file:///srv/x");
    }

    #[test]
    fn two_urls_for_one_name_are_an_error_naming_both() {
        let a = Requirement::from_str("x @ https://a.example/x-1.0-py3-none-any.whl").unwrap();
        let b = Requirement::from_str("x @ https://b.example/x-1.0-py3-none-any.whl").unwrap();
        let error = DirectRefs::collect([
            (&a, &[][..], "requirements.in:1".to_string()),
            (&b, &[][..], "requirements.in:2".to_string()),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("https://a.example/x-1.0-py3-none-any.whl"),
            "{error}"
        );
        assert!(
            error.contains("https://b.example/x-1.0-py3-none-any.whl"),
            "{error}"
        );
        assert!(error.contains("requirements.in:1") && error.contains("requirements.in:2"));
    }
}
