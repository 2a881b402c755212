//! `dockgen lock`: inputs + profiles -> one hash-locked lock file per profile.
//!
//! Plan first, then act: every input and profile is read and checked before the first
//! request goes out, so a typo in the third profile does not cost a resolution of the
//! first two. Profiles resolve in parallel against one shared index client, and every
//! lock is written atomically only after all of them succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use pep508_rs::{ExtraName, PackageName};

use super::Failure;
use super::files::{display_path, relative_path, stale_diff, write_atomically};
use crate::cli::LockArgs;
use crate::index::find_links::FindLinksSource;
use crate::index::registry::{IndexConfig, RegistryClient};
use crate::input::profile::{self, Profile};
use crate::input::pyproject::read_pyproject;
use crate::input::requirements::{
    FindLinks, InputRequirement, RequirementsInput, parse_requirements_file,
};
use crate::input::target::Target;
use crate::lock::{self, LockHeader};
use crate::resolve::{
    self, AcceleratorPolicy, Resolution, ResolveError, ResolveRequest, RootRequirement,
};

/// One profile's job: everything needed to resolve it and where the lock goes.
struct Job {
    profile: Profile,
    request: ResolveRequest,
    indexes: Vec<IndexConfig>,
    lock_path: PathBuf,
    header: LockHeader,
    /// The existing lock, to compare kept pins' files with.
    previous: Option<lock::LockFile>,
}

pub fn run(args: &LockArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let input_path = cwd.join(&args.input);
    let input = read_input(&input_path, &args.extras)?;
    let overrides = read_overrides(&args.overrides, &cwd)?;
    if args.output.is_some() && args.profiles.len() > 1 {
        bail!(
            "`--output` names one file, but {} profiles were given: use `--locks-dir` instead",
            args.profiles.len()
        );
    }
    let exclude_newer = args
        .exclude_newer
        .as_deref()
        .map(parse_timestamp)
        .transpose()?;
    let upgrade: BTreeSet<PackageName> = args
        .upgrade_packages
        .iter()
        .map(|n| {
            PackageName::from_str(n)
                .with_context(|| format!("`--upgrade-package {n}` is not a package name"))
        })
        .collect::<Result<_, _>>()?;

    let input_dir = input_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let locks_dir = match &args.locks_dir {
        Some(dir) => cwd.join(dir),
        None => input_dir.join("locks"),
    };

    let mut jobs = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in &args.profiles {
        let profile =
            profile::load(spec, &cwd).with_context(|| format!("cannot load profile `{spec}`"))?;
        if !seen.insert(profile.name.clone()) {
            bail!("profile `{}` is given twice", profile.name);
        }
        let lock_path = match &args.output {
            Some(output) => cwd.join(output),
            None => locks_dir.join(format!("{}.txt", profile.name)),
        };
        // Read even under `--upgrade`: a kept version's files are compared with it
        // (`pinned`). Unreadable, it only stops a run that would keep its pins. An
        // empty file (or a device, `-o /dev/null`) has nothing to keep.
        let previous = match lock_path.exists() {
            false => None,
            true => match lock::read(&lock_path) {
                Err(lock::ReadError::NoPins { .. }) => None,
                Err(err) if args.upgrade => {
                    tracing::debug!("not comparing with the old lock: {err}");
                    None
                }
                other => Some(
                    other.context("cannot keep the existing pins (`--upgrade` ignores them)")?,
                ),
            },
        };
        let preferences = match (&previous, args.upgrade) {
            (Some(previous), false) => previous
                .pins
                .iter()
                .filter(|(name, _)| !upgrade.contains(*name))
                .map(|(name, pin)| (name.clone(), pin.version.clone()))
                .collect(),
            _ => BTreeMap::new(),
        };
        let target = Target::from_profile(&profile)?;
        if let Some(requires) = &input.requires_python
            && !requires.contains(&target.python)
        {
            tracing::warn!(
                "`{}` says requires-python `{requires}`, but profile `{}` targets Python {}",
                input_path.display(),
                profile.name,
                target.python
            );
        }
        let indexes = index_configs(&profile, &input, exclude_newer);
        let header = header(
            &cwd,
            &profile,
            &profile_argument(spec, &cwd, &input_dir),
            &indexes,
            &input,
            &lock_path,
            &input_path,
            args,
        );
        let request = ResolveRequest {
            target,
            requirements: root_requirements(&input.requirements, &lock_path),
            constraints: root_requirements(&input.constraints, &lock_path),
            overrides: overrides.clone(),
            preferences,
            prereleases: args.pre || input.pre,
            only_binary: input.only_binary.clone(),
            no_binary: input.no_binary.clone(),
            accelerator: accelerator_policy(&profile),
        };
        jobs.push(Job {
            profile,
            request,
            indexes,
            lock_path,
            header,
            previous,
        });
    }

    let progress = super::show_progress(quiet).then(super::progress_bar);
    let options = super::client_options(&args.network, progress.clone());
    let find_links = find_links(&input);
    let client = RegistryClient::new(all_indexes(&jobs)?, find_links, options)?;

    // Resolve every profile, in parallel, against the one client.
    let results: Vec<(usize, Result<Resolution, ResolveError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let source = client.for_indexes(&job.indexes);
                let handle =
                    scope.spawn(move || resolve::resolve(&source, &job.request, &job.profile.name));
                (i, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(i, h)| (i, h.join().expect("resolver thread panicked")))
            .collect()
    });

    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let mut rendered = Vec::new();
    let mut failures = Vec::new();
    for (i, result) in results {
        match result {
            Ok(resolution) => {
                lock::check(&resolution, &jobs[i].header).map_err(|message| {
                    anyhow::anyhow!(
                        "refusing to write the lock of profile `{}`: {message}",
                        jobs[i].profile.name
                    )
                })?;
                let text = lock::render(&resolution, &jobs[i].header);
                rendered.push((i, text, resolution));
            }
            Err(ResolveError::Index(error)) => return Err(error.into()),
            Err(error) => failures.push(format!("{error}")),
        }
    }
    if !failures.is_empty() {
        return Err(Failure::Resolution(failures.join("\n\n")).into());
    }

    compare_pinned_files(&jobs, &rendered, &client, args, &upgrade)?;

    if args.check {
        return check(&jobs, &rendered, &cwd);
    }
    for (i, text, resolution) in &rendered {
        let job = &jobs[*i];
        // Render everything first: a pylock that cannot be written must not leave a
        // lock written beside it.
        let pylock = match args.pylock {
            true => Some((
                pylock_path(&job.lock_path, &job.profile.name),
                pylock(job, resolution)?,
            )),
            false => None,
        };
        write_atomically(&job.lock_path, text.as_bytes())?;
        if let Some((path, text)) = pylock {
            write_atomically(&path, text.as_bytes())?;
        }
        if !quiet {
            let count = resolution.packages.len();
            let noun = if count == 1 { "package" } else { "packages" };
            eprintln!(
                "locked {count} {noun} for `{}` -> {}",
                job.profile.name,
                display_path(&job.lock_path, &cwd)
            );
        }
    }
    if !quiet {
        eprintln!("done in {:.1}s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Files replaced under kept pins stop the run before any lock is written
/// ([`super::pinned`]); the other changes are warnings.
fn compare_pinned_files(
    jobs: &[Job],
    rendered: &[(usize, String, Resolution)],
    client: &RegistryClient,
    args: &LockArgs,
    upgrade: &BTreeSet<PackageName>,
) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for (i, _, resolution) in rendered {
        let job = &jobs[*i];
        let Some(previous) = &job.previous else {
            continue;
        };
        let names = super::pinned::pylock_names(&pylock_path(&job.lock_path, &job.profile.name));
        let source = client.for_indexes(&job.indexes);
        let drift = super::pinned::compare(previous, &names, resolution, &source, |name| {
            args.upgrade || upgrade.contains(name)
        })?;
        for warning in drift.warnings {
            tracing::warn!("profile `{}`: {warning}", job.profile.name);
        }
        errors.extend(
            drift
                .errors
                .into_iter()
                .map(|e| format!("profile `{}`: {e}", job.profile.name)),
        );
    }
    if !errors.is_empty() {
        bail!("{}\nno lock was written", errors.join("\n"));
    }
    Ok(())
}

fn read_input(path: &Path, extras: &[String]) -> anyhow::Result<RequirementsInput> {
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    if is_pyproject {
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| {
                ExtraName::from_str(e)
                    .with_context(|| format!("`--extra {e}` is not a valid extra name"))
            })
            .collect::<Result<_, _>>()?;
        Ok(read_pyproject(path, &extras)?)
    } else {
        if !extras.is_empty() {
            bail!(
                "`--extra` selects optional groups of a `pyproject.toml`; `{}` is a requirements file",
                path.display()
            );
        }
        Ok(parse_requirements_file(path)?)
    }
}

fn read_overrides(files: &[PathBuf], cwd: &Path) -> anyhow::Result<Vec<RootRequirement>> {
    let mut overrides = Vec::new();
    for file in files {
        let input = parse_requirements_file(&cwd.join(file))?;
        overrides.extend(root_requirements(&input.requirements, cwd));
    }
    Ok(overrides)
}

/// `# via` labels name the input file relative to the lock, pip-compile style.
fn root_requirements(requirements: &[InputRequirement], lock_path: &Path) -> Vec<RootRequirement> {
    let base = lock_path.parent().unwrap_or(Path::new("."));
    requirements
        .iter()
        .map(|r| RootRequirement {
            requirement: r.requirement.clone(),
            source: format!("-r {}", relative_path(&r.origin.file, base)),
        })
        .collect()
}

fn parse_timestamp(value: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let date = match value.parse::<jiff::civil::Date>() {
        Ok(date) => date,
        Err(err) => {
            // Say what is wrong with a `Y-M-D` date in words: the parser's own message
            // for `9999999-01-01` is about the month.
            let why = date_problem(value).unwrap_or_else(|| {
                format!(
                    "expected an RFC 3339 timestamp (2025-09-01T00:00:00Z) or a date like \
                     2025-09-01 ({err})"
                )
            });
            bail!("`--exclude-newer {value}`: {why}");
        }
    };
    Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp())
}

/// What is wrong with `value` when it has the shape of a date (`digits-digits-digits`).
fn date_problem(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split('-').collect();
    let [year, month, day] = parts[..] else {
        return None;
    };
    if [year, month, day]
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if year.len() != 4 {
        return Some(format!(
            "the year `{year}` is out of range: write the year with four digits (0001 to 9999)"
        ));
    }
    let month_number = month.parse::<i8>().ok().filter(|m| (1..=12).contains(m));
    let Some(month_number) = month_number.filter(|_| month.len() <= 2) else {
        return Some(format!(
            "`{month}` is not a month: months run from 01 to 12"
        ));
    };
    if month.len() != 2 || day.len() != 2 {
        return Some("write the date as YYYY-MM-DD, like 2025-09-01".to_string());
    }
    let year_number: i16 = year.parse().ok()?;
    let days = jiff::civil::Date::new(year_number, month_number, 1)
        .ok()?
        .days_in_month();
    let valid = day.parse::<i8>().is_ok_and(|d| (1..=days).contains(&d));
    (!valid).then(|| format!("{year}-{month} has no day `{day}`: its days run from 01 to {days}"))
}

/// The profile's indexes, with the input's `--index-url` replacing the profile's
/// general-purpose indexes and `--extra-index-url` appended; pinned indexes stay.
pub(crate) fn index_configs(
    profile: &Profile,
    input: &RequirementsInput,
    exclude_newer: Option<jiff::Timestamp>,
) -> Vec<IndexConfig> {
    if input.no_index {
        return Vec::new();
    }
    let mut configs: Vec<IndexConfig> = profile
        .indexes
        .iter()
        .filter(|i| i.packages.is_some() || input.index_url.is_none())
        .map(|i| IndexConfig {
            name: i.name.clone(),
            url: i.url.clone(),
            packages: i.packages.as_ref().map(|p| p.iter().cloned().collect()),
            exclude_newer: exclude_newer.or(i.exclude_newer),
        })
        .collect();
    let extra = input.index_url.iter().chain(&input.extra_index_urls);
    for (n, url) in extra.enumerate() {
        if configs.iter().any(|c| c.url == *url) {
            continue;
        }
        configs.push(IndexConfig {
            name: if n == 0 && input.index_url.is_some() {
                "index-url".into()
            } else {
                format!("extra-index-{n}")
            },
            url: url.clone(),
            packages: None,
            exclude_newer,
        });
    }
    configs
}

/// Every index any job uses, once by name, so one client (and one set of
/// credentials) serves them all; each job then views them in its own order.
fn all_indexes(jobs: &[Job]) -> anyhow::Result<Vec<IndexConfig>> {
    let mut all: Vec<IndexConfig> = Vec::new();
    for job in jobs {
        for index in &job.indexes {
            match all.iter().find(|known| known.name == index.name) {
                Some(known) if known.url != index.url => bail!(
                    "two profiles name different URLs `{}`: `{}` and `{}`; give the indexes different names",
                    index.name,
                    crate::secrets::url(&known.url),
                    crate::secrets::url(&index.url)
                ),
                Some(_) => {}
                None => all.push(index.clone()),
            }
        }
    }
    Ok(all)
}

fn find_links(input: &RequirementsInput) -> Vec<FindLinksSource> {
    input
        .find_links
        .iter()
        .map(|f| match f {
            FindLinks::Directory(dir) => FindLinksSource::Dir(dir.clone()),
            FindLinks::Url(url) => FindLinksSource::Page(url.clone()),
        })
        .collect()
}

/// What `lock` demands of the profile's accelerated packages (the audit views judge
/// a lock by the same policy).
pub(crate) fn accelerator_policy(profile: &Profile) -> AcceleratorPolicy {
    let mut pinned = BTreeMap::new();
    for index in &profile.indexes {
        for name in index.packages.iter().flatten() {
            pinned.insert(name.clone(), index.name.clone());
        }
    }
    AcceleratorPolicy {
        accelerator: profile.accelerator.clone(),
        packages: profile.accelerated_packages.clone(),
        pinned,
    }
}

#[allow(clippy::too_many_arguments)]
fn header(
    cwd: &Path,
    profile: &Profile,
    profile_arg: &str,
    indexes: &[IndexConfig],
    input: &RequirementsInput,
    lock_path: &Path,
    input_path: &Path,
    args: &LockArgs,
) -> LockHeader {
    let lock_dir = lock_path.parent().unwrap_or(Path::new("."));
    let input_dir = input_path.parent().unwrap_or(Path::new("."));
    let mut command = vec![
        "dockgen lock".to_string(),
        relative_path(input_path, input_dir),
    ];
    command.push(format!("--profile {profile_arg}"));
    for extra in &args.extras {
        command.push(format!("--extra {extra}"));
    }
    for file in &args.overrides {
        command.push(format!(
            "--override {}",
            relative_path(&cwd.join(file), input_dir)
        ));
    }
    if let Some(date) = &args.exclude_newer {
        command.push(format!("--exclude-newer {date}"));
    }
    if args.pre {
        command.push("--pre".into());
    }
    let general: Vec<&IndexConfig> = indexes.iter().filter(|i| i.packages.is_none()).collect();
    let pinned: Vec<&IndexConfig> = indexes.iter().filter(|i| i.packages.is_some()).collect();
    LockHeader {
        profile: profile.name.clone(),
        target: profile.target_summary(),
        command: command.join(" "),
        inputs: input
            .files
            .iter()
            .map(|f| relative_path(f, lock_dir))
            .collect(),
        exclude_newer: indexes
            .iter()
            .filter_map(|i| i.exclude_newer.map(|t| (i.name.clone(), t.to_string())))
            .collect(),
        indexes: general
            .iter()
            .chain(pinned.iter())
            .map(|i| (i.name.clone(), crate::secrets::url(&i.url)))
            .collect(),
        find_links: input
            .find_links
            .iter()
            .map(|f| match f {
                FindLinks::Directory(dir) => relative_path(dir, lock_dir),
                FindLinks::Url(url) => crate::secrets::url(url),
            })
            .collect(),
    }
}

/// `--profile` as the lock's regenerate command must spell it, run from the input's
/// directory: a built-in by name, a file by its path relative to that directory (kept
/// recognisable as a path, so `prof` in the input's directory becomes `./prof`).
fn profile_argument(spec: &str, cwd: &Path, input_dir: &Path) -> String {
    if !profile::is_path_spec(spec) {
        return spec.to_string();
    }
    let relative = relative_path(&cwd.join(spec), input_dir);
    if profile::is_path_spec(&relative) {
        relative
    } else {
        format!("./{relative}")
    }
}

/// `pylock.<profile>.toml` beside the lock (PEP 751 names it `pylock.<name>.toml`).
fn pylock_path(lock_path: &Path, profile: &str) -> PathBuf {
    lock_path.with_file_name(format!("pylock.{profile}.toml"))
}

fn pylock(job: &Job, resolution: &Resolution) -> anyhow::Result<String> {
    let target = &job.request.target;
    let machine = target.markers.platform_machine();
    let environment = format!(
        "sys_platform == 'linux' and platform_machine == '{machine}' and python_full_version == '{}'",
        target.python
    );
    let urls: BTreeMap<&str, String> = job
        .indexes
        .iter()
        .map(|i| (i.name.as_str(), crate::secrets::url(&i.url)))
        .collect();
    lock::pylock::render(
        resolution,
        environment,
        &target.python.to_string(),
        |name| urls.get(name).cloned().unwrap_or_else(|| name.to_string()),
    )
    .with_context(|| format!("cannot render the pylock of `{}`", job.profile.name))
}

fn check(jobs: &[Job], rendered: &[(usize, String, Resolution)], cwd: &Path) -> anyhow::Result<()> {
    let mut stale = false;
    for (i, text, _) in rendered {
        let job = &jobs[*i];
        let path = display_path(&job.lock_path, cwd);
        match stale_diff(&job.lock_path, text, &path) {
            None => eprintln!("`{path}` is up to date"),
            Some(diff) => {
                stale = true;
                // The file on disk may be anyone's: it may carry credentials.
                print!("{}", crate::secrets::text(&diff));
                eprintln!("`{path}` is stale: run `{}`", job.header.command);
            }
        }
    }
    if stale {
        Err(Failure::Reported.into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/a/b/req.in"), Path::new("/a/b/locks")),
            "../req.in"
        );
        assert_eq!(
            relative_path(Path::new("/a/b/locks/x.txt"), Path::new("/a/b")),
            "locks/x.txt"
        );
        assert_eq!(relative_path(Path::new("/a/./b/c"), Path::new("/a/b")), "c");
    }

    #[test]
    fn profile_files_are_named_from_the_input_directory() {
        let (cwd, input_dir) = (Path::new("/p"), Path::new("/p/app"));
        assert_eq!(
            profile_argument("cuda12-x86_64", cwd, input_dir),
            "cuda12-x86_64"
        );
        assert_eq!(profile_argument("gpu.yaml", cwd, input_dir), "../gpu.yaml");
        assert_eq!(profile_argument("app/gpu.yaml", cwd, input_dir), "gpu.yaml");
        assert_eq!(
            profile_argument("app/profiles/gpu", cwd, input_dir),
            "profiles/gpu"
        );
        assert_eq!(profile_argument("./app/gpu", cwd, input_dir), "./gpu");
    }

    #[test]
    fn exclude_newer_accepts_dates_and_timestamps() {
        assert_eq!(
            parse_timestamp("2025-09-01").unwrap().to_string(),
            "2025-09-01T00:00:00Z"
        );
        assert_eq!(
            parse_timestamp("2025-09-01T12:30:00Z").unwrap().to_string(),
            "2025-09-01T12:30:00Z"
        );
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn exclude_newer_says_what_is_wrong_with_a_date() {
        let out: String = [
            "9999999-01-01",
            "10000-01-01",
            "2025-13-01",
            "2025-001-01",
            "2025-02-30",
            "2024-02-30",
            "2025-04-31",
            "2025-9-1",
            "2025-09-01T25:00:00Z",
            "yesterday",
        ]
        .iter()
        .map(|value| format!("{}\n", parse_timestamp(value).unwrap_err()))
        .collect();
        insta::assert_snapshot!(out);
    }
}
