//! Rendering a [`Resolution`] as a lock file. Same resolution, same bytes.
//!
//! Each pin is followed by its `# via` entries: first the inputs that ask for it
//! (`-r ../requirements.in`), then one entry per requirement of another locked package
//! on it, so the lock alone holds the dependency graph with the requirement behind
//! every edge (what `dockgen tree` shows, and what the built image's tree must equal):
//!
//! - `parent (>=0.37.2,<0.39.0)`: `parent` requires it with these specifiers, written
//!   as pipdeptree shows them ([`specifier_text`](crate::resolve::specifier_text));
//! - `parent`: `parent` requires it with no specifier (pipdeptree's `Any`);
//! - `parent[standard] (>=0.1)`: the requirement only holds with `parent`'s extra
//!   `standard` active (an edge in pipdeptree 4's tree when an installed package asks
//!   for `parent[standard]`, never in 2.x's);
//! - `parent ([cuda,nvtx]==12.8.1)`: the requirement asks for the package's extras
//!   `cuda` and `nvtx` (sorted), so its requirements through them are edges too in
//!   pipdeptree 4's tree.
//!
//! A parent whose metadata holds two requirements on the package that both apply to
//! the target (different markers) gets one entry for each, in metadata order, as
//! pipdeptree lists the package twice. Entries through extras follow the plain ones,
//! once per extra and requirement.
//!
//! Readers that only want names (pip-compile's format has bare names) take the word
//! before ` (` and `[`.
//!
//! A direct reference is pinned as `name @ URL`: an archive with its `--hash`, a git
//! reference as `name @ git+URL@<commit>` and a local project directory as
//! `name @ file:///abs/path`, both with none (pip cannot hash a source tree, and
//! refuses it beside hashed pins: the header says so), followed by a
//! `# version X (git revision R)` or `# version X (local directory)` line, since pip's
//! format has no place for a URL pin's version (and a relock keeps a git commit only
//! while the input asks for `R`).

use std::fmt::Write as _;

use pep508_rs::PackageName;

use crate::resolve::{Dependency, RequiredBy, Resolution};

/// What the header of a lock says about how it was made. Never holds credentials:
/// index URLs are passed in already redacted.
#[derive(Debug, Clone, Default)]
pub struct LockHeader {
    pub profile: String,
    /// One line describing the target, e.g. `linux/amd64, CPython 3.11.11, glibc 2.36, cpu`.
    pub target: String,
    /// The command that regenerates the lock, run from the input's directory.
    pub command: String,
    /// Input files, relative to the lock's directory.
    pub inputs: Vec<String>,
    /// `(index name, timestamp)` for every index with `exclude_newer`.
    pub exclude_newer: Vec<(String, String)>,
    /// `(index name, redacted URL)` in profile order. Only indexes that serve a locked
    /// package are written: the first becomes `--index-url`, the rest
    /// `--extra-index-url` (so pip never waits on an index the lock does not need).
    pub indexes: Vec<(String, String)>,
    pub find_links: Vec<String>,
    /// The revision each git reference of the input asks for (`None`: the default
    /// branch), by package name: written beside its pin, so a relock keeps the commit
    /// only while the input asks for the same revision.
    pub git_revisions: std::collections::BTreeMap<PackageName, Option<String>>,
}

/// Whether a direct pin's URL is a git commit (`git+URL@<commit>`), which has no hash.
pub fn is_git_pin(url: &str) -> bool {
    url.starts_with("git+")
}

/// Whether a direct pin's URL is a local project directory (`file:///abs/path`): a
/// `file:` URL whose last segment is not an archive's name (dockgen refuses to lock a
/// directory named like one). It has no hash.
pub fn is_directory_pin(url: &str) -> bool {
    let Some(path) = url.strip_prefix("file:") else {
        return false;
    };
    let path = path.split(['#', '?']).next().unwrap_or(path);
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    !crate::index::direct::is_archive_name(last)
}

/// Whether a direct pin is a source tree, a git commit or a local directory: no file to
/// hash, a `# version` line under it, the header's note on installing it.
pub fn is_source_tree_pin(url: &str) -> bool {
    is_git_pin(url) || is_directory_pin(url)
}

/// The comment line under a git pin: its version (pip's format has no place for it)
/// and the revision asked for, e.g. `# version 1.0 (git revision v1.0)`.
pub fn git_pin_comment(version: &str, revision: Option<&str>) -> String {
    format!(
        "# version {version} (git revision {})",
        revision.unwrap_or(GIT_DEFAULT_REVISION)
    )
}

/// The comment line under a local directory pin: its version.
pub fn directory_pin_comment(version: &str) -> String {
    format!("# version {version} {DIRECTORY_PIN_MARK}")
}

/// How [`directory_pin_comment`] ends.
pub const DIRECTORY_PIN_MARK: &str = "(local directory)";

/// The header lines of a lock with source-tree pins ([`is_source_tree_pin`]): how pip
/// installs them.
pub const SOURCE_TREE_PINS_NOTE: [&str; 3] = [
    "# pip cannot hash-check git pins (`name @ git+URL@commit`) or local directory pins",
    "# (`name @ file:///path`) and refuses them beside hashed pins: install the other",
    "# pins with `--require-hashes`, then these with `pip install --no-deps`.",
];

/// How [`git_pin_comment`] names the default branch's HEAD.
pub const GIT_DEFAULT_REVISION: &str = "HEAD";

/// Refuses what would not stay on its line of the lock: every value written must be
/// one line of printable text, every hash 64 lower-case hex digits. Index values are
/// checked where they are parsed ([`crate::index::validate`]); this is the last line
/// of defence for every other route (input paths, header fields), so a failure here
/// is a bug or an input no lock can carry. The message names the value.
pub fn check(resolution: &Resolution, header: &LockHeader) -> Result<(), String> {
    use crate::index::validate::{no_control, quoted, sha256};
    no_control("profile name", &header.profile)?;
    no_control("target", &header.target)?;
    no_control("command", &header.command)?;
    for value in &header.inputs {
        no_control("input", value)?;
    }
    for (index, time) in &header.exclude_newer {
        no_control("index name", index)?;
        no_control("exclude-newer time", time)?;
    }
    for (index, url) in &header.indexes {
        no_control("index name", index)?;
        no_control("index URL", url)?;
    }
    for link in &header.find_links {
        no_control("find-links source", link)?;
    }
    for revision in header.git_revisions.values().flatten() {
        no_control("git revision", revision)?;
    }
    for package in resolution.packages.values() {
        no_control("package name", package.name.as_ref())?;
        if let Some(url) = &package.direct
            && url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "the URL {} of `{}` contains whitespace or a control character",
                quoted(url),
                package.name
            ));
        }
        no_control("version", &package.version.to_string())?;
        for file in &package.files {
            let hash = &file.sha256;
            if sha256(hash).as_ref() != Ok(hash) {
                return Err(format!(
                    "the sha256 {} of `{}` {} is not 64 lower-case hex digits",
                    quoted(hash),
                    package.name,
                    package.version
                ));
            }
        }
        for by in &package.required_by {
            if let RequiredBy::Input(label) = by {
                no_control("input label", label)?;
            }
        }
        for dependency in &package.dependencies {
            no_control("requirement", &dependency.specifier)?;
        }
    }
    Ok(())
}

/// Renders the lock. The caller has run [`check`] (debug builds assert it).
pub fn render(resolution: &Resolution, header: &LockHeader) -> String {
    debug_assert_eq!(check(resolution, header), Ok(()));
    let mut out = String::new();
    let _ = writeln!(out, "#");
    let _ = writeln!(
        out,
        "# This file is generated by dockgen for profile `{}`; do not edit it.",
        header.profile
    );
    let _ = writeln!(out, "# To update it, run from the directory of the input:");
    let _ = writeln!(out, "#");
    let _ = writeln!(out, "#    {}", header.command);
    let _ = writeln!(out, "#");
    let _ = writeln!(out, "# target: {}", header.target);
    let _ = writeln!(out, "# inputs: {}", header.inputs.join(", "));
    if !header.exclude_newer.is_empty() {
        let list: Vec<String> = header
            .exclude_newer
            .iter()
            .map(|(i, t)| format!("{i}={t}"))
            .collect();
        let _ = writeln!(out, "# exclude-newer: {}", list.join(", "));
    }
    if resolution
        .packages
        .values()
        .any(|p| p.direct.as_deref().is_some_and(is_source_tree_pin))
    {
        for line in SOURCE_TREE_PINS_NOTE {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "#");
    let used = header
        .indexes
        .iter()
        .filter(|(name, _)| resolution.packages.values().any(|p| *p.index == **name));
    for (n, (_, url)) in used.enumerate() {
        let option = if n == 0 {
            "--index-url"
        } else {
            "--extra-index-url"
        };
        let _ = writeln!(out, "{option} {url}");
    }
    for link in &header.find_links {
        let _ = writeln!(out, "--find-links {link}");
    }
    for package in resolution.packages.values() {
        let _ = writeln!(out);
        match &package.direct {
            // pip's format: a URL requirement with hashes, installed with
            // `--require-hashes` like any pin; the version is the archive's.
            Some(url) => {
                let _ = write!(out, "{} @ {url}", package.name);
            }
            None => {
                let _ = write!(out, "{}=={}", package.name, package.version);
            }
        }
        // Two files with the same bytes (or one listed twice) are one hash for pip.
        let mut written = std::collections::BTreeSet::new();
        for file in &package.files {
            if written.insert(file.sha256.as_str()) {
                let _ = write!(out, " \\\n    --hash=sha256:{}", file.sha256);
            }
        }
        let _ = writeln!(out);
        if let Some(url) = package.direct.as_deref() {
            let version = package.version.to_string();
            if is_git_pin(url) {
                let revision = header.git_revisions.get(&package.name).cloned().flatten();
                let comment = git_pin_comment(&version, revision.as_deref());
                let _ = writeln!(out, "    {comment}");
            } else if is_directory_pin(url) {
                let _ = writeln!(out, "    {}", directory_pin_comment(&version));
            }
        }
        let via: Vec<String> = package
            .required_by
            .iter()
            .flat_map(|by| match by {
                RequiredBy::Input(label) => vec![label.clone()],
                RequiredBy::Package(parent) => via_package(resolution, parent, &package.name),
            })
            .collect();
        match via.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "    # via {one}");
            }
            many => {
                let _ = writeln!(out, "    # via");
                for one in many {
                    let _ = writeln!(out, "    #   {one}");
                }
            }
        }
    }
    out
}

/// The `# via` entries for the requirements of `parent` on `child` (see the module docs).
fn via_package(resolution: &Resolution, parent: &PackageName, child: &PackageName) -> Vec<String> {
    let Some(requirements) = resolution
        .packages
        .get(parent)
        .map(|p| p.dependencies.iter().filter(|d| d.name == *child))
    else {
        return vec![parent.to_string()];
    };
    let entry = |dependency: &Dependency| {
        let mut entry = parent.to_string();
        if let Some(extra) = &dependency.via_extra {
            let _ = write!(entry, "[{extra}]");
        }
        let mut requests: Vec<&str> = dependency.extras.iter().map(|e| e.as_ref()).collect();
        requests.sort_unstable();
        requests.dedup();
        if !requests.is_empty() || !dependency.specifier.is_empty() {
            entry.push_str(" (");
            if !requests.is_empty() {
                let _ = write!(entry, "[{}]", requests.join(","));
            }
            let _ = write!(entry, "{})", dependency.specifier);
        }
        entry
    };
    let (plain, through_extras): (Vec<&Dependency>, Vec<&Dependency>) =
        requirements.partition(|d| d.via_extra.is_none());
    // Plain entries once per requirement (two that apply are both edges); entries
    // through extras once per extra and requirement.
    let mut entries: Vec<String> = plain.into_iter().map(entry).collect();
    for dependency in through_extras {
        let entry = entry(dependency);
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        // Not reached: `required_by` names a parent only for its own requirements.
        entries.push(parent.to_string());
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::str::FromStr;
    use std::sync::Arc;

    use pep440_rs::Version;

    use super::*;
    use crate::resolve::{LockedFile, ResolvedPackage};

    fn resolution(hashes: &[&str]) -> Resolution {
        let name = PackageName::from_str("demo").unwrap();
        let version = Version::from_str("1.0").unwrap();
        let files = hashes
            .iter()
            .enumerate()
            .map(|(n, hash)| LockedFile {
                filename: format!("demo-1.0-py3-none-any{n}.whl"),
                url: url::Url::parse("https://files.example/demo.whl").unwrap(),
                sha256: hash.to_string(),
                is_wheel: true,
                size: None,
            })
            .collect();
        let metadata = crate::index::CoreMetadata {
            name: name.clone(),
            version: version.clone(),
            requires_dist: Vec::new(),
            requires_python: None,
            provides_extras: Vec::new(),
            summary: None,
            license: None,
            license_expression: None,
            license_classifiers: Vec::new(),
        };
        let package = ResolvedPackage {
            name: name.clone(),
            version,
            index: Arc::from("idx"),
            direct: None,
            extras: BTreeSet::new(),
            files,
            dependencies: Vec::new(),
            required_by: BTreeSet::from([RequiredBy::Input("-r requirements.in".into())]),
            metadata: Arc::new(metadata),
        };
        Resolution {
            packages: BTreeMap::from([(name, package)]),
        }
    }

    #[test]
    fn each_hash_once_per_pin() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = render(&resolution(&[&a, &b, &a]), &LockHeader::default());
        assert_eq!(text.matches(&a).count(), 1, "{text}");
        assert_eq!(text.matches(&b).count(), 1, "{text}");
    }

    #[test]
    fn refuses_values_that_leave_their_line() {
        let header = LockHeader::default();
        let injected = format!("{}\n--extra-index-url http://evil.invalid", "a".repeat(64));
        let message = check(&resolution(&[&injected]), &header).unwrap_err();
        assert!(
            message.contains("of `demo` 1.0 is not 64 lower-case hex"),
            "{message}"
        );
        assert!(check(&resolution(&[&"A".repeat(64)]), &header).is_err());
        let header = LockHeader {
            find_links: vec!["wheels\n--index-url http://evil.invalid".into()],
            ..LockHeader::default()
        };
        let message = check(&resolution(&[&"a".repeat(64)]), &header).unwrap_err();
        assert!(
            message.starts_with("the find-links source `wheels\\n--index-url"),
            "{message}"
        );
    }
}
