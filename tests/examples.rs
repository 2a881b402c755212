//! The examples, locked for real: each one is locked for `cpu-x86_64` against PyPI
//! (with `exclude_newer` pinned so the answer does not move), the lock is installed
//! with real pip into a fresh virtual environment (`--require-hashes --no-deps`),
//! `pip check` must pass, and the pins must equal `uv pip compile`'s for the same
//! inputs, date, Python and platform.
//!
//! PyTorch's CPU index is not reachable from CI, so a loopback fixture index stands in
//! for it: CPU builds of torch, torchvision and torchaudio (`+cpu` local versions,
//! cp311 `linux_x86_64` wheels, the real `Requires-Dist` of those releases) that pip
//! can install. Everything else comes from PyPI itself.
//!
//! Needs the network to PyPI, `python3` with `venv`, and `uv` (installed by
//! `.ci/run`). `DOCKGEN_SKIP_PYPI_TESTS=1` skips it for offline development loops.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::{EXCLUDE_NEWER, accelerator_wheel, pip_install_lock, run};

fn skip() -> bool {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return true;
    }
    false
}

/// A CPU build as https://download.pytorch.org/whl/cpu serves it.
fn cpu_build(name: &str, version: &str, requires: &[&str]) -> FixtureFile {
    accelerator_wheel(name, version, "cp311-cp311-linux_x86_64", requires)
}

/// Stand-in for https://download.pytorch.org/whl/cpu with the 2.5.1 release.
pub fn pytorch_cpu_index() -> FixtureIndex {
    FixtureIndex::builder()
        .sidecars(false)
        .project(
            "torch",
            vec![cpu_build(
                "torch",
                "2.5.1+cpu",
                &[
                    "filelock",
                    "typing-extensions>=4.8.0",
                    "networkx",
                    "jinja2",
                    "fsspec",
                    "sympy==1.13.1; python_version >= \"3.9\"",
                    "setuptools; python_version >= \"3.12\"",
                ],
            )],
        )
        .project(
            "torchvision",
            vec![cpu_build(
                "torchvision",
                "0.20.1+cpu",
                &["numpy", "torch==2.5.1", "pillow!=8.3.*,>=5.3.0"],
            )],
        )
        .project(
            "torchaudio",
            vec![cpu_build("torchaudio", "2.5.1+cpu", &["torch==2.5.1"])],
        )
        .start()
}

/// `cpu-x86_64`, with the CPU index pointed at the fixture.
pub fn write_test_profile(dir: &Path, torch_index: &FixtureIndex) -> PathBuf {
    let path = dir.join("cpu-x86_64-test.yaml");
    let yaml = format!(
        "name: cpu-x86_64-test\nextends: cpu-x86_64\nindexes:\n  - name: pytorch-cpu\n    url: {}\n    packages: [torch, torchvision, torchaudio]\n  - name: pypi\n    url: https://pypi.org/simple\n",
        torch_index.url()
    );
    std::fs::write(&path, yaml).expect("write test profile");
    path
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Copy an example to a scratch directory so its `locks/` never lands in the tree.
pub fn copy_example(name: &str, to: &Path) -> PathBuf {
    let from = examples_dir().join(name);
    let dest = to.join(name);
    std::fs::create_dir_all(&dest).expect("create example dir");
    for entry in std::fs::read_dir(&from).expect("read example") {
        let entry = entry.expect("example entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy example file");
        }
    }
    dest
}

/// `name -> version` of every pin in a requirements-style lock.
fn pins(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.contains("=="))
        .map(|l| {
            let pin = l.split_whitespace().next().unwrap_or_default();
            let (name, version) = pin.split_once("==").expect("a pin");
            let name = name
                .split('[')
                .next()
                .unwrap_or(name)
                .to_lowercase()
                .replace(['_', '.'], "-");
            (name, version.to_string())
        })
        .collect()
}

/// `dockgen lock INPUT --profile PROFILE --exclude-newer ... EXTRA...` in `dir`; the lock's text.
fn dockgen_lock(dir: &Path, cache: &Path, input: &str, profile: &Path, extra: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_dockgen"))
        .current_dir(dir)
        .env("DOCKGEN_CACHE_DIR", cache)
        .args(["lock", input, "-q", "--profile"])
        .arg(profile)
        .args(["--exclude-newer", EXCLUDE_NEWER])
        .args(extra));
    let name = profile
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("profile stem");
    std::fs::read_to_string(dir.join(format!("locks/{name}.txt"))).expect("lock written")
}

/// `uv pip compile INPUT` for the same date and PyPI, plus `target` and `extra` arguments.
fn uv_compile(
    dir: &Path,
    uv_cache: &Path,
    input: &str,
    target: [&str; 4],
    extra: &[&str],
) -> String {
    run(Command::new("uv")
        .current_dir(dir)
        .env("UV_CACHE_DIR", uv_cache)
        // Resolving for a given --python-version needs no interpreter; without this uv
        // spends seconds trying to reach its Python download mirror.
        .env("UV_PYTHON_DOWNLOADS", "never")
        .args([
            "pip",
            "compile",
            input,
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--no-build",
        ])
        .args(target)
        .args([
            "--exclude-newer",
            EXCLUDE_NEWER,
            "--index-url",
            "https://pypi.org/simple",
        ])
        .args(extra))
}

const X86_64: [&str; 4] = [
    "--python-version",
    "3.11.13",
    "--python-platform",
    "x86_64-manylinux_2_36",
];
const ORIN: [&str; 4] = [
    "--python-version",
    "3.10.12",
    "--python-platform",
    "aarch64-manylinux_2_35",
];

#[test]
fn every_example_locks_installs_and_matches_uv() {
    if skip() {
        return;
    }
    let torch = pytorch_cpu_index();
    let scratch = tempfile::tempdir().expect("tempdir");
    let profile = write_test_profile(scratch.path(), &torch);
    let orin = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/profiles/orin-pypi.yaml");
    let cache = scratch.path().join("cache");
    let uv_cache = scratch.path().join("uv-cache");
    let torch_url = torch.url();
    let torch_index = [
        "--index-strategy",
        "first-index",
        "--extra-index-url",
        torch_url.as_str(),
    ];
    let mut failures = Vec::new();
    for example in [
        "fastapi-optional",
        "fastapi-vision",
        "jetson-tts",
        "video-diffusion",
    ] {
        let dir = copy_example(example, scratch.path());
        let lock = dockgen_lock(&dir, &cache, "requirements.in", &profile, &[]);

        // Real pip, fresh venv, hashes required, nothing resolved by pip itself.
        let pip = pip_install_lock(
            &scratch.path().join(format!("venv-{example}")),
            &dir.join("locks/cpu-x86_64-test.txt"),
        );
        run(Command::new(&pip).args(["check", "--disable-pip-version-check"]));

        // The same question put to uv.
        let uv = uv_compile(&dir, &uv_cache, "requirements.in", X86_64, &torch_index);
        compare(example, "x86_64", &lock, &uv, &mut failures);

        // The Jetson target (aarch64, CPython 3.10, glibc 2.35) from PyPI alone: no
        // install here, but the same answer as uv for another arch and Python.
        let lock = dockgen_lock(&dir, &cache, "requirements.in", &orin, &[]);
        let uv = uv_compile(&dir, &uv_cache, "requirements.in", ORIN, &[]);
        compare(example, "aarch64", &lock, &uv, &mut failures);
    }

    // A pyproject.toml with optional groups, one group selected.
    let dir = copy_example("fastapi-optional", &scratch.path().join("pyproject"));
    let extra = ["--extra", "monitoring"];
    let lock = dockgen_lock(&dir, &cache, "pyproject.toml", &profile, &extra);
    let uv = uv_compile(&dir, &uv_cache, "pyproject.toml", X86_64, &extra);
    compare(
        "fastapi-optional pyproject.toml --extra monitoring",
        "x86_64",
        &lock,
        &uv,
        &mut failures,
    );

    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn compare(example: &str, target: &str, lock: &str, uv: &str, failures: &mut Vec<String>) {
    {
        let (ours, theirs) = (pins(lock), pins(uv));
        if ours != theirs {
            let only =
                |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| -> Vec<String> {
                    a.iter()
                        .filter(|(n, v)| b.get(*n) != Some(v))
                        .map(|(n, v)| format!("{n}=={v}"))
                        .collect()
                };
            failures.push(format!(
                "{example} ({target}): dockgen and uv disagree\n  only dockgen: {:?}\n  only uv: {:?}",
                only(&ours, &theirs),
                only(&theirs, &ours)
            ));
        }
        assert!(
            ours.len() > 3,
            "{example} ({target}): suspiciously small lock:\n{lock}"
        );
    }
}
