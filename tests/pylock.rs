//! The PEP 751 lock (`lock --pylock`) as its consumers take it: locked against PyPI
//! (`exclude_newer` pinned) for a profile whose Python differs from this host's in the
//! patch, then installed by real pip (26.3, in a fresh virtual environment) and by real
//! uv into fresh virtual environments of the host's Python. `lock --pylock --check`
//! compares the pylock too, and a profile name PEP 751 cannot take is refused.
//!
//! Needs the network to PyPI, `python3` (3.11) with `venv`, and `uv` (installed by
//! `scripts/test-deps.sh`). `DOCKGEN_SKIP_PYPI_TESTS=1` skips it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{EXCLUDE_NEWER, dockgen_command, run};

/// The pip release whose pylock support the test holds dockgen to.
const PIP: &str = "pip==26.3";

fn skip() -> bool {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return true;
    }
    false
}

/// A patch of the host's Python minor version that is not the host's own.
fn other_patch() -> String {
    let host = run(Command::new("python3")
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]));
    let host = host.trim();
    assert!(
        host.starts_with("3.11."),
        "the test needs python3 3.11, found {host}"
    );
    match host {
        "3.11.13" => "3.11.2".to_string(),
        _ => "3.11.13".to_string(),
    }
}

/// A project of `requests` (and its four dependencies) with a `cpu-x86_64`-based
/// profile named `name` that takes everything from PyPI, for Python `python`.
fn project(dir: &Path, name: &str, python: &str) {
    std::fs::write(dir.join("requirements.in"), "requests==2.32.3\n").unwrap();
    std::fs::write(
        dir.join("profile.yaml"),
        format!(
            "name: {name}\nextends: cpu-x86_64\npython: {python}\nindexes:\n  - name: pypi\n    url: https://pypi.org/simple\n"
        ),
    )
    .unwrap();
}

fn lock(dir: &Path, extra: &[&str]) -> std::process::Output {
    dockgen_command(dir)
        .args(["lock", "requirements.in", "-q", "--profile", "profile.yaml"])
        .args(["--exclude-newer", EXCLUDE_NEWER])
        .args(extra)
        .output()
        .expect("run dockgen")
}

/// `name -> version` of what `pip freeze` lists in the environment of `python`.
fn frozen(python: &Path) -> BTreeMap<String, String> {
    run(Command::new(python).args(["-m", "pip", "freeze", "--disable-pip-version-check"]))
        .lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| (n.to_lowercase(), v.to_string()))
        .collect()
}

/// `name -> version` of the lock's pins.
fn pins(lock: &str) -> BTreeMap<String, String> {
    lock.lines()
        .filter(|l| !l.starts_with([' ', '#']) && l.contains("=="))
        .filter_map(|l| l.split_whitespace().next()?.split_once("=="))
        .map(|(n, v)| (n.to_lowercase(), v.to_string()))
        .collect()
}

#[test]
fn the_pylock_installs_with_pip_and_uv_on_another_patch_and_check_compares_it() {
    if skip() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    project(dir, "cpu-pypi", &other_patch());
    let output = lock(dir, &["--pylock"]);
    assert!(output.status.success(), "{output:?}");
    let pylock_path = dir.join("locks/pylock.cpu-pypi.toml");
    let pylock = std::fs::read_to_string(&pylock_path).unwrap();
    insta::assert_snapshot!(pylock);
    let expected = pins(&std::fs::read_to_string(dir.join("locks/cpu-pypi.txt")).unwrap());
    assert_eq!(expected.len(), 5, "{expected:?}");

    // pip: a fresh environment of the host's Python, pip 26.3 in it, the pylock alone.
    let venv = dir.join("venv-pip");
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin/python");
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", PIP]));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("-r")
        .arg(&pylock_path));
    let mut installed = frozen(&python);
    installed.remove("pip");
    assert_eq!(installed, expected);

    // uv, into another fresh environment of the host's Python.
    let venv = dir.join("venv-uv");
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin/python");
    run(Command::new("uv")
        .env("UV_CACHE_DIR", dir.join("uv-cache"))
        .args(["pip", "install", "--quiet", "--python"])
        .arg(&python)
        .arg("-r")
        .arg(&pylock_path));
    let mut installed = frozen(&python);
    installed.remove("pip");
    assert_eq!(installed, expected);
    std::fs::remove_dir_all(dir.join("uv-cache")).unwrap();

    // `--check` compares the pylock: up to date as written...
    let output = lock(dir, &["--pylock", "--check"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // ...and stale when edited by hand, with the diff, the lock itself up to date.
    let edited = pylock.replacen("version = \"2.32.3\"", "version = \"2.32.4\"", 1);
    assert_ne!(edited, pylock);
    std::fs::write(&pylock_path, &edited).unwrap();
    let output = lock(dir, &["--pylock", "--check"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with(['-', '+']))
            .collect::<Vec<_>>(),
        [
            "--- locks/pylock.cpu-pypi.toml",
            "+++ locks/pylock.cpu-pypi.toml (fresh)",
            "-version = \"2.32.4\"",
            "+version = \"2.32.3\"",
        ],
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`locks/pylock.cpu-pypi.toml` is stale: run `dockgen lock"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`locks/cpu-pypi.txt` is up to date"),
        "{stderr}"
    );
    // Nothing was written by `--check`.
    assert_eq!(std::fs::read_to_string(&pylock_path).unwrap(), edited);
}

#[test]
fn a_profile_name_with_a_dot_is_refused_with_pylock_and_nothing_is_written() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    project(dir, "cpu.v2", "3.11.13");
    let output = lock(dir, &["--pylock"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: `--pylock` cannot name a lock for profile `cpu.v2`: PEP 751 names a lock \
         `pylock.<name>.toml` with no `.` in `<name>`, and `pylock.cpu.v2.toml` is not one \
         (uv refuses it; pip reads it as a requirements file). Rename the profile (`name:` \
         in its YAML, e.g. `cpu-v2`), or leave out `--pylock`\n"
    );
    assert!(!dir.join("locks").exists());
}
