//! `dockgen build` on the real Docker engine: whether an engine answers, the local base
//! image (no registry here), the test profile on it, and running the dockgen binary.

use std::path::Path;
use std::process::{Command, Output};

use url::Url;

use super::fixture_index::{FixtureFile, FixtureIndex};
use super::wheels::WheelSpec;

/// The base image `scripts/base-image.sh` makes; every test build starts FROM it.
pub const BASE_IMAGE: &str = "dockgen-test/bookworm-python:3.11";

/// The arm64 base image, made by `scripts/base-image.sh ARM64_BASE_IMAGE arm64`.
pub const ARM64_BASE_IMAGE: &str = "dockgen-test/bookworm-python:3.11-arm64";

/// The name of the profile [`profile_yaml`] writes.
pub const PROFILE: &str = "app-test";

/// Whether the engine at DOCKER_HOST (through the docker CLI) answers.
pub fn engine_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// For a test that builds on the engine: `false`, with a note that the test is
/// skipped, when no engine answers; else [`BASE_IMAGE`] is made if missing.
pub fn engine_with_base_image() -> bool {
    if !engine_answers() {
        eprintln!("skipped: no Docker engine answers");
        return false;
    }
    ensure_base_image();
    true
}

/// Makes [`BASE_IMAGE`] when it is missing (once per test process).
pub fn ensure_base_image() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| make_base_image(&[BASE_IMAGE]));
}

/// Makes [`ARM64_BASE_IMAGE`] when it is missing (once per test process).
pub fn ensure_arm64_base_image() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| make_base_image(&[ARM64_BASE_IMAGE, "arm64"]));
}

fn make_base_image(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/base-image.sh");
    let status = Command::new("bash")
        .arg(script)
        .args(args)
        .status()
        .expect("run scripts/base-image.sh");
    assert!(status.success(), "scripts/base-image.sh {args:?} failed");
}

/// A pure-Python wheel pip installs, whose module reports its version.
pub fn wheel(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    FixtureFile::from_spec(&wheel_spec(name, version, requires))
}

/// The spec of [`wheel`], to change before building. Its bytes are new on every test
/// run, so that no build cache on the machine holds the wheel yet.
pub fn wheel_spec(name: &str, version: &str, requires: &[&str]) -> WheelSpec {
    let mut spec = WheelSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    spec.files = vec![(
        format!("{name}/__init__.py"),
        format!(
            "__version__ = \"{version}\"\n# test run {:016x}\n",
            fastrand::u64(..)
        )
        .into_bytes(),
    )];
    spec
}

/// `app-test.yaml`: cpu-x86_64 with both images [`BASE_IMAGE`], packages from the
/// loopback index `index` (named `fixture`), and these checks (`(name, expression)`).
pub fn profile_yaml(index: &Url, imports: &[&str], assertions: &[(&str, &str)]) -> String {
    let mut yaml = format!(
        "name: {PROFILE}\nextends: cpu-x86_64\npython: 3.11.2\nindexes:\n  - name: fixture\n    url: {index}\nimages:\n  builder:\n    image: {BASE_IMAGE}\n    system_packages: []\n  runtime:\n    image: {BASE_IMAGE}\n    system_packages: []\nverify:\n  imports: [{}]\n  assertions:\n",
        imports.join(", ")
    );
    for (name, check) in assertions {
        yaml.push_str(&format!("    - name: {name}\n      check: {check}\n"));
    }
    yaml
}

/// A temp project: `app-test.yaml` on `index` with these checks, `requirements.in`
/// asking for alpha, and a cache directory of its own.
pub fn project(
    index: &FixtureIndex,
    assertions: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    std::fs::write(
        dir.path().join("app-test.yaml"),
        profile_yaml(&index.url(), &["alpha"], assertions),
    )
    .expect("profile");
    std::fs::write(dir.path().join("requirements.in"), "alpha\n").expect("requirements");
    (dir, cache)
}

/// The dockgen binary, run in `dir` with its cache in `cache`.
pub fn dockgen_command(dir: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockgen"));
    command
        .current_dir(dir)
        .env("DOCKGEN_CACHE_DIR", cache)
        .args(args);
    command
}

pub fn dockgen(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    dockgen_command(dir, cache, args)
        .output()
        .expect("run dockgen")
}

/// The stderr of a dockgen run that must have succeeded.
pub fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "dockgen failed ({}):\n{stderr}",
        output.status
    );
    stderr
}

/// `artifacts/app-test/build-report.json`.
pub fn build_report(dir: &Path) -> serde_json::Value {
    build_report_of(dir, PROFILE)
}

/// `artifacts/<profile>/build-report.json`.
pub fn build_report_of(dir: &Path, profile: &str) -> serde_json::Value {
    let path = dir
        .join("artifacts")
        .join(profile)
        .join("build-report.json");
    let text = std::fs::read_to_string(path).expect("build report");
    serde_json::from_str(&text).expect("report is JSON")
}

/// A build report's checks, one `<status> <name>` line each.
pub fn check_statuses(report: &serde_json::Value) -> String {
    let statuses: Vec<String> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["status"].as_str().unwrap_or("?"),
                c["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    statuses.join("\n")
}

/// Whether the engine has an image called `reference`.
pub fn image_exists(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn remove_image(reference: &str) {
    let _ = Command::new("docker")
        .args(["rmi", "-f", reference])
        .output();
}

/// 16 random hex digits: tags, tokens and markers no other run shares.
pub fn nonce() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// An image tag of this test run, removed (with its image) when dropped, pass or fail.
pub struct Tag(pub String);

impl Tag {
    pub fn new(repository: &str) -> Self {
        Tag(format!("dockgen-test/{repository}:{}", nonce()))
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        remove_image(&self.0);
    }
}
