//! Reading a lock back: the pins (kept on re-lock unless upgraded), their hashes and
//! their `# via` entries. Reads dockgen's own output and any pip-compile /
//! `uv pip compile` file alike: their `# via` entries name packages without a
//! requirement, which reads as a requirement with no specifier.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPin {
    /// The name as the pin spells it (`PyYAML` in a pip-compile lock, `pyyaml` in
    /// dockgen's, which writes normalized names).
    pub name: String,
    pub version: Version,
    pub hashes: Vec<String>,
    /// The URL of a direct reference (`name @ URL`), as written; its version is the
    /// one its archive's file name says.
    pub url: Option<String>,
    /// A git pin's revision as the input asked for it (the comment under the pin);
    /// `None` for the default branch, and for every other pin.
    pub git_revision: Option<String>,
    pub line: usize,
    /// The `# via` annotation: the inputs (`-r FILE`) and packages that require it.
    pub via: Vec<Via>,
    /// The environment marker after `;`, which dockgen never writes (a lock is made
    /// for one target): pip installs the pin only where it holds. `check` reports it.
    pub marker: Option<String>,
}

/// One `# via` entry (the format is described in `lock/write.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An input, or anything that does not read as a package: `-r ../requirements.in`,
    /// pip-compile's `my-project (pyproject.toml)`.
    Input(String),
    /// A locked package's requirement: `parent`, `parent (>=1.0,<2)`,
    /// `parent[extra] (>=1.0)`, `parent ([cuda,nvtx]==12.8)`.
    Package(ViaPackage),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaPackage {
    pub name: PackageName,
    /// The parent's extra when the requirement only holds with it.
    pub extra: Option<ExtraName>,
    /// The extras the requirement asks of the locked package (`cuda-toolkit[cuda]`),
    /// sorted; empty for none.
    pub requests: Vec<ExtraName>,
    /// The specifiers as pipdeptree shows them; `None` for none (or a lock that does
    /// not record them).
    pub specifier: Option<String>,
}

impl Via {
    /// Reads one entry; never fails (what is not a package is an input).
    pub fn parse(entry: &str) -> Via {
        let entry = entry.trim();
        let input = || Via::Input(entry.to_string());
        if entry.starts_with('-') {
            return input();
        }
        let (label, requests, specifier) = match entry.split_once(" (") {
            Some((label, rest)) => match rest.strip_suffix(')').and_then(requirement_tail) {
                Some((requests, specifier)) => (label, requests, specifier),
                None => return input(),
            },
            None => (entry, Vec::new(), None),
        };
        let (name, extra) = match label.split_once('[') {
            Some((name, rest)) => match rest
                .strip_suffix(']')
                .and_then(|e| ExtraName::from_str(e).ok())
            {
                Some(extra) => (name, Some(extra)),
                None => return input(),
            },
            None => (label, None),
        };
        match PackageName::from_str(name) {
            Ok(name) if !name.as_ref().is_empty() => Via::Package(ViaPackage {
                name,
                extra,
                requests,
                specifier,
            }),
            _ => input(),
        }
    }

    /// The package this entry names, if it names one.
    pub fn package(&self) -> Option<&ViaPackage> {
        match self {
            Via::Package(package) => Some(package),
            Via::Input(_) => None,
        }
    }
}

/// What a package entry holds in parentheses: the extras it asks for (`[a,b]`), then
/// its specifiers; at least one of them. `None` when it is not that (an input's
/// `(pyproject.toml)`).
fn requirement_tail(text: &str) -> Option<(Vec<ExtraName>, Option<String>)> {
    let (requests, specifier) = match text.strip_prefix('[') {
        Some(rest) => {
            let (list, specifier) = rest.split_once(']')?;
            let mut requests = list
                .split(',')
                .map(|extra| {
                    let extra = extra.trim();
                    (!extra.is_empty())
                        .then(|| ExtraName::from_str(extra).ok())
                        .flatten()
                })
                .collect::<Option<Vec<_>>>()?;
            requests.sort();
            requests.dedup();
            (requests, specifier.trim())
        }
        None => (Vec::new(), text),
    };
    if specifier.is_empty() {
        return (!requests.is_empty()).then_some((requests, None));
    }
    specifier
        .starts_with(['<', '>', '=', '!', '~'])
        .then(|| (requests, Some(specifier.to_string())))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Input(label) => f.write_str(label),
            Via::Package(package) => {
                f.write_str(package.name.as_ref())?;
                if let Some(extra) = &package.extra {
                    write!(f, "[{extra}]")?;
                }
                if package.requests.is_empty() && package.specifier.is_none() {
                    return Ok(());
                }
                f.write_str(" (")?;
                if !package.requests.is_empty() {
                    let requests: Vec<&str> = package.requests.iter().map(|e| e.as_ref()).collect();
                    write!(f, "[{}]", requests.join(","))?;
                }
                write!(f, "{})", package.specifier.as_deref().unwrap_or(""))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LockFile {
    pub pins: BTreeMap<PackageName, LockedPin>,
    /// `--trusted-host HOST` options, `(line, host)`: pip then skips TLS verification
    /// for that host. dockgen never writes one; `check` reports it.
    pub trusted_hosts: Vec<(usize, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read lock `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {}", path.display(), crate::input::text::printable(message))]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// No pin, and no dockgen header saying the lock was made for no requirements.
    #[error(
        "`{}` is not a lock: it pins no package and has no dockgen header",
        path.display()
    )]
    NoPins { path: PathBuf },
}

pub fn parse(text: &str, path: &Path) -> Result<LockFile, ReadError> {
    let mut lock = LockFile::default();
    let mut current: Option<PackageName> = None;
    // Join continuation lines but remember where each logical line starts.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let content = raw.split(" #").next().unwrap_or("");
        let content = if content.trim_start().starts_with('#') {
            ""
        } else {
            content
        };
        let (piece, continues) = match content.trim_end().strip_suffix('\\') {
            Some(piece) => (piece.to_string(), true),
            None => (content.to_string(), false),
        };
        let entry = pending.get_or_insert((line_no, String::new()));
        entry.1.push(' ');
        entry.1.push_str(piece.trim());
        if !continues {
            logical.extend(pending.take());
        }
    }
    logical.extend(pending.take());

    for (line, content) in logical {
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let syntax = |message: String| ReadError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        if content.starts_with('-') && !content.starts_with("--hash") {
            current = None;
            let (option, value) = content
                .split_once(['=', ' '])
                .map_or((content, ""), |(option, value)| (option, value.trim()));
            match option {
                "-e" | "--editable" => {
                    return Err(syntax(format!(
                        "`{content}`: an editable requirement cannot be locked by hash \
                         (pip's `--require-hashes` refuses it); lock the package from \
                         an index or as a built archive"
                    )));
                }
                "-r" | "--requirement" => {
                    return Err(syntax(format!(
                        "`{content}`: a lock includes no other file (pip would install \
                         what `{value}` requires too, which no audit of this lock sees)"
                    )));
                }
                "--trusted-host" => lock.trusted_hosts.push((line, value.to_string())),
                // --index-url and friends: not pins.
                _ => {}
            }
            continue;
        }
        // The requirement, up to its first option (`--hash=...`), and its marker; none
        // on a line of options only.
        let requirement = match content.starts_with("--") {
            true => "",
            false => content.split(" --").next().unwrap_or_default().trim(),
        };
        let (requirement, marker) = match requirement.split_once(';') {
            Some((requirement, marker)) => (requirement.trim(), Some(marker.trim())),
            None => (requirement, None),
        };
        let mut url = None;
        let mut git_revision = None;
        if !requirement.is_empty() {
            let direct;
            let mut words = requirement.split_whitespace();
            let first = words.next().unwrap_or_default();
            let (name, version) = if words.next() == Some("@") {
                // `name @ URL`: the URL may hold `==` anywhere.
                let written = words
                    .next()
                    .ok_or_else(|| syntax(format!("expected a URL after `{first} @`")))?;
                direct = if super::is_git_pin(written) {
                    let (version, revision) = git_pin_version(text, line).ok_or_else(|| {
                        syntax(format!(
                            "the git pin `{first} @ {}` is not followed by its \
                             `# version X (git revision R)` line",
                            crate::secrets::url_text(written)
                        ))
                    })?;
                    git_revision = revision;
                    version
                } else if super::is_directory_pin(written) {
                    directory_pin_version(text, line).ok_or_else(|| {
                        syntax(format!(
                            "the local directory pin `{first} @ {}` is not followed by its \
                             `# version X {}` line",
                            crate::secrets::url_text(written),
                            super::DIRECTORY_PIN_MARK
                        ))
                    })?
                } else {
                    direct_version(first, written).map_err(syntax)?
                };
                url = Some(written.to_string());
                (first, direct.as_str())
            } else {
                requirement.split_once("==").ok_or_else(|| {
                    syntax(format!(
                        "expected `name==version` or `name @ URL`, found `{first}`"
                    ))
                })?
            };
            let written = name.split('[').next().unwrap_or(name).trim();
            let name = PackageName::from_str(written)
                .map_err(|e| syntax(format!("bad package name `{written}`: {e}")))?;
            let version = Version::from_str(version.trim())
                .map_err(|e| syntax(format!("bad version `{version}` of `{name}`: {e}")))?;
            if let Some(first) = lock.pins.get(&name) {
                return Err(syntax(format!(
                    "`{name}` is pinned again (first on line {}): pip installs one version \
                     of a package, so a lock pins each package once",
                    first.line
                )));
            }
            lock.pins.insert(
                name.clone(),
                LockedPin {
                    name: written.to_string(),
                    version,
                    hashes: Vec::new(),
                    url,
                    git_revision,
                    line,
                    via: Vec::new(),
                    marker: marker.filter(|m| !m.is_empty()).map(String::from),
                },
            );
            current = Some(name);
        }
        for word in content.split_whitespace() {
            if let Some(hash) = word.strip_prefix("--hash=") {
                let Some(name) = &current else {
                    return Err(syntax("`--hash` without a requirement".into()));
                };
                let hash = hash.strip_prefix("sha256:").ok_or_else(|| {
                    syntax(format!(
                        "unsupported hash `{hash}` (dockgen locks use sha256)"
                    ))
                })?;
                if let Some(pin) = lock.pins.get_mut(name) {
                    pin.hashes.push(hash.to_string());
                }
            }
        }
    }
    if lock.pins.is_empty() && provenance(text).profile.is_none() {
        return Err(ReadError::NoPins {
            path: path.to_path_buf(),
        });
    }
    for (name, parents) in via_annotations(text) {
        if let Ok(name) = PackageName::from_str(&name)
            && let Some(pin) = lock.pins.get_mut(&name)
        {
            pin.via = parents.iter().map(|entry| Via::parse(entry)).collect();
        }
    }
    Ok(lock)
}

/// The version and revision of the git pin on (1-based) `line`, from the comment line
/// under it ([`super::git_pin_comment`]).
fn git_pin_version(text: &str, line: usize) -> Option<(String, Option<String>)> {
    let comment = text.lines().nth(line)?.trim().strip_prefix("# version ")?;
    let (version, revision) = comment.split_once(" (git revision ")?;
    let revision = revision.strip_suffix(')')?;
    let revision = (revision != super::GIT_DEFAULT_REVISION).then(|| revision.to_string());
    Some((version.trim().to_string(), revision))
}

/// The version of the local directory pin on (1-based) `line`, from the comment line
/// under it ([`super::directory_pin_comment`]).
fn directory_pin_version(text: &str, line: usize) -> Option<String> {
    let comment = text.lines().nth(line)?.trim().strip_prefix("# version ")?;
    let version = comment.strip_suffix(super::DIRECTORY_PIN_MARK)?.trim();
    (!version.is_empty()).then(|| version.to_string())
}

/// The version of the direct reference `name @ url`, from its archive's file name (a
/// wheel's, or an sdist's `name-version.tar.gz`), as the lock writer relies on.
fn direct_version(name: &str, url: &str) -> Result<String, String> {
    let name_part = name.split('[').next().unwrap_or(name);
    let package = PackageName::from_str(name_part)
        .map_err(|e| format!("bad package name `{name_part}`: {e}"))?;
    let path = url.split(['#', '?']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or(path);
    let filename = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    match crate::index::filename::parse(&filename, &package) {
        Ok(Some(parsed)) => Ok(parsed.version().to_string()),
        _ => Err(format!(
            "cannot tell the version of `{name} @ {}` from its file name `{filename}`",
            crate::secrets::url_text(url)
        )),
    }
}

/// `# via` annotations by the pin they follow: `    # via a` or `    # via` then
/// `    #   a` lines, as pip-compile and dockgen write them.
fn via_annotations(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut via: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut listing = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !line.starts_with([' ', '#', '-']) && (line.contains("==") || line.contains(" @ ")) {
            let name = line
                .split("==")
                .next()
                .and_then(|l| l.split(" @ ").next())
                .unwrap_or_default()
                .trim();
            current = Some(name.split('[').next().unwrap_or(name).to_string());
            listing = false;
        } else if let Some(rest) = trimmed.strip_prefix("# via") {
            let rest = rest.trim();
            listing = rest.is_empty();
            if let (Some(name), false) = (&current, listing) {
                via.entry(name.clone()).or_default().push(rest.to_string());
            }
        } else if let (Some(name), true, Some(rest)) =
            (&current, listing, trimmed.strip_prefix("#   "))
        {
            via.entry(name.clone())
                .or_default()
                .push(rest.trim().to_string());
        } else if !line.starts_with(' ') {
            listing = false;
        }
    }
    via
}

/// What a lock says about how it was made: the header lines dockgen writes (absent
/// from other tools' locks) and the index options any pip requirements file may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// From `# This file is generated by dockgen for profile `NAME``.
    pub profile: Option<String>,
    /// From `# target: ...`.
    pub target: Option<String>,
    /// From `# inputs: a, b`.
    pub inputs: Vec<String>,
    /// From `# exclude-newer: index=timestamp, ...`: the `index=timestamp` entries.
    pub exclude_newer: Vec<String>,
    /// The URLs of `--index-url` and `--extra-index-url` (or `-i`), in file order,
    /// fit for output ([`crate::secrets::url_text`]: a foreign lock may hold credentials).
    pub indexes: Vec<String>,
    /// The locations of `--find-links` (or `-f`), in file order, fit for output.
    pub find_links: Vec<String>,
}

/// The [`Provenance`] of a lock's text. Header fields are read from the leading
/// comment block only, where [`super::render`] writes them.
pub fn provenance(text: &str) -> Provenance {
    let mut found = Provenance::default();
    let list = |rest: &str| -> Vec<String> {
        rest.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(String::from)
            .collect()
    };
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("# This file is generated by dockgen for profile `") {
            found.profile = rest.split('`').next().map(String::from);
        } else if let Some(rest) = line.strip_prefix("# target:") {
            found.target = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("# inputs:") {
            found.inputs = list(rest);
        } else if let Some(rest) = line.strip_prefix("# exclude-newer:") {
            found.exclude_newer = list(rest);
        }
    }
    for (option, value) in text.lines().filter_map(source_option) {
        // A lock dockgen did not write may carry credentials: never shown.
        let shown = crate::secrets::url_text(value);
        match option {
            SourceOption::Index => found.indexes.push(shown),
            SourceOption::FindLinks => found.find_links.push(shown),
        }
    }
    found
}

/// An option line of a lock that says where files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOption {
    /// `--index-url`, `-i` or `--extra-index-url`.
    Index,
    /// `--find-links` or `-f`.
    FindLinks,
}

/// The option and value of a line that names an index or a find-links location, read
/// as pip reads it: surrounding whitespace and a ` #` comment dropped, the value after
/// `=` or a space. The value is as written and may hold credentials: output takes
/// [`crate::secrets::url_text`].
pub fn source_option(line: &str) -> Option<(SourceOption, &str)> {
    let line = line.split(" #").next().unwrap_or_default().trim();
    let (option, value) = line.split_once(['=', ' '])?;
    let option = match option {
        "--index-url" | "-i" | "--extra-index-url" => SourceOption::Index,
        "--find-links" | "-f" => SourceOption::FindLinks,
        _ => return None,
    };
    Some((option, value.trim()))
}

pub fn read(path: &Path) -> Result<LockFile, ReadError> {
    let text = crate::input::text::read_text(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pins_and_hashes_across_continuations() {
        let text = "#\n# header\n#\n--index-url https://pypi.org/simple\n\nanyio==4.4.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via httpx\nPyYAML==6.0.2 \\\n    --hash=sha256:dd\n    # via uvicorn[standard] (>=5.1)\ntorch==2.5.1+cu124 \\\n    --hash=sha256:cc\n    # via\n    #   -r ../requirements.in\n    #   torchvision (==2.5.1)\n    #   my-app (pyproject.toml)\n";
        let lock = parse(text, Path::new("locks/x.txt")).unwrap();
        let rendered: Vec<String> = lock
            .pins
            .iter()
            .map(|(n, p)| {
                format!(
                    "{n} ({}) {} {:?} @{} via {:?}",
                    p.name, p.version, p.hashes, p.line, p.via
                )
            })
            .collect();
        insta::assert_snapshot!(rendered.join("\n"));
        // What is read is written back as it was.
        let entries: Vec<String> = lock
            .pins
            .values()
            .flat_map(|p| p.via.iter().map(ToString::to_string))
            .collect();
        assert_eq!(
            entries,
            [
                "httpx",
                "uvicorn[standard] (>=5.1)",
                "-r ../requirements.in",
                "torchvision (==2.5.1)",
                "my-app (pyproject.toml)"
            ]
        );
    }

    #[test]
    fn via_entries_old_and_new() {
        let read = |entry: &str| format!("{:?}", Via::parse(entry));
        insta::assert_snapshot!(
            [
                "starlette",
                "Starlette (>=0.40.0,<0.48.0)",
                "uvicorn[standard] (>=0.13)",
                "uvicorn[standard]",
                "torch ([cuda,cudart]==12.8.1)",
                "torch[gpu] ([nvtx])",
                "torch ([])",
                "-r ../requirements.in",
                "-c constraints.txt",
                "my-project (pyproject.toml)",
                "two words",
                "broken[ (>=1)",
            ]
            .map(|entry| format!("{entry:<32} -> {}", read(entry)))
            .join("\n")
        );
    }

    #[test]
    fn source_options_as_pip_reads_them() {
        use SourceOption::{FindLinks, Index};
        let read = |line| source_option(line);
        assert_eq!(
            read("--index-url https://h/simple"),
            Some((Index, "https://h/simple"))
        );
        assert_eq!(
            read("-i=https://h/simple #c"),
            Some((Index, "https://h/simple"))
        );
        assert_eq!(
            read("  --extra-index-url  https://h/x  "),
            Some((Index, "https://h/x"))
        );
        assert_eq!(read("--find-links=./wheels"), Some((FindLinks, "./wheels")));
        assert_eq!(read("-f /wheels # local"), Some((FindLinks, "/wheels")));
        for other in [
            "# --index-url https://h/",
            "--no-index",
            "--trusted-host h",
            "a==1.0",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
    }

    #[test]
    fn reads_the_provenance_of_dockgen_and_other_locks() {
        let text = "#\n# This file is generated by dockgen for profile `cpu-x86_64`; do not edit it.\n#\n# target: linux/amd64, CPython 3.11.13, glibc 2.36, cpu\n# inputs: ../requirements.in, ../base.in\n# exclude-newer: pytorch-cpu=2025-09-01T00:00:00Z, pypi=2025-09-01T00:00:00Z\n#\n--index-url https://pypi.org/simple\n--extra-index-url https://download.pytorch.org/whl/cpu\n--find-links /wheels\n\nsix==1.16.0\n    # via -r ../requirements.in\n";
        assert_eq!(
            provenance(text),
            Provenance {
                profile: Some("cpu-x86_64".into()),
                target: Some("linux/amd64, CPython 3.11.13, glibc 2.36, cpu".into()),
                inputs: vec!["../requirements.in".into(), "../base.in".into()],
                exclude_newer: vec![
                    "pytorch-cpu=2025-09-01T00:00:00Z".into(),
                    "pypi=2025-09-01T00:00:00Z".into()
                ],
                indexes: vec![
                    "https://pypi.org/simple".into(),
                    "https://download.pytorch.org/whl/cpu".into()
                ],
                find_links: vec!["/wheels".into()],
            }
        );
        // pip-compile: no dockgen header, `=` options, a trailing comment.
        let text = "#\n# This file is autogenerated by pip-compile\n#\n--index-url=https://mirror.example/simple  # ours\n-i https://other.example/simple\nsix==1.16.0\n";
        assert_eq!(
            provenance(text),
            Provenance {
                indexes: vec![
                    "https://mirror.example/simple".into(),
                    "https://other.example/simple".into()
                ],
                ..Provenance::default()
            }
        );
    }

    #[test]
    fn refuses_what_pip_would_refuse_or_read_otherwise() {
        let error = |text: &str| parse(text, Path::new("l.txt")).unwrap_err().to_string();
        insta::assert_snapshot!(
            [
                error("a==1.0 \\\n    --hash=sha256:aa\nb==2.0\nA==1.1\n"),
                error("a==1.0\n-e ./src/pkg\n"),
                error("a==1.0\n--editable=git+https://example.org/r.git#egg=r\n"),
                error("-r more.txt\na==1.0\n"),
                error(""),
                error("#\n# just a comment\n--index-url https://pypi.org/simple\n"),
            ]
            .join("\n")
        );
    }

    #[test]
    fn reads_markers_and_trusted_hosts_for_check() {
        let text = "--trusted-host mirror.example\n--trusted-host=other.example\n\
                    a==1.0 ; python_version < \"3.9\" \\\n    --hash=sha256:aa\n\
                    b==2.0;sys_platform=='win32' --hash=sha256:bb\nc==3.0 --hash=sha256:cc\n";
        let lock = parse(text, Path::new("l.txt")).unwrap();
        assert_eq!(
            lock.trusted_hosts,
            [(1, "mirror.example".into()), (2, "other.example".into())]
        );
        let pins: Vec<(String, Option<String>, Vec<String>)> = lock
            .pins
            .values()
            .map(|p| (p.version.to_string(), p.marker.clone(), p.hashes.clone()))
            .collect();
        assert_eq!(
            pins,
            [
                (
                    "1.0".into(),
                    Some("python_version < \"3.9\"".into()),
                    vec!["aa".into()]
                ),
                (
                    "2.0".into(),
                    Some("sys_platform=='win32'".into()),
                    vec!["bb".into()]
                ),
                ("3.0".into(), None, vec!["cc".into()]),
            ]
        );
    }

    #[test]
    fn reads_direct_reference_pins() {
        let text = "--index-url https://pypi.org/simple\n\n\
            demo @ https://${USER}:${TOKEN}@files.example/a==b/demo-1.0-py3-none-any.whl \\\n    \
            --hash=sha256:aa\n    # via -r requirements.in\n\n\
            dep==2.0 \\\n    --hash=sha256:bb\n    # via demo (<3)\n\n\
            src-pkg @ file:///wheels/Src_Pkg-3.1.tar.gz --hash=sha256:cc\n";
        let lock = parse(text, Path::new("l.txt")).unwrap();
        let pin = |name: &str| &lock.pins[&PackageName::from_str(name).unwrap()];
        assert_eq!(pin("demo").version.to_string(), "1.0");
        assert_eq!(
            pin("demo").url.as_deref(),
            Some("https://${USER}:${TOKEN}@files.example/a==b/demo-1.0-py3-none-any.whl")
        );
        assert_eq!(pin("demo").hashes, ["aa"]);
        assert_eq!(pin("demo").via, [Via::Input("-r requirements.in".into())]);
        assert_eq!(pin("dep").url, None);
        assert_eq!(pin("dep").via.len(), 1);
        assert_eq!(pin("src-pkg").version.to_string(), "3.1");
        assert_eq!(pin("src-pkg").hashes, ["cc"]);
        let error = parse(
            "x @ https://files.example/archive/main.tar.gz\n",
            Path::new("l.txt"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "l.txt:1: cannot tell the version of `x @ https://files.example/archive/main.tar.gz` \
             from its file name `main.tar.gz`"
        );
    }

    #[test]
    fn a_dockgen_lock_of_no_requirements_reads_back() {
        let text = "#\n# This file is generated by dockgen for profile `cpu-x86_64`; do not edit it.\n\
                    # To update it, run from the directory of the input:\n#\n\
                    #    dockgen lock --profile cpu-x86_64\n#\n# target: linux/amd64\n\
                    # inputs: ../requirements.in\n#\n";
        assert!(parse(text, Path::new("l.txt")).unwrap().pins.is_empty());
    }

    #[test]
    fn reports_the_line_of_a_bad_pin() {
        let error = parse("ok==1.0\nnot-a-pin>=2\n", Path::new("l.txt")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "l.txt:2: expected `name==version` or `name @ URL`, found `not-a-pin>=2`"
        );
    }
}
