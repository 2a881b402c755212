//! The build matrix: one `docker buildx bake` target per profile, and the same list as
//! a GitHub Actions matrix, so each hardware target builds on a runner of its own
//! platform with BuildKit's remote cache (no scheduler of dockgen's own).

use serde::Serialize;

use super::{RenderError, templates};
use crate::input::profile::{Platform, Profile};

/// Where BuildKit keeps its cache between CI runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cache {
    /// The GitHub Actions cache, one scope per profile.
    GitHubActions,
    /// A registry reference; each profile gets the tag `buildcache-<profile>`.
    Registry(String),
}

#[derive(Debug, Serialize)]
struct BakeContext {
    file_name: String,
    targets: Vec<BakeTarget>,
}

#[derive(Debug, Serialize)]
struct BakeTarget {
    name: String,
    profile: String,
    context: String,
    platform: String,
    tag: String,
    cache_from: String,
    cache_to: String,
}

/// One row of the GitHub Actions matrix (`strategy.matrix: ${{ fromJSON(...) }}`).
#[derive(Debug, Serialize)]
struct MatrixRow {
    profile: String,
    #[serde(rename = "bake-target")]
    bake_target: String,
    platform: String,
    #[serde(rename = "runs-on")]
    runs_on: &'static str,
    context: String,
    gpu: bool,
}

#[derive(Debug, Serialize)]
struct Matrix {
    include: Vec<MatrixRow>,
}

#[derive(Debug, Serialize)]
struct WorkflowContext {
    rows: Vec<WorkflowRow>,
    /// JSON-quoted, as YAML reads it.
    install: String,
    rerun: String,
}

/// One job of the workflow; the strings a user chose are JSON-quoted (valid YAML).
#[derive(Debug, Serialize)]
struct WorkflowRow {
    profile: String,
    profile_file: String,
    platform: String,
    runs_on: &'static str,
    image: String,
    /// `true` or `false`, as YAML spells them.
    gpu: &'static str,
}

/// The GitHub-hosted runner of a platform's own architecture.
fn runner(platform: Platform) -> &'static str {
    match platform {
        Platform::LinuxAmd64 => "ubuntu-24.04",
        Platform::LinuxArm64 => "ubuntu-24.04-arm",
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// A GitHub Actions workflow: one job per profile (`(profile, as given)`: a built-in
/// name or a YAML file, which `dockgen build` reads on the runner), building the
/// committed lock with `dockgen build`, pushing `<image>:<profile>` with its inline
/// cache and taking the previous push as `--cache-from`, and uploading the artifacts.
/// `install` is the step that puts `dockgen` on the runner's PATH.
pub fn github_workflow(
    profiles: &[(&Profile, &str)],
    image: &str,
    install: &str,
    rerun: &str,
) -> Result<String, RenderError> {
    let rows = profiles
        .iter()
        .map(|(profile, spec)| WorkflowRow {
            profile: profile.name.clone(),
            profile_file: quoted(spec),
            platform: profile.platform.to_string(),
            runs_on: runner(profile.platform),
            image: quoted(&format!("{image}:{}", profile.name)),
            gpu: if profile.accelerator.is_gpu() {
                "true"
            } else {
                "false"
            },
        })
        .collect();
    templates::render(
        "github-workflow.yml",
        &WorkflowContext {
            rows,
            install: quoted(install),
            rerun: rerun.to_string(),
        },
    )
}

pub struct MatrixFiles {
    pub bake: String,
    pub github_matrix: String,
}

/// `build_dir` is where `dockgen render` put each profile's plan (`<build_dir>/<name>`),
/// as the bake file should refer to it; `image` the repository tags go to.
pub fn render(
    profiles: &[Profile],
    build_dir: &str,
    image: &str,
    cache: &Cache,
    bake_file_name: &str,
) -> Result<MatrixFiles, RenderError> {
    let mut targets = Vec::new();
    let mut rows = Vec::new();
    for profile in profiles {
        // Bake target names allow letters, digits, `-` and `_`; profile names may also
        // hold dots.
        let name = profile.name.replace('.', "_");
        let context = format!("{}/{}", build_dir.trim_end_matches('/'), profile.name);
        let (cache_from, cache_to) = match cache {
            Cache::GitHubActions => (
                format!("type=gha,scope=dockgen-{name}"),
                format!("type=gha,scope=dockgen-{name},mode=max"),
            ),
            Cache::Registry(reference) => (
                format!("type=registry,ref={reference}:buildcache-{name}"),
                format!("type=registry,ref={reference}:buildcache-{name},mode=max"),
            ),
        };
        targets.push(BakeTarget {
            name: name.clone(),
            profile: profile.name.clone(),
            context: context.clone(),
            platform: profile.platform.to_string(),
            tag: format!("{image}:{}", profile.name),
            cache_from,
            cache_to,
        });
        rows.push(MatrixRow {
            profile: profile.name.clone(),
            bake_target: name,
            platform: profile.platform.to_string(),
            runs_on: runner(profile.platform),
            context,
            gpu: profile.accelerator.is_gpu(),
        });
    }
    let bake = templates::render(
        "docker-bake.hcl",
        &BakeContext {
            file_name: bake_file_name.to_string(),
            targets,
        },
    )?;
    let mut github_matrix =
        serde_json::to_string_pretty(&Matrix { include: rows }).unwrap_or_else(|_| "{}".into());
    github_matrix.push('\n');
    Ok(MatrixFiles {
        bake,
        github_matrix,
    })
}
