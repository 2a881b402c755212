//! `dockgen report`: one self-contained HTML page about a lock, from the lock, its
//! [`Facts`] and `check`'s [`Report`]: a summary, the findings, the installed size of
//! each top-level requirement with what only it pulls in (a bar chart), the dependency
//! tree, the dependency graph (a picture), every package with its installed file, size
//! and licenses, and the sdists the wheel-builder stage builds.
//!
//! The page is `templates/report.html.j2`, compiled in, rendered with HTML escaping
//! always on: every value from a lock, an index or a package's metadata is text on the
//! page, never markup. Inline CSS and inline SVG (laid out by [`pictures`]) only, no
//! script, no external resource. The same
//! lock and cache give the same bytes: no timestamp unless `SOURCE_DATE_EPOCH` gives
//! one.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::check::{Report, Severity};
use super::facts::{Facts, FileKind, PackageFacts};
use super::pictures;
use super::tree::{Branch, DependencyTree};

const TEMPLATE: &str = include_str!("../../templates/report.html.j2");

/// What the page says about where the lock comes from.
pub struct Context<'a> {
    pub profile: &'a str,
    /// `linux/amd64, CPython 3.11.13, glibc 2.35, CUDA 12.4`.
    pub target: &'a str,
    /// The lock, as the command line named it.
    pub lock: &'a str,
    pub lock_sha256: &'a str,
    /// The indexes searched, in order.
    pub indexes: &'a [String],
    /// From `SOURCE_DATE_EPOCH`; none without it.
    pub timestamp: Option<jiff::Timestamp>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the report: {0}")]
pub struct ReportError(String);

#[derive(Serialize)]
struct Page<'a> {
    profile: &'a str,
    target: &'a str,
    lock: &'a str,
    lock_sha256: &'a str,
    indexes: &'a [String],
    generated: Option<String>,
    packages_count: usize,
    wheels: usize,
    sdists_count: usize,
    uninstallable: usize,
    total_size: String,
    total_bytes: u64,
    /// Installed files whose index gives no size.
    unknown_sizes: usize,
    largest: Vec<Largest>,
    errors: usize,
    warnings: usize,
    findings: Vec<FindingView>,
    tree: Vec<Branch>,
    sizes: pictures::Sizes,
    graph: pictures::Graph,
    packages: Vec<PackageRow>,
    sdists: Vec<SdistRow>,
}

#[derive(Serialize)]
struct Largest {
    name: String,
    size: String,
}

#[derive(Serialize)]
struct FindingView {
    severity: &'static str,
    kind: &'static str,
    packages: Vec<String>,
    message: Vec<Part>,
    fix: Vec<Part>,
}

/// A run of a message: text, or what the message quotes in backticks (shown as code).
#[derive(Serialize)]
struct Part {
    code: bool,
    text: String,
}

#[derive(Serialize)]
struct PackageRow {
    name: String,
    version: String,
    summary: Option<String>,
    /// The file the target installs.
    installs: Option<String>,
    /// `wheel`, `sdist`, or `none` when no locked file fits the target.
    kind: &'static str,
    size: String,
    bytes: Option<u64>,
    /// Every locked file, the installed one included.
    files: Vec<String>,
    licenses: Vec<String>,
    index: Option<String>,
}

#[derive(Serialize)]
struct SdistRow {
    pin: String,
    sdist: String,
    size: String,
    requires: Vec<String>,
    /// `None`: setuptools' legacy backend.
    backend: Option<String>,
    declared: bool,
}

/// The page for `facts`, `check`'s `report` on them and the lock's `tree`.
pub fn render(
    facts: &Facts,
    report: &Report,
    tree: &DependencyTree,
    context: &Context<'_>,
) -> Result<String, ReportError> {
    let packages: Vec<PackageRow> = facts.packages.values().map(package_row).collect();
    let installed = || facts.packages.values().filter_map(PackageFacts::installed);
    let total_bytes: u64 = installed().filter_map(|file| file.size).sum();
    let mut largest: Vec<(u64, &str)> = packages
        .iter()
        .filter_map(|row| Some((row.bytes?, row.name.as_str())))
        .collect();
    largest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let page = Page {
        profile: context.profile,
        target: context.target,
        lock: context.lock,
        lock_sha256: context.lock_sha256,
        indexes: context.indexes,
        generated: context.timestamp.map(|at| at.to_string()),
        packages_count: facts.packages.len(),
        wheels: installed().filter(|file| file.is_wheel()).count(),
        sdists_count: installed().filter(|file| !file.is_wheel()).count(),
        uninstallable: facts
            .packages
            .values()
            .filter(|package| package.install.is_none())
            .count(),
        total_size: human_size(total_bytes),
        total_bytes,
        unknown_sizes: installed().filter(|file| file.size.is_none()).count(),
        largest: largest
            .iter()
            .take(5)
            .map(|(bytes, name)| Largest {
                name: name.to_string(),
                size: human_size(*bytes),
            })
            .collect(),
        errors: report.errors,
        warnings: report.warnings,
        findings: report
            .findings
            .iter()
            .map(|finding| FindingView {
                severity: match finding.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                kind: finding.kind.name(),
                packages: finding.packages.clone(),
                message: parts(&finding.message),
                fix: parts(&finding.fix),
            })
            .collect(),
        tree: tree
            .view(false, None)
            .expect("no patterns, nothing to match")
            .branches(),
        sizes: pictures::sizes(facts),
        graph: pictures::graph(facts),
        packages,
        sdists: facts.packages.values().filter_map(sdist_row).collect(),
    };
    let env = environment().as_ref().map_err(|e| ReportError(e.clone()))?;
    let template = env
        .get_template(NAME)
        .map_err(|e| ReportError(e.to_string()))?;
    template
        .render(minijinja::value::Serde(&page))
        .map_err(|e| ReportError(format!("{e:#}")))
}

const NAME: &str = "report.html";

fn environment() -> &'static Result<Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Whatever the template's name: every value is escaped for HTML.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        env.add_template(NAME, TEMPLATE)
            .map_err(|e| format!("template `{NAME}`: {e}"))?;
        Ok(env)
    })
}

fn package_row(package: &PackageFacts) -> PackageRow {
    let installed = package.installed();
    PackageRow {
        name: package.name.to_string(),
        version: package.version.to_string(),
        summary: package
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.summary.clone())
            .filter(|summary| !summary.trim().is_empty()),
        installs: installed.map(|file| file.filename.clone()),
        kind: match installed.map(|file| &file.kind) {
            Some(FileKind::Wheel { .. }) => "wheel",
            Some(FileKind::Sdist { .. }) => "sdist",
            None => "none",
        },
        size: installed
            .and_then(|file| file.size)
            .map(human_size)
            .unwrap_or_else(|| "-".to_string()),
        bytes: installed.and_then(|file| file.size),
        files: package.files.iter().map(|f| f.filename.clone()).collect(),
        licenses: licenses(package),
        index: package.index.clone(),
    }
}

/// The licenses as `sbom` reads them from the metadata: the SPDX expression, else the
/// `License` field's first line, else the classifiers' names.
fn licenses(package: &PackageFacts) -> Vec<String> {
    package
        .metadata
        .as_deref()
        .map(super::sbom::license_texts)
        .unwrap_or_default()
}

fn sdist_row(package: &PackageFacts) -> Option<SdistRow> {
    let file = package.installed()?;
    let FileKind::Sdist { build } = &file.kind else {
        return None;
    };
    Some(SdistRow {
        pin: package.pin(),
        sdist: file.filename.clone(),
        size: file.size.map(human_size).unwrap_or_else(|| "-".into()),
        requires: build
            .as_ref()
            .map(|b| b.requires.clone())
            .unwrap_or_default(),
        backend: build.as_ref().and_then(|b| b.backend.clone()),
        declared: build.as_ref().is_some_and(|b| b.declared),
    })
}

/// A message's runs: the text between backticks is code.
fn parts(message: &str) -> Vec<Part> {
    message
        .split('`')
        .enumerate()
        .filter(|(_, text)| !text.is_empty())
        .map(|(at, text)| Part {
            code: at % 2 == 1,
            text: text.to_string(),
        })
        .collect()
}

/// Bytes in decimal units, as pip shows download sizes: `812 B`, `14.2 kB`, `1.3 GB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_pip_shows_them() {
        let shown: Vec<String> = [0, 999, 1000, 14_230, 999_949, 999_950, 1_300_000_000]
            .into_iter()
            .map(human_size)
            .collect();
        assert_eq!(
            shown,
            [
                "0 B", "999 B", "1.0 kB", "14.2 kB", "999.9 kB", "1.0 MB", "1.3 GB"
            ]
        );
    }

    #[test]
    fn backticks_mark_code() {
        let shown: Vec<(bool, String)> = parts("`torch` 2.5 is built from `x<y>`: ok")
            .into_iter()
            .map(|part| (part.code, part.text))
            .collect();
        assert_eq!(
            shown,
            [
                (true, "torch".to_string()),
                (false, " 2.5 is built from ".to_string()),
                (true, "x<y>".to_string()),
                (false, ": ok".to_string()),
            ]
        );
    }

    #[test]
    fn the_template_compiles_and_escapes() {
        let env = environment().as_ref().expect("the template compiles");
        let escaped = env
            .render_str("{{ x }}", minijinja::context! { x => "<script>&\"'" })
            .expect("renders");
        assert_eq!(escaped, "&lt;script&gt;&amp;&quot;&#x27;");
    }
}
