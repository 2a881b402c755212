//! The package server: the locked files, from the host's store, to the build over
//! loopback, for the length of one `dockgen build`.
//!
//! Why a server and not the build context: the engine API takes the context as one tar,
//! sent whole on every build, so a 2 GB wheelhouse would travel again after every change
//! of one requirement (and twice per `dockgen build`, which builds two targets). Served,
//! the context holds only the list of files (`packages.txt`), and the build's `fetch.py`
//! keeps what it fetched in a BuildKit cache mount, so a rebuild fetches only the files
//! that are new. The README has the measurements.
//!
//! How the build reaches it: the build runs with the host's network (`networkmode=host`)
//! and gets the server's address in `FTP_PROXY`, a proxy argument BuildKit keeps out of
//! the cache key and the image history, so the port (new on every build) invalidates
//! nothing. Requests name the host `dockgen-packages.invalid` (which never resolves);
//! the server answers only `GET /sha256/<hex>/<file name>` for the files of this build's
//! lock, and nothing else, with no credential anywhere in it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One file the server may hand out.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub sha256: String,
    pub filename: String,
    /// The verified file in the host store.
    pub path: PathBuf,
}

/// What the build fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServedStats {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
}

struct Shared {
    files: HashMap<String, ServedFile>,
    counters: Counters,
}

/// A running server; [`PackageServer::stop`] ends it.
pub struct PackageServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl PackageServer {
    /// Binds `127.0.0.1:0` and serves `files` until stopped. Call inside a tokio runtime.
    pub async fn start(files: Vec<ServedFile>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            files: files
                .into_iter()
                .map(|f| (f.sha256.to_ascii_lowercase(), f))
                .collect(),
            counters: Counters::default(),
        });
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/sha256/{hash}/{filename}", get(file))
            .fallback(not_found)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(error) = served.await {
                tracing::warn!("the package server stopped: {error}");
            }
        });
        tracing::debug!("package server on http://{addr}");
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    /// The proxy address a build uses to reach the server.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> ServedStats {
        ServedStats {
            files: self.shared.counters.files.load(Ordering::Relaxed),
            bytes: self.shared.counters.bytes.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting and waits for the server task to end.
    pub async fn stop(mut self) -> ServedStats {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.stats()
    }
}

impl Drop for PackageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn file(
    State(shared): State<Arc<Shared>>,
    Path((hash, filename)): Path<(String, String)>,
) -> Response {
    let Some(served) = shared
        .files
        .get(&hash.to_ascii_lowercase())
        .filter(|f| f.filename == filename)
    else {
        return not_found().await.into_response();
    };
    let file = match tokio::fs::File::open(&served.path).await {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!("package server: `{}`: {error}", served.path.display());
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response();
        }
    };
    let size = file.metadata().await.map(|m| m.len()).ok();
    shared.counters.files.fetch_add(1, Ordering::Relaxed);
    shared
        .counters
        .bytes
        .fetch_add(size.unwrap_or(0), Ordering::Relaxed);
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(size));
    }
    response
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not a file of this build's lock (dockgen package server)\n",
    )
}
