//! `RegistryClient` against loopback fixture indexes (and, unless
//! `DOCKGEN_OFFLINE_TESTS=1`, against PyPI): parsing, index policy, metadata paths,
//! hashes, retries, timeouts, credentials, the cache and `--offline`.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockgen::index::find_links::FindLinksSource;
use dockgen::index::registry::{ClientOptions, IndexConfig, NetrcSource, RegistryClient};
use dockgen::index::{DistFile, PackageSource, ProjectFiles};
use pep508_rs::PackageName;
use url::Url;

use crate::support::fixture_index::{Api, Auth, Builder, FixtureFile, FixtureIndex, HashMode};

fn pkg(name: &str) -> PackageName {
    PackageName::from_str(name).unwrap()
}

fn options(cache: &Path) -> ClientOptions {
    ClientOptions {
        cache_dir: Some(cache.to_path_buf()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        retries: 2,
        retry_base: Duration::from_millis(5),
        netrc: NetrcSource::Disabled,
        env_credentials: false,
        ..ClientOptions::default()
    }
}

fn index(name: &str, url: Url) -> IndexConfig {
    IndexConfig {
        name: name.to_owned(),
        url,
        packages: None,
        exclude_newer: None,
    }
}

fn client(indexes: Vec<IndexConfig>, cache: &Path) -> RegistryClient {
    RegistryClient::new(indexes, Vec::new(), options(cache)).unwrap()
}

/// One line per file, with the server address redacted.
fn listing(fixture: &FixtureIndex, project: &ProjectFiles) -> String {
    let mut out = format!("{} from `{}`\n", project.name, project.index);
    for f in &project.files {
        out.push_str(&format!(
            "{} version={} kind={} sha256={} yanked={:?} uploaded={} requires_python={} sidecar={} size={} url={}\n",
            f.filename,
            f.version,
            match f.kind {
                dockgen::index::DistKind::Wheel { .. } => "wheel",
                dockgen::index::DistKind::Sdist => "sdist",
            },
            f.sha256.as_deref().map_or("-", |h| &h[..8]),
            f.yanked,
            f.upload_time.map_or("-".to_owned(), |t| t.to_string()),
            f.requires_python.as_ref().map_or("-".to_owned(), |r| r.to_string()),
            f.has_metadata_sidecar,
            f.size.map_or("-".to_owned(), |s| if s > 0 { "known".into() } else { "0".into() }),
            fixture.redact(f.url.as_str()),
        ));
    }
    out
}

fn torch_files() -> Vec<FixtureFile> {
    vec![
        FixtureFile::wheel(
            "torch",
            "2.5.1+cu124",
            "cp311-cp311-linux_x86_64",
            &["filelock", "sympy==1.13.1; python_version >= '3.9'"],
            0,
        )
        .uploaded("2024-10-29T17:00:00Z")
        .requires_python(">=3.9"),
        FixtureFile::wheel(
            "torch",
            "2.4.0+cu124",
            "cp311-cp311-linux_x86_64",
            &["filelock"],
            0,
        )
        .uploaded("2024-07-24T17:00:00Z")
        .yanked("broken CUDA build"),
        FixtureFile::sdist("torch", "2.3.0", "2.2", &["filelock"], &[])
            .uploaded("2024-04-24T17:00:00Z")
            .hash(HashMode::Absent),
    ]
}

fn snapshot_setting<R>(f: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(f)
}

#[test]
fn json_index_files() {
    let fixture = FixtureIndex::builder()
        .api(Api::Json)
        .project("torch", torch_files())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("pytorch", fixture.url())], cache.path());
    let project = client.project(&pkg("torch")).unwrap().unwrap();
    snapshot_setting(|| insta::assert_snapshot!("json_index_files", listing(&fixture, &project)));
}

#[test]
fn html_index_files() {
    let fixture = FixtureIndex::builder()
        .api(Api::Html)
        .project("torch", torch_files())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("pytorch", fixture.url())], cache.path());
    let project = client.project(&pkg("Torch")).unwrap().unwrap();
    snapshot_setting(|| insta::assert_snapshot!("html_index_files", listing(&fixture, &project)));
    assert_eq!(
        client
            .project(&pkg("missing"))
            .unwrap()
            .map(|p| p.files.len()),
        None
    );
}

#[test]
fn index_priority_and_packages_pinning() {
    let pytorch = FixtureIndex::builder()
        .api(Api::Html)
        .project(
            "torch",
            vec![FixtureFile::wheel(
                "torch",
                "2.5.1+cu124",
                "cp311-cp311-linux_x86_64",
                &[],
                0,
            )],
        )
        .project(
            "numpy",
            vec![FixtureFile::wheel("numpy", "0.1", "py3-none-any", &[], 0)],
        )
        .start();
    let first = FixtureIndex::builder()
        .project(
            "torch",
            vec![FixtureFile::wheel(
                "torch",
                "2.5.1",
                "cp311-cp311-manylinux_2_28_x86_64",
                &[],
                0,
            )],
        )
        .project(
            "six",
            vec![FixtureFile::wheel(
                "six",
                "1.16.0",
                "py2.py3-none-any",
                &[],
                0,
            )],
        )
        .start();
    let second = FixtureIndex::builder()
        .project(
            "six",
            vec![FixtureFile::wheel(
                "six",
                "1.0.0",
                "py2.py3-none-any",
                &[],
                0,
            )],
        )
        .project(
            "numpy",
            vec![FixtureFile::wheel(
                "numpy",
                "2.1.0",
                "cp311-cp311-manylinux_2_28_x86_64",
                &[],
                0,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let mut pinned = index("pytorch", pytorch.url());
    pinned.packages = Some(BTreeSet::from([pkg("torch")]));
    let client = client(
        vec![
            index("first", first.url()),
            pinned,
            index("second", second.url()),
        ],
        cache.path(),
    );
    let versions = |name: &str| {
        let project = client.project(&pkg(name)).unwrap().unwrap();
        let versions: Vec<String> = project
            .files
            .iter()
            .map(|f| f.version.to_string())
            .collect();
        format!("{name}: {} from `{}`", versions.join(", "), project.index)
    };
    let summary = [versions("torch"), versions("six"), versions("numpy")].join("\n");
    insta::assert_snapshot!(summary, @r"
    torch: 2.5.1+cu124 from `pytorch`
    six: 1.16.0 from `first`
    numpy: 2.1.0 from `second`
    ");
    // The pinned index is asked only for its own package; torch never reaches the others.
    assert_eq!(pytorch.request_lines(), ["GET /simple/torch/ -> 200"]);
    assert_eq!(
        first.request_lines(),
        ["GET /simple/six/ -> 200", "GET /simple/numpy/ -> 404"]
    );
    assert_eq!(second.request_lines(), ["GET /simple/numpy/ -> 200"]);
}

#[test]
fn exclude_newer_drops_later_uploads_and_keeps_unknown_times() {
    let files = || {
        vec![
            FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)
                .uploaded("2024-01-01T00:00:00Z"),
            FixtureFile::wheel("demo", "2.0", "py3-none-any", &[], 0)
                .uploaded("2024-06-01T00:00:00Z"),
        ]
    };
    let json = FixtureIndex::builder()
        .api(Api::Json)
        .project("demo", files())
        .start();
    let html = FixtureIndex::builder()
        .api(Api::Html)
        .project("demo", files())
        .start();
    let cutoff = jiff::Timestamp::from_str("2024-03-01T00:00:00Z").unwrap();
    let versions = |fixture: &FixtureIndex| {
        let cache = tempfile::tempdir().unwrap();
        let mut config = index("idx", fixture.url());
        config.exclude_newer = Some(cutoff);
        let client = client(vec![config], cache.path());
        let project = client.project(&pkg("demo")).unwrap().unwrap();
        project
            .files
            .iter()
            .map(|f| f.version.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&json), ["1.0"]);
    // HTML indexes publish no upload times: nothing can be excluded there.
    assert_eq!(versions(&html), ["1.0", "2.0"]);
}

#[test]
fn exclude_newer_with_every_file_too_new_falls_through_to_next_index() {
    let new = FixtureIndex::builder()
        .project(
            "demo",
            vec![
                FixtureFile::wheel("demo", "2.0", "py3-none-any", &[], 0)
                    .uploaded("2025-01-01T00:00:00Z"),
            ],
        )
        .start();
    let old = FixtureIndex::builder()
        .project(
            "demo",
            vec![
                FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)
                    .uploaded("2020-01-01T00:00:00Z"),
            ],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let cutoff = Some(jiff::Timestamp::from_str("2024-01-01T00:00:00Z").unwrap());
    let mut a = index("new", new.url());
    a.exclude_newer = cutoff;
    let mut b = index("old", old.url());
    b.exclude_newer = cutoff;
    let project = client(vec![a, b], cache.path())
        .project(&pkg("demo"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (&*project.index, project.files[0].version.to_string()),
        ("old", "1.0".to_owned())
    );
}

fn first_wheel(project: &ProjectFiles) -> DistFile {
    project
        .files
        .iter()
        .find(|f| f.filename.ends_with(".whl"))
        .unwrap()
        .clone()
}

fn metadata_summary(client: &RegistryClient, file: &DistFile) -> String {
    let metadata = client.metadata(file).unwrap();
    let requires: Vec<String> = metadata
        .requires_dist
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "{} {} requires [{}]",
        metadata.name,
        metadata.version,
        requires.join("; ")
    )
}

#[test]
fn metadata_from_sidecar() {
    let fixture = FixtureIndex::builder()
        .sidecars(true)
        .project("torch", torch_files())
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("pytorch", fixture.url())], cache.path());
    let wheel = first_wheel(&client.project(&pkg("torch")).unwrap().unwrap());
    assert!(wheel.has_metadata_sidecar);
    let summary = metadata_summary(&client, &wheel);
    insta::assert_snapshot!(format!("{summary}\n{}", fixture.request_lines().join("\n")), @r#"
    torch 2.5.1+cu124 requires [filelock; sympy==1.13.1 ; python_full_version >= '3.9']
    GET /simple/torch/ -> 200
    GET /files/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl.metadata -> 200
    "#);
}

#[test]
fn metadata_by_range_requests_without_sidecar() {
    // Larger than the tail probe, with METADATA at the start: the tail holds the central
    // directory, one more range holds METADATA.
    let wheel = FixtureFile::wheel("demo", "1.0", "py3-none-any", &["six>=1.0"], 200_000);
    let fixture = FixtureIndex::builder()
        .api(Api::Html)
        .sidecars(false)
        .project("demo", vec![wheel])
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("idx", fixture.url())], cache.path());
    let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    assert!(!wheel.has_metadata_sidecar);
    let summary = metadata_summary(&client, &wheel);
    let log: Vec<String> = fixture
        .request_lines()
        .iter()
        .map(|l| range_free(l))
        .collect();
    insta::assert_snapshot!(format!("{summary}\n{}", log.join("\n")), @r"
    demo 1.0 requires [six>=1.0]
    GET /simple/demo/ -> 200
    GET /files/demo-1.0-py3-none-any.whl range=bytes=-65536 -> 206
    GET /files/demo-1.0-py3-none-any.whl range=bytes=<span> -> 206
    ");
}

/// Explicit spans depend on the zip layout; the kind of request is what is asserted.
fn range_free(line: &str) -> String {
    match line.split_once("range=bytes=") {
        Some((head, tail)) if !tail.starts_with('-') => {
            let rest = tail.split_once(' ').map_or("", |(_, r)| r);
            format!("{head}range=bytes=<span> {rest}")
        }
        _ => line.to_owned(),
    }
}

#[test]
fn metadata_from_whole_file_when_ranges_are_ignored() {
    let fixture = FixtureIndex::builder()
        .sidecars(false)
        .ranges(false)
        .project(
            "demo",
            vec![FixtureFile::wheel(
                "demo",
                "1.0",
                "py3-none-any",
                &["six"],
                100_000,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("idx", fixture.url())], cache.path());
    let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    let summary = metadata_summary(&client, &wheel);
    insta::assert_snapshot!(format!("{summary}\n{}", fixture.request_lines().join("\n")), @r"
    demo 1.0 requires [six]
    GET /simple/demo/ -> 200
    GET /files/demo-1.0-py3-none-any.whl range=bytes=-65536 -> 200
    ");
}

#[test]
fn sdist_static_metadata_and_needs_build() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![
                FixtureFile::sdist("demo", "1.0", "2.2", &["six"], &[]),
                FixtureFile::sdist("demo", "0.9", "2.2", &[], &["Dynamic: Requires-Dist"]),
                FixtureFile::sdist("demo", "0.8", "2.1", &[], &[]),
            ],
        )
        .sidecars(false)
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("idx", fixture.url())], cache.path());
    let project = client.project(&pkg("demo")).unwrap().unwrap();
    let out: Vec<String> = project
        .files
        .iter()
        .map(|f| match client.metadata(f) {
            Ok(m) => format!(
                "{}: {} requires {:?}",
                f.filename,
                m.version,
                m.requires_dist
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
            Err(err) => format!("{}: error: {err}", f.filename),
        })
        .collect();
    insta::assert_snapshot!(out.join("\n"), @r#"
    demo-1.0.tar.gz: 1.0 requires ["six"]
    demo-0.9.tar.gz: error: `demo-0.9.tar.gz` needs a build to tell its dependencies (its `PKG-INFO` marks `Requires-Dist` as dynamic); pin a version that has wheels or static metadata
    demo-0.8.tar.gz: error: `demo-0.8.tar.gz` needs a build to tell its dependencies (its `PKG-INFO` has `Metadata-Version: 2.1`; only 2.2 and later promise static dependencies); pin a version that has wheels or static metadata
    "#);
}

#[test]
fn hashless_file_is_downloaded_hashed_and_cached() {
    let wheel = FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 1000).hash(HashMode::Absent);
    let expected = wheel.sha256();
    let fixture = FixtureIndex::builder()
        .api(Api::Html)
        .project("demo", vec![wheel])
        .start();
    let cache = tempfile::tempdir().unwrap();
    {
        let client = client(vec![index("idx", fixture.url())], cache.path());
        let file = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
        assert_eq!(file.sha256, None);
        assert_eq!(client.sha256(&file).unwrap(), expected);
        assert_eq!(client.sha256(&file).unwrap(), expected);
    }
    let downloads = |fixture: &FixtureIndex| {
        fixture
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/files/"))
            .count()
    };
    assert_eq!(downloads(&fixture), 1);
    // A new client (a new run) finds the hash in the cache.
    let client = client(vec![index("idx", fixture.url())], cache.path());
    let file = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    assert_eq!(client.sha256(&file).unwrap(), expected);
    assert_eq!(downloads(&fixture), 1);
}

#[test]
fn wrong_published_hash_is_an_error() {
    let fixture = FixtureIndex::builder()
        .sidecars(false)
        .ranges(false)
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0).hash(HashMode::Wrong)],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("rehosted", fixture.url())], cache.path());
    let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    let err = client.metadata(&wheel).unwrap_err();
    let actual = FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0).sha256();
    insta::assert_snapshot!(err.to_string().replace(&actual, "<actual>"), @"`demo-1.0-py3-none-any.whl` from index `rehosted` does not match its published hash: expected sha256 `fd611b728e7fda802b450bbdbe84ef6e625e2a0b4df4dae2eff07e5442fdcc53`, got `<actual>`; the file was changed or corrupted on the index, do not install it");
}

#[test]
fn retries_after_server_errors_then_succeeds() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    fixture.fail_next("/simple/demo/", 2);
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("flaky", fixture.url())], cache.path());
    assert_eq!(
        client.project(&pkg("demo")).unwrap().unwrap().files.len(),
        1
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /simple/demo/ -> 500",
            "GET /simple/demo/ -> 500",
            "GET /simple/demo/ -> 200"
        ]
    );
}

#[test]
fn server_errors_beyond_the_retries_are_an_error() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    fixture.fail_next("/simple/demo/", 10);
    let cache = tempfile::tempdir().unwrap();
    let client = client(vec![index("down", fixture.url())], cache.path());
    let err = client.project(&pkg("demo")).unwrap_err();
    insta::assert_snapshot!(fixture.redact(&err.to_string()), @"index `down` answered HTTP 500 for `http://[index]/simple/demo/`; the index has a server error, retry later");
    assert_eq!(fixture.requests().len(), 3);
}

#[test]
fn hanging_index_times_out_cleanly() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    fixture.hang("/simple/demo/");
    let cache = tempfile::tempdir().unwrap();
    let mut opts = options(cache.path());
    opts.read_timeout = Duration::from_millis(300);
    opts.retries = 1;
    let client =
        RegistryClient::new(vec![index("stuck", fixture.url())], Vec::new(), opts).unwrap();
    let started = Instant::now();
    let err = client.project(&pkg("demo")).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    insta::assert_snapshot!(fixture.redact(&err.to_string()), @"index `stuck` did not answer `http://[index]/simple/demo/` within 0.3s (2 attempt(s)); the index may be down, or raise the timeout");
}

#[test]
fn credentials_are_sent_and_never_shown() {
    let fixture = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "ci".into(),
            password: "s3cr3t-token".into(),
        })
        .sidecars(false)
        .project(
            "demo",
            vec![FixtureFile::wheel(
                "demo",
                "1.0",
                "py3-none-any",
                &["six"],
                0,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client(
        vec![index(
            "private",
            fixture.url_with_credentials("ci", "s3cr3t-token"),
        )],
        cache.path(),
    );
    let project = client.project(&pkg("demo")).unwrap().unwrap();
    let wheel = first_wheel(&project);
    assert_eq!(wheel.url.password(), None);
    assert!(!wheel.url.as_str().contains("s3cr3t"));
    assert_eq!(metadata_summary(&client, &wheel), "demo 1.0 requires [six]");
    assert!(
        fixture
            .requests()
            .iter()
            .all(|r| r.authorization && r.status != 401)
    );

    let wrong = tempfile::tempdir().unwrap();
    let client = self::client(
        vec![index(
            "private",
            fixture.url_with_credentials("ci", "wrong-pass"),
        )],
        wrong.path(),
    );
    let err = client.project(&pkg("demo")).unwrap_err().to_string();
    assert!(!err.contains("wrong-pass"));
    insta::assert_snapshot!(fixture.redact(&err), @"index `private` answered HTTP 401 for `http://[index]/simple/demo/`; check the credentials for this index (URL userinfo, `DOCKGEN_INDEX_<NAME>_USERNAME`/`_PASSWORD`, or netrc)");
    for entry in crate::support::walk(cache.path())
        .iter()
        .chain(crate::support::walk(wrong.path()).iter())
    {
        let text = String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned();
        assert!(
            !text.contains("s3cr3t") && !text.contains("wrong-pass"),
            "secret in {entry:?}"
        );
    }
}

#[test]
fn offline_serves_from_cache_and_names_misses() {
    let fixture = FixtureIndex::builder()
        .cache_control("max-age=0")
        .project(
            "demo",
            vec![FixtureFile::wheel(
                "demo",
                "1.0",
                "py3-none-any",
                &["six"],
                0,
            )],
        )
        .project(
            "other",
            vec![FixtureFile::wheel("other", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    {
        let client = client(vec![index("idx", fixture.url())], cache.path());
        let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
        client.metadata(&wheel).unwrap();
    }
    fixture.clear_requests();
    let mut opts = options(cache.path());
    opts.offline = true;
    let client = RegistryClient::new(vec![index("idx", fixture.url())], Vec::new(), opts).unwrap();
    let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    assert_eq!(metadata_summary(&client, &wheel), "demo 1.0 requires [six]");
    let err = client.project(&pkg("other")).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @"the project page of `other` on index `idx` is not in the cache and `--offline` forbids the network; run once online to fill the cache");
    assert_eq!(fixture.request_lines(), Vec::<String>::new());
}

#[test]
fn corrupt_cache_entries_are_dropped_and_refetched() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel(
                "demo",
                "1.0",
                "py3-none-any",
                &["six"],
                0,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let fill = || {
        let client = client(vec![index("idx", fixture.url())], cache.path());
        let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
        metadata_summary(&client, &wheel)
    };
    assert_eq!(fill(), "demo 1.0 requires [six]");
    // The page, its HTTP cache policy, the metadata.
    let entries = crate::support::walk(cache.path());
    assert_eq!(entries.len(), 3);
    for entry in &entries {
        std::fs::write(entry, b"\x00garbage{").unwrap();
    }
    fixture.clear_requests();
    assert_eq!(fill(), "demo 1.0 requires [six]");
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /simple/demo/ -> 200",
            "GET /files/demo-1.0-py3-none-any.whl.metadata -> 200"
        ]
    );
}

/// An index serving `demo` 1.0, one wheel.
fn demo_index(builder: Builder) -> FixtureIndex {
    builder
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start()
}

/// When the one cached page of `cache` was last written.
fn page_written(cache: &Path) -> std::time::SystemTime {
    let page = crate::support::walk(&cache.join("simple-v1"))
        .pop()
        .expect("a cached page");
    std::fs::metadata(page).unwrap().modified().unwrap()
}

#[test]
fn stale_pages_are_revalidated_with_etag_and_fresh_ones_reused() {
    let stale = demo_index(FixtureIndex::builder().cache_control("max-age=0, must-revalidate"));
    let cache = tempfile::tempdir().unwrap();
    let page_written = || page_written(cache.path());
    let mut written = Vec::new();
    for _ in 0..2 {
        let client = client(vec![index("idx", stale.url())], cache.path());
        assert_eq!(
            client.project(&pkg("demo")).unwrap().unwrap().files.len(),
            1
        );
        written.push(page_written());
    }
    // "Not modified" refreshes the policy only: the page is not written again.
    assert_eq!(written[0], written[1]);
    // A new release changes the ETag: the next revalidation gets the new page.
    stale.set_project(
        "demo",
        vec![
            FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0),
            FixtureFile::wheel("demo", "1.1", "py3-none-any", &[], 0),
        ],
    );
    let client = client(vec![index("idx", stale.url())], cache.path());
    assert_eq!(
        client.project(&pkg("demo")).unwrap().unwrap().files.len(),
        2
    );
    assert_eq!(
        stale.request_lines(),
        [
            "GET /simple/demo/ -> 200",
            "GET /simple/demo/ if-none-match -> 304",
            "GET /simple/demo/ if-none-match -> 200"
        ]
    );

    let fresh = demo_index(FixtureIndex::builder().cache_control("max-age=600"));
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        client_for(&fresh, cache.path())
            .project(&pkg("demo"))
            .unwrap()
            .unwrap();
    }
    assert_eq!(fresh.request_lines(), ["GET /simple/demo/ -> 200"]);
}

#[test]
fn pages_without_validators_are_fetched_whole_and_written_only_when_changed() {
    let plain = demo_index(FixtureIndex::builder().no_caching_headers());
    let cache = tempfile::tempdir().unwrap();
    let page_written = || page_written(cache.path());
    let versions = || {
        let project = client_for(&plain, cache.path())
            .project(&pkg("demo"))
            .unwrap()
            .unwrap();
        project.files.len()
    };
    assert_eq!(versions(), 1);
    let first = page_written();
    // Nothing to revalidate with: fetched whole, and the same body is not written
    // again.
    assert_eq!(versions(), 1);
    assert_eq!(page_written(), first);
    plain.set_project(
        "demo",
        vec![
            FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0),
            FixtureFile::wheel("demo", "1.1", "py3-none-any", &[], 0),
        ],
    );
    assert_eq!(versions(), 2);
    assert_ne!(page_written(), first);
    assert_eq!(
        plain.request_lines(),
        [
            "GET /simple/demo/ -> 200",
            "GET /simple/demo/ -> 200",
            "GET /simple/demo/ -> 200"
        ]
    );
    // What was written last is what an offline run reads.
    let offline = RegistryClient::new(
        vec![index("idx", plain.url())],
        Vec::new(),
        ClientOptions {
            offline: true,
            ..options(cache.path())
        },
    )
    .unwrap();
    let project = offline.project(&pkg("demo")).unwrap().unwrap();
    assert_eq!(project.files.len(), 2);
}

fn client_for(fixture: &FixtureIndex, cache: &Path) -> RegistryClient {
    client(vec![index("idx", fixture.url())], cache)
}

#[test]
fn local_version_wheels_are_percent_encoded_and_read_by_ranges() {
    let fixture = FixtureIndex::builder()
        .api(Api::Html)
        .sidecars(false)
        .project(
            "torch",
            vec![FixtureFile::wheel(
                "torch",
                "2.5.1+cu124",
                "cp311-cp311-linux_x86_64",
                &["filelock"],
                0,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = client_for(&fixture, cache.path());
    let wheel = first_wheel(&client.project(&pkg("torch")).unwrap().unwrap());
    assert_eq!(
        fixture.redact(wheel.url.as_str()),
        "http://[index]/files/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl"
    );
    assert_eq!(
        wheel.filename,
        "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl"
    );
    assert_eq!(
        metadata_summary(&client, &wheel),
        "torch 2.5.1+cu124 requires [filelock]"
    );
}

#[test]
fn concurrent_requests_share_one_fetch() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let client = Arc::new(client_for(&fixture, cache.path()));
    client.prefetch_project(&pkg("demo"));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || client.project(&pkg("demo")).unwrap().unwrap().files.len())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 1);
    }
    assert_eq!(fixture.request_lines(), ["GET /simple/demo/ -> 200"]);
}

#[test]
fn find_links_directory_adds_files() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    let dir = tempfile::tempdir().unwrap();
    let local = FixtureFile::wheel("demo", "1.1", "py3-none-any", &["six"], 0);
    std::fs::write(dir.path().join(&local.filename), &local.bytes).unwrap();
    let only_local = FixtureFile::sdist("localonly", "0.1", "2.2", &[], &[]);
    std::fs::write(dir.path().join(&only_local.filename), &only_local.bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let client = RegistryClient::new(
        vec![index("idx", fixture.url())],
        vec![FindLinksSource::Dir(dir.path().to_path_buf())],
        options(cache.path()),
    )
    .unwrap();
    let demo = client.project(&pkg("demo")).unwrap().unwrap();
    let versions: Vec<String> = demo.files.iter().map(|f| f.version.to_string()).collect();
    assert_eq!(
        (&*demo.index, versions),
        ("idx", vec!["1.0".to_owned(), "1.1".to_owned()])
    );
    let local_file = demo.files[1].clone();
    assert_eq!(client.sha256(&local_file).unwrap(), local.sha256());
    assert_eq!(
        metadata_summary(&client, &local_file),
        "demo 1.1 requires [six]"
    );
    let only = client.project(&pkg("localonly")).unwrap().unwrap();
    assert_eq!(&*only.index, dir.path().display().to_string());
    assert_eq!(
        client.metadata(&only.files[0]).unwrap().version.to_string(),
        "0.1"
    );
}

#[test]
fn a_view_for_a_target_keeps_its_files_and_counts_the_others() {
    use dockgen::index::Skipped;
    use dockgen::index::strategy::IndexStrategy;
    use dockgen::input::{profile, target::Target};

    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![
                FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0),
                FixtureFile::wheel("demo", "1.0", "cp311-cp311-win_amd64", &[], 0),
                FixtureFile::wheel("demo", "1.0", "cp311-cp311-macosx_11_0_arm64", &[], 0),
            ],
        )
        .start();
    // A find-links directory with only a Windows wheel of a project no index has.
    let dir = tempfile::tempdir().unwrap();
    let windows = FixtureFile::wheel("winonly", "0.1", "cp311-cp311-win_amd64", &[], 0);
    std::fs::write(dir.path().join(&windows.filename), &windows.bytes).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let indexes = vec![index("idx", fixture.url())];
    let client = RegistryClient::new(
        indexes.clone(),
        vec![FindLinksSource::Dir(dir.path().to_path_buf())],
        options(cache.path()),
    )
    .unwrap();
    let target = Target::from_profile(&profile::builtin("cpu-x86_64").unwrap()).unwrap();
    let view = client.for_target(&indexes, IndexStrategy::FirstIndex, &target);

    let demo = view.project(&pkg("demo")).unwrap().unwrap();
    let kept: Vec<&str> = demo.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(kept, ["demo-1.0-py3-none-any.whl"]);
    assert_eq!(
        demo.skipped,
        Skipped {
            incompatible_wheels: 2,
            requires_python: 0
        }
    );
    // Nothing usable, but the project is there: on the source that lists it.
    let winonly = view.project(&pkg("winonly")).unwrap().unwrap();
    assert!(winonly.files.is_empty());
    assert_eq!(winonly.skipped.incompatible_wheels, 1);
    assert_eq!(&*winonly.index, dir.path().display().to_string());
    // A view without a target keeps every file; the page comes from the cache.
    assert_eq!(
        client.project(&pkg("demo")).unwrap().unwrap().files.len(),
        3
    );
    assert_eq!(
        fixture.request_lines(),
        ["GET /simple/demo/ -> 200", "GET /simple/winonly/ -> 404"]
    );
}

/// The real PyPI JSON API, pinned in time. Skipped with `DOCKGEN_OFFLINE_TESTS=1`.
#[test]
fn pypi_json_api() {
    if std::env::var("DOCKGEN_OFFLINE_TESTS").is_ok_and(|v| v == "1") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let mut pypi = index("pypi", Url::parse("https://pypi.org/simple/").unwrap());
    pypi.exclude_newer = Some(jiff::Timestamp::from_str("2024-01-01T00:00:00Z").unwrap());
    let mut opts = options(cache.path());
    opts.read_timeout = Duration::from_secs(30);
    let client = RegistryClient::new(vec![pypi], Vec::new(), opts).unwrap();
    let six = client.project(&pkg("six")).unwrap().unwrap();
    let wheel = six
        .files
        .iter()
        .find(|f| f.filename == "six-1.16.0-py2.py3-none-any.whl")
        .unwrap()
        .clone();
    assert!(six.files.iter().all(|f| f.version.to_string() != "1.17.0"));
    assert_eq!(
        wheel.sha256.as_deref(),
        Some("8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254")
    );
    // PyPI proper serves JSON with sidecars; the mirror CI reaches serves HTML with
    // `data-upload-time`. Either way upload times are known and metadata is found.
    assert!(wheel.upload_time.is_some());
    let metadata = client.metadata(&wheel).unwrap();
    assert_eq!(
        (metadata.name.to_string(), metadata.version.to_string()),
        ("six".to_owned(), "1.16.0".to_owned())
    );
    assert_eq!(
        metadata
            .requires_python
            .as_ref()
            .map(|r| r.to_string())
            .as_deref(),
        Some(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*")
    );
}

#[test]
fn find_links_page_of_links() {
    let links = FixtureIndex::builder()
        .api(Api::Html)
        .project(
            "demo",
            vec![FixtureFile::wheel(
                "demo",
                "3.0",
                "py3-none-any",
                &["six"],
                0,
            )],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let page = links.url().join("demo/").unwrap();
    let client = RegistryClient::new(
        Vec::new(),
        vec![FindLinksSource::Page(page)],
        options(cache.path()),
    )
    .unwrap();
    let demo = client.project(&pkg("demo")).unwrap().unwrap();
    assert_eq!(links.redact(&demo.index), "http://[index]/simple/demo/");
    assert_eq!(
        metadata_summary(&client, &demo.files[0]),
        "demo 3.0 requires [six]"
    );
    assert_eq!(
        client
            .project(&pkg("other"))
            .unwrap()
            .map(|p| p.files.len()),
        None
    );
}

#[test]
fn netrc_credentials_by_host() {
    let fixture = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "bob".into(),
            password: "from-netrc".into(),
        })
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(
        &netrc,
        "machine 127.0.0.1\nlogin bob\npassword from-netrc\n",
    )
    .unwrap();
    let mut opts = options(dir.path());
    opts.netrc = NetrcSource::Path(netrc);
    let client =
        RegistryClient::new(vec![index("private", fixture.url())], Vec::new(), opts).unwrap();
    assert_eq!(
        client.project(&pkg("demo")).unwrap().unwrap().files.len(),
        1
    );
    assert_eq!(fixture.request_lines(), ["GET /simple/demo/ -> 200"]);
}

#[test]
fn progress_bar_counts_fetches() {
    let fixture = FixtureIndex::builder()
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0).hash(HashMode::Absent)],
        )
        .start();
    let cache = tempfile::tempdir().unwrap();
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
    let mut opts = options(cache.path());
    opts.progress = Some(bar.clone());
    let client = RegistryClient::new(vec![index("idx", fixture.url())], Vec::new(), opts).unwrap();
    let wheel = first_wheel(&client.project(&pkg("demo")).unwrap().unwrap());
    client.metadata(&wheel).unwrap();
    client.sha256(&wheel).unwrap();
    assert_eq!((bar.position(), bar.length()), (3, Some(3)));
    assert_eq!(bar.message(), "hashing `demo-1.0-py3-none-any.whl`");
}
