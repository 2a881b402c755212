//! PEP 517 metadata builds end to end: sdists whose dependencies only a build can tell,
//! served by a loopback index together with a small real build backend (a wheel), built
//! by the real binary with the host's Python; the locks snapshotted whole. The backend
//! reads `meta.json` from the source tree: the package's name, version and
//! dependencies, modules its build imports, a failure to raise, seconds to sleep.
//! `sdists_from_pypi_lock_and_install_with_pip` builds real legacy setuptools sdists
//! from PyPI (`DOCKGEN_SKIP_PYPI_TESTS=1` skips it).

use std::path::Path;
use std::process::Output;

use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::wheels::{SdistSpec, WheelSpec};

/// A PEP 517 backend in one module. `prepare_metadata_for_build_wheel` writes the
/// `.dist-info`; `build_wheel` a wheel holding it.
const BACKEND: &str = r#"
import json, os, time, zipfile

def _meta():
    with open("meta.json") as f:
        meta = json.load(f)
    for module in meta.get("imports", []):
        __import__(module)
    if meta.get("sleep"):
        time.sleep(meta["sleep"])
    if meta.get("fail"):
        raise RuntimeError(meta["fail"])
    return meta

def _stem(meta):
    return "%s-%s" % (meta["name"].replace("-", "_"), meta["version"])

def _metadata(meta):
    lines = ["Metadata-Version: 2.1", "Name: " + meta["name"], "Version: " + meta["version"]]
    lines += ["Requires-Dist: " + r for r in meta.get("requires", [])]
    return "\n".join(lines) + "\n"

def get_requires_for_build_wheel(config_settings=None):
    with open("meta.json") as f:
        return json.load(f).get("build_requires", [])

def prepare_metadata_for_build_wheel(directory, config_settings=None):
    meta = _meta()
    dist_info = _stem(meta) + ".dist-info"
    os.makedirs(os.path.join(directory, dist_info))
    with open(os.path.join(directory, dist_info, "METADATA"), "w") as f:
        f.write(_metadata(meta))
    return dist_info

def build_wheel(directory, config_settings=None, metadata_directory=None):
    meta = _meta()
    name = _stem(meta) + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        wheel.writestr(_stem(meta) + ".dist-info/METADATA", _metadata(meta))
        wheel.writestr(_stem(meta) + ".dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(_stem(meta) + ".dist-info/RECORD", "")
    return name
"#;

/// An in-tree backend (`backend-path`) without `prepare_metadata_for_build_wheel`.
const IN_TREE: &str = "from tinybackend import build_wheel, get_requires_for_build_wheel\n";

fn wheel(name: &str, version: &str, requires: &[&str], files: &[(&str, &str)]) -> FixtureFile {
    let mut spec = WheelSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    spec.files = files
        .iter()
        .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
        .collect();
    FixtureFile::from_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

/// An sdist built by the fixture backend from `meta` (JSON fields besides name and
/// version); `pkg_info` false leaves PKG-INFO out, else it says `Dynamic: Requires-Dist`.
fn sdist(name: &str, version: &str, meta: &str, build_system: &str, pkg_info: bool) -> FixtureFile {
    let mut spec = SdistSpec::new(name, version);
    spec.pkg_info = pkg_info;
    spec.dynamic = vec!["Requires-Dist".into()];
    spec.pyproject = false;
    spec.files = vec![
        (
            "meta.json".into(),
            format!("{{\"name\": \"{name}\", \"version\": \"{version}\", {meta}}}").into_bytes(),
        ),
        ("pyproject.toml".into(), build_system.as_bytes().to_vec()),
        ("_backend/inline.py".into(), IN_TREE.as_bytes().to_vec()),
    ];
    FixtureFile::from_sdist_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

const TINY: &str =
    "[build-system]\nrequires = [\"tinybackend>=1\"]\nbuild-backend = \"tinybackend\"\n";
const INLINE: &str = "[build-system]\nrequires = [\"tinybackend\"]\nbuild-backend = \"inline\"\nbackend-path = [\"_backend\"]\n";

fn index() -> FixtureIndex {
    FixtureIndex::builder()
        .project(
            "tinybackend",
            vec![wheel("tinybackend", "1.0", &[], &[("tinybackend.py", BACKEND)])],
        )
        .project(
            "helper-pkg",
            vec![wheel("helper-pkg", "1.0", &[], &[("helpermod.py", "")])],
        )
        .project("dep", vec![wheel("dep", "1.0", &[], &[]), wheel("dep", "2.0", &[], &[])])
        .project("six", vec![wheel("six", "1.16.0", &[], &[])])
        .project(
            "dyn-a",
            vec![
                wheel("dyn-a", "0.9", &[], &[]),
                sdist("dyn-a", "1.0", r#""requires": ["dep<2", "six; python_version < '3'"]"#, TINY, true),
            ],
        )
        .project(
            "wheel-only",
            vec![sdist(
                "wheel-only",
                "3.0",
                r#""requires": ["six"], "build_requires": ["helper-pkg"], "imports": ["helpermod"]"#,
                INLINE,
                false,
            )],
        )
        .project(
            "needs-module",
            vec![sdist("needs-module", "1.0", r#""imports": ["helpermod"]"#, TINY, true)],
        )
        .project(
            "broken",
            vec![sdist("broken", "1.0", r#""fail": "no compiler for the extension""#, TINY, true)],
        )
        .project(
            "needs-setuptools",
            vec![sdist(
                "needs-setuptools",
                "1.0",
                r#""requires": []"#,
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n",
                true,
            )],
        )
        .project(
            "slow",
            vec![sdist("slow", "1.0", r#""sleep": 60"#, TINY, true)],
        )
        .start()
}

fn profile(dir: &Path, index: &FixtureIndex, extra: &str) {
    std::fs::write(
        dir.join("cpu-test.yaml"),
        format!(
            "name: cpu-test\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: {}\n{extra}",
            index.url()
        ),
    )
    .unwrap();
}

/// `dockgen lock` of the test's input for its profile, quiet.
fn lock_command(dir: &Path) -> std::process::Command {
    let mut command = crate::support::dockgen_command(dir);
    command.args([
        "lock",
        "requirements.in",
        "--profile",
        "cpu-test.yaml",
        "-q",
    ]);
    command
}

fn dockgen(dir: &Path, args: &[&str]) -> Output {
    lock_command(dir).args(args).output().expect("run dockgen")
}

fn redact(text: &str, dir: &Path, index: &FixtureIndex) -> String {
    let text = text.replace(&dir.display().to_string(), "[tmp]");
    let text = text.replace(index.base().trim_start_matches("http://"), "[index]");
    // The host's Python (3.11.x here) varies by machine.
    crate::support::redact_digest(&text.replace(&crate::support::host_python(), "3.X.Y"))
}

/// The sdist and build-requirement downloads among the index's requests after the
/// first `skip`, sorted.
fn built_files(index: &FixtureIndex, skip: usize) -> Vec<String> {
    let mut lines: Vec<String> = index.requests()[skip..]
        .iter()
        .filter(|r| r.path.ends_with(".tar.gz") || r.path.contains("tinybackend-"))
        .map(|r| r.line())
        .collect();
    lines.sort();
    lines
}

/// Runs `lock` with `args`, which must succeed; the lock written.
fn locked(dir: &Path, args: &[&str]) -> String {
    let output = dockgen(dir, args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap()
}

/// Sdists with dynamic dependencies, one through `prepare_metadata_for_build_wheel`, one
/// through an in-tree backend that only has `build_wheel` and asks for a further build
/// requirement: both locked with what their builds say, by the sdists' hashes. A second
/// lock builds nothing and downloads no sdist or build requirement; `--offline` works.
#[test]
fn sdists_are_built_for_their_metadata_and_the_result_is_cached() {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index, "");
    std::fs::write(dir.join("requirements.in"), "dyn-a==1.0\nwheel-only\n").unwrap();
    let lock = locked(dir, &[]);
    insta::assert_snapshot!(redact(&lock, dir, &index));
    insta::assert_snapshot!("first_lock_downloads", built_files(&index, 0).join("\n"));

    // Relock from scratch (`--upgrade`), same cache: the builds are not run again.
    let before = index.requests().len();
    assert_eq!(locked(dir, &["--upgrade"]), lock);
    assert_eq!(built_files(&index, before), Vec::<String>::new());
    // And `--offline` locks from the cache alone, builds included.
    let before = index.requests().len();
    assert_eq!(locked(dir, &["--upgrade", "--offline"]), lock);
    assert_eq!(index.requests().len(), before);
}

/// The build's scratch space (unpacked sdists, environments) is removed when `lock`
/// ends, whether the build succeeded or failed.
#[test]
fn builds_leave_no_scratch_files() {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index, "");
    let scratch = dir.join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    for requirements in ["dyn-a==1.0\nwheel-only\n", "broken\n"] {
        std::fs::write(dir.join("requirements.in"), requirements).unwrap();
        let output = lock_command(dir).env("TMPDIR", &scratch).output().unwrap();
        assert_eq!(output.status.success(), !requirements.starts_with("broken"));
        assert_eq!(
            crate::support::walk(&scratch),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    }
}

/// What a user sees when a build cannot tell: a module the build imports but does not
/// declare (fixed by `extra_build_dependencies`), a failing backend, a hook past
/// `--build-timeout`, `--no-build`. Each exits 2 and leaves the lock as it was.
#[test]
fn failed_builds_name_the_sdist_the_backend_and_the_fix() {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index, "");
    std::fs::create_dir(dir.join("locks")).unwrap();
    std::fs::write(dir.join("locks/cpu-test.txt"), "# the user's lock\n").unwrap();
    let mut report = Vec::new();
    let mut attempt = |title: &str, requirements: &str, args: &[&str]| {
        std::fs::write(dir.join("requirements.in"), requirements).unwrap();
        let started = std::time::Instant::now();
        let output = dockgen(dir, args);
        assert!(started.elapsed().as_secs() < 40, "{title} took too long");
        assert_eq!(output.status.code(), Some(2), "{title}");
        assert_eq!(
            std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap(),
            "# the user's lock\n",
            "{title}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        report.push(format!("## {title}\n{}", redact(&stderr, dir, &index)));
    };
    attempt("an undeclared module", "needs-module\n", &[]);
    attempt("a failing backend", "broken\n", &[]);
    attempt(
        "a build requirement no index has",
        "needs-setuptools\n",
        &[],
    );
    attempt(
        "a hook past the timeout",
        "slow\n",
        &["--build-timeout", "1"],
    );
    attempt("--no-build", "dyn-a\n", &["--no-build"]);
    attempt(
        "--python that is no Python",
        "dyn-a\n",
        &["--python", "/bin/true"],
    );
    insta::assert_snapshot!(report.join("\n"));

    // The declared extra build dependency installs the module: the build succeeds.
    profile(
        dir,
        &index,
        "extra_build_dependencies:\n  needs-module: [helper-pkg]\n",
    );
    std::fs::write(dir.join("requirements.in"), "needs-module\n").unwrap();
    let lock = locked(dir, &[]);
    assert!(lock.lines().any(|l| l == "needs-module==1.0 \\"), "{lock}");
}

/// A direct reference to an sdist that needs a build is built like one from an index.
#[test]
fn a_direct_sdist_is_built() {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index, "");
    let file = sdist(
        "dyn-direct",
        "2.0",
        r#""requires": ["dep>=2"]"#,
        TINY,
        false,
    );
    std::fs::write(dir.join(&file.filename), &file.bytes).unwrap();
    std::fs::write(
        dir.join("requirements.in"),
        format!("dyn-direct @ ./{}\n", file.filename),
    )
    .unwrap();
    let lock = locked(dir, &[]);
    insta::assert_snapshot!(redact(&lock, dir, &index));
}

/// Real sdists from PyPI that only a build can tell (legacy `setup.py`, Metadata 1.x:
/// `docopt`, `antlr4-python3-runtime` (what `omegaconf` needs), `peewee`), built with
/// setuptools resolved from PyPI within the cut-off; the lock installs with real pip.
#[test]
fn sdists_from_pypi_lock_and_install_with_pip() {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("cpu-test.yaml"),
        "name: cpu-test\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: https://pypi.org/simple\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("requirements.in"),
        "docopt==0.6.2\nantlr4-python3-runtime==4.9.3\npeewee==3.17.9\n",
    )
    .unwrap();
    let lock = locked(dir, &["--exclude-newer", "2026-11-01T00:00:00Z"]);
    let lock_path = dir.join("locks/cpu-test.txt");
    insta::assert_snapshot!(crate::support::redact_digest(
        &lock.replace(&dir.display().to_string(), "[tmp]")
    ));
    let venv = dir.join("venv");
    let pip = crate::support::pip_install_lock(&venv, &lock_path);
    let installed =
        crate::support::run(std::process::Command::new(pip).args(["list", "--format=freeze"]));
    let mut names: Vec<&str> = installed
        .lines()
        .filter(|l| !l.starts_with("pip=") && !l.starts_with("setuptools="))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "antlr4-python3-runtime==4.9.3",
            "docopt==0.6.2",
            "peewee==3.17.9"
        ]
    );
}
