//! The Docker engine: connecting to it (`DOCKER_HOST`: unix, tcp, tcp with TLS), checking
//! that it answers, and building a context directory on it with BuildKit.
//!
//! Builds go through bollard's BuildKit session (`version=2` plus a session id): the
//! engine's BuildKit then reports progress as `moby.buildkit.trace` messages, which
//! [`StatusDecoder`] turns into events, and a `type=local` export is written to the host
//! through the session's file-send service. The context is streamed as a tar while it is
//! being written, so a large wheelhouse is never held in memory.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptions, BuilderVersion, ImageBuildOutput};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::progress::{ProgressSink, StatusDecoder, StepRecord};

/// The engine address used when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long [`Engine::ping`] waits for an answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Lines of a failing step's output kept in its error.
const FAILURE_TAIL: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no Docker engine answers at `{address}` ({reason}).\n\
         Start one or point DOCKER_HOST at one; or run `dockgen render` and build the \
         rendered plan on a machine with an engine (`docker build build/<profile>`)"
    )]
    Unreachable { address: String, reason: String },
    #[error("cannot use DOCKER_HOST `{address}`: {reason}")]
    BadHost { address: String, reason: String },
    #[error(
        "TLS for `{address}`: cannot read `{path}` ({reason}); DOCKER_CERT_PATH must hold \
         ca.pem, cert.pem and key.pem"
    )]
    Tls {
        address: String,
        path: PathBuf,
        reason: String,
    },
    #[error("build context `{path}`: {reason}")]
    Context { path: PathBuf, reason: String },
    #[error(
        "build context `{dir}`: `.dockerignore` line {line}: `{text}` is not understood; dockgen \
         reads only the form `dockgen render` writes (`*`, then `!path` lines): re-run `dockgen render`"
    )]
    Ignore {
        dir: PathBuf,
        line: usize,
        text: String,
    },
    #[error("step `{step}` failed: {error}{}", output_tail(.output))]
    StepFailed {
        step: String,
        error: String,
        output: Vec<String>,
    },
    #[error("the build failed: {0}")]
    BuildFailed(String),
    #[error(
        "the Docker engine at `{address}` went away during the build ({reason}); nothing was \
         exported: check the engine (`docker info`) and build again"
    )]
    Disconnected { address: String, reason: String },
    #[error("export to `{path}`: {reason}")]
    Export { path: PathBuf, reason: String },
    #[error("the engine finished the build without reporting an image id")]
    NoImageId,
    #[error("tagging `{image}` as `{tag}`: {reason}")]
    Tag {
        image: String,
        tag: String,
        reason: String,
    },
}

fn output_tail(output: &[String]) -> String {
    if output.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nits last output:");
    for line in output {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text
}

/// A connection to one Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    address: String,
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The context directory; its `Dockerfile` is built.
    pub context: PathBuf,
    /// The stage to build (`--target`); the last stage when `None`.
    pub target: Option<String>,
    /// `os/arch[/variant]`; the engine's own when `None`.
    pub platform: Option<String>,
    /// Names for the image; the first is given by the build, the rest by tagging after.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    /// Ask the engine to pull newer versions of the base images (`--pull`).
    pub pull: bool,
    /// The network for `RUN` steps (`default`, `none`, `host`).
    pub network_mode: Option<String>,
    /// Write the built target's files to this host directory (BuildKit `type=local`)
    /// instead of making an image.
    pub export_to: Option<PathBuf>,
    /// Images whose inline build cache BuildKit may reuse (`--cache-from`), pulled from
    /// their registries as needed.
    pub cache_from: Vec<String>,
    /// Credentials by registry host, for the registries `cache_from` names.
    pub registry_auth: HashMap<String, DockerCredentials>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// `sha256:...`; `None` for an export build, which makes no image.
    pub image_id: Option<String>,
    /// Every step, in order of first appearance.
    pub steps: Vec<StepRecord>,
    /// Bytes of the context tar sent to the engine.
    pub context_bytes: u64,
    /// Every line of output, `#<step> <line>`.
    pub log: Vec<String>,
}

impl BuildOutcome {
    /// The steps whose result came from the cache.
    pub fn cached_steps(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| s.cached)
    }
}

fn is_set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

impl Engine {
    /// The engine `DOCKER_HOST` names (default `unix:///var/run/docker.sock`), with TLS
    /// when `DOCKER_TLS_VERIFY` or `DOCKER_CERT_PATH` is set.
    pub fn from_env() -> Result<Engine, EngineError> {
        let host = is_set("DOCKER_HOST").unwrap_or_else(|| DEFAULT_HOST.to_string());
        let tls = is_set("DOCKER_TLS_VERIFY").is_some() || is_set("DOCKER_CERT_PATH").is_some();
        Engine::connect(&host, tls)
    }

    /// The engine at `host` (`unix://PATH`, `tcp://HOST:PORT`); `tls` uses the client
    /// certificate in `DOCKER_CERT_PATH` (default `~/.docker`) for tcp.
    pub fn connect(host: &str, tls: bool) -> Result<Engine, EngineError> {
        let address = host.to_string();
        let bad = |reason: String| EngineError::BadHost {
            address: address.clone(),
            reason,
        };
        // A build can run for hours; each request's own deadline is set where it is made.
        let timeout = 24 * 60 * 60;
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(EngineError::Unreachable {
                    address,
                    reason: "no such socket".into(),
                });
            }
            Docker::connect_with_unix(host, timeout, bollard::API_DEFAULT_VERSION)
                .map_err(|e| bad(e.to_string()))?
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            if tls {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let dir = match is_set("DOCKER_CERT_PATH") {
                    Some(dir) => PathBuf::from(dir),
                    None => std::env::var_os("HOME")
                        .map(|home| PathBuf::from(home).join(".docker"))
                        .ok_or_else(|| bad("DOCKER_CERT_PATH and HOME are unset".into()))?,
                };
                for file in ["ca.pem", "cert.pem", "key.pem"] {
                    let path = dir.join(file);
                    if let Err(e) = std::fs::metadata(&path) {
                        return Err(EngineError::Tls {
                            address,
                            path,
                            reason: e.to_string(),
                        });
                    }
                }
                Docker::connect_with_ssl(
                    host,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    timeout,
                    bollard::API_DEFAULT_VERSION,
                )
                .map_err(|e| bad(e.to_string()))?
            } else {
                Docker::connect_with_http(host, timeout, bollard::API_DEFAULT_VERSION)
                    .map_err(|e| bad(e.to_string()))?
            }
        } else {
            return Err(bad(
                "only unix://PATH and tcp://HOST:PORT addresses are supported".into(),
            ));
        };
        Ok(Engine { docker, address })
    }

    /// The address this engine was reached at, as given.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The bollard client, for requests this module does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Checks that the engine answers, within [`PING_TIMEOUT`].
    pub async fn ping(&self) -> Result<(), EngineError> {
        let unreachable = |reason: String| EngineError::Unreachable {
            address: self.address.clone(),
            reason,
        };
        match tokio::time::timeout(PING_TIMEOUT, self.docker.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unreachable(root_cause(&e))),
            Err(_) => Err(unreachable(format!(
                "no answer within {}s",
                PING_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The engine host's architecture as `uname -m` names it (`x86_64`).
    pub async fn architecture(&self) -> Result<String, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::Unreachable {
                address: self.address.clone(),
                reason: root_cause(&e),
            })?;
        Ok(info.architecture.unwrap_or_default())
    }

    /// Builds `request.context` with BuildKit, reporting progress to `progress`.
    pub async fn build(
        &self,
        request: BuildRequest,
        progress: &mut dyn ProgressSink,
    ) -> Result<BuildOutcome, EngineError> {
        let files = context_files(&request.context)?;
        let (body, sent) = stream_context(request.context.clone(), files);

        let session = format!("dockgen-{:016x}", fastrand::u64(..));
        // The export lands in a sibling staging directory, renamed into place only when
        // the build succeeded: a failed or interrupted build leaves no half-written files.
        let staging = match &request.export_to {
            Some(dir) => Some(staging_dir(dir)?),
            None => None,
        };
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: request.tags.first().cloned(),
            nocache: request.no_cache,
            pull: request.pull.then(|| "1".to_string()),
            rm: true,
            buildargs: (!request.build_args.is_empty())
                .then(|| request.build_args.clone().into_iter().collect()),
            networkmode: request.network_mode.clone(),
            platform: request.platform.clone().unwrap_or_default(),
            target: request.target.clone().unwrap_or_default(),
            outputs: staging
                .as_ref()
                .map(|dir| ImageBuildOutput::Local(dir.path().to_string_lossy().into_owned())),
            version: BuilderVersion::BuilderBuildKit,
            session: Some(session),
            cachefrom: (!request.cache_from.is_empty()).then(|| request.cache_from.clone()),
            ..Default::default()
        };
        let auth = (!request.registry_auth.is_empty()).then(|| request.registry_auth.clone());
        let mut decoder = StatusDecoder::new();
        let mut image_id = None;
        let mut failure = None;
        let mut stream =
            self.docker
                .build_image(options, auth, Some(bollard::body_try_stream(body)));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => handle_info(info, &mut decoder, progress, &mut image_id),
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    failure = Some(error);
                    break;
                }
                Err(e) => {
                    progress.finish();
                    return Err(self.classify(e));
                }
            }
        }
        drop(stream);
        progress.finish();

        if let Some(error) = failure {
            if let Some((step, output)) = decoder.failures(FAILURE_TAIL).into_iter().next() {
                return Err(EngineError::StepFailed {
                    step: step.name,
                    error: step.error.unwrap_or(error),
                    output,
                });
            }
            return Err(EngineError::BuildFailed(error));
        }
        let records = decoder.records();
        if let Some(step) = records
            .iter()
            .find(|s| s.started.is_some() && s.completed.is_none())
        {
            // BuildKit completes every step it started before it ends the response; a step
            // left running means the connection was cut.
            return Err(EngineError::Disconnected {
                address: self.address.clone(),
                reason: format!("the response ended while `{}` was running", step.name),
            });
        }
        if records.is_empty() {
            return Err(EngineError::Disconnected {
                address: self.address.clone(),
                reason: "the response ended before the build started".into(),
            });
        }
        if let (Some(staging), Some(dir)) = (staging, &request.export_to) {
            publish_export(staging, dir)?;
        } else if image_id.is_none() {
            return Err(EngineError::NoImageId);
        }
        if let Some(id) = &image_id {
            for tag in request.tags.iter().skip(1) {
                self.tag(id, tag).await?;
            }
        }
        Ok(BuildOutcome {
            image_id,
            steps: records,
            context_bytes: sent.load(std::sync::atomic::Ordering::Relaxed),
            log: decoder.log_lines(),
        })
    }

    async fn tag(&self, image: &str, tag: &str) -> Result<(), EngineError> {
        let (repo, version) = super::registry::split_tag(tag);
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(version.to_string()),
        };
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| EngineError::Tag {
                image: image.to_string(),
                tag: tag.to_string(),
                reason: e.to_string(),
            })
    }

    /// A transport error during a build: the engine went away, or answered with an error.
    fn classify(&self, error: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as E;
        match error {
            E::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::BuildFailed(format!("the engine answered {status_code}: {message}")),
            other => EngineError::Disconnected {
                address: self.address.clone(),
                reason: root_cause(&other),
            },
        }
    }
}

fn handle_info(
    info: BuildInfo,
    decoder: &mut StatusDecoder,
    progress: &mut dyn ProgressSink,
    image_id: &mut Option<String>,
) {
    match info.aux {
        Some(BuildInfoAux::BuildKit(status)) => {
            for event in decoder.decode(&status) {
                progress.event(&event);
            }
        }
        Some(BuildInfoAux::Default(id)) => {
            if let Some(id) = id.id {
                *image_id = Some(id);
            }
        }
        None => {}
    }
}

/// The innermost message of an error chain: "connection refused", not "error trying to
/// connect: tcp connect error: ...".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    let text = current.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

fn export_error(path: &Path, what: &str, e: std::io::Error) -> EngineError {
    EngineError::Export {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    }
}

/// An empty directory beside `dir` (same file system, so that it can be renamed onto it
/// by [`publish_export`]); removed when dropped.
pub fn staging_dir(dir: &Path) -> Result<tempfile::TempDir, EngineError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| export_error(&parent, "cannot create the directory", e))?;
    let staging = tempfile::Builder::new()
        .prefix(".dockgen-export-")
        .tempdir_in(&parent)
        .map_err(|e| export_error(&parent, "cannot create a staging directory", e))?;
    // A temporary directory is private (0700); the export is an ordinary directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| export_error(staging.path(), "cannot set permissions", e))?;
    }
    Ok(staging)
}

/// Replaces `dir` with the finished export (or anything staged by [`staging_dir`]).
pub fn publish_export(staging: tempfile::TempDir, dir: &Path) -> Result<(), EngineError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(export_error(dir, "cannot replace the previous export", e)),
    }
    let path = staging.keep();
    std::fs::rename(&path, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&path);
        export_error(dir, "cannot move the export into place", e)
    })
}

/// The files of the context, relative to it, sorted: everything, or with a `.dockerignore`
/// of the form `dockgen render` writes (`*` then `!path` lines), the Dockerfile, the
/// `.dockerignore` and the listed paths.
pub fn context_files(dir: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let context_error = |path: &Path, e: std::io::Error| EngineError::Context {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dockerfile = dir.join("Dockerfile");
    if !dockerfile.is_file() {
        return Err(EngineError::Context {
            path: dir.to_path_buf(),
            reason: "it has no `Dockerfile`: run `dockgen render` first".into(),
        });
    }
    let roots: Vec<PathBuf> = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => {
            let mut roots = vec![PathBuf::from("Dockerfile"), PathBuf::from(".dockerignore")];
            let mut saw_star = false;
            for (index, raw) in text.lines().enumerate() {
                let line = raw.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let included = line.strip_prefix('!').map(|p| p.trim_end_matches('/'));
                match included {
                    None if line == "*" && !saw_star => saw_star = true,
                    Some(path)
                        if saw_star
                            && !path.is_empty()
                            && !path.contains(['*', '?', '[', '\\'])
                            && Path::new(path)
                                .components()
                                .all(|c| matches!(c, std::path::Component::Normal(_))) =>
                    {
                        roots.push(PathBuf::from(path))
                    }
                    _ => {
                        return Err(EngineError::Ignore {
                            dir: dir.to_path_buf(),
                            line: index + 1,
                            text: raw.to_string(),
                        });
                    }
                }
            }
            roots
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut roots = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(|e| context_error(dir, e))? {
                let entry = entry.map_err(|e| context_error(dir, e))?;
                roots.push(PathBuf::from(entry.file_name()));
            }
            roots
        }
        Err(e) => return Err(context_error(&dir.join(".dockerignore"), e)),
    };
    let mut files = Vec::new();
    for root in roots {
        collect(dir, &root, &mut files).map_err(|e| context_error(&dir.join(&root), e))?;
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect(base: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let full = base.join(relative);
    let meta = match std::fs::symlink_metadata(&full) {
        Ok(meta) => meta,
        // A `!path` for something the plan does not have (no wheelhouse) sends nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    files.push(relative.to_path_buf());
    if meta.is_dir() {
        for entry in std::fs::read_dir(&full)? {
            collect(base, &relative.join(entry?.file_name()), files)?;
        }
    }
    Ok(())
}

/// Bytes written by the tar thread go to the request body through a bounded channel, so
/// the tar is produced as fast as the engine reads it.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "engine stopped reading")
            })?;
        self.sent
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type SentCounter = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// The context as a tar stream (written on a blocking thread) and a counter of bytes sent.
fn stream_context(
    dir: PathBuf,
    files: Vec<PathBuf>,
) -> (
    impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    SentCounter,
) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let sent = SentCounter::default();
    let writer = ChannelWriter {
        tx: tx.clone(),
        sent: sent.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let buffered = std::io::BufWriter::with_capacity(256 * 1024, writer);
        let mut tar = tar::Builder::new(buffered);
        // Deterministic headers (no mtimes, owners or umask bits): the same files give the
        // same tar, and BuildKit's cache keys do not move with checkout times.
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        let result = files
            .iter()
            .try_for_each(|file| tar.append_path_with_name(dir.join(file), file))
            .and_then(|()| tar.into_inner())
            .and_then(|mut w| w.flush());
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, sent)
}
