//! Core metadata (METADATA / PKG-INFO): parsing the email-header format, and finding it
//! inside a whole wheel (`*.dist-info/METADATA`) or an sdist (`{top}/PKG-INFO`).
//!
//! Reading an sdist's PKG-INFO is only sound when the metadata is static (PEP 643:
//! Metadata-Version 2.2 or later, and `Requires-Dist` / `Requires-Python` not marked
//! `Dynamic`); anything else needs a PEP 517 build, which is reported as
//! [`MetadataError::NeedsBuild`].

use std::error::Error as StdError;
use std::io::{Cursor, Read};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName};

use super::filename::{FilenameError, SdistFilename, SdistFormat, WheelFilename};
use super::{BuildSystem, CoreMetadata};
use crate::input::pep508::parse_requirement;
use crate::input::text::{printable, printable_lines};

/// METADATA files are a few KiB; past this an archive, a `.metadata` sidecar or a
/// cache entry is broken or hostile. The one cap, however the metadata arrives.
pub(crate) const MAX_METADATA_BYTES: u64 = 32 * 1024 * 1024;

/// Parsed core metadata plus the fields that say whether it can be trusted statically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub core: CoreMetadata,
    /// `Metadata-Version` as written (`2.1`), `None` when the field is missing.
    pub metadata_version: Option<String>,
    /// `Dynamic:` field names, lowercased (`requires-dist`), in file order.
    pub dynamic: Vec<String>,
}

impl Metadata {
    /// Why this PKG-INFO cannot be trusted to tell the dependencies, if it cannot.
    fn dynamic_reason(&self) -> Option<String> {
        let Some(written) = &self.metadata_version else {
            return Some("its `PKG-INFO` has no `Metadata-Version`".to_string());
        };
        let static_from = Version::new([2, 2]);
        match Version::from_str(written) {
            Ok(version) if version >= static_from => {}
            _ => {
                return Some(format!(
                    "its `PKG-INFO` has `Metadata-Version: {written}`; only 2.2 and later \
                     promise static dependencies"
                ));
            }
        }
        ["requires-dist", "requires-python"]
            .into_iter()
            .find(|field| self.dynamic.iter().any(|dynamic| dynamic == field))
            .map(|field| {
                format!(
                    "its `PKG-INFO` marks `{}` as dynamic",
                    canonical_field(field)
                )
            })
    }
}

fn canonical_field(field: &str) -> &str {
    match field {
        "requires-dist" => "Requires-Dist",
        "requires-python" => "Requires-Python",
        other => other,
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "`{file}` line {line}: invalid `{field}` value `{}`: {}",
        printable(value),
        printable_lines(message)
    )]
    InvalidField {
        file: String,
        line: usize,
        field: &'static str,
        value: String,
        message: String,
    },
    #[error("`{file}` has no `{field}` field, so it is not valid core metadata")]
    MissingField { file: String, field: &'static str },
    #[error(
        "`{filename}` needs a PEP 517 build to tell its dependencies ({reason}), which \
         dockgen does not do yet; pin a version of it that has wheels, or use \
         `--only-binary` for it"
    )]
    NeedsBuild { filename: String, reason: String },
    #[error("`{filename}` cannot be read: {message}")]
    Archive { filename: String, message: String },
    #[error(
        "`{filename}` is named for {filename_says} but its metadata says {metadata_says}; \
         the file is mislabelled, so use another version or file"
    )]
    Mismatch {
        filename: String,
        filename_says: String,
        metadata_says: String,
    },
    #[error(transparent)]
    Filename(#[from] FilenameError),
    /// The server ignores or refuses range requests: download the whole file instead.
    #[error("`{filename}`: the server does not support range requests ({reason})")]
    RangeUnsupported { filename: String, reason: String },
    /// The reader failed (network, HTTP status); the caller decides whether to retry.
    #[error("`{filename}`: reading a byte range failed: {source}")]
    Fetch {
        filename: String,
        #[source]
        source: Arc<dyn StdError + Send + Sync>,
    },
}

impl MetadataError {
    /// Whether downloading the whole file may succeed where reading ranges failed.
    pub fn range_unsupported(&self) -> bool {
        matches!(self, MetadataError::RangeUnsupported { .. })
    }
}

/// Parse METADATA / PKG-INFO bytes. `file` names them in errors (`foo-1.0.dist-info/METADATA
/// in foo-1.0-py3-none-any.whl`, a sidecar URL, ...).
pub fn parse_core_metadata(bytes: &[u8], file: &str) -> Result<CoreMetadata, MetadataError> {
    parse_metadata(bytes, file).map(|metadata| metadata.core)
}

/// [`parse_core_metadata`], keeping `Metadata-Version` and `Dynamic`.
pub fn parse_metadata(bytes: &[u8], file: &str) -> Result<Metadata, MetadataError> {
    // Archive entries are capped as they are read; a sidecar or a cache entry is
    // capped here, before it is decoded.
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(MetadataError::Archive {
            filename: file.to_string(),
            message: format!("its metadata is larger than {MAX_METADATA_BYTES} bytes"),
        });
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);

    let mut name = None;
    let mut version = None;
    let mut requires_dist = Vec::new();
    let mut requires_python = None;
    let mut provides_extras: Vec<ExtraName> = Vec::new();
    let mut summary = None;
    let mut license = None;
    let mut license_expression = None;
    let mut license_classifiers = Vec::new();
    let mut metadata_version = None;
    let mut dynamic = Vec::new();

    for header in headers(text) {
        let invalid = |field: &'static str, message: String| MetadataError::InvalidField {
            file: file.to_string(),
            line: header.line,
            field,
            value: header.unfolded(),
            message,
        };
        match header.name.as_str() {
            "metadata-version" => {
                metadata_version.get_or_insert_with(|| header.unfolded());
            }
            "name" if name.is_none() => {
                name = Some(
                    PackageName::from_str(&header.unfolded())
                        .map_err(|err| invalid("Name", err.to_string()))?,
                );
            }
            "version" if version.is_none() => {
                version = Some(
                    Version::from_str(&header.unfolded())
                        .map_err(|err| invalid("Version", err.to_string()))?,
                );
            }
            "requires-dist" => requires_dist.push(
                parse_requirement(&header.unfolded(), None)
                    .map_err(|err| invalid("Requires-Dist", err.message.to_string()))?,
            ),
            "requires-python" if requires_python.is_none() => {
                requires_python = Some(
                    parse_requires_python(&header.unfolded())
                        .map_err(|message| invalid("Requires-Python", message))?,
                );
            }
            "provides-extra" => match ExtraName::from_str(&header.unfolded()) {
                Ok(extra) if !provides_extras.contains(&extra) => provides_extras.push(extra),
                Ok(_) => {}
                // An extra nobody can name cannot be requested either; losing the
                // whole version over it would be worse.
                Err(err) => tracing::warn!(
                    "`{file}` line {}: ignoring `Provides-Extra`: {err}",
                    header.line
                ),
            },
            "summary" if summary.is_none() => summary = Some(header.unfolded()),
            "license" if license.is_none() => license = Some(header.lines.join("\n")),
            "license-expression" if license_expression.is_none() => {
                license_expression = Some(header.unfolded());
            }
            "classifier" => {
                let classifier = header.unfolded();
                if classifier.starts_with("License ::") {
                    license_classifiers.push(classifier);
                }
            }
            "dynamic" => dynamic.push(header.unfolded().to_ascii_lowercase()),
            _ => {}
        }
    }

    let missing = |field| MetadataError::MissingField {
        file: file.to_string(),
        field,
    };
    Ok(Metadata {
        core: CoreMetadata {
            name: name.ok_or_else(|| missing("Name"))?,
            version: version.ok_or_else(|| missing("Version"))?,
            requires_dist,
            requires_python,
            provides_extras,
            summary: summary.filter(|summary| !summary.is_empty()),
            license: license.filter(|license| !license.is_empty()),
            license_expression: license_expression.filter(|expression| !expression.is_empty()),
            license_classifiers,
        },
        metadata_version,
        dynamic,
    })
}

/// One header: lowercased name, the value's physical lines (continuations with their
/// leading whitespace removed), and the 1-based line it starts on.
struct Header {
    name: String,
    lines: Vec<String>,
    line: usize,
}

impl Header {
    /// RFC 5322 unfolding, as single-line fields want it.
    fn unfolded(&self) -> String {
        self.lines.join(" ").trim().to_string()
    }
}

/// The header block, split the way Python's `email.parser` (which pip and packaging
/// use) splits it: it ends at the first blank line, or at the first line that is
/// neither a `Name: value` header nor a continuation; everything after is the body.
fn headers(text: &str) -> Vec<Header> {
    let mut headers: Vec<Header> = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Only an empty line ends the headers: a line of spaces is a continuation
        // (Python's email parser agrees), and licenses pasted into `License:` have them.
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.lines.push(line.trim().to_string());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        if name.is_empty() || name.bytes().any(|byte| !(b'!'..=b'~').contains(&byte)) {
            break;
        }
        headers.push(Header {
            name: name.to_ascii_lowercase(),
            lines: vec![value.trim().to_string()],
            line: index + 1,
        });
    }
    headers
}

/// Old releases carry specifiers PEP 440 forbids but pip accepted, above all `>=3.6.*`
/// (a wildcard after an ordered comparison). Drop such wildcards rather than lose the
/// release: `>=3.6.*` means what `>=3.6` means.
pub(crate) fn parse_requires_python(value: &str) -> Result<VersionSpecifiers, String> {
    let strict = match VersionSpecifiers::from_str(value) {
        Ok(specifiers) => return Ok(specifiers),
        Err(err) => err.to_string(),
    };
    let repaired: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|clause| !clause.is_empty())
        .map(|clause| {
            let ordered = !clause.starts_with("==") && !clause.starts_with("!=");
            match clause.strip_suffix(".*") {
                Some(stripped) if ordered => stripped.to_string(),
                _ => clause.to_string(),
            }
        })
        .collect();
    VersionSpecifiers::from_str(&repaired.join(", ")).map_err(|_| strict)
}

/// Core metadata of a whole wheel in memory: its `{name}-{version}.dist-info/METADATA`.
pub fn wheel_metadata(wheel: &[u8], filename: &str) -> Result<CoreMetadata, MetadataError> {
    let bytes = wheel_metadata_bytes(wheel, filename)?;
    parse_core_metadata(&bytes, filename)
}

/// The raw, checked METADATA bytes of a whole wheel (what a cache stores).
pub fn wheel_metadata_bytes(wheel: &[u8], filename: &str) -> Result<Vec<u8>, MetadataError> {
    let parsed = WheelFilename::from_str(filename)?;
    let archive_error = |err: zip::result::ZipError| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("it is not a valid zip archive: {err}"),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).map_err(archive_error)?;
    let names = entry_names(&archive);
    let entry = select_dist_info_metadata(names.iter().map(String::as_str), &parsed, filename)?;
    let index = names
        .iter()
        .position(|name| name == entry)
        .unwrap_or_default();
    let mut file = archive.by_index(index).map_err(archive_error)?;
    let bytes = read_limited(&mut file, filename, entry)?;
    let metadata = parse_core_metadata(&bytes, &format!("{entry} in {filename}"))?;
    check_wheel_matches(&metadata, &parsed, filename)?;
    Ok(bytes)
}

/// The one `METADATA` entry of the wheel's own dist-info directory, among all entry
/// names. Tolerates the name and version spellings older tools wrote
/// (`Foo.Bar-1.0.0.dist-info` for `foo_bar-1.0`), as long as they normalize equal.
pub(crate) fn select_dist_info_metadata<'a>(
    names: impl IntoIterator<Item = &'a str>,
    wheel: &WheelFilename,
    filename: &str,
) -> Result<&'a str, MetadataError> {
    let mut found = Vec::new();
    let mut matching = Vec::new();
    for name in names {
        let Some(dir) = name
            .strip_suffix("/METADATA")
            .and_then(|dir| dir.strip_suffix(".dist-info"))
            .filter(|dir| !dir.contains('/'))
        else {
            continue;
        };
        found.push(format!("{dir}.dist-info"));
        let matches = dir.match_indices('-').any(|(dash, _)| {
            PackageName::from_str(&dir[..dash]).ok().as_ref() == Some(&wheel.name)
                && Version::from_str(&dir[dash + 1..]).ok().as_ref() == Some(&wheel.version)
        });
        if matches {
            matching.push(name);
        }
    }
    let error = |message: String| MetadataError::Archive {
        filename: filename.to_string(),
        message,
    };
    match matching[..] {
        [one] => Ok(one),
        [] if found.is_empty() => Err(error("it has no `*.dist-info/METADATA`".to_string())),
        [] => Err(error(format!(
            "it has no dist-info directory for `{}` {}, only `{}`",
            wheel.name,
            wheel.version,
            found.join("`, `")
        ))),
        _ => Err(error(format!(
            "it has several dist-info directories for `{}` {}: `{}`",
            wheel.name,
            wheel.version,
            matching.join("`, `")
        ))),
    }
}

pub(crate) fn check_wheel_matches(
    metadata: &CoreMetadata,
    wheel: &WheelFilename,
    filename: &str,
) -> Result<(), MetadataError> {
    if metadata.name != wheel.name || metadata.version != wheel.version {
        return Err(MetadataError::Mismatch {
            filename: filename.to_string(),
            filename_says: format!("`{}` {}", wheel.name, wheel.version),
            metadata_says: format!("`{}` {}", metadata.name, metadata.version),
        });
    }
    Ok(())
}

fn read_limited(reader: impl Read, filename: &str, entry: &str) -> Result<Vec<u8>, MetadataError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| MetadataError::Archive {
            filename: filename.to_string(),
            message: format!("reading `{entry}` failed: {err}"),
        })?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(MetadataError::Archive {
            filename: filename.to_string(),
            message: format!("`{entry}` is larger than {MAX_METADATA_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Static core metadata of an sdist (`.tar.gz`, `.tgz` or `.zip`) from its
/// `{top}/PKG-INFO`, or [`MetadataError::NeedsBuild`] when only a build can tell.
pub fn sdist_metadata(archive: &[u8], filename: &str) -> Result<CoreMetadata, MetadataError> {
    let bytes = sdist_metadata_bytes(archive, filename)?;
    parse_core_metadata(&bytes, filename)
}

/// The raw PKG-INFO bytes of an sdist whose metadata is static (what a cache stores).
pub fn sdist_metadata_bytes(archive: &[u8], filename: &str) -> Result<Vec<u8>, MetadataError> {
    let archive_error = |message: String| MetadataError::Archive {
        filename: filename.to_string(),
        message,
    };
    let found = sdist_top_files(archive, filename, "PKG-INFO")?;
    let (entry, bytes) = match found.as_slice() {
        [] => {
            return Err(MetadataError::NeedsBuild {
                filename: filename.to_string(),
                reason: "it has no `PKG-INFO`".to_string(),
            });
        }
        [(entry, bytes)] => (entry, bytes),
        several => {
            let entries: Vec<&str> = several.iter().map(|(entry, _)| entry.as_str()).collect();
            return Err(archive_error(format!(
                "it has several top-level `PKG-INFO` files: `{}`",
                entries.join("`, `")
            )));
        }
    };
    let metadata = parse_metadata(bytes, &format!("{entry} in {filename}"))?;
    if let Some(reason) = metadata.dynamic_reason() {
        return Err(MetadataError::NeedsBuild {
            filename: filename.to_string(),
            reason,
        });
    }
    let core = metadata.core;
    let filename_says = match SdistFilename::parse(filename, &core.name) {
        Ok(parsed) if parsed.version == core.version => return Ok(bytes.clone()),
        Ok(parsed) => format!("`{}` {}", parsed.name, parsed.version),
        Err(_) => "another project".to_string(),
    };
    Err(MetadataError::Mismatch {
        filename: filename.to_string(),
        filename_says,
        metadata_says: format!("`{}` {}", core.name, core.version),
    })
}

/// The `[build-system]` of an sdist's `{top}/pyproject.toml`, with the PEP 517 / 518
/// defaults when the file or the table is absent (what pip then builds with).
pub fn sdist_build_system(archive: &[u8], filename: &str) -> Result<BuildSystem, MetadataError> {
    let found = sdist_top_files(archive, filename, "pyproject.toml")?;
    let (entry, bytes) = match found.as_slice() {
        [] => return Ok(legacy_build_system()),
        [(entry, bytes)] => (entry, bytes),
        several => {
            let entries: Vec<&str> = several.iter().map(|(entry, _)| entry.as_str()).collect();
            return Err(MetadataError::Archive {
                filename: filename.to_string(),
                message: format!(
                    "it has several top-level `pyproject.toml` files: `{}`",
                    entries.join("`, `")
                ),
            });
        }
    };
    let text = std::str::from_utf8(bytes).map_err(|err| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("`{entry}` is not valid: {err}"),
    })?;
    parse_build_system(text, entry, filename)
}

/// The `[build-system]` of a `pyproject.toml` whose text is `text` (`entry` names it
/// in errors, inside the sdist or source tree `filename`), with the PEP 517 defaults
/// when it has no such table.
pub fn parse_build_system(
    text: &str,
    entry: &str,
    filename: &str,
) -> Result<BuildSystem, MetadataError> {
    let invalid = |message: String| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("`{entry}` is not valid: {message}"),
    };
    let document: toml::Table = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
    let Some(table) = document.get("build-system") else {
        return Ok(legacy_build_system());
    };
    let table = table
        .as_table()
        .ok_or_else(|| invalid("`build-system` is not a table".to_string()))?;
    let strings = |key: &str| -> Result<Option<Vec<String>>, MetadataError> {
        table
            .get(key)
            .map(|value| {
                value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|item| item.as_str().map(|r| r.trim().to_string()))
                            .collect::<Option<Vec<String>>>()
                    })
                    .ok_or_else(|| {
                        invalid(format!("`build-system.{key}` is not a list of strings"))
                    })
            })
            .transpose()
    };
    // PEP 518 makes `requires` mandatory in the table; pip then refuses to build.
    let requires =
        strings("requires")?.ok_or_else(|| invalid("`[build-system]` has no `requires`".into()))?;
    let backend = match table.get("build-backend") {
        None => None,
        Some(backend) => Some(
            backend
                .as_str()
                .ok_or_else(|| invalid("`build-system.build-backend` is not a string".to_string()))?
                .to_string(),
        ),
    };
    Ok(BuildSystem {
        requires,
        backend,
        backend_path: strings("backend-path")?.unwrap_or_default(),
        declared: true,
    })
}

/// What pip builds an sdist with when it declares no `[build-system]`.
fn legacy_build_system() -> BuildSystem {
    BuildSystem {
        requires: LEGACY_BUILD_REQUIRES
            .iter()
            .map(|r| r.to_string())
            .collect(),
        backend: None,
        backend_path: Vec::new(),
        declared: false,
    }
}

/// What pip installs to build an sdist that declares no `[build-system]` (PEP 517's
/// fallback to setuptools' legacy backend).
pub const LEGACY_BUILD_REQUIRES: &[&str] = &["setuptools>=40.8.0", "wheel"];

/// `(entry, contents)` of every `{top}/{name}` (exactly one directory deep) of an sdist.
fn sdist_top_files(archive: &[u8], filename: &str, name: &str) -> Result<TopFiles, MetadataError> {
    let archive_error = |message: String| MetadataError::Archive {
        filename: filename.to_string(),
        message,
    };
    match SdistFormat::from_filename(filename) {
        Some((_, SdistFormat::TarGz | SdistFormat::Tgz)) => {
            tar_gz_top_files(archive, filename, name)
        }
        Some((_, SdistFormat::Zip)) => zip_top_files(archive, filename, name),
        Some((_, SdistFormat::TarBz2)) => Err(archive_error(
            "dockgen does not read `.tar.bz2` sdists; pin a version of it that has \
             wheels or a `.tar.gz` sdist"
                .to_string(),
        )),
        None => Err(archive_error(
            "it is not an sdist (`.tar.gz`, `.tgz` or `.zip`)".to_string(),
        )),
    }
}

/// One file of a wheel: its entry name and its size once unpacked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WheelEntry {
    pub name: String,
    pub size: u64,
}

/// Every entry of a whole wheel (or any zip) in memory, in central directory order.
pub fn wheel_entries(wheel: &[u8], filename: &str) -> Result<Vec<WheelEntry>, MetadataError> {
    let broken = |err: zip::result::ZipError| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("it is not a valid zip archive: {err}"),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).map_err(broken)?;
    let names = entry_names(&archive);
    names
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let size = archive.by_index_raw(index).map_err(broken)?.size();
            Ok(WheelEntry { name, size })
        })
        .collect()
}

/// Entry names in central directory order, decoded the same lossy way as `index::zip`
/// does, so both find the same entry.
fn entry_names<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> Vec<String> {
    archive
        .file_names_raw()
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .collect()
}

/// `(entry, contents)` of files found one directory deep.
type TopFiles = Vec<(String, Vec<u8>)>;

fn is_top_file(path: &str, name: &str) -> bool {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    matches!(parts[..], [_, file] if file == name)
}

fn tar_gz_top_files(archive: &[u8], filename: &str, name: &str) -> Result<TopFiles, MetadataError> {
    let broken = |err: std::io::Error| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("it is not a valid `.tar.gz` archive: {err}"),
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut found = Vec::new();
    for entry in tar.entries().map_err(broken)? {
        let entry = entry.map_err(broken)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if entry.header().entry_type().is_file() && is_top_file(&path, name) {
            let bytes = read_limited(entry, filename, &path)?;
            found.push((path, bytes));
        }
    }
    Ok(found)
}

fn zip_top_files(archive: &[u8], filename: &str, name: &str) -> Result<TopFiles, MetadataError> {
    let broken = |err: zip::result::ZipError| MetadataError::Archive {
        filename: filename.to_string(),
        message: format!("it is not a valid zip archive: {err}"),
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).map_err(broken)?;
    let names = entry_names(&zip);
    let mut found = Vec::new();
    for (index, entry) in names.into_iter().enumerate() {
        if !is_top_file(&entry, name) {
            continue;
        }
        let file = zip.by_index(index).map_err(broken)?;
        let bytes = read_limited(file, filename, &entry)?;
        found.push((entry, bytes));
    }
    Ok(found)
}

/// Shared with `index::zip`'s tests, which build wheels too.
#[cfg(test)]
#[path = "../../tests/support/wheels.rs"]
pub(crate) mod test_wheels;

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn whitespace_only_lines_continue_a_header() {
        let text = "Metadata-Version: 2.4\nName: vq\nVersion: 1.0\nLicense: MIT\n        \n        Copyright\nRequires-Dist: einx>=0.3.0\n\nbody\n";
        let metadata = super::parse_core_metadata(text.as_bytes(), "vq METADATA").unwrap();
        let requires: Vec<String> = metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(requires, vec!["einx>=0.3.0"]);
    }

    use super::test_wheels::{SdistSpec, WheelSpec};
    use super::*;

    /// Every field, one per line, requirements in their canonical PEP 508 form.
    pub(crate) fn render(metadata: &CoreMetadata) -> String {
        let mut out = format!("name: {}\nversion: {}\n", metadata.name, metadata.version);
        for requirement in &metadata.requires_dist {
            out.push_str(&format!("requires-dist: {requirement}\n"));
        }
        if let Some(requires_python) = &metadata.requires_python {
            out.push_str(&format!("requires-python: {requires_python}\n"));
        }
        for extra in &metadata.provides_extras {
            out.push_str(&format!("provides-extra: {extra}\n"));
        }
        out.push_str(&format!(
            "summary: {:?}\nlicense: {:?}\n",
            metadata.summary, metadata.license
        ));
        if let Some(expression) = &metadata.license_expression {
            out.push_str(&format!("license-expression: {expression}\n"));
        }
        for classifier in &metadata.license_classifiers {
            out.push_str(&format!("license-classifier: {classifier}\n"));
        }
        out
    }

    const METADATA: &str = "\
Metadata-Version: 2.4
Name: Demo.Package
Version: 2.5.1+cu124
Summary: A demo
  whose summary is folded
License: Some long
        license text
License-Expression: MIT OR Apache-2.0
Dynamic: license
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Classifier: License :: OSI Approved :: Apache Software License
requires-python: >=3.9
Provides-Extra: cuda
Provides-Extra: Docs
Provides-Extra: docs
Requires-Dist: numpy>=1.26
Requires-Dist: typing_extensions (>=4.8) ; python_version < \"3.11\"
Requires-Dist: Pillow[jpeg,tiff]!=10.0.0,>=9
Requires-Dist: nvidia-cudnn-cu12==9.1.0.70; platform_system == \"Linux\"
  and platform_machine == \"x86_64\" and extra == \"cuda\"
Requires-Dist: sphinx; extra == 'docs'
Description-Content-Type: text/markdown

Requires-Dist: not-a-header-this-is-the-body
";

    #[test]
    fn parses_headers_continuations_and_repeated_fields() {
        let metadata = parse_metadata(METADATA.as_bytes(), "demo/METADATA").unwrap();
        assert_eq!(metadata.metadata_version.as_deref(), Some("2.4"));
        assert_eq!(metadata.dynamic, ["license"]);
        insta::assert_snapshot!(render(&metadata.core));
    }

    #[test]
    fn license_without_expression_keeps_its_lines() {
        let text =
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nLicense: line one\n        line two\n";
        let metadata = parse_core_metadata(text, "a/METADATA").unwrap();
        assert_eq!(metadata.license.as_deref(), Some("line one\nline two"));
    }

    #[test]
    fn non_utf8_bytes_and_crlf_are_tolerated() {
        let text = b"Metadata-Version: 2.1\r\nName: caf\xe9-tools\r\nName: ignored\r\nVersion: 1.0\r\nSummary: caf\xe9\r\n";
        let err = parse_core_metadata(text, "x/METADATA").unwrap_err();
        // The name is invalid after lossy decoding; the error still names the line.
        insta::assert_snapshot!(err.to_string());
        let text = b"Metadata-Version: 2.1\r\nName: cafe\r\nVersion: 1.0\r\nSummary: caf\xe9\r\n";
        let metadata = parse_core_metadata(text, "x/METADATA").unwrap();
        assert_eq!(metadata.summary.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn bad_requires_dist_names_the_file_and_line() {
        let text = b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: numpy>=\nRequires-Dist: ok\n";
        let err = parse_core_metadata(text, "a-1.dist-info/METADATA in a-1-py3-none-any.whl")
            .unwrap_err();
        insta::assert_snapshot!(err.to_string());
    }

    #[test]
    fn requires_dist_that_made_pep508_rs_panic_is_an_error() {
        let out: String = ["beta-==1", "beta.[x]", "gamma[cpu-]>=1", "de\0lta==1"]
            .iter()
            .map(|requirement| {
                let text = format!(
                    "Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: {requirement}\n"
                );
                let err = parse_core_metadata(text.as_bytes(), "METADATA").unwrap_err();
                format!("{err}\n")
            })
            .collect();
        insta::assert_snapshot!(out);
    }

    #[test]
    fn metadata_past_the_cap_is_an_error() {
        let mut text = b"Metadata-Version: 2.1\nName: a\nVersion: 1\n\n".to_vec();
        text.resize(MAX_METADATA_BYTES as usize + 1, b'x');
        let err = parse_core_metadata(&text, "a-1.whl.metadata").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`a-1.whl.metadata` cannot be read: its metadata is larger than 33554432 bytes"
        );
    }

    #[test]
    fn missing_version_is_an_error() {
        let err = parse_core_metadata(b"Metadata-Version: 2.1\nName: a\n", "PKG-INFO").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`PKG-INFO` has no `Version` field, so it is not valid core metadata"
        );
    }

    #[test]
    fn requires_python_wildcards_after_ordered_operators_are_repaired() {
        let text = b"Name: a\nVersion: 1\nRequires-Python: >=2.7, !=3.0.*, >=3.6.*\n";
        let metadata = parse_core_metadata(text, "PKG-INFO").unwrap();
        assert_eq!(
            metadata.requires_python.unwrap().to_string(),
            ">=2.7, !=3.0.*, >=3.6"
        );
        let err = parse_core_metadata(
            b"Name: a\nVersion: 1\nRequires-Python: >=three\n",
            "PKG-INFO",
        )
        .unwrap_err();
        assert!(matches!(
            err,
            MetadataError::InvalidField {
                field: "Requires-Python",
                line: 3,
                ..
            }
        ));
    }

    fn sdist_result((case, spec): &(&str, SdistSpec)) -> String {
        let (filename, bytes) = spec.build();
        match sdist_metadata(&bytes, &filename) {
            Ok(metadata) => format!("## {case}: {filename}: ok\n{}", render(&metadata)),
            Err(err) => format!("## {case}: {err}\n"),
        }
    }

    #[test]
    fn sdist_static_metadata_or_needs_build() {
        let base = SdistSpec {
            requires_dist: vec![
                "requests>=2".to_string(),
                "rich; extra == 'cli'".to_string(),
            ],
            provides_extra: vec!["cli".to_string()],
            requires_python: Some(">=3.9".to_string()),
            ..SdistSpec::new("dash-ed.pkg", "0.3.0")
        };
        let cases = [
            ("static 2.2 tar.gz", base.clone()),
            (
                "static zip",
                SdistSpec {
                    zip: true,
                    ..base.clone()
                },
            ),
            (
                "2.4, other fields dynamic",
                SdistSpec {
                    dynamic: vec!["License".to_string(), "Classifier".to_string()],
                    metadata_version: "2.4".to_string(),
                    ..base.clone()
                },
            ),
            (
                "Metadata-Version 2.1",
                SdistSpec {
                    metadata_version: "2.1".to_string(),
                    ..base.clone()
                },
            ),
            (
                "dynamic Requires-Dist",
                SdistSpec {
                    dynamic: vec!["Requires-Dist".to_string()],
                    ..base.clone()
                },
            ),
            (
                "dynamic requires-python (lowercase)",
                SdistSpec {
                    dynamic: vec!["requires-python".to_string()],
                    ..base.clone()
                },
            ),
            (
                "no PKG-INFO",
                SdistSpec {
                    pkg_info: false,
                    ..base.clone()
                },
            ),
            (
                "nested egg-info PKG-INFO ignored",
                SdistSpec {
                    files: vec![(
                        "dash_ed_pkg.egg-info/PKG-INFO".to_string(),
                        b"junk".to_vec(),
                    )],
                    ..base.clone()
                },
            ),
        ];
        let results: Vec<String> = cases.iter().map(sdist_result).collect();
        insta::assert_snapshot!(results.join("\n"));
    }

    #[test]
    fn sdist_build_system_or_the_pep_517_defaults() {
        let base = SdistSpec::new("native-ext", "2.0");
        let cases = [
            ("declared", base.clone()),
            (
                "scikit-build-core",
                SdistSpec {
                    build_system: Some(
                        "[build-system]\nrequires = [\"scikit-build-core>=0.9\", \"pybind11 >= 2.12\"]\nbuild-backend = \"scikit_build_core.build\"\n"
                            .to_string(),
                    ),
                    zip: true,
                    ..base.clone()
                },
            ),
            (
                "requires without a backend",
                SdistSpec {
                    build_system: Some("[build-system]\nrequires = [\"setuptools\", \"cython<3\"]\n".to_string()),
                    ..base.clone()
                },
            ),
            (
                "pyproject.toml without [build-system]",
                SdistSpec {
                    build_system: None,
                    ..base.clone()
                },
            ),
            (
                "no pyproject.toml",
                SdistSpec {
                    pyproject: false,
                    ..base.clone()
                },
            ),
            (
                "[build-system] without requires",
                SdistSpec {
                    build_system: Some("[build-system]\nbuild-backend = \"flit_core.buildapi\"\n".to_string()),
                    ..base.clone()
                },
            ),
        ];
        let results: Vec<String> = cases
            .iter()
            .map(|(case, spec)| {
                let (filename, bytes) = spec.build();
                match sdist_build_system(&bytes, &filename) {
                    Ok(build) => format!("{case}: {build:?}"),
                    Err(err) => format!("{case}: error: {err}"),
                }
            })
            .collect();
        insta::assert_snapshot!(results.join("\n"));
    }

    #[test]
    fn sdist_mislabelled_or_bz2_is_an_error() {
        let (_, bytes) = SdistSpec::new("foo", "1.0").build();
        let err = sdist_metadata(&bytes, "foo-2.0.tar.gz").unwrap_err();
        insta::assert_snapshot!(err.to_string());
        let err = sdist_metadata(&bytes, "foo-1.0.tar.bz2").unwrap_err();
        insta::assert_snapshot!(err.to_string());
    }

    #[test]
    fn wheel_metadata_from_the_matching_dist_info() {
        let spec = WheelSpec {
            requires_dist: vec!["numpy>=1.26; python_version >= '3.10'".to_string()],
            requires_python: Some(">=3.10".to_string()),
            tags: "cp311-cp311-linux_x86_64".to_string(),
            files: vec![
                ("torch/__init__.py".to_string(), b"".to_vec()),
                // Vendored packages bring their own dist-info; it must not confuse us.
                (
                    "torch/_vendor/six-1.16.0.dist-info/METADATA".to_string(),
                    b"Name: six\n".to_vec(),
                ),
            ],
            ..WheelSpec::new("torch", "2.5.1+cu124")
        };
        let (filename, bytes) = spec.build();
        assert_eq!(filename, "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl");
        let metadata = wheel_metadata(&bytes, &filename).unwrap();
        insta::assert_snapshot!(render(&metadata));
    }

    #[test]
    fn wheel_dist_info_spelled_differently_still_matches() {
        let spec = WheelSpec {
            dist_info_stem: Some("Zope.Interface-6.0.0".to_string()),
            ..WheelSpec::new("zope.interface", "6.0")
        };
        let (filename, bytes) = spec.build();
        let metadata = wheel_metadata(&bytes, &filename).unwrap();
        assert_eq!(metadata.name.to_string(), "zope-interface");
    }

    #[test]
    fn wheel_with_mismatched_or_several_dist_infos_is_an_error() {
        let mismatched = WheelSpec {
            dist_info_stem: Some("other-1.0".to_string()),
            ..WheelSpec::new("pkg", "1.0")
        };
        let several = WheelSpec {
            files: vec![(
                "pkg-1.0.0.dist-info/METADATA".to_string(),
                b"Name: pkg\n".to_vec(),
            )],
            ..WheelSpec::new("pkg", "1.0")
        };
        let lying = WheelSpec {
            dist_info_stem: Some("pkg-1.1".to_string()),
            ..WheelSpec::new("pkg", "1.0")
        }
        .build()
        .1;
        let mut errors = Vec::new();
        for spec in [mismatched, several] {
            let (filename, bytes) = spec.build();
            errors.push(wheel_metadata(&bytes, &filename).unwrap_err().to_string());
        }
        errors.push(
            wheel_metadata(&lying, "pkg-1.1-py3-none-any.whl")
                .unwrap_err()
                .to_string(),
        );
        errors.push(
            wheel_metadata(b"not a zip", "pkg-1.0-py3-none-any.whl")
                .unwrap_err()
                .to_string(),
        );
        insta::assert_snapshot!(errors.join("\n"));
    }
}
