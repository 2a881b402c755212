//! Locks pip would refuse or read otherwise are refused by every audit command, with
//! the file and line: two pins of one package, an editable requirement, another file
//! included, no pins at all.

use std::path::Path;

fn dockgen(dir: &Path, args: &[&str]) -> (i32, String, String) {
    crate::support::outcome(crate::support::dockgen_command(dir).args(args))
}

const GOOD: &str = "six==1.16.0 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n";

#[test]
fn audit_commands_refuse_what_pip_reads_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "double.txt",
            format!("{GOOD}idna==3.10\nSix==1.17.0\n"),
            "double.txt:4: `six` is pinned again (first on line 1)",
        ),
        (
            "editable.txt",
            format!("{GOOD}-e ./src/app\n"),
            "editable.txt:3: `-e ./src/app`: an editable requirement cannot be locked by hash",
        ),
        (
            "include.txt",
            format!("-r more.txt\n{GOOD}"),
            "include.txt:1: `-r more.txt`: a lock includes no other file",
        ),
        (
            "empty.txt",
            String::new(),
            "empty.txt` is not a lock: it pins no package",
        ),
    ];
    std::fs::write(dir.path().join("good.txt"), GOOD).expect("write");
    for (file, text, said) in cases {
        std::fs::write(dir.path().join(file), text).expect("write");
        for args in [
            &["tree", "--lock", file][..],
            &["sbom", "--offline", "--lock", file],
            &["check", "--offline", "--lock", file],
            &["diff", "good.txt", file],
        ] {
            let (code, stdout, stderr) = dockgen(dir.path(), args);
            assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
            assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
            assert!(stderr.contains(said), "{args:?}: {stderr}");
        }
    }
}

/// `check` on a lock that pip reads otherwise than every audit view: a
/// `--trusted-host` option and pins with markers, against a loopback index (the lock's
/// own and the profile's) that serves the pinned files. Errors, so exit 1, each naming
/// the lock's line.
#[test]
fn check_reports_trusted_hosts_and_markers() {
    use crate::support::fixture_index::{FixtureFile, FixtureIndex};
    use crate::support::wheels::WheelSpec;

    let dir = crate::audit::Scratch::new();
    let wheel = |name: &str| {
        FixtureFile::from_spec(&WheelSpec::new(name, "1.0")).uploaded("2024-06-01T00:00:00Z")
    };
    let (alpha, beta, gamma) = (wheel("alpha"), wheel("beta"), wheel("gamma"));
    let index = FixtureIndex::builder()
        .project("alpha", vec![alpha.clone()])
        .project("beta", vec![beta.clone()])
        .project("gamma", vec![gamma.clone()])
        .start();
    let lock = format!(
        "--index-url {url}\n--trusted-host 127.0.0.1\n\
         alpha==1.0 ; sys_platform == \"win32\" \\\n    --hash=sha256:{a}\n\
         beta==1.0 ; python_version >= \"3.8\" \\\n    --hash=sha256:{b}\n\
         gamma==1.0 \\\n    --hash=sha256:{c}\n",
        url = index.url(),
        a = alpha.sha256(),
        b = beta.sha256(),
        c = gamma.sha256(),
    );
    dir.profile("fixture", "cpu-x86_64", &[("fixture", &index, &[])]);
    std::fs::write(dir.path().join("lock.txt"), lock).expect("lock");
    let (code, stdout, stderr) = dockgen(
        dir.path(),
        &["check", "--profile", "fixture.yaml", "--lock", "lock.txt"],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    insta::assert_snapshot!(stdout);
}

/// `lock` keeps the pins of an existing lock, so it reads it first: an empty file
/// there (or `-o /dev/null`) is nothing to keep, not an error, and a device is written
/// to, not replaced.
#[test]
fn lock_onto_an_empty_file_or_a_device() {
    let (dir, _index) = alpha_project();
    std::fs::write(dir.path().join("empty.txt"), "").expect("empty");
    for output in ["empty.txt", "/dev/null"] {
        let (code, _, stderr) = dockgen(
            dir.path(),
            &[
                "lock",
                "requirements.in",
                "-q",
                "--profile",
                "fixture.yaml",
                "-o",
                output,
            ],
        );
        assert_eq!(code, 0, "-o {output}: {stderr}");
    }
    let lock = std::fs::read_to_string(dir.path().join("empty.txt")).expect("lock");
    assert!(lock.contains("\nalpha==1.0 \\\n"), "{lock}");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .expect("/dev/null")
            .file_type()
            .is_char_device()
    );
}

/// `-o /dev/stdout` is the process's own stdout, whatever it is: a pipe gets the lock
/// (and is never read for earlier pins: that would wait for ever), a shell's `>> file`
/// keeps what the file held. `--pylock` beside a device is refused, not written into
/// `/dev`; a directory is named as one.
#[test]
fn lock_and_sbom_onto_stdout_a_device_or_a_directory() {
    let (dir, _index) = alpha_project();
    let lock_args = ["lock", "requirements.in", "-q", "--profile", "fixture.yaml"];

    // A pipe: `output()` gives the child a pipe for stdout.
    let run = crate::support::output_within(
        crate::support::dockgen_command(dir.path())
            .args(lock_args)
            .args(["-o", "/dev/stdout"]),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(printed.contains("\nalpha==1.0 \\\n"), "{printed}");

    // A shell's `>> app.json`: the file is the child's stdout, opened for appending.
    let (code, _, stderr) = dockgen(dir.path(), &lock_args);
    assert_eq!(code, 0, "{stderr}");
    let app = dir.path().join("app.json");
    std::fs::write(&app, "PRE\n").expect("app.json");
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(&app)
        .expect("open app.json");
    let status = crate::support::dockgen_command(dir.path())
        .args([
            "sbom",
            "--profile",
            "fixture.yaml",
            "-q",
            "-o",
            "/dev/stdout",
        ])
        .stdout(appended)
        .status()
        .expect("run dockgen");
    assert!(status.success());
    let text = std::fs::read_to_string(&app).expect("app.json");
    assert!(text.starts_with("PRE\n{\n"), "{text}");
    assert!(text.contains("\"bomFormat\": \"CycloneDX\""), "{text}");

    let (code, _, stderr) = dockgen(
        dir.path(),
        &[&lock_args[..], &["--pylock", "-o", "/dev/null"]].concat(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "error: `--pylock` writes `pylock.fixture.toml` beside the lock, but `/dev/null` is a \
         device or a stream: give `-o` a file path, or leave out `--pylock`\n"
    );
    assert!(!Path::new("/dev/pylock.fixture.toml").exists());

    std::fs::create_dir(dir.path().join("outdir")).expect("outdir");
    let (code, _, stderr) = dockgen(dir.path(), &[&lock_args[..], &["-o", "outdir"]].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write the lock `")
            && stderr.ends_with("/outdir`: it is a directory\n"),
        "{stderr}"
    );
}

/// A scratch project whose `requirements.in` asks for `alpha`, and a profile
/// `fixture.yaml` whose one index (kept alive by the returned server) serves it.
fn alpha_project() -> (
    crate::audit::Scratch,
    crate::support::fixture_index::FixtureIndex,
) {
    use crate::support::fixture_index::{FixtureFile, FixtureIndex};
    use crate::support::wheels::WheelSpec;

    let dir = crate::audit::Scratch::new();
    let index = FixtureIndex::builder()
        .project(
            "alpha",
            vec![
                FixtureFile::from_spec(&WheelSpec::new("alpha", "1.0"))
                    .uploaded("2024-06-01T00:00:00Z"),
            ],
        )
        .start();
    dir.profile("fixture", "cpu-x86_64", &[("fixture", &index, &[])]);
    std::fs::write(dir.path().join("requirements.in"), "alpha\n").expect("input");
    (dir, index)
}
