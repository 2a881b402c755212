//! Comparing two locks: packages added, removed, upgraded and downgraded, files that
//! changed under the same version, and the header lines that decide what gets locked.
//! Pure: two parsed locks in, a [`LockDiff`] out, rendered as text or serialized as JSON.
//!
//! Files under the same version are compared by their hashes (a lock names no files):
//! - only new hashes: files added to a release (a wheel uploaded later, for a new
//!   Python or platform) or accepted anew (a later `exclude-newer`);
//! - only hashes gone: files deleted or yanked, or no longer accepted;
//! - some gone and others new: a file *replaced*. An index must never serve other
//!   bytes for a file it has published, so for the same target this is flagged as
//!   suspicious: an index re-hosting rebuilt files, a mirror serving something else, or
//!   the package now coming from another index. When the two locks name different
//!   targets, swapped wheels are expected (a new Python takes other wheels), and the
//!   change is listed without the flag.
//!
//! A direct reference pinned at the same version from another URL (a git pin moved to
//! another commit, `name @ git+URL@<commit>`, which has no hash) is a source change.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::lock::{LockFile, LockedPin, Provenance};

/// Where one side of the comparison was read from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// As the user would write it: `locks/cpu-x86_64.txt`, `HEAD:locks/cpu-x86_64.txt`.
    pub label: String,
    /// The git revision the file was read at; `None` for a file on disk.
    pub revision: Option<String>,
    pub path: String,
}

/// One side: where it comes from, its pins, and its header.
#[derive(Debug, Clone)]
pub struct Side {
    pub source: Source,
    pub lock: LockFile,
    pub provenance: Provenance,
}

/// Everything that differs between two locks. Every key is always present (empty
/// lists, `null` header fields), and every list is sorted by package name.
#[derive(Debug, Clone, Serialize)]
pub struct LockDiff {
    pub old: Source,
    pub new: Source,
    /// Whether anything below differs.
    pub changed: bool,
    pub summary: Summary,
    pub header: HeaderChanges,
    pub added: Vec<Package>,
    pub removed: Vec<Package>,
    pub upgraded: Vec<VersionChange>,
    pub downgraded: Vec<VersionChange>,
    /// Same version, other files.
    pub files_changed: Vec<FilesChange>,
    /// Same version, another URL (a direct reference, e.g. a git pin's commit).
    pub source_changed: Vec<SourceChange>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub upgraded: usize,
    pub downgraded: usize,
    pub files_changed: usize,
    /// How many of `files_changed` are flagged as suspicious.
    pub suspicious: usize,
    pub source_changed: usize,
    /// How many header fields changed.
    pub header: usize,
}

/// The header fields that decide what gets locked; `None` when unchanged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HeaderChanges {
    pub profile: Option<ValueChange>,
    pub target: Option<ValueChange>,
    pub inputs: Option<ListChange>,
    pub exclude_newer: Option<ListChange>,
    pub indexes: Option<ListChange>,
    pub find_links: Option<ListChange>,
}

/// A single-valued header field; `None` where a lock does not say (not made by dockgen).
#[derive(Debug, Clone, Serialize)]
pub struct ValueChange {
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A list-valued header field, as sets: order does not change what is locked.
#[derive(Debug, Clone, Serialize)]
pub struct ListChange {
    pub removed: Vec<String>,
    pub added: Vec<String>,
}

/// A package only one lock pins.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `sha256:<hex>`, as the lock lists them.
    pub hashes: Vec<String>,
    /// What requires it, from the lock's `# via` annotation.
    pub via: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionChange {
    pub name: String,
    pub old_version: String,
    pub new_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChange {
    /// Only new hashes.
    Added,
    /// Only hashes gone.
    Removed,
    /// Some hashes gone, others new.
    Replaced,
}

/// The same version pinned from another URL (output-safe: credentials masked).
#[derive(Debug, Clone, Serialize)]
pub struct SourceChange {
    pub name: String,
    pub version: String,
    pub old_url: Option<String>,
    pub new_url: Option<String>,
}

/// The same version (PEP 440 equality) pinned with other hashes.
#[derive(Debug, Clone, Serialize)]
pub struct FilesChange {
    pub name: String,
    pub version: String,
    pub change: FileChange,
    /// A file replaced while both locks name the same target (or do not say).
    pub suspicious: bool,
    pub hashes_removed: Vec<String>,
    pub hashes_added: Vec<String>,
}

pub fn compare(old: &Side, new: &Side) -> LockDiff {
    let header = header_changes(&old.provenance, &new.provenance);
    // Both locks name a target and they differ: swapped wheels are expected.
    let target_changed = matches!(
        &header.target,
        Some(ValueChange {
            old: Some(_),
            new: Some(_)
        })
    );
    let mut diff = LockDiff {
        old: old.source.clone(),
        new: new.source.clone(),
        changed: false,
        summary: Summary::default(),
        header,
        added: Vec::new(),
        removed: Vec::new(),
        upgraded: Vec::new(),
        downgraded: Vec::new(),
        files_changed: Vec::new(),
        source_changed: Vec::new(),
    };
    for (name, pin) in &old.lock.pins {
        if !new.lock.pins.contains_key(name) {
            diff.removed.push(package(name.as_ref(), pin));
        }
    }
    for (name, pin) in &new.lock.pins {
        let Some(before) = old.lock.pins.get(name) else {
            diff.added.push(package(name.as_ref(), pin));
            continue;
        };
        let change = VersionChange {
            name: name.to_string(),
            old_version: before.version.to_string(),
            new_version: pin.version.to_string(),
        };
        match before.version.cmp(&pin.version) {
            std::cmp::Ordering::Less => diff.upgraded.push(change),
            std::cmp::Ordering::Greater => diff.downgraded.push(change),
            std::cmp::Ordering::Equal => {
                if before.url != pin.url {
                    let shown = |url: &Option<String>| url.as_deref().map(crate::secrets::url_text);
                    diff.source_changed.push(SourceChange {
                        name: name.to_string(),
                        version: pin.version.to_string(),
                        old_url: shown(&before.url),
                        new_url: shown(&pin.url),
                    });
                }
                let (was, is) = (hash_set(before), hash_set(pin));
                let gone: Vec<String> = was.difference(&is).map(|h| hash_label(h)).collect();
                let new_ones: Vec<String> = is.difference(&was).map(|h| hash_label(h)).collect();
                let change = match (gone.is_empty(), new_ones.is_empty()) {
                    (true, true) => continue,
                    (true, false) => FileChange::Added,
                    (false, true) => FileChange::Removed,
                    (false, false) => FileChange::Replaced,
                };
                diff.files_changed.push(FilesChange {
                    name: name.to_string(),
                    version: pin.version.to_string(),
                    change,
                    suspicious: change == FileChange::Replaced && !target_changed,
                    hashes_removed: gone,
                    hashes_added: new_ones,
                });
            }
        }
    }
    let header_count = [
        diff.header.profile.is_some(),
        diff.header.target.is_some(),
        diff.header.inputs.is_some(),
        diff.header.exclude_newer.is_some(),
        diff.header.indexes.is_some(),
        diff.header.find_links.is_some(),
    ]
    .into_iter()
    .filter(|changed| *changed)
    .count();
    diff.summary = Summary {
        added: diff.added.len(),
        removed: diff.removed.len(),
        upgraded: diff.upgraded.len(),
        downgraded: diff.downgraded.len(),
        files_changed: diff.files_changed.len(),
        suspicious: diff.files_changed.iter().filter(|f| f.suspicious).count(),
        source_changed: diff.source_changed.len(),
        header: header_count,
    };
    let s = &diff.summary;
    diff.changed = s.added
        + s.removed
        + s.upgraded
        + s.downgraded
        + s.files_changed
        + s.source_changed
        + s.header
        > 0;
    diff
}

fn package(name: &str, pin: &LockedPin) -> Package {
    Package {
        name: name.to_string(),
        version: pin.version.to_string(),
        hashes: pin.hashes.iter().map(|h| hash_label(h)).collect(),
        via: pin.via.iter().map(ToString::to_string).collect(),
    }
}

/// Hex digests compare case-insensitively; a hash listed twice is one file.
fn hash_set(pin: &LockedPin) -> BTreeSet<String> {
    pin.hashes.iter().map(|h| h.to_ascii_lowercase()).collect()
}

fn hash_label(hex: &str) -> String {
    format!("sha256:{hex}")
}

fn header_changes(old: &Provenance, new: &Provenance) -> HeaderChanges {
    let value = |old: &Option<String>, new: &Option<String>| {
        (old != new).then(|| ValueChange {
            old: old.clone(),
            new: new.clone(),
        })
    };
    let list = |old: &[String], new: &[String]| {
        let (old, new): (BTreeSet<&String>, BTreeSet<&String>) =
            (old.iter().collect(), new.iter().collect());
        (old != new).then(|| ListChange {
            removed: old.difference(&new).map(|s| s.to_string()).collect(),
            added: new.difference(&old).map(|s| s.to_string()).collect(),
        })
    };
    HeaderChanges {
        profile: value(&old.profile, &new.profile),
        target: value(&old.target, &new.target),
        inputs: list(&old.inputs, &new.inputs),
        exclude_newer: list(&old.exclude_newer, &new.exclude_newer),
        indexes: list(&old.indexes, &new.indexes),
        find_links: list(&old.find_links, &new.find_links),
    }
}

/// The diff as a changelog: the header, then the suspicious files, added, removed,
/// upgraded, downgraded, and other file changes, each section sorted by name and
/// left out when empty; a summary line last.
pub fn text(diff: &LockDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} -> {}", diff.old.label, diff.new.label);
    if !diff.changed {
        let _ = writeln!(
            out,
            "\nNo differences: the same packages, versions and files, and the same header."
        );
        return out;
    }

    let h = &diff.header;
    if diff.summary.header > 0 {
        let _ = writeln!(out, "\nHeader");
        let value = |out: &mut String, field: &str, change: &Option<ValueChange>| {
            if let Some(change) = change {
                let _ = writeln!(out, "  {field}:");
                let _ = writeln!(out, "    - {}", change.old.as_deref().unwrap_or("(none)"));
                let _ = writeln!(out, "    + {}", change.new.as_deref().unwrap_or("(none)"));
            }
        };
        let list = |out: &mut String, field: &str, change: &Option<ListChange>| {
            if let Some(change) = change {
                let _ = writeln!(out, "  {field}:");
                for item in &change.removed {
                    let _ = writeln!(out, "    - {item}");
                }
                for item in &change.added {
                    let _ = writeln!(out, "    + {item}");
                }
            }
        };
        value(&mut out, "profile", &h.profile);
        value(&mut out, "target", &h.target);
        list(&mut out, "inputs", &h.inputs);
        list(&mut out, "exclude-newer", &h.exclude_newer);
        list(&mut out, "indexes", &h.indexes);
        list(&mut out, "find-links", &h.find_links);
    }

    let (suspicious, other_files): (Vec<&FilesChange>, Vec<&FilesChange>) =
        diff.files_changed.iter().partition(|f| f.suspicious);
    if !suspicious.is_empty() {
        let _ = writeln!(
            out,
            "\nSUSPICIOUS: files replaced under the same version ({})",
            suspicious.len()
        );
        let _ = writeln!(
            out,
            "  An index served other files for a version the old lock pinned: check where they come from."
        );
        files(&mut out, &suspicious);
    }

    if !diff.added.is_empty() {
        let _ = writeln!(out, "\nAdded ({})", diff.added.len());
        packages(&mut out, &diff.added);
    }
    if !diff.removed.is_empty() {
        let _ = writeln!(out, "\nRemoved ({})", diff.removed.len());
        packages(&mut out, &diff.removed);
    }
    for (title, changes) in [
        ("Upgraded", &diff.upgraded),
        ("Downgraded", &diff.downgraded),
    ] {
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({})", changes.len());
        let pad = name_width(changes.iter().map(|c| &c.name));
        for change in changes {
            let _ = writeln!(
                out,
                "  {:pad$}  {} -> {}",
                change.name, change.old_version, change.new_version
            );
        }
    }
    if !other_files.is_empty() {
        let _ = writeln!(out, "\nSame version, files changed ({})", other_files.len());
        files(&mut out, &other_files);
    }
    if !diff.source_changed.is_empty() {
        let _ = writeln!(
            out,
            "\nSame version, source changed ({})",
            diff.source_changed.len()
        );
        let index = "(index)".to_string();
        for change in &diff.source_changed {
            let _ = writeln!(out, "  {} {}", change.name, change.version);
            let _ = writeln!(out, "    - {}", change.old_url.as_ref().unwrap_or(&index));
            let _ = writeln!(out, "    + {}", change.new_url.as_ref().unwrap_or(&index));
        }
    }

    let s = &diff.summary;
    let mut parts: Vec<String> = [
        (s.added, "added"),
        (s.removed, "removed"),
        (s.upgraded, "upgraded"),
        (s.downgraded, "downgraded"),
        (s.files_changed - s.suspicious, "with files changed"),
        (s.suspicious, "SUSPICIOUS"),
        (s.source_changed, "with source changed"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    if s.header > 0 {
        parts.push("header changed".into());
    }
    let _ = writeln!(out, "\nSummary: {}", parts.join(", "));
    out
}

/// The width names are padded to, so that versions line up.
fn name_width<'a>(names: impl Iterator<Item = &'a String>) -> usize {
    names.map(|name| name.len()).max().unwrap_or(0)
}

fn packages(out: &mut String, packages: &[Package]) {
    let pad = name_width(packages.iter().map(|p| &p.name));
    for package in packages {
        let via = if package.via.is_empty() {
            String::new()
        } else {
            format!("  (via {})", package.via.join(", "))
        };
        let line = format!("  {:pad$}  {}{via}", package.name, package.version);
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn files(out: &mut String, changes: &[&FilesChange]) {
    let plural = |n: usize| if n == 1 { "file" } else { "files" };
    for change in changes {
        let (gone, new) = (change.hashes_removed.len(), change.hashes_added.len());
        let what = match change.change {
            FileChange::Added => format!("{new} {} added", plural(new)),
            FileChange::Removed => format!("{gone} {} removed", plural(gone)),
            FileChange::Replaced if change.suspicious => {
                format!("{gone} {} removed, {new} added", plural(gone))
            }
            FileChange::Replaced => format!(
                "{gone} {} removed, {new} added (the target changed)",
                plural(gone)
            ),
        };
        let _ = writeln!(out, "  {} {}: {what}", change.name, change.version);
        for hash in &change.hashes_removed {
            let _ = writeln!(out, "    - {hash}");
        }
        for hash in &change.hashes_added {
            let _ = writeln!(out, "    + {hash}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lock::{parse, provenance};

    fn side(label: &str, text: &str) -> Side {
        Side {
            source: Source {
                label: label.into(),
                revision: None,
                path: label.into(),
            },
            lock: parse(text, Path::new(label)).expect("a lock"),
            provenance: provenance(text),
        }
    }

    fn header(python: &str, exclude_newer: &str) -> String {
        format!(
            "#\n# This file is generated by dockgen for profile `cpu-x86_64`; do not edit it.\n#\n# target: linux/amd64, CPython {python}, glibc 2.36, cpu\n# inputs: ../requirements.in\n# exclude-newer: pypi={exclude_newer}\n#\n--index-url https://pypi.org/simple\n"
        )
    }

    #[test]
    fn a_git_pin_moved_to_another_commit_is_a_source_change() {
        let pin = |commit: &str| {
            format!(
                "{}\ngitpkg @ git+https://${{USER}}:${{TOKEN}}@git.example/gitpkg@{commit}\n    \
                 # version 1.0 (git revision v1.0)\n",
                header("3.11.13", "2025-09-01T00:00:00Z")
            )
        };
        let diff = compare(
            &side("a.txt", &pin(&"a".repeat(40))),
            &side("b.txt", &pin(&"b".repeat(40))),
        );
        assert!(diff.changed);
        assert_eq!(diff.summary.source_changed, 1);
        let text = text(&diff);
        assert!(
            text.contains(&format!(
                "Same version, source changed (1)\n  gitpkg 1.0\n    - \
                 git+https://git.example/gitpkg@{}\n",
                "a".repeat(40)
            )),
            "{text}"
        );
        assert!(text.contains("Summary: 1 with source changed"), "{text}");
    }

    const OLD_PINS: &str = "
anyio==4.4.0 --hash=sha256:aa01
certifi==2025.8.3 --hash=sha256:cc01 --hash=sha256:cc02
idna==3.10 --hash=sha256:dd01
numpy==2.1.0 --hash=sha256:ee01
six==1.16.0 --hash=sha256:ff01 --hash=sha256:ff02
sniffio==1.3.1 --hash=sha256:1101
    # via anyio
urllib3==2.5.0 --hash=sha256:2201 --hash=sha256:2202
";

    const NEW_PINS: &str = "
anyio==4.10.0 --hash=sha256:aa02
certifi==2025.8.3 --hash=sha256:CC02 --hash=sha256:cc01
h11==0.16.0 --hash=sha256:3301
    # via
    #   httpcore
    #   uvicorn
idna==3.7 --hash=sha256:dd02
numpy==2.1.0.0 --hash=sha256:ee01 --hash=sha256:ee02
six==1.16.0 --hash=sha256:ff01 --hash=sha256:ff03
urllib3==2.5.0 --hash=sha256:2201
";

    #[test]
    fn sorts_every_change_into_its_kind() {
        let old = side("old.txt", &(header("3.11.13", "2025-09-01") + OLD_PINS));
        let new = side("new.txt", &(header("3.11.13", "2025-09-01") + NEW_PINS));
        let diff = compare(&old, &new);
        let names = |list: &[Package]| list.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&diff.added), ["h11"]);
        assert_eq!(diff.added[0].via, ["httpcore", "uvicorn"]);
        assert_eq!(names(&diff.removed), ["sniffio"]);
        assert_eq!(diff.removed[0].via, ["anyio"]);
        let versions = |list: &[VersionChange]| {
            list.iter()
                .map(|c| format!("{} {} {}", c.name, c.old_version, c.new_version))
                .collect::<Vec<_>>()
        };
        // 4.10.0 > 4.4.0 by PEP 440, though not as strings.
        assert_eq!(versions(&diff.upgraded), ["anyio 4.4.0 4.10.0"]);
        assert_eq!(versions(&diff.downgraded), ["idna 3.10 3.7"]);
        // certifi: same hashes in another order and case: no change. numpy 2.1.0.0 is
        // 2.1.0, with a file added.
        let files: Vec<String> = diff
            .files_changed
            .iter()
            .map(|f| {
                format!(
                    "{} {} {:?} suspicious={} -{:?} +{:?}",
                    f.name, f.version, f.change, f.suspicious, f.hashes_removed, f.hashes_added
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                "numpy 2.1.0.0 Added suspicious=false -[] +[\"sha256:ee02\"]",
                "six 1.16.0 Replaced suspicious=true -[\"sha256:ff02\"] +[\"sha256:ff03\"]",
                "urllib3 2.5.0 Removed suspicious=false -[\"sha256:2202\"] +[]",
            ]
        );
        assert!(diff.changed);
        assert_eq!(diff.summary.suspicious, 1);
        assert_eq!(diff.summary.header, 0);
        insta::assert_snapshot!(text(&diff));
    }

    #[test]
    fn a_replaced_file_is_expected_when_the_target_changed() {
        let old = side("old.txt", &(header("3.10.12", "2025-09-01") + OLD_PINS));
        let new = side("new.txt", &(header("3.11.13", "2025-10-01") + NEW_PINS));
        let diff = compare(&old, &new);
        let six = diff.files_changed.iter().find(|f| f.name == "six").unwrap();
        assert_eq!(six.change, FileChange::Replaced);
        assert!(!six.suspicious);
        assert_eq!(diff.summary.suspicious, 0);
        assert_eq!(diff.summary.header, 2);
        insta::assert_snapshot!(text(&diff));
    }

    #[test]
    fn a_lock_without_a_target_does_not_excuse_a_replaced_file() {
        // pip-compile's lock names no target: nothing explains the swap.
        let old = side("old.txt", OLD_PINS);
        let new = side("new.txt", &(header("3.11.13", "2025-09-01") + NEW_PINS));
        let diff = compare(&old, &new);
        assert!(diff.header.target.is_some());
        assert_eq!(diff.summary.suspicious, 1);
    }

    #[test]
    fn equal_locks_differ_in_nothing() {
        let lock = header("3.11.13", "2025-09-01") + OLD_PINS;
        // Comments, `# via` and pin order do not change what is installed.
        let reordered = header("3.11.13", "2025-09-01")
            + "# a comment\n"
            + &OLD_PINS.lines().rev().collect::<Vec<_>>().join("\n");
        let diff = compare(&side("a.txt", &lock), &side("b.txt", &reordered));
        assert!(!diff.changed, "{diff:#?}");
        assert_eq!(
            text(&diff),
            "a.txt -> b.txt\n\nNo differences: the same packages, versions and files, and the same header.\n"
        );
    }

    #[test]
    fn header_lists_compare_as_sets() {
        let old = "--index-url https://a.example/simple\n--extra-index-url https://b.example/simple\nsix==1.16.0\n";
        let new = "--index-url https://b.example/simple\n--extra-index-url https://a.example/simple\n--extra-index-url https://c.example/simple\nsix==1.16.0\n";
        let diff = compare(&side("old.txt", old), &side("new.txt", new));
        let indexes = diff.header.indexes.as_ref().expect("indexes changed");
        assert!(indexes.removed.is_empty());
        assert_eq!(indexes.added, ["https://c.example/simple"]);
        assert!(diff.header.profile.is_none());
        assert_eq!(diff.summary.header, 1);
    }

    #[test]
    fn json_keys_are_all_present_and_stable() {
        let old = side("old.txt", &(header("3.10.12", "2025-09-01") + OLD_PINS));
        let new = side("new.txt", &(header("3.11.13", "2025-10-01") + NEW_PINS));
        insta::assert_snapshot!(serde_json::to_string_pretty(&compare(&old, &new)).unwrap());
        // Unchanged: the same keys, with empty lists and null header fields.
        let lock = header("3.11.13", "2025-09-01") + "six==1.16.0 --hash=sha256:ff01\n";
        let diff = compare(&side("a.txt", &lock), &side("b.txt", &lock));
        insta::assert_snapshot!(
            "unchanged_json",
            serde_json::to_string_pretty(&diff).unwrap()
        );
    }
}
