//! Test infrastructure shared by the integration tests: real wheels and sdists, and
//! loopback fixture indexes that behave like PyPI, the PyTorch indexes and Jetson's.

#![allow(dead_code)]

pub mod docker;
pub mod engine_proxy;
pub mod fixture_index;
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
