//! `dockgen sbom`: a CycloneDX SBOM of a lock, from the lock and its profile's indexes.

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use super::check::Audit;
use super::files::{display_path, write_atomically};
use crate::audit::sbom::{self, Context};
use crate::cli::SbomArgs;

pub fn run(args: &SbomArgs, quiet: bool) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let timestamp = source_date_epoch()?;
    let audit = Audit::gather(&cwd, &args.selected, &args.network, quiet)?;
    let found = audit.vulnerabilities(&args.vulns, &args.network, quiet)?;
    let text = match args.format.as_str() {
        "text" => sbom::render_text(&audit.facts),
        _ => {
            let lock_sha256 = hex::encode(Sha256::digest(audit.lock_text.as_bytes()));
            let mut document = sbom::sbom(
                &audit.facts,
                &Context {
                    profile: &audit.profile.name,
                    target: &audit.profile.target_summary(),
                    lock_sha256: &lock_sha256,
                    timestamp,
                },
            );
            if let Some(found) = &found {
                sbom::add_vulnerabilities(&mut document, &audit.facts, found);
            }
            sbom::render_json(&document)
        }
    };
    match &args.output {
        Some(path) => {
            let path = cwd.join(path);
            write_atomically(&path, text.as_bytes())?;
            if !quiet {
                eprintln!(
                    "wrote the SBOM of {} packages -> {}",
                    audit.facts.packages.len(),
                    display_path(&path, &cwd)
                );
            }
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `SOURCE_DATE_EPOCH` (whole seconds since 1970) as the SBOM's timestamp; none when unset.
pub(super) fn source_date_epoch() -> anyhow::Result<Option<jiff::Timestamp>> {
    let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let seconds: i64 = match value.parse() {
        Ok(seconds) => seconds,
        Err(_) => bail!("SOURCE_DATE_EPOCH must be whole seconds since 1970, not `{value}`"),
    };
    jiff::Timestamp::from_second(seconds)
        .map(Some)
        .with_context(|| format!("SOURCE_DATE_EPOCH `{value}` is out of range"))
}
