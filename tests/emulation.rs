//! An arm64 profile (the Jetson's, with the board's images replaced by a local arm64
//! Debian and torch by numpy from PyPI) built on this x86_64 machine: every step of the
//! build runs under QEMU user emulation, through the engine. The lock is made for
//! aarch64 on the host, numpy's aarch64 wheel is installed and imported in the image,
//! the GPU-only check is reported as skipped, and the image's tree equals the lock's.
//!
//! Needs the engine, the arm64 base image and QEMU's aarch64 handler, which
//! `scripts/test-deps.sh` makes ready (the handler only as root).

use std::path::Path;
use std::process::Command;

use dockgen::build::emulation::{self, Emulation};

use crate::support::docker::{
    ARM64_BASE_IMAGE, build_report_of, check_statuses, dockgen, engine_with_base_image,
    ensure_arm64_base_image, ok,
};
use crate::support::{EXCLUDE_NEWER, redact_digest};

const PROFILE: &str = "orin-test";

/// `orin-test.yaml`: jetson-orin on the local arm64 Debian (Python 3.11.2, glibc 2.36),
/// everything from PyPI.
fn profile_yaml() -> String {
    format!(
        "name: {PROFILE}\n\
         extends: jetson-orin\n\
         python: 3.11.2\n\
         libc: glibc 2.36\n\
         indexes:\n  - name: pypi\n    url: https://pypi.org/simple\n\
         images:\n  builder:\n    image: {ARM64_BASE_IMAGE}\n    system_packages: []\n  \
         runtime:\n    image: {ARM64_BASE_IMAGE}\n    system_packages: []\n\
         verify:\n  imports: [numpy]\n  assertions:\n    \
         - name: runs-on-aarch64\n      check: platform.machine() == \"aarch64\"\n    \
         - name: numpy-computes\n      check: int(numpy.arange(10).sum()) == 45\n    \
         - name: cuda-available\n      check: numpy is None\n      gpu_only: true\n"
    )
}

#[test]
fn an_arm64_profile_builds_and_verifies_under_emulation() {
    if !engine_with_base_image() {
        return;
    }
    // The check `dockgen build` makes before it builds: the handler must be there.
    let emulation = emulation::check(
        "linux/arm64",
        std::env::consts::ARCH,
        true,
        Path::new(emulation::BINFMT_MISC),
    )
    .unwrap_or_else(|why| panic!("{why}\n(scripts/test-deps.sh registers it, as root)"));
    let native = emulation == Emulation::Native;
    ensure_arm64_base_image();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    std::fs::write(dir.path().join("orin-test.yaml"), profile_yaml()).expect("profile");
    std::fs::write(dir.path().join("requirements.in"), "numpy==2.1.3\n").expect("requirements");
    let tag = format!("dockgen-test/orin:{}", std::process::id());

    ok(dockgen(
        dir.path(),
        &cache,
        &[
            "lock",
            "--profile",
            "orin-test.yaml",
            "--exclude-newer",
            EXCLUDE_NEWER,
            "-q",
        ],
    ));
    let lock = std::fs::read_to_string(dir.path().join("locks/orin-test.txt")).expect("lock");
    insta::assert_snapshot!("orin_test_lock", redact_digest(&lock));

    let stderr = ok(dockgen(
        dir.path(),
        &cache,
        &[
            "build",
            "--profile",
            "orin-test.yaml",
            "--progress",
            "plain",
            "--tag",
            &tag,
        ],
    ));
    if !native {
        assert!(
            stderr.contains(
                "building linux/arm64 on this x86_64 engine under QEMU emulation (qemu-aarch64)"
            ),
            "{stderr}"
        );
    }
    let report = build_report_of(dir.path(), PROFILE);
    assert_eq!(report["platform"], "linux/arm64", "{report:#}");
    assert_eq!(
        report["emulation"],
        if native {
            serde_json::Value::Null
        } else {
            "qemu-aarch64".into()
        },
        "{report:#}"
    );
    assert_eq!(report["lock_matches_image"], true, "{report:#}");
    insta::assert_snapshot!(check_statuses(&report), @r"
    passed installed-matches-lock
    passed pip-check
    passed import:numpy
    passed runs-on-aarch64
    passed numpy-computes
    skipped cuda-available
    ");
    let frozen = std::fs::read_to_string(dir.path().join("artifacts/orin-test/frozen_deps.txt"))
        .expect("frozen deps");
    assert_eq!(frozen, "numpy==2.1.3\n");
    let inspect = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            &tag,
        ])
        .output()
        .expect("docker image inspect");
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        "linux/arm64"
    );
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
}
