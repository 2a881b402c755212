//! The fixture wheel builder makes wheels that real pip installs and imports.

use std::process::Command;

use crate::support::run;
use crate::support::wheels::WheelSpec;

#[test]
fn pip_installs_and_imports_a_built_wheel() {
    if Command::new("python3").arg("--version").output().is_err() {
        println!("skipped: `python3` is not installed");
        return;
    }
    let spec = WheelSpec {
        files: vec![
            (
                "fixturepkg/__init__.py".to_string(),
                b"from .data import VALUE\n".to_vec(),
            ),
            ("fixturepkg/data.py".to_string(), b"VALUE = 42\n".to_vec()),
        ],
        requires_python: Some(">=3.8".to_string()),
        ..WheelSpec::new("fixturepkg", "1.2.3")
    };
    let (filename, bytes) = spec.build();
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir.path().join(&filename);
    std::fs::write(&wheel, &bytes).unwrap();

    let venv = dir.path().join("venv");
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin").join("python");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg(&wheel)
        .env("PIP_NO_CACHE_DIR", "1"));
    let imported = run(Command::new(&python).args([
        "-c",
        "import fixturepkg, importlib.metadata as m; print(fixturepkg.VALUE, m.version('fixturepkg'))",
    ]));
    assert_eq!(imported, "42 1.2.3\n");

    // pip does not check RECORD hashes on install; check them the way the wheel spec
    // defines them, independently of the Rust side.
    let checked = run(Command::new(&python)
        .arg("-c")
        .arg(CHECK_RECORD)
        .arg(&wheel));
    assert_eq!(
        checked,
        "ok fixturepkg/__init__.py\n\
         ok fixturepkg/data.py\n\
         ok fixturepkg-1.2.3.dist-info/METADATA\n\
         ok fixturepkg-1.2.3.dist-info/WHEEL\n\
         unhashed fixturepkg-1.2.3.dist-info/RECORD\n"
    );
    // Deterministic bytes: the same spec builds the same file.
    assert_eq!(spec.build().1, bytes);
}

const CHECK_RECORD: &str = r#"
import base64, csv, hashlib, io, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
record = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")][0]
rows = list(csv.reader(io.TextIOWrapper(wheel.open(record), encoding="utf-8")))
assert sorted(r[0] for r in rows) == sorted(wheel.namelist()), "RECORD lists other files"
for path, digest, size in rows:
    if not digest:
        print("unhashed", path)
        continue
    data = wheel.read(path)
    algorithm, _, expected = digest.partition("=")
    actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
    assert actual == expected and int(size) == len(data), path
    print("ok", path)
"#;
