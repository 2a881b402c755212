//! `dockgen check`: the problems a team wants to know about before building, found in
//! the lock and the [`Facts`] the indexes add. Errors are what breaks the image or
//! makes it something else than asked for; warnings are what makes the build slow or
//! fragile.
//!
//! - `duplicate-module` (error): two distributions install the same top-level module
//!   (opencv-python and opencv-python-headless both install `cv2`); the one installed
//!   last overwrites the other's files.
//! - `cuda-conflict` (error): packages ask for different CUDA runtimes (`+cu121` beside
//!   `+cu124`, `nvidia-*-cu11` beside `nvidia-*-cu12`), or another CUDA major version
//!   than the profile's (`nvidia-cuda-runtime==13.0.96` on a CUDA 12 profile). What
//!   counts as evidence, and that the major version decides, is
//!   [`crate::resolve::accelerator`]'s, shared with `lock`.
//! - `wrong-accelerator-build` (error): an accelerated package of a GPU profile is a
//!   CPU-only (or otherwise wrong) build: the judgement `lock` makes.
//! - `cpu-only-package` (error for the profile's accelerated packages, else warning):
//!   a distribution known to be CPU-only (onnxruntime, tensorflow-cpu) on a GPU profile.
//! - `cuda-on-cpu` (warning): on a CPU profile, a package pulls CUDA runtime wheels
//!   (`nvidia-*`, `cuda-toolkit`) into the lock: PyPI's Linux torch is a CUDA build,
//!   and PyTorch's CPU index (the built-in CPU profile's) has the CPU one.
//! - `tag-only-image` (warning): a base image of the profile is named by a tag alone,
//!   which its registry can move.
//! - `no-compatible-file` (error): no locked file installs on the target (a lock made
//!   for another architecture or Python).
//! - `unknown-hash` / `not-on-index` (error): the indexes no longer serve what the lock
//!   names.
//! - `sdist-build` (warning): no wheel for the target, so the sdist is built in the
//!   wheel-builder stage; lists its build requirements.
//! - `git-pin` (warning): a pin by git commit has no file to hash-check: `dockgen
//!   build` and `render --wheelhouse` export the commit into the package store, and
//!   the wheel-builder stage builds it like an sdist; a render from indexes cannot.
//! - `directory-pin` (warning): a pin by local project directory has no file to
//!   hash-check, and names an absolute path: the lock only works on a machine with
//!   that directory. `dockgen build` and `render --wheelhouse` export it into the
//!   package store, like a git commit.
//! - `trusted-host` (error): the lock says `--trusted-host`, so pip skips TLS
//!   verification for that host (the index pages and any credentials travel
//!   unprotected; the hashes still check the files). dockgen never writes it.
//! - `pin-marker` (error where the marker is false on the target or unreadable, else
//!   warning): a pin with an environment marker, which dockgen never writes (a lock is
//!   for one target). pip skips a pin whose marker is false, so the image would lack a
//!   package every audit view lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use pep508_rs::PackageName;
use serde::Serialize;

use super::facts::{Facts, FileKind, TopLevelKind};
use crate::input::profile::{Accelerator, Profile};
use crate::input::target::Target;
use crate::lock::LockFile;
use crate::resolve::AcceleratorPolicy;
use crate::resolve::accelerator::{self, Build, Builds, Runtime};

/// What `check` found in one lock.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub profile: String,
    /// The lock, as the command line named it.
    pub lock: String,
    pub packages: usize,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: what it is, which pins it concerns, what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    #[serde(flatten)]
    pub kind: Kind,
    /// `name==version` of every pin concerned, sorted.
    pub packages: Vec<String>,
    pub message: String,
    pub fix: String,
}

/// The kind of a finding, with what is particular to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kind {
    NotOnIndex,
    UnknownHash {
        hashes: Vec<String>,
    },
    NoCompatibleFile {
        locked_files: Vec<String>,
    },
    WrongAcceleratorBuild,
    CpuOnlyPackage {
        alternative: String,
    },
    CudaConflict {
        claims: Vec<CudaClaim>,
    },
    DuplicateModule {
        module: String,
    },
    SdistBuild {
        sdist: String,
        build_requires: Vec<String>,
        /// `None`: setuptools' legacy backend.
        build_backend: Option<String>,
        /// Whether the sdist declares its `[build-system]` (else the PEP 517 defaults).
        build_system_declared: bool,
    },
    TrustedHost {
        host: String,
        line: usize,
    },
    PinMarker {
        marker: String,
        line: usize,
    },
    GitPin {
        url: String,
    },
    DirectoryPin {
        url: String,
    },
    CudaOnCpu {
        /// The CUDA runtime wheels the package pulls in, `name==version`, sorted.
        runtime_wheels: Vec<String>,
        /// The size of their files the target installs.
        bytes: u64,
    },
    TagOnlyImage {
        image: String,
        /// `builder`, `runtime`, or both.
        roles: Vec<String>,
    },
    /// A known vulnerability (`check --vulns`).
    Vulnerability {
        id: String,
        aliases: Vec<String>,
        severity: String,
        fixed: Vec<String>,
        upgrade: Option<String>,
        url: String,
    },
}

impl Kind {
    fn order(&self) -> u8 {
        match self {
            Kind::NotOnIndex => 0,
            Kind::UnknownHash { .. } => 1,
            Kind::NoCompatibleFile { .. } => 2,
            Kind::WrongAcceleratorBuild => 3,
            Kind::CpuOnlyPackage { .. } => 4,
            Kind::CudaConflict { .. } => 5,
            Kind::DuplicateModule { .. } => 6,
            Kind::SdistBuild { .. } => 7,
            Kind::TrustedHost { .. } => 8,
            Kind::PinMarker { .. } => 9,
            Kind::GitPin { .. } => 10,
            Kind::DirectoryPin { .. } => 11,
            Kind::CudaOnCpu { .. } => 12,
            Kind::TagOnlyImage { .. } => 13,
            Kind::Vulnerability { .. } => 14,
        }
    }

    /// The kind's name, as `check` prints it (`duplicate-module`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::NotOnIndex => "not-on-index",
            Kind::UnknownHash { .. } => "unknown-hash",
            Kind::NoCompatibleFile { .. } => "no-compatible-file",
            Kind::WrongAcceleratorBuild => "wrong-accelerator-build",
            Kind::CpuOnlyPackage { .. } => "cpu-only-package",
            Kind::CudaConflict { .. } => "cuda-conflict",
            Kind::DuplicateModule { .. } => "duplicate-module",
            Kind::SdistBuild { .. } => "sdist-build",
            Kind::TrustedHost { .. } => "trusted-host",
            Kind::PinMarker { .. } => "pin-marker",
            Kind::GitPin { .. } => "git-pin",
            Kind::DirectoryPin { .. } => "directory-pin",
            Kind::CudaOnCpu { .. } => "cuda-on-cpu",
            Kind::TagOnlyImage { .. } => "tag-only-image",
            Kind::Vulnerability { .. } => "vulnerability",
        }
    }
}

/// One package's (or the profile's) say on which CUDA it runs with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CudaClaim {
    /// `name==version`, or `profile <name>`.
    pub by: String,
    /// `12` or `12.4`.
    pub cuda: String,
    pub evidence: String,
}

/// What `check` judges a lock against.
pub struct Context<'a> {
    pub profile: &'a Profile,
    pub target: &'a Target,
    pub policy: &'a AcceleratorPolicy,
    /// The indexes the profile searches, in order (for messages).
    pub indexes: &'a [String],
    /// The lock, as the command line named it (for the report).
    pub lock: &'a str,
    /// The command that re-locks for this profile (`dockgen lock --profile gpu.yaml`).
    pub relock: &'a str,
}

/// Every finding of `facts`, errors first.
pub fn check(facts: &Facts, context: &Context<'_>) -> Report {
    let mut findings = Vec::new();
    files(facts, context, &mut findings);
    accelerated(facts, context, &mut findings);
    cpu_only(facts, context, &mut findings);
    cuda(facts, context, &mut findings);
    cuda_on_cpu(facts, context, &mut findings);
    tag_only_images(context, &mut findings);
    duplicate_modules(facts, &mut findings);
    findings.sort_by(|a, b| {
        (a.severity, a.kind.order(), &a.packages).cmp(&(b.severity, b.kind.order(), &b.packages))
    });
    Report {
        profile: context.profile.name.clone(),
        lock: context.lock.to_string(),
        packages: facts.packages.len(),
        errors: count(&findings, Severity::Error),
        warnings: count(&findings, Severity::Warning),
        findings,
    }
}

impl Report {
    /// Adds a `vulnerability` error for each advisory that affects a pin, with the
    /// smallest upgrade that fixes it.
    pub fn add_vulnerabilities(&mut self, found: &super::vulns::Vulnerabilities, relock: &str) {
        let mut findings = Vec::new();
        for ((name, version), advisories) in &found.affected {
            for advisory in advisories {
                let mut names = vec![advisory.id.clone()];
                names.extend(advisory.aliases.iter().cloned());
                let fix = match &advisory.upgrade {
                    Some(upgrade) => format!(
                        "upgrade `{name}` to {upgrade} or later, the smallest release that fixes \
                         it: `{relock} --upgrade-package {name}` (or require `{name}>={upgrade}`)"
                    ),
                    None if advisory.fixed.is_empty() => format!(
                        "no release fixes it yet: see {}; leave `{name}` out, or accept the risk",
                        advisory.url
                    ),
                    None => format!(
                        "no release above {version} on its branch fixes it (fixed in {}): see {}",
                        advisory.fixed.join(", "),
                        advisory.url
                    ),
                };
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::Vulnerability {
                        id: advisory.id.clone(),
                        aliases: advisory.aliases.clone(),
                        severity: advisory.severity.clone(),
                        fixed: advisory.fixed.clone(),
                        upgrade: advisory.upgrade.clone(),
                        url: advisory.url.clone(),
                    },
                    packages: vec![format!("{name}=={version}")],
                    message: format!(
                        "`{name}` {version} has a known vulnerability: {} ({}): {}",
                        names.join(", "),
                        advisory.severity,
                        advisory.summary
                    ),
                    fix,
                });
            }
        }
        self.add(findings);
    }
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

/// `linux/amd64, CPython 3.11.13, glibc 2.35`: what decides which files fit.
fn target_line(profile: &Profile) -> String {
    format!(
        "{}, CPython {}, {}",
        profile.platform, profile.python, profile.libc
    )
}

fn relock<'a>(context: &Context<'a>) -> &'a str {
    context.relock
}

/// Whether the lock names files the indexes serve, and one of them fits the target.
fn files(facts: &Facts, context: &Context<'_>, findings: &mut Vec<Finding>) {
    let target = target_line(context.profile);
    for package in facts.packages.values() {
        let pin = package.pin();
        let Some(index) = &package.index else {
            findings.push(Finding {
                severity: Severity::Error,
                kind: Kind::NotOnIndex,
                packages: vec![pin],
                message: format!(
                    "`{}` is on no index of profile `{}` ({})",
                    package.name,
                    context.profile.name,
                    quoted(context.indexes)
                ),
                fix: format!(
                    "add the index that serves it to the profile's `indexes`, or re-lock \
                     (`{}`) to see what the indexes offer now",
                    relock(context)
                ),
            });
            continue;
        };
        if !package.unknown_hashes.is_empty() {
            let hashes: Vec<String> = package
                .unknown_hashes
                .iter()
                .map(|h| format!("sha256:{h}"))
                .collect();
            findings.push(Finding {
                severity: Severity::Error,
                kind: Kind::UnknownHash {
                    hashes: hashes.clone(),
                },
                packages: vec![pin],
                message: format!(
                    "{} of `{}` {} {} no file index `{index}` lists: {}",
                    if hashes.len() == 1 {
                        "a locked hash".to_string()
                    } else {
                        format!("{} locked hashes", hashes.len())
                    },
                    package.name,
                    package.version,
                    if hashes.len() == 1 {
                        "matches"
                    } else {
                        "match"
                    },
                    hashes.join(", ")
                ),
                fix: format!(
                    "the index removed or replaced the file: re-lock (`{}`) and review \
                     what changed",
                    relock(context)
                ),
            });
            continue;
        }
        let unlocked_fit: Vec<&str> = package
            .unlocked
            .iter()
            .filter(|(_, fits)| *fits)
            .map(|(name, _)| name.as_str())
            .collect();
        let unlocked_wheel = unlocked_fit
            .iter()
            .find(|name| name.ends_with(".whl"))
            .copied();
        let installed = package.installed();
        match installed.map(|file| (&file.filename, &file.kind)) {
            Some((_, FileKind::Wheel { .. })) => {}
            Some((sdist, FileKind::Sdist { build })) => {
                let (requires, backend, declared) = match build {
                    Some(build) => (
                        build.requires.clone(),
                        build.backend.clone(),
                        build.declared,
                    ),
                    None => (Vec::new(), None, false),
                };
                let built_with = match (&backend, declared) {
                    (_, false) => format!(
                        "it declares no `[build-system]`, so pip builds it with {} and \
                         setuptools' legacy backend",
                        code_list(&requires)
                    ),
                    (Some(backend), true) => {
                        format!(
                            "build requirements {}, backend `{backend}`",
                            code_list(&requires)
                        )
                    }
                    (None, true) => format!(
                        "build requirements {}, setuptools' legacy backend",
                        code_list(&requires)
                    ),
                };
                let why = match unlocked_wheel {
                    Some(wheel) => format!(
                        "index `{index}` has a wheel of it for the target that the lock does \
                         not name (`{wheel}`)"
                    ),
                    None => format!("index `{index}` has no wheel of it for {target}"),
                };
                findings.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::SdistBuild {
                        sdist: sdist.clone(),
                        build_requires: requires,
                        build_backend: backend,
                        build_system_declared: declared,
                    },
                    packages: vec![pin],
                    message: format!(
                        "`{}` {} is built from its sdist `{sdist}` in the wheel-builder \
                         stage ({built_with}): {why}",
                        package.name, package.version,
                    ),
                    fix: match unlocked_wheel {
                        Some(_) => format!("re-lock for this profile (`{}`)", relock(context)),
                        None => format!(
                            "make sure the builder image has what the build needs \
                             (compilers, headers, system libraries), or require a version \
                             of `{}` with a wheel for {target}",
                            package.name
                        ),
                    },
                });
            }
            None if package.git_pin.is_some() => {
                let url = crate::secrets::url_text(package.git_pin.as_deref().unwrap_or_default());
                findings.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::GitPin { url: url.clone() },
                    packages: vec![pin],
                    message: format!(
                        "`{}` {} is pinned by git commit (`{url}`): no file to hash-check; \
                         `dockgen build` and `dockgen render --wheelhouse` export the commit \
                         as `{}-{}.tar.gz` and the wheel-builder stage builds it like an \
                         sdist",
                        package.name,
                        package.version,
                        package.name.as_dist_info_name(),
                        package.version,
                    ),
                    fix: format!(
                        "build with `dockgen build` or `dockgen render --wheelhouse` (a render \
                         that fetches from indexes cannot install it), or publish a wheel of \
                         `{}` on an index and require it by version",
                        package.name
                    ),
                });
            }
            None if package.directory_pin.is_some() => {
                let url =
                    crate::secrets::url_text(package.directory_pin.as_deref().unwrap_or_default());
                findings.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::DirectoryPin { url: url.clone() },
                    packages: vec![pin],
                    message: format!(
                        "`{}` {} is pinned by local directory (`{url}`): no file to \
                         hash-check, and the lock names an absolute path, so it only works on \
                         a machine that has that directory; `dockgen build` and `dockgen \
                         render --wheelhouse` export the directory as `{}-{}.tar.gz` and the \
                         wheel-builder stage builds it like an sdist",
                        package.name,
                        package.version,
                        package.name.as_dist_info_name(),
                        package.version,
                    ),
                    fix: format!(
                        "lock and build on this machine with `dockgen build` or `dockgen \
                         render --wheelhouse`; for a lock that works elsewhere, require `{}` \
                         from a git repository or as a wheel on an index",
                        package.name
                    ),
                });
            }
            None => {
                let locked: Vec<String> =
                    package.files.iter().map(|f| f.filename.clone()).collect();
                let message = if locked.is_empty() {
                    format!(
                        "the lock names no file of `{}` {} (no `--hash`)",
                        package.name, package.version
                    )
                } else {
                    format!(
                        "none of the locked files of `{}` {} installs on the target \
                         ({target}): {}",
                        package.name,
                        package.version,
                        abbreviated(&locked, 4)
                    )
                };
                let fix = match unlocked_fit.first() {
                    Some(fits) => format!(
                        "the lock was made for another target: index `{index}` has `{fits}`, \
                         which fits; re-lock for this profile (`{}`)",
                        relock(context)
                    ),
                    None => format!(
                        "index `{index}` has no file of `{}` {} for this target: require a \
                         version that has a wheel for it (or an sdist), and re-lock",
                        package.name, package.version
                    ),
                };
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::NoCompatibleFile {
                        locked_files: locked,
                    },
                    packages: vec![pin],
                    message,
                    fix,
                });
            }
        }
    }
}

/// Every locked package as the accelerator judgement sees it: its requirements for any
/// of its extras (the lock holds what they need) that the lock holds.
fn builds<'a>(facts: &'a Facts, target: &Target) -> Builds<'a> {
    facts
        .packages
        .values()
        .map(|package| {
            let (requires_dist, extras) = package
                .metadata
                .as_ref()
                .map(|m| (m.requires_dist.as_slice(), m.provides_extras.as_slice()))
                .unwrap_or_default();
            let build = Build::new(
                &package.name,
                &package.version,
                package.index.as_deref().unwrap_or_default(),
                requires_dist,
                extras,
                target,
                |name| facts.packages.get(name).map(|p| &p.version),
            );
            (&package.name, build)
        })
        .collect()
}

/// The profile's accelerated packages, judged as `lock` judges them.
fn accelerated(facts: &Facts, context: &Context<'_>, findings: &mut Vec<Finding>) {
    let builds = builds(facts, context.target);
    for name in &context.policy.packages {
        let Some(package) = facts.packages.get(name) else {
            continue;
        };
        if let Err(error) =
            accelerator::check_build(name, &builds, context.policy, &context.profile.name)
        {
            findings.push(Finding {
                severity: Severity::Error,
                kind: Kind::WrongAcceleratorBuild,
                packages: vec![package.pin()],
                message: format!(
                    "`{}` {} (from index `{}`) is {}, but profile `{}` needs {}",
                    error.package,
                    error.version,
                    error.index,
                    error.what,
                    error.profile,
                    error.needed
                ),
                fix: error.advice,
            });
        }
    }
}

/// Distributions that are CPU-only builds of something that has GPU builds: the CPU
/// one, and what to require on CUDA and on ROCm profiles instead.
const CPU_ONLY: &[(&str, Option<&str>, Option<&str>)] = &[
    (
        "onnxruntime",
        Some("onnxruntime-gpu"),
        Some("onnxruntime-rocm"),
    ),
    (
        "tensorflow-cpu",
        Some("tensorflow[and-cuda]"),
        Some("tensorflow-rocm"),
    ),
    ("faiss-cpu", Some("faiss-gpu-cu12"), None),
    ("paddlepaddle", Some("paddlepaddle-gpu"), None),
];

fn cpu_only(facts: &Facts, context: &Context<'_>, findings: &mut Vec<Finding>) {
    let gpu = match &context.profile.accelerator {
        Accelerator::Cpu => return,
        Accelerator::Cuda { version, .. } => format!("CUDA {version}"),
        Accelerator::Rocm { version, .. } => format!("ROCm {version}"),
    };
    let rocm = matches!(context.profile.accelerator, Accelerator::Rocm { .. });
    for (cpu, cuda_alternative, rocm_alternative) in CPU_ONLY {
        let Some(alternative) = (if rocm {
            rocm_alternative
        } else {
            cuda_alternative
        }) else {
            continue;
        };
        let Some(package) = facts.packages.get(&name(cpu)) else {
            continue;
        };
        let alternative_name = name(alternative.split('[').next().unwrap_or(alternative));
        let listed = context
            .policy
            .packages
            .iter()
            .any(|p| *p == package.name || *p == alternative_name);
        findings.push(Finding {
            severity: if listed {
                Severity::Error
            } else {
                Severity::Warning
            },
            kind: Kind::CpuOnlyPackage {
                alternative: alternative.to_string(),
            },
            packages: vec![package.pin()],
            message: format!(
                "`{}` {} is a CPU-only build, on {gpu} profile `{}`{}",
                package.name,
                package.version,
                context.profile.name,
                if listed {
                    " that lists it as accelerated"
                } else {
                    ""
                }
            ),
            fix: format!(
                "require `{alternative}` instead of `{}` (see `# via` in the lock for who \
                 asks for it), or keep it if it runs on the CPU on purpose",
                package.name
            ),
        });
    }
}

fn name(text: &str) -> PackageName {
    text.parse().expect("a valid package name")
}

/// Which CUDA each package asks for (by the evidence `lock` reads, see
/// [`accelerator::claims`]), and whether they agree with each other and with the
/// profile (by [`accelerator::runs_on`]: the same major version).
fn cuda(facts: &Facts, context: &Context<'_>, findings: &mut Vec<Finding>) {
    let builds = builds(facts, context.target);
    let mut claims: Vec<(CudaClaim, u64, Option<u64>)> = Vec::new();
    for build in builds.values() {
        // The runtime wheels themselves follow who requires them.
        if accelerator::is_runtime_wheel(build.name) {
            continue;
        }
        let pin = format!("{}=={}", build.name, build.version);
        for claim in accelerator::claims(build) {
            if let Runtime::Cuda { major, minor } = claim.runtime {
                claims.push((
                    CudaClaim {
                        by: pin.clone(),
                        cuda: claim.runtime.version(),
                        evidence: claim.evidence,
                    },
                    major,
                    minor,
                ));
            }
        }
    }
    if claims.is_empty() {
        return;
    }
    let mut with_profile = claims.clone();
    let mut off_profile = false;
    if let Accelerator::Cuda { version, .. } = &context.profile.accelerator
        && let Some(profile @ Runtime::Cuda { major, .. }) =
            accelerator::profile_runtime(&context.profile.accelerator)
    {
        off_profile = claims.iter().any(|(_, major, minor)| {
            !accelerator::runs_on(
                Runtime::Cuda {
                    major: *major,
                    minor: *minor,
                },
                profile,
            )
        });
        with_profile.push((
            CudaClaim {
                by: format!("profile {}", context.profile.name),
                cuda: version.clone(),
                evidence: format!("its accelerator is CUDA {version}"),
            },
            major,
            None,
        ));
    }
    let majors: BTreeSet<u64> = claims.iter().map(|(_, major, _)| *major).collect();
    let conflict = if majors.len() > 1 || off_profile {
        Some((with_profile, "different CUDA major versions".to_string()))
    } else {
        let minors: BTreeSet<u64> = claims.iter().filter_map(|(_, _, minor)| *minor).collect();
        (minors.len() > 1).then(|| {
            let major = majors.first().copied().unwrap_or_default();
            let known = claims.into_iter().filter(|(_, _, m)| m.is_some()).collect();
            (known, format!("different CUDA {major}.x runtimes"))
        })
    };
    let Some((mut parties, what)) = conflict else {
        return;
    };
    parties.sort();
    let groups: BTreeMap<String, Vec<String>> =
        parties
            .iter()
            .fold(BTreeMap::new(), |mut groups, (claim, _, _)| {
                groups
                    .entry(claim.cuda.clone())
                    .or_default()
                    .push(format!("{} ({})", claim.by, claim.evidence));
                groups
            });
    let described: Vec<String> = groups
        .iter()
        .map(|(cuda, by)| format!("CUDA {cuda}: {}", by.join(", ")))
        .collect();
    let packages: BTreeSet<String> = parties
        .iter()
        .filter(|(claim, _, _)| !claim.by.starts_with("profile "))
        .map(|(claim, _, _)| claim.by.clone())
        .collect();
    findings.push(Finding {
        severity: Severity::Error,
        kind: Kind::CudaConflict {
            claims: parties.into_iter().map(|(claim, _, _)| claim).collect(),
        },
        packages: packages.into_iter().collect(),
        message: format!(
            "the lock asks for {what}: {}; one image holds one CUDA runtime, so some of \
             them load libraries they were not built for",
            described.join("; ")
        ),
        fix: "require builds for one CUDA version: the same `+cuXYZ` index for torch and its \
              companions, and versions of the other packages built for that CUDA (e.g. a \
              tensorflow release whose `and-cuda` extra asks for the same `nvidia-*-cuXX` \
              runtime)"
            .to_string(),
    });
}

/// On a CPU profile, the packages that pull CUDA runtime wheels (`nvidia-*`,
/// `cuda-toolkit`) into the lock, through the lock's `# via` (a runtime wheel that
/// requires another passes it on): gigabytes that nothing uses without a GPU. PyPI's
/// torch for Linux is a CUDA build; PyTorch's CPU index has the CPU one.
fn cuda_on_cpu(facts: &Facts, context: &Context<'_>, findings: &mut Vec<Finding>) {
    if !matches!(context.profile.accelerator, Accelerator::Cpu) {
        return;
    }
    let is_cuda = |name: &PackageName| {
        let name = name.as_ref();
        name.starts_with("nvidia-") || name == "cuda-toolkit"
    };
    // Each puller and the runtime wheels it reaches.
    let mut pulled: BTreeMap<&PackageName, BTreeSet<&PackageName>> = BTreeMap::new();
    for runtime in facts.packages.keys().filter(|name| is_cuda(name)) {
        let mut seen = BTreeSet::from([runtime]);
        let mut queue = vec![runtime];
        while let Some(name) = queue.pop() {
            for via in facts.packages.get(name).map_or(&[][..], |p| &p.via[..]) {
                let crate::lock::Via::Package(parent) = via else {
                    continue;
                };
                let Some((parent, _)) = facts.packages.get_key_value(&parent.name) else {
                    continue;
                };
                if is_cuda(parent) {
                    if seen.insert(parent) {
                        queue.push(parent);
                    }
                } else {
                    pulled.entry(parent).or_default().insert(runtime);
                }
            }
        }
    }
    let torch_family = ["torch", "torchvision", "torchaudio"];
    for (puller, runtime) in pulled {
        let package = &facts.packages[puller];
        let runtime_wheels: Vec<String> =
            runtime.iter().map(|n| facts.packages[*n].pin()).collect();
        let bytes = runtime
            .iter()
            .filter_map(|n| facts.packages[*n].installed()?.size)
            .sum();
        let names: Vec<String> = runtime.iter().map(|n| n.to_string()).collect();
        let fix = if torch_family.contains(&puller.as_ref()) {
            format!(
                "take torch, torchvision and torchaudio from PyTorch's CPU index, as the \
                 built-in `cpu-x86_64` profile does: an index `https://download.pytorch.org/whl/cpu` \
                 with `packages: [torch, torchvision, torchaudio]` before PyPI in the \
                 profile's `indexes:` (or `extends: cpu-x86_64` without replacing its \
                 indexes), then `{}`",
                context.relock
            )
        } else {
            format!(
                "require a CPU build of `{puller}` if it has one, or leave out what asks for \
                 CUDA (see `# via` in the lock), then `{}`",
                context.relock
            )
        };
        findings.push(Finding {
            severity: Severity::Warning,
            kind: Kind::CudaOnCpu {
                runtime_wheels,
                bytes,
            },
            packages: vec![package.pin()],
            message: format!(
                "`{}` {} pulls {} CUDA runtime wheel{} ({}; {}) into CPU profile `{}`, which \
                 never loads them",
                package.name,
                package.version,
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                abbreviated(&names, 4),
                super::report::human_size(bytes),
                context.profile.name
            ),
            fix,
        });
    }
}

/// The profile's base images named by a tag alone: the registry can move a tag, so the
/// next build may run on other system libraries (another glibc, another CUDA) than the
/// lock was checked against.
fn tag_only_images(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let images = &context.profile.images;
    let mut roles: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (role, image) in [("builder", &images.builder), ("runtime", &images.runtime)] {
        if !image.reference.contains('@') {
            roles
                .entry(&image.reference)
                .or_default()
                .push(role.to_string());
        }
    }
    for (image, roles) in roles {
        findings.push(Finding {
            severity: Severity::Warning,
            kind: Kind::TagOnlyImage {
                image: image.to_string(),
                roles: roles.clone(),
            },
            packages: Vec::new(),
            message: format!(
                "`{image}`, the {} image of profile `{}`, is named by a tag alone: its \
                 registry can move the tag, and the next build then runs on other system \
                 libraries than this lock was checked with",
                and_list(&roles),
                context.profile.name
            ),
            fix: format!(
                "pin it by digest in the profile (`image: {image}@sha256:<digest>`; \
                 `docker inspect --format '{{{{index .RepoDigests 0}}}}' {image}` prints \
                 it for an image the engine has)"
            ),
        });
    }
}

/// Top-level modules that more than one distribution installs. Wheels tell by their
/// file lists; an installed sdist's modules are unknown without a build, so they come
/// from a short list of known clashes.
fn duplicate_modules(facts: &Facts, findings: &mut Vec<Finding>) {
    let mut providers: BTreeMap<String, Vec<(String, TopLevelKind)>> = BTreeMap::new();
    for package in facts.packages.values() {
        match package.installed().map(|file| &file.kind) {
            Some(FileKind::Wheel {
                top_level: Some(names),
                ..
            }) => {
                for name in names {
                    providers
                        .entry(name.name.clone())
                        .or_default()
                        .push((package.pin(), name.kind));
                }
            }
            Some(FileKind::Sdist { .. }) => {
                for (module, distributions) in KNOWN_MODULES {
                    if distributions.contains(&package.name.as_ref()) {
                        providers
                            .entry(module.to_string())
                            .or_default()
                            .push((package.pin(), TopLevelKind::Package));
                    }
                }
            }
            _ => {}
        }
    }
    for (module, by) in providers {
        if by.len() < 2 || by.iter().all(|(_, kind)| *kind == TopLevelKind::Namespace) {
            continue;
        }
        let pins: Vec<String> = by.iter().map(|(pin, _)| pin.clone()).collect();
        findings.push(Finding {
            severity: Severity::Error,
            kind: Kind::DuplicateModule {
                module: module.clone(),
            },
            packages: pins.clone(),
            message: format!(
                "`{module}` is installed by {}: they write the same files, and the one \
                 installed last wins",
                and_list(&pins)
            ),
            fix: "keep one of them: require only the one you want, and replace the \
                  requirements that pull in the others (`# via` in the lock says who asks \
                  for each; `dockgen lock --override` replaces a requirement of a package)"
                .to_string(),
        });
    }
}

/// Distributions that install the same module, for sdists whose files are unknown.
const KNOWN_MODULES: &[(&str, &[&str])] = &[
    (
        "cv2",
        &[
            "opencv-python",
            "opencv-contrib-python",
            "opencv-python-headless",
            "opencv-contrib-python-headless",
        ],
    ),
    ("PIL", &["pillow", "pillow-simd", "pil"]),
];

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `` `a`, `b` `` (requirements hold commas and semicolons of their own).
fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn abbreviated(items: &[String], keep: usize) -> String {
    if items.len() <= keep {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..keep].join(", "),
        items.len() - keep
    )
}

/// What the lock's own lines say that pip reads differently from the audit views:
/// `--trusted-host` options and pins with markers (`lock` names the lock in messages).
pub fn lock_findings(lock: &LockFile, target: &Target, name: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (line, host) in &lock.trusted_hosts {
        findings.push(Finding {
            severity: Severity::Error,
            kind: Kind::TrustedHost {
                host: host.clone(),
                line: *line,
            },
            packages: Vec::new(),
            message: format!(
                "`{name}:{line}`: `--trusted-host {host}` makes pip skip TLS certificate \
                 verification for `{host}`: the index pages (and any credentials sent to \
                 it) are not protected, though the hashes still check the files"
            ),
            fix: "remove the line (dockgen never writes it), and serve the index over \
                  HTTPS with a certificate the image trusts"
                .into(),
        });
    }
    for pin in lock.pins.values() {
        let Some(marker) = &pin.marker else {
            continue;
        };
        let holds = crate::input::pep508::parse_marker(marker)
            .ok()
            .map(|tree| tree.evaluate(&target.markers, &[]));
        let (severity, verdict) = match holds {
            Some(true) => (
                Severity::Warning,
                "it holds on the target, so pip installs the pin",
            ),
            Some(false) => (
                Severity::Error,
                "it is false on the target, so pip skips the pin: the image lacks a \
                 package the tree and the SBOM list",
            ),
            None => (
                Severity::Error,
                "it does not read as a PEP 508 marker, so pip refuses the lock",
            ),
        };
        findings.push(Finding {
            severity,
            kind: Kind::PinMarker {
                marker: marker.clone(),
                line: pin.line,
            },
            packages: vec![format!("{}=={}", pin.name, pin.version)],
            message: format!(
                "`{name}:{}`: `{}=={}` has the marker `{marker}`: {verdict}",
                pin.line, pin.name, pin.version
            ),
            fix: "re-lock with dockgen: a lock is made for one target and its pins carry \
                  no markers"
                .into(),
        });
    }
    findings
}

impl Report {
    /// Adds `findings`, keeping the order (errors first) and the counts.
    pub fn add(&mut self, findings: Vec<Finding>) {
        self.findings.extend(findings);
        self.findings.sort_by(|a, b| {
            (a.severity, a.kind.order(), &a.packages).cmp(&(
                b.severity,
                b.kind.order(),
                &b.packages,
            ))
        });
        self.errors = count(&self.findings, Severity::Error);
        self.warnings = count(&self.findings, Severity::Warning);
    }
}

/// The report as people read it: one block per finding, then a summary line.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let severity = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "{severity}[{}]: {}",
            finding.kind.name(),
            finding.message
        );
        let _ = writeln!(out, "  fix: {}", finding.fix);
        out.push('\n');
    }
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let _ = writeln!(
        out,
        "{}, {} in {} (profile `{}`, lock `{}`)",
        plural(report.errors, "error"),
        plural(report.warnings, "warning"),
        plural(report.packages, "package"),
        report.profile,
        report.lock
    );
    out
}

/// The report as JSON, pretty-printed, with a final newline.
pub fn render_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a check report serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_lines_pip_reads_otherwise() {
        let profile = crate::input::profile::builtin("cpu-x86_64").unwrap();
        let target = Target::from_profile(&profile).unwrap();
        let text = "--index-url https://pypi.org/simple\n--trusted-host mirror.example\n\
                    a==1.0 ; sys_platform == \"win32\" --hash=sha256:aa\n\
                    b==2.0 ; python_version >= \"3.8\" --hash=sha256:bb\n\
                    c==3.0 ; not a marker --hash=sha256:cc\nd==4.0 --hash=sha256:dd\n";
        let lock = crate::lock::parse(text, std::path::Path::new("l.txt")).unwrap();
        let mut report = Report {
            profile: "cpu-x86_64".into(),
            lock: "l.txt".into(),
            packages: 4,
            errors: 0,
            warnings: 0,
            findings: Vec::new(),
        };
        report.add(lock_findings(&lock, &target, "l.txt"));
        assert_eq!((report.errors, report.warnings), (3, 1));
        insta::assert_snapshot!(render_text(&report));
    }

    #[test]
    fn cuda_majors_from_names() {
        for (name, major) in [
            ("nvidia-cublas-cu12", Some(12)),
            ("nvidia-cuda-runtime-cu11", Some(11)),
            ("cupy-cuda12x", Some(12)),
            ("jax-cuda12-plugin", Some(12)),
            ("tensorrt-cu12-libs", Some(12)),
            ("cuda-python", None),
            ("nvidia-ml-py", None),
            ("curio", None),
        ] {
            assert_eq!(accelerator::name_cuda_major(name), major, "{name}");
        }
    }
}
