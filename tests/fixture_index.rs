//! The loopback fixture index itself: what its pages look like, and that its range,
//! auth, failure and logging behaviours do what the index tests rely on.

use crate::support::fixture_index::{Api, Auth, FixtureFile, FixtureIndex, HashMode};

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client.get(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut hs: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(k, _)| {
                ["content-range", "content-type", "etag", "cache-control"].contains(&k.as_str())
            })
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        hs.sort();
        (status, hs, response.bytes().await.unwrap().to_vec())
    })
}

fn torch() -> FixtureFile {
    FixtureFile::wheel(
        "torch",
        "2.5.1+cu124",
        "cp311-cp311-linux_x86_64",
        &["filelock"],
        0,
    )
    .uploaded("2024-10-29T17:00:00Z")
    .requires_python(">=3.9")
}

#[test]
fn html_page_looks_like_a_pep503_index() {
    let index = FixtureIndex::builder()
        .api(Api::Html)
        .project(
            "torch",
            vec![
                torch(),
                FixtureFile::sdist("torch", "2.4.0", "2.1", &[], &[])
                    .hash(HashMode::Absent)
                    .yanked("broken"),
            ],
        )
        .start();
    let (status, headers, body) = get(&format!("{}torch/", index.url()), &[]);
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    // Hashes change with the zip writer's version; the shape is what matters here.
    let body = regex_lite_hashes(&body);
    let headers: Vec<_> = headers
        .into_iter()
        .map(|(k, v)| {
            if k == "etag" {
                (k, "<etag>".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    insta::assert_snapshot!(format!("{headers:?}\n{body}"));
}

#[test]
fn json_page_looks_like_pypi() {
    let index = FixtureIndex::builder()
        .api(Api::Json)
        .sidecars(false)
        .project("torch", vec![torch().hash(HashMode::Wrong)])
        .start();
    let (status, _, body) = get(&format!("{}torch/", index.url()), &[]);
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let file = &json["files"][0];
    assert_eq!(
        file["url"],
        "../../files/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl"
    );
    assert_eq!(file["hashes"]["sha256"].as_str().map(str::len), Some(64));
    assert_ne!(file["hashes"]["sha256"], torch().sha256().as_str());
    assert_eq!(file["core-metadata"], false);
    assert_eq!(file["upload-time"], "2024-10-29T17:00:00Z");
    assert_eq!(file["requires-python"], ">=3.9");
}

#[test]
fn ranges_tail_span_and_off() {
    let wheel = FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 1000);
    let len = wheel.bytes.len();
    let index = FixtureIndex::builder()
        .project("demo", vec![wheel.clone()])
        .start();
    let url = index.file_url(&wheel.filename).to_string();
    let (status, headers, body) = get(&url, &[("range", "bytes=-10")]);
    assert_eq!((status, body.as_slice()), (206, &wheel.bytes[len - 10..]));
    assert_eq!(
        headers[0],
        (
            "content-range".to_owned(),
            format!("bytes {}-{}/{len}", len - 10, len - 1)
        )
    );
    let (status, _, body) = get(&url, &[("range", "bytes=2-5")]);
    assert_eq!((status, body.as_slice()), (206, &wheel.bytes[2..=5]));

    let no_ranges = FixtureIndex::builder()
        .ranges(false)
        .project("demo", vec![wheel.clone()])
        .start();
    let (status, _, body) = get(
        no_ranges.file_url(&wheel.filename).as_ref(),
        &[("range", "bytes=-10")],
    );
    assert_eq!((status, body.len()), (200, len));
}

#[test]
fn auth_failures_and_log() {
    let index = FixtureIndex::builder()
        .auth(Auth::Bearer("t0k".into()))
        .project(
            "demo",
            vec![FixtureFile::wheel("demo", "1.0", "py3-none-any", &[], 0)],
        )
        .start();
    let page = format!("{}demo/", index.url());
    assert_eq!(get(&page, &[]).0, 401);
    assert_eq!(get(&page, &[("authorization", "Bearer t0k")]).0, 200);
    index.fail_next("/simple/demo/", 1);
    assert_eq!(get(&page, &[("authorization", "Bearer t0k")]).0, 500);
    let (_, headers, _) = get(&page, &[("authorization", "Bearer t0k")]);
    let etag = headers.iter().find(|(k, _)| k == "etag").unwrap().1.clone();
    assert_eq!(
        get(
            &page,
            &[("authorization", "Bearer t0k"), ("if-none-match", &etag)]
        )
        .0,
        304
    );
    assert_eq!(
        get(
            &format!("{}/files/nope.whl", index.base()),
            &[("authorization", "Bearer t0k")]
        )
        .0,
        404
    );
    insta::assert_snapshot!(index.request_lines().join("\n"), @r"
    GET /simple/demo/ -> 401
    GET /simple/demo/ -> 200
    GET /simple/demo/ -> 500
    GET /simple/demo/ -> 200
    GET /simple/demo/ if-none-match -> 304
    GET /files/nope.whl -> 404
    ");
}

/// Replaces 64-hex-digit hashes with `<sha256>`.
fn regex_lite_hashes(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if run == 64 {
            out.push_str("<sha256>");
            i += 64;
        } else {
            let step = run.max(1);
            out.extend(&chars[i..i + step]);
            i += step;
        }
    }
    out
}
