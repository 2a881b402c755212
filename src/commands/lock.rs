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
use super::files::{display_path, relative_path, stale_diff, write_atomically, writes_in_place};
use crate::cli::{IndexStrategyArg, LockArgs};
use crate::index::direct::{DirectArchives, DirectRefs, DirectSource};
use crate::index::find_links::FindLinksSource;
use crate::index::registry::{IndexConfig, RegistryClient};
use crate::index::strategy::IndexStrategy;
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
use crate::sdist::{BuildOptions, Builder, BuildingSource, ProfileBuilds};

/// One profile's job: everything needed to resolve it and where the lock goes.
struct Job {
    profile: Profile,
    request: ResolveRequest,
    indexes: Vec<IndexConfig>,
    lock_path: PathBuf,
    header: LockHeader,
    /// The existing lock, to compare kept pins' files with.
    previous: Option<lock::LockFile>,
    /// The commits of the existing lock's git pins that this run keeps.
    kept_commits: BTreeMap<PackageName, String>,
    /// What the lock's inputs digest covers besides the lock itself
    /// ([`inputs_statement`]); `None` when the input reads local files or directories
    /// whose content the lock does not record, so no digest can vouch for them.
    inputs: Option<String>,
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
        if lock_path.is_dir() {
            bail!(
                "cannot write the lock `{}`: it is a directory",
                lock_path.display()
            );
        }
        if args.pylock && profile.name.contains('.') {
            bail!(
                "`--pylock` cannot name a lock for profile `{name}`: PEP 751 names a lock \
                 `pylock.<name>.toml` with no `.` in `<name>`, and `pylock.{name}.toml` is not \
                 one (uv refuses it; pip reads it as a requirements file). Rename the profile \
                 (`name:` in its YAML, e.g. `{renamed}`), or leave out `--pylock`",
                name = profile.name,
                renamed = profile.name.replace('.', "-"),
            );
        }
        if args.format == "json" && writes_in_place(&lock_path) {
            bail!(
                "`--format json` prints its document on stdout, but the lock goes to `{}`: \
                 give `-o` a file path, or leave out `--format json`",
                lock_path.display()
            );
        }
        if args.pylock && writes_in_place(&lock_path) {
            bail!(
                "`--pylock` writes `pylock.{}.toml` beside the lock, but `{}` is a device or \
                 a stream: give `-o` a file path, or leave out `--pylock`",
                profile.name,
                lock_path.display()
            );
        }
        // Read even under `--upgrade`: a kept version's files are compared with it
        // (`pinned`). Unreadable, it only stops a run that would keep its pins. An
        // empty file has nothing to keep, and a device or a stream (`-o /dev/null`,
        // `-o /dev/stdout`) is not read at all: a pipe would wait for ever.
        let previous = match lock_path.exists() && !writes_in_place(&lock_path) {
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
        refuse_masked_urls(&indexes, &input)?;
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
            kept_commits: BTreeMap::new(),
            inputs: None,
        });
    }

    let direct = direct_refs(&input, &overrides, &cwd)?;
    let git_revisions: BTreeMap<PackageName, Option<String>> = direct
        .iter()
        .filter_map(|r| r.git.as_ref().map(|git| (r.name.clone(), git.rev.clone())))
        .collect();
    for job in &mut jobs {
        job.header.git_revisions = git_revisions.clone();
        if let Some(previous) = &job.previous
            && !args.upgrade
        {
            job.kept_commits = kept_commits(previous, &direct, &upgrade);
        }
        job.inputs = inputs_statement(job, &input, &direct, args);
    }
    let json = args.format == "json";
    if args.check && !args.upgrade && upgrade.is_empty() && !args.pylock && up_to_date(&jobs, &cwd)
    {
        if json {
            let mut locks = Vec::new();
            for job in &jobs {
                let text = crate::input::text::read_text(&job.lock_path)?;
                locks.push(json_lock(job, &cwd, &text, "up-to-date", None, false)?);
            }
            print_json(locks, started)?;
        }
        return Ok(());
    }
    let archives = DirectArchives::default();

    let progress = super::show_progress(quiet).then(super::progress_bar);
    let mut options = super::client_options(&args.network, progress.clone());
    options.direct_urls = direct.iter().map(|r| r.request_url().clone()).collect();
    let find_links = find_links(&input);
    let client = RegistryClient::new(all_indexes(&jobs)?, find_links, options)?;
    let strategy = index_strategy(args.index_strategy);
    let python = args
        .builds
        .python
        .as_ref()
        .map(|given| crate::sdist::python::locate(given, &cwd));
    if let (Some(python), Some(given)) = (&python, &args.builds.python) {
        crate::sdist::python::probe(python).map_err(|why| {
            anyhow::anyhow!(
                "`--python {}` cannot run metadata builds: {why}",
                given.display()
            )
        })?;
    }
    let builder = Builder::new(
        BuildOptions {
            python,
            no_build: args.builds.no_build,
            timeout: std::time::Duration::from_secs(args.builds.build_timeout.max(1)),
            ..BuildOptions::default()
        },
        client.cache_dir(),
        progress.clone(),
    );

    // Resolve every profile, in parallel, against the one client. Every view is made
    // before any resolution starts: the pages they share are let go once each has read
    // them, so the count of views must be whole from the start.
    let views: Vec<RegistryClient> = jobs
        .iter()
        .map(|job| client.for_target(&job.indexes, strategy, &job.request.target))
        .collect();
    let results: Vec<(usize, Result<Resolution, ResolveError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .zip(views)
            .enumerate()
            .map(|(i, (job, indexes))| {
                let (direct, archives, builder) = (&direct, &archives, &builder);
                let handle = scope.spawn(move || {
                    let builds = ProfileBuilds::new(
                        &indexes,
                        builder,
                        &job.request.target,
                        &job.profile.extra_build_dependencies,
                    );
                    let mut source = DirectSource::new(&indexes, direct, archives)
                        .with_kept_commits(job.kept_commits.clone());
                    if !builder.options().no_build {
                        source = source.with_tree_builds(&builds);
                    }
                    let source = BuildingSource::new(&source, &builds);
                    resolve::resolve(&source, &job.request, &job.profile.name)
                });
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
                let text = match &jobs[i].inputs {
                    Some(inputs) => lock::digest::seal(&text, inputs),
                    None => text,
                };
                rendered.push((i, text, resolution));
            }
            Err(ResolveError::Index(error)) => return Err(error.into()),
            Err(error) => failures.push(format!("{error}")),
        }
    }
    if !failures.is_empty() {
        return Err(Failure::Resolution(failures.join("\n\n")).into());
    }

    compare_pinned_files(
        &jobs,
        &rendered,
        &client,
        (&direct, &archives),
        args,
        &upgrade,
    )?;

    if args.check {
        return check(&jobs, &rendered, &cwd, args.pylock, json.then_some(started));
    }
    let mut summaries = Vec::new();
    for (i, text, resolution) in &rendered {
        let job = &jobs[*i];
        if json {
            let unchanged = !writes_in_place(&job.lock_path)
                && crate::input::text::read_text(&job.lock_path).is_ok_and(|old| old == *text);
            let status = if unchanged { "unchanged" } else { "written" };
            summaries.push(json_lock(job, &cwd, text, status, None, args.pylock)?);
        }
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
    if json {
        print_json(summaries, started)?;
    }
    Ok(())
}

/// `lock --format json`: what the run did, one entry per profile (the README's
/// *`lock --format json`* gives the schema).
#[derive(serde::Serialize)]
struct JsonRun {
    locks: Vec<JsonLock>,
    seconds: f64,
}

#[derive(serde::Serialize)]
struct JsonLock {
    profile: String,
    /// As the messages name it (relative to the current directory when below it).
    lock: String,
    /// The pylock beside it, with `--pylock`.
    pylock: Option<String>,
    /// `written`, `unchanged` (written, the same bytes as before), `up-to-date` or
    /// `stale` (under `--check`).
    status: &'static str,
    packages: usize,
    pins: Vec<JsonPin>,
    /// Against the lock on disk before the run (none: every pin is added): the lists
    /// of `dockgen diff --format json`.
    changes: JsonChanges,
    /// Under `--check`, the unified diff of a stale lock (and pylock).
    diff: Option<String>,
}

#[derive(serde::Serialize)]
struct JsonPin {
    name: String,
    version: String,
    /// A direct reference's URL (credentials masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(serde::Serialize)]
struct JsonChanges {
    added: Vec<crate::audit::diff::Package>,
    removed: Vec<crate::audit::diff::Package>,
    upgraded: Vec<crate::audit::diff::VersionChange>,
    downgraded: Vec<crate::audit::diff::VersionChange>,
    files_changed: Vec<crate::audit::diff::FilesChange>,
    source_changed: Vec<crate::audit::diff::SourceChange>,
}

/// The JSON entry of `job`, whose lock is (or would be) `text`.
fn json_lock(
    job: &Job,
    cwd: &Path,
    text: &str,
    status: &'static str,
    diff: Option<String>,
    with_pylock: bool,
) -> anyhow::Result<JsonLock> {
    use crate::audit::diff::{Side, Source, compare};
    let label = display_path(&job.lock_path, cwd);
    let side = |text: &str| -> Option<Side> {
        Some(Side {
            source: Source {
                label: label.clone(),
                revision: None,
                path: label.clone(),
            },
            lock: lock::parse(text, &job.lock_path).ok()?,
            provenance: lock::provenance(text),
        })
    };
    let new = side(text).with_context(|| {
        format!(
            "cannot read back the lock for `{}`; this is a bug in dockgen",
            job.profile.name
        )
    })?;
    let old = match writes_in_place(&job.lock_path) {
        true => None,
        false => crate::input::text::read_text(&job.lock_path)
            .ok()
            .and_then(|old| side(&old)),
    }
    .unwrap_or_else(|| Side {
        source: new.source.clone(),
        lock: lock::LockFile::default(),
        provenance: lock::Provenance::default(),
    });
    let changes = compare(&old, &new);
    Ok(JsonLock {
        profile: job.profile.name.clone(),
        lock: label,
        pylock: with_pylock
            .then(|| display_path(&pylock_path(&job.lock_path, &job.profile.name), cwd)),
        status,
        packages: new.lock.pins.len(),
        pins: new
            .lock
            .pins
            .values()
            .map(|pin| JsonPin {
                name: pin.name.clone(),
                version: pin.version.to_string(),
                url: pin.url.as_deref().map(crate::secrets::text),
            })
            .collect(),
        changes: JsonChanges {
            added: changes.added,
            removed: changes.removed,
            upgraded: changes.upgraded,
            downgraded: changes.downgraded,
            files_changed: changes.files_changed,
            source_changed: changes.source_changed,
        },
        diff,
    })
}

fn print_json(locks: Vec<JsonLock>, started: Instant) -> anyhow::Result<()> {
    let run = JsonRun {
        locks,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    println!("{}", serde_json::to_string_pretty(&run)?);
    Ok(())
}

/// Files replaced under kept pins stop the run before any lock is written
/// ([`super::pinned`]); the other changes are warnings.
fn compare_pinned_files(
    jobs: &[Job],
    rendered: &[(usize, String, Resolution)],
    client: &RegistryClient,
    (direct, archives): (&DirectRefs, &DirectArchives),
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
        let indexes = client.for_indexes_with(&job.indexes, index_strategy(args.index_strategy));
        let source = DirectSource::new(&indexes, direct, archives)
            .with_kept_commits(job.kept_commits.clone());
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

/// The commits of `previous`'s git pins that a relock keeps: those of references the
/// input still makes to the same repository and revision, unless upgraded (a moved tag
/// or branch is taken only by `--upgrade-package` / `--upgrade`).
fn kept_commits(
    previous: &lock::LockFile,
    direct: &DirectRefs,
    upgrade: &BTreeSet<PackageName>,
) -> BTreeMap<PackageName, String> {
    let mut kept = BTreeMap::new();
    for (name, pin) in &previous.pins {
        let (Some(url), Some(reference)) = (&pin.url, direct.get(name)) else {
            continue;
        };
        let Some(git) = &reference.git else {
            continue;
        };
        if upgrade.contains(name) || !lock::is_git_pin(url) || pin.git_revision != git.rev {
            continue;
        }
        let without_fragment = url.split('#').next().unwrap_or(url);
        if let (repository, Some(commit)) = crate::index::vcs::split_rev(without_fragment)
            && repository == reference.locked
            && crate::index::vcs::is_full_commit(commit)
        {
            kept.insert(name.clone(), commit.to_string());
        }
    }
    kept
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

/// The direct references (`name @ URL`, bare archive URLs and paths) of the input and
/// the overrides, with the `--hash` values given for them.
fn direct_refs(
    input: &RequirementsInput,
    overrides: &[RootRequirement],
    cwd: &Path,
) -> anyhow::Result<DirectRefs> {
    let refs = collect_direct_refs(input, overrides, cwd)?;
    // As for index URLs: a query credential would be written masked, and pip would
    // send the mask.
    if let Some(reference) = refs
        .iter()
        .find(|r| r.locked.contains(crate::secrets::MASK))
    {
        bail!(
            "`{} @ {}` ({}) carries a credential in its URL's query; the lock names the \
             archive by URL for pip, and would have to write it masked: write the value as \
             `${{VAR}}` (at least 8 characters; pip expands it too), or put the credentials \
             in netrc",
            reference.name,
            reference.shown,
            reference.origin
        );
    }
    Ok(refs)
}

fn collect_direct_refs(
    input: &RequirementsInput,
    overrides: &[RootRequirement],
    cwd: &Path,
) -> anyhow::Result<DirectRefs> {
    let from_input = input
        .requirements
        .iter()
        .chain(&input.constraints)
        .map(|r| {
            let origin = format!("{}:{}", display_path(&r.origin.file, cwd), r.origin.line);
            (&r.requirement, r.hashes.as_slice(), origin)
        });
    let from_overrides = overrides
        .iter()
        .map(|r| (&r.requirement, &[][..], r.source.clone()));
    Ok(DirectRefs::collect(from_input.chain(from_overrides))?)
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

/// `--exclude-newer`: a timestamp, or a bare date meaning the end of that day (UTC),
/// as [`profile::parse_exclude_newer`] reads a profile's `exclude_newer`.
fn parse_timestamp(value: &str) -> anyhow::Result<jiff::Timestamp> {
    profile::parse_exclude_newer(value).ok_or_else(|| {
        // Say what is wrong with a `Y-M-D` date in words: the date parser's own message
        // for `9999999-01-01` is about the month.
        let why = date_problem(value).unwrap_or_else(|| {
            let cause = match value.trim().parse::<jiff::civil::Date>() {
                Err(err) => format!(": {err}"),
                Ok(_) => ": no day after it".to_string(),
            };
            format!(
                "expected an RFC 3339 timestamp (2025-09-01T00:00:00Z) or a date like \
                 2025-09-01, which keeps the files uploaded during that day, UTC{cause}"
            )
        });
        anyhow::anyhow!("`--exclude-newer {value}`: {why}")
    })
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

/// The indexes of one profile's lock, in priority order, as uv orders them: the
/// input's `--extra-index-url`s first (as given), then its `--index-url` when it has
/// one, else the profile's general-purpose indexes. Indexes with a `packages:` list
/// stay whatever the input says: they alone serve their packages, and nothing else.
pub(crate) fn index_configs(
    profile: &Profile,
    input: &RequirementsInput,
    exclude_newer: Option<jiff::Timestamp>,
) -> Vec<IndexConfig> {
    if input.no_index {
        return Vec::new();
    }
    let mut base: Vec<IndexConfig> = profile
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
    // Named as before this order existed (`index-url`, then `extra-index-N` counting
    // it), so the names in existing locks' headers stay.
    let mut extras: Vec<IndexConfig> = Vec::new();
    let named = input.index_url.iter().chain(&input.extra_index_urls);
    for (n, url) in named.enumerate() {
        let is_index_url = n == 0 && input.index_url.is_some();
        let same = |c: &IndexConfig| c.url == *url;
        let config = match base.iter().position(same) {
            // A pinned index keeps its role; `--index-url` is where it would go anyway.
            Some(i) if is_index_url || base[i].packages.is_some() => continue,
            // A profile index the input names as an extra index moves up, by its name.
            Some(i) => base.remove(i),
            None if extras.iter().any(same) => continue,
            None => IndexConfig {
                name: match is_index_url {
                    true => "index-url".into(),
                    false => format!("extra-index-{n}"),
                },
                url: url.clone(),
                packages: None,
                exclude_newer,
            },
        };
        match is_index_url {
            true => base.push(config),
            false => extras.push(config),
        }
    }
    extras.extend(base);
    extras
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

fn index_strategy(arg: IndexStrategyArg) -> IndexStrategy {
    match arg {
        IndexStrategyArg::FirstIndex => IndexStrategy::FirstIndex,
        IndexStrategyArg::UnsafeFirstMatch => IndexStrategy::UnsafeFirstMatch,
        IndexStrategyArg::UnsafeBestMatch => IndexStrategy::UnsafeBestMatch,
    }
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
    if args.index_strategy != IndexStrategyArg::FirstIndex {
        command.push(format!(
            "--index-strategy {}",
            index_strategy(args.index_strategy)
        ));
    }
    // pip's order, which does not rank indexes: the input's extra indexes after the
    // others, so the lock's `--index-url` stays the profile's (or the input's).
    let is_extra = |i: &IndexConfig| {
        input.extra_index_urls.contains(&i.url) && !profile.indexes.iter().any(|p| p.url == i.url)
    };
    let indexes: Vec<&IndexConfig> = indexes
        .iter()
        .filter(|i| !is_extra(i))
        .chain(indexes.iter().filter(|i| is_extra(i)))
        .collect();
    let general: Vec<&IndexConfig> = indexes
        .iter()
        .copied()
        .filter(|i| i.packages.is_none())
        .collect();
    let pinned: Vec<&IndexConfig> = indexes
        .iter()
        .copied()
        .filter(|i| i.packages.is_some())
        .collect();
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
        git_revisions: Default::default(),
    }
}

/// The lock names its indexes by URL for pip to use. A credential in a URL's query
/// (`?token=...`) would be written masked, and pip would send `****`: refuse it, and
/// say how to pass it (`${VAR}`, which pip expands too, or netrc).
fn refuse_masked_urls(indexes: &[IndexConfig], input: &RequirementsInput) -> anyhow::Result<()> {
    let find_links = input.find_links.iter().filter_map(|f| match f {
        FindLinks::Url(url) => Some(url),
        FindLinks::Directory(_) => None,
    });
    for url in indexes.iter().map(|i| &i.url).chain(find_links) {
        let shown = crate::secrets::url(url);
        if shown.contains(crate::secrets::MASK) {
            bail!(
                "the index URL `{shown}` carries a credential in its query; the lock names \
                 its indexes by URL for pip, and would have to write it masked: write the \
                 value as `${{VAR}}` (at least 8 characters; pip expands it too) or give \
                 the index its credentials through netrc or \
                 `DOCKGEN_INDEX_<NAME>_USERNAME`/`_PASSWORD`"
            );
        }
    }
    Ok(())
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

/// When the lock at `path` and `fresh` differ only in their inputs digest lines:
/// whether the one at `path` has one.
fn same_but_digest(path: &Path, fresh: &str) -> Option<bool> {
    let current = crate::input::text::read_text(path).ok()?;
    let (recorded, rest) = lock::digest::unseal(&current);
    (rest == lock::digest::unseal(fresh).1).then_some(recorded.is_some())
}

/// The lock is for the target's minor Python version, as the build's target check
/// says (`check_target.py`): the pylock says so too (`python_version`,
/// `==3.11.*`), so that pip and uv install it on any patch of that minor version.
fn pylock(job: &Job, resolution: &Resolution) -> anyhow::Result<String> {
    let target = &job.request.target;
    let machine = target.markers.platform_machine();
    let release = target.python.release();
    let minor = format!("{}.{}", release[0], release.get(1).unwrap_or(&0));
    let environment = format!(
        "sys_platform == 'linux' and platform_machine == '{machine}' and python_version == '{minor}'"
    );
    let urls: BTreeMap<&str, String> = job
        .indexes
        .iter()
        .map(|i| (i.name.as_str(), crate::secrets::url(&i.url)))
        .collect();
    lock::pylock::render(resolution, environment, &minor, |name| {
        urls.get(name).cloned().unwrap_or_else(|| name.to_string())
    })
    .with_context(|| format!("cannot render the pylock of `{}`", job.profile.name))
}

/// `lock --check` without resolving: whether every lock records the digest of its
/// current inputs and of itself ([`lock::digest`]). Says so for each when they all
/// do; otherwise says nothing (a resolution decides).
fn up_to_date(jobs: &[Job], cwd: &Path) -> bool {
    let current = |job: &Job| {
        let Some(inputs) = &job.inputs else {
            return false;
        };
        if writes_in_place(&job.lock_path) {
            return false;
        }
        crate::input::text::read_text(&job.lock_path)
            .is_ok_and(|text| lock::digest::is_current(&text, inputs))
    };
    if !jobs.iter().all(current) {
        tracing::debug!("a lock's inputs digest differs: resolving");
        return false;
    }
    for job in jobs {
        eprintln!(
            "`{}` is up to date (its inputs are unchanged; not resolved)",
            display_path(&job.lock_path, cwd)
        );
    }
    true
}

/// What a lock depends on besides the index and the lock itself, as one canonical
/// text for its inputs digest: the profile, the parsed requirements, constraints and
/// overrides with their `--hash` values, the index settings and the options that
/// change a resolution. Comments, blank lines and line numbers of the input are not
/// in it. `None` when the input reads local directories or files (`--find-links`
/// directories, `file:` references), which can change under the same text.
fn inputs_statement(
    job: &Job,
    input: &RequirementsInput,
    direct: &DirectRefs,
    args: &LockArgs,
) -> Option<String> {
    use std::fmt::Write as _;
    let local_links = input
        .find_links
        .iter()
        .any(|f| matches!(f, FindLinks::Directory(_)));
    if local_links || direct.iter().any(|r| r.locked.starts_with("file:")) {
        return None;
    }
    let request = &job.request;
    // Version 1 of this statement: a change to what it says changes the version.
    let mut out = String::from("dockgen lock inputs 1\n");
    let profile = serde_json::to_string(&job.profile).expect("a profile serialises");
    let _ = writeln!(out, "profile {profile}");
    for index in &job.indexes {
        let packages = index.packages.as_ref().map(|names| {
            names
                .iter()
                .map(|n| n.as_ref())
                .collect::<Vec<_>>()
                .join(",")
        });
        let _ = writeln!(
            out,
            "index {} {} exclude-newer={} packages={}",
            index.name,
            crate::secrets::url(&index.url),
            index
                .exclude_newer
                .map(|t| t.to_string())
                .unwrap_or_default(),
            packages.unwrap_or_else(|| "*".into())
        );
    }
    for link in &input.find_links {
        if let FindLinks::Url(url) = link {
            let _ = writeln!(out, "find-links {}", crate::secrets::url(url));
        }
    }
    let _ = writeln!(
        out,
        "index-strategy {}",
        index_strategy(args.index_strategy)
    );
    for (kind, list) in [
        ("requirement", &request.requirements),
        ("constraint", &request.constraints),
        ("override", &request.overrides),
    ] {
        for root in list {
            let line = crate::secrets::text(&root.requirement.to_string());
            let _ = writeln!(out, "{kind} {line} from {}", root.source);
        }
    }
    for reference in direct.iter().filter(|r| !r.hashes.is_empty()) {
        let _ = writeln!(
            out,
            "hashes {} {}",
            reference.name,
            reference.hashes.join(",")
        );
    }
    let _ = writeln!(
        out,
        "pre {} only-binary {:?} no-binary {:?} no-build {}",
        request.prereleases, request.only_binary, request.no_binary, args.builds.no_build
    );
    Some(out)
}

/// `lock --check`: whether each lock (and, with `--pylock`, its pylock) is what a
/// relock would write. Prints the diff of each stale file, or with `json` (the run's
/// start) the JSON document, which holds the diffs.
fn check(
    jobs: &[Job],
    rendered: &[(usize, String, Resolution)],
    cwd: &Path,
    with_pylock: bool,
    json: Option<Instant>,
) -> anyhow::Result<()> {
    let mut stale = false;
    let mut summaries = Vec::new();
    for (i, text, resolution) in rendered {
        let job = &jobs[*i];
        let mut diffs = String::new();
        if with_pylock {
            let pylock_path = pylock_path(&job.lock_path, &job.profile.name);
            let label = display_path(&pylock_path, cwd);
            match stale_diff(&pylock_path, &pylock(job, resolution)?, &label) {
                None => eprintln!("`{label}` is up to date"),
                Some(diff) => {
                    diffs.push_str(&crate::secrets::text(&diff));
                    eprintln!("`{label}` is stale: run `{} --pylock`", job.header.command);
                }
            }
        }
        let path = display_path(&job.lock_path, cwd);
        match stale_diff(&job.lock_path, text, &path) {
            None => eprintln!("`{path}` is up to date"),
            // The pins are what a relock writes; only the digest of the inputs is
            // old or missing. Not stale: the next `dockgen lock` records it.
            Some(_) if let Some(recorded) = same_but_digest(&job.lock_path, text) => {
                let why = match recorded {
                    true => "its inputs changed without changing it",
                    false => "it records no inputs digest (an older dockgen wrote it)",
                };
                eprintln!(
                    "`{path}` is up to date; {why}, so `lock --check` resolves until `{}` \
                     records them",
                    job.header.command
                );
            }
            Some(diff) => {
                // The file on disk may be anyone's: it may carry credentials.
                diffs.push_str(&crate::secrets::text(&diff));
                eprintln!("`{path}` is stale: run `{}`", job.header.command);
            }
        }
        stale |= !diffs.is_empty();
        match json {
            Some(_) => {
                let status = if diffs.is_empty() {
                    "up-to-date"
                } else {
                    "stale"
                };
                let diff = (!diffs.is_empty()).then_some(diffs);
                summaries.push(json_lock(job, cwd, text, status, diff, with_pylock)?);
            }
            None => print!("{diffs}"),
        }
    }
    if let Some(started) = json {
        print_json(summaries, started)?;
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

    fn order(input: &RequirementsInput) -> Vec<(String, String)> {
        let profile = profile::load("cpu-x86_64", Path::new(".")).unwrap();
        index_configs(&profile, input, None)
            .into_iter()
            .map(|c| (c.name, c.url.to_string()))
            .collect()
    }

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn extra_indexes_come_first_as_uv_ranks_them() {
        let pair = |name: &str, url: &str| (name.to_string(), url.to_string());
        let torch = pair("pytorch-cpu", "https://download.pytorch.org/whl/cpu");
        let pypi = pair("pypi", "https://pypi.org/simple");
        assert_eq!(
            order(&RequirementsInput::default()),
            [torch.clone(), pypi.clone()]
        );
        let extras = RequirementsInput {
            extra_index_urls: vec![url("https://a.example/simple"), url("https://b.example/")],
            ..Default::default()
        };
        assert_eq!(
            order(&extras),
            [
                pair("extra-index-0", "https://a.example/simple"),
                pair("extra-index-1", "https://b.example/"),
                torch.clone(),
                pypi.clone()
            ]
        );
        // `--index-url` replaces the profile's general indexes, after the extra ones;
        // an extra index naming a pinned index's URL leaves it pinned.
        let both = RequirementsInput {
            index_url: Some(url("https://mirror.example/simple")),
            extra_index_urls: vec![
                url("https://a.example/simple"),
                url("https://download.pytorch.org/whl/cpu"),
                url("https://a.example/simple"),
            ],
            ..Default::default()
        };
        assert_eq!(
            order(&both),
            [
                pair("extra-index-1", "https://a.example/simple"),
                torch.clone(),
                pair("index-url", "https://mirror.example/simple"),
            ]
        );
        // A profile index named again as an extra index moves up, keeping its name.
        let again = RequirementsInput {
            extra_index_urls: vec![url("https://a.example/"), url("https://pypi.org/simple")],
            ..Default::default()
        };
        assert_eq!(
            order(&again),
            [
                pair("extra-index-0", "https://a.example/"),
                pypi.clone(),
                torch.clone()
            ]
        );
        let none = RequirementsInput {
            no_index: true,
            ..extras
        };
        assert_eq!(order(&none), []);
    }

    #[test]
    fn exclude_newer_accepts_dates_and_timestamps() {
        // The whole day is kept: the cut-off is the next midnight, UTC.
        assert_eq!(
            parse_timestamp("2025-09-01").unwrap().to_string(),
            "2025-09-02T00:00:00Z"
        );
        assert_eq!(
            parse_timestamp("2025-09-01T12:30:00Z").unwrap().to_string(),
            "2025-09-01T12:30:00Z"
        );
        assert_eq!(
            parse_timestamp("9999-12-31").unwrap_err().to_string(),
            "`--exclude-newer 9999-12-31`: expected an RFC 3339 timestamp \
             (2025-09-01T00:00:00Z) or a date like 2025-09-01, which keeps the files \
             uploaded during that day, UTC: no day after it"
        );
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
