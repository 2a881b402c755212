//! PEP 751 `pylock.<profile>.toml`: the same resolution in the standard lock format,
//! for installers that read it (`pip install -r` in pip 26, `uv pip install -r`,
//! `uv pip sync`). One environment per file, like the lock itself.

use serde::Serialize;

use crate::resolve::Resolution;

#[derive(Serialize)]
struct PyLock<'a> {
    #[serde(rename = "lock-version")]
    lock_version: &'static str,
    environments: Vec<String>,
    #[serde(rename = "requires-python")]
    requires_python: String,
    #[serde(rename = "created-by")]
    created_by: &'static str,
    packages: Vec<Package<'a>>,
}

#[derive(Serialize)]
struct Package<'a> {
    name: &'a str,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<Dependency<'a>>,
    /// A git pin (PEP 751 `[packages.vcs]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    vcs: Option<Vcs>,
    /// A local directory pin (PEP 751 `[packages.directory]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    directory: Option<Directory>,
    /// A direct reference's archive (PEP 751 `[packages.archive]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<Archive<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdist: Option<File<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wheels: Vec<File<'a>>,
}

#[derive(Serialize)]
struct Dependency<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct File<'a> {
    name: &'a str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    hashes: Hashes<'a>,
}

#[derive(Serialize)]
struct Archive<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    hashes: Hashes<'a>,
}

#[derive(Serialize)]
struct Directory {
    path: String,
    editable: bool,
}

/// `[packages.directory]` of the lock's `file:///abs/path` pin: the path itself.
fn directory(pin: &str) -> Option<Directory> {
    if !crate::lock::is_directory_pin(pin) {
        return None;
    }
    let path = url::Url::parse(pin).ok()?.to_file_path().ok()?;
    Some(Directory {
        path: path.display().to_string(),
        editable: false,
    })
}

#[derive(Serialize)]
struct Vcs {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    #[serde(rename = "commit-id")]
    commit_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subdirectory: Option<String>,
}

/// `[packages.vcs]` of the lock's `git+URL@<commit>[#subdirectory=...]` pin.
fn vcs(pin: &str) -> Option<Vcs> {
    let (without, fragment) = match pin.split_once('#') {
        Some((without, fragment)) => (without, Some(fragment)),
        None => (pin, None),
    };
    let (repository, commit) = crate::index::vcs::split_rev(without.strip_prefix("git+")?);
    Some(Vcs {
        kind: "git",
        url: repository.to_string(),
        commit_id: commit?.to_string(),
        subdirectory: fragment.and_then(|f| {
            f.split('&')
                .find_map(|part| part.strip_prefix("subdirectory="))
                .map(str::to_string)
        }),
    })
}

#[derive(Serialize)]
struct Hashes<'a> {
    sha256: &'a str,
}

fn file(f: &crate::resolve::LockedFile) -> File<'_> {
    File {
        name: &f.filename,
        // Userinfo is never there; a pre-signed URL's signature is masked.
        url: crate::secrets::url(&f.url),
        size: f.size,
        hashes: Hashes { sha256: &f.sha256 },
    }
}

/// `environment` is the PEP 508 marker that describes the target, `python_minor` its
/// Python's `X.Y` (the lock holds for every patch of it: `requires-python` is
/// `==X.Y.*`), `index_url` maps index names to their (credential-free) URLs.
pub fn render(
    resolution: &Resolution,
    environment: String,
    python_minor: &str,
    index_url: impl Fn(&str) -> String,
) -> Result<String, toml::ser::Error> {
    let packages = resolution
        .packages
        .values()
        .map(|p| {
            let mut dependencies: Vec<Dependency> = p
                .dependencies
                .iter()
                .filter(|d| resolution.packages.contains_key(&d.name) && d.name != p.name)
                .map(|d| Dependency {
                    name: d.name.as_ref(),
                })
                .collect();
            dependencies.sort_by(|a, b| a.name.cmp(b.name));
            dependencies.dedup_by(|a, b| a.name == b.name);
            if let Some(url) = &p.direct {
                return Package {
                    name: p.name.as_ref(),
                    version: p.version.to_string(),
                    index: None,
                    dependencies,
                    vcs: vcs(url),
                    directory: directory(url),
                    archive: p.files.first().map(|f| Archive {
                        url,
                        size: f.size,
                        hashes: Hashes { sha256: &f.sha256 },
                    }),
                    sdist: None,
                    wheels: Vec::new(),
                };
            }
            Package {
                name: p.name.as_ref(),
                version: p.version.to_string(),
                index: Some(index_url(&p.index)),
                dependencies,
                vcs: None,
                directory: None,
                archive: None,
                sdist: p.files.iter().find(|f| !f.is_wheel).map(file),
                wheels: p.files.iter().filter(|f| f.is_wheel).map(file).collect(),
            }
        })
        .collect();
    toml::to_string(&PyLock {
        lock_version: "1.0",
        environments: vec![environment],
        requires_python: format!("=={python_minor}.*"),
        created_by: "dockgen",
        packages,
    })
}
