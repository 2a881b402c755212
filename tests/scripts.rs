//! The Python scripts dockgen ships into images (`src/render/scripts.rs`), run for real:
//! this machine's `python3`, fresh virtual environments, real pip, fixture wheels from
//! `tests/support/wheels.rs` served by a `--find-links` directory. The scripts are
//! written out from `SCRIPTS`, so what is tested is what the binary ships.
//!
//! The pipdeptree comparison installs the real `pipdeptree` from PyPI into a separate
//! environment and runs it against the test environment: dockgen's artifacts must be
//! byte-identical to its output. pipdeptree is pinned to 4.2.16, whose layout the image's
//! artifacts take (`alpha` asks for `delta[fast]`, so `delta` -> `Omega_Lib` is an edge).
//! `DOCKGEN_SKIP_PYPI_TESTS=1` skips that part; no python3 skips everything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::support::run;
use crate::support::wheels::WheelSpec;
use dockgen::render::scripts::SCRIPTS;

const PIPDEPTREE: &str = "pipdeptree==4.2.16";

fn have_python() -> bool {
    if Command::new("python3").arg("--version").output().is_err() {
        println!("skipped: `python3` is not installed");
        return false;
    }
    true
}

fn pypi_skipped() -> bool {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        println!("skipped the PyPI part: DOCKGEN_SKIP_PYPI_TESTS is set");
        return true;
    }
    false
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn outcome(output: Output) -> Ran {
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `python SCRIPT ARGS` with no GPU and a pinned clock, in `cwd`.
fn script(python: &Path, scripts: &Path, name: &str, args: &[&Path], cwd: &Path) -> Ran {
    let output = Command::new(python)
        .arg(scripts.join(name))
        .args(args)
        .current_dir(cwd)
        .env("DOCKGEN_GPU", "0")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .expect("spawn python");
    outcome(output)
}

fn write_scripts(dir: &Path) -> PathBuf {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    for (name, contents) in SCRIPTS {
        std::fs::write(scripts.join(name), contents).unwrap();
    }
    // Rendered beside the scripts, as into every build context.
    std::fs::write(
        scripts.join("spdx-ids.txt"),
        dockgen::audit::sbom::spdx_ids_file(),
    )
    .unwrap();
    scripts
}

fn wheel(name: &str, version: &str, requires: &[&str], files: &[(&str, &str)]) -> WheelSpec {
    WheelSpec {
        requires_dist: requires.iter().map(|r| r.to_string()).collect(),
        files: files
            .iter()
            .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
            .collect(),
        ..WheelSpec::new(name, version)
    }
}

/// A small dependency graph with what the scripts must get right: a cycle (beta <->
/// Gamma.Pkg), a name that normalizes (`Gamma.Pkg`, `Omega_Lib`), markers that do and
/// do not apply, extras-only requirements, a local version, `top_level.txt`, an
/// extension module, private and `tests` modules, two specifiers on one requirement.
fn fixture_wheels() -> Vec<WheelSpec> {
    let mut delta = wheel(
        "delta",
        "0.5",
        &["Omega_Lib; extra == \"fast\""],
        &[
            ("delta/__init__.py", "SPEED = 'slow'\n"),
            ("delta-0.5.dist-info/top_level.txt", "delta\n"),
        ],
    );
    delta.provides_extra = vec!["fast".into()];
    let mut gamma = wheel(
        "Gamma.Pkg",
        "3.2",
        &["beta", "epsilon; extra == \"test\""],
        &[("gamma_pkg/__init__.py", "")],
    );
    gamma.provides_extra = vec!["test".into()];
    // Free text in `License`: a `license.name`.
    gamma.metadata_headers = vec!["License: Apache 2.0".into()];
    let mut zeta = wheel(
        "zeta",
        "1.0+cpu",
        &[],
        &[
            ("zeta/__init__.py", ""),
            // Not a real shared object: importing it fails, so verify must skip it.
            ("zeta_speedups.cpython-311-x86_64-linux-gnu.so", "not ELF"),
            ("_zeta_private.py", ""),
            ("tests/__init__.py", ""),
        ],
    );
    // WheelSpec has no license field: this puts the header right after Metadata-Version.
    zeta.metadata_version = "2.4\nLicense-Expression: MIT OR Apache-2.0".into();
    vec![
        wheel(
            "alpha",
            "1.0",
            &[
                "beta>=2.0",
                "Gamma.Pkg",
                "delta[fast]>=0.1; python_version >= \"3\"",
                "nothere; sys_platform == \"win32\"",
            ],
            &[("alpha/__init__.py", "VALUE = 1\n")],
        ),
        WheelSpec {
            // An SPDX identifier in `License`, in another case: `license.id` `MPL-2.0`.
            metadata_headers: vec!["License: mpl-2.0".into()],
            ..wheel(
                "beta",
                "2.1",
                &["gamma-pkg<4,>=3.0"],
                &[("beta/__init__.py", "")],
            )
        },
        gamma,
        delta,
        wheel(
            "Omega_Lib",
            "1.0.post1",
            &[],
            &[("omega.py", "VALUE = 1\n")],
        ),
        zeta,
    ]
}

/// Writes the wheels into `dir`; a lock in dockgen's format pinning them by hash.
fn write_wheels_and_lock(specs: &[WheelSpec], dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let mut entries = Vec::new();
    for spec in specs {
        let (filename, bytes) = spec.build();
        std::fs::write(dir.join(&filename), &bytes).unwrap();
        entries.push((
            spec.name.to_lowercase(),
            format!(
                "{}=={} \\\n    --hash=sha256:{}\n    # via test\n",
                spec.name,
                spec.version,
                hex::encode(Sha256::digest(&bytes))
            ),
        ));
    }
    entries.sort();
    let mut lock = String::from(
        "#\n# This file is generated by dockgen for profile `test-cpu`; do not edit it.\n\
         # target: linux/amd64, CPython 3.11, glibc 2.17, cpu\n#\n\
         --index-url https://pypi.org/simple\n",
    );
    for (_, entry) in entries {
        lock.push('\n');
        lock.push_str(&entry);
    }
    lock
}

/// A fresh venv with the fixture lock installed the way the image does it: `pip wheel`
/// checked against the lock, `wheel_lock.py`, then a hash-checked offline install.
struct Installed {
    dir: tempfile::TempDir,
    scripts: PathBuf,
    lock: PathBuf,
    wheel_lock: PathBuf,
    wheelhouse: PathBuf,
    python: PathBuf,
    /// `wheel_lock.py`'s stdout.
    wheel_lock_stdout: String,
}

impl Installed {
    fn new() -> Installed {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let scripts = write_scripts(root);
        let links = root.join("links");
        let lock = root.join("requirements.lock");
        std::fs::write(&lock, write_wheels_and_lock(&fixture_wheels(), &links)).unwrap();

        let venv = root.join("venv");
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        let python = venv.join("bin/python");
        // Python 3.12 stopped putting setuptools into new venvs: without it everywhere,
        // the snapshots hold on any python3.
        run(Command::new(&python).args([
            "-m",
            "pip",
            "uninstall",
            "--yes",
            "--quiet",
            "--disable-pip-version-check",
            "setuptools",
        ]));
        let pip = |args: &[&str]| {
            let mut command = Command::new(&python);
            command
                .args(["-m", "pip"])
                .args(args)
                .args([
                    "--no-index",
                    "--disable-pip-version-check",
                    "--no-cache-dir",
                ])
                .current_dir(root);
            run(&mut command);
        };
        let wheelhouse = root.join("wheelhouse");
        pip(&[
            "wheel",
            "--require-hashes",
            "--no-deps",
            "--find-links",
            "links",
            "-w",
            "wheelhouse",
            "-r",
            "requirements.lock",
        ]);
        let wheel_lock = root.join("wheels.lock");
        let ran = script(
            &python,
            &scripts,
            "wheel_lock.py",
            &[&lock, &wheelhouse, &wheel_lock],
            root,
        );
        assert_eq!(ran.code, 0, "wheel_lock.py: {}", ran.stderr);
        pip(&[
            "install",
            "--require-hashes",
            "--no-deps",
            "--find-links",
            "wheelhouse",
            "-r",
            "wheels.lock",
        ]);
        Installed {
            wheel_lock_stdout: ran.stdout.replace(&root.display().to_string(), "[TMP]"),
            dir,
            scripts,
            lock,
            wheel_lock,
            wheelhouse,
            python,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn script(&self, name: &str, args: &[&Path]) -> Ran {
        script(&self.python, &self.scripts, name, args, self.root())
    }

    /// Text with this machine's facts replaced by placeholders.
    fn scrub(&self, text: &str) -> String {
        let facts = run(Command::new(&self.python).arg("-c").arg(
            "import importlib.metadata as m, platform\n\
             print(platform.python_version(), platform.machine(), \
             ' '.join(platform.libc_ver()), m.version('pip'), sep='\\n')",
        ));
        let facts: Vec<&str> = facts.lines().collect();
        let mut text = text.replace(&self.root().display().to_string(), "[TMP]");
        let names = ["[PYTHON]", "[MACHINE]", "[LIBC]", "[PIP]"];
        for (fact, name) in facts.iter().zip(names) {
            text = text.replace(&format!("\"{fact}\""), &format!("\"{name}\""));
            text = text.replace(&format!("=={fact}\n"), &format!("=={name}\n"));
            text = text.replace(&format!("@{fact}\""), &format!("@{name}\""));
            text = text.replace(&format!(": {fact}\n"), &format!(": {name}\n"));
        }
        text
    }
}

#[test]
fn every_script_is_shipped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/scripts");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".py"))
        .collect();
    let shipped: BTreeSet<String> = SCRIPTS.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(shipped, on_disk);
    let names: Vec<&str> = SCRIPTS.iter().map(|(name, _)| *name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "SCRIPTS is sorted by file name");
    // Python 3.8 is the oldest target: every script must at least compile there
    // (checked here with this machine's python3, whatever its version).
    if have_python() {
        let scratch = tempfile::tempdir().unwrap();
        let scripts = write_scripts(scratch.path());
        run(Command::new("python3")
            .args(["-m", "py_compile"])
            .args(SCRIPTS.iter().map(|(name, _)| scripts.join(name))));
    }
}

#[test]
fn wheel_lock_names_missing_and_stray_wheels() {
    if !have_python() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let scripts = write_scripts(root);
    let specs = fixture_wheels();
    let wheels = root.join("wheels");
    let lock = root.join("requirements.lock");
    std::fs::write(&lock, write_wheels_and_lock(&specs[..3], &wheels)).unwrap();
    let out = root.join("wheels.lock");
    let python = Path::new("python3");

    // beta's wheel gone; a stray package, and alpha in another version.
    let beta = specs[1].build().0;
    std::fs::remove_file(wheels.join(beta)).unwrap();
    for spec in [
        WheelSpec::new("stray", "0.1"),
        WheelSpec::new("alpha", "2.0"),
    ] {
        let (filename, bytes) = spec.build();
        std::fs::write(wheels.join(filename), bytes).unwrap();
    }
    std::fs::write(wheels.join("junk.whl"), b"").unwrap();
    let ran = script(
        python,
        &scripts,
        "wheel_lock.py",
        &[&lock, &wheels, &out],
        root,
    );
    assert_eq!(ran.code, 1);
    assert!(!out.exists(), "nothing written on failure");
    insta::assert_snapshot!(
        "wheel_lock_mismatch",
        ran.stderr.replace(&root.display().to_string(), "[TMP]")
    );

    // A lock line the parser cannot read is an error naming the file and line.
    std::fs::write(&lock, "alpha>=1.0 \\\n    --hash=sha256:00\n").unwrap();
    let ran = script(
        python,
        &scripts,
        "wheel_lock.py",
        &[&lock, &wheels, &out],
        root,
    );
    assert_eq!(ran.code, 2);
    insta::assert_snapshot!(
        "wheel_lock_bad_line",
        ran.stderr.replace(&root.display().to_string(), "[TMP]")
    );
}

#[test]
fn check_target_rejects_another_target_and_foreign_wheels() {
    if !have_python() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let scripts = write_scripts(root);
    let python = Path::new("python3");
    let facts = run(Command::new(python).arg("-c").arg(
        "import os, platform, sys\n\
         print(platform.machine(), '%d.%d' % sys.version_info[:2], platform.python_version(), \
         os.confstr('CS_GNU_LIBC_VERSION').split()[1], sep='\\n')",
    ));
    let facts: Vec<&str> = facts.lines().collect();
    let [machine, minor, python_version, glibc] = facts[..] else {
        panic!("facts: {facts:?}");
    };
    let scrub = |text: &str| {
        text.replace(&root.display().to_string(), "[TMP]")
            .replace(python_version, "[PYTHON]")
            .replace(&format!(" {machine},"), " [MACHINE],")
            .replace(&format!("glibc {glibc}"), "glibc [GLIBC]")
            .replace(&format!("glibc is {glibc},"), "glibc is [GLIBC],")
            .replace(&format!("CPython {minor}.999"), "CPython [MINOR].999")
            .replace(&format!("Python {minor}.999"), "Python [MINOR].999")
    };

    let target = root.join("target.json");
    let wheels = root.join("wheelhouse");
    std::fs::create_dir_all(&wheels).unwrap();
    for spec in fixture_wheels() {
        let (filename, bytes) = spec.build();
        std::fs::write(wheels.join(filename), bytes).unwrap();
    }
    std::fs::write(
        &target,
        format!(
            r#"{{"profile": "test-cpu", "machine": "{machine}", "python": "{minor}.999",
                "libc": ["glibc", "2.17"], "lock": "requirements.lock"}}"#
        ),
    )
    .unwrap();
    let ran = script(
        python,
        &scripts,
        "check_target.py",
        &[&target, &wheels],
        root,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    insta::assert_snapshot!("check_target_ok", scrub(&ran.stdout));

    // A wheel for another interpreter, and a file that is no wheel at all.
    let mut foreign = WheelSpec::new("native", "1.0");
    foreign.tags = "cp27-cp27mu-manylinux1_i686".into();
    let (filename, bytes) = foreign.build();
    std::fs::write(wheels.join(filename), bytes).unwrap();
    std::fs::write(wheels.join("broken.whl"), b"").unwrap();
    let ran = script(
        python,
        &scripts,
        "check_target.py",
        &[&target, &wheels],
        root,
    );
    assert_eq!(ran.code, 1);
    insta::assert_snapshot!("check_target_foreign_wheels", scrub(&ran.stderr));

    // Another machine, another Python, a newer glibc: all three named, with the fix.
    std::fs::write(
        &target,
        r#"{"profile": "jetson-orin", "machine": "riscv64", "python": "2.7.18",
            "libc": ["glibc", "9.99"], "lock": "locks/jetson-orin.txt"}"#,
    )
    .unwrap();
    let ran = script(python, &scripts, "check_target.py", &[&target], root);
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stdout, "");
    insta::assert_snapshot!("check_target_mismatch", scrub(&ran.stderr));
}

#[test]
fn scripts_lock_verify_and_artifacts_in_a_real_venv() {
    if !have_python() {
        return;
    }
    let installed = Installed::new();
    let root = installed.root();
    // pipdeptree's environment is built while the other scripts run.
    let pipdeptree = (!pypi_skipped()).then(|| {
        let venv = root.join("pipdeptree-venv");
        let installer = installed.python.clone();
        std::thread::spawn(move || {
            run(Command::new("python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(&venv));
            let target = venv.join("bin/python");
            run(Command::new(&installer)
                .args(["-m", "pip", "--python"])
                .arg(&target)
                .args([
                    "install",
                    "--quiet",
                    "--only-binary",
                    ":all:",
                    "--disable-pip-version-check",
                    PIPDEPTREE,
                ]));
            venv.join("bin/pipdeptree")
        })
    });

    insta::assert_snapshot!("wheel_lock_stdout", installed.wheel_lock_stdout);
    insta::assert_snapshot!(
        "wheel_lock",
        std::fs::read_to_string(&installed.wheel_lock).unwrap()
    );

    // The interpreter of the venv is the target; every built wheel is installable.
    let target = root.join("target.json");
    std::fs::write(
        &target,
        r#"{"profile": "test-cpu", "machine": "x86_64", "python": "3.11",
            "libc": ["glibc", "2.17"], "lock": "requirements.lock"}"#
            .replace(
                "x86_64",
                run(Command::new(&installed.python)
                    .args(["-c", "import platform; print(platform.machine())"]))
                .trim(),
            )
            .replace(
                "3.11",
                run(Command::new(&installed.python)
                    .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]))
                .trim(),
            ),
    )
    .unwrap();
    let ran = installed.script("check_target.py", &[&target, &installed.wheelhouse]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.ends_with(", 6 wheels installable\n"),
        "{}",
        ran.stdout
    );

    // verify: everything passes, the GPU-only check is skipped.
    let verify = root.join("verify.json");
    std::fs::write(&verify, verify_json(&installed.lock, "alpha.VALUE == 1")).unwrap();
    let report = root.join("report.json");
    let ran = installed.script("verify.py", &[&verify, &report]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    insta::assert_snapshot!("verify_passing_stdout", ran.stdout);
    insta::assert_snapshot!(
        "verify_passing_report",
        std::fs::read_to_string(&report).unwrap()
    );

    // An incremental verify: the modules of unchanged distributions (beta, and
    // Omega_Lib by its normalized name) are not imported again; `json` is requested,
    // so it is imported whatever the list says; every other check runs.
    let mut config: serde_json::Value =
        serde_json::from_str(&verify_json(&installed.lock, "alpha.VALUE == 1")).unwrap();
    config["unchanged"] = serde_json::json!(["beta", "omega-lib", "json"]);
    std::fs::write(&verify, config.to_string()).unwrap();
    let ran = installed.script("verify.py", &[&verify, &report]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    insta::assert_snapshot!("verify_unchanged_stdout", ran.stdout);

    // artifacts: whole files, this machine's versions of pip and Python scrubbed.
    let out = root.join("artifacts");
    let ran = installed.script(
        "artifacts.py",
        &[&installed.lock, &out, &installed.wheel_lock],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    for name in [
        "dependencies.txt",
        "dependency_tree.json",
        "frozen_deps.txt",
        "environment.txt",
        "sbom.cdx.json",
    ] {
        insta::assert_snapshot!(format!("artifacts_{name}"), installed.scrub(&read(name)));
    }
    // The image's SBOM is valid CycloneDX 1.6 as the lock's is.
    crate::audit::validate_cyclonedx(&read("sbom.cdx.json"));
    // Same lock, same bytes.
    let again = root.join("artifacts-again");
    let ran = installed.script(
        "artifacts.py",
        &[&installed.lock, &again, &installed.wheel_lock],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for name in ["dependencies.txt", "dependency_tree.json", "sbom.cdx.json"] {
        assert_eq!(
            std::fs::read(again.join(name)).unwrap(),
            std::fs::read(out.join(name)).unwrap()
        );
    }

    // The real pipdeptree, from its own environment, on the test environment.
    let Some(pipdeptree) = pipdeptree else {
        return;
    };
    let pipdeptree = pipdeptree.join().expect("pipdeptree install");
    let tree = |args: &[&str]| {
        run(Command::new(&pipdeptree)
            .arg("--python")
            .arg(&installed.python)
            .args(args)
            .current_dir(root)
            .env("PYTHONIOENCODING", "utf-8"))
    };
    let text = tree(&["--warn", "silence"]);
    assert_eq!(text, read("dependencies.txt"));
    let json = tree(&["--json-tree"]);
    let theirs: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&read("dependency_tree.json")).unwrap();
    assert_eq!(theirs, ours);
    assert_eq!(json, read("dependency_tree.json"), "byte for byte too");
}

fn verify_json(lock: &Path, check: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "profile": "test-cpu",
        "lock": lock,
        "imports": ["json"],
        "skip_imports": ["zeta_speedups"],
        "assertions": [
            {"name": "alpha value", "check": check, "gpu_only": false},
            {"name": "etree submodule", "check": "xml.etree.ElementTree.VERSION >= '1.3'", "gpu_only": false},
            {"name": "cuda available", "check": "torch.cuda.is_available()", "gpu_only": true},
        ],
    }))
    .unwrap()
}

#[test]
fn verify_fails_on_an_extra_package_and_a_false_assertion() {
    if !have_python() {
        return;
    }
    let installed = Installed::new();
    let root = installed.root();
    let (filename, bytes) = WheelSpec {
        files: vec![("stray/__init__.py".into(), b"".to_vec())],
        ..WheelSpec::new("stray", "0.1")
    }
    .build();
    std::fs::write(root.join(&filename), bytes).unwrap();
    run(Command::new(&installed.python)
        .args(["-m", "pip", "install", "--no-index", "--no-deps", "--quiet"])
        .arg(root.join(&filename))
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"));

    let verify = root.join("verify.json");
    std::fs::write(&verify, verify_json(&installed.lock, "alpha.VALUE == 2")).unwrap();
    let report = root.join("report.json");
    let ran = installed.script("verify.py", &[&verify, &report]);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    insta::assert_snapshot!("verify_failing_stdout", ran.stdout);
    insta::assert_snapshot!(
        "verify_failing_report",
        std::fs::read_to_string(&report).unwrap()
    );
}
