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
                profile::check_image_reference(reference)
                    .map_err(|why| anyhow::anyhow!("`--cache {other}`: {why}"))?;
                Cache::Registry(reference.to_string())
            }
            None => bail!("`--cache {other}`: expected `gha` or `registry:<REF>`"),
        },
    };
    profile::check_image_reference(&args.image)
        .map_err(|why| anyhow::anyhow!("`--image {}`: {why}", args.image))?;
    if args
        .build_dir
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        bail!(
            "`--build-dir {}` cannot hold quotes, backslashes or control characters",
            args.build_dir
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
        return super::render::check(&plan, &cwd);
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
