//! `pyproject.toml` as an input: `[project].dependencies`, the optional-dependency
//! groups asked for with `--extra`, and `requires-python` (PEP 621).
//!
//! Only static metadata is read. A project that computes its dependencies at build
//! time (`dynamic = ["dependencies"]`) cannot be locked without running its build
//! backend, so it is refused with a message saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::VersionSpecifiers;
use pep508_rs::{ExtraName, PackageName, Requirement};
use serde::Deserialize;
use toml::Spanned;

use super::pep508::parse_requirement;
use super::requirements::{InputRequirement, Origin, RequirementsInput};
use super::text::printable;

#[derive(Debug, thiserror::Error)]
pub enum PyprojectError {
    #[error("cannot read `{}`: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: invalid TOML: {message}", file.display())]
    Toml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "`{}` has no `[project]` table; dockgen reads `[project].dependencies` (PEP 621). \
         Add a `[project]` table, or list the requirements in a requirements.in",
        file.display()
    )]
    NoProject { file: PathBuf },
    #[error(
        "{}:{line}: `{field}` is listed in `[project].dynamic`, but dockgen needs static \
         dependencies: list them in `[project].{field}`, or compile them into a requirements.in",
        file.display()
    )]
    Dynamic {
        file: PathBuf,
        line: usize,
        field: String,
    },
    #[error(
        "{}:{line}: unknown extra `{extra}`{}; available: {available}",
        file.display(),
        match referenced_by { Some(by) => format!(" (referenced by `{by}`)"), None => String::new() }
    )]
    UnknownExtra {
        file: PathBuf,
        /// Line of `[project.optional-dependencies]`, or of the self-reference.
        line: usize,
        extra: ExtraName,
        referenced_by: Option<String>,
        /// Backticked, comma-separated names, or `none`.
        available: String,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Requirement {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: invalid `requires-python`: {message}", file.display())]
    RequiresPython {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// `[project.optional-dependencies]`: group name to dependency strings.
type OptionalDependencies = Spanned<BTreeMap<String, Vec<Spanned<String>>>>;

#[derive(Deserialize)]
struct PyprojectToml {
    project: Option<Project>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    name: Option<String>,
    #[serde(default)]
    dynamic: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    dependencies: Vec<Spanned<String>>,
    #[serde(default)]
    optional_dependencies: Option<OptionalDependencies>,
    requires_python: Option<Spanned<String>>,
}

/// Byte offsets to 1-based lines and columns of one file.
struct Lines<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { source, starts }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let index = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts[index];
        let column = self
            .source
            .get(start..offset.min(self.source.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (index + 1, column)
    }

    /// Offset of `offset_in_value` bytes into the parsed string whose TOML literal
    /// starts at `span_start`; exact when the literal has no escapes, else the
    /// literal's first character.
    fn in_string(&self, span_start: usize, value: &str, offset_in_value: usize) -> usize {
        let rest = &self.source[span_start.min(self.source.len())..];
        let quote = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else {
            1
        };
        let body = span_start + quote;
        if self.source.get(body..body + value.len()) == Some(value) {
            body + offset_in_value
        } else {
            body
        }
    }
}

/// Read `[project].dependencies` and the optional groups named in `extras`.
pub fn read_pyproject(
    path: &Path,
    extras: &[ExtraName],
) -> Result<RequirementsInput, PyprojectError> {
    let source = super::text::read_text(path).map_err(|source| PyprojectError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let lines = Lines::new(&source);
    let parsed: PyprojectToml = toml::from_str(&source).map_err(|err| {
        let (line, column) = err.span().map_or((1, 1), |span| lines.line_col(span.start));
        PyprojectError::Toml {
            file: path.to_path_buf(),
            line,
            column,
            message: err.message().to_string(),
        }
    })?;
    let project = parsed.project.ok_or_else(|| PyprojectError::NoProject {
        file: path.to_path_buf(),
    })?;

    let reader = Reader {
        file: path,
        lines: &lines,
        project_name: project
            .name
            .as_deref()
            .and_then(|n| PackageName::from_str(n).ok()),
    };
    if let Some(dynamic) = &project.dynamic {
        for field in dynamic.get_ref() {
            let wanted =
                field == "dependencies" || (field == "optional-dependencies" && !extras.is_empty());
            if wanted {
                return Err(PyprojectError::Dynamic {
                    file: path.to_path_buf(),
                    line: lines.line_col(dynamic.span().start).0,
                    field: field.clone(),
                });
            }
        }
    }

    let groups = reader.groups(project.optional_dependencies.as_ref())?;
    let mut requirements = Vec::new();
    let mut in_progress = BTreeSet::new();
    for dependency in &project.dependencies {
        reader.add(dependency, &groups, &mut in_progress, &mut requirements)?;
    }
    for extra in extras {
        reader.expand_extra(extra, None, &groups, &mut in_progress, &mut requirements)?;
    }

    // A group reached twice (`--extra all --extra dev`) adds the same lines twice.
    let mut seen = std::collections::HashSet::new();
    requirements
        .retain(|r: &InputRequirement| seen.insert((r.requirement.clone(), r.origin.clone())));

    let requires_python = project
        .requires_python
        .as_ref()
        .map(|spec| {
            VersionSpecifiers::from_str(spec.get_ref()).map_err(|err| {
                let (line, column) = lines.line_col(spec.span().start);
                PyprojectError::RequiresPython {
                    file: path.to_path_buf(),
                    line,
                    column,
                    message: err.to_string(),
                }
            })
        })
        .transpose()?;

    Ok(RequirementsInput {
        requirements,
        requires_python,
        files: vec![path.to_path_buf()],
        ..RequirementsInput::default()
    })
}

/// The optional-dependency groups by normalized name, with the table's line.
struct Groups<'a> {
    line: usize,
    by_name: BTreeMap<ExtraName, &'a [Spanned<String>]>,
}

struct Reader<'a> {
    file: &'a Path,
    lines: &'a Lines<'a>,
    project_name: Option<PackageName>,
}

impl Reader<'_> {
    fn groups<'g>(
        &self,
        table: Option<&'g OptionalDependencies>,
    ) -> Result<Groups<'g>, PyprojectError> {
        let Some(table) = table else {
            return Ok(Groups {
                line: 1,
                by_name: BTreeMap::new(),
            });
        };
        let line = self.lines.line_col(table.span().start).0;
        let mut by_name = BTreeMap::new();
        for (name, group) in table.get_ref() {
            let extra = ExtraName::from_str(name).map_err(|err| PyprojectError::Requirement {
                file: self.file.to_path_buf(),
                line,
                column: 1,
                message: format!("invalid optional-dependency group name `{name}`: {err}"),
            })?;
            by_name.insert(extra, group.as_slice());
        }
        Ok(Groups { line, by_name })
    }

    fn parse(&self, dependency: &Spanned<String>) -> Result<Requirement, PyprojectError> {
        let base = self.file.parent().unwrap_or(Path::new("."));
        parse_requirement(dependency.get_ref(), Some(base)).map_err(|err| {
            let offset =
                self.lines
                    .in_string(dependency.span().start, dependency.get_ref(), err.start);
            let (line, column) = self.lines.line_col(offset);
            PyprojectError::Requirement {
                file: self.file.to_path_buf(),
                line,
                column,
                message: format!(
                    "{}\n    {}",
                    printable(&err.message.to_string()),
                    printable(dependency.get_ref())
                ),
            }
        })
    }

    /// Add one dependency string; a reference to the project itself
    /// (`myapp[ml,video]`) adds those groups instead.
    fn add(
        &self,
        dependency: &Spanned<String>,
        groups: &Groups<'_>,
        in_progress: &mut BTreeSet<ExtraName>,
        out: &mut Vec<InputRequirement>,
    ) -> Result<(), PyprojectError> {
        let requirement = self.parse(dependency)?;
        let line = self.lines.line_col(dependency.span().start).0;
        if self.project_name.as_ref() == Some(&requirement.name) {
            let start = out.len();
            for extra in &requirement.extras {
                let by = Some((dependency.get_ref().as_str(), line));
                self.expand_extra(extra, by, groups, in_progress, out)?;
            }
            // A marker on the self-reference applies to everything it brought in.
            for added in &mut out[start..] {
                added.requirement.marker.and(requirement.marker.clone());
            }
            return Ok(());
        }
        out.push(InputRequirement {
            requirement,
            origin: Origin {
                file: self.file.to_path_buf(),
                line,
            },
            hashes: Vec::new(),
        });
        Ok(())
    }

    fn expand_extra(
        &self,
        extra: &ExtraName,
        referenced_by: Option<(&str, usize)>,
        groups: &Groups<'_>,
        in_progress: &mut BTreeSet<ExtraName>,
        out: &mut Vec<InputRequirement>,
    ) -> Result<(), PyprojectError> {
        // A group that is being in_progress further up references itself: it is
        // already being added, so the reference adds nothing.
        if in_progress.contains(extra) {
            return Ok(());
        }
        let Some(group) = groups.by_name.get(extra) else {
            let available = if groups.by_name.is_empty() {
                "none (the project has no `[project.optional-dependencies]`)".to_string()
            } else {
                groups
                    .by_name
                    .keys()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(PyprojectError::UnknownExtra {
                file: self.file.to_path_buf(),
                line: referenced_by.map_or(groups.line, |(_, line)| line),
                extra: extra.clone(),
                referenced_by: referenced_by.map(|(by, _)| by.to_string()),
                available,
            });
        };
        in_progress.insert(extra.clone());
        for dependency in *group {
            self.add(dependency, groups, in_progress, out)?;
        }
        in_progress.remove(extra);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, content).expect("write");
        (dir, path)
    }

    fn extras(names: &[&str]) -> Vec<ExtraName> {
        names
            .iter()
            .map(|n| ExtraName::from_str(n).expect("valid extra"))
            .collect()
    }

    fn render(input: &RequirementsInput) -> String {
        let mut out = String::new();
        for r in &input.requirements {
            let _ = writeln!(out, "{}  (line {})", r.requirement, r.origin.line);
        }
        let _ = writeln!(
            out,
            "requires-python: {}",
            input
                .requires_python
                .as_ref()
                .map_or("none".to_string(), ToString::to_string)
        );
        out
    }

    fn read(content: &str, names: &[&str]) -> String {
        let (_dir, path) = write(content);
        render(&read_pyproject(&path, &extras(names)).unwrap_or_else(|err| panic!("{err}")))
    }

    fn error(content: &str, names: &[&str]) -> String {
        let (dir, path) = write(content);
        let err = read_pyproject(&path, &extras(names)).expect_err("invalid input");
        err.to_string()
            .replace(&format!("{}/", dir.path().display()), "")
    }

    const APP: &str = r#"[project]
name = "My_App"
version = "1.0"
requires-python = ">=3.10"
dependencies = [
    "fastapi>=0.110",
    'uvicorn[standard] ; sys_platform == "linux"',
]

[project.optional-dependencies]
dev = ["pytest>=7", "my-app[lint]"]
lint = ["ruff"]
ml = [
    "numpy<2",
    "torch>=2.2",
]
gpu = ["my-app[ml] ; platform_machine == 'x86_64'", "nvidia-ml-py"]
all = ["my_app[dev,ml]", "my-app[all]"]
"#;

    #[test]
    fn dependencies_only() {
        insta::assert_snapshot!(read(APP, &[]));
    }

    #[test]
    fn extras_with_self_references() {
        insta::assert_snapshot!(read(APP, &["all", "gpu", "DEV"]));
    }

    #[test]
    fn unknown_extra() {
        insta::assert_snapshot!(error(APP, &["docs"]));
    }

    #[test]
    fn unknown_extra_in_a_self_reference() {
        let content = APP.replace("\"my-app[lint]\"", "\"my-app[lint,tests]\"");
        insta::assert_snapshot!(error(&content, &["dev"]));
    }

    #[test]
    fn no_optional_groups() {
        let content = "[project]\nname = \"x\"\ndependencies = [\"a\"]\n";
        insta::assert_snapshot!(error(content, &["ml"]));
    }

    #[test]
    fn dynamic_dependencies() {
        let content = "[project]\nname = \"x\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n";
        insta::assert_snapshot!(error(content, &[]));
    }

    #[test]
    fn dynamic_optional_dependencies_only_matter_with_extras() {
        let content = "[project]\nname = \"x\"\ndynamic = [\"optional-dependencies\"]\ndependencies = [\"a\"]\n";
        insta::assert_snapshot!(format!(
            "{}\n{}",
            read(content, &[]),
            error(content, &["ml"])
        ));
    }

    #[test]
    fn no_project_table() {
        insta::assert_snapshot!(error("[tool.poetry]\nname = \"x\"\n", &[]));
    }

    #[test]
    fn invalid_toml() {
        insta::assert_snapshot!(error(
            "[project]\nname = \"x\"\ndependencies = [\"a\",\n",
            &[]
        ));
    }

    #[test]
    fn wrong_type() {
        insta::assert_snapshot!(error(
            "[project]\nname = \"x\"\ndependencies = \"a\"\n",
            &[]
        ));
    }

    #[test]
    fn invalid_requirement_points_into_the_string() {
        let content =
            "[project]\nname = \"x\"\ndependencies = [\n  \"ok\",\n  \"numpy >= 1.24,, <2\",\n]\n";
        insta::assert_snapshot!(error(content, &[]));
    }

    #[test]
    fn invalid_requires_python() {
        let content = "[project]\nname = \"x\"\nrequires-python = \">=3.10,<>4\"\n";
        insta::assert_snapshot!(error(content, &[]));
    }

    #[test]
    fn example_project() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-optional/pyproject.toml");
        let none = read_pyproject(&path, &[]).unwrap_or_else(|err| panic!("{err}"));
        let all = read_pyproject(&path, &extras(&["all"])).unwrap_or_else(|err| panic!("{err}"));
        insta::assert_snapshot!(format!(
            "# no extras\n{}\n# --extra all\n{}",
            render(&none),
            render(&all)
        ));
    }
}
