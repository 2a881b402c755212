//! Rendering: a lock and its profile become a build plan (a Dockerfile, a
//! `.dockerignore`, the lock as the build reads it, and dockgen's helper scripts with
//! their JSON inputs), and several profiles become a build matrix.
//!
//! Every decision is made here, in [`plan`], into plain serializable values; the
//! templates in `templates/` only lay those values out. Everything a profile can put
//! into a Dockerfile was validated when the profile loaded (names, images, packages)
//! and is quoted here where it lands in an instruction (environment values), so no
//! profile value can add an instruction.

mod layers;
pub mod matrix;
pub mod scripts;
mod templates;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use pep508_rs::PackageName;

use crate::input::profile::{Accelerator, LibcFamily, Profile};
use crate::lock::LockFile;

pub use layers::{LaidLayer, Layer, laid, layers, unchanged_packages};

/// How locked files reach the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// From indexes over the network, inside the build: the lock's own index lines,
    /// or these (credential-free) URLs instead.
    Index { index_urls: Vec<Url> },
    /// From a `wheels/` directory in the build context that holds every locked file;
    /// the build uses no index at all.
    Wheelhouse,
    /// From `dockgen build`'s package server on the host's loopback, through a BuildKit
    /// cache mount (`fetch.py`): the context holds only the list of these files, so it
    /// changes only where the lock changed, and a file already in the build cache is not
    /// sent again. The build uses no index at all.
    Served {
        files: Vec<ServedFile>,
        /// The install steps of the previous verified build, which the new layout keeps
        /// where they are unchanged (see [`layers`]); empty for a fresh layout.
        previous: Vec<LaidLayer>,
    },
}

/// A locked file as the package server serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    pub package: PackageName,
    pub sha256: String,
    pub filename: String,
    pub size: u64,
}

/// The package-store files of a lock's direct references (an archive pin's archive, a
/// git pin's exported commit, see `build::direct`), by package: their sha256. The
/// lock the build reads pins each as `name==VERSION --hash=sha256:<hash>`, so pip
/// installs it from the delivered files like any other pin.
pub type DirectPins = BTreeMap<PackageName, String>;

/// One file of the rendered plan, relative to the plan's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: String,
    pub contents: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "the lock was made for profile `{found}`, not `{expected}`: pass `--lock` for the \
         right one, or re-run `dockgen lock --profile {expected}`"
    )]
    WrongProfile { expected: String, found: String },
    #[error(
        "the lock does not say which profile it was made for (no dockgen header); re-run `dockgen lock --profile {0}`"
    )]
    NoHeader(String),
    #[error(
        "index URL `{0}` carries credentials; a rendered build must not: serve the index without them (`dockgen build` does) or use `--wheelhouse`"
    )]
    Credentials(String),
    #[error("the lock has no packages; nothing to build")]
    Empty,
    #[error(
        "the lock pins `{name} @ {url}`, a direct reference: a build that fetches from \
         indexes cannot install it (no index has its file); use `dockgen build`, or \
         `dockgen render --wheelhouse`, which puts its file into `wheels/`"
    )]
    DirectReference { name: String, url: String },
    #[error(
        "the lock pins `{name} @ {url}`, a direct reference whose file is not in the \
         package store; use `dockgen build`, or `dockgen render --wheelhouse`"
    )]
    DirectNotStored { name: String, url: String },
    #[error("cannot render `{template}`: {message}")]
    Template { template: String, message: String },
}

/// Everything the Dockerfile template needs, decided.
#[derive(Debug, Serialize)]
pub struct DockerfileContext {
    pub profile: String,
    pub target: String,
    pub rerun: String,
    pub package_count: usize,
    pub lock_sha256: String,
    pub delivery_note: String,
    /// `index`, `wheelhouse` or `served`: how packages reach the wheel-builder.
    pub delivery: &'static str,
    pub files_cache_id: String,
    /// Served, and every file a wheel: the wheel-builder copies the fetched wheels
    /// (hash-checked by `fetch.py`) instead of running `pip wheel` over them, which
    /// builds nothing then and costs a pip start (about ten seconds under emulation).
    pub wheels_only: bool,
    /// The final stage's install steps, in order.
    pub layers: Vec<Layer>,
    pub runtime_image: String,
    pub builder_image: String,
    pub runtime_packages: Vec<String>,
    pub builder_packages: Vec<String>,
    pub apt_cache_id: String,
    pub pip_cache_id: String,
    /// The target interpreter's command, `python3.X` (present on python images and
    /// on distributions that package several Pythons alike).
    pub python: String,
    /// The `--mount` option of a final-stage step that runs pip: builder-base's `pip`
    /// package, alone, at `<pip_dir>/pip` (the final environment is made without pip).
    pub pip_mount: String,
    pub pip_dir: &'static str,
    pub build_env: Vec<EnvVar>,
    pub runtime_env: Vec<EnvVar>,
    pub venv: &'static str,
    pub user: &'static str,
    pub uid: u32,
    pub artifacts_dir: &'static str,
}

/// An environment variable as it lands in an `ENV` instruction: the value quoted so
/// that Dockerfile parsing takes it literally (no `$` expansion, no line breaks).
#[derive(Debug, Serialize)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
}

/// What `check_target.py` compares the build's interpreter with.
#[derive(Debug, Serialize)]
struct TargetJson<'a> {
    profile: &'a str,
    machine: &'a str,
    python: String,
    libc: (&'static str, String),
    lock: &'static str,
}

/// What `verify.py` checks in the built image.
#[derive(Debug, Serialize)]
struct VerifyJson<'a> {
    profile: &'a str,
    lock: &'static str,
    imports: &'a [String],
    assertions: Vec<VerifyAssertion<'a>>,
    skip_imports: Vec<String>,
    /// Locked packages installed by steps an earlier verified build made, which
    /// nothing changed reaches: their imports are not tried again (see
    /// [`unchanged_packages`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unchanged: Vec<String>,
}

#[derive(Debug, Serialize)]
struct VerifyAssertion<'a> {
    name: &'a str,
    check: &'a str,
    gpu_only: bool,
}

const VENV: &str = "/opt/venv";
/// Where final-stage steps that run pip mount it ([`DockerfileContext::pip_mount`]).
const PIP_DIR: &str = "/opt/dockgen-pip";
const ARTIFACTS: &str = "/opt/dependency_artifacts";

/// Render the plan for `profile` from the lock text. `rerun` is the command that
/// regenerates it, shown in the Dockerfile's header.
pub fn plan(
    profile: &Profile,
    lock_text: &str,
    lock: &LockFile,
    delivery: &Delivery,
    direct: &DirectPins,
    rerun: &str,
) -> Result<Vec<RenderedFile>, RenderError> {
    check_lock(profile, lock_text, lock)?;
    check_direct(lock, delivery, direct)?;
    if let Delivery::Index { index_urls } = delivery
        && let Some(url) = index_urls.iter().find(|u| carries_secret(u))
    {
        return Err(RenderError::Credentials(crate::secrets::url(url)));
    }
    // Without `--index-url`, the build reads the lock's own index options: a lock that
    // dockgen did not write may carry credentials in them.
    if let Delivery::Index { index_urls } = delivery
        && index_urls.is_empty()
        && let Some(url) = lock_text.lines().find_map(credentialed_option)
    {
        return Err(RenderError::Credentials(url));
    }

    let build_lock = build_lock(&pin_direct(lock_text, lock, direct), delivery);
    let lock_sha256 = lock_sha256(lock_text);
    let python = format!(
        "python{}.{}",
        profile.python.release()[0],
        profile.python.release().get(1).unwrap_or(&0)
    );
    let platform_slug = profile.platform.to_string().replace('/', "-");
    let context = DockerfileContext {
        profile: profile.name.clone(),
        target: profile.target_summary(),
        rerun: rerun.to_string(),
        package_count: lock.pins.len(),
        lock_sha256: lock_sha256.clone(),
        delivery_note: match delivery {
            Delivery::Wheelhouse => "from the `wheels/` directory of the context, no index.".into(),
            Delivery::Index { .. } => "from the lock's indexes, checked against its hashes.".into(),
            Delivery::Served { .. } => {
                "from `dockgen build`'s package server (`dockgen/packages.txt`), no index.".into()
            }
        },
        delivery: match delivery {
            Delivery::Index { .. } => "index",
            Delivery::Wheelhouse => "wheelhouse",
            Delivery::Served { .. } => "served",
        },
        files_cache_id: "dockgen-files-sha256".into(),
        wheels_only: match delivery {
            Delivery::Served { files, .. } => files.iter().all(|f| f.filename.ends_with(".whl")),
            _ => false,
        },
        layers: layers(delivery),
        runtime_image: profile.images.runtime.reference.clone(),
        builder_image: profile.images.builder.reference.clone(),
        runtime_packages: profile.images.runtime.system_packages.clone(),
        builder_packages: profile.images.builder.system_packages.clone(),
        apt_cache_id: format!("dockgen-apt-{platform_slug}"),
        pip_cache_id: format!("dockgen-pip-{platform_slug}-{python}"),
        pip_mount: format!(
            "--mount=type=bind,from=builder-base,\
             source=/opt/wheel-builder/lib/{python}/site-packages/pip,target={PIP_DIR}/pip"
        ),
        pip_dir: PIP_DIR,
        python,
        build_env: build_env(profile),
        runtime_env: profile.env.iter().map(|(k, v)| env_var(k, v)).collect(),
        venv: VENV,
        user: "app",
        uid: 10001,
        artifacts_dir: ARTIFACTS,
    };

    let target = TargetJson {
        profile: &profile.name,
        machine: profile.platform.machine(),
        python: profile.python.to_string(),
        libc: match profile.libc.family {
            LibcFamily::Glibc => (
                "glibc",
                format!("{}.{}", profile.libc.version.0, profile.libc.version.1),
            ),
            LibcFamily::Musl => (
                "musl",
                format!("{}.{}", profile.libc.version.0, profile.libc.version.1),
            ),
        },
        lock: "requirements.lock",
    };
    let (imports, absent) = applicable_imports(profile, lock);
    let verify = VerifyJson {
        profile: &profile.name,
        lock: "/opt/dockgen/requirements.lock",
        imports: &imports,
        assertions: profile
            .verify
            .assertions
            .iter()
            .filter(|a| !mentions_any(&a.check, &absent))
            .map(|a| VerifyAssertion {
                name: &a.name,
                check: &a.check,
                gpu_only: a.gpu_only,
            })
            .collect(),
        skip_imports: Vec::new(),
        unchanged: match delivery {
            Delivery::Served { files, .. } => {
                unchanged_packages(&laid(&context.layers, files), lock)
            }
            _ => Vec::new(),
        },
    };

    let mut files = vec![
        RenderedFile {
            path: "Dockerfile".into(),
            contents: templates::render("Dockerfile", &context)?,
        },
        RenderedFile {
            path: ".dockerignore".into(),
            contents: templates::render("dockerignore", &context)?,
        },
        RenderedFile {
            path: "requirements.lock".into(),
            contents: build_lock,
        },
        RenderedFile {
            path: "dockgen/target.json".into(),
            contents: json(&target),
        },
        RenderedFile {
            path: "dockgen/verify.json".into(),
            contents: json(&verify),
        },
        RenderedFile {
            path: "dockgen/spdx-ids.txt".into(),
            contents: crate::audit::sbom::spdx_ids_file(),
        },
        RenderedFile {
            path: "dockgen/layers.json".into(),
            contents: json(&serde_json::json!({ "layers": &context.layers })),
        },
    ];
    if let Delivery::Served { files: served, .. } = delivery {
        let mut list = String::new();
        for file in served {
            list.push_str(&format!("{}  {}\n", file.sha256, file.filename));
        }
        files.push(RenderedFile {
            path: "dockgen/packages.txt".into(),
            contents: list,
        });
    }
    for (name, contents) in scripts::SCRIPTS {
        files.push(RenderedFile {
            path: format!("dockgen/{name}"),
            contents: contents.to_string(),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The profile's `verify.imports` whose distribution the lock has (a profile says
/// "torch must import"; a service without torch must not fail on it), and the root
/// modules of the ones left out.
fn applicable_imports(profile: &Profile, lock: &LockFile) -> (Vec<String>, Vec<String>) {
    let locked = |module: &str| {
        let root = module.split('.').next().unwrap_or(module);
        PackageName::from_str(root).is_ok_and(|name| lock.pins.contains_key(&name))
    };
    let (kept, absent): (Vec<String>, Vec<String>) = profile
        .verify
        .imports
        .iter()
        .cloned()
        .partition(|module| locked(module));
    let absent = absent
        .iter()
        .map(|module| module.split('.').next().unwrap_or(module).to_string())
        .collect();
    (kept, absent)
}

/// Whether a Python expression names one of `modules` (as an identifier).
fn mentions_any(expression: &str, modules: &[String]) -> bool {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| modules.iter().any(|m| m == word))
}

/// The digest of a lock's text, as the plan and the build report name it.
pub fn lock_sha256(lock_text: &str) -> String {
    hex::encode(Sha256::digest(lock_text.as_bytes()))
}

/// Whether a plan can be rendered from this lock for `profile`: a dockgen lock, made
/// for that profile, with packages. [`plan`] checks it too; a caller that does slow
/// work before rendering checks it first.
pub fn check_lock(profile: &Profile, lock_text: &str, lock: &LockFile) -> Result<(), RenderError> {
    match lock_profile(lock_text) {
        None => return Err(RenderError::NoHeader(profile.name.clone())),
        Some(found) if found != profile.name => {
            return Err(RenderError::WrongProfile {
                expected: profile.name.clone(),
                found: found.to_string(),
            });
        }
        Some(_) => {}
    }
    if lock.pins.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(())
}

/// Whether the lock's direct references can reach this build: only as files the
/// build is handed (a wheelhouse, the package server), each in `direct`.
fn check_direct(
    lock: &LockFile,
    delivery: &Delivery,
    direct: &DirectPins,
) -> Result<(), RenderError> {
    for (package, pin) in &lock.pins {
        let Some(url) = &pin.url else { continue };
        let (name, url) = (pin.name.clone(), crate::secrets::url_text(url));
        if matches!(delivery, Delivery::Index { .. }) {
            return Err(RenderError::DirectReference { name, url });
        }
        if !direct.contains_key(package) {
            return Err(RenderError::DirectNotStored { name, url });
        }
    }
    Ok(())
}

/// The lock with each direct reference in `direct` pinned by its store file:
/// `name==VERSION --hash=sha256:<hash>` and a `# from URL` line in place of the pin
/// (and of a git pin's `# version` line), without the header's note on installing
/// git pins (there are none left); every other line as it is.
fn pin_direct(lock_text: &str, lock: &LockFile, direct: &DirectPins) -> String {
    let mut replaced: BTreeMap<usize, String> = BTreeMap::new();
    for (name, pin) in &lock.pins {
        let (Some(url), Some(sha256)) = (&pin.url, direct.get(name)) else {
            continue;
        };
        replaced.insert(
            pin.line,
            format!(
                "{}=={} \\\n    --hash=sha256:{sha256}\n    # from {}\n",
                pin.name,
                pin.version,
                crate::secrets::url_text(url)
            ),
        );
    }
    let mut out = String::with_capacity(lock_text.len());
    let mut lines = lock_text.lines().enumerate().peekable();
    let git_left = lock.pins.iter().any(|(name, pin)| {
        pin.url
            .as_deref()
            .is_some_and(crate::lock::is_source_tree_pin)
            && !direct.contains_key(name)
    });
    while let Some((index, line)) = lines.next() {
        if !git_left && crate::lock::SOURCE_TREE_PINS_NOTE.contains(&line) {
            continue;
        }
        let Some(pinned) = replaced.get(&(index + 1)) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        out.push_str(pinned);
        // The rest of the pin: its continuation lines, and a git pin's version line.
        let mut continued = line.trim_end().ends_with('\\');
        while continued && let Some((_, next)) = lines.next() {
            continued = next.trim_end().ends_with('\\');
        }
        lines.next_if(|(_, next)| next.trim_start().starts_with("# version "));
    }
    out
}

/// The profile a dockgen lock names in its header.
pub fn lock_profile(lock_text: &str) -> Option<&str> {
    lock_text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix("# This file is generated by dockgen for profile `")?;
            rest.split('`').next()
        })
}

/// The URL of an index or find-links option line, shown redacted, when it carries a
/// secret (userinfo, a token in its query).
fn credentialed_option(line: &str) -> Option<String> {
    let (_, value) = crate::lock::source_option(line)?;
    let url = url::Url::parse(value).ok()?;
    carries_secret(&url).then(|| crate::secrets::url(&url))
}

/// Whether `url` is shown other than it is: it holds userinfo, a token in its query or
/// a known secret.
fn carries_secret(url: &url::Url) -> bool {
    crate::secrets::url(url) != url.as_str()
}

/// The lock as the build reads it: the same pins and hashes, with the index options
/// replaced by the delivery's (no index at all for a wheelhouse).
fn build_lock(lock_text: &str, delivery: &Delivery) -> String {
    let is_option = |line: &str| {
        [
            "--index-url",
            "--extra-index-url",
            "--find-links",
            "--no-index",
            "-i ",
            "-f ",
        ]
        .iter()
        .any(|option| line.starts_with(option))
    };
    let options: Vec<String> = match delivery {
        Delivery::Wheelhouse | Delivery::Served { .. } => {
            vec!["--no-index".into(), "--find-links /wheelhouse".into()]
        }
        Delivery::Index { index_urls } if index_urls.is_empty() => lock_text
            .lines()
            .filter(|l| is_option(l))
            .map(String::from)
            .collect(),
        Delivery::Index { index_urls } => index_urls
            .iter()
            .enumerate()
            .map(|(n, url)| {
                format!(
                    "{} {url}",
                    if n == 0 {
                        "--index-url"
                    } else {
                        "--extra-index-url"
                    }
                )
            })
            .collect(),
    };
    let mut out = String::new();
    let mut inserted = false;
    for line in lock_text.lines() {
        if is_option(line) {
            continue;
        }
        if !inserted && !line.starts_with('#') {
            for option in &options {
                out.push_str(option);
                out.push('\n');
            }
            inserted = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Compiler settings for the wheel-builder stage from the accelerator, unless the
/// profile's `env` sets them itself.
fn build_env(profile: &Profile) -> Vec<EnvVar> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    match &profile.accelerator {
        Accelerator::Cpu => {}
        Accelerator::Cuda {
            compute_capabilities,
            ..
        } => {
            vars.insert("TORCH_CUDA_ARCH_LIST", compute_capabilities.join(";"));
        }
        Accelerator::Rocm { gfx_targets, .. } => {
            vars.insert("PYTORCH_ROCM_ARCH", gfx_targets.join(";"));
        }
    }
    for key in ["TORCH_CUDA_ARCH_LIST", "PYTORCH_ROCM_ARCH"] {
        if let Some(value) = profile.env.get(key) {
            vars.insert(key, value.clone());
        }
    }
    vars.into_iter().map(|(k, v)| env_var(k, &v)).collect()
}

/// `ENV` value quoting: double quotes, with `\`, `"` and `$` escaped, so the
/// Dockerfile parser yields the value byte for byte. Control characters never get
/// here (profiles reject them).
fn env_var(key: &str, value: &str) -> EnvVar {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    EnvVar {
        key: key.to_string(),
        value: quoted,
    }
}

fn json(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
