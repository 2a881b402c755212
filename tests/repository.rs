//! The repository itself: no tracked file is one `.gitignore` says to ignore (a build
//! report, a `__pycache__`, `.test-tools/`), so nothing generated slips into a commit.

use std::path::Path;
use std::process::Command;

#[test]
fn no_tracked_file_matches_gitignore() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        eprintln!("skipped: not a git checkout");
        return;
    }
    let tracked_but_ignored = crate::support::run(Command::new("git").current_dir(root).args([
        "ls-files",
        "--cached",
        "--ignored",
        "--exclude-standard",
    ]));
    assert_eq!(
        tracked_but_ignored, "",
        "tracked files that .gitignore ignores: remove them (`git rm --cached`)"
    );
}
