//! Target profiles: YAML files that fix everything a lock and an image depend on.
//!
//! Loading runs in three steps. Each file is parsed on its own into `Raw*` structs that
//! reject unknown keys (so a typo is reported with its file, line and column, before any
//! merging hides where it came from). The `extends:` chain is then merged as plain YAML
//! values: mappings key by key with the child winning, lists and scalars replaced whole.
//! Finally the merged raw profile is validated into [`Profile`]. Validation is strict on
//! purpose: profile values end up inside Dockerfiles, so anything that could break out
//! of a line or a shell word is refused here rather than escaped later.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use serde::{Deserialize, Serialize};
use url::Url;
use yaml_serde::Value;

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub platform: Platform,
    /// Full interpreter version of the target, e.g. `3.10.12`.
    pub python: Version,
    pub libc: Libc,
    pub accelerator: Accelerator,
    /// Packages that must resolve to an accelerated build on a GPU profile.
    pub accelerated_packages: Vec<PackageName>,
    /// In priority order: the first index that has a package wins.
    pub indexes: Vec<IndexSpec>,
    pub images: Images,
    pub env: BTreeMap<String, String>,
    pub verify: Verify,
    /// Requirements a package's metadata build needs beyond what its
    /// `build-system.requires` declares (e.g. `flash-attn: [torch]`), by package.
    pub extra_build_dependencies: BTreeMap<PackageName, Vec<Requirement>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "linux/amd64")]
    LinuxAmd64,
    #[serde(rename = "linux/arm64")]
    LinuxArm64,
}

impl Platform {
    /// The `platform_machine` / wheel-tag spelling of the architecture.
    pub fn machine(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64",
            Platform::LinuxArm64 => "aarch64",
        }
    }
}

impl Profile {
    /// One line naming the target, e.g. `linux/amd64, CPython 3.11.13, glibc 2.36, cpu`:
    /// the lock header's and the Dockerfile's.
    pub fn target_summary(&self) -> String {
        format!(
            "{}, CPython {}, {}, {}",
            self.platform, self.python, self.libc, self.accelerator
        )
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::LinuxAmd64 => "linux/amd64",
            Platform::LinuxArm64 => "linux/arm64",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LibcFamily {
    Glibc,
    Musl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Libc {
    pub family: LibcFamily,
    /// (major, minor), e.g. (2, 35).
    pub version: (u16, u16),
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family {
            LibcFamily::Glibc => "glibc",
            LibcFamily::Musl => "musl",
        };
        write!(f, "{family} {}.{}", self.version.0, self.version.1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Accelerator {
    Cpu,
    Cuda {
        version: String,
        compute_capabilities: Vec<String>,
    },
    Rocm {
        version: String,
        gfx_targets: Vec<String>,
    },
}

impl Accelerator {
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Accelerator::Cpu)
    }
}

impl fmt::Display for Accelerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Accelerator::Cpu => f.write_str("cpu"),
            Accelerator::Cuda {
                version,
                compute_capabilities,
            } => write!(f, "cuda {version} (sm {})", compute_capabilities.join(",")),
            Accelerator::Rocm {
                version,
                gfx_targets,
            } => write!(f, "rocm {version} ({})", gfx_targets.join(",")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexSpec {
    pub name: String,
    pub url: Url,
    /// When set, this index is the only source of these packages and serves nothing else.
    pub packages: Option<Vec<PackageName>>,
    pub exclude_newer: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Images {
    pub builder: Image,
    pub runtime: Image,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub reference: String,
    pub system_packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Verify {
    /// Modules imported in the built image, in order, before the assertions run.
    pub imports: Vec<String>,
    pub assertions: Vec<Assertion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assertion {
    pub name: String,
    /// A Python expression that must be true in the built image (evaluated after
    /// `imports`). Guaranteed single-line and free of control characters.
    pub check: String,
    /// Run only where a GPU is present; reported as skipped elsewhere.
    pub gpu_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Yaml { file: String, message: String },
    #[error(
        "unknown profile `{name}`; built-in profiles are: {available} \
         (a path to a profile file must contain `/` or end in `.yaml`)"
    )]
    UnknownBuiltin { name: String, available: String },
    #[error("`extends:` cycle: {chain}; remove one of these `extends:` lines")]
    Cycle { chain: String },
    #[error("{file}: `extends: {spec}`: a built-in profile can only extend another built-in")]
    BuiltinExtendsPath { file: String, spec: String },
    #[error("{file}: `{field}`: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
}

/// Built-in profiles, compiled into the binary. Sorted by name.
const BUILTINS: &[(&str, &str)] = &[
    ("cpu-x86_64", include_str!("../../profiles/cpu-x86_64.yaml")),
    (
        "cuda12-x86_64",
        include_str!("../../profiles/cuda12-x86_64.yaml"),
    ),
    (
        "jetson-orin",
        include_str!("../../profiles/jetson-orin.yaml"),
    ),
    (
        "rocm6-x86_64",
        include_str!("../../profiles/rocm6-x86_64.yaml"),
    ),
];

const BUILTIN_NAMES: &[&str] = &["cpu-x86_64", "cuda12-x86_64", "jetson-orin", "rocm6-x86_64"];

/// Names of the built-in profiles, sorted.
pub fn builtin_names() -> &'static [&'static str] {
    BUILTIN_NAMES
}

/// A built-in profile, fully resolved. `None` for an unknown name.
pub fn builtin(name: &str) -> Option<Profile> {
    if !BUILTIN_NAMES.contains(&name) {
        return None;
    }
    // Built-ins are checked by the unit tests; a failure here would be a bug in a
    // shipped YAML file, not something a user can fix, so it reads as "not available".
    load(name, Path::new(".")).ok()
}

/// Load a profile: `spec` is a built-in name, or a path (it contains `/` or ends in
/// `.yaml`/`.yml`) relative to `cwd`. `extends:` chains are followed and merged.
pub fn load(spec: &str, cwd: &Path) -> Result<Profile, ProfileError> {
    let mut layers: Vec<Layer> = Vec::new();
    let mut next = Some((spec.to_string(), cwd.to_path_buf()));
    while let Some((spec, base)) = next.take() {
        let source = if let Some(parent) = layers.last() {
            if matches!(parent.source, Source::Builtin(_)) && is_path_spec(&spec) {
                return Err(ProfileError::BuiltinExtendsPath {
                    file: parent.source.to_string(),
                    spec,
                });
            }
            Source::resolve(&spec, &base)?
        } else {
            Source::resolve(&spec, &base)?
        };
        if layers.iter().any(|layer| layer.source.same_as(&source)) {
            let mut chain: Vec<String> = layers.iter().map(|l| l.source.to_string()).collect();
            chain.push(source.to_string());
            return Err(ProfileError::Cycle {
                chain: chain.join(" -> "),
            });
        }
        let layer = Layer::read(source)?;
        if let Some(extends) = &layer.raw.extends {
            let base = match &layer.source {
                Source::File { path, .. } => path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| cwd.to_path_buf()),
                Source::Builtin(_) => cwd.to_path_buf(),
            };
            next = Some((extends.clone(), base));
        }
        layers.push(layer);
    }
    resolve(&layers)
}

/// Whether `--profile SPEC` names a file rather than a built-in.
pub fn is_path_spec(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".yaml") || spec.ends_with(".yml")
}

/// Where one layer of a profile came from.
#[derive(Debug, Clone)]
enum Source {
    Builtin(&'static str),
    File {
        /// As the user (or the `extends:` line) spelled it, joined to its base: for messages.
        path: PathBuf,
        /// For cycle detection.
        canonical: PathBuf,
    },
}

impl Source {
    fn resolve(spec: &str, base: &Path) -> Result<Source, ProfileError> {
        if is_path_spec(spec) {
            // `components()` drops `./` segments, so messages show `dir/a.yaml`.
            let path: PathBuf = base.join(spec).components().collect();
            let canonical = std::fs::canonicalize(&path).map_err(|source| ProfileError::Read {
                path: path.clone(),
                source,
            })?;
            return Ok(Source::File { path, canonical });
        }
        match BUILTIN_NAMES.iter().find(|name| **name == spec) {
            Some(name) => Ok(Source::Builtin(name)),
            None => Err(ProfileError::UnknownBuiltin {
                name: spec.to_string(),
                available: BUILTIN_NAMES
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn same_as(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Builtin(a), Source::Builtin(b)) => a == b,
            (Source::File { canonical: a, .. }, Source::File { canonical: b, .. }) => a == b,
            _ => false,
        }
    }

    /// The name a profile gets when it has no `name:`.
    fn default_name(&self) -> String {
        match self {
            Source::Builtin(name) => (*name).to_string(),
            Source::File { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin(name) => write!(f, "`profiles/{name}.yaml` (built-in)"),
            Source::File { path, .. } => write!(f, "`{}`", path.display()),
        }
    }
}

/// One file of an `extends:` chain, parsed and checked for unknown keys.
struct Layer {
    source: Source,
    raw: RawProfile,
    /// `raw` re-serialized: only the keys the file sets, ready to merge.
    value: Value,
}

impl Layer {
    fn read(source: Source) -> Result<Layer, ProfileError> {
        let text = match &source {
            Source::Builtin(name) => BUILTINS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, text)| (*text).to_string())
                .unwrap_or_default(),
            Source::File { path, .. } => {
                super::text::read_text(path).map_err(|e| ProfileError::Read {
                    path: path.clone(),
                    source: e,
                })?
            }
        };
        let raw: RawProfile = yaml_serde::from_str(&text).map_err(|e| yaml_error(&source, &e))?;
        let value = yaml_serde::to_value(&raw).map_err(|e| yaml_error(&source, &e))?;
        Ok(Layer { source, raw, value })
    }
}

fn yaml_error(source: &Source, err: &yaml_serde::Error) -> ProfileError {
    let file = source.to_string();
    let full = err.to_string();
    match err.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            ProfileError::Syntax {
                file,
                line: loc.line(),
                column: loc.column(),
                message,
            }
        }
        None => ProfileError::Yaml {
            file,
            message: full,
        },
    }
}

/// Mappings merge key by key (child wins); everything else is replaced whole. An
/// accelerator whose `kind` changes is replaced whole too: a CUDA version or gfx list
/// inherited into another kind of accelerator would be meaningless.
fn merge(base: &mut Value, child: &Value, top_level: bool) {
    match (base, child) {
        (Value::Mapping(base), Value::Mapping(child)) => {
            for (key, value) in child {
                let replace_whole = top_level
                    && key.as_str() == Some("accelerator")
                    && base.get(key).and_then(|b| b.get("kind")) != value.get("kind")
                    && value.get("kind").is_some();
                match base.get_mut(key) {
                    Some(existing) if !replace_whole => merge(existing, value, false),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, child) => *base = child.clone(),
    }
}

fn resolve(layers: &[Layer]) -> Result<Profile, ProfileError> {
    let Some(child) = layers.first() else {
        return Err(ProfileError::Yaml {
            file: String::new(),
            message: "empty profile chain".to_string(),
        });
    };
    let mut merged = Value::Mapping(Default::default());
    for layer in layers.iter().rev() {
        merge(&mut merged, &layer.value, true);
    }
    let mut raw: RawProfile =
        yaml_serde::from_value(merged).map_err(|e| yaml_error(&child.source, &e))?;
    // The name is never inherited: a child without `name:` is named after its file.
    raw.name = Some(
        child
            .raw
            .name
            .clone()
            .unwrap_or_else(|| child.source.default_name()),
    );
    raw.extends = None;
    Validator { layers }.profile(raw)
}

/// Validation of the merged profile; errors name the file that set the offending value.
struct Validator<'a> {
    layers: &'a [Layer],
}

impl Validator<'_> {
    /// The file (nearest the child) that sets the value at `path`.
    fn origin(&self, path: &[&str]) -> String {
        let sets = |value: &Value| {
            let mut current = value;
            for key in path {
                match current.get(key) {
                    Some(next) => current = next,
                    None => return false,
                }
            }
            true
        };
        self.layers
            .iter()
            .find(|layer| sets(&layer.value))
            .or(self.layers.first())
            .map(|layer| layer.source.to_string())
            .unwrap_or_default()
    }

    fn err(
        &self,
        path: &[&str],
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ProfileError {
        ProfileError::Invalid {
            file: self.origin(path),
            field: field.into(),
            message: message.into(),
        }
    }

    fn missing(&self, field: &str) -> ProfileError {
        let file = self
            .layers
            .first()
            .map(|l| l.source.to_string())
            .unwrap_or_default();
        ProfileError::Invalid {
            file,
            field: field.to_string(),
            message: "is required (set it, or `extends:` a profile that does)".to_string(),
        }
    }

    /// Rejects newlines and other control characters in a value that ends up in a Dockerfile.
    fn single_line(&self, path: &[&str], field: &str, value: &str) -> Result<(), ProfileError> {
        if value.chars().any(char::is_control) {
            return Err(self.err(
                path,
                field,
                format!(
                    "value {value:?} contains a newline or control character, which is not allowed"
                ),
            ));
        }
        Ok(())
    }

    fn profile(&self, raw: RawProfile) -> Result<Profile, ProfileError> {
        let name = raw.name.unwrap_or_default();
        if !is_profile_name(&name) {
            return Err(self.err(
                &["name"],
                "name",
                format!(
                    "`{name}` is not a valid profile name: use letters, digits, `.`, `_`, `-`, \
                     starting with a letter or digit (the name is used in file names)"
                ),
            ));
        }
        let description = raw.description.unwrap_or_default().trim().to_string();
        self.single_line(&["description"], "description", &description)?;
        let platform = raw.platform.ok_or_else(|| self.missing("platform"))?;
        let python = self.python(&raw.python.ok_or_else(|| self.missing("python"))?)?;
        let libc = self.libc(&raw.libc.ok_or_else(|| self.missing("libc"))?)?;
        let accelerator =
            self.accelerator(raw.accelerator.ok_or_else(|| self.missing("accelerator"))?)?;
        let accelerated_packages =
            self.accelerated_packages(raw.accelerated_packages, &accelerator)?;
        let indexes = self.indexes(raw.indexes.ok_or_else(|| self.missing("indexes"))?)?;
        let images = raw.images.unwrap_or_default();
        let images = Images {
            builder: self.image("builder", images.builder)?,
            runtime: self.image("runtime", images.runtime)?,
        };
        let env = self.env(raw.env.unwrap_or_default())?;
        let verify = self.verify(raw.verify.unwrap_or_default())?;
        let extra_build_dependencies =
            self.extra_build_dependencies(raw.extra_build_dependencies.unwrap_or_default())?;
        Ok(Profile {
            name,
            description,
            platform,
            python,
            libc,
            accelerator,
            accelerated_packages,
            indexes,
            images,
            env,
            verify,
            extra_build_dependencies,
        })
    }

    fn extra_build_dependencies(
        &self,
        raw: BTreeMap<String, Vec<String>>,
    ) -> Result<BTreeMap<PackageName, Vec<Requirement>>, ProfileError> {
        let field = "extra_build_dependencies";
        let mut out = BTreeMap::new();
        for (name, requirements) in raw {
            let path = &[field, name.as_str()];
            let package = PackageName::from_str(&name).map_err(|e| {
                self.err(path, field, format!("`{name}` is not a package name: {e}"))
            })?;
            let parsed = requirements
                .iter()
                .map(|text| {
                    crate::input::pep508::parse_requirement(text, None).map_err(|e| {
                        self.err(
                            path,
                            field,
                            format!("`{text}` is not a requirement: {}", e.message),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(package, parsed);
        }
        Ok(out)
    }

    fn python(&self, text: &str) -> Result<Version, ProfileError> {
        let bad = |why: &str| {
            self.err(
                &["python"],
                "python",
                format!("`{text}` {why}; write the full interpreter version, e.g. `3.10.12`"),
            )
        };
        let version = Version::from_str(text.trim()).map_err(|_| bad("is not a version"))?;
        if version.release().len() != 3
            || version.any_prerelease()
            || version.is_post()
            || version.is_local()
            || version.epoch() != 0
        {
            return Err(bad("is not a final release with exactly three components"));
        }
        let release = version.release();
        if release[0] != 3 || release[1] < 8 {
            return Err(bad(
                "is not supported (dockgen targets CPython 3.8 or newer)",
            ));
        }
        Ok(version)
    }

    fn libc(&self, text: &str) -> Result<Libc, ProfileError> {
        let bad = || {
            self.err(
                &["libc"],
                "libc",
                format!("`{text}` is not a libc; write `glibc 2.35` or `musl 1.2`"),
            )
        };
        let (family, version) = text.trim().split_once(' ').ok_or_else(bad)?;
        let family = match family {
            "glibc" => LibcFamily::Glibc,
            "musl" => LibcFamily::Musl,
            _ => return Err(bad()),
        };
        let (major, minor) = version.trim().split_once('.').ok_or_else(bad)?;
        let major: u16 = parse_digits(major).ok_or_else(bad)?;
        let minor: u16 = parse_digits(minor).ok_or_else(bad)?;
        let supported = match family {
            // manylinux starts at glibc 2.5; glibc 3 does not exist.
            LibcFamily::Glibc => major == 2 && minor >= 5,
            LibcFamily::Musl => major == 1,
        };
        if !supported {
            return Err(self.err(
                &["libc"],
                "libc",
                format!("`{text}` is not supported: dockgen knows glibc 2.5+ and musl 1.x"),
            ));
        }
        Ok(Libc {
            family,
            version: (major, minor),
        })
    }

    fn accelerator(&self, raw: RawAccelerator) -> Result<Accelerator, ProfileError> {
        let path = &["accelerator"];
        let kind = raw.kind.ok_or_else(|| self.missing("accelerator.kind"))?;
        let unexpected = |field: &str, kind: &str| {
            self.err(
                path,
                format!("accelerator.{field}"),
                format!("does not apply to `kind: {kind}`; remove it"),
            )
        };
        match kind {
            AcceleratorKind::Cpu => {
                if raw.version.is_some() {
                    return Err(unexpected("version", "cpu"));
                }
                if raw.compute_capabilities.is_some() {
                    return Err(unexpected("compute_capabilities", "cpu"));
                }
                if raw.gfx_targets.is_some() {
                    return Err(unexpected("gfx_targets", "cpu"));
                }
                Ok(Accelerator::Cpu)
            }
            AcceleratorKind::Cuda => {
                if raw.gfx_targets.is_some() {
                    return Err(unexpected("gfx_targets", "cuda"));
                }
                let version = raw
                    .version
                    .ok_or_else(|| self.missing("accelerator.version"))?;
                if !is_dotted_number(&version, 2, 2) {
                    return Err(self.err(
                        path,
                        "accelerator.version",
                        format!("`{version}` is not a CUDA version like \"12.6\""),
                    ));
                }
                let caps = raw
                    .compute_capabilities
                    .ok_or_else(|| self.missing("accelerator.compute_capabilities"))?;
                if caps.is_empty() {
                    return Err(self.err(
                        path,
                        "accelerator.compute_capabilities",
                        "must not be empty",
                    ));
                }
                for cap in &caps {
                    if !is_dotted_number(cap, 2, 2) {
                        return Err(self.err(
                            path,
                            "accelerator.compute_capabilities",
                            format!("`{cap}` is not a compute capability like \"8.7\""),
                        ));
                    }
                }
                Ok(Accelerator::Cuda {
                    version,
                    compute_capabilities: caps,
                })
            }
            AcceleratorKind::Rocm => {
                if raw.compute_capabilities.is_some() {
                    return Err(unexpected("compute_capabilities", "rocm"));
                }
                let version = raw
                    .version
                    .ok_or_else(|| self.missing("accelerator.version"))?;
                if !is_dotted_number(&version, 2, 3) {
                    return Err(self.err(
                        path,
                        "accelerator.version",
                        format!("`{version}` is not a ROCm version like \"6.2\""),
                    ));
                }
                let targets = raw
                    .gfx_targets
                    .ok_or_else(|| self.missing("accelerator.gfx_targets"))?;
                if targets.is_empty() {
                    return Err(self.err(path, "accelerator.gfx_targets", "must not be empty"));
                }
                for target in &targets {
                    if !is_gfx_target(target) {
                        return Err(self.err(
                            path,
                            "accelerator.gfx_targets",
                            format!("`{target}` is not a gfx target like `gfx90a`"),
                        ));
                    }
                }
                Ok(Accelerator::Rocm {
                    version,
                    gfx_targets: targets,
                })
            }
        }
    }

    fn accelerated_packages(
        &self,
        raw: Option<Vec<String>>,
        accelerator: &Accelerator,
    ) -> Result<Vec<PackageName>, ProfileError> {
        let path = &["accelerated_packages"];
        let Some(names) = raw else {
            return Ok(if accelerator.is_gpu() {
                DEFAULT_ACCELERATED
                    .iter()
                    .filter_map(|n| PackageName::from_str(n).ok())
                    .collect()
            } else {
                Vec::new()
            });
        };
        if !accelerator.is_gpu() && !names.is_empty() {
            return Err(self.err(
                path,
                "accelerated_packages",
                "only applies to GPU profiles; remove it or set `accelerated_packages: []`",
            ));
        }
        names
            .iter()
            .map(|n| {
                PackageName::from_str(n).map_err(|e| {
                    self.err(
                        path,
                        "accelerated_packages",
                        format!("`{n}` is not a package name: {e}"),
                    )
                })
            })
            .collect()
    }

    fn indexes(&self, raw: Vec<RawIndex>) -> Result<Vec<IndexSpec>, ProfileError> {
        let path = &["indexes"];
        if raw.is_empty() {
            return Err(self.err(path, "indexes", "must list at least one index"));
        }
        let mut names = BTreeSet::new();
        let mut owners: BTreeMap<PackageName, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, index) in raw.into_iter().enumerate() {
            let field = |sub: &str| format!("indexes[{i}].{sub}");
            if !is_index_name(&index.name) {
                return Err(self.err(
                    path,
                    field("name"),
                    format!(
                        "`{}` is not a valid index name: use `[a-z0-9-]+`",
                        index.name.escape_debug()
                    ),
                ));
            }
            if !names.insert(index.name.clone()) {
                return Err(self.err(
                    path,
                    field("name"),
                    format!("`{}` is used twice; index names must be unique", index.name),
                ));
            }
            // A URL that does not parse is only echoed when it cannot hold a secret.
            let shown = if index.url.contains('@') {
                "(not shown: it may contain credentials)".to_string()
            } else {
                format!("{:?}", index.url)
            };
            let url = Url::parse(index.url.trim())
                .map_err(|e| self.err(path, field("url"), format!("{shown} is not a URL: {e}")))?;
            if !url.username().is_empty() || url.password().is_some() {
                // Never echo the URL: it carries the secret.
                return Err(self.err(
                    path,
                    field("url"),
                    format!(
                        "the URL of index `{}` carries credentials; remove them from the profile and \
                         provide them through the environment or ~/.netrc instead",
                        index.name
                    ),
                ));
            }
            if !matches!(url.scheme(), "http" | "https" | "file") {
                return Err(self.err(
                    path,
                    field("url"),
                    format!(
                        "`{}`: only http, https and file URLs are supported",
                        crate::secrets::url(&url)
                    ),
                ));
            }
            let packages = match index.packages {
                None => None,
                Some(list) => {
                    let mut parsed = Vec::with_capacity(list.len());
                    for n in &list {
                        let name = PackageName::from_str(n).map_err(|e| {
                            self.err(
                                path,
                                field("packages"),
                                format!("`{n}` is not a package name: {e}"),
                            )
                        })?;
                        if let Some(other) = owners.insert(name.clone(), index.name.clone()) {
                            return Err(self.err(
                                path,
                                field("packages"),
                                format!(
                                    "`{name}` is already pinned to index `{other}`; a package can \
                                     only be pinned to one index"
                                ),
                            ));
                        }
                        parsed.push(name);
                    }
                    Some(parsed)
                }
            };
            let exclude_newer = match index.exclude_newer {
                None => None,
                Some(text) => Some(parse_exclude_newer(&text).ok_or_else(|| {
                    self.err(
                        path,
                        field("exclude_newer"),
                        format!(
                            "`{}` is not an RFC 3339 timestamp (`2024-06-01T00:00:00Z`) or a date \
                             (`2024-06-01`)",
                            text.escape_debug()
                        ),
                    )
                })?),
            };
            out.push(IndexSpec {
                name: index.name,
                url,
                packages,
                exclude_newer,
            });
        }
        Ok(out)
    }

    fn image(&self, which: &'static str, raw: Option<RawImage>) -> Result<Image, ProfileError> {
        let raw = raw.unwrap_or_default();
        let field = |sub: &str| format!("images.{which}.{sub}");
        let reference = raw.image.ok_or_else(|| self.missing(&field("image")))?;
        let path = &["images", which, "image"];
        if let Err(why) = check_image_reference(&reference) {
            return Err(self.err(
                path,
                field("image"),
                format!(
                    "{:?} is not an image reference ({why}); write `name[:tag][@sha256:<64 hex>]`",
                    reference
                ),
            ));
        }
        let path = &["images", which, "system_packages"];
        let system_packages = raw.system_packages.unwrap_or_default();
        for package in &system_packages {
            if !is_system_package(package) {
                return Err(self.err(
                    path,
                    field("system_packages"),
                    format!(
                        "{package:?} is not a system package name: use `[a-z0-9][a-z0-9+.-]*`, \
                         one package per list item"
                    ),
                ));
            }
        }
        Ok(Image {
            reference,
            system_packages,
        })
    }

    fn env(
        &self,
        raw: BTreeMap<String, Option<String>>,
    ) -> Result<BTreeMap<String, String>, ProfileError> {
        let mut env = BTreeMap::new();
        for (key, value) in raw {
            let path = ["env", key.as_str()];
            if !is_env_key(&key) {
                return Err(self.err(
                    &path,
                    "env",
                    format!("{key:?} is not a valid variable name: use `[A-Za-z_][A-Za-z0-9_]*`"),
                ));
            }
            let Some(value) = value else {
                return Err(self.err(
                    &path,
                    format!("env.{key}"),
                    "has no value; write `\"\"` for an empty one",
                ));
            };
            self.single_line(&path, &format!("env.{key}"), &value)?;
            env.insert(key, value);
        }
        Ok(env)
    }

    fn verify(&self, raw: RawVerify) -> Result<Verify, ProfileError> {
        let imports = raw.imports.unwrap_or_default();
        for import in &imports {
            if !is_dotted_identifier(import) {
                return Err(self.err(
                    &["verify", "imports"],
                    "verify.imports",
                    format!("{import:?} is not a module name like `torch` or `torch.cuda`"),
                ));
            }
        }
        let path = &["verify", "assertions"];
        let mut assertions = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, a) in raw.assertions.unwrap_or_default().into_iter().enumerate() {
            let field = |sub: &str| format!("verify.assertions[{i}].{sub}");
            if a.name.trim().is_empty() {
                return Err(self.err(path, field("name"), "must not be empty"));
            }
            self.single_line(path, &field("name"), &a.name)?;
            if !seen.insert(a.name.clone()) {
                return Err(self.err(path, field("name"), format!("`{}` is used twice", a.name)));
            }
            let check = a.check.trim().to_string();
            if check.is_empty() {
                return Err(self.err(path, field("check"), "must not be empty"));
            }
            self.single_line(path, &field("check"), &check)?;
            assertions.push(Assertion {
                name: a.name,
                check,
                gpu_only: a.gpu_only,
            });
        }
        Ok(Verify {
            imports,
            assertions,
        })
    }
}

const DEFAULT_ACCELERATED: &[&str] = &["torch", "torchvision", "torchaudio"];

fn parse_digits<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `min..=max` dot-separated decimal components, e.g. `12.6`.
fn is_dotted_number(s: &str, min: usize, max: usize) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (min..=max).contains(&parts.len()) && parts.iter().all(|p| parse_digits::<u32>(p).is_some())
}

fn is_gfx_target(s: &str) -> bool {
    // `gfx90a`, optionally with target features such as `gfx90a:xnack-`.
    let mut parts = s.split(':');
    let base = parts.next().unwrap_or_default();
    let base_ok = base.strip_prefix("gfx").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    base_ok
        && parts.all(|feature| {
            feature.len() > 1
                && (feature.ends_with('+') || feature.ends_with('-'))
                && feature[..feature.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase())
        })
}

fn is_profile_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && s.len() <= 100
}

fn is_index_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_env_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_system_package(s: &str) -> bool {
    let mut bytes = s.bytes();
    let lower_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.next().is_some_and(lower_or_digit)
        && bytes.all(|b| lower_or_digit(b) || matches!(b, b'+' | b'.' | b'-'))
}

fn is_dotted_identifier(s: &str) -> bool {
    s.split('.').all(|part| {
        let mut bytes = part.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// An `exclude_newer` value, as uv 0.13 reads it: an RFC 3339 timestamp as written, or
/// a bare date `YYYY-MM-DD` meaning the end of that day (files uploaded during it are
/// kept). uv ends the day in the local time zone; dockgen in UTC, so that a lock's
/// regenerate command gives the same lock on every machine.
pub(crate) fn parse_exclude_newer(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    // Files are kept when uploaded strictly before the cut-off: the next midnight.
    date.tomorrow()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Checks `s` against the reference grammar of the distribution project
/// (`[domain[:port]/]path[:tag][@digest]`), with oci-spec's parser, which ports it;
/// then dockgen's own rule on top: a digest is `sha256:` and 64 lowercase hex digits
/// (what `docker inspect` prints; BuildKit accepts no other in a `FROM` it must
/// verify). Everything it accepts is safe to put unquoted after `FROM`.
pub fn check_image_reference(s: &str) -> Result<(), String> {
    use oci_spec::distribution::{ParseError, Reference};
    let reference = Reference::from_str(s).map_err(|error| {
        let name = s.split('@').next().unwrap_or(s);
        let path = name.split_once('/').map_or(name, |(_, path)| path);
        let path = path.rsplit_once(':').map_or(path, |(path, _)| path);
        match error {
            ParseError::ReferenceInvalidFormat
                if s.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                "invalid reference format: it holds whitespace or a control character".into()
            }
            ParseError::ReferenceInvalidFormat if path.chars().any(|c| c.is_ascii_uppercase()) => {
                "invalid reference format: a repository name must be lowercase".into()
            }
            other => other.to_string(),
        }
    })?;
    if let Some(digest) = reference.digest() {
        let hex = digest
            .strip_prefix("sha256:")
            .ok_or("only `sha256:` digests are accepted")?;
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("a sha256 digest is 64 lowercase hex digits".into());
        }
    }
    Ok(())
}

// --- The YAML shape. Every field is optional so that a child profile can set just what
// it overrides; `Validator` decides what is required once the chain is merged. The same
// structs serialize the resolved profile for `dockgen profiles show`, so that output
// loads back as a profile.

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of profile keys (`platform:`, `python:`, ...)"
)]
struct RawProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extends: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    python: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    libc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accelerator: Option<RawAccelerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accelerated_packages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    indexes: Option<Vec<RawIndex>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    images: Option<RawImages>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify: Option<RawVerify>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra_build_dependencies: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum AcceleratorKind {
    Cpu,
    Cuda,
    Rocm,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAccelerator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<AcceleratorKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compute_capabilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gfx_targets: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    name: String,
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    packages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exclude_newer: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawImages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    builder: Option<RawImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<RawImage>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    system_packages: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    imports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assertions: Option<Vec<RawAssertion>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    name: String,
    check: String,
    #[serde(default)]
    gpu_only: bool,
}

/// The resolved profile as profile YAML (no `extends:`): what `dockgen profiles show`
/// prints. Loading this text back gives the same profile.
pub fn to_yaml(profile: &Profile) -> Result<String, yaml_serde::Error> {
    yaml_serde::to_string(&to_raw(profile))
}

/// The profile as JSON, with the same fields as [`to_yaml`]'s YAML.
pub fn to_json(profile: &Profile) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(to_raw(profile))
}

/// The profile in the shape of a profile file, `extends:` applied.
fn to_raw(profile: &Profile) -> RawProfile {
    let (kind, version, compute_capabilities, gfx_targets) = match &profile.accelerator {
        Accelerator::Cpu => (AcceleratorKind::Cpu, None, None, None),
        Accelerator::Cuda {
            version,
            compute_capabilities,
        } => (
            AcceleratorKind::Cuda,
            Some(version.clone()),
            Some(compute_capabilities.clone()),
            None,
        ),
        Accelerator::Rocm {
            version,
            gfx_targets,
        } => (
            AcceleratorKind::Rocm,
            Some(version.clone()),
            None,
            Some(gfx_targets.clone()),
        ),
    };
    let image = |image: &Image| RawImage {
        image: Some(image.reference.clone()),
        system_packages: Some(image.system_packages.clone()),
    };
    RawProfile {
        name: Some(profile.name.clone()),
        description: Some(profile.description.clone()),
        extends: None,
        platform: Some(profile.platform),
        python: Some(profile.python.to_string()),
        libc: Some(profile.libc.to_string()),
        accelerator: Some(RawAccelerator {
            kind: Some(kind),
            version,
            compute_capabilities,
            gfx_targets,
        }),
        accelerated_packages: Some(
            profile
                .accelerated_packages
                .iter()
                .map(ToString::to_string)
                .collect(),
        ),
        indexes: Some(
            profile
                .indexes
                .iter()
                .map(|index| RawIndex {
                    name: index.name.clone(),
                    url: index.url.to_string(),
                    packages: index
                        .packages
                        .as_ref()
                        .map(|p| p.iter().map(ToString::to_string).collect()),
                    exclude_newer: index.exclude_newer.map(|t| t.to_string()),
                })
                .collect(),
        ),
        images: Some(RawImages {
            builder: Some(image(&profile.images.builder)),
            runtime: Some(image(&profile.images.runtime)),
        }),
        env: Some(
            profile
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
        ),
        verify: Some(RawVerify {
            imports: Some(profile.verify.imports.clone()),
            assertions: Some(
                profile
                    .verify
                    .assertions
                    .iter()
                    .map(|a| RawAssertion {
                        name: a.name.clone(),
                        check: a.check.clone(),
                        gpu_only: a.gpu_only,
                    })
                    .collect(),
            ),
        }),
        extra_build_dependencies: (!profile.extra_build_dependencies.is_empty()).then(|| {
            profile
                .extra_build_dependencies
                .iter()
                .map(|(name, requirements)| {
                    let texts = requirements.iter().map(ToString::to_string).collect();
                    (name.to_string(), texts)
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests;
