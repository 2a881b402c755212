//! Test infrastructure shared by the integration tests: real wheels and sdists, and
//! loopback fixture indexes that behave like PyPI, the PyTorch indexes and Jetson's.

#![allow(dead_code)]

pub mod docker;
pub mod engine_proxy;
pub mod fixture_index;
pub mod git;
pub mod wheels;

/// The cutoff the tests that lock against PyPI pin, so their answers do not move.
pub const EXCLUDE_NEWER: &str = "2025-09-01T00:00:00Z";
/// The upload time fixture accelerator wheels claim (before [`EXCLUDE_NEWER`]).
pub const UPLOADED: &str = "2024-10-29T17:00:00Z";

/// A wheel pip can install, with a module that reports its version, as the PyTorch
/// and Jetson indexes would serve it.
pub fn accelerator_wheel(
    name: &str,
    version: &str,
    tags: &str,
    requires: &[&str],
) -> fixture_index::FixtureFile {
    let mut spec = wheels::WheelSpec::new(name, version);
    spec.tags = tags.into();
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    spec.requires_python = Some(">=3.9.0".into());
    let module = name.replace('-', "_");
    spec.files = vec![(
        format!("{module}/__init__.py"),
        format!("__version__ = \"{version}\"\n").into_bytes(),
    )];
    fixture_index::FixtureFile::from_spec(&spec).uploaded(UPLOADED)
}

use std::process::Command;

/// Runs a command that may fail: its exit code (-1 for a signal), stdout and stderr.
pub fn outcome(command: &mut Command) -> (i32, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; its stdout. A failure shows the command, its exit
/// status and both outputs.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// The SBOM component of the package `name` in what `dockgen sbom` printed (CycloneDX
/// JSON).
pub fn sbom_component(stdout: &[u8], name: &str) -> serde_json::Value {
    let sbom: serde_json::Value = serde_json::from_slice(stdout).expect("the SBOM is JSON");
    sbom["components"]
        .as_array()
        .expect("the SBOM lists components")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component `{name}` in the SBOM"))
        .clone()
}

/// `text` with the hex of every lock's `# inputs-digest:` line replaced by
/// `[digest]`: it covers the fixture index's address, which changes with each run.
/// (The tests that need it compare digests across runs, or check them with `--check`.)
pub fn redact_digest(text: &str) -> String {
    const PREFIX: &str = "# inputs-digest: sha256:";
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.find(PREFIX) {
            Some(at) => {
                let end = line.trim_end_matches('\n').len();
                out.push_str(&line[..at + PREFIX.len()]);
                out.push_str("[digest]");
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The version of the host's `python3` (`3.11.7`), which messages about metadata
/// builds name: tests replace it, as it varies by machine.
pub fn host_python() -> String {
    run(Command::new("python3").args(["-c", "import platform; print(platform.python_version())"]))
        .trim()
        .to_string()
}

/// Installs `lock` as a target would: real pip in a fresh virtual environment at
/// `venv`, hashes required, nothing resolved by pip itself. The venv's `pip`.
pub fn pip_install_lock(venv: &std::path::Path, lock: &std::path::Path) -> std::path::PathBuf {
    run(Command::new("python3").args(["-m", "venv"]).arg(venv));
    let pip = venv.join("bin/pip");
    run(Command::new(&pip)
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "-r",
        ])
        .arg(lock));
    pip
}

/// `dockgen` run in `scratch` as every test runs it: its cache in `scratch/cache`, no
/// netrc, and none of the developer's `DOCKGEN_*` settings, `XDG_CACHE_HOME` or
/// `SOURCE_DATE_EPOCH`. Callers add arguments, variables, another `current_dir`.
pub fn dockgen_command(scratch: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockgen"));
    command
        .current_dir(scratch)
        .env("NETRC", scratch.join("no-netrc"))
        .env_remove("XDG_CACHE_HOME")
        .env_remove("SOURCE_DATE_EPOCH");
    // The developer's own `DOCKGEN_OFFLINE`, `DOCKGEN_HTTP_TIMEOUT`, credentials...
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOCKGEN_") {
            command.env_remove(key);
        }
    }
    command.env("DOCKGEN_CACHE_DIR", scratch.join("cache"));
    command
}

/// Every file under `dir` (not directories), sorted.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `command` with its outputs piped; kills it and fails, with its stderr, when it
/// has not ended after `limit` (a hang).
pub fn output_within(command: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dockgen");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for dockgen") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            let args: Vec<_> = command.get_args().collect();
            panic!("dockgen {args:?} still ran after {limit:?}: it hangs; its stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}
