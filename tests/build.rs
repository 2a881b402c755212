//! `dockgen build` end to end on the real Docker engine: lock against a loopback index,
//! build on the locally made base image (no registry here), verify, export, report;
//! then change one requirement and rebuild: one file is fetched, unchanged stages are
//! cached.
//!
//! Needs the Docker engine and the base image `scripts/base-image.sh` makes (the test
//! makes it when it is missing). Skipped, with the reason printed, when no engine answers.

use std::path::Path;

use crate::support::docker::{
    build_report, check_statuses, dockgen, engine_with_base_image, ok, profile_yaml, wheel,
};
use crate::support::fixture_index::FixtureIndex;
use crate::support::git::Repo;

/// `dockgen lock` then `dockgen build --tag TAG` of `app-test.yaml`, both successful.
fn lock_and_build(dir: &Path, cache: &Path, tag: &str) {
    ok(dockgen(
        dir,
        cache,
        &["lock", "--profile", "app-test.yaml", "-q"],
    ));
    ok(dockgen(
        dir,
        cache,
        &[
            "build",
            "--profile",
            "app-test.yaml",
            "--progress",
            "plain",
            "--tag",
            tag,
        ],
    ));
}

#[test]
fn build_verifies_exports_and_rebuilds_only_what_changed() {
    if !engine_with_base_image() {
        return;
    }
    let index = FixtureIndex::builder()
        .project("alpha", vec![wheel("alpha", "1.0", &["beta>=1"])])
        .project("beta", vec![wheel("beta", "1.2", &[])])
        .project("gamma", vec![wheel("gamma", "0.3", &[])])
        .start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    std::fs::write(
        dir.path().join("app-test.yaml"),
        profile_yaml(
            &index.url(),
            &["alpha"],
            &[("alpha-is-1.0", "alpha.__version__ == \"1.0\"")],
        ),
    )
    .expect("profile");
    std::fs::write(dir.path().join("requirements.in"), "alpha\n").expect("requirements");
    let image = crate::support::docker::Tag::new("app");
    let tag = image.0.clone();

    lock_and_build(dir.path(), &cache, &tag);
    let first = build_report(dir.path());
    assert!(
        first["image_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "{first:#}"
    );
    assert_eq!(first["lock_matches_image"], true);
    assert_eq!(first["delivery"], "served");
    assert_eq!(first["packages"]["downloaded"], 2);
    assert_eq!(first["served_files"], 2, "{first:#}");
    insta::assert_snapshot!(check_statuses(&first), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:alpha
    passed import:beta
    passed alpha-is-1.0
    ");
    let frozen = std::fs::read_to_string(dir.path().join("artifacts/app-test/frozen_deps.txt"))
        .expect("frozen deps");
    assert_eq!(frozen, "alpha==1.0\nbeta==1.2\n");

    // One requirement more: one file downloaded on the host, one served to the build
    // (the others come from its cache mount), the runtime base cached, and a context
    // without packages.
    std::fs::write(dir.path().join("requirements.in"), "alpha\ngamma\n").expect("requirements");
    ok(dockgen(
        dir.path(),
        &cache,
        &["lock", "--profile", "app-test.yaml", "-q"],
    ));
    ok(dockgen(
        dir.path(),
        &cache,
        &[
            "build",
            "--profile",
            "app-test.yaml",
            "--progress",
            "quiet",
            "--tag",
            &tag,
        ],
    ));
    let second = build_report(dir.path());
    assert_eq!(second["packages"]["downloaded"], 1, "{second:#}");
    assert_eq!(second["served_files"], 1, "{second:#}");
    assert!(
        second["context_bytes"]
            .as_u64()
            .is_some_and(|b| b < 200_000),
        "{second:#}"
    );
    assert_eq!(second["lock_matches_image"], true);
    // The report's stages come from the export build. The only step of runtime-base
    // here is its FROM, which BuildKit shares with the wheel-builder's (the same image)
    // and reports under either stage, cached or not depending on whether a build
    // running at the same time resolved the image first. Every stage up to the install
    // keeps the steps that do not read the lock (the venvs, the user); the
    // wheel-builder has none (builder-base makes its venv).
    let stages = second["stages"].as_array().expect("stages");
    let stage = |name: &str| {
        stages
            .iter()
            .find(|s| s["stage"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no stage {name}: {second:#}"))
    };
    if let Some(base) = stages.iter().find(|s| s["stage"] == "runtime-base") {
        let ran = base["steps"].as_u64().unwrap_or(0) - base["cached"].as_u64().unwrap_or(0);
        assert!(ran <= 1, "runtime-base rebuilt: {second:#}");
    }
    for name in ["resolver", "builder-base", "final"] {
        assert!(
            stage(name)["cached"].as_u64().unwrap_or(0) >= 1,
            "{name} reused nothing: {second:#}"
        );
    }
    // The new package got an install step of its own after the kept one, the only
    // step of the final stage that ran. The verify
    // imported gamma again, and alpha because the profile asks for it; beta was
    // imported by the build that installed it, and does not require gamma.
    let final_stage = stage("final");
    assert_eq!(
        final_stage["steps"].as_u64().unwrap_or(0) - final_stage["cached"].as_u64().unwrap_or(0),
        1,
        "{second:#}"
    );
    let steps: Vec<String> = second["install_steps"]
        .as_array()
        .expect("install steps")
        .iter()
        .map(|s| format!("{} g{} {}", s["name"], s["generation"], s["installs"]))
        .collect();
    assert_eq!(
        steps,
        [r#""rest" g0 ["alpha","beta"]"#, r#""rest-1" g1 ["gamma"]"#],
        "{second:#}"
    );
    insta::assert_snapshot!(check_statuses(&second), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:alpha
    skipped import:beta
    passed import:gamma
    passed alpha-is-1.0
    ");

    // A check that fails: exit 1, naming it; the report says which; no image. (With
    // the packages in the context this time, the other way they reach a build.)
    let profile = std::fs::read_to_string(dir.path().join("app-test.yaml")).expect("profile");
    std::fs::write(
        dir.path().join("app-test.yaml"),
        profile.replace(
            "alpha.__version__ == \"1.0\"",
            "alpha.__version__ == \"2.0\"",
        ),
    )
    .expect("profile");
    let failed = dockgen(
        dir.path(),
        &cache,
        &[
            "build",
            "--profile",
            "app-test.yaml",
            "--progress",
            "quiet",
            "--delivery",
            "context",
            "--tag",
            &tag,
        ],
    );
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("verification failed") && stderr.contains("alpha-is-1.0"),
        "{stderr}"
    );
    let third = build_report(dir.path());
    assert_eq!(third["image_id"], serde_json::Value::Null, "{third:#}");
    assert_eq!(third["delivery"], "context");
    assert_eq!(third["served_files"], 0);
    assert!(dir.path().join("build/app-test/wheels").is_dir());
    let failed_checks: Vec<&str> = third["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "failed")
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(failed_checks, vec!["alpha-is-1.0"]);
}

/// A lock with direct references builds like any other: a wheel by `file://` URL and
/// hash, and a git commit whose project has a static `pyproject.toml` and an in-tree
/// build backend. The host puts the wheel and the commit (exported as
/// `gitpkg-1.0.tar.gz`) into the package store, the build installs both from the
/// served files by hash (the wheel-builder builds the export like any sdist), and the
/// image imports both.
#[test]
fn build_installs_direct_archives_and_git_pins() {
    if !engine_with_base_image() {
        return;
    }
    let index = FixtureIndex::builder().start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let local = wheel("localwheel", "0.1", &[]);
    std::fs::write(dir.path().join(&local.filename), &local.bytes).expect("wheel");
    let wheel_url = url::Url::from_file_path(dir.path().join(&local.filename)).expect("url");
    let repo = Repo::init(&dir.path().join("repos/gitpkg"));
    let mut files = crate::vcs::project("", "gitpkg", "1.0", &[]);
    // New bytes on every run: no build cache on the machine holds this commit yet.
    files.push(("run.txt".into(), format!("{:016x}\n", fastrand::u64(..))));
    repo.commit("1.0", &files);
    std::fs::write(
        dir.path().join("app-test.yaml"),
        profile_yaml(
            &index.url(),
            &["localwheel", "gitpkg"],
            &[("gitpkg-is-1.0", "gitpkg.__version__ == \"1.0\"")],
        ),
    )
    .expect("profile");
    std::fs::write(
        dir.path().join("requirements.in"),
        format!(
            "localwheel @ {wheel_url}\ngitpkg @ git+file://localhost{}/repos/gitpkg\n",
            dir.path().display()
        ),
    )
    .expect("requirements");
    let image = crate::support::docker::Tag::new("direct");
    let tag = image.0.clone();

    lock_and_build(dir.path(), &cache, &tag);
    let report = build_report(dir.path());
    assert_eq!(report["lock_matches_image"], true, "{report:#}");
    assert_eq!(report["served_files"], 2, "{report:#}");
    // The wheel was fetched into the store; the commit was exported, not downloaded.
    assert_eq!(report["packages"]["files"], 2, "{report:#}");
    assert_eq!(report["packages"]["downloaded"], 1, "{report:#}");
    insta::assert_snapshot!(check_statuses(&report), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:gitpkg
    passed import:localwheel
    passed gitpkg-is-1.0
    ");
    let frozen = std::fs::read_to_string(dir.path().join("artifacts/app-test/frozen_deps.txt"))
        .expect("frozen deps");
    assert_eq!(frozen, "gitpkg==1.0\nlocalwheel==0.1\n");
    let packages = std::fs::read_to_string(dir.path().join("build/app-test/dockgen/packages.txt"))
        .expect("packages.txt");
    assert!(packages.contains("  gitpkg-1.0.tar.gz\n"), "{packages}");
    assert!(
        packages.contains("  localwheel-0.1-py3-none-any.whl\n"),
        "{packages}"
    );
}

/// A local project directory builds like a git pin: the host exports it as
/// `dirpkg-1.0.tar.gz` into the package store (without its virtual environment and
/// bytecode), the wheel-builder builds the export like any sdist, the image imports it.
#[test]
fn build_installs_a_local_directory() {
    if !engine_with_base_image() {
        return;
    }
    let index = FixtureIndex::builder().start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let mut files = crate::vcs::project("", "dirpkg", "1.0", &[]);
    // New bytes on every run: no build cache on the machine holds this export yet.
    files.push(("run.txt".into(), format!("{:016x}\n", fastrand::u64(..))));
    files.push((".venv/pyvenv.cfg".into(), "home = /usr/bin\n".into()));
    files.push(("dirpkg/__pycache__/x.pyc".into(), "junk".into()));
    for (path, content) in &files {
        let path = dir.path().join("projects/dirpkg").join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, content).expect("file");
    }
    std::fs::write(
        dir.path().join("app-test.yaml"),
        profile_yaml(
            &index.url(),
            &["dirpkg"],
            &[("dirpkg-is-1.0", "dirpkg.__version__ == \"1.0\"")],
        ),
    )
    .expect("profile");
    std::fs::write(
        dir.path().join("requirements.in"),
        "dirpkg @ ./projects/dirpkg\n",
    )
    .expect("requirements");
    let image = crate::support::docker::Tag::new("directory");
    let tag = image.0.clone();

    lock_and_build(dir.path(), &cache, &tag);
    let report = build_report(dir.path());
    assert_eq!(report["lock_matches_image"], true, "{report:#}");
    assert_eq!(report["packages"]["downloaded"], 0, "{report:#}");
    insta::assert_snapshot!(check_statuses(&report), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:dirpkg
    passed dirpkg-is-1.0
    ");
    let packages = std::fs::read_to_string(dir.path().join("build/app-test/dockgen/packages.txt"))
        .expect("packages.txt");
    assert!(packages.contains("  dirpkg-1.0.tar.gz\n"), "{packages}");
}
