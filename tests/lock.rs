//! `dockgen lock` end to end: the real binary, run in temp dirs with its own cache,
//! against loopback fixture indexes only (never PyPI). Profiles are YAML files in the
//! temp dir that `extends:` a built-in and point `indexes:` at the fixtures. Whole lock
//! files, whole error messages and whole diffs are snapshotted, with the fixtures'
//! `127.0.0.1:PORT` and the temp dir replaced by stable placeholders.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::fixture_index::{Api, Auth, Builder, FixtureFile, FixtureIndex, HashMode};
use crate::support::wheels::WheelSpec;

/// A wheel built by the real wheel builder (deterministic bytes, so hashes are stable
/// in snapshots), with its METADATA also served as the PEP 658 sidecar.
fn wheel(name: &str, version: &str, tags: &str, requires: &[&str]) -> FixtureFile {
    let mut spec = WheelSpec::new(name, version);
    spec.tags = tags.to_string();
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    FixtureFile::from_spec(&spec)
}

/// A pure-Python wheel, as most of PyPI is.
fn pure(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    wheel(name, version, "py3-none-any", requires).uploaded("2024-06-01T00:00:00Z")
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// A scratch project: a temp dir holding the input, the profiles, the locks and the
/// cache, and the fixtures whose addresses are redacted from outputs.
struct Scratch {
    dir: tempfile::TempDir,
    placeholders: Vec<(String, String)>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            placeholders: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// Outputs will show `fixture`'s address as `[label]`.
    fn label(&mut self, fixture: &FixtureIndex, label: &str) {
        let addr = fixture.base().trim_start_matches("http://").to_string();
        self.placeholders.push((addr, format!("[{label}]")));
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(path, text).expect("write scratch file");
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative))
            .unwrap_or_else(|e| panic!("read `{relative}`: {e}"))
    }

    fn exists(&self, relative: &str) -> bool {
        self.path().join(relative).exists()
    }

    /// A profile file `name.yaml` extending `base`, with `extra` YAML lines, using
    /// `indexes` (`(name, url, pinned packages)`) in that order.
    fn profile(
        &self,
        name: &str,
        base: &str,
        extra: &str,
        indexes: &[(&str, &FixtureIndex, &[&str])],
    ) {
        let mut yaml = format!("name: {name}\nextends: {base}\n{extra}indexes:\n");
        for (index, fixture, packages) in indexes {
            yaml.push_str(&format!("  - name: {index}\n    url: {}\n", fixture.url()));
            if !packages.is_empty() {
                yaml.push_str(&format!("    packages: [{}]\n", packages.join(", ")));
            }
        }
        self.write(&format!("{name}.yaml"), &yaml);
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (addr, label) in &self.placeholders {
            text = text.replace(addr, label);
        }
        crate::support::redact_digest(&text.replace(&self.path().display().to_string(), "[tmp]"))
    }

    /// Runs `dockgen ARGS` in the scratch dir with its cache, an empty environment of
    /// `DOCKGEN_*` settings, no netrc, plus `env`.
    fn dockgen_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.dockgen_in(".", args, env)
    }

    /// [`Scratch::dockgen_env`], run in `dir` (relative to the scratch dir).
    fn dockgen_in(&self, dir: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = crate::support::dockgen_command(self.path());
        command.current_dir(self.path().join(dir)).args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let started = Instant::now();
        let output = command.output().expect("run dockgen");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    fn dockgen(&self, args: &[&str]) -> Run {
        self.dockgen_env(args, &[])
    }

    /// `dockgen ARGS`, which must succeed.
    fn lock(&self, args: &[&str]) -> Run {
        let run = self.dockgen(args);
        assert_eq!(
            run.code, 0,
            "dockgen {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }
}

/// `name==version` of every pin in a lock, one per line.
fn pins(lock: &str) -> String {
    lock.lines()
        .filter(|l| !l.starts_with([' ', '#', '-']) && l.contains("=="))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How often each path was requested, sorted: concurrency makes the order vary.
fn request_counts(fixture: &FixtureIndex) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for request in fixture.requests() {
        *counts
            .entry(format!(
                "{} {} -> {}",
                request.method, request.path, request.status
            ))
            .or_default() += 1;
    }
    counts
        .iter()
        .map(|(line, n)| format!("{n}x {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A PyPI-like JSON index with torch's dependencies and a plain (PyPI-style) torch.
fn pypi_with_torch_deps() -> FixtureIndex {
    FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "torch",
            vec![wheel(
                "torch",
                "2.5.1",
                "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
                &["filelock", "typing-extensions>=4.8.0"],
            )],
        )
        .project("filelock", vec![pure("filelock", "3.16.1", &[])])
        .project(
            "typing-extensions",
            vec![pure("typing_extensions", "4.12.2", &[])],
        )
        .start()
}

/// An HTML-only index like download.pytorch.org: no upload times, no sidecars.
fn pytorch_index(torch: FixtureFile) -> FixtureIndex {
    FixtureIndex::builder()
        .api(Api::Html)
        .sidecars(false)
        .cache_control("no-cache")
        .project("torch", vec![torch])
        .start()
}

fn torch_build(local: &str) -> FixtureFile {
    wheel(
        "torch",
        &format!("2.5.1+{local}"),
        "cp311-cp311-linux_x86_64",
        &["filelock", "typing-extensions>=4.8.0"],
    )
}

/// A scratch project locking `torch==2.5.1` for `cuda-test.yaml` (extends
/// `cuda12-x86_64`), torch pinned to `cuda`, the rest from `pypi`.
fn cuda_project(cuda: &FixtureIndex, pypi: &FixtureIndex) -> Scratch {
    let mut scratch = Scratch::new();
    scratch.label(cuda, "cuda-index");
    scratch.label(pypi, "pypi");
    scratch.profile(
        "cuda-test",
        "cuda12-x86_64",
        "",
        &[("pytorch-cu124", cuda, &["torch"]), ("pypi", pypi, &[])],
    );
    scratch.write("requirements.in", "torch==2.5.1\n");
    scratch
}

#[test]
fn cuda_torch_comes_from_the_pinned_index() {
    let cuda = pytorch_index(torch_build("cu124"));
    let pypi = pypi_with_torch_deps();
    let scratch = cuda_project(&cuda, &pypi);
    scratch.lock(&["lock", "--profile", "cuda-test.yaml"]);
    insta::assert_snapshot!(scratch.redact(&scratch.read("locks/cuda-test.txt")));
    // Pinning: PyPI's torch page is never even asked for.
    assert!(
        !pypi
            .request_lines()
            .iter()
            .any(|l| l.contains("/simple/torch/")),
        "{:#?}",
        pypi.request_lines()
    );
}

#[test]
fn cuda_profile_fails_closed_on_a_cpu_torch() {
    let cuda = pytorch_index(torch_build("cu124"));
    let pypi = pypi_with_torch_deps();
    let scratch = cuda_project(&cuda, &pypi);
    scratch.lock(&["lock", "--profile", "cuda-test.yaml"]);
    let good = scratch.read("locks/cuda-test.txt");

    // The pinned index now has only a CPU build (PyPI's plain torch is still there).
    cuda.set_project("torch", vec![torch_build("cpu")]);
    let run = scratch.dockgen(&["lock", "--profile", "cuda-test.yaml", "--upgrade"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(scratch.redact(&run.stderr));
    assert_eq!(scratch.read("locks/cuda-test.txt"), good);

    // And with no lock at all, none is written.
    std::fs::remove_file(scratch.path().join("locks/cuda-test.txt")).expect("remove lock");
    let run = scratch.dockgen(&["lock", "--profile", "cuda-test.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!scratch.exists("locks/cuda-test.txt"));
}

/// A scratch project with `cpu-test.yaml` (extends `cpu-x86_64`) using only `fixture`.
fn pypi_project(fixture: &FixtureIndex, requirements: &str) -> Scratch {
    let mut scratch = Scratch::new();
    scratch.label(fixture, "pypi");
    scratch.profile("cpu-test", "cpu-x86_64", "", &[("pypi", fixture, &[])]);
    scratch.write("requirements.in", requirements);
    scratch
}

#[test]
fn unsatisfiable_requirements_are_explained() {
    let fixture = FixtureIndex::builder()
        .project("app", vec![pure("app", "1.0", &["lib<2"])])
        .project("other", vec![pure("other", "1.0", &["lib>=2"])])
        .project(
            "lib",
            vec![pure("lib", "1.0", &[]), pure("lib", "2.0", &[])],
        )
        .start();
    let scratch = pypi_project(&fixture, "app\nother\n");
    let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(scratch.redact(&run.stderr));
    assert!(!scratch.exists("locks/cpu-test.txt"));
}

#[test]
fn a_hanging_index_times_out_and_leaves_the_lock() {
    let fixture = FixtureIndex::builder()
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    let scratch = pypi_project(&fixture, "lib\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let before = scratch.read("locks/cpu-test.txt");

    fixture.hang("/simple/lib/");
    let run = scratch.dockgen(&[
        "lock",
        "--profile",
        "cpu-test.yaml",
        "--upgrade",
        "--timeout",
        "1",
        "--retries",
        "0",
        "--cache-dir",
        "cold-cache",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    insta::assert_snapshot!(scratch.redact(&run.stderr));
    assert_eq!(scratch.read("locks/cpu-test.txt"), before);
}

#[test]
fn a_wrong_published_hash_is_an_error() {
    // No sidecar, no ranges: the whole wheel is downloaded to read its metadata, and
    // its bytes do not match the hash the page publishes.
    let fixture = FixtureIndex::builder()
        .sidecars(false)
        .ranges(false)
        .project("lib", vec![pure("lib", "1.0", &[]).hash(HashMode::Wrong)])
        .start();
    let scratch = pypi_project(&fixture, "lib\n");
    let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!(scratch.redact(&run.stderr));
    assert!(!scratch.exists("locks/cpu-test.txt"));
}

#[test]
fn a_file_without_a_published_hash_is_downloaded_and_hashed() {
    let file = pure("lib", "1.0", &[]).hash(HashMode::Absent);
    let sha256 = file.sha256();
    let fixture = FixtureIndex::builder()
        .api(Api::Html)
        .project("lib", vec![file])
        .start();
    let scratch = pypi_project(&fixture, "lib\n");
    let run = scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let lock = scratch.read("locks/cpu-test.txt");
    let body = lock.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    assert_eq!(
        body,
        format!("lib==1.0 \\\n    --hash=sha256:{sha256}\n    # via -r ../requirements.in\n")
    );
    assert_eq!(
        run.stderr.lines().next(),
        Some("locked 1 package for `cpu-test` -> locks/cpu-test.txt")
    );
    assert!(
        fixture
            .request_lines()
            .contains(&"GET /files/lib-1.0-py3-none-any.whl -> 200".to_string()),
        "{:#?}",
        fixture.request_lines()
    );
}

#[test]
fn server_errors_are_retried() {
    let fixture = FixtureIndex::builder()
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    fixture.fail_next("/simple/lib/", 2);
    let scratch = pypi_project(&fixture, "lib\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    assert_eq!(pins(&scratch.read("locks/cpu-test.txt")), "lib==1.0");
    let page: Vec<String> = fixture
        .request_lines()
        .into_iter()
        .filter(|l| l.starts_with("GET /simple/lib/"))
        .collect();
    assert_eq!(
        page,
        [
            "GET /simple/lib/ -> 500",
            "GET /simple/lib/ -> 500",
            "GET /simple/lib/ -> 200"
        ]
    );
}

#[test]
fn yanked_releases_only_when_pinned_exactly() {
    let fixture = FixtureIndex::builder()
        .project(
            "lib",
            vec![
                pure("lib", "1.0", &[]),
                pure("lib", "1.1", &[]).yanked("broken build"),
            ],
        )
        .start();
    let scratch = pypi_project(&fixture, "lib\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let unpinned = scratch.read("locks/cpu-test.txt");

    scratch.write("requirements.in", "lib==1.1\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let pinned = scratch.read("locks/cpu-test.txt");
    insta::assert_snapshot!(scratch.redact(&format!(
        "--- requirements.in: lib\n{unpinned}--- requirements.in: lib==1.1\n{pinned}"
    )));

    // A range does not let the yanked release in, and the explanation says why.
    scratch.write("requirements.in", "lib>=1.1\n");
    let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("yanked_range", scratch.redact(&run.stderr));
    assert_eq!(scratch.read("locks/cpu-test.txt"), pinned);
}

#[test]
fn the_command_in_the_header_regenerates_the_lock() {
    let fixture = FixtureIndex::builder()
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&fixture, "pypi");
    scratch.profile("cpu-test", "cpu-x86_64", "", &[("pypi", &fixture, &[])]);
    std::fs::create_dir(scratch.path().join("profiles")).expect("mkdir");
    std::fs::rename(
        scratch.path().join("cpu-test.yaml"),
        scratch.path().join("profiles/cpu-test.yaml"),
    )
    .expect("move profile");
    scratch.write("app/requirements.in", "lib\n");
    scratch.lock(&[
        "lock",
        "app/requirements.in",
        "--profile",
        "profiles/cpu-test.yaml",
    ]);
    let lock = scratch.read("app/locks/cpu-test.txt");
    insta::assert_snapshot!(scratch.redact(&lock));

    // Run what the header says, where it says: the same lock, byte for byte.
    let command = lock
        .lines()
        .find_map(|l| l.strip_prefix("#    dockgen "))
        .expect("a command line in the header");
    let args: Vec<&str> = command.split_whitespace().collect();
    std::fs::remove_file(scratch.path().join("app/locks/cpu-test.txt")).expect("remove lock");
    let run = scratch.dockgen_in("app", &args, &[]);
    assert_eq!(run.code, 0, "dockgen {command}: {}", run.stderr);
    assert_eq!(scratch.read("app/locks/cpu-test.txt"), lock);
}

/// The `--check` tests' index: `lib` 1.0, and `other` 2.0 which requires it; and a
/// project requiring `lib`, locked.
fn locked_lib(builder: Builder) -> (FixtureIndex, Scratch, String) {
    let fixture = builder
        .project("lib", vec![pure("lib", "1.0", &[])])
        .project("other", vec![pure("other", "2.0", &["lib>=1"])])
        .start();
    let scratch = pypi_project(&fixture, "lib\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let lock = scratch.read("locks/cpu-test.txt");
    (fixture, scratch, lock)
}

#[test]
fn check_reports_a_stale_lock_with_a_diff() {
    let (_fixture, scratch, lock) = locked_lib(FixtureIndex::builder());

    let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml", "--check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");

    scratch.write("requirements.in", "lib\nother\n");
    let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("check_diff", scratch.redact(&run.stdout));
    insta::assert_snapshot!("check_stderr", scratch.redact(&run.stderr));
    assert_eq!(scratch.read("locks/cpu-test.txt"), lock);
}

/// `lock --check` with the inputs and the lock as dockgen left them asks no index;
/// a comment in the input changes nothing; a hand-edited lock or a changed input
/// resolves, and only a changed result is stale.
#[test]
fn check_decides_from_the_inputs_digest_without_resolving() {
    // Pages are revalidated on every use: a run that resolves asks the index.
    let (fixture, scratch, lock) = locked_lib(FixtureIndex::builder().cache_control("no-cache"));
    let check = || {
        fixture.clear_requests();
        let run = scratch.dockgen(&["lock", "--profile", "cpu-test.yaml", "--check"]);
        (run, fixture.request_lines())
    };
    let unresolved =
        "`locks/cpu-test.txt` is up to date (its inputs are unchanged; not resolved)\n";

    let (run, requests) = check();
    assert_eq!((run.code, run.stderr.as_str()), (0, unresolved));
    assert_eq!(requests, Vec::<String>::new());

    scratch.write(
        "requirements.in",
        "# what the app imports\nlib  # any version\n\n",
    );
    let (run, requests) = check();
    assert_eq!((run.code, run.stderr.as_str()), (0, unresolved));
    assert_eq!(requests, Vec::<String>::new());

    // A hand edit: the digest no longer matches, the resolution restores the line.
    let edited = lock.replace("# via -r ../requirements.in", "# via nothing");
    assert_ne!(edited, lock);
    scratch.write("locks/cpu-test.txt", &edited);
    let (run, requests) = check();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!requests.is_empty(), "a hand-edited lock is resolved");
    assert_eq!(
        run.stdout,
        unified(&scratch, &edited, &lock),
        "the diff restores the edited line"
    );
    scratch.write("locks/cpu-test.txt", &lock);

    // Another input with the same result: up to date, resolved, with a note; the
    // next lock records the new digest and `--check` is cheap again.
    scratch.write("requirements.in", "lib>=1\n");
    let (run, requests) = check();
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            "`locks/cpu-test.txt` is up to date; its inputs changed without changing it, \
             so `lock --check` resolves until `dockgen lock requirements.in --profile \
             cpu-test.yaml` records them\n"
        )
    );
    assert!(!requests.is_empty(), "a changed input is resolved");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let relocked = scratch.read("locks/cpu-test.txt");
    let digest = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("# inputs-digest: sha256:"))
            .map(String::from)
    };
    assert_ne!(digest(&relocked), digest(&lock));
    assert_eq!(
        crate::support::redact_digest(&relocked),
        crate::support::redact_digest(&lock)
    );
    let (run, requests) = check();
    assert_eq!((run.code, run.stderr.as_str()), (0, unresolved));
    assert_eq!(requests, Vec::<String>::new());

    // A profile change is an input change.
    let profile = scratch.read("cpu-test.yaml");
    scratch.write("cpu-test.yaml", &format!("{profile}python: \"3.12.9\"\n"));
    let (run, requests) = check();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!requests.is_empty(), "a changed profile is resolved");
}

/// The unified diff `lock --check` prints between the lock on disk and the fresh one.
fn unified(scratch: &Scratch, old: &str, new: &str) -> String {
    let label = "locks/cpu-test.txt";
    scratch.redact(
        &similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(label, &format!("{label} (fresh)"))
            .to_string(),
    )
}

#[test]
fn pins_are_kept_until_upgraded() {
    let fixture = FixtureIndex::builder()
        .cache_control("no-cache")
        .project("lib", vec![pure("lib", "1.0", &[])])
        .project("other", vec![pure("other", "1.0", &[])])
        .start();
    let scratch = pypi_project(&fixture, "lib\nother\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let old = scratch.read("locks/cpu-test.txt");
    assert_eq!(pins(&old), "lib==1.0\nother==1.0");

    fixture.set_project(
        "lib",
        vec![pure("lib", "1.0", &[]), pure("lib", "1.1", &[])],
    );
    fixture.set_project(
        "other",
        vec![pure("other", "1.0", &[]), pure("other", "1.1", &[])],
    );
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    assert_eq!(scratch.read("locks/cpu-test.txt"), old);

    scratch.lock(&[
        "lock",
        "--profile",
        "cpu-test.yaml",
        "--upgrade-package",
        "lib",
    ]);
    assert_eq!(
        pins(&scratch.read("locks/cpu-test.txt")),
        "lib==1.1\nother==1.0"
    );

    scratch.write("locks/cpu-test.txt", &old);
    scratch.lock(&["lock", "--profile", "cpu-test.yaml", "--upgrade"]);
    assert_eq!(
        pins(&scratch.read("locks/cpu-test.txt")),
        "lib==1.1\nother==1.1"
    );
}

#[test]
fn two_profiles_share_index_work() {
    let fixture = FixtureIndex::builder()
        .project(
            "app",
            vec![pure(
                "app",
                "1.0",
                &["lib>=1", "tomli>=2; python_version < \"3.11\""],
            )],
        )
        .project(
            "lib",
            vec![pure("lib", "1.0", &[]), pure("lib", "1.2", &[])],
        )
        .project("tomli", vec![pure("tomli", "2.0.1", &[])])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&fixture, "pypi");
    scratch.profile("x86", "cpu-x86_64", "", &[("pypi", &fixture, &[])]);
    scratch.profile(
        "orin",
        "jetson-orin",
        "accelerated_packages: []\n",
        &[("pypi", &fixture, &[])],
    );
    scratch.write("requirements.in", "app\n");
    scratch.lock(&["lock", "--profile", "x86.yaml", "--profile", "orin.yaml"]);
    insta::assert_snapshot!(
        "two_profiles_locks",
        format!(
            "--- locks/x86.txt\n{}--- locks/orin.txt\n{}",
            scratch.redact(&scratch.read("locks/x86.txt")),
            scratch.redact(&scratch.read("locks/orin.txt"))
        )
    );
    insta::assert_snapshot!("two_profiles_requests", request_counts(&fixture));
}

#[test]
fn credentials_from_the_environment_stay_out_of_every_output() {
    const PASSWORD: &str = "pw-7f3a9c-never-written";
    let fixture = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "ci-bot".into(),
            password: PASSWORD.into(),
        })
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&fixture, "private");
    scratch.profile("private", "cpu-x86_64", "", &[("private", &fixture, &[])]);
    scratch.write("requirements.in", "lib\n");

    // Without credentials: refused, and the message says where they go.
    let run = scratch.dockgen(&["lock", "--profile", "private.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!("credentials_missing", scratch.redact(&run.stderr));

    let env = [
        ("DOCKGEN_INDEX_PRIVATE_USERNAME", "ci-bot"),
        ("DOCKGEN_INDEX_PRIVATE_PASSWORD", PASSWORD),
    ];
    let run = scratch.dockgen_env(&["lock", "--profile", "private.yaml", "-v"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lock = scratch.read("locks/private.txt");
    assert_eq!(pins(&lock), "lib==1.0");
    assert!(
        fixture
            .requests()
            .iter()
            .any(|r| r.authorization && r.status == 200)
    );

    // The password, and the Authorization header made of it, appear nowhere.
    assert_secret_absent(
        PASSWORD,
        &basic_authorization("ci-bot", PASSWORD),
        &[
            ("lock", &lock),
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
        ],
        &scratch.cache(),
    );
}

#[test]
fn credentials_in_the_input_index_url_stay_out_of_every_output() {
    const TOKEN: &str = "tok-51c2e8-never-written";
    let fixture = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "ci-bot".into(),
            password: TOKEN.into(),
        })
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&fixture, "private");
    // `${PRIVATE_TOKEN}` is expanded from the environment; the built-in profile's
    // general index (PyPI) is replaced by the input's `--index-url` and never asked.
    scratch.write(
        "requirements.in",
        &format!(
            "--index-url http://ci-bot:${{PRIVATE_TOKEN}}@{}/simple/\nlib\n",
            fixture.base().trim_start_matches("http://")
        ),
    );
    let run = scratch.dockgen_env(
        &["lock", "--profile", "cpu-x86_64", "-v"],
        &[("PRIVATE_TOKEN", TOKEN)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lock = scratch.read("locks/cpu-x86_64.txt");
    insta::assert_snapshot!(scratch.redact(&lock));
    assert_secret_absent(
        TOKEN,
        &basic_authorization("ci-bot", TOKEN),
        &[
            ("lock", &lock),
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
        ],
        &scratch.cache(),
    );
}

/// Neither `secret` nor `authorization` is in any of `texts` or any file under `cache`
/// (which must not be empty, or nothing was checked).
fn assert_secret_absent(secret: &str, authorization: &str, texts: &[(&str, &str)], cache: &Path) {
    for (what, text) in texts {
        assert!(!text.contains(secret), "secret in {what}:\n{text}");
        assert!(
            !text.contains(authorization),
            "authorization in {what}:\n{text}"
        );
    }
    let files = crate::support::walk(cache);
    assert!(!files.is_empty(), "the cache is empty: nothing was checked");
    for path in files {
        let bytes = std::fs::read(&path).expect("read cache file");
        for needle in [secret.as_bytes(), authorization.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "secret in cache file `{}`",
                path.display()
            );
        }
    }
}

#[test]
fn offline_runs_from_the_cache_only() {
    let fixture = FixtureIndex::builder()
        .project("app", vec![pure("app", "1.0", &["lib"])])
        .project("lib", vec![pure("lib", "1.0", &[])])
        .start();
    let scratch = pypi_project(&fixture, "app\n");
    scratch.lock(&["lock", "--profile", "cpu-test.yaml"]);
    let online = scratch.read("locks/cpu-test.txt");

    std::fs::remove_file(scratch.path().join("locks/cpu-test.txt")).expect("remove lock");
    fixture.clear_requests();
    scratch.lock(&["lock", "--profile", "cpu-test.yaml", "--offline"]);
    assert_eq!(scratch.read("locks/cpu-test.txt"), online);
    assert_eq!(fixture.request_lines(), Vec::<String>::new());

    let run = scratch.dockgen(&[
        "lock",
        "--profile",
        "cpu-test.yaml",
        "--offline",
        "--cache-dir",
        "empty-cache",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!(scratch.redact(&run.stderr));
    assert_eq!(fixture.request_lines(), Vec::<String>::new());
    assert_eq!(scratch.read("locks/cpu-test.txt"), online);
}

/// The base64 part of a Basic `Authorization` header.
fn basic_authorization(username: &str, password: &str) -> String {
    crate::support::fixture_index::base64_lite::encode(format!("{username}:{password}").as_bytes())
}
