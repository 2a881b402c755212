//! The dependency tree computed from a lock alone (`dockgen::audit::tree`) against the
//! real pipdeptree, 4.2.16 (`View4`, the default) and 2.35.3 (`View`), on the
//! environment the lock installs: a lock is made with the real binary, installed with
//! real pip into a fresh virtual environment that has nothing else (no pip, no
//! setuptools), and each pipdeptree, from an environment of its own, is pointed at it
//! with `--python`.
//!
//! Every layout is compared byte for byte: the default text, `--json-tree`,
//! `--reverse`, `--json`, and `--packages` with and without `--reverse` (and, for 4.x,
//! `--json --reverse` and `--json-tree --reverse` of the whole tree). With one
//! difference that cannot be helped, and is taken out before comparing: pipdeptree
//! prints each distribution's name as its metadata spells it (`PyYAML`,
//! `pydantic_core`), and a lock only has the name its pin spells, which dockgen
//! writes normalized (`pyyaml`, `pydantic-core`). Keys, order, specifiers, layout and
//! everything else are the same; the renamed names are snapshotted, and each must
//! normalize to the name dockgen prints.
//!
//! Two locks: a graph made for the corner cases (a cycle under a root, a cycle nothing
//! else reaches, a package required twice by one parent and by two parents, an edge
//! only through an extra, a root that requires nothing; and for 4.x's extras, a
//! package asking for another's extra, whose requirements ask for a third's, one
//! requirement activated by two extras, and an extra only the input asks for), served
//! by a loopback fixture index; and the `fastapi-optional` example locked against PyPI with
//! `exclude_newer` pinned. Needs `python3` with `venv` and PyPI (for pipdeptree
//! itself); `DOCKGEN_SKIP_PYPI_TESTS=1` skips both.
//!
//! `dockgen tree` itself is run on the committed example lock, with nothing else
//! (no network, no Python).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::thread::JoinHandle;

use dockgen::audit::DependencyTree;
use pep508_rs::PackageName;

use crate::examples::copy_example;
use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::wheels::WheelSpec;
use crate::support::{EXCLUDE_NEWER, dockgen_command, outcome, run};

const PIPDEPTREE_2: &str = "pipdeptree==2.35.3";
const PIPDEPTREE_4: &str = "pipdeptree==4.2.16";

fn skip() -> bool {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return true;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: `python3` is not installed");
        return true;
    }
    false
}

/// A virtual environment with pipdeptree `requirement` (and pip), made on a thread of
/// its own while the lock is made: its `bin/` directory.
fn pipdeptree_env(dir: &Path, requirement: &'static str) -> JoinHandle<PathBuf> {
    let venv = dir.join(requirement.replace("==", "-"));
    std::thread::spawn(move || {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run(Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--only-binary",
            ":all:",
            "--disable-pip-version-check",
            requirement,
        ]));
        venv.join("bin")
    })
}

/// A fresh environment without pip holding exactly what `lock` pins, installed as the
/// image installs it (hashes required, no dependency resolution by pip); its python.
fn install(tools: &Path, lock: &Path, dir: &Path) -> PathBuf {
    let venv = dir.join("target-venv");
    run(Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv));
    let python = venv.join("bin/python");
    run(Command::new(tools.join("python"))
        .args(["-m", "pip", "--python"])
        .arg(&python)
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--require-hashes",
            "--no-deps",
            "-r",
        ])
        .arg(lock));
    python
}

/// `dockgen lock INPUT --profile PROFILE ...` in `dir`; the lock's path.
fn lock(dir: &Path, input: &str, profile: &str, extra: &[&str]) -> PathBuf {
    run(dockgen_command(dir)
        .args(["lock", input, "-q", "--profile", profile])
        .args(extra));
    let stem = Path::new(profile)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("profile stem");
    dir.join(format!("locks/{stem}.txt"))
}

/// Each layout from dockgen (from the lock alone) and from both pipdeptrees (`tools`:
/// 2.x's and 4.x's `bin/`, on `python`) must be the same bytes once pipdeptree's
/// metadata names are replaced by the lock's names. `packages` and `reverse_packages`
/// are `--packages` values to try. Returns the renamed names (`metadata name -> lock
/// name`) and dockgen's text trees, 2.x's then 4.x's.
fn compare(
    tools: [&Path; 2],
    python: &Path,
    lock: &Path,
    packages: &str,
    reverse_packages: &str,
) -> (String, [String; 2]) {
    let tree = DependencyTree::from_lock(&dockgen::lock::read(lock).expect("read the lock"));
    let pipdeptree_of = |tools: &Path, args: &[&str]| {
        run(Command::new(tools.join("pipdeptree"))
            .arg("--python")
            .arg(python)
            .args(args)
            .env("PYTHONIOENCODING", "utf-8"))
    };
    let pipdeptree = |args: &[&str]| pipdeptree_of(tools[0], args);

    // The names pipdeptree prints, from its flat JSON: each must be the lock's name
    // (normalized) spelled as the distribution's metadata spells it.
    let flat: serde_json::Value = serde_json::from_str(&pipdeptree(&["--json"])).unwrap();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    for entry in flat.as_array().expect("a list") {
        let name = entry["package"]["package_name"].as_str().expect("a name");
        let key = entry["package"]["key"].as_str().expect("a key");
        let locked = tree
            .node(&PackageName::from_str(key).expect("a package name"))
            .unwrap_or_else(|| panic!("`{name}` is installed but not in the lock's tree"));
        assert_eq!(
            PackageName::from_str(name).unwrap(),
            locked.key,
            "`{name}` is not `{}` normalized",
            locked.name
        );
        if name != locked.name {
            renamed.insert(name.to_string(), locked.name.clone());
        }
    }
    assert_eq!(
        flat.as_array().unwrap().len(),
        tree.nodes().count(),
        "the environment holds exactly the lock"
    );
    let as_locked = |text: String| rename(&text, &renamed);

    let list =
        |patterns: &str| -> Vec<String> { patterns.split(',').map(str::to_string).collect() };
    let forward = tree.view(false, Some(&list(packages))).unwrap();
    let reverse = tree.view(true, Some(&list(reverse_packages))).unwrap();
    let layouts: Vec<(Vec<&str>, String)> = vec![
        (vec!["--warn", "silence"], tree.render_text()),
        (vec!["--json-tree"], tree.render_json_tree()),
        (
            vec!["--reverse", "--warn", "silence"],
            tree.render_reverse_text(),
        ),
        (vec!["--json"], tree.render_json()),
        (
            vec!["--packages", packages, "--warn", "silence"],
            forward.render_text(),
        ),
        (
            vec!["--json-tree", "--packages", packages],
            forward.render_json_tree(),
        ),
        (
            vec![
                "--reverse",
                "--packages",
                reverse_packages,
                "--warn",
                "silence",
            ],
            reverse.render_text(),
        ),
        (
            vec!["--json-tree", "--reverse", "--packages", reverse_packages],
            reverse.render_json_tree(),
        ),
    ];
    for (args, ours) in layouts {
        let theirs = as_locked(pipdeptree(&args));
        assert!(
            ours.lines().count() > 1,
            "pipdeptree {args:?}: nothing shown"
        );
        assert_eq!(ours, theirs, "pipdeptree 2 {args:?}");
    }

    let view4 = |reverse: bool, patterns: Option<&str>| {
        tree.view4(reverse, patterns.map(list).as_deref()).unwrap()
    };
    let layouts: Vec<(Vec<&str>, String)> = vec![
        (vec!["--warn", "silence"], view4(false, None).render_text()),
        (vec!["--json-tree"], view4(false, None).render_json_tree()),
        (vec!["--json"], view4(false, None).render_json()),
        (
            vec!["--reverse", "--warn", "silence"],
            view4(true, None).render_text(),
        ),
        (
            vec!["--json-tree", "--reverse"],
            view4(true, None).render_json_tree(),
        ),
        (vec!["--json", "--reverse"], view4(true, None).render_json()),
        (
            vec!["--packages", packages, "--warn", "silence"],
            view4(false, Some(packages)).render_text(),
        ),
        (
            vec!["--json-tree", "--packages", packages],
            view4(false, Some(packages)).render_json_tree(),
        ),
        (
            vec![
                "--reverse",
                "--packages",
                reverse_packages,
                "--warn",
                "silence",
            ],
            view4(true, Some(reverse_packages)).render_text(),
        ),
        (
            vec!["--json-tree", "--reverse", "--packages", reverse_packages],
            view4(true, Some(reverse_packages)).render_json_tree(),
        ),
    ];
    for (args, ours) in layouts {
        let theirs = as_locked(pipdeptree_of(tools[1], &args));
        assert!(
            ours.lines().count() > 1,
            "pipdeptree {args:?}: nothing shown"
        );
        assert_eq!(ours, theirs, "pipdeptree 4 {args:?}");
    }
    let renamed = renamed
        .iter()
        .map(|(from, to)| format!("{from} -> {to}\n"))
        .collect();
    (
        renamed,
        [tree.render_text(), view4(false, None).render_text()],
    )
}

/// Once both pipdeptree environments are made, `lock` installed into a fresh one in
/// `dir` and [`compare`]d.
fn installed_and_compared(
    tools: [JoinHandle<PathBuf>; 2],
    lock: &Path,
    dir: &Path,
    packages: &str,
    reverse_packages: &str,
) -> (String, [String; 2]) {
    let [tools2, tools4] = tools.map(|tools| tools.join().expect("pipdeptree environment"));
    let python = install(&tools2, lock, dir);
    compare(
        [&tools2, &tools4],
        &python,
        lock,
        packages,
        reverse_packages,
    )
}

/// `text` with every word (a run of name characters) that is a key of `names`
/// replaced by its value. Versions and specifiers never equal a distribution's name.
fn rename(text: &str, names: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(names.get(word.as_str()).unwrap_or(word));
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn wheel(name: &str, version: &str, requires: &[&str], extras: &[&str]) -> FixtureFile {
    let mut spec = WheelSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    spec.provides_extra = extras.iter().map(|e| e.to_string()).collect();
    FixtureFile::from_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

#[test]
fn tree_of_a_fixture_graph_is_pipdeptree_s() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tools = [
        pipdeptree_env(dir.path(), PIPDEPTREE_2),
        pipdeptree_env(dir.path(), PIPDEPTREE_4),
    ];
    let project = |name: &str, files| (name.to_string(), files);
    let projects = [
        project(
            "app",
            wheel(
                "app",
                "1.0",
                &[
                    "lib<3,>=1.0",
                    "lib!=2.1",
                    "tool",
                    "PyYAML>=5.1; extra == 'yaml'",
                    "tool; extra == 'yaml'",
                ],
                &["yaml"],
            ),
        ),
        project("lib", wheel("lib", "2.0", &["leaf<1"], &[])),
        project("tool", wheel("tool", "3.1", &["leaf"], &[])),
        project("leaf", wheel("leaf", "0.5", &[], &[])),
        project("pyyaml", wheel("PyYAML", "6.0.2", &[], &[])),
        project("alone", wheel("alone", "1.0", &[], &[])),
        project("ring", wheel("ring", "1.0", &["ring-a==1.0"], &[])),
        project("ring-a", wheel("ring-a", "1.0", &["ring-b"], &[])),
        project("ring-b", wheel("ring-b", "1.0", &["ring-a>=1"], &[])),
        project("loop-x", wheel("loop-x", "1.0", &["loop-y"], &[])),
        project("loop-y", wheel("loop-y", "1.0", &["loop-x"], &[])),
        // 4.x's extras: `web` asks for `server[standard]`, whose `speedup[turbo]` asks
        // for `speedup`'s; `both` comes through two extras; `server[dev]` only the
        // input asks for.
        project("web", wheel("web", "1.0", &["server[standard]>=1.0"], &[])),
        project(
            "server",
            wheel(
                "server",
                "1.0",
                &[
                    "core",
                    "speedup[turbo]; extra == 'standard'",
                    "dotenv>=1; extra == 'standard'",
                    "both; extra == 'standard' or extra == 'dev'",
                    "devtool; extra == 'dev'",
                ],
                &["standard", "dev"],
            ),
        ),
        project(
            "speedup",
            wheel("speedup", "2.0", &["jit; extra == 'turbo'"], &["turbo"]),
        ),
        project("jit", wheel("jit", "0.3", &[], &[])),
        project("dotenv", wheel("dotenv", "1.1", &[], &[])),
        project("both", wheel("both", "1.0", &[], &[])),
        project("devtool", wheel("devtool", "1.0", &[], &[])),
        project("core", wheel("core", "1.0", &[], &[])),
    ];
    let mut index = FixtureIndex::builder();
    for (name, file) in projects {
        index = index.project(&name, vec![file]);
    }
    let index = index.start();
    std::fs::write(
        dir.path().join("tree-test.yaml"),
        format!(
            "name: tree-test\nextends: cpu-x86_64\nindexes:\n  - name: fixture\n    url: {}\n",
            index.url()
        ),
    )
    .expect("profile");
    std::fs::write(
        dir.path().join("requirements.in"),
        "app[yaml]\nalone\nring\nloop-x\nweb\nserver[dev]\n",
    )
    .expect("requirements");
    let lock = lock(dir.path(), "requirements.in", "tree-test.yaml", &[]);
    insta::assert_snapshot!(
        "fixture_graph_lock_via",
        std::fs::read_to_string(&lock)
            .expect("lock")
            .lines()
            .filter(|line| {
                (line.contains("==") && !line.starts_with('#')) || line.starts_with("    #")
            })
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (renamed, [text2, text4]) = installed_and_compared(
        tools,
        &lock,
        dir.path(),
        "LIB,tool,ring_*,speed*",
        "leaf,ring-?,jit",
    );
    assert_eq!(renamed, "PyYAML -> pyyaml\n");
    insta::assert_snapshot!("fixture_graph_text", text2);
    insta::assert_snapshot!("fixture_graph_text_4", text4);
}

#[test]
fn tree_of_a_locked_example_is_pipdeptree_s() {
    if skip() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let tools = [
        pipdeptree_env(scratch.path(), PIPDEPTREE_2),
        pipdeptree_env(scratch.path(), PIPDEPTREE_4),
    ];
    let dir = copy_example("fastapi-optional", scratch.path());
    let lock = lock(
        &dir,
        "requirements.in",
        "cpu-x86_64",
        &["--exclude-newer", EXCLUDE_NEWER],
    );
    let (renamed, [text2, text4]) = installed_and_compared(
        tools,
        &lock,
        scratch.path(),
        "fastapi,uvicorn,sqlalchemy",
        "typing-extensions,idna",
    );
    insta::assert_snapshot!("example_renamed", renamed);
    insta::assert_snapshot!("example_text", text2);
    insta::assert_snapshot!("example_text_4", text4);
}

/// `dockgen TREE ARGS` in `dir`: exit code, stdout, stderr.
fn dockgen_tree(dir: &Path, args: &[&str]) -> (i32, String, String) {
    outcome(dockgen_command(dir).arg("tree").args(args))
}

/// `dockgen tree` reads the lock and nothing else (no network, no environment): the
/// committed lock of `fastapi-optional` gives the tree pipdeptree confirmed above.
#[test]
fn tree_command_reads_only_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let committed = crate::examples::examples_dir().join("fastapi-optional/locks/cpu-x86_64.txt");
    std::fs::create_dir_all(dir.path().join("locks")).expect("locks dir");
    std::fs::copy(&committed, dir.path().join("locks/cpu-x86_64.txt")).expect("copy lock");
    let ok = |args: &[&str]| {
        let (code, stdout, stderr) = dockgen_tree(dir.path(), args);
        assert_eq!(code, 0, "dockgen tree {args:?}: {stderr}");
        assert_eq!(stderr, "");
        stdout
    };
    insta::assert_snapshot!("example_text_4", ok(&[]));
    insta::assert_snapshot!("example_text", ok(&["--pipdeptree", "2"]));

    let tree = DependencyTree::from_lock(&dockgen::lock::read(&committed).unwrap());
    let patterns = vec!["Typing_Extensions".to_string(), "h1?".to_string()];
    let whole = tree.view4(false, None).unwrap();
    assert_eq!(ok(&["--json-tree"]), whole.render_json_tree());
    assert_eq!(ok(&["--format", "json-tree"]), whole.render_json_tree());
    assert_eq!(ok(&["--json"]), whole.render_json());
    assert_eq!(
        ok(&["--json", "--reverse"]),
        tree.view4(true, None).unwrap().render_json()
    );
    assert_eq!(
        ok(&["--reverse", "--packages", "Typing_Extensions,h1?"]),
        tree.view4(true, Some(&patterns)).unwrap().render_text()
    );
    assert_eq!(
        ok(&["--pipdeptree", "2", "--json-tree"]),
        tree.render_json_tree()
    );
    assert_eq!(
        ok(&[
            "--pipdeptree",
            "2",
            "--reverse",
            "--packages",
            "Typing_Extensions,h1?"
        ]),
        tree.view(true, Some(&patterns)).unwrap().render_text()
    );
    assert_eq!(
        ok(&["--lock", "locks/cpu-x86_64.txt", "--packages", "starlette"]),
        "starlette==0.47.3\n\
         ├── anyio [required: >=3.6.2,<5, installed: 4.10.0]\n\
         │   ├── idna [required: >=2.8, installed: 3.10]\n\
         │   ├── sniffio [required: >=1.1, installed: 1.3.1]\n\
         │   └── typing-extensions [required: >=4.5, installed: 4.15.0]\n\
         └── typing-extensions [required: >=4.10.0, installed: 4.15.0]\n"
    );

    let fails = |args: &[&str]| {
        let (code, stdout, stderr) = dockgen_tree(dir.path(), args);
        assert_eq!((code, stdout.as_str()), (2, ""), "dockgen tree {args:?}");
        stderr
    };
    insta::assert_snapshot!(
        [
            fails(&["--packages", "starlette,nothing*"]),
            fails(&["--pipdeptree", "2", "--reverse", "--json"]),
            fails(&["--profile", "jetson-orin"]),
        ]
        .concat(),
        @r"
    error: `--packages` in `locks/cpu-x86_64.txt`: No packages matched using the following patterns: nothing*
    error: pipdeptree's `--json --reverse` names each package with whichever requirement on it came first in the environment's file order, which a lock cannot reproduce; use `--json-tree --reverse`
    error: cannot read the lock `locks/jetson-orin.txt`: run `dockgen lock --profile jetson-orin` first: No such file or directory (os error 2)
    "
    );
}
