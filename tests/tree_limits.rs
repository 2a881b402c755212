//! `dockgen tree` on locks whose trees pipdeptree cannot print: a 40,000-deep `# via`
//! chain (once a stack overflow) and a dense graph (once gigabytes of output). Each
//! layout succeeds, streams a bounded output, and the marks say where a subtree is.

use std::path::Path;
use std::process::Command;

/// A lock of `count` packages, `dense`: each requires every later one; else a chain.
fn write_lock(path: &Path, count: usize, dense: bool) {
    let name = |i: usize| format!("p{i:05}");
    let mut lock = String::new();
    for i in 0..count {
        lock.push_str(&format!(
            "{}==1.0 \\\n    --hash=sha256:{:064x}\n",
            name(i),
            i
        ));
        let parents: Vec<usize> = if dense {
            (0..i).collect()
        } else {
            i.checked_sub(1).into_iter().collect()
        };
        for parent in parents {
            lock.push_str(&format!("    # via {}\n", name(parent)));
        }
    }
    std::fs::write(path, lock).expect("write lock");
}

/// `dockgen tree --lock LOCK ARGS`: its stdout, after asserting it succeeded quietly.
fn tree(lock: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_dockgen"))
        .arg("tree")
        .arg("--lock")
        .arg(lock)
        .args(args)
        .output()
        .expect("run dockgen");
    assert_eq!(
        output.status.code(),
        Some(0),
        "dockgen tree {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    output.stdout
}

#[test]
fn a_deep_chain_prints_in_every_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = dir.path().join("chain.txt");
    write_lock(&lock, 40_000, false);
    let text = String::from_utf8(tree(&lock, &[])).unwrap();
    assert!(text.starts_with("p00000==1.0\n└── p00001 [required: Any, installed: 1.0]\n"));
    assert!(text.contains(" (subtree continued below)\n"));
    assert!(text.contains("\np00032==1.0 (subtree continued from above)\n"));
    assert!(text.ends_with("p39999 [required: Any, installed: 1.0]\n"));
    let reverse = String::from_utf8(tree(&lock, &["--reverse"])).unwrap();
    assert!(reverse.starts_with("p39999==1.0\n└── p39998==1.0 [requires: p39999]\n"));
    for args in [
        &["--json"][..],
        &["--json-tree"],
        &["--json-tree", "--reverse"],
    ] {
        let json: serde_json::Value = serde_json::from_slice(&tree(&lock, args)).unwrap();
        assert!(!json.as_array().unwrap().is_empty(), "{args:?}");
    }
}

#[test]
fn a_dense_graph_prints_a_bounded_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = dir.path().join("dense.txt");
    write_lock(&lock, 40, true);
    for (args, bound) in [
        (&[][..], 1_000_000),
        (&["--reverse"], 1_000_000),
        (&["--json"], 1_000_000),
        (&["--json-tree"], 4_000_000),
        (&["--json-tree", "--reverse"], 4_000_000),
    ] {
        let out = tree(&lock, args);
        assert!(out.len() < bound, "{args:?}: {} bytes", out.len());
    }
    // A smaller dense graph is within the limits: printed in full, as pipdeptree does.
    let small = dir.path().join("small.txt");
    write_lock(&small, 5, true);
    insta::assert_snapshot!(String::from_utf8(tree(&small, &[])).unwrap());
}
