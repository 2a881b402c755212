//! `dockgen render`: lock + profile -> `build/<profile>/` (Dockerfile and context).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Failure;
use super::files::{display_path, stale_diff, write_atomically};
use crate::build::direct::store_direct_pins;
use crate::build::wheelhouse::{FileStore, WheelhouseFile, materialize, store_dir};
use crate::cli::RenderArgs;
use crate::index::registry::RegistryClient;
use crate::input::profile;
use crate::render::{self, Delivery, RenderedFile};

pub fn run(args: &RenderArgs, quiet: bool) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    if args.lock.is_some() && args.profiles.len() > 1 {
        bail!(
            "`--lock` names one lock, but {} profiles were given",
            args.profiles.len()
        );
    }
    let delivery = if args.wheelhouse {
        Delivery::Wheelhouse
    } else {
        Delivery::Index {
            index_urls: args.index_url.clone(),
        }
    };
    // Plan every profile before writing anything.
    let mut plans: Vec<(PathBuf, Vec<RenderedFile>, Vec<WheelhouseFile>)> = Vec::new();
    // Per plan: the profile's name and the lock, as `--format json` names them.
    let mut sources: Vec<(String, String)> = Vec::new();
    for spec in &args.profiles {
        let profile =
            profile::load(spec, &cwd).with_context(|| format!("cannot load profile `{spec}`"))?;
        let (lock_path, lock_text, lock) = super::read_profile_lock(
            &cwd,
            args.lock.as_deref(),
            &args.locks_dir,
            &profile.name,
            spec,
        )?;
        let rerun = rerun_command(args, spec);
        let shown = display_path(&lock_path, &cwd);
        // A wheelhouse holds the files of the lock's direct references: dockgen puts
        // them there (an index has them not); the other files are yours to add.
        let stored = match args.wheelhouse && lock.pins.values().any(|p| p.url.is_some()) {
            true => store_direct(&lock, &args.network)
                .with_context(|| format!("cannot render `{shown}`"))?,
            false => Vec::new(),
        };
        let direct: render::DirectPins = stored
            .iter()
            .map(|f| (f.package.clone(), f.sha256.clone()))
            .collect();
        let files = render::plan(&profile, &lock_text, &lock, &delivery, &direct, &rerun)
            .with_context(|| format!("cannot render `{shown}`"))?;
        plans.push((cwd.join(&args.out_dir).join(&profile.name), files, stored));
        sources.push((profile.name.clone(), shown));
    }

    if args.format == "json" {
        let document = json_document(&plans, &sources, &cwd, args.check);
        let stale = document
            .iter()
            .flat_map(|plan| &plan.files)
            .any(|file| file.status == "stale");
        if !args.check {
            write_plans(&plans, &cwd, true)?;
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "plans": document }))?
        );
        return match stale {
            true => Err(Failure::Reported.into()),
            false => Ok(()),
        };
    }
    if args.check {
        let plans: Vec<_> = plans
            .into_iter()
            .map(|(dir, files, _)| (dir, files))
            .collect();
        return check(&plans, &cwd, "dockgen render");
    }
    write_plans(&plans, &cwd, quiet)
}

type Plan = (PathBuf, Vec<RenderedFile>, Vec<WheelhouseFile>);

fn write_plans(plans: &[Plan], cwd: &Path, quiet: bool) -> anyhow::Result<()> {
    for (dir, files, stored) in plans {
        for file in files {
            write_atomically(&dir.join(&file.path), file.contents.as_bytes())?;
        }
        let wheels = dir.join("wheels");
        for file in stored {
            std::fs::create_dir_all(&wheels)
                .with_context(|| format!("cannot create `{}`", display_path(&wheels, cwd)))?;
            materialize(&file.path, &wheels.join(&file.filename))?;
        }
        if !quiet {
            eprintln!(
                "rendered {} files -> {}",
                files.len(),
                display_path(dir, cwd)
            );
        }
    }
    Ok(())
}

/// `render --format json`: one entry per profile.
#[derive(serde::Serialize)]
struct JsonPlan {
    profile: String,
    lock: String,
    /// The plan's directory.
    dir: String,
    files: Vec<JsonFile>,
    /// Files of the lock's direct references put into `wheels/` (`--wheelhouse`).
    wheels: Vec<String>,
}

#[derive(serde::Serialize)]
struct JsonFile {
    /// Relative to `dir`.
    path: String,
    /// `written` or `unchanged` (the same bytes were there); under `--check`,
    /// `up-to-date` or `stale`.
    status: &'static str,
    /// A stale file's unified diff, under `--check`.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

/// What writing (or, `checking`, comparing) `plans` does to each file, decided before
/// anything is written.
fn json_document(
    plans: &[Plan],
    sources: &[(String, String)],
    cwd: &Path,
    checking: bool,
) -> Vec<JsonPlan> {
    plans
        .iter()
        .zip(sources)
        .map(|((dir, files, stored), (profile, lock))| JsonPlan {
            profile: profile.clone(),
            lock: lock.clone(),
            dir: display_path(dir, cwd),
            files: files
                .iter()
                .map(|file| {
                    let path = dir.join(&file.path);
                    let diff = stale_diff(&path, &file.contents, &display_path(&path, cwd));
                    let status = match (checking, diff.is_some()) {
                        (true, true) => "stale",
                        (true, false) => "up-to-date",
                        (false, true) => "written",
                        (false, false) => "unchanged",
                    };
                    JsonFile {
                        path: file.path.clone(),
                        status,
                        // The file on disk may be anyone's: it may carry credentials.
                        diff: diff
                            .filter(|_| checking)
                            .map(|diff| crate::secrets::text(&diff)),
                    }
                })
                .collect(),
            wheels: stored.iter().map(|file| file.filename.clone()).collect(),
        })
        .collect()
}

/// The files of `lock`'s direct references, in the package store (fetched, or
/// exported from git, when it lacks them).
fn store_direct(
    lock: &crate::lock::LockFile,
    network: &crate::cli::NetworkArgs,
) -> anyhow::Result<Vec<WheelhouseFile>> {
    let mut options = super::client_options(network, None);
    options.direct_urls = super::direct_urls(lock);
    let client = RegistryClient::new(Vec::new(), Vec::new(), options)?;
    let cache_dir = store_dir(network.cache_dir.as_deref(), &client)?;
    let store = FileStore::new(&cache_dir);
    let direct = store_direct_pins(lock, &client, &store, &cache_dir)?;
    Ok(direct.into_iter().map(|direct| direct.file).collect())
}

fn rerun_command(args: &RenderArgs, spec: &str) -> String {
    let mut command = format!("dockgen render --profile {spec}");
    if args.wheelhouse {
        command.push_str(" --wheelhouse");
    }
    for url in &args.index_url {
        command.push_str(&format!(" --index-url {url}"));
    }
    command
}

/// Print a diff for every file that differs from what would be rendered; `command`
/// is the one that brings them up to date.
pub fn check(
    plans: &[(PathBuf, Vec<RenderedFile>)],
    cwd: &Path,
    command: &str,
) -> anyhow::Result<()> {
    let mut stale = 0;
    for (dir, files) in plans {
        for file in files {
            let path = dir.join(&file.path);
            let label = display_path(&path, cwd);
            if let Some(diff) = stale_diff(&path, &file.contents, &label) {
                // The file on disk may be anyone's: it may carry credentials.
                print!("{}", crate::secrets::text(&diff));
                stale += 1;
            }
        }
    }
    if stale > 0 {
        eprintln!("{stale} rendered file(s) are stale: run `{command}` again");
        return Err(Failure::Reported.into());
    }
    eprintln!("rendered files are up to date");
    Ok(())
}
