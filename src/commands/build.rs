//! `dockgen build`: a lock becomes a verified image and its artifacts.
//!
//! Plan, then act: the profile, the lock and the plan are read and rendered, and the
//! engine is pinged, before any package is fetched or any step runs. Packages are
//! fetched on the host (where the credentials are) into a content-addressed store and
//! hard-linked into the plan's `wheels/`, so a rebuild after one requirement changed
//! downloads one file; BuildKit's cache does the rest.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::Failure;
use super::files::{display_path, write_atomically};
use crate::audit::DependencyTree;
use crate::build::engine::{BuildOutcome, BuildRequest, Engine};
use crate::build::progress::{ProgressMode, StepRecord};
use crate::build::wheelhouse::{WheelhouseOptions, WheelhouseReport, fill_wheelhouse};
use crate::cli::BuildArgs;
use crate::index::registry::RegistryClient;
use crate::input::profile::{self, Profile};
use crate::input::requirements::RequirementsInput;
use crate::lock::LockFile;
use crate::render::{self, Delivery};

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
    context_bytes: u64,
    wheelhouse: WheelhouseSummary,
    stages: Vec<StageReport>,
    checks: Vec<serde_json::Value>,
    lock_matches_image: bool,
    duration_seconds: f64,
}

#[derive(Debug, Serialize)]
struct WheelhouseSummary {
    files: usize,
    downloaded: usize,
    bytes_downloaded: u64,
    bytes_cached: u64,
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
    let profile = profile::load(&args.profile, &cwd)
        .with_context(|| format!("cannot load profile `{}`", args.profile))?;
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
        args.lock.as_deref(),
        &args.locks_dir,
        &profile.name,
        &args.profile,
    )?;

    // The plan, always with a wheelhouse: packages never travel from an index into the
    // build, so no credential can.
    let plan_dir = cwd.join(&args.out_dir).join(&profile.name);
    let rerun = format!("dockgen build --profile {}", args.profile);
    let files = render::plan(&profile, &lock_text, &lock, &Delivery::Wheelhouse, &rerun)
        .with_context(|| format!("cannot render `{}`", display_path(&lock_path, &cwd)))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let engine = Engine::from_env()?;
    runtime.block_on(engine.ping())?;

    for file in &files {
        write_atomically(&plan_dir.join(&file.path), file.contents.as_bytes())?;
    }
    let wheelhouse = fetch_packages(&profile, &lock, &plan_dir, args)?;
    if !quiet {
        eprintln!(
            "wheelhouse: {} files ({} downloaded, {} from the store)",
            wheelhouse.files.len(),
            wheelhouse.downloaded,
            wheelhouse.files.len() - wheelhouse.downloaded
        );
    }

    let tags = if args.tags.is_empty() {
        vec![format!("dockgen/{}:latest", profile.name)]
    } else {
        args.tags.clone()
    };
    // Everything up to the artifacts first: the verify stage records its checks there
    // and never fails the build, so a failed check comes back in full.
    let mut sink = progress.sink();
    let artifacts_dir = cwd.join(&args.artifacts_dir).join(&profile.name);
    let export = runtime.block_on(engine.build(
        BuildRequest {
            context: plan_dir.clone(),
            target: Some("export".into()),
            export_to: Some(artifacts_dir.clone()),
            no_cache: args.no_cache,
            ..BuildRequest::default()
        },
        sink.as_mut(),
    ))?;
    let checks = read_checks(&artifacts_dir)?;
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
        Some(runtime.block_on(engine.build(
            BuildRequest {
                context: plan_dir.clone(),
                target: Some("image".into()),
                tags: tags.clone(),
                ..BuildRequest::default()
            },
            sink.as_mut(),
        ))?)
    } else {
        None
    };
    sink.finish();
    let image_id = image.as_ref().and_then(|i| i.image_id.clone());
    let mismatches = compare_with_lock(&lock, &artifacts_dir)?;
    let inspect = image_id
        .as_ref()
        .and_then(|id| runtime.block_on(engine.docker().inspect_image(id)).ok());
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
        context_bytes: export.context_bytes + image.as_ref().map_or(0, |i| i.context_bytes),
        wheelhouse: WheelhouseSummary {
            files: wheelhouse.files.len(),
            downloaded: wheelhouse.downloaded,
            bytes_downloaded: wheelhouse.bytes_downloaded,
            bytes_cached: wheelhouse.bytes_cached,
        },
        stages: stages(image.as_ref().unwrap_or(&export)),
        checks: checks.clone(),
        lock_matches_image: mismatches.is_empty(),
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let mut json =
        serde_json::to_string_pretty(&report).context("cannot write the build report")?;
    json.push('\n');
    write_atomically(&artifacts_dir.join("build-report.json"), json.as_bytes())?;

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
            "the image does not hold what the lock says:\n  {}",
            mismatches.join("\n  ")
        ))
        .into());
    }
    Ok(())
}

/// Every locked file, fetched on the host and linked into `<plan>/wheels/`.
fn fetch_packages(
    profile: &Profile,
    lock: &LockFile,
    plan_dir: &Path,
    args: &BuildArgs,
) -> anyhow::Result<WheelhouseReport> {
    let indexes = super::lock::index_configs(profile, &RequirementsInput::default(), None);
    let client = RegistryClient::new(
        indexes,
        Vec::new(),
        super::client_options(&args.network, None),
    )?;
    let report = fill_wheelhouse(
        lock,
        &client,
        &plan_dir.join("wheels"),
        &WheelhouseOptions {
            cache_dir: args.network.cache_dir.clone(),
            ..WheelhouseOptions::default()
        },
    )?;
    Ok(report)
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
fn stages(outcome: &BuildOutcome) -> Vec<StageReport> {
    let mut order: Vec<String> = Vec::new();
    let mut by_stage: BTreeMap<String, Vec<&StepRecord>> = BTreeMap::new();
    for step in &outcome.steps {
        let stage = step
            .name
            .strip_prefix('[')
            .and_then(|rest| rest.split([' ', ']']).next())
            .unwrap_or("internal")
            .to_string();
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

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
