//! The target environment derived from a profile: PEP 508 marker values and the
//! ordered list of wheel tags the target interpreter accepts, computed without that
//! interpreter (as `packaging.tags` would on the target machine).
//!
//! STUB: the profile helper owns this file and replaces the bodies.

use pep440_rs::Version;
use pep508_rs::MarkerEnvironment;

use crate::input::profile::Profile;

/// One wheel tag triple, e.g. `cp311-cp311-manylinux_2_17_x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub interpreter: String,
    pub abi: String,
    pub platform: String,
}

/// The target of a lock.
#[derive(Debug, Clone)]
pub struct Target {
    pub markers: MarkerEnvironment,
    /// Full interpreter version, e.g. `3.11.9`.
    pub python: Version,
    /// Most preferred first, exactly as `packaging.tags.sys_tags()` orders them.
    pub tags: Vec<Tag>,
}

impl Target {
    pub fn from_profile(profile: &Profile) -> Result<Self, TargetError> {
        let _ = profile;
        todo!()
    }

    /// Rank of the best tag a wheel with these (already `.`-split) tag sets
    /// carries: 0 is the most preferred; `None` when the target cannot install it.
    pub fn wheel_rank(
        &self,
        interpreters: &[&str],
        abis: &[&str],
        platforms: &[&str],
    ) -> Option<usize> {
        let _ = (interpreters, abis, platforms);
        todo!()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("profile `{profile}`: {message}")]
    Invalid { profile: String, message: String },
}
