//! `dockgen completions SHELL` and `dockgen man`: shell completions and manual pages,
//! generated from the same clap definitions as `--help` (`cli.rs`), so they never
//! drift from it.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell`, for a binary called `dockgen`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dockgen", &mut buffer);
    out.write_all(&buffer)?;
    Ok(())
}

/// Every manual page: `dockgen.1`, then `dockgen-<command>.1` for each command (and
/// `dockgen-profiles-list.1` for a command's own commands), as `(file name, roff)`.
pub fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    let mut stack = vec![command];
    while let Some(command) = stack.pop() {
        stack.extend(
            command
                .get_subcommands()
                .filter(|sub| !sub.is_hide_set())
                .cloned(),
        );
        let man = clap_mangen::Man::new(command);
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        pages.push((man.get_filename(), roff));
    }
    pages.sort();
    Ok(pages)
}

/// `dockgen man`: `dockgen.1` to `out`, or with `out_dir` every page into that
/// directory (each written atomically).
pub fn man(out_dir: Option<&Path>, quiet: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let pages = pages()?;
    let Some(dir) = out_dir else {
        let (_, roff) = pages
            .iter()
            .find(|(name, _)| name == "dockgen.1")
            .context("no `dockgen.1` page; this is a bug in dockgen")?;
        out.write_all(roff)?;
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
    for (name, roff) in &pages {
        super::files::write_atomically(&dir.join(name), roff)?;
    }
    if !quiet {
        eprintln!("wrote {} manual pages -> {}", pages.len(), dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_command() {
        let names: Vec<String> = pages().unwrap().into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "dockgen-build.1",
                "dockgen-check.1",
                "dockgen-completions.1",
                "dockgen-detect.1",
                "dockgen-diff.1",
                "dockgen-lock.1",
                "dockgen-man.1",
                "dockgen-matrix.1",
                "dockgen-profiles-list.1",
                "dockgen-profiles-show.1",
                "dockgen-profiles.1",
                "dockgen-render.1",
                "dockgen-report.1",
                "dockgen-sbom.1",
                "dockgen-scan.1",
                "dockgen-tree.1",
                "dockgen.1",
            ]
        );
    }
}
