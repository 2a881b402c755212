//! The command line as tools other than a person read it: `--format json` of `lock`,
//! `render` and `profiles` (whole documents snapshotted, against a loopback fixture
//! index), shell completions loaded by a real bash (and parsed by zsh when there is
//! one), and manual pages formatted by groff without a warning, each naming every
//! option its command's `--help` names.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::audit::{Scratch, wheel};
use crate::support::fixture_index::FixtureIndex;

fn pure(
    name: &str,
    version: &str,
    requires: &[&str],
) -> crate::support::fixture_index::FixtureFile {
    let module = format!("{}/__init__.py", name.replace('-', "_"));
    wheel(name, version, "py3-none-any", &[&module], requires, &[])
}

/// The document printed, each string redacted as the scratch redacts outputs (the
/// fixtures' addresses, the temp dir, the inputs digest) and the run's time, the only
/// value that moves between runs, replaced.
fn document(scratch: &Scratch, stdout: &str) -> serde_json::Value {
    fn redact(scratch: &Scratch, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = scratch.redact(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact(scratch, v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| redact(scratch, v)),
            _ => {}
        }
    }
    let mut document: serde_json::Value = serde_json::from_str(stdout).expect("JSON on stdout");
    redact(scratch, &mut document);
    if document.get("seconds").is_some() {
        assert!(document["seconds"].as_f64().is_some(), "{document}");
        document["seconds"] = serde_json::json!("[seconds]");
    }
    document
}

fn pretty(document: &serde_json::Value) -> String {
    serde_json::to_string_pretty(document).unwrap()
}

#[test]
fn lock_render_and_profiles_print_json() {
    let pypi = FixtureIndex::builder()
        .project("app-core", vec![pure("app-core", "1.0", &["idna>=3"])])
        .project("idna", vec![pure("idna", "3.10", &[])])
        .project("six", vec![pure("six", "1.16.0", &[])])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&pypi, "pypi");
    scratch.profile("cpu", "cpu-x86_64", &[("pypi", &pypi, &[])]);
    scratch.write("requirements.in", "app-core\n");
    let lock = ["lock", "--profile", "cpu.yaml", "--format", "json"];

    // First run: everything added.
    let first = scratch.dockgen(&lock, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    insta::assert_snapshot!(
        "lock_json_written",
        pretty(&document(&scratch, &first.raw_stdout))
    );
    // Again: the same bytes.
    let again = scratch.dockgen(&lock, &[]);
    let again = document(&scratch, &again.raw_stdout);
    assert_eq!(again["locks"][0]["status"], "unchanged", "{again}");
    assert_eq!(again["locks"][0]["changes"]["added"], serde_json::json!([]));

    // A new requirement: `--check` says stale, with the diff, and exits 1...
    scratch.write("requirements.in", "app-core\nsix\n");
    let check = scratch.dockgen(&[&lock[..], &["--check"]].concat(), &[]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    insta::assert_snapshot!(
        "lock_json_stale",
        pretty(&document(&scratch, &check.raw_stdout))
    );
    // ...and the relock says what it added.
    let relock = document(&scratch, &scratch.dockgen(&lock, &[]).raw_stdout);
    assert_eq!(relock["locks"][0]["status"], "written");
    assert_eq!(relock["locks"][0]["changes"]["added"][0]["name"], "six");

    // `-o` to a stream would mix the lock into the document.
    let mixed = scratch.dockgen(&[&lock[..], &["-o", "/dev/stdout"]].concat(), &[]);
    assert_eq!(mixed.code, 2);
    assert_eq!(mixed.stdout, "");
    assert_eq!(
        mixed.stderr,
        "error: `--format json` prints its document on stdout, but the lock goes to \
         `/dev/stdout`: give `-o` a file path, or leave out `--format json`\n"
    );

    // render: every file written, then unchanged, then one stale under `--check`.
    let render = ["render", "--profile", "cpu.yaml", "--format", "json"];
    let rendered = scratch.dockgen(&render, &[]);
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    insta::assert_snapshot!(
        "render_json_written",
        pretty(&document(&scratch, &rendered.raw_stdout))
    );
    let again: serde_json::Value =
        serde_json::from_str(&scratch.dockgen(&render, &[]).stdout).unwrap();
    let statuses: Vec<&str> = again["plans"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "unchanged"), "{again}");
    scratch.write("build/cpu/.dockerignore", "*\n");
    let check = scratch.dockgen(&[&render[..], &["--check"]].concat(), &[]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    let checked = document(&scratch, &check.raw_stdout);
    let stale: Vec<&serde_json::Value> = checked["plans"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "stale")
        .collect();
    assert_eq!(stale.len(), 1, "{checked}");
    assert_eq!(stale[0]["path"], ".dockerignore");
    assert!(
        stale[0]["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- build/cpu/.dockerignore\n+++ build/cpu/.dockerignore (fresh)\n"),
        "{checked}"
    );

    // profiles: the object of `show` is the entry of `list`, with the YAML's fields.
    let show = scratch.dockgen(&["profiles", "show", "cpu.yaml", "--format", "json"], &[]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["name"], "cpu");
    assert_eq!(shown["indexes"][0]["url"], "http://[pypi]/simple/");
    assert_eq!(shown["python"], "3.11.13");
    let list = scratch.dockgen(&["profiles", "--format", "json"], &[]);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let builtin = scratch.dockgen(&["profiles", "show", "cpu-x86_64", "--format", "json"], &[]);
    let builtin: serde_json::Value = serde_json::from_str(&builtin.stdout).unwrap();
    assert!(listed.as_array().unwrap().contains(&builtin), "{listed}");
}

fn dockgen(args: &[&str]) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let output = crate::support::dockgen_command(scratch.path())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// What bash completes for the words typed so far, with the script `dockgen
/// completions bash` printed loaded.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; \
         _dockgen dockgen \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1
    );
    let output = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut completions: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    completions.sort();
    completions
}

#[test]
fn bash_completes_commands_and_options_from_the_generated_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("dockgen.bash");
    std::fs::write(&script, dockgen(&["completions", "bash"])).unwrap();
    assert_eq!(bash_completes(&script, &["dockgen", "lo"]), ["lock"]);
    assert_eq!(
        bash_completes(&script, &["dockgen", "lock", "--pyl"]),
        ["--pylock"]
    );
    assert_eq!(
        bash_completes(&script, &["dockgen", "build", "--cache-"]),
        ["--cache-dir", "--cache-from"]
    );

    // zsh and fish parse theirs, where they are installed.
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        let script = dir.path().join(format!("dockgen.{shell}"));
        std::fs::write(&script, dockgen(&["completions", shell])).unwrap();
        match Command::new(shell).arg(check).arg(&script).output() {
            Ok(output) => assert!(output.status.success(), "{shell}: {output:?}"),
            Err(_) => eprintln!("{shell} is not installed: its script is not parsed"),
        }
    }
    for shell in ["elvish", "powershell"] {
        assert!(
            dockgen(&["completions", shell]).contains("dockgen"),
            "{shell}"
        );
    }
}

/// `page` formatted by groff as man(1) does, which must say nothing on stderr.
fn groff(page: &[u8]) -> String {
    let mut child = Command::new("groff")
        // No hyphenation, so that every option is one word of the text.
        .args(["-man", "-Tutf8", "-ww", "-rHY=0", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (Debian's groff-base) is installed");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(page).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "groff warned");
    // Justified text: words apart by one space or more.
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn man_pages_format_cleanly_and_name_every_option() {
    let page = dockgen(&["man"]);
    let text = groff(page.as_bytes());
    assert!(
        text.contains("dockgen - Hash-locked Python dependencies"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    dockgen(&["man", "--out-dir", out.to_str().unwrap(), "-q"]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 17, "{names:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("dockgen.1")).unwrap(),
        page
    );
    for command in [
        "lock",
        "render",
        "build",
        "tree",
        "matrix",
        "diff",
        "check",
        "sbom",
        "report",
        "scan",
        "detect",
        "completions",
        "man",
    ] {
        let text = groff(&std::fs::read(out.join(format!("dockgen-{command}.1"))).unwrap());
        let help = dockgen(&[command, "--help"]);
        for option in help
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([',', '.', '`', ')', ':', ';']))
            .filter(|w| {
                w.chars()
                    .skip(2)
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        {
            assert!(
                text.contains(option),
                "dockgen-{command}.1 does not name {option}"
            );
        }
    }
}
