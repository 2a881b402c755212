//! `dockgen scan`: the imports of a project's Python files against a lock.
//!
//! The files are read with Python's own parser (`ast`, by `imports.py` in a `python3`
//! child process): every top-level module an `import` or `from … import` names, with
//! its file and line, and whether it is optional (inside a function or a `try:` block).
//! A module is then accounted for by the target Python's standard library, by the
//! project itself (a module or package among the scanned files), or by a locked
//! distribution that installs it (its wheel's top-level names, as `check` reads them).
//! What is left is missing. A requirement of the inputs that nothing imports, directly
//! or through the requirements of a package that is imported, is unused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

use crate::audit::facts::{Edges, Facts, FileKind};

const IMPORTS_PY: &str = include_str!("imports.py");
const MODULES: &str = include_str!("modules.txt");

/// Directories never scanned: virtual environments (any directory with a
/// `pyvenv.cfg`), installed packages, VCS and tool caches, build output.
const SKIPPED: [&str; 14] = [
    ".git",
    ".hg",
    ".venv",
    "venv",
    "site-packages",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "dist",
];

/// Standard-library modules that came or went in a Python release: `(name, first
/// release with it, first release without it)`, minor versions of 3.
const STDLIB_CHANGES: [(&str, u64, u64); 27] = [
    ("tomllib", 11, 99),
    ("annotationlib", 14, 99),
    ("compression", 14, 99),
    ("asynchat", 0, 12),
    ("asyncore", 0, 12),
    ("distutils", 0, 12),
    ("imp", 0, 12),
    ("smtpd", 0, 12),
    ("aifc", 0, 13),
    ("audioop", 0, 13),
    ("cgi", 0, 13),
    ("cgitb", 0, 13),
    ("chunk", 0, 13),
    ("crypt", 0, 13),
    ("imghdr", 0, 13),
    ("lib2to3", 0, 13),
    ("mailcap", 0, 13),
    ("msilib", 0, 13),
    ("nis", 0, 13),
    ("nntplib", 0, 13),
    ("ossaudiodev", 0, 13),
    ("pipes", 0, 13),
    ("sndhdr", 0, 13),
    ("spwd", 0, 13),
    ("sunau", 0, 13),
    ("telnetlib", 0, 13),
    ("xdrlib", 0, 13),
];

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("`{0}` does not exist")]
    NoPath(PathBuf),
    #[error(
        "dockgen scan reads Python files with Python's own parser: cannot run `{python}` \
         ({reason}); install python3 or name one with `--python PATH`"
    )]
    NoPython { python: String, reason: String },
    #[error("`{python}` failed to read the files: {reason}")]
    Parser { python: String, reason: String },
}

/// The Python files under `paths` (a file is itself), sorted, and the project's own
/// top-level modules: each scanned file's stem and each directory holding Python files.
pub fn python_files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, BTreeSet<String>), ScanError> {
    let mut files = Vec::new();
    let mut local = BTreeSet::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        if !path.is_dir() {
            return Err(ScanError::NoPath(path.clone()));
        }
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut has_python = false;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let skipped = SKIPPED.contains(&name.as_str())
                        || name.ends_with(".egg-info")
                        || path.join("pyvenv.cfg").exists();
                    if !skipped {
                        stack.push(path);
                    }
                } else if kind.is_file() && name.ends_with(".py") {
                    has_python = true;
                    files.push(path);
                }
            }
            // The scanned directory itself too: `dockgen scan app` with `from app import x`.
            if let (true, Some(name)) = (has_python, dir.file_name()) {
                local.insert(name.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files.dedup();
    for file in &files {
        if let Some(stem) = file.file_stem() {
            local.insert(stem.to_string_lossy().into_owned());
        }
    }
    Ok((files, local))
}

#[derive(Debug, Deserialize)]
pub struct Parsed {
    pub python: String,
    pub stdlib: BTreeSet<String>,
    pub files: Vec<ParsedFile>,
}

#[derive(Debug, Deserialize)]
pub struct ParsedFile {
    pub path: String,
    /// `(top-level module, line, optional)`.
    pub imports: Vec<(String, usize, bool)>,
    pub error: Option<String>,
}

/// Every file's imports, by `python`'s own parser.
pub fn parse(python: &str, files: &[PathBuf]) -> Result<Parsed, ScanError> {
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut child = Command::new(python)
        .args(["-I", "-c", IMPORTS_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| ScanError::NoPython {
            python: python.to_string(),
            reason: error.to_string(),
        })?;
    let input = serde_json::to_vec(&paths).expect("paths serialize");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .map_err(|error| ScanError::Parser {
            python: python.to_string(),
            reason: error.to_string(),
        })?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(ScanError::Parser {
            python: python.to_string(),
            reason: String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
                .to_string(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|error| ScanError::Parser {
        python: python.to_string(),
        reason: format!("unreadable answer: {error}"),
    })
}

/// The standard library of Python 3.`minor`, from `host`'s (the parser's) list.
pub fn stdlib_for(host: &BTreeSet<String>, host_minor: u64, minor: u64) -> BTreeSet<String> {
    let mut names = host.clone();
    for (name, since, until) in STDLIB_CHANGES {
        let in_target = (since..until).contains(&minor);
        let in_host = (since..until).contains(&host_minor);
        if in_target && !in_host {
            names.insert(name.to_string());
        } else if !in_target {
            names.remove(name);
        }
    }
    names
}

/// The distribution each known differing import name comes from (`cv2` ->
/// `opencv-python`).
pub fn known_distributions() -> BTreeMap<&'static str, &'static str> {
    MODULES
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub module: String,
    /// Where it is first imported (the first import that is not optional, if any).
    pub file: String,
    pub line: usize,
    /// Every import of it is inside a function or a `try:` block.
    pub optional: bool,
    /// The distribution to add, where one can be named.
    pub suggestion: Option<String>,
    /// How it was named: `known import name` or `project on index NAME`.
    pub suggested_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub python: String,
    pub files: usize,
    pub local: Vec<String>,
    pub missing: Vec<Missing>,
    /// Requirements of the inputs that nothing imports.
    pub unused: Vec<String>,
    /// Imported modules and the locked distributions that provide them.
    pub provided: BTreeMap<String, Vec<String>>,
    /// Files Python could not parse, with why.
    pub unparsable: Vec<(String, String)>,
}

/// What each locked distribution installs at the top of site-packages: its wheel's
/// names; an sdist's (unknown before a build) guessed from its name.
pub fn provided_modules(facts: &Facts) -> BTreeMap<String, Vec<PackageName>> {
    let mut provided: BTreeMap<String, Vec<PackageName>> = BTreeMap::new();
    for (key, package) in &facts.packages {
        let names: Vec<String> = match package.installed().map(|file| &file.kind) {
            Some(FileKind::Wheel {
                top_level: Some(names),
                ..
            }) => names.iter().map(|top| top.name.clone()).collect(),
            _ => vec![key.as_ref().replace('-', "_")],
        };
        for name in names {
            provided.entry(name).or_default().push(key.clone());
        }
    }
    provided
}

/// The scan's findings, suggestions not yet looked up.
pub fn analyze(
    parsed: &Parsed,
    stdlib: &BTreeSet<String>,
    local: &BTreeSet<String>,
    facts: &Facts,
    root: &Path,
) -> Outcome {
    let provided = provided_modules(facts);
    let shown = |path: &str| {
        Path::new(path)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.to_string())
    };
    // Per module: (first required import, first import), each (file, line).
    type At = (String, usize);
    let mut imports: BTreeMap<&str, (Option<At>, At)> = BTreeMap::new();
    for file in &parsed.files {
        for (module, line, optional) in &file.imports {
            let at = (shown(&file.path), *line);
            let entry = imports
                .entry(module.as_str())
                .or_insert_with(|| (None, at.clone()));
            if !optional && entry.0.is_none() {
                entry.0 = Some(at);
            }
        }
    }
    let mut missing = Vec::new();
    let mut used: BTreeSet<&PackageName> = BTreeSet::new();
    let mut provided_shown = BTreeMap::new();
    for (module, (required, first)) in &imports {
        if let Some(dists) = provided.get(*module) {
            used.extend(dists.iter());
            provided_shown.insert(
                module.to_string(),
                dists.iter().map(|d| d.to_string()).collect(),
            );
            continue;
        }
        if stdlib.contains(*module) || local.contains(*module) {
            continue;
        }
        let (file, line) = required.clone().unwrap_or_else(|| first.clone());
        missing.push(Missing {
            module: module.to_string(),
            file,
            line,
            optional: required.is_none(),
            suggestion: None,
            suggested_by: None,
        });
    }
    // What the imported distributions require, through the lock's `# via` edges.
    let used = Edges::of(facts).reach(used);
    let unused = facts
        .packages
        .iter()
        .filter(|(_, package)| package.from_input())
        .filter(|(key, _)| !used.contains(key))
        .map(|(key, _)| key.to_string())
        .collect();
    Outcome {
        python: parsed.python.clone(),
        files: parsed.files.len(),
        local: local.iter().cloned().collect(),
        missing,
        unused,
        provided: provided_shown,
        unparsable: parsed
            .files
            .iter()
            .filter_map(|f| Some((shown(&f.path), f.error.clone()?)))
            .collect(),
    }
}
