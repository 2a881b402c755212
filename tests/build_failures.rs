//! `dockgen build` when things go wrong, on the real Docker engine: a private index's
//! token must reach no image, plan, lock or artifact; a file that is not the locked one
//! fails the build before anything is built; the engine going away mid-build is a clean
//! error that leaves the previous artifacts as they were.
//!
//! Needs the Docker engine and the base image `scripts/base-image.sh` makes (the tests
//! make it when it is missing). Skipped, with the reason printed, when no engine answers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::docker::{
    PROFILE, Tag, build_report, dockgen, dockgen_command, engine_with_base_image, image_exists,
    nonce, ok, profile_yaml, project, remove_image, wheel, wheel_spec,
};
use crate::support::engine_proxy::EngineProxy;
use crate::support::fixture_index::{Auth, FixtureFile, FixtureIndex, base64_lite};

/// [`project`] with no checks, locked.
fn locked_project(index: &FixtureIndex) -> (tempfile::TempDir, PathBuf) {
    let (dir, cache) = project(index, &[]);
    ok(dockgen(
        dir.path(),
        &cache,
        &["lock", "--profile", "app-test.yaml", "-q"],
    ));
    (dir, cache)
}

fn failed(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "dockgen succeeded:\n{stderr}");
    for sign in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!stderr.contains(sign), "dockgen panicked:\n{stderr}");
    }
    stderr
}

/// Every file under `dir` (following no symlinks), sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let kind = std::fs::symlink_metadata(&path)
                .expect("metadata")
                .file_type();
            if kind.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every file under `dir`, relative to it, with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read file");
            (
                path.strip_prefix(dir).expect("under dir").to_path_buf(),
                bytes,
            )
        })
        .collect()
}

/// Looks for needles in bytes, files, trees and tar archives (nested ones and gzipped
/// ones too), recording where each was found.
struct Search {
    needles: Vec<(&'static str, Vec<u8>)>,
    /// `what was found: where`
    hits: Vec<String>,
    /// Places searched.
    searched: usize,
}

impl Search {
    fn new(needles: Vec<(&'static str, String)>) -> Self {
        Self {
            needles: needles
                .into_iter()
                .map(|(what, needle)| (what, needle.into_bytes()))
                .collect(),
            hits: Vec::new(),
            searched: 0,
        }
    }

    fn bytes(&mut self, place: &str, bytes: &[u8]) {
        self.searched += 1;
        for (what, needle) in &self.needles {
            if contains(bytes, needle) {
                self.hits.push(format!("{what}: {place}"));
            }
        }
    }

    fn tree(&mut self, place: &str, dir: &Path) {
        let files = walk(dir);
        assert!(
            !files.is_empty(),
            "{place}: no files under `{}`",
            dir.display()
        );
        for path in files {
            let name = format!(
                "{place}/{}",
                path.strip_prefix(dir).expect("under").display()
            );
            match std::fs::read_link(&path) {
                Ok(target) => self.bytes(&name, target.as_os_str().as_encoded_bytes()),
                Err(_) => self.bytes(&name, &std::fs::read(&path).expect("read")),
            }
        }
    }

    /// Bytes that may be an archive: a tar (an image layer, a saved image) is searched
    /// entry by entry, a gzipped file once unzipped too.
    fn content(&mut self, place: &str, bytes: &[u8]) {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut unzipped = Vec::new();
            if flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut unzipped)
                .is_ok()
            {
                self.content(&format!("{place} (unzipped)"), &unzipped);
            }
        }
        if !(bytes.get(257..262) == Some(b"ustar") && self.archive(place, bytes).is_ok()) {
            self.bytes(place, bytes);
        }
    }

    /// A tar: every entry's name, link target, PAX records and content.
    fn archive(&mut self, place: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let place = format!("{place}: {name}");
            let mut header_text = entry.path_bytes().into_owned();
            if let Some(link) = entry.link_name_bytes() {
                header_text.extend_from_slice(&link);
            }
            if let Ok(Some(records)) = entry.pax_extensions() {
                for record in records.flatten() {
                    header_text.extend_from_slice(record.key_bytes());
                    header_text.extend_from_slice(record.value_bytes());
                }
            }
            self.bytes(&format!("{place} (header)"), &header_text);
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            self.content(&place, &content);
        }
        Ok(())
    }

    fn found(&self, what: &str) -> Vec<&String> {
        self.hits
            .iter()
            .filter(|hit| hit.starts_with(&format!("{what}: ")))
            .collect()
    }
}

/// Substring search that is quick enough for image layers in a debug build.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut at = 0;
    while let Some(offset) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + offset;
        if haystack[start + 1..].starts_with(rest) {
            return true;
        }
        at = start + 1;
    }
    false
}

#[test]
fn a_private_index_token_reaches_no_image_plan_lock_or_artifact() {
    if !engine_with_base_image() {
        return;
    }
    let username = "ci-bot";
    let token = format!("dgk_{}{}{}", nonce(), nonce(), nonce());
    let authorization = base64_lite::encode(format!("{username}:{token}").as_bytes());
    // Installed in the image: finding it shows that the layers' files were searched.
    let marker = format!("installed-{}", nonce());
    let mut alpha = wheel_spec("alpha", "1.0", &["beta>=1"]);
    alpha.files[0].1 = format!("__version__ = \"1.0\"\nMARKER = \"{marker}\"\n").into_bytes();
    let index = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: username.into(),
            password: token.clone(),
        })
        .project("alpha", vec![FixtureFile::from_spec(&alpha)])
        .project("beta", vec![wheel("beta", "1.2", &[])])
        .start();
    let (dir, cache) = project(&index, &[("alpha-is-1.0", "alpha.__version__ == \"1.0\"")]);
    let no_netrc = dir.path().join("no-netrc");
    let lock = ["lock", "--profile", "app-test.yaml", "-q"];

    // Without the token the index refuses: the token is what gets the packages.
    let refused = dockgen_command(dir.path(), &cache, &lock)
        .env("NETRC", &no_netrc)
        .output()
        .expect("run dockgen");
    failed(&refused);
    let requests = index.requests();
    assert!(
        requests.iter().any(|r| r.status == 401 && !r.authorization)
            && requests.iter().all(|r| r.status != 200),
        "{:#?}",
        index.request_lines()
    );
    index.clear_requests();

    let with_token = |args: &[&str]| {
        dockgen_command(dir.path(), &cache, args)
            .env("NETRC", &no_netrc)
            .env("DOCKGEN_INDEX_FIXTURE_USERNAME", username)
            .env("DOCKGEN_INDEX_FIXTURE_PASSWORD", &token)
            .output()
            .expect("run dockgen")
    };
    let locked = with_token(&lock);
    let lock_stderr = ok(locked.clone());
    let image = Tag::new("private");
    let tag = image.0.as_str();
    let built = with_token(&[
        "build",
        "--profile",
        "app-test.yaml",
        "--progress",
        "plain",
        "--tag",
        tag,
    ]);
    let build_stderr = ok(built.clone());
    assert!(build_report(dir.path())["image_id"].is_string());
    // Both files came from the private index, with the token.
    let downloads: Vec<String> = index
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/files/") && r.status == 200 && r.authorization)
        .map(|r| r.path.clone())
        .collect();
    assert!(
        downloads.contains(&"/files/alpha-1.0-py3-none-any.whl".to_string())
            && downloads.contains(&"/files/beta-1.2-py3-none-any.whl".to_string()),
        "{:#?}",
        index.request_lines()
    );

    let mut search = Search::new(vec![
        ("token", token.clone()),
        ("username:token", format!("{username}:{token}")),
        ("basic authorization", authorization.clone()),
        ("marker", marker.clone()),
    ]);
    let save = dir.path().join("image.tar");
    crate::support::run(
        Command::new("docker")
            .arg("save")
            .arg("-o")
            .arg(&save)
            .arg(tag),
    );
    let saved = std::fs::read(&save).expect("read the saved image");
    std::fs::remove_file(&save).expect("remove the saved image");
    search.content("docker save", &saved);
    drop(saved);
    let history = crate::support::run(Command::new("docker").args(["history", "--no-trunc", tag]));
    assert!(history.contains("--require-hashes"), "{history}");
    search.bytes("docker history --no-trunc", history.as_bytes());
    let inspect = crate::support::run(Command::new("docker").args(["image", "inspect", tag]));
    search.bytes("docker image inspect", inspect.as_bytes());
    search.tree("plan", &dir.path().join("build").join(PROFILE));
    search.tree("lock", &dir.path().join("locks"));
    search.tree("artifacts", &dir.path().join("artifacts").join(PROFILE));
    search.tree("cache", &cache);
    for (place, output) in [("dockgen lock", &locked), ("dockgen build", &built)] {
        search.bytes(&format!("{place} stdout"), &output.stdout);
    }
    search.bytes("dockgen lock stderr", lock_stderr.as_bytes());
    search.bytes("dockgen build stderr", build_stderr.as_bytes());

    let installed = search.found("marker");
    assert!(
        installed
            .iter()
            .any(|hit| hit.starts_with("marker: docker save: ")
                && hit.ends_with("alpha/__init__.py")),
        "the image's files were not searched: {installed:#?}"
    );
    let leaks: Vec<&String> = search
        .hits
        .iter()
        .filter(|hit| !hit.starts_with("marker: "))
        .collect();
    assert!(
        leaks.is_empty(),
        "the token is in ({} places searched):\n{leaks:#?}",
        search.searched
    );
}

#[test]
fn a_file_that_is_not_the_locked_one_fails_the_build_before_anything_is_built() {
    if !engine_with_base_image() {
        return;
    }
    let beta = wheel("beta", "1.2", &[]);
    let index = FixtureIndex::builder()
        .project("alpha", vec![wheel("alpha", "1.0", &["beta>=1"])])
        .project("beta", vec![beta.clone()])
        .start();
    let (dir, cache) = locked_project(&index);
    let image = Tag::new("mismatch");
    let tag = image.0.as_str();
    // `-q`: only the error, whatever dockgen says on the way.
    let build = ["build", "--profile", "app-test.yaml", "-q", "--tag", tag];

    // The index now serves other bytes under the listing the lock was made from.
    let mut other = wheel_spec("beta", "1.2", &[]);
    other.files[0].1 = b"__version__ = \"1.2\"\nimport os\n".to_vec();
    let served = FixtureFile::from_spec(&other).bytes;
    let served_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&served));
    index.set_project("beta", vec![beta.clone().replaced_with(served)]);
    let output = dockgen(dir.path(), &cache, &build);
    assert_eq!(output.status.code(), Some(2));
    let stderr = failed(&output)
        .replace(&beta.sha256(), "[locked sha256]")
        .replace(&served_sha256, "[served sha256]");
    insta::assert_snapshot!(
        "served_bytes_are_not_the_locked_ones",
        index.redact(&stderr)
    );
    assert_nothing_built(dir.path(), tag);
    let wheels = dir.path().join("build").join(PROFILE).join("wheels");
    assert!(
        walk(&wheels).is_empty(),
        "the wheelhouse was filled: {:?}",
        walk(&wheels)
    );
    let store = cache.join("files-v1/sha256");
    let stored: Vec<String> = walk(&store)
        .iter()
        .map(|p| p.strip_prefix(&store).expect("under").display().to_string())
        .collect();
    assert!(
        !stored
            .iter()
            .any(|p| p.contains(&served_sha256) || p.starts_with("tmp/")),
        "the served bytes or a temp file are in the store: {stored:#?}"
    );

    // The index serves the original again; the lock names a hash no file has.
    index.set_project("beta", vec![beta.clone()]);
    let lock_path = dir.path().join("locks").join(format!("{PROFILE}.txt"));
    let lock = std::fs::read_to_string(&lock_path).expect("lock");
    assert!(lock.contains(&beta.sha256()), "{lock}");
    let edited = "e".repeat(64);
    std::fs::write(&lock_path, lock.replace(&beta.sha256(), &edited)).expect("edit the lock");
    let output = dockgen(dir.path(), &cache, &build);
    assert_eq!(output.status.code(), Some(2));
    let stderr = failed(&output).replace(&edited, "[edited sha256]");
    insta::assert_snapshot!("no_file_has_the_locked_hash", index.redact(&stderr));
    assert_nothing_built(dir.path(), tag);
}

/// A build for another architecture than the engine's (this machine's x86_64), where
/// binfmt_misc is not there to hand the foreign binaries to an emulator: exit 2 before
/// any package is fetched or any step runs, naming the platform and the commands that
/// register the emulator.
#[test]
fn a_foreign_platform_without_emulation_fails_before_anything_is_built() {
    if !engine_with_base_image() {
        return;
    }
    let index = FixtureIndex::builder()
        .project("alpha", vec![wheel("alpha", "1.0", &[])])
        .start();
    let (dir, cache) = locked_project(&index);
    let image = Tag::new("foreign");
    let binfmt = tempfile::tempdir().expect("tempdir");
    index.clear_requests();
    let output = dockgen_command(
        dir.path(),
        &cache,
        &[
            "build",
            "--profile",
            "app-test.yaml",
            "--platform",
            "linux/arm64",
            "-q",
            "--tag",
            &image.0,
        ],
    )
    .env("DOCKGEN_BINFMT_MISC", binfmt.path())
    .output()
    .expect("run dockgen");
    assert_eq!(output.status.code(), Some(2));
    let stderr = failed(&output).replace(&binfmt.path().display().to_string(), "[binfmt]");
    insta::assert_snapshot!("foreign_platform_without_emulation", stderr);
    assert_eq!(
        index.request_lines(),
        Vec::<String>::new(),
        "nothing fetched"
    );
    assert_nothing_built(dir.path(), &image.0);
}

/// No image tagged `tag`, and nothing under `artifacts/` at all (no staging directory).
fn assert_nothing_built(dir: &Path, tag: &str) {
    assert!(!image_exists(tag), "`{tag}` was tagged");
    let artifacts = dir.join("artifacts");
    let left: Vec<_> = std::fs::read_dir(&artifacts)
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "artifacts were written: {left:?}");
}

#[test]
fn the_engine_going_away_mid_build_leaves_the_previous_artifacts() {
    if !engine_with_base_image() {
        return;
    }
    let index = FixtureIndex::builder()
        .project("alpha", vec![wheel("alpha", "1.0", &["beta>=1"])])
        .project("beta", vec![wheel("beta", "1.2", &[])])
        .start();
    let (dir, cache) = project(&index, &[("alpha-is-1.0", "alpha.__version__ == \"1.0\"")]);
    let image = Tag::new("cut");
    let tag = image.0.as_str();
    // `-q`: only the error, whatever dockgen says on the way.
    let build = ["build", "--profile", "app-test.yaml", "-q", "--tag", tag];
    ok(dockgen(
        dir.path(),
        &cache,
        &["lock", "--profile", "app-test.yaml", "-q"],
    ));
    ok(dockgen(dir.path(), &cache, &build));
    let artifacts = dir.path().join("artifacts").join(PROFILE);
    let before = contents(&artifacts);
    assert!(
        before.contains_key(Path::new("build-report.json")),
        "{:?}",
        before.keys()
    );
    remove_image(tag);

    // The engine goes away while the export build runs a check that takes minutes (cut
    // when the verify step starts), then, with a quick check, while the image builds
    // (cut when its first step starts: the artifacts were exported by then).
    let cases = [
        (
            "export",
            "verify.py",
            "__import__(\"time\").sleep(600) is None",
        ),
        ("image", "[image ", "True"),
    ];
    for (case, step, check) in cases {
        let nonce = nonce();
        std::fs::write(
            dir.path().join("app-test.yaml"),
            profile_yaml(
                &index.url(),
                &["alpha"],
                &[("fresh", &format!("{check} or \"{nonce}\""))],
            ),
        )
        .expect("profile");
        let proxy = EngineProxy::cutting_on(step);
        let output = crate::support::output_within(
            dockgen_command(dir.path(), &cache, &build).env("DOCKER_HOST", proxy.address()),
            Duration::from_secs(300),
        );
        assert!(
            proxy.was_cut(),
            "{case}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(2), "{case}");
        let stderr = failed(&output).replace(proxy.address(), "[proxy]");
        insta::assert_snapshot!(format!("cut_during_the_{case}_build"), stderr);
        assert!(!image_exists(tag), "{case}: `{tag}` was tagged");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("artifacts"))
            .expect("artifacts")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, [PROFILE], "{case}: a staging directory was left");
        let after = contents(&artifacts);
        assert!(
            before == after,
            "{case}: the previous artifacts changed: {:?} -> {:?}",
            before.keys(),
            after.keys()
        );
    }
}
