//! The final stage's install steps (`dockgen/layers.json`), an image layer each.
//!
//! BuildKit keys each step on the wheels it mounts and on the steps before it: a lock
//! change re-installs the first step whose wheels changed and every step after it, and
//! the image export writes those layers again. So:
//!
//! - A fresh layout (generation 0) gives every package whose files add up to
//!   [`OWN_LAYER_BYTES`] a step of its own, by name, then one step for the rest.
//! - Given the steps of the previous verified build ([`LaidLayer`], from its report),
//!   the longest run of leading steps whose packages and files are all unchanged is
//!   kept as it was, and only the packages left are laid out after it, as the next
//!   generation: adding a requirement adds a step instead of re-installing the rest.
//!   Past [`MAX_STEPS`] steps the layout starts afresh.
//!
//! The generations also bound what a rebuild's verify must import again
//! ([`unchanged_packages`]).

use std::collections::{BTreeMap, BTreeSet};

use std::str::FromStr;

use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Delivery, ServedFile};
use crate::lock::LockFile;

/// A package whose files add up to this much gets an install step (an image layer) of
/// its own, so that changing any other package does not install it again.
pub const OWN_LAYER_BYTES: u64 = 10 * 1000 * 1000;

/// At most this many install steps: a layout that would have more starts afresh.
pub const MAX_STEPS: usize = 12;

/// One install step of the final stage, as `layers.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// The directory under `/wheels` of the wheel-builder, and the step's label.
    pub name: String,
    /// The packages it installs; `None`: every package no other layer names.
    pub packages: Option<Vec<String>>,
    /// The layout that made the step: 0 for a fresh one, then one more for each rebuild
    /// that laid out new steps after the kept ones.
    #[serde(skip_serializing_if = "is_zero")]
    pub generation: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An install step of a build, as its report records it for the next build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaidLayer {
    pub name: String,
    /// As in `layers.json`.
    pub packages: Option<Vec<String>>,
    #[serde(default)]
    pub generation: u32,
    /// The packages it installed (normalized names), and the sha256 of their files.
    pub installs: Vec<String>,
    pub files: String,
}

/// The install steps for `delivery`: only the served delivery knows file sizes (and
/// has a previous build to follow); the others install in one step.
pub fn layers(delivery: &Delivery) -> Vec<Layer> {
    match delivery {
        Delivery::Served { files, previous } => plan(&by_package(files), previous),
        _ => vec![Layer {
            name: "rest".into(),
            packages: None,
            generation: 0,
        }],
    }
}

/// The steps of `layers` with what each installs, for the build report.
pub fn laid(layers: &[Layer], files: &[ServedFile]) -> Vec<LaidLayer> {
    let table = by_package(files);
    let named: BTreeSet<&str> = layers
        .iter()
        .flat_map(|l| l.packages.iter().flatten())
        .map(String::as_str)
        .collect();
    layers
        .iter()
        .map(|layer| {
            let installs: Vec<String> = match &layer.packages {
                Some(packages) => packages.clone(),
                None => table
                    .keys()
                    .filter(|name| !named.contains(name.as_str()))
                    .cloned()
                    .collect(),
            };
            LaidLayer {
                name: layer.name.clone(),
                packages: layer.packages.clone(),
                generation: layer.generation,
                files: files_digest(&installs, &table).unwrap_or_default(),
                installs,
            }
        })
        .collect()
}

/// The locked packages a verify need not import again: those installed by steps of
/// an older generation than the newest, unless they require (directly or not) a
/// package of the newest generation. A fresh layout has one generation: none.
pub fn unchanged_packages(laid: &[LaidLayer], lock: &LockFile) -> Vec<String> {
    let Some(newest) = laid.iter().map(|l| l.generation).max() else {
        return Vec::new();
    };
    let mut changed: BTreeSet<String> = laid
        .iter()
        .filter(|l| l.generation == newest)
        .flat_map(|l| l.installs.iter().cloned())
        .collect();
    // Whatever requires a changed package may import it: it is checked again too.
    let mut queue: Vec<String> = changed.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        let Some(pin) = PackageName::from_str(&name)
            .ok()
            .and_then(|name| lock.pins.get(&name))
        else {
            continue;
        };
        for parent in pin.via.iter().filter_map(|v| v.package()) {
            if changed.insert(parent.name.to_string()) {
                queue.push(parent.name.to_string());
            }
        }
    }
    laid.iter()
        .filter(|l| l.generation < newest)
        .flat_map(|l| l.installs.iter())
        .filter(|name| !changed.contains(*name))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Per package (normalized name): the bytes of its files and their sha256s, sorted.
fn by_package(files: &[ServedFile]) -> BTreeMap<String, (u64, Vec<&str>)> {
    let mut table: BTreeMap<String, (u64, Vec<&str>)> = BTreeMap::new();
    for file in files {
        let entry = table.entry(file.package.to_string()).or_default();
        entry.0 += file.size;
        entry.1.push(&file.sha256);
    }
    for (_, hashes) in table.values_mut() {
        hashes.sort_unstable();
    }
    table
}

/// The sha256 of `packages`' files; `None` when one of them has none (not locked).
fn files_digest(packages: &[String], table: &BTreeMap<String, (u64, Vec<&str>)>) -> Option<String> {
    let mut digest = Sha256::new();
    for name in packages {
        let (_, hashes) = table.get(name)?;
        digest.update(name.as_bytes());
        digest.update(b"\n");
        for hash in hashes {
            digest.update(hash.as_bytes());
            digest.update(b"\n");
        }
    }
    Some(hex::encode(digest.finalize()))
}

fn plan(table: &BTreeMap<String, (u64, Vec<&str>)>, previous: &[LaidLayer]) -> Vec<Layer> {
    let mut kept = Vec::new();
    let mut covered = BTreeSet::new();
    for step in previous {
        let unchanged = !step.installs.is_empty()
            && files_digest(&step.installs, table).as_deref() == Some(step.files.as_str());
        if !unchanged {
            break;
        }
        // A kept step for "every package no other step names" (`rest`) still installs
        // what it did: every step laid out after it names its packages.
        kept.push(Layer {
            name: step.name.clone(),
            packages: step.packages.clone(),
            generation: step.generation,
        });
        covered.extend(step.installs.iter().map(String::as_str));
    }
    if kept.is_empty() {
        return fresh(&all(table), 0);
    }
    let left: BTreeMap<&str, u64> = all(table)
        .into_iter()
        .filter(|(name, _)| !covered.contains(name))
        .collect();
    if left.is_empty() {
        return kept;
    }
    let generation = previous.iter().map(|l| l.generation).max().unwrap_or(0) + 1;
    kept.extend(fresh(&left, generation));
    if kept.len() > MAX_STEPS {
        return fresh(&all(table), 0);
    }
    kept
}

fn all<'a>(table: &'a BTreeMap<String, (u64, Vec<&str>)>) -> BTreeMap<&'a str, u64> {
    table
        .iter()
        .map(|(name, (size, _))| (name.as_str(), *size))
        .collect()
}

/// A step per package of at least [`OWN_LAYER_BYTES`], then one for the others: in a
/// fresh layout (generation 0) `rest`, installing every package no other step names;
/// in a later generation `rest-<generation>`, naming its packages.
fn fresh(sizes: &BTreeMap<&str, u64>, generation: u32) -> Vec<Layer> {
    let (big, small): (Vec<&str>, Vec<&str>) = sizes
        .keys()
        .copied()
        .partition(|name| sizes[name] >= OWN_LAYER_BYTES);
    let mut layers: Vec<Layer> = big
        .iter()
        .map(|name| Layer {
            name: format!("pkg-{name}"),
            packages: Some(vec![name.to_string()]),
            generation,
        })
        .collect();
    if !small.is_empty() {
        layers.push(if generation == 0 {
            Layer {
                name: "rest".into(),
                packages: None,
                generation,
            }
        } else {
            Layer {
                name: format!("rest-{generation}"),
                packages: Some(small.iter().map(|s| s.to_string()).collect()),
                generation,
            }
        });
    }
    layers
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use pep508_rs::PackageName;

    use super::*;

    fn file(package: &str, sha: char, size: u64) -> ServedFile {
        ServedFile {
            package: PackageName::from_str(package).expect("name"),
            sha256: sha.to_string().repeat(64),
            filename: format!("{package}-1.0-py3-none-any.whl"),
            size,
        }
    }

    fn served(files: Vec<ServedFile>, previous: Vec<LaidLayer>) -> (Vec<Layer>, Vec<LaidLayer>) {
        let delivery = Delivery::Served { files, previous };
        let Delivery::Served { files, .. } = &delivery else {
            unreachable!()
        };
        let layers = layers(&delivery);
        let laid = laid(&layers, files);
        (layers, laid)
    }

    fn summary(layers: &[Layer]) -> Vec<String> {
        layers
            .iter()
            .map(|l| {
                format!(
                    "{} g{} {}",
                    l.name,
                    l.generation,
                    l.packages
                        .as_ref()
                        .map_or("(the rest)".to_string(), |p| p.join(","))
                )
            })
            .collect()
    }

    #[test]
    fn a_rebuild_keeps_unchanged_steps_and_lays_out_the_rest_after_them() {
        let big = 20_000_000;
        let base = vec![
            file("torch", 'a', big),
            file("numpy", 'b', big),
            file("six", 'c', 10),
            file("idna", 'd', 10),
        ];
        let (first, laid_first) = served(base.clone(), Vec::new());
        assert_eq!(
            summary(&first),
            [
                "pkg-numpy g0 numpy",
                "pkg-torch g0 torch",
                "rest g0 (the rest)"
            ]
        );
        assert_eq!(laid_first[2].installs, ["idna", "six"]);

        // The same files: the same steps, so the same layers.json.
        let (again, _) = served(base.clone(), laid_first.clone());
        assert_eq!(again, first);

        // One package more: a step after the kept ones.
        let mut added = base.clone();
        added.push(file("tenacity", 'e', 10));
        let (second, laid_second) = served(added.clone(), laid_first.clone());
        assert_eq!(
            summary(&second),
            [
                "pkg-numpy g0 numpy",
                "pkg-torch g0 torch",
                "rest g0 (the rest)",
                "rest-1 g1 tenacity"
            ]
        );
        assert_eq!(laid_second[2].installs, ["idna", "six"]);

        // torch changed: numpy's step is kept, the rest laid out again after it.
        let mut bumped = added.clone();
        bumped[0] = file("torch", 'f', big);
        let (third, _) = served(bumped, laid_second.clone());
        assert_eq!(
            summary(&third),
            [
                "pkg-numpy g0 numpy",
                "pkg-torch g2 torch",
                "rest-2 g2 idna,six,tenacity"
            ]
        );

        // Nothing to keep (numpy, the first step, removed): a fresh layout.
        let without_numpy: Vec<ServedFile> = added
            .iter()
            .filter(|f| f.package.as_ref() != "numpy")
            .cloned()
            .collect();
        let (fourth, _) = served(without_numpy, laid_second);
        assert_eq!(
            summary(&fourth),
            ["pkg-torch g0 torch", "rest g0 (the rest)"]
        );
    }

    #[test]
    fn too_many_steps_start_afresh() {
        let mut files = vec![file("a0", '0', 10)];
        let (mut layers, mut laid_now) = served(files.clone(), Vec::new());
        for n in 1..MAX_STEPS {
            files.push(file(&format!("a{n}"), 'x', 10));
            (layers, laid_now) = served(files.clone(), laid_now);
        }
        assert_eq!(layers.len(), MAX_STEPS);
        files.push(file("last", 'y', 10));
        let (layers, _) = served(files, laid_now);
        assert_eq!(summary(&layers), ["rest g0 (the rest)"]);
    }

    const LOCK: &str = "\
--index-url https://pypi.org/simple

fastapi==0.1 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
    # via -r requirements.in
pydantic==2.0 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
    # via fastapi
six==1.0 \\
    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
    # via -r requirements.in
tenacity==9.0 \\
    --hash=sha256:4444444444444444444444444444444444444444444444444444444444444444
    # via -r requirements.in
";

    fn step(name: &str, generation: u32, installs: &[&str]) -> LaidLayer {
        LaidLayer {
            name: name.into(),
            packages: None,
            generation,
            installs: installs.iter().map(|s| s.to_string()).collect(),
            files: String::new(),
        }
    }

    #[test]
    fn a_verify_imports_again_the_newest_steps_and_what_requires_them() {
        let lock = crate::lock::parse(LOCK, Path::new("locks/x.txt")).expect("lock");
        let fresh = [step("rest", 0, &["fastapi", "pydantic", "six"])];
        assert_eq!(unchanged_packages(&fresh, &lock), Vec::<String>::new());
        let added = [
            step("rest", 0, &["fastapi", "pydantic", "six"]),
            step("rest-1", 1, &["tenacity"]),
        ];
        assert_eq!(
            unchanged_packages(&added, &lock),
            ["fastapi", "pydantic", "six"]
        );
        // pydantic changed: fastapi requires it, so it is imported again too.
        let bumped = [
            step("rest", 0, &["fastapi", "six"]),
            step("rest-1", 1, &["pydantic"]),
        ];
        assert_eq!(unchanged_packages(&bumped, &lock), ["six"]);
    }
}
