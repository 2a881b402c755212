//! What the binary prints when a file it is given is missing or in the way: the
//! OS's words once, after what dockgen was doing and on which file.

fn dockgen(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = crate::support::dockgen_command(dir.path())
        .args(args)
        .output()
        .expect("run dockgen");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn os_errors_are_said_once() {
    for args in [
        &["lock", "--offline", "/nonexistent/requirements.in"][..],
        &["tree", "--lock", "/nonexistent/lock.txt"],
        &["check", "--lock", "/nonexistent/lock.txt"],
        &["sbom", "--lock", "/nonexistent/lock.txt"],
        &["diff", "/nonexistent/a.txt", "/nonexistent/b.txt"],
    ] {
        let (code, stderr) = dockgen(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(
            stderr
                .matches("No such file or directory (os error 2)")
                .count(),
            1,
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("/nonexistent/"), "{args:?}: {stderr}");
    }
}
