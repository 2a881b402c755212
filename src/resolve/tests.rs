//! Resolver behaviour over an in-memory source: selection rules, extras, local
//! versions, yanked files, pre-releases, constraints, overrides, preferences, the
//! accelerator check, and the wording of "no solution".

use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};

use super::*;
use crate::index::memory::{MemorySource, Release};
use crate::input::profile;

fn request(profile_name: &str, requirements: &[&str]) -> ResolveRequest {
    let profile = profile::builtin(profile_name).expect("built-in profile");
    ResolveRequest::new(
        Target::from_profile(&profile).expect("target"),
        requirements.iter().map(|r| root(r)).collect(),
    )
}

fn root(requirement: &str) -> RootRequirement {
    RootRequirement {
        requirement: Requirement::from_str(requirement).unwrap(),
        source: "-r requirements.in".into(),
    }
}

fn pins(resolution: &Resolution) -> String {
    resolution
        .packages
        .values()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect::<Vec<_>>()
        .join(" ")
}

fn solve(source: &MemorySource, request: &ResolveRequest) -> Result<Resolution, ResolveError> {
    resolve(source, request, "cpu-x86_64")
}

#[test]
fn picks_newest_compatible_versions_transitively() {
    let mut source = MemorySource::default();
    source
        .add(Release::new(
            "app",
            "1.0",
            &["lib>=1.1", "tool; python_version < '3.8'"],
        ))
        .add(Release::new("lib", "1.0", &[]))
        .add(Release::new("lib", "1.2", &["leaf<2"]))
        .add(Release::new("lib", "2.0", &["leaf<2"]))
        .add(Release::new("leaf", "1.5", &[]))
        .add(Release::new("leaf", "2.0", &[]));
    let resolution = solve(&source, &request("cpu-x86_64", &["app", "lib<2"])).unwrap();
    assert_eq!(pins(&resolution), "app==1.0 leaf==1.5 lib==1.2");
    let lib = &resolution.packages[&PackageName::from_str("lib").unwrap()];
    let by: Vec<String> = lib.required_by.iter().map(|b| format!("{b:?}")).collect();
    assert_eq!(
        by,
        vec![
            "Input(\"-r requirements.in\")",
            "Package(PackageName(\"app\"))"
        ]
    );
}

#[test]
fn extras_pull_their_requirements_at_the_same_version() {
    let mut source = MemorySource::default();
    source
        .add(Release::new(
            "server",
            "0.30",
            &["h11", "uvloop; extra == 'standard'"],
        ))
        .add(Release::new(
            "server",
            "0.31",
            &[
                "h11",
                "uvloop; extra == 'standard'",
                "missing-thing; extra == 'other'",
            ],
        ))
        .add(Release::new("h11", "0.14", &[]))
        .add(Release::new("uvloop", "0.21", &[]));
    let resolution = solve(&source, &request("cpu-x86_64", &["server[standard]"])).unwrap();
    assert_eq!(pins(&resolution), "h11==0.14 server==0.31 uvloop==0.21");
    let server = &resolution.packages[&PackageName::from_str("server").unwrap()];
    assert_eq!(
        server
            .extras
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["standard"]
    );
}

#[test]
fn exact_pin_without_label_accepts_the_local_build_of_an_accelerator_index() {
    let mut source = MemorySource::default();
    source.add(Release {
        tag: "cp311-cp311-linux_x86_64",
        index: "pytorch-cu124",
        ..Release::new("torch", "2.5.1+cu124", &["filelock"])
    });
    source.add(Release::new("filelock", "3.16.1", &[]));
    let resolution = solve(&source, &request("cpu-x86_64", &["torch==2.5.1"])).unwrap();
    assert_eq!(pins(&resolution), "filelock==3.16.1 torch==2.5.1+cu124");
}

#[test]
fn wheels_for_other_platforms_and_pythons_are_not_candidates() {
    let mut source = MemorySource::default();
    source
        .add(Release {
            tag: "cp311-cp311-manylinux_2_17_aarch64",
            ..Release::new("fast", "3.0", &[])
        })
        .add(Release {
            tag: "cp312-cp312-manylinux_2_17_x86_64",
            ..Release::new("fast", "2.0", &[])
        })
        .add(Release {
            tag: "cp311-cp311-manylinux_2_17_x86_64",
            ..Release::new("fast", "1.0", &[])
        })
        .add(Release {
            requires_python: Some(">=3.12"),
            ..Release::new("modern", "2.0", &[])
        })
        .add(Release::new("modern", "1.0", &[]));
    let resolution = solve(&source, &request("cpu-x86_64", &["fast", "modern"])).unwrap();
    assert_eq!(pins(&resolution), "fast==1.0 modern==1.0");
}

#[test]
fn yanked_releases_only_when_pinned_exactly() {
    let mut source = MemorySource::default();
    source.add(Release::new("lib", "1.0", &[])).add(Release {
        yanked: true,
        ..Release::new("lib", "1.1", &[])
    });
    assert_eq!(
        pins(&solve(&source, &request("cpu-x86_64", &["lib"])).unwrap()),
        "lib==1.0"
    );
    assert_eq!(
        pins(&solve(&source, &request("cpu-x86_64", &["lib==1.1"])).unwrap()),
        "lib==1.1"
    );
}

#[test]
fn prereleases_only_when_asked_or_when_nothing_else_fits() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("lib", "1.0", &[]))
        .add(Release::new("lib", "2.0rc1", &[]))
        .add(Release::new("beta-only", "0.1b1", &[]));
    let mut req = request("cpu-x86_64", &["lib", "beta-only"]);
    assert_eq!(
        pins(&solve(&source, &req).unwrap()),
        "beta-only==0.1b1 lib==1.0"
    );
    req.prereleases = true;
    assert_eq!(
        pins(&solve(&source, &req).unwrap()),
        "beta-only==0.1b1 lib==2.0rc1"
    );
    let named = request("cpu-x86_64", &["lib>=2.0rc1", "beta-only"]);
    assert_eq!(
        pins(&solve(&source, &named).unwrap()),
        "beta-only==0.1b1 lib==2.0rc1"
    );
}

#[test]
fn constraints_narrow_and_overrides_replace() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("app", "1.0", &["numpy<2"]))
        .add(Release::new("numpy", "1.25.0", &[]))
        .add(Release::new("numpy", "1.26.4", &[]))
        .add(Release::new("numpy", "2.1.0", &[]))
        .add(Release::new("unused", "1.0", &[]));
    let mut req = request("cpu-x86_64", &["app"]);
    req.constraints = vec![root("numpy<1.26"), root("unused==1.0")];
    assert_eq!(
        pins(&solve(&source, &req).unwrap()),
        "app==1.0 numpy==1.25.0"
    );
    req.constraints.clear();
    req.overrides = vec![root("numpy>=2")];
    assert_eq!(
        pins(&solve(&source, &req).unwrap()),
        "app==1.0 numpy==2.1.0"
    );
}

#[test]
fn existing_pins_are_kept_while_they_satisfy() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("lib", "1.0", &[]))
        .add(Release::new("lib", "1.5", &[]))
        .add(Release::new("lib", "2.0", &[]));
    let mut req = request("cpu-x86_64", &["lib"]);
    req.preferences.insert(
        PackageName::from_str("lib").unwrap(),
        Version::from_str("1.5").unwrap(),
    );
    assert_eq!(pins(&solve(&source, &req).unwrap()), "lib==1.5");
    let mut narrowed = request("cpu-x86_64", &["lib>=2"]);
    narrowed.preferences = req.preferences.clone();
    assert_eq!(pins(&solve(&source, &narrowed).unwrap()), "lib==2.0");
}

#[test]
fn cpu_only_torch_fails_closed_on_a_gpu_profile() {
    let mut source = MemorySource::default();
    source.add(Release {
        tag: "cp311-cp311-linux_x86_64",
        ..Release::new("torch", "2.5.1+cpu", &[])
    });
    let mut req = request("cpu-x86_64", &["torch"]);
    req.accelerator = AcceleratorPolicy {
        accelerator: profile::Accelerator::Cuda {
            version: "12.4".into(),
            compute_capabilities: vec!["8.0".into()],
        },
        packages: vec![PackageName::from_str("torch").unwrap()],
        pinned: BTreeMap::new(),
    };
    let error = resolve(&source, &req, "cuda12-x86_64").unwrap_err();
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn a_package_rejected_version_after_version_is_decided_earlier() {
    // python-dateutil is decided first (3.0); every botocore but the oldest wants `<3`,
    // and every boto3 pins its own botocore. PubGrub alone then rejects boto3 one
    // version at a time down to 1.0; deciding boto3 before python-dateutil keeps the
    // newest boto3 and narrows python-dateutil to 2.9, as uv's resolution does.
    let mut source = MemorySource::default();
    source
        .add(Release::new("python-dateutil", "2.9", &[]))
        .add(Release::new("python-dateutil", "3.0", &[]))
        .add(Release::new("botocore", "1.0", &[]))
        .add(Release::new("boto3", "1.0", &["botocore==1.0"]));
    let versions: Vec<String> = (1..=40).map(|minor| format!("1.{minor}")).collect();
    let botocores: Vec<String> = versions.iter().map(|v| format!("botocore=={v}")).collect();
    for (version, pin) in versions.iter().zip(&botocores) {
        source
            .add(Release::new("botocore", version, &["python-dateutil<3"]))
            .add(Release::new("boto3", version, &[pin.as_str()]));
    }
    let resolution = solve(
        &source,
        &request("cpu-x86_64", &["python-dateutil", "boto3"]),
    )
    .unwrap();
    assert_eq!(
        pins(&resolution),
        "boto3==1.40 botocore==1.40 python-dateutil==2.9"
    );
}

#[test]
fn no_solution_is_explained_in_words() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("app", "1.0", &["numpy<2"]))
        .add(Release::new("app", "1.1", &["numpy<2", "torchish>=3"]))
        .add(Release::new("numpy", "1.26.4", &[]))
        .add(Release::new("numpy", "2.1.0", &[]))
        .add(Release::new("torchish", "3.0", &["numpy>=2"]))
        .add(Release {
            tag: "cp311-cp311-manylinux_2_17_aarch64",
            ..Release::new("armonly", "1.0", &[])
        });
    let conflict = solve(&source, &request("cpu-x86_64", &["app>=1.1"])).unwrap_err();
    insta::assert_snapshot!("conflict", conflict.to_string());
    let wrong_arch = solve(&source, &request("cpu-x86_64", &["armonly"])).unwrap_err();
    insta::assert_snapshot!("wrong_arch", wrong_arch.to_string());
    let missing = solve(&source, &request("cpu-x86_64", &["numpy", "nowhere"])).unwrap_err();
    insta::assert_snapshot!("missing", missing.to_string());
}

#[test]
fn a_version_with_invalid_metadata_is_set_aside() {
    // `beta-==1` made pep508_rs panic; now it only makes app 2.0 unusable.
    let mut source = MemorySource::default();
    source
        .add(Release::new("app", "1.0", &["lib"]))
        .add(Release::new("app", "2.0", &["beta-==1"]))
        .add(Release::new("lib", "1.0", &[]));
    let resolution = solve(&source, &request("cpu-x86_64", &["app"])).unwrap();
    assert_eq!(pins(&resolution), "app==1.0 lib==1.0");
}

#[test]
fn no_solution_says_which_version_was_set_aside_and_why() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("app", "1.0", &["lib>=2"]))
        .add(Release::new("lib", "1.0", &[]))
        .add(Release::new("lib", "2.0", &["gamma[cpu-]"]));
    let error = solve(&source, &request("cpu-x86_64", &["app"])).unwrap_err();
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn an_exact_pin_ruled_out_reads_as_one_version() {
    // PubGrub's range for "the local builds of 0.2.2, not 0.2.2 itself" used to read
    // `>0.2.2,<=0.2.2`.
    let mut source = MemorySource::default();
    source.add(Release::new("moshi", "0.2.2", &["torch-==2"]));
    let error = solve(&source, &request("cpu-x86_64", &["moshi==0.2.2"])).unwrap_err();
    let text = error.to_string();
    assert!(!text.contains(">0.2.2,<=0.2.2"), "{text}");
    insta::assert_snapshot!(text);
}

/// A source that panics when asked for the metadata of one file, as pep508_rs did on
/// `Requires-Dist: beta-==1`.
struct PanicsOn<'a> {
    inner: &'a MemorySource,
    filename: &'a str,
}

impl crate::index::PackageSource for PanicsOn<'_> {
    fn project(
        &self,
        name: &PackageName,
    ) -> Result<Option<std::sync::Arc<crate::index::ProjectFiles>>, crate::index::IndexError> {
        self.inner.project(name)
    }

    fn metadata(
        &self,
        file: &crate::index::DistFile,
    ) -> Result<std::sync::Arc<crate::index::CoreMetadata>, crate::index::IndexError> {
        assert_ne!(file.filename, self.filename, "a bug in the source");
        self.inner.metadata(file)
    }

    fn sha256(&self, file: &crate::index::DistFile) -> Result<String, crate::index::IndexError> {
        self.inner.sha256(file)
    }
}

#[test]
fn a_panic_while_resolving_is_a_panic_not_a_hang() {
    let mut source = MemorySource::default();
    source
        .add(Release::new("app", "1.0", &["lib"]))
        .add(Release::new("lib", "1.0", &[]));
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let panicking = PanicsOn {
            inner: &source,
            filename: "lib-1.0-py3-none-any.whl",
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            solve_with(&panicking, &request("cpu-x86_64", &["app"]))
        }));
        let _ = done.send(outcome.is_err());
    });
    let panicked = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the resolver returned or panicked instead of hanging");
    assert!(panicked, "the source's panic reaches the caller");
    worker.join().expect("the test thread ends");
}

fn solve_with(
    source: &dyn crate::index::PackageSource,
    request: &ResolveRequest,
) -> Result<Resolution, ResolveError> {
    resolve(source, request, "cpu-x86_64")
}
