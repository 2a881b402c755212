//! Local project directories as direct references (`name @ ./path`,
//! `name @ file:///abs/path`): one with a static `[project]`, one whose dependencies
//! only its in-tree backend tells (a PEP 517 metadata build). Locked by absolute path
//! with no hash (the lock snapshotted whole, paths redacted), read back by `tree`,
//! `check` and the pylock, installed with real pip in the two steps the lock's header
//! describes, exported into the package store by `render --wheelhouse`.

use std::path::Path;
use std::process::Command;

use crate::direct::{LOCK, dockgen, profile, text};
use crate::render_direct::{tar_entries, wheel_digests};
use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::wheels::WheelSpec;
use crate::support::{pip_install_lock, run};
use crate::vcs::project;

fn index() -> FixtureIndex {
    let mut six = WheelSpec::new("six", "1.16.0");
    six.files = vec![("six.py".into(), b"X = 1\n".to_vec())];
    FixtureIndex::builder()
        .project(
            "six",
            vec![FixtureFile::from_spec(&six).uploaded("2024-06-01T00:00:00Z")],
        )
        .start()
}

fn write_files(root: &Path, files: &[(String, String)]) {
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// The index, and a scratch directory with the profile and two projects:
/// `projects/static-proj` (static `[project]`, requires six) and `projects/built`
/// (`built-proj`, `dynamic = ["dependencies"]`: its backend reads requirements.txt),
/// required as `static-proj @ ./projects/static-proj` and `built-proj @ file:///...`.
fn scratch() -> (FixtureIndex, tempfile::TempDir) {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    write_files(
        &dir.join("projects/static-proj"),
        &project("", "static-proj", "1.2", &["six>=1.10"]),
    );
    let mut built = project("", "built-proj", "0.3", &[]);
    built[0].1 = built[0]
        .1
        .replace("dependencies = []", "dynamic = [\"dependencies\"]");
    built.push(("requirements.txt".into(), "six>=1.10\n".into()));
    write_files(&dir.join("projects/built"), &built);
    // Clutter the export leaves out.
    write_files(
        &dir.join("projects/static-proj"),
        &[
            (".git/HEAD".into(), "ref: refs/heads/main\n".into()),
            ("static_proj/__pycache__/x.pyc".into(), "junk".into()),
            (".venv/pyvenv.cfg".into(), "home = /usr\n".into()),
        ],
    );
    std::fs::write(
        dir.join("requirements.in"),
        format!(
            "static-proj @ ./projects/static-proj\nbuilt-proj @ file://{}/projects/built\n",
            dir.display()
        ),
    )
    .unwrap();
    (index, tmp)
}

fn redact(text: &str, dir: &Path, index: &FixtureIndex) -> String {
    let text = text.replace(&dir.display().to_string(), "[tmp]");
    let text = text.replace(index.base().trim_start_matches("http://"), "[index]");
    crate::support::redact_digest(&text.replace(&crate::support::host_python(), "3.X.Y"))
}

/// Locked by absolute `file://` path with a `# version X (local directory)` line and
/// no hash; `--check` and `--offline` relocks are stable; the pylock has
/// `[packages.directory]`; `tree`, `check` (a `directory-pin` warning) and the SBOM
/// read the pins; real pip installs the lock as its header says (hashed pins by hash,
/// then the directories with `--no-deps`).
#[test]
fn local_directories_lock_and_install_with_pip() {
    let (index, tmp) = scratch();
    let dir = tmp.path();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(
        lock.contains(&format!(
            "static-proj @ file://{}/projects/static-proj\n    # version 1.2 (local directory)\n",
            dir.display()
        )),
        "{lock}"
    );
    insta::assert_snapshot!(redact(&lock, dir, &index));
    for args in [&["--check"][..], &["--offline", "--check"][..]] {
        let output = dockgen(dir, &[LOCK, args].concat(), &[]);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }

    // The pylock names the directories (PEP 751 `[packages.directory]`).
    let output = dockgen(dir, &[LOCK, &["--pylock"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let pylock = std::fs::read_to_string(dir.join("locks/pylock.cpu-test.toml")).unwrap();
    let table: toml::Table = pylock.parse().unwrap();
    let entry = table["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("built-proj"))
        .unwrap()
        .clone();
    assert_eq!(entry["version"].as_str(), Some("0.3"), "{pylock}");
    assert_eq!(
        entry["directory"]["path"].as_str(),
        Some(format!("{}/projects/built", dir.display()).as_str()),
        "{pylock}"
    );
    assert_eq!(entry["directory"]["editable"].as_bool(), Some(false));
    assert!(entry.get("archive").is_none(), "{pylock}");

    // The audit views read the pins back.
    let tree = dockgen(dir, &["tree", "--profile", "cpu-test.yaml"], &[]);
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    assert!(
        tree.contains("static-proj==1.2") && tree.contains("built-proj==0.3"),
        "{tree}"
    );
    let check = dockgen(dir, &["check", "--profile", "cpu-test.yaml"], &[]);
    let check_out = text(&check.stdout) + &text(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{check_out}");
    assert!(
        check_out.contains(&format!(
            "warning[directory-pin]: `static-proj` 1.2 is pinned by local directory \
             (`file://{}/projects/static-proj`): no file to hash-check, and the lock names \
             an absolute path",
            dir.display()
        )),
        "{check_out}"
    );
    let sbom = dockgen(dir, &["sbom", "--profile", "cpu-test.yaml"], &[]);
    assert!(sbom.status.success(), "{}", text(&sbom.stderr));
    let component = crate::support::sbom_component(&sbom.stdout, "built-proj");
    assert_eq!(component["externalReferences"][0]["type"], "other");
    assert_eq!(
        component["externalReferences"][0]["url"].as_str(),
        Some(format!("file://{}/projects/built", dir.display()).as_str())
    );

    // pip refuses unhashed pins beside hashed ones, as the header says: the hashed
    // pins by hash first, then the directories (built by their in-tree backend).
    let (trees, hashed): (Vec<&str>, Vec<&str>) = lock
        .split("\n\n")
        .partition(|block| block.lines().next().is_some_and(|l| l.contains(" @ file:")));
    assert_eq!(trees.len(), 2, "{lock}");
    std::fs::write(dir.join("hashed.txt"), hashed.join("\n\n")).unwrap();
    std::fs::write(dir.join("trees.txt"), trees.join("\n\n")).unwrap();
    let pip = pip_install_lock(&dir.join("venv"), &dir.join("hashed.txt"));
    run(Command::new(&pip)
        .args(["install", "--quiet", "--no-deps", "--no-index", "-r"])
        .arg(dir.join("trees.txt")));
    let version = run(Command::new(dir.join("venv/bin/python")).args([
        "-c",
        "import static_proj, built_proj, six; print(static_proj.__version__, \
         built_proj.__version__, six.X)",
    ]));
    assert_eq!(version.trim(), "1.2 0.3 1");

    // The directory's version moves on: `--check` finds the lock stale, and a plain
    // relock (no `--upgrade`) takes the new version, with nothing to fetch.
    let pyproject = dir.join("projects/static-proj/pyproject.toml");
    let before = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(&pyproject, before.replace("\"1.2\"", "\"1.3\"")).unwrap();
    let output = dockgen(dir, &[LOCK, &["--check"]].concat(), &[]);
    assert!(!output.status.success(), "{}", text(&output.stderr));
    let output = dockgen(dir, &[LOCK, &["--offline"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let relocked = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(
        relocked.contains("    # version 1.3 (local directory)\n"),
        "{relocked}"
    );
}

/// `render --wheelhouse` exports each directory into the package store as a
/// deterministic `name-VERSION.tar.gz` (without `.git/`, `__pycache__/` and the
/// virtual environment), which the rendered lock pins by hash; `--check` is stable.
#[test]
fn local_directories_render_from_the_package_store() {
    let (index, tmp) = scratch();
    let dir = tmp.path();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let render = ["render", "--profile", "cpu-test.yaml", "--wheelhouse"];
    let output = dockgen(dir, &render, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan = dir.join("build/cpu-test");
    let wheels = wheel_digests(&plan);
    let lock = std::fs::read(dir.join("locks/cpu-test.txt")).unwrap();
    let lock_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&lock));
    let read = |name: &str| {
        let text = std::fs::read_to_string(plan.join(name)).unwrap();
        redact(&text, dir, &index).replace(&lock_sha256, "[lock sha256]")
    };
    let entries = |name: &str| tar_entries(&plan.join("wheels").join(name)).join("\n");
    insta::assert_snapshot!(format!(
        "--- wheels/:\n{}\n\n--- requirements.lock:\n{}\n--- wheels/static_proj-1.2.tar.gz:\n{}\n\n\
         --- wheels/built_proj-0.3.tar.gz:\n{}\n\n--- Dockerfile:\n{}",
        wheels.join("\n"),
        read("requirements.lock"),
        entries("static_proj-1.2.tar.gz"),
        entries("built_proj-0.3.tar.gz"),
        read("Dockerfile"),
    ));
    let output = dockgen(dir, &[&render[..], &["--check"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    // A directory whose version changed since the lock: re-lock, says render.
    let pyproject = dir.join("projects/static-proj/pyproject.toml");
    let text_before = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(&pyproject, text_before.replace("\"1.2\"", "\"1.3\"")).unwrap();
    let output = dockgen(dir, &render, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("now says version 1.3, but the lock pins 1.2"),
        "{stderr}"
    );
}

/// Each failure exits 2, leaves the lock as it was, and says what to do.
#[test]
fn local_directory_errors() {
    let (index, tmp) = scratch();
    let dir = tmp.path();
    std::fs::write(dir.join("requirements.in"), "six\n").unwrap();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    std::fs::create_dir_all(dir.join("projects/looks.whl")).unwrap();
    let mut errors = Vec::new();
    for (label, input, args) in [
        ("missing directory", "gone @ ./projects/gone\n", &[][..]),
        ("name mismatch", "other @ ./projects/static-proj\n", &[][..]),
        (
            "a build under --no-build",
            "built-proj @ ./projects/built\n",
            &["--no-build"][..],
        ),
        (
            "a directory named like an archive",
            "looks @ ./projects/looks.whl\n",
            &[][..],
        ),
    ] {
        std::fs::write(dir.join("requirements.in"), input).unwrap();
        let output = dockgen(dir, &[LOCK, args].concat(), &[]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{label}: {stderr}");
        let now = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
        assert_eq!(now, lock, "{label}");
        errors.push(format!("--- {label}\n{}", redact(&stderr, dir, &index)));
    }
    insta::assert_snapshot!(errors.join("\n"));
}
