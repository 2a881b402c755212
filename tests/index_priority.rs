//! Index priority and dates as uv does them, end to end against loopback indexes: the
//! input's `--extra-index-url` before the profile's indexes, `--index-strategy`, the
//! no-solution report naming the indexes asked and not asked, and a bare
//! `--exclude-newer` date keeping its whole day.

use std::path::Path;
use std::process::Command;

use crate::support::fixture_index::{Api, FixtureFile, FixtureIndex};
use crate::support::wheels::WheelSpec;

/// A pure-Python wheel with deterministic bytes (stable hashes in snapshots).
fn pure(name: &str, version: &str, uploaded: &str) -> FixtureFile {
    FixtureFile::from_spec(&WheelSpec::new(name, version)).uploaded(uploaded)
}

const OLD: &str = "2024-06-01T00:00:00Z";

struct Run {
    code: i32,
    stderr: String,
}

/// A temp dir with a profile `two.yaml` (the built-in `cpu-x86_64` with its general
/// index replaced by the fixture `pypi`), and the fixtures' addresses to redact.
struct Project {
    dir: tempfile::TempDir,
    labels: Vec<(String, String)>,
}

impl Project {
    fn new(pypi: &FixtureIndex, extra_yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("two.yaml"),
            format!(
                "name: two\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: {}\n{extra_yaml}",
                pypi.url()
            ),
        )
        .expect("write profile");
        let mut project = Self {
            dir,
            labels: Vec::new(),
        };
        project.label(pypi, "pypi");
        project
    }

    fn label(&mut self, fixture: &FixtureIndex, label: &str) {
        let addr = fixture.base().trim_start_matches("http://").to_string();
        self.labels.push((addr, format!("[{label}]")));
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn input(&self, text: &str) {
        std::fs::write(self.path().join("requirements.in"), text).expect("write input");
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (addr, label) in &self.labels {
            text = text.replace(addr, label);
        }
        crate::support::redact_digest(&text.replace(&self.path().display().to_string(), "[tmp]"))
    }

    fn lock_text(&self) -> String {
        let text = std::fs::read_to_string(self.path().join("locks/two.txt")).expect("lock");
        self.redact(&text)
    }

    fn dockgen(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dockgen"));
        command
            .current_dir(self.path())
            .args(args)
            .env("NETRC", self.path().join("no-netrc"))
            .env_remove("XDG_CACHE_HOME");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOCKGEN_") {
                command.env_remove(key);
            }
        }
        command.env("DOCKGEN_CACHE_DIR", self.path().join("cache"));
        let output = command.output().expect("run dockgen");
        Run {
            code: output.status.code().unwrap_or(-1),
            stderr: self.redact(&String::from_utf8_lossy(&output.stderr)),
        }
    }

    fn lock(&self, extra: &[&str]) -> String {
        let mut args = vec!["lock", "--profile", "two.yaml", "-q"];
        args.extend(extra);
        let run = self.dockgen(&args);
        assert_eq!(run.code, 0, "dockgen {args:?} failed:\n{}", run.stderr);
        self.lock_text()
    }
}

fn pin(lock: &str, name: &str) -> String {
    lock.lines()
        .find(|l| l.starts_with(&format!("{name}==")))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// `pypi` (the profile's index) has demo 1.0 and 2.0; the input's extra index has
/// demo 0.5 and 1.0 (its own build of 1.0).
fn two_indexes() -> (FixtureIndex, FixtureIndex) {
    let pypi = FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "demo",
            vec![pure("demo", "1.0", OLD), pure("demo", "2.0", OLD)],
        )
        .start();
    let mut own = WheelSpec::new("demo", "1.0");
    own.files = vec![("demo/own.py".into(), b"OWN = True\n".to_vec())];
    let extra = FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "demo",
            vec![
                pure("demo", "0.5", OLD),
                FixtureFile::from_spec(&own).uploaded(OLD),
            ],
        )
        .start();
    (pypi, extra)
}

fn project_with_extra(pypi: &FixtureIndex, extra: &FixtureIndex, requirement: &str) -> Project {
    let mut project = Project::new(pypi, "");
    project.label(extra, "extra");
    project.input(&format!(
        "--extra-index-url {}\n{requirement}\n",
        extra.url()
    ));
    project
}

#[test]
fn extra_index_url_ranks_before_the_profile_index() {
    let (pypi, extra) = two_indexes();
    let project = project_with_extra(&pypi, &extra, "demo");
    let lock = project.lock(&[]);
    // The extra index has the project, so its newest version (its own 1.0) wins;
    // `pypi` is never asked for it, though it has 2.0.
    assert_eq!(pin(&lock, "demo"), "demo==1.0");
    assert!(
        pypi.request_lines().iter().all(|l| !l.contains("/demo/")),
        "{:?}",
        pypi.request_lines()
    );
    insta::assert_snapshot!(lock);
    // The audit views look the lock's packages up as `lock` ranked the indexes.
    let check = project.dockgen(&["check", "--profile", "two.yaml"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
}

#[test]
fn unsafe_best_match_takes_the_highest_version_of_every_index() {
    let (pypi, extra) = two_indexes();
    let project = project_with_extra(&pypi, &extra, "demo");
    let lock = project.lock(&["--index-strategy", "unsafe-best-match"]);
    assert_eq!(pin(&lock, "demo"), "demo==2.0");
    insta::assert_snapshot!(lock);
    let check = project.dockgen(&["check", "--profile", "two.yaml"]);
    assert_eq!(check.code, 0, "{}", check.stderr);

    // A version both indexes list comes from the first (the extra index's own build).
    let project = project_with_extra(&pypi, &extra, "demo<2");
    let lock = project.lock(&["--index-strategy", "unsafe-best-match"]);
    let own = FixtureFile::from_spec(&{
        let mut own = WheelSpec::new("demo", "1.0");
        own.files = vec![("demo/own.py".into(), b"OWN = True\n".to_vec())];
        own
    });
    assert_eq!(pin(&lock, "demo"), "demo==1.0");
    assert!(lock.contains(&own.sha256()), "{lock}");

    // The default is first-index, and it is not written to the header.
    let first = project.lock(&["--index-strategy", "first-index", "--upgrade"]);
    assert!(!first.contains("--index-strategy"), "{first}");
}

#[test]
fn unsafe_first_match_tries_the_first_index_versions_before_the_next() {
    let (pypi, extra) = two_indexes();
    let strategy = ["--index-strategy", "unsafe-first-match"];
    let own = FixtureFile::from_spec(&{
        let mut own = WheelSpec::new("demo", "1.0");
        own.files = vec![("demo/own.py".into(), b"OWN = True\n".to_vec())];
        own
    });
    let project = project_with_extra(&pypi, &extra, "demo");
    let lock = project.lock(&strategy);
    assert_eq!(pin(&lock, "demo"), "demo==1.0");
    assert!(lock.contains(&own.sha256()), "{lock}");
    assert!(
        lock.contains("--index-strategy unsafe-first-match\n"),
        "{lock}"
    );
    // Nothing on the first index fits: the next one's versions are tried.
    let project = project_with_extra(&pypi, &extra, "demo>1");
    let lock = project.lock(&strategy);
    assert_eq!(pin(&lock, "demo"), "demo==2.0");
}

#[test]
fn no_solution_names_the_indexes_that_had_the_package_and_those_not_asked() {
    let (pypi, extra) = two_indexes();
    let project = project_with_extra(&pypi, &extra, "demo==2.0");
    let run = project.dockgen(&["lock", "--profile", "two.yaml", "-q"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(run.stderr);
    assert!(!project.path().join("locks/two.txt").exists());

    // Every index asked: the report says what each had.
    let run = project.dockgen(&[
        "lock",
        "--profile",
        "two.yaml",
        "-q",
        "--index-strategy",
        "unsafe-best-match",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let project = project_with_extra(&pypi, &extra, "demo==3.0");
    let run = project.dockgen(&[
        "lock",
        "--profile",
        "two.yaml",
        "-q",
        "--index-strategy",
        "unsafe-best-match",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("no_solution_best_match", run.stderr);
}

#[test]
fn an_index_whose_files_the_target_cannot_use_still_has_the_project() {
    // The extra index has `demo` for Windows only, and `pypi` a wheel the target can
    // install: first-index still takes `demo` from the extra index (the target's files
    // are left out of what is kept, not of which index has the project), so there is
    // no solution, and the report counts the files left out.
    let mut windows = WheelSpec::new("demo", "1.0");
    windows.tags = "cp311-cp311-win_amd64".into();
    let mut old_python = WheelSpec::new("demo", "0.9");
    old_python.requires_python = Some("<3".into());
    let extra = FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "demo",
            vec![
                FixtureFile::from_spec(&windows).uploaded(OLD),
                FixtureFile::from_spec(&old_python).uploaded(OLD),
            ],
        )
        .start();
    let pypi = FixtureIndex::builder()
        .api(Api::Json)
        .project("demo", vec![pure("demo", "1.0", OLD)])
        .start();
    let project = project_with_extra(&pypi, &extra, "demo");
    let run = project.dockgen(&["lock", "--profile", "two.yaml", "-q"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(run.stderr);
    assert!(
        pypi.request_lines().iter().all(|l| !l.contains("/demo/")),
        "{:?}",
        pypi.request_lines()
    );
}

#[test]
fn a_pinned_index_keeps_its_packages_whatever_the_strategy() {
    let (pypi, extra) = two_indexes();
    let mut project = Project::new(&pypi, "");
    project.label(&extra, "extra");
    std::fs::write(
        project.path().join("two.yaml"),
        format!(
            "name: two\nextends: cpu-x86_64\nindexes:\n  - name: pypi\n    url: {}\n  - name: own\n    url: {}\n    packages: [demo]\n",
            pypi.url(),
            extra.url()
        ),
    )
    .unwrap();
    project.input("demo\n");
    for strategy in ["first-index", "unsafe-best-match"] {
        let lock = project.lock(&["--index-strategy", strategy, "--upgrade"]);
        assert_eq!(pin(&lock, "demo"), "demo==1.0", "{strategy}");
    }
}

/// demo uploaded the day before, during the day, at the next midnight and the next
/// morning (UTC).
fn dated() -> FixtureIndex {
    FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "demo",
            vec![
                pure("demo", "1.0", "2026-10-31T23:00:00Z"),
                pure("demo", "1.1", "2026-11-01T11:20:00Z"),
                pure("demo", "1.2", "2026-11-02T00:00:00Z"),
                pure("demo", "1.3", "2026-11-02T09:00:00Z"),
            ],
        )
        .start()
}

#[test]
fn a_bare_date_keeps_the_files_uploaded_during_that_day() {
    let pypi = dated();
    let project = Project::new(&pypi, "");
    project.input("demo\n");
    let lock = project.lock(&["--exclude-newer", "2026-11-01"]);
    assert_eq!(pin(&lock, "demo"), "demo==1.1");
    insta::assert_snapshot!(lock);

    // A timestamp is the instant it names; a file uploaded at it is newer (uv's rule).
    let lock = project.lock(&["--exclude-newer", "2026-11-01T11:20:00Z", "--upgrade"]);
    assert_eq!(pin(&lock, "demo"), "demo==1.0");
    let lock = project.lock(&["--exclude-newer", "2026-11-01T11:20:01Z", "--upgrade"]);
    assert_eq!(pin(&lock, "demo"), "demo==1.1");

    // The same in a profile's `exclude_newer`.
    let profile = Project::new(&pypi, "    exclude_newer: 2026-11-01\n");
    profile.input("demo\n");
    let lock = profile.lock(&[]);
    assert_eq!(pin(&lock, "demo"), "demo==1.1");
    assert!(
        lock.contains("# exclude-newer: pypi=2026-11-02T00:00:00Z\n"),
        "{lock}"
    );

    // A date that is no date is an input error.
    let run = project.dockgen(&[
        "lock",
        "--profile",
        "two.yaml",
        "--exclude-newer",
        "2026-11-31",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!("bad_date", run.stderr);
}
