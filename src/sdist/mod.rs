//! PEP 517 metadata builds: what an sdist depends on when its PKG-INFO cannot say
//! (no PKG-INFO, or `Dynamic: Requires-Dist`), as pip and uv find it out.
//!
//! The sdist (hash-checked) is unpacked; its `[build-system]` is read (none: setuptools'
//! legacy backend, as pip does); the build requirements, with the package's declared
//! extra build dependencies, are resolved by dockgen's own resolver for the build
//! interpreter, from the profile's indexes and within `--exclude-newer`, as wheels only,
//! downloaded and hash-checked; they are unpacked into an isolated environment; and the
//! backend's `get_requires_for_build_wheel` and `prepare_metadata_for_build_wheel` run
//! there (`build_wheel` when the backend has no such hook, the wheel's METADATA then
//! read). The result is cached by the sdist's sha256, the interpreter and the extra
//! build dependencies, so a second lock builds nothing.
//!
//! A metadata build never changes what the lock is for: the lock still pins the sdist
//! by its hash, and the image's wheel-builder stage builds it for the target.
//!
//! The index side sees this module through [`BuildingSource`], a [`PackageSource`]
//! that answers an sdist's [`IndexError::NeedsBuild`] with a build.

mod hooks;
pub mod python;
mod source;
mod unpack;
mod venv;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use sha2::{Digest, Sha256};

pub use source::{BuildingSource, ProfileBuilds};

use crate::index::cache::{Bucket, Cache};
use crate::index::filename::WheelFilename;
use crate::index::registry::RegistryClient;
use crate::index::{DistKind, IndexError, PackageSource, metadata};
use crate::input::requirements::BinarySelection;
use crate::resolve::{self, ResolveRequest, RootRequirement};
use hooks::{Hook, HookError, Metadata};
use python::Interpreter;
use venv::Venv;

/// The hook runner's file name in the scratch directory.
const HOOK_RUNNER: &str = "dockgen_hooks.py";

/// How many build requirements download and unpack at once.
const INSTALL_THREADS: usize = 8;

/// The backend PEP 517 prescribes for a tree without `build-backend`.
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// How metadata builds run (`lock`'s options).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `--python`: the interpreter to build with, instead of the one found on `PATH`.
    pub python: Option<PathBuf>,
    /// `--no-build`: never build; an sdist that needs a build is an error.
    pub no_build: bool,
    /// The longest one hook may run.
    pub timeout: Duration,
    /// How many builds run at once.
    pub jobs: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            python: None,
            no_build: false,
            timeout: Duration::from_secs(600),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Why a metadata build failed: what the error message says, with the build's output.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub file: String,
    /// Empty when the build did not get as far as reading it.
    pub backend: String,
    pub python: String,
    pub message: String,
    /// The last lines of the build's output, secrets masked.
    pub output: Vec<String>,
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the metadata of `{}`", self.file)?;
        if !self.backend.is_empty() {
            write!(
                f,
                " (build backend `{}`, Python {})",
                self.backend, self.python
            )?;
        }
        write!(f, ": {}{}", self.message, output_tail(&self.output))
    }
}

impl std::error::Error for BuildFailure {}

fn output_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut tail = String::from("\nthe build's last output lines:");
    for line in lines {
        tail.push_str("\n  | ");
        tail.push_str(line);
    }
    tail
}

/// What a build is asked for: one sdist (or source tree), by its identity.
pub struct Sdist<'a> {
    pub name: &'a PackageName,
    /// The version it must build; `None` takes what a source tree says.
    pub version: Option<&'a Version>,
    /// The sdist's file name, or what names the tree (its URL) in messages.
    pub filename: &'a str,
    /// What identifies the content for the cache: the archive's sha256, or e.g.
    /// `git:<commit>`; empty: not cached (a local directory may change).
    pub sha256: &'a str,
    pub source: SdistSource<'a>,
}

/// Where the source comes from.
pub enum SdistSource<'a> {
    /// An archive, written (hash-checked) to the path given when a build needs it.
    Archive(&'a (dyn Fn(&Path) -> Result<(), IndexError> + Sync)),
    /// A source tree on disk, built in place.
    Tree(&'a Path),
}

/// Where build requirements come from: the profile's indexes.
pub struct BuildIndexes<'a> {
    pub client: &'a RegistryClient,
    /// `extra-build-dependencies` of the profile, by package.
    pub extra: &'a BTreeMap<PackageName, Vec<Requirement>>,
}

type Shared<T> = Arc<OnceLock<T>>;
/// Work done once per run, by key: whoever asks first does it, the others wait.
type Once<K, T> = Mutex<HashMap<K, Shared<T>>>;

/// Runs metadata builds for one `lock` run; every profile shares it.
pub struct Builder {
    options: BuildOptions,
    cache: Option<Cache>,
    progress: Option<indicatif::ProgressBar>,
    /// Unpacked sdists, environments, downloaded wheels and the hook runner, made at
    /// the first build; removed at the end.
    work: OnceLock<Result<tempfile::TempDir, String>>,
    interpreters: Once<(u64, u64), Result<Arc<Interpreter>, String>>,
    environments: Once<String, Result<Arc<Env>, String>>,
    wheels: Once<String, Result<PathBuf, String>>,
    results: Once<String, Result<Arc<Vec<u8>>, IndexError>>,
    slots: Slots,
    counter: AtomicUsize,
    /// Bytes of wheels unpacked into build environments this run.
    installed: AtomicU64,
}

/// Scratch space above this is removed by a background `rm` when `lock` ends (a build
/// environment with torch holds 3 GB in thousands of files: seconds to delete).
const REMOVE_IN_BACKGROUND: u64 = 256 << 20;

impl Drop for Builder {
    fn drop(&mut self) {
        let Some(Ok(work)) = self.work.take() else {
            return;
        };
        if self.installed.load(Ordering::Relaxed) <= REMOVE_IN_BACKGROUND {
            return; // `work` removes itself now.
        }
        let path = work.keep();
        let spawned = std::process::Command::new("rm")
            .arg("-rf")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if spawned.is_err() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// A build environment and the versions installed in it.
#[derive(Debug)]
struct Env {
    venv: Venv,
    pins: BTreeMap<PackageName, Version>,
}

impl Env {
    /// Whether `requirement` holds here: its marker is false for `python`, or the
    /// environment has a version of it that the requirement allows.
    fn has(&self, requirement: &Requirement, python: &Interpreter) -> bool {
        !requirement.marker.evaluate(&python.target.markers, &[])
            || self.pins.get(&requirement.name).is_some_and(|version| {
                match &requirement.version_or_url {
                    None => true,
                    Some(pep508_rs::VersionOrUrl::VersionSpecifier(specifiers)) => {
                        specifiers.contains(version)
                    }
                    Some(pep508_rs::VersionOrUrl::Url(_)) => false,
                }
            })
    }
}

impl Builder {
    pub fn new(
        options: BuildOptions,
        cache_dir: Option<&Path>,
        progress: Option<indicatif::ProgressBar>,
    ) -> Self {
        Self {
            slots: Slots::new(options.jobs.max(1)),
            options,
            cache: cache_dir.map(Cache::new),
            progress,
            work: OnceLock::new(),
            interpreters: Mutex::default(),
            environments: Mutex::default(),
            wheels: Mutex::default(),
            results: Mutex::default(),
            counter: AtomicUsize::new(0),
            installed: AtomicU64::new(0),
        }
    }

    /// The run's scratch directory, with the hook runner (`dockgen_hooks.py`) in it.
    fn work(&self) -> Result<&Path, String> {
        self.work
            .get_or_init(|| {
                let work = tempfile::Builder::new()
                    .prefix("dockgen-build-")
                    .tempdir()
                    .and_then(|work| {
                        std::fs::write(work.path().join(HOOK_RUNNER), hooks::SCRIPT)?;
                        Ok(work)
                    });
                work.map_err(|err| {
                    format!(
                        "cannot make a directory for metadata builds in `{}`: {err}",
                        std::env::temp_dir().display()
                    )
                })
            })
            .as_ref()
            .map(|work| work.path())
            .map_err(Clone::clone)
    }

    pub fn options(&self) -> &BuildOptions {
        &self.options
    }

    /// The interpreter that builds for a target of Python `minor`, found once per run
    /// (its warning, when it is another version, shown once).
    fn interpreter(&self, minor: (u64, u64)) -> Result<Arc<Interpreter>, String> {
        let cell = shared(&self.interpreters, minor);
        cell.get_or_init(|| {
            let found = python::find(self.options.python.as_deref(), minor)?;
            if let Some(warning) = &found.warning {
                tracing::warn!("{warning}");
            }
            Ok(Arc::new(found.interpreter))
        })
        .clone()
    }

    /// The core metadata (METADATA bytes) of `sdist`, built for a target of Python
    /// `target_python`, from the cache when it was built before.
    pub fn metadata(
        &self,
        sdist: &Sdist<'_>,
        target_python: &Version,
        indexes: &BuildIndexes<'_>,
    ) -> Result<Arc<Vec<u8>>, IndexError> {
        let release = target_python.release();
        let minor = (
            release.first().copied().unwrap_or(3),
            release.get(1).copied().unwrap_or(0),
        );
        let extra = indexes.extra.get(sdist.name).cloned().unwrap_or_default();
        let python = self.interpreter(minor).map_err(|message| {
            IndexError::Build(Box::new(BuildFailure {
                file: sdist.filename.to_string(),
                backend: String::new(),
                python: format!("{}.{}", minor.0, minor.1),
                message,
                output: Vec::new(),
            }))
        })?;
        let key = build_key(sdist.sha256, &python.key, &extra);
        // No content key (a local directory, whose content may change): never cached,
        // and one run builds each tree once, by its label.
        let cell = match sdist.sha256.is_empty() {
            true => shared(&self.results, format!("{key} {}", sdist.filename)),
            false => shared(&self.results, key.clone()),
        };
        let cache = self.cache.as_ref().filter(|_| !sdist.sha256.is_empty());
        cell.get_or_init(|| {
            if let Some(bytes) = cache
                .and_then(|cache| cache.read_bytes(Bucket::Built, &key))
                .filter(|bytes| check_built(bytes, sdist).is_ok())
            {
                return Ok(Arc::new(bytes));
            }
            let _slot = self.slots.take();
            let _tick = self.tick(format!("building the metadata of `{}`", sdist.filename));
            let started = std::time::Instant::now();
            let bytes = self.build(sdist, &python, &extra, indexes)?;
            tracing::info!(
                "built the metadata of `{}` with Python {} in {:.1}s",
                sdist.filename,
                python.version,
                started.elapsed().as_secs_f64()
            );
            if let Some(cache) = cache {
                cache.write_bytes(Bucket::Built, &key, &bytes);
            }
            Ok(Arc::new(bytes))
        })
        .clone()
    }

    fn tick(&self, message: String) -> Tick<'_> {
        if let Some(bar) = &self.progress {
            bar.inc_length(1);
            bar.set_message(message);
        }
        Tick(self.progress.as_ref())
    }

    fn build(
        &self,
        sdist: &Sdist<'_>,
        python: &Interpreter,
        extra: &[Requirement],
        indexes: &BuildIndexes<'_>,
    ) -> Result<Vec<u8>, IndexError> {
        let mut failure = BuildFailure {
            file: sdist.filename.to_string(),
            backend: LEGACY_BACKEND.to_string(),
            python: python.version.to_string(),
            message: String::new(),
            output: Vec::new(),
        };
        let fail = |failure: &BuildFailure, message: String| {
            let mut failure = failure.clone();
            failure.message = message;
            IndexError::Build(Box::new(failure))
        };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let work = self.work().map_err(|why| fail(&failure, why))?;
        let dir = work.join(format!("sdist-{n}"));
        let _cleanup = RemoveOnDrop(dir.clone());
        std::fs::create_dir_all(&dir)
            .map_err(|err| fail(&failure, format!("cannot make its build directory: {err}")))?;
        let tree = match sdist.source {
            SdistSource::Tree(tree) => tree.to_path_buf(),
            SdistSource::Archive(download) => {
                let unpacked = dir.join("src");
                std::fs::create_dir_all(&unpacked)
                    .map_err(|err| fail(&failure, format!("cannot unpack it: {err}")))?;
                let archive = dir.join("archive");
                download(&archive)?;
                let unpacking = if sdist.filename.to_ascii_lowercase().ends_with(".zip") {
                    unpack::zip(&archive, &unpacked, &|p| Some(p.to_path_buf()))
                } else {
                    unpack::tar_gz(&archive, &unpacked)
                };
                let tree = unpacking
                    .and_then(|()| unpack::top_dir(&unpacked))
                    .map_err(|why| fail(&failure, format!("cannot unpack it: {why}")))?;
                let _ = std::fs::remove_file(&archive);
                tree
            }
        };

        let pyproject = tree.join("pyproject.toml");
        let system = match std::fs::read_to_string(&pyproject) {
            Ok(text) => metadata::parse_build_system(&text, "pyproject.toml", sdist.filename)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                metadata::parse_build_system("", "pyproject.toml", sdist.filename)?
            }
            Err(err) => return Err(fail(&failure, format!("cannot read pyproject.toml: {err}"))),
        };
        failure.backend = system
            .backend
            .clone()
            .unwrap_or_else(|| LEGACY_BACKEND.into());
        let mut requires = Vec::new();
        for text in &system.requires {
            let requirement =
                crate::input::pep508::parse_requirement(text, None).map_err(|err| {
                    fail(
                        &failure,
                        format!(
                            "its build requirement `{text}` is not valid: {}",
                            err.message
                        ),
                    )
                })?;
            requires.push(requirement);
        }
        requires.extend(extra.iter().cloned());
        let env = self
            .environment(&requires, python, indexes)
            .map_err(|why| fail(&failure, why))?;

        let hook = Hook {
            script: &work.join(HOOK_RUNNER),
            tree: &tree,
            backend: &failure.backend,
            backend_path: &system.backend_path,
            timeout: self.options.timeout,
            log: &dir.join("build.log"),
            work,
        };
        let explain = |failure: &BuildFailure, error: HookError| {
            let mut failure = failure.clone();
            failure.message = error.explain(sdist.name, &failure.backend, extra);
            failure.output = error.output;
            IndexError::Build(Box::new(failure))
        };
        let out = dir.join("out");
        std::fs::create_dir_all(&out)
            .map_err(|err| fail(&failure, format!("cannot make its output directory: {err}")))?;
        // Usually the environment has what `get_requires_for_build_wheel` asks for, and
        // one process runs both hooks; else the asked-for requirements are installed and
        // the metadata hook runs again in the new environment.
        let answer = hook
            .metadata(&env.venv, &out, &|asked| {
                asked.iter().all(|text| {
                    crate::input::pep508::parse_requirement(text, None)
                        .is_ok_and(|requirement| env.has(&requirement, python))
                })
            })
            .map_err(|e| explain(&failure, e))?;
        let answer = match answer {
            Ok(answer) => answer,
            Err(dynamic) => {
                for text in &dynamic {
                    let requirement =
                        crate::input::pep508::parse_requirement(text, None).map_err(|err| {
                            fail(
                                &failure,
                                format!(
                                    "its backend asks for the build requirement `{text}`, \
                                     which is not valid: {}",
                                    err.message
                                ),
                            )
                        })?;
                    if !env.has(&requirement, python) {
                        requires.push(requirement);
                    }
                }
                let env = self
                    .environment(&requires, python, indexes)
                    .map_err(|why| fail(&failure, why))?;
                match hook
                    .prepare_metadata(&env.venv, &out)
                    .map_err(|e| explain(&failure, e))?
                {
                    Some(dist_info) => Metadata::DistInfo(dist_info),
                    None => Metadata::Wheel(
                        hook.build_wheel(&env.venv, &out)
                            .map_err(|e| explain(&failure, e))?,
                    ),
                }
            }
        };
        let bytes = match answer {
            Metadata::DistInfo(dist_info) => {
                let path = out.join(&dist_info).join("METADATA");
                std::fs::read(&path).map_err(|err| {
                    fail(
                        &failure,
                        format!(
                            "its backend named `{dist_info}`, but `METADATA` there cannot \
                             be read: {err}"
                        ),
                    )
                })?
            }
            Metadata::Wheel(wheel) => {
                let bytes = std::fs::read(out.join(&wheel)).map_err(|err| {
                    fail(
                        &failure,
                        format!("its backend built `{wheel}`, which cannot be read: {err}"),
                    )
                })?;
                metadata::wheel_metadata_bytes(&bytes, &wheel)?
            }
        };
        check_built(&bytes, sdist).map_err(|why| fail(&failure, why))?;
        Ok(bytes)
    }

    /// An environment with `requires` installed for `python`, made once per run for
    /// one set of requirements.
    fn environment(
        &self,
        requires: &[Requirement],
        python: &Interpreter,
        indexes: &BuildIndexes<'_>,
    ) -> Result<Arc<Env>, String> {
        let mut texts: Vec<String> = requires.iter().map(ToString::to_string).collect();
        texts.sort();
        texts.dedup();
        let key = format!("{}\0{}", python.key, texts.join("\0"));
        let cell = shared(&self.environments, key);
        cell.get_or_init(|| {
            self.make_environment(requires, python, indexes)
                .map(Arc::new)
        })
        .clone()
    }

    fn make_environment(
        &self,
        requires: &[Requirement],
        python: &Interpreter,
        indexes: &BuildIndexes<'_>,
    ) -> Result<Env, String> {
        let roots = requires
            .iter()
            .map(|requirement| RootRequirement {
                requirement: requirement.clone(),
                source: "build-system.requires".into(),
            })
            .collect();
        let mut request = ResolveRequest::new(python.target.clone(), roots);
        // Build requirements come as wheels: building them in turn could recurse.
        request.only_binary = BinarySelection::All;
        let named = requires
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let started = std::time::Instant::now();
        let resolution =
            resolve::resolve(indexes.client, &request, "build environment").map_err(|err| {
                format!(
                    "cannot resolve its build requirements ({named}) for Python {}: {}",
                    python.version,
                    crate::errors::chain(&err)
                )
            })?;
        tracing::debug!(
            "resolved the build requirements {named} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let started = std::time::Instant::now();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let venv = Venv::create(&self.work()?.join(format!("env-{n}")), python)
            .map_err(|why| format!("cannot make its build environment: {why}"))?;
        // Downloads and unpacking overlap: a build requirement such as torch brings
        // dozens of large wheels.
        let mut packages: Vec<&resolve::ResolvedPackage> = resolution.packages.values().collect();
        // Largest first: a big wheel's download and unpacking then overlap with the
        // small ones', instead of finishing alone at the end.
        packages.sort_by_key(|package| {
            let largest = package.files.iter().filter_map(|f| f.size).max();
            std::cmp::Reverse(largest.unwrap_or(0))
        });
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<String>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..INSTALL_THREADS.min(packages.len()) {
                scope.spawn(|| {
                    while let Some(package) = packages.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let fetching = std::time::Instant::now();
                        let installed = self
                            .wheel(indexes.client, package, python)
                            .and_then(|wheel| {
                                let size = std::fs::metadata(&wheel).map_or(0, |m| m.len());
                                self.installed.fetch_add(size, Ordering::Relaxed);
                                let unpacking = std::time::Instant::now();
                                venv.install(&wheel)?;
                                tracing::trace!(
                                    "`{}` ({} MB): fetched in {:.1}s, unpacked in {:.1}s",
                                    package.name,
                                    size >> 20,
                                    (unpacking - fetching).as_secs_f64(),
                                    unpacking.elapsed().as_secs_f64()
                                );
                                Ok(())
                            })
                            .map_err(|why| {
                                format!(
                                    "cannot install `{}` {} into its build environment: {why}",
                                    package.name, package.version
                                )
                            });
                        if let Err(why) = installed {
                            failure
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(why);
                            return;
                        }
                    }
                });
            }
        });
        if let Some(why) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(why);
        }
        tracing::debug!(
            "installed a build environment of {} wheels for Python {} in {:.1}s: {}",
            packages.len(),
            python.version,
            started.elapsed().as_secs_f64(),
            named
        );
        let pins = packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        Ok(Env { venv, pins })
    }

    /// The best wheel of `package` for `python`, downloaded (hash-checked) once per run.
    fn wheel(
        &self,
        client: &RegistryClient,
        package: &resolve::ResolvedPackage,
        python: &Interpreter,
    ) -> Result<PathBuf, String> {
        let best = package
            .files
            .iter()
            .filter(|file| file.is_wheel)
            .filter_map(|file| {
                let wheel = WheelFilename::from_str(&file.filename).ok()?;
                Some((python.target.dist_rank(&wheel.kind())?, file))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, file)| file)
            .ok_or_else(|| {
                format!(
                    "`{}` {} has no wheel for Python {} on this machine",
                    package.name, package.version, python.version
                )
            })?;
        let cell = shared(&self.wheels, best.sha256.clone());
        cell.get_or_init(|| {
            let project = client
                .project(&package.name)
                .map_err(|err| crate::errors::chain(&err))?
                .ok_or_else(|| format!("`{}` vanished from the index", package.name))?;
            let file = project
                .files
                .iter()
                .find(|file| file.filename == best.filename)
                .ok_or_else(|| format!("`{}` vanished from the index", best.filename))?;
            let dir = self.work()?.join("wheels");
            std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
            let path = dir.join(&best.filename);
            client
                .download_to_path(file, &path)
                .map_err(|err| crate::errors::chain(&err))?;
            if let DistKind::Wheel { .. } = file.kind {
                Ok(path)
            } else {
                Err(format!("`{}` is not a wheel", best.filename))
            }
        })
        .clone()
    }
}

/// The cache key of one build: the sdist, the interpreter, the extra requirements.
fn build_key(sha256: &str, interpreter: &str, extra: &[Requirement]) -> String {
    let mut hasher = Sha256::new();
    for part in [sha256, interpreter] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let mut extra: Vec<String> = extra.iter().map(ToString::to_string).collect();
    extra.sort();
    for requirement in extra {
        hasher.update(requirement.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Built metadata must be valid and of the sdist it was built from.
fn check_built(bytes: &[u8], sdist: &Sdist<'_>) -> Result<(), String> {
    let core = metadata::parse_core_metadata(bytes, sdist.filename)
        .map_err(|err| format!("its backend wrote metadata dockgen cannot read: {err}"))?;
    let version_differs = sdist
        .version
        .is_some_and(|version| core.version != *version);
    if core.name != *sdist.name || version_differs {
        let wanted = match sdist.version {
            Some(version) => format!("`{}` {version}", sdist.name),
            None => format!("`{}`", sdist.name),
        };
        return Err(format!(
            "its backend wrote the metadata of `{}` {}, but {wanted} was required",
            core.name, core.version
        ));
    }
    Ok(())
}

fn shared<K: std::hash::Hash + Eq, T>(map: &Once<K, T>, key: K) -> Shared<T> {
    map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone()
}

/// A counting semaphore: at most `n` builds at once.
struct Slots {
    free: Mutex<usize>,
    returned: Condvar,
}

impl Slots {
    fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            returned: Condvar::new(),
        }
    }

    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .returned
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.returned.notify_one();
    }
}

struct Tick<'a>(Option<&'a indicatif::ProgressBar>);

impl Drop for Tick<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.0 {
            bar.inc(1);
        }
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
