//! A re-lock that keeps a pin must keep its files: the hashes an existing lock has
//! for `name==version` are compared with the hashes of the new resolution before
//! anything is written.
//!
//! The `.txt` lock has hashes but no file names, so a hash that is gone is first
//! explained by the index: when a file of that version with that hash is still served
//! (only no longer installable on the target, e.g. after a profile change), nothing
//! was replaced. A hash gone while another came in is a file replaced on the index:
//! an error, unless `--upgrade` / `--upgrade-package` lifted the pin (then a
//! warning). New files under a kept version, or files gone, are warnings.
//! `pylock.<profile>.toml` beside the lock, when there is one, tells the file names
//! of the old hashes for a more exact message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pep508_rs::PackageName;

use crate::index::{IndexError, PackageSource};
use crate::lock::LockFile;
use crate::resolve::Resolution;

/// What changed under kept pins: `errors` stop the run, `warnings` are printed.
#[derive(Debug, Default)]
pub(super) struct Drift {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Compares the pins of `previous` with `resolution`. `lifted` says whether
/// `--upgrade`/`--upgrade-package` released a package's pin; `names` maps old
/// hashes to file names when a pylock says them.
pub(super) fn compare(
    previous: &LockFile,
    names: &BTreeMap<String, String>,
    resolution: &Resolution,
    source: &dyn PackageSource,
    lifted: impl Fn(&PackageName) -> bool,
) -> Result<Drift, IndexError> {
    let mut drift = Drift::default();
    for package in resolution.packages.values() {
        let Some(pin) = previous.pins.get(&package.name) else {
            continue;
        };
        if pin.version != package.version {
            continue;
        }
        let old: BTreeSet<String> = pin.hashes.iter().map(|h| h.to_ascii_lowercase()).collect();
        let mut new: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for file in &package.files {
            new.entry(file.sha256.as_str())
                .or_default()
                .push(file.filename.as_str());
        }
        let added: Vec<(&str, &[&str])> = new
            .iter()
            .filter(|(hash, _)| !old.contains(**hash))
            .map(|(hash, files)| (*hash, files.as_slice()))
            .collect();
        let mut removed: Vec<&str> = old
            .iter()
            .filter(|hash| !new.contains_key(hash.as_str()))
            .map(String::as_str)
            .collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        if !removed.is_empty() {
            let served = served_hashes(source, package, &removed)?;
            removed.retain(|hash| !served.contains(*hash));
        }
        let what = format!(
            "`{}=={}` (index `{}`)",
            package.name, package.version, package.index
        );
        let old_file = |hash: &str| match names.get(hash) {
            Some(name) => format!("`{name}` sha256 {hash}"),
            None => format!("sha256 {hash}"),
        };
        let new_file = |(hash, files): &(&str, &[&str])| {
            let files: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            format!("{} sha256 {hash}", files.join(", "))
        };
        let new_list = || added.iter().map(new_file).collect::<Vec<_>>().join("; ");
        let old_list = || {
            removed
                .iter()
                .map(|h| old_file(h))
                .collect::<Vec<_>>()
                .join("; ")
        };
        match (removed.is_empty(), added.is_empty()) {
            (false, false) => {
                let message = format!(
                    "{what}: a file the existing lock pins was replaced on the index: the \
                     lock has {}, the index now serves {}",
                    old_list(),
                    new_list()
                );
                if lifted(&package.name) {
                    drift.warnings.push(format!(
                        "{message}; accepted because `--upgrade` lifted the pin"
                    ));
                } else {
                    drift.errors.push(format!(
                        "{message}. The same version must have the same files: ask the \
                         index's maintainers whether the change is intended; to accept the \
                         new file, run again with `--upgrade-package {}`",
                        package.name
                    ));
                }
            }
            (true, false) => drift.warnings.push(format!(
                "{what}: the lock now also pins {} (new on the index under a kept \
                 version, or newly installable on the target)",
                new_list()
            )),
            (false, true) => drift.warnings.push(format!(
                "{what}: the index no longer serves {}; its hash leaves the lock",
                old_list()
            )),
            (true, true) => {}
        }
    }
    Ok(drift)
}

/// The hashes among `wanted` that some file of the package's version still has on
/// its index (published, or computed for files that publish none).
fn served_hashes(
    source: &dyn PackageSource,
    package: &crate::resolve::ResolvedPackage,
    wanted: &[&str],
) -> Result<BTreeSet<String>, IndexError> {
    let mut served = BTreeSet::new();
    let Some(project) = source.project(&package.name)? else {
        return Ok(served);
    };
    let files: Vec<_> = project
        .files
        .iter()
        .filter(|f| f.version == package.version)
        .collect();
    for file in &files {
        if let Some(hash) = &file.sha256 {
            served.insert(hash.clone());
        }
    }
    // Files without a published hash are hashed only when a gone hash is unexplained.
    if wanted.iter().any(|h| !served.contains(*h)) {
        for file in files.iter().filter(|f| f.sha256.is_none()) {
            served.insert(source.sha256(file)?);
        }
    }
    Ok(served)
}

/// sha256 -> file name, from the `pylock.<profile>.toml` beside a lock (empty when
/// there is none or it does not read: the names only sharpen a message).
pub(super) fn pylock_names(path: &Path) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let Ok(text) = crate::input::text::read_text(path) else {
        return names;
    };
    let Ok(value) = text.parse::<toml::Table>() else {
        tracing::debug!(
            "`{}` does not read as TOML; file names unknown",
            path.display()
        );
        return names;
    };
    let packages = value.get("packages").and_then(toml::Value::as_array);
    for package in packages.into_iter().flatten() {
        let sdist = package.get("sdist").into_iter();
        let wheels = package
            .get("wheels")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten();
        for file in sdist.chain(wheels) {
            let name = file.get("name").and_then(toml::Value::as_str);
            let hash = file
                .get("hashes")
                .and_then(|h| h.get("sha256"))
                .and_then(toml::Value::as_str);
            if let (Some(name), Some(hash)) = (name, hash)
                && crate::index::validate::plain_filename(name).is_ok()
            {
                names.insert(hash.to_ascii_lowercase(), name.to_owned());
            }
        }
    }
    names
}
