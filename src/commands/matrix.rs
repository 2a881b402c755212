//! `dockgen matrix`: profiles -> `docker-bake.hcl` + `dockgen-matrix.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::files::{display_path, write_atomically};
use crate::cli::MatrixArgs;
use crate::input::profile;
use crate::render::RenderedFile;
use crate::render::matrix::{self, Cache};

const BAKE_FILE: &str = "docker-bake.hcl";
const MATRIX_FILE: &str = "dockgen-matrix.json";

pub fn run(args: &MatrixArgs, quiet: bool) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let cache = match args.cache.as_str() {
        "gha" => Cache::GitHubActions,
        other => match other.strip_prefix("registry:") {
            Some(reference) => {
                check_repository(
                    &format!("--cache {}", other.escape_debug()),
                    reference,
                    "buildcache-<profile>",
                )?;
                Cache::Registry(reference.to_string())
            }
            None => bail!(
                "`--cache {}`: expected `gha` or `registry:<REF>`",
                other.escape_debug()
            ),
        },
    };
    check_repository(
        &format!("--image {}", args.image.escape_debug()),
        &args.image,
        "<profile>",
    )?;
    if args
        .build_dir
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        bail!(
            "`--build-dir {}` cannot hold quotes, backslashes or control characters",
            args.build_dir.escape_debug()
        );
    }
    let profiles = args
        .profiles
        .iter()
        .map(|spec| {
            profile::load(spec, &cwd).with_context(|| format!("cannot load profile `{spec}`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let files = matrix::render(&profiles, &args.build_dir, &args.image, &cache, BAKE_FILE)?;
    let dir = cwd.join(&args.out_dir);
    let mut plan = vec![(
        dir.clone(),
        vec![
            RenderedFile {
                path: BAKE_FILE.into(),
                contents: files.bake,
            },
            RenderedFile {
                path: MATRIX_FILE.into(),
                contents: files.github_matrix,
            },
        ],
    )];
    if let Some(path) = &args.github_workflow {
        plan.push(workflow(args, &profiles, path, &cwd)?);
    }
    if args.check {
        return super::render::check(&plan, &cwd, "dockgen matrix");
    }
    for (dir, files) in &plan {
        for file in files {
            write_atomically(&dir.join(&file.path), file.contents.as_bytes())?;
        }
    }
    if !quiet {
        let written: Vec<String> = plan
            .iter()
            .flat_map(|(dir, files)| files.iter().map(|f| display_path(&dir.join(&f.path), &cwd)))
            .collect();
        let (last, rest) = written.split_last().expect("the bake file at least");
        eprintln!(
            "{} targets -> {} and {last}",
            profiles.len(),
            rest.join(", ")
        );
    }
    Ok(())
}

/// The workflow file `--github-workflow` names, as a plan entry.
fn workflow(
    args: &MatrixArgs,
    profiles: &[profile::Profile],
    path: &Path,
    cwd: &Path,
) -> anyhow::Result<(PathBuf, Vec<RenderedFile>)> {
    // One name alone (`dockgen-app`) would be Docker Hub's `library/`, which no one
    // can push to.
    if !args.image.contains('/') {
        bail!(
            "`--github-workflow` pushes each profile's image: name a repository in a \
             registry with `--image` (`ghcr.io/org/app`, `registry.example:5000/team/app`), \
             not `{}`",
            args.image.escape_debug()
        );
    }
    // Each profile goes into a job's shell command: a name or a plain path only.
    if let Some(spec) = args.profiles.iter().find(|spec| {
        !spec
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/+".contains(c))
    }) {
        bail!(
            "`--profile {}`: a workflow runs each profile by its name or path, which may \
             hold only letters, digits and `._-/+`",
            spec.escape_debug()
        );
    }
    let path_text = path.to_string_lossy();
    if let Some(word) = [args.install_command.as_str(), &path_text]
        .into_iter()
        .find(|word| word.chars().any(char::is_control))
    {
        bail!(
            "`{}`: control characters cannot go into a workflow",
            word.escape_debug()
        );
    }
    let mut rerun = String::from("dockgen matrix");
    for spec in &args.profiles {
        rerun.push_str(&format!(" --profile {spec}"));
    }
    rerun.push_str(&format!(
        " --image {} --github-workflow {}",
        args.image,
        path.display()
    ));
    let specs: Vec<(&profile::Profile, &str)> = profiles
        .iter()
        .zip(&args.profiles)
        .map(|(p, spec)| (p, spec.as_str()))
        .collect();
    let contents = matrix::github_workflow(&specs, &args.image, &args.install_command, &rerun)?;
    let full = cwd.join(path);
    let (Some(dir), Some(name)) = (full.parent(), full.file_name()) else {
        bail!("`--github-workflow {}`: name a file", path.display());
    };
    Ok((
        dir.to_path_buf(),
        vec![RenderedFile {
            path: name.to_string_lossy().into_owned(),
            contents,
        }],
    ))
}

/// A repository reference that dockgen appends `:<tag>` to: valid, and without a tag
/// or digest of its own (`app:latest:cpu-x86_64` is no reference).
fn check_repository(flag: &str, reference: &str, tag: &str) -> anyhow::Result<()> {
    profile::check_image_reference(reference).map_err(|why| anyhow::anyhow!("`{flag}`: {why}"))?;
    let without_digest = reference.split('@').next().unwrap_or(reference);
    // A `:` after the last `/` starts a tag; one before it belongs to a registry port.
    let repository = match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    };
    if repository != reference {
        bail!(
            "`{flag}`: name a repository without a tag or digest (`{repository}`); dockgen \
             tags it `{repository}:{tag}`"
        );
    }
    Ok(())
}
