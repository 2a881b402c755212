//! `dockgen check`: a lock's problems before building, from the lock and its profile's
//! indexes. Also the gathering every audit view of one lock shares.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use url::Url;

use super::Failure;
use super::files::display_path;
use crate::audit::check::{self, Context};
use crate::audit::facts::{self, Facts};
use crate::cli::{CheckArgs, NetworkArgs};
use crate::index::find_links::FindLinksSource;
use crate::index::registry::{IndexConfig, RegistryClient};
use crate::index::strategy::IndexStrategy;
use crate::input::profile::{self, Profile};
use crate::input::requirements::RequirementsInput;
use crate::input::target::Target;
use crate::lock::{self, SourceOption};

pub fn run(args: &CheckArgs, quiet: bool) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let audit = Audit::gather(&cwd, &args.selected, &args.network, quiet)?;
    let mut report = audit.check(&cwd, &args.selected.profile);
    if let Some(found) = audit.vulnerabilities(&args.vulns, &args.network, quiet)? {
        report.add_vulnerabilities(
            &found,
            &format!("dockgen lock --profile {}", args.selected.profile),
        );
    }
    let text = match args.format.as_str() {
        "json" => check::render_json(&report),
        _ => check::render_text(&report),
    };
    print!("{text}");
    if report.errors > 0 {
        return Err(Failure::Reported.into());
    }
    Ok(())
}

/// One lock, its profile, and the facts its indexes add.
pub(crate) struct Audit {
    pub profile: Profile,
    pub target: Target,
    pub lock_path: PathBuf,
    pub lock_text: String,
    pub lock: crate::lock::LockFile,
    pub facts: Facts,
    /// Names of the indexes searched, in order.
    pub indexes: Vec<String>,
    /// The lock's sources as `facts` read them (a view over `_base`, declared first so
    /// that it is dropped first).
    pub client: RegistryClient,
    /// Owns the runtime `client` runs on; kept alive for it.
    pub _base: RegistryClient,
}

impl Audit {
    /// `dockgen check`'s findings; `spec` is the profile as the user named it (for the
    /// command that re-locks).
    pub(crate) fn check(&self, cwd: &Path, spec: &str) -> check::Report {
        let lock = display_path(&self.lock_path, cwd);
        let policy = super::lock::accelerator_policy(&self.profile);
        let relock = format!("dockgen lock --profile {spec}");
        let mut report = check::check(
            &self.facts,
            &Context {
                profile: &self.profile,
                target: &self.target,
                policy: &policy,
                indexes: &self.indexes,
                lock: &lock,
                relock: &relock,
            },
        );
        report.add(check::lock_findings(&self.lock, &self.target, &lock));
        report
    }

    /// With `--vulns`, what the OSV service says about every pin; a note on stderr
    /// names the service, or the age of the cached answers under `--offline`.
    pub(crate) fn vulnerabilities(
        &self,
        args: &crate::cli::VulnArgs,
        network: &NetworkArgs,
        quiet: bool,
    ) -> anyhow::Result<Option<crate::audit::vulns::Vulnerabilities>> {
        use crate::audit::vulns;
        if !args.vulns {
            return Ok(None);
        }
        let pins: Vec<(pep508_rs::PackageName, String)> = self
            .lock
            .pins
            .iter()
            .map(|(key, pin)| (key.clone(), pin.version.to_string()))
            .collect();
        let found = vulns::query(
            &pins,
            &vulns::OsvOptions {
                url: args.osv_url.clone(),
                token: std::env::var("DOCKGEN_OSV_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
                offline: network.offline,
                cache_dir: self.client.cache_dir().map(Path::to_path_buf),
                timeout: std::time::Duration::from_secs(network.timeout),
            },
        )?;
        if !quiet {
            match found.cached_age {
                Some(age) => eprintln!(
                    "vulnerabilities: cached answers of {}, the oldest {} old (--offline)",
                    found.service,
                    vulns::age(age)
                ),
                None => eprintln!(
                    "vulnerabilities: asked {} about {} pins",
                    found.service,
                    pins.len()
                ),
            }
        }
        Ok(Some(found))
    }

    /// Loads the selected profile and lock (`--lock`, else `<locks_dir>/<name>.txt`) and
    /// gathers the facts of every pin through the cache and the profile's indexes.
    pub(crate) fn gather(
        cwd: &Path,
        selected: &crate::cli::LockSelection,
        network: &NetworkArgs,
        quiet: bool,
    ) -> anyhow::Result<Audit> {
        let spec = selected.profile.as_str();
        let (explicit, locks_dir) = (selected.lock.as_deref(), selected.locks_dir.as_path());
        let profile =
            profile::load(spec, cwd).with_context(|| format!("cannot load profile `{spec}`"))?;
        let (lock_path, lock_text, lock) =
            super::read_profile_lock(cwd, explicit, locks_dir, &profile.name, spec)?;
        let target = Target::from_profile(&profile)?;
        let lock_dir = lock_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let (indexes, find_links) = lock_sources(&profile, &lock_text, &lock_dir);
        let progress = super::show_progress(quiet).then(super::progress_bar);
        let mut options = super::client_options(network, progress.clone());
        // Direct references' credentials (`${VAR}` in their userinfo) go to their hosts.
        options.direct_urls = super::direct_urls(&lock);
        let base = RegistryClient::new(indexes.clone(), find_links, options)?;
        // A view over `base`, which must outlive it (it owns the runtime).
        let client = base.for_indexes_with(&indexes, lock_strategy(&lock_text));
        let jobs = network.concurrency.clamp(1, 8);
        let facts = facts::gather(&lock, &client, &target, jobs).with_context(|| {
            format!(
                "cannot read what `{}` installs from the indexes of profile `{}`",
                display_path(&lock_path, cwd),
                profile.name
            )
        })?;
        if let Some(bar) = &progress {
            bar.finish_and_clear();
        }
        Ok(Audit {
            indexes: client.source_names(),
            client,
            _base: base,
            profile,
            target,
            lock_path,
            lock_text,
            lock,
            facts,
        })
    }
}

/// `${NAME}` replaced by the environment's value where one is set, as pip does.
fn expand_env(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (range, name) in crate::input::text::variables(text) {
        if let Ok(value) = std::env::var(name) {
            crate::secrets::register_expansion(&value, name);
            out.push_str(&text[rest..range.start]);
            out.push_str(&value);
            rest = range.end;
        }
    }
    out.push_str(&text[rest..]);
    out
}

/// Where the lock's files come from: the profile's indexes (as `lock` and `build` use
/// them), then what the lock's header names besides (an input's own `--index-url`,
/// `--find-links`, relative to the lock). The header's `exclude-newer` applies, so the
/// indexes are seen as the lock saw them.
pub(super) fn lock_sources(
    profile: &Profile,
    lock_text: &str,
    lock_dir: &Path,
) -> (Vec<IndexConfig>, Vec<FindLinksSource>) {
    let mut indexes = super::lock::index_configs(profile, &RequirementsInput::default(), None);
    let profile_count = indexes.len();
    let mut find_links = Vec::new();
    for line in lock_text.lines() {
        let line = line.trim();
        if let Some(list) = line.strip_prefix("# exclude-newer:") {
            for (name, at) in list
                .split(',')
                .filter_map(|item| item.trim().split_once('='))
            {
                let Ok(at) = at.parse::<jiff::Timestamp>() else {
                    continue;
                };
                for index in indexes.iter_mut().filter(|index| index.name == name) {
                    index.exclude_newer = Some(at);
                }
            }
        } else if let Some((SourceOption::Index, value)) = lock::source_option(line) {
            // pip expands `${VAR}` in a requirements file, and so in a lock, whose
            // URLs name a secret (`https://host/${TOKEN}/simple`) by its variable.
            let Ok(url) = Url::parse(&expand_env(value)) else {
                continue;
            };
            let redacted = crate::secrets::url(&url);
            if indexes
                .iter()
                .any(|known| crate::secrets::url(&known.url) == redacted)
            {
                continue;
            }
            indexes.push(IndexConfig {
                name: format!("lock-index-{}", indexes.len()),
                url,
                packages: None,
                exclude_newer: None,
            });
        } else if let Some((SourceOption::FindLinks, value)) = lock::source_option(line) {
            find_links.push(FindLinksSource::parse(value, lock_dir));
        }
    }
    // The indexes only the lock names came from the input (`--extra-index-url`,
    // `--index-url`), which `lock` ranks before the profile's.
    indexes.rotate_left(profile_count);
    (indexes, find_links)
}

/// The `--index-strategy` in the lock's regenerate command, if any.
pub(super) fn lock_strategy(lock_text: &str) -> IndexStrategy {
    let command = lock_text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find(|l| {
            l.trim_start_matches(['#', ' '])
                .starts_with("dockgen lock ")
        });
    let words: Vec<&str> = command.unwrap_or_default().split_whitespace().collect();
    match words.windows(2).find(|w| w[0] == "--index-strategy") {
        Some([_, "unsafe-best-match"]) => IndexStrategy::UnsafeBestMatch,
        Some([_, "unsafe-first-match"]) => IndexStrategy::UnsafeFirstMatch,
        _ => IndexStrategy::FirstIndex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_command_names_the_strategy() {
        let lock = |command: &str| format!("#\n# To update it:\n#\n#    {command}\n#\nx==1\n");
        assert_eq!(
            lock_strategy(&lock("dockgen lock requirements.in --profile p")),
            IndexStrategy::FirstIndex
        );
        assert_eq!(
            lock_strategy(&lock(
                "dockgen lock requirements.in --profile p --index-strategy unsafe-best-match"
            )),
            IndexStrategy::UnsafeBestMatch
        );
        assert_eq!(
            lock_strategy(&lock(
                "dockgen lock r.in --index-strategy unsafe-first-match --pre"
            )),
            IndexStrategy::UnsafeFirstMatch
        );
        // Only the header's command counts.
        assert_eq!(
            lock_strategy("x==1\n# dockgen lock --index-strategy unsafe-best-match\n"),
            IndexStrategy::FirstIndex
        );
    }
}
