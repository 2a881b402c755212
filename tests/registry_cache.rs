//! `dockgen build --push` to a real registry on loopback (Debian's `docker-registry`,
//! the distribution registry, which the engine reaches over plain HTTP on 127.0.0.1),
//! then, with the local build cache emptied and the image removed, the same build again
//! with `--cache-from` the pushed image: a fresh CI runner's build.
//!
//! A test binary of its own: it empties the engine's whole build cache, which the
//! integration tests (another binary, never run at the same time) rely on.

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::docker::{
    build_report, check_statuses, dockgen_command, engine_with_base_image, ok, project, wheel,
};
use support::fixture_index::FixtureIndex;

/// The secret the credential helper hands out; it must appear in no output and no file.
const SECRET: &str = "registry-secret-5f1d0c9a";

/// A registry on 127.0.0.1, its storage in a temporary directory; stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("run docker-registry (scripts/test-deps.sh installs Debian's docker-registry)");
        let registry = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !registry.answers() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    /// `GET /v2/` answers 200.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port);
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.0 200") | answer.starts_with("HTTP/1.1 200")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Docker config whose credential helper for `registry` is a script in `dir/bin`
/// that records each call and answers with [`SECRET`]. The PATH to run dockgen with.
fn credential_helper(dir: &Path, registry: &str) -> String {
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(
        config.join("config.json"),
        format!("{{\"credHelpers\": {{\"{registry}\": \"dockgen-test\"}}}}\n"),
    )
    .expect("config");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-dockgen-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r registry\necho \"$1 $registry\" >> {}\nprintf '{{\"ServerURL\": \"%s\", \"Username\": \"ci\", \"Secret\": \"{SECRET}\"}}' \"$registry\"\n",
            dir.join("helper-calls").display()
        ),
    )
    .expect("helper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    support::walk(dir)
        .into_iter()
        .filter(|path| {
            std::fs::read(path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn a_pushed_image_is_the_cache_of_a_fresh_build() {
    if !engine_with_base_image() {
        return;
    }
    let registry = Registry::start();
    let host = format!("127.0.0.1:{}", registry.port);
    let index = FixtureIndex::builder()
        .project("alpha", vec![wheel("alpha", "1.0", &["beta>=1"])])
        .project("beta", vec![wheel("beta", "1.2", &[])])
        .start();
    let (dir, cache) = project(&index, &[]);
    let path = credential_helper(dir.path(), &host);
    let image = format!("{host}/dockgen-test/app:{}", std::process::id());
    let run = |args: &[&str]| {
        dockgen_command(dir.path(), &cache, args)
            .env("PATH", &path)
            .env("DOCKER_CONFIG", dir.path().join("docker-config"))
            .output()
            .expect("run dockgen")
    };
    ok(run(&["lock", "--profile", "app-test.yaml", "-q"]));

    let build = [
        "build",
        "--profile",
        "app-test.yaml",
        "--progress",
        "plain",
        "--tag",
        &image,
        "--push",
        "--cache-from",
        &image,
    ];
    // The first build: nothing to reuse yet (the cache image does not exist), pushed.
    let first_stderr = ok(run(&build));
    let first = build_report(dir.path());
    let pushed = first["registry"]["pushed"].as_array().expect("pushed");
    assert_eq!(pushed.len(), 1, "{first:#}");
    assert_eq!(pushed[0]["tag"], image.as_str());
    let digest = pushed[0]["digest"].as_str().expect("a digest").to_string();
    assert!(digest.starts_with("sha256:"), "{first:#}");
    assert_eq!(
        first["registry"]["credentials"],
        format!(
            "credHelpers (docker-credential-dockgen-test) in {}",
            dir.path().join("docker-config/config.json").display()
        )
        .as_str(),
        "{first:#}"
    );
    let calls = std::fs::read_to_string(dir.path().join("helper-calls")).expect("helper called");
    assert_eq!(calls, format!("get {host}\n"));

    // A fresh runner: no local image, no build cache.
    support::run(Command::new("docker").args(["rmi", "-f", &image]));
    support::run(Command::new("docker").args(["builder", "prune", "-af"]));
    let second_stderr = ok(run(&build));
    let second = build_report(dir.path());
    assert_eq!(second["lock_matches_image"], true, "{second:#}");
    insta::assert_snapshot!(check_statuses(&second), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:alpha
    passed import:beta
    ");
    // Every step of the image's own stages came from the registry: the wheels were
    // neither fetched nor built, the final stage's installs not run again.
    assert_eq!(second["served_files"], 0, "{second:#}");
    let stages = second["stages"].as_array().expect("stages");
    for name in ["resolver", "wheel-builder", "final"] {
        let stage = stages
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("no stage {name}: {second:#}"));
        assert_eq!(stage["cached"], stage["steps"], "{name}: {second:#}");
    }
    assert_eq!(
        second["registry"]["cache_from"],
        serde_json::json!([image.as_str()])
    );

    // The image pulled back from the registry is the one built.
    support::run(Command::new("docker").args(["rmi", "-f", &image]));
    support::run(Command::new("docker").args(["pull", "-q", &image]));
    let imported = support::run(Command::new("docker").args([
        "run",
        "--rm",
        &image,
        "python",
        "-c",
        "import alpha, beta; print(alpha.__version__, beta.__version__)",
    ]));
    assert_eq!(imported, "1.0 1.2\n");

    // A registry that does not answer: the image is built and verified (all cached),
    // the push fails naming the tag and the registry, the report says nothing was
    // pushed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let nowhere = format!("127.0.0.1:{closed}/dockgen-test/app:{}", std::process::id());
    let failed = run(&[
        "build",
        "--profile",
        "app-test.yaml",
        "--progress",
        "quiet",
        "--tag",
        &nowhere,
        "--push",
    ]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert_eq!(
        error,
        format!(
            "error: cannot push `{nowhere}` to `127.0.0.1:{closed}`: Get \
             \"http://127.0.0.1:{closed}/v2/\": dial tcp 127.0.0.1:{closed}: connect: \
             connection refused"
        )
    );
    let third = build_report(dir.path());
    assert_eq!(
        third["registry"]["pushed"],
        serde_json::json!([]),
        "{third:#}"
    );
    assert_eq!(third["lock_matches_image"], true, "{third:#}");
    let _ = Command::new("docker")
        .args(["rmi", "-f", &nowhere])
        .output();

    // The registry's secret went to the engine and nowhere else: not into any output
    // or any file dockgen wrote (only the helper itself holds it).
    for (what, stderr) in [("first", &first_stderr), ("second", &second_stderr)] {
        assert!(
            !stderr.contains(SECRET),
            "the {what} build printed the secret"
        );
    }
    assert_eq!(
        files_holding(dir.path(), SECRET),
        vec![
            dir.path()
                .join("bin/docker-credential-dockgen-test")
                .display()
                .to_string()
        ]
    );
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
}
