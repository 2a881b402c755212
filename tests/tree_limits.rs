//! `dockgen tree` on locks whose trees pipdeptree cannot print: a 40,000-deep `# via`
//! chain (once a stack overflow; pipdeptree 4 refuses more than 200 levels) and a dense
//! graph (once gigabytes of output in 2.x's layout). Each layout of both pipdeptrees
//! succeeds, streams a bounded output, and the marks say where a subtree is.

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
    // pipdeptree 4's layout: 200 levels, then the subtree goes on as a top-level entry.
    let text = String::from_utf8(tree(&lock, &[])).unwrap();
    assert!(text.starts_with("p00000==1.0\n└── p00001 [required: Any, installed: 1.0]\n"));
    assert!(text.contains(" p00200 [required: Any, installed: 1.0] (subtree continued below)\n"));
    assert!(text.contains("\np00200==1.0 (subtree continued from above)\n"));
    assert!(text.ends_with("p39999 [required: Any, installed: 1.0]\n"));
    let longest = text.lines().map(|line| line.chars().count()).max().unwrap();
    assert!(longest < 4 * 201 + 80, "a line of {longest} characters");
    // 2.x's: 32 levels.
    let text = String::from_utf8(tree(&lock, &["--pipdeptree", "2"])).unwrap();
    assert!(text.starts_with("p00000==1.0\n└── p00001 [required: Any, installed: 1.0]\n"));
    assert!(text.contains(" (subtree continued below)\n"));
    assert!(text.contains("\np00032==1.0 (subtree continued from above)\n"));
    assert!(text.ends_with("p39999 [required: Any, installed: 1.0]\n"));
    for major in ["4", "2"] {
        let reverse =
            String::from_utf8(tree(&lock, &["--reverse", "--pipdeptree", major])).unwrap();
        assert!(reverse.starts_with("p39999==1.0\n└── p39998==1.0 [requires: p39999]\n"));
        for args in [
            &["--json"][..],
            &["--json-tree"],
            &["--json-tree", "--reverse"],
        ] {
            let args = [args, &["--pipdeptree", major]].concat();
            let out = tree(&lock, &args);
            let mut reader = serde_json::Deserializer::from_slice(&out);
            reader.disable_recursion_limit();
            let json = <serde_json::Value as serde::Deserialize>::deserialize(&mut reader)
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(!json.as_array().unwrap().is_empty(), "{args:?}");
        }
    }
}

#[test]
fn a_dense_graph_prints_a_bounded_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = dir.path().join("dense.txt");
    write_lock(&lock, 40, true);
    for major in ["4", "2"] {
        for (args, bound) in [
            (&[][..], 1_000_000),
            (&["--reverse"], 1_000_000),
            (&["--json"], 1_000_000),
            (&["--json-tree"], 4_000_000),
            (&["--json-tree", "--reverse"], 4_000_000),
        ] {
            let args = [args, &["--pipdeptree", major]].concat();
            let out = tree(&lock, &args);
            assert!(out.len() < bound, "{args:?}: {} bytes", out.len());
        }
    }
    // A smaller dense graph is within 2.x's limits: printed in full, as pipdeptree does;
    // 4.x's marks what it showed before.
    let small = dir.path().join("small.txt");
    write_lock(&small, 5, true);
    insta::assert_snapshot!(String::from_utf8(tree(&small, &["--pipdeptree", "2"])).unwrap());
    insta::assert_snapshot!(
        "a_dense_graph_prints_a_bounded_tree_4",
        String::from_utf8(tree(&small, &[])).unwrap()
    );
}
