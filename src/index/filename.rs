//! Distribution filenames: wheels (`{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`,
//! PEP 427 / PEP 491) and sdists (`{name}-{version}.tar.gz`, `.zip`, legacy `.tar.bz2`
//! and `.tgz`), parsed into the name, the [`Version`] and the [`DistKind`] an index
//! listing needs.
//!
//! Other files an index may list (`.egg`, `.exe`, `.msi`, `.rpm`, `.dmg`, signatures,
//! ...) are not distributions dockgen can install: [`parse`] returns `Ok(None)` for them,
//! so a listing simply skips them. A file that *looks* like a wheel or an sdist but is
//! malformed, has an invalid version, or names another project is an error: an index
//! that serves such a file deserves a warning, not silence.

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::{DistKind, WheelTags};

/// A wheel or sdist filename, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistFilename {
    Wheel(WheelFilename),
    Sdist(SdistFilename),
}

impl DistFilename {
    pub fn name(&self) -> &PackageName {
        match self {
            DistFilename::Wheel(wheel) => &wheel.name,
            DistFilename::Sdist(sdist) => &sdist.name,
        }
    }

    /// The version as the filename writes it, local label (`+cu124`) included.
    pub fn version(&self) -> &Version {
        match self {
            DistFilename::Wheel(wheel) => &wheel.version,
            DistFilename::Sdist(sdist) => &sdist.version,
        }
    }

    pub fn kind(&self) -> DistKind {
        match self {
            DistFilename::Wheel(wheel) => wheel.kind(),
            DistFilename::Sdist(_) => DistKind::Sdist,
        }
    }
}

/// A parsed wheel filename. Tags keep the filename's order within each `.`-split set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build: Option<BuildTag>,
    pub interpreters: Vec<String>,
    pub abis: Vec<String>,
    pub platforms: Vec<String>,
}

impl WheelFilename {
    pub fn kind(&self) -> DistKind {
        DistKind::Wheel(WheelTags::new(
            &self.interpreters.join("."),
            &self.abis.join("."),
            &self.platforms.join("."),
        ))
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    /// Wheel names are unambiguous (the name is escaped to contain no `-`), so unlike
    /// sdists they parse without knowing the project.
    fn from_str(filename: &str) -> Result<Self, FilenameError> {
        let invalid = |reason: String| FilenameError::InvalidWheel {
            filename: filename.to_string(),
            reason,
        };
        let stem = strip_suffix_ignore_case(filename, ".whl")
            .ok_or_else(|| invalid("it does not end in `.whl`".to_string()))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts[..] {
            [name, version, py, abi, plat] => (name, version, None, py, abi, plat),
            [name, version, build, py, abi, plat] => (name, version, Some(build), py, abi, plat),
            _ => {
                return Err(invalid(format!(
                    "expected 5 or 6 `-`-separated parts \
                     (`name-version[-build]-python-abi-platform.whl`), found {}",
                    parts.len()
                )));
            }
        };
        let name = PackageName::from_str(name)
            .map_err(|err| invalid(format!("invalid project name `{name}`: {err}")))?;
        let version = Version::from_str(version)
            .map_err(|err| invalid(format!("invalid version `{version}`: {err}")))?;
        let build = build
            .map(|build| {
                BuildTag::from_str(build).ok_or_else(|| {
                    invalid(format!("build tag `{build}` does not start with a digit"))
                })
            })
            .transpose()?;
        let tags = |set: &str, what: &str| -> Result<Vec<String>, FilenameError> {
            let tags: Vec<String> = set.split('.').map(str::to_string).collect();
            if tags.iter().any(String::is_empty) {
                return Err(invalid(format!("empty {what} tag in `{set}`")));
            }
            Ok(tags)
        };
        Ok(WheelFilename {
            name,
            version,
            build,
            interpreters: tags(py, "python")?,
            abis: tags(abi, "ABI")?,
            platforms: tags(plat, "platform")?,
        })
    }
}

/// The optional build tag of a wheel: a number, then an optional string. Installers
/// prefer the highest, comparing the number first (`Ord` here orders the same way).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BuildTag {
    pub number: u64,
    pub suffix: String,
}

impl BuildTag {
    fn from_str(tag: &str) -> Option<BuildTag> {
        let digits = tag.bytes().take_while(u8::is_ascii_digit).count();
        let number = tag[..digits].parse().ok()?;
        Some(BuildTag {
            number,
            suffix: tag[digits..].to_string(),
        })
    }
}

impl fmt::Display for BuildTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, self.suffix)
    }
}

/// A parsed sdist filename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistFilename {
    pub name: PackageName,
    pub version: Version,
    pub format: SdistFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdistFormat {
    TarGz,
    /// `.tgz`: a `.tar.gz` by another name.
    Tgz,
    TarBz2,
    Zip,
}

impl SdistFormat {
    const ALL: [(&'static str, SdistFormat); 4] = [
        (".tar.gz", SdistFormat::TarGz),
        (".tgz", SdistFormat::Tgz),
        (".tar.bz2", SdistFormat::TarBz2),
        (".zip", SdistFormat::Zip),
    ];

    /// The format an sdist filename's extension says, and the filename without it.
    pub fn from_filename(filename: &str) -> Option<(&str, SdistFormat)> {
        Self::ALL.iter().find_map(|&(suffix, format)| {
            strip_suffix_ignore_case(filename, suffix).map(|stem| (stem, format))
        })
    }
}

impl SdistFilename {
    /// `{name}-{version}` is ambiguous when the name holds `-` (`foo-bar-1.0` could be
    /// `foo` at version `bar-1.0` to a parser that does not know better), so the split
    /// is the one whose left side normalizes to `expected`.
    pub fn parse(filename: &str, expected: &PackageName) -> Result<SdistFilename, FilenameError> {
        let Some((stem, format)) = SdistFormat::from_filename(filename) else {
            return Err(FilenameError::InvalidSdist {
                filename: filename.to_string(),
                reason: "it does not end in `.tar.gz`, `.tgz`, `.tar.bz2` or `.zip`".to_string(),
            });
        };
        let mut bad_version = None;
        for (dash, _) in stem.match_indices('-') {
            let (name, version) = (&stem[..dash], &stem[dash + 1..]);
            if PackageName::from_str(name).ok().as_ref() != Some(expected) {
                continue;
            }
            match Version::from_str(version) {
                Ok(version) => {
                    return Ok(SdistFilename {
                        name: expected.clone(),
                        version,
                        format,
                    });
                }
                // `foo-bar-1.0` seen from `foo` is most likely the project `foo-bar`
                // (a `--find-links` directory mixes projects), not a bad version.
                Err(_) if version.contains('-') => {}
                Err(err) => bad_version = Some((version.to_string(), err.to_string())),
            }
        }
        Err(match bad_version {
            Some((version, err)) => FilenameError::InvalidSdist {
                filename: filename.to_string(),
                reason: format!("invalid version `{version}`: {err}"),
            },
            None => FilenameError::OtherProject {
                filename: filename.to_string(),
                expected: expected.clone(),
            },
        })
    }
}

/// Parse a filename an index lists for the project `expected`.
///
/// `Ok(None)`: not a wheel or an sdist (`.egg`, `.exe`, `.msi`, `.rpm`, ...); skip it.
/// `Err`: a wheel or sdist filename that is malformed ([`FilenameError::InvalidWheel`],
/// [`FilenameError::InvalidSdist`]) or belongs to another project
/// ([`FilenameError::OtherProject`], which a `--find-links` listing that mixes projects
/// should skip silently).
pub fn parse(
    filename: &str,
    expected: &PackageName,
) -> Result<Option<DistFilename>, FilenameError> {
    if strip_suffix_ignore_case(filename, ".whl").is_some() {
        let wheel = WheelFilename::from_str(filename)?;
        if &wheel.name != expected {
            return Err(FilenameError::OtherProject {
                filename: filename.to_string(),
                expected: expected.clone(),
            });
        }
        return Ok(Some(DistFilename::Wheel(wheel)));
    }
    if SdistFormat::from_filename(filename).is_some() {
        return SdistFilename::parse(filename, expected)
            .map(|sdist| Some(DistFilename::Sdist(sdist)));
    }
    Ok(None)
}

fn strip_suffix_ignore_case<'a>(filename: &'a str, suffix: &str) -> Option<&'a str> {
    let split = filename.len().checked_sub(suffix.len())?;
    let tail = filename.get(split..)?;
    tail.eq_ignore_ascii_case(suffix)
        .then(|| &filename[..split])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error("`{filename}` is not a valid wheel filename: {reason}")]
    InvalidWheel { filename: String, reason: String },
    #[error("`{filename}` is not a valid sdist filename: {reason}")]
    InvalidSdist { filename: String, reason: String },
    #[error(
        "`{filename}` is not a distribution of `{expected}`: its name part does not \
         normalize to `{expected}`"
    )]
    OtherProject {
        filename: String,
        expected: PackageName,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(name: &str) -> PackageName {
        PackageName::from_str(name).unwrap()
    }

    #[test]
    fn a_wheels_kind_keeps_its_compressed_tag_sets() {
        let wheel = WheelFilename::from_str(
            "pydantic_core-2.41.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        let DistKind::Wheel(tags) = wheel.kind() else {
            panic!("a wheel's kind");
        };
        assert_eq!(
            (tags.interpreters(), tags.abis(), tags.platforms()),
            (
                "cp311",
                "cp311",
                "manylinux_2_17_x86_64.manylinux2014_x86_64"
            )
        );
        assert_eq!(
            tags.expand(),
            [
                "cp311-cp311-manylinux_2_17_x86_64",
                "cp311-cp311-manylinux2014_x86_64"
            ]
        );
        let pure = WheelTags::new("py2.py3", "none", "any");
        assert_eq!(pure.expand(), ["py2-none-any", "py3-none-any"]);
    }

    /// One line per case: what a listing would make of the file.
    fn describe(filename: &str, expected: &str) -> String {
        match parse(filename, &name(expected)) {
            Ok(None) => format!("{filename} ({expected}): skipped"),
            Err(err) => format!("{filename} ({expected}): error: {err}"),
            Ok(Some(DistFilename::Sdist(sdist))) => format!(
                "{filename} ({expected}): sdist {} {} {:?}",
                sdist.name, sdist.version, sdist.format
            ),
            Ok(Some(DistFilename::Wheel(wheel))) => format!(
                "{filename} ({expected}): wheel {} {}{} py={} abi={} plat={}",
                wheel.name,
                wheel.version,
                wheel
                    .build
                    .map(|build| format!(" build={build}"))
                    .unwrap_or_default(),
                wheel.interpreters.join(","),
                wheel.abis.join(","),
                wheel.platforms.join(","),
            ),
        }
    }

    #[test]
    fn filename_table() {
        let cases = [
            ("torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", "torch"),
            ("torch-2.5.1+rocm6.2-cp310-cp310-linux_x86_64.whl", "torch"),
            (
                "numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "numpy",
            ),
            ("six-1.16.0-py2.py3-none-any.whl", "six"),
            ("foo-1.0-1-py3-none-any.whl", "foo"),
            ("foo-1.0-12abc-py3-none-any.whl", "foo"),
            (
                "zope.interface-6.0-cp311-cp311-macosx_11_0_arm64.whl",
                "zope-interface",
            ),
            (
                "zope_interface-6.0-cp311-abi3-win_amd64.whl",
                "zope.interface",
            ),
            (
                "Typing_Extensions-4.12.2-py3-none-any.WHL",
                "typing-extensions",
            ),
            ("foo-1.0-x1-py3-none-any.whl", "foo"),
            ("foo-1.0-py3-none.whl", "foo"),
            ("foo-1.0..2-py3-none-any.whl", "foo"),
            ("bar-1.0-py3-none-any.whl", "foo"),
            ("foo-1.0-py3..-none-any.whl", "foo"),
            ("foo-bar-1.0.tar.gz", "foo-bar"),
            ("foo_bar-1.0.post1.tar.gz", "foo-bar"),
            ("Foo.Bar-2.0-1.zip", "foo-bar"),
            ("foo-bar-baz-0.1rc1.tgz", "foo-bar-baz"),
            ("legacy-1.0.tar.bz2", "legacy"),
            ("foo-1.0.TAR.GZ", "foo"),
            ("foo-bar-1.0.tar.gz", "foo"),
            ("foo-notaversion.tar.gz", "foo"),
            ("foo-1.0.tar.gz", "foo-bar"),
            ("foo-1.0-py2.7.egg", "foo"),
            ("foo-1.0.win32.exe", "foo"),
            ("foo-1.0.tar.gz.asc", "foo"),
        ];
        let table: Vec<String> = cases
            .iter()
            .map(|(filename, expected)| describe(filename, expected))
            .collect();
        insta::assert_snapshot!(table.join("\n"));
    }

    #[test]
    fn wheel_filename_builds_dist_kind_and_keeps_local_version() {
        let parsed = parse(
            "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
            &name("torch"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(parsed.version(), &Version::from_str("2.5.1+cu124").unwrap());
        assert_ne!(parsed.version(), &Version::from_str("2.5.1").unwrap());
        assert_eq!(
            parsed.kind(),
            DistKind::Wheel(WheelTags::new("cp311", "cp311", "linux_x86_64"))
        );
    }

    #[test]
    fn build_tags_order_by_number_first() {
        let tag = |tag: &str| BuildTag::from_str(tag).unwrap();
        assert!(tag("2") < tag("10"));
        assert!(tag("1a") < tag("1b"));
        assert!(tag("1") < tag("1a"));
    }
}
