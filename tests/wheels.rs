//! The fixture wheel builder makes wheels that real pip installs and imports.

use std::process::Command;

use crate::support::wheels::WheelSpec;

fn run(command: &mut Command) -> String {
    let output = command.output().expect("spawn");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

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
    // pip checked every RECORD hash while installing; the same build is byte-identical.
    assert_eq!(spec.build().1, bytes);
}
