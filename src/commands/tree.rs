//! `dockgen tree`: a lock's dependency tree, from the lock alone (`audit::tree`).

use std::io::Write;

use anyhow::Context;

use crate::audit::{DependencyTree, TreeError};
use crate::cli::TreeArgs;
use crate::input::profile;

pub fn run(args: &TreeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    // With `--lock` the profile only names the lock in messages: it is not loaded.
    let name = match &args.selected.lock {
        Some(_) => args.selected.profile.clone(),
        None => {
            profile::load(&args.selected.profile, &cwd)
                .with_context(|| format!("cannot load profile `{}`", args.selected.profile))?
                .name
        }
    };
    let (lock_path, _, lock) = super::read_profile_lock(
        &cwd,
        args.selected.lock.as_deref(),
        &args.selected.locks_dir,
        &name,
        &args.selected.profile,
    )?;
    let tree = DependencyTree::from_lock(&lock);
    let packages = (!args.packages.is_empty()).then_some(args.packages.as_slice());
    let shown = super::files::display_path(&lock_path, &cwd);
    let format = if args.json_tree {
        "json-tree"
    } else if args.json {
        "json"
    } else {
        args.format.as_str()
    };
    // Streamed: a big tree is never held whole.
    let mut out = std::io::BufWriter::new(out);
    let matched = |error| anyhow::Error::from(error).context(format!("`--packages` in `{shown}`"));
    let written = if args.pipdeptree == "2" {
        let view = tree.view(args.reverse, packages).map_err(matched)?;
        match format {
            "json-tree" => view.write_json_tree(&mut out).map_err(TreeError::from),
            "json" => view.write_json(&mut out),
            _ => view.write_text(&mut out).map_err(TreeError::from),
        }
    } else {
        let view = tree.view4(args.reverse, packages).map_err(matched)?;
        match format {
            "json-tree" => view.write_json_tree(&mut out),
            "json" => view.write_json(&mut out),
            _ => view.write_text(&mut out),
        }
        .map_err(TreeError::from)
    };
    written
        .map_err(anyhow::Error::from)
        .and_then(|()| out.flush().context("cannot write the tree"))?;
    Ok(())
}
