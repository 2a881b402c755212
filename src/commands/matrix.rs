//! `dockgen matrix`: profiles -> `docker-bake.hcl` + `dockgen-matrix.json`.

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
    let plan = vec![(
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
    if args.check {
        return super::render::check(&plan, &cwd, "dockgen matrix");
    }
    for file in &plan[0].1 {
        write_atomically(&dir.join(&file.path), file.contents.as_bytes())?;
    }
    if !quiet {
        eprintln!(
            "{} targets -> {} and {}",
            profiles.len(),
            display_path(&dir.join(BAKE_FILE), &cwd),
            display_path(&dir.join(MATRIX_FILE), &cwd)
        );
    }
    Ok(())
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
