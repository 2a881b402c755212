//! GPU profiles fail closed: a lock whose torch is a CPU-only build is an error, not
//! an image that imports fine and then runs on the CPU.
//!
//! The evidence, strongest first: the local version label (`+cpu`, `+cu124`,
//! `+rocm6.2`); the index the file came from, when the profile pins the package to an
//! accelerator index; and CUDA runtime wheels (`nvidia-*-cu12`) among its
//! requirements, which is how PyPI's own CUDA builds of torch show themselves.

use std::collections::BTreeMap;

use pep440_rs::{LocalSegment, Version};
use pep508_rs::{PackageName, Requirement};

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

pub(super) fn check(
    resolution: &Resolution,
    policy: &AcceleratorPolicy,
    target: &Target,
    profile: &str,
) -> Result<(), Box<AcceleratorError>> {
    for name in &policy.packages {
        let Some(package) = resolution.packages.get(name) else {
            continue;
        };
        let build = Build {
            name,
            version: &package.version,
            index: &package.index,
            requires_dist: &package.metadata.requires_dist,
        };
        check_build(&build, policy, target, profile)?;
    }
    Ok(())
}

/// One build of an accelerated package, as a lock or the indexes describe it.
#[derive(Debug, Clone, Copy)]
pub struct Build<'a> {
    pub name: &'a PackageName,
    pub version: &'a Version,
    /// The index its files come from.
    pub index: &'a str,
    /// As its metadata declares them (empty when unknown).
    pub requires_dist: &'a [Requirement],
}

/// Whether `build` is the accelerated build the profile needs (CPU profiles accept
/// anything); the same judgement `lock` makes, for the audit views.
pub fn check_build(
    build: &Build<'_>,
    policy: &AcceleratorPolicy,
    target: &Target,
    profile: &str,
) -> Result<(), Box<AcceleratorError>> {
    let (needed, hint, family) = match &policy.accelerator {
        Accelerator::Cpu => return Ok(()),
        Accelerator::Cuda { version, .. } => (
            format!("a CUDA {version} build"),
            format!("cu{}", version.replace('.', "")),
            Family::Cuda(major(version)),
        ),
        Accelerator::Rocm { version, .. } => (
            format!("a ROCm {version} build"),
            format!("rocm{version}"),
            Family::Rocm,
        ),
    };
    let name = build.name;
    let label = local_label(build.version);
    let from_pinned = policy
        .pinned
        .get(name)
        .is_some_and(|index| index == build.index);
    let advice = if from_pinned {
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
    };
    let fail = |what: String| {
        Box::new(AcceleratorError {
            profile: profile.to_string(),
            package: name.clone(),
            version: build.version.to_string(),
            index: build.index.to_string(),
            what,
            needed: needed.clone(),
            advice: advice.clone(),
        })
    };
    if label.contains("cpu") {
        return Err(fail("a CPU-only build".into()));
    }
    match family {
        Family::Cuda(want) => {
            if label.starts_with("rocm") {
                return Err(fail("a ROCm build".into()));
            }
            if let Some(digits) = label
                .strip_prefix("cu")
                .filter(|d| d.len() >= 3 && d.chars().all(|c| c.is_ascii_digit()))
            {
                let have = &digits[..digits.len() - 1];
                if have != want {
                    return Err(fail(format!("a CUDA {have}.x build (`+{label}`)")));
                }
                return Ok(());
            }
            if !from_pinned && !requires_cuda_runtime(build.requires_dist, target) {
                return Err(fail("not recognisably a CUDA build (no `+cu` label, no CUDA runtime requirements, not from a pinned accelerator index)".into()));
            }
        }
        Family::Rocm => {
            if !label.starts_with("rocm") {
                let what = if label.is_empty() {
                    "not a ROCm build (no `+rocm` label)".to_string()
                } else {
                    format!("not a ROCm build (`+{label}`)")
                };
                return Err(fail(what));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Family<'a> {
    Cuda(&'a str),
    Rocm,
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
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

fn requires_cuda_runtime(requires_dist: &[Requirement], target: &Target) -> bool {
    requires_dist.iter().any(|req| {
        let name = req.name.as_ref();
        name.starts_with("nvidia-")
            && name.contains("-cu1")
            && req.marker.evaluate(&target.markers, &[])
    })
}
