//! Git direct references (`name @ git+https://host/repo@REV`, `git+file://...`, a bare
//! `git+...#egg=name` line), used by [`super::direct::DirectSource`].
//!
//! [`GitUrl::parse`] splits such a URL into the repository, the requested revision
//! and `#subdirectory=`; other VCS schemes (`hg+`, `svn+`, `bzr+`) are refused.
//! [`resolve_commit`] turns the revision (a tag, a branch, a short or full commit;
//! none means the default branch's HEAD) into a full commit id with the `git` CLI:
//! `git ls-remote` names it, and that commit alone is fetched (depth 1) into a bare
//! cache clone under the dockgen cache dir (keyed by the sha256 of the URL without
//! credentials); a short commit id, or a server that gives no commit by id, fetches
//! every branch and tag instead. A commit in the clone needs no network, so a relock
//! that keeps it and `--offline` work from the cache.
//! git runs with no terminal prompt, no user or system config and a timeout; a URL's
//! credentials reach it through the environment of a one-line credential helper, never
//! its command line, and never in a message.
//! [`export_tree`] writes the commit's tree into a temporary directory (`git archive`)
//! and [`tree_metadata`] reads the package metadata from its static `pyproject.toml`
//! `[project]` table (PEP 621); a tree whose metadata is not static is
//! [`IndexError::NeedsBuild`].

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree, PackageName, Requirement};
use sha2::{Digest, Sha256};
use url::Url;

use super::{CoreMetadata, IndexError};

/// How long one git command may run (a fetch of a large repository included).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// The `[project]` fields that must not be `dynamic` for the metadata to be static.
const NEEDED_STATIC: [&str; 4] = [
    "version",
    "dependencies",
    "optional-dependencies",
    "requires-python",
];

/// A `git+` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    /// The repository as git is given it (`https://...`, `file:///...`), credentials
    /// included: never output.
    pub repo: Url,
    /// The revision after the path's last `@`; `None`: the default branch's HEAD.
    pub rev: Option<String>,
    /// `#subdirectory=`: where the package's `pyproject.toml` is in the tree.
    pub subdirectory: Option<String>,
}

/// Whether `url` is a VCS URL (`git+...`, `hg+...`, ...): not an archive to download.
pub fn is_vcs(url: &Url) -> bool {
    matches!(
        url.scheme().split_once('+'),
        Some(("git" | "hg" | "svn" | "bzr", _))
    )
}

impl GitUrl {
    /// `Ok(None)` for a URL that is not a VCS URL; an error for a VCS other than git.
    pub fn parse(url: &Url) -> Result<Option<Self>, String> {
        let Some((vcs, transport)) = url.scheme().split_once('+') else {
            return Ok(None);
        };
        match vcs {
            "git" => {}
            "hg" | "svn" | "bzr" => {
                return Err(format!(
                    "`{vcs}+` URLs are not supported; dockgen locks git repositories \
                     (`git+https://...`, `git+file://...`) and archives"
                ));
            }
            _ => return Ok(None),
        }
        if transport == "ssh" && url.password().is_some() {
            return Err(
                "a password in a `git+ssh://` URL is not used: give ssh a key (ssh-agent or \
                 `~/.ssh/config`) and write only the user (`git+ssh://git@host/...`)"
                    .into(),
            );
        }
        if !matches!(transport, "https" | "http" | "file" | "ssh") {
            return Err(format!(
                "`git+{transport}:` is not supported; use `git+https://`, `git+http://`, \
                 `git+ssh://` or `git+file://`"
            ));
        }
        let mut plain = url.clone();
        plain.set_fragment(None);
        let text = plain
            .as_str()
            .strip_prefix("git+")
            .unwrap_or(plain.as_str());
        let (repo, rev) = split_rev(text);
        let repo = Url::parse(repo).map_err(|err| format!("not a repository URL: {err}"))?;
        let rev = match rev {
            Some("") => return Err("nothing after the `@` that starts the revision".into()),
            Some(rev) if rev.starts_with('-') || rev.contains("..") || rev.contains(':') => {
                return Err(format!("`{rev}` is not a git revision"));
            }
            rev => rev.map(|rev| {
                percent_encoding::percent_decode_str(rev)
                    .decode_utf8_lossy()
                    .into_owned()
            }),
        };
        let subdirectory = url.fragment().and_then(|fragment| {
            fragment
                .split('&')
                .find_map(|part| part.strip_prefix("subdirectory="))
                .map(str::to_string)
        });
        if let Some(sub) = &subdirectory
            && (sub.is_empty() || sub.starts_with('/') || sub.split('/').any(|p| p == ".."))
        {
            return Err(format!(
                "`#subdirectory={sub}` must be a relative path inside the repository"
            ));
        }
        Ok(Some(Self {
            repo,
            rev,
            subdirectory,
        }))
    }
}

/// `url` (no fragment) split at the `@` that starts a revision: the last `@` of the
/// path, as pip splits it (a userinfo's `@` comes before the path).
pub fn split_rev(url: &str) -> (&str, Option<&str>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url, None);
    };
    let path_at = scheme.len() + 3 + rest.find('/').unwrap_or(rest.len());
    match url[path_at..].rfind('@') {
        Some(at) => (&url[..path_at + at], Some(&url[path_at + at + 1..])),
        None => (url, None),
    }
}

/// Whether `rev` is a full commit id (40 lower-case hex digits).
pub fn is_full_commit(rev: &str) -> bool {
    rev.len() == 40
        && rev
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The credential helper given to git: it answers `get` with the username and
/// password of the environment (a URL's userinfo), so they are on no command line.
const CREDENTIAL_HELPER: &str = "!dockgen_credentials() { test \"$1\" = get && \
    printf 'username=%s\\npassword=%s\\n' \"$DOCKGEN_GIT_USERNAME\" \"$DOCKGEN_GIT_PASSWORD\"; }; \
    dockgen_credentials";

/// A git command: no prompt, no user or system config, no credential helper but
/// dockgen's, no repository of the caller's environment.
fn git_command(git_dir: &Path, credentials: Option<&(String, String)>) -> Command {
    let mut command = Command::new("git");
    command.arg("--git-dir").arg(git_dir);
    command.args(["-c", "credential.helper=", "-c", "core.askPass="]);
    // A stalled transfer (nothing for a minute; a server preparing a pack sends
    // keep-alives) ends before the overall timeout.
    command.args(["-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=60"]);
    if let Some((username, password)) = credentials {
        command
            .args(["-c", &format!("credential.helper={CREDENTIAL_HELPER}")])
            .env("DOCKGEN_GIT_USERNAME", username)
            .env("DOCKGEN_GIT_PASSWORD", password);
    }
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        command.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .env_remove("GIT_NAMESPACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs git; its stdout, or its stderr's last lines with `secret` (the repository URL
/// as git is given it) replaced by `shown`.
fn run_git(
    git_dir: &Path,
    args: &[&OsStr],
    credentials: Option<&(String, String)>,
    (secret, shown): (&str, &str),
) -> Result<Vec<u8>, String> {
    let mut command = git_command(git_dir, credentials);
    command.args(args);
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run `git` (is it installed?): {err}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > GIT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "git did not finish within {}s",
                    GIT_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(format!("cannot wait for git: {error}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if status.success() {
        return Ok(stdout);
    }
    let stderr = stderr.replace(secret, shown);
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(crate::secrets::text(&match tail.as_slice() {
        [] => format!("git failed ({status})"),
        lines => lines.join("; "),
    }))
}

/// A bare clone of one repository: in the cache (`<cache>/git/<sha256 of the URL
/// without credentials>`), or a temporary one when there is no cache.
pub struct Clone {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The repository URL git is given: without userinfo.
    secret: String,
    /// The userinfo's username and password, percent-decoded.
    credentials: Option<(String, String)>,
    shown: String,
}

impl Clone {
    /// Opens (creating it if need be) the clone of `repo`; `shown` is how messages
    /// name the repository.
    pub fn open(repo: &Url, shown: &str, cache_root: Option<&Path>) -> Result<Self, String> {
        let (dir, temp) = match cache_root {
            Some(root) => {
                let key = hex::encode(Sha256::digest(
                    crate::secrets::without_userinfo(repo).as_str().as_bytes(),
                ));
                (root.join("git").join(key), None)
            }
            None => {
                let temp = tempfile::tempdir()
                    .map_err(|err| format!("cannot make a temporary directory: {err}"))?;
                (temp.path().join("clone"), Some(temp))
            }
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        // ssh's user (`git@host`) stays in the URL: ssh needs it, and it is no secret.
        let is_ssh = repo.scheme() == "ssh";
        let has_userinfo = !repo.username().is_empty() || repo.password().is_some();
        let credentials = (!is_ssh && has_userinfo).then(|| {
            (
                decode(repo.username()),
                decode(repo.password().unwrap_or("")),
            )
        });
        let given = match is_ssh {
            true => repo.clone(),
            false => crate::secrets::without_userinfo(repo),
        };
        let clone = Self {
            dir,
            _temp: temp,
            secret: given.as_str().to_string(),
            credentials,
            shown: shown.to_string(),
        };
        if !clone.dir.join("HEAD").is_file() {
            std::fs::create_dir_all(&clone.dir)
                .map_err(|err| format!("cannot create `{}`: {err}", clone.dir.display()))?;
            clone.git(&["init", "--quiet", "--bare"])?;
        }
        Ok(clone)
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        run_git(
            &self.dir,
            &args,
            self.credentials.as_ref(),
            (&self.secret, &self.shown),
        )
    }

    /// The full id of the commit `rev` names here, if it names one.
    fn commit_of(&self, rev: &str) -> Option<String> {
        let out = self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ])
            .ok()?;
        let commit = String::from_utf8_lossy(&out).trim().to_string();
        is_full_commit(&commit).then_some(commit)
    }

    /// Fetches every branch and every tag (moved tags and branches follow, deleted ones
    /// go), and the default branch's HEAD when `head` (a repository whose HEAD names
    /// no branch still serves its tags).
    fn fetch(&self, head: bool) -> Result<(), String> {
        let mut args = vec![
            "fetch",
            "--quiet",
            "--force",
            "--no-tags",
            "--prune",
            "--no-recurse-submodules",
            &self.secret,
            "+refs/heads/*:refs/dockgen/heads/*",
            "+refs/tags/*:refs/dockgen/tags/*",
        ];
        if head {
            args.push("+HEAD:refs/dockgen/HEAD");
        }
        // Earlier commits were fetched alone: now the whole history.
        if self.dir.join("shallow").exists() {
            args.push("--unshallow");
        }
        self.git(&args)
            .map(drop)
            .map_err(|message| self.fetch_error(message))
    }

    /// `git ls-remote`: `(ref, commit)` of every ref the repository advertises, an
    /// annotated tag's both as `refs/tags/T` and (its commit) `refs/tags/T^{}`.
    fn remote_refs(&self) -> Result<Vec<(String, String)>, String> {
        let out = self
            .git(&["ls-remote", "--quiet", &self.secret])
            .map_err(|message| self.fetch_error(message))?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| {
                let (commit, name) = line.split_once('\t')?;
                Some((name.trim().to_string(), commit.trim().to_string()))
            })
            .collect())
    }

    /// Fetches `commit` alone (depth 1) as `refs/dockgen/...` (named after the remote
    /// ref `name`, else `commits/<id>`), so the cache keeps it; whether it is here now.
    fn fetch_one(&self, commit: &str, name: &str) -> bool {
        if !is_full_commit(commit) {
            return false;
        }
        let local = match (name, name.strip_prefix("refs/")) {
            ("HEAD", _) => "refs/dockgen/HEAD".to_string(),
            (_, Some(rest)) => format!("refs/dockgen/{rest}"),
            (_, None) => format!("refs/dockgen/commits/{commit}"),
        };
        if self.commit_of(commit).is_some() {
            let _ = self.git(&["update-ref", &local, commit]);
            return true;
        }
        let spec = format!("+{commit}:{local}");
        let fetched = self.git(&[
            "fetch",
            "--quiet",
            "--depth=1",
            "--no-tags",
            "--no-recurse-submodules",
            &self.secret,
            &spec,
        ]);
        fetched.is_ok() && self.commit_of(commit).as_deref() == Some(commit)
    }

    fn fetch_error(&self, message: String) -> String {
        let hint = match message.contains("Authentication failed") {
            true => {
                "; check the credentials (`git+https://${USER}:${TOKEN}@host/...` in the \
                 input)"
            }
            false => "",
        };
        format!("cannot fetch `{}`: {message}{hint}", self.shown)
    }

    /// `rev` among the fetched refs: a tag, a branch, then a (short) commit id.
    fn find(&self, rev: Option<&str>) -> Option<String> {
        let Some(rev) = rev else {
            return self.commit_of("refs/dockgen/HEAD");
        };
        let is_hex = rev.len() >= 4 && rev.bytes().all(|b| b.is_ascii_hexdigit());
        self.commit_of(&format!("refs/dockgen/tags/{rev}"))
            .or_else(|| self.commit_of(&format!("refs/dockgen/heads/{rev}")))
            .or_else(|| is_hex.then(|| self.commit_of(rev)).flatten())
    }
}

/// The full commit id to lock for `git`: `kept` (an existing lock's commit) when the
/// repository still has it, else the commit `git.rev` names now. Fetches unless the
/// commit wanted is in the clone already; `offline` never fetches.
pub fn resolve_commit(
    clone: &Clone,
    git: &GitUrl,
    kept: Option<&str>,
    offline: bool,
) -> Result<String, String> {
    // One git command on the cache at a time in this process (profiles resolve in
    // parallel; two fetches into one clone would race for its ref locks).
    static CACHE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pinned = kept.or(git.rev.as_deref().filter(|rev| is_full_commit(rev)));
    if let Some(commit) = pinned.and_then(|commit| clone.commit_of(commit)) {
        return Ok(commit);
    }
    if offline {
        // As of the last fetch: what the cached clone's refs say.
        if let Some(commit) = clone.find(git.rev.as_deref()) {
            return Ok(commit);
        }
        return Err(format!(
            "`--offline` forbids the network, and the cached clone of `{}` has no commit \
             for {}; lock once without `--offline`",
            clone.shown,
            describe(git.rev.as_deref())
        ));
    }
    // The cheap way first: the commit alone (depth 1), by id or by the remote ref
    // that names the revision (a large repository's history is never downloaded).
    if let Some(commit) = kept.filter(|commit| clone.fetch_one(commit, commit)) {
        return Ok(commit.to_string());
    }
    let remote = clone.remote_refs()?;
    if let Some((name, commit)) = remote_revision(&remote, git.rev.as_deref())
        && (clone.commit_of(&commit).is_some() || clone.fetch_one(&commit, &name))
    {
        return Ok(commit);
    }
    // Short commit ids, and servers that give no commit by id: everything.
    clone.fetch(git.rev.is_none())?;
    if let Some(commit) = kept.and_then(|commit| clone.commit_of(commit)) {
        return Ok(commit);
    }
    if let Some(commit) = clone.find(git.rev.as_deref()) {
        return Ok(commit);
    }
    if let Some(rev) = git.rev.as_deref().filter(|rev| is_full_commit(rev)) {
        // A commit no branch or tag reaches: servers of protocol v2 give it by id.
        if clone
            .git(&["fetch", "--quiet", "--no-tags", &clone.secret, rev])
            .is_ok()
            && let Some(commit) = clone.commit_of(rev)
        {
            return Ok(commit);
        }
    }
    Err(match git.rev.as_deref() {
        None => format!("`{}` has no default branch (HEAD)", clone.shown),
        Some(rev) => format!(
            "`{}` has no branch, tag or commit `{rev}`; check the revision after the \
             URL's last `@`",
            clone.shown
        ),
    })
}

/// The remote ref that names `rev` (the default branch's HEAD, a tag, a branch) and
/// its commit; a full commit id names itself.
fn remote_revision(remote: &[(String, String)], rev: Option<&str>) -> Option<(String, String)> {
    let find = |name: &str| {
        remote
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, commit)| (name.trim_end_matches("^{}").to_string(), commit.clone()))
    };
    let Some(rev) = rev else {
        return find("HEAD");
    };
    find(&format!("refs/tags/{rev}^{{}}"))
        .or_else(|| find(&format!("refs/tags/{rev}")))
        .or_else(|| find(&format!("refs/heads/{rev}")))
        .or_else(|| is_full_commit(rev).then(|| (rev.to_string(), rev.to_string())))
}

fn describe(rev: Option<&str>) -> String {
    match rev {
        None => "its default branch".into(),
        Some(rev) => format!("`{rev}`"),
    }
}

/// Writes the tree of `commit` into a new temporary directory (`git archive`).
pub fn export_tree(clone: &Clone, commit: &str) -> Result<tempfile::TempDir, String> {
    let tar = clone.git(&["archive", "--format=tar", commit])?;
    let dir = tempfile::tempdir().map_err(|err| format!("cannot make a temporary dir: {err}"))?;
    tar::Archive::new(tar.as_slice())
        .unpack(dir.path())
        .map_err(|err| format!("cannot unpack the tree of commit {commit}: {err}"))?;
    Ok(dir)
}

/// The tree of `commit` (or of its `subdirectory`) as an sdist-like archive: a
/// `.tar.gz` whose entries are under `prefix/` (`name-1.0/pyproject.toml`), as a build
/// frontend unpacks and builds it. The same commit gives the same bytes: every entry
/// has the commit's time (`git archive` of a commit), owner 0, and the gzip header
/// no time or name, so the archive's hash is stable across exports.
pub fn export_archive(
    clone: &Clone,
    commit: &str,
    subdirectory: Option<&str>,
    prefix: &str,
) -> Result<Vec<u8>, String> {
    let mut args = vec!["archive", "--format=tar", commit];
    let strip = subdirectory.map(|sub| format!("{}/", sub.trim_end_matches('/')));
    if let Some(sub) = &strip {
        args.extend(["--", sub.as_str()]);
    }
    let tar = clone.git(&args)?;
    let unreadable =
        |err: std::io::Error| format!("cannot read the tree of commit {commit}: {err}");
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut out = tar::Builder::new(encoder);
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut entries = 0;
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            continue; // git's pax header with the commit id
        }
        let path = entry
            .path()
            .map_err(unreadable)?
            .to_string_lossy()
            .into_owned();
        let relative = match &strip {
            Some(sub) if path == sub.trim_end_matches('/') => "",
            Some(sub) => match path.strip_prefix(sub.as_str()) {
                Some(rest) => rest,
                None => continue,
            },
            None => path.as_str(),
        };
        let name = match relative.trim_end_matches('/') {
            "" => prefix.to_string(),
            rest => format!("{prefix}/{rest}"),
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(entry.header().mode().map_err(unreadable)?);
        header.set_mtime(entry.header().mtime().map_err(unreadable)?);
        header.set_uid(0);
        header.set_gid(0);
        let write = |err: std::io::Error| format!("cannot write the archive of {commit}: {err}");
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(unreadable)?
                .map(|t| t.into_owned())
                .unwrap_or_default();
            header.set_size(0);
            out.append_link(&mut header, &name, target).map_err(write)?;
        } else if kind.is_dir() {
            header.set_size(0);
            out.append_data(&mut header, &name, std::io::empty())
                .map_err(write)?;
        } else {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(unreadable)?;
            header.set_size(data.len() as u64);
            out.append_data(&mut header, &name, data.as_slice())
                .map_err(write)?;
            entries += 1;
        }
    }
    if entries == 0 {
        return Err(match subdirectory {
            Some(sub) => format!("commit {commit} has no files under `{sub}`"),
            None => format!("commit {commit} has no files"),
        });
    }
    let finish = |err: std::io::Error| format!("cannot write the archive of {commit}: {err}");
    out.into_inner().and_then(|gz| gz.finish()).map_err(finish)
}

/// The package metadata of the source tree `dir` from its `pyproject.toml`'s static
/// `[project]` table (PEP 621): name, version, dependencies, optional dependencies,
/// requires-python, summary and license. [`IndexError::NeedsBuild`] when a build
/// backend has to tell them (no `pyproject.toml`, no `[project]`, or one of them listed
/// in `dynamic`); an error when the name is not `expected`.
pub fn tree_metadata(dir: &Path, expected: &PackageName) -> Result<CoreMetadata, IndexError> {
    let path = dir.join("pyproject.toml");
    let file = "pyproject.toml".to_string();
    let needs_build = |reason: String| IndexError::NeedsBuild {
        file: format!("the source tree of `{expected}`"),
        reason,
    };
    let invalid = |message: String| IndexError::Metadata {
        file: file.clone(),
        message,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(needs_build(
                "it has no `pyproject.toml`, only a setup script".into(),
            ));
        }
        Err(err) => {
            return Err(IndexError::Io {
                path: file,
                message: err.to_string(),
            });
        }
    };
    let table: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| invalid(err.message().to_string()))?;
    let Some(project) = table.get("project").and_then(toml::Value::as_table) else {
        return Err(needs_build(
            "its `pyproject.toml` has no `[project]` table".into(),
        ));
    };
    let dynamic: Vec<&str> = match project.get("dynamic") {
        None => Vec::new(),
        Some(value) => value
            .as_array()
            .map(|list| list.iter().filter_map(toml::Value::as_str).collect())
            .ok_or_else(|| invalid("`[project].dynamic` is not a list".into()))?,
    };
    if let Some(field) = NEEDED_STATIC.iter().find(|f| dynamic.contains(f)) {
        return Err(needs_build(format!("`[project].dynamic` lists `{field}`")));
    }
    let string = |key: &str| -> Result<Option<&str>, IndexError> {
        match project.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_str()
                .map(Some)
                .ok_or_else(|| invalid(format!("`[project].{key}` is not a string"))),
        }
    };
    let name = string("name")?.ok_or_else(|| invalid("`[project].name` is missing".into()))?;
    let name = PackageName::from_str(name)
        .map_err(|err| invalid(format!("`[project].name` `{name}`: {err}")))?;
    if name != *expected {
        return Err(invalid(format!(
            "it names the package `{name}`, not `{expected}`: require it as `{name} @ ...`"
        )));
    }
    let version = string("version")?
        .ok_or_else(|| invalid("`[project].version` is missing, and not dynamic".into()))?;
    let version = Version::from_str(version)
        .map_err(|err| invalid(format!("`[project].version` `{version}`: {err}")))?;
    let requires_python = string("requires-python")?
        .map(|text| {
            VersionSpecifiers::from_str(text)
                .map_err(|err| invalid(format!("`[project].requires-python` `{text}`: {err}")))
        })
        .transpose()?;
    let requirement = |text: &str, key: &str| -> Result<Requirement, IndexError> {
        Requirement::from_str(text)
            .map_err(|err| invalid(format!("`{text}` in `[project].{key}`: {}", err.message)))
    };
    let strings = |value: &toml::Value, key: &str| -> Result<Vec<String>, IndexError> {
        value
            .as_array()
            .and_then(|list| {
                list.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| invalid(format!("`[project].{key}` is not a list of strings")))
    };
    let mut requires_dist = Vec::new();
    if let Some(value) = project.get("dependencies") {
        for text in strings(value, "dependencies")? {
            requires_dist.push(requirement(&text, "dependencies")?);
        }
    }
    let mut provides_extras = Vec::new();
    if let Some(value) = project.get("optional-dependencies") {
        let groups = value
            .as_table()
            .ok_or_else(|| invalid("`[project].optional-dependencies` is not a table".into()))?;
        for (group, value) in groups {
            let key = format!("optional-dependencies.{group}");
            let extra = ExtraName::from_str(group)
                .map_err(|err| invalid(format!("`{group}` is not an extra name: {err}")))?;
            let marker = MarkerTree::from_str(&format!("extra == '{extra}'"))
                .map_err(|err| invalid(format!("extra `{extra}`: {err}")))?;
            for text in strings(value, &key)? {
                let mut requirement = requirement(&text, &key)?;
                requirement.marker.and(marker.clone());
                requires_dist.push(requirement);
            }
            provides_extras.push(extra);
        }
    }
    let (license, license_expression) = match project.get("license") {
        Some(toml::Value::String(expression)) => (None, Some(expression.clone())),
        Some(toml::Value::Table(table)) => (
            table
                .get("text")
                .and_then(toml::Value::as_str)
                .map(str::to_string),
            None,
        ),
        _ => (None, None),
    };
    let license_classifiers = match project.get("classifiers") {
        Some(value) => strings(value, "classifiers")?
            .into_iter()
            .filter(|c| c.starts_with("License ::"))
            .collect(),
        None => Vec::new(),
    };
    Ok(CoreMetadata {
        name,
        version,
        requires_dist,
        requires_python,
        provides_extras,
        summary: string("description")?.map(str::to_string),
        license,
        license_expression,
        license_classifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Option<GitUrl>, String> {
        GitUrl::parse(&Url::parse(url).unwrap())
    }

    #[test]
    fn git_urls_split_into_repository_revision_and_subdirectory() {
        let git = parse("git+https://u:p@host.example/org/repo.git@v1.0#egg=x&subdirectory=py")
            .unwrap()
            .unwrap();
        assert_eq!(git.repo.as_str(), "https://u:p@host.example/org/repo.git");
        assert_eq!(git.rev.as_deref(), Some("v1.0"));
        assert_eq!(git.subdirectory.as_deref(), Some("py"));
        let git = parse("git+file:///srv/repo").unwrap().unwrap();
        assert_eq!((git.repo.as_str(), git.rev), ("file:///srv/repo", None));
        let git = parse("git+https://host.example/repo@feature/x")
            .unwrap()
            .unwrap();
        assert_eq!(git.rev.as_deref(), Some("feature/x"));
        assert_eq!(parse("https://host.example/x.whl").unwrap(), None);
        assert!(
            parse("hg+https://host.example/repo")
                .unwrap_err()
                .contains("`hg+`")
        );
        assert!(parse("git+https://host.example/repo@").is_err());
        assert!(
            parse("git+ssh://git:pw@host.example/repo")
                .unwrap_err()
                .contains("ssh")
        );
        let git = parse("git+ssh://git@host.example/org/repo.git@v2")
            .unwrap()
            .unwrap();
        assert_eq!(git.repo.as_str(), "ssh://git@host.example/org/repo.git");
        assert!(
            parse("git+https://host.example/repo#subdirectory=../x")
                .unwrap_err()
                .contains("relative path")
        );
        assert_eq!(
            split_rev("git+https://${U}:${T}@host/r@abc"),
            ("git+https://${U}:${T}@host/r", Some("abc"))
        );
    }

    fn tree(pyproject: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
        dir
    }

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    #[test]
    fn static_pyproject_metadata() {
        let dir = tree(
            "[project]\nname = \"Git_Pkg\"\nversion = \"1.2\"\nrequires-python = \">=3.9\"\n\
             dependencies = [\"six>=1\"]\ndynamic = [\"readme\"]\n\
             [project.optional-dependencies]\nfast = [\"dep<2; python_version >= '3'\"]\n",
        );
        let metadata = tree_metadata(dir.path(), &name("git-pkg")).unwrap();
        assert_eq!(metadata.version.to_string(), "1.2");
        assert_eq!(metadata.requires_python.unwrap().to_string(), ">=3.9");
        let requires: Vec<String> = metadata
            .requires_dist
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            requires,
            [
                "six>=1",
                "dep<2 ; python_full_version >= '3' and extra == 'fast'"
            ]
        );
        assert_eq!(metadata.provides_extras[0].to_string(), "fast");
    }

    #[test]
    fn dynamic_metadata_needs_a_build() {
        let dynamic = tree("[project]\nname = \"x\"\ndynamic = [\"version\"]\n");
        let error = tree_metadata(dynamic.path(), &name("x")).unwrap_err();
        assert!(
            matches!(&error, IndexError::NeedsBuild { reason, .. } if reason.contains("`version`")),
            "{error}"
        );
        let no_project = tree("[build-system]\nrequires = [\"setuptools\"]\n");
        assert!(matches!(
            tree_metadata(no_project.path(), &name("x")),
            Err(IndexError::NeedsBuild { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            tree_metadata(empty.path(), &name("x")),
            Err(IndexError::NeedsBuild { .. })
        ));
        let other = tree("[project]\nname = \"other\"\nversion = \"1\"\n");
        let error = tree_metadata(other.path(), &name("x"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("names the package `other`, not `x`"),
            "{error}"
        );
    }
}
