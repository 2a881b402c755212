//! Direct references to archives (`name @ URL`, bare archive URLs, local paths) end to
//! end: the real binary, archives served by a loopback fixture server, the index for
//! their dependencies another fixture; the lock snapshotted whole and installed with
//! real pip (`--require-hashes --no-deps`) in a fresh venv.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::fixture_index::{Auth, FixtureFile, FixtureIndex};
use crate::support::wheels::{SdistSpec, WheelSpec};
use crate::support::{pip_install_lock, run};

fn wheel(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    let mut spec = WheelSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    FixtureFile::from_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

fn sdist(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    let mut spec = SdistSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    FixtureFile::from_sdist_spec(&spec)
}

/// The index (`six` and `dep` 1.0 / 2.0) and a file server with the direct archives
/// (served under a project nobody requires, so the index never lists them).
fn servers() -> (FixtureIndex, FixtureIndex) {
    let index = FixtureIndex::builder()
        .project(
            "dep",
            vec![wheel("dep", "1.0", &[]), wheel("dep", "2.0", &[])],
        )
        .project("six", vec![wheel("six", "1.16.0", &[])])
        .project("demo", vec![wheel("demo", "9.0", &[])])
        .start();
    let files = FixtureIndex::builder()
        .project(
            "hosted",
            vec![
                wheel("demo", "1.0", &["dep<2"]),
                wheel("bare-wheel", "0.3", &[]),
                FixtureFile::from_spec(&{
                    let mut spec = WheelSpec::new("windows-only", "1.0");
                    spec.tags = "cp311-cp311-win_amd64".into();
                    spec
                }),
                sdist("static-sdist", "2.1", &["six"]),
            ],
        )
        .start();
    (index, files)
}

pub(crate) fn profile(dir: &Path, index: &FixtureIndex) {
    std::fs::write(
        dir.join("cpu-test.yaml"),
        format!(
            "name: cpu-test\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: {}\n",
            index.url()
        ),
    )
    .unwrap();
}

pub(crate) fn dockgen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    crate::support::dockgen_command(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run dockgen")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Outputs with the servers' addresses and the temp dir replaced.
fn redact(text: &str, dir: &Path, index: &FixtureIndex, files: &FixtureIndex) -> String {
    let text = text.replace(&dir.display().to_string(), "[tmp]");
    let text = text.replace(index.base().trim_start_matches("http://"), "[index]");
    crate::support::redact_digest(
        &text.replace(files.base().trim_start_matches("http://"), "[files]"),
    )
}

pub(crate) const LOCK: &[&str] = &["lock", "requirements.in", "--profile", "cpu-test.yaml"];

/// A named URL wheel, a bare URL wheel (name from the file name), a local wheel by
/// relative path in an included file, and an sdist with static metadata: locked as
/// `name @ URL --hash=...`, their dependencies from the index (`dep<2` wins over the
/// index's newer `dep`, and `demo @ URL` over the index's `demo` 9.0); `--check` is
/// stable; tree reads the lock back; real pip installs the wheels by hash.
#[test]
fn direct_archives_lock_and_install_with_pip() {
    let (index, files) = servers();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    let local = wheel("local-wheel", "0.1", &["six"]);
    std::fs::create_dir_all(dir.join("sub/wheels")).unwrap();
    std::fs::write(dir.join("sub/wheels").join(&local.filename), &local.bytes).unwrap();
    let absolute = wheel("absolute-wheel", "0.2", &[]);
    std::fs::write(dir.join(&absolute.filename), &absolute.bytes).unwrap();
    let absolute_url = url::Url::from_file_path(dir.join(&absolute.filename)).unwrap();
    std::fs::write(
        dir.join("sub/more.in"),
        format!(
            "./wheels/{}\nabsolute-wheel @ {absolute_url}\n",
            local.filename
        ),
    )
    .unwrap();
    let demo = files.file_url("demo-1.0-py3-none-any.whl");
    let demo_hash = wheel("demo", "1.0", &["dep<2"]).sha256();
    std::fs::write(
        dir.join("requirements.in"),
        format!(
            "demo @ {demo} --hash=sha256:{demo_hash}\n{}\n\
             static-sdist @ {}\n-r sub/more.in\n",
            files.file_url("bare_wheel-0.3-py3-none-any.whl"),
            files.file_url("static_sdist-2.1.tar.gz"),
        ),
    )
    .unwrap();

    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    insta::assert_snapshot!(redact(&lock, dir, &index, &files));

    let check = dockgen(dir, &[LOCK, &["--check"]].concat(), &[]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    // Two locks: the archive pinned by `--hash` came from the cache after the first
    // download; the unpinned one is fetched each time (its URL may serve new bytes).
    let fetched = |path: &str| files.requests().iter().filter(|r| r.path == path).count();
    assert_eq!(fetched("/files/demo-1.0-py3-none-any.whl"), 1);
    assert_eq!(fetched("/files/bare_wheel-0.3-py3-none-any.whl"), 2);

    let tree = dockgen(
        dir,
        &[
            "tree",
            "--profile",
            "cpu-test.yaml",
            "--lock",
            "locks/cpu-test.txt",
        ],
        &[],
    );
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    assert!(tree.contains("demo==1.0"), "{tree}");
    assert!(
        tree.contains("dep [required: <2, installed: 1.0]"),
        "{tree}"
    );

    // The audit views read the lock back: `check` fetches each archive and finds
    // its locked hash; the SBOM names the archive's URL; `diff` reads both sides.
    let check = dockgen(dir, &["check", "--profile", "cpu-test.yaml"], &[]);
    let check_out = text(&check.stdout) + &text(&check.stderr);
    assert!(check.status.success(), "{check_out}");
    assert!(
        check_out.contains("0 errors, 3 warnings in 7 packages"),
        "{check_out}"
    );
    let sbom = dockgen(dir, &["sbom", "--profile", "cpu-test.yaml"], &[]);
    assert!(sbom.status.success(), "{}", text(&sbom.stderr));
    let component = crate::support::sbom_component(&sbom.stdout, "demo");
    assert_eq!(
        component["externalReferences"][0]["url"].as_str(),
        Some(demo.as_str())
    );
    assert_eq!(component["version"], "1.0");
    let old = lock.replace(
        &format!("demo @ {demo} \\"),
        &format!("demo @ {} \\", demo.as_str().replace("1.0", "0.9")),
    );
    std::fs::write(dir.join("old.txt"), old).unwrap();
    let diff = dockgen(dir, &["diff", "old.txt", "locks/cpu-test.txt"], &[]);
    let diff = text(&diff.stdout);
    assert!(diff.contains("demo  0.9 -> 1.0"), "{diff}");

    // A build that fetches from indexes cannot install direct references: render says
    // so, naming the pin (`render --wheelhouse` and `build` do, see `render_direct`).
    let render = dockgen(dir, &["render", "--profile", "cpu-test.yaml"], &[]);
    assert_eq!(render.status.code(), Some(2), "{}", text(&render.stderr));
    let stderr = redact(&text(&render.stderr), dir, &index, &files);
    assert!(
        stderr.contains("the lock pins `absolute-wheel @ file://[tmp]/absolute_wheel-0.2-py3-none-any.whl`, a direct reference"),
        "{stderr}"
    );

    // The pylock names each archive by URL and hash.
    let output = dockgen(dir, &[LOCK, &["--pylock"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let pylock = std::fs::read_to_string(dir.join("locks/pylock.cpu-test.toml")).unwrap();
    let table: toml::Table = pylock.parse().unwrap();
    let packages = table["packages"].as_array().unwrap();
    let demo_entry = packages
        .iter()
        .find(|p| p["name"].as_str() == Some("demo"))
        .unwrap();
    assert_eq!(demo_entry["archive"]["url"].as_str(), Some(demo.as_str()));
    assert_eq!(
        demo_entry["archive"]["hashes"]["sha256"].as_str(),
        Some(demo_hash.as_str())
    );
    assert!(demo_entry.get("index").is_none(), "{pylock}");

    // Real pip installs the wheels of the lock by hash, nothing resolved by pip (the
    // sdist would need a build, and so the network: it is left out of this install).
    let wheels_only: Vec<&str> = lock
        .split("\n\n")
        .filter(|block| !block.starts_with("static-sdist @"))
        .collect();
    std::fs::write(dir.join("wheels.txt"), wheels_only.join("\n\n")).unwrap();
    let pip = pip_install_lock(&dir.join("venv"), &dir.join("wheels.txt"));
    let frozen = run(Command::new(&pip).args(["freeze", "--disable-pip-version-check"]));
    for name in [
        "demo @ ",
        "bare-wheel @ ",
        "local-wheel @ ",
        "dep==1.0",
        "six==1.16.0",
    ] {
        assert!(frozen.contains(name), "{name} not installed:\n{frozen}");
    }
}

/// Each failure exits 2 with a message naming the requirement's URL and line.
#[test]
fn direct_reference_errors() {
    let (index, files) = servers();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    let demo = files.file_url("demo-1.0-py3-none-any.whl");
    let mut errors = Vec::new();
    let mut attempt = |label: &str, input: String, env: &[(&str, &str)]| {
        std::fs::write(dir.join("requirements.in"), input).unwrap();
        let output = dockgen(dir, LOCK, env);
        // Bad input exits 2; a resolution without a solution exits 1, as always.
        let expected = if label.contains("conflicts") { 1 } else { 2 };
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{label}: {}",
            text(&output.stderr)
        );
        assert!(!dir.join("locks/cpu-test.txt").exists(), "{label}");
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("s3cr3t-t0ken-value"), "{label}: {stderr}");
        errors.push(format!(
            "--- {label}\n{}",
            redact(&stderr, dir, &index, &files)
        ));
    };
    attempt(
        "wrong --hash",
        format!("demo @ {demo} --hash=sha256:{}\n", "0".repeat(64)),
        &[],
    );
    // Unreachable: nothing listens on port 9 of loopback; the token is never shown.
    attempt(
        "unreachable",
        "demo @ http://user:${TOKEN}@127.0.0.1:9/demo-1.0-py3-none-any.whl\n".into(),
        &[("TOKEN", "s3cr3t-t0ken-value")],
    );
    attempt(
        "not found",
        format!("demo @ {}\n", files.file_url("demo-7.0-py3-none-any.whl")),
        &[],
    );
    attempt(
        "two urls for one name",
        format!(
            "demo @ {demo}\ndemo @ {}\n",
            files.file_url("bare_wheel-0.3-py3-none-any.whl")
        ),
        &[],
    );
    std::fs::create_dir_all(dir.join("project")).unwrap();
    attempt("local directory", "project @ ./project\n".into(), &[]);
    attempt(
        "bare sdist url without a name",
        format!("{}\n", files.file_url("static_sdist-2.1.tar.gz")),
        &[],
    );
    attempt(
        "a wheel for another platform (conflicts with the target)",
        format!(
            "{}\n",
            files.file_url("windows_only-1.0-cp311-cp311-win_amd64.whl")
        ),
        &[],
    );
    attempt(
        "a dependency that conflicts with the archive",
        format!("demo @ {demo}\ndep>=2\n"),
        &[],
    );
    insta::assert_snapshot!(errors.join("\n"));
}

/// Credentials of a direct URL come from `${VAR}`s: the download sends them, the lock
/// keeps the `${VAR}` form (pip expands it when it reads the lock), and no output or
/// file holds their values.
#[test]
fn direct_url_credentials_stay_variables() {
    let (index, _) = servers();
    let files = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "reader".into(),
            password: "s3cr3t-t0ken-value".into(),
        })
        .project("hosted", vec![wheel("bare-wheel", "0.3", &[])])
        .start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    let url = files
        .file_url("bare_wheel-0.3-py3-none-any.whl")
        .as_str()
        .replace("http://", "http://${WHEEL_USER}:${WHEEL_TOKEN}@");
    std::fs::write(dir.join("requirements.in"), format!("{url}\n")).unwrap();
    let env = [
        ("WHEEL_USER", "reader"),
        ("WHEEL_TOKEN", "s3cr3t-t0ken-value"),
    ];
    let output = dockgen(dir, LOCK, &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(lock.contains(&format!("bare-wheel @ {url} \\")), "{lock}");
    assert!(
        !lock.contains("s3cr3t") && !lock.contains("reader"),
        "{lock}"
    );
    assert!(
        files.requests().iter().all(|r| r.authorization),
        "{:?}",
        files.request_lines()
    );
    let check = dockgen(dir, &[LOCK, &["--check"]].concat(), &env);
    assert!(check.status.success(), "{}", text(&check.stderr));

    // The same archive with its credentials from netrc (by host), none in the input.
    let netrc = dir.join("netrc");
    std::fs::write(
        &netrc,
        "machine 127.0.0.1 login reader password s3cr3t-t0ken-value\n",
    )
    .unwrap();
    let plain = files.file_url("bare_wheel-0.3-py3-none-any.whl");
    std::fs::write(dir.join("requirements.in"), format!("{plain}\n")).unwrap();
    let output = dockgen(dir, LOCK, &[("NETRC", netrc.to_str().unwrap())]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(lock.contains(&format!("bare-wheel @ {plain} \\")), "{lock}");
    assert!(!lock.contains("s3cr3t"), "{lock}");
    std::fs::write(dir.join("requirements.in"), format!("{url}\n")).unwrap();

    // Without the token the server refuses; the message names the URL as written.
    let output = dockgen(
        dir,
        LOCK,
        &[("WHEEL_USER", "reader"), ("WHEEL_TOKEN", "wrong-token-1")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = redact(&text(&output.stderr), dir, &index, &files);
    assert!(!stderr.contains("wrong-token-1"), "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(stderr.contains("${WHEEL_TOKEN}"), "{stderr}");
}

/// An archive whose bytes change under the same URL (same version) stops a relock, as a
/// replaced index file does; `--upgrade-package` accepts it. An input `--hash` keeps an
/// archive in the cache, so `--offline` relocks it.
#[test]
fn replaced_archive_and_offline_relock() {
    let (index, files) = servers();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    let url = files.file_url("bare_wheel-0.3-py3-none-any.whl");
    std::fs::write(dir.join("requirements.in"), format!("{url}\n")).unwrap();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    let mut rebuilt = WheelSpec::new("bare-wheel", "0.3");
    rebuilt.files = vec![(
        "bare_wheel/__init__.py".into(),
        b"REBUILT = True\n".to_vec(),
    )];
    files.set_project("hosted", vec![FixtureFile::from_spec(&rebuilt)]);
    let output = dockgen(dir, LOCK, &[]);
    let stderr = redact(&text(&output.stderr), dir, &index, &files);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    insta::assert_snapshot!(stderr);
    let output = dockgen(
        dir,
        &[LOCK, &["--upgrade-package", "bare-wheel"]].concat(),
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));

    // Pinned by `--hash`: cached, so `--offline` needs neither server.
    let hash = FixtureFile::from_spec(&rebuilt).sha256();
    std::fs::write(
        dir.join("requirements.in"),
        format!("{url} --hash=sha256:{hash}\nsix\n"),
    )
    .unwrap();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    drop(files);
    drop(index);
    let output = dockgen(dir, &[LOCK, &["--offline", "--check"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}
