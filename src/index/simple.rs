//! The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, parsed into
//! [`PageFile`]s (what is cached) and then into [`DistFile`]s (what the resolver sees).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{DistFile, DistKind, IndexError, validate};

/// Prefer PEP 691 JSON, accept HTML from indexes that only speak PEP 503.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, \
     application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

pub const JSON_CONTENT_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// One file of a project page, before filename parsing. This is what the cache stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFile {
    pub filename: String,
    /// Absolute, without fragment or userinfo.
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
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<Yanked>,
    #[serde(default)]
    upload_time: Option<String>,
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
        let Some(url) = resolve(page_url, &file.url) else {
            tracing::debug!("skipping `{}`: bad URL", file.filename);
            continue;
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
            sha256: file
                .hashes
                .get("sha256")
                .map(|h| h.to_ascii_lowercase())
                .or(url.1),
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

/// Turns page files into [`DistFile`]s of `project`, checking every value a lock or
/// an audit file could carry ([`super::validate`]).
///
/// Skipped, as pip and uv skip them (with a debug log): links that are not a
/// distribution of `project` (another project's files, `README.txt`, a bad name),
/// and files whose `requires-python` does not parse even after the repair metadata
/// gets (`>=3.6.*` is `>=3.6`; uv repairs and skips the same way). An error ([`IndexError::Invalid`]): a distribution of
/// `project` whose name is not a plain file name, whose sha256 (or its metadata
/// sidecar's) is not 64 hex digits, whose URL is not http(s) (or `file:` when `local_source`:
/// a directory or an index on the local disk), whose requires-python holds control characters, or a file listed twice
/// with different hashes. The same file listed twice is kept once.
pub fn to_dist_files(
    files: &[PageFile],
    project: &PackageName,
    index: &Arc<str>,
    local_source: bool,
) -> Result<Vec<DistFile>, IndexError> {
    let mut out: Vec<DistFile> = Vec::with_capacity(files.len());
    // Position in `out` by file name: pages of nightly builds list tens of thousands.
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for file in files {
        let Some((kind, version)) = parse_filename(&file.filename, project) else {
            tracing::debug!(
                "skipping {} on index `{index}`: not a distribution of `{project}`",
                validate::quoted(&file.filename)
            );
            continue;
        };
        let invalid = |message: String| IndexError::Invalid {
            index: index.to_string(),
            project: project.to_string(),
            file: validate::shown(&file.filename),
            message: message.into(),
        };
        validate::distribution_filename(&file.filename).map_err(invalid)?;
        let url = Url::parse(&file.url).map_err(|err| {
            invalid(format!(
                "the URL {} does not parse: {err}",
                validate::quoted(&file.url)
            ))
        })?;
        match url.scheme() {
            "http" | "https" => {}
            "file" if local_source => {}
            scheme => {
                return Err(invalid(format!(
                    "its URL has the scheme `{}`; an index may only link to http(s) files",
                    validate::shown(scheme)
                )));
            }
        }
        let sha256 = file
            .sha256
            .as_deref()
            .map(validate::sha256)
            .transpose()
            .map_err(invalid)?;
        if let Some(hash) = &file.metadata_sha256 {
            validate::sha256(hash)
                .map_err(|message| invalid(format!("its metadata sidecar: {message}")))?;
        }
        let requires_python = match file.requires_python.as_deref() {
            None => None,
            Some(spec) => {
                validate::no_control("requires-python", spec).map_err(invalid)?;
                match super::metadata::parse_requires_python(spec) {
                    Ok(spec) => Some(spec),
                    Err(err) => {
                        tracing::debug!(
                            "skipping `{}` on index `{index}`: requires-python `{spec}` does not parse: {err}",
                            file.filename
                        );
                        continue;
                    }
                }
            }
        };
        if let Some(seen) = seen.get(file.filename.as_str()).map(|&at| &out[at]) {
            if seen.sha256 != sha256 {
                return Err(invalid(format!(
                    "the page lists it twice, with the sha256 {} and {}",
                    seen.sha256.as_deref().unwrap_or("(none)"),
                    sha256.as_deref().unwrap_or("(none)")
                )));
            }
            continue;
        }
        seen.insert(&file.filename, out.len());
        out.push(DistFile {
            filename: file.filename.clone(),
            kind,
            version,
            url,
            sha256,
            requires_python,
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
    Ok(out)
}

// SEAM: replaced by index::filename on merge. A minimal wheel / sdist filename parser,
// enough for fixture indexes; it returns `None` for files of other projects.
pub(crate) fn parse_filename(filename: &str, project: &PackageName) -> Option<(DistKind, Version)> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) {
            return None;
        }
        if PackageName::from_str(parts[0]).ok()? != *project {
            return None;
        }
        let version = Version::from_str(parts[1]).ok()?;
        let n = parts.len();
        let split = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        return Some((
            DistKind::Wheel {
                interpreters: split(parts[n - 3]),
                abis: split(parts[n - 2]),
                platforms: split(parts[n - 1]),
            },
            version,
        ));
    }
    let stem = [".tar.gz", ".zip"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    stem.match_indices('-').find_map(|(i, _)| {
        let name = PackageName::from_str(&stem[..i]).ok()?;
        if name != *project {
            return None;
        }
        Some((DistKind::Sdist, Version::from_str(&stem[i + 1..]).ok()?))
    })
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
            matches!(kind, DistKind::Wheel { ref platforms, .. } if platforms == &["manylinux_2_28_x86_64"])
        );
        let zope = PackageName::from_str("zope-interface").unwrap();
        assert_eq!(
            parse_filename("zope.interface-6.0.tar.gz", &zope).map(|(_, v)| v.to_string()),
            Some("6.0".to_owned())
        );
        assert_eq!(parse_filename("torchvision-0.20.0.tar.gz", &torch), None);
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
    fn unescapes_references() {
        assert_eq!(
            unescape("&gt;=3.8,&lt;4&#44;&#x21;&unknown; &"),
            ">=3.8,<4,!&unknown; &"
        );
    }
}
