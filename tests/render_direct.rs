//! `dockgen render` of a lock with direct references: an archive pin (a local wheel)
//! and a git pin (a commit of a repository made in the test, with fixed dates, so its
//! id and its exported archive are the same in every run). With `--wheelhouse` both
//! reach `wheels/` from the package store and the lock the build reads pins them by
//! version and hash; a render that fetches from indexes refuses them. The plan's
//! files are snapshotted whole.

use std::io::Read;
use std::path::Path;

use crate::direct::{LOCK, dockgen, profile, text};
use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::git::Repo;
use crate::support::wheels::WheelSpec;
use crate::vcs::project;

const RENDER: &[&str] = &["render", "--profile", "cpu-test.yaml", "--wheelhouse"];

/// A scratch directory with a locked `requirements.in` of `localwheel @ file://...`,
/// `gitpkg @ git+file://...@v1.0` and `subpkg` in the `py/` subdirectory of its
/// repository, and `remotewheel @ http://...` by hash; the index serves `six`
/// (gitpkg's dependency) and the remote wheel's file.
fn locked() -> (FixtureIndex, tempfile::TempDir) {
    let mut six = WheelSpec::new("six", "1.16.0");
    six.files = vec![("six.py".into(), b"X = 1\n".to_vec())];
    let mut remote = WheelSpec::new("remotewheel", "2.0");
    remote.files = vec![("remotewheel.py".into(), b"X = 2\n".to_vec())];
    // The index serves the remote wheel's file too, under a project nobody requires.
    let index = FixtureIndex::builder()
        .project(
            "six",
            vec![FixtureFile::from_spec(&six).uploaded("2024-06-01T00:00:00Z")],
        )
        .project("hosted", vec![FixtureFile::from_spec(&remote)])
        .start();
    let remote = FixtureFile::from_spec(&remote);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    profile(dir, &index);
    let gitpkg = Repo::init(&dir.join("repos/gitpkg"));
    gitpkg.commit("1.0", &project("", "gitpkg", "1.0", &["six>=1.10"]));
    gitpkg.tag("v1.0");
    let subpkg = Repo::init(&dir.join("repos/subpkg"));
    subpkg.commit("0.5", &project("py/", "subpkg", "0.5", &[]));
    let mut local = WheelSpec::new("localwheel", "0.1");
    local.files = vec![(
        "localwheel/__init__.py".into(),
        b"__version__ = \"0.1\"\n".to_vec(),
    )];
    let local = FixtureFile::from_spec(&local);
    std::fs::write(dir.join(&local.filename), &local.bytes).unwrap();
    let wheel_url = url::Url::from_file_path(dir.join(&local.filename)).unwrap();
    std::fs::write(
        dir.join("requirements.in"),
        format!(
            "localwheel @ {wheel_url}\ngitpkg @ git+file://localhost{0}/repos/gitpkg@v1.0\n\
             subpkg @ git+file://localhost{0}/repos/subpkg#subdirectory=py\n\
             remotewheel @ {1} --hash=sha256:{2}\n",
            dir.display(),
            index.file_url(&remote.filename),
            remote.sha256(),
        ),
    )
    .unwrap();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    (index, tmp)
}

fn redact(text: &str, dir: &Path, index: &FixtureIndex) -> String {
    let text = text.replace(&dir.display().to_string(), "[tmp]");
    crate::support::redact_digest(
        &text.replace(index.base().trim_start_matches("http://"), "[index]"),
    )
}

/// `sha256  name` of every file in the plan's `wheels/`, sorted.
pub(crate) fn wheel_digests(plan: &Path) -> Vec<String> {
    let mut wheels: Vec<String> = std::fs::read_dir(plan.join("wheels"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            format!(
                "{}  {}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                path.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    wheels.sort();
    wheels
}

/// The entries of the `.tar.gz` at `path`, with their modes.
pub(crate) fn tar_entries(path: &Path) -> Vec<String> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            format!(
                "{:o} {}",
                entry.header().mode().unwrap(),
                entry.path().unwrap().display()
            )
        })
        .collect()
}

#[test]
fn direct_pins_render_from_the_package_store() {
    let (index, tmp) = locked();
    let dir = tmp.path();

    // From indexes, inside the build: no index has these files.
    let output = dockgen(dir, &["render", "--profile", "cpu-test.yaml"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let refused = redact(&text(&output.stderr), dir, &index);
    assert!(!dir.join("build").exists());

    let output = dockgen(dir, RENDER, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan = dir.join("build/cpu-test");
    let wheels = wheel_digests(&plan);
    // The lock holds the scratch directory's path: so does its digest.
    let lock = std::fs::read(dir.join("locks/cpu-test.txt")).unwrap();
    let lock_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&lock));
    let read = |name: &str| {
        let text = std::fs::read_to_string(plan.join(name)).unwrap();
        redact(&text, dir, &index).replace(&lock_sha256, "[lock sha256]")
    };
    insta::assert_snapshot!(
        "direct_pins",
        format!(
            "--- render (indexes):\n{refused}\n--- wheels/:\n{}\n\n--- requirements.lock:\n{}\n\
             --- wheels/gitpkg-1.0.tar.gz:\n{}\n\n--- wheels/subpkg-0.5.tar.gz:\n{}\n\n\
             --- Dockerfile:\n{}",
            wheels.join("\n"),
            read("requirements.lock"),
            tar_entries(&plan.join("wheels/gitpkg-1.0.tar.gz")).join("\n"),
            tar_entries(&plan.join("wheels/subpkg-0.5.tar.gz")).join("\n"),
            read("Dockerfile"),
        )
    );

    // The export is the same bytes every time: the plan is up to date.
    let output = dockgen(dir, &[RENDER, &["--check"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}
