//! Locks pip would refuse or read otherwise are refused by every audit command, with
//! the file and line: two pins of one package, an editable requirement, another file
//! included, no pins at all.

use std::path::Path;
use std::process::Command;

fn dockgen(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dockgen"))
        .current_dir(dir)
        .env("DOCKGEN_CACHE_DIR", dir.join("cache"))
        .args(args)
        .output()
        .expect("run dockgen");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
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
