//! `dockgen sbom`: a CycloneDX 1.6 SBOM of what a lock installs, before anything is
//! built: one `library` component per pin (purl, the SHA-256 of every locked file,
//! licenses as the metadata declares them, the files as distribution references) and
//! the dependency graph of the lock's `# via` annotations.
//!
//! It follows the SBOM the image's verify stage writes (`templates/scripts/
//! artifacts.py`) where the two can agree: the same purls, license rules, metadata
//! component (`dockgen-image:<profile>`) and properties, keys sorted, a timestamp only
//! from `SOURCE_DATE_EPOCH`, and a serial number derived from the lock. Same lock and
//! same index answers, same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::str::FromStr;

use pep508_rs::PackageName;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::facts::{Facts, PackageFacts};
use crate::index::CoreMetadata;
use crate::lock::Via;

/// What the SBOM says about where it comes from.
pub struct Context<'a> {
    pub profile: &'a str,
    /// `linux/amd64, CPython 3.11.13, glibc 2.35, cpu`.
    pub target: &'a str,
    /// SHA-256 (hex) of the lock's bytes.
    pub lock_sha256: &'a str,
    /// From `SOURCE_DATE_EPOCH`; no timestamp without it.
    pub timestamp: Option<jiff::Timestamp>,
}

/// The SBOM as a JSON value (keys sorted, as `serde_json` keeps them).
pub fn sbom(facts: &Facts, context: &Context<'_>) -> Value {
    let image_ref = format!("dockgen-image:{}", context.profile);
    let refs: BTreeMap<&PackageName, String> = facts
        .packages
        .values()
        .map(|package| (&package.name, purl(package)))
        .collect();
    let mut components: Vec<Value> = facts.packages.values().map(component).collect();
    components.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));

    // `# via` says who requires a pin: the reverse of the graph CycloneDX wants.
    let mut children: BTreeMap<&PackageName, BTreeSet<&str>> = BTreeMap::new();
    let mut roots: BTreeSet<&str> = BTreeSet::new();
    for package in facts.packages.values() {
        let own = refs[&package.name].as_str();
        let parents: Vec<&PackageName> = package
            .via
            .iter()
            .filter_map(|via| match via {
                Via::Package(parent) => Some(&parent.name),
                Via::Input(_) => None,
            })
            .filter_map(|parent| refs.get_key_value(parent).map(|(name, _)| *name))
            .collect();
        let from_input = package.from_input();
        if from_input || parents.is_empty() {
            roots.insert(own);
        }
        for parent in parents {
            children.entry(parent).or_default().insert(own);
        }
    }
    let mut dependencies = vec![json!({"ref": image_ref, "dependsOn": roots})];
    let mut by_ref: Vec<(&str, &PackageName)> =
        refs.iter().map(|(n, r)| (r.as_str(), *n)).collect();
    by_ref.sort();
    for (reference, name) in by_ref {
        let depends: Vec<&str> = children
            .get(name)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default();
        dependencies.push(json!({"ref": reference, "dependsOn": depends}));
    }

    let mut metadata = json!({
        "component": {
            "type": "container",
            "bom-ref": image_ref,
            "name": format!("dockgen-{}", context.profile),
            "properties": [
                {"name": "dockgen:lock-sha256", "value": context.lock_sha256},
                {"name": "dockgen:profile", "value": context.profile},
                {"name": "dockgen:target", "value": context.target},
            ],
        },
        "tools": {"components": [{
            "type": "application",
            "name": "dockgen",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
    });
    if let Some(timestamp) = context.timestamp {
        metadata["timestamp"] = json!(timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(context.lock_sha256),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    })
}

/// Adds CycloneDX 1.6 `vulnerabilities`: one entry per advisory, affecting the
/// components of the pins it affects, with its aliases, rating and fixed versions.
pub fn add_vulnerabilities(sbom: &mut Value, facts: &Facts, found: &super::vulns::Vulnerabilities) {
    let mut by_id: BTreeMap<&str, (&super::vulns::Advisory, Vec<String>)> = BTreeMap::new();
    for ((name, _), advisories) in &found.affected {
        let Some(package) = PackageName::from_str(name)
            .ok()
            .and_then(|key| facts.packages.get(&key))
        else {
            continue;
        };
        for advisory in advisories {
            by_id
                .entry(advisory.id.as_str())
                .or_insert((advisory, Vec::new()))
                .1
                .push(purl(package));
        }
    }
    let vulnerabilities: Vec<Value> = by_id
        .into_iter()
        .map(|(id, (advisory, refs))| {
            let mut entry = json!({
                "id": id,
                "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{id}")},
                "references": advisory.aliases.iter().map(|alias| json!({
                    "id": alias,
                    "source": {"name": if alias.starts_with("CVE-") { "NVD" } else { "OSV" }},
                })).collect::<Vec<_>>(),
                "description": advisory.summary,
                "advisories": [{"url": advisory.url}],
                "affects": refs.iter().map(|r| json!({"ref": r})).collect::<Vec<_>>(),
            });
            let rating = match &advisory.cvss {
                Some(vector) if vector.starts_with("CVSS:3") => {
                    json!({"method": "CVSSv31", "vector": vector})
                }
                Some(vector) if vector.starts_with("CVSS:4") => {
                    json!({"method": "CVSSv4", "vector": vector})
                }
                _ => json!({"severity": cyclonedx_severity(&advisory.severity)}),
            };
            entry["ratings"] = json!([rating]);
            if let Some(upgrade) = &advisory.upgrade {
                entry["recommendation"] = json!(format!("upgrade to {upgrade} or later"));
            }
            entry
        })
        .collect();
    sbom["vulnerabilities"] = json!(vulnerabilities);
}

/// CycloneDX's severity word for a database's (`MODERATE` -> `medium`).
fn cyclonedx_severity(word: &str) -> &'static str {
    match word.to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" => "high",
        "moderate" | "medium" => "medium",
        "low" => "low",
        _ => "unknown",
    }
}

/// The SBOM as the file holds it: two-space indented JSON with a final newline.
pub fn render_json(sbom: &Value) -> String {
    let mut text = serde_json::to_string_pretty(sbom).expect("an SBOM serializes");
    text.push('\n');
    text
}

/// One line per component: purl, licenses, locked files.
pub fn render_text(facts: &Facts) -> String {
    let mut rows: Vec<[String; 3]> = facts
        .packages
        .values()
        .map(|package| {
            let licenses: Vec<String> = package
                .metadata
                .as_deref()
                .map(license_texts)
                .unwrap_or_default();
            let files = package.hashes.len();
            [
                purl(package),
                if licenses.is_empty() {
                    "-".to_string()
                } else {
                    licenses.join(", ")
                },
                format!("{files} file{}", if files == 1 { "" } else { "s" }),
            ]
        })
        .collect();
    rows.sort();
    let width = |column: usize| rows.iter().map(|r| r[column].len()).max().unwrap_or(0);
    let (first, second) = (width(0), width(1));
    let mut out = String::new();
    for [purl, license, files] in rows {
        let _ = writeln!(out, "{purl:first$}  {license:second$}  {files}");
    }
    out
}

fn component(package: &PackageFacts) -> Value {
    let reference = purl(package);
    let mut component = json!({
        "type": "library",
        "bom-ref": reference,
        "name": package.name.to_string(),
        "version": package.version.to_string(),
        "purl": reference,
    });
    let hashes: BTreeSet<&str> = package.hashes.iter().map(String::as_str).collect();
    if !hashes.is_empty() {
        component["hashes"] = hashes
            .iter()
            .map(|hash| json!({"alg": "SHA-256", "content": hash}))
            .collect();
    }
    if let Some(metadata) = &package.metadata {
        let found = licenses(metadata);
        if !found.is_empty() {
            component["licenses"] = Value::Array(found);
        }
    }
    let mut files: Vec<&super::facts::LockedFile> = package.files.iter().collect();
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    if !files.is_empty() {
        component["externalReferences"] = files
            .iter()
            .map(|file| {
                json!({
                    "type": "distribution",
                    "url": file.url,
                    "comment": file.filename,
                    "hashes": [{"alg": "SHA-256", "content": file.sha256}],
                })
            })
            .collect();
    }
    if let Some(pin) = &package.git_pin {
        // CycloneDX's `vcs` reference: the repository at the locked commit.
        component["externalReferences"] = json!([{
            "type": "vcs",
            "url": crate::secrets::url_text(pin.strip_prefix("git+").unwrap_or(pin)),
        }]);
    }
    if let Some(pin) = &package.directory_pin {
        // No CycloneDX reference type names a local source tree: `other`, its path.
        component["externalReferences"] = json!([{
            "type": "other",
            "url": crate::secrets::url_text(pin),
            "comment": "local project directory",
        }]);
    }
    if let Some(index) = &package.index {
        component["properties"] = json!([{"name": "dockgen:index", "value": index}]);
    }
    component
}

/// purl's PyPI rules: the name PEP 503-normalized (lower case, runs of `-_.` as one
/// `-`), the version percent-encoded (`+` as `%2B`).
pub fn purl(package: &PackageFacts) -> String {
    const VERSION: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    let version = package.version.to_string();
    format!(
        "pkg:pypi/{}@{}",
        package.name,
        utf8_percent_encode(&version, VERSION)
    )
}

/// CycloneDX licenses from core metadata: the SPDX `License-Expression` when there is
/// one (`expression`), else the first line of `License` (some put a whole text there):
/// as `license.id` when it is an SPDX license identifier (`MPL-2.0`), as `license.name`
/// when it is free text; else the names of the `License ::` classifiers.
pub fn licenses(metadata: &CoreMetadata) -> Vec<Value> {
    if let Some(expression) = &metadata.license_expression {
        return vec![json!({"expression": expression.trim()})];
    }
    let first_line = metadata
        .license
        .as_deref()
        .and_then(|text| text.lines().map(str::trim).find(|line| !line.is_empty()));
    if let Some(line) = first_line.filter(|line| !line.eq_ignore_ascii_case("UNKNOWN")) {
        return vec![match spdx_id(line) {
            Some(id) => json!({"license": {"id": id}}),
            None => json!({"license": {"name": line}}),
        }];
    }
    let mut names = BTreeSet::new();
    for classifier in &metadata.license_classifiers {
        let parts: Vec<&str> = classifier.split("::").map(str::trim).collect();
        if parts.len() > 2
            && let Some(last) = parts.last()
        {
            names.insert(*last);
        }
    }
    names
        .into_iter()
        .map(|name| json!({"license": {"name": name}}))
        .collect()
}

/// [`licenses`] as text: the expression, identifier or name of each.
pub fn license_texts(metadata: &CoreMetadata) -> Vec<String> {
    licenses(metadata)
        .iter()
        .filter_map(|license| {
            license["expression"]
                .as_str()
                .or(license["license"]["id"].as_str())
                .or(license["license"]["name"].as_str())
                .map(str::to_string)
        })
        .collect()
}

/// The SPDX license list's identifier that `text` is, in the list's spelling (SPDX
/// matches identifiers without regard to case): `mpl-2.0` is `MPL-2.0`. Only a whole
/// identifier of the list (deprecated ones such as `GPL-2.0+` included): `MIT or
/// Apache-2.0` is an expression.
pub fn spdx_id(text: &str) -> Option<&'static str> {
    spdx::identifiers::LICENSES
        .iter()
        .find(|license| license.name.eq_ignore_ascii_case(text))
        .map(|license| license.name)
}

/// Every identifier of the SPDX license list dockgen was built with, one per line
/// after a comment naming the list's version: what `artifacts.py` reads to make the
/// same choice between `license.id` and `license.name` in the image's SBOM.
pub fn spdx_ids_file() -> String {
    let mut text = format!(
        "# SPDX license list {}: the identifiers `license.id` may hold\n",
        spdx::license_version()
    );
    for license in spdx::identifiers::LICENSES {
        text.push_str(license.name);
        text.push('\n');
    }
    text
}

/// A UUID (version 8, RFC 9562) from SHA-256, as `artifacts.py` makes the image SBOM's
/// from the lock's SHA-256; here over `dockgen sbom:` and that digest, so that the
/// SBOM of the lock and the SBOM of its image never share a serial number.
fn serial_number(lock_sha256: &str) -> String {
    let digest = Sha256::digest(format!("dockgen sbom:{lock_sha256}").as_bytes());
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&digest[..16]);
    raw[6] = (raw[6] & 0x0F) | 0x80;
    raw[8] = (raw[8] & 0x3F) | 0x80;
    let hex = hex::encode(raw);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_identifiers_are_told_from_free_text() {
        assert_eq!(spdx_id("MPL-2.0"), Some("MPL-2.0"));
        assert_eq!(spdx_id("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(spdx_id("BSD-3-Clause"), Some("BSD-3-Clause"));
        // Deprecated identifiers are still on the list (and in CycloneDX's schema).
        assert_eq!(spdx_id("GPL-2.0+"), Some("GPL-2.0+"));
        for text in [
            "MIT or Apache-2.0",
            "LGPL-2.1-or-later WITH GCC-exception-2.0",
            "BSD",
            "Apache 2.0",
            "MIT License",
            "",
        ] {
            assert_eq!(spdx_id(text), None, "{text}");
        }
        let file = spdx_ids_file();
        assert!(file.starts_with("# SPDX license list 3."), "{file}");
        assert!(file.lines().any(|l| l == "MPL-2.0"));
    }

    #[test]
    fn serial_numbers_are_version_8_uuids() {
        let serial = serial_number(&"ab".repeat(32));
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[9 + 14..9 + 15], "8");
        assert!(matches!(&serial[9 + 19..9 + 20], "8" | "9" | "a" | "b"));
    }
}
