//! Test infrastructure shared by the integration tests: real wheels and sdists, and
//! loopback fixture indexes that behave like PyPI, the PyTorch indexes and Jetson's.

#![allow(dead_code)]

pub mod fixture_index;
pub mod wheels;

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
