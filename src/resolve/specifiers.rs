//! PEP 440 version specifiers as PubGrub ranges.
//!
//! `pep440_rs` converts specifiers to [`Ranges`], but compares local versions
//! strictly, while PEP 440 says a specifier without a local label ignores the
//! candidate's label: `torch==2.5.1` must accept `2.5.1+cu124`, and so must
//! `torch<=2.5.1`. Accelerator indexes publish nothing *but* local versions, so
//! this is the difference between a lock and a "no solution".

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pubgrub::Ranges;

/// The range of versions a set of specifiers allows.
pub fn to_ranges(specifiers: &VersionSpecifiers) -> Ranges<Version> {
    specifiers.iter().fold(Ranges::full(), |range, specifier| {
        range.intersection(&specifier_range(specifier))
    })
}

fn specifier_range(specifier: &VersionSpecifier) -> Ranges<Version> {
    let version = specifier.version();
    let locals_ignored = !version.is_local() && !version.is_dev() && !version.is_post();
    match specifier.operator() {
        Operator::Equal if locals_ignored => local_family(version),
        Operator::NotEqual if locals_ignored => local_family(version).complement(),
        Operator::LessThanEqual if locals_ignored => {
            Ranges::strictly_lower_than(after_locals(version))
        }
        _ => Ranges::from(specifier.clone()),
    }
}

/// `V` and every `V+label`: everything from `V` up to, not including, the first
/// post-release of `V` (`V.post0.dev0` is the smallest of those).
fn local_family(version: &Version) -> Ranges<Version> {
    Ranges::from_range_bounds(version.clone()..after_locals(version))
}

fn after_locals(version: &Version) -> Version {
    version.clone().with_post(Some(0)).with_dev(Some(0))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn allows(spec: &str, version: &str) -> bool {
        let specifiers = VersionSpecifiers::from_str(spec).unwrap();
        to_ranges(&specifiers).contains(&Version::from_str(version).unwrap())
    }

    #[test]
    fn equal_without_local_accepts_local_builds() {
        assert!(allows("==2.5.1", "2.5.1"));
        assert!(allows("==2.5.1", "2.5.1+cu124"));
        assert!(allows("==2.5.1", "2.5.1+rocm6.2"));
        assert!(!allows("==2.5.1", "2.5.1.post1"));
        assert!(!allows("==2.5.1", "2.5.2"));
        assert!(!allows("==2.5.1", "2.5.1rc1"));
    }

    #[test]
    fn equal_with_local_is_exact() {
        assert!(allows("==2.5.1+cu124", "2.5.1+cu124"));
        assert!(!allows("==2.5.1+cu124", "2.5.1+cpu"));
        assert!(!allows("==2.5.1+cu124", "2.5.1"));
    }

    #[test]
    fn not_equal_and_less_equal_ignore_labels() {
        assert!(!allows("!=2.5.1", "2.5.1+cpu"));
        assert!(allows("!=2.5.1", "2.5.2"));
        assert!(allows("<=2.5.1", "2.5.1+cu124"));
        assert!(!allows("<=2.5.1", "2.5.1.post1"));
        assert!(allows(">=2.5.1", "2.5.1+cu124"));
        assert!(!allows(">2.5.1", "2.5.1+cu124"));
    }

    #[test]
    fn wildcards_and_compatible_release() {
        assert!(allows("==2.5.*", "2.5.1+cu124"));
        assert!(!allows("==2.5.*", "2.6.0"));
        assert!(allows("~=2.5", "2.9"));
        assert!(!allows("~=2.5", "3.0"));
        assert!(allows(">=1.24,<2", "1.26.4"));
        assert!(!allows(">=1.24,<2", "2.0.0rc1"));
    }
}
