//! `dockgen detect` on fixture hosts: for each directory under `tests/fixtures/detect/`,
//! its `root/` stands for `/` (`--root`), and fake `nvidia-smi`, `rocminfo` and
//! `python3` on an otherwise empty `PATH` print its `nvidia-smi.txt` (the banner),
//! `nvidia-smi-query.csv` (the `--query-gpu` answer), `rocminfo.txt` and `python3.txt`
//! when it has them; a tool it has no file for is not installed. The outputs are
//! captured from real machines (`tests/fixtures/detect/SOURCES.md` says where each
//! comes from); the A100 and RTX 4090 query answers are derived from their captured
//! banners. Every output is snapshotted whole, glibc (this machine's own) redacted.

use crate::support::{dockgen_command, outcome, run};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detect")
}

/// A directory of fake tools for host `name`.
fn fake_tools(name: &str, dir: &Path) -> PathBuf {
    let host = fixtures().join(name);
    let bin = dir.join(format!("{name}-bin"));
    std::fs::create_dir_all(&bin).expect("bin dir");
    let tool = |tool: &str, script: String| {
        let path = bin.join(tool);
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).expect("write a tool");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    let file = |name: &str| host.join(name).is_file().then(|| host.join(name));
    let banner = file("nvidia-smi.txt");
    let query = file("nvidia-smi-query.csv");
    if banner.is_some() || query.is_some() {
        let cat = |path: &Option<PathBuf>| match path {
            Some(path) => format!("exec /bin/cat '{}'", path.display()),
            None => "exit 0".to_string(),
        };
        tool(
            "nvidia-smi",
            format!(
                "case \"$1\" in\n  --query-gpu=*) {} ;;\n  *) {} ;;\nesac\n",
                cat(&query),
                cat(&banner)
            ),
        );
    }
    if let Some(rocminfo) = file("rocminfo.txt") {
        tool(
            "rocminfo",
            format!("exec /bin/cat '{}'\n", rocminfo.display()),
        );
    }
    if let Some(python) = file("python3.txt") {
        tool("python3", format!("exec /bin/cat '{}'\n", python.display()));
    }
    bin
}

/// `dockgen detect ARGS` on host `name`: exit code, stdout (glibc redacted), stderr.
fn detect(name: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = fake_tools(name, dir);
    let (code, stdout, stderr) = outcome(
        dockgen_command(dir)
            .env("PATH", &bin)
            .arg("detect")
            .arg("--root")
            .arg(fixtures().join(name).join("root"))
            .args(args),
    );
    (code, redact(&stdout), stderr)
}

/// This machine's glibc, which the output names, as `glibc [VERSION]`.
fn redact(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.find("glibc ") {
            Some(at) => {
                let rest = &line[at + 6..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                out.push_str(&line[..at]);
                out.push_str("glibc [VERSION]");
                out.push_str(&rest[end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

const HOSTS: [&str; 11] = [
    "a100",
    "rtx4090",
    "h100",
    "rtx4080super",
    "titanv-rtx5880",
    "h100-driver-only",
    "old-driver",
    "jetson-orin",
    "mi300x",
    "none",
    "none-arm64",
];

#[test]
fn every_fixture_host_gets_the_profile_that_fits_and_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = String::new();
    for host in HOSTS {
        let (code, stdout, stderr) = detect(host, dir.path(), &[]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{host}: {stdout}");
        all.push_str(&format!("=== {host}\n{stdout}\n"));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn a_written_profile_loads_and_says_what_differs() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (host, file) in [
        ("titanv-rtx5880", "titan.yaml"),
        ("none-arm64", "arm.yaml"),
        ("a100", "a100.yaml"),
    ] {
        let (code, _, stderr) = detect(host, dir.path(), &["--write", file, "--format", "json"]);
        assert_eq!(code, 0, "{host}: {stderr}");
        assert!(stderr.starts_with("wrote profile `"), "{stderr}");
        let written = std::fs::read_to_string(dir.path().join(file)).expect("written");
        insta::assert_snapshot!(format!("written_{host}"), written);
        // The written profile loads, `extends:` applied.
        let shown =
            run(dockgen_command(dir.path()).args(["profiles", "show", file, "--format", "json"]));
        let profile: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
        match host {
            "titanv-rtx5880" => {
                assert_eq!(
                    profile["accelerator"]["compute_capabilities"],
                    serde_json::json!(["7.0", "8.9"])
                );
                assert_eq!(profile["env"]["TORCH_CUDA_ARCH_LIST"], "7.0 8.9");
            }
            "none-arm64" => {
                assert_eq!(profile["platform"], "linux/arm64");
                assert_eq!(profile["name"], "cpu-arm64");
            }
            _ => assert_eq!(profile["name"], "cuda12-x86_64-host"),
        }
    }
    // The JSON document says the same as the text.
    let (_, stdout, _) = detect("titanv-rtx5880", dir.path(), &["--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(document["extends"], "cuda12-x86_64");
    assert_eq!(document["profile"], "cuda12-x86_64-host");
    assert_eq!(
        document["changes"][0]["field"],
        "accelerator.compute_capabilities"
    );
    assert_eq!(
        document["host"]["nvidia"]["gpus"][0]["name"],
        "NVIDIA TITAN V"
    );
}

#[test]
fn a_profile_is_checked_against_the_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = String::new();
    for (host, profile, expected) in [
        ("a100", "cuda12-x86_64", 0),
        ("rtx4090", "rocm6-x86_64", 1),
        ("titanv-rtx5880", "cuda12-x86_64", 1),
        ("h100-driver-only", "cuda12-x86_64", 0),
        ("old-driver", "cuda12-x86_64", 1),
        ("jetson-orin", "jetson-orin", 1),
        ("jetson-orin", "cpu-x86_64", 1),
        ("mi300x", "rocm6-x86_64", 0),
        ("none", "cuda12-x86_64", 1),
        ("none", "cpu-x86_64", 0),
    ] {
        let (code, stdout, stderr) = detect(host, dir.path(), &["--profile", profile]);
        assert_eq!(code, expected, "{host} {profile}: {stdout}{stderr}");
        assert_eq!(stderr, "");
        all.push_str(&format!(
            "=== {host} --profile {profile}: exit {code}\n{stdout}\n"
        ));
    }
    insta::assert_snapshot!(all);
    let (code, stdout, _) = detect(
        "mi300x",
        dir.path(),
        &["--profile", "rocm6-x86_64", "--format", "json"],
    );
    assert_eq!(code, 0);
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(document["runs"], true);
    assert_eq!(document["host"]["amd"]["gpus"][0]["gfx"], "gfx942");

    // Bad input: exit 2, and nothing printed on stdout.
    let (code, stdout, stderr) = detect("none", dir.path(), &["--profile", "nope"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("cannot load profile `nope`"), "{stderr}");
    let (code, _, stderr) =
        outcome(dockgen_command(dir.path()).args(["detect", "--root", "/nonexistent/root"]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: `--root /nonexistent/root` is not a directory (it stands for `/`)\n"
    );
}
