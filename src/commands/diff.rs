//! `dockgen diff`: two locks, from files or git revisions -> a changelog or JSON.
//!
//! A lock at a revision is read with `git cat-file blob REV:./PATH`, run in the
//! lock's directory (or its nearest existing ancestor, for a lock since deleted): git
//! finds the repository from there, and `./` makes PATH relative to that directory,
//! whatever the repository's top. `cat-file` gives the committed bytes, with no
//! textconv or pager in between.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};

use super::Failure;
use super::files::normalize;
use crate::audit::diff::{self, Side, Source};
use crate::cli::DiffArgs;
use crate::input::profile;
use crate::lock;

/// One side, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    File(String),
    /// `revision` empty: git's index (`:PATH`).
    Git {
        revision: String,
        path: String,
    },
}

impl Operand {
    /// A path, or `REV:PATH`. Text that names an existing file is that file, so a
    /// path with a colon in it still works.
    fn parse(text: &str, cwd: &Path) -> Operand {
        if !cwd.join(text).exists()
            && let Some((revision, path)) = text.split_once(':')
            && !path.is_empty()
        {
            return Operand::Git {
                revision: revision.into(),
                path: path.into(),
            };
        }
        Operand::File(text.into())
    }

    fn source(&self) -> Source {
        match self {
            Operand::File(path) => Source {
                label: path.clone(),
                revision: None,
                path: path.clone(),
            },
            Operand::Git { revision, path } => Source {
                label: format!("{revision}:{path}"),
                revision: Some(revision.clone()),
                path: path.clone(),
            },
        }
    }
}

pub fn run(args: &DiffArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let (old, new) = operands(args, &cwd)?;
    let old = read_side(&old, &cwd)?;
    let new = read_side(&new, &cwd)?;
    let diff = diff::compare(&old, &new);

    let output = match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&diff)? + "\n",
        _ => diff::text(&diff),
    };
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(output.as_bytes())?;
        stdout.flush()?;
    }
    let fail = match args.fail_on.as_str() {
        "never" => false,
        "suspicious" => diff.summary.suspicious > 0,
        _ => diff.changed,
    };
    if fail {
        // The differences are the answer, already printed: exit 1, like diff(1).
        return Err(Failure::Reported.into());
    }
    Ok(())
}

/// The old and the new lock, from the arguments' three forms: two locks, one lock
/// (at `--rev` against the file), or `--profile` (its lock, the same way).
fn operands(args: &DiffArgs, cwd: &Path) -> anyhow::Result<(Operand, Operand)> {
    if args.revs.len() > 2 {
        bail!(
            "`--rev` given {} times: once (the old lock at it, the new as the file is) or twice (old and new)",
            args.revs.len()
        );
    }
    let one = match (&args.old, &args.new, &args.profile) {
        (Some(old), Some(new), _) => {
            return Ok((Operand::parse(old, cwd), Operand::parse(new, cwd)));
        }
        (Some(one), None, _) => match Operand::parse(one, cwd) {
            Operand::File(path) => path,
            Operand::Git { .. } => bail!(
                "`{one}` names a revision: give the lock to compare it with as a second \
                 argument, or give the path alone with `--rev`"
            ),
        },
        (None, _, Some(spec)) => {
            let profile = profile::load(spec, cwd)
                .with_context(|| format!("cannot load profile `{spec}`"))?;
            // As the user would write it: relative to the current directory, or
            // absolute when `--locks-dir` is.
            let locks_dir = args.locks_dir.as_deref().unwrap_or(Path::new("locks"));
            locks_dir
                .join(format!("{}.txt", profile.name))
                .display()
                .to_string()
        }
        (None, _, None) => bail!(
            "nothing to compare: give two locks (OLD NEW), one lock (compared with itself at \
             `--rev`, default `HEAD`), or `--profile NAME` (its lock, the same way)"
        ),
    };
    let at = |revision: &str| Operand::Git {
        revision: revision.into(),
        path: one.clone(),
    };
    Ok(match args.revs.as_slice() {
        [] => (at("HEAD"), Operand::File(one.clone())),
        [revision] => (at(revision), Operand::File(one.clone())),
        [old, new, ..] => (at(old), at(new)),
    })
}

fn read_side(operand: &Operand, cwd: &Path) -> anyhow::Result<Side> {
    let source = operand.source();
    let text = match operand {
        Operand::File(path) => crate::input::text::read_text(&cwd.join(path))
            .with_context(|| format!("cannot read the lock `{path}`"))?,
        Operand::Git { revision, path } => git_show(revision, &cwd.join(path), &source.label)?,
    };
    let lock = match lock::parse(&text, Path::new(&source.label)) {
        // The reader's own words already say it is not a lock.
        Err(error @ lock::ReadError::NoPins { .. }) => return Err(error.into()),
        other => other.with_context(|| format!("`{}` is not a lock", source.label))?,
    };
    let provenance = lock::provenance(&text);
    Ok(Side {
        source,
        lock,
        provenance,
    })
}

/// The text of the file at `path` (absolute) at `revision`, read with git from the
/// file's directory.
fn git_show(revision: &str, path: &Path, label: &str) -> anyhow::Result<String> {
    let path = normalize(path);
    let mut dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    while !dir.is_dir() {
        if !dir.pop() {
            bail!(
                "cannot read `{label}`: no directory of `{}` exists",
                path.display()
            );
        }
    }
    let relative = path.strip_prefix(&dir).unwrap_or(&path);
    let spec = format!("{revision}:./{}", relative.display());
    let output = Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args(["cat-file", "blob", &spec])
        .output()
        .map_err(|e| anyhow!("cannot read `{label}`: cannot run `git`: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("no message")
            .trim_start_matches("fatal: ");
        bail!("cannot read `{label}`: git: {said}");
    }
    String::from_utf8(output.stdout)
        .map_err(|_| anyhow!("cannot read `{label}`: the file is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_are_paths_or_revision_and_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("odd:name.txt"), "").unwrap();
        let parse = |text| Operand::parse(text, dir.path());
        assert_eq!(parse("locks/a.txt"), Operand::File("locks/a.txt".into()));
        assert_eq!(
            parse("HEAD~1:locks/a.txt"),
            Operand::Git {
                revision: "HEAD~1".into(),
                path: "locks/a.txt".into()
            }
        );
        assert_eq!(
            parse(":locks/a.txt"),
            Operand::Git {
                revision: "".into(),
                path: "locks/a.txt".into()
            }
        );
        // An existing file wins over the `REV:PATH` reading; `REV:` alone is no path.
        assert_eq!(parse("odd:name.txt"), Operand::File("odd:name.txt".into()));
        assert_eq!(parse("HEAD:"), Operand::File("HEAD:".into()));
    }
}
