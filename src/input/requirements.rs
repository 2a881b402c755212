//! `requirements.in` files, as pip and pip-tools read them.
//!
//! A file is read in pip's order: physical lines ending in `\` are joined, comments
//! (`#` at the start of a line or after whitespace) are dropped, `${VAR}` is expanded,
//! and what is left is either an option line (`-r`, `-c`, `--index-url`, ...) or a
//! PEP 508 requirement, optionally followed by per-requirement options (`--hash`).
//!
//! Every byte of a logical line remembers the physical line and column it came from,
//! so errors point into the file as written, even across continuations and after
//! variable expansion. Error messages show the line as written, never the expanded
//! text: an expanded `${TOKEN}` must not end up in a terminal or a CI log.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::VersionSpecifiers;
use pep508_rs::{PackageName, Requirement};
use url::Url;

use super::pep508::parse_requirement;
use super::text::{printable, printable_width};

/// Where a line came from: shown in errors and in `# via` annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct InputRequirement {
    pub requirement: Requirement,
    pub origin: Origin,
    /// The `--hash=sha256:HEX` values given on the line (lower-case hex): checked
    /// against a direct URL's archive; an index file's hash comes from the index.
    pub hashes: Vec<String>,
}

/// `--find-links` target: a local directory or a page of links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindLinks {
    Directory(PathBuf),
    Url(Url),
}

/// pip's `--only-binary` / `--no-binary` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BinarySelection {
    #[default]
    Nothing,
    All,
    Packages(BTreeSet<PackageName>),
}

impl BinarySelection {
    pub fn contains(&self, name: &PackageName) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::Packages(names) => names.contains(name),
        }
    }

    /// Whether `name` is listed by name (not only through `:all:`).
    pub fn names(&self, name: &PackageName) -> bool {
        matches!(self, Self::Packages(names) if names.contains(name))
    }

    fn add(&mut self, name: PackageName) {
        match self {
            Self::All => {}
            Self::Nothing => *self = Self::Packages(BTreeSet::from([name])),
            Self::Packages(names) => {
                names.insert(name);
            }
        }
    }

    fn discard(&mut self, name: &PackageName) {
        if let Self::Packages(names) = self {
            names.remove(name);
            if names.is_empty() {
                *self = Self::Nothing;
            }
        }
    }
}

/// Which distribution formats pip would accept for one package, given
/// `--only-binary` and `--no-binary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedFormats {
    Any,
    BinaryOnly,
    SourceOnly,
}

/// Everything one input file (and the files it includes) says.
#[derive(Debug, Clone, Default)]
pub struct RequirementsInput {
    pub requirements: Vec<InputRequirement>,
    pub constraints: Vec<InputRequirement>,
    pub index_url: Option<Url>,
    pub extra_index_urls: Vec<Url>,
    pub find_links: Vec<FindLinks>,
    pub pre: bool,
    /// `--no-index`: ignore every index; only `--find-links` sources remain.
    pub no_index: bool,
    pub only_binary: BinarySelection,
    pub no_binary: BinarySelection,
    /// `requires-python` of a `pyproject.toml`; always `None` for requirements files.
    pub requires_python: Option<VersionSpecifiers>,
    /// Every file read, in the order read (the top file first), each once.
    pub files: Vec<PathBuf>,
}

impl RequirementsInput {
    /// pip's precedence for this input's `--only-binary` / `--no-binary`.
    pub fn allowed_formats(&self, name: &PackageName) -> AllowedFormats {
        allowed_formats(&self.only_binary, &self.no_binary, name)
    }
}

/// pip's precedence (`FormatControl.get_allowed_formats`): a package named in
/// either list wins over `:all:` in the other.
pub fn allowed_formats(
    only_binary: &BinarySelection,
    no_binary: &BinarySelection,
    name: &PackageName,
) -> AllowedFormats {
    if only_binary.names(name) {
        AllowedFormats::BinaryOnly
    } else if no_binary.names(name) {
        AllowedFormats::SourceOnly
    } else if *only_binary == BinarySelection::All {
        AllowedFormats::BinaryOnly
    } else if *no_binary == BinarySelection::All {
        AllowedFormats::SourceOnly
    } else {
        AllowedFormats::Any
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "cannot read `{}`{}: {source}",
        file.display(),
        included_from_suffix(included_from.as_ref())
    )]
    Read {
        file: PathBuf,
        included_from: Option<Origin>,
        source: std::io::Error,
    },
    #[error(
        "{file}:{line}:{column}: environment variable `{name}` is not set\n{context}\nset `{name}` in the environment, or remove `${{{name}}}` from the line"
    )]
    UnsetVariable {
        file: PathBuf,
        line: usize,
        column: usize,
        name: String,
        context: String,
    },
    #[error("{file}:{line}:{column}: {option} is not supported: {reason}\n{context}")]
    UnsupportedOption {
        file: PathBuf,
        line: usize,
        column: usize,
        option: String,
        reason: String,
        context: String,
    },
    #[error(
        "{file}:{line}:{column}: including `{}` makes a cycle: {chain}\nremove one of these includes",
        target.display()
    )]
    IncludeCycle {
        file: PathBuf,
        line: usize,
        column: usize,
        target: PathBuf,
        chain: String,
    },
}

fn included_from_suffix(origin: Option<&Origin>) -> String {
    origin.map_or_else(String::new, |origin| {
        format!(
            " (included from `{}:{}`; `-r` and `-c` paths are relative to the including file)",
            origin.file.display(),
            origin.line
        )
    })
}

/// Options that can stand on their own line, as shown in "supported" hints.
const SUPPORTED_OPTIONS: &str = "-r/--requirement, -c/--constraint, -i/--index-url, \
--extra-index-url, -f/--find-links, --no-index, --pre, --only-binary, --no-binary";

/// Read a requirements file and everything it includes, expanding `${VAR}` from the
/// process environment.
pub fn parse_requirements_file(path: &Path) -> Result<RequirementsInput, RequirementsError> {
    parse_requirements_file_with_env(path, &|name| std::env::var(name).ok())
}

/// [`parse_requirements_file`] with the environment given as a lookup function.
pub fn parse_requirements_file_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RequirementsInput, RequirementsError> {
    let mut parser = Parser {
        env,
        input: RequirementsInput::default(),
        stack: Vec::new(),
    };
    parser.read_file(path, false, None)?;
    Ok(parser.input)
}

struct Parser<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    input: RequirementsInput,
    /// Files being read, outermost first: (canonical path, path as shown).
    stack: Vec<(PathBuf, PathBuf)>,
}

/// A position in the file as written: 0-based physical line and byte column.
#[derive(Debug, Clone, Copy)]
struct Pos {
    line: usize,
    col: usize,
}

/// One logical line: text after joining, comment removal and expansion, with the
/// physical position of every byte (and one past the end).
struct Logical {
    text: String,
    pos: Vec<Pos>,
    end: Pos,
    /// Values substituted for `${VAR}`, redacted from any message.
    secrets: Vec<(String, String)>,
}

impl Logical {
    fn pos_at(&self, offset: usize) -> Pos {
        self.pos.get(offset).copied().unwrap_or(self.end)
    }
}

/// A whitespace-separated token of a logical line and its byte offset.
#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    text: &'t str,
    offset: usize,
}

fn tokens(text: &str, start: usize) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut token_start = None;
    for (i, c) in text[start..].char_indices() {
        let i = i + start;
        if c.is_whitespace() {
            if let Some(s) = token_start.take() {
                out.push(Token {
                    text: &text[s..i],
                    offset: s,
                });
            }
        } else if token_start.is_none() {
            token_start = Some(i);
        }
    }
    if let Some(s) = token_start {
        out.push(Token {
            text: &text[s..],
            offset: s,
        });
    }
    out
}

/// Physical lines, and the position of the first byte of each logical line.
fn logical_lines(content: &str) -> Vec<(Vec<Pos>, String)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut pos = Vec::new();
    for (number, line) in content.lines().enumerate() {
        // pip's `join_lines`: a comment line never continues, even if it ends in `\`.
        let is_comment = line.trim_start().starts_with('#');
        let continues = !is_comment && line.ends_with('\\');
        let kept = if continues {
            &line[..line.len() - 1]
        } else {
            line
        };
        if is_comment && !text.is_empty() {
            // A comment ends a continued line; pip keeps the comment's text out of it.
            out.push((std::mem::take(&mut pos), std::mem::take(&mut text)));
            continue;
        }
        text.push_str(kept);
        pos.extend((0..kept.len()).map(|col| Pos { line: number, col }));
        if !continues {
            pos.push(Pos {
                line: number,
                col: kept.len(),
            });
            out.push((std::mem::take(&mut pos), std::mem::take(&mut text)));
        }
    }
    if !text.is_empty() {
        let last = pos.last().copied().unwrap_or(Pos { line: 0, col: 0 });
        pos.push(Pos {
            line: last.line,
            col: last.col + 1,
        });
        out.push((pos, text));
    }
    out
}

/// Byte offset where pip's `COMMENT_RE` (`(^|\s+)#.*$`) starts a comment.
fn comment_start(text: &str) -> Option<usize> {
    let mut previous_is_space = true;
    for (i, c) in text.char_indices() {
        if c == '#' && previous_is_space {
            return Some(i);
        }
        previous_is_space = c.is_whitespace();
    }
    None
}

impl Parser<'_> {
    fn read_file(
        &mut self,
        path: &Path,
        constraint: bool,
        included_from: Option<(Origin, usize)>,
    ) -> Result<(), RequirementsError> {
        let read_error = |source| RequirementsError::Read {
            file: path.to_path_buf(),
            included_from: included_from.as_ref().map(|(origin, _)| origin.clone()),
            source,
        };
        let canonical = path.canonicalize().map_err(read_error)?;
        if let Some(index) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let (origin, column) = included_from.unwrap_or((
                Origin {
                    file: path.to_path_buf(),
                    line: 0,
                },
                0,
            ));
            let mut chain = String::new();
            for (_, shown) in &self.stack[index..] {
                let _ = write!(chain, "`{}` -> ", shown.display());
            }
            let _ = write!(chain, "`{}`", path.display());
            return Err(RequirementsError::IncludeCycle {
                file: origin.file,
                line: origin.line,
                column,
                target: path.to_path_buf(),
                chain,
            });
        }
        let content = super::text::read_text(path).map_err(read_error)?;
        if !self.input.files.iter().any(|f| f == path) {
            self.input.files.push(path.to_path_buf());
        }
        self.stack.push((canonical, path.to_path_buf()));
        let physical: Vec<&str> = content.lines().collect();
        for (pos, text) in logical_lines(&content) {
            let logical = self.prepare(path, &physical, pos, text)?;
            self.line(path, &physical, &logical, constraint)?;
        }
        self.stack.pop();
        Ok(())
    }

    /// Strip the comment and expand `${VAR}`.
    fn prepare(
        &self,
        file: &Path,
        physical: &[&str],
        mut pos: Vec<Pos>,
        mut text: String,
    ) -> Result<Logical, RequirementsError> {
        if let Some(start) = comment_start(&text) {
            text.truncate(start);
            pos.truncate(start + 1);
        }
        let end = pos.pop().unwrap_or(Pos { line: 0, col: 0 });
        let mut out = Logical {
            text: String::with_capacity(text.len()),
            pos: Vec::with_capacity(pos.len()),
            end,
            secrets: Vec::new(),
        };
        let mut rest = 0;
        for (range, name) in super::text::variables(&text) {
            let start = range.start;
            let Some(value) = (self.env)(name) else {
                let at = pos[start];
                return Err(RequirementsError::UnsetVariable {
                    file: file.to_path_buf(),
                    line: at.line + 1,
                    column: column(physical, at),
                    name: name.to_string(),
                    context: context(physical, at, range.len()),
                });
            };
            out.text.push_str(&text[rest..start]);
            out.pos.extend_from_slice(&pos[rest..start]);
            out.text.push_str(&value);
            out.pos.extend(std::iter::repeat_n(pos[start], value.len()));
            if !value.is_empty() {
                crate::secrets::register_expansion(&value, name);
                out.secrets.push((value, format!("${{{name}}}")));
            }
            rest = range.end;
        }
        out.text.push_str(&text[rest..]);
        out.pos.extend_from_slice(&pos[rest..]);
        Ok(out)
    }

    fn line(
        &mut self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        constraint: bool,
    ) -> Result<(), RequirementsError> {
        let text = logical.text.as_str();
        let tokens = tokens(text, 0);
        let Some(first) = tokens.first() else {
            return Ok(());
        };
        if first.text.starts_with('-') {
            return self.options(file, physical, logical, &tokens, constraint);
        }
        // pip's `break_args_options`: the requirement ends at the first token that
        // starts with `-`; what follows are per-requirement options.
        let options_at = tokens
            .iter()
            .position(|t| t.text.starts_with('-'))
            .unwrap_or(tokens.len());
        let req_end = tokens
            .get(options_at)
            .map_or(text.len(), |t| t.offset)
            .min(text.len());
        let req_text = text[..req_end].trim_end();
        let req_start = first.offset;
        let base = file.parent().unwrap_or(Path::new("."));
        // A bare URL or path line, or `name @ ./path`: rewritten as `name @ file:///...`
        // before PEP 508 parsing, the location kept as written for messages.
        let direct = direct_reference(&req_text[req_start..], base).map_err(|message| {
            let at = logical.pos_at(req_start);
            self.syntax(
                file,
                physical,
                logical,
                at,
                req_text.len() - req_start,
                message,
            )
        })?;
        let parsed_text = direct
            .as_ref()
            .map_or(&req_text[req_start..], |d| d.text.as_str());
        let requirement = parse_requirement(parsed_text, Some(base)).map_err(|err| {
            let start = if direct.is_some() { 0 } else { err.start };
            let at = logical.pos_at(req_start + start);
            self.syntax(
                file,
                physical,
                logical,
                at,
                err.len,
                err.message.to_string(),
            )
        })?;
        let hashes = self.requirement_options(file, physical, logical, &tokens[options_at..])?;
        let origin = Origin {
            file: file.to_path_buf(),
            line: logical.pos_at(req_start).line + 1,
        };
        let mut requirement: Requirement = requirement;
        // A URL keeps its written form (`${VAR}`, not the value), for messages.
        if let Some(pep508_rs::VersionOrUrl::Url(url)) = &mut requirement.version_or_url {
            let written = direct
                .as_ref()
                .map_or(url.given().unwrap_or(url.as_str()), |d| d.given.as_str());
            let given = unexpand(written, &logical.secrets);
            *url = url.clone().with_given(given);
        }
        let requirement = InputRequirement {
            requirement,
            origin,
            hashes,
        };
        if constraint {
            self.input.constraints.push(requirement);
        } else {
            self.input.requirements.push(requirement);
        }
        Ok(())
    }

    fn requirement_options(
        &self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        tokens: &[Token<'_>],
    ) -> Result<Vec<String>, RequirementsError> {
        let mut hashes = Vec::new();
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            let (name, inline) = split_option(token.text);
            match name {
                // Hashes belong to the lock; an input that carries them is still valid.
                // sha256 values are kept: a direct URL's archive must match one.
                "--hash" => {
                    let value = match inline {
                        Some(value) => Some(value),
                        None => tokens.get(i + 1).map(|t| t.text),
                    };
                    if let Some(hex) = value.and_then(|v| v.strip_prefix("sha256:")) {
                        hashes.push(hex.to_ascii_lowercase());
                    }
                    i += if inline.is_some() { 1 } else { 2 };
                }
                _ => {
                    // Quoted as written: `-junk` or `junk`, not `-j` or `ju`.
                    let shown = if name.starts_with("--") {
                        name
                    } else {
                        token.text
                    };
                    return Err(self.unsupported(
                        file,
                        physical,
                        logical,
                        token,
                        shown,
                        "after a requirement only `--hash` is accepted (and ignored: \
                         dockgen computes hashes for the lock)"
                            .to_string(),
                    ));
                }
            }
        }
        Ok(hashes)
    }

    fn options(
        &mut self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        tokens: &[Token<'_>],
        constraint: bool,
    ) -> Result<(), RequirementsError> {
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            if !token.text.starts_with('-') {
                // pip drops such words silently; a requirement there would be lost.
                let at = logical.pos_at(token.offset);
                return Err(self.syntax(
                    file,
                    physical,
                    logical,
                    at,
                    token.text.len(),
                    format!(
                        "`{}` is not an option, nor the value of one: a line that starts \
                         with an option holds only options; put a requirement on a line \
                         of its own",
                        token.text
                    ),
                ));
            }
            let (name, inline) = split_option(token.text);
            let option = Opt::from_name(name);
            let Some(option) = option else {
                let reason = if name == "-e" || name == "--editable" {
                    "editable installs cannot be locked; install the project in the \
                     image instead, or list it as `name @ https://...`"
                        .to_string()
                } else {
                    format!("supported options are {SUPPORTED_OPTIONS}")
                };
                // An unknown short option is quoted as written (`-junk`, not `-j`).
                let shown = if name.starts_with("--") || name == "-e" {
                    name
                } else {
                    token.text
                };
                return Err(self.unsupported(file, physical, logical, token, shown, reason));
            };
            i += 1;
            let value = if option.takes_value() {
                if let Some(value) = inline {
                    Some(Token {
                        text: value,
                        offset: token.offset + token.text.len() - value.len(),
                    })
                } else if let Some(next) = tokens.get(i) {
                    i += 1;
                    Some(*next)
                } else {
                    let at = logical.end;
                    return Err(self.syntax(
                        file,
                        physical,
                        logical,
                        at,
                        1,
                        format!("`{name}` needs a value"),
                    ));
                }
            } else if inline.is_some_and(|v| !v.is_empty()) {
                let at = logical.pos_at(token.offset);
                return Err(self.syntax(
                    file,
                    physical,
                    logical,
                    at,
                    token.text.len(),
                    format!("`{name}` takes no value"),
                ));
            } else {
                None
            };
            self.apply(file, physical, logical, constraint, option, value)?;
        }
        Ok(())
    }

    fn apply(
        &mut self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        constraint: bool,
        option: Opt,
        value: Option<Token<'_>>,
    ) -> Result<(), RequirementsError> {
        let base = file.parent().unwrap_or(Path::new("."));
        let Some(value) = value else {
            match option {
                Opt::Pre => self.input.pre = true,
                Opt::NoIndex => self.input.no_index = true,
                _ => {}
            }
            return Ok(());
        };
        let at = logical.pos_at(value.offset);
        match option {
            Opt::Requirement | Opt::Constraint => {
                if is_url(value.text) {
                    return Err(self.syntax(
                        file,
                        physical,
                        logical,
                        at,
                        value.text.len(),
                        "including a file by URL is not supported; download it next to \
                         this file and include it by path"
                            .to_string(),
                    ));
                }
                let target = base.join(value.text);
                let origin = Origin {
                    file: file.to_path_buf(),
                    line: at.line + 1,
                };
                let column = column(physical, at);
                self.read_file(
                    &target,
                    constraint || option == Opt::Constraint,
                    Some((origin, column)),
                )?;
            }
            Opt::IndexUrl | Opt::ExtraIndexUrl => {
                let url = self.url(file, physical, logical, value)?;
                if option == Opt::IndexUrl {
                    self.input.index_url = Some(url);
                } else if !self.input.extra_index_urls.contains(&url) {
                    self.input.extra_index_urls.push(url);
                }
            }
            Opt::FindLinks => {
                let link = if is_url(value.text) {
                    let url = self.url(file, physical, logical, value)?;
                    match url.to_file_path() {
                        Ok(path) if url.scheme() == "file" => FindLinks::Directory(path),
                        _ => FindLinks::Url(url),
                    }
                } else {
                    FindLinks::Directory(base.join(value.text))
                };
                if !self.input.find_links.contains(&link) {
                    self.input.find_links.push(link);
                }
            }
            Opt::OnlyBinary | Opt::NoBinary => {
                let names = self.binary_names(file, physical, logical, value)?;
                let (target, other) = if option == Opt::OnlyBinary {
                    (&mut self.input.only_binary, &mut self.input.no_binary)
                } else {
                    (&mut self.input.no_binary, &mut self.input.only_binary)
                };
                handle_mutual_excludes(&names, target, other);
            }
            Opt::Pre | Opt::NoIndex => {}
        }
        Ok(())
    }

    fn binary_names(
        &self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        value: Token<'_>,
    ) -> Result<Vec<BinaryItem>, RequirementsError> {
        let mut items = Vec::new();
        let mut offset = value.offset;
        for part in value.text.split(',') {
            let item = match part {
                ":all:" => BinaryItem::All,
                ":none:" => BinaryItem::None,
                _ => BinaryItem::Name(PackageName::from_str(part).map_err(|err| {
                    let at = logical.pos_at(offset);
                    self.syntax(
                        file,
                        physical,
                        logical,
                        at,
                        part.len().max(1),
                        format!(
                            "{err}; expected `:all:`, `:none:` or package names separated by commas"
                        ),
                    )
                })?),
            };
            items.push(item);
            offset += part.len() + 1;
        }
        Ok(items)
    }

    fn url(
        &self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        value: Token<'_>,
    ) -> Result<Url, RequirementsError> {
        Url::parse(value.text).map_err(|err| {
            let at = logical.pos_at(value.offset);
            self.syntax(
                file,
                physical,
                logical,
                at,
                value.text.len(),
                format!(
                    "invalid URL: {err}; expected an absolute URL like `https://pypi.org/simple`"
                ),
            )
        })
    }

    fn syntax(
        &self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        at: Pos,
        len: usize,
        message: String,
    ) -> RequirementsError {
        let message = printable(&redact(&message, &logical.secrets)).into_owned();
        RequirementsError::Syntax {
            file: file.to_path_buf(),
            line: at.line + 1,
            column: column(physical, at),
            message: format!("{message}\n{}", context(physical, at, len)),
        }
    }

    fn unsupported(
        &self,
        file: &Path,
        physical: &[&str],
        logical: &Logical,
        token: &Token<'_>,
        name: &str,
        reason: String,
    ) -> RequirementsError {
        let at = logical.pos_at(token.offset);
        RequirementsError::UnsupportedOption {
            file: file.to_path_buf(),
            line: at.line + 1,
            column: column(physical, at),
            option: format!("`{}`", printable(&redact(name, &logical.secrets))),
            reason,
            context: context(physical, at, name.len()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Requirement,
    Constraint,
    IndexUrl,
    ExtraIndexUrl,
    FindLinks,
    NoIndex,
    Pre,
    OnlyBinary,
    NoBinary,
}

impl Opt {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "-r" | "--requirement" => Self::Requirement,
            "-c" | "--constraint" => Self::Constraint,
            "-i" | "--index-url" => Self::IndexUrl,
            "--extra-index-url" => Self::ExtraIndexUrl,
            "-f" | "--find-links" => Self::FindLinks,
            "--no-index" => Self::NoIndex,
            "--pre" => Self::Pre,
            "--only-binary" => Self::OnlyBinary,
            "--no-binary" => Self::NoBinary,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        !matches!(self, Self::NoIndex | Self::Pre)
    }
}

/// `--opt=value` -> (`--opt`, Some(`value`)); `-rfile` -> (`-r`, Some(`file`)).
fn split_option(token: &str) -> (&str, Option<&str>) {
    if token.starts_with("--") {
        match token.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (token, None),
        }
    } else {
        // Short options, optparse style: `-r file`, `-rfile`, `-r=file` is not pip's.
        let split = token.char_indices().nth(2).map_or(token.len(), |(i, _)| i);
        let (name, value) = token.split_at(split);
        (name, (!value.is_empty()).then_some(value))
    }
}

fn is_url(value: &str) -> bool {
    Url::parse(value).is_ok_and(|url| url.scheme().len() > 1)
}

enum BinaryItem {
    All,
    None,
    Name(PackageName),
}

/// pip's `FormatControl.handle_mutual_excludes`, over [`BinarySelection`].
fn handle_mutual_excludes(
    items: &[BinaryItem],
    target: &mut BinarySelection,
    other: &mut BinarySelection,
) {
    let mut items = items;
    while let Some(all) = items.iter().position(|i| matches!(i, BinaryItem::All)) {
        *other = BinarySelection::Nothing;
        *target = BinarySelection::All;
        items = &items[all + 1..];
        if !items.iter().any(|i| matches!(i, BinaryItem::None)) {
            return;
        }
    }
    for item in items {
        match item {
            BinaryItem::None => *target = BinarySelection::Nothing,
            BinaryItem::Name(name) => {
                other.discard(name);
                target.add(name.clone());
            }
            BinaryItem::All => {}
        }
    }
}

/// 1-based column, in characters, of a physical position.
fn column(physical: &[&str], at: Pos) -> usize {
    let line = physical.get(at.line).copied().unwrap_or("");
    let col = at.col.min(line.len());
    line.get(..col).map_or(col, |s| s.chars().count()) + 1
}

/// The physical line as written (its secrets masked), and a caret line under `len`
/// bytes from `at`.
fn context(physical: &[&str], at: Pos, len: usize) -> String {
    let line = physical.get(at.line).copied().unwrap_or("");
    let start = column(physical, at) - 1;
    let start_byte = line
        .char_indices()
        .nth(start)
        .map_or(line.len(), |(i, _)| i);
    // The span is in bytes of the logical line; it may run past this physical line.
    let end_byte = line[start_byte..]
        .char_indices()
        .take_while(|(i, _)| *i < len)
        .last()
        .map_or(start_byte, |(i, c)| start_byte + i + c.len_utf8());
    let shown = crate::secrets::Redacted::new(line, &[]);
    let span = shown.span(start_byte..end_byte);
    let text = shown.as_str();
    let lead: usize = text[..span.start].chars().map(printable_width).sum();
    let width: usize = text[span].chars().map(printable_width).sum();
    format!(
        "    {}\n    {}{}",
        printable(text),
        " ".repeat(lead),
        "^".repeat(width.max(1))
    )
}

/// `message` with the values this line expanded shown as their `${VAR}`, and every
/// other secret masked.
/// A direct reference rewritten for the PEP 508 parser: `text` is `name @ URL ...`,
/// `given` the location as written.
struct DirectText {
    text: String,
    given: String,
}

/// Whether `location` is a path rather than a URL (pip's `_looks_like_path`, narrowed
/// to what can name an archive).
fn looks_like_path(location: &str) -> bool {
    !is_url(location)
        && (location.starts_with("./")
            || location.starts_with("../")
            || location.starts_with('/')
            || (location.contains('/') && is_archive_name(location)))
}

fn is_archive_name(location: &str) -> bool {
    let name = location.split(['#', '?']).next().unwrap_or(location);
    let name = name.rsplit('/').next().unwrap_or(name);
    name.to_ascii_lowercase().ends_with(".whl")
        || crate::index::filename::SdistFormat::from_filename(name).is_some()
}

/// The static `[project].name` of the project directory at `dir`, if it says one.
fn project_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("pyproject.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let name = table.get("project")?.get("name")?.as_str()?;
    pep508_rs::PackageName::from_str(name)
        .ok()
        .map(|_| name.to_string())
}

/// `file://` URL of `path` (relative to `base`), percent-encoded.
fn path_url(path: &str, base: &Path) -> Result<String, String> {
    let absolute = std::path::absolute(base.join(path))
        .map_err(|err| format!("cannot make `{path}` an absolute path: {err}"))?;
    Url::from_file_path(&absolute)
        .map(String::from)
        .map_err(|()| format!("`{path}` is not a usable file path"))
}

/// Recognises the direct references pip accepts beyond PEP 508: a bare URL or path of
/// an archive (the name from the wheel's file name, or `#egg=name`), and `name @ PATH`.
/// `Ok(None)`: an ordinary requirement, for the PEP 508 parser.
fn direct_reference(text: &str, base: &Path) -> Result<Option<DirectText>, String> {
    // A marker follows `;` after whitespace (pip's rule for URL lines).
    let (location_part, marker) = match text.find(" ;").or_else(|| text.find("\t;")) {
        Some(at) => (text[..at].trim(), Some(text[at..].trim_start())),
        None => (text.trim(), None),
    };
    let marker = marker.map(|m| format!(" {m}")).unwrap_or_default();
    if let Some((name, location)) = location_part.split_once(" @ ") {
        let location = location.trim();
        if !looks_like_path(location) {
            return Ok(None);
        }
        let url = path_url(location.split('#').next().unwrap_or(location), base)?;
        return Ok(Some(DirectText {
            text: format!("{} @ {url}{marker}", name.trim()),
            given: location.to_string(),
        }));
    }
    let is_path = looks_like_path(location_part);
    if !is_url(location_part) && !is_path {
        return Ok(None);
    }
    let (without_fragment, fragment) = match location_part.split_once('#') {
        Some((before, after)) => (before, Some(after)),
        None => (location_part, None),
    };
    let egg = fragment.and_then(|f| {
        f.split('&')
            .find_map(|part| part.strip_prefix("egg="))
            .map(str::to_string)
    });
    let filename = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment)
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let filename = percent_encoding::percent_decode_str(filename).decode_utf8_lossy();
    if let Some(vcs) = vcs_scheme(location_part) {
        // pip's bare VCS line: the name only from `#egg=`; the fragment is kept for
        // `#subdirectory=`.
        if vcs != "git" {
            return Err(format!(
                "`{vcs}+` URLs are not supported; dockgen locks git repositories \
                 (`git+https://...`) and archives"
            ));
        }
        let Some(name) = egg.filter(|egg| !egg.is_empty()) else {
            return Err(format!(
                "cannot tell the package name of `{location_part}`: write it as \
                 `name @ {location_part}`, or add `#egg=name`"
            ));
        };
        return Ok(Some(DirectText {
            text: format!("{name} @ {location_part}{marker}"),
            given: location_part.to_string(),
        }));
    }
    if !is_archive_name(without_fragment) {
        // pip's bare path of a project directory: the name from `#egg=`, else from
        // its `pyproject.toml`'s static `[project].name`.
        if is_path {
            let url = path_url(without_fragment, base)?;
            let name = egg
                .filter(|egg| !egg.is_empty())
                .or_else(|| project_name(&base.join(without_fragment)))
                .ok_or_else(|| {
                    format!(
                        "cannot tell the package name of `{location_part}`: write it as \
                         `name @ {without_fragment}` (or add `#egg=name`)"
                    )
                })?;
            return Ok(Some(DirectText {
                text: format!("{name} @ {url}{marker}"),
                given: without_fragment.to_string(),
            }));
        }
        return Err(format!(
            "`{location_part}` is not a wheel or an sdist archive (`.whl`, `.tar.gz`, `.zip`), \
             a git repository (`git+https://...`) or a local project directory \
             (`./path/to/project`)"
        ));
    }
    let name = match egg {
        Some(egg) => egg,
        None if filename.to_ascii_lowercase().ends_with(".whl") => {
            crate::index::filename::WheelFilename::from_str(&filename)
                .map_err(|err| format!("`{filename}` is not a valid wheel file name: {err}"))?
                .name
                .to_string()
        }
        None => {
            return Err(format!(
                "cannot tell the package name of `{location_part}`: write it as \
                 `name @ {location_part}` (or add `#egg=name`)"
            ));
        }
    };
    let url = if is_path {
        path_url(without_fragment, base)?
    } else {
        without_fragment.to_string()
    };
    Ok(Some(DirectText {
        text: format!("{name} @ {url}{marker}"),
        given: without_fragment.to_string(),
    }))
}

/// The VCS of a `vcs+scheme://` location (`git`, `hg`, `svn`, `bzr`), if it is one.
fn vcs_scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once("://")?;
    let (vcs, _) = scheme.split_once('+')?;
    matches!(vcs, "git" | "hg" | "svn" | "bzr").then_some(vcs)
}

/// `text` with each value the line expanded put back as its `${VAR}` (longest value
/// first): a URL as written, so a userinfo written as `${USER}:${TOKEN}` stays that
/// way. Not a mask: literal credentials stay; outputs take [`crate::secrets::text`].
fn unexpand(text: &str, secrets: &[(String, String)]) -> String {
    let mut values: Vec<&(String, String)> = secrets.iter().collect();
    values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    let mut text = text.to_string();
    for (value, written) in values {
        text = text.replace(value.as_str(), written);
    }
    text
}

fn redact(message: &str, secrets: &[(String, String)]) -> String {
    crate::secrets::Redacted::new(message, secrets).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp dir of files, written from `(relative path, content)` pairs.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        dir
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t-t0ken".to_string()),
            "INDEX_HOST" => Some("pypi.example.com".to_string()),
            "TORCH_VERSION" => Some("2.4.1".to_string()),
            _ => None,
        }
    }

    fn parse(dir: &tempfile::TempDir, top: &str) -> Result<RequirementsInput, RequirementsError> {
        parse_requirements_file_with_env(&dir.path().join(top), &env)
    }

    /// Paths relative to `root`, one item a line, stable for snapshots.
    fn render(input: &RequirementsInput, root: &Path) -> String {
        let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
        let mut out = String::new();
        let mut section = |title: &str, items: Vec<String>| {
            let _ = writeln!(out, "{title}:");
            for item in items {
                let _ = writeln!(out, "  {item}");
            }
        };
        section("files", input.files.iter().map(|f| rel(f)).collect());
        let reqs = |reqs: &[InputRequirement]| {
            reqs.iter()
                .map(|r| {
                    format!(
                        "{}  ({}:{})",
                        r.requirement,
                        rel(&r.origin.file),
                        r.origin.line
                    )
                })
                .collect()
        };
        section("requirements", reqs(&input.requirements));
        section("constraints", reqs(&input.constraints));
        section(
            "index_url",
            input.index_url.iter().map(ToString::to_string).collect(),
        );
        section(
            "extra_index_urls",
            input
                .extra_index_urls
                .iter()
                .map(ToString::to_string)
                .collect(),
        );
        section(
            "find_links",
            input
                .find_links
                .iter()
                .map(|f| match f {
                    FindLinks::Directory(p) => format!("dir {}", rel(p)),
                    FindLinks::Url(u) => format!("url {u}"),
                })
                .collect(),
        );
        let _ = writeln!(out, "pre: {}", input.pre);
        let _ = writeln!(out, "no_index: {}", input.no_index);
        let _ = writeln!(out, "only_binary: {:?}", input.only_binary);
        let _ = writeln!(out, "no_binary: {:?}", input.no_binary);
        out
    }

    fn error(dir: &tempfile::TempDir, top: &str) -> String {
        let err = parse(dir, top).expect_err("the input is invalid");
        let root = format!("{}/", dir.path().display());
        err.to_string().replace(&root, "")
    }

    #[test]
    fn every_construct() {
        let dir = tree(&[
            (
                "requirements.in",
                r#"# Top comment
-r sub/base.in
--constraint=constraints.txt

  # indented comment
--index-url https://${INDEX_HOST}/simple
-i https://user:${TOKEN}@${INDEX_HOST}/simple/
--extra-index-url https://download.pytorch.org/whl/cu124
--extra-index-url=https://download.pytorch.org/whl/cu124
-f wheels
--find-links=https://example.com/links.html
-ffile:///opt/wheels
--pre
--only-binary :all:
--no-binary=pillow,Some_Pkg
--no-index

requests[socks,security] >=2.31, <3 ; python_version >= "3.8"  # trailing comment
torch==${TORCH_VERSION} \
    --hash=sha256:0123456789abcdef \
    --hash sha256:fedcba9876543210
numpy<2 \
  ; platform_machine == "aarch64"
numpy>=1.24
my-wheel @ https://example.com/pkgs/my_wheel-1.0-py3-none-any.whl#sha256=abcdef
Foo.Bar_baz
"#,
            ),
            ("sub/base.in", "# base\nfastapi>=0.110\n-r more.in\n"),
            ("sub/more.in", "uvicorn[standard]\n"),
            ("constraints.txt", "pydantic<3\n-r constraints-extra.txt\n"),
            ("constraints-extra.txt", "starlette<1\n"),
        ]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        insta::assert_snapshot!(render(&input, dir.path()));
    }

    #[test]
    fn relative_includes_from_a_subdirectory() {
        let dir = tree(&[
            (
                "app/requirements.in",
                "-r ../common/base.in\n-r local.in\napp-dep\n",
            ),
            ("app/local.in", "local-dep\n"),
            ("common/base.in", "-c pins/constraints.txt\nbase-dep\n"),
            ("common/pins/constraints.txt", "base-dep<2\n"),
        ]);
        let input = parse(&dir, "app/requirements.in").expect("valid input");
        insta::assert_snapshot!(render(&input, dir.path()));
    }

    #[test]
    fn a_file_included_twice_is_listed_once() {
        let dir = tree(&[
            ("requirements.in", "-r a.in\n-r b.in\n"),
            ("a.in", "-r common.in\na\n"),
            ("b.in", "-r common.in\nb\n"),
            ("common.in", "common\n"),
        ]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        insta::assert_snapshot!(render(&input, dir.path()));
    }

    #[test]
    fn include_cycle() {
        let dir = tree(&[
            ("requirements.in", "top\n-r a.in\n"),
            ("a.in", "a\n-r sub/b.in\n"),
            ("sub/b.in", "b\n   -c ../a.in\n"),
        ]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn self_include() {
        let dir = tree(&[("requirements.in", "-r requirements.in\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn missing_include() {
        let dir = tree(&[("requirements.in", "# x\n-r missing.in\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn missing_top_file() {
        let dir = tree(&[]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn unset_variable() {
        let dir = tree(&[(
            "requirements.in",
            "fastapi\n--extra-index-url https://__token__:${MISSING_TOKEN}@example.com/simple\n",
        )]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn not_a_variable_is_left_as_written() {
        // pip only expands `${NAME}` with NAME of `[A-Z0-9_]+`; `$HOME`, `${lower}` stay.
        let dir = tree(&[(
            "requirements.in",
            "--find-links $HOME/wheels\n--find-links ${lower}/wheels\n",
        )]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        insta::assert_snapshot!(render(&input, dir.path()));
    }

    #[test]
    fn expanded_secret_stays_in_the_url_and_out_of_errors() {
        let dir = tree(&[(
            "requirements.in",
            "--index-url https://user:${TOKEN}@example.com/simple\n",
        )]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        assert_eq!(
            input.index_url.as_ref().map(Url::password),
            Some(Some("s3cr3t-t0ken"))
        );

        let dir = tree(&[(
            "requirements.in",
            "pkg @ https://user:${TOKEN}@example.com/pkg.whl ; os_name == ${TOKEN}\n",
        )]);
        let message = error(&dir, "requirements.in");
        assert!(!message.contains("s3cr3t"), "{message}");
        insta::assert_snapshot!(message);
    }

    #[test]
    fn requirement_syntax_error_columns() {
        let dir = tree(&[("requirements.in", "fastapi\n   numpy >= 1.24,, <2\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn syntax_error_on_a_continuation_line() {
        let dir = tree(&[(
            "requirements.in",
            "# header\ntorch>=2 \\\n    ; python_version >< \"3.10\"\nnumpy\n",
        )]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn syntax_error_after_an_expanded_variable() {
        // The column is in the file as written, not in the expanded text.
        let dir = tree(&[("requirements.in", "torch==${TORCH_VERSION} ; bogus\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn bare_url_and_path_requirements() {
        let dir = tree(&[
            (
                "requirements.in",
                "https://example.com/files/Pkg_One-1.0-py3-none-any.whl --hash=sha256:AB12
                 https://example.com/two-2.0.tar.gz#egg=two ; python_version >= \"3\"
                 -r sub/more.in
",
            ),
            (
                "sub/more.in",
                "./wheels/three-3.0-py3-none-any.whl
four @ ../four-4.0.tar.gz
git+https://example.com/five.git@v5#egg=five&subdirectory=py
six @ git+file:///srv/six@main
",
            ),
        ]);
        let input = parse(&dir, "requirements.in").expect("valid");
        let root = std::path::absolute(dir.path()).unwrap();
        let root = Url::from_directory_path(&root).unwrap();
        let shown: Vec<String> = input
            .requirements
            .iter()
            .map(|r| {
                let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.requirement.version_or_url else {
                    panic!("{} is not a URL requirement", r.requirement);
                };
                format!(
                    "{} @ {} (given `{}`, marker `{:?}`, hashes {:?})",
                    r.requirement.name,
                    url.as_str().replace(root.as_str(), "file:///[dir]/"),
                    url.given().unwrap_or_default(),
                    r.requirement.marker.contents().map(|m| m.to_string()),
                    r.hashes
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "pkg-one @ https://example.com/files/Pkg_One-1.0-py3-none-any.whl (given \
                 `https://example.com/files/Pkg_One-1.0-py3-none-any.whl`, marker `None`, \
                 hashes [\"ab12\"])",
                "two @ https://example.com/two-2.0.tar.gz (given \
                 `https://example.com/two-2.0.tar.gz`, marker \
                 `Some(\"python_full_version >= '3'\")`, hashes [])",
                "three @ file:///[dir]/sub/wheels/three-3.0-py3-none-any.whl (given \
                 `./wheels/three-3.0-py3-none-any.whl`, marker `None`, hashes [])",
                "four @ file:///[dir]/four-4.0.tar.gz (given `../four-4.0.tar.gz`, marker \
                 `None`, hashes [])",
                "five @ git+https://example.com/five.git@v5#egg=five&subdirectory=py (given \
                 `git+https://example.com/five.git@v5#egg=five&subdirectory=py`, marker \
                 `None`, hashes [])",
                "six @ git+file:///srv/six@main (given `git+file:///srv/six@main`, marker \
                 `None`, hashes [])",
            ]
        );
        let no_name = tree(&[(
            "requirements.in",
            "https://example.com/two-2.0.tar.gz
",
        )]);
        let directory = tree(&[(
            "requirements.in",
            "./vendor/pkg
",
        )]);
        let git_without_egg = tree(&[(
            "requirements.in",
            "six
git+https://example.com/r.git@v1
",
        )]);
        let mercurial = tree(&[(
            "requirements.in",
            "hg+https://example.com/r#egg=r
",
        )]);
        insta::assert_snapshot!(format!(
            "{}\n{}\n{}\n{}",
            error(&no_name, "requirements.in"),
            error(&directory, "requirements.in"),
            error(&git_without_egg, "requirements.in"),
            error(&mercurial, "requirements.in")
        ));
    }

    #[test]
    fn bare_directory_lines_take_their_name() {
        let dir = tree(&[
            ("requirements.in", "./proj\n./other#egg=other-pkg\n"),
            ("proj/pyproject.toml", "[project]\nname = \"My_Proj\"\n"),
            ("other/setup.py", ""),
        ]);
        let input = parse(&dir, "requirements.in").expect("valid");
        let root = std::path::absolute(dir.path()).unwrap();
        let names: Vec<String> = input
            .requirements
            .iter()
            .map(|r| {
                let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.requirement.version_or_url else {
                    panic!("{} is not a URL requirement", r.requirement);
                };
                let path = url.to_url().to_file_path().unwrap();
                format!(
                    "{} {}",
                    r.requirement.name,
                    path.strip_prefix(&root).unwrap().display()
                )
            })
            .collect();
        assert_eq!(names, ["my-proj proj", "other-pkg other"]);
    }

    #[test]
    fn editable_is_rejected() {
        let dir = tree(&[("requirements.in", "fastapi\n-e ./my-package\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn unknown_option_is_rejected() {
        let dir = tree(&[("requirements.in", "--trusted-host example.com\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn control_characters_are_escaped_in_errors() {
        let dir = tree(&[(
            "requirements.in",
            "\tnumpy\nnu\u{1b}[2Jm\0py==1 ; os_name == 'x'\n",
        )]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
        let dir = tree(&[("requirements.in", "--pre \0junk\n")]);
        insta::assert_snapshot!(
            "control_characters_in_an_option",
            error(&dir, "requirements.in")
        );
    }

    #[test]
    fn fifty_thousand_lines_parse() {
        // Parsing is linear in the lines: every logical line is read once. (Timing is
        // for benches; this asserts the whole file is read, continuations included.)
        let mut text = String::new();
        for i in 0..50_000 {
            if i % 10 == 0 {
                let _ = writeln!(
                    text,
                    "pkg{i} >=1.0 \\\n    ; python_version >= '3.8'  # note"
                );
            } else {
                let _ = writeln!(text, "pkg{i}[extra]>=1.{i}");
            }
        }
        let dir = tree(&[("requirements.in", &text)]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        assert_eq!(input.requirements.len(), 50_000);
        let last = input.requirements.last().expect("a requirement");
        assert_eq!(last.origin.line, 55_000);
    }

    #[test]
    fn unknown_words_are_quoted_as_written() {
        let out: String = [
            "--pre junk\n",
            "--pre -junk\n",
            "-junk\n",
            "numpy -junk\n",
            "numpy --hash=sha256:00 junk\n",
        ]
        .iter()
        .map(|text| {
            let dir = tree(&[("requirements.in", text)]);
            format!("{}\n", error(&dir, "requirements.in"))
        })
        .collect();
        insta::assert_snapshot!(out);
    }

    #[test]
    fn unknown_per_requirement_option_is_rejected() {
        let dir = tree(&[(
            "requirements.in",
            "pkg==1.0 --hash=sha256:00 --config-settings=a=b\n",
        )]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn option_without_value() {
        let dir = tree(&[("requirements.in", "--index-url\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn flag_with_value() {
        let dir = tree(&[("requirements.in", "--pre=yes\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn invalid_index_url() {
        let dir = tree(&[("requirements.in", "-i pypi.org/simple\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn include_by_url_is_rejected() {
        let dir = tree(&[(
            "requirements.in",
            "-r https://example.com/requirements.txt\n",
        )]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    #[test]
    fn invalid_binary_name() {
        let dir = tree(&[("requirements.in", "--only-binary numpy,-bad\n")]);
        insta::assert_snapshot!(error(&dir, "requirements.in"));
    }

    fn formats(lines: &str) -> String {
        let dir = tree(&[("requirements.in", lines)]);
        let input = parse(&dir, "requirements.in").expect("valid input");
        ["numpy", "pillow", "torch"]
            .iter()
            .map(|name| {
                let name = PackageName::from_str(name).expect("valid name");
                format!("{name}={:?}", input.allowed_formats(&name))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn binary_selection_follows_pip() {
        let cases = [
            "",
            "--only-binary :all:",
            "--no-binary :all:",
            "--only-binary :all:\n--no-binary numpy",
            "--no-binary :all:\n--only-binary Pillow,torch",
            "--only-binary numpy\n--no-binary numpy",
            "--only-binary :all:,:none:,torch",
            "--no-binary pillow\n--only-binary :all:",
            "--only-binary numpy\n--only-binary :none:",
        ];
        let out: String = cases
            .iter()
            .map(|case| format!("{:?}\n  -> {}\n", case, formats(case)))
            .collect();
        insta::assert_snapshot!(out);
    }

    #[test]
    fn examples_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = String::new();
        for example in [
            "jetson-tts",
            "video-diffusion",
            "fastapi-vision",
            "fastapi-optional",
        ] {
            let path = root.join("examples").join(example).join("requirements.in");
            let input = parse_requirements_file_with_env(&path, &|_| None)
                .unwrap_or_else(|err| panic!("{err}"));
            let _ = writeln!(out, "# {example}\n{}", render(&input, root));
        }
        insta::assert_snapshot!(out);
    }
}
