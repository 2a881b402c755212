//! Test-only builders of real distribution files for fixture indexes: wheels that
//! `pip install` accepts (dist-info `METADATA`, `WHEEL`, `RECORD` with the sha256 of
//! every file) and plausible sdists (`PKG-INFO`, `pyproject.toml`, a package), with
//! deterministic bytes: fixed zip and tar timestamps, fixed permissions, fixed order.
//!
//! Used by integration tests (`tests/support/mod.rs`) and by unit tests of
//! `src/index` (included there with `#[path]`), so it depends only on crates that are
//! regular dependencies of dockgen.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A wheel to build. Start from [`WheelSpec::new`] and override fields.
#[derive(Debug, Clone)]
pub struct WheelSpec {
    pub name: String,
    pub version: String,
    /// The compressed tag triple, e.g. `py3-none-any` or
    /// `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`.
    pub tags: String,
    /// Optional build tag (`1`, `2b`), written to the filename and `WHEEL`.
    pub build: Option<String>,
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub provides_extra: Vec<String>,
    /// More METADATA header lines, as written (`License-Expression: MIT`,
    /// `Classifier: License :: OSI Approved :: MIT License`).
    pub metadata_headers: Vec<String>,
    /// Package files, `(path in the wheel, contents)`, written before the dist-info.
    pub files: Vec<(String, Vec<u8>)>,
    pub metadata_version: String,
    /// Replaces the `{name}-{version}` of the dist-info directory (to test mismatches).
    pub dist_info_stem: Option<String>,
    /// Stored instead of deflated entries.
    pub stored: bool,
    /// Write ZIP64 structures (end of central directory record and locator, and
    /// ZIP64 extra fields) although the archive is small.
    pub zip64: bool,
    /// Write `METADATA` and `WHEEL` before the package files (`RECORD` stays last), so
    /// large package files sit between `METADATA` and the central directory.
    pub dist_info_first: bool,
}

impl WheelSpec {
    pub fn new(name: &str, version: &str) -> WheelSpec {
        WheelSpec {
            name: name.to_string(),
            version: version.to_string(),
            tags: "py3-none-any".to_string(),
            build: None,
            requires_dist: Vec::new(),
            requires_python: None,
            provides_extra: Vec::new(),
            metadata_headers: Vec::new(),
            files: Vec::new(),
            metadata_version: "2.1".to_string(),
            dist_info_stem: None,
            stored: false,
            zip64: false,
            dist_info_first: false,
        }
    }

    /// `{escaped name}-{version}(-{build})?-{tags}.whl`
    pub fn filename(&self) -> String {
        let build = self
            .build
            .as_ref()
            .map(|build| format!("-{build}"))
            .unwrap_or_default();
        format!(
            "{}-{}{build}-{}.whl",
            escape_name(&self.name),
            self.version,
            self.tags
        )
    }

    pub fn dist_info_dir(&self) -> String {
        let stem = self
            .dist_info_stem
            .clone()
            .unwrap_or_else(|| format!("{}-{}", escape_name(&self.name), self.version));
        format!("{stem}.dist-info")
    }

    /// The `METADATA` file the wheel carries.
    pub fn metadata(&self) -> String {
        core_metadata(&CoreFields {
            metadata_version: &self.metadata_version,
            name: &self.name,
            version: &self.version,
            requires_dist: &self.requires_dist,
            requires_python: self.requires_python.as_deref(),
            provides_extra: &self.provides_extra,
            dynamic: &[],
            headers: &self.metadata_headers,
        })
    }

    fn wheel_file(&self) -> String {
        let mut parts = self.tags.splitn(3, '-');
        let (py, abi, plat) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let mut text = String::from("Wheel-Version: 1.0\nGenerator: dockgen-tests\n");
        let purelib = plat == "any";
        text.push_str(&format!("Root-Is-Purelib: {purelib}\n"));
        for py in py.split('.') {
            for abi in abi.split('.') {
                for plat in plat.split('.') {
                    text.push_str(&format!("Tag: {py}-{abi}-{plat}\n"));
                }
            }
        }
        if let Some(build) = &self.build {
            text.push_str(&format!("Build: {build}\n"));
        }
        text
    }

    /// `(filename, bytes)` of the wheel.
    pub fn build(&self) -> (String, Vec<u8>) {
        let dist_info = self.dist_info_dir();
        let dist_info_files = [
            (
                format!("{dist_info}/METADATA"),
                self.metadata().into_bytes(),
            ),
            (format!("{dist_info}/WHEEL"), self.wheel_file().into_bytes()),
        ];
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        if self.dist_info_first {
            entries.extend(dist_info_files.iter().cloned());
            entries.extend(self.files.iter().cloned());
        } else {
            entries.extend(self.files.iter().cloned());
            entries.extend(dist_info_files.iter().cloned());
        }
        let mut record = String::new();
        for (path, contents) in &entries {
            let digest = urlsafe_b64_nopad(&Sha256::digest(contents));
            record.push_str(&format!("{path},sha256={digest},{}\n", contents.len()));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        entries.push((format!("{dist_info}/RECORD"), record.into_bytes()));

        let method = if self.stored {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        (self.filename(), write_zip(&entries, method, self.zip64))
    }
}

/// An sdist to build. Start from [`SdistSpec::new`] and override fields.
#[derive(Debug, Clone)]
pub struct SdistSpec {
    pub name: String,
    pub version: String,
    pub metadata_version: String,
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub provides_extra: Vec<String>,
    /// `Dynamic:` fields of PKG-INFO (Metadata 2.2+).
    pub dynamic: Vec<String>,
    /// The `[build-system]` table of `pyproject.toml` (TOML text); `None` writes none.
    pub build_system: Option<String>,
    /// Whether `pyproject.toml` is written at all.
    pub pyproject: bool,
    /// Files besides PKG-INFO, `pyproject.toml` and the package's `__init__.py`,
    /// relative to the top directory.
    pub files: Vec<(String, Vec<u8>)>,
    /// Whether `{top}/PKG-INFO` is written at all.
    pub pkg_info: bool,
    /// `.zip` instead of `.tar.gz`.
    pub zip: bool,
}

impl SdistSpec {
    pub fn new(name: &str, version: &str) -> SdistSpec {
        SdistSpec {
            name: name.to_string(),
            version: version.to_string(),
            metadata_version: "2.2".to_string(),
            requires_dist: Vec::new(),
            requires_python: None,
            provides_extra: Vec::new(),
            dynamic: Vec::new(),
            build_system: Some(
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n"
                    .to_string(),
            ),
            pyproject: true,
            files: Vec::new(),
            pkg_info: true,
            zip: false,
        }
    }

    /// `{name}-{version}`, the name escaped as PEP 625 says.
    pub fn top_dir(&self) -> String {
        format!("{}-{}", escape_name(&self.name), self.version)
    }

    pub fn filename(&self) -> String {
        let extension = if self.zip { "zip" } else { "tar.gz" };
        format!("{}.{extension}", self.top_dir())
    }

    pub fn pkg_info(&self) -> String {
        core_metadata(&CoreFields {
            metadata_version: &self.metadata_version,
            name: &self.name,
            version: &self.version,
            requires_dist: &self.requires_dist,
            requires_python: self.requires_python.as_deref(),
            provides_extra: &self.provides_extra,
            dynamic: &self.dynamic,
            headers: &[],
        })
    }

    fn pyproject(&self) -> String {
        let dependencies: Vec<String> = self
            .requires_dist
            .iter()
            .map(|requirement| format!("{requirement:?}"))
            .collect();
        let mut text = self
            .build_system
            .as_ref()
            .map(|table| format!("{table}\n"))
            .unwrap_or_default();
        text.push_str(&format!(
            "[project]\nname = \"{}\"\nversion = \"{}\"\ndependencies = [{}]\n",
            self.name,
            self.version,
            dependencies.join(", ")
        ));
        if let Some(requires_python) = &self.requires_python {
            text.push_str(&format!("requires-python = \"{requires_python}\"\n"));
        }
        text
    }

    /// `(filename, bytes)` of the sdist.
    pub fn build(&self) -> (String, Vec<u8>) {
        let top = self.top_dir();
        let package = escape_name(&self.name);
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        if self.pkg_info {
            entries.push((format!("{top}/PKG-INFO"), self.pkg_info().into_bytes()));
        }
        if self.pyproject {
            entries.push((
                format!("{top}/pyproject.toml"),
                self.pyproject().into_bytes(),
            ));
        }
        entries.push((
            format!("{top}/{package}/__init__.py"),
            format!("VERSION = {:?}\n", self.version).into_bytes(),
        ));
        for (path, contents) in &self.files {
            entries.push((format!("{top}/{path}"), contents.clone()));
        }
        let bytes = if self.zip {
            write_zip(&entries, CompressionMethod::Deflated, false)
        } else {
            write_tar_gz(&entries)
        };
        (self.filename(), bytes)
    }
}

struct CoreFields<'a> {
    metadata_version: &'a str,
    name: &'a str,
    version: &'a str,
    requires_dist: &'a [String],
    requires_python: Option<&'a str>,
    provides_extra: &'a [String],
    dynamic: &'a [String],
    headers: &'a [String],
}

fn core_metadata(fields: &CoreFields<'_>) -> String {
    let mut text = format!(
        "Metadata-Version: {}\nName: {}\nVersion: {}\nSummary: Fixture package {}\n",
        fields.metadata_version, fields.name, fields.version, fields.name
    );
    for dynamic in fields.dynamic {
        text.push_str(&format!("Dynamic: {dynamic}\n"));
    }
    for header in fields.headers {
        text.push_str(&format!("{header}\n"));
    }
    if let Some(requires_python) = fields.requires_python {
        text.push_str(&format!("Requires-Python: {requires_python}\n"));
    }
    for extra in fields.provides_extra {
        text.push_str(&format!("Provides-Extra: {extra}\n"));
    }
    for requirement in fields.requires_dist {
        text.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    text.push_str(&format!("\n# {}\n\nA fixture.\n", fields.name));
    text
}

/// The name as wheel and sdist filenames write it: normalized, `-` as `_`.
pub fn escape_name(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !escaped.ends_with('_') {
                escaped.push('_');
            }
        } else {
            escaped.push(character.to_ascii_lowercase());
        }
    }
    escaped
}

fn write_zip(entries: &[(String, Vec<u8>)], method: CompressionMethod, zip64: bool) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    if zip64 {
        // An (empty) extensible data sector makes the writer emit the ZIP64 end of
        // central directory record and locator, as archives over 4 GiB have.
        writer.set_raw_zip64_extensible_data_sector(Box::new([]));
    }
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(zip64);
    for (path, contents) in entries {
        writer
            .start_file(path.as_str(), options)
            .expect("zip entry");
        writer.write_all(contents).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

fn write_tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (path, contents) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, contents.as_slice())
            .expect("tar entry");
    }
    tar.into_inner()
        .expect("tar finish")
        .finish()
        .expect("gzip finish")
}

/// Base64 with the URL-safe alphabet and no padding, as `RECORD` wants.
fn urlsafe_b64_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &byte)| n | u32::from(byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        // python3 -c "import base64; print(base64.urlsafe_b64encode(b'...').rstrip(b'='))"
        assert_eq!(urlsafe_b64_nopad(b""), "");
        assert_eq!(urlsafe_b64_nopad(b"f"), "Zg");
        assert_eq!(urlsafe_b64_nopad(b"fo"), "Zm8");
        assert_eq!(urlsafe_b64_nopad(b"foo"), "Zm9v");
        assert_eq!(urlsafe_b64_nopad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn names_escape_like_wheel_filenames() {
        assert_eq!(escape_name("Foo.Bar-baz__qux"), "foo_bar_baz_qux");
    }
}
