//! `check --vulns`, `sbom --vulns` and `report --vulns` against an OSV fixture service on
//! loopback that answers as api.osv.dev does (`POST /v1/querybatch`, `GET /v1/vulns/ID`)
//! with real advisory records of the PyPA advisory database for real pins
//! (`tests/fixtures/osv/`: the records, `answers.json` with which advisories affect each
//! pin, and `SOURCES.md`). The lock's files come from a loopback fixture index.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::audit::{Scratch, lock_text, pin, validate_cyclonedx, wheel};
use crate::support::fixture_index::FixtureIndex;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

#[derive(Default)]
struct Osv {
    /// `name version` -> advisory ids.
    answers: BTreeMap<String, Vec<String>>,
    requests: Mutex<Vec<String>>,
}

/// The OSV fixture service: its address and what it was asked.
struct OsvServer {
    addr: SocketAddr,
    state: Arc<Osv>,
    _runtime: tokio::runtime::Runtime,
}

impl OsvServer {
    fn start() -> OsvServer {
        let answers: BTreeMap<String, Vec<String>> = serde_json::from_slice(
            &std::fs::read(fixtures().join("answers.json")).expect("answers.json"),
        )
        .expect("answers.json is a map");
        let state = Arc::new(Osv {
            answers,
            requests: Mutex::default(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/v1/querybatch", post(querybatch))
            .route("/v1/vulns/{id}", get(vuln))
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OsvServer {
            addr,
            state,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn querybatch(State(osv): State<Arc<Osv>>, body: String) -> (StatusCode, String) {
    osv.requests
        .lock()
        .unwrap()
        .push("POST /v1/querybatch".into());
    let Ok(request) = serde_json::from_str::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON".into());
    };
    let results: Vec<serde_json::Value> = request["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|query| {
            assert_eq!(query["package"]["ecosystem"], "PyPI");
            let key = format!(
                "{} {}",
                query["package"]["name"].as_str().unwrap_or(""),
                query["version"].as_str().unwrap_or("")
            );
            match osv.answers.get(&key) {
                Some(ids) => serde_json::json!({
                    "vulns": ids.iter().map(|id| serde_json::json!({"id": id, "modified": "2025-01-01T00:00:00Z"})).collect::<Vec<_>>()
                }),
                None => serde_json::json!({}),
            }
        })
        .collect();
    (
        StatusCode::OK,
        serde_json::json!({ "results": results }).to_string(),
    )
}

async fn vuln(State(osv): State<Arc<Osv>>, UrlPath(id): UrlPath<String>) -> (StatusCode, String) {
    osv.requests
        .lock()
        .unwrap()
        .push(format!("GET /v1/vulns/{id}"));
    match std::fs::read_to_string(fixtures().join(format!("{id}.json"))) {
        Ok(record) => (StatusCode::OK, record),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "{\"code\":5,\"message\":\"Bug not found.\"}".to_string(),
        ),
    }
}

/// A lock of the real pins, its files on a fixture index, a profile for it.
fn scratch() -> (Scratch, FixtureIndex) {
    let files = [
        ("jinja2", "Jinja2", "2.11.2", "jinja2/__init__.py"),
        ("requests", "requests", "2.25.0", "requests/__init__.py"),
        ("urllib3", "urllib3", "1.26.4", "urllib3/__init__.py"),
        ("six", "six", "1.16.0", "six.py"),
    ]
    .map(|(key, name, version, file)| {
        (
            key,
            version,
            wheel(name, version, "py3-none-any", &[file], &[], &[]),
        )
    });
    let mut index = FixtureIndex::builder();
    for (key, _, file) in &files {
        index = index.project(key, vec![file.clone()]);
    }
    let index = index.start();
    let mut scratch = Scratch::new();
    scratch.label(&index, "pypi");
    scratch.profile("web", "cpu-x86_64", &[("pypi", &index, &[])]);
    let pins: Vec<_> = files
        .iter()
        .map(|(key, version, file)| pin(key, version, vec![file], &["-r ../requirements.in"]))
        .collect();
    scratch.write("locks/web.txt", &lock_text("web", &pins));
    (scratch, index)
}

#[test]
fn check_sbom_and_report_name_known_vulnerabilities() {
    let osv = OsvServer::start();
    let (scratch, _index) = scratch();
    let url = osv.url();
    let vulns = ["--vulns", "--osv-url", url.as_str()];

    let run = scratch.dockgen(
        &[&["check", "--profile", "web.yaml"][..], &vulns].concat(),
        &[],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!("check_vulns", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("vulnerabilities: asked {url} about 4 pins")),
        "{}",
        run.stderr
    );
    let asked = osv.requests();
    assert_eq!(asked[0], "POST /v1/querybatch");
    assert_eq!(asked.iter().filter(|r| r.starts_with("POST")).count(), 1);

    // JSON: one finding per advisory and pin; six has none.
    let run = scratch.dockgen(
        &[
            &["check", "--profile", "web.yaml", "--format", "json", "-q"][..],
            &vulns,
        ]
        .concat(),
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let found: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "vulnerability")
        .collect();
    let answers: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&std::fs::read(fixtures().join("answers.json")).unwrap()).unwrap();
    assert_eq!(found.len(), answers.values().map(Vec::len).sum::<usize>());
    assert!(
        found
            .iter()
            .all(|f| !f["packages"][0].as_str().unwrap().starts_with("six"))
    );

    // The SBOM carries them, and stays valid CycloneDX 1.6.
    let run = scratch.dockgen(
        &[&["sbom", "--profile", "web.yaml", "-q"][..], &vulns].concat(),
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sbom: serde_json::Value = serde_json::from_str(&run.raw_stdout).expect("JSON");
    insta::assert_snapshot!(
        "sbom_vulnerabilities",
        serde_json::to_string_pretty(&sbom["vulnerabilities"]).unwrap()
    );
    validate_cyclonedx(&run.raw_stdout);

    // Offline: the cached answers, with their age; nothing asked.
    let before = osv.requests().len();
    let run = scratch.dockgen(
        &[&["check", "--profile", "web.yaml", "--offline"][..], &vulns].concat(),
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("vulnerabilities: cached answers of")
            && run.stderr.contains("old (--offline)"),
        "{}",
        run.stderr
    );
    assert_eq!(osv.requests().len(), before);

    // The report's findings include them.
    let run = scratch.dockgen(
        &[
            &["report", "--profile", "web.yaml", "-o", "report.html", "-q"][..],
            &vulns,
        ]
        .concat(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = scratch.read("report.html");
    assert!(
        page.contains("<code>vulnerability</code>"),
        "no vulnerability finding on the page"
    );

    // A service that cannot be reached: exit 2, named.
    let fresh = Scratch::new();
    std::fs::create_dir_all(fresh.path().join("locks")).unwrap();
    std::fs::copy(
        scratch.path().join("locks/web.txt"),
        fresh.path().join("locks/web.txt"),
    )
    .unwrap();
    std::fs::copy(
        scratch.path().join("web.yaml"),
        fresh.path().join("web.yaml"),
    )
    .unwrap();
    let broken = ["--vulns", "--osv-url", "http://127.0.0.1:9"];
    let run = fresh.dockgen(
        &[&["check", "--profile", "web.yaml", "-q"][..], &broken].concat(),
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot ask `http://127.0.0.1:9` about known vulnerabilities"),
        "{}",
        run.stderr
    );
}
