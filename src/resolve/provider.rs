//! The PubGrub dependency provider, and the solve loop around it.
//!
//! PubGrub asks one question at a time; the indexes answer slowly. So every time a
//! package's dependencies become known, a small pool of threads fetches their project
//! pages and the metadata of the version PubGrub is most likely to pick, while the
//! solver carries on. The answers land in the source's in-memory cache, where the
//! solver finds them when it gets there.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

use pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, PackageName, Requirement, VersionOrUrl};
use pubgrub::{
    Dependencies, DependencyProvider, PackageResolutionStatistics, PubGrubError, Ranges,
};

use super::candidates::{Candidate, Candidates, FormatPolicy};
use super::package::Package;
use super::report;
use super::specifiers::to_ranges;
use super::{
    Dependency, LockedFile, RequiredBy, Resolution, ResolveError, ResolveRequest, ResolvedPackage,
    specifier_text,
};
use crate::index::strategy::IndexStrategy;
use crate::index::{CoreMetadata, DistFile, IndexError, PackageSource};

/// How many threads warm the source ahead of the solver. They mostly wait on the
/// network, so this is about requests in flight, not cores.
const PREFETCH_THREADS: usize = 12;

pub(super) type Range = Ranges<Version>;

/// Why a package or version cannot be used; shown in "no solution" explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unavailable {
    RequiresPython(String),
    Yanked,
    /// The index's metadata for this version cannot be read (a `Requires-Dist` that is
    /// not PEP 508, no `Name`, a mislabelled file): the version is set aside, as uv
    /// does, and the reason kept for the explanation ([`Provider::set_aside`]).
    InvalidMetadata,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RequiresPython(spec) => write!(f, "requires Python {spec}"),
            Self::Yanked => f.write_str("is yanked"),
            Self::InvalidMetadata => f.write_str("has invalid metadata"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ProviderError {
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Not a failure: the solve starts over with a package decided earlier
    /// ([`Provider::tried`]).
    #[error("the resolution starts over")]
    Restart,
}

/// A package tried at this many versions in one solve is decided earlier from then on.
const TRIED_VERSIONS: u32 = 5;
/// At most this many fresh starts per resolution.
const MAX_RESTARTS: u32 = 16;

struct Inputs {
    root: Vec<(Package, Range)>,
    constraints: HashMap<PackageName, Range>,
    overrides: HashMap<PackageName, Range>,
    exact_pins: HashSet<PackageName>,
    prerelease_named: HashSet<PackageName>,
}

pub(super) struct Provider<'a> {
    source: &'a dyn PackageSource,
    request: &'a ResolveRequest,
    markers: &'a MarkerEnvironment,
    inputs: Inputs,
    candidates: Mutex<HashMap<PackageName, Arc<Candidates>>>,
    metadata: Mutex<HashMap<(PackageName, Version), Arc<CoreMetadata>>>,
    discovered: Mutex<HashMap<Package, u32>>,
    /// Packages that turned out not to exist, for the explanation.
    pub(super) missing: Mutex<BTreeSet<PackageName>>,
    /// Versions set aside because their metadata is invalid, with the reason.
    set_aside: Mutex<BTreeMap<PackageName, BTreeMap<Version, String>>>,
    prefetch: Mutex<Option<Sender<(PackageName, Range)>>>,
    /// How many versions of each package this solve has asked the dependencies of.
    ///
    /// A package that keeps being rejected is usually held back by a package decided
    /// before it: python-dateutil 3.0 decided first, then every botocore (which wants
    /// `<3`), so PubGrub rejects boto3 one version at a time, thousands of them. Like uv,
    /// dockgen then decides the rejected package earlier: it is marked in `early` and
    /// the solve starts over (PubGrub's solve loop cannot backtrack on request), with
    /// everything fetched so far kept. Its dependencies then narrow the other package
    /// before that is decided.
    tried: Mutex<HashMap<Package, u32>>,
    early: Mutex<HashMap<Package, u32>>,
    restart: std::sync::atomic::AtomicBool,
}

// PubGrub's own error type is large; it lives for one match below.
#[allow(clippy::result_large_err)]
pub(super) fn solve(
    source: &dyn PackageSource,
    request: &ResolveRequest,
    profile: &str,
) -> Result<Resolution, ResolveError> {
    let inputs = Inputs::new(request, source)?;
    let (tx, rx) = channel();
    let provider = Provider {
        source,
        request,
        markers: &request.target.markers,
        inputs,
        candidates: Mutex::default(),
        metadata: Mutex::default(),
        discovered: Mutex::default(),
        missing: Mutex::default(),
        set_aside: Mutex::default(),
        prefetch: Mutex::new(Some(tx)),
        tried: Mutex::default(),
        early: Mutex::default(),
        restart: std::sync::atomic::AtomicBool::new(false),
    };
    for (package, range) in &provider.inputs.root {
        if let Some(name) = package.name() {
            provider.queue_prefetch(name, range);
        }
    }
    let rx = Mutex::new(rx);
    let selected = std::thread::scope(|scope| {
        for _ in 0..PREFETCH_THREADS {
            scope.spawn(|| provider.prefetch_worker(&rx));
        }
        // Closing the channel lets the workers finish what they hold and exit. The
        // guard closes it on a panic too: the scope waits for every worker before it
        // passes the panic on, and a worker waiting on an open channel waits for ever.
        let _close = ClosePrefetch(&provider.prefetch);
        loop {
            match pubgrub::resolve(&provider, Package::Root, Version::new([0])) {
                Err(PubGrubError::ErrorInShouldCancel(ProviderError::Restart)) => {
                    provider
                        .tried
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                }
                outcome => break outcome,
            }
        }
    });
    let selected = match selected {
        Ok(selected) => selected,
        Err(PubGrubError::NoSolution(tree)) => {
            return Err(ResolveError::NoSolution {
                profile: profile.to_string(),
                explanation: report::explain(tree, &provider),
            });
        }
        Err(PubGrubError::ErrorChoosingVersion { source, .. })
        | Err(PubGrubError::ErrorRetrievingDependencies { source, .. })
        | Err(PubGrubError::ErrorInShouldCancel(source)) => {
            return Err(match source {
                ProviderError::Index(error) => error.into(),
                ProviderError::Restart => unreachable!("a restart is taken above"),
            });
        }
    };
    provider.resolution(selected.into_iter().collect())
}

/// Closes the prefetch channel when dropped, on return and on unwind alike.
struct ClosePrefetch<'a>(&'a Mutex<Option<Sender<(PackageName, Range)>>>);

impl Drop for ClosePrefetch<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

impl Inputs {
    fn new(request: &ResolveRequest, source: &dyn PackageSource) -> Result<Self, ResolveError> {
        let env = &request.target.markers;
        let active = |reqs: &[super::RootRequirement]| -> Result<Vec<Requirement>, ResolveError> {
            reqs.iter()
                .filter(|r| r.requirement.marker.evaluate(env, &[]))
                .map(|r| {
                    // A direct reference is served by the source as the only candidate
                    // of its name; a source that does not know it must not answer it
                    // from an index.
                    if let Some(VersionOrUrl::Url(url)) = &r.requirement.version_or_url
                        && source.direct_url(&r.requirement.name).is_none()
                    {
                        return Err(ResolveError::Unsupported(format!(
                            "`{}` ({}) is a direct URL requirement ({}), but this resolution \
                             has no source for direct references",
                            r.requirement.name,
                            r.source,
                            // As written (`${VAR}`, not its value), secrets masked.
                            crate::secrets::text(url.given().unwrap_or(url.as_str()))
                        )));
                    }
                    Ok(r.requirement.clone())
                })
                .collect()
        };
        let ranges_of = |reqs: &[Requirement]| -> HashMap<PackageName, Range> {
            let mut map: HashMap<PackageName, Range> = HashMap::new();
            for req in reqs {
                let range = requirement_range(req);
                map.entry(req.name.clone())
                    .and_modify(|r| *r = r.intersection(&range))
                    .or_insert(range);
            }
            map
        };
        let requirements = active(&request.requirements)?;
        let constraints = ranges_of(&active(&request.constraints)?);
        let overrides = ranges_of(&active(&request.overrides)?);

        let mut exact_pins = HashSet::new();
        let mut prerelease_named = HashSet::new();
        for req in requirements
            .iter()
            .chain(active(&request.constraints)?.iter())
        {
            if let Some(VersionOrUrl::VersionSpecifier(specs)) = &req.version_or_url {
                if specs.iter().any(|s| {
                    matches!(
                        s.operator(),
                        pep440_rs::Operator::Equal | pep440_rs::Operator::ExactEqual
                    ) && !s.operator().is_star()
                }) {
                    exact_pins.insert(req.name.clone());
                }
                if specs.iter().any(|s| s.version().any_prerelease()) {
                    prerelease_named.insert(req.name.clone());
                }
            }
        }

        let mut root = Edges::default();
        for req in &requirements {
            let range = overrides.get(&req.name).cloned().unwrap_or_else(|| {
                let range = requirement_range(req);
                match constraints.get(&req.name) {
                    Some(c) => range.intersection(c),
                    None => range,
                }
            });
            root.add(Package::Base(req.name.clone()), &range);
            for extra in &req.extras {
                root.add(Package::Extra(req.name.clone(), extra.clone()), &range);
            }
        }
        Ok(Self {
            root: root.list,
            constraints,
            overrides,
            exact_pins,
            prerelease_named,
        })
    }
}

/// Dependencies in the order declared, one per package. Order matters: PubGrub
/// decides packages of equal priority in the order it meets them, so
/// `requirements.in` order is what breaks ties (as in pip and uv), not the alphabet.
#[derive(Default)]
struct Edges {
    list: Vec<(Package, Range)>,
    /// Where each package is in `list`: a 50,000-line input stays linear.
    at: HashMap<Package, usize>,
}

impl Edges {
    /// Add a dependency, intersecting with an earlier one on the same package.
    fn add(&mut self, package: Package, range: &Range) {
        match self.at.get(&package) {
            Some(&i) => self.list[i].1 = self.list[i].1.intersection(range),
            None => {
                self.at.insert(package.clone(), self.list.len());
                self.list.push((package, range.clone()));
            }
        }
    }
}

fn requirement_range(req: &Requirement) -> Range {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specs)) => to_ranges(specs),
        _ => Range::full(),
    }
}

impl Provider<'_> {
    fn policy(&self, name: &PackageName) -> FormatPolicy {
        use crate::input::requirements::{AllowedFormats, allowed_formats};
        match allowed_formats(&self.request.only_binary, &self.request.no_binary, name) {
            AllowedFormats::Any => FormatPolicy {
                wheels: true,
                sdists: true,
            },
            AllowedFormats::BinaryOnly => FormatPolicy {
                wheels: true,
                sdists: false,
            },
            AllowedFormats::SourceOnly => FormatPolicy {
                wheels: false,
                sdists: true,
            },
        }
    }

    /// The usable versions of `name`, fetched once.
    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, IndexError> {
        if let Some(found) = self.candidates.lock().expect("candidates lock").get(name) {
            return Ok(found.clone());
        }
        let candidates = match self.source.project(name)? {
            Some(project) => {
                let mut candidates =
                    Candidates::new(&project, &self.request.target, self.policy(name));
                candidates.index_order = self
                    .source
                    .survey(name)
                    .filter(|s| s.strategy == IndexStrategy::UnsafeFirstMatch)
                    .map(|s| s.indexes.into_iter().map(|i| i.name).collect());
                candidates
            }
            None => {
                self.missing
                    .lock()
                    .expect("missing lock")
                    .insert(name.clone());
                Candidates::default()
            }
        };
        let candidates = Arc::new(candidates);
        self.candidates
            .lock()
            .expect("candidates lock")
            .insert(name.clone(), candidates.clone());
        Ok(candidates)
    }

    fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        let key = (name.clone(), version.clone());
        if let Some(found) = self.metadata.lock().expect("metadata lock").get(&key) {
            return Ok(found.clone());
        }
        let candidates = self.candidates(name)?;
        let Some(candidate) = candidates.versions.get(version) else {
            return Err(IndexError::Metadata {
                file: format!("{name} {version}"),
                message: "the version vanished from the index during resolution".into(),
            });
        };
        let metadata = self.source.metadata(candidate.representative())?;
        self.metadata
            .lock()
            .expect("metadata lock")
            .insert(key, metadata.clone());
        Ok(metadata)
    }

    /// Pick the version to try for `name` within `range`: the preferred (locked)
    /// version when it fits, else the newest, stable releases before pre-releases.
    fn pick<'c>(
        &self,
        name: &PackageName,
        range: &Range,
        candidates: &'c Candidates,
    ) -> Option<(&'c Version, &'c Candidate)> {
        let usable = |(v, c): &(&Version, &Candidate)| {
            range.contains(v) && (!c.yanked || self.inputs.exact_pins.contains(name))
        };
        if let Some(preferred) = self.request.preferences.get(name)
            && let Some(found) = candidates
                .versions
                .get_key_value(preferred)
                .filter(|e| usable(e))
        {
            return Some(found);
        }
        let allow_pre = self.request.prereleases || self.inputs.prerelease_named.contains(name);
        let mut newest_pre = None;
        let newest_first = candidates.versions.iter().rev().filter(|e| usable(e));
        let order: Box<dyn Iterator<Item = (&Version, &Candidate)>> = match candidates.index_order {
            None => Box::new(newest_first),
            Some(_) => {
                let mut ranked: Vec<_> = newest_first.collect();
                // Stable: newest first within one index.
                ranked.sort_by_key(|(_, c)| candidates.index_rank(c));
                Box::new(ranked.into_iter())
            }
        };
        for entry in order {
            if allow_pre || !entry.0.any_prerelease() {
                return Some(entry);
            }
            newest_pre.get_or_insert(entry);
        }
        // Only pre-releases satisfy: PEP 440 allows them then.
        newest_pre
    }

    /// Why the files of `name` were set aside, when some were: for explanations.
    pub(super) fn exclusion_hint(&self, name: &PackageName) -> Option<String> {
        let candidates = self
            .candidates
            .lock()
            .expect("candidates lock")
            .get(name)
            .cloned()?;
        if let Some(url) = self.source.direct_url(name) {
            let versions: Vec<String> = candidates.versions.keys().map(|v| v.to_string()).collect();
            return Some(match versions.as_slice() {
                [] => format!(
                    "`{name}` comes from the direct reference `{}`, whose archive does not \
                     install on the target (its wheel tags or Requires-Python)",
                    crate::secrets::url_text(&url)
                ),
                _ => format!(
                    "`{name}` comes from the direct reference `{}` only (version {}); no \
                     index is asked for other versions",
                    crate::secrets::url_text(&url),
                    versions.join(", ")
                ),
            });
        }
        if let Some(index) = &candidates.empty_on {
            return Some(format!(
                "`{name}`: index `{index}` has a page for the project, but no files of it on that page"
            ));
        }
        let e = candidates.excluded;
        let mut reasons = Vec::new();
        if e.incompatible_wheels > 0 {
            reasons.push(format!(
                "{} wheel(s) for other platforms or Pythons",
                e.incompatible_wheels
            ));
        }
        if e.requires_python > 0 {
            reasons.push(format!(
                "{} file(s) that require another Python",
                e.requires_python
            ));
        }
        if e.policy > 0 {
            reasons.push(format!(
                "{} file(s) excluded by --only-binary/--no-binary",
                e.policy
            ));
        }
        if let Some(versions) = self.set_aside.lock().expect("set-aside lock").get(name) {
            for (version, reason) in versions {
                reasons.push(format!(
                    "version {version}, whose metadata is invalid ({reason})"
                ));
            }
        }
        if !self.inputs.exact_pins.contains(name) {
            let yanked: Vec<String> = candidates
                .versions
                .iter()
                .filter(|(_, c)| c.yanked)
                .map(|(v, _)| v.to_string())
                .collect();
            if !yanked.is_empty() {
                reasons.push(format!(
                    "yanked release(s) {} (only an exact `==` pin selects a yanked release)",
                    yanked.join(", ")
                ));
            }
        }
        (!reasons.is_empty()).then(|| format!("`{name}`: set aside {}", reasons.join(", ")))
    }

    /// Set a version aside for invalid metadata: warned about once, and kept for the
    /// explanation should no solution be found without it.
    fn set_aside(&self, name: &PackageName, version: &Version, error: &IndexError) {
        let mut set_aside = self.set_aside.lock().expect("set-aside lock");
        let versions = set_aside.entry(name.clone()).or_default();
        if !versions.contains_key(version) {
            tracing::warn!("`{name}` {version} is set aside: {error}");
            versions.insert(version.clone(), error.to_string());
        }
    }

    /// Which indexes had `name` and which were never asked, when the index choice may
    /// be why no version fits.
    pub(super) fn index_hint(&self, name: &PackageName) -> Option<String> {
        self.source.survey(name)?.hint(name.as_ref())
    }

    fn queue_prefetch(&self, name: &PackageName, range: &Range) {
        if let Some(tx) = self.prefetch.lock().expect("prefetch lock").as_ref() {
            let _ = tx.send((name.clone(), range.clone()));
        }
    }

    fn prefetch_worker(&self, rx: &Mutex<Receiver<(PackageName, Range)>>) {
        loop {
            let job = rx.lock().expect("prefetch receiver").recv();
            let Ok((name, range)) = job else { return };
            // Errors surface again, properly attributed, when the solver asks.
            let Ok(candidates) = self.candidates(&name) else {
                continue;
            };
            if let Some((version, _)) = self.pick(&name, &range, &candidates) {
                let _ = self.metadata(&name, version);
            }
        }
    }

    /// The requirements of `metadata` active on the target for `extra` (or the base
    /// package when `extra` is `None`), with constraints and overrides applied.
    fn active_requirements<'m>(
        &self,
        metadata: &'m CoreMetadata,
        extra: Option<&ExtraName>,
    ) -> Vec<&'m Requirement> {
        metadata
            .requires_dist
            .iter()
            .filter(|req| match extra {
                None => req.marker.evaluate(self.markers, &[]),
                Some(extra) => {
                    req.marker
                        .evaluate(self.markers, std::slice::from_ref(extra))
                        && !req.marker.evaluate(self.markers, &[])
                }
            })
            .collect()
    }

    fn edge_range(&self, req: &Requirement) -> Range {
        if let Some(range) = self.inputs.overrides.get(&req.name) {
            return range.clone();
        }
        let range = requirement_range(req);
        match self.inputs.constraints.get(&req.name) {
            Some(constraint) => range.intersection(constraint),
            None => range,
        }
    }

    /// Counts one more version of `package` tried in this solve; at [`TRIED_VERSIONS`],
    /// marks it to be decided early and asks for a fresh start ([`Provider::tried`]).
    fn count_tried(&self, package: &Package) {
        let mut tried = self.tried.lock().unwrap_or_else(PoisonError::into_inner);
        let count = tried.entry(package.clone()).or_default();
        *count += 1;
        if *count != TRIED_VERSIONS {
            return;
        }
        let mut early = self.early.lock().unwrap_or_else(PoisonError::into_inner);
        let restarts = early.len() as u32;
        if restarts >= MAX_RESTARTS || early.contains_key(package) {
            return;
        }
        early.insert(package.clone(), restarts);
        tracing::debug!(
            "`{package}` was tried at {TRIED_VERSIONS} versions: starting over with it \
             decided earlier (restart {} of at most {MAX_RESTARTS})",
            restarts + 1
        );
        self.restart
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn discovery_order(&self, package: &Package) -> u32 {
        let mut discovered = self.discovered.lock().expect("discovered lock");
        let next = discovered.len() as u32;
        *discovered.entry(package.clone()).or_insert(next)
    }

    /// Build the result: files, hashes, edges and `via` for every chosen package.
    fn resolution(&self, selected: HashMap<Package, Version>) -> Result<Resolution, ResolveError> {
        let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        let mut versions: BTreeMap<PackageName, Version> = BTreeMap::new();
        for (package, version) in selected {
            match package {
                Package::Root => {}
                Package::Base(name) => {
                    versions.insert(name, version);
                }
                Package::Extra(name, extra) => {
                    extras.entry(name).or_default().insert(extra);
                }
            }
        }

        let mut required_by: BTreeMap<PackageName, BTreeSet<RequiredBy>> = BTreeMap::new();
        for req in &self.request.requirements {
            if req.requirement.marker.evaluate(self.markers, &[]) {
                required_by
                    .entry(req.requirement.name.clone())
                    .or_default()
                    .insert(RequiredBy::Input(req.source.clone()));
            }
        }

        let mut packages = BTreeMap::new();
        for (name, version) in &versions {
            let metadata = self.metadata(name, version)?;
            let active_extras = extras.get(name).cloned().unwrap_or_default();
            let mut dependencies = Vec::new();
            let scopes = std::iter::once(None).chain(active_extras.iter().map(Some));
            for extra in scopes {
                for req in self.active_requirements(&metadata, extra) {
                    if &req.name == name && extra.is_some() && req.extras.is_empty() {
                        continue;
                    }
                    dependencies.push(Dependency {
                        name: req.name.clone(),
                        extras: req.extras.clone(),
                        requirement: requirement_without_marker(req),
                        specifier: match &req.version_or_url {
                            Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                                specifier_text(specifiers)
                            }
                            _ => String::new(),
                        },
                        via_extra: extra.cloned(),
                    });
                    if &req.name != name {
                        required_by
                            .entry(req.name.clone())
                            .or_default()
                            .insert(RequiredBy::Package(name.clone()));
                    }
                }
            }
            let candidates = self.candidates(name)?;
            let candidate = &candidates.versions[version];
            packages.insert(
                name.clone(),
                ResolvedPackage {
                    name: name.clone(),
                    version: version.clone(),
                    index: candidate.representative().index.clone(),
                    direct: self.source.direct_url(name),
                    extras: active_extras,
                    files: Vec::new(),
                    dependencies,
                    required_by: BTreeSet::new(),
                    metadata,
                },
            );
        }
        for (name, by) in required_by {
            if let Some(package) = packages.get_mut(&name) {
                package.required_by = by;
            }
        }
        self.attach_files(&mut packages)?;
        Ok(Resolution { packages })
    }

    /// Every installable file of every chosen version, with its sha256; files the
    /// index publishes no hash for are downloaded and hashed, several at a time.
    fn attach_files(
        &self,
        packages: &mut BTreeMap<PackageName, ResolvedPackage>,
    ) -> Result<(), ResolveError> {
        let mut files: Vec<(PackageName, DistFile)> = Vec::new();
        for (name, package) in packages.iter() {
            let candidates = self.candidates(name)?;
            for file in candidates.versions[&package.version].files() {
                // A source tree (a git commit, a local directory) is no file: pip
                // cannot hash it, the lock pins the commit or the directory.
                if file.sha256.is_none() && crate::lock::is_source_tree_pin(file.url.as_str()) {
                    continue;
                }
                files.push((name.clone(), file.clone()));
            }
        }
        let next = Mutex::new(files.iter());
        let results: Mutex<Vec<(PackageName, LockedFile)>> = Mutex::default();
        let failure: Mutex<Option<IndexError>> = Mutex::default();
        std::thread::scope(|scope| {
            for _ in 0..PREFETCH_THREADS {
                scope.spawn(|| {
                    loop {
                        let item = next.lock().expect("file queue").next();
                        let Some((name, file)) = item else { return };
                        match self.source.sha256(file) {
                            Ok(sha256) => results.lock().expect("results").push((
                                name.clone(),
                                LockedFile {
                                    filename: file.filename.clone(),
                                    url: file.url.clone(),
                                    sha256,
                                    is_wheel: matches!(
                                        file.kind,
                                        crate::index::DistKind::Wheel { .. }
                                    ),
                                    size: file.size,
                                },
                            )),
                            Err(error) => {
                                failure.lock().expect("failure").get_or_insert(error);
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = failure.into_inner().expect("failure") {
            return Err(error.into());
        }
        for (name, file) in results.into_inner().expect("results") {
            if let Some(package) = packages.get_mut(&name) {
                package.files.push(file);
            }
        }
        for package in packages.values_mut() {
            package.files.sort_by(|a, b| a.filename.cmp(&b.filename));
        }
        Ok(())
    }
}

fn requirement_without_marker(req: &Requirement) -> String {
    let mut req = req.clone();
    req.marker = pep508_rs::MarkerTree::TRUE;
    req.to_string()
}

impl DependencyProvider for Provider<'_> {
    type P = Package;
    type V = Version;
    type VS = Range;
    type M = Unavailable;
    type Priority = (u8, Option<Reverse<u32>>, u32, Reverse<u32>);
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &Package,
        range: &Range,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let tier = match package {
            Package::Root => 3,
            _ if range.as_singleton().is_some() => 2,
            Package::Extra(..) => 1,
            Package::Base(_) => 0,
        };
        let early = self
            .early
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(package)
            .map(|&order| Reverse(order));
        (
            tier,
            early,
            stats.conflict_count(),
            Reverse(self.discovery_order(package)),
        )
    }

    fn should_cancel(&self) -> Result<(), ProviderError> {
        match self
            .restart
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            true => Err(ProviderError::Restart),
            false => Ok(()),
        }
    }

    fn choose_version(
        &self,
        package: &Package,
        range: &Range,
    ) -> Result<Option<Version>, ProviderError> {
        let Some(name) = package.name() else {
            return Ok(Some(Version::new([0])));
        };
        let candidates = self.candidates(name)?;
        Ok(self.pick(name, range, &candidates).map(|(v, _)| v.clone()))
    }

    fn get_dependencies(
        &self,
        package: &Package,
        version: &Version,
    ) -> Result<Dependencies<Package, Range, Unavailable>, ProviderError> {
        let (name, extra) = match package {
            Package::Root => {
                return Ok(Dependencies::Available(
                    self.inputs.root.iter().cloned().collect(),
                ));
            }
            Package::Base(name) => (name, None),
            Package::Extra(name, extra) => (name, Some(extra)),
        };
        self.count_tried(package);
        let candidates = self.candidates(name)?;
        if let Some(candidate) = candidates.versions.get(version)
            && candidate.yanked
            && !self.inputs.exact_pins.contains(name)
        {
            return Ok(Dependencies::Unavailable(Unavailable::Yanked));
        }
        let metadata = match self.metadata(name, version) {
            Ok(metadata) => metadata,
            Err(error @ IndexError::Metadata { .. }) => {
                self.set_aside(name, version, &error);
                return Ok(Dependencies::Unavailable(Unavailable::InvalidMetadata));
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(requires_python) = &metadata.requires_python
            && !requires_python.contains(&self.request.target.python)
        {
            return Ok(Dependencies::Unavailable(Unavailable::RequiresPython(
                requires_python.to_string(),
            )));
        }
        let mut deps = Edges::default();
        if extra.is_some() {
            deps.add(
                Package::Base(name.clone()),
                &Range::singleton(version.clone()),
            );
        }
        for req in self.active_requirements(&metadata, extra) {
            let range = self.edge_range(req);
            if &req.name != name {
                deps.add(Package::Base(req.name.clone()), &range);
            }
            for dep_extra in &req.extras {
                if &req.name == name && Some(dep_extra) == extra {
                    continue;
                }
                deps.add(Package::Extra(req.name.clone(), dep_extra.clone()), &range);
            }
        }
        let deps = deps.list;
        for (package, range) in &deps {
            if let Some(dep) = package.name().filter(|n| *n != name) {
                self.queue_prefetch(dep, range);
            }
        }
        Ok(Dependencies::Available(deps.into_iter().collect()))
    }
}
