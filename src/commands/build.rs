//! `dockgen build`: a lock becomes a verified image and its artifacts.
//!
//! Plan, then act: the profile and the lock are read and checked, and the engine is
//! pinged, before any package is fetched or any step runs. Packages are fetched on the
//! host (where the credentials are) into a content-addressed store, so a rebuild after
//! one requirement changed downloads one file. They reach the build from a package
//! server on loopback (`build::serve`; the build keeps them in a cache mount, so it
//! fetches only new files), or, for an engine on another machine, hard-linked into the
//! plan's `wheels/` (sent with the context on every build). BuildKit's cache does the
//! rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::Failure;
use super::files::{display_path, write_atomically};
use crate::audit::DependencyTree;
use crate::build::emulation::{self, Emulation};
use crate::build::engine::{BuildOutcome, BuildRequest, Engine, publish_export, staging_dir};
use crate::build::progress::{ProgressMode, StepRecord};
use crate::build::registry::{self, Credentials, Pushed};
use crate::build::serve::{PackageServer, ServedFile, ServedStats};
use crate::build::wheelhouse::{WheelhouseOptions, WheelhouseReport, fill_wheelhouse};
use crate::cli::BuildArgs;
use crate::index::registry::RegistryClient;
use crate::input::profile::{self, Profile};
use crate::lock::LockFile;
use crate::render::{self, Delivery, LaidLayer};

/// `build-report.json`.
#[derive(Debug, Serialize)]
struct BuildReport {
    profile: String,
    /// `None` when a check failed: the image is not built then.
    image_id: Option<String>,
    tags: Vec<String>,
    size_bytes: Option<i64>,
    layers: Option<usize>,
    base_images: BTreeMap<&'static str, String>,
    lock_sha256: String,
    /// `served` (package server on loopback) or `context` (`wheels/` in the context).
    delivery: &'static str,
    /// The platform built for, and the binfmt_misc handler that emulated it on an
    /// engine of another architecture (`qemu-aarch64`), `null` when native or not seen.
    platform: String,
    emulation: Option<String>,
    /// Bytes of build context sent to the engine, over both builds.
    context_bytes: u64,
    /// Files and bytes the build fetched from the package server (the rest came from
    /// its cache mount).
    served_files: u64,
    served_bytes: u64,
    /// The host side: the locked files, and what had to be downloaded from the indexes.
    packages: PackagesSummary,
    stages: Vec<StageReport>,
    checks: Vec<serde_json::Value>,
    lock_matches_image: bool,
    registry: RegistryReport,
    /// The final stage's install steps and what each installed (served delivery), and
    /// the digest of what else the final stage is made of: the next build keeps the
    /// steps that did not change (see `render::layers`) when its basis is the same.
    install_steps: Vec<LaidLayer>,
    install_basis: String,
    duration_seconds: f64,
}

/// What a previous report must say for its install steps to be followed.
#[derive(Debug, serde::Deserialize)]
struct PreviousReport {
    image_id: Option<String>,
    lock_matches_image: bool,
    checks: Vec<serde_json::Value>,
    #[serde(default)]
    install_steps: Vec<LaidLayer>,
    #[serde(default)]
    install_basis: String,
}

/// What the build took from registries and gave them.
#[derive(Debug, Serialize)]
struct RegistryReport {
    /// `--cache-from` images.
    cache_from: Vec<String>,
    /// Tags pushed (`--push`), with the digest the registry gave each.
    pushed: Vec<Pushed>,
    /// Where the credentials for these registries came from, `null` when none were
    /// found (anonymous access).
    credentials: Option<String>,
}

#[derive(Debug, Serialize)]
struct PackagesSummary {
    files: usize,
    downloaded: usize,
    bytes_downloaded: u64,
    bytes_cached: u64,
    /// Locked sdists not sent: the lock has a wheel of the same pin for the target.
    sdists_left_out: usize,
}

#[derive(Debug, Serialize)]
struct StageReport {
    stage: String,
    steps: usize,
    cached: usize,
    seconds: f64,
}

pub fn run(args: &BuildArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let profile = profile::load(&args.selected.profile, &cwd)
        .with_context(|| format!("cannot load profile `{}`", args.selected.profile))?;
    let progress = match args.progress.as_str() {
        "auto" if quiet => ProgressMode::Quiet,
        "auto" => ProgressMode::detect(),
        "tty" => ProgressMode::Tty,
        "plain" => ProgressMode::Plain,
        "quiet" => ProgressMode::Quiet,
        other => bail!("`--progress {other}`: expected auto, tty, plain or quiet"),
    };
    let (lock_path, lock_text, lock) = super::read_profile_lock(
        &cwd,
        args.selected.lock.as_deref(),
        &args.selected.locks_dir,
        &profile.name,
        &args.selected.profile,
    )?;

    let plan_dir = cwd.join(&args.out_dir).join(&profile.name);
    let rerun = format!("dockgen build --profile {}", args.selected.profile);
    render::check_lock(&profile, &lock_text, &lock)
        .with_context(|| format!("cannot render `{}`", display_path(&lock_path, &cwd)))?;
    let mut build_args: BTreeMap<String, String> = args.build_args.iter().cloned().collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let engine = Engine::from_env()?;
    runtime.block_on(engine.ping())?;
    let local = is_local(engine.address());
    let served = match args.delivery.as_str() {
        "served" => true,
        "context" => false,
        _ => local,
    };
    // Another architecture than the engine's runs under emulation, which must be there
    // before anything is fetched: without it every step fails with "exec format error".
    let platform = args
        .platform
        .clone()
        .unwrap_or_else(|| profile.platform.to_string());
    let engine_arch = runtime.block_on(engine.architecture())?;
    let binfmt = std::env::var_os("DOCKGEN_BINFMT_MISC")
        .map_or_else(|| PathBuf::from(emulation::BINFMT_MISC), PathBuf::from);
    let emulation =
        emulation::check(&platform, &engine_arch, local, &binfmt).map_err(anyhow::Error::msg)?;
    if !quiet {
        match &emulation {
            Emulation::Qemu { handler } => eprintln!(
                "building {platform} on this {engine_arch} engine under QEMU emulation \
                 ({handler}): every step runs several times slower than natively"
            ),
            Emulation::Unchecked if !local => eprintln!(
                "building {platform} on an {engine_arch} engine elsewhere: its emulation for \
                 {platform} cannot be checked from here"
            ),
            Emulation::Unchecked | Emulation::Native => {}
        }
    }
    let credentials = registry_credentials(args)?;
    if served
        && let Some(key) = build_args
            .keys()
            .find(|k| k.eq_ignore_ascii_case(PROXY_ARG))
    {
        bail!(
            "`--build-arg {key}`: dockgen passes its package server's address in {PROXY_ARG}; \
             use `--delivery context` to set it yourself"
        );
    }

    // Every locked file, on the host (where the credentials are): packages never travel
    // from an index into the build, so no credential can.
    let wheels_dir = plan_dir.join("wheels");
    let wheelhouse = fetch_packages(
        &profile,
        (&lock, &lock_text, &lock_path),
        (!served).then_some(&*wheels_dir),
        args,
    )?;
    if !quiet {
        eprintln!(
            "packages: {} files ({} downloaded, {} from the store)",
            wheelhouse.files.len(),
            wheelhouse.downloaded,
            wheelhouse.files.len() - wheelhouse.downloaded
        );
    }
    let artifacts_dir = cwd.join(&args.artifacts_dir).join(&profile.name);
    let basis = install_basis(&profile, &platform);
    let delivery = if served {
        Delivery::Served {
            previous: if args.no_cache {
                Vec::new()
            } else {
                previous_layers(&artifacts_dir, &basis)
            },
            files: wheelhouse
                .files
                .iter()
                .map(|f| render::ServedFile {
                    package: f.package.clone(),
                    sha256: f.sha256.clone(),
                    filename: f.filename.clone(),
                    size: f.size,
                })
                .collect(),
        }
    } else {
        Delivery::Wheelhouse
    };
    // Direct references reach the build as their store files (`build::direct`).
    let direct: render::DirectPins = wheelhouse
        .files
        .iter()
        .filter(|f| {
            lock.pins
                .get(&f.package)
                .is_some_and(|pin| pin.url.is_some())
        })
        .map(|f| (f.package.clone(), f.sha256.clone()))
        .collect();
    let files = render::plan(&profile, &lock_text, &lock, &delivery, &direct, &rerun)
        .with_context(|| format!("cannot render `{}`", display_path(&lock_path, &cwd)))?;
    for file in &files {
        write_atomically(&plan_dir.join(&file.path), file.contents.as_bytes())?;
    }
    if served && wheels_dir.is_dir() {
        // Left by a `--delivery context` build; the plan no longer reads it.
        std::fs::remove_dir_all(&wheels_dir)
            .with_context(|| format!("cannot remove `{}`", display_path(&wheels_dir, &cwd)))?;
    }
    let server = if served {
        let server = runtime
            .block_on(PackageServer::start(
                wheelhouse
                    .files
                    .iter()
                    .map(|f| ServedFile {
                        sha256: f.sha256.clone(),
                        filename: f.filename.clone(),
                        path: f.path.clone(),
                    })
                    .collect(),
            ))
            .context("cannot start the package server on 127.0.0.1")?;
        build_args.insert(PROXY_ARG.to_string(), server.proxy_url());
        Some(server)
    } else {
        None
    };

    let tags = if args.tags.is_empty() {
        vec![format!("dockgen/{}:latest", profile.name)]
    } else {
        args.tags.clone()
    };
    let request = |target: &str| BuildRequest {
        context: plan_dir.clone(),
        target: Some(target.to_string()),
        platform: Some(platform.clone()),
        build_args: build_args.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        network_mode: served.then(|| "host".to_string()),
        cache_from: args.cache_from.clone(),
        registry_auth: credentials
            .iter()
            .map(|(host, c)| (host.clone(), c.for_engine()))
            .collect(),
        ..BuildRequest::default()
    };
    // Everything up to the artifacts first: the verify stage records its checks there
    // and never fails the build, so a failed check comes back in full.
    let mut sink = progress.sink();
    // Staged beside their place until the report is written: a build that stops before
    // (the engine went away, an image step failed) leaves the previous artifacts whole.
    let staged = staging_dir(&artifacts_dir)?;
    let export = runtime.block_on(engine.build(
        BuildRequest {
            export_to: Some(staged.path().to_path_buf()),
            ..request("export")
        },
        sink.as_mut(),
    ))?;
    let checks = read_checks(staged.path())?;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap_or("?"),
                c["detail"].as_str().unwrap_or("")
            )
        })
        .collect();

    // The image stage builds only on a clean report; with one it is all cached.
    let image = if failed.is_empty() {
        let mut image_request = BuildRequest {
            tags: tags.clone(),
            // The export built every stage the image needs: no second pull.
            pull: false,
            ..request("image")
        };
        // The image carries its build cache: pushed, it is the next build's
        // `--cache-from`. (Only the image's own stages: the engine's builder exports
        // no other cache.)
        if !image_request
            .build_args
            .keys()
            .any(|k| k.eq_ignore_ascii_case(INLINE_CACHE_ARG))
        {
            image_request
                .build_args
                .insert(INLINE_CACHE_ARG.to_string(), "1".to_string());
        }
        Some(runtime.block_on(engine.build(image_request, sink.as_mut()))?)
    } else {
        None
    };
    sink.finish();
    let served_stats = match server {
        Some(server) => runtime.block_on(server.stop()),
        None => ServedStats::default(),
    };
    let image_id = image.as_ref().and_then(|i| i.image_id.clone());
    let mismatches = compare_with_lock(&lock, staged.path())?;
    let inspect = image_id
        .as_ref()
        .and_then(|id| runtime.block_on(engine.docker().inspect_image(id)).ok());
    // Only a verified image that holds what the lock says leaves the machine.
    let mut pushed = Vec::new();
    let mut push_error = None;
    if args.push && image_id.is_some() && mismatches.is_empty() {
        for tag in &tags {
            let found = credentials.get(&registry::registry_of(tag));
            match runtime.block_on(registry::push(&engine, tag, found)) {
                Ok(done) => {
                    if !quiet {
                        eprintln!(
                            "pushed {tag}{}",
                            done.digest
                                .as_deref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        );
                    }
                    pushed.push(done);
                }
                Err(e) => {
                    push_error = Some(e);
                    break;
                }
            }
        }
    }
    let report = BuildReport {
        profile: profile.name.clone(),
        image_id: image_id.clone(),
        tags: tags.clone(),
        size_bytes: inspect.as_ref().and_then(|i| i.size),
        layers: inspect
            .as_ref()
            .and_then(|i| i.root_fs.as_ref())
            .and_then(|r| r.layers.as_ref())
            .map(Vec::len),
        base_images: BTreeMap::from([
            ("builder", profile.images.builder.reference.clone()),
            ("runtime", profile.images.runtime.reference.clone()),
        ]),
        lock_sha256: render::lock_sha256(&lock_text),
        delivery: if served { "served" } else { "context" },
        platform: platform.clone(),
        emulation: emulation.handler().map(String::from),
        context_bytes: export.context_bytes + image.as_ref().map_or(0, |i| i.context_bytes),
        served_files: served_stats.files,
        served_bytes: served_stats.bytes,
        packages: PackagesSummary {
            files: wheelhouse.files.len(),
            downloaded: wheelhouse.downloaded,
            bytes_downloaded: wheelhouse.bytes_downloaded,
            bytes_cached: wheelhouse.bytes_cached,
            sdists_left_out: wheelhouse.sdists_left_out,
        },
        stages: stages(&export, image.as_ref()),
        checks: checks.clone(),
        lock_matches_image: mismatches.is_empty(),
        registry: RegistryReport {
            cache_from: args.cache_from.clone(),
            pushed,
            credentials: {
                let mut sources: Vec<&str> =
                    credentials.values().map(|c| c.source.as_str()).collect();
                sources.dedup();
                (!sources.is_empty()).then(|| sources.join("; "))
            },
        },
        install_steps: match &delivery {
            Delivery::Served { files, .. } => render::laid(&render::layers(&delivery), files),
            _ => Vec::new(),
        },
        install_basis: basis,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let mut json =
        serde_json::to_string_pretty(&report).context("cannot write the build report")?;
    json.push('\n');
    write_atomically(&staged.path().join("build-report.json"), json.as_bytes())?;
    publish_export(staged, &artifacts_dir)?;

    if !quiet {
        for check in &checks {
            eprintln!(
                "{:<8} {}",
                check["status"].as_str().unwrap_or("?"),
                check["name"].as_str().unwrap_or("?")
            );
        }
        if let Some(id) = &image_id {
            eprintln!(
                "built {} ({}) -> {} in {:.1}s",
                tags[0],
                short(id),
                display_path(&artifacts_dir, &cwd),
                started.elapsed().as_secs_f64()
            );
        }
    }
    if !failed.is_empty() {
        return Err(Failure::Resolution(format!(
            "verification failed, so no image was made (report: {}):\n  {}",
            display_path(&artifacts_dir.join("build-report.json"), &cwd),
            failed.join("\n  ")
        ))
        .into());
    }
    if !mismatches.is_empty() {
        return Err(Failure::Resolution(format!(
            "the image does not hold what the lock says{}:\n  {}",
            if args.push {
                ", so it was not pushed"
            } else {
                ""
            },
            mismatches.join("\n  ")
        ))
        .into());
    }
    match push_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The credentials for every registry the build pushes to or takes its cache from,
/// by registry host, looked up before anything is built. `--push` needs tags that name
/// a registry: the default tag names none.
fn registry_credentials(args: &BuildArgs) -> anyhow::Result<BTreeMap<String, Credentials>> {
    if args.push && args.tags.is_empty() {
        bail!(
            "`--push` needs `--tag` naming the registry to push to \
             (`--tag registry.example:5000/team/app:cpu`)"
        );
    }
    let pushed = args.tags.iter().filter(|_| args.push);
    let config = registry::docker_config_dir();
    let mut found = BTreeMap::new();
    for reference in pushed.chain(&args.cache_from) {
        let host = registry::registry_of(reference);
        if found.contains_key(&host) {
            continue;
        }
        if let Some(credentials) =
            registry::credentials(&host, config.as_deref(), |name| std::env::var(name).ok())
                .with_context(|| format!("credentials for the registry `{host}`"))?
        {
            found.insert(host, credentials);
        }
    }
    Ok(found)
}

/// Every locked file the build needs (a pin's sdist is not, when the lock has a wheel
/// of it for the profile's target), fetched on the host into the store, and linked into
/// `wheels` when given.
fn fetch_packages(
    profile: &Profile,
    (lock, lock_text, lock_path): (&LockFile, &str, &Path),
    wheels: Option<&Path>,
    args: &BuildArgs,
) -> anyhow::Result<WheelhouseReport> {
    // The indexes as `lock` ranked them: the lock's own index lines (the input's
    // `--extra-index-url`s) before the profile's, by the lock's `--index-strategy`.
    let lock_dir = lock_path.parent().unwrap_or(Path::new("."));
    let (indexes, _) = super::check::lock_sources(profile, lock_text, lock_dir);
    let mut options = super::client_options(&args.network, None);
    options.direct_urls = super::direct_urls(lock);
    let base = RegistryClient::new(indexes.clone(), Vec::new(), options)?;
    // A view over `base`, which must outlive it (it owns the runtime).
    let client = base.for_indexes_with(&indexes, super::check::lock_strategy(lock_text));
    let report = fill_wheelhouse(
        lock,
        &client,
        wheels,
        &WheelhouseOptions {
            cache_dir: args.network.cache_dir.clone(),
            target: Some(crate::input::target::Target::from_profile(profile)?),
            ..WheelhouseOptions::default()
        },
    )?;
    Ok(report)
}

/// The digest of what the final stage is made of besides the lock: its base image and
/// system packages, the interpreter, the platform built for and the environment. Install steps
/// (and their imports) are taken over from a build with the same basis only.
fn install_basis(profile: &Profile, platform: &str) -> String {
    let basis = serde_json::json!({
        "runtime": profile.images.runtime.reference,
        "system_packages": profile.images.runtime.system_packages,
        "python": profile.python.to_string(),
        "platform": platform,
        "env": profile.env,
    });
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(basis.to_string()))
}

/// The install steps of the previous build in `artifacts_dir`, when it made an image
/// that passed every check and held what its lock said, on the same basis; else none
/// (a fresh layout, and a full verify).
fn previous_layers(artifacts_dir: &Path, basis: &str) -> Vec<LaidLayer> {
    let Ok(text) = std::fs::read_to_string(artifacts_dir.join("build-report.json")) else {
        return Vec::new();
    };
    let Ok(report) = serde_json::from_str::<PreviousReport>(&text) else {
        return Vec::new();
    };
    let verified = report.image_id.is_some()
        && report.lock_matches_image
        && report.checks.iter().all(|c| c["status"] != "failed")
        && report.install_basis == basis;
    if verified {
        report.install_steps
    } else {
        Vec::new()
    }
}

/// The verify stage's report, as exported with the artifacts.
fn read_checks(artifacts_dir: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let path = artifacts_dir.join("verify-report.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the build exported no `{}`", path.display()))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(report["checks"].as_array().cloned().unwrap_or_default())
}

/// Differences between the lock and the image's `dependency_tree.json`: the image's
/// tree must equal the one computed from the lock (`dockgen tree`): the same packages
/// and versions (pip, setuptools and wheel may be in the image unlocked), the same
/// edges both ways, each with the same specifiers. Both are compared as pipdeptree
/// shows them, see [`DependencyTree::differences`].
fn compare_with_lock(lock: &LockFile, artifacts_dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = artifacts_dir.join("dependency_tree.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the build exported no `{}`", path.display()))?;
    let image: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut problems =
        DependencyTree::from_lock(lock).differences(&image, &["pip", "setuptools", "wheel"]);
    let records_requirements = lock.pins.values().flat_map(|pin| &pin.via).any(|via| {
        via.package()
            .is_some_and(|p| p.specifier.is_some() || p.extra.is_some())
    });
    if !problems.is_empty() && !records_requirements {
        problems.push(
            "the lock's `# via` entries name no requirements (a pip-compile lock, or one \
             from an older dockgen), so its tree has no specifiers and counts extras' edges: \
             re-lock with `dockgen lock`"
                .into(),
        );
    }
    Ok(problems)
}

/// Steps grouped by stage (`[stage n/m] ...` names), in build order.
///
/// The export build did the work of every stage up to the artifacts; of the image
/// build (where those are all cached), only the stages the export did not have.
fn stages(export: &BuildOutcome, image: Option<&BuildOutcome>) -> Vec<StageReport> {
    let stage_of = |step: &StepRecord| {
        step.name
            .strip_prefix('[')
            .and_then(|rest| rest.split([' ', ']']).next())
            .unwrap_or("internal")
            .to_string()
    };
    let exported: std::collections::BTreeSet<String> = export.steps.iter().map(stage_of).collect();
    let image_steps = image
        .into_iter()
        .flat_map(|i| &i.steps)
        .filter(|step| !exported.contains(&stage_of(step)));
    let mut order: Vec<String> = Vec::new();
    let mut by_stage: BTreeMap<String, Vec<&StepRecord>> = BTreeMap::new();
    for step in export.steps.iter().chain(image_steps) {
        let stage = stage_of(step);
        if !by_stage.contains_key(&stage) {
            order.push(stage.clone());
        }
        by_stage.entry(stage).or_default().push(step);
    }
    order
        .into_iter()
        .map(|stage| {
            let steps = &by_stage[&stage];
            StageReport {
                steps: steps.len(),
                cached: steps.iter().filter(|s| s.cached).count(),
                seconds: steps
                    .iter()
                    .filter_map(|s| s.duration())
                    .map(|d| d.as_secs_f64())
                    .sum(),
                stage,
            }
        })
        .collect()
}

/// The build argument that has BuildKit put the image's cache metadata into its config.
const INLINE_CACHE_ARG: &str = "BUILDKIT_INLINE_CACHE";

/// The build argument that carries the package server's address (see `build::serve`).
const PROXY_ARG: &str = "FTP_PROXY";

/// Whether the engine at `address` runs on this machine, so that the build, with the
/// host's network, reaches the package server on 127.0.0.1.
fn is_local(address: &str) -> bool {
    if address.starts_with("unix://") {
        return true;
    }
    let Some(rest) = address
        .strip_prefix("tcp://")
        .or_else(|| address.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn engines_on_this_machine_are_local() {
        for address in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2375",
            "tcp://localhost:2376",
            "tcp://[::1]:2375",
            "http://127.0.0.2:2375",
        ] {
            assert!(is_local(address), "{address}");
        }
        for address in [
            "tcp://10.0.0.5:2376",
            "tcp://build-box:2375",
            "ssh://me@box",
            "npipe:////./pipe/docker_engine",
        ] {
            assert!(!is_local(address), "{address}");
        }
    }
}
