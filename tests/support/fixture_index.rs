//! A loopback package index for tests: serves projects and files given in code over
//! real HTTP on 127.0.0.1, and behaves like the indexes dockgen meets (PyPI's PEP 691
//! JSON, PEP 503 HTML-only indexes like download.pytorch.org, missing or wrong hashes,
//! no metadata sidecars, no range support, flaky or hanging paths, required tokens).
//! Every request is logged so tests can assert what was (not) fetched.
//!
//! It runs on a runtime of its own, so plain `#[test]` functions can use it, and stops
//! when dropped. Also builds the minimal wheels and sdists it serves ([`FixtureFile`]).

#![allow(dead_code)] // Shared by several test modules; each uses a part.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};
use url::Url;

/// Which simple API the index speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// PEP 691 JSON (PyPI), with upload times and sizes.
    Json,
    /// PEP 503 HTML only, no upload times (download.pytorch.org and most mirrors).
    Html,
}

/// What hash the page publishes for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    Correct,
    Absent,
    /// A well-formed sha256 of other bytes.
    Wrong,
}

/// Credentials the index demands; anything else gets a 401.
#[derive(Debug, Clone)]
pub enum Auth {
    Basic { username: String, password: String },
    Bearer(String),
}

/// One file an index serves.
#[derive(Debug, Clone)]
pub struct FixtureFile {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub hash: HashMode,
    pub yanked: Option<String>,
    pub upload_time: Option<jiff::Timestamp>,
    pub requires_python: Option<String>,
    /// Core metadata, served as the `.metadata` sidecar when sidecars are on.
    pub metadata: Option<Vec<u8>>,
    /// The sha256 published (with [`HashMode::Correct`]) when it is not that of
    /// `bytes`: set by [`FixtureFile::replaced_with`].
    pub published: Option<String>,
}

impl FixtureFile {
    /// A wheel of `name` `version` for `tag` (`py3-none-any`), whose METADATA lists
    /// `requires_dist`. `filler` bytes of incompressible data are stored after the
    /// metadata, so a wheel can be made larger than one range probe.
    pub fn wheel(
        name: &str,
        version: &str,
        tag: &str,
        requires_dist: &[&str],
        filler: usize,
    ) -> Self {
        let metadata = core_metadata("2.1", name, version, requires_dist, &[]);
        let bytes = build_wheel(name, version, &metadata, filler);
        Self::new(
            format!("{}-{version}-{tag}.whl", dist_name(name)),
            bytes,
            Some(metadata),
        )
    }

    /// An sdist (`.tar.gz`) whose PKG-INFO has `metadata_version` and `extra_headers`
    /// (e.g. `Dynamic: Requires-Dist`).
    pub fn sdist(
        name: &str,
        version: &str,
        metadata_version: &str,
        requires_dist: &[&str],
        extra_headers: &[&str],
    ) -> Self {
        let pkg_info = core_metadata(
            metadata_version,
            name,
            version,
            requires_dist,
            extra_headers,
        );
        let top = format!("{}-{version}", dist_name(name));
        let bytes = build_tar_gz(&[
            (format!("{top}/PKG-INFO"), pkg_info.clone()),
            (
                format!("{top}/setup.py"),
                b"from setuptools import setup\nsetup()\n".to_vec(),
            ),
        ]);
        Self::new(format!("{top}.tar.gz"), bytes, Some(pkg_info))
    }

    fn new(filename: String, bytes: Vec<u8>, metadata: Option<Vec<u8>>) -> Self {
        Self {
            filename,
            bytes,
            hash: HashMode::Correct,
            yanked: None,
            upload_time: None,
            requires_python: None,
            metadata,
            published: None,
        }
    }

    /// A wheel from the real wheel builder (pip installs it), with its METADATA as the
    /// sidecar (served when sidecars are on) and its Requires-Python published.
    pub fn from_spec(spec: &super::wheels::WheelSpec) -> Self {
        let (filename, bytes) = spec.build();
        let mut file = Self::new(filename, bytes, Some(spec.metadata().into_bytes()));
        file.requires_python = spec.requires_python.clone();
        file
    }

    /// An sdist from the real sdist builder; indexes serve no metadata sidecar for it.
    pub fn from_sdist_spec(spec: &super::wheels::SdistSpec) -> Self {
        let (filename, bytes) = spec.build();
        let mut file = Self::new(filename, bytes, None);
        file.requires_python = spec.requires_python.clone();
        file
    }

    pub fn hash(mut self, mode: HashMode) -> Self {
        self.hash = mode;
        self
    }

    pub fn yanked(mut self, reason: &str) -> Self {
        self.yanked = Some(reason.to_owned());
        self
    }

    /// Upload time, RFC 3339 (`2024-01-02T00:00:00Z`).
    pub fn uploaded(mut self, at: &str) -> Self {
        self.upload_time = Some(jiff::Timestamp::from_str(at).expect("fixture upload time"));
        self
    }

    pub fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.to_owned());
        self
    }

    /// Serves `bytes` in place of this file while the page still publishes the hash
    /// of the original: a file changed on the index after it was locked.
    pub fn replaced_with(mut self, bytes: Vec<u8>) -> Self {
        self.published = Some(self.published.take().unwrap_or_else(|| self.sha256()));
        self.bytes = bytes;
        self
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    fn published_sha256(&self) -> Option<String> {
        match self.hash {
            HashMode::Correct => Some(self.published.clone().unwrap_or_else(|| self.sha256())),
            HashMode::Absent => None,
            HashMode::Wrong => Some(hex::encode(Sha256::digest(b"not the file"))),
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
    pub authorization: bool,
    pub status: u16,
}

impl Logged {
    /// `GET /files/x.whl range=bytes=-10 -> 206`, for snapshots of request logs.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}", self.method, self.path);
        if let Some(range) = &self.range {
            line.push_str(&format!(" range={range}"));
        }
        if self.if_none_match.is_some() {
            line.push_str(" if-none-match");
        }
        line.push_str(&format!(" -> {}", self.status));
        line
    }
}

#[derive(Debug, Clone)]
pub struct Builder {
    api: Api,
    sidecars: bool,
    ranges: bool,
    auth: Option<Auth>,
    cache_control: String,
    /// Pages carry an ETag and `Cache-Control` (else neither, as some mirrors serve).
    caching_headers: bool,
    projects: BTreeMap<String, Vec<FixtureFile>>,
    /// Served under this path as well (e.g. `/TOKEN`, as hosts that put a token in
    /// the index path do).
    prefix: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            api: Api::Json,
            sidecars: true,
            ranges: true,
            auth: None,
            cache_control: "max-age=600, public".to_owned(),
            caching_headers: true,
            projects: BTreeMap::new(),
            prefix: None,
        }
    }
}

impl Builder {
    /// Also serve everything under `prefix` (`/TOKEN`): `/TOKEN/simple/...`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_owned());
        self
    }

    pub fn api(mut self, api: Api) -> Self {
        self.api = api;
        self
    }

    /// Serve PEP 658 `.metadata` sidecars (and announce them on the pages).
    pub fn sidecars(mut self, on: bool) -> Self {
        self.sidecars = on;
        self
    }

    /// Honour `Range` on files; off, the whole file comes back with 200.
    pub fn ranges(mut self, on: bool) -> Self {
        self.ranges = on;
        self
    }

    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// `Cache-Control` of project pages (default `max-age=600, public`).
    /// Pages are served with neither an ETag nor `Cache-Control`, as the PyPI mirror
    /// of the bench machine serves them: nothing to revalidate with.
    pub fn no_caching_headers(mut self) -> Self {
        self.caching_headers = false;
        self
    }

    pub fn cache_control(mut self, value: &str) -> Self {
        self.cache_control = value.to_owned();
        self
    }

    pub fn project(mut self, name: &str, files: Vec<FixtureFile>) -> Self {
        self.projects.insert(normalize(name), files);
        self
    }

    pub fn start(self) -> FixtureIndex {
        FixtureIndex::start(self)
    }
}

struct Shared {
    config: Mutex<Builder>,
    log: Mutex<Vec<Logged>>,
    fail_next: Mutex<HashMap<String, usize>>,
    hang: Mutex<Vec<String>>,
}

pub struct FixtureIndex {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FixtureIndex {
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn start(config: Builder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fixture-index")
            .enable_all()
            .build()
            .expect("fixture runtime");
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            log: Mutex::default(),
            fail_next: Mutex::default(),
            hang: Mutex::default(),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simple API root, `http://127.0.0.1:PORT/simple/`.
    pub fn url(&self) -> Url {
        Url::parse(&format!("{}/simple/", self.base())).expect("fixture url")
    }

    /// The simple API root with credentials in its userinfo.
    pub fn url_with_credentials(&self, username: &str, password: &str) -> Url {
        let mut url = self.url();
        url.set_username(username).expect("userinfo");
        url.set_password(Some(password)).expect("userinfo");
        url
    }

    /// Where a file is served: the filename percent-encoded (`+` as `%2B`).
    pub fn file_url(&self, filename: &str) -> Url {
        Url::parse(&format!("{}/files/{}", self.base(), encode(filename))).expect("file url")
    }

    /// The next `n` requests to `path` (decoded, e.g. `/simple/six/`) answer 500.
    pub fn fail_next(&self, path: &str, n: usize) {
        self.shared
            .fail_next
            .lock()
            .unwrap()
            .insert(path.to_owned(), n);
    }

    /// Requests to `path` never get an answer.
    pub fn hang(&self, path: &str) {
        self.shared.hang.lock().unwrap().push(path.to_owned());
    }

    /// Replaces the files of a project (a new release, a re-hosted file...).
    pub fn set_project(&self, name: &str, files: Vec<FixtureFile>) {
        self.shared
            .config
            .lock()
            .unwrap()
            .projects
            .insert(normalize(name), files);
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The request log, one [`Logged::line`] per request.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests().iter().map(Logged::line).collect()
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// `text` with this server's address replaced by `[index]`, for snapshots.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.addr.to_string(), "[index]")
    }
}

impl Drop for FixtureIndex {
    fn drop(&mut self) {
        // Hanging handlers would keep a graceful shutdown waiting forever.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let mut path = percent_encoding::percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let prefix = shared.config.lock().unwrap().prefix.clone();
    if let Some(rest) = prefix.and_then(|p| path.strip_prefix(&p).map(str::to_owned)) {
        path = rest;
    }
    let headers = request.headers().clone();
    let header_str = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let hangs = shared.hang.lock().unwrap().contains(&path);
    if hangs {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let response = respond(&shared, &path, &headers);
    shared.log.lock().unwrap().push(Logged {
        method: request.method().to_string(),
        path,
        range: header_str(header::RANGE),
        if_none_match: header_str(header::IF_NONE_MATCH),
        authorization: headers.contains_key(header::AUTHORIZATION),
        status: response.status().as_u16(),
    });
    response
}

fn respond(shared: &Shared, path: &str, headers: &HeaderMap) -> Response {
    let config = shared.config.lock().unwrap().clone();
    if let Some(auth) = &config.auth {
        let expected = match auth {
            Auth::Basic { username, password } => {
                use base64_lite::encode as b64;
                format!("Basic {}", b64(format!("{username}:{password}").as_bytes()))
            }
            Auth::Bearer(token) => format!("Bearer {token}"),
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::WWW_AUTHENTICATE, "Basic realm=\"fixture\"")
                .body(Body::from("unauthorized"))
                .unwrap();
        }
    }
    {
        let mut fail = shared.fail_next.lock().unwrap();
        if let Some(left) = fail.get_mut(path)
            && *left > 0
        {
            *left -= 1;
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    if let Some(project) = path
        .strip_prefix("/simple/")
        .and_then(|p| p.strip_suffix('/'))
    {
        let Some(files) = config.projects.get(&normalize(project)) else {
            return status(StatusCode::NOT_FOUND);
        };
        return project_page(&config, project, files, headers);
    }
    if let Some(name) = path.strip_prefix("/files/") {
        let all = config.projects.values().flatten();
        if let Some(filename) = name.strip_suffix(".metadata") {
            return match all.clone().find(|f| f.filename == filename) {
                Some(FixtureFile {
                    metadata: Some(metadata),
                    ..
                }) if config.sidecars => Response::new(Body::from(metadata.clone())),
                _ => status(StatusCode::NOT_FOUND),
            };
        }
        return match all.clone().find(|f| f.filename == name) {
            Some(file) => file_response(&config, file, headers),
            None => status(StatusCode::NOT_FOUND),
        };
    }
    status(StatusCode::NOT_FOUND)
}

fn status(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap()
}

fn project_page(
    config: &Builder,
    project: &str,
    files: &[FixtureFile],
    headers: &HeaderMap,
) -> Response {
    let (body, content_type) = match config.api {
        Api::Json => (
            json_page(config, project, files),
            "application/vnd.pypi.simple.v1+json",
        ),
        Api::Html => (
            html_page(config, project, files),
            "text/html; charset=utf-8",
        ),
    };
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..16]
    );
    let matches = config.caching_headers
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut builder = Response::builder();
    if config.caching_headers {
        builder = builder
            .header(header::ETAG, &etag)
            .header(header::CACHE_CONTROL, &config.cache_control);
    }
    if matches {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap();
    }
    builder
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

fn json_page(config: &Builder, project: &str, files: &[FixtureFile]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let mut hashes = serde_json::Map::new();
            if let Some(h) = f.published_sha256() {
                hashes.insert("sha256".into(), h.into());
            }
            let core_metadata = match (&f.metadata, config.sidecars) {
                (Some(m), true) => serde_json::json!({ "sha256": hex::encode(Sha256::digest(m)) }),
                _ => serde_json::Value::Bool(false),
            };
            serde_json::json!({
                "filename": f.filename,
                "url": format!("../../files/{}", encode(&f.filename)),
                "hashes": hashes,
                "requires-python": f.requires_python,
                "yanked": f.yanked.clone().map_or(serde_json::Value::Bool(false), |r| if r.is_empty() { true.into() } else { r.into() }),
                "upload-time": f.upload_time.map(|t| t.to_string()),
                "size": f.bytes.len(),
                "core-metadata": core_metadata,
                "dist-info-metadata": core_metadata,
            })
        })
        .collect();
    serde_json::json!({
        "meta": { "api-version": "1.1" },
        "name": normalize(project),
        "files": files,
    })
    .to_string()
}

fn html_page(config: &Builder, project: &str, files: &[FixtureFile]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n  <head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for {project}</title></head>\n  <body>\n    <h1>Links for {project}</h1>\n"
    );
    for f in files {
        let mut href = format!("/files/{}", encode(&f.filename));
        if let Some(h) = f.published_sha256() {
            href.push_str(&format!("#sha256={h}"));
        }
        let mut attrs = String::new();
        if let Some(rp) = &f.requires_python {
            attrs.push_str(&format!(
                " data-requires-python=\"{}\"",
                rp.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ));
        }
        if let Some(reason) = &f.yanked {
            attrs.push_str(&format!(" data-yanked=\"{reason}\""));
        }
        if let (Some(m), true) = (&f.metadata, config.sidecars) {
            let h = hex::encode(Sha256::digest(m));
            attrs.push_str(&format!(
                " data-core-metadata=\"sha256={h}\" data-dist-info-metadata=\"sha256={h}\""
            ));
        }
        out.push_str(&format!(
            "    <a href=\"{href}\"{attrs}>{}</a><br/>\n",
            f.filename
        ));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

fn file_response(config: &Builder, file: &FixtureFile, headers: &HeaderMap) -> Response {
    let len = file.bytes.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    if config.ranges
        && let Some(spec) = range.and_then(|r| r.strip_prefix("bytes="))
    {
        let (start, end) = match spec.split_once('-') {
            Some(("", n)) => (
                len.saturating_sub(n.parse().unwrap_or(0)),
                len.saturating_sub(1),
            ),
            Some((a, "")) => (a.parse().unwrap_or(0), len.saturating_sub(1)),
            Some((a, b)) => (
                a.parse().unwrap_or(0),
                b.parse::<u64>().unwrap_or(0).min(len.saturating_sub(1)),
            ),
            None => (len, 0),
        };
        if start > end || start >= len {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap();
        }
        return Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
            .body(Body::from(
                file.bytes[start as usize..=end as usize].to_vec(),
            ))
            .unwrap();
    }
    let mut response = Response::new(Body::from(file.bytes.clone()));
    if !config.ranges {
        response
            .headers_mut()
            .insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    }
    response
}

/// PEP 503 normalized name.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name as it appears in distribution filenames (`zope_interface`).
fn dist_name(name: &str) -> String {
    normalize(name).replace('-', "_")
}

/// Percent-encodes a filename for a URL path, as real indexes do (`+` -> `%2B`).
pub fn encode(filename: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(filename, SET).to_string()
}

/// A METADATA / PKG-INFO document.
pub fn core_metadata(
    metadata_version: &str,
    name: &str,
    version: &str,
    requires_dist: &[&str],
    extra: &[&str],
) -> Vec<u8> {
    let mut out = format!(
        "Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\nSummary: fixture package {name}\n"
    );
    for line in extra {
        out.push_str(line);
        out.push('\n');
    }
    for req in requires_dist {
        out.push_str(&format!("Requires-Dist: {req}\n"));
    }
    out.push('\n');
    out.into_bytes()
}

/// A wheel with METADATA (deflated) first and `filler` stored bytes last.
pub fn build_wheel(name: &str, version: &str, metadata: &[u8], filler: usize) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let dist_info = format!("{}-{version}.dist-info", dist_name(name));
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut add = |path: String, bytes: &[u8], options| {
        zip.start_file(path, options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    };
    add(format!("{dist_info}/METADATA"), metadata, deflated);
    add(format!("{dist_info}/WHEEL"), b"Wheel-Version: 1.0\nGenerator: dockgen-fixture\nRoot-Is-Purelib: true\nTag: py3-none-any\n", deflated);
    add(
        format!("{}/__init__.py", dist_name(name)),
        format!("__version__ = \"{version}\"\n").as_bytes(),
        deflated,
    );
    if filler > 0 {
        // xorshift: deterministic and incompressible.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let data: Vec<u8> = (0..filler)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        add(format!("{}/data.bin", dist_name(name)), &data, stored);
    }
    add(format!("{dist_info}/RECORD"), b"", deflated);
    zip.finish().expect("zip finish").into_inner()
}

/// A gzipped ustar archive of `(path, bytes)` entries.
pub fn build_tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (path, bytes) in entries {
        let mut header = [0u8; 512];
        header[..path.len()].copy_from_slice(path.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", bytes.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[148..156].copy_from_slice(b"        ");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        let sum: u32 = header.iter().map(|&b| b as u32).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(bytes);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

/// Just enough base64 for a Basic authorization header (and for reading the BuildKit
/// progress an engine streams).
pub mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Standard base64 with padding; `None` for anything else.
    pub fn decode(input: &str) -> Option<Vec<u8>> {
        let input = input.as_bytes();
        if !input.len().is_multiple_of(4) {
            return None;
        }
        let mut out = Vec::with_capacity(input.len() / 4 * 3);
        let last = (input.len() / 4).saturating_sub(1);
        for (i, chunk) in input.chunks(4).enumerate() {
            let mut n = 0u32;
            let mut padding = 0;
            for &c in chunk {
                let value = match c {
                    b'=' => {
                        padding += 1;
                        0
                    }
                    _ if padding > 0 => return None,
                    _ => ALPHABET.iter().position(|&a| a == c)? as u32,
                };
                n = n << 6 | value;
            }
            if padding > 2 || (padding > 0 && i != last) {
                return None;
            }
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - padding]);
        }
        Some(out)
    }
}
