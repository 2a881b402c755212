//! Tests for the target environment: tags against `packaging` fixtures, markers, wheel ranking.

use std::path::Path;

use super::*;
use crate::input::profile::{self, Profile};

#[derive(serde::Deserialize)]
struct Fixture {
    platform: String,
    python: String,
    libc: String,
    tags: Vec<String>,
}

fn fixture(name: &str) -> Fixture {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/tags/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The profile's tags must be packaging's, whole and in order; a fixture made for
/// other target parameters than the profile's is stale and fails too.
fn assert_tags_match(profile: &Profile, fixture_name: &str) {
    let fixture = fixture(fixture_name);
    assert_eq!(
        (
            fixture.platform.as_str(),
            fixture.python.as_str(),
            fixture.libc.as_str()
        ),
        (
            profile.platform.to_string().as_str(),
            profile.python.to_string().as_str(),
            profile.libc.to_string().as_str()
        ),
        "fixture `{fixture_name}` was generated for another target: update TARGETS in generate.py and rerun it"
    );
    let target = Target::from_profile(profile).unwrap();
    let ours: Vec<String> = target.tags.iter().map(ToString::to_string).collect();
    if ours != fixture.tags {
        let first = ours.iter().zip(&fixture.tags).position(|(a, b)| a != b);
        panic!(
            "{fixture_name}: {} tags, packaging gives {}; first difference at {first:?}",
            ours.len(),
            fixture.tags.len()
        );
    }
}

#[test]
fn builtin_tags_match_packaging() {
    for name in profile::builtin_names() {
        assert_tags_match(&profile::builtin(name).unwrap(), name);
    }
}

fn profile_from(yaml: &str) -> Profile {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    profile::load("p.yaml", dir.path()).unwrap()
}

#[test]
fn musl_aarch64_tags_match_packaging() {
    let profile = profile_from(
        "extends: cpu-x86_64\nplatform: linux/arm64\npython: 3.12.4\nlibc: musl 1.2\n",
    );
    assert_tags_match(&profile, "extra-musl-aarch64");
}

#[test]
fn oldest_manylinux_tags_match_packaging() {
    let profile = profile_from("extends: cpu-x86_64\npython: 3.8.18\nlibc: glibc 2.17\n");
    assert_tags_match(&profile, "extra-glibc217-py38");
}

#[test]
fn marker_environments() {
    for name in profile::builtin_names() {
        let target = Target::from_profile(&profile::builtin(name).unwrap()).unwrap();
        let json = serde_json::to_string_pretty(&target.markers).unwrap();
        insta::assert_snapshot!(format!("markers_{name}"), json);
    }
}

#[test]
fn markers_evaluate_for_the_target_not_the_host() {
    let jetson = Target::from_profile(&profile::builtin("jetson-orin").unwrap()).unwrap();
    let cpu = Target::from_profile(&profile::builtin("cpu-x86_64").unwrap()).unwrap();
    let marker = |text: &str| {
        let req = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(&format!("x; {text}"))
            .unwrap();
        (
            req.marker.evaluate(&jetson.markers, &[]),
            req.marker.evaluate(&cpu.markers, &[]),
        )
    };
    assert_eq!(marker("platform_machine == 'aarch64'"), (true, false));
    assert_eq!(marker("python_version < '3.11'"), (true, false));
    assert_eq!(marker("python_full_version >= '3.10.12'"), (true, true));
    assert_eq!(
        marker("sys_platform == 'linux' and os_name == 'posix'"),
        (true, true)
    );
    assert_eq!(marker("implementation_name == 'cpython'"), (true, true));
}

use std::str::FromStr;

#[test]
fn wheel_rank_follows_tag_order() {
    let target = Target::from_profile(&profile::builtin("cuda12-x86_64").unwrap()).unwrap();
    let rank = |file: &str| {
        // `name-version-interp-abi-platform.whl`, compressed tag sets split on `.`.
        let stem = file.strip_suffix(".whl").unwrap();
        let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
        target.wheel_rank(parts[2], parts[1], parts[0])
    };
    let position = |tag: &str| target.tags.iter().position(|t| t.to_string() == tag);

    // The compressed tag set ranks as its best member.
    assert_eq!(
        rank("numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        position("cp311-cp311-manylinux_2_17_x86_64")
    );
    assert_eq!(
        rank("torch-2.4.0+cu124-cp311-cp311-linux_x86_64.whl"),
        Some(0),
        "the native linux tag is the most preferred"
    );
    assert_eq!(
        rank("cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"),
        position("cp39-abi3-manylinux_2_28_x86_64")
    );
    assert_eq!(
        rank("six-1.16.0-py2.py3-none-any.whl"),
        position("py3-none-any")
    );
    assert!(
        rank("six-1.16.0-py2.py3-none-any.whl")
            > rank("numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    );

    // Not installable on this target.
    for foreign in [
        "numpy-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl",
        "numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "numpy-2.0.0-cp311-cp311-manylinux_2_39_x86_64.whl",
        "numpy-2.0.0-cp311-cp311-musllinux_1_2_x86_64.whl",
        "numpy-2.0.0-cp311-cp311-win_amd64.whl",
        "new-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
        "futures-3.0-py2-none-any.whl",
    ] {
        assert_eq!(rank(foreign), None, "{foreign}");
    }
}

#[test]
fn wheel_rank_agrees_with_a_linear_scan() {
    let target = Target::from_profile(&profile::builtin("jetson-orin").unwrap()).unwrap();
    let interps = ["cp310", "py3", "cp39", "pp310"];
    let abis = ["cp310", "abi3", "none"];
    let platforms = [
        "manylinux_2_28_aarch64",
        "manylinux2014_aarch64",
        "any",
        "linux_x86_64",
    ];
    let expected = target.tags.iter().position(|t| {
        interps.contains(&t.interpreter.as_str())
            && abis.contains(&t.abi.as_str())
            && platforms.contains(&t.platform.as_str())
    });
    assert!(expected.is_some());
    assert_eq!(
        target.wheel_rank(&interps.join("."), &abis.join("."), &platforms.join(".")),
        expected
    );
}
