//! Target profiles: YAML files that fix everything a lock and an image depend on.
//!
//! STUB: the profile helper owns this file: loading, `extends:`, validation,
//! built-ins. The field set below is the interface other modules rely on; the helper
//! may add fields, but should not rename these.

use std::collections::BTreeMap;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub platform: Platform,
    /// Full interpreter version of the target, e.g. `3.10.12`.
    pub python: Version,
    pub libc: Libc,
    pub accelerator: Accelerator,
    /// Packages that must resolve to an accelerated build on a GPU profile.
    pub accelerated_packages: Vec<PackageName>,
    /// In priority order: the first index that has a package wins.
    pub indexes: Vec<IndexSpec>,
    pub images: Images,
    pub env: BTreeMap<String, String>,
    pub verify: Verify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "linux/amd64")]
    LinuxAmd64,
    #[serde(rename = "linux/arm64")]
    LinuxArm64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LibcFamily {
    Glibc,
    Musl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Libc {
    pub family: LibcFamily,
    /// (major, minor), e.g. (2, 35).
    pub version: (u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Accelerator {
    Cpu,
    Cuda {
        version: String,
        compute_capabilities: Vec<String>,
    },
    Rocm {
        version: String,
        gfx_targets: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexSpec {
    pub name: String,
    pub url: Url,
    /// When set, this index is the only source of these packages and serves nothing else.
    pub packages: Option<Vec<PackageName>>,
    pub exclude_newer: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Images {
    pub builder: Image,
    pub runtime: Image,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub reference: String,
    pub system_packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Verify {
    pub imports: Vec<String>,
    pub assertions: Vec<Assertion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assertion {
    pub name: String,
    /// A Python expression that must be true in the built image.
    pub check: String,
    /// Run only where a GPU is present; reported as skipped elsewhere.
    pub gpu_only: bool,
}
