//! The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, parsed into
//! [`PageFile`]s (what is cached) and then into [`DistFile`]s (what the resolver sees).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{DistFile, DistKind, IndexError, Skipped, WheelTags, validate};
use crate::input::target::Target;

/// Prefer PEP 691 JSON, accept HTML from indexes that only speak PEP 503.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
     application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

pub const JSON_CONTENT_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// One file of a project page, before filename parsing. This is what the cache stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFile {
    pub filename: String,
    /// Without fragment or userinfo; absolute, or relative to the page's URL (a plain
    /// link of a JSON page, and every link on the page's origin in the cache). Resolved
    /// against the page's URL without userinfo ([`Conversion::base`]).
    pub url: String,
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: Option<String>,
    pub upload_time: Option<jiff::Timestamp>,
    pub size: Option<u64>,
    /// A PEP 658 / 714 `.metadata` sidecar exists.
    pub has_metadata: bool,
    /// The sidecar's own sha256, when published.
    pub metadata_sha256: Option<String>,
}

/// A parsed project page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimplePage {
    pub files: Vec<PageFile>,
}

impl SimplePage {
    /// Every hash on the page is a well-formed sha256. A cached page that is not is
    /// dropped and fetched again: it was changed on disk, or the index served it so (an
    /// error for the projects it lists, see `to_dist_files`, which checks every hash).
    pub fn hashes_well_formed(&self) -> bool {
        self.files.iter().all(|file| {
            [&file.sha256, &file.metadata_sha256]
                .into_iter()
                .flatten()
                .all(|hash| validate::is_sha256(hash))
        })
    }
}

/// Parses a page by its `Content-Type` (JSON when the server says so, HTML otherwise).
pub fn parse_page(
    content_type: Option<&str>,
    body: &[u8],
    page_url: &Url,
) -> Result<SimplePage, String> {
    let is_json = content_type
        .map(|ct| ct.trim_start().starts_with(JSON_CONTENT_TYPE) || ct.contains("application/json"))
        .unwrap_or(false);
    if is_json {
        parse_json(body, page_url)
    } else {
        let text =
            std::str::from_utf8(body).map_err(|err| format!("the page is not UTF-8: {err}"))?;
        Ok(parse_html(text, page_url))
    }
}

#[derive(Deserialize)]
struct JsonPage<'a> {
    #[serde(borrow)]
    files: Vec<JsonFile<'a>>,
}

/// One file of a PEP 691 page. What is not kept is borrowed from the body where it
/// can be (a string without escapes): pages list up to tens of thousands of files.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonFile<'a> {
    filename: String,
    url: String,
    #[serde(default, borrow)]
    hashes: Hashes<'a>,
    #[serde(default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<Yanked>,
    #[serde(default, borrow)]
    upload_time: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    core_metadata: Option<MetadataFlag>,
    #[serde(default)]
    dist_info_metadata: Option<MetadataFlag>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Yanked {
    Flag(bool),
    Reason(String),
}

/// The hashes of a file (or of its metadata): only the sha256 is read.
#[derive(Deserialize, Default)]
struct Hashes<'a> {
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MetadataFlag {
    Flag(bool),
    Hashes(BTreeMap<String, String>),
}

/// PEP 691 JSON.
pub fn parse_json(body: &[u8], page_url: &Url) -> Result<SimplePage, String> {
    let page: JsonPage =
        serde_json::from_slice(body).map_err(|err| format!("invalid PEP 691 JSON: {err}"))?;
    let mut files = Vec::with_capacity(page.files.len());
    for file in page.files {
        // A plain link is kept as written and parsed only if the file is used
        // ([`convert`]): most of a page's files are platform wheels no target uses.
        let url = if plain_href(&file.url) {
            (file.url, None)
        } else {
            let Some(url) = resolve(page_url, &file.url) else {
                tracing::debug!("skipping `{}`: bad URL", file.filename);
                continue;
            };
            url
        };
        // PEP 714 renamed the key; an index may send either or both.
        let (has_metadata, metadata_sha256) = match file.core_metadata.or(file.dist_info_metadata) {
            None | Some(MetadataFlag::Flag(false)) => (false, None),
            Some(MetadataFlag::Flag(true)) => (true, None),
            Some(MetadataFlag::Hashes(hashes)) => {
                (true, hashes.get("sha256").map(|h| h.to_ascii_lowercase()))
            }
        };
        let upload_time = file
            .upload_time
            .as_deref()
            .and_then(|t| parse_upload_time(t, &file.filename));
        files.push(PageFile {
            url: url.0,
            sha256: file.hashes.sha256.map(|h| h.to_ascii_lowercase()).or(url.1),
            filename: file.filename,
            requires_python: file.requires_python.filter(|s| !s.trim().is_empty()),
            yanked: match file.yanked {
                None | Some(Yanked::Flag(false)) => None,
                Some(Yanked::Flag(true)) => Some(String::new()),
                Some(Yanked::Reason(reason)) => Some(reason),
            },
            upload_time,
            size: file.size,
            has_metadata,
            metadata_sha256,
        });
    }
    Ok(SimplePage { files })
}

/// PEP 503 HTML (with PEP 592 yanking and PEP 658 / 714 metadata attributes). Tolerant:
/// anything that is not a usable `<a href>` is skipped.
pub fn parse_html(text: &str, page_url: &Url) -> SimplePage {
    let mut base = page_url.clone();
    let mut files = Vec::new();
    for tag in Tags::new(text) {
        match tag.name.as_str() {
            "base" => {
                if let Some(href) = tag.attr("href")
                    && let Ok(url) = page_url.join(&href)
                {
                    base = url;
                }
            }
            "a" => {
                let Some(href) = tag.attr("href") else {
                    continue;
                };
                let Some((url, fragment_hash)) = resolve(&base, &href) else {
                    tracing::debug!("skipping link `{href}`: bad URL");
                    continue;
                };
                let Some(filename) = filename_of(&url) else {
                    continue;
                };
                let metadata = tag
                    .attr("data-core-metadata")
                    .or_else(|| tag.attr("data-dist-info-metadata"));
                let (has_metadata, metadata_sha256) = match metadata.as_deref() {
                    None | Some("false") => (false, None),
                    Some(value) => (
                        true,
                        value
                            .strip_prefix("sha256=")
                            .map(|h| h.to_ascii_lowercase()),
                    ),
                };
                // Not in PEP 503, but some mirrors and proxies of PyPI add it.
                let upload_time = tag
                    .attr("data-upload-time")
                    .and_then(|t| parse_upload_time(&t, &filename));
                files.push(PageFile {
                    filename,
                    url,
                    sha256: fragment_hash,
                    requires_python: tag
                        .attr("data-requires-python")
                        .filter(|s| !s.trim().is_empty()),
                    yanked: tag.attr("data-yanked"),
                    upload_time,
                    size: None,
                    has_metadata,
                    metadata_sha256,
                });
            }
            _ => {}
        }
    }
    SimplePage { files }
}

fn parse_upload_time(value: &str, filename: &str) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_str(value)
        .inspect_err(|err| tracing::debug!("ignoring upload time `{value}` of `{filename}`: {err}"))
        .ok()
}

/// Resolves `href` against `base`: (absolute URL without fragment and userinfo,
/// sha256 from a `#sha256=` fragment).
fn resolve(base: &Url, href: &str) -> Option<(String, Option<String>)> {
    let mut url = base.join(href).ok()?;
    let hash = url.fragment().and_then(|fragment| {
        fragment
            .split('&')
            .find_map(|part| part.strip_prefix("sha256="))
            .map(|h| h.to_ascii_lowercase())
    });
    url.set_fragment(None);
    Some((crate::secrets::without_userinfo(&url).to_string(), hash))
}

/// A link that certainly parses, to the same URL whatever resolves it, and needs
/// nothing taken out: no fragment, no userinfo, no characters a parser would change;
/// either a path below the page's (no `/` first, no `..`), or an `http(s)://host/...`
/// URL with a lowercase host name and no port. A link that climbs out of the page's
/// path is resolved at once, so that the cache holds it relative to the page
/// (`registry::RelativePage`) and never with the page URL's path, where a
/// token may be.
fn plain_href(href: &str) -> bool {
    let plain_chars = href.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'%'
                    | b'+'
                    | b'='
                    | b'&'
                    | b'?'
                    | b'!'
                    | b','
                    | b';'
                    | b':'
            )
    });
    if !plain_chars || href.is_empty() {
        return false;
    }
    let Some(rest) = href
        .strip_prefix("https://")
        .or_else(|| href.strip_prefix("http://"))
    else {
        // Relative: a path below the page's, not `/path`, `//host` or `scheme:`.
        return !href.starts_with('/')
            && !href.contains(':')
            && !href.split('/').any(|segment| segment == "..");
    };
    let Some((host, _path)) = rest.split_once('/') else {
        return false;
    };
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The percent-decoded last path segment of a URL.
fn filename_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let last = url.path_segments()?.next_back()?;
    if last.is_empty() {
        return None;
    }
    Some(
        percent_encoding::percent_decode_str(last)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// What [`convert`] turns page files into [`DistFile`]s for.
pub struct Conversion<'a> {
    pub project: &'a PackageName,
    /// The index (or find-links source) that listed the files.
    pub index: &'a Arc<str>,
    /// `file:` URLs are allowed: a directory or an index on the local disk.
    pub local_source: bool,
    /// What relative file URLs (those of a cached page) are resolved against.
    pub base: Option<&'a Url>,
    /// Files this target cannot install (wheel tags, `requires-python`) are checked and
    /// counted, not converted: most files of a project with platform wheels, which the
    /// resolver would only set aside again.
    pub target: Option<&'a Target>,
}

/// [`convert`]'s answer.
#[derive(Debug, Default)]
pub struct Converted {
    pub files: Vec<DistFile>,
    /// Files left out for [`Conversion::target`].
    pub skipped: Skipped,
    /// `(file URL, sha256)` of the `.metadata` sidecars of `files` that publish one.
    pub sidecars: Vec<(String, String)>,
}

/// Turns page files into [`DistFile`]s of `project`, checking every value a lock or
/// an audit file could carry ([`super::validate`]). [`convert`] without a target.
pub fn to_dist_files(
    files: &[PageFile],
    project: &PackageName,
    index: &Arc<str>,
    local_source: bool,
) -> Result<Vec<DistFile>, IndexError> {
    let conversion = Conversion {
        project,
        index,
        local_source,
        base: None,
        target: None,
    };
    Ok(convert(files, &conversion)?.files)
}

/// Turns page files into [`DistFile`]s of `project`, checking every value a lock or
/// an audit file could carry ([`super::validate`]).
///
/// Skipped, as pip and uv skip them (with a debug log): links that are not a
/// distribution of `project` (another project's files, `README.txt`, a bad name),
/// and files whose `requires-python` does not parse even after the repair metadata
/// gets (`>=3.6.*` is `>=3.6`; uv repairs and skips the same way). An error
/// ([`IndexError::Invalid`]): a distribution of `project` whose name is not a plain
/// file name, whose sha256 (or its metadata sidecar's) is not 64 hex digits, whose URL
/// is not http(s) (or `file:` when `local_source`), whose requires-python holds
/// control characters, or a file listed twice with different hashes. The same file
/// listed twice is kept once. These checks apply to the files left out for the target
/// too, except that their URLs are checked for the scheme only (parsing every URL of
/// a page was the largest part of reading one).
///
/// Each distinct version and `requires-python` of the page is parsed once.
pub fn convert<'p>(
    files: impl IntoIterator<Item = &'p PageFile>,
    conversion: &Conversion,
) -> Result<Converted, IndexError> {
    let Conversion {
        project,
        index,
        local_source,
        base,
        target,
    } = *conversion;
    let mut out = Converted::default();
    // The sha256 of each file name seen: pages of nightly builds list tens of thousands,
    // and one file may be listed twice.
    let mut seen: FxHashMap<&str, Option<&str>> = FxHashMap::default();
    let mut versions: FxHashMap<&str, Version> = FxHashMap::default();
    let mut requires: FxHashMap<&str, Option<VersionSpecifiers>> = FxHashMap::default();
    for file in files {
        let Some((parts, version)) = split_filename(&file.filename, project) else {
            tracing::debug!(
                "skipping {} on index `{index}`: not a distribution of `{project}`",
                validate::quoted(&file.filename)
            );
            continue;
        };
        let version = match versions.get(version) {
            Some(parsed) => parsed.clone(),
            None => match Version::from_str(version) {
                Ok(parsed) => versions.entry(version).or_insert(parsed).clone(),
                Err(_) => {
                    tracing::debug!(
                        "skipping {} on index `{index}`: its version does not parse",
                        validate::quoted(&file.filename)
                    );
                    continue;
                }
            },
        };
        let invalid = |message: String| IndexError::Invalid {
            index: index.to_string(),
            project: project.to_string(),
            file: validate::shown(&file.filename),
            message: message.into(),
        };
        validate::distribution_filename(&file.filename).map_err(invalid)?;
        if let Some(hash) = file.sha256.as_deref().filter(|h| !validate::is_sha256(h)) {
            return Err(invalid(validate::sha256(hash).unwrap_err()));
        }
        if let Some(hash) = file
            .metadata_sha256
            .as_deref()
            .filter(|h| !validate::is_sha256(h))
        {
            let message = validate::sha256(hash).unwrap_err();
            return Err(invalid(format!("its metadata sidecar: {message}")));
        }
        let requires_python = match file.requires_python.as_deref() {
            None => None,
            Some(spec) => {
                if !requires.contains_key(spec) {
                    validate::no_control("requires-python", spec).map_err(invalid)?;
                    let parsed = super::metadata::parse_requires_python(spec)
                        .map_err(|err| {
                            tracing::debug!(
                                "skipping files on index `{index}` with requires-python `{spec}`: it does not parse: {err}"
                            )
                        })
                        .ok();
                    requires.insert(spec, parsed);
                }
                match &requires[spec] {
                    Some(parsed) => Some(parsed),
                    None => continue,
                }
            }
        };
        match seen.entry(&file.filename) {
            Entry::Occupied(first) => {
                let first = first.get().map(str::to_ascii_lowercase);
                let this = file.sha256.as_deref().map(str::to_ascii_lowercase);
                if first != this {
                    return Err(invalid(format!(
                        "the page lists it twice, with the sha256 {} and {}",
                        first.as_deref().unwrap_or("(none)"),
                        this.as_deref().unwrap_or("(none)")
                    )));
                }
                continue;
            }
            Entry::Vacant(slot) => {
                slot.insert(file.sha256.as_deref());
            }
        }
        if let Some(target) = target {
            let left_out = if requires_python.is_some_and(|spec| !spec.contains(&target.python)) {
                Some(&mut out.skipped.requires_python)
            } else if let FileParts::Wheel(tags) = &parts
                && target
                    .wheel_rank(tags.interpreters, tags.abis, tags.platforms)
                    .is_none()
            {
                Some(&mut out.skipped.incompatible_wheels)
            } else {
                None
            };
            if let Some(count) = left_out {
                allowed_scheme(scheme_of(&file.url, base), local_source).map_err(invalid)?;
                *count += 1;
                continue;
            }
        }
        let url = match base {
            Some(base) => base.join(&file.url),
            None => Url::parse(&file.url),
        }
        .map_err(|err| {
            invalid(format!(
                "the URL {} does not parse: {err}",
                validate::quoted(&file.url)
            ))
        })?;
        allowed_scheme(url.scheme(), local_source).map_err(invalid)?;
        if let Some(hash) = &file.metadata_sha256 {
            out.sidecars
                .push((url.to_string(), hash.to_ascii_lowercase()));
        }
        out.files.push(DistFile {
            filename: file.filename.clone(),
            kind: parts.into_kind(),
            version,
            url,
            sha256: file.sha256.as_deref().map(str::to_ascii_lowercase),
            requires_python: requires_python.cloned(),
            yanked: file
                .yanked
                .as_deref()
                .map(|reason| crate::input::text::printable(reason).into_owned()),
            upload_time: file.upload_time,
            size: file.size,
            has_metadata_sidecar: file.has_metadata,
            index: index.clone(),
        });
    }
    // Kept for the whole run: without the room a growing vector leaves.
    out.files.shrink_to_fit();
    Ok(out)
}

/// An index may only link to http(s) files (and `file:` ones when `local_source`).
fn allowed_scheme(scheme: &str, local_source: bool) -> Result<(), String> {
    let is = |name: &str| scheme.eq_ignore_ascii_case(name);
    if is("http") || is("https") || (local_source && is("file")) {
        return Ok(());
    }
    Err(format!(
        "its URL has the scheme `{}`; an index may only link to http(s) files",
        validate::shown(&scheme.to_ascii_lowercase())
    ))
}

/// The scheme of `url`, a whole URL or, with `base`, possibly one relative to it,
/// without parsing the rest.
fn scheme_of<'a>(url: &'a str, base: Option<&'a Url>) -> &'a str {
    match url.split_once(':') {
        Some((scheme, _))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            scheme
        }
        _ => base.map_or(url, Url::scheme),
    }
}

// SEAM: replaced by index::filename on merge. A minimal wheel / sdist filename parser,
// enough for fixture indexes; it returns `None` for files of other projects.
#[cfg(test)]
fn parse_filename(filename: &str, project: &PackageName) -> Option<(DistKind, Version)> {
    let (parts, version) = split_filename(filename, project)?;
    Some((parts.into_kind(), Version::from_str(version).ok()?))
}

/// A distribution file name of a project, split but nothing of it copied yet.
enum FileParts<'a> {
    Wheel(TagSets<'a>),
    Sdist,
}

/// The three `.`-compressed tag sets of a wheel file name, as written.
struct TagSets<'a> {
    interpreters: &'a str,
    abis: &'a str,
    platforms: &'a str,
}

impl FileParts<'_> {
    fn into_kind(self) -> DistKind {
        match self {
            FileParts::Wheel(tags) => {
                DistKind::Wheel(WheelTags::new(tags.interpreters, tags.abis, tags.platforms))
            }
            FileParts::Sdist => DistKind::Sdist,
        }
    }
}

/// A wheel or sdist file name of `project`: its kind and tags, and its version as
/// written; `None` for any other file.
fn split_filename<'a>(
    filename: &'a str,
    project: &PackageName,
) -> Option<(FileParts<'a>, &'a str)> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        // `{name}-{version}(-{build})?-{python}-{abi}-{platform}`, split from the end.
        let mut tail = stem.rsplitn(4, '-');
        let (platforms, abis, interpreters) = (tail.next()?, tail.next()?, tail.next()?);
        let mut head = tail.next()?.split('-');
        let (name, version) = (head.next()?, head.next()?);
        if head.count() > 1 || !same_name(name, project) {
            return None;
        }
        let tags = TagSets {
            interpreters,
            abis,
            platforms,
        };
        return Some((FileParts::Wheel(tags), version));
    }
    let stem = [".tar.gz", ".zip"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    stem.match_indices('-')
        .find(|&(i, _)| same_name(&stem[..i], project))
        .map(|(i, _)| (FileParts::Sdist, &stem[i + 1..]))
}

/// Whether `name`, as a file name writes it, is `project` once normalised (PEP 503:
/// case folded, each run of `-`, `_` and `.` one `-`), without making the normal form.
fn same_name(name: &str, project: &PackageName) -> bool {
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return false;
    }
    let mut normal = project.as_ref().bytes();
    let mut bytes = name.bytes().peekable();
    while let Some(b) = bytes.next() {
        let b = if matches!(b, b'-' | b'_' | b'.') {
            while bytes.next_if(|b| matches!(b, b'-' | b'_' | b'.')).is_some() {}
            b'-'
        } else {
            b.to_ascii_lowercase()
        };
        if normal.next() != Some(b) {
            return false;
        }
    }
    normal.next().is_none()
}

/// A start tag: lowercase name and raw attributes.
struct Tag {
    name: String,
    attrs: Vec<(String, Option<String>)>,
}

impl Tag {
    /// The HTML-unescaped value of an attribute; a bare attribute is `Some("")`.
    fn attr(&self, name: &str) -> Option<String> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().map(unescape).unwrap_or_default())
    }
}

/// Start tags of an HTML document, in order. Comments, end tags and text are skipped;
/// this is enough for simple-API pages, which are flat lists of links.
struct Tags<'a> {
    rest: &'a str,
}

impl<'a> Tags<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text }
    }
}

impl Iterator for Tags<'_> {
    type Item = Tag;

    fn next(&mut self) -> Option<Tag> {
        loop {
            let start = self.rest.find('<')?;
            self.rest = &self.rest[start + 1..];
            if let Some(after) = self.rest.strip_prefix("!--") {
                self.rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                continue;
            }
            let name_len = self
                .rest
                .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .unwrap_or(self.rest.len());
            let name = self.rest[..name_len].to_ascii_lowercase();
            self.rest = &self.rest[name_len..];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let mut attrs = Vec::new();
            loop {
                self.rest = self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
                if self.rest.is_empty() {
                    return Some(Tag { name, attrs });
                }
                if let Some(after) = self.rest.strip_prefix('>') {
                    self.rest = after;
                    return Some(Tag { name, attrs });
                }
                let key_len = self
                    .rest
                    .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
                    .unwrap_or(self.rest.len())
                    .max(1);
                let key = self.rest[..key_len].to_ascii_lowercase();
                self.rest = self.rest[key_len..].trim_start();
                let Some(after_eq) = self.rest.strip_prefix('=') else {
                    attrs.push((key, None));
                    continue;
                };
                let after_eq = after_eq.trim_start();
                let (value, rest) = match after_eq.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let body = &after_eq[1..];
                        match body.find(q) {
                            Some(end) => (&body[..end], &body[end + 1..]),
                            None => (body, ""),
                        }
                    }
                    _ => {
                        let end = after_eq
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .unwrap_or(after_eq.len());
                        (&after_eq[..end], &after_eq[end..])
                    }
                };
                attrs.push((key, Some(value.to_owned())));
                self.rest = rest;
            }
        }
    }
}

/// Decodes the character references that appear in attribute values.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_url() -> Url {
        Url::parse("https://download.example.com/whl/cu124/torch/").unwrap()
    }

    #[test]
    fn html_page_attributes() {
        let html = r#"<!DOCTYPE html><html><body>
<!-- <a href="commented-1.0.tar.gz">x</a> -->
<a href="/whl/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl#sha256=ABCDEF" data-requires-python="&gt;=3.9" data-dist-info-metadata="sha256=1234">torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl</a><br/>
<a href='torch-2.4.0.tar.gz' data-yanked="">torch-2.4.0.tar.gz</a>
<A HREF=../other/torch-2.3.0-py3-none-any.whl data-upload-time="2024-04-24T17:00:00.5Z" data-core-metadata=true data-yanked="bad &amp; broken">x</A>
</body></html>"#;
        let page = parse_html(html, &page_url());
        insta::assert_debug_snapshot!(page);
    }

    #[test]
    fn html_base_tag() {
        let html = r#"<html><head><base href="https://files.example.com/pkgs/"></head>
<a href="a-1.0.tar.gz#md5=00&sha256=FF">a</a>"#;
        let page = parse_html(html, &page_url());
        assert_eq!(
            page.files[0].url,
            "https://files.example.com/pkgs/a-1.0.tar.gz"
        );
        // Lower-cased here, checked as a sha256 when made a `DistFile`.
        assert_eq!(page.files[0].sha256.as_deref(), Some("ff"));
    }

    #[test]
    fn json_page_fields() {
        let body = br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
 {"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl","hashes":{"sha256":"AA"},
  "requires-python":">=3.8","yanked":false,"upload-time":"2024-01-02T03:04:05.123456Z","size":10,
  "core-metadata":{"sha256":"bb"}},
 {"filename":"demo-0.9.tar.gz","url":"https://x.example/demo-0.9.tar.gz","hashes":{},"yanked":"broken",
  "dist-info-metadata":true}
]}"#;
        let page = parse_json(
            body,
            &Url::parse("https://idx.example/simple/demo/").unwrap(),
        )
        .unwrap();
        insta::assert_debug_snapshot!(page);
    }

    #[test]
    fn plain_links_are_kept_as_written_and_resolve_as_parsed_ones_do() {
        let page_url = Url::parse("https://user:t0ken@idx.example/simple/demo/").unwrap();
        let plain = [
            "files/demo-1.0.tar.gz",
            "demo-1.0.tar.gz?x=1",
            "./demo-1.0.tar.gz",
            "https://files.example/a/b%2B/demo-1.0.tar.gz",
            "http://cdn-1.files.example/demo-1.0.tar.gz",
        ];
        let parsed = [
            "../../files/demo-1.0.tar.gz",
            "/t0ken/files/demo-1.0.tar.gz",
            "https://USER@files.example/demo-1.0.tar.gz",
            "https://files.example/demo-1.0.tar.gz#sha256=aa",
            "https://Files.example/demo-1.0.tar.gz",
            "https://files.example:8443/demo-1.0.tar.gz",
            "https://127.0.0.1/demo-1.0.tar.gz",
            "//files.example/demo-1.0.tar.gz",
            "https://files.example/a b/demo-1.0.tar.gz",
            "https://files.example/a\\b/demo-1.0.tar.gz",
            "file:///etc/demo-1.0.tar.gz",
            "https://files..example/demo-1.0.tar.gz",
            "",
        ];
        for href in plain {
            assert!(plain_href(href), "{href}");
        }
        for href in parsed {
            assert!(!plain_href(href), "{href}");
        }
        // Kept as written, a plain link resolves to what parsing it at once gives.
        let base = crate::secrets::without_userinfo(&page_url);
        for href in plain {
            let at_once = resolve(&page_url, href).unwrap().0;
            assert_eq!(base.join(href).unwrap().as_str(), at_once, "{href}");
        }
    }

    #[test]
    fn json_errors_are_messages() {
        let err = parse_json(b"{\"files\": 3}", &page_url()).unwrap_err();
        assert_eq!(
            err,
            "invalid PEP 691 JSON: invalid type: integer `3`, expected a sequence at line 1 column 11"
        );
    }

    #[test]
    fn filenames() {
        let torch = PackageName::from_str("torch").unwrap();
        let (kind, version) = parse_filename(
            "torch-2.5.1+cu124-cp311-cp311-manylinux_2_28_x86_64.whl",
            &torch,
        )
        .unwrap();
        assert_eq!(version.to_string(), "2.5.1+cu124");
        assert!(
            matches!(kind, DistKind::Wheel(ref tags) if tags.platforms() == "manylinux_2_28_x86_64")
        );
        let zope = PackageName::from_str("zope-interface").unwrap();
        assert_eq!(
            parse_filename("zope.interface-6.0.tar.gz", &zope).map(|(_, v)| v.to_string()),
            Some("6.0".to_owned())
        );
        assert_eq!(parse_filename("torchvision-0.20.0.tar.gz", &torch), None);
        // A build tag is the one optional part; fewer or more parts is no wheel.
        let built = parse_filename("torch-2.5.1-1b-cp311-cp311-linux_x86_64.whl", &torch);
        assert_eq!(built.map(|(_, v)| v.to_string()), Some("2.5.1".to_owned()));
        for other in [
            "torch-2.5.1-cp311-linux_x86_64.whl",
            "torch-2.5.1-1-x-cp311-cp311-linux_x86_64.whl",
            "torchvision-0.20.0-py3-none-any.whl",
        ] {
            assert_eq!(parse_filename(other, &torch), None, "{other}");
        }
    }

    fn page_file(filename: &str) -> PageFile {
        PageFile {
            filename: filename.to_owned(),
            url: format!("https://files.example/{filename}"),
            sha256: Some("AB".repeat(32)),
            requires_python: None,
            yanked: None,
            upload_time: None,
            size: None,
            has_metadata: false,
            metadata_sha256: None,
        }
    }

    fn dist_files(files: &[PageFile]) -> Result<Vec<DistFile>, String> {
        let demo = PackageName::from_str("demo").unwrap();
        to_dist_files(files, &demo, &Arc::from("idx"), false).map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_checked_where_files_are_made() {
        let good = page_file("demo-1.0-py3-none-any.whl");
        let files = dist_files(std::slice::from_ref(&good)).unwrap();
        assert_eq!(files[0].sha256, Some("ab".repeat(32)));

        let injected = PageFile {
            sha256: Some(format!(
                "{} \\\n--extra-index-url http://evil.invalid/simple\nevilpkg==6.6.6",
                "a".repeat(64)
            )),
            ..good.clone()
        };
        let cases = [
            injected,
            PageFile {
                sha256: Some("ff".into()),
                ..good.clone()
            },
            PageFile {
                filename: "demo-1.0-py3-none-any\nevil.whl".into(),
                ..good.clone()
            },
            PageFile {
                metadata_sha256: Some("not-a-hash".into()),
                ..good.clone()
            },
            PageFile {
                url: "file:///etc/passwd".into(),
                ..good.clone()
            },
            PageFile {
                requires_python: Some(">=3.8\n--index-url http://evil.invalid".into()),
                ..good.clone()
            },
        ];
        let messages: Vec<String> = cases
            .iter()
            .map(|case| dist_files(std::slice::from_ref(case)).unwrap_err())
            .collect();
        insta::assert_snapshot!(messages.join("\n"));
    }

    #[test]
    fn skips_what_is_not_a_distribution_and_dedups() {
        let good = page_file("demo-1.0-py3-none-any.whl");
        let files = dist_files(&[
            page_file("README file.txt"),
            page_file("other-1.0-py3-none-any.whl"),
            PageFile {
                requires_python: Some(">=2.7,<<3".into()),
                ..page_file("demo-0.9.tar.gz")
            },
            PageFile {
                requires_python: Some(">=3.6.*".into()),
                ..page_file("demo-0.8.tar.gz")
            },
            good.clone(),
            good.clone(),
            PageFile {
                yanked: Some("broken\n\u{1b}[2J".into()),
                ..page_file("demo-1.1.tar.gz")
            },
        ])
        .unwrap();
        let names: Vec<_> = files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo-0.8.tar.gz",
                "demo-1.0-py3-none-any.whl",
                "demo-1.1.tar.gz"
            ]
        );
        assert_eq!(
            files[0].requires_python.as_ref().map(ToString::to_string),
            Some(">=3.6".to_owned())
        );
        assert_eq!(files[2].yanked.as_deref(), Some("broken\\n\\u{1b}[2J"));

        let twice = dist_files(&[
            good.clone(),
            PageFile {
                sha256: Some("cd".repeat(32)),
                ..good
            },
        ])
        .unwrap_err();
        assert!(twice.contains("lists it twice"), "{twice}");
    }

    #[test]
    fn files_the_target_cannot_use_are_checked_counted_and_left_out() {
        let profile = crate::input::profile::builtin("cpu-x86_64").unwrap();
        let target = Target::from_profile(&profile).unwrap();
        let python = target.python.clone();
        let demo = PackageName::from_str("Demo.Pkg").unwrap();
        let base = Url::parse("https://idx.example/simple/demo-pkg/").unwrap();
        let convert_for = |files: &[PageFile]| {
            let conversion = Conversion {
                project: &demo,
                index: &Arc::from("idx"),
                local_source: false,
                base: Some(&base),
                target: Some(&target),
            };
            convert(files, &conversion).map_err(|e| e.to_string())
        };
        let windows = page_file("demo_pkg-1.0-cp311-cp311-win_amd64.whl");
        let linux = PageFile {
            // Relative, as a cached page holds a file on the page's own origin.
            url: "../../files/Demo.Pkg-1.0-py3-none-any.whl".into(),
            metadata_sha256: Some("CD".repeat(32)),
            ..page_file("Demo.Pkg-1.0-py3-none-any.whl")
        };
        let too_old = PageFile {
            requires_python: Some(format!("<{}", python.release()[0])),
            ..page_file("demo-pkg-0.9.tar.gz")
        };
        let converted = convert_for(&[windows.clone(), linux, too_old.clone()]).unwrap();
        let kept: Vec<_> = converted.files.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            kept,
            ["https://idx.example/files/Demo.Pkg-1.0-py3-none-any.whl"]
        );
        assert_eq!(
            converted.skipped,
            Skipped {
                incompatible_wheels: 1,
                requires_python: 1
            }
        );
        assert_eq!(converted.sidecars, [(kept[0].to_owned(), "cd".repeat(32))]);

        // What is left out is checked all the same: a bad hash or an index linking a
        // local file is an error whether or not the target could use the file.
        let bad_hash = PageFile {
            sha256: Some("ff".into()),
            ..windows.clone()
        };
        let local = PageFile {
            url: "FILE:///etc/passwd".into(),
            ..too_old
        };
        let relative_local = PageFile {
            url: "demo_pkg-1.0-cp311-cp311-win_amd64.whl".into(),
            ..windows
        };
        let local_base = Url::parse("file:///srv/simple/demo-pkg/").unwrap();
        let messages = [
            convert_for(&[bad_hash]).unwrap_err(),
            convert_for(&[local]).unwrap_err(),
            convert(
                &[relative_local],
                &Conversion {
                    project: &demo,
                    index: &Arc::from("idx"),
                    local_source: false,
                    base: Some(&local_base),
                    target: Some(&target),
                },
            )
            .unwrap_err()
            .to_string(),
        ];
        insta::assert_snapshot!(messages.join("\n"), @r"
        index `idx` serves an invalid value for `demo_pkg-1.0-cp311-cp311-win_amd64.whl` of project `demo-pkg`: the sha256 `ff` is not 64 hex digits; dockgen does not write it into a lock (report it to the index's maintainers, or pin another version)
        index `idx` serves an invalid value for `demo-pkg-0.9.tar.gz` of project `demo-pkg`: its URL has the scheme `file`; an index may only link to http(s) files; dockgen does not write it into a lock (report it to the index's maintainers, or pin another version)
        index `idx` serves an invalid value for `demo_pkg-1.0-cp311-cp311-win_amd64.whl` of project `demo-pkg`: its URL has the scheme `file`; an index may only link to http(s) files; dockgen does not write it into a lock (report it to the index's maintainers, or pin another version)
        ");
    }

    #[test]
    fn names_in_file_names_are_compared_normalised() {
        let project = PackageName::from_str("zope-interface").unwrap();
        for same in ["zope.interface", "Zope_Interface", "zope-_.interface"] {
            assert!(same_name(same, &project), "{same}");
        }
        for other in [
            "zope",
            "zope.interfaces",
            "zope.interface-",
            ".zope.interface",
            "zope interface",
        ] {
            assert!(!same_name(other, &project), "{other}");
        }
    }

    #[test]
    fn unescapes_references() {
        assert_eq!(
            unescape("&gt;=3.8,&lt;4&#44;&#x21;&unknown; &"),
            ">=3.8,<4,!&unknown; &"
        );
    }
}
