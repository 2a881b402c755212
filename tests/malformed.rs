//! Malformed inputs and malformed index metadata, end to end: the real binary must
//! answer each with an error naming the file and line (exit 2), or set a broken index
//! version aside and carry on, and never panic (exit 101) or hang. Every run has a
//! deadline: a hang fails the test instead of stalling the suite.

use std::process::Stdio;
use std::time::Duration;

use crate::audit::{Scratch, lock_text, pin, wheel};
use crate::support::fixture_index::{Api, FixtureFile, FixtureIndex};

/// What one run did: exit code and both outputs, with the scratch dir and fixture
/// addresses replaced.
struct Run {
    code: i32,
    stderr: String,
}

/// `dockgen ARGS` in the scratch dir as [`Scratch::dockgen`] runs it, killed and failed
/// after `deadline`.
fn dockgen_within(scratch: &Scratch, args: &[&str], deadline: Duration) -> Run {
    let mut command = crate::support::dockgen_command(scratch.path());
    command.args(args).stdin(Stdio::null());
    let output = crate::support::output_within(&mut command, deadline);
    Run {
        code: output.status.code().unwrap_or(-1),
        stderr: scratch.redact(&String::from_utf8_lossy(&output.stderr)),
    }
}

const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn requirement_names_that_made_the_parser_panic_are_errors_at_their_line() {
    let scratch = Scratch::new();
    scratch.write("requirements.in", "numpy\n\nalpha-==1\n");
    scratch.write(
        "pyproject.toml",
        "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\n  \"numpy\",\n  \"beta.[gpu]>=1\",\n]\n",
    );
    scratch.write("ok.in", "numpy\n");
    scratch.write("overrides.txt", "# pins\ngamma[cpu-]==2\n");
    let mut out = String::new();
    for args in [
        &["lock", "requirements.in", "--offline"][..],
        &["lock", "pyproject.toml", "--offline"],
        &["lock", "ok.in", "--override", "overrides.txt", "--offline"],
    ] {
        let run = dockgen_within(&scratch, args, DEADLINE);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        out.push_str(&format!("$ dockgen {}\n{}\n", args.join(" "), run.stderr));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn oversized_and_undecodable_inputs_are_errors_naming_the_file() {
    let scratch = Scratch::new();
    scratch.write("zero.in", "numpy\n-r /dev/zero\n");
    std::fs::write(
        scratch.path().join("latin1.in"),
        b"numpy\n# caf\xe9\nrequests\n",
    )
    .expect("write");
    scratch.write("ok.in", "numpy\n");
    let mut out = String::new();
    for args in [
        &["lock", "zero.in", "--offline"][..],
        &["lock", "latin1.in", "--offline"],
        &["lock", "ok.in", "--profile", "/dev/zero", "--offline"],
        &["check", "--lock", "/dev/zero", "--offline"],
    ] {
        let run = dockgen_within(&scratch, args, DEADLINE);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        out.push_str(&format!("$ dockgen {}\n{}\n", args.join(" "), run.stderr));
    }
    insta::assert_snapshot!(out);
}

/// An index whose newest `app` says `Requires-Dist: beta-==1`, as a wheel's METADATA
/// might: pep508_rs panicked on it in a resolver thread, and `lock` hung.
fn index_with_a_broken_release(with_good_release: bool) -> FixtureIndex {
    let pure = |name: &str, version: &str, requires: &[&str]| -> FixtureFile {
        wheel(name, version, "py3-none-any", &[], requires, &[]).uploaded("2024-06-01T00:00:00Z")
    };
    let mut app = vec![pure("app", "2.0", &["beta-==1", "lib"])];
    if with_good_release {
        app.push(pure("app", "1.0", &["lib"]));
    }
    FixtureIndex::builder()
        .api(Api::Json)
        .project("app", app)
        .project("lib", vec![pure("lib", "1.0", &[])])
        .project("beta", vec![pure("beta", "1", &[])])
        .start()
}

fn scratch_for(index: &FixtureIndex) -> Scratch {
    let mut scratch = Scratch::new();
    scratch.label(index, "index");
    scratch.profile("cpu", "cpu-x86_64", &[("pypi", index, &[])]);
    scratch.write("requirements.in", "app\n");
    scratch
}

#[test]
fn a_release_with_broken_metadata_is_set_aside_and_lock_moves_on() {
    let index = index_with_a_broken_release(true);
    let scratch = scratch_for(&index);
    let run = dockgen_within(
        &scratch,
        &["lock", "requirements.in", "--profile", "cpu.yaml"],
        DEADLINE,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lock = scratch.read("locks/cpu.txt");
    assert!(lock.contains("\napp==1.0 \\\n"), "{lock}");
    assert!(!lock.contains("app==2.0"), "{lock}");
    let warning: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("set aside"))
        .collect();
    insta::assert_snapshot!(warning.join("\n"));
}

#[test]
fn no_solution_says_why_a_release_was_set_aside() {
    let index = index_with_a_broken_release(false);
    let scratch = scratch_for(&index);
    let run = dockgen_within(
        &scratch,
        &[
            "lock",
            "requirements.in",
            "--profile",
            "cpu.yaml",
            "--quiet",
        ],
        DEADLINE,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!scratch.path().join("locks/cpu.txt").exists());
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn audit_views_of_a_pin_with_broken_metadata_are_errors_not_panics() {
    let index = index_with_a_broken_release(true);
    let scratch = scratch_for(&index);
    let app = wheel("app", "2.0", "py3-none-any", &[], &["beta-==1", "lib"], &[])
        .uploaded("2024-06-01T00:00:00Z");
    let lib = wheel("lib", "1.0", "py3-none-any", &[], &[], &[]).uploaded("2024-06-01T00:00:00Z");
    let pins = [
        pin("app", "2.0", vec![&app], &["-r ../requirements.in"]),
        pin("lib", "1.0", vec![&lib], &["app"]),
    ];
    scratch.write("locks/cpu.txt", &lock_text("cpu", &pins));
    for args in [
        &["check", "--profile", "cpu.yaml"][..],
        &["sbom", "--profile", "cpu.yaml", "-o", "sbom.json"],
        &["report", "--profile", "cpu.yaml", "-o", "report.html"],
    ] {
        let command = args[0];
        let run = dockgen_within(&scratch, args, DEADLINE);
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains("beta-==1"),
            "{command} names the broken requirement: {}",
            run.stderr
        );
    }
}
