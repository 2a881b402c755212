//! Which accelerator runtime a build was made for, and whether that runs on a profile:
//! the one judgement behind `lock`'s fail-closed rule (a GPU profile whose torch is a
//! CPU-only build, or a build for another CUDA, is an error, not an image that imports
//! fine and then runs on the CPU or fails to load its kernels) and behind `check`'s
//! `wrong-accelerator-build` and `cuda-conflict` findings.
//!
//! The evidence a build gives of its runtime ([`claims`]):
//! - its local version label: `+cpu`, `+cu124` (CUDA 12.4), `+rocm6.2` (ROCm 6.2);
//! - CUDA in its name: `cupy-cuda12x`, `jax-cuda12-plugin` (CUDA 12);
//! - the runtime wheels it requires, as the lock holds them: `nvidia-*-cuNN` (CUDA NN;
//!   `nvidia-cuda-*-cuNN` are versioned as the toolkit, so their locked version adds
//!   the minor), the unsuffixed toolkit wheels of CUDA 13 and later
//!   (`nvidia-cuda-runtime==13.0.96`, `nvidia-cuda-nvrtc`, ...) and NVIDIA's
//!   `cuda-toolkit` metapackage (`cuda-toolkit[cudart,...]==13.0.2`), whose locked
//!   versions are the CUDA version; `rocm[libraries]==7.2.1` and `rocm-sdk-*` (ROCm).
//!   PyPI's own CUDA builds of torch show themselves only this way.
//!
//! Without such evidence a build still counts as accelerated when it comes from the
//! index the profile pins the package to, or when it requires an accelerated build
//! exactly (`torchvision` 0.24.0 from PyPI requires `torch==2.9.0`, and PyPI builds it
//! against that torch): it inherits that build's runtime.
//!
//! The compatibility rule ([`runs_on`]): a build runs on a profile when it was made for
//! the profile's accelerator and the same major version. CUDA's minor version
//! compatibility lets a build for 12.6 run with the 12.4 profile's driver and images
//! (its runtime wheels bring their own libraries), while a build for CUDA 13 needs a
//! CUDA 13 driver. ROCm is held to the same rule.

use std::collections::BTreeMap;
use std::fmt;

use pep440_rs::{LocalSegment, Operator, Version};
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};

use super::Resolution;
use crate::input::profile::Accelerator;
use crate::input::target::Target;

#[derive(Debug, Clone)]
pub struct AcceleratorPolicy {
    pub accelerator: Accelerator,
    /// Packages that must be accelerated builds on a GPU profile.
    pub packages: Vec<PackageName>,
    /// Package -> the index the profile pins it to.
    pub pinned: BTreeMap<PackageName, String>,
}

impl AcceleratorPolicy {
    pub fn cpu() -> Self {
        Self {
            accelerator: Accelerator::Cpu,
            packages: Vec::new(),
            pinned: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{package}` {version} (from index `{index}`) is {what}, but profile `{profile}` needs {needed}; {advice}"
)]
pub struct AcceleratorError {
    pub profile: String,
    pub package: PackageName,
    pub version: String,
    pub index: String,
    pub what: String,
    pub needed: String,
    /// What to do: depends on whether the build came from the index the profile pins
    /// the package to (then that index is the wrong one) or from another.
    pub advice: String,
}

/// What a build was made to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runtime {
    Cpu,
    Cuda { major: u64, minor: Option<u64> },
    Rocm { major: u64, minor: Option<u64> },
}

impl Runtime {
    /// `12.4`, `13` (no minor known), `6.2`; empty for the CPU.
    pub fn version(&self) -> String {
        match self {
            Runtime::Cpu => String::new(),
            Runtime::Cuda { major, minor } | Runtime::Rocm { major, minor } => match minor {
                Some(minor) => format!("{major}.{minor}"),
                None => major.to_string(),
            },
        }
    }

    fn major(&self) -> Option<u64> {
        match self {
            Runtime::Cpu => None,
            Runtime::Cuda { major, .. } | Runtime::Rocm { major, .. } => Some(*major),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Runtime::Cpu => f.write_str("CPU-only"),
            Runtime::Cuda { .. } => write!(f, "CUDA {}", self.version()),
            Runtime::Rocm { .. } => write!(f, "ROCm {}", self.version()),
        }
    }
}

/// One piece of evidence of the runtime a build was made for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    pub runtime: Runtime,
    /// `local version `+cu124``, `requires `nvidia-cuda-runtime==13.0.96``.
    pub evidence: String,
}

/// The runtime of a profile's accelerator (`None` for the CPU).
pub fn profile_runtime(accelerator: &Accelerator) -> Option<Runtime> {
    let parse = |version: &str| {
        let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
        let major = parts.next().flatten()?;
        Some((major, parts.next().flatten()))
    };
    match accelerator {
        Accelerator::Cpu => None,
        Accelerator::Cuda { version, .. } => {
            parse(version).map(|(major, minor)| Runtime::Cuda { major, minor })
        }
        Accelerator::Rocm { version, .. } => {
            parse(version).map(|(major, minor)| Runtime::Rocm { major, minor })
        }
    }
}

/// Whether a build made for `build` runs on a profile whose accelerator is `profile`:
/// the same kind of accelerator and the same major version (see the module's docs).
pub fn runs_on(build: Runtime, profile: Runtime) -> bool {
    match (build, profile) {
        (Runtime::Cuda { major: a, .. }, Runtime::Cuda { major: b, .. })
        | (Runtime::Rocm { major: a, .. }, Runtime::Rocm { major: b, .. }) => a == b,
        _ => false,
    }
}

/// One build of a package, as a lock or a resolution describes it.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub name: &'a PackageName,
    pub version: &'a Version,
    /// The index its files come from.
    pub index: &'a str,
    /// What it requires that applies on the target and that the lock holds, with the
    /// locked version of each.
    pub requires: Vec<(&'a Requirement, &'a Version)>,
}

impl<'a> Build<'a> {
    /// A build whose requirements are `requires_dist`, kept where their markers hold on
    /// `target` with `extras` and `locked` names a version.
    pub fn new(
        name: &'a PackageName,
        version: &'a Version,
        index: &'a str,
        requires_dist: &'a [Requirement],
        extras: &[ExtraName],
        target: &Target,
        locked: impl Fn(&PackageName) -> Option<&'a Version>,
    ) -> Self {
        let requires = requires_dist
            .iter()
            .filter(|req| req.marker.evaluate(&target.markers, extras))
            .filter_map(|req| Some((req, locked(&req.name)?)))
            .collect();
        Self {
            name,
            version,
            index,
            requires,
        }
    }
}

/// Every build of a lock or resolution, by name.
pub type Builds<'a> = BTreeMap<&'a PackageName, Build<'a>>;

/// `lock`'s rule: every accelerated package of the policy that the resolution holds
/// runs on the profile.
pub(super) fn check(
    resolution: &Resolution,
    policy: &AcceleratorPolicy,
    target: &Target,
    profile: &str,
) -> Result<(), Box<AcceleratorError>> {
    if policy.packages.is_empty() {
        return Ok(());
    }
    let builds: Builds<'_> = resolution
        .packages
        .values()
        .map(|package| {
            let extras: Vec<ExtraName> = package.extras.iter().cloned().collect();
            let build = Build::new(
                &package.name,
                &package.version,
                &package.index,
                &package.metadata.requires_dist,
                &extras,
                target,
                |name| resolution.packages.get(name).map(|p| &p.version),
            );
            (&package.name, build)
        })
        .collect();
    for name in &policy.packages {
        check_build(name, &builds, policy, profile)?;
    }
    Ok(())
}

/// What a build shows of its runtime, strongest first.
#[derive(Debug, Clone)]
enum Evidence {
    Claims(Vec<Claim>),
    /// None, but it comes from the index the profile pins it to.
    PinnedIndex,
    None,
}

/// Whether `name`'s build in `builds` (if there is one) is an accelerated build that
/// runs on the profile (CPU profiles accept anything); the same judgement for `lock`
/// and the audit views.
pub fn check_build(
    name: &PackageName,
    builds: &Builds<'_>,
    policy: &AcceleratorPolicy,
    profile: &str,
) -> Result<(), Box<AcceleratorError>> {
    let Some(build) = builds.get(name) else {
        return Ok(());
    };
    let Some(wanted) = profile_runtime(&policy.accelerator) else {
        return Ok(());
    };
    let (needed, hint) = match &policy.accelerator {
        Accelerator::Cpu => return Ok(()),
        Accelerator::Cuda { version, .. } => (
            format!("a CUDA {version} build"),
            format!("cu{}", version.replace('.', "")),
        ),
        Accelerator::Rocm { version, .. } => {
            (format!("a ROCm {version} build"), format!("rocm{version}"))
        }
    };
    let from_pinned = policy
        .pinned
        .get(name)
        .is_some_and(|index| index == build.index);
    let fail = |what: String, advice: String| {
        Err(Box::new(AcceleratorError {
            profile: profile.to_string(),
            package: name.clone(),
            version: build.version.to_string(),
            index: build.index.to_string(),
            what,
            needed: needed.clone(),
            advice,
        }))
    };
    let wrong_index = || {
        if from_pinned {
            format!(
                "the profile pins `{name}` to index `{}`, so that index serves the wrong \
                 builds: point its `url` at an index of `+{hint}` builds",
                build.index
            )
        } else {
            format!(
                "pin `{name}` to the accelerator index in the profile's `indexes` \
                 (with `packages: [{name}]`) or require a `+{hint}` build"
            )
        }
    };
    let (kind, major, label, runtime_wheels) = match wanted {
        Runtime::Rocm { major, .. } => ("ROCm", major, "rocm", "`rocm`"),
        _ => (
            "CUDA",
            wanted.major().unwrap_or_default(),
            "cu",
            "CUDA runtime",
        ),
    };
    let claims = match evidence(name, builds, policy, 0) {
        Evidence::PinnedIndex => return Ok(()),
        Evidence::Claims(claims) => claims,
        Evidence::None => {
            return fail(
                format!(
                    "not recognisably a {kind} build (no `+{label}` label, no {runtime_wheels} \
                     requirements, no exact pin on an accelerated build, not from a pinned \
                     accelerator index)"
                ),
                wrong_index(),
            );
        }
    };
    // Any claim the profile cannot run decides; a CPU build before all.
    let Some(wrong) = claims
        .iter()
        .filter(|claim| !runs_on(claim.runtime, wanted))
        .min_by_key(|claim| claim.runtime != Runtime::Cpu)
    else {
        return Ok(());
    };
    if wrong.runtime == Runtime::Cpu {
        // `+cpu` says it all; other evidence is named.
        let what = if wrong.evidence.starts_with("local version") {
            "a CPU-only build".to_string()
        } else {
            format!("a CPU-only build ({})", wrong.evidence)
        };
        return fail(what, wrong_index());
    }
    let what = format!("a {} build ({})", wrong.runtime, wrong.evidence);
    let other = match (wrong.runtime, wanted) {
        (Runtime::Cuda { major, .. }, Runtime::Cuda { .. }) => format!("CUDA {major}"),
        (Runtime::Rocm { major, .. }, Runtime::Rocm { .. }) => format!("ROCm {major}"),
        (Runtime::Cuda { .. }, _) => "CUDA".to_string(),
        _ => "ROCm".to_string(),
    };
    let example = if ["torch", "torchvision", "torchaudio"].contains(&name.as_ref()) {
        format!(", e.g. PyTorch's `https://download.pytorch.org/whl/{hint}`")
    } else {
        String::new()
    };
    let advice = if from_pinned {
        format!(
            "builds for {kind} {major}.x run on it; the profile pins `{name}` to index `{}`, \
             which serves {} builds: point its `url` at an index of {kind} {major}.x builds \
             (`+{hint}`{example}), or lock with a profile for {other}",
            build.index, wrong.runtime
        )
    } else {
        format!(
            "builds for {kind} {major}.x run on it: require a `{name}` built for {kind} \
             {major}.x, by pinning `{name}` to an index of such builds in the profile's \
             `indexes` (with `packages: [{name}]`{example}) or requiring a version whose \
             build is for {kind} {major}.x; or lock with a profile for {other}"
        )
    };
    fail(what, advice)
}

/// The evidence of `name`'s runtime: its own claims, else the pinned index, else the
/// claims of an accelerated build it requires exactly.
fn evidence(
    name: &PackageName,
    builds: &Builds<'_>,
    policy: &AcceleratorPolicy,
    depth: usize,
) -> Evidence {
    let Some(build) = builds.get(name) else {
        return Evidence::None;
    };
    let own = claims(build);
    if !own.is_empty() {
        return Evidence::Claims(own);
    }
    if policy
        .pinned
        .get(name)
        .is_some_and(|index| index == build.index)
    {
        return Evidence::PinnedIndex;
    }
    // torchvision -> torch -> ...: a short chain at most.
    if depth >= 3 {
        return Evidence::None;
    }
    for (requirement, locked) in &build.requires {
        if requirement.name == *name || !is_exact(requirement) {
            continue;
        }
        match evidence(&requirement.name, builds, policy, depth + 1) {
            Evidence::Claims(claims) => {
                return Evidence::Claims(
                    claims
                        .into_iter()
                        .map(|claim| Claim {
                            runtime: claim.runtime,
                            evidence: format!(
                                "{}: {}",
                                requires(requirement, locked, " exactly"),
                                claim.evidence
                            ),
                        })
                        .collect(),
                );
            }
            Evidence::PinnedIndex => return Evidence::PinnedIndex,
            Evidence::None => {}
        }
    }
    Evidence::None
}

/// Evidence that a build requires `requirement` (`how`: `" exactly"` or nothing), with
/// the locked version when the requirement does not say it.
fn requires(requirement: &Requirement, locked: &Version, how: &str) -> String {
    let shown = requirement.to_string();
    if shown.contains(&locked.to_string()) {
        format!("requires `{shown}`{how}")
    } else {
        format!("requires `{shown}`{how}, locked as {locked}")
    }
}

/// `==X` (not `==X.*`) or `===X`: one version.
fn is_exact(requirement: &Requirement) -> bool {
    let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
        return false;
    };
    specifiers
        .iter()
        .any(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual))
}

/// What `build` itself shows of its runtime: its label, its name, the runtime wheels it
/// requires. A bare major is left out beside the same major with a minor.
pub fn claims(build: &Build<'_>) -> Vec<Claim> {
    let mut found: Vec<Claim> = Vec::new();
    let mut add = |runtime: Runtime, evidence: String| {
        if !found.iter().any(|claim| claim.runtime == runtime) {
            found.push(Claim { runtime, evidence });
        }
    };
    let label = local_label(build.version);
    if let Some(runtime) = label_runtime(build.version) {
        add(runtime, format!("local version `+{label}`"));
    }
    if let Some(major) = name_cuda_major(build.name.as_ref()) {
        add(
            Runtime::Cuda { major, minor: None },
            format!("its name `{}`", build.name),
        );
    }
    for (requirement, locked) in &build.requires {
        if let Some(runtime) = requirement_runtime(requirement, locked) {
            add(runtime, requires(requirement, locked, ""));
        }
    }
    let known: Vec<Runtime> = found.iter().map(|claim| claim.runtime).collect();
    found.retain(|claim| match claim.runtime {
        Runtime::Cuda { major, minor: None } => !known
            .iter()
            .any(|r| matches!(r, Runtime::Cuda { major: m, minor: Some(_) } if *m == major)),
        Runtime::Rocm { major, minor: None } => !known
            .iter()
            .any(|r| matches!(r, Runtime::Rocm { major: m, minor: Some(_) } if *m == major)),
        _ => true,
    });
    found
}

/// The runtime a local version label names: `cpu` anywhere, a `cuXYZ` segment (CUDA
/// X.Y from its last digit), `rocmX` followed by the minor (`+rocm6.2`).
pub fn label_runtime(version: &Version) -> Option<Runtime> {
    let segments = version.local();
    if local_label(version).contains("cpu") {
        return Some(Runtime::Cpu);
    }
    for (i, segment) in segments.iter().enumerate() {
        let LocalSegment::String(text) = segment else {
            continue;
        };
        if let Some(digits) = text
            .strip_prefix("cu")
            .filter(|d| d.len() >= 3 && d.len() <= 4 && d.bytes().all(|b| b.is_ascii_digit()))
            && let (Ok(major), Ok(minor)) = (
                digits[..digits.len() - 1].parse(),
                digits[digits.len() - 1..].parse(),
            )
        {
            return Some(Runtime::Cuda {
                major,
                minor: Some(minor),
            });
        }
        if let Some(Ok(major)) = text
            .strip_prefix("rocm")
            .filter(|d| !d.is_empty() && d.len() <= 2 && d.bytes().all(|b| b.is_ascii_digit()))
            .map(str::parse)
        {
            let minor = match segments.get(i + 1) {
                Some(LocalSegment::Number(n)) => Some(*n),
                _ => None,
            };
            return Some(Runtime::Rocm { major, minor });
        }
    }
    None
}

/// What requiring `requirement` (locked at `locked`) says of the requirer's runtime.
/// The major version comes from the name (`-cu12`) or else the locked version; the
/// minor only from an exact pin (`==12.4.127`, `==13.0.96.*`, `~=13.0.2`), since a
/// range says nothing of which minor the build was made with.
fn requirement_runtime(requirement: &Requirement, locked: &Version) -> Option<Runtime> {
    let name = requirement.name.as_ref();
    let locked_major = locked.release().first().copied()?;
    let cuda = |major: u64, versioned: bool| Runtime::Cuda {
        major,
        minor: versioned
            .then(|| pinned_minor(requirement, major))
            .flatten(),
    };
    if name.starts_with("nvidia-") {
        if let Some(suffix) = name_cuda_major(name) {
            // `nvidia-cuda-runtime-cu12==12.4.127`: the toolkit's own wheels carry its
            // version; the others (`nvidia-cudnn-cu12==9.1`) only the major.
            return Some(cuda(suffix, name.starts_with("nvidia-cuda-")));
        }
        // CUDA 13's unsuffixed toolkit wheels (`nvidia-cuda-runtime==13.0.96`).
        // Other unsuffixed libraries are versioned on their own (`nvidia-cufft` 12.0
        // ships with CUDA 13.0).
        if name.starts_with("nvidia-cuda-") && (11..100).contains(&locked_major) {
            return Some(cuda(locked_major, true));
        }
        return None;
    }
    if name == "cuda-toolkit" && (11..100).contains(&locked_major) {
        return Some(cuda(locked_major, true));
    }
    if name == "rocm" || name.starts_with("rocm-sdk-") {
        return Some(Runtime::Rocm {
            major: locked_major,
            minor: pinned_minor(requirement, locked_major),
        });
    }
    None
}

/// The minor version an `==`/`===`/`==X.*`/`~=` specifier pins (`==12.4.127` -> 4),
/// when its major is `major`.
fn pinned_minor(requirement: &Requirement, major: u64) -> Option<u64> {
    let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
        return None;
    };
    specifiers.iter().find_map(|specifier| {
        let exact = matches!(
            specifier.operator(),
            Operator::Equal | Operator::EqualStar | Operator::ExactEqual | Operator::TildeEqual
        );
        let release = specifier.version().release();
        (exact && release.first() == Some(&major))
            .then(|| release.get(1).copied())
            .flatten()
    })
}

/// `12` for `nvidia-cublas-cu12`, `cupy-cuda12x`, `jax-cuda12-plugin`.
pub fn name_cuda_major(name: &str) -> Option<u64> {
    name.split('-').find_map(|segment| {
        let digits = segment
            .strip_prefix("cuda")
            .or_else(|| segment.strip_prefix("cu"))?;
        let digits = digits.strip_suffix('x').unwrap_or(digits);
        (digits.len() == 2 && digits.starts_with('1'))
            .then(|| digits.parse().ok())
            .flatten()
    })
}

/// Whether `name` is one of the runtime wheels whose requirers it speaks for
/// (`nvidia-*`, `cuda-toolkit`, `rocm`, `rocm-sdk-*`): they follow who requires them.
pub fn is_runtime_wheel(name: &PackageName) -> bool {
    let name = name.as_ref();
    name.starts_with("nvidia-")
        || name == "cuda-toolkit"
        || name == "rocm"
        || name.starts_with("rocm-sdk-")
}

/// The local version label, segments joined by `.` (`cu124`, `rocm6.2`, ``).
pub fn local_label(version: &Version) -> String {
    version
        .local()
        .iter()
        .map(|segment| match segment {
            LocalSegment::String(s) => s.clone(),
            LocalSegment::Number(n) => n.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests;
