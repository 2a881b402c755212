//! `dockgen report`: one self-contained HTML page about a lock, from the lock and its
//! profile's indexes (`audit::report`).

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use super::check::Audit;
use super::files::{display_path, write_atomically};
use crate::audit::DependencyTree;
use crate::audit::report::{self, Context};
use crate::cli::ReportArgs;

pub fn run(args: &ReportArgs, quiet: bool) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let timestamp = super::sbom::source_date_epoch()?;
    let audit = Audit::gather(&cwd, &args.selected, &args.network, quiet)?;
    let lock = display_path(&audit.lock_path, &cwd);
    let mut findings = audit.check(&cwd, &args.selected.profile);
    if let Some(found) = audit.vulnerabilities(&args.vulns, &args.network, quiet)? {
        findings.add_vulnerabilities(
            &found,
            &format!("dockgen lock --profile {}", args.selected.profile),
        );
    }
    let tree = DependencyTree::from_lock(&audit.lock);
    let lock_sha256 = hex::encode(Sha256::digest(audit.lock_text.as_bytes()));
    let target = audit.profile.target_summary();
    let page = report::render(
        &audit.facts,
        &findings,
        &tree,
        &Context {
            profile: &audit.profile.name,
            target: &target,
            lock: &lock,
            lock_sha256: &lock_sha256,
            indexes: &audit.indexes,
            timestamp,
        },
    )?;
    if args.output == Path::new("-") {
        print!("{page}");
        return Ok(());
    }
    let path = cwd.join(&args.output);
    write_atomically(&path, page.as_bytes())?;
    if !quiet {
        eprintln!(
            "wrote the report of {} -> {} ({}, {})",
            plural(audit.facts.packages.len(), "package"),
            display_path(&path, &cwd),
            plural(findings.errors, "error"),
            plural(findings.warnings, "warning"),
        );
    }
    Ok(())
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}
