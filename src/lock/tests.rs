//! Whole-file snapshots of what the lock writers produce for one small resolution.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep508_rs::Requirement;

use super::{LockHeader, parse, pylock, render};
use crate::index::memory::{MemorySource, Release};
use crate::input::profile;
use crate::input::target::Target;
use crate::resolve::{Resolution, ResolveRequest, RootRequirement, resolve};

fn resolution() -> Resolution {
    let mut source = MemorySource::default();
    source
        .add(Release::new(
            "fastapi",
            "0.116.1",
            &["starlette<0.48.0,>=0.40.0", "pydantic>=2"],
        ))
        .add(Release::new("starlette", "0.47.3", &["anyio<5,>=3.6.2"]))
        .add(Release::new("anyio", "4.10.0", &["idna>=2.8"]))
        .add(Release::new("idna", "3.10", &[]))
        .add(Release::new("pydantic", "2.11.7", &[]))
        .add(Release {
            tag: "cp311-cp311-linux_x86_64",
            index: "pytorch-cpu",
            ..Release::new("torch", "2.5.1+cpu", &["filelock"])
        })
        .add(Release::new("filelock", "3.16.1", &[]));
    let profile = profile::builtin("cpu-x86_64").expect("built-in");
    let root = |r: &str| RootRequirement {
        requirement: Requirement::from_str(r).unwrap(),
        source: "-r ../requirements.in".into(),
    };
    let request = ResolveRequest::new(
        Target::from_profile(&profile).unwrap(),
        vec![root("fastapi"), root("torch==2.5.1"), root("anyio")],
    );
    resolve(&source, &request, "cpu-x86_64").unwrap()
}

fn header() -> LockHeader {
    LockHeader {
        profile: "cpu-x86_64".into(),
        target: "linux/amd64, CPython 3.11.13, glibc 2.36, cpu".into(),
        command: "dockgen lock requirements.in --profile cpu-x86_64 --exclude-newer 2025-09-01"
            .into(),
        inputs: vec!["../requirements.in".into()],
        exclude_newer: vec![("pypi".into(), "2025-09-01T00:00:00Z".into())],
        indexes: vec![
            ("pypi".into(), "https://pypi.org/simple".into()),
            ("unused".into(), "https://unused.example/simple".into()),
            (
                "pytorch-cpu".into(),
                "https://download.pytorch.org/whl/cpu".into(),
            ),
        ],
        find_links: Vec::new(),
        git_revisions: Default::default(),
    }
}

#[test]
fn lock_file() {
    let text = render(&resolution(), &header());
    insta::assert_snapshot!(text);
    // What the writer writes, the reader reads back.
    let pins = parse(&text, std::path::Path::new("locks/cpu-x86_64.txt"))
        .unwrap()
        .pins;
    let read: Vec<String> = pins
        .iter()
        .map(|(n, p)| format!("{n}=={}", p.version))
        .collect();
    let written: Vec<String> = resolution()
        .packages
        .values()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    assert_eq!(read, written);
}

#[test]
fn pylock_file() {
    let urls = BTreeMap::from([
        ("pypi", "https://pypi.org/simple"),
        ("pytorch-cpu", "https://download.pytorch.org/whl/cpu"),
    ]);
    let text = pylock::render(
        &resolution(),
        "sys_platform == 'linux' and platform_machine == 'x86_64' and python_version == '3.11'"
            .into(),
        "3.11",
        |name| urls[name].to_string(),
    )
    .unwrap();
    insta::assert_snapshot!(text);
}

/// `# via` entries: specifiers as pipdeptree shows them, extras-only edges with the
/// extra, the plain entry alone when a parent requires a package both ways, one entry
/// per requirement when two of a parent's requirements apply.
#[test]
fn via_entries_name_the_requirement() {
    let mut source = MemorySource::default();
    source
        .add(Release::new(
            "server",
            "0.30",
            &[
                "h11<0.17,>=0.8",
                "click>=7.0",
                "uvloop>=0.15.1; extra == 'standard'",
                "h11>=0.9; extra == 'standard'",
                "watch; extra == 'standard'",
                "watch>=1.0; extra == 'reload'",
            ],
        ))
        .add(Release::new(
            "click",
            "8.2.1",
            &[
                "colors; sys_platform == 'linux'",
                "colors[Dim,bright]<2; python_version >= '3'",
            ],
        ))
        .add(Release::new("colors", "1.0", &["shade; extra == 'bright'"]))
        .add(Release::new("shade", "0.1", &[]))
        .add(Release::new("h11", "0.16.0", &[]))
        .add(Release::new("uvloop", "0.21.0", &[]))
        .add(Release::new("watch", "1.1", &[]));
    let profile = profile::builtin("cpu-x86_64").expect("built-in");
    let root = |r: &str| RootRequirement {
        requirement: Requirement::from_str(r).unwrap(),
        source: "-r ../requirements.in".into(),
    };
    let request = ResolveRequest::new(
        Target::from_profile(&profile).unwrap(),
        vec![root("server[standard,reload]"), root("colors")],
    );
    let resolution = resolve(&source, &request, "cpu-x86_64").unwrap();
    let text = render(&resolution, &header());
    let body = text.split("\n\n").skip(1).collect::<Vec<_>>().join("\n\n");
    insta::assert_snapshot!(body);
    // Read back, each entry is what was written.
    let lock = parse(&text, std::path::Path::new("locks/cpu-x86_64.txt")).unwrap();
    let via: Vec<String> = lock
        .pins
        .iter()
        .map(|(name, pin)| {
            let entries: Vec<String> = pin.via.iter().map(ToString::to_string).collect();
            format!("{name}: {}", entries.join(" | "))
        })
        .collect();
    insta::assert_snapshot!("via_entries_read_back", via.join("\n"));
}
