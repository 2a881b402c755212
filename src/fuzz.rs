//! Bounded fuzz tests of the parsers that read text dockgen does not control: the
//! requirements parser (files a user hands in), the lock reader (locks the audit views
//! read), the core-metadata parser (METADATA an index serves) and the project-page
//! parsers (the simple API's JSON and HTML).
//!
//! Each test mutates realistic seeds with a seeded generator (byte flips, the
//! characters PEP 508 and pip's syntax give meaning to, NULs, continuations,
//! truncation, duplication) and asserts the parser never panics and that every error
//! says something. Same seed, same cases: a failure names its case and reproduces.
//! No nightly toolchain, no new dependency: an ordinary `cargo test` runs them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::index::metadata::parse_metadata;
use crate::input::requirements::parse_requirements_file_with_env;
use crate::input::text::printable;
use crate::lock;

/// Strings that mean something to one of the grammars, or to a terminal.
const SPECIALS: &[&str] = &[
    "-",
    ".",
    "_",
    "\0",
    "\\\n",
    "\\",
    "\n",
    "\r\n",
    "\t",
    " ",
    "@",
    ";",
    "[",
    "]",
    ",",
    "(",
    ")",
    "'",
    "\"",
    "#",
    " #",
    "==",
    "===",
    "~=",
    "!=",
    "<=",
    ">",
    "*",
    ".*",
    "+local",
    ".post0.dev0",
    "${TOKEN}",
    "${",
    "}",
    "extra == '",
    " and ",
    " or ",
    "python_version",
    "-r ",
    "-c ",
    "--hash=sha256:",
    "--index-url ",
    "-e ",
    "file:///",
    "https://u:p@example.com/x.whl",
    "Requires-Dist: ",
    "Name: ",
    "Version: ",
    ": ",
    "é",
    "\u{202e}",
    "\u{1b}[2J",
    "\u{feff}",
];

/// One mutation of `bytes`, chosen by `rng`.
fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    let at = |rng: &mut fastrand::Rng, bytes: &Vec<u8>| rng.usize(0..=bytes.len());
    match rng.u8(0..8) {
        0 if !bytes.is_empty() => {
            let i = rng.usize(0..bytes.len());
            bytes[i] = rng.u8(..);
        }
        1 | 2 => {
            let i = at(rng, bytes);
            let special = SPECIALS[rng.usize(0..SPECIALS.len())];
            bytes.splice(i..i, special.bytes());
        }
        3 if !bytes.is_empty() => {
            let start = rng.usize(0..bytes.len());
            let end = (start + rng.usize(1..=16)).min(bytes.len());
            bytes.drain(start..end);
        }
        4 => {
            let keep = at(rng, bytes);
            bytes.truncate(keep);
        }
        5 if !bytes.is_empty() => {
            let start = rng.usize(0..bytes.len());
            let end = (start + rng.usize(1..=64)).min(bytes.len());
            let copy = bytes[start..end].to_vec();
            let i = at(rng, bytes);
            bytes.splice(i..i, copy);
        }
        6 => {
            // Swap two lines.
            let text = String::from_utf8_lossy(bytes).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            if lines.len() > 1 {
                let a = rng.usize(0..lines.len());
                let b = rng.usize(0..lines.len());
                lines.swap(a, b);
                *bytes = lines.join("\n").into_bytes();
            }
        }
        _ => {
            let i = at(rng, bytes);
            bytes.insert(i, rng.u8(..));
        }
    }
}

/// Runs `check` on `cases` mutants of the seeds. A panic fails with the case number
/// and the input, escaped.
fn fuzz(seed: u64, seeds: &[&[u8]], cases: usize, mut check: impl FnMut(&[u8])) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for case in 0..cases {
        let mut bytes = seeds[rng.usize(0..seeds.len())].to_vec();
        for _ in 0..rng.usize(1..=4) {
            mutate(&mut rng, &mut bytes);
        }
        if catch_unwind(AssertUnwindSafe(|| check(&bytes))).is_err() {
            panic!(
                "case {case} of seed {seed:#x} panicked on:\n{}",
                printable(&String::from_utf8_lossy(&bytes))
            );
        }
    }
}

fn assert_message(error: &dyn std::fmt::Display, input: &[u8]) {
    let message = error.to_string();
    assert!(
        !message.trim().is_empty(),
        "an error without a message for:\n{}",
        printable(&String::from_utf8_lossy(input))
    );
}

const REQUIREMENTS: &str = r#"# Top comment
--index-url https://${INDEX_HOST}/simple
--extra-index-url https://download.pytorch.org/whl/cu124
-f wheels
--pre
--only-binary :all:
--no-binary=pillow,Some_Pkg
requests[socks,security] >=2.31, <3 ; python_version >= "3.8"  # trailing comment
torch==${TORCH_VERSION} \
    --hash=sha256:0123456789abcdef \
    --hash sha256:fedcba9876543210
numpy<2 \
  ; platform_machine == "aarch64" and extra == 'gpu'
my-wheel @ https://example.com/pkgs/my_wheel-1.0-py3-none-any.whl#sha256=abcdef
Foo.Bar_baz~=1.4.2
pkg (>=1.0,!=1.5.*) ; (os_name == 'posix' or sys_platform != "win32") and python_full_version < '3.13'
"#;

const METADATA: &str = "Metadata-Version: 2.3
Name: Foo.Bar_baz
Version: 2.5.1+cu124
Summary: A package
License: MIT
    with a second line
License-Expression: MIT OR Apache-2.0
Classifier: License :: OSI Approved :: MIT License
Requires-Python: >=3.8.*, !=3.9.1
Requires-Dist: numpy>=1.24,<2 ; python_version >= \"3.9\"
Requires-Dist: typing-extensions (>=4.8)
Requires-Dist: triton==3.1.0; platform_system == \"Linux\" and platform_machine == \"x86_64\"
Requires-Dist: sympy[all]~=1.13 ; extra == 'opt-einsum'
Requires-Dist: pkg @ https://example.com/pkg-1.0-py3-none-any.whl
Provides-Extra: opt-einsum
Provides-Extra: optree
Dynamic: license

A description body.
";

#[test]
fn the_requirements_parser_never_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("base.in"), "fastapi>=0.110\n").expect("write");
    let path = dir.path().join("requirements.in");
    let env = |name: &str| match name {
        "TOKEN" => Some("s3cr3t".to_string()),
        "INDEX_HOST" => Some("pypi.example.com".to_string()),
        "TORCH_VERSION" => Some("2.4.1".to_string()),
        _ => None,
    };
    // Windows of a few lines: every construct is in some seed, and each case parses
    // quickly enough for tens of thousands of them (markers are slow to build).
    let mut texts = vec![REQUIREMENTS.to_string(), "-r base.in\nnumpy\n".to_string()];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for example in ["video-diffusion", "fastapi-vision", "jetson-tts"] {
        if let Ok(text) = std::fs::read_to_string(root.join(example).join("requirements.in")) {
            texts.push(text);
        }
    }
    let mut windows = Vec::new();
    for text in &texts {
        let lines: Vec<&str> = text.lines().collect();
        for start in (0..lines.len()).step_by(2) {
            let end = (start + 4).min(lines.len());
            windows.push(format!("{}\n", lines[start..end].join("\n")));
        }
    }
    let seeds: Vec<&[u8]> = windows.iter().chain(&texts).map(|w| w.as_bytes()).collect();
    // Rewritten in place: ext4 flushes a file opened with O_TRUNC when it is closed,
    // which would cost milliseconds a case.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("the case file");
    fuzz(0x5eed_0001, &seeds, 40_000, |bytes| {
        use std::io::{Seek, Write};
        file.rewind().expect("rewind");
        file.write_all(bytes).expect("write the case");
        file.set_len(bytes.len() as u64).expect("truncate the case");
        if let Err(error) = parse_requirements_file_with_env(&path, &env) {
            assert_message(&error, bytes);
        }
    });
}

#[test]
fn the_lock_reader_never_panics() {
    let example = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/fastapi-optional/locks/cpu-x86_64.txt"),
    )
    .expect("the example lock");
    let small = b"#\n# This file is generated by dockgen for profile `gpu`; do not edit it.\n#\n\
        --index-url https://pypi.org/simple\n\ntorch==2.5.1+cu124 \\\n    --hash=sha256:aa \\\n    \
        --hash=sha256:bb\n    # via\n    #   -r ../requirements.in\n    #   torchvision (==2.5.1)\n\
        PyYAML[extra]==6.0.2 \\\n    --hash=sha256:dd\n    # via uvicorn[standard] (>=5.1)\n";
    // The example is large; a prefix keeps each case cheap and its mutations dense.
    let head = &example[..example.len().min(2_000)];
    let seeds: Vec<&[u8]> = vec![small, head];
    fuzz(0x5eed_0002, &seeds, 40_000, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match lock::parse(&text, Path::new("locks/gpu.txt")) {
            Ok(_) => {}
            Err(error) => assert_message(&error, bytes),
        }
        let _ = lock::provenance(&text);
    });
}

#[test]
fn the_metadata_parser_never_panics() {
    let pkg_info = b"Metadata-Version: 2.2\nName: foo\nVersion: 1.0\nDynamic: Requires-Dist\n";
    let seeds: Vec<&[u8]> = vec![METADATA.as_bytes(), pkg_info];
    fuzz(0x5eed_0003, &seeds, 40_000, |bytes| {
        if let Err(error) = parse_metadata(bytes, "foo-1.0.dist-info/METADATA") {
            assert_message(&error, bytes);
        }
    });
}

/// Mutated JSON and HTML project pages: parsing never panics, and every file that
/// comes out has a plain name, a well-formed hash and an http(s) URL.
#[test]
fn mutated_pages_never_yield_unchecked_values() {
    use std::str::FromStr;
    use std::sync::Arc;

    use crate::index::simple::{Conversion, JSON_CONTENT_TYPE, convert, parse_page};
    use crate::index::validate;

    let json = br#"{"meta":{"api-version":"1.1"},"files":[{"filename":"demo-1.0-py3-none-any.whl","url":"../../f/demo-1.0-py3-none-any.whl","hashes":{"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"requires-python":">=3.8","core-metadata":{"sha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}}]}"#;
    let html = br#"<a href="demo-1.0.tar.gz#sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" data-requires-python="&gt;=3.8">demo-1.0.tar.gz</a>"#;
    let demo = pep508_rs::PackageName::from_str("demo").unwrap();
    let index: Arc<str> = Arc::from("idx");
    let url = url::Url::parse("https://idx.example/simple/demo/").unwrap();
    for (seed, content_type, page) in [
        (0x5eed_0004, Some(JSON_CONTENT_TYPE), &json[..]),
        (0x5eed_0005, None, &html[..]),
    ] {
        fuzz(seed, &[page], 10_000, |body| {
            let Ok(page) = parse_page(content_type, body, &url) else {
                return;
            };
            let conversion = Conversion {
                project: &demo,
                index: &index,
                local_source: false,
                base: Some(&url),
                target: None,
            };
            let Ok(converted) = convert(&page.files, &conversion) else {
                return;
            };
            let files = converted.files;
            for file in files {
                assert!(
                    validate::distribution_filename(&file.filename).is_ok(),
                    "{file:?}"
                );
                if let Some(hash) = &file.sha256 {
                    assert_eq!(validate::sha256(hash).as_ref(), Ok(hash), "{file:?}");
                }
                assert!(matches!(file.url.scheme(), "http" | "https"), "{file:?}");
                assert!(
                    file.url.username().is_empty() && file.url.password().is_none(),
                    "{file:?}"
                );
                assert_eq!(file.url.fragment(), None, "{file:?}");
            }
        });
    }
}
