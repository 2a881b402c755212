//! [`RegistryClient`]: the [`PackageSource`] over real indexes and `--find-links`
//! sources. It applies the index policy (`packages:` pinning, `--index-strategy`
//! among the general indexes, `exclude_newer`), finds metadata the cheapest way (sidecar, range
//! requests, whole file), verifies hashes, and deduplicates concurrent requests.
//!
//! The resolver calls from a plain thread; each call blocks on a future run by the
//! client's tokio runtime, and identical requests share one in-flight fetch.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use url::Url;

use super::auth::{AuthStore, Credentials};
use super::cache::{Bucket, Cache};
use super::client::{HttpClient, HttpSettings, RangeReply, RangeSpec};
use super::find_links::{FindLinksSource, list_dir};
use super::metadata::{self, MetadataError, WheelEntry};
use super::simple::{self, Conversion, PageFile, SimplePage};
use super::strategy::{IndexAnswer, IndexStrategy, IndexSurvey, SurveyedIndex, merge_best_match};
use super::zip::{self, RangeError};
use super::{
    BuildSystem, CoreMetadata, DistFile, DistKind, IndexError, PackageSource, ProjectFiles, Skipped,
};
use crate::input::target::Target;
use crate::secrets::{self, without_userinfo};

/// One index, in the order the profile lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexConfig {
    pub name: String,
    /// The simple API root; may carry credentials as userinfo.
    pub url: Url,
    /// When set, this index serves only these projects, and they come only from it.
    pub packages: Option<BTreeSet<PackageName>>,
    /// Ignore files uploaded at or after this instant (uv's rule).
    pub exclude_newer: Option<jiff::Timestamp>,
}

/// Where netrc credentials come from.
#[derive(Debug, Clone, Default)]
pub enum NetrcSource {
    /// `$NETRC`, else `~/.netrc`, when it exists.
    #[default]
    Default,
    Path(PathBuf),
    Disabled,
}

/// How the client behaves; `Default` is what the command line gives without flags.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `None`: [`Cache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Serve from the cache only; a miss is [`IndexError::Offline`].
    pub offline: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retries: u32,
    pub retry_base: Duration,
    pub concurrency: usize,
    /// Ticks once per network fetch; the command layer creates it on terminals only.
    pub progress: Option<indicatif::ProgressBar>,
    pub netrc: NetrcSource,
    /// Read `DOCKGEN_INDEX_<NAME>_USERNAME` / `_PASSWORD` from the process environment.
    pub env_credentials: bool,
    /// Run on this runtime instead of an own one (2 workers).
    pub runtime: Option<tokio::runtime::Handle>,
    /// URLs of direct references: the credentials in their userinfo are bound to their
    /// origin (after the indexes' own).
    pub direct_urls: Vec<Url>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        let http = HttpSettings::default();
        Self {
            cache_dir: None,
            offline: false,
            connect_timeout: http.connect_timeout,
            read_timeout: http.read_timeout,
            retries: http.retries,
            retry_base: http.retry_base,
            concurrency: http.concurrency,
            progress: None,
            netrc: NetrcSource::Default,
            env_credentials: true,
            runtime: None,
            direct_urls: Vec::new(),
        }
    }
}

/// Size of the first range request into a wheel: enough for the central directory of
/// most wheels, so metadata usually takes two requests.
const TAIL_PROBE: u64 = 64 * 1024;

type Shared<T> = Arc<OnceCell<Result<T, IndexError>>>;
type SharedMap<K, T> = Mutex<HashMap<K, Shared<T>>>;

/// The [`PackageSource`] over indexes and find-links sources. Results, errors included,
/// are remembered for the life of the client: one run asks each question once.
pub struct RegistryClient {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

struct Index {
    config: IndexConfig,
    name: Arc<str>,
    /// `config.url` without userinfo, ending in `/`.
    url: Url,
    warned_no_upload_time: AtomicBool,
}

impl Index {
    /// This index's line in an [`IndexSurvey`].
    fn answer(&self, answer: IndexAnswer) -> SurveyedIndex {
        SurveyedIndex {
            name: self.name.clone(),
            url: crate::secrets::url(&self.url),
            answer,
        }
    }

    fn new(config: IndexConfig) -> Self {
        let mut url = without_userinfo(&config.url);
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Index {
            name: Arc::from(config.name.as_str()),
            url,
            config,
            warned_no_upload_time: AtomicBool::new(false),
        }
    }
}

struct FindLinks {
    source: FindLinksSource,
    name: Arc<str>,
    files: OnceCell<Result<Arc<Vec<PageFile>>, IndexError>>,
}

/// One view of the indexes: its own order and `packages:` pins (a profile's), over
/// state that every view of one client shares, so that several profiles in one run
/// fetch each page, metadata file and hash once.
struct Inner {
    http: HttpClient,
    cache: Option<Cache>,
    indexes: Vec<Index>,
    find_links: Arc<Vec<FindLinks>>,
    progress: Option<indicatif::ProgressBar>,
    projects: SharedMap<PackageName, Option<Arc<ProjectFiles>>>,
    pages: Arc<Pages>,
    metadata: Arc<SharedMap<String, Arc<CoreMetadata>>>,
    hashes: Arc<SharedMap<String, String>>,
    /// Entry names of wheels, by file URL.
    listings: Arc<SharedMap<String, Arc<Vec<WheelEntry>>>>,
    /// `[build-system]` of sdists, by file URL.
    build_systems: Arc<SharedMap<String, Arc<BuildSystem>>>,
    /// Published sha256 of `.metadata` sidecars, by file URL (not part of `DistFile`).
    sidecar_hashes: Arc<Mutex<HashMap<String, String>>>,
    /// Sdists downloaded (hash-checked) whose metadata needs a build, by file URL:
    /// kept for the build ([`RegistryClient::take_sdist`]) so it needs no second download.
    unbuilt: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// How the general indexes share a project (`--index-strategy`).
    strategy: IndexStrategy,
    /// Which general indexes were asked for each project, for explanations.
    surveys: Mutex<HashMap<PackageName, IndexSurvey>>,
    /// The target of the profile this view resolves for, if any: files it cannot
    /// install are left out of [`ProjectFiles`] ([`simple::Conversion::target`]).
    target: Option<Target>,
}

type SharedPage = Shared<Option<Arc<SimplePage>>>;

/// Parsed project pages, by page URL without userinfo (`None` is a 404), shared by the
/// views of one client: each page is fetched or read from the cache once for every
/// profile. A page is let go once as many views have read it as there are views for a
/// target ([`RegistryClient::for_target`]), which is when no resolution needs it
/// again: otherwise every page of a run would be held to its end. A view that asks
/// later reads it again. File URLs of a page read from the cache are relative to the
/// page's URL ([`RelativePage`]).
struct Pages {
    /// Each page, and how many views have read it.
    pages: Mutex<HashMap<String, (SharedPage, usize)>>,
    /// Views for a target made so far.
    readers: AtomicUsize,
    /// Cached pages read and parsed at once. An entry is read whole (megabytes for
    /// some projects) before it is parsed, so with every request in flight reading
    /// one, a warm or offline run held dozens at a time; parsing is CPU work, which
    /// more readers than cores cannot speed up.
    reading: tokio::sync::Semaphore,
}

impl Default for Pages {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            pages: Mutex::default(),
            readers: AtomicUsize::default(),
            reading: tokio::sync::Semaphore::new(cores),
        }
    }
}

impl Pages {
    fn cell(&self, key: &str) -> SharedPage {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        match pages.get(key) {
            Some((cell, _)) => cell.clone(),
            None => {
                let cell = Shared::default();
                pages.insert(key.to_owned(), (cell.clone(), 0));
                cell
            }
        }
    }

    /// One more view has read the page at `key`.
    fn read(&self, key: &str) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, reads)) = pages.get_mut(key) {
            *reads += 1;
            if *reads >= self.readers.load(Ordering::Relaxed).max(1) {
                pages.remove(key);
            }
        }
    }
}

/// What the indexes asked for a project gave.
enum Found {
    /// Files, the (first) index they came from, and how many were left out for the
    /// target (there may be none left).
    Files(Arc<str>, Vec<DistFile>, Skipped),
    /// Only an empty page, on this index.
    Empty(Arc<str>),
    Nothing,
}

/// A project page as cached: the parsed files. The HTTP policy that says when to
/// revalidate them is kept apart ([`Bucket::SimplePolicy`]). An entry an earlier
/// dockgen wrote, with the policy inside, reads the same; having no policy file, it is
/// fetched whole once, and then kept in this form.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    page: SimplePage,
}

/// The HTTP cache policy of a cached page ([`Bucket::SimplePolicy`]), and the sha256
/// of the response body the page was parsed from: a page fetched again with the same
/// body is not written again. An entry an earlier dockgen wrote (the policy alone) does
/// not parse, so the page is fetched whole once.
#[derive(Serialize, Deserialize)]
struct PagePolicy {
    policy: CachePolicy,
    body_sha256: Option<String>,
}

/// What [`CachedPage`] is written from, without copying the page (up to
/// [`HttpClient::page_limit`] of it): the same JSON, its file URLs made relative as
/// [`RelativePage`] says.
#[derive(Serialize)]
struct CachedPageRef<'a> {
    page: RelativePage<'a>,
}

/// The page as cached: file URLs on the page's origin relative to the page, so that
/// what the page URL holds (a token in its path) is not written to disk. Serialises
/// as a [`SimplePage`] does; only one file at a time is copied.
struct RelativePage<'a> {
    page: &'a SimplePage,
    page_url: &'a Url,
}

impl Serialize for RelativePage<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        struct Files<'a>(&'a RelativePage<'a>);
        impl Serialize for Files<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let page_url = self.0.page_url;
                // URLs on the page are as `Url` writes them, so one on another origin
                // (PyPI's files host) is told apart by its start, without parsing it.
                let origin = format!("{}/", page_url.origin().ascii_serialization());
                let mut seq = serializer.serialize_seq(Some(self.0.page.files.len()))?;
                for file in &self.0.page.files {
                    match Some(&file.url)
                        .filter(|url| url.starts_with(&origin))
                        .and_then(|url| Url::parse(url).ok())
                        .filter(|url| url.origin() == page_url.origin())
                        .and_then(|url| page_url.make_relative(&url))
                    {
                        Some(relative) => seq.serialize_element(&PageFile {
                            url: relative,
                            ..file.clone()
                        })?,
                        None => seq.serialize_element(file)?,
                    }
                }
                seq.end()
            }
        }
        let mut page = serializer.serialize_struct("SimplePage", 1)?;
        page.serialize_field("files", &Files(self))?;
        page.end()
    }
}

impl RegistryClient {
    pub fn new(
        indexes: Vec<IndexConfig>,
        find_links: Vec<FindLinksSource>,
        options: ClientOptions,
    ) -> Result<Self, IndexError> {
        let mut auth = AuthStore::new();
        let mut seen = BTreeSet::new();
        let mut states = Vec::with_capacity(indexes.len());
        for config in indexes {
            if !seen.insert(config.name.clone()) {
                return Err(IndexError::Config {
                    message: format!(
                        "the index name `{}` is used twice; give each index its own name",
                        config.name
                    ),
                });
            }
            let env = |key: &str| std::env::var(key).ok();
            let credentials = Credentials::from_url(&config.url).or_else(|| {
                options
                    .env_credentials
                    .then(|| Credentials::from_env(&config.name, &env))
                    .flatten()
            });
            if let Some(credentials) = credentials {
                auth.insert(&config.url, credentials);
            }
            states.push(Index::new(config));
        }
        for url in &options.direct_urls {
            if let Some(credentials) = Credentials::from_url(url) {
                auth.insert(url, credentials);
            }
        }
        match &options.netrc {
            NetrcSource::Default => {
                if let Some(path) = AuthStore::default_netrc_path() {
                    auth.load_netrc(&path);
                }
            }
            NetrcSource::Path(path) => auth.load_netrc(path),
            NetrcSource::Disabled => {}
        }
        let http = HttpClient::new(
            HttpSettings {
                connect_timeout: options.connect_timeout,
                read_timeout: options.read_timeout,
                retries: options.retries,
                retry_base: options.retry_base,
                concurrency: options.concurrency,
                offline: options.offline,
            },
            auth,
        )?;
        let cache = options
            .cache_dir
            .clone()
            .or_else(Cache::default_dir)
            .filter(|dir| usable_cache_dir(dir))
            .map(Cache::new);
        let (handle, runtime) = match options.runtime {
            Some(handle) => (handle, None),
            None => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("dockgen-index")
                    .enable_all()
                    .build()
                    .map_err(|err| IndexError::Config {
                        message: format!("cannot start the index runtime: {err}"),
                    })?;
                (runtime.handle().clone(), Some(runtime))
            }
        };
        let find_links = find_links
            .into_iter()
            .map(|source| FindLinks {
                name: Arc::from(source.name().as_str()),
                source,
                files: OnceCell::new(),
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                cache,
                indexes: states,
                find_links: Arc::new(find_links),
                progress: options.progress,
                projects: Mutex::default(),
                pages: Arc::default(),
                metadata: Arc::default(),
                hashes: Arc::default(),
                listings: Arc::default(),
                build_systems: Arc::default(),
                sidecar_hashes: Arc::default(),
                unbuilt: Arc::default(),
                strategy: IndexStrategy::default(),
                surveys: Mutex::default(),
                target: None,
            }),
            handle,
            runtime,
        })
    }

    /// The same client with another index order and other `packages:` pins (another
    /// profile's): its own answers to "which index serves X", over the pages,
    /// metadata and hashes this client already fetched or will fetch. Credentials are
    /// those registered when this client was made, so make it with every index any
    /// view will use.
    pub fn for_indexes(&self, indexes: &[IndexConfig]) -> RegistryClient {
        self.for_indexes_with(indexes, IndexStrategy::default())
    }

    /// [`RegistryClient::for_indexes`], the general indexes sharing projects by `strategy`.
    pub fn for_indexes_with(
        &self,
        indexes: &[IndexConfig],
        strategy: IndexStrategy,
    ) -> RegistryClient {
        self.view(indexes, strategy, None)
    }

    /// [`RegistryClient::for_indexes_with`] for one target: its projects hold only the
    /// files `target` can install (and count the others), which is all a resolution
    /// for it reads, and a fraction of the files of a project with platform wheels.
    pub fn for_target(
        &self,
        indexes: &[IndexConfig],
        strategy: IndexStrategy,
        target: &Target,
    ) -> RegistryClient {
        self.view(indexes, strategy, Some(target.clone()))
    }

    fn view(
        &self,
        indexes: &[IndexConfig],
        strategy: IndexStrategy,
        target: Option<Target>,
    ) -> RegistryClient {
        let inner = &self.inner;
        if target.is_some() {
            inner.pages.readers.fetch_add(1, Ordering::Relaxed);
        }
        RegistryClient {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                cache: inner.cache.clone(),
                indexes: indexes.iter().cloned().map(Index::new).collect(),
                find_links: inner.find_links.clone(),
                progress: inner.progress.clone(),
                projects: Mutex::default(),
                pages: inner.pages.clone(),
                metadata: inner.metadata.clone(),
                hashes: inner.hashes.clone(),
                listings: inner.listings.clone(),
                build_systems: inner.build_systems.clone(),
                sidecar_hashes: inner.sidecar_hashes.clone(),
                unbuilt: inner.unbuilt.clone(),
                strategy,
                surveys: Mutex::default(),
                target,
            }),
            handle: self.handle.clone(),
            runtime: None,
        }
    }

    /// Names of the indexes this view searches, in order, then the find-links sources.
    pub fn source_names(&self) -> Vec<String> {
        let inner = &self.inner;
        let indexes = inner.indexes.iter().map(|i| i.name.to_string());
        let links = inner.find_links.iter().map(|f| f.name.to_string());
        indexes.chain(links).collect()
    }

    /// Whether `--offline` forbids the network.
    pub fn is_offline(&self) -> bool {
        self.inner.http.settings().offline
    }

    /// The on-disk cache directory, when there is one.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache.as_ref().map(Cache::root)
    }

    /// Downloads `file` into `path` (created or truncated), streaming, with this client's
    /// credentials, retries and `--offline`, and checks the bytes against the published
    /// sha256 ([`IndexError::HashMismatch`]). Blocks; safe to call from several threads.
    pub fn download_to_path(
        &self,
        file: &DistFile,
        path: &std::path::Path,
    ) -> Result<Downloaded, IndexError> {
        let inner = self.inner.clone();
        let file = file.clone();
        let path = path.to_path_buf();
        self.block_on(async move { inner.download_to_path(&file, &path).await })
    }

    /// Every entry of the wheel `file` (its zip's central directory: names and unpacked
    /// sizes), by range requests where the index allows them, else from the whole
    /// (hash-checked) file. Cached on disk per file and hash, so a warm cache answers
    /// offline. Blocks.
    pub fn wheel_entries(&self, file: &DistFile) -> Result<Arc<Vec<WheelEntry>>, IndexError> {
        let inner = self.inner.clone();
        let file = file.clone();
        self.block_on(async move { inner.wheel_entries(&file).await })
    }

    /// The (hash-checked) bytes of the sdist `file` when this run downloaded it and
    /// found that its metadata needs a build; each is handed out once.
    pub fn take_sdist(&self, file: &DistFile) -> Option<Vec<u8>> {
        self.inner
            .unbuilt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(file.url.as_str())
    }

    /// The `[build-system]` of the sdist `file` (the PEP 517 defaults when it declares
    /// none), from the whole, hash-checked file. Cached on disk per file and hash. Blocks.
    pub fn sdist_build_system(&self, file: &DistFile) -> Result<Arc<BuildSystem>, IndexError> {
        let inner = self.inner.clone();
        let file = file.clone();
        self.block_on(async move { inner.build_system(&file).await })
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match &self.runtime {
            Some(runtime) => runtime.block_on(future),
            None => self.handle.block_on(future),
        }
    }
}

impl Drop for RegistryClient {
    fn drop(&mut self) {
        // Prefetches may still run; they hold nothing that needs a clean stop.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PackageSource for RegistryClient {
    fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        let inner = self.inner.clone();
        let name = name.clone();
        self.block_on(async move { inner.project(&name).await })
    }

    fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        let inner = self.inner.clone();
        let file = file.clone();
        self.block_on(async move { inner.metadata(&file).await })
    }

    fn sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        let inner = self.inner.clone();
        let file = file.clone();
        self.block_on(async move { inner.sha256(&file).await })
    }

    fn survey(&self, name: &PackageName) -> Option<IndexSurvey> {
        let surveys = self.inner.surveys.lock();
        surveys
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn prefetch_project(&self, name: &PackageName) {
        let inner = self.inner.clone();
        let name = name.clone();
        self.handle.spawn(async move {
            let _ = inner.project(&name).await;
        });
    }

    fn prefetch_metadata(&self, file: &DistFile) {
        let inner = self.inner.clone();
        let file = file.clone();
        self.handle.spawn(async move {
            let _ = inner.metadata(&file).await;
        });
    }
}

fn shared<K: Eq + Hash + Clone, T>(map: &SharedMap<K, T>, key: &K) -> Shared<T> {
    map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.clone())
        .or_default()
        .clone()
}

/// Whether `dir` can be the cache: a directory, or nothing yet. Anything else (a
/// file, say) is warned about, once per client, and the run goes on without a cache.
fn usable_cache_dir(dir: &std::path::Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            tracing::warn!(
                "the cache directory `{}` is not a directory; running without a cache \
                 (remove it, or point `--cache-dir` / `DOCKGEN_CACHE_DIR` elsewhere)",
                dir.display()
            );
            false
        }
        _ => true,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file written by [`RegistryClient::download_to_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Of the bytes written (equal to the published one when there is one).
    pub sha256: String,
    pub size: u64,
}

/// A progress tick for one network fetch; finishes the tick when dropped.
struct Tick<'a>(Option<&'a indicatif::ProgressBar>);

impl Drop for Tick<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.0 {
            bar.inc(1);
        }
    }
}

impl Inner {
    fn tick(&self, message: String) -> Tick<'_> {
        if let Some(bar) = &self.progress {
            bar.inc_length(1);
            bar.set_message(message);
        }
        Tick(self.progress.as_ref())
    }

    async fn project(&self, name: &PackageName) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        let cell = shared(&self.projects, name);
        cell.get_or_init(|| self.fetch_project(name)).await.clone()
    }

    async fn fetch_project(
        &self,
        name: &PackageName,
    ) -> Result<Option<Arc<ProjectFiles>>, IndexError> {
        let pinned: Vec<&Index> = self
            .indexes
            .iter()
            .filter(|index| {
                index
                    .config
                    .packages
                    .as_ref()
                    .is_some_and(|p| p.contains(name))
            })
            .collect();
        let found = if pinned.is_empty() {
            let general: Vec<&Index> = self
                .indexes
                .iter()
                .filter(|index| index.config.packages.is_none())
                .collect();
            let (found, answers) = match self.strategy {
                IndexStrategy::FirstIndex => self.first_index_files(name, &general).await?,
                IndexStrategy::UnsafeBestMatch | IndexStrategy::UnsafeFirstMatch => {
                    self.every_index_files(name, &general).await?
                }
            };
            let survey = IndexSurvey {
                strategy: self.strategy,
                indexes: answers,
            };
            let mut surveys = self.surveys.lock().unwrap_or_else(PoisonError::into_inner);
            surveys.insert(name.clone(), survey);
            found
        } else {
            self.first_index_files(name, &pinned).await?.0
        };
        let mut extra = Vec::new();
        let mut extra_skipped = Skipped::default();
        // The first find-links source with files of the project (usable or not).
        let mut extra_source: Option<Arc<str>> = None;
        for source in self.find_links.iter() {
            let files = source
                .files
                .get_or_init(|| self.load_find_links(source))
                .await
                .clone()?;
            let converted = simple::convert(
                files.iter(),
                &Conversion {
                    project: name,
                    index: &source.name,
                    local_source: matches!(source.source, FindLinksSource::Dir(_)),
                    base: None,
                    target: self.target.as_ref(),
                },
            )?;
            self.remember_sidecar_hashes(converted.sidecars);
            if !converted.files.is_empty() || converted.skipped.total() > 0 {
                extra_source.get_or_insert_with(|| source.name.clone());
            }
            extra.extend(converted.files);
            extra_skipped += converted.skipped;
        }
        // Where no index has the project, the source that serves it: the first with
        // files the target can use, else the first with any.
        let extra_index = extra.first().map(|f| f.index.clone()).or(extra_source);
        let (index, mut files, mut skipped) = match (found, extra_index) {
            (Found::Files(index, files, skipped), _) => (index, files, skipped),
            (_, Some(source)) => (source, Vec::new(), Skipped::default()),
            (Found::Empty(index), None) => (index, Vec::new(), Skipped::default()),
            (Found::Nothing, None) => return Ok(None),
        };
        files.extend(extra);
        skipped += extra_skipped;
        Ok(Some(Arc::new(ProjectFiles {
            name: name.clone(),
            index,
            files,
            skipped,
        })))
    }

    /// First-index: the files of the first of `indexes` that has usable files of
    /// `name`; the indexes after it are never asked.
    async fn first_index_files(
        &self,
        name: &PackageName,
        indexes: &[&Index],
    ) -> Result<(Found, Vec<SurveyedIndex>), IndexError> {
        let mut found = Found::Nothing;
        let mut answers = Vec::with_capacity(indexes.len());
        for index in indexes {
            if matches!(found, Found::Files(..)) {
                answers.push(index.answer(IndexAnswer::NotAsked));
                continue;
            }
            let target = self.target.as_ref();
            let Some((files, skipped, too_new)) = self.index_files(index, name, target).await?
            else {
                answers.push(index.answer(IndexAnswer::Missing));
                continue;
            };
            answers.push(index.answer(IndexSurvey::answer(&files, skipped, too_new)));
            // An index with files of the project is the one, even when the target can
            // use none of them: the next index is not asked for it.
            if !files.is_empty() || skipped.total() > 0 {
                found = Found::Files(index.name.clone(), files, skipped);
                continue;
            }
            tracing::debug!("index `{}` has no usable files of `{name}`", index.name);
            // The first index with a page for the project but no files on it: the
            // project is there, only empty, and "not in any index" would mislead.
            if too_new == 0 && matches!(found, Found::Nothing) {
                found = Found::Empty(index.name.clone());
            }
        }
        Ok((found, answers))
    }

    /// Unsafe-best-match and unsafe-first-match: every index asked at once, their
    /// versions merged ([`merge_best_match`]).
    async fn every_index_files(
        &self,
        name: &PackageName,
        indexes: &[&Index],
    ) -> Result<(Found, Vec<SurveyedIndex>), IndexError> {
        // Every file is kept: which index a version comes from is decided by every file
        // of it, the ones the target cannot use too.
        let pages = futures::future::join_all(
            indexes
                .iter()
                .map(|index| self.index_files(index, name, None)),
        )
        .await;
        let mut answers = Vec::with_capacity(indexes.len());
        let mut per_index = Vec::new();
        let mut first: Option<Arc<str>> = None;
        let mut empty: Option<Arc<str>> = None;
        for (index, page) in indexes.iter().zip(pages) {
            let Some((files, skipped, too_new)) = page? else {
                answers.push(index.answer(IndexAnswer::Missing));
                continue;
            };
            answers.push(index.answer(IndexSurvey::answer(&files, skipped, too_new)));
            if files.is_empty() {
                if too_new == 0 {
                    empty.get_or_insert_with(|| index.name.clone());
                }
                continue;
            }
            first.get_or_insert_with(|| index.name.clone());
            per_index.push(files);
        }
        let found = match (first, empty) {
            (Some(first), _) => {
                Found::Files(first, merge_best_match(per_index), Skipped::default())
            }
            (None, Some(empty)) => Found::Empty(empty),
            (None, None) => Found::Nothing,
        };
        Ok((found, answers))
    }

    /// The files of `name` on one index after `exclude_newer` that `target` (if any)
    /// can install, how many the target cannot, and how many `exclude_newer` dropped;
    /// `None` when the index does not have the project.
    async fn index_files(
        &self,
        index: &Index,
        name: &PackageName,
        target: Option<&Target>,
    ) -> Result<Option<(Vec<DistFile>, Skipped, usize)>, IndexError> {
        let url = index
            .url
            .join(&format!("{name}/"))
            .map_err(|err| IndexError::Config {
                message: format!(
                    "cannot form the page URL of `{name}` on index `{}`: {err}",
                    index.name
                ),
            })?;
        let what = || format!("the project page of `{name}` on index `{}`", index.name);
        let base = without_userinfo(&url);
        let key = base.to_string();
        let cell = self.pages.cell(&key);
        let page = cell
            .get_or_init(|| self.cached_page(&index.name, &url, what))
            .await
            .clone();
        self.pages.read(&key);
        let Some(page) = page? else {
            return Ok(None);
        };
        let cutoff = index.config.exclude_newer;
        if cutoff.is_some()
            && page.files.iter().any(|f| f.upload_time.is_none())
            && !index.warned_no_upload_time.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "index `{}` does not publish upload times, so `exclude_newer` cannot apply there; \
                 its files are all kept",
                index.name
            );
        }
        let in_time = |file: &&PageFile| match (cutoff, file.upload_time) {
            (Some(cutoff), Some(time)) => time < cutoff,
            _ => true,
        };
        let too_new = page.files.iter().filter(|f| !in_time(f)).count();
        let converted = simple::convert(
            page.files.iter().filter(in_time),
            &Conversion {
                project: name,
                index: &index.name,
                local_source: index.url.scheme() == "file",
                base: Some(&base),
                target,
            },
        )?;
        self.remember_sidecar_hashes(converted.sidecars);
        Ok(Some((converted.files, converted.skipped, too_new)))
    }

    /// The published sha256 of `.metadata` sidecars, for [`Inner::fetch_metadata_bytes`]
    /// to check them against.
    fn remember_sidecar_hashes(&self, sidecars: Vec<(String, String)>) {
        if sidecars.is_empty() {
            return;
        }
        self.sidecar_hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(sidecars);
    }

    /// A simple-API page, through the cache: fresh entries are used as they are, stale
    /// ones revalidated (a 304 refreshes them), `--offline` uses whatever is there.
    /// `Ok(None)` is a 404 / 410.
    async fn cached_page(
        &self,
        index: &str,
        url: &Url,
        what: impl Fn() -> String,
    ) -> Result<Option<Arc<SimplePage>>, IndexError> {
        let key = Cache::key(index, url, "");
        let read_page = || async {
            let cache = self.cache.as_ref()?;
            let _permit = self.pages.reading.acquire().await.ok()?;
            let entry: CachedPage = cache.read_json(Bucket::Simple, &key)?;
            if entry.page.hashes_well_formed() {
                Some(Arc::new(entry.page))
            } else {
                cache.remove(Bucket::Simple, &key, "a hash in it is not a sha256");
                None
            }
        };
        if self.http.settings().offline {
            return match read_page().await {
                Some(page) => Ok(Some(page)),
                None => Err(IndexError::Offline { what: what() }),
            };
        }
        let request = page_request(url);
        let now = SystemTime::now();
        let stored: Option<PagePolicy> = self
            .cache
            .as_ref()
            .and_then(|cache| cache.read_json(Bucket::SimplePolicy, &key));
        let mut headers = request.headers.clone();
        // The cached page, read only when it can be the answer: while fresh, or when a
        // "not modified" can confirm it. A stale page without validators cannot be, so
        // it is not read at all (an index that sends no caching headers).
        let mut cached = None;
        let mut unchanged_if = None;
        if let Some(stored) = stored {
            match stored.policy.before_request(&request, now) {
                BeforeRequest::Fresh(_) => {
                    if let Some(page) = read_page().await {
                        return Ok(Some(page));
                    }
                }
                BeforeRequest::Stale {
                    request: revalidate,
                    ..
                } => {
                    let conditional = [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE]
                        .iter()
                        .any(|name| revalidate.headers.contains_key(name));
                    if conditional && let Some(page) = read_page().await {
                        headers = revalidate.headers;
                        cached = Some((page, stored.policy));
                    }
                    unchanged_if = stored.body_sha256;
                }
            }
        }
        let fetched = {
            let _tick = self.tick(what());
            self.http
                .get(index, url, headers, self.http.page_limit())
                .await?
        };
        tracing::trace!("GET `{}`: {}", secrets::url(url), fetched.status);
        let response = response_parts(fetched.status, &fetched.headers);
        let store_policy = |policy: CachePolicy, body_sha256: Option<String>| {
            if let Some(cache) = &self.cache {
                let stored = PagePolicy {
                    policy,
                    body_sha256,
                };
                cache.write_json(Bucket::SimplePolicy, &key, &stored);
            }
        };
        match fetched.status {
            StatusCode::NOT_MODIFIED => {
                let Some((page, policy)) = cached else {
                    return Err(IndexError::Parse {
                        index: index.to_owned(),
                        url: secrets::url(url),
                        message: "304 Not Modified to a request that was not conditional"
                            .to_owned(),
                    });
                };
                let policy = match policy.after_response(&request, &response, now) {
                    AfterResponse::NotModified(policy, _) | AfterResponse::Modified(policy, _) => {
                        policy
                    }
                };
                tracing::debug!(
                    "`{}` not modified; cache entry refreshed",
                    secrets::url(url)
                );
                store_policy(policy, unchanged_if);
                Ok(Some(page))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            status if status.is_success() => {
                let content_type = fetched
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let page =
                    simple::parse_page(content_type, &fetched.body, url).map_err(|message| {
                        IndexError::Parse {
                            index: index.to_owned(),
                            url: secrets::url(url),
                            message,
                        }
                    })?;
                let policy = CachePolicy::new_options(
                    &request,
                    &response,
                    now,
                    CacheOptions {
                        shared: false,
                        ..CacheOptions::default()
                    },
                );
                // The same body as the cached page was written from: only the policy
                // is written again, not the page (megabytes for some projects).
                let body_sha256 = sha256_hex(&fetched.body);
                let unchanged = unchanged_if.as_ref() == Some(&body_sha256)
                    && self
                        .cache
                        .as_ref()
                        .is_some_and(|cache| cache.path(Bucket::Simple, &key).is_file());
                if let Some(cache) = self.cache.as_ref().filter(|_| !unchanged) {
                    let page = CachedPageRef {
                        page: RelativePage {
                            page: &page,
                            page_url: &without_userinfo(url),
                        },
                    };
                    cache.write_json(Bucket::Simple, &key, &page);
                }
                store_policy(policy, Some(body_sha256));
                Ok(Some(Arc::new(page)))
            }
            status => Err(IndexError::Http {
                index: index.to_owned(),
                url: secrets::url(url),
                status: status.as_u16(),
            }),
        }
    }

    async fn load_find_links(&self, source: &FindLinks) -> Result<Arc<Vec<PageFile>>, IndexError> {
        match &source.source {
            FindLinksSource::Dir(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || list_dir(&dir))
                    .await
                    .map_err(|err| IndexError::Io {
                        path: source.name.to_string(),
                        message: err.to_string(),
                    })?
                    .map(Arc::new)
            }
            FindLinksSource::Page(url) => {
                let what = || format!("the `--find-links` page `{}`", source.name);
                match self.cached_page(&source.name, url, what).await? {
                    // File URLs absolute again (a cached page's are relative to it):
                    // find-links files are converted without a base.
                    Some(page) => {
                        let base = without_userinfo(url);
                        let files = page.files.iter().map(|file| PageFile {
                            url: base
                                .join(&file.url)
                                .map_or_else(|_| file.url.clone(), |url| url.to_string()),
                            ..file.clone()
                        });
                        Ok(Arc::new(files.collect()))
                    }
                    None => Err(IndexError::Http {
                        index: source.name.to_string(),
                        url: secrets::url(url),
                        status: 404,
                    }),
                }
            }
        }
    }

    async fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        let cell = shared(&self.metadata, &file.url.to_string());
        cell.get_or_init(|| self.fetch_metadata(file)).await.clone()
    }

    async fn fetch_metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        let key = Cache::key(&file.index, &file.url, file.sha256.as_deref().unwrap_or(""));
        if let Some(cache) = &self.cache
            && let Some(bytes) = cache.read_bytes(Bucket::Metadata, &key)
        {
            match metadata::parse_core_metadata(&bytes, &file.filename) {
                Ok(metadata) => return Ok(Arc::new(metadata)),
                Err(err) => cache.remove(Bucket::Metadata, &key, &err.to_string()),
            }
        }
        // An sdist whose metadata only a build can tell stays so: remembered, so that
        // `--offline` gives the same answer as the run that downloaded it.
        if let Some(reason) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.read_json::<String>(Bucket::NeedsBuild, &key))
        {
            return Err(IndexError::NeedsBuild {
                file: file.filename.clone(),
                reason,
            });
        }
        let fetched = if file.url.scheme() == "file" {
            let bytes = self.local_file(file).await?;
            self.verify(file, &bytes)?;
            self.extract_metadata(file, &bytes).await
        } else if self.http.settings().offline {
            return Err(IndexError::Offline {
                what: format!(
                    "the metadata of `{}` from index `{}`",
                    file.filename, file.index
                ),
            });
        } else {
            let _tick = self.tick(format!("metadata of `{}`", file.filename));
            self.fetch_metadata_bytes(file).await
        };
        let bytes = match fetched {
            Ok(bytes) => bytes,
            Err(IndexError::NeedsBuild { file: name, reason }) => {
                if let Some(cache) = &self.cache {
                    cache.write_json(Bucket::NeedsBuild, &key, &reason);
                }
                return Err(IndexError::NeedsBuild { file: name, reason });
            }
            Err(err) => return Err(err),
        };
        let metadata = metadata::parse_core_metadata(&bytes, &file.filename)?;
        if let Some(cache) = &self.cache {
            cache.write_bytes(Bucket::Metadata, &key, &bytes);
        }
        Ok(Arc::new(metadata))
    }

    /// Metadata bytes the cheapest way the index allows.
    async fn fetch_metadata_bytes(&self, file: &DistFile) -> Result<Vec<u8>, IndexError> {
        if file.kind == DistKind::Sdist {
            let bytes = self.download(file).await?;
            let extracted = self.extract_metadata(file, &bytes).await;
            if let Err(IndexError::NeedsBuild { .. }) = &extracted {
                self.unbuilt
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(file.url.to_string(), bytes);
            }
            return extracted;
        }
        if file.has_metadata_sidecar {
            let mut sidecar = file.url.clone();
            sidecar.set_path(&format!("{}.metadata", file.url.path()));
            let fetched = self
                .http
                .get(
                    &file.index,
                    &sidecar,
                    HeaderMap::new(),
                    self.http.metadata_limit(),
                )
                .await?;
            if fetched.status.is_success() {
                let published = self
                    .sidecar_hashes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(file.url.as_str())
                    .cloned();
                if let Some(expected) = published {
                    let actual = sha256_hex(&fetched.body);
                    if actual != expected {
                        return Err(IndexError::HashMismatch {
                            file: format!("{}.metadata", file.filename),
                            index: file.index.to_string(),
                            expected,
                            actual,
                        });
                    }
                }
                return Ok(fetched.body.to_vec());
            }
            if fetched.status != StatusCode::NOT_FOUND {
                return Err(IndexError::Http {
                    index: file.index.to_string(),
                    url: secrets::url(&sidecar),
                    status: fetched.status.as_u16(),
                });
            }
            tracing::debug!(
                "index `{}` lists a metadata sidecar for `{}` but has none",
                file.index,
                file.filename
            );
        }
        match self.probe_ranges(file).await? {
            Probe::Whole(bytes) => return self.extract_metadata(file, &bytes).await,
            Probe::Tail(reader) => {
                match zip::wheel_metadata_bytes_by_ranges(&reader, &file.filename).await {
                    Ok((bytes, _)) => return Ok(bytes),
                    Err(err) => ranges_failed(file, err)?,
                }
            }
            Probe::NoRanges => {}
        }
        let bytes = self.download(file).await?;
        self.extract_metadata(file, &bytes).await
    }

    async fn wheel_entries(&self, file: &DistFile) -> Result<Arc<Vec<WheelEntry>>, IndexError> {
        let cell = shared(&self.listings, &file.url.to_string());
        cell.get_or_init(|| self.fetch_wheel_entries(file))
            .await
            .clone()
    }

    async fn fetch_wheel_entries(
        &self,
        file: &DistFile,
    ) -> Result<Arc<Vec<WheelEntry>>, IndexError> {
        let key = Cache::key(&file.index, &file.url, file.sha256.as_deref().unwrap_or(""));
        // A listing cached by an older dockgen (names only) does not read, and is
        // fetched again.
        if let Some(entries) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.read_json::<Vec<WheelEntry>>(Bucket::Listings, &key))
        {
            return Ok(Arc::new(entries));
        }
        let entries = if file.url.scheme() == "file" {
            let bytes = self.local_file(file).await?;
            self.verify(file, &bytes)?;
            metadata::wheel_entries(&bytes, &file.filename)?
        } else if self.http.settings().offline {
            return Err(IndexError::Offline {
                what: format!(
                    "the file list of `{}` from index `{}`",
                    file.filename, file.index
                ),
            });
        } else {
            let _tick = self.tick(format!("file list of `{}`", file.filename));
            self.fetch_wheel_entry_list(file).await?
        };
        if let Some(cache) = &self.cache {
            cache.write_json(Bucket::Listings, &key, &entries);
        }
        Ok(Arc::new(entries))
    }

    /// A wheel's entries the cheapest way the index allows: the central directory by
    /// ranges, else the whole file.
    async fn fetch_wheel_entry_list(&self, file: &DistFile) -> Result<Vec<WheelEntry>, IndexError> {
        match self.probe_ranges(file).await? {
            Probe::Whole(bytes) => {
                self.remember_metadata(file, &bytes);
                return Ok(metadata::wheel_entries(&bytes, &file.filename)?);
            }
            Probe::Tail(reader) => match zip::entries_by_ranges(&reader, &file.filename).await {
                Ok(entries) => return Ok(entries),
                Err(err) => ranges_failed(file, err)?,
            },
            Probe::NoRanges => {}
        }
        let bytes = self.download(file).await?;
        self.remember_metadata(file, &bytes);
        Ok(metadata::wheel_entries(&bytes, &file.filename)?)
    }

    /// The first range request into a remote wheel (its tail): a reader for more
    /// ranges, or the whole file (verified) when the index ignores ranges, or
    /// [`Probe::NoRanges`] when ranges cannot work there and the caller should download
    /// the file. Authentication failures and network errors are errors.
    async fn probe_ranges<'a>(&'a self, file: &'a DistFile) -> Result<Probe<'a>, IndexError> {
        match self
            .http
            .range(
                &file.index,
                &file.url,
                RangeSpec::Tail(TAIL_PROBE),
                self.http.file_limit(file.size),
            )
            .await
        {
            Ok(RangeReply::Full(bytes)) => {
                tracing::debug!(
                    "`{}` ignores range requests; using the whole file",
                    secrets::url(&file.url)
                );
                self.verify(file, &bytes)?;
                Ok(Probe::Whole(bytes))
            }
            Ok(RangeReply::Partial {
                total: Some(total), ..
            }) if file.size.is_some_and(|size| size != total) => {
                // Metadata read by ranges cannot be hash-checked without the whole
                // file; its size can.
                Err(IndexError::SizeMismatch {
                    file: file.filename.clone(),
                    index: file.index.to_string(),
                    expected: file.size.unwrap_or_default(),
                    actual: total,
                })
            }
            Ok(RangeReply::Partial {
                start,
                total: Some(total),
                body,
            }) => Ok(Probe::Tail(HttpRangeReader {
                http: &self.http,
                file,
                total,
                tail_start: start,
                tail: body,
            })),
            Ok(RangeReply::Partial { total: None, .. }) => {
                tracing::debug!(
                    "`{}` gives no file size in `Content-Range`",
                    secrets::url(&file.url)
                );
                Ok(Probe::NoRanges)
            }
            Err(IndexError::Http { status, .. }) if status != 401 && status != 403 => {
                tracing::debug!(
                    "range request into `{}` answered {status}",
                    secrets::url(&file.url)
                );
                Ok(Probe::NoRanges)
            }
            Err(err) => Err(err),
        }
    }

    /// The metadata of a whole file read for something else, kept (on disk and for
    /// this run) so that asking for it costs no second download. Failures are left for
    /// [`Inner::metadata`] to report when someone asks.
    fn remember_metadata(&self, file: &DistFile, bytes: &[u8]) {
        let key = Cache::key(&file.index, &file.url, file.sha256.as_deref().unwrap_or(""));
        let extracted = match file.kind {
            DistKind::Sdist => metadata::sdist_metadata_bytes(bytes, &file.filename),
            DistKind::Wheel { .. } => metadata::wheel_metadata_bytes(bytes, &file.filename),
        };
        let cell = shared(&self.metadata, &file.url.to_string());
        match extracted {
            Ok(raw) => {
                if let Ok(parsed) = metadata::parse_core_metadata(&raw, &file.filename) {
                    let _ = cell.set(Ok(Arc::new(parsed)));
                    if let Some(cache) = &self.cache {
                        cache.write_bytes(Bucket::Metadata, &key, &raw);
                    }
                }
            }
            Err(MetadataError::NeedsBuild { reason, .. }) => {
                if let Some(cache) = &self.cache {
                    cache.write_json(Bucket::NeedsBuild, &key, &reason);
                }
            }
            Err(_) => {}
        }
    }

    async fn build_system(&self, file: &DistFile) -> Result<Arc<BuildSystem>, IndexError> {
        let cell = shared(&self.build_systems, &file.url.to_string());
        cell.get_or_init(|| self.fetch_build_system(file))
            .await
            .clone()
    }

    async fn fetch_build_system(&self, file: &DistFile) -> Result<Arc<BuildSystem>, IndexError> {
        let key = Cache::key(&file.index, &file.url, file.sha256.as_deref().unwrap_or(""));
        if let Some(build) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.read_json::<BuildSystem>(Bucket::BuildSystems, &key))
        {
            return Ok(Arc::new(build));
        }
        let bytes = if file.url.scheme() == "file" {
            let bytes = self.local_file(file).await?;
            self.verify(file, &bytes)?;
            bytes
        } else if self.http.settings().offline {
            return Err(IndexError::Offline {
                what: format!(
                    "the build system of `{}` from index `{}`",
                    file.filename, file.index
                ),
            });
        } else {
            let _tick = self.tick(format!("downloading `{}`", file.filename));
            self.download(file).await?
        };
        let build = metadata::sdist_build_system(&bytes, &file.filename)?;
        if let Some(cache) = &self.cache {
            cache.write_json(Bucket::BuildSystems, &key, &build);
        }
        // The same download tells the metadata; spare a second one.
        self.remember_metadata(file, &bytes);
        Ok(Arc::new(build))
    }

    async fn extract_metadata(&self, file: &DistFile, bytes: &[u8]) -> Result<Vec<u8>, IndexError> {
        let extracted = match file.kind {
            DistKind::Sdist => metadata::sdist_metadata_bytes(bytes, &file.filename),
            DistKind::Wheel { .. } => metadata::wheel_metadata_bytes(bytes, &file.filename),
        };
        Ok(extracted?)
    }

    /// The whole file, checked against its published hash (the computed one is cached
    /// when none is published).
    async fn download(&self, file: &DistFile) -> Result<Vec<u8>, IndexError> {
        let bytes = self
            .http
            .get_ok(&file.index, &file.url, self.http.file_limit(file.size))
            .await?;
        self.verify(file, &bytes)?;
        Ok(bytes.to_vec())
    }

    /// Checks `bytes` against the published sha256; remembers the computed one otherwise.
    fn verify(&self, file: &DistFile, bytes: &[u8]) -> Result<(), IndexError> {
        let actual = sha256_hex(bytes);
        match &file.sha256 {
            Some(expected) if *expected != actual => Err(IndexError::HashMismatch {
                file: file.filename.clone(),
                index: file.index.to_string(),
                expected: expected.clone(),
                actual,
            }),
            Some(_) => Ok(()),
            None => {
                if let Some(cache) = &self.cache {
                    cache.write_json(
                        Bucket::Hashes,
                        &Cache::key(&file.index, &file.url, ""),
                        &actual,
                    );
                }
                Ok(())
            }
        }
    }

    async fn download_to_path(
        &self,
        file: &DistFile,
        path: &std::path::Path,
    ) -> Result<Downloaded, IndexError> {
        let (sha256, size) = if file.url.scheme() == "file" {
            let bytes = self.local_file(file).await?;
            tokio::fs::write(path, &bytes)
                .await
                .map_err(|err| IndexError::Io {
                    path: path.display().to_string(),
                    message: err.to_string(),
                })?;
            (sha256_hex(&bytes), bytes.len() as u64)
        } else if self.http.settings().offline {
            return Err(IndexError::Offline {
                what: format!("`{}` from index `{}`", file.filename, file.index),
            });
        } else {
            let _tick = self.tick(format!("downloading `{}`", file.filename));
            self.http
                .download_to_path(&file.index, &file.url, path, file.size)
                .await?
        };
        match &file.sha256 {
            Some(expected) if *expected != sha256 => {
                return Err(IndexError::HashMismatch {
                    file: file.filename.clone(),
                    index: file.index.to_string(),
                    expected: expected.clone(),
                    actual: sha256,
                });
            }
            Some(_) => {}
            None => {
                if let Some(cache) = &self.cache {
                    let key = Cache::key(&file.index, &file.url, "");
                    cache.write_json(Bucket::Hashes, &key, &sha256);
                }
            }
        }
        Ok(Downloaded { sha256, size })
    }

    async fn local_file(&self, file: &DistFile) -> Result<Vec<u8>, IndexError> {
        let path = file.url.to_file_path().map_err(|()| IndexError::Io {
            path: file.url.to_string(),
            message: "not a local path".to_owned(),
        })?;
        tokio::fs::read(&path).await.map_err(|err| IndexError::Io {
            path: path.display().to_string(),
            message: err.to_string(),
        })
    }

    async fn sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        if let Some(hash) = &file.sha256 {
            return Ok(hash.clone());
        }
        let cell = shared(&self.hashes, &file.url.to_string());
        cell.get_or_init(|| self.compute_sha256(file)).await.clone()
    }

    async fn compute_sha256(&self, file: &DistFile) -> Result<String, IndexError> {
        let key = Cache::key(&file.index, &file.url, "");
        if let Some(cache) = &self.cache
            && let Some(hash) = cache.read_json::<String>(Bucket::Hashes, &key)
        {
            // Goes into the lock as it is: only a well-formed one is used.
            match super::validate::sha256(&hash) {
                Ok(hash) => return Ok(hash),
                Err(why) => cache.remove(Bucket::Hashes, &key, &why),
            }
        }
        let hash = if file.url.scheme() == "file" {
            sha256_hex(&self.local_file(file).await?)
        } else if self.http.settings().offline {
            return Err(IndexError::Offline {
                what: format!(
                    "the sha256 of `{}` from index `{}` (it publishes none)",
                    file.filename, file.index
                ),
            });
        } else {
            let _tick = self.tick(format!("hashing `{}`", file.filename));
            self.http
                .download_sha256(&file.index, &file.url, file.size)
                .await?
        };
        if let Some(cache) = &self.cache {
            cache.write_json(Bucket::Hashes, &key, &hash);
        }
        Ok(hash)
    }
}

/// The request a project page is fetched with, as the cache policy sees it.
fn page_request(url: &Url) -> http::request::Parts {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(simple::ACCEPT));
    // The policy is cached with this URI: the URL as output, so that no secret in the
    // URL reaches the cache (the entry's key is the real URL's).
    let uri = Url::parse(&secrets::url(url))
        .ok()
        .and_then(|shown| shown.as_str().parse::<http::Uri>().ok())
        .unwrap_or_default();
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.uri = uri;
    parts.headers = headers;
    parts
}

fn response_parts(status: StatusCode, headers: &HeaderMap) -> http::response::Parts {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers = headers.clone();
    parts
}

/// What the first range request into a wheel gave ([`Inner::probe_ranges`]).
enum Probe<'a> {
    /// More ranges can be read from here.
    Tail(HttpRangeReader<'a>),
    /// The index sent the whole file, verified.
    Whole(bytes::Bytes),
    /// Ranges do not work for this file: download it.
    NoRanges,
}

/// A read by ranges that failed: a network error or timeout is the caller's error;
/// anything else (a zip the reader cannot follow) falls back to the whole file.
fn ranges_failed(file: &DistFile, err: MetadataError) -> Result<(), IndexError> {
    if let MetadataError::Fetch { source, .. } = &err
        && let Some(err @ (IndexError::Timeout { .. } | IndexError::Network { .. })) =
            source.downcast_ref::<IndexError>()
    {
        return Err(err.clone());
    }
    tracing::debug!("range requests into `{}` failed: {err}", file.filename);
    Ok(())
}

/// Range reads of a remote wheel, starting from the tail already fetched.
struct HttpRangeReader<'a> {
    http: &'a HttpClient,
    file: &'a DistFile,
    total: u64,
    tail_start: u64,
    tail: bytes::Bytes,
}

impl zip::RangeRead for HttpRangeReader<'_> {
    async fn read_tail(&self, len: u64) -> Result<(u64, Vec<u8>), RangeError> {
        let len = len.min(self.total);
        let bytes = self.read_span(self.total - len, len).await?;
        Ok((self.total, bytes))
    }

    async fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, RangeError> {
        self.read_span(offset, len).await
    }
}

impl HttpRangeReader<'_> {
    async fn read_span(&self, offset: u64, len: u64) -> Result<Vec<u8>, RangeError> {
        if offset >= self.tail_start && offset + len <= self.tail_start + self.tail.len() as u64 {
            let from = (offset - self.tail_start) as usize;
            return Ok(self.tail[from..from + len as usize].to_vec());
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let span = RangeSpec::Span {
            start: offset,
            end: offset + len - 1,
        };
        let reply = self
            .http
            .range(
                &self.file.index,
                &self.file.url,
                span,
                self.http.file_limit(self.file.size),
            )
            .await
            .map_err(|err| RangeError::Other(Arc::new(err)))?;
        match reply {
            RangeReply::Partial { start, body, .. }
                if start == offset && body.len() as u64 == len =>
            {
                Ok(body.to_vec())
            }
            _ => Err(RangeError::Unsupported(
                "the server answered a range request with other bytes".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn a_page_is_let_go_once_every_view_for_a_target_has_read_it() {
        let pages = Pages::default();
        pages.readers.store(2, Ordering::Relaxed);
        let first = pages.cell("https://idx.example/simple/demo/");
        assert!(Arc::ptr_eq(
            &first,
            &pages.cell("https://idx.example/simple/demo/")
        ));
        pages.read("https://idx.example/simple/demo/");
        assert!(Arc::ptr_eq(
            &first,
            &pages.cell("https://idx.example/simple/demo/")
        ));
        pages.read("https://idx.example/simple/demo/");
        // Gone: a view that asks after that reads the page again.
        assert!(!Arc::ptr_eq(
            &first,
            &pages.cell("https://idx.example/simple/demo/")
        ));
    }

    #[test]
    fn a_cached_json_page_holds_nothing_of_the_page_urls_path() {
        // Token-in-path hosts link files by absolute paths, or climbing relative ones.
        let page_url = Url::parse("https://idx.example/t0ken/simple/demo/").unwrap();
        let body = br#"{"files":[
            {"filename":"demo-1.0.tar.gz","url":"/t0ken/files/demo-1.0.tar.gz"},
            {"filename":"demo-1.1.tar.gz","url":"../../../t0ken/files/demo-1.1.tar.gz"},
            {"filename":"demo-1.2.tar.gz","url":"https://idx.example/t0ken/files/demo-1.2.tar.gz"},
            {"filename":"demo-1.3.tar.gz","url":"files/demo-1.3.tar.gz"}
        ]}"#;
        let page = simple::parse_json(body, &page_url).unwrap();
        let written = serde_json::to_string(&RelativePage {
            page: &page,
            page_url: &page_url,
        })
        .unwrap();
        assert!(!written.contains("t0ken"), "{written}");
    }

    #[test]
    fn a_cached_page_holds_relative_urls_on_its_origin_and_reads_back() {
        let page_url = Url::parse("https://idx.example/t0ken/simple/demo/").unwrap();
        let file = |filename: &str, url: &str| PageFile {
            filename: filename.to_owned(),
            url: url.to_owned(),
            sha256: Some("ab".repeat(32)),
            requires_python: Some(">=3.8".to_owned()),
            yanked: None,
            upload_time: None,
            size: Some(10),
            has_metadata: true,
            metadata_sha256: None,
        };
        let page = SimplePage {
            files: vec![
                file(
                    "demo-1.0.tar.gz",
                    "https://idx.example/t0ken/files/demo-1.0.tar.gz",
                ),
                file(
                    "demo-1.0-py3-none-any.whl",
                    "https://cdn.example/demo-1.0-py3-none-any.whl",
                ),
            ],
        };
        let written = serde_json::to_value(RelativePage {
            page: &page,
            page_url: &page_url,
        })
        .unwrap();
        let expected = SimplePage {
            files: vec![
                file("demo-1.0.tar.gz", "../../files/demo-1.0.tar.gz"),
                page.files[1].clone(),
            ],
        };
        assert_eq!(written, serde_json::to_value(&expected).unwrap());
        assert!(!written.to_string().contains("t0ken"));
        let read: SimplePage = serde_json::from_value(written).unwrap();
        let urls = |page: &SimplePage, base: Option<&Url>| {
            let conversion = Conversion {
                project: &PackageName::from_str("demo").unwrap(),
                index: &Arc::from("idx"),
                local_source: false,
                base,
                target: None,
            };
            let files = simple::convert(&page.files, &conversion).unwrap().files;
            files.into_iter().map(|f| f.url).collect::<Vec<_>>()
        };
        assert_eq!(urls(&read, Some(&page_url)), urls(&page, None));
    }
}
