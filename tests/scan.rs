//! `dockgen scan` end to end: the real binary, Python's own parser (`python3`), and a
//! lock made with the real binary. A fixture project with each case against a loopback
//! fixture index (an import whose distribution has another name, one provided through
//! another locked package, the standard library, the project's own modules, a relative
//! import, optional imports, a known differing import name, a project the index has
//! but the lock does not, a file Python cannot parse, a virtual environment and build
//! output that are skipped, a requirement nothing imports); then a small app against the
//! `fastapi-optional` example locked from PyPI.

use std::path::Path;

use crate::examples::copy_example;
use crate::support::fixture_index::{FixtureFile, FixtureIndex};
use crate::support::wheels::WheelSpec;
use crate::support::{EXCLUDE_NEWER, dockgen_command, outcome, run};

fn wheel(name: &str, version: &str, requires: &[&str], files: &[&str]) -> FixtureFile {
    let mut spec = WheelSpec::new(name, version);
    spec.requires_dist = requires.iter().map(|r| r.to_string()).collect();
    spec.files = files
        .iter()
        .map(|path| (path.to_string(), b"VALUE = 1\n".to_vec()))
        .collect();
    FixtureFile::from_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `dockgen scan ARGS` in `dir`: exit code, stdout, stderr.
fn scan(dir: &Path, args: &[&str]) -> (i32, String, String) {
    outcome(dockgen_command(dir).arg("scan").args(args))
}

#[test]
fn a_fixture_project_s_imports_against_its_lock() {
    let index = FixtureIndex::builder()
        .project(
            "pyyaml",
            vec![wheel("PyYAML", "6.0.2", &[], &["yaml/__init__.py"])],
        )
        .project(
            "webapp-core",
            vec![wheel(
                "webapp-core",
                "1.0",
                &["helper-lib"],
                &["webcore/__init__.py"],
            )],
        )
        .project(
            "helper-lib",
            vec![wheel("helper-lib", "2.0", &[], &["helper_lib.py"])],
        )
        .project(
            "server-cli",
            vec![wheel("server-cli", "0.1", &[], &["server_cli/__init__.py"])],
        )
        .project(
            "requests2",
            vec![wheel("requests2", "1.0", &[], &["requests2/__init__.py"])],
        )
        .start();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "fixture.yaml",
        &format!(
            "name: fixture\nextends: cpu-x86_64\nindexes:\n  - name: fixture\n    url: {}\n",
            index.url()
        ),
    );
    write(
        root,
        "requirements.in",
        "pyyaml\nwebapp-core\nhelper-lib\nserver-cli\n",
    );
    run(dockgen_command(root).args(["lock", "requirements.in", "-q", "--profile", "fixture.yaml"]));

    write(
        root,
        "src/app/main.py",
        "import os\nimport tomllib\nimport yaml\nfrom webcore import VALUE\n\
         from . import sibling\nfrom app.util import helper\nimport helpers\n\
         import cv2\nimport requests2.api\n",
    );
    write(root, "src/app/util.py", "def helper():\n    return 1\n");
    write(root, "src/helpers.py", "X = 1\n");
    write(
        root,
        "src/app/optional.py",
        "try:\n    import ujsonish\nexcept ImportError:\n    import json\n\n\
         def fast():\n    import orjsonish\n    return orjsonish\n",
    );
    write(root, "src/app/legacy.py", "print 'python 2'\n");
    // Skipped: a virtual environment and build output.
    write(root, "src/.venv/pyvenv.cfg", "home = /usr/bin\n");
    write(root, "src/.venv/lib/site.py", "import nothere_venv\n");
    write(root, "src/build/lib/gen.py", "import nothere_build\n");

    let (code, stdout, stderr) = scan(root, &["src", "--profile", "fixture.yaml", "-q"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr, "");
    insta::assert_snapshot!(stdout.replace(index.url().as_str(), "[INDEX]"));

    let (code, stdout, _) = scan(
        root,
        &["src", "--profile", "fixture.yaml", "-q", "--format", "json"],
    );
    assert_eq!(code, 1);
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(document["files"], 5);
    assert_eq!(
        document["provided"]["webcore"],
        serde_json::json!(["webapp-core"])
    );
    assert_eq!(document["unused"], serde_json::json!(["server-cli"]));
    assert_eq!(
        document["unparsable"][0]["file"].as_str(),
        Some("src/app/legacy.py")
    );

    // Nothing missing: exit 0, the unused requirement a warning.
    let (code, stdout, stderr) = scan(
        root,
        &[
            "src/helpers.py",
            "src/app/util.py",
            "--profile",
            "fixture.yaml",
            "-q",
        ],
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(stdout.ends_with("no missing import\n"), "{stdout}");

    // Bad input: exit 2, named.
    let (code, _, stderr) = scan(root, &["nowhere", "--profile", "fixture.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nowhere` does not exist"), "{stderr}");
    let (code, _, stderr) = scan(
        root,
        &[
            "src",
            "--profile",
            "fixture.yaml",
            "--python",
            "/no/python3",
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot run `/no/python3`"), "{stderr}");
}

#[test]
fn an_app_against_a_lock_from_pypi() {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = copy_example("fastapi-optional", scratch.path());
    run(dockgen_command(&dir).args([
        "lock",
        "requirements.in",
        "-q",
        "--exclude-newer",
        EXCLUDE_NEWER,
    ]));
    write(
        &dir,
        "service/main.py",
        "import structlog\nimport yaml\nfrom dotenv import load_dotenv\n\
         from fastapi import FastAPI\nfrom prometheus_client import Counter\n\
         from pydantic_settings import BaseSettings\nfrom sqlalchemy.ext.asyncio import create_async_engine\n\
         import httpx\nimport multipart\n",
    );
    let (code, stdout, stderr) = scan(&dir, &["service", "-q"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    insta::assert_snapshot!(stdout);
    write(
        &dir,
        "service/extra.py",
        "import requests\nimport PIL.Image\n",
    );
    let (code, stdout, _) = scan(&dir, &["service", "-q"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "missing: PIL, first imported at service/extra.py:2; add `pillow` (a known import name)"
        ) && stdout.contains(
            "missing: requests, first imported at service/extra.py:1; add `requests` (a project on index `pypi`)"
        ),
        "{stdout}"
    );
}
