//! Git direct references end to end: repositories made in the test (fixed dates and
//! names, so commit ids are stable), locked by `git+file://` and over git's smart HTTP
//! protocol on loopback; the lock snapshotted whole, relocked after a tag moved, and
//! installed with real pip in a fresh venv (hashed pins by hash, then the git pins).

use std::path::Path;
use std::process::Command;

use crate::direct::{LOCK, dockgen, profile, text};
use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::git::{GitHttpServer, Repo};
use crate::support::wheels::WheelSpec;
use crate::support::{pip_install_lock, run};

/// A PEP 517 backend in the repository itself (`backend-path`), so pip builds the
/// checkout with nothing from an index: a pure wheel of `<module>/__init__.py`.
pub(crate) const BACKEND: &str = r#"import base64, hashlib, os, tomllib, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    module = project["name"].replace("-", "_")
    dist = "%s-%s.dist-info" % (module, project["version"])
    with open(module + "/__init__.py", "rb") as f:
        files = {module + "/__init__.py": f.read()}
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (project["name"], project["version"])
    dependencies = project.get("dependencies", [])
    if "dependencies" in project.get("dynamic", []):
        with open("requirements.txt") as f:
            dependencies = f.read().split()
    metadata += "".join("Requires-Dist: %s\n" % d for d in dependencies)
    files[dist + "/METADATA"] = metadata.encode()
    files[dist + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (name, digest, len(data))
    files[dist + "/RECORD"] = (record + dist + "/RECORD,,\n").encode()
    filename = "%s-%s-py3-none-any.whl" % (module, project["version"])
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return filename
"#;

/// The files of a project `name` `version` (static `[project]`), under `prefix`.
pub(crate) fn project(
    prefix: &str,
    name: &str,
    version: &str,
    requires: &[&str],
) -> Vec<(String, String)> {
    let module = name.replace('-', "_");
    let dependencies: Vec<String> = requires.iter().map(|r| format!("\"{r}\"")).collect();
    vec![
        (
            format!("{prefix}pyproject.toml"),
            format!(
                "[build-system]\nrequires = []\nbuild-backend = \"backend\"\n\
                 backend-path = [\".\"]\n\n[project]\nname = \"{name}\"\n\
                 version = \"{version}\"\nrequires-python = \">=3.8\"\n\
                 dependencies = [{}]\n",
                dependencies.join(", ")
            ),
        ),
        (format!("{prefix}backend.py"), BACKEND.to_string()),
        (
            format!("{prefix}{module}/__init__.py"),
            format!("__version__ = \"{version}\"\n"),
        ),
    ]
}

/// The index, a scratch directory with the profile, and the two repositories in it.
fn scratch() -> (FixtureIndex, tempfile::TempDir, Repo) {
    let index = index();
    let tmp = tempfile::tempdir().unwrap();
    profile(tmp.path(), &index);
    let (gitpkg, _) = repositories(tmp.path());
    (index, tmp, gitpkg)
}

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

fn redact(text: &str, dir: &Path, index: &FixtureIndex) -> String {
    let text = text.replace(&dir.display().to_string(), "[tmp]");
    let text = text.replace(index.base().trim_start_matches("http://"), "[index]");
    crate::support::redact_digest(&text.replace(&crate::support::host_python(), "3.X.Y"))
}

/// `gitpkg` (tag `v1.0`, then `main` moves on) and `subpkg` (in `py/`, default branch).
fn repositories(dir: &Path) -> (Repo, Repo) {
    let gitpkg = Repo::init(&dir.join("repos/gitpkg"));
    gitpkg.commit("1.0", &project("", "gitpkg", "1.0", &["six>=1.10"]));
    gitpkg.tag("v1.0");
    gitpkg.commit("1.1", &project("", "gitpkg", "1.1", &["six>=1.10"]));
    let subpkg = Repo::init(&dir.join("repos/subpkg"));
    subpkg.commit("0.5", &project("py/", "subpkg", "0.5", &[]));
    (gitpkg, subpkg)
}

/// A `name @ git+file://` reference by tag and a bare `git+...#egg=` line with a
/// subdirectory: locked by commit with no hash, their dependencies from the index;
/// `--check` is stable; a moved tag keeps the locked commit until `--upgrade-package`;
/// `--offline` relocks from the cache clone; the pylock has `[packages.vcs]`; a render
/// from indexes refuses the pin; real pip installs the lock (hashed pins, then the git pins).
#[test]
fn git_references_lock_relock_and_install_with_pip() {
    let (index, tmp, gitpkg) = scratch();
    let dir = tmp.path();
    let v1 = gitpkg.rev("v1.0");
    // `file://localhost/...`: pip before 24 refuses `name @ git+file:///...`.
    let repos = format!("file://localhost{}/repos", dir.display());
    std::fs::write(
        dir.join("requirements.in"),
        format!(
            "gitpkg @ git+{repos}/gitpkg@v1.0\ngit+{repos}/subpkg#egg=subpkg&subdirectory=py\n"
        ),
    )
    .unwrap();

    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(
        lock.contains(&format!("gitpkg @ git+{repos}/gitpkg@{v1}\n")),
        "{lock}"
    );
    insta::assert_snapshot!(redact(&lock, dir, &index));
    // Each commit was fetched alone (depth 1), not the repositories' history.
    let clones: Vec<_> = std::fs::read_dir(dir.join("cache/git"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(clones.len(), 2);
    assert!(clones.iter().all(|clone| clone.join("shallow").is_file()));
    let check = dockgen(dir, &[LOCK, &["--check"]].concat(), &[]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    // The tag moves to a new commit (version 1.2): a relock keeps the locked commit.
    gitpkg.commit("1.2", &project("", "gitpkg", "1.2", &["six>=1.10"]));
    gitpkg.tag("v1.0");
    let moved = gitpkg.rev("v1.0");
    assert_ne!(moved, v1);
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let relocked = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert_eq!(relocked, lock);
    let output = dockgen(dir, &[LOCK, &["--upgrade-package", "gitpkg"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let upgraded = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(
        upgraded.contains(&format!(
            "gitpkg @ git+{repos}/gitpkg@{moved}\n    # version 1.2 (git revision v1.0)\n"
        )),
        "{upgraded}"
    );

    // The commit is in the cache clone: `--offline` needs no repository (moved away).
    std::fs::rename(dir.join("repos/gitpkg"), dir.join("repos/gone")).unwrap();
    let output = dockgen(dir, &[LOCK, &["--offline", "--check"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    std::fs::rename(dir.join("repos/gone"), dir.join("repos/gitpkg")).unwrap();

    // The pylock names the commit (PEP 751 `[packages.vcs]`).
    let output = dockgen(dir, &[LOCK, &["--pylock"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let pylock = std::fs::read_to_string(dir.join("locks/pylock.cpu-test.toml")).unwrap();
    let table: toml::Table = pylock.parse().unwrap();
    let packages = table["packages"].as_array().unwrap();
    let entry = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .unwrap()
            .clone()
    };
    let vcs = &entry("gitpkg")["vcs"];
    assert_eq!(vcs["type"].as_str(), Some("git"), "{pylock}");
    assert_eq!(
        vcs["url"].as_str(),
        Some(format!("{repos}/gitpkg").as_str())
    );
    assert_eq!(vcs["commit-id"].as_str(), Some(moved.as_str()));
    assert_eq!(entry("subpkg")["vcs"]["subdirectory"].as_str(), Some("py"));
    assert_eq!(entry("gitpkg")["version"].as_str(), Some("1.2"));

    // A build that fetches from indexes cannot install direct references: render says
    // so, naming the pin (`render --wheelhouse` and `build` do, see `render_direct`).
    let render = dockgen(dir, &["render", "--profile", "cpu-test.yaml"], &[]);
    assert_eq!(render.status.code(), Some(2), "{}", text(&render.stderr));
    let stderr = text(&render.stderr);
    assert!(stderr.contains("a direct reference"), "{stderr}");
    assert!(stderr.contains("@ git+file://"), "{stderr}");

    // The audit views read the git pins back: tree, check (a `git-pin` warning: built
    // from the exported commit), the SBOM (a `vcs` reference at the commit).
    let tree = dockgen(dir, &["tree", "--profile", "cpu-test.yaml"], &[]);
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    assert!(
        tree.contains("gitpkg==1.2") && tree.contains("subpkg==0.5"),
        "{tree}"
    );
    let check = dockgen(dir, &["check", "--profile", "cpu-test.yaml"], &[]);
    let check_out = text(&check.stdout) + &text(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{check_out}");
    assert!(
        check_out.contains(&format!(
            "warning[git-pin]: `gitpkg` 1.2 is pinned by git commit \
             (`git+{repos}/gitpkg@{moved}`): no file to hash-check; `dockgen build` and \
             `dockgen render --wheelhouse` export the commit as `gitpkg-1.2.tar.gz`"
        )),
        "{check_out}"
    );
    let sbom = dockgen(dir, &["sbom", "--profile", "cpu-test.yaml"], &[]);
    assert!(sbom.status.success(), "{}", text(&sbom.stderr));
    let component = crate::support::sbom_component(&sbom.stdout, "gitpkg");
    assert_eq!(component["externalReferences"][0]["type"], "vcs");
    assert_eq!(
        component["externalReferences"][0]["url"].as_str(),
        Some(format!("{repos}/gitpkg@{moved}").as_str())
    );

    // pip refuses a git pin beside hashed ones, as the header says: the hashed pins
    // by hash first, then the git pins (built by their in-tree backend).
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    let (git_pins, hashed): (Vec<&str>, Vec<&str>) = lock
        .split("\n\n")
        .partition(|block| block.lines().next().is_some_and(|l| l.contains(" @ git+")));
    std::fs::write(dir.join("hashed.txt"), hashed.join("\n\n")).unwrap();
    std::fs::write(dir.join("git.txt"), git_pins.join("\n\n")).unwrap();
    let pip = pip_install_lock(&dir.join("venv"), &dir.join("hashed.txt"));
    run(Command::new(&pip)
        .args(["install", "--quiet", "--no-deps", "--no-index", "-r"])
        .arg(dir.join("git.txt")));
    let frozen = run(Command::new(&pip).args(["freeze", "--disable-pip-version-check"]));
    for pin in [
        format!("gitpkg @ git+{repos}/gitpkg@{moved}"),
        "subpkg @ git+".to_string(),
        "six==1.16.0".to_string(),
    ] {
        assert!(frozen.contains(&pin), "{pin} not installed:\n{frozen}");
    }
    let version = run(Command::new(dir.join("venv/bin/python")).args([
        "-c",
        "import gitpkg, subpkg; print(gitpkg.__version__, subpkg.__version__)",
    ]));
    assert_eq!(version.trim(), "1.2 0.5");
}

/// Branches, short and full commits, and the default branch resolve to full commits;
/// a revision changed in the input takes its commit on a plain relock.
#[test]
fn git_revisions_resolve_to_full_commits() {
    let (_index, tmp, gitpkg) = scratch();
    let dir = tmp.path();
    let v1 = gitpkg.rev("v1.0");
    gitpkg.branch("stable", &v1);
    let main = gitpkg.rev("main");
    let repo = format!("git+file://{}/repos/gitpkg", dir.display());
    for (rev, commit, version) in [
        ("@stable".to_string(), &v1, "1.0"),
        (format!("@{}", &v1[..10]), &v1, "1.0"),
        (format!("@{v1}"), &v1, "1.0"),
        (String::new(), &main, "1.1"),
    ] {
        std::fs::write(
            dir.join("requirements.in"),
            format!("gitpkg @ {repo}{rev}\n"),
        )
        .unwrap();
        // No `--upgrade`: the lock's commit is kept only for the same revision.
        let output = dockgen(dir, LOCK, &[]);
        assert!(output.status.success(), "{rev}: {}", text(&output.stderr));
        let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
        assert!(
            lock.contains(&format!(
                "gitpkg @ {repo}@{commit}\n    # version {version} "
            )),
            "{rev}: {lock}"
        );
    }
}

/// A commit whose `pyproject.toml` leaves its dependencies to the build backend
/// (`dynamic = ["dependencies"]`) is built for its metadata (PEP 517, the in-tree
/// backend's `build_wheel`), and a relock reads the result from the cache.
#[test]
fn a_git_commit_that_needs_a_build_is_built() {
    let (index, tmp, _) = scratch();
    let dir = tmp.path();
    let repo = Repo::init(&dir.join("repos/dynamic"));
    let mut files = project("", "dynamic-deps", "2.0", &[]);
    files[0].1 = files[0]
        .1
        .replace("dependencies = []", "dynamic = [\"dependencies\"]");
    files.push(("requirements.txt".into(), "six>=1.10\n".into()));
    repo.commit("2.0", &files);
    std::fs::write(
        dir.join("requirements.in"),
        format!(
            "dynamic-deps @ git+file://{}/repos/dynamic\n",
            dir.display()
        ),
    )
    .unwrap();
    for _ in 0..2 {
        let output = dockgen(dir, LOCK, &[]);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    let commit = repo.rev("main");
    insta::assert_snapshot!(redact(&lock, dir, &index).replace(&commit, "[commit]"));
}

/// Over git's smart HTTP protocol (`git http-backend` on loopback, Basic auth), with
/// credentials as `${VAR}`s: git is given them (the server refuses requests without),
/// the lock keeps the variables, no output holds their values, a wrong token is a
/// clear error, and an `--offline` relock asks the server nothing.
#[test]
fn git_over_http_with_credential_variables() {
    let (_index, tmp, gitpkg) = scratch();
    let dir = tmp.path();
    let server =
        GitHttpServer::start_with_auth(&dir.join("repos"), Some(("reader", "s3cr3t-t0ken-value")));
    let url = server
        .base()
        .replace("http://", "git+http://${GIT_USER}:${GIT_TOKEN}@");
    std::fs::write(
        dir.join("requirements.in"),
        format!("gitpkg @ {url}gitpkg@v1.0\n"),
    )
    .unwrap();
    let env = [("GIT_USER", "reader"), ("GIT_TOKEN", "s3cr3t-t0ken-value")];
    let output = dockgen(dir, LOCK, &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("s3cr3t"));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
    assert!(
        lock.contains(&format!("gitpkg @ {url}gitpkg@{}\n", gitpkg.rev("v1.0"))),
        "{lock}"
    );
    assert!(
        !lock.contains("s3cr3t") && !lock.contains("reader"),
        "{lock}"
    );
    assert!(server.requests() > 0);

    let before = server.requests();
    let output = dockgen(dir, &[LOCK, &["--offline", "--check"]].concat(), &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(server.requests(), before);

    // A wrong token: the server refuses; the message names the URL as written.
    let output = dockgen(
        dir,
        &[LOCK, &["--upgrade"]].concat(),
        &[("GIT_USER", "reader"), ("GIT_TOKEN", "wrong-token-1")],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("wrong-token-1"), "{stderr}");
    assert!(stderr.contains("${GIT_TOKEN}"), "{stderr}");

    // A repository the server does not have: the message names the URL as written.
    std::fs::write(
        dir.join("requirements.in"),
        format!("gitpkg @ {url}missing@v1.0\n"),
    )
    .unwrap();
    let output = dockgen(dir, LOCK, &env);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    assert!(
        stderr.contains("${GIT_TOKEN}") && stderr.contains("cannot fetch"),
        "{stderr}"
    );
}

/// Each failure exits 2, leaves the lock as it was, and says what to do.
#[test]
fn git_reference_errors() {
    let (index, tmp, _) = scratch();
    let dir = tmp.path();
    let dynamic = Repo::init(&dir.join("repos/dynamic"));
    let mut files = project("", "dynamic-pkg", "1.0", &[]);
    files[0].1 = files[0]
        .1
        .replace("version = \"1.0\"", "dynamic = [\"version\"]");
    dynamic.commit("dynamic", &files);
    let repos = format!("git+file://{}/repos", dir.display());
    std::fs::write(dir.join("requirements.in"), "six\n").unwrap();
    let output = dockgen(dir, LOCK, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lock = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();

    let mut errors = Vec::new();
    for (label, input) in [
        (
            "bad revision",
            format!("gitpkg @ {repos}/gitpkg@no-such-tag\n"),
        ),
        (
            "unknown repository",
            format!("gitpkg @ {repos}/missing@v1.0\n"),
        ),
        (
            "bare line without #egg=",
            format!("six\n{repos}/gitpkg@v1.0\n"),
        ),
        (
            "another VCS",
            "pkg @ hg+https://example.invalid/repo@1\n".into(),
        ),
        ("name mismatch", format!("other @ {repos}/gitpkg@v1.0\n")),
        (
            "metadata that needs a build",
            format!("dynamic-pkg @ {repos}/dynamic\n"),
        ),
    ] {
        std::fs::write(dir.join("requirements.in"), input).unwrap();
        let output = dockgen(dir, LOCK, &[]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{label}: {stderr}");
        let now = std::fs::read_to_string(dir.join("locks/cpu-test.txt")).unwrap();
        assert_eq!(now, lock, "{label}");
        errors.push(format!("--- {label}\n{}", redact(&stderr, dir, &index)));
    }
    insta::assert_snapshot!(errors.join("\n"));
}
